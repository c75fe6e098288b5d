// SPDX-License-Identifier: Apache-2.0
#include "upload_queue.h"

#include <stdlib.h>

void uwin_free(struct uwin *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

void upload_queue__init(struct upload_queue *q)
{
	STAILQ_INIT(&q->windows);
	q->n = 0;
}

void upload_queue__push_tail(struct upload_queue *q, struct uwin *w)
{
	STAILQ_INSERT_TAIL(&q->windows, w, link);
	q->n++;
}

void upload_queue__push_head(struct upload_queue *q, struct uwin *w)
{
	STAILQ_INSERT_HEAD(&q->windows, w, link);
	q->n++;
}

struct uwin *upload_queue__pop_head(struct upload_queue *q)
{
	struct uwin *w = STAILQ_FIRST(&q->windows);

	if (!w)
		return NULL;
	STAILQ_REMOVE_HEAD(&q->windows, link);
	q->n--;
	return w;
}

void upload_queue__clear(struct upload_queue *q)
{
	struct uwin *w;

	while ((w = upload_queue__pop_head(q)))
		uwin_free(w);
}

enum settle_action upload_queue__settle(size_t queued, unsigned limit, bool spool_ok,
					bool spool_all)
{
	if (!queued || (queued <= limit && !(spool_ok && spool_all)))
		return SETTLE_DONE;
	if (spool_ok)
		return SETTLE_SPOOL;
	return queued > limit ? SETTLE_DROP_OLDEST : SETTLE_DONE;
}
