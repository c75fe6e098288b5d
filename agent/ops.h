/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operating the running agent, wired from the composition root: the
 * metrics registry and the collectors of each stage, the HTTP endpoint
 * (--http-address) with its health checks and on-demand captures, the
 * pod cache (--kubernetes), and systemd's notifications. The drain loop
 * calls ops__after_drain() each turn; everything else runs on the HTTP
 * server's and the pod cache's own threads.
 */
#ifndef FORNAX_OPS_H
#define FORNAX_OPS_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"
#include "http_server.h"
#include "sampler.h"
#include "sampler_stats.h"
#include "window.h"

struct metrics;
struct metrics_snapshot;
struct capture;
struct k8s_pods;
struct lifecycle;
struct unwinder;
struct uploader;

/* The drain loop's own books, published after each turn. */
struct ops_loop_stats {
	__u64 windows_written;
	__u64 write_errors;
	__u64 late_sum_ns;
	__u64 late_max_ns;
	__u64 last_drain_realtime_ns;
};

struct ops {
	struct metrics *metrics;
	struct http_server *http;
	struct capture *capture;
	struct k8s_pods *k8s; /* NULL without --kubernetes */
	struct metrics_snapshot *totals, *caches, *loop;
	struct http_heartbeat heartbeat;
	_Atomic bool drained;  /* a drain has completed: ready */
	__u64 watchdog_ns;     /* WATCHDOG=1 at least this often; 0: no watchdog */
	__u64 last_watchdog_ns;
};

/* Before the sampler: the pod cache, so the first windows can use it. 0 or -errno (logged). */
int ops__start_kubernetes(struct ops *o, const struct config *cfg);

/*
 * Once every stage is up: the registry and the collectors, then the HTTP
 * endpoint if configured. window_opts is what each capture's window is
 * made from. 0 or -errno (logged).
 */
int ops__start(struct ops *o, const struct config *cfg, const struct window_opts *window_opts,
	       struct lifecycle *lc, struct unwinder *u, struct uploader *up);

/* After setup: READY=1 to systemd. */
void ops__ready(struct ops *o);

/* Each turn of the drain loop, after its drain. */
void ops__after_drain(struct ops *o, const struct sampler_totals *totals,
		      const struct sampler_drain_stats *st, struct lifecycle *lc,
		      const struct ops_loop_stats *loop);

/* The samples of a drain, to the capture in progress too (a sampler_sample_fn's half). */
int ops__add_sample(struct ops *o, const struct sampler_sample *sample);

/*
 * SIGHUP: the configuration read again and what a running agent can change
 * taken (config__reload()); with RELOADING=1 and READY=1 to systemd.
 */
void ops__reload(struct ops *o, struct config *cfg, int argc, char **argv, char **envp);

/* STOPPING=1, then the endpoint stops (a capture in progress is cancelled). */
void ops__stop(struct ops *o);
/* After the stages the collectors read are gone, not before ops__stop(). */
void ops__free(struct ops *o);

#endif /* FORNAX_OPS_H */
