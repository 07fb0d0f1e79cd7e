#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the libFuzzer targets of tests/fuzz/ (`make fuzz`, `make fuzz-regress`).
#
# Usage: scripts/fuzz.sh run FUZZ_OUT SECONDS [TARGET...]
#        scripts/fuzz.sh replay FUZZ_OUT [TARGET...]
#
# run: fuzz each target (default: every FUZZ_OUT/fuzz_*) for SECONDS, one
# after the other, on one core. Each starts from its working corpus in
# FUZZ_OUT/corpus/TARGET/ (what earlier runs found, plus the committed
# seeds copied in) and also reads tests/fuzz/regress/TARGET/; new inputs go
# to the working corpus only, so tests/fuzz/corpus/ stays small and
# curated. A crash is saved to FUZZ_OUT/crashes/TARGET/ and fails the run;
# keep it as tests/fuzz/regress/TARGET/NAME once the bug is fixed.
#
# replay: run the committed seeds and reproducers once (tests/fuzz/replay.sh).
set -u
cd "$(dirname "$0")/.."

usage() {
	sed -n '/^# Usage/,/^# replay/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
mode=$1 out=$2
shift 2
if [ "$mode" = run ]; then
	[ $# -ge 1 ] || usage
	seconds=$1
	shift
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for bin in "$out"/fuzz_*; do
		[ -x "$bin" ] && targets+=("$(basename "$bin")")
	done
fi
[ ${#targets[@]} -gt 0 ] || {
	echo "no fuzz targets in $out (make fuzz-build)" >&2
	exit 1
}

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# The last status line of a libFuzzer log: "#N DONE cov: C ft: F corp: K/..."
field() { # LOG NAME
	grep -aE '^#[0-9]+' "$1" | tail -n1 | sed -nE "s/.* $2: ([0-9]+).*/\1/p"
}

fuzz_one() { # TARGET
	local t=$1 bin=$out/$1 work=$out/corpus/$1 crashes=$out/crashes/$1
	local log=$out/log/$1.log dict=tests/fuzz/$1.dict rc execs rate dirs
	local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1 -artifact_prefix="$crashes/")

	if [ ! -x "$bin" ]; then
		echo "FAIL $t (no binary $bin)"
		return 1
	fi
	mkdir -p "$work" "$crashes" "$out/log"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -n "tests/fuzz/corpus/$t"/* "$work"/ 2>/dev/null
	fi
	[ -f "$dict" ] && args+=(-dict="$dict")
	dirs=("$work")
	[ -d "tests/fuzz/regress/$t" ] && dirs+=("tests/fuzz/regress/$t")

	echo "== $t: fuzzing for ${seconds}s (log: $log)"
	"$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log")
	rate=$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$log")
	if [ "$rc" -eq 0 ]; then
		echo "PASS $t: ${execs:-?} runs (${rate:-?}/s), cov $(field "$log" cov)," \
			"ft $(field "$log" ft), corpus $(find "$work" -type f | wc -l) inputs"
		return 0
	fi
	# The report: from the sanitizer's or the property's first line on.
	grep -anE '==[0-9]+==ERROR|property violated|runtime error|libFuzzer: (deadly|timeout|out-of-memory)' \
		"$log" | head -n1 | cut -d: -f1 | {
		read -r first
		tail -n +"${first:-1}" "$log" | grep -av '^ *#[0-9]* 0x.* in fuzzer::' | head -n 60
	} | sed 's/^/    | /'
	echo "FAIL $t: exit $rc after ${execs:-?} runs; input(s) in $crashes/:"
	ls -1 "$crashes" | sed 's/^/    /'
	echo "    reproduce: $bin $crashes/<file>; once fixed, keep it in tests/fuzz/regress/$t/"
	return 1
}

failed=()
for t in "${targets[@]}"; do
	case $mode in
	run) fuzz_one "$t" || failed+=("$t") ;;
	replay) tests/fuzz/replay.sh "$out/$t" || failed+=("$t") ;;
	*) usage ;;
	esac
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz $mode failed: ${failed[*]}"
	exit 1
fi
