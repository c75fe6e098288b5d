/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one-line progress report of an ad-hoc capture on a terminal:
 * "fornax: 12s / 30s · 45,678 samples · 12 processes", rewritten in place.
 * It is drawn only when the file descriptor is a terminal; cleared before
 * anything else is printed, so log lines never land in the middle of it.
 */
#ifndef FORNAX_PROGRESS_H
#define FORNAX_PROGRESS_H

#include <stdbool.h>
#include <linux/types.h>

struct progress {
	int fd;
	bool enabled;
	bool shown;     /* a line is on the screen */
	__u64 total_ns;
};

/* Enabled when want is true and fd is a terminal. */
void progress__init(struct progress *pr, int fd, bool want, __u64 total_ns);
void progress__update(struct progress *pr, __u64 elapsed_ns, __u64 samples, __u64 processes);
/* Erases the line, if one is shown. */
void progress__clear(struct progress *pr);

#endif /* FORNAX_PROGRESS_H */
