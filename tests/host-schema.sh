#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The apply file's JSON Schema (doc/xfrm-steer.schema.json) against the
# parser: every example file and a valid file with every field pass both;
# each bad case that a schema can express (a type, a range, an unknown or
# missing field, an enum, a field that needs or excludes another) is
# refused by both, "xfrm-steer apply --check" (the parse stage, no kernel)
# and the schema. What a real gateway's "show -j" prints is checked in the
# VM (tests/test-schema.sh). Needs Debian's python3-jsonschema.
# Usage: tests/host-schema.sh [XFRM_STEER]   (runs on the build machine)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
XS=${1:-${XS:-build/xfrm-steer}}
PY=/usr/bin/python3
[ -x "$XS" ] || { echo "host-schema: $XS is missing (make first)" >&2; exit 1; }
$PY -c 'import jsonschema' 2>/dev/null ||
	{ echo "host-schema: python3-jsonschema is missing (scripts/deps.sh installs it)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# Good files: both must take them.
for f in examples/*.json tests/data/apply-valid.json; do
	out=$("$XS" apply --check "$f" 2>&1) || fail "apply --check refuses $f: $out"
	tests/schema-check.py "$f" || failed=1
done

# Bad cases: an edit "FROM" -> "TO" of tests/data/apply-valid.json (FROM
# empty: TO is the whole file), one per line, fields separated by " => ".
cases=$(cat <<'CASES'
 => []
 => { "tunnel": [] }
 => { "tunnels": {} }
 => { "tunnels": [ 5 ] }
 => { "links": [ { "name": "ipsec0" } ], "tunnels": [ { "name": "t", "if_id": 1 } ] }
"name": "ipsec0", "tenant_key" => "name": "ip/sec", "tenant_key"
"name": "ipsec0", "tenant_key" => "name": "ipsec0123456789ab", "tenant_key"
"mark_mask": "0xff00", => 
"mark_mask": "0xff00" => "mark_mask": 0
"tenant_key": "mark", "mark_mask": "0xff00", => "tenant_key": "none", "mark_mask": "0xff00", "mark_ingress": false,
"tenant_key": "mark" => "tenant_key": "vlan"
"rpf": "strict" => "rpf": "loose"
"mark_ingress": true => "mark_ingress": 1
"mark_ingress": true => "mark_ingress": true, "max_tunnels": 16777217
"max_routes": 1024 => "max_routes": 0
"max_routes": 1024 => "max_route": 1024
"name": "branch1" => "name": "branch1", "owner": "ike"
"name": "branch1" => "name": "branch1", "owner": 1
"name": "branch1" => "name": "branch 1"
"name": "branch1" => "name": "-b"
"name": "branch1" => "name": "a-name-of-thirty-two-characters_"
"name": "branch1", =>
"if_id": 101 => "if_id": 0
"if_id": 101 => "if_id": -1
"if_id": 101 => "if_id": 4294967296
"if_id": 101 => "if_id": "lots"
"if_id": 101 => "if_id": 1.5
"if_id": 101 => "if_id": "0x0"
"tenant": "0x100" => "tenant": [1]
"local": "10.0.1.1" => "local": "10.0.1"
"local": "10.0.1.1" => "local": "10.0.1.256"
"spi_in": "0x2001" => "spi_in": 16
"spi_in": "0x2001" => "spi_in": "0xff"
"spi_in": "0x2001" => "spi_in": "255"
"spi_in": "0x2001", =>
"reqid": 1 => "reqid": true
"mode": "transport" => "mode": "beet"
"replay_window": 128 => "replay_window": 5000
"replay_window": 128 => "replay_window": 0
"esn": true => "esn": "yes"
"2001:db8:1::/64" ] => "2001:db8:1::/64", "fe80::/129" ]
"2001:db8:1::/64" ] => "2001:db8:1::/64", "10.0.0.0/33" ]
"spi_out": 4097, => "spi_out": 4097, "color": "red",
"name": "aes-gcm" => "name": "aes-gcm-siv"
"name": "aes-gcm" => "name": "cbc(aes)"
"icv_bits": 128, "key": null => "icv_bits": 100, "key": null
"key": "0x0102030405060708090a0b0c0d0e0f1011121314" => "key": "secret"
"key": "0x0102030405060708090a0b0c0d0e0f1011121314" => "key": "@"
"key": "0x0102030405060708090a0b0c0d0e0f1011121314" => "key": "0x01020"
"key": "0x0102030405060708090a0b0c0d0e0f1011121314" => "key": "0x01xx"
"key": "0x0102030405060708090a0b0c0d0e0f1011121314", =>
"icv_bits": 128, "key": "0x01 => "icv": 128, "key": "0x01
"aead": { "name": "aes-gcm" => "enc": { "name": "cbc(aes)" }, "aead": { "name": "aes-gcm"
"auth": { "name": "sha256", "key": "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" }, =>
"aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128, "key": null }, =>
"dport": 14500 => "dport": 65536
"dport": 14500 => "dport": 0
"type": "espinudp" => "type": "espintcp"
"type": "espinudp" => "type": "espinudp", "mtu": 1400
"routes": [ { "prefix" => "routes": [ { "prefix": "10.0.0.0/8", "if_id": 0 }, { "prefix"
"routes": [ { "prefix" => "routes": [ { "if_id": 1 }, { "prefix"
"routes": [ { "prefix" => "routes": [ { "prefix": "10.0.0.0/8", "if_id": 7, "via": "x" }, { "prefix"
"links": [ { "name": "ipsec0" => "links": [ { "name": "x1" }, { "name": "x2" }, { "name": "x3" }, { "name": "x4" }, { "name": "x5" }, { "name": "ipsec0"
"spi_out": 301 => "spi_out": 301, "allow_same_spi": 1
{ "if_id": 58 } => { "if_id": 0 }
{ "if_id": 58 } => { "weight": 2 }
{ "if_id": 58 } => { "if_id": 58, "weight": 0 }
{ "if_id": 58 } => { "if_id": 58, "weight": 65536 }
{ "if_id": 58 } => { "if_id": 58, "weight": "2" }
{ "if_id": 58 } => { "if_id": 58, "dscp": [ 64 ] }
{ "if_id": 58 } => { "if_id": 58, "dscp": [ 10, 10 ] }
{ "if_id": 58 } => { "if_id": 58, "dscp": "ef" }
{ "if_id": 58 } => { "if_id": 58, "backup": 1 }
{ "if_id": 58 } => { "if_id": 58, "up": true }
{ "if_id": 58 }, { "if_id": 59, "backup": true } => {"if_id":1},{"if_id":2},{"if_id":3},{"if_id":4},{"if_id":5},{"if_id":6},{"if_id":7},{"if_id":8}
"nexthops": [ { "if_id": 57 => "if_id": 5, "nexthops": [ { "if_id": 57
"if_id": 55, "tenant": "0x100" => "nexthops": [ ], "tenant": "0x100"
"if_id": 55, "tenant": "0x100" => "nexthops": [ { "if_id": 5, "backup": true } ], "tenant": "0x100"
CASES
)
n=0
while IFS= read -r line; do
	from=${line%% =>*}
	to=${line#* =>}
	to=${to# }
	n=$((n + 1))
	f=$tmp/case$n.json
	if ! FROM=$from TO=$to $PY -c '
import os, sys
base = open("tests/data/apply-valid.json").read()
frm, to = os.environ["FROM"], os.environ["TO"]
if not frm:
    sys.stdout.write(to)
elif frm not in base:
    sys.exit("case edits what tests/data/apply-valid.json lacks: " + frm)
else:
    sys.stdout.write(base.replace(frm, to, 1))' >"$f"; then
		fail "case $n ($line): bad case"
		continue
	fi
	if out=$("$XS" apply --check "$f" 2>&1); then
		fail "case $n ($line): apply --check takes it: $out"
	elif ! grep -q "^Error: $f: " <<<"$out"; then
		fail "case $n ($line): not a one-line parse error: $out"
	fi
	sout=$(tests/schema-check.py --expect-invalid "$f") || fail "case $n ($line): $sout"
done <<<"$cases"
[ "$failed" -eq 0 ] && echo "ok: schema and parser agree on $n bad cases and $(ls examples/*.json | wc -l) examples"
exit $failed
