/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsntls: a CA and certificates made in a temporary directory, checked with OpenSSL's own
 * verification; then real mutual-TLS handshakes over a socketpair between a controller context
 * and a node context, including the refusals: a certificate of another CA, none at all, and a
 * peer of the wrong role.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "vsn_tls.h"
#include "cert_dir.h"

struct env {
	char dir[64];
};

static char *path(const struct env *e, const char *rel)
{
	return cert_path(e->dir, rel);
}

static X509 *cert_load(const char *file)
{
	FILE *f = fopen(file, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static void issue(const struct env *e, const char *ca, const char *out, enum vsn_tls_role role,
		  const char *name)
{
	cert_issue(e->dir, ca, out, role, name);
}

/* CA "ca" with controller "vsnd" in ctl/ and node "node1" in n1/; CA "other" with node "node1"
 * in other-n1/ and controller "vsnd" in other-ctl/. */
static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vsn_tls_err err = {""};

	strcpy(e->dir, "/tmp/vsn-test-tls.XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	assert_int_equal(vsn_ca_create(path(e, "ca"), "test CA", 2, &err), 0);
	assert_int_equal(vsn_ca_create(path(e, "other"), NULL, 2, &err), 0);
	issue(e, "ca", "ctl", VSN_TLS_CONTROLLER, "vsnd");
	issue(e, "ca", "n1", VSN_TLS_NODE, "node1");
	issue(e, "other", "other-n1", VSN_TLS_NODE, "node1");
	issue(e, "other", "other-ctl", VSN_TLS_CONTROLLER, "vsnd");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	cert_dir_remove(e->dir);
	free(e);
	return 0;
}

static int verify_chain(const char *ca_file, const char *cert_file)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *ca = cert_load(ca_file), *x = cert_load(cert_file);
	int ok;

	X509_STORE_add_cert(store, ca);
	X509_STORE_CTX_init(ctx, store, x, NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(x);
	return ok;
}

static void ca_is_a_ca(void **state)
{
	struct env *e = *state;
	X509 *ca = cert_load(path(e, "ca/ca.crt"));
	char cn[64];
	int i;

	assert_int_equal(X509_check_ca(ca), 1);
	i = X509_get_ext_by_NID(ca, NID_basic_constraints, -1);
	assert_true(i >= 0);
	assert_true(X509_EXTENSION_get_critical(X509_get_ext(ca, i)));
	assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "test CA");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(ca)), 0);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(ca)), EVP_PKEY_EC);
	X509_free(ca);
}

static void certs_verify_with_their_ca_only(void **state)
{
	struct env *e = *state;

	assert_int_equal(verify_chain(path(e, "ca/ca.crt"), path(e, "ctl/vsnd.crt")), 1);
	assert_int_equal(verify_chain(path(e, "ca/ca.crt"), path(e, "n1/node1.crt")), 1);
	assert_int_equal(verify_chain(path(e, "ca/ca.crt"), path(e, "other-n1/node1.crt")), 0);
	assert_int_equal(verify_chain(path(e, "other/ca.crt"), path(e, "n1/node1.crt")), 0);
}

static void cert_has_names_usages_and_serial(void **state)
{
	struct env *e = *state;
	const char *dns[] = {"vsnd.example.net", "controller"};
	const char *ips[] = {"192.0.2.1", "2001:db8::1"};
	struct vsn_cert_opts o = {.sz = sizeof(o),
				  .role = VSN_TLS_CONTROLLER,
				  .name = "vsnd-2",
				  .days = 30,
				  .dns = dns,
				  .n_dns = 2,
				  .ips = ips,
				  .n_ips = 2};
	struct vsn_tls_err err = {""};
	char cn[64], ou[64];
	BIGNUM *serial;
	X509 *x;

	assert_int_equal(vsn_cert_issue(path(e, "ca"), path(e, "ctl"), &o, &err), 0);
	x = cert_load(path(e, "ctl/vsnd-2.crt"));
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationalUnitName, ou,
				  sizeof(ou));
	assert_string_equal(cn, "vsnd-2");
	assert_string_equal(ou, "controller");
	assert_int_equal(X509_check_host(x, "vsnd-2", 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL), 1);
	assert_int_equal(X509_check_host(x, "vsnd.example.net", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "controller", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "node1", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "2001:db8::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.2", 0), 0);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_true(BN_num_bits(serial) >= 120 && BN_num_bits(serial) <= 128);
	assert_false(BN_is_negative(serial));
	BN_free(serial);
	X509_free(x);
	assert_int_equal(verify_chain(path(e, "ca/ca.crt"), path(e, "ctl/vsnd-2.crt")), 1);
}

static void serials_differ(void **state)
{
	struct env *e = *state;
	X509 *a = cert_load(path(e, "ctl/vsnd.crt")), *b = cert_load(path(e, "n1/node1.crt"));

	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)),
			     0);
	X509_free(a);
	X509_free(b);
}

static void keys_are_private(void **state)
{
	struct env *e = *state;
	const char *keys[] = {"ca/ca.key", "ctl/vsnd.key", "n1/node1.key"};
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(stat(path(e, keys[i]), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
	}
	assert_int_equal(stat(path(e, "n1/node1.crt"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* ca.crt was copied beside the node's files: the node needs nothing else. */
	assert_int_equal(stat(path(e, "n1/ca.crt"), &st), 0);
}

static void no_temporary_files_left(void **state)
{
	struct env *e = *state;
	char cmd[PATH_MAX + 64];
	FILE *p;
	int c;

	snprintf(cmd, sizeof(cmd), "find %s -name '.*' -type f", e->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	c = fgetc(p);
	pclose(p);
	assert_int_equal(c, EOF);
}

static char *slurp(const char *file)
{
	static char buf[8192];
	FILE *f = fopen(file, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strdup(buf);
}

static void existing_ca_is_not_overwritten(void **state)
{
	struct env *e = *state;
	struct vsn_tls_err err = {""};
	char *key = slurp(path(e, "ca/ca.key")), *crt = slurp(path(e, "ca/ca.crt")), *now;

	assert_int_equal(vsn_ca_create(path(e, "ca"), "again", 2, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "never overwritten"));
	now = slurp(path(e, "ca/ca.key"));
	assert_string_equal(now, key);
	free(now);
	now = slurp(path(e, "ca/ca.crt"));
	assert_string_equal(now, crt);
	free(now);
	free(key);
	free(crt);
	/* Half a CA (a key alone) is refused as well, and not completed. */
	assert_int_equal(mkdir(path(e, "half"), 0700), 0);
	fclose(fopen(path(e, "half/ca.key"), "w"));
	assert_int_equal(vsn_ca_create(path(e, "half"), NULL, 2, &err), -EEXIST);
	assert_int_equal(access(path(e, "half/ca.crt"), F_OK), -1);
}

static void bad_names_and_values_are_refused(void **state)
{
	struct env *e = *state;
	char long_label[80], long_name[300];
	const char *bad[] = {"",    "-a",   "a-",  "a..b", ".a",       "a.",	  "a_b",
			     "a/b", "../x", "a b", "nöd",  long_label, long_name, NULL};
	const char *good[] = {"a", "node-1", "n1.dc-2.example.net", "A9", NULL};
	const char *bad_ip[] = {"192.0.2"};
	const char *bad_dns[] = {"*.example.net"};
	struct vsn_cert_opts o = {.sz = sizeof(o), .role = VSN_TLS_NODE, .days = 1};
	struct vsn_tls_err err = {""};

	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	for (int i = 0; i < 254; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[253] = 'a';
	long_name[254] = '\0';
	for (int i = 0; bad[i]; i++) {
		o.name = bad[i];
		assert_int_equal(vsn_tls_name_valid(bad[i]), -EINVAL);
		assert_int_equal(vsn_cert_issue(path(e, "ca"), path(e, "bad"), &o, &err), -EINVAL);
		assert_true(err.msg[0]);
	}
	long_name[253] = '\0';
	assert_int_equal(vsn_tls_name_valid(long_name), 0);
	long_label[63] = '\0';
	assert_int_equal(vsn_tls_name_valid(long_label), 0);
	for (int i = 0; good[i]; i++)
		assert_int_equal(vsn_tls_name_valid(good[i]), 0);
	o.name = "fine";
	o.ips = bad_ip;
	o.n_ips = 1;
	assert_int_equal(vsn_cert_issue(path(e, "ca"), path(e, "bad"), &o, &err), -EINVAL);
	o.n_ips = 0;
	o.dns = bad_dns;
	o.n_dns = 1;
	assert_int_equal(vsn_cert_issue(path(e, "ca"), path(e, "bad"), &o, &err), -EINVAL);
	o.n_dns = 0;
	o.days = 0;
	assert_int_equal(vsn_cert_issue(path(e, "ca"), path(e, "bad"), &o, &err), -EINVAL);
	o.days = 1;
	o.role = 0;
	assert_int_equal(vsn_cert_issue(path(e, "ca"), path(e, "bad"), &o, &err), -EINVAL);
	/* Nothing was written for any of them. */
	assert_int_equal(access(path(e, "bad"), F_OK), -1);
	/* A missing CA is the errno of opening its files. */
	o.role = VSN_TLS_NODE;
	assert_int_equal(vsn_cert_issue(path(e, "nowhere"), path(e, "bad"), &o, &err), -ENOENT);
	assert_int_equal(vsn_ca_create(path(e, "ca2"), "a/b", 2, &err), -EINVAL);
	assert_int_equal(vsn_ca_create(path(e, "ca2"), NULL, 0, &err), -EINVAL);
}

static void another_cas_ca_crt_is_not_replaced(void **state)
{
	struct env *e = *state;
	struct vsn_cert_opts o = {.sz = sizeof(o), .role = VSN_TLS_NODE, .name = "x", .days = 1};
	struct vsn_tls_err err = {""};

	/* n1/ holds ca/'s ca.crt: issuing there with other/ would leave a node that trusts the
	 * wrong CA. */
	assert_int_equal(vsn_cert_issue(path(e, "other"), path(e, "n1"), &o, &err), -EEXIST);
	assert_int_equal(access(path(e, "n1/x.crt"), F_OK), -1);
}

static void reissue_renews(void **state)
{
	struct env *e = *state;
	X509 *a, *b;

	issue(e, "ca", "renew", VSN_TLS_NODE, "node9");
	a = cert_load(path(e, "renew/node9.crt"));
	issue(e, "ca", "renew", VSN_TLS_NODE, "node9");
	b = cert_load(path(e, "renew/node9.crt"));
	assert_int_not_equal(X509_cmp(a, b), 0);
	X509_free(a);
	X509_free(b);
	assert_int_equal(verify_chain(path(e, "ca/ca.crt"), path(e, "renew/node9.crt")), 1);
}

static void show_describes(void **state)
{
	struct env *e = *state;
	struct vsn_tls_err err = {""};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_int_equal(vsn_cert_show(path(e, "n1/node1.crt"), f, &err), 0);
	fclose(f);
	assert_non_null(strstr(out, "role      node\n"));
	assert_non_null(strstr(out, "names     DNS:node1\n"));
	assert_non_null(strstr(out, "issuer    CN=test CA\n"));
	free(out);
	assert_int_equal(vsn_cert_show(path(e, "n1/node1.key"), stdout, &err), -EINVAL);
	assert_int_equal(vsn_cert_show(path(e, "n1/none.crt"), stdout, &err), -ENOENT);
}

/* The two ends of a handshake over a socketpair, driven in turn, both non-blocking. */
struct hs {
	SSL *srv, *cli;
	int srv_rc, cli_rc;
	char srv_peer[64], cli_peer[64];
	int srv_peer_rc, cli_peer_rc;
	long srv_verify, cli_verify; /* each side's judgement of the other's certificate */
};

static void handshake(SSL_CTX *srv_ctx, SSL_CTX *cli_ctx, struct hs *h)
{
	int sv[2], done_s = 0, done_c = 0;
	char byte = 'x';

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	h->srv = SSL_new(srv_ctx);
	h->cli = SSL_new(cli_ctx);
	SSL_set_fd(h->srv, sv[0]);
	SSL_set_fd(h->cli, sv[1]);
	SSL_set_accept_state(h->srv);
	SSL_set_connect_state(h->cli);
	for (int i = 0; i < 100 && (!done_s || !done_c); i++) {
		if (!done_s) {
			h->srv_rc = SSL_do_handshake(h->srv);
			int e = SSL_get_error(h->srv, h->srv_rc);
			done_s = h->srv_rc == 1 ||
				 (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE);
		}
		if (!done_c) {
			h->cli_rc = SSL_do_handshake(h->cli);
			int e = SSL_get_error(h->cli, h->cli_rc);
			done_c = h->cli_rc == 1 ||
				 (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE);
		}
	}
	/* In TLS 1.3 the client is done before the server has judged its certificate: one byte
	 * each way tells whether the connection really stands. */
	if (h->srv_rc == 1 && h->cli_rc == 1) {
		char got = 0;

		assert_int_equal(SSL_write(h->cli, &byte, 1), 1);
		assert_int_equal(SSL_read(h->srv, &got, 1), 1);
		assert_int_equal(SSL_write(h->srv, &byte, 1), 1);
		assert_int_equal(SSL_read(h->cli, &got, 1), 1);
		assert_int_equal(got, 'x');
	} else if (h->cli_rc == 1) {
		char got;

		/* The server's alert is what the client reads. */
		h->cli_rc = SSL_read(h->cli, &got, 1) > 0;
		if (!h->cli_rc)
			h->cli_rc = -1;
	}
	h->srv_verify = SSL_get_verify_result(h->srv);
	h->cli_verify = SSL_get_verify_result(h->cli);
	h->srv_peer_rc = vsn_tls_peer_name(h->srv, h->srv_peer, sizeof(h->srv_peer));
	h->cli_peer_rc = vsn_tls_peer_name(h->cli, h->cli_peer, sizeof(h->cli_peer));
	SSL_free(h->srv);
	SSL_free(h->cli);
	close(sv[0]);
	close(sv[1]);
	ERR_clear_error();
}

static SSL_CTX *ctx_of(const struct env *e, enum vsn_tls_role role, const char *ca, const char *dir,
		       const char *name)
{
	char crt[PATH_MAX], key[PATH_MAX];
	struct vsn_tls_err err = {""};
	SSL_CTX *ctx = NULL;

	snprintf(crt, sizeof(crt), "%s/%s/%s.crt", e->dir, dir, name);
	snprintf(key, sizeof(key), "%s/%s/%s.key", e->dir, dir, name);
	assert_int_equal(vsn_tls_ctx_new(role, path(e, ca), crt, key, &ctx, &err), 0);
	assert_non_null(ctx);
	return ctx;
}

static void mutual_tls_names_both_peers(void **state)
{
	struct env *e = *state;
	SSL_CTX *ctl = ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd");
	SSL_CTX *node = ctx_of(e, VSN_TLS_NODE, "n1/ca.crt", "n1", "node1");
	struct hs h = {0};

	handshake(ctl, node, &h);
	assert_int_equal(h.srv_rc, 1);
	assert_int_equal(h.cli_rc, 1);
	assert_int_equal(h.srv_peer_rc, 0);
	assert_string_equal(h.srv_peer, "node1");
	assert_int_equal(h.cli_peer_rc, 0);
	assert_string_equal(h.cli_peer, "vsnd");
	SSL_CTX_free(ctl);
	SSL_CTX_free(node);
}

/*
 * A handshake between srv and cli (both freed) must fail on both ends, the server seeing no
 * peer name; srv_verify and cli_verify are each end's verdict on the other's certificate.
 */
static void expect_refused(SSL_CTX *srv, SSL_CTX *cli, long srv_verify, long cli_verify)
{
	struct hs h = {0};

	handshake(srv, cli, &h);
	assert_int_not_equal(h.srv_rc, 1);
	assert_int_not_equal(h.cli_rc, 1);
	assert_int_equal(h.srv_peer_rc, -ENOTCONN);
	assert_int_equal(h.srv_verify, srv_verify);
	assert_int_equal(h.cli_verify, cli_verify);
	SSL_CTX_free(srv);
	SSL_CTX_free(cli);
}

static void peer_of_another_ca_is_refused(void **state)
{
	struct env *e = *state;

	/* A node of another CA that trusts ours: only the controller's judgement can stop it. */
	expect_refused(ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd"),
		       ctx_of(e, VSN_TLS_NODE, "ca/ca.crt", "other-n1", "node1"),
		       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_OK);
	/* A controller of another CA: the node refuses it. */
	expect_refused(ctx_of(e, VSN_TLS_CONTROLLER, "ca/ca.crt", "other-ctl", "vsnd"),
		       ctx_of(e, VSN_TLS_NODE, "n1/ca.crt", "n1", "node1"), X509_V_OK,
		       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

/* A client that presents what it is given, and accepts any server certificate of the CA. */
static SSL_CTX *plain_client(const struct env *e, const char *crt, const char *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	assert_int_equal(SSL_CTX_load_verify_locations(c, path(e, "ca/ca.crt"), NULL), 1);
	if (crt) {
		assert_int_equal(SSL_CTX_use_certificate_file(c, path(e, crt), SSL_FILETYPE_PEM),
				 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(c, path(e, key), SSL_FILETYPE_PEM), 1);
	}
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	return c;
}

static void client_without_certificate_is_refused(void **state)
{
	struct env *e = *state;

	/* The server's verdict is "peer did not return a certificate": nothing to verify. */
	expect_refused(ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd"),
		       plain_client(e, NULL, NULL), X509_V_OK, X509_V_OK);
}

static void peer_of_the_same_role_is_refused(void **state)
{
	struct env *e = *state;

	/* A node cannot pose as the controller to another node... */
	expect_refused(ctx_of(e, VSN_TLS_NODE, "n1/ca.crt", "n1", "node1"),
		       ctx_of(e, VSN_TLS_NODE, "n1/ca.crt", "n1", "node1"), X509_V_OK,
		       X509_V_ERR_APPLICATION_VERIFICATION);
	/* ...nor controllers talk to each other... */
	expect_refused(ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd"),
		       ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd"), X509_V_OK,
		       X509_V_ERR_APPLICATION_VERIFICATION);
	/* ...nor a controller certificate connect as a node, even from a client that accepts
	 * the controller. */
	expect_refused(ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd"),
		       plain_client(e, "ctl/vsnd.crt", "ctl/vsnd.key"),
		       X509_V_ERR_APPLICATION_VERIFICATION, X509_V_OK);
}

static void ctx_refuses_wrong_files(void **state)
{
	struct env *e = *state;
	struct vsn_tls_err err = {""};
	SSL_CTX *ctx = (SSL_CTX *)&err; /* stays untouched on failure */

	/* A node certificate cannot serve as the controller's. */
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_CONTROLLER, path(e, "ca/ca.crt"),
					 path(e, "n1/node1.crt"), path(e, "n1/node1.key"), &ctx,
					 &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "node certificate"));
	/* A key that is not the certificate's. */
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_NODE, path(e, "ca/ca.crt"),
					 path(e, "n1/node1.crt"), path(e, "other-n1/node1.key"),
					 &ctx, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "is not the key of"));
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_NODE, path(e, "ca/none.crt"),
					 path(e, "n1/node1.crt"), path(e, "n1/node1.key"), &ctx,
					 &err),
			 -ENOENT);
	assert_int_equal(vsn_tls_ctx_new(VSN_TLS_NODE, path(e, "ca/ca.crt"),
					 path(e, "n1/node1.key"), path(e, "n1/node1.key"), &ctx,
					 &err),
			 -EINVAL);
	assert_ptr_equal(ctx, (SSL_CTX *)&err);
}

static void ctx_is_tls13_only(void **state)
{
	struct env *e = *state;
	SSL_CTX *ctl = ctx_of(e, VSN_TLS_CONTROLLER, "ctl/ca.crt", "ctl", "vsnd");

	assert_int_equal(SSL_CTX_get_min_proto_version(ctl), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(ctl), TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_get_verify_mode(ctl),
			 SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	SSL_CTX_free(ctl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ca_is_a_ca),
		cmocka_unit_test(certs_verify_with_their_ca_only),
		cmocka_unit_test(cert_has_names_usages_and_serial),
		cmocka_unit_test(serials_differ),
		cmocka_unit_test(keys_are_private),
		cmocka_unit_test(existing_ca_is_not_overwritten),
		cmocka_unit_test(bad_names_and_values_are_refused),
		cmocka_unit_test(another_cas_ca_crt_is_not_replaced),
		cmocka_unit_test(reissue_renews),
		cmocka_unit_test(show_describes),
		cmocka_unit_test(no_temporary_files_left),
		cmocka_unit_test(mutual_tls_names_both_peers),
		cmocka_unit_test(peer_of_another_ca_is_refused),
		cmocka_unit_test(client_without_certificate_is_refused),
		cmocka_unit_test(peer_of_the_same_role_is_refused),
		cmocka_unit_test(ctx_refuses_wrong_files),
		cmocka_unit_test(ctx_is_tls13_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
