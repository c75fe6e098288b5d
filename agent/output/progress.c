// SPDX-License-Identifier: Apache-2.0
#include "progress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "timeconst.h"

void progress__init(struct progress *pr, int fd, bool want, __u64 total_ns)
{
	*pr = (struct progress){ .fd = fd, .enabled = want && isatty(fd), .total_ns = total_ns };
}

static void thousands(unsigned long long v, char *buf, size_t size)
{
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%llu", v);
	size_t out = 0;

	for (int i = 0; i < len && out + 2 < size; i++) {
		buf[out++] = digits[i];
		if ((len - i - 1) % 3 == 0 && i + 1 < len)
			buf[out++] = ',';
	}
	buf[out] = '\0';
}

void progress__update(struct progress *pr, __u64 elapsed_ns, __u64 samples, __u64 processes)
{
	char line[160], count[32];
	int n;

	if (!pr->enabled)
		return;
	if (pr->total_ns && elapsed_ns > pr->total_ns)
		elapsed_ns = pr->total_ns;
	thousands(samples, count, sizeof(count));
	/* \r and erase-to-end: the line is rewritten in place, shorter or longer. */
	n = snprintf(line, sizeof(line), "\r\033[Kfornax: %llus / %llus · %s samples · %llu %s",
		     (unsigned long long)(elapsed_ns / NSEC_PER_SEC),
		     (unsigned long long)((pr->total_ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC), count,
		     (unsigned long long)processes, processes == 1 ? "process" : "processes");
	if (n > 0)
		/* A terminal that went away is no reason to stop the capture. */
		(void)write_all(pr->fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	pr->shown = true;
}

void progress__clear(struct progress *pr)
{
	if (!pr->enabled || !pr->shown)
		return;
	(void)write_all(pr->fd, "\r\033[K", 4);
	pr->shown = false;
}
