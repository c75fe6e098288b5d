/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel side of unwind_vmas (bpf/unwind.h): each process's executable
 * file mappings, registered when the kernel makes them, before the process
 * can run a single instruction from them: at exec (the program and its
 * interpreter, both mapped by the kernel) and after each mmap (ld.so maps
 * the libraries through it). munmap and exit drop them; a forked child
 * inherits its parent's. With them the walker finds a file's table by
 * (dev, inode) from a process's first sample, without waiting for the agent
 * to read the process's maps: a short-lived process of a program seen
 * before is walked whole even if it is gone before the agent looks.
 *
 * bpf_find_vma() takes the mmap lock by trylock; these programs run in the
 * process's own context (an exec, a system call), where it is free. A miss
 * is counted (unwind_vmas_missed) and leaves the process to the agent's
 * entry, as before.
 *
 * Included by unwind.bpf.h: the walker's lookup is here too.
 */
#ifndef FORNAX_UNWIND_VMAS_BPF_H
#define FORNAX_UNWIND_VMAS_BPF_H

/* Tables by file, filled by the agent as it builds them (see bpf/unwind.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fornax_file_id);
	__type(value, struct fornax_unwind_file);
} unwind_files SEC(".maps");

/* Each process's executable file mappings, written by unwind_vmas.bpf.h. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct fornax_unwind_vmas);
} unwind_vmas SEC(".maps");

/*
 * The mapping of pc as the kernel-side programs registered it, with its
 * file's table if the agent has built one. A global function, checked
 * once by the verifier.
 */
__noinline bool fornax_unwind_find_vma(struct unwind_walk *w, __u64 pc,
				       struct fornax_set_stats *st)
{
	struct fornax_unwind_vmas *v;
	struct fornax_unwind_file *f;
	struct fornax_file_id file = {};
	__u64 start = 0, end = 0, pgoff = 0;
	__u32 n, i, tgid;

	if (!w || !st)
		return false;
	/* a key on the stack: before 6.3 no helper takes one in a global function's memory argument */
	tgid = w->tgid;
	v = bpf_map_lookup_elem(&unwind_vmas, &tgid);
	if (!v || v->start_ns != w->start_ns || v->exec_id != w->exec_id)
		return false;
	/* Live entries never overlap (a new mapping clears what it replaced): the first hit is it. */
	n = v->n;
	for (i = 0; i < FORNAX_UNWIND_VMAS; i++) {
		struct fornax_unwind_vma *m = &v->vmas[i];

		if (i >= n)
			return false;
		if (pc - m->start < m->end - m->start)
			break;
	}
	if (i >= FORNAX_UNWIND_VMAS)
		return false;
	start = v->vmas[i].start;
	end = v->vmas[i].end;
	pgoff = v->vmas[i].pgoff;
	file = v->vmas[i].file;
	w->map_start = start;
	w->map_end = end;
	w->map_origin = 0;
	w->map_table = 0;
	w->map_n_buckets = 0;
	w->map_flags = 0;
	st->unwind_vma_frames++;
	f = bpf_map_lookup_elem(&unwind_files, &file);
	if (!f)
		return true; /* no table yet: TABLE_MISSING, and the agent hears of it */
	for (int k = 0; k < FORNAX_UNWIND_FILE_SEGS; k++) {
		if (k >= f->n_segs)
			break;
		if (pgoff < f->segs[k].offset || pgoff - f->segs[k].offset >= f->segs[k].filesz)
			continue;
		w->map_origin = start - pgoff + f->segs[k].bias;
		w->map_table = f->table;
		w->map_n_buckets = f->n_buckets;
		w->map_flags = f->flags;
		break;
	}
	return true;
}

#define UNWIND_VM_EXEC 0x4
#define UNWIND_PAGE_SHIFT 12
#define UNWIND_MAX_ERRNO 4095

/* The entry being built at exec or fork: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fornax_unwind_vmas);
} unwind_vmas_scratch SEC(".maps");

struct unwind_vma_found {
	struct fornax_unwind_vma vma;
	__u32 found;
	__u32 exec; /* executable and backed by a file */
};

static long unwind_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct unwind_vma_found *f = data;
	struct inode *inode = BPF_CORE_READ(vma, vm_file, f_inode);

	f->found = 1;
	f->vma.start = BPF_CORE_READ(vma, vm_start);
	f->vma.end = BPF_CORE_READ(vma, vm_end);
	f->exec = inode && (BPF_CORE_READ(vma, vm_flags) & UNWIND_VM_EXEC);
	if (!f->exec)
		return 0;
	f->vma.pgoff = BPF_CORE_READ(vma, vm_pgoff) << UNWIND_PAGE_SHIFT;
	f->vma.file.ino = BPF_CORE_READ(inode, i_ino);
	f->vma.file.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	return 0;
}

static __always_inline struct fornax_set_stats *unwind_vmas_stats(void)
{
	__u32 set = *(volatile __u32 *)&active_set & 1;

	return bpf_map_lookup_elem(&set_stats, &set);
}

/* Forgets the entries [start, end) overlaps: the kernel replaced or removed them. */
static __always_inline void unwind_vmas_clear(struct fornax_unwind_vmas *v, __u64 start,
					      __u64 end)
{
	for (__u32 i = 0; i < FORNAX_UNWIND_VMAS; i++) {
		struct fornax_unwind_vma *e;

		if (i >= v->n)
			break;
		e = &v->vmas[i];
		if (e->start < end && start < e->end)
			e->start = e->end = 0;
	}
}

/*
 * Looks addr up in the current process and records its mapping in v if it
 * is executable file memory; any other mapping there clears what it
 * replaced.
 */
static __always_inline void unwind_vmas_note(struct fornax_unwind_vmas *v, __u64 addr,
					     struct fornax_set_stats *st)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct unwind_vma_found f = {};
	__u32 slot, n;

	if (bpf_find_vma(task, addr, unwind_vma_cb, &f, 0) || !f.found) {
		/* the agent reads such a process at once: see kernel_walks() */
		v->overflow++;
		if (st)
			st->unwind_vmas_missed++;
		return;
	}
	unwind_vmas_clear(v, f.vma.start, f.vma.end);
	if (!f.exec)
		return;
	n = v->n;
	if (n > FORNAX_UNWIND_VMAS)
		n = FORNAX_UNWIND_VMAS;
	slot = n; /* append, unless an entry was freed */
	for (__u32 i = 0; i < FORNAX_UNWIND_VMAS; i++) {
		if (i >= n)
			break;
		if (!v->vmas[i].end) {
			slot = i;
			break;
		}
	}
	if (slot >= FORNAX_UNWIND_VMAS) {
		v->overflow++;
		if (st)
			st->unwind_vmas_overflow++;
		return;
	}
	/*
	 * Kept from the compiler, which knows the test above makes it a no-op:
	 * older verifiers (6.1) lose slot's bounds on the way and need it.
	 */
	asm volatile("" : "+r"(slot));
	slot &= FORNAX_UNWIND_VMAS - 1;
	v->vmas[slot] = f.vma;
	if (slot == n)
		v->n = n + 1;
	if (st)
		st->unwind_vmas_added++;
}

/* The entry of the current process, if it is the process it was made for. */
static __always_inline struct fornax_unwind_vmas *unwind_vmas_current(__u32 tgid)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct fornax_unwind_vmas *v = bpf_map_lookup_elem(&unwind_vmas, &tgid);

	if (!v || v->start_ns != BPF_CORE_READ(leader, start_boottime) ||
	    v->exec_id != BPF_CORE_READ(leader, self_exec_id))
		return NULL;
	return v;
}

/* A new image: its program and its interpreter (whose entry the registers hold). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(fornax_unwind_exec, struct task_struct *task)
{
	struct fornax_set_stats *st = unwind_vmas_stats();
	struct fornax_unwind_vmas *v;
	__u32 tgid = task->tgid, zero = 0;
	__u64 start_code, entry;

	if (!cgroup_filter_pass())
		return 0;
	v = bpf_map_lookup_elem(&unwind_vmas_scratch, &zero);
	if (!v)
		return 0;
	/* Entries past n are never read: only the header needs clearing. */
	v->n = 0;
	v->overflow = 0;
	v->vmas[0].start = v->vmas[0].end = 0;
	v->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	v->exec_id = BPF_CORE_READ(task, group_leader, self_exec_id);
	start_code = BPF_CORE_READ(task, mm, start_code);
	entry = PT_REGS_IP((struct pt_regs *)bpf_task_pt_regs(task));
	unwind_vmas_note(v, start_code, st);
	if (entry && (entry < v->vmas[0].start || entry >= v->vmas[0].end))
		unwind_vmas_note(v, entry, st);
	if (bpf_map_update_elem(&unwind_vmas, &tgid, v, BPF_ANY) && st)
		st->unwind_vmas_unstored++;
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fornax_unwind_fork, struct task_struct *parent, struct task_struct *child)
{
	struct fornax_unwind_vmas *v;
	__u32 tgid = BPF_CORE_READ(child, tgid);

	/* threads share the process's entry */
	if (BPF_CORE_READ(child, pid) != tgid)
		return 0;
	v = unwind_vmas_current(BPF_CORE_READ(parent, tgid));
	if (!v)
		return 0;
	if (bpf_map_update_elem(&unwind_vmas, &tgid, v, BPF_ANY)) {
		struct fornax_set_stats *st = unwind_vmas_stats();

		if (st)
			st->unwind_vmas_unstored++;
		return 0;
	}
	/* Until the child's times are in, the entry is not the child's: unused. */
	v = bpf_map_lookup_elem(&unwind_vmas, &tgid);
	if (v) {
		v->start_ns = BPF_CORE_READ(child, start_boottime);
		v->exec_id = BPF_CORE_READ(child, self_exec_id);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fornax_unwind_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		bpf_map_delete_elem(&unwind_vmas, &tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int fornax_unwind_mmap(struct trace_event_raw_sys_exit *ctx)
{
	__u64 addr = (__u64)ctx->ret;
	struct fornax_unwind_vmas *v;

	if (addr >= (__u64)-UNWIND_MAX_ERRNO)
		return 0;
	v = unwind_vmas_current(bpf_get_current_pid_tgid() >> 32);
	if (v)
		unwind_vmas_note(v, addr, unwind_vmas_stats());
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int fornax_unwind_munmap(struct trace_event_raw_sys_enter *ctx)
{
	__u64 addr = ctx->args[0], len = ctx->args[1];
	struct fornax_unwind_vmas *v;

	v = unwind_vmas_current(bpf_get_current_pid_tgid() >> 32);
	if (v && len)
		unwind_vmas_clear(v, addr, addr + len);
	return 0;
}

#endif /* FORNAX_UNWIND_VMAS_BPF_H */
