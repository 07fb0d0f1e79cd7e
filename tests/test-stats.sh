#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The observability of "stats" and "secpath": after a known amount of
# traffic through two tunnels, the per-tunnel counters (JSON, Prometheus
# text, the live view) equal the kernel's own per-SA counters, and the
# per-SPI records of the ingress program name each peer's inbound SA and
# turn stale when that SA is deleted.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

step "topology: two peers, two tunnels"
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.2.200 2001:db8:2::200
for k in 1 2; do
	$XS -n "$GW" route add "192.168.$k.0/24" if_id "10$k" dev ipsec0
	$XS -n "$GW" route add "2001:db8:$k::/64" if_id "10$k" dev ipsec0
done

step "traffic: a different amount per tunnel and family"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 -s 100 192.168.1.200
ip netns exec "$GW" ping -6 -q -c 2 -i 0.2 -W 2 -s 300 2001:db8:1::200
ip netns exec "$GW" ping -q -c 5 -i 0.2 -W 2 -s 700 192.168.2.200

# gateway SA counters: out (tx) and in (rx) of peer k, "PACKETS BYTES"
sa_tx() { sa_counters "$GW" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")"; }
sa_rx() { sa_counters "$GW" "10.0.$1.2" "10.0.$1.1" "$(spi_in "$1")"; }
spi08() { printf '0x%08x' "$(spi_in "$1")"; }

step "stats -j equals the kernel's per-SA counters, both directions"
stats=$(xsj "$GW" stats)
echo "$stats" | jq -c '.[]'
assert_eq "$(jq -c '[.[] | [.dev, .if_id]]' <<<"$stats")" '[["ipsec0",101],["ipsec0",102]]' "rows"
assert_eq "$(jq -c '.[0] | keys_unsorted' <<<"$stats")" \
	'["dev","if_id","tx_packets","tx_bytes","rx_packets","rx_bytes","tx_dropped","rx_dropped","up"]' "JSON keys"
for k in 1 2; do
	read -r txp txb <<<"$(sa_tx "$k")"
	read -r rxp rxb <<<"$(sa_rx "$k")"
	row=$(jq -c ".[] | select(.if_id == 10$k)" <<<"$stats")
	assert_eq "$(jq -r '"\(.tx_packets) \(.tx_bytes)"' <<<"$row")" "$txp $txb" "if_id 10$k tx vs SA $(spi_out "$k")"
	assert_eq "$(jq -r '"\(.rx_packets) \(.rx_bytes)"' <<<"$row")" "$rxp $rxb" "if_id 10$k rx vs SA $(spi_in "$k")"
done
# -j is written without json-c for speed: the same bytes as its -p output
# compacted.
assert_eq "$stats" "$($XS -n "$GW" -p stats | jq -c .)" "-j = -p compacted"
# The amounts are known, so counters that stay 0 on both sides fail too.
assert_eq "$(jq -c '[.[] | [.tx_packets, .rx_packets]]' <<<"$stats")" '[[5,5],[5,5]]' "packets per tunnel"
# ICMP echo of 100 B payload: 128 B (v4); 300 B over IPv6: 348 B; 700 B: 728 B
assert_eq "$(jq -c '[.[] | .tx_bytes]' <<<"$stats")" "[$((3 * 128 + 2 * 348)),$((5 * 728))]" "bytes per tunnel"

step "the text table"
tmp=$(mktemp -d)
$XS -n "$GW" stats | tee /dev/stderr | head -n1 | grep -q '^DEV  *IF_ID  *TX_PACKETS  *TX_BYTES  *RX_PACKETS  *RX_BYTES  *TX_DROPPED  *RX_DROPPED$' ||
	fail "table header"
# A drop (no route to 192.168.99.1): its summary goes to stderr, and
# stdout stays the table alone, every row of its 8 columns.
ip netns exec "$GW" ping -c 1 -W 1 192.168.99.1 >/dev/null 2>&1 || true
$XS -n "$GW" stats 2>"$tmp/stats.err" >"$tmp/stats.out"
grep -q '^ipsec0 no_route: [1-9]' "$tmp/stats.err" || fail "no drop summary on stderr: $(cat "$tmp/stats.err")"
awk 'NF != 8 { print "not a row of the table: " $0; bad = 1 } END { exit bad }' "$tmp/stats.out" ||
	fail "stats' stdout is not the table alone"
echo "ok: drop summary on stderr, the table alone on stdout"
$XS -n "$GW" -h stats dev ipsec0 if_id 102 | grep -Eq '^ipsec0 +102 +5 +3\.6K +5 +3\.6K +0 +0$' ||
	fail "-h table row of if_id 102: $($XS -n "$GW" -h stats dev ipsec0 if_id 102)"
echo "ok: text table"

# Prometheus exposition: every line a comment or "name{labels} value", each
# family with HELP and TYPE once, before its samples.
check_exposition() { # FILE
	awk '
	/^# HELP / { if (help[$3]++) { print "HELP twice: " $3; bad = 1 }; next }
	/^# TYPE / { if (type[$3]++) { print "TYPE twice: " $3; bad = 1 }; fam = $3; next }
	/^#/ { next }
	!/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [0-9]+$/ {
		print "malformed: " $0; bad = 1; next
	}
	{ n = $0; sub(/[{ ].*/, "", n); if (n != fam) { print "outside its family: " $0; bad = 1 } }
	END { exit bad }' "$1" || fail "exposition text is not well formed"
	echo "ok: exposition well formed ($(grep -vc '^#' "$1") samples)"
}
# What the exposition must say of the tunnels and reasons, from the JSON.
expected_samples() { # STATS-JSON DROPS-JSON
	jq -r '.[] | . as $r | ["packets", "bytes", "dropped"][] as $m | ["tx", "rx"][] as $d |
		"xfrm_steer_tunnel_\($m)_total{dev=\"\($r.dev)\",if_id=\"\($r.if_id)\",direction=\"\($d)\"} \($r["\($d)_\($m)"])"' <<<"$1"
	jq -r '.[] | "xfrm_steer_\(if .dropped then "drops" else "notes" end)_total{dev=\"\(.dev)\",reason=\"\(.reason)\"} \(.packets)"' <<<"$2"
	jq -r 'group_by(.dev)[] | "xfrm_steer_tunnels{dev=\"\(.[0].dev)\"} \(length)"' <<<"$1"
	jq -r '.[] | "xfrm_steer_tunnel_up{dev=\"\(.dev)\",if_id=\"\(.if_id)\"} \(if .up then 1 else 0 end)"' <<<"$1"
	jq -r 'group_by(.dev)[] | "xfrm_steer_up{dev=\"\(.[0].dev)\"} 1"' <<<"$1"
	echo "xfrm_steer_scrape_error 0"
}

# Does the exposition CMD prints say what "stats -j" and "stats drops -j"
# say? A drop counter may move in between (the interface's own IPv6
# chatter, counted as v6_link_local): then both are read again.
prom_equals_json() { # CMD...
	local i
	for i in 1 2 3 4 5; do
		"$@" >"$tmp/prom"
		expected_samples "$(xsj "$GW" stats)" "$(xsj "$GW" stats drops)" | sort >"$tmp/want"
		grep -v '^#' "$tmp/prom" | sort >"$tmp/got"
		diff -u "$tmp/want" "$tmp/got" >"$tmp/diff" && return 0
		sleep 1
	done
	cat "$tmp/diff"
	return 1
}

step "stats --prometheus equals stats -j"
prom_equals_json $XS -n "$GW" stats --prometheus || fail "prometheus samples differ from stats -j"
cat "$tmp/prom"
check_exposition "$tmp/prom"
# 2 tunnels x 7 (6 counters, xfrm_steer_tunnel_up), 13 reasons (iif_unbound,
# group_down among them), xfrm_steer_tunnels, xfrm_steer_up, xfrm_steer_scrape_error
assert_eq "$(wc -l <"$tmp/got")" $((2 * 7 + 13 + 1 + 2)) "number of samples"
# (but for the drop reasons, which may move in between)
no_reasons() { grep -v '^xfrm_steer_\(drops\|notes\)_total{' "$@"; }
$XS -n "$GW" stats prometheus >"$tmp/prom2"
no_reasons "$tmp/prom" >"$tmp/a"
no_reasons "$tmp/prom2" >"$tmp/b"
diff -u "$tmp/a" "$tmp/b" ||
	fail "\"prometheus\" differs from \"--prometheus\""
grep -q '^xfrm_steer_tunnel_packets_total{dev="ipsec0",if_id="102",direction="tx"} 5$' "$tmp/prom" ||
	fail "tx packets of if_id 102 in the exposition"
echo "ok: prometheus = JSON"

step "stats watch 1 count 2 -j: two frames with rates"
# Traffic during the watch, so that the rates are not all 0.
ip netns exec "$GW" ping -q -c 20 -i 0.15 -W 2 192.168.2.200 >/dev/null &
ping_pid=$!
sleep 0.3
$XS -n "$GW" stats watch 1 count 2 -j >"$tmp/watch"
wait "$ping_pid"
cat "$tmp/watch"
assert_eq "$(wc -l <"$tmp/watch")" 2 "frames"
jq -e -s 'length == 2 and all(.[]; type == "array" and length == 2)' "$tmp/watch" >/dev/null ||
	fail "frames are not one JSON array of the two tunnels each"
# Each frame's rates are its counters' growth over its interval.
jq -e -s '
	(.[0] | map({(.if_id | tostring): .}) | add) as $a | .[1] | all(.[];
		. as $r | $a[.if_id | tostring] as $p |
		($r.tx_packets - $p.tx_packets) as $dp | (($r.rx_bytes - $p.rx_bytes) * 8) as $db |
		($dp - $r.tx_packets_per_s * $r.interval | fabs) <= 0.001 * $dp + 0.01 and
		($db - $r.rx_bits_per_s * $r.interval | fabs) <= 0.001 * $db + 0.01 and
		$r.interval > 0.5 and $r.interval < 2)' "$tmp/watch" >/dev/null ||
	fail "rates of the second frame do not match its counters"
pps=$(jq -s '.[1][] | select(.if_id == 102) | .tx_packets_per_s' "$tmp/watch")
awk -v p="$pps" 'BEGIN { exit !(p >= 3 && p <= 10) }' || fail "tx_packets_per_s of if_id 102 is $pps, pinging at ~6.7/s"
echo "ok: rates (if_id 102 tx $pps pps)"
$XS -n "$GW" stats watch 0.2 count 2 | tee "$tmp/wtext"
assert_eq "$(grep -c '^DEV  *IF_ID  *TX_PACKETS_PER_S  *TX_BITS_PER_S' "$tmp/wtext")" 2 "text frames"
assert_fails "count without watch" $XS -n "$GW" stats count 2
assert_fails "prometheus with watch" $XS -n "$GW" stats prometheus watch 1

step "secpath show: each peer's inbound SA, with the kernel's counters"
sp=$(xsj "$GW" secpath show)
echo "$sp" | jq -c '.[]'
$XS -n "$GW" secpath show
for k in 1 2; do
	row=$(jq -c ".[] | select(.spi == \"$(spi08 "$k")\")" <<<"$sp")
	[ -n "$row" ] || fail "no secpath record for SPI $(spi08 "$k")"
	read -r rxp rxb <<<"$(sa_rx "$k")"
	assert_eq "$(jq -r '"\(.dev) \(.if_id) \(.reqid) \(.family) \(.peer) \(.sa)"' <<<"$row")" \
		"ipsec0 10$k $k inet 10.0.$k.2 present" "SPI $(spi08 "$k") record"
	assert_eq "$(jq -r '"\(.packets) \(.bytes)"' <<<"$row")" "$rxp $rxb" "SPI $(spi08 "$k") counters vs SA"
	# Seconds since the tunnel's last packet, some steps ago: a minute
	# and more on a VM that others load too (63 s seen), so only sane.
	jq -e '.last_seen >= 0 and .last_seen < 300' <<<"$row" >/dev/null ||
		fail "last_seen of SPI $(spi08 "$k"): $(jq .last_seen <<<"$row")"
done
assert_eq "$(jq length <<<"$sp")" 2 "secpath records"
assert_eq "$(xsj "$GW" secpath show dev ipsec0 if_id 102 | jq -c '[.[].spi]')" "[\"$(spi08 2)\"]" "if_id filter"

step "an SA deleted in the kernel: its record turns stale"
ip -n "$GW" xfrm state del src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)"
sp=$(xsj "$GW" secpath show)
assert_eq "$(jq -r ".[] | select(.spi == \"$(spi08 1)\") | .sa" <<<"$sp")" stale "SPI $(spi08 1) after xfrm state del"
assert_eq "$(jq -r ".[] | select(.spi == \"$(spi08 2)\") | .sa" <<<"$sp")" present "SPI $(spi08 2) untouched"
$XS -n "$GW" secpath | grep -Eq "^ipsec0 +$(spi08 1) .* stale$" || fail "text shows stale"
echo "ok: text shows stale"
rm -rf "$tmp"
