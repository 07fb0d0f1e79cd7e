#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# IKE at scale (issue 19, item 4): a charon start on the gateway with N
# CHILD_SAs to one peer, the time until all N steering routes are present,
#   updown  the updown script (scripts/strongswan-updown.sh) on every CHILD_SA,
#           run by charon once per selector pair, synchronously
#   daemon  no script: `xfrm-steer daemon dev ipsec0 ike if_ids 1-N` follows
#           the kernel's policies and SAs
# Each run starts from a clean slate (new namespaces, both charons started
# afresh, no SA, no route, no claim) and is what a gateway's charon restart
# does: the gateway initiates all N CHILD_SAs (start_action = start) in one
# IKE_SA, each with its own if_id and remote /32. Also timed: until the
# kernel has the N outbound policies (charon's part, the same in both).
# Needs xfrm interfaces, ESP and strongSwan: it runs as root in the test VM
# (scripts/vmtest.sh), from "make bench BENCH_PARTS=ike".
#
# Usage: bench/bench-ike.sh RESULTS.tsv
# Writes one line per measurement: table, n, subject, metric, run, value (s).
#
# XS_BENCH_IKE_N       CHILD_SA counts (default "1000")
# XS_BENCH_IKE_RUNS    runs per figure (default 1)
# XS_BENCH_IKE_LIMIT   seconds a run may take before it is given up (600)
# XS_BENCH_IKE_MODES   which of them (default "daemon updown")
OUT_TSV=${1:?usage: bench/bench-ike.sh RESULTS.tsv}
case $OUT_TSV in /*) ;; *) OUT_TSV=$PWD/$OUT_TSV ;; esac
. "$(dirname "$0")/../tests/lib.sh"
XS_SW_PREFIX=xs-bench-ike
. tests/lib-charon.sh
NS_LIST=${XS_BENCH_IKE_N:-1000}
RUNS=${XS_BENCH_IKE_RUNS:-1}
LIMIT=${XS_BENCH_IKE_LIMIT:-600}
MODES=${XS_BENCH_IKE_MODES:-daemon updown}
DPID=
daemon_stop() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null || true
	fi
	DPID=
}
trap 'rc=$?; daemon_stop; (exit $rc); finish' EXIT
mkdir -p "$(dirname "$OUT_TSV")"
: >"$OUT_TSV"

# One side's swanctl.conf: N children, child i with remote /32 10.200.x.y
# (gateway) or local (peer); the gateway's with if_id i and start_action.
conf() { # gw|peer N [UPDOWN]
	awk -v side="$1" -v n="$2" -v updown="${3:-}" 'BEGIN {
		gw = side == "gw"
		printf "connections {\n\tpeer1 {\n\t\tversion = 2\n"
		printf "\t\tlocal_addrs = %s\n\t\tremote_addrs = %s\n", gw ? "10.0.1.1" : "10.0.1.2",
			gw ? "10.0.1.2" : "10.0.1.1"
		printf "\t\tproposals = aes128-sha256-modp2048\n"
		printf "\t\tlocal {\n\t\t\tauth = psk\n\t\t\tid = %s\n\t\t}\n", gw ? "gw.example" : "peer1.example"
		printf "\t\tremote {\n\t\t\tauth = psk\n\t\t\tid = %s\n\t\t}\n", gw ? "peer1.example" : "gw.example"
		printf "\t\tchildren {\n"
		for (i = 1; i <= n; i++) {
			ts = sprintf("10.200.%d.%d/32", int(i / 256), i % 256)
			printf "\t\t\tc%d {\n", i
			printf "\t\t\t\tlocal_ts = %s\n", gw ? "10.255.0.0/16" : ts
			printf "\t\t\t\tremote_ts = %s\n", gw ? ts : "10.255.0.0/16"
			printf "\t\t\t\tesp_proposals = aes128gcm16\n"
			if (gw) {
				printf "\t\t\t\tif_id_in = %d\n\t\t\t\tif_id_out = %d\n", i, i
				printf "\t\t\t\tstart_action = start\n"
				if (updown != "")
					printf "\t\t\t\tupdown = %s dev ipsec0\n", updown
			}
			printf "\t\t\t}\n"
		}
		printf "\t\t}\n\t}\n}\n"
		printf "secrets {\n\tike-1 {\n\t\tid-a = gw.example\n\t\tid-b = peer1.example\n"
		printf "\t\tsecret = \"xfrm-steer bench key, not for real use\"\n\t}\n}\n"
	}'
}

setup() {
	topo_gateway
	$XS -n "$GW" attach dev ipsec0
	topo_ike_peer # its inner address and return route carry no traffic here
}

nroutes() { xsj "$GW" route show dev ipsec0 | jq length; }
npols() { ip -n "$GW" xfrm policy list dir out | grep -c '^src 10.255.0.0/16' || true; }

run() { # MODE N RUN
	local mode=$1 n=$2 r=$3 t0 t sas= routes= np nr
	setup
	conf peer "$n" >"$SW/peer-swanctl.conf"
	start_charon peer "$PEER"
	swan peer --load-all --file "$SW/peer-swanctl.conf" >/dev/null 2>&1
	if [ "$mode" = updown ]; then
		conf gw "$n" "$UPDOWN" >"$SW/gw-swanctl.conf"
		start_charon gw "$GW" "$(dirname "$XS"):$PATH"
	else
		conf gw "$n" >"$SW/gw-swanctl.conf"
		$XS -n "$GW" daemon dev ipsec0 ike if_ids "1-$n" >"$SW/daemon.log" 2>&1 &
		DPID=$!
		start_charon gw "$GW"
	fi
	t0=$(date +%s%N)
	swan gw --load-all --file "$SW/gw-swanctl.conf" >/dev/null 2>&1
	while :; do
		t=$((($(date +%s%N) - t0) / 1000000))
		np=$(npols)
		nr=$(nroutes)
		[ -n "$sas" ] || [ "$np" -lt "$n" ] || sas=$t
		if [ "$nr" -ge "$n" ]; then
			routes=$t
			break
		fi
		[ "$t" -lt $((LIMIT * 1000)) ] || break
		sleep 0.5
	done
	echo "bench-ike: $mode n=$n run $r: policies $np after ${sas:-?} ms, routes $nr after ${routes:-?} ms" >&2
	[ -n "$routes" ] || fail "$mode: $nr of $n routes after $LIMIT s"
	printf 'ike\t%s\t%s\tpolicies\t%s\t%s\n' "$n" "$mode" "$r" \
		"$(awk -v m="${sas:-$routes}" 'BEGIN { printf "%.1f", m / 1000 }')" >>"$OUT_TSV"
	printf 'ike\t%s\t%s\troutes\t%s\t%s\n' "$n" "$mode" "$r" \
		"$(awk -v m="$routes" 'BEGIN { printf "%.1f", m / 1000 }')" >>"$OUT_TSV"
	daemon_stop
	stop_charons
	topo_cleanup
	rm -f "$SW"/*.vici
}

for n in $NS_LIST; do
	for r in $(seq "$RUNS"); do
		for m in $MODES; do
			run "$m" "$n" "$r"
		done
	done
done
echo "bench-ike: done" >&2
