/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Minimal test harness: TEST(name) defines a case, RUN(name) runs it, and
 * ASSERT_* stop the case with file:line and the values compared. A test
 * binary's main() returns test_summary(), so ctest sees a failure as a
 * non-zero exit, and a case that could not run here (TEST_SKIP) as 77,
 * which ctest reports as skipped and scripts/test.sh refuses under CI=true.
 */
#ifndef FORNAX_TEST_H
#define FORNAX_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_cases;
static int test_skips;

/* What a case returns when it cannot run here; also the binary's exit status then. */
#define TEST_SKIPPED 77

#define TEST(name) static int test_##name(void)

#define RUN(name)                                                        \
	do {                                                             \
		int _r;                                                  \
									 \
		test_cases++;                                            \
		_r = test_##name();                                      \
		if (_r == TEST_SKIPPED) {                                \
			test_skips++;                                    \
			fprintf(stderr, "skip %s\n", #name);             \
		} else if (_r != 0) {                                    \
			test_failures++;                                 \
			fprintf(stderr, "FAIL %s\n", #name);             \
		} else {                                                 \
			fprintf(stderr, "ok   %s\n", #name);             \
		}                                                        \
	} while (0)

/* Ends the case as skipped, saying why. */
#define TEST_SKIP(fmt, ...)                                                   \
	do {                                                                  \
		fprintf(stderr, "  skipped: " fmt "\n", ##__VA_ARGS__);       \
		return TEST_SKIPPED;                                          \
	} while (0)

#define TEST_FAIL(fmt, ...)                                                          \
	do {                                                                         \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__); \
		return 1;                                                            \
	} while (0)

#define ASSERT_TRUE(cond)                                  \
	do {                                               \
		if (!(cond))                               \
			TEST_FAIL("expected true: %s", #cond); \
	} while (0)

#define ASSERT_EQ(a, b)                                                                 \
	do {                                                                            \
		long long _a = (long long)(a), _b = (long long)(b);                     \
		if (_a != _b)                                                           \
			TEST_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b);            \
	} while (0)

#define ASSERT_UEQ(a, b)                                                                \
	do {                                                                            \
		unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
		if (_a != _b)                                                           \
			TEST_FAIL("%s == %s: 0x%llx != 0x%llx", #a, #b, _a, _b);        \
	} while (0)

#define ASSERT_STREQ(a, b)                                                              \
	do {                                                                            \
		const char *_a = (a), *_b = (b);                                        \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                  \
			TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", \
				  _b ? _b : "(null)");                                  \
	} while (0)

static inline int test_summary(void)
{
	fprintf(stderr, "%d/%d passed", test_cases - test_failures - test_skips, test_cases);
	if (test_skips)
		fprintf(stderr, ", %d skipped", test_skips);
	fprintf(stderr, "\n");
	if (test_failures)
		return 1;
	return test_skips ? TEST_SKIPPED : 0;
}

#endif /* FORNAX_TEST_H */
