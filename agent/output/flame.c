// SPDX-License-Identifier: Apache-2.0
#include "flame.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hashmap.h"

#define DEFAULT_MAX_DEPTH 1024

static const char unknown_name[] = "[unknown]";
static const char deeper_name[] = "[deeper frames not shown]";

/*
 * Children are found through a hash table keyed by (parent, name, file,
 * kind). The profile interns its strings, so equal names are equal pointers
 * and the key compares pointers, not bytes. Nodes move when their array
 * grows: the table holds a node's index + 1.
 */
struct child_key {
	const struct flame *f;
	size_t parent;
	const char *name;
	const char *file;
	enum flame_kind kind;
};

struct flame {
	struct flame_node *nodes;
	size_t n_nodes, cap_nodes;
	struct hmap children; /* child_key → node index + 1 */
	size_t *path;   /* scratch: the nodes of one sample, at most max_depth */
	size_t path_len;
	struct flame_stats stats;
};

static __u64 key_hash(size_t parent, const char *name, const char *file, enum flame_kind kind)
{
	return hash_pair(hash_pair(parent, (uintptr_t)name), (uintptr_t)file + kind);
}

static bool child_eq(const void *val, const void *key)
{
	const struct child_key *k = key;
	const struct flame_node *nd = &k->f->nodes[(uintptr_t)val - 1];

	return nd->parent == k->parent && nd->name == k->name && nd->file == k->file &&
	       nd->kind == k->kind;
}

/* The child of parent with this key, created if new. Returns its index or FLAME_NONE (ENOMEM). */
static size_t child(struct flame *f, size_t parent, const char *name, const char *file,
		    enum flame_kind kind)
{
	struct child_key key = { f, parent, name, file, kind };
	__u64 h = key_hash(parent, name, file, kind);
	struct flame_node *nd;
	void *found;

	found = hmap__find(&f->children, h, child_eq, &key);
	if (found)
		return (uintptr_t)found - 1;
	if (ARRAY_GROW(&f->nodes, &f->cap_nodes, f->n_nodes + 1) ||
	    hmap__insert(&f->children, h, (void *)(uintptr_t)(f->n_nodes + 1)))
		return FLAME_NONE;
	nd = &f->nodes[f->n_nodes];
	*nd = (struct flame_node){
		.name = name,
		.file = file,
		.parent = parent,
		.first_child = FLAME_NONE,
		.next_sibling = FLAME_NONE,
		.depth = f->nodes[parent].depth + 1,
		.kind = kind,
	};
	if (nd->depth > f->stats.depth)
		f->stats.depth = nd->depth;
	return f->n_nodes++;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_jit_mapping(const char *file)
{
	const char *base;

	/* fornax's symbolizer names anonymous executable memory "[anon]". */
	if (!file || !*file || strcmp(file, "//anon") == 0 || strcmp(file, "[jit]") == 0 ||
	    strcmp(file, "[anon]") == 0 || has_prefix(file, "[anon:"))
		return true;
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	if (has_prefix(base, "jitted-"))
		return true;
	if (has_prefix(base, "perf-")) {
		const char *p = base + 5;

		while (*p >= '0' && *p <= '9')
			p++;
		return p > base + 5 && strcmp(p, ".map") == 0;
	}
	return false;
}

enum flame_kind flame__location_kind(const struct pprof *p, const struct pprof_location *loc)
{
	const struct pprof_mapping *m = pprof__mapping(p, loc->mapping_id);

	if (m && ((loc->address >> 63) || (m->filename && has_prefix(m->filename, "[kernel"))))
		return loc->n_lines ? FLAME_KERNEL : FLAME_UNKNOWN;
	if (!loc->n_lines)
		return FLAME_UNKNOWN;
	if (!m) {
		/* fornax's pseudo frames: "[truncated]", "[stack missing]"... */
		const struct pprof_function *fn = pprof__function(p, loc->lines[0].function_id);

		return fn && fn->name && fn->name[0] == '[' ? FLAME_UNKNOWN : FLAME_NATIVE;
	}
	if (m->filename && strcmp(m->filename, "[python]") == 0)
		return FLAME_PYTHON;
	return is_jit_mapping(m->filename) ? FLAME_JIT : FLAME_NATIVE;
}

static const char *sample_comm(const struct pprof_sample *s)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].key, "comm") == 0 && s->labels[i].str)
			return s->labels[i].str;
	return NULL;
}

static void add_line(struct flame_node *nd, __s64 line)
{
	if (line <= 0)
		return;
	if (!nd->line_min || line < nd->line_min)
		nd->line_min = line;
	if (line > nd->line_max)
		nd->line_max = line;
}

/*
 * Adds the frames of one location under cur, outermost caller first, and
 * appends their nodes to path. Returns the last node, or FLAME_NONE with
 * errno set.
 */
static size_t add_location(struct flame *f, const struct pprof *p, size_t cur,
			   const struct pprof_location *loc)
{
	enum flame_kind kind = flame__location_kind(p, loc);

	if (!loc->n_lines) {
		const struct pprof_mapping *m = pprof__mapping(p, loc->mapping_id);

		cur = child(f, cur, unknown_name, m ? m->filename : NULL, kind);
		if (cur != FLAME_NONE)
			f->path[f->path_len++] = cur;
		return cur;
	}
	for (size_t l = loc->n_lines; l-- > 0 && cur != FLAME_NONE;) {
		const struct pprof_function *fn = pprof__function(p, loc->lines[l].function_id);

		if (!fn) {
			errno = EINVAL;
			return FLAME_NONE;
		}
		cur = child(f, cur, fn->name, fn->filename, kind);
		if (cur == FLAME_NONE)
			return cur;
		add_line(&f->nodes[cur], loc->lines[l].line);
		f->path[f->path_len++] = cur;
	}
	return cur;
}

static int add_sample(struct flame *f, const struct pprof *p, const struct pprof_sample *s,
		      const struct flame_opts *opts, unsigned max_depth)
{
	const char *comm = opts->no_process ? NULL : sample_comm(s);
	size_t cur = 0;

	/* Nodes move as the array grows: the path is kept as indexes and counted at the end. */
	f->path_len = 0;
	errno = ENOMEM;
	if (comm) {
		cur = child(f, cur, comm, NULL, FLAME_PROCESS);
		if (cur == FLAME_NONE)
			return -ENOMEM;
		f->path[f->path_len++] = cur;
	}
	for (size_t i = s->n_locations; i-- > 0;) {
		const struct pprof_location *loc = pprof__location(p, s->location_ids[i]);

		if (!loc)
			return -EINVAL;
		if (f->nodes[cur].depth + (loc->n_lines ? loc->n_lines : 1) >= max_depth) {
			cur = child(f, cur, deeper_name, NULL, FLAME_UNKNOWN);
			if (cur == FLAME_NONE)
				return -ENOMEM;
			f->path[f->path_len++] = cur;
			f->stats.truncated_samples += s->count;
			break;
		}
		cur = add_location(f, p, cur, loc);
		if (cur == FLAME_NONE)
			return errno == EINVAL ? -EINVAL : -ENOMEM;
	}
	f->nodes[0].total += s->count;
	for (size_t i = 0; i < f->path_len; i++)
		f->nodes[f->path[i]].total += s->count;
	f->nodes[cur].self += s->count;
	return 0;
}

static int compare_siblings(const void *a, const void *b, void *arg)
{
	const struct flame_node *nodes = arg;
	const struct flame_node *x = &nodes[*(const size_t *)a], *y = &nodes[*(const size_t *)b];
	int c;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	return (int)x->kind - (int)y->kind;
}

/* Links each node's children in sorted order, so a layout is the same every time. */
static int link_children(struct flame *f)
{
	size_t n = f->n_nodes - 1;
	size_t *order;

	if (!n)
		return 0;
	order = malloc(n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i + 1;
	qsort_r(order, n, sizeof(*order), compare_siblings, f->nodes);
	for (size_t i = n; i-- > 0;) {
		struct flame_node *nd = &f->nodes[order[i]];
		struct flame_node *parent = &f->nodes[nd->parent];

		nd->next_sibling = parent->first_child;
		parent->first_child = order[i];
	}
	free(order);
	return 0;
}

struct flame *flame__new(const struct pprof *p, const struct flame_opts *opts)
{
	struct flame_opts defaults = { 0 };
	unsigned max_depth;
	struct flame *f;
	int err = 0;

	if (!p) {
		errno = EINVAL;
		return NULL;
	}
	if (!opts)
		opts = &defaults;
	max_depth = opts->max_depth ? opts->max_depth : DEFAULT_MAX_DEPTH;
	if (max_depth < 2) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->cap_nodes = 1024;
	f->nodes = calloc(f->cap_nodes, sizeof(*f->nodes));
	f->path = calloc(max_depth + 1, sizeof(*f->path));
	if (!f->nodes || !f->path) {
		err = -ENOMEM;
		goto cleanup;
	}
	f->nodes[0] = (struct flame_node){
		.name = "all",
		.parent = FLAME_NONE,
		.first_child = FLAME_NONE,
		.next_sibling = FLAME_NONE,
		.kind = FLAME_ROOT,
	};
	f->n_nodes = 1;
	for (size_t i = 0; i < pprof__num_samples(p) && !err; i++)
		err = add_sample(f, p, pprof__sample(p, i), opts, max_depth);
	if (!err)
		err = link_children(f);
	f->stats.nodes = f->n_nodes;
	f->stats.total = f->nodes[0].total;
cleanup:
	if (err) {
		flame__free(f);
		errno = -err;
		return NULL;
	}
	return f;
}

void flame__free(struct flame *f)
{
	if (!f)
		return;
	free(f->nodes);
	hmap__clear(&f->children);
	free(f->path);
	free(f);
}

size_t flame__num_nodes(const struct flame *f)
{
	return f ? f->n_nodes : 0;
}

const struct flame_node *flame__node(const struct flame *f, size_t index)
{
	if (!f || index >= f->n_nodes) {
		errno = ENOENT;
		return NULL;
	}
	return &f->nodes[index];
}

void flame__stats(const struct flame *f, struct flame_stats *out)
{
	*out = f->stats;
}
