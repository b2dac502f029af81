/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-node as a real process against this test acting as its controller,
 * over mutual TLS on loopback, in a private network namespace with its
 * forwarder pinned in a private bpffs directory (detached: no interface).
 * The tests run in order on one agent: Hello, an apply and its Ack, a Nack
 * that leaves every map byte-identical, stale generations, a chunked set,
 * a digest mismatch, chunks out of order, two-phase Prepare/Commit, a
 * Prepare that times out, Abort, SlbState, Stats, kill -9 and restart
 * (adopting what runs), and a restart with nothing pinned (the persisted
 * set restored before any controller is reached).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <event2/event.h>

#include "chunk.h"
#include "conn.h"
#include "convert.h"
#include "frame.h"
#include "store.h"
#include "testenv.h"
#include "vsn_dp.h"
#include "vsn_tls.h"
#include "../unit/cert_dir.h"

#define AGENT_PREFIX "vsn-test-agent-"
#define WAIT_MS 5000

/* What the controller side saw of the agent's last messages. */
struct seen {
	int hellos, acks, nacks, stats, closes;
	char hello_node[64];
	uint32_t hello_proto;
	uint64_t hello_gen;
	uint64_t ack_gen;
	bool ack_prepared;
	uint64_t nack_gen, nack_bad;
	int nack_code;
	char nack_msg[512];
	uint64_t stats_gen;
	size_t stats_services, stats_slbs;
};

struct env {
	char dir[64], pin_dir[128], cfg_path[PATH_MAX], agent_bin[PATH_MAX], state_dir[PATH_MAX];
	struct event_base *base;
	SSL_CTX *srv;
	struct vsn_listener *l;
	struct vsn_conn *c;
	pid_t agent;
	struct seen s;
};

static char *path(const struct env *e, const char *rel)
{
	return cert_path(e->dir, rel);
}

static void on_msg(struct vsn_conn *c, Vsn__Envelope *m, void *arg)
{
	struct env *e = arg;
	struct seen *s = &e->s;

	switch (m->msg_case) {
	case VSN__ENVELOPE__MSG_HELLO:
		s->hellos++;
		snprintf(s->hello_node, sizeof(s->hello_node), "%s", m->hello->node);
		s->hello_proto = m->hello->protocol_version;
		s->hello_gen = m->hello->running_generation;
		break;
	case VSN__ENVELOPE__MSG_ACK:
		s->acks++;
		s->ack_gen = m->ack->generation;
		s->ack_prepared = m->ack->prepared;
		break;
	case VSN__ENVELOPE__MSG_NACK:
		s->nacks++;
		s->nack_gen = m->nack->generation;
		s->nack_code = m->nack->code;
		s->nack_bad = m->nack->bad_entry;
		snprintf(s->nack_msg, sizeof(s->nack_msg), "%s", m->nack->message);
		break;
	case VSN__ENVELOPE__MSG_STATS:
		s->stats++;
		s->stats_gen = m->stats->generation;
		s->stats_services = m->stats->n_services;
		s->stats_slbs = m->stats->n_slbs;
		break;
	default:
		break;
	}
}

static void on_ready(struct vsn_conn *c, const char *peer, void *arg)
{
}

static void on_close(struct vsn_conn *c, int err, const char *why, void *arg)
{
	struct env *e = arg;

	if (e->c == c)
		e->c = NULL;
	e->s.closes++;
}

static const struct vsn_conn_cbs cbs = {on_ready, on_msg, on_close};

static void on_conn(struct vsn_listener *l, struct vsn_conn *c, void *arg)
{
	struct env *e = arg;

	/* The newest connection is the agent's; an older one is gone or going. */
	if (e->c)
		vsn_conn_close(e->c);
	e->c = c;
	vsn_conn_set_cbs(c, &cbs, e);
}

/* Run the loop until *counter exceeds before, or WAIT_MS pass; true if it did. */
static bool wait_for(struct env *e, const int *counter, int before, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timeval tv = {0, 10000};

		if (*counter > before)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return false;
		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
	}
}

static void send_env(struct env *e, Vsn__Envelope *env)
{
	assert_non_null(e->c);
	assert_int_equal(vsn_conn_send(e->c, env), 0);
}

/* A set of n policies 198.18.x.y:80/tcp -> SLB 1 (or slb_id), service 1..3. */
static Vsn__PolicySet *make_set(uint64_t gen, size_t n, uint32_t slb_id)
{
	struct vsn_dp_policy *p = calloc(n, sizeof(*p));
	struct vsn_dp_slb slb = {.id = 1, .forward = VSN_FORWARD_L2, .state = VSN_SLB_UP};
	struct vsn_dp_set set = {
		.generation = gen, .n_policies = n, .policies = p, .n_slbs = 1, .slbs = &slb};
	Vsn__PolicySet *msg = NULL;
	size_t bad;

	assert_non_null(p);
	assert_int_equal(vsn_addr_parse("10.0.0.2", &slb.addr), 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t a = htonl(0xc6120000u + (uint32_t)i);

		p[i].vip.family = AF_INET;
		memcpy(p[i].vip.bytes, &a, 4);
		p[i].proto = 6;
		p[i].port = 80;
		p[i].slb_id = slb_id;
		p[i].service_id = 1 + (uint32_t)(i % 3);
		p[i].policy_id = 1 + (uint32_t)i;
	}
	assert_int_equal(vsn_proto_set_to_msg(&set, &msg, &bad), 0);
	free(p);
	return msg;
}

static void send_set(struct env *e, Vsn__PolicySet *msg, bool hold)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;

	msg->hold = hold;
	env.msg_case = VSN__ENVELOPE__MSG_POLICY_SET;
	env.policy_set = msg;
	send_env(e, &env);
	vsn_proto_msg_free(msg);
}

static uint64_t running_generation(struct env *e)
{
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = e->pin_dir};
	struct vsn_dp *dp;
	struct vsn_meta m;

	assert_int_equal(vsn_dp_open(&o, &dp), 0);
	assert_int_equal(vsn_dp_meta(dp, &m), 0);
	vsn_dp_close(dp);
	return m.generation;
}

/*
 * The generation in the header of STATE_DIR/name (docs/node.md, "File format"), 0 when there is
 * no such file. Read directly: vsn_store_open() would remove the agent's staged file.
 */
static uint64_t file_generation(struct env *e, const char *name)
{
	uint8_t hdr[VSN_STORE_HEADER_LEN];
	char p[PATH_MAX];
	uint64_t gen = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", e->state_dir, name);
	f = fopen(p, "r");
	if (!f)
		return 0;
	assert_int_equal(fread(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	fclose(f);
	assert_memory_equal(hdr, VSN_STORE_MAGIC, 8);
	for (int i = 16; i < 24; i++)
		gen = gen << 8 | hdr[i];
	return gen;
}

static uint64_t persisted_generation(struct env *e)
{
	return file_generation(e, VSN_STORE_FILE);
}

/* Every pinned map's keys and values, and those of the maps they hold, into one buffer. */
struct snap {
	char *buf;
	size_t len;
	FILE *f;
};

static struct snap *snap_cur;

static void dump_map(FILE *f, int fd, int depth)
{
	struct bpf_map_info info = {0};
	__u32 ilen = sizeof(info);
	uint8_t key[256], next[256], *val;
	bool first = true;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return;
	fprintf(f, "map %s type %u key %u value %u\n", info.name, info.type, info.key_size,
		info.value_size);
	if (info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
	    info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH)
		return; /* counters: a refused set must not change them, but reads race the CPUs */
	val = malloc(((info.value_size + 7) & ~7u) * 64);
	assert_non_null(val);
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, info.key_size);
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		fwrite(key, 1, info.key_size, f);
		if (info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		    info.type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			__u32 id;
			int inner;

			memcpy(&id, val, sizeof(id));
			inner = bpf_map_get_fd_by_id(id);
			fprintf(f, " -> id %u\n", id);
			if (inner >= 0 && depth < 2) {
				dump_map(f, inner, depth + 1);
				close(inner);
			}
		} else {
			fwrite(val, 1, info.value_size, f);
		}
	}
	free(val);
}

static int snap_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	int fd;

	if (flag != FTW_F)
		return 0;
	fd = bpf_obj_get(p);
	if (fd < 0)
		return 0;
	fprintf(snap_cur->f, "== %s\n", p + ftw->base);
	dump_map(snap_cur->f, fd, 0);
	close(fd);
	return 0;
}

static void snapshot(struct env *e, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->f = open_memstream(&s->buf, &s->len);
	assert_non_null(s->f);
	snap_cur = s;
	assert_int_equal(nftw(e->pin_dir, snap_one, 16, FTW_PHYS), 0);
	fclose(s->f);
}

static void write_config(struct env *e)
{
	FILE *f = fopen(e->cfg_path, "w");

	assert_non_null(f);
	fprintf(f,
		"node: node1\n"
		"controller: 127.0.0.1:%d\n"
		"tls:\n  ca: %s\n  cert: %s\n  key: %s\n"
		"state_dir: %s\n"
		"pin_dir: %s\n"
		"stats_interval_ms: 100\n"
		"keepalive_interval_ms: 1000\n"
		"reconnect_min_ms: 100\n"
		"reconnect_max_ms: 200\n"
		"prepare_timeout_max_ms: 10000\n",
		vsn_listener_port(e->l), path(e, "n1/ca.crt"), path(e, "n1/node1.crt"),
		path(e, "n1/node1.key"), e->state_dir, e->pin_dir);
	assert_int_equal(fclose(f), 0);
}

/* Start the agent and wait for its Hello. */
static void agent_start(struct env *e)
{
	int hellos = e->s.hellos;
	char log[PATH_MAX];

	snprintf(log, sizeof(log), "%s/agent.log", e->dir);
	e->agent = fork();
	assert_true(e->agent >= 0);
	if (e->agent == 0) {
		freopen(log, "a", stderr);
		execl(e->agent_bin, e->agent_bin, "--config", e->cfg_path, "--log-level", "debug",
		      (char *)NULL);
		_exit(127);
	}
	if (!wait_for(e, &e->s.hellos, hellos, WAIT_MS)) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", log);
		(void)system(cmd);
		fail_msg("no Hello from the agent");
	}
}

static void agent_kill(struct env *e, int sig)
{
	int st;

	if (e->agent <= 0)
		return;
	kill(e->agent, sig);
	waitpid(e->agent, &st, 0);
	e->agent = 0;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vsn_tls_err err = {""};
	char exe[PATH_MAX];
	ssize_t n;

	assert_non_null(e);
	if (testenv_private(AGENT_PREFIX, vsn_dp_unload, e->pin_dir, sizeof(e->pin_dir))) {
		print_message("no private netns / bpffs (root needed)\n");
		free(e);
		return -1;
	}
	/* build[/san]/tests/packet/test_agent -> build[/san]/vsn-node */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(e->agent_bin, sizeof(e->agent_bin), "%s/vsn-node", dirname(dirname(dirname(exe))));
	strcpy(e->dir, "/tmp/vsn-test-agent.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
	snprintf(e->cfg_path, sizeof(e->cfg_path), "%s/node.yaml", e->dir);
	assert_int_equal(vsn_ca_create(path(e, "ca"), "test-ca", 1, &err), 0);
	cert_issue(e->dir, "ca", "ctl", VSN_TLS_CONTROLLER, "vsnd");
	cert_issue(e->dir, "ca", "n1", VSN_TLS_NODE, "node1");
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_CONTROLLER, path(e, "ctl/ca.crt"),
					 path(e, "ctl/vsnd.crt"), path(e, "ctl/vsnd.key"), &e->srv,
					 &err),
			 0);
	e->base = event_base_new();
	assert_non_null(e->base);
	assert_int_equal(vsn_listener_new(e->base, "127.0.0.1:0", e->srv, on_conn, e, &e->l), 0);
	write_config(e);
	agent_start(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	agent_kill(e, SIGTERM);
	if (e->c)
		vsn_conn_close(e->c);
	vsn_listener_free(e->l);
	event_base_free(e->base);
	SSL_CTX_free(e->srv);
	vsn_dp_unload(e->pin_dir);
	rmdir(e->pin_dir);
	/* VSN_TEST_KEEP=1 keeps the directory (agent.log, certificates, state) to look at. */
	if (getenv("VSN_TEST_KEEP"))
		print_message("kept %s\n", e->dir);
	else
		cert_dir_remove(e->dir);
	free(e);
	return 0;
}

/* Send a set and wait for its answer: the Ack or Nack count that moved. */
static void apply_expect_ack(struct env *e, Vsn__PolicySet *msg)
{
	int acks = e->s.acks, nacks = e->s.nacks;
	uint64_t gen = msg->generation;

	send_set(e, msg, false);
	assert_true(wait_for(e, &e->s.acks, acks, WAIT_MS));
	assert_int_equal(e->s.nacks, nacks);
	assert_int_equal(e->s.ack_gen, gen);
	assert_false(e->s.ack_prepared);
}

static void expect_nack(struct env *e, int nacks, uint64_t gen, int code)
{
	assert_true(wait_for(e, &e->s.nacks, nacks, WAIT_MS));
	assert_int_equal(e->s.nack_gen, gen);
	assert_int_equal(e->s.nack_code, code);
}

static void test_hello(void **state)
{
	struct env *e = *state;

	assert_string_equal(e->s.hello_node, "node1");
	assert_int_equal(e->s.hello_proto, VSN_PROTO_VERSION);
	assert_int_equal(e->s.hello_gen, 0);
}

static void test_apply_ack(void **state)
{
	struct env *e = *state;

	apply_expect_ack(e, make_set(10, 100, 1));
	assert_int_equal(running_generation(e), 10);
	assert_int_equal(persisted_generation(e), 10);
}

static void test_nack_leaves_maps_identical(void **state)
{
	struct env *e = *state;
	struct snap before, after;
	int nacks = e->s.nacks;

	snapshot(e, &before);
	assert_true(before.len > 1000);
	/* Policy 51 names SLB 7, which neither the set nor the node defines. */
	Vsn__PolicySet *msg = make_set(11, 100, 1);
	msg->policies[50]->slb_id = 7;
	send_set(e, msg, false);
	expect_nack(e, nacks, 11, VSN__NACK_CODE__NACK_NOT_FOUND);
	assert_int_equal(e->s.nack_bad, 51);
	snapshot(e, &after);
	assert_int_equal(before.len, after.len);
	assert_memory_equal(before.buf, after.buf, before.len);
	assert_int_equal(running_generation(e), 10);
	assert_int_equal(persisted_generation(e), 10);
	free(before.buf);
	free(after.buf);
}

static void test_malformed_and_stale(void **state)
{
	struct env *e = *state;
	int nacks = e->s.nacks;
	Vsn__PolicySet *msg;

	/* A VIP of 3 bytes: refused by the conversion, with its index. */
	msg = make_set(12, 10, 1);
	msg->policies[3]->vip.len = 3;
	send_set(e, msg, false);
	expect_nack(e, nacks, 12, VSN__NACK_CODE__NACK_INVALID);
	assert_int_equal(e->s.nack_bad, 4);
	nacks = e->s.nacks;
	send_set(e, make_set(9, 10, 1), false);
	expect_nack(e, nacks, 9, VSN__NACK_CODE__NACK_STALE);
	assert_int_equal(running_generation(e), 10);
}

/* Serialize msg and send it in chunks of size bytes; corrupt: flip a digest bit. */
static void send_chunks(struct env *e, Vsn__PolicySet *msg, size_t size, bool corrupt, bool reorder)
{
	size_t len = vsn__policy_set__get_packed_size(msg);
	uint8_t *buf = malloc(len);
	struct vsn_chunks ch;

	assert_non_null(buf);
	vsn__policy_set__pack(msg, buf);
	assert_int_equal(vsn_chunks_split(msg->generation, buf, len, size, &ch), 0);
	assert_true(ch.n > 2);
	if (corrupt)
		ch.digest[0] ^= 1;
	for (size_t i = 0; i < ch.n; i++) {
		Vsn__Envelope env = VSN__ENVELOPE__INIT;
		size_t k = reorder && i == 1 ? 2 : reorder && i == 2 ? 1 : i;

		env.msg_case = VSN__ENVELOPE__MSG_CHUNK;
		env.chunk = &ch.chunk[k];
		send_env(e, &env);
	}
	vsn_chunks_free(&ch);
	free(buf);
	vsn_proto_msg_free(msg);
}

static void test_chunks(void **state)
{
	struct env *e = *state;
	int acks = e->s.acks, nacks = e->s.nacks;

	send_chunks(e, make_set(13, 50000, 1), 64 << 10, true, false);
	expect_nack(e, nacks, 13, VSN__NACK_CODE__NACK_DIGEST);
	nacks = e->s.nacks;
	send_chunks(e, make_set(13, 50000, 1), 64 << 10, false, true);
	expect_nack(e, nacks, 13, VSN__NACK_CODE__NACK_SEQUENCE);
	/* One Nack per refused set: the chunks after the refusal are dropped, not refused. */
	acks = e->s.acks;
	send_chunks(e, make_set(14, 50000, 1), 64 << 10, false, false);
	assert_true(wait_for(e, &e->s.acks, acks, WAIT_MS));
	assert_int_equal(e->s.nacks, nacks + 1);
	assert_int_equal(e->s.ack_gen, 14);
	assert_int_equal(running_generation(e), 14);
	assert_int_equal(persisted_generation(e), 14);
}

static void send_phase(struct env *e, Vsn__Envelope__MsgCase which, uint64_t gen, uint32_t ms)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Prepare p = VSN__PREPARE__INIT;
	Vsn__Commit c = VSN__COMMIT__INIT;
	Vsn__Abort a = VSN__ABORT__INIT;

	env.msg_case = which;
	p.generation = c.generation = a.generation = gen;
	p.timeout_ms = ms;
	if (which == VSN__ENVELOPE__MSG_PREPARE)
		env.prepare = &p;
	else if (which == VSN__ENVELOPE__MSG_COMMIT)
		env.commit = &c;
	else
		env.abort = &a;
	send_env(e, &env);
}

/* Hold gen, Prepare it, and wait for the prepared Ack. */
static void prepare(struct env *e, uint64_t gen, uint32_t ms)
{
	int acks = e->s.acks, nacks = e->s.nacks;

	send_set(e, make_set(gen, 200, 1), true);
	/* A held set is only validated: nothing is answered, nothing runs. */
	assert_false(wait_for(e, &e->s.acks, acks, 300));
	assert_int_equal(e->s.nacks, nacks);
	send_phase(e, VSN__ENVELOPE__MSG_PREPARE, gen, ms);
	assert_true(wait_for(e, &e->s.acks, acks, WAIT_MS));
	assert_int_equal(e->s.ack_gen, gen);
	assert_true(e->s.ack_prepared);
}

static void test_two_phase_commit(void **state)
{
	struct env *e = *state;
	int acks;

	prepare(e, 20, 5000);
	/* Prepared, not running, not persisted: staged. */
	assert_int_equal(running_generation(e), 14);
	assert_int_equal(persisted_generation(e), 14);
	assert_int_equal(file_generation(e, VSN_STORE_STAGED_FILE), 20);
	acks = e->s.acks;
	send_phase(e, VSN__ENVELOPE__MSG_COMMIT, 20, 0);
	assert_true(wait_for(e, &e->s.acks, acks, WAIT_MS));
	assert_int_equal(e->s.ack_gen, 20);
	assert_false(e->s.ack_prepared);
	assert_int_equal(running_generation(e), 20);
	assert_int_equal(persisted_generation(e), 20);
	assert_int_equal(file_generation(e, VSN_STORE_STAGED_FILE), 0);
}

static void test_prepare_timeout(void **state)
{
	struct env *e = *state;
	int nacks;

	prepare(e, 21, 200);
	usleep(600 * 1000);
	nacks = e->s.nacks;
	send_phase(e, VSN__ENVELOPE__MSG_COMMIT, 21, 0);
	expect_nack(e, nacks, 21, VSN__NACK_CODE__NACK_SEQUENCE);
	assert_int_equal(running_generation(e), 20);
	assert_int_equal(persisted_generation(e), 20);
	assert_int_equal(file_generation(e, VSN_STORE_STAGED_FILE), 0);
}

static void test_abort(void **state)
{
	struct env *e = *state;
	int nacks;

	prepare(e, 22, 5000);
	send_phase(e, VSN__ENVELOPE__MSG_ABORT, 22, 0);
	nacks = e->s.nacks;
	send_phase(e, VSN__ENVELOPE__MSG_COMMIT, 22, 0);
	expect_nack(e, nacks, 22, VSN__NACK_CODE__NACK_SEQUENCE);
	assert_int_equal(running_generation(e), 20);
	assert_int_equal(persisted_generation(e), 20);
	/* Prepare without a held set is refused. */
	nacks = e->s.nacks;
	send_phase(e, VSN__ENVELOPE__MSG_PREPARE, 23, 1000);
	expect_nack(e, nacks, 23, VSN__NACK_CODE__NACK_SEQUENCE);
}

static void test_slb_state(void **state)
{
	struct env *e = *state;
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = e->pin_dir};
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__SlbState st = VSN__SLB_STATE__INIT;
	struct vsn_dp *dp;
	struct vsn_slb slb;
	bool seen = false;

	st.slb_id = 1;
	st.state = VSN__SLB_STATE_VALUE__SLB_DRAIN;
	env.msg_case = VSN__ENVELOPE__MSG_SLB_STATE;
	env.slb_state = &st;
	send_env(e, &env);
	assert_int_equal(vsn_dp_open(&o, &dp), 0);
	for (int i = 0; i < 200 && !seen; i++) {
		int stats = e->s.stats;

		wait_for(e, &stats, stats, 10);
		assert_int_equal(vsn_dp_slb_get(dp, 1, &slb), 0);
		seen = slb.state == VSN_SLB_DRAIN;
	}
	assert_true(seen);
	st.state = VSN__SLB_STATE_VALUE__SLB_UP;
	send_env(e, &env);
	seen = false;
	for (int i = 0; i < 200 && !seen; i++) {
		int stats = e->s.stats;

		wait_for(e, &stats, stats, 10);
		assert_int_equal(vsn_dp_slb_get(dp, 1, &slb), 0);
		seen = slb.state == VSN_SLB_UP;
	}
	assert_true(seen);
	vsn_dp_close(dp);
}

static void test_stats(void **state)
{
	struct env *e = *state;

	assert_true(wait_for(e, &e->s.stats, e->s.stats, 2000));
	assert_int_equal(e->s.stats_gen, 20);
	assert_int_equal(e->s.stats_services, 3);
	assert_int_equal(e->s.stats_slbs, 1);
}

/* How many lines of the agent's log contain needle. */
static int log_count(struct env *e, const char *needle)
{
	char p[PATH_MAX], line[1024];
	int n = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/agent.log", e->dir);
	f = fopen(p, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void test_sighup_reloads_certificates(void **state)
{
	struct env *e = *state;
	int before = log_count(e, "certificates reloaded"), closes = e->s.closes;

	/* A renewed certificate: the next connection presents it; this one goes on. */
	cert_issue(e->dir, "ca", "n1", VSN_TLS_NODE, "node1");
	kill(e->agent, SIGHUP);
	for (int i = 0; i < 100 && log_count(e, "certificates reloaded") == before; i++)
		wait_for(e, &e->s.stats, e->s.stats, 20);
	assert_int_equal(log_count(e, "certificates reloaded"), before + 1);
	assert_true(wait_for(e, &e->s.stats, e->s.stats, 2000));
	assert_int_equal(e->s.closes, closes);
	assert_int_equal(running_generation(e), 20);
	/* A certificate of another name is refused on reload: the old one stays. */
	cert_issue(e->dir, "ca", "n1", VSN_TLS_NODE, "node2");
	rename(path(e, "n1/node2.crt"), path(e, "n1/node1.crt"));
	rename(path(e, "n1/node2.key"), path(e, "n1/node1.key"));
	before = log_count(e, "certificates not reloaded");
	kill(e->agent, SIGHUP);
	for (int i = 0; i < 100 && log_count(e, "certificates not reloaded") == before; i++)
		wait_for(e, &e->s.stats, e->s.stats, 20);
	assert_int_equal(log_count(e, "certificates not reloaded"), before + 1);
	cert_issue(e->dir, "ca", "n1", VSN_TLS_NODE, "node1");
}

static void test_restart_adopts(void **state)
{
	struct env *e = *state;

	agent_kill(e, SIGKILL);
	agent_start(e);
	assert_int_equal(e->s.hello_gen, 20);
	assert_int_equal(running_generation(e), 20);
}

static void test_restart_restores(void **state)
{
	struct env *e = *state;
	struct vsn_dp_opts o = {.sz = sizeof(o), .pin_dir = e->pin_dir};
	struct vsn_dp *dp;
	struct vsn_meta m;

	agent_kill(e, SIGKILL);
	assert_int_equal(vsn_dp_unload(e->pin_dir), 0);
	/* No controller either: the agent must not wait for one. */
	vsn_listener_free(e->l);
	e->l = NULL;
	e->agent = fork();
	assert_true(e->agent >= 0);
	if (e->agent == 0) {
		char log[PATH_MAX];

		snprintf(log, sizeof(log), "%s/agent.log", e->dir);
		freopen(log, "a", stderr);
		execl(e->agent_bin, e->agent_bin, "--config", e->cfg_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		usleep(50 * 1000);
		if (vsn_dp_open(&o, &dp))
			continue;
		assert_int_equal(vsn_dp_meta(dp, &m), 0);
		vsn_dp_close(dp);
		if (m.generation == 20)
			break;
	}
	assert_int_equal(m.generation, 20);
	assert_int_equal(m.n_policies, 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_apply_ack),
		cmocka_unit_test(test_nack_leaves_maps_identical),
		cmocka_unit_test(test_malformed_and_stale),
		cmocka_unit_test(test_chunks),
		cmocka_unit_test(test_two_phase_commit),
		cmocka_unit_test(test_prepare_timeout),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_slb_state),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_sighup_reloads_certificates),
		cmocka_unit_test(test_restart_adopts),
		cmocka_unit_test(test_restart_restores),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
