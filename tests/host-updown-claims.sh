#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The updown script's claims, on the build machine, without charon and
# without a kernel datapath: scripts/strongswan-updown.sh is run with PLUTO_*
# variables set by hand and XFRM_STEER pointing at a stub that keeps the
# routes in a file. A prefix belongs to the peer identity that claimed it
# first: the same peer may claim it again (rekey, reauthentication, more
# CHILD_SAs); another peer's claim of the same prefix, of a more specific or
# of a wider one is refused, changes no route, exits non-zero, says so in one
# line and is counted in the state directory's "refused" file; so is a claim
# outside the updown line's "allow" prefixes.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDOWN=${UPDOWN:-$PWD/scripts/strongswan-updown.sh}

T=$(mktemp -d /tmp/xs-updown-claims.XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
assert_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
	echo "ok: $3"
}

# The stub: "route add P if_id N [tenant K] dev D" replaces in place,
# "route del P [tenant K] dev D" fails with "no route" when there is none;
# routes are "DEV TENANT PREFIX IF_ID" lines in $T/routes.
cat >"$T/xfrm-steer" <<'EOF'
#!/bin/sh
[ "$1" = -n ] && shift 2
f=$(dirname "$0")/routes
touch "$f"
verb=$2 p=$3 tenant=0 dev= if_id=
shift 3
while [ $# -gt 0 ]; do
	case $1 in
	if_id) if_id=$2 ;;
	tenant) tenant=$2 ;;
	dev) dev=$2 ;;
	esac
	shift 2
done
grep -v "^$dev $tenant $p " "$f" >"$f.new" || :
if [ "$verb" = add ]; then
	echo "$dev $tenant $p $if_id" >>"$f.new"
elif ! grep -q "^$dev $tenant $p " "$f"; then
	rm -f "$f.new"
	echo "Error: no route $p" >&2
	exit 1
fi
sort "$f.new" >"$f"
rm -f "$f.new"
EOF
chmod +x "$T/xfrm-steer"

# VERB PEER_TS PEER_ID UNIQUEID IF_ID [ARGS...]; output in $T/out
updown() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin XFRM_STEER="$T/xfrm-steer" \
		XS_UPDOWN_STATE_DIR="$T/state" XS_UPDOWN_SYSLOG=0 \
		PLUTO_VERSION=1.1 PLUTO_VERB="$1" PLUTO_PEER_CLIENT="$2" PLUTO_MY_CLIENT=10.255.0.0/16 \
		PLUTO_PEER_ID="$3" PLUTO_UNIQUEID="$4" PLUTO_REQID=7 PLUTO_CONNECTION="conn-${3%%.*}" \
		PLUTO_IF_ID_OUT="$5" "$UPDOWN" ipsec0 "${@:6}" >"$T/out" 2>&1
}
routes() { cat "$T/routes" 2>/dev/null || :; }
refused() { # PREFIX PEER_ID: the count, or 0
	awk -v k="$1 conn-${2%%.*} $2" '{ c = $1; sub(/^[0-9]+ /, "") } $0 == k { print c; f = 1 } END { if (!f) print 0 }' \
		"$T/state/refused" 2>/dev/null || echo 0
}
refuses() { # WHAT UPDOWN-ARGS...
	local what=$1
	shift
	if updown "$@"; then
		cat "$T/out"
		fail "$what: accepted"
	fi
	cat "$T/out"
	[ "$(wc -l <"$T/out")" -eq 1 ] || fail "$what: not one line of output"
	grep -q '^xfrm-steer: error: refused ' "$T/out" || fail "$what: no refusal line"
	echo "ok: $what: refused"
}

echo "-- the same peer: up twice, a second CHILD_SA, reauthentication"
updown up-client 192.168.1.0/24 peer1.example 1 42
updown up-client 192.168.1.0/24 peer1.example 1 42
updown up-client 192.168.1.0/24 peer1.example 2 43
assert_eq "$(routes)" "ipsec0 0 192.168.1.0/24 43" "the newest claim of peer1 wins"
updown up-client 192.168.1.128/25 peer1.example 2 43
updown down-client 192.168.1.128/25 peer1.example 2 43
assert_eq "$(routes)" "ipsec0 0 192.168.1.0/24 43" "peer1 may claim inside its own prefix"
updown up-client-v6 2001:db8:1::/48 peer1.example 1 42
updown up-client 10.9.0.0/16 peer1.example 1 42
assert_eq "$(routes)" "ipsec0 0 10.9.0.0/16 42
ipsec0 0 192.168.1.0/24 43
ipsec0 0 2001:db8:1::/48 42" "routes of peer1"

echo "-- another peer: the same, a more specific and a wider prefix"
refuses "peer2 claims peer1's prefix" up-client 192.168.1.0/24 peer2.example 5 50
refuses "peer2 claims a prefix inside peer1's" up-client 192.168.1.200/32 peer2.example 5 50
refuses "peer2 claims a prefix around peer1's" up-client 192.168.0.0/16 peer2.example 5 50
refuses "peer2 claims 0.0.0.0/0" up-client 0.0.0.0/0 peer2.example 5 50
refuses "peer2 claims inside peer1's IPv6 prefix" up-client-v6 2001:db8:1:0:0:0:0:200/128 peer2.example 5 50
refuses "peer2 claims around peer1's IPv6 prefix" up-client-v6 2001:db8::/32 peer2.example 5 50
grep -q 'contains 2001:db8:1::/48 of peer1.example (conn-peer1)' "$T/out" || fail "the refusal names the holder"
refuses "peer2 claims the same prefix again" up-client 192.168.1.0/24 peer2.example 6 51
assert_eq "$(routes)" "ipsec0 0 10.9.0.0/16 42
ipsec0 0 192.168.1.0/24 43
ipsec0 0 2001:db8:1::/48 42" "no route changed"
assert_eq "$(refused 192.168.1.0/24 peer2.example)" 2 "refusals of 192.168.1.0/24 for peer2 counted"
assert_eq "$(refused 2001:db8::/32 peer2.example)" 1 "refusals of 2001:db8::/32 for peer2 counted"
cat "$T/state/refused"
updown down-client 192.168.1.0/24 peer2.example 5 50
assert_eq "$(routes | grep -c 192.168.1.0/24)" 1 "down of a refused claim leaves peer1's route"

echo "-- another peer beside: apart prefixes are fine; other tenants are apart"
updown up-client 192.168.2.0/24 peer2.example 5 50
updown up-client-v6 2001:db8:2::/48 peer2.example 5 50
updown up-client 192.168.1.0/24 peer2.example 5 50 tenant 0x200
assert_eq "$(routes | grep -c ' 50$')" 3 "peer2's own routes"
refuses "peer1 claims a prefix inside peer2's" up-client 192.168.2.7/32 peer1.example 1 42

echo "-- allow: claims inside and outside the allowed prefixes"
updown up-client 10.9.0.0/16 peer1.example 1 42 allow 10.9.0.0/16,2001:db8:9::/48
updown up-client-v6 2001:db8:9:1::/64 peer1.example 1 42 allow 10.9.0.0/16 allow 2001:db8:9::/48
assert_eq "$(routes | grep -c '9[.:]')" 2 "claims inside allow"
refuses "outside allow" up-client 10.8.0.0/16 peer3.example 9 60 allow 10.9.0.0/16,2001:db8:9::/48
refuses "wider than allow" up-client-v6 2001:db8:9::/47 peer3.example 9 60 allow 10.9.0.0/16,2001:db8:9::/48
grep -q 'outside allow' "$T/out" || fail "the refusal names allow"
assert_eq "$(refused 10.8.0.0/16 peer3.example)" 1 "allow refusal counted"
if updown up-client 10.9.0.0/16 peer3.example 9 60 allow 10.9.0.0/33; then fail "bad allow prefix accepted"; fi
echo "ok: a bad allow prefix is an error"

echo "-- the holder goes: the prefix is free again"
updown down-client 192.168.1.0/24 peer1.example 1 42
assert_eq "$(routes | grep '^ipsec0 0 192.168.1.0/24 ')" "ipsec0 0 192.168.1.0/24 43" "still held by peer1's second CHILD_SA"
refuses "peer2 while peer1 holds one claim" up-client 192.168.1.0/24 peer2.example 5 50
updown down-client 192.168.1.0/24 peer1.example 2 43
updown up-client 192.168.1.0/24 peer2.example 5 50
assert_eq "$(routes | grep '^ipsec0 0 192.168.1.0/24 ')" "ipsec0 0 192.168.1.0/24 50" \
	"peer2 claims the prefix once peer1's claims are gone"
echo "PASS"
