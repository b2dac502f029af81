/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The commands that talk to the controller's API: apply, diff, history, rollback, events,
 * status, drain, undrain, pin, unpin, get state. Each states the options it takes in its spec; one
 * parser reads them all, with the shared ones (ctl_opts_take).
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl_cli.h"
#include "vsn.h"
#include "vsn_api.h"

#define FOLLOW_INTERVAL_MS 500
/* After a failed poll of --follow, the next one waits this long. */
#define FOLLOW_RETRY_MS 2000

enum {
	O_FILE = 1 << 0,    /* -f FILE */
	O_MESSAGE = 1 << 1, /* -m MESSAGE */
	O_AUTHOR = 1 << 2,  /* --author NAME */
	O_FOLLOW = 1 << 3,  /* --follow */
	O_SINCE = 1 << 4,   /* --since ID */
	O_LIMIT = 1 << 5,   /* --limit N */
};

struct spec {
	const char *name;
	unsigned int opts;
	const char *pos; /* the positional argument's name; NULL: none */
	const char *usage;
	const char *pos2; /* a second positional argument's name; NULL: none */
};

struct args {
	struct ctl_opts o;
	const char *file, *message, *author, *pos, *pos2;
	bool follow;
	bool has_since;
	unsigned long since, limit;
};

static int usage_err(const struct spec *sp, const char *fmt, const char *arg)
{
	fprintf(stderr, "vsn: %s: ", sp->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (usage: vsn %s)\n", sp->usage);
	return 2;
}

/* One option of sp's with a value at argv[*i]: 1 taken, 0 not one, 2 a usage error. */
static int take_own(const struct spec *sp, struct args *a, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	bool value = *i + 1 < argc;

	if ((sp->opts & O_FOLLOW) && !strcmp(o, "--follow")) {
		a->follow = true;
		return 1;
	}
	if (!value)
		return 0;
	if ((sp->opts & O_FILE) && !strcmp(o, "-f"))
		a->file = argv[++*i];
	else if ((sp->opts & O_MESSAGE) && !strcmp(o, "-m"))
		a->message = argv[++*i];
	else if ((sp->opts & O_AUTHOR) && !strcmp(o, "--author"))
		a->author = argv[++*i];
	else if ((sp->opts & O_SINCE) && !strcmp(o, "--since")) {
		if (cli_parse_ulong(argv[++*i], ULONG_MAX, &a->since))
			return usage_err(sp, "'%s' is no event id", argv[*i]);
		a->has_since = true;
	} else if ((sp->opts & O_LIMIT) && !strcmp(o, "--limit")) {
		if (cli_parse_ulong(argv[++*i], VSN_API_LIMIT_MAX, &a->limit) || !a->limit)
			return usage_err(sp, "'%s' is no limit (1 to 1000)", argv[*i]);
	} else
		return 0;
	return 1;
}

/* argv[1..] into a as sp allows: 0, or 2 after a usage error. */
static int parse(const struct spec *sp, int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->limit = VSN_API_LIMIT_DEFAULT;
	for (int i = 1; i < argc; i++) {
		int r = ctl_opts_take(&a->o, sp->name, argc, argv, &i);

		if (r < 0)
			return 2;
		if (!r)
			r = take_own(sp, a, argc, argv, &i);
		if (r == 2)
			return 2;
		if (r)
			continue;
		if (sp->pos && !a->pos && argv[i][0] != '-')
			a->pos = argv[i];
		else if (sp->pos2 && a->pos && !a->pos2 && argv[i][0] != '-')
			a->pos2 = argv[i];
		else
			return usage_err(sp, "unexpected '%s'", argv[i]);
	}
	if ((sp->opts & O_FILE) && !a->file)
		return usage_err(sp, "%s is required", "-f FILE");
	if (sp->pos && !a->pos)
		return usage_err(sp, "%s is required", sp->pos);
	if (sp->pos2 && !a->pos2)
		return usage_err(sp, "%s is required", sp->pos2);
	return 0;
}

/* --author, else $USER@hostname. */
static const char *author(const struct args *a, char *buf, size_t sz)
{
	const struct passwd *pw;
	const char *user = getenv("USER");
	char host[256] = "";

	if (a->author)
		return a->author;
	if (!user || !*user) {
		pw = getpwuid(getuid());
		user = pw ? pw->pw_name : "unknown";
	}
	if (gethostname(host, sizeof(host) - 1) || !host[0])
		snprintf(host, sizeof(host), "localhost");
	snprintf(buf, sz, "%s@%s", user, host);
	return buf;
}

/* The file's text, at most VSN_API_BODY_MAX bytes, as a JSON string (so UTF-8 without NUL). */
static int read_document(const char *cmd, const char *file, json_t **ret)
{
	FILE *f = fopen(file, "re");
	char *buf = NULL;
	size_t len = 0;
	json_t *s;

	if (!f) {
		fprintf(stderr, "vsn: %s: %s: %s\n", cmd, file, strerror(errno));
		return 1;
	}
	buf = malloc(VSN_API_BODY_MAX + 1);
	if (buf)
		len = fread(buf, 1, VSN_API_BODY_MAX + 1, f);
	if (!buf || ferror(f)) {
		fprintf(stderr, "vsn: %s: %s: %s\n", cmd, file,
			buf ? "read error" : "out of memory");
		goto fail;
	}
	if (len > VSN_API_BODY_MAX) {
		fprintf(stderr, "vsn: %s: %s: larger than the API takes (16 MiB)\n", cmd, file);
		goto fail;
	}
	if (memchr(buf, '\0', len)) {
		fprintf(stderr, "vsn: %s: %s: not text (a NUL byte)\n", cmd, file);
		goto fail;
	}
	s = json_stringn(buf, len);
	if (!s) {
		fprintf(stderr, "vsn: %s: %s: not UTF-8 text\n", cmd, file);
		goto fail;
	}
	free(buf);
	fclose(f);
	*ret = s;
	return 0;
fail:
	free(buf);
	fclose(f);
	return 1;
}

/* res as -o asks: JSON, or fmt's text. */
static int output(const struct args *a, const json_t *res, int (*fmt)(FILE *f, const json_t *v))
{
	int r = a->o.json ? ctl_fmt_json(stdout, res) : fmt(stdout, res);

	if (fflush(stdout) || r)
		return vsn_err(r ? r : -EIO, "cannot write the answer");
	return 0;
}

/* Connect, send req (may be NULL; taken), print the answer with fmt. */
static int call(const struct spec *sp, const struct args *a, json_t *req, const char *method,
		const char *path, int (*fmt)(FILE *f, const json_t *v))
{
	struct ctl_client *cl = NULL;
	json_t *res;
	int r = ctl_client_new(&a->o, sp->name, &cl);

	if (!r)
		r = ctl_call(cl, sp->name, method, path, req, &res);
	if (!r)
		r = output(a, res, fmt);
	json_decref(req);
	ctl_client_free(cl);
	return r;
}

/* Set key to the string s (NULL: leave it out) in o: 0, or 1 after an error printed. */
static int set_str(const struct spec *sp, json_t *o, const char *key, const char *s)
{
	if (!s || !json_object_set_new(o, key, json_string(s)))
		return 0;
	return vsn_err(0, "%s: the %s must be UTF-8", sp->name, key);
}

/* {"document", "name"[, "author", "message"]} of -f FILE. */
static int document_body(const struct spec *sp, const struct args *a, json_t **ret)
{
	char who[512];
	json_t *doc, *o;

	if (read_document(sp->name, a->file, &doc))
		return 1;
	o = json_pack("{s:o, s:s}", "document", doc, "name", a->file);
	if (!o)
		return vsn_err(0, "%s: the file's name must be UTF-8", sp->name);
	if (((sp->opts & O_AUTHOR) && set_str(sp, o, "author", author(a, who, sizeof(who)))) ||
	    set_str(sp, o, "message", a->message)) {
		json_decref(o);
		return 1;
	}
	*ret = o;
	return 0;
}

/* apply or diff (sp->name): -f FILE's document to path. */
static int document_cmd(const struct spec *sp, int argc, char **argv, const char *path,
			int (*fmt)(FILE *f, const json_t *v))
{
	json_t *req = NULL;
	struct args a;
	int r = parse(sp, argc, argv, &a);

	if (!r)
		r = document_body(sp, &a, &req);
	return r ? r : call(sp, &a, req, "POST", path, fmt);
}

int cmd_apply(int argc, char **argv)
{
	static const struct spec sp = {"apply", O_FILE | O_MESSAGE | O_AUTHOR, NULL,
				       "apply -f FILE [-m MESSAGE] [--author NAME]", NULL};

	return document_cmd(&sp, argc, argv, "/v1/apply", ctl_fmt_revision);
}

int cmd_diff(int argc, char **argv)
{
	static const struct spec sp = {"diff", O_FILE, NULL, "diff -f FILE", NULL};

	return document_cmd(&sp, argc, argv, "/v1/diff", ctl_fmt_diff);
}

int cmd_history(int argc, char **argv)
{
	static const struct spec sp = {"history", O_LIMIT, NULL, "history [--limit N]", NULL};
	struct args a;
	char path[64];
	int r = parse(&sp, argc, argv, &a);

	if (r)
		return r;
	snprintf(path, sizeof(path), "/v1/history?limit=%lu", a.limit);
	return call(&sp, &a, NULL, "GET", path, ctl_fmt_history);
}

int cmd_rollback(int argc, char **argv)
{
	static const struct spec sp = {"rollback", O_MESSAGE | O_AUTHOR, "REV",
				       "rollback REV [-m MESSAGE] [--author NAME]", NULL};
	unsigned long rev;
	json_t *req;
	struct args a;
	char who[512];
	int r = parse(&sp, argc, argv, &a);

	if (r)
		return r;
	if (cli_parse_ulong(a.pos, ULONG_MAX, &rev) || !rev)
		return usage_err(&sp, "'%s' is no revision", a.pos);
	req = json_pack("{s:I}", "revision", (json_int_t)rev);
	if (!req)
		return vsn_err(-ENOMEM, "rollback");
	if (set_str(&sp, req, "author", author(&a, who, sizeof(who))) ||
	    set_str(&sp, req, "message", a.message)) {
		json_decref(req);
		return 1;
	}
	return call(&sp, &a, req, "POST", "/v1/rollback", ctl_fmt_revision);
}

int cmd_status(int argc, char **argv)
{
	static const struct spec sp = {"status", 0, NULL, "status", NULL};
	struct args a;
	int r = parse(&sp, argc, argv, &a);

	return r ? r : call(&sp, &a, NULL, "GET", "/v1/status", ctl_fmt_status);
}

/* drain or undrain (sp->name) the SLB named by the positional argument. */
static int slb_cmd(const struct spec *sp, int argc, char **argv)
{
	char path[128], who[512];
	json_t *req;
	struct args a;
	int r = parse(sp, argc, argv, &a);

	if (r)
		return r;
	/* The name goes into the path: only what an SLB's name can hold. */
	if (strspn(a.pos, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(a.pos) ||
	    snprintf(path, sizeof(path), "/v1/slbs/%s/%s", a.pos, sp->name) >= (int)sizeof(path))
		return usage_err(sp, "'%s' is no SLB name ([a-z0-9-], at most 63)", a.pos);
	req = json_object();
	if (!req)
		return vsn_err(-ENOMEM, "%s", sp->name);
	if (set_str(sp, req, "author", author(&a, who, sizeof(who)))) {
		json_decref(req);
		return 1;
	}
	return call(sp, &a, req, "POST", path, ctl_fmt_slb);
}

int cmd_drain(int argc, char **argv)
{
	static const struct spec sp = {"drain", O_AUTHOR, "SLB", "drain SLB [--author NAME]", NULL};

	return slb_cmd(&sp, argc, argv);
}

int cmd_undrain(int argc, char **argv)
{
	static const struct spec sp = {"undrain", O_AUTHOR, "SLB", "undrain SLB [--author NAME]",
				       NULL};

	return slb_cmd(&sp, argc, argv);
}

/* pin SERVICE CONFIGURATION, or unpin SERVICE (sp->pos2 NULL). */
static int pin_cmd(const struct spec *sp, int argc, char **argv)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
	char path[160], who[512];
	json_t *req;
	struct args a;
	int r = parse(sp, argc, argv, &a);

	if (r)
		return r;
	if (strspn(a.pos, name_chars) != strlen(a.pos) ||
	    snprintf(path, sizeof(path), "/v1/services/%s/%s", a.pos, sp->name) >=
		    (int)sizeof(path))
		return usage_err(sp, "'%s' is no service name ([a-z0-9-], at most 63)", a.pos);
	req = json_object();
	if (!req)
		return vsn_err(-ENOMEM, "%s", sp->name);
	if (set_str(sp, req, "author", author(&a, who, sizeof(who))) ||
	    (a.pos2 && set_str(sp, req, "configuration", a.pos2))) {
		json_decref(req);
		return 1;
	}
	return call(sp, &a, req, "POST", path, ctl_fmt_pin);
}

int cmd_pin(int argc, char **argv)
{
	static const struct spec sp = {"pin", O_AUTHOR, "SERVICE",
				       "pin SERVICE CONFIGURATION [--author NAME]",
				       "CONFIGURATION"};

	return pin_cmd(&sp, argc, argv);
}

int cmd_unpin(int argc, char **argv)
{
	static const struct spec sp = {"unpin", O_AUTHOR, "SERVICE",
				       "unpin SERVICE [--author NAME]", NULL};

	return pin_cmd(&sp, argc, argv);
}

/* The document as it was applied, byte for byte. */
static int print_document(FILE *f, const json_t *state)
{
	const json_t *doc = json_object_get(state, "document");

	if (!json_is_string(doc))
		return -EBADMSG;
	fwrite(json_string_value(doc), 1, json_string_length(doc), f);
	return 0;
}

int cmd_get_state(int argc, char **argv)
{
	static const struct spec sp = {"get state", 0, NULL, "get state", NULL};
	struct args a;
	int r = parse(&sp, argc, argv, &a);

	return r ? r : call(&sp, &a, NULL, "GET", "/v1/state", print_document);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One batch of events as -o asks; the last one's id into *last. */
static int print_events(const struct args *a, const json_t *res, struct ctl_widths *w,
			uint64_t *last, size_t *n)
{
	const json_t *events = json_object_get(res, "events"), *e;
	size_t i;
	int r = 0;

	*n = json_array_size(events);
	json_array_foreach(events, i, e)
	{
		if (json_is_integer(json_object_get(e, "id")))
			*last = (uint64_t)json_integer_value(json_object_get(e, "id"));
		/* --follow -o json: one event per line, as it comes. */
		if (a->o.json && a->follow && json_dumpf(e, stdout, JSON_COMPACT) == 0)
			fputc('\n', stdout);
	}
	if (a->o.json && !a->follow)
		r = ctl_fmt_json(stdout, res);
	else if (!a->o.json)
		r = ctl_fmt_events(stdout, res, a->follow ? w : NULL);
	if (fflush(stdout) || r)
		return vsn_err(r ? r : -EIO, "cannot write the events");
	return 0;
}

/*
 * The events (the newest --limit ones, or those after --since); with --follow, then every
 * FOLLOW_INTERVAL_MS those after the last one shown, until interrupted. A server that cannot
 * be reached while following is tried again, said once per outage.
 */
static int follow_events(struct args *a, struct ctl_client *cl)
{
	char path[96], err[CTL_ERR_LEN];
	struct ctl_widths w = {0};
	uint64_t last = a->since;
	bool lost = false;
	struct ctl_reply rep;
	json_t *res;
	size_t n;
	int r;

	for (;;) {
		if (a->has_since)
			snprintf(path, sizeof(path), "/v1/events?since=%llu&limit=%lu",
				 (unsigned long long)last, a->limit);
		else
			snprintf(path, sizeof(path), "/v1/events?limit=%lu", a->limit);
		if (ctl_http(cl, "GET", path, NULL, &rep, err, sizeof(err))) {
			if (!a->follow)
				return vsn_err(0, "events: %s", err);
			if (!lost)
				vsn_err(0, "events: %s; trying again every %d s", err,
					FOLLOW_RETRY_MS / 1000);
			lost = true;
			sleep_ms(FOLLOW_RETRY_MS);
			continue;
		}
		lost = false;
		r = ctl_answer(cl, "events", &rep, &res);
		if (!r)
			r = print_events(a, res, &w, &last, &n);
		if (r || !a->follow)
			return r;
		/* From here on: what came after the last event shown (all, when none was). */
		a->has_since = true;
		if (n < a->limit)
			sleep_ms(FOLLOW_INTERVAL_MS);
	}
}

int cmd_events(int argc, char **argv)
{
	static const struct spec sp = {"events", O_FOLLOW | O_SINCE | O_LIMIT, NULL,
				       "events [--follow] [--since ID] [--limit N]", NULL};
	struct ctl_client *cl = NULL;
	struct args a;
	int r = parse(&sp, argc, argv, &a);

	if (!r)
		r = ctl_client_new(&a.o, sp.name, &cl);
	if (!r)
		r = follow_events(&a, cl);
	ctl_client_free(cl);
	return r;
}
