#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# strongSwan updown script for xfrm-steer: keeps the steering routes of an
# external xfrm interface in step with the CHILD_SAs that charon negotiates.
#
# In swanctl.conf, in the section of a CHILD_SA that has if_id_out set:
#
#   updown = /usr/local/lib/xfrm-steer/strongswan-updown.sh [dev] NAME [tenant KEY] [netns NETNS] [if_id ID]
#
#   dev NAME       the attached external xfrm interface (default ipsec0)
#   tenant KEY     the tenant of the routes, as for "xfrm-steer route add"
#   netns NETNS    run xfrm-steer in this named network namespace (-n)
#   if_id ID       if_id to use when charon passes none (PLUTO_IF_ID_OUT is
#                  exported by strongSwan 5.8 and later and always wins)
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
A strongSwan updown script (swanctl.conf: updown = PATH ARGS...): adds the
remote traffic selector of a CHILD_SA as an xfrm-steer route to the CHILD_SA's
if_id_out when it comes up, and removes it when it goes down.
EOF
}

dev=${XS_UPDOWN_DEV:-}
tenant=${XS_UPDOWN_TENANT:-}
netns=${XS_UPDOWN_NETNS:-}
fallback_if_id=${XS_UPDOWN_IF_ID:-}
dev_arg=
while [ $# -gt 0 ]; do
	case $1 in
	dev | tenant | netns | if_id)
		if [ $# -lt 2 ]; then
			err "\"$1\" needs a value"
			exit 2
		fi
		case $1 in
		dev) dev=$2 dev_arg=1 ;;
		tenant) tenant=$2 ;;
		netns) netns=$2 ;;
		if_id) fallback_if_id=$2 ;;
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
state="$state_dir/$(printf '%s_%s_%s_%s' "$ns_id" "$dev" "$tenant_id" "$peer" | tr '/:' '+.')"
# The claim of this call: the IKE_SA, the CHILD_SA and the local selector
# say who claims; the if_id what for.
who="${PLUTO_UNIQUEID:-0} ${PLUTO_REQID:-0} ${PLUTO_MY_CLIENT:-?}"

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
	while read -r u r m i; do
		[ -n "$i" ] || continue
		[ "$u $r $m" = "$who" ] && continue
		echo "$u $r $m $i"
	done <"$state"
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
	if ! route_add "$if_id"; then
		err "route add $route_text failed ($sa_text)" "$out"
		exit 1
	fi
	save_claims "$others${others:+
}$who $if_id"
	say "route add $route_text ($sa_text)"
	exit 0
fi

save_claims "$others"
if [ -n "$others" ]; then
	# Still claimed: follow the newest remaining claim.
	keep=$(printf '%s\n' "$others" | tail -n 1)
	keep_if_id=${keep##* }
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
