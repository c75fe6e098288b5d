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

/* Runtime address - ELF vaddr for the file mapped at e; -ENOENT if no segment holds it. */
static int load_bias(Elf *elf, const struct procmaps_entry *e, __u64 *bias)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (e->offset < ph.p_offset || e->offset >= ph.p_offset + ph.p_filesz)
			continue;
		*bias = e->start - (ph.p_vaddr + (e->offset - ph.p_offset));
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

static int probe_file(int dirfd, const struct procmaps_entry *e, struct py_process *out)
{
	struct found_symbol syms[NR_SYMS] = { 0 };
	Elf *elf = NULL;
	__u64 bias = 0;
	int fd, err;

	fd = procfs__open_mapped(dirfd, e->start, e->end, e->path, e->inode);
	if (fd < 0)
		return fd == -ENOENT ? -ESRCH : fd;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto cleanup;
	}
	scan_symbols(elf, syms);
	if (!syms[SYM_RUNTIME].found || !syms[SYM_EVAL].found || !syms[SYM_EVAL].size) {
		err = -ENOENT;
		goto cleanup;
	}
	err = load_bias(elf, e, &bias);
	if (err)
		goto cleanup;
	memset(out, 0, sizeof(*out));
	out->runtime = bias + syms[SYM_RUNTIME].value;
	out->eval_start = bias + syms[SYM_EVAL].value;
	out->eval_end = out->eval_start + syms[SYM_EVAL].size;
	if (syms[SYM_CODE_TYPE].found)
		out->code_type = bias + syms[SYM_CODE_TYPE].value;
	if (syms[SYM_UNICODE_TYPE].found)
		out->unicode_type = bias + syms[SYM_UNICODE_TYPE].value;
	if (syms[SYM_BYTES_TYPE].found)
		out->bytes_type = bias + syms[SYM_BYTES_TYPE].value;
	out->dev = makedev(e->dev_major, e->dev_minor);
	out->inode = e->inode;
	out->shared_library = strstr(e->path, "libpython") != NULL;
	err = identify(dirfd, e->path, syms, bias, out);

cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

int py_detect__process(const char *proc_root, __u32 pid, __u64 start_ticks,
		       struct py_process *out)
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
		err = probe_file(dirfd, e, out);
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
