/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The underlay: the XDP program on the device ESP arrives on, its per-SPI
 * counters and its copy of the SA list. The library side of the
 * "underlay" verbs (loader/underlay.c), which parse and print.
 */
#ifndef XS_UNDERLAY_H
#define XS_UNDERLAY_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "xfrm_steer.h"

struct xs_ul_attach_args {
	const char *dev;
	uint32_t flags; /* XS_UL_CFG_* */
	uint32_t interval_ms;
};

/* What an attach did. */
struct xs_ul_attached {
	bool fresh; /* attached anew; else the program was replaced */
	bool kfunc; /* the program asks the kernel for SAs; else the list */
	size_t nsas; /* SAs in the copied list */
	char dir[XS_DIR_MAX];
};

/* Attach (or upgrade, keeping the counters) the program on a->dev, with the
 * SA list copied first. A failed upgrade leaves the running one alone. */
int xs_ul_attach(struct xs_ctx *ctx, const struct xs_ul_attach_args *a, struct xs_ul_attached *out);
int xs_ul_detach(struct xs_ctx *ctx, const char *dev);
/* Copy the namespace's SA list to dev, or to every device with the
 * program when dev is NULL. */
int xs_ul_sync(struct xs_ctx *ctx, const char *dev);

/* Per destination and SPI: what the program counted. */
struct xs_ul_spi_row {
	char dev[IF_NAMESIZE];
	struct ul_spi_key key;
	bool known; /* an SA had the SPI */
	struct ul_spi_stats st;
};

/* Every row of dev (NULL: every device), sorted by device, address, SPI. */
int xs_ul_spis_read(struct xs_ctx *ctx, const char *dev, struct xs_ul_spi_row **v, size_t *n);

/* Per device: its settings and its counters by reason. */
struct xs_ul_dev_stats {
	char dev[IF_NAMESIZE];
	const char *xdp_mode; /* "native", "generic", ... */
	uint32_t flags; /* XS_UL_CFG_* */
	uint32_t lookup; /* XS_UL_LOOKUP_* */
	uint32_t known_spis;
	uint32_t event_interval_ms;
	uint64_t reasons[XS_UL_REASON_MAX];
};

int xs_ul_stats_read(struct xs_ctx *ctx, const char *dev, struct xs_ul_dev_stats **v, size_t *n);
/* The name of a reason in text and JSON: "unknown_spi", ... */
const char *xs_ul_reason_name(unsigned int reason);

#endif /* XS_UNDERLAY_H */
