// SPDX-License-Identifier: Apache-2.0
#include "kallsyms.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "fileio.h"
#include "hashmap.h"
#include "hex.h"

#define PFX_PREFIX "__pfx_"
#define PFX_MAX_PAD 64 /* CONFIG_FUNCTION_PADDING_BYTES is 16 on x86 */
#define MODULE_TAIL_SLACK 4096 /* past the last symbol of a range known only by its symbols */
#define CORE_MOD 0
#define MAX_CORE_RANGES 2
#define NOTES_MAX_BYTES (1u << 20)
#define READ_BLOCK (256u << 10)

struct kallsyms {
	size_t n;
	__u64 *addrs;     /* sorted, unique */
	__u32 *name_offs; /* into names */
	__u16 *mods;      /* 0: core kernel, i + 1: modules[i]; NULL if no module symbols */
	__u8 *pfx;        /* bit i: symbol i has a "__pfx_" padding of pfx_pad bytes */
	__u32 pfx_pad;
	char *names;
	size_t names_len;
	struct kallsyms_module *modules;
	size_t n_modules;
	__u64 core_ranges[MAX_CORE_RANGES][2];
	size_t n_core_ranges;
	__u64 core_start, core_end;
};

/* One parsed line while loading: 24 bytes, freed once sorted. */
struct ksym_tmp {
	__u64 addr;
	__u32 name_off; /* for a "__pfx_" symbol: hash of the name after the prefix */
	__u32 seq;      /* line order, keeps the sort stable */
	__u16 mod;
	__u8 rank;      /* preference among aliases at one address: higher wins */
	__u8 is_pfx;
};

struct kallsyms_builder {
	struct ksym_tmp *syms;
	size_t n, cap;
	struct ksym_tmp *pfxs;
	size_t n_pfx, cap_pfx;
	char *names;
	size_t names_len, names_cap;
	struct kallsyms_module *modules;
	size_t n_modules, cap_modules;
	size_t last_mod; /* lines of one module come together */
	bool any_nonzero;
	bool has_mods;
	__u64 marks[4]; /* _stext, _etext, _sinittext, _einittext; 0 if absent */
};

static const char *const core_marks[4] = { "_stext", "_etext", "_sinittext", "_einittext" };

static __u32 hash32(const char *s, size_t len)
{
	return (__u32)hash_bytes(s, len);
}

static int builder__module(struct kallsyms_builder *b, const char *name, size_t len, __u16 *idx)
{
	struct kallsyms_module *m;
	char *copy;
	int err;

	if (b->n_modules && strlen(b->modules[b->last_mod].name) == len &&
	    memcmp(b->modules[b->last_mod].name, name, len) == 0) {
		*idx = (__u16)(b->last_mod + 1);
		return 0;
	}
	for (size_t i = 0; i < b->n_modules; i++) {
		if (strlen(b->modules[i].name) == len && memcmp(b->modules[i].name, name, len) == 0) {
			b->last_mod = i;
			*idx = (__u16)(i + 1);
			return 0;
		}
	}
	if (b->n_modules >= UINT16_MAX - 1)
		return -E2BIG;
	err = ARRAY_GROW(&b->modules, &b->cap_modules, b->n_modules + 1);
	if (err)
		return err;
	copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	m = &b->modules[b->n_modules];
	m->name = copy;
	m->start = ~0ULL;
	m->end = 0;
	b->last_mod = b->n_modules++;
	*idx = (__u16)b->n_modules;
	return 0;
}

static __u8 sym_rank(char type, const char *name)
{
	__u8 r = 0;

	if (type == 'T')
		r = 4;
	else if (type == 'W')
		r = 3;
	else if (type == 't')
		r = 2;
	else
		r = 1;
	/* among aliases prefer "foo" over "_foo" and "__foo" */
	r = (__u8)(r * 4);
	if (name[0] != '_')
		r += 2;
	else if (name[1] != '_')
		r += 1;
	return r;
}

/* "addr type name[\t[module]]". Returns 0 (also for lines skipped) or -errno. */
static int builder__line(struct kallsyms_builder *b, char *line, size_t len)
{
	char *p = line, *end = line + len, *name, *name_end, *mod = NULL;
	size_t mod_len = 0, name_len;
	struct ksym_tmp t = {};
	const char *digits_end = line;
	__u64 addr = 0;
	char type;
	int err;

	if (!hex_parse_u64(&digits_end, end, &addr))
		return 0;
	p = line + (digits_end - line);
	if (end - p < 3 || p[0] != ' ' || p[2] != ' ')
		return 0;
	type = p[1];
	if (type != 't' && type != 'T' && type != 'w' && type != 'W')
		return 0;
	name = p + 3;
	name_end = name;
	while (name_end < end && *name_end != '\t' && *name_end != ' ')
		name_end++;
	name_len = (size_t)(name_end - name);
	if (!name_len)
		return 0;
	if (name_end < end) {
		p = name_end + 1;
		if (end - p < 3 || p[0] != '[' || end[-1] != ']')
			return 0;
		mod = p + 1;
		mod_len = (size_t)(end - 1 - mod);
		if (!mod_len)
			return 0;
	}
	if (addr)
		b->any_nonzero = true;

	t.addr = addr;
	t.seq = (__u32)(b->n + b->n_pfx);
	if (mod) {
		err = builder__module(b, mod, mod_len, &t.mod);
		if (err)
			return err;
		b->has_mods = true;
	} else if (name[0] == '_') {
		for (int i = 0; i < 4; i++) {
			if (strlen(core_marks[i]) == name_len && memcmp(core_marks[i], name, name_len) == 0)
				b->marks[i] = addr;
		}
	}

	if (name_len > sizeof(PFX_PREFIX) - 1 &&
	    memcmp(name, PFX_PREFIX, sizeof(PFX_PREFIX) - 1) == 0) {
		t.is_pfx = 1;
		t.name_off = hash32(name + sizeof(PFX_PREFIX) - 1, name_len - (sizeof(PFX_PREFIX) - 1));
		err = ARRAY_GROW(&b->pfxs, &b->cap_pfx, b->n_pfx + 1);
		if (err)
			return err;
		b->pfxs[b->n_pfx++] = t;
		return 0;
	}

	*name_end = '\0';
	t.rank = sym_rank(type, name);
	if (b->names_len + name_len + 1 > UINT32_MAX)
		return -E2BIG;
	err = ARRAY_GROW(&b->names, &b->names_cap, b->names_len + name_len + 1);
	if (err)
		return err;
	t.name_off = (__u32)b->names_len;
	memcpy(b->names + b->names_len, name, name_len + 1);
	b->names_len += name_len + 1;
	err = ARRAY_GROW(&b->syms, &b->cap, b->n + 1);
	if (err)
		return err;
	b->syms[b->n++] = t;
	return 0;
}

static int tmp_cmp(const void *a, const void *b)
{
	const struct ksym_tmp *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static size_t upper_bound(const __u64 *addrs, size_t n, __u64 addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addrs[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * upper_bound() from a hint: the padding symbols come in address order, each
 * a few entries past the last, so a short walk usually finds it.
 */
static size_t upper_bound_from(const __u64 *addrs, size_t n, __u64 addr, size_t hint)
{
	if (hint <= n && (!hint || addrs[hint - 1] <= addr)) {
		for (int step = 0; step < 8 && hint < n; step++, hint++)
			if (addrs[hint] > addr)
				return hint;
	}
	return upper_bound(addrs, n, addr);
}

static void parse_modules(struct kallsyms *ks, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	/* "name size refcnt deps state 0xaddr [taints]" */
	while ((n = getline(&line, &cap, f)) > 0) {
		char *save = NULL, *name, *size_s, *addr_s, *endp;
		unsigned long long size, addr;

		name = strtok_r(line, " \n", &save);
		size_s = strtok_r(NULL, " \n", &save);
		(void)strtok_r(NULL, " \n", &save); /* refcnt */
		(void)strtok_r(NULL, " \n", &save); /* deps */
		(void)strtok_r(NULL, " \n", &save); /* state */
		addr_s = strtok_r(NULL, " \n", &save);
		if (!name || !size_s || !addr_s)
			continue;
		errno = 0;
		size = strtoull(size_s, &endp, 10);
		if (errno || *endp || !size)
			continue;
		addr = strtoull(addr_s, &endp, 16);
		if (errno || *endp || !addr || addr + size < addr)
			continue; /* zero when restricted */
		for (size_t i = 0; i < ks->n_modules; i++) {
			if (strcmp(ks->modules[i].name, name) == 0) {
				ks->modules[i].start = addr;
				ks->modules[i].end = addr + size;
				break;
			}
		}
	}
	free(line);
}

static void builder__free(struct kallsyms_builder *b)
{
	free(b->syms);
	free(b->pfxs);
	free(b->names);
	for (size_t i = 0; i < b->n_modules; i++)
		free((char *)b->modules[i].name);
	free(b->modules);
}

/*
 * /proc/kallsyms lists text in address order, but for what came later (BPF
 * programs, modules loaded at some addresses): sorting all of it again costs
 * ~10 ms. The sorted head stays; the rest is sorted and merged in, after the
 * head's symbols at an equal address (they were listed first).
 */
static void sort_syms(struct kallsyms_builder *b)
{
	size_t head = 1, n_tail, i, j, out;
	struct ksym_tmp *tail;

	while (head < b->n && b->syms[head - 1].addr <= b->syms[head].addr)
		head++;
	if (head >= b->n)
		return;
	n_tail = b->n - head;
	tail = malloc(n_tail * sizeof(*tail));
	if (!tail) {
		qsort(b->syms, b->n, sizeof(*b->syms), tmp_cmp);
		return;
	}
	memcpy(tail, b->syms + head, n_tail * sizeof(*tail));
	qsort(tail, n_tail, sizeof(*tail), tmp_cmp);
	for (i = head, j = n_tail, out = b->n; j > 0;) {
		if (i > 0 && b->syms[i - 1].addr > tail[j - 1].addr)
			b->syms[--out] = b->syms[--i];
		else
			b->syms[--out] = tail[--j];
	}
	free(tail);
}

static int kallsyms__build(struct kallsyms *ks, struct kallsyms_builder *b)
{
	size_t n = 0;

	sort_syms(b);
	/* Aliases at one address: keep the preferred name, the first listed among equals. */
	for (size_t i = 0; i < b->n; i++) {
		if (n && b->syms[n - 1].addr == b->syms[i].addr) {
			if (b->syms[i].rank > b->syms[n - 1].rank)
				b->syms[n - 1] = b->syms[i];
			continue;
		}
		b->syms[n++] = b->syms[i];
	}
	ks->addrs = malloc(n * sizeof(*ks->addrs));
	ks->name_offs = malloc(n * sizeof(*ks->name_offs));
	ks->pfx = calloc((n + 7) / 8, 1);
	if (b->has_mods)
		ks->mods = malloc(n * sizeof(*ks->mods));
	if (!ks->addrs || !ks->name_offs || !ks->pfx || (b->has_mods && !ks->mods))
		return -ENOMEM;
	ks->n = n;
	ks->core_start = ~0ULL;
	for (size_t i = 0; i < n; i++) {
		const struct ksym_tmp *t = &b->syms[i];

		ks->addrs[i] = t->addr;
		ks->name_offs[i] = t->name_off;
		if (ks->mods)
			ks->mods[i] = t->mod;
		if (t->mod) {
			struct kallsyms_module *m = &b->modules[t->mod - 1];

			if (t->addr < m->start)
				m->start = t->addr;
			if (t->addr + MODULE_TAIL_SLACK > m->end)
				m->end = t->addr + MODULE_TAIL_SLACK;
		} else {
			if (t->addr < ks->core_start)
				ks->core_start = t->addr;
			if (t->addr + MODULE_TAIL_SLACK > ks->core_end)
				ks->core_end = t->addr + MODULE_TAIL_SLACK;
		}
	}

	/* fold "__pfx_X" into a bit on X, the next symbol up */
	for (size_t i = 0, j = 0; i < b->n_pfx; i++) {
		const struct ksym_tmp *p = &b->pfxs[i];
		const char *name;
		__u64 pad;

		j = upper_bound_from(ks->addrs, n, p->addr, j);
		if (j >= n)
			continue;
		pad = ks->addrs[j] - p->addr;
		name = b->names + ks->name_offs[j];
		if (pad > PFX_MAX_PAD || hash32(name, strlen(name)) != p->name_off)
			continue;
		ks->pfx[j / 8] |= (__u8)(1u << (j % 8));
		if (pad > ks->pfx_pad)
			ks->pfx_pad = (__u32)pad;
		/* the padding belongs to the module too */
		if (ks->mods && ks->mods[j] && b->modules[ks->mods[j] - 1].start > p->addr)
			b->modules[ks->mods[j] - 1].start = p->addr;
	}

	/* core text ranges from the linker's marks when present */
	if (b->marks[0] && b->marks[1] > b->marks[0]) {
		ks->core_ranges[ks->n_core_ranges][0] = b->marks[0];
		ks->core_ranges[ks->n_core_ranges++][1] = b->marks[1];
	}
	if (b->marks[2] && b->marks[3] > b->marks[2]) {
		ks->core_ranges[ks->n_core_ranges][0] = b->marks[2];
		ks->core_ranges[ks->n_core_ranges++][1] = b->marks[3];
	}
	if (!ks->n_core_ranges && ks->core_end) {
		ks->core_ranges[0][0] = ks->core_start;
		ks->core_ranges[0][1] = ks->core_end;
		ks->n_core_ranges = 1;
	}
	ks->core_start = ~0ULL;
	ks->core_end = 0;
	for (size_t i = 0; i < ks->n_core_ranges; i++) {
		if (ks->core_ranges[i][0] < ks->core_start)
			ks->core_start = ks->core_ranges[i][0];
		if (ks->core_ranges[i][1] > ks->core_end)
			ks->core_end = ks->core_ranges[i][1];
	}

	if (ks->core_start > ks->core_end)
		ks->core_start = ks->core_end = 0;

	/* hand the arena and modules over; shrink the arena to size */
	ks->names = realloc(b->names, b->names_len ? b->names_len : 1);
	if (!ks->names) {
		ks->names = b->names; /* shrinking failed: keep the larger block */
	}
	ks->names_len = b->names_len;
	b->names = NULL;
	ks->modules = b->modules;
	ks->n_modules = b->n_modules;
	b->modules = NULL;
	b->n_modules = 0;
	return 0;
}

/*
 * Hands each line of f to builder__line(), read in large blocks and split in
 * place: a megabyte-sized file is not copied line by line.
 */
static int read_lines(struct kallsyms_builder *b, FILE *f)
{
	size_t cap = READ_BLOCK, have = 0, got;
	char *buf = malloc(cap), *p, *end, *nl;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		/* a line longer than the block: a larger block (one byte stays for a '\0') */
		if (have == cap - 1 && ARRAY_GROW(&buf, &cap, cap * 2)) {
			err = -ENOMEM;
			break;
		}
		got = fread(buf + have, 1, cap - 1 - have, f);
		have += got;
		p = buf;
		end = buf + have;
		while (!err && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			*nl = '\0';
			err = builder__line(b, p, (size_t)(nl - p));
			p = nl + 1;
		}
		if (!err && !got && p < end) { /* the last line, without its newline */
			*end = '\0';
			err = builder__line(b, p, (size_t)(end - p));
			p = end;
		}
		have = (size_t)(end - p);
		memmove(buf, p, have);
		if (err || !got)
			break;
	}
	free(buf);
	return err;
}

struct kallsyms *kallsyms__parse(FILE *kallsyms, FILE *modules)
{
	struct kallsyms_builder b = {};
	struct kallsyms *ks = NULL;
	int err = 0;

	if (!kallsyms) {
		errno = EINVAL;
		return NULL;
	}
	errno = 0;
	err = read_lines(&b, kallsyms);
	if (err)
		goto cleanup;
	if (ferror(kallsyms)) {
		err = errno ? -errno : -EIO;
		goto cleanup;
	}
	if (!b.n && !b.n_pfx) {
		err = -ENODATA;
		goto cleanup;
	}
	if (!b.any_nonzero) {
		err = -EPERM;
		goto cleanup;
	}
	ks = calloc(1, sizeof(*ks));
	if (!ks) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = kallsyms__build(ks, &b);
	if (err)
		goto cleanup;
	if (modules)
		parse_modules(ks, modules);

cleanup:
	builder__free(&b);
	if (err) {
		kallsyms__free(ks);
		errno = -err;
		return NULL;
	}
	return ks;
}

struct kallsyms *kallsyms__load(const char *kallsyms_path, const char *modules_path)
{
	struct kallsyms *ks;
	FILE *f, *m = NULL;
	int err;

	if (!kallsyms_path) {
		errno = EINVAL;
		return NULL;
	}
	f = fopen(kallsyms_path, "re");
	if (!f)
		return NULL;

	if (modules_path)
		m = fopen(modules_path, "re"); /* absent: ranges from symbols */
	ks = kallsyms__parse(f, m);
	err = errno;
	fclose(f);
	if (m)
		fclose(m);
	errno = err;
	return ks;
}

void kallsyms__free(struct kallsyms *ks)
{
	if (!ks)
		return;
	free(ks->addrs);
	free(ks->name_offs);
	free(ks->mods);
	free(ks->pfx);
	free(ks->names);
	for (size_t i = 0; i < ks->n_modules; i++)
		free((char *)ks->modules[i].name);
	free(ks->modules);
	free(ks);
}

static bool in_core(const struct kallsyms *ks, __u64 addr)
{
	for (size_t i = 0; i < ks->n_core_ranges; i++) {
		if (addr >= ks->core_ranges[i][0] && addr < ks->core_ranges[i][1])
			return true;
	}
	return false;
}

int kallsyms__lookup(const struct kallsyms *ks, __u64 addr, struct kallsyms_sym *out)
{
	size_t i;
	__u16 mod;

	if (!ks || !out)
		return -EINVAL;
	i = upper_bound(ks->addrs, ks->n, addr);
	/* in the padding in front of the next symbol: that symbol's */
	if (i < ks->n && (ks->pfx[i / 8] & (1u << (i % 8))) && ks->addrs[i] - addr <= ks->pfx_pad)
		i++;
	if (i == 0)
		return -ENOENT;
	i--;
	mod = ks->mods ? ks->mods[i] : CORE_MOD;
	if (mod == CORE_MOD) {
		if (!in_core(ks, addr))
			return -ENOENT;
	} else {
		const struct kallsyms_module *m = &ks->modules[mod - 1];

		if (addr < m->start || addr >= m->end)
			return -ENOENT;
	}
	out->name = ks->names + ks->name_offs[i];
	out->addr = ks->addrs[i];
	out->index = (__u32)i;
	out->module = mod == CORE_MOD ? -1 : mod - 1;
	return 0;
}

size_t kallsyms__count(const struct kallsyms *ks)
{
	return ks ? ks->n : 0;
}

size_t kallsyms__module_count(const struct kallsyms *ks)
{
	return ks ? ks->n_modules : 0;
}

const struct kallsyms_module *kallsyms__module(const struct kallsyms *ks, size_t i)
{
	if (!ks || i >= ks->n_modules)
		return NULL;
	return &ks->modules[i];
}

void kallsyms__core_range(const struct kallsyms *ks, __u64 *start, __u64 *end)
{
	*start = ks ? ks->core_start : 0;
	*end = ks ? ks->core_end : 0;
}

size_t kallsyms__memory(const struct kallsyms *ks)
{
	size_t bytes;

	if (!ks)
		return 0;
	bytes = sizeof(*ks) + ks->n * (sizeof(*ks->addrs) + sizeof(*ks->name_offs)) +
		(ks->n + 7) / 8 + ks->names_len + ks->n_modules * sizeof(*ks->modules);
	if (ks->mods)
		bytes += ks->n * sizeof(*ks->mods);
	return bytes;
}

int kallsyms__read_build_id(const char *notes_path, char **hex)
{
	unsigned char *buf = NULL;
	size_t len = 0, pos = 0;
	int err;

	if (!notes_path || !hex)
		return -EINVAL;
	err = read_file_all(notes_path, NOTES_MAX_BYTES, (void **)&buf, &len);
	if (err)
		return err;
	err = -ENOENT;
	while (len - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		size_t name_pad, desc_pad;

		memcpy(&nh, buf + pos, sizeof(nh));
		pos += sizeof(nh);
		name_pad = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
		desc_pad = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
		if (name_pad > len - pos || desc_pad > len - pos - name_pad)
			break;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp(buf + pos, "GNU", 4) == 0 && nh.n_descsz > 0) {
			*hex = hex_string(buf + pos + name_pad, nh.n_descsz);
			err = *hex ? 0 : -ENOMEM;
			break;
		}
		pos += name_pad + desc_pad;
	}
	free(buf);
	return err;
}
