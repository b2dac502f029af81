/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-bench-probe: the CPU that health probes cost the controller (issue 8's target: at most 10 %
 * of one core for 1,000 SLBs probed every second). Prints JSON lines on stdout:
 *
 *   {"bench":"probe_cpu","kind":"tcp","slbs":1000,"interval_ms":1000,"seconds":10,
 *    "probes_per_s":1000.2,"cpu_pct":1.9,"user_pct":0.6,"sys_pct":1.3,"up":1000}
 *
 * cpu_pct is this process's user + system time (getrusage) over the wall time of the measured
 * seconds, in percent of one core. The targets are N listeners on 127.0.0.1, one port each, in
 * a child process whose own CPU is not counted (it is the SLBs' share): for tcp they accept and
 * close, for http they answer 200, for https the same over TLS 1.3 with a certificate of
 * libvsntls, verified by the probes against its CA (sessions resumed after the first).
 *
 *   vsn-bench-probe [--slbs 1000] [--seconds 10] [--interval-ms 1000] [--kinds tcp,http,https]
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "vsn_probe.h"
#include "vsn_tls.h"

#define WARMUP_S 2

struct opts {
	int slbs, seconds, interval_ms;
	char kinds[64];
};

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

/* ---- The targets (the child) ---- */

/* How a target answers: tcp closes at once, http answers 200, over TLS with ssl. */
struct target {
	bool tcp;
	SSL_CTX *ssl;
};

static void t_written(struct bufferevent *bev, void *arg)
{
	if (!evbuffer_get_length(bufferevent_get_output(bev)))
		bufferevent_free(bev);
}

static void t_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void t_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	if (evbuffer_search(in, "\r\n\r\n", 4, NULL).pos < 0)
		return;
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_write(bev, reply, sizeof(reply) - 1);
	bufferevent_setcb(bev, NULL, t_written, t_event, NULL);
}

static void t_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		     void *arg)
{
	const struct target *t = arg;
	struct event_base *base = evconnlistener_get_base(l);
	struct bufferevent *bev;

	if (t->tcp) {
		evutil_closesocket(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	bev = t->ssl ? bufferevent_openssl_socket_new(base, fd, SSL_new(t->ssl),
						      BUFFEREVENT_SSL_ACCEPTING,
						      BEV_OPT_CLOSE_ON_FREE)
		     : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	bufferevent_setcb(bev, t_read, NULL, t_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Listen on n ports, write them to out, serve until killed. */
static int targets_run(int n, const char *kind, SSL_CTX *ssl, int out)
{
	struct event_base *base = event_base_new();
	struct target t = {!strcmp(kind, "tcp"), ssl};
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (i = 0; i < n; i++) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sin);
		struct evconnlistener *l;
		uint16_t port;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = evconnlistener_new_bind(base, t_accept, &t,
					    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
					    (struct sockaddr *)&sin, sizeof(sin));
		if (!l || getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &sl))
			return 1;
		port = ntohs(sin.sin_port);
		if (write(out, &port, sizeof(port)) != sizeof(port))
			return 1;
	}
	close(out);
	event_base_dispatch(base);
	return 0;
}

/* ---- The prober (this process) ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000 + (uint64_t)tv->tv_usec * 1000;
}

static void run_for(struct event_base *base, int seconds)
{
	struct timeval tv = {seconds, 0};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Results of all probes so far, and how many are up. */
static uint64_t results(struct vsn_prober *p, int n, int *ret_up)
{
	struct vsn_probe_status st;
	uint64_t sum = 0;
	char name[32];
	int i;

	*ret_up = 0;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "slb-%d", i);
		if (vsn_prober_get(p, name, &st))
			continue;
		sum += st.results;
		*ret_up += st.state == VSN_HEALTH_UP;
	}
	return sum;
}

static int measure(const struct opts *o, const char *kind, const uint16_t *ports,
		   const char *ca_file)
{
	struct event_base *base = event_base_new();
	struct vsn_probe_err err = {""};
	struct rusage r0, r1;
	struct vsn_prober *p;
	uint64_t t0, t1, n0, n1;
	double wall, user, sys;
	char name[32], target[32];
	int i, up;

	if (!base || vsn_prober_new(base, NULL, NULL, &p))
		return 1;
	for (i = 0; i < o->slbs; i++) {
		struct vsn_probe_opts po = {
			.sz = sizeof(po),
			.name = name,
			.target = target,
			.kind = !strcmp(kind, "tcp")	? VSN_PROBE_TCP
				: !strcmp(kind, "http") ? VSN_PROBE_HTTP
							: VSN_PROBE_HTTPS,
			.path = "/healthz",
			.ca_file = strcmp(kind, "https") ? NULL : ca_file,
			.interval_ms = o->interval_ms,
		};

		snprintf(name, sizeof(name), "slb-%d", i);
		snprintf(target, sizeof(target), "127.0.0.1:%u", ports[i]);
		if (vsn_prober_set(p, &po, &err)) {
			fprintf(stderr, "vsn-bench-probe: %s\n", err.msg);
			return 1;
		}
	}
	run_for(base, WARMUP_S);
	n0 = results(p, o->slbs, &up);
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	run_for(base, o->seconds);
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &r1);
	n1 = results(p, o->slbs, &up);
	wall = (double)(t1 - t0);
	user = (double)(tv_ns(&r1.ru_utime) - tv_ns(&r0.ru_utime)) / wall * 100;
	sys = (double)(tv_ns(&r1.ru_stime) - tv_ns(&r0.ru_stime)) / wall * 100;
	printf("{\"bench\":\"probe_cpu\",\"kind\":\"%s\",\"slbs\":%d,\"interval_ms\":%d,"
	       "\"seconds\":%d,\"probes_per_s\":%.1f,\"cpu_pct\":%.2f,\"user_pct\":%.2f,"
	       "\"sys_pct\":%.2f,\"up\":%d}\n",
	       kind, o->slbs, o->interval_ms, o->seconds, (double)(n1 - n0) / wall * 1e9,
	       user + sys, user, sys, up);
	fflush(stdout);
	vsn_prober_free(p);
	event_base_free(base);
	return 0;
}

/* ---- TLS material ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static SSL_CTX *tls_make(const char *dir)
{
	const char *ips[] = {"127.0.0.1"};
	struct vsn_cert_opts co = {.sz = sizeof(co),
				   .role = VSN_TLS_NODE,
				   .name = "slb",
				   .days = 1,
				   .ips = ips,
				   .n_ips = 1};
	struct vsn_tls_err err = {""};
	char ca[128], out[128], crt[160], key[160];
	SSL_CTX *ctx;

	snprintf(ca, sizeof(ca), "%s/ca", dir);
	snprintf(out, sizeof(out), "%s/srv", dir);
	snprintf(crt, sizeof(crt), "%s/slb.crt", out);
	snprintf(key, sizeof(key), "%s/slb.key", out);
	if (vsn_ca_create(ca, "bench-ca", 1, &err) || vsn_cert_issue(ca, out, &co, &err)) {
		fprintf(stderr, "vsn-bench-probe: %s\n", err.msg);
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return NULL;
	return ctx;
}

static int bench_kind(const struct opts *o, const char *kind, const char *dir)
{
	uint16_t *ports = calloc(o->slbs, sizeof(*ports));
	char ca_file[160];
	SSL_CTX *ssl = NULL;
	int pfd[2], r = 1, i;
	pid_t pid;

	snprintf(ca_file, sizeof(ca_file), "%s/ca/ca.crt", dir);
	if (!ports || pipe(pfd))
		return 1;
	if (!strcmp(kind, "https") && !(ssl = tls_make(dir)))
		return 1;
	fprintf(stderr, "vsn-bench-probe: %s: %d listeners, %d s warm-up, %d s measured\n", kind,
		o->slbs, WARMUP_S, o->seconds);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(pfd[0]);
		_exit(targets_run(o->slbs, kind, ssl, pfd[1]));
	}
	close(pfd[1]);
	for (i = 0; i < o->slbs; i++)
		if (read(pfd[0], &ports[i], sizeof(ports[i])) != sizeof(ports[i]))
			break;
	close(pfd[0]);
	if (i == o->slbs)
		r = measure(o, kind, ports, ca_file);
	else
		fprintf(stderr, "vsn-bench-probe: the listeners did not start\n");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	SSL_CTX_free(ssl);
	free(ports);
	return r;
}

static void usage(void)
{
	fprintf(stderr, "usage: vsn-bench-probe [--slbs N] [--seconds S] [--interval-ms MS] "
			"[--kinds tcp,http,https]\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.slbs = 1000, .seconds = 10, .interval_ms = 1000, .kinds = "tcp,http"};
	struct rlimit rl;
	char dir[] = "/tmp/vsn-bench-probe.XXXXXX", *kind, *save;
	int i, r = 0;

	for (i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--slbs") && v)
			o.slbs = atoi(v);
		else if (!strcmp(argv[i], "--seconds") && v)
			o.seconds = atoi(v);
		else if (!strcmp(argv[i], "--interval-ms") && v)
			o.interval_ms = atoi(v);
		else if (!strcmp(argv[i], "--kinds") && v)
			snprintf(o.kinds, sizeof(o.kinds), "%s", v);
		else {
			usage();
			return 2;
		}
	}
	if (o.slbs < 1 || o.seconds < 1 || o.interval_ms < VSN_PROBE_MIN_INTERVAL_MS) {
		usage();
		return 2;
	}
	/* One descriptor per listener in the child, per probe in flight here. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	for (kind = strtok_r(o.kinds, ",", &save); kind && !r; kind = strtok_r(NULL, ",", &save)) {
		if (strcmp(kind, "tcp") && strcmp(kind, "http") && strcmp(kind, "https")) {
			usage();
			r = 2;
			break;
		}
		r = bench_kind(&o, kind, dir);
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return r;
}
