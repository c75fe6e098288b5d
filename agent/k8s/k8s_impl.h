/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the Kubernetes module: pods, the cache, and what the thread shares. */
#ifndef FORNAX_K8S_IMPL_H
#define FORNAX_K8S_IMPL_H

#include "k8s_pods.h"

#include <json-c/json.h>
#include <stdatomic.h>

struct k8s_kv {
	char *name;
	char *value;
};

struct k8s_container {
	char *name;
	char *id;         /* 64 lower-case hex digits, "" when the runtime gave none yet */
	char *runtime_id; /* as the API server gives it: "containerd://<id>" */
	char *image;
	bool init;
};

/* Immutable once built; shared by the cache and lookups through the count. */
struct k8s_pod {
	_Atomic unsigned refs;
	char *ns, *name, *uid, *node, *phase, *ip, *owner_kind, *owner_name;
	struct k8s_kv *labels;
	size_t n_labels;
	struct k8s_kv *annotations;
	size_t n_annotations;
	struct k8s_container *containers;
	size_t n_containers;
};

/*
 * A pod from its JSON object (an item of a PodList, or a watch event's
 * object), with at most max_labels labels and annotations each (the rest
 * counted in *dropped). -EBADMSG when it is not shaped like a pod.
 */
int k8s_pod__from_json(json_object *o, size_t max_labels, struct k8s_pod **out,
		       uint64_t *dropped);
struct k8s_pod *k8s_pod__get(struct k8s_pod *pod);
/* metadata.resourceVersion of any object; NULL when absent. */
const char *k8s_resource_version(json_object *o);

/* The cache: uid → pod, container id → pod, with its own lock. */
struct k8s_cache;

struct k8s_cache *k8s_cache__new(size_t max_pods, uint64_t grace_ns);
void k8s_cache__free(struct k8s_cache *c);
/* Takes pod's reference. -ENOSPC (not cached: full) or -ENOMEM; the reference is dropped then. */
int k8s_cache__upsert(struct k8s_cache *c, struct k8s_pod *pod);
void k8s_cache__delete(struct k8s_cache *c, const char *uid, uint64_t now_ns);
/* A full list: pods it does not show are deleted at its end. */
void k8s_cache__begin_list(struct k8s_cache *c);
void k8s_cache__end_list(struct k8s_cache *c, uint64_t now_ns);
/* Frees the pods whose grace is over; returns how many. */
size_t k8s_cache__expire(struct k8s_cache *c, uint64_t now_ns);
struct k8s_pod *k8s_cache__lookup(struct k8s_cache *c, const char *container_id,
				  const char *pod_uid);
void k8s_cache__counts(struct k8s_cache *c, uint64_t *pods, uint64_t *containers);

uint64_t k8s_now_ns(void);

#endif /* FORNAX_K8S_IMPL_H */
