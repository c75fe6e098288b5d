// SPDX-License-Identifier: Apache-2.0
/* The process trackers' caches (symbolizer, cgroups) as Prometheus families. */
#include "lifecycle.h"

#include "metrics.h"

struct cache_stats {
	struct symbolizer_stats sym;
	struct cgroups_stats cgroups;
};

static const char *const kind_label[] = { "kind", NULL };
static const char *const result_label[] = { "result", NULL };

enum { CACHED, EVICTED, LOOKUPS, MAPS_READS, OPEN_ERRORS, UNKNOWN, DEBUGINFOD, KSYMS, NR_DESCS };

static const struct metric_desc cache_descs[NR_DESCS] = {
	[CACHED] = { "fornax_symbolizer_cached",
		     "Entries the symbolizer's bounded caches hold now, by kind.", METRIC_GAUGE,
		     kind_label },
	[EVICTED] = { "fornax_symbolizer_evicted_total",
		      "Cache entries evicted after going unused, by kind.", METRIC_COUNTER,
		      kind_label },
	[LOOKUPS] = { "fornax_symbolizer_address_lookups_total",
		      "Address lookups by whether the address cache had them.", METRIC_COUNTER,
		      result_label },
	[MAPS_READS] = { "fornax_symbolizer_maps_reads_total",
			 "/proc/PID/maps files parsed.", METRIC_COUNTER, NULL },
	[OPEN_ERRORS] = { "fornax_symbolizer_file_errors_total",
			  "Mapped files that could not be opened or parsed.", METRIC_COUNTER, NULL },
	[UNKNOWN] = { "fornax_symbolizer_unknown_addresses_total",
		      "Addresses no symbol was found for.", METRIC_COUNTER, NULL },
	[DEBUGINFOD] = { "fornax_debuginfod_lookups_total",
			 "Debug files asked of debuginfod, by whether one was found.",
			 METRIC_COUNTER, result_label },
	[KSYMS] = { "fornax_kernel_symbols_total",
		    "Kernel symbols that came (added; dropped when over the bound) or went "
		    "(removed) after /proc/kallsyms was read: BPF programs.",
		    METRIC_COUNTER, result_label },
};

static void emit(struct metrics_emitter *e, int desc, const char *label, __u64 v)
{
	metrics_emit_u64(e, &cache_descs[desc], label ? (const char *const[]){ label } : NULL, v);
}

static void emit_caches(struct metrics_emitter *e, const void *data)
{
	const struct cache_stats *c = data;

	emit(e, CACHED, "processes", c->sym.processes);
	emit(e, CACHED, "files", c->sym.files);
	emit(e, CACHED, "addresses", c->sym.cached_addresses);
	emit(e, CACHED, "cgroups", c->cgroups.cached);
	emit(e, CACHED, "kernel_symbols", c->sym.kernel_symbols);
	emit(e, EVICTED, "processes", c->sym.evicted_processes);
	emit(e, EVICTED, "files", c->sym.evicted_files);
	emit(e, EVICTED, "addresses", c->sym.evicted_addresses);
	emit(e, EVICTED, "cgroups", c->cgroups.evicted);
	emit(e, LOOKUPS, "hit", c->sym.cache_hits);
	emit(e, LOOKUPS, "miss", c->sym.cache_misses);
	emit(e, MAPS_READS, NULL, c->sym.maps_reads);
	emit(e, OPEN_ERRORS, NULL, c->sym.file_open_errors);
	emit(e, UNKNOWN, NULL, c->sym.unknown_addresses);
	emit(e, DEBUGINFOD, "found", c->sym.debuginfod_found);
	emit(e, DEBUGINFOD, "missed", c->sym.debuginfod_missed);
	emit(e, KSYMS, "added", c->sym.kernel_symbols_added);
	emit(e, KSYMS, "removed", c->sym.kernel_symbols_removed);
	emit(e, KSYMS, "dropped", c->sym.kernel_symbols_dropped);
}

struct metrics_snapshot *lifecycle__add_cache_metrics(struct metrics *m)
{
	const char *why;

	return metrics_snapshot__new(m, cache_descs, NR_DESCS, emit_caches,
				     sizeof(struct cache_stats), &why);
}

void lifecycle__publish_caches(const struct lifecycle *lc, struct metrics_snapshot *s)
{
	struct cache_stats c = {};

	if (!s)
		return;
	lifecycle__cache_stats(lc, &c.sym, &c.cgroups);
	metrics_snapshot__publish(s, &c);
}
