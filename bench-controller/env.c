/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The benchmark's world: a private network namespace (lo only, so the fixed ports are ours),
 * a temp dir, a CA with the controller's and the nodes' certificates, and the processes it
 * starts, vsnd and the vsn-node agents. Every process started here is ended by
 * bc_env_cleanup(), which also unloads every agent's forwarder and removes the temp dir;
 * children die with the benchmark (PR_SET_PDEATHSIG) if it is killed outright, and a later run
 * sweeps the pin directories such a run left behind.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bench.h"
#include "testenv.h"
#include "vsn_dp.h"
#include "vsn_tls.h"

volatile sig_atomic_t bc_stop;

int bc_buf_printf(struct bc_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if (b->s && (size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		size_t cap = b->cap ? b->cap * 2 : 1 << 16;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);

		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
}

void bc_buf_free(struct bc_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

uint64_t bc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bc_ms_since(uint64_t t0)
{
	return (double)(bc_now_ns() - t0) / 1e6;
}

void bc_sleep_ms(double ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};

	nanosleep(&ts, NULL);
}

char *bc_path(const struct bc_env *e, const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static int k;
	char *p = bufs[k++ % 8];
	int n = snprintf(p, PATH_MAX, "%s/", e->dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p + n, PATH_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return p;
}

void bc_node_name(size_t i, char *buf, size_t sz)
{
	snprintf(buf, sz, "node-%03zu", i);
}

double bc_pct(double *v, size_t n, double q)
{
	size_t k;

	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	if (!n)
		return -1;
	k = (size_t)(q * (double)n + 0.999999);
	return v[k ? k - 1 : 0];
}

static void on_signal(int sig)
{
	bc_stop = 1;
}

/* The pin root holds one agent's forwarder per directory: unload each, then the root. */
static int unload_tree(const char *root)
{
	char p[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(root);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, de->d_name);
		vsn_dp_unload(p);
	}
	closedir(d);
	return rmdir(root) && errno != ENOENT ? -errno : 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	return close(fd) ? -errno : 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

/*
 * Temp dirs of runs that were killed before they could clean up: /tmp/<prefix><pid>.XXXXXX
 * whose process is gone, unless kept on purpose (VSN_BENCH_KEEP=1 leaves a file KEPT).
 */
static void sweep_temp_dirs(void)
{
	size_t len = strlen(BC_PREFIX);
	char p[PATH_MAX], *end;
	struct dirent *de;
	DIR *d = opendir("/tmp");
	long pid;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, BC_PREFIX, len))
			continue;
		pid = strtol(de->d_name + len, &end, 10);
		if (end == de->d_name + len || *end != '.' || pid <= 0 || !kill(pid, 0) ||
		    errno != ESRCH)
			continue;
		snprintf(p, sizeof(p), "/tmp/%s/KEPT", de->d_name);
		if (!access(p, F_OK))
			continue;
		snprintf(p, sizeof(p), "/tmp/%s", de->d_name);
		nftw(p, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

int bc_env_setup(struct bc_env *e)
{
	struct vsn_cert_opts o = {.sz = sizeof(o), .days = 1};
	static const char *const ips[] = {"127.0.0.1"};
	struct vsn_tls_err err = {""};
	struct sigaction sa = {.sa_handler = on_signal};
	unsigned char rnd[32];
	char line[128];
	int fd, r;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = testenv_private(BC_PREFIX, unload_tree, e->pin_root, sizeof(e->pin_root));
	if (r) {
		fprintf(stderr, "vsn-bench-controller: private namespace: %s\n", strerror(-r));
		return r;
	}
	sweep_temp_dirs();
	snprintf(e->dir, sizeof(e->dir), "/tmp/" BC_PREFIX "%d.XXXXXX", (int)getpid());
	if (!mkdtemp(e->dir)) {
		e->dir[0] = '\0';
		return -errno;
	}
	if (vsn_ca_create(bc_path(e, "ca"), "bench-ca", 1, &err))
		goto tls;
	o.role = VSN_TLS_CONTROLLER;
	o.name = "vsnd";
	o.ips = ips;
	o.n_ips = 1;
	if (vsn_cert_issue(bc_path(e, "ca"), bc_path(e, "certs"), &o, &err))
		goto tls;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(e->token + 2 * i, "%02x", rnd[i]);
	snprintf(line, sizeof(line), "admin %s # vsn-bench-controller\n", e->token);
	return write_file(bc_path(e, "tokens"), line);
tls:
	fprintf(stderr, "vsn-bench-controller: certificates: %s\n", err.msg);
	return -EINVAL;
}

int bc_certs_nodes(struct bc_env *e, size_t n)
{
	struct vsn_cert_opts o = {.sz = sizeof(o), .days = 1, .role = VSN_TLS_NODE};
	struct vsn_tls_err err = {""};
	char name[32];

	for (size_t i = 0; i < n; i++) {
		bc_node_name(i, name, sizeof(name));
		o.name = name;
		if (vsn_cert_issue(bc_path(e, "ca"), bc_path(e, "certs"), &o, &err)) {
			fprintf(stderr, "vsn-bench-controller: certificate of %s: %s\n", name,
				err.msg);
			return -EINVAL;
		}
	}
	return 0;
}

/* Start argv with its stdout and stderr to p->log; the child dies with this process. */
static int spawn(struct bc_proc *p, char *const argv[])
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd;

		setpgid(0, 0); /* a Ctrl-C reaches the benchmark, which ends them in order */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		syscall(SYS_close_range, 3u, ~0u, 0u);
		execv(argv[0], argv);
		_exit(127);
	}
	p->pid = pid;
	return 0;
}

/* SIGTERM to each, up to 10 s for all to end, then SIGKILL. */
static void stop_procs(struct bc_proc *ps, size_t n)
{
	uint64_t t0 = bc_now_ns();
	size_t left = 0;
	int st;

	for (size_t i = 0; i < n; i++)
		if (ps[i].pid > 0) {
			kill(ps[i].pid, SIGTERM);
			left++;
		}
	while (left && bc_ms_since(t0) < 10000) {
		for (size_t i = 0; i < n; i++)
			if (ps[i].pid > 0 && waitpid(ps[i].pid, &st, WNOHANG) == ps[i].pid) {
				if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM)
					fprintf(stderr,
						"vsn-bench-controller: %s ended by signal %d (log: "
						"%s)\n",
						ps[i].name, WTERMSIG(st), ps[i].log);
				ps[i].pid = 0;
				left--;
			}
		if (left)
			bc_sleep_ms(5);
	}
	for (size_t i = 0; i < n; i++)
		if (ps[i].pid > 0) {
			fprintf(stderr, "vsn-bench-controller: %s did not end on SIGTERM: killed\n",
				ps[i].name);
			kill(ps[i].pid, SIGKILL);
			waitpid(ps[i].pid, &st, 0);
			ps[i].pid = 0;
		}
}

int bc_vsnd_start(struct bc_env *e, const char *tag, const char *const *extra)
{
	char listen[32], api[32], db[PATH_MAX], tokens[PATH_MAX], ca[PATH_MAX], cert[PATH_MAX],
		key[PATH_MAX];
	char *argv[40];
	int n = 0, r;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", BC_NODE_PORT);
	snprintf(api, sizeof(api), "127.0.0.1:%d", BC_API_PORT);
	snprintf(db, sizeof(db), "%s", bc_path(e, "vsnd-%s.db", tag));
	snprintf(tokens, sizeof(tokens), "%s", bc_path(e, "tokens"));
	snprintf(ca, sizeof(ca), "%s", bc_path(e, "certs/ca.crt"));
	snprintf(cert, sizeof(cert), "%s", bc_path(e, "certs/vsnd.crt"));
	snprintf(key, sizeof(key), "%s", bc_path(e, "certs/vsnd.key"));
	argv[n++] = e->vsnd_bin;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--ca";
	argv[n++] = ca;
	argv[n++] = "--cert";
	argv[n++] = cert;
	argv[n++] = "--key";
	argv[n++] = key;
	argv[n++] = "--db";
	argv[n++] = db;
	argv[n++] = "--api";
	argv[n++] = api;
	argv[n++] = "--tokens";
	argv[n++] = tokens;
	for (size_t i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	snprintf(e->vsnd.name, sizeof(e->vsnd.name), "vsnd (%s)", tag);
	snprintf(e->vsnd.log, sizeof(e->vsnd.log), "%s", bc_path(e, "vsnd-%s.log", tag));
	r = spawn(&e->vsnd, argv);
	if (r)
		return r;
	fprintf(stderr, "vsn-bench-controller: started %s, pid %d\n", e->vsnd.name,
		(int)e->vsnd.pid);
	return 0;
}

void bc_vsnd_stop(struct bc_env *e)
{
	stop_procs(&e->vsnd, 1);
}

int bc_agents_start(struct bc_env *e, size_t n, const char *const *caps)
{
	struct bc_buf cfg = {0};
	char name[32], conf[PATH_MAX];
	int r = 0;

	e->agents = calloc(n, sizeof(*e->agents));
	if (!e->agents)
		return -ENOMEM;
	e->n_agents = n;
	if (mkdir(bc_path(e, "nodes"), 0700) && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < n && !r && !bc_stop; i++) {
		struct bc_proc *p = &e->agents[i];
		char *argv[] = {e->agent_bin, "--config", conf, NULL};

		bc_node_name(i, name, sizeof(name));
		if (mkdir(bc_path(e, "nodes/%s", name), 0700) && errno != EEXIST)
			return -errno;
		cfg.len = 0;
		r = bc_buf_printf(&cfg,
				  "node: %s\ncontroller: 127.0.0.1:%d\n"
				  "tls:\n  ca: %s\n  cert: %s\n  key: %s\n"
				  "state_dir: %s\npin_dir: %s/%s\nlog_format: text\n",
				  name, BC_NODE_PORT, bc_path(e, "certs/ca.crt"),
				  bc_path(e, "certs/%s.crt", name),
				  bc_path(e, "certs/%s.key", name),
				  bc_path(e, "nodes/%s/state", name), e->pin_root, name);
		for (size_t k = 0; caps && caps[k] && !r; k++)
			r = bc_buf_printf(&cfg, "%s\n", caps[k]);
		snprintf(conf, sizeof(conf), "%s", bc_path(e, "nodes/%s/node.yaml", name));
		if (!r)
			r = write_file(conf, cfg.s);
		snprintf(p->name, sizeof(p->name), "vsn-node %s", name);
		snprintf(p->log, sizeof(p->log), "%s", bc_path(e, "nodes/%s/agent.log", name));
		if (!r)
			r = spawn(p, argv);
	}
	bc_buf_free(&cfg);
	return bc_stop ? -EINTR : r;
}

void bc_agents_stop(struct bc_env *e)
{
	if (e->agents)
		stop_procs(e->agents, e->n_agents);
}

const char *bc_status_str(int status)
{
	static char buf[64];

	if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "status %#x", status);
	return buf;
}

long bc_agent_exited(struct bc_env *e, int *ret_status)
{
	for (size_t i = 0; i < e->n_agents; i++) {
		struct bc_proc *p = &e->agents[i];

		if (p->pid > 0 && waitpid(p->pid, ret_status, WNOHANG) == p->pid) {
			p->pid = 0;
			return (long)i;
		}
	}
	return -1;
}

void bc_log_tail(const char *file, int lines)
{
	char *buf = NULL, *start;
	size_t cap = 0, len = 0;
	int seen = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		return;
	for (;;) {
		if (len + 4096 > cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!b)
				break;
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		if (!n)
			break;
		len += n;
	}
	fclose(f);
	if (!buf)
		return;
	buf[len] = '\0';
	start = buf + len;
	while (start > buf && seen <= lines)
		if (*--start == '\n' && start + 1 < buf + len)
			seen++;
	if (*start == '\n')
		start++;
	for (char *l = strtok(start, "\n"); l; l = strtok(NULL, "\n"))
		fprintf(stderr, "    | %s\n", l);
	free(buf);
}

long bc_rss_kib(pid_t pid, const char *field)
{
	char p[64], line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':')
			v = atol(line + fl + 1);
	fclose(f);
	return v;
}

double bc_cpu_ms(pid_t pid)
{
	char p[64], buf[1024], *s;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return 0;
	s = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* After the command's ')': state is field 3, utime 14, stime 15. */
	if (!s ||
	    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

double bc_machine_busy_ms(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return 0;
	/* user nice system idle iowait irq softirq steal: all but idle and iowait. */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 7)
		return 0;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000.0 /
	       (double)sysconf(_SC_CLK_TCK);
}

long bc_pss_kib(pid_t pid)
{
	char p[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Pss:", 4))
			v = atol(line + 4);
	fclose(f);
	return v;
}

/* A set of map ids, each counted once. */
struct map_acc {
	__u32 *ids;
	size_t n, cap;
};

static void acc_add(struct map_acc *a, __u32 id)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->ids[i] == id)
			return;
	if (a->n == a->cap) {
		__u32 *v = realloc(a->ids, (a->cap ? a->cap * 2 : 1024) * sizeof(*v));

		if (!v)
			return;
		a->ids = v;
		a->cap = a->cap ? a->cap * 2 : 1024;
	}
	a->ids[a->n++] = id;
}

/* One value of an fdinfo file ("map_id", "memlock", "map_type"), or 0. */
static unsigned long long fdinfo_value(const char *fdinfo, const char *key)
{
	unsigned long long v = 0;
	size_t kl = strlen(key);
	char line[128];
	FILE *f = fopen(fdinfo, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoull(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static struct map_acc *walk_acc;

static int acc_pinned(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	char fdinfo[64];
	int fd;

	if (flag != FTW_F)
		return 0;
	fd = bpf_obj_get(p);
	if (fd < 0)
		return 0;
	snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
	if (fdinfo_value(fdinfo, "map_id"))
		acc_add(walk_acc, (__u32)fdinfo_value(fdinfo, "map_id"));
	close(fd);
	return 0;
}

/*
 * The maps the agents hold open or pinned under e->pin_root, and the inner maps those map-in-map
 * tables point to (a generation's maps are reachable only that way): memlock of each, once.
 */
double bc_agents_maps_mib(const struct bc_env *e)
{
	unsigned long long bytes = 0;
	struct map_acc a = {0};
	char p[64], fdinfo[PATH_MAX];

	for (size_t i = 0; i < e->n_agents; i++) {
		struct dirent *de;
		DIR *d;

		if (e->agents[i].pid <= 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fdinfo", (int)e->agents[i].pid);
		d = opendir(p);
		while (d && (de = readdir(d))) {
			snprintf(fdinfo, sizeof(fdinfo), "%s/%s", p, de->d_name);
			if (de->d_name[0] != '.' && fdinfo_value(fdinfo, "map_id"))
				acc_add(&a, (__u32)fdinfo_value(fdinfo, "map_id"));
		}
		if (d)
			closedir(d);
	}
	walk_acc = &a;
	nftw(e->pin_root, acc_pinned, 32, FTW_PHYS);
	for (size_t i = 0; i < a.n; i++) {
		int fd = bpf_map_get_fd_by_id(a.ids[i]);
		unsigned long long type;

		if (fd < 0)
			continue;
		snprintf(fdinfo, sizeof(fdinfo), "/proc/self/fdinfo/%d", fd);
		bytes += fdinfo_value(fdinfo, "memlock");
		type = fdinfo_value(fdinfo, "map_type");
		if (type == BPF_MAP_TYPE_ARRAY_OF_MAPS || type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			struct bpf_map_info info = {0};
			__u32 len = sizeof(info);
			char key[64], next[64];
			void *prev = NULL;
			__u32 inner;

			if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
			    info.key_size <= sizeof(key))
				while (!bpf_map_get_next_key(fd, prev, next)) {
					if (!bpf_map_lookup_elem(fd, next, &inner) && inner)
						acc_add(&a, inner);
					memcpy(key, next, info.key_size);
					prev = key;
				}
		}
		close(fd);
	}
	free(a.ids);
	return (double)bytes / (1024.0 * 1024.0);
}

long bc_mem_used_kib(void)
{
	char line[128];
	long total = -1, avail = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "MemTotal:", 9))
			total = atol(line + 9);
		else if (!strncmp(line, "MemAvailable:", 13))
			avail = atol(line + 13);
	}
	fclose(f);
	return total < 0 || avail < 0 ? -1 : total - avail;
}

void bc_env_cleanup(struct bc_env *e)
{
	bc_agents_stop(e);
	bc_vsnd_stop(e);
	if (e->pin_root[0])
		unload_tree(e->pin_root);
	free(e->agents);
	e->agents = NULL;
	e->n_agents = 0;
	if (!e->dir[0])
		return;
	if (e->keep) {
		write_file(bc_path(e, "KEPT"), "VSN_BENCH_KEEP=1: a later run leaves this dir\n");
		fprintf(stderr, "vsn-bench-controller: kept %s (VSN_BENCH_KEEP=1)\n", e->dir);
	} else
		nftw(e->dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}
