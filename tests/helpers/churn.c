// SPDX-License-Identifier: Apache-2.0
/*
 * Short-lived processes for lifecycle tests and benchmarks:
 *
 *   churn COUNT MIN_MS MAX_MS [PARALLEL]
 *
 * starts COUNT processes, PARALLEL at a time (default: one per CPU), each a
 * fresh exec of this program that burns CPU in churn_burn() for a duration
 * between MIN_MS and MAX_MS, then exits. Durations are spread evenly
 * (a fixed sequence, so runs are comparable). Exit status 0 when every
 * child did.
 *
 *   churn burn MS      one child (what the parent execs)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

volatile uint64_t churn_sink;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Called so that churn_burn() is not a leaf: gcc drops the frame pointer
 * of leaves, and a frame-pointer walk would then skip the leaf's caller.
 */
NOINLINE uint64_t churn_checkpoint(uint64_t x)
{
	churn_sink = x;
	return x;
}

/* The function a child's samples land in. */
NOINLINE void churn_burn(double ms)
{
	double end = now_ms() + ms;
	uint64_t x = (uint64_t)getpid();

	while (now_ms() < end) {
		for (int i = 0; i < 20000; i++) {
			x ^= x >> 31;
			x *= 0x9e3779b97f4a7c15ULL;
		}
		x = churn_checkpoint(x);
	}
}

static int spawn(const char *self, double ms)
{
	char arg[32];
	pid_t pid;

	snprintf(arg, sizeof(arg), "%.3f", ms);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "burn", arg, (char *)NULL);
		_exit(127);
	}
	return pid < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	long count, parallel, running = 0, started = 0;
	double min_ms, max_ms;
	int status, failed = 0;
	char self[4096];
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "burn") == 0) {
		churn_burn(strtod(argv[2], NULL));
		return 0;
	}
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s COUNT MIN_MS MAX_MS [PARALLEL]\n", argv[0]);
		return 2;
	}
	count = strtol(argv[1], NULL, 10);
	min_ms = strtod(argv[2], NULL);
	max_ms = strtod(argv[3], NULL);
	parallel = argc == 5 ? strtol(argv[4], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (count < 1 || min_ms <= 0 || max_ms < min_ms || parallel < 1)
		return 2;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	while (started < count || running > 0) {
		while (running < parallel && started < count) {
			/* evenly spread over [min, max] in a scrambled but fixed order */
			double f = (double)((started * 7919) % count) / (count > 1 ? count - 1 : 1);

			if (spawn(self, min_ms + f * (max_ms - min_ms)) < 0)
				return 1;
			started++;
			running++;
		}
		if (wait(&status) > 0) {
			running--;
			failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		}
	}
	return failed;
}
