#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make test`: unit tests on this machine, then the integration suite inside
# one VM boot of a real kernel, then the skipped tests with their reasons and
# one summary line.
# Usage: tests/run-all.sh [--vm-only] [FILTER]
#   FILTER     only tests whose name contains FILTER
#   --vm-only  only the integration suite (make test-newest)
# The VM's kernel is scripts/vmtest.sh's choice: XS_KERNEL=newest for
# Debian's newest, XS_KERNEL_VERSION for one version.
set -u
cd "$(dirname "$0")/.."
. tests/runner.sh

host=1
if [ "${1:-}" = --vm-only ]; then
	host=0
	shift
fi
filter=${1:-}
OUT=${OUT:-build}

# Some host tests run the CLI's listings, which need a BPF file system at
# /sys/fs/bpf. systemd mounts one; on a machine without it the suite runs in
# a private mount namespace with one of its own, leaving the machine as it was.
if [ "$host" = 1 ] && [ -z "${XS_SUITE_BPFFS:-}" ] &&
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ] &&
	unshare -m true 2>/dev/null; then
	echo "run-all: no BPF file system at /sys/fs/bpf; the suite mounts its own in a private mount namespace"
	XS_SUITE_BPFFS=1 exec unshare -m --propagation private \
		sh -c 'mount -t bpf bpf /sys/fs/bpf && exec "$0" "$@"' "$PWD/tests/run-all.sh" "$@"
fi

# A test on this machine runs unless --vm-only or FILTER leaves it out.
host_selected() { # NAME
	[ "$host" = 1 ] && matches_filter "$1" "$filter"
}

[ "$host" = 0 ] || echo "== unit tests (this machine, kernel $(uname -r))"
for bin in "$OUT"/tests/test_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	host_selected "$name" || continue
	run_cmocka "host/$name" "$bin"
done

# The sanitizer builds (make test-asan-build), where they exist: the unit
# tests again, a CLI smoke run and the fuzz targets' committed inputs, all
# under ASan and UBSan. Every name starts with "asan/".
if [ "$host" = 1 ] && { [ -d "$OUT/asan" ] || [ -d "$OUT/fuzz" ]; }; then
	echo "== sanitizers (ASan, UBSan)"
fi
for bin in "$OUT"/asan/tests/test_*; do
	[ -x "$bin" ] || continue
	name=asan/$(basename "$bin")
	host_selected "$name" && run_cmocka "$name" "$bin"
done
if [ -x "$OUT/asan/xfrm-steer" ] && host_selected asan/cli-smoke; then
	XS_BIN=$OUT/asan/xfrm-steer run_script asan/cli-smoke tests/fuzz/cli-smoke.sh 300
fi
for bin in "$OUT"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=asan/$(basename "$bin")
	host_selected "$name" && FUZZ_BIN=$bin run_script "$name" tests/fuzz/replay.sh 300
done

# Checks that need no kernel feature run here, where starting a process is
# cheap: tests/host-*.sh.
for t in tests/host-*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	host_selected "$name" && run_script "host/$name" "$t"
done

vm_tests=()
for t in tests/test-*.sh; do
	name=$(basename "$t" .sh)
	matches_filter "$name" "$filter" && vm_tests+=("$name")
done
if matches_filter "test_datapath" "$filter"; then
	vm_tests+=(test_datapath)
fi

# The VMs: TCG runs a guest on one host thread, so on a host with several
# cores several VMs share the suite (XS_VM_SHARDS, default: 2 when this
# machine has 2 cores or more); each takes the next test not yet taken.
shards=${XS_VM_SHARDS:-}
if [ -z "$shards" ]; then
	shards=1
	[ "$(nproc 2>/dev/null || echo 1)" -ge 2 ] && shards=2
fi
[[ $shards =~ ^[1-9][0-9]*$ ]] || {
	echo "run-all: XS_VM_SHARDS must be a positive number, not '$shards'" >&2
	exit 2
}
[ "$shards" -le ${#vm_tests[@]} ] || shards=${#vm_tests[@]}

if [ ${#vm_tests[@]} -gt 0 ]; then
	echo "== integration tests (VM, kernel ${XS_KERNEL_VERSION:-${XS_KERNEL:-default}}: ${#vm_tests[@]} selected, $shards VM(s))"
	# Under the working directory: the one place the guests may write.
	work=$(mktemp -d "$PWD/.vm-suite.XXXXXX")
	mkdir "$work/queue"
	pids=() vm_skips='' vm_failed=''
	for ((i = 1; i <= shards; i++)); do
		# One boot per VM; each test also has a limit of its own. With
		# one VM its output is shown as it comes; with several, each
		# line names its VM.
		prefix=
		[ "$shards" -gt 1 ] && prefix="vm$i| "
		(XS_VM_QUEUE=$work/queue XS_VM_TIMEOUT=${XS_VM_TIMEOUT:-3600} \
			scripts/vmtest.sh -- tests/run-vm.sh "$filter" 2>&1 |
			tee "$work/log.$i" | sed -u "s/^/$prefix/"
		exit "${PIPESTATUS[0]}") &
		pids+=($!)
		# Boots at the same moment fetch the kernel once (vmtest's
		# flock), but stagger them a little all the same.
		[ "$i" -lt "$shards" ] && sleep 2
	done
	for ((i = 1; i <= shards; i++)); do
		vmrc=0
		wait "${pids[i - 1]}" || vmrc=$?
		summary=$(grep -a '^vm-summary ' "$work/log.$i" | tail -n1)
		if [ -n "$summary" ]; then
			read -r _ p f s vm_kernel <<<"$summary"
			PASSED=$((PASSED + p))
			FAILED=$((FAILED + f))
			SKIPPED=$((SKIPPED + s))
			vm_skips+=$(grep -a '^vm-skip ' "$work/log.$i" | sed 's/^vm-skip //')$'\n'
			vm_failed+=$(grep -a '^vm failures: ' "$work/log.$i" | sed 's/^vm failures: //')' '
		else
			result FAIL "vm$i" "the VM run ended without a summary (exit $vmrc)"
		fi
	done
	# Every selected test ran in one VM or another.
	for name in "${vm_tests[@]}"; do
		[ -d "$work/queue/$name" ] || result FAIL "vm/$name" "no VM took it (a VM ended early)"
	done
	rm -rf "$work"
	vm_skips=$(sed '/^$/d' <<<"${vm_skips:-}")
	[ -n "${vm_failed// /}" ] && echo "vm failures: ${vm_failed% }"
fi

echo
[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "host failures: ${FAILED_NAMES[*]}"
for line in "${SKIPPED_LINES[@]}"; do
	echo "skipped on this machine ($(uname -r)): $line"
done
if [ -n "${vm_skips:-}" ]; then
	while IFS= read -r line; do
		echo "skipped on Linux ${vm_kernel:-?}: $line"
	done <<<"$vm_skips"
elif [ -n "${vm_kernel:-}" ]; then
	echo "skipped on Linux $vm_kernel: none"
fi
[ -z "${vm_kernel:-}" ] || echo "integration tests ran on Linux $vm_kernel"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
