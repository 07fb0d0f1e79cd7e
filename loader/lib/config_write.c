// SPDX-License-Identifier: GPL-2.0
/* The file format written: structs to JSON, and labels of entries
 * (config.h). */
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
const char *xs_cfg_tunnel_label(const struct xs_config_file *cfg, size_t i, char *buf,
				size_t len)
{
	snprintf(buf, len, "tunnels[%zu] (\"%s\")", i, cfg->tunnels[i].name);
	return buf;
}

/* ---- back to JSON ---- */

static json_object *hex_str(uint32_t v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%x", v);
	return json_object_new_string(buf);
}

static json_object *spi_str(uint32_t v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%08x", v);
	return json_object_new_string(buf);
}

static json_object *tenant_json(const struct xs_cfg_tenant *t)
{
	if (t->is_name)
		return json_object_new_string(t->name);
	/* Mark values read best in hex, and a number in a string is still
	 * a number to the parser. */
	return t->num ? hex_str(t->num) : json_object_new_int64(0);
}

static json_object *link_json(const struct xs_cfg_link *l)
{
	static const char *const modes[] = { "none", "mark", "iif" };
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(l->name));
	if (l->have_tenant_key) {
		json_object_object_add(o, "tenant_key",
				       json_object_new_string(l->tenant_mode < 3 ?
								      modes[l->tenant_mode] :
								      "none"));
		if (l->tenant_mode == XS_TENANT_MARK)
			json_object_object_add(o, "mark_mask", hex_str(l->mark_mask));
	}
	if (l->have_rpf)
		json_object_object_add(o, "rpf", json_object_new_string(l->rpf ? "strict" : "off"));
	if (l->have_mark_ingress)
		json_object_object_add(o, "mark_ingress", json_object_new_boolean(l->mark_ingress));
	if (l->have_max_routes)
		json_object_object_add(o, "max_routes", json_object_new_int64(l->max_routes));
	if (l->have_max_tunnels)
		json_object_object_add(o, "max_tunnels", json_object_new_int64(l->max_tunnels));
	return o;
}

static json_object *alg_json(const struct xs_cfg_alg *a, enum xs_alg_kind kind)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(a->name));
	if (kind == XS_ALG_AEAD)
		json_object_object_add(o, "icv_bits", json_object_new_int64(a->bits));
	else if (kind == XS_ALG_AUTH && a->bits)
		json_object_object_add(o, "trunc_bits", json_object_new_int64(a->bits));
	if (a->key)
		json_object_object_add(o, "key", json_object_new_string(a->key));
	if (a->key_out)
		json_object_object_add(o, "key_out", json_object_new_string(a->key_out));
	return o;
}

static json_object *tunnel_json(const struct xs_cfg_tunnel *t)
{
	json_object *o = json_object_new_object(), *arr;
	char buf[64];
	size_t i;

	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "dev", json_object_new_string(t->dev));
	json_object_object_add(o, "if_id", json_object_new_int64(t->if_id));
	if (t->tenant.set)
		json_object_object_add(o, "tenant", tenant_json(&t->tenant));
	json_object_object_add(o, "local", json_object_new_string(
		format_addr(t->local.family, t->local.addr, buf, sizeof(buf))));
	json_object_object_add(o, "remote", json_object_new_string(
		format_addr(t->remote.family, t->remote.addr, buf, sizeof(buf))));
	json_object_object_add(o, "spi_in", spi_str(t->spi_in));
	json_object_object_add(o, "spi_out", spi_str(t->spi_out));
	json_object_object_add(o, "reqid", json_object_new_int64(t->reqid));
	json_object_object_add(o, "mode", json_object_new_string(xs_mode_name(t->mode)));
	json_object_object_add(o, "replay_window", json_object_new_int64(t->replay_window));
	json_object_object_add(o, "esn", json_object_new_boolean(t->esn));
	if (t->cli)
		json_object_object_add(o, "owner", json_object_new_string("cli"));
	/* Only where it matters, so that files without it stay as they were. */
	if (t->allow_same_spi && t->spi_in == t->spi_out)
		json_object_object_add(o, "allow_same_spi", json_object_new_boolean(true));
	if (t->aead.name[0])
		json_object_object_add(o, "aead", alg_json(&t->aead, XS_ALG_AEAD));
	if (t->enc.name[0])
		json_object_object_add(o, "enc", alg_json(&t->enc, XS_ALG_ENC));
	if (t->auth.name[0])
		json_object_object_add(o, "auth", alg_json(&t->auth, XS_ALG_AUTH));
	if (t->encap.type) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "type", json_object_new_string("espinudp"));
		json_object_object_add(e, "sport", json_object_new_int64(t->encap.sport));
		json_object_object_add(e, "dport", json_object_new_int64(t->encap.dport));
		json_object_object_add(o, "encap", e);
	}
	arr = json_object_new_array();
	for (i = 0; i < t->nprefixes; i++)
		json_object_array_add(arr, json_object_new_string(
			format_prefix(&t->prefixes[i], buf, sizeof(buf))));
	json_object_object_add(o, "prefixes", arr);
	return o;
}

static json_object *route_json(const struct xs_cfg_route *r)
{
	json_object *o = json_object_new_object();
	char buf[64];

	json_object_object_add(o, "dev", json_object_new_string(r->dev));
	json_object_object_add(o, "prefix", json_object_new_string(
		format_prefix(&r->prefix, buf, sizeof(buf))));
	if (r->nnh) {
		json_object *arr = json_object_new_array();
		uint32_t i;
		int c;

		for (i = 0; i < r->nnh; i++) {
			json_object *n = json_object_new_object(), *d = json_object_new_array();

			json_object_object_add(n, "if_id", json_object_new_int64(r->nh[i].if_id));
			json_object_object_add(n, "weight", json_object_new_int64(r->nh[i].weight));
			for (c = 0; c < 64; c++)
				if (r->nh[i].dscp & (1ull << c))
					json_object_array_add(d, json_object_new_int(c));
			json_object_object_add(n, "dscp", d);
			json_object_object_add(n, "backup", json_object_new_boolean(r->nh[i].backup));
			json_object_array_add(arr, n);
		}
		json_object_object_add(o, "nexthops", arr);
	} else {
		json_object_object_add(o, "if_id", json_object_new_int64(r->if_id));
	}
	if (r->tenant.set)
		json_object_object_add(o, "tenant", tenant_json(&r->tenant));
	if (r->cli)
		json_object_object_add(o, "owner", json_object_new_string("cli"));
	return o;
}

json_object *xs_config_to_json(const struct xs_config_file *cfg)
{
	json_object *root = json_object_new_object(), *arr;
	size_t i;

	arr = json_object_new_array();
	for (i = 0; i < cfg->nlinks; i++)
		json_object_array_add(arr, link_json(&cfg->links[i]));
	json_object_object_add(root, "links", arr);
	arr = json_object_new_array();
	for (i = 0; i < cfg->ntunnels; i++)
		json_object_array_add(arr, tunnel_json(&cfg->tunnels[i]));
	json_object_object_add(root, "tunnels", arr);
	arr = json_object_new_array();
	for (i = 0; i < cfg->nroutes; i++)
		json_object_array_add(arr, route_json(&cfg->routes[i]));
	json_object_object_add(root, "routes", arr);
	return root;
}
