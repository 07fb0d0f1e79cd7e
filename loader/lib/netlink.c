// SPDX-License-Identifier: GPL-2.0
/* Netlink request/ACK/dump plumbing over libmnl, protocol-agnostic. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "common.h"
#include "netlink.h"

/* The kernel sizes dump messages after the reader's buffer, up to 32 KiB;
 * a smaller buffer than a message makes recvmsg() truncate it. */
#define XS_NL_RX_SIZE 32768

/* State of one request while its reply is read. */
struct nl_run {
	struct xs_ctx *ctx;
	struct xs_nl *nl;
	mnl_cb_t cb;
	void *data;
	int err; /* first failure: kernel errno or the callback's */
	/* The callback stopped or failed: the rest of the reply is still
	 * read, up to the ACK or NLMSG_DONE, but not handed to it, so that
	 * no stale message waits on the socket for the next request. */
	bool cb_done;
};

int xs_nl_open(struct xs_ctx *ctx, struct xs_nl *nl, int bus)
{
	int one = 1, err;

	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl->sock)
		return p_err(ctx, -errno, "cannot open netlink socket: %s",
			     strerror(errno));
	/* Best effort: kernels before 4.12 know neither option, and they
	 * only make errors more telling (EXT_ACK) or their replies shorter
	 * (CAP_ACK: no copy of our request in them). */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return p_err(ctx, err, "cannot bind netlink socket: %s",
			     strerror(-err));
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Not 0: libmnl skips the sequence check for replies with seq 0. */
	nl->seq = (unsigned int)time(NULL) | 1;
	return 0;
}

void xs_nl_close(struct xs_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

struct nlmsghdr *xs_nl_msg(void *buf, uint16_t type, uint16_t flags)
{
	memset(buf, 0, XS_NL_REQ_SIZE);
	return xs_nl_msg_zeroed(buf, type, flags);
}

struct nlmsghdr *xs_nl_msg_zeroed(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

/* What attr_cb() checks attributes against and where it files them. */
struct attr_parse {
	const enum mnl_attr_data_type *policy;
	uint16_t max;
	const struct nlattr **tb;
};

static int attr_cb(const struct nlattr *attr, void *arg)
{
	const struct attr_parse *p = arg;
	uint16_t type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, p->max) < 0 ||
	    p->policy[type] == MNL_TYPE_UNSPEC)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, p->policy[type]) < 0)
		return MNL_CB_ERROR;
	p->tb[type] = attr;
	return MNL_CB_OK;
}

int xs_nl_parse(const struct nlmsghdr *nlh, unsigned int offset,
		const enum mnl_attr_data_type *policy, uint16_t max,
		const struct nlattr **tb)
{
	struct attr_parse p = { .policy = policy, .max = max, .tb = tb };

	memset(tb, 0, (max + 1u) * sizeof(*tb));
	if (mnl_nlmsg_get_payload_len(nlh) < offset)
		return -EBADMSG;
	return mnl_attr_parse(nlh, offset, attr_cb, &p) == MNL_CB_ERROR ?
		       -EBADMSG :
		       0;
}

int xs_nl_parse_nested(const struct nlattr *nest,
		       const enum mnl_attr_data_type *policy, uint16_t max,
		       const struct nlattr **tb)
{
	struct attr_parse p = { .policy = policy, .max = max, .tb = tb };

	memset(tb, 0, (max + 1u) * sizeof(*tb));
	return mnl_attr_parse_nested(nest, attr_cb, &p) == MNL_CB_ERROR ?
		       -EBADMSG :
		       0;
}

/* Extended-ack TLVs start at offset in the payload of an NLMSG_ERROR or
 * NLMSG_DONE; copy their message, if any, into buf. */
static void read_extack(const struct nlmsghdr *nlh, unsigned int offset,
			char *buf, size_t len)
{
	static const enum mnl_attr_data_type policy[NLMSGERR_ATTR_MAX + 1] = {
		[NLMSGERR_ATTR_MSG] = MNL_TYPE_NUL_STRING,
	};
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	buf[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (xs_nl_parse(nlh, offset, policy, NLMSGERR_ATTR_MAX, tb) ||
	    !tb[NLMSGERR_ATTR_MSG])
		return;
	snprintf(buf, len, "%s", mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
}

static void run_fail(struct nl_run *r, int err, const char *msg)
{
	if (r->err)
		return;
	r->err = err;
	snprintf(r->nl->errmsg, sizeof(r->nl->errmsg), "%s", msg);
}

static int run_data_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl_run *r = arg;
	int ret;

	if (r->cb_done || !r->cb)
		return MNL_CB_OK;
	errno = 0;
	ret = r->cb(nlh, r->data);
	if (ret == MNL_CB_ERROR) {
		run_fail(r, errno ? -errno : -EBADMSG, "");
		r->cb_done = true;
	} else if (ret == MNL_CB_STOP) {
		r->cb_done = true;
	}
	return MNL_CB_OK;
}

/* NLMSG_ERROR ends every request sent with NLM_F_ACK: error 0 is the ACK. */
static int run_error_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct nl_run *r = arg;
	unsigned int offset = sizeof(*e);
	char msg[sizeof(r->nl->errmsg)];

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		run_fail(r, -EBADMSG, "truncated netlink error message");
		return MNL_CB_STOP;
	}
	/* Without NETLINK_CAP_ACK (or on kernels that ignore it) the
	 * request comes back after the header: the TLVs follow it. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
	    e->msg.nlmsg_len > sizeof(struct nlmsghdr))
		offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	read_extack(nlh, offset, msg, sizeof(msg));
	if (e->error < 0)
		run_fail(r, e->error, msg);
	else if (msg[0])
		/* The request was applied, but the kernel has a remark. */
		p_info(r->ctx, "Warning: %s", msg);
	return MNL_CB_STOP;
}

/* NLMSG_DONE ends a dump; it carries an errno if the dump failed midway. */
static int run_done_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl_run *r = arg;
	char msg[sizeof(r->nl->errmsg)];
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err)) {
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
		if (err < 0) {
			read_extack(nlh, sizeof(err), msg, sizeof(msg));
			run_fail(r, err, msg);
		}
	}
	return MNL_CB_STOP;
}

static int run_overrun_cb(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	run_fail(arg, -ENOBUFS, "");
	return MNL_CB_STOP;
}

static int nl_run(struct xs_ctx *ctx, struct xs_nl *nl, struct nlmsghdr *req,
		  mnl_cb_t cb, void *data)
{
	/* Not static const: libmnl 1.0.4 takes a non-const array. */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = run_error_cb,
		[NLMSG_DONE] = run_done_cb,
		[NLMSG_OVERRUN] = run_overrun_cb,
	};
	char rx[XS_NL_RX_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nl_run r = { .ctx = ctx, .nl = nl, .cb = cb, .data = data };
	size_t used = 0;
	ssize_t n;
	int ret;

	nl->errmsg[0] = '\0';
	req->nlmsg_seq = ++nl->seq;
	if (!req->nlmsg_seq)
		req->nlmsg_seq = nl->seq = 1;
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, rx, sizeof(rx));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if ((size_t)n > used)
			used = (size_t)n;
		/* -1 here is libmnl's own check failing: a reply to someone
		 * else (ESRCH, EPROTO) or a dump that a concurrent change
		 * interrupted (EINTR). */
		ret = mnl_cb_run2(rx, (size_t)n, req->nlmsg_seq, nl->portid,
				  run_data_cb, &r, ctl, NLMSG_MIN_TYPE);
		if (ret < 0) {
			ret = errno ? -errno : -EBADMSG;
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = r.err;
			break;
		}
	}
	/* SA dumps carry the keys: none stays behind on the stack. */
	explicit_bzero(rx, used);
	return ret;
}

const char *xs_nl_strerror(const struct xs_nl *nl, int err)
{
	if (nl && nl->errmsg[0])
		return nl->errmsg;
	if (err == -EINTR)
		return "the dump was interrupted by a concurrent change, try again";
	return strerror(-err);
}

int xs_nl_perror(struct xs_ctx *ctx, const struct xs_nl *nl, int err,
		 const char *what)
{
	return p_err(ctx, err, "cannot %s: %s", what, xs_nl_strerror(nl, err));
}

int xs_nl_talk(struct xs_ctx *ctx, struct xs_nl *nl, struct nlmsghdr *req,
	       mnl_cb_t cb, void *data, const char *what)
{
	int err;

	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	err = nl_run(ctx, nl, req, cb, data);
	if (err && what)
		return xs_nl_perror(ctx, nl, err, what);
	return err;
}

int xs_nl_dump(struct xs_ctx *ctx, struct xs_nl *nl, struct nlmsghdr *req,
	       mnl_cb_t cb, void *data, const char *what)
{
	int err;

	/* No NLM_F_ACK: a dump ends with NLMSG_DONE, never with an ACK. */
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	err = nl_run(ctx, nl, req, cb, data);
	if (err && what)
		return xs_nl_perror(ctx, nl, err, what);
	return err;
}

/* ---- Batches ---- */

void xs_nl_batch_init(struct xs_nl_batch *b)
{
	memset(b, 0, sizeof(*b));
}

int xs_nl_batch_add(struct xs_nl_batch *b, const struct nlmsghdr *req)
{
	size_t need = NLMSG_ALIGN(req->nlmsg_len);

	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 65536;
		char *p;

		while (cap < b->len + need)
			cap *= 2;
		/* Not realloc(): the old buffer may hold keys, and must be
		 * wiped before it goes back to the allocator. */
		p = calloc(1, cap);
		if (!p)
			return -ENOMEM;
		if (b->buf) {
			memcpy(p, b->buf, b->len);
			explicit_bzero(b->buf, b->cap);
			free(b->buf);
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, req, req->nlmsg_len);
	memset(b->buf + b->len + req->nlmsg_len, 0, need - req->nlmsg_len);
	b->len += need;
	b->n++;
	return 0;
}

void xs_nl_batch_reset(struct xs_nl_batch *b)
{
	if (b->buf)
		explicit_bzero(b->buf, b->len);
	b->len = 0;
	b->n = 0;
}

void xs_nl_batch_free(struct xs_nl_batch *b)
{
	if (b->buf) {
		explicit_bzero(b->buf, b->cap);
		free(b->buf);
	}
	memset(b, 0, sizeof(*b));
}

/* The answers of one chunk: requests first_seq .. first_seq + n - 1. */
struct batch_run {
	unsigned int first_seq, n;
	unsigned int base; /* index of the chunk's first request in the batch */
	int *errs;
	char (*msgs)[128];
	unsigned char *seen;
};

static int batch_error_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct batch_run *r = arg;
	unsigned int offset = sizeof(*e), i;
	char msg[128];

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return MNL_CB_OK;
	i = nlh->nlmsg_seq - r->first_seq;
	if (i >= r->n || r->seen[i])
		return MNL_CB_OK; /* not ours, or a second answer */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len > sizeof(struct nlmsghdr))
		offset += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	read_extack(nlh, offset, msg, sizeof(msg));
	r->seen[i] = 1;
	r->errs[r->base + i] = e->error < 0 ? e->error : 0;
	if (r->msgs)
		snprintf(r->msgs[r->base + i], sizeof(r->msgs[0]), "%s", e->error < 0 ? msg : "");
	return MNL_CB_OK;
}

static int batch_ignore_cb(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(void)arg;
	return MNL_CB_OK;
}

int xs_nl_batch_run(struct xs_nl *nl, struct xs_nl_batch *b, int *errs,
		    char (*msgs)[128])
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = batch_error_cb,
		[NLMSG_DONE] = batch_ignore_cb,
		[NLMSG_OVERRUN] = batch_ignore_cb,
	};
	char rx[XS_NL_RX_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	unsigned char seen[XS_NL_BATCH_MSGS];
	struct batch_run r = { .errs = errs, .msgs = msgs, .seen = seen };
	struct nlmsghdr *last = NULL;
	size_t off = 0, start, end;
	unsigned int i, done = 0;
	ssize_t n;
	int err = 0;

	for (i = 0; i < b->n; i++) {
		errs[i] = -EIO;
		if (msgs)
			msgs[i][0] = '\0';
	}
	while (!err && done < b->n) {
		/* The next chunk: whole requests, within both limits. */
		start = off;
		end = off;
		r.n = 0;
		r.base = done;
		r.first_seq = nl->seq + 1;
		while (done + r.n < b->n && r.n < XS_NL_BATCH_MSGS) {
			struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + end);
			size_t len = NLMSG_ALIGN(nlh->nlmsg_len);

			if (r.n && end + len - start > XS_NL_BATCH_BYTES)
				break;
			/* Only errors are answered, but for the last
			 * request: its ACK says the kernel has done the
			 * chunk, so a request without an answer before it
			 * succeeded. One recvmsg() per chunk, not one per
			 * request. */
			nlh->nlmsg_flags = (nlh->nlmsg_flags & ~NLM_F_ACK) | NLM_F_REQUEST;
			nlh->nlmsg_seq = ++nl->seq;
			/* Sequence numbers of a chunk must not wrap: the
			 * answers are matched by their distance to the
			 * first. */
			if (!nlh->nlmsg_seq) {
				if (r.n)
					break;
				nlh->nlmsg_seq = nl->seq = 1;
				r.first_seq = 1;
			}
			nlh->nlmsg_pid = 0;
			last = nlh;
			end += len;
			r.n++;
		}
		last->nlmsg_flags |= NLM_F_ACK;
		memset(seen, 0, sizeof(seen));
		if (mnl_socket_sendto(nl->sock, b->buf + start, end - start) < 0) {
			err = -errno;
			break;
		}
		while (!seen[r.n - 1]) {
			n = mnl_socket_recvfrom(nl->sock, rx, sizeof(rx));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				err = -errno;
				break;
			}
			/* Sequence 0: answers of several requests arrive
			 * together; batch_error_cb matches them itself. */
			if (mnl_cb_run2(rx, (size_t)n, 0, nl->portid, batch_ignore_cb, &r, ctl,
					NLMSG_MIN_TYPE) < 0) {
				err = errno ? -errno : -EBADMSG;
				break;
			}
		}
		if (!err)
			for (i = 0; i < r.n; i++)
				if (!seen[i])
					errs[done + i] = 0;
		done += r.n;
		off = end;
	}
	return err;
}
