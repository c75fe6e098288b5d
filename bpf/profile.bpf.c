// SPDX-License-Identifier: GPL-2.0
/*
 * Samples every CPU from a cpu-clock perf event and aggregates stacks in the
 * kernel. Two identical map sets let the agent drain one while this program
 * writes the other: the agent flips active_set, waits for an RCU grace period
 * (every run of this program that saw the old value has then finished), and
 * only then reads and clears the old set.
 *
 * The object also holds the walkers (unwind.bpf.h, python.bpf.h), the hooks
 * that record each process's mappings (unwind_vmas.bpf.h) and the process
 * lifecycle programs (proc_events.bpf.h): the agent loads only the parts it
 * uses, and libbpf reads the kernel's BTF once for all of them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "profile.h"
#include "cgroup_filter.bpf.h"
#include "announce.bpf.h"

#define ENOMEM 12
#define EFAULT 14
#define EEXIST 17
#define ENOSPC 28

const volatile bool include_idle = false;
const volatile bool collect_kernel = true;
const volatile bool collect_user = true;
const volatile bool filter_pids = false;

/* Written by the agent through the mmapped .bss. */
__u32 active_set = 0;

/* Sizes are placeholders: the agent sizes every map before load. */
struct fornax_counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct fornax_sample_key);
	__type(value, __u64);
};

struct fornax_stacks_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct fornax_stack);
};

struct fornax_counts_map counts_0 SEC(".maps"), counts_1 SEC(".maps");
struct fornax_stacks_map stacks_0 SEC(".maps"), stacks_1 SEC(".maps");

/*
 * The sets reached through maps of maps, not by name: code that names a
 * map is code for that map alone, so the whole sampling path would be
 * compiled, and verified at every start, once per set (half the load time).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FORNAX_NR_SETS);
	__type(key, __u32);
	__array(values, struct fornax_counts_map);
} counts_sets SEC(".maps") = { .values = { &counts_0, &counts_1 } };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FORNAX_NR_SETS);
	__type(key, __u32);
	__array(values, struct fornax_stacks_map);
} stacks_sets SEC(".maps") = { .values = { &stacks_0, &stacks_1 } };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FORNAX_NR_SETS);
	__type(key, __u32);
	__type(value, struct fornax_set_stats);
} set_stats SEC(".maps");

/* A stack is too big for the BPF stack: build it here, one per CPU (native, Python). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct fornax_stack);
} scratch SEC(".maps");

/* tgids to sample when filter_pids is set; the value is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

#include "unwind.bpf.h"
#include "python.bpf.h"
#include "proc_events.bpf.h"

/*
 * 64-bit mix of the frames in scratch slot `slot` (splitmix64 finalizer per
 * word); never 0, which means "no stack". A global function: the verifier
 * checks its 127-step loop once, on its own. Inlined, the loop was walked
 * again for every path that reached it, nine tenths of the sampling
 * program's verification.
 */
__noinline __u64 fornax_hash_scratch(__u32 slot)
{
	struct fornax_stack *stack = bpf_map_lookup_elem(&scratch, &slot);
	__u64 h;

	if (!stack)
		return 1;
	/* The flags too: a stack cut short must not merge with a whole one. */
	h = 0x9e3779b97f4a7c15ULL ^ stack->len ^ ((__u64)stack->flags << 32);
	for (int i = 0; i < FORNAX_MAX_STACK_DEPTH; i++) {
		__u64 x;

		if (i >= stack->len)
			break;
		x = h ^ stack->ips[i];
		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		h = x ^ (x >> 31);
	}
	return h ? h : 1;
}

/*
 * Inserts the stack filled in scratch slot `slot`; returns its id, or 0 with
 * *err set: -ENOSPC when the stacks map is full, else the map's error.
 */
static __always_inline __u64 insert_stack(void *stacks, __u32 slot, struct fornax_stack *stack,
					  struct fornax_set_stats *st, __s32 *err, bool *fresh,
					  __u64 salt)
{
	__u64 id = (fornax_hash_scratch(slot) ^ salt) ?: 1;
	/*
	 * int, not long: before Linux 6.4 ("bpf: return long from bpf_map_ops
	 * funcs") the verifier calls the map's int-returning op directly, so the
	 * error reaches R0 zero-extended (-EEXIST as 0xffffffef) and a 64-bit
	 * compare would take every stack seen before for a full map.
	 */
	int uerr = bpf_map_update_elem(stacks, &id, stack, BPF_NOEXIST);

	*err = 0;
	*fresh = uerr == 0;
	if (uerr && uerr != -EEXIST) {
		if (uerr == -E2BIG || uerr == -ENOMEM) {
			st->stack_map_full++;
			*err = -ENOSPC;
		} else {
			st->stack_other_error++;
			*err = uerr;
		}
		return 0;
	}
	return id;
}

/* Returns the stack's id, or 0 with *err set. */
static __always_inline __u64 store_stack(struct bpf_perf_event_data *ctx, void *stacks,
					 struct fornax_set_stats *st, bool user, __s32 *err)
{
	__u32 zero = 0;
	struct fornax_stack *stack = bpf_map_lookup_elem(&scratch, &zero);
	bool fresh;
	long ret;

	if (!stack) {
		*err = -ENOSPC;
		return 0;
	}
	stack->flags = 0;
	if (user)
		ret = fornax_unwind_user(ctx, stack, st);
	else
		ret = bpf_get_stack(ctx, stack->ips, sizeof(stack->ips), 0);
	if (ret <= 0) {
		if (ret == -EFAULT || ret == 0) {
			if (user)
				st->user_stack_efault++;
			else
				st->kernel_stack_efault++;
			*err = -EFAULT;
		} else {
			st->stack_other_error++;
			*err = ret;
		}
		return 0;
	}
	stack->len = ret / sizeof(__u64);
	if (user && stack->len >= FORNAX_MAX_STACK_DEPTH)
		st->user_stack_truncated++;

	return insert_stack(stacks, zero, stack, st, err, &fresh, 0);
}

/* The thread's Python frames as a stack of their own; 0 when there are none. */
static __always_inline __u64 store_python_stack(void *stacks, struct fornax_set_stats *st,
						__u32 tgid, __u32 tid)
{
	__u32 one = 1;
	struct fornax_stack *stack = bpf_map_lookup_elem(&scratch, &one);
	bool fresh = false;
	__s32 err;
	__u64 id;
	long ret;

	if (!stack)
		return 0;
	stack->flags = 0;
	ret = fornax_python_walk(stack, st, tgid, tid);
	if (ret <= 0)
		return 0;
	stack->len = ret / sizeof(__u64);
	/*
	 * Per process: processes of one binary share code objects at the same
	 * addresses (3.11's deep-frozen modules), and a stack new to one of them
	 * must still have its code objects sent for it.
	 */
	id = insert_stack(stacks, one, stack, st, &err, &fresh, tgid * 0x9e3779b97f4a7c15ULL);
	/* a stack already in the set had its code objects sent when it came */
	if (id && fresh)
		fornax_python_mark_fresh();
	return id;
}

static __always_inline void record(struct bpf_perf_event_data *ctx, void *counts, void *stacks,
				   struct fornax_set_stats *st, __u32 tgid, __u32 tid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct fornax_sample_key key = {};
	__u64 one = 1, *count;

	key.tgid = tgid;
	key.tid = tid;
	key.process_start_ns = BPF_CORE_READ(leader, start_boottime);
	bpf_probe_read_kernel_str(key.comm, sizeof(key.comm), &leader->comm);
	bpf_get_current_comm(key.thread_comm, sizeof(key.thread_comm));
	key.cgroup_id = bpf_get_current_cgroup_id();
	announce(tgid, key.process_start_ns, key.cgroup_id);

	key.user_stack_err = FORNAX_STACK_NOT_COLLECTED;
	if (collect_user) {
		key.user_stack_id = store_stack(ctx, stacks, st, true, &key.user_stack_err);
		key.python_stack_id = store_python_stack(stacks, st, tgid, tid);
	}
	key.kernel_stack_err = FORNAX_STACK_NOT_COLLECTED;
	if (collect_kernel)
		key.kernel_stack_id = store_stack(ctx, stacks, st, false, &key.kernel_stack_err);

	count = bpf_map_lookup_elem(counts, &key);
	if (!count) {
		if (bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST) == 0) {
			st->recorded++;
			return;
		}
		/* Another CPU may have inserted the same key in between. */
		count = bpf_map_lookup_elem(counts, &key);
		if (!count) {
			st->counts_map_full++;
			return;
		}
	}
	__sync_fetch_and_add(count, 1);
	st->recorded++;
}

SEC("perf_event")
int fornax_sample(struct bpf_perf_event_data *ctx)
{
	__u32 set = *(volatile __u32 *)&active_set & 1;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct fornax_set_stats *st;
	void *counts, *stacks;

	st = bpf_map_lookup_elem(&set_stats, &set);
	if (!st)
		return 0;
	st->samples++;

	if (tid == 0 && !include_idle) {
		st->idle++;
		return 0;
	}
	if (filter_pids && !bpf_map_lookup_elem(&pid_filter, &tgid)) {
		st->filtered++;
		return 0;
	}
	if (!cgroup_filter_pass()) {
		st->filtered++;
		return 0;
	}

	counts = bpf_map_lookup_elem(&counts_sets, &set);
	stacks = bpf_map_lookup_elem(&stacks_sets, &set);
	if (!counts || !stacks)
		return 0; /* not reached: libbpf fills both slots at load */
	record(ctx, counts, stacks, st, tgid, tid);
	fornax_python_note_codes(st, tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
