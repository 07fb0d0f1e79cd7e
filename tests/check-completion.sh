#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The bash completion against the binary's own help: what a few command
# lines complete to. Plain bash, no bash-completion package needed.
# Usage: tests/check-completion.sh [XFRM_STEER]   (runs on the host too)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
XS=${1:-${XS:-build/xfrm-steer}}
[ -x "$XS" ] || { echo "check-completion: $XS is missing (make first)" >&2; exit 1; }
# shellcheck source=completion/xfrm-steer.bash
. completion/xfrm-steer.bash
complete -p xfrm-steer >/dev/null || { echo "check-completion: not registered" >&2; exit 1; }

failed=0
# LINE (completed at its end) and words the answer must hold; "-" alone
# for an empty answer.
expect() { # LINE WORD...
	local line="$XS $1" w got
	shift
	COMP_LINE=$line COMP_POINT=${#line}
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_xfrm_steer
	got=" ${COMPREPLY[*]} "
	for w in "$@"; do
		if [ "$w" = - ]; then
			[ "$got" = "  " ] && continue
		elif [[ $got == *" $w "* ]]; then
			continue
		fi
		echo "FAIL: '${line#"$XS" }|' gave [${COMPREPLY[*]}], missing '$w'"
		failed=1
		return
	done
	echo "ok: '${line#"$XS" }|' -> ${COMPREPLY[*]}"
}

expect "" link attach detach route stats help version
expect "--j" --json
expect "-" -j --json -n --netns -V --version --help
expect "-j ro" route
expect "route " add del show help
expect "route add " -
expect "route add 10.0.0.0/8 " if_id tenant dev
expect "route add 10.0.0.0/8 if_id 5 dev " lo
expect "route del 10.0.0.0/8 " tenant dev
expect "attach " dev tenant-key routes tunnels
expect "attach dev lo tenant-key " mark iif none
expect "detach " dev
expect "stats " show drops dev if_id
expect "link del " lo
expect "version " -
expect "" daemon
expect "daemon " dev ike status on-unknown-spi
# File names: after apply (and its options) and after -batch.
expect "apply " Makefile --dry-run --check
expect "apply --dry-run " Makefile
expect "apply ex" examples
expect "-batch " Makefile
expect "-b Mak" Makefile
expect "-batch Makefile " -force --force
expect "-batch Makefile -" --force
exit $failed
