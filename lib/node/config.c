/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration file, read with libyaml's document loader so that
 * every node keeps its position for error messages (as lib/dp/policyfile.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "config.h"
#include "yaml_walk.h"

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
	struct vsn_yaml y;
	struct vsn_node_config cfg;
	/* Fields checked against others once all are read. */
	yaml_node_t *keepalive_timeout;
	yaml_node_t *reconnect_max;
};

static int get_port(struct vsn_yaml *y, const yaml_node_t *n, const char *what, uint16_t *ret)
{
	uint32_t v;
	int r = vsn_yaml_u32(y, n, what, 1, 65535, &v);

	if (!r)
		*ret = (uint16_t)v;
	return r;
}

static int get_path(struct vsn_yaml *y, const yaml_node_t *n, const char *what, char **ret)
{
	const char *s = vsn_yaml_scalar(n);

	if (!s || !*s)
		return vsn_yaml_fail(y, n, "%s: expected a path", what);
	if (strlen(s) >= PATH_MAX)
		return vsn_yaml_fail(y, n, "%s: a path is shorter than %d characters", what,
				     PATH_MAX);
	*ret = strdup(s);
	return *ret ? 0 : vsn_yaml_oom(y);
}

/* "HOST:PORT" or "[IPV6]:PORT"; HOST a DNS name or an IPv4 address. */
static int parse_controller(struct vsn_yaml *y, const yaml_node_t *n, struct vsn_node_config *cfg)
{
	const char *s = vsn_yaml_scalar(n), *host, *colon;
	char buf[sizeof(cfg->controller_host)];
	struct vsn_addr a;
	size_t hlen;
	uint32_t port = 0;

	if (!s || !*s)
		return vsn_yaml_fail(y, n, "controller: expected HOST:PORT");
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return vsn_yaml_fail(
				y, n, "controller: expected [IPV6-ADDRESS]:PORT, not '%s'", s);
		host = s + 1;
		hlen = close - host;
		colon = close + 1;
	} else {
		colon = strchr(s, ':');
		if (!colon)
			return vsn_yaml_fail(y, n, "controller: expected HOST:PORT, not '%s'", s);
		if (strchr(colon + 1, ':'))
			return vsn_yaml_fail(
				y, n,
				"controller: an IPv6 address goes in brackets, [ADDRESS]:PORT");
		host = s;
		hlen = colon - host;
	}
	if (!hlen || hlen >= sizeof(buf))
		return vsn_yaml_fail(y, n, "controller: '%s' names no host", s);
	memcpy(buf, host, hlen);
	buf[hlen] = '\0';
	if (*s == '[') {
		if (vsn_addr_parse(buf, &a) || a.family != AF_INET6)
			return vsn_yaml_fail(y, n, "controller: '%s' is not an IPv6 address", buf);
	} else if (vsn_addr_parse(buf, &a) && vsn_tls_name_valid(buf)) {
		return vsn_yaml_fail(
			y, n, "controller: '%s' is neither a DNS name nor an IPv4 address", buf);
	}
	/* At most five digits, so the number cannot overflow before the range check. */
	if (!colon[1] || strlen(colon + 1) > 5 || colon[1 + strspn(colon + 1, "0123456789")] ||
	    (port = (uint32_t)atoi(colon + 1)) < 1 || port > 65535)
		return vsn_yaml_fail(y, n, "controller: the port is 1..65535, not '%s'", colon + 1);
	memcpy(cfg->controller_host, buf, hlen + 1);
	cfg->controller_port = (uint16_t)port;
	return 0;
}

static int tls_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_node_config *cfg = obj;

	if (!strcmp(key, "ca"))
		return get_path(y, v, "tls ca", &cfg->tls_ca);
	if (!strcmp(key, "cert"))
		return get_path(y, v, "tls cert", &cfg->tls_cert);
	return get_path(y, v, "tls key", &cfg->tls_key);
}

static int underlay_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct vsn_node_config *cfg = obj;
	bool v4 = !strcmp(key, "ipv4");
	const char *s = vsn_yaml_scalar(v);
	struct vsn_addr a;

	if (!s || vsn_addr_parse(s, &a))
		return vsn_yaml_fail(y, v, "underlay %s: expected an %s address", key,
				     v4 ? "IPv4" : "IPv6");
	if (v4 && a.family != AF_INET)
		return vsn_yaml_fail(y, v, "underlay ipv4: '%s' is an IPv6 address", s);
	if (!v4 && a.family != AF_INET6)
		return vsn_yaml_fail(y, v, "underlay ipv6: '%s' is an IPv4 address", s);
	if (!v4 && vsn_addr_is_v4mapped(&a))
		return vsn_yaml_fail(y, v, "underlay ipv6: '%s' is an IPv4 address in IPv6 form",
				     s);
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

static int iface_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct iface *it = obj;
	const char *s = vsn_yaml_scalar(v);

	if (!strcmp(key, "name")) {
		if (!s || !ifname_valid(s))
			return vsn_yaml_fail(
				y, v,
				"interface name: expected 1 to %d characters, no '/', ':' or "
				"space",
				IFNAMSIZ - 1);
		strcpy(it->i.name, s);
		it->has_name = true;
		return 0;
	}
	if (!s || vsn_attach_mode_parse(s, &it->i.mode))
		return vsn_yaml_fail(y, v, "interface mode: expected auto, native or generic");
	return 0;
}

static const char *const iface_fields[] = {"name", "mode", NULL};

static int parse_interfaces(struct vsn_yaml *y, yaml_node_t *seq, struct vsn_node_config *cfg)
{
	size_t n;
	int r;

	r = vsn_yaml_list(y, seq, "interfaces", &n);
	if (r || !n)
		return r;
	cfg->interfaces = calloc(n, sizeof(*cfg->interfaces));
	if (!cfg->interfaces)
		return vsn_yaml_oom(y);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = vsn_yaml_item(y, seq, i);
		struct iface it = {.i.mode = VSN_ATTACH_AUTO};

		r = vsn_yaml_each_field(y, item, "interface", iface_fields, iface_field, &it);
		if (r)
			return r;
		if (!it.has_name)
			return vsn_yaml_fail(y, item, "interface: 'name' is required");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->interfaces[j].name, it.i.name))
				return vsn_yaml_fail(y, item, "interface '%s' is listed twice",
						     it.i.name);
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

static int top_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct nc_ctx *c = obj;
	struct vsn_node_config *cfg = &c->cfg;
	const char *s = vsn_yaml_scalar(v);

	if (!strcmp(key, "node")) {
		if (!s || vsn_tls_name_valid(s))
			return vsn_yaml_fail(
				y, v,
				"node: expected a DNS name (labels of letters, digits and inner "
				"hyphens joined by dots)");
		strcpy(cfg->node, s);
		return 0;
	}
	if (!strcmp(key, "controller"))
		return parse_controller(y, v, cfg);
	if (!strcmp(key, "tls")) {
		int r = vsn_yaml_each_field(y, v, "tls", tls_fields, tls_field, cfg);

		if (r)
			return r;
		if (!cfg->tls_ca || !cfg->tls_cert || !cfg->tls_key)
			return vsn_yaml_fail(y, v, "tls: '%s' is required",
					     !cfg->tls_ca     ? "ca"
					     : !cfg->tls_cert ? "cert"
							      : "key");
		return 0;
	}
	if (!strcmp(key, "state_dir"))
		return get_path(y, v, "state_dir", &cfg->state_dir);
	if (!strcmp(key, "pin_dir"))
		return get_path(y, v, "pin_dir", &cfg->pin_dir);
	if (!strcmp(key, "interfaces"))
		return parse_interfaces(y, v, cfg);
	if (!strcmp(key, "underlay"))
		return vsn_yaml_each_field(y, v, "underlay", underlay_fields, underlay_field, cfg);
	if (!strcmp(key, "gue_port"))
		return get_port(y, v, "gue_port", &cfg->gue_port);
	if (!strcmp(key, "max_flows"))
		return vsn_yaml_u32(y, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_flows);
	if (!strcmp(key, "max_policies"))
		return vsn_yaml_u32(y, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_policies);
	if (!strcmp(key, "max_slbs"))
		return vsn_yaml_u32(y, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_slbs);
	if (!strcmp(key, "max_services"))
		return vsn_yaml_u32(y, v, key, 1, VSN_NODE_MAP_SIZE_MAX, &cfg->max_services);
	if (!strcmp(key, "stats_interval_ms"))
		return vsn_yaml_u32(y, v, key, STATS_MIN, STATS_MAX, &cfg->stats_interval_ms);
	if (!strcmp(key, "keepalive_interval_ms"))
		return vsn_yaml_u32(y, v, key, KEEPALIVE_MIN, KEEPALIVE_MAX,
				    &cfg->keepalive_interval_ms);
	if (!strcmp(key, "keepalive_timeout_ms")) {
		c->keepalive_timeout = v;
		return vsn_yaml_u32(y, v, key, KEEPALIVE_MIN, KEEPALIVE_TIMEOUT_MAX,
				    &cfg->keepalive_timeout_ms);
	}
	if (!strcmp(key, "reconnect_min_ms"))
		return vsn_yaml_u32(y, v, key, RECONNECT_MIN, RECONNECT_MIN_MAX,
				    &cfg->reconnect_min_ms);
	if (!strcmp(key, "reconnect_max_ms")) {
		c->reconnect_max = v;
		return vsn_yaml_u32(y, v, key, RECONNECT_MIN, RECONNECT_MAX_MAX,
				    &cfg->reconnect_max_ms);
	}
	if (!strcmp(key, "prepare_timeout_max_ms"))
		return vsn_yaml_u32(y, v, key, PREPARE_MIN, PREPARE_MAX,
				    &cfg->prepare_timeout_max_ms);
	/* log_format */
	if (s && !strcmp(s, "text"))
		cfg->log_format = VSN_NODE_LOG_TEXT;
	else if (s && !strcmp(s, "json"))
		cfg->log_format = VSN_NODE_LOG_JSON;
	else
		return vsn_yaml_fail(y, v, "log_format: expected text or json");
	return 0;
}

static int set_default(struct vsn_yaml *y, char **field, const char *value)
{
	if (!*field && !(*field = strdup(value)))
		return vsn_yaml_oom(y);
	return 0;
}

/* Required fields, defaults, and the checks between fields. */
static int finish(struct nc_ctx *c, yaml_node_t *root)
{
	struct vsn_yaml *y = &c->y;
	struct vsn_node_config *cfg = &c->cfg;
	int r;

	if (!cfg->node[0])
		return vsn_yaml_fail(y, root, "'node' is required");
	if (!cfg->controller_port)
		return vsn_yaml_fail(y, root, "'controller' is required");
	if (!cfg->tls_ca)
		return vsn_yaml_fail(y, root, "'tls' is required");
	if (!cfg->stats_interval_ms)
		cfg->stats_interval_ms = VSN_NODE_DEFAULT_STATS_INTERVAL_MS;
	if (!cfg->keepalive_interval_ms)
		cfg->keepalive_interval_ms = VSN_NODE_DEFAULT_KEEPALIVE_INTERVAL_MS;
	if (!cfg->keepalive_timeout_ms)
		cfg->keepalive_timeout_ms =
			VSN_NODE_DEFAULT_KEEPALIVE_INTERVALS * cfg->keepalive_interval_ms;
	else if (cfg->keepalive_timeout_ms <= cfg->keepalive_interval_ms)
		return vsn_yaml_fail(
			y, c->keepalive_timeout,
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
		return vsn_yaml_fail(y, c->reconnect_max,
				     "reconnect_max_ms: %u is less than reconnect_min_ms (%u)",
				     cfg->reconnect_max_ms, cfg->reconnect_min_ms);
	if (!cfg->prepare_timeout_max_ms)
		cfg->prepare_timeout_max_ms = VSN_NODE_DEFAULT_PREPARE_TIMEOUT_MAX_MS;
	r = set_default(y, &cfg->state_dir, VSN_NODE_DEFAULT_STATE_DIR);
	if (!r)
		r = set_default(y, &cfg->pin_dir, VSN_DP_DEFAULT_PIN_DIR);
	return r;
}

int vsn_node_config_parse(const char *name, const char *text, size_t len,
			  struct vsn_node_config *ret, char *err, size_t errlen)
{
	struct nc_ctx c = {0};
	int r;

	r = vsn_yaml_load(&c.y, name, text, len, err, errlen);
	if (r)
		return r;
	r = vsn_yaml_each_root_field(&c.y, "expected a mapping, the file is empty", "node config",
				     top_fields, top_field, &c);
	if (!r)
		r = finish(&c, vsn_yaml_root(&c.y));
	/* A second document would be ignored: refuse it instead. */
	if (!r)
		r = vsn_yaml_expect_end(&c.y);
	vsn_yaml_free(&c.y);
	if (r) {
		vsn_node_config_free(&c.cfg);
		return r;
	}
	*ret = c.cfg;
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
