#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The path benchmark of "make bench" (issue 16, item 3): CPU time per packet
# of a UDP flood sent from a gateway through IPsec, for four ways of
# choosing the tunnel, with the same SAs and the same traffic, in the test
# VM (scripts/vmtest.sh: real 6.12 kernel with the kfunc and ESP, under
# qemu TCG: only ratios mean anything).
#
# One namespace per tunnel count N, and a second one for the N classic
# interfaces, so that the other variants do not pay for N more devices
# (a lookup by ifindex walks a 256-bucket hash). The underlay is dummy0 (it drops what
# it sends; the peers are behind one next hop, 10.0.0.2, as behind a real
# gateway's router). Tunnel k (1..N) is an ESP SA (tunnel mode, reqid k,
# if_id k) to peer(k) and an out policy 0.0.0.0/0 with if_id k; its inner
# prefix is 11.0.0.0 + k * 256 /24 (bench/gen-tunnels.awk's numbering). The
# sender (bench/path_send) runs in the gateway namespace and picks the
# variant with its socket mark (ip rule fwmark -> table):
#   xfrm-steer  mark 1: one route 11.0.0.0/8 dev ipsec0 (external), the tc
#               programs attached, N steering routes in their maps
#   lwt         mark 2: N routes "PREFIX dev ipsec0 encap xfrm if_id k" on
#               the same external interface, no programs
#   classic     mark 3: N xfrm interfaces xfsK (if_id k), N routes into them
#   policy      mark 4: no interface: the route goes to the underlay and an
#               out policy per tunnel (dst PREFIX, no if_id) picks a second
#               set of SAs (the same peers, algorithms and keys; SPIs and
#               reqids of their own, as an SA without if_id cannot share
#               them); present only while this variant is measured
#   baseline    mark 5: no IPsec, N routes 21.0.0.0 + k * 256 /24 via the
#               underlay: what spreading over N destinations and routes
#               costs without xfrm (the emulator's and the FIB's part)
#   xfrm-steer-via  mark 6: as xfrm-steer, but the one route goes through a
#               next hop, 11.0.0.0/8 via 169.254.0.1 dev ipsec0 onlink: all
#               its traffic shares one neighbour entry instead of one per
#               inner destination (a route without gateway makes those)
#   lwt-via     mark 7: as lwt, each route "PREFIX via 169.254.0.1 dev
#               ipsec0 onlink encap xfrm if_id k"
#   classic-via mark 8: as classic, each route "PREFIX via 169.254.0.1 dev
#               xfsK onlink" (one neighbour entry per interface)
# Crypto: null (ecb(cipher_null) + digest_null: everything but crypto) and
# gcm (rfc4106(gcm(aes)), 128-bit key, 16-byte ICV). Traffic: spread
# (packet i to tunnel i mod N + 1) and one (every packet to tunnel 1).
#
# Usage: bench/bench-path.sh RESULTS.tsv
# Lines: path, N, variant/crypto/traffic, metric (cpu, sys, wall: us per
# packet; neigh: IPv4 neighbour entries in the namespace after the runs),
# run, value; bench/bench-path-report.sh makes the table and JSON.
#
# XS_BENCH_PATH_N        tunnel counts (default "1 1000 10000")
# XS_BENCH_PATH_PACKETS  measured packets per run (default 4000)
# XS_BENCH_PATH_RUNS     runs per figure (default 3; the median is reported)
# XS_BENCH_PATH_PERF     a directory: also record a kernel profile (perf,
#                        cpu-clock) of each variant's spread and one-tunnel
#                        traffic at the largest N, null crypto, there
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_TSV=${1:?usage: bench/bench-path.sh RESULTS.tsv}
XS=${XS_BIN:-$PWD/build/xfrm-steer}
SEND=${XS_PATH_SEND:-$PWD/build/bench/path_send}
NS_LIST=${XS_BENCH_PATH_N:-1 1000 10000}
PACKETS=${XS_BENCH_PATH_PACKETS:-4000}
RUNS=${XS_BENCH_PATH_RUNS:-3}
PERF_DIR=${XS_BENCH_PATH_PERF:-}
W=$(mktemp -d /tmp/xs-path.XXXXXX)
NS=xspath
NSC=xspath-c # the classic interfaces: ifindex lookups walk every device
MNS=$NS # where measure() and profile() send
LOCAL=10.0.0.1
VIA=169.254.0.1 # the next hop of the *-via variants (ipsec0 is NOARP)

die() {
	echo "bench-path: $*" >&2
	exit 1
}

cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	ip netns del "$NSC" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "must run as root (in the VM: scripts/vmtest.sh -- $0)"
[ -x "$XS" ] || die "$XS not built (make)"
[ -x "$SEND" ] || die "$SEND not built (make $SEND)"
[ -z "$PERF_DIR" ] || command -v perf >/dev/null || die "perf not installed"
: >"$OUT_TSV"

record() { # TABLE N SUBJECT METRIC RUN VALUE
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT_TSV"
}

# awk programs writing ip -batch files for N tunnels; as gen-tunnels.awk.
AWK_COMMON='
function peer(k,   i) {
	i = (k * 40503) % 4194304
	return sprintf("10.%d.%d.%d", 64 + int(i / 65536), int(i / 256) % 256, i % 256)
}
function prefix(b, k) {
	return sprintf("%d.%d.%d.0/24", b + int(k / 65536), int(k / 256) % 256, k % 256)
}
function key(k, dir) {
	return sprintf("0x%08x%08x%08x%08x%08x", k, dir, k * 7 + 1, dir * 13 + 5, k)
}
function alg(k) {
	if (crypto == "gcm")
		return sprintf("aead rfc4106(gcm(aes)) %s 128", key(k, 2))
	return "enc ecb(cipher_null) \"\" auth digest_null \"\""
}'

gen() { # FORM N [CRYPTO]
	awk -v n="$2" -v form="$1" -v crypto="${3:-}" -v local="$LOCAL" -v via="$VIA" "$AWK_COMMON"'
BEGIN {
	for (k = 1; k <= n; k++) {
		if (form == "sa")
			printf "xfrm state add src %s dst %s proto esp spi 0x%08x reqid %d mode tunnel if_id %d %s\n",
				local, peer(k), 268435456 + k, k, k, alg(k)
		else if (form == "sa-policy")
			printf "xfrm state add src %s dst %s proto esp spi 0x%08x reqid %d mode tunnel %s\n",
				local, peer(k), 805306368 + k, 100000 + k, alg(k)
		else if (form == "pol")
			printf "xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir out if_id %d " \
				"tmpl src %s dst %s proto esp reqid %d mode tunnel\n", k, local, peer(k), k
		else if (form == "pol-policy")
			printf "xfrm policy add src 0.0.0.0/0 dst %s dir out " \
				"tmpl src %s dst %s proto esp reqid %d mode tunnel\n",
				prefix(11, k), local, peer(k), 100000 + k
		else if (form == "pol-policy-del")
			printf "xfrm policy delete src 0.0.0.0/0 dst %s dir out\n", prefix(11, k)
		# "encap xfrm" last: iproute2 6.1 drops the words after its
		# if_id (src, table: the route went to main without them).
		else if (form == "lwt")
			printf "route add %s dev ipsec0 src %s table 102 encap xfrm if_id %d\n",
				prefix(11, k), local, k
		else if (form == "lwt-via")
			printf "route add %s via %s dev ipsec0 onlink src %s table 107 encap xfrm if_id %d\n",
				prefix(11, k), via, local, k
		else if (form == "classic") {
			printf "link add xfs%d type xfrm if_id %d\n", k, k
			printf "link set xfs%d up\n", k
		} else if (form == "classic-routes") {
			printf "route add %s dev xfs%d src %s table 103\n", prefix(11, k), k, local
			printf "route add %s via %s dev xfs%d onlink src %s table 108\n",
				prefix(11, k), via, k, local
		}
		else if (form == "baseline")
			printf "route add %s via 10.0.0.2 dev dummy0 src %s table 105\n", prefix(21, k), local
		else if (form == "steer")
			printf "route add %s if_id %d dev ipsec0\n", prefix(11, k), k
	}
}'
}

tx_packets() {
	ip netns exec "$MNS" cat /sys/class/net/dummy0/statistics/tx_packets
}

# neigh_flush NS: deletes NS's IPv4 neighbour entries, the NOARP ones of
# the xfrm interfaces too ("ip neigh flush" keeps NOARP entries).
neigh_flush() {
	ip -4 -n "$1" neigh show nud all |
		awk '$2 == "dev" { print "neigh del " $1 " dev " $3 }' >"$W/neigh-del"
	[ -s "$W/neigh-del" ] || return 0
	# -force: an entry the garbage collector took meanwhile is no error;
	# what counts is that none is left.
	ip -force -n "$1" -batch "$W/neigh-del" 2>/dev/null || true
	[ "$(ip -4 -n "$1" neigh show nud all | wc -l)" -eq 0 ] ||
		die "$1: neighbour entries left after deleting them all"
}

# measure N SUBJECT MARK [-b BASE]: RUNS runs of spread traffic and, for
# N > 1, of traffic to one tunnel; checks that the underlay sent them all.
measure() {
	local n=$1 subject=$2 mark=$3 pattern run out t0 t1 sent errs cpu sys wall neigh
	shift 3
	for pattern in spread one; do
		[ "$pattern" = one ] && [ "$n" -eq 1 ] && continue
		local opt=()
		[ "$pattern" = one ] && opt=(-1)
		# Every variant starts with an empty neighbour table (the IPv4
		# one, its gc_thresh limits, is shared by all namespaces).
		neigh_flush "$NS"
		neigh_flush "$NSC"
		# Warm-up: every tunnel once (SAs, bundles, neighbours, caches).
		ip netns exec "$MNS" "$SEND" -t "$n" -n "$n" -m "$mark" "${opt[@]}" "$@" >/dev/null
		for run in $(seq "$RUNS"); do
			t0=$(tx_packets)
			out=$(ip netns exec "$MNS" "$SEND" -t "$n" -n "$PACKETS" -m "$mark" "${opt[@]}" "$@")
			t1=$(tx_packets)
			read -r sent errs cpu sys wall <<<"$out"
			[ "$errs" -eq 0 ] && [ $((t1 - t0)) -ge "$sent" ] ||
				die "$subject/$pattern n=$n: $errs send errors, $((t1 - t0)) of $sent packets on the underlay"
			record path "$n" "$subject/$pattern" cpu "$run" "$cpu"
			record path "$n" "$subject/$pattern" sys "$run" "$sys"
			record path "$n" "$subject/$pattern" wall "$run" "$wall"
		done
		neigh=$(ip -4 -n "$MNS" neigh show nud all | wc -l)
		record path "$n" "$subject/$pattern" neigh 0 "$neigh"
		echo "bench-path: n=$n $subject/$pattern: $cpu us/packet (last run), $neigh neighbours" >&2
	done
}

# profile N SUBJECT MARK [-b BASE]: a kernel profile of spread and one.
profile() {
	local n=$1 subject=$2 mark=$3 pattern f
	shift 3
	[ -n "$PERF_DIR" ] || return 0
	mkdir -p "$PERF_DIR"
	for pattern in spread one; do
		local opt=()
		[ "$pattern" = one ] && opt=(-1)
		f="$PERF_DIR/$n-${subject//\//-}-$pattern"
		perf record -q -e cpu-clock -g -o "$W/perf.data" -- \
			ip netns exec "$MNS" "$SEND" -t "$n" -n "$PACKETS" -w "$n" -m "$mark" "${opt[@]}" "$@" \
			>"$f.out" 2>/dev/null
		perf report -i "$W/perf.data" --no-children --sort sym --stdio -g none \
			--percent-limit 0.7 2>/dev/null | grep -v '^$' >"$f.txt" || true
		perf report -i "$W/perf.data" --children --sort sym --stdio -g none \
			--percent-limit 3 2>/dev/null | grep -v '^$' >"$f.children.txt" || true
	done
}

# A gateway namespace with its underlay: dummy0 (drops what it sends), the
# peers behind one next hop.
underlay() {
	ip netns del "$1" 2>/dev/null || true
	ip netns add "$1"
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$1" link add dummy0 type dummy
	ip -n "$1" addr add "$LOCAL/24" dev dummy0
	ip -n "$1" link set dummy0 up
	ip -n "$1" route add 10.64.0.0/10 via 10.0.0.2 dev dummy0
	for m in 1 2 3 4 5 6 7 8; do
		ip -n "$1" rule add fwmark "$m" table $((100 + m)) pref $((100 + m))
	done
}

bench_n() {
	local n=$1 crypto t last=${NS_LIST##* }

	echo "bench-path: n=$n setup" >&2
	underlay "$NS"
	underlay "$NSC"
	"$XS" -n "$NS" link add ipsec0 >/dev/null
	ip -n "$NS" link set ipsec0 up
	ip -n "$NS" route add 11.0.0.0/8 dev ipsec0 src "$LOCAL" table 101
	ip -n "$NS" route add 11.0.0.0/8 via 10.0.0.2 dev dummy0 src "$LOCAL" table 104
	ip -n "$NS" route add 11.0.0.0/8 via "$VIA" dev ipsec0 onlink src "$LOCAL" table 106
	gen lwt "$n" >"$W/lwt"
	gen lwt-via "$n" >"$W/lwt-via"
	gen classic "$n" >"$W/classic"
	gen classic-routes "$n" >"$W/classic-routes"
	gen baseline "$n" >"$W/baseline"
	gen pol "$n" >"$W/pol"
	gen pol-policy "$n" >"$W/pol-policy"
	gen pol-policy-del "$n" >"$W/pol-policy-del"
	gen steer "$n" >"$W/steer"
	ip -n "$NS" -batch "$W/lwt"
	ip -n "$NS" -batch "$W/lwt-via"
	for t in 102 107; do
		[ "$(ip -n "$NS" route show table "$t" | grep -c 'encap xfrm')" -eq "$n" ] ||
			die "table $t: not the $n lightweight-tunnel routes"
	done
	ip -n "$NSC" -batch "$W/classic"
	ip -n "$NSC" -batch "$W/classic-routes"
	ip -n "$NS" -batch "$W/baseline"
	ip -n "$NS" -batch "$W/pol"
	ip -n "$NSC" -batch "$W/pol"
	echo "bench-path: n=$n set up" >&2

	for crypto in null gcm; do
		ip -n "$NS" xfrm state flush
		ip -n "$NSC" xfrm state flush
		gen sa "$n" "$crypto" >"$W/sa"
		gen sa-policy "$n" "$crypto" >"$W/sa-policy"
		ip -n "$NS" -batch "$W/sa"
		ip -n "$NS" -batch "$W/sa-policy"
		ip -n "$NSC" -batch "$W/sa"
		measure "$n" "baseline/$crypto" 5 -b 21.0.0.0
		measure "$n" "lwt/$crypto" 2
		measure "$n" "lwt-via/$crypto" 7
		MNS=$NSC
		measure "$n" "classic/$crypto" 3
		[ "$crypto" = null ] && [ "$n" = "$last" ] && profile "$n" classic/null 3
		measure "$n" "classic-via/$crypto" 8
		MNS=$NS
		ip -n "$NS" -batch "$W/pol-policy"
		measure "$n" "policy/$crypto" 4
		[ "$crypto" = null ] && [ "$n" = "$last" ] && profile "$n" policy/null 4
		ip -n "$NS" -batch "$W/pol-policy-del"
		if [ "$crypto" = null ] && [ "$n" = "$last" ]; then
			profile "$n" baseline/null 5 -b 21.0.0.0
			profile "$n" lwt/null 2
			profile "$n" lwt-via/null 7
		fi
		{
			echo "attach dev ipsec0 tenant-key none routes $((n + 16)) tunnels $((n + 16))"
			cat "$W/steer"
		} >"$W/attach"
		"$XS" -n "$NS" -batch "$W/attach" >/dev/null
		measure "$n" "xfrm-steer/$crypto" 1
		[ "$crypto" = null ] && [ "$n" = "$last" ] && profile "$n" xfrm-steer/null 1
		measure "$n" "xfrm-steer-via/$crypto" 6
		[ "$crypto" = null ] && [ "$n" = "$last" ] && profile "$n" xfrm-steer-via/null 6
		"$XS" -n "$NS" detach dev ipsec0 >/dev/null
	done
	if [ -n "$PERF_DIR" ] && [ "$n" = "$last" ]; then
		cat /proc/net/xfrm_stat >"$PERF_DIR/xfrm_stat.txt" 2>/dev/null || true
		ip netns exec "$NS" cat /proc/net/xfrm_stat >"$PERF_DIR/xfrm_stat.txt" || true
		ip netns exec "$NS" cat /proc/net/stat/arp_cache >"$PERF_DIR/arp_cache.txt" || true
		ip -n "$NS" -s neigh >"$PERF_DIR/neigh.txt" || true
		ip netns exec "$NS" cat /proc/net/stat/rt_cache >"$PERF_DIR/rt_cache.txt" 2>/dev/null || true
	fi
	"$XS" -n "$NS" link del ipsec0 >/dev/null 2>&1 || true
	ip -n "$NS" xfrm policy flush
	ip -n "$NS" xfrm state flush
	ip -n "$NSC" xfrm policy flush
	ip -n "$NSC" xfrm state flush
	ip netns del "$NS"
	ip netns del "$NSC"
}

# Loads the modules (ESP, the interface, both algorithms) before anything is
# measured: a slow VM's first AEAD SA can time out waiting for its module
# ("Requested AEAD algorithm not found"), so each gets three tries here.
warm_up() {
	local crypto try
	ip netns add xspath-warm
	for crypto in null gcm; do
		for try in 1 2 3; do
			gen sa 1 "$crypto" | ip -n xspath-warm -batch - 2>/dev/null && break
			[ "$try" = 3 ] && die "cannot add a $crypto SA"
			sleep 5
		done
		ip -n xspath-warm xfrm state flush
	done
	ip -n xspath-warm link add x0 type xfrm if_id 1
	ip -n xspath-warm link add d0 type dummy
	ip netns del xspath-warm
}

echo "# kernel $(uname -r), $(nproc) CPUs; $PACKETS packets a run, $RUNS runs" >&2
warm_up
record meta 0 kernel release 0 "$(uname -r)"
record meta 0 path packets 0 "$PACKETS"
record meta 0 path runs 0 "$RUNS"
for n in $NS_LIST; do
	bench_n "$n"
done
echo "bench-path: done" >&2
