// SPDX-License-Identifier: GPL-2.0
/* xfrm-steer: per-packet if_id steering on external xfrm interfaces. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "common.h"

#ifndef XS_VERSION
#define XS_VERSION "0.0.0"
#endif

static int do_help(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	fprintf(xs_help_out(ctx),
		"Usage: xfrm-steer [ OPTIONS ] OBJECT { COMMAND | help }\n"
		"       xfrm-steer [ OPTIONS ] { -b | -batch | --batch } FILENAME\n"
		"                  [ -f | -force | --force ]\n"
		"       xfrm-steer version\n"
		"where  OBJECT := { link | attach | detach | route | stats | sa | policy | secpath |\n"
		"                  exporter | underlay | monitor | tunnel | apply | show | daemon }\n"
		"       OPTIONS := { -j[son] | -p[retty] | -n[etns] NETNS | -s[tats] |\n"
		"                    -h[uman] | -v[erbose] | -V[ersion] | --show-keys }\n"
		"\n"
		"       xfrm-steer link { show | add | del } ...\n"
		"       xfrm-steer attach dev NAME [ tenant-key { mark MASK | iif | none } ]\n"
		"                         [ routes N ] [ tunnels N ]\n"
		"       xfrm-steer detach { dev NAME | stale }\n"
		"       xfrm-steer route { add | del | show } ...\n"
		"       xfrm-steer stats [ dev NAME ] [ if_id ID ]\n"
		"       xfrm-steer secpath [ show ] [ dev NAME ] [ if_id ID ]\n"
		"       xfrm-steer exporter [ listen ADDR:PORT ]\n"
		"       xfrm-steer sa { add | del | show | flush } ...\n"
		"       xfrm-steer policy { add | del | show | flush } ...\n"
		"       xfrm-steer underlay { attach | detach | sync | show | stats } ...\n"
		"       xfrm-steer monitor [ dev NAME ] [ count N ]\n"
		"       xfrm-steer tunnel { add | del | show } ...\n"
		"       xfrm-steer apply [ --dry-run ] FILE\n"
		"       xfrm-steer show\n"
		"       xfrm-steer daemon [ dev NAME ] ... | daemon status dev NAME\n"
		"\n"
		"Run \"xfrm-steer OBJECT help\" for an object's grammar.\n");
	return 0;
}

static int do_version(struct xs_ctx *ctx, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "version", json_object_new_string(XS_VERSION));
		json_object_object_add(o, "libbpf",
				       json_object_new_string(libbpf_version_string()));
		print_json(ctx, o);
		json_object_put(o);
	} else {
		printf("xfrm-steer %s (libbpf %s)\n", XS_VERSION, libbpf_version_string());
	}
	return 0;
}

static const struct xs_cmd objects[] = {
	{ "help", do_help },
	{ "link", do_link },
	{ "attach", do_attach },
	{ "detach", do_detach },
	{ "route", do_route },
	{ "stats", do_stats },
	{ "secpath", do_secpath },
	{ "exporter", do_exporter },
	{ "daemon", do_daemon },
	{ "sa", do_sa },
	{ "policy", do_policy },
	{ "underlay", do_underlay },
	{ "monitor", do_monitor },
	{ "tunnel", do_tunnel },
	{ "apply", do_apply },
	{ "show", do_show_config },
	{ "version", do_version },
	{ NULL, NULL },
};

/* libbpf's own messages: warnings only with -v, debug with -vv. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf passes no user pointer; the level is read from the env set
	 * in main() so that no global variable is needed. */
	const char *v = getenv("XS_LIBBPF_VERBOSE");
	int verbose = v ? atoi(v) : 0;

	if (level == LIBBPF_DEBUG && verbose < 2)
		return 0;
	if (level != LIBBPF_DEBUG && verbose < 1)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "netns", required_argument, NULL, 'n' },
		{ "stats", no_argument, NULL, 's' },
		{ "show-keys", no_argument, NULL, 'K' },
		{ "human", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'H' },
		{ "batch", required_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	struct xs_ctx ctx = { 0 };
	const char *netns = NULL, *batch = NULL;
	char long_batch[] = "--batch", long_force[] = "--force";
	bool force = false;
	char vbuf[8];
	int opt, err;

	/* ip's spellings, -batch and -force, would read as -b "atch" and
	 * -f -o ...: make them --batch and --force. Options come first; their
	 * arguments are not options. */
	for (int i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-batch"))
			argv[i] = long_batch;
		else if (!strcmp(argv[i], "-force"))
			argv[i] = long_force;
		if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--netns") ||
		    !strcmp(argv[i], "-b") || !strcmp(argv[i], "--batch"))
			i++;
	}
	/* Stop at the first non-option: the object's own words follow. */
	while ((opt = getopt_long(argc, argv, "+jpn:shvVb:f", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			ctx.json = true;
			break;
		case 'p':
			ctx.json = true;
			ctx.pretty = true;
			break;
		case 'n':
			netns = optarg;
			break;
		case 'K':
			ctx.show_keys = true;
			break;
		case 's':
			ctx.stats = true;
			break;
		case 'h':
			ctx.human = true;
			break;
		case 'v':
			ctx.verbose++;
			break;
		case 'V':
			return do_version(&ctx, 0, NULL) ? 1 : 0;
		case 'H':
			do_help(&ctx, 0, NULL);
			return 0;
		case 'b':
			batch = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			/* getopt said what; the usage follows it on stderr. */
			ctx.help_to_stderr = true;
			do_help(&ctx, 0, NULL);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;

	snprintf(vbuf, sizeof(vbuf), "%d", ctx.verbose);
	setenv("XS_LIBBPF_VERBOSE", vbuf, 1);
	libbpf_set_print(libbpf_print);

	/* Everything but help and version touches BPF or netlink. */
	if ((batch || (argc >= 1 && !matches(argv[0], "help") &&
		       !matches(argv[0], "version"))) &&
	    xs_check_caps(&ctx))
		return 1;
	if (netns) {
		err = xs_enter_netns(&ctx, netns);
		if (err)
			return 1;
	}
	if (batch) {
		if (argc > 0)
			return p_err(&ctx, -EINVAL, "-batch takes no command words (\"%s\")",
				     argv[0]) ? 1 : 1;
		return xs_run_batch(&ctx, batch, force, objects, do_help) ? 1 : 0;
	}
	if (argc < 1) {
		ctx.help_to_stderr = true;
		do_help(&ctx, 0, NULL);
		return 2;
	}
	err = xs_cmd_select(&ctx, objects, argc, argv, do_help);
	return err ? 1 : 0;
}
