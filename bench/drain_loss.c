// SPDX-License-Identifier: Apache-2.0
/*
 * Does draining lose samples? Runs the real BPF program at a high frequency
 * with frequent drains, alternating the double-buffered drain fornax uses
 * with the single-map "read, then delete what was read" drain, and compares
 * what each drain delivered against the kernel's own count of program runs
 * and against cpus × frequency × elapsed.
 *
 *   drain_loss [--frequency HZ] [--drain-ms MS] [--seconds S] [--rounds N]
 *
 * Every drain symbolizes into a profile window as the agent does, so the
 * single-map design's gap between reading and deleting is as long as it
 * would be in practice. Load the CPUs while it runs (e.g. the
 * fornax_workload helper): the kernel stops cpu-clock on idle CPUs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sampler.h"
#include "symbolizer.h"
#include "window.h"

struct totals {
	unsigned long long kernel_runs; /* program runs, counted by the kernel per set */
	unsigned long long delivered;   /* sum of counts handed to the callback */
	unsigned long long missing_stacks;
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void account(struct totals *t, const struct sampler_drain_stats *st)
{
	t->kernel_runs += st->set.samples;
	t->delivered += st->drained_samples + st->set.idle + st->set.filtered;
	t->missing_stacks += st->missing_stacks;
}

static int run_once(bool single, unsigned freq, unsigned drain_ms, double seconds, int cpus,
		    struct totals *t)
{
	size_t per_drain = (size_t)cpus * freq * drain_ms / 1000 + 1;
	struct sampler_opts opts = {
		.frequency = freq,
		.kernel_stacks = true,
		.user_stacks = true,
		.include_idle = true,
		.max_keys = 4 * per_drain + 1024,
		.max_stacks = 8 * per_drain + 1024,
		.single_buffer = single,
	};
	struct timespec pause = { .tv_sec = drain_ms / 1000, .tv_nsec = (drain_ms % 1000) * 1000000L };
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ 0 });
	struct sampler_drain_stats st;
	struct sampler *s;
	double start, end;
	int err = 0;

	memset(t, 0, sizeof(*t));
	s = sampler__new(&opts);
	if (!s || !sym) {
		err = -errno;
		goto cleanup;
	}
	start = now();
	end = start + seconds;
	while (!err) {
		bool last = now() >= end;
		struct window *w = window__new(&(struct window_opts){ .symbolizer = sym,
								       .frequency = freq });

		if (!w) {
			err = -errno;
			break;
		}
		if (!last)
			nanosleep(&pause, NULL);
		/* The single-map design cannot detach and drain atomically: it just drains. */
		if (last && !single)
			err = sampler__stop(s, window__add_sample, w, &st);
		else
			err = sampler__drain(s, window__add_sample, w, &st);
		symbolizer__end_cycle(sym);
		window__free(w);
		account(t, &st);
		if (last)
			break;
	}
	t->seconds = now() - start;
cleanup:
	sampler__free(s);
	symbolizer__free(sym);
	return err;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	unsigned freq = 997, drain_ms = 20;
	double seconds = 5;
	int rounds = 5, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double lost[2][64], vs_clock[2][64];
	static const struct option longopts[] = {
		{ "frequency", required_argument, NULL, 'F' },
		{ "drain-ms", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "F:d:s:r:", longopts, NULL)) != -1) {
		switch (c) {
		case 'F': freq = strtoul(optarg, NULL, 10); break;
		case 'd': drain_ms = strtoul(optarg, NULL, 10); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'r': rounds = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!freq || !drain_ms || seconds <= 0 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "drain_loss: bad arguments\n");
		return 2;
	}
	log_set_level(LOG_WARN);
	log_setup_libbpf();

	printf("drain_loss: %d CPUs, %u Hz, drain every %u ms, %.1f s per run, %d rounds "
	       "(alternating)\n", cpus, freq, drain_ms, seconds, rounds);
	printf("%-14s %5s %10s %10s %10s %9s %10s\n", "design", "round", "expected", "kernel",
	       "delivered", "lost", "lost %");
	for (int r = 0; r < rounds; r++) {
		for (int single = 0; single <= 1; single++) {
			/* Alternate which design goes first so drift in load hits both alike. */
			bool mode = (r % 2) ? !single : single;
			struct totals t;
			double expected;
			int err = run_once(mode, freq, drain_ms, seconds, cpus, &t);

			if (err) {
				fprintf(stderr, "drain_loss: %s\n", strerror(-err));
				return 1;
			}
			expected = t.seconds * cpus * freq;
			lost[mode][r] = 100.0 * ((double)t.kernel_runs - t.delivered) /
					(t.kernel_runs ? t.kernel_runs : 1);
			vs_clock[mode][r] = 100.0 * t.delivered / expected;
			printf("%-14s %5d %10.0f %10llu %10llu %9lld %9.3f%%\n",
			       mode ? "single-map" : "double-buffer", r, expected, t.kernel_runs,
			       t.delivered, (long long)t.kernel_runs - (long long)t.delivered,
			       lost[mode][r]);
		}
	}
	printf("\nmedian over %d rounds:\n", rounds);
	for (int mode = 0; mode <= 1; mode++)
		printf("  %-14s lost %.3f%% of kernel-counted samples; delivered %.2f%% of "
		       "cpus x frequency x time\n",
		       mode ? "single-map" : "double-buffer", median(lost[mode], rounds),
		       median(vs_clock[mode], rounds));
	return 0;
}
