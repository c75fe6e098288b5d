// SPDX-License-Identifier: Apache-2.0
/*
 * FDEs are enumerated from the raw sections with dwarf_next_cfi() (libdw has
 * no call that lists them), decoding each FDE's pc range with its CIE's
 * pointer encoding. Each FDE is then evaluated row by row with
 * dwarf_cfi_addrframe(): the returned frame's [start, end) is the range over
 * which its rules hold, so the next row starts at end.
 *
 * Both .eh_frame and .debug_frame are read: a program built with
 * -fno-asynchronous-unwind-tables -g has .eh_frame only for the C runtime's
 * startup code and .debug_frame for everything else. Where both describe an
 * address, .eh_frame wins (it is what the runtime itself trusts).
 */
#include "cfi_table.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "cfi_encoding.h"

/* DWARF register numbers of the x86-64 psABI. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

#define MAX_CFA_OFFSET 0xffff
#define MAX_SPAN 0xffffffffULL

struct cfi_table {
	struct cfi_row *rows;
	size_t n_rows;
	__u64 origin;
	struct cfi_table_stats stats;
};

struct fde_range {
	__u64 start;
	__u64 end;
	bool eh_frame; /* else .debug_frame's */
};

struct cie_info {
	Dwarf_Off offset;
	__u8 fde_encoding;
	bool usable; /* the FDE pointer encoding is known */
};

struct builder {
	struct cfi_table *t;
	Dwarf_CFI *eh_cfi;
	Dwarf *dwarf;
	Dwarf_CFI *debug_cfi;
	/* pc relative to origin (at most the first row's) from the start: no second copy */
	struct cfi_row *rows;
	size_t n_rows, rows_cap;
	__u64 origin;
	struct fde_range *fdes;
	size_t n_fdes, fdes_cap;
	struct cie_info *cies;
	size_t n_cies, cies_cap;
};

/* The FDE pointer encoding from a CIE's augmentation ("zPLR" and friends). */
static void parse_cie(const Dwarf_CIE *cie, struct cie_info *ci)
{
	const char *aug = cie->augmentation;
	const __u8 *d = cie->augmentation_data;
	const __u8 *end = d ? d + cie->augmentation_data_size : NULL;

	ci->fde_encoding = DW_EH_PE_absptr;
	ci->usable = false;
	if (!aug)
		return;
	if (aug[0] == '\0') {
		/* .debug_frame, or .eh_frame without augmentation: target-size addresses */
		ci->usable = true;
		return;
	}
	if (aug[0] != 'z' || !d)
		return;
	for (const char *a = aug + 1; *a; a++) {
		__u64 ignored;
		__u8 enc;

		switch (*a) {
		case 'R':
			if (d >= end)
				return;
			ci->fde_encoding = *d++;
			break;
		case 'L':
			if (d >= end)
				return;
			d++;
			break;
		case 'P':
			if (d >= end)
				return;
			enc = *d++;
			if (cfi_read_encoded(&d, end, enc, 0, false, &ignored))
				return;
			break;
		case 'S': /* signal frame */
		case 'B': /* arm64 BTI */
		case 'G': /* MTE tagged frames */
			break;
		default:
			/* With 'z' the data is self-sized: 'R' before an unknown letter still holds. */
			ci->usable = true;
			return;
		}
	}
	ci->usable = true;
}

static const struct cie_info *find_cie(const struct builder *b, Dwarf_Off off)
{
	size_t lo = 0, hi = b->n_cies;

	/* dwarf_next_cfi walks in section order: CIE offsets arrive sorted. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->cies[mid].offset == off)
			return &b->cies[mid];
		if (b->cies[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int compare_fdes(const void *a, const void *b)
{
	const struct fde_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->eh_frame != y->eh_frame)
		return x->eh_frame ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Collects every FDE's [start, end) from one section's raw bytes. */
static int collect_fdes(struct builder *b, Elf *elf, Elf_Data *data, __u64 sh_addr, bool eh_frame)
{
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	Dwarf_Off off = 0, next;
	int err;

	if (!ident)
		return -EINVAL;
	/* CIE offsets are per section. */
	b->n_cies = 0;
	for (;;) {
		Dwarf_CFI_Entry entry;
		int ret = dwarf_next_cfi(ident, data, eh_frame, off, &next, &entry);

		if (ret > 0)
			break; /* end of section */
		if (ret < 0)
			return b->n_fdes ? 0 : -EINVAL; /* keep what was read before the damage */
		if (dwarf_cfi_cie_p(&entry)) {
			struct cie_info ci = { .offset = off };

			parse_cie(&entry.cie, &ci);
			err = ARRAY_GROW(&b->cies, &b->cies_cap, b->n_cies + 1);
			if (err)
				return err;
			b->cies[b->n_cies++] = ci;
		} else {
			const struct cie_info *ci = find_cie(b, entry.fde.CIE_pointer);
			const __u8 *p = entry.fde.start;
			__u64 field = sh_addr + (__u64)(p - (const __u8 *)data->d_buf);
			__u64 start = 0, range = 0;

			if (ci && ci->usable &&
			    cfi_read_encoded(&p, entry.fde.end, ci->fde_encoding, field, true, &start) == 0 &&
			    cfi_read_encoded(&p, entry.fde.end, ci->fde_encoding & 0x0f, 0, false,
					 &range) == 0 &&
			    range && start && start + range > start) {
				err = ARRAY_GROW(&b->fdes, &b->fdes_cap, b->n_fdes + 1);
				if (err)
					return err;
				b->fdes[b->n_fdes++] = (struct fde_range){
					.start = start, .end = start + range, .eh_frame = eh_frame,
				};
			} else {
				/* A discarded function (start 0) or an encoding we cannot read. */
				b->t->stats.fde_errors += !(start == 0 && ci && ci->usable);
			}
		}
		if (next == (Dwarf_Off)-1)
			break;
		off = next;
	}
	return 0;
}

static bool op_breg(const Dwarf_Op *op, unsigned reg, __s64 *off)
{
	if (op->atom == DW_OP_bregx && op->number == reg) {
		*off = (__s64)op->number2;
		return true;
	}
	if (reg <= 31 && op->atom == DW_OP_breg0 + reg) {
		*off = (__s64)op->number;
		return true;
	}
	return false;
}

/*
 * The lazy PLT's CFA (ld's .eh_frame for .plt): rsp + 8 before the entry's
 * push, rsp + 16 after it, told apart by the pc's offset in its 16-byte entry:
 *   DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit<K>;
 *   DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
 */
static bool plt_expression(const Dwarf_Op *ops, size_t n, unsigned *threshold)
{
	__s64 off;

	if (n != 9 || !op_breg(&ops[0], REG_RSP, &off) || off != 8 ||
	    !op_breg(&ops[1], REG_RA, &off) || off != 0 || ops[2].atom != DW_OP_lit15 ||
	    ops[3].atom != DW_OP_and || ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit15 ||
	    ops[5].atom != DW_OP_ge || ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl ||
	    ops[8].atom != DW_OP_plus)
		return false;
	*threshold = ops[4].atom - DW_OP_lit0;
	return true;
}

/* A register saved at CFA + off: [DW_OP_call_frame_cfa] or [..., DW_OP_plus_uconst off]. */
static bool saved_at_cfa(const Dwarf_Op *ops, size_t n, __s64 *off)
{
	if (n == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (__s64)ops[1].number;
		return true;
	}
	return false;
}

/*
 * A register saved at rsp + off by DW_CFA_expression (how signal frames
 * describe every register). libdw returns the expression after a
 * DW_OP_call_frame_cfa, since the CFA is pushed before it is evaluated.
 */
static bool saved_at_rsp(const Dwarf_Op *ops, size_t n, __s64 *off)
{
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa)
		return op_breg(&ops[1], REG_RSP, off);
	return n == 1 && op_breg(&ops[0], REG_RSP, off);
}

/*
 * The x86-64 signal trampoline (__restore_rt): rsp points at the ucontext;
 * CFA = *(rsp + K), rip is saved right after rsp at rsp + K + 8, rbp at some
 * rsp + F. Anything else in a signal frame is unsupported.
 */
static bool signal_row(Dwarf_Frame *frame, const Dwarf_Op *cfa, size_t n_cfa,
		       struct cfi_row *row)
{
	Dwarf_Op mem[3], *ops;
	__s64 k, rip, rbp;
	size_t n;

	if (n_cfa != 2 || !op_breg(&cfa[0], REG_RSP, &k) || cfa[1].atom != DW_OP_deref ||
	    k <= 0 || k > MAX_CFA_OFFSET - 8)
		return false;
	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &n) || !saved_at_rsp(ops, n, &rip) ||
	    rip != k + 8)
		return false;
	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &n) || !saved_at_rsp(ops, n, &rbp) ||
	    rbp <= 0 || rbp % 8 || rbp / 8 > 127)
		return false;
	row->type = CFI_ROW_SIGNAL;
	row->cfa_off = k;
	row->fp_off = rbp / 8;
	return true;
}

/* Turns libdw's frame state into a row. */
static void translate(struct builder *b, Dwarf_Frame *frame, bool signal,
		      struct cfi_row *row)
{
	Dwarf_Op mem[3], *ops, *cfa;
	size_t n, n_cfa;
	unsigned threshold;
	__s64 off;

	memset(row, 0, sizeof(*row));
	row->type = CFI_ROW_UNSUPPORTED;

	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &n) == 0 && n == 0 && ops == mem) {
		/* Return address undefined: nothing called this frame. */
		row->type = CFI_ROW_OUTERMOST;
		return;
	}
	if (dwarf_frame_cfa(frame, &cfa, &n_cfa) || n_cfa == 0)
		return;
	if (signal && signal_row(frame, cfa, n_cfa, row))
		return;
	if (n_cfa == 1 && op_breg(&cfa[0], REG_RSP, &off) && off > 0 && off <= MAX_CFA_OFFSET) {
		row->type = CFI_ROW_CFA_SP;
		row->cfa_off = off;
	} else if (n_cfa == 1 && op_breg(&cfa[0], REG_RBP, &off) && off > 0 &&
		   off <= MAX_CFA_OFFSET) {
		row->type = CFI_ROW_CFA_FP;
		row->cfa_off = off;
	} else if (plt_expression(cfa, n_cfa, &threshold)) {
		row->type = CFI_ROW_PLT;
		row->cfa_off = threshold;
	} else {
		return;
	}

	/* The return address is where the call put it, or the walker cannot use the row. */
	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &n) || !saved_at_cfa(ops, n, &off) ||
	    off != -8) {
		row->type = CFI_ROW_UNSUPPORTED;
		row->cfa_off = 0;
		return;
	}
	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &n) == 0 && n == 0)
		return; /* same value or undefined: rbp unchanged */
	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &n) == 0 && saved_at_cfa(ops, n, &off) &&
	    off < 0 && off % 8 == 0 && off / 8 >= -128) {
		row->fp_off = off / 8;
		return;
	}
	/*
	 * Saved far below the CFA, in another register, or by an expression:
	 * taken as unchanged, the next frame's rbp would be this one's, and a
	 * caller whose CFA is rbp-based would be read from the wrong place.
	 */
	row->fp_off = CFI_FP_LOST;
	b->t->stats.rbp_unsupported++;
}

static bool same_rule(const struct cfi_row *a, const struct cfi_row *b)
{
	return a->type == b->type && a->fp_off == b->fp_off && a->cfa_off == b->cfa_off;
}

static int add_row(struct builder *b, __u64 pc, const struct cfi_row *rule)
{
	struct cfi_row *last = b->n_rows ? &b->rows[b->n_rows - 1] : NULL;
	__u64 rel = pc - b->origin;
	int err;

	if (pc < b->origin || rel > MAX_SPAN)
		return -E2BIG;
	if (last && last->pc == rel) {
		/* The previous range was empty (a gap closed by an adjacent FDE). */
		*last = *rule;
		last->pc = (__u32)rel;
		if (b->n_rows > 1 && same_rule(&b->rows[b->n_rows - 2], rule))
			b->n_rows--;
		return 0;
	}
	if ((last && same_rule(last, rule)) || (!last && rule->type == CFI_ROW_NONE))
		return 0;
	err = b->n_rows < CFI_MAX_ROWS ? ARRAY_GROW(&b->rows, &b->rows_cap, b->n_rows + 1) : -E2BIG;
	if (err)
		return err;
	b->rows[b->n_rows] = *rule;
	b->rows[b->n_rows++].pc = (__u32)rel;
	return 0;
}

static int add_fde_rows(struct builder *b, Dwarf_CFI *cfi, __u64 start, __u64 end)
{
	struct cfi_row row;
	__u64 addr = start;
	int err;

	while (addr < end) {
		Dwarf_Frame *frame = NULL;
		Dwarf_Addr fs, fe;
		bool signal = false;

		if (dwarf_cfi_addrframe(cfi, addr, &frame) != 0 ||
		    dwarf_frame_info(frame, &fs, &fe, &signal) < 0) {
			/* The rest of this FDE is unusable; say so rather than guess. */
			free(frame);
			b->t->stats.fde_errors++;
			row = (struct cfi_row){ .type = CFI_ROW_UNSUPPORTED };
			b->t->stats.cfi_rows++;
			return add_row(b, addr, &row);
		}
		translate(b, frame, signal, &row);
		free(frame);
		b->t->stats.cfi_rows++;
		err = add_row(b, addr, &row);
		if (err)
			return err;
		/* libdw's range may end past this FDE (or fail to advance): clamp. */
		addr = fe > addr && fe < end ? fe : end;
	}
	return 0;
}

/*
 * The entry point is where the kernel starts a new program's first thread:
 * there is no caller. ld.so's _start and _dl_start_user are assembly without
 * CFI, so every stack of a process still in the dynamic loader would end in
 * a gap; the gap that holds the entry says "outermost" instead.
 */
static int add_gap_rows(struct builder *b, __u64 from, __u64 to, __u64 entry)
{
	const struct cfi_row gap = { .type = CFI_ROW_NONE };
	const struct cfi_row outermost = { .type = CFI_ROW_OUTERMOST };
	int err;

	if (!entry || entry < from || entry >= to)
		return add_row(b, from, &gap);
	if (entry > from) {
		err = add_row(b, from, &gap);
		if (err)
			return err;
	}
	b->t->stats.entry_rows++;
	return add_row(b, entry, &outermost);
}

static int build_rows(struct builder *b, __u64 entry)
{
	const struct cfi_row gap = { .type = CFI_ROW_NONE };
	__u64 covered_to = 0;
	int err;

	qsort(b->fdes, b->n_fdes, sizeof(*b->fdes), compare_fdes);
	b->origin = b->fdes[0].start;
	if (entry && entry < b->origin)
		b->origin = entry;
	for (size_t i = 0; i < b->n_fdes; i++) {
		__u64 start = b->fdes[i].start, end = b->fdes[i].end;

		/* Overlapping FDEs (duplicates): the first one found wins. */
		if (start < covered_to)
			start = covered_to;
		if (start >= end)
			continue;
		if (start > covered_to && (covered_to || (entry && entry < start))) {
			err = add_gap_rows(b, covered_to, start, entry);
			if (err)
				return err;
		}
		err = add_fde_rows(b, b->fdes[i].eh_frame ? b->eh_cfi : b->debug_cfi, start, end);
		if (err)
			return err;
		b->t->stats.fdes++;
		covered_to = end;
	}
	if (covered_to)
		return add_row(b, covered_to, &gap);
	return 0;
}

static Elf_Scn *find_section(Elf *elf, const char *want, GElf_Shdr *shdr)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, shdr) || shdr->sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (name && strcmp(name, want) == 0)
			return scn;
	}
	return NULL;
}

/* The table starts at its first row; its array shrinks to the rows. */
static int finish(struct builder *b)
{
	struct cfi_table *t = b->t;
	struct cfi_row *shrunk;
	__u32 first;

	if (!b->n_rows)
		return -ENOENT;
	first = b->rows[0].pc;
	for (size_t i = 0; i < b->n_rows; i++) {
		b->rows[i].pc -= first;
		t->stats.rows_by_type[b->rows[i].type]++;
	}
	shrunk = realloc(b->rows, b->n_rows * sizeof(*b->rows));
	t->rows = shrunk ? shrunk : b->rows;
	b->rows = NULL;
	t->n_rows = t->stats.rows = b->n_rows;
	t->origin = b->origin + first;
	return 0;
}

/* Reads one CFI section's FDEs if the file has it; 0 when it does not. */
static int read_section(struct builder *b, Elf *elf, const char *name)
{
	bool eh_frame = strcmp(name, ".eh_frame") == 0;
	Dwarf_CFI *cfi;
	Elf_Data *data;
	GElf_Shdr shdr;
	Elf_Scn *scn = find_section(elf, name, &shdr);

	if (!scn)
		return 0;
	/* Decompressed in place, as libdw does for its own reading. */
	if ((shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || !data->d_size)
		return 0;
	if (eh_frame) {
		cfi = b->eh_cfi = dwarf_getcfi_elf(elf);
	} else {
		b->dwarf = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		cfi = b->debug_cfi = b->dwarf ? dwarf_getcfi(b->dwarf) : NULL;
	}
	if (!cfi)
		return 0;
	if (!eh_frame)
		b->t->stats.debug_frame = true;
	return collect_fdes(b, elf, data, eh_frame ? shdr.sh_addr : 0, eh_frame);
}

struct cfi_table *cfi_table__build(Elf *elf)
{
	struct builder b = { 0 };
	GElf_Ehdr ehdr;
	int err;

	if (!elf || !gelf_getehdr(elf, &ehdr)) {
		errno = EINVAL;
		return NULL;
	}
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_machine != EM_X86_64) {
		errno = ENOTSUP;
		return NULL;
	}
	b.t = calloc(1, sizeof(*b.t));
	if (!b.t) {
		errno = ENOMEM;
		return NULL;
	}
	err = read_section(&b, elf, ".eh_frame");
	if (!err)
		err = read_section(&b, elf, ".debug_frame");
	if (!err && !b.n_fdes)
		err = -ENOENT;
	if (!err)
		err = build_rows(&b, ehdr.e_entry);
	if (!err)
		err = finish(&b);

	if (b.eh_cfi)
		dwarf_cfi_end(b.eh_cfi);
	dwarf_end(b.dwarf);
	free(b.rows);
	free(b.fdes);
	free(b.cies);
	if (err) {
		cfi_table__free(b.t);
		errno = -err;
		return NULL;
	}
	return b.t;
}

void cfi_table__free(struct cfi_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t);
}

const struct cfi_row *cfi_table__rows(const struct cfi_table *t, size_t *n)
{
	*n = t->n_rows;
	return t->rows;
}

__u64 cfi_table__origin(const struct cfi_table *t)
{
	return t->origin;
}

const struct cfi_table_stats *cfi_table__stats(const struct cfi_table *t)
{
	return &t->stats;
}

const struct cfi_row *cfi_table__lookup(const struct cfi_table *t, __u64 vaddr)
{
	size_t lo = 0, hi = t->n_rows;
	__u64 rel;

	if (vaddr < t->origin || vaddr - t->origin > MAX_SPAN)
		return NULL;
	rel = vaddr - t->origin;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || t->rows[lo - 1].type == CFI_ROW_NONE)
		return NULL;
	return &t->rows[lo - 1];
}

struct cfi_table *cfi_table__adopt_rows(struct cfi_row *rows, size_t n, __u64 origin,
					const struct cfi_table_stats *stats)
{
	struct cfi_table *t;

	if (!rows || !stats || !n || n > CFI_MAX_ROWS) {
		free(rows);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		free(rows);
		errno = ENOMEM;
		return NULL;
	}
	t->rows = rows;
	t->n_rows = n;
	t->origin = origin;
	t->stats = *stats;
	/* counted from the rows themselves, whatever the copy said */
	memset(t->stats.rows_by_type, 0, sizeof(t->stats.rows_by_type));
	t->stats.rows = n;
	for (size_t i = 0; i < n; i++) {
		const struct cfi_row *r = &t->rows[i];

		if (r->type >= CFI_ROW_NR_TYPES || (i ? r->pc <= r[-1].pc : r->pc != 0)) {
			cfi_table__free(t);
			errno = EINVAL;
			return NULL;
		}
		t->stats.rows_by_type[r->type]++;
	}
	return t;
}

struct cfi_table *cfi_table__from_rows(const void *rows, size_t n, __u64 origin,
				       const struct cfi_table_stats *stats)
{
	struct cfi_row *copy;

	if (!rows || !stats || !n || n > CFI_MAX_ROWS) {
		errno = EINVAL;
		return NULL;
	}
	copy = malloc(n * sizeof(*copy));
	if (!copy) {
		errno = ENOMEM;
		return NULL;
	}
	/* copied first: rows may sit at any alignment */
	memcpy(copy, rows, n * sizeof(*copy));
	return cfi_table__adopt_rows(copy, n, origin, stats);
}
