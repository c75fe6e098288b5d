// SPDX-License-Identifier: Apache-2.0
/*
 * The sideband reader with the kernel's own records: processes started
 * here, their mappings as the kernel reported them at their exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sideband.h"
#include "test.h"

extern char **environ;

struct seen {
	__u32 pid;
	int calls;
	char path[256];
};

static void on_mmap(__u32 pid, const struct symbolizer_vma *v, const char *path, void *ctx)
{
	struct seen *s = ctx;

	(void)v;
	if (pid != s->pid)
		return;
	s->calls++;
	snprintf(s->path, sizeof(s->path), "%s", path);
}

static pid_t run(const char *path, char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawn(&pid, path, NULL, NULL, argv, environ))
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return pid;
}

static bool has_file(const struct symbolizer_exit *ex, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return false;
	for (size_t i = 0; i < ex->n_vmas; i++)
		if (ex->vmas[i].inode == st.st_ino && ex->vmas[i].dev_major == major(st.st_dev) &&
		    ex->vmas[i].dev_minor == minor(st.st_dev))
			return true;
	return false;
}

/* The libc this test runs with: a child exec'd from here maps the same one. */
static int libc_path(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	if (strstr(info->dlpi_name, "libc.so")) {
		snprintf(data, 256, "%s", info->dlpi_name);
		return 1;
	}
	return 0;
}

TEST(exited_process_keeps_what_it_mapped)
{
	char *argv[] = { "true", NULL };
	struct seen seen = { 0 };
	struct sideband_exit out;
	struct sideband_stats st;
	char libc[256] = "";
	struct sideband *sb;
	pid_t pid;

	sb = sideband__new(NULL, on_mmap, &seen);
	if (!sb && (errno == EACCES || errno == EPERM))
		TEST_SKIP("perf events need root or perf_event_paranoid <= -1");
	ASSERT_TRUE(sb);
	dl_iterate_phdr(libc_path, libc);
	ASSERT_TRUE(libc[0]);
	pid = run("/bin/true", argv);
	ASSERT_TRUE(pid > 0);
	seen.pid = (__u32)pid;
	ASSERT_TRUE(sideband__take_exit(sb, (__u32)pid, &out));
	ASSERT_TRUE(out.ex.complete);
	ASSERT_TRUE(out.ex.n_vmas >= 3); /* true, ld.so, libc */
	ASSERT_TRUE(has_file(&out.ex, "/bin/true"));
	ASSERT_TRUE(has_file(&out.ex, libc));
	ASSERT_TRUE(out.ex.vdso_start != 0);
	for (size_t i = 1; i < out.ex.n_vmas; i++)
		ASSERT_TRUE(out.ex.vmas[i - 1].end <= out.ex.vmas[i].start);
	/* every executable file mapping was named to the callback with its path */
	ASSERT_TRUE(seen.calls >= 3);
	ASSERT_TRUE(seen.path[0] == '/');
	/* taken once: a second exit of the same pid knows nothing */
	ASSERT_TRUE(!sideband__take_exit(sb, (__u32)pid, &out));
	sideband__stats(sb, &st);
	ASSERT_TRUE(st.execs >= 1 && st.forks >= 1 && st.exits >= 1);
	ASSERT_EQ(st.lost, 0);
	sideband__free(sb);
	return 0;
}

/* A process started before the reader is not known from its start: no partial layout. */
TEST(unknown_process_is_not_claimed)
{
	struct sideband_exit out;
	struct sideband *sb = sideband__new(NULL, NULL, NULL);

	if (!sb && (errno == EACCES || errno == EPERM))
		TEST_SKIP("perf events need root or perf_event_paranoid <= -1");
	ASSERT_TRUE(sb);
	ASSERT_TRUE(!sideband__take_exit(sb, (__u32)getpid(), &out));
	ASSERT_EQ(out.ex.n_vmas, 0);
	sideband__free(sb);
	sideband__free(NULL);
	return 0;
}

int main(void)
{
	RUN(exited_process_keeps_what_it_mapped);
	RUN(unknown_process_is_not_claimed);
	return test_summary();
}
