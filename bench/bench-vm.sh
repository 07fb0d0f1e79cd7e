#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The control-plane benchmarks of "make bench". They need xfrm interfaces and
# ESP, so they run as root in the test VM (scripts/vmtest.sh), one boot for
# all of them; every run uses a fresh network namespace.
#
#   setup  xfrm-steer apply of N tunnels (SA pair, in/out/fwd policies for
#          IPv4 and IPv6, a route) versus the same SAs and policies through
#          "ip -batch" plus the same interface, attach and routes through
#          "xfrm-steer -batch"
#   scale  N tunnels the classic way (one xfrm interface per if_id, up, with
#          a kernel route) versus one external interface with N steering
#          routes; the SAs and policies are the same "ip -batch" file in
#          both. Time, and kernel memory from /proc/meminfo (Slab + Percpu +
#          VmallocUsed: BPF maps live in all three), for the whole tunnels,
#          for the per-tunnel part that differs (N interfaces versus N
#          routes) and for what the external way costs once (the interface,
#          the programs and their maps)
#   dump   statistics of BENCH_DUMP_N tunnels: xfrm-steer -j stats and
#          xfrm-steer -j sa show versus ip -s xfrm state, for the same SAs
#
# Usage: bench/bench-vm.sh RESULTS.tsv
# Writes one line per measurement: table, n, subject, metric, run, value
# (seconds or kB); bench/bench-report.sh makes the tables and the JSON.
#
# XS_BENCH_N          tunnel counts of setup and scale (default "1000 10000")
# XS_BENCH_RUNS       runs per figure (default 3)
# XS_BENCH_DUMP_N     tunnels of the dump (default 100000; 0: none)
# XS_BENCH_DUMP_RUNS  runs of each dump (default 3)
# XS_BENCH_CLASSIC    0: no one-interface-per-tunnel runs (the setup table
#                     alone, e.g. to time apply)
# (XS_ variables reach the VM; make bench sets them from BENCH_VM_N, ...)
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_TSV=${1:?usage: bench/bench-vm.sh RESULTS.tsv}
XS=${XS_BIN:-$PWD/build/xfrm-steer}
NS_LIST=${XS_BENCH_N:-1000 10000}
RUNS=${XS_BENCH_RUNS:-3}
DUMP_N=${XS_BENCH_DUMP_N:-100000}
DUMP_RUNS=${XS_BENCH_DUMP_RUNS:-3}
CLASSIC=${XS_BENCH_CLASSIC:-1}
W=$(mktemp -d /tmp/xs-bench.XXXXXX)
NS=xsbench

die() {
	echo "bench-vm: $*" >&2
	exit 1
}

cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "must run as root (in the VM: scripts/vmtest.sh -- $0)"
[ -x "$XS" ] || die "$XS not built (make)"
: >"$OUT_TSV"

record() { # TABLE N SUBJECT METRIC RUN VALUE
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT_TSV"
}

# timed TABLE N SUBJECT RUN CMD...: run CMD with its output discarded (the
# errors kept for the message), record wall, user and system seconds.
timed() {
	local table=$1 n=$2 subject=$3 run=$4 t
	shift 4
	t=$({
		TIMEFORMAT='%3R %3U %3S'
		time "$@" >/dev/null 2>"$W/err"
	} 2>&1) || die "$subject (n=$n, run $run) failed: $(tail -n 3 "$W/err")"
	read -r real user sys <<<"$t"
	record "$table" "$n" "$subject" wall "$run" "$real"
	record "$table" "$n" "$subject" user "$run" "$user"
	record "$table" "$n" "$subject" sys "$run" "$sys"
}

# Kernel memory in kB: Slab + Percpu + VmallocUsed.
kmem() {
	awk '/^(Slab|Percpu|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo
}

# Wait until the kernel has freed what the last namespace held (netns
# cleanup and xfrm state GC are deferred): kernel memory steady for 1 s.
settle() {
	local a b i
	sync
	echo 3 >/proc/sys/vm/drop_caches
	a=$(kmem)
	for i in $(seq 60); do
		sleep 1
		b=$(kmem)
		[ $((a > b ? a - b : b - a)) -lt 512 ] && return 0
		a=$b
	done
	echo "bench-vm: kernel memory still moving after 60 s; measuring anyway" >&2
}

fresh_ns() {
	ip netns del "$NS" 2>/dev/null || true
	settle
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}

# Flush synchronously before the namespace goes, so its teardown does not
# run into the next measurement.
drop_ns() {
	if [ -d "/sys/fs/bpf/xfrm-steer" ]; then
		"$XS" -n "$NS" detach dev ipsec0 >/dev/null 2>&1 || true
	fi
	ip -n "$NS" xfrm policy flush
	ip -n "$NS" xfrm state flush
	ip netns del "$NS"
}

gen() { # FORM N [FILE] (default: stdout)
	if [ -n "${3:-}" ]; then
		awk -v n="$2" -v form="$1" -f bench/gen-tunnels.awk >"$3"
	else
		awk -v n="$2" -v form="$1" -f bench/gen-tunnels.awk
	fi
}

expect() { # WHAT GOT WANT
	[ "$2" = "$3" ] || die "$1: $2, expected $3"
}

sa_count() {
	ip -n "$NS" xfrm state count | awk '{ print $NF }'
}

pol_count() {
	ip -n "$NS" xfrm policy count | awk '/SPD IN/ { print $3 + $5 + $7 }'
}

route_count() {
	"$XS" -n "$NS" -j route show dev ipsec0 | jq length
}

# Loads the modules (esp4, xfrm_interface, the GCM code) and warms the
# caches, so that the first measured run does not pay for them.
warm_up() {
	gen json 16 "$W/warm.json"
	gen classic 16 "$W/warm.classic"
	fresh_ns
	"$XS" -n "$NS" apply "$W/warm.json" >/dev/null
	ip -n "$NS" -batch "$W/warm.classic"
	drop_ns
}

# ---------------------------------------------------------------- setup, scale

bench_n() {
	local n=$1 run k0 k1 k2 k3

	gen json "$n" "$W/gw.json"
	gen ip-sa "$n" "$W/ip-sa"
	gen classic "$n" "$W/classic"
	{
		echo "link add ipsec0"
		echo "attach dev ipsec0 tenant-key none routes $((n + 16)) tunnels $((n + 16))"
	} >"$W/attach"
	gen routes "$n" "$W/routes"

	for run in $(seq "$RUNS"); do
		echo "bench-vm: n=$n run $run/$RUNS" >&2

		# xfrm-steer apply, the whole gateway from one file.
		fresh_ns
		timed setup "$n" apply "$run" "$XS" -n "$NS" apply "$W/gw.json"
		expect "SAs after apply" "$(sa_count)" $((2 * n))
		expect "policies after apply" "$(pol_count)" $((6 * n))
		expect "routes after apply" "$(route_count)" "$n"
		drop_ns

		# ip -batch for SAs and policies, xfrm-steer -batch for the
		# external interface with its programs and maps (once), then
		# for the routes (per tunnel); memory as it grows.
		fresh_ns
		k0=$(kmem)
		timed scale "$n" ip-sa "$run" ip -n "$NS" -batch "$W/ip-sa"
		k1=$(kmem)
		timed scale "$n" attach "$run" "$XS" -n "$NS" -batch "$W/attach"
		k2=$(kmem)
		timed scale "$n" external "$run" "$XS" -n "$NS" -batch "$W/routes"
		k3=$(kmem)
		expect "SAs after ip -batch" "$(sa_count)" $((2 * n))
		expect "policies after ip -batch" "$(pol_count)" $((6 * n))
		expect "routes after xfrm-steer -batch" "$(route_count)" "$n"
		record scale "$n" ip-sa kmem "$run" $((k1 - k0))
		record scale "$n" attach kmem "$run" $((k2 - k1))
		record scale "$n" external kmem "$run" $((k3 - k2))
		drop_ns

		# The classic way: the same SAs and policies, one interface
		# per if_id (10,000 take minutes: XS_BENCH_CLASSIC=0 skips it).
		[ "$CLASSIC" = 0 ] && continue
		fresh_ns
		k0=$(kmem)
		timed scale "$n" classic-sa "$run" ip -n "$NS" -batch "$W/ip-sa"
		k1=$(kmem)
		timed scale "$n" classic "$run" ip -n "$NS" -batch "$W/classic"
		k2=$(kmem)
		expect "xfrm interfaces" "$(ip -n "$NS" -o link show type xfrm | wc -l)" "$n"
		record scale "$n" classic-sa kmem "$run" $((k1 - k0))
		record scale "$n" classic kmem "$run" $((k2 - k1))
		drop_ns
	done
}

# ---------------------------------------------------------------- dump

bench_dump() {
	local n=$1 run

	echo "bench-vm: dump of $n tunnels" >&2
	gen ip-states "$n" "$W/dump-sa"
	{
		echo "link add ipsec0"
		echo "attach dev ipsec0 tenant-key none routes $((n + 16)) tunnels $((n + 16))"
		gen routes "$n"
	} >"$W/dump-ext"
	fresh_ns
	ip -n "$NS" -batch "$W/dump-sa"
	"$XS" -n "$NS" -batch "$W/dump-ext"
	expect "SAs for the dump" "$(sa_count)" $((2 * n))
	expect "tunnels in xfrm-steer -j stats" \
		"$("$XS" -n "$NS" -j stats dev ipsec0 | jq length)" "$n"
	record dump "$n" xs-stats bytes 1 "$("$XS" -n "$NS" -j stats | wc -c)"
	record dump "$n" xs-sa-show bytes 1 "$("$XS" -n "$NS" -j sa show | wc -c)"
	record dump "$n" ip-state bytes 1 "$(ip -n "$NS" -s xfrm state | wc -c)"
	for run in $(seq "$DUMP_RUNS"); do
		timed dump "$n" xs-stats "$run" "$XS" -n "$NS" -j stats
		timed dump "$n" xs-sa-show "$run" "$XS" -n "$NS" -j sa show
		timed dump "$n" ip-state "$run" ip -n "$NS" -s xfrm state
	done
	drop_ns
}

{
	echo "# kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
} >&2
record meta 0 kernel release 0 "$(uname -r)"
record meta 0 vm cpus 0 "$(nproc)"
warm_up
for n in $NS_LIST; do
	bench_n "$n"
done
[ "$DUMP_N" -gt 0 ] && bench_dump "$DUMP_N"
echo "bench-vm: done" >&2
