/* SPDX-License-Identifier: Apache-2.0 */
/* vsnd's command line. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsn_tls.h"
#include "vsnd.h"

static const char usage[] =
	"Usage: vsnd --listen ADDR:PORT --ca FILE --cert FILE --key FILE\n"
	"            --db FILE --api ADDR:PORT --tokens FILE [--one-phase]\n"
	"            [--max-policies N] [--max-services N] [--max-slbs N]\n"
	"       vsnd --listen ADDR:PORT --ca FILE --cert FILE --key FILE\n"
	"            [--set FILE] [--node-set NODE=FILE ...] [--two-phase]\n"
	"       common: [--prepare-timeout-ms N] [--rollout-timeout-ms N]\n"
	"            [--log-format text|json] [--log-level error|warn|info|debug]\n"
	"\n"
	"The vsn controller. With --db: the desired state, its revisions and events in a\n"
	"SQLite file, compiled into each node's policy set and pushed to the nodes\n"
	"(vsn-node) over mutual TLS, managed through a REST API (vsn apply, vsn status;\n"
	"docs/controller.md). Without: static mode, policy sets read from files\n"
	"(docs/vsnd.md).\n"
	"\n"
	"  --db FILE                the store (SQLite; made when missing): controller mode\n"
	"  --api ADDR:PORT          where the REST API listens (HTTPS, the --cert and --key)\n"
	"  --tokens FILE            the API's bearer tokens: 'ROLE TOKEN' lines, ROLE admin\n"
	"                           or read\n"
	"  --one-phase              push changes to each node at once; by default a change\n"
	"                           that touches several connected nodes is rolled out in two\n"
	"                           phases so that they switch together\n"
	"  --eval-interval-ms N     how often the services' conditions are evaluated\n"
	"                           (default 500)\n"
	"  --dwell-ms N             the minimum time between two switches of a service,\n"
	"                           except away from failed destinations (default 10000)\n"
	"  --max-policies N, --max-services N, --max-slbs N\n"
	"                           the nodes' capacities, which policy, service and SLB ids\n"
	"                           must stay below (defaults 65536, 4096, 4096: vsn-node's)\n"
	"\n"
	"  --listen ADDR:PORT       where nodes connect: 192.0.2.1:7700, [::]:7700\n"
	"  --ca FILE                the CA certificate node certificates must chain to\n"
	"  --cert FILE, --key FILE  the controller's certificate (vsn cert issue --controller)\n"
	"                           and its key\n"
	"  --set FILE               a policy-set file (the format of vsn-dpctl apply,\n"
	"                           docs/dpctl.md), served to every node without a --node-set\n"
	"  --node-set NODE=FILE     the set NODE (its certificate's name) gets instead;\n"
	"                           repeat for more nodes. At least one of --set, --node-set\n"
	"  --two-phase              static mode: on SIGHUP, roll changed sets out to the connected "
	"nodes in\n"
	"                           two phases (hold, Prepare on all, then Commit on all, or\n"
	"                           Abort on all when one fails); else each node gets its set\n"
	"                           at once\n"
	"  --prepare-timeout-ms N   how long a node keeps a prepared set waiting for its Commit\n"
	"                           (default 10000)\n"
	"  --rollout-timeout-ms N   how long a rollout waits for every node to be prepared, and\n"
	"                           then for every Commit's Ack (default: half the prepare\n"
	"                           timeout; must be below it)\n"
	"  --log-format text|json   default text, on stderr\n"
	"  --log-level LEVEL        error, warn, info (default) or debug\n"
	"  --help                   this text\n"
	"\n"
	"A set's generation is the file's 'generation:' when it has one, else the file's\n"
	"modification time in nanoseconds since the epoch. A file that does not load stops\n"
	"vsnd at start with FILE:LINE:COLUMN and the reason (exit status 1).\n"
	"\n"
	"Signals: SIGHUP re-reads the certificates (for new connections; a bad file keeps\n"
	"the old ones), the API's tokens, and in static mode every set file; if any fails\n"
	"to load, or a changed set keeps\n"
	"its generation, nothing changes and the old sets stay served. Otherwise SLBs whose\n"
	"state changed are sent to every node first (SlbState), then the changed sets.\n"
	"SIGTERM, SIGINT: exit.\n";

enum {
	OPT_LISTEN = 1,
	OPT_CA,
	OPT_CERT,
	OPT_KEY,
	OPT_SET,
	OPT_NODE_SET,
	OPT_TWO_PHASE,
	OPT_PREPARE_TIMEOUT,
	OPT_ROLLOUT_TIMEOUT,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_DB,
	OPT_API,
	OPT_TOKENS,
	OPT_ONE_PHASE,
	OPT_MAX_POLICIES,
	OPT_MAX_SERVICES,
	OPT_MAX_SLBS,
	OPT_EVAL_INTERVAL,
	OPT_DWELL,
};

static const struct option options[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"ca", required_argument, NULL, OPT_CA},
	{"cert", required_argument, NULL, OPT_CERT},
	{"key", required_argument, NULL, OPT_KEY},
	{"set", required_argument, NULL, OPT_SET},
	{"node-set", required_argument, NULL, OPT_NODE_SET},
	{"two-phase", no_argument, NULL, OPT_TWO_PHASE},
	{"prepare-timeout-ms", required_argument, NULL, OPT_PREPARE_TIMEOUT},
	{"rollout-timeout-ms", required_argument, NULL, OPT_ROLLOUT_TIMEOUT},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, OPT_HELP},
	{"db", required_argument, NULL, OPT_DB},
	{"api", required_argument, NULL, OPT_API},
	{"tokens", required_argument, NULL, OPT_TOKENS},
	{"one-phase", no_argument, NULL, OPT_ONE_PHASE},
	{"max-policies", required_argument, NULL, OPT_MAX_POLICIES},
	{"max-services", required_argument, NULL, OPT_MAX_SERVICES},
	{"max-slbs", required_argument, NULL, OPT_MAX_SLBS},
	{"eval-interval-ms", required_argument, NULL, OPT_EVAL_INTERVAL},
	{"dwell-ms", required_argument, NULL, OPT_DWELL},
	{NULL, 0, NULL, 0},
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "vsnd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(vsnd --help tells the options)\n");
	return -EINVAL;
}

/* A number of milliseconds, 1 .. one hour. */
static int parse_ms(const char *s, unsigned int *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > 3600000)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

/* A capacity: 2 .. 2^26. */
static int parse_cap(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 2 || v > (1ul << 26))
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int add_node_set(struct vsnd_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct vsnd_node_set *ns;
	char *node;

	if (!eq || eq == arg || !eq[1])
		return bad("--node-set '%s': NODE=FILE expected", arg);
	node = strndup(arg, (size_t)(eq - arg));
	if (!node)
		return -ENOMEM;
	if (vsn_tls_name_valid(node)) {
		free(node);
		return bad("--node-set '%s': the node is not a certificate name (a DNS name)", arg);
	}
	for (size_t i = 0; i < o->n_node_sets; i++)
		if (!strcmp(o->node_sets[i].node, node)) {
			free(node);
			return bad("--node-set '%s': that node has a set already", arg);
		}
	ns = realloc(o->node_sets, (o->n_node_sets + 1) * sizeof(*ns));
	if (!ns) {
		free(node);
		return -ENOMEM;
	}
	o->node_sets = ns;
	ns[o->n_node_sets].node = node;
	ns[o->n_node_sets].path = eq + 1;
	o->n_node_sets++;
	return 0;
}

int vsnd_opts_parse(int argc, char **argv, struct vsnd_opts *o)
{
	int c, r;

	memset(o, 0, sizeof(*o));
	o->prepare_timeout_ms = VSND_DEFAULT_PREPARE_TIMEOUT_MS;
	o->log_format = VSN_LOG_TEXT;
	o->log_level = VSN_LOG_INFO;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		r = 0;
		switch (c) {
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_CA:
			o->ca = optarg;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_SET:
			o->set_path = optarg;
			break;
		case OPT_NODE_SET:
			r = add_node_set(o, optarg);
			break;
		case OPT_TWO_PHASE:
			o->two_phase = true;
			break;
		case OPT_PREPARE_TIMEOUT:
			if (parse_ms(optarg, &o->prepare_timeout_ms))
				r = bad("--prepare-timeout-ms '%s': 1 .. 3600000 expected", optarg);
			break;
		case OPT_ROLLOUT_TIMEOUT:
			if (parse_ms(optarg, &o->rollout_timeout_ms))
				r = bad("--rollout-timeout-ms '%s': 1 .. 3600000 expected", optarg);
			break;
		case OPT_LOG_FORMAT:
			if (vsn_log_format_parse(optarg, &o->log_format))
				r = bad("--log-format '%s': text or json expected", optarg);
			break;
		case OPT_LOG_LEVEL:
			if (vsn_log_level_parse(optarg, &o->log_level))
				r = bad("--log-level '%s': error, warn, info or debug expected",
					optarg);
			break;
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_API:
			o->api = optarg;
			break;
		case OPT_TOKENS:
			o->tokens = optarg;
			break;
		case OPT_ONE_PHASE:
			o->one_phase = true;
			break;
		case OPT_MAX_POLICIES:
		case OPT_MAX_SERVICES:
		case OPT_MAX_SLBS:
			if (parse_cap(optarg, c == OPT_MAX_POLICIES   ? &o->max_policies
					      : c == OPT_MAX_SERVICES ? &o->max_services
								      : &o->max_slbs))
				r = bad("'%s': a capacity from 2 to 67108864 expected", optarg);
			break;
		case OPT_EVAL_INTERVAL:
			if (parse_ms(optarg, &o->eval_interval_ms))
				r = bad("--eval-interval-ms '%s': 1 .. 3600000 expected", optarg);
			break;
		case OPT_DWELL:
			if (parse_ms(optarg, &o->dwell_ms))
				r = bad("--dwell-ms '%s': 1 .. 3600000 expected", optarg);
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			vsnd_opts_free(o);
			return 1;
		default:
			r = bad("unknown option or missing value: '%s'", argv[optind - 1]);
			break;
		}
		if (r)
			goto fail;
	}
	r = -EINVAL;
	if (optind < argc) {
		bad("unexpected '%s'", argv[optind]);
		goto fail;
	}
	if (!o->listen || !o->ca || !o->cert || !o->key) {
		bad("%s", "--listen, --ca, --cert and --key are required");
		goto fail;
	}
	if (o->db) {
		if (o->set_path || o->n_node_sets || o->two_phase) {
			bad("%s",
			    "--db (controller mode) takes no --set, --node-set or --two-phase");
			goto fail;
		}
		if (!o->api || !o->tokens) {
			bad("%s", "--db needs --api ADDR:PORT and --tokens FILE");
			goto fail;
		}
	} else if (o->api || o->tokens || o->one_phase || o->max_policies || o->max_services ||
		   o->max_slbs || o->eval_interval_ms || o->dwell_ms) {
		bad("%s",
		    "--api, --tokens, --one-phase, --max-*, --eval-interval-ms and --dwell-ms "
		    "need --db (controller mode)");
		goto fail;
	} else if (!o->set_path && !o->n_node_sets) {
		bad("%s", "no set to serve: give --set FILE, --node-set NODE=FILE or both, or "
			  "--db FILE for controller mode");
		goto fail;
	}
	if (!o->max_policies)
		o->max_policies = VSN_DEFAULT_MAX_POLICIES;
	if (!o->max_services)
		o->max_services = VSN_DEFAULT_MAX_SERVICES;
	if (!o->max_slbs)
		o->max_slbs = VSN_DEFAULT_MAX_SLBS;
	if (!o->rollout_timeout_ms)
		o->rollout_timeout_ms = o->prepare_timeout_ms > 1 ? o->prepare_timeout_ms / 2 : 1;
	if (o->rollout_timeout_ms >= o->prepare_timeout_ms) {
		bad("%s", "--rollout-timeout-ms must be below --prepare-timeout-ms, so that a "
			  "Commit finds every node still prepared");
		goto fail;
	}
	return 0;
fail:
	vsnd_opts_free(o);
	return r == -ENOMEM ? bad("%s", "out of memory") : r;
}

void vsnd_opts_free(struct vsnd_opts *o)
{
	for (size_t i = 0; i < o->n_node_sets; i++)
		free((char *)o->node_sets[i].node);
	free(o->node_sets);
	o->node_sets = NULL;
	o->n_node_sets = 0;
}
