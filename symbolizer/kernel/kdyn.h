/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel text that comes and goes after /proc/kallsyms was read: BPF
 * programs, trampolines and dispatchers, as PERF_RECORD_KSYMBOL reports
 * them. A sorted array of non-overlapping [start, end) ranges, bounded.
 *
 * A range that goes keeps its name for a grace period of cycles, so the
 * samples drained just after it went are still named; one that comes
 * replaces what it overlaps at once, so a reused address never carries a
 * gone program's name. A range that goes which the kallsyms table names
 * leaves a mask, so that table's stale name is not used for it either.
 */
#ifndef FORNAX_SYMBOLIZER_KDYN_H
#define FORNAX_SYMBOLIZER_KDYN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct kdyn;

struct kdyn_sym {
	__u64 start;
	__u64 end;  /* exclusive */
	char *name; /* NULL: a mask over a gone symbol of the kallsyms table */
	__u32 id;   /* unique among the symbols held (frames are keyed by it) */
	bool gone;
	__u64 gone_cycle;
};

/* max_syms: 0 for the default (65536). NULL with errno set. */
struct kdyn *kdyn__new(size_t max_syms);
void kdyn__free(struct kdyn *d);

/*
 * Adds [addr, addr + len) named name, replacing what it overlaps. 0,
 * -EINVAL (empty or wrapping range, no name), -ENOSPC (full), -ENOMEM.
 */
int kdyn__add(struct kdyn *d, __u64 addr, __u64 len, const char *name);
/*
 * [addr, addr + len) went. Its names stay for the grace period; with
 * mask_base and no name of its own here, a mask hides the kallsyms table's
 * name there after the grace period. 0, -ENOENT (nothing to remove), -ENOSPC, -ENOMEM.
 */
int kdyn__remove(struct kdyn *d, __u64 addr, __u64 len, bool mask_base);

/*
 * The range holding addr, NULL if none. A mask in its grace period is not
 * returned (the kallsyms table still names the address).
 */
const struct kdyn_sym *kdyn__lookup(const struct kdyn *d, __u64 addr);

/*
 * Ends a cycle: drops ranges gone for the grace period and frees names
 * replaced during it. Names handed out before stay valid until this call.
 */
void kdyn__end_cycle(struct kdyn *d);

/* Drops every mask: the kallsyms table they hid names in was read again. */
void kdyn__drop_masks(struct kdyn *d);

/* Ranges held now, masks included. */
size_t kdyn__count(const struct kdyn *d);

#endif /* FORNAX_SYMBOLIZER_KDYN_H */
