// SPDX-License-Identifier: Apache-2.0
#include "upload.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>

#include "curl_api.h"
#include "log.h"
#include "retry.h"
#include "spool.h"
#include "upload_queue.h"
#include "timeconst.h"
#include "upload.pb-c.h"

/* How long the thread sleeps when nothing is due; wakeups come earlier for new windows. */
#define IDLE_POLL_MS 1000
/* After the spool refused a write (disk full, I/O error), when to try it again. */
#define SPOOL_RETRY_NS (1 * NSEC_PER_SEC)

static const char *const drop_names[NR_UPLOAD_DROPS] = {
	[DROP_REJECTED] = "rejected",
	[DROP_AUTH] = "auth",
	[DROP_SPOOL_FULL] = "spool_full",
	[DROP_DISK_FULL] = "disk_full",
	[DROP_QUEUE_FULL] = "queue_full",
	[DROP_SPOOL_ERROR] = "spool_error",
	[DROP_CORRUPT] = "corrupt",
	[DROP_SHUTDOWN] = "shutdown",
	[DROP_ENCODE] = "encode",
};

struct uploader {
	struct series_label *labels;
	char *hostname;
	struct series_opts series;
	struct store *store;
	struct spool *spool;
	CURLM *multi;
	unsigned queue_windows;
	__u64 store_timeout_ns;
	pthread_t thread;
	bool thread_started;
	bool thread_joined;

	pthread_mutex_t lock;
	/* Guarded by lock: the queue, the stop request, the books. */
	struct upload_queue queue;
	bool stopping;
	__u64 stop_deadline;
	struct uploader_stats stats;

	/* The upload thread's own. */
	struct uwin *inflight;
	CURL *inflight_handle;
	bool inflight_from_spool;
	struct retry retry;
	__u64 spool_retry_after;
	/* what the spool evicted for a full file system during one spool__put() */
	size_t disk_evicted;
	__u64 disk_evicted_bytes;
	int disk_evicted_why;
};

const char *upload_drop_name(enum upload_drop why)
{
	return why < NR_UPLOAD_DROPS ? drop_names[why] : "?";
}

static __u64 now_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Never logs: a slow stderr must not hold the lock the drain loop takes. */
static void count_drop_locked(struct uploader *u, enum upload_drop why)
{
	u->stats.dropped[why]++;
}

static void log_drop(enum upload_drop why, __s64 time_nanos)
{
	log_debug("upload: window %" PRId64 " dropped (%s)", (int64_t)time_nanos, drop_names[why]);
}

static void count_drop(struct uploader *u, enum upload_drop why, __s64 time_nanos)
{
	pthread_mutex_lock(&u->lock);
	count_drop_locked(u, why);
	pthread_mutex_unlock(&u->lock);
	log_drop(why, time_nanos);
}

/* The spool calls this for every window it evicts: over its limit, or for a full disk. */
static void on_spool_evict(void *ctx, __s64 time_nanos, size_t bytes, int why)
{
	struct uploader *u = ctx;
	static struct log_ratelimit rl;

	if (why) {
		/* one warning for all of them, once spool__put() returns (spool_put()) */
		count_drop(u, DROP_DISK_FULL, time_nanos);
		u->disk_evicted++;
		u->disk_evicted_bytes += bytes;
		u->disk_evicted_why = why;
		return;
	}
	count_drop(u, DROP_SPOOL_FULL, time_nanos);
	log_ratelimited(&rl, LOG_WARN,
			"spool full: dropped the oldest window (%" PRId64 ", %zu bytes) to make room "
			"(raise --spool-max-bytes to keep longer outages)",
			(int64_t)time_nanos, bytes);
}

/* Writes w to the spool; what a full disk cost is said once, not per evicted window. */
static int spool_put(struct uploader *u, const struct uwin *w)
{
	static struct log_ratelimit rl;
	int err;

	u->disk_evicted = 0;
	u->disk_evicted_bytes = 0;
	err = spool__put(u->spool, w->time_nanos, w->buf, w->len);
	if (u->disk_evicted)
		log_ratelimited(&rl, LOG_WARN,
				"spool: the file system of the spool is full (%s): dropped the oldest "
				"%zu window%s (%llu bytes) to make room for window %" PRId64 "%s",
				strerror(u->disk_evicted_why), u->disk_evicted,
				u->disk_evicted == 1 ? "" : "s",
				(unsigned long long)u->disk_evicted_bytes, (int64_t)w->time_nanos,
				err ? ", and it still did not fit" : "");
	return err;
}

static void store_answered(struct uploader *u, __u64 now)
{
	__u64 since = u->retry.failing_since;

	if (retry__answered(&u->retry))
		log_info("store: reachable again after %.1fs%s", (double)(now - since) / NSEC_PER_SEC,
			 u->spool && spool__count(u->spool) ? ", replaying the spool oldest first" : "");
}

/*
 * Writes the oldest queued window to the spool. Returns 0, 1 if the queue
 * is empty, or -errno (the window is back at the head of the queue).
 */
static int spool_one(struct uploader *u)
{
	static struct log_ratelimit rl;
	struct uwin *w;
	int err;

	pthread_mutex_lock(&u->lock);
	w = upload_queue__pop_head(&u->queue);
	pthread_mutex_unlock(&u->lock);
	if (!w)
		return 1;
	err = spool_put(u, w);
	if (err == -EFBIG || err == -ENOSPC || err == -EDQUOT) {
		if (err == -EFBIG)
			log_warn("spool: window %" PRId64 " (%zu bytes) does not fit in "
				 "--spool-max-bytes, dropped", (int64_t)w->time_nanos, w->len);
		else
			log_ratelimited(&rl, LOG_ERROR, "spool: window %" PRId64 " (%zu bytes) does "
					"not fit on the spool's file system even without the other "
					"windows (%s), dropped", (int64_t)w->time_nanos, w->len,
					strerror(-err));
		count_drop(u, err == -EFBIG ? DROP_SPOOL_FULL : DROP_DISK_FULL, w->time_nanos);
		uwin_free(w);
		return 0;
	}
	pthread_mutex_lock(&u->lock);
	if (err)
		upload_queue__push_head(&u->queue, w);
	else
		u->stats.spooled++;
	pthread_mutex_unlock(&u->lock);
	if (!err) {
		log_debug("upload: window %" PRId64 " spooled", (int64_t)w->time_nanos);
		uwin_free(w);
	}
	return err;
}

/*
 * Keeps memory bounded and windows safe: beyond the queue's size, and all of
 * them while the store is failing (or at a stop that will not send them),
 * windows go to the spool; without one, the oldest beyond the queue are
 * dropped.
 */
static void settle_queue(struct uploader *u, bool stopping, bool hard_stop, __u64 now)
{
	bool spool_ok = u->spool && now >= u->spool_retry_after;
	bool spool_all = u->retry.failing ||
			 (stopping && (hard_stop || (u->spool && spool__count(u->spool) > 0)));
	static struct log_ratelimit rl;

	for (;;) {
		enum settle_action action;
		size_t queued;
		int err;

		pthread_mutex_lock(&u->lock);
		queued = u->queue.n;
		pthread_mutex_unlock(&u->lock);
		action = upload_queue__settle(queued, u->queue_windows, spool_ok, spool_all);
		if (action == SETTLE_DONE)
			break;
		if (action == SETTLE_SPOOL) {
			err = spool_one(u);
			if (err < 0) {
				log_ratelimited(&rl, LOG_ERROR, "spool: writing a window: %s",
						strerror(-err));
				u->spool_retry_after = now + SPOOL_RETRY_NS;
				spool_ok = false;
			}
			continue;
		}
		{
			enum upload_drop why = u->spool ? DROP_SPOOL_ERROR : DROP_QUEUE_FULL;
			struct uwin *w;

			pthread_mutex_lock(&u->lock);
			w = upload_queue__pop_head(&u->queue);
			count_drop_locked(u, why);
			pthread_mutex_unlock(&u->lock);
			log_drop(why, w->time_nanos);
			uwin_free(w);
		}
		log_ratelimited(&rl, LOG_WARN,
				"upload queue full (%u windows): dropped the oldest window%s",
				u->queue_windows,
				u->spool ? " (the spool is failing)" : "; use --spool-dir to keep them");
	}
}

/* Puts the window of a failed or aborted attempt back where it came from. */
static void requeue_inflight(struct uploader *u)
{
	struct uwin *w = u->inflight;

	u->inflight = NULL;
	if (u->inflight_from_spool) {
		spool__unpin(u->spool);
		uwin_free(w);
		return;
	}
	pthread_mutex_lock(&u->lock);
	upload_queue__push_head(&u->queue, w);
	pthread_mutex_unlock(&u->lock);
}

static void finish_inflight(struct uploader *u)
{
	if (u->inflight_from_spool)
		spool__remove_oldest(u->spool);
	uwin_free(u->inflight);
	u->inflight = NULL;
}

static void handle_result(struct uploader *u, CURLcode code, __u64 now)
{
	static struct log_ratelimit rejected_rl;
	struct uwin *w = u->inflight;
	enum store_result r;
	char why[600];
	size_t bytes;
	bool first;

	r = store__finish(u->store, code, why, sizeof(why), &bytes);
	switch (r) {
	case STORE_OK:
		pthread_mutex_lock(&u->lock);
		first = u->stats.delivered++ == 0;
		u->stats.bytes_sent += bytes;
		if (u->inflight_from_spool)
			u->stats.replayed++;
		pthread_mutex_unlock(&u->lock);
		if (first)
			log_info("store: first window delivered to %s at %s", store__name(u->store),
				 store__base_url(u->store));
		log_debug("upload: window %" PRId64 " delivered (%zu bytes%s)", (int64_t)w->time_nanos,
			  bytes, u->inflight_from_spool ? ", from the spool" : "");
		finish_inflight(u);
		store_answered(u, now);
		break;
	case STORE_REJECTED:
	case STORE_AUTH:
		log_ratelimited(&rejected_rl, LOG_ERROR, "store %s window %" PRId64 ", dropped: %s",
				r == STORE_AUTH ? "refused our credentials for" : "rejected",
				(int64_t)w->time_nanos, why);
		count_drop(u, r == STORE_AUTH ? DROP_AUTH : DROP_REJECTED, w->time_nanos);
		finish_inflight(u);
		store_answered(u, now);
		break;
	case STORE_RETRY:
		pthread_mutex_lock(&u->lock);
		u->stats.retries++;
		pthread_mutex_unlock(&u->lock);
		switch (retry__failed(&u->retry, now)) {
		case RETRY_NOW_FAILING:
			log_warn("store: %s; retrying with backoff%s", why,
				 u->spool ? ", windows wait in the spool" : "");
			break;
		case RETRY_STILL_FAILING:
			log_warn("store still failing after %.0fs: %s",
				 (double)(now - u->retry.failing_since) / NSEC_PER_SEC, why);
			break;
		case RETRY_QUIET:
			break;
		}
		log_debug("upload: window %" PRId64 " retry (%s)", (int64_t)w->time_nanos, why);
		requeue_inflight(u);
		break;
	}
}

static void collect_done(struct uploader *u, __u64 now)
{
	CURLMsg *m;
	int left;

	while ((m = libcurl.multi_info_read(u->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURLcode code = m->data.result;

		libcurl.multi_remove_handle(u->multi, m->easy_handle);
		u->inflight_handle = NULL;
		if (u->inflight)
			handle_result(u, code, now);
	}
}

/* The stop deadline passed with a request still out: give up on it, keep its window. */
static void abort_inflight(struct uploader *u)
{
	char why[64];
	size_t bytes;

	libcurl.multi_remove_handle(u->multi, u->inflight_handle);
	u->inflight_handle = NULL;
	store__finish(u->store, CURLE_ABORTED_BY_CALLBACK, why, sizeof(why), &bytes);
	log_debug("upload: window %" PRId64 " still in flight at the stop deadline",
		  (int64_t)u->inflight->time_nanos);
	requeue_inflight(u);
}

static bool has_work(struct uploader *u, bool stopping)
{
	size_t queued;

	pthread_mutex_lock(&u->lock);
	queued = u->queue.n;
	pthread_mutex_unlock(&u->lock);
	/* A stop sends what is in memory; the spool keeps until the next run. */
	return queued || (!stopping && u->spool && spool__count(u->spool));
}

/* Takes the oldest window, from the spool first (it holds only older ones), and sends it. */
static void start_attempt(struct uploader *u, bool stopping, __u64 now)
{
	static struct log_ratelimit rl;
	Fornax__Upload__V1__Window *msg;
	struct uwin *w;
	CURLMcode mc;
	CURL *h;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w) {
		retry__backoff(&u->retry, now);
		return;
	}
	u->inflight_from_spool = !stopping && u->spool && spool__count(u->spool);
	if (u->inflight_from_spool) {
		err = spool__read_oldest(u->spool, &w->buf, &w->len, &w->time_nanos);
		if (err == -EBADMSG) {
			log_warn("spool: window %" PRId64 " is damaged, dropped", (int64_t)w->time_nanos);
			count_drop(u, DROP_CORRUPT, w->time_nanos);
			spool__remove_oldest(u->spool);
			free(w);
			return;
		}
		if (err) {
			log_ratelimited(&rl, LOG_ERROR, "spool: reading window %" PRId64 ": %s",
					(int64_t)w->time_nanos, strerror(-err));
			free(w);
			retry__backoff(&u->retry, now);
			return;
		}
	} else {
		free(w);
		pthread_mutex_lock(&u->lock);
		w = upload_queue__pop_head(&u->queue);
		pthread_mutex_unlock(&u->lock);
		if (!w)
			return;
	}

	msg = fornax__upload__v1__window__unpack(NULL, w->len, w->buf);
	if (!msg) {
		/* Our own bytes, checked by CRC on disk: only a damaged or foreign file gets here. */
		log_warn("upload: window %" PRId64 " cannot be decoded, dropped", (int64_t)w->time_nanos);
		count_drop(u, u->inflight_from_spool ? DROP_CORRUPT : DROP_ENCODE, w->time_nanos);
		u->inflight = w;
		finish_inflight(u);
		return;
	}
	h = store__prepare(u->store, msg);
	fornax__upload__v1__window__free_unpacked(msg, NULL);
	u->inflight = w;
	if (!h) {
		log_ratelimited(&rl, LOG_ERROR, "upload: encoding window %" PRId64 ": %s",
				(int64_t)w->time_nanos, strerror(errno));
		requeue_inflight(u);
		retry__backoff(&u->retry, now);
		return;
	}
	mc = libcurl.multi_add_handle(u->multi, h);
	if (mc != CURLM_OK) {
		log_ratelimited(&rl, LOG_ERROR, "upload: starting a request: %s",
				libcurl.multi_strerror(mc));
		store__finish(u->store, CURLE_FAILED_INIT, NULL, 0, &(size_t){ 0 });
		requeue_inflight(u);
		retry__backoff(&u->retry, now);
		return;
	}
	u->inflight_handle = h;
	pthread_mutex_lock(&u->lock);
	u->stats.attempts++;
	pthread_mutex_unlock(&u->lock);
}

static int ms_until(__u64 when, __u64 now)
{
	__u64 ms;

	if (when <= now)
		return 0;
	ms = (when - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return ms > IDLE_POLL_MS ? IDLE_POLL_MS : (int)ms;
}

/* Whatever is still in memory when the thread ends: to the spool, or dropped. */
static void final_settle(struct uploader *u)
{
	struct uwin *w;

	if (u->spool)
		while (spool_one(u) == 0)
			;
	for (;;) {
		pthread_mutex_lock(&u->lock);
		w = upload_queue__pop_head(&u->queue);
		pthread_mutex_unlock(&u->lock);
		if (!w)
			break;
		count_drop(u, DROP_SHUTDOWN, w->time_nanos);
		uwin_free(w);
	}
}

static void *upload_thread(void *arg)
{
	static struct log_ratelimit multi_rl;
	struct uploader *u = arg;
	CURLMcode mc;

	for (;;) {
		__u64 now = now_mono(), deadline;
		bool stopping, hard_stop;
		int running, timeout;

		pthread_mutex_lock(&u->lock);
		stopping = u->stopping;
		deadline = u->stop_deadline;
		pthread_mutex_unlock(&u->lock);
		hard_stop = stopping && now >= deadline;

		if (u->inflight) {
			mc = libcurl.multi_perform(u->multi, &running);
			if (mc != CURLM_OK)
				log_ratelimited(&multi_rl, LOG_ERROR, "upload: running a request: %s",
						libcurl.multi_strerror(mc));
			collect_done(u, now);
		}
		if (u->inflight && hard_stop)
			abort_inflight(u);
		settle_queue(u, stopping, hard_stop, now);
		if (!u->inflight) {
			bool work = has_work(u, stopping);

			if (stopping && (!work || hard_stop))
				break;
			if (work && retry__due(&u->retry, now)) {
				start_attempt(u, stopping, now);
				continue;
			}
		}
		timeout = IDLE_POLL_MS;
		if (!u->inflight && has_work(u, stopping))
			timeout = ms_until(u->retry.next_attempt, now);
		if (stopping && ms_until(deadline, now) < timeout)
			timeout = ms_until(deadline, now);
		mc = libcurl.multi_poll(u->multi, NULL, 0, timeout, NULL);
		if (mc != CURLM_OK) {
			log_ratelimited(&multi_rl, LOG_ERROR, "upload: waiting for the store: %s",
					libcurl.multi_strerror(mc));
			/* Do not spin on a multi handle that keeps failing. */
			nanosleep(&(struct timespec){ .tv_nsec = 100 * NSEC_PER_MSEC }, NULL);
		}
	}
	final_settle(u);
	return NULL;
}

static char *host_name(void)
{
	struct utsname un;

	if (uname(&un) < 0 || !un.nodename[0])
		return strdup("localhost");
	return strdup(un.nodename);
}

struct uploader *uploader__new(const struct uploader_opts *opts)
{
	struct spool_open_stats found;
	const char *why = "";
	sigset_t all, old;
	struct uploader *u;
	bool have_hostname = false;
	__u64 seed;
	size_t n = 0;
	int err;

	if (!opts || !opts->queue_windows || !opts->max_backoff_ns ||
	    (opts->spool_dir && !opts->spool_max_bytes)) {
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->queue_windows = opts->queue_windows;
	u->store_timeout_ns = opts->store.timeout_ns;
	upload_queue__init(&u->queue);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = now_mono();
	retry__init(&u->retry, opts->max_backoff_ns, seed);

	err = -ENOMEM;
	u->hostname = host_name();
	u->labels = calloc(opts->n_labels + 1, sizeof(*u->labels));
	if (!u->hostname || !u->labels)
		goto fail;
	for (size_t i = 0; i < opts->n_labels; i++) {
		u->labels[n++] = opts->labels[i];
		if (strcmp(opts->labels[i].name, "hostname") == 0)
			have_hostname = true;
	}
	/* The host is always a label; --label hostname=... names it differently (e.g. the node). */
	if (!have_hostname)
		u->labels[n++] = (struct series_label){ .name = "hostname", .value = u->hostname };
	u->series = (struct series_opts){
		.labels = u->labels,
		.n_labels = n,
		.service_name = opts->service_name,
		.proc_root = opts->proc_root,
	};

	/* Before any thread exists, as libcurl requires. */
	if (curl_api__load(&why)) {
		log_error("store: %s", why);
		goto fail_no_curl;
	}
	if (libcurl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("store: initializing libcurl failed");
		goto fail_no_curl;
	}
	u->store = store__new(&opts->store);
	if (!u->store) {
		err = -errno;
		goto fail;
	}
	u->series.thread_labels = store__kind(u->store) == STORE_PARCA;
	if (opts->spool_dir) {
		u->spool = spool__open(&(struct spool_opts){
			.dir = opts->spool_dir,
			.max_bytes = opts->spool_max_bytes,
			.on_evict = on_spool_evict,
			.ctx = u,
		}, &found);
		if (!u->spool) {
			err = -errno;
			if (err == -EBUSY)
				log_error("spool: %s is in use by another fornax", opts->spool_dir);
			else if (err == -EPERM)
				log_error("spool: %s belongs to another user or others may write in "
					  "it: refusing to use it", opts->spool_dir);
			else
				log_error("spool: opening %s: %s", opts->spool_dir, strerror(-err));
			goto fail;
		}
		u->stats.found_in_spool = spool__count(u->spool);
		if (found.temp_removed)
			log_info("spool: removed %zu half-written windows of an earlier run",
				 found.temp_removed);
		if (found.ignored)
			log_warn("spool: ignoring %zu files in %s that are not spooled windows",
				 found.ignored, opts->spool_dir);
		if (spool__count(u->spool))
			log_info("spool: %zu windows (%llu bytes) left by an earlier run, replaying "
				 "them oldest first", spool__count(u->spool),
				 (unsigned long long)spool__bytes(u->spool));
	}
	u->multi = libcurl.multi_init();
	if (!u->multi) {
		log_error("store: cannot create a curl multi handle");
		goto fail;
	}
	/* The drain loop owns the signals (signalfd): this thread must never take one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&u->thread, NULL, upload_thread, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_error("store: starting the upload thread: %s", strerror(-err));
		goto fail;
	}
	u->thread_started = true;
	return u;
fail:
	libcurl.multi_cleanup(u->multi);
	store__free(u->store);
	spool__close(u->spool);
	libcurl.global_cleanup();
fail_no_curl:
	pthread_mutex_destroy(&u->lock);
	free(u->labels);
	free(u->hostname);
	free(u);
	errno = -err;
	return NULL;
}

int uploader__submit(struct uploader *u, const struct pprof *window)
{
	unsigned char id[16];
	struct series_stats ss;
	struct uwin *w, *overflow = NULL;
	__u64 started;
	void *buf = NULL;
	size_t len = 0;
	__s64 t = pprof__time_nanos(window);
	int err;

	if (getrandom(id, sizeof(id), 0) != sizeof(id)) {
		__u64 a = now_mono(), b = (__u64)t;

		memcpy(id, &a, 8);
		memcpy(id + 8, &b, 8);
	}
	started = now_mono();
	err = series__pack_window(window, &u->series, id, &buf, &len, &ss);
	w = err ? NULL : calloc(1, sizeof(*w));
	if (!w) {
		err = err ?: -ENOMEM;
		free(buf);
		log_error("upload: packing window %" PRId64 ": %s, dropped", (int64_t)t, strerror(-err));
		pthread_mutex_lock(&u->lock);
		u->stats.produced++;
		count_drop_locked(u, DROP_ENCODE);
		pthread_mutex_unlock(&u->lock);
		log_drop(DROP_ENCODE, t);
		return err;
	}
	if (!ss.series) {
		pthread_mutex_lock(&u->lock);
		u->stats.produced++;
		u->stats.empty++;
		pthread_mutex_unlock(&u->lock);
		log_debug("upload: window %" PRId64 " empty (no samples), not sent", (int64_t)t);
		free(buf);
		free(w);
		return 0;
	}
	w->time_nanos = t;
	w->buf = buf;
	w->len = len;
	log_debug("upload: window %" PRId64 " produced (%zu series, %zu samples, %zu bytes, "
		  "packed in %.1f ms)", (int64_t)t, ss.series, ss.samples, len,
		  (double)(now_mono() - started) / 1e6);
	pthread_mutex_lock(&u->lock);
	u->stats.produced++;
	upload_queue__push_tail(&u->queue, w);
	if (upload_queue__overflowing(u->queue.n, u->queue_windows)) {
		overflow = upload_queue__pop_head(&u->queue);
		count_drop_locked(u, DROP_QUEUE_FULL);
	}
	pthread_mutex_unlock(&u->lock);
	if (overflow) {
		log_drop(DROP_QUEUE_FULL, overflow->time_nanos);
		uwin_free(overflow);
	}
	libcurl.multi_wakeup(u->multi);
	return 0;
}

void uploader__stop(struct uploader *u, __u64 timeout_ns)
{
	if (!u || !u->thread_started || u->thread_joined)
		return;
	pthread_mutex_lock(&u->lock);
	u->stopping = true;
	u->stop_deadline = now_mono() + timeout_ns;
	pthread_mutex_unlock(&u->lock);
	libcurl.multi_wakeup(u->multi);
	pthread_join(u->thread, NULL);
	u->thread_joined = true;
}

void uploader__stats(struct uploader *u, struct uploader_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	out->queued = u->queue.n;
	pthread_mutex_unlock(&u->lock);
	/* The spool is the thread's: its size is read once the thread is gone. */
	out->in_spool = u->spool && u->thread_joined ? spool__count(u->spool) : 0;
}

void uploader__log_stats(struct uploader *u)
{
	struct uploader_stats st;
	char drops[400];
	__u64 dropped = 0;
	size_t n = 0;

	uploader__stats(u, &st);
	drops[0] = '\0';
	for (int i = 0; i < NR_UPLOAD_DROPS; i++) {
		dropped += st.dropped[i];
		n += snprintf(drops + n, n < sizeof(drops) ? sizeof(drops) - n : 0, " dropped_%s=%llu",
			      drop_names[i], (unsigned long long)st.dropped[i]);
	}
	log_info("upload summary: produced=%llu empty=%llu delivered=%llu replayed=%llu "
		 "spooled=%llu found_in_spool=%llu queued=%llu in_spool=%llu attempts=%llu "
		 "retries=%llu bytes_sent=%llu dropped=%llu%s",
		 (unsigned long long)st.produced, (unsigned long long)st.empty,
		 (unsigned long long)st.delivered, (unsigned long long)st.replayed,
		 (unsigned long long)st.spooled, (unsigned long long)st.found_in_spool,
		 (unsigned long long)st.queued, (unsigned long long)st.in_spool,
		 (unsigned long long)st.attempts, (unsigned long long)st.retries,
		 (unsigned long long)st.bytes_sent, (unsigned long long)dropped, drops);
}

void uploader__free(struct uploader *u)
{
	if (!u)
		return;
	uploader__stop(u, u->store_timeout_ns);
	upload_queue__clear(&u->queue);
	uwin_free(u->inflight);
	libcurl.multi_cleanup(u->multi);
	store__free(u->store);
	spool__close(u->spool);
	libcurl.global_cleanup();
	pthread_mutex_destroy(&u->lock);
	free(u->labels);
	free(u->hostname);
	free(u);
}
