#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The README's quick start works when followed word for word: its commands
# are examples/quickstart.sh's, and running that script gets pings through
# the tunnel, counted by the branch's SAs (the kernel) and by xfrm-steer.
. "$(dirname "$0")/lib.sh"

script=$PWD/examples/quickstart.sh
TMP=$(mktemp -d)

step "README and examples/quickstart.sh agree"
# The README's block: the sh fence after the quick start marker.
awk '/<!-- quickstart -->/ { on = 1; next } on && /^```sh$/ { body = 1; next }
	body && /^```$/ { exit } body' README.md >"$TMP/readme.sh"
[ -s "$TMP/readme.sh" ] || fail "no quick start block in README.md"
# The script's commands: everything after "set -ex" and the blank line.
awk 'seen { print } /^set -ex$/ { seen = 1; getline }' "$script" >"$TMP/script.sh"
diff -u "$TMP/readme.sh" "$TMP/script.sh" || fail "the README's quick start differs from $script"

trap 'rm -rf "$TMP"' EXIT
need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
for ns in gw branch; do
	ip netns list | grep -qw "$ns" && fail "netns $ns exists already: the quick start would clash"
done
trap 'ip netns del gw 2>/dev/null || true; ip netns del branch 2>/dev/null || true; rm -rf "$TMP"' EXIT

step "run it"
# As a user would after make install: xfrm-steer found on PATH.
PATH=$(dirname "$XS"):$PATH sh "$script" >"$TMP/out" 2>&1 || {
	cat "$TMP/out"
	fail "the quick start failed"
}
cat "$TMP/out"

step "what the kernel and xfrm-steer counted"
grep -q '3 packets transmitted, 3 received' "$TMP/out" || fail "not every ping was answered"
# ip -s xfrm state: "lifetime current:" then "BYTES(bytes), PACKETS(packets)".
sa_packets() { # SPI
	awk -v spi="spi $1" 'index($0, spi) { on = 1 }
		on && /lifetime current:/ { getline; gsub(/[(),a-z]/, " "); print $2; exit }' "$TMP/out"
}
assert_eq "$(sa_packets 0x00001001)" 3 "packets the branch decrypted (SA 0x1001)"
assert_eq "$(sa_packets 0x00002001)" 3 "packets the branch encrypted (SA 0x2001)"
# xfrm-steer stats: "dev if_id tx_packets tx_bytes rx_packets ...".
assert_eq "$(awk '$1 == "ipsec0" && $2 == "101" { print $3, $5; exit }' "$TMP/out")" "3 3" \
	"packets xfrm-steer counted for if_id 101, out and in"
