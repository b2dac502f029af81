/* SPDX-License-Identifier: Apache-2.0 */
/*
 * push: one vsnd and n real vsn-node agents (detached, small capacities, a certificate each,
 * mutual TLS over loopback); a change that touches every node applied through the API, timed
 * from the apply request sent to the rollout's "rollout-committed" event as seen by polling
 * GET /v1/events, reps times.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_REPS 1000
#define ROLLOUT_WAIT_MS 30000

/* The agents' capacities: small, so that 100 forwarders fit in a test machine's memory. */
static const char *const agent_caps[] = {
	"max_flows: 1024", "max_policies: 4096", "max_services: 1024", "max_slbs: 256", NULL,
};
/* vsnd's idea of the nodes' capacities, the same. */
static const char *const vsnd_caps[] = {
	"--max-policies", "4096", "--max-services", "1024", "--max-slbs", "256", NULL,
};

struct rep {
	double ms, event_ms, apply_ms, skew_ms, prepare_ms, commit_ms;
	bool aborted;
};

struct poller {
	struct bc_api *a;
	uint64_t since;
	size_t polls;
	double poll_ms_total; /* time in requests, not in sleeps */
	size_t disconnects, nacks;
};

/* Events after p->since: the one of rollout id returned in *ret_ev (referenced), or NULL. */
static int poll_events(struct poller *p, uint64_t id, json_t **ret_ev)
{
	char path[96], subject[48];
	json_t *j = NULL, *ev;
	uint64_t t0 = bc_now_ns();
	long status = 0;
	size_t i, n;
	int r;

	*ret_ev = NULL;
	snprintf(subject, sizeof(subject), "rollout %llu", (unsigned long long)id);
	do {
		snprintf(path, sizeof(path), "/v1/events?since=%llu&limit=1000",
			 (unsigned long long)p->since);
		r = bc_api_call(p->a, "GET", path, NULL, 0, &status, &j);
		if (!r && status != 200)
			r = -EPROTO;
		if (r) {
			fprintf(stderr, "vsn-bench-controller: events: HTTP %ld: %.300s\n", status,
				bc_api_body(p->a));
			json_decref(j);
			return r;
		}
		n = json_array_size(json_object_get(j, "events"));
		json_array_foreach(json_object_get(j, "events"), i, ev)
		{
			const char *type = json_string_value(json_object_get(ev, "type"));
			const char *sub = json_string_value(json_object_get(ev, "subject"));
			uint64_t eid = (uint64_t)json_integer_value(json_object_get(ev, "id"));

			if (eid > p->since)
				p->since = eid;
			if (!type || !sub)
				continue;
			if (!strcmp(type, "node-disconnected") || !strcmp(type, "node-nack")) {
				char *d = json_dumps(json_object_get(ev, "detail"), JSON_COMPACT);

				fprintf(stderr, "vsn-bench-controller: event %llu %s %s %s\n",
					(unsigned long long)eid, type, sub, d ? d : "");
				free(d);
				p->disconnects += type[5] == 'd';
				p->nacks += type[5] == 'n';
			}
			if (!strncmp(type, "rollout-", 8) && !strcmp(sub, subject) && !*ret_ev)
				*ret_ev = json_incref(ev);
		}
		json_decref(j);
		j = NULL;
	} while (n == 1000);
	p->polls++;
	p->poll_ms_total += bc_ms_since(t0);
	return 0;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : -1;
}

/* One change: apply variant v, then wait for its rollout's event. */
static int one_rep(struct bc_env *e, struct poller *p, const struct bc_push_opts *o, unsigned int v,
		   struct bc_buf *doc, struct rep *ret)
{
	char msg[32];
	json_t *j = NULL, *ev = NULL, *detail;
	size_t len;
	long status = 0;
	uint64_t t0, id;
	double t0_real;
	char *body;
	int r;

	snprintf(msg, sizeof(msg), "push %u", v);
	r = bc_doc_push(o->nodes, o->services, v, doc);
	body = r ? NULL : bc_apply_body(doc->s, msg, &len);
	if (!body)
		return -ENOMEM;
	t0_real = bc_realtime_ms();
	t0 = bc_now_ns();
	r = bc_api_call(p->a, "POST", "/v1/apply", body, len, &status, &j);
	ret->apply_ms = bc_ms_since(t0);
	free(body);
	if (!r && status != 200)
		r = -EPROTO;
	if (!r && !json_is_integer(json_object_get(j, "rollout"))) {
		fprintf(stderr,
			"vsn-bench-controller: apply of variant %u started no rollout "
			"(%zu nodes changed): %.300s\n",
			v, json_array_size(json_object_get(j, "changed_nodes")), bc_api_body(p->a));
		r = -EPROTO;
	}
	if (r) {
		fprintf(stderr, "vsn-bench-controller: apply: HTTP %ld: %.600s\n", status,
			bc_api_body(p->a));
		json_decref(j);
		return r;
	}
	id = (uint64_t)json_integer_value(json_object_get(j, "rollout"));
	json_decref(j);
	while (!bc_stop) {
		r = poll_events(p, id, &ev);
		if (r || ev)
			break;
		if (bc_ms_since(t0) > ROLLOUT_WAIT_MS) {
			fprintf(stderr,
				"vsn-bench-controller: rollout %llu: no result event after "
				"%d ms\n",
				(unsigned long long)id, ROLLOUT_WAIT_MS);
			return -ETIMEDOUT;
		}
		bc_sleep_ms(o->poll_ms);
	}
	if (!ev)
		return r ? r : -EINTR;
	ret->ms = bc_ms_since(t0);
	/* vsnd's own clock when it stored the event (ms resolution): no polling in it. */
	ret->event_ms = bc_api_time_ms(json_string_value(json_object_get(ev, "time"))) - t0_real;
	detail = json_object_get(ev, "detail");
	ret->skew_ms = num(detail, "skew_ms");
	ret->prepare_ms = num(detail, "prepare_ms");
	ret->commit_ms = num(detail, "commit_ms");
	ret->aborted = strcmp(json_string_value(json_object_get(ev, "type")), "rollout-committed");
	if (ret->aborted) {
		char *d = json_dumps(detail, JSON_COMPACT);
		const char *failed = json_string_value(json_object_get(detail, "failed_node"));

		fprintf(stderr, "vsn-bench-controller: rollout %llu (variant %u) %s: %s\n",
			(unsigned long long)id, v, json_string_value(json_object_get(ev, "type")),
			d ? d : "");
		free(d);
		for (size_t i = 0; failed && i < e->n_agents; i++)
			if (strstr(e->agents[i].name, failed)) {
				fprintf(stderr, "vsn-bench-controller: %s's last log lines (%s):\n",
					failed, e->agents[i].log);
				bc_log_tail(e->agents[i].log, 8);
			}
	}
	json_decref(ev);
	return 0;
}

struct sync_count {
	size_t connected, in_sync;
};

static int count_sync(struct bc_api *a, struct sync_count *c, json_t **ret_nodes)
{
	json_t *j = NULL, *n;
	long status = 0;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (bc_api_call(a, "GET", "/v1/status", NULL, 0, &status, &j) || status != 200 || !j) {
		json_decref(j);
		return -EIO;
	}
	json_array_foreach(json_object_get(j, "nodes"), i, n)
	{
		json_int_t want = json_integer_value(json_object_get(n, "desired_generation"));

		if (!json_is_true(json_object_get(n, "connected")))
			continue;
		c->connected++;
		if (want > 0 &&
		    want == json_integer_value(json_object_get(n, "running_generation")))
			c->in_sync++;
	}
	if (ret_nodes)
		*ret_nodes = json_incref(json_object_get(j, "nodes"));
	json_decref(j);
	return 0;
}

/* Every agent started, connected and running its set; or what went wrong, with logs. */
static int wait_all_synced(struct bc_env *e, struct bc_api *a, const struct bc_push_opts *o,
			   double *ret_connect_s, double *ret_sync_s)
{
	uint64_t t0 = bc_now_ns(), last_report = t0;
	struct sync_count c = {0};
	json_t *nodes = NULL, *n;
	int status;
	size_t i;
	long k;

	*ret_connect_s = -1;
	while (!bc_stop) {
		k = bc_agent_exited(e, &status);
		if (k >= 0) {
			fprintf(stderr,
				"vsn-bench-controller: %s ended while starting (%s), "
				"log %s:\n",
				e->agents[k].name, bc_status_str(status), e->agents[k].log);
			bc_log_tail(e->agents[k].log, 10);
			return -ECHILD;
		}
		if (count_sync(a, &c, NULL) == 0) {
			if (c.connected == o->nodes && *ret_connect_s < 0)
				*ret_connect_s = bc_ms_since(t0) / 1000;
			if (c.in_sync == o->nodes) {
				*ret_sync_s = bc_ms_since(t0) / 1000;
				return 0;
			}
		}
		if (bc_ms_since(last_report) > 5000) {
			fprintf(stderr,
				"vsn-bench-controller: %.0f s: %zu of %zu connected, %zu in "
				"sync\n",
				bc_ms_since(t0) / 1000, c.connected, o->nodes, c.in_sync);
			last_report = bc_now_ns();
		}
		if (bc_ms_since(t0) > o->connect_timeout_s * 1000.0)
			break;
		bc_sleep_ms(200);
	}
	if (bc_stop)
		return -EINTR;
	fprintf(stderr,
		"vsn-bench-controller: after %d s only %zu of %zu agents connected and %zu "
		"in sync\n",
		o->connect_timeout_s, c.connected, o->nodes, c.in_sync);
	if (count_sync(a, &c, &nodes) == 0) {
		int shown = 0;

		json_array_foreach(nodes, i, n)
		{
			const char *name = json_string_value(json_object_get(n, "name"));
			char *d;

			if (json_is_true(json_object_get(n, "connected")) &&
			    json_integer_value(json_object_get(n, "desired_generation")) ==
				    json_integer_value(json_object_get(n, "running_generation")))
				continue;
			d = json_dumps(n, JSON_COMPACT);
			fprintf(stderr, "vsn-bench-controller: not in sync: %s\n", d ? d : "");
			free(d);
			for (size_t x = 0; name && shown < 5 && x < e->n_agents; x++)
				if (strstr(e->agents[x].name, name)) {
					bc_log_tail(e->agents[x].log, 6);
					shown++;
				}
		}
		json_decref(nodes);
	}
	return -ETIMEDOUT;
}

/* Per-node times from the agents' logs: each Prepare's and each Commit's (rollouts only). */
static void node_times(struct bc_env *e, double *prep, size_t *n_prep, double *commit,
		       size_t *n_commit, size_t max)
{
	char line[1024];

	*n_prep = *n_commit = 0;
	for (size_t i = 0; i < e->n_agents; i++) {
		FILE *f = fopen(e->agents[i].log, "r");

		while (f && fgets(line, sizeof(line), f)) {
			char *ms = strstr(line, " ms=");

			if (!ms)
				continue;
			if (strstr(line, " prepare: ") && *n_prep < max)
				prep[(*n_prep)++] = strtod(ms + 4, NULL);
			else if (strstr(line, " how=commit ") && *n_commit < max)
				commit[(*n_commit)++] = strtod(ms + 4, NULL);
		}
		if (f)
			fclose(f);
	}
}

/* Lines of the agents' logs at warn or error level: how many, and the first few shown. */
static size_t agent_warnings(struct bc_env *e)
{
	char line[1024];
	size_t n = 0;

	for (size_t i = 0; i < e->n_agents; i++) {
		FILE *f = fopen(e->agents[i].log, "r");

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, " warn ") || strstr(line, " error ")) {
				if (n++ < 10)
					fprintf(stderr, "vsn-bench-controller: %s: %s",
						e->agents[i].name, line);
			}
		if (f)
			fclose(f);
	}
	return n;
}

int bc_bench_push(struct bc_env *e, const struct bc_push_opts *o)
{
	struct rep reps[MAX_REPS];
	double ms[MAX_REPS], event_ms[MAX_REPS], skew[MAX_REPS], apply_ms[MAX_REPS],
		prep_srv[MAX_REPS], commit_srv[MAX_REPS], *nprep = NULL, *ncommit = NULL;
	double connect_s = -1, sync_s = -1, maps = 0, rss = 0, rss_max = 0, hwm = 0;
	double pss = 0, cpu_agents = 0, cpu_vsnd = 0, cpu_self = 0, cpu_all = 0;
	struct poller p = {0};
	struct bc_buf doc = {0};
	struct sync_count c;
	size_t n_ok = 0, n_aborted = 0, n_np, n_nc, warns, max_times;
	long mem0 = 0, mem1 = 0, status = 0;
	json_t *j = NULL;
	char *body = NULL;
	size_t len;
	int r, st;

	fprintf(stderr, "vsn-bench-controller: push: issuing %zu node certificates\n", o->nodes);
	r = bc_certs_nodes(e, o->nodes);
	if (!r)
		r = bc_vsnd_start(e, "push", vsnd_caps);
	if (!r)
		r = bc_api_open(e, &p.a);
	if (!r)
		r = bc_api_wait_up(p.a, 10000);
	if (r) {
		fprintf(stderr, "vsn-bench-controller: vsnd did not come up: %s (log %s)\n",
			strerror(-r), e->vsnd.log);
		bc_log_tail(e->vsnd.log, 10);
		goto out;
	}
	mem0 = bc_mem_used_kib();
	/* The first revision before any node is there: each gets its set when it connects. */
	r = bc_doc_push(o->nodes, o->services, 0, &doc);
	body = r ? NULL : bc_apply_body(doc.s, "initial", &len);
	if (!body) {
		r = -ENOMEM;
		goto out;
	}
	r = bc_api_call(p.a, "POST", "/v1/apply", body, len, &status, &j);
	free(body);
	if (!r && status != 200)
		r = -EPROTO;
	json_decref(j);
	if (r) {
		fprintf(stderr, "vsn-bench-controller: initial apply: HTTP %ld: %.600s\n", status,
			bc_api_body(p.a));
		goto out;
	}
	fprintf(stderr, "vsn-bench-controller: push: starting %zu agents\n", o->nodes);
	r = bc_agents_start(e, o->nodes, agent_caps);
	if (!r)
		r = wait_all_synced(e, p.a, o, &connect_s, &sync_s);
	if (r)
		goto out;
	fprintf(stderr,
		"vsn-bench-controller: push: %zu agents connected after %.1f s, in sync "
		"after %.1f s\n",
		o->nodes, connect_s, sync_s);
	maps = bc_agents_maps_mib(e);
	mem1 = bc_mem_used_kib();
	r = bc_api_last_event(p.a, &p.since);
	if (r)
		goto out;
	for (size_t i = 0; i < e->n_agents; i++)
		cpu_agents -= bc_cpu_ms(e->agents[i].pid);
	cpu_vsnd -= bc_cpu_ms(e->vsnd.pid);
	cpu_self -= bc_cpu_ms(getpid());
	cpu_all -= bc_machine_busy_ms();
	for (int i = 0; i < o->reps && !bc_stop; i++) {
		long k;

		bc_sleep_ms(o->pause_ms);
		r = one_rep(e, &p, o, (unsigned int)i + 1, &doc, &reps[i]);
		if (r)
			goto out;
		k = bc_agent_exited(e, &st);
		if (k >= 0) {
			fprintf(stderr, "vsn-bench-controller: %s ended (%s), log %s:\n",
				e->agents[k].name, bc_status_str(st), e->agents[k].log);
			bc_log_tail(e->agents[k].log, 10);
			r = -ECHILD;
			goto out;
		}
		fprintf(stderr,
			"vsn-bench-controller: push %d: %.1f ms (apply answered in %.1f ms; "
			"vsnd: prepare %.1f ms, commit %.1f ms, skew %.1f ms)%s\n",
			i + 1, reps[i].ms, reps[i].apply_ms, reps[i].prepare_ms, reps[i].commit_ms,
			reps[i].skew_ms, reps[i].aborted ? " ABORTED" : "");
		if (reps[i].aborted) {
			n_aborted++;
			continue;
		}
		ms[n_ok] = reps[i].ms;
		event_ms[n_ok] = reps[i].event_ms;
		skew[n_ok] = reps[i].skew_ms;
		apply_ms[n_ok] = reps[i].apply_ms;
		prep_srv[n_ok] = reps[i].prepare_ms;
		commit_srv[n_ok] = reps[i].commit_ms;
		n_ok++;
	}
	if (bc_stop) {
		r = -EINTR;
		goto out;
	}
	for (size_t i = 0; i < e->n_agents; i++)
		cpu_agents += bc_cpu_ms(e->agents[i].pid);
	cpu_vsnd += bc_cpu_ms(e->vsnd.pid);
	cpu_self += bc_cpu_ms(getpid());
	cpu_all += bc_machine_busy_ms();
	if (count_sync(p.a, &c, NULL) == 0 && (c.connected != o->nodes || c.in_sync != o->nodes))
		fprintf(stderr,
			"vsn-bench-controller: after the pushes %zu of %zu connected, %zu in "
			"sync\n",
			c.connected, o->nodes, c.in_sync);
	for (size_t i = 0; i < e->n_agents; i++) {
		double kib = (double)bc_rss_kib(e->agents[i].pid, "VmRSS");

		rss += kib;
		if (kib > rss_max)
			rss_max = kib;
		hwm += (double)bc_rss_kib(e->agents[i].pid, "VmHWM");
		pss += (double)bc_pss_kib(e->agents[i].pid);
	}
	max_times = (size_t)o->reps * e->n_agents + e->n_agents;
	nprep = calloc(max_times, sizeof(*nprep));
	ncommit = calloc(max_times, sizeof(*ncommit));
	if (!nprep || !ncommit) {
		r = -ENOMEM;
		goto out;
	}
	node_times(e, nprep, &n_np, ncommit, &n_nc, max_times);
	warns = agent_warnings(e);
	fprintf(stderr,
		"vsn-bench-controller: push: %zu polls of GET /v1/events, %.2f ms each "
		"(plus %.1f ms sleeps); %zu disconnects, %zu Nacks seen; %zu warn/error lines "
		"in the agents' logs\n",
		p.polls, p.polls ? p.poll_ms_total / (double)p.polls : 0, o->poll_ms, p.disconnects,
		p.nacks, warns);
	printf("{\"bench\":\"push\",\"nodes\":%zu,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
	       "\"skew_p99_ms\":%.1f,\"reps\":%d,\"aborted\":%zu,\"services\":%zu,"
	       "\"event_p50_ms\":%.1f,\"event_p99_ms\":%.1f,\"skew_p50_ms\":%.1f,\"apply_p50_ms\":%"
	       ".1f,\"prepare_p50_ms\":%.1f,"
	       "\"commit_p50_ms\":%.1f,\"node_prepare_p50_ms\":%.0f,\"node_commit_p50_ms\":%.0f,"
	       "\"node_commit_p99_ms\":%.0f,\"poll_ms\":%.2f,\"pause_ms\":%.0f}\n",
	       o->nodes, bc_pct(ms, n_ok, 0.5), bc_pct(ms, n_ok, 0.99), bc_pct(skew, n_ok, 0.99),
	       o->reps, n_aborted, o->services, bc_pct(event_ms, n_ok, 0.5),
	       bc_pct(event_ms, n_ok, 0.99), bc_pct(skew, n_ok, 0.5), bc_pct(apply_ms, n_ok, 0.5),
	       bc_pct(prep_srv, n_ok, 0.5), bc_pct(commit_srv, n_ok, 0.5), bc_pct(nprep, n_np, 0.5),
	       bc_pct(ncommit, n_nc, 0.5), bc_pct(ncommit, n_nc, 0.99),
	       o->poll_ms + (p.polls ? p.poll_ms_total / (double)p.polls : 0), o->pause_ms);
	printf("{\"bench\":\"push_cpu\",\"nodes\":%zu,\"agents_cpu_ms\":%.1f,\"vsnd_cpu_ms\":%.1f,"
	       "\"bench_cpu_ms\":%.1f,\"other_cpu_ms\":%.1f,\"cpus\":%ld}\n",
	       o->nodes, cpu_agents / o->reps, cpu_vsnd / o->reps, cpu_self / o->reps,
	       (cpu_all - cpu_agents - cpu_vsnd - cpu_self) / o->reps,
	       sysconf(_SC_NPROCESSORS_ONLN));
	printf("{\"bench\":\"push_mem\",\"nodes\":%zu,\"agents_rss_mib\":%.1f,"
	       "\"agents_pss_mib\":%.1f,"
	       "\"agent_rss_max_mib\":%.1f,\"agents_peak_mib\":%.1f,\"vsnd_rss_mib\":%.1f,"
	       "\"bpf_maps_mib\":%.1f,\"mem_used_mib\":%.1f,\"connect_s\":%.1f,\"sync_s\":%.1f}\n",
	       o->nodes, rss / 1024, pss / 1024, rss_max / 1024, hwm / 1024,
	       bc_rss_kib(e->vsnd.pid, "VmRSS") / 1024.0, maps, (mem1 - mem0) / 1024.0, connect_s,
	       sync_s);
	fflush(stdout);
out:
	if (e->vsnd.pid > 0 && waitpid(e->vsnd.pid, &st, WNOHANG) == e->vsnd.pid) {
		fprintf(stderr, "vsn-bench-controller: vsnd ended during the benchmark (%s):\n",
			bc_status_str(st));
		bc_log_tail(e->vsnd.log, 10);
		e->vsnd.pid = 0;
		r = r ? r : -ECHILD;
	}
	if (r && r != -EINTR) {
		fprintf(stderr,
			"vsn-bench-controller: push failed: %s; vsnd's last log lines (%s):\n",
			strerror(-r), e->vsnd.log);
		bc_log_tail(e->vsnd.log, 15);
	}
	free(nprep);
	free(ncommit);
	bc_buf_free(&doc);
	bc_api_close(p.a);
	bc_agents_stop(e);
	bc_vsnd_stop(e);
	return r ? 1 : 0;
}
