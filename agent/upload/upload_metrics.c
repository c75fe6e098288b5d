// SPDX-License-Identifier: Apache-2.0
/* The upload path's books as Prometheus families, read under the uploader's lock. */
#include "upload.h"

#include "metrics.h"

static const char *const outcome_label[] = { "outcome", NULL };
static const char *const reason_label[] = { "reason", NULL };

enum { WINDOWS, DROPPED, REQUESTS, BYTES, QUEUED, SPOOLED, NR_DESCS };

static const struct metric_desc upload_descs[NR_DESCS] = {
	[WINDOWS] = { "fornax_upload_windows_total",
		      "Windows by what became of them: produced, empty, sent (accepted by the "
		      "store), replayed (sent from the spool), spooled.",
		      METRIC_COUNTER, outcome_label },
	[DROPPED] = { "fornax_upload_dropped_windows_total",
		      "Windows that will never reach the store, by reason.", METRIC_COUNTER,
		      reason_label },
	[REQUESTS] = { "fornax_upload_requests_total",
		       "Requests to the store: every attempt, and those retried.", METRIC_COUNTER,
		       outcome_label },
	[BYTES] = { "fornax_upload_sent_bytes_total",
		    "Request bodies of the windows the store accepted.", METRIC_COUNTER, NULL },
	[QUEUED] = { "fornax_upload_queue_windows", "Windows in the in-memory queue.",
		     METRIC_GAUGE, NULL },
	[SPOOLED] = { "fornax_upload_spool_windows", "Windows in the spool directory.",
		      METRIC_GAUGE, NULL },
};

static void emit(struct metrics_emitter *e, int desc, const char *label, __u64 v)
{
	metrics_emit_u64(e, &upload_descs[desc], label ? (const char *const[]){ label } : NULL, v);
}

static void collect_upload(struct metrics_emitter *e, void *ctx)
{
	struct uploader_stats st;

	uploader__stats(ctx, &st);
	emit(e, WINDOWS, "produced", st.produced);
	emit(e, WINDOWS, "empty", st.empty);
	emit(e, WINDOWS, "sent", st.delivered);
	emit(e, WINDOWS, "replayed", st.replayed);
	emit(e, WINDOWS, "spooled", st.spooled);
	for (int i = 0; i < NR_UPLOAD_DROPS; i++)
		emit(e, DROPPED, upload_drop_name(i), st.dropped[i]);
	emit(e, REQUESTS, "attempt", st.attempts);
	emit(e, REQUESTS, "retry", st.retries);
	emit(e, BYTES, NULL, st.bytes_sent);
	emit(e, QUEUED, NULL, st.queued);
	emit(e, SPOOLED, NULL, st.in_spool);
}

int uploader__add_metrics(struct uploader *u, struct metrics *m)
{
	const char *why;
	int id = metrics__add_collector(m, upload_descs, NR_DESCS, collect_upload, u, &why);

	return id < 0 ? id : 0;
}
