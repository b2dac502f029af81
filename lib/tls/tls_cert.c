/* SPDX-License-Identifier: Apache-2.0 */
/* The CA, issuing certificates and describing them (vsn_tls.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"
#include "vsn_tls.h"

const char *vsn_tls_role_name(enum vsn_tls_role role)
{
	switch (role) {
	case VSN_TLS_CONTROLLER:
		return "controller";
	case VSN_TLS_NODE:
		return "node";
	}
	return NULL;
}

int tls_fail(struct vsn_tls_err *err, int r, const char *fmt, ...)
{
	unsigned long e = 0, last;
	va_list ap;
	size_t n;

	/* The first queued OpenSSL error is the cause; the later ones are how it surfaced. */
	while ((last = ERR_get_error()))
		if (!e)
			e = last;
	if (!err)
		return r;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	if (e && n + 3 < sizeof(err->msg)) {
		memcpy(err->msg + n, " (", 2);
		ERR_error_string_n(e, err->msg + n + 2, sizeof(err->msg) - n - 3);
		n = strlen(err->msg);
		if (n + 1 < sizeof(err->msg)) {
			err->msg[n] = ')';
			err->msg[n + 1] = '\0';
		}
	}
	return r;
}

int vsn_tls_name_valid(const char *s)
{
	size_t len, label = 0;

	if (!s || !(len = strlen(s)) || len > VSN_TLS_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (!label || label > 63 || s[i - 1] == '-')
				return -EINVAL;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label)))
			return -EINVAL;
		label++;
	}
	return 0;
}

static int path_join(char *buf, const char *dir, const char *name, const char *suffix)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s", dir, name, suffix);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static int dir_ensure(const char *dir)
{
	struct stat st;

	if (!mkdir(dir, 0700))
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/*
 * Write len bytes to dir/name atomically: a temporary file in dir (mode from the start, so a key
 * is never readable by others), fsync, then rename over the old file, or, when noreplace, link
 * (which fails with EEXIST rather than replace), then fsync the directory.
 */
static int file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			     mode_t mode, bool noreplace)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	const char *p = data;
	int fd, dfd, r;

	r = path_join(path, dir, name, "");
	if (!r)
		r = path_join(tmp, dir, ".", name);
	if (r || strlen(tmp) + 8 >= PATH_MAX)
		return -ENAMETOOLONG;
	strcat(tmp, ".XXXXXX");
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	r = fchmod(fd, mode) ? -errno : 0;
	while (!r && len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		p += n;
		len -= n;
	}
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && noreplace) {
		r = link(tmp, path) ? -errno : 0;
		unlink(tmp);
	} else if (!r) {
		r = rename(tmp, path) ? -errno : 0;
	}
	if (r) {
		unlink(tmp);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* The PEM text of a key or certificate, in memory: *ret is NUL-terminated, freed by the caller. */
static int pem_of(EVP_PKEY *key, X509 *cert, char **ret, size_t *ret_len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok;

	if (!b)
		return -ENOMEM;
	ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_bio_X509(b, cert);
	n = BIO_get_mem_data(b, &data);
	if (!ok || n <= 0 || !(*ret = malloc(n + 1))) {
		BIO_free(b);
		return -ENOMEM;
	}
	memcpy(*ret, data, n);
	(*ret)[n] = '\0';
	*ret_len = n;
	BIO_free(b);
	return 0;
}

static int pem_write(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, bool noreplace)
{
	size_t len;
	char *pem;
	int r;

	r = pem_of(key, cert, &pem, &len);
	if (r)
		return r;
	r = file_write_atomic(dir, name, pem, len, key ? 0600 : 0644, noreplace);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return r;
}

/* fopen's errno when the file cannot be read, -EINVAL when it holds no PEM object of the kind. */
static int pem_read(const char *file, EVP_PKEY **ret_key, X509 **ret_cert)
{
	FILE *f = fopen(file, "re");

	if (!f)
		return -errno;
	if (ret_key)
		*ret_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	else
		*ret_cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return (ret_key ? (void *)*ret_key : (void *)*ret_cert) ? 0 : -EINVAL;
}

int tls_key_read(const char *file, EVP_PKEY **ret_key)
{
	return pem_read(file, ret_key, NULL);
}

static int ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static int serial_random(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[0] &= 0x7f; /* positive, and 128 bits at most in DER */
	b[0] |= 0x40; /* never shorter than 127 bits */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

/*
 * A version 3 certificate for key, valid from five minutes ago (clocks of the hosts differ a
 * little) for days days, with subject CN=cn (and OU=ou when not NULL), not signed yet.
 */
static int cert_new(EVP_PKEY *key, const char *cn, const char *ou, unsigned int days, X509 **ret)
{
	X509 *x = X509_new();
	X509_NAME *n;
	int r = -ENOMEM;

	if (!x)
		return -ENOMEM;
	n = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) || !X509_set_pubkey(x, key))
		goto out;
	if (ou && !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const void *)ou, -1, -1, 0))
		goto out;
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const void *)cn, -1, -1, 0))
		goto out;
	r = serial_random(x);
out:
	if (r)
		X509_free(x);
	else
		*ret = x;
	return r;
}

int vsn_ca_create(const char *dir, const char *name, unsigned int days, struct vsn_tls_err *err)
{
	char path[PATH_MAX];
	EVP_PKEY *key = NULL;
	X509V3_CTX ctx;
	X509 *x = NULL;
	int r;

	if (!name)
		name = VSN_CA_DEFAULT_NAME;
	if (!*name || strlen(name) > 64 || strpbrk(name, "/\\,=+<>#;\"\n"))
		return tls_fail(err, -EINVAL,
				"'%s' is no CA name (1 to 64 characters, no /,=+<>#;\")", name);
	if (!days || days > VSN_CERT_MAX_DAYS)
		return tls_fail(err, -EINVAL, "days must be 1 to %d", VSN_CERT_MAX_DAYS);
	r = dir_ensure(dir);
	if (r)
		return tls_fail(err, r, "cannot make the directory %s: %s", dir, strerror(-r));
	/* The links below refuse to replace too; this check keeps a half CA from being made. */
	for (int i = 0; i < 2; i++) {
		r = path_join(path, dir, i ? VSN_CA_CERT : VSN_CA_KEY, "");
		if (r)
			return tls_fail(err, r, "%s: path too long", dir);
		if (!access(path, F_OK))
			return tls_fail(err, -EEXIST, "%s exists: a CA is never overwritten", path);
	}
	key = EVP_EC_gen("P-256");
	if (!key)
		return tls_fail(err, -ENOMEM, "cannot generate a P-256 key");
	r = cert_new(key, name, NULL, days, &x);
	if (r) {
		tls_fail(err, r, "cannot build the CA certificate");
		goto out;
	}
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (ext_add(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") ||
	    ext_add(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
	    ext_add(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(x, key, EVP_sha256())) {
		r = tls_fail(err, -EINVAL, "cannot sign the CA certificate");
		goto out;
	}
	r = pem_write(dir, VSN_CA_KEY, key, NULL, true);
	if (r) {
		tls_fail(err, r, "cannot write %s/%s: %s", dir, VSN_CA_KEY, strerror(-r));
		goto out;
	}
	r = pem_write(dir, VSN_CA_CERT, NULL, x, true);
	if (r) {
		tls_fail(err, r, "cannot write %s/%s: %s", dir, VSN_CA_CERT, strerror(-r));
		if (!path_join(path, dir, VSN_CA_KEY, ""))
			unlink(path);
	}
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

/* The SAN value: DNS:name, then each extra name and address, all checked first. */
static int san_build(const struct vsn_cert_opts *o, char **ret, struct vsn_tls_err *err)
{
	size_t cap = strlen(o->name) + 8, len;
	unsigned char bin[16];
	char *s;

	for (size_t i = 0; i < o->n_dns; i++) {
		if (vsn_tls_name_valid(o->dns[i]))
			return tls_fail(err, -EINVAL, "'%s' is no DNS name", o->dns[i]);
		cap += strlen(o->dns[i]) + 5;
	}
	for (size_t i = 0; i < o->n_ips; i++) {
		if (!inet_pton(AF_INET, o->ips[i], bin) && !inet_pton(AF_INET6, o->ips[i], bin))
			return tls_fail(err, -EINVAL, "'%s' is no IPv4 or IPv6 address", o->ips[i]);
		cap += strlen(o->ips[i]) + 4;
	}
	s = malloc(cap);
	if (!s)
		return tls_fail(err, -ENOMEM, "out of memory");
	len = sprintf(s, "DNS:%s", o->name);
	for (size_t i = 0; i < o->n_dns; i++)
		len += sprintf(s + len, ",DNS:%s", o->dns[i]);
	for (size_t i = 0; i < o->n_ips; i++)
		len += sprintf(s + len, ",IP:%s", o->ips[i]);
	*ret = s;
	return 0;
}

/* 0 when dir has no ca.crt or the one it has is ca's, -EEXIST when it is another CA's. */
static int ca_copy_check(const char *dir, X509 *ca, bool *ret_present, struct vsn_tls_err *err)
{
	char path[PATH_MAX];
	X509 *have = NULL;
	int r;

	r = path_join(path, dir, VSN_CA_CERT, "");
	if (r)
		return tls_fail(err, r, "%s: path too long", dir);
	r = pem_read(path, NULL, &have);
	*ret_present = r != -ENOENT;
	if (r == -ENOENT)
		return 0;
	if (!r && X509_cmp(have, ca))
		r = -EEXIST;
	X509_free(have);
	if (r == -EEXIST)
		return tls_fail(err, r,
				"%s is another CA's certificate; issue into another directory",
				path);
	return r ? tls_fail(err, r, "cannot read %s: %s", path, strerror(-r)) : 0;
}

int vsn_cert_issue(const char *ca_dir, const char *out_dir, const struct vsn_cert_opts *o,
		   struct vsn_tls_err *err)
{
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	char path[PATH_MAX], file[VSN_TLS_NAME_MAX + 8];
	char *san = NULL;
	bool ca_present;
	X509V3_CTX ctx;
	int r;

	if (!o || o->sz < sizeof(*o) || !vsn_tls_role_name(o->role))
		return tls_fail(err, -EINVAL, "no role (controller or node)");
	if (vsn_tls_name_valid(o->name))
		return tls_fail(err, -EINVAL,
				"'%s' is no DNS name (labels of letters, digits and inner hyphens, "
				"joined by dots)",
				o->name ? o->name : "");
	if (!o->days || o->days > VSN_CERT_MAX_DAYS)
		return tls_fail(err, -EINVAL, "days must be 1 to %d", VSN_CERT_MAX_DAYS);
	r = san_build(o, &san, err);
	if (r)
		return r;
	for (int i = 0; i < 2; i++) {
		r = path_join(path, ca_dir, i ? VSN_CA_CERT : VSN_CA_KEY, "");
		if (!r)
			r = i ? pem_read(path, NULL, &ca) : pem_read(path, &ca_key, NULL);
		if (r) {
			tls_fail(err, r, "cannot read the CA's %s: %s", path,
				 r == -EINVAL ? "no PEM key or certificate" : strerror(-r));
			goto out;
		}
	}
	if (!X509_check_private_key(ca, ca_key)) {
		r = tls_fail(err, -EINVAL, "%s/%s is not the key of %s/%s", ca_dir, VSN_CA_KEY,
			     ca_dir, VSN_CA_CERT);
		goto out;
	}
	r = dir_ensure(out_dir);
	if (r) {
		tls_fail(err, r, "cannot make the directory %s: %s", out_dir, strerror(-r));
		goto out;
	}
	r = ca_copy_check(out_dir, ca, &ca_present, err);
	if (r)
		goto out;
	key = EVP_EC_gen("P-256");
	if (!key) {
		r = tls_fail(err, -ENOMEM, "cannot generate a P-256 key");
		goto out;
	}
	r = cert_new(key, o->name, vsn_tls_role_name(o->role), o->days, &x);
	if (r) {
		tls_fail(err, r, "cannot build the certificate");
		goto out;
	}
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (ext_add(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    ext_add(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    ext_add(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
	    ext_add(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    ext_add(x, &ctx, NID_subject_alt_name, san) || !X509_sign(x, ca_key, EVP_sha256())) {
		r = tls_fail(err, -EINVAL, "cannot sign the certificate");
		goto out;
	}
	/* The key first: a reader between the two renames finds a mismatch it reports, never a
	 * new certificate it cannot use with the old key unnoticed. */
	snprintf(file, sizeof(file), "%s.key", o->name);
	r = pem_write(out_dir, file, key, NULL, false);
	if (!r) {
		snprintf(file, sizeof(file), "%s.crt", o->name);
		r = pem_write(out_dir, file, NULL, x, false);
	}
	if (!r && !ca_present) {
		snprintf(file, sizeof(file), "%s", VSN_CA_CERT);
		r = pem_write(out_dir, file, NULL, ca, false);
	}
	if (r)
		tls_fail(err, r, "cannot write %s/%s: %s", out_dir, file, strerror(-r));
out:
	free(san);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return r;
}

/* The role a certificate vsn issued carries: "ca", "controller", "node", or NULL. */
const char *tls_cert_role(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1);
	const unsigned char *v;
	ASN1_STRING *s;

	if (X509_check_ca(x))
		return "ca";
	if (i < 0)
		return NULL;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	v = ASN1_STRING_get0_data(s);
	for (int r = VSN_TLS_CONTROLLER; r <= VSN_TLS_NODE; r++)
		if ((size_t)ASN1_STRING_length(s) == strlen(vsn_tls_role_name(r)) &&
		    !memcmp(v, vsn_tls_role_name(r), ASN1_STRING_length(s)))
			return vsn_tls_role_name(r);
	return NULL;
}

int tls_cert_cn(X509 *x, char *buf, size_t sz)
{
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, NULL, 0);

	if (n < 0)
		return -ENOENT;
	if ((size_t)n >= sz)
		return -ENAMETOOLONG;
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sz);
	return 0;
}

static void print_name(FILE *out, const char *label, X509_NAME *n)
{
	fprintf(out, "%-9s ", label);
	X509_NAME_print_ex_fp(out, n, 0, XN_FLAG_RFC2253);
	fputc('\n', out);
}

static void print_time(FILE *out, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (!ASN1_TIME_to_tm(t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, sizeof(buf), "?");
	fputs(buf, out);
}

int vsn_cert_show(const char *file, FILE *out, struct vsn_tls_err *err)
{
	GENERAL_NAMES *sans;
	const char *role;
	BIGNUM *bn;
	char *hex;
	X509 *x = NULL;
	int r;

	r = pem_read(file, NULL, &x);
	if (r == -EINVAL)
		return tls_fail(err, r, "%s holds no PEM certificate", file);
	if (r)
		return tls_fail(err, r, "cannot read %s: %s", file, strerror(-r));
	role = tls_cert_role(x);
	print_name(out, "subject", X509_get_subject_name(x));
	fprintf(out, "%-9s %s\n", "role", role ? role : "none (not a vsn certificate)");
	fprintf(out, "%-9s", "names");
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *b;
		char ip[INET6_ADDRSTRLEN];

		if (g->type == GEN_DNS) {
			fprintf(out, " DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
				ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			b = ASN1_STRING_get0_data(g->d.iPAddress);
			inet_ntop(ASN1_STRING_length(g->d.iPAddress) == 16 ? AF_INET6 : AF_INET, b,
				  ip, sizeof(ip));
			fprintf(out, " IP:%s", ip);
		}
	}
	fprintf(out, "%s\n", sk_GENERAL_NAME_num(sans) > 0 ? "" : " -");
	GENERAL_NAMES_free(sans);
	print_name(out, "issuer", X509_get_issuer_name(x));
	fprintf(out, "%-9s ", "valid");
	print_time(out, X509_get0_notBefore(x));
	fprintf(out, " to ");
	print_time(out, X509_get0_notAfter(x));
	fprintf(out, "%s\n", X509_cmp_current_time(X509_get0_notAfter(x)) < 0 ? " (expired)" : "");
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	fprintf(out, "%-9s %s\n", "serial", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return 0;
}
