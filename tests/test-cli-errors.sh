#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bad input is refused cleanly everywhere in the CLI: a non-zero exit, one
# "Error: ..." line naming the bad word (with -j, {"error": ...} on stdout and
# nothing else), and nothing half done: the routes, the tunnel rows, the pins
# under /sys/fs/bpf/xfrm-steer/<netns inode>/ and the interfaces of the
# namespace are exactly what they were before. Also: keywords may be
# abbreviated, and a full table refuses a route without leaving a tunnel.
. "$(dirname "$0")/lib.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"

ns=$NSP-err
tmp=$(mktemp -d)
cleanup() {
	set +e
	$XS -n "$ns" detach dev ipsec0 >/dev/null 2>&1
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
	true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# Where this namespace's pins live: the loader names the directory after
# the inode of the network namespace.
ino=$(ip netns exec "$ns" stat -L -c %i /proc/self/ns/net)
pinroot=/sys/fs/bpf/xfrm-steer/$ino

# Everything a refused command must leave as it was: the routes and tunnel
# rows (no traffic flows here, so the counters stay 0 and the raw JSON may be
# compared), the pins of this namespace and, for commands that could touch
# them, its interfaces. Processes are slow to start in the VM, so this keeps
# to two CLI calls (and ip only where it matters).
shopt -s nullglob
snapshot() { # FIRST-WORD-OF-THE-COMMAND
	local p
	echo "routes: $(xsj "$ns" route show 2>&1)"
	echo "tunnels: $(xsj "$ns" stats 2>&1)"
	echo -n "pins:"
	[ ! -e "$pinroot" ] || echo -n " $pinroot"
	for p in "$pinroot"/* "$pinroot"/*/*; do echo -n " $p"; done
	echo
	case $1 in
	route | stats) ;;
	*) echo "links: $(ip -n "$ns" -br link show | while read -r n _; do echo -n "$n "; done)" ;;
	esac
}
# The snapshot after the last refused command, while nothing else ran.
SNAP=
SNAP_OF=

# The message of the last refused command (text form).
LAST_MSG=

# -j outputs to check, one "WORD<TAB>COMMAND<TAB>STDOUT" line each: jq is
# slow to start in the VM, so one jq call checks them all at each step.
json_checks() {
	local bad
	[ -s "$tmp/json" ] || return 0
	bad=$(jq -rR 'split("\t") as [$w, $c, $o]
		| ($o | try fromjson catch null) as $j
		| if ($j | type) == "object" and ($j.error | type) == "string"
			and ($j.error | contains($w))
		  then empty
		  else "\($c): not an {\"error\": ...} naming \"\($w)\": \($o)" end' "$tmp/json")
	[ -z "$bad" ] || fail "with -j:"$'\n'"$bad"
	echo "ok: $(wc -l <"$tmp/json") errors with -j are {\"error\": ...} objects naming the bad word"
	: >"$tmp/json"
}
# Commands that change the state run only at the start of a step, so a new
# step forgets the snapshot.
step() {
	json_checks
	SNAP=
	echo "-- $*"
}

# refused [--usage] WORD ARGS...: `xfrm-steer -n $ns ARGS...` must fail, with
# "Error: ...WORD..." as its only line on stderr and nothing on stdout; with
# -j it must fail too, print one line on stdout, a JSON object whose "error"
# names WORD (checked by json_checks), and nothing on stderr. --usage: a
# usage text may come before the error on stderr (unknown commands show the
# grammar). Neither run may change the snapshot.
refused() {
	local usage=0 word before after rc errline lines
	if [ "$1" == --usage ]; then
		usage=1
		shift
	fi
	word=$1
	shift
	if [ -n "$SNAP" ] && [ "$SNAP_OF" == "$1" ]; then
		before=$SNAP
	else
		before=$(snapshot "$1")
	fi

	rc=0
	$XS -n "$ns" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "'$*' exited 0; stderr: $(<"$tmp/err")"
	[ ! -s "$tmp/out" ] || fail "'$*' wrote to stdout: $(<"$tmp/out")"
	mapfile -t lines <"$tmp/err"
	[ ${#lines[@]} -gt 0 ] || fail "'$*' failed (exit $rc) without a message"
	errline=${lines[-1]}
	if [ "$usage" -eq 0 ] && [ ${#lines[@]} -ne 1 ]; then
		fail "'$*': expected one line on stderr, got:"$'\n'"$(<"$tmp/err")"
	fi
	[[ $errline == "Error: "* ]] || fail "'$*': stderr does not end in 'Error: ...': $errline"
	[[ $errline == *"$word"* ]] || fail "'$*': the error does not name '$word': $errline"
	LAST_MSG=$errline

	rc=0
	$XS -n "$ns" -j "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "'-j $*' exited 0"
	mapfile -t lines <"$tmp/out"
	[ ${#lines[@]} -eq 1 ] || fail "'-j $*': expected one line on stdout, got: $(<"$tmp/out")"
	if [ "$usage" -eq 0 ] && [ -s "$tmp/err" ]; then
		fail "'-j $*' wrote to stderr: $(<"$tmp/err")"
	fi
	printf '%s\t%s\t%s\n' "$word" "-j $*" "${lines[0]}" >>"$tmp/json"

	after=$(snapshot "$1")
	if [ "$after" != "$before" ]; then
		# No /dev/fd in the VM for <(...): diff files.
		echo "$before" >"$tmp/before"
		echo "$after" >"$tmp/after"
		fail "'$*' changed state:"$'\n'"$(diff "$tmp/before" "$tmp/after")"
	fi
	SNAP=$after
	SNAP_OF=$1
	echo "ok: refused: $* -> ${errline#Error: }"
}

# The last refused command's message also names WORD.
also_names() { # WORD
	[[ $LAST_MSG == *"$1"* ]] || fail "error does not name '$1': $LAST_MSG"
}

no_pins() { # DEV
	[ ! -e "$pinroot/$1" ] || fail "pin directory $pinroot/$1 exists: $(ls -A "$pinroot/$1")"
	echo "ok: no pin directory for $1"
}

routes() { xsj "$ns" route show | jq length; }
tunnels() { xsj "$ns" stats | jq -c '[.[].if_id] | sort'; }

step "interfaces: one external xfrm, one plain xfrm, a veth pair"
$XS -n "$ns" link add ipsec0
ip -n "$ns" link add xi5 type xfrm if_id 5
ip -n "$ns" link add ve0 type veth peer name ve1
assert_eq "$($XS -n "$ns" -j link show ipsec0 | jq -r '.[0].external')" true "ipsec0 is external"
assert_eq "$($XS -n "$ns" -j link show xi5 | jq -r '.[0].external')" false "xi5 is not external"

step "attach refuses bad devices and arguments, before creating any pin"
refused nosuch0 attach dev nosuch0
also_names "does not exist"
refused ve0 attach dev ve0
also_names "not an external xfrm interface"
refused xi5 attach dev xi5
also_names "not an external xfrm interface"
refused lo attach dev lo
refused bogus attach dev ipsec0 tenant-key bogus
refused tenant-key attach dev ipsec0 tenant-key
refused mark attach dev ipsec0 tenant-key mark
refused '"0"' attach dev ipsec0 tenant-key mark 0
refused routes attach dev ipsec0 routes 0
also_names '"0"'
refused tunnels attach dev ipsec0 tunnels 16777217
refused routes attach dev ipsec0 routes -5
refused frob attach dev ipsec0 frob
refused dev attach tenant-key none
for d in nosuch0 ve0 xi5 lo ipsec0; do no_pins "$d"; done
[ ! -e "$pinroot" ] || fail "$pinroot exists though nothing was attached: $(ls -A "$pinroot")"
echo "ok: no pin directory for the namespace"

step "detach and route commands on a device that is not attached"
refused ipsec0 detach dev ipsec0
also_names "not attached"
refused ve0 detach dev ve0
refused dev detach
refused ipsec0 route add 10.0.0.0/8 if_id 1 dev ipsec0
also_names "not attached"
refused ipsec0 route del 10.0.0.0/8 dev ipsec0
refused ipsec0 route show dev ipsec0
refused ipsec0 stats dev ipsec0

step "link add and link del refuse bad names, a second external interface and other devices"
refused a/b link add a/b
refused abcdefghijklmnopq link add abcdefghijklmnopq
also_names "too long"
refused 'ipsec%d' link add 'ipsec%d'
refused ipsec1 link add ipsec1
also_names '"ipsec0"'
refused ve0 link add ve0
refused extra link add ipsec1 extra
[ -z "$(ip -n "$ns" -j link show | jq -r '.[].ifname | select(. == "ipsec1")')" ] ||
	fail "ipsec1 was created"
refused ve0 link del ve0
also_names veth
refused lo link del lo
refused nosuch0 link del nosuch0
ip -n "$ns" link show ve0 >/dev/null || fail "ve0 is gone"
ip -n "$ns" link show lo >/dev/null || fail "lo is gone"
echo "ok: ve0 and lo still exist"

step "attach with tenant-key mark 0xff00 and two routes"
$XS -n "$ns" attach dev ipsec0 tenant-key mark 0xff00
[ -d "$pinroot/ipsec0" ] || fail "no pin directory $pinroot/ipsec0 after attach"
$XS -n "$ns" route add 10.1.0.0/16 if_id 101 tenant 0x100 dev ipsec0
$XS -n "$ns" route add 2001:db8:1::/48 if_id 102 tenant 0x200 dev ipsec0
assert_eq "$(routes)" 2 "routes"
assert_eq "$(tunnels)" "[101,102]" "tunnel rows"

step "route add: bad prefixes"
refused 10.0.0.0/33 route add 10.0.0.0/33 if_id 7 dev ipsec0
refused 10.1.2.3/16 route add 10.1.2.3/16 if_id 7 dev ipsec0
also_names "host bits"
refused 2001:db8::1/32 route add 2001:db8::1/32 if_id 7 dev ipsec0
refused 2001:db8::/129 route add 2001:db8::/129 if_id 7 dev ipsec0
refused nonsense route add nonsense if_id 7 dev ipsec0
refused 10.0.0.0/ route add 10.0.0.0/ if_id 7 dev ipsec0
refused 10.0.0.0/0x8 route add 10.0.0.0/0x8 if_id 7 dev ipsec0
refused PREFIX route add

step "route add: missing, zero, too large and non-numeric if_id"
refused if_id route add 10.2.0.0/16 dev ipsec0
refused if_id route add 10.2.0.0/16 dev ipsec0 if_id
refused 'if_id "0"' route add 10.2.0.0/16 if_id 0 dev ipsec0
refused 0x1ffffffff route add 10.2.0.0/16 if_id 0x1ffffffff dev ipsec0
refused 4294967296 route add 10.2.0.0/16 if_id 4294967296 dev ipsec0
refused abc route add 10.2.0.0/16 if_id abc dev ipsec0
refused -1 route add 10.2.0.0/16 if_id -1 dev ipsec0

step "route add: missing dev, unknown keyword"
refused dev route add 10.2.0.0/16 if_id 7
refused dev route add 10.2.0.0/16 if_id 7 dev
refused metric route add 10.2.0.0/16 if_id 7 dev ipsec0 metric 5
refused via route add 10.2.0.0/16 via 10.0.0.1 if_id 7 dev ipsec0

step "route add: tenants the mark mask can never produce"
refused 0x1 route add 10.2.0.0/16 if_id 7 tenant 0x1 dev ipsec0
also_names "0xff00"
refused 0x10000 route add 10.2.0.0/16 if_id 7 tenant 0x10000 dev ipsec0
refused abc route add 10.2.0.0/16 if_id 7 tenant abc dev ipsec0
refused tenant route add 10.2.0.0/16 if_id 7 dev ipsec0 tenant

step "route add: devices that are not attached"
refused xi5 route add 10.2.0.0/16 if_id 7 dev xi5
also_names "not attached"
refused nosuch0 route add 10.2.0.0/16 if_id 7 dev nosuch0
refused ve0 route add 10.2.0.0/16 if_id 7 tenant 0x100 dev ve0
refused a/b route add 10.2.0.0/16 if_id 7 dev a/b

step "route del: routes that do not exist"
refused 10.9.0.0/16 route del 10.9.0.0/16 tenant 0x100 dev ipsec0
# The prefix exists, but for another tenant.
refused 10.1.0.0/16 route del 10.1.0.0/16 dev ipsec0
refused 10.1.0.0/16 route del 10.1.0.0/16 tenant 0x200 dev ipsec0
# A shorter or longer prefix is not the route either.
refused 10.1.0.0/17 route del 10.1.0.0/17 tenant 0x100 dev ipsec0
refused 10.0.0.0/8 route del 10.0.0.0/8 tenant 0x100 dev ipsec0
refused 2001:db8:1::/64 route del 2001:db8:1::/64 tenant 0x200 dev ipsec0
refused if_id route del 10.1.0.0/16 if_id 101 tenant 0x100 dev ipsec0
refused 0x1 route del 10.1.0.0/16 tenant 0x1 dev ipsec0
refused dev route del 10.1.0.0/16 tenant 0x100

step "attach on the attached device: a bad or different configuration changes nothing"
refused bogus attach dev ipsec0 tenant-key bogus
refused routes attach dev ipsec0 routes 0
refused "tenant key" attach dev ipsec0 tenant-key none
refused "tenant key" attach dev ipsec0 tenant-key mark 0xff
refused resize attach dev ipsec0 routes 10
assert_eq "$(routes)" 2 "routes after the refused commands"
assert_eq "$(tunnels)" "[101,102]" "tunnel rows after the refused commands"

step "keywords may be abbreviated"
assert_eq "$($XS -n "$ns" -j ro sh)" "$($XS -n "$ns" -j route show)" "ro sh = route show (JSON)"
assert_eq "$($XS -n "$ns" ro sh)" "$($XS -n "$ns" route show)" "ro sh = route show (text)"
assert_eq "$($XS -n "$ns" ro l d ipsec0)" "$($XS -n "$ns" route list dev ipsec0)" "ro l d = route list dev"
assert_eq "$($XS -n "$ns" -j st sh d ipsec0)" "$($XS -n "$ns" -j stats show dev ipsec0)" "st sh d = stats show dev"
assert_eq "$($XS -n "$ns" -j li sh ipsec0)" "$($XS -n "$ns" -j link show ipsec0)" "li sh = link show"
$XS -n "$ns" ro a 10.5.0.0/16 if_id 105 t 0x300 d ipsec0
assert_eq "$(xsj "$ns" route show | jq -c '[.[] | select(.prefix == "10.5.0.0/16") | [.tenant, .if_id]]')" \
	'[["0x300",105]]' "route added with 'ro a ... t ... d'"
$XS -n "$ns" ro d 10.5.0.0/16 t 0x300 d ipsec0
assert_eq "$(routes)" 2 "routes after 'ro d ... t ... d'"

step "unknown objects and commands"
refused --usage '"bogus"' bogus
refused --usage '"routex"' routex show
refused --usage '"bogus"' route bogus
refused --usage '"bogus"' link bogus
refused --usage '"bogus"' stats bogus
refused '"bogus"' route show bogus
refused '"bogus"' stats dev ipsec0 bogus
refused '"bogus"' detach dev ipsec0 bogus
[ -d "$pinroot/ipsec0" ] || fail "ipsec0 was detached by 'detach dev ipsec0 bogus'"
rc=0
$XS -n "$NSP-nosuchns" route show >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" -ne 0 ] || fail "-n of a missing namespace exited 0"
grep -q "^Error: .*$NSP-nosuchns" "$tmp/err" || fail "-n of a missing namespace: $(cat "$tmp/err")"
echo "ok: -n of a missing namespace: $(cat "$tmp/err")"

step "full tables refuse a route and leave no tunnel behind"
$XS -n "$ns" detach dev ipsec0
$XS -n "$ns" attach dev ipsec0 routes 1 tunnels 2
$XS -n "$ns" route add 10.1.0.0/16 if_id 101 dev ipsec0
# The IPv4 table is full: the tunnel made for if_id 102 must go again.
refused full route add 10.2.0.0/16 if_id 102 dev ipsec0
also_names "route table"
assert_eq "$(tunnels)" "[101]" "tunnel rows after the refused route"

step "a full tunnel table refuses a route for a new if_id"
# The IPv6 table has its own room, and if_id 102 can have its slot.
$XS -n "$ns" route add 2001:db8:2::/48 if_id 102 dev ipsec0
assert_eq "$(tunnels)" "[101,102]" "tunnel rows"
# Now the tunnel table is full.
refused full route add 10.1.0.0/16 if_id 103 dev ipsec0
also_names "tunnels"
assert_eq "$(xsj "$ns" route show | jq -c '[.[] | [.prefix, .if_id]]')" \
	'[["10.1.0.0/16",101],["2001:db8:2::/48",102]]' "routes after the refused replace"

step "tenant-key none: only tenant 0"
$XS -n "$ns" detach dev ipsec0
no_pins ipsec0
$XS -n "$ns" attach dev ipsec0
$XS -n "$ns" route add 10.1.0.0/16 if_id 101 dev ipsec0
refused '"5"' route add 10.3.0.0/16 if_id 103 tenant 5 dev ipsec0
also_names none
refused 0x100 route add 10.3.0.0/16 if_id 103 tenant 0x100 dev ipsec0
refused '"5"' route del 10.1.0.0/16 tenant 5 dev ipsec0
# tenant 0, spelled out, is the one tenant there is.
$XS -n "$ns" route add 10.3.0.0/16 if_id 103 tenant 0 dev ipsec0
assert_eq "$(routes)" 2 "routes with tenant 0"
$XS -n "$ns" route del 10.3.0.0/16 tenant 0 dev ipsec0
assert_eq "$(routes)" 1 "routes after deleting it again"

step "numbers with a sign or a second base prefix are not numbers"
# strtoull() would take these after the "0x" that the parser strips.
refused 0x+5 route add 10.2.0.0/16 if_id 0x+5 dev ipsec0
refused "0x 5" route add 10.2.0.0/16 if_id "0x 5" dev ipsec0
refused 0x0x5 route add 10.2.0.0/16 if_id 0x0x5 dev ipsec0
refused 0x-ffffffffffffffff route add 10.2.0.0/16 if_id 0x-ffffffffffffffff dev ipsec0

json_checks
