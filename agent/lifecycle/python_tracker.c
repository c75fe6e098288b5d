// SPDX-License-Identifier: Apache-2.0
#include "python_tracker.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "hashmap.h"
#include "log.h"
#include "procfs.h"
#include "python.h"
#include "timeconst.h"

#define RECHECK_FIRST_NS NSEC_PER_SEC
#define RECHECK_MAX_NS (60 * NSEC_PER_SEC)
/* processes named one by one in the summary at exit */
#define SUMMARY_PROCESSES 10
/* interpreter files whose symbols are kept: a machine runs a few CPython builds */
#define DETECT_FILES 32

struct tracked {
	__u32 pid;
	__u64 start_ns;
	bool python;
	unsigned exit_grace; /* cycles left after its exit; 0: alive */
	__u64 next_check_ns; /* not Python: when to look again */
	__u64 backoff_ns;
	bool named_otherwise; /* runs a program not named like CPython: no interpreter yet */
	__u64 last_seen_ns;
	struct py_process proc;
	/* its samples since it was found to be Python, and how their walks ended */
	__u64 samples;
	__u64 walked;
	__u64 end[FORNAX_PY_END_NR];
};

struct proc_key {
	__u32 pid;
	__u64 start_ns;
};

struct python_tracker {
	char *proc_root;
	__u64 ns_per_tick; /* start_boottime ns → /proc/PID/stat start ticks */
	size_t max_processes;
	int procs_fd;
	struct hmap procs;
	struct py_code_cache *code;
	struct py_detect *detect;
	struct python_codes *copies; /* the walker's copies of code objects */
	struct sampler_python_maps maps;
	struct python_tracker_stats stats;
	/* the kernel's counters, summed over drains */
	__u64 k_samples, k_frames, k_by_list;
	__u64 k_chains, k_sent, k_lost, k_code_faults;
	__u64 k_end[FORNAX_PY_END_NR];
	__u64 k_miss[FORNAX_PY_MISS_NR];
};

static __u64 proc_hash(__u32 pid, __u64 start_ns)
{
	return hash_u64(((__u64)pid << 32) ^ start_ns);
}

static bool proc_eq(const void *val, const void *key)
{
	const struct tracked *p = val;
	const struct proc_key *k = key;

	return p->pid == k->pid && p->start_ns == k->start_ns;
}

static struct tracked *find(const struct python_tracker *t, __u32 pid, __u64 start_ns);

/* A code object the walker copied: into the cache, while its process is tracked. */
static int on_code_copy(__u32 pid, __u64 start_ns, __u64 code_addr,
			const struct py_mem_copy *copies, size_t n_copies, void *ctx)
{
	struct python_tracker *t = ctx;
	struct tracked *p = find(t, pid, start_ns);

	if (!p || !p->python) {
		t->stats.copies_orphaned++;
		return 0;
	}
	/* failures are counted by the cache; the drain reads the process if it can */
	(void)py_code_cache__add(t->code, &p->proc, pid, start_ns, code_addr, copies, n_copies);
	return 0;
}

static void on_code_evicted(void *ctx, __u32 pid, __u64 start_ns, __u64 code_addr)
{
	struct python_tracker *t = ctx;

	(void)start_ns;
	python_codes__forget(t->copies, pid, code_addr);
}

struct python_tracker *python_tracker__new(const struct python_tracker_opts *opts)
{
	LIBBPF_OPTS(bpf_map_create_opts, no_prealloc, .map_flags = BPF_F_NO_PREALLOC);
	struct python_tracker *t = calloc(1, sizeof(*t));
	struct py_code_cache_opts code = { 0 };
	int err;

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->procs_fd = -1;
	t->ns_per_tick = procfs__ns_per_tick();
	t->max_processes = opts && opts->max_processes ? opts->max_processes : 16384;
	t->proc_root = strdup(opts && opts->proc_root ? opts->proc_root : "/proc");
	if (opts)
		code = opts->code;
	code.evicted = on_code_evicted;
	code.ctx = t;
	t->code = py_code_cache__new(&code);
	t->detect = py_detect__new(DETECT_FILES);
	if (!t->proc_root || !t->code || !t->detect) {
		err = -ENOMEM;
		goto fail;
	}
	t->procs_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "python_procs", sizeof(__u32),
				     sizeof(struct fornax_py_proc), (__u32)t->max_processes,
				     &no_prealloc);
	if (t->procs_fd < 0) {
		err = -errno;
		goto fail;
	}
	t->copies = python_codes__new(opts ? &opts->copies : NULL, on_code_copy, t);
	if (!t->copies) {
		err = -errno;
		goto fail;
	}
	t->maps.procs = t->procs_fd;
	python_codes__maps(t->copies, &t->maps);
	return t;
fail:
	python_tracker__free(t);
	errno = -err;
	return NULL;
}

void python_tracker__free(struct python_tracker *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->procs.cap; i++)
		free(t->procs.slots[i].val);
	hmap__clear(&t->procs);
	py_code_cache__free(t->code);
	py_detect__free(t->detect);
	python_codes__free(t->copies);
	if (t->procs_fd >= 0)
		close(t->procs_fd);
	free(t->proc_root);
	free(t);
}

const struct sampler_python_maps *python_tracker__maps(const struct python_tracker *t)
{
	return &t->maps;
}

int python_tracker__fd(const struct python_tracker *t)
{
	return python_codes__fd(t->copies);
}

void python_tracker__consume(struct python_tracker *t)
{
	int n = t ? python_codes__consume(t->copies) : 0;

	if (n < 0)
		log_warn_ratelimited("reading the Python walker's code objects: %s, ignoring",
				     strerror(-n));
}

static struct tracked *find(const struct python_tracker *t, __u32 pid, __u64 start_ns)
{
	struct proc_key key = { pid, start_ns };

	return hmap__find(&t->procs, proc_hash(pid, start_ns), proc_eq, &key);
}

/* "pid 42: 10 samples, 9 walked (9 complete, 0 at the depth limit, 0 cut by a read fault)" */
static void log_walks(const struct tracked *p, bool info)
{
	static const char fmt[] = "python: pid %u: %llu samples, %llu with Python frames (%llu walks "
				  "complete, %llu at the depth limit, %llu cut by a read fault)";

	if (info)
		log_info(fmt, p->pid, (unsigned long long)p->samples,
			 (unsigned long long)p->walked,
			 (unsigned long long)p->end[FORNAX_PY_END_COMPLETE],
			 (unsigned long long)p->end[FORNAX_PY_END_DEPTH],
			 (unsigned long long)p->end[FORNAX_PY_END_READ_FAULT]);
	else
		log_debug(fmt, p->pid, (unsigned long long)p->samples,
			  (unsigned long long)p->walked,
			  (unsigned long long)p->end[FORNAX_PY_END_COMPLETE],
			  (unsigned long long)p->end[FORNAX_PY_END_DEPTH],
			  (unsigned long long)p->end[FORNAX_PY_END_READ_FAULT]);
}

static void drop(struct python_tracker *t, struct tracked *p)
{
	struct fornax_py_proc cur;

	/* Only the entry this process wrote: the pid may belong to a newer process by now. */
	if (p->python && bpf_map_lookup_elem(t->procs_fd, &p->pid, &cur) == 0 &&
	    cur.start_ns == p->start_ns)
		bpf_map_delete_elem(t->procs_fd, &p->pid);
	if (p->python) {
		py_code_cache__forget_process(t->code, p->pid, p->start_ns);
		if (p->samples)
			log_walks(p, false);
	}
	hmap__remove(&t->procs, proc_hash(p->pid, p->start_ns), p);
	free(p);
}

static void detect(struct python_tracker *t, struct tracked *p, __u64 now)
{
	struct fornax_py_proc entry = { 0 };
	int err;

	t->stats.checks++;
	err = py_detect__process(t->detect, t->proc_root, p->pid, p->start_ns / t->ns_per_tick,
				 &p->proc);
	if (err) {
		if (err == -ENOTSUP)
			t->stats.unsupported++;
		p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : RECHECK_FIRST_NS;
		if (p->backoff_ns > RECHECK_MAX_NS || err == -ENOTSUP || err == -ESRCH)
			p->backoff_ns = RECHECK_MAX_NS;
		p->next_check_ns = now + p->backoff_ns;
		return;
	}
	entry.start_ns = p->start_ns;
	entry.runtime = p->proc.runtime;
	entry.version = p->proc.layout.version;
	entry.flags = p->proc.layout.flags;
	entry.off = p->proc.layout.walker;
	py_layout__code_offsets(&p->proc.layout, &entry.code);
	if (bpf_map_update_elem(t->procs_fd, &p->pid, &entry, BPF_ANY)) {
		t->stats.map_errors++;
		p->next_check_ns = now + RECHECK_FIRST_NS;
		return;
	}
	p->python = true;
	t->stats.detected++;
}

/*
 * Whether the program a process has just executed may be CPython. At exec
 * only the program and its loader are mapped, and py_detect looks only at
 * files named python3* or libpython3*: a program named otherwise is no
 * interpreter yet, and one that loads libpython later is found by the
 * recheck after the first backoff, as it was. The link's name costs one
 * readlink, where a detection reads the stat and maps files.
 */
static bool exe_may_be_python(const struct python_tracker *t, __u32 pid, const char *exe_name,
			      bool cut)
{
	static const char deleted[] = " (deleted)";
	char path[PATH_MAX];
	int dirfd;
	ssize_t n;

	/* a cut name's start decides too: x86_64-linux-gnu-gcc-12 */
	if (exe_name && exe_name[0] && (!cut || !py_detect__candidate_start(exe_name)))
		return py_detect__candidate_name(exe_name);
	dirfd = procfs__open(t->proc_root, pid);
	if (dirfd < 0)
		return true; /* the detection says why */
	n = readlinkat(dirfd, "exe", path, sizeof(path) - 1);
	close(dirfd);
	if (n <= 0)
		return true;
	path[n] = '\0';
	if ((size_t)n > sizeof(deleted) - 1 && !strcmp(path + n - (sizeof(deleted) - 1), deleted))
		path[n - (sizeof(deleted) - 1)] = '\0';
	return py_detect__candidate_name(path);
}

static struct tracked *add(struct python_tracker *t, __u32 pid, __u64 start_ns)
{
	struct tracked *p;

	if (hmap__len(&t->procs) >= t->max_processes)
		return NULL; /* full until the next cycle's sweep */
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ns = start_ns;
	if (hmap__insert(&t->procs, proc_hash(pid, start_ns), p)) {
		free(p);
		return NULL;
	}
	return p;
}

static struct tracked *seen(struct python_tracker *t, __u32 pid, __u64 start_ns, bool exec,
			    const char *exe_name, bool exe_name_cut)
{
	struct tracked *p = find(t, pid, start_ns);
	__u64 now = clock_ns(CLOCK_MONOTONIC);

	if (p && exec) {
		drop(t, p);
		p = NULL;
	}
	if (!p)
		p = add(t, pid, start_ns);
	if (!p)
		return NULL;
	p->last_seen_ns = now;
	if (exec && !exe_may_be_python(t, pid, exe_name, exe_name_cut)) {
		/* as a detection that found nothing would: look again after the first backoff */
		t->stats.exec_skipped++;
		p->named_otherwise = true;
		p->backoff_ns = RECHECK_FIRST_NS;
		p->next_check_ns = now + RECHECK_FIRST_NS;
		return p;
	}
	if (!p->python && !p->exit_grace && now >= p->next_check_ns)
		detect(t, p, now);
	return p;
}

void python_tracker__process_seen(struct python_tracker *t, __u32 pid, __u64 start_ns, bool exec,
				  const char *exe_name, bool exe_name_cut)
{
	seen(t, pid, start_ns, exec, exe_name, exe_name_cut);
}

/*
 * A fork runs its parent's program. The child of a process whose program
 * is not named like CPython is no interpreter either: if it execs, its
 * exec event says what it runs; if it loads libpython, the recheck finds
 * it, one backoff of its parent's after it was born. Without this, each
 * child was looked at on its first sample, a read of its maps: chromium's
 * many forks among them. A parent whose detection merely failed passes
 * nothing on: it may be CPython caught at a bad moment.
 */
void python_tracker__process_fork(struct python_tracker *t, __u32 parent_pid,
				  __u64 parent_start_ns, __u32 pid, __u64 start_ns)
{
	struct tracked *parent = find(t, parent_pid, parent_start_ns), *p;
	__u64 now;

	if (!parent || !parent->named_otherwise || parent->python || parent->exit_grace ||
	    find(t, pid, start_ns))
		return;
	p = add(t, pid, start_ns);
	if (!p)
		return;
	now = clock_ns(CLOCK_MONOTONIC);
	p->last_seen_ns = now;
	p->named_otherwise = true;
	p->backoff_ns = parent->backoff_ns;
	p->next_check_ns = now + parent->backoff_ns;
	t->stats.fork_skipped++;
}

void python_tracker__sample(struct python_tracker *t, __u32 pid, __u64 start_ns, __u64 count,
			    __u32 n_python, __u32 python_flags)
{
	struct tracked *p = seen(t, pid, start_ns, false, NULL, false);
	__u32 end = (python_flags >> FORNAX_STACK_END_SHIFT) & FORNAX_STACK_END_MASK;

	if (!p || !p->python)
		return;
	p->samples += count;
	if (!n_python)
		return;
	p->walked += count;
	if (end < FORNAX_PY_END_NR)
		p->end[end] += count;
}

void python_tracker__process_exit(struct python_tracker *t, __u32 pid, __u64 start_ns)
{
	struct tracked *p = find(t, pid, start_ns);

	/* Its last samples are still to be drained: the set being written, then the next. */
	if (p && !p->exit_grace)
		p->exit_grace = 2;
}

const struct py_process *python_tracker__process(struct python_tracker *t, __u32 pid,
						 __u64 start_ns)
{
	struct tracked *p = find(t, pid, start_ns);

	return p && p->python ? &p->proc : NULL;
}

int python_tracker__frame(struct python_tracker *t, __u32 pid, __u64 start_ns, __u64 packed,
			  struct py_frame_info *out)
{
	const struct py_process *proc = python_tracker__process(t, pid, start_ns);
	__u64 code = fornax_py_frame_code(packed);
	int err;

	if (!proc)
		return -ENOENT;
	/* copies sent before this frame's sample was drained are in the buffer */
	python_tracker__consume(t);
	t->stats.frames++;
	err = code ? py_code_cache__lookup(t->code, proc, pid, start_ns, code,
					   fornax_py_frame_instr(packed), out)
		   : -EFAULT;
	if (err)
		t->stats.unreadable++;
	return err == -ENOMEM ? err : err ? -EFAULT : 0;
}

void python_tracker__end_cycle(struct python_tracker *t)
{
	__u64 now = clock_ns(CLOCK_MONOTONIC);
	int err;

	/* Exited processes had one more cycle for their last samples; idle ones go after a while. */
	for (size_t i = 0; i < t->procs.cap;) {
		struct tracked *p = t->procs.slots[i].val;

		if (p && ((p->exit_grace && --p->exit_grace == 0) ||
			  now - p->last_seen_ns > 2 * RECHECK_MAX_NS))
			drop(t, p); /* a later entry may shift into slot i */
		else
			i++;
	}
	hmap__shrink(&t->procs);
	py_code_cache__end_cycle(t->code);
	/* after the evictions: a chain met from now on is checked again */
	err = python_codes__next_gen(t->copies);
	if (err)
		log_warn_ratelimited("python: moving the walker's generation: %s, ignoring",
				     strerror(-err));
}

void python_tracker__stats(const struct python_tracker *t, struct python_tracker_stats *out)
{
	*out = t->stats;
	py_code_cache__stats(t->code, &out->code);
	python_codes__stats(t->copies, &out->copies);
}

void python_tracker__account_drain(struct python_tracker *t, const struct fornax_set_stats *k)
{
	t->k_samples += k->py_samples;
	t->k_frames += k->py_frames;
	t->k_by_list += k->py_tstate_by_list;
	t->k_chains += k->py_chains_checked;
	t->k_sent += k->py_codes_sent;
	t->k_lost += k->py_codes_lost;
	t->k_code_faults += k->py_code_faults;
	for (int i = 0; i < FORNAX_PY_END_NR; i++)
		t->k_end[i] += k->py_end[i];
	for (int i = 0; i < FORNAX_PY_MISS_NR; i++)
		t->k_miss[i] += k->py_miss[i];
}

static int by_samples(const void *a, const void *b)
{
	const struct tracked *x = *(const struct tracked *const *)a;
	const struct tracked *y = *(const struct tracked *const *)b;

	return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : 0;
}

/* The Python processes still tracked, most sampled first; the rest are counted. */
static void log_processes(const struct python_tracker *t)
{
	const struct tracked **list = calloc(hmap__len(&t->procs) + 1, sizeof(*list));
	size_t n = 0;

	if (!list)
		return;
	for (size_t i = 0; i < t->procs.cap; i++) {
		const struct tracked *p = t->procs.slots[i].val;

		if (p && p->python && p->samples)
			list[n++] = p;
	}
	qsort(list, n, sizeof(*list), by_samples);
	for (size_t i = 0; i < n && i < SUMMARY_PROCESSES; i++)
		log_walks(list[i], true);
	if (n > SUMMARY_PROCESSES)
		log_info("python: %zu more processes (-v lists each as it exits)",
			 n - SUMMARY_PROCESSES);
	free(list);
}

void python_tracker__log_summary(const struct python_tracker *t)
{
	struct py_code_cache_stats c;
	struct python_codes_stats cp;
	struct py_detect_stats d;

	if (!t)
		return;
	python_codes__stats(t->copies, &cp);
	py_detect__stats(t->detect, &d);
	log_processes(t);
	py_code_cache__stats(t->code, &c);
	log_info("python: %llu processes found (%llu of unsupported versions) in %llu checks "
		 "(%llu execs of programs named otherwise and %llu forks of processes that are "
		 "not Python not checked; interpreter files: %llu "
		 "read, %llu times known from before); "
		 "%llu samples of them: %llu walks complete, %llu at the depth limit, %llu cut "
		 "by a read fault, %llu frames (%llu thread states found in the thread list); "
		 "no frames: %llu no thread state, %llu idle, %llu read faults, %llu in a "
		 "sub-interpreter",
		 (unsigned long long)t->stats.detected, (unsigned long long)t->stats.unsupported,
		 (unsigned long long)t->stats.checks, (unsigned long long)t->stats.exec_skipped,
		 (unsigned long long)t->stats.fork_skipped, (unsigned long long)d.files_scanned,
		 (unsigned long long)d.file_hits,
		 (unsigned long long)t->k_samples,
		 (unsigned long long)t->k_end[FORNAX_PY_END_COMPLETE],
		 (unsigned long long)t->k_end[FORNAX_PY_END_DEPTH],
		 (unsigned long long)t->k_end[FORNAX_PY_END_READ_FAULT],
		 (unsigned long long)t->k_frames, (unsigned long long)t->k_by_list,
		 (unsigned long long)t->k_miss[FORNAX_PY_MISS_NO_THREAD],
		 (unsigned long long)t->k_miss[FORNAX_PY_MISS_IDLE],
		 (unsigned long long)t->k_miss[FORNAX_PY_MISS_READ_FAULT],
		 (unsigned long long)t->k_miss[FORNAX_PY_MISS_SUBINTERPRETER]);
	log_info("python code objects: %llu read (%llu unreadable), %llu cached (%.1f KiB), "
		 "%llu revalidated, %llu reused, %llu evicted; %llu frames resolved, %llu "
		 "unreadable",
		 (unsigned long long)c.reads, (unsigned long long)c.read_errors,
		 (unsigned long long)c.entries, (double)c.bytes / 1024,
		 (unsigned long long)c.revalidated, (unsigned long long)c.reused,
		 (unsigned long long)c.evicted, (unsigned long long)t->stats.frames,
		 (unsigned long long)t->stats.unreadable);
	log_info("python code objects copied by the walker: %llu stacks checked, %llu copies "
		 "sent (%llu lost: buffer full, %llu objects unreadable); %llu received, %llu "
		 "cached as new (%llu of them without a location table), %llu already cached, "
		 "%llu not code objects, %llu of processes not tracked, %llu malformed",
		 (unsigned long long)t->k_chains, (unsigned long long)t->k_sent,
		 (unsigned long long)t->k_lost, (unsigned long long)t->k_code_faults,
		 (unsigned long long)cp.records,
		 (unsigned long long)(c.copies - c.copies_known - c.copy_errors),
		 (unsigned long long)c.no_linetable, (unsigned long long)c.copies_known,
		 (unsigned long long)c.copy_errors, (unsigned long long)t->stats.copies_orphaned,
		 (unsigned long long)cp.malformed);
}
