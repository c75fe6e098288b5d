/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The upload path: finished windows go from the drain loop to a remote
 * store without the drain loop ever waiting on the network.
 *
 * uploader__submit() (drain loop) splits the window per process, packs it
 * (series.h) and appends it to a bounded in-memory queue. One upload thread
 * sends the queue to the store, one request at a time, through a curl multi
 * handle, so it keeps moving windows while a request hangs:
 *
 *  - delivered windows are forgotten; a window the store rejects (400,
 *    INVALID_ARGUMENT, 401/403) is dropped, logged with the server's message
 *    and counted;
 *  - anything else (refused, reset, timeout, 429/5xx, UNAVAILABLE, garbage)
 *    is retried with exponential backoff and jitter;
 *  - with --spool-dir, windows beyond the queue, and every window while the
 *    store is failing, go to the spool (spool.h), replayed oldest first when
 *    the store answers again, also by the next run of the agent; without a
 *    spool, the oldest queued windows are dropped beyond the queue.
 *
 * Every window has one fate, counted in uploader_stats and logged at -v as
 * "upload: window <time_nanos> <fate>".
 */
#ifndef FORNAX_UPLOAD_H
#define FORNAX_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "pprof.h"
#include "series.h"
#include "store.h"

struct uploader;

struct uploader_opts {
	struct store_opts store;      /* required */
	const struct series_label *labels; /* --label pairs; hostname is added */
	size_t n_labels;
	const char *service_name;     /* NULL: per process */
	const char *spool_dir;        /* NULL: no spool */
	__u64 spool_max_bytes;        /* required with spool_dir */
	unsigned queue_windows;       /* in-memory queue; required */
	__u64 max_backoff_ns;         /* retry at least this often; required */
	const char *proc_root;        /* NULL: "/proc" */
};

/* Why windows were dropped; each dropped window counts once. */
enum upload_drop {
	DROP_REJECTED,   /* the store said the window is invalid */
	DROP_AUTH,       /* the store refused our credentials */
	DROP_SPOOL_FULL, /* evicted, oldest first, to stay under --spool-max-bytes */
	DROP_DISK_FULL,  /* evicted, oldest first, when the spool's file system was full (or
			  * over quota); or a window even an emptied spool could not hold */
	DROP_QUEUE_FULL, /* no spool and the queue overflowed */
	DROP_SPOOL_ERROR,/* could not be written to the spool, and the queue was full */
	DROP_CORRUPT,    /* a spool file that failed its checks */
	DROP_SHUTDOWN,   /* still queued at exit, with nowhere to keep it */
	DROP_ENCODE,     /* could not be packed or encoded (out of memory) */
	NR_UPLOAD_DROPS,
};

struct uploader_stats {
	__u64 produced;       /* windows submitted by this run */
	__u64 empty;          /* of those, windows without samples: nothing to send */
	__u64 delivered;      /* windows the store accepted */
	__u64 replayed;       /* of those, read back from the spool */
	__u64 spooled;        /* windows written to the spool */
	__u64 found_in_spool; /* windows an earlier run left in the spool */
	__u64 dropped[NR_UPLOAD_DROPS];
	__u64 attempts;       /* requests made */
	__u64 retries;        /* requests that failed and were retried */
	__u64 bytes_sent;     /* request bodies of delivered windows */
	__u64 queued;         /* in memory now */
	__u64 in_spool;       /* in the spool now */
};

const char *upload_drop_name(enum upload_drop why);

/*
 * Opens the spool (replaying what is there), connects nothing yet, and
 * starts the upload thread. NULL with errno set; the reason is logged.
 */
struct uploader *uploader__new(const struct uploader_opts *opts);

/*
 * Hands a finished window to the uploader: packs it here (CPU only, no
 * I/O but reading /proc/PID/exe) and queues it. Returns 0 or -errno; a
 * window that cannot be packed is counted as dropped.
 */
int uploader__submit(struct uploader *u, const struct pprof *window);

/*
 * Stops the thread: queued windows are sent for at most timeout_ns, what
 * is left goes to the spool (or is dropped, counted), and the thread exits.
 */
void uploader__stop(struct uploader *u, __u64 timeout_ns);

void uploader__stats(struct uploader *u, struct uploader_stats *out);
/*
 * Registers the books above as fornax_upload_* families, read under the
 * uploader's lock at scrape time. 0 or -errno; u must outlive m's scrapes.
 */
struct metrics;
int uploader__add_metrics(struct uploader *u, struct metrics *m);

/* Logs the books in one line of key=value pairs ("upload summary: produced=..."). */
void uploader__log_stats(struct uploader *u);

/* Stops (with the store's timeout) if needed and frees. */
void uploader__free(struct uploader *u);

#endif /* FORNAX_UPLOAD_H */
