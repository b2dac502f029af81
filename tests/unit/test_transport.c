/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsntransport over loopback: a CA and certificates made with libvsntls in a temporary
 * directory, a server and clients on one event_base exchanging envelopes; the refusals (a
 * certificate of another CA, none at all), frames a hostile peer sends (oversize, another
 * version), and a 100,000-policy PolicySet in chunks.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "chunk.h"
#include "conn.h"
#include "frame.h"
#include "vsn_tls.h"
#include "cert_dir.h"

/* One end of a connection, as its callbacks saw it. */
struct side {
	struct vsn_conn *c; /* NULL once closed */
	int ready, msgs, closed, close_err;
	char peer[VSN_TLS_NAME_MAX + 1];
	char why[512];
	int acked;
	char hello_node[64];
	struct vsn_reasm reasm;
	Vsn__PolicySet *set;
};

struct env {
	char dir[64];
	struct event_base *base;
	SSL_CTX *srv, *cli, *other, *nocert;
	struct vsn_listener *l;
	char addr[64];
	struct side server[4];
	int n_server;
};

static char *path(const struct env *e, const char *rel)
{
	return cert_path(e->dir, rel);
}

static void on_ready(struct vsn_conn *c, const char *peer, void *arg)
{
	struct side *s = arg;

	s->ready++;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
}

static void on_close(struct vsn_conn *c, int err, const char *why, void *arg)
{
	struct side *s = arg;

	s->closed++;
	s->close_err = err;
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->c = NULL;
}

static void send_ack(struct side *s, uint64_t gen)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Ack ack = VSN__ACK__INIT;

	ack.generation = gen;
	env.msg_case = VSN__ENVELOPE__MSG_ACK;
	env.ack = &ack;
	assert_int_equal(vsn_conn_send(s->c, &env), 0);
}

/* The server: answers Hello with Ack 7, and a reassembled PolicySet with Ack of its generation. */
static void server_msg(struct vsn_conn *c, Vsn__Envelope *msg, void *arg)
{
	struct side *s = arg;
	int r;

	s->msgs++;
	if (msg->msg_case == VSN__ENVELOPE__MSG_HELLO) {
		snprintf(s->hello_node, sizeof(s->hello_node), "%s", msg->hello->node);
		send_ack(s, 7);
	} else if (msg->msg_case == VSN__ENVELOPE__MSG_CHUNK) {
		r = vsn_reasm_add(&s->reasm, msg->chunk, &s->set);
		assert_true(r >= 0);
		if (r == 1)
			send_ack(s, s->set->generation);
	}
}

static void on_conn(struct vsn_listener *l, struct vsn_conn *c, void *arg)
{
	struct env *e = arg;
	struct side *s = &e->server[e->n_server++];
	struct vsn_conn_cbs cbs = {on_ready, server_msg, on_close};

	assert_true(e->n_server <= 4);
	s->c = c;
	vsn_reasm_init(&s->reasm, 0, 0);
	vsn_conn_set_cbs(c, &cbs, s);
}

/* The client: sends Hello once ready, and counts Acks. */
static void client_ready(struct vsn_conn *c, const char *peer, void *arg)
{
	Vsn__Envelope env = VSN__ENVELOPE__INIT;
	Vsn__Hello hello = VSN__HELLO__INIT;

	on_ready(c, peer, arg);
	hello.node = "node1";
	hello.protocol_version = VSN_PROTO_VERSION;
	env.msg_case = VSN__ENVELOPE__MSG_HELLO;
	env.hello = &hello;
	assert_int_equal(vsn_conn_send(c, &env), 0);
}

static void client_msg(struct vsn_conn *c, Vsn__Envelope *msg, void *arg)
{
	struct side *s = arg;

	s->msgs++;
	if (msg->msg_case == VSN__ENVELOPE__MSG_ACK)
		s->acked = (int)msg->ack->generation;
}

static const struct vsn_conn_cbs client_cbs = {client_ready, client_msg, on_close};

/* Run the loop until *flag turns non-zero (or 5 s pass: the test then fails on its asserts). */
static void run_until(struct env *e, const int *a, const int *b)
{
	time_t end = time(NULL) + 5;

	while (!(*a && (!b || *b)) && time(NULL) < end) {
		struct timeval tv = {0, 20000};

		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
	}
}

static void issue(const struct env *e, const char *ca, const char *out, enum vsn_tls_role role,
		  const char *name)
{
	cert_issue(e->dir, ca, out, role, name);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vsn_tls_err err = {""};

	strcpy(e->dir, "/tmp/vsn-test-transport.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	assert_int_equal(vsn_ca_create(path(e, "ca"), "test-ca", 1, &err), 0);
	assert_int_equal(vsn_ca_create(path(e, "other"), "other-ca", 1, &err), 0);
	issue(e, "ca", "ctl", VSN_TLS_CONTROLLER, "vsnd");
	issue(e, "ca", "n1", VSN_TLS_NODE, "node1");
	issue(e, "other", "other-n1", VSN_TLS_NODE, "node1");
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_CONTROLLER, path(e, "ctl/ca.crt"),
					 path(e, "ctl/vsnd.crt"), path(e, "ctl/vsnd.key"), &e->srv,
					 &err),
			 0);
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_NODE, path(e, "n1/ca.crt"),
					 path(e, "n1/node1.crt"), path(e, "n1/node1.key"), &e->cli,
					 &err),
			 0);
	/* It trusts the right CA but presents a certificate of another. */
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_NODE, path(e, "n1/ca.crt"),
					 path(e, "other-n1/node1.crt"),
					 path(e, "other-n1/node1.key"), &e->other, &err),
			 0);
	e->nocert = SSL_CTX_new(TLS_client_method());
	assert_non_null(e->nocert);
	SSL_CTX_set_min_proto_version(e->nocert, TLS1_3_VERSION);
	e->base = event_base_new();
	assert_non_null(e->base);
	assert_int_equal(vsn_listener_new(e->base, "127.0.0.1:0", e->srv, on_conn, e, &e->l), 0);
	snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%d", vsn_listener_port(e->l));
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	for (int i = 0; i < e->n_server; i++) {
		vsn_conn_close(e->server[i].c);
		vsn_reasm_fini(&e->server[i].reasm);
		if (e->server[i].set)
			vsn__policy_set__free_unpacked(e->server[i].set, NULL);
	}
	vsn_listener_free(e->l);
	event_base_free(e->base);
	SSL_CTX_free(e->srv);
	SSL_CTX_free(e->cli);
	SSL_CTX_free(e->other);
	SSL_CTX_free(e->nocert);
	cert_dir_remove(e->dir);
	free(e);
	return 0;
}

static void test_hello_ack(void **state)
{
	struct env *e = *state;
	struct side cl = {0};

	assert_int_equal(vsn_conn_connect(e->base, e->addr, e->cli, 3000, &client_cbs, &cl, &cl.c),
			 0);
	run_until(e, &cl.acked, NULL);
	assert_int_equal(cl.ready, 1);
	assert_string_equal(cl.peer, "vsnd");
	assert_int_equal(e->n_server, 1);
	assert_int_equal(e->server[0].ready, 1);
	assert_string_equal(e->server[0].peer, "node1");
	assert_string_equal(vsn_conn_peer_name(e->server[0].c), "node1");
	assert_string_equal(e->server[0].hello_node, "node1");
	assert_int_equal(cl.acked, 7);
	assert_int_equal(cl.msgs, 1);
	assert_int_equal(cl.closed + e->server[0].closed, 0);

	/* The client leaves: the server hears of it. */
	vsn_conn_close(cl.c);
	run_until(e, &e->server[0].closed, NULL);
	assert_int_equal(e->server[0].close_err, -ECONNRESET);
	assert_int_equal(cl.closed, 0);
}

static void refused(struct env *e, SSL_CTX *ctx, const char *server_why)
{
	struct side cl = {0};

	assert_int_equal(vsn_conn_connect(e->base, e->addr, ctx, 3000, &client_cbs, &cl, &cl.c), 0);
	run_until(e, &cl.closed, &e->server[0].closed);
	assert_int_equal(cl.closed, 1);
	assert_int_equal(cl.close_err, -EACCES);
	assert_int_equal(cl.ready + cl.msgs, 0);
	print_message("client: %s\n", cl.why);
	assert_int_equal(e->n_server, 1);
	assert_int_equal(e->server[0].closed, 1);
	assert_int_equal(e->server[0].close_err, -EACCES);
	assert_int_equal(e->server[0].ready + e->server[0].msgs, 0);
	print_message("server: %s\n", e->server[0].why);
	assert_non_null(strstr(e->server[0].why, server_why));
}

static void test_other_ca_refused(void **state)
{
	refused(*state, ((struct env *)*state)->other, "certificate verify failed");
}

static void test_no_cert_refused(void **state)
{
	refused(*state, ((struct env *)*state)->nocert, "did not return a certificate");
}

/* Nothing listens: the client hears that its connect was refused, not of a TLS peer. */
static void test_connect_refused(void **state)
{
	struct env *e = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	struct side cl = {0};
	char addr[32];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port just bound and closed: nothing listens there. */
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	assert_int_equal(vsn_conn_connect(e->base, addr, e->cli, 3000, &client_cbs, &cl, &cl.c), 0);
	run_until(e, &cl.closed, NULL);
	print_message("client: %s\n", cl.why);
	assert_int_equal(cl.close_err, -ECONNREFUSED);
	assert_non_null(strstr(cl.why, "refused"));
}

/* A raw TLS client (a valid node certificate) that writes bytes of its own once connected. */
struct raw {
	const uint8_t *bytes;
	size_t len;
	int done;
};

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
	struct raw *r = arg;

	if (what & BEV_EVENT_CONNECTED)
		bufferevent_write(bev, r->bytes, r->len);
	else
		r->done = 1;
}

static void raw_send(struct env *e, const uint8_t *bytes, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct raw r = {bytes, len, 0};
	struct bufferevent *bev;

	sin.sin_port = htons(vsn_listener_port(e->l));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bev = bufferevent_openssl_socket_new(e->base, -1, SSL_new(e->cli),
					     BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(bev);
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, NULL, NULL, raw_event, &r);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof(sin)), 0);
	run_until(e, &e->server[0].closed, NULL);
	bufferevent_free(bev);
	assert_int_equal(e->n_server, 1);
	assert_int_equal(e->server[0].ready, 1);
	assert_int_equal(e->server[0].msgs, 0);
	assert_int_equal(e->server[0].closed, 1);
	print_message("server: %s\n", e->server[0].why);
}

static void test_oversize(void **state)
{
	struct env *e = *state;
	uint8_t hdr[5] = {0, 0x50, 0, 0, VSN_PROTO_VERSION}; /* 5 MiB */

	raw_send(e, hdr, sizeof(hdr));
	assert_int_equal(e->server[0].close_err, -EMSGSIZE);
}

static void test_bad_version(void **state)
{
	struct env *e = *state;
	uint8_t frame[5] = {0, 0, 0, 1, VSN_PROTO_VERSION + 1};

	raw_send(e, frame, sizeof(frame));
	assert_int_equal(e->server[0].close_err, -EPROTONOSUPPORT);
}

static void test_policyset_chunks(void **state)
{
	struct env *e = *state;
	enum { N = 100000 };
	Vsn__PolicySet ps = VSN__POLICY_SET__INIT;
	Vsn__Policy *pol = calloc(N, sizeof(*pol));
	Vsn__Policy **pp = calloc(N, sizeof(*pp));
	uint32_t *vips = calloc(N, sizeof(*vips));
	struct side cl = {0};
	struct vsn_chunks ch;
	uint8_t *buf;
	size_t len;

	assert_non_null(pol);
	assert_non_null(pp);
	assert_non_null(vips);
	for (int i = 0; i < N; i++) {
		vsn__policy__init(&pol[i]);
		vips[i] = htonl(0x0a000000u + i);
		pol[i].family = VSN__FAMILY__FAMILY_IPV4;
		pol[i].vip.data = (uint8_t *)&vips[i];
		pol[i].vip.len = 4;
		pol[i].proto = 6;
		pol[i].port = 443;
		pol[i].slb_id = 1;
		pol[i].policy_id = i + 1;
		pp[i] = &pol[i];
	}
	ps.generation = 99;
	ps.n_policies = N;
	ps.policies = pp;
	len = vsn__policy_set__get_packed_size(&ps);
	buf = malloc(len);
	assert_non_null(buf);
	vsn__policy_set__pack(&ps, buf);
	assert_int_equal(vsn_chunks_split(99, buf, len, 256u << 10, &ch), 0);
	assert_true(ch.n > 1);

	assert_int_equal(vsn_conn_connect(e->base, e->addr, e->cli, 3000, &client_cbs, &cl, &cl.c),
			 0);
	run_until(e, &cl.acked, NULL); /* Hello answered */
	assert_int_equal(cl.acked, 7);
	for (size_t i = 0; i < ch.n; i++) {
		Vsn__Envelope env = VSN__ENVELOPE__INIT;

		env.msg_case = VSN__ENVELOPE__MSG_CHUNK;
		env.chunk = &ch.chunk[i];
		assert_int_equal(vsn_conn_send(cl.c, &env), 0);
	}
	cl.acked = 0;
	run_until(e, &cl.acked, NULL);
	assert_int_equal(cl.acked, 99);
	assert_non_null(e->server[0].set);
	assert_int_equal(e->server[0].set->n_policies, N);
	assert_int_equal(e->server[0].set->policies[N - 1]->policy_id, N);
	assert_int_equal(e->server[0].msgs, 1 + (int)ch.n);
	assert_int_equal(cl.closed + e->server[0].closed, 0);
	vsn_conn_close(cl.c);
	vsn_chunks_free(&ch);
	free(buf);
	free(vips);
	free(pp);
	free(pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_ca_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_cert_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policyset_chunks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
