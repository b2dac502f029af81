/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend of libvsnstore: one file, WAL, foreign keys on, PRAGMA user_version as the
 * schema version with migrations in order (docs/controller.md, "Store").
 *
 * Durability: synchronous=FULL. In WAL mode synchronous=NORMAL syncs the WAL only at
 * checkpoints, so a commit already acknowledged can be lost in a power cut (the file stays
 * consistent, the last applies are gone); FULL syncs the WAL at every commit, so an apply the
 * API acknowledged survives one. It costs one fsync per transaction, small next to an apply's
 * compile and push, which is why an apply is one transaction, not one per row.
 *
 * Statements are prepared once per handle (SQLITE_PREPARE_PERSISTENT) and reset after every
 * use, so no statement holds a read transaction open between calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store_internal.h"

/* How long a write waits for another process's write lock before -EBUSY. */
#define BUSY_TIMEOUT_MS 5000

/*
 * Schema versions: migrations[i] takes a file from version i to i + 1, in one transaction.
 * Append only; never edit a released step.
 */
static const char *const migrations[] = {
	/*
	 * v1: the tables of docs/controller.md. AUTOINCREMENT keeps revision and event ids from
	 * being reused should old rows ever be pruned (`vsn events --follow` resumes by id). The
	 * highest id each kind ever had is meta "ids.KIND.last", so that an id outlives its key.
	 */
	"CREATE TABLE revisions ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  created INTEGER NOT NULL,"
	"  author TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  document TEXT NOT NULL);"
	"CREATE TABLE ids ("
	"  kind TEXT NOT NULL CHECK (kind IN ('slb', 'service', 'policy')),"
	"  key TEXT NOT NULL,"
	"  id INTEGER NOT NULL CHECK (id > 0),"
	"  PRIMARY KEY (kind, key),"
	"  UNIQUE (kind, id)) WITHOUT ROWID;"
	"CREATE TABLE nodes ("
	"  name TEXT PRIMARY KEY,"
	"  desired_generation INTEGER NOT NULL CHECK (desired_generation >= 0),"
	"  \"set\" BLOB NOT NULL);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  detail TEXT NOT NULL CHECK (json_valid(detail)));"
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value NOT NULL);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_REV_ADD,
	ST_REV_GET,
	ST_REV_LATEST,
	ST_REV_LIST,
	ST_ID_GET,
	ST_ID_NEXT,
	ST_ID_ADD,
	ST_NODE_PUT,
	ST_NODE_GET,
	ST_NODE_LIST,
	ST_META_GET,
	ST_META_SET,
	ST_EVENT_ADD,
	ST_EVENT_LIST,
	ST_COUNT,
};

static const struct {
	const char *what; /* for error texts */
	const char *sql;
} stmts[ST_COUNT] = {
	[ST_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
	[ST_COMMIT] = {"commit", "COMMIT"},
	[ST_ROLLBACK] = {"rollback", "ROLLBACK"},
	[ST_REV_ADD] = {"add revision", "INSERT INTO revisions (created, author, message, document)"
					" VALUES (?1, ?2, ?3, ?4)"},
	[ST_REV_GET] =
		{"get revision",
		 "SELECT id, created, author, message, document FROM revisions WHERE id = ?1"},
	[ST_REV_LATEST] = {"latest revision", "SELECT id FROM revisions ORDER BY id DESC LIMIT 1"},
	[ST_REV_LIST] = {"list revisions", "SELECT id, created, author, message FROM revisions"
					   " ORDER BY id DESC LIMIT ?1"},
	[ST_ID_GET] = {"get id", "SELECT id FROM ids WHERE kind = ?1 AND key = ?2"},
	[ST_ID_NEXT] = {"next id",
			"SELECT max(coalesce((SELECT max(id) FROM ids WHERE kind = ?1), 0),"
			" coalesce((SELECT value FROM meta WHERE key = ?2), 0)) + 1"},
	[ST_ID_ADD] = {"add id", "INSERT INTO ids (kind, key, id) VALUES (?1, ?2, ?3)"},
	[ST_NODE_PUT] = {"put node set",
			 "INSERT INTO nodes (name, desired_generation, \"set\") VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (name) DO UPDATE SET"
			 " desired_generation = excluded.desired_generation,"
			 " \"set\" = excluded.\"set\""},
	[ST_NODE_GET] = {"get node set",
			 "SELECT desired_generation, \"set\" FROM nodes WHERE name = ?1"},
	[ST_NODE_LIST] = {"list nodes",
			  "SELECT name, desired_generation, \"set\" FROM nodes ORDER BY name"},
	[ST_META_GET] = {"get meta", "SELECT value FROM meta WHERE key = ?1"},
	[ST_META_SET] = {"set meta", "INSERT INTO meta (key, value) VALUES (?1, ?2)"
				     " ON CONFLICT (key) DO UPDATE SET value = excluded.value"},
	[ST_EVENT_ADD] = {"add event", "INSERT INTO events (time, type, subject, detail)"
				       " VALUES (?1, ?2, ?3, ?4)"},
	[ST_EVENT_LIST] = {"list events", "SELECT id, time, type, subject, detail FROM events"
					  " WHERE id > ?1 ORDER BY id LIMIT ?2"},
};

static const char *const kind_names[VSN_DB_ID_KINDS] = {
	[VSN_DB_ID_SLB] = "slb",
	[VSN_DB_ID_SERVICE] = "service",
	[VSN_DB_ID_POLICY] = "policy",
};

struct sdb {
	struct vsn_db base;
	sqlite3 *h;
	sqlite3_stmt *stmt[ST_COUNT];
};

static struct sdb *sdb(struct vsn_db *db)
{
	return (struct sdb *)db;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The errno of an extended SQLite result code. */
static int sq_errno(sqlite3 *h, int rc)
{
	int e;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_CONSTRAINT:
		return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY
			       ? -EEXIST
			       : -EINVAL;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		e = h ? sqlite3_system_errno(h) : 0;
		return e > 0 ? -e : -EIO;
	default:
		return -EIO;
	}
}

/* Record a failed SQLite call; call it before anything else touches the handle's error. */
static int sq_fail(struct sdb *s, int rc, const char *what)
{
	return vsn_db_fail(&s->base, sq_errno(s->h, rc), "%s: %s", what,
			   s->h ? sqlite3_errmsg(s->h) : sqlite3_errstr(rc));
}

static void finish(struct sdb *s, enum stmt id)
{
	sqlite3_reset(s->stmt[id]);
	sqlite3_clear_bindings(s->stmt[id]);
}

/*
 * Prepare statement id (once per handle), bind ?1.. from fmt and step it once: 1 with a row
 * to read (the caller calls finish()), 0 when it has none, or a negative errno (finished
 * both). fmt: 'i' an int64_t, 't' a const char *, 'b' a const void * and a size_t; text and
 * blobs are not copied, they must live until finish().
 */
static int vrun(struct sdb *s, enum stmt id, const char *fmt, va_list ap)
{
	const void *p;
	size_t n;
	int rc = SQLITE_OK, i;

	if (!s->stmt[id]) {
		rc = sqlite3_prepare_v3(s->h, stmts[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmt[id], NULL);
		if (rc != SQLITE_OK)
			return sq_fail(s, rc, stmts[id].what);
	}
	for (i = 0; fmt[i] && rc == SQLITE_OK; i++) {
		switch (fmt[i]) {
		case 'i':
			rc = sqlite3_bind_int64(s->stmt[id], i + 1, va_arg(ap, int64_t));
			break;
		case 't':
			rc = sqlite3_bind_text(s->stmt[id], i + 1, va_arg(ap, const char *), -1,
					       SQLITE_STATIC);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			/* A NULL pointer would bind SQL NULL, not an empty blob. */
			rc = sqlite3_bind_blob64(s->stmt[id], i + 1, n ? p : "", n, SQLITE_STATIC);
			break;
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s->stmt[id]);
	if (rc == SQLITE_ROW)
		return 1;
	rc = rc == SQLITE_DONE ? 0 : sq_fail(s, rc, stmts[id].what);
	finish(s, id);
	return rc;
}

/* Run statement id for its side effect (or only its first row): 0 or a negative errno. */
static int vexec(struct sdb *s, enum stmt id, const char *fmt, va_list ap)
{
	int r = vrun(s, id, fmt, ap);

	if (r > 0)
		finish(s, id);
	return r < 0 ? r : 0;
}

static int exec(struct sdb *s, enum stmt id, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vexec(s, id, fmt, ap);
	va_end(ap);
	return r;
}

/* Run a statement that inserts one row; its rowid. */
static int insert(struct sdb *s, enum stmt id, uint64_t *ret_id, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vexec(s, id, fmt, ap);
	va_end(ap);
	if (!r)
		*ret_id = (uint64_t)sqlite3_last_insert_rowid(s->h);
	return r;
}

/*
 * Run statement id for one row: 0 with the row to read (the caller calls finish()), -ENOENT
 * without one (the caller says what is missing), or another negative errno.
 */
static int one_row(struct sdb *s, enum stmt id, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrun(s, id, fmt, ap);
	va_end(ap);
	return r > 0 ? 0 : r ? r : -ENOENT;
}

/* Give up a transaction, keeping the error text of what made us give up. */
static void abandon(struct sdb *s)
{
	/* Some errors (SQLITE_FULL, IOERR, NOMEM) have rolled it back already. */
	if (!sqlite3_get_autocommit(s->h))
		sqlite3_exec(s->h, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Writes of more than one statement run in the caller's transaction or, outside one, in their
 * own: tx_enter() opens it (*own), tx_leave() commits it when r is 0, else rolls it back.
 */
static int tx_enter(struct sdb *s, bool *own)
{
	*own = !s->base.in_tx;
	return *own ? exec(s, ST_BEGIN, "") : 0;
}

static int tx_leave(struct sdb *s, bool own, int r)
{
	if (!own)
		return r;
	if (!r)
		r = exec(s, ST_COMMIT, "");
	if (r)
		abandon(s);
	return r;
}

static int sq_begin(struct vsn_db *db)
{
	return exec(sdb(db), ST_BEGIN, "");
}

static int sq_commit(struct vsn_db *db)
{
	return exec(sdb(db), ST_COMMIT, "");
}

static int sq_rollback(struct vsn_db *db)
{
	struct sdb *s = sdb(db);

	if (sqlite3_get_autocommit(s->h))
		return 0;
	return exec(s, ST_ROLLBACK, "");
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* A walk's callback and its argument; each walk knows which member it set. */
struct walk {
	union {
		vsn_db_revision_cb rev;
		vsn_db_node_cb node;
		vsn_db_event_cb event;
	} cb;
	void *arg;
};

/* Run statement id and call each for every row it returns (store.h: walk callbacks). */
static int walk(struct sdb *s, enum stmt id, int (*each)(sqlite3_stmt *st, const struct walk *w),
		const struct walk *w, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrun(s, id, fmt, ap);
	va_end(ap);
	while (r > 0) {
		r = each(s->stmt[id], w);
		if (r) {
			finish(s, id);
			break;
		}
		r = sqlite3_step(s->stmt[id]);
		if (r == SQLITE_ROW)
			continue;
		r = r == SQLITE_DONE ? 0 : sq_fail(s, r, stmts[id].what);
		finish(s, id);
	}
	return r < 0 ? r : 0;
}

/* LIMIT's value for a limit of 0 (all). */
static int64_t sql_limit(unsigned int limit)
{
	return limit ? (int64_t)limit : -1;
}

static int sq_revision_add(struct vsn_db *db, const char *author, const char *message,
			   const char *document, uint64_t *ret_id)
{
	return insert(sdb(db), ST_REV_ADD, ret_id, "ittt", now_ms(), author, message, document);
}

/* Copy column col's text to *p and move *p past it and its NUL. */
static const char *take_text(sqlite3_stmt *st, int col, char **p)
{
	const char *t = col_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	char *out = *p;

	memcpy(out, t, n);
	out[n] = '\0';
	*p += n + 1;
	return out;
}

static int sq_revision_get(struct vsn_db *db, uint64_t id, struct vsn_db_revision **ret_rev)
{
	struct sdb *s = sdb(db);
	struct vsn_db_revision *rev;
	sqlite3_stmt *st;
	size_t size = sizeof(*rev);
	char *p;
	int r, col;

	r = id > INT64_MAX ? -ENOENT : one_row(s, ST_REV_GET, "i", (int64_t)id);
	if (r == -ENOENT)
		return vsn_db_fail(db, r, "no revision %llu", (unsigned long long)id);
	if (r)
		return r;
	st = s->stmt[ST_REV_GET];
	for (col = 2; col <= 4; col++) {
		sqlite3_column_text(st, col);
		size += (size_t)sqlite3_column_bytes(st, col) + 1;
	}
	rev = malloc(size);
	if (!rev) {
		r = vsn_db_fail(db, -ENOMEM, "get revision: out of memory");
		goto out;
	}
	p = (char *)(rev + 1);
	rev->id = (uint64_t)sqlite3_column_int64(st, 0);
	rev->created_ms = sqlite3_column_int64(st, 1);
	rev->author = take_text(st, 2, &p);
	rev->message = take_text(st, 3, &p);
	rev->document = take_text(st, 4, &p);
	*ret_rev = rev;
out:
	finish(s, ST_REV_GET);
	return r;
}

static int sq_revision_latest(struct vsn_db *db, uint64_t *ret_id)
{
	struct sdb *s = sdb(db);
	int r;

	r = one_row(s, ST_REV_LATEST, "");
	if (r == -ENOENT)
		return vsn_db_fail(db, r, "no revision yet");
	if (r)
		return r;
	*ret_id = (uint64_t)sqlite3_column_int64(s->stmt[ST_REV_LATEST], 0);
	finish(s, ST_REV_LATEST);
	return 0;
}

static int rev_each(sqlite3_stmt *st, const struct walk *w)
{
	struct vsn_db_revision rev = {
		.id = (uint64_t)sqlite3_column_int64(st, 0),
		.created_ms = sqlite3_column_int64(st, 1),
		.author = col_text(st, 2),
		.message = col_text(st, 3),
	};

	return w->cb.rev(&rev, w->arg);
}

static int sq_revisions_list(struct vsn_db *db, unsigned int limit, vsn_db_revision_cb cb,
			     void *arg)
{
	struct walk w = {.cb.rev = cb, .arg = arg};

	return walk(sdb(db), ST_REV_LIST, rev_each, &w, "i", sql_limit(limit));
}

static int sq_id_get(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key, uint32_t *ret_id)
{
	struct sdb *s = sdb(db);
	int r;

	r = one_row(s, ST_ID_GET, "tt", kind_names[kind], key);
	if (r == -ENOENT)
		return vsn_db_fail(db, r, "no %s id for %s", kind_names[kind], key);
	if (r)
		return r;
	*ret_id = (uint32_t)sqlite3_column_int64(s->stmt[ST_ID_GET], 0);
	finish(s, ST_ID_GET);
	return 0;
}

/* Allocate the next id of kind to key; in a transaction. */
static int id_alloc(struct sdb *s, enum vsn_db_id_kind kind, const char *key, uint32_t limit,
		    uint32_t *ret_id)
{
	char last_key[32];
	int64_t next;
	int r;

	/* The meta key of the highest id kind ever had. */
	snprintf(last_key, sizeof(last_key), "ids.%s.last", kind_names[kind]);
	r = one_row(s, ST_ID_NEXT, "tt", kind_names[kind], last_key);
	if (r)
		return r;
	next = sqlite3_column_int64(s->stmt[ST_ID_NEXT], 0);
	finish(s, ST_ID_NEXT);
	if (next >= (int64_t)limit)
		return vsn_db_fail(&s->base, -ENOSPC, "%s %s: no %s id left below %u",
				   kind_names[kind], key, kind_names[kind], limit);
	r = exec(s, ST_ID_ADD, "tti", kind_names[kind], key, next);
	if (!r)
		r = exec(s, ST_META_SET, "ti", last_key, next);
	if (!r)
		*ret_id = (uint32_t)next;
	return r;
}

static int sq_id_get_or_alloc(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key,
			      uint32_t limit, uint32_t *ret_id)
{
	struct sdb *s = sdb(db);
	uint32_t id;
	bool own;
	int r;

	r = tx_enter(s, &own);
	if (r)
		return r;
	r = sq_id_get(db, kind, key, &id);
	if (!r && id >= limit)
		r = vsn_db_fail(db, -ENOSPC, "%s %s: id %u is not below %u", kind_names[kind], key,
				id, limit);
	else if (r == -ENOENT)
		r = id_alloc(s, kind, key, limit, &id);
	r = tx_leave(s, own, r);
	if (!r)
		*ret_id = id;
	return r;
}

static int sq_node_set_put(struct vsn_db *db, const char *node, uint64_t generation,
			   const void *set, size_t len)
{
	return exec(sdb(db), ST_NODE_PUT, "tib", node, (int64_t)generation, set, len);
}

static int sq_node_set_get(struct vsn_db *db, const char *node, uint64_t *ret_generation,
			   void **ret_set, size_t *ret_len)
{
	struct sdb *s = sdb(db);
	sqlite3_stmt *st;
	void *copy;
	size_t len;
	int r;

	r = one_row(s, ST_NODE_GET, "t", node);
	if (r == -ENOENT)
		return vsn_db_fail(db, r, "no set for node %s", node);
	if (r)
		return r;
	st = s->stmt[ST_NODE_GET];
	len = (size_t)sqlite3_column_bytes(st, 1);
	copy = malloc(len ? len : 1);
	if (!copy) {
		r = vsn_db_fail(db, -ENOMEM, "get node set: out of memory");
		goto out;
	}
	if (len)
		memcpy(copy, sqlite3_column_blob(st, 1), len);
	*ret_generation = (uint64_t)sqlite3_column_int64(st, 0);
	*ret_set = copy;
	*ret_len = len;
out:
	finish(s, ST_NODE_GET);
	return r;
}

static int node_each(sqlite3_stmt *st, const struct walk *w)
{
	const void *set = sqlite3_column_blob(st, 2);

	return w->cb.node(col_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1), set ? set : "",
			  (size_t)sqlite3_column_bytes(st, 2), w->arg);
}

static int sq_nodes_list(struct vsn_db *db, vsn_db_node_cb cb, void *arg)
{
	struct walk w = {.cb.node = cb, .arg = arg};

	return walk(sdb(db), ST_NODE_LIST, node_each, &w, "");
}

/*
 * Meta key's value when it has the SQLite type want: *ret_int, or a malloc'd copy of its text
 * in *ret_text.
 */
static int meta_get(struct sdb *s, const char *key, int want, int64_t *ret_int, char **ret_text)
{
	sqlite3_stmt *st;
	char *text;
	int r;

	r = one_row(s, ST_META_GET, "t", key);
	if (r == -ENOENT)
		return vsn_db_fail(&s->base, r, "no meta %s", key);
	if (r)
		return r;
	st = s->stmt[ST_META_GET];
	if (sqlite3_column_type(st, 0) != want) {
		r = vsn_db_fail(&s->base, -EINVAL, "meta %s is not a %s", key,
				want == SQLITE_INTEGER ? "number" : "text");
	} else if (ret_int) {
		*ret_int = sqlite3_column_int64(st, 0);
	} else {
		text = strdup(col_text(st, 0));
		if (text)
			*ret_text = text;
		else
			r = vsn_db_fail(&s->base, -ENOMEM, "get meta: out of memory");
	}
	finish(s, ST_META_GET);
	return r;
}

static int sq_meta_get_u64(struct vsn_db *db, const char *key, uint64_t *ret_value)
{
	int64_t v;
	int r;

	r = meta_get(sdb(db), key, SQLITE_INTEGER, &v, NULL);
	if (!r && v < 0)
		r = vsn_db_fail(db, -EINVAL, "meta %s is negative", key);
	if (!r)
		*ret_value = (uint64_t)v;
	return r;
}

static int sq_meta_set_u64(struct vsn_db *db, const char *key, uint64_t value)
{
	return exec(sdb(db), ST_META_SET, "ti", key, (int64_t)value);
}

static int sq_meta_get_text(struct vsn_db *db, const char *key, char **ret_text)
{
	return meta_get(sdb(db), key, SQLITE_TEXT, NULL, ret_text);
}

static int sq_meta_set_text(struct vsn_db *db, const char *key, const char *text)
{
	return exec(sdb(db), ST_META_SET, "tt", key, text);
}

static int sq_meta_next_u64(struct vsn_db *db, const char *key, uint64_t *ret_value)
{
	struct sdb *s = sdb(db);
	uint64_t v = 0;
	bool own;
	int r;

	r = tx_enter(s, &own);
	if (r)
		return r;
	r = sq_meta_get_u64(db, key, &v);
	if (r == -ENOENT)
		r = 0;
	if (!r && v >= INT64_MAX)
		r = vsn_db_fail(db, -ERANGE, "meta %s: counter at its end", key);
	if (!r)
		r = sq_meta_set_u64(db, key, v + 1);
	r = tx_leave(s, own, r);
	if (!r)
		*ret_value = v + 1;
	return r;
}

static int sq_event_add(struct vsn_db *db, const char *type, const char *subject,
			const char *detail_json, uint64_t *ret_id)
{
	return insert(sdb(db), ST_EVENT_ADD, ret_id, "ittt", now_ms(), type, subject, detail_json);
}

static int event_each(sqlite3_stmt *st, const struct walk *w)
{
	struct vsn_db_event ev = {
		.id = (uint64_t)sqlite3_column_int64(st, 0),
		.time_ms = sqlite3_column_int64(st, 1),
		.type = col_text(st, 2),
		.subject = col_text(st, 3),
		.detail = col_text(st, 4),
	};

	return w->cb.event(&ev, w->arg);
}

static int sq_events_list(struct vsn_db *db, uint64_t since_id, unsigned int limit,
			  vsn_db_event_cb cb, void *arg)
{
	struct walk w = {.cb.event = cb, .arg = arg};

	if (since_id > INT64_MAX)
		return 0;
	return walk(sdb(db), ST_EVENT_LIST, event_each, &w, "ii", (int64_t)since_id,
		    sql_limit(limit));
}

/* Run a PRAGMA that returns rows: the first row's first column into buf ("" with no row). */
static int pragma(struct sdb *s, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *st;
	int r = 0, rc;

	rc = sqlite3_prepare_v2(s->h, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		snprintf(buf, size, "%s", rc == SQLITE_ROW ? col_text(st, 0) : "");
	else
		r = sq_fail(s, rc, sql);
	sqlite3_finalize(st);
	return r;
}

static int sq_integrity_check(struct vsn_db *db)
{
	struct sdb *s = sdb(db);
	char buf[VSN_DB_ERR_LEN - 32];
	int r;

	r = pragma(s, "PRAGMA integrity_check", buf, sizeof(buf));
	if (!r && strcmp(buf, "ok"))
		r = vsn_db_fail(db, -EBADMSG, "integrity check: %s", buf);
	if (!r)
		r = pragma(s, "PRAGMA foreign_key_check", buf, sizeof(buf));
	if (!r && *buf)
		r = vsn_db_fail(db, -EBADMSG, "foreign key check: table %s", buf);
	return r;
}

static int user_version(struct sdb *s, int *ret_version)
{
	char buf[32];
	int r;

	r = pragma(s, "PRAGMA user_version", buf, sizeof(buf));
	if (!r)
		*ret_version = atoi(buf);
	return r;
}

/* Bring the schema to SCHEMA_VERSION, one migration and one transaction at a time. */
static int migrate(struct sdb *s, const char *path)
{
	char sql[64];
	int version, r, rc;

	for (;;) {
		r = user_version(s, &version);
		if (r)
			return r;
		if (version < 0 || version > SCHEMA_VERSION)
			return vsn_db_fail(
				&s->base, -EPROTO,
				"%s has schema version %d; this program knows versions up"
				" to %d: a newer vsnd wrote it",
				path, version, SCHEMA_VERSION);
		if (version == SCHEMA_VERSION)
			return 0;
		r = exec(s, ST_BEGIN, "");
		if (r)
			return r;
		/* Read it again under the write lock: another process may have migrated. */
		r = user_version(s, &version);
		if (!r && version >= 0 && version < SCHEMA_VERSION) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
			rc = sqlite3_exec(s->h, migrations[version], NULL, NULL, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_exec(s->h, sql, NULL, NULL, NULL);
			if (rc != SQLITE_OK)
				r = sq_fail(s, rc, "migrate");
		}
		if (!r)
			r = exec(s, ST_COMMIT, "");
		if (r) {
			abandon(s);
			return r;
		}
	}
}

static int configure(struct sdb *s, const char *path)
{
	char mode[16];
	int r, rc;

	sqlite3_extended_result_codes(s->h, 1);
	sqlite3_busy_timeout(s->h, BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(s->h, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", NULL, NULL,
			  NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, rc, path);
	/* The first statement that reads the file: a file that is not a db fails here. */
	r = pragma(s, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (r)
		return r;
	/* ":memory:" (for tests of the store's users) has no WAL. */
	if (strcmp(mode, "wal") && strcmp(path, ":memory:"))
		return vsn_db_fail(&s->base, -EOPNOTSUPP, "%s: cannot use WAL (journal mode %s)",
				   path, mode);
	return migrate(s, path);
}

static void sq_close(struct vsn_db *db)
{
	struct sdb *s = sdb(db);
	int i;

	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* An open transaction is rolled back. */
	sqlite3_close(s->h);
	free(s);
}

static const struct vsn_db_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.integrity_check = sq_integrity_check,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.revision_add = sq_revision_add,
	.revision_get = sq_revision_get,
	.revision_latest = sq_revision_latest,
	.revisions_list = sq_revisions_list,
	.id_get = sq_id_get,
	.id_get_or_alloc = sq_id_get_or_alloc,
	.node_set_put = sq_node_set_put,
	.node_set_get = sq_node_set_get,
	.nodes_list = sq_nodes_list,
	.meta_get_u64 = sq_meta_get_u64,
	.meta_set_u64 = sq_meta_set_u64,
	.meta_get_text = sq_meta_get_text,
	.meta_set_text = sq_meta_set_text,
	.meta_next_u64 = sq_meta_next_u64,
	.event_add = sq_event_add,
	.events_list = sq_events_list,
};

int vsn_db_sqlite_open(const char *path, struct vsn_db **ret_db, char *err)
{
	struct sdb *s;
	int r, rc;

	s = calloc(1, sizeof(*s));
	if (!s) {
		if (err)
			snprintf(err, VSN_DB_ERR_LEN, "%s: out of memory", path);
		return -ENOMEM;
	}
	s->base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &s->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	r = rc == SQLITE_OK ? configure(s, path) : sq_fail(s, rc, path);
	if (r) {
		if (err)
			snprintf(err, VSN_DB_ERR_LEN, "%s", s->base.err);
		sq_close(&s->base);
		return r;
	}
	*ret_db = &s->base;
	return 0;
}
