/* SPDX-License-Identifier: Apache-2.0 */
/* The desired-state documents the benchmarks apply (docs/controller.md has the format). */
#include <errno.h>

#include "bench.h"

/*
 * services virtual services, each its own VIP (10.64.0.0 upward) with tcp/80, on one node of
 * d->nodes (service i on node i mod nodes), sending to its own pool of 2 to 4 of d->slbs SLBs.
 * Variant v sets the first member's weight of the pools of services 0 .. nodes-1 (one per node)
 * to 1 + v: every node's set changes from one variant to the next.
 */
int bc_doc_apply(const struct bc_apply_doc *d, unsigned int v, struct bc_buf *out)
{
	size_t step = d->slbs / 4 ? d->slbs / 4 : 1;
	int r = 0;

	if (d->slbs < 4 || d->nodes < 1 || d->services > (1u << 22))
		return -EINVAL;
	out->len = 0;
	r |= bc_buf_printf(out,
			   "# vsn-bench-controller: %zu services on %zu nodes, variant %u\n"
			   "nodes:\n",
			   d->services, d->nodes, v);
	for (size_t i = 0; i < d->nodes; i++)
		r |= bc_buf_printf(out, "  - name: edge-%zu\n", i + 1);
	r |= bc_buf_printf(out, "slbs:\n");
	for (size_t i = 0; i < d->slbs; i++)
		r |= bc_buf_printf(out, "  - name: slb-%03zu\n    address: 10.20.%zu.%zu\n", i,
				   i / 250, i % 250 + 1);
	r |= bc_buf_printf(out, "pools:\n");
	for (size_t i = 0; i < d->services && !r; i++) {
		size_t members = 2 + i % 3;

		r |= bc_buf_printf(out, "  - name: pool-%05zu\n    members:\n", i);
		for (size_t j = 0; j < members; j++)
			r |= bc_buf_printf(out, "      - {slb: slb-%03zu, weight: %u}\n",
					   (i + j * step) % d->slbs,
					   j == 0 && i < d->nodes ? 1 + v : 1 + (unsigned int)j);
	}
	r |= bc_buf_printf(out, "virtual_services:\n");
	for (size_t i = 0; i < d->services && !r; i++) {
		uint32_t a = 0x0a400000u + (uint32_t)i;

		r |= bc_buf_printf(out,
				   "  - name: svc-%05zu\n"
				   "    vip: %u.%u.%u.%u\n"
				   "    ports: [tcp/80]\n"
				   "    nodes: [edge-%zu]\n"
				   "    configurations:\n"
				   "      - name: normal\n"
				   "        policies: [{destination: pool-%05zu}]\n",
				   i, a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff,
				   i % d->nodes + 1, i);
	}
	return r ? -ENOMEM : 0;
}

/*
 * services services (10.1.0.1 upward, tcp/80) on every one of nodes nodes, over four pools of
 * three SLBs (12 SLBs), service i on pool i mod 4. Variant v sets the weight of pool-0's first
 * member to 1 + v: every node's set changes from one variant to the next.
 */
int bc_doc_push(size_t nodes, size_t services, unsigned int v, struct bc_buf *out)
{
	char name[32];
	int r = 0;

	if (services < 1 || services > 250)
		return -EINVAL;
	out->len = 0;
	r |= bc_buf_printf(out,
			   "# vsn-bench-controller: %zu services on %zu nodes, variant %u\n"
			   "nodes:\n",
			   services, nodes, v);
	for (size_t i = 0; i < nodes; i++) {
		bc_node_name(i, name, sizeof(name));
		r |= bc_buf_printf(out, "  - name: %s\n", name);
	}
	r |= bc_buf_printf(out, "slbs:\n");
	for (size_t i = 0; i < 12; i++)
		r |= bc_buf_printf(out, "  - name: slb-%02zu\n    address: 10.20.0.%zu\n", i,
				   i + 1);
	r |= bc_buf_printf(out, "pools:\n");
	for (size_t k = 0; k < 4; k++) {
		r |= bc_buf_printf(out, "  - name: pool-%zu\n    members:\n", k);
		for (size_t j = 0; j < 3; j++)
			r |= bc_buf_printf(out, "      - {slb: slb-%02zu, weight: %u}\n", 3 * k + j,
					   k == 0 && j == 0 ? 1 + v : 1);
	}
	r |= bc_buf_printf(out, "virtual_services:\n");
	for (size_t i = 0; i < services; i++)
		r |= bc_buf_printf(out,
				   "  - name: svc-%02zu\n"
				   "    vip: 10.1.0.%zu\n"
				   "    ports: [tcp/80]\n"
				   "    configurations:\n"
				   "      - name: normal\n"
				   "        policies: [{destination: pool-%zu}]\n",
				   i, i + 1, i % 4);
	return r ? -ENOMEM : 0;
}
