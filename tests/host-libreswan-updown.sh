#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The libreswan front (scripts/libreswan-updown.sh) on the build machine,
# without pluto and without a kernel datapath, with a stub xfrm-steer: the
# if_id from PLUTO_VIRT_INTERFACE (ipsecN, and ipsec0 meaning 16384), the
# reqid as the claim, and the relay path that pluto's children take
# (their capability bounding set has no CAP_BPF or CAP_SYS_ADMIN, made here
# with setpriv): arguments and values with quotes, spaces and $(...) reach
# the main script unchanged, only the variables it reads cross over, the
# exit status comes back, and without a relay an up fails at once with the
# fix named. prepare-, route- and unroute- verbs always succeed. In
# ike-daemon mode (the daemon makes the routes) every verb succeeds at once
# and nothing calls xfrm-steer.
set -euo pipefail
cd "$(dirname "$0")/.."
FRONT=$PWD/scripts/libreswan-updown.sh

T=$(mktemp -d /tmp/xs-libreswan-updown.XXXXXX)
RELAY=
cleanup() {
	[ -z "$RELAY" ] || kill "$RELAY" 2>/dev/null || :
	wait 2>/dev/null || :
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ ! -s "$T/out" ] || sed 's/^/  out: /' "$T/out" >&2
	exit 1
}
assert_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
	echo "ok: $3"
}
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) is not installed"; exit 77; }
command -v flock >/dev/null || { echo "SKIP: flock (util-linux) is not installed"; exit 77; }
if ! setpriv --bounding-set=-all,+net_admin true 2>/dev/null; then
	echo "SKIP: cannot drop capabilities with setpriv here (not root?)"
	exit 77
fi

# The stub records each call, one line of arguments each in $T/calls.
cat >"$T/xfrm-steer" <<'EOF'
#!/bin/sh
f=$(dirname "$0")/calls
printf '%s\n' "$*" >>"$f"
[ "$1 $2" = "route add" ] && [ "$3" = 192.168.66.0/24 ] && { echo "Error: stub refuses $3" >&2; exit 1; }
exit 0
EOF
chmod +x "$T/xfrm-steer"

# as pluto runs it: VERB PEER_TS VIRT_INTERFACE [ARGS...]; output in $T/out
pluto_env() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin XFRM_STEER="$T/xfrm-steer" \
		XS_UPDOWN_STATE_DIR="$T/state" XS_UPDOWN_SYSLOG=0 XS_UPDOWN_SPOOL="$T/spool" \
		XS_UPDOWN_RELAY_TIMEOUT=20 \
		PLUTO_VERB="$1" PLUTO_PEER_CLIENT="$2" PLUTO_MY_CLIENT=10.255.0.0/16 \
		PLUTO_CONNECTION=branch1 PLUTO_SA_REQID=16389 PLUTO_PEER="203.0.113.11" \
		PLUTO_PEER_ID="@it's \"b1\" \$(touch $T/pwned)" PLUTO_VIRT_INTERFACE="$3" \
		PLUTO_XFRMI_ROUTE=yes PLUTO_PEER_BANNER="\$(touch $T/pwned)" "${@:4}"
}
front() { # VERB PEER_TS VIRT [ARGS...]: with pluto's capabilities
	pluto_env "$1" "$2" "$3" setpriv --bounding-set=-all,+net_admin,+net_raw,+dac_read_search \
		"$FRONT" "${@:4}" >"$T/out" 2>&1
}
calls() { cat "$T/calls" 2>/dev/null || :; }

echo "-- no relay: up fails at once with the fix named, the others succeed"
mkdir -p "$T/spool"
SECONDS=0
if front up-client 192.168.1.0/24 ipsec101 dev ipsec0; then fail "up without a relay succeeded"; fi
grep -q 'no relay serves .* (run ".* relay" as root' "$T/out" || fail "no relay: the message names no fix"
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "no relay: more than one line"
[ $SECONDS -le 2 ] || fail "no relay: took $SECONDS s"
assert_eq "$(calls)" "" "no relay: xfrm-steer not run"
for v in prepare-client route-client unroute-client prepare-client-v6; do
	front "$v" 192.168.1.0/24 ipsec101 dev ipsec0 || fail "$v failed"
done
echo "ok: prepare/route/unroute succeed without a relay"

echo "-- ike-daemon mode: never a route change, never a wait, never a failure"
SECONDS=0
for v in up-client down-client route-client prepare-client up-client-v6; do
	front "$v" 192.168.1.0/24 ipsec101 ike-daemon || fail "ike-daemon: $v failed"
	assert_eq "$(cat "$T/out")" "" "ike-daemon: $v says nothing"
done
# With every capability (not under pluto) too: the daemon makes the routes.
pluto_env up-client 192.168.1.0/24 ipsec101 "$FRONT" ike-daemon >"$T/out" 2>&1 ||
	fail "ike-daemon as root failed"
[ $SECONDS -le 2 ] || fail "ike-daemon: took $SECONDS s"
assert_eq "$(calls)" "" "ike-daemon: xfrm-steer not run"

echo "-- with the relay"
XS_UPDOWN_SPOOL="$T/spool" "$FRONT" relay >"$T/relay.out" 2>&1 &
RELAY=$!
for _ in $(seq 50); do grep -q 'relay serving' "$T/relay.out" && break; sleep 0.1; done
grep -q 'relay serving' "$T/relay.out" || fail "the relay did not start"
if XS_UPDOWN_SPOOL="$T/spool" "$FRONT" relay >"$T/out" 2>&1; then fail "a second relay started"; fi
echo "ok: one relay per spool"

front up-client 192.168.1.0/24 ipsec101 dev ipsec0 tenant "0x100" || fail "up via the relay failed"
assert_eq "$(calls)" "route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0" "up: route to the if_id of ipsec101"
grep -q '^xfrm-steer: route add 192.168.1.0/24 if_id 101 tenant 0x100 dev ipsec0 (branch1 reqid 16389)$' "$T/out" ||
	fail "up: the main script's output did not come back"
claim=$(cat "$T"/state/*192.168.1.0+24)
case $claim in
"0 16389 10.255.0.0/16 101 192.168.1.0/24 branch1 @it's \"b1\" \$(touch $T/pwned)") ;;
*) fail "claim: $claim" ;;
esac
echo "ok: the claim is the reqid's, the peer id arrived unchanged"
[ ! -e "$T/pwned" ] || fail "a value was run as a command"
echo "ok: no value ran as a command"

: >"$T/calls"
front up-client 192.168.2.0/24 ipsec0 dev ipsec0 || fail "up for ipsec0 failed"
assert_eq "$(calls)" "route add 192.168.2.0/24 if_id 16384 dev ipsec0" "ipsec-interface=0: if_id 16384"

: >"$T/calls"
if front up-client 192.168.66.0/24 ipsec101 dev ipsec0; then fail "a failing route add succeeded"; fi
grep -q 'stub refuses 192.168.66.0/24' "$T/out" || fail "the failure's message did not come back"
echo "ok: a failing up fails, with its message"

: >"$T/calls"
front down-client 192.168.1.0/24 ipsec101 dev ipsec0 tenant 256 || fail "down failed"
assert_eq "$(calls)" "route del 192.168.1.0/24 tenant 256 dev ipsec0" "down: route removed"
assert_eq "$(ls "$T/spool")" "" "spool empty afterwards"

echo "-- the relay sees only the variables the main script reads"
kill "$RELAY"
wait "$RELAY" 2>/dev/null || :
cat >"$T/show-env" <<'EOF'
#!/bin/sh
env | sed -n 's/^\(PLUTO_[A-Z_]*\)=.*/\1/p' | sort | tr '\n' ' '
EOF
chmod +x "$T/show-env"
XS_UPDOWN_MAIN="$T/show-env" XS_UPDOWN_SPOOL="$T/spool" "$FRONT" relay >"$T/relay.out" 2>&1 &
RELAY=$!
for _ in $(seq 50); do grep -q 'relay serving' "$T/relay.out" && break; sleep 0.1; done
front up-client 192.168.1.0/24 ipsec101 || fail "up with show-env failed"
assert_eq "$(cat "$T/out")" "PLUTO_CONNECTION PLUTO_IF_ID_OUT PLUTO_MY_CLIENT PLUTO_PEER PLUTO_PEER_CLIENT PLUTO_PEER_ID PLUTO_REQID PLUTO_VERB " \
	"PLUTO_* variables in the relay"
