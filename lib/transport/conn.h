/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsntransport: the controller-node protocol's transport (docs/protocol.md, "Transport"): a
 * TCP connection with mutual TLS (an SSL_CTX from vsn_tls_ctx_new) carrying lib/proto frames,
 * on libevent 2.1. No global state: everything runs on the caller's event_base, and every
 * callback is called from it. The library does not log; on_close says why, for the caller to.
 *
 * A connection's life: the handshake, then on_ready once with the peer's verified name, then
 * on_message per frame, then on_close exactly once (unless the caller closed it with
 * vsn_conn_close). After on_close returns, the connection is freed: do not touch it again.
 */
#ifndef VSN_TRANSPORT_CONN_H
#define VSN_TRANSPORT_CONN_H

#include <stddef.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "vsn.pb-c.h"

/* Output bytes queued above which the connection stops reading until they drain to half. */
#define VSN_CONN_OUT_HIGH (8u << 20)

struct vsn_conn;
struct vsn_listener;

struct vsn_conn_cbs {
	/*
	 * The handshake is over and the peer's certificate verified; peer_name is its name. A
	 * client hears it only once the server has shown it accepted the client's certificate
	 * (TLS 1.3 ends a client's handshake before the server has judged it).
	 */
	void (*on_ready)(struct vsn_conn *c, const char *peer_name, void *arg);
	/* One decoded envelope, owned by the transport: it is freed when the callback returns. */
	void (*on_message)(struct vsn_conn *c, Vsn__Envelope *msg, void *arg);
	/*
	 * The connection is gone: reason_errno is a negative errno and why a sentence. -EACCES:
	 * the TLS handshake failed or a certificate was refused (why: OpenSSL's reason); -EMSGSIZE,
	 * -EPROTONOSUPPORT, -EBADMSG: the peer sent an oversize frame, a frame of another protocol
	 * version, a body that does not unpack; -ECONNRESET: the peer closed; -ETIMEDOUT: a client
	 * was not ready within its timeout; another errno: the socket's error.
	 */
	void (*on_close)(struct vsn_conn *c, int reason_errno, const char *why, void *arg);
};

/*
 * A new accepted connection, before its handshake. The callee sets its callbacks with
 * vsn_conn_set_cbs before returning (or closes it with vsn_conn_close).
 */
typedef void (*vsn_listener_cb)(struct vsn_listener *l, struct vsn_conn *c, void *arg);

/*
 * Listen on addr ("192.0.2.1:7700", "[2001:db8::1]:7700"; port 0: an ephemeral one) and run the
 * server's side of the handshake with ssl_ctx on each accepted connection. ssl_ctx must outlive
 * the listener and its connections. -EINVAL: addr does not parse; else the socket's errno.
 */
int vsn_listener_new(struct event_base *base, const char *addr, SSL_CTX *ssl_ctx,
		     vsn_listener_cb on_conn, void *arg, struct vsn_listener **ret);
/* The port the listener is bound to (host order). */
int vsn_listener_port(const struct vsn_listener *l);
/*
 * Use ssl_ctx for the connections accepted from now on (certificates re-read); connections
 * already accepted keep theirs (each SSL holds a reference to its context).
 */
void vsn_listener_set_ssl_ctx(struct vsn_listener *l, SSL_CTX *ssl_ctx);
/* Stop listening. Connections already accepted live on. */
void vsn_listener_free(struct vsn_listener *l);

/*
 * Connect to host:port ("controller.example.net:7700", "[::1]:7700"; a name is resolved with a
 * blocking getaddrinfo) and run the client's side of the handshake with ssl_ctx, which must
 * outlive the connection. on_close with -ETIMEDOUT when it is not ready within timeout_ms (0: no
 * limit). -EINVAL: hostport does not parse; -ENOMEM.
 */
int vsn_conn_connect(struct event_base *base, const char *hostport, SSL_CTX *ssl_ctx,
		     unsigned int timeout_ms, const struct vsn_conn_cbs *cbs, void *arg,
		     struct vsn_conn **ret);

/* Set (or replace) c's callbacks; cbs is copied. */
void vsn_conn_set_cbs(struct vsn_conn *c, const struct vsn_conn_cbs *cbs, void *arg);

/*
 * Frame msg and queue it. -ENOTCONN before on_ready or after the connection failed; -EMSGSIZE:
 * the frame would exceed VSN_PROTO_MAX_FRAME (send a large PolicySet in chunks); -ENOMEM.
 * When the queue grows beyond VSN_CONN_OUT_HIGH, c stops reading until it drains.
 */
int vsn_conn_send(struct vsn_conn *c, const Vsn__Envelope *msg);

/* The peer's verified name, or NULL before on_ready. */
const char *vsn_conn_peer_name(const struct vsn_conn *c);

/* The peer's address as "192.0.2.1:7700" or "[2001:db8::1]:7700". 0, or getpeername's errno. */
int vsn_conn_peer_addr(const struct vsn_conn *c, char *buf, size_t sz);

/* Bytes queued for sending, not yet written to the socket. */
size_t vsn_conn_out_len(const struct vsn_conn *c);

/*
 * Close c at once (queued output is dropped) and free it; on_close is not called. Safe within
 * c's own callbacks: the memory goes once they return.
 */
void vsn_conn_close(struct vsn_conn *c);

#endif /* VSN_TRANSPORT_CONN_H */
