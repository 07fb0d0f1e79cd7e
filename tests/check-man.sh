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
# mandoc's checker, as Debian's lintian runs it: any warning (or worse) fails.
command -v mandoc >/dev/null || { echo "check-man: mandoc is missing (scripts/deps.sh installs it)" >&2; exit 1; }
warn=$(mandoc -Tlint -W warning "$MAN" 2>&1) || true
[ -z "$warn" ] || { echo "check-man: mandoc -Tlint warns about $MAN:" >&2; echo "$warn" >&2; exit 1; }

# As man shows it at 80 columns, with groff and with mandoc: no line wider
# than the terminal, and no synopsis that runs into its description (a
# placeholder or "]" followed by the first word of a sentence, in the
# indented text of a .TP, as in "[ tenant KEY ] dev NAME Steer traffic...":
# what a .TP tag of several input lines gives).
for render in "groff -man -Tascii -rLL=80n -P-cbou" "mandoc -Tascii -Owidth=80"; do
	page=$($render "$MAN" 2>/dev/null | col -bx)
	wide=$(awk 'length > 80 { print NR ": " $0 }' <<<"$page")
	[ -z "$wide" ] || { echo "check-man: ${render%% *} at 80 columns: lines wider than 80:" >&2; echo "$wide" >&2; exit 1; }
	runin=$(grep -nE '^ {14}[^ ].*(\]|\]\.\.\.|\b[A-Z][A-Z_]+) [A-Z][a-z]+ [a-z]' <<<"$page" || true)
	[ -z "$runin" ] || { echo "check-man: ${render%% *}: a synopsis runs into its text:" >&2; echo "$runin" >&2; exit 1; }
done

# The page shows the version of the build it comes with, installed or not.
version=$(sed -n 's/^VERSION := //p' Makefile)
grep -q "^\.TH XFRM-STEER 8 [0-9-]* \"xfrm-steer $version\"" "$MAN" ||
	{ echo "check-man: $MAN does not say version $version (Makefile) in .TH" >&2; exit 1; }
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
# SYNOPSIS names every object, OPTIONS every option (ip's spellings too).
synopsis=$(sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' <<<"$text")
for obj in $objects; do
	grep -qw -e "$obj" <<<"$synopsis" || missing+=("$obj (SYNOPSIS)")
done
options=$(sed -n '/^OPTIONS/,/^OBJECTS AND COMMANDS/p' <<<"$text")
for w in $(_xfrm_steer_options "$main") -b -batch --batch -f -force --force; do
	grep -qF -e "$w" <<<"$options" || missing+=("$w (OPTIONS)")
done
# Every metric the exposition announces is documented under METRICS (the
# families are announced even with nothing attached).
metrics=$(sed -n '/^METRICS/,/^ANTI-REPLAY/p' <<<"$text")
fams=$("$XS" stats prometheus 2>/dev/null | sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p')
[ -n "$fams" ] || missing+=("the metric families (\"$XS stats prometheus\" printed none)")
for w in $fams; do
	grep -qFw -e "$w" <<<"$metrics" || missing+=("$w (METRICS)")
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
