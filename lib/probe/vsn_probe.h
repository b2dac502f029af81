/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnprobe: the signals the controller gathers about its SLBs (docs/probes.md), on the
 * caller's libevent loop: health probes (this header) and load scrapes (vsn_scrape.h).
 *
 * No thread and no global state: a probe is one timer and, while it runs, one non-blocking
 * socket on the caller's event_base, and every callback is called from that loop. The library
 * does not log; the callbacks and the status say what happened and why, for the caller to.
 *
 * The process must ignore SIGPIPE (OpenSSL writes to a socket with write(2): a TLS peer that
 * resets the connection would kill it otherwise), and its file descriptor limit must allow one
 * descriptor per probe and scrape that can be in flight at once (at most one each).
 *
 * Every function that can fail returns 0 or a negative errno and, when err is not NULL, leaves a
 * sentence saying what went wrong in err->msg.
 */
#ifndef VSN_PROBE_H
#define VSN_PROBE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* A reason: why a probe failed or a scrape went wrong, or what it saw when it succeeded. */
#define VSN_PROBE_REASON_MAX 160

struct vsn_probe_err {
	char msg[VSN_PROBE_REASON_MAX];
};

enum vsn_probe_kind {
	VSN_PROBE_TCP = 1, /* up when a TCP connection is established */
	VSN_PROBE_HTTP,	   /* up when GET path answers the expected status */
	VSN_PROBE_HTTPS,   /* the same over TLS (1.2 or 1.3) */
};

enum vsn_health {
	VSN_HEALTH_UNKNOWN = 0, /* no result yet */
	VSN_HEALTH_UP,
	VSN_HEALTH_DOWN,
};

/* The defaults of the fields left 0 in struct vsn_probe_opts, and the bounds. */
#define VSN_PROBE_INTERVAL_MS 1000
#define VSN_PROBE_TIMEOUT_MS 500 /* or the interval, when that is shorter */
#define VSN_PROBE_RISE 2
#define VSN_PROBE_FALL 2
#define VSN_PROBE_EXPECT 200
#define VSN_PROBE_PATH "/"
#define VSN_PROBE_MIN_INTERVAL_MS 10
#define VSN_PROBE_MAX_INTERVAL_MS 3600000
#define VSN_PROBE_MAX_COUNT 100	  /* of rise and fall */
#define VSN_PROBE_NAME_MAX 255	  /* a probe's name */
#define VSN_PROBE_PATH_MAX 1024	  /* an HTTP path */
#define VSN_PROBE_HOST_MAX 255	  /* a Host header */
#define VSN_PROBE_STATUS_MAX 1024 /* bytes of an HTTP response read to find its status */

struct vsn_probe_opts {
	size_t sz;	  /* sizeof(struct vsn_probe_opts), so the struct can grow */
	const char *name; /* the probe's key, e.g. the SLB's name; copied like every string */
	/* "192.0.2.10:80", "[2001:db8::10]:443": a numeric address (names are not resolved) */
	const char *target;
	enum vsn_probe_kind kind;
	const char *path;    /* HTTP(S): what to GET, from "/"; default "/" */
	unsigned int expect; /* HTTP(S): the status that means up (exactly); default 200 */
	/*
	 * HTTP(S): the Host header; HTTPS: also the server name sent (SNI) and the name the
	 * certificate must carry when ca_file is set. Default: the target's address (and port,
	 * unless 80 for HTTP or 443 for HTTPS); with it, a verified certificate must carry that
	 * IP address in its subject alternative names.
	 */
	const char *host;
	/*
	 * HTTPS: a PEM file of the CAs the server's certificate must verify against (and its name,
	 * see host). NULL: no verification at all (the probe then tells only that something
	 * speaks TLS and HTTP there, as HAProxy's `check-ssl verify none`).
	 */
	const char *ca_file;
	unsigned int interval_ms; /* from one probe's start to the next's; default 1000 */
	unsigned int timeout_ms;  /* of a whole probe, at most interval_ms; default 500 */
	unsigned int rise;	  /* consecutive successes that bring a down target up; default 2 */
	unsigned int fall;	  /* consecutive failures that bring an up target down; default 2 */
};

/* A change of a probe's state, as the change callback hears it. */
struct vsn_probe_change {
	const char *name;
	const char *target;
	enum vsn_health old_state;
	enum vsn_health new_state;
	/* The result that made it: "connected", "HTTP 200", "connect refused", "HTTP 503,
	 * expected 200", "timeout after 150 ms (waiting for the response)", ... */
	const char *reason;
};

/* A probe as it stands (vsn_prober_get). */
struct vsn_probe_status {
	enum vsn_health state;
	unsigned int successes; /* consecutive, up to now (0 after a failure) */
	unsigned int failures;	/* consecutive, up to now (0 after a success) */
	uint64_t results;	/* successes and failures since the probe was set */
	/* Probes that gave no result because this side failed (no socket, no memory, no port). */
	uint64_t local_errors;
	int last_ok;	      /* the last result: 1 a success, 0 a failure */
	unsigned int last_ms; /* how long the last probe took */
	char last_reason[VSN_PROBE_REASON_MAX];
};

struct vsn_prober;

/*
 * Called on every change of a probe's state, from the loop. It may set and remove probes (its
 * own too), but must not free the prober.
 */
typedef void (*vsn_probe_cb)(struct vsn_prober *p, const struct vsn_probe_change *ch, void *arg);

/* A prober on base, with no probes. cb may be NULL (read the states with vsn_prober_get). */
int vsn_prober_new(struct event_base *base, vsn_probe_cb cb, void *arg, struct vsn_prober **ret);

/* Stop every probe (a probe in flight is dropped, its socket closed) and free p. */
void vsn_prober_free(struct vsn_prober *p);

/*
 * Add the probe o->name, or replace the one of that name. A new probe is unknown and makes its
 * first probe at a random point of its first interval (so that many probes added at once do
 * not fire at once). Replacing keeps the state, and keeps the counters and the schedule when
 * only interval, timeout, rise or fall change; when what is probed changes (target, kind, path,
 * expect, host, CA file or its contents), a probe in flight is dropped, the counters start
 * again and the next probe comes at a random point of the interval. -EINVAL: a field is
 * invalid (err says which); -ENOENT, -EACCES...: the CA file cannot be read; -ENOMEM.
 */
int vsn_prober_set(struct vsn_prober *p, const struct vsn_probe_opts *o, struct vsn_probe_err *err);

/* Remove the probe name (a probe in flight is dropped). -ENOENT: there is none. */
int vsn_prober_remove(struct vsn_prober *p, const char *name);

/* The probe name as it stands. -ENOENT: there is none (*ret untouched). */
int vsn_prober_get(const struct vsn_prober *p, const char *name, struct vsn_probe_status *ret);

/* How many probes p has. */
size_t vsn_prober_count(const struct vsn_prober *p);

/* "unknown", "up", "down". */
const char *vsn_health_name(enum vsn_health h);

#endif /* VSN_PROBE_H */
