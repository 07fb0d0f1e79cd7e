#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test VM N times in a row (scripts/vmtest.sh -- true) and count
# how many runs succeeded, how many of them needed a retried boot and why.
# Not part of `make test`: N boots take N x 5-15 s.
#
# Usage: scripts/vm-boot-loop.sh [--no-check] N
#   First (unless --no-check) it checks vmtest's retry rules with injected
#   failures: a boot that panics before the command is booted again and the
#   command then succeeds; a command that fails, or a kernel that dies after
#   the command started, is not retried.  Then the N boots.
# The environment goes to vmtest.sh as it is (XS_KERNEL=newest,
# XS_VM_TCG_THREAD=single, XS_VM_BOOT_ATTEMPTS=1 to count raw boot
# failures, ...).
# Exit status: 0 when every check and every run succeeded, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

check=1
if [ "${1:-}" = --no-check ]; then
	check=0
	shift
fi
n=${1:-}
if ! [[ $n =~ ^[0-9]+$ ]]; then
	echo "Usage: scripts/vm-boot-loop.sh [--no-check] N" >&2
	exit 2
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
bad=0

# Run vmtest with the given environment words and command; sets RC, the
# output is in $log.
vm() { # [VAR=VALUE...] -- COMMAND...
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	RC=0
	env "${envs[@]}" scripts/vmtest.sh -- "$@" >"$log" 2>&1 || RC=$?
}

check_fail() {
	echo "boot-loop: CHECK FAILED: $*"
	sed 's/^/    | /' "$log" | grep -av '^    | \[' | tail -n 20
	bad=1
}

retries_in_log() {
	grep -ac '^vmtest: boot [0-9]* of [0-9]* failed' "$log" || true
}

if [ "$check" = 1 ]; then
	vm XS_VM_INJECT_BOOT_PANIC=1 -- sh -c 'echo xs-boot-loop-ran'
	if [ "$RC" -ne 0 ] || [ "$(retries_in_log)" -ne 1 ] || ! grep -aq '^xs-boot-loop-ran$' "$log" ||
		! grep -aq 'Kernel panic.*xs-injected-boot-panic' "$log"; then
		check_fail "an injected early panic was not retried once with its reason (exit $RC)"
	else
		echo "boot-loop: check ok: an early panic is booted again, reported: $(grep -a -m1 '^vmtest: boot 1 of' "$log" | cut -c1-150)..."
	fi
	vm -- sh -c 'exit 7'
	if [ "$RC" -ne 7 ] || [ "$(retries_in_log)" -ne 0 ]; then
		check_fail "a command's own failure was retried or lost (exit $RC, expected 7)"
	else
		echo "boot-loop: check ok: a failing command is not retried (exit 7)"
	fi
	vm -- sh -c 'echo c >/proc/sysrq-trigger; sleep 30'
	if [ "$RC" -ne 125 ] || [ "$(retries_in_log)" -ne 0 ] || ! grep -aq 'after the command started' "$log"; then
		check_fail "a kernel crash after the command started was retried or not reported (exit $RC)"
	else
		echo "boot-loop: check ok: a crash after the command started is not retried (exit 125)"
	fi
fi

ok=0
ok_retried=0
failed=0
boots=0
reasons=()
start=$SECONDS
for i in $(seq "$n"); do
	t0=$SECONDS
	vm -- true
	r=$(retries_in_log)
	boots=$((boots + r + 1))
	if [ "$RC" -eq 0 ]; then
		ok=$((ok + 1))
		[ "$r" -eq 0 ] || ok_retried=$((ok_retried + 1))
		echo "boot-loop: run $i/$n ok, $((r + 1)) boot(s), $((SECONDS - t0)) s"
	else
		failed=$((failed + 1))
		echo "boot-loop: run $i/$n FAILED (exit $RC), $((SECONDS - t0)) s"
		grep -a '^vmtest: ' "$log" | head -n 5 | sed 's/^/    | /'
	fi
	while IFS= read -r line; do
		reasons+=("$line")
	done < <(grep -a '^vmtest: boot [0-9]* of [0-9]* failed' "$log" | sed 's/; console log .*//')
	if [ "$RC" -ne 0 ]; then
		while IFS= read -r line; do
			reasons+=("$line")
		done < <(grep -a -m1 '^vmtest: VM ' "$log")
	fi
done

echo
for line in "${reasons[@]}"; do
	echo "boot-loop: retry/failure: ${line#vmtest: }"
done
echo "boot-loop: $n runs in $((SECONDS - start)) s: $ok ok ($ok_retried of them after a retried boot), $failed failed; $boots boots, $((boots - n)) retried"
[ "$bad" -eq 0 ] && [ "$failed" -eq 0 ]
