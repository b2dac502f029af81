/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration file (docs/node.md, "Configuration"): a YAML
 * mapping read with libyaml's document loader. Parsing is pure (no BPF, no
 * network, no file but the one vsn_node_config_load() reads). Unknown keys,
 * keys given twice, wrong types and values out of range are errors naming
 * NAME:LINE:COLUMN, so a typo never silently means "the default".
 *
 * Bounded names live in fixed arrays; paths and the interface list are
 * malloc'd and freed by vsn_node_config_free(). After a successful parse
 * every field holds its value or its default: every path is non-NULL.
 */
#ifndef VSN_NODE_CONFIG_H
#define VSN_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "vsn_dp.h"
#include "vsn_tls.h"

#define VSN_NODE_DEFAULT_STATE_DIR "/var/lib/vsn-node"
#define VSN_NODE_DEFAULT_STATS_INTERVAL_MS 1000u
#define VSN_NODE_DEFAULT_KEEPALIVE_INTERVAL_MS 5000u
/* The keepalive timeout defaults to this many intervals. */
#define VSN_NODE_DEFAULT_KEEPALIVE_INTERVALS 3u
#define VSN_NODE_DEFAULT_RECONNECT_MIN_MS 100u
#define VSN_NODE_DEFAULT_RECONNECT_MAX_MS 10000u
#define VSN_NODE_DEFAULT_PREPARE_TIMEOUT_MAX_MS 60000u
/* The bound of max_flows, max_policies, max_slbs and max_services, as vsn-dpctl load's. */
#define VSN_NODE_MAP_SIZE_MAX (1u << 26)
/* IFNAMSIZ (an interface name and its NUL), without <net/if.h> here. */
#define VSN_NODE_IFNAME_SIZE 16
/* A configuration file larger than this is refused by vsn_node_config_load(). */
#define VSN_NODE_CONFIG_MAX_BYTES (1u << 20)

enum vsn_node_log_format {
	VSN_NODE_LOG_TEXT = 0,
	VSN_NODE_LOG_JSON,
};

struct vsn_node_iface {
	char name[VSN_NODE_IFNAME_SIZE];
	enum vsn_attach_mode mode; /* default VSN_ATTACH_AUTO */
};

struct vsn_node_config {
	/* A DNS name; the agent checks it equals its certificate's name. */
	char node[VSN_TLS_NAME_MAX + 1];
	/* The controller: a DNS name or an address (an IPv6 one without its brackets). */
	char controller_host[VSN_TLS_NAME_MAX + 1];
	uint16_t controller_port;
	char *tls_ca;
	char *tls_cert;
	char *tls_key;
	char *state_dir; /* default VSN_NODE_DEFAULT_STATE_DIR */
	char *pin_dir;	 /* default VSN_DP_DEFAULT_PIN_DIR */
	/* Where to attach; none (n_interfaces 0, interfaces NULL) is detached mode. */
	struct vsn_node_iface *interfaces;
	size_t n_interfaces;
	/* Outer source addresses for ipip and gue; family 0 when not given. */
	struct vsn_addr underlay_ipv4;
	struct vsn_addr underlay_ipv6;
	uint16_t gue_port; /* 0: not given */
	/* Table sizes when the agent loads the forwarder; 0: not given (the library's defaults). */
	uint32_t max_flows;
	uint32_t max_policies;
	uint32_t max_slbs;
	uint32_t max_services;
	uint32_t stats_interval_ms;
	uint32_t keepalive_interval_ms;
	uint32_t keepalive_timeout_ms; /* always > keepalive_interval_ms */
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms; /* always >= reconnect_min_ms */
	uint32_t prepare_timeout_max_ms;
	enum vsn_node_log_format log_format;
};

/*
 * Parse text (len bytes, not NUL-terminated necessarily) named name into
 * *ret. On error returns -EINVAL with "NAME:LINE:COLUMN: message" in err
 * (truncated to errlen), or -ENOMEM; *ret is untouched.
 */
int vsn_node_config_parse(const char *name, const char *text, size_t len,
			  struct vsn_node_config *ret, char *err, size_t errlen);

/*
 * Read the file at path and parse it as vsn_node_config_parse() with path as
 * its name. A file that cannot be read is its errno with "PATH: reason" in
 * err; one over VSN_NODE_CONFIG_MAX_BYTES is -EFBIG.
 */
int vsn_node_config_load(const char *path, struct vsn_node_config *ret, char *err, size_t errlen);

/* Free what a successful parse allocated and zero *cfg; a zeroed config is fine too. */
void vsn_node_config_free(struct vsn_node_config *cfg);

#endif /* VSN_NODE_CONFIG_H */
