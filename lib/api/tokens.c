/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tokens file: `ROLE TOKEN` per line. Only the tokens' SHA-256 digests are kept, and a
 * presented token is compared with every one of them with CRYPTO_memcmp, so neither how much
 * of a token matched nor which entry did shows in the time an answer takes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "api_internal.h"

struct api_token {
	enum vsn_api_role role;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	unsigned int line;
};

struct api_tokens {
	struct api_token *t;
	size_t n;
};

static const char blanks[] = " \t\r\n";

static int parse_role(const char *s, enum vsn_api_role *ret)
{
	if (!strcmp(s, "admin"))
		*ret = VSN_API_ROLE_ADMIN;
	else if (!strcmp(s, "read"))
		*ret = VSN_API_ROLE_READ;
	else
		return -EINVAL;
	return 0;
}

/* Why token is no token, or NULL when it is one. */
static const char *token_invalid(const char *token)
{
	size_t len = strlen(token);

	if (token[0] == '#')
		return "a token may not start with '#'";
	if (len < VSN_API_TOKEN_MIN)
		return "the token is too short (at least 16 characters; "
		       "`openssl rand -hex 32` makes a good one)";
	if (len > VSN_API_TOKEN_MAX)
		return "the token is too long (at most 256 characters)";
	for (const char *p = token; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return "a token is printable ASCII without blanks";
	return NULL;
}

/* One line: 0 (*ret filled, or ret->line 0 for a line without a token), or -EINVAL with msg. */
static int parse_line(const char *path, unsigned int line, char *s, struct api_token *ret,
		      struct vsn_api_msg *msg)
{
	char *save, *role = strtok_r(s, blanks, &save), *token, *rest;
	const char *why;

	ret->line = 0;
	if (!role || role[0] == '#')
		return 0;
	token = strtok_r(NULL, blanks, &save);
	rest = strtok_r(NULL, blanks, &save);
	if (!token || (rest && rest[0] != '#'))
		return api_msg(msg, -EINVAL, "%s:%u: expected ROLE TOKEN", path, line);
	if (parse_role(role, &ret->role))
		return api_msg(msg, -EINVAL, "%s:%u: unknown role '%s' (admin or read)", path, line,
			       role);
	why = token_invalid(token);
	if (why)
		return api_msg(msg, -EINVAL, "%s:%u: %s", path, line, why);
	SHA256((const unsigned char *)token, strlen(token), ret->digest);
	OPENSSL_cleanse(token, strlen(token));
	ret->line = line;
	return 0;
}

static int add_token(struct api_tokens *t, const struct api_token *tok, const char *path,
		     struct vsn_api_msg *msg)
{
	struct api_token *n;

	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->t[i].digest, tok->digest, sizeof(tok->digest)))
			return api_msg(msg, -EINVAL, "%s:%u: the token of line %u again", path,
				       tok->line, t->t[i].line);
	n = realloc(t->t, (t->n + 1) * sizeof(*n));
	if (!n)
		return api_msg(msg, -ENOMEM, "%s: out of memory", path);
	t->t = n;
	t->t[t->n++] = *tok;
	return 0;
}

int api_tokens_load(const char *path, struct api_tokens **ret, struct vsn_api_msg *msg)
{
	struct api_tokens *t = calloc(1, sizeof(*t));
	struct api_token tok;
	unsigned int line = 0;
	size_t cap = 0;
	char *s = NULL;
	FILE *f = NULL;
	int r = 0;

	if (!t)
		return api_msg(msg, -ENOMEM, "%s: out of memory", path);
	f = fopen(path, "re");
	if (!f) {
		r = api_msg(msg, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (getline(&s, &cap, f) >= 0) {
		r = parse_line(path, ++line, s, &tok, msg);
		if (!r && tok.line)
			r = add_token(t, &tok, path, msg);
		if (r)
			goto out;
	}
	if (ferror(f))
		r = api_msg(msg, -EIO, "%s: read error", path);
	else if (!t->n)
		r = api_msg(msg, -EINVAL, "%s: no token in the file", path);
out:
	if (s)
		OPENSSL_cleanse(s, cap);
	free(s);
	if (f)
		fclose(f);
	if (r) {
		api_tokens_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

enum vsn_api_role api_tokens_find(const struct api_tokens *t, const char *token, size_t len)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	enum vsn_api_role role = VSN_API_ROLE_NONE;

	SHA256((const unsigned char *)token, len, digest);
	/* Every entry, to the end: the time does not depend on which one matches. */
	for (size_t i = 0; i < t->n; i++)
		if (!CRYPTO_memcmp(digest, t->t[i].digest, sizeof(digest)))
			role = t->t[i].role;
	return role;
}

void api_tokens_free(struct api_tokens *t)
{
	if (!t)
		return;
	OPENSSL_cleanse(t->t, t->n * sizeof(*t->t));
	free(t->t);
	free(t);
}
