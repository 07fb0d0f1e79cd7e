#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The CLI's own IPsec control plane: SAs and policies made with
# "xfrm-steer sa" and "xfrm-steer policy" (never "ip xfrm") carry traffic
# both ways through the external interface, for every algorithm we offer,
# for IPv4 and IPv6 outer and inner headers in every mix, in transport mode
# and with NAT-T encapsulation. What happened is read from the kernel
# ("ip -s xfrm state" counters, "ip xfrm state/policy"), not from us. Then:
# del and flush remove exactly what they name, and bad input is refused
# with one Error line and nothing added.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

tmp=$(mktemp -d)
listeners=()
cleanup() {
	local pid
	for pid in "${listeners[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	topo_cleanup
}
trap cleanup EXIT

# The kernel's view, one line per SA: "SRC DST SPI IF_ID" (if_id in hex as
# ip prints it, 0x0 when there is none), sorted.
states() { # NS
	ip -n "$1" xfrm state | awk '
		/^src / { if (s != "") print s, d, p, i; s = $2; d = $4; p = "?"; i = "0x0" }
		/^\tproto esp spi / { p = $4 }
		/^\tif_id / { i = $2 }
		END { if (s != "") print s, d, p, i }' | sort
}
# One line per policy: "DIR SRC DST IF_ID TMPL_SRC TMPL_DST MODE", sorted.
policies() { # NS
	ip -n "$1" xfrm policy | awk '
		function out() { if (dir != "") print dir, s, d, i, ts, td, m }
		/^src / { out(); s = $2; d = $4; dir = ""; i = "0x0"; ts = td = m = "-" }
		/^\tdir / { dir = $2 }
		/^\ttmpl / { ts = $3; td = $5 }
		/^\t\tproto / { for (f = 1; f < NF; f++) if ($f == "mode") m = $(f + 1) }
		/^\tif_id / { i = $2 }
		END { out() }' | sort
}
count() { if [ -z "$1" ]; then echo 0; else wc -l <<<"$1"; fi; }
pkts() { sa_counters "$@" | cut -d' ' -f1; }

# Keys: the salt is part of an AEAD key (RFC 4106, RFC 7634).
gcm128_key() { printf '0x%040x' $((0x5a5a0000 + $1)); }                # 16 + 4
gcm256_key() { printf '0x%056x%016x' $((0x77 + $1)) $((0x99 + $1)); }   # 32 + 4
chacha_key() { printf '0x%056x%016x' $((0xc0 + $1)) $((0xde + $1)); }   # 32 + 4
aes_key() { printf '0x%032x' $((0xae5 + $1)); }                          # 16
sha_key() { printf '0x%048x%016x' $((0x5a + $1)) $((0x256 + $1)); }    # 32

# Peer K behind the gateway, over its own underlay (IPv4 10.0.K.0/24 or
# IPv6 fd00:K::/64), inner addresses 192.168.K.200 and 2001:db8:K::200 on
# lo. Both ends are set up with xfrm-steer: the gateway's SAs and policies
# carry if_id 100+K and the steering routes pick it; the peer's have no
# if_id (classic policy-based IPsec). The rest of the arguments are the
# SA's algorithm (and encap) words.
GWA=() PA=()
xs_peer() { # K OUTER_FAMILY(4|6) SA_WORDS...
	local k=$1 fam=$2 ns ifid=$((100 + $1)) in4="192.168.$1.200" in6="2001:db8:$1::200"
	shift 2
	ns=$(peer_ns "$k")
	if [ "$fam" = 4 ]; then
		GWA[k]=10.0.$k.1 PA[k]=10.0.$k.2
	else
		GWA[k]=fd00:$k::1 PA[k]=fd00:$k::2
	fi
	local gwa=${GWA[k]} pa=${PA[k]} plen=24 nodad=
	[ "$fam" = 6 ] && plen=64 nodad=nodad

	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "ul$k" netns "$GW" type veth peer name ul0 netns "$ns"
	ip -n "$GW" addr add "$gwa/$plen" dev "ul$k" $nodad
	ip -n "$ns" addr add "$pa/$plen" dev ul0 $nodad
	ip -n "$GW" link set "ul$k" up
	ip -n "$ns" link set ul0 up
	ip -n "$ns" addr add "$in4/32" dev lo
	ip -n "$ns" addr add "$in6/128" dev lo nodad

	$XS -n "$GW" sa add src "$gwa" dst "$pa" spi "$(spi_out "$k")" reqid "$k" if_id "$ifid" "$@"
	$XS -n "$GW" sa add src "$pa" dst "$gwa" spi "$(spi_in "$k")" reqid "$k" if_id "$ifid" "$@"
	# No selector: one policy per inner family, both bound to the if_id.
	$XS -n "$GW" policy add dir out if_id "$ifid" tmpl src "$gwa" dst "$pa" reqid "$k"
	$XS -n "$GW" policy add dir in if_id "$ifid" tmpl src "$pa" dst "$gwa" reqid "$k"
	$XS -n "$GW" route add "192.168.$k.0/24" if_id "$ifid" dev ipsec0
	$XS -n "$GW" route add "2001:db8:$k::/64" if_id "$ifid" dev ipsec0

	$XS -n "$ns" sa add src "$gwa" dst "$pa" spi "$(spi_out "$k")" reqid "$k" "$@"
	$XS -n "$ns" sa add src "$pa" dst "$gwa" spi "$(spi_in "$k")" reqid "$k" "$@"
	$XS -n "$ns" policy add dir out src "$in4/32" dst 10.255.0.0/16 \
		tmpl src "$pa" dst "$gwa" reqid "$k"
	$XS -n "$ns" policy add dir in src 10.255.0.0/16 dst "$in4/32" \
		tmpl src "$gwa" dst "$pa" reqid "$k"
	$XS -n "$ns" policy add dir out src "$in6/128" dst fd00:255::/64 \
		tmpl src "$pa" dst "$gwa" reqid "$k"
	$XS -n "$ns" policy add dir in src fd00:255::/64 dst "$in6/128" \
		tmpl src "$gwa" dst "$pa" reqid "$k"
	ip -n "$ns" route add 10.255.0.0/16 dev ul0 src "$in4"
	ip -n "$ns" -6 route add fd00:255::/64 dev ul0 src "$in6"
}

# Ping peer K's inner addresses from the gateway (N4 IPv4, N6 IPv6 echo
# requests) and check every SA on the way counted each packet once.
check_traffic() { # K N4 N6 WHAT
	local k=$1 n4=$2 n6=$3 what=$4 ns n
	ns=$(peer_ns "$k")
	n=$((n4 + n6))
	ip netns exec "$GW" ping -q -c "$n4" -i 0.2 -W 2 "192.168.$k.200" ||
		fail "$what: IPv4 ping to peer $k"
	ip netns exec "$GW" ping -6 -q -c "$n6" -i 0.2 -W 2 "2001:db8:$k::200" ||
		fail "$what: IPv6 ping to peer $k"
	assert_eq "$(pkts "$GW" "${GWA[k]}" "${PA[k]}" "$(spi_out "$k")")" "$n" "$what: gateway SA out packets"
	assert_eq "$(pkts "$ns" "${GWA[k]}" "${PA[k]}" "$(spi_out "$k")")" "$n" "$what: peer SA in packets"
	assert_eq "$(pkts "$ns" "${PA[k]}" "${GWA[k]}" "$(spi_in "$k")")" "$n" "$what: peer SA out packets"
	assert_eq "$(pkts "$GW" "${PA[k]}" "${GWA[k]}" "$(spi_in "$k")")" "$n" "$what: gateway SA in packets"
}

# What the kernel says about one SA.
sa_text() { # NS SRC DST SPI
	ip -n "$1" xfrm state get src "$2" dst "$3" proto esp spi "$4"
}
assert_has() { # TEXT PATTERN WHAT
	grep -qE -- "$2" <<<"$1" || fail "$3: no match for '$2' in: $1"
	echo "ok: $3"
}

# A UDP socket with the UDP_ENCAP_ESPINUDP option on port 4500: the kernel
# hands ESP-in-UDP only to such a socket (an IKE daemon's, normally).
encap_listen() { # NS
	ip netns exec "$1" perl -e '
		use Socket;
		socket(my $s, PF_INET, SOCK_DGRAM, 17) or die "socket: $!";
		setsockopt($s, 17, 100, pack("i", 2)) or die "UDP_ENCAP: $!";
		bind($s, pack_sockaddr_in(4500, INADDR_ANY)) or die "bind: $!";
		sleep 600;' &
	listeners+=($!)
	for _ in $(seq 50); do
		ip netns exec "$1" ss -Hlun 'sport = :4500' | grep -q . && return 0
		sleep 0.1
	done
	fail "no ESP-in-UDP socket in $1"
}
udp_in() { # NS: datagrams UDP took in (ESP-in-UDP included)
	ip netns exec "$1" awk '/^Udp:/ { if (h) { print $2; exit } h = 1 }' /proc/net/snmp
}

# Every ping turns socket timestamps on and off, and with them the
# kernel's netstamp static key, whose live patching of netif_rx() races
# with packets on the other vCPU under qemu TCG ("Oops: int3"). One socket
# holding SO_TIMESTAMP for the whole test keeps the key on: no patching
# while traffic flows.
perl -e 'use Socket; socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
	setsockopt($s, SOL_SOCKET, 29, 1) or die "SO_TIMESTAMP: $!"; sleep 900;' &
listeners+=($!)

step "gateway with an external interface, steered by xfrm-steer"
topo_gateway
$XS -n "$GW" attach dev ipsec0

# The GCM-256 key comes from a file, as it would in production.
printf '%s\n' "$(gcm256_key 2)" >"$tmp/gcm256.key"
chmod 600 "$tmp/gcm256.key"

step "peers: one per algorithm, IPv6 outer, NAT-T"
xs_peer 1 4 aead aes-gcm "$(gcm128_key 1)" 128
xs_peer 2 4 aead 'rfc4106(gcm(aes))' "@$tmp/gcm256.key" 128
xs_peer 3 4 aead chacha20-poly1305 "$(chacha_key 3)" 128 flag esn replay-window 128
xs_peer 4 4 enc aes-cbc "$(aes_key 4)" auth sha256 "$(sha_key 4)"
xs_peer 5 6 aead aes-gcm "$(gcm128_key 5)" 128
xs_peer 6 4 aead aes-gcm "$(gcm128_key 6)" 96 encap espinudp 4500 4500
encap_listen "$GW"
encap_listen "$(peer_ns 6)"
$XS -n "$GW" sa show
$XS -n "$GW" policy show

step "the kernel holds what we asked for"
t=$(sa_text "$GW" 10.0.1.1 10.0.1.2 "$(spi_out 1)")
echo "$t"
assert_has "$t" 'mode tunnel' "GCM-128 SA: tunnel mode"
assert_has "$t" 'reqid 1 ' "GCM-128 SA: reqid"
assert_has "$t" 'replay-window 0 ' "GCM-128 SA: default replay window (none: manual keys)"
assert_has "$t" 'flag .*af-unspec' "GCM-128 SA: af-unspec by default"
assert_has "$t" "aead rfc4106\(gcm\(aes\)\) $(gcm128_key 1) 128" "GCM-128 SA: algorithm, key, ICV"
assert_has "$t" 'if_id 0x65' "GCM-128 SA: if_id 101"
t=$(sa_text "$GW" 10.0.2.1 10.0.2.2 "$(spi_out 2)")
assert_has "$t" "aead rfc4106\(gcm\(aes\)\) $(gcm256_key 2) 128" "GCM-256 SA: key read from the file"
t=$(sa_text "$GW" 10.0.3.1 10.0.3.2 "$(spi_out 3)")
echo "$t"
assert_has "$t" "aead rfc7539esp\(chacha20,poly1305\) $(chacha_key 3) 128" "ChaCha20-Poly1305 SA"
assert_has "$t" 'flag .*esn' "ChaCha20-Poly1305 SA: flag esn"
assert_has "$t" 'replay_window 128' "ChaCha20-Poly1305 SA: ESN replay window 128"
t=$(sa_text "$GW" 10.0.4.1 10.0.4.2 "$(spi_out 4)")
echo "$t"
assert_has "$t" "enc cbc\(aes\) $(aes_key 4)" "CBC SA: cipher and key"
assert_has "$t" "auth-trunc hmac\(sha256\) $(sha_key 4) 128" "CBC SA: HMAC-SHA256 truncated to 128 bits"
t=$(sa_text "$GW" fd00:5::1 fd00:5::2 "$(spi_out 5)")
assert_has "$t" '^src fd00:5::1 dst fd00:5::2' "IPv6 outer SA"
t=$(sa_text "$GW" 10.0.6.1 10.0.6.2 "$(spi_out 6)")
echo "$t"
assert_has "$t" 'encap type espinudp sport 4500 dport 4500' "NAT-T SA: encap"
assert_has "$t" "$(gcm128_key 6) 96" "NAT-T SA: ICV 96"
gw_states=$(states "$GW")
assert_eq "$(count "$gw_states")" 12 "gateway SAs"
assert_eq "$(grep -c ' 0x6[5-9a]$' <<<"$gw_states")" 12 "gateway SAs with if_id 101..106"
assert_eq "$(states "$(peer_ns 1)" | awk '{print $4}' | sort -u)" 0x0 "peer SAs have no if_id"
gw_pols=$(policies "$GW")
echo "$gw_pols"
assert_eq "$(count "$gw_pols")" 24 "gateway policies: in and out, IPv4 and IPv6, 6 peers"
assert_eq "$(grep -c '^out 0.0.0.0/0 0.0.0.0/0 0x65 10.0.1.1 10.0.1.2 tunnel$' <<<"$gw_pols")" 1 \
	"IPv4 wildcard out policy of if_id 101"
assert_eq "$(grep -c '^in ::/0 ::/0 0x69 fd00:5::2 fd00:5::1 tunnel$' <<<"$gw_pols")" 1 \
	"IPv6 wildcard in policy of if_id 105 over IPv6"

step "GCM-128: IPv4 and IPv6 inner over IPv4 outer"
check_traffic 1 3 2 "GCM-128"
step "GCM-256, key from a file"
check_traffic 2 3 1 "GCM-256"
step "ChaCha20-Poly1305 with ESN"
check_traffic 3 2 2 "ChaCha20-Poly1305"
step "AES-CBC + HMAC-SHA256"
check_traffic 4 2 2 "CBC+HMAC-SHA256"
step "IPv6 outer: IPv4 and IPv6 inner"
check_traffic 5 3 2 "IPv6 outer"
step "NAT-T: ESP in UDP 4500 both ways"
u_gw=$(udp_in "$GW") u_p=$(udp_in "$(peer_ns 6)")
check_traffic 6 2 2 "NAT-T"
# Plain ESP would have carried the pings too; UDP's own counters say the
# ESP went in UDP, each packet once, both ways.
assert_eq "$(($(udp_in "$(peer_ns 6)") - u_p))" 4 "NAT-T: ESP-in-UDP datagrams the peer took in"
assert_eq "$(($(udp_in "$GW") - u_gw))" 4 "NAT-T: ESP-in-UDP datagrams the gateway took in"

step "show: records, formats, counters equal the kernel's; keys only on request"
j=$(xsj "$GW" sa show)
assert_eq "$(jq length <<<"$j")" 12 "sa show: 12 SAs"
r=$(jq -c '.[] | select(.spi == "0x00001004" and .src == "10.0.4.1")' <<<"$j")
echo "$r"
assert_eq "$(jq -r '[.dst, .if_id, .reqid, .mode, .enc.name, .auth.name, .auth.trunc_bits] | join(" ")' <<<"$r")" \
	"10.0.4.2 104 4 tunnel cbc(aes) hmac(sha256) 128" "sa show: CBC SA record"
read -r p b <<<"$(sa_counters "$GW" 10.0.4.1 10.0.4.2 "$(spi_out 4)")"
assert_eq "$(jq -r '"\(.packets) \(.bytes)"' <<<"$r")" "$p $b" "sa show: counters equal ip -s xfrm state"
r=$(jq -c '.[] | select(.spi == "0x00001006" and .src == "10.0.6.1")' <<<"$j")
assert_eq "$(jq -c .encap <<<"$r")" '{"type":"espinudp","sport":4500,"dport":4500}' "sa show: NAT-T encap"
assert_eq "$(jq -c .flags <<<"$r")" '["af-unspec"]' "sa show: flags"
assert_eq "$(jq '[.. | .key? // empty] | length' <<<"$j")" 0 "sa show without -s: no keys"
$XS -n "$GW" sa show | grep -qF -- "$(gcm256_key 2)" && fail "sa show (text) without -s shows a key"
k=$($XS -n "$GW" -j --show-keys sa show if_id 102 | jq -r '.[0].aead.key')
assert_eq "$k" "$(gcm256_key 2)" "sa show --show-keys: the key"
assert_eq "$(xsj "$GW" --show-keys sa show if_id 104 | jq -r '.[0].auth.key')" "$(sha_key 4)" \
	"sa show --show-keys: auth key"
$XS -n "$GW" --show-keys sa show if_id 104 | grep -q -- "$(sha_key 4)" ||
	fail "sa show --show-keys (text) lacks the key"
$XS -n "$GW" -s sa show if_id 104 | grep -q -- "$(sha_key 4)" && fail "sa show -s (text) shows a key"
assert_eq "$(xsj "$GW" -s sa show if_id 104 | jq -r '.[0].auth.key')" null "sa show -s -j: no key"
# SPIs come back as 0x%08x whatever way they went in; if_ids in decimal.
$XS -n "$GW" sa add src 10.0.1.1 dst 10.0.1.2 spi 70000 if_id 0x1ff aead aes-gcm "$(gcm128_key 9)" 128
assert_eq "$(xsj "$GW" sa show if_id 511 | jq -r '.[0] | "\(.spi) \(.if_id)"')" "0x00011170 511" \
	"decimal spi and hex if_id, as shown"
$XS -n "$GW" sa del src 10.0.1.1 dst 10.0.1.2 spi 0x11170
p=$(xsj "$GW" policy show if_id 105 dir in)
assert_eq "$(jq -c '[.[] | [.src, .dst, .tmpl[0].src, .tmpl[0].dst, .tmpl[0].mode, .tmpl[0].reqid]]' <<<"$p")" \
	'[["0.0.0.0/0","0.0.0.0/0","fd00:5::2","fd00:5::1","tunnel",5],["::/0","::/0","fd00:5::2","fd00:5::1","tunnel",5]]' \
	"policy show if_id 105 dir in"
$XS -n "$GW" policy show if_id 105

step "sa del removes exactly the SA it names"
before=$(states "$GW")
assert_fails "sa del with the wrong src" \
	"$XS" -n "$GW" sa del src 10.0.9.9 dst 10.0.1.2 spi "$(spi_out 1)"
assert_fails "sa del with the wrong if_id" \
	"$XS" -n "$GW" sa del src 10.0.1.1 dst 10.0.1.2 spi "$(spi_out 1)" if_id 102
assert_fails "sa del of an SA that does not exist" \
	"$XS" -n "$GW" sa del src 10.0.1.1 dst 10.0.1.2 spi 0x9999
assert_eq "$(states "$GW")" "$before" "SAs after refused deletes"
$XS -n "$GW" sa del src 10.0.1.1 dst 10.0.1.2 spi "$(spi_out 1)" if_id 101
assert_eq "$(states "$GW")" "$(grep -v "^10.0.1.1 10.0.1.2 0x00001001 " <<<"$before")" \
	"SAs after deleting one"
assert_fails "ping over the deleted SA" ip netns exec "$GW" ping -q -c 1 -W 1 192.168.1.200

step "policy del removes exactly the policies it names"
before=$(policies "$GW")
$XS -n "$GW" policy del dir in src 0.0.0.0/0 if_id 103
assert_eq "$(policies "$GW")" "$(grep -v '^in 0.0.0.0/0 0.0.0.0/0 0x67 ' <<<"$before")" \
	"policies after deleting the IPv4 in policy of if_id 103"
assert_fails "policy del of a deleted policy" \
	"$XS" -n "$GW" policy del dir in src 0.0.0.0/0 if_id 103
assert_fails "policy del with a selector no policy has" \
	"$XS" -n "$GW" policy del dir out src 192.168.0.0/16 if_id 102
assert_fails "policy del without the if_id" "$XS" -n "$GW" policy del dir out
before=$(policies "$GW")
$XS -n "$GW" policy del dir out if_id 102
assert_eq "$(policies "$GW")" "$(grep -v '^out .* 0x66 ' <<<"$before")" \
	"policies after deleting both wildcard out policies of if_id 102"
before=$(policies "$GW")
# Only the IPv6 half is left: del without a selector takes what exists.
$XS -n "$GW" policy del dir in if_id 103
assert_eq "$(policies "$GW")" "$(grep -v '^in ::/0 ::/0 0x67 ' <<<"$before")" \
	"policies after deleting the remaining in policy of if_id 103"

step "flush if_id: that if_id's SAs and policies, nothing else"
before_s=$(states "$GW") before_p=$(policies "$GW")
$XS -n "$GW" sa flush if_id 104
$XS -n "$GW" policy flush if_id 104
assert_eq "$(states "$GW")" "$(grep -v ' 0x68$' <<<"$before_s")" "SAs after sa flush if_id 104"
assert_eq "$(policies "$GW")" "$(grep -v ' 0x68 ' <<<"$before_p")" "policies after policy flush if_id 104"
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 192.168.5.200 || fail "ping over if_id 105 after the flushes"
assert_eq "$(pkts "$GW" fd00:5::1 fd00:5::2 "$(spi_out 5)")" 7 "if_id 105 still carries traffic"

step "flush: everything of the namespace, and only of it"
peer_before=$(states "$(peer_ns 1)")
$XS -n "$GW" sa flush
$XS -n "$GW" policy flush
assert_eq "$(count "$(states "$GW")")" 0 "gateway SAs after sa flush"
assert_eq "$(count "$(policies "$GW")")" 0 "gateway policies after policy flush"
assert_eq "$(states "$(peer_ns 1)")" "$peer_before" "peer 1's SAs untouched"
assert_eq "$(xsj "$GW" sa show)" "[]" "sa show on an empty table"

step "transport mode, host to host"
ta=$NSP-ta tb=$NSP-tb
ip netns add "$ta"
ip netns add "$tb"
ip link add tr0 netns "$ta" type veth peer name tr0 netns "$tb"
ip -n "$ta" addr add 10.1.0.1/24 dev tr0
ip -n "$tb" addr add 10.1.0.2/24 dev tr0
ip -n "$ta" link set tr0 up
ip -n "$tb" link set tr0 up
for ns in "$ta" "$tb"; do
	$XS -n "$ns" sa add src 10.1.0.1 dst 10.1.0.2 spi 0x3001 mode transport \
		aead aes-gcm "$(gcm128_key 31)" 128
	$XS -n "$ns" sa add src 10.1.0.2 dst 10.1.0.1 spi 0x3002 mode transport \
		aead aes-gcm "$(gcm128_key 32)" 128
done
$XS -n "$ta" policy add dir out src 10.1.0.1/32 dst 10.1.0.2/32 \
	tmpl src 10.1.0.1 dst 10.1.0.2 mode transport
$XS -n "$ta" policy add dir in src 10.1.0.2/32 dst 10.1.0.1/32 \
	tmpl src 10.1.0.2 dst 10.1.0.1 mode transport
$XS -n "$tb" policy add dir out src 10.1.0.2/32 dst 10.1.0.1/32 \
	tmpl src 10.1.0.2 dst 10.1.0.1 mode transport
$XS -n "$tb" policy add dir in src 10.1.0.1/32 dst 10.1.0.2/32 \
	tmpl src 10.1.0.1 dst 10.1.0.2 mode transport
t=$(sa_text "$ta" 10.1.0.1 10.1.0.2 0x3001)
assert_has "$t" 'mode transport' "transport SA"
assert_eq "$(policies "$ta")" "$(printf '%s\n' \
	'in 10.1.0.2/32 10.1.0.1/32 0x0 10.1.0.2 10.1.0.1 transport' \
	'out 10.1.0.1/32 10.1.0.2/32 0x0 10.1.0.1 10.1.0.2 transport')" "transport policies"
ip netns exec "$ta" ping -q -c 3 -i 0.2 -W 2 10.1.0.2
assert_eq "$(pkts "$ta" 10.1.0.1 10.1.0.2 0x3001)" 3 "transport: A's out SA"
assert_eq "$(pkts "$tb" 10.1.0.1 10.1.0.2 0x3001)" 3 "transport: B's in SA"
assert_eq "$(pkts "$tb" 10.1.0.2 10.1.0.1 0x3002)" 3 "transport: B's out SA"
assert_eq "$(pkts "$ta" 10.1.0.2 10.1.0.1 0x3002)" 3 "transport: A's in SA"

step "bad input: one Error line, non-zero exit, nothing added"
# The parser's refusals are covered on the host (tests/unit/test_xfrm.c);
# these are the ones that matter most, and those only the kernel finds.
bad=$NSP-bad
ip netns add "$bad"
$XS -n "$bad" sa add src 10.9.0.1 dst 10.9.0.2 spi 0x5000 aead aes-gcm "$(gcm128_key 50)" 128
$XS -n "$bad" policy add dir out dst ::/0 if_id 300 tmpl src 10.9.0.1 dst 10.9.0.2
s0=$(states "$bad") p0=$(policies "$bad")
secret=0x00112233445566778899aabbccddeeff
# refuse WHAT EXPECTED_MESSAGE_PART ARGS...
refuse() {
	local what=$1 want=$2 out rc=0
	shift 2
	out=$("$XS" -n "$bad" "$@" 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "$what: exit status 0"
	[ "$(grep -c . <<<"$out")" -eq 1 ] || fail "$what: not one line of output"
	grep -q "^Error: " <<<"$out" || fail "$what: no Error line"
	grep -qF -- "$want" <<<"$out" || fail "$what: the message lacks '$want'"
	grep -qi "00112233" <<<"$out" && fail "$what: the message shows the key"
	assert_eq "$(states "$bad")" "$s0" "$what: SAs unchanged"
	assert_eq "$(policies "$bad")" "$p0" "$what: policies unchanged"
}
sa="sa add src 10.9.0.1 dst 10.9.0.2 spi 0x5001"
# shellcheck disable=SC2086 # $sa is words
{
	refuse "bad hex key" "aead key: not a hex number" $sa aead aes-gcm 0x00112233zz 128
	refuse "key without 0x" "aead key: expected 0x" $sa aead aes-gcm 00112233445566778899 128
	refuse "GCM key of 16 bytes" "needs 20, 28 or 36 bytes" $sa aead aes-gcm "$secret" 128
	refuse "ChaCha20 key without salt" "needs 36 bytes" $sa aead chacha20-poly1305 \
		"${secret}${secret#0x}" 128
	refuse "short HMAC key" "auth key for hmac(sha256) is 16 bytes" $sa enc aes "$secret" \
		auth sha256 "$secret"
	refuse "unknown algorithm" 'unknown aead algorithm "aes-ocb"' $sa aead aes-ocb "$secret" 128
	# A key where another word belongs is not echoed either.
	refuse "forgotten algorithm name" "the NAME is missing" $sa aead "${secret}0011" 128 \
		encap espinudp 4500 4500
	refuse "a key too many" 'unknown argument (value not shown: it looks like key material)' $sa \
		aead aes-gcm "$(gcm128_key 1)" 128 "${secret}0011"
	refuse "missing key file" "cannot open key file \"$tmp/nope\"" $sa aead aes-gcm "@$tmp/nope" 128
	refuse "family mismatch" "src 10.9.0.1 is IPv4 but dst 2001:db8::2 is IPv6" \
		sa add src 10.9.0.1 dst 2001:db8::2 spi 0x5001 aead aes-gcm "$(gcm128_key 1)" 128
	refuse "reserved SPI" "spi 0x00000010 is reserved" \
		sa add src 10.9.0.1 dst 10.9.0.2 spi 16 aead aes-gcm "$(gcm128_key 1)" 128
	refuse "SA that exists" "exists already" \
		sa add src 10.9.0.1 dst 10.9.0.2 spi 0x5000 aead aes-gcm "$(gcm128_key 1)" 128
	refuse "transport policy across families" "must be of the selector's family" \
		policy add dir out dst 2001:db8::/32 tmpl src 10.9.0.1 dst 10.9.0.2 mode transport
	# The IPv6 wildcard out policy of if_id 300 exists: adding both
	# families fails on it, and the IPv4 one added first is taken back.
	refuse "policy pair whose second half exists" "exists already" \
		policy add dir out if_id 300 tmpl src 10.9.0.1 dst 10.9.0.2
}
out=$("$XS" -n "$bad" -j sa add src 10.9.0.1 dst 10.9.0.2 spi 0x5001 aead aes-gcm "$secret" 128 2>/dev/null) &&
	fail "-j bad key: exit status 0"
assert_eq "$(jq -r 'has("error")' <<<"$out")" true "-j: the error as JSON"
assert_eq "$(grep -c 00112233 <<<"$out" || true)" 0 "-j: the error does not show the key"
