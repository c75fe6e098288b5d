/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A capture's checks around the run: what it needs from the machine before
 * anything loads, and why it may have come back empty.
 */
#ifndef FORNAX_CHECKS_H
#define FORNAX_CHECKS_H

#include <linux/types.h>

#include "config.h"
#include "targets.h"

/*
 * Privileges, kernel and the --pid processes (held in *targets), each
 * missing piece said in one line before libbpf speaks. Returns 0 or -errno.
 */
int checks__start(const struct config *cfg, struct targets **targets);

/*
 * After an ad-hoc capture: with no samples, says why that may be. Returns
 * -ESRCH when every --pid process exited (nothing was left to profile),
 * else 0.
 */
int checks__explain_empty(const struct config *cfg, struct targets *targets, __u64 samples);

#endif /* FORNAX_CHECKS_H */
