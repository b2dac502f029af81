/* SPDX-License-Identifier: Apache-2.0 */
/*
 * controller_apply: POST /v1/apply of a large document, as the client sees it (validate,
 * store, compile; no node connected, so nothing is pushed). vsnd runs alone, with a store of
 * its own and capacities above the document's services.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bench.h"

#define MAX_RUNS 51

/* One apply of body: its wall time in ms and the number of changed nodes, or a negative errno. */
static int apply_once(struct bc_api *a, const char *body, size_t len, double *ret_ms,
		      size_t *ret_changed)
{
	json_t *j = NULL;
	long status = 0;
	uint64_t t0 = bc_now_ns();
	int r = bc_api_call(a, "POST", "/v1/apply", body, len, &status, &j);

	*ret_ms = bc_ms_since(t0);
	if (!r && status != 200)
		r = -EPROTO;
	if (r) {
		fprintf(stderr, "vsn-bench-controller: apply: HTTP %ld: %.600s\n", status,
			bc_api_body(a));
		json_decref(j);
		return r;
	}
	*ret_changed = json_array_size(json_object_get(j, "changed_nodes"));
	json_decref(j);
	return 0;
}

/* The server's own time of each POST /v1/apply, from vsnd's access log lines. */
static size_t server_ms(const char *log, double *ms, size_t max)
{
	char line[1024];
	size_t n = 0;
	FILE *f = fopen(log, "r");

	while (f && n < max && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " ms=");

		if (strstr(line, "path=/v1/apply") && strstr(line, "status=200") && p)
			ms[n++] = strtod(p + 4, NULL);
	}
	if (f)
		fclose(f);
	return n;
}

static double file_mib(const char *p)
{
	struct stat st;

	return stat(p, &st) ? 0 : (double)st.st_size / 1048576.0;
}

static double median(const double *v, int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, (size_t)n * sizeof(*v));
	return bc_pct(s, (size_t)n, 0.5);
}

int bc_bench_apply(struct bc_env *e, const struct bc_apply_opts *o)
{
	struct bc_apply_doc d = {.services = o->services, .slbs = 100, .nodes = o->nodes};
	char caps[2][16], msg[64];
	const char *extra[] = {"--max-services", caps[0], "--max-policies", caps[1], NULL};
	double changed_ms[MAX_RUNS], same_ms[MAX_RUNS], first_ms = 0, srv[3 * MAX_RUNS + 2];
	struct bc_buf doc = {0};
	struct bc_api *a = NULL;
	size_t len = 0, changed = 0, doc_len = 0, n_srv;
	char *body = NULL;
	long rss;
	int r, status;

	snprintf(caps[0], sizeof(caps[0]), "%zu", o->services + 1 > 4096 ? o->services + 1 : 4096);
	snprintf(caps[1], sizeof(caps[1]), "%zu",
		 o->services + 1 > 65536 ? o->services + 1 : 65536);
	r = bc_vsnd_start(e, "apply", extra);
	if (!r)
		r = bc_api_open(e, &a);
	if (!r)
		r = bc_api_wait_up(a, 10000);
	if (r) {
		fprintf(stderr, "vsn-bench-controller: vsnd did not come up: %s (log %s)\n",
			strerror(-r), e->vsnd.log);
		bc_log_tail(e->vsnd.log, 10);
		goto out;
	}
	/* Revision 1 allocates every id: timed, reported apart. */
	r = bc_doc_apply(&d, 0, &doc);
	body = r ? NULL : bc_apply_body(doc.s, "initial", &len);
	if (!body) {
		r = -ENOMEM;
		goto out;
	}
	doc_len = doc.len;
	fprintf(stderr,
		"vsn-bench-controller: apply: %zu services, %zu pools, %zu SLBs, %zu nodes: "
		"%zu bytes of YAML\n",
		d.services, d.services, d.slbs, d.nodes, doc_len);
	r = apply_once(a, body, len, &first_ms, &changed);
	free(body);
	body = NULL;
	if (r)
		goto out;
	fprintf(stderr,
		"vsn-bench-controller: apply: first (every id allocated): %.1f ms, %zu nodes "
		"changed\n",
		first_ms, changed);
	for (int i = 0; i < o->runs && !bc_stop; i++) {
		snprintf(msg, sizeof(msg), "variant %d", i + 1);
		r = bc_doc_apply(&d, (unsigned int)i + 1, &doc);
		body = r ? NULL : bc_apply_body(doc.s, msg, &len);
		if (!body) {
			r = -ENOMEM;
			goto out;
		}
		r = apply_once(a, body, len, &changed_ms[i], &changed);
		if (r)
			goto out;
		if (changed != d.nodes) {
			fprintf(stderr,
				"vsn-bench-controller: apply: %zu nodes changed, %zu expected\n",
				changed, d.nodes);
			r = -EPROTO;
			goto out;
		}
		fprintf(stderr, "vsn-bench-controller: apply: changed document: %.1f ms\n",
			changed_ms[i]);
		if (i < o->runs - 1) {
			free(body);
			body = NULL;
		}
	}
	/* The last document again: parsed, checked, stored as a revision, compiled, no change. */
	for (int i = 0; i < o->runs && !bc_stop; i++) {
		r = apply_once(a, body, len, &same_ms[i], &changed);
		if (r)
			goto out;
		if (changed) {
			fprintf(stderr,
				"vsn-bench-controller: apply: unchanged document changed %zu "
				"nodes\n",
				changed);
			r = -EPROTO;
			goto out;
		}
		fprintf(stderr, "vsn-bench-controller: apply: unchanged document: %.1f ms\n",
			same_ms[i]);
	}
	if (bc_stop) {
		r = -EINTR;
		goto out;
	}
	rss = bc_rss_kib(e->vsnd.pid, "VmRSS");
	n_srv = server_ms(e->vsnd.log, srv, sizeof(srv) / sizeof(srv[0]));
	printf("{\"bench\":\"controller_apply\",\"services\":%zu,\"ms\":%.1f,\"runs\":%d,"
	       "\"min_ms\":%.1f,\"max_ms\":%.1f,\"server_ms\":%.1f,\"first_ms\":%.1f,\"nodes\":%zu,"
	       "\"doc_bytes\":%zu,\"vsnd_rss_mib\":%.1f,\"db_mib\":%.1f}\n",
	       d.services, median(changed_ms, o->runs), o->runs,
	       bc_pct(changed_ms, (size_t)o->runs, 0), bc_pct(changed_ms, (size_t)o->runs, 1),
	       n_srv == 2 * (size_t)o->runs + 1 ? median(srv + 1, o->runs) : -1.0, first_ms,
	       d.nodes, doc_len, rss / 1024.0,
	       file_mib(bc_path(e, "vsnd-apply.db")) + file_mib(bc_path(e, "vsnd-apply.db-wal")));
	printf("{\"bench\":\"controller_apply_unchanged\",\"services\":%zu,\"ms\":%.1f,\"runs\":%d,"
	       "\"min_ms\":%.1f,\"max_ms\":%.1f,\"server_ms\":%.1f}\n",
	       d.services, median(same_ms, o->runs), o->runs, bc_pct(same_ms, (size_t)o->runs, 0),
	       bc_pct(same_ms, (size_t)o->runs, 1),
	       n_srv == 2 * (size_t)o->runs + 1 ? median(srv + 1 + o->runs, o->runs) : -1.0);
	fflush(stdout);
out:
	if (e->vsnd.pid > 0 && waitpid(e->vsnd.pid, &status, WNOHANG) == e->vsnd.pid) {
		fprintf(stderr, "vsn-bench-controller: vsnd ended during the benchmark (%s):\n",
			bc_status_str(status));
		bc_log_tail(e->vsnd.log, 10);
		e->vsnd.pid = 0;
	}
	free(body);
	bc_buf_free(&doc);
	bc_api_close(a);
	bc_vsnd_stop(e);
	return r ? 1 : 0;
}
