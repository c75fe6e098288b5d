/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When a ring-buffer record wakes the agent. A wake-up per record costs
 * the process that made it more than the record itself: the kernel raises
 * an irq_work (a self-IPI, a VM exit under a hypervisor) and wakes the
 * agent, on every exec, fork and exit under churn. So a record wakes the
 * agent only if none did for FORNAX_RINGBUF_WAKEUP_GAP_NS, or if a quarter
 * of the ring is waiting; the agent, once woken, looks again after that gap
 * for as long as records keep coming (proc_watch__poll_timeout_ms()), so
 * none waits much longer than the gap. An idle machine wakes nobody.
 *
 * The time of the last wake-up is per object and read and written without
 * atomics: two CPUs racing at most wake the agent twice.
 */
#ifndef FORNAX_RINGBUF_WAKEUP_BPF_H
#define FORNAX_RINGBUF_WAKEUP_BPF_H

#include <bpf/bpf_helpers.h>
#include "proc_events.h"

__u64 ringbuf_last_wakeup_ns;

/* The flags for bpf_ringbuf_output() of a record to ring. */
static __always_inline __u64 ringbuf_wakeup_flags(void *ring)
{
	__u64 now = bpf_ktime_get_ns();

	if (now - ringbuf_last_wakeup_ns < FORNAX_RINGBUF_WAKEUP_GAP_NS &&
	    bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) <
		    bpf_ringbuf_query(ring, BPF_RB_RING_SIZE) / 4)
		return BPF_RB_NO_WAKEUP;
	ringbuf_last_wakeup_ns = now;
	return BPF_RB_FORCE_WAKEUP;
}

#endif /* FORNAX_RINGBUF_WAKEUP_BPF_H */
