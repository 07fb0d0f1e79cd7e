// SPDX-License-Identifier: GPL-2.0
/*
 * Datapath unit tests through BPF_PROG_TEST_RUN: the egress and ingress
 * programs run on hand-made packets, and the tests read back which tunnel's
 * counters moved and which drop reason was counted.
 *
 * On a kernel without the xfrm kfuncs (the build machine) a routed packet is
 * dropped as kfunc_failed and counted as tx_dropped on the tunnel it was
 * steered to, so route selection is still observable. With XS_EXPECT_KFUNC=1
 * (set in the test VM) the kfunc must exist and the packet must pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "common.h"
#include "xfrm_steer.skel.h"
#include "ingress_shim.skel.h"
#include "iif_stamp.skel.h"

/* The shim's verdicts of its own (tests/unit/ingress_shim.bpf.c). */
#define SHIM_NO_KFUNC 1000
#define SHIM_NO_TAIL_CALL 1001

#define NTUNNELS 64

struct fixture {
	struct xfrm_steer *skel;
	struct ingress_shim *shim; /* the tests of ingress counters only */
	int ncpu;
	bool expect_kfunc;
	uint32_t budget; /* cfg.cache_budget */
	uint32_t flags; /* cfg.flags */
	char *vlog[2]; /* when set: the verifier's statistics of egress, ingress */
	size_t vlog_len;
};

struct pkt {
	/* Like the kernel's NET_IP_ALIGN: two bytes before the 14-byte
	 * Ethernet header put the IP header on a 4-byte boundary, so the
	 * tests may use struct iphdr/ipv6hdr in place (UBSan checks). */
	uint8_t pad[2];
	uint8_t buf[256];
	uint32_t len;
};

static void build_v4(struct pkt *p, const char *dst, uint32_t payload)
{
	struct ethhdr *eth = (struct ethhdr *)p->buf;
	struct iphdr *iph = (struct iphdr *)(eth + 1);

	memset(p, 0, sizeof(*p));
	eth->h_proto = htons(ETH_P_IP);
	iph->version = 4;
	iph->ihl = 5;
	iph->ttl = 64;
	iph->protocol = IPPROTO_UDP;
	iph->tot_len = htons((uint16_t)(sizeof(*iph) + payload));
	inet_pton(AF_INET, "192.0.2.1", &iph->saddr);
	assert_int_equal(inet_pton(AF_INET, dst, &iph->daddr), 1);
	p->len = sizeof(*eth) + sizeof(*iph) + payload;
}

static void build_v6(struct pkt *p, const char *dst, uint32_t payload)
{
	struct ethhdr *eth = (struct ethhdr *)p->buf;
	struct ipv6hdr *ip6h = (struct ipv6hdr *)(eth + 1);

	memset(p, 0, sizeof(*p));
	eth->h_proto = htons(ETH_P_IPV6);
	ip6h->version = 6;
	ip6h->nexthdr = IPPROTO_UDP;
	ip6h->hop_limit = 64;
	ip6h->payload_len = htons((uint16_t)payload);
	inet_pton(AF_INET6, "2001:db8::1", &ip6h->saddr);
	assert_int_equal(inet_pton(AF_INET6, dst, &ip6h->daddr), 1);
	p->len = sizeof(*eth) + sizeof(*ip6h) + payload;
}

static int load_opts(struct fixture *f, uint32_t mode, uint32_t mask, uint32_t kernel_hash)
{
	struct meta_value m = { .magic = XS_META_MAGIC, .version = 1, .route_gen = 1 };
	uint32_t zero = 0;

	f->skel = xfrm_steer__open();
	if (!f->skel)
		return -1;
	f->skel->rodata->cfg.tenant_mode = mode;
	f->skel->rodata->cfg.mark_mask = mask;
	f->skel->rodata->cfg.cache_budget = f->budget;
	f->skel->rodata->cfg.flags = f->flags;
	/* BPF_PROG_TEST_RUN hands the program an Ethernet frame. */
	f->skel->rodata->l3_off = ETH_HLEN;
	f->skel->rodata->flow_hash_kernel = kernel_hash;
	bpf_map__set_max_entries(f->skel->maps.routes_v4, 1024);
	bpf_map__set_max_entries(f->skel->maps.routes_v6, 1024);
	bpf_map__set_max_entries(f->skel->maps.dcache_v4, 1024);
	bpf_map__set_max_entries(f->skel->maps.dcache_v6, 1024);
	bpf_map__set_max_entries(f->skel->maps.secpath, 1024);
	bpf_map__set_max_entries(f->skel->maps.tunnel_by_ifid, NTUNNELS);
	bpf_map__set_max_entries(f->skel->maps.tunnel_stats, NTUNNELS + 1);
	bpf_map__set_max_entries(f->skel->maps.tun_health, NTUNNELS + 1);
	bpf_map__set_max_entries(f->skel->maps.route_groups, 64);
	bpf_map__set_max_entries(f->skel->maps.group_down, 64);
	if (f->vlog[0]) {
		struct bpf_program *p[2] = { f->skel->progs.xs_egress, f->skel->progs.xs_ingress };

		for (int i = 0; i < 2; i++) {
			bpf_program__set_log_buf(p[i], f->vlog[i], f->vlog_len);
			bpf_program__set_log_level(p[i], 4); /* BPF_LOG_STATS */
		}
	}
	if (xfrm_steer__load(f->skel))
		return -1;
	m.tenant_mode = mode;
	m.mark_mask = mask;
	return bpf_map_update_elem(bpf_map__fd(f->skel->maps.meta), &zero, &m, BPF_ANY);
}

static int load(struct fixture *f, uint32_t mode, uint32_t mask)
{
	return load_opts(f, mode, mask, 0);
}

static int load_hash(struct fixture *f, uint32_t kernel_hash)
{
	return load_opts(f, XS_TENANT_NONE, 0, kernel_hash);
}

static int setup_mode(void **state, uint32_t mode, uint32_t mask)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *e = getenv("XS_EXPECT_KFUNC");

	if (!f)
		return -1;
	f->ncpu = libbpf_num_possible_cpus();
	f->expect_kfunc = e && *e == '1';
	if (load(f, mode, mask)) {
		fprintf(stderr, "cannot load the BPF object: %s\n", strerror(errno));
		xfrm_steer__destroy(f->skel);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup_none(void **state)
{
	return setup_mode(state, XS_TENANT_NONE, 0);
}

static int setup_mark(void **state)
{
	return setup_mode(state, XS_TENANT_MARK, 0xff00);
}

/* Two tenants by mark, with the budget a loader gives them: a quarter of
 * the cache (1,024 entries here) per tenant slot and second. */
static int setup_mark_budget(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ncpu = libbpf_num_possible_cpus();
	f->expect_kfunc = getenv("XS_EXPECT_KFUNC") && *getenv("XS_EXPECT_KFUNC") == '1';
	f->budget = 256;
	if (load(f, XS_TENANT_MARK, 0xff00)) {
		fprintf(stderr, "cannot load the BPF object: %s\n", strerror(errno));
		xfrm_steer__destroy(f->skel);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* tenant-key iif: the mark mask is the stamp bit of the bindings. */
#define STAMP XS_IIF_STAMP_DEFAULT

static int setup_iif(void **state)
{
	return setup_mode(state, XS_TENANT_IIF, STAMP);
}

/* Ingress with the shim in front, which hands xs_ingress packets that
 * carry an if_id, as if an SA had decrypted them. */
static int setup_ingress_flags(void **state, uint32_t flags)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint32_t zero = 0;
	int fd;

	if (!f)
		return -1;
	f->ncpu = libbpf_num_possible_cpus();
	f->expect_kfunc = getenv("XS_EXPECT_KFUNC") && *getenv("XS_EXPECT_KFUNC") == '1';
	f->flags = flags;
	*state = f;
	if (load(f, XS_TENANT_NONE, 0)) {
		fprintf(stderr, "cannot load the BPF object: %s\n", strerror(errno));
		return -1;
	}
	f->shim = ingress_shim__open_and_load();
	if (!f->shim) {
		fprintf(stderr, "cannot load the ingress shim: %s\n", strerror(errno));
		return -1;
	}
	fd = bpf_program__fd(f->skel->progs.xs_ingress);
	if (bpf_map_update_elem(bpf_map__fd(f->shim->maps.next), &zero, &fd, BPF_ANY)) {
		fprintf(stderr, "cannot put xs_ingress behind the shim: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_ingress(void **state)
{
	return setup_ingress_flags(state, 0);
}

static int setup_ingress_rpf(void **state)
{
	return setup_ingress_flags(state, XS_CFG_RPF);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ingress_shim__destroy(f->shim);
	xfrm_steer__destroy(f->skel);
	free(f);
	return 0;
}

static void bump_slot(struct fixture *f, uint32_t slot)
{
	int fd = bpf_map__fd(f->skel->maps.route_gens);
	uint64_t v;

	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &v), 0);
	v++;
	assert_int_equal(bpf_map_update_elem(fd, &slot, &v, BPF_ANY), 0);
}

/* Route change as the loader makes it (xs_route_changed()): update, then
 * bump the generations the change may concern. The programs' route_gens
 * and gen_fine_slots are the object's defaults here. */
static void bump_gen(struct fixture *f, const struct xs_prefix *p, uint32_t tenant)
{
	uint32_t fine = XS_GEN_FINE_DEFAULT, first, count, i;

	xs_gen_plan(p->family == AF_INET6, tenant, p->addr, p->plen, fine, &first, &count);
	if (!count)
		bump_slot(f, first);
	for (i = 0; i < count; i++)
		bump_slot(f, (first + i) & (fine - 1));
}

static void route(struct fixture *f, const char *prefix, uint32_t tenant, uint32_t if_id,
		  bool add)
{
	struct route_value v = { .if_id = if_id, .tunnel_idx = if_id };
	struct xs_prefix p;
	int fd;

	assert_int_equal(parse_prefix(prefix, &p, false), 0);
	if (p.family == AF_INET) {
		struct route_key_v4 k = { .prefixlen = 32 + p.plen, .tenant = tenant };

		memcpy(&k.addr, p.addr, 4);
		fd = bpf_map__fd(f->skel->maps.routes_v4);
		assert_int_equal(add ? bpf_map_update_elem(fd, &k, &v, BPF_ANY) :
				       bpf_map_delete_elem(fd, &k),
				 0);
	} else {
		struct route_key_v6 k = { .prefixlen = 32 + p.plen, .tenant = tenant };

		memcpy(k.addr, p.addr, 16);
		fd = bpf_map__fd(f->skel->maps.routes_v6);
		assert_int_equal(add ? bpf_map_update_elem(fd, &k, &v, BPF_ANY) :
				       bpf_map_delete_elem(fd, &k),
				 0);
	}
	bump_gen(f, &p, tenant);
}

static uint64_t drops(struct fixture *f, uint32_t reason)
{
	uint64_t vals[f->ncpu], sum = 0;
	int c;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.drop_stats), &reason,
					     vals),
			 0);
	for (c = 0; c < f->ncpu; c++)
		sum += vals[c];
	return sum;
}

static void tunnel(struct fixture *f, uint32_t idx, struct tunnel_stats *sum)
{
	struct tunnel_stats vals[f->ncpu];
	int c;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.tunnel_stats), &idx,
					     vals),
			 0);
	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < f->ncpu; c++) {
		sum->tx_packets += vals[c].tx_packets;
		sum->tx_bytes += vals[c].tx_bytes;
		sum->tx_dropped += vals[c].tx_dropped;
		sum->rx_packets += vals[c].rx_packets;
		sum->rx_bytes += vals[c].rx_bytes;
		sum->rx_dropped += vals[c].rx_dropped;
	}
}

static int try_run(int prog_fd, struct pkt *p, uint32_t mark, uint32_t iif, int *retval)
{
	struct __sk_buff ctx = { .mark = mark, .ingress_ifindex = iif };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	*retval = (int)opts.retval;
	return 0;
}

static int run(struct fixture *f, int prog_fd, struct pkt *p, uint32_t mark, uint32_t iif)
{
	int retval = -1;

	(void)f;
	assert_int_equal(try_run(prog_fd, p, mark, iif, &retval), 0);
	return retval;
}

/* A packet whose IP header is cut short. Kernels since early 2026 refuse to
 * build such an skb in BPF_PROG_TEST_RUN (-EINVAL) so it never reaches the
 * program there; older ones hand it over and it must be a parse drop.
 * Returns the number of parse drops the caller should expect. */
static int truncated(struct fixture *f, struct pkt *p)
{
	int prog = bpf_program__fd(f->skel->progs.xs_egress), retval = -1, err;

	err = try_run(prog, p, 0, 0, &retval);
	if (err == -EINVAL) {
		print_message("note: this kernel refuses truncated IP packets in test runs\n");
		return 0;
	}
	assert_int_equal(err, 0);
	assert_int_equal(retval, TC_ACT_SHOT);
	return 1;
}

/* Send p through egress; return the if_id (== tunnel slot in these tests)
 * whose counters moved, or 0 when the packet was dropped unsteered. */
static uint32_t egress(struct fixture *f, struct pkt *p, uint32_t mark, uint32_t iif)
{
	struct tunnel_stats before[NTUNNELS + 1], after;
	uint64_t kfunc0 = drops(f, XS_DROP_KFUNC);
	uint32_t i, hit = 0;
	int ret;

	for (i = 1; i <= NTUNNELS; i++)
		tunnel(f, i, &before[i]);
	ret = run(f, bpf_program__fd(f->skel->progs.xs_egress), p, mark, iif);
	for (i = 1; i <= NTUNNELS; i++) {
		tunnel(f, i, &after);
		if (after.tx_packets + after.tx_dropped ==
		    before[i].tx_packets + before[i].tx_dropped)
			continue;
		assert_int_equal(hit, 0); /* exactly one tunnel */
		hit = i;
		if (f->expect_kfunc) {
			assert_int_equal(ret, TC_ACT_OK);
			assert_int_equal(after.tx_packets, before[i].tx_packets + 1);
			/* L3 bytes, as the SA counts them */
			assert_int_equal(after.tx_bytes - before[i].tx_bytes, p->len - ETH_HLEN);
		} else if (ret == TC_ACT_SHOT) {
			assert_int_equal(drops(f, XS_DROP_KFUNC), kfunc0 + 1);
		}
	}
	if (!hit)
		assert_int_equal(ret, TC_ACT_SHOT);
	return hit;
}

static void test_lpm_precedence(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	route(f, "10.0.0.0/8", 0, 1, true);
	route(f, "10.1.0.0/16", 0, 2, true);
	route(f, "10.1.2.3/32", 0, 3, true);
	route(f, "0.0.0.0/0", 0, 4, true);

	build_v4(&p, "10.9.9.9", 20);
	assert_int_equal(egress(f, &p, 0, 0), 1);
	build_v4(&p, "10.1.9.9", 20);
	assert_int_equal(egress(f, &p, 0, 0), 2);
	build_v4(&p, "10.1.2.3", 20);
	assert_int_equal(egress(f, &p, 0, 0), 3);
	build_v4(&p, "11.0.0.1", 20);
	assert_int_equal(egress(f, &p, 0, 0), 4);
}

/* Whether the decision for (tenant, dst) is in the cache and still valid,
 * as the programs judge it: an unrelated change must leave it so. */
static bool cached(struct fixture *f, const char *dst, uint32_t tenant)
{
	int gfd = bpf_map__fd(f->skel->maps.route_gens);
	struct cache_value cv;
	uint64_t gf, gt, seal;
	struct xs_prefix p;
	int err;

	assert_int_equal(parse_prefix(dst, &p, false), 0);
	if (p.family == AF_INET) {
		struct cache_key_v4 k = { .tenant = tenant };

		memcpy(&k.addr, p.addr, 4);
		err = bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.dcache_v4), &k, &cv);
		seal = xs_cache_seal_v4(&k, &cv);
	} else {
		struct cache_key_v6 k = { .tenant = tenant };

		memcpy(k.addr, p.addr, 16);
		err = bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.dcache_v6), &k, &cv);
		seal = xs_cache_seal_v6(&k, &cv);
	}
	if (err)
		return false;
	assert_int_equal(bpf_map_lookup_elem(gfd, &cv.fine, &gf), 0);
	assert_int_equal(bpf_map_lookup_elem(gfd, &cv.tslot, &gt), 0);
	return xs_cache_holds(&cv, gf, gt, seal);
}

/* Each change that can alter a cached answer makes it go: a more specific
 * route under the cached one (at the three kinds of prefix: inside the
 * destination's region, a few regions wide, wider still), a route replaced
 * in place, a route deleted; IPv4 and IPv6. */
static void test_cache_follows_route_changes(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	route(f, "172.16.0.0/12", 0, 5, true);
	build_v4(&p, "172.16.1.1", 40);
	assert_int_equal(egress(f, &p, 0, 0), 5);
	assert_true(cached(f, "172.16.1.1", 0));
	assert_int_equal(egress(f, &p, 0, 0), 5); /* from the cache */

	/* A more specific route must win although the decision is cached:
	 * a few regions wide (a /20 is 16 /24s), then within the region. */
	route(f, "172.16.0.0/20", 0, 8, true);
	assert_int_equal(egress(f, &p, 0, 0), 8);
	route(f, "172.16.1.0/24", 0, 6, true);
	assert_int_equal(egress(f, &p, 0, 0), 6);
	/* Replacing a route in place changes the answer too. */
	route(f, "172.16.1.0/24", 0, 7, true);
	assert_int_equal(egress(f, &p, 0, 0), 7);
	route(f, "172.16.1.0/24", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 8);
	route(f, "172.16.0.0/20", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 5);
	route(f, "172.16.0.0/12", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 0);

	/* Under a default route, a route wider than the span (tenant slot). */
	route(f, "0.0.0.0/0", 0, 1, true);
	build_v4(&p, "10.1.2.3", 40);
	assert_int_equal(egress(f, &p, 0, 0), 1);
	assert_int_equal(egress(f, &p, 0, 0), 1);
	route(f, "10.0.0.0/8", 0, 2, true);
	assert_int_equal(egress(f, &p, 0, 0), 2);
	route(f, "10.1.2.3/32", 0, 3, true);
	assert_int_equal(egress(f, &p, 0, 0), 3);
	route(f, "10.1.2.3/32", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 2);

	/* IPv6: /56 regions. */
	route(f, "::/0", 0, 1, true);
	build_v6(&p, "2001:db8:1:2::1", 30);
	assert_int_equal(egress(f, &p, 0, 0), 1);
	assert_true(cached(f, "2001:db8:1:2::1", 0));
	route(f, "2001:db8::/32", 0, 2, true); /* tenant slot */
	assert_int_equal(egress(f, &p, 0, 0), 2);
	route(f, "2001:db8:1::/48", 0, 3, true); /* 256 regions */
	assert_int_equal(egress(f, &p, 0, 0), 3);
	route(f, "2001:db8:1:2::/64", 0, 4, true); /* in the region */
	assert_int_equal(egress(f, &p, 0, 0), 4);
	route(f, "2001:db8:1:2::/64", 0, 9, true);
	assert_int_equal(egress(f, &p, 0, 0), 9);
	route(f, "2001:db8:1:2::/64", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 3);
	route(f, "2001:db8:1::/48", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 2);
	route(f, "2001:db8::/32", 0, 0, false);
	assert_int_equal(egress(f, &p, 0, 0), 1);
}

/* Changes that cannot alter a cached answer leave it cached: routes in
 * other regions of the same tenant, and any route of another tenant, the
 * same prefix included. A change that does concern it still wins. */
static void test_cache_kept_across_unrelated_changes(void **state)
{
	struct fixture *f = *state;
	struct pkt p4, p6;

	route(f, "192.168.0.0/16", 0x100, 11, true);
	route(f, "2001:db8:a::/48", 0x100, 11, true);
	build_v4(&p4, "192.168.1.200", 56);
	build_v6(&p6, "2001:db8:a:1::1", 30);
	assert_int_equal(egress(f, &p4, 0x100, 0), 11);
	assert_int_equal(egress(f, &p6, 0x100, 0), 11);
	assert_true(cached(f, "192.168.1.200", 0x100));
	assert_true(cached(f, "2001:db8:a:1::1", 0x100));

	/* Another tenant: its routes, its default route, the same prefixes. */
	route(f, "192.168.0.0/16", 0x200, 12, true);
	route(f, "0.0.0.0/0", 0x200, 12, true);
	route(f, "192.168.1.0/24", 0x200, 12, true);
	route(f, "2001:db8:a::/48", 0x200, 12, true);
	route(f, "::/0", 0x200, 12, true);
	route(f, "2001:db8:a:1::/64", 0x200, 12, true);
	assert_true(cached(f, "192.168.1.200", 0x100));
	assert_true(cached(f, "2001:db8:a:1::1", 0x100));
	/* The same tenant, elsewhere: road warriors coming and going. */
	route(f, "10.3.0.7/32", 0x100, 13, true);
	route(f, "10.3.0.7/32", 0x100, 0, false);
	route(f, "192.168.77.0/24", 0x100, 13, true);
	route(f, "2001:db8:b::5/128", 0x100, 13, true);
	route(f, "2001:db8:a:100::/56", 0x100, 13, true);
	assert_true(cached(f, "192.168.1.200", 0x100));
	assert_true(cached(f, "2001:db8:a:1::1", 0x100));
	assert_int_equal(egress(f, &p4, 0x100, 0), 11);
	assert_int_equal(egress(f, &p6, 0x100, 0), 11);
	assert_int_equal(egress(f, &p4, 0x200, 0), 12);
	assert_int_equal(egress(f, &p6, 0x200, 0), 12);

	/* A change of the tenant's route covering the destination. */
	route(f, "192.168.1.0/24", 0x100, 14, true);
	route(f, "2001:db8:a:1::/64", 0x100, 14, true);
	assert_false(cached(f, "192.168.1.200", 0x100));
	assert_false(cached(f, "2001:db8:a:1::1", 0x100));
	assert_int_equal(egress(f, &p4, 0x100, 0), 14);
	assert_int_equal(egress(f, &p6, 0x100, 0), 14);
}

/* Routes 10.0.0.0/8 of tenant to tunnel 1, sends to 10.1.1.1 so that its
 * decision is cached, and gives that entry's key and value. */
static void cached_v4(struct fixture *f, uint32_t tenant, struct cache_key_v4 *k,
		      struct cache_value *v)
{
	struct pkt p;

	route(f, "10.0.0.0/8", tenant, 1, true);
	build_v4(&p, "10.1.1.1", 40);
	assert_int_equal(egress(f, &p, tenant, 0), 1);
	k->tenant = tenant;
	assert_int_equal(inet_pton(AF_INET, "10.1.1.1", &k->addr), 1);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.dcache_v4), k, v), 0);
}

/* An entry whose slot words come from another entry (a mix of two) is
 * not judged on those slots: its own route changed, the other slots did
 * not move, and a seal without the slots would have let the stale route
 * through. */
static void test_cache_entry_with_foreign_slots_is_not_trusted(void **state)
{
	struct fixture *f = *state;
	int fd = bpf_map__fd(f->skel->maps.dcache_v4), gfd = bpf_map__fd(f->skel->maps.route_gens);
	struct cache_key_v4 k;
	struct cache_value old, v;
	uint64_t g, want;
	uint32_t s;
	struct pkt p;

	cached_v4(f, 0, &k, &old);
	build_v4(&p, "10.1.1.1", 40);
	assert_int_equal(bpf_map_lookup_elem(gfd, &old.fine, &want), 0);
	/* A more specific route moves the entry's fine slot. */
	route(f, "10.1.1.0/24", 0, 2, true);
	/* Another fine slot at the generation the entry was made under. */
	for (s = 0; s < f->skel->rodata->cfg.gen_fine_slots; s++) {
		if (s == old.fine)
			continue;
		assert_int_equal(bpf_map_lookup_elem(gfd, &s, &g), 0);
		if (g == want)
			break;
	}
	assert_true(s < f->skel->rodata->cfg.gen_fine_slots);
	v = old;
	v.fine = s;
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	assert_int_equal(egress(f, &p, 0, 0), 2);
}

/* The instructions the verifier walks to load the programs, from its
 * statistics ("processed N insns"). */
static long verifier_walk(const char *log)
{
	const char *p = strstr(log, "processed ");

	return p ? strtol(p + strlen("processed "), NULL, 10) : -1;
}

/* The verifier's walk of the programs stays small in every tenant mode,
 * with both flow hashes: it is most of an attach's time in an emulated
 * VM, and it grows with every path it cannot prune (a compare the compiler
 * made of a branch-free select in the route group code took egress from
 * about 5,000 to 270,000 instructions). */
static void test_verifier_walk_is_bounded(void **state)
{
	static const uint32_t modes[] = { XS_TENANT_NONE, XS_TENANT_MARK, XS_TENANT_IIF };
	const long budget = 20000;

	(void)state;
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		for (uint32_t kh = 0; kh < 2; kh++) {
			/* Tenant keys come with a cache budget, as attach sets. */
			struct fixture f = { .vlog_len = 1 << 16,
					     .budget = modes[m] == XS_TENANT_NONE ? 0 : 512 };
			long n[2];

			f.vlog[0] = calloc(1, f.vlog_len);
			f.vlog[1] = calloc(1, f.vlog_len);
			assert_non_null(f.vlog[0]);
			assert_non_null(f.vlog[1]);
			assert_int_equal(load_opts(&f, modes[m],
						   modes[m] == XS_TENANT_MARK ? 0xff00 :
						   modes[m] == XS_TENANT_IIF  ? STAMP :
										0,
						   kh),
					 0);
			n[0] = verifier_walk(f.vlog[0]);
			n[1] = verifier_walk(f.vlog[1]);
			printf("tenant mode %u, kernel hash %u: verifier walked egress %ld, ingress %ld instructions\n",
			       modes[m], kh, n[0], n[1]);
			assert_in_range(n[0], 1, budget);
			assert_in_range(n[1], 1, budget);
			xfrm_steer__destroy(f.skel);
			free(f.vlog[0]);
			free(f.vlog[1]);
		}
	}
}

/* Moves the cache entry of (from_tenant, from) into the place of
 * (to_tenant, to), as when another CPU recycles the element a reader has
 * just found; with route_only, only the route moves (an element caught
 * half written). */
static void recycle(struct fixture *f, const char *from, uint32_t from_tenant, const char *to,
		    uint32_t to_tenant, bool route_only)
{
	struct cache_key_v6 kf = { .tenant = from_tenant }, kt = { .tenant = to_tenant };
	struct cache_value vf, vt;
	struct xs_prefix pf, pt;
	int fd;

	assert_int_equal(parse_prefix(from, &pf, false), 0);
	assert_int_equal(parse_prefix(to, &pt, false), 0);
	fd = bpf_map__fd(pf.family == AF_INET ? f->skel->maps.dcache_v4 :
						f->skel->maps.dcache_v6);
	/* tenant first, then the address, in both key layouts */
	memcpy(kf.addr, pf.addr, pf.family == AF_INET ? 4 : 16);
	memcpy(kt.addr, pt.addr, pt.family == AF_INET ? 4 : 16);
	assert_int_equal(bpf_map_lookup_elem(fd, &kf, &vf), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &kt, &vt), 0);
	if (route_only)
		vt.route = vf.route;
	else
		vt = vf;
	assert_int_equal(bpf_map_update_elem(fd, &kt, &vt, BPF_EXIST), 0);
}

/* A cache entry that holds another key's decision (another tenant's, or
 * another destination's), or one mixed of two, is never trusted, however
 * current its generations: the packet takes the trie and gets its own
 * tenant's tunnel. IPv4 and IPv6. */
static void test_cache_entry_of_another_key_is_not_trusted(void **state)
{
	static const char *const dst[2][2] = { { "10.1.1.1", "10.1.1.2" },
					       { "2001:db8:1::1", "2001:db8:1:5::2" } };
	static const char *const net[2][2] = { { "10.0.0.0/8", "10.1.1.2/32" },
					       { "2001:db8::/32", "2001:db8:1:5::2/128" } };
	struct fixture *f = *state;
	struct pkt p, q;
	int v6;

	for (v6 = 0; v6 < 2; v6++) {
		route(f, net[v6][0], 0x100, 1, true);
		route(f, net[v6][0], 0x200, 2, true);
		route(f, net[v6][1], 0x100, 3, true);
		if (v6) {
			build_v6(&p, dst[v6][0], 30);
			build_v6(&q, dst[v6][1], 30);
		} else {
			build_v4(&p, dst[v6][0], 40);
			build_v4(&q, dst[v6][1], 40);
		}
		assert_int_equal(egress(f, &p, 0x100, 0), 1);
		assert_int_equal(egress(f, &p, 0x200, 0), 2);
		assert_int_equal(egress(f, &q, 0x100, 0), 3);
		assert_true(cached(f, dst[v6][0], 0x100));

		/* Another tenant's decision for the same destination. */
		recycle(f, dst[v6][0], 0x200, dst[v6][0], 0x100, false);
		assert_false(cached(f, dst[v6][0], 0x100));
		assert_int_equal(egress(f, &p, 0x100, 0), 1);
		assert_true(cached(f, dst[v6][0], 0x100)); /* its own again */
		/* Another destination's, of the same tenant. */
		recycle(f, dst[v6][1], 0x100, dst[v6][0], 0x100, false);
		assert_int_equal(egress(f, &p, 0x100, 0), 1);
		/* Half written: the other tenant's route, the rest its own. */
		recycle(f, dst[v6][0], 0x200, dst[v6][0], 0x100, true);
		assert_int_equal(egress(f, &p, 0x100, 0), 1);
		assert_int_equal(egress(f, &p, 0x100, 0), 1);
		assert_true(cached(f, dst[v6][0], 0x100));
		assert_int_equal(egress(f, &p, 0x200, 0), 2);
	}
}

/* What a version before the seal left in a pinned cache (the bare sum of
 * the generations) is not trusted either: after an upgrade such an entry is
 * taken for stale and rewritten, whatever route it names. */
static void test_cache_entry_without_seal_is_not_trusted(void **state)
{
	struct fixture *f = *state;
	int fd = bpf_map__fd(f->skel->maps.dcache_v4), gfd = bpf_map__fd(f->skel->maps.route_gens);
	struct cache_key_v4 k;
	struct cache_value v;
	uint64_t gf, gt;
	struct pkt p;

	cached_v4(f, 0x100, &k, &v);
	build_v4(&p, "10.1.1.1", 40);
	assert_int_equal(bpf_map_lookup_elem(gfd, &v.fine, &gf), 0);
	assert_int_equal(bpf_map_lookup_elem(gfd, &v.tslot, &gt), 0);
	v.route.if_id = v.route.tunnel_idx = 2;
	v.seal = gf + gt;
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_EXIST), 0);
	assert_int_equal(egress(f, &p, 0x100, 0), 1);
	assert_true(cached(f, "10.1.1.1", 0x100));
	assert_int_equal(egress(f, &p, 0x100, 0), 1);
}

/* One tenant sending to ever new destinations (a scan) fills the cache
 * only at its budget: the other tenant's decisions stay cached. */
static void test_cache_scan_cannot_flush_another_tenant(void **state)
{
	struct fixture *f = *state;
	char dst[32];
	struct pkt p;
	int i, kept = 0;

	route(f, "10.0.0.0/8", 0x100, 11, true);
	route(f, "0.0.0.0/0", 0x200, 12, true);
	for (i = 0; i < 100; i++) {
		snprintf(dst, sizeof(dst), "10.0.%d.%d", i / 10, i % 10 + 1);
		build_v4(&p, dst, 20);
		assert_int_equal(egress(f, &p, 0x100, 0), 11);
	}
	/* 8 times the cache (1,024 entries) of new destinations. */
	for (i = 0; i < 8192; i++) {
		snprintf(dst, sizeof(dst), "100.%d.%d.1", i / 250, i % 250);
		build_v4(&p, dst, 20);
		assert_int_equal(run(f, bpf_program__fd(f->skel->progs.xs_egress), &p, 0x200, 0),
				 f->expect_kfunc ? TC_ACT_OK : TC_ACT_SHOT);
	}
	for (i = 0; i < 100; i++) {
		snprintf(dst, sizeof(dst), "10.0.%d.%d", i / 10, i % 10 + 1);
		kept += cached(f, dst, 0x100);
	}
	assert_int_equal(kept, 100);
}

static void test_no_route_is_dropped(void **state)
{
	struct fixture *f = *state;
	uint64_t before = drops(f, XS_DROP_NO_ROUTE);
	struct pkt p;

	build_v4(&p, "198.51.100.7", 20);
	assert_int_equal(egress(f, &p, 0, 0), 0);
	build_v6(&p, "2001:db8:dead::1", 20);
	assert_int_equal(egress(f, &p, 0, 0), 0);
	assert_int_equal(drops(f, XS_DROP_NO_ROUTE), before + 2);
}

static void test_ipv6(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	route(f, "2001:db8:1::/48", 0, 8, true);
	route(f, "2001:db8:1:2::/64", 0, 9, true);
	build_v6(&p, "2001:db8:1:5::1", 30);
	assert_int_equal(egress(f, &p, 0, 0), 8);
	build_v6(&p, "2001:db8:1:2::1", 30);
	assert_int_equal(egress(f, &p, 0, 0), 9);
	/* An IPv4 route of the same bits does not leak into IPv6. */
	route(f, "32.1.13.184/29", 0, 10, true);
	build_v6(&p, "2001:db9::1", 30);
	assert_int_equal(egress(f, &p, 0, 0), 0);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	uint64_t parse0 = drops(f, XS_DROP_PARSE), notip0 = drops(f, XS_DROP_NOT_IP);
	struct ethhdr *eth;
	struct iphdr *iph;
	struct pkt p;
	int expect = 0;

	route(f, "0.0.0.0/0", 0, 4, true);
	route(f, "::/0", 0, 4, true);

	/* IPv4 and IPv6 headers cut short */
	build_v4(&p, "10.0.0.1", 0);
	p.len = ETH_HLEN + 12;
	expect += truncated(f, &p);
	build_v6(&p, "2001:db8::2", 0);
	p.len = ETH_HLEN + 39;
	expect += truncated(f, &p);
	/* ethertype says IPv4, the version nibble does not */
	build_v4(&p, "10.0.0.1", 20);
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	iph->version = 6;
	assert_int_equal(egress(f, &p, 0, 0), 0);
	/* header length below the minimum */
	build_v4(&p, "10.0.0.1", 20);
	iph->ihl = 4;
	assert_int_equal(egress(f, &p, 0, 0), 0);
	assert_int_equal(drops(f, XS_DROP_PARSE), parse0 + expect + 2);

	/* ARP is not IP */
	build_v4(&p, "10.0.0.1", 20);
	eth = (struct ethhdr *)p.buf;
	eth->h_proto = htons(ETH_P_ARP);
	assert_int_equal(egress(f, &p, 0, 0), 0);
	assert_int_equal(drops(f, XS_DROP_NOT_IP), notip0 + 1);

	/* A well-formed packet still passes after all that. */
	build_v4(&p, "10.0.0.1", 20);
	assert_int_equal(egress(f, &p, 0, 0), 4);
}

static void test_tenant_by_mark(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	/* Same prefix, two tenants, two tunnels. */
	route(f, "192.168.1.0/24", 0x100, 11, true);
	route(f, "192.168.1.0/24", 0x200, 12, true);
	build_v4(&p, "192.168.1.200", 56);
	assert_int_equal(egress(f, &p, 0x100, 0), 11);
	assert_int_equal(egress(f, &p, 0x200, 0), 12);
	/* Bits outside the mask do not change the tenant. */
	assert_int_equal(egress(f, &p, 0xab0001ff, 0), 11);
	/* A tenant with no route for the prefix gets nothing: no fallback to
	 * another tenant's route. */
	assert_int_equal(egress(f, &p, 0x300, 0), 0);
	assert_int_equal(egress(f, &p, 0, 0), 0);
}

static void test_tenant_by_iif(void **state)
{
	struct fixture *f = *state;
	uint64_t unbound0 = drops(f, XS_DROP_IIF_UNBOUND), noroute0;
	struct pkt p;

	route(f, "192.168.1.0/24", 5, 13, true);
	route(f, "192.168.1.0/24", 6, 14, true);
	route(f, "192.168.1.0/24", 0, 15, true);
	build_v4(&p, "192.168.1.200", 56);
	/* Forwarded, stamped by the binding of the interface it came in on:
	 * the tenant is that interface. Other mark bits do not matter. */
	assert_int_equal(egress(f, &p, STAMP, 5), 13);
	assert_int_equal(egress(f, &p, STAMP | 0xff00, 6), 14);
	assert_int_equal(drops(f, XS_DROP_IIF_UNBOUND), unbound0);
	/* A bound tenant's number without the stamp: a new interface that
	 * got the old ifindex, or one re-created and not bound. Nothing. */
	assert_int_equal(egress(f, &p, 0, 5), 0);
	assert_int_equal(egress(f, &p, 0xff00, 6), 0);
	assert_int_equal(drops(f, XS_DROP_IIF_UNBOUND), unbound0 + 2);
	/* Stamped, and no route for that tenant: no_route as before. */
	noroute0 = drops(f, XS_DROP_NO_ROUTE);
	assert_int_equal(egress(f, &p, STAMP, 7), 0);
	assert_int_equal(drops(f, XS_DROP_NO_ROUTE), noroute0 + 1);
	/* Locally generated (ingress_ifindex 0): tenant 0, no stamp needed. */
	assert_int_equal(egress(f, &p, 0, 0), 15);
	assert_int_equal(drops(f, XS_DROP_IIF_UNBOUND), unbound0 + 2);
}

/* The stamp is taken off before the kernel's xfrm lookup sees the mark;
 * the other bits are left as they were. */
static void test_iif_stamp_cleared(void **state)
{
	struct fixture *f = *state;
	struct __sk_buff in = { .mark = STAMP | 0x1234, .ingress_ifindex = 5 }, out = { 0 };
	struct pkt p;

	route(f, "192.168.1.0/24", 5, 13, true);
	build_v4(&p, "192.168.1.200", 56);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p.buf, .data_size_in = p.len,
		    .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.xs_egress), &opts),
			 0);
	if (f->expect_kfunc)
		assert_int_equal(opts.retval, TC_ACT_OK);
	assert_int_equal(out.mark, 0x1234);
}

/* The mark after the binding's program, loaded with stamp 0x40000000 and
 * the namespace inode netns, ran on a packet marked 0x1234 (of a device of
 * this namespace: the test run's loopback). */
static uint32_t stamped(uint32_t netns)
{
	struct __sk_buff in = { .mark = 0x1234 }, out = { 0 };
	struct iif_stamp *skel = iif_stamp__open();
	struct pkt p;

	assert_non_null(skel);
	skel->rodata->stamp = 0x40000000;
	skel->rodata->netns_ino = netns;
	assert_int_equal(iif_stamp__load(skel), 0);
	build_v4(&p, "192.168.1.200", 56);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p.buf, .data_size_in = p.len,
		    .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xs_iif_stamp), &opts),
			 0);
	/* The chain goes on: the binding decides nothing. */
	assert_int_equal((int)opts.retval, TCX_NEXT);
	iif_stamp__destroy(skel);
	return out.mark;
}

/* The binding's program sets its stamp bit and keeps the rest of the mark,
 * in the namespace it was bound in only: a device moved elsewhere takes
 * its tcx program along. */
static void test_iif_stamp_program(void **state)
{
	uint64_t ino;

	(void)state;
	assert_int_equal(xs_netns_id(&ino), 0);
	assert_int_equal(stamped((uint32_t)ino), 0x40001234);
	assert_int_equal(stamped((uint32_t)ino + 1), 0x1234);
}

static void test_ingress_without_metadata(void **state)
{
	struct fixture *f = *state;
	uint64_t before = drops(f, XS_DROP_NO_XFRM_INFO);
	struct pkt p;

	/* A packet that no SA decrypted carries no if_id: it cannot be
	 * attributed to a tunnel and must not pass. */
	build_v4(&p, "10.0.0.1", 20);
	assert_int_equal(run(f, bpf_program__fd(f->skel->progs.xs_ingress), &p, 0, 0),
			 TC_ACT_SHOT);
	assert_int_equal(drops(f, XS_DROP_NO_XFRM_INFO), before + 1);
}

/* p through xs_ingress as if the SAs of if_id had decrypted it. Returns
 * SHIM_NO_KFUNC where the kernel lacks the kfuncs (and it may). */
static int ingress_as(struct fixture *f, struct pkt *p, uint32_t if_id)
{
	int ret;

	f->shim->bss->shim_if_id = if_id;
	ret = run(f, bpf_program__fd(f->shim->progs.ingress_shim), p, 0, 0);
	if (ret == SHIM_NO_KFUNC && !f->expect_kfunc) {
		print_message("note: no xfrm kfuncs in this kernel, ingress counters not tested\n");
		return ret;
	}
	assert_int_not_equal(ret, SHIM_NO_KFUNC);
	assert_int_not_equal(ret, SHIM_NO_TAIL_CALL);
	return ret;
}

/* rx_bytes counts the L3 bytes the packet really has, as the SA's own
 * counter does, whatever its header claims: the inner header is the
 * peer's to write, and nothing checks it before ingress runs. */
static void test_ingress_counts_real_length(void **state)
{
	struct fixture *f = *state;
	struct tunnel_value tv = xs_tunnel_value(21, 21, 0);
	uint32_t if_id = 21;
	struct tunnel_stats st;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	struct pkt p;
	int ret;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.tunnel_by_ifid), &if_id, &tv,
					     BPF_ANY),
			 0);
	/* A 100-byte frame: 86 bytes of IPv4 */
	build_v4(&p, "10.0.0.1", 100 - ETH_HLEN - 20);
	ret = ingress_as(f, &p, if_id);
	if (ret == SHIM_NO_KFUNC)
		return;
	assert_int_equal(ret, TC_ACT_OK);
	tunnel(f, 21, &st);
	assert_int_equal(st.rx_packets, 1);
	assert_int_equal(st.rx_bytes, 86);
	/* The same bytes with a total length of 1400, and of 40 */
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	iph->tot_len = htons(1400);
	assert_int_equal(ingress_as(f, &p, if_id), TC_ACT_OK);
	tunnel(f, 21, &st);
	assert_int_equal(st.rx_bytes, 2 * 86);
	iph->tot_len = htons(40);
	assert_int_equal(ingress_as(f, &p, if_id), TC_ACT_OK);
	tunnel(f, 21, &st);
	assert_int_equal(st.rx_bytes, 3 * 86);
	/* IPv6 with a payload length of 1400 in 46 bytes */
	build_v6(&p, "2001:db8::2", 100 - ETH_HLEN - 40);
	ip6h = (struct ipv6hdr *)(p.buf + ETH_HLEN);
	ip6h->payload_len = htons(1400);
	assert_int_equal(ingress_as(f, &p, if_id), TC_ACT_OK);
	tunnel(f, 21, &st);
	assert_int_equal(st.rx_packets, 4);
	assert_int_equal(st.rx_bytes, 4 * 86);
	assert_int_equal(st.rx_dropped, 0);
}

/* The tunnels hash is preallocated: an update or a delete and an insert may
 * hand the element ingress has just found under one if_id to another. A
 * packet of tunnel 21 that finds 21's element holding tunnel 22's entry, as
 * after such a recycle, is not counted to tunnel 22 (nor given its tenant):
 * it is a packet of no known tunnel. An entry without its seal, as
 * versions before it wrote them, is not trusted either. */
static void test_ingress_recycled_tunnel_entry(void **state)
{
	struct fixture *f = *state;
	int tfd = bpf_map__fd(f->skel->maps.tunnel_by_ifid);
	struct tunnel_value tv = xs_tunnel_value(22, 22, 0);
	uint32_t if_id = 22;
	struct tunnel_stats st;
	uint64_t untracked;
	struct pkt p;
	int ret;

	assert_int_equal(bpf_map_update_elem(tfd, &if_id, &tv, BPF_ANY), 0);
	if_id = 21;
	assert_int_equal(bpf_map_update_elem(tfd, &if_id, &tv, BPF_ANY), 0); /* 22's words */
	build_v4(&p, "10.0.0.1", 20);
	untracked = drops(f, XS_NOTE_RX_UNTRACKED);
	ret = ingress_as(f, &p, 21);
	if (ret == SHIM_NO_KFUNC)
		return;
	assert_int_equal(ret, TC_ACT_OK);
	tunnel(f, 22, &st);
	assert_int_equal(st.rx_packets, 0);
	assert_int_equal(drops(f, XS_NOTE_RX_UNTRACKED), untracked + 1);

	/* 21's own words with a seal that is not theirs */
	tv = xs_tunnel_value(21, 21, 0);
	tv.seal ^= 1;
	assert_int_equal(bpf_map_update_elem(tfd, &if_id, &tv, BPF_ANY), 0);
	assert_int_equal(ingress_as(f, &p, 21), TC_ACT_OK);
	tunnel(f, 21, &st);
	assert_int_equal(st.rx_packets, 0);
	assert_int_equal(drops(f, XS_NOTE_RX_UNTRACKED), untracked + 2);

	/* and its entry as the loader writes it */
	tv = xs_tunnel_value(21, 21, 0);
	assert_int_equal(bpf_map_update_elem(tfd, &if_id, &tv, BPF_ANY), 0);
	assert_int_equal(ingress_as(f, &p, 21), TC_ACT_OK);
	tunnel(f, 21, &st);
	assert_int_equal(st.rx_packets, 1);
	tunnel(f, 22, &st);
	assert_int_equal(st.rx_packets, 0);
}

/* The reverse-path check looks its sources up through the same cache: a
 * route change moves a source to another tunnel at once. */
static void test_rpf_follows_route_changes(void **state)
{
	struct fixture *f = *state;
	int tfd = bpf_map__fd(f->skel->maps.tunnel_by_ifid);
	struct tunnel_value tv = xs_tunnel_value(21, 21, 0);
	uint32_t if_id = 21;
	struct iphdr *iph;
	struct pkt p;
	int ret;

	assert_int_equal(bpf_map_update_elem(tfd, &if_id, &tv, BPF_ANY), 0);
	if_id = 22;
	tv = xs_tunnel_value(if_id, 22, 0);
	assert_int_equal(bpf_map_update_elem(tfd, &if_id, &tv, BPF_ANY), 0);
	route(f, "10.0.0.0/8", 0, 21, true);
	build_v4(&p, "192.0.2.1", 20);
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	inet_pton(AF_INET, "10.1.1.1", &iph->saddr);
	ret = ingress_as(f, &p, 21);
	if (ret == SHIM_NO_KFUNC)
		return;
	assert_int_equal(ret, TC_ACT_OK);
	assert_int_equal(ingress_as(f, &p, 21), TC_ACT_OK); /* from the cache */
	assert_int_equal(ingress_as(f, &p, 22), TC_ACT_SHOT);
	route(f, "10.1.0.0/16", 0, 22, true);
	assert_int_equal(ingress_as(f, &p, 21), TC_ACT_SHOT);
	assert_int_equal(ingress_as(f, &p, 22), TC_ACT_OK);
	route(f, "10.1.0.0/16", 0, 0, false);
	assert_int_equal(ingress_as(f, &p, 22), TC_ACT_SHOT);
	assert_int_equal(ingress_as(f, &p, 21), TC_ACT_OK);

	/* The check goes through the sealed cache: 10.1.1.1's element
	 * holding 10.2.2.2's decision (tunnel 22), as after a recycle, does
	 * not let tunnel 22 speak from 10.1.1.1. */
	route(f, "10.2.0.0/16", 0, 22, true);
	inet_pton(AF_INET, "10.2.2.2", &iph->saddr);
	assert_int_equal(ingress_as(f, &p, 22), TC_ACT_OK);
	recycle(f, "10.2.2.2", 0, "10.1.1.1", 0, false);
	inet_pton(AF_INET, "10.1.1.1", &iph->saddr);
	assert_int_equal(ingress_as(f, &p, 22), TC_ACT_SHOT);
	assert_int_equal(ingress_as(f, &p, 21), TC_ACT_OK);
}

/* ------------------------------------------------------------------------
 * Route groups. Members i have if_id 30 + i and tunnel slot i + 1 here.
 */
struct member {
	uint16_t weight;
	uint16_t flags;
	uint64_t dscp;
};

static void group_route(struct fixture *f, const char *prefix, uint32_t gid,
			const struct member *m, uint32_t n)
{
	struct route_group g = { .n = n };
	struct route_value v = { .if_id = gid, .tunnel_idx = 0 };
	struct route_key_v4 k = { 0 };
	struct xs_prefix p;
	uint32_t i;

	for (i = 0; i < n; i++) {
		g.nh[i].if_id = 30 + i;
		g.nh[i].tunnel_idx = i + 1;
		g.nh[i].weight = m[i].weight;
		g.nh[i].flags = m[i].flags;
		g.nh[i].dscp = m[i].dscp;
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.route_groups), &gid, &g,
					     BPF_ANY),
			 0);
	assert_int_equal(parse_prefix(prefix, &p, false), 0);
	k.prefixlen = 32 + p.plen;
	memcpy(&k.addr, p.addr, 4);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.routes_v4), &k, &v,
					     BPF_ANY),
			 0);
	bump_gen(f, &p, 0);
}

/* Health of a slot as the loader writes it: tun_health, then the down
 * mask of every group (of the few here) with a member in that slot. */
static void set_down(struct fixture *f, uint32_t slot, bool down)
{
	uint32_t v = xs_health_effective(down ? XS_HEALTH_AUTO_DOWN : 0), gid, m, mask, h;
	int hfd = bpf_map__fd(f->skel->maps.tun_health);
	struct route_group g;

	assert_int_equal(bpf_map_update_elem(hfd, &slot, &v, BPF_ANY), 0);
	for (gid = 0; gid < 8; gid++) {
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.route_groups), &gid,
						     &g),
				 0);
		for (m = 0, mask = 0; m < g.n; m++) {
			assert_int_equal(bpf_map_lookup_elem(hfd, &g.nh[m].tunnel_idx, &h), 0);
			if (h & XS_HEALTH_DOWN)
				mask |= 1u << m;
		}
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.group_down), &gid,
						     &mask, BPF_ANY),
				 0);
	}
}

/* A UDP flow to 10.9.0.0/16: flow number i picks the ports. */
static void build_flow(struct pkt *p, uint32_t i, uint8_t dscp)
{
	struct iphdr *iph;
	uint16_t *ports;

	build_v4(p, "10.9.1.1", 8 + 32);
	iph = (struct iphdr *)(p->buf + ETH_HLEN);
	iph->tos = (uint8_t)(dscp << 2);
	ports = (uint16_t *)(iph + 1);
	ports[0] = htons((uint16_t)(10000 + (i & 0x3fff)));
	ports[1] = htons((uint16_t)(5000 + (i >> 14)));
}

static uint64_t slot_count(struct fixture *f, uint32_t slot)
{
	struct tunnel_stats st;

	tunnel(f, slot, &st);
	return st.tx_packets + st.tx_dropped;
}

/* Send p; return the member (0-based) whose slot moved, -1 if dropped. */
static int member_of(struct fixture *f, struct pkt *p, uint32_t n)
{
	uint64_t before[XS_GROUP_MAX];
	uint32_t i;
	int hit = -1;

	for (i = 0; i < n; i++)
		before[i] = slot_count(f, i + 1);
	run(f, bpf_program__fd(f->skel->progs.xs_egress), p, 0, 0);
	for (i = 0; i < n; i++) {
		if (slot_count(f, i + 1) == before[i])
			continue;
		assert_int_equal(hit, -1);
		hit = (int)i;
	}
	return hit;
}

#define NFLOWS 2000

/* Weights 3:1 over many flows land near 3:1; each flow stays on its
 * member; a member going down moves its own flows only, and they come
 * back when it returns. The decision cache holds the group: health
 * applies without a route change. */
static void test_group_weights_and_failover(void **state)
{
	static const struct member m[] = { { 3, 0, 0 }, { 1, 0, 0 } };
	struct fixture *f = *state;
	static int8_t first[NFLOWS];
	uint32_t cnt[2] = { 0 }, i;
	double ratio;
	struct pkt p;

	group_route(f, "10.9.0.0/16", 1, m, 2);
	for (i = 0; i < NFLOWS; i++) {
		build_flow(&p, i, 0);
		first[i] = (int8_t)member_of(f, &p, 2);
		assert_true(first[i] >= 0);
		cnt[first[i]]++;
		assert_int_equal(member_of(f, &p, 2), first[i]); /* sticky */
	}
	ratio = (double)cnt[0] / cnt[1];
	print_message("weights 3:1 over %u flows: %u:%u (%.2f)\n", NFLOWS, cnt[0], cnt[1], ratio);
	assert_true(ratio > 3 * 0.9 && ratio < 3 * 1.1);

	set_down(f, 1, true);
	for (i = 0; i < NFLOWS; i++) {
		build_flow(&p, i, 0);
		assert_int_equal(member_of(f, &p, 2), 1);
	}
	set_down(f, 1, false);
	set_down(f, 2, true);
	for (i = 0; i < NFLOWS; i++) {
		build_flow(&p, i, 0);
		assert_int_equal(member_of(f, &p, 2), 0);
	}
	set_down(f, 2, false);
	for (i = 0; i < NFLOWS; i++) {
		build_flow(&p, i, 0);
		assert_int_equal(member_of(f, &p, 2), first[i]);
	}
}

/* Of three equal members, the flows of the one that goes down spread over
 * the two others, and the flows of those two stay where they were. */
static void test_group_down_moves_only_its_flows(void **state)
{
	static const struct member m[] = { { 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 } };
	struct fixture *f = *state;
	static int8_t first[NFLOWS];
	uint32_t moved[3] = { 0 }, i;
	struct pkt p;

	group_route(f, "10.9.0.0/16", 2, m, 3);
	for (i = 0; i < NFLOWS; i++) {
		build_flow(&p, i, 0);
		first[i] = (int8_t)member_of(f, &p, 3);
	}
	set_down(f, 2, true); /* member 1 */
	for (i = 0; i < NFLOWS; i++) {
		int now;

		build_flow(&p, i, 0);
		now = member_of(f, &p, 3);
		assert_int_not_equal(now, 1);
		if (first[i] != 1)
			assert_int_equal(now, first[i]);
		else
			moved[now]++;
	}
	print_message("flows of a downed member: %u to member 0, %u to member 2\n", moved[0],
		      moved[2]);
	assert_true(moved[0] > 0 && moved[2] > 0);
}

/* A dscp member takes its classes only; a backup only while no primary is
 * up; no member up at all is a group_down drop. */
static void test_group_dscp_and_backup(void **state)
{
	static const struct member m[] = {
		{ 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 1ull << 46 }, { 1, XS_NH_BACKUP, 0 }
	};
	struct fixture *f = *state;
	uint32_t i, ef = 0;
	struct pkt p;
	int k;

	group_route(f, "10.9.0.0/16", 3, m, 4);
	for (i = 0; i < 200; i++) {
		build_flow(&p, i, 46);
		assert_int_equal(member_of(f, &p, 4), 2);
		build_flow(&p, i, i % 46); /* any other class */
		k = member_of(f, &p, 4);
		assert_true(k == 0 || k == 1);
	}
	set_down(f, 3, true); /* EF falls back to the primaries */
	for (i = 0; i < 200; i++) {
		build_flow(&p, i, 46);
		k = member_of(f, &p, 4);
		assert_true(k == 0 || k == 1);
		ef += k == 0;
	}
	assert_true(ef > 0 && ef < 200);
	set_down(f, 1, true);
	set_down(f, 2, true);
	for (i = 0; i < 200; i++) {
		build_flow(&p, i, 0);
		assert_int_equal(member_of(f, &p, 4), 3);
	}
	set_down(f, 2, false); /* one primary back: backup idle again */
	for (i = 0; i < 200; i++) {
		build_flow(&p, i, 0);
		assert_int_equal(member_of(f, &p, 4), 1);
	}
	set_down(f, 2, true);
	set_down(f, 4, true);
	build_flow(&p, 0, 0);
	i = (uint32_t)drops(f, XS_DROP_GROUP_DOWN);
	assert_int_equal(member_of(f, &p, 4), -1);
	assert_int_equal(drops(f, XS_DROP_GROUP_DOWN), i + 1);
}

/* ns per run of the egress program, repeat times in the kernel. */
static double ns_per_run(struct fixture *f, struct pkt *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .repeat = 2000000);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.xs_egress),
						&opts),
			 0);
	return opts.duration;
}

/* Cost of a group against a single if_id, and of the program's own flow
 * hash against the kernel's (bpf_get_hash_recalc). Figures only: timing
 * on a shared machine asserts nothing. */
static void test_group_cost(void **state)
{
	static const struct member m[XS_GROUP_MAX] = {
		{ 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 },
		{ 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 }, { 1, 0, 0 },
	};
	struct fixture *f = *state;
	double single, g2, g8, k2;
	struct pkt p;

	route(f, "10.8.0.0/16", 0, 5, true);
	build_v4(&p, "10.8.1.1", 40);
	single = ns_per_run(f, &p);
	group_route(f, "10.9.0.0/16", 1, m, 2);
	group_route(f, "10.7.0.0/16", 2, m, XS_GROUP_MAX);
	build_flow(&p, 7, 0);
	g2 = ns_per_run(f, &p);
	build_v4(&p, "10.7.1.1", 40);
	g8 = ns_per_run(f, &p);
	xfrm_steer__destroy(f->skel);
	f->skel = NULL;
	assert_int_equal(load_hash(f, 1), 0);
	group_route(f, "10.9.0.0/16", 1, m, 2);
	build_flow(&p, 7, 0);
	k2 = ns_per_run(f, &p);
	print_message("egress ns/run: single if_id %.0f, group of 2 %.0f, group of 8 %.0f, "
		      "group of 2 with bpf_get_hash_recalc %.0f\n",
		      single, g2, g8, k2);
}

int main(void)
{
	/* Each test gets freshly loaded programs and empty maps. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lpm_precedence, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_cache_follows_route_changes, setup_none,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_route_is_dropped, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_ingress_without_metadata, setup_none,
						teardown),
		cmocka_unit_test_setup_teardown(test_ingress_counts_real_length, setup_ingress,
						teardown),
		cmocka_unit_test_setup_teardown(test_ingress_recycled_tunnel_entry, setup_ingress,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_kept_across_unrelated_changes,
						setup_mark, teardown),
		cmocka_unit_test(test_verifier_walk_is_bounded),
		cmocka_unit_test_setup_teardown(test_cache_entry_with_foreign_slots_is_not_trusted,
						setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_cache_entry_of_another_key_is_not_trusted,
						setup_mark, teardown),
		cmocka_unit_test_setup_teardown(test_cache_entry_without_seal_is_not_trusted,
						setup_mark, teardown),
		cmocka_unit_test_setup_teardown(test_cache_scan_cannot_flush_another_tenant,
						setup_mark_budget, teardown),
		cmocka_unit_test_setup_teardown(test_rpf_follows_route_changes, setup_ingress_rpf,
						teardown),
		cmocka_unit_test_setup_teardown(test_tenant_by_mark, setup_mark, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_by_iif, setup_iif, teardown),
		cmocka_unit_test_setup_teardown(test_iif_stamp_cleared, setup_iif, teardown),
		cmocka_unit_test(test_iif_stamp_program),
		cmocka_unit_test_setup_teardown(test_group_weights_and_failover, setup_none,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_down_moves_only_its_flows, setup_none,
						teardown),
		cmocka_unit_test_setup_teardown(test_group_dscp_and_backup, setup_none, teardown),
		cmocka_unit_test_setup_teardown(test_group_cost, setup_none, teardown),
	};

	return cmocka_run_group_tests_name("datapath", tests, NULL, NULL);
}
