// SPDX-License-Identifier: Apache-2.0
/*
 * DWARF inline chains, like eu-addr2line -i: per CU an index of its
 * functions' ranges, built on first use, then only the function holding
 * the address is walked down to the innermost scope.
 */
#include "elf_file_impl.h"

#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>

#include "array.h"

#define MAX_SCOPE_DEPTH 256 /* DIE nesting followed, against malformed DWARF */
/* heap estimate per CU used: libdw's CU, abbreviations, files; per line row */
#define CU_BASE_BYTES 4096
#define LINE_ROW_BYTES 48

int elf_file__push(struct elf_file *ef, size_t *n, const struct elf_frame *f)
{
	if (ARRAY_GROW(&ef->frames, &ef->frames_cap, *n + 1))
		return -ENOMEM;
	ef->frames[(*n)++] = *f;
	return 0;
}

static const char *die_function_name(Dwarf_Die *die)
{
	Dwarf_Attribute mem, *attr;
	const char *name;

	/* follows DW_AT_abstract_origin and DW_AT_specification */
	attr = dwarf_attr_integrate(die, DW_AT_linkage_name, &mem);
	if (!attr)
		attr = dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &mem);
	name = attr ? dwarf_formstring(attr) : NULL;
	return name ? name : dwarf_diename(die);
}

static __u32 die_decl_line(Dwarf_Die *die)
{
	int line = 0;

	if (dwarf_decl_line(die, &line) != 0 || line < 0)
		return 0;
	return (__u32)line;
}

/* DW_AT_call_file / DW_AT_call_line of an inlined_subroutine. */
static void die_call_site(Dwarf_Die *die, const char **file, __u32 *line)
{
	Dwarf_Attribute mem;
	Dwarf_Word val;
	Dwarf_Files *files;
	Dwarf_Die cu;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &mem), &val) == 0 && val <= UINT32_MAX)
		*line = (__u32)val;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &mem), &val) != 0)
		return;
	if (!dwarf_diecu(die, &cu, NULL, NULL))
		return;
	if (dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 || val >= nfiles)
		return;
	*file = dwarf_filesrc(files, val, NULL, NULL);
}

static bool is_function_scope(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

/* DIEs with code ranges whose children may hold more scopes. */
static bool is_code_scope(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
	case DW_TAG_entry_point:
		return true;
	default:
		return false;
	}
}

static int elf_file__push_scope(struct elf_file *ef, size_t *n, const Dwarf_Die *die)
{
	if (ARRAY_GROW(&ef->path, &ef->path_cap, *n + 1))
		return -ENOMEM;
	ef->path[(*n)++] = *die;
	return 0;
}

/*
 * Appends to ef->path the code scopes below parent that contain pc,
 * outermost first. Descends only into the scope holding pc (and into
 * namespaces, which have no ranges), skipping other subtrees through
 * DW_AT_sibling, so the cost is the scopes passed on the way down rather
 * than the whole CU (dwarf_getscopes_die() walks the whole CU).
 */
static int elf_file__scope_path(struct elf_file *ef, const Dwarf_Die *parent_die, Dwarf_Addr pc,
				size_t *n, unsigned depth)
{
	Dwarf_Die parent = *parent_die, child;
	int err;

	for (; depth < MAX_SCOPE_DEPTH; depth++) {
		bool found = false;

		if (dwarf_child(&parent, &child) != 0)
			return 0;
		do {
			int tag = dwarf_tag(&child);

			if (is_code_scope(tag)) {
				if (dwarf_haspc(&child, pc) <= 0)
					continue;
				err = elf_file__push_scope(ef, n, &child);
				if (err)
					return err;
				parent = child;
				found = true;
				break;
			}
			if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
				size_t before = *n;

				err = elf_file__scope_path(ef, &child, pc, n, depth + 1);
				if (err || *n > before)
					return err;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
		if (!found)
			return 0;
	}
	return 0; /* nested deeper than any compiler emits: stop there */
}

static int cu_index_add(struct cu_index *ci, Dwarf_Addr lo, Dwarf_Addr hi, const Dwarf_Die *die)
{
	if (ARRAY_GROW(&ci->fns, &ci->cap, ci->n + 1))
		return -ENOMEM;
	ci->fns[ci->n++] = (struct fn_range){ .lo = lo, .hi = hi, .die = *die };
	return 0;
}

/* Records the ranges of the subprograms under parent (namespaces included). */
static int cu_index_scan(struct cu_index *ci, Dwarf_Die *parent, unsigned depth)
{
	Dwarf_Die child;
	int err;

	if (depth >= MAX_SCOPE_DEPTH || dwarf_child(parent, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child);

		if (tag == DW_TAG_subprogram) {
			Dwarf_Addr base, lo, hi;
			ptrdiff_t off = 0;

			while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
				if (lo >= hi)
					continue;
				err = cu_index_add(ci, lo, hi, &child);
				if (err)
					return err;
			}
		} else if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
			err = cu_index_scan(ci, &child, depth + 1);
			if (err)
				return err;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int fn_range_cmp(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool cu_index_eq(const void *val, const void *key)
{
	return ((const struct cu_index *)val)->cu_off == *(const Dwarf_Off *)key;
}

/* The function DIE directly under cu whose ranges hold pc. */
static int elf_file__cu_function(struct elf_file *ef, Dwarf_Die *cu, Dwarf_Addr pc,
				 const Dwarf_Die **fn)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	__u64 h = hash_u64(off);
	struct cu_index *ci;
	Dwarf_Lines *lines;
	size_t nlines;
	size_t lo = 0, hi;
	int err;

	*fn = NULL;
	ci = hmap__find(&ef->cu_index, h, cu_index_eq, &off);
	if (!ci) {
		ci = calloc(1, sizeof(*ci));
		if (!ci)
			return -ENOMEM;
		ci->cu_off = off;
		err = cu_index_scan(ci, cu, 0);
		if (!err)
			err = hmap__insert(&ef->cu_index, h, ci);
		if (err) {
			free(ci->fns);
			free(ci);
			return err;
		}
		if (ci->n)
			qsort(ci->fns, ci->n, sizeof(*ci->fns), fn_range_cmp);
		/* what this CU costs from now on: its line table is decoded too */
		ef->cu_bytes += CU_BASE_BYTES + ci->cap * sizeof(*ci->fns);
		if (dwarf_getsrclines(cu, &lines, &nlines) == 0)
			ef->cu_bytes += nlines * LINE_ROW_BYTES;
	}
	hi = ci->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ci->fns[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && pc < ci->fns[lo - 1].hi)
		*fn = &ci->fns[lo - 1].die;
	return 0;
}

/*
 * The inline chain, like eu-addr2line -i: the function scopes holding addr,
 * innermost first, up to the DW_TAG_subprogram. Frame 0 takes the line
 * table's position; each outer frame takes the call site recorded on the
 * inlined_subroutine it contains.
 */
int elf_file__inline_frames(struct elf_file *ef, Dwarf_Addr addr, const char *src,
				   __u32 lineno, size_t *n)
{
	Dwarf_Die *cu, *prev = NULL;
	const Dwarf_Die *fn;
	Dwarf_Addr cu_bias, pc;
	size_t depth = 0;
	int err;

	cu = dwfl_module_addrdie(ef->mod, addr, &cu_bias);
	if (!cu)
		return 0;
	pc = addr - cu_bias;
	/* the CU's functions are indexed once; then only the function is walked */
	err = elf_file__cu_function(ef, cu, pc, &fn);
	if (err || !fn)
		return err;
	err = elf_file__push_scope(ef, &depth, fn);
	if (!err)
		err = elf_file__scope_path(ef, fn, pc, &depth, 1);
	if (err)
		return err;

	for (size_t i = depth; i > 0; i--) {
		Dwarf_Die *d = &ef->path[i - 1];
		struct elf_frame f = {};

		if (!is_function_scope(d))
			continue;
		f.name = die_function_name(d);
		f.start_line = die_decl_line(d);
		if (!prev) {
			f.file = src;
			f.line = lineno;
		} else {
			die_call_site(prev, &f.file, &f.line);
		}
		err = elf_file__push(ef, n, &f);
		if (err)
			return err;
		if (dwarf_tag(d) == DW_TAG_subprogram)
			break;
		prev = d;
	}
	return 0;
}

void elf_file__free_cu_index(struct elf_file *ef)
{
	struct cu_index *ci;
	size_t pos = 0;

	while ((ci = hmap__next(&ef->cu_index, &pos))) {
		free(ci->fns);
		free(ci);
	}
	hmap__clear(&ef->cu_index);
}
