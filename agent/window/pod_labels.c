// SPDX-License-Identifier: Apache-2.0
/*
 * A sample's Kubernetes labels: its pod, found by the container id or pod
 * UID of its cgroup, named namespace, pod, container and node, with the
 * pod's __meta_kubernetes_* labels beside them for relabel_configs
 * (Prometheus' kubernetes_sd names, so rules written for Prometheus or
 * Parca Agent apply). What the rules leave, minus the __-prefixed names,
 * goes on the sample.
 */
#include "pod_labels.h"

#include <errno.h>
#include <string.h>

#include "k8s_pods.h"
#include "relabel.h"

static int set_label(void *ctx, const char *name, const char *value)
{
	return label_set__set(ctx, name, value);
}

/* The labels the window sets itself: a rule must not overwrite them. */
static bool own_label(const char *name)
{
	static const char *const own[] = { "pid", "tid", "comm", "thread_name", "cgroup",
					   "container_id", "pod_uid", "unwind" };

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(name, own[i]) == 0)
			return true;
	return false;
}

int pod_labels__add(struct k8s_pods *k8s, const struct relabel_rules *rules,
		    struct label_set *scratch, const struct cgroup_info *cg,
		    struct pprof_label *labels, size_t *n, size_t max, struct window_stats *stats)
{
	const char *cid = cg->container_id ? cg->container_id : "";
	struct k8s_pod *pod;
	const char *container;
	int err;

	if (!k8s || (!cg->container_id && !cg->pod_uid))
		return 0;
	pod = k8s_pods__lookup(k8s, cid, cg->pod_uid ? cg->pod_uid : "");
	if (!pod)
		return 0; /* not (yet) known: the sample keeps its ids */
	label_set__clear(scratch);
	err = k8s_pod__meta_labels(pod, cid, set_label, scratch);
	container = k8s_pod__container(pod, cid);
	if (!err)
		err = label_set__set(scratch, "namespace", k8s_pod__namespace(pod));
	if (!err)
		err = label_set__set(scratch, "pod", k8s_pod__name(pod));
	if (!err && container)
		err = label_set__set(scratch, "container", container);
	if (!err)
		err = label_set__set(scratch, "node", k8s_pod__node(pod));
	k8s_pod__put(pod);
	if (err)
		return err;
	if (rules) {
		err = relabel_rules__apply(rules, scratch);
		if (err == 0) {
			stats->relabel_dropped++;
			return 1;
		}
		if (err < 0)
			stats->relabel_errors++;
	}
	for (size_t i = 0; i < label_set__count(scratch); i++) {
		const char *name, *value;

		label_set__at(scratch, i, &name, &value);
		if (!strncmp(name, "__", 2) || own_label(name) || !*value)
			continue;
		if (*n == max) {
			stats->labels_dropped++;
			continue;
		}
		labels[(*n)++] = (struct pprof_label){ .key = name, .str = value };
	}
	return 0;
}
