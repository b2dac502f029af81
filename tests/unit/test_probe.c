/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnprobe on a real loop over loopback: probes against listeners of the test's own (one that
 * accepts, a closed port, an HTTP server answering a script of statuses, one that never
 * answers, an HTTPS server with a certificate of libvsntls), checking the rise and fall
 * sequences, timeouts, TLS verification, replacing and removing probes, 1,000 probes with
 * jittered starts; then load scrapes fetched from those servers.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "vsn_probe.h"
#include "vsn_scrape.h"
#include "vsn_tls.h"
#include "cert_dir.h"

#define MAX_CHANGES 64
#define MAX_STATUSES 16

struct sconn {
	struct sconn *next, **pprev;
	struct bufferevent *bev;
	struct srv *s;
};

/* A test server on the loop: accepts, reads a request, answers per its script. */
struct srv {
	struct sconn *conns; /* open, freed by srv_close */
	struct evconnlistener *l;
	SSL_CTX *ssl; /* NULL: plain */
	int port;
	char addr[32];		    /* "127.0.0.1:PORT" */
	int statuses[MAX_STATUSES]; /* of the requests in turn; the last repeats; 0: 200 */
	int n_statuses;
	const char *body;
	bool no_length;	   /* no Content-Length: the body ends with the connection */
	bool chunked;	   /* Transfer-Encoding: chunked, whatever the request's version */
	bool silent;	   /* never answer */
	const char *greet; /* say this at once and close, whatever comes (not TLS) */
	int accepted, requests, resumed;
	char last_request[512];
};

struct change {
	char name[64];
	enum vsn_health old_state, new_state;
	char reason[VSN_PROBE_REASON_MAX];
	int requests; /* the watched server's requests when it came */
	uint64_t results;
	uint64_t at_ms;
};

struct env {
	char dir[64];
	struct event_base *base;
	struct vsn_prober *p;
	struct vsn_scraper *s;
	struct srv *watch;
	struct change changes[MAX_CHANGES];
	int n_changes, n_all_changes;
	uint64_t start_ms;
	int spread[4]; /* changes in each quarter of test_many_jittered's interval */
	int n_loads;
	struct vsn_load_status load;
	char load_name[64];
	bool remove_in_cb; /* the change callback removes its probe, and "a" and "b" */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until *counter reaches n, or max_ms pass (the test then fails on its asserts). */
static void run_until(struct env *e, const int *counter, int n, unsigned int max_ms)
{
	uint64_t end = mono_ms() + max_ms;

	while ((!counter || *counter < n) && mono_ms() < end) {
		struct timeval tv = {0, 5000};

		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
	}
}

static void run_for(struct env *e, unsigned int ms)
{
	run_until(e, NULL, 0, ms);
}

/* ---- The test server ---- */

static void sconn_free(struct sconn *c)
{
	bufferevent_free(c->bev);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	free(c);
}

static void sconn_written(struct bufferevent *bev, void *arg)
{
	if (!evbuffer_get_length(bufferevent_get_output(bev)))
		sconn_free(arg);
}

static void sconn_event(struct bufferevent *bev, short what, void *arg)
{
	struct sconn *c = arg;
	struct srv *s = c->s;

	if (what & BEV_EVENT_CONNECTED) {
		if (s->ssl && SSL_session_reused(bufferevent_openssl_get_ssl(bev)))
			s->resumed++;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		sconn_free(c);
}

static void sconn_read(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;
	struct srv *s = c->s;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	size_t n = evbuffer_get_length(in);
	const char *body = s->body ? s->body : "ok\n";
	int st;

	if (end.pos < 0)
		return;
	if (n >= sizeof(s->last_request))
		n = sizeof(s->last_request) - 1;
	evbuffer_copyout(in, s->last_request, n);
	s->last_request[n] = '\0';
	evbuffer_drain(in, evbuffer_get_length(in));
	s->requests++;
	if (s->silent)
		return;
	st = s->n_statuses ? s->statuses[s->requests <= s->n_statuses ? s->requests - 1
								      : s->n_statuses - 1]
			   : 200;
	evbuffer_add_printf(bufferevent_get_output(bev),
			    "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n", st);
	if (s->chunked) {
		/* As HAProxy's stats page answers even HTTP/1.0: 16-byte chunks, an extension. */
		struct evbuffer *out = bufferevent_get_output(bev);
		size_t len = strlen(body);

		evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
		for (size_t i = 0; i < len; i += 16) {
			size_t k = len - i < 16 ? len - i : 16;

			evbuffer_add_printf(out, "%zx%s\r\n", k, i ? "" : ";x=y");
			evbuffer_add(out, body + i, k);
			evbuffer_add(out, "\r\n", 2);
		}
		evbuffer_add_printf(out, "0\r\nX-Trailer: 1\r\n\r\n");
		bufferevent_setcb(bev, NULL, sconn_written, sconn_event, c);
		return;
	}
	if (!s->no_length)
		evbuffer_add_printf(bufferevent_get_output(bev), "Content-Length: %zu\r\n",
				    strlen(body));
	evbuffer_add_printf(bufferevent_get_output(bev), "Connection: close\r\n\r\n%s", body);
	bufferevent_setcb(bev, NULL, sconn_written, sconn_event, c);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		       void *arg)
{
	struct srv *s = arg;
	struct event_base *base = evconnlistener_get_base(l);
	struct sconn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	s->accepted++;
	evutil_make_socket_nonblocking(fd);
	if (s->ssl && !s->greet)
		c->bev = bufferevent_openssl_socket_new(base, fd, SSL_new(s->ssl),
							BUFFEREVENT_SSL_ACCEPTING,
							BEV_OPT_CLOSE_ON_FREE);
	else
		c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(c->bev);
	c->s = s;
	c->next = s->conns;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &s->conns;
	s->conns = c;
	if (s->greet) {
		bufferevent_write(c->bev, s->greet, strlen(s->greet));
		bufferevent_setcb(c->bev, NULL, sconn_written, sconn_event, c);
	} else {
		bufferevent_setcb(c->bev, sconn_read, NULL, sconn_event, c);
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Listen on 127.0.0.1:port (0: any). */
static void srv_listen(struct env *e, struct srv *s, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in got;
	socklen_t len = sizeof(got);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->l = evconnlistener_new_bind(e->base, srv_accept, s,
				       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
				       (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(s->l);
	assert_int_equal(getsockname(evconnlistener_get_fd(s->l), (struct sockaddr *)&got, &len),
			 0);
	s->port = ntohs(got.sin_port);
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", s->port);
}

/* Stop listening, close every connection. */
static void srv_close(struct srv *s)
{
	if (s->l)
		evconnlistener_free(s->l);
	s->l = NULL;
	while (s->conns)
		sconn_free(s->conns);
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* ---- The environment ---- */

static void on_change(struct vsn_prober *p, const struct vsn_probe_change *ch, void *arg)
{
	struct env *e = arg;
	struct vsn_probe_status st;
	struct change *c;

	e->n_all_changes++;
	if (e->start_ms && mono_ms() - e->start_ms < 400)
		e->spread[(mono_ms() - e->start_ms) / 100]++;
	if (e->remove_in_cb) {
		assert_int_equal(vsn_prober_remove(p, ch->name), 0);
		vsn_prober_remove(p, "a");
		vsn_prober_remove(p, "b");
		/* What the callback was given stays readable. */
		assert_string_equal(ch->reason, "connect refused");
		return;
	}
	if (e->n_changes == MAX_CHANGES)
		return;
	c = &e->changes[e->n_changes++];
	snprintf(c->name, sizeof(c->name), "%s", ch->name);
	c->old_state = ch->old_state;
	c->new_state = ch->new_state;
	snprintf(c->reason, sizeof(c->reason), "%s", ch->reason);
	c->requests = e->watch ? e->watch->requests : 0;
	assert_int_equal(vsn_prober_get(p, ch->name, &st), 0);
	assert_int_equal(st.state, ch->new_state);
	c->results = st.results;
	c->at_ms = mono_ms();
}

static void on_load(struct vsn_scraper *s, const char *name, const struct vsn_load_status *st,
		    void *arg)
{
	struct env *e = arg;

	e->n_loads++;
	e->load = *st;
	snprintf(e->load_name, sizeof(e->load_name), "%s", name);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->base = event_base_new();
	assert_non_null(e->base);
	assert_int_equal(vsn_prober_new(e->base, on_change, e, &e->p), 0);
	assert_int_equal(vsn_scraper_new(e->base, on_load, e, &e->s), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	vsn_prober_free(e->p);
	vsn_scraper_free(e->s);
	event_base_free(e->base);
	if (e->dir[0])
		cert_dir_remove(e->dir);
	free(e);
	return 0;
}

static struct vsn_probe_opts popts(const char *name, const char *target, enum vsn_probe_kind kind)
{
	return (struct vsn_probe_opts){
		.sz = sizeof(struct vsn_probe_opts),
		.name = name,
		.target = target,
		.kind = kind,
		.interval_ms = 30,
		.timeout_ms = 25,
	};
}

static void set_probe(struct env *e, const struct vsn_probe_opts *o)
{
	struct vsn_probe_err err = {""};

	if (vsn_prober_set(e->p, o, &err))
		fail_msg("vsn_prober_set: %s", err.msg);
}

static void change_is(const struct change *c, enum vsn_health old, enum vsn_health new,
		      const char *reason)
{
	assert_int_equal(c->old_state, old);
	assert_int_equal(c->new_state, new);
	if (strncmp(c->reason, reason, strlen(reason)))
		fail_msg("reason \"%s\", not \"%s...\"", c->reason, reason);
}

/* ---- Probes ---- */

/* 200, 503, 200, 503, 503, 200, 200 with rise 2, fall 2: up at 1, down at 5, up at 7. */
static void test_http_rise_fall(void **state)
{
	struct env *e = *state;
	struct srv s = {.statuses = {200, 503, 200, 503, 503, 200, 200}, .n_statuses = 7};
	struct vsn_probe_opts o;

	srv_listen(e, &s, 0);
	e->watch = &s;
	o = popts("slb-a", s.addr, VSN_PROBE_HTTP);
	o.path = "/healthz";
	set_probe(e, &o);
	run_until(e, &e->n_changes, 3, 3000);
	assert_int_equal(e->n_changes, 3);
	change_is(&e->changes[0], VSN_HEALTH_UNKNOWN, VSN_HEALTH_UP, "HTTP 200");
	assert_int_equal(e->changes[0].requests, 1);
	change_is(&e->changes[1], VSN_HEALTH_UP, VSN_HEALTH_DOWN, "HTTP 503, expected 200");
	assert_int_equal(e->changes[1].requests, 5);
	change_is(&e->changes[2], VSN_HEALTH_DOWN, VSN_HEALTH_UP, "HTTP 200");
	assert_int_equal(e->changes[2].requests, 7);
	assert_string_equal(e->changes[2].name, "slb-a");
	/* The request: HTTP/1.0, the path, Host with the port. */
	assert_int_equal(strncmp(s.last_request, "GET /healthz HTTP/1.0\r\n", 23), 0);
	assert_non_null(strstr(s.last_request, "\r\nHost: 127.0.0.1:"));
	/* No more changes while it stays up. */
	run_for(e, 150);
	assert_int_equal(e->n_changes, 3);
	srv_close(&s);
}

/* TCP: up at the first connect; the listener closed: down after exactly fall refusals; a new
 * listener on the port: up after exactly rise connects. */
static void test_tcp_fall_rise(void **state)
{
	struct env *e = *state;
	struct srv s = {.silent = true};
	struct vsn_probe_status st;
	struct vsn_probe_opts o;
	uint64_t at_close, at_open;
	int port;

	srv_listen(e, &s, 0);
	port = s.port;
	o = popts("slb-t", s.addr, VSN_PROBE_TCP);
	o.rise = 2;
	o.fall = 3;
	set_probe(e, &o);
	run_until(e, &e->n_changes, 1, 2000);
	assert_int_equal(e->n_changes, 1);
	change_is(&e->changes[0], VSN_HEALTH_UNKNOWN, VSN_HEALTH_UP, "connected");
	assert_int_equal(e->changes[0].results, 1);
	assert_true(s.accepted >= 1);

	srv_close(&s);
	assert_int_equal(vsn_prober_get(e->p, "slb-t", &st), 0);
	at_close = st.results;
	run_until(e, &e->n_changes, 2, 2000);
	assert_int_equal(e->n_changes, 2);
	change_is(&e->changes[1], VSN_HEALTH_UP, VSN_HEALTH_DOWN, "connect refused");
	assert_int_equal(e->changes[1].results - at_close, 3);

	srv_listen(e, &s, port);
	assert_int_equal(vsn_prober_get(e->p, "slb-t", &st), 0);
	at_open = st.results;
	run_until(e, &e->n_changes, 3, 2000);
	assert_int_equal(e->n_changes, 3);
	change_is(&e->changes[2], VSN_HEALTH_DOWN, VSN_HEALTH_UP, "connected");
	assert_int_equal(e->changes[2].results - at_open, 2);
	assert_int_equal(vsn_prober_get(e->p, "slb-t", &st), 0);
	assert_int_equal(st.local_errors, 0);
	srv_close(&s);
}

/* Nothing listens: the first result takes the probe from unknown to down. */
static void test_refused(void **state)
{
	struct env *e = *state;
	struct vsn_probe_status st;
	struct vsn_probe_opts o;
	char target[32];

	snprintf(target, sizeof(target), "127.0.0.1:%d", closed_port());
	o = popts("gone", target, VSN_PROBE_HTTP);
	set_probe(e, &o);
	assert_int_equal(vsn_prober_get(e->p, "gone", &st), 0);
	assert_int_equal(st.state, VSN_HEALTH_UNKNOWN);
	run_until(e, &e->n_changes, 1, 2000);
	assert_int_equal(e->n_changes, 1);
	change_is(&e->changes[0], VSN_HEALTH_UNKNOWN, VSN_HEALTH_DOWN, "connect refused");
	assert_string_equal(e->changes[0].name, "gone");
	run_for(e, 100);
	assert_int_equal(e->n_changes, 1);
	assert_int_equal(vsn_prober_get(e->p, "gone", &st), 0);
	assert_true(st.failures >= 2);
	assert_int_equal(st.successes, 0);
	assert_false(st.last_ok);
}

/* Accepts, never answers: down on the timeout, which fires on time. */
static void test_timeout(void **state)
{
	struct env *e = *state;
	struct srv s = {.silent = true};
	struct vsn_probe_status st;
	struct vsn_probe_opts o;

	srv_listen(e, &s, 0);
	o = popts("mute", s.addr, VSN_PROBE_HTTP);
	o.interval_ms = 300;
	o.timeout_ms = 100;
	set_probe(e, &o);
	run_until(e, &e->n_changes, 1, 2000);
	assert_int_equal(e->n_changes, 1);
	change_is(&e->changes[0], VSN_HEALTH_UNKNOWN, VSN_HEALTH_DOWN,
		  "timeout after 100 ms (waiting for the response)");
	assert_int_equal(vsn_prober_get(e->p, "mute", &st), 0);
	if (!(st.last_ms >= 100 && st.last_ms < 250))
		fail_msg("last_ms %u", st.last_ms);
	assert_int_equal(s.requests, 1);
	srv_close(&s);
}

/* A CA, a server certificate for slb-a and 127.0.0.1, another CA; a TLS server with it. */
static void tls_server(struct env *e, struct srv *s)
{
	const char *ips[] = {"127.0.0.1"};
	struct vsn_cert_opts co = {.sz = sizeof(co),
				   .role = VSN_TLS_NODE,
				   .name = "slb-a",
				   .days = 1,
				   .ips = ips,
				   .n_ips = 1};
	struct vsn_tls_err err = {""};

	strcpy(e->dir, "/tmp/vsn-test-probe.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	assert_int_equal(vsn_ca_create(cert_path(e->dir, "ca"), "test-ca", 1, &err), 0);
	assert_int_equal(vsn_ca_create(cert_path(e->dir, "other"), "other-ca", 1, &err), 0);
	assert_int_equal(
		vsn_cert_issue(cert_path(e->dir, "ca"), cert_path(e->dir, "srv"), &co, &err), 0);
	s->ssl = SSL_CTX_new(TLS_server_method());
	assert_non_null(s->ssl);
	assert_int_equal(
		SSL_CTX_use_certificate_chain_file(s->ssl, cert_path(e->dir, "srv/slb-a.crt")), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ssl, cert_path(e->dir, "srv/slb-a.key"),
						     SSL_FILETYPE_PEM),
			 1);
	srv_listen(e, s, 0);
}

static struct change *change_of(struct env *e, const char *name)
{
	int i;

	for (i = 0; i < e->n_changes; i++)
		if (!strcmp(e->changes[i].name, name))
			return &e->changes[i];
	fail_msg("no change of %s", name);
	return NULL;
}

static void test_https(void **state)
{
	struct env *e = *state;
	struct srv s = {0}, plain = {.greet = "HTTP/1.1 400 Bad Request\r\n\r\n"};
	struct srv mute = {.silent = true};
	struct vsn_probe_opts o;

	tls_server(e, &s);
	srv_listen(e, &plain, 0);
	srv_listen(e, &mute, 0);
	/* No verification. */
	o = popts("none", s.addr, VSN_PROBE_HTTPS);
	set_probe(e, &o);
	/* Verified: by the name in Host, and by the address in the IP SAN. */
	o.ca_file = cert_path(e->dir, "ca/ca.crt");
	o.name = "by-name";
	o.host = "slb-a";
	set_probe(e, &o);
	o.name = "by-ip";
	o.host = NULL;
	set_probe(e, &o);
	/* Refused: another CA, another name, TLS to a plain HTTP server. */
	o.name = "other-ca";
	o.ca_file = cert_path(e->dir, "other/ca.crt");
	set_probe(e, &o);
	o.name = "other-name";
	o.ca_file = cert_path(e->dir, "ca/ca.crt");
	o.host = "slb-b";
	set_probe(e, &o);
	o = popts("not-tls", plain.addr, VSN_PROBE_HTTPS);
	set_probe(e, &o);
	o = popts("mute-tls", mute.addr, VSN_PROBE_HTTPS);
	set_probe(e, &o);
	run_until(e, &e->n_changes, 7, 3000);
	assert_int_equal(e->n_changes, 7);
	change_is(change_of(e, "none"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_UP, "HTTP 200");
	change_is(change_of(e, "by-name"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_UP, "HTTP 200");
	change_is(change_of(e, "by-ip"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_UP, "HTTP 200");
	change_is(change_of(e, "other-ca"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_DOWN,
		  "TLS handshake failed: certificate verify failed: unable to get local issuer");
	change_is(change_of(e, "other-name"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_DOWN,
		  "TLS handshake failed: certificate verify failed: hostname mismatch");
	change_is(change_of(e, "not-tls"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_DOWN,
		  "TLS handshake failed: ");
	change_is(change_of(e, "mute-tls"), VSN_HEALTH_UNKNOWN, VSN_HEALTH_DOWN,
		  "timeout after 25 ms (in the TLS handshake)");
	/* Later handshakes resume the session of an earlier one. */
	run_for(e, 150);
	assert_true(s.resumed > 0);
	assert_int_equal(e->n_changes, 7);
	srv_close(&s);
	srv_close(&plain);
	srv_close(&mute);
	SSL_CTX_free(s.ssl);
}

/* Options refused: a field of popts("x", "127.0.0.1:80", HTTP) set to a value; what is said. */
static const struct bad_opt {
	const char *field, *value;
	int r;
	const char *msg;
} bad_opts[] = {
	{"name", "", -EINVAL, "a name of 1 to"},
	{"target", "localhost:80", -EINVAL, "probe x: target localhost:80 is not ADDRESS:PORT"},
	{"target", "127.0.0.1:0", -EINVAL, "target"},
	{"target", "::1:80", -EINVAL, "target"},
	{"target", "[127.0.0.1]:80", -EINVAL, "target"},
	{"kind", "0", -EINVAL, "unknown kind"},
	{"timeout_ms", "31", -EINVAL, "timeout 31 ms is over the interval of 30 ms"},
	{"interval_ms", "5", -EINVAL, "interval 5 ms"},
	{"path", "healthz", -EINVAL, "path must start with /"},
	{"path", "/a b", -EINVAL, "path"},
	{"host", "a\r\nX: y", -EINVAL, "host must be"},
	{"expect", "42", -EINVAL, "expect 42"},
	{"fall", "101", -EINVAL, "rise and fall"},
	{"https_ca", "/nonexistent/ca.crt", -ENOENT, "CA file /nonexistent/ca.crt"},
	{"https_ca", "/etc/passwd", -EINVAL, "no PEM certificate"},
	{"sz", "8", -EINVAL, "options of an unknown size"},
};

static void set_field(struct vsn_probe_opts *o, const char *field, const char *value)
{
	unsigned int n = (unsigned int)strtoul(value, NULL, 10);

	if (!strcmp(field, "name"))
		o->name = value;
	else if (!strcmp(field, "target"))
		o->target = value;
	else if (!strcmp(field, "path"))
		o->path = value;
	else if (!strcmp(field, "host"))
		o->host = value;
	else if (!strcmp(field, "https_ca"))
		o->kind = VSN_PROBE_HTTPS, o->ca_file = value;
	else if (!strcmp(field, "kind"))
		o->kind = n;
	else if (!strcmp(field, "timeout_ms"))
		o->timeout_ms = n;
	else if (!strcmp(field, "interval_ms"))
		o->interval_ms = n;
	else if (!strcmp(field, "expect"))
		o->expect = n;
	else if (!strcmp(field, "fall"))
		o->fall = n;
	else
		o->sz = n;
}

static void test_invalid(void **state)
{
	struct env *e = *state;
	struct vsn_probe_err err;
	struct vsn_probe_opts o;
	size_t i;

	for (i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
		const struct bad_opt *b = &bad_opts[i];

		o = popts("x", "127.0.0.1:80", VSN_PROBE_HTTP);
		set_field(&o, b->field, b->value);
		err.msg[0] = '\0';
		assert_int_equal(vsn_prober_set(e->p, &o, &err), b->r);
		if (!strstr(err.msg, b->msg))
			fail_msg("%s=%s: \"%s\" does not say \"%s\"", b->field, b->value, err.msg,
				 b->msg);
	}
	assert_int_equal(vsn_prober_count(e->p), 0);
	/* An IPv6 target and the defaults. */
	o = popts("x", "[::1]:8080", VSN_PROBE_HTTP);
	o.interval_ms = o.timeout_ms = 0;
	set_probe(e, &o);
	assert_int_equal(vsn_prober_count(e->p), 1);
}

/* Set again unchanged, with other timings, with another path; remove. */
static void test_replace_remove(void **state)
{
	struct env *e = *state;
	struct srv s = {0};
	struct vsn_probe_status st, st2;
	struct vsn_probe_opts o;

	srv_listen(e, &s, 0);
	o = popts("slb-r", s.addr, VSN_PROBE_HTTP);
	set_probe(e, &o);
	run_until(e, &e->n_changes, 1, 2000);
	run_for(e, 100);
	assert_int_equal(vsn_prober_get(e->p, "slb-r", &st), 0);
	assert_int_equal(st.state, VSN_HEALTH_UP);
	assert_true(st.successes >= 2);
	/* The same again, and other timings: nothing starts over. */
	set_probe(e, &o);
	o.interval_ms = 40;
	o.rise = 5;
	set_probe(e, &o);
	assert_int_equal(vsn_prober_get(e->p, "slb-r", &st2), 0);
	assert_int_equal(st2.successes, st.successes);
	assert_int_equal(st2.results, st.results);
	/* Another path: the counters start again, the state stays. */
	o.path = "/other";
	set_probe(e, &o);
	assert_int_equal(vsn_prober_get(e->p, "slb-r", &st2), 0);
	assert_int_equal(st2.successes, 0);
	assert_int_equal(st2.state, VSN_HEALTH_UP);
	run_for(e, 150);
	assert_non_null(strstr(s.last_request, "GET /other "));
	assert_int_equal(e->n_changes, 1);
	/* Removed: no more requests. */
	assert_int_equal(vsn_prober_remove(e->p, "slb-r"), 0);
	assert_int_equal(vsn_prober_remove(e->p, "slb-r"), -ENOENT);
	assert_int_equal(vsn_prober_get(e->p, "slb-r", &st2), -ENOENT);
	assert_int_equal(vsn_prober_count(e->p), 0);
	run_for(e, 20);
	st.results = s.requests;
	run_for(e, 150);
	assert_int_equal(s.requests, (int)st.results);
	srv_close(&s);
}

/* 1,000 probes of one listener, set at once: their first probes spread over the interval. */
static void test_many_jittered(void **state)
{
	struct env *e = *state;
	struct srv s = {.silent = true};
	struct vsn_probe_opts o;
	char name[32];
	int i, n = 1000;

	srv_listen(e, &s, 0);
	e->start_ms = mono_ms();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "slb-%d", i);
		o = popts(name, s.addr, VSN_PROBE_TCP);
		o.interval_ms = 400;
		o.timeout_ms = 200;
		set_probe(e, &o);
	}
	assert_int_equal(vsn_prober_count(e->p), n);
	run_until(e, &e->n_all_changes, n, 3000);
	/* All up within the interval (and the loop's delays)... */
	assert_int_equal(e->n_all_changes, n);
	assert_true(mono_ms() - e->start_ms < 1000);
	for (i = 0; i < n; i++) {
		struct vsn_probe_status st;

		snprintf(name, sizeof(name), "slb-%d", i);
		assert_int_equal(vsn_prober_get(e->p, name, &st), 0);
		assert_int_equal(st.state, VSN_HEALTH_UP);
	}
	/* ...about a quarter of them in each quarter of it (250 expected; 100 is 10 sigma off). */
	for (i = 0; i < 4; i++)
		if (e->spread[i] < 100)
			fail_msg("%d first results in %d-%d ms", e->spread[i], i * 100,
				 i * 100 + 100);
	srv_close(&s);
}

/* The callback removes its own probe and another one. */
static void test_remove_in_callback(void **state)
{
	struct env *e = *state;
	struct vsn_probe_opts o;
	char target[32];

	snprintf(target, sizeof(target), "127.0.0.1:%d", closed_port());
	o = popts("a", target, VSN_PROBE_TCP);
	set_probe(e, &o);
	o.name = "b";
	set_probe(e, &o);
	e->remove_in_cb = true;
	run_until(e, &e->n_all_changes, 1, 2000);
	run_for(e, 100);
	assert_int_equal(e->n_all_changes, 1);
	assert_int_equal(vsn_prober_count(e->p), 0);
}

/* ---- Scrapes ---- */

static const char haproxy_csv[] = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,\n"
				  "app,web1,0,0,17,45,100,610,\n"
				  "app,BACKEND,0,0,42,97,300,1220,\n";
static const char nginx_status[] = "Active connections: 291 \n"
				   "server accepts handled requests\n"
				   " 16630948 16630948 31070465 \n"
				   "Reading: 6 Writing: 179 Waiting: 106 \n";
static const char prom[] = "# TYPE nginx_connections_active gauge\n"
			   "nginx_connections_active{instance=\"slb-a\"} 150\n";

static struct vsn_load_opts lopts(const char *name, enum vsn_load_kind kind, const char *url)
{
	return (struct vsn_load_opts){
		.sz = sizeof(struct vsn_load_opts),
		.name = name,
		.kind = kind,
		.url = url,
		.interval_ms = 50,
		.timeout_ms = 40,
	};
}

/* Set o, run until its first result, return it. */
static struct vsn_load_status *scrape_once(struct env *e, const struct vsn_load_opts *o)
{
	struct vsn_probe_err err = {""};
	struct vsn_load_status st;

	e->n_loads = 0;
	if (vsn_scraper_set(e->s, o, &err))
		fail_msg("vsn_scraper_set: %s", err.msg);
	assert_int_equal(vsn_scraper_get(e->s, o->name, &st), 0);
	assert_int_equal(st.state, VSN_LOAD_UNKNOWN);
	assert_true(isnan(st.load));
	run_until(e, &e->n_loads, 1, 2000);
	assert_int_equal(e->n_loads, 1);
	assert_string_equal(e->load_name, o->name);
	assert_int_equal(vsn_scraper_remove(e->s, o->name), 0);
	return &e->load;
}

static void load_is(const struct vsn_load_status *st, double load, const char *reason)
{
	if (st->state != VSN_LOAD_OK)
		fail_msg("failed: %s", st->reason);
	assert_true(fabs(st->load - load) < 1e-9);
	assert_string_equal(st->reason, reason);
}

static void failed_with(const struct vsn_load_status *st, const char *reason)
{
	assert_int_equal(st->state, VSN_LOAD_FAILED);
	assert_true(isnan(st->load));
	if (strncmp(st->reason, reason, strlen(reason)))
		fail_msg("reason \"%s\", not \"%s...\"", st->reason, reason);
}

static void test_scrape_sources(void **state)
{
	struct env *e = *state;
	struct srv hap = {.body = haproxy_csv}, ngx = {.body = nginx_status, .no_length = true};
	struct vsn_load_opts o;
	char url[96];

	srv_listen(e, &hap, 0);
	srv_listen(e, &ngx, 0);
	snprintf(url, sizeof(url), "http://%s/stats;csv", hap.addr);
	o = lopts("slb-a", VSN_LOAD_HAPROXY_CSV, url);
	o.proxy = "app";
	load_is(scrape_once(e, &o), 0.14, "scur 42, slim 300");
	assert_int_equal(strncmp(hap.last_request, "GET /stats;csv HTTP/1.0\r\n", 25), 0);
	o.server = "web1";
	load_is(scrape_once(e, &o), 0.17, "scur 17, slim 100");
	o.server = "web9";
	failed_with(scrape_once(e, &o), "haproxy_csv: no row app/web9");
	/* A body that ends with the connection. */
	snprintf(url, sizeof(url), "http://%s/nginx_status", ngx.addr);
	o = lopts("slb-n", VSN_LOAD_NGINX_STATUS, url);
	o.max = 1000;
	load_is(scrape_once(e, &o), 0.291, "active 291, max_connections 1000");
	/* HAProxy's own stats page answers HTTP/1.0 with a chunked HTTP/1.1 body. */
	hap.chunked = true;
	snprintf(url, sizeof(url), "http://%s/stats;csv", hap.addr);
	o = lopts("slb-a", VSN_LOAD_HAPROXY_CSV, url);
	o.proxy = "app";
	load_is(scrape_once(e, &o), 0.14, "scur 42, slim 300");
	snprintf(url, sizeof(url), "http://%s/nginx_status", ngx.addr);
	o = lopts("slb-n", VSN_LOAD_NGINX_STATUS, url);
	o.max = 1000;
	/* The same page is no CSV. */
	o.kind = VSN_LOAD_HAPROXY_CSV;
	o.proxy = "app";
	failed_with(scrape_once(e, &o), "haproxy_csv: line 1: a row before the header line");
	srv_close(&hap);
	srv_close(&ngx);
}

static void test_scrape_https(void **state)
{
	struct env *e = *state;
	struct srv s = {.body = prom};
	struct vsn_load_opts o;
	char url[96];

	tls_server(e, &s);
	snprintf(url, sizeof(url), "https://%s/metrics", s.addr);
	o = lopts("slb-p", VSN_LOAD_PROMETHEUS, url);
	o.metric = "nginx_connections_active{instance=\"slb-a\"}";
	o.max = 200;
	o.ca_file = cert_path(e->dir, "ca/ca.crt");
	o.host = "slb-a";
	load_is(scrape_once(e, &o), 0.75, "value 150, max 200");
	o.ca_file = cert_path(e->dir, "other/ca.crt");
	failed_with(scrape_once(e, &o), "prometheus: TLS handshake failed: certificate verify");
	srv_close(&s);
	SSL_CTX_free(s.ssl);
}

static void test_scrape_failures(void **state)
{
	struct env *e = *state;
	struct srv err500 = {.statuses = {500}, .n_statuses = 1, .body = haproxy_csv};
	struct srv mute = {.silent = true}, big = {.body = haproxy_csv};
	struct vsn_load_opts o;
	char url[96], url2[96];

	srv_listen(e, &err500, 0);
	srv_listen(e, &mute, 0);
	srv_listen(e, &big, 0);
	snprintf(url, sizeof(url), "http://%s/", err500.addr);
	o = lopts("f", VSN_LOAD_HAPROXY_CSV, url);
	o.proxy = "app";
	failed_with(scrape_once(e, &o), "haproxy_csv: HTTP 500, expected 200");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port());
	failed_with(scrape_once(e, &o), "haproxy_csv: connect refused");
	snprintf(url, sizeof(url), "http://%s/", mute.addr);
	failed_with(scrape_once(e, &o),
		    "haproxy_csv: timeout after 40 ms (waiting for the response)");
	snprintf(url, sizeof(url), "http://%s/", big.addr);
	o.body_max = 40;
	snprintf(url2, sizeof(url2), "haproxy_csv: a body of %zu bytes, over the limit of 40",
		 strlen(haproxy_csv));
	failed_with(scrape_once(e, &o), url2);
	big.no_length = true;
	failed_with(scrape_once(e, &o), "haproxy_csv: a body over 40 bytes");
	srv_close(&err500);
	srv_close(&mute);
	srv_close(&big);
}

static void expect_load_set_fails(struct env *e, const struct vsn_load_opts *o, const char *msg)
{
	struct vsn_probe_err err = {""};

	assert_int_equal(vsn_scraper_set(e->s, o, &err), -EINVAL);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
}

static void test_scrape_invalid(void **state)
{
	struct env *e = *state;
	struct vsn_load_opts o = lopts("x", VSN_LOAD_NGINX_STATUS, "http://127.0.0.1/s"), b;

	b = o;
	expect_load_set_fails(e, &b, "load x: nginx_status needs a max > 0");
	b = o, b.kind = VSN_LOAD_PROMETHEUS, b.max = 1;
	expect_load_set_fails(e, &b, "load x: prometheus needs a metric");
	b.metric = "m{a=1}";
	expect_load_set_fails(e, &b, "load x: metric m{a=1}: malformed labels");
	b = o, b.kind = VSN_LOAD_HAPROXY_CSV;
	expect_load_set_fails(e, &b, "load x: proxy of 1 to");
	b.proxy = "app", b.max = -1;
	expect_load_set_fails(e, &b, "max must be");
	b = o, b.max = 1, b.url = "ftp://127.0.0.1/";
	expect_load_set_fails(e, &b, "url ftp://127.0.0.1/ is not");
	b.url = "http://slb-a.example:8404/stats";
	expect_load_set_fails(e, &b, "is not http[s]://ADDRESS");
	b.url = "http://user@127.0.0.1/";
	expect_load_set_fails(e, &b, "is not");
	b.url = "http://[::1]:8404/stats", b.body_max = VSN_SCRAPE_MAX_BODY_MAX + 1;
	expect_load_set_fails(e, &b, "body_max");
	b.body_max = 0;
	assert_int_equal(vsn_scraper_set(e->s, &b, NULL), 0);
	b.url = "https://[::1]";
	assert_int_equal(vsn_scraper_set(e->s, &b, NULL), 0);
	assert_int_equal(vsn_scraper_count(e->s), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_rise_fall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_fall_rise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_jittered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_in_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_https, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_invalid, setup, teardown),
	};

	/* libvsnprobe's requirement (vsn_probe.h). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
