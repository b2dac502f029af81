/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of libvsnprobe share: the HTTP response head parser (pure), endpoints and
 * checks, the exchange (hx: one connection and, for HTTP, one request and its response), the
 * runner (a check's schedule: one timer, never two attempts at once) and the jobs (a set of
 * named runners with their TLS contexts), which the prober and the scraper are made of.
 */
#ifndef VSN_PROBE_INTERNAL_H
#define VSN_PROBE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "vsn_probe.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/*
 * The value of a field of an options struct that carries its size in sz, or def when the
 * caller's struct is too old to have it or leaves it 0.
 */
#define OPT_GET(o, field, def)                                                           \
	((o)->sz >= offsetof(__typeof__(*(o)), field) + sizeof((o)->field) && (o)->field \
		 ? (o)->field                                                            \
		 : (def))

/* Fill err (when not NULL) and return r (a negative errno). */
int probe_err(struct vsn_probe_err *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- HTTP responses (http_parse.c, pure) ---- */

struct http_head {
	int status;
	size_t len;		  /* bytes of the head, its blank line included */
	long long content_length; /* -1: none */
	bool transfer_encoding;	  /* a Transfer-Encoding header */
	bool chunked;		  /* ... that is "chunked" alone (HAProxy's stats page sends it) */
};

/*
 * The status line at the start of buf ("HTTP/1.1 200 OK\r\n"): 1 with *ret_status, 0 when it is
 * not complete yet, -EBADMSG.
 */
int http_status_line(const char *buf, size_t len, int *ret_status);

/* The whole head at the start of buf: 1 with *ret, 0 when it is not complete yet, -EBADMSG. */
int http_head_parse(const char *buf, size_t len, struct http_head *ret);
/*
 * A chunked body at buf (RFC 9112 section 7.1; extensions and trailers read and dropped): 1
 * when its last chunk and trailers have come, the data then moved to the start of buf
 * (*ret_len bytes); 0 while more is needed (buf untouched); -EBADMSG when malformed.
 */
int http_chunked(char *buf, size_t len, size_t *ret_len);

/* ---- Endpoints and checks (check.c) ---- */

struct endpoint {
	struct sockaddr_storage sa;
	socklen_t salen;
	char addr[64]; /* the numeric address, as written ("192.0.2.1", "2001:db8::1") */
	int port;
};

/* "192.0.2.1:80", "[2001:db8::1]:80" with a port from 1 to 65535. -EINVAL. */
int endpoint_parse(const char *s, struct endpoint *ret);

/* "http[s]://ADDR[:PORT][/path]", ADDR numeric. -EINVAL. */
int url_parse(const char *url, bool *ret_tls, struct endpoint *ret_ep, char *path, size_t path_sz);

/* What one attempt does: built when a probe or scrape is set, read-only while it runs. */
struct check {
	struct endpoint ep;
	SSL_CTX *ssl_ctx; /* a reference of our own; NULL: plain TCP */
	char *tls_name;	  /* the name (or IP address) sent as SNI and verified */
	bool tls_name_ip; /* tls_name is an IP address: no SNI, an IP SAN is verified */
	bool verify;	  /* ssl_ctx verifies the peer */
	char *request;	  /* NULL: done once connected (a TCP probe) */
	size_t request_len;
	size_t head_max; /* bytes of the status line (body_max 0) or of the whole head */
	size_t body_max; /* 0: the status line is enough; else a 2xx's body is read, this long */
};

struct jobs;

/* What a check is made of; jobs lends the TLS context. */
struct check_spec {
	const char *who; /* "probe NAME", for the reasons */
	const struct endpoint *ep;
	bool http, tls;
	const char *path, *host, *ca_file;
	size_t head_max, body_max; /* body_max 0: status line only, head_max bytes at most */
};

int check_build(struct check *ck, struct jobs *j, const struct check_spec *spec,
		struct vsn_probe_err *err);
void check_fini(struct check *ck);
bool check_equal(const struct check *a, const struct check *b);

/* ---- One exchange (hx.c) ---- */

enum hx_phase {
	HX_IDLE = 0,
	HX_CONNECT,
	HX_TLS,
	HX_SEND,
	HX_RECV,
};

struct hx_result {
	int err;    /* 0: connected (TCP) or a response (HTTP: status); else a negative errno */
	bool local; /* the failure is this side's (no socket, no memory, no port) */
	int status; /* HTTP status */
	const char *why;
	const char *body; /* a 2xx response's body, when the check wants it */
	size_t body_len;
};

typedef void (*hx_cb)(void *arg, const struct hx_result *res);

struct hx {
	struct event_base *base;
	struct event *ev;
	hx_cb cb;
	void *arg;
	const struct check *ck;
	enum hx_phase phase;
	short waiting; /* what ev waits for */
	int fd;
	SSL *ssl;
	SSL_SESSION *session; /* the last TLS session, to resume */
	size_t sent;
	char *buf;
	size_t len, cap;
	bool have_head;
	struct http_head head;
};

int hx_init(struct hx *h, struct event_base *base, hx_cb cb, void *arg);
void hx_fini(struct hx *h);
/* Start an attempt of ck (which must stay until it ends); cb may be called before this returns. */
void hx_start(struct hx *h, const struct check *ck);
/* Drop the attempt in flight, if any; cb is not called. */
void hx_cancel(struct hx *h);
/* Forget the TLS session (the check changed). */
void hx_forget_session(struct hx *h);
static inline bool hx_busy(const struct hx *h)
{
	return h->phase != HX_IDLE;
}
/* What the attempt in flight waits for: "connecting", "TLS handshake", ... */
const char *hx_phase_desc(const struct hx *h);

/* ---- A check's schedule (runner.c) ---- */

struct runner;
/* The result of an attempt, which took ms; the next is already scheduled. */
typedef void (*runner_done_cb)(struct runner *r, const struct hx_result *res, unsigned int ms);

struct runner {
	struct event *timer; /* the next start; during an attempt, its deadline */
	struct hx hx;
	struct check ck;
	unsigned int interval_ms, timeout_ms;
	uint64_t started_ms; /* CLOCK_MONOTONIC, of the attempt in flight or the last */
	runner_done_cb done;
};

int runner_init(struct runner *r, struct event_base *base, runner_done_cb done);
void runner_fini(struct runner *r);
/* Take ck (moved: the caller's is emptied), drop an attempt in flight, start in delay_ms. */
void runner_set_check(struct runner *r, struct check *ck, unsigned int delay_ms);

/* ---- Named jobs (runner.c) ---- */

/* A named runner: the first member of a probe or a scrape. */
struct job {
	struct job *next; /* in its bucket */
	char *name;
	uint32_t hash;
	struct runner run;
};

struct jobs {
	struct event_base *base;
	void (*cb)(void); /* the owner's callback (vsn_probe_cb, vsn_load_cb) */
	void *arg;
	struct job **buckets;
	size_t n_buckets, n;
	uint64_t rng;
	struct tls_ctx_entry *ctxs;
};

/* A prober or scraper: sz bytes that begin with their struct jobs, with no jobs yet. */
int jobs_new(struct event_base *base, size_t sz, void (*cb)(void), void *arg, void **ret);
/* Free every job with free_job, then what jobs_new allocated. */
void jobs_free(struct jobs *j, void (*free_job)(struct job *));
struct job *jobs_find(const struct jobs *j, const char *name);
/* Copy sz bytes at offset off of the job name (its status) to ret. -ENOENT. */
int jobs_get(const struct jobs *j, const char *name, size_t off, void *ret, size_t sz);
/* Name job (copied) and add it, with its runner initialised with done. */
int jobs_add(struct jobs *j, struct job *job, const char *name, runner_done_cb done);
/* Unlink the job name and free it with free_job. -ENOENT. */
int jobs_remove(struct jobs *j, const char *name, void (*free_job)(struct job *));
/* A random delay in [0, interval_ms): where a new check's first attempt falls. */
unsigned int jobs_jitter(struct jobs *j, unsigned int interval_ms);
/*
 * A client context that verifies against ca_file, or verifies nothing (NULL): shared by the
 * checks that name the same file with the same contents. Returns a new reference.
 */
int jobs_ssl_ctx(struct jobs *j, const char *ca_file, SSL_CTX **ret, struct vsn_probe_err *err);

/*
 * Interval and timeout of o-like options (0: the defaults; the timeout at most the interval).
 * -EINVAL.
 */
int timing_get(const char *who, unsigned int interval_ms, unsigned int timeout_ms,
	       unsigned int *ret_interval, unsigned int *ret_timeout, struct vsn_probe_err *err);

#endif /* VSN_PROBE_INTERNAL_H */
