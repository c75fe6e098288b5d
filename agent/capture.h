/* SPDX-License-Identifier: Apache-2.0 */
/*
 * On-demand captures (/debug/pprof/profile) from the running agent's own
 * samples: no second BPF program, no change of rate. A request from an HTTP
 * thread waits; the drain loop, at its next drain, opens a window beside
 * its own, adds the samples it drains to both (the capture's only those of
 * the requested pid), and at the first drain after the requested seconds
 * finishes, encodes and hands over the profile. Symbolization stays on the
 * drain loop's thread, as the symbolizer requires.
 */
#ifndef FORNAX_CAPTURE_H
#define FORNAX_CAPTURE_H

#include <linux/types.h>

#include "http_server.h"
#include "sampler.h"
#include "window.h"

struct capture;

/* opts is copied for each capture's window (its start time is set then). NULL with errno. */
struct capture *capture__new(const struct window_opts *opts);
void capture__free(struct capture *c);

/* An http_capture_fn: blocks its HTTP thread until the profile is ready. */
int capture__run(void *ctx, const struct http_capture_request *req,
		 struct http_capture_result *out);
/* The server's capture_cancel: every capture from now on returns -ECANCELED. */
void capture__cancel(void *ctx);

/* Drain loop: a sample for the capture in progress, if any (a sampler_sample_fn). */
int capture__add_sample(const struct sampler_sample *sample, void *ctx);
/* Drain loop, after each drain: starts a requested capture, or ends a due one. */
void capture__after_drain(struct capture *c, const struct sampler_drain_stats *st);

#endif /* FORNAX_CAPTURE_H */
