// SPDX-License-Identifier: Apache-2.0
/*
 * Tests of the pprof decoder: round trips through our encoder; fixtures
 * written by independent writers (Go's runtime/pprof, google/pprof's
 * profile package as Parca Agent uses it), checked value by value;
 * hand-made messages that break each rule the decoder checks; and garbage
 * (every truncation and many bit flips of a valid profile), which must give
 * a clean error or a consistent model, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof_codec.h"
#include "profile.pb-c.h"
#include "test.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/fixtures/pprof"
#endif

static int read_file(const char *path, void **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "  %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*buf = malloc(st.st_size + 1);
	n = *buf ? read(fd, *buf, st.st_size) : -1;
	close(fd);
	if (n != st.st_size)
		return -1;
	*len = n;
	return 0;
}

/* Every id a model hands out must resolve: what a consumer of a decoded profile relies on. */
static int check_consistent(const struct pprof *p)
{
	__s64 total = 0;

	for (size_t i = 0; i < pprof__num_samples(p); i++) {
		const struct pprof_sample *s = pprof__sample(p, i);

		ASSERT_TRUE(s && s->count > 0);
		total += s->count;
		for (size_t j = 0; j < s->n_locations; j++) {
			const struct pprof_location *l = pprof__location(p, s->location_ids[j]);

			ASSERT_TRUE(l);
			ASSERT_TRUE(!l->mapping_id || pprof__mapping(p, l->mapping_id));
			for (size_t k = 0; k < l->n_lines; k++) {
				const struct pprof_function *f = pprof__function(p, l->lines[k].function_id);

				ASSERT_TRUE(f && f->name);
			}
		}
		for (size_t j = 0; j < s->n_labels; j++)
			ASSERT_TRUE(s->labels[j].key && *s->labels[j].key);
	}
	ASSERT_EQ(total, pprof__total_count(p));
	return 0;
}

static const char *leaf_name(const struct pprof *p, const struct pprof_sample *s, size_t depth)
{
	const struct pprof_location *l = pprof__location(p, s->location_ids[depth]);

	if (!l || !l->n_lines)
		return NULL;
	return pprof__function(p, l->lines[0].function_id)->name;
}

/* ---- round trip through our own encoder ----------------------------------- */

static struct pprof *build_sample_profile(void)
{
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 10101010,
							     .time_nanos = 1700000000123456789LL });
	__u64 m1, m2, f1, f2, f3, l1, l2, l3, l4;
	struct pprof_line inl[2];
	struct pprof_label labels[3] = {
		{ .key = "pid", .str = "42" },
		{ .key = "comm", .str = "a&b<c>" },
		{ .key = "bytes", .num = 4096, .num_unit = "bytes" },
	};

	if (!p)
		return NULL;
	m1 = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0x1000, .limit = 0x9000,
				.offset = 0x1000, .filename = "/bin/x", .build_id = "abcd",
				.has_functions = true, .has_line_numbers = true });
	m2 = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0xffffffff81000000ULL,
				.limit = 0xffffffff82000000ULL, .filename = "[kernel.kallsyms]" });
	f1 = pprof__add_function(p, &(struct pprof_function){ .name = "main", .filename = "x.c",
				 .start_line = 3 });
	f2 = pprof__add_function(p, &(struct pprof_function){ .name = "ns::f<int>()",
				 .system_name = "_ZN2ns1fIiEEvv", .filename = "x.cc" });
	f3 = pprof__add_function(p, &(struct pprof_function){ .name = "vfs_read" });
	inl[0] = (struct pprof_line){ .function_id = f2, .line = 12 };
	inl[1] = (struct pprof_line){ .function_id = f1, .line = 7 };
	l1 = pprof__add_location(p, m1, 0x1234, inl, 2);
	l2 = pprof__add_location(p, m1, 0x2000, &inl[1], 1);
	l3 = pprof__add_location(p, m2, 0xffffffff81000010ULL,
				 &(struct pprof_line){ .function_id = f3 }, 1);
	l4 = pprof__add_location(p, m1, 0x3000, NULL, 0);
	if (!m1 || !m2 || !f1 || !f2 || !f3 || !l1 || !l2 || !l3 || !l4)
		goto fail;
	if (pprof__add_sample(p, (__u64[]){ l1, l2 }, 2, 7, labels, 3) ||
	    pprof__add_sample(p, (__u64[]){ l3, l4, l2 }, 3, 5, labels, 2) ||
	    pprof__add_sample(p, (__u64[]){ l2 }, 1, 1, NULL, 0) ||
	    pprof__set_duration(p, 5000000000ULL) || pprof__add_comment(p, "lost 3 samples"))
		goto fail;
	return p;
fail:
	pprof__free(p);
	return NULL;
}

static int compare_profiles(const struct pprof *a, const struct pprof *b)
{
	ASSERT_EQ(pprof__num_samples(a), pprof__num_samples(b));
	ASSERT_EQ(pprof__total_count(a), pprof__total_count(b));
	ASSERT_UEQ(pprof__period_ns(a), pprof__period_ns(b));
	ASSERT_EQ(pprof__time_nanos(a), pprof__time_nanos(b));
	ASSERT_EQ(pprof__duration_ns(a), pprof__duration_ns(b));
	for (size_t i = 0; i < pprof__num_samples(a); i++) {
		const struct pprof_sample *x = pprof__sample(a, i), *y = pprof__sample(b, i);

		ASSERT_EQ(x->count, y->count);
		ASSERT_EQ(x->n_locations, y->n_locations);
		ASSERT_EQ(x->n_labels, y->n_labels);
		for (size_t j = 0; j < x->n_labels; j++) {
			ASSERT_STREQ(x->labels[j].key, y->labels[j].key);
			ASSERT_TRUE(!x->labels[j].str == !y->labels[j].str);
			if (x->labels[j].str)
				ASSERT_STREQ(x->labels[j].str, y->labels[j].str);
			ASSERT_EQ(x->labels[j].num, y->labels[j].num);
		}
		for (size_t j = 0; j < x->n_locations; j++) {
			const struct pprof_location *la = pprof__location(a, x->location_ids[j]);
			const struct pprof_location *lb = pprof__location(b, y->location_ids[j]);

			ASSERT_UEQ(la->address, lb->address);
			ASSERT_EQ(la->n_lines, lb->n_lines);
			ASSERT_TRUE(!la->mapping_id == !lb->mapping_id);
			if (la->mapping_id) {
				const struct pprof_mapping *ma = pprof__mapping(a, la->mapping_id);
				const struct pprof_mapping *mb = pprof__mapping(b, lb->mapping_id);

				ASSERT_UEQ(ma->start, mb->start);
				ASSERT_UEQ(ma->limit, mb->limit);
				ASSERT_UEQ(ma->offset, mb->offset);
				ASSERT_STREQ(ma->filename, mb->filename);
				ASSERT_TRUE(!ma->build_id == !mb->build_id);
				ASSERT_EQ(ma->has_functions, mb->has_functions);
			}
			for (size_t k = 0; k < la->n_lines; k++) {
				const struct pprof_function *fa = pprof__function(a, la->lines[k].function_id);
				const struct pprof_function *fb = pprof__function(b, lb->lines[k].function_id);

				ASSERT_EQ(la->lines[k].line, lb->lines[k].line);
				ASSERT_STREQ(fa->name, fb->name);
				ASSERT_TRUE(!fa->system_name == !fb->system_name);
				if (fa->system_name)
					ASSERT_STREQ(fa->system_name, fb->system_name);
				ASSERT_TRUE(!fa->filename == !fb->filename);
				ASSERT_EQ(fa->start_line, fb->start_line);
			}
		}
	}
	return 0;
}

TEST(round_trip)
{
	struct pprof *p = build_sample_profile(), *back;
	struct pprof_decode_info info;
	void *buf;
	size_t len;

	ASSERT_TRUE(p);
	for (int gzip = 0; gzip <= 1; gzip++) {
		ASSERT_EQ(pprof__encode(p, gzip, &buf, &len), 0);
		back = pprof__decode(buf, len, NULL, &info);
		free(buf);
		if (!back)
			TEST_FAIL("decode: %s", info.error);
		ASSERT_STREQ(info.sample_type, "samples");
		ASSERT_STREQ(info.sample_unit, "count");
		ASSERT_TRUE(compare_profiles(p, back) == 0);
		ASSERT_TRUE(check_consistent(back) == 0);
		pprof__free(back);
	}
	pprof__free(p);
	return 0;
}

/* ---- fixtures from independent writers ------------------------------------ */

static int check_parca_style(const char *name)
{
	char path[512];
	struct pprof_decode_info info;
	const struct pprof_sample *s;
	const struct pprof_location *l;
	const struct pprof_mapping *m;
	struct pprof *p;
	void *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
	ASSERT_EQ(read_file(path, &buf, &len), 0);
	p = pprof__decode(buf, len, NULL, &info);
	free(buf);
	if (!p)
		TEST_FAIL("%s: %s", name, info.error);
	ASSERT_TRUE(check_consistent(p) == 0);
	ASSERT_STREQ(info.sample_type, "samples");
	ASSERT_EQ(pprof__num_samples(p), 4);
	ASSERT_EQ(pprof__total_count(p), 100);
	ASSERT_UEQ(pprof__period_ns(p), 52631578);
	ASSERT_EQ(pprof__time_nanos(p), 1700000000000000000LL);
	ASSERT_EQ(pprof__duration_ns(p), 10000000000LL);

	/* Sample 1: two kernel frames over two unsymbolized user frames. */
	s = pprof__sample(p, 0);
	ASSERT_EQ(s->count, 30);
	ASSERT_EQ(s->n_locations, 4);
	ASSERT_STREQ(leaf_name(p, s, 0), "ksys_read");
	ASSERT_STREQ(leaf_name(p, s, 1), "do_syscall_64");
	l = pprof__location(p, s->location_ids[0]);
	m = pprof__mapping(p, l->mapping_id);
	ASSERT_STREQ(m->filename, "[kernel.kallsyms]");
	ASSERT_UEQ(l->address, 0xffffffff81002000ULL);
	l = pprof__location(p, s->location_ids[2]);
	ASSERT_EQ(l->n_lines, 0);
	ASSERT_UEQ(l->address, 0x401000);
	m = pprof__mapping(p, l->mapping_id);
	ASSERT_STREQ(m->filename, "/usr/bin/app");
	ASSERT_STREQ(m->build_id, "b00c0ffee0b00c0ffee0b00c0ffee0b00c0ffee0");
	/* Labels: Go's encoder writes string labels, then numeric ones. */
	ASSERT_EQ(s->n_labels, 2);
	ASSERT_STREQ(s->labels[0].key, "comm");
	ASSERT_STREQ(s->labels[0].str, "app");
	ASSERT_STREQ(s->labels[1].key, "pid");
	ASSERT_TRUE(!s->labels[1].str);
	ASSERT_EQ(s->labels[1].num, 100);

	/* Symbolized by a server: no address, no mapping, hostile names, an inlined frame. */
	s = pprof__sample(p, 2);
	ASSERT_EQ(s->count, 15);
	ASSERT_STREQ(leaf_name(p, s, 0),
		     "std::vector<std::pair<int, char>>::push_back(std::pair<int, char> const&)");
	l = pprof__location(p, s->location_ids[0]);
	ASSERT_UEQ(l->address, 0);
	ASSERT_UEQ(l->mapping_id, 0);
	ASSERT_EQ(l->lines[0].line, 1290);
	ASSERT_STREQ(pprof__function(p, l->lines[0].function_id)->system_name,
		     "_ZNSt6vectorISt4pairIicEE9push_backERKS1_");
	l = pprof__location(p, s->location_ids[1]);
	ASSERT_EQ(l->n_lines, 2);
	ASSERT_STREQ(pprof__function(p, l->lines[0].function_id)->name,
		     "operator&&<\"quoted\" & 'single'>");
	ASSERT_STREQ(pprof__function(p, l->lines[1].function_id)->name, "main");
	s = pprof__sample(p, 3);
	ASSERT_EQ(s->count, 5);
	ASSERT_STREQ(leaf_name(p, s, 0), "<alloc::vec::Vec<T> as core::ops::Drop>::drop");
	/* Address-less locations stay distinct although they share (mapping 0, address 0). */
	ASSERT_TRUE(pprof__sample(p, 2)->location_ids[0] != pprof__sample(p, 3)->location_ids[0]);
	pprof__free(p);
	return 0;
}

TEST(parca_style_fixture)
{
	ASSERT_TRUE(check_parca_style("parca_style.pb.gz") == 0);
	ASSERT_TRUE(check_parca_style("parca_style.pb") == 0);
	return 0;
}

TEST(go_runtime_fixture)
{
	struct pprof_decode_info info;
	bool saw_a = false, saw_b = false;
	struct pprof *p;
	void *buf;
	size_t len;

	ASSERT_EQ(read_file(FIXTURE_DIR "/go_cpu.pb.gz", &buf, &len), 0);
	p = pprof__decode(buf, len, NULL, &info);
	free(buf);
	if (!p)
		TEST_FAIL("go_cpu.pb.gz: %s", info.error);
	ASSERT_TRUE(check_consistent(p) == 0);
	/* Go writes [samples/count, cpu/nanoseconds]: the count is the one read. */
	ASSERT_STREQ(info.sample_type, "samples");
	ASSERT_STREQ(info.sample_unit, "count");
	ASSERT_UEQ(pprof__period_ns(p), 10000000); /* 100 Hz */
	ASSERT_TRUE(pprof__total_count(p) >= 100);
	for (size_t i = 0; i < pprof__num_samples(p); i++) {
		const struct pprof_sample *s = pprof__sample(p, i);

		for (size_t j = 0; j < s->n_locations; j++) {
			const struct pprof_location *l = pprof__location(p, s->location_ids[j]);

			for (size_t k = 0; k < l->n_lines; k++) {
				const struct pprof_function *f = pprof__function(p, l->lines[k].function_id);

				if (strcmp(f->name, "main.hotA") == 0 || strcmp(f->name, "main.hotB") == 0) {
					ASSERT_TRUE(f->filename && strstr(f->filename, "main.go"));
					*(f->name[8] == 'A' ? &saw_a : &saw_b) = true;
				}
			}
		}
	}
	ASSERT_TRUE(saw_a && saw_b);
	pprof__free(p);
	return 0;
}

/* ---- hand-made messages ------------------------------------------------------- */

/*
 * A small valid profile built with protobuf-c directly, so a test can break
 * one field at a time: strings "" samples count cpu nanoseconds f g /x.
 */
struct msg {
	Perftools__Profiles__Profile prof;
	Perftools__Profiles__ValueType st[2], *stp[2];
	Perftools__Profiles__Mapping map, *mapp[1];
	Perftools__Profiles__Function fn[2], *fnp[2];
	Perftools__Profiles__Line line[3], *linep[3];
	Perftools__Profiles__Location loc[3], *locp[3];
	Perftools__Profiles__Sample smp[2], *smpp[2];
	Perftools__Profiles__Label lab[2], *labp[2];
	uint64_t ids0[2], ids1[1];
	int64_t vals0[2], vals1[2];
	char *strs[8];
};

static void msg_init(struct msg *m)
{
	static const char *const strs[8] = { "", "samples", "count", "cpu", "nanoseconds",
					     "f", "g", "/x" };

	memset(m, 0, sizeof(*m));
	perftools__profiles__profile__init(&m->prof);
	for (int i = 0; i < 8; i++)
		m->strs[i] = (char *)strs[i];
	m->prof.n_string_table = 8;
	m->prof.string_table = m->strs;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&m->st[i]);
		m->stp[i] = &m->st[i];
	}
	m->st[0].type = 1, m->st[0].unit = 2;
	m->st[1].type = 3, m->st[1].unit = 4;
	m->prof.n_sample_type = 2;
	m->prof.sample_type = m->stp;
	m->prof.period = 1000;

	perftools__profiles__mapping__init(&m->map);
	m->map.id = 7, m->map.memory_start = 0x1000, m->map.memory_limit = 0x2000;
	m->map.filename = 7;
	m->mapp[0] = &m->map;
	m->prof.n_mapping = 1, m->prof.mapping = m->mapp;

	for (int i = 0; i < 2; i++) {
		perftools__profiles__function__init(&m->fn[i]);
		m->fn[i].id = 20 - i; /* sparse and descending on purpose */
		m->fn[i].name = 5 + i;
		m->fnp[i] = &m->fn[i];
	}
	m->prof.n_function = 2, m->prof.function = m->fnp;

	for (int i = 0; i < 3; i++) {
		perftools__profiles__line__init(&m->line[i]);
		m->linep[i] = &m->line[i];
		perftools__profiles__location__init(&m->loc[i]);
		m->locp[i] = &m->loc[i];
		m->loc[i].id = 100 + i;
		m->loc[i].n_line = 1;
		m->loc[i].line = &m->linep[i];
	}
	/* Locations 100 and 101: same (no mapping, address 0), different functions. */
	m->line[0].function_id = 20, m->line[0].line = 1;
	m->line[1].function_id = 19, m->line[1].line = 2;
	m->line[2].function_id = 20;
	m->loc[2].mapping_id = 7, m->loc[2].address = 0x1100;
	m->prof.n_location = 3, m->prof.location = m->locp;

	for (int i = 0; i < 2; i++) {
		perftools__profiles__sample__init(&m->smp[i]);
		m->smpp[i] = &m->smp[i];
		perftools__profiles__label__init(&m->lab[i]);
		m->labp[i] = &m->lab[i];
	}
	m->ids0[0] = 100, m->ids0[1] = 102;
	m->smp[0].n_location_id = 2, m->smp[0].location_id = m->ids0;
	m->vals0[0] = 3, m->vals0[1] = 3000;
	m->smp[0].n_value = 2, m->smp[0].value = m->vals0;
	m->lab[0].key = 5, m->lab[0].str = 6;
	m->lab[1].key = 0, m->lab[1].str = 6; /* empty key: skipped */
	m->smp[0].n_label = 2, m->smp[0].label = m->labp;
	m->ids1[0] = 101;
	m->smp[1].n_location_id = 1, m->smp[1].location_id = m->ids1;
	m->vals1[0] = 4, m->vals1[1] = 4000;
	m->smp[1].n_value = 2, m->smp[1].value = m->vals1;
	m->prof.n_sample = 2, m->prof.sample = m->smpp;
}

/* Packs m and decodes it; *err gets -errno on failure. */
static struct pprof *msg_decode(struct msg *m, const struct pprof_decode_opts *opts,
				struct pprof_decode_info *info)
{
	size_t len = perftools__profiles__profile__get_packed_size(&m->prof);
	uint8_t *buf = malloc(len + 1);
	struct pprof *p;

	if (!buf)
		return NULL;
	perftools__profiles__profile__pack(&m->prof, buf);
	p = pprof__decode(buf, len, opts, info);
	free(buf);
	return p;
}

TEST(hand_made_valid)
{
	struct pprof_decode_info info;
	const struct pprof_sample *s;
	struct msg m;
	struct pprof *p;

	msg_init(&m);
	p = msg_decode(&m, NULL, &info);
	if (!p)
		TEST_FAIL("%s", info.error);
	ASSERT_TRUE(check_consistent(p) == 0);
	ASSERT_EQ(pprof__num_samples(p), 2);
	ASSERT_EQ(pprof__total_count(p), 7);
	ASSERT_EQ(info.labels_skipped, 1);
	s = pprof__sample(p, 0);
	ASSERT_EQ(s->n_labels, 1);
	ASSERT_STREQ(s->labels[0].key, "f");
	ASSERT_STREQ(leaf_name(p, s, 0), "f");
	ASSERT_STREQ(pprof__mapping(p, pprof__location(p, s->location_ids[1])->mapping_id)->filename,
		     "/x");
	ASSERT_STREQ(leaf_name(p, pprof__sample(p, 1), 0), "g");
	pprof__free(p);

	/* Picking another value by name. */
	p = msg_decode(&m, &(struct pprof_decode_opts){ .sample_type = "cpu" }, &info);
	ASSERT_TRUE(p);
	ASSERT_EQ(pprof__total_count(p), 7000);
	ASSERT_STREQ(info.sample_unit, "nanoseconds");
	pprof__free(p);
	p = msg_decode(&m, &(struct pprof_decode_opts){ .sample_type = "wall" }, &info);
	ASSERT_TRUE(!p);
	ASSERT_TRUE(strstr(info.error, "\"wall\""));

	/* Without a count unit: default_sample_type, else the last. */
	m.st[0].unit = 4;
	p = msg_decode(&m, NULL, &info);
	ASSERT_TRUE(p);
	ASSERT_STREQ(info.sample_type, "cpu");
	pprof__free(p);
	m.prof.default_sample_type = 1;
	p = msg_decode(&m, NULL, &info);
	ASSERT_TRUE(p);
	ASSERT_STREQ(info.sample_type, "samples");
	ASSERT_EQ(pprof__total_count(p), 7);
	pprof__free(p);

	/* Non-positive values are skipped and counted; an empty name is filled in. */
	msg_init(&m);
	m.vals1[0] = 0;
	m.vals0[0] = -5;
	m.fn[1].name = 0;
	p = msg_decode(&m, NULL, &info);
	ASSERT_TRUE(p);
	ASSERT_EQ(pprof__num_samples(p), 0);
	ASSERT_EQ(info.samples_skipped, 2);
	pprof__free(p);
	return 0;
}

/* Breaks rule i of the hand-made message; returns the error expected, NULL past the last. */
static const char *break_msg(size_t i, struct msg *m)
{
	switch (i) {
	case 0:
		m->fn[0].name = 99;
		return "function 20 names a string";
	case 1:
		m->map.filename = -1;
		return "mapping 7 names a string";
	case 2:
		m->prof.n_sample_type = 0;
		return "no sample types";
	case 3:
		m->strs[0] = "x";
		return "string table";
	case 4:
		m->fn[1].id = 20;
		return "two functions have id 20";
	case 5:
		m->loc[1].id = 0;
		return "location 2 has id 0";
	case 6:
		m->line[1].function_id = 5;
		return "refers to function 5";
	case 7:
		m->loc[0].mapping_id = 8;
		return "refers to mapping 8";
	case 8:
		m->ids0[1] = 999;
		return "refers to location 999";
	case 9:
		m->smp[1].n_value = 1;
		return "sample 2 has 1 values for 2";
	case 10:
		m->st[1].unit = 8;
		return "sample type 2";
	case 11:
		m->lab[0].str = 77;
		return "label of sample 1";
	case 12:
		m->vals0[0] = INT64_MAX;
		m->vals1[0] = 2;
		return "more than 2^63";
	default:
		return NULL;
	}
}

TEST(hand_made_invalid)
{
	struct pprof_decode_info info;
	const char *want;
	struct msg m;

	for (size_t i = 0;; i++) {
		struct pprof *p;

		msg_init(&m);
		want = break_msg(i, &m);
		if (!want)
			break;
		errno = 0;
		p = msg_decode(&m, NULL, &info);
		if (p) {
			pprof__free(p);
			TEST_FAIL("case %zu (%s): decoded", i, want);
		}
		ASSERT_TRUE(errno == EINVAL || errno == EOVERFLOW);
		if (!strstr(info.error, want))
			TEST_FAIL("case %zu: error \"%s\", want \"%s\"", i, info.error, want);
	}
	return 0;
}

/* ---- compression ----------------------------------------------------------- */

static int deflate_buf(const void *in, size_t len, int window_bits, void **out, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = len + 1024;

	*out = malloc(cap);
	if (!*out || deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	zs.next_in = (void *)in;
	zs.avail_in = len;
	zs.next_out = *out;
	zs.avail_out = cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		return -1;
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return 0;
}

TEST(compression)
{
	struct pprof *p = build_sample_profile(), *back;
	struct pprof_decode_info info;
	void *raw, *z, *two;
	size_t raw_len, z_len;

	ASSERT_TRUE(p);
	ASSERT_EQ(pprof__encode(p, false, &raw, &raw_len), 0);

	/* zlib-wrapped */
	ASSERT_EQ(deflate_buf(raw, raw_len, 15, &z, &z_len), 0);
	back = pprof__decode(z, z_len, NULL, &info);
	ASSERT_TRUE(back && compare_profiles(p, back) == 0);
	pprof__free(back);
	free(z);

	/* Two gzip members, as `cat a.gz b.gz` makes: read as one stream. */
	ASSERT_EQ(deflate_buf(raw, raw_len / 2, 31, &z, &z_len), 0);
	{
		void *z2;
		size_t z2_len;

		ASSERT_EQ(deflate_buf((char *)raw + raw_len / 2, raw_len - raw_len / 2, 31, &z2,
				      &z2_len), 0);
		two = malloc(z_len + z2_len);
		ASSERT_TRUE(two);
		memcpy(two, z, z_len);
		memcpy((char *)two + z_len, z2, z2_len);
		back = pprof__decode(two, z_len + z2_len, NULL, &info);
		if (!back)
			TEST_FAIL("two members: %s", info.error);
		ASSERT_TRUE(compare_profiles(p, back) == 0);
		pprof__free(back);

		/* Trailing garbage after a member is an error, not ignored. */
		memcpy((char *)two + z_len, "garbage", 7);
		back = pprof__decode(two, z_len + 7, NULL, &info);
		ASSERT_TRUE(!back);
		ASSERT_TRUE(strstr(info.error, "trailing garbage"));
		free(z2);
		free(two);
	}
	free(z);

	/* The size cap holds for compressed and raw input. */
	ASSERT_EQ(pprof__encode(p, true, &z, &z_len), 0);
	back = pprof__decode(z, z_len, &(struct pprof_decode_opts){ .max_bytes = raw_len - 1 },
			     &info);
	ASSERT_TRUE(!back && errno == EFBIG);
	ASSERT_TRUE(strstr(info.error, "larger than"));
	back = pprof__decode(z, z_len, &(struct pprof_decode_opts){ .max_bytes = raw_len }, &info);
	ASSERT_TRUE(back);
	pprof__free(back);
	back = pprof__decode(raw, raw_len, &(struct pprof_decode_opts){ .max_bytes = 10 }, &info);
	ASSERT_TRUE(!back && errno == EFBIG);
	free(z);
	free(raw);
	pprof__free(p);
	return 0;
}

/* ---- garbage ----------------------------------------------------------------- */

static int decode_garbage(const void *buf, size_t len)
{
	struct pprof_decode_info info;
	struct pprof *p;

	errno = 0;
	p = pprof__decode(buf, len, NULL, &info);
	if (p) {
		int err = check_consistent(p);

		pprof__free(p);
		return err;
	}
	ASSERT_TRUE(errno != 0);
	ASSERT_TRUE(info.error[0] != '\0');
	return 0;
}

TEST(garbage)
{
	static const char *const texts[] = {
		"", "hello, world\n", "\x1f\x8b", "\x1f\x8b\x08\x00garbage",
		"#!/bin/sh\nexit 0\n", "\x0a\xff\xff\xff\xff\x0f",
	};
	struct pprof *p = build_sample_profile();
	struct pprof_decode_info info;
	void *raw, *gz;
	size_t raw_len, gz_len;
	unsigned char *copy;

	ASSERT_TRUE(p);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		errno = 0;
		ASSERT_TRUE(!pprof__decode(texts[i], strlen(texts[i]), NULL, &info));
		ASSERT_TRUE(errno == EINVAL);
		ASSERT_TRUE(info.error[0]);
	}
	ASSERT_EQ(pprof__encode(p, false, &raw, &raw_len), 0);
	ASSERT_EQ(pprof__encode(p, true, &gz, &gz_len), 0);
	copy = malloc(raw_len > gz_len ? raw_len : gz_len);
	ASSERT_TRUE(copy);

	/* Every truncation of both encodings. */
	for (size_t n = 0; n < raw_len; n++)
		ASSERT_TRUE(decode_garbage(raw, n) == 0);
	for (size_t n = 0; n < gz_len; n++) {
		ASSERT_TRUE(decode_garbage(gz, n) == 0);
		ASSERT_TRUE(!pprof__decode(gz, n, NULL, &info));
	}
	/* Bit flips and byte stomps at every position of the raw message. */
	for (size_t i = 0; i < raw_len; i++) {
		static const unsigned char patterns[] = { 0x01, 0x80, 0xff, 0x7f };

		for (size_t k = 0; k < sizeof(patterns); k++) {
			memcpy(copy, raw, raw_len);
			copy[i] ^= patterns[k];
			ASSERT_TRUE(decode_garbage(copy, raw_len) == 0);
		}
	}
	/* And in the gzip stream: CRC or inflate errors, never a crash. */
	for (size_t i = 0; i < gz_len; i++) {
		memcpy(copy, gz, gz_len);
		copy[i] ^= 0x55;
		ASSERT_TRUE(decode_garbage(copy, gz_len) == 0);
	}
	free(copy);
	free(raw);
	free(gz);
	pprof__free(p);
	return 0;
}

int main(void)
{
	RUN(round_trip);
	RUN(parca_style_fixture);
	RUN(go_runtime_fixture);
	RUN(hand_made_valid);
	RUN(hand_made_invalid);
	RUN(compression);
	RUN(garbage);
	return test_summary();
}
