// SPDX-License-Identifier: Apache-2.0
/*
 * relabel_configs: the checks of Prometheus' relabel.Config (its
 * UnmarshalYAML and Validate), and relabel.Process's loop, rule by rule.
 */
#include "relabel.h"
#include "relabel_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_SEPARATOR ";"
#define DEFAULT_REGEX "(.*)"
#define DEFAULT_REPLACEMENT "$1"

enum action {
	A_REPLACE,
	A_KEEP,
	A_DROP,
	A_LABELMAP,
	A_LABELDROP,
	A_LABELKEEP,
	A_LOWERCASE,
	A_UPPERCASE,
	A_KEEPEQUAL,
	A_DROPEQUAL,
};

static const char *const action_names[] = {
	[A_REPLACE] = "replace",     [A_KEEP] = "keep",           [A_DROP] = "drop",
	[A_LABELMAP] = "labelmap",   [A_LABELDROP] = "labeldrop", [A_LABELKEEP] = "labelkeep",
	[A_LOWERCASE] = "lowercase", [A_UPPERCASE] = "uppercase", [A_KEEPEQUAL] = "keepequal",
	[A_DROPEQUAL] = "dropequal",
};

struct rule {
	enum action action;
	char **source_labels;
	size_t n_source_labels;
	char *separator;
	pcre2_code *regex;
	char *target_label;
	char *replacement;
};

struct relabel_rules {
	struct rule *rules;
	size_t n;
	size_t cap;
};

static int fail(struct relabel_error *err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct relabel_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	err->field = field;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

struct relabel_rules *relabel_rules__new(void)
{
	return calloc(1, sizeof(struct relabel_rules));
}

static void rule_free(struct rule *r)
{
	for (size_t i = 0; i < r->n_source_labels; i++)
		free(r->source_labels[i]);
	free(r->source_labels);
	free(r->separator);
	pcre2_code_free(r->regex);
	free(r->target_label);
	free(r->replacement);
}

void relabel_rules__free(struct relabel_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_free(&r->rules[i]);
	free(r->rules);
	free(r);
}

size_t relabel_rules__count(const struct relabel_rules *r)
{
	return r->n;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/*
 * Prometheus' relabelTarget, ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$: a
 * label name in which $1, ${1}, $name and ${name} may stand for parts.
 */
static bool valid_target_template(const char *s)
{
	const char *p = s;

	if (!*p || (*p >= '0' && *p <= '9'))
		return false;
	while (*p) {
		if (*p == '$') {
			bool brace = p[1] == '{';
			const char *q = p + 1 + brace;

			if (!word_char(*q))
				return false;
			while (word_char(*q))
				q++;
			if (brace && *q++ != '}')
				return false;
			p = q;
		} else if (word_char(*p)) {
			p++;
		} else {
			return false;
		}
	}
	return true;
}

static int parse_action(const char *s, enum action *a, struct relabel_error *err)
{
	if (!s) {
		*a = A_REPLACE;
		return 0;
	}
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcasecmp(s, action_names[i]) == 0) {
			*a = (enum action)i;
			return 0;
		}
	}
	if (strcasecmp(s, "hashmod") == 0)
		return fail(err, "action", "hashmod is not supported");
	return fail(err, "action", "unknown relabel action \"%.64s\"", s);
}

/* Prometheus' Validate(), on the values after defaults. */
static int validate(const struct relabel_rule_opts *o, enum action a, const char *separator,
		    const char *regex, const char *replacement, struct relabel_error *err)
{
	const char *name = action_names[a], *target = o->target_label ? o->target_label : "";
	bool needs_target = a == A_REPLACE || a == A_LOWERCASE || a == A_UPPERCASE ||
			    a == A_KEEPEQUAL || a == A_DROPEQUAL;
	bool plain_target = a == A_LOWERCASE || a == A_UPPERCASE || a == A_KEEPEQUAL ||
			    a == A_DROPEQUAL;

	if (o->has_modulus)
		return fail(err, "modulus", "modulus is only for hashmod, which is not supported");
	for (size_t i = 0; i < o->n_source_labels; i++)
		if (!relabel_label_name_valid(o->source_labels[i]))
			return fail(err, "source_labels", "\"%.64s\" is not a valid label name",
				    o->source_labels[i]);
	if (needs_target && !*target)
		return fail(err, "target_label",
			    "relabel configuration for %s action requires 'target_label' value",
			    name);
	if (a == A_REPLACE && *target && !strchr(target, '$') && !relabel_label_name_valid(target))
		return fail(err, "target_label", "\"%.64s\" is invalid 'target_label' for %s action",
			    target, name);
	if (a == A_REPLACE && strchr(target, '$') && !valid_target_template(target))
		return fail(err, "target_label", "\"%.64s\" is invalid 'target_label' for %s action",
			    target, name);
	if (plain_target && !relabel_label_name_valid(target))
		return fail(err, "target_label", "\"%.64s\" is invalid 'target_label' for %s action",
			    target, name);
	if ((a == A_LOWERCASE || a == A_UPPERCASE) && strcmp(replacement, DEFAULT_REPLACEMENT))
		return fail(err, "replacement", "'replacement' can not be set for %s action", name);
	if (a == A_LABELMAP && !valid_target_template(replacement))
		return fail(err, "replacement", "\"%.64s\" is invalid 'replacement' for %s action",
			    replacement, name);
	if ((a == A_KEEPEQUAL || a == A_DROPEQUAL) &&
	    (strcmp(regex, DEFAULT_REGEX) || strcmp(separator, DEFAULT_SEPARATOR) ||
	     strcmp(replacement, DEFAULT_REPLACEMENT)))
		return fail(err, "action",
			    "%s action requires only 'source_labels' and `target_label`, and no "
			    "other fields", name);
	if ((a == A_LABELDROP || a == A_LABELKEEP) &&
	    (o->source_labels || *target || strcmp(separator, DEFAULT_SEPARATOR) ||
	     strcmp(replacement, DEFAULT_REPLACEMENT)))
		return fail(err, "action", "%s action requires only 'regex', and no other fields",
			    name);
	return 0;
}

static int fill_rule(struct rule *r, const struct relabel_rule_opts *o, const char *separator,
		     const char *replacement)
{
	if (o->n_source_labels) {
		r->source_labels = calloc(o->n_source_labels, sizeof(char *));
		if (!r->source_labels)
			return -ENOMEM;
		for (size_t i = 0; i < o->n_source_labels; i++) {
			r->source_labels[i] = strdup(o->source_labels[i]);
			if (!r->source_labels[i])
				return -ENOMEM;
			r->n_source_labels++;
		}
	}
	r->separator = strdup(separator);
	r->target_label = strdup(o->target_label ? o->target_label : "");
	r->replacement = strdup(replacement);
	return r->separator && r->target_label && r->replacement ? 0 : -ENOMEM;
}

int relabel_rules__add(struct relabel_rules *r, const struct relabel_rule_opts *o,
		       struct relabel_error *err)
{
	const char *separator = o->separator ? o->separator : DEFAULT_SEPARATOR;
	const char *regex = o->regex ? o->regex : DEFAULT_REGEX;
	const char *replacement = o->replacement ? o->replacement : DEFAULT_REPLACEMENT;
	struct rule rule = { 0 };
	int ret;

	*err = (struct relabel_error){ 0 };
	ret = parse_action(o->action, &rule.action, err);
	if (!ret)
		ret = validate(o, rule.action, separator, regex, replacement, err);
	if (!ret) {
		ret = relabel_regex__compile(regex, &rule.regex, err->message, sizeof(err->message));
		if (ret == -EINVAL)
			err->field = "regex";
	}
	if (!ret)
		ret = fill_rule(&rule, o, separator, replacement);
	if (!ret && r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		struct rule *rules = realloc(r->rules, cap * sizeof(*rules));

		if (rules) {
			r->rules = rules;
			r->cap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (ret) {
		if (ret == -ENOMEM && !err->field)
			fail(err, "action", "out of memory");
		rule_free(&rule);
		return ret;
	}
	r->rules[r->n++] = rule;
	return 0;
}

/* The source labels' values joined, absent ones as "". */
static char *join_sources(const struct rule *r, const struct label_set *ls)
{
	size_t len = 1, sep = strlen(r->separator);
	char *out, *p;

	for (size_t i = 0; i < r->n_source_labels; i++) {
		const char *v = label_set__get(ls, r->source_labels[i]);

		len += (v ? strlen(v) : 0) + (i ? sep : 0);
	}
	out = p = malloc(len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < r->n_source_labels; i++) {
		const char *v = label_set__get(ls, r->source_labels[i]);
		size_t n = v ? strlen(v) : 0;

		if (i) {
			memcpy(p, r->separator, sep);
			p += sep;
		}
		memcpy(p, v ? v : "", n);
		p += n;
	}
	*p = '\0';
	return out;
}

struct scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
};

static int replace(const struct rule *r, struct label_set *ls, const char *val,
		   struct scratch *s)
{
	char *target = NULL, *value = NULL;
	int ret = relabel_regex__match(r->regex, val, s->md, s->mctx);

	if (ret <= 0)
		return ret < 0 ? ret : 1;
	target = relabel_expand(r->regex, r->target_label, val, s->md);
	if (!target)
		return -ENOMEM;
	ret = 1;
	/* a template that expands to no label name leaves the labels as they are */
	if (relabel_label_name_valid(target)) {
		value = relabel_expand(r->regex, r->replacement, val, s->md);
		if (!value)
			ret = -ENOMEM;
		else if (label_set__set(ls, target, value))
			ret = -ENOMEM;
	}
	free(target);
	free(value);
	return ret;
}

static int change_case(const struct rule *r, struct label_set *ls, char *val, bool upper)
{
	for (char *p = val; *p; p++) {
		if (upper && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (!upper && *p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return label_set__set(ls, r->target_label, val) ?: 1;
}

/* labelmap, labeldrop, labelkeep: over the names as they were when the rule began. */
static int over_names(const struct rule *r, struct label_set *ls, struct scratch *s)
{
	size_t n = label_set__count(ls);
	struct label_set *before = label_set__new();
	int ret = before ? 1 : -ENOMEM;

	for (size_t i = 0; i < n && ret > 0; i++) {
		const char *name, *value;

		label_set__at(ls, i, &name, &value);
		ret = label_set__set(before, name, value) ?: 1;
	}
	for (size_t i = 0; i < n && ret > 0; i++) {
		const char *name, *value;
		int m;

		label_set__at(before, i, &name, &value);
		m = relabel_regex__match(r->regex, name, s->md, s->mctx);
		if (m < 0) {
			ret = m;
		} else if (r->action == A_LABELMAP && m) {
			char *to = relabel_expand(r->regex, r->replacement, name, s->md);

			if (!to)
				ret = -ENOMEM;
			else if (relabel_label_name_valid(to))
				ret = label_set__set(ls, to, value) ?: 1;
			free(to);
		} else if ((r->action == A_LABELDROP && m) || (r->action == A_LABELKEEP && !m)) {
			label_set__del(ls, name);
		}
	}
	label_set__free(before);
	return ret;
}

static int apply_rule(const struct rule *r, struct label_set *ls, struct scratch *s)
{
	const char *current;
	char *val;
	int ret;

	if (r->action == A_LABELMAP || r->action == A_LABELDROP || r->action == A_LABELKEEP)
		return over_names(r, ls, s);
	val = join_sources(r, ls);
	if (!val)
		return -ENOMEM;
	switch (r->action) {
	case A_KEEP:
	case A_DROP:
		ret = relabel_regex__match(r->regex, val, s->md, s->mctx);
		if (ret >= 0)
			ret = (ret == 1) == (r->action == A_KEEP);
		break;
	case A_KEEPEQUAL:
	case A_DROPEQUAL:
		current = label_set__get(ls, r->target_label);
		ret = (strcmp(current ? current : "", val) == 0) == (r->action == A_KEEPEQUAL);
		break;
	case A_LOWERCASE:
	case A_UPPERCASE:
		ret = change_case(r, ls, val, r->action == A_UPPERCASE);
		break;
	default:
		ret = replace(r, ls, val, s);
		break;
	}
	free(val);
	return ret;
}

int relabel_rules__apply(const struct relabel_rules *r, struct label_set *labels)
{
	struct scratch s = { 0 };
	uint32_t groups = 0;
	int ret = 1;

	for (size_t i = 0; i < r->n; i++) {
		uint32_t n = 0;

		pcre2_pattern_info(r->rules[i].regex, PCRE2_INFO_CAPTURECOUNT, &n);
		if (n > groups)
			groups = n;
	}
	s.md = pcre2_match_data_create(groups + 1, NULL);
	s.mctx = relabel_match_context();
	if (!s.md || !s.mctx)
		ret = -ENOMEM;
	for (size_t i = 0; i < r->n && ret > 0; i++)
		ret = apply_rule(&r->rules[i], labels, &s);
	pcre2_match_data_free(s.md);
	pcre2_match_context_free(s.mctx);
	return ret;
}
