// SPDX-License-Identifier: Apache-2.0
/*
 * CPython found and read in live processes: Debian's /usr/bin/python3
 * (3.11) runs code_child.py, which prints the addresses and values of its
 * own objects; everything read here through the layout table must match.
 * Also a program embedding libpython3.11.so, and the code cache's bounds,
 * eviction and reuse detection against real memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "py_code.h"
#include "py_detect.h"
#include "py_mem.h"
#include "test.h"

#define MAX_CODES 8
#define MAX_OFFSETS 256

struct child {
	pid_t pid;
	FILE *in, *out;
};

struct code_fact {
	__u64 id;
	int firstlineno;
	unsigned units;
	char qualname[256];
	char filename[256];
	int line_at[MAX_OFFSETS]; /* by code unit */
};

static struct code_fact codes[MAX_CODES];
static int n_codes;
static __u64 runtime, tstate, native_tid, wait_code, caller_code;
static struct child ch;

static int spawn(struct child *c, const char *const argv[])
{
	int to[2], from[2];

	if (pipe(to) || pipe(from))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->in = fdopen(to[1], "w");
	c->out = fdopen(from[0], "r");
	return c->in && c->out ? 0 : -ENOMEM;
}

static void reap(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->in)
		fclose(c->in);
	if (c->out)
		fclose(c->out);
	memset(c, 0, sizeof(*c));
}

static void unhex(const char *hex, char *out, size_t cap)
{
	size_t i;

	for (i = 0; hex[2 * i] && hex[2 * i + 1] && i + 1 < cap; i++) {
		unsigned v = 0;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (char)v;
	}
	out[i] = '\0';
}

static struct code_fact *code_by_id(__u64 id)
{
	for (int i = 0; i < n_codes; i++)
		if (codes[i].id == id)
			return &codes[i];
	return NULL;
}

/* Reads the child's facts up to its "W" line. */
static int read_facts(void)
{
	char line[2048], q[1024], f[1024];
	unsigned long long a, b, c;
	int x, y;

	while (fgets(line, sizeof(line), ch.out)) {
		if (sscanf(line, "R %llu %llu %llu", &a, &b, &c) == 3) {
			runtime = a;
			tstate = b;
			native_tid = c;
		} else if (n_codes < MAX_CODES &&
			   sscanf(line, "C %llu %d %d %1023s %1023s", &a, &x, &y, q, f) == 5) {
			struct code_fact *cf = &codes[n_codes++];

			cf->id = a;
			cf->firstlineno = x;
			cf->units = (unsigned)y;
			unhex(q, cf->qualname, sizeof(cf->qualname));
			unhex(f, cf->filename, sizeof(cf->filename));
		} else if (sscanf(line, "O %llu %d %d", &a, &x, &y) == 3) {
			struct code_fact *cf = code_by_id(a);

			if (cf && x / 2 < MAX_OFFSETS)
				cf->line_at[x / 2] = y;
		} else if (sscanf(line, "W %llu %llu", &a, &b) == 2) {
			wait_code = a;
			caller_code = b;
			return 0;
		}
	}
	return -EIO;
}

static int start_child(void)
{
	static const char *const argv[] = { "/usr/bin/python3", PY_TEST_DIR "/code_child.py", NULL };

	if (access(argv[0], X_OK) != 0) {
		fprintf(stderr, "  no /usr/bin/python3\n");
		exit(77);
	}
	n_codes = 0;
	if (spawn(&ch, argv) || read_facts())
		return -1;
	return 0;
}

static int command(const char *cmd)
{
	char line[64];

	fprintf(ch.in, "%s\n", cmd);
	fflush(ch.in);
	return fgets(line, sizeof(line), ch.out) && strncmp(line, "ok", 2) == 0 ? 0 : -EIO;
}

static __u64 rd(__u64 addr)
{
	__u64 v = 0;

	if (py_mem__read((__u32)ch.pid, addr, &v, sizeof(v)))
		return 0;
	return v;
}

TEST(detects_debian_python3)
{
	struct py_process p;

	ASSERT_EQ(start_child(), 0);
	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	ASSERT_UEQ(p.hexversion >> 16, 0x030b);
	ASSERT_UEQ(p.runtime, runtime);
	ASSERT_TRUE(p.eval_start && p.eval_end > p.eval_start);
	/* the eval loop's cold part, placed like the rest (py_cold_test finds it in the file) */
	ASSERT_TRUE(p.eval_cold_end > p.eval_cold_start + 1024);
	ASSERT_TRUE(p.eval_cold_end <= p.eval_start || p.eval_cold_start >= p.eval_end);
	ASSERT_TRUE(p.code_type && p.unicode_type && p.bytes_type);
	ASSERT_TRUE(!p.shared_library);
	/* the test itself runs no Python */
	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)getpid(), 0, &p), -ENOENT);
	ASSERT_EQ(py_detect__process(NULL, NULL, 0x7ffffff0, 0, &p), -ESRCH);
	return 0;
}

/* The walker's path, read from user space with the 3.11 table: what the BPF program reads. */
TEST(walker_offsets_reach_the_running_frame)
{
	struct py_process p;
	const struct fornax_py_offsets *o;
	__u64 interp, ts, cframe, frame, prev;
	unsigned char entry;

	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	o = &p.layout.walker;
	interp = rd(runtime + o->runtime_interpreters_head);
	ASSERT_TRUE(interp != 0);
	ts = rd(interp + o->interp_threads_head);
	ASSERT_UEQ(ts, tstate);
	ASSERT_UEQ(rd(ts + o->tstate_native_thread_id), native_tid);
	ASSERT_UEQ(rd(ts + o->tstate_next), 0); /* the only thread */
	ASSERT_UEQ(rd(ts + o->tstate_interp), interp);
	ASSERT_UEQ(rd(interp + o->interp_next), 0); /* the only interpreter: the main one */
	/* blocked in readline, without the GIL: nobody holds it */
	ASSERT_UEQ(rd(runtime + o->runtime_gil_holder), 0);
	cframe = rd(ts + o->tstate_cframe);
	frame = rd(cframe + o->tstate_current_frame);
	ASSERT_UEQ(rd(frame + o->frame_code), wait_code);
	ASSERT_EQ(py_mem__read((__u32)ch.pid, frame + o->frame_is_entry, &entry, 1), 0);
	ASSERT_EQ(entry, 0); /* called from Python */
	prev = rd(frame + o->frame_previous);
	ASSERT_UEQ(rd(prev + o->frame_code), caller_code);
	/* the instruction pointer lies in the code object's bytecode */
	{
		__u64 instr = rd(frame + o->frame_instr);
		struct code_fact *w = code_by_id(wait_code);

		ASSERT_TRUE(instr >= wait_code + p.layout.code_adaptive);
		ASSERT_TRUE(!w || instr < wait_code + p.layout.code_adaptive + 2 * w->units);
	}
	return 0;
}

TEST(reads_code_objects)
{
	struct py_code_cache *c = py_code_cache__new(NULL);
	struct py_process p;
	struct py_frame_info fi;
	struct py_code_cache_stats st;

	ASSERT_TRUE(c != NULL);
	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	ASSERT_EQ(n_codes, 6);
	for (int i = 0; i < n_codes; i++) {
		struct code_fact *cf = &codes[i];

		for (unsigned u = 0; u < cf->units && u < MAX_OFFSETS; u++) {
			__u32 delta = p.layout.code_adaptive + 2 * u;

			ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, cf->id, delta, &fi), 0);
			ASSERT_STREQ(fi.function, cf->qualname);
			ASSERT_STREQ(fi.file, cf->filename);
			ASSERT_EQ(fi.start_line, cf->firstlineno);
			ASSERT_EQ(fi.line, cf->line_at[u] < 0 ? 0 : cf->line_at[u]);
		}
		/* a frame that has not started: its first line; unknown: 0 */
		ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, cf->id,
						p.layout.code_adaptive - 2, &fi), 0);
		ASSERT_EQ(fi.line, cf->firstlineno);
		ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, cf->id, 0, &fi), 0);
		ASSERT_EQ(fi.line, 0);
	}
	ASSERT_STREQ(codes[1].qualname, "Outer.method");
	ASSERT_STREQ(codes[2].qualname, "Outer.method.<locals>.inner");
	ASSERT_STREQ(codes[3].filename, "/tmp/\xc3\xa9t\xc3\xa9.py");          /* latin-1 */
	ASSERT_STREQ(codes[4].qualname, "\xd0\xb6\xd1\x83\xd0\xba");            /* UCS-2 */
	ASSERT_STREQ(codes[5].filename, "/tmp/\xf0\x9f\x98\x80.py");            /* UCS-4 */
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.reads, 6);
	ASSERT_EQ(st.entries, 6);
	/* not a code object: a str, the runtime, nothing mapped */
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, runtime, 0, &fi), -EFAULT);
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, 0x10, 0, &fi), -EFAULT);
	py_code_cache__free(c);
	return 0;
}

TEST(cache_bounds_and_eviction)
{
	struct py_code_cache *c = py_code_cache__new(&(struct py_code_cache_opts){
		.max_entries = 4, .idle_cycles = 2 });
	struct py_process p;
	struct py_frame_info fi;
	struct py_code_cache_stats st;

	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	for (int i = 0; i < n_codes; i++)
		ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[i].id, 0, &fi), 0);
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.entries, 4);
	ASSERT_EQ(st.evicted, 2);
	/* the last one read is cached */
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[5].id, 0, &fi), 0);
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.hits, 1);
	/* idle for idle_cycles: gone */
	py_code_cache__end_cycle(c);
	py_code_cache__end_cycle(c);
	py_code_cache__end_cycle(c);
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.entries, 0);
	/* a process reported gone: its entries go at the next cycle, others stay */
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[0].id, 0, &fi), 0);
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 2, codes[1].id, 0, &fi), 0);
	ASSERT_EQ(py_code_cache__forget_process(c, (__u32)ch.pid, 1), 0);
	py_code_cache__end_cycle(c);
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.entries, 1);
	py_code_cache__free(c);

	/* a byte bound below one entry's size keeps at most one */
	c = py_code_cache__new(&(struct py_code_cache_opts){ .max_bytes = 64 });
	for (int i = 0; i < n_codes; i++)
		ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[i].id, 0, &fi), 0);
	py_code_cache__stats(c, &st);
	ASSERT_TRUE(st.entries <= 1);
	py_code_cache__free(c);
	return 0;
}

TEST(detects_reuse)
{
	struct py_code_cache *c = py_code_cache__new(NULL);
	struct py_process p;
	struct py_frame_info fi;
	struct py_code_cache_stats st;
	__u32 pid;

	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[0].id, 0, &fi), 0);
	ASSERT_STREQ(fi.function, "ascii_function");
	/* the same cycle trusts the entry; the next one checks it again */
	ASSERT_EQ(command("reuse 0 3"), 0);
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[0].id, 0, &fi), 0);
	ASSERT_STREQ(fi.function, "ascii_function");
	py_code_cache__end_cycle(c);
	ASSERT_EQ(py_code_cache__lookup(c, &p, (__u32)ch.pid, 1, codes[0].id, 0, &fi), 0);
	ASSERT_STREQ(fi.function, "caf\xc3\xa9");
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.reused, 1);
	ASSERT_EQ(st.reads, 2);
	/* gone: cached entries still answer (their samples drain after the exit), others cannot */
	pid = (__u32)ch.pid;
	reap(&ch);
	py_code_cache__end_cycle(c);
	ASSERT_EQ(py_code_cache__lookup(c, &p, pid, 1, codes[0].id, 0, &fi), 0);
	ASSERT_STREQ(fi.function, "caf\xc3\xa9");
	ASSERT_EQ(py_code_cache__lookup(c, &p, pid, 1, codes[1].id, 0, &fi), -ESRCH);
	py_code_cache__free(c);
	return 0;
}

/* What the walker copies of an object (bpf/python.bpf.h): len bytes at addr. */
struct copied {
	unsigned char buf[4096];
	struct py_mem_copy copy;
};

static int copy_out(struct copied *c, __u64 addr, size_t len)
{
	if (len > sizeof(c->buf) || py_mem__read((__u32)ch.pid, addr, c->buf, len))
		return -1;
	c->copy = (struct py_mem_copy){ addr, c->buf, len };
	return 0;
}

/* A compact str as the walker copies it: header and characters. */
static int copy_str(const struct py_layout *l, struct copied *c, __u64 addr)
{
	__u64 length = rd(addr + l->unicode_length);
	__u32 state = (__u32)rd(addr + l->unicode_state), kind = (state >> 2) & 7;

	return copy_out(c, addr, ((state >> 6) & 1 ? l->unicode_ascii_size
						   : l->unicode_compact_size) + length * kind);
}

/* The walker's copy of code object i: header, names, location table (unless no_table). */
static int copy_code(const struct py_layout *l, int i, struct copied cp[4],
		     struct py_mem_copy out[4], bool no_table)
{
	__u64 code = codes[i].id, lt = rd(code + l->code_linetable);
	int n = 3;

	if (copy_out(&cp[0], code, l->code_adaptive) ||
	    copy_str(l, &cp[1], rd(code + l->code_qualname)) ||
	    copy_str(l, &cp[2], rd(code + l->code_filename)) ||
	    (!no_table && (n = 4, copy_out(&cp[3], lt, l->bytes_sval + rd(lt + l->ob_size)))))
		return -1;
	for (int k = 0; k < n; k++)
		out[k] = cp[k].copy;
	return n;
}

/* Frames of a process gone by the drain, named from the walker's copies. */
TEST(names_from_copies_after_exit)
{
	static struct copied cp[MAX_CODES][4];
	struct py_mem_copy copies[MAX_CODES][4];
	int n[MAX_CODES];
	struct py_code_cache *c = py_code_cache__new(NULL);
	struct py_code_cache_stats st;
	struct py_frame_info fi;
	struct py_process p;
	__u32 pid;

	ASSERT_EQ(start_child(), 0);
	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	for (int i = 0; i < n_codes; i++) {
		n[i] = copy_code(&p.layout, i, cp[i], copies[i], i == 1);
		ASSERT_TRUE(n[i] >= 3);
	}
	pid = (__u32)ch.pid;
	reap(&ch);
	for (int i = 0; i < n_codes; i++) {
		struct code_fact *cf = &codes[i];

		ASSERT_EQ(py_code_cache__add(c, &p, pid, 1, cf->id, copies[i], (size_t)n[i]), 0);
		for (unsigned u = 0; u < cf->units && u < MAX_OFFSETS; u++) {
			ASSERT_EQ(py_code_cache__lookup(c, &p, pid, 1, cf->id,
							p.layout.code_adaptive + 2 * u, &fi), 0);
			ASSERT_STREQ(fi.function, cf->qualname);
			ASSERT_STREQ(fi.file, cf->filename);
			/* no location table copied, the process gone: its lines are unknown */
			ASSERT_EQ(fi.line, i == 1 || cf->line_at[u] < 0 ? 0 : cf->line_at[u]);
		}
	}
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.copies, n_codes);
	ASSERT_EQ(st.no_linetable, 1);
	ASSERT_EQ(st.reads, 0);
	/* the same copy again is known; another object's copy at that address replaces it */
	ASSERT_EQ(py_code_cache__add(c, &p, pid, 1, codes[0].id, copies[0], (size_t)n[0]), 0);
	copies[3][0].addr = codes[0].id;
	ASSERT_EQ(py_code_cache__add(c, &p, pid, 1, codes[0].id, copies[3], (size_t)n[3]), 0);
	ASSERT_EQ(py_code_cache__lookup(c, &p, pid, 1, codes[0].id, 0, &fi), 0);
	ASSERT_STREQ(fi.function, "caf\xc3\xa9");
	py_code_cache__stats(c, &st);
	ASSERT_EQ(st.copies_known, 1);
	ASSERT_EQ(st.reused, 1);
	/* a copy of an object of another type */
	memcpy(cp[4][0].buf + p.layout.ob_type, &p.unicode_type, 8);
	ASSERT_EQ(py_code_cache__add(c, &p, pid, 1, codes[4].id, copies[4], (size_t)n[4]), -EFAULT);
	/* nothing copied, the process gone */
	ASSERT_EQ(py_code_cache__add(c, &p, pid, 2, codes[4].id, NULL, 0), -ESRCH);
	py_code_cache__free(c);
	return 0;
}

TEST(detects_embedded_libpython)
{
	static const char *const argv[] = { PY_EMBED, NULL };
	struct py_process p;
	char line[64];

	if (!PY_EMBED[0]) {
		/* built without libpython3.11-dev: the case cannot be set up */
		fprintf(stderr, "  no libpython3.11 to embed, skipped\n");
		if (getenv("CI"))
			return 1;
		return 0;
	}
	ASSERT_EQ(spawn(&ch, argv), 0);
	ASSERT_TRUE(fgets(line, sizeof(line), ch.out) != NULL);
	ASSERT_STREQ(line, "ready\n");
	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)ch.pid, 0, &p), 0);
	ASSERT_UEQ(p.hexversion >> 16, 0x030b);
	ASSERT_TRUE(p.shared_library);
	ASSERT_TRUE(p.runtime > 0x10000 && p.eval_end > p.eval_start);
	/* an interpreter is running: the runtime names it */
	ASSERT_TRUE(rd(p.runtime + p.layout.walker.runtime_interpreters_head) != 0);
	reap(&ch);
	return 0;
}

/* A waiting interpreter of program exe; 0 once it said it is ready. */
static int spawn_waiting(struct child *c, const char *exe)
{
	const char *const argv[] = { exe, "-c", "import sys; print('ready', flush=True); "
						"sys.stdin.readline()", NULL };
	char line[64];

	*c = (struct child){ 0 };
	if (spawn(c, argv))
		return -1;
	return fgets(line, sizeof(line), c->out) && !strcmp(line, "ready\n") ? 0 : -1;
}

/* What a detection kept for the file says of a process as a fresh reading does. */
static int same_as_uncached(const struct py_process *kept, pid_t pid)
{
	struct py_process fresh;

	ASSERT_EQ(py_detect__process(NULL, NULL, (__u32)pid, 0, &fresh), 0);
	ASSERT_UEQ(kept->runtime, fresh.runtime);
	ASSERT_UEQ(kept->eval_start, fresh.eval_start);
	ASSERT_UEQ(kept->eval_end, fresh.eval_end);
	ASSERT_UEQ(kept->code_type, fresh.code_type);
	ASSERT_UEQ(kept->hexversion, fresh.hexversion);
	ASSERT_TRUE(!memcmp(&kept->layout, &fresh.layout, sizeof(fresh.layout)));
	return 0;
}

TEST(detection_keeps_each_file_once)
{
	/* mkdtemp()'s template; copy stays empty until the directory exists */
	char dir[] = "/tmp/fornax-py-detect-XXXXXX", copy[64] = "", cmd[160];
	struct child a = { 0 }, b = { 0 }, c = { 0 }, d2 = { 0 };
	struct py_detect *d = py_detect__new(1);
	struct py_detect_stats st = { 0 };
	struct py_process pa, pb, pc;
	int err = 1;

	ASSERT_TRUE(d != NULL);
	if (!mkdtemp(dir))
		goto cleanup;
	snprintf(copy, sizeof(copy), "%s/python3.11", dir);
	snprintf(cmd, sizeof(cmd), "cp /usr/bin/python3.11 %s", copy);
	if (system(cmd) || spawn_waiting(&a, "/usr/bin/python3.11") ||
	    spawn_waiting(&b, "/usr/bin/python3.11") || spawn_waiting(&c, copy))
		goto cleanup;

	/* the first process reads the file; the second, mapped elsewhere, is placed from it */
	if (py_detect__process(d, NULL, (__u32)a.pid, 0, &pa) ||
	    py_detect__process(d, NULL, (__u32)b.pid, 0, &pb))
		goto cleanup;
	py_detect__stats(d, &st);
	if (st.files_scanned != 1 || st.file_hits != 1 || same_as_uncached(&pa, a.pid) ||
	    same_as_uncached(&pb, b.pid))
		goto cleanup;

	/* another file with the same contents is another file, and takes the only place */
	if (py_detect__process(d, NULL, (__u32)c.pid, 0, &pc) || same_as_uncached(&pc, c.pid))
		goto cleanup;
	py_detect__stats(d, &st);
	if (st.files_scanned != 2 || st.files_evicted != 1)
		goto cleanup;

	/* the file changed (its time, as a rewrite in place would): read again */
	if (utimensat(AT_FDCWD, copy, (struct timespec[2]){ { 0, UTIME_NOW }, { 1, 0 } }, 0) ||
	    spawn_waiting(&d2, copy) || py_detect__process(d, NULL, (__u32)d2.pid, 0, &pc) ||
	    same_as_uncached(&pc, d2.pid))
		goto cleanup;
	py_detect__stats(d, &st);
	if (st.files_scanned != 3 || st.file_hits != 1)
		goto cleanup;
	err = 0;
cleanup:
	if (err)
		fprintf(stderr, "  scanned %llu, hits %llu, evicted %llu\n",
			(unsigned long long)st.files_scanned, (unsigned long long)st.file_hits,
			(unsigned long long)st.files_evicted);
	reap(&a);
	reap(&b);
	reap(&c);
	reap(&d2);
	if (copy[0])
		unlink(copy);
	rmdir(dir);
	py_detect__free(d);
	return err;
}

TEST(layout_tables)
{
	unsigned char buf[PY_DEBUG_OFFSETS_SIZE] = "xdebugpy";
	struct py_layout l;
	__u64 v = 0x030e00a0; /* 3.14: its _Py_DebugOffsets differ */

	ASSERT_TRUE(py_layout__for_version(0x030b02f0) != NULL);
	ASSERT_TRUE(py_layout__for_version(0x030c01f0) != NULL);
	ASSERT_TRUE(py_layout__for_version(0x030a0000) == NULL);
	ASSERT_EQ(py_layout__check(py_layout__for_version(0x030b0000)), 0);
	ASSERT_EQ(py_layout__check(py_layout__for_version(0x030c0000)), 0);
	/* what the walker copies of a 3.11 code object: up to its bytecode, every field in it */
	{
		struct fornax_py_code_offsets co;

		py_layout__code_offsets(py_layout__for_version(0x030b0000), &co);
		ASSERT_EQ(co.code_read, 184);
		ASSERT_TRUE(co.code_linetable + 8 <= co.code_read && co.code_qualname + 8 <= co.code_read);
		l = *py_layout__for_version(0x030b0000);
		l.code_adaptive = FORNAX_PY_CODE_COPY + 8;
		py_layout__code_offsets(&l, &co);
		ASSERT_EQ(co.code_read, 0); /* too big to copy: left to the agent */
	}
	memcpy(buf + 8, &v, 8);
	ASSERT_EQ(py_layout__from_debug_offsets(buf, sizeof(buf), &l), -EINVAL);
	buf[0] = 'X';
	ASSERT_EQ(py_layout__from_debug_offsets(buf, sizeof(buf), &l), -EINVAL);
	ASSERT_TRUE(py_detect__candidate_name("/usr/bin/python3.11"));
	ASSERT_TRUE(py_detect__candidate_name("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"));
	ASSERT_TRUE(!py_detect__candidate_name("/usr/bin/python3.11-config"));
	ASSERT_TRUE(!py_detect__candidate_name("/usr/lib/libc.so.6"));
	/* names of which the exec record kept 15 bytes */
	ASSERT_TRUE(py_detect__candidate_start("python3.11-dbg-"));
	ASSERT_TRUE(py_detect__candidate_start("libpython3.11.s"));
	ASSERT_TRUE(!py_detect__candidate_start("x86_64-linux-gn"));
	ASSERT_TRUE(!py_detect__candidate_start("python2.7-confi"));
	return 0;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(detects_debian_python3);
	RUN(walker_offsets_reach_the_running_frame);
	RUN(reads_code_objects);
	RUN(cache_bounds_and_eviction);
	RUN(detects_reuse);
	RUN(names_from_copies_after_exit);
	RUN(detects_embedded_libpython);
	RUN(detection_keeps_each_file_once);
	RUN(layout_tables);
	reap(&ch);
	return test_summary();
}
