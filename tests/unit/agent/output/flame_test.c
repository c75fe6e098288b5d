// SPDX-License-Identifier: Apache-2.0
/*
 * Flame graphs from a known set of stacks: the merged tree (counts, order,
 * kinds, lines), the folded text, and the SVG's frames with their exact
 * positions and widths; escaping of hostile names; merging of narrow frames
 * and the byte budget; icicle layout; the depth cap.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "flame.h"
#include "flamegraph.h"
#include "output.h"
#include "pprof.h"
#include "test.h"
#include "top.h"

struct fx {
	struct pprof *p;
	__u64 m_app, m_kernel, m_jit;
};

static __u64 fn(struct pprof *p, const char *name, const char *file)
{
	return pprof__add_function(p, &(struct pprof_function){ .name = name, .filename = file });
}

static __u64 loc(struct fx *x, __u64 mapping, __u64 addr, const char *name, __s64 line)
{
	struct pprof_line l = { .function_id = fn(x->p, name, "app.c"), .line = line };

	return pprof__add_location(x->p, mapping, addr, &l, 1);
}

static int add(struct fx *x, const char *comm, __s64 count, size_t n, const __u64 *leaf_first)
{
	struct pprof_label label = { .key = "comm", .str = comm };

	return pprof__add_sample(x->p, leaf_first, n, count, &label, comm ? 1 : 0);
}

/*
 * Stacks, root first (the sample stores them leaf first):
 *   app:   main;a;x         5      app: main;b;read;sys_read[k] 4
 *   app:   main;a;y         3      app: main;jitted_fn[j]        1
 *   app:   main;b           2      app: main;[unknown]           1
 *   other: main;a           6      other: main;outer;inlined     2 (one location, two lines)
 */
static int build_fixture(struct fx *x)
{
	__u64 main_, a, b, xx, y, rd, sys, jit, unk, main2, inl;
	struct pprof_line lines[2];
	int err = 0;

	x->p = pprof__new(&(struct pprof_opts){ .period_ns = 1000000 });
	ASSERT_TRUE(x->p);
	x->m_app = pprof__add_mapping(x->p, &(struct pprof_mapping){ .start = 0x1000, .limit = 0x9000,
				      .filename = "/usr/bin/app" });
	x->m_kernel = pprof__add_mapping(x->p, &(struct pprof_mapping){
		.start = 0xffffffff81000000ULL, .limit = 0xffffffff82000000ULL,
		.filename = "[kernel.kallsyms]" });
	x->m_jit = pprof__add_mapping(x->p, &(struct pprof_mapping){ .start = 0x7f0000000000ULL,
				      .limit = 0x7f0000100000ULL, .filename = "/tmp/perf-123.map" });
	main_ = loc(x, x->m_app, 0x1100, "main", 10);
	main2 = loc(x, x->m_app, 0x1104, "main", 14); /* same function, another line */
	a = loc(x, x->m_app, 0x1200, "a", 20);
	b = loc(x, x->m_app, 0x1300, "b", 30);
	xx = loc(x, x->m_app, 0x1400, "x", 40);
	y = loc(x, x->m_app, 0x1500, "y", 50);
	rd = loc(x, x->m_app, 0x1600, "read", 0);
	sys = loc(x, x->m_kernel, 0xffffffff81000100ULL, "sys_read", 0);
	jit = loc(x, x->m_jit, 0x7f0000000100ULL, "jitted_fn", 0);
	unk = pprof__add_location(x->p, x->m_app, 0x1700, NULL, 0);
	lines[0] = (struct pprof_line){ .function_id = fn(x->p, "inlined", "app.c"), .line = 61 };
	lines[1] = (struct pprof_line){ .function_id = fn(x->p, "outer", "app.c"), .line = 60 };
	inl = pprof__add_location(x->p, x->m_app, 0x1800, lines, 2);
	ASSERT_TRUE(main_ && main2 && a && b && xx && y && rd && sys && jit && unk && inl);
	err = add(x, "app", 5, 3, (__u64[]){ xx, a, main_ }) ?:
	      add(x, "app", 3, 3, (__u64[]){ y, a, main2 }) ?:
	      add(x, "app", 2, 2, (__u64[]){ b, main_ }) ?:
	      add(x, "app", 4, 4, (__u64[]){ sys, rd, b, main_ }) ?:
	      add(x, "app", 1, 2, (__u64[]){ jit, main_ }) ?:
	      add(x, "app", 1, 2, (__u64[]){ unk, main_ }) ?:
	      add(x, "other", 6, 2, (__u64[]){ a, main_ }) ?:
	      add(x, "other", 2, 2, (__u64[]){ inl, main_ });
	ASSERT_EQ(err, 0);
	return 0;
}

/* The child of parent named name, or NULL. */
static const struct flame_node *find_child(const struct flame *f, const struct flame_node *parent,
					   const char *name)
{
	for (size_t c = parent->first_child; c != FLAME_NONE; c = flame__node(f, c)->next_sibling)
		if (strcmp(flame__node(f, c)->name, name) == 0)
			return flame__node(f, c);
	return NULL;
}

static const struct flame_node *find_path(const struct flame *f, const char *const *path)
{
	const struct flame_node *nd = flame__node(f, 0);

	for (; nd && *path; path++)
		nd = find_child(f, nd, *path);
	return nd;
}

#define PATH(...) ((const char *const[]){ __VA_ARGS__, NULL })

TEST(tree)
{
	const struct flame_node *nd;
	struct flame_stats st;
	struct flame *f;
	struct fx x;
	const char *order[8];
	size_t n = 0;

	ASSERT_EQ(build_fixture(&x), 0);
	f = flame__new(x.p, NULL);
	ASSERT_TRUE(f);
	flame__stats(f, &st);
	ASSERT_EQ(st.total, 24);
	ASSERT_EQ(flame__node(f, 0)->total, 24);
	/* all, 2 processes, app: main a x y b read sys_read jitted_fn [unknown], other: main a outer inlined */
	ASSERT_EQ(st.nodes, 1 + 2 + 9 + 4);
	ASSERT_EQ(st.depth, 5); /* all > app > main > b > read > sys_read */

	nd = find_path(f, PATH("app"));
	ASSERT_TRUE(nd && nd->kind == FLAME_PROCESS && nd->total == 16 && nd->self == 0);
	nd = find_path(f, PATH("app", "main"));
	ASSERT_TRUE(nd && nd->total == 16 && nd->self == 0 && nd->kind == FLAME_NATIVE);
	ASSERT_EQ(nd->line_min, 10);
	ASSERT_EQ(nd->line_max, 14);
	ASSERT_STREQ(nd->file, "app.c");
	/* Children sorted by name: [unknown] < a < b < jitted_fn (byte order). */
	for (size_t c = nd->first_child; c != FLAME_NONE; c = flame__node(f, c)->next_sibling)
		order[n++] = flame__node(f, c)->name;
	ASSERT_EQ(n, 4);
	ASSERT_STREQ(order[0], "[unknown]");
	ASSERT_STREQ(order[1], "a");
	ASSERT_STREQ(order[2], "b");
	ASSERT_STREQ(order[3], "jitted_fn");
	nd = find_path(f, PATH("app", "main", "a"));
	ASSERT_TRUE(nd && nd->total == 8 && nd->self == 0);
	nd = find_path(f, PATH("app", "main", "a", "x"));
	ASSERT_TRUE(nd && nd->total == 5 && nd->self == 5 && nd->depth == 4);
	nd = find_path(f, PATH("app", "main", "b"));
	ASSERT_TRUE(nd && nd->total == 6 && nd->self == 2);
	nd = find_path(f, PATH("app", "main", "b", "read", "sys_read"));
	ASSERT_TRUE(nd && nd->total == 4 && nd->kind == FLAME_KERNEL);
	nd = find_path(f, PATH("app", "main", "jitted_fn"));
	ASSERT_TRUE(nd && nd->total == 1 && nd->kind == FLAME_JIT);
	nd = find_path(f, PATH("app", "main", "[unknown]"));
	ASSERT_TRUE(nd && nd->kind == FLAME_UNKNOWN);
	ASSERT_STREQ(nd->file, "/usr/bin/app");
	/* Inlined: the outer function is the caller of the inlined one. */
	nd = find_path(f, PATH("other", "main", "outer", "inlined"));
	ASSERT_TRUE(nd && nd->total == 2 && nd->line_min == 61);
	ASSERT_TRUE(find_path(f, PATH("other", "main", "a"))->total == 6);
	flame__free(f);

	/* Without the process level. */
	f = flame__new(x.p, &(struct flame_opts){ .no_process = true });
	ASSERT_TRUE(f);
	nd = find_path(f, PATH("main", "a"));
	ASSERT_TRUE(nd && nd->total == 14);
	ASSERT_TRUE(find_path(f, PATH("main"))->total == 24);
	flame__free(f);
	pprof__free(x.p);
	return 0;
}

/* The kinds as fornax's own symbolizer names mappings. */
TEST(location_kinds)
{
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 1 });
	static const struct {
		const char *mapping;
		__u64 address;
		bool symbolized;
		enum flame_kind kind;
	} cases[] = {
		{ "[anon]", 0x7f0000000100ULL, true, FLAME_JIT },
		{ "/tmp/perf-42.map", 0x7f0000000100ULL, true, FLAME_JIT },
		{ "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000100ULL, true, FLAME_NATIVE },
		{ "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000000200ULL, false, FLAME_UNKNOWN },
		{ "[kernel.kallsyms]", 0xffffffff81000100ULL, true, FLAME_KERNEL },
		{ "[vdso]", 0x7fff00000100ULL, true, FLAME_NATIVE },
		{ "[python]", 0, true, FLAME_PYTHON },
		{ "[python]", 0x7f0000000300ULL, true, FLAME_PYTHON },
	};

	ASSERT_TRUE(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 m = pprof__add_mapping(p, &(struct pprof_mapping){
			.start = cases[i].address & ~0xfffULL, .limit = (cases[i].address | 0xfff) + 1,
			.filename = cases[i].mapping });
		struct pprof_line line = { .function_id = fn(p, "f", NULL), .line = 1 };
		__u64 id = pprof__add_location(p, m, cases[i].address, &line,
					       cases[i].symbolized ? 1 : 0);

		ASSERT_TRUE(m && id);
		if (flame__location_kind(p, pprof__location(p, id)) != cases[i].kind)
			TEST_FAIL("%s: kind %d, want %d", cases[i].mapping,
				  flame__location_kind(p, pprof__location(p, id)), cases[i].kind);
	}
	pprof__free(p);
	return 0;
}

TEST(folded)
{
	static const char want[] =
		"app;main;[unknown] 1\n"
		"app;main;a;x 5\n"
		"app;main;a;y 3\n"
		"app;main;b 2\n"
		"app;main;b;read;sys_read_[k] 4\n"
		"app;main;jitted_fn_[j] 1\n"
		"other;main;a 6\n"
		"other;main;outer;inlined 2\n";
	struct fx x;
	char *text;
	size_t len;

	ASSERT_EQ(build_fixture(&x), 0);
	ASSERT_EQ(output__folded(x.p, &text, &len), 0);
	ASSERT_STREQ(text, want);
	ASSERT_EQ(len, strlen(want));
	free(text);
	pprof__free(x.p);
	return 0;
}

/* ---- reading frames back from the SVG ---------------------------------------- */

struct frame {
	long long n;
	char name[128];
	double x, w;
	int y;
};

/* Parses every frame "<g data-n=..><title>NAME&#10;...<rect x= y= width=" in order. */
static size_t parse_frames(const char *svg, struct frame *out, size_t max)
{
	const char *p = strstr(svg, "<g id=\"frames\"");
	size_t n = 0;

	while (p && n < max && (p = strstr(p, "<g data-n=\""))) {
		const char *t, *end;
		struct frame *f = &out[n];

		f->n = strtoll(p + 11, NULL, 10);
		t = strstr(p, "<title>") + 7;
		end = strstr(t, "&#10;");
		snprintf(f->name, sizeof(f->name), "%.*s", (int)(end - t), t);
		t = strstr(p, "<rect x=\"");
		f->x = strtod(t + 9, NULL);
		f->y = atoi(strstr(t, " y=\"") + 4);
		f->w = strtod(strstr(t, " width=\"") + 8, NULL);
		n++;
		p = strstr(p, "</g>");
	}
	return n;
}

static const struct frame *frame_named(const struct frame *fr, size_t n, const char *name, int y)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fr[i].name, name) == 0 && (y < 0 || fr[i].y == y))
			return &fr[i];
	return NULL;
}

#define ASSERT_NEAR(a, b, eps)                                                            \
	do {                                                                              \
		double _a = (a), _b = (b);                                                \
		if (fabs(_a - _b) > (eps))                                                \
			TEST_FAIL("%s == %s: %.4f != %.4f", #a, #b, _a, _b);             \
	} while (0)

TEST(svg_layout)
{
	struct flamegraph_stats st;
	struct frame fr[64];
	const struct frame *f;
	struct fx x;
	char *svg;
	size_t len, n;
	/* width 1210: 1190 px of frames for 24 samples */
	const double px = 1190.0 / 24;
	int height, y_root;

	ASSERT_EQ(build_fixture(&x), 0);
	ASSERT_EQ(flamegraph__svg(x.p, &(struct flamegraph_opts){ .width = 1210, .title = "T" },
				  &svg, &len, &st), 0);
	ASSERT_EQ(strlen(svg), len);
	n = parse_frames(svg, fr, 64);
	ASSERT_EQ(n, 16);
	ASSERT_EQ(st.frames, 16);
	ASSERT_EQ(st.hidden, 0);
	/* Pre-order, children by name: all, app, main, [unknown], a, x, y, b, read, sys_read... */
	ASSERT_STREQ(fr[0].name, "all");
	ASSERT_STREQ(fr[1].name, "app");
	ASSERT_STREQ(fr[2].name, "main");
	ASSERT_STREQ(fr[3].name, "[unknown]");
	ASSERT_STREQ(fr[4].name, "a");
	ASSERT_STREQ(fr[5].name, "x");
	ASSERT_STREQ(fr[15].name, "inlined");

	/* 6 rows deep: height = 56 + 6 * 16 + 40; the root sits on the bottom row. */
	height = 56 + 6 * 16 + 40;
	ASSERT_TRUE(strstr(svg, "height=\"192\""));
	y_root = height - 40 - 16;
	ASSERT_EQ(fr[0].y, y_root);
	ASSERT_EQ(fr[0].n, 24);
	ASSERT_NEAR(fr[0].x, 10, 0.005);
	ASSERT_NEAR(fr[0].w, 1190, 0.005);

	f = frame_named(fr, n, "x", -1);
	ASSERT_TRUE(f && f->n == 5 && f->y == y_root - 4 * 16);
	ASSERT_NEAR(f->x, 10 + 1 * px, 0.005); /* after [unknown] (1) */
	ASSERT_NEAR(f->w, 5 * px, 0.005);
	f = frame_named(fr, n, "y", -1);
	ASSERT_NEAR(f->x, 10 + 6 * px, 0.005);
	ASSERT_NEAR(f->w, 3 * px, 0.005);
	f = frame_named(fr, n, "sys_read", -1);
	ASSERT_TRUE(f && f->n == 4 && f->y == y_root - 5 * 16);
	ASSERT_NEAR(f->x, 10 + 9 * px, 0.005); /* [unknown] 1 + a 8 */
	ASSERT_NEAR(f->w, 4 * px, 0.005);
	f = frame_named(fr, n, "other", -1);
	ASSERT_NEAR(f->x, 10 + 16 * px, 0.005);
	ASSERT_NEAR(f->w, 8 * px, 0.005);
	f = frame_named(fr, n, "inlined", -1);
	ASSERT_NEAR(f->x, 10 + 22 * px, 0.005); /* other's main: a (6) first */
	ASSERT_NEAR(f->w, 2 * px, 0.005);

	/* Tooltips: kind, file:line range, count and share. */
	ASSERT_TRUE(strstr(svg, "<title>main&#10;app.c:10-14&#10;16 samples, 66.67%</title>"));
	ASSERT_TRUE(strstr(svg, "<title>sys_read&#10;kernel · app.c&#10;4 samples, 16.67%</title>"));
	ASSERT_TRUE(strstr(svg, "<title>jitted_fn&#10;JIT · app.c&#10;1 samples, 4.17%</title>"));
	ASSERT_TRUE(strstr(svg, "<title>[unknown]&#10;in /usr/bin/app&#10;1 samples, 4.17%</title>"));
	ASSERT_TRUE(strstr(svg, "<text id=\"title\" x=\"605\" y=\"24\" text-anchor=\"middle\">T</text>"));
	/* Wide frames carry a label; the narrow ones do not. */
	ASSERT_TRUE(strstr(svg, ">main</text>"));
	ASSERT_TRUE(strstr(svg, ">jitt..</text>")); /* 49.6 px: six characters */
	/* Self-contained: no reference to anything outside the file. */
	ASSERT_TRUE(!strstr(svg, "href") && !strstr(svg, "url(") && !strstr(svg, "@import") &&
		    !strstr(svg, "src="));
	free(svg);

	/* Icicle: the root on top, children below. */
	ASSERT_EQ(flamegraph__svg(x.p, &(struct flamegraph_opts){ .width = 1210, .icicle = true },
				  &svg, &len, NULL), 0);
	n = parse_frames(svg, fr, 64);
	ASSERT_EQ(fr[0].y, 56);
	ASSERT_EQ(frame_named(fr, n, "sys_read", -1)->y, 56 + 5 * 16);
	ASSERT_TRUE(strstr(svg, "data-dir=\"1\""));
	free(svg);

	/* Bad options. */
	ASSERT_EQ(flamegraph__svg(x.p, &(struct flamegraph_opts){ .width = 10 }, &svg, &len, NULL),
		  -EINVAL);
	pprof__free(x.p);
	return 0;
}

TEST(escaping)
{
	struct flamegraph_buf b = { 0 };
	struct pprof *p;
	__u64 l1, l2, l3;
	char *svg;
	size_t len;

	ASSERT_EQ(flamegraph__escape(&b, "std::map<K, V>::operator[](K const&)", 0), 36);
	ASSERT_STREQ(b.buf, "std::map&lt;K, V&gt;::operator[](K const&amp;)");
	b.len = 0;
	ASSERT_EQ(flamegraph__escape(&b, "<T as Tr<'a>>::f \"q\"", 0), 20);
	ASSERT_STREQ(b.buf, "&lt;T as Tr&lt;&#39;a&gt;&gt;::f &quot;q&quot;");
	b.len = 0;
	/* Invalid UTF-8, an overlong '/', a surrogate and controls become U+FFFD; valid UTF-8 stays. */
	ASSERT_EQ(flamegraph__escape(&b, "a\xff\xc0\xaf\xed\xa0\x80\x01\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5", 0),
		  10);
	ASSERT_STREQ(b.buf, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5");
	b.len = 0;
	/* Truncation counts characters, never splits one. */
	ASSERT_EQ(flamegraph__escape(&b, "\xc3\xa9\xc3\xa9<\xc3\xa9", 3), 3);
	ASSERT_STREQ(b.buf, "\xc3\xa9\xc3\xa9&lt;");
	free(b.buf);

	/* Hostile names through a whole SVG: nothing raw leaks into markup or the script. */
	p = pprof__new(&(struct pprof_opts){ .period_ns = 1 });
	ASSERT_TRUE(p);
	l1 = pprof__add_location(p, 0, 0x10, &(struct pprof_line){
		.function_id = pprof__add_function(p, &(struct pprof_function){
			.name = "]]></script><script>alert(1)</script>" }) }, 1);
	l2 = pprof__add_location(p, 0, 0x20, &(struct pprof_line){
		.function_id = pprof__add_function(p, &(struct pprof_function){
			.name = "std::vector<std::pair<int, char>>::push_back(std::pair<int, char> const&)",
			.filename = "a&b<c>.h" }), .line = 3 }, 1);
	l3 = pprof__add_location(p, 0, 0x30, &(struct pprof_line){
		.function_id = pprof__add_function(p, &(struct pprof_function){
			.name = "bad\xff\nname" }) }, 1);
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ l1, l2 }, 2, 10, &(struct pprof_label){
		.key = "comm", .str = "x\"><svg onload=alert(1)>" }, 1), 0);
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ l3 }, 1, 10, NULL, 0), 0);
	ASSERT_EQ(flamegraph__svg(p, &(struct flamegraph_opts){ .title = "<b>&\"'" }, &svg, &len,
				  NULL), 0);
	ASSERT_TRUE(!strstr(svg, "<script>alert"));
	ASSERT_TRUE(!strstr(svg, "<svg onload"));
	ASSERT_TRUE(!strstr(svg, "<b>"));
	ASSERT_TRUE(!strstr(svg, "\xff"));
	/* One CDATA end only: the script's own. */
	ASSERT_TRUE(strstr(svg, "]]>") && !strstr(strstr(svg, "]]>") + 3, "]]>"));
	ASSERT_TRUE(strstr(svg, ">&lt;b&gt;&amp;&quot;&#39;</text>"));
	ASSERT_TRUE(strstr(svg, "<title>std::vector&lt;std::pair&lt;int, char&gt;&gt;::push_back("
			   "std::pair&lt;int, char&gt; const&amp;)&#10;a&amp;b&lt;c&gt;.h:3&#10;"));
	ASSERT_TRUE(strstr(svg, "<title>bad\xef\xbf\xbd\xef\xbf\xbdname&#10;"));
	ASSERT_TRUE(strstr(svg, "<title>x&quot;&gt;&lt;svg onload=alert(1)&gt;&#10;process"));
	free(svg);
	pprof__free(p);
	return 0;
}

TEST(narrow_frames_merge)
{
	struct flamegraph_stats st;
	struct frame *fr = calloc(20000, sizeof(*fr));
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 1 });
	__u64 hot, root;
	char name[32], *svg;
	size_t len, n;
	const struct frame *block;

	ASSERT_TRUE(p && fr);
	root = pprof__add_location(p, 0, 1, &(struct pprof_line){
		.function_id = pprof__add_function(p, &(struct pprof_function){ .name = "root" }) }, 1);
	hot = pprof__add_location(p, 0, 2, &(struct pprof_line){
		.function_id = pprof__add_function(p, &(struct pprof_function){ .name = "hot" }) }, 1);
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ hot, root }, 2, 1000000, NULL, 0), 0);
	/* 5000 cold functions of one sample each: 1/1005000 of 1180 px, far under 0.1 px. */
	for (int i = 0; i < 5000; i++) {
		__u64 l;

		snprintf(name, sizeof(name), "cold_%04d", i);
		l = pprof__add_location(p, 0, 100 + i, &(struct pprof_line){
			.function_id = pprof__add_function(p, &(struct pprof_function){ .name = name }) }, 1);
		ASSERT_EQ(pprof__add_sample(p, (__u64[]){ l, root }, 2, 1, NULL, 0), 0);
	}
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ hot }, 1, 5000, NULL, 0), 0); /* keeps things even */
	ASSERT_EQ(flamegraph__svg(p, NULL, &svg, &len, &st), 0);
	n = parse_frames(svg, fr, 20000);
	/* all, hot, root, root;hot and one block for root's 5000 cold children */
	ASSERT_EQ(st.hidden, 5000);
	ASSERT_EQ(n, 5);
	ASSERT_EQ(st.frames, 5);
	block = frame_named(fr, n, "[5000 frames hidden]", -1);
	ASSERT_TRUE(block);
	ASSERT_EQ(block->n, 5000);
	ASSERT_TRUE(strstr(svg, "5000 frames under 0.10 px merged"));
	free(svg);

	/* A byte budget: the narrowest frames go until the rest fit. */
	ASSERT_EQ(flamegraph__svg(p, &(struct flamegraph_opts){ .min_width = 0.0001,
				  .max_bytes = 64 * 1024 }, &svg, &len, &st), 0);
	ASSERT_TRUE(st.hidden > 4000 && st.hidden < 5000);
	ASSERT_TRUE(len < 64 * 1024 + 16 * 1024); /* the budget plus the fixed header */
	ASSERT_TRUE(st.min_width > 0.0001);
	n = parse_frames(svg, fr, 20000);
	ASSERT_EQ(n, st.frames);
	free(svg);
	/* Without a budget worth the name, everything is drawn. */
	ASSERT_EQ(flamegraph__svg(p, &(struct flamegraph_opts){ .min_width = 0.0001,
				  .max_bytes = 64 << 20 }, &svg, &len, &st), 0);
	ASSERT_EQ(st.hidden, 0);
	ASSERT_EQ(st.frames, 5004);
	free(svg);
	free(fr);
	pprof__free(p);
	return 0;
}

TEST(depth_cap)
{
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 1 });
	__u64 ids[50];
	const struct flame_node *nd;
	struct flame_stats st;
	struct flame *f;

	ASSERT_TRUE(p);
	for (int i = 0; i < 50; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		ids[i] = pprof__add_location(p, 0, 10 + i, &(struct pprof_line){
			.function_id = pprof__add_function(p, &(struct pprof_function){ .name = name }) }, 1);
	}
	ASSERT_EQ(pprof__add_sample(p, ids, 50, 3, NULL, 0), 0);
	f = flame__new(p, &(struct flame_opts){ .max_depth = 10 });
	ASSERT_TRUE(f);
	flame__stats(f, &st);
	ASSERT_EQ(st.depth, 10);
	ASSERT_EQ(st.truncated_samples, 3);
	nd = flame__node(f, st.nodes - 1);
	ASSERT_STREQ(nd->name, "[deeper frames not shown]");
	ASSERT_EQ(nd->depth, 10);
	ASSERT_EQ(nd->total, 3);
	ASSERT_STREQ(flame__node(f, 9)->name, "f41"); /* root-first: f49 at depth 1 */
	flame__free(f);
	pprof__free(p);
	return 0;
}

TEST(empty_profile)
{
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 1 });
	struct frame fr[4];
	char *svg;
	size_t len;

	ASSERT_TRUE(p);
	ASSERT_EQ(flamegraph__svg(p, NULL, &svg, &len, NULL), 0);
	ASSERT_EQ(parse_frames(svg, fr, 4), 1);
	ASSERT_STREQ(fr[0].name, "all");
	free(svg);
	pprof__free(p);
	return 0;
}

TEST(top)
{
	static const struct {
		const char *name;
		long long flat, cum;
	} want[] = {
		{ "a", 6, 14 }, { "x", 5, 5 }, { "sys_read", 4, 4 }, { "y", 3, 3 },
		{ "b", 2, 6 }, { "inlined", 2, 2 }, { "/usr/bin/app", 1, 1 }, { "jitted_fn", 1, 1 },
		{ "main", 0, 24 }, { "read", 0, 4 }, { "outer", 0, 2 },
	};
	struct top_entry *e;
	struct fx x;
	char *text;
	long n;

	ASSERT_EQ(build_fixture(&x), 0);
	n = top__compute(x.p, TOP_BY_FUNCTION, &e);
	ASSERT_EQ(n, 11);
	for (long i = 0; i < n; i++) {
		ASSERT_STREQ(e[i].name, want[i].name);
		/* Code without a name is counted under its mapping. */
		ASSERT_EQ(e[i].mapping, i == 6);
		ASSERT_EQ(e[i].flat, want[i].flat);
		ASSERT_EQ(e[i].cum, want[i].cum);
	}
	free(e);
	ASSERT_EQ(top__format(x.p, 8, TOP_BY_FUNCTION, NULL, &text), 0);
	ASSERT_TRUE(strstr(text, "  1   4.17%  95.83%            1   4.17%  [app]\n"));
	free(text);
	/* By process: every sample once, under its comm label. */
	ASSERT_EQ(top__format(x.p, 5, TOP_BY_COMM, NULL, &text), 0);
	ASSERT_STREQ(text,
		     "Top 2 of 2 processes, 24 samples:\n"
		     "        flat   flat%    sum%          cum    cum%  process\n"
		     "          16  66.67%  66.67%           16  66.67%  app\n"
		     "           8  33.33% 100.00%            8  33.33%  other\n");
	free(text);
	ASSERT_EQ(top__format(x.p, 3, TOP_BY_FUNCTION, NULL, &text), 0);
	ASSERT_STREQ(text,
		     "Top 3 of 11 functions, 24 samples:\n"
		     "        flat   flat%    sum%          cum    cum%  function\n"
		     "           6  25.00%  25.00%           14  58.33%  a\n"
		     "           5  20.83%  45.83%            5  20.83%  x\n"
		     "           4  16.67%  62.50%            4  16.67%  sys_read\n");
	free(text);
	pprof__free(x.p);

	/* Recursion counts once in cum; control characters never reach the terminal. */
	x.p = pprof__new(&(struct pprof_opts){ .period_ns = 1 });
	ASSERT_TRUE(x.p);
	{
		__u64 r = loc(&x, 0, 1, "rec\x1b[2J", 1), r2 = loc(&x, 0, 2, "rec\x1b[2J", 2);

		ASSERT_EQ(pprof__add_sample(x.p, (__u64[]){ r, r2, r }, 3, 1234567, NULL, 0), 0);
	}
	ASSERT_EQ(top__format(x.p, 10, TOP_BY_FUNCTION, "bytes", &text), 0);
	ASSERT_TRUE(strstr(text, "Top 1 of 1 functions, 1,234,567 bytes:\n"));
	ASSERT_TRUE(strstr(text, "   1,234,567 100.00% 100.00%    1,234,567 100.00%  rec?[2J\n"));
	free(text);
	pprof__free(x.p);
	return 0;
}

int main(void)
{
	RUN(tree);
	RUN(location_kinds);
	RUN(folded);
	RUN(svg_layout);
	RUN(escaping);
	RUN(narrow_frames_merge);
	RUN(depth_cap);
	RUN(empty_profile);
	RUN(top);
	return test_summary();
}
