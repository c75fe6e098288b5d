// SPDX-License-Identifier: Apache-2.0
/*
 * The spool: durable, ordered, bounded, locked, and suspicious of what it
 * reads back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "test.h"

#define HEADER 24

static char base_dir[PATH_MAX], dir[PATH_MAX + 16];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int fresh_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (base_dir[0])
		nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	snprintf(base_dir, sizeof(base_dir), "%s/fornax-spool-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base_dir))
		return -1;
	/* The spool creates its directory itself: hand it a path below the temporary one. */
	snprintf(dir, sizeof(dir), "%s/spool", base_dir);
	return 0;
}

struct evictions {
	__s64 times[64];
	size_t bytes[64];
	int why[64];
	int n;
};

static void on_evict(void *ctx, __s64 t, size_t bytes, int why)
{
	struct evictions *e = ctx;

	if (e->n < 64) {
		e->times[e->n] = t;
		e->bytes[e->n] = bytes;
		e->why[e->n] = why;
	}
	e->n++;
}

static int count_files(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static int read_back(struct spool *s, __s64 want_time, const char *want)
{
	void *buf = NULL;
	size_t len = 0;
	__s64 t = 0;
	int err = spool__read_oldest(s, &buf, &len, &t);

	if (err) {
		fprintf(stderr, "  read_oldest: %s\n", strerror(-err));
		return -1;
	}
	if (t != want_time || len != strlen(want) || memcmp(buf, want, len) != 0) {
		fprintf(stderr, "  read back %lld '%.*s', want %lld '%s'\n", (long long)t, (int)len,
			(char *)buf, (long long)want_time, want);
		free(buf);
		return -1;
	}
	free(buf);
	return spool__remove_oldest(s);
}

TEST(put_and_replay_oldest_first)
{
	struct spool_open_stats st;
	struct spool *s;
	struct stat sb;

	ASSERT_EQ(fresh_dir(), 0);
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, &st);
	ASSERT_TRUE(s);
	ASSERT_EQ(st.windows, 0);
	ASSERT_EQ(stat(dir, &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0700);
	/* Out of order on purpose: replay follows the windows' times, not arrival. */
	ASSERT_EQ(spool__put(s, 3000, "three", 5), 0);
	ASSERT_EQ(spool__put(s, 1000, "one", 3), 0);
	ASSERT_EQ(spool__put(s, 2000, "two", 3), 0);
	ASSERT_EQ(spool__count(s), 3);
	ASSERT_EQ(spool__bytes(s), 3 * HEADER + 11);
	ASSERT_EQ(count_files(".tmp-"), 0);
	ASSERT_EQ(read_back(s, 1000, "one"), 0);
	ASSERT_EQ(read_back(s, 2000, "two"), 0);
	ASSERT_EQ(read_back(s, 3000, "three"), 0);
	ASSERT_EQ(spool__count(s), 0);
	ASSERT_EQ(spool__bytes(s), 0);
	ASSERT_EQ(spool__read_oldest(s, &(void *){ NULL }, &(size_t){ 0 }, &(__s64){ 0 }), -ENOENT);
	spool__close(s);
	return 0;
}

TEST(survives_reopen_and_cleans_temporaries)
{
	struct spool_open_stats st;
	struct spool *s;
	char path[2 * PATH_MAX];
	int fd;

	ASSERT_EQ(fresh_dir(), 0);
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, NULL);
	ASSERT_TRUE(s);
	ASSERT_EQ(spool__put(s, 20, "b", 1), 0);
	ASSERT_EQ(spool__put(s, 10, "a", 1), 0);
	spool__close(s);

	/* A crash between create and rename leaves a temporary; a stranger's file is left alone. */
	snprintf(path, sizeof(path), "%s/.tmp-00000000000000000030-0123456789abcdef.window", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "half", 4), 4);
	close(fd);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	close(fd);

	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, &st);
	ASSERT_TRUE(s);
	ASSERT_EQ(st.windows, 2);
	ASSERT_EQ(st.bytes, 2 * (HEADER + 1));
	ASSERT_EQ(st.temp_removed, 1);
	ASSERT_EQ(st.ignored, 1);
	ASSERT_EQ(count_files(".tmp-"), 0);
	ASSERT_EQ(read_back(s, 10, "a"), 0);
	ASSERT_EQ(read_back(s, 20, "b"), 0);
	spool__close(s);
	ASSERT_EQ(count_files("notes.txt"), 1);
	return 0;
}

TEST(bounded_oldest_evicted_first)
{
	struct evictions ev = { 0 };
	char payload[100];
	struct spool *s;
	__s64 t;

	ASSERT_EQ(fresh_dir(), 0);
	memset(payload, 'x', sizeof(payload));
	/* Room for exactly three windows of 100 bytes. */
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 3 * (HEADER + 100),
					      .on_evict = on_evict, .ctx = &ev }, NULL);
	ASSERT_TRUE(s);
	for (int i = 1; i <= 5; i++)
		ASSERT_EQ(spool__put(s, i, payload, sizeof(payload)), 0);
	ASSERT_EQ(spool__count(s), 3);
	ASSERT_EQ(spool__bytes(s), 3 * (HEADER + 100));
	ASSERT_EQ(ev.n, 2);
	ASSERT_EQ(ev.times[0], 1);
	ASSERT_EQ(ev.times[1], 2);
	ASSERT_EQ(ev.bytes[0], HEADER + 100);
	ASSERT_EQ(ev.why[0], 0);
	ASSERT_TRUE(spool__oldest(s, &t));
	ASSERT_EQ(t, 3);
	ASSERT_EQ(count_files("0"), 3);

	/* Too big on its own: refused, nothing evicted for it. */
	ASSERT_EQ(spool__put(s, 9, payload, 3 * (HEADER + 100)), -EFBIG);
	ASSERT_EQ(ev.n, 2);
	ASSERT_EQ(spool__count(s), 3);
	spool__close(s);

	/* A smaller limit at the next start applies at once, oldest first. */
	ev.n = 0;
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = HEADER + 100,
					      .on_evict = on_evict, .ctx = &ev }, NULL);
	ASSERT_TRUE(s);
	ASSERT_EQ(spool__count(s), 1);
	ASSERT_EQ(ev.n, 2);
	ASSERT_EQ(ev.times[0], 3);
	ASSERT_EQ(ev.times[1], 4);
	spool__close(s);
	return 0;
}

TEST(pinned_window_is_not_evicted)
{
	struct evictions ev = { 0 };
	char payload[100];
	struct spool *s;
	void *buf;
	size_t len;
	__s64 t;

	ASSERT_EQ(fresh_dir(), 0);
	memset(payload, 'y', sizeof(payload));
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 2 * (HEADER + 100),
					      .on_evict = on_evict, .ctx = &ev }, NULL);
	ASSERT_TRUE(s);
	ASSERT_EQ(spool__put(s, 1, payload, 100), 0);
	ASSERT_EQ(spool__put(s, 2, payload, 100), 0);
	/* Window 1 is being sent: making room must take window 2, not it. */
	ASSERT_EQ(spool__read_oldest(s, &buf, &len, &t), 0);
	free(buf);
	ASSERT_EQ(t, 1);
	ASSERT_EQ(spool__put(s, 3, payload, 100), 0);
	ASSERT_EQ(ev.n, 1);
	ASSERT_EQ(ev.times[0], 2);
	ASSERT_EQ(spool__remove_oldest(s), 0);
	ASSERT_TRUE(spool__oldest(s, &t));
	ASSERT_EQ(t, 3);
	spool__close(s);
	return 0;
}

TEST(damaged_files_are_detected)
{
	char path[2 * PATH_MAX];
	struct spool *s;
	struct dirent *de;
	void *buf;
	size_t len;
	__s64 t;
	DIR *d;
	int fd;

	ASSERT_EQ(fresh_dir(), 0);
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, NULL);
	ASSERT_TRUE(s);
	ASSERT_EQ(spool__put(s, 1, "payload-one", 11), 0);
	ASSERT_EQ(spool__put(s, 2, "payload-two", 11), 0);
	/* Flip a payload byte of the oldest file: the CRC must catch it. */
	d = opendir(dir);
	ASSERT_TRUE(d);
	path[0] = '\0';
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "00000000000000000001-", 21) == 0)
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	ASSERT_TRUE(path[0]);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(pwrite(fd, "X", 1, HEADER + 3), 1);
	close(fd);
	ASSERT_EQ(spool__read_oldest(s, &buf, &len, &t), -EBADMSG);
	ASSERT_EQ(t, 1);
	ASSERT_EQ(spool__remove_oldest(s), 0);
	ASSERT_EQ(read_back(s, 2, "payload-two"), 0);

	/* Truncated: shorter than its header says. */
	ASSERT_EQ(spool__put(s, 3, "payload-three", 13), 0);
	d = opendir(dir);
	ASSERT_TRUE(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "00000000000000000003-", 21) == 0)
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	ASSERT_EQ(truncate(path, HEADER + 4), 0);
	ASSERT_EQ(spool__read_oldest(s, &buf, &len, &t), -EBADMSG);
	spool__close(s);
	return 0;
}

TEST(one_agent_per_spool)
{
	struct spool *a, *b;

	ASSERT_EQ(fresh_dir(), 0);
	a = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, NULL);
	ASSERT_TRUE(a);
	b = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, NULL);
	ASSERT_TRUE(!b);
	ASSERT_EQ(errno, EBUSY);
	spool__close(a);
	b = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 20 }, NULL);
	ASSERT_TRUE(b);
	spool__close(b);
	return 0;
}

TEST(bad_arguments)
{
	ASSERT_TRUE(!spool__open(&(struct spool_opts){ .dir = "", .max_bytes = 1 }, NULL));
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(!spool__open(&(struct spool_opts){ .dir = "/nonexistent-parent/spool",
						       .max_bytes = 1 }, NULL));
	ASSERT_EQ(errno, ENOENT);
	return 0;
}

/*
 * The spool's directory on a file system of its own, 64 KiB (tmpfs), in a
 * mount namespace of this process so nothing outlives the test. Needs root.
 */
static int small_file_system(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 || mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") < 0)
		return -1;
	return 0;
}

/* A full disk keeps the newest windows: the oldest make room, and each eviction is reported. */
TEST(full_disk_evicts_the_oldest)
{
	/* 10,024 bytes on disk: three 4 KiB pages, so five windows fill the 16 pages */
	static char payload[10000], big[100000];
	struct evictions ev = { 0 };
	char path[2 * PATH_MAX];
	struct spool *s;
	size_t kept;
	void *buf;
	size_t len;
	__s64 t;
	int fd;

	ASSERT_EQ(fresh_dir(), 0);
	if (small_file_system())
		TEST_SKIP("a tmpfs of its own needs root and a mount namespace: %s", strerror(errno));
	memset(payload, 'z', sizeof(payload));
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 1 << 30,
					      .on_evict = on_evict, .ctx = &ev }, NULL);
	ASSERT_TRUE(s);
	for (int i = 1; i <= 12; i++)
		ASSERT_EQ(spool__put(s, i, payload, sizeof(payload)), 0);
	kept = spool__count(s);
	ASSERT_TRUE(kept >= 2 && kept <= 5);
	ASSERT_EQ(ev.n, 12 - (int)kept);
	for (int i = 0; i < ev.n; i++) {
		ASSERT_EQ(ev.times[i], i + 1); /* oldest first */
		ASSERT_EQ(ev.why[i], ENOSPC);
		ASSERT_EQ(ev.bytes[i], HEADER + sizeof(payload));
	}
	ASSERT_EQ(spool__bytes(s), kept * (HEADER + sizeof(payload)));
	ASSERT_EQ(count_files(".tmp-"), 0);
	ASSERT_EQ(count_files("0"), (int)kept);

	/* Larger than the whole file system: evicting cannot help, so nothing is. */
	ev.n = 0;
	ASSERT_EQ(spool__put(s, 13, big, sizeof(big)), -ENOSPC);
	ASSERT_EQ(ev.n, 0);
	ASSERT_EQ(spool__count(s), kept);

	while (spool__read_oldest(s, &buf, &len, &t) == 0) {
		free(buf);
		ASSERT_EQ(spool__remove_oldest(s), 0);
	}
	ASSERT_EQ(spool__count(s), 0);

	/*
	 * Someone else's file takes the rest of the disk: the window being sent
	 * (20) stays, the small ones after it go, and the new window, larger
	 * than all they freed, is refused.
	 */
	for (int i = 20; i <= 22; i++)
		ASSERT_EQ(spool__put(s, i, payload, 100), 0);
	ASSERT_EQ(spool__read_oldest(s, &buf, &len, &t), 0);
	free(buf);
	ASSERT_EQ(t, 20);
	snprintf(path, sizeof(path), "%s/filler", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	while (write(fd, big, sizeof(big)) > 0)
		;
	close(fd);
	ASSERT_EQ(spool__put(s, 23, payload, sizeof(payload)), -ENOSPC);
	ASSERT_EQ(ev.n, 2);
	ASSERT_EQ(ev.times[0], 21);
	ASSERT_EQ(ev.times[1], 22);
	ASSERT_EQ(spool__count(s), 1);
	ASSERT_EQ(count_files(".tmp-"), 0);
	ASSERT_EQ(spool__remove_oldest(s), 0);
	ASSERT_EQ(spool__bytes(s), 0);

	/* Room again: spooling resumes. */
	ASSERT_EQ(unlink(path), 0);
	ASSERT_EQ(spool__put(s, 15, payload, sizeof(payload)), 0);
	ASSERT_TRUE(spool__oldest(s, &t));
	ASSERT_EQ(t, 15);
	ASSERT_EQ(spool__count(s), 1);
	spool__close(s);
	umount2(dir, MNT_DETACH);
	return 0;
}

int main(void)
{
	RUN(put_and_replay_oldest_first);
	RUN(survives_reopen_and_cleans_temporaries);
	RUN(bounded_oldest_evicted_first);
	RUN(pinned_window_is_not_evicted);
	RUN(damaged_files_are_detected);
	RUN(one_agent_per_spool);
	RUN(bad_arguments);
	/* last: it moves this process into a mount namespace of its own */
	RUN(full_disk_evicts_the_oldest);
	if (base_dir[0])
		nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return test_summary();
}
