/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TZif reader (lib/eval/tz.c): any bytes are refused or give a zone
 * whose offsets can be asked for at any instant, never a crash, a leak, undefined behaviour or
 * an offset beyond the bounds the reader promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t at[] = {
		VSN_TZ_T_MIN, -2208988800LL, 0, 1700000000, 1711846800, 4102444800LL, VSN_TZ_T_MAX,
	};
	struct vsn_tz *tz = NULL;

	if (vsn_tz_parse(data, size, "fuzz", &tz))
		return 0;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		struct vsn_tz_period p;

		if (vsn_tz_period(tz, at[i], &p))
			continue;
		/* The reader refuses offsets of 26 hours or more. */
		if (p.off <= -26 * 3600 || p.off >= 26 * 3600 || p.start > at[i] || p.end <= at[i])
			abort();
	}
	vsn_tz_free(tz);
	return 0;
}
