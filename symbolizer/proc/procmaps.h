/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID/maps parser. Lines look like
 *   start-end perms offset major:minor inode [path]
 * The path may hold spaces, ends in " (deleted)" once the file is unlinked,
 * is a pseudo name such as "[vdso]" or "[anon:x]", or is absent for
 * anonymous memory; the kernel escapes '\n' in it as "\012". Lines that do
 * not parse are skipped and counted, never fatal: maps is read while the
 * process runs and its last line may be cut short.
 */
#ifndef FORNAX_SYMBOLIZER_PROCMAPS_H
#define FORNAX_SYMBOLIZER_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

struct procmaps;

enum procmaps_perm {
	PROCMAPS_READ = 1 << 0,
	PROCMAPS_WRITE = 1 << 1,
	PROCMAPS_EXEC = 1 << 2,
	PROCMAPS_SHARED = 1 << 3, /* 's'; 'p' (private) otherwise */
};

/* Flags for the parse functions. */
enum procmaps_flags {
	PROCMAPS_EXEC_ONLY = 1 << 0, /* keep only mappings with PROCMAPS_EXEC */
};

struct procmaps_entry {
	__u64 start;
	__u64 end; /* exclusive */
	__u64 offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 perms;  /* enum procmaps_perm */
	bool deleted; /* path had " (deleted)", which is stripped */
	bool pseudo;  /* "[name]" with inode 0: [vdso], [heap], [stack], [anon:x] */
	const char *path; /* NULL for anonymous memory; owned by the procmaps */
};

/* NULL with errno set (ENOMEM, or the read error). Skipped lines are not errors. */
struct procmaps *procmaps__parse_file(FILE *f, unsigned flags);
struct procmaps *procmaps__parse_buf(const char *buf, size_t len, unsigned flags);
void procmaps__free(struct procmaps *maps);

size_t procmaps__count(const struct procmaps *maps);
/* Entries are sorted by start address. */
const struct procmaps_entry *procmaps__entry(const struct procmaps *maps, size_t i);
/* The entry containing addr, or NULL. */
const struct procmaps_entry *procmaps__find(const struct procmaps *maps, __u64 addr);
/* Lines that did not parse. */
size_t procmaps__skipped(const struct procmaps *maps);

#endif /* FORNAX_SYMBOLIZER_PROCMAPS_H */
