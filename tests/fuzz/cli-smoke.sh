#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The CLI built with ASan and UBSan ($OUT/asan/xfrm-steer) through its
# parsing and error paths that need no kernel feature beyond rtnetlink:
# help and version, bad options, bad arguments of every object, lookups of
# devices that do not exist or are no xfrm interface, and the empty
# listings; the listings and some errors also with -j. Each must end as
# expected (exit 0, or a non-zero exit with "Error: ..." last on stderr,
# resp. one {"error": ...} object on stdout) and leave no sanitizer report
# (memory errors, undefined behaviour, leaks).
#
# It runs in a network and mount namespace of its own when it can
# (unshare -n -m), so that it sees no interface or attached device of the
# machine.
# Usage: tests/fuzz/cli-smoke.sh [BINARY]   (default: $XS_BIN, else
#        ${OUT:-build}/asan/xfrm-steer)
set -u
cd "$(dirname "$0")/../.."

XS=${1:-${XS_BIN:-${OUT:-build}/asan/xfrm-steer}}
if [ ! -x "$XS" ]; then
	echo "no ASan build of the CLI at $XS (make test-asan-build)"
	exit 1
fi
if [ -z "${XS_SMOKE_IN_NETNS:-}" ] && unshare -n -m true 2>/dev/null; then
	XS_SMOKE_IN_NETNS=1 exec unshare -n -m --propagation private "$BASH" "$0" "$XS"
fi
# The empty listings need a BPF file system. systemd mounts one; a machine
# without it gets one here, in the private mount namespace of unshare -m.
if [ -n "${XS_SMOKE_IN_NETNS:-}" ] && [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf || {
		echo "no BPF file system at /sys/fs/bpf, and mounting one failed"
		exit 1
	}
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
SAN_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|Sanitizer:DEADLYSIGNAL'
# The test key, key20 below, in any part of 8 digits or more.
KEY_RE='01020304|05060708|090a0b0c|0d0e0f10|1011121314'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=0
failures=0

bad() { # WHAT
	echo "FAIL: $1"
	sed 's/^/    stdout| /' "$tmp/out"
	sed 's/^/    stderr| /' "$tmp/err"
	failures=$((failures + 1))
}

# run EXPECT ARGS...: EXPECT is ok (exit 0), err (an error report) or
# usage (exit 2: the grammar on stderr, no error line).
run() {
	local expect=$1 rc
	shift
	runs=$((runs + 1))
	# Nothing here may wait: a command that does (a monitor started by
	# mistake) fails on the time limit.
	timeout -k 5 30 "$XS" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if grep -qaE "$SAN_RE" "$tmp/out" "$tmp/err"; then
		bad "'$*': sanitizer report"
		return
	fi
	# No run shows the test key (below), whatever it was asked.
	if grep -qaE "$KEY_RE" "$tmp/out" "$tmp/err"; then
		bad "'$*': the key shows in its output"
		return
	fi
	case $expect in
	ok) [ "$rc" -eq 0 ] || bad "'$*': exit $rc, expected 0" ;;
	usage) [ "$rc" -eq 2 ] || bad "'$*': exit $rc, expected 2" ;;
	err)
		if [ "$rc" -eq 0 ]; then
			bad "'$*': exit 0, expected an error"
		elif [ "$1" = -j ]; then
			jq -e -s 'length == 1 and (.[0].error | type) == "string"' \
				"$tmp/out" >/dev/null 2>&1 ||
				bad "'$*': stdout is not one {\"error\": ...} object"
		elif ! tail -n1 "$tmp/err" | grep -q '^Error: '; then
			bad "'$*': stderr does not end in \"Error: ...\""
		fi
		;;
	esac
}

# Both forms of a command.
both() { # EXPECT ARGS...
	local expect=$1
	shift
	run "$expect" "$@"
	run "$expect" -j "$@"
}

# Help, version, options
both ok help
both ok version
run ok -V
run ok --help
run ok -jp version
for obj in link attach detach route stats; do
	run ok "$obj" help
done
run usage
run usage -x
run usage -j
both err frobnicate
run err -n does-not-exist link show
run err -n a/b link show
run err -n .. link show

# link
both ok link show
both ok link
both err link show lo
run err link show lo extra
run err link show ''
run err link show 0123456789abcdefXYZ
run err link show 'a/b'
run err link show 'a b'
run err link add
run err link add a b
both err link add 'ipsec%d'
run err link add 0123456789abcdefXYZ
run err link add ..
run err link del
run err link del nonexistent0
both err link del lo
run err link frob

# attach, detach
run err attach
run err attach dev
run err attach frob
run err attach dev x tenant-key
run err attach dev x tenant-key bogus
run err attach dev x tenant-key mark
both err attach dev x tenant-key mark 0
run err attach dev x tenant-key mark 0x1ffffffff
run err attach dev x tenant-key mark 0x-1
run err attach dev x routes 0
run err attach dev x routes 16777217
run err attach dev x tunnels many
run err attach dev x rpf sometimes
run err attach dev x tenant-key iif mark-ingress on
run err attach dev nonexistent0
both err attach dev lo
run err attach dev 0123456789abcdefXYZ
run err detach
run err detach dev
run err detach dev a/b
run err detach dev 0123456789abcdefXYZ
both err detach dev nonexistent0
run err detach frob

# route
both ok route
both ok route show
both ok route list
run err route add
both err route add 10.0.0.0/33 if_id 1 dev x
run err route add 10.1.2.3/16 if_id 1 dev x
run err route add 10.0.0.0/8x if_id 1 dev x
run err route add 2001:db8::/129 if_id 1 dev x
run err route add 2001:db8:::/64 if_id 1 dev x
run err route add 10.0.0.0/8 dev x
run err route add 10.0.0.0/8 if_id 1
run err route add 10.0.0.0/8 if_id 0 dev x
run err route add 10.0.0.0/8 if_id 4294967296 dev x
run err route add 10.0.0.0/8 if_id 0x0x1 dev x
run err route add 10.0.0.0/8 if_id ' 1' dev x
run err route add 10.0.0.0/8 if_id 1 dev
run err route add 10.0.0.0/8 if_id 1 tenant
run err route add 10.0.0.0/8 if_id 1 bogus 1 dev x
both err route add 10.0.0.0/8 if_id 1 dev nonexistent0
run err route add ::/0 if_id 1 tenant 0x100 dev nonexistent0
run err route del 10.0.0.0/8 if_id 1 dev x
run err route del 10.0.0.0/8 dev nonexistent0
both err route show dev
run err route show bogus
run err route show dev nonexistent0
run err route frob

# stats
both ok stats
both ok stats show
both ok stats drops
both ok stats if_id 7
run ok -h stats
run ok -s stats
run err stats dev
run err stats if_id
both err stats if_id x
run err stats if_id -1
run err stats drops if_id 1
run err stats bogus
both err stats dev nonexistent0
run err stats drops dev nonexistent0

# Every object the help lists, those above and the ones added since,
# refuses a word it does not know.
objects=$("$XS" help 2>&1 | sed -n '/OBJECT := {/,/}/p' | tr -d '{}|' |
	sed 's/.*OBJECT :=//')
[ -n "$objects" ] || {
	echo "FAIL: no OBJECT list in the help"
	failures=$((failures + 1))
}
for obj in $objects; do
	both err "$obj" no-such-word
done

# Keys: refused before anything reaches the kernel, and no message shows
# them, not even in part.
key20=0x0102030405060708090a0b0c0d0e0f1011121314
secret() { # ARGS... (a command that must fail without showing key20)
	run err "$@"
	if grep -qaE '0102030405060708|1011121314' "$tmp/out" "$tmp/err"; then
		bad "'$*': the key shows in its output"
	fi
}
sa_add=(sa add src 10.0.0.1 dst 10.0.0.2 spi 0x1000)
secret "${sa_add[@]}" aead aes-gcm "${key20}zz" 128
secret "${sa_add[@]}" aead aes-gcm "${key20}0" 128
secret "${sa_add[@]}" aead aes-gcm "${key20}0102" 128
secret "${sa_add[@]}" aead aes-gcm "$key20" 100
secret "${sa_add[@]}" aead no-such-alg "$key20" 128
secret "${sa_add[@]}" enc aes-cbc "$key20"
secret "${sa_add[@]}" enc aes-cbc 0x00112233445566778899aabbccddeeff auth sha256 "$key20"
secret -j "${sa_add[@]}" aead aes-gcm "${key20}0" 128
secret sa add src 10.0.0.1 dst 2001:db8::2 spi 0x1000 aead aes-gcm "$key20" 128
secret sa add src 10.0.0.1 dst 10.0.0.2 spi 1 aead aes-gcm "$key20" 128
secret tunnel add bad/name if_id 1 local 10.0.0.1 remote 10.0.0.2 spi-in 0x1000 \
	spi-out 0x1001 aead aes-gcm "$key20" 128 dev x
printf '  %s0\n' "$key20" >"$tmp/key"
secret "${sa_add[@]}" aead aes-gcm "@$tmp/key" 128
: >"$tmp/empty"
run err "${sa_add[@]}" aead aes-gcm "@$tmp/empty" 128
run err "${sa_add[@]}" aead aes-gcm "@$tmp/no-such-file" 128
run err "${sa_add[@]}" aead aes-gcm @ 128

# A key in the place of every other word (issue 18): named as such, not
# echoed. NOT_SHOWN is what stands in for it.
NOT_SHOWN='(value not shown: it looks like key material)'
hidden() { # ARGS... (refused, the message says the value is not shown)
	secret "$@"
	grep -qF "$NOT_SHOWN" "$tmp/err" "$tmp/out" || bad "'$*': no \"$NOT_SHOWN\""
}
hidden "$key20"
hidden sa "$key20"
hidden tunnel "$key20"
secret "${sa_add[@]}" aead "$key20" "$key20" 128
secret "${sa_add[@]}" aead "${key20#0x}" "$key20" 128
hidden "${sa_add[@]}" aead aes-gcm "$key20" 128 "$key20"
hidden "${sa_add[@]}" aead aes-gcm "$key20" "$key20"
hidden "${sa_add[@]}" mode "$key20" aead aes-gcm "$key20" 128
hidden "${sa_add[@]}" reqid "$key20" aead aes-gcm "$key20" 128
hidden "${sa_add[@]}" replay-window "$key20" aead aes-gcm "$key20" 128
hidden "${sa_add[@]}" flag "$key20" aead aes-gcm "$key20" 128
hidden "${sa_add[@]}" if_id "$key20" aead aes-gcm "$key20" 128
hidden "${sa_add[@]}" encap espinudp "$key20" 4500 aead aes-gcm "$key20" 128
hidden sa add src "$key20" dst 10.0.0.2 spi 0x1000 aead aes-gcm "$key20" 128
hidden sa add src 10.0.0.1 dst 10.0.0.2 spi "$key20" aead aes-gcm "$key20" 128
hidden sa del src 10.0.0.1 dst 10.0.0.2 spi 0x1000 "$key20"
hidden sa show "$key20"
hidden -j sa show if_id "$key20"
hidden sa flush "$key20"
tun=(tunnel add t1 if_id 1 local 10.0.0.1 remote 10.0.0.2 spi-in 0x1000 spi-out 0x1001)
hidden tunnel add "$key20" if_id 1 local 10.0.0.1 remote 10.0.0.2 spi-in 0x1000 \
	spi-out 0x1001 aead aes-gcm "$key20" 128 dev x
secret "${tun[@]}" aead "$key20" "$key20" 128 dev x
secret "${tun[@]}" aead "${key20#0x}" "$key20" 128 dev x
hidden "${tun[@]}" aead aes-gcm "$key20" "$key20" dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 "$key20" dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 mode "$key20" dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 flag "$key20" dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 tenant "$key20" dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 prefix "$key20" dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 dev "$key20"
hidden "${tun[@]}" aead aes-gcm "$key20" 128 encap espinudp "$key20" 4500 dev x
hidden "${tun[@]}" aead aes-gcm "$key20" 128 reqid "$key20" dev x
hidden tunnel add t1 if_id "$key20" local 10.0.0.1 remote 10.0.0.2 spi-in 0x1000 \
	spi-out 0x1001 aead aes-gcm "$key20" 128 dev x
hidden tunnel add t1 if_id 1 local "$key20" remote 10.0.0.2 spi-in 0x1000 \
	spi-out 0x1001 aead aes-gcm "$key20" 128 dev x
hidden tunnel del "$key20"
hidden tunnel show "$key20"
hidden apply "$key20"
hidden show "$key20"
# Error paths that returned before the keys were wiped: ASan's leak check
# sees keys that are never freed.
secret "${tun[@]}" out-key "$key20" aead aes-gcm "$key20" 128 encap espinudp 1
secret "${tun[@]}" out-key "$key20" aead aes-gcm "$key20" 128 out-auth-key
secret "${tun[@]}" out-key "$key20" out-key "$key20" aead aes-gcm "$key20" 128 bogus

# One key both ways under one SPI: refused with the fixes named; with
# out-key or flag same-spi the parse passes (and the missing device fails).
same=(tunnel add t1 if_id 1 local 10.0.0.1 remote 10.0.0.2 spi-in 0x1000 spi-out 0x1000
	aead aes-gcm "$key20" 128)
secret "${same[@]}" dev x
grep -q 'one key serves both directions.*distinct SPIs.*out-key.*flag same-spi' "$tmp/err" ||
	bad "'${same[*]} dev x': the message does not name the fixes"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || bad "'${same[*]} dev x': not one line"
for extra in "flag same-spi" "out-key 0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4"; do
	# shellcheck disable=SC2086 # two words each
	secret "${same[@]}" $extra dev x
	grep -q 'both directions' "$tmp/err" && bad "'${same[*]} $extra': refused as same-spi"
done
secret "${tun[@]}" aead aes-gcm "$key20" 128 flag no-such-flag dev x
grep -q 'invalid flag "no-such-flag" (esn or same-spi)' "$tmp/err" || bad "flag: $(cat "$tmp/err")"

# Key files: refused when others may read them or another user owns them,
# with the fix; a private one is read (and the SA then fails for want of
# a kernel with ESP, or of anything else, but not for the file).
printf '%s\n' "$key20" >"$tmp/pub.key"
chmod 644 "$tmp/pub.key"
secret "${sa_add[@]}" aead aes-gcm "@$tmp/pub.key" 128
grep -qF "chmod 600 $tmp/pub.key" "$tmp/err" || bad "0644 key file: $(cat "$tmp/err")"
secret "${tun[@]}" aead aes-gcm "@$tmp/pub.key" 128 out-key "@$tmp/pub.key" dev x
cp "$tmp/pub.key" "$tmp/priv.key"
chmod 600 "$tmp/priv.key"
secret "${sa_add[@]}" aead aes-gcm "@$tmp/priv.key" 128
grep -q 'key file' "$tmp/err" && bad "0600 key file refused: $(cat "$tmp/err")"
if [ "$(id -u)" -eq 0 ]; then
	chown 65534 "$tmp/priv.key"
	secret "${sa_add[@]}" aead aes-gcm "@$tmp/priv.key" 128
	grep -qF "chown root $tmp/priv.key" "$tmp/err" || bad "a nobody's key file: $(cat "$tmp/err")"
fi

echo "$runs commands, $failures failed (binary $XS)"
[ "$failures" -eq 0 ]
