/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One exchange with a target: a non-blocking connect, then for HTTP(S) the TLS handshake, one
 * request and as much of the response as the check wants, on one event of the caller's loop.
 *
 * Plain sockets and SSL objects rather than bufferevents: an attempt costs one socket, one
 * event re-armed in place and no buffer allocation for a probe (its status line fits the
 * buffer it keeps), the connect's error is read exactly (SO_ERROR), and every read is bounded
 * by what the check allows. The deadline is the runner's: it cancels what is still running.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "probe_internal.h"

/* The first buffer of a response; it doubles up to the check's limit. */
#define HX_BUF_FIRST 2048

static void hx_io_cb(evutil_socket_t fd, short what, void *arg);

int hx_init(struct hx *h, struct event_base *base, hx_cb cb, void *arg)
{
	memset(h, 0, sizeof(*h));
	h->base = base;
	h->cb = cb;
	h->arg = arg;
	h->fd = -1;
	h->ev = event_new(base, -1, 0, hx_io_cb, h);
	return h->ev ? 0 : -ENOMEM;
}

/* Close the attempt's socket (with a reset: SO_LINGER 0) and TLS; keep a resumable session. */
static void hx_close(struct hx *h, bool keep_session)
{
	if (h->waiting) {
		event_del(h->ev);
		h->waiting = 0;
	}
	if (h->ssl) {
		SSL_SESSION *s = NULL;

		/*
		 * Marked shut down (nothing is sent) so that SSL_free does not take the session
		 * for a bad one and make it not resumable.
		 */
		if (keep_session) {
			SSL_set_shutdown(h->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
			s = SSL_get1_session(h->ssl);
		}

		if (s && SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(h->session);
			h->session = s;
		} else {
			SSL_SESSION_free(s);
		}
		SSL_free(h->ssl);
		h->ssl = NULL;
	}
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
	h->phase = HX_IDLE;
}

void hx_cancel(struct hx *h)
{
	hx_close(h, false);
}

void hx_forget_session(struct hx *h)
{
	SSL_SESSION_free(h->session);
	h->session = NULL;
}

void hx_fini(struct hx *h)
{
	if (!h->ev)
		return;
	hx_close(h, false);
	hx_forget_session(h);
	free(h->buf);
	event_free(h->ev);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

/*
 * End the attempt with res. The callback may free h (the probe removed): nothing touches h
 * after it. A body is handed over in the buffer, freed after the callback; a probe's small
 * buffer stays for its next attempt.
 */
static void hx_end(struct hx *h, struct hx_result *res)
{
	char *own = h->ck->body_max ? h->buf : NULL;

	if (own) {
		h->buf = NULL;
		h->cap = 0;
	}
	h->len = 0;
	hx_close(h, res->err == 0);
	h->cb(h->arg, res);
	free(own);
}

static void hx_fail(struct hx *h, int err, bool local, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void hx_fail(struct hx *h, int err, bool local, const char *fmt, ...)
{
	char why[VSN_PROBE_REASON_MAX];
	struct hx_result res = {.err = err, .local = local, .why = why};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	hx_end(h, &res);
}

static void hx_done(struct hx *h, int status, const char *body, size_t body_len)
{
	char why[32];
	struct hx_result res = {.status = status, .why = why, .body = body, .body_len = body_len};

	if (h->ck->request)
		snprintf(why, sizeof(why), "HTTP %d", status);
	else
		snprintf(why, sizeof(why), "connected");
	hx_end(h, &res);
}

/* Wait for what on the socket (level-triggered, until told otherwise). */
static void hx_wait(struct hx *h, short what)
{
	if (h->waiting == what)
		return;
	if (h->waiting)
		event_del(h->ev);
	h->waiting = 0;
	event_assign(h->ev, h->base, h->fd, what | EV_PERSIST, hx_io_cb, h);
	if (event_add(h->ev, NULL)) {
		hx_fail(h, -ENOMEM, true, "cannot add an event");
		return;
	}
	h->waiting = what;
}

/* Errors that say this side could not try, not that the target failed. */
static bool local_errno(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM || e == EADDRNOTAVAIL ||
	       e == EAGAIN || e == EPERM || e == EACCES;
}

static void hx_connect_failed(struct hx *h, int e)
{
	const char *why = e == ECONNREFUSED   ? "connect refused"
			  : e == EHOSTUNREACH ? "host unreachable"
			  : e == ENETUNREACH  ? "network unreachable"
			  : e == ETIMEDOUT    ? "connect timed out"
					      : NULL;

	if (why)
		hx_fail(h, -e, false, "%s", why);
	else
		hx_fail(h, -e, local_errno(e), "connect: %s", strerror(e));
}

/* Wait for what SSL asked for; false when it asked for nothing we can wait for. */
static bool hx_ssl_wait(struct hx *h, int ssl_err)
{
	if (ssl_err == SSL_ERROR_WANT_READ)
		hx_wait(h, EV_READ);
	else if (ssl_err == SSL_ERROR_WANT_WRITE)
		hx_wait(h, EV_WRITE);
	else
		return false;
	return true;
}

/*
 * A TLS failure: OpenSSL's first reason (and the certificate's fault when it did not verify),
 * or the socket's error (se, errno after the call), or the peer's close. The error queue is
 * left empty: other code on this thread (libvsntransport) reads it too.
 */
static void hx_tls_fail(struct hx *h, int ssl_err, int se, const char *what)
{
	unsigned long e, pick = 0, any = 0;
	const char *rs;

	while ((e = ERR_get_error())) {
		any = e;
		if (!pick && ERR_reason_error_string(e))
			pick = e;
	}
	if (!pick)
		pick = any;
	rs = pick ? ERR_reason_error_string(pick) : NULL;
	if (pick && ERR_GET_REASON(pick) == SSL_R_CERTIFICATE_VERIFY_FAILED)
		hx_fail(h, -EACCES, false, "%s: certificate verify failed: %s", what,
			X509_verify_cert_error_string(SSL_get_verify_result(h->ssl)));
	else if (pick)
		hx_fail(h, -EPROTO, false, "%s: %s", what, rs ? rs : "unknown error");
	else if (ssl_err == SSL_ERROR_SYSCALL && se && se != EAGAIN)
		hx_fail(h, -se, false, "%s: %s", what, strerror(se));
	else
		hx_fail(h, -ECONNRESET, false, "%s: the connection closed", what);
}

static void hx_send(struct hx *h)
{
	const struct check *ck = h->ck;

	while (h->sent < ck->request_len) {
		const char *p = ck->request + h->sent;
		size_t n = ck->request_len - h->sent;
		ssize_t w;

		if (h->ssl) {
			int r, se;

			errno = 0;
			ERR_clear_error();
			r = SSL_write(h->ssl, p, (int)n);
			se = errno;
			if (r > 0) {
				h->sent += r;
				continue;
			}
			r = SSL_get_error(h->ssl, r);
			if (!hx_ssl_wait(h, r))
				hx_tls_fail(h, r, se, "TLS send");
			return;
		}
		w = send(h->fd, p, n, MSG_NOSIGNAL);
		if (w >= 0) {
			h->sent += w;
		} else if (errno == EAGAIN || errno == EINTR) {
			hx_wait(h, EV_WRITE);
			return;
		} else {
			hx_fail(h, -errno, false, "send: %s", strerror(errno));
			return;
		}
	}
	h->phase = HX_RECV;
	hx_wait(h, EV_READ);
}

static void hx_handshake(struct hx *h)
{
	int r, se;

	errno = 0;
	ERR_clear_error();
	r = SSL_connect(h->ssl);
	se = errno;
	if (r == 1) {
		h->phase = HX_SEND;
		hx_send(h);
		return;
	}
	r = SSL_get_error(h->ssl, r);
	if (!hx_ssl_wait(h, r))
		hx_tls_fail(h, r, se, "TLS handshake failed");
}

static void hx_tls_start(struct hx *h)
{
	const struct check *ck = h->ck;
	SSL *ssl;

	ERR_clear_error();
	ssl = h->ssl = SSL_new(ck->ssl_ctx);
	/* SNI carries names only (RFC 6066); an address is verified against the IP SANs. */
	if (!ssl || !SSL_set_fd(ssl, h->fd) ||
	    (!ck->tls_name_ip && !SSL_set_tlsext_host_name(ssl, ck->tls_name)) ||
	    (ck->verify &&
	     !(ck->tls_name_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ck->tls_name)
			       : SSL_set1_host(ssl, ck->tls_name)))) {
		ERR_clear_error();
		hx_fail(h, -ENOMEM, true, "TLS: out of memory");
		return;
	}
	/* Resuming saves the certificate's verification (and, in TLS 1.2, the key exchange). */
	if (h->session)
		SSL_set_session(ssl, h->session);
	SSL_set_connect_state(ssl);
	ERR_clear_error();
	h->phase = HX_TLS;
	hx_handshake(h);
}

static void hx_connected(struct hx *h)
{
	if (!h->ck->request) {
		hx_done(h, 0, NULL, 0);
	} else if (h->ck->ssl_ctx) {
		hx_tls_start(h);
	} else {
		h->phase = HX_SEND;
		hx_send(h);
	}
}

/* Room to read into: the buffer doubles up to head_max + body_max. */
static int hx_room(struct hx *h)
{
	size_t max = h->ck->head_max + h->ck->body_max, cap;
	char *b;

	if (h->len < h->cap)
		return 0;
	if (h->cap >= max)
		return -EMSGSIZE;
	cap = h->cap ? h->cap * 2 : HX_BUF_FIRST;
	if (cap > max)
		cap = max;
	b = realloc(h->buf, cap);
	if (!b)
		return -ENOMEM;
	h->buf = b;
	h->cap = cap;
	return 0;
}

/* What has arrived: true when the attempt ended (with a result or a failure). */
static bool hx_parse(struct hx *h)
{
	const struct check *ck = h->ck;
	struct http_head *hd = &h->head;
	int r, status;

	if (!ck->body_max) {
		r = http_status_line(h->buf, h->len, &status);
		if (r > 0)
			hx_done(h, status, NULL, 0);
		else if (r < 0)
			hx_fail(h, -EBADMSG, false, "not an HTTP response");
		else if (h->len >= ck->head_max)
			hx_fail(h, -EMSGSIZE, false, "no status line in %zu bytes", ck->head_max);
		return r != 0 || h->len >= ck->head_max;
	}
	if (!h->have_head) {
		r = http_head_parse(h->buf, h->len, hd);
		if (r < 0) {
			hx_fail(h, -EBADMSG, false, "a malformed HTTP response head");
			return true;
		}
		if (r == 0) {
			if (h->len < ck->head_max)
				return false;
			hx_fail(h, -EMSGSIZE, false, "a response head over %zu bytes",
				ck->head_max);
			return true;
		}
		h->have_head = true;
		if (hd->status / 100 != 2) {
			hx_done(h, hd->status, NULL, 0);
			return true;
		}
		if (hd->transfer_encoding && !hd->chunked) {
			hx_fail(h, -EBADMSG, false, "a Transfer-Encoding other than chunked");
			return true;
		}
		if (hd->content_length > (long long)ck->body_max) {
			hx_fail(h, -EMSGSIZE, false, "a body of %lld bytes, over the limit of %zu",
				hd->content_length, ck->body_max);
			return true;
		}
	}
	if (h->len - hd->len > ck->body_max) {
		hx_fail(h, -EMSGSIZE, false, "a body over %zu bytes", ck->body_max);
		return true;
	}
	if (hd->chunked) {
		size_t n;

		/* Chunked wins over a Content-Length (RFC 9112 section 6.3). */
		r = http_chunked(h->buf + hd->len, h->len - hd->len, &n);
		if (r < 0)
			hx_fail(h, -EBADMSG, false, "a malformed chunked body");
		else if (r > 0)
			hx_done(h, hd->status, h->buf + hd->len, n);
		return r != 0;
	}
	if (hd->content_length >= 0 && h->len - hd->len >= (size_t)hd->content_length) {
		hx_done(h, hd->status, h->buf + hd->len, hd->content_length);
		return true;
	}
	return false;
}

static void hx_eof(struct hx *h)
{
	struct http_head *hd = &h->head;

	if (h->have_head && hd->chunked)
		hx_fail(h, -EPIPE, false, "the connection closed before the last chunk");
	else if (h->have_head && hd->content_length < 0)
		hx_done(h, hd->status, h->buf + hd->len, h->len - hd->len);
	else if (h->have_head)
		hx_fail(h, -EPIPE, false, "the connection closed after %zu of %lld body bytes",
			h->len - hd->len, hd->content_length);
	else
		hx_fail(h, -ECONNRESET, false, "the connection closed %s",
			h->len ? "within the response head" : "without a response");
}

/* One read: > 0 bytes, 0 at the end, -EAGAIN to wait (arranged), else failed (reported). */
static ssize_t hx_read(struct hx *h)
{
	size_t room = h->cap - h->len;
	ssize_t n;
	int r, se;

	if (!h->ssl) {
		n = recv(h->fd, h->buf + h->len, room, 0);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EINTR)
			return -EAGAIN;
		se = errno;
		hx_fail(h, -se, false, "%s", se == ECONNRESET ? "connection reset" : strerror(se));
		return -se;
	}
	errno = 0;
	ERR_clear_error();
	r = SSL_read(h->ssl, h->buf + h->len, room > INT_MAX ? INT_MAX : (int)room);
	se = errno;
	if (r > 0)
		return r;
	r = SSL_get_error(h->ssl, r);
	if (r == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (hx_ssl_wait(h, r))
		return -EAGAIN;
	hx_tls_fail(h, r, se, "TLS receive");
	return -EPROTO;
}

static void hx_recv(struct hx *h)
{
	for (;;) {
		ssize_t n;
		int r = hx_room(h);

		if (r) {
			hx_fail(h, r, r == -ENOMEM, "%s",
				r == -ENOMEM ? "out of memory" : "a response over the limit");
			return;
		}
		n = hx_read(h);
		if (n < 0)
			return;
		if (n == 0) {
			hx_eof(h);
			return;
		}
		h->len += n;
		if (hx_parse(h))
			return;
	}
}

static void hx_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hx *h = arg;
	socklen_t sl = sizeof(int);
	int e = 0;

	switch (h->phase) {
	case HX_CONNECT:
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl))
			e = errno;
		if (e)
			hx_connect_failed(h, e);
		else
			hx_connected(h);
		break;
	case HX_TLS:
		hx_handshake(h);
		break;
	case HX_SEND:
		hx_send(h);
		break;
	case HX_RECV:
		hx_recv(h);
		break;
	case HX_IDLE:
		break;
	}
}

void hx_start(struct hx *h, const struct check *ck)
{
	/* Close with a reset: no TIME_WAIT on this side, which probing 1,000 targets a second
	 * would fill with 60,000 sockets (HAProxy closes its checks the same way). */
	struct linger lg = {1, 0};
	int fd;

	h->ck = ck;
	h->sent = 0;
	h->len = 0;
	h->have_head = false;
	memset(&h->head, 0, sizeof(h->head));
	fd = socket(ck->ep.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hx_fail(h, -errno, true, "socket: %s", strerror(errno));
		return;
	}
	h->fd = fd;
	h->phase = HX_CONNECT;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(fd, (const struct sockaddr *)&ck->ep.sa, ck->ep.salen) == 0)
		hx_connected(h);
	else if (errno != EINPROGRESS)
		hx_connect_failed(h, errno);
	else
		hx_wait(h, EV_WRITE);
}

const char *hx_phase_desc(const struct hx *h)
{
	switch (h->phase) {
	case HX_CONNECT:
		return "connecting";
	case HX_TLS:
		return "in the TLS handshake";
	case HX_SEND:
		return "sending the request";
	case HX_RECV:
		return h->len ? "reading the response" : "waiting for the response";
	default:
		return "idle";
	}
}
