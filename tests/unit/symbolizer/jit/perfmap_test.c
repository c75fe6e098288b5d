// SPDX-License-Identifier: Apache-2.0
/* symbolizer/perfmap.c: the JIT perf map parser. */
#include <errno.h>
#include <string.h>

#include "perfmap.h"
#include "test.h"

static ssize_t parse(struct perfmap *pm, const char *text)
{
	return perfmap__parse(pm, text, strlen(text));
}

TEST(basic_lines_and_lookup)
{
	struct perfmap *pm = perfmap__new(0);
	const char *text = "7f0000001000 40 LazyCompile:*fornaxHotLoop /tmp/hot.js:1:23\n"
			   "0x7f0000002000 0x10 py::f:/x.py\n";
	const struct perfmap_entry *e;

	ASSERT_TRUE(pm);
	ASSERT_EQ(parse(pm, text), strlen(text));
	ASSERT_EQ(perfmap__count(pm), 2);
	e = perfmap__find(pm, 0x7f0000001000);
	ASSERT_TRUE(e);
	ASSERT_STREQ(e->name, "LazyCompile:*fornaxHotLoop /tmp/hot.js:1:23");
	e = perfmap__find(pm, 0x7f000000103f);
	ASSERT_TRUE(e);
	ASSERT_TRUE(perfmap__find(pm, 0x7f0000001040) == NULL); /* end is exclusive */
	ASSERT_TRUE(perfmap__find(pm, 0x7f0000000fff) == NULL);
	e = perfmap__find(pm, 0x7f0000002008);
	ASSERT_TRUE(e);
	ASSERT_STREQ(e->name, "py::f:/x.py");
	ASSERT_EQ(perfmap__skipped(pm), 0);
	perfmap__free(pm);
	return 0;
}

TEST(partial_line_waits_for_the_rest)
{
	struct perfmap *pm = perfmap__new(0);
	const char *first = "1000 10 a\n2000 10 b";

	ASSERT_EQ(parse(pm, first), 10); /* "b" is still being written */
	ASSERT_EQ(perfmap__count(pm), 1);
	ASSERT_EQ(parse(pm, "2000 10 bee\n"), 12);
	ASSERT_STREQ(perfmap__find(pm, 0x2004)->name, "bee");
	perfmap__free(pm);
	return 0;
}

TEST(later_entry_wins)
{
	struct perfmap *pm = perfmap__new(0);

	ASSERT_TRUE(parse(pm, "1000 100 old\n3000 10 other\n") > 0);
	ASSERT_STREQ(perfmap__find(pm, 0x1050)->name, "old");
	/* the JIT freed that code and put new code over part of it */
	ASSERT_TRUE(parse(pm, "1040 20 new\n1000 10 newer\n") > 0);
	ASSERT_STREQ(perfmap__find(pm, 0x1050)->name, "new");
	ASSERT_STREQ(perfmap__find(pm, 0x1004)->name, "newer");
	ASSERT_STREQ(perfmap__find(pm, 0x1080)->name, "old");
	ASSERT_STREQ(perfmap__find(pm, 0x3001)->name, "other");
	perfmap__free(pm);
	return 0;
}

TEST(malformed_lines_are_skipped_and_counted)
{
	struct perfmap *pm = perfmap__new(0);
	const char *text = "\n"                          /* blank: not counted */
			   "1000\n"                      /* no size */
			   "1000 10\n"                   /* no name */
			   "zz00 10 x\n"                 /* not hex */
			   "1000 0 empty\n"              /* size 0 */
			   "ffffffffffffffff 10 wrap\n"  /* start + size overflows */
			   "11112222333344445 10 long\n" /* 17 digits */
			   "0x 10 nodigits\n"
			   "5000 10 crlf\r\n"            /* Windows line end: kept, \r dropped */
			   "6000 10 ok\n";

	ASSERT_EQ(parse(pm, text), strlen(text));
	ASSERT_EQ(perfmap__count(pm), 2);
	ASSERT_EQ(perfmap__skipped(pm), 7);
	ASSERT_STREQ(perfmap__find(pm, 0x5000)->name, "crlf");
	ASSERT_STREQ(perfmap__find(pm, 0x6000)->name, "ok");
	ASSERT_TRUE(perfmap__find(pm, 0x1000) == NULL);
	perfmap__free(pm);
	return 0;
}

TEST(entries_are_bounded)
{
	struct perfmap *pm = perfmap__new(2);

	ASSERT_TRUE(parse(pm, "1000 10 a\n2000 10 b\n3000 10 c\n") > 0);
	ASSERT_EQ(perfmap__count(pm), 2);
	ASSERT_EQ(perfmap__dropped(pm), 1);
	ASSERT_TRUE(perfmap__find(pm, 0x3000) == NULL);
	ASSERT_TRUE(perfmap__memory(pm) > 0);
	perfmap__free(pm);
	return 0;
}

TEST(bad_arguments)
{
	struct perfmap *pm = perfmap__new(0);

	ASSERT_EQ(perfmap__parse(NULL, "x\n", 2), -EINVAL);
	ASSERT_EQ(perfmap__parse(pm, NULL, 2), -EINVAL);
	ASSERT_EQ(perfmap__parse(pm, NULL, 0), 0);
	ASSERT_TRUE(perfmap__find(pm, 0) == NULL);
	perfmap__free(pm);
	perfmap__free(NULL);
	return 0;
}

int main(void)
{
	RUN(basic_lines_and_lookup);
	RUN(partial_line_waits_for_the_rest);
	RUN(later_entry_wins);
	RUN(malformed_lines_are_skipped_and_counted);
	RUN(entries_are_bounded);
	RUN(bad_arguments);
	return test_summary();
}
