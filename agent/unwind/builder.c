// SPDX-License-Identifier: Apache-2.0
/*
 * The builder threads: a queue of files to turn into rows, taken by
 * priority (which saves most samples soonest, see reprioritize()), one
 * thread for any file and one only for files with little CFI.
 */
#include "unwind_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "array.h"

void job_free(struct build_job *job)
{
	if (!job)
		return;
	if (job->fd >= 0)
		close(job->fd);
	free(job->image);
	cfi_table__free(job->result);
	free(job);
}

int job_queue(struct unwinder *u, struct utable *t, int *fd, char **image, size_t image_len,
	      __u64 cost)
{
	struct build_job *job = calloc(1, sizeof(*job));
	int err = 0;

	if (!job)
		return -ENOMEM;
	snprintf(job->key, sizeof(job->key), "%s", t->key);
	job->fd = -1;
	job->cost = cost;
	pthread_mutex_lock(&u->lock);
	err = ARRAY_GROW(&u->jobs, &u->jobs_cap, u->n_jobs + 1);
	if (!err) {
		if (fd) {
			job->fd = *fd;
			*fd = -1;
		}
		if (image) {
			job->image = *image;
			job->image_len = image_len;
			*image = NULL;
		}
		u->jobs[u->n_jobs++] = job;
		u->stats.tables_pending++;
		/* Either builder may be the one that can take it. */
		pthread_cond_broadcast(&u->build_cond);
	}
	pthread_mutex_unlock(&u->lock);
	if (err) {
		free(job);
		return err;
	}
	t->job = job;
	t->cost = cost;
	t->state = TABLE_PENDING;
	u->n_pending++;
	u->reprioritize = true;
	return 0;
}

void job_cancel(struct unwinder *u, struct utable *t)
{
	if (!t->job)
		return;
	pthread_mutex_lock(&u->lock);
	t->job->cancelled = true;
	pthread_mutex_unlock(&u->lock);
	t->job = NULL;
	u->n_pending--;
}

/*
 * The table for elf: from the cache when it holds one made from the same
 * inputs, else built (and then kept there).
 */
static void build_or_load(struct build_job *job, Elf *elf, struct table_cache *cache,
			  const struct stat *file)
{
	size_t len = 0;
	void *inputs = cache ? cfi_table__inputs(elf, CACHE_INPUTS_MAX, &len) : NULL;

	job->result = inputs ? table_cache__load(cache, file, inputs, len) : NULL;
	job->from_cache = job->result != NULL;
	if (!job->result) {
		job->result = cfi_table__build(elf);
		job->err = job->result ? 0 : -errno;
		if (job->result && inputs)
			table_cache__store(cache, file, inputs, len, job->result);
	}
	free(inputs);
}

/* Builds one job's rows (builder thread): nothing but the job (and the cache) is touched. */
static void build_job(struct build_job *job, struct table_cache *cache)
{
	__u64 start = now_ns();
	struct stat st, *file = NULL;
	Elf *elf;

	/* taken before anything is read: a change of the file after it changes its ctime */
	if (cache && job->fd >= 0 && fstat(job->fd, &st) == 0) {
		file = &st;
		job->result = table_cache__load_file(cache, file);
		if (job->result) {
			job->from_cache = true;
			goto done;
		}
	}
	if (job->image)
		elf = elf_memory(job->image, job->image_len);
	else
		elf = elf_begin(job->fd, ELF_C_READ, NULL);
	if (elf) {
		build_or_load(job, elf, cache, file);
		elf_end(elf);
	} else {
		job->err = -ENOEXEC;
	}
done:
	if (job->fd >= 0)
		close(job->fd);
	job->fd = -1;
	free(job->image);
	job->image = NULL;
	job->build_ns = now_ns() - start;
}

/* The job a builder limited to max_cost should take next; -1 if none. */
static long pick_job(const struct unwinder *u, __u64 max_cost)
{
	long best = -1;

	for (size_t i = 0; i < u->n_jobs; i++) {
		const struct build_job *a = u->jobs[i], *b = best >= 0 ? u->jobs[best] : NULL;

		if (a->cost > max_cost && !a->cancelled)
			continue;
		/* Dropped jobs first (they cost nothing), then by priority, then smallest. */
		if (!b || (a->cancelled != b->cancelled  ? a->cancelled :
			   a->priority != b->priority ? a->priority > b->priority :
							a->cost < b->cost))
			best = i;
	}
	return best;
}

static void *build_loop(struct unwinder *u, __u64 max_cost)
{
	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct build_job *job;
		long best = -1;

		while (!u->stop && (best = pick_job(u, max_cost)) < 0)
			pthread_cond_wait(&u->build_cond, &u->lock);
		if (u->stop)
			break;
		job = u->jobs[best];
		u->jobs[best] = u->jobs[--u->n_jobs];
		if (!job->cancelled) {
			pthread_mutex_unlock(&u->lock);
			build_job(job, u->cache);
			pthread_mutex_lock(&u->lock);
		}
		job->next = u->done;
		u->done = job;
		wake_worker(u);
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

void *builder_any(void *arg)
{
	return build_loop(arg, UINT64_MAX);
}

void *builder_small(void *arg)
{
	return build_loop(arg, FAST_LANE_CFI_BYTES);
}
