// SPDX-License-Identifier: Apache-2.0
/* What the pod cache exports to /metrics: its size and the API server's record. */
#include "k8s_impl.h"

#include "metrics.h"

static const char *const reason_labels[] = { "reason", NULL };
static const struct metric_desc k8s_descs[] = {
	{ "fornax_kubernetes_pods", "Pods of this node in the cache, deleted ones in their grace "
	  "included.", METRIC_GAUGE, NULL },
	{ "fornax_kubernetes_synced", "1 once the node's pods have been listed.", METRIC_GAUGE,
	  NULL },
	{ "fornax_kubernetes_lists_total", "Complete lists of the node's pods.", METRIC_COUNTER,
	  NULL },
	{ "fornax_kubernetes_relists_expired_total",
	  "Lists made because a watch's resource version had expired (410).", METRIC_COUNTER, NULL },
	{ "fornax_kubernetes_watch_events_total", "Watch events applied to the cache.",
	  METRIC_COUNTER, NULL },
	{ "fornax_kubernetes_request_failures_total",
	  "Requests to the API server that failed, by reason.", METRIC_COUNTER, reason_labels },
	{ "fornax_kubernetes_pods_over_limit_total", "Pods not cached because the cache was full.",
	  METRIC_COUNTER, NULL },
	{ "fornax_kubernetes_labels_dropped_total",
	  "Pod labels and annotations not kept: beyond the limit, or malformed.", METRIC_COUNTER,
	  NULL },
	{ "fornax_kubernetes_pods_evicted_total", "Deleted pods freed after their grace.",
	  METRIC_COUNTER, NULL },
};

static void collect(struct metrics_emitter *e, void *ctx)
{
	struct k8s_pods_stats s;
	static const char *const reasons[] = { "connect", "timeout", "http", "auth", "parse" };
	uint64_t n[5];

	k8s_pods__stats(ctx, &s);
	n[0] = s.errors_connect;
	n[1] = s.errors_timeout;
	n[2] = s.errors_http;
	n[3] = s.errors_auth;
	n[4] = s.errors_parse;
	metrics_emit_u64(e, &k8s_descs[0], NULL, s.pods);
	metrics_emit_u64(e, &k8s_descs[1], NULL, s.synced);
	metrics_emit_u64(e, &k8s_descs[2], NULL, s.lists);
	metrics_emit_u64(e, &k8s_descs[3], NULL, s.relists_expired);
	metrics_emit_u64(e, &k8s_descs[4], NULL, s.watch_events);
	for (size_t i = 0; i < 5; i++)
		metrics_emit_u64(e, &k8s_descs[5], (const char *[]){ reasons[i] }, n[i]);
	metrics_emit_u64(e, &k8s_descs[6], NULL, s.pods_over_limit);
	metrics_emit_u64(e, &k8s_descs[7], NULL, s.labels_dropped);
	metrics_emit_u64(e, &k8s_descs[8], NULL, s.evicted);
}

int k8s_pods__add_metrics(struct k8s_pods *p, struct metrics *m)
{
	const char *why;

	return metrics__add_collector(m, k8s_descs, sizeof(k8s_descs) / sizeof(k8s_descs[0]),
				      collect, p, &why);
}
