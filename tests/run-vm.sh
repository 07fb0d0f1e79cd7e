#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The integration suite, run as root inside the test VM (scripts/vmtest.sh):
# the datapath unit tests against the real kernel, then each
# tests/test-*.sh. Ends with a "vm-skip NAME (REASON)" line per skipped test
# and "vm-summary PASSED FAILED SKIPPED KERNEL".
set -u
cd "$(dirname "$0")/.."
. tests/runner.sh

filter=${1:-}
OUT=${OUT:-build}
echo "kernel $(uname -r)"

# Several VMs may share one suite (tests/run-all.sh, XS_VM_SHARDS): each
# takes the next test nobody has taken yet by creating its name in the
# queue directory XS_VM_QUEUE (on the host's file system, shared through
# virtio-fs; mkdir is atomic there), so the VMs stay busy until the end.
take() { # NAME
	[ -z "${XS_VM_QUEUE:-}" ] || mkdir "$XS_VM_QUEUE/$1" 2>/dev/null
}

# The kfuncs live in the xfrm_interface module; load it before any BPF
# object that calls them (creating an xfrm link would autoload it too).
modprobe xfrm_interface 2>/dev/null

if matches_filter test_datapath "$filter" && take test_datapath; then
	XS_EXPECT_KFUNC=1 run_cmocka "vm/test_datapath" "$OUT/tests/test_datapath"
fi
for t in tests/test-*.sh; do
	name=$(basename "$t" .sh)
	matches_filter "$name" "$filter" || continue
	take "$name" || continue
	run_script "vm/$name" "$t"
done
[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "vm failures: ${FAILED_NAMES[*]}"
for s in "${SKIPPED_LINES[@]}"; do
	echo "vm-skip $s"
done
echo "vm-summary $PASSED $FAILED $SKIPPED $(uname -r)"
[ "$FAILED" -eq 0 ]
