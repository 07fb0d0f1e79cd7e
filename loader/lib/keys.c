// SPDX-License-Identifier: GPL-2.0
/* Key arguments: hex on the command line or in a file. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common.h"
#include "keys.h"

/* A key file holds at most a few hundred hex digits; anything much larger
 * is the wrong file, and is refused before it is read whole. */
#define KEY_FILE_MAX 4096

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int xs_hex_decode(const char *s, size_t n, uint8_t *out, size_t max,
		  size_t *len)
{
	size_t i;

	*len = 0;
	if (!n)
		return -ENODATA;
	/* Check every digit before the length, so that "0xzz..." is called
	 * bad hex rather than too long. */
	for (i = 0; i < n; i++)
		if (hex_val(s[i]) < 0)
			return -EINVAL;
	if (n % 2)
		return -EILSEQ;
	if (n / 2 > max)
		return -EMSGSIZE;
	for (i = 0; i < n; i += 2)
		out[i / 2] = (uint8_t)(hex_val(s[i]) << 4 | hex_val(s[i + 1]));
	*len = n / 2;
	return 0;
}

static bool has_hex_prefix(const char *s, size_t n)
{
	return n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* The message for a failed xs_hex_decode(); where says where the digits
 * came from ("" or " in file \"...\""). */
static int hex_error(struct xs_ctx *ctx, int err, const char *what,
		     const char *where, size_t max)
{
	switch (err) {
	case -ENODATA:
		return p_err(ctx, -EINVAL, "%s%s: no hex digits after \"0x\"",
			     what, where);
	case -EILSEQ:
		return p_err(ctx, -EINVAL, "%s%s: odd number of hex digits",
			     what, where);
	case -EMSGSIZE:
		return p_err(ctx, -EINVAL, "%s%s: longer than %zu bytes", what,
			     where, max);
	default:
		return p_err(ctx, -EINVAL,
			     "%s%s: not a hex number (0x followed by hex digits)",
			     what, where);
	}
}

/* A key file others can read has leaked already, and one that another user
 * owns can be changed under us: refuse both, as ssh does, with the fix.
 * Checked on the open file (no race with a rename). Only regular files:
 * a pipe (@/dev/stdin) holds nothing once read. */
static int key_file_private(struct xs_ctx *ctx, int fd, const char *path, const char *what)
{
	struct stat st;

	if (fstat(fd, &st))
		return p_err(ctx, -errno, "%s: cannot stat key file \"%s\": %s", what, path,
			     strerror(errno));
	if (!S_ISREG(st.st_mode))
		return 0;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return p_err(ctx, -EPERM,
			     "%s: key file \"%s\" is owned by uid %u, not by root: chown root %s",
			     what, path, (unsigned int)st.st_uid, path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return p_err(ctx, -EPERM,
			     "%s: key file \"%s\" is open to group or others (mode %04o): chmod 600 %s",
			     what, path, (unsigned int)(st.st_mode & 07777), path);
	return 0;
}

/* Read the key file into buf (NUL-terminated); text length in *n. */
static int read_key_file(struct xs_ctx *ctx, const char *path,
			 const char *what, char *buf, size_t size, size_t *n)
{
	ssize_t r;
	int fd, err;

	*n = 0;
	if (!*path)
		return p_err(ctx, -EINVAL, "%s: \"@\" needs a file name", what);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return p_err(ctx, -errno, "%s: cannot open key file \"%s\": %s",
			     what, path, strerror(errno));
	err = key_file_private(ctx, fd, path, what);
	if (err) {
		close(fd);
		return err;
	}
	/* A loop rather than one read: pipes and /dev/stdin deliver what
	 * they have, not necessarily all of it. */
	for (;;) {
		r = read(fd, buf + *n, size - 1 - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*n += (size_t)r;
		if (*n == size - 1)
			break;
	}
	err = r < 0 ? -errno : 0;
	if (!err && *n == size - 1) {
		char c;

		/* One more byte says whether the file is larger still. */
		if (read(fd, &c, 1) == 1)
			err = -EFBIG;
	}
	close(fd);
	buf[*n] = '\0';
	if (err == -EFBIG)
		return p_err(ctx, err,
			     "%s: key file \"%s\" is too large to hold a key",
			     what, path);
	if (err)
		return p_err(ctx, err, "%s: cannot read key file \"%s\": %s",
			     what, path, strerror(-err));
	return 0;
}

int xs_key_parse(struct xs_ctx *ctx, const char *arg, const char *what,
		 uint8_t *out, size_t max, size_t *len)
{
	char buf[KEY_FILE_MAX + 1], where[300];
	const char *s;
	size_t n;
	int err;

	*len = 0;
	if (arg[0] != '@') {
		n = strlen(arg);
		if (!has_hex_prefix(arg, n))
			return p_err(ctx, -EINVAL,
				     "%s: expected 0x followed by hex digits, or @FILE",
				     what);
		err = xs_hex_decode(arg + 2, n - 2, out, max, len);
		return err ? hex_error(ctx, err, what, "", max) : 0;
	}

	err = read_key_file(ctx, arg + 1, what, buf, sizeof(buf), &n);
	if (err)
		goto out;
	/* Editors and "echo" add newlines; hex dumps often start with 0x. */
	s = buf;
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	snprintf(where, sizeof(where), " in file \"%s\"", arg + 1);
	if (!n) {
		err = p_err(ctx, -EINVAL, "%s: key file \"%s\" is empty", what,
			    arg + 1);
		goto out;
	}
	if (has_hex_prefix(s, n)) {
		s += 2;
		n -= 2;
	}
	err = xs_hex_decode(s, n, out, max, len);
	if (err)
		err = hex_error(ctx, err, what, where, max);
out:
	explicit_bzero(buf, sizeof(buf));
	return err;
}

bool xs_word_shown(const char *word)
{
	size_t n = 0, run = 0;
	const char *c;

	for (c = word; *c; c++, n++) {
		if (n >= 64)
			return false;
		if (!isalnum((unsigned char)*c) && !strchr("()-_.,:/ ", *c))
			return false;
		/* Hex digits count on across the separators keys are
		 * written with ("01:02:..", "0102 0304 .."). */
		if (hex_val(*c) >= 0)
			run++;
		else if (!strchr(" :-.,", *c))
			run = 0;
		if (run >= 16)
			return false;
	}
	return true;
}

const char *xs_quote_word(const char *word, char *buf, size_t len)
{
	if (!xs_word_shown(word))
		return XS_NOT_SHOWN;
	snprintf(buf, len, "\"%s\"", word);
	return buf;
}

void xs_json_wipe(json_object *o)
{
	size_t i;

	switch (json_object_get_type(o)) {
	case json_type_string:
		/* The string is json-c's, const to callers; zeros in it
		 * before it is freed break nothing. */
		explicit_bzero((char *)json_object_get_string(o),
			       (size_t)json_object_get_string_len(o));
		break;
	case json_type_array:
		for (i = 0; i < json_object_array_length(o); i++)
			xs_json_wipe(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, name, v)
		{
			xs_json_wipe(v);
			/* A key may be a field's name by mistake; the table
			 * is not looked up again before it is freed. */
			explicit_bzero(name, strlen(name));
		}
		break;
	}
	default:
		break;
	}
}

void xs_json_print_wiped(FILE *f, json_object *o, int flags)
{
	const char *s = json_object_to_json_string_ext(o, flags);

	fprintf(f, "%s\n", s);
	/* The text is in o's own buffer, freed with o, unwiped. */
	explicit_bzero((char *)s, strlen(s));
}

const char *xs_key_format(const uint8_t *key, size_t len, char *buf,
			  size_t buflen)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (buflen < 2 * len + 3) {
		snprintf(buf, buflen, "?");
		return buf;
	}
	buf[0] = '0';
	buf[1] = 'x';
	for (i = 0; i < len; i++) {
		buf[2 + 2 * i] = digits[key[i] >> 4];
		buf[3 + 2 * i] = digits[key[i] & 0xf];
	}
	buf[2 + 2 * len] = '\0';
	return buf;
}
