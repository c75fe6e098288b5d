// SPDX-License-Identifier: Apache-2.0
/*
 * Unwind tables: one per build-id (or device and inode without one),
 * built by the builder threads, loaded into the row space when room allows
 * (else kept and retried), evicted when no file entry refers to them.
 */
#include "unwind_impl.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_file.h"
#include "hex.h"
#include "log.h"
#include "unwind_rows.h"

static bool table_eq(const void *val, const void *key)
{
	return strcmp(((const struct utable *)val)->key, key) == 0;
}

struct utable *table_find(struct unwinder *u, const char *key)
{
	return hmap__find(&u->tables, hash_bytes(key, strlen(key)), table_eq, key);
}

static int table_link(struct unwinder *u, struct utable *t)
{
	int err = hmap__insert(&u->tables, hash_bytes(t->key, strlen(t->key)), t);

	if (!err)
		TAILQ_INSERT_TAIL(&u->table_list, t, link);
	return err;
}

static void table_unlink(struct unwinder *u, struct utable *t)
{
	(void)hmap__remove(&u->tables, hash_bytes(t->key, strlen(t->key)), t);
	TAILQ_REMOVE(&u->table_list, t, link);
}

void table_free(struct unwinder *u, struct utable *t)
{
	if (t->state == TABLE_PENDING)
		job_cancel(u, t);
	if (t->state == TABLE_READY) {
		unwinder_retire(u, &u->rows, t->first_slot, t->slots);
		STAT_ADD(u, tables_evicted, 1);
		STAT_ADD(u, tables, -1);
		STAT_ADD(u, rows, -(__s64)t->n_rows);
	}
	if (t->state == TABLE_FAILED && t->err != -ENOSPC)
		STAT_ADD(u, files_failed, -1);
	table_unlink(u, t);
	cfi_table__free(t->built);
	free(t->segs);
	free(t);
}

void table_unref(struct unwinder *u, struct utable *t)
{
	if (t && --t->refs == 0)
		table_free(u, t);
}

/* The executable PT_LOAD segments, where a mapping's table applies. */
static int read_segments(Elf *elf, struct utable *t)
{
	struct elf_segment *segs;
	size_t n;
	int err = elf_segments__read(elf, &segs, &n);

	if (err)
		return err;
	t->segs = calloc(n, sizeof(*t->segs));
	for (size_t i = 0; t->segs && i < n; i++) {
		if (segs[i].flags & PF_X)
			t->segs[t->n_segs++] = (struct useg){ segs[i].offset, segs[i].vaddr,
							      segs[i].filesz };
	}
	free(segs);
	if (!t->segs)
		return -ENOMEM;
	return t->n_segs ? 0 : -ENOEXEC;
}

struct utable *table_for_elf(struct unwinder *u, Elf *elf, const char *key_fallback, int *fd,
			     char **image, size_t image_len, int *err)
{
	const unsigned char *id;
	char key[sizeof(((struct utable *)0)->key)];
	struct utable *t;
	GElf_Ehdr ehdr;
	ssize_t len;

	if (!gelf_getehdr(elf, &ehdr)) {
		*err = -ENOEXEC;
		return NULL;
	}
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_machine != EM_X86_64) {
		*err = -ENOTSUP;
		return NULL;
	}
	len = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	if (len > 0 && len <= 40) {
		key[0] = 'b';
		key[1] = ':';
		hex_encode(id, (size_t)len, key + 2);
	} else {
		snprintf(key, sizeof(key), "%s", key_fallback);
	}
	t = table_find(u, key);
	if (t) {
		t->refs++;
		return t;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	snprintf(t->key, sizeof(t->key), "%s", key);
	*err = read_segments(elf, t);
	if (*err) {
		free(t->segs);
		free(t);
		return NULL;
	}
	if (table_link(u, t)) {
		free(t->segs);
		free(t);
		*err = -ENOMEM;
		return NULL;
	}
	t->refs = 1;
	*err = job_queue(u, t, fd, image, image_len, cfi_table__cfi_bytes(elf));
	if (*err) {
		table_unlink(u, t);
		free(t->segs);
		free(t);
		return NULL;
	}
	return t;
}

/* Puts a built table's index and rows into the row pages. 0 or -errno (ENOSPC: no room). */
static int load_rows(struct unwinder *u, struct utable *t, const struct cfi_table *ct)
{
	struct unwind_rows_layout layout;
	size_t n;
	int err;

	cfi_table__rows(ct, &n);
	err = unwind_rows__layout(ct, &layout);
	if (err)
		return err;
	err = page_pool__get(&u->rows, layout.slots, &t->first_slot);
	if (err == -ENOSPC) {
		/* Make room from files no process maps any more, then try once more. */
		struct udevino *d, *next;

		for (d = TAILQ_FIRST(&u->devino_list); d; d = next) {
			next = TAILQ_NEXT(d, link);
			if (!d->proc_refs && d->table != t)
				devino_drop(u, d);
		}
		page_retire__flush(&u->retired);
		err = page_pool__get(&u->rows, layout.slots, &t->first_slot);
	}
	if (err)
		return err;
	/*
	 * Straight into the mapped pages: an image of a big file's table in
	 * between was megabytes of fresh memory to fault in, copy and give back.
	 */
	for (__u32 done = 0, span; done < layout.slots; done += span) {
		void *to = page_pool__span(&u->rows, t->first_slot + done, layout.slots - done,
					   &span);

		unwind_rows__serialize_range(ct, &layout, done, span, to);
	}
	t->slots = layout.slots;
	t->n_rows = n;
	t->n_buckets = layout.n_buckets;
	t->shift = layout.shift;
	t->origin = cfi_table__origin(ct);
	pthread_mutex_lock(&u->lock);
	u->stats.tables++;
	u->stats.rows += n;
	pthread_mutex_unlock(&u->lock);
	return 0;
}

void finish_table(struct unwinder *u, struct utable *t, struct cfi_table *ct, int err)
{
	size_t n = 0;

	if (!err) {
		cfi_table__rows(ct, &n);
		err = load_rows(u, t, ct);
	}
	t->err = err;
	t->state = err ? TABLE_FAILED : TABLE_READY;
	if (err == -ENOSPC) {
		/* Kept: sweep() tries again once room may have been freed. */
		t->built = ct;
		t->retry_at = now_ns() + NO_SPACE_RETRY_NS;
		STAT_ADD(u, tables_no_space, 1);
		log_warn_ratelimited("unwind tables: no room for %s (%zu rows) within "
				     "--unwind-memory; its code is walked by frame pointers",
				     t->key, n);
		return;
	}
	cfi_table__free(ct);
	if (err)
		STAT_ADD(u, files_failed, 1);
	if (err && err != -ENOENT)
		log_debug("unwind table %s: %s", t->key, strerror(-err));
	if (!err) {
		devinos_publish(u, t);
		rewrite_dirty(u, t);
	}
}

void collect_built(struct unwinder *u)
{
	struct build_job *done;

	pthread_mutex_lock(&u->lock);
	done = u->done;
	u->done = NULL;
	pthread_mutex_unlock(&u->lock);
	while (done) {
		struct build_job *job = done;
		struct utable *t = NULL;

		done = job->next;
		if (!job->cancelled)
			t = table_find(u, job->key);
		pthread_mutex_lock(&u->lock);
		u->stats.tables_pending--;
		if (t && t->job == job && !job->err && job->from_cache) {
			u->stats.tables_from_cache++;
			u->stats.cache_load_ns += job->build_ns;
		} else if (t && t->job == job && !job->err) {
			u->stats.tables_built++;
			u->stats.build_ns += job->build_ns;
		}
		pthread_mutex_unlock(&u->lock);
		if (t && t->job == job) {
			t->job = NULL;
			u->n_pending--;
			u->reprioritize = true;
			finish_table(u, t, job->result, job->err);
			job->result = NULL;
		}
		job_free(job);
	}
}

/* Everything, when the unwinder goes (after the files that held them). */
void tables_free(struct unwinder *u)
{
	while (!TAILQ_EMPTY(&u->table_list))
		table_free(u, TAILQ_FIRST(&u->table_list));
	hmap__clear(&u->tables);
}
