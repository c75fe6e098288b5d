// SPDX-License-Identifier: Apache-2.0
/*
 * JIT frames through the symbolizer: a live process, its perf map in
 * /tmp, addresses outside every file mapping (as JIT code is).
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolizer.h"
#include "test.h"

extern char **environ;

/* Never mapped: below vm.mmap_min_addr. */
#define JIT_A 0x1000
#define JIT_B 0x2000

static pid_t spawn_sleeper(void)
{
	char *argv[] = { "sleep", "60", NULL };
	pid_t pid;

	if (posix_spawn(&pid, "/bin/sleep", NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int write_map(const char *path, const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static const char *name_of(struct symbolizer *sym, pid_t pid, __u64 addr)
{
	static struct symbolizer_location loc;

	if (symbolizer__lookup_user(sym, pid, 0, &addr, 1, &loc) != 0 || !loc.n_frames)
		return NULL;
	return loc.frames[0].function;
}

TEST(frames_from_a_growing_perf_map)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	pid_t pid = spawn_sleeper();
	struct symbolizer_stats st;
	char path[64];
	int rc = 1;

	ASSERT_TRUE(sym && pid > 0);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", pid);
	if (write_map(path, "w", "1000 100 LazyCompile:*hot /app/x.js:1:1\n") != 0)
		goto out;
	if (!name_of(sym, pid, JIT_A + 0x10) ||
	    strcmp(name_of(sym, pid, JIT_A + 0x10), "LazyCompile:*hot /app/x.js:1:1") != 0) {
		fprintf(stderr, "  JIT_A not named\n");
		goto out;
	}
	/* the runtime compiles more: the file grows */
	if (write_map(path, "a", "2000 80 Function:cold\n") != 0)
		goto out;
	/* the file is looked at once per cycle */
	if (name_of(sym, pid, JIT_B)) {
		fprintf(stderr, "  re-read twice in one cycle\n");
		goto out;
	}
	symbolizer__end_cycle(sym);
	if (!name_of(sym, pid, JIT_B) || strcmp(name_of(sym, pid, JIT_B), "Function:cold") != 0) {
		fprintf(stderr, "  appended entry not found\n");
		goto out;
	}
	symbolizer__stats(sym, &st);
	if (st.jit_frames < 2 || st.perfmap_reads != 2) {
		fprintf(stderr, "  stats: %llu frames, %llu reads\n",
			(unsigned long long)st.jit_frames, (unsigned long long)st.perfmap_reads);
		goto out;
	}
	rc = 0;
out:
	unlink(path);
	reap(pid);
	symbolizer__free(sym);
	return rc;
}

TEST(symlinked_perf_map_is_not_followed)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	pid_t pid = spawn_sleeper();
	char path[64], target[64];
	int rc = 1;

	ASSERT_TRUE(sym && pid > 0);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", pid);
	snprintf(target, sizeof(target), "/tmp/fornax-jit-target-%d", pid);
	if (write_map(target, "w", "1000 100 secret\n") != 0 || symlink(target, path) != 0)
		goto out;
	if (name_of(sym, pid, JIT_A)) {
		fprintf(stderr, "  followed a symlink\n");
		goto out;
	}
	rc = 0;
out:
	unlink(path);
	unlink(target);
	reap(pid);
	symbolizer__free(sym);
	return rc;
}

int main(void)
{
	RUN(frames_from_a_growing_perf_map);
	RUN(symlinked_perf_map_is_not_followed);
	return test_summary();
}
