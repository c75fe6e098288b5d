/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unwind tables kept on disk (--unwind-cache), so a restarted agent loads
 * the tables of files it has seen instead of building them again (building
 * is most of its CPU in the first seconds).
 *
 * An entry holds the rows and what the build read of its file
 * (cfi_table__inputs()); it is used only for a file whose inputs are the
 * same, byte for byte, so a file made to look like another (its build-id
 * copied) never gets the other's rows. The directory must be the agent's
 * own (owned by it, writable by no one else); entries are opened inside it
 * without following links, size-checked and checksummed. Beyond max_bytes
 * the least recently used entries are deleted, the debug-file copies that
 * elf_inflate keeps in the same directory ("*.dbg") among them (counted at
 * start and at each eviction).
 *
 * Once an entry was read or built for a file, a small alias records the
 * file's identity (device, inode, size, mtime and ctime: its contents do not
 * change without changing the ctime, which no one can set), so the next
 * agent finds the rows of that same file without reading its inputs again.
 * An alias can only lead a file to rows made from bytes that file had; the
 * byte-for-byte check still decides between different files.
 *
 * Thread-safe: the builder threads use it at once.
 */
#ifndef FORNAX_UNWIND_TABLE_CACHE_H
#define FORNAX_UNWIND_TABLE_CACHE_H

#include <linux/types.h>
#include <stddef.h>
#include <sys/stat.h>

#include "cfi_table.h"

struct table_cache;

struct table_cache_stats {
	__u64 hits;        /* tables read instead of built */
	__u64 by_identity; /* ... of them found by the file's identity, inputs not read */
	__u64 misses;      /* no entry, or one for other inputs */
	__u64 stale;       /* written by another build of the agent or libdw (deleted) */
	__u64 stored;
	__u64 bad;         /* unreadable, corrupt or inconsistent entries (deleted) */
	__u64 store_errors;
	__u64 evicted;     /* deleted to stay within max_bytes */
	__u64 bytes;       /* on disk now, as counted */
};

/*
 * Opens (creating it, mode 0700) the cache in dir. NULL with errno set:
 * EPERM when dir is not owned by this user or others may write to it.
 */
struct table_cache *table_cache__new(const char *dir, __u64 max_bytes);
void table_cache__free(struct table_cache *c);

/*
 * The table kept for the file that fstat() described as file, if an
 * earlier load or store was given that same file; NULL otherwise (not
 * counted as a miss: table_cache__load() with its inputs comes next).
 */
struct cfi_table *table_cache__load_file(struct table_cache *c, const struct stat *file);

/*
 * The table kept for these inputs, or NULL (a miss, or a bad entry:
 * counted). file (optional) is the fstat() of the file the inputs were read
 * from, taken before they were: on a hit it is remembered.
 */
struct cfi_table *table_cache__load(struct table_cache *c, const struct stat *file,
				    const void *inputs, size_t len);

/* Keeps t for these inputs (and file, as above). 0 or -errno (counted). */
int table_cache__store(struct table_cache *c, const struct stat *file, const void *inputs,
		       size_t len, const struct cfi_table *t);

void table_cache__stats(struct table_cache *c, struct table_cache_stats *out);

#endif /* FORNAX_UNWIND_TABLE_CACHE_H */
