// SPDX-License-Identifier: Apache-2.0
#include "targets.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct target {
	__u32 pid;
	int pidfd;
	bool exited;
};

struct targets {
	struct target *t;
	size_t n;
};

struct targets *targets__new(const __u32 *pids, size_t n, __u32 *missing)
{
	struct targets *ts = calloc(1, sizeof(*ts));
	int err = 0;

	if (!ts || !(ts->t = calloc(n ? n : 1, sizeof(*ts->t)))) {
		free(ts);
		errno = ENOMEM;
		return NULL;
	}
	for (; ts->n < n; ts->n++) {
		/* pidfds are close-on-exec from birth */
		int fd = syscall(SYS_pidfd_open, (pid_t)pids[ts->n], 0);

		if (fd < 0) {
			err = errno;
			*missing = pids[ts->n];
			break;
		}
		ts->t[ts->n] = (struct target){ .pid = pids[ts->n], .pidfd = fd };
	}
	if (err) {
		targets__free(ts);
		errno = err;
		return NULL;
	}
	return ts;
}

size_t targets__exited(struct targets *ts)
{
	size_t exited = 0;

	for (size_t i = 0; ts && i < ts->n; i++) {
		struct target *t = &ts->t[i];
		struct pollfd p = { .fd = t->pidfd, .events = POLLIN };

		/* A pidfd polls readable once its process has exited. */
		if (!t->exited && poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
			t->exited = true;
			log_info("process %u exited during the capture", t->pid);
		}
		exited += t->exited;
	}
	return exited;
}

size_t targets__count(const struct targets *ts)
{
	return ts ? ts->n : 0;
}

void targets__free(struct targets *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->n; i++)
		close(ts->t[i].pidfd);
	free(ts->t);
	free(ts);
}
