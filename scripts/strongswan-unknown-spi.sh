#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# strongSwan hook of "xfrm-steer daemon ... on-unknown-spi CMD": a peer sends
# ESP with an SPI this host has no SA for (this host restarted and lost its
# SAs, the peer still has its own). Instead of waiting for the peer's DPD,
# initiate every connection whose remote_addrs names that peer, each of its
# children, so the peer gets a new IKE_SA (with INITIAL_CONTACT: it drops
# the old one) within seconds.
#
#   xfrm-steer daemon on-unknown-spi /usr/lib/xfrm-steer/strongswan-unknown-spi.sh \
#           underlay eth0
#
# Options (before the daemon's environment is read):
#   --uri URI    charon's vici socket (swanctl --uri), default swanctl's own
# Environment (set by the daemon): XS_PEER, XS_SPI, XS_DST, XS_FAMILY, XS_DEV.
#
# Only remote_addrs given as plain addresses match (not %any, ranges, names
# or subnets). The initiates run in the background with a timeout: the hook
# returns at once. What it does goes to stdout (the daemon's log); with
# XS_HOOK_WAIT=1 it waits for swanctl and exits non-zero if one failed.
#
# libreswan: the same job is one command, e.g. a hook script running
#   ipsec whack --initiate --asynchronous --name CONN      (or ipsec auto --up CONN)
# for the connection whose right= is "$XS_PEER".
set -u

uri=
while [ $# -gt 0 ]; do
	case $1 in
	--uri)
		[ $# -ge 2 ] || { echo "strongswan-unknown-spi: --uri needs a value" >&2; exit 2; }
		uri=$2
		shift 2
		;;
	*)
		echo "strongswan-unknown-spi: unknown argument \"$1\"" >&2
		exit 2
		;;
	esac
done
peer=${XS_PEER:-}
[ -n "$peer" ] || { echo "strongswan-unknown-spi: XS_PEER is not set (run by xfrm-steer daemon)" >&2; exit 2; }

sw() { # COMMAND-OPTION ARGS...: the command option comes first, then --uri
	c=$1
	shift
	if [ -n "$uri" ]; then
		swanctl "$c" --uri "$uri" "$@"
	else
		swanctl "$c" "$@"
	fi
}

# Exit 75 (EX_TEMPFAIL) asks the daemon to run the hook again at the next
# unknown SPI of this peer rather than after its interval: charon may not be
# up yet, or not have loaded its connections (a host that is booting).
# One swanctl and one awk: under emulation or load every process costs.
# awk prints "CONN:CHILD" for each child of a connection whose remote
# addresses (the "  remote:" line right under the connection's line) hold
# the peer, and "-" when charon has no connection at all.
pairs=$(sw --list-conns 2>/dev/null | awk -v peer="$peer" '
	/^[^ ]/ { conn = $1; sub(/:$/, "", conn); match_conn = 0; nconn++; next }
	/^  remote: / {
		line = $0
		sub(/^  remote: */, "", line)
		gsub(/,/, " ", line)
		n = split(line, a, " ")
		for (i = 1; i <= n; i++)
			if (a[i] == peer)
				match_conn = 1
		next
	}
	/^  [^ ]+: (TUNNEL|TRANSPORT|BEET)/ && match_conn {
		child = $1
		sub(/:$/, "", child)
		print conn ":" child
	}
	END { if (!nconn) print "-" }
') || pairs=-
# Exit 75 (EX_TEMPFAIL) asks the daemon to run the hook again at the next
# unknown SPI of this peer rather than after its interval: charon may not be
# up yet, or not have loaded its connections (a host that is booting).
if [ "$pairs" = - ]; then
	echo "strongswan-unknown-spi: charon unreachable or no connections loaded (yet)"
	exit 75
fi
if [ -z "$pairs" ]; then
	echo "strongswan-unknown-spi: no connection has remote_addrs $peer (unknown SPI ${XS_SPI:-?}): nothing to initiate"
	exit 0
fi

pids=
for p in $pairs; do
	conn=${p%%:*}
	child=${p#*:}
	echo "strongswan-unknown-spi: unknown SPI ${XS_SPI:-?} from $peer: initiating $conn/$child"
	sw --initiate --ike "$conn" --child "$child" --timeout 30 >/dev/null 2>&1 &
	pids="$pids $!"
done
if [ "${XS_HOOK_WAIT:-0}" = 1 ]; then
	rc=0
	for pid in $pids; do
		wait "$pid" || rc=1
	done
	exit $rc
fi
exit 0
