// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm-steer exporter: the counters of every attached device of the network
 * namespace as Prometheus metrics, served over HTTP by libmicrohttpd. Each
 * scrape reads the pinned maps afresh, so devices attached after the start
 * appear and detached ones go; the text is what "stats prometheus" prints.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "metrics.h"
#include "parse.h"

/* Loopback unless told otherwise: the metrics say which tunnels exist and
 * how busy they are. 9469 is free in Prometheus' list of default ports. */
#define EXPORTER_DEFAULT_LISTEN "127.0.0.1:9469"

struct exporter {
	struct xs_ctx *ctx;
	/* Until the daemon runs, libmicrohttpd's messages are kept for the
	 * error report (why the bind failed); afterwards they are logged. */
	bool running;
	char mhd_err[256];
};

static int exporter_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer exporter [ listen ADDR:PORT ]\n"
		"Serves the counters of every attached device of the network namespace\n"
		"at http://ADDR:PORT/metrics in the Prometheus text format (as \"stats\n"
		"prometheus\" prints them) until SIGINT or SIGTERM. ADDR is numeric, an\n"
		"IPv6 one in brackets ([::1]:9469); the default is " EXPORTER_DEFAULT_LISTEN ".\n");
	return 0;
}

int parse_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *port, *end;
	size_t hlen;
	unsigned long p;
	bool v6;

	memset(ss, 0, sizeof(*ss));
	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		s++;
		hlen = (size_t)(end - s);
		port = end + 2;
		v6 = true;
	} else {
		end = strchr(s, ':');
		/* A second colon: an IPv6 address without brackets, whose
		 * port could not be told from its last group. */
		if (!end || strchr(end + 1, ':'))
			return -EINVAL;
		hlen = (size_t)(end - s);
		port = end + 1;
		v6 = false;
	}
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
		return -EINVAL;
	p = strtoul(port, NULL, 10);
	if (p < 1 || p > 65535)
		return -ERANGE;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		*len = sizeof(*a);
	}
	return 0;
}

int parse_exporter_args(struct xs_ctx *ctx, int argc, char **argv, struct exporter_args *a)
{
	memset(a, 0, sizeof(*a));
	a->listen = EXPORTER_DEFAULT_LISTEN;
	while (argc > 0) {
		if (matches(argv[0], "listen") || !strcmp(argv[0], "--listen")) {
			NEXT_ARG_VALUE(ctx);
			a->listen = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "exporter: unknown argument \"%s\"", argv[0]);
		}
		NEXT_ARG();
	}
	if (parse_listen_addr(a->listen, &a->addr, &a->addrlen))
		return p_err(ctx, -EINVAL,
			     "invalid listen address \"%s\" (ADDR:PORT or [ADDR6]:PORT, numeric)",
			     a->listen);
	return 0;
}

/* A connection that sends nothing for this long is closed. Prometheus
 * scrapes every 15 s or more and opens a new connection when its old one
 * is gone; a slow or stalled client holds a slot no longer. */
#define EXPORTER_IDLE_TIMEOUT_S 3u
/* The bytes a request may take (its line and headers): a scrape's are a
 * few hundred. */
#define EXPORTER_REQUEST_MAX 8192
/* Connections at once, whatever the file limit allows. */
#define EXPORTER_MAX_CONNECTIONS 16384u

/* Room for many connections: the soft file limit up to the hard one (1024
 * by default), and the connection limit below what is left. */
static unsigned int raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = EXPORTER_MAX_CONNECTIONS + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1000;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur <= 128)
		return 64;
	return rl.rlim_cur - 64 < EXPORTER_MAX_CONNECTIONS ? (unsigned int)(rl.rlim_cur - 64) :
							    EXPORTER_MAX_CONNECTIONS;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct exporter *ex = cls;
	size_t n;

	if (__atomic_load_n(&ex->running, __ATOMIC_ACQUIRE)) {
		fputs("exporter: ", stderr);
		vfprintf(stderr, fmt, ap);
		return;
	}
	vsnprintf(ex->mhd_err, sizeof(ex->mhd_err), fmt, ap);
	n = strlen(ex->mhd_err);
	while (n && ex->mhd_err[n - 1] == '\n')
		ex->mhd_err[--n] = '\0';
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text, bool allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The exposition text of this moment, in a malloc()ed buffer. */
static int scrape(struct exporter *ex, char **buf, size_t *len)
{
	struct xs_stats_query q = { 0 };
	struct xs_stats_set set;
	FILE *f;
	int err;

	*buf = NULL;
	f = open_memstream(buf, len);
	if (!f)
		return p_err(ex->ctx, -errno, "out of memory");
	err = xs_stats_read(ex->ctx, &q, &set);
	if (!err) {
		err = xs_prom_render(f, &set);
		xs_stats_free(&set);
	}
	if (fclose(f) && !err)
		err = p_err(ex->ctx, -ENOMEM, "out of memory");
	if (err) {
		free(*buf);
		*buf = NULL;
	}
	return err;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct exporter *ex = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *buf;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", true);
	/* url is the path without the query string. */
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
				  false);
	if (scrape(ex, &buf, &len)) {
		/* Still an answer, in the format: xfrm_steer_scrape_error 1
		 * tells a broken scrape from one with nothing attached. The
		 * cause went to the log (p_err on stderr). */
		FILE *f = open_memstream(&buf, &len);

		if (!f)
			return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					  "cannot read the counters; the exporter's log says why\n",
					  false);
		xs_prom_render_error(f);
		if (fclose(f)) {
			free(buf);
			return MHD_NO;
		}
		/* Every scrape its own first error, for the log. */
		ex->ctx->nerr = 0;
	}
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, XS_PROM_CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

int do_exporter(struct xs_ctx *ctx, int argc, char **argv)
{
	struct exporter ex = { .ctx = ctx };
	struct exporter_args a;
	struct MHD_Daemon *d;
	unsigned int flags, limit;
	uint16_t port;
	sigset_t sigs, old;
	int err, sig;

	if (argc > 0 && matches(argv[0], "help"))
		return exporter_help(ctx, argc - 1, argv + 1);
	err = parse_exporter_args(ctx, argc, argv, &a);
	if (err)
		return err;

	/* Blocked before libmicrohttpd starts its thread, which inherits the
	 * mask: SIGINT and SIGTERM then reach sigwaitinfo() below and the
	 * daemon is stopped cleanly. A client that goes away must not kill
	 * the process. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	signal(SIGPIPE, SIG_IGN);

	/* It must keep answering whatever else is connected: one epoll
	 * thread (no FD_SETSIZE bound, no cost per idle connection), room
	 * for thousands of connections, and a short timeout, so that idle
	 * or half-sent requests (any local process can open them) neither
	 * fill the table nor hold it for long. Requests are small: one
	 * beyond the memory limit gets its 4xx from libmicrohttpd at once,
	 * as a malformed one does. No limit per IP: the scraper and whoever
	 * floods it may well share 127.0.0.1. */
	limit = raise_fd_limit();
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (a.addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The port is taken from the address; given here too, it is the one
	 * libmicrohttpd's messages name. */
	port = ntohs(a.addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a.addr)->sin6_port :
						    ((struct sockaddr_in *)&a.addr)->sin_port);
	d = MHD_start_daemon(flags, port, NULL, NULL, answer, &ex,
			     MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&a.addr,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &ex,
			     MHD_OPTION_CONNECTION_LIMIT, limit,
			     MHD_OPTION_CONNECTION_TIMEOUT, EXPORTER_IDLE_TIMEOUT_S,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EXPORTER_REQUEST_MAX,
			     MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
			     MHD_OPTION_END);
	if (!d) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return p_err(ctx, -EADDRNOTAVAIL, "cannot listen on %s: %s", a.listen,
			     ex.mhd_err[0] ? ex.mhd_err : "libmicrohttpd did not start");
	}
	__atomic_store_n(&ex.running, true, __ATOMIC_RELEASE);
	p_info(ctx, "exporter: serving http://%s/metrics", a.listen);

	do
		sig = sigwaitinfo(&sigs, NULL);
	while (sig < 0 && errno == EINTR);
	MHD_stop_daemon(d);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}
