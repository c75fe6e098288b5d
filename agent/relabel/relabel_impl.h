/* SPDX-License-Identifier: Apache-2.0 */
/* Inside relabel: the regex layer the rules are built on. */
#ifndef FORNAX_RELABEL_IMPL_H
#define FORNAX_RELABEL_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stddef.h>

/*
 * Checks that pattern stays in the RE2 syntax Prometheus accepts, then
 * compiles it fully anchored, as Prometheus does ("^(?s:PATTERN)$").
 * Returns 0, or -EINVAL with msg filled, or -ENOMEM.
 */
int relabel_regex__compile(const char *pattern, pcre2_code **out, char *msg, size_t msg_size);

/*
 * Whether s matches code as a whole; the groups are left in md. 1 on a
 * match, 0 on none, -E2BIG when PCRE2's match limit was hit.
 */
int relabel_regex__match(const pcre2_code *code, const char *s, pcre2_match_data *md,
			 pcre2_match_context *mctx);

/* A match context with the backtracking bound; NULL when out of memory. */
pcre2_match_context *relabel_match_context(void);

/*
 * Go's Regexp.Expand of template against the match in md (subject s):
 * $1, ${1}, $name, ${name}; "$$" is "$"; the longest run of letters,
 * digits and _ after "$" is the name, so "$1x" names a group "1x"; a
 * group that does not exist or did not take part is "". malloc()ed; NULL
 * when out of memory.
 */
char *relabel_expand(const pcre2_code *code, const char *tmpl, const char *s,
		     pcre2_match_data *md);

#endif /* FORNAX_RELABEL_IMPL_H */
