// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer monitor: the datapath's events as they happen. Every attached
 * program (the tc programs for tenant violations, the underlay program for
 * unknown SPIs) has an array of reader slots in its pin directory; the
 * monitor puts a ring buffer of its own in one slot of each (events.c), so
 * that every monitor sees every event, and reads them all through one
 * libbpf ring_buffer. It watches the pin directories (inotify, with a
 * rescan every second as a safety net) to pick up devices attached later
 * and to report attach, detach and upgrade (a new program behind the same
 * pinned link).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "iifbind.h"
#include "state.h"
#include "xdp_underlay.skel.h"
#include "xfrm_steer.skel.h"

#define RESCAN_MS 1000

enum src_kind { SRC_TC, SRC_XDP, SRC_KINDS };

static const char *const kind_names[SRC_KINDS] = { "tc", "xdp" };

/* One program's events: a device and kind, while its link is pinned. */
struct source {
	struct source *next;
	struct monitor *mon;
	char dev[IF_NAMESIZE];
	enum src_kind kind;
	int map_fd; /* the pinned reader slots; -1 while not pinned (yet) */
	__u32 map_id;
	struct xs_event_reader reader; /* our slot in map_fd */
	__u32 prog_id; /* behind the pinned link; a change is an upgrade */
	bool present; /* set by the current scan */
	char dir[PATH_MAX]; /* its pins, and how it keys tenants, to name them */
	uint32_t tenant_mode;
};

struct monitor {
	struct xs_ctx *ctx;
	const char *dev; /* only this device, or all */
	uint64_t limit; /* exit after this many events; 0: never */
	uint64_t printed;
	bool done;
	int err; /* a scan's fatal error */
	__u64 start_ns; /* CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() */
	char root[XS_DIR_MAX]; /* XS_PIN_ROOT as reached from here */
	char ns_dir[XS_DIR_MAX];
	/* Pin names of the link and the ring buffer of each kind. */
	const char *link_pin[SRC_KINDS];
	char ring_pin[SRC_KINDS][64]; /* map names may be longer than the kernel keeps */
	struct source *sources;
	struct ring_buffer *rb;
	int rb_epfd; /* the rb's own epoll fd, as added to epfd */
	int epfd, ino_fd, sig_fd;
};

static int monitor_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer [ -j ] monitor [ dev NAME ] [ count N ]\n"
		"Prints the datapath's events as they happen, one line (with -j one\n"
		"JSON object) each: unknown_spi (underlay programs), tenant_violation\n"
		"(tc ingress), attach, detach and upgrade of programs. Runs until\n"
		"interrupted, or until N events were printed. Events are rate limited\n"
		"at the source, one per peer per interval; \"suppressed\" counts those\n"
		"held back since the previous one. Every monitor sees every event, up\n"
		"to %d monitors at once per program.\n",
		XS_EVENT_READERS);
	return 0;
}

static __u64 now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* An event's CLOCK_MONOTONIC stamp as wall-clock time, RFC 3339 in UTC. */
static const char *format_time(__u64 mono_ns, char *buf, size_t len)
{
	__u64 mono = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);
	__u64 t = mono_ns && mono_ns <= mono ? real - (mono - mono_ns) : real;
	time_t sec = (time_t)(t / 1000000000ull);
	struct tm tm;
	char s[32];

	gmtime_r(&sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06lluZ", s, (unsigned long long)(t % 1000000000ull / 1000));
	return buf;
}

/* Fields are added to both a JSON object and a text line, in order, so
 * that the two forms never disagree. */
struct line {
	json_object *o;
	char text[512];
	size_t len;
};

static void put_str(struct line *l, const char *key, const char *val)
{
	if (l->o) {
		json_object_object_add(l->o, key, json_object_new_string(val));
		return;
	}
	if (l->len < sizeof(l->text))
		l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%s %s",
					   l->len ? " " : "", key, val);
}

static void put_u64(struct line *l, const char *key, uint64_t val, bool hex)
{
	char buf[24];

	if (l->o) {
		json_object_object_add(l->o, key, json_object_new_uint64(val));
		return;
	}
	snprintf(buf, sizeof(buf), hex ? "0x%llx" : "%llu", (unsigned long long)val);
	put_str(l, key, buf);
}

static void put_addr(struct line *l, const char *key, int family, const __be32 *addr)
{
	char a[INET6_ADDRSTRLEN];

	put_str(l, key, format_addr(family, addr, a, sizeof(a)));
}

static void put_spi(struct line *l, __be32 spi)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%08x", ntohl(spi));
	put_str(l, "spi", buf);
}

/* How the device of dir keys tenants (its pinned meta), 0 if unknown. */
static uint32_t pinned_tenant_mode(const char *dir)
{
	struct meta_value m;
	char path[PATH_MAX + 16];
	uint32_t zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, &m))
		m.tenant_mode = 0;
	close(fd);
	return m.tenant_mode;
}

/* Time and type lead every line; the rest follows as key value pairs. */
static void line_start(struct monitor *mon, struct line *l, __u64 ts, const char *type,
		       const char *dev)
{
	char t[48];

	memset(l, 0, sizeof(*l));
	format_time(ts, t, sizeof(t));
	if (mon->ctx->json) {
		l->o = json_object_new_object();
		put_str(l, "time", t);
		put_str(l, "type", type);
	} else {
		l->len = (size_t)snprintf(l->text, sizeof(l->text), "%s %s", t, type);
	}
	put_str(l, "dev", dev);
}

static void line_end(struct monitor *mon, struct line *l)
{
	if (l->o) {
		print_json(mon->ctx, l->o);
		json_object_put(l->o);
	} else {
		printf("%s\n", l->text);
	}
	/* One line as it happens, also into a pipe or a file. */
	fflush(stdout);
	mon->printed++;
	if (mon->limit && mon->printed >= mon->limit)
		mon->done = true;
}

static int on_event(void *data, void *raw, size_t size)
{
	struct source *src = data;
	struct monitor *mon = src->mon;
	const struct xs_event *ev = raw;
	char tenant[XS_IFNAME_LEN + 16];
	struct line l;

	if (mon->done)
		return -ECANCELED;
	if (size < sizeof(*ev))
		return 0;
	/* A ring buffer keeps what nobody read: events from before this
	 * monitor started are history, not news. */
	if (ev->ts_ns < mon->start_ns)
		return 0;
	switch (ev->type) {
	case XS_EV_UNKNOWN_SPI:
		line_start(mon, &l, ev->ts_ns, "unknown_spi", src->dev);
		put_spi(&l, ev->spi);
		put_addr(&l, "peer", ev->family, ev->peer);
		put_addr(&l, "dst", ev->family, ev->dst);
		break;
	case XS_EV_TENANT_VIOLATION:
		line_start(mon, &l, ev->ts_ns, "tenant_violation", src->dev);
		put_u64(&l, "if_id", ev->if_id, false);
		put_spi(&l, ev->spi);
		put_addr(&l, "peer", ev->family, ev->peer);
		put_str(&l, "tenant",
			xs_tenant_str_at(src->dir, src->tenant_mode, ev->tenant, tenant,
					 sizeof(tenant)));
		put_addr(&l, "inner_src", ev->inner_family, ev->inner_src);
		put_u64(&l, "routed_if_id", ev->routed_if_id, false);
		break;
	default:
		line_start(mon, &l, ev->ts_ns, "unknown_event", src->dev);
		put_u64(&l, "code", ev->type, false);
		break;
	}
	put_u64(&l, "suppressed", ev->suppressed, false);
	line_end(mon, &l);
	return mon->done ? -ECANCELED : 0;
}

static void report_attach(struct monitor *mon, const struct source *src, const char *what)
{
	struct line l;

	if (mon->done)
		return;
	line_start(mon, &l, 0, what, src->dev);
	put_str(&l, "program", kind_names[src->kind]);
	if (src->prog_id)
		put_u64(&l, "prog_id", src->prog_id, false);
	line_end(mon, &l);
}

static void watch(struct monitor *mon, const char *path, uint32_t mask)
{
	/* Watching a watched path again changes nothing; a path that does
	 * not exist yet is found by the next scan. */
	inotify_add_watch(mon->ino_fd, path, mask | IN_ONLYDIR);
}

static struct source *find_source(struct monitor *mon, const char *dev, enum src_kind kind)
{
	struct source *s;

	for (s = mon->sources; s; s = s->next)
		if (s->kind == kind && !strcmp(s->dev, dev))
			return s;
	return NULL;
}

/* The program behind a pinned link, 0 if it cannot be read. */
static __u32 link_prog_id(const char *path)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_link_get_info_by_fd(fd, &info, &len))
		info.prog_id = 0;
	close(fd);
	return info.prog_id;
}

static void drop_reader(struct source *s)
{
	xs_event_reader_close(&s->reader, s->map_fd);
	if (s->map_fd >= 0)
		close(s->map_fd);
	s->map_fd = -1;
}

/* Look at one device directory: which programs are attached (their link
 * pinned) and which ring buffers they have. Returns whether the set of ring
 * buffers changed. */
static bool scan_dev(struct monitor *mon, const char *dev, bool initial)
{
	char dir[PATH_MAX], path[PATH_MAX + BPF_OBJ_NAME_LEN];
	bool changed = false;
	int k;

	snprintf(dir, sizeof(dir), "%s/%s", mon->ns_dir, dev);
	watch(mon, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
	{
		char why[128];

		/* A device that is gone is detached, whatever its pins say. */
		if (xs_pins_stale(dir, dev, true, why, sizeof(why)))
			return false;
	}
	for (k = 0; k < SRC_KINDS; k++) {
		struct source *s;
		__u32 prog;
		int fd, err;

		snprintf(path, sizeof(path), "%s/%s", dir, mon->link_pin[k]);
		if (access(path, F_OK))
			continue;
		prog = link_prog_id(path);
		s = find_source(mon, dev, (enum src_kind)k);
		if (!s) {
			s = calloc(1, sizeof(*s));
			if (!s)
				continue;
			s->mon = mon;
			snprintf(s->dev, sizeof(s->dev), "%s", dev);
			s->kind = (enum src_kind)k;
			s->map_fd = -1;
			s->reader.ring_fd = s->reader.sock_fd = -1;
			s->prog_id = prog;
			s->next = mon->sources;
			mon->sources = s;
			if (!initial)
				report_attach(mon, s, "attach");
		} else if (prog && prog != s->prog_id) {
			/* What the old program said comes first. */
			if (mon->rb)
				ring_buffer__consume(mon->rb);
			s->prog_id = prog;
			report_attach(mon, s, "upgrade");
		}
		s->present = true;
		snprintf(s->dir, sizeof(s->dir), "%s", dir);
		s->tenant_mode = pinned_tenant_mode(dir);
		snprintf(path, sizeof(path), "%s/%s", dir, mon->ring_pin[k]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		/* Detached and attached again between two scans: new maps. */
		if (s->map_fd >= 0 && xs_map_id(fd) == s->map_id) {
			close(fd);
			if (!xs_event_reader_live(&s->reader, s->map_fd) && !mon->err)
				mon->err = p_err(mon->ctx, -ESTALE,
						 "events of \"%s\" (%s): this monitor's reader slot was emptied by someone else; start the monitor again",
						 dev, kind_names[k]);
			continue;
		}
		drop_reader(s);
		changed = true;
		err = xs_event_reader_open(fd, &s->reader);
		if (err) {
			close(fd);
			if (!mon->err)
				mon->err = err == -EBUSY ?
					p_err(mon->ctx, err,
					      "events of \"%s\" (%s): all %d reader slots are held by running monitors; stop one of them",
					      dev, kind_names[k], XS_EVENT_READERS) :
					p_err(mon->ctx, err,
					      "events of \"%s\" (%s): cannot add a reader: %s", dev,
					      kind_names[k], strerror(-err));
			continue;
		}
		s->map_fd = fd;
		s->map_id = xs_map_id(fd);
	}
	return changed;
}

/* Drain what the old ring buffers hold, then read the current set through
 * a new one: libbpf cannot take a ring buffer out of a ring_buffer. */
static int rebuild_rb(struct monitor *mon)
{
	struct ring_buffer *rb = NULL;
	struct source *s;
	int err;

	if (mon->rb) {
		ring_buffer__consume(mon->rb);
		epoll_ctl(mon->epfd, EPOLL_CTL_DEL, mon->rb_epfd, NULL);
		ring_buffer__free(mon->rb);
		mon->rb = NULL;
	}
	for (s = mon->sources; s; s = s->next) {
		if (s->map_fd < 0)
			continue;
		if (!rb) {
			rb = ring_buffer__new(s->reader.ring_fd, on_event, s, NULL);
			if (!rb)
				return p_err(mon->ctx, -errno, "cannot read the events of \"%s\": %s",
					     s->dev, strerror(errno));
			continue;
		}
		err = ring_buffer__add(rb, s->reader.ring_fd, on_event, s);
		if (err) {
			ring_buffer__free(rb);
			return p_err(mon->ctx, err, "cannot read the events of \"%s\": %s", s->dev,
				     strerror(-err));
		}
	}
	if (rb) {
		struct epoll_event e = { .events = EPOLLIN };

		mon->rb_epfd = ring_buffer__epoll_fd(rb);
		e.data.fd = mon->rb_epfd;
		if (epoll_ctl(mon->epfd, EPOLL_CTL_ADD, mon->rb_epfd, &e)) {
			err = -errno;
			ring_buffer__free(rb);
			return p_err(mon->ctx, err, "epoll: %s", strerror(-err));
		}
	}
	mon->rb = rb;
	return 0;
}

static int scan(struct monitor *mon, bool initial)
{
	struct source *s, **pp, *gone = NULL;
	bool changed = false;
	struct dirent *de;
	int err = 0;
	DIR *d;

	watch(mon, mon->root, IN_CREATE | IN_MOVED_TO);
	watch(mon, mon->ns_dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM);
	for (s = mon->sources; s; s = s->next)
		s->present = false;
	if (mon->dev) {
		changed = scan_dev(mon, mon->dev, initial);
	} else {
		d = opendir(mon->ns_dir);
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || de->d_type != DT_DIR)
				continue;
			changed |= scan_dev(mon, de->d_name, initial);
		}
		if (d)
			closedir(d);
	}
	for (pp = &mon->sources; (s = *pp);) {
		if (s->present) {
			pp = &s->next;
			continue;
		}
		/* What a detached program still had to say comes before
		 * its detach. */
		if (!gone && mon->rb)
			ring_buffer__consume(mon->rb);
		report_attach(mon, s, "detach");
		*pp = s->next;
		s->next = gone;
		gone = s;
		if (s->map_fd >= 0)
			changed = true;
	}
	if (changed)
		err = rebuild_rb(mon);
	/* Only now does no ring buffer refer to them. */
	while ((s = gone)) {
		gone = s->next;
		drop_reader(s);
		free(s);
	}
	return mon->err ? mon->err : err;
}

static int parse_monitor(struct xs_ctx *ctx, int argc, char **argv, struct monitor *mon)
{
	while (argc > 0) {
		if (matches(argv[0], "dev")) {
			NEXT_ARG_VALUE(ctx);
			if (!*argv[0] || strchr(argv[0], '/') || strlen(argv[0]) >= IF_NAMESIZE)
				return p_err(ctx, -EINVAL, "invalid device name \"%s\"", argv[0]);
			mon->dev = argv[0];
		} else if (!strcmp(argv[0], "count")) {
			NEXT_ARG_VALUE(ctx);
			if (parse_u64(argv[0], &mon->limit) || !mon->limit)
				return p_err(ctx, -EINVAL, "invalid count \"%s\" (1 or more)",
					     argv[0]);
		} else if (matches(argv[0], "help")) {
			monitor_help(ctx, argc, argv);
			return 1;
		} else {
			return p_err(ctx, -EINVAL, "monitor: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	return 0;
}

/* Pin names from the objects themselves, not from strings kept here. */
static int pin_names(struct monitor *mon)
{
	struct xdp_underlay *ul = xdp_underlay__open();
	struct xfrm_steer *tc = xfrm_steer__open();
	int err = 0;

	if (!ul || !tc) {
		err = p_err(mon->ctx, -errno, "cannot open the BPF objects: %s", strerror(errno));
	} else {
		snprintf(mon->ring_pin[SRC_TC], sizeof(mon->ring_pin[SRC_TC]), "%s",
			 bpf_map__name(tc->maps.event_readers));
		snprintf(mon->ring_pin[SRC_XDP], sizeof(mon->ring_pin[SRC_XDP]), "%s",
			 bpf_map__name(ul->maps.ul_ev_readers));
	}
	mon->link_pin[SRC_TC] = XS_PIN_INGRESS_LINK;
	mon->link_pin[SRC_XDP] = XS_PIN_XDP_LINK;
	xdp_underlay__destroy(ul);
	xfrm_steer__destroy(tc);
	return err;
}

static int run(struct monitor *mon)
{
	struct epoll_event evs[8];
	__u64 last_scan = now_ns(CLOCK_MONOTONIC);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int i, n, err;

	while (!mon->done) {
		bool rescan = false;
		__u64 now;

		n = epoll_wait(mon->epfd, evs, 8, RESCAN_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return p_err(mon->ctx, -errno, "epoll: %s", strerror(errno));
		}
		for (i = 0; i < n && !mon->done; i++) {
			int fd = evs[i].data.fd;

			if (fd == mon->sig_fd) {
				return 0;
			} else if (fd == mon->ino_fd) {
				/* What changed does not matter: the scan
				 * looks at everything. */
				while (read(mon->ino_fd, buf, sizeof(buf)) > 0)
					;
				rescan = true;
			} else if (mon->rb && fd == mon->rb_epfd) {
				err = ring_buffer__consume(mon->rb);
				if (err < 0 && err != -ECANCELED && err != -EINTR)
					return p_err(mon->ctx, err, "reading events: %s",
						     strerror(-err));
			}
		}
		now = now_ns(CLOCK_MONOTONIC);
		if (!mon->done && (rescan || now - last_scan >= RESCAN_MS * 1000000ull)) {
			err = scan(mon, false);
			if (err)
				return err;
			last_scan = now;
		}
	}
	return 0;
}

int do_monitor(struct xs_ctx *ctx, int argc, char **argv)
{
	struct monitor mon = { .ctx = ctx, .epfd = -1, .ino_fd = -1, .sig_fd = -1 };
	struct epoll_event e = { .events = EPOLLIN };
	struct source *s;
	sigset_t mask;
	int err;

	err = parse_monitor(ctx, argc, argv, &mon);
	if (err)
		return err > 0 ? 0 : err;
	err = pin_names(&mon);
	if (err)
		return err;
	err = xs_netns_dir(ctx, mon.ns_dir, sizeof(mon.ns_dir));
	if (err)
		return err;
	/* The root must exist to be watched for the namespace's directory;
	 * making it (0700) is what the first attach would do. */
	err = xs_pin_root(ctx, mon.root, sizeof(mon.root));
	if (err)
		return err;
	err = xs_mkdir_pins(ctx, mon.root);
	if (err)
		return err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	mon.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	mon.ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	mon.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (mon.sig_fd < 0 || mon.ino_fd < 0 || mon.epfd < 0) {
		err = p_err(ctx, -errno, "cannot set up the monitor: %s", strerror(errno));
		goto out;
	}
	e.data.fd = mon.sig_fd;
	epoll_ctl(mon.epfd, EPOLL_CTL_ADD, mon.sig_fd, &e);
	e.data.fd = mon.ino_fd;
	epoll_ctl(mon.epfd, EPOLL_CTL_ADD, mon.ino_fd, &e);

	mon.start_ns = now_ns(CLOCK_MONOTONIC);
	err = scan(&mon, true);
	if (err)
		goto out;
	if (ctx->verbose) {
		int nsrc = 0;

		for (s = mon.sources; s; s = s->next)
			nsrc++;
		fprintf(stderr, "monitor: watching %s, %d program(s) attached\n", mon.ns_dir,
			nsrc);
	}
	err = run(&mon);
out:
	if (mon.rb)
		ring_buffer__free(mon.rb);
	while ((s = mon.sources)) {
		mon.sources = s->next;
		drop_reader(s);
		free(s);
	}
	if (mon.epfd >= 0)
		close(mon.epfd);
	if (mon.ino_fd >= 0)
		close(mon.ino_fd);
	if (mon.sig_fd >= 0)
		close(mon.sig_fd);
	return err;
}
