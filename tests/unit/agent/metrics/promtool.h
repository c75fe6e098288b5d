/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus' own promtool (Debian's prometheus package) as the independent
 * reader of what /metrics serves: it parses the text format and lints the
 * names. A test binary without it skips (77), except under CI=true.
 */
#ifndef FORNAX_TEST_PROMTOOL_H
#define FORNAX_TEST_PROMTOOL_H

#include "test.h"

#include <stdbool.h>
#include <sys/wait.h>

static inline bool promtool_present(void)
{
	return system("command -v promtool >/dev/null 2>&1") == 0;
}

/* 0 when `promtool check metrics` accepts text; what it found goes to stderr. */
static inline int promtool_check(const char *text, size_t len)
{
	FILE *p = popen("promtool check metrics 1>&2", "w");
	int status;

	if (!p)
		return -1;
	fwrite(text, 1, len, p);
	status = pclose(p);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The end of main(): failures first, then the skip if promtool was missing. */
static inline int promtool_summary(bool present, const char *skipped)
{
	const char *ci = getenv("CI");

	if (test_summary())
		return 1;
	if (present)
		return 0;
	if (ci && strcmp(ci, "true") == 0) {
		fprintf(stderr, "FAIL %s: promtool (Debian's prometheus package) is missing\n",
			skipped);
		return 1;
	}
	fprintf(stderr, "SKIP %s: promtool is missing\n", skipped);
	return 77;
}

#endif /* FORNAX_TEST_PROMTOOL_H */
