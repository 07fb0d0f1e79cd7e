#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A manually keyed tunnel survives a restart of either side (issue 13).
# A re-created SA sends from sequence number 1 again; a receiver with an
# anti-replay window drops those packets as replays until the counter
# passes its old top (RFC 4303 3.3.3: anti-replay is assumed off for manual
# keys). Both sides' SAs come from xfrm-steer with its defaults: the
# gateway's from "apply" of a file, the peer's from "sa add" (the peer is
# plain policy-based IPsec, its policies by ip xfrm). Each side is
# "restarted" by losing its SAs, as a reboot does, and making them again the
# way it made them first. Checked on the kernel's own counters: the
# receiving side's XfrmInStateSeqError (/proc/net/xfrm_stat of its netns)
# must not grow, and its inbound SA must decrypt the new packets. Also: the
# default replay window is 0, "replay-window N" opts in, ESN keeps 32 and
# refuses 0, and the files "show" writes apply again without changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT

P1=$(peer_ns 1)
seq_errors() { ip netns exec "$1" awk '$1 == "XfrmInStateSeqError" { print $2 }' /proc/net/xfrm_stat; }
sa_packets() { sa_counters "$@" | cut -d' ' -f1; } # NS SRC DST SPI
gw_in_packets() { sa_packets "$GW" 10.0.1.2 10.0.1.1 "$(spi_in 1)"; }
peer_in_packets() { sa_packets "$P1" 10.0.1.1 10.0.1.2 "$(spi_out 1)"; }
ping_gw() { ip netns exec "$GW" ping -q -c "$1" -i 0.2 -W 2 -m 256 192.168.1.200; }
apply() { $XS -n "$GW" apply "$@"; }

# The peer's SA pair, made as a manually keyed xfrm-steer host would make
# it: "sa add" with its defaults (no if_id: policy-based IPsec).
peer_sas() {
	$XS -n "$P1" sa add src 10.0.1.1 dst 10.0.1.2 spi "$(spi_out 1)" reqid 1 \
		aead "$AEAD_ALG" "$(gcm_key 1 1)" 128
	$XS -n "$P1" sa add src 10.0.1.2 dst 10.0.1.1 spi "$(spi_in 1)" reqid 1 \
		aead "$AEAD_ALG" "$(gcm_key 1 0)" 128
}

step "topology: the gateway's tunnel from a file, the peer's SAs by sa add"
topo_gateway
topo_peer_link 1 192.168.1.200 2001:db8:1::200
peer_sas
for d in "192.168.1.200/32 10.255.0.0/16" "2001:db8:1::200/128 fd00:255::/64"; do
	read -r inner gw <<<"$d"
	ip -n "$P1" xfrm policy add dir out src "$inner" dst "$gw" \
		tmpl src 10.0.1.2 dst 10.0.1.1 proto esp reqid 1 mode tunnel
	ip -n "$P1" xfrm policy add dir in src "$gw" dst "$inner" \
		tmpl src 10.0.1.1 dst 10.0.1.2 proto esp reqid 1 mode tunnel
done
ip -n "$P1" route add 10.255.0.0/16 dev ul0 src 192.168.1.200
ip -n "$P1" -6 route add fd00:255::/64 dev ul0 src 2001:db8:1::200
ip -n "$P1" xfrm state
gcm_key 1 0 >"$tmp/in1"
gcm_key 1 1 >"$tmp/out1"
cat >"$tmp/gw.json" <<EOF
{
  "links": [ { "name": "ipsec0", "tenant_key": "mark", "mark_mask": "0xff00" } ],
  "tunnels": [
    { "name": "t1", "if_id": 101, "tenant": "0x100", "local": "10.0.1.1", "remote": "10.0.1.2",
      "spi_in": "0x2001", "spi_out": "0x1001", "reqid": 1,
      "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128,
                "key": "@$tmp/in1", "key_out": "@$tmp/out1" },
      "prefixes": [ "192.168.1.0/24", "2001:db8:1::/64" ] }
  ]
}
EOF
apply "$tmp/gw.json"
# What the systemd unit re-applies after a reboot: the saved state.
$XS -n "$GW" --show-keys -j show >"$tmp/saved.json"
assert_eq "$(apply "$tmp/saved.json")" "$tmp/saved.json: nothing to do, the kernel matches it" \
	"the saved file applies without changes"

step "traffic before any restart"
ping_gw 10
assert_eq "$(peer_in_packets)" 10 "peer's inbound SA packets"
assert_eq "$(gw_in_packets)" 10 "gateway's inbound SA packets"

step "gateway restart: its SAs are lost, the saved file is applied again"
peer_err=$(seq_errors "$P1")
ip -n "$GW" xfrm state flush
apply "$tmp/saved.json"
assert_eq "$(nstates "$GW")" 2 "gateway SAs after the re-apply"
ping_gw 3 || fail "ping after the gateway's restart (peer XfrmInStateSeqError $peer_err -> $(seq_errors "$P1"))"
assert_eq "$(seq_errors "$P1")" "$peer_err" "peer's XfrmInStateSeqError"
assert_eq "$(peer_in_packets)" 13 "peer's inbound SA packets (10 old + 3 new)"

step "peer restart: its SAs are lost and made again (its sequence restarts at 1)"
gw_err=$(seq_errors "$GW")
gw_in=$(gw_in_packets)
ip -n "$P1" xfrm state flush
peer_sas
ping_gw 3 || fail "ping after the peer's restart (gateway XfrmInStateSeqError $gw_err -> $(seq_errors "$GW"))"
assert_eq "$(seq_errors "$GW")" "$gw_err" "gateway's XfrmInStateSeqError"
assert_eq "$(gw_in_packets)" $((gw_in + 3)) "gateway's inbound SA decrypted the new replies"
assert_eq "$(apply "$tmp/saved.json")" "$tmp/saved.json: nothing to do, the kernel matches it" \
	"the saved file still matches"

step "defaults: no anti-replay on either side's SAs"
for ns in "$GW" "$P1"; do
	assert_eq "$(ip -n "$ns" xfrm state | grep -c 'replay-window 0 ')" 2 "SAs of $ns with replay-window 0"
done
assert_eq "$(jq '.tunnels[0].replay_window' "$tmp/saved.json")" 0 "show -j: replay_window of t1"

step "anti-replay is an explicit opt-in"
tadd() { # NAME K WORDS...
	local name=$1 k=$2
	shift 2
	$XS -n "$GW" tunnel add "$name" if_id $((100 + k)) local "10.0.$k.1" remote "10.0.$k.2" \
		spi-in "$(spi_in "$k")" spi-out "$(spi_out "$k")" reqid "$k" \
		aead "$AEAD_ALG" "$(gcm_key "$k" 0)" 128 "$@" dev ipsec0
}
tadd t2 2 replay-window 32
tadd t4 4
# The kernel's view of tunnel K's SA pair: "ip xfrm state get" of each.
sa_pair() { # K
	ip -n "$GW" xfrm state get src "10.0.$1.2" dst "10.0.$1.1" proto esp spi "$(spi_in "$1")"
	ip -n "$GW" xfrm state get src "10.0.$1.1" dst "10.0.$1.2" proto esp spi "$(spi_out "$1")"
}
sa_pair 2
assert_eq "$(sa_pair 2 | grep -c 'replay-window 32 ')" 2 "t2 (replay-window 32): SAs with replay-window 32"
sa_pair 4
assert_eq "$(sa_pair 4 | grep -c 'replay-window 0 ')" 2 "t4 (the default): SAs with replay-window 0"
assert_eq "$(xsj "$GW" show | jq -c '[.tunnels[] | [.name, .replay_window]]')" \
	'[["t1",0],["t2",32],["t4",0]]' "show -j: replay_window per tunnel"

step "ESN: the kernel needs a window on an ESN SA; the default stays 32, 0 is refused"
# Control: the kernel's own rule (xfrm_init_replay), asked through ip xfrm.
assert_fails "the kernel takes no ESN SA with replay-window 0" \
	ip -n "$GW" xfrm state add src 10.0.9.1 dst 10.0.9.2 proto esp spi 0x9001 reqid 9 \
	mode tunnel flag esn replay-window 0 aead "$AEAD_ALG" "$(gcm_key 9 0)" 128
tadd t3 3 flag esn
sa_pair 3
assert_eq "$(sa_pair 3 | grep -c 'replay_window 32,')" 2 "t3 (flag esn): SAs with ESN replay_window 32"
out=$(tadd t5 5 flag esn replay-window 0 2>&1) && fail "flag esn replay-window 0 was accepted"
echo "$out"
grep -q 'flag esn needs a replay-window' <<<"$out" || fail "message: $out"
assert_eq "$(nstates "$GW")" 8 "SAs (nothing left of the refused tunnel)"

step "a file saved now (32 kept where it was set) applies without changes"
$XS -n "$GW" --show-keys -j show >"$tmp/saved2.json"
assert_eq "$(jq -c '[.tunnels[] | [.name, .replay_window, .esn]]' "$tmp/saved2.json")" \
	'[["t1",0,false],["t2",32,false],["t3",32,true],["t4",0,false]]' "saved replay windows"
s=$(snapshot "$GW")
assert_eq "$(apply "$tmp/saved2.json")" "$tmp/saved2.json: nothing to do, the kernel matches it" \
	"round trip with explicit windows"
assert_same "$(snapshot "$GW")" "$s" "state after the round trip"
jq '.tunnels[2].replay_window = 0' "$tmp/saved2.json" >"$tmp/esn0.json"
out=$(apply "$tmp/esn0.json" 2>&1) && fail "a file with esn and replay_window 0 was applied"
echo "$out"
grep -q 'esn needs a replay' <<<"$out" || fail "message: $out"
assert_same "$(snapshot "$GW")" "$s" "state after the refused file"
