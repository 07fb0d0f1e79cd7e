/* SPDX-License-Identifier: GPL-2.0 */
/* A thin layer over libmnl shared by the objects that talk netlink: link
 * (NETLINK_ROUTE) now, SA and policy (NETLINK_XFRM) later. It owns the
 * request/ACK/dump loop and turns kernel errors, with their extended-ack
 * text, into one p_err() message. */
#ifndef XS_NETLINK_H
#define XS_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

struct xs_ctx;

/* Requests are small (names, a few nested attributes, keys): callers build
 * them in a buffer of this size. */
#define XS_NL_REQ_SIZE 8192

struct xs_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq; /* of the last request sent */
	/* Extended-ack text of the last failed request, "" if the kernel
	 * gave none: lets callers that asked for silence (what == NULL)
	 * still word their own message with it. */
	char errmsg[256];
};

/* Open and bind a netlink socket of protocol bus (NETLINK_ROUTE,
 * NETLINK_XFRM, ...) with extended acks enabled. Reports failures. */
int xs_nl_open(struct xs_ctx *ctx, struct xs_nl *nl, int bus);
void xs_nl_close(struct xs_nl *nl);

/* Start a request in buf (XS_NL_REQ_SIZE bytes, zeroed here): header of
 * the given type with NLM_F_REQUEST | flags. */
struct nlmsghdr *xs_nl_msg(void *buf, uint16_t type, uint16_t flags);
/* The same in a buffer that is all zero already (a batch's encoders: the
 * caller wipes what each request used), so that the header alone is
 * written: zeroing 8 KiB per request was most of a big apply's user time. */
struct nlmsghdr *xs_nl_msg_zeroed(void *buf, uint16_t type, uint16_t flags);

/*
 * Send req with NLM_F_ACK and read until the kernel acknowledges it; any
 * reply messages before the ACK go to cb (may be NULL) with data. The
 * sequence number is assigned here.
 *
 * Returns 0, or a negative errno. On failure the error is reported as
 * "cannot <what>: <kernel ext-ack message or strerror>", unless what is
 * NULL: then nothing is printed and nl->errmsg holds the kernel's text.
 *
 * cb follows libmnl: MNL_CB_OK to go on, MNL_CB_STOP to ignore the rest of
 * the reply, MNL_CB_ERROR with errno set to fail the request. Either way
 * the reply is read to its end so the socket stays usable.
 */
int xs_nl_talk(struct xs_ctx *ctx, struct xs_nl *nl, struct nlmsghdr *req,
	       mnl_cb_t cb, void *data, const char *what);

/* Same for a dump: req gets NLM_F_DUMP, cb runs once per message until
 * NLMSG_DONE. */
int xs_nl_dump(struct xs_ctx *ctx, struct xs_nl *nl, struct nlmsghdr *req,
	       mnl_cb_t cb, void *data, const char *what);

/* Report err from a quiet (what == NULL) request in the same format as
 * xs_nl_talk(), after the caller has handled the errors it words itself. */
int xs_nl_perror(struct xs_ctx *ctx, const struct xs_nl *nl, int err,
		 const char *what);

/* Why the last request failed, for messages: the kernel's extended-ack
 * text if it sent one, else strerror(-err). */
const char *xs_nl_strerror(const struct xs_nl *nl, int err);

/*
 * Attribute parsing against a policy: policy[type] is the libmnl type to
 * validate the attribute with, MNL_TYPE_UNSPEC for one the caller does not
 * use. tb (max + 1 entries) is cleared first. Types above max are skipped,
 * as newer kernels add attributes; a malformed attribute the caller uses
 * fails the parse with -EBADMSG.
 */
int xs_nl_parse(const struct nlmsghdr *nlh, unsigned int offset,
		const enum mnl_attr_data_type *policy, uint16_t max,
		const struct nlattr **tb);
int xs_nl_parse_nested(const struct nlattr *nest,
		       const enum mnl_attr_data_type *policy, uint16_t max,
		       const struct nlattr **tb);

/*
 * Batches: many requests in one buffer, sent with as few sendmsg() calls
 * as the socket's buffers allow (each chunk at most XS_NL_BATCH_BYTES and
 * XS_NL_BATCH_MSGS, so that the ACKs of a chunk fit the receive buffer:
 * each ACK is a small message, but costs the buffer a whole skb, some
 * 1 KiB, and the default buffer is some 200 KiB).
 * Each request gets its own sequence number; the kernel handles them in
 * order and answers every failed one, so a failure does not stop the rest.
 * Only the last request of a chunk asks for an ACK: when it comes, every
 * request before it without an answer has succeeded. Requests may carry
 * key material: the buffer is wiped when freed.
 */
#define XS_NL_BATCH_BYTES 32768
#define XS_NL_BATCH_MSGS 64

struct xs_nl_batch {
	char *buf;
	size_t len, cap;
	unsigned int n; /* requests in buf */
};

void xs_nl_batch_init(struct xs_nl_batch *b);
/* Append a copy of req. 0 or -ENOMEM. */
int xs_nl_batch_add(struct xs_nl_batch *b, const struct nlmsghdr *req);
/* Empty the batch (wiping it) for reuse. */
void xs_nl_batch_reset(struct xs_nl_batch *b);
void xs_nl_batch_free(struct xs_nl_batch *b);
/*
 * Send every request of b and collect its answer: errs[i] (n entries) gets
 * 0 or the negative errno of request i, and msgs[i], when msgs is not
 * NULL, the kernel's extended-ack text ("" if none). Replies other than
 * ACKs are dropped. Returns 0 when every request was answered, whatever
 * the answers; a negative errno if the socket failed, and then errs of the
 * requests without an answer are -EIO. Prints nothing.
 */
int xs_nl_batch_run(struct xs_nl *nl, struct xs_nl_batch *b, int *errs,
		    char (*msgs)[128]);

/* Interfaces, for other objects (attach checks its target with this). */
struct xs_link_info {
	int ifindex;
	char ifname[16]; /* IFNAMSIZ; <net/if.h> is not included here as it
			  * clashes with <linux/if.h> in some users */
	bool is_xfrm; /* IFLA_INFO_KIND "xfrm" */
	bool external; /* collect_md: if_id comes from the skb's metadata */
	bool up; /* IFF_UP */
	uint32_t if_id; /* IFLA_XFRM_IF_ID, 0 when absent */
};

/* Look name up in the current network namespace. Returns 0 and fills out,
 * or a negative errno after reporting: -ENODEV with
 * 'device "NAME" does not exist', -EINVAL for a name no device can have. */
int xs_link_query(struct xs_ctx *ctx, const char *name,
		  struct xs_link_info *out);

#endif /* XS_NETLINK_H */
