// SPDX-License-Identifier: Apache-2.0
/* The CFI tables in kernel maps as Prometheus families, read under the unwinder's lock. */
#include "unwinder.h"

#include "metrics.h"

static const char *const space_label[] = { "space", NULL };
static const char *const outcome_label[] = { "outcome", NULL };

enum { PROCESSES, TABLES, PENDING, ROWS, MAP_BYTES, BUILT, BUILD_SECONDS, TABLE_EVENTS,
       NR_DESCS };

static const struct metric_desc unwind_descs[NR_DESCS] = {
	[PROCESSES] = { "fornax_unwind_processes",
			"Sampled processes whose mappings the CFI walker knows.", METRIC_GAUGE, NULL },
	[TABLES] = { "fornax_unwind_tables", "CFI tables loaded in kernel maps.", METRIC_GAUGE, NULL },
	[PENDING] = { "fornax_unwind_tables_pending", "CFI tables waiting to be built.",
		      METRIC_GAUGE, NULL },
	[ROWS] = { "fornax_unwind_rows", "CFI rows loaded in kernel maps.", METRIC_GAUGE, NULL },
	[MAP_BYTES] = { "fornax_unwind_map_bytes",
			"Kernel map memory of the unwind tables, by space.", METRIC_GAUGE,
			space_label },
	[BUILT] = { "fornax_unwind_tables_built_total", "CFI tables built.", METRIC_COUNTER, NULL },
	[BUILD_SECONDS] = { "fornax_unwind_build_seconds_total",
			    "Time spent building CFI tables.", METRIC_COUNTER, NULL },
	[TABLE_EVENTS] = { "fornax_unwind_table_events_total",
			   "Tables evicted, refused for room, and files without usable CFI.",
			   METRIC_COUNTER, outcome_label },
};

static void collect_unwind(struct metrics_emitter *e, void *ctx)
{
	struct unwinder_stats st;

	unwinder__stats(ctx, &st);
	metrics_emit_u64(e, &unwind_descs[PROCESSES], NULL, st.processes);
	metrics_emit_u64(e, &unwind_descs[TABLES], NULL, st.tables);
	metrics_emit_u64(e, &unwind_descs[PENDING], NULL, st.tables_pending);
	metrics_emit_u64(e, &unwind_descs[ROWS], NULL, st.rows);
	metrics_emit_u64(e, &unwind_descs[MAP_BYTES], (const char *const[]){ "rows" },
			 st.row_bytes);
	metrics_emit_u64(e, &unwind_descs[MAP_BYTES], (const char *const[]){ "mappings" },
			 st.mapping_bytes);
	metrics_emit_u64(e, &unwind_descs[BUILT], NULL, st.tables_built);
	metrics_emit(e, &unwind_descs[BUILD_SECONDS], NULL, (double)st.build_ns / 1e9);
	metrics_emit_u64(e, &unwind_descs[TABLE_EVENTS], (const char *const[]){ "evicted" },
			 st.tables_evicted);
	metrics_emit_u64(e, &unwind_descs[TABLE_EVENTS], (const char *const[]){ "no_space" },
			 st.tables_no_space);
	metrics_emit_u64(e, &unwind_descs[TABLE_EVENTS], (const char *const[]){ "no_cfi" },
			 st.files_failed);
}

int unwinder__add_metrics(struct unwinder *u, struct metrics *m)
{
	const char *why;
	int id = metrics__add_collector(m, unwind_descs, NR_DESCS, collect_unwind, u, &why);

	return id < 0 ? id : 0;
}
