/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnctl against fake nodes: a controller and up to four node connections on one
 * event_base, over loopback with mutual TLS (certificates from cert_dir.h). A fake node is a
 * libvsntransport client speaking lib/proto, told how to answer sets, Prepares and Commits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "chunk.h"
#include "conn.h"
#include "ctl.h"
#include "frame.h"
#include "vsn_tls.h"
#include "cert_dir.h"

enum answer { ANSWER_ACK, ANSWER_NACK, ANSWER_SILENT };

/* A fake node: how it answers, and what it received. */
struct fnode {
	struct env *e;
	const char *hello_name;
	uint32_t proto_version;
	uint64_t running;
	bool no_hello;
	bool echo_keepalive; /* answer each Keepalive with one */
	bool send_stats;     /* Stats after Hello */
	enum answer on_set, on_prepare, on_commit;
	Vsn__NackCode nack_code;

	struct vsn_conn *c; /* NULL once closed */
	int ready, closed, close_err;
	char why[256];
	int msgs, sets, chunks, prepares, commits, aborts, slbs, keepalives, nacks;
	uint64_t set_gen;
	bool set_hold;
	uint8_t *bytes; /* the last set received, serialized */
	size_t len;
	uint32_t prepare_timeout_ms;
	Vsn__NackCode nack_got;
	uint32_t slb_id;
	Vsn__SlbStateValue slb_state;
	struct vsn_reasm reasm;
};

struct ev_rec {
	enum vsn_ctl_event_type type;
	char node[64];
	uint64_t generation;
	int err;
	char reason[256];
	Vsn__NackCode code;
	char message[256];
	uint64_t bad_entry;
	double latency_ms;
	size_t chunks;
	bool prepared, hold;
};

struct env {
	char dir[64];
	struct event_base *base;
	SSL_CTX *srv, *cli[3];
	struct vsn_ctl *ctl;
	char addr[64];
	struct ev_rec ev[256];
	int n_ev;
	int n_results;
	int res_err;
	char res_failed[64];
	char res_message[512];
	Vsn__NackCode res_code;
	size_t res_n, res_aborted;
	enum vsn_ctl_ro_state res_state[4];
	double res_prepare_ms, res_commit_ms, res_spread_ms;
	struct fnode fn[4];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void step(struct env *e)
{
	struct timeval tv = {0, 10000};

	event_base_loopexit(e->base, &tv);
	event_base_dispatch(e->base);
}

/* Run the loop until cond holds or ms pass (the test's asserts then tell). */
#define RUN_UNTIL(e, cond, ms)                     \
	do {                                       \
		uint64_t end_ = now_ms() + (ms);   \
		while (!(cond) && now_ms() < end_) \
			step(e);                   \
	} while (0)

static void run_for(struct env *e, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		step(e);
}

/* Events. */

static void on_event(const struct vsn_ctl_event *ev, void *arg)
{
	struct env *e = arg;
	struct ev_rec *r;

	assert_true(e->n_ev < 256);
	r = &e->ev[e->n_ev++];
	r->type = ev->type;
	snprintf(r->node, sizeof(r->node), "%s", ev->node ? ev->node : "");
	r->generation = ev->generation;
	r->err = ev->err;
	snprintf(r->reason, sizeof(r->reason), "%s", ev->reason ? ev->reason : "");
	r->code = ev->code;
	snprintf(r->message, sizeof(r->message), "%s", ev->message ? ev->message : "");
	r->bad_entry = ev->bad_entry;
	r->latency_ms = ev->latency_ms;
	r->chunks = ev->chunks;
	r->prepared = ev->prepared;
	r->hold = ev->hold;
	print_message("event %d node=%s gen=%llu err=%d reason=%s code=%d message=%s\n", ev->type,
		      r->node, (unsigned long long)ev->generation, ev->err, r->reason, ev->code,
		      r->message);
}

static int count_ev(const struct env *e, enum vsn_ctl_event_type t, const char *node)
{
	int n = 0;

	for (int i = 0; i < e->n_ev; i++)
		if (e->ev[i].type == t && (!node || !strcmp(e->ev[i].node, node)))
			n++;
	return n;
}

/* The last event of type t (of node, unless NULL). */
static const struct ev_rec *last_ev(const struct env *e, enum vsn_ctl_event_type t,
				    const char *node)
{
	for (int i = e->n_ev - 1; i >= 0; i--)
		if (e->ev[i].type == t && (!node || !strcmp(e->ev[i].node, node)))
			return &e->ev[i];
	fail_msg("no event of type %d for %s", t, node ? node : "any node");
	return NULL;
}

static void on_result(const struct vsn_ctl_rollout_result *res, void *arg)
{
	struct env *e = arg;

	e->n_results++;
	e->res_err = res->err;
	snprintf(e->res_failed, sizeof(e->res_failed), "%s",
		 res->failed_node ? res->failed_node : "");
	snprintf(e->res_message, sizeof(e->res_message), "%s", res->message);
	e->res_code = res->code;
	e->res_n = res->n_nodes;
	e->res_aborted = res->n_aborted;
	for (size_t i = 0; i < res->n_nodes && i < 4; i++)
		e->res_state[i] = res->nodes[i].state;
	e->res_prepare_ms = res->prepare_ms;
	e->res_commit_ms = res->commit_ms;
	e->res_spread_ms = res->spread_ms;
	print_message("rollout %llu: err=%d failed=%s message=%s prepare_ms=%.3f commit_ms=%.3f "
		      "spread_ms=%.3f\n",
		      (unsigned long long)res->id, res->err, e->res_failed, res->message,
		      res->prepare_ms, res->commit_ms, res->spread_ms);
}

/* Test sets: n policies 10.0.0.0 + i tcp/443 to slb 1. */

struct tset {
	Vsn__PolicySet ps;
	Vsn__Policy *pol, **pp;
	uint32_t *vips;
	Vsn__Slb slb, *slbp;
	uint8_t slb_addr[4];
};

static void tset_init(struct tset *t, uint64_t gen, size_t n)
{
	memset(t, 0, sizeof(*t));
	vsn__policy_set__init(&t->ps);
	t->pol = calloc(n, sizeof(*t->pol));
	t->pp = calloc(n, sizeof(*t->pp));
	t->vips = calloc(n, sizeof(*t->vips));
	assert_non_null(t->pol);
	assert_non_null(t->pp);
	assert_non_null(t->vips);
	for (size_t i = 0; i < n; i++) {
		vsn__policy__init(&t->pol[i]);
		t->vips[i] = htonl(0x0a000000u + (uint32_t)i);
		t->pol[i].family = VSN__FAMILY__FAMILY_IPV4;
		t->pol[i].vip.data = (uint8_t *)&t->vips[i];
		t->pol[i].vip.len = 4;
		t->pol[i].proto = 6;
		t->pol[i].port = 443;
		t->pol[i].slb_id = 1;
		t->pol[i].policy_id = (uint32_t)i + 1;
		t->pp[i] = &t->pol[i];
	}
	vsn__slb__init(&t->slb);
	t->slb.id = 1;
	t->slb.family = VSN__FAMILY__FAMILY_IPV4;
	memcpy(t->slb_addr, (uint8_t[]){192, 0, 2, 1}, 4);
	t->slb.addr.data = t->slb_addr;
	t->slb.addr.len = 4;
	t->slbp = &t->slb;
	t->ps.generation = gen;
	t->ps.n_policies = n;
	t->ps.policies = t->pp;
	t->ps.n_slbs = 1;
	t->ps.slbs = &t->slbp;
}

static void tset_fini(struct tset *t)
{
	free(t->pol);
	free(t->pp);
	free(t->vips);
}

static struct vsn_ctl_set *tset_ctl(struct tset *t)
{
	struct vsn_ctl_set *s = NULL;

	assert_int_equal(vsn_ctl_set_new(&t->ps, &s), 0);
	return s;
}

/* A set of gen with n policies, for the controller. */
static struct vsn_ctl_set *make_set(uint64_t gen, size_t n)
{
	struct vsn_ctl_set *s;
	struct tset t;

	tset_init(&t, gen, n);
	s = tset_ctl(&t);
	tset_fini(&t);
	return s;
}

/* What a node must receive of t: its bytes, with hold as given. */
static uint8_t *tset_pack(struct tset *t, bool hold, size_t *ret_len)
{
	uint8_t *b;

	t->ps.hold = hold;
	*ret_len = vsn__policy_set__get_packed_size(&t->ps);
	b = malloc(*ret_len);
	assert_non_null(b);
	vsn__policy_set__pack(&t->ps, b);
	t->ps.hold = false;
	return b;
}

/* The fake node. */

static void fn_send(struct fnode *f, Vsn__Envelope *env)
{
	assert_non_null(f->c);
	assert_int_equal(vsn_conn_send(f->c, env), 0);
}

static void fn_ack(struct fnode *f, uint64_t gen, bool prepared)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Ack ack = VSN__ACK__INIT;

	ack.generation = gen;
	ack.prepared = prepared;
	env.msg_case = VSN__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	fn_send(f, &env);
}

static void fn_nack(struct fnode *f, uint64_t gen, const char *msg)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Nack nack = VSN__NACK__INIT;

	nack.generation = gen;
	nack.code = f->nack_code;
	nack.message = (char *)msg;
	nack.bad_entry = 3;
	env.msg_case = VSN__ENVELOPE__MSG_NACK;
	env.nack = &nack;
	fn_send(f, &env);
}

static void fn_ready(struct vsn_conn *c, const char *peer, void *arg)
{
	struct fnode *f = arg;
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Hello h = VSN__HELLO__INIT;
	Vsn__Stats st = VSN__STATS__INIT;
	Vsn__Counter cnt = VSN__COUNTER__INIT, *cp = &cnt;

	f->ready++;
	if (f->no_hello)
		return;
	h.node = (char *)f->hello_name;
	h.software_version = "test";
	h.protocol_version = f->proto_version;
	h.running_generation = f->running;
	env.msg_case = VSN__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	fn_send(f, &env);
	if (!f->send_stats)
		return;
	cnt.id = 9;
	cnt.packets = 1000;
	cnt.bytes = 64000;
	st.generation = f->running;
	st.n_services = 1;
	st.services = &cp;
	env.msg_case = VSN__ENVELOPE__MSG_STATS;
	env.stats = &st;
	fn_send(f, &env);
}

/* A whole set arrived (bytes taken over): answer as told. */
static void fn_set(struct fnode *f, uint64_t gen, bool hold, uint8_t *bytes, size_t len)
{
	free(f->bytes);
	f->bytes = bytes;
	f->len = len;
	f->set_gen = gen;
	f->set_hold = hold;
	if (f->on_set == ANSWER_NACK)
		fn_nack(f, gen, "refused by the test");
	else if (f->on_set == ANSWER_ACK && !hold) {
		f->running = gen;
		fn_ack(f, gen, false);
	}
}

static void fn_message(struct vsn_conn *c, Vsn__Envelope *m, void *arg)
{
	struct fnode *f = arg;
	Vsn__PolicySet *set;
	uint8_t *bytes;
	size_t len;
	int r;

	f->msgs++;
	switch (m->msg_case) {
	case VSN__ENVELOPE__MSG_POLICY_SET:
		f->sets++;
		len = vsn__policy_set__get_packed_size(m->policy_set);
		bytes = malloc(len + 1);
		assert_non_null(bytes);
		vsn__policy_set__pack(m->policy_set, bytes);
		fn_set(f, m->policy_set->generation, m->policy_set->hold, bytes, len);
		break;
	case VSN__ENVELOPE__MSG_CHUNK:
		f->chunks++;
		r = vsn_reasm_add_bytes(&f->reasm, m->chunk, &set, &bytes, &len);
		assert_true(r >= 0);
		if (r == 1) {
			fn_set(f, set->generation, set->hold, bytes, len);
			vsn__policy_set__free_unpacked(set, NULL);
		}
		break;
	case VSN__ENVELOPE__MSG_PREPARE:
		f->prepares++;
		f->prepare_timeout_ms = m->prepare->timeout_ms;
		assert_int_equal(m->prepare->generation, f->set_gen);
		if (f->on_prepare == ANSWER_ACK)
			fn_ack(f, m->prepare->generation, true);
		else if (f->on_prepare == ANSWER_NACK)
			fn_nack(f, m->prepare->generation, "prepare refused by the test");
		break;
	case VSN__ENVELOPE__MSG_COMMIT:
		f->commits++;
		if (f->on_commit == ANSWER_ACK) {
			f->running = m->commit->generation;
			fn_ack(f, m->commit->generation, false);
		}
		break;
	case VSN__ENVELOPE__MSG_ABORT:
		f->aborts++;
		break;
	case VSN__ENVELOPE__MSG_SLB_STATE:
		f->slbs++;
		f->slb_id = m->slb_state->slb_id;
		f->slb_state = m->slb_state->state;
		break;
	case VSN__ENVELOPE__MSG_KEEPALIVE:
		f->keepalives++;
		if (f->echo_keepalive)
			fn_send(f, m);
		break;
	case VSN__ENVELOPE__MSG_NACK:
		f->nacks++;
		f->nack_got = m->nack->code;
		break;
	default:
		fail_msg("the controller sent message %d", m->msg_case);
	}
}

static void fn_close(struct vsn_conn *c, int err, const char *why, void *arg)
{
	struct fnode *f = arg;

	f->closed++;
	f->close_err = err;
	snprintf(f->why, sizeof(f->why), "%s", why);
	f->c = NULL;
}

static const struct vsn_conn_cbs fn_cbs = {fn_ready, fn_message, fn_close};

static const char *const names[] = {"node1", "node2", "node3"};

/* Fake node i (0..3) with the certificate of names[cert]; defaults: answers everything. */
static struct fnode *fn_new(struct env *e, int i, int cert)
{
	struct fnode *f = &e->fn[i];

	memset(f, 0, sizeof(*f));
	f->e = e;
	f->hello_name = names[cert];
	f->proto_version = VSN_PROTO_VERSION;
	vsn_reasm_init(&f->reasm, 0, 0);
	assert_int_equal(vsn_conn_connect(e->base, e->addr, e->cli[cert], 3000, &fn_cbs, f, &f->c),
			 0);
	return f;
}

static void fn_fini(struct fnode *f)
{
	if (f->c)
		vsn_conn_close(f->c);
	f->c = NULL;
	vsn_reasm_fini(&f->reasm);
	free(f->bytes);
	f->bytes = NULL;
}

/* Status. */

struct st_copy {
	bool connected;
	enum vsn_ctl_sync sync;
	uint64_t desired, running, acked, failed;
	Vsn__NackCode code;
	bool has_stats;
	size_t n_services;
	uint64_t svc_packets;
};

static int st_cb(const struct vsn_ctl_node_status *st, void *arg)
{
	struct st_copy *c = arg;

	c->connected = st->connected;
	c->sync = st->sync;
	c->desired = st->desired;
	c->running = st->running;
	c->acked = st->acked;
	c->failed = st->failed_generation;
	c->code = st->failed_code;
	c->has_stats = st->has_stats;
	c->n_services = st->n_services;
	c->svc_packets = st->n_services ? st->services[0].packets : 0;
	return 0;
}

static struct st_copy status(struct env *e, const char *node)
{
	struct st_copy c = {0};

	assert_int_equal(vsn_ctl_node_status(e->ctl, node, st_cb, &c), 0);
	return c;
}

/* Whether node has said Hello and sent Stats. */
static bool has_stats(struct env *e, const char *node)
{
	struct st_copy c = {0};

	return !vsn_ctl_node_status(e->ctl, node, st_cb, &c) && c.has_stats;
}

/* Fixture. */

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vsn_tls_err err = {""};
	char crt[64], key[64], out[16];

	assert_non_null(e);
	strcpy(e->dir, "/tmp/vsn-test-ctl.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	assert_int_equal(vsn_ca_create(cert_path(e->dir, "ca"), "test-ca", 1, &err), 0);
	cert_issue(e->dir, "ca", "ctl", VSN_TLS_CONTROLLER, "vsnd");
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_CONTROLLER, cert_path(e->dir, "ctl/ca.crt"),
					 cert_path(e->dir, "ctl/vsnd.crt"),
					 cert_path(e->dir, "ctl/vsnd.key"), &e->srv, &err),
			 0);
	for (int i = 0; i < 3; i++) {
		snprintf(out, sizeof(out), "n%d", i + 1);
		cert_issue(e->dir, "ca", out, VSN_TLS_NODE, names[i]);
		snprintf(crt, sizeof(crt), "%s/%s.crt", out, names[i]);
		snprintf(key, sizeof(key), "%s/%s.key", out, names[i]);
		assert_int_equal(vsn_tls_ctx_new(VSN_TLS_NODE, cert_path(e->dir, "ctl/ca.crt"),
						 cert_path(e->dir, crt), cert_path(e->dir, key),
						 &e->cli[i], &err),
				 0);
	}
	e->base = event_base_new();
	assert_non_null(e->base);
	*state = e;
	return 0;
}

static void start(struct env *e, const struct vsn_ctl_opts *opts)
{
	struct vsn_ctl_opts o = {.sz = sizeof(o)};

	if (opts)
		o = *opts;
	o.on_event = on_event;
	o.arg = e;
	assert_int_equal(vsn_ctl_new(e->base, e->srv, "127.0.0.1:0", &o, &e->ctl), 0);
	snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%d", vsn_ctl_port(e->ctl));
}

static int teardown(void **state)
{
	struct env *e = *state;

	for (int i = 0; i < 4; i++)
		fn_fini(&e->fn[i]);
	vsn_ctl_free(e->ctl);
	/* Let the closed connections' last events run before the base goes. */
	event_base_loop(e->base, EVLOOP_NONBLOCK);
	event_base_free(e->base);
	SSL_CTX_free(e->srv);
	for (int i = 0; i < 3; i++)
		SSL_CTX_free(e->cli[i]);
	cert_dir_remove(e->dir);
	free(e);
	return 0;
}

/* Tests. */

static void test_push_small(void **state)
{
	struct env *e = *state;
	struct tset t;
	struct vsn_ctl_set *set;
	struct fnode *f;
	uint8_t *want;
	size_t len;

	start(e, NULL);
	tset_init(&t, 5, 3);
	set = tset_ctl(&t);
	assert_int_equal(vsn_ctl_set_default(e->ctl, set, 0), 0);
	vsn_ctl_set_unref(set);
	f = fn_new(e, 0, 0);
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_ACK, "node1"), 3000);

	assert_int_equal(f->sets, 1);
	assert_int_equal(f->chunks, 0);
	assert_int_equal(f->set_gen, 5);
	assert_false(f->set_hold);
	want = tset_pack(&t, false, &len);
	assert_int_equal(f->len, len);
	assert_memory_equal(f->bytes, want, len);
	free(want);
	tset_fini(&t);

	assert_int_equal(last_ev(e, VSN_CTL_EV_CONNECTED, "node1")->generation, 0);
	assert_int_equal(last_ev(e, VSN_CTL_EV_PUSH, "node1")->chunks, 0);
	assert_int_equal(last_ev(e, VSN_CTL_EV_ACK, "node1")->generation, 5);
	assert_true(last_ev(e, VSN_CTL_EV_ACK, "node1")->latency_ms > 0);
	assert_int_equal(count_ev(e, VSN_CTL_EV_IN_SYNC, NULL), 0);
	struct st_copy st = status(e, "node1");
	assert_true(st.connected);
	assert_int_equal(st.sync, VSN_CTL_SYNC_IN_SYNC);
	assert_int_equal(st.acked, 5);
	assert_int_equal(st.running, 5);
}

static void test_push_chunks(void **state)
{
	struct env *e = *state;
	enum { N = 250000 }; /* over 4 MiB serialized */
	struct vsn_ctl_set *set;
	struct tset t;
	struct fnode *f;
	uint8_t *want;
	size_t len, n_chunks;

	start(e, NULL);
	tset_init(&t, 77, N);
	set = tset_ctl(&t);
	assert_true(vsn_ctl_set_size(set) > VSN_PROTO_MAX_FRAME);
	n_chunks = (vsn_ctl_set_size(set) + VSN_CHUNK_DEFAULT_SIZE - 1) / VSN_CHUNK_DEFAULT_SIZE;
	assert_int_equal(vsn_ctl_set_default(e->ctl, set, 0), 0);
	vsn_ctl_set_unref(set);
	f = fn_new(e, 0, 0);
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_ACK, "node1"), 10000);

	assert_int_equal(f->sets, 0);
	assert_int_equal(f->chunks, n_chunks);
	assert_int_equal(last_ev(e, VSN_CTL_EV_PUSH, "node1")->chunks, n_chunks);
	assert_int_equal(f->set_gen, 77);
	want = tset_pack(&t, false, &len);
	assert_int_equal(f->len, len);
	assert_memory_equal(f->bytes, want, len);
	free(want);
	tset_fini(&t);
	assert_int_equal(last_ev(e, VSN_CTL_EV_ACK, "node1")->generation, 77);
	assert_int_equal(status(e, "node1").sync, VSN_CTL_SYNC_IN_SYNC);
}

static void test_in_sync(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *set = make_set(5, 2);
	struct fnode *f;

	start(e, NULL);
	assert_int_equal(vsn_ctl_set_default(e->ctl, set, 0), 0);
	vsn_ctl_set_unref(set);
	f = fn_new(e, 0, 0);
	f->running = 5;
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_CONNECTED, "node1"), 3000);
	run_for(e, 300);
	assert_int_equal(f->msgs, 0);
	assert_int_equal(count_ev(e, VSN_CTL_EV_IN_SYNC, "node1"), 1);
	assert_int_equal(count_ev(e, VSN_CTL_EV_PUSH, NULL), 0);
	assert_int_equal(status(e, "node1").sync, VSN_CTL_SYNC_IN_SYNC);
}

static void test_name_mismatch(void **state)
{
	struct env *e = *state;
	struct st_copy c;
	struct fnode *f;

	start(e, NULL);
	f = fn_new(e, 0, 0);
	f->hello_name = "node2";
	RUN_UNTIL(e, f->closed, 3000);
	assert_int_equal(f->closed, 1);
	assert_int_equal(count_ev(e, VSN_CTL_EV_REFUSED, "node1"), 1);
	assert_int_equal(last_ev(e, VSN_CTL_EV_REFUSED, "node1")->err, -EACCES);
	assert_non_null(strstr(last_ev(e, VSN_CTL_EV_REFUSED, "node1")->reason, "certificate"));
	assert_int_equal(count_ev(e, VSN_CTL_EV_CONNECTED, NULL), 0);
	assert_int_equal(vsn_ctl_node_status(e->ctl, "node1", st_cb, &c), -ENOENT);
	assert_int_equal(vsn_ctl_node_status(e->ctl, "node2", st_cb, &c), -ENOENT);
}

static void test_version(void **state)
{
	struct env *e = *state;
	struct fnode *f;

	start(e, NULL);
	f = fn_new(e, 0, 0);
	f->proto_version = 2;
	RUN_UNTIL(e, f->closed, 3000);
	assert_int_equal(f->nacks, 1);
	assert_int_equal(f->nack_got, VSN__NACK_CODE__NACK_VERSION);
	assert_int_equal(f->msgs, 1);
	assert_int_equal(f->closed, 1);
	assert_int_equal(last_ev(e, VSN_CTL_EV_REFUSED, "node1")->err, -EPROTONOSUPPORT);
	assert_int_equal(count_ev(e, VSN_CTL_EV_REFUSED, NULL), 1);
	assert_int_equal(count_ev(e, VSN_CTL_EV_CONNECTED, NULL), 0);
}

static void test_nack_not_resent(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *s5 = make_set(5, 2), *s6 = make_set(6, 3);
	const struct ev_rec *ev;
	struct fnode *f;
	struct st_copy st;

	start(e, NULL);
	assert_int_equal(vsn_ctl_set_default(e->ctl, s5, 0), 0);
	f = fn_new(e, 0, 0);
	f->on_set = ANSWER_NACK;
	f->nack_code = VSN__NACK_CODE__NACK_INVALID;
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_NACK, "node1"), 3000);
	ev = last_ev(e, VSN_CTL_EV_NACK, "node1");
	assert_int_equal(ev->generation, 5);
	assert_int_equal(ev->code, VSN__NACK_CODE__NACK_INVALID);
	assert_string_equal(ev->message, "refused by the test");
	assert_int_equal(ev->bad_entry, 3);
	st = status(e, "node1");
	assert_int_equal(st.sync, VSN_CTL_SYNC_FAILING);
	assert_int_equal(st.failed, 5);
	assert_int_equal(st.code, VSN__NACK_CODE__NACK_INVALID);

	/* Not sent again: not by itself, not when the same set is desired again. */
	run_for(e, 200);
	assert_int_equal(vsn_ctl_set_default(e->ctl, s5, 0), 0);
	run_for(e, 200);
	assert_int_equal(f->sets, 1);

	/* A new desired set goes out. */
	assert_int_equal(vsn_ctl_set_default(e->ctl, s6, 0), 0);
	RUN_UNTIL(e, f->sets == 2, 3000);
	assert_int_equal(f->set_gen, 6);
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_NACK, "node1") == 2, 3000);
	run_for(e, 100);
	assert_int_equal(f->sets, 2);

	/* A reconnected node is sent it once more. */
	fn_fini(f);
	f = fn_new(e, 0, 0);
	f->on_set = ANSWER_ACK;
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_ACK, "node1"), 3000);
	assert_int_equal(f->sets, 1);
	assert_int_equal(f->set_gen, 6);
	assert_int_equal(status(e, "node1").sync, VSN_CTL_SYNC_IN_SYNC);
	vsn_ctl_set_unref(s5);
	vsn_ctl_set_unref(s6);
}

/* Connect fake nodes 0 .. n-1 (node1 ..) and wait for their Hellos. */
static void connect_nodes(struct env *e, int n)
{
	for (int i = 0; i < n; i++)
		fn_new(e, i, i);
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_CONNECTED, NULL) == n, 3000);
	assert_int_equal(count_ev(e, VSN_CTL_EV_CONNECTED, NULL), n);
}

static void rollout3(struct env *e, struct vsn_ctl_set *set, unsigned int timeout_ms)
{
	struct vsn_ctl_target t[3] = {{"node1", set}, {"node2", set}, {"node3", set}};
	struct vsn_ctl_rollout_opts o = {.sz = sizeof(o), .timeout_ms = timeout_ms};
	uint64_t id = 0;

	assert_int_equal(vsn_ctl_rollout(e->ctl, t, 3, &o, on_result, e, &id), 0);
	assert_true(id > 0);
	assert_int_equal(e->n_results, 0); /* never from within the call */
	RUN_UNTIL(e, e->n_results, 5000);
	assert_int_equal(e->n_results, 1);
	assert_int_equal(e->res_n, 3);
}

static void test_rollout_ok(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *set;
	struct tset t;
	uint8_t *want;
	size_t len;

	start(e, NULL);
	connect_nodes(e, 3);
	tset_init(&t, 7, 4);
	set = tset_ctl(&t);
	rollout3(e, set, 2000);
	vsn_ctl_set_unref(set);
	assert_int_equal(e->res_err, 0);
	assert_string_equal(e->res_failed, "");
	assert_int_equal(e->res_aborted, 0);
	assert_true(e->res_prepare_ms >= 0);
	assert_true(e->res_commit_ms >= 0);
	assert_true(e->res_spread_ms >= 0 && e->res_spread_ms <= e->res_commit_ms);
	want = tset_pack(&t, true, &len);
	for (int i = 0; i < 3; i++) {
		struct fnode *f = &e->fn[i];

		assert_int_equal(e->res_state[i], VSN_CTL_RO_COMMITTED);
		assert_int_equal(f->sets, 1);
		assert_true(f->set_hold);
		assert_int_equal(f->len, len);
		assert_memory_equal(f->bytes, want, len);
		assert_int_equal(f->prepares, 1);
		assert_int_equal(f->prepare_timeout_ms, VSN_CTL_DEFAULT_PREPARE_TIMEOUT_MS);
		assert_int_equal(f->commits, 1);
		assert_int_equal(f->aborts, 0);
		assert_int_equal(status(e, names[i]).sync, VSN_CTL_SYNC_IN_SYNC);
		assert_int_equal(status(e, names[i]).running, 7);
	}
	free(want);
	tset_fini(&t);
	assert_int_equal(count_ev(e, VSN_CTL_EV_PUSH, NULL), 3);
	assert_true(last_ev(e, VSN_CTL_EV_PUSH, "node2")->hold);
	/* Nothing more goes out: the nodes run their desired set. */
	run_for(e, 100);
	assert_int_equal(count_ev(e, VSN_CTL_EV_PUSH, NULL), 3);
}

/* A rollout of a set too large for a frame: the held set in chunks, then Prepare, then Commit. */
static void test_rollout_chunks(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_rollout_opts o = {.sz = sizeof(o), .timeout_ms = 5000};
	struct vsn_ctl_target t[2];
	struct vsn_ctl_set *set;
	struct tset ts;
	uint8_t *want;
	size_t len;

	start(e, NULL);
	connect_nodes(e, 2);
	tset_init(&ts, 9, 250000);
	set = tset_ctl(&ts);
	t[0] = (struct vsn_ctl_target){"node1", set};
	t[1] = (struct vsn_ctl_target){"node2", set};
	assert_int_equal(vsn_ctl_rollout(e->ctl, t, 2, &o, on_result, e, NULL), 0);
	vsn_ctl_set_unref(set);
	RUN_UNTIL(e, e->n_results, 10000);
	assert_int_equal(e->n_results, 1);
	assert_int_equal(e->res_err, 0);
	want = tset_pack(&ts, true, &len);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e->fn[i].sets, 0);
		assert_true(e->fn[i].chunks > 1);
		assert_true(e->fn[i].set_hold);
		assert_int_equal(e->fn[i].len, len);
		assert_memory_equal(e->fn[i].bytes, want, len);
		assert_int_equal(e->fn[i].prepares, 1);
		assert_int_equal(e->fn[i].commits, 1);
		assert_int_equal(status(e, names[i]).running, 9);
	}
	assert_int_equal(last_ev(e, VSN_CTL_EV_PUSH, "node1")->chunks, e->fn[0].chunks);
	free(want);
	tset_fini(&ts);
}

static void test_rollout_nack(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *set = make_set(7, 4);

	start(e, NULL);
	connect_nodes(e, 3);
	e->fn[1].on_prepare = ANSWER_NACK;
	e->fn[1].nack_code = VSN__NACK_CODE__NACK_TOO_BIG;
	rollout3(e, set, 2000);
	vsn_ctl_set_unref(set);
	assert_int_equal(e->res_err, -E2BIG);
	assert_string_equal(e->res_failed, "node2");
	assert_int_equal(e->res_code, VSN__NACK_CODE__NACK_TOO_BIG);
	assert_non_null(strstr(e->res_message, "prepare refused by the test"));
	assert_int_equal(e->res_aborted, 3);
	assert_int_equal(e->res_state[1], VSN_CTL_RO_FAILED);
	RUN_UNTIL(e, e->fn[0].aborts && e->fn[1].aborts && e->fn[2].aborts, 2000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e->fn[i].aborts, 1);
		assert_int_equal(e->fn[i].commits, 0);
		assert_int_equal(status(e, names[i]).sync, VSN_CTL_SYNC_FAILING);
		assert_int_equal(status(e, names[i]).failed, 7);
	}
	assert_int_equal(e->res_state[0], VSN_CTL_RO_ABORTED);
	assert_int_equal(e->res_state[2], VSN_CTL_RO_ABORTED);
	/* The nodes keep their old set: not sent it again at once. */
	run_for(e, 200);
	for (int i = 0; i < 3; i++)
		assert_int_equal(e->fn[i].sets, 1);
}

static void test_rollout_silent(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *set = make_set(7, 4);
	uint64_t t0;

	start(e, NULL);
	connect_nodes(e, 3);
	e->fn[2].on_prepare = ANSWER_SILENT;
	t0 = now_ms();
	rollout3(e, set, 300);
	vsn_ctl_set_unref(set);
	/* libevent's coarse clock may fire a timer a few ms early. */
	assert_true(now_ms() - t0 >= 290);
	assert_int_equal(e->res_err, -ETIMEDOUT);
	assert_string_equal(e->res_failed, "node3");
	assert_non_null(strstr(e->res_message, "2 of 3"));
	assert_true(e->res_prepare_ms < 0);
	assert_true(e->res_commit_ms < 0);
	RUN_UNTIL(e, e->fn[0].aborts && e->fn[1].aborts && e->fn[2].aborts, 2000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e->fn[i].aborts, 1);
		assert_int_equal(e->fn[i].commits, 0);
	}
	assert_int_equal(e->res_state[2], VSN_CTL_RO_FAILED);
}

static void test_rollout_not_connected(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *set = make_set(7, 4);

	start(e, NULL);
	connect_nodes(e, 2);
	rollout3(e, set, 300);
	vsn_ctl_set_unref(set);
	assert_int_equal(e->res_err, -ENOTCONN);
	assert_string_equal(e->res_failed, "node3");
	assert_int_equal(e->res_aborted, 0);
	run_for(e, 50);
	assert_int_equal(e->fn[0].msgs + e->fn[1].msgs, 0);
}

static void test_slb_broadcast(void **state)
{
	struct env *e = *state;
	size_t n = 0;

	start(e, NULL);
	connect_nodes(e, 3);
	assert_int_equal(vsn_ctl_slb_state(e->ctl, 4, VSN__SLB_STATE_VALUE__SLB_DRAIN, &n), 0);
	assert_int_equal(n, 3);
	RUN_UNTIL(e, e->fn[0].slbs && e->fn[1].slbs && e->fn[2].slbs, 2000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e->fn[i].slbs, 1);
		assert_int_equal(e->fn[i].slb_id, 4);
		assert_int_equal(e->fn[i].slb_state, VSN__SLB_STATE_VALUE__SLB_DRAIN);
	}
}

static void test_keepalive(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_opts o = {
		.sz = sizeof(o),
		.keepalive_interval_ms = 100,
		.keepalive_timeout_ms = 300,
	};
	struct fnode *quiet, *chatty;

	start(e, &o);
	quiet = fn_new(e, 0, 0);
	chatty = fn_new(e, 1, 1);
	chatty->echo_keepalive = true;
	RUN_UNTIL(e, quiet->closed, 2000);
	assert_int_equal(quiet->closed, 1);
	assert_true(quiet->keepalives >= 1);
	assert_int_equal(last_ev(e, VSN_CTL_EV_DISCONNECTED, "node1")->err, -ETIMEDOUT);
	assert_non_null(strstr(last_ev(e, VSN_CTL_EV_DISCONNECTED, "node1")->reason, "keepalive"));
	/* A node that talks stays. */
	run_for(e, 400);
	assert_int_equal(chatty->closed, 0);
	assert_true(chatty->keepalives >= 3);
	assert_true(status(e, "node2").connected);
	assert_false(status(e, "node1").connected);
}

static void test_hello_timeout(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_opts o = {.sz = sizeof(o), .hello_timeout_ms = 200};
	struct fnode *f;

	start(e, &o);
	f = fn_new(e, 0, 0);
	f->no_hello = true;
	RUN_UNTIL(e, f->closed, 2000);
	assert_int_equal(f->closed, 1);
	assert_int_equal(last_ev(e, VSN_CTL_EV_REFUSED, "node1")->err, -ETIMEDOUT);
}

static void test_replace(void **state)
{
	struct env *e = *state;
	struct vsn_ctl_set *set = make_set(5, 2);
	struct fnode *a, *b;

	start(e, NULL);
	assert_int_equal(vsn_ctl_set_default(e->ctl, set, 0), 0);
	vsn_ctl_set_unref(set);
	a = fn_new(e, 0, 0);
	RUN_UNTIL(e, count_ev(e, VSN_CTL_EV_ACK, "node1"), 3000);
	assert_int_equal(a->running, 5);
	b = fn_new(e, 1, 0);
	b->running = 5;
	RUN_UNTIL(e, a->closed && count_ev(e, VSN_CTL_EV_CONNECTED, "node1") == 2, 3000);
	assert_int_equal(a->closed, 1);
	assert_int_equal(last_ev(e, VSN_CTL_EV_DISCONNECTED, "node1")->err, -ECONNABORTED);
	assert_non_null(strstr(last_ev(e, VSN_CTL_EV_DISCONNECTED, "node1")->reason, "replaced"));
	run_for(e, 100);
	assert_int_equal(b->closed, 0);
	assert_int_equal(b->msgs, 0); /* in sync: nothing sent */
	assert_true(status(e, "node1").connected);
	assert_int_equal(count_ev(e, VSN_CTL_EV_DISCONNECTED, "node1"), 1);
}

static void test_stats(void **state)
{
	struct env *e = *state;
	struct fnode *f;
	struct st_copy st;

	start(e, NULL);
	f = fn_new(e, 0, 0);
	f->send_stats = true;
	f->running = 3;
	RUN_UNTIL(e, has_stats(e, "node1"), 3000);
	st = status(e, "node1");
	assert_true(st.has_stats);
	assert_int_equal(st.n_services, 1);
	assert_int_equal(st.svc_packets, 1000);
	assert_int_equal(st.running, 3);
	assert_int_equal(st.sync, VSN_CTL_SYNC_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_push_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nack_not_resent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_nack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollout_not_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slb_broadcast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
