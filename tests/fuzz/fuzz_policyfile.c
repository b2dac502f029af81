/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the policy-set file parser: any input must give a
 * parsed set or an error string naming FILE:LINE:COLUMN, never a crash,
 * a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsn_policyfile pf;
	char err[512];

	err[0] = '\0';
	if (vsn_policyfile_parse("fuzz.yaml", (const char *)data, size, &pf, err, sizeof(err))) {
		if (strncmp(err, "fuzz.yaml:", 10))
			abort();
		return 0;
	}
	for (size_t i = 0; i < pf.n_policies; i++)
		if (pf.policy_lines[i] < 1 || pf.policies[i].vip.family == 0)
			abort();
	vsn_policyfile_free(&pf);
	return 0;
}
