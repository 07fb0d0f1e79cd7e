# SPDX-License-Identifier: GPL-2.0
# Shared by tests/run-all.sh (host) and tests/run-vm.sh (guest): run test
# programs, print one PASS/FAIL/SKIP line per test case, keep the counts.
# Integration scripts exit 0 (pass), 77 (skip, reason on the last line) or
# anything else (fail). cmocka binaries are read through their TAP output.

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
SKIPPED_LINES=() # "NAME (REASON)", for the summary

result() { # STATUS NAME [DETAIL]
	case $1 in
	PASS) PASSED=$((PASSED + 1)) ;;
	FAIL)
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$2")
		;;
	SKIP)
		SKIPPED=$((SKIPPED + 1))
		SKIPPED_LINES+=("$2${3:+ ($3)}")
		;;
	esac
	printf '%-4s %s%s\n' "$1" "$2" "${3:+ ($3)}"
}

# Run a cmocka binary; one result per test case. When it fails, its output
# comes first, so that a failure's own lines stand just before its FAIL line
# (scripts/failure-digest.sh reads them there).
run_cmocka() { # LABEL BINARY
	local label=$1 bin=$2 log line rc name
	local -a results=()
	log=$(mktemp)
	CMOCKA_MESSAGE_OUTPUT=TAP "$bin" >"$log" 2>&1
	rc=$?
	local failed=0
	while IFS= read -r line; do
		case $line in
		"ok "*"# SKIP"*)
			name=${line#ok * - }
			results+=("SKIP|$label/${name%% #*}|${line##*# SKIP}")
			;;
		"ok "*)
			results+=("PASS|$label/${line#ok * - }|")
			;;
		"not ok "*)
			results+=("FAIL|$label/${line#not ok * - }|")
			failed=1
			;;
		esac
	done <"$log"
	[ "$rc" -ne 0 ] || [ ${#results[@]} -eq 0 ] && sed 's/^/    | /' "$log"
	for line in "${results[@]}"; do
		IFS='|' read -r st name detail <<<"$line"
		result "$st" "$name" "$detail"
	done
	if [ "$rc" -ne 0 ] || [ ${#results[@]} -eq 0 ]; then
		if [ ${#results[@]} -eq 0 ]; then
			result FAIL "$label" "exit $rc, no test ran"
		elif [ "$failed" -eq 0 ]; then
			# Ended badly outside any test's result: a crash, or a
			# sanitizer report (leaks are found at exit).
			result FAIL "$label" "exit $rc, with no failed test to explain it"
		fi
	fi
	rm -f "$log"
}

# Run an integration script; its output is shown only when it fails.
run_script() { # NAME SCRIPT [TIMEOUT]
	local name=$1 script=$2 limit=${3:-600} log rc start secs
	log=$(mktemp)
	start=$(date +%s)
	timeout --kill-after=10 "$limit" bash "$script" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ]; then
		result PASS "$name" "${secs}s"
		[ -n "${V:-}" ] && sed 's/^/    | /' "$log"
	elif [ "$rc" -eq 77 ]; then
		result SKIP "$name" "$(grep -v '^$' "$log" | tail -n1)"
	else
		[ "$rc" -eq 124 ] && echo "    | timed out after ${limit}s" >>"$log"
		sed 's/^/    | /' "$log"
		result FAIL "$name" "exit $rc, ${secs}s"
	fi
	rm -f "$log"
}

matches_filter() { # NAME FILTER: FILTER is words, split at commas; any may match
	local f
	[ -z "$2" ] && return 0
	for f in ${2//,/ }; do
		[[ $1 == *"$f"* ]] && return 0
	done
	return 1
}
