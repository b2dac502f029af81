/* SPDX-License-Identifier: Apache-2.0 */
/* Reasons and names (pure: also in the fuzz target). */
#include <stdarg.h>
#include <stdio.h>

#include "probe_internal.h"
#include "vsn_scrape.h"

int probe_err(struct vsn_probe_err *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return r;
}

const char *vsn_health_name(enum vsn_health h)
{
	static const char *const names[] = {"unknown", "up", "down"};

	return (unsigned int)h < 3 ? names[h] : "unknown";
}

const char *vsn_load_state_name(enum vsn_load_state s)
{
	static const char *const names[] = {"unknown", "ok", "failed"};

	return (unsigned int)s < 3 ? names[s] : "unknown";
}
