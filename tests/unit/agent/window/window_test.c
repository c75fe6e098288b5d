// SPDX-License-Identifier: Apache-2.0
/*
 * One profile window, fed samples as the sampler hands them over: stacks of
 * this very process, symbolized by the real symbolizer; the labels each
 * sample gets; the pseudo frames that stand for a stack cut short, missing
 * or dropped; each address symbolized once per window; and the comments on
 * what the kernel lost. No BPF: the samples are made here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "window.h"

#define FREQUENCY 99

static __attribute__((noinline)) unsigned long leaf_fn(volatile unsigned long x)
{
	return x * 3 + 1;
}

static __attribute__((noinline)) unsigned long caller_fn(volatile unsigned long x)
{
	return leaf_fn(x) + 2;
}

/* pid's start time as the BPF program reports it (ns since boot); 0: this process. */
static __u64 start_ns_of(pid_t pid)
{
	char buf[1024], path[64], *p;
	unsigned long long ticks = 0;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	f = fopen(path, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* field 22; the ')' ends field 2 */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return ticks * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

struct fixture {
	struct symbolizer *sym;
	struct window *w;
	struct fornax_sample_key key;
	__u64 user[FORNAX_MAX_STACK_DEPTH];
	struct sampler_sample s;
};

static int fixture_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->sym = symbolizer__new(&(struct symbolizer_opts){ .no_kernel = true });
	fx->w = fx->sym ? window__new(&(struct window_opts){
				  .symbolizer = fx->sym,
				  .frequency = FREQUENCY,
				  .start_realtime_ns = 1700000000000000000LL,
			  })
			: NULL;
	if (!fx->w)
		return -1;
	fx->key = (struct fornax_sample_key){
		.tgid = (__u32)getpid(),
		.tid = (__u32)getpid(),
		.process_start_ns = start_ns_of(0),
		.user_stack_id = 11,
		.kernel_stack_err = FORNAX_STACK_NOT_COLLECTED,
	};
	/* sixteen bytes, no NUL: as the kernel fills them */
	memcpy(fx->key.comm, "window_test_abcd", FORNAX_COMM_LEN);
	memcpy(fx->key.thread_comm, "worker", 7);
	fx->user[0] = (__u64)(uintptr_t)leaf_fn + 1;
	fx->user[1] = (__u64)(uintptr_t)caller_fn + 8; /* a return address into caller_fn */
	fx->s = (struct sampler_sample){
		.key = &fx->key,
		.count = 1,
		.user_ips = fx->user,
		.n_user = 2,
		.user_flags = FORNAX_STACK_DWARF | FORNAX_END_COMPLETE << FORNAX_STACK_END_SHIFT,
	};
	return 0;
}

static void fixture_free(struct fixture *fx)
{
	window__free(fx->w);
	symbolizer__free(fx->sym);
}

static const char *frame_name(const struct pprof *p, __u64 location_id)
{
	const struct pprof_location *loc = pprof__location(p, location_id);
	const struct pprof_function *fn;

	if (!loc || !loc->n_lines)
		return NULL;
	fn = pprof__function(p, loc->lines[loc->n_lines - 1].function_id);
	return fn ? fn->name : NULL;
}

static const char *label(const struct pprof_sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].key, key) == 0)
			return s->labels[i].str;
	return NULL;
}

TEST(user_stacks_are_symbolized_and_labelled)
{
	const struct pprof_sample *s;
	const struct pprof *p;
	struct window_stats ws;
	struct fixture fx;
	char pid[16];

	ASSERT_EQ(caller_fn(1), 6);
	ASSERT_EQ(fixture_init(&fx), 0);
	fx.s.count = 3;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	p = window__finish(fx.w, 2000000000ULL);
	ASSERT_EQ(pprof__num_samples(p), 1);
	ASSERT_UEQ(pprof__period_ns(p), 1000000000ULL / FREQUENCY);
	ASSERT_EQ(pprof__duration_ns(p), 2000000000LL);
	s = pprof__sample(p, 0);
	ASSERT_EQ(s->count, 3);
	ASSERT_EQ(s->n_locations, 2);
	ASSERT_STREQ(frame_name(p, s->location_ids[0]), "leaf_fn");
	ASSERT_STREQ(frame_name(p, s->location_ids[1]), "caller_fn");
	/* the location keeps the sampled address, the symbol comes from addr - 1 */
	ASSERT_UEQ(pprof__location(p, s->location_ids[1])->address, fx.user[1]);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	ASSERT_STREQ(label(s, "pid"), pid);
	ASSERT_STREQ(label(s, "tid"), pid);
	ASSERT_STREQ(label(s, "comm"), "window_test_abcd");
	ASSERT_STREQ(label(s, "thread_name"), "worker");
	ASSERT_STREQ(label(s, "unwind"), "complete");
	ASSERT_TRUE(!label(s, "cgroup"));
	window__stats(fx.w, &ws);
	ASSERT_EQ(ws.samples, 3);
	ASSERT_EQ(ws.keys, 1);
	ASSERT_EQ(ws.processes, 1);
	fixture_free(&fx);
	return 0;
}

/* A repeated address costs a hash lookup: the symbolizer is asked once per window. */
TEST(each_address_is_symbolized_once)
{
	struct symbolizer_stats before, after;
	struct window_stats ws;
	struct fixture fx;

	ASSERT_EQ(fixture_init(&fx), 0);
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	symbolizer__stats(fx.sym, &before);
	ASSERT_TRUE(before.cache_misses + before.cache_hits >= 2);
	fx.key.tid++; /* another thread: another key, the same stack */
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	symbolizer__stats(fx.sym, &after);
	ASSERT_UEQ(after.cache_misses + after.cache_hits, before.cache_misses + before.cache_hits);
	ASSERT_UEQ(after.unknown_addresses, before.unknown_addresses);
	window__stats(fx.w, &ws);
	ASSERT_EQ(ws.keys, 3);
	ASSERT_EQ(ws.processes, 1);
	/* two threads: two samples, the second merged */
	ASSERT_EQ(pprof__num_samples(window__finish(fx.w, 1)), 2);
	fixture_free(&fx);
	return 0;
}

/* The outermost frame of sample i (the end of its stack). */
static const char *last_frame(const struct pprof *p, size_t i)
{
	const struct pprof_sample *s = pprof__sample(p, i);

	return s && s->n_locations ? frame_name(p, s->location_ids[s->n_locations - 1]) : NULL;
}

static bool has_comment(const struct pprof *p, const char *want)
{
	for (size_t i = 0; i < pprof__num_comments(p); i++)
		if (strcmp(pprof__comment(p, i), want) == 0)
			return true;
	return false;
}

TEST(missing_and_cut_stacks_get_pseudo_frames)
{
	const struct pprof *p;
	struct window_stats ws;
	struct fixture fx;

	ASSERT_EQ(fixture_init(&fx), 0);
	/* 0: a CFI walk that stopped early */
	fx.s.user_flags = FORNAX_STACK_DWARF | FORNAX_END_PC_NOT_COVERED << FORNAX_STACK_END_SHIFT;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	/* 1: a stack asked for and not found in the drain */
	fx.key.tid = 2;
	fx.s.n_user = 0;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	/* 2: dropped in the kernel, stacks map full, three times: counted per sample */
	fx.key.tid = 3;
	fx.key.user_stack_id = 0;
	fx.key.user_stack_err = -ENOSPC;
	fx.s.count = 3;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	fx.s.count = 1;
	/* 3: nothing to walk, nothing asked: the sample is kept all the same */
	fx.key.tid = 4;
	fx.key.user_stack_err = -EFAULT;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	/* 4: a frame-pointer walk as deep as the limit */
	fx.key.tid = 5;
	fx.key.user_stack_id = 12;
	fx.key.user_stack_err = 0;
	for (int i = 0; i < FORNAX_MAX_STACK_DEPTH; i++)
		fx.user[i] = (__u64)(uintptr_t)caller_fn + 8;
	fx.user[0] = (__u64)(uintptr_t)leaf_fn + 1;
	fx.s.n_user = FORNAX_MAX_STACK_DEPTH;
	fx.s.user_flags = FORNAX_STACK_FP;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	/* 5: storing it failed for another reason: never said to be a full map */
	fx.key.tid = 6;
	fx.key.user_stack_id = 0;
	fx.key.user_stack_err = -EINVAL;
	fx.s.n_user = 0;
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);

	p = window__finish(fx.w, 1);
	ASSERT_EQ(pprof__num_samples(p), 6);
	ASSERT_STREQ(last_frame(p, 0), "[truncated]");
	ASSERT_STREQ(label(pprof__sample(p, 0), "unwind"), "truncated: pc not covered");
	ASSERT_STREQ(last_frame(p, 1), "[stack missing]");
	ASSERT_STREQ(last_frame(p, 2), "[stack dropped: stacks map full]");
	ASSERT_STREQ(last_frame(p, 3), "[no stack]");
	ASSERT_TRUE(!label(pprof__sample(p, 3), "unwind"));
	ASSERT_EQ(pprof__sample(p, 4)->n_locations, FORNAX_MAX_STACK_DEPTH + 1);
	ASSERT_STREQ(last_frame(p, 4), "[truncated]");
	ASSERT_STREQ(label(pprof__sample(p, 4), "unwind"), "frame pointers");
	ASSERT_STREQ(last_frame(p, 5), "[stack dropped: error]");
	window__stats(fx.w, &ws);
	ASSERT_EQ(ws.stacks_missing, 1);
	ASSERT_EQ(ws.stacks_dropped, 3);
	ASSERT_EQ(ws.stacks_failed, 1);
	ASSERT_TRUE(has_comment(p, "fornax: 3 stacks dropped: stacks map full (raise --max-stacks)"));
	ASSERT_TRUE(has_comment(p, "fornax: 1 stacks dropped: error storing them"));
	fixture_free(&fx);
	return 0;
}

/* What the kernel lost is said in the profile itself. */
TEST(drain_losses_become_comments)
{
	struct sampler_drain_stats ds = { 0 };
	const struct pprof *p;
	struct window_stats ws;
	struct fixture fx;

	ASSERT_EQ(fixture_init(&fx), 0);
	ds.set.counts_map_full = 7;
	ds.set.unwind_end[FORNAX_END_DEPTH] = 2;
	ds.set.unwind_fp = 5;
	window__add_drain_stats(fx.w, &ds);
	window__add_drain_stats(fx.w, &ds);
	window__stats(fx.w, &ws);
	ASSERT_EQ(ws.drains, 2);
	ASSERT_EQ(ws.lost_counts_map_full, 14);
	ASSERT_EQ(ws.unwind_end[FORNAX_END_DEPTH], 4);
	ASSERT_EQ(ws.unwind_fp, 10);
	p = window__finish(fx.w, 1);
	ASSERT_TRUE(has_comment(p, "fornax: 14 samples lost: counts map full (raise --max-stacks "
				   "or lower --drain-interval)"));
	ASSERT_TRUE(has_comment(p, "fornax: 4 user stacks cut short ([truncated]): depth limit"));
	/* nothing else was lost, so nothing else is said */
	ASSERT_EQ(pprof__num_comments(p), 2);
	fixture_free(&fx);
	return 0;
}

/* Another process, or the same pid started again: counted apart, never merged. */
TEST(processes_are_told_apart_by_start_time)
{
	const struct pprof *p;
	struct window_stats ws;
	struct fixture fx;

	ASSERT_EQ(fixture_init(&fx), 0);
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	fx.key.process_start_ns += 1000000000ULL; /* a reused pid: not this process */
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	window__stats(fx.w, &ws);
	ASSERT_EQ(ws.processes, 2);
	p = window__finish(fx.w, 1);
	/* the reused pid's addresses are not this process's: left unsymbolized */
	ASSERT_EQ(pprof__num_samples(p), 2);
	ASSERT_STREQ(last_frame(p, 0), "caller_fn");
	ASSERT_TRUE(!frame_name(p, pprof__sample(p, 1)->location_ids[0]));
	fixture_free(&fx);
	return 0;
}

/*
 * This process's executable file mappings, as the kernel reports them:
 * each mmap (with its path), then the exit.
 */
static size_t exec_vmas(struct symbolizer_vma *out, char (*paths)[256], size_t max)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	size_t n = 0;

	while (f && n < max && fgets(line, sizeof(line), f)) {
		unsigned long long start, end, offset, inode;
		unsigned major, minor;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %255s", &start, &end, perms,
			   &offset, &major, &minor, &inode, paths[n]) == 8 &&
		    perms[2] == 'x' && inode)
			out[n++] = (struct symbolizer_vma){
				.start = start, .end = end, .offset = offset, .inode = inode,
				.dev_major = major, .dev_minor = minor,
			};
	}
	if (f)
		fclose(f);
	return n;
}

struct exit_report {
	struct symbolizer *sym;
	pid_t pid;
	__u64 start_ns;
	bool waiting; /* the exit record is not there yet */
	int calls;
};

/* What the agent does on the callback: takes the waiting exit record. */
static void take_exit(void *ctx)
{
	struct exit_report *r = ctx;
	static char paths[64][256];
	struct symbolizer_vma vmas[64];
	size_t n = exec_vmas(vmas, paths, 64);

	r->calls++;
	if (r->waiting)
		return;
	for (size_t i = 0; i < n; i++)
		(void)symbolizer__file_mapped(r->sym, (__u32)r->pid, &vmas[i], paths[i]);
	(void)symbolizer__process_exit(r->sym, (__u32)r->pid, r->start_ns, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = true });
}

/*
 * A process gone before its maps were read: the window asks for the exit
 * records waiting, and the exit's mappings name its samples. A forked child
 * runs this very image, so this process's maps are its.
 */
TEST(exit_taken_while_symbolizing_names_a_gone_process)
{
	struct exit_report report = {};
	const struct pprof *p;
	int gate[2], status;
	struct window *w;
	struct fixture fx;
	char c;

	ASSERT_EQ(fixture_init(&fx), 0);
	ASSERT_EQ(pipe(gate), 0);
	report.pid = fork();
	if (report.pid == 0) {
		close(gate[1]);
		(void)!read(gate[0], &c, 1);
		_exit(0);
	}
	ASSERT_TRUE(report.pid > 0);
	report.start_ns = start_ns_of(report.pid);
	close(gate[0]);
	close(gate[1]);
	ASSERT_EQ(waitpid(report.pid, &status, 0), report.pid);
	ASSERT_TRUE(report.start_ns != 0);
	report.sym = fx.sym;
	fx.key.tgid = fx.key.tid = (__u32)report.pid;
	fx.key.process_start_ns = report.start_ns;

	/* without the callback the gone process's addresses stay unnamed */
	ASSERT_EQ(window__add_sample(&fx.s, fx.w), 0);
	ASSERT_TRUE(!last_frame(window__finish(fx.w, 1), 0));

	w = window__new(&(struct window_opts){
		.symbolizer = fx.sym, .frequency = FREQUENCY, .take_exits = take_exit,
		.take_exits_ctx = &report });
	ASSERT_TRUE(w);
	/* its exit not reported yet: unnamed, and not remembered so */
	report.waiting = true;
	ASSERT_EQ(window__add_sample(&fx.s, w), 0);
	ASSERT_EQ(report.calls, 1);
	report.waiting = false;
	ASSERT_EQ(window__add_sample(&fx.s, w), 0);
	ASSERT_EQ(report.calls, 2);
	/* the exit is taken: the next sample of it asks for nothing */
	ASSERT_EQ(window__add_sample(&fx.s, w), 0);
	ASSERT_EQ(report.calls, 2);
	p = window__finish(w, 1);
	ASSERT_EQ(pprof__num_samples(p), 2);
	ASSERT_TRUE(!last_frame(p, 0));
	ASSERT_STREQ(last_frame(p, 1), "caller_fn");
	ASSERT_STREQ(frame_name(p, pprof__sample(p, 1)->location_ids[0]), "leaf_fn");
	ASSERT_EQ(pprof__sample(p, 1)->count, 2);
	window__free(w);
	fixture_free(&fx);
	return 0;
}

/* A live process whose addresses are mapped asks for no exit records. */
TEST(live_process_asks_for_no_exits)
{
	struct exit_report report = {};
	struct window *w;
	struct fixture fx;

	ASSERT_EQ(fixture_init(&fx), 0);
	report.sym = fx.sym;
	w = window__new(&(struct window_opts){
		.symbolizer = fx.sym, .frequency = FREQUENCY, .take_exits = take_exit,
		.take_exits_ctx = &report });
	ASSERT_TRUE(w);
	ASSERT_EQ(window__add_sample(&fx.s, w), 0);
	ASSERT_EQ(report.calls, 0);
	ASSERT_STREQ(last_frame(window__finish(w, 1), 0), "caller_fn");
	window__free(w);
	fixture_free(&fx);
	return 0;
}

/*
 * A live process's address in no mapping (data a frame-pointer walk took for
 * a return address) asks for no exit records: its maps were just read again,
 * and no exit report will name it. It is remembered like any other address.
 */
TEST(live_process_garbage_address_asks_for_no_exits)
{
	struct exit_report report = {};
	const struct pprof *p;
	struct window *w;
	struct fixture fx;

	ASSERT_EQ(fixture_init(&fx), 0);
	report.sym = fx.sym;
	fx.user[1] = 0x10; /* no process maps page 0 */
	fx.user[2] = (__u64)(uintptr_t)caller_fn + 8;
	fx.s.n_user = 3;
	w = window__new(&(struct window_opts){
		.symbolizer = fx.sym, .frequency = FREQUENCY, .take_exits = take_exit,
		.take_exits_ctx = &report });
	ASSERT_TRUE(w);
	ASSERT_EQ(window__add_sample(&fx.s, w), 0);
	ASSERT_EQ(window__add_sample(&fx.s, w), 0);
	ASSERT_EQ(report.calls, 0);
	p = window__finish(w, 1);
	ASSERT_EQ(pprof__num_samples(p), 1);
	ASSERT_EQ(pprof__sample(p, 0)->count, 2);
	ASSERT_STREQ(frame_name(p, pprof__sample(p, 0)->location_ids[0]), "leaf_fn");
	window__free(w);
	fixture_free(&fx);
	return 0;
}

int main(void)
{
	RUN(user_stacks_are_symbolized_and_labelled);
	RUN(each_address_is_symbolized_once);
	RUN(missing_and_cut_stacks_get_pseudo_frames);
	RUN(drain_losses_become_comments);
	RUN(processes_are_told_apart_by_start_time);
	RUN(exit_taken_while_symbolizing_names_a_gone_process);
	RUN(live_process_asks_for_no_exits);
	RUN(live_process_garbage_address_asks_for_no_exits);
	return test_summary();
}
