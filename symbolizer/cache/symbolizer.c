// SPDX-License-Identifier: Apache-2.0
/*
 * The symbolizer's API: options, user stacks through the process cache
 * (procs.c), the files and addresses behind them (files.c, addrs.c) or the
 * perf map (jit.c), and the end of a cycle, which evicts what went idle.
 * See cache.h for the objects.
 */
#include "cache.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

#define DEFAULT_PROC_ROOT "/proc"
#define DEFAULT_NOTES_PATH "/sys/kernel/notes"
#define DEFAULT_DEBUG_DIRS "/usr/lib/debug"
#define DEFAULT_MAX_PROCESSES 8192
#define DEFAULT_MAX_FILES 256
#define DEFAULT_MAX_ADDRESSES 65536
#define DEFAULT_IDLE_CYCLES 60
#define DEFAULT_MAX_DWARF_BYTES (32u << 20)
#define DEFAULT_EXIT_GRACE_CYCLES 2
#define DEFAULT_MAX_PERFMAP_BYTES (64u << 20)
#define DEFAULT_MAX_PERFMAP_TOTAL_BYTES (256u << 20)
#define TRIM_THRESHOLD_BYTES (1u << 20) /* closed this much: give the heap back */

/* The mapping of p holding address a, re-reading p's maps at most once a cycle. */
static int user_mapping(struct symbolizer *sym, struct sym_proc *p, __u64 a,
			struct proc_mapping **out)
{
	struct proc_mapping *m = maps_find(p->maps, a);
	int err;

	if (!m && !p->gone && p->checked_cycle != sym->cycle) {
		err = proc_reread(sym, p);
		if (err)
			return err;
		m = maps_find(p->maps, a);
	}
	/* taken before the last exec, or before the exec that followed a fork */
	if (!m && p->prev_maps)
		m = maps_find(p->prev_maps, a);
	if (!m && p->fork_maps)
		m = maps_find(p->fork_maps, a);
	*out = m;
	return 0;
}

int symbolizer__lookup_user(struct symbolizer *sym, __u32 pid, __u64 process_start_ns,
			    const __u64 *addrs, size_t n, struct symbolizer_location *out)
{
	struct sym_proc *p;
	int err;

	if (!sym || (n && (!addrs || !out)))
		return -EINVAL;
	if (!n)
		return 0;
	p = proc_lookup(sym, pid, process_start_ns, &err);
	if (err)
		return err;
	if (!p)
		return -ENOMEM;
	if (!p->maps && !p->prev_maps && !p->fork_maps)
		sym->stats.process_gone++;
	for (size_t i = 0; i < n; i++) {
		struct symbolizer_location *loc = &out[i];
		struct proc_mapping *m;
		__u64 a = addrs[i];

		*loc = (struct symbolizer_location){ .address = addrs[i] };
		if (!p->maps && !p->prev_maps && !p->fork_maps) {
			set_unknown(sym, loc);
			continue;
		}
		/* a return address: the call instruction is just before it */
		if (i && a)
			a--;
		err = user_mapping(sym, p, a, &m);
		if (err)
			return err;
		if (!m || m->kind == MAPPING_OTHER) {
			/* anonymous executable memory, or none known: JIT code? */
			if (!jit_symbolize(sym, p, m, a, loc, &err)) {
				if (err)
					return err;
				if (m)
					loc->mapping = &m->pub;
				set_unknown(sym, loc);
			}
			continue;
		}
		loc->mapping = &m->pub;
		err = symbolize_in_mapping(sym, p, m, a, loc);
		if (err)
			return err;
	}
	return 0;
}

static int fetch_debuginfo(void *ctx, const unsigned char *build_id, size_t len, char **path)
{
	struct symbolizer *sym = ctx;
	int fd = debuginfod__find_debuginfo(sym->debuginfod, build_id, len, path);

	if (fd >= 0)
		sym->stats.debuginfod_found++;
	else
		sym->stats.debuginfod_missed++;
	return fd;
}

static char *strdup_or_default(const char *s, const char *def)
{
	return strdup(s ? s : def);
}

static int set_paths(struct symbolizer *sym, const struct symbolizer_opts *opts)
{
	sym->proc_root = strdup_or_default(opts->proc_root, DEFAULT_PROC_ROOT);
	if (!sym->proc_root)
		return -ENOMEM;
	if (opts->kallsyms_path)
		sym->kallsyms_path = strdup(opts->kallsyms_path);
	else if (asprintf(&sym->kallsyms_path, "%s/kallsyms", sym->proc_root) < 0)
		sym->kallsyms_path = NULL;
	if (opts->modules_path)
		sym->modules_path = strdup(opts->modules_path);
	else if (asprintf(&sym->modules_path, "%s/modules", sym->proc_root) < 0)
		sym->modules_path = NULL;
	sym->notes_path = strdup_or_default(opts->kernel_notes_path, DEFAULT_NOTES_PATH);
	sym->debug_dirs = strdup_or_default(opts->debug_dirs, DEFAULT_DEBUG_DIRS);
	sym->scratch_dir = opts->scratch_dir ? strdup(opts->scratch_dir) : NULL;
	if (!sym->kallsyms_path || !sym->modules_path || !sym->notes_path || !sym->debug_dirs ||
	    (opts->scratch_dir && !sym->scratch_dir))
		return -ENOMEM;
	return 0;
}

#define OPT_OR(v, def) ((v) ? (v) : (def))

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts)
{
	const struct symbolizer_opts empty = {};
	struct symbolizer *sym;
	int err = -ENOMEM;

	if (!opts)
		opts = &empty;
	sym = calloc(1, sizeof(*sym));
	if (!sym)
		goto cleanup;
	TAILQ_INIT(&sym->procs);
	TAILQ_INIT(&sym->exited);
	TAILQ_INIT(&sym->prev_images);
	TAILQ_INIT(&sym->devino_list);
	TAILQ_INIT(&sym->files);
	TAILQ_INIT(&sym->open_files);
	TAILQ_INIT(&sym->addr_lru);
	TAILQ_INIT(&sym->dead_addrs);
	err = set_paths(sym, opts);
	if (err)
		goto cleanup;
	sym->max_processes = OPT_OR(opts->max_processes, DEFAULT_MAX_PROCESSES);
	sym->max_files = OPT_OR(opts->max_files, DEFAULT_MAX_FILES);
	sym->max_addresses = OPT_OR(opts->max_cached_addresses, DEFAULT_MAX_ADDRESSES);
	sym->idle_cycles = OPT_OR(opts->idle_cycles, DEFAULT_IDLE_CYCLES);
	sym->exit_grace_cycles = OPT_OR(opts->exit_grace_cycles, DEFAULT_EXIT_GRACE_CYCLES);
	sym->max_perfmap_bytes = OPT_OR(opts->max_perfmap_bytes, DEFAULT_MAX_PERFMAP_BYTES);
	sym->max_perfmap_total_bytes =
		OPT_OR(opts->max_perfmap_total_bytes, DEFAULT_MAX_PERFMAP_TOTAL_BYTES);
	sym->max_dwarf_bytes = OPT_OR(opts->max_dwarf_bytes, DEFAULT_MAX_DWARF_BYTES);
	sym->elf_opts.debug_dirs = sym->debug_dirs;
	sym->elf_opts.scratch_dir = sym->scratch_dir;
	sym->elf_opts.max_dwarf_bytes = sym->max_dwarf_bytes;
	if (opts->debuginfod) {
		sym->debuginfod = debuginfod__new();
		if (!sym->debuginfod) {
			err = -errno;
			goto cleanup;
		}
		sym->elf_opts.fetch_debuginfo = fetch_debuginfo;
		sym->elf_opts.fetch_ctx = sym;
	}
	sym->no_kernel = opts->no_kernel;
	sym->ns_per_tick = procfs__ns_per_tick();
	return sym;

cleanup:
	symbolizer__free(sym);
	errno = -err;
	return NULL;
}

static void free_dead(struct symbolizer *sym)
{
	while (!TAILQ_EMPTY(&sym->dead_addrs)) {
		struct addr_entry *e = TAILQ_FIRST(&sym->dead_addrs);

		TAILQ_REMOVE(&sym->dead_addrs, e, link);
		addr_entry_free(e);
	}
	while (sym->dead_procs) {
		struct sym_proc *p = sym->dead_procs;

		sym->dead_procs = p->next_dead;
		proc_free(sym, p);
	}
	while (sym->dead_maps) {
		struct proc_maps *maps = sym->dead_maps;

		sym->dead_maps = maps->next_dead;
		maps_release(maps);
	}
	jit_end_cycle(sym);
}

/* Exited processes after their grace, and pre-exec images after theirs. */
static void end_graces(struct symbolizer *sym)
{
	struct sym_proc *p;

	while ((p = TAILQ_FIRST(&sym->exited))) {
		/* the drain of its exit cycle and the next ones, grace in all */
		if (sym->cycle - p->exit_cycle + 1 < sym->exit_grace_cycles)
			break;
		proc_unlink(sym, p);
		proc_free(sym, p);
		sym->stats.exited_freed++;
	}
	while ((p = TAILQ_FIRST(&sym->prev_images))) {
		if (sym->cycle - p->prev_cycle + 1 < sym->exit_grace_cycles)
			break;
		TAILQ_REMOVE(&sym->prev_images, p, prev_link);
		p->in_prev_images = false;
		maps_release(p->prev_maps);
		maps_release(p->fork_maps);
		p->prev_maps = NULL;
		p->fork_maps = NULL;
	}
}

/* What went unused for idle_cycles: processes, addresses, (dev, inode) entries, files. */
static void evict_idle(struct symbolizer *sym)
{
	struct sym_devino *dv, *dv_prev;
	struct sym_file *f, *f_prev;
	struct addr_entry *e;
	struct sym_proc *p;

	while ((p = TAILQ_LAST(&sym->procs, sym_proc_list)) && sym_idle(sym, p->last_used)) {
		proc_unlink(sym, p);
		proc_free(sym, p);
		sym->stats.evicted_processes++;
	}
	while ((e = TAILQ_LAST(&sym->addr_lru, addr_list)) && sym_idle(sym, e->last_used)) {
		addr_entry_kill(sym, e);
		addr_entry_free(e);
	}
	for (dv = TAILQ_LAST(&sym->devino_list, sym_devino_list); dv; dv = dv_prev) {
		dv_prev = TAILQ_PREV(dv, sym_devino_list, link);
		if (!dv->refs && sym_idle(sym, dv->last_used))
			devino_free(sym, dv);
	}
	for (f = TAILQ_LAST(&sym->files, sym_file_list); f; f = f_prev) {
		f_prev = TAILQ_PREV(f, sym_file_list, link);
		if (!sym_idle(sym, f->last_used))
			continue;
		file_close(sym, f);
		if (!f->refs && !f->n_addrs)
			file_free(sym, f);
		else if (!f->n_addrs)
			strtab__clear(&f->strings);
	}
}

void symbolizer__end_cycle(struct symbolizer *sym)
{
	struct sym_file *f;

	if (!sym)
		return;
	TAILQ_FOREACH(f, &sym->open_files, open_link)
		elf_file__release_pages(f->elf);
	free_dead(sym);
	end_graces(sym);
	evict_idle(sym);
	/* sessions kept open over the limit served this cycle's misses; now they go */
	while (sym->open_bytes > sym->max_dwarf_bytes && !TAILQ_EMPTY(&sym->open_files)) {
		file_close(sym, TAILQ_LAST(&sym->open_files, sym_file_list));
		sym->stats.budget_closed_files++;
	}
#ifdef __GLIBC__
	/*
	 * libdw's decompressed sections and per-CU tables are many blocks that
	 * free() leaves in the heap; hand them back after closing big sessions.
	 */
	if (sym->closed_bytes >= TRIM_THRESHOLD_BYTES)
		malloc_trim(0);
#endif
	sym->closed_bytes = 0;
	kernel_end_cycle(sym);
	hmap__shrink(&sym->addrs);
	hmap__shrink(&sym->procs_by_pid);
	hmap__shrink(&sym->devinos);
	sym->cycle++;
}

void symbolizer__free(struct symbolizer *sym)
{
	if (!sym)
		return;
	free_dead(sym);
	while (!TAILQ_EMPTY(&sym->procs)) {
		struct sym_proc *p = TAILQ_FIRST(&sym->procs);

		proc_unlink(sym, p);
		proc_free(sym, p);
	}
	jit_end_cycle(sym); /* the perf maps the processes released */
	hmap__clear(&sym->perfmaps);
	while (!TAILQ_EMPTY(&sym->addr_lru)) {
		struct addr_entry *e = TAILQ_FIRST(&sym->addr_lru);

		addr_entry_kill(sym, e);
		addr_entry_free(e);
	}
	while (!TAILQ_EMPTY(&sym->devino_list))
		devino_free(sym, TAILQ_FIRST(&sym->devino_list));
	while (!TAILQ_EMPTY(&sym->files))
		file_free(sym, TAILQ_FIRST(&sym->files));
	hmap__clear(&sym->procs_by_pid);
	hmap__clear(&sym->devinos);
	hmap__clear(&sym->files_by_bid);
	hmap__clear(&sym->addrs);
	kernel_free(&sym->k);
	free(sym->proc_root);
	free(sym->kallsyms_path);
	free(sym->modules_path);
	free(sym->notes_path);
	free(sym->debug_dirs);
	free(sym->scratch_dir);
	debuginfod__free(sym->debuginfod);
	free(sym);
}

void symbolizer__stats(const struct symbolizer *sym, struct symbolizer_stats *out)
{
	if (!sym || !out)
		return;
	*out = sym->stats;
	out->kernel_symbols = kdyn__count(sym->k.dyn);
	out->processes = sym->n_procs;
	out->files = sym->n_open;
	out->cached_addresses = sym->n_addrs;
	out->perfmap_bytes = sym->perfmap_bytes;
}
