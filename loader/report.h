/* SPDX-License-Identifier: GPL-2.0 */
/* How the verbs that run the engine (apply, tunnel) show what it did. */
#ifndef XS_REPORT_H
#define XS_REPORT_H

#include "tunnel.h"

/* Print the outcome of xs_converge() (err: what it returned) and free res:
 * with -j one object with the plan; a dry run lists each change; apply
 * counts what it made; tunnel add and del are quiet, like the other
 * objects. After a failure, says what was rolled back. Returns err. */
int xs_show_run(struct xs_ctx *ctx, const struct xs_run_opts *o, struct xs_run_result *res,
		int err);

#endif /* XS_REPORT_H */
