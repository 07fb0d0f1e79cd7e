/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One reader of a program's events: a ring buffer of its own in a slot of
 * the program's pinned event_readers array (include/xfrm_steer.h), so that
 * any number of readers each see every event. No printing here: errors come
 * back as -errno.
 */
#ifndef XS_EVENTS_H
#define XS_EVENTS_H

#include <stdbool.h>
#include <linux/types.h>

struct xs_event_reader {
	int ring_fd; /* our ring buffer: read it with libbpf's ring_buffer */
	int sock_fd; /* the slot's abstract socket: our claim on the slot */
	__u32 slot;
	__u32 ring_id;
};

/* The kernel's id of a map, 0 if it cannot be read. */
__u32 xs_map_id(int fd);

/* Claim a free slot of the array of maps outer_fd and put a new ring buffer
 * in it. -EBUSY when every slot has a living reader. */
int xs_event_reader_open(int outer_fd, struct xs_event_reader *r);
/* Whether the slot still holds our ring buffer. */
bool xs_event_reader_live(const struct xs_event_reader *r, int outer_fd);
/* Empty our slot (when it still is ours) and release it. outer_fd may be
 * -1 when the map is gone. */
void xs_event_reader_close(struct xs_event_reader *r, int outer_fd);

#endif /* XS_EVENTS_H */
