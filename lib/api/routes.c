/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route table: each endpoint's role, the body fields and query parameters it takes (api.c
 * checks that a request has no others, and each of its type), and its handler, which reads the
 * inputs into the op's request (400 for a value out of range) and calls the op.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "api_internal.h"

#define OP(c, name) ((c)->api->ops->name)

static int not_implemented(struct api_call *c)
{
	return vsn_api_fail(&c->err, -ENOSYS, 501, "this controller does not implement %s",
			    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(c->req)));
}

/* The string field key of the body, or def. */
static const char *body_str(const struct api_call *c, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(c->body, key));

	return s ? s : def;
}

static void body_document(const struct api_call *c, struct vsn_api_document *d)
{
	json_t *doc = json_object_get(c->body, "document");

	d->text = json_string_value(doc);
	d->len = json_string_length(doc);
	d->name = body_str(c, "name", "document");
}

/* The query parameter name as a number from min to max: 0 (*given), or 400. */
static int query_u64(struct api_call *c, const char *name, uint64_t min, uint64_t max,
		     uint64_t *ret, bool *given)
{
	const char *s = evhttp_find_header(&c->query, name);
	unsigned long long v;
	char *end;

	*given = s != NULL;
	if (!s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max)
		return vsn_api_fail(&c->err, -EINVAL, 400,
				    "'%s' must be a number from %llu to %llu", name,
				    (unsigned long long)min, (unsigned long long)max);
	*ret = v;
	return 0;
}

static int query_limit(struct api_call *c, unsigned int *ret)
{
	uint64_t v = VSN_API_LIMIT_DEFAULT;
	bool given;
	int r = query_u64(c, "limit", 1, VSN_API_LIMIT_MAX, &v, &given);

	*ret = (unsigned int)v;
	return r;
}

static int h_apply(struct api_call *c)
{
	struct vsn_api_apply_req req = {
		.author = body_str(c, "author", ""),
		.message = body_str(c, "message", ""),
	};

	if (!OP(c, apply))
		return not_implemented(c);
	body_document(c, &req.doc);
	return OP(c, apply)(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_diff(struct api_call *c)
{
	struct vsn_api_document doc;

	if (!OP(c, diff))
		return not_implemented(c);
	body_document(c, &doc);
	return OP(c, diff)(c->api->ops_arg, &doc, &c->result, &c->err);
}

static int h_history(struct api_call *c)
{
	struct vsn_api_history_req req;
	int r = query_limit(c, &req.limit);

	if (r)
		return r;
	if (!OP(c, history))
		return not_implemented(c);
	return OP(c, history)(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_rollback(struct api_call *c)
{
	json_int_t rev = json_integer_value(json_object_get(c->body, "revision"));
	struct vsn_api_rollback_req req = {
		.revision = (uint64_t)rev,
		.author = body_str(c, "author", ""),
		.message = body_str(c, "message", ""),
	};

	if (rev < 1)
		return vsn_api_fail(&c->err, -EINVAL, 400, "'revision' must be 1 or more");
	if (!OP(c, rollback))
		return not_implemented(c);
	return OP(c, rollback)(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_events(struct api_call *c)
{
	struct vsn_api_events_req req = {0};
	int r = query_u64(c, "since", 0, UINT64_MAX, &req.since, &req.has_since);

	if (!r)
		r = query_limit(c, &req.limit);
	if (r)
		return r;
	if (!OP(c, events))
		return not_implemented(c);
	return OP(c, events)(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_status(struct api_call *c)
{
	if (!OP(c, status))
		return not_implemented(c);
	return OP(c, status)(c->api->ops_arg, &c->result, &c->err);
}

typedef int (*slb_op)(void *arg, const struct vsn_api_slb_req *req, json_t **ret,
		      struct vsn_api_err *err);

static int slb_call(struct api_call *c, slb_op op)
{
	struct vsn_api_slb_req req = {.slb = c->arg, .author = body_str(c, "author", "")};

	if (!op)
		return not_implemented(c);
	return op(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_drain(struct api_call *c)
{
	return slb_call(c, OP(c, drain));
}

static int h_undrain(struct api_call *c)
{
	return slb_call(c, OP(c, undrain));
}

static int h_pin(struct api_call *c)
{
	struct vsn_api_pin_req req = {
		.service = c->arg,
		.configuration = body_str(c, "configuration", NULL),
		.author = body_str(c, "author", ""),
	};

	if (!OP(c, pin))
		return not_implemented(c);
	return OP(c, pin)(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_unpin(struct api_call *c)
{
	struct vsn_api_pin_req req = {.service = c->arg, .author = body_str(c, "author", "")};

	if (!OP(c, unpin))
		return not_implemented(c);
	return OP(c, unpin)(c->api->ops_arg, &req, &c->result, &c->err);
}

static int h_state(struct api_call *c)
{
	if (!OP(c, state))
		return not_implemented(c);
	return OP(c, state)(c->api->ops_arg, &c->result, &c->err);
}

static int h_metrics(struct api_call *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	if (!OP(c, metrics))
		return not_implemented(c);
	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	r = OP(c, metrics)(c->api->ops_arg, f);
	if (fclose(f) && !r)
		r = -ENOMEM;
	c->text = r ? NULL : evbuffer_new();
	if (!r && (!c->text || evbuffer_add(c->text, buf, len)))
		r = -ENOMEM;
	free(buf);
	c->text_type = "text/plain; version=0.0.4; charset=utf-8";
	return r;
}

static const char *const history_params[] = {"limit", NULL};
static const char *const events_params[] = {"since", "limit", NULL};

static const struct api_field apply_fields[] = {
	{"document", JSON_STRING, true},
	{"name", JSON_STRING, false},
	{"author", JSON_STRING, false},
	{"message", JSON_STRING, false},
	{NULL, 0, false},
};
static const struct api_field diff_fields[] = {
	{"document", JSON_STRING, true},
	{"name", JSON_STRING, false},
	{NULL, 0, false},
};
static const struct api_field rollback_fields[] = {
	{"revision", JSON_INTEGER, true},
	{"author", JSON_STRING, false},
	{"message", JSON_STRING, false},
	{NULL, 0, false},
};
static const struct api_field slb_fields[] = {
	{"author", JSON_STRING, false},
	{NULL, 0, false},
};

static const struct api_field pin_fields[] = {
	{"configuration", JSON_STRING, true},
	{"author", JSON_STRING, false},
	{NULL, 0, false},
};

#define ROUTE(m, path, role, fields, params, h)                              \
	{                                                                    \
		EVHTTP_REQ_##m, path, VSN_API_ROLE_##role, fields, params, h \
	}

const struct api_route api_routes[] = {
	ROUTE(POST, "/v1/apply", ADMIN, apply_fields, NULL, h_apply),
	ROUTE(POST, "/v1/diff", READ, diff_fields, NULL, h_diff),
	ROUTE(GET, "/v1/history", READ, NULL, history_params, h_history),
	ROUTE(POST, "/v1/rollback", ADMIN, rollback_fields, NULL, h_rollback),
	ROUTE(GET, "/v1/events", READ, NULL, events_params, h_events),
	ROUTE(GET, "/v1/status", READ, NULL, NULL, h_status),
	ROUTE(POST, "/v1/slbs/{}/drain", ADMIN, slb_fields, NULL, h_drain),
	ROUTE(POST, "/v1/slbs/{}/undrain", ADMIN, slb_fields, NULL, h_undrain),
	ROUTE(POST, "/v1/services/{}/pin", ADMIN, pin_fields, NULL, h_pin),
	ROUTE(POST, "/v1/services/{}/unpin", ADMIN, slb_fields, NULL, h_unpin),
	ROUTE(GET, "/v1/state", READ, NULL, NULL, h_state),
	ROUTE(GET, "/metrics", NONE, NULL, NULL, h_metrics),
};
const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);
