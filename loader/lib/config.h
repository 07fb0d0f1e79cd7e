/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The declarative configuration of `xfrm-steer apply` and `xfrm-steer show
 * -j`: JSON to structs and back. Pure: no kernel, no files (a key given as
 * "@/path" stays a reference here, read only when the tunnel is set up),
 * nothing printed, so that a fuzz target can run the parser on any input.
 *
 *   {
 *     "links":   [ { "name": "ipsec0", "tenant_key": "mark", "mark_mask": "0xff00",
 *                    "rpf": "strict", "mark_ingress": false,
 *                    "max_routes": 65536, "max_tunnels": 65536 } ],
 *     "tunnels": [ { "name": "branch1", "dev": "ipsec0", "if_id": 101,
 *                    "tenant": "0x100", "local": "10.0.1.1", "remote": "10.0.1.2",
 *                    "spi_in": "0x2001", "spi_out": "0x1001", "reqid": 1,
 *                    "mode": "tunnel", "replay_window": 0, "esn": false,
 *                    "aead": { "name": "rfc4106(gcm(aes))", "icv_bits": 128,
 *                              "key": "@/etc/xfrm-steer/branch1.key" },
 *                    "encap": { "type": "espinudp", "sport": 4500, "dport": 4500 },
 *                    "prefixes": [ "192.168.1.0/24", "2001:db8:1::/64" ] } ],
 *     "routes":  [ { "dev": "ipsec0", "prefix": "10.9.0.0/16", "if_id": 55,
 *                    "tenant": "0x100" },
 *                  { "dev": "ipsec0", "prefix": "10.8.0.0/16",
 *                    "nexthops": [ { "if_id": 55, "weight": 3, "dscp": [ 46 ],
 *                                    "backup": false },
 *                                  { "if_id": 56 } ] } ]
 *   }
 */
#ifndef XS_CONFIG_H
#define XS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

/* Links (interfaces to create and attach) one file may list: each takes up
 * to three steps that a failed run undoes. */
#define XS_CFG_MAX_LINKS 5

#include "common.h"
#include "xfrm.h"

#define XS_IFNAME_LEN 16 /* IFNAMSIZ */

/* A tenant as the file gives it: a number (a mark value, an ifindex, 0), or
 * for tenant-key iif an interface name. What it means depends on how the
 * device is attached, so it is resolved when the file is applied. */
struct xs_cfg_tenant {
	bool set;
	bool is_name;
	uint32_t num;
	char name[XS_IFNAME_LEN];
};

struct xs_cfg_link {
	char name[XS_IFNAME_LEN];
	/* Each setting only when given: what the file leaves out, apply
	 * leaves as attached (and a fresh attach takes the default). */
	bool have_tenant_key, have_rpf, have_mark_ingress;
	bool have_max_routes, have_max_tunnels;
	uint32_t tenant_mode; /* enum xs_tenant_mode */
	uint32_t mark_mask;
	bool rpf, mark_ingress;
	uint32_t max_routes, max_tunnels;
};

/* One algorithm of a tunnel. Keys are "0x<hex>" or "@<path>" as written
 * (heap strings, wiped when freed), NULL when the file has none: then an
 * existing tunnel keeps the key its SAs have. key serves both SAs unless
 * key_out is given for the outbound one. */
struct xs_cfg_alg {
	char name[XS_ALG_NAME_LEN]; /* kernel name, aliases resolved; "" absent */
	uint32_t bits; /* aead: ICV bits; auth: truncation (0: the RFC's) */
	char *key;
	char *key_out;
};

struct xs_cfg_tunnel {
	char name[XS_TUNNEL_NAME_LEN];
	char dev[XS_IFNAME_LEN];
	uint32_t if_id;
	struct xs_cfg_tenant tenant;
	struct xs_prefix local, remote; /* addresses (plen full) */
	uint32_t spi_in, spi_out, reqid;
	uint8_t mode; /* XFRM_MODE_TUNNEL or XFRM_MODE_TRANSPORT */
	bool esn;
	/* spi_in == spi_out with one key for both SAs, asked for by name
	 * ("allow_same_spi", flag same-spi): see xs_cfg_tunnel_check(). */
	bool allow_same_spi;
	uint32_t replay_window;
	struct xs_cfg_alg aead, enc, auth;
	struct xs_encap encap;
	size_t nprefixes;
	struct xs_prefix *prefixes;
	/* "owner": "cli": the command line's (tunnel add), as show writes
	 * it: apply makes it if it is missing but does not take it over. */
	bool cli;
};

/* Members of a route group (route add ... nexthop): the limits of
 * include/xfrm_steer.h (XS_GROUP_MAX members, weights 1..65535). */
#define XS_CFG_GROUP_MAX 8
struct xs_cfg_nexthop {
	uint32_t if_id;
	uint32_t weight; /* 1..65535; 1 when the file leaves it out */
	uint64_t dscp; /* bit c: DSCP class c only; 0: any class */
	bool backup;
};

struct xs_cfg_route {
	char dev[XS_IFNAME_LEN];
	struct xs_prefix prefix;
	uint32_t if_id; /* 0 for a group: nnh members in nh */
	uint32_t nnh;
	struct xs_cfg_nexthop nh[XS_CFG_GROUP_MAX];
	struct xs_cfg_tenant tenant;
	bool cli; /* "owner": "cli": route add's (see xs_cfg_tunnel) */
};

struct xs_config_file {
	size_t nlinks, ntunnels, nroutes;
	struct xs_cfg_link *links;
	struct xs_cfg_tunnel *tunnels;
	struct xs_cfg_route *routes;
};

/*
 * Parse len bytes of JSON into out (which the caller frees with
 * xs_config_free() whatever the result). 0, or -EINVAL (-ENOMEM) with a
 * reason in why that names the entry and the field: 'tunnels[3] ("branch3"):
 * spi_in: ...'. Checks everything that needs no kernel: names, addresses,
 * SPIs, algorithms and the lengths of inline keys, duplicates across
 * entries. Never puts key material into why.
 */
int xs_config_parse(const char *json, size_t len, struct xs_config_file *out,
		    char *why, size_t why_len);
void xs_config_free(struct xs_config_file *cfg);

/* The file's form of cfg, keys included where cfg has them. */
json_object *xs_config_to_json(const struct xs_config_file *cfg);

/* 'tunnels[3] ("branch3")' and the like, for messages about an entry. */
const char *xs_cfg_tunnel_label(const struct xs_config_file *cfg, size_t i,
				char *buf, size_t len);

/* Shared with the tunnel command, which takes the same values on its
 * command line: 0 or -EINVAL. */
int xs_cfg_tunnel_name_ok(const char *name);
int xs_cfg_parse_tenant(const char *s, struct xs_cfg_tenant *t);
/* Checks one tunnel on its own (what the parser checks per entry); why
 * gets the field and the reason. */
int xs_cfg_tunnel_check(const struct xs_cfg_tunnel *t, char *why, size_t len);

#endif /* XS_CONFIG_H */
