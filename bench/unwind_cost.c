// SPDX-License-Identifier: Apache-2.0
/*
 * What does walking a user stack cost inside the BPF program, by CFI and by
 * frame pointers? Runs the real sampler and unwinder on the unwind workload
 * (tests/helpers/unwind_workload.c, chain mode: a known number of frames)
 * with the program's walk timing on (sampler_opts.time_user_walks: two
 * bpf_ktime_get_ns() around the user-stack walk, only in this benchmark),
 * samples only the workload's processes, and prints per walk and per frame
 * the median and spread over rounds, alternating the modes.
 *
 *   unwind_cost --workload PATH [--links N] [--rounds 5] [--seconds 4]
 *               [--frequency 499]
 *
 * Also printed: the cost of the timing itself (an empty bracket, measured
 * the same way), already taken out of the figures, and, for scale, the
 * program's whole run time per run from kernel.bpf_stats_enabled.
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
#include "sampler.h"
#include "unwinder.h"

#define MAX_ROUNDS 64
#define MAX_PIDS 64

struct result {
	double walk_ns;   /* per walk, timing overhead removed */
	double frame_ns;  /* per frame */
	double frames;    /* per walk */
	double overhead_ns;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* pid and its children (the workload forks one process per CPU). */
static size_t workload_pids(pid_t pid, __u32 *pids, size_t cap)
{
	char path[64];
	size_t n = 0;
	unsigned long child;
	FILE *f;

	pids[n++] = pid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (!f)
		return n;
	while (n < cap && fscanf(f, "%lu", &child) == 1)
		pids[n++] = child;
	fclose(f);
	return n;
}

static int one_run(const char *workload, int links, __u32 mode, unsigned freq, double seconds,
		   struct result *r)
{
	char mode_arg[16], secs_arg[32], n_arg[16];
	struct unwinder *u = NULL;
	struct sampler *s = NULL;
	struct sampler_drain_stats st;
	__u64 ns = 0, frames = 0, walks = 0, overhead = 0, brackets = 0;
	__u32 pids[MAX_PIDS];
	size_t n_pids;
	int cpus = sysconf(_SC_NPROCESSORS_ONLN), err = 0;
	pid_t pid;

	snprintf(mode_arg, sizeof(mode_arg), "chain%d", links);
	snprintf(secs_arg, sizeof(secs_arg), "%.1f", seconds + 4);
	snprintf(n_arg, sizeof(n_arg), "%d", cpus);
	pid = fork();
	if (pid == 0) {
		execl(workload, workload, mode_arg, secs_arg, n_arg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -errno;
	sleep_s(0.3);
	n_pids = workload_pids(pid, pids, MAX_PIDS);

	if (mode != FORNAX_UNWIND_FP) {
		u = unwinder__new(&(struct unwinder_opts){
			.mode = mode, .pids = pids, .n_pids = n_pids });
		if (!u) {
			err = -errno;
			goto out;
		}
		unwinder__wait_ready(u, 5ULL * 1000000000);
	}
	s = sampler__new(&(struct sampler_opts){
		.frequency = freq,
		.pids = pids,
		.n_pids = n_pids,
		.user_stacks = true,
		.max_keys = 1 << 14,
		.max_stacks = 1 << 14,
		.unwind_mode = mode,
		.unwind_maps = u ? unwinder__maps(u) : NULL,
		.time_user_walks = true,
	});
	if (!s) {
		err = -errno;
		goto out;
	}
	/* The first second: entries and tables come in. Not measured. */
	sleep_s(1.0);
	sampler__drain(s, NULL, NULL, &st);
	for (double end = now() + seconds; now() < end;) {
		sleep_s(0.25);
		err = sampler__drain(s, NULL, NULL, &st);
		if (err)
			goto out;
		ns += st.set.user_walk_ns;
		frames += st.set.user_walk_frames;
		walks += st.set.user_walks;
		overhead += st.set.user_walk_timer_ns;
		brackets += st.set.user_walks;
	}
	if (!walks || !frames) {
		err = -ENODATA;
		goto out;
	}
	r->overhead_ns = (double)overhead / brackets;
	r->walk_ns = (double)ns / walks - r->overhead_ns;
	r->frames = (double)frames / walks;
	r->frame_ns = r->walk_ns / r->frames;
out:
	sampler__free(s);
	unwinder__free(u);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return err;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_summary(double *v, int n, int decimals)
{
	char buf[64];

	qsort(v, n, sizeof(*v), compare_doubles);
	snprintf(buf, sizeof(buf), "%.*f [%.*f..%.*f]", decimals,
		 n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, decimals, v[0], decimals,
		 v[n - 1]);
	printf(" %22s", buf);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "links", required_argument, NULL, 'l' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "frequency", required_argument, NULL, 'F' },
		{ 0 },
	};
	static const struct {
		const char *name;
		__u32 mode;
	} modes[] = { { "dwarf", FORNAX_UNWIND_DWARF }, { "fp", FORNAX_UNWIND_FP } };
	double walk[2][MAX_ROUNDS], frame[2][MAX_ROUNDS], frames[2][MAX_ROUNDS];
	double over[2][MAX_ROUNDS];
	const char *workload = NULL;
	int links = 3, rounds = 5, c;
	unsigned freq = 499;
	double seconds = 4;

	while ((c = getopt_long(argc, argv, "w:l:r:s:F:", longopts, NULL)) != -1) {
		switch (c) {
		case 'w': workload = optarg; break;
		case 'l': links = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 's': seconds = strtod(optarg, NULL); break;
		case 'F': freq = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!workload || links < 0 || links > 24 || rounds < 1 || rounds > MAX_ROUNDS ||
	    seconds <= 0 || !freq) {
		fprintf(stderr, "usage: %s --workload PATH [--links 0..24] [--rounds N] "
			"[--seconds S] [--frequency HZ]\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_WARN);
	log_setup_libbpf();

	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			/* Alternate which mode goes first. */
			int m = (r + k) % 2;
			struct result res = { 0 };
			int err = one_run(workload, links, modes[m].mode, freq, seconds, &res);

			if (err) {
				fprintf(stderr, "round %d, %s: %s\n", r + 1, modes[m].name, strerror(-err));
				return 1;
			}
			walk[m][r] = res.walk_ns;
			frame[m][r] = res.frame_ns;
			frames[m][r] = res.frames;
			over[m][r] = res.overhead_ns;
			printf("round %d: %-5s %6.0f ns per walk, %5.1f frames, %5.0f ns per frame "
			       "(timer %3.0f ns taken out)\n", r + 1, modes[m].name, res.walk_ns,
			       res.frames, res.frame_ns, res.overhead_ns);
			fflush(stdout);
		}
	}
	printf("\nchain%d, %u Hz, %d rounds of %.0f s, median [min..max]:\n", links, freq, rounds,
	       seconds);
	printf("%-6s %22s %22s %22s %22s\n", "mode", "ns per walk", "frames per walk",
	       "ns per frame", "timer ns");
	for (int m = 0; m < 2; m++) {
		printf("%-6s", modes[m].name);
		print_summary(walk[m], rounds, 0);
		print_summary(frames[m], rounds, 1);
		print_summary(frame[m], rounds, 0);
		print_summary(over[m], rounds, 0);
		printf("\n");
	}
	return 0;
}
