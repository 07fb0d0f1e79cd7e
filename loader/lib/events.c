// SPDX-License-Identifier: GPL-2.0
/* Event readers: one ring buffer per reader, each in a slot it owns. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <bpf/bpf.h>

#include "events.h"
#include "xfrm_steer.h"

__u32 xs_map_id(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_map_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* The slot is ours while we hold its name: binding fails with EADDRINUSE
 * while a living reader has it, and the kernel frees it when that reader
 * exits, however it exits. */
static int claim_slot(__u32 outer_id, __u32 slot)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, n;

	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, XS_EVENT_SLOT_FMT, outer_id,
		     slot);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int xs_event_reader_open(int outer_fd, struct xs_event_reader *r)
{
	__u32 outer_id = xs_map_id(outer_fd), slot;
	int err;

	memset(r, 0, sizeof(*r));
	r->ring_fd = r->sock_fd = -1;
	if (!outer_id)
		return -EINVAL;
	for (slot = 0; slot < XS_EVENT_READERS; slot++) {
		r->sock_fd = claim_slot(outer_id, slot);
		if (r->sock_fd >= 0)
			break;
		if (r->sock_fd != -EADDRINUSE)
			return r->sock_fd;
	}
	if (slot == XS_EVENT_READERS) {
		r->sock_fd = -1;
		return -EBUSY;
	}
	r->slot = slot;
	r->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "xs_reader", 0, 0, XS_EVENT_RING_SIZE,
				    NULL);
	if (r->ring_fd < 0) {
		err = -errno;
		goto fail;
	}
	r->ring_id = xs_map_id(r->ring_fd);
	/* A slot left by a reader that died still holds its ring buffer;
	 * ours replaces it. */
	if (bpf_map_update_elem(outer_fd, &slot, &r->ring_fd, BPF_ANY)) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	if (r->ring_fd >= 0)
		close(r->ring_fd);
	close(r->sock_fd);
	r->ring_fd = r->sock_fd = -1;
	return err;
}

bool xs_event_reader_live(const struct xs_event_reader *r, int outer_fd)
{
	__u32 id = 0;

	return r->ring_fd >= 0 && !bpf_map_lookup_elem(outer_fd, &r->slot, &id) &&
	       id == r->ring_id;
}

void xs_event_reader_close(struct xs_event_reader *r, int outer_fd)
{
	if (r->ring_fd < 0)
		return;
	if (outer_fd >= 0 && xs_event_reader_live(r, outer_fd))
		bpf_map_delete_elem(outer_fd, &r->slot);
	close(r->ring_fd);
	close(r->sock_fd);
	r->ring_fd = r->sock_fd = -1;
}
