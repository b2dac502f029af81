/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What backends share with the vsn_db_* wrappers (store.c): the handle's common part, which
 * a backend's handle embeds as its first member, and the backends' open functions.
 */
#ifndef VSN_STORE_INTERNAL_H
#define VSN_STORE_INTERNAL_H

#include <stdbool.h>

#include "store.h"

struct vsn_db {
	const struct vsn_db_ops *ops;
	/* Between a successful begin and its commit or rollback; kept by the wrappers. */
	bool in_tx;
	char err[VSN_DB_ERR_LEN];
};

/* Format db's error text; returns r so that a failure path reads `return db_fail(db, r, ...)`. */
int vsn_db_fail(struct vsn_db *db, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A backend's open: location is the spec without its "scheme:" prefix. */
typedef int (*vsn_db_open_fn)(const char *location, struct vsn_db **ret_db, char *err);

int vsn_db_sqlite_open(const char *path, struct vsn_db **ret_db, char *err);

#endif
