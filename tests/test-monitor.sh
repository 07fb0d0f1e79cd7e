#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# xfrm-steer monitor: ESP for an SPI the gateway lacks shows up as one
# unknown_spi event within a second, once per rate-limit window however
# many packets come; a peer spoofing another tenant's source shows up as a
# tenant_violation; programs attached and detached while it runs show up
# too; normal traffic shows up not at all. "count N" ends it after N events,
# SIGTERM at any time.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
MON_PID=
out=$(mktemp)
err=$(mktemp)
mon_cleanup() {
	if [ -n "$MON_PID" ]; then kill "$MON_PID" 2>/dev/null || true; fi
	for d in ul1 ul2; do $XS -n "$GW" underlay detach dev "$d" 2>/dev/null || true; done
	rm -f "$out" "$err"
	topo_cleanup
}
trap mon_cleanup EXIT

step "topology: two tenants, the underlay program on ul1"
topo_gateway
ip netns exec "$GW" sysctl -qw net.ipv4.fwmark_reflect=1
$XS -n "$GW" attach dev ipsec0 tenant-key mark 0xff00 mark-ingress on
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.2.200 2001:db8:2::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0
$XS -n "$GW" route add 192.168.2.0/24 if_id 102 tenant 0x200 dev ipsec0
$XS -n "$GW" underlay attach dev ul1
p1=$(peer_ns 1)
SPI1=$(printf '0x%08x' "$(spi_in 1)")

# Events printed so far that match a jq condition.
count_ev() { jq -c "select($1)" "$out" | wc -l; }
wait_ev() { # CONDITION N SECONDS
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		[ "$(count_ev "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
UNKNOWN='.type == "unknown_spi"'
VIOLATION='.type == "tenant_violation"'

$XS -n "$GW" -j -v monitor >"$out" 2>"$err" &
MON_PID=$!
for ((i = 0; i < 200; i++)); do
	grep -q "monitor: watching" "$err" && break
	sleep 0.05
done
cat "$err"
grep -q "2 program(s) attached" "$err" || fail "monitor did not start as expected"

step "normal traffic: no event"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 -m 256 192.168.1.200
ip netns exec "$p1" ping -q -c 3 -i 0.2 -W 2 -I 192.168.1.200 10.255.0.1
sleep 0.5
assert_eq "$(count_ev true)" 0 "events"

step "ESP for an SPI the gateway lacks: one event within a second"
ip -n "$GW" xfrm state del src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)"
t0=$(date +%s%N)
ip netns exec "$p1" ping -q -c 1 -W 1 -I 192.168.1.200 10.255.0.1 >/dev/null &
ping_pid=$!
wait_ev "$UNKNOWN" 1 5 || fail "no unknown_spi event: $(cat "$out")"
seen=$(date +%s%N)
wait "$ping_pid" || true
cat "$out"
ev=$(jq -c "select($UNKNOWN)" "$out")
# From the packet's arrival (the event's time) to the line in the file;
# starting the sender under emulation takes long enough by itself.
ms=$(((seen - $(date -d "$(jq -r .time <<<"$ev")" +%s%N)) / 1000000))
[ "$ms" -le 1000 ] || fail "the event took ${ms} ms to appear"
echo "ok: event printed ${ms} ms after the packet, $(((seen - t0) / 1000000)) ms after starting the sender"
assert_eq "$(jq -r .dev <<<"$ev")" ul1 "event dev"
assert_eq "$(jq -r .spi <<<"$ev")" "$SPI1" "event spi"
assert_eq "$(jq -r .peer <<<"$ev")" 10.0.1.2 "event peer"
assert_eq "$(jq -r .dst <<<"$ev")" 10.0.1.1 "event dst"
assert_eq "$(jq -r .suppressed <<<"$ev")" 0 "event suppressed"

step "a burst within one rate-limit window (1 s): one event"
sleep 1.2
ip netns exec "$p1" ping -q -c 5 -i 0.05 -W 1 -I 192.168.1.200 10.255.0.1 >/dev/null || true
sleep 0.5
assert_eq "$(count_ev "$UNKNOWN")" 2 "unknown_spi events"
assert_eq "$(jq -s -r "[.[] | select($UNKNOWN)][1].suppressed" "$out")" 0 "suppressed"
step "the next window's event counts what was held back"
sleep 1.2
ip netns exec "$p1" ping -q -c 1 -W 1 -I 192.168.1.200 10.255.0.1 >/dev/null || true
wait_ev "$UNKNOWN" 3 5 || fail "no third unknown_spi event"
assert_eq "$(jq -s -r "[.[] | select($UNKNOWN)][2].suppressed" "$out")" 4 "suppressed"
assert_eq "$(count_ev "$UNKNOWN and .peer != \"10.0.1.2\"")" 0 "events of other peers"

step "the SA back: no more events"
ip -n "$GW" xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)" \
	reqid 1 mode tunnel if_id 101 flag af-unspec aead "$AEAD_ALG" "$(peer_key 1)" 128
sleep 1.2
ip netns exec "$p1" ping -q -c 3 -i 0.2 -W 2 -I 192.168.1.200 10.255.0.1
sleep 0.5
assert_eq "$(count_ev "$UNKNOWN")" 3 "unknown_spi events"

step "a tenant violation: peer 1 speaks with tenant 0x200's address"
ip -n "$p1" addr add 192.168.2.200/32 dev lo
ip -n "$p1" xfrm policy add dir out src 192.168.2.200/32 dst 10.255.0.0/16 \
	tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 1 mode tunnel
assert_fails "spoofed ping" ip netns exec "$p1" ping -q -c 1 -W 1 -I 192.168.2.200 10.255.0.1
wait_ev "$VIOLATION" 1 5 || fail "no tenant_violation event: $(cat "$out")"
ev=$(jq -c "select($VIOLATION)" "$out")
echo "$ev"
assert_eq "$(jq -r .dev <<<"$ev")" ipsec0 "event dev"
assert_eq "$(jq -r .if_id <<<"$ev")" 101 "event if_id"
assert_eq "$(jq -r .inner_src <<<"$ev")" 192.168.2.200 "event inner_src"
assert_eq "$(jq -r .peer <<<"$ev")" 10.0.1.2 "event peer"
assert_eq "$(jq -r .spi <<<"$ev")" "$SPI1" "event spi"
assert_eq "$(jq -r .tenant <<<"$ev")" 0x100 "event tenant (as everything spells it)"
# Looked up in the tunnel's tenant, tenant 0x200's address is routed nowhere.
assert_eq "$(jq -r .routed_if_id <<<"$ev")" 0 "event routed_if_id"
assert_eq "$(count_ev "$UNKNOWN")" 3 "unknown_spi events"

step "programs attached and detached while it runs"
$XS -n "$GW" underlay attach dev ul2
wait_ev '.type == "attach" and .dev == "ul2" and .program == "xdp"' 1 5 ||
	fail "no attach event: $(cat "$out")"
$XS -n "$GW" underlay detach dev ul2
wait_ev '.type == "detach" and .dev == "ul2" and .program == "xdp"' 1 5 ||
	fail "no detach event: $(cat "$out")"
$XS -n "$GW" detach dev ipsec0
wait_ev '.type == "detach" and .dev == "ipsec0" and .program == "tc"' 1 5 ||
	fail "no detach event for ipsec0: $(cat "$out")"
assert_eq "$(count_ev '.type == "attach" or .type == "detach"')" 3 "attach and detach events"

step "SIGTERM ends it cleanly"
kill -TERM "$MON_PID"
rc=0
wait "$MON_PID" || rc=$?
MON_PID=
assert_eq "$rc" 0 "exit status"
jq -e . "$out" >/dev/null || fail "output is not JSON lines"

step "count N, text, dev: one line for ul1, then it exits"
$XS -n "$GW" monitor dev ul1 count 1 >"$out" &
MON_PID=$!
sleep 1
ip -n "$GW" xfrm state del src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)"
ip netns exec "$p1" ping -q -c 1 -W 1 -I 192.168.1.200 10.255.0.1 >/dev/null || true
rc=0
timeout 10 tail --pid="$MON_PID" -f /dev/null || fail "monitor count 1 did not exit"
wait "$MON_PID" || rc=$?
MON_PID=
assert_eq "$rc" 0 "exit status"
cat "$out"
assert_eq "$(wc -l <"$out")" 1 "lines"
grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z unknown_spi dev ul1 spi $SPI1 peer 10.0.1.2 dst 10.0.1.1 suppressed [0-9]+$" "$out" ||
	fail "unexpected line"
