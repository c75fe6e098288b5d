// SPDX-License-Identifier: Apache-2.0
/*
 * Relabelling regexes: RE2 syntax checked, then run by PCRE2.
 *
 * The check walks the pattern once, tracking character classes and \Q..\E
 * quoting, and refuses each construct RE2 (and so Prometheus) would refuse
 * or read differently, naming it. What passes is a pattern both engines
 * read the same way, with the exceptions relabel.h lists.
 */
#include "relabel_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RE2 refuses repeat counts above this */
#define MAX_REPEAT 1000
/* Backtracking steps before a match gives up; RE2 would need none of them. */
#define MATCH_LIMIT 1000000

static int refuse(char *msg, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(char *msg, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* An escape at p ("\\X..."); sets *len to the bytes it takes. */
static int check_escape(const char *p, size_t *len, char *msg, size_t size)
{
	/* escapes both engines read alike; Q and E are handled by the caller */
	static const char same[] = "aftnrxAzbBdDsSwWpP";
	char c = p[1];

	*len = 2;
	if (!c)
		return refuse(msg, size, "a trailing backslash escapes nothing");
	if (c >= '1' && c <= '9')
		return refuse(msg, size, "backreference \\%c: RE2 has no backreferences", c);
	if (c == 'v')
		return refuse(msg, size,
			      "\\v is a character class in PCRE2 and one character in RE2; "
			      "write \\x0b for the vertical tab");
	if (is_alpha(c) && !strchr(same, c))
		return refuse(msg, size, "\\%c is not RE2 syntax", c);
	if ((c == 'x' || c == 'p' || c == 'P') && p[2] == '{') {
		const char *close = strchr(p + 3, '}');

		if (!close)
			return refuse(msg, size, "\\%c{ is not closed", c);
		*len = (size_t)(close - p) + 1;
	}
	return 0;
}

/* A class from '[' at p; sets *len. */
static int check_class(const char *p, size_t *len, char *msg, size_t size)
{
	const char *q = p + 1;
	size_t n;
	int err;

	if (*q == '^')
		q++;
	if (*q == ']') /* a leading ] is a literal */
		q++;
	while (*q && *q != ']') {
		if (*q == '\\') {
			err = check_escape(q, &n, msg, size);
			if (err)
				return err;
			q += n;
		} else if (q[0] == '[' && q[1] == ':') {
			const char *end = strstr(q + 2, ":]");

			if (!end)
				return refuse(msg, size, "[: is not closed by :]");
			q = end + 2;
		} else {
			q++;
		}
	}
	if (!*q)
		return refuse(msg, size, "[ is not closed by ]");
	*len = (size_t)(q - p) + 1;
	return 0;
}

/* "(?..." at p: which ones RE2 has. Sets *len to what was checked. */
static int check_group(const char *p, size_t *len, char *msg, size_t size)
{
	const char *q = p + 2;

	*len = 2;
	if (*q == ':')
		return 0;
	if (q[0] == 'P' && q[1] == '<')
		return 0; /* (?P<name>...) */
	if (q[0] == '<' && q[1] != '=' && q[1] != '!')
		return 0; /* (?<name>...), RE2 and Go 1.22 */
	if (q[0] == '=' || q[0] == '!' || (q[0] == '<' && (q[1] == '=' || q[1] == '!')))
		return refuse(msg, size, "lookaround (?%.*s is not RE2 syntax", q[0] == '<' ? 2 : 1,
			      q);
	if (q[0] == '>')
		return refuse(msg, size, "atomic group (?> is not RE2 syntax");
	if (q[0] == '#')
		return refuse(msg, size, "comment (?# is not RE2 syntax");
	if (q[0] == 'P' && (q[1] == '=' || q[1] == '>'))
		return refuse(msg, size, "(?P%c is not RE2 syntax", q[1]);
	/* flags: RE2 knows i, m, s and U */
	while (*q && *q != ':' && *q != ')') {
		if (!strchr("imsU-", *q))
			return refuse(msg, size, "(?%c is not RE2 syntax (flags are i, m, s and U)",
				      *q);
		q++;
	}
	if (!*q)
		return refuse(msg, size, "(? is not closed");
	*len = (size_t)(q - p);
	return 0;
}

/* "{n}", "{n,}", "{n,m}" at p: a repeat (1, with *len) or a literal { (0). */
static int check_repeat(const char *p, size_t *len, char *msg, size_t size)
{
	const char *q = p + 1;
	unsigned long n = 0, m = 0;
	bool comma = false;

	if (!is_digit(*q))
		return 0;
	while (is_digit(*q) && n <= MAX_REPEAT)
		n = n * 10 + (unsigned long)(*q++ - '0');
	if (*q == ',') {
		comma = true;
		q++;
		while (is_digit(*q) && m <= MAX_REPEAT)
			m = m * 10 + (unsigned long)(*q++ - '0');
	}
	if (*q != '}')
		return is_digit(*q) ? refuse(msg, size, "a repeat count above %d", MAX_REPEAT) : 0;
	if (n > MAX_REPEAT || m > MAX_REPEAT)
		return refuse(msg, size, "a repeat count above %d", MAX_REPEAT);
	if (comma && q[-1] != ',' && m < n)
		return refuse(msg, size, "a repeat range {%lu,%lu} that runs backward", n, m);
	*len = (size_t)(q - p) + 1;
	return 1;
}

static int check_re2(const char *pattern, char *msg, size_t size)
{
	bool after_repeat = false;
	const char *p = pattern;

	while (*p) {
		bool repeat = false;
		size_t len = 1;
		int err = 0;

		if (p[0] == '\\' && p[1] == 'Q') {
			const char *end = strstr(p + 2, "\\E");

			len = end ? (size_t)(end - p) + 2 : strlen(p);
		} else if (p[0] == '\\' && p[1] == 'E') {
			return refuse(msg, size, "\\E without \\Q");
		} else if (p[0] == '\\') {
			err = check_escape(p, &len, msg, size);
		} else if (p[0] == '[') {
			err = check_class(p, &len, msg, size);
		} else if (p[0] == '(' && p[1] == '?') {
			err = check_group(p, &len, msg, size);
		} else if (p[0] == '(' && p[1] == '*') {
			return refuse(msg, size, "(* verbs are not RE2 syntax");
		} else if (p[0] == '*' || p[0] == '+' || p[0] == '?') {
			if (after_repeat && p[0] == '+')
				return refuse(msg, size, "possessive quantifiers are not RE2 syntax");
			if (after_repeat && p[0] == '*')
				return refuse(msg, size, "a repeat of a repeat (**) is not RE2 syntax");
			/* a ? after a repeat makes it lazy, and ends it */
			repeat = !(after_repeat && p[0] == '?');
		} else if (p[0] == '{') {
			err = check_repeat(p, &len, msg, size);
			if (err < 0)
				return err;
			repeat = err == 1;
		}
		if (err < 0)
			return err;
		after_repeat = repeat;
		p += len;
	}
	return 0;
}

int relabel_regex__compile(const char *pattern, pcre2_code **out, char *msg, size_t msg_size)
{
	static const char prefix[] = "^(?s:", suffix[] = ")$";
	size_t n = strlen(pattern);
	PCRE2_SIZE offset;
	char *anchored;
	int err, code;

	*out = NULL;
	err = check_re2(pattern, msg, msg_size);
	if (err)
		return err;
	anchored = malloc(sizeof(prefix) + n + sizeof(suffix));
	if (!anchored)
		return -ENOMEM;
	memcpy(anchored, prefix, sizeof(prefix) - 1);
	memcpy(anchored + sizeof(prefix) - 1, pattern, n);
	memcpy(anchored + sizeof(prefix) - 1 + n, suffix, sizeof(suffix));
	/*
	 * UTF-8 as Go reads strings; $ only at the very end, as in Go without
	 * (?m); \C (one byte) refused outright.
	 */
	*out = pcre2_compile((PCRE2_SPTR)anchored, PCRE2_ZERO_TERMINATED,
			     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
				     PCRE2_NEVER_BACKSLASH_C,
			     &code, &offset, NULL);
	free(anchored);
	if (!*out) {
		PCRE2_UCHAR text[120];

		pcre2_get_error_message(code, text, sizeof(text));
		offset = offset >= sizeof(prefix) - 1 ? offset - (sizeof(prefix) - 1) : 0;
		if (offset > n)
			offset = n;
		return refuse(msg, msg_size, "%s at offset %zu", (char *)text, (size_t)offset);
	}
	return 0;
}

int relabel_regex__match(const pcre2_code *code, const char *s, pcre2_match_data *md,
			 pcre2_match_context *mctx)
{
	int rc = pcre2_match(code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mctx);

	if (rc > 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT)
		return -E2BIG;
	return -EINVAL;
}

pcre2_match_context *relabel_match_context(void)
{
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);

	if (mctx)
		pcre2_set_match_limit(mctx, MATCH_LIMIT);
	return mctx;
}

static bool name_byte(unsigned char c)
{
	/* Go takes letters of any script; a non-ASCII byte stands in for one */
	return is_alpha((char)c) || is_digit((char)c) || c == '_' || c >= 0x80;
}

/*
 * Go's extract(): the name after "$" at p, braced or not. Returns the
 * bytes taken (0: malformed, the "$" is literal) and sets name/len.
 */
static size_t extract(const char *p, const char **name, size_t *name_len)
{
	bool brace = *p == '{';
	const char *q = brace ? p + 1 : p;
	size_t n = 0;

	while (q[n] && name_byte((unsigned char)q[n]))
		n++;
	if (!n || (brace && q[n] != '}'))
		return 0;
	*name = q;
	*name_len = n;
	return n + (brace ? 2 : 0);
}

/* The group a name refers to: its number, or the named group; -1 for none. */
static int group_of(const pcre2_code *code, const char *name, size_t len)
{
	char buf[128];
	long num = 0;

	for (size_t i = 0; i < len; i++) {
		if (!is_digit(name[i]) || num >= 100000000) {
			num = -1;
			break;
		}
		num = num * 10 + (name[i] - '0');
	}
	if (name[0] == '0' && len > 1)
		num = -1; /* no leading zeros */
	if (num >= 0)
		return num > 0x7fffffff ? -1 : (int)num;
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	num = pcre2_substring_number_from_name(code, (PCRE2_SPTR)buf);
	return num >= 0 ? (int)num : -1;
}

char *relabel_expand(const pcre2_code *code, const char *tmpl, const char *s,
		     pcre2_match_data *md)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t n_ov = pcre2_get_ovector_count(md);
	char *out = NULL;
	size_t out_len = 0;
	FILE *f = open_memstream(&out, &out_len);
	const char *p = tmpl;

	if (!f)
		return NULL;
	while (*p) {
		const char *dollar = strchr(p, '$'), *name;
		size_t taken, name_len;
		int g;

		if (!dollar) {
			fputs(p, f);
			break;
		}
		fwrite(p, 1, (size_t)(dollar - p), f);
		p = dollar + 1;
		if (*p == '$') {
			fputc('$', f);
			p++;
			continue;
		}
		taken = extract(p, &name, &name_len);
		if (!taken) {
			fputc('$', f);
			continue;
		}
		p += taken;
		g = group_of(code, name, name_len);
		if (g >= 0 && (uint32_t)g < n_ov && ov[2 * g] != PCRE2_UNSET)
			fwrite(s + ov[2 * g], 1, ov[2 * g + 1] - ov[2 * g], f);
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}
