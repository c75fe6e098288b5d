/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parser of JIT perf maps, /tmp/perf-PID.map, as written by node
 * --perf-basic-prof, JVM perf-map agents and python -X perf:
 *   START SIZE NAME
 * START and SIZE in hex (with or without 0x), NAME the rest of the line
 * (it may hold spaces). The file only grows while the runtime lives: it is
 * parsed in pieces, each new piece appended, and a later entry for the same
 * code wins (a JIT reuses addresses). Lines that do not parse are skipped
 * and counted; the number of entries is bounded.
 */
#ifndef FORNAX_SYMBOLIZER_PERFMAP_H
#define FORNAX_SYMBOLIZER_PERFMAP_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct perfmap;

struct perfmap_entry {
	__u64 start;
	__u64 end; /* exclusive */
	__u64 seq; /* order in the file: later wins */
	const char *name; /* owned by the perfmap */
};

/* max_entries 0: default 1M. NULL with errno set. */
struct perfmap *perfmap__new(size_t max_entries);
void perfmap__free(struct perfmap *pm);

/*
 * Parses the complete lines of buf, the continuation of what was parsed
 * before, and returns how many bytes they took (a trailing partial line is
 * left for the next call), or -ENOMEM. Entries beyond max_entries are
 * dropped and counted.
 */
ssize_t perfmap__parse(struct perfmap *pm, const char *buf, size_t len);

/* The newest entry covering addr, or NULL. */
const struct perfmap_entry *perfmap__find(struct perfmap *pm, __u64 addr);

size_t perfmap__count(const struct perfmap *pm);
size_t perfmap__skipped(const struct perfmap *pm); /* malformed lines */
size_t perfmap__dropped(const struct perfmap *pm); /* beyond max_entries */
/* Estimated heap held. */
size_t perfmap__memory(const struct perfmap *pm);

#endif /* FORNAX_SYMBOLIZER_PERFMAP_H */
