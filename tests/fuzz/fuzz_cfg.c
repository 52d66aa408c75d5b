/*
 * libFuzzer target for the policy parser: lib/yaml.c's tree builder and
 * lib/cfg.c's schema checks.  Every input must end in a policy or in
 * messages, with no crash, leak or undefined behaviour.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lp_diag diag = { 0 };
	struct lp_cfg *cfg = NULL;

	(void)lp_cfg_parse("fuzz.yaml", (const char *)data, size, &cfg,
	    &diag);
	lp_cfg_free(cfg);
	lp_diag_clear(&diag);
	return 0;
}
