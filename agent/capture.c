// SPDX-License-Identifier: Apache-2.0
#include "capture.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pprof_codec.h"
#include "timeconst.h"

enum capture_state {
	CAPTURE_IDLE,
	CAPTURE_REQUESTED, /* waiting for the next drain to open its window */
	CAPTURE_RUNNING,   /* the drain loop adds samples to window */
	CAPTURE_DONE,      /* result (or err) ready for the requester */
};

struct capture {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct window_opts opts;
	enum capture_state state;
	bool cancelled;
	struct http_capture_request req;
	/* the drain loop's, once running; the requester's again once DONE */
	struct window *window;
	__u64 start_ns, end_ns;
	__s32 pid; /* copy of req.pid the sample path reads without the lock */
	bool active;
	void *data;
	size_t size;
	int err;
};

struct capture *capture__new(const struct window_opts *opts)
{
	struct capture *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;

	if (!c)
		return NULL;
	c->opts = *opts;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	return c;
}

void capture__free(struct capture *c)
{
	if (!c)
		return;
	window__free(c->window);
	free(c->data);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void capture__cancel(void *ctx)
{
	struct capture *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->cancelled = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int capture__run(void *ctx, const struct http_capture_request *req,
		 struct http_capture_result *out)
{
	struct capture *c = ctx;
	int err;

	pthread_mutex_lock(&c->lock);
	if (c->cancelled) {
		err = -ECANCELED;
		snprintf(out->error, sizeof(out->error), "the agent is stopping");
		goto cleanup;
	}
	if (req->hz != c->opts.frequency) {
		err = -EINVAL;
		snprintf(out->error, sizeof(out->error),
			 "this agent samples at %u Hz (--frequency); ask for hz=%u or leave it out",
			 c->opts.frequency, c->opts.frequency);
		goto cleanup;
	}
	if (c->state != CAPTURE_IDLE) {
		err = -EAGAIN;
		snprintf(out->error, sizeof(out->error), "a capture is in progress");
		goto cleanup;
	}
	c->req = *req;
	c->state = CAPTURE_REQUESTED;
	while (c->state != CAPTURE_DONE && !c->cancelled)
		pthread_cond_wait(&c->cond, &c->lock);
	if (c->state != CAPTURE_DONE) {
		/* the drain loop stops before the server: what it held is freed with it */
		err = -ECANCELED;
		snprintf(out->error, sizeof(out->error), "the agent is stopping");
		goto cleanup;
	}
	err = c->err;
	if (err)
		snprintf(out->error, sizeof(out->error), "encoding the profile: %s", strerror(-err));
	out->data = c->data;
	out->size = c->size;
	c->data = NULL;
	c->state = CAPTURE_IDLE;
cleanup:
	pthread_mutex_unlock(&c->lock);
	return err;
}

int capture__add_sample(const struct sampler_sample *sample, void *ctx)
{
	struct capture *c = ctx;

	/* active and window change only on this thread, in capture__after_drain() */
	if (!c->active || (c->pid && (__s32)sample->key->tgid != c->pid))
		return 0;
	return window__add_sample(sample, c->window);
}

static void start(struct capture *c, __u64 now)
{
	struct window_opts opts = c->opts;

	opts.start_realtime_ns = clock_ns(CLOCK_REALTIME);
	c->window = window__new(&opts);
	if (!c->window) {
		c->err = -errno;
		c->state = CAPTURE_DONE;
		pthread_cond_broadcast(&c->cond);
		return;
	}
	c->start_ns = now;
	c->end_ns = now + (__u64)c->req.seconds * NSEC_PER_SEC;
	c->pid = c->req.pid;
	c->active = true;
	c->state = CAPTURE_RUNNING;
}

static void finish(struct capture *c, __u64 now)
{
	const struct pprof *p = window__finish(c->window, now - c->start_ns);

	c->err = pprof__encode(p, true, &c->data, &c->size);
	window__free(c->window);
	c->window = NULL;
	c->active = false;
	c->state = CAPTURE_DONE;
	pthread_cond_broadcast(&c->cond);
}

void capture__after_drain(struct capture *c, const struct sampler_drain_stats *st)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->state == CAPTURE_RUNNING && st)
		window__add_drain_stats(c->window, st);
	if (c->cancelled && c->state == CAPTURE_RUNNING) {
		window__free(c->window);
		c->window = NULL;
		c->active = false;
		c->state = CAPTURE_IDLE;
	} else if (c->state == CAPTURE_REQUESTED) {
		start(c, now);
	} else if (c->state == CAPTURE_RUNNING && now >= c->end_ns) {
		finish(c, now);
	}
	pthread_mutex_unlock(&c->lock);
}
