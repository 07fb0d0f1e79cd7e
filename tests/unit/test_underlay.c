// SPDX-License-Identifier: GPL-2.0
/*
 * The underlay XDP program through BPF_PROG_TEST_RUN, on hand-made frames:
 * ESP over IPv4 and IPv6, ESP in UDP 4500, IKE behind the non-ESP marker,
 * NAT keepalives, cut-short and fragmented packets, and traffic that is
 * none of its business. The tests read back the per-SPI counters, the
 * reason counters, the events and the verdict.
 *
 * Most tests make the program use the known-SPI map (sa-lookup map), so
 * that an SPI is known exactly when the test lists it; one test checks
 * that, where the kernel has bpf_xdp_get_xfrm_state, the automatic choice
 * asks the kernel instead. The tests run in a network namespace of their
 * own, where no SA exists and nothing is forwarded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "common.h"
#include "events.h"
#include "xdp_underlay.skel.h"

#define PEER4 "198.51.100.2"
#define LOCAL4 "192.0.2.1"
#define PEER6 "2001:db8:2::2"
#define LOCAL6 "2001:db8:1::1"

struct fixture {
	struct xdp_underlay *skel;
	struct ring_buffer *rb;
	/* Two readers, as two monitors would be: each must get every event. */
	struct xs_event_reader rd[2];
	int ncpu;
	struct xs_event ev[16];
	int nev;
	struct xs_event ev2[16]; /* what the second reader got */
	int nev2;
};

struct pkt {
	/* Two bytes before the 14-byte Ethernet header put the IP header on
	 * a 4-byte boundary (UBSan checks the structs' alignment). */
	uint8_t pad[2];
	uint8_t buf[256];
	uint32_t len;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct fixture *f = ctx;

	assert_int_equal(size, sizeof(struct xs_event));
	if (f->nev < 16)
		memcpy(&f->ev[f->nev], data, sizeof(struct xs_event));
	f->nev++;
	return 0;
}

static int on_event2(void *ctx, void *data, size_t size)
{
	struct fixture *f = ctx;

	assert_int_equal(size, sizeof(struct xs_event));
	if (f->nev2 < 16)
		memcpy(&f->ev2[f->nev2], data, sizeof(struct xs_event));
	f->nev2++;
	return 0;
}

static int load(struct fixture *f, uint32_t flags, uint32_t interval_ms)
{
	f->skel = xdp_underlay__open();
	if (!f->skel)
		return -1;
	f->skel->rodata->cfg.flags = flags;
	f->skel->rodata->cfg.event_interval_ms = interval_ms;
	bpf_map__set_max_entries(f->skel->maps.ul_known_spis, 64);
	if (xdp_underlay__load(f->skel))
		return -1;
	if (xs_event_reader_open(bpf_map__fd(f->skel->maps.ul_ev_readers), &f->rd[0]) ||
	    xs_event_reader_open(bpf_map__fd(f->skel->maps.ul_ev_readers), &f->rd[1]))
		return -1;
	f->rb = ring_buffer__new(f->rd[0].ring_fd, on_event, f, NULL);
	if (!f->rb || ring_buffer__add(f->rb, f->rd[1].ring_fd, on_event2, f))
		return -1;
	return 0;
}

static int setup_flags(void **state, uint32_t flags, uint32_t interval_ms)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ncpu = libbpf_num_possible_cpus();
	f->rd[0].ring_fd = f->rd[1].ring_fd = -1;
	if (load(f, flags, interval_ms)) {
		fprintf(stderr, "cannot load the underlay program: %s\n", strerror(errno));
		ring_buffer__free(f->rb);
		xdp_underlay__destroy(f->skel);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup_map(void **state)
{
	return setup_flags(state, XS_UL_CFG_SA_MAP, 1000);
}

static int setup_map_drop(void **state)
{
	return setup_flags(state, XS_UL_CFG_SA_MAP | XS_UL_CFG_DROP_UNKNOWN, 1000);
}

static int setup_map_short_interval(void **state)
{
	return setup_flags(state, XS_UL_CFG_SA_MAP, 100);
}

static int setup_auto(void **state)
{
	return setup_flags(state, 0, 1000);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ring_buffer__free(f->rb);
	/* Every event either reader got, the other got too, in order. */
	assert_int_equal(f->nev2, f->nev);
	if (f->nev)
		assert_memory_equal(f->ev2, f->ev,
				    (size_t)(f->nev < 16 ? f->nev : 16) * sizeof(f->ev[0]));
	xs_event_reader_close(&f->rd[0], bpf_map__fd(f->skel->maps.ul_ev_readers));
	xs_event_reader_close(&f->rd[1], bpf_map__fd(f->skel->maps.ul_ev_readers));
	xdp_underlay__destroy(f->skel);
	free(f);
	return 0;
}

/* ---- Frames ---- */

static void *eth(struct pkt *p, uint16_t proto, bool vlan)
{
	struct ethhdr *e = (struct ethhdr *)p->buf;

	memset(p, 0, sizeof(*p));
	e->h_source[5] = 2;
	e->h_dest[5] = 1;
	if (!vlan) {
		e->h_proto = htons(proto);
		p->len = sizeof(*e);
		return e + 1;
	}
	/* 802.1Q: the tag, then the real ethertype */
	e->h_proto = htons(ETH_P_8021Q);
	p->buf[14] = 0;
	p->buf[15] = 42;
	p->buf[16] = (uint8_t)(proto >> 8);
	p->buf[17] = (uint8_t)proto;
	p->len = sizeof(*e) + 4;
	return p->buf + p->len;
}

/* IPv4 with protocol proto and l4len bytes of payload (zeroed), optionally
 * with a 4-byte IP option. Returns the payload. */
static uint8_t *ip4(struct pkt *p, uint8_t proto, uint32_t l4len, bool vlan, bool opt)
{
	struct iphdr *iph = eth(p, ETH_P_IP, vlan);
	uint32_t hlen = sizeof(*iph) + (opt ? 4 : 0);

	iph->version = 4;
	iph->ihl = (uint8_t)(hlen / 4);
	iph->ttl = 64;
	iph->protocol = proto;
	iph->tot_len = htons((uint16_t)(hlen + l4len));
	inet_pton(AF_INET, PEER4, &iph->saddr);
	inet_pton(AF_INET, LOCAL4, &iph->daddr);
	if (opt)
		((uint8_t *)(iph + 1))[0] = 1; /* NOP options */
	p->len += hlen + l4len;
	return (uint8_t *)iph + hlen;
}

static uint8_t *ip6(struct pkt *p, uint8_t nexthdr, uint32_t l4len)
{
	struct ipv6hdr *ip6h = eth(p, ETH_P_IPV6, false);

	ip6h->version = 6;
	ip6h->nexthdr = nexthdr;
	ip6h->hop_limit = 64;
	ip6h->payload_len = htons((uint16_t)l4len);
	inet_pton(AF_INET6, PEER6, &ip6h->saddr);
	inet_pton(AF_INET6, LOCAL6, &ip6h->daddr);
	p->len += sizeof(*ip6h) + l4len;
	return (uint8_t *)(ip6h + 1);
}

/* ESP header (SPI, sequence number) and some ciphertext. */
static void esp(uint8_t *l4, uint32_t spi)
{
	uint32_t spi_be = htonl(spi), seq = htonl(1);

	memcpy(l4, &spi_be, 4);
	memcpy(l4 + 4, &seq, 4);
	memset(l4 + 8, 0xa5, 24);
}

#define ESP_LEN 32

static void esp4(struct pkt *p, uint32_t spi)
{
	esp(ip4(p, IPPROTO_ESP, ESP_LEN, false, false), spi);
}

/* UDP to dport carrying payload (len bytes). */
static uint8_t *udp4(struct pkt *p, uint16_t dport, uint32_t len)
{
	struct udphdr *udp = (struct udphdr *)ip4(p, IPPROTO_UDP, sizeof(*udp) + len, false,
						  false);

	udp->source = htons(4500);
	udp->dest = htons(dport);
	udp->len = htons((uint16_t)(sizeof(*udp) + len));
	return (uint8_t *)(udp + 1);
}

static void set_saddr4(struct pkt *p, const char *saddr)
{
	struct iphdr *iph = (struct iphdr *)(p->buf + ETH_HLEN);

	assert_int_equal(inet_pton(AF_INET, saddr, &iph->saddr), 1);
}

/* ---- Running and reading back ---- */

static int run(struct fixture *f, struct pkt *p)
{
	uint8_t out[sizeof(p->buf)];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->buf, .data_size_in = p->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.xs_underlay),
						&opts),
			 0);
	/* Whatever the verdict, the program never changes a byte. */
	assert_int_equal(opts.data_size_out, p->len);
	assert_memory_equal(out, p->buf, p->len);
	ring_buffer__consume(f->rb);
	return (int)opts.retval;
}

static struct ul_spi_key key(int family, const char *daddr, uint32_t spi)
{
	struct ul_spi_key k;

	memset(&k, 0, sizeof(k));
	k.family = (uint16_t)family;
	k.spi = htonl(spi);
	assert_int_equal(inet_pton(family, daddr, k.daddr), 1);
	return k;
}

static void list_spi(struct fixture *f, int family, const char *daddr, uint32_t spi)
{
	struct ul_spi_key k = key(family, daddr, spi);
	struct ul_known_value v = { .if_id = 7, .reqid = 1 };

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.ul_known_spis), &k, &v,
					     BPF_ANY),
			 0);
}

/* Summed per-CPU counters of an SPI in the map of known or unknown SPIs;
 * packets == 0 when it has no entry. */
static struct ul_spi_stats spi_stats(struct fixture *f, bool known, int family,
				     const char *daddr, uint32_t spi)
{
	struct ul_spi_key k = key(family, daddr, spi);
	struct ul_spi_stats vals[f->ncpu], sum = { 0 };
	int fd = bpf_map__fd(known ? f->skel->maps.ul_sa_stats : f->skel->maps.ul_nosa_stats);
	int c;

	if (bpf_map_lookup_elem(fd, &k, vals)) {
		assert_int_equal(errno, ENOENT);
		return sum;
	}
	for (c = 0; c < f->ncpu; c++) {
		sum.packets += vals[c].packets;
		sum.bytes += vals[c].bytes;
	}
	return sum;
}

static uint64_t reason(struct fixture *f, uint32_t r)
{
	uint64_t vals[f->ncpu], sum = 0;
	int c;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.ul_reasons), &r, vals), 0);
	for (c = 0; c < f->ncpu; c++)
		sum += vals[c];
	return sum;
}

static uint64_t reasons_total(struct fixture *f)
{
	uint64_t sum = 0;
	uint32_t r;

	for (r = 0; r < XS_UL_REASON_MAX; r++)
		sum += reason(f, r);
	return sum;
}

/* Number of entries in a map (per-SPI counters). */
static int entries(int fd)
{
	struct ul_spi_key k, next, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static int all_spi_entries(struct fixture *f)
{
	return entries(bpf_map__fd(f->skel->maps.ul_sa_stats)) +
	       entries(bpf_map__fd(f->skel->maps.ul_nosa_stats));
}

/* ---- Tests ---- */

static void test_esp4_known(void **state)
{
	struct fixture *f = *state;
	struct ul_spi_stats st;
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0x2001);
	esp4(&p, 0x2001);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(run(f, &p), XDP_PASS);
	st = spi_stats(f, true, AF_INET, LOCAL4, 0x2001);
	assert_int_equal(st.packets, 2);
	/* outer IP length: header and ESP */
	assert_int_equal(st.bytes, 2 * (20 + ESP_LEN));
	assert_int_equal(spi_stats(f, false, AF_INET, LOCAL4, 0x2001).packets, 0);
	assert_int_equal(reasons_total(f), 0);
	assert_int_equal(f->nev, 0);
}

static void test_esp4_unknown(void **state)
{
	struct fixture *f = *state;
	struct ul_spi_stats st;
	char a[INET6_ADDRSTRLEN];
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0x2001);
	/* Same SPI to another address is another SA. */
	esp(ip4(&p, IPPROTO_ESP, ESP_LEN, false, false), 0x2002);
	assert_int_equal(run(f, &p), XDP_PASS);
	st = spi_stats(f, false, AF_INET, LOCAL4, 0x2002);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.bytes, 20 + ESP_LEN);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0x2002).packets, 0);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 1);
	assert_int_equal(reason(f, XS_UL_DROPPED), 0);

	assert_int_equal(f->nev, 1);
	assert_int_equal(f->ev[0].type, XS_EV_UNKNOWN_SPI);
	assert_int_equal(ntohl(f->ev[0].spi), 0x2002);
	assert_int_equal(f->ev[0].family, AF_INET);
	assert_string_equal(format_addr(AF_INET, f->ev[0].peer, a, sizeof(a)), PEER4);
	assert_string_equal(format_addr(AF_INET, f->ev[0].dst, a, sizeof(a)), LOCAL4);
	assert_int_equal(f->ev[0].ifindex, 1); /* the test run's loopback */
	assert_int_equal(f->ev[0].suppressed, 0);
	assert_int_equal(f->ev[0].if_id, 0);
}

/* The unknown-SPI event's dst is the outer destination, all 16 bytes of
 * it (an IPv4 address and zeros), wherever the IP header lies and however
 * the ESP came; its family is the event's family, and inner_family says
 * the same for readers of the layout before dst had its name. */
static void check_dst(const struct xs_event *ev, int family, const char *daddr)
{
	__be32 want[4] = { 0 };

	assert_int_equal(ev->type, XS_EV_UNKNOWN_SPI);
	assert_int_equal(ev->family, family);
	assert_int_equal(ev->inner_family, family);
	assert_int_equal(inet_pton(family, daddr, want), 1);
	assert_memory_equal(ev->dst, want, sizeof(want));
}

static void test_event_dst(void **state)
{
	struct fixture *f = *state;
	struct udphdr *udp;
	struct iphdr *iph;
	struct pkt p;

	/* Peers of their own, so that the rate limit lets every event out. */
	esp(ip4(&p, IPPROTO_ESP, ESP_LEN, true, true), 0xd001);
	iph = (struct iphdr *)(p.buf + ETH_HLEN + 4);
	inet_pton(AF_INET, "203.0.113.9", &iph->daddr);
	assert_int_equal(run(f, &p), XDP_PASS);
	esp(udp4(&p, 4500, ESP_LEN), 0xd002);
	set_saddr4(&p, "198.51.100.3");
	assert_int_equal(run(f, &p), XDP_PASS);
	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0xd003);
	assert_int_equal(run(f, &p), XDP_PASS);
	udp = (struct udphdr *)ip6(&p, IPPROTO_UDP, 8 + ESP_LEN);
	udp->dest = htons(4500);
	udp->len = htons(8 + ESP_LEN);
	esp((uint8_t *)(udp + 1), 0xd004);
	((struct ipv6hdr *)(p.buf + ETH_HLEN))->saddr.s6_addr[15] = 3;
	assert_int_equal(run(f, &p), XDP_PASS);

	assert_int_equal(f->nev, 4);
	check_dst(&f->ev[0], AF_INET, "203.0.113.9");
	check_dst(&f->ev[1], AF_INET, LOCAL4);
	check_dst(&f->ev[2], AF_INET6, LOCAL6);
	check_dst(&f->ev[3], AF_INET6, LOCAL6);
	assert_int_equal(ntohl(f->ev[3].spi), 0xd004);
}

static void test_drop_unknown(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0x2001);
	esp4(&p, 0x2001);
	assert_int_equal(run(f, &p), XDP_PASS);
	esp4(&p, 0x3003);
	assert_int_equal(run(f, &p), XDP_DROP);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 1);
	assert_int_equal(reason(f, XS_UL_DROPPED), 1);
	assert_int_equal(spi_stats(f, false, AF_INET, LOCAL4, 0x3003).packets, 1);
	assert_int_equal(f->nev, 1);
	/* Not ESP: never dropped. */
	udp4(&p, 53, 20);
	assert_int_equal(run(f, &p), XDP_PASS);
}

static void test_esp6(void **state)
{
	struct fixture *f = *state;
	char a[INET6_ADDRSTRLEN];
	struct ul_spi_stats st;
	struct pkt p;

	list_spi(f, AF_INET6, LOCAL6, 0x6001);
	/* An IPv4 SA of the same SPI bits does not make it known. */
	list_spi(f, AF_INET, LOCAL4, 0x6002);
	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0x6001);
	assert_int_equal(run(f, &p), XDP_PASS);
	st = spi_stats(f, true, AF_INET6, LOCAL6, 0x6001);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.bytes, 40 + ESP_LEN);

	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0x6002);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, false, AF_INET6, LOCAL6, 0x6002).packets, 1);
	assert_int_equal(f->nev, 1);
	assert_int_equal(f->ev[0].family, AF_INET6);
	assert_string_equal(format_addr(AF_INET6, f->ev[0].peer, a, sizeof(a)), PEER6);
	assert_string_equal(format_addr(AF_INET6, f->ev[0].dst, a, sizeof(a)), LOCAL6);
}

static void test_esp_in_udp(void **state)
{
	struct fixture *f = *state;
	struct ul_spi_stats st;
	uint8_t *pl;
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0x4501);
	pl = udp4(&p, 4500, ESP_LEN);
	esp(pl, 0x4501);
	assert_int_equal(run(f, &p), XDP_PASS);
	st = spi_stats(f, true, AF_INET, LOCAL4, 0x4501);
	assert_int_equal(st.packets, 1);
	assert_int_equal(st.bytes, 20 + 8 + ESP_LEN);

	/* An unknown SPI in UDP is reported like one in ESP. */
	pl = udp4(&p, 4500, ESP_LEN);
	esp(pl, 0x4502);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, false, AF_INET, LOCAL4, 0x4502).packets, 1);
	assert_int_equal(f->nev, 1);
	assert_int_equal(ntohl(f->ev[0].spi), 0x4502);

	/* IPv6 too */
	list_spi(f, AF_INET6, LOCAL6, 0x4506);
	{
		struct udphdr *udp = (struct udphdr *)ip6(&p, IPPROTO_UDP, 8 + ESP_LEN);

		udp->dest = htons(4500);
		udp->len = htons(8 + ESP_LEN);
		esp((uint8_t *)(udp + 1), 0x4506);
	}
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET6, LOCAL6, 0x4506).packets, 1);
}

static void test_ike_and_keepalive(void **state)
{
	struct fixture *f = *state;
	uint8_t *pl;
	struct pkt p;

	/* IKE on 4500: the four zero bytes of the non-ESP marker, then the
	 * IKE header (its SPIs are not ESP SPIs). */
	pl = udp4(&p, 4500, 4 + 28);
	memset(pl + 4, 0x11, 28);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_IKE), 1);
	/* NAT keepalive: one 0xff byte */
	pl = udp4(&p, 4500, 1);
	pl[0] = 0xff;
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_KEEPALIVE), 1);
	/* IKE on port 500 and other UDP: not even looked at. */
	pl = udp4(&p, 500, 32);
	esp(pl, 0x5555);
	assert_int_equal(run(f, &p), XDP_PASS);

	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 0);
	assert_int_equal(reasons_total(f), 2);
	assert_int_equal(f->nev, 0);
}

/* UDP 4500 with a payload of len bytes, all of them fill, but for a UDP
 * length of ulen (which may say less than the frame holds). */
static void udp4500(struct pkt *p, uint32_t len, uint8_t fill, uint16_t ulen)
{
	uint8_t *pl = udp4(p, 4500, len);

	memset(pl, fill, len);
	((struct udphdr *)pl - 1)->len = htons(ulen);
}

/* A UDP 4500 payload that is no keepalive (one 0xff byte), no IKE (the
 * four zero bytes of the non-ESP marker and an IKE header of 28 bytes)
 * and too short for ESP (more than SPI and sequence number, SPI not 0) is
 * cut short, not IKE. The frames are long enough: the UDP length says. */
static void test_udp4500_short(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	/* Only an ESP header, no payload: the kernel does not take it for
	 * ESP (it wants more than 8 bytes), and it is not IKE either. */
	udp4500(&p, 8, 0x22, 8 + 8);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 1);
	/* One byte that is not 0xff */
	udp4500(&p, 8, 0x22, 8 + 1);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 2);
	/* No payload at all, and three bytes */
	udp4500(&p, 8, 0x22, 8);
	assert_int_equal(run(f, &p), XDP_PASS);
	udp4500(&p, 8, 0x22, 8 + 3);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 4);
	/* The non-ESP marker and less than an IKE header, up to one byte
	 * short of it */
	udp4500(&p, 32, 0, 8 + 4);
	assert_int_equal(run(f, &p), XDP_PASS);
	udp4500(&p, 32, 0, 8 + 4 + 27);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 6);
	/* A UDP length shorter than the UDP header */
	udp4500(&p, 32, 0x22, 4);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 7);
	assert_int_equal(reason(f, XS_UL_IKE), 0);

	/* The edges on the other side: a full IKE header, and ESP with
	 * one byte beyond its header (dropped: an unknown SPI). */
	udp4500(&p, 32, 0, 8 + 32);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_IKE), 1);
	udp4500(&p, 9, 0x22, 8 + 9);
	assert_int_equal(run(f, &p), XDP_DROP);
	assert_int_equal(spi_stats(f, false, AF_INET, LOCAL4, 0x22222222).packets, 1);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 1);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 7);
	assert_int_equal(reason(f, XS_UL_KEEPALIVE), 0);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	uint8_t *pl;
	struct pkt p;

	/* Passed although drop-unknown is on: the kernel drops what is cut
	 * short, and a guess at the SPI might be wrong. */
	/* ESP with only its SPI: no sequence number */
	esp4(&p, 0x7001);
	p.len -= ESP_LEN - 4;
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 1);
	/* ESP in UDP whose frame ends inside the ESP header */
	pl = udp4(&p, 4500, ESP_LEN);
	esp(pl, 0x7002);
	p.len -= ESP_LEN - 6;
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 2);
	/* IPv4 options that run past the frame */
	ip4(&p, IPPROTO_ESP, 0, false, true);
	p.len -= 2;
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 3);
	/* IPv6 ESP with half an SPI */
	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0x7004);
	p.len -= ESP_LEN - 2;
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 4);
	/* An IP header cut short is not looked at at all. */
	esp4(&p, 0x7005);
	p.len = ETH_HLEN + 10;
	assert_int_equal(run(f, &p), XDP_PASS);

	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 0);
	assert_int_equal(f->nev, 0);
}

/* The IP length says where the packet ends, not the frame, which may
 * carry Ethernet padding (up to 60 bytes) or other trailing bytes: ESP or
 * a UDP datagram that ends early by the IP length is cut short. */
static void test_ip_length(void **state)
{
	struct fixture *f = *state;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	struct pkt p;

	/* An IPv4 header alone, padded to the Ethernet minimum: the zeros
	 * behind it are no ESP header of SPI 0. */
	ip4(&p, IPPROTO_ESP, 26, false, false);
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	iph->tot_len = htons(20);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 1);
	/* ESP of 7 bytes by the IP length, a whole packet in the frame */
	esp4(&p, 0xe001);
	iph->tot_len = htons(20 + 7);
	assert_int_equal(run(f, &p), XDP_PASS);
	/* A total length shorter than the header */
	iph->tot_len = htons(12);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 3);
	/* IPv6: a payload length of 4 */
	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0xe002);
	ip6h = (struct ipv6hdr *)(p.buf + ETH_HLEN);
	ip6h->payload_len = htons(4);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 4);
	/* A UDP length beyond the IP packet: the kernel drops the datagram. */
	esp(udp4(&p, 4500, ESP_LEN), 0xe003);
	iph->tot_len = htons(20 + 8 + 16);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 5);

	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 0);
	assert_int_equal(f->nev, 0);
	/* Exactly SPI and sequence number by the IP length is ESP: the
	 * kernel looks its SA up before it finds there is no payload. */
	esp4(&p, 0xe004);
	iph->tot_len = htons(20 + 8);
	assert_int_equal(run(f, &p), XDP_DROP);
	assert_int_equal(spi_stats(f, false, AF_INET, LOCAL4, 0xe004).bytes, 28);
}

/* An IP length beyond the frame is the sender's word only: such a packet
 * is cut short (the kernel drops it), noted as such and passed, and adds
 * nothing to any SPI's counters, known or not. */
static void test_length_beyond_frame(void **state)
{
	struct fixture *f = *state;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	struct udphdr *udp;
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0xf001);
	list_spi(f, AF_INET6, LOCAL6, 0xf002);
	list_spi(f, AF_INET, LOCAL4, 0xf003);
	/* A 100-byte frame whose IPv4 header claims 1400 bytes */
	esp(ip4(&p, IPPROTO_ESP, 100 - ETH_HLEN - 20, false, false), 0xf001);
	assert_int_equal(p.len, 100);
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	iph->tot_len = htons(1400);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0xf001).bytes, 0);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 1);
	/* One byte beyond the frame is as much cut short */
	iph->tot_len = htons(100 - ETH_HLEN + 1);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 2);
	/* IPv6, payload length 1400 */
	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0xf002);
	ip6h = (struct ipv6hdr *)(p.buf + ETH_HLEN);
	ip6h->payload_len = htons(1400);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET6, LOCAL6, 0xf002).bytes, 0);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 3);
	/* ESP in UDP, IP and UDP lengths agreeing on 1400 */
	esp(udp4(&p, 4500, ESP_LEN), 0xf003);
	iph->tot_len = htons(1400);
	udp = (struct udphdr *)(iph + 1);
	udp->len = htons(1400 - 20);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0xf003).bytes, 0);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 4);
	/* An unknown SPI: neither counted, reported nor dropped */
	esp4(&p, 0xf004);
	iph->tot_len = htons(1400);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 5);
	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 0);
	assert_int_equal(f->nev, 0);

	/* The whole packet in the frame still counts in full. */
	esp(ip4(&p, IPPROTO_ESP, 100 - ETH_HLEN - 20, false, false), 0xf001);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0xf001).bytes, 100 - ETH_HLEN);
}

/* A frame beyond the linear part of the buffer (multi-buffer XDP, which
 * BPF_PROG_TEST_RUN makes of data longer than a page less head- and
 * tailroom): the fragments are part of the packet. */
static void test_length_in_fragments(void **state)
{
	struct fixture *f = *state;
	enum { LEN = 9000 };
	uint8_t *buf = calloc(1, LEN + 2), *frame = buf + 2;
	struct iphdr *iph = (struct iphdr *)(frame + ETH_HLEN);
	struct ethhdr *e = (struct ethhdr *)frame;
	uint32_t spi = htonl(0xf101), seq = htonl(1);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .repeat = 1);
	int fd = bpf_program__fd(f->skel->progs.xs_underlay);

	assert_non_null(buf);
	list_spi(f, AF_INET, LOCAL4, 0xf101);
	e->h_proto = htons(ETH_P_IP);
	iph->version = 4;
	iph->ihl = 5;
	iph->ttl = 64;
	iph->protocol = IPPROTO_ESP;
	inet_pton(AF_INET, PEER4, &iph->saddr);
	inet_pton(AF_INET, LOCAL4, &iph->daddr);
	memcpy(iph + 1, &spi, 4);
	memcpy((uint8_t *)(iph + 1) + 4, &seq, 4);
	/* All of it there: counted in full */
	iph->tot_len = htons(LEN - ETH_HLEN);
	opts.data_size_in = LEN;
	assert_int_equal(bpf_prog_test_run_opts(fd, &opts), 0);
	assert_int_equal(opts.retval, XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0xf101).bytes, LEN - ETH_HLEN);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 0);
	/* One byte more than the fragments hold: cut short */
	opts.data_size_in = LEN - 1;
	assert_int_equal(bpf_prog_test_run_opts(fd, &opts), 0);
	assert_int_equal(opts.retval, XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0xf101).packets, 1);
	assert_int_equal(reason(f, XS_UL_TRUNCATED), 1);
	free(buf);
}

static void test_not_esp_untouched(void **state)
{
	struct fixture *f = *state;
	struct ethhdr *e;
	uint8_t *pl;
	struct pkt p;

	ip4(&p, IPPROTO_TCP, 40, false, false);
	assert_int_equal(run(f, &p), XDP_PASS);
	ip4(&p, IPPROTO_ICMP, 64, true, false);
	assert_int_equal(run(f, &p), XDP_PASS);
	pl = udp4(&p, 53, 40);
	memset(pl, 0x33, 40);
	assert_int_equal(run(f, &p), XDP_PASS);
	ip6(&p, IPPROTO_TCP, 40);
	assert_int_equal(run(f, &p), XDP_PASS);
	/* ARP, and a frame that is only an Ethernet header */
	esp4(&p, 0x2001);
	e = (struct ethhdr *)p.buf;
	e->h_proto = htons(ETH_P_ARP);
	assert_int_equal(run(f, &p), XDP_PASS);
	p.len = ETH_HLEN;
	assert_int_equal(run(f, &p), XDP_PASS);
	/* Looks like ESP but the version says otherwise */
	esp4(&p, 0x2001);
	p.buf[ETH_HLEN] = 0x65;
	assert_int_equal(run(f, &p), XDP_PASS);

	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(reasons_total(f), 0);
	assert_int_equal(f->nev, 0);
}

static void test_vlan_and_options(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0x8001);
	esp(ip4(&p, IPPROTO_ESP, ESP_LEN, true, false), 0x8001);
	assert_int_equal(run(f, &p), XDP_PASS);
	esp(ip4(&p, IPPROTO_ESP, ESP_LEN, false, true), 0x8001);
	assert_int_equal(run(f, &p), XDP_PASS);
	esp(ip4(&p, IPPROTO_ESP, ESP_LEN, true, true), 0x8001);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0x8001).packets, 3);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0x8001).bytes,
			 (20 + ESP_LEN) + 2 * (24 + ESP_LEN));
}

static void test_fragments_and_v6_ext(void **state)
{
	struct fixture *f = *state;
	struct iphdr *iph;
	struct pkt p;

	list_spi(f, AF_INET, LOCAL4, 0x9001);
	/* First fragment (MF) and a later one: neither is counted per SPI. */
	esp4(&p, 0x9001);
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	iph->frag_off = htons(0x2000);
	assert_int_equal(run(f, &p), XDP_PASS);
	iph->frag_off = htons(185);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_FRAGMENT), 2);
	/* IPv6: fragment header, hop-by-hop options */
	ip6(&p, 44, 8 + ESP_LEN);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_FRAGMENT), 3);
	ip6(&p, 0, 8 + ESP_LEN);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_V6_EXT), 1);
	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(f->nev, 0);
}

/* An IP header with a bad version is not IP: IPv4 with version 5 or a
 * header length below 5 words passes uncounted, and so does an IPv6
 * header that does not say 6, whatever its next header says. */
static void test_bad_ip_header(void **state)
{
	struct fixture *f = *state;
	struct iphdr *iph;
	struct pkt p;
	uint8_t nh[] = { IPPROTO_ESP, 0, 43, 44, 60 };
	size_t i;

	for (i = 0; i < sizeof(nh); i++) {
		esp(ip6(&p, nh[i], ESP_LEN), 0xc001);
		p.buf[ETH_HLEN] = 0x40; /* version 4 */
		assert_int_equal(run(f, &p), XDP_PASS);
		p.buf[ETH_HLEN] = 0x70;
		assert_int_equal(run(f, &p), XDP_PASS);
	}
	/* An IPv6 header cut short is not looked at either. */
	ip6(&p, 0, 8);
	p.len = ETH_HLEN + 39;
	assert_int_equal(run(f, &p), XDP_PASS);
	/* IPv4: version 5, and header lengths 0 to 4 */
	esp4(&p, 0xc002);
	iph = (struct iphdr *)(p.buf + ETH_HLEN);
	iph->version = 5;
	assert_int_equal(run(f, &p), XDP_PASS);
	iph->version = 4;
	for (i = 0; i < 5; i++) {
		iph->ihl = (uint8_t)i;
		assert_int_equal(run(f, &p), XDP_PASS);
	}

	assert_int_equal(reasons_total(f), 0);
	assert_int_equal(all_spi_entries(f), 0);
	assert_int_equal(f->nev, 0);
	/* The same IPv6 header with version 6 is noted. */
	ip6(&p, 0, 8 + ESP_LEN);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(reason(f, XS_UL_V6_EXT), 1);
}

/* One event per peer per interval; what was held back is counted in the
 * next one. The fixture's interval is 100 ms. */
static void test_rate_limit(void **state)
{
	struct fixture *f = *state;
	struct timespec ts = { .tv_nsec = 150 * 1000 * 1000 };
	char a[INET6_ADDRSTRLEN];
	struct pkt p;
	int i;

	for (i = 0; i < 5; i++) {
		esp4(&p, 0xa000 + (uint32_t)i); /* other SPIs, same peer */
		assert_int_equal(run(f, &p), XDP_PASS);
	}
	assert_int_equal(f->nev, 1);
	/* Another peer has its own budget. */
	esp4(&p, 0xa000);
	set_saddr4(&p, "198.51.100.3");
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(f->nev, 2);
	assert_string_equal(format_addr(AF_INET, f->ev[1].peer, a, sizeof(a)), "198.51.100.3");
	/* Every packet was counted although only two were reported. */
	assert_int_equal(reason(f, XS_UL_UNKNOWN_SPI), 6);

	nanosleep(&ts, NULL);
	esp4(&p, 0xa009);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(f->nev, 3);
	assert_string_equal(format_addr(AF_INET, f->ev[2].peer, a, sizeof(a)), PEER4);
	assert_int_equal(f->ev[2].suppressed, 4);
	assert_int_equal(ntohl(f->ev[2].spi), 0xa009);
}

static bool kernel_has_kfunc(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool ok;

	if (!btf)
		return false;
	ok = btf__find_by_name_kind(btf, "bpf_xdp_get_xfrm_state", BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return ok;
}

/* With the kfunc, the kernel's SA table decides, not the list: an SPI
 * listed but without an SA (there are none in this namespace) is unknown.
 * This also proves that libbpf resolved the weak kfunc, which it quietly
 * does not when the declaration does not match the kernel's. */
static void test_kfunc_asks_the_kernel(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	if (!kernel_has_kfunc())
		skip();
	list_spi(f, AF_INET, LOCAL4, 0xb001);
	esp4(&p, 0xb001);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, true, AF_INET, LOCAL4, 0xb001).packets, 0);
	assert_int_equal(spi_stats(f, false, AF_INET, LOCAL4, 0xb001).packets, 1);
	assert_int_equal(f->nev, 1);
	esp(ip6(&p, IPPROTO_ESP, ESP_LEN), 0xb002);
	assert_int_equal(run(f, &p), XDP_PASS);
	assert_int_equal(spi_stats(f, false, AF_INET6, LOCAL6, 0xb002).packets, 1);
}

/* Reader slots: XS_EVENT_READERS living readers at most, the next one is
 * told so; a slot whose reader is gone is taken again. */
static void test_reader_slots(void **state)
{
	struct fixture *f = *state;
	int outer = bpf_map__fd(f->skel->maps.ul_ev_readers);
	struct xs_event_reader r[XS_EVENT_READERS], extra;
	int i;

	/* The fixture holds two slots already. */
	for (i = 0; i < XS_EVENT_READERS - 2; i++)
		assert_int_equal(xs_event_reader_open(outer, &r[i]), 0);
	assert_int_equal(xs_event_reader_open(outer, &extra), -EBUSY);
	assert_true(xs_event_reader_live(&f->rd[0], outer));
	xs_event_reader_close(&r[1], outer);
	assert_int_equal(xs_event_reader_open(outer, &extra), 0);
	assert_int_equal(extra.slot, r[1].slot);
	assert_true(xs_event_reader_live(&extra, outer));
	xs_event_reader_close(&extra, outer);
	for (i = 0; i < XS_EVENT_READERS - 2; i++)
		xs_event_reader_close(&r[i], outer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_esp4_known, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_esp4_unknown, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_event_dst, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_drop_unknown, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_esp6, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_esp_in_udp, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_ike_and_keepalive, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_udp4500_short, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_ip_length, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_length_beyond_frame, setup_map_drop,
						teardown),
		cmocka_unit_test_setup_teardown(test_length_in_fragments, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_not_esp_untouched, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_vlan_and_options, setup_map, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_and_v6_ext, setup_map_drop,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_ip_header, setup_map_drop, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup_map_short_interval,
						teardown),
		cmocka_unit_test_setup_teardown(test_kfunc_asks_the_kernel, setup_auto, teardown),
		cmocka_unit_test_setup_teardown(test_reader_slots, setup_map, teardown),
	};

	/* A namespace of our own: no SA, no route, nothing forwarded, so
	 * every destination is local to the program's route check. */
	if (unshare(CLONE_NEWNET))
		fprintf(stderr, "note: no network namespace of our own: %s\n", strerror(errno));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
