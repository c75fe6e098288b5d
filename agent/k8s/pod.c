// SPDX-License-Identifier: Apache-2.0
/* A pod from the API server's JSON, and what a sample is named after. */
#include "k8s_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kubernetes caps names at 253 and label values at 63; annotations may be long. */
#define MAX_FIELD_BYTES 1024

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A copy of a field that is short and free of control characters; NULL otherwise. */
static char *clean_dup(const char *s)
{
	size_t n = 0;

	if (!s)
		return NULL;
	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f || n >= MAX_FIELD_BYTES)
			return NULL;
	return strdup(s);
}

/* Like clean_dup, but "" for an absent field; NULL only for a bad one or no memory. */
static char *optional(json_object *o, const char *key)
{
	const char *s = get_str(o, key);

	return s ? clean_dup(s) : strdup("");
}

static void free_kvs(struct k8s_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	free(kv);
}

static void pod_free(struct k8s_pod *pod)
{
	free(pod->ns);
	free(pod->name);
	free(pod->uid);
	free(pod->node);
	free(pod->phase);
	free(pod->ip);
	free(pod->owner_kind);
	free(pod->owner_name);
	free_kvs(pod->labels, pod->n_labels);
	free_kvs(pod->annotations, pod->n_annotations);
	for (size_t i = 0; i < pod->n_containers; i++) {
		free(pod->containers[i].name);
		free(pod->containers[i].id);
		free(pod->containers[i].runtime_id);
		free(pod->containers[i].image);
	}
	free(pod->containers);
	free(pod);
}

struct k8s_pod *k8s_pod__get(struct k8s_pod *pod)
{
	atomic_fetch_add_explicit(&pod->refs, 1, memory_order_relaxed);
	return pod;
}

void k8s_pod__put(struct k8s_pod *pod)
{
	if (pod && atomic_fetch_sub_explicit(&pod->refs, 1, memory_order_acq_rel) == 1)
		pod_free(pod);
}

/* metadata.labels or .annotations: string values only, at most max. */
static int parse_kvs(json_object *map, size_t max, struct k8s_kv **out, size_t *n,
		     uint64_t *dropped)
{
	size_t len;

	*out = NULL;
	*n = 0;
	if (!map)
		return 0;
	if (!json_object_is_type(map, json_type_object))
		return -EBADMSG;
	len = (size_t)json_object_object_length(map);
	if (!len)
		return 0;
	*out = calloc(len < max ? len : max, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_object_object_foreach(map, key, val) {
		char *k, *v;

		if (*n == max || !json_object_is_type(val, json_type_string)) {
			(*dropped)++;
			continue;
		}
		k = clean_dup(key);
		v = clean_dup(json_object_get_string(val));
		if (!k || !v) {
			free(k);
			free(v);
			(*dropped)++;
			continue;
		}
		(*out)[(*n)++] = (struct k8s_kv){ .name = k, .value = v };
	}
	return 0;
}

static bool hex64(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

/* status.containerStatuses and its init and ephemeral twins. */
static int parse_containers(json_object *status, struct k8s_pod *pod)
{
	static const char *const lists[] = {
		"initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses",
	};
	size_t total = 0;

	for (size_t l = 0; l < 3; l++) {
		json_object *a = get(status, lists[l]);

		if (a && !json_object_is_type(a, json_type_array))
			return -EBADMSG;
		total += a ? json_object_array_length(a) : 0;
	}
	if (!total)
		return 0;
	pod->containers = calloc(total, sizeof(*pod->containers));
	if (!pod->containers)
		return -ENOMEM;
	for (size_t l = 0; l < 3; l++) {
		json_object *a = get(status, lists[l]);

		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			json_object *cs = json_object_array_get_idx(a, i);
			struct k8s_container *c = &pod->containers[pod->n_containers];
			const char *rid = get_str(cs, "containerID"), *sep;

			if (!get_str(cs, "name"))
				return -EBADMSG;
			c->init = l == 0;
			c->name = clean_dup(get_str(cs, "name"));
			c->runtime_id = optional(cs, "containerID");
			c->image = optional(cs, "image");
			sep = rid ? strstr(rid, "://") : NULL;
			c->id = strdup(sep && hex64(sep + 3) ? sep + 3 : "");
			pod->n_containers++;
			if (!c->name || !c->runtime_id || !c->image || !c->id)
				return -EBADMSG;
		}
	}
	return 0;
}

/* The owner that controls the pod (its ReplicaSet, DaemonSet, Job...). */
static int parse_owner(json_object *meta, struct k8s_pod *pod)
{
	json_object *owners = get(meta, "ownerReferences");

	for (size_t i = 0; owners && json_object_is_type(owners, json_type_array) &&
			   i < json_object_array_length(owners); i++) {
		json_object *o = json_object_array_get_idx(owners, i);
		json_object *controller = get(o, "controller");

		if (controller && json_object_get_boolean(controller)) {
			pod->owner_kind = optional(o, "kind");
			pod->owner_name = optional(o, "name");
			return pod->owner_kind && pod->owner_name ? 0 : -EBADMSG;
		}
	}
	pod->owner_kind = strdup("");
	pod->owner_name = strdup("");
	return pod->owner_kind && pod->owner_name ? 0 : -ENOMEM;
}

int k8s_pod__from_json(json_object *o, size_t max_labels, struct k8s_pod **out,
		       uint64_t *dropped)
{
	json_object *meta = get(o, "metadata"), *spec = get(o, "spec"), *status = get(o, "status");
	struct k8s_pod *pod;
	int err;

	*out = NULL;
	if (!meta || !get_str(meta, "name") || !get_str(meta, "namespace") ||
	    !get_str(meta, "uid"))
		return -EBADMSG;
	pod = calloc(1, sizeof(*pod));
	if (!pod)
		return -ENOMEM;
	atomic_init(&pod->refs, 1);
	pod->ns = clean_dup(get_str(meta, "namespace"));
	pod->name = clean_dup(get_str(meta, "name"));
	pod->uid = clean_dup(get_str(meta, "uid"));
	pod->node = optional(spec, "nodeName");
	pod->phase = optional(status, "phase");
	pod->ip = optional(status, "podIP");
	err = pod->ns && pod->name && pod->uid && pod->node && pod->phase && pod->ip ? 0
										     : -EBADMSG;
	if (!err)
		err = parse_kvs(get(meta, "labels"), max_labels, &pod->labels, &pod->n_labels,
				dropped);
	if (!err)
		err = parse_kvs(get(meta, "annotations"), max_labels, &pod->annotations,
				&pod->n_annotations, dropped);
	if (!err)
		err = parse_owner(meta, pod);
	if (!err && status)
		err = parse_containers(status, pod);
	if (err) {
		pod_free(pod);
		return err;
	}
	*out = pod;
	return 0;
}

const char *k8s_resource_version(json_object *o)
{
	return get_str(get(o, "metadata"), "resourceVersion");
}

const char *k8s_pod__namespace(const struct k8s_pod *pod)
{
	return pod->ns;
}

const char *k8s_pod__name(const struct k8s_pod *pod)
{
	return pod->name;
}

const char *k8s_pod__uid(const struct k8s_pod *pod)
{
	return pod->uid;
}

const char *k8s_pod__node(const struct k8s_pod *pod)
{
	return pod->node;
}

static const struct k8s_container *find_container(const struct k8s_pod *pod, const char *id)
{
	for (size_t i = 0; id && *id && i < pod->n_containers; i++)
		if (strcmp(pod->containers[i].id, id) == 0)
			return &pod->containers[i];
	return NULL;
}

const char *k8s_pod__container(const struct k8s_pod *pod, const char *container_id)
{
	const struct k8s_container *c = find_container(pod, container_id);

	return c ? c->name : NULL;
}

const char *k8s_pod__label(const struct k8s_pod *pod, const char *name)
{
	for (size_t i = 0; i < pod->n_labels; i++)
		if (strcmp(pod->labels[i].name, name) == 0)
			return pod->labels[i].value;
	return NULL;
}

/* prefix + name with every character outside [a-zA-Z0-9_] as _, as Prometheus sanitizes. */
static int emit_named(int (*emit)(void *, const char *, const char *), void *ctx,
		      const char *prefix, const char *name, const char *value)
{
	char buf[64 + MAX_FIELD_BYTES];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", prefix);

	for (const char *p = name; *p && n + 1 < sizeof(buf); p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_';

		buf[n++] = ok ? c : '_';
	}
	buf[n] = '\0';
	return emit(ctx, buf, value);
}

int k8s_pod__meta_labels(const struct k8s_pod *pod, const char *container_id,
			 int (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
	const struct k8s_container *c = find_container(pod, container_id);
	const struct {
		const char *name, *value;
	} fixed[] = {
		{ "__meta_kubernetes_namespace", pod->ns },
		{ "__meta_kubernetes_pod_name", pod->name },
		{ "__meta_kubernetes_pod_uid", pod->uid },
		{ "__meta_kubernetes_pod_node_name", pod->node },
		{ "__meta_kubernetes_pod_phase", pod->phase },
		{ "__meta_kubernetes_pod_ip", pod->ip },
		{ "__meta_kubernetes_pod_controller_kind", pod->owner_kind },
		{ "__meta_kubernetes_pod_controller_name", pod->owner_name },
		{ "__meta_kubernetes_pod_container_name", c ? c->name : "" },
		{ "__meta_kubernetes_pod_container_id", c ? c->runtime_id : "" },
		{ "__meta_kubernetes_pod_container_image", c ? c->image : "" },
		{ "__meta_kubernetes_pod_container_init", c ? (c->init ? "true" : "false") : "" },
	};
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (*fixed[i].value)
			err = emit(ctx, fixed[i].name, fixed[i].value);
	for (size_t i = 0; !err && i < pod->n_labels; i++) {
		err = emit_named(emit, ctx, "__meta_kubernetes_pod_label_", pod->labels[i].name,
				 pod->labels[i].value);
		if (!err)
			err = emit_named(emit, ctx, "__meta_kubernetes_pod_labelpresent_",
					 pod->labels[i].name, "true");
	}
	for (size_t i = 0; !err && i < pod->n_annotations; i++) {
		err = emit_named(emit, ctx, "__meta_kubernetes_pod_annotation_",
				 pod->annotations[i].name, pod->annotations[i].value);
		if (!err)
			err = emit_named(emit, ctx, "__meta_kubernetes_pod_annotationpresent_",
					 pod->annotations[i].name, "true");
	}
	return err;
}
