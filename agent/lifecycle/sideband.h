/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process knowledge pushed by the kernel through perf's sideband records,
 * the way perf itself learns it: one PERF_COUNT_SW_DUMMY event per CPU that
 * samples nothing and reports every executable mapping (MMAP2), exec
 * (COMM with COMM_EXEC), fork and exit of every process. Each process's
 * executable mappings are kept from its exec (or fork) to its exit, so an
 * exit knows the final layout on every kernel without walking the VMAs in
 * BPF (6.7+), and a file never seen before is named to the symbolizer the
 * moment it is mapped, while its process is alive. With a ksymbol callback
 * it also reports BPF programs' text as it comes and goes (KSYMBOL), so
 * kernel frames in programs loaded after /proc/kallsyms was read are named.
 */
#ifndef FORNAX_SIDEBAND_H
#define FORNAX_SIDEBAND_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "symbolizer.h"

struct sideband;

/* An executable file mapping as it was made, with the path the process saw. */
typedef void (*sideband_mmap_fn)(__u32 pid, const struct symbolizer_vma *vma, const char *path,
				 void *ctx);

/* A BPF program's text came (or went: gone) at [addr, addr + len), named as kallsyms names it. */
typedef void (*sideband_ksymbol_fn)(__u64 addr, __u32 len, const char *name, bool gone,
				    void *ctx);

struct sideband_opts {
	size_t ring_pages; /* data pages per CPU, a power of two; 0: the default */
	sideband_ksymbol_fn ksymbol; /* NULL: not asked for; called with sideband__new()'s ctx */
};

/* NULL with errno set (perf_event_paranoid, no perf events). */
struct sideband *sideband__new(const struct sideband_opts *opts, sideband_mmap_fn fn, void *ctx);
void sideband__free(struct sideband *sb);

/* Reads every CPU's records and applies them in time order. Returns how many, or -errno. */
int sideband__consume(struct sideband *sb);

/* A process's mappings at its exit, as symbolizer__process_exit() takes them. */
struct sideband_exit {
	struct symbolizer_exit ex; /* vmas borrowed until the next call on sb */
};

/*
 * Takes pid's mappings (reading waiting records first). Returns true with
 * *out filled when pid's image was seen from its exec or fork with no
 * record lost since (out->ex.complete), false when it is unknown here.
 */
bool sideband__take_exit(struct sideband *sb, __u32 pid, struct sideband_exit *out);

/*
 * pid's current mappings (reading waiting records first), for a live
 * process: true with *out filled (borrowed like sideband__take_exit()'s)
 * when pid was followed from its exec or fork with no record lost, so the
 * mappings stand for a /proc/PID/maps read; false otherwise.
 */
bool sideband__mappings(struct sideband *sb, __u32 pid, struct sideband_exit *out);

/* Forgets processes that exited two cycles ago without being taken (filtered out). */
void sideband__end_cycle(struct sideband *sb);

struct sideband_stats {
	__u64 records;
	__u64 mmaps;        /* executable file mappings */
	__u64 execs;
	__u64 forks;
	__u64 exits;
	__u64 lost;         /* records the kernel could not write (PERF_RECORD_LOST) */
	__u64 ksymbols;     /* BPF program text that came or went (KSYMBOL) */
	__u64 taken;        /* exits given their mappings */
	__u64 given;        /* live processes' mappings given instead of a /proc read */
	__u64 unknown;      /* exits of processes not followed from their start */
	__u64 processes;    /* followed now */
};

void sideband__stats(const struct sideband *sb, struct sideband_stats *out);

#endif /* FORNAX_SIDEBAND_H */
