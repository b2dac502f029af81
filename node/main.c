/* SPDX-License-Identifier: Apache-2.0 */
/* vsn-node: the network node agent. `vsn-node --config FILE`; docs/node.md. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vsn-node --config FILE [--log-level error|warn|info|debug] [--check]\n"
		"\n"
		"The vsn network node agent: keeps this node's XDP forwarder running the policy\n"
		"set that the controller (vsnd) sends, over mutual TLS. It adopts a forwarder\n"
		"already running under the config's pin_dir without touching it; with none, it\n"
		"loads one and applies the set persisted in state_dir before it reaches the\n"
		"controller. Stopping the agent (or killing it) never stops forwarding.\n"
		"\n"
		"  -c, --config FILE     the agent's configuration (docs/node.md, "
		"\"Configuration\")\n"
		"  -l, --log-level L     error, warn, info (default) or debug\n"
		"      --check           check the configuration file and exit\n"
		"  -V, --version         print the version and exit\n"
		"  -h, --help            this text\n"
		"\n"
		"Signals: SIGHUP re-reads the certificates; SIGTERM and SIGINT stop the agent\n"
		"(forwarding goes on).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"check", no_argument, NULL, 'k'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	enum vsn_log_level level = VSN_LOG_INFO;
	struct vsn_node_config cfg;
	const char *path = NULL;
	bool check = false;
	struct agent a;
	char err[512];
	int c, r;

	while ((c = getopt_long(argc, argv, "c:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'l':
			if (vsn_log_level_parse(optarg, &level)) {
				fprintf(stderr, "vsn-node: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("vsn-node %s\n", VSN_NODE_SOFTWARE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	r = vsn_node_config_load(path, &cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "vsn-node: %s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: ok\n", path);
		vsn_node_config_free(&cfg);
		return 0;
	}
	vsn_log_setup("vsn-node", cfg.log_format == VSN_NODE_LOG_JSON ? VSN_LOG_JSON : VSN_LOG_TEXT,
		      level);
	r = agent_init(&a, &cfg);
	if (!r)
		r = agent_run(&a);
	else
		log_err("exit", "cannot start: %s", strerror(-r));
	agent_fini(&a);
	vsn_node_config_free(&cfg);
	return r ? 1 : 0;
}
