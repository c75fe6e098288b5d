/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Waiting out the BPF programs that may still read something the agent is
 * about to change (the sampler's map set, the unwinder's retired ranges).
 * The programs run from the perf interrupt, inside RCU read-side critical
 * sections, so an RCU grace period outlasts every run that started before
 * it; MEMBARRIER_CMD_GLOBAL is the system call that performs
 * synchronize_rcu(). Kernels booted with nohz_full refuse it: a fixed 20 ms
 * sleep then stands in, far past a run's microseconds.
 */
#ifndef FORNAX_AGENT_GRACE_H
#define FORNAX_AGENT_GRACE_H

#include <stdbool.h>

struct grace_period {
	bool membarrier; /* MEMBARRIER_CMD_GLOBAL is available */
};

/* Asks the kernel once. Returns whether membarrier is used (false: the sleep). */
bool grace_period__init(struct grace_period *g);

/* Returns once every program run that started before the call has finished. */
void grace_period__wait(const struct grace_period *g);

#endif /* FORNAX_AGENT_GRACE_H */
