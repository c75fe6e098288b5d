// SPDX-License-Identifier: Apache-2.0
/*
 * The pods of this node, by UID and by container id. Deleted pods stay
 * for a grace period; the cache never holds more than max_pods, making
 * room by freeing the longest-deleted first.
 */
#include "k8s_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An allocation failure inside HASH_ADD leaves the table as it was, and says so here. */
#define HASH_NONFATAL_OOM 1
static _Thread_local bool hash_oom;
#define uthash_nonfatal_oom(elt) (hash_oom = true)
#include <uthash.h>

struct pod_entry {
	char *uid; /* the key: the pod's own uid, copied, since the pod is replaced on update */
	struct k8s_pod *pod;
	uint64_t generation; /* the last list that showed it */
	uint64_t deleted_ns; /* 0: alive */
	UT_hash_handle hh;
};

struct container_entry {
	char id[65];
	struct pod_entry *owner;
	UT_hash_handle hh;
};

struct k8s_cache {
	pthread_mutex_t lock;
	struct pod_entry *pods;
	struct container_entry *containers;
	size_t max_pods;
	uint64_t grace_ns;
	uint64_t generation;
};

uint64_t k8s_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct k8s_cache *k8s_cache__new(size_t max_pods, uint64_t grace_ns)
{
	struct k8s_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->max_pods = max_pods;
	c->grace_ns = grace_ns;
	return c;
}

static void drop_containers(struct k8s_cache *c, struct pod_entry *e)
{
	for (size_t i = 0; i < e->pod->n_containers; i++) {
		struct container_entry *ce;

		HASH_FIND_STR(c->containers, e->pod->containers[i].id, ce);
		if (ce && ce->owner == e) {
			HASH_DEL(c->containers, ce);
			free(ce);
		}
	}
}

static void remove_pod(struct k8s_cache *c, struct pod_entry *e)
{
	drop_containers(c, e);
	HASH_DEL(c->pods, e);
	k8s_pod__put(e->pod);
	free(e->uid);
	free(e);
}

void k8s_cache__free(struct k8s_cache *c)
{
	struct pod_entry *e, *tmp;

	if (!c)
		return;
	HASH_ITER(hh, c->pods, e, tmp)
		remove_pod(c, e);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Room for one more pod: frees the longest-deleted one if the cache is full. */
static bool make_room(struct k8s_cache *c)
{
	struct pod_entry *e, *tmp, *oldest = NULL;

	if (HASH_COUNT(c->pods) < c->max_pods)
		return true;
	HASH_ITER(hh, c->pods, e, tmp)
		if (e->deleted_ns && (!oldest || e->deleted_ns < oldest->deleted_ns))
			oldest = e;
	if (!oldest)
		return false;
	remove_pod(c, oldest);
	return true;
}

static void index_containers(struct k8s_cache *c, struct pod_entry *e)
{
	for (size_t i = 0; i < e->pod->n_containers; i++) {
		const char *id = e->pod->containers[i].id;
		struct container_entry *ce;

		if (!*id)
			continue;
		HASH_FIND_STR(c->containers, id, ce);
		if (ce) {
			ce->owner = e;
			continue;
		}
		ce = calloc(1, sizeof(*ce));
		if (!ce)
			continue; /* found by its pod's uid still */
		memcpy(ce->id, id, sizeof(ce->id));
		ce->owner = e;
		hash_oom = false;
		HASH_ADD_STR(c->containers, id, ce);
		if (hash_oom)
			free(ce);
	}
}

int k8s_cache__upsert(struct k8s_cache *c, struct k8s_pod *pod)
{
	struct pod_entry *e;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	HASH_FIND_STR(c->pods, pod->uid, e);
	if (e) {
		drop_containers(c, e);
		k8s_pod__put(e->pod);
	} else if (!make_room(c)) {
		err = -ENOSPC;
	} else if (!(e = calloc(1, sizeof(*e))) || !(e->uid = strdup(pod->uid))) {
		free(e);
		err = -ENOMEM;
	} else {
		hash_oom = false;
		HASH_ADD_KEYPTR(hh, c->pods, e->uid, strlen(e->uid), e);
		if (hash_oom) {
			free(e->uid);
			free(e);
			err = -ENOMEM;
		}
	}
	if (!err) {
		e->pod = pod;
		e->generation = c->generation;
		e->deleted_ns = 0;
		index_containers(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	if (err)
		k8s_pod__put(pod);
	return err;
}

void k8s_cache__delete(struct k8s_cache *c, const char *uid, uint64_t now_ns)
{
	struct pod_entry *e;

	pthread_mutex_lock(&c->lock);
	HASH_FIND_STR(c->pods, uid, e);
	if (e && !e->deleted_ns)
		e->deleted_ns = now_ns ? now_ns : 1;
	pthread_mutex_unlock(&c->lock);
}

void k8s_cache__begin_list(struct k8s_cache *c)
{
	pthread_mutex_lock(&c->lock);
	c->generation++;
	pthread_mutex_unlock(&c->lock);
}

void k8s_cache__end_list(struct k8s_cache *c, uint64_t now_ns)
{
	struct pod_entry *e, *tmp;

	pthread_mutex_lock(&c->lock);
	HASH_ITER(hh, c->pods, e, tmp)
		if (e->generation != c->generation && !e->deleted_ns)
			e->deleted_ns = now_ns ? now_ns : 1;
	pthread_mutex_unlock(&c->lock);
}

size_t k8s_cache__expire(struct k8s_cache *c, uint64_t now_ns)
{
	struct pod_entry *e, *tmp;
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	HASH_ITER(hh, c->pods, e, tmp) {
		if (e->deleted_ns && now_ns - e->deleted_ns >= c->grace_ns) {
			remove_pod(c, e);
			n++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

struct k8s_pod *k8s_cache__lookup(struct k8s_cache *c, const char *container_id,
				  const char *pod_uid)
{
	struct container_entry *ce = NULL;
	struct pod_entry *e = NULL;
	struct k8s_pod *pod = NULL;

	pthread_mutex_lock(&c->lock);
	if (container_id && *container_id)
		HASH_FIND_STR(c->containers, container_id, ce);
	if (ce)
		e = ce->owner;
	else if (pod_uid && *pod_uid)
		HASH_FIND_STR(c->pods, pod_uid, e);
	if (e)
		pod = k8s_pod__get(e->pod);
	pthread_mutex_unlock(&c->lock);
	return pod;
}

void k8s_cache__counts(struct k8s_cache *c, uint64_t *pods, uint64_t *containers)
{
	pthread_mutex_lock(&c->lock);
	*pods = HASH_COUNT(c->pods);
	*containers = HASH_COUNT(c->containers);
	pthread_mutex_unlock(&c->lock);
}
