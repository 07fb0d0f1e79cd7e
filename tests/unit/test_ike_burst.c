// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of what the IKE daemon's quick pass sees between full passes
 * (loader/lib/ike_burst.c): bursts of real xfrm netlink messages, built
 * with the library's own encoders (or by hand as the kernel sends them),
 * decoded into a struct xs_ike_burst, and merged with a full pass's view.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ifaddrs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <cmocka.h>

#include "ike.h"

/* A burst as one recv() returns it: messages back to back. */
struct burst_buf {
	char data[4 * XS_NL_REQ_SIZE] __attribute__((aligned(8)));
	size_t len;
};

struct fixture {
	struct xs_ike_range r[1];
	struct sockaddr_in sin;
	struct ifaddrs ifa;
	struct xs_ike_burst b;
	struct burst_buf m;
};

static void append(struct burst_buf *m, const struct nlmsghdr *nlh)
{
	size_t n = NLMSG_ALIGN(nlh->nlmsg_len);

	assert_true(m->len + n <= sizeof(m->data));
	memcpy(m->data + m->len, nlh, nlh->nlmsg_len);
	m->len += n;
}

static void note(struct fixture *f)
{
	xs_ike_burst_note(&f->b, f->r, 1, &f->ifa, f->m.data, f->m.len);
	f->m.len = 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->r[0].lo = 100;
	f->r[0].hi = 199;
	f->r[0].tenant = 1;
	f->sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.1.1", &f->sin.sin_addr);
	f->ifa.ifa_name = "eth0";
	f->ifa.ifa_addr = (struct sockaddr *)&f->sin;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	xs_ike_burst_free(&f->b);
	free(f);
	return 0;
}

static void policy(struct xs_policy *pol, uint8_t dir, const char *dst, uint32_t if_id)
{
	xs_policy_init(pol, dir, AF_INET);
	assert_int_equal(parse_prefix(dst, &pol->sel_dst, false), 0);
	pol->if_id = if_id;
}

/* A NEWPOLICY (or other type) the kernel tells, with its index. */
static void add_policy(struct burst_buf *m, uint16_t type, const struct xs_policy *pol,
		       uint32_t index)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *nlh = xs_policy_encode(buf, pol);

	assert_non_null(nlh);
	nlh->nlmsg_type = type;
	((struct xfrm_userpolicy_info *)mnl_nlmsg_get_payload(nlh))->index = index;
	append(m, nlh);
}

static void sa_gcm(struct xs_sa *sa, const char *src, uint32_t if_id)
{
	xs_sa_init(sa);
	assert_int_equal(parse_addr(src, &sa->src), 0);
	assert_int_equal(parse_addr("10.0.1.2", &sa->dst), 0);
	sa->spi = 0x1001;
	sa->if_id = if_id;
	sa->reqid = 7;
	snprintf(sa->aead.name, sizeof(sa->aead.name), "rfc4106(gcm(aes))");
	sa->aead.key_len = 20;
	sa->aead.icv_bits = 128;
}

static void add_sa(struct burst_buf *m, uint16_t type, const struct xs_sa *sa)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *nlh = xs_sa_encode(buf, sa);

	assert_non_null(nlh);
	nlh->nlmsg_type = type;
	append(m, nlh);
}

/* A DELPOLICY as the kernel tells it: by index (the id has it), or by
 * selector (index 0 in the id, the policy itself as XFRMA_POLICY). */
static void del_policy(struct burst_buf *m, const struct xs_policy *pol, uint32_t index,
		       bool by_selector)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	char pbuf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, XFRM_MSG_DELPOLICY, 0);
	struct nlmsghdr *p = xs_policy_encode(pbuf, pol);
	struct xfrm_userpolicy_info *pi = mnl_nlmsg_get_payload(p);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

	id->dir = pol->dir;
	pi->index = index;
	if (by_selector) {
		id->sel = pi->sel;
		mnl_attr_put(nlh, XFRMA_POLICY, sizeof(*pi), pi);
	} else {
		id->index = index;
	}
	append(m, nlh);
}

static void add_bare(struct burst_buf *m, uint16_t type, size_t payload)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *nlh = xs_nl_msg_zeroed(buf, type, 0);

	mnl_nlmsg_put_extra_header(nlh, payload);
	append(m, nlh);
}

static void test_policy_taken(void **state)
{
	struct fixture *f = *state;
	struct xs_policy pol;

	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 150);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 11);
	policy(&pol, XFRM_POLICY_OUT, "192.168.2.0/24", 199);
	add_policy(&f->m, XFRM_MSG_UPDPOLICY, &pol, 12);
	note(f);
	assert_false(f->b.other);
	assert_int_equal(f->b.npols, 2);
	assert_int_equal(f->b.pols[0].if_id, 150);
	assert_int_equal(f->b.pols[0].index, 11);
	assert_int_equal(f->b.pols[1].if_id, 199);
	assert_true(xs_ike_burst_news(&f->b));
}

static void test_policy_not_taken(void **state)
{
	struct fixture *f = *state;
	struct xs_policy pol;

	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 200); /* out of range */
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 11);
	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 99);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 12);
	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 0);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 13);
	policy(&pol, XFRM_POLICY_IN, "192.168.1.0/24", 150); /* inbound */
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 14);
	policy(&pol, XFRM_POLICY_FWD, "192.168.1.0/24", 150);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 15);
	note(f);
	assert_false(f->b.other);
	assert_int_equal(f->b.npols, 0);
	assert_false(xs_ike_burst_news(&f->b));
}

static void test_sa(void **state)
{
	struct fixture *f = *state;
	struct xs_sa sa;

	sa_gcm(&sa, "10.0.1.1", 150); /* local, keys: usable */
	add_sa(&f->m, XFRM_MSG_NEWSA, &sa);
	sa_gcm(&sa, "10.0.1.1", 160);
	add_sa(&f->m, XFRM_MSG_UPDSA, &sa);
	sa_gcm(&sa, "10.0.1.9", 170); /* inbound: the peer's source */
	add_sa(&f->m, XFRM_MSG_NEWSA, &sa);
	sa_gcm(&sa, "10.0.1.1", 0); /* no if_id */
	add_sa(&f->m, XFRM_MSG_NEWSA, &sa);
	sa_gcm(&sa, "10.0.1.1", 180); /* no keys */
	memset(&sa.aead, 0, sizeof(sa.aead));
	add_sa(&f->m, XFRM_MSG_NEWSA, &sa);
	note(f);
	assert_false(f->b.other);
	assert_int_equal(f->b.nids, 2);
	assert_int_equal(f->b.ids[0], 150);
	assert_int_equal(f->b.ids[1], 160);
	assert_int_equal(f->b.npols, 0);
	/* An SA alone gives a quick pass nothing to route. */
	assert_false(xs_ike_burst_news(&f->b));
}

static void test_delpolicy(void **state)
{
	struct fixture *f = *state;
	struct xs_policy pol;

	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 150);
	del_policy(&f->m, &pol, 21, false);
	del_policy(&f->m, &pol, 22, true);
	policy(&pol, XFRM_POLICY_IN, "192.168.1.0/24", 150);
	del_policy(&f->m, &pol, 23, false); /* inbound: not a route's */
	note(f);
	assert_false(f->b.other);
	assert_int_equal(f->b.ngone, 2);
	assert_int_equal(f->b.gone[0], 21);
	assert_int_equal(f->b.gone[1], 22);
	assert_true(xs_ike_burst_news(&f->b));
}

/* What the quick pass cannot stand behind leaves the burst to the full
 * pass: a DELPOLICY naming no policy, a short one, a flush. */
static void test_delpolicy_unnamed(void **state)
{
	struct fixture *f = *state;
	struct xs_policy pol;

	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 150);
	del_policy(&f->m, &pol, 0, false);
	note(f);
	assert_true(f->b.other);
	xs_ike_burst_reset(&f->b);
	assert_false(f->b.other);
	add_bare(&f->m, XFRM_MSG_DELPOLICY, 4);
	note(f);
	assert_true(f->b.other);
}

static void test_other(void **state)
{
	struct fixture *f = *state;
	struct xs_policy pol;
	struct xs_sa sa;

	/* Left to the full pass, without marking the burst. */
	sa_gcm(&sa, "10.0.1.1", 150);
	add_sa(&f->m, XFRM_MSG_DELSA, &sa);
	add_sa(&f->m, XFRM_MSG_EXPIRE, &sa);
	add_sa(&f->m, XFRM_MSG_ACQUIRE, &sa);
	policy(&pol, XFRM_POLICY_OUT, "192.168.1.0/24", 150);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 11);
	note(f);
	assert_false(f->b.other);
	assert_true(xs_ike_burst_news(&f->b));
	add_bare(&f->m, XFRM_MSG_FLUSHSA, sizeof(struct xfrm_usersa_flush));
	note(f);
	assert_true(f->b.other);
	assert_false(xs_ike_burst_news(&f->b));
	xs_ike_burst_reset(&f->b);
	add_bare(&f->m, XFRM_MSG_FLUSHPOLICY, 0);
	note(f);
	assert_true(f->b.other);
}

static void test_view(void **state)
{
	struct fixture *f = *state;
	struct xs_policy full[3], pol, *vp;
	uint32_t ids[] = { 101, 102 }, *vi;
	size_t nvp, nvi;
	struct xs_sa sa;

	policy(&full[0], XFRM_POLICY_OUT, "192.168.1.0/24", 101);
	full[0].index = 1;
	policy(&full[1], XFRM_POLICY_OUT, "192.168.2.0/24", 102);
	full[1].index = 2;
	policy(&full[2], XFRM_POLICY_IN, "192.168.2.0/24", 102);
	full[2].index = 5; /* indexes are per direction: an inbound 5 stays */

	policy(&pol, XFRM_POLICY_OUT, "192.168.3.0/24", 110);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 8);
	sa_gcm(&sa, "10.0.1.1", 110);
	add_sa(&f->m, XFRM_MSG_NEWSA, &sa);
	sa_gcm(&sa, "10.0.1.1", 100);
	add_sa(&f->m, XFRM_MSG_NEWSA, &sa);
	del_policy(&f->m, &full[1], 2, false);
	del_policy(&f->m, &full[1], 5, false);
	policy(&pol, XFRM_POLICY_OUT, "192.168.4.0/24", 120);
	add_policy(&f->m, XFRM_MSG_NEWPOLICY, &pol, 9);
	del_policy(&f->m, &pol, 9, true); /* came and went in one burst */
	note(f);
	assert_true(xs_ike_burst_news(&f->b));

	assert_int_equal(xs_ike_burst_view(&f->b, full, 3, ids, 2, &vp, &nvp, &vi, &nvi), 0);
	assert_false(xs_ike_burst_news(&f->b));
	assert_int_equal(nvp, 3);
	assert_int_equal(vp[0].index, 1);
	assert_int_equal(vp[1].index, 5);
	assert_int_equal(vp[1].dir, XFRM_POLICY_IN);
	assert_int_equal(vp[2].index, 8);
	assert_int_equal(vp[2].if_id, 110);
	assert_int_equal(nvi, 4);
	assert_int_equal(vi[0], 100);
	assert_int_equal(vi[1], 101);
	assert_int_equal(vi[2], 102);
	assert_int_equal(vi[3], 110);
	free(vp);
	free(vi);

	/* A later removal in the same burst is news again. */
	del_policy(&f->m, &full[0], 1, false);
	note(f);
	assert_true(xs_ike_burst_news(&f->b));
	assert_int_equal(xs_ike_burst_view(&f->b, full, 3, ids, 2, &vp, &nvp, &vi, &nvi), 0);
	assert_int_equal(nvp, 2);
	assert_int_equal(vp[0].index, 5);
	assert_int_equal(vp[1].index, 8);
	free(vp);
	free(vi);

	xs_ike_burst_reset(&f->b);
	assert_int_equal(f->b.npols + f->b.nids + f->b.ngone, 0);
	assert_false(xs_ike_burst_news(&f->b));
	/* An empty full view and burst: arrays the planner can take. */
	assert_int_equal(xs_ike_burst_view(&f->b, NULL, 0, NULL, 0, &vp, &nvp, &vi, &nvi), 0);
	assert_non_null(vp);
	assert_non_null(vi);
	assert_int_equal(nvp + nvi, 0);
	free(vp);
	free(vi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_not_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delpolicy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delpolicy_unnamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
