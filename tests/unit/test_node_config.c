/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration file: a full file, the defaults of a minimal
 * one, and each class of error with its message and exact LINE:COLUMN.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "config.h"

/* The example of docs/node.md, "Configuration". */
static const char full[] = "node: node1\n"
			   "controller: 192.0.2.1:7700\n"
			   "tls:\n"
			   "  ca: /etc/vsn/ca.crt\n"
			   "  cert: /etc/vsn/node1.crt\n"
			   "  key: /etc/vsn/node1.key\n"
			   "state_dir: /var/lib/vsn-node\n"
			   "pin_dir: /sys/fs/bpf/vsn\n"
			   "interfaces:\n"
			   "  - name: eth0\n"
			   "    mode: native\n"
			   "  - name: eth1\n"
			   "underlay:\n"
			   "  ipv4: 10.0.0.1\n"
			   "  ipv6: fd00::1\n"
			   "gue_port: 6080\n"
			   "max_flows: 1048576\n"
			   "max_policies: 1024\n"
			   "max_slbs: 64\n"
			   "max_services: 32\n"
			   "stats_interval_ms: 2000\n"
			   "keepalive_interval_ms: 4000\n"
			   "keepalive_timeout_ms: 9000\n"
			   "reconnect_min_ms: 200\n"
			   "reconnect_max_ms: 20000\n"
			   "prepare_timeout_max_ms: 30000\n"
			   "log_format: json\n";

static const char minimal[] = "node: node1.example.org\n"
			      "controller: ctl.example.org:7700\n"
			      "tls: {ca: ca.crt, cert: node1.crt, key: node1.key}\n";

static int parse(const char *text, struct vsn_node_config *cfg, char *err, size_t len)
{
	return vsn_node_config_parse("node.yaml", text, strlen(text), cfg, err, len);
}

/* text must fail with exactly want ("node.yaml:LINE:COLUMN: message"), leaving *ret alone. */
static void expect_error(const char *text, const char *want)
{
	struct vsn_node_config cfg;
	char err[512] = "";

	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	for (size_t i = 0; i < sizeof(cfg); i++)
		assert_int_equal(((unsigned char *)&cfg)[i], 0xa5);
}

/* minimal, with extra appended: most error cases need the required fields around them. */
static void expect_error_after_minimal(const char *extra, const char *want)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s%s", minimal, extra);
	expect_error(text, want);
}

static void parses_a_full_file(void **state)
{
	struct vsn_node_config cfg;
	char err[256] = "", buf[VSN_ADDR_STRLEN];

	assert_int_equal(parse(full, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(cfg.node, "node1");
	assert_string_equal(cfg.controller_host, "192.0.2.1");
	assert_int_equal(cfg.controller_port, 7700);
	assert_string_equal(cfg.tls_ca, "/etc/vsn/ca.crt");
	assert_string_equal(cfg.tls_cert, "/etc/vsn/node1.crt");
	assert_string_equal(cfg.tls_key, "/etc/vsn/node1.key");
	assert_string_equal(cfg.state_dir, "/var/lib/vsn-node");
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/vsn");
	assert_int_equal(cfg.n_interfaces, 2);
	assert_string_equal(cfg.interfaces[0].name, "eth0");
	assert_int_equal(cfg.interfaces[0].mode, VSN_ATTACH_NATIVE);
	assert_string_equal(cfg.interfaces[1].name, "eth1");
	assert_int_equal(cfg.interfaces[1].mode, VSN_ATTACH_AUTO);
	assert_int_equal(cfg.underlay_ipv4.family, AF_INET);
	assert_string_equal(vsn_addr_format(&cfg.underlay_ipv4, buf, sizeof(buf)), "10.0.0.1");
	assert_int_equal(cfg.underlay_ipv6.family, AF_INET6);
	assert_string_equal(vsn_addr_format(&cfg.underlay_ipv6, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(cfg.gue_port, 6080);
	assert_int_equal(cfg.max_flows, 1048576);
	assert_int_equal(cfg.max_policies, 1024);
	assert_int_equal(cfg.max_slbs, 64);
	assert_int_equal(cfg.max_services, 32);
	assert_int_equal(cfg.stats_interval_ms, 2000);
	assert_int_equal(cfg.keepalive_interval_ms, 4000);
	assert_int_equal(cfg.keepalive_timeout_ms, 9000);
	assert_int_equal(cfg.reconnect_min_ms, 200);
	assert_int_equal(cfg.reconnect_max_ms, 20000);
	assert_int_equal(cfg.prepare_timeout_max_ms, 30000);
	assert_int_equal(cfg.log_format, VSN_NODE_LOG_JSON);
	vsn_node_config_free(&cfg);
	assert_null(cfg.tls_ca);
	assert_null(cfg.interfaces);
	vsn_node_config_free(&cfg); /* a zeroed config frees again */
}

static void applies_defaults(void **state)
{
	struct vsn_node_config cfg;
	char err[256];

	assert_int_equal(parse(minimal, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.node, "node1.example.org");
	assert_string_equal(cfg.controller_host, "ctl.example.org");
	assert_int_equal(cfg.controller_port, 7700);
	assert_string_equal(cfg.tls_ca, "ca.crt");
	assert_string_equal(cfg.tls_cert, "node1.crt");
	assert_string_equal(cfg.tls_key, "node1.key");
	assert_string_equal(cfg.state_dir, VSN_NODE_DEFAULT_STATE_DIR);
	assert_string_equal(cfg.state_dir, "/var/lib/vsn-node");
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/vsn");
	assert_int_equal(cfg.n_interfaces, 0);
	assert_null(cfg.interfaces);
	assert_int_equal(cfg.underlay_ipv4.family, 0);
	assert_int_equal(cfg.underlay_ipv6.family, 0);
	assert_int_equal(cfg.gue_port, 0);
	assert_int_equal(cfg.max_flows, 0);
	assert_int_equal(cfg.max_policies, 0);
	assert_int_equal(cfg.max_slbs, 0);
	assert_int_equal(cfg.max_services, 0);
	assert_int_equal(cfg.stats_interval_ms, 1000);
	assert_int_equal(cfg.keepalive_interval_ms, 5000);
	assert_int_equal(cfg.keepalive_timeout_ms, 15000);
	assert_int_equal(cfg.reconnect_min_ms, 100);
	assert_int_equal(cfg.reconnect_max_ms, 10000);
	assert_int_equal(cfg.prepare_timeout_max_ms, 60000);
	assert_int_equal(cfg.log_format, VSN_NODE_LOG_TEXT);
	vsn_node_config_free(&cfg);
}

/* Defaults that follow other fields: 3 keepalive intervals; a minimum above the default maximum. */
static void derived_defaults(void **state)
{
	char text[512];
	struct vsn_node_config cfg;
	char err[256];

	snprintf(text, sizeof(text),
		 "%skeepalive_interval_ms: 600000\nreconnect_min_ms: 30000\ninterfaces: []\n",
		 minimal);
	assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.keepalive_timeout_ms, 1800000);
	assert_int_equal(cfg.reconnect_min_ms, 30000);
	assert_int_equal(cfg.reconnect_max_ms, 30000);
	assert_int_equal(cfg.n_interfaces, 0);
	vsn_node_config_free(&cfg);
}

static void controller_forms(void **state)
{
	static const struct {
		const char *value, *host;
		uint16_t port;
	} ok[] = {
		{"192.0.2.1:1", "192.0.2.1", 1},
		{"'[2001:db8::1]:65535'", "2001:db8::1", 65535},
		{"\"[::1]:7700\"", "::1", 7700},
		{"ctl:7700", "ctl", 7700},
		{"ctl.example.org:00080", "ctl.example.org", 80},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct vsn_node_config cfg;
		char text[256], err[256] = "";

		snprintf(text, sizeof(text),
			 "node: n\ncontroller: %s\ntls: {ca: a, cert: b, key: c}\n", ok[i].value);
		assert_int_equal(parse(text, &cfg, err, sizeof(err)), 0);
		assert_string_equal(cfg.controller_host, ok[i].host);
		assert_int_equal(cfg.controller_port, ok[i].port);
		vsn_node_config_free(&cfg);
	}
}

static void unknown_key(void **state)
{
	expect_error_after_minimal("state_dri: /tmp\n",
				   "node.yaml:4:1: node config: unknown field 'state_dri'");
	expect_error("node: n\n"
		     "tls:\n"
		     "  ca: a\n"
		     "  certificate: b\n",
		     "node.yaml:4:3: tls: unknown field 'certificate'");
	expect_error_after_minimal("underlay: {ipv4: 10.0.0.1, ip6: 'fd00::1'}\n",
				   "node.yaml:4:28: underlay: unknown field 'ip6'");
	expect_error_after_minimal("interfaces:\n  - {name: eth0, mod: native}\n",
				   "node.yaml:5:18: interface: unknown field 'mod'");
}

static void duplicate_key(void **state)
{
	expect_error("node: a\n"
		     "controller: 192.0.2.1:7700\n"
		     "node: b\n",
		     "node.yaml:3:1: node config: field 'node' given twice");
	expect_error("tls:\n"
		     "  ca: a\n"
		     "  key: b\n"
		     "  ca: c\n",
		     "node.yaml:4:3: tls: field 'ca' given twice");
	expect_error_after_minimal("interfaces:\n  - {name: eth0, name: eth1}\n",
				   "node.yaml:5:18: interface: field 'name' given twice");
	/* The same interface twice is a duplicate too. */
	expect_error_after_minimal("interfaces:\n"
				   "  - name: eth0\n"
				   "  - name: eth1\n"
				   "  - {name: eth0, mode: generic}\n",
				   "node.yaml:7:5: interface 'eth0' is listed twice");
}

static void missing_required(void **state)
{
	expect_error("controller: 192.0.2.1:7700\n"
		     "tls: {ca: a, cert: b, key: c}\n",
		     "node.yaml:1:1: 'node' is required");
	expect_error("node: n\n"
		     "tls: {ca: a, cert: b, key: c}\n",
		     "node.yaml:1:1: 'controller' is required");
	expect_error("node: n\n"
		     "controller: 192.0.2.1:7700\n",
		     "node.yaml:1:1: 'tls' is required");
	expect_error("node: n\n"
		     "controller: 192.0.2.1:7700\n"
		     "tls:\n"
		     "  ca: a\n"
		     "  cert: b\n",
		     "node.yaml:4:3: tls: 'key' is required");
	expect_error_after_minimal("interfaces:\n  - {mode: generic}\n",
				   "node.yaml:5:5: interface: 'name' is required");
}

static void bad_address(void **state)
{
	expect_error_after_minimal("underlay:\n  ipv4: 10.0.0.300\n",
				   "node.yaml:5:9: underlay ipv4: expected an IPv4 address");
	expect_error_after_minimal("underlay:\n  ipv6: [fd00::1]\n",
				   "node.yaml:5:9: underlay ipv6: expected an IPv6 address");
	expect_error("node: n\ncontroller: 'bad_host:7700'\n",
		     "node.yaml:2:13: controller: 'bad_host' is neither a DNS name nor an IPv4 "
		     "address");
	expect_error("node: n\ncontroller: '[10.0.0.1]:7700'\n",
		     "node.yaml:2:13: controller: '10.0.0.1' is not an IPv6 address");
	expect_error("node: n\ncontroller: 'fd00::1:7700'\n",
		     "node.yaml:2:13: controller: an IPv6 address goes in brackets, "
		     "[ADDRESS]:PORT");
	expect_error("node: n\ncontroller: ':7700'\n",
		     "node.yaml:2:13: controller: ':7700' names no host");
	expect_error("node: n\ncontroller: '[fd00::1]7700'\n",
		     "node.yaml:2:13: controller: expected [IPV6-ADDRESS]:PORT, not "
		     "'[fd00::1]7700'");
}

static void family_mismatch(void **state)
{
	expect_error_after_minimal("underlay:\n  ipv4: fd00::1\n",
				   "node.yaml:5:9: underlay ipv4: 'fd00::1' is an IPv6 address");
	expect_error_after_minimal("underlay:\n  ipv4: 10.0.0.1\n  ipv6: 10.0.0.2\n",
				   "node.yaml:6:9: underlay ipv6: '10.0.0.2' is an IPv4 address");
	expect_error_after_minimal(
		"underlay:\n  ipv6: '::ffff:10.0.0.2'\n",
		"node.yaml:5:9: underlay ipv6: '::ffff:10.0.0.2' is an IPv4 address in IPv6 form");
}

static void bad_port(void **state)
{
	expect_error("node: n\ncontroller: 192.0.2.1:0\n",
		     "node.yaml:2:13: controller: the port is 1..65535, not '0'");
	expect_error("node: n\ncontroller: 192.0.2.1:65536\n",
		     "node.yaml:2:13: controller: the port is 1..65535, not '65536'");
	expect_error("node: n\ncontroller: '192.0.2.1:'\n",
		     "node.yaml:2:13: controller: the port is 1..65535, not ''");
	expect_error("node: n\ncontroller: 192.0.2.1:http\n",
		     "node.yaml:2:13: controller: the port is 1..65535, not 'http'");
	expect_error("node: n\ncontroller: 192.0.2.1\n",
		     "node.yaml:2:13: controller: expected HOST:PORT, not '192.0.2.1'");
	expect_error_after_minimal("gue_port: 0\n",
				   "node.yaml:4:11: gue_port: 0 is out of range 1..65535");
	expect_error_after_minimal("gue_port: 65536\n",
				   "node.yaml:4:11: gue_port: 65536 is out of range 1..65535");
}

static void out_of_range(void **state)
{
	expect_error_after_minimal(
		"stats_interval_ms: 99\n",
		"node.yaml:4:20: stats_interval_ms: 99 is out of range 100..60000");
	expect_error_after_minimal(
		"keepalive_interval_ms: 600001\n",
		"node.yaml:4:24: keepalive_interval_ms: 600001 is out of range 100..600000");
	expect_error_after_minimal("max_flows: 0\n",
				   "node.yaml:4:12: max_flows: 0 is out of range 1..67108864");
	expect_error_after_minimal(
		"max_policies: 67108865\n",
		"node.yaml:4:15: max_policies: 67108865 is out of range 1..67108864");
	expect_error_after_minimal("max_slbs: 0\n",
				   "node.yaml:4:11: max_slbs: 0 is out of range 1..67108864");
	expect_error_after_minimal("max_services: 0\n",
				   "node.yaml:4:15: max_services: 0 is out of range 1..67108864");
	expect_error_after_minimal("max_flows: -1\n",
				   "node.yaml:4:12: max_flows: expected a whole number");
	expect_error_after_minimal("max_flows: 99999999999999999999999\n",
				   "node.yaml:4:12: max_flows: expected a whole number, not "
				   "'99999999999999999999999'");
	expect_error_after_minimal(
		"prepare_timeout_max_ms: 1s\n",
		"node.yaml:4:25: prepare_timeout_max_ms: expected a whole number, "
		"not '1s'");
	expect_error_after_minimal("reconnect_min_ms: [1]\n",
				   "node.yaml:4:19: reconnect_min_ms: expected a whole number");
	/* Checks between fields point at the field that breaks them, wherever it is. */
	expect_error_after_minimal("keepalive_timeout_ms: 5000\n",
				   "node.yaml:4:23: keepalive_timeout_ms: 5000 is not more than "
				   "keepalive_interval_ms (5000)");
	expect_error_after_minimal("keepalive_timeout_ms: 2000\n"
				   "keepalive_interval_ms: 3000\n",
				   "node.yaml:4:23: keepalive_timeout_ms: 2000 is not more than "
				   "keepalive_interval_ms (3000)");
	expect_error_after_minimal("reconnect_max_ms: 50\n",
				   "node.yaml:4:19: reconnect_max_ms: 50 is less than "
				   "reconnect_min_ms (100)");
}

static void bad_mode(void **state)
{
	expect_error_after_minimal(
		"interfaces:\n  - name: eth0\n    mode: offload\n",
		"node.yaml:6:11: interface mode: expected auto, native or generic");
	expect_error_after_minimal("log_format: yaml\n",
				   "node.yaml:4:13: log_format: expected text or json");
}

static void bad_names(void **state)
{
	expect_error("node: node_1\n",
		     "node.yaml:1:7: node: expected a DNS name (labels of letters, digits and "
		     "inner hyphens joined by dots)");
	expect_error("node: -node\n",
		     "node.yaml:1:7: node: expected a DNS name (labels of letters, digits and "
		     "inner hyphens joined by dots)");
	expect_error("node: ''\n", "node.yaml:1:7: node: expected a DNS name (labels of letters, "
				   "digits and inner hyphens joined by dots)");
	expect_error_after_minimal(
		"interfaces:\n  - name: a-very-long-name\n",
		"node.yaml:5:11: interface name: expected 1 to 15 characters, no "
		"'/', ':' or space");
	expect_error_after_minimal(
		"interfaces:\n  - name: 'eth0:1'\n",
		"node.yaml:5:11: interface name: expected 1 to 15 characters, no "
		"'/', ':' or space");
	expect_error_after_minimal("state_dir: ''\n", "node.yaml:4:12: state_dir: expected a path");
	expect_error_after_minimal("pin_dir: \"/sys/fs/bpf/\\0x\"\n",
				   "node.yaml:4:10: pin_dir: expected a path");
}

static void not_a_mapping(void **state)
{
	expect_error("- node: n\n", "node.yaml:1:1: node config: expected a mapping");
	expect_error("just text\n", "node.yaml:1:1: node config: expected a mapping");
	expect_error("", "node.yaml:1:1: expected a mapping, the file is empty");
	expect_error("# only a comment\n", "node.yaml:1:1: expected a mapping, the file is empty");
	expect_error("node: n\ntls: /etc/vsn\n", "node.yaml:2:6: tls: expected a mapping");
	expect_error("node: n\ntls:\n", "node.yaml:2:5: tls: expected a mapping");
	expect_error_after_minimal("interfaces: eth0\n",
				   "node.yaml:4:13: interfaces: expected a list");
	expect_error_after_minimal("interfaces: [eth0]\n",
				   "node.yaml:4:14: interface: expected a mapping");
	expect_error_after_minimal("underlay: 10.0.0.1\n",
				   "node.yaml:4:11: underlay: expected a mapping");
	expect_error("{[a]: 1}\n", "node.yaml:1:2: node config: keys must be plain words");
	/* A second document would be ignored by the agent: refused. */
	expect_error_after_minimal(
		"---\nnode: other\n",
		"node.yaml:5:1: expected one YAML document, this is a second one");
}

static void yaml_syntax_error(void **state)
{
	expect_error("node: n\ncontroller: [192.0.2.1:7700\n",
		     "node.yaml:3:1: did not find expected ',' or ']'");
	expect_error("node: n\n  controller: x\n",
		     "node.yaml:2:13: mapping values are not allowed in this context");
	expect_error("node: 'n\n", "node.yaml:2:1: found unexpected end of stream");
	expect_error("node: *nothing\n", "node.yaml:1:7: found undefined alias");
	/* Syntax in a second document is checked too. */
	expect_error_after_minimal("---\nnode: [x\n",
				   "node.yaml:6:1: did not find expected ',' or ']'");
}

static void short_error_buffer(void **state)
{
	struct vsn_node_config cfg;
	char err[16];

	assert_int_equal(parse("node: node_1\n", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "node.yaml:1:7: ");
	assert_int_equal(parse("node: node_1\n", &cfg, NULL, 0), -EINVAL);
}

static void loads_a_file(void **state)
{
	char path[] = "/tmp/vsn-node-config.XXXXXX", err[512];
	struct vsn_node_config cfg;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, full, strlen(full)), (ssize_t)strlen(full));
	assert_int_equal(vsn_node_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.node, "node1");
	assert_int_equal(cfg.n_interfaces, 2);
	vsn_node_config_free(&cfg);

	/* Errors name the file. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "node: n\nfoo: 1\n", 15, 0), 15);
	assert_int_equal(vsn_node_config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2:1: node config: unknown field 'foo'"));
	assert_memory_equal(err, path, strlen(path));

	/* One byte over the limit. */
	assert_int_equal(ftruncate(fd, VSN_NODE_CONFIG_MAX_BYTES + 1), 0);
	assert_int_equal(vsn_node_config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	close(fd);
	unlink(path);

	assert_int_equal(vsn_node_config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	assert_memory_equal(err, path, strlen(path));
	assert_string_equal(err + strlen(path), ": No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_full_file), cmocka_unit_test(applies_defaults),
		cmocka_unit_test(derived_defaults),   cmocka_unit_test(controller_forms),
		cmocka_unit_test(unknown_key),	      cmocka_unit_test(duplicate_key),
		cmocka_unit_test(missing_required),   cmocka_unit_test(bad_address),
		cmocka_unit_test(family_mismatch),    cmocka_unit_test(bad_port),
		cmocka_unit_test(out_of_range),	      cmocka_unit_test(bad_mode),
		cmocka_unit_test(bad_names),	      cmocka_unit_test(not_a_mapping),
		cmocka_unit_test(yaml_syntax_error),  cmocka_unit_test(short_error_buffer),
		cmocka_unit_test(loads_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
