#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The failed tests of a `make test` log, each with the last lines it printed
# (tests/runner.sh shows a failed script's output as "    | " lines just
# before its FAIL line; with several VMs each line starts with "vmN| ").
# .ci/run prints this last, so a CI report that keeps only the end of a long
# log still says why a test failed.
# Usage: scripts/failure-digest.sh [LINES] <LOG
set -eu
lines=${1:-12}
awk -v keep="$lines" '
{
	vm = ""
	line = $0
	if (match(line, /^vm[0-9]+\| /)) {
		vm = substr(line, 1, RLENGTH)
		line = substr(line, RLENGTH + 1)
	}
}
line ~ /^    \| / {
	n[vm]++
	ring[vm, n[vm] % keep] = line
	next
}
line ~ /^FAIL / {
	print vm line
	first = n[vm] - keep + 1
	if (first < 1)
		first = 1
	for (i = first; i <= n[vm]; i++)
		print vm ring[vm, i % keep]
	found = 1
	n[vm] = 0
}
END { exit found ? 0 : 1 }
'
