/* SPDX-License-Identifier: Apache-2.0 */
/* Endpoints, URLs and checks: what an attempt connects to and sends, built once per set. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <arpa/inet.h>

#include "probe_internal.h"

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

int endpoint_parse(const char *s, struct endpoint *ret)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM},
			*ai;
	const char *colon, *h;
	struct endpoint ep;
	size_t hl, pl;
	bool v6;

	if (!s)
		return -EINVAL;
	memset(&ep, 0, sizeof(ep));
	colon = strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	hl = colon - s;
	h = s;
	v6 = s[0] == '[';
	if (v6) {
		if (hl < 2 || s[hl - 1] != ']')
			return -EINVAL;
		h++;
		hl -= 2;
	}
	pl = strlen(colon + 1);
	if (hl == 0 || hl >= sizeof(ep.addr) || pl > 5 || !all_digits(colon + 1, pl))
		return -EINVAL;
	ep.port = (int)strtol(colon + 1, NULL, 10);
	memcpy(ep.addr, h, hl);
	/* Numeric only: no name is looked up. An IPv6 address is in brackets, IPv4 not. */
	hints.ai_family = v6 ? AF_INET6 : AF_INET;
	if (ep.port < 1 || ep.port > 65535 || getaddrinfo(ep.addr, colon + 1, &hints, &ai))
		return -EINVAL;
	memcpy(&ep.sa, ai->ai_addr, ai->ai_addrlen);
	ep.salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	*ret = ep;
	return 0;
}

int url_parse(const char *url, bool *ret_tls, struct endpoint *ret_ep, char *path, size_t path_sz)
{
	char hostport[96];
	const char *auth, *slash, *close;
	bool tls, has_port;
	size_t al;

	if (!url)
		return -EINVAL;
	if (!strncasecmp(url, "http://", 7))
		tls = false, auth = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		tls = true, auth = url + 8;
	else
		return -EINVAL;
	slash = strchr(auth, '/');
	al = slash ? (size_t)(slash - auth) : strlen(auth);
	if (al == 0 || al + 7 > sizeof(hostport) || memchr(auth, '@', al))
		return -EINVAL;
	close = auth[0] == '[' ? memchr(auth, ']', al) : NULL;
	if (auth[0] == '[' && !close)
		return -EINVAL;
	has_port = close ? close + 1 < auth + al : memchr(auth, ':', al) != NULL;
	snprintf(hostport, sizeof(hostport), "%.*s%s%s", (int)al, auth, has_port ? "" : ":",
		 has_port ? ""
		 : tls	  ? "443"
			  : "80");
	if (endpoint_parse(hostport, ret_ep))
		return -EINVAL;
	if (snprintf(path, path_sz, "%s", slash ? slash : "/") >= (int)path_sz)
		return -EINVAL;
	*ret_tls = tls;
	return 0;
}

/* Printable ASCII without blanks: what may go into a request line or a header unquoted. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	return true;
}

/* The host part of a Host value ("name", "name:port", "[v6]:port") into buf. */
static int host_name(const char *host, char *buf, size_t sz)
{
	const char *end;

	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end)
			return -EINVAL;
		host++;
	} else {
		end = strchr(host, ':');
		if (!end)
			end = host + strlen(host);
	}
	if (end == host || (size_t)(end - host) >= sz)
		return -EINVAL;
	snprintf(buf, sz, "%.*s", (int)(end - host), host);
	return 0;
}

static bool is_ip(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* The request: HTTP/1.0, so no chunked answer, and the connection closes after it. */
static int http_request(struct check *ck, const struct check_spec *spec, struct vsn_probe_err *err)
{
	const struct endpoint *ep = spec->ep;
	char host[VSN_PROBE_HOST_MAX + 80];
	int n;

	if (spec->path[0] != '/' || strlen(spec->path) > VSN_PROBE_PATH_MAX ||
	    !header_safe(spec->path))
		return probe_err(
			err, -EINVAL,
			"%s: path must start with / and be at most %d printable characters "
			"without blanks",
			spec->who, VSN_PROBE_PATH_MAX);
	if (spec->host)
		snprintf(host, sizeof(host), "%s", spec->host);
	else if (ep->port == (spec->tls ? 443 : 80))
		snprintf(host, sizeof(host), ep->sa.ss_family == AF_INET6 ? "[%s]" : "%s",
			 ep->addr);
	else
		snprintf(host, sizeof(host), ep->sa.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
			 ep->addr, ep->port);
	n = asprintf(&ck->request,
		     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: vsn-probe\r\nAccept: */*\r\n"
		     "Connection: close\r\n\r\n",
		     spec->path, host);
	if (n < 0) {
		ck->request = NULL;
		return probe_err(err, -ENOMEM, "%s: out of memory", spec->who);
	}
	ck->request_len = n;
	return 0;
}

static int tls_setup(struct check *ck, struct jobs *j, const struct check_spec *spec,
		     struct vsn_probe_err *err)
{
	char name[VSN_PROBE_HOST_MAX + 1];
	struct vsn_probe_err e;
	int r;

	if (spec->host) {
		if (host_name(spec->host, name, sizeof(name)))
			return probe_err(err, -EINVAL, "%s: host %s has no name", spec->who,
					 spec->host);
	} else {
		snprintf(name, sizeof(name), "%s", spec->ep->addr);
	}
	ck->tls_name = strdup(name);
	if (!ck->tls_name)
		return probe_err(err, -ENOMEM, "%s: out of memory", spec->who);
	ck->tls_name_ip = is_ip(name);
	ck->verify = spec->ca_file != NULL;
	r = jobs_ssl_ctx(j, spec->ca_file, &ck->ssl_ctx, &e);
	if (r)
		return probe_err(err, r, "%s: %s", spec->who, e.msg);
	return 0;
}

int check_build(struct check *ck, struct jobs *j, const struct check_spec *spec,
		struct vsn_probe_err *err)
{
	int r = 0;

	memset(ck, 0, sizeof(*ck));
	ck->ep = *spec->ep;
	ck->head_max = spec->head_max;
	ck->body_max = spec->body_max;
	if (spec->host &&
	    (!*spec->host || strlen(spec->host) > VSN_PROBE_HOST_MAX || !header_safe(spec->host)))
		return probe_err(err, -EINVAL,
				 "%s: host must be 1 to %d printable characters without blanks",
				 spec->who, VSN_PROBE_HOST_MAX);
	if (spec->http)
		r = http_request(ck, spec, err);
	if (!r && spec->tls)
		r = tls_setup(ck, j, spec, err);
	if (r)
		check_fini(ck);
	return r;
}

void check_fini(struct check *ck)
{
	free(ck->request);
	free(ck->tls_name);
	SSL_CTX_free(ck->ssl_ctx);
	memset(ck, 0, sizeof(*ck));
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool check_equal(const struct check *a, const struct check *b)
{
	return a->ep.salen == b->ep.salen && !memcmp(&a->ep.sa, &b->ep.sa, a->ep.salen) &&
	       a->ssl_ctx == b->ssl_ctx && a->verify == b->verify &&
	       str_eq(a->tls_name, b->tls_name) && str_eq(a->request, b->request) &&
	       a->head_max == b->head_max && a->body_max == b->body_max;
}

int timing_get(const char *who, unsigned int interval_ms, unsigned int timeout_ms,
	       unsigned int *ret_interval, unsigned int *ret_timeout, struct vsn_probe_err *err)
{
	unsigned int iv = interval_ms ? interval_ms : VSN_PROBE_INTERVAL_MS;
	unsigned int to =
		timeout_ms ? timeout_ms : (iv < VSN_PROBE_TIMEOUT_MS ? iv : VSN_PROBE_TIMEOUT_MS);

	if (iv < VSN_PROBE_MIN_INTERVAL_MS || iv > VSN_PROBE_MAX_INTERVAL_MS)
		return probe_err(err, -EINVAL, "%s: interval %u ms is not within %d ms and %d ms",
				 who, iv, VSN_PROBE_MIN_INTERVAL_MS, VSN_PROBE_MAX_INTERVAL_MS);
	if (to > iv)
		return probe_err(err, -EINVAL, "%s: timeout %u ms is over the interval of %u ms",
				 who, to, iv);
	*ret_interval = iv;
	*ret_timeout = to;
	return 0;
}
