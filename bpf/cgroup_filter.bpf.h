/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel --cgroup filter, shared by every fornax BPF program that must
 * agree on what is sampled. A task passes when one of its cgroup v2
 * ancestors (itself included) is in cgroup_filter. Only the levels the
 * agent's cgroups sit at are checked, so the walk costs one helper call and
 * one hash lookup per configured level, whatever the depth of the tree.
 */
#ifndef FORNAX_BPF_CGROUP_FILTER_H
#define FORNAX_BPF_CGROUP_FILTER_H

#include <bpf/bpf_helpers.h>

const volatile bool filter_cgroups = false;
/* Inclusive range of the configured cgroups' levels (the root is level 0). */
const volatile __u32 cgroup_min_level = 0;
const volatile __u32 cgroup_max_level = 0;

/* cgroup ids (kernfs node ids) to sample under; the value is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

struct cgroup_filter_ctx {
	bool found;
};

static long cgroup_filter_level(__u64 i, void *data)
{
	struct cgroup_filter_ctx *c = data;
	__u64 id = bpf_get_current_ancestor_cgroup_id(cgroup_min_level + (int)i);

	/* 0: the task's cgroup is shallower than this level; deeper ones cannot match either */
	if (!id)
		return 1;
	if (bpf_map_lookup_elem(&cgroup_filter, &id)) {
		c->found = true;
		return 1;
	}
	return 0;
}

/* True when the current task is to be sampled. */
static __always_inline bool cgroup_filter_pass(void)
{
	struct cgroup_filter_ctx c = {};

	if (!filter_cgroups)
		return true;
	bpf_loop(cgroup_max_level - cgroup_min_level + 1, cgroup_filter_level, &c, 0);
	return c.found;
}

#endif /* FORNAX_BPF_CGROUP_FILTER_H */
