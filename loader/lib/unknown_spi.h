/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unknown SPI to IKE: the underlay program reports ESP whose SPI has no SA
 * here (XS_EV_UNKNOWN_SPI): typically a peer still sending on SAs this
 * side lost in a restart. A watcher reads those events from one underlay
 * device and runs a hook command for the peer (an IKE daemon's initiate),
 * at most once per peer per interval, without waiting for it.
 *
 * The hook runs in a session of its own, as "/bin/sh -c CMD", or directly
 * (execvp of its words) when CMD is plain words without anything a shell
 * would interpret: one process less, which counts on a slow machine. With
 * XS_PEER (the ESP sender), XS_DST (the local outer address), XS_SPI
 * (0x%08x), XS_FAMILY (inet or inet6) and XS_DEV (the underlay) in its
 * environment. A peer that the kernel still has an SA to (from the
 * event's local address) has not lost its SAs here: its unknown SPI is a
 * stale or forged one, and the hook is not run (initiating would only
 * replace working SAs). Exit status 75 (EX_TEMPFAIL) means "not now": the next
 * event of that peer runs it again. No printing here: what happens goes to the caller's report
 * callback.
 */
#ifndef XS_UNKNOWN_SPI_H
#define XS_UNKNOWN_SPI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <net/if.h>

#include "common.h"
#include "events.h"

#define XS_USPI_DEFAULT_INTERVAL_MS 10000
#define XS_USPI_PEERS 1024 /* peers the rate limit remembers */
#define XS_USPI_MAX_HOOKS 64 /* hooks running at once; more are skipped */
#define XS_USPI_MAX_WORDS 32 /* words of a CMD run without a shell */

/* The rate limit: when each peer's hook last ran. */
struct xs_uspi_peer {
	long long last_ms;
	uint16_t family;
	uint8_t addr[16];
	bool used;
};

struct xs_uspi_limit {
	struct xs_uspi_peer peers[XS_USPI_PEERS];
	long long interval_ms;
};

/* Whether the hook may run for (family, addr) at now_ms, and if so notes
 * that it ran. Pure: the clock is the caller's. A peer's first event is
 * always allowed; then one per interval_ms. With every slot taken by a
 * peer still inside its interval, the one whose interval ends first is
 * forgotten (so the limit holds for XS_USPI_PEERS peers at once). */
bool xs_uspi_allow(struct xs_uspi_limit *l, int family, const void *addr, long long now_ms);
/* Whether xs_uspi_allow() would allow it, changing nothing. */
bool xs_uspi_would_allow(const struct xs_uspi_limit *l, int family, const void *addr,
			 long long now_ms);
/* Forget a peer: its next event is allowed. A hook that exits with
 * XS_USPI_RETRY (75, EX_TEMPFAIL: the IKE daemon is not ready) is run
 * again at the peer's next event instead of after its interval. */
void xs_uspi_forget(struct xs_uspi_limit *l, int family, const void *addr);
#define XS_USPI_RETRY 75

enum xs_uspi_what {
	XS_USPI_RAN, /* hook started (pid) */
	XS_USPI_LIMITED, /* rate limited, not run */
	XS_USPI_HAS_SA, /* the kernel has an SA to the peer: not run */
	XS_USPI_BUSY, /* XS_USPI_MAX_HOOKS hooks still running: not run */
	XS_USPI_FAILED, /* could not start (err) */
	XS_USPI_EXITED, /* a hook ended (status as from waitpid); peer, family
			 * set; exit XS_USPI_RETRY forgot the peer */
};

struct xs_uspi_report {
	enum xs_uspi_what what;
	int family;
	char peer[46], dst[46];
	uint32_t spi; /* host order */
	pid_t pid;
	int status; /* XS_USPI_EXITED */
	int err; /* XS_USPI_FAILED: -errno */
};

struct ring_buffer;
struct xs_nl;

struct xs_uspi_watch {
	struct xs_ctx *ctx;
	struct xs_nl *nl; /* xfrm netlink, to look for SAs to the peer */
	const char *cmd;
	char *argv[XS_USPI_MAX_WORDS + 1]; /* CMD's words, when plain; else NULL */
	char words[1024];
	char dev[IF_NAMESIZE];
	char path[512]; /* the underlay's pinned ul_ev_readers */
	int map_fd;
	uint32_t map_id;
	struct xs_event_reader reader;
	struct ring_buffer *rb;
	uint64_t start_ns; /* events older than the watcher are history */
	struct xs_uspi_limit limit;
	struct xs_uspi_hook {
		pid_t pid; /* 0: free */
		int family;
		uint8_t peer[16];
	} hooks[XS_USPI_MAX_HOOKS];
	void (*report)(void *arg, const struct xs_uspi_report *r);
	void *arg;
};

/* Read the unknown-SPI events of the underlay program attached to dev and
 * run cmd for them. Fails with a message when dev has no underlay program
 * or all its reader slots are taken. */
int xs_uspi_open(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_uspi_watch *w, const char *dev,
		 const char *cmd, long long interval_ms);
/* A descriptor that is readable when events wait: for poll(). */
int xs_uspi_fd(const struct xs_uspi_watch *w);
/* Handle the events that wait and collect hooks that ended. Never blocks. */
int xs_uspi_poll(struct xs_uspi_watch *w);
/* The underlay program replaced or detached and attached again: read the
 * new one's events. Returns -ENOENT while dev has none (events stop). */
int xs_uspi_refresh(struct xs_uspi_watch *w);
void xs_uspi_close(struct xs_uspi_watch *w);

#endif /* XS_UNKNOWN_SPI_H */
