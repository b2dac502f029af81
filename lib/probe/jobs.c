/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named runners (a hash table by name), the jitter of their first attempts, and the TLS client
 * contexts they share, one per CA file's contents.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe_internal.h"

#define JOBS_BUCKETS_FIRST 64

/* A client context; path NULL: the one that verifies nothing. */
struct tls_ctx_entry {
	struct tls_ctx_entry *next;
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	SSL_CTX *ctx;
};

/* FNV-1a. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int jobs_new(struct event_base *base, size_t sz, void (*cb)(void), void *arg, void **ret)
{
	struct jobs *j = calloc(1, sz);

	if (!j)
		return -ENOMEM;
	j->base = base;
	j->cb = cb;
	j->arg = arg;
	j->n_buckets = JOBS_BUCKETS_FIRST;
	j->buckets = calloc(j->n_buckets, sizeof(*j->buckets));
	if (!j->buckets) {
		free(j);
		return -ENOMEM;
	}
	if (getrandom(&j->rng, sizeof(j->rng), GRND_NONBLOCK) != sizeof(j->rng))
		j->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)j;
	j->rng |= 1;
	*ret = j;
	return 0;
}

struct job *jobs_find(const struct jobs *j, const char *name)
{
	uint32_t h = name_hash(name);
	struct job *job;

	for (job = j->buckets[h % j->n_buckets]; job; job = job->next)
		if (job->hash == h && !strcmp(job->name, name))
			return job;
	return NULL;
}

int jobs_get(const struct jobs *j, const char *name, size_t off, void *ret, size_t sz)
{
	const struct job *job = jobs_find(j, name);

	if (!job)
		return -ENOENT;
	memcpy(ret, (const char *)job + off, sz);
	return 0;
}

/* Twice the buckets when there are more jobs than buckets; staying as is when out of memory. */
static void jobs_grow(struct jobs *j)
{
	size_t n = j->n_buckets * 2, i;
	struct job **b = calloc(n, sizeof(*b)), *job, *next;

	if (!b)
		return;
	for (i = 0; i < j->n_buckets; i++)
		for (job = j->buckets[i]; job; job = next) {
			next = job->next;
			job->next = b[job->hash % n];
			b[job->hash % n] = job;
		}
	free(j->buckets);
	j->buckets = b;
	j->n_buckets = n;
}

int jobs_add(struct jobs *j, struct job *job, const char *name, runner_done_cb done)
{
	size_t i;

	job->name = strdup(name);
	if (!job->name)
		return -ENOMEM;
	if (runner_init(&job->run, j->base, done)) {
		free(job->name);
		return -ENOMEM;
	}
	if (j->n >= j->n_buckets)
		jobs_grow(j);
	job->hash = name_hash(name);
	i = job->hash % j->n_buckets;
	job->next = j->buckets[i];
	j->buckets[i] = job;
	j->n++;
	return 0;
}

static void jobs_unlink(struct jobs *j, struct job *job, void (*free_job)(struct job *))
{
	struct job **pp = &j->buckets[job->hash % j->n_buckets];

	while (*pp != job)
		pp = &(*pp)->next;
	*pp = job->next;
	j->n--;
	runner_fini(&job->run);
	free(job->name);
	free_job(job);
}

int jobs_remove(struct jobs *j, const char *name, void (*free_job)(struct job *))
{
	struct job *job = jobs_find(j, name);

	if (!job)
		return -ENOENT;
	jobs_unlink(j, job, free_job);
	return 0;
}

void jobs_free(struct jobs *j, void (*free_job)(struct job *))
{
	struct tls_ctx_entry *e, *next;
	size_t i;

	for (i = 0; j->buckets && i < j->n_buckets; i++)
		while (j->buckets[i])
			jobs_unlink(j, j->buckets[i], free_job);
	free(j->buckets);
	for (e = j->ctxs; e; e = next) {
		next = e->next;
		SSL_CTX_free(e->ctx);
		free(e->path);
		free(e);
	}
	free(j);
}

unsigned int jobs_jitter(struct jobs *j, unsigned int interval_ms)
{
	/* xorshift64*: enough to spread first attempts. */
	j->rng ^= j->rng >> 12;
	j->rng ^= j->rng << 25;
	j->rng ^= j->rng >> 27;
	return (unsigned int)((j->rng * 2685821657736338717ULL >> 32) % interval_ms);
}

static bool same_file(const struct tls_ctx_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static int client_ctx(const char *ca_file, SSL_CTX **ret, struct vsn_probe_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		ERR_clear_error();
		return probe_err(err, -ENOMEM, "TLS: out of memory");
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A server that closes without close_notify has still sent its whole answer. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(ctx, ca_file ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return probe_err(err, -EINVAL, "CA file %s: no PEM certificate could be read",
				 ca_file);
	}
	*ret = ctx;
	return 0;
}

/* Drop the entry of path (its file changed): its checks keep their own references. */
static void ctx_forget(struct jobs *j, const char *path)
{
	struct tls_ctx_entry **pp, *e;

	for (pp = &j->ctxs; (e = *pp); pp = &e->next)
		if (e->path && !strcmp(e->path, path)) {
			*pp = e->next;
			SSL_CTX_free(e->ctx);
			free(e->path);
			free(e);
			return;
		}
}

int jobs_ssl_ctx(struct jobs *j, const char *ca_file, SSL_CTX **ret, struct vsn_probe_err *err)
{
	struct tls_ctx_entry *e;
	struct stat st = {0};
	int r;

	if (ca_file && stat(ca_file, &st))
		return probe_err(err, -errno, "CA file %s: %s", ca_file, strerror(errno));
	for (e = j->ctxs; e; e = e->next) {
		if (!ca_file != !e->path || (ca_file && strcmp(ca_file, e->path)))
			continue;
		if (ca_file && !same_file(e, &st))
			break;
		SSL_CTX_up_ref(e->ctx);
		*ret = e->ctx;
		return 0;
	}
	if (e)
		ctx_forget(j, ca_file);
	e = calloc(1, sizeof(*e));
	if (!e || (ca_file && !(e->path = strdup(ca_file)))) {
		free(e);
		return probe_err(err, -ENOMEM, "out of memory");
	}
	r = client_ctx(ca_file, &e->ctx, err);
	if (r) {
		free(e->path);
		free(e);
		return r;
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;
	e->next = j->ctxs;
	j->ctxs = e;
	SSL_CTX_up_ref(e->ctx);
	*ret = e->ctx;
	return 0;
}
