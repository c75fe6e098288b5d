// SPDX-License-Identifier: Apache-2.0
/*
 * sigbus LIBRARY WARM_SECONDS RUN_SECONDS
 *
 * Issue 16, case 1, as a user would do it with a library copy of their own:
 * spins inside LIBRARY for WARM_SECONDS (so a profiler opens and maps it),
 * while seven threads wait in a callback called from seven other entries of
 * the library. Then truncates LIBRARY to 4 KiB, prints "truncated", and lets
 * the threads spin for RUN_SECONDS: their stacks hold return addresses into
 * the truncated file that no profiler has seen yet. The library's code is
 * never executed again (that would fault here), and the process leaves with
 * _exit() so no destructor runs from the truncated pages.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define N_ENTRIES 7

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int waiting, truncated;
static void (*entries[N_ENTRIES])(void (*)(int), int);
static void (*warm)(volatile int *);
static volatile int stop_warm;
volatile uint64_t sink;

NOINLINE static void spin_in_program(int arg)
{
	for (;;)
		sink += (uint64_t)arg;
}

static void wait_then_spin(int arg)
{
	pthread_mutex_lock(&lock);
	waiting++;
	pthread_cond_broadcast(&cond);
	while (!truncated)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	spin_in_program(arg);
}

static void *warm_main(void *arg)
{
	(void)arg;
	warm(&stop_warm);
	return NULL;
}

static void *thread_main(void *arg)
{
	int i = (int)(intptr_t)arg;

	entries[i](wait_then_spin, i);
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec ts;
	double warm_s, run_s;
	pthread_t t;
	void *dl;

	if (argc != 4) {
		fprintf(stderr, "usage: %s LIBRARY WARM_SECONDS RUN_SECONDS\n", argv[0]);
		return 2;
	}
	warm_s = strtod(argv[2], NULL);
	run_s = strtod(argv[3], NULL);
	dl = dlopen(argv[1], RTLD_NOW);
	if (!dl) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	warm = (void (*)(volatile int *))dlsym(dl, "sigbus_warm");
	for (int i = 0; i < N_ENTRIES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sigbus_entry_%d", i + 1);
		entries[i] = (void (*)(void (*)(int), int))dlsym(dl, name);
		if (!entries[i] || !warm)
			return 1;
	}
	for (int i = 0; i < N_ENTRIES; i++)
		if (pthread_create(&t, NULL, thread_main, (void *)(intptr_t)i))
			return 1;
	pthread_mutex_lock(&lock);
	while (waiting < N_ENTRIES)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);

	/* warm: a thread of its own spins in the library until told to stop */
	if (pthread_create(&t, NULL, warm_main, NULL))
		return 1;
	ts = (struct timespec){ (time_t)warm_s, (long)((warm_s - (time_t)warm_s) * 1e9) };
	nanosleep(&ts, NULL);
	stop_warm = 1;
	pthread_join(t, NULL);

	if (truncate(argv[1], 4096) != 0) {
		perror("truncate");
		_exit(1);
	}
	printf("truncated\n");
	fflush(stdout);
	pthread_mutex_lock(&lock);
	truncated = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	ts = (struct timespec){ (time_t)run_s, (long)((run_s - (time_t)run_s) * 1e9) };
	nanosleep(&ts, NULL);
	_exit(0);
}
