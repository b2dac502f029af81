/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of libvsnapi share:
 *
 *   api.c     the server: listener, TLS, the request's way from evhttp to a route and back
 *   routes.c  the route table; each endpoint's inputs into its op
 *   tokens.c  the tokens file and the constant-time lookup of a bearer token
 *   err.c     struct vsn_api_err, vsn_api_time
 */
#ifndef VSN_API_INTERNAL_H
#define VSN_API_INTERNAL_H

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>

#include "vsn_api.h"

struct api_tokens;

struct vsn_api {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	SSL_CTX *ssl;
	char *cert_file, *key_file, *tokens_file;
	struct api_tokens *tokens;
	const struct vsn_api_ops *ops;
	void *ops_arg;
	void (*on_access)(const struct vsn_api_access *a, void *arg);
	void *access_arg;
	size_t body_max;
};

/* One request on its way through a route. */
struct api_call {
	struct vsn_api *api;
	struct evhttp_request *req;
	const char *arg;	/* the path's {} segment, percent-decoded; NULL: none */
	struct evkeyvalq query; /* the query's parameters */
	json_t *body;		/* the JSON object the request carried; NULL: none */
	/* What the handler answers: a JSON value, or text (text_type) in text, or err. */
	json_t *result;
	struct evbuffer *text;
	const char *text_type;
	struct vsn_api_err err;
};

/* A field of a request's body. */
struct api_field {
	const char *key; /* NULL: the end of a list */
	json_type type;
	bool required;
};

struct api_route {
	enum evhttp_cmd_type method;
	/* The path; a "{}" segment matches one segment of the request's, then in api_call.arg. */
	const char *pattern;
	enum vsn_api_role role; /* the least role it takes; NONE: no token needed */
	/*
	 * The body's fields (NULL: no body; one is ignored). A body is required when a field
	 * is; else none at all is as good as {}.
	 */
	const struct api_field *fields;
	const char *const *params; /* the query parameters it takes, NULL-terminated; NULL: none */
	/* 0 with c->result (or c->text) set, or a negative errno with c->err set. */
	int (*handle)(struct api_call *c);
};

extern const struct api_route api_routes[];
extern const size_t api_n_routes;

/* Format msg->msg (msg may be NULL); returns r. */
int api_msg(struct vsn_api_msg *msg, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tokens.c */
int api_tokens_load(const char *path, struct api_tokens **ret, struct vsn_api_msg *msg);
/* The role of token (len bytes, not NUL-terminated); NONE when the file does not have it. */
enum vsn_api_role api_tokens_find(const struct api_tokens *t, const char *token, size_t len);
void api_tokens_free(struct api_tokens *t);

/* err.c: the status that answers an op's failure: err->status, else one from r. */
int api_err_status(const struct vsn_api_err *err, int r);

#endif /* VSN_API_INTERNAL_H */
