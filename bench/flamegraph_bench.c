// SPDX-License-Identifier: Apache-2.0
/*
 * Flame graph figures, part 1: builds a synthetic profile shaped like a busy
 * fleet machine's (STACKS distinct stacks sharing prefixes, 40 processes, a
 * quarter with kernel frames, a tenth through JIT code, long C++ names; a
 * few hot stacks and a long tail of one-sample ones), writes it as pprof,
 * and renders it, timing each render: with the defaults (frames under
 * 0.1 px merged, 3 MB budget), ten times finer (0.01 px: the budget
 * decides), and once with every frame drawn, to show what merging saves.
 * bench/flamegraph_render.py opens the first two in Chromium.
 *
 *   flamegraph_bench OUTDIR [STACKS] [RUNS]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flamegraph.h"
#include "pprof_codec.h"

#define N_FUNCTIONS 4000
#define N_KERNEL 300
#define N_JIT 400
#define N_PROCESSES 40
#define MAX_DEPTH 48

static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	__u64 x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	n = fwrite(buf, 1, len, f);
	if (fclose(f) || n != len)
		return -EIO;
	return 0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stack {
	unsigned depth;
	unsigned frames[MAX_DEPTH]; /* root first: function index */
};

static struct pprof *build(unsigned n_stacks)
{
	static const char *const spaces[] = { "net", "db", "rpc", "json", "std", "app", "io", "util" };
	static const char *const types[] = { "Conn", "Table", "Buffer", "Parser", "Pool", "Queue",
					     "Handler", "Session" };
	__u64 user_locs[N_FUNCTIONS], kernel_locs[N_KERNEL], jit_locs[N_JIT];
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 10101010,
							     .time_nanos = 1700000000000000000LL });
	struct stack *stacks = calloc(n_stacks, sizeof(*stacks));
	__u64 app, kernel, jit;
	char name[256];
	__u64 ids[2 * MAX_DEPTH];

	if (!p || !stacks)
		return NULL;
	app = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0x400000, .limit = 0x4000000,
				 .filename = "/usr/bin/server", .has_functions = true });
	kernel = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0xffffffff81000000ULL,
				    .limit = 0xffffffff83000000ULL, .filename = "[kernel.kallsyms]" });
	jit = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0x7f0000000000ULL,
				 .limit = 0x7f0010000000ULL, .filename = "/tmp/perf-4242.map" });
	for (unsigned i = 0; i < N_FUNCTIONS; i++) {
		const char *ns = spaces[below(8)], *ty = types[below(8)], *arg = types[below(8)];

		/* Long, template-heavy C++ names, as real profiles have. */
		if (i % 5 == 0)
			snprintf(name, sizeof(name), "%s::%s<std::vector<std::pair<%s::%s, int>>>::op_%u"
				 "(std::map<int, %s> const&)", ns, ty, ns, arg, i, arg);
		else
			snprintf(name, sizeof(name), "%s::%s::method_%u(%s&)", ns, ty, i, arg);
		user_locs[i] = pprof__add_location(p, app, 0x400000 + 64 * i, &(struct pprof_line){
			.function_id = pprof__add_function(p, &(struct pprof_function){
				.name = name, .filename = "server.cc" }), .line = 10 + i }, 1);
	}
	for (unsigned i = 0; i < N_KERNEL; i++) {
		snprintf(name, sizeof(name), "kfunc_%u", i);
		kernel_locs[i] = pprof__add_location(p, kernel, 0xffffffff81000000ULL + 64 * i,
			&(struct pprof_line){ .function_id = pprof__add_function(p,
				&(struct pprof_function){ .name = name }) }, 1);
	}
	for (unsigned i = 0; i < N_JIT; i++) {
		snprintf(name, sizeof(name), "LazyCompile:*handler_%u /srv/app.js:%u", i, i);
		jit_locs[i] = pprof__add_location(p, jit, 0x7f0000000000ULL + 64 * i,
			&(struct pprof_line){ .function_id = pprof__add_function(p,
				&(struct pprof_function){ .name = name }) }, 1);
	}

	/*
	 * Each stack extends a prefix of an earlier one, so they share roots as
	 * real ones do; rank i gets about 20000 / (i + 1) samples, at least one.
	 */
	for (unsigned i = 0; pprof__num_samples(p) < n_stacks; i++) {
		struct stack *s = &stacks[pprof__num_samples(p)];
		unsigned n_ids = 0, kind = below(20), proc = below(N_PROCESSES);
		char comm[16];
		__s64 count;

		if (pprof__num_samples(p) > 0) {
			const struct stack *from = &stacks[below(pprof__num_samples(p))];

			s->depth = 1 + below(from->depth);
			memcpy(s->frames, from->frames, s->depth * sizeof(s->frames[0]));
		} else {
			s->depth = 1;
			s->frames[0] = 0;
		}
		for (unsigned d = s->depth, target = 6 + below(30); d < target && d < MAX_DEPTH; d++)
			s->frames[s->depth++] = below(N_FUNCTIONS);
		/* Leaf first: kernel or JIT frames on top of the user stack for some. */
		if (kind < 5) {
			for (unsigned k = 0, n = 3 + below(10); k < n; k++)
				ids[n_ids++] = kernel_locs[below(N_KERNEL)];
		} else if (kind < 7) {
			for (unsigned k = 0, n = 2 + below(6); k < n; k++)
				ids[n_ids++] = jit_locs[below(N_JIT)];
		}
		for (unsigned d = s->depth; d-- > 0;)
			ids[n_ids++] = user_locs[s->frames[d]];
		count = (__s64)(20000.0 / (pprof__num_samples(p) + 1));
		snprintf(comm, sizeof(comm), "server-%02u", proc);
		if (pprof__add_sample(p, ids, n_ids, count > 0 ? count : 1,
				      &(struct pprof_label){ .key = "comm", .str = comm }, 1))
			return NULL;
		if (i > 50 * n_stacks)
			break; /* cannot happen with these sizes; never loop forever */
	}
	pprof__set_duration(p, 60000000000ULL);
	free(stacks);
	return p;
}

static int render(const char *dir, const char *name, const struct pprof *p,
		  const struct flamegraph_opts *opts, unsigned runs, const char *label)
{
	double *times = calloc(runs, sizeof(*times));
	struct flamegraph_stats st;
	char *svg = NULL;
	size_t len = 0;
	int err = 0;

	if (!times)
		return -ENOMEM;
	for (unsigned r = 0; r < runs && !err; r++) {
		double t0 = now();

		free(svg);
		svg = NULL;
		err = flamegraph__svg(p, opts, &svg, &len, &st);
		times[r] = now() - t0;
	}
	if (!err)
		err = write_file(dir, name, svg, len);
	if (!err) {
		qsort(times, runs, sizeof(*times), compare_double);
		printf("%-9s %-18s %8.2f MB  %7zu frames drawn  %7zu merged  render %6.1f ms "
		       "(median of %u, %.1f..%.1f)\n", label, name, len / 1e6, st.frames, st.hidden,
		       1e3 * times[runs / 2], runs, 1e3 * times[0], 1e3 * times[runs - 1]);
	}
	free(svg);
	free(times);
	return err;
}

int main(int argc, char **argv)
{
	unsigned n_stacks = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 50000;
	unsigned runs = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 5;
	struct pprof *p;
	void *buf;
	size_t len;
	int err;

	if (argc < 2 || !n_stacks || !runs) {
		fprintf(stderr, "usage: %s OUTDIR [STACKS] [RUNS]\n", argv[0]);
		return 2;
	}
	p = build(n_stacks);
	if (!p) {
		fprintf(stderr, "building the profile failed\n");
		return 1;
	}
	err = pprof__encode(p, true, &buf, &len);
	if (!err) {
		err = write_file(argv[1], "profile.pb.gz", buf, len);
		free(buf);
	}
	printf("profile: %zu distinct stacks, %lld samples, %.2f MB gzipped pprof\n",
	       pprof__num_samples(p), (long long)pprof__total_count(p), len / 1e6);
	if (!err)
		err = render(argv[1], "flame.svg", p, NULL, runs, "default");
	/* Ten times finer: the byte budget, not the width, decides what is drawn. */
	if (!err)
		err = render(argv[1], "flame-fine.svg", p, &(struct flamegraph_opts){
			.min_width = 0.01 }, runs, "0.01px");
	/* What merging saves: every frame drawn (once; too big for a browser to open). */
	if (!err)
		err = render(argv[1], "flame-all.svg", p, &(struct flamegraph_opts){
			.min_width = 1e-9, .max_bytes = (size_t)1 << 40 }, 1, "unmerged");
	pprof__free(p);
	if (err) {
		fprintf(stderr, "%s\n", strerror(-err));
		return 1;
	}
	return 0;
}
