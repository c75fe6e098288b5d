/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Process lifecycle from the kernel (bpf/proc_events.bpf.h): exec and exit
 * records read from a BPF ring buffer. proc_watch makes the ring buffer and
 * its counters; the programs that write them are part of the sampler's
 * object (one object: the kernel's BTF is read once), which takes the maps
 * from proc_watch__maps(). Nothing comes before the sampler has loaded
 * them. The agent polls proc_watch__fd()
 * with its timers (and, while records come, every wake-up gap: the kernel
 * wakes it at most once per gap) and hands each event to the symbolizer,
 * so a process's maps are read while it is alive and its final layout is
 * known at exit.
 */
#ifndef FORNAX_PROC_WATCH_H
#define FORNAX_PROC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "proc_events.h"
#include "sampler.h"

struct proc_watch;

struct proc_watch_opts {
	size_t ringbuf_bytes;                /* power of two; 0: sized from the CPUs */
	bool vma_iterator; /* the kernel has the BPF VMA iterator (6.7): walk mappings at exit */
};

struct proc_event {
	enum fornax_proc_event_kind kind;   /* EXEC, FIRST_SAMPLE, FORK or EXIT */
	__u32 pid;
	__u64 process_start_ns;
	__u64 cgroup_id;
	/* EXIT: the executable file mappings at exit, complete when maps_complete */
	const struct fornax_proc_vma *vmas;
	size_t n_vmas;
	bool maps_complete;
	__u64 vdso_start;
	/* FORK: the parent */
	__u32 parent_pid;
	__u64 parent_start_ns;
	/* EXEC: the executed file's name (a script's interpreter); "" if not known */
	char exe_name[FORNAX_EXE_NAME_LEN];
	bool exe_name_cut; /* exe_name is the name's start only */
};

/* Non-zero stops the consumption and is returned by proc_watch__consume(). */
typedef int (*proc_event_fn)(const struct proc_event *ev, void *ctx);

struct proc_watch_stats {
	struct fornax_proc_event_stats kernel; /* summed over CPUs */
	__u64 delivered;
	__u64 stale_partial; /* mapping records whose exit record never came */
	bool exit_maps;      /* the kernel walks mappings at exit */
};

/* NULL with errno set; the reason is logged. */
struct proc_watch *proc_watch__new(const struct proc_watch_opts *opts, proc_event_fn fn,
				     void *ctx);
void proc_watch__free(struct proc_watch *pe);

/* The maps for sampler_opts.proc_maps, valid as long as pw. */
const struct sampler_proc_maps *proc_watch__maps(const struct proc_watch *pw);

/* Reads records of another ring buffer map too (the sampler's announcements). */
int proc_watch__add_ringbuf(struct proc_watch *pw, int map_fd);

/* Readable (POLLIN) when records are waiting. */
int proc_watch__fd(const struct proc_watch *pe);

/* Hands every waiting record to fn. Returns how many, or -errno. */
int proc_watch__consume(struct proc_watch *pe);

/*
 * How long the caller may wait on proc_watch__fd() before consuming again:
 * -1 (until it is readable) when the last consume found nothing, else the
 * kernel's wake-up gap (FORNAX_RINGBUF_WAKEUP_GAP_NS): records written
 * within the gap after a wake-up wake no one. pw may be NULL.
 */
int proc_watch__poll_timeout_ms(const struct proc_watch *pw);

/* Drops mapping records left without their exit record for two cycles. */
void proc_watch__end_cycle(struct proc_watch *pe);

int proc_watch__stats(const struct proc_watch *pe, struct proc_watch_stats *out);
/* Logs the kernel's process-event counters of the run; pw may be NULL. */
void proc_watch__log_summary(const struct proc_watch *pw);

#endif /* FORNAX_PROC_WATCH_H */
