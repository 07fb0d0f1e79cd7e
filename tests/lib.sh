# SPDX-License-Identifier: GPL-2.0
# Helpers for integration tests (tests/test-*.sh), run as root in the VM.
# A test exits 0 to pass, 77 to skip (reason printed last), else fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# XS_BIN runs the suite against another build (e.g. a mutant or ASan).
XS=${XS:-${XS_BIN:-$PWD/build/xfrm-steer}}
# The same CLI built with the test hooks (XS_APPLY_CRASH_AFTER,
# XS_APPLY_FAIL_AFTER), which the shipped binary does not have.
XS_HOOKS=${XS_HOOKS:-$PWD/${OUT:-build}/test-hooks/xfrm-steer}
# Key files must be private (xfrm-steer refuses others), and so must
# whatever else a test writes: keys end up in saved files too.
umask 077
# A netns prefix of our own, so tests never touch anything else.
NSP=${NSP:-xst$$}
. scripts/lib-topology.sh

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

step() { echo "-- $*"; }

assert_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
	echo "ok: $3 = $2"
}

assert_ge() { # ACTUAL MIN WHAT
	[ "$1" -ge "$2" ] || fail "$3: got $1, expected at least $2"
	echo "ok: $3 = $1 (>= $2)"
}

# Succeeds if the command fails; its output is shown.
assert_fails() { # WHAT CMD...
	local what=$1
	shift
	if "$@"; then fail "$what: succeeded, should have failed"; fi
	echo "ok: $what fails"
}

need_kernel_feature() { # MODULE REASON
	modprobe "$1" 2>/dev/null || [ -d "/sys/module/$1" ] ||
		skip "$2 (module $1 unavailable in Linux $(uname -r))"
}

# jq over the CLI's JSON output.
xsj() { # NS ARGS... ; prints JSON
	local ns=$1
	shift
	$XS -n "$ns" -j "$@"
}

trap topo_cleanup EXIT
