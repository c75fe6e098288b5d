// SPDX-License-Identifier: Apache-2.0
/*
 * fornax: samples every CPU with a BPF program, drains the kernel's
 * aggregated stacks every drain interval, symbolizes them here, and writes a
 * profile per window (continuous mode) or one at the end (--duration).
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroups.h"
#include "checks.h"
#include "config.h"
#include "convert.h"
#include "fileio.h"
#include "lifecycle.h"
#include "log.h"
#include "ops.h"
#include "output.h"
#include "proc_watch.h"
#include "progress.h"
#include "python_tracker.h"
#include "sampler.h"
#include "sampler_stats.h"
#include "symbolizer.h"
#include "targets.h"
#include "timeconst.h"
#include "top.h"
#include "unwinder.h"
#include "upload.h"
#include "window.h"

/* Cached symbols and processes not used for this long are evicted. */
#define SYMBOL_IDLE_NS (120 * NSEC_PER_SEC)
/* How long startup waits for the CFI tables of the processes already running. */
#define UNWIND_READY_NS (3 * NSEC_PER_SEC)
/* Retries to a failing store come at least this often, and at most every interval. */
#define MIN_STORE_BACKOFF_NS (1 * NSEC_PER_SEC)
#define MAX_STORE_BACKOFF_NS (30 * NSEC_PER_SEC)

struct agent {
	struct config cfg;
	struct sampler *sampler;
	struct symbolizer *symbolizer;
	struct window *window;
	struct proc_watch *proc_watch; /* NULL: no lifecycle events (logged) */
	struct cgroups *cgroups;       /* NULL: no cgroup labels (logged) */
	struct lifecycle *lifecycle;
	struct python_tracker *python; /* NULL: --python=off, or unavailable (logged) */
	struct targets *targets; /* the --pid processes; NULL without --pid */
	/*
	 * A window holds the samples between two flips of the sampler's map
	 * sets, so it starts and ends at a flip: symbolizing a drain can take
	 * long (a big debug file met for the first time), and a window that
	 * ended when the drain did would be stamped longer than what it holds,
	 * and the next one shorter.
	 */
	__u64 window_start_mono;
	__s64 window_start_real;
	__u64 last_flip_mono; /* 0 before the first drain */
	int kernel_symbols_read;
	__s64 last_flip_real;
	int signal_fd, timer_fd;
	struct progress progress; /* ad-hoc captures on a terminal */
	const struct pprof *finished; /* the window last written */
	__u64 capture_start_mono;
	/* Whole-run books, reported at exit. */
	struct sampler_totals totals;
	__u64 windows_written, write_errors;
	struct unwinder *unwinder;
	struct uploader *uploader; /* NULL without --store */
	/* How late the loop woke for its drains: it must not wait on anything but the timer. */
	__u64 drain_wakeups;
	__u64 drain_late_sum_ns;
	__u64 drain_late_max_ns;
	struct ops ops;
	/* for SIGHUP's re-read of the configuration */
	int argc;
	char **argv, **envp;
};

static int setup_signals(struct agent *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->signal_fd < 0)
		return -errno;
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	return a->timer_fd < 0 ? -errno : 0;
}

static int arm_timer(struct agent *a, __u64 deadline_mono)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = deadline_mono / NSEC_PER_SEC,
			      .tv_nsec = deadline_mono % NSEC_PER_SEC },
	};

	return timerfd_settime(a->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

static void consume_proc_events(void *ctx)
{
	struct agent *a = ctx;
	int n;

	lifecycle__consume_sideband(a->lifecycle); /* an exit takes what was mapped before it */
	python_tracker__consume(a->python); /* the Python walker's copies of code objects */
	n = a->proc_watch ? proc_watch__consume(a->proc_watch) : 0;
	if (n < 0)
		log_warn_ratelimited("reading process events: %s, ignoring", strerror(-n));
}

/*
 * SIGHUP: the configuration read again (file, environment, command line).
 * What a running agent can take is taken (the relabel rules, the log
 * level); the rest needs a restart, and a configuration with an error is
 * not taken at all.
 */
/* Returns 1 when SIGINT/SIGTERM arrived, 0 when the deadline passed, or -errno. */
static int wait_until(struct agent *a, __u64 deadline_mono)
{
	struct pollfd fds[4] = {
		{ .fd = a->signal_fd, .events = POLLIN },
		{ .fd = a->timer_fd, .events = POLLIN },
		/* a negative fd is ignored by poll() */
		{ .fd = a->proc_watch ? proc_watch__fd(a->proc_watch) : -1, .events = POLLIN },
		{ .fd = a->python ? python_tracker__fd(a->python) : -1, .events = POLLIN },
	};
	int err = arm_timer(a, deadline_mono);

	if (err)
		return err;
	for (;;) {
		int ready = poll(fds, 4, proc_watch__poll_timeout_ms(a->proc_watch));

		if (ready < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			progress__clear(&a->progress);
			if (read(a->signal_fd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				ops__reload(&a->ops, &a->cfg, a->argc, a->argv, a->envp);
				continue;
			}
			log_info("%s: stopping after the current window", strsignal(si.ssi_signo));
			return 1;
		}
		if (fds[1].revents & POLLIN) {
			__u64 expirations;

			if (read(a->timer_fd, &expirations, sizeof(expirations)) < 0 &&
			    errno != EAGAIN)
				return -errno;
			return 0;
		}
		/* timed out: the records that came within the kernel's wake-up gap */
		if (!ready || (fds[2].revents | fds[3].revents) & POLLIN)
			consume_proc_events(a);
	}
}

static int new_window(struct agent *a)
{
	a->window_start_mono = a->last_flip_mono ?: clock_ns(CLOCK_MONOTONIC);
	a->window_start_real = a->last_flip_mono ? a->last_flip_real : (__s64)clock_ns(CLOCK_REALTIME);
	a->window = window__new(&(struct window_opts){
		.symbolizer = a->symbolizer,
		.frequency = a->cfg.frequency,
		.start_realtime_ns = a->window_start_real,
		.cgroups = a->cgroups,
		.python = a->python,
		.k8s = a->ops.k8s,
		.relabel = &a->cfg.relabel,
		.take_exits = consume_proc_events, .take_exits_ctx = a,
	});
	return a->window ? 0 : -errno;
}

static void account_drain(struct agent *a, const struct sampler_drain_stats *st)
{
	struct ops_loop_stats loop = {
		.windows_written = a->windows_written,
		.write_errors = a->write_errors,
		.late_sum_ns = a->drain_late_sum_ns,
		.late_max_ns = a->drain_late_max_ns,
		.last_drain_realtime_ns = clock_ns(CLOCK_REALTIME),
	};

	sampler_totals__add(&a->totals, st, a->unwinder != NULL);
	if (a->python)
		python_tracker__account_drain(a->python, &st->set);
	window__add_drain_stats(a->window, st);
	ops__after_drain(&a->ops, &a->totals, st, a->lifecycle, &loop);
}

/* Each drained sample to the window, and to an on-demand capture in progress. */
static int add_sample(const struct sampler_sample *sample, void *ctx)
{
	struct agent *a = ctx;

	return window__add_sample(sample, a->window) ?: ops__add_sample(&a->ops, sample);
}

static int drain(struct agent *a, bool final)
{
	struct sampler_drain_stats st;
	int err;

	/* Whatever the drain logs must not land in the middle of the progress line. */
	progress__clear(&a->progress);
	/* every exec and exit before the flip is known before its samples are symbolized */
	consume_proc_events(a);
	a->last_flip_mono = clock_ns(CLOCK_MONOTONIC);
	a->last_flip_real = (__s64)clock_ns(CLOCK_REALTIME);
	if (final)
		err = sampler__stop(a->sampler, add_sample, a, &st);
	else
		err = sampler__drain(a->sampler, add_sample, a, &st);
	/* The set was cleared even if a sample could not be added: account what was read. */
	account_drain(a, &st);
	symbolizer__end_cycle(a->symbolizer);
	if (a->python)
		python_tracker__end_cycle(a->python);
	cgroups__end_cycle(a->cgroups);
	proc_watch__end_cycle(a->proc_watch);
	lifecycle__end_cycle(a->lifecycle);
	if (err)
		log_error("drain: %s", strerror(-err));
	if (!final) {
		struct window_stats ws;

		window__stats(a->window, &ws);
		progress__update(&a->progress, clock_ns(CLOCK_MONOTONIC) - a->capture_start_mono,
				 ws.samples, ws.processes);
	}
	return err;
}

/* Writes the window to every output; a failed one does not stop the others. */
static int write_window(struct agent *a, const struct config_output *outputs, size_t n)
{
	__u64 duration = a->last_flip_mono - a->window_start_mono;
	const struct pprof *p = window__finish(a->window, duration);
	struct window_stats ws;
	char title[128], host[64] = "";
	int err = 0;

	window__stats(a->window, &ws);
	a->finished = p;
	if (a->uploader)
		uploader__submit(a->uploader, p);
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0])
		snprintf(title, sizeof(title), "CPU flame graph: %s", host);
	else
		snprintf(title, sizeof(title), "CPU flame graph");
	for (size_t i = 0; i < n; i++) {
		int e = output__write_opts(p, outputs[i].format, outputs[i].path, &(struct output_opts){
			.title = a->cfg.title ? a->cfg.title : title,
			.width = a->cfg.width,
			.icicle = a->cfg.icicle,
		});

		if (e) {
			a->write_errors++;
			log_error("writing %s: %s", outputs[i].path, strerror(-e));
			err = err ?: e;
			continue;
		}
		log_info("wrote %s: %llu samples, %zu stacks, %.1fs%s",
			 output__is_stdout(outputs[i].path) ? "standard output" : outputs[i].path,
			 (unsigned long long)ws.samples, pprof__num_samples(p),
			 (double)duration / NSEC_PER_SEC,
			 ws.lost_counts_map_full + ws.stacks_dropped + ws.stacks_failed
				 ? " (some samples or stacks lost, see the profile's comments)" : "");
	}
	if (!err)
		a->windows_written++;
	return err;
}

/* After an ad-hoc capture: the functions with the most samples, like `pprof -top`. */
static void print_top(struct agent *a)
{
	int n = a->cfg.top < 0 ? 10 : a->cfg.top;
	char *text;
	int err;

	if (n == 0 || a->cfg.verbosity < 0 || !a->finished || !a->totals.samples)
		return;
	err = top__format(a->finished, (size_t)n, a->cfg.top_by, NULL, &text);
	if (err) {
		log_warn("top summary: %s, ignoring", strerror(-err));
		return;
	}
	fputs(text, stderr);
	free(text);
}

static int rotate_window(struct agent *a)
{
	struct config_output out = { .format = a->cfg.format };
	int err, pruned = 0;

	/* With --store alone there is no output directory: the window only goes to the store. */
	if (a->cfg.output &&
	    !(out.path = output__window_path(a->cfg.output, a->window_start_real, a->cfg.format)))
		return -ENOMEM;
	/* A full disk must not stop profiling: the error is logged and counted, the next window tries again. */
	write_window(a, &out, a->cfg.output ? 1 : 0);
	free(out.path);
	if (a->cfg.output)
		pruned = output__prune(a->cfg.output, a->cfg.max_files);
	if (pruned < 0)
		log_warn("pruning %s: %s, ignoring", a->cfg.output, strerror(-pruned));
	window__free(a->window);
	a->window = NULL;
	/*
	 * A window's model, table builds and DWARF sessions come and go; glibc
	 * keeps what they freed in its arenas (one per thread) unless asked.
	 */
	malloc_trim(0);
	err = new_window(a);
	if (err)
		log_error("starting a window: %s", strerror(-err));
	lifecycle__log_caches(a->lifecycle);
	return err;
}

static void note_wakeup(struct agent *a, __u64 late_ns)
{
	a->drain_wakeups++;
	a->drain_late_sum_ns += late_ns;
	if (late_ns > a->drain_late_max_ns)
		a->drain_late_max_ns = late_ns;
	log_debug("drain schedule: woke %.3f ms after the deadline", (double)late_ns / 1e6);
}

static int run(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	__u64 start = clock_ns(CLOCK_MONOTONIC);
	__u64 next_drain = start + cfg->drain_interval_ns;
	__u64 capture_end = cfg->duration_ns ? start + cfg->duration_ns : UINT64_MAX;
	__u64 window_end = cfg->duration_ns ? UINT64_MAX : start + cfg->interval_ns;
	int err = 0;

	for (;;) {
		__u64 deadline = next_drain, now;
		int stop;

		if (capture_end < deadline)
			deadline = capture_end;
		if (window_end < deadline)
			deadline = window_end;
		stop = wait_until(a, deadline);
		if (stop < 0)
			return stop;
		now = clock_ns(CLOCK_MONOTONIC);
		if (!stop)
			note_wakeup(a, now - deadline);
		if (stop || now >= capture_end)
			break;
		err = drain(a, false);
		if (err == -ENOMEM)
			return err;
		while (next_drain <= now)
			next_drain += cfg->drain_interval_ns;
		if (now >= window_end) {
			err = rotate_window(a);
			if (err)
				return err;
			/*
			 * After a stall (a long drain, a busy machine) the next window
			 * gets a full interval, not the rest of one; a few ms late
			 * keeps the schedule.
			 */
			if (now - window_end >= cfg->drain_interval_ns ||
			    now - window_end >= cfg->interval_ns / 10)
				window_end = now;
			while (window_end <= now)
				window_end += cfg->interval_ns;
		}
	}

	err = drain(a, true);
	if (cfg->duration_ns) {
		err = write_window(a, cfg->outputs, cfg->n_outputs) ?: err;
		print_top(a);
		return checks__explain_empty(&a->cfg, a->targets, a->totals.samples) ?: err;
	}
	return rotate_window(a) ?: err;
}

/*
 * libdebuginfod takes its servers, cache and timeouts from the environment;
 * it is set here, at startup, before any thread could read it.
 */
static int setup_debuginfod(const struct config *cfg)
{
	char secs[32];
	int err;

	err = mkdir_p(cfg->debuginfod_cache, 0700);
	if (err) {
		log_error("--debuginfod-cache %s: %s", cfg->debuginfod_cache, strerror(-err));
		return err;
	}
	/* whole seconds, at least one: what the library understands */
	snprintf(secs, sizeof(secs), "%llu",
		 (unsigned long long)((cfg->debuginfod_timeout_ns + NSEC_PER_SEC - 1) / NSEC_PER_SEC));
	if (setenv("DEBUGINFOD_URLS", cfg->debuginfod_urls, 1) ||
	    setenv("DEBUGINFOD_CACHE_PATH", cfg->debuginfod_cache, 1) ||
	    setenv("DEBUGINFOD_TIMEOUT", secs, 1) || setenv("DEBUGINFOD_MAXTIME", secs, 1))
		return -errno;
	log_info("debug files not found locally are fetched from %s (cache %s, %ss timeout)",
		 cfg->debuginfod_urls, cfg->debuginfod_cache, secs);
	return 0;
}

static int setup_store(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	struct series_label *labels = calloc(cfg->n_labels ?: 1, sizeof(*labels));
	__u64 backoff = cfg->interval_ns;

	if (!labels)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_labels; i++)
		labels[i] = (struct series_label){ cfg->labels[i].name, cfg->labels[i].value };
	if (backoff < MIN_STORE_BACKOFF_NS)
		backoff = MIN_STORE_BACKOFF_NS;
	if (backoff > MAX_STORE_BACKOFF_NS)
		backoff = MAX_STORE_BACKOFF_NS;
	a->uploader = uploader__new(&(struct uploader_opts){
		.store = {
			.url = cfg->store,
			.tenant = cfg->tenant,
			.bearer_token_file = cfg->bearer_token_file,
			.ca_file = cfg->ca_file,
			.insecure_skip_verify = cfg->insecure_skip_verify,
			.timeout_ns = cfg->store_timeout_ns,
			.connect_timeout_ns = cfg->store_connect_timeout_ns,
			.user_agent = "fornax/" FORNAX_VERSION,
		},
		.labels = labels,
		.n_labels = cfg->n_labels,
		.service_name = cfg->service_name,
		.spool_dir = cfg->spool_dir,
		.spool_max_bytes = cfg->spool_max_bytes,
		.queue_windows = cfg->store_queue,
		.max_backoff_ns = backoff,
	});
	/* The uploader keeps its own copy of the label array, pointing into cfg. */
	free(labels);
	if (!a->uploader)
		return -errno;
	if (!cfg->spool_dir)
		log_info("store: without --spool-dir, an outage longer than %u windows loses windows",
			 cfg->store_queue);
	return 0;
}

static int setup_symbolizer(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	int err;

	if (cfg->debuginfod_urls) {
		err = setup_debuginfod(cfg);
		if (err)
			return err;
	}
	a->symbolizer = symbolizer__new(&(struct symbolizer_opts){
		.idle_cycles = SYMBOL_IDLE_NS / cfg->drain_interval_ns + 1,
		.no_kernel = !cfg->kernel_stacks,
		.debug_dirs = cfg->debug_dirs,
		.debuginfod = cfg->debuginfod_urls != NULL,
		.max_perfmap_total_bytes = cfg->perf_map_memory,
		.max_dwarf_bytes = cfg->debug_info_memory, .scratch_dir = cfg->unwind_cache,
	});
	if (!a->symbolizer) {
		err = -errno;
		if (cfg->debuginfod_urls && err == -ENOENT)
			log_error("--debuginfod: libdebuginfod.so.1 cannot be loaded (install "
				  "libdebuginfod1)");
		else
			log_error("starting the symbolizer: %s", strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Between the sampler's load and its start: beside libbpf's two copies of the kernel's BTF
 * (11 MB) the index was the peak RSS, and samples count from the start (this takes 50 ms).
 */
static void load_kernel_symbols(void *ctx)
{
	struct agent *a = ctx;
	int err;

	if (!a->cfg.kernel_stacks || a->kernel_symbols_read++)
		return;
	err = symbolizer__load_kernel(a->symbolizer);
	if (err == -EPERM)
		log_warn("kernel addresses in /proc/kallsyms are hidden from fornax (it needs "
			 "CAP_SYSLOG, see kernel.kptr_restrict): kernel frames will show as "
			 "[unknown]");
	else if (err)
		log_warn("reading kernel symbols: %s; kernel frames will show as [unknown]",
			 strerror(-err));
}

/* The kernel's process records, to every tracker of processes (the unwinder joins later). */
static int setup_lifecycle(struct agent *a)
{
	const struct config *cfg = &a->cfg;

	a->cgroups = cgroups__new(0, SYMBOL_IDLE_NS / cfg->drain_interval_ns + 1);
	if (!a->cgroups)
		log_warn("no cgroup2 filesystem (%s): samples carry no cgroup or container labels",
			 strerror(errno));
	if (cfg->python) {
		a->python = python_tracker__new(&(struct python_tracker_opts){ 0 });
		if (!a->python)
			log_warn("Python frames unavailable (%s): Python processes show the "
				 "interpreter's native frames", strerror(errno));
	}
	a->lifecycle = lifecycle__new(&(struct lifecycle_opts){
		.symbolizer = a->symbolizer,
		.cgroups = a->cgroups,
		.python = a->python,
		.pids = cfg->pids,
		.n_pids = cfg->n_pids,
	});
	if (!a->lifecycle)
		return -errno;
	/* its programs are the sampler's, attached before the sampling starts */
	a->proc_watch = proc_watch__new(&(struct proc_watch_opts){
		.vma_iterator = lifecycle__start_sideband(a->lifecycle) },
		lifecycle__on_event, a->lifecycle);
	if (!a->proc_watch)
		log_warn("process events unavailable (%s): processes that exit before a drain "
			 "stay unsymbolized", strerror(errno));
	return 0;
}

static int setup_unwinder(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	int err;

	if (cfg->unwind_mode == FORNAX_UNWIND_FP)
		return 0;
	a->unwinder = unwinder__new(&(struct unwinder_opts){
		.mode = cfg->unwind_mode, .max_table_bytes = cfg->unwind_memory,
		.table_cache_dir = cfg->unwind_cache, .table_cache_bytes = cfg->unwind_cache_size,
		.pids = cfg->pids, .n_pids = cfg->n_pids,
	});
	if (!a->unwinder && cfg->unwind_mode == FORNAX_UNWIND_DWARF) {
		err = -errno;
		log_error("--unwind=dwarf: cannot set up CFI unwinding: %s", strerror(-err));
		return err;
	}
	if (!a->unwinder)
		log_warn("CFI unwinding unavailable (%s): user stacks are walked by frame "
			 "pointers", strerror(errno));
	else if (!unwinder__wait_ready(a->unwinder, UNWIND_READY_NS))
		log_info("unwind tables still loading: until a process's are in, its stacks "
			 "are walked by frame pointers");
	return 0;
}

static int setup_sampler(struct agent *a, size_t max_keys, size_t max_stacks)
{
	const struct config *cfg = &a->cfg;
	struct sampler_opts sopts = {
		.frequency = cfg->frequency,
		.pids = cfg->pids,
		.n_pids = cfg->n_pids,
		.cgroups = &cfg->cgroups,
		.kernel_stacks = cfg->kernel_stacks,
		.user_stacks = true,
		.include_idle = cfg->include_idle,
		.announce_processes = a->proc_watch != NULL,
		.max_keys = max_keys,
		.max_stacks = max_stacks,
		.unwind_mode = a->unwinder ? cfg->unwind_mode : FORNAX_UNWIND_FP,
		.unwind_maps = a->unwinder ? unwinder__maps(a->unwinder) : NULL,
		.python_maps = a->python ? python_tracker__maps(a->python) : NULL,
		.proc_maps = a->proc_watch ? proc_watch__maps(a->proc_watch) : NULL,
		.before_start = load_kernel_symbols, .before_start_ctx = a,
	};
	int err;

	a->sampler = sampler__new(&sopts);
	if (!a->sampler && a->python) {
		/* The Python walker needs bpf_loop (Linux 5.17+), as the CFI walker does. */
		log_warn("the program with the Python walker did not load: Python processes show "
			 "the interpreter's native frames");
		python_tracker__free(a->python);
		a->python = NULL;
		lifecycle__set_python(a->lifecycle, NULL);
		sopts.python_maps = NULL;
		a->sampler = sampler__new(&sopts);
	}
	if (!a->sampler && a->unwinder && cfg->unwind_mode == FORNAX_UNWIND_AUTO) {
		/* The walker needs more of the kernel (Linux 6.1+) than the rest of the program. */
		log_warn("the program with the CFI walker did not load: user stacks are walked by "
			 "frame pointers");
		unwinder__free(a->unwinder);
		a->unwinder = NULL;
		sopts.unwind_mode = FORNAX_UNWIND_FP;
		sopts.unwind_maps = NULL;
		a->sampler = sampler__new(&sopts);
	}
	if (!a->sampler)
		return -errno;
	if (a->proc_watch && !sampler__proc_events(a->sampler)) {
		proc_watch__free(a->proc_watch); /* the attach failure is logged */
		a->proc_watch = NULL;
	}
	/* exits reach the unwinder too, now that it is the one the program reads */
	lifecycle__set_unwinder(a->lifecycle, a->unwinder);
	if (a->proc_watch) {
		err = proc_watch__add_ringbuf(a->proc_watch, sampler__announcements_fd(a->sampler));
		if (err)
			log_warn("reading first-sample records: %s, ignoring", strerror(-err));
	}
	return 0;
}

static int setup(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	size_t max_keys, max_stacks;
	int err = checks__start(cfg, &a->targets);

	if (err)
		return err;
	if (!cfg->duration_ns && cfg->output && mkdir(cfg->output, 0755) < 0 && errno != EEXIST) {
		err = -errno;
		log_error("creating output directory %s: %s", cfg->output, strerror(-err));
		return err;
	}
	sampler__size_maps(cfg->frequency, cfg->drain_interval_ns, cfg->max_stacks, &max_keys,
			   &max_stacks);
	err = ops__start_kubernetes(&a->ops, cfg);
	if (!err)
		err = setup_symbolizer(a);
	if (!err)
		err = setup_lifecycle(a);
	if (!err)
		err = setup_unwinder(a);
	if (!err)
		err = setup_sampler(a, max_keys, max_stacks);
	if (err)
		return err;
	unwinder__sampling_started(a->unwinder);
	err = setup_signals(a);
	if (err) {
		log_error("setting up signals and timers: %s", strerror(-err));
		return err;
	}
	err = new_window(a);
	if (err)
		return err;
	a->capture_start_mono = a->window_start_mono;
	err = cfg->store ? setup_store(a) : 0;
	if (!err)
		err = ops__start(&a->ops, cfg, &(struct window_opts){
			.symbolizer = a->symbolizer, .frequency = cfg->frequency,
			.cgroups = a->cgroups, .python = a->python,
			.k8s = a->ops.k8s, .relabel = &a->cfg.relabel,
		}, a->lifecycle, a->unwinder, a->uploader);
	if (err)
		return err;
	progress__init(&a->progress, STDERR_FILENO, cfg->duration_ns && cfg->verbosity >= 0,
		       cfg->duration_ns);

	if (cfg->duration_ns)
		log_info("profiling %d CPUs at %u Hz for %.1fs into %s%s", sampler__nr_cpus(a->sampler),
			 cfg->frequency, (double)cfg->duration_ns / NSEC_PER_SEC,
			 cfg->output ? cfg->output : cfg->store, cfg->n_outputs > 1 ? " and more" : "");
	else
		log_info("profiling %d CPUs at %u Hz: a profile every %.1fs into %s/ until stopped",
			 sampler__nr_cpus(a->sampler), cfg->frequency,
			 (double)cfg->interval_ns / NSEC_PER_SEC, cfg->output ? cfg->output : cfg->store);
	log_debug("maps per set: %zu keys, %zu stacks; drain every %.3fs", max_keys, max_stacks,
		  (double)cfg->drain_interval_ns / NSEC_PER_SEC);
	return 0;
}

static void teardown(struct agent *a)
{
	/* no scrape or capture reads a stage once the endpoint is down */
	ops__stop(&a->ops);
	uploader__free(a->uploader);
	window__free(a->window);
	sampler__free(a->sampler);
	/* After the sampler: the program reads the unwinder's maps until detached. */
	unwinder__free(a->unwinder);
	proc_watch__free(a->proc_watch);
	lifecycle__free(a->lifecycle);
	python_tracker__free(a->python);
	cgroups__free(a->cgroups);
	targets__free(a->targets);
	symbolizer__free(a->symbolizer);
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	ops__free(&a->ops);
	config__free(&a->cfg);
}

int main(int argc, char **argv, char **envp)
{
	struct agent a = { .signal_fd = -1, .timer_fd = -1, .argc = argc, .argv = argv,
			   .envp = envp };
	int err;

	if (argc > 1 && strcmp(argv[1], "convert") == 0)
		return convert__main(argc - 1, argv + 1, envp, argv[0]);
	if (config__parse(&a.cfg, argc, argv, envp))
		return 2;
	if (a.cfg.show_help) {
		config__print_help(argv[0]);
		config__free(&a.cfg);
		return 0;
	}
	if (a.cfg.show_version) {
		printf("fornax %s\n", FORNAX_VERSION);
		config__free(&a.cfg);
		return 0;
	}
	/*
	 * A fixed threshold stops glibc from raising it after each large free,
	 * so multi-megabyte buffers (unwind tables of big libraries, encoded
	 * windows) are mapped and unmapped instead of pinned in an arena.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	/* Not the 128 KiB it fixed too: the heap shrank and grew back at every drain (rotate_window() trims). */
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
	log_set_level(a.cfg.verbosity < 0 ? LOG_WARN : LOG_INFO + a.cfg.verbosity);
	log_setup_libbpf();

	err = setup(&a);
	if (!err) {
		ops__ready(&a.ops);
		err = run(&a);
	}
	if (a.sampler)
		sampler_totals__log_done(&a.totals, a.windows_written, a.write_errors);
	/* The books of the run, for whoever investigates it. */
	if (a.sampler && a.cfg.verbosity > 0) {
		lifecycle__log_summary(a.lifecycle);
		proc_watch__log_summary(a.proc_watch);
		if (a.unwinder) {
			sampler_totals__log_unwind(&a.totals);
			unwinder__log_summary(a.unwinder);
		}
		python_tracker__log_summary(a.python);
	}
	if (a.drain_wakeups && a.cfg.verbosity > 0)
		log_info("drain schedule: %llu wake-ups, %.3f ms late on average, %.3f ms at most",
			 (unsigned long long)a.drain_wakeups,
			 (double)a.drain_late_sum_ns / a.drain_wakeups / 1e6,
			 (double)a.drain_late_max_ns / 1e6);
	if (a.uploader) {
		/* Queued windows get one request timeout to go out; the rest waits in the spool. */
		uploader__stop(a.uploader, a.cfg.store_timeout_ns);
		uploader__log_stats(a.uploader);
	}
	teardown(&a);
	return err ? 1 : 0;
}
