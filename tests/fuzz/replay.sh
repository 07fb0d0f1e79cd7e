#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Replay a fuzz target's committed inputs: its seed corpus
# (tests/fuzz/corpus/TARGET/) and the reproducers of crashes found before
# (tests/fuzz/regress/TARGET/), each run once, under ASan and UBSan. Fails
# on any crash, sanitizer report or broken property; fast (no fuzzing).
# Usage: tests/fuzz/replay.sh [BINARY]   (default: $FUZZ_BIN; run-all.sh
#        passes it that way)
set -u
cd "$(dirname "$0")/../.."

bin=${1:-${FUZZ_BIN:-}}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "no fuzz target binary \"$bin\" (make fuzz-build)" >&2
	exit 1
fi
target=$(basename "$bin")
inputs=()
for dir in "tests/fuzz/corpus/$target" "tests/fuzz/regress/$target"; do
	[ -d "$dir" ] || continue
	while IFS= read -r -d '' f; do
		inputs+=("$f")
	done < <(find "$dir" -type f -print0 | sort -z)
done
if [ ${#inputs[@]} -eq 0 ]; then
	# Without file arguments libFuzzer would start fuzzing.
	echo "$target: no inputs to replay"
	exit 0
fi

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if "$bin" -timeout=10 -rss_limit_mb=2048 "${inputs[@]}" >"$log" 2>&1; then
	echo "$target: ${#inputs[@]} inputs replayed"
	exit 0
fi
cat "$log"
echo "$target: an input failed (the last \"Running:\" line above names it)"
exit 1
