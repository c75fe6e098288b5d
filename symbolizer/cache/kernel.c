// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel addresses: /proc/kallsyms (kernel/), loaded once, with the core
 * kernel and each module as a mapping, and in front of it the text the
 * kernel reported coming and going since (kdyn: BPF programs); frames of a
 * cycle are made once per symbol.
 */
#include "cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static bool kframe_eq(const void *val, const void *key)
{
	return ((const struct kframe *)val)->index == *(const __u32 *)key;
}

void kernel_free(struct kernel_state *k)
{
	for (size_t i = 0; k->mod_paths && i < k->n_mods; i++)
		free(k->mod_paths[i]);
	free(k->mod_paths);
	free(k->mods);
	free(k->build_id);
	kallsyms__free(k->ks);
	kdyn__free(k->dyn);
	k->dyn = NULL;
	k->mod_paths = NULL;
	k->mods = NULL;
	k->build_id = NULL;
	k->ks = NULL;
	k->n_mods = 0;
	hmap__clear(&k->frames);
	while (k->chunks) {
		struct kframe_chunk *c = k->chunks;

		k->chunks = c->next;
		free(c);
	}
}

static int kernel_modules(struct kernel_state *k)
{
	k->n_mods = kallsyms__module_count(k->ks);
	if (!k->n_mods)
		return 0;
	k->mods = calloc(k->n_mods, sizeof(*k->mods));
	k->mod_paths = calloc(k->n_mods, sizeof(*k->mod_paths));
	if (!k->mods || !k->mod_paths)
		return -ENOMEM;
	for (size_t i = 0; i < k->n_mods; i++) {
		const struct kallsyms_module *km = kallsyms__module(k->ks, i);

		if (asprintf(&k->mod_paths[i], "[%s]", km->name) < 0) {
			k->mod_paths[i] = NULL;
			return -ENOMEM;
		}
		k->mods[i] = (struct symbolizer_mapping){
			.start = km->start,
			.limit = km->end,
			.path = k->mod_paths[i],
			.has_functions = true,
			.kernel = true,
		};
	}
	return 0;
}

/* The fewest cycles between two reads of /proc/kallsyms: a quarter of the idle time. */
static __u64 reread_base(const struct symbolizer *sym)
{
	return sym->idle_cycles / 4 ? sym->idle_cycles / 4 : 1;
}

static int kernel_load(struct symbolizer *sym)
{
	struct kernel_state *k = &sym->k;
	__u64 start, end;

	if (k->tried)
		return k->err;
	k->ks = kallsyms__load(sym->kallsyms_path, sym->modules_path);
	if (!k->ks) {
		int err = errno ? -errno : -EINVAL;

		if (err == -ENOMEM)
			return err; /* try again later */
		k->tried = true;
		k->err = err;
		return err;
	}
	k->tried = true;
	k->read_cycle = sym->cycle;
	k->reread_wait = reread_base(sym);
	(void)kallsyms__read_build_id(sym->notes_path, &k->build_id); /* optional */
	kallsyms__core_range(k->ks, &start, &end);
	k->core = (struct symbolizer_mapping){
		.start = start,
		.limit = end,
		.path = "[kernel.kallsyms]",
		.build_id = k->build_id,
		.has_functions = true,
		.kernel = true,
	};
	if (kernel_modules(k)) {
		struct kdyn *dyn = k->dyn;

		/* undo, so a later call can try again; what came since is kept */
		k->dyn = NULL;
		kernel_free(k);
		k->dyn = dyn;
		k->tried = false;
		return -ENOMEM;
	}
	return 0;
}

int symbolizer__load_kernel(struct symbolizer *sym)
{
	if (!sym)
		return -EINVAL;
	if (sym->no_kernel)
		return -EOPNOTSUPP;
	return kernel_load(sym);
}

/* key: the kallsyms index, or KFRAME_DYN_BIT | the kdyn id */
static const struct symbolizer_frame *kernel_frame(struct symbolizer *sym, __u32 key,
						   const char *name)
{
	struct kernel_state *k = &sym->k;
	__u64 h = hash_u64(key);
	struct kframe *kf;

	kf = hmap__find(&k->frames, h, kframe_eq, &key);
	if (kf)
		return &kf->frame;
	if (!k->chunks || k->chunks->used == KFRAME_CHUNK) {
		struct kframe_chunk *c = malloc(sizeof(*c));

		if (!c)
			return NULL;
		c->used = 0;
		c->next = k->chunks;
		k->chunks = c;
	}
	kf = &k->chunks->items[k->chunks->used];
	kf->index = key;
	kf->frame = (struct symbolizer_frame){ .function = name, .system_name = name };
	if (hmap__insert(&k->frames, h, kf))
		return NULL;
	k->chunks->used++;
	return &kf->frame;
}

int symbolizer__lookup_kernel(struct symbolizer *sym, const __u64 *addrs, size_t n,
			      struct symbolizer_location *out)
{
	struct kernel_state *k;
	int err = 0;

	if (!sym || (n && (!addrs || !out)))
		return -EINVAL;
	k = &sym->k;
	if (!n)
		return 0;
	if (!sym->no_kernel)
		err = kernel_load(sym);
	if (err == -ENOMEM)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct symbolizer_location *loc = &out[i];
		const struct symbolizer_frame *frame;
		const struct kdyn_sym *ds;
		struct kallsyms_sym s;
		__u64 a = addrs[i];

		*loc = (struct symbolizer_location){ .address = addrs[i] };
		/* a return address: the call instruction is just before it */
		if (i && a)
			a--;
		ds = kdyn__lookup(k->dyn, a);
		if (ds && !ds->name) {
			set_unknown(sym, loc); /* gone, and no longer what kallsyms said */
			continue;
		}
		if (ds) {
			frame = kernel_frame(sym, KFRAME_DYN_BIT | ds->id, ds->name);
			if (!frame)
				return -ENOMEM;
			*loc = (struct symbolizer_location){ .address = addrs[i],
				.mapping = &k->dyn_map, .frames = frame, .n_frames = 1 };
			continue;
		}
		if (!k->ks) {
			set_unknown(sym, loc);
			continue;
		}
		if (kallsyms__lookup(k->ks, a, &s) != 0) {
			if (a >= k->core.start && a < k->core.limit)
				loc->mapping = &k->core;
			else
				k->missed_outside_core = true;
			set_unknown(sym, loc);
			continue;
		}
		loc->mapping = s.module < 0 ? &k->core : &k->mods[s.module];
		frame = kernel_frame(sym, s.index, s.name);
		if (!frame)
			return -ENOMEM;
		loc->frames = frame;
		loc->n_frames = 1;
	}
	return 0;
}

static struct kdyn *kernel_dyn(struct symbolizer *sym)
{
	if (!sym->k.dyn)
		sym->k.dyn = kdyn__new(0);
	return sym->k.dyn;
}

int symbolizer__kernel_symbol_add(struct symbolizer *sym, __u64 addr, __u64 len,
				  const char *name)
{
	struct kernel_state *k;
	int err;

	if (!sym || !name || !len || addr + len < addr)
		return -EINVAL;
	if (sym->no_kernel)
		return 0;
	k = &sym->k;
	err = kernel_dyn(sym) ? kdyn__add(k->dyn, addr, len, name) : -ENOMEM;
	if (err) {
		sym->stats.kernel_symbols_dropped++;
		return err;
	}
	sym->stats.kernel_symbols_added++;
	if (!k->dyn_map.limit) {
		k->dyn_map = (struct symbolizer_mapping){ .start = addr, .path = "[bpf]",
			.has_functions = true, .kernel = true };
	}
	if (addr < k->dyn_map.start)
		k->dyn_map.start = addr;
	if (addr + len > k->dyn_map.limit)
		k->dyn_map.limit = addr + len;
	return 0;
}

int symbolizer__kernel_symbol_remove(struct symbolizer *sym, __u64 addr, __u64 len)
{
	struct kallsyms_sym s;
	bool in_base;
	int err;

	if (!sym || !len || addr + len < addr)
		return -EINVAL;
	if (sym->no_kernel)
		return 0;
	sym->stats.kernel_symbols_removed++;
	/* kallsyms, read before it went, has a symbol starting in the range */
	in_base = sym->k.ks && kallsyms__lookup(sym->k.ks, addr + len - 1, &s) == 0 &&
		  s.addr >= addr;
	if (!in_base && !sym->k.dyn)
		return 0;
	err = kernel_dyn(sym) ? kdyn__remove(sym->k.dyn, addr, len, in_base) : -ENOMEM;
	return err == -ENOENT ? 0 : err;
}

/*
 * A module loaded after /proc/kallsyms was read comes with no
 * PERF_RECORD_KSYMBOL: an address outside the core kernel that nothing
 * names has the table read again, at the end of a cycle (what the cycle
 * handed out points into the old one) and at most every reread_wait
 * cycles. A read that finds no change doubles the wait, so an address
 * nothing will ever name (a kprobe's slot) costs a read an hour or so.
 */
static void kernel_reread(struct symbolizer *sym)
{
	struct kernel_state *k = &sym->k, fresh = {};
	bool changed;

	if (!k->missed_outside_core || !k->ks || sym->cycle - k->read_cycle < k->reread_wait)
		return;
	k->missed_outside_core = false;
	k->read_cycle = sym->cycle;
	fresh.ks = kallsyms__load(sym->kallsyms_path, sym->modules_path);
	if (!fresh.ks || kernel_modules(&fresh)) {
		kernel_free(&fresh);
		sym->stats.kernel_reread_errors++;
		return;
	}
	sym->stats.kernel_rereads++;
	changed = kallsyms__count(fresh.ks) != kallsyms__count(k->ks) || fresh.n_mods != k->n_mods;
	k->reread_wait = changed ? reread_base(sym) : k->reread_wait * 2;
	if (k->reread_wait > reread_base(sym) * 64)
		k->reread_wait = reread_base(sym) * 64;
	for (size_t i = 0; i < k->n_mods; i++)
		free(k->mod_paths[i]);
	free(k->mod_paths);
	free(k->mods);
	kallsyms__free(k->ks);
	k->ks = fresh.ks;
	k->mods = fresh.mods;
	k->mod_paths = fresh.mod_paths;
	k->n_mods = fresh.n_mods;
	kallsyms__core_range(k->ks, &k->core.start, &k->core.limit);
	/* the table is current: what it no longer names needs no mask */
	kdyn__drop_masks(k->dyn);
}

void kernel_end_cycle(struct symbolizer *sym)
{
	struct kernel_state *k = &sym->k;
	struct kframe_chunk *c = k->chunks;

	/* keep one chunk for the next cycle */
	if (c) {
		struct kframe_chunk *next = c->next;

		while (next) {
			struct kframe_chunk *tmp = next->next;

			free(next);
			next = tmp;
		}
		c->next = NULL;
		c->used = 0;
	}
	if (k->frames.len > KFRAME_CHUNK * 4)
		hmap__clear(&k->frames);
	else
		hmap__reset(&k->frames);
	kdyn__end_cycle(k->dyn);
	kernel_reread(sym);
}
