// SPDX-License-Identifier: GPL-2.0
/*
 * The sender of the path benchmark (bench/bench-path.sh): a UDP flood from
 * the gateway itself, so the whole output path (route lookup, steering,
 * xfrm policy and bundle, ESP, the underlay's transmit) runs in this
 * process's system calls, and its CPU time per packet is the path's cost.
 *
 *   path_send -t TUNNELS -n PACKETS [-w WARMUP] [-m MARK] [-1] [-b BASE]
 *
 * Packet i goes to the first host of tunnel k's /24, BASE + k * 256 + 1
 * (BASE 11.0.0.0, as bench/gen-tunnels.awk numbers them), k = i mod TUNNELS
 * + 1; with -1 every packet goes to tunnel 1. MARK is the socket's SO_MARK
 * (ip rule picks the variant's routing table by it). WARMUP packets go first
 * and are not measured. Prints one line: packets sent, errors, CPU
 * microseconds per packet (user + system, getrusage), of which system, and
 * wall microseconds per packet.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double tv_us(const struct timeval *tv)
{
	return tv->tv_sec * 1e6 + tv->tv_usec;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Sends count packets from packet number first on; returns the errors. */
static unsigned long flood(int fd, uint32_t base, unsigned long tunnels,
			   int one, unsigned long first, unsigned long count)
{
	static struct sockaddr_in dst[BATCH];
	static struct mmsghdr msg[BATCH];
	static struct iovec iov;
	static char payload[64];
	unsigned long i = 0, errors = 0;

	iov.iov_base = payload;
	iov.iov_len = sizeof(payload);
	while (i < count) {
		unsigned int n = count - i < BATCH ? count - i : BATCH;
		unsigned int j;
		int r;

		for (j = 0; j < n; j++) {
			unsigned long k = one ? 1 : (first + i + j) % tunnels + 1;

			dst[j].sin_family = AF_INET;
			dst[j].sin_port = htons(9);
			dst[j].sin_addr.s_addr = htonl(base + k * 256 + 1);
			memset(&msg[j], 0, sizeof(msg[j]));
			msg[j].msg_hdr.msg_name = &dst[j];
			msg[j].msg_hdr.msg_namelen = sizeof(dst[j]);
			msg[j].msg_hdr.msg_iov = &iov;
			msg[j].msg_hdr.msg_iovlen = 1;
		}
		r = sendmmsg(fd, msg, n, 0);
		if (r <= 0) {
			/* The packet at the head failed: count it, go on. */
			errors++;
			i++;
			continue;
		}
		i += r;
	}
	return errors;
}

int main(int argc, char **argv)
{
	unsigned long tunnels = 1, packets = 1000, warmup = 0, errors;
	struct in_addr base = { .s_addr = htonl(0x0b000000) };
	struct rusage r0, r1;
	int one = 0, mark = 0, fd, c;
	double w0, w1, cpu, sys;

	while ((c = getopt(argc, argv, "t:n:w:m:1b:")) != -1) {
		switch (c) {
		case 't':
			tunnels = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			packets = strtoul(optarg, NULL, 0);
			break;
		case 'w':
			warmup = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mark = strtol(optarg, NULL, 0);
			break;
		case '1':
			one = 1;
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &base) != 1) {
				fprintf(stderr, "path_send: bad base %s\n",
					optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr,
				"usage: path_send -t TUNNELS -n PACKETS [-w WARMUP] [-m MARK] [-1] [-b BASE]\n");
			return 2;
		}
	}
	if (!tunnels || !packets) {
		fprintf(stderr, "path_send: TUNNELS and PACKETS must be > 0\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("path_send: socket");
		return 1;
	}
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
		perror("path_send: SO_MARK");
		return 1;
	}
	flood(fd, ntohl(base.s_addr), tunnels, one, 0, warmup);
	getrusage(RUSAGE_SELF, &r0);
	w0 = now_us();
	errors = flood(fd, ntohl(base.s_addr), tunnels, one, warmup, packets);
	w1 = now_us();
	getrusage(RUSAGE_SELF, &r1);
	cpu = tv_us(&r1.ru_utime) - tv_us(&r0.ru_utime) + tv_us(&r1.ru_stime) -
	      tv_us(&r0.ru_stime);
	sys = tv_us(&r1.ru_stime) - tv_us(&r0.ru_stime);
	printf("%lu %lu %.2f %.2f %.2f\n", packets, errors, cpu / packets,
	       sys / packets, (w1 - w0) / packets);
	close(fd);
	return 0;
}
