#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# xfrm-steer@.service as systemd runs it, without systemd: the unit's own
# ExecStart, ExecStop and ExecReload lines (read from systemd/, the
# instance ipsec0, the file in a directory of the test's, the CLI in the
# gateway's namespace). A restart (ExecStop, then ExecStart: what a
# package upgrade does) while a ping runs loses no packet and no counter:
# the SAs are the same SAs (their counters only grow), the per-tunnel
# counters only grow, every echo is answered. A reload applies an edited
# file. Stopping tears nothing down; detach does, when asked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT
# XS_UNIT: another unit file (the old one, to see this test fail on it).
UNIT=${XS_UNIT:-systemd/xfrm-steer@.service}

# The unit's command lines of KEY (ExecStart, ...), as a shell would run
# them here; "-" and "@" prefixes are not used by the unit.
unit_cmds() { # KEY
	sed -n "s/^$1=//p" "$UNIT" |
		sed -e "s|@SBINDIR@/xfrm-steer|$XS -n $GW|g" -e "s|/etc/xfrm-steer/|$tmp/|g" -e 's|%i|ipsec0|g'
}
unit_run() { # KEY
	local c
	while IFS= read -r c; do
		[ -n "$c" ] || continue
		echo "   $1: $c"
		eval "$c" >/dev/null || fail "$1 failed: $c"
	done <<<"$(unit_cmds "$1")"
}

step "topology: one peer; the gateway from /etc/xfrm-steer/ipsec0.json by ExecStart"
topo_gateway
tun_peer 1 192.168.1.200 2001:db8:1::200 "$(gcm_key 1 0)" "$(gcm_key 1 1)"
tun_peer 2 192.168.2.200 2001:db8:2::200 "$(gcm_key 2 0)" "$(gcm_key 2 1)"
tunnel_json() { # K PREFIXES
	echo "{ \"name\": \"t$1\", \"if_id\": 10$1, \"local\": \"10.0.$1.1\", \"remote\": \"10.0.$1.2\","
	echo "  \"spi_in\": \"$(spi_in "$1")\", \"spi_out\": \"$(spi_out "$1")\","
	echo "  \"aead\": { \"name\": \"aes-gcm\", \"key\": \"$(gcm_key "$1" 0)\", \"key_out\": \"$(gcm_key "$1" 1)\" },"
	echo "  \"prefixes\": [ $2 ] }"
}
printf '{ "links": [ { "name": "ipsec0" } ], "tunnels": [ %s ] }\n' \
	"$(tunnel_json 1 '"192.168.1.0/24"')" >"$tmp/ipsec0.json"
unit_run ExecStart
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.1.200 >/dev/null || fail "no traffic after ExecStart"

sa_out() { sa_counters "$GW" 10.0.1.1 10.0.1.2 "$(spi_out 1)" | cut -d' ' -f1; }
tx101() { xsj "$GW" stats if_id 101 | jq '.[0].tx_packets // 0'; }

step "restart while a ping runs: ExecStop, then ExecStart"
sa0=$(sa_out)
st0=$(tx101)
ip netns exec "$GW" ping -c 30 -i 0.1 -W 2 192.168.1.200 >"$tmp/ping" 2>&1 &
ping_pid=$!
sleep 0.5
unit_run ExecStop
sa_mid=$(sa_out)
st_mid=$(tx101)
unit_run ExecStart
wait "$ping_pid" || true
cat "$tmp/ping" | tail -n2
grep -q '30 packets transmitted, 30 received' "$tmp/ping" || fail "echoes lost across the restart"
echo "ok: 30 of 30 echoes answered across the restart"
sa1=$(sa_out)
st1=$(tx101)
# The same SA, counting on: a re-created one would start from 0.
[ "$sa_mid" -ge "$sa0" ] && [ "$sa1" -ge $((sa0 + 30)) ] ||
	fail "SA counter $sa0 -> $sa_mid (stopped) -> $sa1: not the same SA counting on"
echo "ok: SA $(spi_out 1) counted $sa0 -> $sa1, never reset"
[ "$st_mid" -ge "$st0" ] && [ "$st1" -ge $((st0 + 30)) ] ||
	fail "tunnel counter tx_packets $st0 -> $st_mid (stopped) -> $st1: reset"
echo "ok: if_id 101 tx_packets $st0 -> $st1, never reset"

step "reload: the edited file is applied"
printf '{ "links": [ { "name": "ipsec0" } ], "tunnels": [ %s, %s ] }\n' \
	"$(tunnel_json 1 '"192.168.1.0/24"')" "$(tunnel_json 2 '"192.168.2.0/24"')" >"$tmp/ipsec0.json"
unit_run ExecReload
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.2.200 >/dev/null || fail "the reloaded tunnel t2 carries nothing"
assert_eq "$(xsj "$GW" show | jq -c '[.tunnels[].name]')" '["t1","t2"]' "tunnels after reload"
[ "$(tx101)" -ge "$st1" ] || fail "reload reset the counters of if_id 101"
echo "ok: reload kept if_id 101's counters"

step "tearing down is explicit: stop leaves it, detach removes it"
unit_run ExecStop
assert_eq "$(xsj "$GW" route show | jq length)" 2 "routes after stop"
$XS -n "$GW" detach dev ipsec0
assert_eq "$(xsj "$GW" route show | jq length)" 0 "routes after detach"
