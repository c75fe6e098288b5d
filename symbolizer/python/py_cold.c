// SPDX-License-Identifier: Apache-2.0
#include "py_cold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * .eh_frame_hdr's search table, as GNU ld and lld write it: a sorted array
 * of (initial location, FDE address) pairs, each a 32-bit offset from the
 * header. Other encodings are not read (-ENOEXEC): the function then has
 * no cold part found, as before.
 */
#define EH_PE_PCREL_SDATA4 0x1b
#define EH_PE_UDATA4 0x03
#define EH_PE_DATAREL_SDATA4 0x3b
#define EH_HDR_SIZE 12

struct eh_index {
	const unsigned char *table; /* count pairs of __s32 */
	__u32 count;
	__u64 hdr_addr;
	const unsigned char *frame; /* .eh_frame */
	size_t frame_size;
	__u64 frame_addr;
};

static __s32 s32_at(const unsigned char *p)
{
	__s32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Larger unwind sections are not read: a file's sections are its owner's to size. */
#define MAX_EH_BYTES (64u << 20)

static Elf_Data *section_named(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS)
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return sh->sh_size <= MAX_EH_BYTES ? elf_getdata(scn, NULL) : NULL;
	}
	return NULL;
}

static int eh_index_open(Elf *elf, struct eh_index *ix)
{
	GElf_Shdr hdr_sh, frame_sh;
	Elf_Data *hdr = section_named(elf, ".eh_frame_hdr", &hdr_sh);
	Elf_Data *frame = section_named(elf, ".eh_frame", &frame_sh);
	const unsigned char *h;
	__u32 count;

	if (!hdr || !frame || !hdr->d_buf || !frame->d_buf || hdr->d_size < EH_HDR_SIZE)
		return -ENOEXEC;
	h = hdr->d_buf;
	if (h[0] != 1 || h[1] != EH_PE_PCREL_SDATA4 || h[2] != EH_PE_UDATA4 ||
	    h[3] != EH_PE_DATAREL_SDATA4)
		return -ENOEXEC;
	memcpy(&count, h + 8, sizeof(count));
	if (count > (hdr->d_size - EH_HDR_SIZE) / 8)
		return -ENOEXEC;
	*ix = (struct eh_index){
		.table = h + EH_HDR_SIZE,
		.count = count,
		.hdr_addr = hdr_sh.sh_addr,
		.frame = frame->d_buf,
		.frame_size = frame->d_size,
		.frame_addr = frame_sh.sh_addr,
	};
	return 0;
}

/*
 * The FDE covering pc: [*lo, *hi). Its address range is read from the FDE
 * itself, whose initial location must be the table's (the CIE's encoding
 * is then pc-relative 32-bit, as the table's check shows).
 */
static int eh_fde_of(const struct eh_index *ix, __u64 pc, __u64 *lo, __u64 *hi)
{
	__u32 first = 0, n = ix->count;
	__u64 start, fde, at;
	__s32 range;

	/* the last entry starting at or below pc */
	while (n > 0) {
		__u32 half = n / 2;

		if (ix->hdr_addr + (__s64)s32_at(ix->table + 8 * (first + half)) <= pc) {
			first += half + 1;
			n -= half + 1;
		} else {
			n = half;
		}
	}
	if (!first)
		return -ENOENT;
	start = ix->hdr_addr + (__s64)s32_at(ix->table + 8 * (first - 1));
	fde = ix->hdr_addr + (__s64)s32_at(ix->table + 8 * (first - 1) + 4);
	/* length, CIE pointer, initial location, address range: 16 bytes, 32-bit length only */
	if (fde < ix->frame_addr || fde - ix->frame_addr > ix->frame_size ||
	    ix->frame_size - (fde - ix->frame_addr) < 16)
		return -ENOEXEC;
	at = fde - ix->frame_addr;
	if ((__u32)s32_at(ix->frame + at) == 0xffffffffu ||
	    fde + 8 + (__s64)s32_at(ix->frame + at + 8) != start)
		return -ENOEXEC;
	range = s32_at(ix->frame + at + 12);
	if (range <= 0 || pc >= start + (__u64)range)
		return -ENOENT;
	*lo = start;
	*hi = start + (__u64)range;
	return 0;
}

/* The executable section holding [start, end), as its header. */
static int text_section(Elf *elf, __u64 start, __u64 end, GElf_Shdr *out)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		if (start >= sh.sh_addr && end <= sh.sh_addr + sh.sh_size) {
			*out = sh;
			return 0;
		}
	}
	return -EINVAL;
}

static int by_address(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Every target of a jmp rel32 (e9) or jcc rel32 (0f 80..8f) in body that
 * lands in the section but outside the function, sorted; *n of them.
 */
static __u64 *jump_targets(const unsigned char *body, __u64 start, __u64 size,
			   const GElf_Shdr *text, size_t *n)
{
	/* real jumps are 5 bytes or more apart; bytes that only look like them may be closer */
	size_t cap = size / 5 + 1;
	__u64 *targets = malloc(cap * sizeof(*targets));
	__u64 end = start + size;

	*n = 0;
	if (!targets)
		return NULL;
	for (__u64 i = 0; i + 5 <= size && *n < cap; i++) {
		__u64 next, target;
		__s32 rel;

		if (body[i] == 0xe9) {
			next = i + 5;
			rel = s32_at(body + i + 1);
		} else if (body[i] == 0x0f && i + 6 <= size && (body[i + 1] & 0xf0) == 0x80) {
			next = i + 6;
			rel = s32_at(body + i + 2);
		} else {
			continue;
		}
		target = start + next + (__u64)(__s64)rel;
		if ((target >= start && target < end) || target < text->sh_addr ||
		    target >= text->sh_addr + text->sh_size)
			continue;
		targets[(*n)++] = target;
	}
	qsort(targets, *n, sizeof(*targets), by_address);
	return targets;
}

int py_cold__find(Elf *elf, __u64 start, __u64 size, __u64 *cold_start, __u64 *cold_end)
{
	struct { __u64 lo, hi; __u32 jumps; } best = { 0 }, cur = { 0 };
	struct eh_index ix;
	__u64 *targets;
	GElf_Shdr text;
	Elf_Data *body;
	size_t n = 0;
	__u32 landed = 0;
	int err;

	if (!size || size > PY_COLD_MAX_BODY || start + size < start)
		return -EINVAL;
	err = text_section(elf, start, start + size, &text);
	if (err)
		return err;
	err = eh_index_open(elf, &ix);
	if (err)
		return err;
	/* the body alone, not the section (CPython's .text is megabytes) */
	body = elf_getdata_rawchunk(elf, (int64_t)(text.sh_offset + (start - text.sh_addr)), size,
				    ELF_T_BYTE);
	if (!body || !body->d_buf || body->d_size != size)
		return -EINVAL;
	targets = jump_targets(body->d_buf, start, size, &text, &n);
	if (!targets)
		return -ENOMEM;
	/* sorted: the jumps into one FDE come together, and it is looked up once */
	for (size_t i = 0; i < n; i++) {
		__u64 lo, hi;

		if (cur.jumps && targets[i] >= cur.lo && targets[i] < cur.hi) {
			cur.jumps++;
			landed++;
			continue;
		}
		if (cur.jumps > best.jumps)
			best = cur;
		cur.jumps = 0;
		/* an FDE overlapping the function is the function's own */
		if (eh_fde_of(&ix, targets[i], &lo, &hi) || (lo < start + size && hi > start))
			continue;
		cur.lo = lo;
		cur.hi = hi;
		cur.jumps = 1;
		landed++;
	}
	if (cur.jumps > best.jumps)
		best = cur;
	free(targets);
	if (best.jumps < PY_COLD_MIN_JUMPS || best.jumps * 2 <= landed)
		return -ENOENT;
	*cold_start = best.lo;
	*cold_end = best.hi;
	return 0;
}
