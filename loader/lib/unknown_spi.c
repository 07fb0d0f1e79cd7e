// SPDX-License-Identifier: GPL-2.0
/* Unknown SPI to IKE: underlay events in, rate-limited hook runs out. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "state.h"
#include "unknown_spi.h"
#include "xfrm.h"
#include "xdp_underlay.skel.h"

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

bool xs_uspi_allow(struct xs_uspi_limit *l, int family, const void *addr, long long now_ms)
{
	struct xs_uspi_peer *p, *free_slot = NULL, *oldest = NULL;
	size_t i, n = addr_len(family);

	for (i = 0; i < XS_USPI_PEERS; i++) {
		p = &l->peers[i];
		if (!p->used) {
			if (!free_slot)
				free_slot = p;
			continue;
		}
		if (p->family == family && !memcmp(p->addr, addr, n)) {
			/* A clock that went back is no reason to stay silent
			 * for longer than one interval. */
			if (now_ms >= p->last_ms && now_ms - p->last_ms < l->interval_ms)
				return false;
			p->last_ms = now_ms;
			return true;
		}
		/* A peer whose interval is over would be allowed anyway:
		 * forgetting it changes nothing. */
		if (!free_slot && (now_ms < p->last_ms || now_ms - p->last_ms >= l->interval_ms))
			free_slot = p;
		if (!oldest || p->last_ms < oldest->last_ms)
			oldest = p;
	}
	p = free_slot ? free_slot : oldest;
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->family = (uint16_t)family;
	memcpy(p->addr, addr, n);
	p->last_ms = now_ms;
	return true;
}

bool xs_uspi_would_allow(const struct xs_uspi_limit *l, int family, const void *addr,
			 long long now_ms)
{
	const struct xs_uspi_peer *p;
	size_t i;

	for (i = 0; i < XS_USPI_PEERS; i++) {
		p = &l->peers[i];
		if (p->used && p->family == family && !memcmp(p->addr, addr, addr_len(family)))
			return now_ms < p->last_ms || now_ms - p->last_ms >= l->interval_ms;
	}
	return true;
}

void xs_uspi_forget(struct xs_uspi_limit *l, int family, const void *addr)
{
	size_t i;

	for (i = 0; i < XS_USPI_PEERS; i++)
		if (l->peers[i].used && l->peers[i].family == family &&
		    !memcmp(l->peers[i].addr, addr, addr_len(family)))
			l->peers[i].used = false;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(struct xs_uspi_watch *w, struct xs_uspi_report *r)
{
	if (w->report)
		w->report(w->arg, r);
}

static int free_hook_slot(const struct xs_uspi_watch *w)
{
	int i;

	for (i = 0; i < XS_USPI_MAX_HOOKS; i++)
		if (!w->hooks[i].pid)
			return i;
	return -1;
}

/* fork + exec "/bin/sh -c CMD" with the event in the environment; the
 * daemon does not wait for it (xs_uspi_poll collects it). */
static pid_t run_hook(struct xs_uspi_watch *w, const struct xs_uspi_report *r)
{
	char spi[16];
	sigset_t all;
	pid_t pid;

	snprintf(spi, sizeof(spi), "0x%08x", r->spi);
	pid = fork();
	if (pid)
		return pid < 0 ? -errno : pid;
	/* The child: what the daemon blocked or ignored is not the hook's
	 * business; its own session, so a terminal's ^C on the daemon does
	 * not cut an initiate short. */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	setenv("XS_PEER", r->peer, 1);
	setenv("XS_DST", r->dst, 1);
	setenv("XS_SPI", spi, 1);
	setenv("XS_FAMILY", r->family == AF_INET6 ? "inet6" : "inet", 1);
	setenv("XS_DEV", w->dev, 1);
	if (w->argv[0])
		execvp(w->argv[0], w->argv);
	else
		execl("/bin/sh", "sh", "-c", w->cmd, (char *)NULL);
	_exit(127);
}

struct sa_query {
	int family;
	const void *src, *dst;
	bool found;
};

static int match_sa(const struct xs_sa *sa, void *data)
{
	struct sa_query *q = data;
	size_t n = addr_len(q->family);

	if (sa->src.family == q->family && !memcmp(sa->src.addr, q->src, n) &&
	    !memcmp(sa->dst.addr, q->dst, n))
		q->found = true;
	return 0;
}

/* Whether the kernel has an SA from the event's local address to its
 * peer. A failed dump counts as none: then the hook runs, as it would
 * without the check. */
static bool peer_has_sa(struct xs_uspi_watch *w, const struct xs_event *ev)
{
	struct sa_query q = { .family = ev->family, .src = ev->dst, .dst = ev->peer };

	if (!w->nl || xs_sa_dump(w->ctx, w->nl, match_sa, &q))
		return false;
	return q.found;
}

static int on_event(void *data, void *raw, size_t size)
{
	struct xs_uspi_watch *w = data;
	const struct xs_event *ev = raw;
	struct xs_uspi_report r = { 0 };
	long long now;
	int slot;

	if (size < sizeof(*ev) || ev->type != XS_EV_UNKNOWN_SPI || ev->ts_ns < w->start_ns)
		return 0;
	if (ev->family != AF_INET && ev->family != AF_INET6)
		return 0;
	r.family = ev->family;
	r.spi = ntohl(ev->spi);
	inet_ntop(ev->family, ev->peer, r.peer, sizeof(r.peer));
	inet_ntop(ev->family, ev->dst, r.dst, sizeof(r.dst));
	now = mono_ms();
	if (!xs_uspi_would_allow(&w->limit, ev->family, ev->peer, now)) {
		r.what = XS_USPI_LIMITED;
		report(w, &r);
		return 0;
	}
	/* Asked before the run is counted: the peer's next unknown SPI,
	 * once its SAs are gone, must not wait for the interval. */
	if (peer_has_sa(w, ev)) {
		r.what = XS_USPI_HAS_SA;
		report(w, &r);
		return 0;
	}
	xs_uspi_allow(&w->limit, ev->family, ev->peer, now);
	slot = free_hook_slot(w);
	if (slot < 0) {
		r.what = XS_USPI_BUSY;
		report(w, &r);
		return 0;
	}
	r.pid = run_hook(w, &r);
	if (r.pid < 0) {
		r.what = XS_USPI_FAILED;
		r.err = r.pid;
		r.pid = 0;
	} else {
		r.what = XS_USPI_RAN;
		w->hooks[slot].pid = r.pid;
		w->hooks[slot].family = ev->family;
		memcpy(w->hooks[slot].peer, ev->peer, addr_len(ev->family));
	}
	report(w, &r);
	return 0;
}

static void reap(struct xs_uspi_watch *w)
{
	int i, status;

	for (i = 0; i < XS_USPI_MAX_HOOKS; i++) {
		struct xs_uspi_hook *h = &w->hooks[i];
		struct xs_uspi_report r = { .what = XS_USPI_EXITED };

		if (!h->pid || waitpid(h->pid, &status, WNOHANG) != h->pid)
			continue;
		r.pid = h->pid;
		r.status = status;
		r.family = h->family;
		inet_ntop(h->family, h->peer, r.peer, sizeof(r.peer));
		if (WIFEXITED(status) && WEXITSTATUS(status) == XS_USPI_RETRY)
			xs_uspi_forget(&w->limit, h->family, h->peer);
		h->pid = 0;
		report(w, &r);
	}
}

static void drop_reader(struct xs_uspi_watch *w)
{
	if (w->rb) {
		ring_buffer__free(w->rb);
		w->rb = NULL;
	}
	if (w->map_fd >= 0) {
		xs_event_reader_close(&w->reader, w->map_fd);
		close(w->map_fd);
	}
	w->map_fd = -1;
	w->map_id = 0;
}

static int open_reader(struct xs_uspi_watch *w, int fd)
{
	int err;

	err = xs_event_reader_open(fd, &w->reader);
	if (err) {
		close(fd);
		return err == -EBUSY ?
			p_err(w->ctx, err,
			      "unknown SPIs of \"%s\": all %d reader slots of its underlay program are held by running monitors; stop one of them",
			      w->dev, XS_EVENT_READERS) :
			p_err(w->ctx, err, "unknown SPIs of \"%s\": cannot add a reader: %s", w->dev,
			      strerror(-err));
	}
	w->map_fd = fd;
	w->map_id = xs_map_id(fd);
	w->rb = ring_buffer__new(w->reader.ring_fd, on_event, w, NULL);
	if (!w->rb) {
		err = -errno;
		drop_reader(w);
		return p_err(w->ctx, err, "cannot read the events of \"%s\": %s", w->dev,
			     strerror(-err));
	}
	return 0;
}

/* CMD's words for execvp when a shell would read it as just that: no
 * quoting, expansion, redirection or list; else argv[0] stays NULL. */
static void split_plain(struct xs_uspi_watch *w)
{
	size_t n = 0;
	char *p, *save = NULL;

	w->argv[0] = NULL;
	if (strpbrk(w->cmd, "|&;<>()$`\\\"'*?[]#~=%{}!\n") ||
	    strlen(w->cmd) >= sizeof(w->words))
		return;
	snprintf(w->words, sizeof(w->words), "%s", w->cmd);
	for (p = strtok_r(w->words, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (n == XS_USPI_MAX_WORDS) {
			w->argv[0] = NULL;
			return;
		}
		w->argv[n++] = p;
	}
	w->argv[n] = NULL;
}

int xs_uspi_open(struct xs_ctx *ctx, struct xs_nl *nl, struct xs_uspi_watch *w, const char *dev,
		 const char *cmd, long long interval_ms)
{
	char ns_dir[XS_DIR_MAX];
	struct xdp_underlay *ul;
	struct timespec ts;
	int err, fd;

	memset(w, 0, sizeof(*w));
	w->ctx = ctx;
	w->nl = nl;
	w->cmd = cmd;
	w->map_fd = -1;
	w->reader.ring_fd = w->reader.sock_fd = -1;
	w->limit.interval_ms = interval_ms;
	split_plain(w);
	if (!*dev || strchr(dev, '/') || strlen(dev) >= IF_NAMESIZE)
		return p_err(ctx, -EINVAL, "invalid device name \"%s\"", dev);
	snprintf(w->dev, sizeof(w->dev), "%s", dev);
	err = xs_netns_dir(ctx, ns_dir, sizeof(ns_dir));
	if (err)
		return err;
	/* The pin's name from the object, not from a string kept here. */
	ul = xdp_underlay__open();
	if (!ul)
		return p_err(ctx, -errno, "cannot open the underlay BPF object: %s",
			     strerror(errno));
	snprintf(w->path, sizeof(w->path), "%s/%s/%s", ns_dir, dev,
		 bpf_map__name(ul->maps.ul_ev_readers));
	xdp_underlay__destroy(ul);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	w->start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	fd = bpf_obj_get(w->path);
	if (fd < 0)
		return p_err(ctx, -ENOENT,
			     "on-unknown-spi: \"%s\" has no underlay program; run \"xfrm-steer underlay attach dev %s\" first",
			     dev, dev);
	return open_reader(w, fd);
}

int xs_uspi_fd(const struct xs_uspi_watch *w)
{
	return w->rb ? ring_buffer__epoll_fd(w->rb) : -1;
}

int xs_uspi_poll(struct xs_uspi_watch *w)
{
	int err = 0;

	if (w->rb) {
		err = ring_buffer__consume(w->rb);
		if (err == -EINTR)
			err = 0;
	}
	reap(w);
	if (err < 0)
		return p_err(w->ctx, err, "reading the events of \"%s\": %s", w->dev,
			     strerror(-err));
	return 0;
}

int xs_uspi_refresh(struct xs_uspi_watch *w)
{
	int fd = bpf_obj_get(w->path);

	if (fd < 0) {
		drop_reader(w);
		return -ENOENT;
	}
	if (w->map_fd >= 0 && xs_map_id(fd) == w->map_id &&
	    xs_event_reader_live(&w->reader, w->map_fd)) {
		close(fd);
		return 0;
	}
	if (w->rb)
		ring_buffer__consume(w->rb);
	drop_reader(w);
	return open_reader(w, fd);
}

void xs_uspi_close(struct xs_uspi_watch *w)
{
	drop_reader(w);
	/* Hooks still running go on by themselves (their own session);
	 * nobody collects them but init. */
}
