# SPDX-License-Identifier: GPL-2.0
# Helpers of the tunnel and apply tests (tests/test-tunnel.sh,
# tests/test-apply.sh, tests/test-apply-crash.sh). Source after lib.sh.

# One line per SA or policy as "ip xfrm" prints it (the entry's lines
# joined), sorted: the kernel's own view, in an order that compares. The
# anti-replay and lastused lines move with traffic and are left out.
xfrm_lines() {
	awk '/^[^ \t]/ { if (b != "") print b; b = $0; next }
		/anti-replay context|lastused/ { next }
		{ gsub(/^[ \t]+|[ \t]+$/, ""); b = b " | " $0 }
		END { if (b != "") print b }' | sort
}

# Everything a tunnel or apply command may change in namespace NS: SAs,
# policies and steering routes, as the kernel and the maps have them.
snapshot() { # NS
	echo "== states"
	ip -n "$1" xfrm state | xfrm_lines
	echo "== policies"
	ip -n "$1" xfrm policy | xfrm_lines
	echo "== routes"
	$XS -n "$1" -j route show | jq -c 'sort_by(.dev, .tenant, .prefix) | .[]'
}

nstates() { ip -n "$1" xfrm state | grep -c '^src' || true; }
npolicies() { ip -n "$1" xfrm policy | grep -c '^src' || true; }
nroutes() { $XS -n "$1" -j route show | jq length; }

# Compare two snapshots; shows the difference when they differ.
assert_same() { # A B WHAT
	local d
	if [ "$1" != "$2" ]; then
		d=$(mktemp -d)
		echo "$1" >"$d/got"
		echo "$2" >"$d/expected"
		diff "$d/expected" "$d/got" | head -40 >&2
		rm -rf "$d"
		fail "$3: the state differs"
	fi
	echo "ok: $3"
}

# Peer K of the gateway made with the lib-topology conventions (underlay
# 10.0.K.0/24, SPIs 0x1000+K out of the gateway and 0x2000+K into it),
# but only the peer's side: the gateway's comes from xfrm-steer. KEY_IN is
# the key of the SA peer -> gateway, KEY_OUT of gateway -> peer.
tun_peer() { # K INNER4 INNER6 KEY_IN KEY_OUT
	local k=$1 in4=$2 in6=$3 kin=$4 kout=$5 ns gwa pa
	ns=$(peer_ns "$k")
	gwa=10.0.$k.1
	pa=10.0.$k.2

	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "ul$k" netns "$GW" type veth peer name ul0 netns "$ns"
	ip netns exec "$GW" sysctl -qw "net.ipv6.conf.ul$k.disable_ipv6=1"
	ip -n "$GW" addr add "$gwa/24" dev "ul$k"
	ip -n "$GW" link set "ul$k" up
	ip -n "$ns" addr add "$pa/24" dev ul0
	ip -n "$ns" link set ul0 up
	ip -n "$ns" addr add "$in4/32" dev lo
	ip -n "$ns" addr add "$in6/128" dev lo nodad
	ip -n "$GW" neigh replace "$pa" dev "ul$k" nud permanent \
		lladdr "$(ip -n "$ns" -j link show ul0 | jq -r '.[0].address')"

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

# 128-bit AES-GCM key and salt (20 bytes), one per K and direction.
gcm_key() { printf '0x%08x%032x' "$1" $((0x5eed0000 + $2)); } # K DIR(0 in, 1 out)

# Packets the peer's SA from the gateway counted: what was steered to K.
peer_rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }
