/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsntls: the operator's small CA, the certificates it issues to the controller and the nodes,
 * and the TLS contexts both sides use for mutual TLS (OpenSSL 3). docs/certificates.md is the
 * operator's guide.
 *
 * A CA directory holds ca.key (0600) and ca.crt. Issuing NAME writes NAME.key (0600) and NAME.crt
 * into the output directory, and ca.crt beside them when it is not there yet. Every file is
 * written atomically (temporary file, fsync, rename), so a reader sees the old file or the new one.
 *
 * A certificate's role (controller or node) is its subject's OU; its name is its CN, also its
 * first DNS subject alternative name. Each side of a connection accepts only the other role.
 *
 * Every function returns 0 or a negative errno and, when err is not NULL, leaves a sentence
 * saying what went wrong in err->msg for the caller to log (the library logs nothing).
 */
#ifndef VSN_TLS_H
#define VSN_TLS_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/ssl.h>

enum vsn_tls_role {
	VSN_TLS_CONTROLLER = 1,
	VSN_TLS_NODE = 2,
};

struct vsn_tls_err {
	char msg[256];
};

#define VSN_CA_KEY "ca.key"
#define VSN_CA_CERT "ca.crt"
#define VSN_CA_DEFAULT_NAME "vsn-ca"
#define VSN_CA_DEFAULT_DAYS 3650
#define VSN_CERT_DEFAULT_DAYS 365
#define VSN_CERT_MAX_DAYS 36500
/* A DNS name: at most 253 characters. */
#define VSN_TLS_NAME_MAX 253

/* "controller", "node", or NULL. */
const char *vsn_tls_role_name(enum vsn_tls_role role);

/* 0 when s is a DNS name (labels of letters, digits and inner hyphens, 1 to 63 long, joined by
 * dots, 253 at most), else -EINVAL. Certificate names must be; they also name the files. */
int vsn_tls_name_valid(const char *s);

/*
 * Create a CA in dir (made, 0700, when missing): an EC P-256 key and a self-signed certificate
 * (CN=name, CA:TRUE, keyCertSign and cRLSign) valid for days days. -EEXIST, with nothing
 * written, when dir already holds ca.key or ca.crt: a CA is never overwritten.
 */
int vsn_ca_create(const char *dir, const char *name, unsigned int days, struct vsn_tls_err *err);

struct vsn_cert_opts {
	size_t sz; /* sizeof(struct vsn_cert_opts), so the struct can grow */
	enum vsn_tls_role role;
	const char *name; /* a DNS name: the CN, the first SAN, the file names */
	unsigned int days;
	const char *const *dns; /* more DNS names for the SAN */
	size_t n_dns;
	const char *const *ips; /* IPv4 or IPv6 addresses for the SAN */
	size_t n_ips;
};

/*
 * Issue a certificate for o->name with the CA in ca_dir: a new EC P-256 key, the certificate
 * (random 128-bit serial, CA:FALSE, digitalSignature, serverAuth and clientAuth, SAN DNS:name
 * plus o->dns and o->ips) into out_dir (made, 0700, when missing) as NAME.key and NAME.crt,
 * replacing earlier ones (that is how a certificate is renewed), and ca.crt when out_dir has
 * none. -EINVAL for a bad name, address or number of days; -EEXIST when out_dir holds a ca.crt
 * of another CA (nothing is written then).
 */
int vsn_cert_issue(const char *ca_dir, const char *out_dir, const struct vsn_cert_opts *o,
		   struct vsn_tls_err *err);

/* Describe the PEM certificate in file on out: subject, role, names, issuer, validity, serial. */
int vsn_cert_show(const char *file, FILE *out, struct vsn_tls_err *err);

/*
 * A TLS 1.3-only context for role's side of a connection: it presents cert_file (which must be
 * a role certificate) with key_file, and requires the peer to present a certificate that
 * verifies against ca_file and has the other role (a controller accepts nodes, a node accepts
 * the controller). The caller frees *ret_ctx with SSL_CTX_free.
 */
int vsn_tls_ctx_new(enum vsn_tls_role role, const char *ca_file, const char *cert_file,
		    const char *key_file, SSL_CTX **ret_ctx, struct vsn_tls_err *err);

/* The verified peer's name (its certificate's CN) after a handshake: 0, -ENOTCONN when there is
 * no verified peer, -ENAMETOOLONG when it does not fit in sz. In TLS 1.3 a client's handshake
 * ends before the server has judged the client's certificate: a client trusts the name only once
 * the server's first data has arrived. */
int vsn_tls_peer_name(const SSL *ssl, char *buf, size_t sz);

#endif /* VSN_TLS_H */
