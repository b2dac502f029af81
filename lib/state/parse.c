/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The document's YAML into struct vsn_state: every field of every entry,
 * each checked on its own (syntax, range, name form). Rules across entries
 * (references, uniqueness, address claims) are validate.c's and claims.c's.
 * Field callbacks note an error and go on, so a bad field never hides the
 * next one; they return 0, or -ENOMEM to stop.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "maglev.h"
#include "state_internal.h"
#include "vsn_tls.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const forward_names[] = {
	[VSN_FORWARD_L2] = "l2", [VSN_FORWARD_IPIP] = "ipip", [VSN_FORWARD_GUE] = "gue", NULL};
static const char *const slb_state_names[] = {
	[VSN_SLB_UP] = "up", [VSN_SLB_DOWN] = "down", [VSN_SLB_DRAIN] = "drain", NULL};
static const char *const on_change_names[] = {
	[VSN_ON_CHANGE_PRESERVE] = "preserve", [VSN_ON_CHANGE_REHASH] = "rehash", NULL};

/* A value for messages: the scalar's text, or what the node is instead. */
static const char *shown(const yaml_node_t *v)
{
	const char *s = vsn_yaml_scalar(v);

	if (s)
		return s;
	return v && v->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
}

static int dup_into(struct st_ctx *c, const char *s, const char **ret)
{
	*ret = vsn_arena_strdup(c->arena, s);
	return *ret ? 0 : st_oom(c);
}

/* One of names (NULL-terminated): its index; else -1 after "WHAT: expected a, b or c". */
static int keyword(struct st_ctx *c, const yaml_node_t *v, const char *what,
		   const char *const *names)
{
	const char *s = vsn_yaml_scalar(v);
	char list[128];
	size_t n = 0;
	int i;

	for (i = 0; names[i]; i++)
		if (s && !strcmp(s, names[i]))
			return i;
	for (int j = 0; j < i; j++) {
		const char *sep = j + 1 == i ? "" : j + 2 == i ? " or " : ", ";

		n += snprintf(list + n, sizeof(list) - n, "%s%s", names[j], sep);
	}
	st_error(c, v, "%s: expected %s, not '%s'", what, list, shown(v));
	return -1;
}

/* [a-z0-9][a-z0-9-]*, at most VSN_STATE_NAME_MAX characters. */
static bool name_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > VSN_STATE_NAME_MAX || *s == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

static int take_name(struct st_ctx *c, const yaml_node_t *v, const char *what, const char **ret)
{
	const char *s = vsn_yaml_scalar(v);

	if (!s || !name_valid(s)) {
		st_error(c, v,
			 "%s: '%s' is not a name: lowercase letters, digits and '-', starting "
			 "with a letter or digit, at most %d characters",
			 what, shown(v), VSN_STATE_NAME_MAX);
		return 0;
	}
	return dup_into(c, s, ret);
}

/* A reference to a name defined elsewhere: checked when names are resolved. */
static int take_ref(struct st_ctx *c, const yaml_node_t *v, const char *what, const char **ret)
{
	const char *s = vsn_yaml_scalar(v);

	if (!s || !*s) {
		st_error(c, v, "%s: expected a name, not '%s'", what, shown(v));
		return 0;
	}
	return dup_into(c, s, ret);
}

/*
 * ADDRESS or ADDRESS/LENGTH with no host bits set (vsn_prefix_parse()); the
 * error says which part is wrong. False after an error.
 */
static bool take_prefix(struct st_ctx *c, const yaml_node_t *v, const char *what,
			struct vsn_addr *ret, unsigned int *ret_plen)
{
	const char *s = vsn_yaml_scalar(v), *slash;
	char buf[VSN_ADDR_STRLEN], net[VSN_ADDR_STRLEN];
	struct vsn_addr a;
	unsigned long len;
	unsigned int max;
	char *end = NULL;

	if (s && !vsn_prefix_parse(s, ret, ret_plen))
		return true;
	slash = s ? strchr(s, '/') : NULL;
	if (!s || !slash || (size_t)(slash - s) >= sizeof(buf)) {
		st_error(c, v, "%s: expected an address or a prefix ADDRESS/LENGTH, not '%s'", what,
			 shown(v));
		return false;
	}
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	if (vsn_addr_parse(buf, &a)) {
		st_error(c, v, "%s: '%s' is not an IPv4 or IPv6 address", what, buf);
		return false;
	}
	max = a.family == AF_INET ? 32 : 128;
	/* At most three digits: no overflow, no sign, no blanks. */
	if (slash[1] >= '0' && slash[1] <= '9' && strlen(slash + 1) <= 3)
		len = strtoul(slash + 1, &end, 10);
	else
		len = max + 1;
	if (len > max || *end) {
		st_error(c, v, "%s: the prefix length is 0..%u, not '%s'", what, max, slash + 1);
		return false;
	}
	/* Only host bits are left: name the network the operator probably meant. */
	for (unsigned int bit = len; bit < max; bit++)
		a.bytes[bit / 8] &= ~(0x80 >> (bit % 8));
	st_error(c, v, "%s: %s/%s has host bits set: the prefix is %s/%lu", what, buf, slash + 1,
		 vsn_addr_format(&a, net, sizeof(net)), len);
	return false;
}

/* Whether the mapping holds key; a node that is no mapping has its error already. */
static bool has_key(struct st_ctx *c, const yaml_node_t *map, const char *key)
{
	if (map->type != YAML_MAPPING_NODE)
		return true;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = vsn_yaml_scalar(yaml_document_get_node(&c->y.doc, p->key));

		if (k && !strcmp(k, key))
			return true;
	}
	return false;
}

/*
 * A list the document uses a second time (through a YAML alias) is refused:
 * aliases of lists of aliases would multiply, a few lines making millions of
 * entries. libyaml gives the list's own place, not the alias's.
 */
static bool first_use(struct st_ctx *c, const yaml_node_t *seq)
{
	size_t i = seq - c->y.doc.nodes.start;

	if (c->used[i / 8] & (1u << (i % 8))) {
		st_error(c, seq,
			 "this list is used again through a YAML alias: write it out "
			 "where it is used");
		return false;
	}
	c->used[i / 8] |= 1u << (i % 8);
	return true;
}

/* How many entries a list has, and the error when it has more or fewer. */
struct list_kind {
	const char *what; /* "members" */
	size_t size;	  /* of an entry */
	size_t min, max;
	const char *bounds; /* a format taking the count (%zu) */
};

/*
 * The list seq into a new zeroed array *ret of *ret_n entries, or *ret_n 0
 * after an error. The array is the document's before its entries are read,
 * so that a parse that stops half-way frees what it read.
 */
static int read_list(struct st_ctx *c, yaml_node_t *seq, const struct list_kind *l, void *ret,
		     size_t *ret_n)
{
	void *arr;
	size_t n;
	int r;

	r = vsn_yaml_list(&c->y, seq, l->what, &n);
	if (r)
		return st_note(c, r);
	if (!first_use(c, seq))
		return 0;
	if (n < l->min || n > l->max) {
		st_error(c, seq, l->bounds, n);
		return 0;
	}
	arr = vsn_arena_calloc(c->arena, n, l->size);
	if (!arr)
		return st_oom(c);
	*(void **)ret = arr;
	*ret_n = n;
	return 0;
}

/* How to read one kind of list entry: a mapping of known fields. */
struct entry_kind {
	struct list_kind list;
	const char *what; /* an entry, in messages: "slb" */
	size_t pos_offset;
	const char *const *fields;
	const char *const *required;
	vsn_yaml_field_fn field;
	/* Defaults before the fields; checks after them. Optional. */
	void (*init)(void *entry);
	int (*done)(struct st_ctx *c, yaml_node_t *item, void *entry);
};

/*
 * An entry kind: its name in messages, its struct, its fields and the field callback; then its
 * list_kind's fields after the list's name.
 */
#define ENTRY_KIND(what_, type, fields_, required_, field_, ...)                 \
	.list = {__VA_ARGS__}, .what = what_, .pos_offset = offsetof(type, pos), \
	.fields = fields_, .required = required_, .field = field_
/* The rest of a top-level list_kind: any length of type. */
#define TOP_LIST(type) sizeof(type), 0, SIZE_MAX, NULL

/* Each mapping of the list seq into a new array *ret of *ret_n entries (read_list()). */
static int parse_entries(struct st_ctx *c, yaml_node_t *seq, const struct entry_kind *k, void *ret,
			 size_t *ret_n)
{
	int r = read_list(c, seq, &k->list, ret, ret_n);

	for (size_t i = 0; !r && i < *ret_n; i++) {
		yaml_node_t *item = vsn_yaml_item(&c->y, seq, i);
		void *entry = *(unsigned char **)ret + i * k->list.size;

		*(struct vsn_state_pos *)((char *)entry + k->pos_offset) = st_pos(item);
		if (k->init)
			k->init(entry);
		r = st_note(c,
			    vsn_yaml_each_field(&c->y, item, k->what, k->fields, k->field, entry));
		for (const char *const *req = k->required; !r && *req; req++)
			if (!has_key(c, item, *req))
				st_error(c, item, "%s: '%s' is required", k->what, *req);
		if (!r && k->done)
			r = k->done(c, item, entry);
	}
	return r;
}

/* A list of scalars, each read by item(); like parse_entries() otherwise. */
static int parse_scalars(struct st_ctx *c, yaml_node_t *seq, const struct list_kind *l,
			 int (*item)(struct st_ctx *c, const yaml_node_t *v, void *entry),
			 void *ret, size_t *ret_n)
{
	int r = read_list(c, seq, l, ret, ret_n);

	for (size_t i = 0; !r && i < *ret_n; i++)
		r = item(c, vsn_yaml_item(&c->y, seq, i), *(unsigned char **)ret + i * l->size);
	return r;
}

static int settings_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_settings *s = obj;
	uint32_t size;

	if (!strcmp(key, "hash_seed"))
		return st_note(c, vsn_yaml_u32(y, v, "hash_seed", 0, UINT32_MAX, &s->hash_seed));
	if (vsn_yaml_u32(y, v, "maglev_size", 2, VSN_MAGLEV_MAX_SIZE, &size))
		return st_note(c, -EINVAL);
	if (!vsn_maglev_is_prime(size))
		st_error(c, v, "maglev_size: %u is not a prime", size);
	else
		s->maglev_size = size;
	return 0;
}

static int node_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_node *n = obj;
	const char *s = vsn_yaml_scalar(v);

	/* A node's name is its certificate's: a DNS name. */
	if (!s || vsn_tls_name_valid(s)) {
		st_error(c, v, "node name: '%s' is not a DNS name (the node's certificate name)",
			 shown(v));
		return 0;
	}
	return dup_into(c, s, &n->name);
}

/* A duration written as 'for' takes it ("200ms", "2s"), from 1 ms up to max_ms. */
static int take_duration(struct st_ctx *c, const yaml_node_t *v, const char *what, uint32_t min_ms,
			 uint32_t max_ms, uint32_t *ret)
{
	const char *s = vsn_yaml_scalar(v);
	uint32_t ms;

	if (!s || vsn_cond_duration_parse(s, max_ms, &ms) || ms < min_ms)
		st_error(c, v, "%s: expected a duration from %ums to %us (200ms, 2s), not '%s'",
			 what, min_ms, max_ms / 1000, shown(v));
	else
		*ret = ms;
	return 0;
}

/* Printable ASCII without blanks, 1 to max characters (an HTTP path, a Host header). */
static bool printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (s[n] <= ' ' || s[n] > '~')
			return false;
	return n && n <= max;
}

static int take_path(struct st_ctx *c, const yaml_node_t *v, const char *what, const char **ret)
{
	const char *s = vsn_yaml_scalar(v);

	if (!s || *s != '/' || !printable(s, VSN_PROBE_PATH_MAX)) {
		st_error(c, v,
			 "%s: expected a path from '/', printable, without blanks, at most " STR(
				 VSN_PROBE_PATH_MAX) " characters, not '%s'",
			 what, shown(v));
		return 0;
	}
	return dup_into(c, s, ret);
}

static int take_host(struct st_ctx *c, const yaml_node_t *v, const char *what, const char **ret)
{
	const char *s = vsn_yaml_scalar(v);

	if (!s || !printable(s, VSN_PROBE_HOST_MAX)) {
		st_error(c, v,
			 "%s: expected a host name, printable, without blanks, at most " STR(
				 VSN_PROBE_HOST_MAX) " characters, not '%s'",
			 what, shown(v));
		return 0;
	}
	return dup_into(c, s, ret);
}

/* A file's path (a CA file): read by the controller when it probes, not here. */
static int take_file(struct st_ctx *c, const yaml_node_t *v, const char *what, const char **ret)
{
	const char *s = vsn_yaml_scalar(v);

	if (!s || !*s) {
		st_error(c, v, "%s: expected a file's path, not '%s'", what, shown(v));
		return 0;
	}
	return dup_into(c, s, ret);
}

static const char *const health_kind_names[] = {
	[VSN_PROBE_TCP] = "tcp", [VSN_PROBE_HTTP] = "http", [VSN_PROBE_HTTPS] = "https"};

static int probe_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_health *h = obj;
	uint32_t port;

	if (!strcmp(key, "port")) {
		if (!st_note(c, vsn_yaml_u32(y, v, "port", 1, 65535, &port)))
			h->port = (uint16_t)port;
		return 0;
	}
	if (!strcmp(key, "path"))
		return take_path(c, v, "path", &h->path);
	if (!strcmp(key, "expect"))
		return st_note(c, vsn_yaml_u32(y, v, "expect", 100, 599, &h->expect));
	if (!strcmp(key, "host"))
		return take_host(c, v, "host", &h->host);
	return take_file(c, v, "ca", &h->ca);
}

static const char *const tcp_fields[] = {"port", NULL};
static const char *const http_fields[] = {"port", "path", "expect", "host", NULL};
static const char *const https_fields[] = {"port", "path", "expect", "host", "ca", NULL};

static int health_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	static const char *const *const kind_fields[] = {[VSN_PROBE_TCP] = tcp_fields,
							 [VSN_PROBE_HTTP] = http_fields,
							 [VSN_PROBE_HTTPS] = https_fields};
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_health *h = obj;

	if (!strcmp(key, "interval"))
		return take_duration(c, v, "health interval", VSN_PROBE_MIN_INTERVAL_MS,
				     VSN_PROBE_MAX_INTERVAL_MS, &h->interval_ms);
	if (!strcmp(key, "timeout"))
		return take_duration(c, v, "health timeout", 1, VSN_PROBE_MAX_INTERVAL_MS,
				     &h->timeout_ms);
	if (!strcmp(key, "rise"))
		return st_note(c, vsn_yaml_u32(y, v, "rise", 1, VSN_PROBE_MAX_COUNT, &h->rise));
	if (!strcmp(key, "fall"))
		return st_note(c, vsn_yaml_u32(y, v, "fall", 1, VSN_PROBE_MAX_COUNT, &h->fall));
	for (int k = VSN_PROBE_TCP; k <= VSN_PROBE_HTTPS; k++) {
		if (strcmp(key, health_kind_names[k]))
			continue;
		if (h->kind) {
			st_error(c, v, "health: one probe, tcp, http or https: %s is given already",
				 health_kind_names[h->kind]);
			return 0;
		}
		h->kind = (enum vsn_probe_kind)k;
		if (!has_key(c, v, "port"))
			st_error(c, v, "health %s: 'port' is required", key);
		return st_note(c, vsn_yaml_each_field(y, v, key, kind_fields[k], probe_field, h));
	}
	return 0;
}

static const char *const health_fields[] = {"tcp",     "http", "https", "interval",
					    "timeout", "rise", "fall",	NULL};

static int take_health(struct st_ctx *c, yaml_node_t *v, struct vsn_state_slb *s)
{
	struct vsn_state_health *h = &s->health;
	uint32_t interval;
	int r;

	h->pos = st_pos(v);
	r = st_note(c, vsn_yaml_each_field(&c->y, v, "health", health_fields, health_field, h));
	if (r || v->type != YAML_MAPPING_NODE)
		return r;
	if (!h->kind) {
		st_error(c, v, "health: give a probe: tcp, http or https");
		h->kind = VSN_PROBE_TCP; /* not "no health" either */
		return 0;
	}
	interval = h->interval_ms ? h->interval_ms : VSN_PROBE_INTERVAL_MS;
	if (h->timeout_ms > interval)
		st_error(c, v, "health: the timeout (%ums) is longer than the interval (%ums)",
			 h->timeout_ms, interval);
	return 0;
}

static const char *const load_kind_names[] = {[VSN_LOAD_HAPROXY_CSV] = "haproxy_csv",
					      [VSN_LOAD_NGINX_STATUS] = "nginx_status",
					      [VSN_LOAD_PROMETHEUS] = "prometheus"};

/* http[s]://ADDRESS[:PORT][/path] with a numeric address ([IPv6]): what the scraper fetches. */
static bool url_valid(const char *s)
{
	char host[VSN_ADDR_STRLEN];
	struct vsn_addr a;
	const char *p, *end;
	size_t n;

	if (!strncmp(s, "http://", 7))
		p = s + 7;
	else if (!strncmp(s, "https://", 8))
		p = s + 8;
	else
		return false;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return false;
		n = end - p - 1;
		p++;
		end++;
	} else {
		n = strcspn(p, ":/");
		end = p + n;
	}
	if (!n || n >= sizeof(host))
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	if (vsn_addr_parse(host, &a) || (p[-1] != '[' && a.family == AF_INET6))
		return false;
	if (*end == ':') {
		size_t d = strspn(end + 1, "0123456789");
		unsigned long port = d && d <= 5 ? strtoul(end + 1, NULL, 10) : 0;

		if (port < 1 || port > 65535)
			return false;
		end += 1 + d;
	}
	return (!*end || *end == '/') && (!*end || printable(end, VSN_PROBE_PATH_MAX));
}

/*
 * A Prometheus selector's form: name or name{...}. The library's vsn_prom_sel_parse() (which
 * libvsnstate does not link) checks the labels when the controller sets the scrape.
 */
static bool metric_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
	size_t len = strlen(s);

	if (!n || n > VSN_PROM_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
		return false;
	return !s[n] || (s[n] == '{' && s[len - 1] == '}');
}

static int load_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_load *l = obj;
	const char *s = vsn_yaml_scalar(v);

	if (!strcmp(key, "proxy") || !strcmp(key, "server")) {
		if (!s || !*s || strlen(s) > VSN_PROBE_NAME_MAX) {
			st_error(c, v, "load %s: expected a name, not '%s'", key, shown(v));
			return 0;
		}
		return dup_into(c, s, !strcmp(key, "proxy") ? &l->proxy : &l->server);
	}
	if (!strcmp(key, "metric")) {
		if (!s || !metric_valid(s)) {
			st_error(c, v,
				 "load metric: expected a selector name or "
				 "name{label=\"value\",...}, not '%s'",
				 shown(v));
			return 0;
		}
		return dup_into(c, s, &l->metric);
	}
	if (!strcmp(key, "max")) {
		char *end = NULL;
		double d = s && *s ? strtod(s, &end) : NAN;

		if (!s || !*s || *end || !(d > 0) || !isfinite(d))
			st_error(c, v, "load max: expected a number above 0, not '%s'", shown(v));
		else
			l->max = d;
		return 0;
	}
	if (!strcmp(key, "host"))
		return take_host(c, v, "load host", &l->host);
	if (!strcmp(key, "ca"))
		return take_file(c, v, "load ca", &l->ca);
	if (!strcmp(key, "interval"))
		return take_duration(c, v, "load interval", VSN_PROBE_MIN_INTERVAL_MS,
				     VSN_PROBE_MAX_INTERVAL_MS, &l->interval_ms);
	if (!strcmp(key, "timeout"))
		return take_duration(c, v, "load timeout", 1, VSN_PROBE_MAX_INTERVAL_MS,
				     &l->timeout_ms);
	for (int k = VSN_LOAD_HAPROXY_CSV; k <= VSN_LOAD_PROMETHEUS; k++) {
		if (strcmp(key, load_kind_names[k]))
			continue;
		if (l->kind) {
			st_error(c, v,
				 "load: one source, haproxy_csv, nginx_status or prometheus: %s is "
				 "given already",
				 load_kind_names[l->kind]);
			return 0;
		}
		l->kind = (enum vsn_load_kind)k;
		if (!s || !url_valid(s)) {
			st_error(c, v,
				 "%s: expected a URL http[s]://ADDRESS[:PORT]/PATH with a numeric "
				 "address, not '%s'",
				 key, shown(v));
			return 0;
		}
		return dup_into(c, s, &l->url);
	}
	return 0;
}

static const char *const load_fields[] = {"haproxy_csv", "nginx_status", "prometheus", "proxy",
					  "server",	 "metric",	 "max",	       "host",
					  "ca",		 "interval",	 "timeout",    NULL};

/* Which fields go with which source: each given where it means nothing is an error. */
static int take_load(struct st_ctx *c, yaml_node_t *v, struct vsn_state_slb *s)
{
	struct vsn_state_load *l = &s->load;
	uint32_t interval;
	const char *kind;
	int r;

	l->pos = st_pos(v);
	r = st_note(c, vsn_yaml_each_field(&c->y, v, "load", load_fields, load_field, l));
	if (r || v->type != YAML_MAPPING_NODE)
		return r;
	if (!l->kind) {
		st_error(c, v, "load: give a source: haproxy_csv, nginx_status or prometheus");
		l->kind = VSN_LOAD_HAPROXY_CSV;
		return 0;
	}
	kind = load_kind_names[l->kind];
	if (l->kind == VSN_LOAD_HAPROXY_CSV && !has_key(c, v, "proxy"))
		st_error(c, v, "load: haproxy_csv needs 'proxy' (the row's pxname)");
	if (l->kind != VSN_LOAD_HAPROXY_CSV && (has_key(c, v, "proxy") || has_key(c, v, "server")))
		st_error(c, v, "load: 'proxy' and 'server' go with haproxy_csv, not %s", kind);
	if (l->kind == VSN_LOAD_PROMETHEUS && !has_key(c, v, "metric"))
		st_error(c, v, "load: prometheus needs 'metric' (a selector)");
	if (l->kind != VSN_LOAD_PROMETHEUS && has_key(c, v, "metric"))
		st_error(c, v, "load: 'metric' goes with prometheus, not %s", kind);
	if (l->kind != VSN_LOAD_HAPROXY_CSV && !has_key(c, v, "max"))
		st_error(c, v, "load: %s needs 'max' (the figure that is a load of 1)", kind);
	if (l->ca && l->url && strncmp(l->url, "https://", 8))
		st_error(c, v, "load: 'ca' goes with an https URL");
	interval = l->interval_ms ? l->interval_ms : VSN_PROBE_INTERVAL_MS;
	if (l->timeout_ms > interval)
		st_error(c, v, "load: the timeout (%ums) is longer than the interval (%ums)",
			 l->timeout_ms, interval);
	return 0;
}

static int slb_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_slb *s = obj;
	int i;

	if (!strcmp(key, "name"))
		return take_name(c, v, "slb name", &s->name);
	if (!strcmp(key, "address"))
		return st_note(c, vsn_yaml_addr(y, v, "slb address", &s->addr));
	if (!strcmp(key, "health"))
		return take_health(c, v, s);
	if (!strcmp(key, "load"))
		return take_load(c, v, s);
	if (!strcmp(key, "forward"))
		i = keyword(c, v, "forward", forward_names);
	else
		i = keyword(c, v, "state", slb_state_names);
	if (i >= 0 && !strcmp(key, "forward"))
		s->forward = (enum vsn_forward)i;
	else if (i >= 0)
		s->state = (enum vsn_slb_state)i;
	return 0;
}

static int member_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_member *m = obj;

	if (!strcmp(key, "slb")) {
		m->pos = st_pos(v);
		return take_ref(c, v, "member slb", &m->slb_name);
	}
	return st_note(c, vsn_yaml_u32(y, v, "weight", 1, VSN_DP_MAX_WEIGHT, &m->weight));
}

static void member_init(void *entry)
{
	((struct vsn_state_member *)entry)->weight = 1;
}

static const char *const member_fields[] = {"slb", "weight", NULL};
static const char *const member_required[] = {"slb", NULL};
static const struct entry_kind member_kind = {
	ENTRY_KIND("member", struct vsn_state_member, member_fields, member_required, member_field,
		   "members", sizeof(struct vsn_state_member), 1, VSN_MAGLEV_MAX_MEMBERS,
		   "members: a pool has 1 to " STR(VSN_MAGLEV_MAX_MEMBERS) " members, not %zu"),
	.init = member_init};

static int pool_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_pool *p = obj;

	if (!strcmp(key, "name"))
		return take_name(c, v, "pool name", &p->name);
	if (!strcmp(key, "forward")) {
		int i = keyword(c, v, "forward", forward_names);

		if (i >= 0)
			p->forward = (enum vsn_forward)i;
		return 0;
	}
	return parse_entries(c, v, &member_kind, &p->members, &p->n_members);
}

/* "tcp/80", "udp/53", or "tcp" alone for every port. */
static int port_item(struct st_ctx *c, const yaml_node_t *v, void *entry)
{
	struct vsn_state_port *p = entry;
	const char *s = vsn_yaml_scalar(v), *slash;
	size_t plen;

	p->pos = st_pos(v);
	slash = s ? strchr(s, '/') : NULL;
	plen = !s ? 0 : slash ? (size_t)(slash - s) : strlen(s);
	if (plen == 3 && !strncmp(s, "tcp", 3)) {
		p->proto = IPPROTO_TCP;
	} else if (plen == 3 && !strncmp(s, "udp", 3)) {
		p->proto = IPPROTO_UDP;
	} else {
		st_error(c, v, "ports: expected tcp/PORT, udp/PORT, tcp or udp, not '%s'",
			 shown(v));
		return 0;
	}
	if (slash) {
		unsigned long port = 0;

		if (strspn(slash + 1, "0123456789") == strlen(slash + 1) && strlen(slash + 1) &&
		    strlen(slash + 1) <= 5)
			port = strtoul(slash + 1, NULL, 10);
		if (port < 1 || port > 65535) {
			st_error(c, v, "ports: the port is 1..65535, not '%s'", slash + 1);
			p->proto = 0; /* not a claim */
			return 0;
		}
		p->port = (uint16_t)port;
	}
	return 0;
}

static void port_text(const struct vsn_state_port *p, char buf[16])
{
	snprintf(buf, 16, p->port ? "%s/%u" : "%s", p->proto == IPPROTO_TCP ? "tcp" : "udp",
		 p->port);
}

/* A service's ports overlap none of its others: each once, and a port not with its PROTO alone. */
static void check_own_ports(struct st_ctx *c, const struct vsn_state_service *vs)
{
	for (size_t i = 0; i < vs->n_ports; i++) {
		const struct vsn_state_port *p = &vs->ports[i];
		char a[16], b[16];

		for (size_t j = 0; p->proto && j < i; j++) {
			const struct vsn_state_port *q = &vs->ports[j];

			if (q->proto != p->proto || (q->port && p->port && q->port != p->port))
				continue;
			port_text(p, a);
			port_text(q, b);
			if (q->port == p->port)
				st_error_at(c, p->pos, "ports: %s is given twice", a);
			else
				st_error_at(c, p->pos, "ports: %s overlaps %s (line %d)", a, b,
					    q->pos.line);
			break;
		}
	}
}

static int node_ref_item(struct st_ctx *c, const yaml_node_t *v, void *entry)
{
	struct vsn_state_node_ref *n = entry;

	n->pos = st_pos(v);
	return take_ref(c, v, "nodes", &n->name);
}

static int policy_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_policy *p = obj;

	if (!strcmp(key, "clients")) {
		p->clients_pos = st_pos(v);
		p->has_clients = true;
		if (!take_prefix(c, v, "clients", &p->clients, &p->clients_plen))
			p->clients.family = 0; /* checked no further */
		return 0;
	}
	p->destination_pos = st_pos(v);
	return take_ref(c, v, "destination", &p->destination);
}

static const char *const policy_fields[] = {"clients", "destination", NULL};
static const char *const policy_required[] = {"destination", NULL};
static const struct entry_kind policy_kind = {
	ENTRY_KIND("policy", struct vsn_state_policy, policy_fields, policy_required, policy_field,
		   "policies", sizeof(struct vsn_state_policy), 1, SIZE_MAX,
		   "policies: a configuration has at least one policy, not %zu")};

/* A condition, parsed; names in it are looked up once every entry is read (validate.c). */
static int take_when(struct st_ctx *c, yaml_node_t *v, struct vsn_state_config *cfg)
{
	const char *s = vsn_yaml_scalar(v);
	struct vsn_cond_error err;
	struct vsn_cond *cond;
	int r;

	if (!s) {
		st_error(c, v, "when: expected a condition, not %s", shown(v));
		cfg->when = ""; /* not the default either */
		return 0;
	}
	r = dup_into(c, s, &cfg->when);
	if (r)
		return r;
	cfg->when_pos = st_scalar_pos(c, v, 1);
	r = vsn_cond_parse(s, strlen(s), &cond, &err);
	if (r == -ENOMEM)
		return st_oom(c);
	if (r) {
		st_error_at(c, st_scalar_pos(c, v, err.column), "when: %s", err.msg);
		return 0;
	}
	cfg->cond = cond;
	if (c->n_whens == c->cap_whens) {
		size_t cap = c->cap_whens ? 2 * c->cap_whens : 64;
		struct st_when *w = realloc(c->whens, cap * sizeof(*w));

		if (!w)
			return st_oom(c);
		c->whens = w;
		c->cap_whens = cap;
	}
	c->whens[c->n_whens++] = (struct st_when){cfg, v};
	return 0;
}

static int config_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_config *cfg = obj;

	if (!strcmp(key, "name"))
		return take_name(c, v, "configuration name", &cfg->name);
	if (!strcmp(key, "priority"))
		return st_note(c, vsn_yaml_u32(y, v, "priority", 0, UINT32_MAX, &cfg->priority));
	if (!strcmp(key, "when"))
		return take_when(c, v, cfg);
	return parse_entries(c, v, &policy_kind, &cfg->policies, &cfg->n_policies);
}

static const char *const config_fields[] = {"name", "priority", "when", "policies", NULL};
static const char *const config_required[] = {"name", "policies", NULL};
static const struct entry_kind config_kind = {
	ENTRY_KIND("configuration", struct vsn_state_config, config_fields, config_required,
		   config_field, "configurations", sizeof(struct vsn_state_config), 1, SIZE_MAX,
		   "configurations: a service has at least one configuration, not %zu")};

static const struct list_kind ports_list = {
	"ports", sizeof(struct vsn_state_port), 1, SIZE_MAX,
	"ports: %zu ports; leave 'ports' out for every tcp and udp port"};
static const struct list_kind nodes_list = {"nodes", sizeof(struct vsn_state_node_ref), 0, SIZE_MAX,
					    NULL};

static int service_vip(struct st_ctx *c, const yaml_node_t *v, struct vsn_state_service *vs)
{
	vs->vip_pos = st_pos(v);
	if (!take_prefix(c, v, "vip", &vs->vip, &vs->vip_plen))
		return 0;
	/* IPv4 in tables is v4-mapped: such a VIP would be an IPv4 VIP in disguise. */
	if (vsn_addr_is_v4mapped(&vs->vip))
		st_error(c, v, "vip: write the IPv4 address %s as IPv4", shown(v));
	else if (vs->vip_plen == 0)
		st_error(c, v, "vip: a /0 prefix would take every address");
	else
		return 0;
	vs->vip.family = 0; /* checked no further */
	return 0;
}

static int service_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state_service *vs = obj;
	int r;

	if (!strcmp(key, "name"))
		return take_name(c, v, "service name", &vs->name);
	if (!strcmp(key, "vip"))
		return service_vip(c, v, vs);
	if (!strcmp(key, "ports")) {
		r = parse_scalars(c, v, &ports_list, port_item, &vs->ports, &vs->n_ports);
		check_own_ports(c, vs);
		return r;
	}
	if (!strcmp(key, "nodes")) {
		vs->nodes_given = true;
		return parse_scalars(c, v, &nodes_list, node_ref_item, &vs->nodes, &vs->n_nodes);
	}
	if (!strcmp(key, "on_change")) {
		int i = keyword(c, v, "on_change", on_change_names);

		if (i >= 0)
			vs->on_change = (enum vsn_on_change)i;
		return 0;
	}
	return parse_entries(c, v, &config_kind, &vs->configs, &vs->n_configs);
}

/* Without 'ports': tcp and udp, every port. */
static int service_done(struct st_ctx *c, yaml_node_t *item, void *entry)
{
	struct vsn_state_service *vs = entry;

	if (has_key(c, item, "ports"))
		return 0;
	vs->ports = vsn_arena_calloc(c->arena, 2, sizeof(*vs->ports));
	if (!vs->ports)
		return st_oom(c);
	vs->ports[0] = (struct vsn_state_port){IPPROTO_TCP, 0, vs->pos};
	vs->ports[1] = (struct vsn_state_port){IPPROTO_UDP, 0, vs->pos};
	vs->n_ports = 2;
	return 0;
}

static const char *const node_fields[] = {"name", NULL};
static const char *const slb_fields[] = {"name",   "address", "forward", "state",
					 "health", "load",    NULL};
static const char *const slb_required[] = {"name", "address", NULL};
static const char *const pool_fields[] = {"name", "forward", "members", NULL};
static const char *const pool_required[] = {"name", "members", NULL};
static const char *const service_fields[] = {"name",	       "vip", "ports", "nodes", "on_change",
					     "configurations", NULL};
static const char *const service_required[] = {"name", "vip", "configurations", NULL};
static const char *const settings_fields[] = {"maglev_size", "hash_seed", NULL};
static const char *const top_fields[] = {"settings",	     "nodes", "slbs", "pools",
					 "virtual_services", NULL};

static const struct entry_kind node_kind = {ENTRY_KIND("node", struct vsn_state_node, node_fields,
						       node_fields, node_field, "nodes",
						       TOP_LIST(struct vsn_state_node))};
static const struct entry_kind slb_kind = {ENTRY_KIND("slb", struct vsn_state_slb, slb_fields,
						      slb_required, slb_field, "slbs",
						      TOP_LIST(struct vsn_state_slb))};
static const struct entry_kind pool_kind = {ENTRY_KIND("pool", struct vsn_state_pool, pool_fields,
						       pool_required, pool_field, "pools",
						       TOP_LIST(struct vsn_state_pool))};
static const struct entry_kind service_kind = {
	ENTRY_KIND("service", struct vsn_state_service, service_fields, service_required,
		   service_field, "virtual_services", TOP_LIST(struct vsn_state_service)),
	.done = service_done};

static int top_field(struct vsn_yaml *y, const char *key, yaml_node_t *v, void *obj)
{
	struct st_ctx *c = st_ctx_of(y);
	struct vsn_state *st = c->st;

	if (!strcmp(key, "settings"))
		return st_note(c, vsn_yaml_each_field(y, v, "settings", settings_fields,
						      settings_field, &st->settings));
	if (!strcmp(key, "nodes"))
		return parse_entries(c, v, &node_kind, &st->nodes, &st->n_nodes);
	if (!strcmp(key, "slbs"))
		return parse_entries(c, v, &slb_kind, &st->slbs, &st->n_slbs);
	if (!strcmp(key, "pools"))
		return parse_entries(c, v, &pool_kind, &st->pools, &st->n_pools);
	return parse_entries(c, v, &service_kind, &st->services, &st->n_services);
}

int st_parse_document(struct st_ctx *c)
{
	size_t n_nodes = c->y.doc.nodes.top - c->y.doc.nodes.start;
	int r;

	c->used = calloc(n_nodes / 8 + 1, 1);
	if (!c->used)
		return st_oom(c);
	c->st->settings.maglev_size = VSN_MAGLEV_DEFAULT_SIZE;
	r = st_note(c, vsn_yaml_each_root_field(&c->y, "empty document", "document", top_fields,
						top_field, c));
	/* A second document would be ignored: refuse it. */
	if (!r)
		r = st_note(c, vsn_yaml_expect_end(&c->y));
	return r;
}
