// SPDX-License-Identifier: Apache-2.0
/*
 * The unwinder's API and its worker loop; unwind_impl.h says what the
 * threads do and which file holds which job.
 */
#include "unwind_impl.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "array.h"
#include "log.h"
#include "procfs.h"

/* Exit reports waiting for the worker at most; more are left to the sweep. */
#define MAX_PENDING_EXITS 65536
/*
 * How long unwinder__free() waits for its threads: a read from a file
 * system a user controls (FUSE) can block a builder for good.
 */
#define JOIN_TIMEOUT_NS (5 * NSEC_PER_SEC)

void unwinder_retire(struct unwinder *u, struct page_pool *pool, __u32 start, __u32 n)
{
	if (page_retire__add(&u->retired, pool, start, n))
		STAT_ADD(u, errors, 1);
}

static bool should_stop(struct unwinder *u)
{
	bool stop;

	pthread_mutex_lock(&u->lock);
	stop = u->stop;
	pthread_mutex_unlock(&u->lock);
	return stop;
}

/* The next poll interval when nothing needed the worker: twice the last, up to max. */
static __u64 slower(__u64 poll_ns, __u64 max)
{
	return poll_ns * 2 < max ? poll_ns * 2 : max;
}

_Static_assert(POLL_NS >= FORNAX_UNWIND_DOORBELL_GAP_NS &&
		       DEFERRED_POLL_NS >= FORNAX_UNWIND_DOORBELL_GAP_NS &&
		       STARTUP_POLL_INTERVAL_NS <= FORNAX_UNWIND_DOORBELL_GAP_NS,
	       "a request the doorbell did not wake the worker for waits for its next look");

void wake_worker(struct unwinder *u)
{
	__u64 one = 1;

	/* Fails only with the counter at its limit, when the worker wakes anyway. */
	if (write(u->wake_fd, &one, sizeof(one)) != sizeof(one))
		return;
}

static int discard_record(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

/*
 * Until the builder or the doorbell says there is something, or poll_ns.
 * Called and returns under u->lock. The doorbell's records are pending
 * until read, so one written since the worker last emptied it ends the
 * wait at once, whether or not it asked for a wake-up.
 */
static void wait_for_work(struct unwinder *u, __u64 poll_ns)
{
	struct pollfd fds[2] = {
		{ .fd = u->wake_fd, .events = POLLIN },
		{ .fd = u->maps.doorbell, .events = POLLIN },
	};
	__u64 count;
	int ready;

	pthread_mutex_unlock(&u->lock);
	ready = poll(fds, 2, (int)((poll_ns + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC));
	/* Reset by the read; a wake-up after it is seen at the next wait. */
	if (ready > 0 && (fds[0].revents & POLLIN) && read(u->wake_fd, &count, sizeof(count)) < 0)
		count = 0; /* nothing to reset */
	pthread_mutex_lock(&u->lock);
}

static void *worker(void *arg)
{
	struct unwinder *u = arg;

	/*
	 * Requests sit in a map the program writes: looked at every POLL_NS
	 * while there is work, and otherwise when the program rings the
	 * doorbell, so an idle agent sleeps. The doorbell wakes the worker at
	 * most once per FORNAX_UNWIND_DOORBELL_GAP_NS; the requests in between
	 * are read at the next look, POLL_NS later.
	 */
	__u64 poll_ns = POLL_NS, fast_until = 0;
	bool scanned = false;

	prescan(u);
	while (!should_stop(u)) {
		int deferred;
		bool busy, starting;
		__u64 now, due;

		if (!scanned && u->ready) {
			prescan_running(u);
			scanned = true;
		}
		/* Emptied first: a request written after this rings again. */
		ring_buffer__consume(u->doorbell);
		busy = handle_requests(u, &deferred) > 0;
		handle_exits(u);
		collect_built(u);
		install_waiting(u);
		reprioritize(u);
		now = now_ns();
		if (now >= u->next_sweep) {
			sweep(u);
			u->next_sweep = now + SWEEP_NS;
		}
		page_retire__flush(&u->retired);

		pthread_mutex_lock(&u->lock);
		u->stats.row_bytes = page_pool__bytes(&u->rows);
		u->stats.mapping_bytes = page_pool__bytes(&u->mappings);
		if (!u->ready && !u->n_pending) {
			u->ready = true;
			pthread_cond_broadcast(&u->cond);
			/*
			 * Sampling starts now: its first requests (the --pid targets,
			 * read ahead) must not wait for an idle poll while their stacks
			 * are walked by frame pointers.
			 */
			fast_until = now + STARTUP_POLL_NS;
		}
		/*
		 * Sampling may start long after the tables were ready (loading the
		 * program takes seconds on a slow machine): the fast polls count
		 * from whichever came later.
		 */
		starting = now < fast_until ||
			   (u->sampling_since && now < u->sampling_since + STARTUP_POLL_NS);
		busy = busy || u->n_pending;
		if (starting)
			poll_ns = STARTUP_POLL_INTERVAL_NS;
		else
			poll_ns = busy ? POLL_NS
				       : slower(poll_ns, deferred ? DEFERRED_POLL_NS : IDLE_POLL_NS);
		/*
		 * The doorbell rings for new requests only: the put-off ones and
		 * the sweep are timed, no closer than DEFERRED_POLL_NS apart (a
		 * wake-up for each put-off process was a third more CPU under a
		 * compile's churn).
		 */
		due = deferred_next_due(u);
		if (u->next_sweep < due)
			due = u->next_sweep;
		due = due > now + DEFERRED_POLL_NS ? due : now + DEFERRED_POLL_NS;
		if (poll_ns > due - now)
			poll_ns = due - now;
		if (!u->stop && !u->done)
			wait_for_work(u, poll_ns);
		pthread_mutex_unlock(&u->lock);
	}
	return NULL;
}

struct unwinder *unwinder__new(const struct unwinder_opts *opts)
{
	struct unwinder *u;
	sigset_t all, old;
	int err;

	if (!opts || (opts->mode != FORNAX_UNWIND_AUTO && opts->mode != FORNAX_UNWIND_DWARF)) {
		errno = EINVAL;
		return NULL;
	}
#if !defined(__x86_64__)
	/* Rows and the walker know the x86-64 psABI only. */
	errno = ENOTSUP;
	return NULL;
#endif
	u = calloc(1, sizeof(*u));
	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	u->maps = (struct unwinder_maps){ -1, -1, -1, -1, -1, -1, -1, -1 };
	u->wake_fd = -1;
	TAILQ_INIT(&u->table_list);
	TAILQ_INIT(&u->devino_list);
	TAILQ_INIT(&u->proc_list);
	TAILQ_INIT(&u->deferred_list);
	u->rows.outer_fd = u->mappings.outer_fd = -1;
	pthread_mutex_init(&u->lock, NULL);
	{
		pthread_condattr_t attr;

		/* Deadlines are CLOCK_MONOTONIC: the wall clock may jump. */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&u->cond, &attr);
		pthread_condattr_destroy(&attr);
		pthread_cond_init(&u->build_cond, NULL);
	}
	u->mode = opts->mode;
	u->ns_per_tick = procfs__ns_per_tick();
	u->proc_root = strdup(opts->proc_root ? opts->proc_root : DEFAULT_PROC_ROOT);
	if (!u->proc_root) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (opts->table_cache_dir) {
		u->cache = table_cache__new(opts->table_cache_dir, opts->table_cache_bytes);
		if (!u->cache)
			log_warn("--unwind-cache %s: %s; tables are built at every start",
				 opts->table_cache_dir,
				 errno == EPERM ? "the directory is not the agent's own (owned by "
						  "it, writable by no one else)" : strerror(errno));
	}
	if (opts->n_pids) {
		u->pids = calloc(opts->n_pids, sizeof(*u->pids));
		if (!u->pids) {
			err = -ENOMEM;
			goto cleanup;
		}
		memcpy(u->pids, opts->pids, opts->n_pids * sizeof(*u->pids));
		u->n_pids = opts->n_pids;
	}
	elf_version(EV_CURRENT);
	err = create_maps(u, opts->max_table_bytes ? opts->max_table_bytes
						   : DEFAULT_MAX_TABLE_BYTES);
	if (err) {
		log_error("creating the unwinder's maps: %s", strerror(-err));
		goto cleanup;
	}
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	u->doorbell = u->wake_fd >= 0 ? ring_buffer__new(u->maps.doorbell, discard_record, NULL, NULL)
				      : NULL;
	if (!u->doorbell) {
		err = -errno;
		log_error("the unwinder's doorbell: %s", strerror(errno));
		goto cleanup;
	}
	grace_period__init(&u->retired.grace);
	u->retired.gen = u->gen;
	u->next_sweep = now_ns() + SWEEP_NS;

	/* Signals belong to the main thread's signalfd: the worker takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&u->builders[0], NULL, builder_any, u);
	if (!err) {
		u->n_builders++;
		err = -pthread_create(&u->builders[1], NULL, builder_small, u);
	}
	if (!err) {
		u->n_builders++;
		err = -pthread_create(&u->thread, NULL, worker, u);
		u->thread_started = !err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_error("starting the unwinder threads: %s", strerror(-err));
		goto cleanup;
	}
	return u;

cleanup:
	unwinder__free(u);
	errno = -err;
	return NULL;
}

/* Joins t by until (CLOCK_REALTIME); false, with a warning naming it, if it is stuck. */
static bool join_by(pthread_t t, const struct timespec *until, const char *what)
{
	int err = pthread_timedjoin_np(t, NULL, until);

	if (err)
		log_warn("unwinder: the %s thread did not stop: %s; leaving it behind", what,
			 strerror(err));
	return !err;
}

void unwinder__free(struct unwinder *u)
{
	struct timespec until = timespec_after_ns(CLOCK_REALTIME, JOIN_TIMEOUT_NS);
	bool joined = true;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_cond_broadcast(&u->cond);
	pthread_cond_broadcast(&u->build_cond);
	if (u->wake_fd >= 0)
		wake_worker(u);
	pthread_mutex_unlock(&u->lock);
	if (u->thread_started)
		joined &= join_by(u->thread, &until, "process walker");
	for (int i = 0; i < u->n_builders; i++)
		joined &= join_by(u->builders[i], &until, "table builder");
	/* A stuck thread still uses all of it: the process is exiting, so it is leaked. */
	if (!joined)
		return;

	procs_free(u);
	devinos_free(u);
	tables_free(u);
	/* Both threads are gone: the jobs they left behind are ours. */
	for (size_t i = 0; i < u->n_jobs; i++)
		job_free(u->jobs[i]);
	while (u->done) {
		struct build_job *job = u->done;

		u->done = job->next;
		job_free(job);
	}
	/* Nothing runs the program any more once the agent frees this: no grace period. */
	ring_buffer__free(u->doorbell);
	destroy_maps(u);
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	page_retire__free(&u->retired);
	free(u->exits);
	free(u->jobs);
	free(u->scratch);
	deferred_free(u);
	free(u->pids);
	free(u->proc_root);
	table_cache__free(u->cache);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	pthread_cond_destroy(&u->build_cond);
	free(u);
}

const struct unwinder_maps *unwinder__maps(const struct unwinder *u)
{
	return &u->maps;
}

void unwinder__sampling_started(struct unwinder *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->sampling_since = now_ns();
	wake_worker(u);
	pthread_mutex_unlock(&u->lock);
}

bool unwinder__wait_ready(struct unwinder *u, __u64 timeout_ns)
{
	struct timespec until = timespec_after_ns(CLOCK_MONOTONIC, timeout_ns);
	bool ready;

	pthread_mutex_lock(&u->lock);
	while (!u->ready && !u->stop)
		if (pthread_cond_timedwait(&u->cond, &u->lock, &until))
			break;
	ready = u->ready;
	pthread_mutex_unlock(&u->lock);
	return ready;
}

void unwinder__stats(struct unwinder *u, struct unwinder_stats *out)
{
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
	if (u->cache) {
		struct table_cache_stats cs;

		table_cache__stats(u->cache, &cs);
		out->cache_stored = cs.stored;
		out->cache_by_identity = cs.by_identity;
		out->cache_bad = cs.bad + cs.store_errors;
		out->cache_evicted = cs.evicted;
		out->cache_bytes = cs.bytes;
	}
}

void unwinder__process_exit(struct unwinder *u, __u32 pid, __u64 start_ns)
{
	pthread_mutex_lock(&u->lock);
	/* beyond the bound the sweep finds them: memory stays bounded if the worker is stuck */
	if (u->n_exits < MAX_PENDING_EXITS &&
	    !ARRAY_GROW(&u->exits, &u->exits_cap, u->n_exits + 1))
		u->exits[u->n_exits++] = (struct unwind_exit){ .tgid = pid, .start_ns = start_ns };
	pthread_mutex_unlock(&u->lock);
}

void unwinder__log_summary(struct unwinder *u)
{
	struct unwinder_stats us;

	unwinder__stats(u, &us);
	log_info("unwind tables: %llu loaded (%llu rows, %.1f MiB of map memory), %llu built in "
		 "%.0f ms, %llu read from the cache in %.0f ms (%llu of them known by the file's "
		 "identity; %llu stored, %llu bad entries or "
		 "failed stores, %llu evicted, %.1f MiB on disk), %llu evicted, %llu files "
		 "without usable CFI (%llu opens of files whose process had gone, retried), %llu "
		 "did not fit; "
		 "%llu processes; %llu maps read (%llu while an exec was mapping the image, "
		 "read again), %llu new processes walked by the kernel's record "
		 "of their mappings, read only if they lived %.0f s",
		 (unsigned long long)us.tables, (unsigned long long)us.rows,
		 (double)(us.row_bytes + us.mapping_bytes) / (1 << 20),
		 (unsigned long long)us.tables_built, (double)us.build_ns / 1e6,
		 (unsigned long long)us.tables_from_cache, (double)us.cache_load_ns / 1e6,
		 (unsigned long long)us.cache_by_identity, (unsigned long long)us.cache_stored, (unsigned long long)us.cache_bad,
		 (unsigned long long)us.cache_evicted, (double)us.cache_bytes / (1 << 20),
		 (unsigned long long)us.tables_evicted, (unsigned long long)us.files_failed,
		 (unsigned long long)us.open_failures,
		 (unsigned long long)us.tables_no_space, (unsigned long long)us.processes,
		 (unsigned long long)us.maps_reads, (unsigned long long)us.maps_mid_exec,
		 (unsigned long long)us.requests_deferred,
		 (double)DEFER_NS / NSEC_PER_SEC);
}
