#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What a real gateway's "show" prints is an apply file by the schema
# (doc/xfrm-steer.schema.json): "show -j", "-s show -j", "show
# --show-keys -j" and the pretty "show", after an apply of a file with
# every kind of entry (tenants by mark, an AEAD tunnel, an enc+auth tunnel
# in UDP, an IPv6 transport tunnel, a route of its own) and a tunnel of
# "tunnel add". tests/host-schema.sh holds the schema to the parser.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tunnel.sh"

need_kernel_feature xfrm_interface "no xfrm interfaces in this kernel"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema is missing (scripts/deps.sh)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; topo_cleanup' EXIT

step "a gateway from a file with every kind of entry"
topo_gateway
cat >"$tmp/gw.json" <<JSON
{
  "links": [ { "name": "ipsec0", "tenant_key": "mark", "mark_mask": "0xff00",
               "rpf": "strict", "mark_ingress": true, "max_routes": 1024, "max_tunnels": 512 } ],
  "tunnels": [
    { "name": "t1", "if_id": 101, "tenant": "0x100", "local": "10.0.1.1", "remote": "10.0.1.2",
      "spi_in": "0x2001", "spi_out": "0x1001", "reqid": 1,
      "aead": { "name": "aes-gcm", "icv_bits": 128, "key": "$(gcm_key 1 0)", "key_out": "$(gcm_key 1 1)" },
      "prefixes": [ "192.168.1.0/24", "2001:db8:1::/64" ] },
    { "name": "t2", "if_id": 102, "tenant": "0x200", "local": "10.0.2.1", "remote": "10.0.2.2",
      "spi_in": 8194, "spi_out": 4098, "esn": true, "replay_window": 64,
      "enc": { "name": "cbc(aes)", "key": "0x00112233445566778899aabbccddeeff" },
      "auth": { "name": "sha256", "key": "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" },
      "encap": { "type": "espinudp", "sport": 4500, "dport": 4501 },
      "prefixes": [ "192.168.2.0/24" ] },
    { "name": "t3", "if_id": 103, "tenant": "0x100", "local": "2001:db8:ff::1", "remote": "2001:db8:ff::3",
      "spi_in": "0x2003", "spi_out": "0x1003", "mode": "transport",
      "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 96, "key": "$(gcm_key 3 0)" },
      "prefixes": [ "2001:db8:ff::3/128" ] }
  ],
  "routes": [ { "prefix": "10.99.0.0/16", "if_id": 200, "tenant": "0x100" } ]
}
JSON
tests/schema-check.py "$tmp/gw.json" >/dev/null || fail "the test's own file is not valid by the schema"
$XS -n "$GW" apply "$tmp/gw.json" >/dev/null
$XS -n "$GW" tunnel add cli1 if_id 104 local 10.0.4.1 remote 10.0.4.2 spi-in 0x2004 spi-out 0x1004 \
	aead aes-gcm "$(gcm_key 4 0)" 128 prefix 192.168.4.0/24 tenant 0x300 dev ipsec0 >/dev/null
$XS -n "$GW" route add 10.98.0.0/16 if_id 201 tenant 0x300 dev ipsec0

step "show, in each of its forms, against the schema"
$XS -n "$GW" -j show >"$tmp/show-j.json"
$XS -n "$GW" -s -j show >"$tmp/show-s-j.json"
$XS -n "$GW" --show-keys -j show >"$tmp/show-keys-j.json"
$XS -n "$GW" show >"$tmp/show-pretty.json"
assert_eq "$(jq '.tunnels | length' "$tmp/show-j.json")" 4 "tunnels in show -j"
assert_eq "$(jq '.routes | length' "$tmp/show-j.json")" 2 "routes in show -j"
tests/schema-check.py "$tmp"/show-*.json || fail "show output the schema refuses"
# What show wrote passes --check and applies: the first run takes over
# what tunnel add and route add made (see OWNERSHIP), the second is a no-op.
$XS apply --check "$tmp/show-keys-j.json" >/dev/null
$XS -n "$GW" apply "$tmp/show-j.json" >/dev/null
out=$($XS -n "$GW" apply "$tmp/show-j.json")
grep -q "nothing to do" <<<"$out" || fail "show -j applied twice changed something: $out"
echo "ok: show -j applies, then as a no-op"
