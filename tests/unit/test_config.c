// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the declarative configuration (loader/lib/config.c): a valid
 * file, every kind of bad entry named with its field, keys kept out of
 * messages, and the serializer's round trip. No kernel. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/udp.h>
#include <cmocka.h>

#include "config.h"

#define GCM128 "0x0102030405060708090a0b0c0d0e0f1011121314"
#define GCM128_B "0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4"
#define AES128 "0x00112233445566778899aabbccddeeff"
#define SHA256 "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const char valid[] =
	"{\n"
	"  \"links\": [ { \"name\": \"ipsec0\", \"tenant_key\": \"mark\", \"mark_mask\": \"0xff00\",\n"
	"                \"rpf\": \"strict\", \"mark_ingress\": true, \"max_routes\": 1024 } ],\n"
	"  \"tunnels\": [\n"
	"    { \"name\": \"branch1\", \"dev\": \"ipsec0\", \"if_id\": 101, \"tenant\": \"0x100\",\n"
	"      \"local\": \"10.0.1.1\", \"remote\": \"10.0.1.2\", \"spi_in\": \"0x2001\",\n"
	"      \"spi_out\": 4097, \"reqid\": 1,\n"
	"      \"aead\": { \"name\": \"aes-gcm\", \"icv_bits\": 128, \"key\": \"" GCM128 "\",\n"
	"                \"key_out\": \"" GCM128_B "\" },\n"
	"      \"prefixes\": [ \"192.168.1.0/24\", \"2001:db8:1::/64\" ] },\n"
	"    { \"name\": \"branch-2.v6\", \"if_id\": \"0x66\", \"tenant\": 512,\n"
	"      \"local\": \"2001:db8::1\", \"remote\": \"2001:db8::2\", \"spi_in\": 8194,\n"
	"      \"spi_out\": \"0x1002\", \"esn\": true, \"replay_window\": 128,\n"
	"      \"enc\": { \"name\": \"cbc(aes)\", \"key\": \"@/etc/keys/b2-enc\" },\n"
	"      \"auth\": { \"name\": \"sha256\", \"key\": \"" SHA256 "\" },\n"
	"      \"encap\": { \"type\": \"espinudp\", \"sport\": 4500, \"dport\": 14500 } },\n"
	"    { \"name\": \"host3\", \"if_id\": 103, \"local\": \"10.0.3.1\", \"remote\": \"10.0.3.2\",\n"
	"      \"spi_in\": 300, \"spi_out\": 301, \"mode\": \"transport\",\n"
	"      \"aead\": { \"name\": \"rfc4106(gcm(aes))\", \"icv_bits\": 128, \"key\": null },\n"
	"      \"prefixes\": [ \"10.0.3.2/32\" ] }\n"
	"  ],\n"
	"  \"routes\": [ { \"prefix\": \"10.9.0.0/16\", \"if_id\": 55, \"tenant\": \"0x100\" },\n"
	"              { \"dev\": \"ipsec0\", \"prefix\": \"192.168.1.0/24\", \"if_id\": 56,\n"
	"                \"tenant\": 768 } ]\n"
	"}\n";

static void test_valid(void **state)
{
	struct xs_config_file cfg;
	const struct xs_cfg_tunnel *t;
	char why[512];

	(void)state;
	assert_int_equal(xs_config_parse(valid, strlen(valid), &cfg, why, sizeof(why)), 0);
	assert_int_equal(cfg.nlinks, 1);
	assert_string_equal(cfg.links[0].name, "ipsec0");
	assert_true(cfg.links[0].have_tenant_key);
	assert_int_equal(cfg.links[0].tenant_mode, XS_TENANT_MARK);
	assert_int_equal(cfg.links[0].mark_mask, 0xff00);
	assert_true(cfg.links[0].have_rpf && cfg.links[0].rpf);
	assert_true(cfg.links[0].have_mark_ingress && cfg.links[0].mark_ingress);
	assert_true(cfg.links[0].have_max_routes);
	assert_int_equal(cfg.links[0].max_routes, 1024);
	assert_false(cfg.links[0].have_max_tunnels);

	assert_int_equal(cfg.ntunnels, 3);
	t = &cfg.tunnels[0];
	assert_string_equal(t->name, "branch1");
	assert_string_equal(t->dev, "ipsec0");
	assert_int_equal(t->if_id, 101);
	assert_true(t->tenant.set && !t->tenant.is_name);
	assert_int_equal(t->tenant.num, 0x100);
	assert_int_equal(t->local.family, AF_INET);
	assert_int_equal(t->spi_in, 0x2001);
	assert_int_equal(t->spi_out, 0x1001);
	assert_int_equal(t->reqid, 1);
	assert_int_equal(t->mode, XFRM_MODE_TUNNEL);
	/* Manual keys: no anti-replay unless the file asks for it. */
	assert_int_equal(t->replay_window, 0);
	/* Aliases become the kernel's name. */
	assert_string_equal(t->aead.name, "rfc4106(gcm(aes))");
	assert_int_equal(t->aead.bits, 128);
	assert_string_equal(t->aead.key, GCM128);
	assert_string_equal(t->aead.key_out, GCM128_B);
	assert_int_equal(t->nprefixes, 2);
	assert_int_equal(t->prefixes[1].family, AF_INET6);
	assert_int_equal(t->prefixes[1].plen, 64);

	t = &cfg.tunnels[1];
	/* One link in the file: a tunnel without "dev" is on it. */
	assert_string_equal(t->dev, "ipsec0");
	assert_int_equal(t->if_id, 0x66);
	assert_int_equal(t->tenant.num, 512);
	assert_int_equal(t->local.family, AF_INET6);
	assert_true(t->esn);
	assert_int_equal(t->replay_window, 128);
	assert_string_equal(t->enc.name, "cbc(aes)");
	assert_string_equal(t->enc.key, "@/etc/keys/b2-enc");
	assert_string_equal(t->auth.name, "hmac(sha256)");
	assert_int_equal(t->auth.bits, 128); /* RFC 4868's truncation */
	assert_int_equal(t->encap.type, UDP_ENCAP_ESPINUDP);
	assert_int_equal(t->encap.sport, 4500);
	assert_int_equal(t->encap.dport, 14500);
	assert_int_equal(t->nprefixes, 0);

	t = &cfg.tunnels[2];
	assert_int_equal(t->mode, XFRM_MODE_TRANSPORT);
	assert_false(t->tenant.set);
	assert_null(t->aead.key); /* null: keep the SA's key */

	assert_int_equal(cfg.nroutes, 2);
	assert_string_equal(cfg.routes[0].dev, "ipsec0");
	assert_int_equal(cfg.routes[0].if_id, 55);
	assert_int_equal(cfg.routes[1].tenant.num, 768);
	xs_config_free(&cfg);
}

/* Replace the first occurrence of from in the valid file with to. */
static char *edit(const char *from, const char *to)
{
	const char *p = strstr(valid, from);
	char *out;

	assert_non_null(p);
	assert_true(asprintf(&out, "%.*s%s%s", (int)(p - valid), valid, to, p + strlen(from)) > 0);
	return out;
}

/* Without "replay_window": 0 (no anti-replay, as RFC 4303 assumes for
 * manual keys), but 32 with ESN, which the kernel refuses without one. */
static void test_replay_default(void **state)
{
	struct xs_config_file cfg;
	char *text = edit(", \"replay_window\": 128", "");
	char why[512];

	(void)state;
	assert_int_equal(xs_config_parse(text, strlen(text), &cfg, why, sizeof(why)), 0);
	assert_true(cfg.tunnels[1].esn);
	assert_int_equal(cfg.tunnels[1].replay_window, 32);
	assert_false(cfg.tunnels[0].esn);
	assert_int_equal(cfg.tunnels[0].replay_window, 0);
	xs_config_free(&cfg);
	free(text);
}

struct bad {
	const char *from, *to; /* an edit of the valid file; from NULL: to is the file */
	const char *why; /* what the message must contain */
};

static const struct bad bad[] = {
	{ NULL, "", "not valid JSON" },
	{ NULL, "{ \"links\": [ }", "not valid JSON" },
	{ NULL, "{} {}", "content after the top-level object" },
	{ NULL, "[]", "expected an object with \"links\"" },
	{ NULL, "{ \"tunnel\": [] }", "unknown field \"tunnel\"" },
	{ NULL, "{ \"tunnels\": {} }", "tunnels: expected an array, got an object" },
	{ NULL, "{ \"tunnels\": [ 5 ] }", "tunnels[0]: expected an object, got a number" },
	/* links */
	{ "\"name\": \"ipsec0\", \"tenant_key\"", "\"name\": \"ip/sec\", \"tenant_key\"",
	  "links[0]: name: \"ip/sec\" is not a valid interface name" },
	{ "\"mark_mask\": \"0xff00\",", "", "links[0] (\"ipsec0\"): mark_mask: \"tenant_key\": \"mark\" needs a non-zero mark_mask" },
	{ "\"tenant_key\": \"mark\"", "\"tenant_key\": \"vlan\"", "links[0] (\"ipsec0\"): tenant_key: \"vlan\" is not mark, iif or none" },
	{ "\"rpf\": \"strict\"", "\"rpf\": \"loose\"", "links[0] (\"ipsec0\"): rpf: \"loose\" is not strict or off" },
	{ "\"mark_ingress\": true", "\"mark_ingress\": 1", "links[0] (\"ipsec0\"): mark_ingress: expected true or false, got a number" },
	{ "\"max_routes\": 1024", "\"max_routes\": 0", "links[0] (\"ipsec0\"): max_routes: 0 is out of range" },
	{ "\"max_routes\": 1024", "\"max_route\": 1024", "links[0] (\"ipsec0\"): unknown field \"max_route\"" },
	{ "\"spi_in\": 300,", "\"spi_in\": 300, \"owner\": \"ike\",", "tunnels[2] (\"host3\"): owner: \"ike\" is not file or cli" },
	{ "\"if_id\": 56,", "\"if_id\": 56, \"owner\": true,", "routes[1] (192.168.1.0/24): owner: expected a string, got a boolean" },
	/* tunnels: each field */
	{ "\"name\": \"branch1\"", "\"name\": \"branch 1\"", "tunnels[0]: name: \"branch 1\" is not a tunnel name" },
	{ "\"name\": \"branch1\"", "\"name\": \"-b\"", "tunnels[0]: name: \"-b\" is not a tunnel name" },
	{ "\"name\": \"branch1\", ", "", "tunnels[0]: name: missing" },
	{ "\"if_id\": 101", "\"if_id\": 0", "tunnels[0] (\"branch1\"): if_id: must be 1..4294967295" },
	{ "\"if_id\": 101", "\"if_id\": -1", "tunnels[0] (\"branch1\"): if_id: -1 is out of range" },
	{ "\"if_id\": 101", "\"if_id\": 4294967296", "tunnels[0] (\"branch1\"): if_id: 4294967296 is out of range" },
	{ "\"if_id\": 101", "\"if_id\": \"lots\"", "tunnels[0] (\"branch1\"): if_id: \"lots\" is not a number" },
	{ "\"if_id\": 101", "\"if_id\": 1.5", "tunnels[0] (\"branch1\"): if_id: expected a number, got a fractional number" },
	{ "\"tenant\": \"0x100\"", "\"tenant\": [1]", "tunnels[0] (\"branch1\"): tenant: expected a number or an interface name, got an array" },
	{ "\"local\": \"10.0.1.1\"", "\"local\": \"10.0.1\"", "tunnels[0] (\"branch1\"): local: \"10.0.1\" is not an IPv4 or IPv6 address" },
	{ "\"remote\": \"10.0.1.2\"", "\"remote\": \"2001:db8::2\"", "tunnels[0] (\"branch1\"): local 10.0.1.1 and remote 2001:db8::2 are of different families" },
	{ "\"spi_in\": \"0x2001\"", "\"spi_in\": 16", "tunnels[0] (\"branch1\"): spi_in: 0x00000010 is reserved" },
	{ "\"remote\": \"10.0.1.2\", \"spi_in\": \"0x2001\",\n      \"spi_out\": 4097", "\"remote\": \"10.0.1.1\", \"spi_in\": \"0x2001\",\n      \"spi_out\": 8193", "tunnels[0] (\"branch1\"): spi_in and spi_out are both 0x00002001 between the same addresses" },
	{ "\"spi_in\": \"0x2001\",", "", "tunnels[0] (\"branch1\"): spi_in: missing" },
	{ "\"reqid\": 1", "\"reqid\": true", "tunnels[0] (\"branch1\"): reqid: expected a number, got a boolean" },
	{ "\"mode\": \"transport\"", "\"mode\": \"beet\"", "tunnels[2] (\"host3\"): mode: \"beet\" is not tunnel or transport" },
	{ "\"replay_window\": 128", "\"replay_window\": 5000", "tunnels[1] (\"branch-2.v6\"): replay_window: 5000 is above the kernel's limit" },
	{ "\"replay_window\": 128", "\"replay_window\": 0", "tunnels[1] (\"branch-2.v6\"): esn needs a replay_window of 1..4096, the kernel refuses an ESN SA without one (leave replay_window out for 32, or set esn false)" },
	{ "\"esn\": true", "\"esn\": \"yes\"", "tunnels[1] (\"branch-2.v6\"): esn: expected true or false, got a string" },
	{ "\"prefixes\": [ \"192.168.1.0/24\"", "\"prefixes\": [ \"192.168.1.1/24\"", "tunnels[0] (\"branch1\"): prefixes[0]: \"192.168.1.1/24\" has host bits set beyond its length" },
	{ "\"2001:db8:1::/64\" ]", "\"2001:db8:1::/64\", \"fe80::/129\" ]", "tunnels[0] (\"branch1\"): prefixes[2]: \"fe80::/129\" is not a prefix" },
	{ "\"2001:db8:1::/64\" ]", "\"2001:db8:1::/64\", \"192.168.1.0/24\" ]", "tunnels[0] (\"branch1\"): prefixes[2]: 192.168.1.0/24 is listed twice" },
	{ "\"prefixes\": [ \"10.0.3.2/32\" ]", "\"prefixes\": [ \"2001:db8::/32\" ]", "tunnels[2] (\"host3\"): prefixes[0]: a transport-mode tunnel carries only its own family" },
	{ "\"spi_out\": 4097,", "\"spi_out\": 4097, \"color\": \"red\",", "tunnels[0] (\"branch1\"): unknown field \"color\"" },
	/* algorithms */
	{ "\"name\": \"aes-gcm\"", "\"name\": \"aes-gcm-siv\"", "tunnels[0] (\"branch1\"): aead: name: unknown aead algorithm \"aes-gcm-siv\"" },
	{ "\"name\": \"aes-gcm\"", "\"name\": \"cbc(aes)\"", "tunnels[0] (\"branch1\"): aead: name: \"cbc(aes)\" is an enc algorithm, not aead" },
	{ "\"icv_bits\": 128, \"key\": \"" GCM128 "\"", "\"icv_bits\": 100, \"key\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): aead: key: aead rfc4106(gcm(aes)): ICV length 100 bits is not supported" },
	{ "\"icv_bits\": 128, \"key\": null", "\"icv_bits\": 100, \"key\": null", "tunnels[2] (\"host3\"): aead: icv_bits: aead rfc4106(gcm(aes)): ICV length 100 bits" },
	{ "\"key\": \"" GCM128 "\"", "\"key\": \"0x0102\"", "tunnels[0] (\"branch1\"): aead: key: aead key for rfc4106(gcm(aes)) is 2 bytes" },
	{ "\"key\": \"" GCM128 "\"", "\"key\": \"0x01020\"", "tunnels[0] (\"branch1\"): aead: key: odd number of hex digits" },
	{ "\"key\": \"" GCM128 "\"", "\"key\": \"0x01xx\"", "tunnels[0] (\"branch1\"): aead: key: not a hex number" },
	{ "\"key\": \"" GCM128 "\"", "\"key\": \"secret\"", "tunnels[0] (\"branch1\"): aead: key: expected \"0x<hex>\" or \"@<file>\"" },
	{ "\"key\": \"" GCM128 "\"", "\"key\": \"@\"", "tunnels[0] (\"branch1\"): aead: key: expected \"0x<hex>\" or \"@<file>\"" },
	{ "\"key\": \"" GCM128 "\",", "", "tunnels[0] (\"branch1\"): aead: key_out: only together with \"key\"" },
	{ "\"key_out\": \"" GCM128_B "\"", "\"key_out\": \"" AES128 "\"", "tunnels[0] (\"branch1\"): aead: key_out: aead key for rfc4106(gcm(aes)) is 16 bytes" },
	{ "\"icv_bits\": 128, \"key\": \"" GCM128 "\"", "\"icv\": 128, \"key\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): aead: unknown field \"icv\"" },
	{ "\"aead\": { \"name\": \"aes-gcm\"", "\"enc\": { \"name\": \"cbc(aes)\", \"key\": \"" AES128 "\" }, \"aead\": { \"name\": \"aes-gcm\"", "tunnels[0] (\"branch1\"): aead already provides encryption and integrity" },
	{ "\"auth\": { \"name\": \"sha256\", \"key\": \"" SHA256 "\" },", "", "tunnels[1] (\"branch-2.v6\"): enc needs \"auth\" too" },
	{ "\"enc\": { \"name\": \"cbc(aes)\", \"key\": \"@/etc/keys/b2-enc\" },", "\"enc\": { \"name\": \"cbc(aes)\" },", "tunnels[1] (\"branch-2.v6\"): give the keys of enc and auth together" },
	{ "\"aead\": { \"name\": \"rfc4106(gcm(aes))\", \"icv_bits\": 128, \"key\": null },", "", "tunnels[2] (\"host3\"): needs an algorithm" },
	{ "\"dport\": 14500", "\"dport\": 65536", "tunnels[1] (\"branch-2.v6\"): encap: dport: 65536 is not a port" },
	{ "\"type\": \"espinudp\"", "\"type\": \"espintcp\"", "tunnels[1] (\"branch-2.v6\"): encap: type: \"espintcp\" is not espinudp" },
	/* across entries */
	{ "\"name\": \"host3\"", "\"name\": \"branch1\"", "tunnels[2] (\"branch1\"): name: tunnels[0] (\"branch1\") has the same name" },
	{ "\"if_id\": 103", "\"if_id\": 101", "tunnels[2] (\"host3\"): if_id: 101 is tunnels[0] (\"branch1\")'s already" },
	{ "\"local\": \"10.0.3.1\", \"remote\": \"10.0.3.2\",\n      \"spi_in\": 300", "\"local\": \"10.0.1.1\", \"remote\": \"10.0.3.2\",\n      \"spi_in\": 8193", "tunnels[2] (\"host3\"): spi_in: 0x00002001 to 10.0.1.1 is an SA of tunnels[0] (\"branch1\") already" },
	{ "\"remote\": \"10.0.3.2\",\n      \"spi_in\": 300, \"spi_out\": 301", "\"remote\": \"10.0.1.2\",\n      \"spi_in\": 300, \"spi_out\": 4097", "tunnels[2] (\"host3\"): spi_out: 0x00001001 to 10.0.1.2 is an SA of tunnels[0] (\"branch1\") already" },
	{ "\"prefixes\": [ \"10.0.3.2/32\" ]", "\"tenant\": 256, \"prefixes\": [ \"192.168.1.0/24\" ]", "tunnels[2] (\"host3\"): prefixes[0]: 192.168.1.0/24 is a prefix of tunnels[0] (\"branch1\") already" },
	{ "\"if_id\": 55", "\"if_id\": 103", "routes[0] (10.9.0.0/16): if_id: 103 is the if_id of tunnels[2] (\"host3\")" },
	{ "\"if_id\": 56,\n                \"tenant\": 768", "\"if_id\": 56,\n                \"tenant\": 256", "routes[1] (192.168.1.0/24): prefix: is a prefix of tunnels[0] (\"branch1\") already" },
	{ "\"prefix\": \"192.168.1.0/24\", \"if_id\": 56,\n                \"tenant\": 768", "\"prefix\": \"10.9.0.0/16\", \"if_id\": 56,\n                \"tenant\": 256", "routes[1] (10.9.0.0/16): routes[0] is the same route" },
	{ "\"routes\": [ { \"prefix\"", "\"routes\": [ { \"prefix\": \"10.0.0.0/8\", \"if_id\": 0 }, { \"prefix\"", "routes[0] (10.0.0.0/8): if_id: must be 1..4294967295" },
	{ "\"routes\": [ { \"prefix\"", "\"routes\": [ { \"if_id\": 1 }, { \"prefix\"", "routes[0]: prefix: missing" },
	{ "\"links\": [ { \"name\": \"ipsec0\"", "\"links\": [ { \"name\": \"ipsec1\" }, { \"name\": \"ipsec0\"", "tunnels[1] (\"branch-2.v6\"): dev: missing (the file names several links)" },
	{ "\"links\": [ { \"name\": \"ipsec0\"", "\"links\": [ { \"name\": \"ipsec0\" }, { \"name\": \"ipsec0\"", "links[1] (\"ipsec0\"): name: links[0] has the same name" },
	/* Refused when read, before a run creates any of them. */
	{ "\"links\": [ { \"name\": \"ipsec0\"", "\"links\": [ { \"name\": \"x1\" }, { \"name\": \"x2\" }, { \"name\": \"x3\" }, { \"name\": \"x4\" }, { \"name\": \"x5\" }, { \"name\": \"ipsec0\"", "links[5] (\"ipsec0\"): 6 links in one file, at most 5: split the file" },
	/* One key both ways under one SPI (issue 18): refused unless asked for. */
	{ "\"spi_in\": 300, \"spi_out\": 301", "\"spi_in\": 300, \"spi_out\": 300", "tunnels[2] (\"host3\"): spi_in and spi_out are both 0x0000012c and one key serves both directions" },
	{ "\"spi_out\": \"0x1002\"", "\"spi_out\": 8194", "tunnels[1] (\"branch-2.v6\"): spi_in and spi_out are both 0x00002002 and one key serves both directions" },
	{ "\"spi_out\": 4097, \"reqid\": 1,\n      \"aead\": { \"name\": \"aes-gcm\", \"icv_bits\": 128, \"key\": \"" GCM128 "\",\n                \"key_out\": \"" GCM128_B "\"", "\"spi_out\": 8193, \"reqid\": 1,\n      \"aead\": { \"name\": \"aes-gcm\", \"icv_bits\": 128, \"key\": \"" GCM128 "\",\n                \"key_out\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): spi_in and spi_out are both 0x00002001 and one key serves both directions" },
	{ "\"spi_out\": 301", "\"spi_out\": 301, \"allow_same_spi\": 1", "tunnels[2] (\"host3\"): allow_same_spi: expected true or false, got a number" },
	/* Keys in the wrong place (issue 18): named as such, never echoed. */
#define NOT_SHOWN "(value not shown: it looks like key material)"
	{ "\"name\": \"aes-gcm\"", "\"name\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): aead: name: unknown aead algorithm " NOT_SHOWN },
	{ "\"name\": \"aes-gcm\"", "\"name\": \"0102030405060708090a0b0c0d0e0f1011121314\"", "tunnels[0] (\"branch1\"): aead: name: unknown aead algorithm " NOT_SHOWN },
	{ "\"name\": \"sha256\"", "\"name\": \"" SHA256 "\"", "tunnels[1] (\"branch-2.v6\"): auth: name: unknown auth algorithm " NOT_SHOWN },
	{ "\"name\": \"branch1\"", "\"name\": \"" GCM128 "\"", "tunnels[0]: name: " NOT_SHOWN " is not a tunnel name" },
	{ "\"dev\": \"ipsec0\", \"if_id\": 101", "\"dev\": \"" GCM128 "\", \"if_id\": 101", "tunnels[0] (\"branch1\"): dev: " NOT_SHOWN " is not a valid interface name" },
	{ "\"name\": \"ipsec0\", \"tenant_key\"", "\"name\": \"" AES128 "\", \"tenant_key\"", "links[0]: name: " NOT_SHOWN " is not a valid interface name" },
	{ "\"tenant_key\": \"mark\"", "\"tenant_key\": \"" AES128 "\"", "links[0] (\"ipsec0\"): tenant_key: " NOT_SHOWN " is not mark, iif or none" },
	{ "\"if_id\": 101", "\"if_id\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): if_id: " NOT_SHOWN " is not a number" },
	{ "\"icv_bits\": 128, \"key\": \"" GCM128 "\"", "\"icv_bits\": \"" GCM128 "\", \"key\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): aead: icv_bits: " NOT_SHOWN " is not a number" },
	{ "\"tenant\": \"0x100\"", "\"tenant\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): tenant: " NOT_SHOWN " is neither a number nor an interface name" },
	{ "\"local\": \"10.0.1.1\"", "\"local\": \"" GCM128 "\"", "tunnels[0] (\"branch1\"): local: " NOT_SHOWN " is not an IPv4 or IPv6 address" },
	{ "\"mode\": \"transport\"", "\"mode\": \"" GCM128 "\"", "tunnels[2] (\"host3\"): mode: " NOT_SHOWN " is not tunnel or transport" },
	{ "\"rpf\": \"strict\"", "\"rpf\": \"" AES128 "\"", "links[0] (\"ipsec0\"): rpf: " NOT_SHOWN " is not strict or off" },
	{ "\"type\": \"espinudp\"", "\"type\": \"" AES128 "\"", "tunnels[1] (\"branch-2.v6\"): encap: type: " NOT_SHOWN " is not espinudp" },
	{ "\"prefixes\": [ \"192.168.1.0/24\"", "\"prefixes\": [ \"" GCM128 "\"", "tunnels[0] (\"branch1\"): prefixes[0]: " NOT_SHOWN " is not a prefix" },
	{ "\"spi_out\": 4097,", "\"spi_out\": 4097, \"" GCM128 "\": 1,", "tunnels[0] (\"branch1\"): unknown field " NOT_SHOWN },
	{ "\"icv_bits\": 128, \"key\": \"" GCM128 "\"", "\"icv_bits\": 128, \"" GCM128 "\": 1", "tunnels[0] (\"branch1\"): aead: unknown field " NOT_SHOWN },
	{ "\"tunnels\": [", "\"" AES128 "\": 1, \"tunnels\": [", "unknown field " NOT_SHOWN },
	/* route groups: each member's fields, named by index */
#define NH(x) "\"if_id\": 55, \"tenant\": \"0x100\"", "\"tenant\": \"0x100\", \"nexthops\": " x
	{ NH("[ { \"if_id\": 0 } ]"), "routes[0] (10.9.0.0/16): nexthops[0].if_id: must be 1..4294967295" },
	{ NH("[ { \"if_id\": 5 }, { \"weight\": 2 } ]"), "routes[0] (10.9.0.0/16): nexthops[1].if_id: missing" },
	{ NH("[ { \"if_id\": 5, \"weight\": 0 } ]"), "routes[0] (10.9.0.0/16): nexthops[0].weight: 0 is out of range (1..65535)" },
	{ NH("[ { \"if_id\": 5, \"weight\": 65536 } ]"), "routes[0] (10.9.0.0/16): nexthops[0].weight: 65536 is out of range (1..65535)" },
	{ NH("[ { \"if_id\": 5, \"dscp\": [ 46, 64 ] } ]"), "routes[0] (10.9.0.0/16): nexthops[0].dscp: 64 is not a DSCP class (0..63)" },
	{ NH("[ { \"if_id\": 5, \"dscp\": [ 46, 46 ] } ]"), "routes[0] (10.9.0.0/16): nexthops[0].dscp: class 46 is given twice" },
	{ NH("[ { \"if_id\": 5, \"dscp\": \"ef\" } ]"), "routes[0] (10.9.0.0/16): nexthops[0].dscp: expected an array of DSCP classes (0..63), got a string" },
	{ NH("[ { \"if_id\": 5, \"backup\": \"yes\" } ]"), "routes[0] (10.9.0.0/16): nexthops[0].backup: expected true or false, got a string" },
	{ NH("[ { \"if_id\": 5, \"color\": 1 } ]"), "routes[0] (10.9.0.0/16): nexthops[0]: unknown field \"color\"" },
	{ NH("[ { \"if_id\": 5 }, { \"if_id\": 6 }, { \"if_id\": 5 } ]"), "routes[0] (10.9.0.0/16): nexthops[2]: if_id 5 is nexthops[0] already" },
	{ NH("[ {\"if_id\":1}, {\"if_id\":2}, {\"if_id\":3}, {\"if_id\":4}, {\"if_id\":5}, {\"if_id\":6}, {\"if_id\":7}, {\"if_id\":8}, {\"if_id\":9} ]"), "routes[0] (10.9.0.0/16): nexthops: 9 members, more than the 8 a group takes" },
	{ NH("[ ]"), "routes[0] (10.9.0.0/16): nexthops: empty" },
	{ NH("[ 5 ]"), "routes[0] (10.9.0.0/16): nexthops[0]: expected an object, got a number" },
	{ NH("{ \"if_id\": 5 }"), "routes[0] (10.9.0.0/16): nexthops: expected an array, got an object" },
	{ NH("[ { \"if_id\": 5, \"backup\": true } ]"), "routes[0] (10.9.0.0/16): nexthops: every member is a backup" },
	{ "\"if_id\": 55, \"tenant\": \"0x100\"", "\"if_id\": 55, \"tenant\": \"0x100\", \"nexthops\": [ { \"if_id\": 5 } ]", "routes[0] (10.9.0.0/16): \"if_id\" or \"nexthops\", not both" },
#undef NH
};

static void test_bad_entries(void **state)
{
	size_t i, failed = 0;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xs_config_file cfg;
		char why[512], *text;
		int err;

		text = bad[i].from ? edit(bad[i].from, bad[i].to) : strdup(bad[i].to);
		assert_non_null(text);
		err = xs_config_parse(text, strlen(text), &cfg, why, sizeof(why));
		/* Every case is tried and every mismatch printed: one run
		 * shows them all. */
		if (err != -EINVAL || !strstr(why, bad[i].why)) {
			print_error("case %zu: got %d \"%s\", wanted \"%s\"\n", i, err, why,
				    bad[i].why);
			failed++;
		}
		/* A key never reaches a message, not even in part. */
		if (strstr(why, "0102030405") || strstr(why, "a1a2a3a4") ||
		    strstr(why, "00112233") || strstr(why, "b2-enc") ||
		    strstr(why, "0708090a0b0c") || strstr(why, "1011121314")) {
			print_error("case %zu: a key in the message \"%s\"\n", i, why);
			failed++;
		}
		xs_config_free(&cfg);
		free(text);
	}
	assert_int_equal(failed, 0);
}

/* Every prefix of a valid file is refused cleanly (and freed: the
 * sanitizer build checks that). */
static void test_truncated(void **state)
{
	struct xs_config_file cfg;
	char why[512];
	size_t n;

	(void)state;
	for (n = 0; n < strlen(valid) - 2; n++) {
		assert_int_not_equal(xs_config_parse(valid, n, &cfg, why, sizeof(why)), 0);
		xs_config_free(&cfg);
	}
	/* A NUL at the end (a buffer read whole) is fine. */
	assert_int_equal(xs_config_parse(valid, sizeof(valid), &cfg, why, sizeof(why)), 0);
	xs_config_free(&cfg);
}

static char *to_text(const struct xs_config_file *cfg)
{
	json_object *o = xs_config_to_json(cfg);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	assert_non_null(s);
	return s;
}

/* Parse, print, parse, print: the two prints are the same, and the
 * structs the same in every field that matters. */
/* "owner": "cli" on a tunnel and a route: read, and written back as such;
 * "file" is the default and is not written. */
static void test_owner(void **state)
{
	char *t1 = edit("\"spi_in\": 300,", "\"spi_in\": 300, \"owner\": \"cli\",");
	char *text = NULL, *out;
	struct xs_config_file cfg;
	char why[512];

	(void)state;
	assert_true(asprintf(&text, "%s", t1) > 0);
	free(t1);
	t1 = text;
	text = NULL;
	{
		const char *from = "\"if_id\": 55,";
		char *p = strstr(t1, from);

		assert_non_null(p);
		assert_true(asprintf(&text, "%.*s\"if_id\": 55, \"owner\": \"file\",%s", (int)(p - t1), t1,
				     p + strlen(from)) > 0);
	}
	assert_int_equal(xs_config_parse(text, strlen(text), &cfg, why, sizeof(why)), 0);
	assert_false(cfg.tunnels[0].cli);
	assert_true(cfg.tunnels[2].cli);
	assert_false(cfg.routes[0].cli);
	out = to_text(&cfg);
	assert_non_null(strstr(out, "\"owner\":\"cli\""));
	assert_null(strstr(out, "\"owner\":\"file\""));
	xs_config_free(&cfg);
	free(out);
	free(text);
	free(t1);
}

static void test_round_trip(void **state)
{
	struct xs_config_file a, b;
	char why[512], *ta, *tb;
	size_t i, j;

	(void)state;
	assert_int_equal(xs_config_parse(valid, strlen(valid), &a, why, sizeof(why)), 0);
	ta = to_text(&a);
	assert_int_equal(xs_config_parse(ta, strlen(ta), &b, why, sizeof(why)), 0);
	tb = to_text(&b);
	assert_string_equal(ta, tb);
	assert_int_equal(a.ntunnels, b.ntunnels);
	for (i = 0; i < a.ntunnels; i++) {
		const struct xs_cfg_tunnel *x = &a.tunnels[i], *y = &b.tunnels[i];

		assert_string_equal(x->name, y->name);
		assert_string_equal(x->dev, y->dev);
		assert_int_equal(x->if_id, y->if_id);
		assert_int_equal(x->tenant.set, y->tenant.set);
		assert_int_equal(x->tenant.num, y->tenant.num);
		assert_memory_equal(&x->local, &y->local, sizeof(x->local));
		assert_memory_equal(&x->remote, &y->remote, sizeof(x->remote));
		assert_int_equal(x->spi_in, y->spi_in);
		assert_int_equal(x->spi_out, y->spi_out);
		assert_int_equal(x->reqid, y->reqid);
		assert_int_equal(x->mode, y->mode);
		assert_int_equal(x->esn, y->esn);
		assert_int_equal(x->replay_window, y->replay_window);
		assert_string_equal(x->aead.name, y->aead.name);
		assert_int_equal(x->aead.bits, y->aead.bits);
		assert_string_equal(x->enc.name, y->enc.name);
		assert_string_equal(x->auth.name, y->auth.name);
		assert_int_equal(x->auth.bits, y->auth.bits);
		assert_true(!x->aead.key == !y->aead.key);
		if (x->aead.key)
			assert_string_equal(x->aead.key, y->aead.key);
		assert_true(!x->aead.key_out == !y->aead.key_out);
		assert_memory_equal(&x->encap, &y->encap, sizeof(x->encap));
		assert_int_equal(x->nprefixes, y->nprefixes);
		for (j = 0; j < x->nprefixes; j++)
			assert_memory_equal(&x->prefixes[j], &y->prefixes[j],
					    sizeof(x->prefixes[j]));
	}
	assert_int_equal(a.nroutes, b.nroutes);
	for (i = 0; i < a.nroutes; i++) {
		assert_string_equal(a.routes[i].dev, b.routes[i].dev);
		assert_memory_equal(&a.routes[i].prefix, &b.routes[i].prefix,
				    sizeof(a.routes[i].prefix));
		assert_int_equal(a.routes[i].if_id, b.routes[i].if_id);
		assert_int_equal(a.routes[i].tenant.num, b.routes[i].tenant.num);
	}
	assert_int_equal(a.nlinks, b.nlinks);
	assert_memory_equal(&a.links[0], &b.links[0], sizeof(a.links[0]));
	free(ta);
	free(tb);
	xs_config_free(&a);
	xs_config_free(&b);
}

/* A group route: defaults (weight 1, any class, primary), and its file
 * form parses back to the same members, in order. */
static void test_groups(void **state)
{
	static const char f[] =
		"{ \"links\": [ { \"name\": \"ipsec0\" } ], \"routes\": [ { \"prefix\": \"10.8.0.0/16\",\n"
		"  \"nexthops\": [ { \"if_id\": 31, \"weight\": 3, \"dscp\": [ 46, 0 ] },\n"
		"                  { \"if_id\": 30 }, { \"if_id\": 32, \"backup\": true } ] } ] }";
	struct xs_config_file a, b;
	char why[512], *ta, *tb;

	(void)state;
	assert_int_equal(xs_config_parse(f, strlen(f), &a, why, sizeof(why)), 0);
	assert_int_equal(a.nroutes, 1);
	assert_int_equal(a.routes[0].if_id, 0);
	assert_int_equal(a.routes[0].nnh, 3);
	assert_int_equal(a.routes[0].nh[0].if_id, 31);
	assert_int_equal(a.routes[0].nh[0].weight, 3);
	assert_true(a.routes[0].nh[0].dscp == ((1ull << 46) | 1));
	assert_false(a.routes[0].nh[0].backup);
	assert_int_equal(a.routes[0].nh[1].if_id, 30);
	assert_int_equal(a.routes[0].nh[1].weight, 1);
	assert_true(a.routes[0].nh[1].dscp == 0);
	assert_true(a.routes[0].nh[2].backup);
	ta = to_text(&a);
	assert_non_null(strstr(ta, "\"nexthops\""));
	assert_null(strstr(ta, "\"if_id\": 0"));
	assert_int_equal(xs_config_parse(ta, strlen(ta), &b, why, sizeof(why)), 0);
	tb = to_text(&b);
	assert_string_equal(ta, tb);
	assert_int_equal(b.routes[0].nnh, 3);
	assert_memory_equal(a.routes[0].nh, b.routes[0].nh, sizeof(a.routes[0].nh));
	free(ta);
	free(tb);
	xs_config_free(&a);
	xs_config_free(&b);
}

/* What show -j prints without keys parses, and keys come back only where
 * the struct has them. */
static void test_keys_in_output(void **state)
{
	struct xs_config_file a;
	char why[512], *t;

	(void)state;
	assert_int_equal(xs_config_parse(valid, strlen(valid), &a, why, sizeof(why)), 0);
	t = to_text(&a);
	assert_non_null(strstr(t, GCM128));
	assert_non_null(strstr(t, "@/etc/keys/b2-enc"));
	free(t);
	free(a.tunnels[0].aead.key);
	free(a.tunnels[0].aead.key_out);
	a.tunnels[0].aead.key = a.tunnels[0].aead.key_out = NULL;
	t = to_text(&a);
	assert_null(strstr(t, GCM128));
	assert_null(strstr(t, GCM128_B));
	free(t);
	xs_config_free(&a);
}

/* spi_in == spi_out with one key for both SAs only with "allow_same_spi",
 * which the printed form keeps. Distinct keys or distinct SPIs need none. */
static void test_same_spi(void **state)
{
	struct xs_config_file a, b;
	char why[512], *text, *t;

	(void)state;
	text = edit("\"spi_in\": 300, \"spi_out\": 301",
		    "\"spi_in\": 300, \"spi_out\": 300, \"allow_same_spi\": true");
	assert_int_equal(xs_config_parse(text, strlen(text), &a, why, sizeof(why)), 0);
	assert_true(a.tunnels[2].allow_same_spi);
	assert_false(a.tunnels[0].allow_same_spi);
	t = to_text(&a);
	assert_non_null(strstr(t, "\"allow_same_spi\":true"));
	assert_int_equal(xs_config_parse(t, strlen(t), &b, why, sizeof(why)), 0);
	assert_true(b.tunnels[2].allow_same_spi);
	xs_config_free(&a);
	xs_config_free(&b);
	free(t);
	free(text);
	/* A key of its own for the outbound SA. */
	text = edit("\"spi_out\": 4097", "\"spi_out\": 8193");
	assert_int_equal(xs_config_parse(text, strlen(text), &a, why, sizeof(why)), 0);
	assert_int_equal(a.tunnels[0].spi_in, a.tunnels[0].spi_out);
	xs_config_free(&a);
	free(text);
	/* The message names the fixes. */
	text = edit("\"spi_in\": 300, \"spi_out\": 301", "\"spi_in\": 300, \"spi_out\": 300");
	assert_int_equal(xs_config_parse(text, strlen(text), &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "distinct"));
	assert_non_null(strstr(why, "key_out"));
	assert_non_null(strstr(why, "\"allow_same_spi\": true"));
	assert_null(strchr(why, '\n'));
	xs_config_free(&a);
	free(text);
}

static void test_tenant_and_names(void **state)
{
	struct xs_cfg_tenant t;

	(void)state;
	assert_int_equal(xs_cfg_parse_tenant("0x100", &t), 0);
	assert_true(t.set && !t.is_name && t.num == 0x100);
	assert_int_equal(xs_cfg_parse_tenant("eth0", &t), 0);
	assert_true(t.is_name);
	assert_string_equal(t.name, "eth0");
	assert_int_equal(xs_cfg_parse_tenant("a/b", &t), -EINVAL);
	assert_int_equal(xs_cfg_parse_tenant("", &t), -EINVAL);
	assert_int_equal(xs_cfg_tunnel_name_ok("a.b_c-1"), 0);
	assert_int_equal(xs_cfg_tunnel_name_ok("0123456789012345678901234567890"), 0);
	assert_int_equal(xs_cfg_tunnel_name_ok("01234567890123456789012345678901"), -EINVAL);
	assert_int_equal(xs_cfg_tunnel_name_ok("a\"b"), -EINVAL);
	assert_int_equal(xs_cfg_tunnel_name_ok(""), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_replay_default),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_keys_in_output),
		cmocka_unit_test(test_same_spi),
		cmocka_unit_test(test_tenant_and_names),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
