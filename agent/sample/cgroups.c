// SPDX-License-Identifier: Apache-2.0
#include "cgroups.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "hashmap.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
/* kernfs's file handle type (include/linux/exportfs.h): the handle is the 64-bit node id */
#define FILEID_KERNFS 0xfe
#define CONTAINER_ID_LEN 64
#define POD_UID_LEN 36

/* The first cgroup2 mount in mountinfo, unescaped. NULL with errno set. */
static char *cgroup2_mount(void)
{
	char *line = NULL, *found = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - "), *save = NULL, *field, *dst;
		int i;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		/* id parent major:minor root mountpoint ... */
		field = strtok_r(line, " ", &save);
		for (i = 0; field && i < 4; i++)
			field = strtok_r(NULL, " ", &save);
		if (!field)
			continue;
		/* the kernel escapes space, tab, newline and backslash as \ooo */
		found = dst = strdup(field);
		if (!found)
			break;
		for (const char *p = field; *p; p++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
			    p[3] >= '0' && p[3] <= '7') {
				*dst++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
				p += 3;
			} else {
				*dst++ = *p;
			}
		}
		*dst = '\0';
	}
	free(line);
	fclose(f);
	if (!found && !errno)
		errno = ENOENT;
	return found;
}

/* "/a//b/" → "/a/b"; NULL for "..", "." components (no escaping the mount). */
static char *normalize(const char *rel)
{
	char *out = malloc(strlen(rel) + 2), *o = out;
	const char *p = rel;

	if (!out)
		return NULL;
	while (*p) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		*o++ = '/';
		memcpy(o, p, len);
		o += len;
		p = end;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	return out;
}

static __u32 path_level(const char *rel)
{
	__u32 level = 0;

	for (const char *p = rel; *p; p++)
		level += *p == '/' && p[1];
	return level;
}

static int cgroup_id_of(const char *full, __u64 *id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh.handle_bytes = sizeof(__u64) };
	struct stat st;
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, full, &h.fh, &mount_id, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(__u64)) {
		*id = h.id;
		return 0;
	}
	/* no handle support: the directory's inode is the same number on 64-bit kernels */
	if (stat(full, &st) != 0)
		return -errno;
	*id = st.st_ino;
	return 0;
}

int cgroup_filter__add(struct cgroup_filter *f, const char *arg, const char **why)
{
	char *mnt = NULL, *rel = NULL, *full = NULL, **paths;
	size_t mlen;
	struct statfs sfs;
	struct stat st;
	__u64 id = 0, *ids;
	__u32 *levels;
	int err;

	*why = NULL;
	if (!arg || !*arg) {
		*why = "needs a cgroup path";
		return -EINVAL;
	}
	mnt = cgroup2_mount();
	if (!mnt) {
		err = errno == ENOMEM ? -ENOMEM : -ENOENT;
		*why = "cannot be used: no cgroup2 filesystem is mounted";
		goto cleanup;
	}
	mlen = strlen(mnt);
	if (strncmp(arg, mnt, mlen) == 0 && (arg[mlen] == '/' || arg[mlen] == '\0'))
		rel = normalize(arg + mlen);
	else
		rel = normalize(arg);
	if (!rel) {
		err = -errno;
		*why = err == -ENOMEM ? NULL : "must not contain . or .. components";
		goto cleanup;
	}
	if (asprintf(&full, "%s%s", mnt, strcmp(rel, "/") ? rel : "") < 0) {
		full = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err = -ENOENT;
		*why = "is not a cgroup (no such directory under the cgroup2 mount)";
		goto cleanup;
	}
	if (statfs(full, &sfs) != 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		err = -EINVAL;
		*why = "is not on the cgroup2 filesystem";
		goto cleanup;
	}
	err = cgroup_id_of(full, &id);
	if (err) {
		*why = "cannot be resolved to a cgroup id";
		goto cleanup;
	}
	paths = realloc(f->paths, (f->n + 1) * sizeof(*paths));
	if (paths)
		f->paths = paths;
	ids = realloc(f->ids, (f->n + 1) * sizeof(*ids));
	if (ids)
		f->ids = ids;
	levels = realloc(f->levels, (f->n + 1) * sizeof(*levels));
	if (levels)
		f->levels = levels;
	if (!paths || !ids || !levels) {
		err = -ENOMEM;
		goto cleanup;
	}
	f->paths[f->n] = rel;
	f->ids[f->n] = id;
	f->levels[f->n] = path_level(rel);
	f->n++;
	rel = NULL;
	err = 0;

cleanup:
	free(mnt);
	free(rel);
	free(full);
	return err;
}

void cgroup_filter__free(struct cgroup_filter *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->paths[i]);
	free(f->paths);
	free(f->ids);
	free(f->levels);
	*f = (struct cgroup_filter){ 0 };
}

void cgroup_filter__levels(const struct cgroup_filter *f, __u32 *min, __u32 *max)
{
	*min = UINT_MAX;
	*max = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->levels[i] < *min)
			*min = f->levels[i];
		if (f->levels[i] > *max)
			*max = f->levels[i];
	}
	if (*min > *max)
		*min = *max;
}

int cgroup_filter__fill(const struct cgroup_filter *f, int map_fd)
{
	__u8 yes = 1;

	for (size_t i = 0; f && i < f->n; i++) {
		int err = bpf_map_update_elem(map_fd, &f->ids[i], &yes, BPF_ANY);

		if (err)
			return err;
	}
	return 0;
}

/* ---- container ids ---- */

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* Runtimes name a container's scope "<prefix><64 hex>[.scope]", or just the hex (cgroupfs drivers). */
static bool component_container_id(const char *c, size_t len, char out[65])
{
	static const char *const prefixes[] = {
		"docker-", "cri-containerd-", "crio-", "libpod-", "containerd-", "nerdctl-",
	};
	const char *id = c;

	if (len > 6 && memcmp(c + len - 6, ".scope", 6) == 0)
		len -= 6;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t plen = strlen(prefixes[i]);

		if (len > plen && memcmp(c, prefixes[i], plen) == 0) {
			id = c + plen;
			len -= plen;
			break;
		}
	}
	if (len != CONTAINER_ID_LEN || !all_hex(id, len))
		return false;
	memcpy(out, id, len);
	out[len] = '\0';
	return true;
}

/*
 * "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid>.slice" (systemd, where
 * the uid's dashes are escaped as underscores).
 */
static bool component_pod_uid(const char *c, size_t len, char out[37])
{
	char tmp[POD_UID_LEN + 1];
	const char *uid;

	if (len > 6 && memcmp(c + len - 6, ".slice", 6) == 0)
		len -= 6;
	if (len < 3 + POD_UID_LEN)
		return false;
	uid = c + len - POD_UID_LEN;
	if (memcmp(uid - 3, "pod", 3) != 0 || (uid - 3 != c && uid[-4] != '-'))
		return false;
	for (size_t i = 0; i < POD_UID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char ch = uid[i];

		if (dash ? (ch != '-' && ch != '_') : !isxdigit((unsigned char)ch))
			return false;
		tmp[i] = dash ? '-' : (char)tolower((unsigned char)ch);
	}
	tmp[POD_UID_LEN] = '\0';
	memcpy(out, tmp, sizeof(tmp));
	return true;
}

void cgroup_path__parse(const char *path, char container_id[65], char pod_uid[37])
{
	const char *end = path + strlen(path);

	container_id[0] = '\0';
	pod_uid[0] = '\0';
	/* innermost first: a container nested in another's cgroup is the inner one */
	while (end > path) {
		const char *start = end;
		size_t len;

		while (start > path && start[-1] != '/')
			start--;
		len = (size_t)(end - start);
		/* conmon, podman's and CRI-O's monitor, lives beside the container, not in it */
		if (len && !memmem(start, len, "conmon", 6)) {
			if (!container_id[0])
				component_container_id(start, len, container_id);
			if (!pod_uid[0])
				component_pod_uid(start, len, pod_uid);
		}
		end = start > path ? start - 1 : path;
	}
}

/* ---- id → cgroup cache ---- */

struct cgroup_entry {
	__u64 id;
	struct cgroup_info info; /* info.path NULL: negative entry */
	char container_id[CONTAINER_ID_LEN + 1];
	char pod_uid[POD_UID_LEN + 1];
	__u64 last_used;
	TAILQ_ENTRY(cgroup_entry) lru;
};

struct cgroups {
	char *mount;
	size_t mount_len;
	int mount_fd;
	struct hmap entries; /* id → cgroup_entry */
	TAILQ_HEAD(cgroup_lru, cgroup_entry) lru; /* most recently used first */
	size_t max_entries;
	unsigned idle_cycles;
	__u64 cycle;
	struct cgroups_stats stats;
};

struct cgroups *cgroups__new(size_t max_entries, unsigned idle_cycles)
{
	struct cgroups *c = calloc(1, sizeof(*c));
	int err;

	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->mount_fd = -1;
	TAILQ_INIT(&c->lru);
	c->max_entries = max_entries ? max_entries : 4096;
	c->idle_cycles = idle_cycles ? idle_cycles : 120;
	c->mount = cgroup2_mount();
	if (!c->mount) {
		err = errno;
		goto fail;
	}
	c->mount_len = strlen(c->mount);
	c->mount_fd = open(c->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->mount_fd < 0) {
		err = errno;
		goto fail;
	}
	return c;
fail:
	cgroups__free(c);
	errno = err;
	return NULL;
}

static bool entry_eq(const void *val, const void *key)
{
	return ((const struct cgroup_entry *)val)->id == *(const __u64 *)key;
}

static void entry_free(struct cgroups *c, struct cgroup_entry *e)
{
	(void)hmap__remove(&c->entries, hash_u64(e->id), e);
	TAILQ_REMOVE(&c->lru, e, lru);
	free((char *)e->info.path);
	free(e);
}

void cgroups__free(struct cgroups *c)
{
	if (!c)
		return;
	while (!TAILQ_EMPTY(&c->lru))
		entry_free(c, TAILQ_FIRST(&c->lru));
	hmap__clear(&c->entries);
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	free(c->mount);
	free(c);
}

/* The path of cgroup id relative to the mount, malloc'ed; NULL with errno set. */
static char *resolve(struct cgroups *c, __u64 id)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh.handle_bytes = sizeof(__u64), .fh.handle_type = FILEID_KERNFS, .id = id };
	char link[64], *buf = NULL, *rel = NULL;
	size_t cap = 256;
	ssize_t n;
	int fd, err = 0;

	fd = open_by_handle_at(c->mount_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	for (;;) {
		char *tmp = realloc(buf, cap);

		if (!tmp) {
			err = ENOMEM;
			goto cleanup;
		}
		buf = tmp;
		n = readlink(link, buf, cap);
		if (n < 0) {
			err = errno;
			goto cleanup;
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	buf[n] = '\0';
	if (strncmp(buf, c->mount, c->mount_len) != 0 ||
	    (buf[c->mount_len] != '/' && buf[c->mount_len] != '\0')) {
		err = ENOENT; /* outside our view of the hierarchy */
		goto cleanup;
	}
	rel = strdup(buf[c->mount_len] ? buf + c->mount_len : "/");
	if (!rel)
		err = ENOMEM;

cleanup:
	free(buf);
	close(fd);
	errno = err;
	return rel;
}

static void evict_oldest(struct cgroups *c)
{
	struct cgroup_entry *oldest = TAILQ_LAST(&c->lru, cgroup_lru);

	if (oldest) {
		entry_free(c, oldest);
		c->stats.evicted++;
	}
}

const struct cgroup_info *cgroups__lookup(struct cgroups *c, __u64 id)
{
	struct cgroup_entry *e;

	if (!c || !id)
		return NULL;
	e = hmap__find(&c->entries, hash_u64(id), entry_eq, &id);
	if (e) {
		e->last_used = c->cycle;
		TAILQ_REMOVE(&c->lru, e, lru);
		TAILQ_INSERT_HEAD(&c->lru, e, lru);
		return e->info.path ? &e->info : NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->id = id;
	e->last_used = c->cycle;
	e->info.path = resolve(c, id);
	if (e->info.path) {
		cgroup_path__parse(e->info.path, e->container_id, e->pod_uid);
		e->info.container_id = e->container_id[0] ? e->container_id : NULL;
		e->info.pod_uid = e->pod_uid[0] ? e->pod_uid : NULL;
		c->stats.resolved++;
	} else if (errno == ENOMEM) {
		free(e);
		return NULL;
	} else {
		c->stats.unresolved++;
	}
	while (hmap__len(&c->entries) >= c->max_entries)
		evict_oldest(c);
	if (hmap__insert(&c->entries, hash_u64(id), e)) {
		free((char *)e->info.path);
		free(e);
		return NULL;
	}
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	return e->info.path ? &e->info : NULL;
}

void cgroups__end_cycle(struct cgroups *c)
{
	struct cgroup_entry *e;

	if (!c)
		return;
	while ((e = TAILQ_LAST(&c->lru, cgroup_lru)) && c->cycle - e->last_used >= c->idle_cycles) {
		entry_free(c, e);
		c->stats.evicted++;
	}
	hmap__shrink(&c->entries);
	c->cycle++;
}

void cgroups__stats(const struct cgroups *c, struct cgroups_stats *out)
{
	*out = c->stats;
	out->cached = hmap__len(&c->entries);
}
