/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Process lifecycle for the symbolizer: an exec record as soon as a new
 * program image exists (the agent then reads its maps and opens its files
 * while the process is alive), and at exit the process's executable file
 * mappings, walked here while its mm is still attached, so even a process
 * that lived a few milliseconds leaves its layout behind.
 *
 * Part of profile.bpf.c's object: one object means libbpf reads the
 * kernel's BTF and resolves the CO-RE relocations once per start. The
 * agent loads these programs only when it reads the records (proc_watch).
 */
#ifndef FORNAX_PROC_EVENTS_BPF_H
#define FORNAX_PROC_EVENTS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "proc_events.h"
#include "cgroup_filter.bpf.h"
#include "ringbuf_wakeup.bpf.h"

#define VM_EXEC 0x00000004UL
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)

/* Set by the agent before load. */
const volatile __u64 page_size = 4096;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* resized by the agent */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fornax_proc_event_stats);
} event_stats SEC(".maps");

/* A maps record is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fornax_proc_maps_record);
} maps_scratch SEC(".maps");

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __weak __ksym;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __weak __ksym;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __weak __ksym;

static __always_inline struct fornax_proc_event_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&event_stats, &zero);
}

static __always_inline void fill_header(struct fornax_proc_event *e, __u32 kind,
					struct task_struct *task)
{
	e->kind = kind;
	e->tgid = BPF_CORE_READ(task, tgid);
	e->process_start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->n_maps = 0;
	e->maps_walked = 0;
	e->vdso_start = 0;
	e->parent_tgid = 0;
	e->flags = 0;
	e->parent_start_ns = 0;
	__builtin_memset(e->exe_name, 0, sizeof(e->exe_name));
}

/* false when the record was lost */
static __always_inline bool emit(const void *data, __u64 size, struct fornax_proc_event_stats *st)
{
	if (!bpf_ringbuf_output(&events, (void *)data, size, ringbuf_wakeup_flags(&events)))
		return true;
	if (st)
		st->ringbuf_full++;
	return false;
}

/*
 * The executed file's name, so the agent can tell a program that may be
 * CPython without reading /proc/PID/exe at every exec. By now bprm->file
 * is what runs: binfmt_script swapped in the interpreter.
 */
static __always_inline void exe_name(struct fornax_proc_event *e, struct linux_binprm *bprm)
{
	const unsigned char *name = BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name);
	long n = name ? bpf_probe_read_kernel_str(e->exe_name, sizeof(e->exe_name), name) : 0;

	if (n <= 0)
		e->exe_name[0] = '\0';
	else if (n >= (long)sizeof(e->exe_name))
		e->flags |= FORNAX_EXEC_NAME_CUT; /* or exactly 15 bytes long */
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fornax_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct fornax_proc_event_stats *st = stats();
	struct fornax_proc_event e;

	if (!cgroup_filter_pass()) {
		if (st)
			st->filtered++;
		return 0;
	}
	fill_header(&e, FORNAX_PROC_EXEC, task);
	exe_name(&e, bprm);
	if (st)
		st->execs++;
	emit(&e, sizeof(e), st);
	return 0;
}

/*
 * A forked child runs its parent's image until it executes; samples taken
 * in between need the parent's mappings, which the agent copies on this.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(fornax_fork, struct task_struct *parent, struct task_struct *child)
{
	struct fornax_proc_event_stats *st;
	struct fornax_proc_event e;

	/* threads share the process's mappings: nothing new */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid) || !cgroup_filter_pass())
		return 0;
	st = stats();
	fill_header(&e, FORNAX_PROC_FORK, child);
	e.parent_tgid = BPF_CORE_READ(parent, tgid);
	e.parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	if (st)
		st->forks++;
	emit(&e, sizeof(e), st);
	return 0;
}

/*
 * Every thread passes through sched_process_exit; only the last one (the
 * group's live count has reached 0) speaks for the process. Concurrent last
 * exits can both see 0: the agent takes a repeated exit as a no-op.
 */
static __always_inline bool group_dead(struct task_struct *task)
{
	return BPF_CORE_READ(task, signal, live.counter) == 0;
}

/* Kernels whose sched_process_exit runs after exit_mm(), or without the VMA iterator. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(fornax_exit, struct task_struct *task)
{
	struct fornax_proc_event_stats *st;
	struct fornax_proc_event e;

	if (!group_dead(task) || !cgroup_filter_pass())
		return 0;
	st = stats();
	fill_header(&e, FORNAX_PROC_EXIT, task);
	if (st) {
		st->exits++;
		st->exits_without_mm++;
	}
	emit(&e, sizeof(e), st);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fornax_exit_maps, struct task_struct *task)
{
	struct fornax_proc_event_stats *st;
	struct fornax_proc_maps_record *rec;
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	struct fornax_proc_event e;
	__u32 zero = 0;

	if (!group_dead(task) || !cgroup_filter_pass())
		return 0;
	st = stats();
	rec = bpf_map_lookup_elem(&maps_scratch, &zero);
	fill_header(&e, FORNAX_PROC_EXIT, task);
	if (st)
		st->exits++;
	if (!rec || !task->mm) {
		if (st)
			st->exits_without_mm++;
		emit(&e, sizeof(e), st);
		return 0;
	}
	fill_header(&rec->hdr, FORNAX_PROC_EXIT_MAPS, task);
	/* maps_walked doubles as "no record lost" while the walk runs */
	rec->hdr.maps_walked = 1;

	/*
	 * The count lives in the map value, not in a register: the verifier
	 * then sees an unknown bound and the loop's states converge at once,
	 * instead of being explored once per count.
	 */
	bpf_iter_task_vma_new(&it, task, 0);
	while ((vma = bpf_iter_task_vma_next(&it))) {
		struct fornax_proc_vma *m;
		struct file *file;
		__u32 n;
		dev_t dev;

		if (!(vma->vm_flags & VM_EXEC))
			continue;
		file = vma->vm_file;
		if (!file)
			continue; /* anonymous: JIT code, named from perf maps instead */
		n = rec->hdr.n_maps;
		if (n >= FORNAX_PROC_MAPS_PER_RECORD) {
			if (!emit(rec, sizeof(*rec), st))
				rec->hdr.maps_walked = 0;
			if (st)
				st->exit_maps_records++;
			n = 0;
		}
		m = &rec->maps[n & (FORNAX_PROC_MAPS_PER_RECORD - 1)];
		m->start = vma->vm_start;
		m->end = vma->vm_end;
		m->offset = vma->vm_pgoff * page_size;
		m->inode = BPF_CORE_READ(file, f_inode, i_ino);
		dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
		m->dev_major = dev >> MINORBITS;
		m->dev_minor = dev & MINORMASK;
		rec->hdr.n_maps = n + 1;
	}
	bpf_iter_task_vma_destroy(&it);
	if (rec->hdr.n_maps) {
		if (!emit(rec, sizeof(*rec), st))
			rec->hdr.maps_walked = 0;
		if (st)
			st->exit_maps_records++;
	}
	e.maps_walked = rec->hdr.maps_walked;
	/* the vdso is a special mapping without a file: its start is kept per mm */
	e.vdso_start = (__u64)BPF_CORE_READ(task, mm, context.vdso);
	emit(&e, sizeof(e), st);
	return 0;
}

#endif /* FORNAX_PROC_EVENTS_BPF_H */
