/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration file, read with libyaml's document loader so that
 * every node keeps its position for error messages (as lib/dp/policyfile.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <yaml.h>

#include "config.h"

_Static_assert(VSN_NODE_IFNAME_SIZE == IFNAMSIZ, "interface names are IFNAMSIZ");

/* Ranges, in milliseconds, of the timing fields (docs/node.md, "Configuration"). */
#define STATS_MIN 100u
#define STATS_MAX 60000u
#define KEEPALIVE_MIN 100u
#define KEEPALIVE_MAX 600000u
#define KEEPALIVE_TIMEOUT_MAX (VSN_NODE_DEFAULT_KEEPALIVE_INTERVALS * KEEPALIVE_MAX)
#define RECONNECT_MIN 10u
#define RECONNECT_MIN_MAX 600000u
#define RECONNECT_MAX_MAX 3600000u
#define PREPARE_MIN 100u
#define PREPARE_MAX 3600000u

struct nc_ctx {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	/* Fields checked against others once all are read. */
	yaml_node_t *keepalive_timeout;
	yaml_node_t *reconnect_max;
};

static int fail_at(struct nc_ctx *c, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct nc_ctx *c, yaml_mark_t m, const char *fmt, ...)
{
	size_t off;
	va_list ap;
	int n;

	n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->name, m.line + 1, m.column + 1);
	off = n < 0 ? 0 : (size_t)n;
	if (off < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + off, c->errlen - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

#define fail(c, n, ...) fail_at(c, (n)->start_mark, __VA_ARGS__)

static int oom(struct nc_ctx *c)
{
	snprintf(c->err, c->errlen, "%s: out of memory", c->name);
	return -ENOMEM;
}

/* A scalar's text; NULL for a list, a mapping or text with a NUL in it. */
static const char *scalar(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	return strlen(s) == n->data.scalar.length ? s : NULL;
}

static int get_u32(struct nc_ctx *c, const yaml_node_t *n, const char *what, uint32_t min,
		   uint32_t max, uint32_t *ret)
{
	const char *s = scalar(n);
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return fail(c, n, "%s: expected a whole number", what);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return fail(c, n, "%s: expected a whole number, not '%s'", what, s);
	if (v < min || v > max)
		return fail(c, n, "%s: %llu is out of range %u..%u", what, v, min, max);
	*ret = (uint32_t)v;
	return 0;
}

static int get_port(struct nc_ctx *c, const yaml_node_t *n, const char *what, uint16_t *ret)
{
	uint32_t v;
	int r = get_u32(c, n, what, 1, 65535, &v);

	if (!r)
		*ret = (uint16_t)v;
	return r;
}

static int get_path(struct nc_ctx *c, const yaml_node_t *n, const char *what, char **ret)
{
	const char *s = scalar(n);

	if (!s || !*s)
		return fail(c, n, "%s: expected a path", what);
	if (strlen(s) >= PATH_MAX)
		return fail(c, n, "%s: a path is shorter than %d characters", what, PATH_MAX);
	*ret = strdup(s);
	return *ret ? 0 : oom(c);
}

/*
 * Walk a mapping, calling field() for each key. Unknown and duplicate keys
 * are errors, so a typo never silently means "default".
 */
typedef int (*field_fn)(struct nc_ctx *c, const char *key, yaml_node_t *val, void *obj);

static int each_field(struct nc_ctx *c, yaml_node_t *map, const char *what,
		      const char *const *known, field_fn field, void *obj)
{
	unsigned long long seen = 0;

	if (map->type != YAML_MAPPING_NODE)
		return fail(c, map, "%s: expected a mapping", what);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k);
		int i, r;

		if (!key)
			return fail(c, k, "%s: keys must be plain words", what);
		for (i = 0; known[i] && strcmp(known[i], key); i++)
			;
		if (!known[i])
			return fail(c, k, "%s: unknown field '%s'", what, key);
		if (seen & (1ull << i))
			return fail(c, k, "%s: field '%s' given twice", what, key);
		seen |= 1ull << i;
		r = field(c, key, v, obj);
		if (r)
			return r;
	}
	return 0;
}

/* "HOST:PORT" or "[IPV6]:PORT"; HOST a DNS name or an IPv4 address. */
static int parse_controller(struct nc_ctx *c, const yaml_node_t *n, struct vsn_node_config *cfg)
{
	const char *s = scalar(n), *host, *colon;
	char buf[sizeof(cfg->controller_host)];
	struct vsn_addr a;
	size_t hlen;
	uint32_t port = 0;

	if (!s || !*s)
		return fail(c, n, "controller: expected HOST:PORT");
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return fail(c, n, "controller: expected [IPV6-ADDRESS]:PORT, not '%s'", s);
		host = s + 1;
		hlen = close - host;
		colon = close + 1;
	} else {
		colon = strchr(s, ':');
		if (!colon)
			return fail(c, n, "controller: expected HOST:PORT, not '%s'", s);
		if (strchr(colon + 1, ':'))
			return fail(c, n,
				    "controller: an IPv6 address goes in brackets, [ADDRESS]:PORT");
		host = s;
		hlen = colon - host;
	}
	if (!hlen || hlen >= sizeof(buf))
		return fail(c, n, "controller: '%s' names no host", s);
	memcpy(buf, host, hlen);
	buf[hlen] = '\0';
	if (*s == '[') {
		if (vsn_addr_parse(buf, &a) || a.family != AF_INET6)
			return fail(c, n, "controller: '%s' is not an IPv6 address", buf);
	} else if (vsn_addr_parse(buf, &a) && vsn_tls_name_valid(buf)) {
		return fail(c, n, "controller: '%s' is neither a DNS name nor an IPv4 address",
			    buf);
	}
	/* At most five digits, so the number cannot overflow before the range check. */
	if (!colon[1] || strlen(colon + 1) > 5 || colon[1 + strspn(colon + 1, "0123456789")] ||
	    (port = (uint32_t)atoi(colon + 1)) < 1 || port > 65535)
		return fail(c, n, "controller: the port is 1..65535, not '%s'", colon + 1);
	memcpy(cfg->controller_host, buf, hlen + 1);
	cfg->controller_port = (uint16_t)port;
	return 0;
}

static int tls_field(struct nc_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_node_config *cfg = obj;

	if (!strcmp(key, "ca"))
		return get_path(c, v, "tls ca", &cfg->tls_ca);
	if (!strcmp(key, "cert"))
		return get_path(c, v, "tls cert", &cfg->tls_cert);
	return get_path(c, v, "tls key", &cfg->tls_key);
}

static int underlay_field(struct nc_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_node_config *cfg = obj;
	bool v4 = !strcmp(key, "ipv4");
	const char *s = scalar(v);
	struct vsn_addr a;

	if (!s || vsn_addr_parse(s, &a))
		return fail(c, v, "underlay %s: expected an %s address", key, v4 ? "IPv4" : "IPv6");
	if (v4 && a.family != AF_INET)
		return fail(c, v, "underlay ipv4: '%s' is an IPv6 address", s);
	if (!v4 && a.family != AF_INET6)
		return fail(c, v, "underlay ipv6: '%s' is an IPv4 address", s);
	if (!v4 && vsn_addr_is_v4mapped(&a))
		return fail(c, v, "underlay ipv6: '%s' is an IPv4 address in IPv6 form", s);
	if (v4)
		cfg->underlay_ipv4 = a;
	else
		cfg->underlay_ipv6 = a;
	return 0;
}

/* The kernel's rule (dev_valid_name): 1 to IFNAMSIZ-1 bytes, not . or .., no '/', ':' or space. */
static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

struct iface {
	struct vsn_node_iface i;
	bool has_name;
};

static int iface_field(struct nc_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct iface *it = obj;
	const char *s = scalar(v);

	if (!strcmp(key, "name")) {
		if (!s || !ifname_valid(s))
			return fail(c, v,
				    "interface name: expected 1 to %d characters, no '/', ':' or "
				    "space",
				    IFNAMSIZ - 1);
		strcpy(it->i.name, s);
		it->has_name = true;
		return 0;
	}
	if (!s || vsn_attach_mode_parse(s, &it->i.mode))
		return fail(c, v, "interface mode: expected auto, native or generic");
	return 0;
}

static const char *const iface_fields[] = {"name", "mode", NULL};

static int parse_interfaces(struct nc_ctx *c, yaml_node_t *seq, struct vsn_node_config *cfg)
{
	size_t n;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(c, seq, "interfaces: expected a list");
	n = seq->data.sequence.items.top - seq->data.sequence.items.start;
	if (!n)
		return 0;
	cfg->interfaces = calloc(n, sizeof(*cfg->interfaces));
	if (!cfg->interfaces)
		return oom(c);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item =
			yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		struct iface it = {.i.mode = VSN_ATTACH_AUTO};
		int r;

		r = each_field(c, item, "interface", iface_fields, iface_field, &it);
		if (r)
			return r;
		if (!it.has_name)
			return fail(c, item, "interface: 'name' is required");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->interfaces[j].name, it.i.name))
				return fail(c, item, "interface '%s' is listed twice", it.i.name);
		cfg->interfaces[cfg->n_interfaces++] = it.i;
	}
	return 0;
}

static const char *const tls_fields[] = {"ca", "cert", "key", NULL};
static const char *const underlay_fields[] = {"ipv4", "ipv6", NULL};
static const char *const top_fields[] = {
	"node",
	"controller",
	"tls",
	"state_dir",
	"pin_dir",
	"interfaces",
	"underlay",
	"gue_port",
	"max_flows",
	"max_policies",
	"max_slbs",
	"max_services",
	"stats_interval_ms",
	"keepalive_interval_ms",
	"keepalive_timeout_ms",
	"reconnect_min_ms",
	"reconnect_max_ms",
	"prepare_timeout_max_ms",
	"log_format",
	NULL,
};

static int top_field(struct nc_ctx *c, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_node_config *cfg = obj;
	const char *s = scalar(v);

	if (!strcmp(key, "node")) {
		if (!s || vsn_tls_name_valid(s))
			return fail(
				c, v,
				"node: expected a DNS name (labels of letters, digits and inner "
				"hyphens joined by dots)");
		strcpy(cfg->node, s);
		return 0;
	}
	if (!strcmp(key, "controller"))
		return parse_controller(c, v, cfg);
	if (!strcmp(key, "tls")) {
		int r = each_field(c, v, "tls", tls_fields, tls_field, cfg);

		if (r)
			return r;
		if (!cfg->tls_ca || !cfg->tls_cert || !cfg->tls_key)
			return fail(c, v, "tls: '%s' is required",
				    !cfg->tls_ca     ? "ca"
				    : !cfg->tls_cert ? "cert"
						     : "key");
		return 0;
	}
	if (!strcmp(key, "state_dir"))
		return get_path(c, v, "state_dir", &cfg->state_dir);
	if (!strcmp(key, "pin_dir"))
		return get_path(c, v, "pin_dir", &cfg->pin_dir);
	if (!strcmp(key, "interfaces"))
		return parse_interfaces(c, v, cfg);
	if (!strcmp(key, "underlay"))
		return each_field(c, v, "underlay", underlay_fields, underlay_field, cfg);
	if (!strcmp(key, "gue_port"))
		return get_port(c, v, "gue_port", &cfg->gue_port);
	if (!strcmp(key, "max_flows"))
		return get_u32(c, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_flows);
	if (!strcmp(key, "max_policies"))
		return get_u32(c, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_policies);
	if (!strcmp(key, "max_slbs"))
		return get_u32(c, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_slbs);
	if (!strcmp(key, "max_services"))
		return get_u32(c, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_services);
	if (!strcmp(key, "stats_interval_ms"))
		return get_u32(c, v, key, STATS_MIN, STATS_MAX, &cfg->stats_interval_ms);
	if (!strcmp(key, "keepalive_interval_ms"))
		return get_u32(c, v, key, KEEPALIVE_MIN, KEEPALIVE_MAX,
			       &cfg->keepalive_interval_ms);
	if (!strcmp(key, "keepalive_timeout_ms")) {
		c->keepalive_timeout = v;
		return get_u32(c, v, key, KEEPALIVE_MIN, KEEPALIVE_TIMEOUT_MAX,
			       &cfg->keepalive_timeout_ms);
	}
	if (!strcmp(key, "reconnect_min_ms"))
		return get_u32(c, v, key, RECONNECT_MIN, RECONNECT_MIN_MAX, &cfg->reconnect_min_ms);
	if (!strcmp(key, "reconnect_max_ms")) {
		c->reconnect_max = v;
		return get_u32(c, v, key, RECONNECT_MIN, RECONNECT_MAX_MAX, &cfg->reconnect_max_ms);
	}
	if (!strcmp(key, "prepare_timeout_max_ms"))
		return get_u32(c, v, key, PREPARE_MIN, PREPARE_MAX, &cfg->prepare_timeout_max_ms);
	/* log_format */
	if (s && !strcmp(s, "text"))
		cfg->log_format = VSN_NODE_LOG_TEXT;
	else if (s && !strcmp(s, "json"))
		cfg->log_format = VSN_NODE_LOG_JSON;
	else
		return fail(c, v, "log_format: expected text or json");
	return 0;
}

static int set_default(struct nc_ctx *c, char **field, const char *value)
{
	if (!*field && !(*field = strdup(value)))
		return oom(c);
	return 0;
}

/* Required fields, defaults, and the checks between fields. */
static int finish(struct nc_ctx *c, yaml_node_t *root, struct vsn_node_config *cfg)
{
	int r;

	if (!cfg->node[0])
		return fail(c, root, "'node' is required");
	if (!cfg->controller_port)
		return fail(c, root, "'controller' is required");
	if (!cfg->tls_ca)
		return fail(c, root, "'tls' is required");
	if (!cfg->stats_interval_ms)
		cfg->stats_interval_ms = VSN_NODE_DEFAULT_STATS_INTERVAL_MS;
	if (!cfg->keepalive_interval_ms)
		cfg->keepalive_interval_ms = VSN_NODE_DEFAULT_KEEPALIVE_INTERVAL_MS;
	if (!cfg->keepalive_timeout_ms)
		cfg->keepalive_timeout_ms =
			VSN_NODE_DEFAULT_KEEPALIVE_INTERVALS * cfg->keepalive_interval_ms;
	else if (cfg->keepalive_timeout_ms <= cfg->keepalive_interval_ms)
		return fail(c, c->keepalive_timeout,
			    "keepalive_timeout_ms: %u is not more than keepalive_interval_ms (%u)",
			    cfg->keepalive_timeout_ms, cfg->keepalive_interval_ms);
	if (!cfg->reconnect_min_ms)
		cfg->reconnect_min_ms = VSN_NODE_DEFAULT_RECONNECT_MIN_MS;
	/* Without a maximum, a minimum above the default maximum is the maximum too. */
	if (!cfg->reconnect_max_ms)
		cfg->reconnect_max_ms = cfg->reconnect_min_ms > VSN_NODE_DEFAULT_RECONNECT_MAX_MS
						? cfg->reconnect_min_ms
						: VSN_NODE_DEFAULT_RECONNECT_MAX_MS;
	else if (cfg->reconnect_max_ms < cfg->reconnect_min_ms)
		return fail(c, c->reconnect_max,
			    "reconnect_max_ms: %u is less than reconnect_min_ms (%u)",
			    cfg->reconnect_max_ms, cfg->reconnect_min_ms);
	if (!cfg->prepare_timeout_max_ms)
		cfg->prepare_timeout_max_ms = VSN_NODE_DEFAULT_PREPARE_TIMEOUT_MAX_MS;
	r = set_default(c, &cfg->state_dir, VSN_NODE_DEFAULT_STATE_DIR);
	if (!r)
		r = set_default(c, &cfg->pin_dir, VSN_DP_DEFAULT_PIN_DIR);
	return r;
}

static int syntax_error(struct nc_ctx *c, yaml_parser_t *parser)
{
	/* A scanner error's position is its problem mark; the context mark is where it began. */
	return fail_at(c, parser->problem_mark, "%s",
		       parser->problem ? parser->problem : "YAML syntax error");
}

int vsn_node_config_parse(const char *name, const char *text, size_t len,
			  struct vsn_node_config *ret, char *err, size_t errlen)
{
	struct vsn_node_config cfg = {0};
	struct nc_ctx c = {.name = name, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_document_t doc, next;
	yaml_node_t *root, *extra;
	int r;

	if (!yaml_parser_initialize(&parser))
		return oom(&c);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = parser.error == YAML_MEMORY_ERROR ? oom(&c) : syntax_error(&c, &parser);
		yaml_parser_delete(&parser);
		return r;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		r = fail_at(&c, doc.start_mark, "expected a mapping, the file is empty");
		goto out;
	}
	r = each_field(&c, root, "node config", top_fields, top_field, &cfg);
	if (!r)
		r = finish(&c, root, &cfg);
	if (r)
		goto out;
	/* A second document would be ignored: refuse it instead (and read it for syntax). */
	if (!yaml_parser_load(&parser, &next)) {
		r = parser.error == YAML_MEMORY_ERROR ? oom(&c) : syntax_error(&c, &parser);
		goto out;
	}
	extra = yaml_document_get_root_node(&next);
	if (extra)
		r = fail(&c, extra, "expected one YAML document, this is a second one");
	yaml_document_delete(&next);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r) {
		vsn_node_config_free(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int vsn_node_config_load(const char *path, struct vsn_node_config *ret, char *err, size_t errlen)
{
	/* One byte more than allowed, to tell a file of the limit from a larger one. */
	size_t len = 0, cap = VSN_NODE_CONFIG_MAX_BYTES + 1;
	char *buf;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > VSN_NODE_CONFIG_MAX_BYTES) {
		r = -EFBIG;
		snprintf(err, errlen, "%s: larger than %u bytes", path, VSN_NODE_CONFIG_MAX_BYTES);
		goto out;
	}
	r = vsn_node_config_parse(path, buf, len, ret, err, errlen);
out:
	free(buf);
	close(fd);
	return r;
}

void vsn_node_config_free(struct vsn_node_config *cfg)
{
	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->state_dir);
	free(cfg->pin_dir);
	free(cfg->interfaces);
	memset(cfg, 0, sizeof(*cfg));
}
