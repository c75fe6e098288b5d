// SPDX-License-Identifier: Apache-2.0
#include "py_code.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "py_linetable.h"
#include "py_mem.h"

/* The fields of a code object that never change while it lives. */
struct fingerprint {
	__u64 type;
	__u64 size;
	__u64 filename;
	__u64 qualname;
	__u64 linetable;
	__s32 firstlineno;
	__u32 pad;
};

struct code_key {
	__u32 pid;
	__u32 pad;
	__u64 start_ns;
	__u64 addr;
};

struct code_entry {
	struct code_key key;
	struct fingerprint fp;
	char *qualname;
	char *filename;
	void *linetable;
	size_t linetable_len;
	__u32 code_adaptive;
	__u64 last_used;  /* cycle */
	__u64 checked;    /* cycle the fingerprint was last compared in */
	size_t bytes;
};

struct dead_process {
	__u32 pid;
	__u64 start_ns;
};

struct py_code_cache {
	struct py_code_cache_opts opts;
	struct hmap entries;
	size_t bytes;
	__u64 cycle;
	struct dead_process *dead;
	size_t n_dead, dead_cap;
	struct py_code_cache_stats stats;
};

static __u64 key_hash(const struct code_key *k)
{
	return hash_u64(k->addr ^ hash_u64(((__u64)k->pid << 32) ^ k->start_ns));
}

static bool key_eq(const void *val, const void *key)
{
	const struct code_entry *e = val;

	return memcmp(&e->key, key, sizeof(e->key)) == 0;
}

struct py_code_cache *py_code_cache__new(const struct py_code_cache_opts *opts)
{
	struct py_code_cache *c = calloc(1, sizeof(*c));

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	if (opts)
		c->opts = *opts;
	if (!c->opts.max_entries)
		c->opts.max_entries = 65536;
	if (!c->opts.max_bytes)
		c->opts.max_bytes = 64u << 20;
	if (!c->opts.idle_cycles)
		c->opts.idle_cycles = 60;
	if (!c->opts.max_string)
		c->opts.max_string = 4096;
	if (!c->opts.max_linetable)
		c->opts.max_linetable = 1u << 20;
	return c;
}

static void entry_free(struct code_entry *e)
{
	if (!e)
		return;
	free(e->qualname);
	free(e->filename);
	free(e->linetable);
	free(e);
}

/* evict: for room or idleness, which the owner hears of (opts.evicted) */
static void entry_remove(struct py_code_cache *c, struct code_entry *e, bool evict)
{
	hmap__remove(&c->entries, key_hash(&e->key), e);
	c->bytes -= e->bytes;
	c->stats.evicted++;
	if (evict && c->opts.evicted)
		c->opts.evicted(c->opts.ctx, e->key.pid, e->key.start_ns, e->key.addr);
	entry_free(e);
}

void py_code_cache__free(struct py_code_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->entries.cap; i++)
		entry_free(c->entries.slots[i].val);
	hmap__clear(&c->entries);
	free(c->dead);
	free(c);
}

static int read_fingerprint(const struct py_process *proc, const struct py_mem *m, __u64 addr,
			    struct fingerprint *fp)
{
	const struct py_layout *l = &proc->layout;
	unsigned char hdr[256];
	__u32 len = l->code_adaptive;
	int err;

	if (len > sizeof(hdr) || len < l->code_linetable + 8 || len < l->code_firstlineno + 4)
		return -EINVAL;
	err = py_mem__read_at(m, addr, hdr, len);
	if (err)
		return err;
	memset(fp, 0, sizeof(*fp));
	memcpy(&fp->type, hdr + l->ob_type, 8);
	memcpy(&fp->size, hdr + l->ob_size, 8);
	memcpy(&fp->filename, hdr + l->code_filename, 8);
	memcpy(&fp->qualname, hdr + l->code_qualname, 8);
	memcpy(&fp->linetable, hdr + l->code_linetable, 8);
	memcpy(&fp->firstlineno, hdr + l->code_firstlineno, 4);
	if (proc->code_type && fp->type != proc->code_type)
		return -EFAULT;
	/* ob_size counts code units; no real function has a billion of them. */
	if ((__s64)fp->size <= 0 || fp->size > (1u << 30))
		return -EFAULT;
	return 0;
}

/* Reads the code object at key->addr into a new entry, from copies first (NULL: none). */
static int entry_load(struct py_code_cache *c, const struct py_process *proc,
		      const struct code_key *key, const struct py_mem_copy *copies,
		      size_t n_copies, struct code_entry **out)
{
	struct py_mem m = {
		.pid = key->pid,
		.layout = &proc->layout,
		.unicode_type = proc->unicode_type,
		.bytes_type = proc->bytes_type,
		.copies = copies,
		.n_copies = n_copies,
	};
	struct code_entry *e = calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->key = *key;
	e->code_adaptive = proc->layout.code_adaptive;
	err = read_fingerprint(proc, &m, key->addr, &e->fp);
	if (!err)
		err = py_mem__read_str(&m, e->fp.qualname, c->opts.max_string, &e->qualname);
	if (!err)
		err = py_mem__read_str(&m, e->fp.filename, c->opts.max_string, &e->filename);
	if (!err)
		err = py_mem__read_bytes(&m, e->fp.linetable, c->opts.max_linetable, &e->linetable,
					 &e->linetable_len);
	if (err == -ESRCH && n_copies && e->qualname && e->filename) {
		/* A table too long to copy, of a process gone: named, its lines unknown (0). */
		c->stats.no_linetable++;
		err = 0;
	}
	if (err) {
		entry_free(e);
		return err == -E2BIG || err == -EINVAL ? -EFAULT : err;
	}
	e->bytes = sizeof(*e) + strlen(e->qualname) + strlen(e->filename) + e->linetable_len;
	*out = e;
	return 0;
}

/* Frees entries until count and bytes fit again: first those idle this cycle, then any. */
static void make_room(struct py_code_cache *c, size_t need)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->entries.cap;) {
			struct code_entry *e = c->entries.slots[i].val;

			if (hmap__len(&c->entries) < c->opts.max_entries &&
			    c->bytes + need <= c->opts.max_bytes)
				return;
			/* Removal shifts a later entry into slot i: look at i again. */
			if (e && (pass == 1 || e->last_used < c->cycle))
				entry_remove(c, e, true);
			else
				i++;
		}
	}
}

static __u32 frame_line(const struct code_entry *e, __u32 instr_delta)
{
	__s64 lasti;
	__s32 line;

	if (!instr_delta || instr_delta + 2 < e->code_adaptive || !e->linetable)
		return 0;
	/*
	 * instr_delta points at the last code unit started (3.11, 3.12) or the
	 * current one (3.13); one unit before the code is a frame that has not
	 * started: lasti -1, which CPython reports as the first line.
	 */
	lasti = ((__s64)instr_delta - e->code_adaptive) / 2;
	if (lasti >= (__s64)e->fp.size)
		return 0;
	if (py_linetable__addr2line(e->linetable, e->linetable_len, e->fp.firstlineno, lasti * 2,
				    &line) || line < 0)
		return 0;
	return (__u32)line;
}

/* Caches fresh, a new entry; frees it on failure. */
static int entry_insert(struct py_code_cache *c, struct code_entry *fresh)
{
	make_room(c, fresh->bytes);
	if (hmap__insert(&c->entries, key_hash(&fresh->key), fresh)) {
		entry_free(fresh);
		return -ENOMEM;
	}
	c->bytes += fresh->bytes;
	fresh->checked = c->cycle;
	return 0;
}

int py_code_cache__add(struct py_code_cache *c, const struct py_process *proc, __u32 pid,
		       __u64 start_ns, __u64 code_addr, const struct py_mem_copy *copies,
		       size_t n_copies)
{
	struct code_key key = { .pid = pid, .start_ns = start_ns, .addr = code_addr };
	struct code_entry *e = hmap__find(&c->entries, key_hash(&key), key_eq, &key), *fresh;
	struct py_mem m = { .pid = pid, .copies = copies, .n_copies = n_copies };
	struct fingerprint fp;
	int err;

	c->stats.copies++;
	m.layout = &proc->layout;
	if (e && read_fingerprint(proc, &m, code_addr, &fp) == 0 &&
	    memcmp(&fp, &e->fp, sizeof(fp)) == 0) {
		c->stats.copies_known++;
		e->checked = c->cycle; /* just read: no need to check it again this cycle */
		return 0;
	}
	err = entry_load(c, proc, &key, copies, n_copies, &fresh);
	if (err) {
		c->stats.copy_errors++;
		return err;
	}
	if (e) {
		c->stats.reused++;
		entry_remove(c, e, false);
	}
	fresh->last_used = c->cycle;
	return entry_insert(c, fresh);
}

int py_code_cache__lookup(struct py_code_cache *c, const struct py_process *proc, __u32 pid,
			  __u64 start_ns, __u64 code_addr, __u32 instr_delta,
			  struct py_frame_info *out)
{
	struct code_key key = { .pid = pid, .start_ns = start_ns, .addr = code_addr };
	struct py_mem m = { .pid = pid, .layout = &proc->layout };
	struct code_entry *e = hmap__find(&c->entries, key_hash(&key), key_eq, &key), *fresh;
	struct fingerprint fp;
	int err;

	if (e && e->checked != c->cycle) {
		/* First use this cycle: is it still the same object? */
		c->stats.revalidated++;
		e->checked = c->cycle;
		if (read_fingerprint(proc, &m, code_addr, &fp) == 0 &&
		    memcmp(&fp, &e->fp, sizeof(fp)) != 0) {
			c->stats.reused++;
			entry_remove(c, e, false);
			e = NULL;
		}
	}
	if (e) {
		c->stats.hits++;
	} else {
		c->stats.reads++;
		err = entry_load(c, proc, &key, NULL, 0, &fresh);
		if (err) {
			c->stats.read_errors++;
			return err;
		}
		err = entry_insert(c, fresh);
		if (err)
			return err;
		e = fresh;
	}
	e->last_used = c->cycle;
	out->function = e->qualname;
	out->file = e->filename;
	out->start_line = e->fp.firstlineno > 0 ? (__u32)e->fp.firstlineno : 0;
	out->line = frame_line(e, instr_delta);
	return 0;
}

int py_code_cache__forget_process(struct py_code_cache *c, __u32 pid, __u64 start_ns)
{
	if (c->n_dead == c->dead_cap) {
		size_t cap = c->dead_cap ? 2 * c->dead_cap : 16;
		struct dead_process *d = reallocarray(c->dead, cap, sizeof(*d));

		if (!d)
			return -ENOMEM;
		c->dead = d;
		c->dead_cap = cap;
	}
	c->dead[c->n_dead++] = (struct dead_process){ pid, start_ns };
	return 0;
}

static bool is_dead(const struct py_code_cache *c, const struct code_key *k)
{
	for (size_t i = 0; i < c->n_dead; i++)
		if (c->dead[i].pid == k->pid && c->dead[i].start_ns == k->start_ns)
			return true;
	return false;
}

void py_code_cache__end_cycle(struct py_code_cache *c)
{
	for (size_t i = 0; i < c->entries.cap;) {
		struct code_entry *e = c->entries.slots[i].val;

		if (e && e->last_used + c->opts.idle_cycles <= c->cycle)
			entry_remove(c, e, true); /* a later entry may shift into slot i */
		else if (e && c->n_dead && is_dead(c, &e->key))
			entry_remove(c, e, false);
		else
			i++;
	}
	c->n_dead = 0;
	hmap__shrink(&c->entries);
	c->cycle++;
}

void py_code_cache__stats(const struct py_code_cache *c, struct py_code_cache_stats *out)
{
	*out = c->stats;
	out->entries = hmap__len(&c->entries);
	out->bytes = c->bytes;
}
