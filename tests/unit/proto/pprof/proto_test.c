// SPDX-License-Identifier: Apache-2.0
/*
 * Tests of the pprof builder (interning, merging, accessors, errors) and of
 * its encoding, which is read back by independent decoders: `go tool pprof
 * -raw` on the gzipped file and `protoc --decode` with upstream's
 * profile.proto on the raw message.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof_codec.h"
#include "test.h"

#ifndef PPROF_UPSTREAM_PROTO_DIR
#define PPROF_UPSTREAM_PROTO_DIR "/usr/share/gocode/src/github.com/google/pprof/proto"
#endif

extern char **environ;

#define PERIOD_NS 10101010ULL /* 99 Hz */
#define TIME_NANOS 1700000000123456789LL
#define DURATION_NS 10000000000ULL

/* ---- helpers ---------------------------------------------------------- */

static char tmp_dir[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* path = tmp_dir/name; 0 or -ENAMETOOLONG. */
static int tmp_path(char *path, size_t size, const char *name)
{
	int n = snprintf(path, size, "%s/%s", tmp_dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int tmp_dir_setup(void)
{
	const char *base = getenv("TMPDIR");
	char path[PATH_MAX];
	int n;

	n = snprintf(tmp_dir, sizeof(tmp_dir), "%s/fornax-proto-test-XXXXXX",
		     base && *base ? base : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(tmp_dir) || !mkdtemp(tmp_dir))
		return -1;
	/* go wants a writable HOME and caches; keep them away from the real ones. */
	setenv("HOME", tmp_dir, 1);
	if (tmp_path(path, sizeof(path), "gocache"))
		return -1;
	setenv("GOCACHE", path, 1);
	if (tmp_path(path, sizeof(path), "gopath"))
		return -1;
	setenv("GOPATH", path, 1);
	setenv("PPROF_TMPDIR", tmp_dir, 1);
	setenv("GOFLAGS", "", 1);
	/* pprof prints Time: in local time. */
	setenv("TZ", "UTC", 1);
	return 0;
}

static void tmp_dir_cleanup(void)
{
	if (tmp_dir[0] && !getenv("PROTO_TEST_KEEP"))
		nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wbe");
	size_t n;

	if (!f)
		return -errno;
	n = fwrite(buf, 1, len, f);
	if (fclose(f) || n != len)
		return -EIO;
	return 0;
}

/*
 * Runs argv (looked up in PATH) with stdin from stdin_path and returns its
 * stdout, NUL-terminated, in *out. stderr goes to ours so failures show in
 * ctest's log. Fails unless the program exits 0.
 */
static int run_capture(char *const argv[], const char *stdin_path, char **out)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status, err;
	size_t len = 0, cap = 4096;
	char *buf, *grown;
	ssize_t n;
	pid_t pid;

	*out = NULL;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null",
					 O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		fprintf(stderr, "  cannot run %s: %s\n", argv[0], strerror(err));
		return -err;
	}

	buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (cap - len < 1024) {
			grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(pipefd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!buf)
		return -ENOMEM;
	buf[len] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "  %s failed (status 0x%x); stdout:\n%s\n", argv[0], status, buf);
		free(buf);
		return -ECHILD;
	}
	*out = buf;
	return 0;
}

static int gunzip(const void *in, size_t in_len, void **out, size_t *out_len)
{
	size_t cap = in_len * 4 + 64;
	unsigned char *buf = malloc(cap), *grown;
	z_stream zs;
	int ret;

	if (!buf)
		return -ENOMEM;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(buf);
		return -EIO;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)in_len;
	do {
		if (zs.total_out == cap) {
			grown = realloc(buf, cap * 2);
			if (!grown) {
				ret = Z_MEM_ERROR;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		zs.next_out = buf + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		ret = inflate(&zs, Z_NO_FLUSH);
	} while (ret == Z_OK);
	*out_len = zs.total_out;
	inflateEnd(&zs);
	/* Trailing bytes after the gzip member would be a bug too. */
	if (ret != Z_STREAM_END || zs.avail_in) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* Collapses runs of whitespace into one space and trims both ends, in place. */
static void squeeze_spaces(char *s)
{
	char *w = s, *start = s;
	bool space = false;

	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n') {
			space = true;
			continue;
		}
		if (space && w != start)
			*w++ = ' ';
		space = false;
		*w++ = *s;
	}
	*w = '\0';
}

/* ---- the fixture ------------------------------------------------------ */

/*
 * A small profile covering the encoder's cases: two mappings (one without a
 * build id), a mangled name, an inlined chain, an unsymbolized location,
 * string and numeric labels, merged and unmerged samples, comments.
 */
struct fixture {
	struct pprof *p;
	__u64 map_app, map_libc;
	__u64 fn_main, fn_compute, fn_helper, fn_libc;
	__u64 loc_main, loc_inline, loc_libc, loc_unsym;
};

static const struct pprof_label labels_app[] = {
	{ .key = "comm", .str = "app" },
	{ .key = "pid", .str = "1234" },
};
static const struct pprof_label labels_app_alloc[] = {
	{ .key = "comm", .str = "app" },
	{ .key = "pid", .str = "1234" },
	{ .key = "alloc", .num = 4096, .num_unit = "bytes" },
};
static const struct pprof_label labels_other[] = {
	{ .key = "comm", .str = "other" },
	{ .key = "pid", .str = "1234" },
};

/* string_table order the fixture produces; the decode test checks all of it. */
static const char *const fixture_strings[] = {
	"",
	"samples",
	"count",
	"cpu",
	"nanoseconds",
	"/usr/bin/app",
	"b1d0c0ffee",
	"/usr/lib/x86_64-linux-gnu/libc.so.6",
	"main",
	"/src/app.c",
	"compute(int)",
	"_Z7computei",
	"helper_inline",
	"/src/app.h",
	"__libc_start_call_main",
	"comm",
	"app",
	"pid",
	"1234",
	"alloc",
	"bytes",
	"other",
	"fornax unit test",
	"dropped=0",
};

static int fixture_build(struct fixture *fx)
{
	const struct pprof_opts opts = { .period_ns = PERIOD_NS, .time_nanos = TIME_NANOS };
	const struct pprof_mapping app = {
		.start = 0x400000,
		.limit = 0x500000,
		.offset = 0,
		.filename = "/usr/bin/app",
		.build_id = "b1d0c0ffee",
		.has_functions = true,
		.has_filenames = true,
		.has_line_numbers = true,
		.has_inline_frames = true,
	};
	const struct pprof_mapping libc = {
		.start = 0x7f0000000000,
		.limit = 0x7f0000200000,
		.offset = 0x28000,
		.filename = "/usr/lib/x86_64-linux-gnu/libc.so.6",
		.has_functions = true,
	};
	const struct pprof_function main_fn = {
		.name = "main", .filename = "/src/app.c", .start_line = 10
	};
	const struct pprof_function compute = {
		.name = "compute(int)",
		.system_name = "_Z7computei",
		.filename = "/src/app.c",
		.start_line = 20,
	};
	const struct pprof_function helper = {
		.name = "helper_inline", .filename = "/src/app.h", .start_line = 5
	};
	const struct pprof_function libc_fn = { .name = "__libc_start_call_main" };
	struct pprof_line main_lines[1], inline_lines[2], libc_lines[1];
	__u64 stack1[3], stack2[3];

	memset(fx, 0, sizeof(*fx));
	fx->p = pprof__new(&opts);
	ASSERT_TRUE(fx->p);
	fx->map_app = pprof__add_mapping(fx->p, &app);
	fx->map_libc = pprof__add_mapping(fx->p, &libc);
	fx->fn_main = pprof__add_function(fx->p, &main_fn);
	fx->fn_compute = pprof__add_function(fx->p, &compute);
	fx->fn_helper = pprof__add_function(fx->p, &helper);
	fx->fn_libc = pprof__add_function(fx->p, &libc_fn);
	ASSERT_UEQ(fx->map_app, 1);
	ASSERT_UEQ(fx->map_libc, 2);
	ASSERT_UEQ(fx->fn_main, 1);
	ASSERT_UEQ(fx->fn_compute, 2);
	ASSERT_UEQ(fx->fn_helper, 3);
	ASSERT_UEQ(fx->fn_libc, 4);

	main_lines[0] = (struct pprof_line){ .function_id = fx->fn_main, .line = 12 };
	/* helper_inline was inlined into compute(int): innermost first. */
	inline_lines[0] = (struct pprof_line){ .function_id = fx->fn_helper, .line = 7 };
	inline_lines[1] = (struct pprof_line){ .function_id = fx->fn_compute, .line = 25 };
	libc_lines[0] = (struct pprof_line){ .function_id = fx->fn_libc, .line = 0 };
	fx->loc_main = pprof__add_location(fx->p, fx->map_app, 0x401000, main_lines, 1);
	fx->loc_inline = pprof__add_location(fx->p, fx->map_app, 0x401100, inline_lines, 2);
	fx->loc_libc = pprof__add_location(fx->p, fx->map_libc, 0x7f0000029d90, libc_lines, 1);
	fx->loc_unsym = pprof__add_location(fx->p, fx->map_libc, 0x7f00000abcde, NULL, 0);
	ASSERT_UEQ(fx->loc_main, 1);
	ASSERT_UEQ(fx->loc_inline, 2);
	ASSERT_UEQ(fx->loc_libc, 3);
	ASSERT_UEQ(fx->loc_unsym, 4);

	stack1[0] = fx->loc_inline;
	stack1[1] = fx->loc_main;
	stack1[2] = fx->loc_libc;
	stack2[0] = fx->loc_unsym;
	stack2[1] = fx->loc_main;
	stack2[2] = fx->loc_libc;
	ASSERT_EQ(pprof__add_sample(fx->p, stack1, 3, 3, labels_app, 2), 0);
	ASSERT_EQ(pprof__add_sample(fx->p, stack2, 3, 2, labels_app_alloc, 3), 0);
	ASSERT_EQ(pprof__add_sample(fx->p, stack1, 3, 4, labels_app, 2), 0);
	ASSERT_EQ(pprof__add_sample(fx->p, stack1, 3, 1, labels_other, 2), 0);
	ASSERT_EQ(pprof__set_duration(fx->p, DURATION_NS), 0);
	ASSERT_EQ(pprof__add_comment(fx->p, "fornax unit test"), 0);
	ASSERT_EQ(pprof__add_comment(fx->p, "dropped=0"), 0);
	return 0;
}

/* ---- builder ---------------------------------------------------------- */

TEST(new_and_free)
{
	struct pprof_opts opts = { 0 };

	errno = 0;
	ASSERT_TRUE(!pprof__new(NULL));
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_TRUE(!pprof__new(&opts)); /* period_ns is required */
	ASSERT_EQ(errno, EINVAL);
	opts.period_ns = (__u64)INT64_MAX + 1;
	ASSERT_TRUE(!pprof__new(&opts));
	pprof__free(NULL);
	return 0;
}

TEST(interning)
{
	const struct pprof_opts opts = { .period_ns = PERIOD_NS };
	struct pprof_mapping m = { .start = 0x1000, .limit = 0x2000, .filename = "/bin/a" };
	struct pprof_function f = { .name = "f", .filename = "/src/f.c", .start_line = 3 };
	struct pprof_function g = { .name = "g", .system_name = "g", .filename = "/src/f.c" };
	struct pprof_line line = { 0 }, other = { 0 };
	const struct pprof_location *loc;
	const struct pprof_function *fv;
	const struct pprof_mapping *mv;
	struct pprof *p = pprof__new(&opts);
	__u64 id;

	ASSERT_TRUE(p);

	/* Mappings: equal in every field → same id; any field differing → new id. */
	ASSERT_UEQ(pprof__add_mapping(p, &m), 1);
	ASSERT_UEQ(pprof__add_mapping(p, &m), 1);
	m.has_functions = true;
	ASSERT_UEQ(pprof__add_mapping(p, &m), 2);
	m.build_id = "";
	ASSERT_UEQ(pprof__add_mapping(p, &m), 2); /* "" and NULL both mean unknown */
	m.build_id = "abcd";
	ASSERT_UEQ(pprof__add_mapping(p, &m), 3);
	m.offset = 0x1000;
	ASSERT_UEQ(pprof__add_mapping(p, &m), 4);
	/* An equal string at another address is the same string. */
	{
		char copy[] = "/bin/a";

		m.filename = copy;
		ASSERT_UEQ(pprof__add_mapping(p, &m), 4);
	}
	mv = pprof__mapping(p, 3);
	ASSERT_TRUE(mv);
	ASSERT_UEQ(mv->start, 0x1000);
	ASSERT_UEQ(mv->limit, 0x2000);
	ASSERT_UEQ(mv->offset, 0);
	ASSERT_STREQ(mv->filename, "/bin/a");
	ASSERT_STREQ(mv->build_id, "abcd");
	ASSERT_TRUE(mv->has_functions);
	ASSERT_TRUE(!mv->has_inline_frames);
	ASSERT_TRUE(!pprof__mapping(p, 1)->build_id);

	/* Functions. */
	ASSERT_UEQ(pprof__add_function(p, &f), 1);
	ASSERT_UEQ(pprof__add_function(p, &f), 1);
	ASSERT_UEQ(pprof__add_function(p, &g), 2);
	g.system_name = NULL; /* NULL means "same as name": the same function */
	ASSERT_UEQ(pprof__add_function(p, &g), 2);
	g.system_name = "_Z1gv";
	ASSERT_UEQ(pprof__add_function(p, &g), 3);
	f.start_line = 4;
	ASSERT_UEQ(pprof__add_function(p, &f), 4);
	fv = pprof__function(p, 3);
	ASSERT_TRUE(fv);
	ASSERT_STREQ(fv->name, "g");
	ASSERT_STREQ(fv->system_name, "_Z1gv");
	ASSERT_TRUE(!pprof__function(p, 2)->system_name);
	/* Interned strings are shared, whichever field they came in through. */
	ASSERT_TRUE(pprof__function(p, 1)->filename == pprof__function(p, 3)->filename);
	ASSERT_TRUE(pprof__function(p, 1)->name == pprof__function(p, 4)->name);

	/* Locations: keyed by (mapping, address); the lines of a repeat are ignored. */
	line.function_id = 1;
	line.line = 10;
	other.function_id = 3;
	other.line = 99;
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1100, &line, 1), 1);
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1100, &other, 1), 1);
	ASSERT_UEQ(pprof__add_location(p, 2, 0x1100, &line, 1), 2);
	ASSERT_UEQ(pprof__add_location(p, 0, 0x1100, NULL, 0), 3);
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1104, NULL, 0), 4);
	id = pprof__add_location(p, 0, 0x1100, &line, 1);
	ASSERT_UEQ(id, 3);
	loc = pprof__location(p, 1);
	ASSERT_TRUE(loc);
	ASSERT_UEQ(loc->id, 1);
	ASSERT_UEQ(loc->mapping_id, 1);
	ASSERT_UEQ(loc->address, 0x1100);
	ASSERT_EQ(loc->n_lines, 1);
	ASSERT_UEQ(loc->lines[0].function_id, 1);
	ASSERT_EQ(loc->lines[0].line, 10);
	loc = pprof__location(p, 3);
	ASSERT_TRUE(loc);
	ASSERT_UEQ(loc->mapping_id, 0);
	ASSERT_EQ(loc->n_lines, 0);

	/* Ids are dense: 1..N, nothing beyond. */
	ASSERT_TRUE(pprof__mapping(p, 4) && !pprof__mapping(p, 5) && !pprof__mapping(p, 0));
	ASSERT_TRUE(pprof__function(p, 4) && !pprof__function(p, 5) && !pprof__function(p, 0));
	ASSERT_TRUE(pprof__location(p, 4) && !pprof__location(p, 5) && !pprof__location(p, 0));
	ASSERT_UEQ(pprof__period_ns(p), PERIOD_NS);

	pprof__free(p);
	return 0;
}

TEST(sample_merging)
{
	const struct pprof_opts opts = { .period_ns = PERIOD_NS };
	struct pprof_label a[] = { { .key = "comm", .str = "a" }, { .key = "pid", .str = "1" } };
	struct pprof_label a_swapped[] = { { .key = "pid", .str = "1" }, { .key = "comm", .str = "a" } };
	/* num and num_unit carry no meaning on a string label. */
	struct pprof_label a_noise[] = {
		{ .key = "comm", .str = "a", .num = 7, .num_unit = "x" },
		{ .key = "pid", .str = "1" },
	};
	struct pprof_label b[] = { { .key = "comm", .str = "b" }, { .key = "pid", .str = "1" } };
	struct pprof_label n1[] = { { .key = "tid", .num = 5 } };
	struct pprof_label n2[] = { { .key = "tid", .num = 6 } };
	struct pprof_label n1_unit[] = { { .key = "tid", .num = 5, .num_unit = "id" } };
	struct pprof_line line = { .function_id = 1, .line = 1 };
	struct pprof_function f = { .name = "f" };
	const struct pprof_sample *s;
	struct pprof *p = pprof__new(&opts);
	__u64 l1, l2, l3, stack[3], rev[3];

	ASSERT_TRUE(p);
	ASSERT_UEQ(pprof__add_function(p, &f), 1);
	l1 = pprof__add_location(p, 0, 0x10, &line, 1);
	l2 = pprof__add_location(p, 0, 0x20, &line, 1);
	l3 = pprof__add_location(p, 0, 0x30, NULL, 0);
	ASSERT_TRUE(l1 && l2 && l3);
	stack[0] = l1, stack[1] = l2, stack[2] = l3;
	rev[0] = l3, rev[1] = l2, rev[2] = l1;

	ASSERT_EQ(pprof__add_sample(p, stack, 3, 2, a, 2), 0);
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 5, a, 2), 0);
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, a_noise, 2), 0);
	ASSERT_EQ(pprof__num_samples(p), 1);
	s = pprof__sample(p, 0);
	ASSERT_TRUE(s);
	ASSERT_EQ(s->count, 8);
	ASSERT_EQ(s->n_locations, 3);
	ASSERT_UEQ(s->location_ids[0], l1);
	ASSERT_UEQ(s->location_ids[2], l3);
	ASSERT_EQ(s->n_labels, 2);
	ASSERT_STREQ(s->labels[0].key, "comm");
	ASSERT_STREQ(s->labels[0].str, "a");
	ASSERT_EQ(s->labels[0].num, 0);
	ASSERT_STREQ(s->labels[1].key, "pid");

	/* Each of these differs in one respect, so none merges. */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, b, 2), 0);         /* label value */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, a_swapped, 2), 0); /* label order */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, a, 1), 0);         /* fewer labels */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, NULL, 0), 0);      /* no labels */
	ASSERT_EQ(pprof__add_sample(p, rev, 3, 1, a, 2), 0);           /* stack order */
	ASSERT_EQ(pprof__add_sample(p, stack, 2, 1, a, 2), 0);         /* stack depth */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, n1, 1), 0);        /* numeric label */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, n2, 1), 0);        /* its value */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 1, n1_unit, 1), 0);   /* its unit */
	ASSERT_EQ(pprof__num_samples(p), 10);

	/* ...and each merges with its own twin. */
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 10, n2, 1), 0);
	ASSERT_EQ(pprof__add_sample(p, stack, 3, 10, NULL, 0), 0);
	ASSERT_EQ(pprof__add_sample(p, rev, 3, 10, a, 2), 0);
	ASSERT_EQ(pprof__num_samples(p), 10);
	ASSERT_EQ(pprof__sample(p, 4)->count, 11); /* no labels */
	ASSERT_EQ(pprof__sample(p, 4)->n_labels, 0);
	ASSERT_EQ(pprof__sample(p, 5)->count, 11); /* rev */
	ASSERT_EQ(pprof__sample(p, 8)->count, 11); /* n2 */
	ASSERT_EQ(pprof__sample(p, 8)->labels[0].num, 6);
	ASSERT_TRUE(!pprof__sample(p, 9)->labels[0].str);
	ASSERT_STREQ(pprof__sample(p, 9)->labels[0].num_unit, "id");
	ASSERT_TRUE(!pprof__sample(p, 10));
	ASSERT_EQ(pprof__total_count(p), 8 + 9 + 30);

	/* A sample with no locations is allowed and merges too. */
	ASSERT_EQ(pprof__add_sample(p, NULL, 0, 1, NULL, 0), 0);
	ASSERT_EQ(pprof__add_sample(p, NULL, 0, 2, NULL, 0), 0);
	ASSERT_EQ(pprof__num_samples(p), 11);
	ASSERT_EQ(pprof__sample(p, 10)->count, 3);
	ASSERT_EQ(pprof__sample(p, 10)->n_locations, 0);

	pprof__free(p);
	return 0;
}

TEST(errors)
{
	const struct pprof_opts opts = { .period_ns = PERIOD_NS };
	struct pprof_mapping m = { .start = 0x1000, .limit = 0x2000, .filename = "/bin/a" };
	struct pprof_mapping bad_m = { .start = 0x2000, .limit = 0x1000 };
	struct pprof_function f = { .name = "f" }, nameless = { .filename = "x.c" };
	struct pprof_line line = { .function_id = 1 }, bad_line = { .function_id = 2 };
	struct pprof_line zero_line = { .function_id = 0 };
	struct pprof_label ok_label = { .key = "k", .str = "v" };
	struct pprof_label no_key = { .str = "v" }, empty_key = { .key = "", .str = "v" };
	struct pprof *p = pprof__new(&opts);
	__u64 stack[2], bad_stack[2];
	void *buf = NULL;
	size_t len = 0;

	ASSERT_TRUE(p);
	ASSERT_UEQ(pprof__add_mapping(p, &m), 1);
	ASSERT_UEQ(pprof__add_function(p, &f), 1);
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1000, &line, 1), 1);

	errno = 0;
	ASSERT_UEQ(pprof__add_mapping(NULL, &m), 0);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_UEQ(pprof__add_mapping(p, NULL), 0);
	errno = 0;
	ASSERT_UEQ(pprof__add_mapping(p, &bad_m), 0);
	ASSERT_EQ(errno, EINVAL);

	ASSERT_UEQ(pprof__add_function(NULL, &f), 0);
	ASSERT_UEQ(pprof__add_function(p, NULL), 0);
	errno = 0;
	ASSERT_UEQ(pprof__add_function(p, &nameless), 0);
	ASSERT_EQ(errno, EINVAL);

	errno = 0;
	ASSERT_UEQ(pprof__add_location(NULL, 1, 0x1004, &line, 1), 0);
	ASSERT_EQ(errno, EINVAL);
	errno = 0;
	ASSERT_UEQ(pprof__add_location(p, 2, 0x1004, &line, 1), 0); /* mapping out of range */
	ASSERT_EQ(errno, EINVAL);
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1004, &bad_line, 1), 0); /* unknown function */
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1004, &zero_line, 1), 0);
	ASSERT_UEQ(pprof__add_location(p, 1, 0x1004, NULL, 1), 0); /* lines missing */

	stack[0] = 1;
	stack[1] = 1;
	bad_stack[0] = 1;
	bad_stack[1] = 2; /* unknown location */
	ASSERT_EQ(pprof__add_sample(NULL, stack, 2, 1, NULL, 0), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, bad_stack, 2, 1, NULL, 0), -EINVAL);
	bad_stack[1] = 0;
	ASSERT_EQ(pprof__add_sample(p, bad_stack, 2, 1, NULL, 0), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, NULL, 2, 1, NULL, 0), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, stack, 2, 0, NULL, 0), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, stack, 2, -1, NULL, 0), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, stack, 2, 1, NULL, 1), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, stack, 2, 1, &no_key, 1), -EINVAL);
	ASSERT_EQ(pprof__add_sample(p, stack, 2, 1, &empty_key, 1), -EINVAL);
	ASSERT_EQ(pprof__num_samples(p), 0);
	ASSERT_EQ(pprof__total_count(p), 0);

	/* Counts that would overflow are refused, leaving the sample as it was. */
	ASSERT_EQ(pprof__add_sample(p, stack, 2, INT64_MAX, &ok_label, 1), 0);
	ASSERT_EQ(pprof__add_sample(p, stack, 2, 1, &ok_label, 1), -EOVERFLOW);
	ASSERT_EQ(pprof__sample(p, 0)->count, INT64_MAX);
	/* count * period_ns does not fit value[1]. */
	ASSERT_EQ(pprof__encode(p, false, &buf, &len), -EOVERFLOW);
	ASSERT_TRUE(!buf);

	ASSERT_EQ(pprof__set_duration(NULL, 1), -EINVAL);
	ASSERT_EQ(pprof__set_duration(p, (__u64)INT64_MAX + 1), -EINVAL);
	ASSERT_EQ(pprof__add_comment(NULL, "x"), -EINVAL);
	ASSERT_EQ(pprof__add_comment(p, NULL), -EINVAL);
	ASSERT_EQ(pprof__encode(NULL, false, &buf, &len), -EINVAL);
	ASSERT_EQ(pprof__encode(p, false, NULL, &len), -EINVAL);
	ASSERT_EQ(pprof__encode(p, false, &buf, NULL), -EINVAL);

	ASSERT_EQ(pprof__num_samples(NULL), 0);
	ASSERT_TRUE(!pprof__sample(NULL, 0));
	ASSERT_TRUE(!pprof__location(NULL, 1));
	ASSERT_TRUE(!pprof__mapping(NULL, 1));
	ASSERT_TRUE(!pprof__function(NULL, 1));
	ASSERT_EQ(pprof__total_count(NULL), 0);
	ASSERT_UEQ(pprof__period_ns(NULL), 0);

	/* Failures leave no gaps: the next ids follow on. */
	ASSERT_UEQ(pprof__add_mapping(p, &bad_m), 0);
	m.start = 0x3000;
	m.limit = 0x4000;
	ASSERT_UEQ(pprof__add_mapping(p, &m), 2);
	ASSERT_UEQ(pprof__add_location(p, 3, 0x3000, NULL, 0), 0);
	ASSERT_UEQ(pprof__add_location(p, 2, 0x3000, NULL, 0), 2);

	pprof__free(p);
	return 0;
}

/* ---- encoding --------------------------------------------------------- */

TEST(gzip_matches_raw)
{
	struct fixture fx;
	void *raw = NULL, *gz = NULL, *plain = NULL;
	size_t raw_len = 0, gz_len = 0, plain_len = 0;
	const unsigned char *g;

	if (fixture_build(&fx))
		return 1;
	ASSERT_EQ(pprof__encode(fx.p, false, &raw, &raw_len), 0);
	ASSERT_EQ(pprof__encode(fx.p, true, &gz, &gz_len), 0);
	g = gz;
	ASSERT_TRUE(gz_len > 18 && g[0] == 0x1f && g[1] == 0x8b);
	ASSERT_EQ(gunzip(gz, gz_len, &plain, &plain_len), 0);
	ASSERT_EQ(plain_len, raw_len);
	ASSERT_TRUE(memcmp(plain, raw, raw_len) == 0);
	free(raw);
	free(gz);
	free(plain);
	pprof__free(fx.p);
	return 0;
}

TEST(empty_profile)
{
	const struct pprof_opts opts = { .period_ns = PERIOD_NS };
	struct pprof *p = pprof__new(&opts);
	void *raw = NULL, *gz = NULL, *plain = NULL;
	size_t raw_len = 0, gz_len = 0, plain_len = 0;

	ASSERT_TRUE(p);
	ASSERT_EQ(pprof__encode(p, false, &raw, &raw_len), 0);
	ASSERT_TRUE(raw && raw_len > 0); /* sample_type and string_table are always there */
	ASSERT_EQ(pprof__encode(p, true, &gz, &gz_len), 0);
	ASSERT_EQ(gunzip(gz, gz_len, &plain, &plain_len), 0);
	ASSERT_EQ(plain_len, raw_len);
	ASSERT_TRUE(memcmp(plain, raw, raw_len) == 0);
	free(raw);
	free(gz);
	free(plain);
	pprof__free(p);
	return 0;
}

/*
 * protoc decodes the raw message with upstream's schema; the text format is
 * stable, so whole blocks are compared.
 */
TEST(protoc_decode)
{
	char path[PATH_MAX], *text = NULL, *expect, *pos;
	char *argv[] = {
		"protoc",
		"--decode=perftools.profiles.Profile",
		"-I",
		PPROF_UPSTREAM_PROTO_DIR,
		PPROF_UPSTREAM_PROTO_DIR "/profile.proto",
		NULL,
	};
	/* Expected blocks, in the order they must appear. */
	static const char *const blocks[] = {
		"sample_type {\n  type: 1\n  unit: 2\n}\nsample_type {\n  type: 3\n  unit: 4\n}\n",
		/* merged 3 + 4; labels comm=app pid=1234 */
		"sample {\n  location_id: 2\n  location_id: 1\n  location_id: 3\n"
		"  value: 7\n  value: 70707070\n"
		"  label {\n    key: 15\n    str: 16\n  }\n  label {\n    key: 17\n    str: 18\n  }\n}\n",
		/* unsymbolized leaf; numeric label alloc=4096 bytes */
		"sample {\n  location_id: 4\n  location_id: 1\n  location_id: 3\n"
		"  value: 2\n  value: 20202020\n"
		"  label {\n    key: 15\n    str: 16\n  }\n  label {\n    key: 17\n    str: 18\n  }\n"
		"  label {\n    key: 19\n    num: 4096\n    num_unit: 20\n  }\n}\n",
		/* same stack, comm=other: not merged */
		"sample {\n  location_id: 2\n  location_id: 1\n  location_id: 3\n"
		"  value: 1\n  value: 10101010\n"
		"  label {\n    key: 15\n    str: 21\n  }\n  label {\n    key: 17\n    str: 18\n  }\n}\n",
		"mapping {\n  id: 1\n  memory_start: 4194304\n  memory_limit: 5242880\n"
		"  filename: 5\n  build_id: 6\n  has_functions: true\n  has_filenames: true\n"
		"  has_line_numbers: true\n  has_inline_frames: true\n}\n",
		"mapping {\n  id: 2\n  memory_start: 139637976727552\n  memory_limit: 139637978824704\n"
		"  file_offset: 163840\n  filename: 7\n  has_functions: true\n}\n",
		"location {\n  id: 1\n  mapping_id: 1\n  address: 4198400\n"
		"  line {\n    function_id: 1\n    line: 12\n  }\n}\n",
		/* inline chain: helper_inline (3) inside compute (2), innermost first */
		"location {\n  id: 2\n  mapping_id: 1\n  address: 4198656\n"
		"  line {\n    function_id: 3\n    line: 7\n  }\n"
		"  line {\n    function_id: 2\n    line: 25\n  }\n}\n",
		"location {\n  id: 3\n  mapping_id: 2\n  address: 139637976898960\n"
		"  line {\n    function_id: 4\n  }\n}\n",
		"location {\n  id: 4\n  mapping_id: 2\n  address: 139637977431262\n}\n",
		/* system_name falls back to name */
		"function {\n  id: 1\n  name: 8\n  system_name: 8\n  filename: 9\n  start_line: 10\n}\n",
		"function {\n  id: 2\n  name: 10\n  system_name: 11\n  filename: 9\n  start_line: 20\n}\n",
		"function {\n  id: 3\n  name: 12\n  system_name: 12\n  filename: 13\n  start_line: 5\n}\n",
		"function {\n  id: 4\n  name: 14\n  system_name: 14\n}\n",
		"", /* string table, filled in below */
		"time_nanos: 1700000000123456789\nduration_nanos: 10000000000\n"
		"period_type {\n  type: 3\n  unit: 4\n}\nperiod: 10101010\n"
		"comment: 22\ncomment: 23\n",
	};
	size_t i, n, len = 0, cap = 0;
	struct fixture fx;
	void *raw = NULL;
	size_t raw_len = 0;

	if (fixture_build(&fx))
		return 1;
	ASSERT_EQ(pprof__encode(fx.p, false, &raw, &raw_len), 0);
	ASSERT_EQ(tmp_path(path, sizeof(path), "fixture.pb"), 0);
	ASSERT_EQ(write_file(path, raw, raw_len), 0);
	ASSERT_EQ(run_capture(argv, path, &text), 0);

	for (i = 0; i < sizeof(fixture_strings) / sizeof(*fixture_strings); i++)
		cap += strlen(fixture_strings[i]) + sizeof("string_table: \"\"\n");
	expect = malloc(cap + 1);
	ASSERT_TRUE(expect);
	for (i = 0; i < sizeof(fixture_strings) / sizeof(*fixture_strings); i++)
		len += (size_t)snprintf(expect + len, cap + 1 - len, "string_table: \"%s\"\n",
					fixture_strings[i]);

	pos = text;
	for (i = 0; i < sizeof(blocks) / sizeof(*blocks); i++) {
		const char *want = blocks[i][0] ? blocks[i] : expect;
		char *at = strstr(pos, want);

		if (!at) {
			fprintf(stderr, "  missing, or out of order:\n%s\n  in protoc output:\n%s\n",
				want, text);
			free(expect);
			TEST_FAIL("protoc --decode output lacks block %zu", i);
		}
		pos = at + strlen(want);
	}
	/* Nothing beyond what was expected: exactly 3 samples, 2 mappings, ... */
	for (n = 0, pos = text; (pos = strstr(pos, "\nsample {")); pos++)
		n++;
	ASSERT_EQ(n, 3);
	for (n = 0, pos = text; (pos = strstr(pos, "\nlocation {")); pos++)
		n++;
	ASSERT_EQ(n, 4);
	for (n = 0, pos = text; (pos = strstr(pos, "\nfunction {")); pos++)
		n++;
	ASSERT_EQ(n, 4);
	for (n = 0, pos = text; (pos = strstr(pos, "\nmapping {")); pos++)
		n++;
	ASSERT_EQ(n, 2);
	for (n = 0, pos = text; (pos = strstr(pos, "string_table: ")); pos++)
		n++;
	ASSERT_EQ(n, sizeof(fixture_strings) / sizeof(*fixture_strings));

	free(expect);
	free(text);
	free(raw);
	pprof__free(fx.p);
	return 0;
}

/* What `go tool pprof -raw` printed about one sample or one location. */
struct raw_sample {
	long long count, value;
	unsigned long long ids[8];
	size_t n_ids;
	char labels[256];
};

struct raw_location {
	unsigned long long id, address, mapping;
	char frames[256]; /* function names, innermost first, joined by '>' */
	char text[512];   /* the lines as printed, whitespace squeezed */
};

struct raw_output {
	struct raw_sample samples[8];
	size_t n_samples;
	struct raw_location locs[8];
	size_t n_locs;
};

static void append(char *dst, size_t size, const char *sep, const char *src, size_t n)
{
	size_t len = strlen(dst);

	if (len && sep)
		len += (size_t)snprintf(dst + len, size - len, "%s", sep);
	if (len < size)
		snprintf(dst + len, size - len, "%.*s", (int)n, src);
}

/*
 * Parses the Samples and Locations sections of -raw output. go renumbers
 * locations, so samples are compared through the function names their ids
 * resolve to, not through our ids.
 */
static int parse_raw(char *text, struct raw_output *out)
{
	enum { NONE, SAMPLES, LOCATIONS, OTHER } section = NONE;
	char *line, *save = NULL, *rest, *end;
	struct raw_sample *s = NULL;
	struct raw_location *l = NULL;
	unsigned long long id;
	int n;

	memset(out, 0, sizeof(*out));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "Samples:")) {
			section = SAMPLES;
			continue;
		}
		if (!strcmp(line, "Locations")) {
			section = LOCATIONS;
			continue;
		}
		if (!strcmp(line, "Mappings")) {
			section = OTHER;
			continue;
		}
		if (section == SAMPLES) {
			long long count, value;

			if (sscanf(line, " %lld %lld:%n", &count, &value, &n) == 2) {
				if (out->n_samples == sizeof(out->samples) / sizeof(*out->samples))
					return -1;
				s = &out->samples[out->n_samples++];
				s->count = count;
				s->value = value;
				for (rest = line + n;; rest = end) {
					id = strtoull(rest, &end, 10);
					if (end == rest)
						break;
					if (s->n_ids == sizeof(s->ids) / sizeof(*s->ids))
						return -1;
					s->ids[s->n_ids++] = id;
				}
			} else if (s && strstr(line, ":[")) {
				append(s->labels, sizeof(s->labels), " ", line, strlen(line));
				squeeze_spaces(s->labels);
			}
		} else if (section == LOCATIONS) {
			unsigned long long addr, mapping;

			if (sscanf(line, " %llu: 0x%llx M=%llu%n", &id, &addr, &mapping, &n) == 3) {
				if (out->n_locs == sizeof(out->locs) / sizeof(*out->locs))
					return -1;
				l = &out->locs[out->n_locs++];
				l->id = id;
				l->address = addr;
				l->mapping = mapping;
				rest = line + n;
			} else if (l) {
				rest = line; /* an inlined caller's line */
			} else {
				continue;
			}
			append(l->text, sizeof(l->text), " | ", rest, strlen(rest));
			squeeze_spaces(l->text);
			while (*rest == ' ')
				rest++;
			if (*rest)
				append(l->frames, sizeof(l->frames), ">", rest, strcspn(rest, " "));
		}
	}
	return 0;
}

static const struct raw_location *raw_location(const struct raw_output *out,
					       unsigned long long id)
{
	size_t i;

	for (i = 0; i < out->n_locs; i++) {
		if (out->locs[i].id == id)
			return &out->locs[i];
	}
	return NULL;
}

/* The stack of a parsed sample as "frames;frames;..." leaf first; "?" for no name. */
static int raw_stack(const struct raw_output *out, const struct raw_sample *s, char *buf,
		     size_t size)
{
	const struct raw_location *l;
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < s->n_ids; i++) {
		l = raw_location(out, s->ids[i]);
		if (!l)
			return -1;
		append(buf, size, ";", l->frames[0] ? l->frames : "?",
		       strlen(l->frames[0] ? l->frames : "?"));
	}
	return 0;
}

TEST(go_pprof_raw)
{
	static const struct {
		long long count, value;
		const char *stack;
		const char *labels;
	} want[] = {
		{ 7, 7 * PERIOD_NS, "helper_inline>compute(int);main;__libc_start_call_main",
		  "comm:[app] pid:[1234]" },
		{ 2, 2 * PERIOD_NS, "?;main;__libc_start_call_main",
		  "comm:[app] pid:[1234] alloc:[4096 bytes]" },
		{ 1, 1 * PERIOD_NS, "helper_inline>compute(int);main;__libc_start_call_main",
		  "comm:[other] pid:[1234]" },
	};
	char path[PATH_MAX], stack[512], *text = NULL, *copy;
	char *argv[] = { "go", "tool", "pprof", "-raw", "-symbolize=none", path, NULL };
	const struct raw_location *l;
	struct raw_output out;
	struct fixture fx;
	void *gz = NULL;
	size_t gz_len = 0, i, j;
	bool found;

	if (fixture_build(&fx))
		return 1;
	ASSERT_EQ(pprof__encode(fx.p, true, &gz, &gz_len), 0);
	ASSERT_EQ(tmp_path(path, sizeof(path), "fixture.pb.gz"), 0);
	ASSERT_EQ(write_file(path, gz, gz_len), 0);
	ASSERT_EQ(run_capture(argv, NULL, &text), 0);

	/* Header lines, matched whole. */
	ASSERT_TRUE(strstr(text, "\nPeriodType: cpu nanoseconds\n"));
	ASSERT_TRUE(strstr(text, "\nPeriod: 10101010\n"));
	ASSERT_TRUE(strstr(text, "\nDuration: 10s\n"));
	ASSERT_TRUE(strstr(text, "Time: 2023-11-14 22:13:20.123456789 +0000 UTC\n"));
	ASSERT_TRUE(strstr(text, "Comment: fornax unit test\n"));
	ASSERT_TRUE(strstr(text, "Comment: dropped=0\n"));
	ASSERT_TRUE(strstr(text, "\nsamples/count cpu/nanoseconds\n"));
	ASSERT_TRUE(strstr(text, "/usr/bin/app b1d0c0ffee [FN][FL][LN][IN]\n"));
	ASSERT_TRUE(strstr(text, " /usr/lib/x86_64-linux-gnu/libc.so.6  [FN]\n"));

	copy = strdup(text);
	ASSERT_TRUE(copy);
	ASSERT_EQ(parse_raw(copy, &out), 0);
	free(copy);
	ASSERT_EQ(out.n_samples, 3);
	ASSERT_EQ(out.n_locs, 4);

	for (i = 0; i < sizeof(want) / sizeof(*want); i++) {
		found = false;
		for (j = 0; j < out.n_samples && !found; j++) {
			ASSERT_EQ(raw_stack(&out, &out.samples[j], stack, sizeof(stack)), 0);
			found = out.samples[j].count == want[i].count &&
				out.samples[j].value == want[i].value &&
				!strcmp(stack, want[i].stack) &&
				!strcmp(out.samples[j].labels, want[i].labels);
		}
		if (!found) {
			fprintf(stderr, "  go tool pprof -raw output:\n%s\n", text);
			TEST_FAIL("no sample %lld %lld %s {%s}", want[i].count, want[i].value,
				  want[i].stack, want[i].labels);
		}
	}

	/* Locations keep addresses, mappings, file:line and the mangled name. */
	for (i = 0; i < out.n_locs; i++) {
		l = &out.locs[i];
		if (l->address == 0x401100) {
			ASSERT_EQ(l->mapping, 1);
			ASSERT_STREQ(l->text, "helper_inline /src/app.h:7 s=5 | "
					      "compute(int) /src/app.c:25 s=20(_Z7computei)");
		} else if (l->address == 0x401000) {
			ASSERT_STREQ(l->text, "main /src/app.c:12 s=10");
		} else if (l->address == 0x7f0000029d90) {
			ASSERT_EQ(l->mapping, 2);
			ASSERT_STREQ(l->frames, "__libc_start_call_main");
		} else {
			ASSERT_UEQ(l->address, 0x7f00000abcde);
			ASSERT_EQ(l->mapping, 2);
			ASSERT_STREQ(l->frames, "");
		}
	}

	free(text);
	free(gz);
	pprof__free(fx.p);
	return 0;
}

/*
 * Thousands of samples, and a function name of 100 KiB of noise that gzip
 * cannot shrink, so the output outgrows the first buffer the encoder sizes
 * for it. The readers must still agree.
 */
TEST(large_profile)
{
	const struct pprof_opts opts = { .period_ns = PERIOD_NS };
	char path[PATH_MAX], name[32], *text = NULL, *big, *pos, *locs;
	char *go_argv[] = { "go", "tool", "pprof", "-raw", "-symbolize=none", path, NULL };
	struct pprof_mapping m = { .start = 0, .limit = ~0ULL, .filename = "/bin/big" };
	struct pprof *p = pprof__new(&opts);
	void *raw = NULL, *gz = NULL, *plain = NULL;
	size_t raw_len = 0, gz_len = 0, plain_len = 0, i, n;
	struct pprof_function f = { 0 };
	struct pprof_line line;
	__u64 stack[4], x = 88172645463325252ULL;
	const size_t n_stacks = 6000;

	ASSERT_TRUE(p);
	ASSERT_UEQ(pprof__add_mapping(p, &m), 1);
	big = malloc(100 * 1024);
	ASSERT_TRUE(big);
	for (i = 0; i < 100 * 1024 - 1; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		big[i] = (char)('!' + x % 94);
	}
	big[100 * 1024 - 1] = '\0';
	f.name = big;
	ASSERT_UEQ(pprof__add_function(p, &f), 1);
	free(big);
	for (i = 0; i < n_stacks; i++) {
		/* xorshift: addresses whose varints deflate poorly */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		snprintf(name, sizeof(name), "fn_%zu_%llx", i, (unsigned long long)(x & 0xffffff));
		f.name = name;
		line.function_id = pprof__add_function(p, &f);
		line.line = (__s64)i;
		ASSERT_TRUE(line.function_id);
		stack[0] = pprof__add_location(p, 1, x, &line, 1);
		stack[1] = pprof__add_location(p, 1, x >> 1, NULL, 0);
		ASSERT_TRUE(stack[0] && stack[1]);
		ASSERT_EQ(pprof__add_sample(p, stack, 2, (__s64)(i % 5 + 1), NULL, 0), 0);
	}
	line.function_id = 1;
	line.line = 1;
	stack[3] = pprof__add_location(p, 0, 0, &line, 1); /* the 100 KiB name */
	ASSERT_EQ(pprof__add_sample(p, &stack[3], 1, 1, NULL, 0), 0);
	ASSERT_EQ(pprof__num_samples(p), n_stacks + 1);

	ASSERT_EQ(pprof__encode(p, false, &raw, &raw_len), 0);
	ASSERT_EQ(pprof__encode(p, true, &gz, &gz_len), 0);
	ASSERT_TRUE(gz_len > raw_len / 2 + 1024);
	ASSERT_EQ(gunzip(gz, gz_len, &plain, &plain_len), 0);
	ASSERT_EQ(plain_len, raw_len);
	ASSERT_TRUE(memcmp(plain, raw, raw_len) == 0);

	ASSERT_EQ(tmp_path(path, sizeof(path), "large.pb.gz"), 0);
	ASSERT_EQ(write_file(path, gz, gz_len), 0);
	ASSERT_EQ(run_capture(go_argv, NULL, &text), 0);
	pos = strstr(text, "\nsamples/count cpu/nanoseconds\n");
	locs = strstr(text, "\nLocations\n");
	ASSERT_TRUE(pos && locs);
	/* One line per sample, "count value: ids", before the Locations section. */
	for (n = 0; (pos = strstr(pos, ": ")) && pos < locs; pos++)
		n++;
	ASSERT_EQ(n, n_stacks + 1);

	free(text);
	free(raw);
	free(gz);
	free(plain);
	pprof__free(p);
	return 0;
}

int main(void)
{
	if (tmp_dir_setup()) {
		fprintf(stderr, "cannot create a temporary directory: %s\n", strerror(errno));
		return 1;
	}
	RUN(new_and_free);
	RUN(interning);
	RUN(sample_merging);
	RUN(errors);
	RUN(gzip_matches_raw);
	RUN(empty_profile);
	RUN(protoc_decode);
	RUN(go_pprof_raw);
	RUN(large_profile);
	tmp_dir_cleanup();
	return test_summary();
}
