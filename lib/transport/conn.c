/* SPDX-License-Identifier: Apache-2.0 */
/* Mutual-TLS connections carrying vsn protocol frames, on libevent (conn.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conn.h"
#include "frame.h"
#include "vsn_tls.h"

struct vsn_conn {
	struct bufferevent *bev;
	struct event *timer;	/* the client's ready timeout */
	struct event *ready_ev; /* on_ready, deferred out of OpenSSL's message callback */
	struct vsn_conn_cbs cbs;
	void *arg;
	struct vsn_frame_decoder dec;
	bool server;
	bool connected; /* the TLS handshake is over on this side */
	bool ready;	/* on_ready was called */
	bool paused;	/* reading stopped: too much output queued */
	bool dead;	/* failed or closed: free when no callback runs */
	int depth;	/* callbacks of this connection running */
	char peer[VSN_TLS_NAME_MAX + 1];
};

struct vsn_listener {
	struct evconnlistener *lev;
	SSL_CTX *ssl_ctx;
	vsn_listener_cb on_conn;
	void *arg;
};

static void conn_free(struct vsn_conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	if (c->ready_ev)
		event_free(c->ready_ev);
	vsn_frame_decoder_fini(&c->dec);
	free(c);
}

/* Leave a callback; the last one out frees a dead connection. Returns true when c is gone. */
static bool conn_leave(struct vsn_conn *c)
{
	if (--c->depth == 0 && c->dead) {
		conn_free(c);
		return true;
	}
	return false;
}

static void conn_fail(struct vsn_conn *c, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (c->dead)
		return;
	c->dead = true;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->depth++;
	if (c->cbs.on_close)
		c->cbs.on_close(c, err, why, c->arg);
	conn_leave(c);
}

void vsn_conn_close(struct vsn_conn *c)
{
	if (!c || c->dead)
		return;
	c->dead = true;
	/* A close_notify, so the peer sees an orderly close; best effort, it must not block. */
	if (c->connected)
		SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
	if (c->depth == 0)
		conn_free(c);
	else
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
}

static void conn_ready(struct vsn_conn *c)
{
	int r;

	if (c->ready || c->dead)
		return;
	r = vsn_tls_peer_name(bufferevent_openssl_get_ssl(c->bev), c->peer, sizeof(c->peer));
	if (r) {
		conn_fail(c, -EACCES, "the peer has no verified certificate name (%s)",
			  strerror(-r));
		return;
	}
	c->ready = true;
	if (c->timer)
		event_del(c->timer);
	if (c->cbs.on_ready)
		c->cbs.on_ready(c, c->peer, c->arg);
}

/* Decode what has arrived, one envelope at a time, until it runs out, fails or pauses. */
static void conn_input(struct vsn_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (!c->dead && !c->paused && evbuffer_get_length(in)) {
		Vsn__Envelope *env = NULL;
		struct evbuffer_iovec v;
		size_t used = 0;
		int r;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		r = vsn_frame_decoder_feed(&c->dec, v.iov_base, v.iov_len, &used, &env);
		evbuffer_drain(in, used);
		if (r == -EMSGSIZE) {
			conn_fail(c, r, "the peer announced a frame over %zu bytes",
				  c->dec.max_frame);
		} else if (r == -EPROTONOSUPPORT) {
			conn_fail(c, r,
				  "incompatible protocol version: this peer speaks %d, the other "
				  "sent %u",
				  VSN_PROTO_VERSION, c->dec.peer_version);
		} else if (r < 0) {
			conn_fail(c, r, "the peer sent a frame that does not decode: %s",
				  strerror(-r));
		} else if (r == 1) {
			if (c->cbs.on_message)
				c->cbs.on_message(c, env, c->arg);
			vsn__envelope__free_unpacked(env, NULL);
		}
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct vsn_conn *c = arg;

	c->depth++;
	/* A client's first data from the server also says the server accepted it. */
	if (c->connected)
		conn_ready(c);
	if (c->ready)
		conn_input(c);
	conn_leave(c);
}

/* Called when the output has drained to the low-water mark: resume reading. */
static void write_cb(struct bufferevent *bev, void *arg)
{
	struct vsn_conn *c = arg;

	if (!c->paused || c->dead)
		return;
	c->paused = false;
	bufferevent_enable(c->bev, EV_READ);
	c->depth++;
	conn_input(c);
	conn_leave(c);
}

/*
 * The most telling reason OpenSSL queued for this connection (its first with a reason string),
 * with the certificate's fault when verification failed; NULL when there is none. *ret_eof:
 * the peer merely closed the connection without a close_notify.
 */
static const char *tls_reason(struct vsn_conn *c, char *buf, size_t sz, bool *ret_eof)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned long e, pick = 0, any = 0;
	const char *rs;

	while ((e = bufferevent_get_openssl_error(c->bev))) {
		any = e;
		if (!pick && ERR_reason_error_string(e))
			pick = e;
	}
	if (!any)
		return NULL;
	if (!pick)
		pick = any;
	*ret_eof = ERR_GET_REASON(pick) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
	rs = ERR_reason_error_string(pick);
	if (!rs) {
		ERR_error_string_n(pick, buf, sz);
		return buf;
	}
	if (ERR_GET_REASON(pick) == SSL_R_CERTIFICATE_VERIFY_FAILED)
		snprintf(buf, sz, "%s: %s", rs,
			 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
	else
		snprintf(buf, sz, "%s", rs);
	return buf;
}

/* An error a TCP connect ends with (not one of TLS, nor a stale errno of something else). */
static bool connect_error(int e)
{
	return e == ECONNREFUSED || e == ECONNRESET || e == EHOSTUNREACH || e == ENETUNREACH ||
	       e == ETIMEDOUT || e == EADDRNOTAVAIL;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct vsn_conn *c = arg;
	char buf[384];
	const char *why;

	c->depth++;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		c->connected = true;
		/*
		 * Small frames (Ack, Commit) must leave at once: with Nagle, one sent while an
		 * earlier one is unacknowledged waits for the peer's delayed ACK (~40 ms).
		 */
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* A server has judged the client's certificate by now; a client waits (conn.h). */
		if (c->server)
			conn_ready(c);
	} else if (what & BEV_EVENT_ERROR) {
		int se = EVUTIL_SOCKET_ERROR();

		bool eof = false;

		why = tls_reason(c, buf, sizeof(buf), &eof);
		if (eof)
			conn_fail(c, -ECONNRESET, "the peer closed the connection");
		else if (why)
			conn_fail(c, -EACCES, "TLS %s: %s", c->ready ? "error" : "handshake failed",
				  why);
		else if (se)
			conn_fail(c, -se, "%s", evutil_socket_error_to_string(se));
		else
			conn_fail(c, -ECONNRESET, "the peer closed the connection");
	} else if (what & BEV_EVENT_EOF) {
		int se = 0;
		socklen_t sl = sizeof(se);

		/*
		 * A TCP connect that failed shows as an EOF of the TLS layer: say why it failed,
		 * from the socket (SO_ERROR), or from the error the failed connect left (libevent
		 * has read SO_ERROR already).
		 */
		if (!c->connected &&
		    !getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_ERROR, &se, &sl) && !se)
			se = EVUTIL_SOCKET_ERROR();
		if (!c->connected && connect_error(se))
			conn_fail(c, -se, "%s", evutil_socket_error_to_string(se));
		else
			conn_fail(c, -ECONNRESET, "the peer closed the connection%s",
				  c->ready ? "" : " during the TLS handshake");
	}
	conn_leave(c);
}

/*
 * In TLS 1.3 the server sends its session tickets after it has verified the client's
 * certificate (and an alert instead when it refuses it): a ticket is the client's sign that it
 * was accepted. Called inside SSL_read, so on_ready is deferred to the event loop.
 */
static void msg_cb(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
		   void *arg)
{
	struct vsn_conn *c = arg;

	if (!write_p && type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_NEWSESSION_TICKET && !c->ready)
		event_active(c->ready_ev, 0, 0);
}

static void ready_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vsn_conn *c = arg;

	c->depth++;
	if (c->connected)
		conn_ready(c);
	conn_leave(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vsn_conn *c = arg;

	c->depth++;
	if (!c->ready)
		conn_fail(c, -ETIMEDOUT, "not connected within the timeout");
	conn_leave(c);
}

static int conn_new(struct event_base *base, evutil_socket_t fd, SSL_CTX *ctx, bool server,
		    struct vsn_conn **ret)
{
	struct vsn_conn *c = calloc(1, sizeof(*c));
	SSL *ssl = NULL;

	if (!c)
		goto fail;
	c->server = server;
	vsn_frame_decoder_init(&c->dec, 0);
	ssl = SSL_new(ctx);
	if (!ssl)
		goto fail;
	c->bev = bufferevent_openssl_socket_new(
		base, fd, ssl, server ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		SSL_free(ssl);
		goto fail;
	}
	fd = -1; /* the bufferevent owns it now */
	c->ready_ev = event_new(base, -1, 0, ready_ev_cb, c);
	if (!c->ready_ev)
		goto fail;
	if (!server) {
		c->timer = evtimer_new(base, timer_cb, c);
		if (!c->timer)
			goto fail;
		SSL_set_msg_callback(ssl, msg_cb);
		SSL_set_msg_callback_arg(ssl, c);
	}
	/* Peers may close without a close_notify: that is an EOF, not a TLS error. */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, VSN_CONN_OUT_HIGH / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	*ret = c;
	return 0;
fail:
	if (fd >= 0)
		evutil_closesocket(fd);
	if (c)
		conn_free(c);
	return -ENOMEM;
}

void vsn_conn_set_cbs(struct vsn_conn *c, const struct vsn_conn_cbs *cbs, void *arg)
{
	c->cbs = *cbs;
	c->arg = arg;
}

static void frame_free(const void *data, size_t len, void *extra)
{
	free((void *)data);
}

int vsn_conn_send(struct vsn_conn *c, const Vsn__Envelope *msg)
{
	struct evbuffer *out;
	uint8_t *buf;
	size_t len;
	int r;

	if (!c->ready || c->dead)
		return -ENOTCONN;
	r = vsn_frame_encode(msg, 0, &buf, &len);
	if (r)
		return r;
	out = bufferevent_get_output(c->bev);
	/* The evbuffer takes buf as it is and frees it once sent. */
	if (evbuffer_add_reference(out, buf, len, frame_free, NULL)) {
		free(buf);
		return -ENOMEM;
	}
	if (!c->paused && evbuffer_get_length(out) > VSN_CONN_OUT_HIGH) {
		c->paused = true;
		bufferevent_disable(c->bev, EV_READ);
	}
	return 0;
}

int vsn_conn_peer_addr(const struct vsn_conn *c, char *buf, size_t sz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int port;

	if (getpeername(bufferevent_getfd(c->bev), (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(buf, sz, "%s:%d", host, port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, sz, "[%s]:%d", host, port);
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

const char *vsn_conn_peer_name(const struct vsn_conn *c)
{
	return c->ready ? c->peer : NULL;
}

size_t vsn_conn_out_len(const struct vsn_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* "host:port" or "[v6]:port" into host (NUL-terminated, in buf) and port. */
static int split_hostport(const char *s, char *buf, size_t sz, const char **ret_host, int *ret_port)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;
	char *end;
	long p;

	if (!colon || colon == s)
		return -EINVAL;
	hl = colon - s;
	if (s[0] == '[') {
		if (s[hl - 1] != ']')
			return -EINVAL;
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sz)
		return -EINVAL;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
		return -EINVAL;
	memcpy(buf, h, hl);
	buf[hl] = '\0';
	*ret_host = buf;
	*ret_port = (int)p;
	return 0;
}

int vsn_conn_connect(struct event_base *base, const char *hostport, SSL_CTX *ssl_ctx,
		     unsigned int timeout_ms, const struct vsn_conn_cbs *cbs, void *arg,
		     struct vsn_conn **ret)
{
	char buf[VSN_TLS_NAME_MAX + 1];
	struct vsn_conn *c;
	const char *host;
	int port, r;

	r = split_hostport(hostport, buf, sizeof(buf), &host, &port);
	if (r || port == 0)
		return -EINVAL;
	r = conn_new(base, -1, ssl_ctx, false, &c);
	if (r)
		return r;
	vsn_conn_set_cbs(c, cbs, arg);
	if (timeout_ms) {
		struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

		evtimer_add(c->timer, &tv);
	}
	/*
	 * A failure to resolve or connect is reported through event_cb, so the caller always
	 * hears of it in on_close, from the loop.
	 */
	bufferevent_socket_connect_hostname(c->bev, NULL, AF_UNSPEC, host, port);
	*ret = c;
	return 0;
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct vsn_listener *l = arg;
	struct vsn_conn *c;

	evutil_make_socket_nonblocking(fd);
	if (conn_new(evconnlistener_get_base(lev), fd, l->ssl_ctx, true, &c))
		return; /* out of memory: the socket is closed, the peer sees a reset */
	c->depth++;
	l->on_conn(l, c, l->arg);
	conn_leave(c);
}

int vsn_listener_new(struct event_base *base, const char *addr, SSL_CTX *ssl_ctx,
		     vsn_listener_cb on_conn, void *arg, struct vsn_listener **ret)
{
	struct sockaddr_in6 *sin6;
	struct sockaddr_in *sin;
	struct sockaddr_storage ss;
	char buf[INET6_ADDRSTRLEN];
	struct vsn_listener *l;
	const char *host;
	int sslen, port;

	memset(&ss, 0, sizeof(ss));
	sin = (struct sockaddr_in *)&ss;
	sin6 = (struct sockaddr_in6 *)&ss;
	if (split_hostport(addr, buf, sizeof(buf), &host, &port))
		return -EINVAL;
	if (evutil_inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sslen = sizeof(*sin);
	} else if (evutil_inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sslen = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ssl_ctx = ssl_ctx;
	l->on_conn = on_conn;
	l->arg = arg;
	l->lev = evconnlistener_new_bind(base, accept_cb, l,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						 LEV_OPT_CLOSE_ON_EXEC,
					 -1, (struct sockaddr *)&ss, sslen);
	if (!l->lev) {
		int r = errno ? -errno : -EADDRNOTAVAIL;

		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

void vsn_listener_set_ssl_ctx(struct vsn_listener *l, SSL_CTX *ssl_ctx)
{
	l->ssl_ctx = ssl_ctx;
}

int vsn_listener_port(const struct vsn_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void vsn_listener_free(struct vsn_listener *l)
{
	if (!l)
		return;
	evconnlistener_free(l->lev);
	free(l);
}
