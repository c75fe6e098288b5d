// SPDX-License-Identifier: Apache-2.0
#include "series.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "hashmap.h"
#include "pprof_codec.h"
#include "upload.pb-c.h"

/* Samples of one process: (pid, comm) as the window's sample labels say. */
struct group {
	const char *pid;  /* interned in the source profile */
	const char *comm;
	size_t *samples;  /* indexes into the source profile */
	size_t n_samples, cap_samples;
	size_t key_len;
	char key[];       /* pid '\0' comm */
};

/* Every process of a window, in the order each first appears. */
struct groups {
	struct hmap index; /* key → group */
	struct group **list;
	size_t n, cap;
};

struct group_key {
	const char *key;
	size_t len;
};

/* Source id → id in the profile being built; valid when gen is the current group's. */
struct remap {
	__u32 gen;
	__u64 id;
};

struct builder {
	const struct pprof *src;
	struct pprof *dst;
	__u32 gen;
	struct remap *maps, *fns, *locs;
	struct pprof_line *lines;
	size_t cap_lines;
	__u64 *ids;
	size_t cap_ids;
	struct pprof_label *labels;
	size_t cap_labels;
};

static const char *label_value(const struct pprof_sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (s->labels[i].str && strcmp(s->labels[i].key, key) == 0)
			return s->labels[i].str;
	return "";
}

static void free_groups(struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		free(gs->list[i]->samples);
		free(gs->list[i]);
	}
	free(gs->list);
	hmap__clear(&gs->index);
}

static bool group_eq(const void *val, const void *key)
{
	const struct group *g = val;
	const struct group_key *k = key;

	return g->key_len == k->len && memcmp(g->key, k->key, k->len) == 0;
}

static struct group *group_new(struct groups *gs, const char *pid, const char *comm, __u64 h,
			       const struct group_key *key)
{
	struct group *g;

	if (ARRAY_GROW(&gs->list, &gs->cap, gs->n + 1))
		return NULL;
	g = calloc(1, sizeof(*g) + key->len + 1);
	if (!g)
		return NULL;
	memcpy(g->key, key->key, key->len + 1);
	g->key_len = key->len;
	g->pid = pid;
	g->comm = comm;
	if (hmap__insert(&gs->index, h, g)) {
		free(g);
		return NULL;
	}
	gs->list[gs->n++] = g;
	return g;
}

/* Groups samples by process, in the order processes first appear. */
static int group_samples(const struct pprof *p, struct groups *gs)
{
	size_t n = pprof__num_samples(p);

	for (size_t i = 0; i < n; i++) {
		const struct pprof_sample *s = pprof__sample(p, i);
		const char *pid = label_value(s, "pid"), *comm = label_value(s, "comm");
		size_t lp = strlen(pid), lc = strlen(comm);
		struct group_key k = { .len = lp + lc + 1 };
		char stack_key[64], *key = stack_key;
		struct group *g;
		__u64 h;

		/* pid and comm are short (10 digits, 16 bytes); the heap is only a fallback. */
		if (lp + lc + 2 > sizeof(stack_key) && !(key = malloc(lp + lc + 2)))
			return -ENOMEM;
		memcpy(key, pid, lp + 1);
		memcpy(key + lp + 1, comm, lc + 1);
		k.key = key;
		h = hash_bytes(key, k.len);
		g = hmap__find(&gs->index, h, group_eq, &k);
		if (!g)
			g = group_new(gs, pid, comm, h, &k);
		if (key != stack_key)
			free(key);
		if (!g)
			return -ENOMEM;
		if (ARRAY_GROW(&g->samples, &g->cap_samples, g->n_samples + 1))
			return -ENOMEM;
		g->samples[g->n_samples++] = i;
	}
	return 0;
}

static __u64 remap_mapping(struct builder *b, __u64 id)
{
	const struct pprof_mapping *m;

	if (!id)
		return 0;
	if (b->maps[id].gen == b->gen)
		return b->maps[id].id;
	m = pprof__mapping(b->src, id);
	if (!m)
		return 0;
	b->maps[id].id = pprof__add_mapping(b->dst, m);
	b->maps[id].gen = b->gen;
	return b->maps[id].id;
}

static __u64 remap_function(struct builder *b, __u64 id)
{
	const struct pprof_function *f;

	if (b->fns[id].gen == b->gen)
		return b->fns[id].id;
	f = pprof__function(b->src, id);
	if (!f)
		return 0;
	b->fns[id].id = pprof__add_function(b->dst, f);
	b->fns[id].gen = b->gen;
	return b->fns[id].id;
}

/* Returns the new id, 0 with errno set. */
static __u64 remap_location(struct builder *b, __u64 id)
{
	const struct pprof_location *l;
	__u64 mapping = 0;

	if (b->locs[id].gen == b->gen)
		return b->locs[id].id;
	l = pprof__location(b->src, id);
	if (!l)
		return 0;
	if (l->mapping_id && !(mapping = remap_mapping(b, l->mapping_id)))
		return 0;
	if (ARRAY_GROW(&b->lines, &b->cap_lines, l->n_lines)) {
		errno = ENOMEM;
		return 0;
	}
	for (size_t i = 0; i < l->n_lines; i++) {
		b->lines[i].function_id = remap_function(b, l->lines[i].function_id);
		if (!b->lines[i].function_id)
			return 0;
		b->lines[i].line = l->lines[i].line;
	}
	b->locs[id].id = pprof__add_location(b->dst, mapping, l->address, b->lines, l->n_lines);
	b->locs[id].gen = b->gen;
	return b->locs[id].id;
}

static bool keep_label(const struct series_opts *opts, const char *key)
{
	/* pid and comm become series labels; a copy per sample would only cost bytes. */
	if (strcmp(key, "pid") == 0 || strcmp(key, "comm") == 0)
		return false;
	if (!opts->thread_labels && (strcmp(key, "tid") == 0 || strcmp(key, "thread_name") == 0 ||
				     strcmp(key, "unwind") == 0))
		return false;
	return true;
}

/* One process's samples as a gzipped pprof. */
static int build_profile(struct builder *b, const struct series_opts *opts, const struct group *g,
			 void **buf, size_t *len, size_t *samples)
{
	const struct pprof *src = b->src;
	int err = 0;

	b->dst = pprof__new(&(struct pprof_opts){
		.period_ns = pprof__period_ns(src),
		.time_nanos = pprof__time_nanos(src),
	});
	if (!b->dst)
		return -ENOMEM;
	b->gen++;
	*samples = 0;
	for (size_t i = 0; i < g->n_samples && !err; i++) {
		const struct pprof_sample *s = pprof__sample(src, g->samples[i]);
		size_t nl = 0;

		if (ARRAY_GROW(&b->ids, &b->cap_ids, s->n_locations) ||
		    ARRAY_GROW(&b->labels, &b->cap_labels, s->n_labels)) {
			err = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < s->n_locations; k++) {
			b->ids[k] = remap_location(b, s->location_ids[k]);
			if (!b->ids[k]) {
				err = errno ? -errno : -EINVAL;
				break;
			}
		}
		for (size_t k = 0; k < s->n_labels && !err; k++)
			if (keep_label(opts, s->labels[k].key))
				b->labels[nl++] = s->labels[k];
		if (!err)
			err = pprof__add_sample(b->dst, b->ids, s->n_locations, s->count, b->labels, nl);
		*samples += s->count;
	}
	if (!err)
		err = pprof__set_duration(b->dst, pprof__duration_ns(src));
	for (size_t i = 0; i < pprof__num_comments(src) && !err; i++)
		err = pprof__add_comment(b->dst, pprof__comment(src, i));
	if (!err)
		err = pprof__encode(b->dst, true, buf, len);
	pprof__free(b->dst);
	b->dst = NULL;
	return err;
}

/*
 * Label values travel in proto3 string fields, which a Go server refuses
 * unless they are UTF-8; comm and paths are whatever bytes a process chose.
 * Invalid bytes and control characters become '?'.
 */
static char *sanitize(const char *in)
{
	size_t len = strlen(in), i = 0;
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	while (i < len) {
		unsigned char c = in[i];
		size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 4;
		unsigned cp = n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
		bool ok = n < 4 && len - i > n;

		for (size_t k = 1; ok && k <= n; k++) {
			ok = ((unsigned char)in[i + k] & 0xc0) == 0x80;
			cp = (cp << 6) | ((unsigned char)in[i + k] & 0x3f);
		}
		if (ok && n)
			ok = !((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
			       (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
			       (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0);
		if (!n)
			ok = c >= 0x20 && c != 0x7f;
		if (!ok) {
			out[i++] = '?';
			continue;
		}
		memcpy(out + i, in + i, n + 1);
		i += n + 1;
	}
	out[len] = '\0';
	return out;
}

/* The process's executable, or NULL (kernel thread, exited, or not a pid). */
static char *executable(const char *proc_root, const char *pid)
{
	char link[64 + PATH_MAX], target[PATH_MAX];
	static const char deleted[] = " (deleted)";
	ssize_t n;

	if (!*pid || strspn(pid, "0123456789") != strlen(pid) || strcmp(pid, "0") == 0)
		return NULL;
	snprintf(link, sizeof(link), "%s/%s/exe", proc_root, pid);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	/* An upgraded binary still runs; its old path is what the user knows it by. */
	if ((size_t)n > sizeof(deleted) - 1 &&
	    strcmp(target + n - (sizeof(deleted) - 1), deleted) == 0)
		target[n - (sizeof(deleted) - 1)] = '\0';
	return strdup(target);
}

static int label_cmp(const void *a, const void *b)
{
	const Fornax__Upload__V1__Label *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Everything one series owns, freed together. */
struct series_buf {
	Fornax__Upload__V1__Series msg;
	Fornax__Upload__V1__Label labels[3];
	Fornax__Upload__V1__Label **label_ptrs;
	char *pid, *comm, *exe, *service;
};

static void series_buf_free(struct series_buf *s)
{
	free(s->label_ptrs);
	free(s->pid);
	free(s->comm);
	free(s->exe);
	free(s->service);
	free(s->msg.profile.data);
}

static int fill_series(struct series_buf *sb, const struct series_opts *opts,
		       Fornax__Upload__V1__Label *common, const struct group *g)
{
	const char *proc_root = opts->proc_root ? opts->proc_root : "/proc";
	char *exe = executable(proc_root, g->pid);
	size_t n = 0;
	const char *base;

	sb->pid = sanitize(g->pid);
	sb->comm = sanitize(g->comm);
	sb->exe = exe ? sanitize(exe) : NULL;
	free(exe);
	if (!sb->pid || !sb->comm || (exe && !sb->exe))
		return -ENOMEM;
	if (opts->service_name) {
		sb->service = strdup(opts->service_name);
	} else {
		base = sb->exe ? strrchr(sb->exe, '/') : NULL;
		base = base && base[1] ? base + 1 : sb->exe;
		sb->service = strdup(base ? base : *sb->comm ? sb->comm : "unknown");
	}
	sb->label_ptrs = calloc(opts->n_labels + 3, sizeof(*sb->label_ptrs));
	if (!sb->service || !sb->label_ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < opts->n_labels; i++)
		sb->label_ptrs[n++] = &common[i];
	for (size_t i = 0; i < 3; i++)
		fornax__upload__v1__label__init(&sb->labels[i]);
	sb->labels[0].name = "pid";
	sb->labels[0].value = sb->pid;
	sb->label_ptrs[n++] = &sb->labels[0];
	if (*sb->comm) {
		sb->labels[1].name = "comm";
		sb->labels[1].value = sb->comm;
		sb->label_ptrs[n++] = &sb->labels[1];
	}
	if (sb->exe) {
		sb->labels[2].name = "executable";
		sb->labels[2].value = sb->exe;
		sb->label_ptrs[n++] = &sb->labels[2];
	}
	qsort(sb->label_ptrs, n, sizeof(*sb->label_ptrs), label_cmp);
	sb->msg.labels = sb->label_ptrs;
	sb->msg.n_labels = n;
	sb->msg.service_name = sb->service;
	return 0;
}

int series__pack_window(const struct pprof *p, const struct series_opts *opts,
			const unsigned char window_id[16], void **buf, size_t *len,
			struct series_stats *stats)
{
	Fornax__Upload__V1__Window win = FORNAX__UPLOAD__V1__WINDOW__INIT;
	Fornax__Upload__V1__Label *common = NULL;
	Fornax__Upload__V1__Series **ptrs = NULL;
	struct series_buf *sbs = NULL;
	struct builder b = { .src = p };
	struct groups groups = { 0 };
	size_t n_groups, packed;
	unsigned char *out = NULL;
	int err;

	*stats = (struct series_stats){ 0 };
	err = group_samples(p, &groups);
	if (err)
		goto cleanup;
	n_groups = groups.n;
	err = -ENOMEM;
	b.maps = calloc(pprof__num_mappings(p) + 1, sizeof(*b.maps));
	b.fns = calloc(pprof__num_functions(p) + 1, sizeof(*b.fns));
	b.locs = calloc(pprof__num_locations(p) + 1, sizeof(*b.locs));
	common = calloc(opts->n_labels ?: 1, sizeof(*common));
	sbs = calloc(n_groups ?: 1, sizeof(*sbs));
	ptrs = calloc(n_groups ?: 1, sizeof(*ptrs));
	if (!b.maps || !b.fns || !b.locs || !common || !sbs || !ptrs)
		goto cleanup;
	for (size_t k = 0; k < opts->n_labels; k++) {
		fornax__upload__v1__label__init(&common[k]);
		common[k].name = (char *)opts->labels[k].name;
		common[k].value = (char *)opts->labels[k].value;
	}

	for (size_t i = 0; i < n_groups; i++) {
		const struct group *g = groups.list[i];
		struct series_buf *sb = &sbs[i];
		size_t samples;

		fornax__upload__v1__series__init(&sb->msg);
		err = build_profile(&b, opts, g, (void **)&sb->msg.profile.data, &sb->msg.profile.len,
				    &samples);
		if (!err)
			err = fill_series(sb, opts, common, g);
		if (err)
			goto cleanup;
		ptrs[i] = &sb->msg;
		stats->samples += samples;
		stats->profile_bytes += sb->msg.profile.len;
	}
	stats->series = n_groups;

	win.time_nanos = pprof__time_nanos(p);
	win.duration_nanos = (int64_t)pprof__duration_ns(p);
	win.id.data = (uint8_t *)window_id;
	win.id.len = 16;
	win.series = ptrs;
	win.n_series = n_groups;
	packed = fornax__upload__v1__window__get_packed_size(&win);
	out = malloc(packed ?: 1);
	if (!out)
		goto cleanup;
	fornax__upload__v1__window__pack(&win, out);
	*buf = out;
	*len = packed;
	err = 0;
cleanup:
	for (size_t k = 0; sbs && k < groups.n; k++)
		series_buf_free(&sbs[k]);
	free(sbs);
	free(ptrs);
	free(common);
	free(b.maps);
	free(b.fns);
	free(b.locs);
	free(b.lines);
	free(b.ids);
	free(b.labels);
	free_groups(&groups);
	return err;
}
