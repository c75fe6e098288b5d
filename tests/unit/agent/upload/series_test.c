// SPDX-License-Identifier: Apache-2.0
/*
 * Splitting a window per process: every series holds exactly its process's
 * samples, in a profile that stands alone (ids 1..N, its own tables), with
 * the right series labels. Profiles are read back with protobuf-c's decoder
 * of profile.proto, not with the builder that wrote them.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "series.h"
#include "test.h"
#include "upload.pb-c.h"

#define TIME_NANOS 1700000000123456789LL
#define DURATION_NS 10000000000ULL

static char proc_root[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* A fake /proc: pid 100's executable was replaced on disk, pid 200 is gone (no entry). */
static int make_proc_root(void)
{
	const char *base = getenv("TMPDIR");
	char path[PATH_MAX + 32];

	snprintf(proc_root, sizeof(proc_root), "%s/fornax-series-test-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(proc_root))
		return -1;
	snprintf(path, sizeof(path), "%s/100", proc_root);
	if (mkdir(path, 0700) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/100/exe", proc_root);
	return symlink("/usr/sbin/appd (deleted)", path);
}

struct fixture {
	struct pprof *p;
	__u64 loc_work, loc_main, loc_kernel;
};

static int add(struct fixture *fx, const char *pid, const char *comm, const char *tid,
	       const char *thread, const __u64 *stack, size_t n, __s64 count)
{
	struct pprof_label labels[] = {
		{ .key = "pid", .str = pid },
		{ .key = "tid", .str = tid },
		{ .key = "comm", .str = comm },
		{ .key = "thread_name", .str = thread },
	};

	return pprof__add_sample(fx->p, stack, n, count, labels, 4);
}

static int build(struct fixture *fx)
{
	__u64 app, kernel, f_work, f_main, f_kernel;
	struct pprof_line line;

	fx->p = pprof__new(&(struct pprof_opts){ .period_ns = 52631578, .time_nanos = TIME_NANOS });
	if (!fx->p)
		return -1;
	app = pprof__add_mapping(fx->p, &(struct pprof_mapping){
		.start = 0x400000, .limit = 0x500000, .filename = "/usr/sbin/appd",
		.build_id = "abcdef", .has_functions = true });
	kernel = pprof__add_mapping(fx->p, &(struct pprof_mapping){
		.start = 0xffffffff81000000ULL, .limit = 0xffffffff82000000ULL,
		.filename = "[kernel.kallsyms]" });
	f_work = pprof__add_function(fx->p, &(struct pprof_function){ .name = "work" });
	f_main = pprof__add_function(fx->p, &(struct pprof_function){ .name = "main" });
	f_kernel = pprof__add_function(fx->p, &(struct pprof_function){ .name = "do_syscall_64" });
	line = (struct pprof_line){ .function_id = f_kernel };
	fx->loc_kernel = pprof__add_location(fx->p, kernel, 0xffffffff81001000ULL, &line, 1);
	line = (struct pprof_line){ .function_id = f_work, .line = 10 };
	fx->loc_work = pprof__add_location(fx->p, app, 0x401000, &line, 1);
	line = (struct pprof_line){ .function_id = f_main, .line = 20 };
	fx->loc_main = pprof__add_location(fx->p, app, 0x402000, &line, 1);
	if (!app || !kernel || !fx->loc_kernel || !fx->loc_work || !fx->loc_main)
		return -1;

	__u64 user[] = { fx->loc_work, fx->loc_main };
	__u64 kern[] = { fx->loc_kernel };
	__u64 only_main[] = { fx->loc_main };

	if (add(fx, "100", "appd", "100", "appd", user, 2, 5) ||
	    add(fx, "200", "other", "200", "other", kern, 1, 7) ||
	    add(fx, "100", "appd", "101", "worker", user, 2, 3) ||
	    add(fx, "300", "bad\xff\xfe", "300", "x", only_main, 1, 2) ||
	    pprof__set_duration(fx->p, DURATION_NS) ||
	    pprof__add_comment(fx->p, "fornax: 4 samples lost: counts map full"))
		return -1;
	return 0;
}

static Perftools__Profiles__Profile *decode(const ProtobufCBinaryData *gz)
{
	Perftools__Profiles__Profile *p = NULL;
	unsigned char *out = NULL;
	z_stream zs = { 0 };
	size_t cap = 1 << 16;

	if (gz->len < 2 || gz->data[0] != 0x1f || gz->data[1] != 0x8b)
		return NULL;
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return NULL;
	out = malloc(cap);
	zs.next_in = gz->data;
	zs.avail_in = gz->len;
	zs.next_out = out;
	zs.avail_out = cap;
	if (out && inflate(&zs, Z_FINISH) == Z_STREAM_END)
		p = perftools__profiles__profile__unpack(NULL, zs.total_out, out);
	inflateEnd(&zs);
	free(out);
	return p;
}

static const char *label(const Fornax__Upload__V1__Series *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i]->name, name) == 0)
			return s->labels[i]->value;
	return NULL;
}

/* The checks Parca makes, plus what this test knows about the content. */
static int check_profile(const Perftools__Profiles__Profile *p, __s64 want_total,
			 bool want_thread_labels, size_t want_samples)
{
	__s64 total = 0;

	ASSERT_TRUE(p->n_string_table > 0 && p->string_table[0][0] == '\0');
	for (size_t i = 0; i < p->n_mapping; i++)
		ASSERT_EQ(p->mapping[i]->id, i + 1);
	for (size_t i = 0; i < p->n_function; i++)
		ASSERT_EQ(p->function[i]->id, i + 1);
	for (size_t i = 0; i < p->n_location; i++) {
		ASSERT_EQ(p->location[i]->id, i + 1);
		ASSERT_TRUE(p->location[i]->mapping_id <= p->n_mapping);
		for (size_t k = 0; k < p->location[i]->n_line; k++)
			ASSERT_TRUE(p->location[i]->line[k]->function_id >= 1 &&
				    p->location[i]->line[k]->function_id <= p->n_function);
	}
	ASSERT_EQ(p->n_sample, want_samples);
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *s = p->sample[i];
		bool has_tid = false;

		ASSERT_EQ(s->n_value, 2);
		ASSERT_EQ(s->value[1], s->value[0] * 52631578);
		total += s->value[0];
		for (size_t k = 0; k < s->n_location_id; k++)
			ASSERT_TRUE(s->location_id[k] >= 1 && s->location_id[k] <= p->n_location);
		for (size_t k = 0; k < s->n_label; k++) {
			const char *key = p->string_table[s->label[k]->key];

			ASSERT_TRUE(strcmp(key, "pid") != 0 && strcmp(key, "comm") != 0);
			if (strcmp(key, "tid") == 0)
				has_tid = true;
		}
		ASSERT_EQ(has_tid, want_thread_labels);
	}
	ASSERT_EQ(total, want_total);
	ASSERT_EQ(p->time_nanos, TIME_NANOS);
	ASSERT_EQ(p->duration_nanos, DURATION_NS);
	ASSERT_EQ(p->n_comment, 1);
	ASSERT_STREQ(p->string_table[p->comment[0]], "fornax: 4 samples lost: counts map full");
	return 0;
}

static bool has_function(const Perftools__Profiles__Profile *p, const char *name)
{
	for (size_t i = 0; i < p->n_function; i++)
		if (strcmp(p->string_table[p->function[i]->name], name) == 0)
			return true;
	return false;
}

static Fornax__Upload__V1__Window *pack(struct fixture *fx, bool thread_labels,
					const char *service, struct series_stats *st)
{
	static const struct series_label common[] = {
		{ "hostname", "node-1" },
		{ "env", "test" },
	};
	static const unsigned char id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	Fornax__Upload__V1__Window *w;
	void *buf = NULL;
	size_t len = 0;

	if (series__pack_window(fx->p, &(struct series_opts){
		    .labels = common, .n_labels = 2, .service_name = service,
		    .thread_labels = thread_labels, .proc_root = proc_root }, id, &buf, &len, st))
		return NULL;
	w = fornax__upload__v1__window__unpack(NULL, len, buf);
	free(buf);
	return w;
}

TEST(one_series_per_process)
{
	Perftools__Profiles__Profile *p;
	Fornax__Upload__V1__Window *w;
	const Fornax__Upload__V1__Series *s;
	struct fixture fx;
	struct series_stats st;

	ASSERT_EQ(build(&fx), 0);
	w = pack(&fx, true, NULL, &st);
	ASSERT_TRUE(w);
	ASSERT_EQ(st.series, 3);
	ASSERT_EQ(st.samples, 17);
	ASSERT_EQ(w->time_nanos, TIME_NANOS);
	ASSERT_EQ(w->duration_nanos, DURATION_NS);
	ASSERT_EQ(w->id.len, 16);
	ASSERT_EQ(w->n_series, 3);

	/* In the order the processes first appear. */
	s = w->series[0];
	ASSERT_STREQ(label(s, "pid"), "100");
	ASSERT_STREQ(label(s, "comm"), "appd");
	ASSERT_STREQ(label(s, "executable"), "/usr/sbin/appd");
	ASSERT_STREQ(label(s, "hostname"), "node-1");
	ASSERT_STREQ(label(s, "env"), "test");
	ASSERT_STREQ(s->service_name, "appd");
	ASSERT_EQ(s->n_labels, 5);
	for (size_t i = 1; i < s->n_labels; i++)
		ASSERT_TRUE(strcmp(s->labels[i - 1]->name, s->labels[i]->name) < 0);
	p = decode(&s->profile);
	ASSERT_TRUE(p);
	/* Two threads: two samples with the same stack, told apart by tid. */
	ASSERT_EQ(check_profile(p, 8, true, 2), 0);
	ASSERT_EQ(p->n_location, 2);
	ASSERT_EQ(p->n_mapping, 1);
	ASSERT_TRUE(has_function(p, "work") && has_function(p, "main"));
	ASSERT_TRUE(!has_function(p, "do_syscall_64"));
	perftools__profiles__profile__free_unpacked(p, NULL);

	s = w->series[1];
	ASSERT_STREQ(label(s, "pid"), "200");
	ASSERT_TRUE(!label(s, "executable"));
	ASSERT_STREQ(s->service_name, "other");
	p = decode(&s->profile);
	ASSERT_TRUE(p);
	ASSERT_EQ(check_profile(p, 7, true, 1), 0);
	ASSERT_EQ(p->n_location, 1);
	ASSERT_EQ(p->n_function, 1);
	ASSERT_TRUE(has_function(p, "do_syscall_64"));
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* A comm that is not UTF-8 must not make the store refuse the whole request. */
	s = w->series[2];
	ASSERT_STREQ(label(s, "comm"), "bad??");
	ASSERT_STREQ(s->service_name, "bad??");
	p = decode(&s->profile);
	ASSERT_TRUE(p);
	ASSERT_EQ(check_profile(p, 2, true, 1), 0);
	perftools__profiles__profile__free_unpacked(p, NULL);

	fornax__upload__v1__window__free_unpacked(w, NULL);
	pprof__free(fx.p);
	return 0;
}

TEST(without_thread_labels_samples_merge)
{
	Perftools__Profiles__Profile *p;
	Fornax__Upload__V1__Window *w;
	struct fixture fx;
	struct series_stats st;

	ASSERT_EQ(build(&fx), 0);
	w = pack(&fx, false, "checkout", &st);
	ASSERT_TRUE(w);
	ASSERT_EQ(w->n_series, 3);
	for (size_t i = 0; i < w->n_series; i++)
		ASSERT_STREQ(w->series[i]->service_name, "checkout");
	p = decode(&w->series[0]->profile);
	ASSERT_TRUE(p);
	/* tid and thread_name gone, the two threads' samples are one. */
	ASSERT_EQ(check_profile(p, 8, false, 1), 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
	fornax__upload__v1__window__free_unpacked(w, NULL);
	pprof__free(fx.p);
	return 0;
}

TEST(empty_window)
{
	Fornax__Upload__V1__Window *w;
	struct series_stats st;
	struct fixture fx;

	fx.p = pprof__new(&(struct pprof_opts){ .period_ns = 1000, .time_nanos = TIME_NANOS });
	ASSERT_TRUE(fx.p);
	w = pack(&fx, true, NULL, &st);
	ASSERT_TRUE(w);
	ASSERT_EQ(st.series, 0);
	ASSERT_EQ(w->n_series, 0);
	ASSERT_EQ(w->time_nanos, TIME_NANOS);
	fornax__upload__v1__window__free_unpacked(w, NULL);
	pprof__free(fx.p);
	return 0;
}

int main(void)
{
	if (make_proc_root()) {
		perror("setting up a fake /proc");
		return 1;
	}
	RUN(one_series_per_process);
	RUN(without_thread_labels_samples_merge);
	RUN(empty_window);
	nftw(proc_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return test_summary();
}
