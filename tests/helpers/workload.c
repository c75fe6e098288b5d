// SPDX-License-Identifier: Apache-2.0
/*
 * A CPU workload with a known shape, for profiling tests:
 *
 *   workload split SECONDS NPROCS   main → run_split → dispatch → leaf_{a,b,c},
 *                                    work split 50/30/20 by instruction count
 *   workload syscalls SECONDS NPROCS main → run_syscalls → do_reads: read(2) of
 *                                    /dev/zero in a loop, so time is in the kernel
 *   workload tree SECONDS NPROCS DEPTH  every path through DEPTH levels of four
 *                                    branch functions, one after another: 4^DEPTH
 *                                    distinct stacks, for benchmarks
 *
 * NPROCS processes (forked) run the same loop so every CPU can be kept busy
 * while each stack still ends at main. The leaves share one always_inline
 * helper, so the profile must show an inlined frame with its file:line.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define CHUNK 20000L

volatile uint64_t sink;

#ifdef FORNAX_VARIANT
/* gives each prebuilt copy of this program its own build-id */
const char fornax_variant[] = FORNAX_VARIANT;
#endif

/*
 * gcc omits the frame pointer of a leaf function even with
 * -fno-omit-frame-pointer; calling this keeps the leaves from being leaves,
 * so a frame-pointer walk sees each leaf's caller.
 */
NOINLINE uint64_t checkpoint(uint64_t x)
{
	sink = x;
	return x;
}

static inline __attribute__((always_inline)) uint64_t mix_step(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 29;
	return x;
}

NOINLINE uint64_t leaf_a(uint64_t x, long n)
{
	for (long i = 0; i < n; i++)
		x = mix_step(x + i);
	return checkpoint(x);
}

NOINLINE uint64_t leaf_b(uint64_t x, long n)
{
	for (long i = 0; i < n; i++)
		x = mix_step(x + i);
	return checkpoint(x);
}

NOINLINE uint64_t leaf_c(uint64_t x, long n)
{
	for (long i = 0; i < n; i++)
		x = mix_step(x + i);
	return checkpoint(x);
}

/* Identical loops, so CPU time splits as the iteration counts: 5:3:2. */
NOINLINE uint64_t dispatch(uint64_t x)
{
	x = leaf_a(x, 5 * CHUNK);
	x = leaf_b(x, 3 * CHUNK);
	x = leaf_c(x, 2 * CHUNK);
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE void run_split(double seconds)
{
	double end = now() + seconds;
	uint64_t x = 1;

	while (now() < end) {
		for (int i = 0; i < 20; i++)
			x = dispatch(x);
	}
	sink = x;
}

NOINLINE void do_reads(int fd, char *buf, size_t len)
{
	for (int i = 0; i < 64; i++)
		if (read(fd, buf, len) < 0)
			_exit(1);
}

NOINLINE void run_syscalls(double seconds)
{
	static char buf[1 << 16];
	double end = now() + seconds;
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror("open /dev/zero");
		exit(1);
	}
	while (now() < end)
		do_reads(fd, buf, sizeof(buf));
	close(fd);
}

static unsigned tree_depth = 5;

NOINLINE uint64_t tree_leaf(uint64_t x)
{
	for (long i = 0; i < 2000; i++)
		x = mix_step(x + i);
	return checkpoint(x);
}

NOINLINE uint64_t branch_0(uint64_t x, unsigned depth, uint64_t path);
NOINLINE uint64_t branch_1(uint64_t x, unsigned depth, uint64_t path);
NOINLINE uint64_t branch_2(uint64_t x, unsigned depth, uint64_t path);
NOINLINE uint64_t branch_3(uint64_t x, unsigned depth, uint64_t path);

static uint64_t descend(uint64_t x, unsigned depth, uint64_t path)
{
	if (!depth)
		return tree_leaf(x);
	switch (path & 3) {
	case 0: return branch_0(x, depth - 1, path >> 2);
	case 1: return branch_1(x, depth - 1, path >> 2);
	case 2: return branch_2(x, depth - 1, path >> 2);
	default: return branch_3(x, depth - 1, path >> 2);
	}
}

NOINLINE uint64_t branch_0(uint64_t x, unsigned depth, uint64_t path) { return descend(x, depth, path) + 1; }
NOINLINE uint64_t branch_1(uint64_t x, unsigned depth, uint64_t path) { return descend(x, depth, path) + 1; }
NOINLINE uint64_t branch_2(uint64_t x, unsigned depth, uint64_t path) { return descend(x, depth, path) + 1; }
NOINLINE uint64_t branch_3(uint64_t x, unsigned depth, uint64_t path) { return descend(x, depth, path) + 1; }

NOINLINE void run_tree(double seconds)
{
	double end = now() + seconds;
	uint64_t paths = 1ULL << (2 * tree_depth), path = 0, x = 1;

	while (now() < end) {
		for (int i = 0; i < 64; i++, path = (path + 1) % paths)
			x = descend(x, tree_depth, path);
	}
	sink = x;
}

int main(int argc, char **argv)
{
	double seconds;
	int nprocs, status, failed = 0;
	pid_t parent;
	void (*fn)(double);

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s split|syscalls|tree SECONDS NPROCS [DEPTH]\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "split") == 0)
		fn = run_split;
	else if (strcmp(argv[1], "syscalls") == 0)
		fn = run_syscalls;
	else if (strcmp(argv[1], "tree") == 0)
		fn = run_tree;
	else
		return 2;
	if (argc == 5)
		tree_depth = atoi(argv[4]);
	if (tree_depth < 1 || tree_depth > 12)
		return 2;
	seconds = strtod(argv[2], NULL);
	nprocs = atoi(argv[3]);

	parent = getpid();
	for (int i = 1; i < nprocs; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			/* A caller that stops the parent stops the whole workload. */
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
				return 1;
			fn(seconds);
			return 0;
		}
		if (pid < 0) {
			perror("fork");
			return 1;
		}
	}
	fn(seconds);
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return failed;
}
