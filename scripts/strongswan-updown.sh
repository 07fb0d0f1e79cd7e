#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# strongSwan updown script for xfrm-steer: keeps the steering routes of an
# external xfrm interface in step with the CHILD_SAs that charon negotiates.
#
# In swanctl.conf, in the section of a CHILD_SA that has if_id_out set:
#
#   updown = /usr/local/lib/xfrm-steer/strongswan-updown.sh [dev] NAME [tenant KEY] [netns NETNS] [if_id ID] [allow PREFIX[,PREFIX...]]
#
#   dev NAME       the attached external xfrm interface (default ipsec0)
#   tenant KEY     the tenant of the routes, as for "xfrm-steer route add"
#   netns NETNS    run xfrm-steer in this named network namespace (-n)
#   if_id ID       if_id to use when charon passes none (PLUTO_IF_ID_OUT is
#                  exported by strongSwan 5.8 and later and always wins)
#   allow PREFIXES the only prefixes this connection's peers may claim: a
#                  remote selector that is not inside one of them (equal or
#                  more specific) is refused. Comma separated, IPv4 and IPv6;
#                  "allow" may be given more than once.
#
# charon runs the script once per pair of local and remote traffic selector
# of the same address family, with PLUTO_VERB up-client, up-host, down-client
# or down-host (plus "-v6" when the local selector is IPv6). Up makes the
# remote selector (PLUTO_PEER_CLIENT) a route to PLUTO_IF_ID_OUT:
#
#   xfrm-steer route add PLUTO_PEER_CLIENT if_id PLUTO_IF_ID_OUT [tenant KEY] dev NAME
#
# and down takes it away again. Protocol and port restrictions of a selector
# are not part of a route: the whole prefix is steered.
#
# Several CHILD_SAs can claim the same route: the same remote selector paired
# with several local ones, a duplicate CHILD_SA, or the new CHILD_SA of a
# make-before-break reauthentication, which comes up before the old one goes
# down. So each claim is written down in a state file per route, and down
# removes the route only with the last claim (otherwise it points the route
# at a remaining claim's if_id). Running up or down twice changes nothing.
#
# A claim belongs to the peer identity that made it (PLUTO_PEER_ID; the
# connection PLUTO_CONNECTION and PLUTO_UNIQUEID are recorded with it). A
# route's prefix is one peer's: up from another peer identity is refused
# when its prefix equals, lies inside or contains a prefix that another
# peer claims on the same device, tenant and namespace (a more specific
# route would take part of the other's traffic by longest-prefix match, and
# rpf would then accept the other's source addresses from it). The first
# claim holds until its last CHILD_SA goes down. A refusal changes no route,
# prints one error line, goes to syslog, exits 1, and is counted in
# $XS_UPDOWN_STATE_DIR/refused, one line per (prefix, connection, peer):
#   COUNT PREFIX CONNECTION PEER_ID
# Claims written by a version before this one name no peer and hold nothing
# against other peers.
#
# The script never makes charon wait long or fail: errors are printed (charon
# logs the output of updown scripts as "updown: ...") and sent to syslog
# (daemon.err) when a syslog socket exists, and the exit status is non-zero.
#
# charon gives the script an environment of its own (PATH and PLUTO_* only),
# so settings belong on the updown line. The variables below serve callers
# that do set an environment, and tests:
#   XS_UPDOWN_DEV, XS_UPDOWN_TENANT, XS_UPDOWN_NETNS, XS_UPDOWN_IF_ID
#                        defaults for the arguments of the same name
#   XFRM_STEER           the xfrm-steer command
#   XS_UPDOWN_STATE_DIR  where the claims are kept (default
#                        /run/xfrm-steer/updown; gone after a reboot, like
#                        the SAs)
#   XS_UPDOWN_SYSLOG     0: do not send errors to syslog

# make install writes the installed path of the binary here.
XS_DEFAULT_BIN=xfrm-steer

PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
XFRM_STEER=${XFRM_STEER:-$XS_DEFAULT_BIN}
TAG=xfrm-steer-updown

# charon logs each line of output as "updown: LINE", cut at 127 bytes: keep
# lines short, and what xfrm-steer said on lines of its own.
say() {
	echo "xfrm-steer: $*"
}

err() { # MESSAGE [DETAIL]
	echo "xfrm-steer: error: $1" >&2
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/xfrm-steer:   /' >&2
	if [ "${XS_UPDOWN_SYSLOG:-1}" != 0 ] && [ -S /dev/log ] &&
		command -v logger >/dev/null 2>&1; then
		logger -t "$TAG" -p daemon.err -- "$1${2:+: $2}" 2>/dev/null || :
	fi
}

usage() {
	cat <<'EOF'
Usage: strongswan-updown.sh [ [ dev ] NAME ] [ tenant KEY ] [ netns NETNS ] [ if_id ID ]
                             [ allow PREFIX[,PREFIX...] ]
A strongSwan updown script (swanctl.conf: updown = PATH ARGS...): adds the
remote traffic selector of a CHILD_SA as an xfrm-steer route to the CHILD_SA's
if_id_out when it comes up, and removes it when it goes down. A prefix that
overlaps another peer's claim, or lies outside "allow", is refused.
EOF
}

dev=${XS_UPDOWN_DEV:-}
tenant=${XS_UPDOWN_TENANT:-}
netns=${XS_UPDOWN_NETNS:-}
fallback_if_id=${XS_UPDOWN_IF_ID:-}
allow=
dev_arg=
while [ $# -gt 0 ]; do
	case $1 in
	dev | tenant | netns | if_id | allow)
		if [ $# -lt 2 ]; then
			err "\"$1\" needs a value"
			exit 2
		fi
		case $1 in
		dev) dev=$2 dev_arg=1 ;;
		tenant) tenant=$2 ;;
		netns) netns=$2 ;;
		if_id) fallback_if_id=$2 ;;
		allow) allow="$allow${allow:+,}$2" ;;
		esac
		shift 2
		;;
	-h | --help | help)
		usage
		exit 0
		;;
	-*)
		err "unknown option \"$1\""
		exit 2
		;;
	*)
		# A bare word names the interface: "updown = ... ipsec0".
		if [ -n "$dev_arg" ]; then
			err "unknown argument \"$1\""
			exit 2
		fi
		dev=$1 dev_arg=1
		shift
		;;
	esac
done
dev=${dev:-ipsec0}

case ${PLUTO_VERB:-} in
up-client | up-host | up-client-v6 | up-host-v6) action=up ;;
down-client | down-host | down-client-v6 | down-host-v6) action=down ;;
"")
	usage >&2
	err "PLUTO_VERB is not set: this script is run by charon"
	exit 2
	;;
*) exit 0 ;; # prepare-* and anything newer: nothing to steer
esac

peer=${PLUTO_PEER_CLIENT:-}
if [ -z "$peer" ]; then
	err "$PLUTO_VERB without PLUTO_PEER_CLIENT: no remote traffic selector"
	exit 1
fi
sa_text="${PLUTO_CONNECTION:-?} reqid ${PLUTO_REQID:-?}"
if_id=${PLUTO_IF_ID_OUT:-$fallback_if_id}
if [ -z "$if_id" ]; then
	err "no if_id for $peer ($sa_text)" "set if_id_out and if_id_in in swanctl.conf, or pass \"if_id ID\""
	exit 1
fi

xs() {
	if [ -n "$netns" ]; then
		"$XFRM_STEER" -n "$netns" "$@"
	else
		"$XFRM_STEER" "$@"
	fi
}

tenant_args=
[ -n "$tenant" ] && tenant_args="tenant $tenant"
route_text="$peer if_id $if_id${tenant:+ tenant $tenant} dev $dev${netns:+ netns $netns}"

# A route is (network namespace, device, tenant, prefix); the namespace by
# inode, as xfrm-steer's own pins are, so that two names of one namespace
# share claims.
if [ -n "$netns" ]; then
	ns_id=$(stat -L -c %i "/run/netns/$netns" 2>/dev/null) || {
		err "no network namespace \"$netns\" (/run/netns/$netns)"
		exit 1
	}
else
	ns_id=$(stat -L -c %i /proc/self/ns/net 2>/dev/null) || ns_id=self
fi
# The tenant as a number when it is one, so 0x100 and 256 are one tenant.
tenant_id=${tenant:-0}
case $tenant_id in
*[!0-9a-fA-FxX]*) ;;
*) tenant_id=$(printf '%u' "$tenant_id" 2>/dev/null) || tenant_id=${tenant:-0} ;;
esac

state_dir=${XS_UPDOWN_STATE_DIR:-/run/xfrm-steer/updown}
if ! (umask 077 && mkdir -p "$state_dir") 2>/dev/null; then
	err "cannot create $state_dir"
	exit 1
fi
scope="$state_dir/$(printf '%s_%s_%s_' "$ns_id" "$dev" "$tenant_id" | tr '/:' '+.')"
state="$scope$(printf '%s' "$peer" | tr '/:' '+.')"
# The claim of this call: the IKE_SA, the CHILD_SA and the local selector
# say which claim; the if_id what for; the connection and the peer's
# identity whose. A claim is one line of its route's state file:
#   UNIQUEID REQID MY_CLIENT IF_ID PREFIX CONNECTION PEER_ID
# (PEER_ID last: it may hold spaces).
who="${PLUTO_UNIQUEID:-0} ${PLUTO_REQID:-0} ${PLUTO_MY_CLIENT:-?}"
conn=$(printf '%s' "${PLUTO_CONNECTION:-?}" | tr ' \t\n' '___')
peer_id=$(printf '%s' "${PLUTO_PEER_ID:-}" | tr '\t\n' '  ')
# charon always passes PLUTO_PEER_ID; the outer address stands in otherwise.
[ -n "$peer_id" ] || peer_id="address ${PLUTO_PEER:-?}"

# Prefix arithmetic in awk (POSIX: no bit operations, no strtonum): each
# prefix becomes a string of 0 and 1, one per address bit, so two prefixes
# overlap when they agree on the bits of the shorter one. Between two
# prefixes of one family there are only four cases: apart, the same, one
# inside the other.
XS_AWK_PREFIX='
function bits4(a,   n, o, i, v, b, k, out) {
	n = split(a, o, ".")
	if (n != 4) return ""
	out = ""
	for (i = 1; i <= 4; i++) {
		if (o[i] !~ /^[0-9]+$/ || length(o[i]) > 3 || o[i] + 0 > 255) return ""
		v = o[i] + 0; b = ""
		for (k = 0; k < 8; k++) { b = (v % 2) b; v = int(v / 2) }
		out = out b
	}
	return out
}
function hex16(g,   i, c, v, b, k, out) {
	if (g !~ /^[0-9a-f]+$/ || length(g) > 4) return ""
	while (length(g) < 4) g = "0" g
	out = ""
	for (i = 1; i <= 4; i++) {
		v = index("0123456789abcdef", substr(g, i, 1)) - 1; b = ""
		for (k = 0; k < 4; k++) { b = (v % 2) b; v = int(v / 2) }
		out = out b
	}
	return out
}
function bits6(a,   n, h, t, nh, nt, hg, tg, i, out, v4, z, g) {
	a = tolower(a)
	v4 = ""
	if (a ~ /\./) { # an IPv4 tail: the last 32 bits
		n = match(a, /[0-9.]+$/)
		if (!n) return ""
		v4 = bits4(substr(a, n))
		if (v4 == "") return ""
		a = substr(a, 1, n - 1)
		if (a ~ /[^:]:$/) a = substr(a, 1, length(a) - 1)
		else if (a !~ /::$/) return ""
	}
	want = (v4 == "") ? 8 : 6
	n = index(a, "::")
	if (n) {
		h = substr(a, 1, n - 1); t = substr(a, n + 2)
		if (index(t, "::")) return ""
		nh = (h == "") ? 0 : split(h, hg, ":")
		nt = (t == "") ? 0 : split(t, tg, ":")
		if (nh + nt >= want) return ""
	} else {
		nh = split(a, hg, ":"); nt = 0
		if (nh != want) return ""
	}
	out = ""
	for (i = 1; i <= nh; i++) { g = hex16(hg[i]); if (g == "") return ""; out = out g }
	for (z = nh + nt; z < want; z++) out = out "0000000000000000"
	for (i = 1; i <= nt; i++) { g = hex16(tg[i]); if (g == "") return ""; out = out g }
	return out v4
}
# Sets BITS (address bits, "4:" or "6:" first) and LEN; 0 when not a prefix.
function prefix(p,   n, a, l, max) {
	n = index(p, "/")
	if (n) { a = substr(p, 1, n - 1); l = substr(p, n + 1) } else { a = p; l = "" }
	if (index(a, ":")) { BITS = bits6(a); max = 128; f = "6:" }
	else { BITS = bits4(a); max = 32; f = "4:" }
	if (BITS == "") return 0
	if (l == "") l = max
	if (l !~ /^[0-9]+$/ || length(l) > 3 || l + 0 > max) return 0
	LEN = l + 0
	BITS = f BITS
	return 1
}
# Of prefix p against prefix q: "same", "inside" (p is more specific),
# "contains", "apart"; "bad" when one is not a prefix.
function relation(p, q,   bp, lp) {
	if (!prefix(p)) return "bad"
	bp = BITS; lp = LEN
	if (!prefix(q)) return "bad"
	if (substr(bp, 1, 2) != substr(BITS, 1, 2)) return "apart"
	m = (lp < LEN) ? lp : LEN
	if (substr(bp, 3, m) != substr(BITS, 3, m)) return "apart"
	if (lp == LEN) return "same"
	return (lp > LEN) ? "inside" : "contains"
}
'

# check_claim: prints nothing when this peer may claim $peer, else one line
# "REASON DETAIL": "bad" (not a prefix), "badallow PREFIX", "allow" (not
# inside the allowed prefixes), or "held PREFIX RELATION CONNECTION PEER_ID"
# for the first claim of another peer that $peer overlaps.
check_claim() {
	# shellcheck disable=SC2086 # the glob is wanted
	set -- "$scope"*
	[ -e "$1" ] || set -- /dev/null
	awk -v me="$peer" -v id="$peer_id" -v allow="$allow" -v scope="$scope" \
		"$XS_AWK_PREFIX"'
	BEGIN {
		if (!prefix(me)) { print "bad"; exit }
		if (allow != "") {
			n = split(allow, al, ",")
			ok = 0
			for (i = 1; i <= n; i++) {
				r = relation(me, al[i])
				if (r == "bad") { print "badallow " al[i]; exit }
				if (r == "same" || r == "inside") ok = 1
			}
			if (!ok) { print "allow"; exit }
		}
	}
	FNR == 1 {
		# Only state files of this (namespace, device, tenant): what
		# follows the scope is a prefix, which has no "_".
		rest = substr(FILENAME, length(scope) + 1)
		skipfile = (substr(FILENAME, 1, length(scope)) != scope || rest ~ /_/ || rest ~ /\.tmp$/)
	}
	skipfile || NF < 7 { next }
	{
		line = $0
		sub(/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ /, "", line)
		if (line == id) next
		r = relation(me, $5)
		if (r != "apart" && r != "bad") { print "held " $5 " " r " " $6 " " line; exit }
	}' "$@"
}

# count_refusal PREFIX: one more refusal of PREFIX for this connection and
# peer in $state_dir/refused.
count_refusal() {
	key="$1 $conn $peer_id"
	touch "$state_dir/refused" 2>/dev/null || return 0
	awk -v k="$key" '
		{ c = $1; sub(/^[0-9]+ /, ""); if ($0 == k) { c++; f = 1 } print c " " $0 }
		END { if (!f) print 1 " " k }' "$state_dir/refused" >"$state_dir/refused.tmp" &&
		mv -f "$state_dir/refused.tmp" "$state_dir/refused"
}

# charon runs scripts of different CHILD_SAs concurrently; the claims and
# the route change are one step. flock is util-linux (and busybox); without
# it, go on unlocked rather than not at all.
if command -v flock >/dev/null 2>&1; then
	exec 9>>"$state_dir/.lock"
	if ! flock -w 30 9; then
		err "$PLUTO_VERB $peer not done: timed out waiting for $state_dir/.lock"
		exit 1
	fi
fi

# Print the claims in $state except those of $who.
other_claims() {
	[ -f "$state" ] || return 0
	while read -r u r m i rest; do
		[ -n "$i" ] || continue
		[ "$u $r $m" = "$who" ] && continue
		echo "$u $r $m $i${rest:+ $rest}"
	done <"$state"
}

# Succeeds when $state holds a claim of $who.
own_claim() {
	[ -f "$state" ] || return 1
	while read -r u r m i rest; do
		[ "$u $r $m" = "$who" ] && return 0
	done <"$state"
	return 1
}

save_claims() { # CLAIMS
	if [ -z "$1" ]; then
		rm -f "$state"
	else
		printf '%s\n' "$1" >"$state.tmp" && mv -f "$state.tmp" "$state"
	fi
}

route_add() { # IF_ID
	# shellcheck disable=SC2086 # tenant_args is two words or none
	out=$(xs route add "$peer" if_id "$1" $tenant_args dev "$dev" 2>&1)
}

route_del() {
	# shellcheck disable=SC2086
	out=$(xs route del "$peer" $tenant_args dev "$dev" 2>&1)
}

others=$(other_claims)
if [ "$action" = up ]; then
	verdict=$(check_claim)
	case $verdict in
	"") ;;
	bad)
		err "refused $peer ($sa_text): not a prefix"
		exit 1
		;;
	badallow*)
		err "allow ${verdict#badallow }: not a prefix"
		exit 2
		;;
	allow)
		count_refusal "$peer"
		err "refused $peer for $peer_id ($conn): outside allow $allow"
		exit 1
		;;
	held*)
		set -f
		# shellcheck disable=SC2086 # split into words
		set -- $verdict
		count_refusal "$peer"
		held_id=${verdict#held * * * }
		err "refused $peer for $peer_id ($conn): $3 $2 of $held_id ($4)"
		exit 1
		;;
	esac
	if ! route_add "$if_id"; then
		err "route add $route_text failed ($sa_text)" "$out"
		exit 1
	fi
	save_claims "$others${others:+
}$who $if_id $peer $conn $peer_id"
	say "route add $route_text ($sa_text)"
	exit 0
fi

if [ -n "$others" ] && ! own_claim; then
	# Not ours (a refused up, or down twice): the route is another's.
	say "route $peer kept: not claimed by this CHILD_SA ($sa_text down)"
	exit 0
fi
save_claims "$others"
if [ -n "$others" ]; then
	# Still claimed: follow the newest remaining claim.
	keep=$(printf '%s\n' "$others" | tail -n 1)
	# shellcheck disable=SC2034 # u r m rest: the words around IF_ID
	read -r u r m keep_if_id rest <<EOF
$keep
EOF
	if ! route_add "$keep_if_id"; then
		err "route add $peer if_id $keep_if_id (kept for another CHILD_SA) failed" "$out"
		exit 1
	fi
	say "route $peer kept, if_id $keep_if_id: $(printf '%s\n' "$others" | wc -l) more claim(s) ($sa_text down)"
	exit 0
fi
if ! route_del; then
	case $out in
	*"no route "*)
		say "route $peer gone already ($sa_text)"
		exit 0
		;;
	esac
	err "route del $route_text failed ($sa_text)" "$out"
	exit 1
fi
say "route del $route_text ($sa_text)"
exit 0
