/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the agent's configuration file parser: any input must
 * give a configuration that keeps the documented invariants, or an error
 * string naming FILE:LINE:COLUMN, never a crash, a leak or undefined
 * behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsn_node_config cfg;
	char err[512];

	err[0] = '\0';
	if (vsn_node_config_parse("fuzz.yaml", (const char *)data, size, &cfg, err, sizeof(err))) {
		if (strncmp(err, "fuzz.yaml:", 10))
			abort();
		return 0;
	}
	if (vsn_tls_name_valid(cfg.node) || !cfg.controller_host[0] || !cfg.controller_port ||
	    !cfg.tls_ca || !cfg.tls_cert || !cfg.tls_key || !cfg.state_dir || !cfg.pin_dir ||
	    (cfg.n_interfaces && !cfg.interfaces) ||
	    cfg.keepalive_timeout_ms <= cfg.keepalive_interval_ms ||
	    cfg.reconnect_max_ms < cfg.reconnect_min_ms || !cfg.stats_interval_ms ||
	    !cfg.prepare_timeout_max_ms)
		abort();
	for (size_t i = 0; i < cfg.n_interfaces; i++)
		if (!cfg.interfaces[i].name[0] ||
		    strnlen(cfg.interfaces[i].name, VSN_NODE_IFNAME_SIZE) == VSN_NODE_IFNAME_SIZE)
			abort();
	vsn_node_config_free(&cfg);
	return 0;
}
