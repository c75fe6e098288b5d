/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 for the agent: resolving --cgroup arguments to the ids the BPF
 * filter matches, and naming the cgroup of each sample (path, container id,
 * Kubernetes pod UID) from the id the BPF program records.
 *
 * A cgroup v2 id is its kernfs node id, which is also the inode number of
 * its directory; open_by_handle_at() on the cgroup2 mount turns an id back
 * into a path even after every process of the cgroup has exited.
 */
#ifndef FORNAX_CGROUPS_H
#define FORNAX_CGROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* The --cgroup subtrees, filtered inside the kernel. */
struct cgroup_filter {
	char **paths;   /* relative to the cgroup2 root, "/a/b" */
	__u64 *ids;
	__u32 *levels;  /* the root is level 0 */
	size_t n;
};

/*
 * Resolves one --cgroup argument: a directory on the cgroup2 filesystem,
 * given as an absolute path under its mount ("/sys/fs/cgroup/a/b") or
 * relative to its root ("/a/b" or "a/b"). On failure returns -errno and
 * sets *why to a short reason for the user.
 */
int cgroup_filter__add(struct cgroup_filter *f, const char *arg, const char **why);
void cgroup_filter__free(struct cgroup_filter *f);
/* Smallest and largest level in f (f->n > 0). */
void cgroup_filter__levels(const struct cgroup_filter *f, __u32 *min, __u32 *max);
/* Puts f's ids into a program's cgroup_filter map (cgroup_filter.bpf.h). f may be NULL. 0 or -errno. */
int cgroup_filter__fill(const struct cgroup_filter *f, int map_fd);

/*
 * The container id and pod UID a cgroup path shows, for the layouts of
 * docker (systemd and cgroupfs drivers), containerd, CRI-O and podman,
 * under Kubernetes or not. Each output is set to "" when the path does not
 * show one. container_id needs 65 bytes, pod_uid 37.
 */
void cgroup_path__parse(const char *path, char container_id[65], char pod_uid[37]);

struct cgroup_info {
	const char *path;         /* relative to the cgroup2 root: "/system.slice/x.scope" */
	const char *container_id; /* NULL when the path shows none */
	const char *pod_uid;      /* NULL when the path shows none */
};

struct cgroups_stats {
	__u64 cached;
	__u64 resolved;
	__u64 unresolved; /* ids whose cgroup was already gone (negative entries) */
	__u64 evicted;
};

struct cgroups;

/* NULL with errno set (ENOENT: no cgroup2 mount). */
struct cgroups *cgroups__new(size_t max_entries, unsigned idle_cycles);
void cgroups__free(struct cgroups *c);

/*
 * The cgroup named by id, resolved on first use and cached; NULL when it
 * cannot be resolved (removed already, or id 0). Valid until the next
 * cgroups__end_cycle().
 */
const struct cgroup_info *cgroups__lookup(struct cgroups *c, __u64 id);
/* Evicts entries unused for idle_cycles, and beyond max_entries. */
void cgroups__end_cycle(struct cgroups *c);
void cgroups__stats(const struct cgroups *c, struct cgroups_stats *out);

#endif /* FORNAX_CGROUPS_H */
