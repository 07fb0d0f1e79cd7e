#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The underlay XDP program on the gateway's ul1: it counts the ESP that
# arrives per destination and SPI exactly as the SA does, passes everything
# else untouched, lets ESP for other hosts through, finds SPIs without an
# SA (by asking the kernel, or from the copied SA list with sa-lookup map),
# drops them only with drop-unknown, keeps its counters across an upgrade
# and leaves nothing behind when detached.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
ul_cleanup() {
	$XS -n "$GW" underlay detach dev ul1 2>/dev/null || true
	topo_cleanup
}
trap ul_cleanup EXIT

step "topology"
topo_gateway
$XS -n "$GW" attach dev ipsec0 tenant-key none
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.2.200 2001:db8:2::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" route add 192.168.2.0/24 if_id 102 dev ipsec0
p1=$(peer_ns 1)
p2=$(peer_ns 2)
SPI1=$(printf '0x%08x' "$(spi_in 1)")

gw_in1() { sa_counters "$GW" 10.0.1.2 10.0.1.1 "$(spi_in 1)" | cut -d' ' -f1; }
# Per-SPI counter FIELD of (daddr, spi) on ul1 with sa present|unknown; 0
# when there is no such row.
ul() { # DADDR SPI SA FIELD
	xsj "$GW" underlay show dev ul1 |
		jq -r --arg d "$1" --arg s "$2" --arg sa "$3" \
			'[.[] | select(.daddr == $d and .spi == $s and .sa == $sa) | .'"$4"'] | add // 0'
}
ulstat() { xsj "$GW" underlay stats dev ul1 | jq -r ".[0].$1"; }
# The gateway's own count of ESP without an SA, and of UDP without a socket.
no_states() { ip netns exec "$GW" awk '$1 == "XfrmInNoStates" { print $2 }' /proc/net/xfrm_stat; }
udp_noports() {
	ip netns exec "$GW" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["NoPorts"] }' /proc/net/snmp
}
netns_dir() { echo "/sys/fs/bpf/xfrm-steer/$(ip netns exec "$GW" stat -L -c %i /proc/self/ns/net)"; }

step "attach: native XDP, pinned, the kernel's SA lookup"
assert_fails "underlay attach on the xfrm interface" $XS -n "$GW" underlay attach dev ipsec0
$XS -n "$GW" underlay attach dev ul1
dir="$(netns_dir)/ul1"
[ -e "$dir/link_xdp" ] || fail "no pinned link in $dir"
assert_eq "$(stat -c %a "$dir")" 700 "mode of $dir"
ip -n "$GW" -d link show ul1
ip -n "$GW" link show ul1 | grep -q ' xdp ' || fail "ul1 has no native XDP program"
assert_eq "$(ulstat xdp)" native "XDP mode"
assert_eq "$(ulstat sa_lookup)" kfunc "SA lookup"
assert_eq "$(ulstat unknown_action)" pass "unknown SPIs"
# The gateway's 4 SAs; with the kfunc the list is not consulted, but kept.
assert_eq "$(ulstat known_spis)" 4 "SAs listed"

step "per-SPI counts equal the SA's: replies of 5 pings from the gateway"
in0=$(gw_in1)
ip netns exec "$GW" ping -q -c 5 -i 0.2 -W 2 192.168.1.200
assert_eq "$(($(gw_in1) - in0))" 5 "ESP packets the SA decrypted"
assert_eq "$(ul 10.0.1.1 "$SPI1" present packets)" 5 "ESP packets counted on ul1"
# Outer IPv4 length of one reply: IP 20, ESP 8, IV 8, the 84-byte inner
# packet padded to 88 with the trailer, ICV 16.
assert_eq "$(ul 10.0.1.1 "$SPI1" present bytes)" $((5 * 140)) "ESP bytes counted on ul1"
assert_eq "$(ul 10.0.1.1 "$SPI1" unknown packets)" 0 "as unknown"
$XS -n "$GW" underlay show
assert_eq "$(xsj "$GW" underlay show | jq length)" 1 "rows (nothing from ul2, which has no program)"

step "upgrade: attach again with drop-unknown keeps the counters"
$XS -n "$GW" underlay attach dev ul1 drop-unknown
assert_eq "$(ulstat unknown_action)" drop "unknown SPIs"
assert_eq "$(ul 10.0.1.1 "$SPI1" present packets)" 5 "ESP packets after the upgrade"
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
assert_eq "$(ul 10.0.1.1 "$SPI1" present packets)" 8 "ESP packets counted on"

step "traffic other than ESP passes untouched, with drop-unknown on"
ip netns exec "$p1" ping -q -c 3 -i 0.2 -W 2 10.0.1.1
np0=$(udp_noports)
# IKE behind the non-ESP marker, a NAT keepalive: both reach UDP (no socket
# here, so they end as NoPorts), noted and not counted per SPI.
ip netns exec "$p1" bash -c 'printf "\0\0\0\0ike-header-of-28-bytes-here." >/dev/udp/10.0.1.1/4500'
ip netns exec "$p1" bash -c 'printf "\377" >/dev/udp/10.0.1.1/4500'
ip netns exec "$p1" bash -c 'printf "hello" >/dev/udp/10.0.1.1/5000'
sleep 0.5
assert_eq "$(($(udp_noports) - np0))" 3 "UDP datagrams that reached the gateway's UDP"
assert_eq "$(ulstat ike)" 1 "IKE packets noted"
assert_eq "$(ulstat keepalive)" 1 "keepalives noted"
assert_eq "$(ulstat dropped)" 0 "packets dropped"
assert_eq "$(xsj "$GW" underlay show dev ul1 | jq length)" 1 "per-SPI rows"

step "ESP for another host is forwarded, not dropped"
# Peer 1 sends ESP through the gateway to peer 2's underlay address; the
# gateway has no SA for it, and must not drop it.
ip -n "$p1" route add 10.0.2.0/24 via 10.0.1.1
ip -n "$p1" route add 192.168.77.0/24 via 10.0.1.1
ip -n "$p2" route add 10.0.1.0/24 via 10.0.2.1
for ns in "$p1" "$p2"; do
	ip -n "$ns" xfrm state add src 10.0.1.2 dst 10.0.2.2 proto esp spi 0x7001 reqid 77 \
		mode tunnel aead "$AEAD_ALG" "$(peer_key 7)" 128
done
ip -n "$p1" xfrm policy add dir out src 192.168.1.200/32 dst 192.168.77.0/24 \
	tmpl src 10.0.1.2 dst 10.0.2.2 proto esp reqid 77 mode tunnel
ip netns exec "$p1" ping -q -c 3 -i 0.2 -W 1 -I 192.168.1.200 192.168.77.1 || true
assert_eq "$(sa_counters "$p2" 10.0.1.2 10.0.2.2 0x7001 | cut -d' ' -f1)" 3 "ESP peer 2 decrypted"
assert_eq "$(ulstat transit)" 3 "transit ESP noted"
assert_eq "$(ulstat dropped)" 0 "packets dropped"
assert_eq "$(ulstat unknown_spi)" 0 "unknown SPIs"

step "an SPI whose SA is gone: counted as unknown, dropped before the kernel"
ip -n "$GW" xfrm state del src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)"
ns0=$(no_states)
assert_fails "ping into the deleted SA" \
	ip netns exec "$p1" ping -q -c 4 -i 0.2 -W 1 -I 192.168.1.200 10.255.0.1
assert_eq "$(ul 10.0.1.1 "$SPI1" unknown packets)" 4 "unknown-SPI packets on ul1"
assert_eq "$(ul 10.0.1.1 "$SPI1" present packets)" 8 "packets of the SA before it went"
assert_eq "$(ulstat dropped)" 4 "packets dropped"
assert_eq "$(($(no_states) - ns0))" 0 "packets the kernel looked up in vain (XfrmInNoStates)"

step "without drop-unknown the kernel gets them (and drops them itself)"
$XS -n "$GW" underlay attach dev ul1
ns0=$(no_states)
assert_fails "ping into the deleted SA" \
	ip netns exec "$p1" ping -q -c 2 -i 0.2 -W 1 -I 192.168.1.200 10.255.0.1
assert_eq "$(($(no_states) - ns0))" 2 "XfrmInNoStates"
assert_eq "$(ul 10.0.1.1 "$SPI1" unknown packets)" 6 "unknown-SPI packets on ul1"
assert_eq "$(ulstat dropped)" 4 "packets dropped"

step "sa-lookup map: the SA list as of attach and sync"
$XS -n "$GW" underlay attach dev ul1 sa-lookup map
assert_eq "$(ulstat sa_lookup)" map "SA lookup"
assert_eq "$(ulstat known_spis)" 3 "SAs listed"
ip -n "$GW" xfrm state add src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)" \
	reqid 1 mode tunnel if_id 101 flag af-unspec aead "$AEAD_ALG" "$(peer_key 1)" 128
ip netns exec "$p1" ping -q -c 2 -i 0.2 -W 2 -I 192.168.1.200 10.255.0.1
assert_eq "$(ul 10.0.1.1 "$SPI1" unknown packets)" 8 "new SA, not listed yet: unknown"
assert_eq "$(ul 10.0.1.1 "$SPI1" present packets)" 8 "as present"
$XS -n "$GW" underlay sync
assert_eq "$(ulstat known_spis)" 4 "SAs listed after sync"
ip netns exec "$p1" ping -q -c 2 -i 0.2 -W 2 -I 192.168.1.200 10.255.0.1
assert_eq "$(ul 10.0.1.1 "$SPI1" present packets)" 10 "listed after sync: present"
assert_eq "$(ul 10.0.1.1 "$SPI1" unknown packets)" 8 "as unknown"
# Deleting goes into the list only with the next sync as well.
ip -n "$GW" xfrm state del src 10.0.1.2 dst 10.0.1.1 proto esp spi "$(spi_in 1)"
$XS -n "$GW" underlay sync dev ul1
assert_eq "$(ulstat known_spis)" 3 "SAs listed after the deletion and sync"

step "detach removes the program and every pin"
$XS -n "$GW" underlay detach dev ul1
[ ! -e "$dir" ] || fail "$dir is still there: $(ls "$dir")"
if ip -n "$GW" -d link show ul1 | grep -q xdp; then fail "ul1 still has an XDP program"; fi
assert_fails "show of a detached device" $XS -n "$GW" underlay show dev ul1
assert_fails "detach again" $XS -n "$GW" underlay detach dev ul1
assert_eq "$(xsj "$GW" underlay show | jq length)" 0 "rows"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.2.200
# The tc programs of ipsec0 are untouched.
[ -e "$(netns_dir)/ipsec0/link_egress" ] || fail "ipsec0 lost its programs"
