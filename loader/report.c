// SPDX-License-Identifier: GPL-2.0
/* The engine's outcome as apply and tunnel show it (report.h). */
#include <stdio.h>

#include "report.h"

static void show_json(struct xs_ctx *ctx, const struct xs_run_opts *o,
		      const struct xs_run_result *res)
{
	json_object *obj = json_object_new_object(), *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < res->nlines; i++)
		json_object_array_add(arr, json_object_new_string(res->lines[i]));
	if (o->src)
		json_object_object_add(obj, "file", json_object_new_string(o->src));
	json_object_object_add(obj, "dry_run", json_object_new_boolean(o->dry_run));
	json_object_object_add(obj, "changes", json_object_new_int64((int64_t)res->changes));
	json_object_object_add(obj, "plan", arr);
	arr = json_object_new_array();
	for (i = 0; i < res->nkept; i++)
		json_object_array_add(arr, json_object_new_string(res->kept[i]));
	json_object_object_add(obj, "left_alone", arr);
	print_json(ctx, obj);
	json_object_put(obj);
}

/* "; left alone, not the file's: 1 tunnel of tunnel add, 2 routes of route
 * add (-v lists them)", naming only what there is, or "". */
static const char *kept_text(const struct xs_run_result *res, char *buf, size_t len)
{
	char t[64] = "", r[64] = "";

	if (!res->nkept)
		return "";
	if (res->kept_tunnels)
		snprintf(t, sizeof(t), "%zu tunnel%s of tunnel add", res->kept_tunnels,
			 res->kept_tunnels == 1 ? "" : "s");
	if (res->kept_routes)
		snprintf(r, sizeof(r), "%zu route%s of route add", res->kept_routes,
			 res->kept_routes == 1 ? "" : "s");
	snprintf(buf, len, "; left alone, not the file's: %s%s%s (-v lists them)", t,
		 t[0] && r[0] ? ", " : "", r);
	return buf;
}

int xs_show_run(struct xs_ctx *ctx, const struct xs_run_opts *o, struct xs_run_result *res,
		int err)
{
	const char *what = o->src ? o->src : "the command";
	char buf[256];
	size_t i;

	for (i = 0; i < res->nnotices; i++)
		p_info(ctx, "Notice: %s", res->notices[i]);
	if (err) {
		if (res->undone && !ctx->json)
			p_info(ctx, "rolled back: %zu change%s undone, nothing else changed",
			       res->undone, res->undone == 1 ? "" : "s");
	} else if (ctx->json) {
		show_json(ctx, o, res);
	} else if (o->scope == XS_SCOPE_FILE || o->dry_run) {
		if (o->dry_run)
			for (i = 0; i < res->nlines; i++)
				printf("%s\n", res->lines[i]);
		if (!res->changes && !res->nkept)
			printf("%s: nothing to do, the kernel matches %s\n", what,
			       o->src ? "it" : "the command");
		else if (!res->changes)
			printf("%s: nothing to do%s\n", what, kept_text(res, buf, sizeof(buf)));
		else if (o->dry_run)
			printf("%s: %zu change%s to make (dry run: nothing changed)%s\n", what,
			       res->changes, res->changes == 1 ? "" : "s",
			       kept_text(res, buf, sizeof(buf)));
		else
			printf("%s: %zu change%s made%s\n", what, res->changes,
			       res->changes == 1 ? "" : "s", kept_text(res, buf, sizeof(buf)));
		/* Which ones: with -v, or in a dry run, which is for reading. */
		for (i = 0; (o->dry_run || ctx->verbose) && i < res->nkept; i++)
			printf("  left alone: %s\n", res->kept[i]);
	}
	xs_run_result_free(res);
	return err;
}
