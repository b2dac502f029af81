/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VSN_CLI_VSN_H
#define VSN_CLI_VSN_H

/* One command of vsn: a group and a verb ("cert issue"), or a group alone when verb is NULL. */
struct vsn_cmd {
	const char *group;
	const char *verb;
	const char *args;
	const char *help;
	/* argv[0] is the verb (or the group when there is none). Returns the exit status. */
	int (*run)(int argc, char **argv);
};

/* "vsn: message[: strerror(-r)]" on stderr; returns 1, the exit status. */
int vsn_err(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_ca_create(int argc, char **argv);
int cmd_cert_issue(int argc, char **argv);
int cmd_cert_show(int argc, char **argv);

#endif /* VSN_CLI_VSN_H */
