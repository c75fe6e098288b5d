/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upload path's in-memory queue of packed windows, oldest first, and
 * the rule that keeps it bounded: beyond its size, and all of it while the
 * store is failing, windows go to the spool; without a spool (or while the
 * spool refuses writes), the oldest beyond the size are dropped.
 * Not thread-safe: upload.c holds its lock around every call.
 */
#ifndef FORNAX_UPLOAD_QUEUE_H
#define FORNAX_UPLOAD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <linux/types.h>

/* One packed window (a fornax.upload.v1.Window) in memory. */
struct uwin {
	STAILQ_ENTRY(uwin) link;
	__s64 time_nanos;
	void *buf;
	size_t len;
};

struct upload_queue {
	STAILQ_HEAD(, uwin) windows; /* oldest first */
	size_t n;
};

void upload_queue__init(struct upload_queue *q);
void upload_queue__push_tail(struct upload_queue *q, struct uwin *w);
/* Back at the head: a window whose attempt failed, or that the spool refused. */
void upload_queue__push_head(struct upload_queue *q, struct uwin *w);
/* The oldest window, or NULL. */
struct uwin *upload_queue__pop_head(struct upload_queue *q);
/* Frees every window. */
void upload_queue__clear(struct upload_queue *q);
void uwin_free(struct uwin *w);

enum settle_action {
	SETTLE_DONE,        /* the queue may stay as it is */
	SETTLE_SPOOL,       /* write the oldest window to the spool */
	SETTLE_DROP_OLDEST, /* nowhere to keep it: drop the oldest window */
};

/*
 * What to do next with a queue of queued windows and room for limit:
 * spool_ok says the spool takes writes now, spool_all that every window
 * should go there (the store is failing, or a stop that will not send
 * them). Asked again after each action.
 */
enum settle_action upload_queue__settle(size_t queued, unsigned limit, bool spool_ok,
					bool spool_all);

/*
 * The queue's hard bound, past which submit drops the oldest itself: the
 * upload thread keeps the queue at limit, so this only holds memory if the
 * thread is stuck (a spool disk that hangs).
 */
static inline bool upload_queue__overflowing(size_t queued, unsigned limit)
{
	return queued > 2 * (size_t)limit + 2;
}

#endif /* FORNAX_UPLOAD_QUEUE_H */
