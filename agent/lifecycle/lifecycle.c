// SPDX-License-Identifier: Apache-2.0
#include "lifecycle.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_features.h"
#include "log.h"

struct lifecycle {
	struct symbolizer *symbolizer;
	struct cgroups *cgroups;
	struct unwinder *unwinder;
	struct sideband *sideband;
	struct python_tracker *python;
	const __u32 *pids;
	size_t n_pids;
	/* exit mappings converted for the symbolizer, reused */
	struct symbolizer_vma *vmas;
	size_t vmas_cap;
};

struct lifecycle *lifecycle__new(const struct lifecycle_opts *opts)
{
	struct lifecycle *lc;

	if (!opts || !opts->symbolizer) {
		errno = EINVAL;
		return NULL;
	}
	lc = calloc(1, sizeof(*lc));
	if (!lc) {
		errno = ENOMEM;
		return NULL;
	}
	lc->symbolizer = opts->symbolizer;
	lc->cgroups = opts->cgroups;
	lc->python = opts->python;
	lc->pids = opts->pids;
	lc->n_pids = opts->n_pids;
	return lc;
}

void lifecycle__free(struct lifecycle *lc)
{
	if (!lc)
		return;
	sideband__free(lc->sideband);
	free(lc->vmas);
	free(lc);
}

void lifecycle__set_python(struct lifecycle *lc, struct python_tracker *python)
{
	lc->python = python;
}

static bool pid_selected(const struct lifecycle *lc, __u32 pid)
{
	if (!lc->n_pids)
		return true;
	for (size_t i = 0; i < lc->n_pids; i++)
		if (lc->pids[i] == pid)
			return true;
	return false;
}

static int on_exit_event(struct lifecycle *lc, const struct proc_event *ev)
{
	struct symbolizer_exit ex = {
		.n_vmas = ev->n_vmas,
		.complete = ev->maps_complete,
		.vdso_start = ev->vdso_start,
	};
	struct sideband_exit sbx;

	/* the mappings as they were made, from exec (or fork) to exit */
	if (lc->sideband && sideband__take_exit(lc->sideband, ev->pid, &sbx) && !ex.complete)
		return symbolizer__process_exit(lc->symbolizer, ev->pid, ev->process_start_ns,
						&sbx.ex);

	if (ev->n_vmas > lc->vmas_cap) {
		struct symbolizer_vma *v = reallocarray(lc->vmas, ev->n_vmas, sizeof(*v));

		if (!v)
			return -ENOMEM;
		lc->vmas = v;
		lc->vmas_cap = ev->n_vmas;
	}
	for (size_t i = 0; i < ev->n_vmas; i++) {
		const struct fornax_proc_vma *k = &ev->vmas[i];

		lc->vmas[i] = (struct symbolizer_vma){
			.start = k->start, .end = k->end, .offset = k->offset, .inode = k->inode,
			.dev_major = k->dev_major, .dev_minor = k->dev_minor,
		};
	}
	ex.vmas = lc->vmas;
	return symbolizer__process_exit(lc->symbolizer, ev->pid, ev->process_start_ns, &ex);
}

/*
 * pid's mappings from the perf sideband's records, when it followed pid
 * from its start: what perf does instead of reading /proc/PID/maps.
 */
static bool mappings_from_records(struct lifecycle *lc, __u32 pid, __u64 start_ns,
				  bool open_files)
{
	struct sideband_exit m;

	return lc->sideband && sideband__mappings(lc->sideband, pid, &m) &&
	       symbolizer__process_mappings(lc->symbolizer, pid, start_ns, &m.ex, open_files) == 0;
}

int lifecycle__on_event(const struct proc_event *ev, void *ctx)
{
	struct lifecycle *lc = ctx;
	int err = 0;

	if (!pid_selected(lc, ev->pid))
		return 0;
	switch (ev->kind) {
	case FORNAX_PROC_FORK:
		(void)mappings_from_records(lc, ev->parent_pid, ev->parent_start_ns, false);
		err = symbolizer__process_fork(lc->symbolizer, ev->parent_pid, ev->parent_start_ns,
					       ev->pid, ev->process_start_ns);
		if (lc->python)
			python_tracker__process_fork(lc->python, ev->parent_pid,
						     ev->parent_start_ns, ev->pid,
						     ev->process_start_ns);
		break;
	case FORNAX_PROC_EXEC:
	case FORNAX_PROC_FIRST_SAMPLE:
		/* with the sideband, an exited process's mappings come with its exit */
		if (ev->kind == FORNAX_PROC_EXEC && lc->sideband)
			err = symbolizer__process_exec(lc->symbolizer, ev->pid,
						       ev->process_start_ns);
		else if (ev->kind == FORNAX_PROC_EXEC ||
			 !mappings_from_records(lc, ev->pid, ev->process_start_ns, true))
			err = symbolizer__process_read(lc->symbolizer, ev->pid,
						       ev->process_start_ns,
						       ev->kind == FORNAX_PROC_EXEC);
		if (err == -ESRCH)
			err = 0; /* gone already: its exit record brings the mappings */
		if (lc->python)
			python_tracker__process_seen(lc->python, ev->pid, ev->process_start_ns,
						     ev->kind == FORNAX_PROC_EXEC, ev->exe_name,
						     ev->exe_name_cut);
		/* a container's cgroup may be gone by the drain: name it now */
		if (lc->cgroups)
			(void)cgroups__lookup(lc->cgroups, ev->cgroup_id);
		break;
	case FORNAX_PROC_EXIT:
		err = on_exit_event(lc, ev);
		if (lc->unwinder)
			unwinder__process_exit(lc->unwinder, ev->pid, ev->process_start_ns);
		if (lc->python)
			python_tracker__process_exit(lc->python, ev->pid, ev->process_start_ns);
		break;
	default:
		break;
	}
	if (err)
		log_warn_ratelimited("process %u: %s, ignoring", ev->pid, strerror(-err));
	return 0;
}

void lifecycle__on_mmap(__u32 pid, const struct symbolizer_vma *vma, const char *path, void *ctx)
{
	struct lifecycle *lc = ctx;
	int err;

	if (!pid_selected(lc, pid))
		return;
	err = symbolizer__file_mapped(lc->symbolizer, pid, vma, path);
	if (err)
		log_warn_ratelimited("process %u: opening %s: %s, ignoring", pid, path,
				     strerror(-err));
}

/* A BPF program loaded or unloaded: kallsyms, read once, would not know. */
static void on_ksymbol(__u64 addr, __u32 len, const char *name, bool gone, void *ctx)
{
	struct lifecycle *lc = ctx;
	int err;

	if (gone)
		err = symbolizer__kernel_symbol_remove(lc->symbolizer, addr, len);
	else
		err = symbolizer__kernel_symbol_add(lc->symbolizer, addr, len, name);
	if (err)
		log_warn_ratelimited("kernel symbol %s: %s, ignoring", name, strerror(-err));
}

bool lifecycle__start_sideband(struct lifecycle *lc)
{
	struct kernel_features kf;

	kernel_features__probe(&kf);
	lc->sideband = sideband__new(&(struct sideband_opts){ .ksymbol = on_ksymbol },
				     lifecycle__on_mmap, lc);
	if (!lc->sideband) {
		int err = errno;

		/* only then does the VMA iterator matter */
		kernel_features__probe_types(&kf);
		log_warn("perf sideband records unavailable (%s): exits keep only the mappings %s",
			 strerror(err), kf.vma_iterator ? "walked at exit" : "read before");
	}
	kf.sideband = lc->sideband != NULL;
	kernel_features__log(&kf);
	return kf.vma_iterator && !kf.sideband;
}

void lifecycle__consume_sideband(struct lifecycle *lc)
{
	int n = sideband__consume(lc->sideband);

	if (n < 0)
		log_warn_ratelimited("reading perf sideband records: %s, ignoring", strerror(-n));
}

void lifecycle__end_cycle(struct lifecycle *lc)
{
	sideband__end_cycle(lc->sideband);
}

void lifecycle__set_unwinder(struct lifecycle *lc, struct unwinder *u)
{
	lc->unwinder = u;
}

void lifecycle__log_summary(const struct lifecycle *lc)
{
	struct symbolizer_stats ss;

	if (!lc)
		return;
	symbolizer__stats(lc->symbolizer, &ss);
	if (ss.debuginfod_found || ss.debuginfod_missed)
		log_info("debuginfod: %llu debug files fetched, %llu not found",
			 (unsigned long long)ss.debuginfod_found,
			 (unsigned long long)ss.debuginfod_missed);
	if (ss.perfmap_budget_hits)
		log_info("perf maps: %llu reads stopped by the memory budget (--perf-map-memory), "
			 "%.1f MiB read", (unsigned long long)ss.perfmap_budget_hits,
			 (double)ss.perfmap_bytes / (1 << 20));
	if (ss.budget_closed_files)
		log_info("debug info: %llu files closed to stay within --debug-info-memory, to be "
			 "read again when next needed", (unsigned long long)ss.budget_closed_files);
	if (ss.kernel_symbols_added || ss.kernel_symbols_removed || ss.kernel_symbols_dropped)
		log_info("kernel symbols after /proc/kallsyms was read: %llu added, %llu removed, "
			 "%llu dropped (over the bound or no memory), %llu held",
			 (unsigned long long)ss.kernel_symbols_added,
			 (unsigned long long)ss.kernel_symbols_removed,
			 (unsigned long long)ss.kernel_symbols_dropped,
			 (unsigned long long)ss.kernel_symbols);
	if (ss.kernel_rereads || ss.kernel_reread_errors)
		log_info("/proc/kallsyms read again %llu times for modules loaded since (%llu "
			 "failed)", (unsigned long long)ss.kernel_rereads,
			 (unsigned long long)ss.kernel_reread_errors);
	log_info("processes: %llu maps read at exec (%llu gone before, %llu left for a sample), "
		 "%llu exits with mappings "
		 "(%llu mappings of unseen files), %llu freed after exit, %llu evicted",
		 (unsigned long long)ss.exec_reads, (unsigned long long)ss.exec_gone,
		 (unsigned long long)ss.exec_deferred, (unsigned long long)ss.exits, (unsigned long long)ss.exit_unknown_files,
		 (unsigned long long)ss.exited_freed, (unsigned long long)ss.evicted_processes);
	if (lc->sideband) {
		struct sideband_stats sb;

		sideband__stats(lc->sideband, &sb);
		log_info("perf sideband: %llu records: %llu executable mappings (%llu files first "
			 "seen there), %llu execs, %llu forks, %llu exits, %llu BPF program "
			 "symbols; %llu exits and %llu live processes given their mappings, %llu "
			 "not followed from their start; %llu records lost",
			 (unsigned long long)sb.records, (unsigned long long)sb.mmaps,
			 (unsigned long long)ss.files_mapped, (unsigned long long)sb.execs,
			 (unsigned long long)sb.forks, (unsigned long long)sb.exits,
			 (unsigned long long)sb.ksymbols, (unsigned long long)sb.taken,
			 (unsigned long long)sb.given,
			 (unsigned long long)sb.unknown, (unsigned long long)sb.lost);
	}
}

void lifecycle__log_caches(const struct lifecycle *lc)
{
	struct symbolizer_stats ss;
	struct cgroups_stats cs = {};

	if (!log_enabled(LOG_DEBUG))
		return;
	symbolizer__stats(lc->symbolizer, &ss);
	if (lc->cgroups)
		cgroups__stats(lc->cgroups, &cs);
	log_debug("caches: %llu processes, %llu open files, %llu cached addresses, %llu cgroups, "
		  "%llu later kernel symbols (since start %llu added, %llu removed, %llu dropped); "
		  "evicted %llu processes, %llu files (%llu for the memory budget), %llu addresses",
		  (unsigned long long)ss.processes, (unsigned long long)ss.files,
		  (unsigned long long)ss.cached_addresses, (unsigned long long)cs.cached,
		  (unsigned long long)ss.kernel_symbols, (unsigned long long)ss.kernel_symbols_added,
		  (unsigned long long)ss.kernel_symbols_removed,
		  (unsigned long long)ss.kernel_symbols_dropped,
		  (unsigned long long)ss.evicted_processes, (unsigned long long)ss.evicted_files,
		  (unsigned long long)ss.budget_closed_files, (unsigned long long)ss.evicted_addresses);
}

void lifecycle__cache_stats(const struct lifecycle *lc, struct symbolizer_stats *sym,
			    struct cgroups_stats *cgroups)
{
	symbolizer__stats(lc->symbolizer, sym);
	if (lc->cgroups)
		cgroups__stats(lc->cgroups, cgroups);
}
