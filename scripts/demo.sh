#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: a gateway with ONE external xfrm interface serving three IPsec
# peers for two tenants. Peers 1 and 2 have the same inner address
# (192.168.1.200); the packet mark says which tenant a packet belongs to and
# xfrm-steer picks the tunnel. Runs here when this kernel has xfrm
# interfaces, otherwise inside the test VM (scripts/vmtest.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

XS=${XS:-$PWD/build/xfrm-steer}
NSP=${NSP:-xsdemo}

have_xfrm_interfaces() {
	local ns=xsprobe$$ ok=1
	ip netns add "$ns" 2>/dev/null || return 1
	ip -n "$ns" link add xsprobe type xfrm external 2>/dev/null && ok=0
	ip netns del "$ns"
	return $ok
}

if [ "${1:-}" != "--here" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "Error: the demo creates network namespaces: run it as root" >&2
		exit 1
	fi
	if have_xfrm_interfaces; then
		exec "$0" --here
	fi
	echo "This kernel ($(uname -r)) has no xfrm interfaces: running the demo in the test VM."
	exec scripts/vmtest.sh -- scripts/demo.sh --here
fi

. scripts/lib-topology.sh
trap topo_cleanup EXIT
topo_cleanup

bold=$'\e[1m'
dim=$'\e[2m'
off=$'\e[0m'
[ -t 1 ] || { bold= dim= off=; }

say() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
# Show a command the way an operator would type it, then run it.
run() {
	printf '%s$ %s%s\n' "$dim" "$(echo "$*" | sed "s|$XS|xfrm-steer|; s|ip netns exec $GW |(gw) |")" "$off"
	"$@"
}
ping_n() { # MARK COUNT DEST...
	local mark=$1 count=$2
	shift 2
	ip netns exec "$GW" ping -q -c "$count" -i 0.2 -W 2 -m "$mark" "$@" |
		awk '/transmitted/ { print "   " $0 }'
}
peer_rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }

modprobe xfrm_interface 2>/dev/null || true
say "Kernel $(uname -r). Building the gateway and three peers (network namespaces)"
echo "  peer 1: tenant blue (mark 0x100), inner 192.168.1.200, 2001:db8:1::200, tunnel if_id 101"
echo "  peer 2: tenant red  (mark 0x200), inner 192.168.1.200, 2001:db8:1::200, tunnel if_id 102"
echo "  peer 3: tenant blue (mark 0x100), inner 192.168.3.200, tunnel if_id 103"
echo "  Each peer has an AES-GCM SA pair on the gateway bound to its if_id, and"
echo "  wildcard policies: only the if_id decides where a packet goes."
topo_gateway
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.1.200 2001:db8:1::200
topo_peer 3 103 192.168.3.200 2001:db8:3::200

say "One external xfrm interface on the gateway (made by 'xfrm-steer link add')"
run "$XS" -n "$GW" link show

say "Attach the steering programs, tenant = packet mark & 0xff00"
run "$XS" -n "$GW" attach dev ipsec0 tenant-key mark 0xff00
run "$XS" -n "$GW" route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0
run "$XS" -n "$GW" route add 2001:db8:1::/64 if_id 101 tenant 0x100 dev ipsec0
run "$XS" -n "$GW" route add 192.168.3.0/24 if_id 103 tenant 0x100 dev ipsec0
run "$XS" -n "$GW" route add 192.168.1.0/24 if_id 102 tenant 0x200 dev ipsec0
run "$XS" -n "$GW" route add 2001:db8:1::/64 if_id 102 tenant 0x200 dev ipsec0
run "$XS" -n "$GW" route show

say "Traffic: the same destination, two tenants, two tunnels"
echo " blue -> 192.168.1.200 (5 pings):"
ping_n 256 5 192.168.1.200
echo " red  -> 192.168.1.200 (3 pings):"
ping_n 512 3 192.168.1.200
echo " red  -> 2001:db8:1::200 (2 pings, IPv6 through the same interface):"
ping_n 512 2 -6 2001:db8:1::200
echo " blue -> 192.168.3.200 (4 pings):"
ping_n 256 4 192.168.3.200
echo " red  -> 192.168.3.200 (2 pings; red has no route there, so nothing leaves;"
echo "         ping retries a send the stack refused, so each counts several drops):"
ping_n 512 2 192.168.3.200 || true

say "Per-tunnel statistics (xfrm-steer stats)"
run "$XS" -n "$GW" stats dev ipsec0
echo
run "$XS" -n "$GW" stats drops dev ipsec0

say "Cross-check with the kernel: what each peer's SA decrypted"
for k in 1 2 3; do
	printf '  peer %s received %s packets over its SA (ip -s xfrm state)\n' "$k" "$(peer_rx "$k")"
done
echo
echo "JSON for scripts: xfrm-steer -j stats; Prometheus and more: see README.md."
