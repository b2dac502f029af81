/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn-bench-controller's parts (docs/benchmarks.md, "controller"): the environment (a private
 * network namespace, a temp dir, certificates, vsnd and vsn-node processes), a small REST
 * client of vsnd's API, the desired-state documents, and the two benchmarks.
 */
#ifndef VSN_BENCH_CONTROLLER_H
#define VSN_BENCH_CONTROLLER_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define BC_PREFIX "vsn-bench-controller-"
#define BC_NODE_PORT 7700 /* inside the private namespace: nothing else listens there */
#define BC_API_PORT 7443

/* Set by SIGINT and SIGTERM: every wait gives up and the run cleans up. */
extern volatile sig_atomic_t bc_stop;

struct bc_proc {
	pid_t pid; /* 0: not running */
	char name[32];
	char log[PATH_MAX];
};

struct bc_env {
	char dir[64];	    /* the temp dir: certificates, stores, configs, logs */
	char pin_root[128]; /* TESTENV_BPF_FS/vsn-bench-controller-PID: one pin dir per agent */
	char vsnd_bin[PATH_MAX], agent_bin[PATH_MAX];
	char token[65];
	bool keep; /* VSN_BENCH_KEEP=1: keep the temp dir (logs) */
	struct bc_proc vsnd;
	struct bc_proc *agents;
	size_t n_agents;
};

/* A free-form buffer of text that grows. */
struct bc_buf {
	char *s;
	size_t len, cap;
};

int bc_buf_printf(struct bc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bc_buf_free(struct bc_buf *b);

/* env.c */
uint64_t bc_now_ns(void);
double bc_ms_since(uint64_t t0);
void bc_sleep_ms(double ms);
char *bc_path(const struct bc_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bc_env_setup(struct bc_env *e);
int bc_certs_nodes(struct bc_env *e, size_t n);
int bc_vsnd_start(struct bc_env *e, const char *tag, const char *const *extra);
void bc_vsnd_stop(struct bc_env *e);
int bc_agents_start(struct bc_env *e, size_t n, const char *const *caps);
void bc_agents_stop(struct bc_env *e);
/* "exit status N" or "killed by signal N (NAME)" of a waitpid() status. */
const char *bc_status_str(int status);
/* The first agent that is no longer running (reaped), or -1. */
long bc_agent_exited(struct bc_env *e, int *ret_status);
void bc_log_tail(const char *file, int lines);
long bc_rss_kib(pid_t pid, const char *field);
long bc_pss_kib(pid_t pid);
/* CPU time (user and system) the process has used, in ms (clock-tick resolution). */
double bc_cpu_ms(pid_t pid);
/* CPU time every CPU of the machine has spent busy (not idle, not waiting for I/O), in ms. */
double bc_machine_busy_ms(void);
/* An API time ("2026-11-27T07:53:30.802Z") in ms since the epoch, or -1. */
double bc_api_time_ms(const char *s);
double bc_realtime_ms(void);
/* The BPF maps the agents hold or pinned under e->pin_root: their memlock in MiB, each once. */
double bc_agents_maps_mib(const struct bc_env *e);
long bc_mem_used_kib(void);
void bc_env_cleanup(struct bc_env *e);

/* api.c: one keep-alive HTTPS connection to vsnd's API. */
struct bc_api;
int bc_api_open(const struct bc_env *e, struct bc_api **ret);
void bc_api_close(struct bc_api *a);
/* A request; 0 with *ret_status and *ret_json (NULL when the body is not JSON), or -EIO. */
int bc_api_call(struct bc_api *a, const char *method, const char *path, const char *body,
		size_t body_len, long *ret_status, json_t **ret_json);
/* The body of the last answer, for messages. */
const char *bc_api_body(const struct bc_api *a);
/* A POST /v1/apply body for doc. */
char *bc_apply_body(const char *doc, const char *message, size_t *ret_len);
/* GET /v1/status until it answers 200, up to ms. */
int bc_api_wait_up(struct bc_api *a, int ms);
/* The id of the newest event (0: none). */
int bc_api_last_event(struct bc_api *a, uint64_t *ret_id);

/* doc.c */
struct bc_apply_doc {
	size_t services, slbs, nodes;
};
/* The apply benchmark's document; variant v changes one weight in one pool per node. */
int bc_doc_apply(const struct bc_apply_doc *d, unsigned int v, struct bc_buf *out);
/* The push benchmark's document: services on every one of n nodes; rep changes one weight. */
int bc_doc_push(size_t nodes, size_t services, unsigned int rep, struct bc_buf *out);
/* The node names of the push benchmark, and the node certificates' names. */
void bc_node_name(size_t i, char *buf, size_t sz);

/* stats */
double bc_pct(double *v, size_t n, double q); /* sorts v; nearest rank */

/* The benchmarks: 0, or 1 when they could not run to the end. */
struct bc_apply_opts {
	size_t services, nodes;
	int runs;
};
int bc_bench_apply(struct bc_env *e, const struct bc_apply_opts *o);

struct bc_push_opts {
	size_t nodes, services;
	int reps;
	double poll_ms, pause_ms;
	int connect_timeout_s;
};
int bc_bench_push(struct bc_env *e, const struct bc_push_opts *o);

#endif /* VSN_BENCH_CONTROLLER_H */
