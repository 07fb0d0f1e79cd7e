#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# "xfrm-steer exporter": /metrics over HTTP in the network namespace it runs
# in, well-formed Prometheus text whose values are those of "stats -j";
# 404 elsewhere; loopback unless told otherwise; devices attached after the
# start appear; SIGTERM stops it.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
command -v curl >/dev/null || skip "curl is not installed"

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
	topo_cleanup
}
trap cleanup EXIT

step "topology and traffic"
topo_gateway
$XS -n "$GW" attach dev ipsec0
topo_peer 1 101 192.168.1.200 2001:db8:1::200
topo_peer 2 102 192.168.2.200 2001:db8:2::200
$XS -n "$GW" route add 192.168.1.0/24 if_id 101 dev ipsec0
$XS -n "$GW" route add 192.168.2.0/24 if_id 102 dev ipsec0
ip netns exec "$GW" ping -q -c 3 -i 0.2 -W 2 192.168.1.200
ip netns exec "$GW" ping -q -c 2 -i 0.2 -W 2 -s 500 192.168.2.200

gw() { ip netns exec "$GW" "$@"; }
# HTTP status of a request inside the gateway's namespace.
http_code() { # URL [CURL-ARGS...]
	local url=$1
	shift
	gw curl -s -o /dev/null -w '%{http_code}' "$@" "$url"
}
# Start an exporter in the gateway's namespace; wait until URL answers.
start_exporter() { # URL ARGS...
	local url=$1 i
	shift
	$XS -n "$GW" exporter "$@" 2>"$tmp/exporter.log" &
	pids+=($!)
	for i in $(seq 100); do
		[ "$(http_code "$url")" = 200 ] && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || { cat "$tmp/exporter.log"; fail "exporter $* exited"; }
		sleep 0.1
	done
	fail "exporter $* does not answer at $url"
}
# The TCP sockets listening in the gateway's namespace: "ADDR:PORT" lines.
listening() { gw ss -Hltn | awk '{ print $4 }' | sort; }

check_exposition() { # FILE
	awk '
	/^# HELP / { if (help[$3]++) { print "HELP twice: " $3; bad = 1 }; next }
	/^# TYPE / { if (type[$3]++) { print "TYPE twice: " $3; bad = 1 }; fam = $3; next }
	/^#/ { next }
	!/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [0-9]+$/ {
		print "malformed: " $0; bad = 1; next
	}
	{ n = $0; sub(/[{ ].*/, "", n); if (n != fam) { print "outside its family: " $0; bad = 1 } }
	END { exit bad }' "$1" || fail "exposition text is not well formed"
	echo "ok: exposition well formed ($(grep -vc '^#' "$1") samples)"
}
expected_samples() { # STATS-JSON DROPS-JSON
	jq -r '.[] | . as $r | ["packets", "bytes", "dropped"][] as $m | ["tx", "rx"][] as $d |
		"xfrm_steer_tunnel_\($m)_total{dev=\"\($r.dev)\",if_id=\"\($r.if_id)\",direction=\"\($d)\"} \($r["\($d)_\($m)"])"' <<<"$1"
	jq -r '.[] | "xfrm_steer_\(if .dropped then "drops" else "notes" end)_total{dev=\"\(.dev)\",reason=\"\(.reason)\"} \(.packets)"' <<<"$2"
	jq -r 'group_by(.dev)[] | "xfrm_steer_tunnels{dev=\"\(.[0].dev)\"} \(length)"' <<<"$1"
	jq -r '.[] | "xfrm_steer_tunnel_up{dev=\"\(.dev)\",if_id=\"\(.if_id)\"} \(if .up then 1 else 0 end)"' <<<"$1"
	jq -r 'group_by(.dev)[] | "xfrm_steer_up{dev=\"\(.[0].dev)\"} 1"' <<<"$1"
	echo "xfrm_steer_scrape_error 0"
}
# Prometheus' own checker of the exposition format, promtool (Debian's
# prometheus package).
promtool_check() { # FILE
	local out
	command -v promtool >/dev/null || fail "promtool is missing (scripts/deps.sh installs prometheus)"
	out=$(promtool check metrics <"$1" 2>&1) || fail "promtool check metrics: $out"
	[ -z "$out" ] || fail "promtool check metrics warns: $out"
	echo "ok: promtool check metrics accepts it"
}
# Does a scrape say what "stats -j" and "stats drops -j" say? A drop
# counter may move in between (the interface's own IPv6 chatter): then
# all is read again.
scrape_equals_json() { # URL
	local i
	for i in 1 2 3 4 5; do
		gw curl -sf "$1" >"$tmp/prom" || fail "scrape of $1"
		expected_samples "$(xsj "$GW" stats)" "$(xsj "$GW" stats drops)" | sort >"$tmp/want"
		grep -v '^#' "$tmp/prom" | sort >"$tmp/got"
		diff -u "$tmp/want" "$tmp/got" >"$tmp/diff" && return 0
		sleep 1
	done
	cat "$tmp/diff"
	return 1
}

URL=http://127.0.0.1:9469/metrics

step "exporter --listen 127.0.0.1:9469 in the gateway's namespace"
start_exporter "$URL" --listen 127.0.0.1:9469
exp_pid=${pids[-1]}
scrape_equals_json "$URL" || fail "scraped values differ from stats -j"
cat "$tmp/prom"
check_exposition "$tmp/prom"
promtool_check "$tmp/prom"
grep -q '^xfrm_steer_up{dev="ipsec0"} 1$' "$tmp/prom" || fail "xfrm_steer_up of ipsec0"
grep -q '^xfrm_steer_scrape_error 0$' "$tmp/prom" || fail "xfrm_steer_scrape_error 0"
grep -q '^xfrm_steer_tunnel_packets_total{dev="ipsec0",if_id="102",direction="rx"} 2$' "$tmp/prom" ||
	fail "rx packets of if_id 102"
grep -q '^xfrm_steer_tunnel_bytes_total{dev="ipsec0",if_id="102",direction="tx"} 1056$' "$tmp/prom" ||
	fail "tx bytes of if_id 102 (2 x 528)"
echo "ok: scrape = stats -j"
# Byte for byte, but for the drop reasons, which may move in between.
$XS -n "$GW" stats prometheus | grep -v '_total{dev="[^"]*",reason=' >"$tmp/a"
grep -v '_total{dev="[^"]*",reason=' "$tmp/prom" >"$tmp/b"
diff -u "$tmp/a" "$tmp/b" || fail "scrape differs from stats prometheus"
echo "ok: scrape = stats prometheus"

step "health per if_id: xfrm_steer_tunnel_up follows route nexthop down and auto"
grep -q '^xfrm_steer_tunnel_up{dev="ipsec0",if_id="101"} 1$' "$tmp/prom" || fail "if_id 101 up"
$XS -n "$GW" route nexthop down if_id 101 dev ipsec0
scrape_equals_json "$URL" || fail "scraped values differ from stats -j with 101 down"
grep -q '^xfrm_steer_tunnel_up{dev="ipsec0",if_id="101"} 0$' "$tmp/prom" || fail "if_id 101 down"
grep -q '^xfrm_steer_tunnel_up{dev="ipsec0",if_id="102"} 1$' "$tmp/prom" || fail "if_id 102 still up"
assert_eq "$(xsj "$GW" stats dev ipsec0 | jq -c '[.[] | select(.if_id == 101) | .up]')" '[false]' "stats -j up of 101"
promtool_check "$tmp/prom"
$XS -n "$GW" route nexthop auto if_id 101 dev ipsec0
scrape_equals_json "$URL" || fail "scraped values differ from stats -j with 101 back"
grep -q '^xfrm_steer_tunnel_up{dev="ipsec0",if_id="101"} 1$' "$tmp/prom" || fail "if_id 101 back up"
echo "ok: health in the scrape"

step "headers, other paths, other methods"
gw curl -sI "$URL" | tr -d '\r' | tee "$tmp/head"
grep -qi '^content-type: text/plain; version=0.0.4' "$tmp/head" || fail "Content-Type"
assert_eq "$(http_code http://127.0.0.1:9469/other)" 404 "/other"
assert_eq "$(http_code http://127.0.0.1:9469/)" 404 "/"
assert_eq "$(http_code http://127.0.0.1:9469/metrics/x)" 404 "/metrics/x"
assert_eq "$(http_code "$URL?x=1")" 200 "/metrics?x=1"
assert_eq "$(http_code "$URL" -X POST -d x=1)" 405 "POST"

step "traffic after the start shows in the next scrape"
ip netns exec "$GW" ping -q -c 4 -i 0.2 -W 2 192.168.1.200
scrape_equals_json "$URL" || fail "scraped values after more traffic"
grep -q '^xfrm_steer_tunnel_packets_total{dev="ipsec0",if_id="101",direction="tx"} 7$' "$tmp/prom" ||
	fail "tx packets of if_id 101 after 3 + 4 pings"
echo "ok: re-read per scrape"

step "a device detached goes from the next scrape, attached again it comes back"
# (one external xfrm interface per namespace: the same one, detached and
# attached again, stands for a device attached after the start)
$XS -n "$GW" detach dev ipsec0
assert_eq "$(http_code "$URL")" 200 "scrape with nothing attached"
gw curl -sf "$URL" >"$tmp/prom"
check_exposition "$tmp/prom"
promtool_check "$tmp/prom"
# Nothing attached: no device up, and no scrape error either.
assert_eq "$(grep -v '^#' "$tmp/prom")" "xfrm_steer_scrape_error 0" "samples with nothing attached"
$XS -n "$GW" attach dev ipsec0
$XS -n "$GW" route add 192.168.2.0/24 if_id 102 dev ipsec0
$XS -n "$GW" route add 10.77.0.0/16 if_id 777 dev ipsec0
ip netns exec "$GW" ping -q -c 1 -W 2 192.168.2.200
scrape_equals_json "$URL" || fail "scrape after attaching again"
grep -q '^xfrm_steer_tunnel_packets_total{dev="ipsec0",if_id="777",direction="tx"} 0$' "$tmp/prom" ||
	fail "the new tunnel in the scrape"
grep -q '^xfrm_steer_tunnel_packets_total{dev="ipsec0",if_id="102",direction="rx"} 1$' "$tmp/prom" ||
	fail "the counters of the new attachment"
grep -q 'if_id="101"' "$tmp/prom" && fail "if_id 101 (not routed since) in the scrape"
echo "ok: ipsec0 went and came back"

step "a broken scrape says so: xfrm_steer_scrape_error 1, no device up"
# A pinned map gone from under the exporter (as if attached by another
# version): the counters cannot be read. The programs keep the map; it is
# pinned again by its id afterwards.
pin=$(ls -d /sys/fs/bpf/xfrm-steer/*/ipsec0 | head -n1)
command -v bpftool >/dev/null || fail "bpftool is missing"
map_id=$(bpftool -j map show pinned "$pin/drop_stats" | jq .id)
rm "$pin/drop_stats"
assert_eq "$(http_code "$URL")" 200 "a broken scrape still answers"
gw curl -sf "$URL" >"$tmp/prom"
bpftool map pin id "$map_id" "$pin/drop_stats"
cat "$tmp/prom"
promtool_check "$tmp/prom"
assert_eq "$(grep -v '^#' "$tmp/prom")" "xfrm_steer_scrape_error 1" "samples of a broken scrape"
grep -q 'drop_stats' "$tmp/exporter.log" || fail "the log does not say why the scrape failed"
gw curl -sf "$URL" | grep -q '^xfrm_steer_scrape_error 0$' || fail "scrape error after the map came back"
echo "ok: broken scrape told from nothing attached"

step "it keeps answering: 1000 idle and 100 half-sent connections open"
gw tests/exporter-load.py 127.0.0.1 9469 1000 100 | tee "$tmp/load"
read -r _ code secs <<<"$(grep '^scrape ' "$tmp/load")"
assert_eq "$code" 200 "scrape under load"
awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' || fail "scrape under load took ${secs}s"
for what in malformed oversized; do
	read -r _ code secs <<<"$(grep "^$what " "$tmp/load")"
	[[ $code == 4[0-9][0-9] ]] || fail "$what request under load: status $code"
	awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' || fail "$what request under load took ${secs}s"
	echo "ok: $what request: $code in ${secs}s"
done
assert_eq "$(http_code "$URL")" 200 "scrape after the load"

step "it listens where it was told, and only in its namespace"
assert_eq "$(listening)" "127.0.0.1:9469" "listening sockets"
ss -Hltn | grep -q ':9469 ' && fail "something listens on 9469 outside the gateway's namespace"
echo "ok: nothing on 9469 in the VM's own namespace"

step "SIGTERM stops it"
kill -TERM "$exp_pid"
rc=0
wait "$exp_pid" || rc=$?
assert_eq "$rc" 0 "exit status after SIGTERM"
assert_eq "$(listening)" "" "listening sockets after SIGTERM"

step "by default it binds 127.0.0.1:9469"
start_exporter "$URL"
assert_eq "$(listening)" "127.0.0.1:9469" "default listening socket"
kill -INT "${pids[-1]}"
rc=0
wait "${pids[-1]}" || rc=$?
assert_eq "$rc" 0 "exit status after SIGINT"

step "IPv6 loopback: listen [::1]:9470"
start_exporter "http://[::1]:9470/metrics" listen "[::1]:9470"
assert_eq "$(listening)" "[::1]:9470" "IPv6 listening socket"
gw curl -sfg "http://[::1]:9470/metrics" | grep -q '^xfrm_steer_tunnels{dev="ipsec0"} 2$' ||
	fail "scrape over IPv6"
echo "ok: scrape over IPv6"
kill -TERM "${pids[-1]}"
wait "${pids[-1]}"

step "a port in use is an error that names it"
start_exporter "$URL" listen 127.0.0.1:9469
assert_fails "a second exporter on the same port" $XS -n "$GW" exporter listen 127.0.0.1:9469
msg=$($XS -n "$GW" exporter listen 127.0.0.1:9469 2>&1) && fail "second exporter started"
echo "$msg"
grep -q '^Error: cannot listen on 127.0.0.1:9469: .*in use' <<<"$msg" || fail "message for a port in use"
assert_fails "invalid listen address" $XS -n "$GW" exporter listen localhost:9469
