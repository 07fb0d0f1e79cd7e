// SPDX-License-Identifier: GPL-2.0
/*
 * The batched reads of "stats" against real maps, and how long 100,000
 * tunnels take. Needs root (maps, a mount namespace): without it the tests
 * skip. The process moves into a network and a mount namespace of its own
 * with a private BPF file system, so the pins it makes for its fake
 * attached devices never meet anyone's, and go with the process.
 *
 * No xfrm interface is needed: an "attached device" is, to the readers, a
 * pin directory with the maps and a meta entry, which this test writes
 * itself (the programs are not loaded). With XS_BENCH_CLI=path/to/xfrm-steer
 * it also times "xfrm-steer -j stats dev bench0" on the same state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "metrics.h"
#include "state.h"
#include "xfrm_steer.skel.h"

#define BIG 100000u

struct fake_dev {
	struct xfrm_steer *skel;
	uint32_t ntunnels;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Slot s of tunnel if_id 1000 + s - 1 counts, on CPU c: */
static void slot_values(uint32_t s, int c, struct tunnel_stats *v)
{
	v->tx_packets = s + (uint64_t)c;
	v->tx_bytes = 100ull * s + (uint64_t)c;
	v->rx_packets = 2ull * s;
	v->rx_bytes = 200ull * s + 7;
	v->tx_dropped = c == 0 ? s % 3 : 0;
	v->rx_dropped = (uint64_t)c;
}

/* What a read must find for slot s: the sums over CPUs. */
static void slot_sums(uint32_t s, int ncpu, struct tunnel_stats *sum)
{
	struct tunnel_stats v;
	int c;

	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < ncpu; c++) {
		slot_values(s, c, &v);
		sum->tx_packets += v.tx_packets;
		sum->tx_bytes += v.tx_bytes;
		sum->rx_packets += v.rx_packets;
		sum->rx_bytes += v.rx_bytes;
		sum->tx_dropped += v.tx_dropped;
		sum->rx_dropped += v.rx_dropped;
	}
}

/* Pins of an attached device named name with n tunnels: if_id 1000 + i in
 * slot i + 1, counters by slot_values(), drop reason r counting r + 1 on
 * every CPU. */
static void make_dev(const char *name, uint32_t n, struct fake_dev *fd)
{
	struct xs_ctx ctx = { 0 };
	int ncpu = xs_num_cpus();
	struct meta_value m = { 0 };
	char dir[XS_DIR_MAX], path[XS_DIR_MAX + 64];
	struct bpf_program *prog;
	struct bpf_map *map;
	uint32_t *keys, i, zero = 0, chunk = 8192;
	struct tunnel_value *tv;
	struct tunnel_stats *vals;
	uint64_t *dv;
	__u32 count;
	int c;

	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	fd->ntunnels = n;
	fd->skel = xfrm_steer__open();
	assert_non_null(fd->skel);
	bpf_map__set_max_entries(fd->skel->maps.tunnel_by_ifid, BIG);
	bpf_map__set_max_entries(fd->skel->maps.tunnel_stats, BIG + 1);
	/* The maps only: readers never look at the programs. */
	bpf_object__for_each_program(prog, fd->skel->obj)
		bpf_program__set_autoload(prog, false);
	assert_int_equal(xfrm_steer__load(fd->skel), 0);

	assert_int_equal(xs_pin_dir(&ctx, name, dir, sizeof(dir)), 0);
	assert_int_equal(xs_mkdir_pins(&ctx, dir), 0);
	bpf_object__for_each_map(map, fd->skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		assert_int_equal(bpf_map__pin(map, path), 0);
	}
	m.magic = XS_META_MAGIC;
	m.version = 1;
	m.ifindex = 1;
	m.max_tunnels = BIG;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fd->skel->maps.meta), &zero, &m, 0), 0);

	if (n) {
		keys = calloc(n, sizeof(*keys));
		tv = calloc(n, sizeof(*tv));
		assert_non_null(keys);
		assert_non_null(tv);
		for (i = 0; i < n; i++) {
			keys[i] = 1000 + i;
			tv[i] = xs_tunnel_value(keys[i], i + 1, i % 7);
		}
		count = n;
		assert_int_equal(bpf_map_update_batch(bpf_map__fd(fd->skel->maps.tunnel_by_ifid), keys, tv,
						      &count, &opts), 0);
		assert_int_equal(count, n);
		free(keys);
		free(tv);
	}

	keys = calloc(chunk, sizeof(*keys));
	vals = calloc((size_t)chunk * ncpu, sizeof(*vals));
	assert_non_null(keys);
	assert_non_null(vals);
	for (i = 1; i <= n; i += count) {
		uint32_t j;

		count = n - i + 1 < chunk ? n - i + 1 : chunk;
		for (j = 0; j < count; j++) {
			keys[j] = i + j;
			for (c = 0; c < ncpu; c++)
				slot_values(i + j, c, &vals[(size_t)j * ncpu + c]);
		}
		assert_int_equal(bpf_map_update_batch(bpf_map__fd(fd->skel->maps.tunnel_stats), keys,
						      vals, &count, &opts), 0);
	}
	free(keys);
	free(vals);

	dv = calloc((size_t)ncpu, sizeof(*dv));
	assert_non_null(dv);
	for (i = 0; i < XS_REASON_MAX; i++) {
		for (c = 0; c < ncpu; c++)
			dv[c] = i + 1;
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(fd->skel->maps.drop_stats), &i, dv, 0),
				 0);
	}
	free(dv);
}

static int setup(void **state)
{
	/* A private BPF file system in a private network namespace: nothing
	 * here is seen by, or sees, the machine's own xfrm-steer state. */
	if (geteuid() != 0 || unshare(CLONE_NEWNET | CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		*state = NULL;
		return 0;
	}
	libbpf_set_print(NULL);
	*state = (void *)1;
	return 0;
}

static void check_dev(const struct xs_dev_stats *ds, const char *name, uint32_t n)
{
	int ncpu = xs_num_cpus();
	struct tunnel_stats want;
	uint32_t i;

	assert_string_equal(ds->dev, name);
	assert_int_equal(ds->nrows, n);
	assert_true(ds->whole);
	for (i = 0; i < n; i++) {
		const struct xs_tunnel_row *r = &ds->rows[i];

		/* Sorted by if_id, every tunnel with its own slot's sums. */
		assert_int_equal(r->if_id, 1000 + i);
		assert_int_equal(r->slot, i + 1);
		assert_int_equal(r->tenant, i % 7);
		slot_sums(i + 1, ncpu, &want);
		if (memcmp(&r->st, &want, sizeof(want)))
			fail_msg("if_id %u: counters differ (tx_packets %llu, want %llu)", r->if_id,
				 (unsigned long long)r->st.tx_packets,
				 (unsigned long long)want.tx_packets);
	}
	for (i = 0; i < XS_REASON_MAX; i++)
		assert_int_equal(ds->reasons[i], (uint64_t)(i + 1) * ncpu);
}

/* The loop the batched read replaced: get_next_key and two lookups per
 * tunnel. Timed for comparison only. */
static uint32_t per_key_read(struct fake_dev *fd)
{
	int ncpu = xs_num_cpus(), tfd = bpf_map__fd(fd->skel->maps.tunnel_by_ifid);
	int sfd = bpf_map__fd(fd->skel->maps.tunnel_stats);
	struct tunnel_stats *pc = calloc((size_t)ncpu, sizeof(*pc));
	uint32_t key, *prev = NULL, n = 0;
	struct tunnel_value tv;

	assert_non_null(pc);
	while (!bpf_map_get_next_key(tfd, prev, &key)) {
		prev = &key;
		if (!bpf_map_lookup_elem(tfd, &key, &tv) &&
		    !bpf_map_lookup_elem(sfd, &tv.tunnel_idx, pc))
			n++;
	}
	free(pc);
	return n;
}

static void test_100k(void **state)
{
	struct xs_ctx ctx = { 0 };
	struct xs_stats_query q = { .dev = "bench0" };
	struct xs_stats_set set;
	struct fake_dev fd;
	uint64_t t0, t1, best = UINT64_MAX;
	const char *cli = getenv("XS_BENCH_CLI");
	FILE *null;
	int round;

	if (!*state)
		skip();
	make_dev("bench0", BIG, &fd);
	/* Best of three: the first pays for faulting the buffers in. */
	for (round = 0; round < 3; round++) {
		t0 = now_ns();
		assert_int_equal(xs_stats_read(&ctx, &q, &set), 0);
		t1 = now_ns();
		if (t1 - t0 < best)
			best = t1 - t0;
		assert_int_equal(set.ndevs, 1);
		check_dev(&set.devs[0], "bench0", BIG);
		if (round < 2)
			xs_stats_free(&set);
	}
	print_message("stats read of %u tunnels (%d CPUs), batched: %.1f ms\n", BIG,
		      xs_num_cpus(), best / 1e6);

	null = fopen("/dev/null", "w");
	assert_non_null(null);
	t0 = now_ns();
	assert_int_equal(xs_prom_render(null, &set), 0);
	t1 = now_ns();
	fclose(null);
	print_message("prometheus rendering of %u tunnels: %.1f ms\n", BIG, (t1 - t0) / 1e6);
	xs_stats_free(&set);

	t0 = now_ns();
	assert_int_equal(per_key_read(&fd), BIG);
	t1 = now_ns();
	print_message("for comparison, one syscall per key and lookup: %.1f ms\n", (t1 - t0) / 1e6);

	if (cli) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s -j stats dev bench0 >/dev/null", cli);
		t0 = now_ns();
		assert_int_equal(system(cmd), 0);
		t1 = now_ns();
		print_message("\"xfrm-steer -j stats dev bench0\": %.1f ms\n", (t1 - t0) / 1e6);
		snprintf(cmd, sizeof(cmd), "%s stats prometheus >/dev/null", cli);
		t0 = now_ns();
		assert_int_equal(system(cmd), 0);
		t1 = now_ns();
		print_message("\"xfrm-steer stats prometheus\": %.1f ms\n", (t1 - t0) / 1e6);
	}
	xfrm_steer__destroy(fd.skel);
}

/* Several devices, in name order; one if_id; a device without tunnels. */
static void test_small(void **state)
{
	struct xs_ctx ctx = { 0 };
	struct xs_stats_query all = { 0 };
	struct xs_stats_query one = { .dev = "small1", .have_if_id = true, .if_id = 1002 };
	struct xs_stats_query none = { .dev = "small1", .have_if_id = true, .if_id = 5 };
	struct xs_stats_set set;
	struct fake_dev a, b;
	struct tunnel_stats want;
	size_t i, s1 = SIZE_MAX, s0 = SIZE_MAX;
	char dir[XS_DIR_MAX];

	if (!*state)
		skip();
	make_dev("small1", 3, &a);
	make_dev("small0", 0, &b);
	/* A directory of the pin root that is no attached device (the
	 * underlay program's pins of an underlay device): left out. */
	assert_int_equal(xs_pin_dir(&ctx, "ul9", dir, sizeof(dir)), 0);
	assert_int_equal(xs_mkdir_pins(&ctx, dir), 0);
	assert_int_equal(xs_stats_read(&ctx, &all, &set), 0);
	for (i = 0; i < set.ndevs; i++)
		assert_string_not_equal(set.devs[i].dev, "ul9");
	for (i = 0; i < set.ndevs; i++) {
		if (!strcmp(set.devs[i].dev, "small0"))
			s0 = i;
		if (!strcmp(set.devs[i].dev, "small1"))
			s1 = i;
		if (i)
			assert_true(strcmp(set.devs[i - 1].dev, set.devs[i].dev) < 0);
	}
	assert_true(s0 < s1 && s1 < set.ndevs);
	check_dev(&set.devs[s1], "small1", 3);
	check_dev(&set.devs[s0], "small0", 0);
	xs_stats_free(&set);

	assert_int_equal(xs_stats_read(&ctx, &one, &set), 0);
	assert_int_equal(set.ndevs, 1);
	assert_int_equal(set.devs[0].nrows, 1);
	assert_false(set.devs[0].whole);
	assert_int_equal(set.devs[0].rows[0].if_id, 1002);
	slot_sums(3, xs_num_cpus(), &want);
	assert_memory_equal(&set.devs[0].rows[0].st, &want, sizeof(want));
	xs_stats_free(&set);

	assert_int_equal(xs_stats_read(&ctx, &none, &set), 0);
	assert_int_equal(set.devs[0].nrows, 0);
	xs_stats_free(&set);

	/* Not attached: an error, reported. */
	one.dev = "nosuch";
	assert_int_equal(xs_stats_read(&ctx, &one, &set), -ENOENT);
	xfrm_steer__destroy(a.skel);
	xfrm_steer__destroy(b.skel);
}

/* A device whose pins still hold the tunnel table of a version before its
 * seal (XS_PIN_OLD_TUNNELS, two words a value): the readers refuse it,
 * naming attach, rather than read a table the programs no longer use; the
 * carry-over makes the new table hold exactly the old entries, sealed, even
 * where an upgrade that failed left other entries in it; once the old pin
 * is retired the device reads again. */
static void test_old_tunnel_table(void **state)
{
	char dir[XS_DIR_MAX], path[XS_DIR_MAX + 64], err[512] = "";
	struct xs_ctx ctx = { .errbuf = err, .errlen = sizeof(err) };
	struct xs_stats_query q = { .dev = "old0" };
	struct xs_stats_set set;
	struct tunnel_value tv;
	struct fake_dev a;
	__u32 key, old[2], max = 0, n = 0, *prev = NULL;
	int ofd, nfd;

	if (!*state)
		skip();
	make_dev("old0", 2, &a);
	assert_int_equal(xs_pin_dir(&ctx, "old0", dir, sizeof(dir)), 0);
	ofd = bpf_map_create(BPF_MAP_TYPE_HASH, "tunnels", sizeof(__u32), sizeof(old), 64, NULL);
	assert_true(ofd >= 0);
	for (key = 1000; key < 1003; key++) {
		old[0] = key - 999; /* slot */
		old[1] = key % 2; /* tenant */
		assert_int_equal(bpf_map_update_elem(ofd, &key, old, BPF_NOEXIST), 0);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, XS_PIN_OLD_TUNNELS);
	assert_int_equal(bpf_obj_pin(ofd, path), 0);
	close(ofd);

	assert_int_equal(xs_stats_read(&ctx, &q, &set), -EPROTO);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "attached by an older version"));
	assert_non_null(strstr(err, "run \"xfrm-steer attach dev old0\" to upgrade it"));

	ofd = xs_old_tunnels_open(dir, &max);
	assert_true(ofd >= 0);
	assert_int_equal(max, 64);
	nfd = bpf_map__fd(a.skel->maps.tunnel_by_ifid);
	key = 4242; /* left by a failed upgrade, gone from the old table since */
	tv = xs_tunnel_value(key, 9, 0);
	assert_int_equal(bpf_map_update_elem(nfd, &key, &tv, BPF_ANY), 0);
	assert_int_equal(xs_old_tunnels_carry(&ctx, ofd, nfd), 0);
	close(ofd);
	while (!bpf_map_get_next_key(nfd, prev, &key)) {
		prev = &key;
		assert_int_equal(bpf_map_lookup_elem(nfd, &key, &tv), 0);
		assert_true(key >= 1000 && key < 1003);
		assert_true(xs_tunnel_holds(&tv, key));
		assert_int_equal(tv.tunnel_idx, key - 999);
		assert_int_equal(tv.tenant, key % 2);
		n++;
	}
	assert_int_equal(n, 3);

	xs_remove_retired_pins(dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(xs_stats_read(&ctx, &q, &set), 0);
	xs_stats_free(&set);
	xfrm_steer__destroy(a.skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100k),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_old_tunnel_table),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
