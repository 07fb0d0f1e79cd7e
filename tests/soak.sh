#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make soak` (in the VM, not part of make test): a gateway with
# XS_SOAK_TUNNELS tunnels (default 10,000, made by one apply) plus
# XS_SOAK_PEERS real peers (default 8) for XS_SOAK_SECONDS (default 600).
# Each round: pings over every real peer, IPv4 and IPv6; route churn (a
# batch of routes to bulk tunnels added, then removed); an exporter scrape;
# every XS_SOAK_REKEY_EVERY-th round (default 3) one real peer is rekeyed
# (new SA pair on both ends, the old one deleted). A monitor runs throughout.
# At the end:
#   - each real peer's tunnel counters equal the kernel's SA counters, the
#     current SAs plus every SA that a rekey deleted; bulk tunnels count 0;
#   - the route and tunnel maps hold what they held before the load, and
#     no map holds more entries than it did (the cache and secpath maps may
#     hold up to one entry more per rekey and peer address);
#   - kernel slab memory grew by less than XS_SOAK_SLAB_MB (default 32) MB;
#   - no xfrm-steer command, the monitor or the exporter wrote an error, and
#     the kernel logged no BUG, WARNING or Oops;
#   - the monitor and the exporter are still running.
# Its last lines are a summary of figures ("soak: ...").
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
command -v curl >/dev/null || skip "curl is not installed"

N=${XS_SOAK_TUNNELS:-10000}
S=${XS_SOAK_PEERS:-8}
SECS=${XS_SOAK_SECONDS:-600}
REKEY_EVERY=${XS_SOAK_REKEY_EVERY:-3}
SLAB_MB=${XS_SOAK_SLAB_MB:-32}
CHURN=${XS_SOAK_CHURN:-64}
URL=http://127.0.0.1:9469/metrics

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	topo_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

gw() { ip netns exec "$GW" "$@"; }
# Every xfrm-steer call of the load: stderr collected, must stay empty.
xs() { $XS -n "$GW" "$@" 2>>"$tmp/xs.err"; }
now() { date +%s; }
slab_kb() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
# shellcheck disable=SC2012 # pin names are ours
pin_dir() { ls -d /sys/fs/bpf/xfrm-steer/*/ipsec0 | head -n1; }
# "NAME ENTRIES" for every pinned hash or LPM trie map (arrays have
# fixed entries, ring buffers none).
map_counts() {
	local m type
	for m in "$(pin_dir)"/*; do
		type=$(bpftool -j map show pinned "$m" 2>/dev/null | jq -r '.type // empty') || continue
		case $type in *hash* | lpm_trie) ;; *) continue ;; esac
		echo "${m##*/} $(bpftool -j map dump pinned "$m" | jq length)"
	done
}
klog_lines() { dmesg | wc -l; }

step "gateway: $N tunnels by apply, $S real peers"
klog0=$(klog_lines)
ip netns add "$GW"
ip -n "$GW" link set lo up
gw sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1
awk -v n="$N" -v form=json -f bench/gen-tunnels.awk |
	jq ".links[0].max_routes = $((N + 2 * S + CHURN + 64)) | .links[0].max_tunnels = $((N + S + 64))" \
		>"$tmp/gw.json"
t0=$(now)
xs apply "$tmp/gw.json" >/dev/null
echo "apply of $N tunnels: $(($(now) - t0)) s"
ip -n "$GW" addr add "$GW_IN4/32" dev ipsec0
ip -n "$GW" addr add "$GW_IN6/128" dev ipsec0 nodad
ip -n "$GW" route add 192.168.0.0/16 dev ipsec0 src "$GW_IN4"
ip -n "$GW" -6 route add 2001:db8::/32 dev ipsec0 src "$GW_IN6"
for k in $(seq "$S"); do
	topo_peer "$k" $((N + k)) "192.168.$k.200" "2001:db8:$k::200"
	xs route add "192.168.$k.0/24" if_id $((N + k)) dev ipsec0
	xs route add "2001:db8:$k::/64" if_id $((N + k)) dev ipsec0
done

# The current SPIs of peer k and what its deleted SAs had counted.
declare -A SPI_OUT SPI_IN GONE_TX_P GONE_TX_B GONE_RX_P GONE_RX_B GEN
for k in $(seq "$S"); do
	SPI_OUT[$k]=$(spi_out "$k")
	SPI_IN[$k]=$(spi_in "$k")
	GEN[$k]=0
	GONE_TX_P[$k]=0 GONE_TX_B[$k]=0 GONE_RX_P[$k]=0 GONE_RX_B[$k]=0
done
sa_tx() { sa_counters "$GW" "10.0.$1.1" "10.0.$1.2" "${SPI_OUT[$1]}"; }
sa_rx() { sa_counters "$GW" "10.0.$1.2" "10.0.$1.1" "${SPI_IN[$1]}"; }

# A new SA pair for peer k on both ends, then the old one deleted; the
# old gateway SAs' counters are kept for the final comparison.
rekey() { # K
	local k=$1 g ns gwa pa key oo oi no ni p b
	g=$((GEN[$k] + 1))
	ns=$(peer_ns "$k")
	gwa=10.0.$k.1
	pa=10.0.$k.2
	key=$(printf '0x%02x%02x%036x' "$k" "$g" $((0xfeed00 + g)))
	oo=${SPI_OUT[$k]}
	oi=${SPI_IN[$k]}
	no=$(printf '0x%x' $((0x1000 + k + 0x100000 * g)))
	ni=$(printf '0x%x' $((0x2000 + k + 0x100000 * g)))
	ip -n "$ns" xfrm state add src "$gwa" dst "$pa" proto esp spi "$no" reqid "$k" mode tunnel \
		flag af-unspec aead "$AEAD_ALG" "$key" 128
	ip -n "$ns" xfrm state add src "$pa" dst "$gwa" proto esp spi "$ni" reqid "$k" mode tunnel \
		flag af-unspec aead "$AEAD_ALG" "$key" 128
	ip -n "$GW" xfrm state add src "$gwa" dst "$pa" proto esp spi "$no" reqid "$k" mode tunnel \
		if_id $((N + k)) flag af-unspec aead "$AEAD_ALG" "$key" 128
	ip -n "$GW" xfrm state add src "$pa" dst "$gwa" proto esp spi "$ni" reqid "$k" mode tunnel \
		if_id $((N + k)) flag af-unspec aead "$AEAD_ALG" "$key" 128
	read -r p b <<<"$(sa_tx "$k")"
	GONE_TX_P[$k]=$((GONE_TX_P[$k] + p)) GONE_TX_B[$k]=$((GONE_TX_B[$k] + b))
	read -r p b <<<"$(sa_rx "$k")"
	GONE_RX_P[$k]=$((GONE_RX_P[$k] + p)) GONE_RX_B[$k]=$((GONE_RX_B[$k] + b))
	ip -n "$GW" xfrm state del src "$gwa" dst "$pa" proto esp spi "$oo"
	ip -n "$GW" xfrm state del src "$pa" dst "$gwa" proto esp spi "$oi"
	ip -n "$ns" xfrm state del src "$gwa" dst "$pa" proto esp spi "$oo"
	ip -n "$ns" xfrm state del src "$pa" dst "$gwa" proto esp spi "$oi"
	SPI_OUT[$k]=$no
	SPI_IN[$k]=$ni
	GEN[$k]=$g
}

step "monitor and exporter"
$XS -n "$GW" -j monitor >"$tmp/monitor.out" 2>"$tmp/monitor.err" &
pids+=($!)
MON_PID=$!
$XS -n "$GW" exporter listen 127.0.0.1:9469 2>"$tmp/exporter.err" &
pids+=($!)
EXP_PID=$!
for _ in $(seq 100); do
	gw curl -sf -o /dev/null "$URL" && break
	kill -0 "$EXP_PID" 2>/dev/null || { cat "$tmp/exporter.err"; fail "the exporter exited"; }
	sleep 0.2
done

# One warm-up round of traffic, then the baseline: caches and secpath
# records exist for every real peer before the counts are taken.
for k in $(seq "$S"); do
	gw ping -q -c 1 -W 2 "192.168.$k.200" >/dev/null || fail "warm-up ping to peer $k"
	gw ping -6 -q -c 1 -W 2 "2001:db8:$k::200" >/dev/null || fail "warm-up ping6 to peer $k"
done
map_counts >"$tmp/maps.0"
slab0=$(slab_kb)
echo "baseline: slab $((slab0 / 1024)) MB; maps: $(tr '\n' ' ' <"$tmp/maps.0")"

step "load for $SECS s"
rounds=0 pings=0 lost=0 routes_churned=0 rekeys=0 scrapes=0
start=$(now)
while [ $(($(now) - start)) -lt "$SECS" ]; do
	rounds=$((rounds + 1))
	for k in $(seq "$S"); do
		gw ping -q -c 2 -i 0.2 -W 2 -s $((64 + 8 * rounds % 900)) "192.168.$k.200" >"$tmp/ping" 2>&1 ||
			lost=$((lost + 1))
		gw ping -6 -q -c 1 -W 2 -s $((100 + 16 * k)) "2001:db8:$k::200" >>"$tmp/ping" 2>&1 ||
			lost=$((lost + 1))
		pings=$((pings + 3))
	done
	# Route churn: CHURN routes to bulk tunnels in, then out again.
	: >"$tmp/add"
	: >"$tmp/del"
	for i in $(seq "$CHURN"); do
		t=$(((rounds * 7919 + i * 104729) % N + 1))
		echo "route add 13.$((rounds % 256)).$i.0/24 if_id $t dev ipsec0" >>"$tmp/add"
		echo "route del 13.$((rounds % 256)).$i.0/24 dev ipsec0" >>"$tmp/del"
	done
	xs --batch "$tmp/add" >/dev/null
	xs --batch "$tmp/del" >/dev/null
	routes_churned=$((routes_churned + CHURN))
	if [ $((rounds % REKEY_EVERY)) -eq 0 ]; then
		rekey $(((rounds / REKEY_EVERY - 1) % S + 1))
		rekeys=$((rekeys + 1))
	fi
	gw curl -sf "$URL" >"$tmp/prom" || fail "scrape $scrapes failed"
	grep -q "^xfrm_steer_tunnels{dev=\"ipsec0\"} $((N + S))\$" "$tmp/prom" ||
		fail "scrape $scrapes does not count $((N + S)) tunnels"
	scrapes=$((scrapes + 1))
done
elapsed=$(($(now) - start))
# Let the last packets be counted, then let RCU free what it holds.
sleep 2

step "counters: each real peer's tunnel against its SAs, current and deleted"
stats=$(xs -j stats dev ipsec0)
assert_eq "$(jq length <<<"$stats")" $((N + S)) "tunnels in stats"
assert_eq "$(jq "[.[] | select(.if_id <= $N) | .tx_packets + .rx_packets] | add" <<<"$stats")" 0 \
	"packets of the bulk tunnels"
total_tx=0
for k in $(seq "$S"); do
	read -r txp txb <<<"$(sa_tx "$k")"
	read -r rxp rxb <<<"$(sa_rx "$k")"
	row=$(jq -c ".[] | select(.if_id == $((N + k)))" <<<"$stats")
	assert_eq "$(jq -r '"\(.tx_packets) \(.tx_bytes) \(.rx_packets) \(.rx_bytes)"' <<<"$row")" \
		"$((txp + GONE_TX_P[$k])) $((txb + GONE_TX_B[$k])) $((rxp + GONE_RX_P[$k])) $((rxb + GONE_RX_B[$k]))" \
		"peer $k (if_id $((N + k)), ${GEN[$k]} rekeys): tx/rx packets and bytes vs SAs"
	total_tx=$((total_tx + txp + GONE_TX_P[$k]))
done

step "no leaks: map entries, slab"
map_counts >"$tmp/maps.1"
paste -d' ' "$tmp/maps.0" "$tmp/maps.1" | while read -r name before name2 after; do
	[ "$name" = "$name2" ] || fail "map list changed: $name vs $name2"
	case $name in
	cache_* | secpath*) allowed=$((before + 2 * rekeys + 4 * S)) ;;
	*) allowed=$before ;;
	esac
	[ "$after" -le "$allowed" ] || fail "map $name: $before entries before the load, $after after (at most $allowed)"
	echo "ok: map $name: $before -> $after entries"
done
slab1=$(slab_kb)
growth=$(((slab1 - slab0) / 1024))
[ "$growth" -lt "$SLAB_MB" ] || fail "slab grew by $growth MB (limit $SLAB_MB MB)"
echo "ok: slab $((slab0 / 1024)) -> $((slab1 / 1024)) MB"

step "no errors, monitor and exporter alive"
kill -0 "$MON_PID" 2>/dev/null || fail "the monitor exited: $(cat "$tmp/monitor.err")"
kill -0 "$EXP_PID" 2>/dev/null || fail "the exporter exited: $(cat "$tmp/exporter.err")"
# The exporter says where it serves; anything else is an error.
grep -v '^exporter: serving ' "$tmp/exporter.err" >"$tmp/exporter.other" || true
for f in xs.err exporter.other; do
	[ ! -s "$tmp/$f" ] || fail "$f: $(head -n 5 "$tmp/$f")"
done
! grep -qi 'error' "$tmp/monitor.err" || fail "monitor: $(grep -i -m3 error "$tmp/monitor.err")"
klog=$(dmesg | tail -n +$((klog0 + 1)) | grep -E 'BUG|WARNING|Oops|leak' || true)
[ -z "$klog" ] || fail "the kernel logged: $klog"
[ "$lost" -eq 0 ] || fail "$lost pings got no answer: $(cat "$tmp/ping")"
echo "ok: no errors"

echo "soak: kernel $(uname -r), $N bulk tunnels + $S real peers, $elapsed s of load, $rounds rounds"
echo "soak: $pings pings, 0 lost; $total_tx packets sent over the real peers; $routes_churned routes added and removed; $rekeys rekeys; $scrapes scrapes of $((N + S)) tunnels"
echo "soak: slab $((slab0 / 1024)) -> $((slab1 / 1024)) MB; monitor events: $(wc -l <"$tmp/monitor.out")"
