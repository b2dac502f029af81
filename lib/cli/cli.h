/* SPDX-License-Identifier: Apache-2.0 */
/* What vsn's command-line tools share: their global options and error lines. */
#ifndef VSN_CLI_H
#define VSN_CLI_H

#include <stdarg.h>
#include <stdio.h>

/*
 * The options every tool takes before its command: -h/--help and
 * --pin-dir DIR (into *pin_dir; a tool without pin_dir takes no --pin-dir). Returns the index of
 * the command word, or -1 with *ret_exit set: 0 after --help, 2 after a usage error (usage printed
 * to stderr).
 */
int cli_global_options(const char *prog, int argc, char **argv, const char **pin_dir,
		       void (*usage)(FILE *f), int *ret_exit);

/*
 * "PROG: message[: strerror(-r)]" on stderr, after flushing stdout so what
 * was done comes before what went wrong. Returns 1, the exit status.
 */
int cli_verr(const char *prog, int r, const char *fmt, va_list ap);

/* A decimal number from 0 to max, nothing else (no sign, no blanks): 0, or -EINVAL. */
int cli_parse_ulong(const char *s, unsigned long max, unsigned long *ret);

#endif /* VSN_CLI_H */
