/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnstore: the controller's store (docs/controller.md, "Store"): revisions of the
 * desired-state document, the allocated SLB, service and policy ids, each node's last desired
 * set and generation, events, and a few meta values such as the generation counter.
 *
 * Callers use the vsn_db_* functions below; each dispatches through the backend's
 * struct vsn_db_ops, so another backend (etcd) is one more vtable and one more row in
 * vsn_db_open()'s table, and no caller changes. SQLite is the default backend (sqlite.c).
 *
 * Include it as "store/store.h": lib/node has a store.h of its own.
 *
 * Transactions: vsn_db_begin() .. vsn_db_commit() makes every write in between one atomic,
 * durable unit (an apply: revision, ids, node sets, generation counter, event: all or
 * nothing); vsn_db_rollback() drops them. They do not nest. A write outside a transaction is
 * a transaction of its own. After any failure inside a transaction (a commit's included) the
 * caller calls vsn_db_rollback(). A db handle is used by one thread at a time.
 *
 * Every function returns 0 or a negative errno; ret_* outputs are untouched on failure. The
 * library does not log: a failure's text is vsn_db_errmsg() (vsn_db_open(): its err buffer).
 * Common errors: -EINVAL (a NULL argument, a bad kind, a value the schema refuses), -ENOENT
 * (no such revision, node, meta key), -EBUSY (another process holds the write lock beyond
 * the busy timeout; vsn_db_begin() inside a transaction), -ENOMEM, -EBADMSG (a corrupt
 * file), -EIO or the errno of a failed system call.
 */
#ifndef VSN_STORE_STORE_H
#define VSN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The size of vsn_db_open()'s err buffer and of the text behind vsn_db_errmsg(). */
#define VSN_DB_ERR_LEN 256

/* The kinds of allocated ids; each kind has its own sequence from 1. */
enum vsn_db_id_kind {
	VSN_DB_ID_SLB,	   /* key: SLB name and forward */
	VSN_DB_ID_SERVICE, /* key: service name */
	VSN_DB_ID_POLICY,  /* key: service, protocol and port */
	VSN_DB_ID_KINDS,
};

struct vsn_db_revision {
	uint64_t id;	    /* from 1, in the order revisions were added, never reused */
	int64_t created_ms; /* unix time in milliseconds */
	const char *author;
	const char *message;
	const char *document; /* NULL in vsn_db_revisions_list() */
};

struct vsn_db_event {
	uint64_t id; /* from 1, ascending, never reused */
	int64_t time_ms;
	const char *type;
	const char *subject;
	const char *detail; /* JSON text */
};

/*
 * Walk callbacks: the pointers they get are valid during the call only. Return 0 to go on; a
 * negative errno stops the walk and is what the walk returns; a positive value stops it and
 * the walk returns 0. They must not call the db.
 */
typedef int (*vsn_db_revision_cb)(const struct vsn_db_revision *rev, void *arg);
typedef int (*vsn_db_node_cb)(const char *node, uint64_t generation, const void *set, size_t len,
			      void *arg);
typedef int (*vsn_db_event_cb)(const struct vsn_db_event *ev, void *arg);

/* A db handle: a backend's, opaque to callers. */
struct vsn_db;

/*
 * A backend. The vsn_db_* wrappers check arguments and the transaction state before they call
 * these, so a backend sees non-NULL pointers, a valid kind, begin only outside a transaction
 * and commit and rollback only inside one. Each member has the contract of its wrapper below.
 */
struct vsn_db_ops {
	const char *name;
	void (*close)(struct vsn_db *db);
	int (*integrity_check)(struct vsn_db *db);

	int (*begin)(struct vsn_db *db);
	int (*commit)(struct vsn_db *db);
	int (*rollback)(struct vsn_db *db);

	int (*revision_add)(struct vsn_db *db, const char *author, const char *message,
			    const char *document, uint64_t *ret_id);
	int (*revision_get)(struct vsn_db *db, uint64_t id, struct vsn_db_revision **ret_rev);
	int (*revision_latest)(struct vsn_db *db, uint64_t *ret_id);
	int (*revisions_list)(struct vsn_db *db, unsigned int limit, vsn_db_revision_cb cb,
			      void *arg);

	int (*id_get)(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key,
		      uint32_t *ret_id);
	int (*id_get_or_alloc)(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key,
			       uint32_t limit, uint32_t *ret_id);

	int (*node_set_put)(struct vsn_db *db, const char *node, uint64_t generation,
			    const void *set, size_t len);
	int (*node_set_get)(struct vsn_db *db, const char *node, uint64_t *ret_generation,
			    void **ret_set, size_t *ret_len);
	int (*nodes_list)(struct vsn_db *db, vsn_db_node_cb cb, void *arg);

	int (*meta_get_u64)(struct vsn_db *db, const char *key, uint64_t *ret_value);
	int (*meta_set_u64)(struct vsn_db *db, const char *key, uint64_t value);
	int (*meta_get_text)(struct vsn_db *db, const char *key, char **ret_text);
	int (*meta_set_text)(struct vsn_db *db, const char *key, const char *text);
	int (*meta_next_u64)(struct vsn_db *db, const char *key, uint64_t *ret_value);

	int (*event_add)(struct vsn_db *db, const char *type, const char *subject,
			 const char *detail_json, uint64_t *ret_id);
	int (*events_list)(struct vsn_db *db, uint64_t since_id, unsigned int limit,
			   vsn_db_event_cb cb, void *arg);
};

/*
 * Open (creating it when missing) the store named by spec: a path of a SQLite file, or
 * "sqlite:PATH". The schema is migrated to the newest version this code knows, each step in
 * one transaction. A file of a newer schema version than this code knows is -EPROTO; a file
 * that is not a store is -EBADMSG. On failure err (VSN_DB_ERR_LEN bytes, may be NULL) says why.
 */
int vsn_db_open(const char *spec, struct vsn_db **ret_db, char *err);
/* Close db, rolling back a transaction left open. NULL is ignored. */
void vsn_db_close(struct vsn_db *db);
/* The text of db's last failure ("" before any). Valid until the next call on db. */
const char *vsn_db_errmsg(const struct vsn_db *db);
/* The backend's name: "sqlite". */
const char *vsn_db_backend(const struct vsn_db *db);
/*
 * Check the whole store for corruption (SQLite: PRAGMA integrity_check and
 * foreign_key_check): 0, or -EBADMSG with the first problem in vsn_db_errmsg().
 */
int vsn_db_integrity_check(struct vsn_db *db);

/* -EBUSY inside a transaction already. */
int vsn_db_begin(struct vsn_db *db);
/* -EINVAL outside a transaction. On failure the transaction stays open: roll it back. */
int vsn_db_commit(struct vsn_db *db);
/* -EINVAL outside a transaction. The transaction is over whatever it returns. */
int vsn_db_rollback(struct vsn_db *db);

/* Add a revision created now. author and message may be "", not NULL. */
int vsn_db_revision_add(struct vsn_db *db, const char *author, const char *message,
			const char *document, uint64_t *ret_id);
/* Revision id with its document, in one allocation: free it with free(). -ENOENT. */
int vsn_db_revision_get(struct vsn_db *db, uint64_t id, struct vsn_db_revision **ret_rev);
/* The newest revision's id; -ENOENT when there is none. */
int vsn_db_revision_latest(struct vsn_db *db, uint64_t *ret_id);
/* The newest limit revisions (0: all), newest first, without their documents. */
int vsn_db_revisions_list(struct vsn_db *db, unsigned int limit, vsn_db_revision_cb cb, void *arg);

/* The id of (kind, key) if it has one; -ENOENT if not. Allocates nothing. */
int vsn_db_id_get(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key, uint32_t *ret_id);
/*
 * The id of (kind, key), allocating one the first time: one above the highest id this kind
 * has ever had (so from 1, and never an id used before, even one whose key is gone). Ids must
 * stay below limit (the nodes' capacity): -ENOSPC when the new id, or the key's existing one,
 * would be >= limit. Call it inside the apply's transaction to allocate all of an apply's ids
 * at once.
 */
int vsn_db_id_get_or_alloc(struct vsn_db *db, enum vsn_db_id_kind kind, const char *key,
			   uint32_t limit, uint32_t *ret_id);

/*
 * Store node's desired set (len serialized bytes, len may be 0) and its generation, replacing
 * what it had. A generation above INT64_MAX is -ERANGE.
 */
int vsn_db_node_set_put(struct vsn_db *db, const char *node, uint64_t generation, const void *set,
			size_t len);
/* Node's set, malloc'd (free() it), its length and generation; -ENOENT. */
int vsn_db_node_set_get(struct vsn_db *db, const char *node, uint64_t *ret_generation,
			void **ret_set, size_t *ret_len);
/* Every node with a stored set, in order of name. */
int vsn_db_nodes_list(struct vsn_db *db, vsn_db_node_cb cb, void *arg);

/*
 * Meta values: a key holds a number or a text. Getting a key of the other type is -EINVAL, a
 * missing key -ENOENT; a number above INT64_MAX is -ERANGE.
 */
int vsn_db_meta_get_u64(struct vsn_db *db, const char *key, uint64_t *ret_value);
int vsn_db_meta_set_u64(struct vsn_db *db, const char *key, uint64_t value);
/* The text is malloc'd: free() it. */
int vsn_db_meta_get_text(struct vsn_db *db, const char *key, char **ret_text);
int vsn_db_meta_set_text(struct vsn_db *db, const char *key, const char *text);
/*
 * Add one to the number key holds (a missing key holds 0) and return the new value, as one
 * atomic step (of the caller's transaction, if any): the generation counter.
 */
int vsn_db_meta_next_u64(struct vsn_db *db, const char *key, uint64_t *ret_value);

/* Record an event now. detail_json must be valid JSON (-EINVAL); NULL means "{}". */
int vsn_db_event_add(struct vsn_db *db, const char *type, const char *subject,
		     const char *detail_json, uint64_t *ret_id);
/* The events with an id above since_id, ascending, at most limit of them (0: all). */
int vsn_db_events_list(struct vsn_db *db, uint64_t since_id, unsigned int limit, vsn_db_event_cb cb,
		       void *arg);

#endif
