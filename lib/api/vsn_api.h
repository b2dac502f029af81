/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnapi: the controller's REST API server (docs/controller.md, "REST API"): JSON over HTTPS
 * on libevent's evhttp, bearer tokens with a role each, a fixed table of routes.
 *
 * The library does the HTTP: TLS (a server-only context from the controller's certificate and
 * key: API clients authenticate with a token, not a certificate), authentication and roles,
 * routing (404, 405), the request body (at most VSN_API_BODY_MAX bytes, 413 beyond; JSON, 400
 * when it does not parse, or when a field is unknown, missing or of the wrong type), the query
 * parameters, and the answer: the JSON an op returned, or {"error": ..., "details": [...]}.
 * What each endpoint does is the controller's: one function per endpoint in struct
 * vsn_api_ops, which gets the request's inputs parsed and checked and returns a JSON object or
 * an error (struct vsn_api_err). The shapes of those objects are in docs/controller.md.
 *
 * Two answers come from libevent itself, before a request reaches the library: 413 for a body
 * above the limit and 400 for a request that is not HTTP. Their bodies are libevent's HTML and
 * on_access does not hear of them (libevent 2.1 has no hook for either).
 *
 * No global state: everything runs on the caller's event_base, every op and callback is called
 * from it, one request at a time. The library does not log: each answered request is reported
 * through on_access for the caller to log. Functions return 0 or a negative errno and, when msg
 * is not NULL, leave a sentence saying what went wrong in msg->msg; ret_* outputs are untouched
 * on failure. Writing to a peer that has gone raises SIGPIPE: the caller ignores it.
 */
#ifndef VSN_API_H
#define VSN_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <jansson.h>

/* Most bytes of a request body; a larger one is answered 413 before it is read. */
#define VSN_API_BODY_MAX (16u << 20)
#define VSN_API_DEFAULT_PORT 7443
/* The `limit` of GET /v1/history and GET /v1/events: its default and its largest value. */
#define VSN_API_LIMIT_DEFAULT 100u
#define VSN_API_LIMIT_MAX 1000u
/* A token's length in the tokens file. */
#define VSN_API_TOKEN_MIN 16
#define VSN_API_TOKEN_MAX 256

enum vsn_api_role {
	VSN_API_ROLE_NONE = 0, /* no token (GET /metrics) */
	VSN_API_ROLE_READ,     /* may GET, and POST /v1/diff (it changes nothing) */
	VSN_API_ROLE_ADMIN,    /* may everything */
};

/* "none", "read", "admin". */
const char *vsn_api_role_name(enum vsn_api_role role);

struct vsn_api_msg {
	char msg[512];
};

/* One position in a document an error refers to: FILE:LINE:COLUMN: message. */
struct vsn_api_detail {
	char *file;
	unsigned int line;   /* from 1; 0: the whole file */
	unsigned int column; /* from 1; 0: the whole line */
	char *message;
};

/*
 * What an op that fails answers: an HTTP status (400 a bad document or request, 404 no such
 * revision or SLB, 409 a conflict such as a rollout in progress, 500 the controller's own
 * failure, ...), a sentence, and details (the document's errors with their positions). The
 * server hands every op a zeroed one and frees what it holds afterwards.
 */
struct vsn_api_err {
	int status;
	char message[512];
	struct vsn_api_detail *details;
	size_t n_details;
};

/*
 * Say why an op fails: status and the sentence fmt. Returns r (a negative errno), so that an op
 * ends with `return vsn_api_fail(err, -ENOENT, 404, "no revision %llu", rev)`. An op that fails
 * without calling it is answered from its errno: -EINVAL 400, -ENOENT 404, -EEXIST, -EBUSY and
 * -EALREADY 409, anything else 500, with strerror's text.
 */
int vsn_api_fail(struct vsn_api_err *err, int r, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Add a detail to err (file may be NULL: ""). 0 or -ENOMEM. */
int vsn_api_err_detail(struct vsn_api_err *err, const char *file, unsigned int line,
		       unsigned int column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Free err's details and zero it. */
void vsn_api_err_clear(struct vsn_api_err *err);

/* A time as the API writes it: "2026-11-27T07:53:30.802Z" (UTC), a new JSON string or NULL. */
json_t *vsn_api_time(int64_t unix_ms);

/* A desired-state document as a request carries it. */
struct vsn_api_document {
	const char *text; /* NUL-terminated; JSON cannot carry a NUL, so none inside */
	size_t len;
	const char *name; /* the file name positions refer to; "document" when not given */
};

/* POST /v1/apply */
struct vsn_api_apply_req {
	struct vsn_api_document doc;
	const char *author;  /* "" when not given */
	const char *message; /* "" when not given */
};

/* GET /v1/history */
struct vsn_api_history_req {
	unsigned int limit; /* 1..VSN_API_LIMIT_MAX */
};

/* POST /v1/rollback */
struct vsn_api_rollback_req {
	uint64_t revision; /* >= 1 */
	const char *author;
	const char *message;
};

/* GET /v1/events */
struct vsn_api_events_req {
	/* since given: the events after it, oldest first; else the newest limit ones, oldest first
	 */
	bool has_since;
	uint64_t since;
	unsigned int limit; /* 1..VSN_API_LIMIT_MAX */
};

/* POST /v1/slbs/NAME/drain and /undrain */
struct vsn_api_slb_req {
	const char *slb; /* NAME, percent-decoded; not checked further: an unknown one is a 404 */
	const char *author;
};

/* POST /v1/services/NAME/pin and /unpin */
struct vsn_api_pin_req {
	const char *service;	   /* NAME, percent-decoded; an unknown one is a 404 */
	const char *configuration; /* pin: the configuration to run; NULL for unpin */
	const char *author;
};

/*
 * The controller's side of each endpoint. arg is vsn_api_opts.ops_arg. Each returns 0 with
 * *ret set to a new reference to the JSON object to answer with (status 200; the server takes
 * it; docs/controller.md has each one's shape), or a negative errno with err filled
 * (vsn_api_fail). Inputs live for the call. An op
 * left NULL is answered 501. Ops run on the event loop and the answer goes out when they
 * return: an op does not wait for the nodes (an apply's rollout goes on after its answer).
 */
struct vsn_api_ops {
	/* POST /v1/apply: validate, store a revision, compile, push. */
	int (*apply)(void *arg, const struct vsn_api_apply_req *req, json_t **ret,
		     struct vsn_api_err *err);
	/* POST /v1/diff: what apply would change; changes nothing. */
	int (*diff)(void *arg, const struct vsn_api_document *doc, json_t **ret,
		    struct vsn_api_err *err);
	/* GET /v1/history: revisions, newest first. */
	int (*history)(void *arg, const struct vsn_api_history_req *req, json_t **ret,
		       struct vsn_api_err *err);
	/* POST /v1/rollback: apply a revision's document again as a new revision. */
	int (*rollback)(void *arg, const struct vsn_api_rollback_req *req, json_t **ret,
			struct vsn_api_err *err);
	/* GET /v1/events */
	int (*events)(void *arg, const struct vsn_api_events_req *req, json_t **ret,
		      struct vsn_api_err *err);
	/* GET /v1/status */
	int (*status)(void *arg, json_t **ret, struct vsn_api_err *err);
	/* POST /v1/slbs/NAME/drain */
	int (*drain)(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		     struct vsn_api_err *err);
	/* POST /v1/slbs/NAME/undrain */
	int (*undrain)(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		       struct vsn_api_err *err);
	/* POST /v1/services/NAME/pin: run that configuration whatever the conditions. */
	int (*pin)(void *arg, const struct vsn_api_pin_req *req, json_t **ret,
		   struct vsn_api_err *err);
	/* POST /v1/services/NAME/unpin: the conditions decide again. */
	int (*unpin)(void *arg, const struct vsn_api_pin_req *req, json_t **ret,
		     struct vsn_api_err *err);
	/* GET /v1/state: the current document. */
	int (*state)(void *arg, json_t **ret, struct vsn_api_err *err);
	/* GET /metrics: write the Prometheus text exposition to out. 0 or a negative errno (500).
	 */
	int (*metrics)(void *arg, FILE *out);
};

/* One answered request, for the access log. Strings live for the call. */
struct vsn_api_access {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* without the query */
	const char *peer;   /* "192.0.2.7:40122", "[2001:db8::7]:40122" */
	int status;
	double ms; /* from the request read (with its body) to its answer queued */
	/* The token's role; VSN_API_ROLE_NONE for none or an unknown one (then status is 401). */
	enum vsn_api_role role;
};

struct vsn_api_opts {
	size_t sz;	       /* sizeof(struct vsn_api_opts), so it can grow */
	const char *listen;    /* "127.0.0.1:7443", "[::]:7443"; port 0: an ephemeral one */
	const char *cert_file; /* the controller's certificate (PEM, chain after it) ... */
	const char *key_file;  /* ... and its key */
	const char *tokens_file;
	const struct vsn_api_ops *ops; /* must outlive the server */
	void *ops_arg;
	void (*on_access)(const struct vsn_api_access *a, void *arg); /* may be NULL */
	void *access_arg;
	size_t body_max; /* 0: VSN_API_BODY_MAX (also its upper bound) */
};

struct vsn_api;

/*
 * Read the tokens and the certificate, then listen. The tokens file has one `ROLE TOKEN` per
 * line (ROLE admin or read; TOKEN VSN_API_TOKEN_MIN to VSN_API_TOKEN_MAX printable characters
 * without blanks, not starting with '#'); blank lines and lines starting with '#' are ignored,
 * and so is a third field starting with '#' (a comment naming the token). -EINVAL: a bad
 * address or opts, a malformed line (msg: "FILE:LINE: why"), a token given twice, no token at
 * all, a certificate or key OpenSSL refuses; the errno of a file that cannot be read or of the
 * socket.
 */
int vsn_api_new(struct event_base *base, const struct vsn_api_opts *opts, struct vsn_api **ret_api,
		struct vsn_api_msg *msg);
/* The port the server listens on (host order), or a negative errno. */
int vsn_api_port(const struct vsn_api *api);
/* Re-read the tokens file (SIGHUP). A file that does not load keeps the tokens in force. */
int vsn_api_reload_tokens(struct vsn_api *api, struct vsn_api_msg *msg);
/*
 * Re-read the certificate and key (SIGHUP), for new connections; connections open keep theirs.
 * Files that do not load keep the ones in force.
 */
int vsn_api_reload_cert(struct vsn_api *api, struct vsn_api_msg *msg);
/* Close every connection (requests in progress get no answer) and free everything. */
void vsn_api_free(struct vsn_api *api);

#endif /* VSN_API_H */
