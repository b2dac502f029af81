/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the unit tests that need certificates share: a temporary directory
 * holding CAs and issued certificates, paths in it, and its removal.
 * Header-only (static inline): each test is one translation unit.
 */
#ifndef VSN_TEST_CERT_DIR_H
#define VSN_TEST_CERT_DIR_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "vsn_tls.h"

/* dir/rel, in one of eight rotating buffers (enough for one call's arguments). */
static inline char *cert_path(const char *dir, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int n;
	char *b = bufs[n++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", dir, rel);
	return b;
}

/* Issue a role certificate for name from the CA in dir/ca into dir/out (one day). */
static inline void cert_issue(const char *dir, const char *ca, const char *out,
			      enum vsn_tls_role role, const char *name)
{
	struct vsn_cert_opts o = {.sz = sizeof(o), .role = role, .name = name, .days = 1};
	struct vsn_tls_err err = {""};

	assert_int_equal(vsn_cert_issue(cert_path(dir, ca), cert_path(dir, out), &o, &err), 0);
}

static inline int cert_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Remove dir and everything in it. */
static inline void cert_dir_remove(const char *dir)
{
	nftw(dir, cert_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* VSN_TEST_CERT_DIR_H */
