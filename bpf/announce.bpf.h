/* SPDX-License-Identifier: GPL-2.0 */
/*
 * First-sample announcements from the sampling program: the first time a
 * process (tgid, start time) is sampled, a FORNAX_PROC_FIRST_SAMPLE record
 * tells the agent to read its maps now. The process is on a CPU at that
 * moment and usually past its dynamic loader, so libraries mapped after
 * exec are read while they can still be opened.
 */
#ifndef FORNAX_BPF_ANNOUNCE_H
#define FORNAX_BPF_ANNOUNCE_H

#include <bpf/bpf_helpers.h>
#include "proc_events.h"
#include "ringbuf_wakeup.bpf.h"

const volatile bool announce_processes = false;

/* tgid → start time of the process last announced; sized by the agent */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} announced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16); /* resized by the agent */
} announcements SEC(".maps");

static __always_inline void announce(__u32 tgid, __u64 start_ns, __u64 cgroup_id)
{
	struct fornax_proc_event e = {};
	__u64 *seen;

	if (!announce_processes)
		return;
	seen = bpf_map_lookup_elem(&announced, &tgid);
	if (seen && *seen == start_ns)
		return;
	if (bpf_map_update_elem(&announced, &tgid, &start_ns, BPF_ANY))
		return;
	e.kind = FORNAX_PROC_FIRST_SAMPLE;
	e.tgid = tgid;
	e.process_start_ns = start_ns;
	e.cgroup_id = cgroup_id;
	/* lost when full: the drain-time read still covers a live process */
	bpf_ringbuf_output(&announcements, &e, sizeof(e), ringbuf_wakeup_flags(&announcements));
}

#endif /* FORNAX_BPF_ANNOUNCE_H */
