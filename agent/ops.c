// SPDX-License-Identifier: Apache-2.0
#include "ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "k8s_pods.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "timeconst.h"
#include "unwinder.h"
#include "upload.h"

/* /healthz fails when the drain loop has not come round for this long (or 3 drains). */
#define MIN_HEARTBEAT_AGE_NS (10 * NSEC_PER_SEC)
/* Startup waits this long for the first list of pods before sampling without names. */
#define K8S_SYNC_WAIT_NS (5 * NSEC_PER_SEC)

static void on_k8s_event(void *ctx, enum k8s_event_level level, const char *msg)
{
	(void)ctx;
	if (level == K8S_EVENT_WARN)
		log_warn_ratelimited("kubernetes: %s", msg);
	else
		log_info("kubernetes: %s", msg);
}

int ops__start_kubernetes(struct ops *o, const struct config *cfg)
{
	int err;

	if (!cfg->kubernetes)
		return 0;
	o->k8s = k8s_pods__new(&(struct k8s_pods_opts){
		.api_url = cfg->kubernetes_api,
		.node_name = cfg->node_name,
		.on_event = on_k8s_event,
	});
	if (!o->k8s) {
		err = -errno;
		log_error("--kubernetes: %s", err == -EINVAL ? "no API server (set --kubernetes-api, "
			  "or run in a pod)" : strerror(-err));
		return err;
	}
	if (k8s_pods__wait_synced(o->k8s, K8S_SYNC_WAIT_NS))
		log_warn("kubernetes: no list of this node's pods yet: samples are named once it "
			 "arrives");
	return 0;
}

static const struct metric_desc loop_descs[] = {
	{ "fornax_windows_written_total", "Profile windows written to every output.",
	  METRIC_COUNTER, NULL },
	{ "fornax_window_write_errors_total", "Profile files that could not be written.",
	  METRIC_COUNTER, NULL },
	{ "fornax_drain_late_seconds_total",
	  "How late the drain loop woke for its drains, summed.", METRIC_COUNTER, NULL },
	{ "fornax_drain_late_seconds_max", "The latest the drain loop woke for a drain.",
	  METRIC_GAUGE, NULL },
	{ "fornax_last_drain_timestamp_seconds", "When the last drain ended (Unix time).",
	  METRIC_GAUGE, NULL },
};

static void emit_loop(struct metrics_emitter *e, const void *data)
{
	const struct ops_loop_stats *l = data;

	metrics_emit_u64(e, &loop_descs[0], NULL, l->windows_written);
	metrics_emit_u64(e, &loop_descs[1], NULL, l->write_errors);
	metrics_emit(e, &loop_descs[2], NULL, (double)l->late_sum_ns / NSEC_PER_SEC);
	metrics_emit(e, &loop_descs[3], NULL, (double)l->late_max_ns / NSEC_PER_SEC);
	metrics_emit(e, &loop_descs[4], NULL, (double)l->last_drain_realtime_ns / NSEC_PER_SEC);
}

/* Each stage registers what it owns; a stage without a registry entry is logged, not fatal. */
static int add_collectors(struct ops *o, struct lifecycle *lc, struct unwinder *u,
			  struct uploader *up)
{
	const char *why;
	int err;

	o->metrics = metrics__new();
	if (!o->metrics)
		return -errno;
	err = metrics__add_process_collector(o->metrics);
	err = err ?: metrics__add_build_info(o->metrics, FORNAX_VERSION);
	if (!err && !(o->totals = sampler_totals__add_metrics(o->metrics)))
		err = -errno;
	if (!err && lc && !(o->caches = lifecycle__add_cache_metrics(o->metrics)))
		err = -errno;
	if (!err && !(o->loop = metrics_snapshot__new(o->metrics, loop_descs,
						      sizeof(loop_descs) / sizeof(loop_descs[0]),
						      emit_loop, sizeof(struct ops_loop_stats),
						      &why)))
		err = -errno;
	if (!err && u)
		err = unwinder__add_metrics(u, o->metrics);
	if (!err && up)
		err = uploader__add_metrics(up, o->metrics);
	if (!err && o->k8s) {
		int id = k8s_pods__add_metrics(o->k8s, o->metrics);

		err = id < 0 ? id : 0;
	}
	return err;
}

static int ready_check(void *ctx, char *why, size_t why_size)
{
	struct ops *o = ctx;
	struct k8s_pods_stats ks;

	if (!atomic_load(&o->drained)) {
		snprintf(why, why_size, "no drain yet");
		return 1;
	}
	if (o->k8s) {
		k8s_pods__stats(o->k8s, &ks);
		if (!ks.synced) {
			snprintf(why, why_size, "no list of this node's pods yet");
			return 1;
		}
	}
	return 0;
}

static void http_log(void *ctx, const char *msg)
{
	(void)ctx;
	log_warn_ratelimited("http: %s", msg);
}

static int start_http(struct ops *o, const struct config *cfg)
{
	__u64 max_age = 3 * cfg->drain_interval_ns;
	const char *why = NULL;
	int err;

	if (max_age < MIN_HEARTBEAT_AGE_NS)
		max_age = MIN_HEARTBEAT_AGE_NS;
	http_heartbeat__init(&o->heartbeat, max_age);
	o->http = http_server__new(&(struct http_server_opts){
		.address = cfg->http_address,
		.metrics = o->metrics,
		.capture = capture__run,
		.capture_cancel = capture__cancel,
		.capture_ctx = o->capture,
		.default_hz = cfg->frequency,
		.max_hz = cfg->frequency,
		.log = http_log,
	}, &why);
	if (!o->http) {
		err = -errno;
		log_error("--http-address %s: %s", cfg->http_address, why ? why : strerror(-err));
		return err;
	}
	err = http_server__add_check(o->http, HTTP_CHECK_LIVE | HTTP_CHECK_READY, "drain",
				     http_heartbeat__check, &o->heartbeat);
	err = err ?: http_server__add_check(o->http, HTTP_CHECK_READY, "sampling", ready_check, o);
	if (err)
		return err;
	log_info("serving /metrics, /healthz, /readyz and /debug/pprof/profile on %s (port %d)",
		 cfg->http_address, http_server__port(o->http));
	return 0;
}

int ops__start(struct ops *o, const struct config *cfg, const struct window_opts *window_opts,
	       struct lifecycle *lc, struct unwinder *u, struct uploader *up)
{
	struct window_opts wo = *window_opts;
	int err;

	o->watchdog_ns = notify__watchdog_interval_ns();
	o->last_watchdog_ns = clock_ns(CLOCK_MONOTONIC);
	if (!cfg->http_address)
		return 0;
	err = add_collectors(o, lc, u, up);
	if (err) {
		log_error("registering metrics: %s", strerror(-err));
		return err;
	}
	o->capture = capture__new(&wo);
	if (!o->capture)
		return -errno;
	return start_http(o, cfg);
}

void ops__ready(struct ops *o)
{
	int err = notify__send("READY=1\nSTATUS=profiling");

	(void)o;
	if (err < 0)
		log_warn("telling systemd we are ready: %s, ignoring", strerror(-err));
}

int ops__add_sample(struct ops *o, const struct sampler_sample *sample)
{
	return o->capture ? capture__add_sample(sample, o->capture) : 0;
}

void ops__after_drain(struct ops *o, const struct sampler_totals *totals,
		      const struct sampler_drain_stats *st, struct lifecycle *lc,
		      const struct ops_loop_stats *loop)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);

	metrics_snapshot__publish(o->totals, totals);
	metrics_snapshot__publish(o->loop, loop);
	if (o->caches)
		lifecycle__publish_caches(lc, o->caches);
	capture__after_drain(o->capture, st);
	http_heartbeat__beat(&o->heartbeat);
	atomic_store(&o->drained, true);
	/* The drain loop came round: that is what the watchdog watches. */
	if (o->watchdog_ns && now - o->last_watchdog_ns >= o->watchdog_ns) {
		(void)notify__send("WATCHDOG=1");
		o->last_watchdog_ns = now;
	}
}

void ops__stop(struct ops *o)
{
	(void)notify__send("STOPPING=1");
	http_server__free(o->http);
	o->http = NULL;
}

void ops__free(struct ops *o)
{
	http_server__free(o->http);
	capture__free(o->capture);
	metrics_snapshot__free(o->totals);
	metrics_snapshot__free(o->caches);
	metrics_snapshot__free(o->loop);
	k8s_pods__free(o->k8s);
	metrics__free(o->metrics);
	*o = (struct ops){};
}

void ops__reload(struct ops *o, struct config *cfg, int argc, char **argv, char **envp)
{
	(void)o;
	(void)notify__send("RELOADING=1");
	if (config__reload(cfg, argc, argv, envp) == 0) {
		log_set_level(cfg->verbosity < 0 ? LOG_WARN : LOG_INFO + cfg->verbosity);
		log_info("SIGHUP: configuration re-read");
	}
	(void)notify__send("READY=1");
}
