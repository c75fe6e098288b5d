// SPDX-License-Identifier: Apache-2.0
#include "sampler.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "array.h"
#include "grace.h"
#include "log.h"
#include "profile.skel.h"
#include "timeconst.h"

#define COUNTS_BATCH 256
#define STACKS_BATCH 64
/* Scratch kept between drains up to this size; beyond it, freed after each drain. */
#define SCRATCH_KEEP_BYTES (512u << 10)
#define MIN_MAP_ENTRIES 1024

struct stack_ref {
	__u64 id;
	size_t off; /* into stack_ips */
	__u32 len;
	__u32 flags;
};

struct deliver_ctx {
	sampler_sample_fn fn;
	void *ctx;
	struct sampler_drain_stats *stats;
	int fn_err;
};

struct sampler {
	struct profile *skel;
	struct bpf_link **links;
	int n_links;
	/* bpf/unwind_vmas.bpf.h's hooks, with the CFI walker only */
	struct bpf_link *vma_links[5];
	int n_vma_links;
	/* bpf/proc_events.bpf.h's exec, fork and exit (or exit with mappings) */
	struct bpf_link *proc_links[3];
	int n_proc_links;
	int nr_possible_cpus;
	int counts_fd[FORNAX_NR_SETS];
	int stacks_fd[FORNAX_NR_SETS];
	int stats_fd;
	bool single_buffer;
	struct grace_period grace;
	bool stopped;

	/* Drain scratch, reused across drains. */
	struct fornax_sample_key *keys;
	__u64 *counts;
	size_t counts_batch;
	__u64 *stack_ids;
	struct fornax_stack *stack_values;
	size_t stacks_batch;
	struct stack_ref *refs;
	size_t n_refs, refs_cap;
	__u64 *stack_ips;
	size_t n_ips, ips_cap;
	struct fornax_set_stats *percpu_stats;
	/* single_buffer only: everything read before it is deleted. */
	struct fornax_sample_key *all_keys;
	__u64 *all_counts;
	size_t n_all, all_keys_cap, all_counts_cap;
	/* The drain in progress, for the batch consumers. */
	struct deliver_ctx *delivery;
};

static int perf_event_open_cpu(unsigned frequency, int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		/* cpu-clock counts nanoseconds: a period is exact, no frequency feedback loop. */
		.sample_period = NSEC_PER_SEC / frequency,
	};
	int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int attach_all_cpus(struct sampler *s, unsigned frequency)
{
	int err = 0;

	s->links = calloc(s->nr_possible_cpus, sizeof(*s->links));
	if (!s->links)
		return -ENOMEM;
	for (int cpu = 0; cpu < s->nr_possible_cpus; cpu++) {
		struct bpf_link *link;
		int fd = perf_event_open_cpu(frequency, cpu);

		if (fd == -ENODEV) /* possible but offline */
			continue;
		if (fd < 0) {
			err = fd;
			log_error("perf_event_open(cpu-clock, cpu %d): %s%s", cpu, strerror(-err),
				  err == -EACCES || err == -EPERM
					  ? " (see /proc/sys/kernel/perf_event_paranoid: above 2, "
					    "some kernels refuse even CAP_PERFMON)"
					  : "");
			return err;
		}
		link = bpf_program__attach_perf_event(s->skel->progs.fornax_sample, fd);
		if (!link) {
			err = -errno;
			log_error("attaching to cpu %d: %s", cpu, strerror(-err));
			close(fd);
			return err;
		}
		/* The link owns fd now: bpf_link__destroy() closes it. */
		s->links[s->n_links++] = link;
	}
	if (s->n_links == 0) {
		log_error("no online CPU accepted a cpu-clock perf event");
		return -ENODEV;
	}
	return 0;
}

/*
 * The hooks that register each process's executable mappings as the kernel
 * makes them. Without one (a kernel without syscall tracepoints), processes
 * wait for the agent's entry, as they would without any: said, not fatal.
 */
#define N_VMA_HOOKS (sizeof(((struct sampler *)0)->vma_links) / sizeof(struct bpf_link *))

static void vma_hooks(struct profile *skel, struct bpf_program *progs[N_VMA_HOOKS])
{
	progs[0] = skel->progs.fornax_unwind_exec;
	progs[1] = skel->progs.fornax_unwind_fork;
	progs[2] = skel->progs.fornax_unwind_exit;
	progs[3] = skel->progs.fornax_unwind_mmap;
	progs[4] = skel->progs.fornax_unwind_munmap;
}

/*
 * libbpf finds a tracepoint's id in tracefs. systemd mounts it, but a bare
 * boot, a container's own /sys or an initramfs may not: mount it where the
 * kernel made its mount point, as perf does. Left mounted, since others may
 * use it by then.
 */
static bool missing(const char *path)
{
	struct stat st;

	/* not EACCES: a user without root's uid may not look, and libbpf still reads it */
	return stat(path, &st) != 0 && errno == ENOENT;
}

static void ensure_tracefs(void)
{
	if (!missing("/sys/kernel/tracing/events") || !missing("/sys/kernel/debug/tracing/events"))
		return;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) == 0)
		log_info("mounted tracefs on /sys/kernel/tracing for the mmap hooks' tracepoints");
	else
		log_debug("mounting tracefs on /sys/kernel/tracing: %s", strerror(errno));
}

static void attach_vma_hooks(struct sampler *s)
{
	struct bpf_program *progs[N_VMA_HOOKS];

	ensure_tracefs();
	vma_hooks(s->skel, progs);
	for (size_t i = 0; i < N_VMA_HOOKS; i++) {
		struct bpf_link *link = bpf_program__attach(progs[i]);

		if (!link) {
			log_warn("attaching %s: %s; new processes are walked by CFI once the agent "
				 "has read their maps",
				 bpf_program__name(progs[i]), strerror(errno));
			continue;
		}
		s->vma_links[s->n_vma_links++] = link;
	}
}

/* The lifecycle programs, before the perf events: no process samples before its exec is seen. */
static void attach_proc_events(struct sampler *s, const struct sampler_proc_maps *maps)
{
	struct bpf_program *progs[3] = {
		s->skel->progs.fornax_exec, s->skel->progs.fornax_fork,
		maps->exit_maps ? s->skel->progs.fornax_exit_maps : s->skel->progs.fornax_exit,
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link = bpf_program__attach(progs[i]);

		if (!link) {
			log_warn("attaching %s: %s; no process events", bpf_program__name(progs[i]),
				 strerror(errno));
			while (s->n_proc_links)
				bpf_link__destroy(s->proc_links[--s->n_proc_links]);
			return;
		}
		s->proc_links[s->n_proc_links++] = link;
	}
}

static void detach_all(struct sampler *s)
{
	for (int i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->links[i]);
	s->n_links = 0;
	/*
	 * After the sampling: a tracepoint's detach waits for RCU (tens of
	 * milliseconds each), and samples taken meanwhile would land after the
	 * final window's end.
	 */
	for (int i = 0; i < s->n_vma_links; i++)
		bpf_link__destroy(s->vma_links[i]);
	s->n_vma_links = 0;
	for (int i = 0; i < s->n_proc_links; i++)
		bpf_link__destroy(s->proc_links[i]);
	s->n_proc_links = 0;
}

static int compare_refs(const void *a, const void *b)
{
	const struct stack_ref *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct stack_ref *find_stack(const struct sampler *s, __u64 id)
{
	struct stack_ref key = { .id = id };

	if (!id)
		return NULL;
	return bsearch(&key, s->refs, s->n_refs, sizeof(*s->refs), compare_refs);
}

static int add_stacks(struct sampler *s, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		const struct fornax_stack *st = &s->stack_values[i];
		__u32 len = st->len < FORNAX_MAX_STACK_DEPTH ? st->len : FORNAX_MAX_STACK_DEPTH;

		if (ARRAY_GROW(&s->refs, &s->refs_cap, s->n_refs + 1) ||
		    ARRAY_GROW(&s->stack_ips, &s->ips_cap, s->n_ips + len))
			return -ENOMEM;
		s->refs[s->n_refs++] = (struct stack_ref){
			.id = s->stack_ids[i], .off = s->n_ips, .len = len, .flags = st->flags
		};
		memcpy(s->stack_ips + s->n_ips, st->ips, len * sizeof(__u64));
		s->n_ips += len;
	}
	return 0;
}

/*
 * Reads a whole hash map in batches, deleting as it goes unless keep is set.
 * The map must be quiescent when deleting (a grace period after the flip).
 */
static int read_map(int fd, bool keep, void *keys, void *values, size_t *batch,
		    int (*consume)(struct sampler *, __u32), struct sampler *s)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	/* Hash maps resume from a bucket index; 8 bytes hold it. */
	__u64 in_token = 0, out_token = 0;
	bool first = true;

	for (;;) {
		__u32 count = *batch;
		int err, cerr;

		if (keep)
			err = bpf_map_lookup_batch(fd, first ? NULL : &in_token, &out_token, keys,
						   values, &count, &opts);
		else
			err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_token,
							      &out_token, keys, values, &count,
							      &opts);
		/* -ENOSPC: one hash bucket holds more than a batch; the caller retries bigger. */
		if (err && err != -ENOENT)
			return err;
		cerr = count ? consume(s, count) : 0;
		if (cerr)
			return cerr;
		if (err == -ENOENT)
			return 0;
		in_token = out_token;
		first = false;
	}
}

static int ensure_batches(struct sampler *s)
{
	if (!s->keys) {
		s->keys = calloc(s->counts_batch, sizeof(*s->keys));
		s->counts = calloc(s->counts_batch, sizeof(*s->counts));
	}
	if (!s->stack_ids) {
		s->stack_ids = calloc(s->stacks_batch, sizeof(*s->stack_ids));
		s->stack_values = calloc(s->stacks_batch, sizeof(*s->stack_values));
	}
	return s->keys && s->counts && s->stack_ids && s->stack_values ? 0 : -ENOMEM;
}

static void release_scratch(struct sampler *s)
{
	free(s->keys);
	free(s->counts);
	free(s->stack_ids);
	free(s->stack_values);
	s->keys = NULL;
	s->counts = NULL;
	s->stack_ids = NULL;
	s->stack_values = NULL;
}

static int read_stacks(struct sampler *s, int set, bool keep)
{
	int err;

	s->n_refs = 0;
	s->n_ips = 0;
	for (;;) {
		err = read_map(s->stacks_fd[set], keep, s->stack_ids, s->stack_values,
			       &s->stacks_batch, add_stacks, s);
		if (err != -ENOSPC)
			break;
		/* Retry from scratch with room for the crowded bucket. */
		s->stacks_batch *= 2;
		release_scratch(s);
		if (ensure_batches(s))
			return -ENOMEM;
		s->n_refs = 0;
		s->n_ips = 0;
	}
	if (err)
		return err;
	/* refs is NULL until a drain has found a stack (e.g. --pid of an idle process). */
	if (s->n_refs)
		qsort(s->refs, s->n_refs, sizeof(*s->refs), compare_refs);
	return 0;
}


static void deliver(struct sampler *s, const struct fornax_sample_key *key, __u64 count,
		    struct deliver_ctx *dc)
{
	const struct stack_ref *user = find_stack(s, key->user_stack_id);
	const struct stack_ref *kernel = find_stack(s, key->kernel_stack_id);
	const struct stack_ref *python = find_stack(s, key->python_stack_id);
	struct sampler_sample sample = {
		.key = key,
		.count = count,
		.user_ips = user ? s->stack_ips + user->off : NULL,
		.n_user = user ? user->len : 0,
		.user_flags = user ? user->flags : 0,
		.kernel_ips = kernel ? s->stack_ips + kernel->off : NULL,
		.n_kernel = kernel ? kernel->len : 0,
		.python_frames = python ? s->stack_ips + python->off : NULL,
		.n_python = python ? python->len : 0,
		.python_flags = python ? python->flags : 0,
	};

	dc->stats->keys++;
	dc->stats->drained_samples += count;
	if ((key->user_stack_id && !user) || (key->kernel_stack_id && !kernel) ||
	    (key->python_stack_id && !python))
		dc->stats->missing_stacks++;
	if (!dc->fn_err && dc->fn)
		dc->fn_err = dc->fn(&sample, dc->ctx);
}

static int consume_counts(struct sampler *s, __u32 n)
{
	for (__u32 i = 0; i < n; i++)
		deliver(s, &s->keys[i], s->counts[i], s->delivery);
	return 0;
}

static int collect_counts(struct sampler *s, __u32 n)
{
	if (ARRAY_GROW(&s->all_keys, &s->all_keys_cap, s->n_all + n) ||
	    ARRAY_GROW(&s->all_counts, &s->all_counts_cap, s->n_all + n))
		return -ENOMEM;
	memcpy(s->all_keys + s->n_all, s->keys, n * sizeof(*s->keys));
	memcpy(s->all_counts + s->n_all, s->counts, n * sizeof(*s->counts));
	s->n_all += n;
	return 0;
}

static int read_and_reset_stats(struct sampler *s, __u32 set, struct fornax_set_stats *sum)
{
	size_t fields = sizeof(*sum) / sizeof(__u64);
	int err;

	err = bpf_map_lookup_elem(s->stats_fd, &set, s->percpu_stats);
	if (err)
		return err;
	memset(sum, 0, sizeof(*sum));
	for (int cpu = 0; cpu < s->nr_possible_cpus; cpu++) {
		const __u64 *src = (const __u64 *)&s->percpu_stats[cpu];
		__u64 *dst = (__u64 *)sum;

		for (size_t f = 0; f < fields; f++)
			dst[f] += src[f];
	}
	memset(s->percpu_stats, 0, s->nr_possible_cpus * sizeof(*s->percpu_stats));
	return bpf_map_update_elem(s->stats_fd, &set, s->percpu_stats, BPF_ANY);
}

static int drain_set(struct sampler *s, __u32 set, struct deliver_ctx *dc)
{
	int err;

	err = ensure_batches(s);
	if (err)
		return err;
	err = read_and_reset_stats(s, set, &dc->stats->set);
	if (err)
		return err;
	err = read_stacks(s, set, false);
	if (err)
		return err;
	dc->stats->stacks += s->n_refs;

	s->delivery = dc;
	for (;;) {
		err = read_map(s->counts_fd[set], false, s->keys, s->counts, &s->counts_batch,
			       consume_counts, s);
		if (err != -ENOSPC)
			break;
		s->counts_batch *= 2;
		release_scratch(s);
		if (ensure_batches(s))
			return -ENOMEM;
	}
	s->delivery = NULL;
	return err;
}

/* The naive design, kept for measurement: read the live set, then delete what was read. */
static int drain_single_buffer(struct sampler *s, struct deliver_ctx *dc)
{
	int err;

	err = ensure_batches(s);
	if (!err)
		err = read_and_reset_stats(s, 0, &dc->stats->set);
	s->n_all = 0;
	if (!err)
		err = read_map(s->counts_fd[0], true, s->keys, s->counts, &s->counts_batch,
			       collect_counts, s);
	if (!err)
		err = read_stacks(s, 0, true);
	if (err)
		return err;
	dc->stats->stacks += s->n_refs;
	for (size_t i = 0; i < s->n_all; i++)
		deliver(s, &s->all_keys[i], s->all_counts[i], dc);
	for (size_t i = 0; i < s->n_all; i++)
		bpf_map_delete_elem(s->counts_fd[0], &s->all_keys[i]);
	for (size_t i = 0; i < s->n_refs; i++)
		bpf_map_delete_elem(s->stacks_fd[0], &s->refs[i].id);
	return 0;
}

static void trim_scratch(struct sampler *s)
{
	if (s->ips_cap * sizeof(__u64) > SCRATCH_KEEP_BYTES) {
		free(s->stack_ips);
		s->stack_ips = NULL;
		s->ips_cap = 0;
	}
	if (s->all_keys_cap * sizeof(*s->all_keys) > SCRATCH_KEEP_BYTES) {
		free(s->all_keys);
		free(s->all_counts);
		s->all_keys = NULL;
		s->all_counts = NULL;
		s->all_keys_cap = 0;
		s->all_counts_cap = 0;
	}
}

int sampler__drain(struct sampler *s, sampler_sample_fn fn, void *ctx,
		   struct sampler_drain_stats *stats)
{
	struct deliver_ctx dc = { .fn = fn, .ctx = ctx, .stats = stats };
	__u32 old;
	int err;

	memset(stats, 0, sizeof(*stats));
	if (s->single_buffer) {
		err = drain_single_buffer(s, &dc);
	} else {
		old = __atomic_load_n(&s->skel->bss->active_set, __ATOMIC_RELAXED);
		if (!s->stopped) {
			__atomic_store_n(&s->skel->bss->active_set, !old, __ATOMIC_SEQ_CST);
			/* every run that may have read the old active_set has finished */
			grace_period__wait(&s->grace);
		}
		err = drain_set(s, old, &dc);
	}
	trim_scratch(s);
	return err ? err : dc.fn_err;
}

int sampler__stop(struct sampler *s, sampler_sample_fn fn, void *ctx,
		  struct sampler_drain_stats *stats)
{
	struct sampler_drain_stats second;
	int err;

	if (s->stopped)
		return sampler__drain(s, fn, ctx, stats);
	detach_all(s);
	grace_period__wait(&s->grace);
	s->stopped = true;
	/* Both sets are quiescent now: drain the active one, then the other. */
	err = sampler__drain(s, fn, ctx, stats);
	if (err || s->single_buffer)
		return err;
	__atomic_store_n(&s->skel->bss->active_set, !s->skel->bss->active_set, __ATOMIC_SEQ_CST);
	err = sampler__drain(s, fn, ctx, &second);
	{
		const __u64 *src = (const __u64 *)&second;
		__u64 *dst = (__u64 *)stats;

		for (size_t f = 0; f < sizeof(*stats) / sizeof(__u64); f++)
			dst[f] += src[f];
	}
	return err;
}

static int configure_proc_events(struct sampler *s, const struct sampler_proc_maps *maps)
{
	long page = sysconf(_SC_PAGESIZE);
	int err = 0;

	s->skel->rodata->page_size = page > 0 ? (__u64)page : 4096;
	bpf_program__set_autoload(s->skel->progs.fornax_exec, maps != NULL);
	bpf_program__set_autoload(s->skel->progs.fornax_fork, maps != NULL);
	bpf_program__set_autoload(s->skel->progs.fornax_exit, maps && !maps->exit_maps);
	bpf_program__set_autoload(s->skel->progs.fornax_exit_maps, maps && maps->exit_maps);
	if (maps) {
		/* proc_watch made them before the program existed, and reads them */
		err = bpf_map__reuse_fd(s->skel->maps.events, maps->events);
		if (!err)
			err = bpf_map__reuse_fd(s->skel->maps.event_stats, maps->stats);
	} else {
		/* created all the same, never written: the smallest ring there is */
		err = bpf_map__set_max_entries(s->skel->maps.events, (__u32)s->skel->rodata->page_size);
	}
	return err;
}

static int configure(struct sampler *s, const struct sampler_opts *opts)
{
	struct bpf_map *counts[FORNAX_NR_SETS] = { s->skel->maps.counts_0, s->skel->maps.counts_1 };
	struct bpf_map *stacks[FORNAX_NR_SETS] = { s->skel->maps.stacks_0, s->skel->maps.stacks_1 };
	int err = 0;

	s->skel->rodata->include_idle = opts->include_idle;
	s->skel->rodata->collect_kernel = opts->kernel_stacks;
	s->skel->rodata->collect_user = opts->user_stacks;
	s->skel->rodata->filter_pids = opts->n_pids > 0;
	for (int i = 0; i < FORNAX_NR_SETS && !err; i++) {
		err = bpf_map__set_max_entries(counts[i], opts->max_keys);
		if (!err)
			err = bpf_map__set_max_entries(stacks[i], opts->max_stacks);
	}
	if (!err && opts->n_pids)
		err = bpf_map__set_max_entries(s->skel->maps.pid_filter, opts->n_pids);
	if (!err && opts->announce_processes) {
		s->skel->rodata->announce_processes = true;
		err = bpf_map__set_max_entries(s->skel->maps.announced,
					       opts->max_announced ? opts->max_announced : 16384);
	}
	if (!err && opts->cgroups && opts->cgroups->n) {
		__u32 min, max;

		cgroup_filter__levels(opts->cgroups, &min, &max);
		s->skel->rodata->filter_cgroups = true;
		s->skel->rodata->cgroup_min_level = min;
		s->skel->rodata->cgroup_max_level = max;
		err = bpf_map__set_max_entries(s->skel->maps.cgroup_filter, opts->cgroups->n);
	}
	s->skel->rodata->unwind_mode = opts->unwind_mode;
	if (opts->unwind_mode == FORNAX_UNWIND_FP) {
		struct bpf_program *progs[N_VMA_HOOKS];

		vma_hooks(s->skel, progs);
		for (size_t i = 0; i < N_VMA_HOOKS; i++)
			bpf_program__set_autoload(progs[i], false);
	}
	s->skel->rodata->unwind_timing = opts->time_user_walks;
	if (!err)
		err = configure_proc_events(s, opts->proc_maps);
	if (!err && opts->unwind_maps) {
		/* The unwinder made these before the program existed, and fills them. */
		const struct unwinder_maps *um = opts->unwind_maps;
		struct { struct bpf_map *map; int fd; } reuse[] = {
			{ s->skel->maps.unwind_row_pages, um->row_pages },
			{ s->skel->maps.unwind_map_pages, um->map_pages },
			{ s->skel->maps.unwind_procs, um->procs },
			{ s->skel->maps.unwind_requests, um->requests },
			{ s->skel->maps.unwind_gen, um->gen },
			{ s->skel->maps.unwind_files, um->files },
			{ s->skel->maps.unwind_vmas, um->vmas },
			{ s->skel->maps.unwind_doorbell, um->doorbell },
		};

		for (size_t i = 0; !err && i < sizeof(reuse) / sizeof(*reuse); i++)
			err = bpf_map__reuse_fd(reuse[i].map, reuse[i].fd);
	}
	if (!err && opts->python_maps) {
		const struct sampler_python_maps *pm = opts->python_maps;

		s->skel->rodata->python_walk = true;
		err = bpf_map__reuse_fd(s->skel->maps.python_procs, pm->procs);
		if (!err)
			err = bpf_map__reuse_fd(s->skel->maps.py_codes, pm->codes);
		if (!err)
			err = bpf_map__reuse_fd(s->skel->maps.py_seen_codes, pm->seen_codes);
		if (!err)
			err = bpf_map__reuse_fd(s->skel->maps.py_seen_chains, pm->seen_chains);
		if (!err)
			err = bpf_map__reuse_fd(s->skel->maps.py_gen, pm->gen);
	}
	return err;
}

static int fill_pid_filter(struct sampler *s, const struct sampler_opts *opts)
{
	int fd = bpf_map__fd(s->skel->maps.pid_filter);
	__u8 yes = 1;

	for (size_t i = 0; i < opts->n_pids; i++) {
		int err = bpf_map_update_elem(fd, &opts->pids[i], &yes, BPF_ANY);

		if (err)
			return err;
	}
	return 0;
}

static size_t round_up_pow2(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * Each sample of a drain may bring a new key and two new stacks. Twice the
 * most a drain can hold leaves headroom for jitter without sizing for the
 * impossible.
 */
void sampler__size_maps(double frequency, __u64 drain_interval_ns, size_t max_stacks_flag,
			size_t *max_keys, size_t *max_stacks)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double per_drain = (double)(cpus > 0 ? cpus : 1) * frequency *
			   ((double)drain_interval_ns / NSEC_PER_SEC);
	size_t want = round_up_pow2((size_t)(2 * per_drain) + 1);

	if (want < MIN_MAP_ENTRIES)
		want = MIN_MAP_ENTRIES;
	*max_keys = want;
	*max_stacks = max_stacks_flag ? max_stacks_flag : want;
}

struct sampler *sampler__new(const struct sampler_opts *opts)
{
	struct sampler *s;
	int err;

	if (!opts || !opts->frequency || !opts->max_keys || !opts->max_stacks ||
	    (opts->unwind_mode != FORNAX_UNWIND_FP && !opts->unwind_maps)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->single_buffer = opts->single_buffer;
	s->counts_batch = COUNTS_BATCH;
	s->stacks_batch = STACKS_BATCH;
	s->nr_possible_cpus = libbpf_num_possible_cpus();
	if (s->nr_possible_cpus <= 0) {
		err = s->nr_possible_cpus ? s->nr_possible_cpus : -EINVAL;
		log_error("cannot count possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	s->percpu_stats = calloc(s->nr_possible_cpus, sizeof(*s->percpu_stats));
	if (!s->percpu_stats) {
		err = -ENOMEM;
		goto cleanup;
	}

	s->skel = profile__open();
	if (!s->skel) {
		err = -errno;
		log_error("opening the BPF object: %s", strerror(-err));
		goto cleanup;
	}
	err = configure(s, opts);
	if (err) {
		log_error("sizing BPF maps: %s", strerror(-err));
		goto cleanup;
	}
	err = profile__load(s->skel);
	if (err) {
		log_error("loading the BPF program: %s (-v shows the loader's account)",
			  strerror(-err));
		goto cleanup;
	}
	err = fill_pid_filter(s, opts);
	if (err) {
		log_error("filling the pid filter: %s", strerror(-err));
		goto cleanup;
	}
	err = cgroup_filter__fill(opts->cgroups, bpf_map__fd(s->skel->maps.cgroup_filter));
	if (err) {
		log_error("filling the cgroup filter: %s", strerror(-err));
		goto cleanup;
	}
	s->counts_fd[0] = bpf_map__fd(s->skel->maps.counts_0);
	s->counts_fd[1] = bpf_map__fd(s->skel->maps.counts_1);
	s->stacks_fd[0] = bpf_map__fd(s->skel->maps.stacks_0);
	s->stacks_fd[1] = bpf_map__fd(s->skel->maps.stacks_1);
	s->stats_fd = bpf_map__fd(s->skel->maps.set_stats);

	if (!grace_period__init(&s->grace))
		log_warn("membarrier(MEMBARRIER_CMD_GLOBAL) unavailable (nohz_full?): drains wait "
			 "a fixed 20 ms for running samples instead of an RCU grace period");

	if (opts->before_start)
		opts->before_start(opts->before_start_ctx);
	if (opts->proc_maps)
		attach_proc_events(s, opts->proc_maps);
	if (opts->unwind_mode != FORNAX_UNWIND_FP)
		attach_vma_hooks(s);
	err = attach_all_cpus(s, opts->frequency);
	if (err)
		goto cleanup;
	return s;

cleanup:
	sampler__free(s);
	errno = -err;
	return NULL;
}

int sampler__announcements_fd(const struct sampler *s)
{
	return bpf_map__fd(s->skel->maps.announcements);
}

bool sampler__proc_events(const struct sampler *s)
{
	return s->n_proc_links > 0;
}

int sampler__nr_cpus(const struct sampler *s)
{
	return s->n_links;
}

void sampler__free(struct sampler *s)
{
	if (!s)
		return;
	detach_all(s);
	free(s->links);
	profile__destroy(s->skel);
	release_scratch(s);
	free(s->refs);
	free(s->stack_ips);
	free(s->percpu_stats);
	free(s->all_keys);
	free(s->all_counts);
	free(s);
}
