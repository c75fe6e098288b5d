// SPDX-License-Identifier: Apache-2.0
/*
 * What does one window cost the agent? Runs a workload with a known number
 * of distinct stacks (tests/helpers/workload.c "tree" mode: 4^DEPTH paths)
 * under the real BPF sampler, then times drain + symbolize + build + encode
 * (gzip) of one window: cold (a new symbolizer: every file opened, every
 * address resolved) and warm (the symbolizer of the previous window).
 *
 *   window_cost WORKLOAD [--depth D] [--frequency HZ] [--window-ms MS] [--rounds N]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pprof_codec.h"
#include "sampler.h"
#include "symbolizer.h"
#include "window.h"

#define MAX_ROUNDS 64
#define MAX_PIDS 256

/* The workload and the processes it forked. */
static size_t workload_pids(pid_t parent, __u32 *pids, size_t max)
{
	char path[64];
	size_t n = 0;
	FILE *f;
	int pid;

	pids[n++] = parent;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", parent, parent);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

static double clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * CPU time of this thread: what the window costs the machine. Wall time also
 * includes the RCU grace period the drain sleeps through after the flip.
 */
static double now_ms(void)
{
	return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void summarize(const char *what, double *v, int n)
{
	qsort(v, n, sizeof(*v), compare_doubles);
	printf("  %-28s median %7.2f ms   min %7.2f   max %7.2f   (n=%d)\n", what,
	       n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1], n);
}

struct timing {
	double wall_ms;   /* drain (with its grace period) to encoded bytes */
	double drain_ms;  /* drain + symbolize + build */
	double encode_ms; /* finish + encode + gzip */
	size_t stacks;    /* distinct pprof samples */
	size_t bytes;
	unsigned long long samples;
};

static int one_window(struct sampler *s, struct symbolizer *sym, unsigned freq, unsigned window_ms,
		      struct timing *t)
{
	struct timespec pause = { .tv_sec = window_ms / 1000, .tv_nsec = (window_ms % 1000) * 1000000L };
	struct sampler_drain_stats st;
	const struct pprof *p;
	struct window *w;
	void *buf = NULL;
	double t0, t1, t2, wall0;
	int err;

	w = window__new(&(struct window_opts){ .symbolizer = sym, .frequency = freq });
	if (!w)
		return -errno;
	/* Empty the maps so the window holds exactly window_ms of samples. */
	err = sampler__drain(s, NULL, NULL, &st);
	if (!err)
		err = sampler__drain(s, NULL, NULL, &st);
	nanosleep(&pause, NULL);

	wall0 = clock_ms(CLOCK_MONOTONIC);
	t0 = now_ms();
	if (!err)
		err = sampler__drain(s, window__add_sample, w, &st);
	symbolizer__end_cycle(sym);
	t1 = now_ms();
	p = window__finish(w, (__u64)window_ms * 1000000ULL);
	if (!err)
		err = pprof__encode(p, true, &buf, &t->bytes);
	t2 = now_ms();
	t->wall_ms = clock_ms(CLOCK_MONOTONIC) - wall0;

	t->drain_ms = t1 - t0;
	t->encode_ms = t2 - t1;
	t->stacks = pprof__num_samples(p);
	t->samples = st.drained_samples;
	free(buf);
	window__free(w);
	return err;
}

int main(int argc, char **argv)
{
	unsigned depth = 5, freq = 997, window_ms = 10000, rounds = 5;
	static const struct option longopts[] = {
		{ "depth", required_argument, NULL, 'd' },
		{ "frequency", required_argument, NULL, 'F' },
		{ "window-ms", required_argument, NULL, 'w' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 },
	};
	double cold_total[MAX_ROUNDS], warm_total[MAX_ROUNDS], cold_drain[MAX_ROUNDS],
		warm_drain[MAX_ROUNDS], warm_encode[MAX_ROUNDS], warm_wall[MAX_ROUNDS];
	int cpus = sysconf(_SC_NPROCESSORS_ONLN), c, status;
	struct sampler *s;
	size_t stacks = 0, bytes = 0;
	unsigned long long samples = 0;
	char seconds[32], nprocs[16], depth_arg[16];
	__u32 pids[MAX_PIDS];
	size_t n_pids;
	pid_t child;

	while ((c = getopt_long(argc, argv, "d:F:w:r:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': depth = strtoul(optarg, NULL, 10); break;
		case 'F': freq = strtoul(optarg, NULL, 10); break;
		case 'w': window_ms = strtoul(optarg, NULL, 10); break;
		case 'r': rounds = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !rounds || rounds > MAX_ROUNDS || !freq || !window_ms) {
		fprintf(stderr, "usage: window_cost WORKLOAD [--depth D] [--frequency HZ] "
				"[--window-ms MS] [--rounds N<=%d]\n", MAX_ROUNDS);
		return 2;
	}
	log_set_level(LOG_WARN);
	log_setup_libbpf();

	snprintf(seconds, sizeof(seconds), "%u", rounds * 3 * (window_ms / 1000 + 2) + 30);
	snprintf(nprocs, sizeof(nprocs), "%d", cpus);
	snprintf(depth_arg, sizeof(depth_arg), "%u", depth);
	child = fork();
	if (child == 0) {
		execl(argv[optind], argv[optind], "tree", seconds, nprocs, depth_arg, (char *)NULL);
		_exit(127);
	}

	/*
	 * Sample only the workload: other processes on a busy machine would add
	 * stacks of their own, and new processes are never warm.
	 */
	usleep(200000);
	n_pids = workload_pids(child, pids, MAX_PIDS);
	s = sampler__new(&(struct sampler_opts){
		.pids = pids,
		.n_pids = n_pids,
		.frequency = freq,
		.kernel_stacks = true,
		.user_stacks = true,
		.max_keys = 1 << 16,
		.max_stacks = 1 << 16,
	});
	if (!s) {
		fprintf(stderr, "window_cost: sampler: %s\n", strerror(errno));
		kill(child, SIGTERM);
		return 1;
	}
	sleep(1);

	for (unsigned r = 0; r < rounds; r++) {
		struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ 0 });
		struct timing cold, warm1, warm2;

		if (!sym || one_window(s, sym, freq, window_ms, &cold) ||
		    one_window(s, sym, freq, window_ms, &warm1) ||
		    one_window(s, sym, freq, window_ms, &warm2)) {
			fprintf(stderr, "window_cost: round %u failed\n", r);
			symbolizer__free(sym);
			break;
		}
		symbolizer__free(sym);
		cold_total[r] = cold.drain_ms + cold.encode_ms;
		cold_drain[r] = cold.drain_ms;
		/* Two warm windows per round; the second is the steady state. */
		warm_total[r] = warm2.drain_ms + warm2.encode_ms;
		warm_drain[r] = warm2.drain_ms;
		warm_encode[r] = warm2.encode_ms;
		warm_wall[r] = warm2.wall_ms;
		stacks += warm2.stacks;
		bytes += warm2.bytes;
		samples += warm2.samples;
		printf("round %u CPU: cold %.2f ms (%zu stacks) | warm %.2f ms, %.2f ms (%zu stacks, %llu "
		       "samples, %zu bytes gz)\n", r, cold_total[r], cold.stacks,
		       warm1.drain_ms + warm1.encode_ms, warm_total[r], warm2.stacks,
		       warm2.samples, warm2.bytes);
	}
	kill(child, SIGTERM);
	waitpid(child, &status, 0);
	sampler__free(s);

	printf("\nwindow_cost: depth %u (%u possible paths x %zu processes), %u Hz, %u ms windows\n",
	       depth, 1u << (2 * depth), n_pids, freq, window_ms);
	printf("  distinct stacks per warm window: %zu on average, %llu samples, %zu bytes gzipped\n",
	       stacks / rounds, samples / rounds, bytes / rounds);
	printf("  CPU time of the agent thread:\n");
	summarize("cold: drain+symbolize+encode", cold_total, rounds);
	summarize("cold: drain+symbolize", cold_drain, rounds);
	summarize("warm: drain+symbolize+encode", warm_total, rounds);
	summarize("warm: drain+symbolize", warm_drain, rounds);
	summarize("warm: finish+encode+gzip", warm_encode, rounds);
	printf("  wall time, including the drain's RCU grace period:\n");
	summarize("warm: drain to encoded bytes", warm_wall, rounds);
	return 0;
}
