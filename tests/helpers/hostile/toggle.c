// SPDX-License-Identifier: Apache-2.0
/*
 * Issue 16, case 3: an executable mapping whose path names a FIFO by the time
 * a profiler opens it.
 *
 *   toggle replace FILE SECONDS
 *       maps FILE executable, then renames a FIFO over FILE's path and spins
 *       for SECONDS. /proc/PID/maps shows "FILE (deleted)"; a profiler that
 *       cannot use /proc/PID/map_files falls back to the path and finds the
 *       FIFO every time.
 *   toggle race FILE SECONDS NPROCS
 *       for SECONDS, keeps NPROCS children alive, a new one every 100 ms; each
 *       takes its own copy of FILE (a new inode, so nothing is cached by
 *       (device, inode)) and
 *       toggles one path between "the copy, mapped" and "a FIFO, unmapped"
 *       about every 100 us: a profiler that reads the maps in the first state
 *       and opens the mapping in the second falls back to the path, a FIFO.
 *   toggle swapdir FILE TARGET SECONDS
 *       maps FILE executable, deletes it and its directory, and puts a
 *       symlink to TARGET where the directory was, then spins: maps shows
 *       "DIR/FILE (deleted)", and DIR now leads wherever TARGET does. Run in a
 *       container with an absolute TARGET, that is a host directory.
 *
 * Prints "ready" once the first mapping is in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE static void burn(double seconds)
{
	double end = now() + seconds;

	while (now() < end)
		for (int i = 0; i < 1000; i++)
			sink += (uint64_t)i;
}

static void *map_exec(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(path);
		exit(1);
	}
	*len = (size_t)st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

/* name → path, atomically, keeping name: a fresh hard link renamed over path */
static void put_at(const char *name, const char *path, const char *tmp)
{
	unlink(tmp);
	if (link(name, tmp) != 0 || rename(tmp, path) != 0) {
		perror("link/rename");
		exit(1);
	}
}

static int replace(const char *file, double seconds)
{
	char fifo[4096];
	size_t len;

	map_exec(file, &len);
	snprintf(fifo, sizeof(fifo), "%s.fifo", file);
	unlink(fifo);
	if (mkfifo(fifo, 0600) != 0 || rename(fifo, file) != 0) {
		perror("mkfifo/rename");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	burn(seconds);
	return 0;
}

static int swapdir(const char *file, const char *target, double seconds)
{
	char dir[4096];
	char *slash;
	size_t len;

	map_exec(file, &len);
	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 2;
	*slash = '\0';
	if (unlink(file) != 0 || rmdir(dir) != 0 || symlink(target, dir) != 0) {
		perror("swapdir");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	burn(seconds);
	return 0;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);

	if (in < 0 || out < 0) {
		perror("copy");
		exit(1);
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			exit(1);
	close(in);
	close(out);
}

static void toggler(const char *file, int id, double seconds)
{
	char dir[4096], store[4200], fifo[4200], path[4200], tmp[4200];
	double end = now() + seconds;
	size_t len;
	void *p;

	snprintf(dir, sizeof(dir), "%s.d%d", file, id);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		exit(1);
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(path, sizeof(path), "%s/lib.so", dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
	copy_file(file, store);
	unlink(fifo);
	if (mkfifo(fifo, 0600) != 0)
		exit(1);
	while (now() < end) {
		put_at(store, path, tmp);
		p = map_exec(path, &len);
		burn(100e-6);
		munmap(p, len);
		put_at(fifo, path, tmp);
		burn(100e-6);
	}
	/* the next child's copy must be a new inode, not this one truncated */
	unlink(path);
	unlink(store);
	unlink(fifo);
	rmdir(dir);
}

static int race(const char *file, double seconds, int nprocs)
{
	double end = now() + seconds;
	int alive = 0, id = 0;
	pid_t parent = getpid();

	printf("ready\n");
	fflush(stdout);
	while (now() < end) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		pid_t pid;

		while (alive >= nprocs && waitpid(-1, NULL, 0) > 0)
			alive--;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			toggler(file, id, 0.1 * nprocs);
			_exit(0);
		}
		alive++;
		id++;
		nanosleep(&ts, NULL);
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "replace") == 0)
		return replace(argv[2], strtod(argv[3], NULL));
	if (argc == 5 && strcmp(argv[1], "swapdir") == 0)
		return swapdir(argv[2], argv[3], strtod(argv[4], NULL));
	if (argc == 5 && strcmp(argv[1], "race") == 0)
		return race(argv[2], strtod(argv[3], NULL), atoi(argv[4]));
	fprintf(stderr, "usage: %s replace FILE SECONDS | race FILE SECONDS NPROCS | "
		"swapdir FILE TARGET SECONDS\n", argv[0]);
	return 2;
}
