// SPDX-License-Identifier: Apache-2.0
/*
 * The address cache: the frames of each (file, ELF vaddr) symbolized, LRU
 * over all files and bounded by max_addresses. Names are interned in their
 * file's string table, so a file's strings go with its last address.
 */
#include "cache.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "demangler.h"

struct addr_key {
	const struct sym_file *file;
	__u64 vaddr;
};

static __u64 addr_hash(const struct sym_file *file, __u64 vaddr)
{
	return hash_pair((__u64)(uintptr_t)file, vaddr);
}

static bool addr_eq(const void *val, const void *key)
{
	const struct addr_entry *e = val;
	const struct addr_key *k = key;

	return e->file == k->file && e->vaddr == k->vaddr;
}

void addr_entry_kill(struct symbolizer *sym, struct addr_entry *e)
{
	(void)hmap__remove(&sym->addrs, addr_hash(e->file, e->vaddr), e);
	TAILQ_REMOVE(&sym->addr_lru, e, link);
	sym->n_addrs--;
	sym->stats.evicted_addresses++;
}

void addr_entry_free(struct addr_entry *e)
{
	e->file->n_addrs--;
	free(e);
}

static const char *intern_or_null(struct sym_file *f, const char *s, int *err)
{
	const char *r;

	if (!s)
		return NULL;
	r = strtab__intern(&f->strings, s);
	if (!r)
		*err = -ENOMEM;
	return r;
}

static struct addr_entry *addr_entry_new(struct symbolizer *sym, struct sym_file *f, __u64 vaddr,
					 const struct elf_frame *frames, size_t n, int *err)
{
	struct addr_entry *e;

	*err = 0;
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	e = malloc(sizeof(*e) + n * sizeof(e->frames[0]));
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	e->file = f;
	e->vaddr = vaddr;
	e->last_used = sym->cycle;
	e->n_frames = (__u32)n;
	for (size_t i = 0; i < n; i++) {
		struct symbolizer_frame *out = &e->frames[i];
		char *demangled;

		out->system_name = intern_or_null(f, frames[i].name, err);
		demangled = symbolizer_demangle(frames[i].name);
		out->function = demangled ? intern_or_null(f, demangled, err) : out->system_name;
		free(demangled);
		out->file = intern_or_null(f, frames[i].file, err);
		out->line = frames[i].line;
		out->start_line = frames[i].start_line;
		if (*err) {
			free(e);
			return NULL;
		}
	}
	*err = hmap__insert(&sym->addrs, addr_hash(f, vaddr), e);
	if (*err) {
		free(e);
		return NULL;
	}
	while (sym->n_addrs >= sym->max_addresses && !TAILQ_EMPTY(&sym->addr_lru)) {
		struct addr_entry *lru = TAILQ_LAST(&sym->addr_lru, addr_list);

		addr_entry_kill(sym, lru);
		TAILQ_INSERT_HEAD(&sym->dead_addrs, lru, link);
	}
	TAILQ_INSERT_HEAD(&sym->addr_lru, e, link);
	sym->n_addrs++;
	f->n_addrs++;
	return e;
}

/* The cached entry for (f, vaddr), or a new one from f's debug information. */
static struct addr_entry *addr_entry_get(struct symbolizer *sym, struct sym_proc *p,
					 const struct proc_mapping *m, struct sym_file *f,
					 __u64 vaddr, int *err)
{
	struct addr_key key = { .file = f, .vaddr = vaddr };
	const struct elf_frame *frames;
	struct addr_entry *e;
	size_t n;

	*err = 0;
	e = hmap__find(&sym->addrs, addr_hash(f, vaddr), addr_eq, &key);
	if (e) {
		sym->stats.cache_hits++;
		e->last_used = sym->cycle;
		if (TAILQ_FIRST(&sym->addr_lru) != e) {
			TAILQ_REMOVE(&sym->addr_lru, e, link);
			TAILQ_INSERT_HEAD(&sym->addr_lru, e, link);
		}
		return e;
	}
	sym->stats.cache_misses++;
	if (!f->elf) {
		*err = file_reopen(sym, p, m, f);
		if (*err)
			return NULL;
	} else if (TAILQ_FIRST(&sym->open_files) != f) {
		TAILQ_REMOVE(&sym->open_files, f, open_link);
		TAILQ_INSERT_HEAD(&sym->open_files, f, open_link);
	}
	*err = elf_file__symbolize(f->elf, vaddr, &frames, &n);
	if (*err == -ENOMEM)
		return NULL;
	if (*err)
		n = 0; /* cached too: unknown addresses cost no DWARF work next time */
	if (!f->probed) {
		f->probed = true;
		f->has_dwarf = elf_file__has_dwarf(f->elf);
	}
	if (n)
		f->has_functions = true;
	file_account(sym, f);
	return addr_entry_new(sym, f, vaddr, frames, n, err);
}

int symbolize_in_mapping(struct symbolizer *sym, struct sym_proc *p, struct proc_mapping *m,
			 __u64 addr, struct symbolizer_location *loc)
{
	struct addr_entry *e;
	struct sym_file *f;
	__u64 vaddr;
	int err;

	f = mapping_file(sym, p, m, &err);
	if (!f)
		goto unknown;
	f->last_used = sym->cycle;
	m->pub.build_id = f->build_id;
	if (elf_segments__to_vaddr(f->segs, f->n_segs, addr - m->pub.start + m->pub.offset, &vaddr))
		goto unknown;
	e = addr_entry_get(sym, p, m, f, vaddr, &err);
	if (!e)
		goto unknown;
	m->pub.has_functions = f->has_functions;
	m->pub.has_line_numbers = f->has_dwarf;
	m->pub.has_inline_frames = f->has_dwarf;
	if (!e->n_frames) {
		set_unknown(sym, loc);
		return 0;
	}
	loc->frames = e->frames;
	loc->n_frames = e->n_frames;
	return 0;

unknown:
	set_unknown(sym, loc);
	return err == -ENOMEM ? err : 0;
}
