#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The strongSwan hook of "daemon on-unknown-spi" on the build machine, with
# a stub swanctl: which connections and children it initiates for a peer
# (remote_addrs lists, %any, a child's own "remote:" lines that must not
# count), that it passes --uri on, and that it exits 75 (run me again)
# while charon cannot be reached or has no connections loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
HOOK=$PWD/scripts/strongswan-unknown-spi.sh

T=$(mktemp -d /tmp/xs-uspi-hook.XXXXXX)
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
assert_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
	echo "ok: $3"
}

# swanctl 5.9's --list-conns text; the stub logs every other call.
cat >"$T/conns" <<'EOF'
branch1: IKEv2, no reauthentication, rekeying every 14400s, dpd delay 30s
  local:  198.51.100.1
  remote: 203.0.113.11, 2001:db8::11
  local pre-shared key authentication:
    id: gw.example.net
  remote pre-shared key authentication:
    id: branch1.example.net
  lan: TUNNEL, rekeying every 3600s
    local:  10.255.0.0/16
    remote: 192.168.1.0/24
  voice: TUNNEL, rekeying every 3600s
    local:  10.255.0.0/16
    remote: 203.0.113.12/32
branch2: IKEv2, no reauthentication, rekeying every 14400s
  local:  198.51.100.1
  remote: 203.0.113.12
  local pre-shared key authentication:
    id: gw.example.net
  remote pre-shared key authentication:
    id: branch2.example.net
  lan: TUNNEL, rekeying every 3600s
    local:  10.255.0.0/16
    remote: 192.168.1.0/24
roadwarrior: IKEv2, no reauthentication, rekeying every 14400s
  local:  198.51.100.1
  remote: %any
  rw: TUNNEL, rekeying every 3600s
    local:  10.255.0.0/16
    remote: dynamic
EOF
mkdir "$T/bin"
cat >"$T/bin/swanctl" <<EOF
#!/bin/sh
[ -e "$T/down" ] && { echo "connecting failed" >&2; exit 1; }
if [ "\$1" = --list-conns ]; then cat "$T/conns"; exit 0; fi
echo "\$*" >>"$T/calls"
EOF
chmod +x "$T/bin/swanctl"

hook() { # PEER [ARGS...]: prints the swanctl calls, sorted
	rm -f "$T/calls"
	PATH="$T/bin:$PATH" XS_PEER=$1 XS_SPI=0x12345678 XS_HOOK_WAIT=1 "$HOOK" "${@:2}" >"$T/out"
	[ -e "$T/calls" ] && sort "$T/calls"
	return 0
}

assert_eq "$(hook 203.0.113.11)" "--initiate --ike branch1 --child lan --timeout 30
--initiate --ike branch1 --child voice --timeout 30" "the peer's connection, each child"
assert_eq "$(hook 2001:db8::11 --uri unix:///run/x.vici)" \
	"--initiate --uri unix:///run/x.vici --ike branch1 --child lan --timeout 30
--initiate --uri unix:///run/x.vici --ike branch1 --child voice --timeout 30" \
	"second address of remote_addrs, --uri passed on"
assert_eq "$(hook 203.0.113.12)" "--initiate --ike branch2 --child lan --timeout 30" \
	"a child's remote selector is not the connection's remote_addrs"
assert_eq "$(hook 203.0.113.99)" "" "a peer no connection names: nothing initiated"
grep -q 'no connection has remote_addrs 203.0.113.99' "$T/out" || fail "no word about the unknown peer"
assert_eq "$(hook 203.0.113.1)" "" "a prefix of an address is not the address"

rc=0
: >"$T/conns"
PATH="$T/bin:$PATH" XS_PEER=203.0.113.11 "$HOOK" >/dev/null || rc=$?
assert_eq "$rc" 75 "exit status with no connections loaded (run me again)"
touch "$T/down"
rc=0
PATH="$T/bin:$PATH" XS_PEER=203.0.113.11 "$HOOK" >/dev/null || rc=$?
assert_eq "$rc" 75 "exit status while charon is unreachable"
rc=0
env -u XS_PEER "$HOOK" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "exit status without XS_PEER"
