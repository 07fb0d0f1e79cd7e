// SPDX-License-Identifier: GPL-2.0
/* Unit tests of the SA and policy library: keys, algorithms, checks, and
 * the netlink messages it builds, read back with libmnl. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/udp.h>
#include <cmocka.h>

#include "common.h"
#include "keys.h"
#include "xfrm.h"

#define GCM128_KEY "0x0102030405060708090a0b0c0d0e0f1011121314"
#define SHA256_KEY "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* Run fn with stderr going to a file; returns what it printed there, so
 * that tests can check error messages (and that no key is in them). */
struct captured {
	char text[2048];
	int ret;
};

static void capture_stderr_begin(int *saved, FILE **f)
{
	fflush(stderr);
	*f = tmpfile();
	assert_non_null(*f);
	*saved = dup(STDERR_FILENO);
	dup2(fileno(*f), STDERR_FILENO);
}

static void capture_stderr_end(int saved, FILE *f, struct captured *c)
{
	size_t n;

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(c->text, 1, sizeof(c->text) - 1, f);
	c->text[n] = '\0';
	fclose(f);
}

static int key_parse_captured(const char *arg, uint8_t *out, size_t max,
			      size_t *len, struct captured *c)
{
	struct xs_ctx ctx = { 0 };
	FILE *f;
	int saved;

	capture_stderr_begin(&saved, &f);
	c->ret = xs_key_parse(&ctx, arg, "aead key", out, max, len);
	capture_stderr_end(saved, f, c);
	return c->ret;
}

static void test_hex_decode(void **state)
{
	uint8_t out[4];
	size_t len;

	(void)state;
	assert_int_equal(xs_hex_decode("00ff7A", 6, out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0x7a);
	assert_int_equal(xs_hex_decode("0011223344", 10, out, sizeof(out), &len),
			 -EMSGSIZE);
	assert_int_equal(xs_hex_decode("001", 3, out, sizeof(out), &len), -EILSEQ);
	assert_int_equal(xs_hex_decode("0g", 2, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(xs_hex_decode("0 ", 2, out, sizeof(out), &len), -EINVAL);
	assert_int_equal(xs_hex_decode("", 0, out, sizeof(out), &len), -ENODATA);
	/* A bad digit is reported as such even when the input is also too
	 * long or odd: the more useful of the two messages. */
	assert_int_equal(xs_hex_decode("zz11223344", 10, out, sizeof(out), &len),
			 -EINVAL);
}

static void test_key_arg(void **state)
{
	uint8_t key[XS_KEY_MAX];
	struct captured c;
	size_t len;

	(void)state;
	assert_int_equal(key_parse_captured(GCM128_KEY, key, sizeof(key), &len, &c), 0);
	assert_int_equal(len, 20);
	assert_int_equal(key[0], 0x01);
	assert_int_equal(key[19], 0x14);
	assert_string_equal(c.text, "");

	assert_int_equal(key_parse_captured("0X0A0b", key, sizeof(key), &len, &c), 0);
	assert_int_equal(len, 2);
	assert_int_equal(key[1], 0x0b);

	/* iproute2 would take this as an ASCII key: we do not. */
	assert_int_equal(key_parse_captured("secretpassword", key, sizeof(key), &len, &c),
			 -EINVAL);
	assert_non_null(strstr(c.text, "Error: aead key: expected 0x"));
	assert_null(strstr(c.text, "secretpassword"));

	assert_int_equal(key_parse_captured("0x12345q", key, sizeof(key), &len, &c),
			 -EINVAL);
	assert_non_null(strstr(c.text, "aead key: not a hex number"));
	assert_null(strstr(c.text, "12345"));

	assert_int_equal(key_parse_captured("0x123", key, sizeof(key), &len, &c), -EINVAL);
	assert_non_null(strstr(c.text, "odd number of hex digits"));
	assert_int_equal(key_parse_captured("0x", key, sizeof(key), &len, &c), -EINVAL);
	assert_non_null(strstr(c.text, "no hex digits"));
	assert_int_equal(key_parse_captured("0x0102030405", key, 4, &len, &c), -EINVAL);
	assert_non_null(strstr(c.text, "longer than 4 bytes"));
	assert_null(strstr(c.text, "0102"));
}

/* A key file as it should be: 0600, ours. */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/xs-test-keys.XXXXXX", path[64], arg[80];
	uint8_t key[XS_KEY_MAX];
	struct captured c;
	char *big;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	snprintf(arg, sizeof(arg), "@%s", path);

	/* Newline and 0x prefix, as "echo 0x... > file" leaves it. */
	write_file(path, "  " GCM128_KEY "\n\n");
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), 0);
	assert_int_equal(len, 20);
	assert_int_equal(key[19], 0x14);

	/* Bare hex digits, no newline. */
	write_file(path, "a0b1");
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), 0);
	assert_int_equal(len, 2);
	assert_int_equal(key[0], 0xa0);

	write_file(path, "0xdeadbeefXX\n");
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EINVAL);
	assert_non_null(strstr(c.text, "not a hex number"));
	assert_non_null(strstr(c.text, path));
	assert_null(strstr(c.text, "deadbeef"));

	write_file(path, "\n  \n");
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EINVAL);
	assert_non_null(strstr(c.text, "is empty"));

	/* Internal whitespace is not trimmed away. */
	write_file(path, "0102 0304");
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EINVAL);

	big = malloc(10000);
	assert_non_null(big);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	write_file(path, big);
	free(big);
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EFBIG);
	assert_non_null(strstr(c.text, "too large"));

	/* Readable by others: refused, with the fix, and no key shown. */
	write_file(path, GCM128_KEY "\n");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EPERM);
	assert_non_null(strstr(c.text, "chmod 600 "));
	assert_non_null(strstr(c.text, path));
	assert_null(strstr(c.text, "0102030405"));
	assert_ptr_equal(strchr(c.text, '\n'), c.text + strlen(c.text) - 1);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EPERM);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), 0);
	/* Another user's: refused (root can give it away to try). */
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(key_parse_captured(arg, key, sizeof(key), &len, &c), -EPERM);
		assert_non_null(strstr(c.text, "chown root "));
		assert_null(strstr(c.text, "0102030405"));
	}

	unlink(path);
	assert_true(key_parse_captured(arg, key, sizeof(key), &len, &c) < 0);
	assert_non_null(strstr(c.text, "cannot open key file"));
	assert_int_equal(key_parse_captured("@", key, sizeof(key), &len, &c), -EINVAL);
	assert_non_null(strstr(c.text, "needs a file name"));
	rmdir(dir);
}

static void test_key_format(void **state)
{
	const uint8_t k[] = { 0x00, 0xab, 0x7f };
	char buf[16];

	(void)state;
	assert_string_equal(xs_key_format(k, 3, buf, sizeof(buf)), "0x00ab7f");
	assert_string_equal(xs_key_format(k, 3, buf, 8), "?");
}

static void test_alg_aliases(void **state)
{
	const struct xs_alg_desc *d;

	(void)state;
	d = xs_alg_find(XS_ALG_AEAD, "aes-gcm");
	assert_non_null(d);
	assert_string_equal(d->name, "rfc4106(gcm(aes))");
	assert_ptr_equal(xs_alg_find(XS_ALG_AEAD, "rfc4106(gcm(aes))"), d);
	d = xs_alg_find(XS_ALG_AEAD, "chacha20-poly1305");
	assert_non_null(d);
	assert_string_equal(d->name, "rfc7539esp(chacha20,poly1305)");
	d = xs_alg_find(XS_ALG_ENC, "aes-cbc");
	assert_non_null(d);
	assert_string_equal(d->name, "cbc(aes)");
	assert_ptr_equal(xs_alg_find(XS_ALG_ENC, "aes"), d);
	d = xs_alg_find(XS_ALG_AUTH, "sha256");
	assert_non_null(d);
	assert_string_equal(d->name, "hmac(sha256)");
	assert_int_equal(d->icv_bits[0], 128);
	assert_ptr_equal(xs_alg_find(XS_ALG_AUTH, "hmac-sha256"), d);

	/* Right name, wrong place; and names we do not offer. */
	assert_null(xs_alg_find(XS_ALG_ENC, "aes-gcm"));
	assert_null(xs_alg_find(XS_ALG_AEAD, "sha256"));
	assert_null(xs_alg_find(XS_ALG_AEAD, "AES-GCM"));
	assert_null(xs_alg_find_any("des"));
	assert_null(xs_alg_find_any("ecb(cipher_null)"));
}

static void set_alg(struct xs_alg *a, const char *name, uint32_t key_len,
		    uint32_t icv)
{
	uint32_t i;

	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->key_len = key_len;
	a->icv_bits = icv;
	for (i = 0; i < key_len && i < XS_KEY_MAX; i++)
		a->key[i] = (uint8_t)(0xa0 + i);
}

static void test_alg_key_lengths(void **state)
{
	struct xs_alg a;
	char why[256];

	(void)state;
	/* AES-GCM: 16/24/32-byte key plus the salt; ICV 64, 96, 128. */
	set_alg(&a, "rfc4106(gcm(aes))", 20, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), 0);
	set_alg(&a, "aes-gcm", 36, 64);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), 0);
	set_alg(&a, "aes-gcm", 28, 96);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), 0);
	set_alg(&a, "aes-gcm", 16, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), -EINVAL);
	assert_string_equal(why,
			    "aead key for rfc4106(gcm(aes)) is 16 bytes, needs 20, 28 or 36 bytes: an AES-128, -192 or -256 key followed by a 4-byte salt");
	set_alg(&a, "aes-gcm", 32, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), -EINVAL);
	set_alg(&a, "aes-gcm", 20, 100);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "ICV length 100 bits"));
	assert_non_null(strstr(why, "128, 96 or 64"));

	/* ChaCha20-Poly1305: 32 + 4 bytes, ICV 128 only. */
	set_alg(&a, "chacha20-poly1305", 36, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), 0);
	set_alg(&a, "chacha20-poly1305", 32, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "needs 36 bytes"));
	set_alg(&a, "chacha20-poly1305", 36, 96);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), -EINVAL);

	/* AES-CBC and HMAC-SHA256. */
	set_alg(&a, "cbc(aes)", 16, 0);
	assert_int_equal(xs_alg_check(XS_ALG_ENC, &a, why, sizeof(why)), 0);
	set_alg(&a, "aes-cbc", 32, 0);
	assert_int_equal(xs_alg_check(XS_ALG_ENC, &a, why, sizeof(why)), 0);
	set_alg(&a, "aes-cbc", 20, 0);
	assert_int_equal(xs_alg_check(XS_ALG_ENC, &a, why, sizeof(why)), -EINVAL);
	set_alg(&a, "hmac(sha256)", 32, 0);
	assert_int_equal(xs_alg_check(XS_ALG_AUTH, &a, why, sizeof(why)), 0);
	set_alg(&a, "sha256", 32, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AUTH, &a, why, sizeof(why)), 0);
	set_alg(&a, "sha256", 16, 0);
	assert_int_equal(xs_alg_check(XS_ALG_AUTH, &a, why, sizeof(why)), -EINVAL);
	set_alg(&a, "sha256", 32, 96);
	assert_int_equal(xs_alg_check(XS_ALG_AUTH, &a, why, sizeof(why)), -EINVAL);

	set_alg(&a, "aes-gcm", 20, 128);
	assert_int_equal(xs_alg_check(XS_ALG_ENC, &a, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "enc \"aes-gcm\" is an aead algorithm, not enc");
	set_alg(&a, "rot13", 20, 128);
	assert_int_equal(xs_alg_check(XS_ALG_AEAD, &a, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "unknown aead algorithm \"rot13\"");
}

static void sa_gcm(struct xs_sa *sa)
{
	xs_sa_init(sa);
	assert_int_equal(parse_addr("10.0.1.1", &sa->src), 0);
	assert_int_equal(parse_addr("10.0.1.2", &sa->dst), 0);
	sa->spi = 0x1001;
	sa->if_id = 101;
	sa->reqid = 7;
	sa->flags = XFRM_STATE_AF_UNSPEC;
	set_alg(&sa->aead, "rfc4106(gcm(aes))", 20, 128);
}

static void test_sa_check(void **state)
{
	struct xs_sa sa;
	char why[256];

	(void)state;
	sa_gcm(&sa);
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);

	assert_int_equal(parse_addr("2001:db8::2", &sa.dst), 0);
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_string_equal(why,
			    "src 10.0.1.1 is IPv4 but dst 2001:db8::2 is IPv6: both ends of an SA are of one family");

	sa_gcm(&sa);
	sa.spi = 255;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "spi 0x000000ff is reserved"));
	sa.spi = 256;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);

	sa_gcm(&sa);
	set_alg(&sa.enc, "cbc(aes)", 16, 0);
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no enc or auth with it"));

	sa_gcm(&sa);
	memset(&sa.aead, 0, sizeof(sa.aead));
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "needs an algorithm"));
	set_alg(&sa.enc, "cbc(aes)", 16, 0);
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "enc needs \"auth NAME KEY\""));
	set_alg(&sa.auth, "hmac(sha256)", 32, 0);
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);
	memset(&sa.enc, 0, sizeof(sa.enc));
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "auth needs \"enc NAME KEY\""));

	sa_gcm(&sa);
	sa.replay_window = XS_REPLAY_MAX + 1;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	sa_gcm(&sa);
	sa.mode = 4; /* BEET */
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	sa_gcm(&sa);
	sa.encap.type = UDP_ENCAP_ESPINUDP;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	sa.encap.sport = sa.encap.dport = 4500;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);
}

static const enum mnl_attr_data_type any_attr[XFRMA_MAX + 1] = {
	[XFRMA_ALG_AUTH] = MNL_TYPE_BINARY,
	[XFRMA_ALG_CRYPT] = MNL_TYPE_BINARY,
	[XFRMA_ALG_AEAD] = MNL_TYPE_BINARY,
	[XFRMA_ALG_AUTH_TRUNC] = MNL_TYPE_BINARY,
	[XFRMA_ENCAP] = MNL_TYPE_BINARY,
	[XFRMA_REPLAY_ESN_VAL] = MNL_TYPE_BINARY,
	[XFRMA_IF_ID] = MNL_TYPE_U32,
	[XFRMA_TMPL] = MNL_TYPE_BINARY,
	[XFRMA_POLICY_TYPE] = MNL_TYPE_BINARY,
};

static void test_sa_encode_aead(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_usersa_info info;
	struct xfrm_algo_aead aead;
	struct nlmsghdr *nlh;
	struct xs_sa sa, back;
	const uint8_t *key;
	uint32_t want_ip;

	(void)state;
	sa_gcm(&sa);
	nlh = xs_sa_encode(buf, &sa);
	assert_non_null(nlh);
	assert_int_equal(nlh->nlmsg_type, XFRM_MSG_NEWSA);
	assert_true(nlh->nlmsg_flags & NLM_F_REQUEST);
	assert_true(mnl_nlmsg_get_payload_len(nlh) >= sizeof(info));
	memcpy(&info, mnl_nlmsg_get_payload(nlh), sizeof(info));
	assert_int_equal(info.family, AF_INET);
	assert_int_equal(info.id.proto, IPPROTO_ESP);
	assert_int_equal(info.id.spi, htonl(0x1001));
	inet_pton(AF_INET, "10.0.1.2", &want_ip);
	assert_memory_equal(&info.id.daddr.a4, &want_ip, 4);
	inet_pton(AF_INET, "10.0.1.1", &want_ip);
	assert_memory_equal(&info.saddr.a4, &want_ip, 4);
	assert_int_equal(info.mode, XFRM_MODE_TUNNEL);
	assert_int_equal(info.flags, XFRM_STATE_AF_UNSPEC);
	/* Manual keys: no anti-replay unless asked for (RFC 4303 3.3.3). */
	assert_int_equal(info.replay_window, 0);
	assert_int_equal(info.reqid, 7);
	/* All-wildcard selector, family included: both inner families. */
	assert_int_equal(info.sel.family, AF_UNSPEC);
	assert_int_equal(info.sel.prefixlen_d, 0);
	assert_true(info.lft.hard_byte_limit == XFRM_INF);
	assert_true(info.lft.hard_packet_limit == XFRM_INF);

	assert_int_equal(xs_nl_parse(nlh, sizeof(info), any_attr, XFRMA_MAX, tb), 0);
	assert_non_null(tb[XFRMA_ALG_AEAD]);
	assert_null(tb[XFRMA_ALG_CRYPT]);
	assert_null(tb[XFRMA_ALG_AUTH_TRUNC]);
	assert_null(tb[XFRMA_REPLAY_ESN_VAL]);
	assert_null(tb[XFRMA_ENCAP]);
	assert_int_equal(mnl_attr_get_payload_len(tb[XFRMA_ALG_AEAD]), sizeof(aead) + 20);
	memcpy(&aead, mnl_attr_get_payload(tb[XFRMA_ALG_AEAD]), sizeof(aead));
	assert_string_equal(aead.alg_name, "rfc4106(gcm(aes))");
	assert_int_equal(aead.alg_key_len, 160);
	assert_int_equal(aead.alg_icv_len, 128);
	key = (const uint8_t *)mnl_attr_get_payload(tb[XFRMA_ALG_AEAD]) + sizeof(aead);
	assert_memory_equal(key, sa.aead.key, 20);
	assert_non_null(tb[XFRMA_IF_ID]);
	assert_int_equal(mnl_attr_get_u32(tb[XFRMA_IF_ID]), 101);

	/* The decoder reads what the encoder wrote. */
	assert_int_equal(xs_sa_decode(nlh, &back), 0);
	assert_int_equal(back.spi, 0x1001);
	assert_int_equal(back.if_id, 101);
	assert_int_equal(back.reqid, 7);
	assert_int_equal(back.replay_window, 0);
	assert_int_equal(back.src.family, AF_INET);
	assert_memory_equal(back.src.addr, sa.src.addr, 4);
	assert_memory_equal(back.dst.addr, sa.dst.addr, 4);
	assert_string_equal(back.aead.name, "rfc4106(gcm(aes))");
	assert_int_equal(back.aead.key_len, 20);
	assert_int_equal(back.aead.icv_bits, 128);
	assert_memory_equal(back.aead.key, sa.aead.key, 20);
	assert_string_equal(back.enc.name, "");
}

/* Per-CPU SAs (RFC 9611): XFRMA_SA_DIR and XFRMA_SA_PCPU go out only when
 * set, and come back; CPU 0 is a CPU, not "none". */
static void test_sa_encode_dir_pcpu(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	static const enum mnl_attr_data_type attrs[XFRMA_MAX + 1] = {
		[XFRMA_SA_DIR] = MNL_TYPE_U8,
		[XFRMA_SA_PCPU] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct nlmsghdr *nlh;
	struct xs_sa sa, back;
	char why[256];

	(void)state;
	sa_gcm(&sa);
	nlh = xs_sa_encode(buf, &sa);
	assert_non_null(nlh);
	assert_int_equal(xs_nl_parse(nlh, sizeof(struct xfrm_usersa_info), attrs, XFRMA_MAX, tb), 0);
	assert_null(tb[XFRMA_SA_DIR]);
	assert_null(tb[XFRMA_SA_PCPU]);
	assert_int_equal(xs_sa_decode(nlh, &back), 0);
	assert_false(back.has_pcpu);
	assert_int_equal(back.dir, 0);

	memset(buf, 0, sizeof(buf));
	sa.dir = XFRM_SA_DIR_OUT;
	sa.has_pcpu = true;
	sa.pcpu = 0;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);
	nlh = xs_sa_encode(buf, &sa);
	assert_non_null(nlh);
	assert_int_equal(xs_nl_parse(nlh, sizeof(struct xfrm_usersa_info), attrs, XFRMA_MAX, tb), 0);
	assert_non_null(tb[XFRMA_SA_DIR]);
	assert_int_equal(mnl_attr_get_u8(tb[XFRMA_SA_DIR]), XFRM_SA_DIR_OUT);
	assert_non_null(tb[XFRMA_SA_PCPU]);
	assert_int_equal(mnl_attr_get_u32(tb[XFRMA_SA_PCPU]), 0);
	assert_int_equal(xs_sa_decode(nlh, &back), 0);
	assert_true(back.has_pcpu);
	assert_int_equal(back.pcpu, 0);
	assert_int_equal(back.dir, XFRM_SA_DIR_OUT);

	/* What the kernel would refuse with a bare EINVAL, or read wrong. */
	sa.dir = 0;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "pcpu needs dir in or dir out"));
	sa.dir = 3;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	sa.dir = XFRM_SA_DIR_OUT;
	sa.replay_window = 32;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "an outbound SA (dir out) has no replay-window"));
	sa.dir = XFRM_SA_DIR_IN;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);
	/* An outbound ESN SA needs no window. */
	sa.dir = XFRM_SA_DIR_OUT;
	sa.replay_window = 0;
	sa.flags |= XFRM_STATE_ESN;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);
}

static void test_sa_encode_alias_and_if_id0(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_algo_aead aead;
	struct nlmsghdr *nlh;
	struct xs_sa sa;

	(void)state;
	/* An alias in the struct (as apply may leave it) still reaches the
	 * kernel by its real name; if_id 0 sends no attribute at all. */
	sa_gcm(&sa);
	sa.if_id = 0;
	set_alg(&sa.aead, "chacha20-poly1305", 36, 128);
	nlh = xs_sa_encode(buf, &sa);
	assert_non_null(nlh);
	assert_int_equal(xs_nl_parse(nlh, sizeof(struct xfrm_usersa_info), any_attr,
				     XFRMA_MAX, tb), 0);
	memcpy(&aead, mnl_attr_get_payload(tb[XFRMA_ALG_AEAD]), sizeof(aead));
	assert_string_equal(aead.alg_name, "rfc7539esp(chacha20,poly1305)");
	assert_int_equal(aead.alg_key_len, 288);
	assert_null(tb[XFRMA_IF_ID]);
}

static void test_sa_encode_cbc_esn_encap_v6(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_replay_state_esn rs;
	struct xfrm_usersa_info info;
	struct xfrm_encap_tmpl et;
	struct xfrm_algo_auth auth;
	struct xfrm_algo crypt;
	struct nlmsghdr *nlh;
	struct xs_sa sa, back;
	char why[256];

	(void)state;
	xs_sa_init(&sa);
	assert_int_equal(parse_addr("2001:db8::1", &sa.src), 0);
	assert_int_equal(parse_addr("2001:db8::2", &sa.dst), 0);
	sa.spi = 0xdeadbeef;
	sa.flags = XFRM_STATE_AF_UNSPEC | XFRM_STATE_ESN;
	sa.replay_window = 128;
	set_alg(&sa.enc, "aes-cbc", 32, 0);
	set_alg(&sa.auth, "sha256", 32, 0);
	sa.encap.type = UDP_ENCAP_ESPINUDP;
	sa.encap.sport = 4500;
	sa.encap.dport = 4501;
	assert_int_equal(xs_sa_check(&sa, why, sizeof(why)), 0);
	nlh = xs_sa_encode(buf, &sa);
	assert_non_null(nlh);
	memcpy(&info, mnl_nlmsg_get_payload(nlh), sizeof(info));
	assert_int_equal(info.family, AF_INET6);
	assert_int_equal(info.id.spi, htonl(0xdeadbeef));
	assert_int_equal(info.flags, XFRM_STATE_AF_UNSPEC | XFRM_STATE_ESN);
	/* The kernel refuses a legacy window next to the ESN state. */
	assert_int_equal(info.replay_window, 0);
	assert_memory_equal(&info.id.daddr, sa.dst.addr, 16);

	assert_int_equal(xs_nl_parse(nlh, sizeof(info), any_attr, XFRMA_MAX, tb), 0);
	assert_null(tb[XFRMA_ALG_AEAD]);
	assert_null(tb[XFRMA_ALG_AUTH]);
	assert_non_null(tb[XFRMA_ALG_CRYPT]);
	assert_non_null(tb[XFRMA_ALG_AUTH_TRUNC]);
	memcpy(&crypt, mnl_attr_get_payload(tb[XFRMA_ALG_CRYPT]), sizeof(crypt));
	assert_string_equal(crypt.alg_name, "cbc(aes)");
	assert_int_equal(crypt.alg_key_len, 256);
	memcpy(&auth, mnl_attr_get_payload(tb[XFRMA_ALG_AUTH_TRUNC]), sizeof(auth));
	assert_string_equal(auth.alg_name, "hmac(sha256)");
	assert_int_equal(auth.alg_key_len, 256);
	assert_int_equal(auth.alg_trunc_len, 128);
	assert_int_equal(mnl_attr_get_payload_len(tb[XFRMA_ALG_AUTH_TRUNC]),
			 sizeof(auth) + 32);

	assert_non_null(tb[XFRMA_REPLAY_ESN_VAL]);
	memcpy(&rs, mnl_attr_get_payload(tb[XFRMA_REPLAY_ESN_VAL]), sizeof(rs));
	assert_int_equal(rs.replay_window, 128);
	assert_int_equal(rs.bmp_len, 4);
	assert_int_equal(mnl_attr_get_payload_len(tb[XFRMA_REPLAY_ESN_VAL]),
			 sizeof(rs) + 4 * sizeof(uint32_t));

	assert_non_null(tb[XFRMA_ENCAP]);
	memcpy(&et, mnl_attr_get_payload(tb[XFRMA_ENCAP]), sizeof(et));
	assert_int_equal(et.encap_type, UDP_ENCAP_ESPINUDP);
	assert_int_equal(et.encap_sport, htons(4500));
	assert_int_equal(et.encap_dport, htons(4501));

	assert_int_equal(xs_sa_decode(nlh, &back), 0);
	assert_int_equal(back.src.family, AF_INET6);
	assert_memory_equal(back.src.addr, sa.src.addr, 16);
	assert_int_equal(back.replay_window, 128);
	assert_int_equal(back.encap.type, UDP_ENCAP_ESPINUDP);
	assert_int_equal(back.encap.sport, 4500);
	assert_int_equal(back.encap.dport, 4501);
	assert_string_equal(back.enc.name, "cbc(aes)");
	assert_string_equal(back.auth.name, "hmac(sha256)");
	assert_int_equal(back.auth.icv_bits, 128);
	assert_memory_equal(back.auth.key, sa.auth.key, 32);
}

static void test_sa_encode_wide_window(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_replay_state_esn rs;
	struct xfrm_usersa_info info;
	struct nlmsghdr *nlh;
	struct xs_sa sa;

	(void)state;
	/* Above 32 without ESN: the legacy u8 field would be cut to 32 by
	 * the kernel, so the window goes in the ESN attribute. */
	sa_gcm(&sa);
	sa.replay_window = 1000;
	nlh = xs_sa_encode(buf, &sa);
	memcpy(&info, mnl_nlmsg_get_payload(nlh), sizeof(info));
	assert_int_equal(info.replay_window, 0);
	assert_int_equal(info.flags & XFRM_STATE_ESN, 0);
	assert_int_equal(xs_nl_parse(nlh, sizeof(info), any_attr, XFRMA_MAX, tb), 0);
	assert_non_null(tb[XFRMA_REPLAY_ESN_VAL]);
	memcpy(&rs, mnl_attr_get_payload(tb[XFRMA_REPLAY_ESN_VAL]), sizeof(rs));
	assert_int_equal(rs.replay_window, 1000);
	assert_int_equal(rs.bmp_len, 32);
}

static void test_sa_decode_skips(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	struct xfrm_usersa_info *info;
	struct nlmsghdr *nlh;
	struct xs_sa sa;

	(void)state;
	sa_gcm(&sa);
	nlh = xs_sa_encode(buf, &sa);
	info = mnl_nlmsg_get_payload(nlh);
	info->id.proto = IPPROTO_AH;
	assert_int_equal(xs_sa_decode(nlh, &sa), -ENOENT);
	info->id.proto = IPPROTO_ESP;
	info->family = AF_UNIX;
	assert_int_equal(xs_sa_decode(nlh, &sa), -EAFNOSUPPORT);
	nlh->nlmsg_len = (uint32_t)mnl_nlmsg_size(sizeof(*info) - 8);
	assert_int_equal(xs_sa_decode(nlh, &sa), -EBADMSG);
}

static void policy_out(struct xs_policy *pol, int family)
{
	xs_policy_init(pol, XFRM_POLICY_OUT, family);
	pol->if_id = 101;
	pol->ntmpl = 1;
	assert_int_equal(parse_addr("10.0.1.1", &pol->tmpl[0].src), 0);
	assert_int_equal(parse_addr("10.0.1.2", &pol->tmpl[0].dst), 0);
	pol->tmpl[0].mode = XFRM_MODE_TUNNEL;
	pol->tmpl[0].reqid = 1;
}

static void test_policy_encode(void **state)
{
	char buf[XS_NL_REQ_SIZE] __attribute__((aligned(8))) = { 0 };
	const struct nlattr *tb[XFRMA_MAX + 1];
	struct xfrm_userpolicy_info pi;
	struct xfrm_user_tmpl ut;
	struct xs_policy pol, back;
	struct nlmsghdr *nlh;
	char why[256], name[200];

	(void)state;
	/* IPv6 inner traffic through an IPv4 tunnel. */
	policy_out(&pol, AF_INET6);
	assert_int_equal(parse_prefix("2001:db8:1::/48", &pol.sel_dst, false), 0);
	pol.priority = 10;
	assert_int_equal(xs_policy_check(&pol, why, sizeof(why)), 0);
	assert_string_equal(xs_policy_name(&pol, name, sizeof(name)),
			    "policy dir out src ::/0 dst 2001:db8:1::/48 if_id 101");
	nlh = xs_policy_encode(buf, &pol);
	assert_non_null(nlh);
	assert_int_equal(nlh->nlmsg_type, XFRM_MSG_NEWPOLICY);
	memcpy(&pi, mnl_nlmsg_get_payload(nlh), sizeof(pi));
	assert_int_equal(pi.sel.family, AF_INET6);
	assert_int_equal(pi.sel.prefixlen_s, 0);
	assert_int_equal(pi.sel.prefixlen_d, 48);
	assert_memory_equal(&pi.sel.daddr, pol.sel_dst.addr, 16);
	assert_int_equal(pi.dir, XFRM_POLICY_OUT);
	assert_int_equal(pi.action, XFRM_POLICY_ALLOW);
	assert_int_equal(pi.priority, 10);
	assert_true(pi.lft.hard_byte_limit == XFRM_INF);

	assert_int_equal(xs_nl_parse(nlh, sizeof(pi), any_attr, XFRMA_MAX, tb), 0);
	assert_non_null(tb[XFRMA_TMPL]);
	assert_int_equal(mnl_attr_get_payload_len(tb[XFRMA_TMPL]), sizeof(ut));
	memcpy(&ut, mnl_attr_get_payload(tb[XFRMA_TMPL]), sizeof(ut));
	assert_int_equal(ut.family, AF_INET);
	assert_int_equal(ut.id.proto, IPPROTO_ESP);
	assert_int_equal(ut.id.spi, 0);
	assert_memory_equal(&ut.id.daddr.a4, pol.tmpl[0].dst.addr, 4);
	assert_memory_equal(&ut.saddr.a4, pol.tmpl[0].src.addr, 4);
	assert_int_equal(ut.mode, XFRM_MODE_TUNNEL);
	assert_int_equal(ut.reqid, 1);
	assert_int_equal(ut.optional, 0);
	/* Every algorithm: the kernel would not match AEAD SAs otherwise. */
	assert_int_equal(ut.aalgos, ~0u);
	assert_int_equal(ut.ealgos, ~0u);
	assert_non_null(tb[XFRMA_IF_ID]);
	assert_int_equal(mnl_attr_get_u32(tb[XFRMA_IF_ID]), 101);
	assert_null(tb[XFRMA_POLICY_TYPE]);

	assert_int_equal(xs_policy_decode(nlh, &back), 0);
	assert_int_equal(back.dir, XFRM_POLICY_OUT);
	assert_int_equal(back.if_id, 101);
	assert_int_equal(back.priority, 10);
	assert_int_equal(back.sel_dst.family, AF_INET6);
	assert_int_equal(back.sel_dst.plen, 48);
	assert_int_equal(back.ntmpl, 1);
	assert_int_equal(back.tmpl[0].src.family, AF_INET);
	assert_memory_equal(back.tmpl[0].dst.addr, pol.tmpl[0].dst.addr, 4);
	assert_int_equal(back.tmpl[0].proto, IPPROTO_ESP);
	assert_int_equal(back.tmpl[0].reqid, 1);
}

static void test_policy_check(void **state)
{
	struct xs_policy pol;
	char why[256];

	(void)state;
	policy_out(&pol, AF_INET);
	assert_int_equal(xs_policy_check(&pol, why, sizeof(why)), 0);
	/* Transport mode cannot change the family. */
	policy_out(&pol, AF_INET6);
	pol.tmpl[0].mode = XFRM_MODE_TRANSPORT;
	assert_int_equal(xs_policy_check(&pol, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "transport-mode tmpl (IPv4)"));
	policy_out(&pol, AF_INET);
	assert_int_equal(parse_prefix("2001:db8::/32", &pol.sel_dst, false), 0);
	assert_int_equal(xs_policy_check(&pol, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "different families"));
	policy_out(&pol, AF_INET);
	assert_int_equal(parse_addr("2001:db8::1", &pol.tmpl[0].dst), 0);
	assert_int_equal(xs_policy_check(&pol, why, sizeof(why)), -EINVAL);
	policy_out(&pol, AF_INET);
	pol.dir = 3;
	assert_int_equal(xs_policy_check(&pol, why, sizeof(why)), -EINVAL);
}

/* Run an object's command line (words split at spaces) on this machine:
 * every case here is refused before any netlink request. */
static int run_cli(int (*fn)(struct xs_ctx *, int, char **), const char *line,
		   struct captured *c)
{
	struct xs_ctx ctx = { 0 };
	char buf[512], *argv[40], *w;
	int argc = 0;
	FILE *f;
	int saved;

	snprintf(buf, sizeof(buf), "%s", line);
	for (w = strtok(buf, " "); w && argc < 40; w = strtok(NULL, " "))
		argv[argc++] = w;
	capture_stderr_begin(&saved, &f);
	c->ret = fn(&ctx, argc, argv);
	capture_stderr_end(saved, f, c);
	return c->ret;
}

#define SA_ID "add src 10.0.0.1 dst 10.0.0.2 spi 0x1000 "
#define SECRET "0x00112233445566778899aabbccddeeff00112233"

static void expect_refused(int (*fn)(struct xs_ctx *, int, char **),
			   const char *line, const char *want)
{
	struct captured c;

	assert_true(run_cli(fn, line, &c) < 0);
	if (!strstr(c.text, want))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", line, c.text, want);
	assert_true(!strncmp(c.text, "Error: ", 7));
	/* One line, and never a key in it. */
	assert_ptr_equal(strchr(c.text, '\n'), c.text + strlen(c.text) - 1);
	assert_null(strstr(c.text, "00112233"));
}

static void test_cli_refusals(void **state)
{
	(void)state;
	expect_refused(do_sa, SA_ID "aead " SECRET " 128 encap espinudp 1 2",
		       "\"aead\" needs NAME KEY ICV_BITS: the NAME is missing");
	expect_refused(do_sa, SA_ID "aead aes-gcm " SECRET " 128 " SECRET,
		       "unknown argument (value not shown: it looks like key material)");
	expect_refused(do_sa, SA_ID "aead aes-gcm " SECRET " " SECRET,
		       "invalid ICV_BITS (value not shown: it looks like key material)");
	expect_refused(do_sa, SA_ID "aead aes-gcm 0x0011 128",
		       "aead key for rfc4106(gcm(aes)) is 2 bytes");
	expect_refused(do_sa, SA_ID "aead aes-gcm " SECRET,
		       "\"aead\" needs NAME KEY ICV_BITS");
	expect_refused(do_sa, SA_ID "enc aes " SECRET " auth sha256 " SECRET,
		       "enc key for cbc(aes) is 20 bytes");
	expect_refused(do_sa, SA_ID "aead aes-gcm " SECRET " 128 aead aes-gcm " SECRET " 128",
		       "\"aead\" given twice");
	expect_refused(do_sa, "add src 10.0.0.1 dst 2001:db8::1 spi 0x1000 aead aes-gcm " SECRET " 128",
		       "src 10.0.0.1 is IPv4 but dst 2001:db8::1 is IPv6");
	expect_refused(do_sa, "add src 10.0.0.1 dst 10.0.0.2 aead aes-gcm " SECRET " 128",
		       "sa add: missing \"spi SPI\"");
	expect_refused(do_sa, SA_ID "mode beet aead aes-gcm " SECRET " 128",
		       "invalid mode \"beet\"");
	expect_refused(do_sa, SA_ID "replay-window 5000 aead aes-gcm " SECRET " 128",
		       "invalid replay-window \"5000\" (0..4096 packets)");
	/* The kernel refuses an ESN SA without a window; one line naming
	 * the fix rather than its bare EINVAL. */
	expect_refused(do_sa, SA_ID "replay-window 0 flag esn aead aes-gcm " SECRET " 128",
		       "flag esn needs a replay-window of 1..4096, the kernel refuses an ESN SA without one (leave replay-window out for 32, or drop flag esn)");
	expect_refused(do_sa, SA_ID "pcpu 1 aead aes-gcm " SECRET " 128",
		       "pcpu needs dir in or dir out");
	expect_refused(do_sa, SA_ID "dir out pcpu -1 aead aes-gcm " SECRET " 128",
		       "invalid pcpu \"-1\"");
	expect_refused(do_sa, SA_ID "dir both aead aes-gcm " SECRET " 128",
		       "invalid dir \"both\" (in or out)");
	expect_refused(do_sa, SA_ID "flag nopmtudisc aead aes-gcm " SECRET " 128",
		       "invalid flag \"nopmtudisc\"");
	expect_refused(do_sa, SA_ID "aead aes-gcm " SECRET " 128 encap espinudp 0 4500",
		       "invalid encap source port \"0\"");
	expect_refused(do_sa, SA_ID "aead aes-gcm " SECRET " 128 encap espintcp 4500 4500",
		       "invalid encap type \"espintcp\" (espinudp)");
	expect_refused(do_sa, SA_ID "enc aes-gcm " SECRET " auth sha256 " SECRET,
		       "enc \"aes-gcm\" is an aead algorithm, not enc");
	expect_refused(do_sa, SA_ID "aead aes-gcm @/nonexistent/key 128",
		       "aead key: cannot open key file \"/nonexistent/key\"");
	expect_refused(do_sa, "add src 10.0.0.1 dst 10.0.0.2 spi 0x100000000",
		       "invalid spi \"0x100000000\"");
	expect_refused(do_sa, "del src 10.0.0.1 dst 2001:db8::1 spi 0x1000",
		       "different families");
	expect_refused(do_sa, "del src 10.0.0.1 dst 10.0.0.2",
		       "sa del: missing \"spi SPI\"");
	expect_refused(do_sa, "show if_id -1", "invalid if_id \"-1\"");
	expect_refused(do_sa, "flush spi 0x1000", "sa flush: unknown argument \"spi\"");

	expect_refused(do_policy, "add dir sideways tmpl src 10.0.0.1 dst 10.0.0.2",
		       "invalid dir \"sideways\"");
	expect_refused(do_policy, "add dir out mode tunnel tmpl src 10.0.0.1 dst 10.0.0.2",
		       "\"mode\" belongs to the template");
	expect_refused(do_policy, "add dir out tmpl src 10.0.0.1",
		       "tmpl needs \"dst ADDR\"");
	expect_refused(do_policy, "add dir out tmpl src 10.0.0.1 dst 2001:db8::1",
		       "tmpl src and dst are of different families");
	expect_refused(do_policy, "add dir out if_id 5",
		       "policy add: missing \"tmpl src ADDR dst ADDR\"");
	expect_refused(do_policy, "add dir out src 10.0.0.0/8 dst 2001:db8::/32 tmpl src 10.0.0.1 dst 10.0.0.2",
		       "src and dst prefixes are of different families");
	expect_refused(do_policy, "add tmpl src 10.0.0.1 dst 10.0.0.2",
		       "policy add: missing \"dir DIR\"");
	expect_refused(do_policy, "add dir out src 10.0.0.0/8 tmpl src 10.0.0.1 dst 10.0.0.2 tmpl src 10.0.0.1 dst 10.0.0.2",
		       "\"tmpl\" given twice");
	expect_refused(do_policy, "del dir out tmpl src 10.0.0.1 dst 10.0.0.2",
		       "policy del: unknown argument \"tmpl\"");
	expect_refused(do_policy, "del dir out src 10.1.2.3/8",
		       "src prefix \"10.1.2.3/8\" has host bits set");
	expect_refused(do_policy, "show dir up", "invalid dir \"up\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_decode),
		cmocka_unit_test(test_key_arg),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_alg_aliases),
		cmocka_unit_test(test_alg_key_lengths),
		cmocka_unit_test(test_sa_check),
		cmocka_unit_test(test_sa_encode_aead),
		cmocka_unit_test(test_sa_encode_dir_pcpu),
		cmocka_unit_test(test_sa_encode_alias_and_if_id0),
		cmocka_unit_test(test_sa_encode_cbc_esn_encap_v6),
		cmocka_unit_test(test_sa_encode_wide_window),
		cmocka_unit_test(test_sa_decode_skips),
		cmocka_unit_test(test_policy_encode),
		cmocka_unit_test(test_policy_check),
		cmocka_unit_test(test_cli_refusals),
	};

	return cmocka_run_group_tests_name("xfrm", tests, NULL, NULL);
}
