/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-bench-agent: how fast vsn-node applies a policy set, and its memory
 * (docs/benchmarks.md, "agent"). Prints JSON lines on stdout:
 *
 *   {"bench":"agent_apply","policies":N,"ms":M,"runs":R,"min_ms":..,"max_ms":..}
 *	from the first byte of a PolicySet sent (chunked, 1 MiB chunks, as a
 *	controller sends a large set) to its Ack, over loopback TLS: the
 *	median of R applies, each a new generation of the same size
 *   {"bench":"agent_rss","policies":N,"mib":X,"peak_mib":Y}
 *	the agent's resident memory 1 s after the last apply (VmRSS) and its
 *	peak (VmHWM), both in MiB. BPF maps are kernel memory, in neither.
 *
 * The agent is the real build/vsn-node, started in a private network
 * namespace with its forwarder in a private bpffs directory, detached (no
 * interface), with this program as its controller.
 *
 *   vsn-bench-agent [--sizes 1000,100000,1000000] [--runs 5] [--agent PATH]
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "chunk.h"
#include "conn.h"
#include "convert.h"
#include "testenv.h"
#include "vsn_dp.h"
#include "vsn_tls.h"

#define MAX_SIZES 8
#define MAX_RUNS 51

struct bench {
	char dir[64], pin_dir[128], agent_bin[PATH_MAX];
	struct event_base *base;
	SSL_CTX *srv;
	struct vsn_listener *l;
	struct vsn_conn *c;
	pid_t agent;
	int hellos, acks, nacks;
	uint64_t ack_gen;
	char nack_msg[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_msg(struct vsn_conn *c, Vsn__Envelope *m, void *arg)
{
	struct bench *b = arg;

	if (m->msg_case == VSN__ENVELOPE__MSG_HELLO) {
		b->hellos++;
	} else if (m->msg_case == VSN__ENVELOPE__MSG_ACK) {
		b->acks++;
		b->ack_gen = m->ack->generation;
	} else if (m->msg_case == VSN__ENVELOPE__MSG_NACK) {
		b->nacks++;
		snprintf(b->nack_msg, sizeof(b->nack_msg), "%s", m->nack->message);
	}
}

static void on_ready(struct vsn_conn *c, const char *peer, void *arg)
{
}

static void on_close(struct vsn_conn *c, int err, const char *why, void *arg)
{
	struct bench *b = arg;

	if (b->c == c)
		b->c = NULL;
	fprintf(stderr, "vsn-bench-agent: agent connection closed: %s\n", why);
}

static const struct vsn_conn_cbs cbs = {on_ready, on_msg, on_close};

static void on_conn(struct vsn_listener *l, struct vsn_conn *c, void *arg)
{
	struct bench *b = arg;

	if (b->c)
		vsn_conn_close(b->c);
	b->c = c;
	vsn_conn_set_cbs(c, &cbs, b);
}

/* Run the loop until *counter moves past before; false after ms. */
static bool wait_for(struct bench *b, const int *counter, int before, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;

	while (*counter <= before) {
		if (now_ns() > end)
			return false;
		event_base_loop(b->base, EVLOOP_ONCE);
	}
	return true;
}

static char *path(struct bench *b, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static int n;
	char *p = bufs[n++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", b->dir, rel);
	return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

/* A set of n policies, each its own IPv4 VIP tcp/80 -> SLB 1; services 1..100. */
static int make_set(uint64_t gen, size_t n, uint8_t **ret, size_t *ret_len)
{
	struct vsn_dp_policy *p = calloc(n, sizeof(*p));
	struct vsn_dp_slb slb = {.id = 1, .forward = VSN_FORWARD_L2, .state = VSN_SLB_UP};
	struct vsn_dp_set set = {
		.generation = gen, .n_policies = n, .policies = p, .n_slbs = 1, .slbs = &slb};
	Vsn__PolicySet *msg = NULL;
	size_t bad, len;
	int r;

	if (!p)
		return -ENOMEM;
	vsn_addr_parse("10.0.0.2", &slb.addr);
	for (size_t i = 0; i < n; i++) {
		uint32_t a = htonl(0x0a800000u + (uint32_t)i);

		p[i].vip.family = AF_INET;
		memcpy(p[i].vip.bytes, &a, 4);
		p[i].proto = 6;
		p[i].port = 80;
		p[i].slb_id = 1;
		p[i].service_id = 1 + (uint32_t)(i % 100);
		p[i].policy_id = 1 + (uint32_t)i;
	}
	r = vsn_proto_set_to_msg(&set, &msg, &bad);
	free(p);
	if (r)
		return r;
	len = vsn__policy_set__get_packed_size(msg);
	*ret = malloc(len);
	if (!*ret) {
		vsn_proto_msg_free(msg);
		return -ENOMEM;
	}
	vsn__policy_set__pack(msg, *ret);
	*ret_len = len;
	vsn_proto_msg_free(msg);
	return 0;
}

/* One apply: ms from the first chunk queued to the Ack, or a negative errno. */
static double apply_once(struct bench *b, uint64_t gen, const uint8_t *bytes, size_t len)
{
	int acks = b->acks, nacks = b->nacks;
	struct vsn_chunks ch;
	uint64_t t0;

	if (vsn_chunks_split(gen, bytes, len, 0, &ch))
		return -ENOMEM;
	t0 = now_ns();
	for (size_t i = 0; i < ch.n; i++) {
		Vsn__Envelope env = VSN__ENVELOPE__INIT;

		env.msg_case = VSN__ENVELOPE__MSG_CHUNK;
		env.chunk = &ch.chunk[i];
		if (!b->c || vsn_conn_send(b->c, &env)) {
			vsn_chunks_free(&ch);
			return -ENOTCONN;
		}
	}
	vsn_chunks_free(&ch);
	while (b->acks == acks && b->nacks == nacks) {
		if (!b->c)
			return -ECONNRESET;
		event_base_loop(b->base, EVLOOP_ONCE);
	}
	if (b->nacks != nacks) {
		fprintf(stderr, "vsn-bench-agent: Nack: %s\n", b->nack_msg);
		return -EINVAL;
	}
	return (double)(now_ns() - t0) / 1e6;
}

static int status_kib(pid_t pid, const char *field)
{
	char p[64], line[256];
	int v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) && line[strlen(field)] == ':')
			v = atoi(line + strlen(field) + 1);
	fclose(f);
	return v;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return a < c ? -1 : a > c;
}

static int setup(struct bench *b, __u32 max_policies)
{
	struct vsn_tls_err err = {""};
	struct vsn_cert_opts o = {.sz = sizeof(o), .days = 1};
	FILE *f;

	if (testenv_private("vsn-bench-agent-", vsn_dp_unload, b->pin_dir, sizeof(b->pin_dir)))
		return -EPERM;
	strcpy(b->dir, "/tmp/vsn-bench-agent.XXXXXX");
	if (!mkdtemp(b->dir))
		return -errno;
	if (vsn_ca_create(path(b, "ca"), "bench-ca", 1, &err))
		goto tls;
	o.role = VSN_TLS_CONTROLLER;
	o.name = "vsnd";
	if (vsn_cert_issue(path(b, "ca"), path(b, "certs"), &o, &err))
		goto tls;
	o.role = VSN_TLS_NODE;
	o.name = "bench-node";
	if (vsn_cert_issue(path(b, "ca"), path(b, "certs"), &o, &err))
		goto tls;
	if (vsn_tls_ctx_new(VSN_TLS_CONTROLLER, path(b, "certs/ca.crt"), path(b, "certs/vsnd.crt"),
			    path(b, "certs/vsnd.key"), &b->srv, &err))
		goto tls;
	b->base = event_base_new();
	if (!b->base || vsn_listener_new(b->base, "127.0.0.1:0", b->srv, on_conn, b, &b->l))
		return -ENOMEM;
	f = fopen(path(b, "node.yaml"), "w");
	if (!f)
		return -errno;
	fprintf(f,
		"node: bench-node\ncontroller: 127.0.0.1:%d\n"
		"tls:\n  ca: %s\n  cert: %s\n  key: %s\n"
		"state_dir: %s\npin_dir: %s\nmax_policies: %u\nlog_format: text\n",
		vsn_listener_port(b->l), path(b, "certs/ca.crt"), path(b, "certs/bench-node.crt"),
		path(b, "certs/bench-node.key"), path(b, "state"), b->pin_dir, max_policies);
	if (fclose(f))
		return -errno;
	b->agent = fork();
	if (b->agent < 0)
		return -errno;
	if (b->agent == 0) {
		if (!freopen(path(b, "agent.log"), "w", stderr))
			_exit(127);
		execl(b->agent_bin, b->agent_bin, "--config", path(b, "node.yaml"), (char *)NULL);
		_exit(127);
	}
	if (!wait_for(b, &b->hellos, 0, 10000)) {
		fprintf(stderr, "vsn-bench-agent: no Hello from %s (log: %s)\n", b->agent_bin,
			path(b, "agent.log"));
		return -ETIMEDOUT;
	}
	return 0;
tls:
	fprintf(stderr, "vsn-bench-agent: certificates: %s\n", err.msg);
	return -EINVAL;
}

static void cleanup(struct bench *b)
{
	int st;

	if (b->agent > 0) {
		kill(b->agent, SIGTERM);
		waitpid(b->agent, &st, 0);
	}
	if (b->c)
		vsn_conn_close(b->c);
	if (b->l)
		vsn_listener_free(b->l);
	if (b->base)
		event_base_free(b->base);
	SSL_CTX_free(b->srv);
	if (b->pin_dir[0]) {
		vsn_dp_unload(b->pin_dir);
		rmdir(b->pin_dir);
	}
	if (b->dir[0])
		nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int parse_sizes(const char *s, __u32 *sizes, int *n)
{
	char *copy = strdup(s), *tok, *save = NULL;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok && *n < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		long v = strtol(tok, NULL, 10);

		if (v <= 0 || v > 4000000) {
			free(copy);
			return -EINVAL;
		}
		sizes[(*n)++] = (__u32)v;
	}
	free(copy);
	return *n ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	__u32 sizes[MAX_SIZES] = {1000, 100000, 1000000}, max = 0;
	int n_sizes = 3, runs = 5, rc = 0;
	struct bench b = {0};
	uint64_t gen = 1;
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(b.agent_bin, sizeof(b.agent_bin), "%s/vsn-node", dirname(exe));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			if (parse_sizes(argv[++i], sizes, &n_sizes))
				goto usage;
		} else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
			if (runs < 1 || runs > MAX_RUNS)
				goto usage;
		} else if (!strcmp(argv[i], "--agent") && i + 1 < argc) {
			snprintf(b.agent_bin, sizeof(b.agent_bin), "%s", argv[++i]);
		} else {
			goto usage;
		}
	}
	for (int i = 0; i < n_sizes; i++)
		if (sizes[i] > max)
			max = sizes[i];
	signal(SIGPIPE, SIG_IGN);
	if (setup(&b, max + 1 > 65536 ? max + 1 : 65536)) {
		cleanup(&b);
		return 1;
	}
	for (int s = 0; s < n_sizes && !rc; s++) {
		double ms[MAX_RUNS];
		uint8_t *bytes = NULL;
		size_t len = 0;

		for (int r = 0; r < runs; r++) {
			/* Each run a new generation: the bytes differ only there. */
			if (make_set(gen, sizes[s], &bytes, &len)) {
				rc = 1;
				break;
			}
			ms[r] = apply_once(&b, gen++, bytes, len);
			free(bytes);
			if (ms[r] < 0) {
				fprintf(stderr, "vsn-bench-agent: apply of %u policies failed\n",
					sizes[s]);
				rc = 1;
				break;
			}
			fprintf(stderr, "vsn-bench-agent: %u policies, %zu bytes: %.1f ms\n",
				sizes[s], len, ms[r]);
		}
		if (rc)
			break;
		qsort(ms, (size_t)runs, sizeof(ms[0]), cmp_double);
		/* The agent frees the previous set and trims its heap just after an apply. */
		int none = 0;
		wait_for(&b, &none, 0, 1000);
		printf("{\"bench\":\"agent_apply\",\"policies\":%u,\"ms\":%.1f,\"runs\":%d,"
		       "\"min_ms\":%.1f,\"max_ms\":%.1f}\n",
		       sizes[s], ms[runs / 2], runs, ms[0], ms[runs - 1]);
		printf("{\"bench\":\"agent_rss\",\"policies\":%u,\"mib\":%.1f,\"peak_mib\":%.1f}\n",
		       sizes[s], status_kib(b.agent, "VmRSS") / 1024.0,
		       status_kib(b.agent, "VmHWM") / 1024.0);
		fflush(stdout);
	}
	cleanup(&b);
	return rc;
usage:
	fprintf(stderr, "usage: vsn-bench-agent [--sizes N,N,...] [--runs R] [--agent PATH]\n");
	return 2;
}
