/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by lib/xfrm.c (SAs) and lib/xfrm_policy.c. */
#ifndef XS_XFRM_INT_H
#define XS_XFRM_INT_H

#include <stdbool.h>
#include <linux/xfrm.h>

#include "xfrm.h"

bool xfrm_family_ok(int family);
const char *xfrm_family_name(int family);
void xfrm_set_addr(struct xs_prefix *p, int family, const void *a);
void xfrm_put_addr(xfrm_address_t *x, const struct xs_prefix *p);
void xfrm_lifetime_unlimited(struct xfrm_lifetime_cfg *lft);

#endif /* XS_XFRM_INT_H */
