#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# One naming between text and JSON: every table's header is one line in
# upper case, and each column is named as its field in the JSON records
# (KNOWN_SPIS is known_spis, not LISTED; TMPL_SRC is tmpl.src); the table is all there is on
# stdout (the drops under "stats" go to stderr), every row with as many
# columns as the header. Checked on a real gateway with traffic, drops
# and an underlay program, so that every table has rows.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
mn_cleanup() {
	$XS -n "$GW" underlay detach dev ul1 2>/dev/null || true
	topo_cleanup
}
trap mn_cleanup EXIT

step "a gateway with one tunnel, traffic, a drop and an underlay program"
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" underlay attach dev ul1
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null
ip netns exec "$GW" ping -q -c 1 -W 1 192.168.99.1 >/dev/null 2>&1 || true

tmp=$(mktemp -d)
# check_table [--also COL,...] ARGS...: COLs may be text-only (a summary
# of several fields) or of a field no row here has.
check_table() {
	local hdr w key keys n also=,
	if [ "$1" = --also ]; then
		also=,$2,
		shift 2
	fi
	$XS -n "$GW" "$@" >"$tmp/text" 2>/dev/null || fail "'$*' failed"
	$XS -n "$GW" -j "$@" >"$tmp/json" 2>/dev/null || fail "'$* -j' failed"
	[ "$(jq length "$tmp/json")" -ge 1 ] || fail "'$*' has no rows to check"
	# Field names, nested ones joined with "_" (TMPL_SRC is tmpl.src).
	keys=$(jq -r '[.[] | paths | map(select(type == "string")) | join("_")] | unique[]' "$tmp/json")
	hdr=$(head -n1 "$tmp/text")
	[ "$hdr" = "${hdr^^}" ] || fail "'$*': header not in upper case: $hdr"
	n=0
	for w in $hdr; do
		n=$((n + 1))
		key=${w,,}
		[[ $also == *",$w,"* ]] && continue
		grep -qx -e "$key" -e "${key}_text" <<<"$keys" ||
			fail "'$*': column $w is no JSON field (fields: $(echo $keys))"
	done
	awk -v n="$n" 'NR > 1 && NF < n { print "short row: " $0; bad = 1 } END { exit bad }' "$tmp/text" ||
		fail "'$*': stdout has lines that are not rows of the table"
	echo "ok: '$*': $n columns, each a JSON field"
}

step "every table against its JSON"
check_table link show
check_table route show
check_table stats
check_table stats drops
check_table secpath show
# ALGO sums up the JSON's aead, or enc and auth; ENCAP is encap, which
# these SAs have not.
check_table --also ALGO,ENCAP sa show
check_table policy show
check_table underlay show
check_table underlay stats
# The underlay's names, as the issue found them apart.
hdr=$($XS -n "$GW" underlay stats | head -n1)
for w in KNOWN_SPIS UNKNOWN_SPI EVENTS_LOST SA_LOOKUP; do
	grep -qw "$w" <<<"$hdr" || fail "underlay stats has no $w column: $hdr"
done
echo "ok: underlay stats names its columns as its JSON does"

step "stats watch: rates named with their units"
$XS -n "$GW" -j stats watch 0.2 count 1 >"$tmp/watch"
assert_eq "$(jq -c '.[0] | [has("tx_bits_per_s"), has("rx_bits_per_s"), has("tx_packets_per_s"), has("tx_bps")]' "$tmp/watch")" \
	'[true,true,true,false]' "watch -j rate fields"
