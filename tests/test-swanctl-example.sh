#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# examples/swanctl.conf as shipped: the gateway is set up with the commands
# of the file's own header (run as they stand, in the gateway's namespace),
# and charon loads the file with only the updown script's path replaced by
# the one under test (its addresses, ids and keys are the file's own, all
# documentation ranges, reachable inside the test's namespaces). Two branch
# charons (same inner addresses, tenants 0x100 and 0x200) and a road
# warrior (virtual IP from the pool, %unique if_id) connect with the
# example's proposals (aes256gcm16-prfsha384-ecp384: the gcm and openssl
# plugins of libstrongswan-standard-plugins). IPv4 and IPv6 to each branch,
# the branches' and the road warrior's pings to the gateway, each counted
# by the kernel's SAs.
. "$(dirname "$0")/lib.sh"

XS_SW_PREFIX=xs-swex
CHARON_LOAD="random nonce aes sha1 sha2 hmac kdf gmp gcm openssl kernel-netlink socket-default vici updown"
. "$(dirname "$0")/lib-charon.sh"
# XS_EXAMPLE: another file in its place (to show that an old one fails).
EXAMPLE=${XS_EXAMPLE:-$PWD/examples/swanctl.conf}
GW_UL=198.51.100.1

[ -e /usr/lib/ipsec/plugins/libstrongswan-gcm.so ] ||
	skip "strongSwan's gcm plugin is missing (Debian: libstrongswan-standard-plugins; scripts/deps.sh installs it)"

step "the gateway, set up by the example's header"
ip netns add "$GW"
ip -n "$GW" link set lo up
ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1
# The first block of commands is the setup; later blocks are alternatives.
awk '/^#   (xfrm-steer|ip|sysctl|cp) / { on = 1 }
	on && !/^#   / { exit }
	on { sub(/^#   /, ""); print }' "$EXAMPLE" >"$SW/header.cmds"
n=0
while read -r cmd args; do
	# shellcheck disable=SC2086 # the header's words, as a shell would split them
	case $cmd in
	xfrm-steer) $XS -n "$GW" $args ;;
	ip) ip -n "$GW" $args ;;
	sysctl) ip netns exec "$GW" sysctl -q $args ;;
	*) continue ;;
	esac
	echo "ok: $cmd $args"
	n=$((n + 1))
done <"$SW/header.cmds"
assert_ge "$n" 6 "commands of the example's header run"
ip -n "$GW" addr add "$GW_UL/32" dev lo

# Underlay k: the gateway's 198.51.100.1 (on lo) and the peer's ADDR, one
# veth, host routes both ways.
underlay() { # K NS ADDR
	ip netns add "$2"
	ip -n "$2" link set lo up
	ip link add "ul$1" netns "$GW" type veth peer name ul0 netns "$2"
	ip -n "$GW" link set "ul$1" up
	ip -n "$GW" route add "$3/32" dev "ul$1"
	ip -n "$2" addr add "$3/32" dev ul0
	ip -n "$2" link set ul0 up
	ip -n "$2" route add "$GW_UL/32" dev ul0
}
B1=$(peer_ns 1)
B2=$(peer_ns 2)
RW=$(peer_ns 3)
underlay 1 "$B1" 203.0.113.11
underlay 2 "$B2" 203.0.113.12
underlay 3 "$RW" 203.0.113.21
for ns in "$B1" "$B2"; do
	ip -n "$ns" addr add 192.168.1.200/32 dev lo
	ip -n "$ns" addr add 2001:db8:1::200/128 dev lo nodad
	ip -n "$ns" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
	ip -n "$ns" -6 route add fd00:255::/64 dev ul0 src 2001:db8:1::200
done

branch_conf() { # K
	cat <<EOF
connections {
	branch$1 {
		version = 2
		local_addrs = 203.0.113.1$1
		remote_addrs = $GW_UL
		proposals = aes256gcm16-prfsha384-ecp384
		local {
			auth = psk
			id = branch$1.example.net
		}
		remote {
			auth = psk
			id = gw.example.net
		}
		children {
			lan {
				local_ts = 192.168.1.0/24, 2001:db8:1::/64
				remote_ts = 10.255.0.0/16, fd00:255::/64
				esp_proposals = aes256gcm16
			}
		}
	}
}
secrets {
	ike-gw {
		id-a = branch$1.example.net
		id-b = gw.example.net
		secret = "$2"
	}
}
EOF
}
branch_conf 1 "replace with a long random secret" >"$SW/b1-swanctl.conf"
branch_conf 2 "replace with another long random secret" >"$SW/b2-swanctl.conf"
cat >"$SW/rw-swanctl.conf" <<EOF
connections {
	home {
		version = 2
		local_addrs = 203.0.113.21
		remote_addrs = $GW_UL
		vips = 0.0.0.0
		local {
			auth = psk
			id = rw1.example.net
		}
		remote {
			auth = psk
			id = gw.example.net
		}
		children {
			home {
				remote_ts = 10.255.0.0/16
				esp_proposals = aes256gcm16
			}
		}
	}
}
secrets {
	ike-gw {
		secret = "replace with a third long random secret"
	}
}
EOF
# The shipped file; only the updown script's installed path becomes the
# one under test.
sed "s|/usr/local/lib/xfrm-steer/strongswan-updown.sh|$UPDOWN|" "$EXAMPLE" >"$SW/gw-swanctl.conf"
changed=$(diff "$EXAMPLE" "$SW/gw-swanctl.conf" | grep -c '^>' || true)
assert_eq "$changed" 3 "lines of the example changed (updown paths)"

step "charons: the gateway with the example, two branches, a road warrior"
start_charon gw "$GW" "$(dirname "$XS"):$PATH"
start_charon b1 "$B1"
start_charon b2 "$B2"
start_charon rw "$RW"
swan gw --load-all --file "$SW/gw-swanctl.conf" >"$SW/gw-load.out" 2>&1 ||
	fail "the example does not load: $(grep -v 'opening directory' "$SW/gw-load.out")"
for p in b1 b2 rw; do
	swan "$p" --load-all --file "$SW/$p-swanctl.conf" >/dev/null 2>&1
done
swan b1 --initiate --child lan --timeout 60 >/dev/null
swan b2 --initiate --child lan --timeout 60 >/dev/null
swan rw --initiate --child home --timeout 60 >/dev/null
grep -a 'not supported' "$SW/gw.log" && fail "charon lacks an algorithm of the example"
vip=$(ip -n "$RW" -4 addr show | awk '/inet 10\.99\./ { sub(/\/.*/, "", $2); print $2; exit }')
[ -n "$vip" ] || fail "the road warrior got no virtual IP from rw-pool"
echo "ok: road warrior's virtual IP $vip"
ip -n "$RW" route add 10.255.0.0/16 dev ul0 src "$vip"
rw_if_id=$(ip -n "$GW" xfrm state list src "$GW_UL" dst 203.0.113.21 | awk '$1 == "if_id" { print $2; exit }')
[ -n "$rw_if_id" ] || fail "no SA with an if_id to the road warrior on the gateway"
rw_if_id=$((rw_if_id))
want="10.99.0.1/32 0x100 $rw_if_id
192.168.1.0/24 0x100 101
192.168.1.0/24 0x200 102
2001:db8:1::/64 0x100 101
2001:db8:1::/64 0x200 102"
troutes() { xsj "$GW" route show dev ipsec0 | jq -r '.[] | "\(.prefix) \(.tenant) \(.if_id)"' | sort; }
wait_eq "$(sort <<<"${want/10.99.0.1/$vip}")" "routes the updown script made (prefix tenant if_id)" troutes
# The example's IPv6 address was added without nodad.
for _ in $(seq 50); do
	ip -n "$GW" -6 addr show dev ipsec0 tentative | grep -q inet6 || break
	sleep 0.2
done

# Packets the SA from SRC to DST in NS has carried.
sa_pkts() { # NS SRC DST
	local spi
	spi=$(ip -n "$1" xfrm state list src "$2" dst "$3" | awk '/proto esp spi/ { print $4; exit }')
	[ -n "$spi" ] || fail "no SA $2 -> $3 in $1"
	sa_counters "$1" "$2" "$3" "$spi" | cut -d' ' -f1
}

step "IPv4 and IPv6 from the gateway to each branch: the tenant's mark picks the tunnel"
for k in 1 2; do
	ns=$(peer_ns $k)
	mark=$((0x${k}00))
	before=$(sa_pkts "$ns" "$GW_UL" "203.0.113.1$k")
	ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 -m "$mark" 192.168.1.200
	ip netns exec "$GW" ping -6 -q -c 2 -i 0.2 -W 2 -m "$mark" 2001:db8:1::200
	assert_eq "$(($(sa_pkts "$ns" "$GW_UL" "203.0.113.1$k") - before))" 5 \
		"packets branch$k's inbound SA decrypted (3 IPv4, 2 IPv6, mark $mark)"
done

step "the branches and the road warrior ping the gateway: replies carry the tenant"
for k in 1 2; do
	ns=$(peer_ns $k)
	before=$(sa_pkts "$ns" "$GW_UL" "203.0.113.1$k")
	ip netns exec "$ns" ping -q -c 3 -i 0.2 -W 2 10.255.0.1
	ip netns exec "$ns" ping -6 -q -c 2 -i 0.2 -W 2 fd00:255::1
	assert_eq "$(($(sa_pkts "$ns" "$GW_UL" "203.0.113.1$k") - before))" 5 \
		"replies branch$k's inbound SA decrypted"
done
before=$(sa_pkts "$RW" "$GW_UL" 203.0.113.21)
ip netns exec "$RW" ping -q -c 3 -i 0.2 -W 2 10.255.0.1
assert_eq "$(($(sa_pkts "$RW" "$GW_UL" 203.0.113.21) - before))" 3 \
	"replies the road warrior's inbound SA decrypted"
