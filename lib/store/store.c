/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vsn_db_* entry points: pick a backend at open, then check arguments and the transaction
 * state once here so that every backend can rely on them (store.h, struct vsn_db_ops).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static const struct {
	const char *scheme; /* with its ':' */
	vsn_db_open_fn open;
} backends[] = {
	{"sqlite:", vsn_db_sqlite_open},
};

int vsn_db_fail(struct vsn_db *db, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
	return r;
}

int vsn_db_open(const char *spec, struct vsn_db **ret_db, char *err)
{
	size_t i;

	if (!spec || !*spec || !ret_db) {
		if (err)
			snprintf(err, VSN_DB_ERR_LEN, "no store given");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		size_t n = strlen(backends[i].scheme);

		if (!strncmp(spec, backends[i].scheme, n))
			return backends[i].open(spec + n, ret_db, err);
	}
	/* A bare path: the default backend. */
	return vsn_db_sqlite_open(spec, ret_db, err);
}

void vsn_db_close(struct vsn_db *db)
{
	if (db)
		db->ops->close(db);
}

const char *vsn_db_errmsg(const struct vsn_db *db)
{
	return db ? db->err : "no store";
}

const char *vsn_db_backend(const struct vsn_db *db)
{
	return db->ops->name;
}

int vsn_db_integrity_check(struct vsn_db *db)
{
	if (!db)
		return -EINVAL;
	return db->ops->integrity_check(db);
}

int vsn_db_begin(struct vsn_db *db)
{
	int r;

	if (!db)
		return -EINVAL;
	if (db->in_tx)
		return vsn_db_fail(db, -EBUSY, "begin: a transaction is open already");
	r = db->ops->begin(db);
	if (!r)
		db->in_tx = true;
	return r;
}

int vsn_db_commit(struct vsn_db *db)
{
	int r;

	if (!db)
		return -EINVAL;
	if (!db->in_tx)
		return vsn_db_fail(db, -EINVAL, "commit: no transaction is open");
	r = db->ops->commit(db);
	if (!r)
		db->in_tx = false;
	return r;
}

int vsn_db_rollback(struct vsn_db *db)
{
	if (!db)
		return -EINVAL;
	if (!db->in_tx)
		return vsn_db_fail(db, -EINVAL, "rollback: no transaction is open");
	db->in_tx = false;
	return db->ops->rollback(db);
}

int vsn_db_revision_add(struct vsn_db *db, const char *author, const char *message,
			const char *document, uint64_t *ret_id)
{
	if (!db || !author || !message || !document || !ret_id)
		return -EINVAL;
	return db->ops->revision_add(db, author, message, document, ret_id);
}

int vsn_db_revision_get(struct vsn_db *db, uint64_t id, struct vsn_db_revision **ret_rev)
{
	if (!db || !ret_rev)
		return -EINVAL;
	return db->ops->revision_get(db, id, ret_rev);
}

int vsn_db_revision_latest(struct vsn_db *db, uint64_t *ret_id)
{
	if (!db || !ret_id)
		return -EINVAL;
	return db->ops->revision_latest(db, ret_id);
}

int vsn_db_revisions_list(struct vsn_db *db, unsigned int limit, vsn_db_revision_cb cb, void *arg)
{
	if (!db || !cb)
		return -EINVAL;
	return db->ops->revisions_list(db, limit, cb, arg);
}

static bool id_args_ok(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key,
		       uint32_t *ret_id)
{
	return db && key && ret_id && (unsigned int)kind < VSN_DB_ID_KINDS;
}

int vsn_db_id_get(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key, uint32_t *ret_id)
{
	if (!id_args_ok(db, kind, key, ret_id))
		return -EINVAL;
	return db->ops->id_get(db, kind, key, ret_id);
}

int vsn_db_id_get_or_alloc(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key,
			   uint32_t limit, uint32_t *ret_id)
{
	if (!id_args_ok(db, kind, key, ret_id))
		return -EINVAL;
	return db->ops->id_get_or_alloc(db, kind, key, limit, ret_id);
}

int vsn_db_node_set_put(struct vsn_db *db, const char *node, uint64_t generation, const void *set,
			size_t len)
{
	if (!db || !node || (!set && len))
		return -EINVAL;
	if (generation > INT64_MAX)
		return vsn_db_fail(db, -ERANGE, "node %s: generation %llu is too large", node,
				   (unsigned long long)generation);
	return db->ops->node_set_put(db, node, generation, set, len);
}

int vsn_db_node_set_get(struct vsn_db *db, const char *node, uint64_t *ret_generation,
			void **ret_set, size_t *ret_len)
{
	if (!db || !node || !ret_generation || !ret_set || !ret_len)
		return -EINVAL;
	return db->ops->node_set_get(db, node, ret_generation, ret_set, ret_len);
}

int vsn_db_nodes_list(struct vsn_db *db, vsn_db_node_cb cb, void *arg)
{
	if (!db || !cb)
		return -EINVAL;
	return db->ops->nodes_list(db, cb, arg);
}

int vsn_db_meta_get_u64(struct vsn_db *db, const char *key, uint64_t *ret_value)
{
	if (!db || !key || !ret_value)
		return -EINVAL;
	return db->ops->meta_get_u64(db, key, ret_value);
}

int vsn_db_meta_set_u64(struct vsn_db *db, const char *key, uint64_t value)
{
	if (!db || !key)
		return -EINVAL;
	if (value > INT64_MAX)
		return vsn_db_fail(db, -ERANGE, "meta %s: %llu is too large", key,
				   (unsigned long long)value);
	return db->ops->meta_set_u64(db, key, value);
}

int vsn_db_meta_get_text(struct vsn_db *db, const char *key, char **ret_text)
{
	if (!db || !key || !ret_text)
		return -EINVAL;
	return db->ops->meta_get_text(db, key, ret_text);
}

int vsn_db_meta_set_text(struct vsn_db *db, const char *key, const char *text)
{
	if (!db || !key || !text)
		return -EINVAL;
	return db->ops->meta_set_text(db, key, text);
}

int vsn_db_meta_next_u64(struct vsn_db *db, const char *key, uint64_t *ret_value)
{
	if (!db || !key || !ret_value)
		return -EINVAL;
	return db->ops->meta_next_u64(db, key, ret_value);
}

int vsn_db_event_add(struct vsn_db *db, const char *type, const char *subject,
		     const char *detail_json, uint64_t *ret_id)
{
	if (!db || !type || !subject || !ret_id)
		return -EINVAL;
	return db->ops->event_add(db, type, subject, detail_json ? detail_json : "{}", ret_id);
}

int vsn_db_events_list(struct vsn_db *db, uint64_t since_id, unsigned int limit, vsn_db_event_cb cb,
		       void *arg)
{
	if (!db || !cb)
		return -EINVAL;
	return db->ops->events_list(db, since_id, limit, cb, arg);
}
