/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the parts of the file format (config.c, config_check.c,
 * config_write.c); not for the rest of the loader. */
#ifndef XS_CONFIG_INT_H
#define XS_CONFIG_INT_H

#include <stddef.h>

#include "config.h"

/* Where a message goes, and which entry it is about. */
struct perr {
	char *why;
	size_t len;
	char entry[96]; /* 'tunnels[3] ("branch3")', "" at the top */
};

/* The message "ENTRY: FIELD: what" into pe; returns -EINVAL. */
int cfg_fail(struct perr *pe, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The checks across entries, once every entry is read (config_check.c). */
int cfg_check_links(struct perr *pe, const struct xs_config_file *cfg);
int cfg_check_duplicates(struct perr *pe, const struct xs_config_file *cfg);

#endif /* XS_CONFIG_INT_H */
