#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Crash consistency of "xfrm-steer apply": killed with SIGKILL at any point
# (XS_APPLY_CRASH_AFTER=N: the run kills itself after N changes, so the
# points are exact; and a few kills from outside at random moments), the
# next apply of the same file converges: the state equals that of a clean
# apply, for a file of 50 tunnels made from nothing, changed into another
# (tunnels removed, SPIs, if_ids, keys and prefixes changed, tunnels
# added) and removed again. Then the time to apply 1000 tunnels.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT

# The file of variant V (a, b or e: empty) with N tunnels.
gen() { # V N
	local v=$1 n=$2 i sep="" spo ifid key pfx
	printf '{ "links": [ { "name": "ipsec0", "tenant_key": "mark", "mark_mask": "0xff00" } ],\n'
	printf '  "tunnels": [\n'
	for ((i = 1; i <= n; i++)); do
		[ "$v" = e ] && break
		spo=$((0x20000 + i)) ifid=$((1000 + i)) key=$(gcm_key "$i" 0)
		pfx="\"172.$((16 + i / 250)).$((i % 250)).0/24\", \"2001:db8:$i::/64\""
		if [ "$v" = b ]; then
			((i <= 10)) && continue                    # removed
			((i > 10 && i <= 20)) && spo=$((0x30000 + i)) # SA replaced
			((i > 20 && i <= 25)) && ifid=$((2000 + i))   # if_id moved
			((i > 25 && i <= 30)) && pfx="$pfx, \"10.$i.0.0/16\""
			((i > 30 && i <= 40)) && key=$(gcm_key "$i" 1)
		fi
		printf '%s    { "name": "t%d", "if_id": %d, "tenant": "0x%x", "local": "10.0.0.1",' \
			"$sep" "$i" "$ifid" $((0x100 * (1 + i % 3)))
		printf ' "remote": "10.3.%d.%d", "spi_in": %d, "spi_out": %d,' $((i / 250)) $((i % 250 + 1)) \
			$((0x10000 + i)) "$spo"
		printf ' "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128, "key": "%s" },' "$key"
		printf ' "prefixes": [ %s ] }\n' "$pfx"
		sep=","
	done
	if [ "$v" = b ]; then
		for ((i = n + 1; i <= n + 10; i++)); do
			printf ',    { "name": "t%d", "if_id": %d, "local": "10.0.0.1", "remote": "10.4.0.%d",' \
				"$i" $((1000 + i)) "$i"
			printf ' "spi_in": %d, "spi_out": %d, "tenant": "0x100",' $((0x10000 + i)) $((0x20000 + i))
			printf ' "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128, "key": "%s" },' \
				"$(gcm_key "$i" 0)"
			printf ' "prefixes": [ "172.31.%d.0/24" ] }\n' "$i"
		done
	fi
	printf '  ],\n  "routes": [\n'
	sep=""
	if [ "$v" = a ]; then
		for i in 1 2 3 4 5; do
			printf '%s    { "prefix": "10.100.%d.0/24", "if_id": %d, "tenant": "0x100" }\n' "$sep" "$i" $((5000 + i))
			sep=","
		done
	elif [ "$v" = b ]; then
		for i in 3 4 5 6 7; do
			printf '%s    { "prefix": "10.100.%d.0/24", "if_id": %d, "tenant": "0x100" }\n' "$sep" "$i" \
				$((i == 3 ? 5999 : 5000 + i))
			sep=","
		done
	fi
	printf '  ]\n}\n'
}

ip netns add "$GW"
ip -n "$GW" link set lo up
gen a 50 >"$tmp/a.json"
gen b 50 >"$tmp/b.json"
gen e 0 >"$tmp/e.json"
jq -e . "$tmp/a.json" "$tmp/b.json" "$tmp/e.json" >/dev/null || fail "the generated files are not JSON"

apply() { $XS -n "$GW" apply "$@"; }
# With the test hooks: the build of the CLI that has them.
happly() { $XS_HOOKS -n "$GW" apply "$@"; }
state() { snapshot "$GW"; echo "== show"; xsj "$GW" show; }

step "reference states: clean applies of a, b and the empty file"
declare -A ref
for v in a b e; do
	apply "$tmp/$v.json"
	ref[$v]=$(state)
	assert_eq "$(apply "$tmp/$v.json")" "$tmp/$v.json: nothing to do, the kernel matches it" "$v applied twice"
done
assert_eq "$(nstates "$GW") $(npolicies "$GW") $(nroutes "$GW")" "0 0 0" "the empty file leaves nothing"
apply "$tmp/a.json"
assert_eq "$(nstates "$GW") $(npolicies "$GW") $(nroutes "$GW")" "100 300 105" "file a: SAs, policies, routes"

# Start from FROM, apply TO killed after each N changes, apply TO again:
# the state must be that of a clean apply of TO.
crash_run() { # FROM TO N...
	local from=$1 to=$2 n rc killed=0
	shift 2
	for n in "$@"; do
		apply "$tmp/$from.json" >/dev/null
		rc=0
		XS_APPLY_CRASH_AFTER=$n happly "$tmp/$to.json" >/dev/null 2>&1 || rc=$?
		case $rc in
		137) killed=$((killed + 1)) ;;
		0) ;;
		*) fail "$from -> $to killed after $n: exit $rc" ;;
		esac
		apply "$tmp/$to.json" >/dev/null
		assert_same "$(state)" "${ref[$to]}" "$from -> $to killed after $n changes (exit $rc), applied again"
		[ -z "$(xsj "$GW" tunnel show | jq -r '.[] | select(.state != "ready") | .name')" ] ||
			fail "incomplete tunnels after $from -> $to, $n"
	done
	assert_ge "$killed" $(($# - 1)) "$from -> $to runs that were killed"
}

# Fewer points than before: the planner's order and rollback are unit-tested
# (tests/unit/test_plan.c); these runs check what only a kernel can say.
step "made from nothing: killed at several points, then applied again"
crash_run e a 0 2 13 200 500 664
step "changed into another file"
crash_run a b 1 30 150 400
step "removed again"
crash_run b e 2 75 400

step "killed from outside at random moments"
for delay in 0.05 0.3; do
	for pair in "e a" "a b" "b e"; do
		read -r from to <<<"$pair"
		apply "$tmp/$from.json" >/dev/null
		$XS -n "$GW" apply "$tmp/$to.json" >/dev/null 2>&1 &
		pid=$!
		sleep "$delay"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		apply "$tmp/$to.json" >/dev/null
		assert_same "$(state)" "${ref[$to]}" "$from -> $to killed after ${delay}s, applied again"
	done
done

step "1000 tunnels"
gen a 1000 >"$tmp/big.json"
apply "$tmp/e.json" >/dev/null
t0=$(date +%s.%N)
apply "$tmp/big.json"
t1=$(date +%s.%N)
assert_eq "$(nstates "$GW") $(npolicies "$GW")" "2000 6000" "SAs and policies of 1000 tunnels"
assert_eq "$(apply "$tmp/big.json")" "$tmp/big.json: nothing to do, the kernel matches it" "1000 tunnels applied twice"
t2=$(date +%s.%N)
apply "$tmp/e.json"
t3=$(date +%s.%N)
assert_eq "$(nstates "$GW") $(npolicies "$GW") $(nroutes "$GW")" "0 0 0" "1000 tunnels removed"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
	printf "timing: apply 1000 tunnels %.1fs, again (nothing to do) %.1fs, remove them %.1fs\n",
		b - a, c - b, d - c }'
