// SPDX-License-Identifier: Apache-2.0
/*
 * Names for procedure linkage table stubs. No symbol covers .plt, .plt.sec
 * or .plt.got, yet the dynamic loader's lazy binding and every call into an
 * ifunc'd libc function (strlen, memcpy...) runs there. perf names each
 * stub after the function it jumps to ("strlen@plt"); so does this.
 *
 * Each x86-64 stub is an indirect jump through a GOT slot (optionally after
 * endbr64, optionally with a bnd prefix). The slot's address is decoded from
 * the instruction and matched to the relocation that fills it, so the names
 * do not depend on the linker's stub order or on IBT's split of .plt.
 *
 * The slots the stubs use are decoded first; only relocations of those
 * slots are kept. .rela.dyn can be large (chromium's: 26 MB of mostly
 * R_X86_64_RELATIVE), so it is read in blocks from the file and filtered by
 * address, never held whole.
 */
#include "elf_file_impl.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "fileio.h"

/* Relocations read from the file at a time. */
#define RELA_BLOCK 2730 /* x 24 bytes: 64 KiB */

/* The GOT slots the dynamic relocations fill, sorted by address. */
struct got_slot {
	__u64 offset; /* r_offset: the slot's vaddr */
	__u32 type;
	__u32 sym;    /* dynsym index; 0 for IRELATIVE */
	__u64 addend;
};

struct plt_scan {
	Elf *elf;
	int fd;        /* the file, for reading relocations in blocks; -1: through libelf */
	__u64 file_size;
	__u64 *wanted; /* the slots the stubs jump through, sorted, unique */
	size_t n_wanted, wanted_cap;
	struct got_slot *slots;
	size_t n_slots, cap;
	Elf_Scn *dynsym;
	GElf_Word dynstr;
};

static int plt_cmp(const void *a, const void *b)
{
	const struct plt_ent *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct got_slot *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int u64_cmp(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static bool is_wanted(const struct plt_scan *s, __u64 offset)
{
	if (!s->n_wanted || offset < s->wanted[0] || offset > s->wanted[s->n_wanted - 1])
		return false;
	return bsearch(&offset, s->wanted, s->n_wanted, sizeof(offset), u64_cmp) != NULL;
}

/* Keeps one relocation if it fills a slot a stub jumps through. */
static int add_slot(struct plt_scan *s, const GElf_Shdr *sh, __u64 offset, __u64 info,
		    __u64 addend)
{
	__u32 type = (__u32)GELF_R_TYPE(info);

	if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
	     type != R_X86_64_IRELATIVE) || !is_wanted(s, offset))
		return 0;
	if (ARRAY_GROW(&s->slots, &s->cap, s->n_slots + 1))
		return -ENOMEM;
	s->slots[s->n_slots++] = (struct got_slot){
		.offset = offset, .type = type, .sym = (__u32)GELF_R_SYM(info), .addend = addend,
	};
	if (type != R_X86_64_IRELATIVE && !s->dynsym)
		s->dynsym = elf_getscn(s->elf, sh->sh_link);
	return 0;
}

/* Whether a SHT_RELA section can be read from the file as Elf64_Rela, in blocks. */
static bool rela_from_file(const struct plt_scan *s, const GElf_Shdr *sh)
{
	const unsigned char *ident = (const unsigned char *)elf_getident(s->elf, NULL);

	return s->fd >= 0 && ident && ident[EI_CLASS] == ELFCLASS64 &&
	       ident[EI_DATA] == ELFDATA2LSB && __BYTE_ORDER == __LITTLE_ENDIAN &&
	       sh->sh_entsize == sizeof(Elf64_Rela) && sh->sh_offset <= s->file_size &&
	       sh->sh_size <= s->file_size - sh->sh_offset;
}

/* Adds the relocations of a SHT_RELA section that fill the wanted slots. */
static int add_slots(struct plt_scan *s, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf64_Rela block[RELA_BLOCK];
	Elf_Data *data;
	size_t n;
	int err;

	if (rela_from_file(s, sh)) {
		n = (size_t)(sh->sh_size / sizeof(Elf64_Rela));
		for (size_t i = 0; i < n; i += RELA_BLOCK) {
			size_t k = n - i < RELA_BLOCK ? n - i : RELA_BLOCK;

			err = pread_all(s->fd, block, k * sizeof(*block),
					(off_t)(sh->sh_offset + i * sizeof(*block)));
			if (err)
				return err == -ENOMEM ? err : 0;
			for (size_t j = 0; j < k; j++) {
				err = add_slot(s, sh, block[j].r_offset, block[j].r_info,
					       (__u64)block[j].r_addend);
				if (err)
					return err;
			}
		}
		return 0;
	}
	data = elf_getdata(scn, NULL);
	n = data && sh->sh_entsize ? data->d_size / sh->sh_entsize : 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;

		if (!gelf_getrela(data, (int)i, &r))
			break;
		err = add_slot(s, sh, r.r_offset, r.r_info, (__u64)r.r_addend);
		if (err)
			return err;
	}
	return 0;
}

static const struct got_slot *find_slot(const struct plt_scan *s, __u64 offset)
{
	struct got_slot key = { .offset = offset };

	return s->n_slots ? bsearch(&key, s->slots, s->n_slots, sizeof(key), slot_cmp) : NULL;
}

/* The GOT slot a stub at vaddr jumps through, from its bytes; 0 if it is no such jump. */
static __u64 stub_slot(const unsigned char *p, size_t len, __u64 vaddr)
{
	size_t at = 0;
	__s32 disp;

	if (len >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
		at = 4; /* endbr64 */
	if (at < len && p[at] == 0xf2)
		at++; /* bnd */
	if (at + 6 > len || p[at] != 0xff || p[at + 1] != 0x25)
		return 0; /* not jmp *disp32(%rip): a lazy stub's push, or PLT0 */
	memcpy(&disp, p + at + 2, sizeof(disp));
	return vaddr + at + 6 + (__u64)(__s64)disp;
}

/* "name@plt" for what slot leads to, into buf. */
static void slot_name(struct elf_file *ef, const struct plt_scan *s, const struct got_slot *slot,
		      char *buf, size_t size)
{
	const char *name = NULL;
	GElf_Sym sym;

	if (slot->type == R_X86_64_IRELATIVE) {
		/* the addend is the ifunc's resolver, which carries the function's name */
		name = elf_file__symbol_at(ef, slot->addend + ef->bias);
	} else if (s->dynsym) {
		Elf_Data *syms = elf_getdata(s->dynsym, NULL);

		if (syms && gelf_getsym(syms, (int)slot->sym, &sym))
			name = elf_strptr(s->elf, s->dynstr, sym.st_name);
	}
	if (name && name[0])
		snprintf(buf, size, "%s@plt", name);
	else
		snprintf(buf, size, "*ABS*+0x%" PRIx64 "@plt", (uint64_t)slot->addend);
}

/* The stub sections' entry size: .plt.got's entries are 8 bytes, 16 with IBT; the others 16. */
static size_t stub_step(const GElf_Shdr *sh)
{
	return sh->sh_entsize >= 8 && sh->sh_entsize <= 16 ? sh->sh_entsize : 16;
}

/* One stub section: a name for each entry that jumps through a known slot. */
static int add_stubs(struct elf_file *ef, const struct plt_scan *s, Elf_Scn *scn,
		     const GElf_Shdr *sh, const char *section)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t step = stub_step(sh);
	bool lazy = strcmp(section, ".plt") == 0;
	char name[256];

	for (size_t off = 0; data && data->d_buf && off + step <= data->d_size; off += step) {
		__u64 vaddr = sh->sh_addr + off;
		const struct got_slot *slot =
			find_slot(s, stub_slot((const unsigned char *)data->d_buf + off, step, vaddr));
		const char *interned;

		/* PLT0 and IBT's lazy stubs push a slot number and enter the loader's resolver */
		if (slot)
			slot_name(ef, s, slot, name, sizeof(name));
		else if (lazy)
			snprintf(name, sizeof(name), "[plt]");
		else
			continue;
		interned = strtab__intern(&ef->plt_names, name);
		if (!interned || ARRAY_GROW(&ef->plt, &ef->plt_cap, ef->n_plt + 1))
			return -ENOMEM;
		ef->plt[ef->n_plt++] = (struct plt_ent){
			.addr = vaddr + ef->bias, .size = (__u32)step, .name = interned,
		};
	}
	return 0;
}

/* The next of .plt, .plt.sec and .plt.got after scn (NULL: from the start), its header and name. */
static Elf_Scn *next_stub_section(Elf *elf, size_t shstrndx, Elf_Scn *scn, GElf_Shdr *sh,
				  const char **name)
{
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS ||
		    !(sh->sh_flags & SHF_EXECINSTR))
			continue;
		*name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (*name && (!strcmp(*name, ".plt") || !strcmp(*name, ".plt.sec") ||
			      !strcmp(*name, ".plt.got")))
			return scn;
	}
	return NULL;
}

/* Adds the slots one stub section's entries jump through to s->wanted. */
static int want_slots(struct plt_scan *s, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t step = stub_step(sh);

	for (size_t off = 0; data && data->d_buf && off + step <= data->d_size; off += step) {
		__u64 slot = stub_slot((const unsigned char *)data->d_buf + off, step,
				       sh->sh_addr + off);

		if (!slot)
			continue;
		if (ARRAY_GROW(&s->wanted, &s->wanted_cap, s->n_wanted + 1))
			return -ENOMEM;
		s->wanted[s->n_wanted++] = slot;
	}
	return 0;
}

int elf_plt__load(struct elf_file *ef)
{
	struct plt_scan s = { .fd = -1 };
	Elf *own = ef->plt_fd >= 0 ? elf_begin(ef->plt_fd, ELF_C_READ, NULL) : NULL;
	const char *name = NULL;
	Elf_Scn *scn = NULL;
	Dwarf_Addr bias;
	struct stat st;
	GElf_Shdr sh;
	size_t shstrndx, n = 0;
	int err = 0;

	s.elf = own ? own : dwfl_module_getelf(ef->mod, &bias);
	if (!s.elf || elf_getshdrstrndx(s.elf, &shstrndx) != 0)
		goto cleanup;
	if (own && fstat(ef->plt_fd, &st) == 0 && S_ISREG(st.st_mode)) {
		s.fd = ef->plt_fd;
		s.file_size = (__u64)st.st_size;
	}
	while (!err && (scn = next_stub_section(s.elf, shstrndx, scn, &sh, &name)))
		err = want_slots(&s, scn, &sh);
	if (err || !s.n_wanted)
		goto cleanup;
	qsort(s.wanted, s.n_wanted, sizeof(*s.wanted), u64_cmp);
	for (size_t i = 0; i < s.n_wanted; i++)
		if (!n || s.wanted[n - 1] != s.wanted[i])
			s.wanted[n++] = s.wanted[i];
	s.n_wanted = n;
	while (!err && (scn = elf_nextscn(s.elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA)
			err = add_slots(&s, scn, &sh);
	if (err)
		goto cleanup;
	if (s.n_slots > 1)
		qsort(s.slots, s.n_slots, sizeof(s.slots[0]), slot_cmp);
	if (s.dynsym)
		s.dynstr = gelf_getshdr(s.dynsym, &sh) ? sh.sh_link : 0;
	while (!err && (scn = next_stub_section(s.elf, shstrndx, scn, &sh, &name)))
		err = add_stubs(ef, &s, scn, &sh, name);
	if (err)
		goto cleanup;
	if (ef->n_plt > 1)
		qsort(ef->plt, ef->n_plt, sizeof(ef->plt[0]), plt_cmp);

cleanup:
	free(s.wanted);
	free(s.slots);
	elf_end(own);
	if (ef->plt_fd >= 0)
		close(ef->plt_fd);
	ef->plt_fd = -1;
	return err;
}

const char *elf_plt__name(const struct elf_file *ef, __u64 addr)
{
	size_t lo = 0, hi = ef->n_plt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < ef->plt[mid].addr)
			hi = mid;
		else if (addr - ef->plt[mid].addr >= ef->plt[mid].size)
			lo = mid + 1;
		else
			return ef->plt[mid].name;
	}
	return NULL;
}
