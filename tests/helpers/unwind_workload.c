// SPDX-License-Identifier: Apache-2.0
/*
 * CPU workloads with known stacks for the unwinding tests and benchmarks,
 * built like distribution code: -O2 with and without frame pointers.
 *
 *   unwind_workload chain SECONDS NPROCS
 *       main → run_chain → chain_0 → … → chain_23 → leaves → leaf_a | leaf_b,
 *       time split 60/40 between the leaves (true leaves: no frame of their own)
 *   unwind_workload chainN SECONDS NPROCS
 *       the same with only the last N links (chain_{24-N} … chain_23), for
 *       stacks of a chosen depth: chain4 gives 11 frames down to _start
 *   unwind_workload qsort SECONDS NPROCS
 *       main → run_sort → sort_round → qsort (libc, no frame pointers) → … →
 *       compare_items, where the time goes
 *   unwind_workload threads SECONDS NTHREADS
 *       start_thread → thread_main → thread_work → thread_leaf in each thread
 *   unwind_workload signal SECONDS NPROCS
 *       main → run_signal → spin_outside, interrupted every millisecond by
 *       SIGALRM: on_alarm → handler_work spins half of the time
 *   unwind_workload deep SECONDS NPROCS
 *       main → run_deep → recurse × DEEP_FRAMES → deep_leaf: deeper than any
 *       profiler keeps, so every stack is cut at the depth limit
 *   unwind_workload dlopen SECONDS NPROCS
 *       spins in main → run_dlopen → pre_dlopen for a second, then dlopen()s
 *       libunwind_dl.so (next to the program) and spins in
 *       run_dlopen → dl_entry → dl_middle (the library) → dl_leaf
 *   unwind_workload exec SECONDS NPROCS
 *       spins in main → run_exec → pre_exec for a second, then execs itself
 *       in chain mode for the rest of the time: same pid, new image
 *   unwind_workload read SECONDS NPROCS
 *       main → run_read → read_loop → read(2) of /dev/zero: samples land in
 *       the kernel, under libc's read (no frame pointers)
 *   unwind_workload jit SECONDS NPROCS
 *       main → run_jit → a stub in anonymous executable memory (no CFI, but a
 *       frame pointer, like JIT code) → jit_leaf
 *
 * NPROCS processes (forked) run the same loop so every CPU can be kept busy.
 * No function ends in a tail call, so every caller keeps its frame.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define CHUNK 4000L

volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	return x;
}

/* ---- chain ---- */

NOINLINE uint64_t leaf_a(uint64_t x)
{
	for (long i = 0; i < 3 * CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE uint64_t leaf_b(uint64_t x)
{
	for (long i = 0; i < 2 * CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE uint64_t leaves(uint64_t x)
{
	x = leaf_a(x);
	sink += x;
	x = leaf_b(x);
	sink += x;
	return x;
}

#define CHAIN(n, next)                       \
	NOINLINE uint64_t chain_##n(uint64_t x) \
	{                                     \
		x = next(x + n);              \
		sink += x;                    \
		return x ^ n;                 \
	}

CHAIN(23, leaves)
CHAIN(22, chain_23)
CHAIN(21, chain_22)
CHAIN(20, chain_21)
CHAIN(19, chain_20)
CHAIN(18, chain_19)
CHAIN(17, chain_18)
CHAIN(16, chain_17)
CHAIN(15, chain_16)
CHAIN(14, chain_15)
CHAIN(13, chain_14)
CHAIN(12, chain_13)
CHAIN(11, chain_12)
CHAIN(10, chain_11)
CHAIN(9, chain_10)
CHAIN(8, chain_9)
CHAIN(7, chain_8)
CHAIN(6, chain_7)
CHAIN(5, chain_6)
CHAIN(4, chain_5)
CHAIN(3, chain_4)
CHAIN(2, chain_3)
CHAIN(1, chain_2)
CHAIN(0, chain_1)

static uint64_t (*const chain_links[])(uint64_t) = {
	chain_0,  chain_1,  chain_2,  chain_3,  chain_4,  chain_5,  chain_6,  chain_7,
	chain_8,  chain_9,  chain_10, chain_11, chain_12, chain_13, chain_14, chain_15,
	chain_16, chain_17, chain_18, chain_19, chain_20, chain_21, chain_22, chain_23,
	leaves,
};

NOINLINE void run_chain(double seconds, int links)
{
	uint64_t (*first)(uint64_t) = chain_links[24 - links];
	double end = now() + seconds;
	uint64_t x = 1;

	while (now() < end)
		for (int i = 0; i < 20; i++)
			x = first(x);
	sink = x;
}

/* ---- qsort ---- */

struct item {
	uint64_t key;
	uint64_t pad[3];
};

/* The comparator does real work, so samples land in it, under libc's sort. */
NOINLINE int compare_items(const void *a, const void *b)
{
	uint64_t x = ((const struct item *)a)->key, y = ((const struct item *)b)->key;

	for (int i = 0; i < 24; i++) {
		x = mix(x + i);
		y = mix(y + i);
	}
	sink += x ^ y;
	return ((const struct item *)a)->key < ((const struct item *)b)->key ? -1 :
	       ((const struct item *)a)->key > ((const struct item *)b)->key;
}

NOINLINE uint64_t sort_round(struct item *items, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		items[i].key = mix(seed + i);
	qsort(items, n, sizeof(*items), compare_items);
	return items[0].key ^ items[n - 1].key;
}

NOINLINE void run_sort(double seconds)
{
	static struct item items[2048];
	double end = now() + seconds;
	uint64_t seed = 1;

	while (now() < end)
		seed += sort_round(items, sizeof(items) / sizeof(items[0]), seed);
	sink = seed;
}

/* ---- threads ---- */

static double thread_seconds;

NOINLINE uint64_t thread_leaf(uint64_t x)
{
	for (long i = 0; i < CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE uint64_t thread_work(uint64_t x)
{
	x = thread_leaf(x);
	sink += x;
	return x + 1;
}

NOINLINE void *thread_main(void *arg)
{
	double end = now() + thread_seconds;
	uint64_t x = (uintptr_t)arg;

	while (now() < end)
		for (int i = 0; i < 20; i++)
			x = thread_work(x);
	sink = x;
	return NULL;
}

NOINLINE void run_threads(double seconds, int n)
{
	pthread_t *threads = calloc(n, sizeof(*threads));

	if (!threads)
		exit(1);
	thread_seconds = seconds;
	for (int i = 0; i < n; i++)
		if (pthread_create(&threads[i], NULL, thread_main, (void *)(uintptr_t)(i + 1)))
			exit(1);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
}

/* ---- deep ---- */

#define DEEP_FRAMES 200

NOINLINE uint64_t deep_leaf(uint64_t x)
{
	for (long i = 0; i < CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE uint64_t recurse(int depth, uint64_t x)
{
	if (depth == 0)
		return deep_leaf(x);
	x = recurse(depth - 1, x + depth);
	sink += x;
	return x + 1;
}

NOINLINE void run_deep(double seconds)
{
	double end = now() + seconds;
	uint64_t x = 1;

	while (now() < end)
		x = recurse(DEEP_FRAMES, x);
	sink = x;
}

/* ---- dlopen, exec ---- */

NOINLINE uint64_t dl_leaf(uint64_t x)
{
	for (long i = 0; i < CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE uint64_t pre_spin(uint64_t x)
{
	for (long i = 0; i < CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE void run_dlopen(double seconds)
{
	uint64_t (*entry)(uint64_t (*)(uint64_t), uint64_t);
	char path[PATH_MAX], self[PATH_MAX];
	double start = now(), end = start + seconds;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	uint64_t x = 1;
	void *lib;

	if (n <= 0)
		exit(1);
	self[n] = '\0';
	while (now() < start + 1)
		x = pre_spin(x) + 1;
	snprintf(path, sizeof(path), "%s/libunwind_dl.so", dirname(self));
	lib = dlopen(path, RTLD_NOW);
	entry = lib ? (uint64_t (*)(uint64_t (*)(uint64_t), uint64_t))dlsym(lib, "dl_entry") : NULL;
	if (!entry) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		exit(1);
	}
	while (now() < end)
		x = entry(dl_leaf, x) + 1;
	sink = x;
}

NOINLINE void run_exec(double seconds)
{
	double start = now();
	char rest[32];
	uint64_t x = 1;

	while (now() < start + 1)
		x = pre_spin(x) + 1;
	sink = x;
	snprintf(rest, sizeof(rest), "%.3f", seconds - 1);
	execl("/proc/self/exe", "unwind_workload", "chain", rest, "1", (char *)NULL);
	perror("exec");
	exit(1);
}

/* ---- read, jit ---- */

NOINLINE void read_loop(int fd, char *buf, size_t len)
{
	for (int i = 0; i < 64; i++)
		if (read(fd, buf, len) < 0)
			_exit(1);
	sink += buf[0];
}

NOINLINE void run_read(double seconds)
{
	static char buf[1 << 16];
	double end = now() + seconds;
	int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		exit(1);
	while (now() < end)
		read_loop(fd, buf, sizeof(buf));
	close(fd);
}

NOINLINE uint64_t jit_leaf(uint64_t x)
{
	for (long i = 0; i < CHUNK; i++)
		x = mix(x + i);
	return x;
}

/*
 * uint64_t stub(uint64_t (*fn)(uint64_t), uint64_t x): keeps a frame
 * pointer, has no CFI, lives in anonymous memory, as JIT-compiled code does.
 */
static const unsigned char jit_stub[] = {
	0x55,             /* push %rbp */
	0x48, 0x89, 0xe5, /* mov %rsp,%rbp */
	0x48, 0x89, 0xf8, /* mov %rdi,%rax */
	0x48, 0x89, 0xf7, /* mov %rsi,%rdi */
	0xff, 0xd0,       /* call *%rax */
	0x5d,             /* pop %rbp */
	0xc3,             /* ret */
};

NOINLINE void run_jit(double seconds)
{
	uint64_t (*stub)(uint64_t (*)(uint64_t), uint64_t);
	double end = now() + seconds;
	uint64_t x = 1;
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (code == MAP_FAILED)
		exit(1);
	memcpy(code, jit_stub, sizeof(jit_stub));
	if (mprotect(code, 4096, PROT_READ | PROT_EXEC))
		exit(1);
	stub = (uint64_t (*)(uint64_t (*)(uint64_t), uint64_t))code;
	while (now() < end)
		x = stub(jit_leaf, x) + 1;
	sink = x;
}

/* ---- signal ---- */

NOINLINE uint64_t handler_work(uint64_t x)
{
	double end = now() + 0.0005;

	while (now() < end)
		for (int i = 0; i < 200; i++)
			x = mix(x + i);
	return x;
}

NOINLINE void on_alarm(int sig)
{
	uint64_t x = handler_work(sig);

	sink += x;
}

NOINLINE uint64_t spin_outside(uint64_t x)
{
	for (long i = 0; i < CHUNK; i++)
		x = mix(x + i);
	return x;
}

NOINLINE void run_signal(double seconds)
{
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } };
	struct sigaction sa;
	double end = now() + seconds;
	uint64_t x = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &every_ms, NULL);
	while (now() < end)
		x = spin_outside(x) + 1;
	memset(&every_ms, 0, sizeof(every_ms));
	setitimer(ITIMER_REAL, &every_ms, NULL);
	sink = x;
}

int main(int argc, char **argv)
{
	double seconds;
	int n, status, failed = 0;
	pid_t parent;

	if (argc != 4) {
		fprintf(stderr, "usage: %s chain[N]|qsort|threads|signal|deep|dlopen|exec|read|jit "
			"SECONDS N\n", argv[0]);
		return 2;
	}
	seconds = strtod(argv[2], NULL);
	n = atoi(argv[3]);
	if (n < 1)
		return 2;
	if (strcmp(argv[1], "threads") == 0) {
		run_threads(seconds, n);
		return 0;
	}
	parent = getpid();
	for (int i = 1; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			/* A caller that stops the parent stops the whole workload. */
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
				return 1;
			n = 1;
			break;
		}
	}
	if (strcmp(argv[1], "chain") == 0)
		run_chain(seconds, 24);
	else if (strncmp(argv[1], "chain", 5) == 0 && atoi(argv[1] + 5) >= 0 &&
		 atoi(argv[1] + 5) <= 24)
		run_chain(seconds, atoi(argv[1] + 5));
	else if (strcmp(argv[1], "qsort") == 0)
		run_sort(seconds);
	else if (strcmp(argv[1], "signal") == 0)
		run_signal(seconds);
	else if (strcmp(argv[1], "deep") == 0)
		run_deep(seconds);
	else if (strcmp(argv[1], "dlopen") == 0)
		run_dlopen(seconds);
	else if (strcmp(argv[1], "exec") == 0)
		run_exec(seconds);
	else if (strcmp(argv[1], "read") == 0)
		run_read(seconds);
	else if (strcmp(argv[1], "jit") == 0)
		run_jit(seconds);
	else
		return 2;
	if (n > 1)
		while (wait(&status) > 0)
			failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return failed;
}
