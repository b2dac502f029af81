/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnstore's SQLite backend: schema and reopen, revisions, ids, transactions, meta, events,
 * node sets, a file too new or not a store, corruption, crash consistency under SIGKILL, and
 * the time one apply of 10,000 services takes to store.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "store/store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct vsn_db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsn-store-db.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/vsn.db", f->dir);
	if (vsn_db_open(f->path, &f->db, NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	vsn_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	char err[VSN_DB_ERR_LEN];

	vsn_db_close(f->db);
	f->db = NULL;
	if (vsn_db_open(f->path, &f->db, err))
		fail_msg("reopen: %s", err);
}

/* Run sql on the file directly, as another program (or an older vsnd) would. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
}

static void raw_text(const char *path, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *st;
	sqlite3 *h;

	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_open_reopen(void **state)
{
	struct fixture *f = *state;
	struct vsn_db_revision *rev;
	uint64_t id, latest;
	char buf[32], spec[160];

	assert_string_equal(vsn_db_backend(f->db), "sqlite");
	raw_text(f->path, "PRAGMA user_version", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	raw_text(f->path, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	assert_int_equal(vsn_db_revision_add(f->db, "ann", "first", "nodes: []\n", &id), 0);
	reopen(f);
	raw_text(f->path, "PRAGMA user_version", buf, sizeof(buf));
	assert_string_equal(buf, "1");
	assert_int_equal(vsn_db_revision_latest(f->db, &latest), 0);
	assert_int_equal(latest, id);
	assert_int_equal(vsn_db_revision_get(f->db, id, &rev), 0);
	assert_string_equal(rev->document, "nodes: []\n");
	free(rev);
	/* The "sqlite:" prefix names the same backend. */
	vsn_db_close(f->db);
	snprintf(spec, sizeof(spec), "sqlite:%s", f->path);
	assert_int_equal(vsn_db_open(spec, &f->db, NULL), 0);
	assert_int_equal(vsn_db_revision_latest(f->db, &latest), 0);
	assert_int_equal(latest, id);
	assert_int_equal(vsn_db_integrity_check(f->db), 0);
}

struct seen {
	int n;
	uint64_t ids[16];
	int stop_after; /* return stop_ret after this many */
	int stop_ret;
};

static int seen_rev(const struct vsn_db_revision *rev, void *arg)
{
	struct seen *s = arg;

	assert_null(rev->document);
	s->ids[s->n++] = rev->id;
	return s->n == s->stop_after ? s->stop_ret : 0;
}

static void test_revisions(void **state)
{
	struct fixture *f = *state;
	struct vsn_db_revision *rev = (void *)1;
	struct seen seen = {0};
	uint64_t ids[3], id = 77;
	int64_t t0 = now_ms(), t1;
	char doc[32];
	int i;

	assert_int_equal(vsn_db_revision_latest(f->db, &id), -ENOENT);
	assert_int_equal(id, 77);
	for (i = 0; i < 3; i++) {
		snprintf(doc, sizeof(doc), "doc %d\n", i);
		assert_int_equal(vsn_db_revision_add(f->db, i ? "bob" : "ann", "msg", doc, &ids[i]),
				 0);
		assert_int_equal(ids[i], i + 1);
	}
	t1 = now_ms();
	assert_int_equal(vsn_db_revision_latest(f->db, &id), 0);
	assert_int_equal(id, ids[2]);

	assert_int_equal(vsn_db_revisions_list(f->db, 0, seen_rev, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.ids[0], 3);
	assert_int_equal(seen.ids[1], 2);
	assert_int_equal(seen.ids[2], 1);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(vsn_db_revisions_list(f->db, 2, seen_rev, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.ids[1], 2);
	/* A callback stops the walk: positive gives 0, negative is returned. */
	seen = (struct seen){.stop_after = 1, .stop_ret = 1};
	assert_int_equal(vsn_db_revisions_list(f->db, 0, seen_rev, &seen), 0);
	assert_int_equal(seen.n, 1);
	seen = (struct seen){.stop_after = 2, .stop_ret = -EIO};
	assert_int_equal(vsn_db_revisions_list(f->db, 0, seen_rev, &seen), -EIO);
	assert_int_equal(seen.n, 2);

	assert_int_equal(vsn_db_revision_get(f->db, ids[0], &rev), 0);
	assert_int_equal(rev->id, 1);
	assert_string_equal(rev->author, "ann");
	assert_string_equal(rev->message, "msg");
	assert_string_equal(rev->document, "doc 0\n");
	assert_true(rev->created_ms >= t0 && rev->created_ms <= t1);
	free(rev);
	rev = (void *)1;
	assert_int_equal(vsn_db_revision_get(f->db, 99, &rev), -ENOENT);
	assert_ptr_equal(rev, (void *)1);
	assert_non_null(strstr(vsn_db_errmsg(f->db), "99"));
}

static void test_ids(void **state)
{
	struct fixture *f = *state;
	uint32_t id;

	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "a/l2", 100, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "b/l2", 100, &id), 0);
	assert_int_equal(id, 2);
	/* Each kind counts on its own. */
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SERVICE, "a/l2", 100, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_POLICY, "web/tcp/80", 100, &id),
			 0);
	assert_int_equal(id, 1);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "a/l2", 100, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(vsn_db_id_get(f->db, VSN_DB_ID_SLB, "b/l2", &id), 0);
	assert_int_equal(id, 2);
	id = 77;
	assert_int_equal(vsn_db_id_get(f->db, VSN_DB_ID_SLB, "c/l2", &id), -ENOENT);
	assert_int_equal(id, 77);

	reopen(f);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "b/l2", 100, &id), 0);
	assert_int_equal(id, 2);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "c/l2", 100, &id), 0);
	assert_int_equal(id, 3);

	/* An id outlives its key: removing c's row does not make 3 free again. */
	vsn_db_close(f->db);
	f->db = NULL;
	raw_exec(f->path, "DELETE FROM ids WHERE kind = 'slb' AND key = 'c/l2'");
	reopen(f);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "d/l2", 100, &id), 0);
	assert_int_equal(id, 4);
	/* The next id is above every existing one, however it got there. */
	raw_exec(f->path, "INSERT INTO ids (kind, key, id) VALUES ('slb', 'z/l2', 10)");
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "e/l2", 100, &id), 0);
	assert_int_equal(id, 11);

	/* Limits: the next id (12) must be below the limit, and so must an existing one. */
	id = 77;
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "f/l2", 12, &id), -ENOSPC);
	assert_int_equal(id, 77);
	assert_int_equal(vsn_db_id_get(f->db, VSN_DB_ID_SLB, "f/l2", &id), -ENOENT);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "f/l2", 13, &id), 0);
	assert_int_equal(id, 12);
	id = 77;
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_SLB, "e/l2", 11, &id), -ENOSPC);
	assert_int_equal(id, 77);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, VSN_DB_ID_KINDS, "x", 100, &id), -EINVAL);
	assert_int_equal(vsn_db_id_get_or_alloc(f->db, (enum vsn_db_id_kind) - 1, "x", 100, &id),
			 -EINVAL);
}

static int count_node(const char *node, uint64_t generation, const void *set, size_t len, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int count_event(const struct vsn_db_event *ev, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

/* Nothing an apply writes is visible: no revision, id, node set, counter or event. */
static void assert_empty(struct vsn_db *db)
{
	uint64_t u = 77, gen;
	uint32_t id = 77;
	void *set;
	size_t len;
	int n = 0;

	assert_int_equal(vsn_db_revision_latest(db, &u), -ENOENT);
	assert_int_equal(vsn_db_id_get(db, VSN_DB_ID_SERVICE, "web", &id), -ENOENT);
	assert_int_equal(vsn_db_node_set_get(db, "edge-1", &gen, &set, &len), -ENOENT);
	assert_int_equal(vsn_db_meta_get_u64(db, "generation", &u), -ENOENT);
	assert_int_equal(vsn_db_nodes_list(db, count_node, &n), 0);
	assert_int_equal(vsn_db_events_list(db, 0, 0, count_event, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(u, 77);
	assert_int_equal(id, 77);
}

/* One apply's writes, inside the caller's transaction. */
static void apply_writes(struct vsn_db *db)
{
	uint64_t rev, gen, ev;
	uint32_t id;

	assert_int_equal(vsn_db_revision_add(db, "ann", "apply", "doc\n", &rev), 0);
	assert_int_equal(vsn_db_id_get_or_alloc(db, VSN_DB_ID_SERVICE, "web", 100, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(vsn_db_id_get_or_alloc(db, VSN_DB_ID_POLICY, "web/tcp/80", 100, &id), 0);
	assert_int_equal(vsn_db_meta_next_u64(db, "generation", &gen), 0);
	assert_int_equal(vsn_db_node_set_put(db, "edge-1", gen, "set", 3), 0);
	assert_int_equal(vsn_db_event_add(db, "apply", "revision 1", NULL, &ev), 0);
}

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	uint64_t ev = 77, u;
	uint32_t id;

	assert_int_equal(vsn_db_commit(f->db), -EINVAL);
	assert_int_equal(vsn_db_rollback(f->db), -EINVAL);

	assert_int_equal(vsn_db_begin(f->db), 0);
	assert_int_equal(vsn_db_begin(f->db), -EBUSY);
	apply_writes(f->db);
	assert_int_equal(vsn_db_rollback(f->db), 0);
	assert_empty(f->db);

	/* A failure half way: the caller rolls back and nothing of the apply stays. */
	assert_int_equal(vsn_db_begin(f->db), 0);
	apply_writes(f->db);
	assert_int_equal(vsn_db_event_add(f->db, "apply", "x", "{not json", &ev), -EINVAL);
	assert_int_equal(ev, 77);
	assert_int_equal(vsn_db_rollback(f->db), 0);
	assert_empty(f->db);
	reopen(f);
	assert_empty(f->db);

	/* Rolled back ids are not spent: the committed apply gets id 1 again. */
	assert_int_equal(vsn_db_begin(f->db), 0);
	apply_writes(f->db);
	assert_int_equal(vsn_db_commit(f->db), 0);
	assert_int_equal(vsn_db_commit(f->db), -EINVAL);
	reopen(f);
	assert_int_equal(vsn_db_id_get(f->db, VSN_DB_ID_SERVICE, "web", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(vsn_db_meta_get_u64(f->db, "generation", &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(vsn_db_revision_latest(f->db, &u), 0);
	assert_int_equal(u, 1);
}

static void test_meta(void **state)
{
	struct fixture *f = *state;
	uint64_t v = 77;
	char *text = NULL;
	int i;

	for (i = 1; i <= 3; i++) {
		assert_int_equal(vsn_db_meta_next_u64(f->db, "generation", &v), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(vsn_db_meta_set_text(f->db, "cluster", "east"), 0);
	assert_int_equal(vsn_db_meta_set_u64(f->db, "big", INT64_MAX), 0);
	reopen(f);
	assert_int_equal(vsn_db_meta_get_u64(f->db, "generation", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(vsn_db_meta_get_text(f->db, "cluster", &text), 0);
	assert_string_equal(text, "east");
	free(text);
	text = NULL;

	v = 77;
	assert_int_equal(vsn_db_meta_get_u64(f->db, "cluster", &v), -EINVAL);
	assert_int_equal(vsn_db_meta_get_text(f->db, "generation", &text), -EINVAL);
	assert_int_equal(vsn_db_meta_get_u64(f->db, "missing", &v), -ENOENT);
	assert_int_equal(vsn_db_meta_set_u64(f->db, "big", (uint64_t)INT64_MAX + 1), -ERANGE);
	assert_int_equal(vsn_db_meta_next_u64(f->db, "big", &v), -ERANGE);
	assert_int_equal(vsn_db_meta_next_u64(f->db, "cluster", &v), -EINVAL);
	assert_int_equal(v, 77);
	assert_null(text);
	/* set replaces, of either type. */
	assert_int_equal(vsn_db_meta_set_u64(f->db, "cluster", 5), 0);
	assert_int_equal(vsn_db_meta_get_u64(f->db, "cluster", &v), 0);
	assert_int_equal(v, 5);
}

struct events_seen {
	int n;
	struct vsn_db_event ev[8];
	char detail[8][32];
};

static int seen_event(const struct vsn_db_event *ev, void *arg)
{
	struct events_seen *s = arg;

	s->ev[s->n] = *ev;
	snprintf(s->detail[s->n], sizeof(s->detail[0]), "%s", ev->detail);
	s->n++;
	return 0;
}

static void test_events(void **state)
{
	struct fixture *f = *state;
	struct events_seen seen = {0};
	int64_t t0 = now_ms(), t1;
	uint64_t id = 77;
	char detail[32];
	int i;

	for (i = 1; i <= 5; i++) {
		snprintf(detail, sizeof(detail), "{\"n\": %d}", i);
		assert_int_equal(vsn_db_event_add(f->db, "apply", "rev", detail, &id), 0);
		assert_int_equal(id, i);
	}
	t1 = now_ms();
	id = 77;
	assert_int_equal(vsn_db_event_add(f->db, "apply", "rev", "{\"n\":", &id), -EINVAL);
	assert_int_equal(id, 77);

	assert_int_equal(vsn_db_events_list(f->db, 0, 0, seen_event, &seen), 0);
	assert_int_equal(seen.n, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(seen.ev[i].id, i + 1);
		assert_true(seen.ev[i].time_ms >= t0 && seen.ev[i].time_ms <= t1);
	}
	assert_string_equal(seen.detail[0], "{\"n\": 1}");

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(vsn_db_events_list(f->db, 2, 2, seen_event, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.ev[0].id, 3);
	assert_int_equal(seen.ev[1].id, 4);
	assert_string_equal(seen.detail[1], "{\"n\": 4}");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(vsn_db_events_list(f->db, 5, 0, seen_event, &seen), 0);
	assert_int_equal(seen.n, 0);

	assert_int_equal(vsn_db_event_add(f->db, "connect", "edge-1", NULL, &id), 0);
	assert_int_equal(vsn_db_events_list(f->db, 5, 0, seen_event, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.detail[0], "{}");
}

struct nodes_seen {
	int n;
	char names[4][16];
	uint64_t gens[4];
	size_t lens[4];
};

static int seen_node(const char *node, uint64_t generation, const void *set, size_t len, void *arg)
{
	struct nodes_seen *s = arg;

	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", node);
	s->gens[s->n] = generation;
	s->lens[s->n] = len;
	s->n++;
	return 0;
}

static void test_nodes(void **state)
{
	struct fixture *f = *state;
	struct nodes_seen seen = {0};
	uint64_t gen = 77;
	void *set = (void *)1;
	size_t len = 77;

	assert_int_equal(vsn_db_node_set_get(f->db, "edge-1", &gen, &set, &len), -ENOENT);
	assert_int_equal(gen, 77);
	assert_ptr_equal(set, (void *)1);
	assert_int_equal(len, 77);

	assert_int_equal(vsn_db_node_set_put(f->db, "edge-2", 1, "bbbb", 4), 0);
	assert_int_equal(vsn_db_node_set_put(f->db, "edge-1", 1, "aaa", 3), 0);
	assert_int_equal(vsn_db_node_set_put(f->db, "edge-1", 2, "AAAAA", 5), 0);
	assert_int_equal(vsn_db_node_set_put(f->db, "edge-3", 2, NULL, 0), 0);
	assert_int_equal(vsn_db_node_set_put(f->db, "edge-4", (uint64_t)INT64_MAX + 1, "x", 1),
			 -ERANGE);
	reopen(f);

	assert_int_equal(vsn_db_node_set_get(f->db, "edge-1", &gen, &set, &len), 0);
	assert_int_equal(gen, 2);
	assert_int_equal(len, 5);
	assert_memory_equal(set, "AAAAA", 5);
	free(set);
	assert_int_equal(vsn_db_node_set_get(f->db, "edge-3", &gen, &set, &len), 0);
	assert_int_equal(len, 0);
	free(set);

	assert_int_equal(vsn_db_nodes_list(f->db, seen_node, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.names[0], "edge-1");
	assert_string_equal(seen.names[1], "edge-2");
	assert_string_equal(seen.names[2], "edge-3");
	assert_int_equal(seen.gens[1], 1);
	assert_int_equal(seen.lens[0], 5);
	assert_int_equal(seen.lens[1], 4);
}

static void test_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct vsn_db *db = (void *)1;
	char path[160], err[VSN_DB_ERR_LEN] = "";

	snprintf(path, sizeof(path), "%s/new.db", f->dir);
	raw_exec(path, "CREATE TABLE future (x); PRAGMA user_version = 999");
	assert_int_equal(vsn_db_open(path, &db, err), -EPROTO);
	assert_ptr_equal(db, (void *)1);
	assert_non_null(strstr(err, "999"));
	assert_non_null(strstr(err, "newer"));
}

static void write_file(const char *path, const void *data, size_t len, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, at), (ssize_t)len);
	close(fd);
}

static void test_not_a_store(void **state)
{
	struct fixture *f = *state;
	char path[160], err[VSN_DB_ERR_LEN] = "";
	const char text[] = "settings:\n  maglev_size: 65537\n# not a database, but long enough "
			    "to hold a header of one\n";
	struct vsn_db *db = (void *)1;

	snprintf(path, sizeof(path), "%s/text.db", f->dir);
	write_file(path, text, sizeof(text) - 1, 0);
	assert_int_equal(vsn_db_open(path, &db, err), -EBADMSG);
	assert_ptr_equal(db, (void *)1);
	assert_non_null(strstr(err, "not a database"));
	snprintf(path, sizeof(path), "%s/no/such/dir.db", f->dir);
	assert_true(vsn_db_open(path, &db, err) < 0);
	assert_ptr_equal(db, (void *)1);
}

static void test_integrity(void **state)
{
	struct fixture *f = *state;
	char doc[2048], junk[4096];
	uint64_t id;
	int i, r;

	assert_int_equal(vsn_db_integrity_check(f->db), 0);
	memset(doc, 'y', sizeof(doc) - 1);
	doc[sizeof(doc) - 1] = '\0';
	for (i = 0; i < 40; i++)
		assert_int_equal(vsn_db_revision_add(f->db, "ann", "fill", doc, &id), 0);
	assert_int_equal(vsn_db_integrity_check(f->db), 0);
	/* The last close checkpoints the WAL into the file: then break a page of the table. */
	vsn_db_close(f->db);
	f->db = NULL;
	memset(junk, 0xa5, sizeof(junk));
	write_file(f->path, junk, sizeof(junk), 4 * 4096);
	r = vsn_db_open(f->path, &f->db, NULL);
	if (!r)
		r = vsn_db_integrity_check(f->db);
	assert_int_equal(r, -EBADMSG);
}

/*
 * Crash consistency: a child applies in a loop (each apply: generation, revision, ids, node
 * sets, event: one transaction) until SIGKILL at a random moment; then the store must be whole
 * and hold exactly the last committed apply.
 */
#define CRASH_RUNS 20
#define CRASH_KEYS 20
#define CRASH_NODES 3

static size_t crash_set_len(uint64_t gen)
{
	return 4000 + gen % 500;
}

static void crash_child(const char *path)
{
	uint8_t set[4600];
	char doc[64], key[64], node[16], detail[64];
	struct vsn_db *db;
	uint64_t gen, u;
	uint32_t id;
	int k;

	if (vsn_db_open(path, &db, NULL))
		_exit(2);
	for (;;) {
		if (vsn_db_begin(db) || vsn_db_meta_next_u64(db, "generation", &gen))
			_exit(3);
		snprintf(doc, sizeof(doc), "generation %" PRIu64 "\n", gen);
		if (vsn_db_revision_add(db, "crash", "loop", doc, &u))
			_exit(4);
		for (k = 0; k < CRASH_KEYS; k++) {
			snprintf(key, sizeof(key), "s%" PRIu64 "-%d", gen, k);
			if (vsn_db_id_get_or_alloc(db, VSN_DB_ID_SERVICE, key, UINT32_MAX, &id))
				_exit(5);
		}
		for (k = 0; k < CRASH_NODES; k++) {
			snprintf(node, sizeof(node), "node-%d", k);
			memset(set, (uint8_t)(gen + k), crash_set_len(gen));
			if (vsn_db_node_set_put(db, node, gen, set, crash_set_len(gen)))
				_exit(6);
		}
		snprintf(detail, sizeof(detail), "{\"generation\": %" PRIu64 "}", gen);
		if (vsn_db_event_add(db, "apply", doc, detail, &u) || vsn_db_commit(db))
			_exit(7);
	}
}

/* The store holds apply gen whole, and nothing of apply gen + 1. */
static void assert_apply_whole(struct vsn_db *db, uint64_t gen)
{
	struct events_seen seen = {0};
	char key[64], node[16], detail[64];
	uint64_t u, set_gen;
	uint32_t id;
	uint8_t *set;
	size_t len, i;
	int k;

	assert_int_equal(vsn_db_meta_get_u64(db, "generation", &u), 0);
	assert_int_equal(u, gen);
	for (k = 0; k < CRASH_KEYS; k++) {
		snprintf(key, sizeof(key), "s%" PRIu64 "-%d", gen, k);
		assert_int_equal(vsn_db_id_get(db, VSN_DB_ID_SERVICE, key, &id), 0);
		assert_int_equal(id, (gen - 1) * CRASH_KEYS + k + 1);
	}
	snprintf(key, sizeof(key), "s%" PRIu64 "-0", gen + 1);
	assert_int_equal(vsn_db_id_get(db, VSN_DB_ID_SERVICE, key, &id), -ENOENT);
	for (k = 0; k < CRASH_NODES; k++) {
		snprintf(node, sizeof(node), "node-%d", k);
		assert_int_equal(vsn_db_node_set_get(db, node, &set_gen, (void **)&set, &len), 0);
		assert_int_equal(set_gen, gen);
		assert_int_equal(len, crash_set_len(gen));
		for (i = 0; i < len; i++)
			assert_int_equal(set[i], (uint8_t)(gen + k));
		free(set);
	}
	assert_int_equal(vsn_db_events_list(db, gen - 1, 0, seen_event, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.ev[0].id, gen);
	snprintf(detail, sizeof(detail), "{\"generation\": %" PRIu64 "}", gen);
	assert_string_equal(seen.detail[0], detail);
}

static void test_crash_consistency(void **state)
{
	struct fixture *f = *state;
	struct vsn_db_revision *rev;
	uint64_t gen, last = 0;
	char err[VSN_DB_ERR_LEN];
	int run, status, r, advanced = 0;
	pid_t pid;

	vsn_db_close(f->db);
	f->db = NULL;
	srand((unsigned int)getpid());
	for (run = 0; run < CRASH_RUNS; run++) {
		/* From during open and migration (2 ms) to well into the loop (~110 ms). */
		long delay_us = 2000 + run * 5000 + rand() % 5000;

		pid = fork();
		assert_true(pid >= 0);
		if (!pid)
			crash_child(f->path);
		usleep((useconds_t)delay_us);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("run %d: the child ended by itself (status %d)", run, status);

		if (vsn_db_open(f->path, &f->db, err))
			fail_msg("run %d: reopen: %s", run, err);
		r = vsn_db_integrity_check(f->db);
		if (r)
			fail_msg("run %d: %s", run, vsn_db_errmsg(f->db));
		r = vsn_db_revision_latest(f->db, &gen);
		if (r == -ENOENT) {
			assert_int_equal(last, 0);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(vsn_db_revision_get(f->db, gen, &rev), 0);
			assert_int_equal(sscanf(rev->document, "generation %" SCNu64, &gen), 1);
			/* Revision ids and generations advance together, one per apply. */
			assert_int_equal(rev->id, gen);
			free(rev);
			assert_apply_whole(f->db, gen);
			assert_true(gen >= last);
			advanced += gen > last;
			last = gen;
		}
		vsn_db_close(f->db);
		f->db = NULL;
	}
	print_message("crash consistency: %d runs, %d advanced, %" PRIu64 " applies in all\n",
		      CRASH_RUNS, advanced, last);
	assert_true(advanced >= CRASH_RUNS / 4);
}

/*
 * The time to store one apply of 10,000 services: the document, 10,000 service and 20,000
 * policy ids, 100 node sets of 200 KB, the generation and an event, in one transaction. It
 * does not gate (timings never do); it prints.
 */
#define PERF_SERVICES 10000
#define PERF_NODES 100
#define PERF_SET_LEN (200 * 1024)

struct perf {
	double ids_ms, sets_ms, commit_ms, total_ms;
};

static void perf_apply(struct vsn_db *db, const char *doc, uint8_t *set, struct perf *p)
{
	double t0 = mono_ms(), t1, t2, t3;
	uint64_t gen, u;
	char key[64];
	uint32_t id;
	int i;

	assert_int_equal(vsn_db_begin(db), 0);
	assert_int_equal(vsn_db_meta_next_u64(db, "generation", &gen), 0);
	assert_int_equal(vsn_db_revision_add(db, "perf", "10,000 services", doc, &u), 0);
	for (i = 0; i < PERF_SERVICES; i++) {
		snprintf(key, sizeof(key), "svc-%d", i);
		assert_int_equal(vsn_db_id_get_or_alloc(db, VSN_DB_ID_SERVICE, key, 1u << 20, &id),
				 0);
		snprintf(key, sizeof(key), "svc-%d/tcp/80", i);
		assert_int_equal(vsn_db_id_get_or_alloc(db, VSN_DB_ID_POLICY, key, 1u << 20, &id),
				 0);
		snprintf(key, sizeof(key), "svc-%d/tcp/443", i);
		assert_int_equal(vsn_db_id_get_or_alloc(db, VSN_DB_ID_POLICY, key, 1u << 20, &id),
				 0);
	}
	t1 = mono_ms();
	for (i = 0; i < PERF_NODES; i++) {
		snprintf(key, sizeof(key), "edge-%d", i);
		set[0] = (uint8_t)(gen + i);
		assert_int_equal(vsn_db_node_set_put(db, key, gen, set, PERF_SET_LEN), 0);
	}
	assert_int_equal(vsn_db_event_add(db, "apply", "perf", NULL, &u), 0);
	t2 = mono_ms();
	assert_int_equal(vsn_db_commit(db), 0);
	t3 = mono_ms();
	*p = (struct perf){t1 - t0, t2 - t1, t3 - t2, t3 - t0};
}

static void test_apply_timing(void **state)
{
	struct fixture *f = *state;
	size_t size = PERF_SERVICES * 200, off = 0;
	struct perf first, again;
	uint8_t *set;
	char *doc;
	uint32_t id;
	int i;

	doc = malloc(size);
	set = malloc(PERF_SET_LEN);
	assert_non_null(doc);
	assert_non_null(set);
	for (i = 0; i < PERF_SET_LEN; i++)
		set[i] = (uint8_t)(i * 131 + (i >> 8));
	off += (size_t)snprintf(doc, size, "virtual_services:\n");
	for (i = 0; i < PERF_SERVICES; i++)
		off += (size_t)snprintf(doc + off, size - off,
					"  - name: svc-%d\n    vip: 10.%d.%d.1\n"
					"    ports: [tcp/80, tcp/443]\n"
					"    configurations: [{name: n, policies: "
					"[{destination: primary}]}]\n",
					i, i / 256, i % 256);
	assert_true(off < size);

	perf_apply(f->db, doc, set, &first);
	perf_apply(f->db, doc, set, &again);
	assert_int_equal(vsn_db_id_get(f->db, VSN_DB_ID_POLICY, "svc-9999/tcp/443", &id), 0);
	assert_int_equal(id, 2 * PERF_SERVICES);
	print_message("apply of %d services (document %zu KB), new ids: %d ids %.1f ms, "
		      "%d node sets of %d KB %.1f ms, commit %.1f ms, total %.1f ms\n",
		      PERF_SERVICES, off >> 10, 3 * PERF_SERVICES, first.ids_ms, PERF_NODES,
		      PERF_SET_LEN >> 10, first.sets_ms, first.commit_ms, first.total_ms);
	print_message("the same apply again, ids found: ids %.1f ms, node sets %.1f ms, "
		      "commit %.1f ms, total %.1f ms\n",
		      again.ids_ms, again.sets_ms, again.commit_ms, again.total_ms);
	free(set);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revisions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integrity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_consistency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_timing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
