// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer apply and show: the verbs. The engine is lib/exec.c
 * (xs_converge) and lib/observe.c (xs_config_from_kernel). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "iifbind.h"
#include "report.h"
#include "keys.h"
#include "netlink.h"
#include "state.h"
#include "tunnel.h"
#include "xfrm.h"
#include "xfrm_steer.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- The objects ---- */

static int apply_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer apply [ --dry-run | --check ] FILE\n"
		"       xfrm-steer show\n"
		"where  FILE := a JSON file with \"links\", \"tunnels\" and \"routes\", in the form\n"
		"               that \"xfrm-steer -j show\" prints; - reads standard input\n"
		"apply makes the kernel what FILE says: it creates and attaches the links,\n"
		"adds what is missing, changes what differs and removes the tunnels, and\n"
		"the routes of \"routes\", that it made before and FILE no longer names.\n"
		"It leaves alone SAs and policies of no named tunnel, routes it did not\n"
		"make, and devices FILE does not name. Either all of it is done, or none.\n"
		"--dry-run prints the plan and changes nothing; --check only reads FILE and\n"
		"says whether it is valid, without asking the kernel. Keys (\"key\": \"0xHEX\" or\n"
		"\"@FILE\") may be left out for tunnels whose SAs exist: they keep theirs.\n"
		"show prints keys only with --show-keys.\n");
	return 0;
}

static int read_all(struct xs_ctx *ctx, const char *path, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *p = malloc(cap);
	struct stat st;
	ssize_t got;
	int fd;

	if (!p)
		return p_err(ctx, -ENOMEM, "out of memory");
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(STDIN_FILENO);
	if (fd < 0) {
		int err = -errno;

		free(p);
		return p_err(ctx, err, "cannot open %s: %s", XS_QW(path), strerror(-err));
	}
	/* A file's size known, one buffer for it all: no copies (and wipes)
	 * of a 3 MB file of 10,000 tunnels as the buffer doubles. One byte
	 * more, for the read that finds the end. */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < SIZE_MAX / 4 && (size_t)st.st_size + 1 > cap) {
		char *q = malloc((size_t)st.st_size + 1);

		if (!q) {
			close(fd);
			free(p);
			return p_err(ctx, -ENOMEM, "out of memory");
		}
		free(p); /* nothing read into it yet */
		p = q;
		cap = (size_t)st.st_size + 1;
	}
	for (;;) {
		if (n == cap) {
			/* Not realloc(): the file may hold keys. */
			char *q = malloc(cap * 2);

			if (!q) {
				close(fd);
				explicit_bzero(p, n);
				free(p);
				return p_err(ctx, -ENOMEM, "out of memory");
			}
			memcpy(q, p, n);
			explicit_bzero(p, n);
			free(p);
			p = q;
			cap *= 2;
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	if (got < 0) {
		int err = -errno;

		close(fd);
		explicit_bzero(p, n);
		free(p);
		return p_err(ctx, err, "cannot read %s: %s", path, strerror(-err));
	}
	close(fd);
	*buf = p;
	*len = n;
	return 0;
}

static int do_apply_file(struct xs_ctx *ctx, const char *path, bool dry_run, bool check)
{
	struct xs_run_opts o = { .scope = XS_SCOPE_FILE, .src = path, .dry_run = dry_run };
	struct xs_config_file cfg;
	struct xs_run_result res;
	char why[512];
	char *buf = NULL;
	size_t len = 0;
	int err;

	err = read_all(ctx, path, &buf, &len);
	if (err)
		return err;
	err = xs_config_parse(buf, len, &cfg, why, sizeof(why));
	/* The file may hold keys. */
	explicit_bzero(buf, len);
	free(buf);
	if (err) {
		xs_config_free(&cfg);
		return p_err(ctx, err, "%s: %s", path, why);
	}
	if (check) {
		/* The parse stage alone: what a schema can be held to. */
		if (ctx->json) {
			json_object *r = json_object_new_object();

			json_object_object_add(r, "file", json_object_new_string(path));
			json_object_object_add(r, "valid", json_object_new_boolean(true));
			print_json(ctx, r);
			json_object_put(r);
		} else {
			printf("%s: valid (%zu links, %zu tunnels, %zu routes)\n", path, cfg.nlinks,
			       cfg.ntunnels, cfg.nroutes);
		}
		xs_config_free(&cfg);
		return 0;
	}
	err = xs_show_run(ctx, &o, &res, xs_converge(ctx, &cfg, &o, &res));
	xs_config_free(&cfg);
	return err;
}

int do_apply(struct xs_ctx *ctx, int argc, char **argv)
{
	const char *path = NULL;
	bool dry_run = false, check = false;

	if (argc > 0 && matches(argv[0], "help"))
		return apply_help(ctx, argc, argv);
	while (argc > 0) {
		if (!strcmp(argv[0], "--dry-run") || !strcmp(argv[0], "dry-run")) {
			dry_run = true;
		} else if (!strcmp(argv[0], "--check") || !strcmp(argv[0], "check")) {
			check = true;
		} else if (!path && (argv[0][0] != '-' || !strcmp(argv[0], "-"))) {
			path = argv[0];
		} else {
			return p_err(ctx, -EINVAL, "apply: unknown argument %s", XS_QW(argv[0]));
		}
		NEXT_ARG();
	}
	if (!path)
		return p_err(ctx, -EINVAL, "apply: missing FILE");
	if (dry_run && check)
		return p_err(ctx, -EINVAL, "apply: --dry-run and --check exclude each other");
	return do_apply_file(ctx, path, dry_run, check);
}

int do_show_config(struct xs_ctx *ctx, int argc, char **argv)
{
	struct xs_config_file cfg;
	json_object *o;
	int err;

	if (argc > 0 && matches(argv[0], "help"))
		return apply_help(ctx, argc, argv);
	if (argc > 0)
		return p_err(ctx, -EINVAL, "show: unknown argument %s", XS_QW(argv[0]));
	err = xs_config_from_kernel(ctx, &cfg, ctx->show_keys);
	if (err) {
		xs_config_free(&cfg);
		return err;
	}
	o = xs_config_to_json(&cfg);
	xs_config_free(&cfg);
	/* A tenant bound to no interface is written by its name and warned
	 * of: the file is what there is, not what works (iifbind.h). */
	err = xs_iif_check_dev(ctx, NULL) > 0 ? -ESTALE : 0;
	/* The file form either way: without -j it is pretty, for people. */
	xs_json_print_wiped(stdout, o,
			    (ctx->json && !ctx->pretty ? JSON_C_TO_STRING_PLAIN :
							 JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED) |
				    JSON_C_TO_STRING_NOSLASHESCAPE);
	/* With --show-keys the keys are in o's strings. */
	xs_json_wipe(o);
	json_object_put(o);
	return err;
}

