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
	print_json(ctx, obj);
	json_object_put(obj);
}

int xs_show_run(struct xs_ctx *ctx, const struct xs_run_opts *o, struct xs_run_result *res,
		int err)
{
	const char *what = o->src ? o->src : "the command";
	size_t i;

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
		if (!res->changes)
			printf("%s: nothing to do, the kernel matches %s\n", what,
			       o->src ? "it" : "the command");
		else if (o->dry_run)
			printf("%s: %zu change%s to make (dry run: nothing changed)\n", what,
			       res->changes, res->changes == 1 ? "" : "s");
		else
			printf("%s: %zu change%s made\n", what, res->changes,
			       res->changes == 1 ? "" : "s");
	}
	xs_run_result_free(res);
	return err;
}
