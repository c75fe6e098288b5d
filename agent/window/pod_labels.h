/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the window: a sample's Kubernetes labels (pod_labels.c). */
#ifndef FORNAX_POD_LABELS_H
#define FORNAX_POD_LABELS_H

#include <stddef.h>

#include "cgroups.h"
#include "pprof.h"
#include "window.h"

struct k8s_pods;
struct label_set;
struct relabel_rules;

/*
 * Appends the labels of cg's pod to labels[*n..max) (namespace, pod,
 * container, node, or what rules make of them with the pod's
 * __meta_kubernetes_* labels); their strings live in scratch until its next
 * use. Returns 0, 1 when a rule drops the sample, or -ENOMEM. A pod not
 * (yet) known adds nothing.
 */
int pod_labels__add(struct k8s_pods *k8s, const struct relabel_rules *rules,
		    struct label_set *scratch, const struct cgroup_info *cg,
		    struct pprof_label *labels, size_t *n, size_t max, struct window_stats *stats);

#endif /* FORNAX_POD_LABELS_H */
