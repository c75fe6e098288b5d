/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The spool: windows the store could not take yet, one file each in
 * --spool-dir, so they survive an outage and a restart of the agent.
 *
 * A file is written to a temporary name, fsync'ed, renamed into place, and
 * the directory fsync'ed: after a crash a window is either whole or absent
 * (a left-over temporary is removed at the next open). File names sort by
 * window start time, so the oldest is replayed first. The total size is
 * bounded by max_bytes, and by the file system: either way the oldest
 * windows are evicted first, so the newest survive. A lock file keeps two
 * agents from replaying one spool twice.
 *
 * File layout: "FNXSPOOL", version (u32 LE, 1), payload length (u32 LE),
 * CRC-32 of the payload (u32 LE), 4 reserved bytes, then the payload (a
 * fornax.upload.v1.Window). Not thread-safe: one thread owns a spool.
 */
#ifndef FORNAX_SPOOL_H
#define FORNAX_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct spool;

/*
 * Called for every window evicted: why is 0 to stay under max_bytes, or
 * ENOSPC / EDQUOT when the file system refused a newer window.
 */
typedef void (*spool_evict_fn)(void *ctx, __s64 time_nanos, size_t bytes, int why);

struct spool_opts {
	const char *dir;   /* created (mode 0700) if missing; its parent must exist */
	__u64 max_bytes;   /* required */
	spool_evict_fn on_evict;
	void *ctx;
};

/* What open found: leftovers of an earlier run. */
struct spool_open_stats {
	size_t windows;
	__u64 bytes;
	size_t temp_removed; /* half-written files of a crashed run */
	size_t ignored;      /* files that are not ours */
};

/*
 * Opens (creating if needed) and locks the directory and indexes what is
 * there. NULL with errno set: EBUSY when another process holds the lock,
 * EPERM when the directory belongs to another user or group or others may
 * write in it.
 */
struct spool *spool__open(const struct spool_opts *opts, struct spool_open_stats *stats);
void spool__close(struct spool *s);

size_t spool__count(const struct spool *s);
__u64 spool__bytes(const struct spool *s);

/*
 * Stores a window durably, evicting the oldest windows (never the pinned
 * one) until it fits under max_bytes and, when the file system is full or
 * over quota, until the file system takes it: each failed write evicts
 * twice as much as the one before, so the retries are few and end when
 * nothing is left to evict. Returns 0; -EFBIG if it cannot fit under
 * max_bytes (alone, or beside the pinned window); -ENOSPC or -EDQUOT if
 * the file system refuses it even with every other window evicted; or
 * another -errno from the file system. The window is not in the spool then.
 */
int spool__put(struct spool *s, __s64 time_nanos, const void *buf, size_t len);

/* The oldest window's time, or false if the spool is empty. */
bool spool__oldest(const struct spool *s, __s64 *time_nanos);

/*
 * Reads the oldest window into *buf (malloc'ed) and pins it: it is not
 * evicted until spool__unpin() or spool__remove_oldest(). Returns 0,
 * -ENOENT if empty, -EBADMSG if the file is damaged (it stays, unpinned:
 * remove it), or -errno.
 */
int spool__read_oldest(struct spool *s, void **buf, size_t *len, __s64 *time_nanos);
void spool__unpin(struct spool *s);
/* Deletes the oldest window (delivered, dropped, or damaged). 0 or -errno. */
int spool__remove_oldest(struct spool *s);

#endif /* FORNAX_SPOOL_H */
