/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsn's commands that talk to the controller's REST API (docs/controller.md, "REST API" and
 * "CLI"):
 *
 *   cmd_ctl.c   the commands: their options, their request, their output
 *   ctl_http.c  the options they share (server, token, CA, output) and one request over libcurl
 *   ctl_fmt.c   the output: tables of the API's JSON, errors with their positions. Pure
 *               functions of their inputs, writing to the FILE they are given
 */
#ifndef VSN_CLI_CTL_CLI_H
#define VSN_CLI_CTL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* The commands (cmd_ctl.c), in vsn's table (main.c): argv[0] is the command's word. */
int cmd_apply(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_undrain(int argc, char **argv);
int cmd_pin(int argc, char **argv);
int cmd_unpin(int argc, char **argv);
int cmd_get_state(int argc, char **argv);

#define CTL_DEFAULT_SERVER "https://127.0.0.1:7443"

/* The options every API command takes, anywhere after its name. */
struct ctl_opts {
	const char *server;	/* --server URL, else $VSN_SERVER, else CTL_DEFAULT_SERVER */
	const char *token;	/* --token TOKEN, else --token-file FILE's, else $VSN_TOKEN */
	const char *token_file; /* --token-file FILE */
	const char *ca;		/* --ca FILE, else $VSN_CA, else the system's CAs */
	bool json;		/* -o json (default -o table) */
};

/*
 * If argv[*i] is one of the shared options, take it (and its value): 1, *i at its last word.
 * 0 when it is none of them; -1 after a usage error printed on stderr (cmd: the command's name).
 */
int ctl_opts_take(struct ctl_opts *o, const char *cmd, int argc, char **argv, int *i);

struct ctl_client;

/*
 * A client for o (defaults from the environment filled in): 0, or 2 after a usage error (no
 * token, a server URL that is not https://) or 1 after another one, printed on stderr.
 */
int ctl_client_new(const struct ctl_opts *o, const char *cmd, struct ctl_client **ret);
void ctl_client_free(struct ctl_client *cl);

/* What a request got. */
struct ctl_reply {
	long status;	 /* the HTTP status */
	json_t *json;	 /* the body when it is JSON, else NULL */
	const char *raw; /* the body as received, NUL-terminated (/metrics' text) */
};

/*
 * method ("GET", "POST") path (with its query) on the server, with body (NULL: none) as JSON.
 * 0 with *ret (which holds until the next request or ctl_client_free); else -EIO with why
 * the request did not get an answer in err (the server's URL, what failed, curl's words).
 */
int ctl_http(struct ctl_client *cl, const char *method, const char *path, const json_t *body,
	     struct ctl_reply *ret, char *err, size_t errlen);

/* The size of ctl_http's err that holds every message. */
#define CTL_ERR_LEN 1024

/*
 * A reply as a command takes it: 0 with *ret (borrowed, as rep->json) for a 2xx JSON answer;
 * else 1, after "vsn: CMD: why" on stderr (ctl_fmt_error's lines for an HTTP error).
 */
int ctl_answer(const struct ctl_client *cl, const char *cmd, const struct ctl_reply *rep,
	       json_t **ret);

/*
 * ctl_http then ctl_answer: a request whose failure is printed for the user: 0 with *ret (a
 * borrowed reference, valid until the next request), or 1.
 */
int ctl_call(struct ctl_client *cl, const char *cmd, const char *method, const char *path,
	     const json_t *body, json_t **ret);

/* ctl_fmt.c */

/* Widths of a table's columns, kept across the batches of `vsn events --follow`. */
struct ctl_widths {
	size_t w[8];
	bool header_done;
};

/*
 * An error answer (body: its JSON, or NULL) on f: "vsn: CMD: message (HTTP status)", then each
 * detail on a line of its own, FILE:LINE:COLUMN: message.
 */
void ctl_fmt_error(FILE *f, const char *cmd, long status, const json_t *body);
/* GET /v1/status as three tables: services, nodes, SLBs. */
int ctl_fmt_status(FILE *f, const json_t *status);
/* GET /v1/history: REV CREATED AUTHOR MESSAGE. */
int ctl_fmt_history(FILE *f, const json_t *history);
/* GET /v1/events: ID TIME TYPE SUBJECT DETAIL; w (may be NULL) keeps widths across calls. */
int ctl_fmt_events(FILE *f, const json_t *events, struct ctl_widths *w);
/* POST /v1/diff */
int ctl_fmt_diff(FILE *f, const json_t *diff);
/* POST /v1/apply and /v1/rollback: the new revision and the nodes whose sets changed. */
int ctl_fmt_revision(FILE *f, const json_t *res);
/* POST /v1/slbs/NAME/drain and /undrain */
int ctl_fmt_slb(FILE *f, const json_t *res);
/* POST /v1/services/NAME/pin and /unpin */
int ctl_fmt_pin(FILE *f, const json_t *res);
/* A JSON value as -o json prints it: indented, and a newline. */
int ctl_fmt_json(FILE *f, const json_t *v);

#endif /* VSN_CLI_CTL_CLI_H */
