// SPDX-License-Identifier: Apache-2.0
/* agent/cgroups.c: container ids and pod UIDs from cgroup paths, and id → path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroups.h"
#include "test.h"

#define ID "3f2a9c1d4e5b6a7081928374655647382910abcdefabcdefabcdef0123456789"
#define UID "7d5c4b3a-2f1e-4d0c-9b8a-76543210fedc"
#define UID_ESC "7d5c4b3a_2f1e_4d0c_9b8a_76543210fedc"

static int expect(const char *path, const char *want_id, const char *want_pod)
{
	char id[65], pod[37];

	cgroup_path__parse(path, id, pod);
	if (strcmp(id, want_id) != 0 || strcmp(pod, want_pod) != 0) {
		fprintf(stderr, "  %s: got id '%s' pod '%s'\n", path, id, pod);
		return 1;
	}
	return 0;
}

TEST(runtime_layouts)
{
	int bad = 0;

	bad |= expect("/system.slice/docker-" ID ".scope", ID, "");
	bad |= expect("/docker/" ID, ID, "");
	bad |= expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ESC
		      ".slice/cri-containerd-" ID ".scope", ID, UID);
	bad |= expect("/kubepods.slice/kubepods-pod" UID_ESC ".slice/crio-" ID ".scope", ID, UID);
	bad |= expect("/kubepods/besteffort/pod" UID "/" ID, ID, UID);
	bad |= expect("/machine.slice/libpod-" ID ".scope", ID, "");
	bad |= expect("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID
		      ".scope/container", ID, "");
	bad |= expect("/system.slice/containerd.service", "", "");
	bad |= expect("/user.slice/user-0.slice/session-1.scope", "", "");
	bad |= expect("/", "", "");
	bad |= expect("", "", "");
	/* the pod's own slice, before any container */
	bad |= expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ESC
		      ".slice", "", UID);
	return bad;
}

TEST(near_misses_are_not_ids)
{
	int bad = 0;

	/* conmon monitors a container from beside it */
	bad |= expect("/machine.slice/libpod-conmon-" ID ".scope", "", "");
	/* 63 and 65 hex digits, upper case, a non-hex letter */
	bad |= expect("/docker/" "3f2a9c1d4e5b6a7081928374655647382910abcdefabcdefabcdef012345678", "", "");
	bad |= expect("/docker/" ID "0", "", "");
	bad |= expect("/docker/3F2A9C1D4E5B6A7081928374655647382910ABCDEFABCDEFABCDEF0123456789", "", "");
	bad |= expect("/docker/3g2a9c1d4e5b6a7081928374655647382910abcdefabcdefabcdef0123456789", "", "");
	/* a malformed UID */
	bad |= expect("/kubepods/burstable/pod7d5c4b3a-2f1e-4d0c-9b8a-76543210fedX", "", "");
	bad |= expect("/kubepods/burstable/xpod" UID, "", "");
	return bad;
}

/* The cgroup2 mount point from mountinfo, "" if none. */
static void cgroup2_mount(char *mnt, size_t size)
{
	FILE *m = fopen("/proc/self/mountinfo", "re");
	char line[1024], a[64], b[64], dev[64], root[256], point[256];

	mnt[0] = '\0';
	while (m && fgets(line, sizeof(line), m)) {
		if (strstr(line, " - cgroup2 ") &&
		    sscanf(line, "%63s %63s %63s %255s %255s", a, b, dev, root, point) == 5) {
			snprintf(mnt, size, "%s", point);
			break;
		}
	}
	if (m)
		fclose(m);
}

/* id → path through open_by_handle_at (root and a cgroup2 mount needed). */
TEST(resolve_ids)
{
	struct cgroup_filter f = {};
	const struct cgroup_info *info;
	char mnt[256], rel[128], parent[512], full[512];
	struct cgroups *c;
	const char *why;
	__u32 min, max;
	int err;

	cgroup2_mount(mnt, sizeof(mnt));
	c = cgroups__new(0, 0);
	if (!c || geteuid() != 0 || !mnt[0]) {
		cgroups__free(c);
		TEST_SKIP("needs root and a cgroup2 mount");
	}
	ASSERT_EQ(cgroup_filter__add(&f, "/", &why), 0);
	ASSERT_EQ(f.levels[0], 0);
	ASSERT_STREQ(f.paths[0], "/");
	info = cgroups__lookup(c, f.ids[0]);
	ASSERT_TRUE(info);
	ASSERT_STREQ(info->path, "/");
	ASSERT_TRUE(cgroups__lookup(c, 0) == NULL);

	/* a container-like cgroup made here, named relative to the root */
	snprintf(rel, sizeof(rel), "fornax-unit-%d/docker-" ID ".scope", getpid());
	snprintf(parent, sizeof(parent), "%s/fornax-unit-%d", mnt, getpid());
	snprintf(full, sizeof(full), "%s/%s", mnt, rel);
	ASSERT_EQ(mkdir(parent, 0755), 0);
	ASSERT_EQ(mkdir(full, 0755), 0);
	err = cgroup_filter__add(&f, rel, &why);
	if (!err) {
		info = cgroups__lookup(c, f.ids[1]);
		err = !info || strncmp(info->path, "/fornax-unit-", 13) != 0 ||
		      !info->container_id || strcmp(info->container_id, ID) != 0;
	}
	rmdir(full);
	rmdir(parent);
	ASSERT_EQ(err, 0);
	ASSERT_EQ(f.levels[1], 2);
	cgroup_filter__levels(&f, &min, &max);
	ASSERT_EQ(min, 0);
	ASSERT_EQ(max, 2);
	/* removed now, but cached: samples drained after it went keep their labels */
	ASSERT_TRUE(cgroups__lookup(c, f.ids[1]) != NULL);
	cgroup_filter__free(&f);
	cgroups__free(c);
	return 0;
}

TEST(filter_rejects)
{
	struct cgroup_filter f = {};
	const char *why;

	ASSERT_EQ(cgroup_filter__add(&f, "", &why), -EINVAL);
	ASSERT_TRUE(why);
	ASSERT_TRUE(cgroup_filter__add(&f, "/a/../b", &why) != 0);
	ASSERT_TRUE(why);
	ASSERT_TRUE(cgroup_filter__add(&f, "/no-such-cgroup-fornax", &why) != 0);
	ASSERT_TRUE(why);
	ASSERT_EQ(f.n, 0);
	cgroup_filter__free(&f);
	return 0;
}

int main(void)
{
	RUN(runtime_layouts);
	RUN(near_misses_are_not_ids);
	RUN(resolve_ids);
	RUN(filter_rejects);
	return test_summary();
}
