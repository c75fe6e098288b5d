/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus relabelling (relabel_configs) over a set of labels, with the
 * semantics of Prometheus' model/relabel package, so that rules written for
 * Prometheus, Parca Agent or Alloy's discovery.relabel mean the same here:
 *
 *   source_labels  values joined with separator (default ";"); an absent
 *                  label is ""
 *   regex          fully anchored: "^(?s:REGEX)$"; default "(.*)"
 *   target_label   for replace, may hold $1, ${1}, $name, ${name}
 *   replacement    default "$1"; Go's Regexp.Expand rules: "$1x" is the
 *                  group named "1x" (so empty), "$$" is "$"
 *   action         replace (default), keep, drop, labelmap, labeldrop,
 *                  labelkeep, lowercase, uppercase, keepequal, dropequal
 *
 * A label set to "" is removed, as in Prometheus, where an empty value and
 * an absent label are the same thing.
 *
 * Regexes are run by PCRE2 but must be in the RE2 syntax Prometheus accepts:
 * PCRE-only constructs (backreferences, lookaround, atomic groups,
 * possessive quantifiers, recursion, conditionals, \K, callouts, verbs,
 * comments) are refused when a rule is added, with the reason, so a rule
 * that works here also works in Prometheus and the other way round. Where
 * the two engines still differ: \s also matches a vertical tab in PCRE2 (\v
 * itself is refused: it means a class in PCRE2 and a character in RE2);
 * lowercase and uppercase change ASCII letters only; hashmod is refused;
 * a value that is not UTF-8 matches only where RE2 would see U+FFFD.
 * Matching is bounded (a pattern that backtracks without end fails with
 * -E2BIG instead of hanging); RE2 guarantees linear time, PCRE2 does not.
 */
#ifndef FORNAX_RELABEL_H
#define FORNAX_RELABEL_H

#include <stdbool.h>
#include <stddef.h>

/* A set of labels, unique names, iterated in name order (as Prometheus keeps them). */
struct label_set;

struct label_set *label_set__new(void);
void label_set__free(struct label_set *ls);
/* Adds or replaces; an empty value removes the label. 0 or -ENOMEM. */
int label_set__set(struct label_set *ls, const char *name, const char *value);
/* The value, or NULL when the label is absent. Valid until the label changes. */
const char *label_set__get(const struct label_set *ls, const char *name);
void label_set__del(struct label_set *ls, const char *name);
void label_set__clear(struct label_set *ls);
size_t label_set__count(const struct label_set *ls);
/* The i-th label in name order (i < count). */
void label_set__at(const struct label_set *ls, size_t i, const char **name, const char **value);

/* One rule as a config file gives it; NULL fields take Prometheus' defaults. */
struct relabel_rule_opts {
	const char *const *source_labels; /* n_source_labels names, or NULL */
	size_t n_source_labels;
	const char *separator;
	const char *regex;
	const char *target_label;
	const char *replacement;
	const char *action;               /* case-insensitive, as in Prometheus */
	bool has_modulus;                 /* "modulus" was given: only hashmod takes it */
};

/* Why a rule was refused: the field at fault and one sentence. */
struct relabel_error {
	const char *field; /* "regex", "action", ... (static) */
	char message[200];
};

struct relabel_rules;

/* NULL with errno set. */
struct relabel_rules *relabel_rules__new(void);
void relabel_rules__free(struct relabel_rules *r);
/*
 * Checks and compiles a rule and appends it. Returns 0, -EINVAL with err
 * filled (Prometheus' own checks, and the RE2 subset), or -ENOMEM.
 */
int relabel_rules__add(struct relabel_rules *r, const struct relabel_rule_opts *opts,
		       struct relabel_error *err);
size_t relabel_rules__count(const struct relabel_rules *r);

/*
 * Applies every rule in order to labels. Returns 1 to keep the labels (as
 * the rules left them), 0 when a keep, drop, keepequal or dropequal rule
 * dropped them, -ENOMEM, or -E2BIG when a regex hit PCRE2's match limit
 * (labels as the earlier rules left them). r is only read: threads may
 * share it, each with a label_set of its own.
 */
int relabel_rules__apply(const struct relabel_rules *r, struct label_set *labels);

/* Prometheus' label name rule, [a-zA-Z_][a-zA-Z0-9_]*. */
bool relabel_label_name_valid(const char *name);

#endif /* FORNAX_RELABEL_H */
