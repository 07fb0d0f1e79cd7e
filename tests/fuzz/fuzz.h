/* SPDX-License-Identifier: GPL-2.0 */
/* What the libFuzzer targets share: quiet output and property checks. */
#ifndef XS_FUZZ_H
#define XS_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A property that must hold for every input: on violation, say which and
 * abort, so that libFuzzer keeps the input as a crash. */
#define FUZZ_CHECK(cond)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: property violated: %s\n",    \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

/* The parsers report errors on stdout (JSON, with -j) or stderr; the
 * targets use -j, and stdout goes nowhere so a run's log stays readable.
 * stderr stays: the sanitizers and libFuzzer report there. */
static inline void fuzz_quiet_stdout(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		fflush(stdout);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

/* The input as a C string of exactly its length (up to the first NUL) in
 * a buffer of its own, so that the sanitizers see a read past its end. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = strndup((const char *)data, size);

	FUZZ_CHECK(s);
	return s;
}

#endif /* XS_FUZZ_H */
