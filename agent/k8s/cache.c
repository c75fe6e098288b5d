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

#include "array.h"
#include "hashmap.h"
#include "timeconst.h"

struct pod_entry {
	char *uid; /* the key: the pod's own uid, copied, since the pod is replaced on update */
	struct k8s_pod *pod;
	uint64_t generation; /* the last list that showed it */
	uint64_t deleted_ns; /* 0: alive */
};

struct container_entry {
	char id[65];
	struct pod_entry *owner;
};

struct k8s_cache {
	pthread_mutex_t lock;
	struct hmap pods;       /* uid -> struct pod_entry */
	struct hmap containers; /* container id -> struct container_entry */
	size_t max_pods;
	uint64_t grace_ns;
	uint64_t generation;
};

static __u64 str_hash(const char *s)
{
	return hash_bytes(s, strlen(s));
}

static bool pod_eq(const void *val, const void *key)
{
	return strcmp(((const struct pod_entry *)val)->uid, key) == 0;
}

static bool container_eq(const void *val, const void *key)
{
	return strcmp(((const struct container_entry *)val)->id, key) == 0;
}

static struct pod_entry *find_pod(struct k8s_cache *c, const char *uid)
{
	return hmap__find(&c->pods, str_hash(uid), pod_eq, uid);
}

static struct container_entry *find_container(struct k8s_cache *c, const char *id)
{
	return hmap__find(&c->containers, str_hash(id), container_eq, id);
}

uint64_t k8s_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
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
		const char *id = e->pod->containers[i].id;
		struct container_entry *ce = *id ? find_container(c, id) : NULL;

		if (ce && ce->owner == e) {
			(void)hmap__remove(&c->containers, str_hash(ce->id), ce);
			free(ce);
		}
	}
}

/* Frees e; the caller removes it from c->pods (or is clearing the table). */
static void free_pod(struct k8s_cache *c, struct pod_entry *e)
{
	drop_containers(c, e);
	k8s_pod__put(e->pod);
	free(e->uid);
	free(e);
}

static void remove_pod(struct k8s_cache *c, struct pod_entry *e)
{
	(void)hmap__remove(&c->pods, str_hash(e->uid), e);
	free_pod(c, e);
}

void k8s_cache__free(struct k8s_cache *c)
{
	struct pod_entry *e;
	size_t pos = 0;

	if (!c)
		return;
	while ((e = hmap__next(&c->pods, &pos)))
		free_pod(c, e);
	hmap__clear(&c->pods);
	hmap__clear(&c->containers);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* Room for one more pod: frees the longest-deleted one if the cache is full. */
static bool make_room(struct k8s_cache *c)
{
	struct pod_entry *e, *oldest = NULL;
	size_t pos = 0;

	if (hmap__len(&c->pods) < c->max_pods)
		return true;
	while ((e = hmap__next(&c->pods, &pos)))
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
		ce = find_container(c, id);
		if (ce) {
			ce->owner = e;
			continue;
		}
		ce = calloc(1, sizeof(*ce));
		if (!ce)
			continue; /* found by its pod's uid still */
		/* ids are 64 hex digits at most (k8s_pod__from_json checks) */
		strncpy(ce->id, id, sizeof(ce->id) - 1);
		ce->owner = e;
		if (hmap__insert(&c->containers, str_hash(ce->id), ce))
			free(ce);
	}
}

int k8s_cache__upsert(struct k8s_cache *c, struct k8s_pod *pod)
{
	struct pod_entry *e;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	e = find_pod(c, pod->uid);
	if (e) {
		drop_containers(c, e);
		k8s_pod__put(e->pod);
	} else if (!make_room(c)) {
		err = -ENOSPC;
	} else if (!(e = calloc(1, sizeof(*e))) || !(e->uid = strdup(pod->uid))) {
		free(e);
		err = -ENOMEM;
	} else if (hmap__insert(&c->pods, str_hash(e->uid), e)) {
		free(e->uid);
		free(e);
		err = -ENOMEM;
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
	e = find_pod(c, uid);
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
	struct pod_entry *e;
	size_t pos = 0;

	pthread_mutex_lock(&c->lock);
	while ((e = hmap__next(&c->pods, &pos)))
		if (e->generation != c->generation && !e->deleted_ns)
			e->deleted_ns = now_ns ? now_ns : 1;
	pthread_mutex_unlock(&c->lock);
}

size_t k8s_cache__expire(struct k8s_cache *c, uint64_t now_ns)
{
	struct pod_entry *e, **doomed = NULL;
	size_t pos = 0, n = 0, cap = 0;

	pthread_mutex_lock(&c->lock);
	/* the table must not change during a walk: collect, then remove */
	while ((e = hmap__next(&c->pods, &pos))) {
		if (!e->deleted_ns || now_ns - e->deleted_ns < c->grace_ns)
			continue;
		if (ARRAY_GROW(&doomed, &cap, n + 1))
			break; /* the rest expire on the next call */
		doomed[n++] = e;
	}
	for (size_t i = 0; i < n; i++)
		remove_pod(c, doomed[i]);
	hmap__shrink(&c->pods);
	hmap__shrink(&c->containers);
	pthread_mutex_unlock(&c->lock);
	free(doomed);
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
		ce = find_container(c, container_id);
	if (ce)
		e = ce->owner;
	else if (pod_uid && *pod_uid)
		e = find_pod(c, pod_uid);
	if (e)
		pod = k8s_pod__get(e->pod);
	pthread_mutex_unlock(&c->lock);
	return pod;
}

void k8s_cache__counts(struct k8s_cache *c, uint64_t *pods, uint64_t *containers)
{
	pthread_mutex_lock(&c->lock);
	*pods = hmap__len(&c->pods);
	*containers = hmap__len(&c->containers);
	pthread_mutex_unlock(&c->lock);
}
