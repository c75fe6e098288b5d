// SPDX-License-Identifier: Apache-2.0
/*
 * Numbers owned by a loop that is not thread-safe (the drain loop's books,
 * the symbolizer's caches) reach a scrape as a copy: the loop publishes
 * one per turn under the snapshot's own lock, and the scrape emits from a
 * second copy taken under that lock, so neither waits on the other for
 * more than a memcpy.
 */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct metrics_snapshot {
	struct metrics *metrics;
	int id;
	metrics_snapshot_fn fn;
	pthread_mutex_t lock;
	bool published;
	size_t size;
	void *data;
	void *scrape; /* the scrape's copy: scrapes run one at a time */
};

static void collect_snapshot(struct metrics_emitter *e, void *ctx)
{
	struct metrics_snapshot *s = ctx;
	bool published;

	pthread_mutex_lock(&s->lock);
	published = s->published;
	if (published)
		memcpy(s->scrape, s->data, s->size);
	pthread_mutex_unlock(&s->lock);
	if (published)
		s->fn(e, s->scrape);
}

struct metrics_snapshot *metrics_snapshot__new(struct metrics *m, const struct metric_desc *descs,
					       size_t n, metrics_snapshot_fn fn, size_t size,
					       const char **why)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	int err;

	*why = NULL;
	if (!s || !(s->data = calloc(1, size)) || !(s->scrape = calloc(1, size))) {
		err = -ENOMEM;
		goto cleanup;
	}
	s->metrics = m;
	s->fn = fn;
	s->size = size;
	s->id = -1;
	pthread_mutex_init(&s->lock, NULL);
	err = metrics__add_collector(m, descs, n, collect_snapshot, s, why);
	if (err < 0) {
		pthread_mutex_destroy(&s->lock);
		goto cleanup;
	}
	s->id = err;
	return s;
cleanup:
	if (s) {
		free(s->data);
		free(s->scrape);
	}
	free(s);
	errno = -err;
	return NULL;
}

void metrics_snapshot__publish(struct metrics_snapshot *s, const void *data)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	memcpy(s->data, data, s->size);
	s->published = true;
	pthread_mutex_unlock(&s->lock);
}

void metrics_snapshot__free(struct metrics_snapshot *s)
{
	if (!s)
		return;
	metrics__remove_collector(s->metrics, s->id);
	pthread_mutex_destroy(&s->lock);
	free(s->data);
	free(s->scrape);
	free(s);
}
