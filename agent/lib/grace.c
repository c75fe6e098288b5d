// SPDX-License-Identifier: Apache-2.0
#include "grace.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "timeconst.h"

#define FALLBACK_GRACE_NS (20 * NSEC_PER_MSEC)

bool grace_period__init(struct grace_period *g)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	g->membarrier = cmds >= 0 && (cmds & MEMBARRIER_CMD_GLOBAL);
	return g->membarrier;
}

void grace_period__wait(const struct grace_period *g)
{
	struct timespec grace = { .tv_nsec = FALLBACK_GRACE_NS };

	if (g->membarrier && syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	nanosleep(&grace, NULL);
}
