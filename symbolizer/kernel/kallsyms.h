/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel symbols from /proc/kallsyms, kept compact: one name arena and
 * parallel sorted arrays (u64 address, u32 name offset, u16 module index),
 * about 35 bytes per text symbol. "__pfx_X" padding symbols are folded into
 * X (one bit each) instead of being stored. Module address ranges come from
 * /proc/modules when it is readable, else from the modules' symbols.
 */
#ifndef FORNAX_SYMBOLIZER_KALLSYMS_H
#define FORNAX_SYMBOLIZER_KALLSYMS_H

#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

struct kallsyms;

struct kallsyms_module {
	const char *name; /* without brackets: "ext4", "bpf" */
	__u64 start;
	__u64 end; /* exclusive */
};

struct kallsyms_sym {
	const char *name; /* owned by the kallsyms */
	__u64 addr;       /* symbol start */
	__u32 index;      /* 0..kallsyms__count()-1, stable while loaded */
	int module;       /* index for kallsyms__module(), -1 for the core kernel */
};

/*
 * modules_path may be NULL or name a missing file. NULL with errno set:
 * EPERM if every address reads as zero (kptr_restrict, no CAP_SYSLOG),
 * ENODATA if there is no text symbol, ENOMEM, or the open error.
 */
struct kallsyms *kallsyms__load(const char *kallsyms_path, const char *modules_path);
/* Same from open streams; modules may be NULL. */
struct kallsyms *kallsyms__parse(FILE *kallsyms, FILE *modules);
void kallsyms__free(struct kallsyms *ks);

/* 0, or -ENOENT if addr is in no symbol's text. */
int kallsyms__lookup(const struct kallsyms *ks, __u64 addr, struct kallsyms_sym *out);

size_t kallsyms__count(const struct kallsyms *ks);
size_t kallsyms__module_count(const struct kallsyms *ks);
const struct kallsyms_module *kallsyms__module(const struct kallsyms *ks, size_t i);
/* Lowest and highest+1 core kernel text address (_stext.._etext or wider). */
void kallsyms__core_range(const struct kallsyms *ks, __u64 *start, __u64 *end);
/* Heap bytes held. */
size_t kallsyms__memory(const struct kallsyms *ks);

/*
 * The GNU build-id note in a file of ELF notes such as /sys/kernel/notes,
 * as a malloc'd lower-case hex string in *hex. 0, -ENOENT if there is no
 * such note, -ENOMEM, or the read error.
 */
int kallsyms__read_build_id(const char *notes_path, char **hex);

#endif /* FORNAX_SYMBOLIZER_KALLSYMS_H */
