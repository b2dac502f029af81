/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-echo: long-lived TCP connections for the netns tests, where python is
 * not to be relied on.
 *
 *   vsn-echo serve NAME ADDR PORT
 *	listen on ADDR:PORT and answer each line of each connection with
 *	"NAME LINE", so a client sees which SLB holds its connection.
 *   vsn-echo clients ADDR PORT N REPORT [INTERVAL_MS]
 *	open N connections to ADDR:PORT, then send a line on each every
 *	INTERVAL_MS (default 100) and check each echo. On SIGUSR1, and at exit
 *	(SIGTERM, SIGINT), write a report to REPORT (through a rename, so a
 *	reader never sees half of one): a first line
 *	  report SEQ conns N open N ok N err N
 *	then one line per connection
 *	  i=I lport=PORT first=NAME now=NAME ok=N err=N state=STATE last=WHAT
 *	first and now: the SLB that echoed first and last; ok: echoes as sent;
 *	err: resets, ends, wrong or late echoes; state: open, reset, eof or
 *	error; last: the last error, or '-'. A connection that failed is not
 *	reopened. The first report is written once every connection has had
 *	its first echo.
 *
 * Exit status: 0, or 1 when the connections cannot be set up (a connect or
 * a first echo fails), 2 for bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define LINE_MAX_LEN 256
#define NAME_MAX_LEN 64
/* An echo later than this is an error (counted once per line). */
#define LATE_MS 2000
#define SETUP_MS 5000

static const char *prog = "vsn-echo";

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ADDR and PORT as a socket address of either family. */
static socklen_t sockaddr_parse(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char *end;
	unsigned long p;

	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || !*port || *end || !p || p > 65535)
		return 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)p);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)p);
		return sizeof(*s6);
	}
	return 0;
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- serve ---- */

struct peer {
	int fd;
	size_t len;
	char buf[LINE_MAX_LEN];
};

/* Answer every complete line in p's buffer; false when the peer must go. */
static bool serve_lines(const char *name, struct peer *p)
{
	char out[NAME_MAX_LEN + LINE_MAX_LEN + 2];
	char *nl;

	while ((nl = memchr(p->buf, '\n', p->len))) {
		size_t n = (size_t)(nl - p->buf) + 1;
		int len = snprintf(out, sizeof(out), "%s %.*s", name, (int)n, p->buf);

		/* Lines are short and rare: a full socket buffer means a dead peer. */
		if (send(p->fd, out, (size_t)len, MSG_NOSIGNAL) != len)
			return false;
		memmove(p->buf, p->buf + n, p->len - n);
		p->len -= n;
	}
	return p->len < sizeof(p->buf);
}

static int serve(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct pollfd *pfd = NULL;
	struct peer *peers = NULL;
	size_t n = 0, cap = 0;
	const char *name;
	socklen_t sl;
	int one = 1, lfd;

	if (argc != 5 || strlen(argv[2]) >= NAME_MAX_LEN ||
	    !(sl = sockaddr_parse(argv[3], argv[4], &ss)))
		return 2;
	name = argv[2];
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, sl) || listen(lfd, 1024) || nonblock(lfd))
		die("listen on %s port %s: %s", argv[3], argv[4], strerror(errno));
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			pfd = realloc(pfd, cap * sizeof(*pfd));
			peers = realloc(peers, cap * sizeof(*peers));
			if (!pfd || !peers)
				die("out of memory");
		}
		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){.fd = peers[i].fd, .events = POLLIN};
		if (poll(pfd, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (size_t i = n; i-- > 0;) {
			struct peer *p = &peers[i];
			ssize_t r;

			if (!pfd[i + 1].revents)
				continue;
			r = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r > 0) {
				p->len += (size_t)r;
				if (serve_lines(name, p))
					continue;
			}
			close(p->fd);
			peers[i] = peers[--n];
		}
		if (pfd[0].revents & POLLIN) {
			int fd;

			while (n + 1 < cap && (fd = accept(lfd, NULL, NULL)) >= 0) {
				if (nonblock(fd)) {
					close(fd);
					continue;
				}
				peers[n++] = (struct peer){.fd = fd};
			}
		}
	}
}

/* ---- clients ---- */

enum conn_state { C_OPEN, C_RESET, C_EOF, C_ERROR };
static const char *const state_names[] = {"open", "reset", "eof", "error"};

struct conn {
	int fd;
	unsigned int lport;
	enum conn_state state;
	char first[NAME_MAX_LEN];
	char now[NAME_MAX_LEN];
	unsigned long ok, err;
	unsigned long seq; /* of the line awaiting its echo, or of the last one */
	bool pending;	   /* a line awaits its echo */
	bool late;	   /* ... and is counted late already */
	long long sent_ms;
	const char *last; /* the last error */
	size_t len;
	char buf[LINE_MAX_LEN];
};

static volatile sig_atomic_t want_report, want_exit;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_report = 1;
	else
		want_exit = 1;
}

static void conn_fail(struct conn *c, enum conn_state st, const char *why)
{
	c->err++;
	c->last = why;
	if (st != C_OPEN) {
		c->state = st;
		c->pending = false;
		close(c->fd);
		c->fd = -1;
	}
}

static void conn_send(struct conn *c, size_t i)
{
	char line[64];
	int len;

	c->seq++;
	len = snprintf(line, sizeof(line), "c%zu s%lu\n", i, c->seq);
	if (send(c->fd, line, (size_t)len, MSG_NOSIGNAL) != len) {
		conn_fail(c, errno == ECONNRESET ? C_RESET : C_ERROR,
			  errno == ECONNRESET ? "reset" : "send");
		return;
	}
	c->pending = true;
	c->late = false;
	c->sent_ms = now_ms();
}

/* One echo: "NAME c<i> s<seq>" for the line awaiting it. */
static void conn_line(struct conn *c, size_t i, char *line)
{
	char want[64], *sp = strchr(line, ' ');

	snprintf(want, sizeof(want), "c%zu s%lu", i, c->seq);
	if (!sp || sp == line || (size_t)(sp - line) >= NAME_MAX_LEN || !c->pending ||
	    strcmp(sp + 1, want)) {
		conn_fail(c, C_OPEN, "mismatch");
		return;
	}
	*sp = '\0';
	snprintf(c->now, sizeof(c->now), "%s", line);
	if (!c->first[0])
		snprintf(c->first, sizeof(c->first), "%s", line);
	c->ok++;
	c->pending = false;
}

static void conn_read(struct conn *c, size_t i)
{
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	char *nl;

	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_fail(c, errno == ECONNRESET ? C_RESET : C_ERROR,
			  errno == ECONNRESET ? "reset" : "recv");
		return;
	}
	if (r == 0) {
		conn_fail(c, C_EOF, "eof");
		return;
	}
	c->len += (size_t)r;
	while (c->state == C_OPEN && (nl = memchr(c->buf, '\n', c->len))) {
		size_t n = (size_t)(nl - c->buf) + 1;

		*nl = '\0';
		conn_line(c, i, c->buf);
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
	}
	if (c->len == sizeof(c->buf) - 1)
		conn_fail(c, C_ERROR, "overlong");
}

static void report(const char *path, const struct conn *cs, size_t n, unsigned long seq)
{
	char tmp[PATH_MAX];
	unsigned long ok = 0, err = 0, open = 0;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		die("%s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < n; i++) {
		ok += cs[i].ok;
		err += cs[i].err;
		open += cs[i].state == C_OPEN;
	}
	fprintf(f, "report %lu conns %zu open %lu ok %lu err %lu\n", seq, n, open, ok, err);
	for (size_t i = 0; i < n; i++) {
		const struct conn *c = &cs[i];

		fprintf(f, "i=%zu lport=%u first=%s now=%s ok=%lu err=%lu state=%s last=%s\n", i,
			c->lport, c->first[0] ? c->first : "-", c->now[0] ? c->now : "-", c->ok,
			c->err, state_names[c->state], c->last ? c->last : "-");
	}
	if (fclose(f) || rename(tmp, path))
		die("%s: %s", path, strerror(errno));
}

/* A connected, non-blocking socket to ss, within SETUP_MS. */
static int conn_open(const struct sockaddr_storage *ss, socklen_t sl, unsigned int *ret_lport)
{
	struct sockaddr_storage me;
	socklen_t ml = sizeof(me);
	struct pollfd p;
	int fd, one = 1, e = 0;
	socklen_t el = sizeof(e);

	fd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (fd < 0 || nonblock(fd) || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, sl) && errno != EINPROGRESS)
		goto fail;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, SETUP_MS) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) || e) {
		errno = e ? e : ETIMEDOUT;
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&me, &ml))
		goto fail;
	*ret_lport = ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port
						   : ((struct sockaddr_in6 *)&me)->sin6_port);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int clients(int argc, char **argv)
{
	struct sockaddr_storage ss;
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block, none;
	struct pollfd *pfd;
	struct conn *cs;
	unsigned long n, interval = 100, seq = 0;
	long long next, t0;
	const char *path;
	socklen_t sl;
	char *end;

	if (argc != 6 && argc != 7)
		return 2;
	if (!(sl = sockaddr_parse(argv[2], argv[3], &ss)))
		return 2;
	n = strtoul(argv[4], &end, 10);
	if (*end || !n || n > 10000)
		return 2;
	path = argv[5];
	if (argc == 7) {
		interval = strtoul(argv[6], &end, 10);
		if (*end || !interval || interval > 60000)
			return 2;
	}
	/* The signals only interrupt ppoll(), so none is lost between two waits. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &none);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	cs = calloc(n, sizeof(*cs));
	pfd = calloc(n, sizeof(*pfd));
	if (!cs || !pfd)
		die("out of memory");
	for (size_t i = 0; i < n; i++) {
		cs[i].fd = conn_open(&ss, sl, &cs[i].lport);
		if (cs[i].fd < 0)
			die("connection %zu to %s port %s: %s", i, argv[2], argv[3],
			    strerror(errno));
		conn_send(&cs[i], i);
	}

	/* Every first echo, or a setup failure. */
	t0 = now_ms();
	next = t0 + (long long)interval;
	for (;;) {
		size_t waiting = 0;

		for (size_t i = 0; i < n; i++) {
			if (cs[i].state != C_OPEN)
				die("connection %zu (port %u): %s before its first echo", i,
				    cs[i].lport, cs[i].last);
			if (cs[i].err)
				die("connection %zu (port %u): %s", i, cs[i].lport, cs[i].last);
			pfd[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
			waiting += !cs[i].first[0];
		}
		if (!waiting)
			break;
		if (now_ms() - t0 > SETUP_MS || want_exit)
			die("%zu connections had no first echo within %d ms", waiting, SETUP_MS);
		struct timespec ts = {.tv_nsec = 10 * 1000000};
		if (ppoll(pfd, n, &ts, &none) > 0)
			for (size_t i = 0; i < n; i++)
				if (pfd[i].revents)
					conn_read(&cs[i], i);
	}
	report(path, cs, n, ++seq);

	while (!want_exit) {
		long long t = now_ms(), wait;
		struct timespec ts;

		if (t >= next) {
			for (size_t i = 0; i < n; i++) {
				struct conn *c = &cs[i];

				if (c->state != C_OPEN)
					continue;
				if (!c->pending)
					conn_send(c, i);
				else if (!c->late && t - c->sent_ms > LATE_MS) {
					c->late = true;
					conn_fail(c, C_OPEN, "late");
				}
			}
			next += (long long)interval;
			if (next <= t)
				next = t + (long long)interval;
		}
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
		wait = next - now_ms();
		if (wait < 0)
			wait = 0;
		ts = (struct timespec){.tv_sec = wait / 1000, .tv_nsec = wait % 1000 * 1000000};
		if (ppoll(pfd, n, &ts, &none) > 0) {
			for (size_t i = 0; i < n; i++)
				if (cs[i].state == C_OPEN && pfd[i].revents)
					conn_read(&cs[i], i);
		}
		if (want_report) {
			want_report = 0;
			report(path, cs, n, ++seq);
		}
	}
	report(path, cs, n, ++seq);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s serve NAME ADDR PORT\n"
		"       %s clients ADDR PORT N REPORT [INTERVAL_MS]\n",
		prog, prog);
}

int main(int argc, char **argv)
{
	int r = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		r = serve(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "clients"))
		r = clients(argc, argv);
	if (r == 2)
		usage(stderr);
	return r;
}
