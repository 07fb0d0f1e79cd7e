/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The argument parsers of the objects, apart from the commands that use
 * them, so that the unit tests and the fuzz targets (tests/fuzz/) can run
 * them on any argv. They read argv only: no kernel, no files. Each returns
 * 0, or a negative errno after reporting the bad word with p_err(); the
 * strings they return point into argv.
 */
#ifndef XS_PARSE_H
#define XS_PARSE_H

#include "common.h"
#include "device.h"

/* route add|del PREFIX [ if_id ID ] [ tenant KEY ] dev NAME */
struct route_args {
	struct xs_prefix prefix;
	const char *prefix_str;
	const char *tenant_str; /* resolved later against the device's mode */
	const char *dev;
	uint32_t if_id;
	bool have_if_id;
	/* nexthop if_id A [ weight W ] [ dscp LIST ] [ backup ] ...: a group */
	uint32_t n_nh;
	struct xs_nexthop nh[XS_GROUP_MAX];
};
int parse_route_args(struct xs_ctx *ctx, int argc, char **argv, bool add,
		     struct route_args *a);

/* dscp LIST: comma-separated classes 0..63 or names (be, ef, csN, afXY)
 * into a bit mask. */
int parse_dscp_list(const char *s, uint64_t *mask);

/* route nexthop { down | up | auto } if_id ID dev NAME */
struct nexthop_args {
	const char *dev;
	uint32_t if_id;
	uint32_t set, clear; /* XS_HEALTH_* */
};
int parse_nexthop_args(struct xs_ctx *ctx, int argc, char **argv, struct nexthop_args *a);

/* route show [ dev NAME ]: *dev is NULL for every attached device. */
int parse_route_show_args(struct xs_ctx *ctx, int argc, char **argv, const char **dev);

int parse_attach_args(struct xs_ctx *ctx, int argc, char **argv, struct attach_args *a);

/* stats [ show ] [ dev NAME ] [ if_id ID ], stats drops [ dev NAME ] */
struct stats_filter {
	json_object *arr; /* the rows, filled by the command */
	uint32_t if_id;
	bool have_if_id;
};
int parse_stats_filter(struct xs_ctx *ctx, int argc, char **argv, bool allow_if_id,
		       const char **dev, struct stats_filter *f);

/* stats [ show ] [ dev NAME ] [ if_id ID ] [ prometheus ]
 *       [ watch SECONDS [ count N ] ] [ -j ]
 * ("--prometheus", "--watch SECONDS" and "--json" are accepted too) */
struct stats_args {
	const char *dev;
	struct stats_filter f;
	bool prometheus;
	bool json; /* -j after the object's words */
	uint32_t watch_ms; /* 0: one dump */
	uint32_t count; /* watch frames; 0: until SIGINT or SIGTERM */
};
int parse_stats_args(struct xs_ctx *ctx, int argc, char **argv, struct stats_args *a);

/* secpath [ show ] [ dev NAME ] [ if_id ID ] */
int parse_secpath_args(struct xs_ctx *ctx, int argc, char **argv, const char **dev,
		       struct stats_filter *f);

/* exporter [ listen ADDR:PORT ] ("--listen" too); ADDR is numeric, an IPv6
 * one in brackets: "127.0.0.1:9469", "[::1]:9469". */
struct exporter_args {
	const char *listen; /* as given, for messages */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};
int parse_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
int parse_exporter_args(struct xs_ctx *ctx, int argc, char **argv, struct exporter_args *a);

#endif /* XS_PARSE_H */
