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

# What a test may not leave behind, one line each: network namespaces,
# BPF pins, interfaces, IPsec state of the initial namespace, processes.
# Tests share a VM, and which tests share one changes from run to run, so
# each must find the VM as it was booted: a leftover (another test's pins
# under /sys/fs/bpf/xfrm-steer, a netns, a daemon) fails the test that
# left it, and is removed before the next one starts.
world() {
	local ps
	ip netns list 2>/dev/null | sed 's/ (id: .*//; s/^/netns /'
	# xfrm-steer's own directory may stay (empty: detach removes what is
	# in it); what is in it may not.
	find /sys/fs/bpf -mindepth 1 ! -path /sys/fs/bpf/xfrm-steer 2>/dev/null | sed 's/^/pin /'
	ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
	[ -z "$(ip xfrm state 2>/dev/null)" ] || echo "xfrm states of the initial netns"
	[ -z "$(ip xfrm policy 2>/dev/null)" ] || echo "xfrm policies of the initial netns"
	ps=$(mktemp)
	ps -e -o pid=,ppid=,stat=,args= >"$ps" 2>/dev/null
	# Not kernel threads (kthreadd, pid 2, and its children), not zombies
	# (gone, their parent has yet to reap them), not this suite's shell or
	# what it runs now (ps, sort, subshells).
	awk -v suite=$$ '{ parent[$1] = $2; stat[$1] = $3; line[$1] = $0 }
	END {
		for (pid in line) {
			if (pid == 2 || parent[pid] == 2 || stat[pid] ~ /^Z/)
				continue
			mine = 0
			for (p = pid; p > 1 && !mine; p = parent[p])
				mine = p == suite
			if (mine)
				continue
			l = line[pid]
			sub(/^ *[0-9]+ +[0-9]+ +[^ ]+ +/, "", l)
			print "process " pid " " l
		}
	}' "$ps"
	rm -f "$ps"
}

scrub() { # LEFTOVER-LINES: remove them
	local kind what rest
	while read -r kind what rest; do
		case $kind in
		process) kill -KILL "$what" 2>/dev/null ;;
		netns) ip netns del "$what" 2>/dev/null ;;
		link) ip link del "$what" 2>/dev/null ;;
		xfrm) ip xfrm state flush; ip xfrm policy flush ;;
		esac
	done <<<"$1"
	# Pins last, deepest first: a killed daemon's or a deleted
	# namespace's pins are gone by now only if nothing else holds them.
	sort -r <<<"$1" | while read -r kind what rest; do
		[ "$kind" = pin ] || continue
		[ -d "$what" ] && rmdir "$what" 2>/dev/null || rm -f "$what"
	done
}

# (Temporary files, not process substitution: the guest has no /dev/fd.)
world_file=$(mktemp)
world_now=$(mktemp)
trap 'rm -f "$world_file" "$world_now"' EXIT
world | sort >"$world_file"

check_world() { # NAME
	local left tries=0
	# A daemon the test stopped may take a moment to exit (up to 5 s).
	while world | sort >"$world_now" &&
		left=$(comm -13 "$world_file" "$world_now") &&
		[ -n "$left" ] && [ $((tries += 1)) -le 17 ]; do
		sleep 0.3
	done
	[ -n "$left" ] || return 0
	sed 's/^/    | left behind: /' <<<"$left"
	result FAIL "$1/leftovers" "it left $(wc -l <<<"$left") thing(s) behind"
	scrub "$left"
}

if matches_filter test_datapath "$filter" && take test_datapath; then
	XS_EXPECT_KFUNC=1 run_cmocka "vm/test_datapath" "$OUT/tests/test_datapath"
	check_world vm/test_datapath
fi
for t in tests/test-*.sh; do
	name=$(basename "$t" .sh)
	matches_filter "$name" "$filter" || continue
	take "$name" || continue
	run_script "vm/$name" "$t"
	check_world "vm/$name"
done
[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "vm failures: ${FAILED_NAMES[*]}"
for s in "${SKIPPED_LINES[@]}"; do
	echo "vm-skip $s"
done
echo "vm-summary $PASSED $FAILED $SKIPPED $(uname -r)"
[ "$FAILED" -eq 0 ]
