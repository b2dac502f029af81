/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-udpseq: a numbered UDP datagram stream for the netns tests, to count
 * loss exactly while the node's agent or controller is killed.
 *
 *   vsn-udpseq send ADDR PORT RATE COUNT
 *	send COUNT datagrams to ADDR:PORT at RATE per second, each carrying
 *	its number (0 .. COUNT-1, 8 bytes big-endian); print "sent N".
 *   vsn-udpseq recv ADDR PORT REPORT
 *	take datagrams on ADDR:PORT; on SIGTERM or SIGINT write to REPORT
 *	(through a rename) one line
 *	  received N unique N duplicates N max N missing N first_missing N
 *	where missing counts the numbers below max+1 never received
 *	(first_missing -1 when none), then exit 0.
 *
 * Exit status 1 on a socket error, 2 for bad arguments.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_COUNT (1u << 24)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int sockaddr_of(const char *addr, const char *port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	long p = strtol(port, NULL, 10);

	memset(ss, 0, sizeof(*ss));
	if (p <= 0 || p > 65535)
		return -1;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int do_send(struct sockaddr_storage *ss, socklen_t len, long rate, long count)
{
	uint64_t t0 = now_ns(), gap = 1000000000ull / (uint64_t)rate;
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0);
	long sent = 0;

	if (fd < 0 || connect(fd, (struct sockaddr *)ss, len)) {
		perror("vsn-udpseq: socket");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		uint64_t due = t0 + (uint64_t)i * gap, now;
		unsigned char b[8];

		while ((now = now_ns()) < due) {
			struct timespec d = {0, (long)(due - now)};

			nanosleep(&d, NULL);
		}
		for (int k = 0; k < 8; k++)
			b[k] = (unsigned char)((uint64_t)i >> (56 - 8 * k));
		/* A refused send (no route yet, ICMP error) is loss the receiver counts. */
		if (send(fd, b, sizeof(b), 0) == sizeof(b))
			sent++;
	}
	printf("sent %ld\n", sent);
	close(fd);
	return 0;
}

static int do_recv(struct sockaddr_storage *ss, socklen_t len, const char *report)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0), one = 1;
	uint8_t *seen = calloc(MAX_COUNT, 1);
	long received = 0, unique = 0, dups = 0, max = -1, missing = 0, first_missing = -1;
	struct sigaction sa = {.sa_handler = on_signal};
	char tmp[4096];
	FILE *f;

	if (fd < 0 || !seen)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)ss, len)) {
		perror("vsn-udpseq: bind");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		unsigned char b[64];
		ssize_t n = recv(fd, b, sizeof(b), 0);
		uint64_t v = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("vsn-udpseq: recv");
			return 1;
		}
		if (n != 8)
			continue;
		for (int k = 0; k < 8; k++)
			v = v << 8 | b[k];
		if (v >= MAX_COUNT)
			continue;
		received++;
		if (seen[v]) {
			dups++;
			continue;
		}
		seen[v] = 1;
		unique++;
		if ((long)v > max)
			max = (long)v;
	}
	for (long i = 0; i <= max; i++)
		if (!seen[i]) {
			if (first_missing < 0)
				first_missing = i;
			missing++;
		}
	snprintf(tmp, sizeof(tmp), "%s.tmp", report);
	f = fopen(tmp, "w");
	if (!f)
		return 1;
	fprintf(f, "received %ld unique %ld duplicates %ld max %ld missing %ld first_missing %ld\n",
		received, unique, dups, max, missing, first_missing);
	if (fclose(f) || rename(tmp, report))
		return 1;
	free(seen);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (argc == 6 && !strcmp(argv[1], "send") && !sockaddr_of(argv[2], argv[3], &ss, &len)) {
		long rate = strtol(argv[4], NULL, 10), count = strtol(argv[5], NULL, 10);

		if (rate > 0 && rate <= 1000000 && count > 0 && count <= (long)MAX_COUNT)
			return do_send(&ss, len, rate, count);
	} else if (argc == 5 && !strcmp(argv[1], "recv") &&
		   !sockaddr_of(argv[2], argv[3], &ss, &len)) {
		return do_recv(&ss, len, argv[4]);
	}
	fprintf(stderr, "usage: vsn-udpseq send ADDR PORT RATE COUNT\n"
			"       vsn-udpseq recv ADDR PORT REPORT\n");
	return 2;
}
