/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of vsnd's REST API as an operator's tool is one: libcurl over HTTPS, the
 * controller's certificate checked against the bench CA, a bearer token. One easy handle, so
 * one keep-alive connection: the benchmark's requests pay no TCP or TLS handshake each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "bench.h"

struct bc_api {
	CURL *c;
	struct curl_slist *hdr;
	char base[64], errbuf[CURL_ERROR_SIZE], failed[CURL_ERROR_SIZE + 128];
	struct bc_buf body;
};

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct bc_buf *b = arg;
	size_t len = sz * n;

	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *s;

		while (cap < b->len + len + 1)
			cap *= 2;
		s = realloc(b->s, cap);
		if (!s)
			return 0;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, len);
	b->len += len;
	b->s[b->len] = '\0';
	return len;
}

int bc_api_open(const struct bc_env *e, struct bc_api **ret)
{
	struct bc_api *a = calloc(1, sizeof(*a));
	char auth[128];

	if (!a)
		return -ENOMEM;
	a->c = curl_easy_init();
	snprintf(a->base, sizeof(a->base), "https://127.0.0.1:%d", BC_API_PORT);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", e->token);
	a->hdr = curl_slist_append(NULL, auth);
	a->hdr = curl_slist_append(a->hdr, "Content-Type: application/json");
	/* No "Expect: 100-continue" wait before a large document's body. */
	a->hdr = curl_slist_append(a->hdr, "Expect:");
	if (!a->c || !a->hdr || curl_easy_setopt(a->c, CURLOPT_HTTPHEADER, a->hdr) ||
	    curl_easy_setopt(a->c, CURLOPT_CAINFO, bc_path(e, "certs/ca.crt")) ||
	    curl_easy_setopt(a->c, CURLOPT_ERRORBUFFER, a->errbuf) ||
	    curl_easy_setopt(a->c, CURLOPT_WRITEFUNCTION, on_data) ||
	    curl_easy_setopt(a->c, CURLOPT_WRITEDATA, &a->body) ||
	    curl_easy_setopt(a->c, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(a->c, CURLOPT_TCP_NODELAY, 1L) ||
	    curl_easy_setopt(a->c, CURLOPT_CONNECTTIMEOUT, 5L) ||
	    curl_easy_setopt(a->c, CURLOPT_TIMEOUT, 60L)) {
		bc_api_close(a);
		return -ENOMEM;
	}
	*ret = a;
	return 0;
}

void bc_api_close(struct bc_api *a)
{
	if (!a)
		return;
	if (a->c)
		curl_easy_cleanup(a->c);
	curl_slist_free_all(a->hdr);
	bc_buf_free(&a->body);
	free(a);
}

const char *bc_api_body(const struct bc_api *a)
{
	return a->failed[0] ? a->failed : a->body.s ? a->body.s : "";
}

int bc_api_call(struct bc_api *a, const char *method, const char *path, const char *body,
		size_t body_len, long *ret_status, json_t **ret_json)
{
	char url[512];
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", a->base, path);
	a->body.len = 0;
	if (a->body.s)
		a->body.s[0] = '\0';
	a->errbuf[0] = a->failed[0] = '\0';
	curl_easy_setopt(a->c, CURLOPT_URL, url);
	if (body) {
		curl_easy_setopt(a->c, CURLOPT_POST, 1L);
		curl_easy_setopt(a->c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(a->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		curl_easy_setopt(a->c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(a->c, CURLOPT_CUSTOMREQUEST,
			 strcmp(method, body ? "POST" : "GET") ? method : NULL);
	rc = curl_easy_perform(a->c);
	if (rc != CURLE_OK) {
		snprintf(a->failed, sizeof(a->failed), "%s %s: %s", method, path,
			 a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(a->c, CURLINFO_RESPONSE_CODE, ret_status);
	if (ret_json)
		*ret_json = a->body.len ? json_loadb(a->body.s, a->body.len, 0, NULL) : NULL;
	return 0;
}

char *bc_apply_body(const char *doc, const char *message, size_t *ret_len)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "document", doc, "name", "bench.yaml",
			      "author", "vsn-bench-controller", "message", message);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (s)
		*ret_len = strlen(s);
	return s;
}

int bc_api_wait_up(struct bc_api *a, int ms)
{
	uint64_t t0 = bc_now_ns();
	long status = 0;

	while (!bc_stop && bc_ms_since(t0) < ms) {
		if (!bc_api_call(a, "GET", "/v1/status", NULL, 0, &status, NULL) && status == 200)
			return 0;
		bc_sleep_ms(20);
	}
	return bc_stop ? -EINTR : -ETIMEDOUT;
}

int bc_api_last_event(struct bc_api *a, uint64_t *ret_id)
{
	json_t *j = NULL, *ev;
	long status = 0;
	uint64_t id = 0;
	size_t i;

	if (bc_api_call(a, "GET", "/v1/events?limit=1", NULL, 0, &status, &j) || status != 200) {
		json_decref(j);
		return -EIO;
	}
	json_array_foreach(json_object_get(j, "events"), i, ev)
	{
		uint64_t v = (uint64_t)json_integer_value(json_object_get(ev, "id"));

		if (v > id)
			id = v;
	}
	json_decref(j);
	*ret_id = id;
	return 0;
}

double bc_api_time_ms(const char *s)
{
	struct tm tm = {0};
	int ms = 0;

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000.0 + ms;
}

double bc_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
