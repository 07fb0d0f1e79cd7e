# SPDX-License-Identifier: GPL-2.0
# Builds the multi-tenant gateway topology used by `make demo` and the
# integration tests. Source it; set XS (the CLI) and NSP (a netns name prefix)
# first.
#
#   gateway netns $NSP-gw: external xfrm interface ipsec0 (10.255.0.1,
#   fd00:255::1), one underlay veth per peer (ul<k>, 10.0.<k>.1/24).
#   peer netns $NSP-p<k>: underlay ul0 (10.0.<k>.2/24), inner addresses on lo,
#   plain policy-based IPsec towards the gateway (no xfrm interface).
#
# Each peer k has one SA pair on the gateway with if_id <if_id>, reqid k and
# SPIs 0x1000+k (gateway -> peer) and 0x2000+k (peer -> gateway); gateway
# policies are wildcard selectors scoped by that if_id, so only the tc program
# decides which tunnel a packet takes.

: "${NSP:=xs}"
GW="$NSP-gw"
GW_IN4=10.255.0.1
GW_IN6=fd00:255::1
AEAD_ALG='rfc4106(gcm(aes))'

peer_ns() { echo "$NSP-p$1"; }
spi_out() { printf '0x%x' $((0x1000 + $1)); }
spi_in() { printf '0x%x' $((0x2000 + $1)); }
# 128-bit AES key + 32-bit salt, different per peer.
peer_key() { printf '0x%02x%038x' "$1" $((0xabcdef + $1)); }

topo_gateway() { # [tenant-key args...]
	ip netns add "$GW"
	ip -n "$GW" link set lo up
	ip netns exec "$GW" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1
	$XS -n "$GW" link add ipsec0
	ip -n "$GW" addr add "$GW_IN4/32" dev ipsec0
	ip -n "$GW" addr add "$GW_IN6/128" dev ipsec0 nodad
	ip -n "$GW" route add 192.168.0.0/16 dev ipsec0 src "$GW_IN4"
	ip -n "$GW" -6 route add 2001:db8::/32 dev ipsec0 src "$GW_IN6"
}

topo_peer() { # K IF_ID INNER4 INNER6
	local key
	key=$(peer_key "$1")
	topo_peer_link "$1" "$3" "$4"
	topo_peer_gateway_ipsec "$1" "$2" "$key"
	topo_peer_ipsec "$1" "$3" "$4" "$key" "$key"
}

# Peer K's netns, its underlay to the gateway and its inner addresses.
topo_peer_link() { # K INNER4 INNER6
	local k=$1 in4=$2 in6=$3 ns gwa pa
	ns=$(peer_ns "$k")
	gwa=10.0.$k.1
	pa=10.0.$k.2

	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "ul$k" netns "$GW" type veth peer name ul0 netns "$ns"
	# The gateway's side speaks no IPv6 on the underlay, so its transmit
	# counter moves only for ESP (and ARP): a cleartext leak would show.
	ip netns exec "$GW" sysctl -qw "net.ipv6.conf.ul$k.disable_ipv6=1"
	ip -n "$GW" addr add "$gwa/24" dev "ul$k"
	ip -n "$GW" link set "ul$k" up
	ip -n "$ns" addr add "$pa/24" dev ul0
	ip -n "$ns" link set ul0 up
	ip -n "$ns" addr add "$in4/32" dev lo
	# Fixed neighbour entries on both sides: no ARP on the underlay, so
	# every packet the gateway's side sends is an IP packet. (With ARP on
	# the peer's side, a probe of its stale entry 5 s after it last
	# answered gets an ARP reply from the gateway, whenever that falls.)
	ip -n "$GW" neigh replace "$pa" dev "ul$k" nud permanent \
		lladdr "$(ip -n "$ns" -j link show ul0 | jq -r '.[0].address')"
	ip -n "$ns" neigh replace "$gwa" dev ul0 nud permanent \
		lladdr "$(ip -n "$GW" -j link show "ul$k" | jq -r '.[0].address')"
	ip -n "$ns" addr add "$in6/128" dev lo nodad
}

# Peer 1 for an IKE daemon's tests: its netns ($PEER), the underlay
# 10.0.1.1 (gateway, ul1) / 10.0.1.2 (peer, ul0) with ARP as usual, the inner
# 192.168.1.200 on lo and the peer's way back to the gateway's inner
# 10.255.0.0/16. The SAs and policies are the daemons' to make.
topo_ike_peer() {
	PEER=$(peer_ns 1)
	ip netns add "$PEER"
	ip -n "$PEER" link set lo up
	ip link add ul1 netns "$GW" type veth peer name ul0 netns "$PEER"
	ip -n "$GW" addr add 10.0.1.1/24 dev ul1
	ip -n "$GW" link set ul1 up
	ip -n "$PEER" addr add 10.0.1.2/24 dev ul0
	ip -n "$PEER" link set ul0 up
	ip -n "$PEER" addr add 192.168.1.200/32 dev lo
	ip -n "$PEER" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
}

# Gateway side of peer K: one SA pair and wildcard policies, all bound to
# the if_id, made with ip xfrm.
topo_peer_gateway_ipsec() { # K IF_ID KEY
	local k=$1 ifid=$2 key=$3 gwa pa sel
	gwa=10.0.$k.1
	pa=10.0.$k.2
	ip -n "$GW" xfrm state add src "$gwa" dst "$pa" proto esp spi "$(spi_out "$k")" \
		reqid "$k" mode tunnel if_id "$ifid" flag af-unspec aead "$AEAD_ALG" "$key" 128
	ip -n "$GW" xfrm state add src "$pa" dst "$gwa" proto esp spi "$(spi_in "$k")" \
		reqid "$k" mode tunnel if_id "$ifid" flag af-unspec aead "$AEAD_ALG" "$key" 128
	for sel in 0.0.0.0/0 ::/0; do
		ip -n "$GW" xfrm policy add dir out src "$sel" dst "$sel" if_id "$ifid" \
			tmpl src "$gwa" dst "$pa" proto esp reqid "$k" mode tunnel
		ip -n "$GW" xfrm policy add dir in src "$sel" dst "$sel" if_id "$ifid" \
			tmpl src "$pa" dst "$gwa" proto esp reqid "$k" mode tunnel
		ip -n "$GW" xfrm policy add dir fwd src "$sel" dst "$sel" if_id "$ifid" \
			tmpl src "$pa" dst "$gwa" proto esp reqid "$k" mode tunnel
	done
}

# Peer K's side: classic policy-based IPsec for its inner addresses.
# KEY_OUT is the key of the SA gateway -> peer, KEY_IN of peer -> gateway.
topo_peer_ipsec() { # K INNER4 INNER6 KEY_OUT KEY_IN
	local k=$1 in4=$2 in6=$3 kout=$4 kin=$5 ns gwa pa
	ns=$(peer_ns "$k")
	gwa=10.0.$k.1
	pa=10.0.$k.2
	ip -n "$ns" xfrm state add src "$gwa" dst "$pa" proto esp spi "$(spi_out "$k")" \
		reqid "$k" mode tunnel flag af-unspec aead "$AEAD_ALG" "$kout" 128
	ip -n "$ns" xfrm state add src "$pa" dst "$gwa" proto esp spi "$(spi_in "$k")" \
		reqid "$k" mode tunnel flag af-unspec aead "$AEAD_ALG" "$kin" 128
	ip -n "$ns" xfrm policy add dir out src "$in4/32" dst 10.255.0.0/16 \
		tmpl src "$pa" dst "$gwa" proto esp reqid "$k" mode tunnel
	ip -n "$ns" xfrm policy add dir in src 10.255.0.0/16 dst "$in4/32" \
		tmpl src "$gwa" dst "$pa" proto esp reqid "$k" mode tunnel
	ip -n "$ns" xfrm policy add dir out src "$in6/128" dst fd00:255::/64 \
		tmpl src "$pa" dst "$gwa" proto esp reqid "$k" mode tunnel
	ip -n "$ns" xfrm policy add dir in src fd00:255::/64 dst "$in6/128" \
		tmpl src "$gwa" dst "$pa" proto esp reqid "$k" mode tunnel
	ip -n "$ns" route add 10.255.0.0/16 dev ul0 src "$in4"
	ip -n "$ns" -6 route add fd00:255::/64 dev ul0 src "$in6"
}

topo_cleanup() {
	local ns dev
	$XS -n "$GW" detach dev ipsec0 2>/dev/null || true
	# Underlay programs too: their pins would outlive the namespace.
	for dev in $(ip -n "$GW" -j link show 2>/dev/null | jq -r '.[] | select(.xdp) | .ifname'); do
		$XS -n "$GW" underlay detach dev "$dev" 2>/dev/null || true
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$NSP"-*) ip netns del "$ns" 2>/dev/null || true ;; esac
	done
	return 0
}

# Packets and bytes an SA has processed, as the kernel counts them:
# prints "PACKETS BYTES".
sa_counters() { # NS SRC DST SPI
	ip -n "$1" -s xfrm state get src "$2" dst "$3" proto esp spi "$4" |
		awk '/lifetime current:/ { getline; gsub(/[(),a-z]/, " "); print $2, $1; exit }'
}
