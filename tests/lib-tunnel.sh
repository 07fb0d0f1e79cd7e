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
	topo_peer_link "$1" "$2" "$3"
	topo_peer_ipsec "$1" "$2" "$3" "$5" "$4"
}

# 128-bit AES-GCM key and salt (20 bytes), one per K and direction.
gcm_key() { printf '0x%08x%032x' "$1" $((0x5eed0000 + $2)); } # K DIR(0 in, 1 out)

# Packets the peer's SA from the gateway counted: what was steered to K.
peer_rx() { sa_counters "$(peer_ns "$1")" "10.0.$1.1" "10.0.$1.2" "$(spi_out "$1")" | cut -d' ' -f1; }
