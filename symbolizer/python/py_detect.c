// SPDX-License-Identifier: Apache-2.0
#include "py_detect.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs.h"
#include "py_cold.h"

enum wanted_symbol {
	SYM_RUNTIME,
	SYM_VERSION,
	SYM_EVAL,
	SYM_CODE_TYPE,
	SYM_UNICODE_TYPE,
	SYM_BYTES_TYPE,
	NR_SYMS,
};

static const char *const symbol_names[NR_SYMS] = {
	[SYM_RUNTIME] = "_PyRuntime",
	[SYM_VERSION] = "Py_Version",
	[SYM_EVAL] = "_PyEval_EvalFrameDefault",
	[SYM_CODE_TYPE] = "PyCode_Type",
	[SYM_UNICODE_TYPE] = "PyUnicode_Type",
	[SYM_BYTES_TYPE] = "PyBytes_Type",
};

struct found_symbol {
	__u64 value;
	__u64 size;
	bool found;
};

struct load_segment {
	__u64 offset;
	__u64 filesz;
	__u64 vaddr;
};

/* Segments kept per file to place it in a process; CPython's have four. */
#define MAX_LOAD_SEGMENTS 16

/*
 * What one file says, whichever process maps it: its symbols, its load
 * segments, and once a process has shown it, its version and layout (both
 * constants of the file: Py_Version is read-only data, 3.13's debug
 * offsets are initialised data). A file is the same if its (dev, inode),
 * size and modification time are.
 */
struct py_file {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	__u64 last_used;
	int result; /* 0, or why the file is not a usable CPython: -ENOENT, -ENOEXEC, -ENOTSUP */
	struct found_symbol syms[NR_SYMS];
	struct load_segment loads[MAX_LOAD_SEGMENTS];
	size_t n_loads;
	/* _PyEval_EvalFrameDefault's cold part (ELF addresses); 0, 0 if none was found */
	__u64 eval_cold_start, eval_cold_end;
	bool identified; /* hexversion and layout are known */
	__u32 hexversion;
	struct py_layout layout;
};

struct py_detect {
	struct py_file *files;
	size_t n_files;
	size_t max_files;
	__u64 clock;
	struct py_detect_stats stats;
};

/* "3.N" after prefix at the start of name; the minor version, or -1. */
static int minor_after(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long minor;

	if (strncmp(name, prefix, n) != 0 || strncmp(name + n, "3.", 2) != 0)
		return -1;
	errno = 0;
	minor = strtol(name + n + 2, &end, 10);
	if (errno || end == name + n + 2 || minor < 0 || minor > 99)
		return -1;
	return (int)minor;
}

/* The minor version a file name says (python3.11, libpython3.11.so.1.0), or -1. */
static int name_minor(const char *path)
{
	const char *base = strrchr(path, '/');
	int minor;

	base = base ? base + 1 : path;
	minor = minor_after(base, "python");
	return minor >= 0 ? minor : minor_after(base, "libpython");
}

#define LIB_PREFIX "libpython3"
#define EXE_PREFIX "python3"

bool py_detect__candidate_start(const char *start)
{
	return start && (strncmp(start, LIB_PREFIX, strlen(LIB_PREFIX)) == 0 ||
			 strncmp(start, EXE_PREFIX, strlen(EXE_PREFIX)) == 0);
}

bool py_detect__candidate_name(const char *path)
{
	const char *base;

	if (!path)
		return false;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, LIB_PREFIX, strlen(LIB_PREFIX)) == 0)
		return strstr(base, ".so") != NULL;
	if (strncmp(base, EXE_PREFIX, strlen(EXE_PREFIX)) != 0)
		return false;
	/* python3, python3.11, python3.11d; not python3-config or python3.11-gdb.py */
	for (const char *p = base + strlen(EXE_PREFIX); *p; p++)
		if (*p != '.' && *p != 'd' && (*p < '0' || *p > '9'))
			return false;
	return true;
}

static void scan_symbols(Elf *elf, struct found_symbol *syms)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || (name[0] != '_' && name[0] != 'P'))
				continue;
			for (int k = 0; k < NR_SYMS; k++) {
				if (syms[k].found || strcmp(name, symbol_names[k]) != 0)
					continue;
				syms[k] = (struct found_symbol){ sym.st_value, sym.st_size, true };
			}
		}
	}
}

static int read_load_segments(Elf *elf, struct py_file *f)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	f->n_loads = 0;
	for (size_t i = 0; i < n && f->n_loads < MAX_LOAD_SEGMENTS; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		f->loads[f->n_loads++] =
			(struct load_segment){ ph.p_offset, ph.p_filesz, ph.p_vaddr };
	}
	return 0;
}

/* Runtime address - ELF vaddr for the file mapped at e; -ENOENT if no segment holds it. */
static int load_bias(const struct py_file *f, const struct procmaps_entry *e, __u64 *bias)
{
	for (size_t i = 0; i < f->n_loads; i++) {
		const struct load_segment *l = &f->loads[i];

		if (e->offset < l->offset || e->offset >= l->offset + l->filesz)
			continue;
		*bias = e->start - (l->vaddr + (e->offset - l->offset));
		return 0;
	}
	return -ENOENT;
}

/* The version and the layout, once the symbols are known. */
static int identify(int dirfd, const char *path, const struct found_symbol *syms, __u64 bias,
		    struct py_process *out)
{
	unsigned char debug[PY_DEBUG_OFFSETS_SIZE];
	const struct py_layout *table;
	__u64 version = 0;
	int err, minor;

	if (syms[SYM_VERSION].found) {
		err = procfs__read_mem(dirfd, bias + syms[SYM_VERSION].value, &version,
				       sizeof(version));
		if (err)
			return err;
	} else {
		/* 3.10 and before have no Py_Version; nor a layout here. */
		minor = name_minor(path);
		if (minor < 0)
			return -ENOTSUP;
		version = 0x03000000u | (__u32)minor << 16;
	}
	if ((version >> 24) != 3 || version > 0xffffffffu)
		return -ENOTSUP;
	out->hexversion = (__u32)version;
	table = py_layout__for_version(out->hexversion);
	if (table) {
		out->layout = *table;
		return 0;
	}
	if ((out->hexversion >> 16) != 0x030d)
		return -ENOTSUP;
	err = procfs__read_mem(dirfd, out->runtime, debug, sizeof(debug));
	if (err)
		return err;
	return py_layout__from_debug_offsets(debug, sizeof(debug), &out->layout) ? -ENOTSUP : 0;
}

/* The symbols and load segments of the file open at fd; f->result: whether it is CPython. */
static void scan_file(int fd, struct py_file *f)
{
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);

	if (!elf) {
		/* not known to be the file's: the entry must not be found again */
		f->ino = 0;
		f->result = -ENOEXEC;
		goto cleanup;
	}
	if (elf_kind(elf) != ELF_K_ELF) {
		f->result = -ENOEXEC;
		goto cleanup;
	}
	scan_symbols(elf, f->syms);
	if (!f->syms[SYM_RUNTIME].found || !f->syms[SYM_EVAL].found || !f->syms[SYM_EVAL].size) {
		f->result = -ENOENT;
		goto cleanup;
	}
	f->result = read_load_segments(elf, f);
	if (py_cold__find(elf, f->syms[SYM_EVAL].value, f->syms[SYM_EVAL].size,
			  &f->eval_cold_start, &f->eval_cold_end))
		f->eval_cold_start = f->eval_cold_end = 0;
cleanup:
	elf_end(elf);
}

static bool same_file(const struct py_file *f, const struct stat *st)
{
	return f->ino && f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/*
 * The cache's entry for the file open at fd, whose stat is st, scanned if
 * it was not there; the least recently used entry makes room. scratch
 * stands in without a cache.
 */
static struct py_file *file_facts(struct py_detect *d, int fd, const struct stat *st,
				  struct py_file *scratch)
{
	struct py_file *f = scratch, *oldest = NULL;

	if (d) {
		d->clock++;
		for (size_t i = 0; i < d->n_files; i++) {
			f = &d->files[i];
			if (same_file(f, st)) {
				f->last_used = d->clock;
				d->stats.file_hits++;
				return f;
			}
			if (!oldest || f->last_used < oldest->last_used)
				oldest = f;
		}
		f = d->n_files < d->max_files ? &d->files[d->n_files++] : oldest;
		if (f == oldest)
			d->stats.files_evicted++;
		d->stats.files_scanned++;
	}
	memset(f, 0, sizeof(*f));
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->last_used = d ? d->clock : 0;
	scan_file(fd, f);
	return f;
}

static int probe_file(struct py_detect *d, int dirfd, const struct procmaps_entry *e,
		      struct py_process *out)
{
	struct py_file scratch, *f;
	struct stat st;
	__u64 bias = 0;
	int fd, err;

	fd = procfs__open_mapped(dirfd, e->start, e->end, e->path, e->inode, &st);
	if (fd < 0)
		return fd == -ENOENT ? -ESRCH : fd;
	f = file_facts(d, fd, &st, &scratch);
	close(fd);
	if (f->result)
		return f->result;
	err = load_bias(f, e, &bias);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->runtime = bias + f->syms[SYM_RUNTIME].value;
	out->eval_start = bias + f->syms[SYM_EVAL].value;
	out->eval_end = out->eval_start + f->syms[SYM_EVAL].size;
	if (f->eval_cold_end) {
		out->eval_cold_start = bias + f->eval_cold_start;
		out->eval_cold_end = bias + f->eval_cold_end;
	}
	if (f->syms[SYM_CODE_TYPE].found)
		out->code_type = bias + f->syms[SYM_CODE_TYPE].value;
	if (f->syms[SYM_UNICODE_TYPE].found)
		out->unicode_type = bias + f->syms[SYM_UNICODE_TYPE].value;
	if (f->syms[SYM_BYTES_TYPE].found)
		out->bytes_type = bias + f->syms[SYM_BYTES_TYPE].value;
	out->dev = makedev(e->dev_major, e->dev_minor);
	out->inode = e->inode;
	out->shared_library = strstr(e->path, "libpython") != NULL;
	if (f->identified) {
		out->hexversion = f->hexversion;
		out->layout = f->layout;
		return 0;
	}
	err = identify(dirfd, e->path, f->syms, bias, out);
	if (!err) {
		f->identified = true;
		f->hexversion = out->hexversion;
		f->layout = out->layout;
	} else if (err == -ENOTSUP) {
		f->result = err;
	}
	return err;
}

struct py_detect *py_detect__new(size_t max_files)
{
	struct py_detect *d = calloc(1, sizeof(*d));

	if (!d)
		goto fail;
	d->max_files = max_files ? max_files : 1;
	d->files = calloc(d->max_files, sizeof(*d->files));
	if (!d->files)
		goto fail;
	return d;
fail:
	py_detect__free(d);
	errno = ENOMEM;
	return NULL;
}

void py_detect__free(struct py_detect *d)
{
	if (!d)
		return;
	free(d->files);
	free(d);
}

void py_detect__stats(const struct py_detect *d, struct py_detect_stats *out)
{
	*out = d ? d->stats : (struct py_detect_stats){ 0 };
}

int py_detect__process(struct py_detect *d, const char *proc_root, __u32 pid,
		       __u64 start_ticks, struct py_process *out)
{
	struct procmaps *maps = NULL;
	__u64 tried_ino = 0, tried_dev = 0;
	int dirfd, err, result = -ENOENT;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	if (!proc_root)
		proc_root = "/proc";
	dirfd = start_ticks ? procfs__open_same(proc_root, pid, start_ticks)
			    : procfs__open(proc_root, pid);
	if (dirfd < 0)
		return dirfd == -ENOENT ? -ESRCH : dirfd;
	maps = procfs__read_maps(dirfd, 0);
	if (!maps) {
		err = errno == ENOENT ? -ESRCH : -errno;
		close(dirfd);
		return err;
	}
	for (size_t i = 0; i < procmaps__count(maps); i++) {
		const struct procmaps_entry *e = procmaps__entry(maps, i);
		__u64 dev = makedev(e->dev_major, e->dev_minor);

		if (e->pseudo || !e->inode || !py_detect__candidate_name(e->path))
			continue;
		/* A file is mapped several times (text, data): its first mapping is enough. */
		if (e->inode == tried_ino && dev == tried_dev)
			continue;
		tried_ino = e->inode;
		tried_dev = dev;
		err = probe_file(d, dirfd, e, out);
		if (!err) {
			result = 0;
			break;
		}
		/* A python3 executable without _PyRuntime embeds libpython: keep looking. */
		if (err != -ENOENT && err != -ENOEXEC && err != -ESTALE)
			result = err;
	}
	procmaps__free(maps);
	close(dirfd);
	return result;
}
