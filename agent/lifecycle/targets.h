/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The processes named by --pid, held by pidfd from the start: one that does
 * not exist is an error before sampling, and one that exits during the
 * capture is known for what it is, whatever pid is reused afterwards.
 */
#ifndef FORNAX_TARGETS_H
#define FORNAX_TARGETS_H

#include <stddef.h>
#include <linux/types.h>

struct targets;

/*
 * Opens a pidfd for each pid. NULL with errno set: ESRCH when one does
 * not exist (*missing names it), or pidfd_open()'s error.
 */
struct targets *targets__new(const __u32 *pids, size_t n, __u32 *missing);
/* How many have exited by now; each is logged once, as it is first seen gone. */
size_t targets__exited(struct targets *t);
size_t targets__count(const struct targets *t);
void targets__free(struct targets *t);

#endif /* FORNAX_TARGETS_H */
