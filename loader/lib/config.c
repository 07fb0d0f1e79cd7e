// SPDX-License-Identifier: GPL-2.0
/* The declarative configuration: JSON to structs and back (config.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/udp.h>
#include <json-c/printbuf.h>

#include "config.h"
#include "config_int.h"
#include "keys.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int cfg_fail(struct perr *pe, const char *field, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(pe->why, pe->len, "%s%s%s%s%s", pe->entry, pe->entry[0] ? ": " : "",
		 field ? field : "", field ? ": " : "", msg);
	return -EINVAL;
}


static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fractional number";
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "?";
}

/* Typos must not pass for defaults: every key of obj must be known. */
static int check_keys(struct perr *pe, json_object *obj, const char *const *known)
{
	json_object_object_foreach(obj, key, val)
	{
		size_t i;

		(void)val;
		for (i = 0; known[i]; i++)
			if (!strcmp(key, known[i]))
				break;
		if (!known[i])
			return cfg_fail(pe, NULL, "unknown field %s", XS_QW(key));
	}
	return 0;
}

static json_object *get(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/* A number, as a JSON integer or as a decimal or 0x-hex string. */
static int get_u32(struct perr *pe, json_object *v, const char *field, uint32_t *out)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);

		if (n < 0 || n > UINT32_MAX)
			return cfg_fail(pe, field, "%lld is out of range (0..4294967295)",
				    (long long)n);
		*out = (uint32_t)n;
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		if (parse_u32(json_object_get_string(v), out))
			return cfg_fail(pe, field, "%s is not a number (decimal or 0x-hex)",
				    XS_QW(json_object_get_string(v)));
		return 0;
	}
	return cfg_fail(pe, field, "expected a number, got %s", type_name(v));
}

static int get_bool(struct perr *pe, json_object *v, const char *field, bool *out)
{
	if (!json_object_is_type(v, json_type_boolean))
		return cfg_fail(pe, field, "expected true or false, got %s", type_name(v));
	*out = json_object_get_boolean(v);
	return 0;
}

static int get_str(struct perr *pe, json_object *v, const char *field, const char **out)
{
	if (!json_object_is_type(v, json_type_string))
		return cfg_fail(pe, field, "expected a string, got %s", type_name(v));
	*out = json_object_get_string(v);
	return 0;
}

/* The kernel's rules for interface names (dev_valid_name()). */
static int ifname_ok(const char *s)
{
	const char *c;

	if (!*s || strlen(s) >= XS_IFNAME_LEN || !strcmp(s, ".") || !strcmp(s, ".."))
		return -EINVAL;
	for (c = s; *c; c++)
		if (*c == '/' || *c == ':' || *c == '%' || isspace((unsigned char)*c) ||
		    !isprint((unsigned char)*c))
			return -EINVAL;
	return 0;
}

static int get_ifname(struct perr *pe, json_object *v, const char *field, char *out)
{
	const char *s = NULL;
	int err = get_str(pe, v, field, &s);

	if (err)
		return err;
	if (ifname_ok(s))
		return cfg_fail(pe, field, "%s is not a valid interface name (1..15 characters, no '/', ':', '%%' or spaces)",
			    XS_QW(s));
	snprintf(out, XS_IFNAME_LEN, "%s", s);
	return 0;
}

int xs_cfg_tunnel_name_ok(const char *name)
{
	const char *c;

	/* Names go into messages, file names and the command line: keep them
	 * to what needs no quoting, and not an option's look. */
	if (!*name || strlen(name) >= XS_TUNNEL_NAME_LEN || name[0] == '-')
		return -EINVAL;
	for (c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return -EINVAL;
	return 0;
}

int xs_cfg_parse_tenant(const char *s, struct xs_cfg_tenant *t)
{
	memset(t, 0, sizeof(*t));
	if (!parse_u32(s, &t->num)) {
		t->set = true;
		return 0;
	}
	if (ifname_ok(s))
		return -EINVAL;
	t->set = true;
	t->is_name = true;
	snprintf(t->name, sizeof(t->name), "%s", s);
	return 0;
}

static int get_tenant(struct perr *pe, json_object *v, struct xs_cfg_tenant *t)
{
	if (json_object_is_type(v, json_type_int)) {
		memset(t, 0, sizeof(*t));
		t->set = true;
		return get_u32(pe, v, "tenant", &t->num);
	}
	if (!json_object_is_type(v, json_type_string))
		return cfg_fail(pe, "tenant", "expected a number or an interface name, got %s",
			    type_name(v));
	if (xs_cfg_parse_tenant(json_object_get_string(v), t))
		return cfg_fail(pe, "tenant",
			    "%s is neither a number nor an interface name",
			    XS_QW(json_object_get_string(v)));
	return 0;
}

/* "owner": "file" (the default) or "cli" (see xs_cfg_tunnel.cli). */
static int get_owner(struct perr *pe, json_object *v, bool *cli)
{
	const char *s = NULL;
	int err = get_str(pe, v, "owner", &s);

	if (err)
		return err;
	if (strcmp(s, "file") && strcmp(s, "cli"))
		return cfg_fail(pe, "owner", "%s is not file or cli", XS_QW(s));
	*cli = !strcmp(s, "cli");
	return 0;
}

static int get_addr(struct perr *pe, json_object *v, const char *field, struct xs_prefix *p)
{
	const char *s = NULL;
	int err = get_str(pe, v, field, &s);

	if (err)
		return err;
	if (parse_addr(s, p))
		return cfg_fail(pe, field, "%s is not an IPv4 or IPv6 address", XS_QW(s));
	return 0;
}

static int get_prefix(struct perr *pe, json_object *v, const char *field, struct xs_prefix *p)
{
	const char *s = NULL;
	int err = get_str(pe, v, field, &s);

	if (err)
		return err;
	err = parse_prefix(s, p, false);
	if (err == -ERANGE)
		return cfg_fail(pe, field, "%s has host bits set beyond its length", XS_QW(s));
	if (err)
		return cfg_fail(pe, field, "%s is not a prefix (ADDR/LEN)", XS_QW(s));
	return 0;
}

/* ---- links ---- */

static int parse_link(struct perr *pe, json_object *o, struct xs_cfg_link *l)
{
	static const char *const known[] = { "name", "tenant_key", "mark_mask", "rpf",
					     "mark_ingress", "max_routes", "max_tunnels",
					     NULL };
	json_object *v;
	const char *s = NULL;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return cfg_fail(pe, NULL, "expected an object, got %s", type_name(o));
	v = get(o, "name");
	if (!v)
		return cfg_fail(pe, "name", "missing");
	err = get_ifname(pe, v, "name", l->name);
	if (err)
		return err;
	snprintf(pe->entry + strlen(pe->entry), sizeof(pe->entry) - strlen(pe->entry),
		 " (\"%s\")", l->name);
	err = check_keys(pe, o, known);
	if (err)
		return err;
	if ((v = get(o, "tenant_key"))) {
		err = get_str(pe, v, "tenant_key", &s);
		if (err)
			return err;
		if (!strcmp(s, "mark"))
			l->tenant_mode = XS_TENANT_MARK;
		else if (!strcmp(s, "iif"))
			l->tenant_mode = XS_TENANT_IIF;
		else if (!strcmp(s, "none"))
			l->tenant_mode = XS_TENANT_NONE;
		else
			return cfg_fail(pe, "tenant_key", "%s is not mark, iif or none", XS_QW(s));
		l->have_tenant_key = true;
	}
	if ((v = get(o, "mark_mask"))) {
		err = get_u32(pe, v, "mark_mask", &l->mark_mask);
		if (err)
			return err;
		if (!l->have_tenant_key || l->tenant_mode != XS_TENANT_MARK)
			return cfg_fail(pe, "mark_mask", "only with \"tenant_key\": \"mark\"");
	}
	if (l->have_tenant_key && l->tenant_mode == XS_TENANT_MARK && !l->mark_mask)
		return cfg_fail(pe, "mark_mask", "\"tenant_key\": \"mark\" needs a non-zero mark_mask");
	if ((v = get(o, "rpf"))) {
		err = get_str(pe, v, "rpf", &s);
		if (err)
			return err;
		if (strcmp(s, "strict") && strcmp(s, "off"))
			return cfg_fail(pe, "rpf", "%s is not strict or off", XS_QW(s));
		l->rpf = !strcmp(s, "strict");
		l->have_rpf = true;
	}
	if ((v = get(o, "mark_ingress"))) {
		err = get_bool(pe, v, "mark_ingress", &l->mark_ingress);
		if (err)
			return err;
		l->have_mark_ingress = true;
		if (l->mark_ingress && l->have_tenant_key && l->tenant_mode != XS_TENANT_MARK)
			return cfg_fail(pe, "mark_ingress", "needs \"tenant_key\": \"mark\"");
	}
	if ((v = get(o, "max_routes"))) {
		err = get_u32(pe, v, "max_routes", &l->max_routes);
		if (err)
			return err;
		if (l->max_routes < 1 || l->max_routes > (1u << 24))
			return cfg_fail(pe, "max_routes", "%u is out of range (1..16777216)",
				    l->max_routes);
		l->have_max_routes = true;
	}
	if ((v = get(o, "max_tunnels"))) {
		err = get_u32(pe, v, "max_tunnels", &l->max_tunnels);
		if (err)
			return err;
		if (l->max_tunnels < 1 || l->max_tunnels > (1u << 24))
			return cfg_fail(pe, "max_tunnels", "%u is out of range (1..16777216)",
				    l->max_tunnels);
		l->have_max_tunnels = true;
	}
	return 0;
}

/* ---- tunnels ---- */

static bool key_ref_ok(const char *s)
{
	return (s[0] == '@' && s[1]) || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'));
}

/* An inline key is checked against its algorithm here already; a key file
 * only when it is read. Nothing of the key reaches why. */
static int check_inline_key(struct perr *pe, const char *field, enum xs_alg_kind kind,
			    const struct xs_cfg_alg *a, const char *key)
{
	struct xs_alg alg;
	char why[256];
	size_t n;
	int err;

	if (key[0] == '@')
		return 0;
	memset(&alg, 0, sizeof(alg));
	snprintf(alg.name, sizeof(alg.name), "%s", a->name);
	alg.icv_bits = a->bits;
	err = xs_hex_decode(key + 2, strlen(key) - 2, alg.key, sizeof(alg.key), &n);
	if (!err) {
		alg.key_len = (uint32_t)n;
		err = xs_alg_check(kind, &alg, why, sizeof(why)) ? -EINVAL : 0;
	} else {
		snprintf(why, sizeof(why), "%s",
			 err == -EILSEQ	  ? "odd number of hex digits" :
			 err == -EMSGSIZE ? "longer than any key" :
			 err == -ENODATA  ? "no hex digits after \"0x\"" :
					    "not a hex number (0x followed by hex digits)");
	}
	explicit_bzero(&alg, sizeof(alg));
	if (err)
		return cfg_fail(pe, field, "%s", why);
	return 0;
}

static int get_key(struct perr *pe, json_object *v, const char *field, char **out)
{
	const char *s = NULL;

	*out = NULL;
	/* null: the key is not shown here (show -j without --show-keys); an existing
	 * tunnel keeps the one it has. */
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return cfg_fail(pe, field, "expected \"0x<hex>\" or \"@<file>\", got %s",
			    type_name(v));
	s = json_object_get_string(v);
	if (!key_ref_ok(s))
		return cfg_fail(pe, field, "expected \"0x<hex>\" or \"@<file>\"");
	*out = strdup(s);
	if (!*out)
		return -ENOMEM;
	return 0;
}

static int parse_alg(struct perr *pe, json_object *o, enum xs_alg_kind kind,
		     struct xs_cfg_alg *a)
{
	static const char *const known_aead[] = { "name", "icv_bits", "key", "key_out", NULL };
	static const char *const known_enc[] = { "name", "key", "key_out", NULL };
	static const char *const known_auth[] = { "name", "trunc_bits", "key", "key_out", NULL };
	const char *kn = xs_alg_kind_name(kind);
	const struct xs_alg_desc *d;
	char saved[sizeof(pe->entry)];
	const char *s = NULL;
	json_object *v;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return cfg_fail(pe, kn, "expected an object, got %s", type_name(o));
	/* Name the algorithm object in messages about its fields. */
	memcpy(saved, pe->entry, sizeof(saved));
	snprintf(pe->entry + strlen(pe->entry), sizeof(pe->entry) - strlen(pe->entry), ": %s",
		 kn);
	err = check_keys(pe, o, kind == XS_ALG_AEAD ? known_aead :
				kind == XS_ALG_ENC  ? known_enc :
						      known_auth);
	if (err)
		goto out;
	v = get(o, "name");
	if (!v) {
		err = cfg_fail(pe, "name", "missing");
		goto out;
	}
	err = get_str(pe, v, "name", &s);
	if (err)
		goto out;
	d = xs_alg_find(kind, s);
	if (!d) {
		d = xs_alg_find_any(s);
		if (d)
			err = cfg_fail(pe, "name", "%s is an %s algorithm, not %s", XS_QW(s),
				   xs_alg_kind_name(d->kind), kn);
		else
			err = cfg_fail(pe, "name", "unknown %s algorithm %s", kn, XS_QW(s));
		goto out;
	}
	snprintf(a->name, sizeof(a->name), "%s", d->name);
	if (kind == XS_ALG_AEAD) {
		a->bits = d->icv_bits[0];
		if ((v = get(o, "icv_bits")) && (err = get_u32(pe, v, "icv_bits", &a->bits)))
			goto out;
	} else if (kind == XS_ALG_AUTH) {
		a->bits = d->icv_bits[0];
		if ((v = get(o, "trunc_bits")) &&
		    (err = get_u32(pe, v, "trunc_bits", &a->bits)))
			goto out;
		/* 0 is "the RFC's", which is what the SA gets: say so. */
		if (!a->bits)
			a->bits = d->icv_bits[0];
	}
	if ((v = get(o, "key")) && (err = get_key(pe, v, "key", &a->key)))
		goto out;
	if ((v = get(o, "key_out")) && (err = get_key(pe, v, "key_out", &a->key_out)))
		goto out;
	if (a->key_out && !a->key) {
		err = cfg_fail(pe, "key_out", "only together with \"key\" (the inbound SA's)");
		goto out;
	}
	/* The lengths of inline keys and the ICV, as the SA check will. */
	if (a->key)
		err = check_inline_key(pe, "key", kind, a, a->key);
	if (!err && a->key_out)
		err = check_inline_key(pe, "key_out", kind, a, a->key_out);
	if (!err && !a->key && kind != XS_ALG_ENC) {
		/* Without a key, still check the ICV against the table. */
		struct xs_alg alg;
		char why[256];

		memset(&alg, 0, sizeof(alg));
		snprintf(alg.name, sizeof(alg.name), "%s", a->name);
		alg.key_len = d->key_bytes[0];
		alg.icv_bits = a->bits;
		if (xs_alg_check(kind, &alg, why, sizeof(why)))
			err = cfg_fail(pe, kind == XS_ALG_AEAD ? "icv_bits" : "trunc_bits", "%s",
				   why);
	}
out:
	memcpy(pe->entry, saved, sizeof(saved));
	return err;
}

static bool same_key(const struct xs_cfg_alg *a)
{
	/* No key_out: key (or, without key, the SAs' own) serves both. Two
	 * key files may hold the same key too; that shows only once they
	 * are read, and is left to the one who wrote them. */
	return !a->key_out || (a->key && !strcmp(a->key, a->key_out));
}

/* One key both ways under one SPI: the outbound SA (SPI s, to remote)
 * and the inbound one (SPI s, to local) are then the same transform, and
 * a packet of ours that someone reflects back to us authenticates as the
 * peer's. Refused unless asked for; the one place for both the tunnel
 * command and apply files. */
static bool reflectable(const struct xs_cfg_tunnel *t)
{
	if (t->spi_in != t->spi_out || t->allow_same_spi)
		return false;
	if (t->aead.name[0])
		return same_key(&t->aead);
	return same_key(&t->enc) && same_key(&t->auth);
}

int xs_cfg_tunnel_check(const struct xs_cfg_tunnel *t, char *why, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	size_t i, j;

	if (!t->if_id) {
		snprintf(why, len, "if_id: must be 1..4294967295");
		return -EINVAL;
	}
	if (t->local.family != t->remote.family) {
		snprintf(why, len, "local %s and remote %s are of different families",
			 format_addr(t->local.family, t->local.addr, a, sizeof(a)),
			 format_addr(t->remote.family, t->remote.addr, b, sizeof(b)));
		return -EINVAL;
	}
	if (t->spi_in < 256 || t->spi_out < 256) {
		snprintf(why, len, "%s: 0x%08x is reserved (0..255 are), use 256 (0x100) or more",
			 t->spi_in < 256 ? "spi_in" : "spi_out",
			 t->spi_in < 256 ? t->spi_in : t->spi_out);
		return -EINVAL;
	}
	/* The kernel finds an SA by destination and SPI. */
	if (t->spi_in == t->spi_out && !memcmp(t->local.addr, t->remote.addr, 16)) {
		snprintf(why, len, "spi_in and spi_out are both 0x%08x between the same addresses",
			 t->spi_in);
		return -EINVAL;
	}
	if (t->replay_window > XS_REPLAY_MAX) {
		snprintf(why, len, "replay_window: %u is above the kernel's limit of %u",
			 t->replay_window, XS_REPLAY_MAX);
		return -EINVAL;
	}
	if (t->esn && !t->replay_window) {
		snprintf(why, len,
			 "esn needs a replay_window of 1..%u, the kernel refuses an ESN SA without one (leave replay_window out for %u, or set esn false)",
			 XS_REPLAY_MAX, XS_REPLAY_ESN_DEFAULT);
		return -EINVAL;
	}
	if (t->aead.name[0] && (t->enc.name[0] || t->auth.name[0])) {
		snprintf(why, len, "aead already provides encryption and integrity: no enc or auth with it");
		return -EINVAL;
	}
	if (!t->aead.name[0] && !t->enc.name[0] && !t->auth.name[0]) {
		snprintf(why, len, "needs an algorithm: \"aead\", or \"enc\" and \"auth\"");
		return -EINVAL;
	}
	if (!t->aead.name[0] && (!t->enc.name[0] || !t->auth.name[0])) {
		snprintf(why, len, "%s", t->enc.name[0] ? "enc needs \"auth\" too" :
							   "auth needs \"enc\" too");
		return -EINVAL;
	}
	/* One key for the two SAs, or none (keep what they have): a new
	 * key for one algorithm alone would leave the other's unknown. */
	if (t->enc.name[0] && !t->enc.key != !t->auth.key) {
		snprintf(why, len, "give the keys of enc and auth together, or neither");
		return -EINVAL;
	}
	if (t->enc.name[0] && !t->enc.key_out != !t->auth.key_out) {
		snprintf(why, len, "give key_out of enc and auth together, or neither");
		return -EINVAL;
	}
	if (reflectable(t)) {
		snprintf(why, len,
			 "spi_in and spi_out are both 0x%08x and one key serves both directions, so a packet reflected back to its sender authenticates: use distinct SPIs, a key of its own for the outbound SA (key_out; tunnel add: out-key), or allow it (\"allow_same_spi\": true; tunnel add: flag same-spi)",
			 t->spi_in);
		return -EINVAL;
	}
	if (t->encap.type && (!t->encap.sport || !t->encap.dport)) {
		snprintf(why, len, "encap: ports must be 1..65535");
		return -EINVAL;
	}
	for (i = 0; i < t->nprefixes; i++) {
		for (j = 0; j < i; j++) {
			if (t->prefixes[i].family == t->prefixes[j].family &&
			    t->prefixes[i].plen == t->prefixes[j].plen &&
			    !memcmp(t->prefixes[i].addr, t->prefixes[j].addr, 16)) {
				snprintf(why, len, "prefixes[%zu]: %s is listed twice", i,
					 format_prefix(&t->prefixes[i], a, sizeof(a)));
				return -EINVAL;
			}
		}
		if (t->mode == XFRM_MODE_TRANSPORT && t->prefixes[i].family != t->local.family) {
			snprintf(why, len,
				 "prefixes[%zu]: a transport-mode tunnel carries only its own family",
				 i);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_encap(struct perr *pe, json_object *o, struct xs_encap *e)
{
	static const char *const known[] = { "type", "sport", "dport", NULL };
	json_object *v;
	const char *s = NULL;
	uint32_t port;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return cfg_fail(pe, "encap", "expected an object, got %s", type_name(o));
	err = check_keys(pe, o, known);
	if (err)
		return err;
	v = get(o, "type");
	if (v) {
		err = get_str(pe, v, "encap: type", &s);
		if (err)
			return err;
		if (strcmp(s, "espinudp"))
			return cfg_fail(pe, "encap: type", "%s is not espinudp", XS_QW(s));
	}
	e->type = UDP_ENCAP_ESPINUDP;
	e->sport = e->dport = 4500;
	if ((v = get(o, "sport"))) {
		err = get_u32(pe, v, "encap: sport", &port);
		if (err)
			return err;
		if (!port || port > 65535)
			return cfg_fail(pe, "encap: sport", "%u is not a port (1..65535)", port);
		e->sport = (uint16_t)port;
	}
	if ((v = get(o, "dport"))) {
		err = get_u32(pe, v, "encap: dport", &port);
		if (err)
			return err;
		if (!port || port > 65535)
			return cfg_fail(pe, "encap: dport", "%u is not a port (1..65535)", port);
		e->dport = (uint16_t)port;
	}
	return 0;
}

static int parse_tunnel(struct perr *pe, json_object *o, const struct xs_config_file *cfg,
			struct xs_cfg_tunnel *t)
{
	static const char *const known[] = {
		"name",	  "dev",	   "if_id", "tenant", "local", "remote", "spi_in",
		"spi_out", "reqid",	   "mode",  "esn",    "aead",  "enc",	 "auth",
		"encap",  "replay_window", "prefixes", "allow_same_spi", "owner", NULL,
	};
	static const char *const required[] = { "if_id", "local", "remote", "spi_in",
						"spi_out" };
	char why[384];
	json_object *v;
	const char *s = NULL;
	size_t i, n;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return cfg_fail(pe, NULL, "expected an object, got %s", type_name(o));
	v = get(o, "name");
	if (!v)
		return cfg_fail(pe, "name", "missing");
	err = get_str(pe, v, "name", &s);
	if (err)
		return err;
	if (xs_cfg_tunnel_name_ok(s))
		return cfg_fail(pe, "name",
			    "%s is not a tunnel name (1..31 letters, digits, '.', '_' or '-', not starting with '-')",
			    XS_QW(s));
	snprintf(t->name, sizeof(t->name), "%s", s);
	snprintf(pe->entry + strlen(pe->entry), sizeof(pe->entry) - strlen(pe->entry),
		 " (\"%s\")", t->name);
	err = check_keys(pe, o, known);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(required); i++)
		if (!get(o, required[i]))
			return cfg_fail(pe, required[i], "missing");

	if ((v = get(o, "dev"))) {
		err = get_ifname(pe, v, "dev", t->dev);
		if (err)
			return err;
	} else if (cfg->nlinks == 1) {
		/* One interface in the file: the tunnel's is clear. */
		snprintf(t->dev, sizeof(t->dev), "%s", cfg->links[0].name);
	} else {
		return cfg_fail(pe, "dev", "missing (the file names %s links)",
			    cfg->nlinks ? "several" : "no");
	}
	err = get_u32(pe, get(o, "if_id"), "if_id", &t->if_id);
	if (err)
		return err;
	if (!t->if_id)
		return cfg_fail(pe, "if_id", "must be 1..4294967295");
	if ((v = get(o, "tenant")) && (err = get_tenant(pe, v, &t->tenant)))
		return err;
	if ((v = get(o, "owner")) && (err = get_owner(pe, v, &t->cli)))
		return err;
	if ((err = get_addr(pe, get(o, "local"), "local", &t->local)) ||
	    (err = get_addr(pe, get(o, "remote"), "remote", &t->remote)) ||
	    (err = get_u32(pe, get(o, "spi_in"), "spi_in", &t->spi_in)) ||
	    (err = get_u32(pe, get(o, "spi_out"), "spi_out", &t->spi_out)))
		return err;
	if ((v = get(o, "reqid")) && (err = get_u32(pe, v, "reqid", &t->reqid)))
		return err;
	t->mode = XFRM_MODE_TUNNEL;
	if ((v = get(o, "mode"))) {
		err = get_str(pe, v, "mode", &s);
		if (err)
			return err;
		if (!strcmp(s, "transport"))
			t->mode = XFRM_MODE_TRANSPORT;
		else if (strcmp(s, "tunnel"))
			return cfg_fail(pe, "mode", "%s is not tunnel or transport", XS_QW(s));
	}
	if ((v = get(o, "esn")) && (err = get_bool(pe, v, "esn", &t->esn)))
		return err;
	if ((v = get(o, "allow_same_spi")) &&
	    (err = get_bool(pe, v, "allow_same_spi", &t->allow_same_spi)))
		return err;
	/* No anti-replay unless asked for (see XS_REPLAY_DEFAULT); ESN
	 * cannot do without. */
	t->replay_window = t->esn ? XS_REPLAY_ESN_DEFAULT : XS_REPLAY_DEFAULT;
	if ((v = get(o, "replay_window")) &&
	    (err = get_u32(pe, v, "replay_window", &t->replay_window)))
		return err;
	if ((v = get(o, "aead")) && (err = parse_alg(pe, v, XS_ALG_AEAD, &t->aead)))
		return err;
	if ((v = get(o, "enc")) && (err = parse_alg(pe, v, XS_ALG_ENC, &t->enc)))
		return err;
	if ((v = get(o, "auth")) && (err = parse_alg(pe, v, XS_ALG_AUTH, &t->auth)))
		return err;
	if ((v = get(o, "encap")) && (err = parse_encap(pe, v, &t->encap)))
		return err;
	if ((v = get(o, "prefixes"))) {
		if (!json_object_is_type(v, json_type_array))
			return cfg_fail(pe, "prefixes", "expected an array, got %s", type_name(v));
		n = json_object_array_length(v);
		t->prefixes = calloc(n ? n : 1, sizeof(*t->prefixes));
		if (!t->prefixes)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			char field[32];

			snprintf(field, sizeof(field), "prefixes[%zu]", i);
			err = get_prefix(pe, json_object_array_get_idx(v, i), field,
					 &t->prefixes[i]);
			if (err)
				return err;
			t->nprefixes++;
		}
	}
	if (xs_cfg_tunnel_check(t, why, sizeof(why)))
		return cfg_fail(pe, NULL, "%s", why);
	return 0;
}

/* ---- routes ---- */

/* One member of a group: "nexthops[i]" names it in messages. */
static int parse_nexthop(struct perr *pe, json_object *o, const char *at,
			 struct xs_cfg_nexthop *nh)
{
	static const char *const known[] = { "if_id", "weight", "dscp", "backup", NULL };
	char field[48];
	json_object *v;
	size_t i, n;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return cfg_fail(pe, at, "expected an object, got %s", type_name(o));
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		for (i = 0; known[i]; i++)
			if (!strcmp(key, known[i]))
				break;
		if (!known[i])
			return cfg_fail(pe, at, "unknown field %s", XS_QW(key));
	}
	snprintf(field, sizeof(field), "%s.if_id", at);
	v = get(o, "if_id");
	if (!v)
		return cfg_fail(pe, field, "missing");
	err = get_u32(pe, v, field, &nh->if_id);
	if (err)
		return err;
	if (!nh->if_id)
		return cfg_fail(pe, field, "must be 1..4294967295");
	nh->weight = 1;
	snprintf(field, sizeof(field), "%s.weight", at);
	if ((v = get(o, "weight"))) {
		int64_t w;

		if (!json_object_is_type(v, json_type_int))
			return cfg_fail(pe, field, "expected a number (1..65535), got %s",
					type_name(v));
		w = json_object_get_int64(v);
		if (w < 1 || w > 65535)
			return cfg_fail(pe, field, "%lld is out of range (1..65535)", (long long)w);
		nh->weight = (uint32_t)w;
	}
	snprintf(field, sizeof(field), "%s.dscp", at);
	if ((v = get(o, "dscp"))) {
		if (!json_object_is_type(v, json_type_array))
			return cfg_fail(pe, field, "expected an array of DSCP classes (0..63), got %s",
					type_name(v));
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			json_object *c = json_object_array_get_idx(v, i);
			int64_t x;

			if (!json_object_is_type(c, json_type_int))
				return cfg_fail(pe, field, "expected a DSCP class (0..63), got %s",
						type_name(c));
			x = json_object_get_int64(c);
			if (x < 0 || x > 63)
				return cfg_fail(pe, field, "%lld is not a DSCP class (0..63)",
						(long long)x);
			if (nh->dscp & (1ull << x))
				return cfg_fail(pe, field, "class %lld is given twice", (long long)x);
			nh->dscp |= 1ull << x;
		}
	}
	snprintf(field, sizeof(field), "%s.backup", at);
	if ((v = get(o, "backup")) && (err = get_bool(pe, v, field, &nh->backup)))
		return err;
	return 0;
}

/* A route group: 1..XS_CFG_GROUP_MAX members, each if_id once, and one
 * at least that is not a backup (route add's rules). */
static int parse_nexthops(struct perr *pe, json_object *v, struct xs_cfg_route *r)
{
	char at[32];
	size_t n, i, j;
	int err;

	if (!json_object_is_type(v, json_type_array))
		return cfg_fail(pe, "nexthops", "expected an array, got %s", type_name(v));
	n = json_object_array_length(v);
	if (!n)
		return cfg_fail(pe, "nexthops", "empty: a group has 1 to %d members",
				XS_CFG_GROUP_MAX);
	if (n > XS_CFG_GROUP_MAX)
		return cfg_fail(pe, "nexthops", "%zu members, more than the %d a group takes", n,
				XS_CFG_GROUP_MAX);
	for (i = 0; i < n; i++) {
		snprintf(at, sizeof(at), "nexthops[%zu]", i);
		err = parse_nexthop(pe, json_object_array_get_idx(v, i), at, &r->nh[i]);
		if (err)
			return err;
		for (j = 0; j < i; j++)
			if (r->nh[j].if_id == r->nh[i].if_id)
				return cfg_fail(pe, at, "if_id %u is nexthops[%zu] already",
						r->nh[i].if_id, j);
		r->nnh++;
	}
	for (i = 0; i < n && r->nh[i].backup; i++)
		;
	if (i == n)
		return cfg_fail(pe, "nexthops", "every member is a backup; at least one must not be");
	return 0;
}

static int parse_route(struct perr *pe, json_object *o, const struct xs_config_file *cfg,
		       struct xs_cfg_route *r)
{
	static const char *const known[] = { "dev",    "prefix",   "if_id", "nexthops",
					     "tenant", "owner", NULL };
	char buf[64];
	json_object *v;
	int err;

	if (!json_object_is_type(o, json_type_object))
		return cfg_fail(pe, NULL, "expected an object, got %s", type_name(o));
	v = get(o, "prefix");
	if (!v)
		return cfg_fail(pe, "prefix", "missing");
	err = get_prefix(pe, v, "prefix", &r->prefix);
	if (err)
		return err;
	snprintf(pe->entry + strlen(pe->entry), sizeof(pe->entry) - strlen(pe->entry),
		 " (%s)", format_prefix(&r->prefix, buf, sizeof(buf)));
	err = check_keys(pe, o, known);
	if (err)
		return err;
	if ((v = get(o, "dev"))) {
		err = get_ifname(pe, v, "dev", r->dev);
		if (err)
			return err;
	} else if (cfg->nlinks == 1) {
		snprintf(r->dev, sizeof(r->dev), "%s", cfg->links[0].name);
	} else {
		return cfg_fail(pe, "dev", "missing (the file names %s links)",
			    cfg->nlinks ? "several" : "no");
	}
	v = get(o, "if_id");
	if (v && get(o, "nexthops"))
		return cfg_fail(pe, NULL, "\"if_id\" or \"nexthops\", not both");
	if (!v && (v = get(o, "nexthops"))) {
		err = parse_nexthops(pe, v, r);
		if (err)
			return err;
	} else {
		if (!v)
			return cfg_fail(pe, "if_id", "missing (or \"nexthops\" for a group)");
		err = get_u32(pe, v, "if_id", &r->if_id);
		if (err)
			return err;
		if (!r->if_id)
			return cfg_fail(pe, "if_id", "must be 1..4294967295");
	}
	if ((v = get(o, "tenant")) && (err = get_tenant(pe, v, &r->tenant)))
		return err;
	if ((v = get(o, "owner")) && (err = get_owner(pe, v, &r->cli)))
		return err;
	return 0;
}

/* Parse the array under key with fn into a new array of n elements. */
#define PARSE_LIST(root, key, arr, count, fn)                                              \
	({                                                                                 \
		json_object *list_ = get(root, key);                                       \
		int err_ = 0;                                                              \
		size_t i_, n_;                                                             \
		if (list_ && !json_object_is_type(list_, json_type_array)) {               \
			err_ = cfg_fail(pe, key, "expected an array, got %s", type_name(list_)); \
		} else if (list_) {                                                        \
			n_ = json_object_array_length(list_);                              \
			(arr) = calloc(n_ ? n_ : 1, sizeof(*(arr)));                       \
			if (!(arr))                                                        \
				err_ = -ENOMEM;                                            \
			for (i_ = 0; !err_ && i_ < n_; i_++) {                             \
				snprintf(pe->entry, sizeof(pe->entry), "%s[%zu]", key, i_); \
				err_ = fn;                                                 \
				(count)++;                                                 \
			}                                                                  \
		}                                                                          \
		err_;                                                                      \
	})

/* json-c keeps its own copies of the file's strings, keys among them, and
 * frees them without wiping. A key may sit in any field by mistake (a name,
 * an unknown field's name), so every string goes, not only "key" and
 * "key_out"; and the tokener's buffer, which holds the last string parsed.
 * Reaching into struct json_tokener is deprecated in json-c 0.16 but the
 * only way: it has no call to wipe. */

static void tok_free(struct json_tokener *tok)
{
	if (tok->pb && tok->pb->buf && tok->pb->size > 0)
		explicit_bzero(tok->pb->buf, (size_t)tok->pb->size);
	json_tokener_free(tok);
}

int xs_config_parse(const char *json, size_t len, struct xs_config_file *out,
		    char *why, size_t why_len)
{
	static const char *const known[] = { "links", "tunnels", "routes", NULL };
	struct perr perr = { .why = why, .len = why_len }, *pe = &perr;
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *root;
	int err;

	memset(out, 0, sizeof(*out));
	snprintf(why, why_len, "?");
	if (len > INT32_MAX)
		return cfg_fail(pe, NULL, "the file is too large");
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!root && jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	if (!root || jerr != json_tokener_success) {
		size_t off = json_tokener_get_parse_end(tok);
		size_t line = 1, i;

		for (i = 0; i < off && i < len; i++)
			line += json[i] == '\n';
		tok_free(tok);
		xs_json_wipe(root);
		json_object_put(root);
		return cfg_fail(pe, NULL, "not valid JSON: %s at line %zu",
			    json_tokener_error_desc(jerr), line);
	}
	/* Trailing content after the object is a mistake, not a comment. */
	if (json_tokener_get_parse_end(tok) < len) {
		size_t i;

		for (i = json_tokener_get_parse_end(tok); i < len; i++)
			if (!isspace((unsigned char)json[i]) && json[i] != '\0')
				break;
		if (i < len && json[i] != '\0') {
			tok_free(tok);
			xs_json_wipe(root);
			json_object_put(root);
			return cfg_fail(pe, NULL, "not valid JSON: content after the top-level object");
		}
	}
	tok_free(tok);

	if (!json_object_is_type(root, json_type_object)) {
		err = cfg_fail(pe, NULL, "expected an object with \"links\", \"tunnels\" and \"routes\", got %s",
			   type_name(root));
		goto out;
	}
	err = check_keys(pe, root, known);
	if (!err)
		err = PARSE_LIST(root, "links", out->links, out->nlinks,
				 parse_link(pe, json_object_array_get_idx(list_, i_),
					    &out->links[i_]));
	if (!err)
		err = cfg_check_links(pe, out);
	if (!err)
		err = PARSE_LIST(root, "tunnels", out->tunnels, out->ntunnels,
				 parse_tunnel(pe, json_object_array_get_idx(list_, i_), out,
					      &out->tunnels[i_]));
	if (!err)
		err = PARSE_LIST(root, "routes", out->routes, out->nroutes,
				 parse_route(pe, json_object_array_get_idx(list_, i_), out,
					     &out->routes[i_]));
	if (!err)
		err = cfg_check_duplicates(pe, out);
	if (err == -ENOMEM)
		snprintf(why, why_len, "out of memory");
out:
	xs_json_wipe(root);
	json_object_put(root);
	return err;
}

static void free_key(char **k)
{
	if (*k) {
		explicit_bzero(*k, strlen(*k));
		free(*k);
	}
	*k = NULL;
}

static void free_alg(struct xs_cfg_alg *a)
{
	free_key(&a->key);
	free_key(&a->key_out);
}

void xs_config_free(struct xs_config_file *cfg)
{
	size_t i;

	for (i = 0; cfg->tunnels && i < cfg->ntunnels; i++) {
		free_alg(&cfg->tunnels[i].aead);
		free_alg(&cfg->tunnels[i].enc);
		free_alg(&cfg->tunnels[i].auth);
		free(cfg->tunnels[i].prefixes);
	}
	/* ntunnels counts the entry being parsed when parsing failed: its
	 * keys were allocated too and are freed above. */
	free(cfg->links);
	free(cfg->tunnels);
	free(cfg->routes);
	memset(cfg, 0, sizeof(*cfg));
}
