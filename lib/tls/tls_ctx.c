/* SPDX-License-Identifier: Apache-2.0 */
/* TLS contexts for mutual TLS between the controller and the nodes (vsn_tls.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"
#include "vsn_tls.h"

/* The SSL_CTX ex_data slot holding the role the peer must have. */
static int peer_role_idx = -1;
static pthread_once_t peer_role_once = PTHREAD_ONCE_INIT;

static void peer_role_idx_init(void)
{
	peer_role_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/*
 * After OpenSSL's own checks of each certificate of the chain, the peer's (depth 0) must carry
 * the role this side expects: a node certificate cannot pose as the controller, nor connect to
 * another node.
 */
static int verify_role(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *x = X509_STORE_CTX_get_current_cert(store);
	const char *want, *have;

	if (!ok || X509_STORE_CTX_get_error_depth(store) != 0)
		return ok;
	want = vsn_tls_role_name((enum vsn_tls_role)(intptr_t)SSL_CTX_get_ex_data(
		SSL_get_SSL_CTX(ssl), peer_role_idx));
	have = x ? tls_cert_role(x) : NULL;
	if (!want || !have || strcmp(want, have)) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static int readable(const char *what, const char *file, struct vsn_tls_err *err)
{
	if (!file)
		return tls_fail(err, -EINVAL, "no %s file", what);
	if (access(file, R_OK))
		return tls_fail(err, -errno, "cannot read the %s file %s: %s", what, file,
				strerror(errno));
	return 0;
}

int vsn_tls_ctx_new(enum vsn_tls_role role, const char *ca_file, const char *cert_file,
		    const char *key_file, SSL_CTX **ret_ctx, struct vsn_tls_err *err)
{
	enum vsn_tls_role peer = role == VSN_TLS_CONTROLLER ? VSN_TLS_NODE : VSN_TLS_CONTROLLER;
	EVP_PKEY *key = NULL;
	const char *have;
	SSL_CTX *ctx;
	int r;

	if (!vsn_tls_role_name(role))
		return tls_fail(err, -EINVAL, "no role (controller or node)");
	if ((r = readable("CA certificate", ca_file, err)) ||
	    (r = readable("certificate", cert_file, err)) || (r = readable("key", key_file, err)))
		return r;
	pthread_once(&peer_role_once, peer_role_idx_init);
	if (peer_role_idx < 0)
		return tls_fail(err, -ENOMEM, "no SSL_CTX ex_data index");
	ctx = SSL_CTX_new(TLS_method());
	if (!ctx)
		return tls_fail(err, -ENOMEM, "cannot make a TLS context");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ex_data(ctx, peer_role_idx, (void *)(intptr_t)peer)) {
		r = tls_fail(err, -ENOMEM, "cannot set up the TLS context");
		goto out;
	}
	if (!SSL_CTX_load_verify_locations(ctx, ca_file, NULL)) {
		r = tls_fail(err, -EINVAL, "%s holds no CA certificate", ca_file);
		goto out;
	}
	if (role == VSN_TLS_CONTROLLER) {
		/* Tells the nodes which CA's certificate to present. */
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca_file);

		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		r = tls_fail(err, -EINVAL, "%s holds no usable certificate", cert_file);
		goto out;
	}
	have = tls_cert_role(SSL_CTX_get0_certificate(ctx));
	if (!have || strcmp(have, vsn_tls_role_name(role))) {
		r = tls_fail(err, -EINVAL, "%s is %s%s certificate, not a %s one", cert_file,
			     have ? "a " : "not a vsn", have ? have : "", vsn_tls_role_name(role));
		goto out;
	}
	r = tls_key_read(key_file, &key);
	if (r) {
		tls_fail(err, r, "%s holds no private key", key_file);
		goto out;
	}
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1) {
		r = tls_fail(err, -EINVAL, "%s is not the key of %s", key_file, cert_file);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		r = tls_fail(err, -EINVAL, "%s holds no usable private key", key_file);
		goto out;
	}
	EVP_PKEY_free(key); /* the context holds its own reference */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_role);
	*ret_ctx = ctx;
	return 0;
out:
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return r;
}

int vsn_tls_peer_name(const SSL *ssl, char *buf, size_t sz)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	int r;

	if (!x || SSL_get_verify_result(ssl) != X509_V_OK)
		return -ENOTCONN;
	r = tls_cert_cn(x, buf, sz);
	return r == -ENOENT ? -ENOTCONN : r;
}
