#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# iproute2's manners, on the build machine (no kernel feature needed):
# help asked for is on stdout with exit 0, the usage after a usage error
# on stderr with exit 2, an error one "Error:" line on stderr with exit 1;
# -force is taken like -batch; an abbreviation of several objects or
# commands is refused with its candidates, a unique one runs.
# Usage: tests/host-manners.sh [XFRM_STEER]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
XS=${1:-${XS:-build/xfrm-steer}}
[ -x "$XS" ] || { echo "host-manners: $XS is missing (make first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
	echo "FAIL: $*"
	sed 's/^/    stdout| /' "$tmp/out" | head -5
	sed 's/^/    stderr| /' "$tmp/err" | head -5
	failed=1
}

# expect RC OUT ERR ARGS...: OUT and ERR are "empty", "usage" (starts
# with "Usage:"), "error" (one line "Error: ...") or "any".
expect() {
	local rc=$1 want_out=$2 want_err=$3 got s f
	shift 3
	timeout 10 "$XS" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	[ "$got" -eq "$rc" ] || { fail "'$*': exit $got, expected $rc"; return; }
	for s in out err; do
		f=$tmp/$s
		case $([ $s = out ] && echo "$want_out" || echo "$want_err") in
		empty) [ ! -s "$f" ] || { fail "'$*': std$s is not empty"; return; } ;;
		usage) head -n1 "$f" | grep -q '^Usage: ' || { fail "'$*': std$s is no usage"; return; } ;;
		error)
			[ "$(wc -l <"$f")" -eq 1 ] && grep -q '^Error: ' "$f" ||
				{ fail "'$*': std$s is not one Error: line"; return; }
			;;
		esac
	done
	echo "ok: '$*' -> exit $rc, stdout $want_out, stderr $want_err"
}

# Help when asked for: stdout, exit 0, so that "xfrm-steer sa help | less"
# shows it.
expect 0 usage empty help
expect 0 usage empty --help
objects=$("$XS" help | sed -n '/OBJECT := {/,/}/p' | tr -d '{}|' | sed 's/.*OBJECT :=//')
[ "$(wc -w <<<"$objects")" -ge 14 ] || fail "help lists $(wc -w <<<"$objects") objects"
for obj in $objects; do
	expect 0 usage empty "$obj" help
done
"$XS" sa help | grep -q 'rfc4106(gcm(aes))' || fail "sa help lacks its algorithm table on stdout"
# A usage error: the usage on stderr, exit 2.
expect 2 empty usage
expect 2 empty any -x
# An error: one line on stderr, exit 1.
expect 1 empty error frobnicate

# Abbreviations: unique ones run, ambiguous ones are refused by name.
expect 1 empty error s
grep -q '"s" is ambiguous: stats, secpath, sa, show' "$tmp/err" || fail "'s' does not name its candidates"
expect 1 empty error s help
expect 0 usage empty st help
expect 0 usage empty se help
expect 0 usage empty ro help
expect 0 usage empty sh help
expect 0 usage empty h
# A full name wins even where it is the prefix of another ("sa").
expect 0 usage empty sa help

# -batch and -force, in ip's spellings and the long ones.
printf 'version\nfrobnicate\nversion\n' >"$tmp/batch"
for opts in "-batch $tmp/batch" "-b $tmp/batch" "--batch $tmp/batch"; do
	# shellcheck disable=SC2086 # the options' words
	"$XS" $opts >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 1 ] && [ "$(grep -c '^xfrm-steer ' "$tmp/out")" -eq 1 ] ||
		fail "'$opts': exit $rc, $(grep -c '^xfrm-steer ' "$tmp/out") commands run; expected 1 and 1 (stop at the error)"
	for force in -force -f --force; do
		# shellcheck disable=SC2086
		"$XS" $opts $force >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ "$rc" -eq 1 ] && [ "$(grep -c '^xfrm-steer ' "$tmp/out")" -eq 2 ]; then
			echo "ok: '$opts $force' runs on after the error, exit 1"
		else
			fail "'$opts $force': exit $rc, $(grep -c '^xfrm-steer ' "$tmp/out") commands run; expected 1 and 2"
		fi
	done
done
exit $failed
