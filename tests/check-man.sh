#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Is the man page in step with the command? Every object, verb, keyword and
# literal value that "xfrm-steer help" and "xfrm-steer OBJECT help" print,
# and every global option, must appear in the rendered man page, and every
# object must have a section of its own. The help texts are read with the
# bash completion's grammar parser, which is checked along the way.
# Usage: tests/check-man.sh [XFRM_STEER [MANPAGE]]   (runs on the host too)
set -euo pipefail
cd "$(dirname "$0")/.."
XS=${1:-${XS:-build/xfrm-steer}}
MAN=${2:-man/xfrm-steer.8}

[ -x "$XS" ] || { echo "check-man: $XS is missing (make first)" >&2; exit 1; }
command -v groff >/dev/null || { echo "SKIP: groff is not installed"; exit 77; }
# shellcheck source=completion/xfrm-steer.bash
. completion/xfrm-steer.bash

warn=$(groff -man -ww -z "$MAN" 2>&1) || true
[ -z "$warn" ] || { echo "check-man: groff warns about $MAN:" >&2; echo "$warn" >&2; exit 1; }
# Long lines, so that nothing is broken at a hyphen.
text=$(groff -man -Tascii -P-cbou -rLL=2000n "$MAN")

missing=()
have() { # WORD WHERE
	grep -qFw -e "$1" <<<"$text" || missing+=("$1 ($2)")
}

# The literal words of grammar lines: verbs, keywords, values; not the
# UPPERCASE placeholders, brackets or bars.
literals() {
	local line w
	while read -r line; do
		case $line in
		=*)
			read -ra ws <<<"$line"
			for w in "${ws[@]:1}"; do
				[[ $w == [a-z]* ]] && echo "$w"
			done
			;;
		*)
			for w in $line; do
				[[ $w == [a-z]* || $w == --* ]] && echo "${w%...}"
			done
			;;
		esac
	done
}

main=$("$XS" help 2>&1 | _xfrm_steer_grammar)
objects=$(_xfrm_steer_words "$main" OBJECT)
[ -n "$objects" ] || { echo "check-man: no OBJECT := { ... } in \"$XS help\"" >&2; exit 1; }
n=0
for w in $(_xfrm_steer_options "$main"); do
	have "$w" "global option"
	n=$((n + 1))
done
for w in $(grep -v '^=OPTIONS' <<<"$main" | literals | sort -u); do
	have "$w" "xfrm-steer help"
	n=$((n + 1))
done
for obj in $objects version help; do
	# a section per object: ".SS link ..." renders as "   link ...",
	# ".SS version, help" as "   version, help"
	grep -Eq "^   ([a-z]+, )*$obj( |,|\$)" <<<"$text" || missing+=("section $obj")
	case $obj in version | help) continue ;; esac
	for w in $("$XS" "$obj" help 2>&1 | _xfrm_steer_grammar | literals | sort -u); do
		have "$w" "xfrm-steer $obj help"
		n=$((n + 1))
	done
done
for w in "EXIT STATUS" "SEE ALSO" "ip-xfrm(8)" "bpftool(8)" "swanctl.conf(5)"; do
	grep -qF -e "$w" <<<"$text" || missing+=("$w")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "check-man: $MAN lacks what the command's help has:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi
echo "ok: $MAN covers $(wc -w <<<"$objects") objects, $n words of the grammar"
