# SPDX-License-Identifier: GPL-2.0
# bash completion for xfrm-steer(8).
# shellcheck disable=SC2207 # COMPREPLY=($(compgen ...)) is the idiom
#
# The grammar is read from the command's own help ("xfrm-steer help",
# "xfrm-steer OBJECT help"), so the objects, verbs and keywords of whichever
# binary is being completed are offered, new ones included. What a help text
# cannot say is which values a placeholder stands for; that is this file's
# part: interface names for "dev NAME" (xfrm interfaces first), network
# namespaces for -n, files for FILE, tunnel names (_xfrm_steer_tunnels) and
# the members of "NAME := { a | b }" definitions.

# Help text on stdin to grammar lines on stdout:
#   WORD WORD ...     one usage line without "Usage:" and "xfrm-steer", its
#                     continuation lines joined, blanks squeezed
#   =NAME V1 | V2 ... a definition "NAME := { V1 | V2 ... }" from a where part
_xfrm_steer_grammar() {
	awk '
	function squeeze(s) { gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s); return s }
	function flush() { if (entry != "") print squeeze(entry); entry = "" }
	function flushdef(   d, body, name, n, v, i, out) {
		d = squeeze(def)
		def = ""
		if (!match(d, /:= *\{[^}]*\}/))
			return
		name = substr(d, 1, index(d, " ") - 1)
		body = substr(d, RSTART, RLENGTH)
		sub(/^:= *\{/, "", body)
		sub(/\}$/, "", body)
		gsub(/\|/, " | ", body)
		n = split(body, v, " ")
		out = "=" name
		for (i = 1; i <= n; i++)
			out = out " " v[i]
		print out
	}
	{ line = $0; sub(/^Usage:/, "      ", line) }
	line ~ /^[ \t]*$/ { flush(); flushdef(); mode = ""; next }
	line ~ /^[ \t]*xfrm-steer[ \t]/ {
		flush(); flushdef()
		sub(/^[ \t]*xfrm-steer[ \t]+/, "", line)
		entry = line; mode = "use"; next
	}
	line ~ /^where[ \t]/ { flush(); mode = "where"; sub(/^where/, "     ", line) }
	line ~ /^[^ \t]/ { flush(); flushdef(); mode = ""; next }
	mode == "use" { entry = entry " " line; next }
	mode == "where" {
		if (line ~ /^[ \t]*[A-Za-z_]+[ \t]+:=/) { flushdef(); def = line }
		else if (def != "") def = def " " line
	}
	END { flush(); flushdef() }'
}

# Tunnel names for "tunnel NAME" and the like; a hook for the tunnel object.
# Prints nothing where the binary has no tunnels.
_xfrm_steer_tunnels() { # BIN NETNS-ARGS...
	"$@" -j tunnel show 2>/dev/null |
		grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

# xfrm interfaces, or every interface when there is none.
_xfrm_steer_ifaces() { # BIN NETNS-ARGS...
	local names
	names=$("$@" -j link show 2>/dev/null |
		grep -o '"ifname": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/')
	if [ -z "$names" ]; then
		local ns=()
		[ "${2:-}" = -n ] && ns=(-n "$3")
		names=$(ip "${ns[@]}" -o link show 2>/dev/null |
			awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
	fi
	printf '%s\n' "$names"
}

# The choices of "{ mark MASK | iif | none }" (or of a definition's
# words): the first word of each, if it is a literal.
_xfrm_steer_choices() { # WORDS...
	local t first=1
	for t in "$@"; do
		case $t in
		"}") break ;;
		"|") first=1 ;;
		*)
			[ $first = 1 ] && [[ $t == [a-z]* ]] && echo "$t"
			first=0
			;;
		esac
	done
}

# The definition of placeholder NAME, as words.
_xfrm_steer_def() { # NAME
	printf '%s\n' "${_xs_defs[@]}" | awk -v n="=$1" '$1 == n { $1 = ""; print }'
}

# Values for keyword KW whose grammar continues with NEXT...
_xfrm_steer_values() { # KW NEXT [NEXT2...]
	local kw=$1 next=${2:-}
	shift
	if [ "$next" = "{" ]; then
		shift
		_xfrm_steer_choices "$@"
		return
	fi
	case $kw:$next in
	dev:* | *:IFNAME) _xfrm_steer_ifaces "${_xs_cmd[@]}" ;;
	tunnel:* | *:TUNNEL) _xfrm_steer_tunnels "${_xs_cmd[@]}" ;;
	*:FILE | *:PATH) compgen -f -- "$cur" ;;
	netns:* | *:NETNS) ip netns list 2>/dev/null | awk '{ print $1 }' ;;
	*) # a placeholder defined as "NEXT := { ... }"
		# shellcheck disable=SC2046 # words of the definition
		_xfrm_steer_choices $(_xfrm_steer_def "$next")
		;;
	esac
}

_xfrm_steer_words() { # GRAMMAR-LINES NAME: the members of definition NAME
	awk -v n="=$2" '$1 == n { for (i = 2; i <= NF; i++) if ($i != "|") print $i }' <<<"$1"
}

# Global options from "-j[son]" (-j and --json) and "--show-keys".
_xfrm_steer_options() { # GRAMMAR-LINES
	_xfrm_steer_words "$1" OPTIONS | sed -n \
		-e 's/^-\([A-Za-z]\)\[\([a-z-]*\)\]$/-\1\n--\L\1\E\2/p' -e '/^--/p'
	echo --help
}

_xfrm_steer_count() { # WORD WORDS...: how often WORD is among WORDS
	local w=$1 n=0
	shift
	for t in "$@"; do [ "$t" = "$w" ] && ((n++)); done
	echo $n
}

# Is word I of WORDS in a "[ ... ]..." group, which may repeat?
_xfrm_steer_repeats() { # I WORDS...
	local i=$1 depth=0
	shift
	local t=("$@")
	[ "${t[i - 1]:-}" = "[" ] || return 1
	for ((; i < ${#t[@]}; i++)); do
		case ${t[i]} in
		"[" | "{") ((depth++)) ;;
		"]" | "}") ((depth-- == 0)) && return 1 ;;
		"]...")
			[ $depth -eq 0 ] && return 0
			((depth--))
			;;
		esac
	done
	return 1
}

_xfrm_steer() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else # plain bash, without the bash-completion package
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
		cur=${words[cword]} prev=${words[cword - 1]:-}
	fi

	local bin=${words[0]} i w netns="" obj="" objpos=0 main batch=""
	# Global options come before the object.
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-n | --netns | -netns) netns=${words[i + 1]:-} && ((i++)) ;;
		-b | -batch | --batch) batch=1 && ((i++)) ;;
		-*) ;;
		*) obj=$w objpos=$i && break ;;
		esac
	done
	local _xs_cmd=("$bin") _xs_defs=()
	[ -n "$netns" ] && _xs_cmd+=(-n "$netns")
	main=$("$bin" help 2>&1 | _xfrm_steer_grammar)

	if [ -z "$obj" ]; then
		case $prev in
		-n | --netns | -netns)
			COMPREPLY=($(compgen -W "$(ip netns list 2>/dev/null | awk '{ print $1 }')" -- "$cur"))
			;;
		-b | -batch | --batch)
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
			;;
		*)
			if [ -n "$batch" ]; then
				# -batch FILE takes no object, only options
				COMPREPLY=($(compgen -W "-f -force --force $(_xfrm_steer_options "$main")" -- "$cur"))
			elif [[ $cur == -* ]]; then
				COMPREPLY=($(compgen -W "$(_xfrm_steer_options "$main")" -- "$cur"))
			else
				COMPREPLY=($(compgen -W "$(_xfrm_steer_words "$main" OBJECT) help version" -- "$cur"))
			fi
			;;
		esac
		return
	fi
	case $obj in help | version) return ;; esac

	# The object as typed may be a prefix ("ro" for route).
	for w in $(_xfrm_steer_words "$main" OBJECT); do
		[[ $w == "$obj"* ]] && obj=$w && break
	done
	# apply [ --dry-run | --check ] FILE: its options, then a file name.
	if [ "$obj" = apply ]; then
		local opts=""
		[[ " ${words[*]:objpos+1:cword-objpos-1} " == *" --"* ]] || opts="--dry-run --check help"
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "$opts" -- "$cur"))
		return
	fi
	# Does the object take a verb? The overview says "OBJECT { a | b } ...".
	local grouped=
	grep -q "^$obj {" <<<"$main" && grouped=1

	# Rules "VERB|WORDS...": what may follow the verb ("" for none).
	local rules=() t e
	while IFS= read -r e; do
		case $e in
		=*) _xs_defs+=("$e") && continue ;;
		"$obj "*) e=${e#"$obj "} ;;
		*) continue ;;
		esac
		read -ra t <<<"$e"
		if [ "${t[0]}" = "{" ]; then
			for ((i = 1; i < ${#t[@]}; i++)); do
				[ "${t[i]}" = "}" ] && break
			done
			for w in "${t[@]:1:i-1}"; do
				[ "$w" != "|" ] && rules+=("$w|${t[*]:i+1}")
			done
		elif [ "${t[0]}" = "[" ] && [ "${t[2]:-}" = "]" ] && [[ ${t[1]} == [a-z]* ]]; then
			# "stats [ show ] ...": an optional verb
			rules+=("${t[1]}|${t[*]:3}" "|${t[*]:3}")
		elif [[ ${t[0]} == [a-z]* ]] && { [ -n "$grouped" ] || [[ ${t[1]:-} != [A-Z]* ]]; }; then
			# a verb, unless it is a keyword taking a value ("attach dev NAME")
			rules+=("${t[0]}|${t[*]:1}")
		else
			rules+=("|$e")
		fi
	done <<<"$("$bin" "$obj" help 2>&1 | _xfrm_steer_grammar)"

	local verbs=() verb="" vpos=$objpos
	for e in "${rules[@]}"; do
		[ -n "${e%%|*}" ] && verbs+=("${e%%|*}")
	done
	verbs+=(help)
	if [ $((objpos + 1)) -lt "$cword" ]; then
		for w in "${verbs[@]}"; do
			[[ $w == "${words[objpos + 1]}"* ]] && verb=$w vpos=$((objpos + 1)) && break
		done
	fi
	[ "$verb" = help ] && return

	# Words typed after the verb, to leave out keywords given already.
	local typed=("${words[@]:vpos+1:cword-vpos-1}")
	local kws=() vals="" positional=""
	for e in "${rules[@]}"; do
		[ "${e%%|*}" = "$verb" ] || continue
		read -ra t <<<"${e#*|}"
		# A placeholder right after the verb: "link del NAME", "route
		# add PREFIX", "sa add ... ALGO" (a definition of keywords).
		if [ $((cword - 1)) -eq "$vpos" ] && [[ ${t[0]:-} == [A-Z]* ]]; then
			positional=1
			case $obj:${t[0]} in
			link:NAME) vals+=" $(_xfrm_steer_ifaces "${_xs_cmd[@]}")" ;;
			*:FILE) vals+=" $(compgen -f -- "$cur")" ;;
			*:TUNNEL | tunnel:NAME) vals+=" $(_xfrm_steer_tunnels "${_xs_cmd[@]}")" ;;
			esac
		fi
		for ((i = 0; i < ${#t[@]}; i++)); do
			w=${t[i]}
			# a word after "{" or "|" is a value of the keyword before
			if [ $i -gt 0 ] && { [ "${t[i - 1]}" = "{" ] || [ "${t[i - 1]}" = "|" ]; }; then
				continue
			fi
			if [[ $w == [A-Z]* ]] && [[ ${t[i - 1]:-} != [a-z-]* ]]; then
				# a placeholder standing for keywords of its own
				# shellcheck disable=SC2046
				kws+=($(_xfrm_steer_choices $(_xfrm_steer_def "$w")))
				continue
			fi
			[[ $w == [a-z]* || $w == --* ]] || continue
			if [ "$w" = "$prev" ] && [ $((cword - 1)) -gt "$vpos" ] &&
				[[ ${t[i + 1]:-} == [A-Z]* || ${t[i + 1]:-} == "{" ]]; then
				# the keyword before the cursor takes a value
				COMPREPLY=($(compgen -W "$(_xfrm_steer_values "$w" "${t[@]:i+1}")" -- "$cur"))
				return
			fi
			# as often as the grammar has it, or more for "[ flag FLAG ]..."
			_xfrm_steer_repeats "$i" "${t[@]}" ||
				[ "$(_xfrm_steer_count "$w" "${typed[@]}")" -lt "$(_xfrm_steer_count "$w" "${t[@]}")" ] ||
				continue
			kws+=("$w")
		done
	done
	if [ -n "$positional" ]; then
		COMPREPLY=($(compgen -W "$vals" -- "$cur"))
		return
	fi
	# Right after the object: its verbs too.
	[ -z "$verb" ] && [ $((cword - 1)) -eq "$objpos" ] && kws+=("${verbs[@]}")
	COMPREPLY=($(compgen -W "$(printf '%s\n' "${kws[@]}" | sort -u)" -- "$cur"))
}
complete -F _xfrm_steer xfrm-steer
