/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server: a listener, TLS on every connection (evhttp_set_bevcb), and one generic
 * callback that takes each request from evhttp through authentication, the route table, the
 * body and the handler to its answer and the access log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "api_internal.h"

#define API_HEADERS_MAX (64 << 10)
/* A connection idle (or a request unfinished) this long is closed. */
#define API_TIMEOUT_S 60

/*
 * A server-only context: TLS 1.2 or later, the controller's certificate (and the chain after it
 * in the file) and key. No client certificate is asked for: API clients present a token.
 */
static int tls_ctx_new(const char *cert, const char *key, SSL_CTX **ret, struct vsn_api_msg *msg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what;
	char why[200];

	if (!ctx)
		return api_msg(msg, -ENOMEM, "out of memory for a TLS context");
	what = cert;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		goto fail;
	what = key;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	*ret = ctx;
	return 0;
fail:
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return api_msg(msg, -EINVAL, "%s: %s", what, why);
}

static struct bufferevent *new_bev(struct event_base *base, void *arg)
{
	struct vsn_api *api = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(api->ssl);

	/*
	 * evhttp falls back to a plain socket when this returns NULL (only when out of memory):
	 * a TLS client's handshake then fails, so no token ever crosses in the clear.
	 */
	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	/* Clients that close without close_notify (most do) are no error. */
	if (bev)
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/*
 * Whether path matches pattern; a "{}" in pattern matches one non-empty segment, whose start
 * and length go to *arg and *arg_len.
 */
static bool path_match(const char *pattern, const char *path, const char **arg, size_t *arg_len)
{
	while (*pattern) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t n = strcspn(path, "/");

			if (!n)
				return false;
			*arg = path;
			*arg_len = n;
			path += n;
			pattern += 2;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*path;
}

/* The route of (method, path), or NULL with *path_known (some route has the path) and allow. */
static const struct api_route *route_find(enum evhttp_cmd_type method, const char *path,
					  const char **arg, size_t *arg_len, bool *path_known,
					  char *allow, size_t allow_sz)
{
	const struct api_route *found = NULL;

	*path_known = false;
	allow[0] = '\0';
	for (size_t i = 0; i < api_n_routes; i++) {
		const struct api_route *rt = &api_routes[i];

		if (!path_match(rt->pattern, path, arg, arg_len))
			continue;
		*path_known = true;
		snprintf(allow + strlen(allow), allow_sz - strlen(allow), "%s%s",
			 allow[0] ? ", " : "", method_name(rt->method));
		if (rt->method == method && !found)
			found = rt;
	}
	return found;
}

/* The bearer token's role; NONE for none (*given false) or an unknown one. */
static enum vsn_api_role authenticate(struct api_call *c, bool *given)
{
	const char *h =
		evhttp_find_header(evhttp_request_get_input_headers(c->req), "Authorization");
	size_t len;

	*given = false;
	if (!h || strncasecmp(h, "Bearer ", 7))
		return VSN_API_ROLE_NONE;
	h += 7;
	h += strspn(h, " ");
	len = strcspn(h, " ");
	if (!len || h[len + strspn(h + len, " ")])
		return VSN_API_ROLE_NONE;
	*given = true;
	return api_tokens_find(c->api->tokens, h, len);
}

/* A request that does not pass: status and why. */
#define FAIL(c, status, ...) vsn_api_fail(&(c)->err, -EINVAL, status, __VA_ARGS__)

static const char *type_name(json_type t)
{
	return t == JSON_STRING ? "a string" : t == JSON_INTEGER ? "an integer" : "an object";
}

/* c->body (NULL: {}) against fields: none unknown, each of its type, the required there. */
static int check_fields(struct api_call *c, const struct api_field *fields)
{
	const struct api_field *f;
	const char *key;
	json_t *v;

	json_object_foreach(c->body, key, v)
	{
		for (f = fields; f->key && strcmp(f->key, key); f++)
			;
		if (!f->key)
			return FAIL(c, 400, "unknown field '%s'", key);
		if (json_typeof(v) != f->type)
			return FAIL(c, 400, "'%s' must be %s", key, type_name(f->type));
	}
	for (f = fields; f->key; f++)
		if (f->required && !json_object_get(c->body, f->key))
			return FAIL(c, 400, "'%s' is required", f->key);
	return 0;
}

/* The request's body into c->body, as route rt takes it. */
static int read_body(struct api_call *c, const struct api_route *rt)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	const char *type;
	json_error_t jerr;

	if (!rt->fields)
		return 0;
	if (!len)
		return check_fields(c, rt->fields);
	/* evhttp stops a longer body before it is read; this guards a body_max it did not see. */
	if (len > c->api->body_max)
		return FAIL(c, 413, "the request body is larger than %zu bytes", c->api->body_max);
	type = evhttp_find_header(evhttp_request_get_input_headers(c->req), "Content-Type");
	if (type && strncasecmp(type, "application/json", 16))
		return FAIL(c, 415, "the request body must be application/json, not %s", type);
	c->body = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES,
			     &jerr);
	if (!c->body) {
		vsn_api_err_detail(&c->err, "request body", jerr.line > 0 ? jerr.line : 0,
				   jerr.column > 0 ? jerr.column : 0, "%s", jerr.text);
		return FAIL(c, 400, "the request body is not valid JSON");
	}
	if (!json_is_object(c->body))
		return FAIL(c, 400, "the request body must be a JSON object");
	return check_fields(c, rt->fields);
}

/* The query's parameters: each one of names (NULL: none), at most once; 400 otherwise. */
static int check_query(struct api_call *c, const char *const *names)
{
	const struct evkeyval *kv, *o;

	TAILQ_FOREACH(kv, &c->query, next)
	{
		const char *const *n = names;

		while (n && *n && strcmp(*n, kv->key))
			n++;
		if (!n || !*n)
			return FAIL(c, 400, "unknown query parameter '%s'", kv->key);
		for (o = TAILQ_FIRST(&c->query); o != kv; o = TAILQ_NEXT(o, next))
			if (!strcmp(o->key, kv->key))
				return FAIL(c, 400, "query parameter '%s' given twice", kv->key);
	}
	return 0;
}

/* Run the request to the point where c->result, c->text or c->err holds its answer. */
static int dispatch(struct api_call *c, enum vsn_api_role *role, bool *unknown_token)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(c->req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
	const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	const struct api_route *rt;
	const char *arg = NULL;
	size_t arg_len = 0;
	char allow[64];
	bool known, given;
	int r;

	if (!path || !*path)
		path = "/";
	rt = route_find(method, path, &arg, &arg_len, &known, allow, sizeof(allow));
	if (!rt || rt->role != VSN_API_ROLE_NONE) {
		*role = authenticate(c, &given);
		*unknown_token = given && *role == VSN_API_ROLE_NONE;
		if (!given)
			return FAIL(c, 401,
				    "no token: send the header Authorization: Bearer TOKEN");
		if (*unknown_token)
			return FAIL(c, 401, "unknown token");
	}
	if (!known)
		return FAIL(c, 404, "no such endpoint: %s", path);
	if (!rt) {
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow", allow);
		return FAIL(c, 405, "%s %s is not allowed (allowed: %s)", method_name(method), path,
			    allow);
	}
	if (*role < rt->role)
		return FAIL(c, 403, "the %s role may not %s %s", vsn_api_role_name(*role),
			    method_name(method), path);
	if (arg) {
		char *seg = strndup(arg, arg_len);
		size_t n;

		c->arg = seg ? evhttp_uridecode(seg, 0, &n) : NULL;
		free(seg);
		if (!c->arg)
			return -ENOMEM;
		/* An encoded NUL or '/' inside a segment names nothing. */
		if (n != strlen(c->arg) || strchr(c->arg, '/'))
			return FAIL(c, 400, "a bad name in the path");
	}
	if (query && evhttp_parse_query_str(query, &c->query))
		return FAIL(c, 400, "the query does not parse");
	r = check_query(c, rt->params);
	if (!r)
		r = read_body(c, rt);
	if (r)
		return r;
	return rt->handle(c);
}

static int dump_to_evbuffer(const char *buf, size_t size, void *data)
{
	return evbuffer_add(data, buf, size);
}

/* s as a JSON string; bytes that are not UTF-8 (an op may echo a document's) become '?'. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s);
	char *t;

	if (j)
		return j;
	t = strdup(s);
	if (!t)
		return NULL;
	for (char *p = t; *p; p++)
		if (*p & 0x80)
			*p = '?';
	j = json_string(t);
	free(t);
	return j;
}

/* {"error": ..., "details": [...]} for c->err. */
static json_t *error_json(const struct vsn_api_err *err, int r)
{
	json_t *details = json_array();

	for (size_t i = 0; details && i < err->n_details; i++) {
		const struct vsn_api_detail *d = &err->details[i];

		json_array_append_new(details, json_pack("{s:o, s:I, s:I, s:o}", "file",
							 text(d->file), "line", (json_int_t)d->line,
							 "column", (json_int_t)d->column, "message",
							 text(d->message)));
	}
	return json_pack("{s:o, s:o*}", "error",
			 text(err->message[0] ? err->message : strerror(-r)), "details", details);
}

/* Queue the answer; returns its status. */
static int answer(struct api_call *c, int r, bool unknown_token)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	struct evbuffer *out = evbuffer_new();
	int status = 200;
	json_t *j = NULL;

	if (!out) {
		evhttp_send_error(c->req, 500, NULL);
		return 500;
	}
	if (!r && c->text) {
		evhttp_add_header(h, "Content-Type", c->text_type);
		evbuffer_add_buffer(out, c->text);
	} else {
		if (!r && !json_is_object(c->result))
			r = vsn_api_fail(&c->err, -EIO, 500,
					 "the controller's answer is not a JSON object");
		if (r) {
			status = api_err_status(&c->err, r);
			j = error_json(&c->err, r);
		}
		if (r && status == 401)
			evhttp_add_header(h, "WWW-Authenticate",
					  unknown_token
						  ? "Bearer realm=\"vsn\", error=\"invalid_token\""
						  : "Bearer realm=\"vsn\"");
		evhttp_add_header(h, "Content-Type", "application/json");
		if (json_dump_callback(j ? j : c->result, dump_to_evbuffer, out, JSON_COMPACT) ||
		    evbuffer_add(out, "\n", 1)) {
			evbuffer_free(out);
			json_decref(j);
			evhttp_send_error(c->req, 500, NULL);
			return 500;
		}
		json_decref(j);
	}
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(c->req, status, NULL, out);
	evbuffer_free(out);
	return status;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void access_log(struct api_call *c, int status, enum vsn_api_role role,
		       const struct timespec *t0)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(c->req);
	struct vsn_api_access a = {
		.method = method_name(evhttp_request_get_command(c->req)),
		.path = evhttp_uri_get_path(uri),
		.peer = "",
		.status = status,
		.role = role,
	};
	char peer[INET6_ADDRSTRLEN + 16];
	char *host = NULL;
	ev_uint16_t port = 0;

	if (!c->api->on_access)
		return;
	if (evcon) {
		evhttp_connection_get_peer(evcon, &host, &port);
		if (host) {
			snprintf(peer, sizeof(peer), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
				 port);
			a.peer = peer;
		}
	}
	if (!a.path)
		a.path = "";
	a.ms = ms_since(t0);
	c->api->on_access(&a, c->api->access_arg);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct api_call c = {.api = arg, .req = req};
	enum vsn_api_role role = VSN_API_ROLE_NONE;
	bool unknown_token = false;
	struct timespec t0;
	int r, status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	TAILQ_INIT(&c.query);
	r = dispatch(&c, &role, &unknown_token);
	status = answer(&c, r, unknown_token);
	access_log(&c, status, role, &t0);
	evhttp_clear_headers(&c.query);
	free((char *)c.arg);
	json_decref(c.body);
	json_decref(c.result);
	if (c.text)
		evbuffer_free(c.text);
	vsn_api_err_clear(&c.err);
}

/* "ADDR:PORT", an IPv6 address in brackets; port 0 (which libevent's parser refuses) too. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, int *len)
{
	const char *colon = strrchr(s, ':'), *host = s;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char buf[INET6_ADDRSTRLEN];
	unsigned long port;
	size_t n;
	char *end;

	if (!colon || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	n = colon - s;
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return -EINVAL;
		host++;
		n -= 2;
	}
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, host, n);
	buf[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] != '[' && inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else if (s[0] == '[' && inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	return 0;
}

static int listen_on(struct vsn_api *api, const char *addr, struct vsn_api_msg *msg)
{
	struct evconnlistener *lev;
	struct sockaddr_storage ss;
	int len;

	if (parse_listen(addr, &ss, &len))
		return api_msg(msg, -EINVAL, "%s: not ADDR:PORT", addr);
	lev = evconnlistener_new_bind(api->base, NULL, NULL,
				      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					      LEV_OPT_CLOSE_ON_EXEC,
				      -1, (struct sockaddr *)&ss, len);
	if (!lev) {
		int r = errno ? -errno : -EADDRNOTAVAIL;

		return api_msg(msg, r, "%s: %s", addr, strerror(-r));
	}
	/*
	 * Accepted sockets inherit TCP_NODELAY (Linux): an answer leaves as TLS records in more
	 * than one write, and Nagle would hold the last one for the client's delayed ACK (40 ms).
	 */
	setsockopt(evconnlistener_get_fd(lev), IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	api->bound = evhttp_bind_listener(api->http, lev);
	if (!api->bound) {
		evconnlistener_free(lev);
		return api_msg(msg, -ENOMEM, "out of memory");
	}
	return 0;
}

int vsn_api_new(struct event_base *base, const struct vsn_api_opts *opts, struct vsn_api **ret_api,
		struct vsn_api_msg *msg)
{
	struct vsn_api_opts o = {0};
	struct vsn_api *api;
	int r;

	if (!base || !opts || !opts->sz || opts->sz > sizeof(o))
		return api_msg(msg, -EINVAL, "bad options");
	memcpy(&o, opts, opts->sz);
	if (!o.listen || !o.cert_file || !o.key_file || !o.tokens_file || !o.ops ||
	    o.body_max > VSN_API_BODY_MAX)
		return api_msg(msg, -EINVAL, "bad options");
	api = calloc(1, sizeof(*api));
	if (!api)
		return api_msg(msg, -ENOMEM, "out of memory");
	api->base = base;
	api->ops = o.ops;
	api->ops_arg = o.ops_arg;
	api->on_access = o.on_access;
	api->access_arg = o.access_arg;
	api->body_max = o.body_max ? o.body_max : VSN_API_BODY_MAX;
	api->cert_file = strdup(o.cert_file);
	api->key_file = strdup(o.key_file);
	api->tokens_file = strdup(o.tokens_file);
	api->http = evhttp_new(base);
	if (!api->cert_file || !api->key_file || !api->tokens_file || !api->http) {
		r = api_msg(msg, -ENOMEM, "out of memory");
		goto fail;
	}
	r = api_tokens_load(o.tokens_file, &api->tokens, msg);
	if (!r)
		r = tls_ctx_new(o.cert_file, o.key_file, &api->ssl, msg);
	if (r)
		goto fail;
	evhttp_set_bevcb(api->http, new_bev, api);
	evhttp_set_gencb(api->http, on_request, api);
	evhttp_set_max_body_size(api->http, (ev_ssize_t)api->body_max);
	evhttp_set_max_headers_size(api->http, API_HEADERS_MAX);
	evhttp_set_timeout(api->http, API_TIMEOUT_S);
	/* Every method reaches on_request, so that a wrong one is a JSON 405 too. */
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						      EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	r = listen_on(api, o.listen, msg);
	if (r)
		goto fail;
	*ret_api = api;
	return 0;
fail:
	vsn_api_free(api);
	return r;
}

int vsn_api_port(const struct vsn_api *api)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(evhttp_bound_socket_get_fd(api->bound), (struct sockaddr *)&ss, &len))
		return -errno;
	/* sin_port and sin6_port sit at the same offset. */
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int vsn_api_reload_tokens(struct vsn_api *api, struct vsn_api_msg *msg)
{
	struct api_tokens *t;
	int r = api_tokens_load(api->tokens_file, &t, msg);

	if (r)
		return r;
	api_tokens_free(api->tokens);
	api->tokens = t;
	return 0;
}

int vsn_api_reload_cert(struct vsn_api *api, struct vsn_api_msg *msg)
{
	SSL_CTX *ctx;
	int r = tls_ctx_new(api->cert_file, api->key_file, &ctx, msg);

	if (r)
		return r;
	/* Open connections' SSL objects hold references to the old context. */
	SSL_CTX_free(api->ssl);
	api->ssl = ctx;
	return 0;
}

void vsn_api_free(struct vsn_api *api)
{
	if (!api)
		return;
	if (api->http)
		evhttp_free(api->http);
	SSL_CTX_free(api->ssl);
	api_tokens_free(api->tokens);
	free(api->cert_file);
	free(api->key_file);
	free(api->tokens_file);
	free(api);
}
