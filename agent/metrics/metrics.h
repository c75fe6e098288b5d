/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Metrics in the Prometheus text format (version 0.0.4), pulled at scrape
 * time: each module that owns a number registers a collector with the
 * families it exports, and the collector is called when /metrics is
 * served. Nothing is pushed from the sampling path; a collector reads the
 * module's own counters (atomics, or a snapshot under the module's lock).
 *
 * Names follow Prometheus' conventions and are checked at registration:
 * counters end in _total, units are base units in the name (_seconds,
 * _bytes), every family has HELP text, label names are valid and do not
 * start with "__". The exposition is sorted (families by name, samples by
 * label values), so two scrapes of the same state are byte-identical.
 *
 * Thread-safe: collectors run one scrape at a time, on the thread that
 * called metrics__write() (the HTTP server's), never on the caller of
 * metrics__add_collector().
 */
#ifndef FORNAX_METRICS_H
#define FORNAX_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
};

/* One family. Collectors keep these in static storage. */
struct metric_desc {
	const char *name;          /* "fornax_samples_total" */
	const char *help;          /* one line; escaped on output */
	enum metric_type type;
	const char *const *labels; /* NULL-terminated label names; NULL: none */
};

struct metrics;
struct metrics_emitter;

/*
 * Called at every scrape. Emits samples of the families it registered,
 * in any order; a family may have no samples.
 */
typedef void (*metrics_collect_fn)(struct metrics_emitter *e, void *ctx);

/* NULL with errno set. */
struct metrics *metrics__new(void);
/* The registry must outlive every user of it; collectors are not called. */
void metrics__free(struct metrics *m);

/*
 * Registers fn as the producer of the families descs[0..n). Returns an id
 * for metrics__remove_collector() (>= 0), or -EINVAL (a name, label or help
 * text breaks the rules; *why says which), -EEXIST (a family is already
 * registered), -ENOMEM. descs and ctx must stay valid until removal.
 */
int metrics__add_collector(struct metrics *m, const struct metric_desc *descs, size_t n,
			   metrics_collect_fn fn, void *ctx, const char **why);
/* Waits for a scrape in progress; afterwards fn is never called again. */
void metrics__remove_collector(struct metrics *m, int id);

/*
 * One sample of family d. values holds one value per label name of d, in
 * the same order (NULL for a family without labels). Values are copied;
 * invalid UTF-8 is replaced with U+FFFD. A sample of a family the collector
 * did not register, or one whose labels repeat another sample's, is left
 * out and counted in fornax_metrics_dropped_samples_total.
 */
void metrics_emit(struct metrics_emitter *e, const struct metric_desc *d,
		  const char *const *values, double value);
/* The same for an exact integer (a counter beyond 2^53 stays exact in the text). */
void metrics_emit_u64(struct metrics_emitter *e, const struct metric_desc *d,
		      const char *const *values, uint64_t value);

/* Writes the exposition of every collector to out. Returns 0 or -errno (-ENOMEM, -EIO). */
int metrics__write(struct metrics *m, FILE *out);

/* Content-Type of what metrics__write() produces. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Standard collectors.
 *
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds, process_threads: the names Prometheus' client
 * libraries use, read from this process's /proc/self.
 */
int metrics__add_process_collector(struct metrics *m);
/* fornax_build_info{version="..."} 1 */
int metrics__add_build_info(struct metrics *m, const char *version);

/*
 * A collector over a copy: for numbers a loop owns that are not safe to
 * read from another thread. The loop calls metrics_snapshot__publish()
 * with its struct (size bytes) after each turn; a scrape emits fn over
 * the last copy published (nothing before the first). publish and free
 * take NULL, so a loop without a registry needs no check.
 */
typedef void (*metrics_snapshot_fn)(struct metrics_emitter *e, const void *data);
struct metrics_snapshot;

/* NULL with errno set (and *why for EINVAL), as metrics__add_collector(). */
struct metrics_snapshot *metrics_snapshot__new(struct metrics *m, const struct metric_desc *descs,
					       size_t n, metrics_snapshot_fn fn, size_t size,
					       const char **why);
void metrics_snapshot__publish(struct metrics_snapshot *s, const void *data);
/* Unregisters (waiting for a scrape in progress) and frees. */
void metrics_snapshot__free(struct metrics_snapshot *s);

/* For callers that validate names before registering anything. */
int metric_name__check(const char *name, enum metric_type type, const char **why);
int metric_label_name__check(const char *name, const char **why);

#endif /* FORNAX_METRICS_H */
