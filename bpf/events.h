/* SPDX-License-Identifier: GPL-2.0 */
/* Event rate limiting shared by the tc and XDP programs. */
#ifndef XS_BPF_EVENTS_H
#define XS_BPF_EVENTS_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

#include "xfrm_steer.h"

/* At most one event per (type, peer) per interval: true when one may go
 * out at now. The ones held back are counted, and *suppressed gets how many
 * since the last one that went out, to report with it. rl_map is an LRU
 * hash of struct event_rl_key -> struct event_rl_value. */
static __always_inline bool event_allowed(void *rl_map, __u32 type, __u16 family,
					  const __be32 *peer, __u32 interval_ms, __u64 now,
					  __u32 *suppressed)
{
	struct event_rl_key rk = { .type = type, .family = family };
	struct event_rl_value *rv, first = { .last_ns = now };

	*suppressed = 0;
	__builtin_memcpy(rk.peer, peer, sizeof(rk.peer));
	rv = bpf_map_lookup_elem(rl_map, &rk);
	if (!rv) {
		bpf_map_update_elem(rl_map, &rk, &first, BPF_ANY);
		return true;
	}
	if (now - rv->last_ns < (__u64)interval_ms * 1000000) {
		__sync_fetch_and_add(&rv->suppressed, 1);
		return false;
	}
	*suppressed = rv->suppressed;
	rv->suppressed = 0;
	rv->last_ns = now;
	return true;
}

/* The inner map of the event_readers arrays: one reader's ring buffer. */
struct xs_event_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XS_EVENT_RING_SIZE);
};

/* Copy ev into the ring buffer of every reader (include/xfrm_steer.h).
 * Events are rate limited before they get here, so the bounded walk over
 * the slots is off the per-packet path. Returns how many readers could not
 * take it (their ring buffer full). */
static __always_inline __u32 event_send(void *readers, const struct xs_event *ev)
{
	__u32 i, lost = 0;

	/* Unrolled: with the slot's key on the stack, older verifiers (6.12)
	 * lose track of a loop counter and call the loop infinite. */
#pragma unroll
	for (i = 0; i < XS_EVENT_READERS; i++) {
		__u32 key = i;
		void *rb = bpf_map_lookup_elem(readers, &key);

		if (rb && bpf_ringbuf_output(rb, (void *)ev, sizeof(*ev), 0))
			lost++;
	}
	return lost;
}

#endif /* XS_BPF_EVENTS_H */
