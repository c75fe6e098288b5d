// SPDX-License-Identifier: Apache-2.0
/*
 * spawn_loop N PROGRAM: forks N children one after another, each exec'ing
 * PROGRAM and exiting, and prints the mean wall time per child in
 * microseconds. What a profiler's kernel side adds to process start and
 * exit shows here (bench/spawn_cost.py).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	unsigned long n;
	char *end;
	double t0;

	if (argc != 3)
		goto usage;
	errno = 0;
	n = strtoul(argv[1], &end, 10);
	if (errno || *end || n == 0 || n > 10000000)
		goto usage;
	t0 = now_us();
	for (unsigned long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execl(argv[2], argv[2], (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "child %d failed\n", (int)pid);
			return 1;
		}
	}
	printf("%.2f\n", (now_us() - t0) / (double)n);
	return 0;

usage:
	fprintf(stderr, "usage: spawn_loop N PROGRAM\n");
	return 2;
}
