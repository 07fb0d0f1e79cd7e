#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libreswan (pluto) updown script for xfrm-steer, in one of two modes.
#
# With the daemon (recommended): `xfrm-steer daemon dev ipsec0 ike if_ids
# LO-HI ...` makes the routes from the kernel's policies and SAs, and this
# script only sets pluto's own device down (see below), never waits and
# never fails a CHILD_SA. In ipsec.conf, in a conn with ipsec-interface=ID
# (ID inside LO-HI):
#
#   ipsec-interface=42
#   leftupdown="/usr/local/lib/xfrm-steer/libreswan-updown.sh ike-daemon"
#
# (the first word "ike-daemon" selects this mode; it takes no other words).
#
# With the relay (no daemon): a thin front for strongswan-updown.sh, which
# does the work (routes, claims, refusals) for both IKE daemons:
#
#   ipsec-interface=42
#   leftupdown="/usr/local/lib/xfrm-steer/libreswan-updown.sh dev ipsec0"
#
# and, as root outside pluto (systemd: xfrm-steer-libreswan-relay.service):
#
#   /usr/local/lib/xfrm-steer/libreswan-updown.sh relay
#
# It takes the same arguments as strongswan-updown.sh ([dev] NAME, tenant
# KEY, netns NETNS, if_id ID, allow PREFIX[,PREFIX...]).
#
# pluto passes the same PLUTO_VERB (up-client, down-client, ... plus
# prepare-*, route-* and unroute-*, which steer nothing), PLUTO_PEER_CLIENT,
# PLUTO_MY_CLIENT, PLUTO_CONNECTION, PLUTO_PEER_ID and PLUTO_PEER as charon,
# but no PLUTO_IF_ID_OUT and no PLUTO_UNIQUEID, and its reqid as
# PLUTO_SA_REQID. The if_id is the one of the device pluto puts the SAs and
# policies on, PLUTO_VIRT_INTERFACE: pluto 4.x names it ipsecID and gives
# its SAs and policies XFRMA_IF_ID ID (ipsec-interface=0 is the exception:
# device ipsec0, if_id 16384). The claim of a CHILD_SA is its connection's
# reqid and local selector (pluto keeps the reqid across rekeys).
#
# Capabilities: pluto limits its children's capability bounding set to
# CAP_NET_ADMIN, CAP_NET_RAW and CAP_DAC_READ_SEARCH, so no updown script it
# runs can use BPF maps, root or not (xfrm-steer then says it needs
# CAP_BPF). So, in relay mode, when it lacks CAP_BPF and CAP_SYS_ADMIN, this
# script hands the call to the relay: it writes the call (arguments and the
# PLUTO_* variables) into the spool directory, the relay runs
# strongswan-updown.sh with it, and this script waits for the result,
# prints its output (pluto logs it as "up-client output: ...") and exits
# with its status. pluto runs updown scripts one at a time, so calls keep
# their order. With no relay running it fails at once, naming the fix.
# pluto refuses a CHILD_SA whose up fails (TS_UNACCEPTABLE): no CHILD_SA
# without its route. (Setting a device down needs only CAP_NET_ADMIN.)
#
# pluto insists on a device ipsecID of kind xfrm with if_id ID: it creates
# one (linked to the IKE interface) when there is none and brings it up
# before each new CHILD_SA, and refuses an external (collect_md) device,
# whose if_id is 0. The kernel delivers decrypted packets to a device whose
# if_id equals the SA's before the external device, so while pluto's device
# is up the tunnel's inbound traffic bypasses xfrm-steer (no tenant check,
# no rx counters). So on each up this script sets pluto's device down (with
# pluto's own CAP_NET_ADMIN); it keeps existing for pluto, unused. Outbound
# traffic never used it: the route sends it to the external device, whose
# tc program sets the if_id. Do not name the external device ipsecID for an
# ID that pluto uses.
#
# pluto also brings its device up again when it answers a CHILD_SA rekey,
# without running updown. The daemon (ike mode) sets such a device down as
# soon as the kernel tells it is up. Relay mode has no such cover: keep the
# gateway the rekey initiator (a shorter rekeymargin than the peer's), or
# set the device down from a timer (ip link set ipsecID down).
#
# Environment as for strongswan-updown.sh, and:
#   XS_UPDOWN_MAIN           the main script (default: strongswan-updown.sh
#                            beside this one)
#   XS_UPDOWN_SPOOL          the relay's spool directory (default
#                            /run/xfrm-steer/libreswan-spool)
#   XS_UPDOWN_RELAY_TIMEOUT  seconds to wait for the relay (default 30)

case $0 in
*/*) here=${0%/*} ;;
*) here=. ;;
esac
main=${XS_UPDOWN_MAIN:-$here/strongswan-updown.sh}
spool=${XS_UPDOWN_SPOOL:-/run/xfrm-steer/libreswan-spool}
relay_timeout=${XS_UPDOWN_RELAY_TIMEOUT:-30}

err() {
	echo "xfrm-steer: error: $*" >&2
}

# The relay: runs the calls queued in the spool, oldest first, for as long
# as it lives; one relay per spool (it holds the spool's .relay lock).
# shellcheck disable=SC2120 # "$@" is what each request sets
relay() {
	if ! (umask 077 && mkdir -p "$spool") 2>/dev/null; then
		err "cannot create $spool"
		exit 1
	fi
	exec 8>>"$spool/.relay"
	if ! flock -n 8; then
		err "a relay already serves $spool"
		exit 1
	fi
	echo "xfrm-steer: libreswan updown relay serving $spool"
	while :; do
		for req in "$spool"/*.req; do
			[ -f "$req" ] || continue
			base=${req%.req}
			(
				# shellcheck disable=SC1090 # written by the front below
				. "$req" && exec "$main" "$@"
			) >"$base.out.tmp" 2>&1 </dev/null 8>&-
			rc=$?
			mv -f "$base.out.tmp" "$base.out"
			echo "$rc" >"$base.rc.tmp" && mv -f "$base.rc.tmp" "$base.rc"
			rm -f "$req"
		done
		# (no child keeps the lock when the relay is gone)
		sleep 0.1 8>&-
	done
}

if [ "${1:-}" = relay ]; then
	# shellcheck disable=SC2119
	relay
fi

case ${PLUTO_VERB:-} in
"")
	echo "xfrm-steer: error: PLUTO_VERB is not set: this script is run by pluto" >&2
	exit 2
	;;
esac

# The device pluto made or checked for this connection, and its if_id.
virt=${PLUTO_VIRT_INTERFACE:-NULL}
if [ -z "${PLUTO_IF_ID_OUT:-}" ] && [ "$virt" != NULL ] && [ "${PLUTO_XFRMI_ROUTE:-}" = yes ]; then
	case $virt in
	ipsec0) PLUTO_IF_ID_OUT=16384 ;;
	ipsec[1-9]*)
		n=${virt#ipsec}
		case $n in
		*[!0-9]*) ;;
		*) PLUTO_IF_ID_OUT=$n ;;
		esac
		;;
	esac
fi
[ -n "${PLUTO_IF_ID_OUT:-}" ] && export PLUTO_IF_ID_OUT
[ -z "${PLUTO_REQID:-}" ] && [ -n "${PLUTO_SA_REQID:-}" ] && export PLUTO_REQID="$PLUTO_SA_REQID"

# Keep pluto's own device down once its CHILD_SA is up (see above); never
# an external device, which is the one that carries the traffic.
case $PLUTO_VERB in
up-* | route-*)
	if [ "$virt" != NULL ] && [ "${PLUTO_XFRMI_ROUTE:-}" = yes ] &&
		info=$(ip -d link show dev "$virt" 2>/dev/null); then
		case $info in
		*" external"*) ;;
		*"<UP"* | *",UP"*)
			ip link set dev "$virt" down 2>/dev/null ||
				echo "xfrm-steer: error: cannot set pluto's $virt down: inbound packets bypass xfrm-steer" >&2
			;;
		esac
	fi
	;;
esac
# With the daemon, that is all: it makes the routes.
[ "${1:-}" = ike-daemon ] && exit 0

# Can this process use BPF maps? CAP_SYS_ADMIN is bit 21, CAP_BPF bit 39.
# (Shell builtins only where it can be: under pluto every exec counts.)
caps=0
while read -r key val; do
	[ "$key" = CapEff: ] && caps=$val && break
done </proc/self/status 2>/dev/null
case $caps in
"" | *[!0-9a-fA-F]*) caps=0 ;;
esac
if [ $((0x$caps >> 21 & 1)) -eq 1 ] || [ $((0x$caps >> 39 & 1)) -eq 1 ]; then
	exec "$main" "$@"
fi

# Not here (pluto's children): hand the call to the relay.
case $PLUTO_VERB in
up-* | down-*) ;;
*) exit 0 ;; # prepare-*, route-*, unroute-*: nothing to steer
esac
if ! [ -d "$spool" ] || ! command -v flock >/dev/null 2>&1 ||
	flock -n "$spool/.relay" true 2>/dev/null; then
	err "$PLUTO_VERB ${PLUTO_PEER_CLIENT:-?} not done: pluto's updown cannot use BPF maps and no relay serves $spool" \
		"(run \"$0 relay\" as root, e.g. xfrm-steer-libreswan-relay.service)"
	exit 1
fi
# Q = VALUE in single quotes, for the shell that sources the request.
quote() {
	Q='' rest=$1
	while :; do
		case $rest in
		*\'*)
			Q="$Q${rest%%\'*}'\\''"
			rest=${rest#*\'}
			;;
		*)
			Q="'$Q$rest'"
			return
			;;
		esac
	done
}
# Only what the main script reads: some PLUTO_* variables come from the
# peer (banners, domains) and have no business in the relay.
vars="PLUTO_VERB PLUTO_PEER_CLIENT PLUTO_MY_CLIENT PLUTO_CONNECTION PLUTO_PEER_ID
PLUTO_PEER PLUTO_IF_ID_OUT PLUTO_REQID PLUTO_UNIQUEID XFRM_STEER XS_UPDOWN_DEV
XS_UPDOWN_TENANT XS_UPDOWN_NETNS XS_UPDOWN_IF_ID XS_UPDOWN_STATE_DIR XS_UPDOWN_SYSLOG"
id=$(date +%s%N).$$
{
	for v in $vars; do
		eval "set=\${$v+x} val=\${$v-}"
		[ -n "$set" ] || continue
		quote "$val"
		printf 'export %s=%s\n' "$v" "$Q"
	done
	printf 'set --'
	for a; do
		quote "$a"
		printf ' %s' "$Q"
	done
	echo
} >"$spool/$id.tmp" 2>/dev/null
if ! mv -f "$spool/$id.tmp" "$spool/$id.req" 2>/dev/null; then
	rm -f "$spool/$id.tmp"
	err "cannot queue $PLUTO_VERB in $spool"
	exit 1
fi
tries=$((relay_timeout * 20))
until [ -f "$spool/$id.rc" ]; do
	tries=$((tries - 1))
	if [ "$tries" -lt 0 ]; then
		rm -f "$spool/$id.req"
		err "$PLUTO_VERB ${PLUTO_PEER_CLIENT:-?}: no answer from the relay in ${relay_timeout} s ($spool)"
		exit 1
	fi
	sleep 0.05
done
cat "$spool/$id.out" 2>/dev/null
rc=$(cat "$spool/$id.rc")
rm -f "$spool/$id.out" "$spool/$id.rc"
exit "${rc:-1}"
