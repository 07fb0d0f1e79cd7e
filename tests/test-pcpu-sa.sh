#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Per-CPU SAs (RFC 9611, XFRMA_SA_PCPU, Linux 6.13+): one tunnel (one if_id)
# with one outbound SA per CPU, made with "xfrm-steer sa add ... pcpu N",
# and a peer that answers through per-CPU SAs of its own, so the gateway
# decrypts with several inbound SAs too. Pings pinned to each CPU (taskset)
# must go out through that CPU's SA (the kernel's per-SA counters), and then
# what xfrm-steer counts must equal the sums over the kernel's SAs:
# "stats" (tx and rx of the if_id), "secpath show" (one record per inbound
# SA), "underlay show" (ESP per SPI before decryption). "sa show" names each
# SA's CPU; "tunnel show" lists a tunnel's other SAs and calls it broken
# while a CPU has no SA to send through; the daemon calls the tunnel up only while every CPU has an SA to
# send through (its own, or one without a CPU). On a kernel without the
# feature, "sa add ... pcpu" refuses (the kernel would ignore the CPU) and
# this test is skipped.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

DPID=
pcpu_cleanup() {
	[ -z "$DPID" ] || kill "$DPID" 2>/dev/null || true
	$XS -n "$GW" underlay detach dev ul1 2>/dev/null || true
	topo_cleanup
}
trap pcpu_cleanup EXIT

KEY_OUT=$(peer_key 1) # gateway -> peer, every SA of that direction
KEY_IN=$(peer_key 2)  # peer -> gateway
GWA=10.0.1.1
PA=10.0.1.2
pcpu_out() { printf '0x%x' $((0x1100 + $1)); } # gateway -> peer, CPU N
pcpu_in() { printf '0x%x' $((0x2100 + $1)); }  # peer -> gateway, CPU N
FALLBACK=0x1200 # gateway -> peer, no CPU

step "does the kernel make per-CPU SAs?"
ip netns add "$NSP-probe"
if ! out=$($XS -n "$NSP-probe" sa add src 10.9.9.1 dst 10.9.9.2 spi 0x999 dir out pcpu 0 \
	aead aes-gcm "$KEY_OUT" 128 2>&1); then
	ip netns del "$NSP-probe"
	echo "$out"
	# Before 6.10 the kernel skips dir as well, and that is found first.
	grep -qE "ignores (pcpu|dir)" <<<"$out" || fail "sa add pcpu failed otherwise: $out"
	[ "$(wc -l <<<"$out")" -eq 1 ] || fail "more than one line: $out"
	skip "per-CPU SAs need Linux 6.13 (XFRMA_SA_PCPU)"
fi
assert_eq "$(xsj "$NSP-probe" sa show | jq -c '[.[].pcpu]')" "[0]" "pcpu of the probe SA"
ip netns del "$NSP-probe"

NCPU=$(nproc)
[ "$NCPU" -ge 2 ] || skip "per-CPU SAs need 2 CPUs to tell them apart, this VM has $NCPU (XS_VM_CPUS)"
echo "CPUs: $NCPU"

step "bad input changes nothing"
ip netns add "$NSP-probe"
sa_probe() { $XS -n "$NSP-probe" sa add src 10.9.9.1 dst 10.9.9.2 spi 0x999 "$@" aead aes-gcm "$KEY_OUT" 128; }
assert_fails "pcpu beyond the possible CPUs" sa_probe dir out pcpu 4096
assert_fails "pcpu not a number" sa_probe dir out pcpu one
assert_fails "pcpu without dir" sa_probe pcpu 0
out=$(sa_probe pcpu 0 2>&1) || true
grep -q "pcpu needs dir in or dir out" <<<"$out" || fail "pcpu without dir: $out"
assert_fails "dir out with a replay window" sa_probe dir out pcpu 0 replay-window 32
assert_eq "$(ip -n "$NSP-probe" xfrm state | grep -c '^src' || true)" 0 "SAs left"
ip netns del "$NSP-probe"

step "topology: one tunnel, if_id 101, one SA per CPU each way"
topo_gateway
$XS -n "$GW" attach dev ipsec0 tenant-key none
topo_peer_link 1 192.168.1.200 2001:db8:1::200
P=$(peer_ns 1)
for ((c = 0; c < NCPU; c++)); do
	$XS -n "$GW" sa add src $GWA dst $PA spi "$(pcpu_out $c)" reqid 1 if_id 101 dir out pcpu $c \
		aead aes-gcm "$KEY_OUT" 128
	$XS -n "$GW" sa add src $PA dst $GWA spi "$(pcpu_in $c)" reqid 1 if_id 101 \
		aead aes-gcm "$KEY_IN" 128
	$XS -n "$P" sa add src $GWA dst $PA spi "$(pcpu_out $c)" reqid 1 aead aes-gcm "$KEY_OUT" 128
	$XS -n "$P" sa add src $PA dst $GWA spi "$(pcpu_in $c)" reqid 1 dir out pcpu $c \
		aead aes-gcm "$KEY_IN" 128
done
for sel in 0.0.0.0/0 ::/0; do
	for dir in out in fwd; do
		if [ $dir = out ]; then t="src $GWA dst $PA"; else t="src $PA dst $GWA"; fi
		ip -n "$GW" xfrm policy add dir $dir src $sel dst $sel if_id 101 \
			tmpl $t proto esp reqid 1 mode tunnel
	done
done
ip -n "$P" xfrm policy add dir out src 192.168.1.200/32 dst 10.255.0.0/16 \
	tmpl src $PA dst $GWA proto esp reqid 1 mode tunnel
ip -n "$P" xfrm policy add dir in src 10.255.0.0/16 dst 192.168.1.200/32 \
	tmpl src $GWA dst $PA proto esp reqid 1 mode tunnel
ip -n "$P" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" underlay attach dev ul1
$XS -n "$GW" sa show

step "sa show names each SA's CPU, as the kernel has it"
assert_eq "$(xsj "$GW" sa show | jq -c "[.[] | select(.dst == \"$PA\") | .pcpu] | sort")" \
	"$(jq -cn "[range($NCPU)]")" "pcpu of the outbound SAs"
assert_eq "$(xsj "$GW" sa show | jq -c "[.[] | select(.dst == \"$GWA\") | .pcpu] | unique")" \
	"[null]" "pcpu of the inbound SAs (none)"
assert_eq "$(xsj "$GW" sa show | jq -c "[.[] | select(.dst == \"$PA\") | .dir] | unique")" \
	'["out"]' "dir of the outbound SAs"
$XS -n "$GW" sa show | head -1 | grep -qw PCPU || fail "no PCPU column in sa show"
for ((c = 0; c < NCPU; c++)); do
	ip -n "$GW" -d xfrm state get src $GWA dst $PA proto esp spi "$(pcpu_out $c)" >/dev/null
done

# The kernel's counters: per SA, and summed over a direction of the tunnel.
gw_out() { sa_counters "$GW" $GWA $PA "$1"; }
gw_in() { sa_counters "$GW" $PA $GWA "$1"; }
sum_kernel() { # DST: "PACKETS BYTES" over the gateway's SAs towards DST
	ip -n "$GW" -s xfrm state | awk -v d="$1" '
		/^src / { mine = ($4 == d) }
		mine && /lifetime current:/ { getline; gsub(/[(),a-z]/, " "); b += $1; p += $2 }
		END { print p + 0, b + 0 }'
}
tun() { xsj "$GW" stats dev ipsec0 if_id 101 | jq -r ".[0] | \"\(.$1_packets) \(.$1_bytes)\""; }
ping_on() { # CPU COUNT
	ip netns exec "$GW" taskset -c "$1" ping -q -c "$2" -i 0.2 -W 2 192.168.1.200 >/dev/null && return
	ip -n "$GW" -s xfrm state
	ip netns exec "$GW" awk '$2 != 0' /proc/net/xfrm_stat
	ip -n "$P" -s xfrm state | grep -E '^src|spi|packets|lifetime current' -A1
	ip netns exec "$P" awk '$2 != 0' /proc/net/xfrm_stat
	$XS -n "$GW" stats drops
	fail "ping from CPU $1 got no answer"
}

step "pings pinned to each CPU go out through that CPU's SA"
for ((c = 0; c < NCPU; c++)); do
	ping_on $c $((c + 2))
done
total=0
for ((c = 0; c < NCPU; c++)); do
	assert_eq "$(gw_out "$(pcpu_out $c)" | cut -d' ' -f1)" $((c + 2)) "packets of CPU $c's SA $(pcpu_out $c)"
	total=$((total + c + 2))
done
# The replies: the peer answers on the CPU that received, through its SA.
rx_spread=0
for ((c = 0; c < NCPU; c++)); do
	n=$(gw_in "$(pcpu_in $c)" | cut -d' ' -f1)
	echo "inbound SA $(pcpu_in $c) (peer's CPU $c): $n packets"
	[ "$n" -gt 0 ] && rx_spread=$((rx_spread + 1))
done
assert_ge "$rx_spread" 2 "inbound SAs that decrypted replies"

step "stats: the tunnel's counters are the sums over its SAs"
assert_eq "$(tun tx)" "$(sum_kernel $PA)" "tx packets and bytes vs the outbound SAs"
assert_eq "$(tun tx | cut -d' ' -f1)" "$total" "tx packets vs pings sent"
assert_eq "$(tun rx)" "$(sum_kernel $GWA)" "rx packets and bytes vs the inbound SAs"
$XS -n "$GW" stats

step "secpath show: one record per inbound SA, with its counters"
sp=$(xsj "$GW" secpath show dev ipsec0 if_id 101)
$XS -n "$GW" secpath show
nrec=0
for ((c = 0; c < NCPU; c++)); do
	spi=$(printf '0x%08x' $((0x2100 + c)))
	read -r p b <<<"$(gw_in "$(pcpu_in $c)")"
	row=$(jq -c ".[] | select(.spi == \"$spi\")" <<<"$sp")
	if [ "$p" -eq 0 ]; then
		[ -z "$row" ] || fail "a record for SPI $spi, which decrypted nothing: $row"
		continue
	fi
	assert_eq "$(jq -r '"\(.if_id) \(.peer) \(.sa) \(.packets) \(.bytes)"' <<<"$row")" \
		"101 $PA present $p $b" "secpath record of SPI $spi"
	nrec=$((nrec + 1))
done
assert_eq "$(jq length <<<"$sp")" "$nrec" "secpath records"

step "underlay: ESP per SPI equals each inbound SA's packets"
$XS -n "$GW" underlay show dev ul1
for ((c = 0; c < NCPU; c++)); do
	spi=$(printf '0x%08x' $((0x2100 + c)))
	p=$(gw_in "$(pcpu_in $c)" | cut -d' ' -f1)
	assert_eq "$(xsj "$GW" underlay show dev ul1 |
		jq -r --arg s "$spi" '[.[] | select(.spi == $s and .sa == "present") | .packets] | add // 0')" \
		"$p" "ESP packets of SPI $spi on ul1"
done

step "one CPU loses its SA: the daemon calls the tunnel down, a fallback SA brings it up"
$XS -n "$GW" daemon dev ipsec0 >"/tmp/$NSP-daemon.log" 2>&1 &
DPID=$!
last=$((NCPU - 1))
# The state the daemon last wrote (its lines "... if_id 101: up|down ...").
health() {
	for _ in $(seq 50); do
		h=$(grep -o ' if_id 101: [a-z]*' "/tmp/$NSP-daemon.log" | tail -n1 | awk '{print $3}')
		[ "$h" = "$1" ] && break
		sleep 0.1
	done
	echo "${h:-none}"
}
sleep 1.5
grep -q 'if_id 101: down' "/tmp/$NSP-daemon.log" && fail "down with an SA for every CPU: $(cat "/tmp/$NSP-daemon.log")"
# What the SA has counted goes with it: keep it for the sums below.
read -r gone_p gone_b <<<"$(gw_out "$(pcpu_out $last)")"
$XS -n "$GW" sa del src $GWA dst $PA spi "$(pcpu_out $last)"
assert_eq "$(health down)" down "health without an SA for CPU $last"
grep -q "if_id 101: down (no outbound SA for CPU $last)" "/tmp/$NSP-daemon.log" ||
	fail "the daemon does not name the CPU: $(cat "/tmp/$NSP-daemon.log")"
$XS -n "$P" sa add src $GWA dst $PA spi $FALLBACK reqid 1 aead aes-gcm "$KEY_OUT" 128
$XS -n "$GW" sa add src $GWA dst $PA spi $FALLBACK reqid 1 if_id 101 aead aes-gcm "$KEY_OUT" 128
assert_eq "$(health up)" up "health with a fallback SA"
cat "/tmp/$NSP-daemon.log"

step "the fallback carries CPU $last's traffic; the sums still hold"
f0=$(gw_out $FALLBACK | cut -d' ' -f1)
ping_on $last 3
assert_eq "$(($(gw_out $FALLBACK | cut -d' ' -f1) - f0))" 3 "packets of the fallback SA from CPU $last"
# CPU 0 keeps its own SA, though the fallback is newer and now cached on
# the policy too.
c0=$(gw_out "$(pcpu_out 0)" | cut -d' ' -f1)
ping_on 0 2
assert_eq "$(($(gw_out "$(pcpu_out 0)" | cut -d' ' -f1) - c0))" 2 "packets of CPU 0's SA"
# A new SA for CPU $last takes its traffic over from the fallback at once
# (the kernel does not keep sending through the SA it used before).
NEWSPI=$(printf '0x%x' $((0x1100 + NCPU)))
$XS -n "$P" sa add src $GWA dst $PA spi "$NEWSPI" reqid 1 aead aes-gcm "$KEY_OUT" 128
$XS -n "$GW" sa add src $GWA dst $PA spi "$NEWSPI" reqid 1 if_id 101 dir out pcpu $last \
	aead aes-gcm "$KEY_OUT" 128
f0=$(gw_out $FALLBACK | cut -d' ' -f1)
ping_on $last 2
assert_eq "$(gw_out "$NEWSPI" | cut -d' ' -f1) $(($(gw_out $FALLBACK | cut -d' ' -f1) - f0))" \
	"2 0" "packets of CPU $last's new SA, of the fallback"
read -r kp kb <<<"$(sum_kernel $PA)"
assert_eq "$(tun tx)" "$((kp + gone_p)) $((kb + gone_b))" \
	"tx packets and bytes vs the outbound SAs (fallback and deleted SA included)"
assert_eq "$(tun rx)" "$(sum_kernel $GWA)" "rx packets and bytes vs the inbound SAs"

step "tunnel show: a named tunnel's other SAs, and whether every CPU can send"
$XS -n "$GW" tunnel add t2 if_id 102 local 10.0.2.1 remote 10.0.2.2 spi-in 0x2002 \
	spi-out 0x1002 reqid 2 aead aes-gcm "$KEY_IN" 128 out-key "$KEY_OUT" \
	prefix 192.168.2.0/24 dev ipsec0
tstate() { xsj "$GW" tunnel show t2 | jq -r '.[0].state + " " + (.[0].missing | join(","))'; }
$XS -n "$GW" sa add src 10.0.2.1 dst 10.0.2.2 spi 0x3000 reqid 2 if_id 102 dir out pcpu 0 \
	aead aes-gcm "$KEY_OUT" 128
assert_eq "$(xsj "$GW" tunnel show t2 | jq -c '.[0].other_sas | map([.spi, .dir, .pcpu])')" \
	'[["0x00003000","out",0]]' "t2's other SAs"
assert_eq "$(xsj "$GW" tunnel show t2 | jq -c '.[0].sa_out.pcpu')" null "pcpu of t2's own outbound SA"
assert_eq "$(tstate)" "ready " "t2 with its SA pair and a per-CPU SA"
$XS -n "$GW" tunnel show t2 | grep -q '^  sa out spi 0x00003000  pcpu 0  packets 0' ||
	fail "text view of the per-CPU SA: $($XS -n "$GW" tunnel show t2)"
$XS -n "$GW" sa del src 10.0.2.1 dst 10.0.2.2 spi 0x1002
assert_eq "$(tstate)" "broken sa_out cpu 1" "t2 without its own outbound SA, CPU 0's left"
for ((c = 1; c < NCPU; c++)); do
	$XS -n "$GW" sa add src 10.0.2.1 dst 10.0.2.2 spi $((0x3000 + c)) reqid 2 if_id 102 \
		dir out pcpu $c aead aes-gcm "$KEY_OUT" 128
done
assert_eq "$(tstate)" "ready " "t2 with an outbound SA for every CPU"
$XS -n "$GW" tunnel show t2
$XS -n "$GW" sa del src 10.0.2.1 dst 10.0.2.2 spi 0x3000
assert_eq "$(tstate)" "broken sa_out cpu 0" "t2 without CPU 0's SA"
echo "PASS"
