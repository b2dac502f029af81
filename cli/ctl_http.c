/* SPDX-License-Identifier: Apache-2.0 */
/* The API commands' shared options and their requests, over libcurl (HTTPS only). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "ctl_cli.h"

/* The most bytes of an answer: GET /v1/state carries a document of up to 16 MiB, escaped. */
#define CTL_ANSWER_MAX (256u << 20)
#define CTL_CONNECT_TIMEOUT_S 10L
#define CTL_TIMEOUT_S 120L

struct ctl_client {
	char *server; /* without a trailing '/' */
	char *token;
	CURL *curl;
	struct curl_slist *headers;
	char *buf;
	size_t len, cap;
	bool too_large;
	json_t *json;
	char errbuf[CURL_ERROR_SIZE];
};

int ctl_opts_take(struct ctl_opts *o, const char *cmd, int argc, char **argv, int *i)
{
	const char *a = argv[*i], **dst;

	if (!strcmp(a, "--server"))
		dst = &o->server;
	else if (!strcmp(a, "--token"))
		dst = &o->token;
	else if (!strcmp(a, "--token-file"))
		dst = &o->token_file;
	else if (!strcmp(a, "--ca"))
		dst = &o->ca;
	else if (!strcmp(a, "-o"))
		dst = NULL;
	else
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "vsn: %s: %s needs a value\n", cmd, a);
		return -1;
	}
	a = argv[++*i];
	if (dst) {
		*dst = a;
		return 1;
	}
	if (strcmp(a, "json") && strcmp(a, "table")) {
		fprintf(stderr, "vsn: %s: -o takes json or table, not '%s'\n", cmd, a);
		return -1;
	}
	o->json = !strcmp(a, "json");
	return 1;
}

/* The token in file: its first line without blanks around it. */
static int read_token_file(const char *file, const char *cmd, char **ret)
{
	FILE *f = fopen(file, "re");
	size_t cap = 0;
	char *s = NULL, *t;
	ssize_t n;

	if (!f) {
		fprintf(stderr, "vsn: %s: %s: %s\n", cmd, file, strerror(errno));
		return 1;
	}
	n = getline(&s, &cap, f);
	fclose(f);
	t = s ? s + strspn(s, " \t") : NULL;
	if (n > 0)
		while (n > 0 && strchr(" \t\r\n", s[n - 1]))
			s[--n] = '\0';
	if (n <= 0 || !*t) {
		fprintf(stderr, "vsn: %s: %s: no token in it\n", cmd, file);
		free(s);
		return 1;
	}
	memmove(s, t, strlen(t) + 1);
	*ret = s;
	return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct ctl_client *cl = arg;
	size_t len = size * n;

	if (cl->len + len + 1 > CTL_ANSWER_MAX) {
		cl->too_large = true;
		return 0;
	}
	if (cl->len + len + 1 > cl->cap) {
		size_t cap = (cl->len + len + 1) * 2;
		char *b = realloc(cl->buf, cap);

		if (!b)
			return 0;
		cl->buf = b;
		cl->cap = cap;
	}
	memcpy(cl->buf + cl->len, data, len);
	cl->len += len;
	return len;
}

static int setup(struct ctl_client *cl, const char *ca)
{
	char *auth = NULL;
	struct curl_slist *h;

	if (asprintf(&auth, "Authorization: Bearer %s", cl->token) < 0)
		return -ENOMEM;
	h = curl_slist_append(NULL, auth);
	free(auth);
	if (h)
		cl->headers = h;
	h = h ? curl_slist_append(h, "Content-Type: application/json") : NULL;
	h = h ? curl_slist_append(h, "Accept: application/json") : NULL;
	if (!h)
		return -ENOMEM;
	if (curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, cl->headers) ||
	    curl_easy_setopt(cl->curl, CURLOPT_ERRORBUFFER, cl->errbuf) ||
	    curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, on_data) ||
	    curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, cl) ||
	    /* The token never goes anywhere but over TLS to the server named. */
	    curl_easy_setopt(cl->curl, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(cl->curl, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(cl->curl, CURLOPT_CONNECTTIMEOUT, CTL_CONNECT_TIMEOUT_S) ||
	    curl_easy_setopt(cl->curl, CURLOPT_TIMEOUT, CTL_TIMEOUT_S) ||
	    curl_easy_setopt(cl->curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(cl->curl, CURLOPT_USERAGENT, "vsn") ||
	    (ca && curl_easy_setopt(cl->curl, CURLOPT_CAINFO, ca)))
		return -EINVAL;
	return 0;
}

int ctl_client_new(const struct ctl_opts *o, const char *cmd, struct ctl_client **ret)
{
	const char *server = o->server ? o->server : getenv("VSN_SERVER");
	const char *token = o->token ? o->token : o->token_file ? NULL : getenv("VSN_TOKEN");
	const char *ca = o->ca ? o->ca : getenv("VSN_CA");
	struct ctl_client *cl;
	size_t n;

	/* An empty variable is an unset one. */
	if (ca && !*ca)
		ca = NULL;

	if (!server || !*server)
		server = CTL_DEFAULT_SERVER;
	if (strncasecmp(server, "https://", 8)) {
		fprintf(stderr, "vsn: %s: the server's URL is https://HOST:PORT, not '%s'\n", cmd,
			server);
		return 2;
	}
	if (!o->token_file && (!token || !*token)) {
		fprintf(stderr,
			"vsn: %s: no token: give --token TOKEN, --token-file FILE or set "
			"VSN_TOKEN\n",
			cmd);
		return 2;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		goto nomem;
	if (o->token_file && !o->token) {
		if (read_token_file(o->token_file, cmd, &cl->token)) {
			free(cl);
			return 1;
		}
	} else if (!(cl->token = strdup(token))) {
		goto nomem;
	}
	cl->server = strdup(server);
	if (!cl->server)
		goto nomem;
	for (n = strlen(cl->server); n > 8 && cl->server[n - 1] == '/'; n--)
		cl->server[n - 1] = '\0';
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		goto nomem;
	cl->curl = curl_easy_init();
	if (!cl->curl || setup(cl, ca))
		goto nomem;
	*ret = cl;
	return 0;
nomem:
	ctl_client_free(cl);
	fprintf(stderr, "vsn: %s: cannot set up an HTTPS client (out of memory?)\n", cmd);
	return 1;
}

void ctl_client_free(struct ctl_client *cl)
{
	if (!cl)
		return;
	if (cl->curl) {
		curl_easy_cleanup(cl->curl);
		curl_global_cleanup();
	}
	curl_slist_free_all(cl->headers);
	if (cl->token)
		memset(cl->token, 0, strlen(cl->token));
	free(cl->token);
	free(cl->server);
	free(cl->buf);
	json_decref(cl->json);
	free(cl);
}

/* Why a request got no answer, in words for the operator. */
static void describe(const struct ctl_client *cl, CURLcode rc, char *err, size_t errlen)
{
	const char *how = cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(err, errlen, "cannot resolve the host of %s: %s", cl->server, how);
		break;
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errlen, "cannot connect to %s: %s (is vsnd serving its API there?)",
			 cl->server, how);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(err, errlen,
			 "the certificate of %s does not verify: %s (give the operator's CA with "
			 "--ca FILE or VSN_CA)",
			 cl->server, how);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(err, errlen, "cannot use the CA file: %s", how);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(err, errlen, "TLS with %s failed: %s", cl->server, how);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "%s did not answer in time: %s", cl->server, how);
		break;
	case CURLE_WRITE_ERROR:
		snprintf(err, errlen, "the answer of %s is %s", cl->server,
			 cl->too_large ? "too large" : "more than memory holds");
		break;
	default:
		snprintf(err, errlen, "%s: %s", cl->server, how);
	}
}

int ctl_http(struct ctl_client *cl, const char *method, const char *path, const json_t *body,
	     struct ctl_reply *ret, char *err, size_t errlen)
{
	char *url = NULL, *data = NULL;
	long status = 0;
	CURLcode rc;

	if (asprintf(&url, "%s%s", cl->server, path) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (body) {
		data = json_dumps(body, JSON_COMPACT);
		if (!data) {
			free(url);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	cl->len = 0;
	cl->too_large = false;
	cl->errbuf[0] = '\0';
	json_decref(cl->json);
	cl->json = NULL;
	curl_easy_setopt(cl->curl, CURLOPT_URL, url);
	if (data) {
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(data));
	} else {
		curl_easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
	}
	/* GET and POST are what curl does by itself; another method is named. */
	curl_easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST,
			 strcmp(method, "GET") && strcmp(method, "POST") ? method : NULL);
	rc = curl_easy_perform(cl->curl);
	free(data);
	free(url);
	if (rc != CURLE_OK) {
		describe(cl, rc, err, errlen);
		return -EIO;
	}
	curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
	/* on_data keeps room for the NUL; an empty first answer has no buffer yet. */
	if (!cl->buf) {
		cl->buf = malloc(1);
		cl->cap = 1;
		if (!cl->buf) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	cl->buf[cl->len] = '\0';
	cl->json = json_loadb(cl->buf, cl->len, 0, NULL);
	ret->status = status;
	ret->json = cl->json;
	ret->raw = cl->buf;
	return 0;
}

int ctl_answer(const struct ctl_client *cl, const char *cmd, const struct ctl_reply *rep,
	       json_t **ret)
{
	if (rep->status < 200 || rep->status > 299) {
		fflush(stdout);
		ctl_fmt_error(stderr, cmd, rep->status, rep->json);
		return 1;
	}
	if (!rep->json) {
		fflush(stdout);
		fprintf(stderr, "vsn: %s: the answer of %s is not JSON\n", cmd, cl->server);
		return 1;
	}
	*ret = rep->json;
	return 0;
}

int ctl_call(struct ctl_client *cl, const char *cmd, const char *method, const char *path,
	     const json_t *body, json_t **ret)
{
	struct ctl_reply rep;
	char err[CTL_ERR_LEN];

	if (ctl_http(cl, method, path, body, &rep, err, sizeof(err))) {
		fflush(stdout);
		fprintf(stderr, "vsn: %s: %s\n", cmd, err);
		return 1;
	}
	return ctl_answer(cl, cmd, &rep, ret);
}
