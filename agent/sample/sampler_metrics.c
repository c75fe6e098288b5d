// SPDX-License-Identifier: Apache-2.0
/* The sampling program's run totals as Prometheus families. */
#include "sampler_stats.h"

#include <errno.h>

#include "metrics.h"

static const char *const reason_label[] = { "reason", NULL };
static const char *const walk_labels[] = { "method", "end", NULL };

enum { SAMPLES, LOST, SKIPPED, STACKS_DROPPED, WALKS, DRAINS, NR_DESCS };

static const struct metric_desc sampler_descs[NR_DESCS] = {
	[SAMPLES] = { "fornax_samples_total",
		      "Samples drained from the kernel and counted into profiles.", METRIC_COUNTER, NULL },
	[LOST] = { "fornax_samples_lost_total",
		   "Samples the kernel could not record, by reason.", METRIC_COUNTER, reason_label },
	[SKIPPED] = { "fornax_samples_skipped_total",
		      "Samples not kept on purpose: the pid or cgroup filter, the idle task.",
		      METRIC_COUNTER, reason_label },
	[STACKS_DROPPED] = { "fornax_stacks_dropped_total",
			     "Samples kept without (all of) their stack, by reason.",
			     METRIC_COUNTER, reason_label },
	[WALKS] = { "fornax_unwind_walks_total",
		    "User stacks by how they were walked and how a CFI walk ended.",
		    METRIC_COUNTER, walk_labels },
	[DRAINS] = { "fornax_drains_total", "Drains of the kernel's maps.", METRIC_COUNTER, NULL },
};

/* Label values: bpf/profile.h's enum fornax_unwind_end. */
static const char *const end_names[FORNAX_END_NR] = {
	[FORNAX_END_COMPLETE] = "complete",
	[FORNAX_END_DEPTH] = "depth_limit",
	[FORNAX_END_PC_NOT_COVERED] = "pc_not_covered",
	[FORNAX_END_READ_FAULT] = "read_fault",
	[FORNAX_END_TABLE_MISSING] = "table_missing",
	[FORNAX_END_UNSUPPORTED] = "unsupported",
	[FORNAX_END_BAD_FRAME] = "bad_frame",
};

static void emit_reason(struct metrics_emitter *e, int desc, const char *reason, __u64 v)
{
	metrics_emit_u64(e, &sampler_descs[desc], (const char *const[]){ reason }, v);
}

static void emit_totals(struct metrics_emitter *e, const void *data)
{
	const struct sampler_totals *t = data;

	metrics_emit_u64(e, &sampler_descs[SAMPLES], NULL, t->samples);
	metrics_emit_u64(e, &sampler_descs[DRAINS], NULL, t->drains);
	emit_reason(e, LOST, "counts_map_full", t->lost);
	emit_reason(e, SKIPPED, "filter", t->filtered);
	emit_reason(e, SKIPPED, "idle", t->idle);
	emit_reason(e, STACKS_DROPPED, "stack_map_full", t->stacks_dropped);
	emit_reason(e, STACKS_DROPPED, "stack_missing", t->stacks_missing);
	emit_reason(e, STACKS_DROPPED, "user_stack_truncated", t->user_stacks_truncated);
	metrics_emit_u64(e, &sampler_descs[WALKS], (const char *const[]){ "fp", "none" },
			 t->unwind_fp);
	for (int i = FORNAX_END_COMPLETE; i < FORNAX_END_NR; i++)
		if (end_names[i])
			metrics_emit_u64(e, &sampler_descs[WALKS],
					 (const char *const[]){ "cfi", end_names[i] },
					 t->unwind_end[i]);
}

struct metrics_snapshot *sampler_totals__add_metrics(struct metrics *m)
{
	const char *why;

	return metrics_snapshot__new(m, sampler_descs, NR_DESCS, emit_totals,
				     sizeof(struct sampler_totals), &why);
}
