/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnapi, the API layer alone: the server on 127.0.0.1:0 in-process, its ops a test
 * implementation that records each call and answers canned JSON, and libcurl clients (a raw
 * one, and the vsn CLI's own, cli/ctl_http.c) each in a thread of its own while this thread runs
 * the event loop. Tokens and roles, 404, 405, bad bodies, 413, errors with positions, /metrics,
 * TLS against an untrusted CA, token reloads; then the CLI's tables as pure functions.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "ctl_cli.h"
#include "vsn_api.h"
#include "vsn_tls.h"
#include "cert_dir.h"

#define ADMIN_TOKEN "admin-0123456789abcdef0123456789"
#define READ_TOKEN "read-0123456789abcdef0123456789ab"

/* What the test ops saw. */
struct rec {
	int apply, diff, history, rollback, events, status, drain, undrain, state, metrics;
	char doc[64], name[64], author[64], message[64], slb[64];
	size_t doc_len;
	uint64_t revision, since;
	bool has_since;
	unsigned int limit;
	int access;
	struct vsn_api_access last;
	char last_path[64];
};

struct env {
	char dir[64];
	struct event_base *base;
	struct vsn_api *api;
	struct event *done_ev;
	int done[2]; /* a request's thread writes a byte when it is through */
	char url[64];
	struct rec rec;
};

static struct env env;

static void copy(char *dst, size_t sz, const char *s)
{
	snprintf(dst, sz, "%s", s ? s : "(null)");
}

static json_t *canned(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static int op_apply(void *arg, const struct vsn_api_apply_req *req, json_t **ret,
		    struct vsn_api_err *err)
{
	struct rec *r = arg;

	r->apply++;
	copy(r->doc, sizeof(r->doc), req->doc.text);
	r->doc_len = req->doc.len;
	copy(r->name, sizeof(r->name), req->doc.name);
	copy(r->author, sizeof(r->author), req->author);
	copy(r->message, sizeof(r->message), req->message);
	if (strstr(req->doc.text, "adress")) {
		assert_int_equal(
			vsn_api_err_detail(err, req->doc.name, 3, 5, "slb: unknown field 'adress'"),
			0);
		assert_int_equal(
			vsn_api_err_detail(err, req->doc.name, 9, 0, "pool '%s': empty", "primary"),
			0);
		return vsn_api_fail(err, -EINVAL, 400, "the document has %d errors", 2);
	}
	*ret = canned("{\"revision\": 4, \"changed_nodes\": [\"edge-1\", \"edge-2\"]}");
	return 0;
}

static int op_diff(void *arg, const struct vsn_api_document *doc, json_t **ret,
		   struct vsn_api_err *err)
{
	struct rec *r = arg;

	r->diff++;
	copy(r->name, sizeof(r->name), doc->name);
	*ret = canned("{\"revision\": 3, \"changes\": [], \"nodes\": []}");
	return 0;
}

static int op_history(void *arg, const struct vsn_api_history_req *req, json_t **ret,
		      struct vsn_api_err *err)
{
	struct rec *r = arg;

	r->history++;
	r->limit = req->limit;
	*ret = canned("{\"revisions\": []}");
	return 0;
}

static int op_rollback(void *arg, const struct vsn_api_rollback_req *req, json_t **ret,
		       struct vsn_api_err *err)
{
	struct rec *r = arg;

	r->rollback++;
	r->revision = req->revision;
	/* No vsn_api_fail: the server answers from the errno. */
	return -ENOENT;
}

static int op_events(void *arg, const struct vsn_api_events_req *req, json_t **ret,
		     struct vsn_api_err *err)
{
	struct rec *r = arg;

	r->events++;
	r->has_since = req->has_since;
	r->since = req->since;
	r->limit = req->limit;
	*ret = canned("{\"events\": []}");
	return 0;
}

static int op_status(void *arg, json_t **ret, struct vsn_api_err *err)
{
	struct rec *r = arg;

	r->status++;
	*ret = canned("{\"revision\": 3, \"services\": [], \"nodes\": [], \"slbs\": []}");
	return 0;
}

static int op_slb(struct rec *r, const struct vsn_api_slb_req *req, json_t **ret, const char *state)
{
	copy(r->slb, sizeof(r->slb), req->slb);
	copy(r->author, sizeof(r->author), req->author);
	*ret = json_pack("{s:s, s:s, s:s, s:i}", "slb", req->slb, "state", state, "previous", "up",
			 "nodes", 2);
	return 0;
}

static int op_drain(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		    struct vsn_api_err *err)
{
	((struct rec *)arg)->drain++;
	return op_slb(arg, req, ret, "drain");
}

static int op_undrain(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		      struct vsn_api_err *err)
{
	((struct rec *)arg)->undrain++;
	return op_slb(arg, req, ret, "up");
}

static int op_metrics(void *arg, FILE *out)
{
	((struct rec *)arg)->metrics++;
	fprintf(out, "# TYPE vsn_applies_total counter\nvsn_applies_total 4\n");
	return 0;
}

/* Every op but state: GET /v1/state answers 501. */
static const struct vsn_api_ops ops = {
	.apply = op_apply,
	.diff = op_diff,
	.history = op_history,
	.rollback = op_rollback,
	.events = op_events,
	.status = op_status,
	.drain = op_drain,
	.undrain = op_undrain,
	.metrics = op_metrics,
};

static void on_access(const struct vsn_api_access *a, void *arg)
{
	struct rec *r = arg;

	r->access++;
	r->last = *a;
	copy(r->last_path, sizeof(r->last_path), a->path);
	r->last.path = r->last_path;
	r->last.method = NULL;
	r->last.peer = NULL;
}

static char *path(const char *rel)
{
	return cert_path(env.dir, rel);
}

static void write_file(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
	event_base_loopbreak(env.base);
}

/* Run fn(arg) in a thread while the event loop serves it. */
static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	assert_int_equal(event_base_dispatch(env.base), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void done(void)
{
	assert_int_equal(write(env.done[1], "x", 1), 1);
}

/* A request made with libcurl alone, so that it can be anything. */
struct raw {
	const char *method, *path, *token, *content_type;
	const char *body;
	size_t body_len;
	long status;
	char *out; /* the answer's body */
	size_t out_len;
	char headers[4096];
	CURLcode rc;
};

static size_t raw_body(char *data, size_t size, size_t n, void *arg)
{
	struct raw *r = arg;
	char *b = realloc(r->out, r->out_len + size * n + 1);

	assert_non_null(b);
	memcpy(b + r->out_len, data, size * n);
	r->out = b;
	r->out_len += size * n;
	b[r->out_len] = '\0';
	return size * n;
}

static size_t raw_header(char *data, size_t size, size_t n, void *arg)
{
	struct raw *r = arg;
	size_t have = strlen(r->headers);

	snprintf(r->headers + have, sizeof(r->headers) - have, "%.*s", (int)(size * n), data);
	return size * n;
}

static void *raw_run(void *arg)
{
	struct raw *r = arg;
	struct curl_slist *h = NULL;
	char url[256], auth[128], type[128];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", env.url, r->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, path("ca/ca.crt"));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (r->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", r->token);
		h = curl_slist_append(h, auth);
	}
	snprintf(type, sizeof(type), "Content-Type: %s",
		 r->content_type ? r->content_type : "application/json");
	h = curl_slist_append(h, type);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	/* A POST without a body is a POST still. */
	if (r->body || !strcmp(r->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	}
	if (strcmp(r->method, "GET") && strcmp(r->method, "POST"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	done();
	return NULL;
}

/* method path with token (NULL: none) and body (NULL: none); the answer's JSON in *ret. */
static long raw(const char *method, const char *p, const char *token, const char *body,
		json_t **ret, struct raw *r)
{
	struct raw local;

	if (!r)
		r = &local;
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->path = p;
	r->token = token;
	r->body = body;
	r->body_len = body ? strlen(body) : 0;
	in_thread(raw_run, r);
	assert_int_equal(r->rc, CURLE_OK);
	if (ret) {
		*ret = json_loads(r->out ? r->out : "", 0, NULL);
		assert_non_null(*ret);
	}
	if (r == &local)
		free(r->out);
	return r->status;
}

static const char *error_of(const json_t *j)
{
	assert_true(json_is_array(json_object_get(j, "details")));
	return json_string_value(json_object_get(j, "error"));
}

/* A request through the CLI's client. */
struct cli_req {
	struct ctl_opts o;
	const char *method, *path;
	json_t *body;
	int r;
	struct ctl_reply rep;
	char err[CTL_ERR_LEN];
	struct ctl_client *cl;
};

static void *cli_run(void *arg)
{
	struct cli_req *q = arg;

	q->r = ctl_client_new(&q->o, "test", &q->cl);
	if (!q->r)
		q->r = ctl_http(q->cl, q->method, q->path, q->body, &q->rep, q->err,
				sizeof(q->err));
	done();
	return NULL;
}

static int group_setup(void **state)
{
	struct vsn_cert_opts co = {.sz = sizeof(co),
				   .role = VSN_TLS_CONTROLLER,
				   .name = "vsnd",
				   .days = 1,
				   .ips = (const char *const[]){"127.0.0.1"},
				   .n_ips = 1};
	struct vsn_api_opts o = {.sz = sizeof(o), .listen = "127.0.0.1:0"};
	struct vsn_tls_err err = {""};
	struct vsn_api_msg msg = {""};
	int r;

	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), 0);
	snprintf(env.dir, sizeof(env.dir), "/tmp/vsn-test-api.XXXXXX");
	assert_non_null(mkdtemp(env.dir));
	assert_int_equal(vsn_ca_create(path("ca"), "test-ca", 1, &err), 0);
	assert_int_equal(vsn_ca_create(path("other"), "other-ca", 1, &err), 0);
	assert_int_equal(vsn_cert_issue(path("ca"), path("ctl"), &co, &err), 0);
	write_file(path("tokens"), "# the operators\n\nadmin " ADMIN_TOKEN "  # alice\n"
				   "read\t" READ_TOKEN "\n");
	env.base = event_base_new();
	assert_non_null(env.base);
	assert_int_equal(pipe(env.done), 0);
	env.done_ev = event_new(env.base, env.done[0], EV_READ | EV_PERSIST, on_done, NULL);
	assert_int_equal(event_add(env.done_ev, NULL), 0);
	o.cert_file = path("ctl/vsnd.crt");
	o.key_file = path("ctl/vsnd.key");
	o.tokens_file = path("tokens");
	o.ops = &ops;
	o.ops_arg = &env.rec;
	o.on_access = on_access;
	o.access_arg = &env.rec;
	r = vsn_api_new(env.base, &o, &env.api, &msg);
	if (r)
		fail_msg("vsn_api_new: %s", msg.msg);
	snprintf(env.url, sizeof(env.url), "https://127.0.0.1:%d", vsn_api_port(env.api));
	return 0;
}

static int group_teardown(void **state)
{
	vsn_api_free(env.api);
	event_free(env.done_ev);
	event_base_free(env.base);
	close(env.done[0]);
	close(env.done[1]);
	cert_dir_remove(env.dir);
	curl_global_cleanup();
	return 0;
}

static int reset(void **state)
{
	memset(&env.rec, 0, sizeof(env.rec));
	return 0;
}

static void test_no_token(void **state)
{
	struct raw r;
	json_t *j;

	assert_int_equal(raw("GET", "/v1/status", NULL, NULL, &j, &r), 401);
	assert_non_null(strstr(error_of(j), "no token"));
	assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"vsn\""));
	assert_non_null(strstr(r.headers, "Content-Type: application/json"));
	assert_int_equal(env.rec.status, 0);
	assert_int_equal(env.rec.last.status, 401);
	assert_int_equal(env.rec.last.role, VSN_API_ROLE_NONE);
	json_decref(j);
	free(r.out);
	/* Not a bearer token, or one with something after it: no token either. */
	assert_int_equal(raw("GET", "/v1/status", "", NULL, NULL, NULL), 401);
	assert_int_equal(raw("GET", "/v1/status", ADMIN_TOKEN " x", NULL, NULL, NULL), 401);
	assert_int_equal(env.rec.status, 0);
}

static void test_unknown_token(void **state)
{
	struct raw r;
	json_t *j;

	assert_int_equal(raw("GET", "/v1/status", "no-such-token-0123456789", NULL, &j, &r), 401);
	assert_string_equal(error_of(j), "unknown token");
	assert_non_null(strstr(r.headers, "error=\"invalid_token\""));
	json_decref(j);
	free(r.out);
	/* One character short of a real one. */
	assert_int_equal(raw("GET", "/v1/status", READ_TOKEN "b", NULL, NULL, NULL), 401);
	assert_int_equal(env.rec.status, 0);
}

static void test_roles(void **state)
{
	const char *doc = "{\"document\": \"nodes: []\\n\", \"name\": \"state.yaml\"}";
	json_t *j;

	assert_int_equal(raw("GET", "/v1/status", READ_TOKEN, NULL, &j, NULL), 200);
	assert_int_equal(env.rec.status, 1);
	assert_int_equal(json_integer_value(json_object_get(j, "revision")), 3);
	assert_int_equal(env.rec.last.role, VSN_API_ROLE_READ);
	assert_string_equal(env.rec.last_path, "/v1/status");
	json_decref(j);

	assert_int_equal(raw("POST", "/v1/apply", READ_TOKEN, doc, &j, NULL), 403);
	assert_non_null(strstr(error_of(j), "the read role may not POST /v1/apply"));
	assert_int_equal(env.rec.apply, 0);
	json_decref(j);
	assert_int_equal(raw("POST", "/v1/rollback", READ_TOKEN, "{\"revision\": 1}", NULL, NULL),
			 403);
	assert_int_equal(raw("POST", "/v1/slbs/slb-a/drain", READ_TOKEN, NULL, NULL, NULL), 403);
	assert_int_equal(env.rec.rollback + env.rec.drain, 0);

	/* diff changes nothing: read may. */
	assert_int_equal(raw("POST", "/v1/diff", READ_TOKEN, doc, NULL, NULL), 200);
	assert_int_equal(env.rec.diff, 1);
	assert_string_equal(env.rec.name, "state.yaml");

	assert_int_equal(raw("POST", "/v1/apply", ADMIN_TOKEN, doc, &j, NULL), 200);
	assert_int_equal(env.rec.apply, 1);
	assert_string_equal(env.rec.doc, "nodes: []\n");
	assert_int_equal(env.rec.doc_len, 10);
	assert_string_equal(env.rec.author, "");
	assert_int_equal(json_array_size(json_object_get(j, "changed_nodes")), 2);
	assert_int_equal(env.rec.last.role, VSN_API_ROLE_ADMIN);
	json_decref(j);
}

static void test_not_found(void **state)
{
	json_t *j;

	assert_int_equal(raw("GET", "/v1/nope", READ_TOKEN, NULL, &j, NULL), 404);
	assert_non_null(strstr(error_of(j), "/v1/nope"));
	json_decref(j);
	assert_int_equal(raw("GET", "/v1/status/", READ_TOKEN, NULL, NULL, NULL), 404);
	assert_int_equal(raw("POST", "/v1/slbs//drain", ADMIN_TOKEN, NULL, NULL, NULL), 404);
	/* Without a token, even a path that does not exist is a 401 first. */
	assert_int_equal(raw("GET", "/v1/nope", NULL, NULL, NULL, NULL), 401);
}

static void test_method_not_allowed(void **state)
{
	struct raw r;
	json_t *j;

	assert_int_equal(raw("GET", "/v1/apply", ADMIN_TOKEN, NULL, &j, &r), 405);
	assert_non_null(strstr(r.headers, "Allow: POST"));
	assert_non_null(strstr(error_of(j), "GET /v1/apply is not allowed"));
	json_decref(j);
	free(r.out);
	assert_int_equal(raw("DELETE", "/v1/status", ADMIN_TOKEN, NULL, &j, NULL), 405);
	json_decref(j);
	assert_int_equal(raw("PATCH", "/metrics", ADMIN_TOKEN, NULL, NULL, NULL), 405);
	assert_int_equal(env.rec.apply + env.rec.status + env.rec.metrics, 0);
}

static void test_bad_body(void **state)
{
	struct {
		const char *body;
		const char *error;
	} cases[] = {
		{"{\"document\": \"x\",\n \"name\" \"a\"}", "not valid JSON"},
		{"[1, 2]", "must be a JSON object"},
		{"{}", "'document' is required"},
		{"{\"document\": 5}", "'document' must be a string"},
		{"{\"document\": \"x\", \"extra\": 1}", "unknown field 'extra'"},
		{"{\"document\": \"x\", \"document\": \"y\"}", "not valid JSON"},
		{"{\"document\": \"a\\u0000b\"}", "not valid JSON"},
	};
	json_t *j, *d;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(raw("POST", "/v1/apply", ADMIN_TOKEN, cases[i].body, &j, NULL),
				 400);
		if (!strstr(error_of(j), cases[i].error))
			fail_msg("%s: %s", cases[i].body, error_of(j));
		json_decref(j);
	}
	/* The JSON parser's position goes into a detail. */
	assert_int_equal(raw("POST", "/v1/apply", ADMIN_TOKEN, cases[0].body, &j, NULL), 400);
	d = json_array_get(json_object_get(j, "details"), 0);
	assert_string_equal(json_string_value(json_object_get(d, "file")), "request body");
	assert_int_equal(json_integer_value(json_object_get(d, "line")), 2);
	assert_true(json_integer_value(json_object_get(d, "column")) > 0);
	json_decref(j);
	/* An empty body where one is needed, a body of another type, a bad revision. */
	assert_int_equal(raw("POST", "/v1/apply", ADMIN_TOKEN, "", NULL, NULL), 400);
	{
		struct raw r = {0};

		memset(&r, 0, sizeof(r));
		r.method = "POST";
		r.path = "/v1/apply";
		r.token = ADMIN_TOKEN;
		r.content_type = "text/plain";
		r.body = "{\"document\": \"x\"}";
		r.body_len = strlen(r.body);
		in_thread(raw_run, &r);
		assert_int_equal(r.status, 415);
		free(r.out);
	}
	assert_int_equal(raw("POST", "/v1/rollback", ADMIN_TOKEN, "{\"revision\": 0}", NULL, NULL),
			 400);
	assert_int_equal(
		raw("POST", "/v1/rollback", ADMIN_TOKEN, "{\"revision\": \"3\"}", NULL, NULL), 400);
	assert_int_equal(env.rec.apply + env.rec.rollback, 0);
}

static void test_oversize(void **state)
{
	size_t n = VSN_API_BODY_MAX + 1;
	char *big = malloc(n + 1);
	struct raw r = {0};

	assert_non_null(big);
	memset(big, ' ', n);
	big[n] = '\0';
	r.method = "POST";
	r.path = "/v1/apply";
	r.token = ADMIN_TOKEN;
	r.body = big;
	r.body_len = n;
	in_thread(raw_run, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.status, 413);
	free(r.out);
	assert_int_equal(env.rec.apply, 0);

	/* 4 MiB of document is fine; the server goes on serving. */
	n = 4u << 20;
	memset(big, 'x', n);
	memcpy(big, "{\"document\": \"", 14);
	memcpy(big + n - 2, "\"}", 2);
	big[n] = '\0';
	assert_int_equal(raw("POST", "/v1/apply", ADMIN_TOKEN, big, NULL, NULL), 200);
	assert_int_equal(env.rec.apply, 1);
	assert_int_equal(env.rec.doc_len, n - 16);
	free(big);
}

/* The CLI's client: an apply refused with positions, printed as the user sees it. */
static void test_apply_details(void **state)
{
	struct cli_req q = {
		.o = {.server = env.url, .token = ADMIN_TOKEN, .ca = path("ca/ca.crt")},
		.method = "POST",
		.path = "/v1/apply",
	};
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	q.body =
		json_pack("{s:s, s:s, s:s, s:s}", "document", "slbs:\n  - name: a\n    adress: x\n",
			  "name", "state.yaml", "author", "alice@ops-1", "message", "typo");
	in_thread(cli_run, &q);
	assert_int_equal(q.r, 0);
	assert_int_equal(q.rep.status, 400);
	assert_int_equal(env.rec.apply, 1);
	assert_string_equal(env.rec.name, "state.yaml");
	assert_string_equal(env.rec.author, "alice@ops-1");
	assert_string_equal(env.rec.message, "typo");
	f = open_memstream(&out, &len);
	assert_non_null(f);
	ctl_fmt_error(f, "apply", q.rep.status, q.rep.json);
	fclose(f);
	assert_string_equal(out, "vsn: apply: the document has 2 errors (HTTP 400)\n"
				 "state.yaml:3:5: slb: unknown field 'adress'\n"
				 "state.yaml:9: pool 'primary': empty\n");
	free(out);
	json_decref(q.body);
	ctl_client_free(q.cl);
}

static void test_metrics(void **state)
{
	struct raw r;

	assert_int_equal(raw("GET", "/metrics", NULL, NULL, NULL, &r), 200);
	assert_string_equal(r.out, "# TYPE vsn_applies_total counter\nvsn_applies_total 4\n");
	assert_non_null(strstr(r.headers, "Content-Type: text/plain; version=0.0.4"));
	assert_int_equal(env.rec.metrics, 1);
	free(r.out);
	/* A token, even an unknown one, changes nothing there. */
	assert_int_equal(raw("GET", "/metrics", "whatever-token-0123456789", NULL, NULL, NULL),
			 200);
}

static void test_tls_untrusted(void **state)
{
	struct cli_req q = {
		.o = {.server = env.url, .token = ADMIN_TOKEN, .ca = path("other/ca.crt")},
		.method = "GET",
		.path = "/v1/status",
	};

	in_thread(cli_run, &q);
	assert_int_equal(q.r, -EIO);
	assert_non_null(strstr(q.err, "does not verify"));
	ctl_client_free(q.cl);
	/* The system's CAs do not know the operator's either. */
	q.o.ca = NULL;
	q.cl = NULL;
	unsetenv("VSN_CA");
	in_thread(cli_run, &q);
	assert_int_equal(q.r, -EIO);
	ctl_client_free(q.cl);
	assert_int_equal(env.rec.status, 0);
	/* The same client with the right CA gets through. */
	q.o.ca = path("ca/ca.crt");
	q.cl = NULL;
	in_thread(cli_run, &q);
	assert_int_equal(q.r, 0);
	assert_int_equal(q.rep.status, 200);
	assert_int_equal(env.rec.status, 1);
	ctl_client_free(q.cl);
}

static void test_cli_connect_refused(void **state)
{
	struct cli_req q = {
		.o = {.server = "https://127.0.0.1:1",
		      .token = ADMIN_TOKEN,
		      .ca = path("ca/ca.crt")},
		.method = "GET",
		.path = "/v1/status",
	};

	in_thread(cli_run, &q);
	assert_int_equal(q.r, -EIO);
	assert_non_null(strstr(q.err, "cannot connect to https://127.0.0.1:1"));
	ctl_client_free(q.cl);
	/* Usage errors: no token, a URL that is not https. */
	q.o.token = NULL;
	unsetenv("VSN_TOKEN");
	assert_int_equal(ctl_client_new(&q.o, "test", &q.cl), 2);
	q.o.token = ADMIN_TOKEN;
	q.o.server = "http://127.0.0.1:7443";
	assert_int_equal(ctl_client_new(&q.o, "test", &q.cl), 2);
}

static void test_queries(void **state)
{
	json_t *j;

	assert_int_equal(raw("GET", "/v1/events?since=41&limit=10", READ_TOKEN, NULL, NULL, NULL),
			 200);
	assert_true(env.rec.has_since);
	assert_int_equal(env.rec.since, 41);
	assert_int_equal(env.rec.limit, 10);
	assert_int_equal(raw("GET", "/v1/events", READ_TOKEN, NULL, NULL, NULL), 200);
	assert_false(env.rec.has_since);
	assert_int_equal(env.rec.limit, VSN_API_LIMIT_DEFAULT);
	assert_int_equal(raw("GET", "/v1/history", READ_TOKEN, NULL, NULL, NULL), 200);
	assert_int_equal(env.rec.limit, VSN_API_LIMIT_DEFAULT);
	assert_int_equal(env.rec.events, 2);

	assert_int_equal(raw("GET", "/v1/events?limit=1001", READ_TOKEN, NULL, &j, NULL), 400);
	assert_non_null(strstr(error_of(j), "'limit' must be a number from 1 to 1000"));
	json_decref(j);
	assert_int_equal(raw("GET", "/v1/events?since=-1", READ_TOKEN, NULL, NULL, NULL), 400);
	assert_int_equal(raw("GET", "/v1/events?since=1&since=2", READ_TOKEN, NULL, NULL, NULL),
			 400);
	assert_int_equal(raw("GET", "/v1/status?verbose=1", READ_TOKEN, NULL, &j, NULL), 400);
	assert_non_null(strstr(error_of(j), "unknown query parameter 'verbose'"));
	json_decref(j);
	assert_int_equal(env.rec.events, 2);
	assert_int_equal(env.rec.status, 0);
}

static void test_slbs(void **state)
{
	json_t *j;

	assert_int_equal(raw("POST", "/v1/slbs/slb-a/drain", ADMIN_TOKEN,
			     "{\"author\": \"bob@ops-2\"}", &j, NULL),
			 200);
	assert_int_equal(env.rec.drain, 1);
	assert_string_equal(env.rec.slb, "slb-a");
	assert_string_equal(env.rec.author, "bob@ops-2");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "drain");
	json_decref(j);
	/* No body at all is fine; the name is percent-decoded. */
	assert_int_equal(raw("POST", "/v1/slbs/slb%2Db/undrain", ADMIN_TOKEN, NULL, NULL, NULL),
			 200);
	assert_int_equal(env.rec.undrain, 1);
	assert_string_equal(env.rec.slb, "slb-b");
	assert_string_equal(env.rec.author, "");
	/* An encoded '/' or NUL names no SLB. */
	assert_int_equal(raw("POST", "/v1/slbs/a%2Fb/drain", ADMIN_TOKEN, NULL, NULL, NULL), 400);
	assert_int_equal(raw("POST", "/v1/slbs/a%00b/drain", ADMIN_TOKEN, NULL, NULL, NULL), 400);
	assert_int_equal(env.rec.drain, 1);
}

static void test_op_errors(void **state)
{
	json_t *j;

	/* An op that fails without saying how: its errno. */
	assert_int_equal(raw("POST", "/v1/rollback", ADMIN_TOKEN, "{\"revision\": 7}", &j, NULL),
			 404);
	assert_int_equal(env.rec.rollback, 1);
	assert_int_equal(env.rec.revision, 7);
	assert_string_equal(error_of(j), strerror(ENOENT));
	json_decref(j);
	/* An op the controller leaves out. */
	assert_int_equal(raw("GET", "/v1/state", READ_TOKEN, NULL, &j, NULL), 501);
	assert_non_null(strstr(error_of(j), "does not implement /v1/state"));
	json_decref(j);
}

static void test_tokens_file(void **state)
{
	char crt[PATH_MAX], key[PATH_MAX], bad[PATH_MAX], other_key[PATH_MAX];
	struct vsn_api_opts o = {.sz = sizeof(o),
				 .listen = "127.0.0.1:0",
				 .cert_file = crt,
				 .key_file = key,
				 .tokens_file = bad,
				 .ops = &ops};
	static const struct {
		const char *text, *error;
	} cases[] = {
		{"admin " ADMIN_TOKEN "\nroot " READ_TOKEN "\n", ":2: unknown role 'root'"},
		{"# x\nadmin\n", ":2: expected ROLE TOKEN"},
		{"admin " ADMIN_TOKEN " extra\n", ":1: expected ROLE TOKEN"},
		{"read short\n", ":1: the token is too short"},
		{"admin " ADMIN_TOKEN "\nread " ADMIN_TOKEN "\n", ":2: the token of line 1 again"},
		{"# nothing\n\n", ": no token in the file"},
	};
	struct vsn_api_msg msg;
	struct vsn_api *api = NULL;
	char want[PATH_MAX + 64];

	/* path()'s buffers rotate: these stay. */
	snprintf(crt, sizeof(crt), "%s", path("ctl/vsnd.crt"));
	snprintf(key, sizeof(key), "%s", path("ctl/vsnd.key"));
	snprintf(bad, sizeof(bad), "%s", path("bad-tokens"));
	snprintf(other_key, sizeof(other_key), "%s", path("other/ca.key"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(bad, cases[i].text);
		assert_int_equal(vsn_api_new(env.base, &o, &api, &msg), -EINVAL);
		snprintf(want, sizeof(want), "%s%s", bad, cases[i].error);
		if (strncmp(msg.msg, want, strlen(want)))
			fail_msg("case %zu: '%s', not '%s'", i, msg.msg, want);
	}
	o.tokens_file = path("missing");
	assert_int_equal(vsn_api_new(env.base, &o, &api, &msg), -ENOENT);
	o.tokens_file = path("tokens");
	o.listen = "127.0.0.1";
	assert_int_equal(vsn_api_new(env.base, &o, &api, &msg), -EINVAL);
	o.listen = "127.0.0.1:0";
	o.key_file = other_key;
	assert_int_equal(vsn_api_new(env.base, &o, &api, &msg), -EINVAL);
	if (!strstr(msg.msg, "other/ca.key"))
		fail_msg("%s", msg.msg);
	assert_null(api);

	/* Reload: a bad file keeps the tokens in force; a good one replaces them. */
	write_file(path("tokens"), "read " READ_TOKEN "\nadmin short\n");
	assert_int_equal(vsn_api_reload_tokens(env.api, &msg), -EINVAL);
	assert_int_equal(raw("GET", "/v1/status", ADMIN_TOKEN, NULL, NULL, NULL), 200);
	write_file(path("tokens"), "read " READ_TOKEN "\nadmin " ADMIN_TOKEN "x\n");
	assert_int_equal(vsn_api_reload_tokens(env.api, &msg), 0);
	assert_int_equal(raw("GET", "/v1/status", ADMIN_TOKEN, NULL, NULL, NULL), 401);
	assert_int_equal(raw("GET", "/v1/status", ADMIN_TOKEN "x", NULL, NULL, NULL), 200);
	write_file(path("tokens"), "admin " ADMIN_TOKEN "\nread " READ_TOKEN "\n");
	assert_int_equal(vsn_api_reload_tokens(env.api, &msg), 0);
	/* Certificates: a bad key keeps the context in force. */
	assert_int_equal(vsn_api_reload_cert(env.api, &msg), 0);
	assert_int_equal(raw("GET", "/v1/status", ADMIN_TOKEN, NULL, NULL, NULL), 200);
}

static void test_err_helpers(void **state)
{
	struct vsn_api_err err = {0};
	json_t *t;

	assert_int_equal(vsn_api_fail(&err, -EBUSY, 409, "a rollout is running (%d nodes)", 3),
			 -EBUSY);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.message, "a rollout is running (3 nodes)");
	assert_int_equal(vsn_api_err_detail(&err, NULL, 1, 2, "x"), 0);
	assert_string_equal(err.details[0].file, "");
	vsn_api_err_clear(&err);
	assert_int_equal(err.n_details, 0);
	t = vsn_api_time(1795766010802);
	assert_string_equal(json_string_value(t), "2026-11-27T07:53:30.802Z");
	json_decref(t);
	t = vsn_api_time(-1);
	assert_string_equal(json_string_value(t), "1969-12-31T23:59:59.999Z");
	json_decref(t);
}

/* The CLI's output as pure functions of the API's JSON. */
static char *fmt(int (*fn)(FILE *f, const json_t *v), const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(j);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(fn(f, j), 0);
	fclose(f);
	json_decref(j);
	return out;
}

static void expect_fmt(int (*fn)(FILE *f, const json_t *v), const char *json, const char *want)
{
	char *out = fmt(fn, json);

	assert_string_equal(out, want);
	free(out);
}

static int events_once(FILE *f, const json_t *v)
{
	return ctl_fmt_events(f, v, NULL);
}

static void test_fmt_status(void **state)
{
	expect_fmt(
		ctl_fmt_status,
		"{\"revision\": 12,"
		" \"services\": [{\"name\": \"web\", \"configuration\": \"normal\","
		"   \"pinned\": false, \"reason\": \"default: no condition holds\"},"
		"  {\"name\": \"api-long\", \"configuration\": \"overflow\", \"pinned\": true,"
		"   \"reason\": \"pinned by alice\"}],"
		" \"nodes\": [{\"name\": \"edge-1\", \"connected\": true, \"sync\": \"in-sync\","
		"   \"desired_generation\": 8, \"running_generation\": 8, \"lag_ms\": 0,"
		"   \"last_error\": null},"
		"  {\"name\": \"edge-22\", \"connected\": false, \"sync\": \"pending\","
		"   \"desired_generation\": 9, \"running_generation\": 7, \"lag_ms\": 12500,"
		"   \"last_error\": \"NACK_INVALID: bad\\u001b[31m\"}],"
		" \"slbs\": [{\"name\": \"slb-a\", \"address\": \"10.20.0.10\", \"state\": "
		"\"drain\", \"health\": null, \"load\": null},"
		"  {\"name\": \"slb-b\", \"address\": \"10.20.0.11\", \"state\": \"down\","
		"   \"health\": {\"state\": \"down\", \"reason\": \"connect refused\"},"
		"   \"load\": {\"state\": \"failed\", \"value\": null, \"reason\": \"HTTP 404\"}},"
		"  {\"name\": \"slb-c\", \"address\": \"10.20.0.12\", \"state\": \"up\","
		"   \"health\": {\"state\": \"up\", \"reason\": \"HTTP 200\"},"
		"   \"load\": {\"state\": \"ok\", \"value\": 0.4166, \"reason\": \"\"}},"
		"  {\"name\": \"slb-d\", \"address\": \"10.20.0.13\", \"state\": \"up\","
		"   \"health\": {\"state\": \"unknown\", \"reason\": \"\"},"
		"   \"load\": {\"state\": \"unknown\", \"value\": null, \"reason\": \"\"}}]}",
		"revision 12\n"
		"\n"
		"SERVICE   CONFIGURATION      REASON\n"
		"web       normal             default: no condition holds\n"
		"api-long  overflow (pinned)  pinned by alice\n"
		"\n"
		"NODE     CONNECTED  SYNC     DESIRED  RUNNING  LAG    LAST ERROR\n"
		"edge-1   yes        in-sync  8        8        -      -\n"
		"edge-22  no         pending  9        7        12.5s  NACK_INVALID: bad?[31m\n"
		"\n"
		"SLB    ADDRESS     STATE  HEALTH                  LOAD\n"
		"slb-a  10.20.0.10  drain  -                       -\n"
		"slb-b  10.20.0.11  down   down (connect refused)  failed (HTTP 404)\n"
		"slb-c  10.20.0.12  up     up                      0.42\n"
		"slb-d  10.20.0.13  up     unknown                 unknown\n");
	expect_fmt(ctl_fmt_status, "{\"services\": [], \"nodes\": [], \"slbs\": []}",
		   "no services\n\nno nodes\n\nno SLBs\n");
}

static void test_fmt_history_events(void **state)
{
	struct ctl_widths w = {0};
	char *out = NULL;
	size_t len = 0;
	json_t *j;
	FILE *f;

	expect_fmt(ctl_fmt_history,
		   "{\"revisions\": [{\"revision\": 12, \"created\": \"2026-11-27T07:53:30.802Z\","
		   " \"author\": \"alice@ops-1\", \"message\": \"add web\"},"
		   " {\"revision\": 9, \"created\": \"2026-11-26T10:00:00.000Z\","
		   " \"author\": \"bj\\u00f6rn@ops-2\", \"message\": \"\"}]}",
		   "REV  CREATED                   AUTHOR       MESSAGE\n"
		   "12   2026-11-27T07:53:30.802Z  alice@ops-1  add web\n"
		   "9    2026-11-26T10:00:00.000Z  bj\xc3\xb6rn@ops-2  -\n");
	expect_fmt(ctl_fmt_history, "{\"revisions\": []}", "no revisions\n");
	expect_fmt(events_once,
		   "{\"events\": [{\"id\": 41, \"time\": \"2026-11-27T07:53:30.802Z\","
		   " \"type\": \"apply\", \"subject\": \"revision 12\","
		   " \"detail\": {\"author\": \"alice@ops-1\", \"message\": \"add web\","
		   " \"changed_nodes\": [\"edge-1\", \"edge-2\"]}}]}",
		   "ID  TIME                      TYPE   SUBJECT      DETAIL\n"
		   "41  2026-11-27T07:53:30.802Z  apply  revision 12  author=alice@ops-1 "
		   "message=\"add web\" changed_nodes=\"edge-1, edge-2\"\n");
	expect_fmt(events_once, "{\"events\": []}", "no events\n");
	/* A quote or a backslash inside a quoted value is escaped, as logfmt does. */
	expect_fmt(
		events_once,
		"{\"events\": [{\"id\": 7, \"time\": \"T\", \"type\": \"configuration\","
		" \"subject\": \"web\", \"detail\": {\"condition\": "
		"\"schedule(\\\"11:13-11:14 UTC\\\")\", \"path\": \"a\\\\b\"}}]}",
		"ID  TIME  TYPE           SUBJECT  DETAIL\n"
		"7   T     configuration  web      condition=\"schedule(\\\"11:13-11:14 UTC\\\")\" "
		"path=\"a\\\\b\"\n");

	/* --follow: the header once, widths that only grow, nothing for an empty batch. */
	f = open_memstream(&out, &len);
	assert_non_null(f);
	j = json_loads("{\"events\": [{\"id\": 1, \"time\": \"T\", \"type\": \"connect\","
		       " \"subject\": \"edge-1\", \"detail\": {}}]}",
		       0, NULL);
	assert_int_equal(ctl_fmt_events(f, j, &w), 0);
	json_decref(j);
	j = json_loads("{\"events\": []}", 0, NULL);
	assert_int_equal(ctl_fmt_events(f, j, &w), 0);
	json_decref(j);
	j = json_loads("{\"events\": [{\"id\": 2, \"time\": \"T\", \"type\": \"nack\","
		       " \"subject\": \"edge-1\", \"detail\": \"x\"}]}",
		       0, NULL);
	assert_int_equal(ctl_fmt_events(f, j, &w), 0);
	json_decref(j);
	fclose(f);
	assert_string_equal(out, "ID  TIME  TYPE     SUBJECT  DETAIL\n"
				 "1   T     connect  edge-1   -\n"
				 "2   T     nack     edge-1   x\n");
	free(out);
}

static void test_fmt_results(void **state)
{
	expect_fmt(ctl_fmt_revision, "{\"revision\": 13, \"changed_nodes\": [\"edge-1\", \"e2\"]}",
		   "revision 13; changed nodes: edge-1, e2\n");
	expect_fmt(ctl_fmt_revision, "{\"revision\": 14, \"changed_nodes\": []}",
		   "revision 14; no node's set changed\n");
	expect_fmt(ctl_fmt_slb,
		   "{\"slb\": \"slb-a\", \"state\": \"drain\", \"previous\": \"up\", \"nodes\": 1}",
		   "slb-a: drain (was up); sent to 1 node\n");
	expect_fmt(ctl_fmt_diff, "{\"revision\": 12, \"changes\": [], \"nodes\": []}",
		   "no changes against revision 12\n");
	expect_fmt(ctl_fmt_diff,
		   "{\"revision\": 12,"
		   " \"changes\": [{\"kind\": \"service\", \"name\": \"web\", \"change\": "
		   "\"changed\"},"
		   "  {\"kind\": \"slb\", \"name\": \"slb-c\", \"change\": \"added\"}],"
		   " \"nodes\": [{\"node\": \"edge-1\","
		   "   \"policies\": {\"added\": 2, \"removed\": 0, \"changed\": 1},"
		   "   \"slbs\": {\"added\": 1, \"removed\": 0, \"changed\": 0},"
		   "   \"pools\": {\"added\": 0, \"removed\": 0, \"changed\": 1}}]}",
		   "changes against revision 12:\n"
		   "\n"
		   "KIND     NAME   CHANGE\n"
		   "service  web    changed\n"
		   "slb      slb-c  added\n"
		   "\n"
		   "NODE    POLICIES  SLBS      POOLS\n"
		   "edge-1  +2 -0 ~1  +1 -0 ~0  +0 -0 ~1\n");
}

static void test_fmt_error(void **state)
{
	json_t *j = json_loads("{\"error\": \"unknown token\", \"details\": []}", 0, NULL);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	ctl_fmt_error(f, "status", 401, j);
	/* A body that is not JSON (evhttp's own 413 is HTML). */
	ctl_fmt_error(f, "apply", 413, NULL);
	fclose(f);
	assert_string_equal(out,
			    "vsn: status: unknown token (HTTP 401)\n"
			    "vsn: apply: the request is larger than the server takes (HTTP 413)\n");
	free(out);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_token, reset),
		cmocka_unit_test_setup(test_unknown_token, reset),
		cmocka_unit_test_setup(test_roles, reset),
		cmocka_unit_test_setup(test_not_found, reset),
		cmocka_unit_test_setup(test_method_not_allowed, reset),
		cmocka_unit_test_setup(test_bad_body, reset),
		cmocka_unit_test_setup(test_oversize, reset),
		cmocka_unit_test_setup(test_apply_details, reset),
		cmocka_unit_test_setup(test_metrics, reset),
		cmocka_unit_test_setup(test_tls_untrusted, reset),
		cmocka_unit_test_setup(test_cli_connect_refused, reset),
		cmocka_unit_test_setup(test_queries, reset),
		cmocka_unit_test_setup(test_slbs, reset),
		cmocka_unit_test_setup(test_op_errors, reset),
		cmocka_unit_test_setup(test_tokens_file, reset),
		cmocka_unit_test(test_err_helpers),
		cmocka_unit_test(test_fmt_status),
		cmocka_unit_test(test_fmt_history_events),
		cmocka_unit_test(test_fmt_results),
		cmocka_unit_test(test_fmt_error),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
