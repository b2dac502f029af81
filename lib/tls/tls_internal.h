/* SPDX-License-Identifier: Apache-2.0 */
/* What the files of libvsntls share; not for its users. */
#ifndef VSN_TLS_INTERNAL_H
#define VSN_TLS_INTERNAL_H

#include <openssl/x509.h>

#include "vsn_tls.h"

/* Fill err (when not NULL) with the message and the first queued OpenSSL error, which it
 * clears; returns r. */
int tls_fail(struct vsn_tls_err *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A PEM private key file: 0, -errno of opening it, or -EINVAL. */
int tls_key_read(const char *file, EVP_PKEY **ret_key);
/* "ca", "controller", "node", or NULL when vsn did not issue x. */
const char *tls_cert_role(X509 *x);
/* x's CN into buf: 0, -ENOENT, -ENAMETOOLONG. */
int tls_cert_cn(X509 *x, char *buf, size_t sz);

#endif /* VSN_TLS_INTERNAL_H */
