// SPDX-License-Identifier: Apache-2.0
/*
 * relabel_configs as Prometheus documents them: most cases restate those of
 * Prometheus' model/relabel tests and configuration docs, so a rule behaves
 * here as it does there.
 */
#include "relabel.h"
#include "test.h"

#include <errno.h>
#include <stdbool.h>

/* "a=foo,b=bar" → a label set (values hold neither ',' nor '=') */
static struct label_set *labels(const char *spec)
{
	struct label_set *ls = label_set__new();
	char *copy = strdup(spec), *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		*eq = '\0';
		label_set__set(ls, kv, eq + 1);
	}
	free(copy);
	return ls;
}

/* The set as "a=foo,b=bar", in name order (static buffer). */
static const char *show(const struct label_set *ls)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < label_set__count(ls); i++) {
		const char *name, *value;

		label_set__at(ls, i, &name, &value);
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s=%s", i ? "," : "", name, value);
	}
	return buf;
}

/* One rule: sources "a;b" (';'-separated names), NULL fields for defaults. */
struct rule_spec {
	const char *sources;
	const char *separator;
	const char *regex;
	const char *target;
	const char *replacement;
	const char *action;
};

static int add_rule(struct relabel_rules *r, const struct rule_spec *s, struct relabel_error *err)
{
	const char *names[8];
	char buf[256];
	size_t n = 0;
	int ret;

	if (s->sources) {
		char *save = NULL;

		snprintf(buf, sizeof(buf), "%s", s->sources);
		for (char *t = strtok_r(buf, ";", &save); t && n < 8; t = strtok_r(NULL, ";", &save))
			names[n++] = t;
	}
	ret = relabel_rules__add(r, &(struct relabel_rule_opts){
		.source_labels = s->sources ? names : NULL,
		.n_source_labels = n,
		.separator = s->separator,
		.regex = s->regex,
		.target_label = s->target,
		.replacement = s->replacement,
		.action = s->action,
	}, err);
	return ret;
}

struct relabel_case {
	const char *name;
	const char *input;
	struct rule_spec rules[4];
	const char *output; /* NULL: dropped */
};

static const struct relabel_case cases[] = {
	{ "replace with ${1} twice", "a=foo,b=bar,c=baz",
	  { { .sources = "a", .regex = "f(.*)", .target = "d", .replacement = "ch${1}-ch${1}" } },
	  "a=foo,b=bar,c=baz,d=choo-choo" },
	{ "two sources joined by ;, rules in order", "a=foo,b=bar,c=baz",
	  { { .sources = "a;b", .regex = "f(.*);(.*)r", .target = "a", .replacement = "b${1}${2}m" },
	    { .sources = "c;a", .regex = "(b).*b(.*)ba(.*)", .target = "d",
	      .replacement = "$1$2$2$3" } },
	  "a=boobam,b=bar,c=baz,d=boooom" },
	{ "drop stops at once", "a=foo",
	  { { .sources = "a", .regex = ".*o.*", .action = "drop" },
	    { .sources = "a", .regex = "f(.*)", .target = "d", .replacement = "ch$1-ch$1" } },
	  NULL },
	{ "the regex is anchored: .*(b).* picks b", "a=abc",
	  { { .sources = "a", .regex = ".*(b).*", .target = "d" } }, "a=abc,d=b" },
	{ "drop without a match keeps", "a=foo",
	  { { .sources = "a", .regex = "no-match", .action = "drop" } }, "a=foo" },
	{ "anchored alternation f|o does not match foo", "a=foo",
	  { { .sources = "a", .regex = "f|o", .action = "drop" } }, "a=foo" },
	{ "keep without a match drops", "a=foo",
	  { { .sources = "a", .regex = "no-match", .action = "keep" } }, NULL },
	{ "keep with a match keeps", "a=foo",
	  { { .sources = "a", .regex = "f.*", .action = "KEEP" } }, "a=foo" },
	{ "no match, no replacement", "a=boo",
	  { { .sources = "a", .regex = "f", .target = "b", .replacement = "bar" } }, "a=boo" },
	{ "labelmap with ${1}", "a=foo,b1=bar,b2=baz",
	  { { .regex = "(b.*)", .replacement = "bar_${1}", .action = "labelmap" } },
	  "a=foo,b1=bar,b2=baz,bar_b1=bar,bar_b2=baz" },
	{ "labelmap of meta labels", "__meta_my_bar=aaa,__meta_my_baz=bbb,__meta_other=ccc,a=foo",
	  { { .regex = "__meta_(my.*)", .replacement = "${1}", .action = "labelmap" } },
	  "__meta_my_bar=aaa,__meta_my_baz=bbb,__meta_other=ccc,a=foo,my_bar=aaa,my_baz=bbb" },
	{ "target from a group", "a=some-name-value",
	  { { .sources = "a", .regex = "some-([^-]+)-([^,]+)", .target = "${1}",
	      .replacement = "${2}" } },
	  "a=some-name-value,name=value" },
	{ "a replacement that expands to nothing sets nothing", "a=some-name-value",
	  { { .sources = "a", .regex = "some-([^-]+)-([^,]+)", .target = "${1}",
	      .replacement = "${3}" } },
	  "a=some-name-value" },
	{ "a target that expands to no label name is skipped", "a=some-name-0",
	  { { .sources = "a", .regex = "some-([^-]+)-([^,]+)", .target = "${3}",
	      .replacement = "${1}" },
	    { .sources = "a", .regex = "some-([^-]+)(-[^,]+)", .target = "${3}",
	      .replacement = "${1}" } },
	  "a=some-name-0" },
	{ "tags parsed into labels", "__meta_sd_tags=path:/secret;job:some-job;label:foo=bar",
	  { { .sources = "__meta_sd_tags", .regex = "(?:.+;|^)path:(/[^;]+).*",
	      .target = "__metrics_path__" },
	    { .sources = "__meta_sd_tags", .regex = "(?:.+;|^)job:([^;]+).*", .target = "job" },
	    { .sources = "__meta_sd_tags", .regex = "(?:.+;|^)label:([^=]+)=([^;]+).*",
	      .target = "${1}", .replacement = "${2}" } },
	  "__meta_sd_tags=path:/secret;job:some-job;label:foo=bar,__metrics_path__=/secret,"
	  "foo=bar,job=some-job" },
	{ "labeldrop then replace then keep (prometheus#12283)",
	  "__meta_kubernetes_pod_annotation_XXX_metrics_port=9091,"
	  "__meta_kubernetes_pod_container_port_name=foo",
	  { { .regex = "^__meta_kubernetes_pod_container_port_name$", .action = "labeldrop" },
	    { .sources = "__meta_kubernetes_pod_annotation_XXX_metrics_port", .regex = "(.+)",
	      .target = "__meta_kubernetes_pod_container_port_name", .replacement = "metrics" },
	    { .sources = "__meta_kubernetes_pod_container_port_name", .regex = "^metrics$",
	      .action = "keep" } },
	  "__meta_kubernetes_pod_annotation_XXX_metrics_port=9091,"
	  "__meta_kubernetes_pod_container_port_name=metrics" },
	{ "labelkeep", "a=foo,b1=bar,b2=baz",
	  { { .regex = "(b.*)", .action = "labelkeep" } }, "b1=bar,b2=baz" },
	{ "labeldrop", "a=foo,b1=bar,b2=baz",
	  { { .regex = "(b.*)", .action = "labeldrop" } }, "a=foo" },
	{ "uppercase and lowercase", "foo=bAr123Foo",
	  { { .sources = "foo", .target = "foo_uppercase", .action = "uppercase" },
	    { .sources = "foo", .target = "foo_lowercase", .action = "lowercase" } },
	  "foo=bAr123Foo,foo_lowercase=bar123foo,foo_uppercase=BAR123FOO" },
	{ "keepequal keeps", "__port1=1234,__port2=5678,__tmp_port=1234",
	  { { .sources = "__tmp_port", .target = "__port1", .action = "keepequal" } },
	  "__port1=1234,__port2=5678,__tmp_port=1234" },
	{ "dropequal drops", "__port1=1234,__port2=5678,__tmp_port=1234",
	  { { .sources = "__tmp_port", .target = "__port1", .action = "dropequal" } }, NULL },
	{ "dropequal keeps", "__port1=1234,__port2=5678,__tmp_port=1234",
	  { { .sources = "__tmp_port", .target = "__port2", .action = "dropequal" } },
	  "__port1=1234,__port2=5678,__tmp_port=1234" },
	{ "keepequal drops", "__port1=1234,__port2=5678,__tmp_port=1234",
	  { { .sources = "__tmp_port", .target = "__port2", .action = "keepequal" } }, NULL },
	/* the defaults: regex (.*), replacement $1, action replace */
	{ "defaults copy a label", "a=foo",
	  { { .sources = "a", .target = "b" } }, "a=foo,b=foo" },
	{ "an absent source is empty, and empty deletes the target", "a=foo,b=x",
	  { { .sources = "missing", .target = "b" } }, "a=foo" },
	{ "a fixed value from an empty match", "a=foo",
	  { { .target = "env", .replacement = "prod" } }, "a=foo,env=prod" },
	{ "separator", "a=x,b=y",
	  { { .sources = "a;b", .separator = "/", .target = "c" } }, "a=x,b=y,c=x/y" },
	{ "keep on an absent label matches the empty string", "a=x",
	  { { .sources = "missing", .regex = "", .action = "keep" } }, "a=x" },
	/* Go's Regexp.Expand rules */
	{ "$1x names group 1x: empty", "a=foo",
	  { { .sources = "a", .regex = "(f)oo", .target = "b", .replacement = "$1x-" } },
	  "a=foo,b=-" },
	{ "${1}x is group 1, then x", "a=foo",
	  { { .sources = "a", .regex = "(f)oo", .target = "b", .replacement = "${1}x" } },
	  "a=foo,b=fx" },
	{ "$$ is a dollar, a lone $ stays", "a=foo",
	  { { .sources = "a", .regex = "(f)oo", .target = "b", .replacement = "$$1$-${" } },
	  "a=foo,b=$1$-${" },
	{ "$0 is the whole match", "a=foo",
	  { { .sources = "a", .regex = "f(o)o", .target = "b", .replacement = "<$0>" } },
	  "a=foo,b=<foo>" },
	{ "named groups, both syntaxes", "a=eu-west-1",
	  { { .sources = "a", .regex = "(?P<region>[a-z]+)-(?<zone>.*)", .target = "r",
	      .replacement = "$region/${zone}" } },
	  "a=eu-west-1,r=eu/west-1" },
	{ "$01 is not group 1", "a=foo",
	  { { .sources = "a", .regex = "(f)oo", .target = "b", .replacement = "[$01]" } },
	  "a=foo,b=[]" },
	{ "a group that did not take part is empty", "a=foo",
	  { { .sources = "a", .regex = "(x)?(foo)", .target = "b", .replacement = "[$1|$2]" } },
	  "a=foo,b=[|foo]" },
	/* the regex engine as RE2 reads it */
	{ "dot matches a newline: ^(?s:...)$", "a=foo\nbar",
	  { { .sources = "a", .regex = "foo.bar", .action = "keep" } }, "a=foo\nbar" },
	{ "$ is only the very end", "a=foo\n",
	  { { .sources = "a", .regex = "foo", .action = "drop" } }, "a=foo\n" },
	{ "(?i) case-insensitive", "a=FOO",
	  { { .sources = "a", .regex = "(?i)foo", .action = "keep" } }, "a=FOO" },
	{ "UTF-8 is one character to .", "a=\xc3\xa9t\xc3\xa9",
	  { { .sources = "a", .regex = "...", .action = "keep" } }, "a=\xc3\xa9t\xc3\xa9" },
	{ "\\pL", "a=\xc3\xa9t\xc3\xa9",
	  { { .sources = "a", .regex = "\\pL+", .action = "keep" } }, "a=\xc3\xa9t\xc3\xa9" },
	{ "\\Q...\\E quotes", "a=a.b*",
	  { { .sources = "a", .regex = "\\Qa.b*\\E", .action = "keep" } }, "a=a.b*" },
	{ "{n,m} and lazy repeats", "a=aaa",
	  { { .sources = "a", .regex = "(a{1,2}?)(a*)", .target = "b", .replacement = "$1|$2" } },
	  "a=aaa,b=a|aa" },
	{ "labelmap skips names that are not label names", "a_9=2,a_x=1",
	  { { .regex = "a_(.*)", .replacement = "${1}", .action = "labelmap" } },
	  "a_9=2,a_x=1,x=1" },
};

TEST(prometheus_behaviour)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct relabel_case *c = &cases[i];
		struct relabel_rules *r = relabel_rules__new();
		struct label_set *ls = labels(c->input);
		struct relabel_error err;
		int ret;

		ASSERT_TRUE(r && ls);
		/* values with ',' cannot go through labels(): set the newline cases by hand */
		for (size_t j = 0; j < 4 && (c->rules[j].sources || c->rules[j].regex ||
					      c->rules[j].target || c->rules[j].action); j++) {
			if (add_rule(r, &c->rules[j], &err))
				TEST_FAIL("%s: rule %zu refused: %s: %s", c->name, j, err.field,
					  err.message);
		}
		ret = relabel_rules__apply(r, ls);
		if (c->output ? ret != 1 || strcmp(show(ls), c->output) != 0 : ret != 0)
			TEST_FAIL("%s: %d {%s}, expected %s", c->name, ret, show(ls),
				  c->output ? c->output : "dropped");
		relabel_rules__free(r);
		label_set__free(ls);
	}
	return 0;
}

TEST(prometheus_validation)
{
	static const struct {
		struct rule_spec rule;
		const char *field;
		const char *says;
	} bad[] = {
		{ { .action = "replace" }, "target_label", "requires 'target_label' value" },
		{ { .action = "lowercase" }, "target_label", "requires 'target_label' value" },
		{ { .action = "lowercase", .target = "${3}" }, "target_label",
		  "\"${3}\" is invalid 'target_label'" },
		{ { .sources = "a", .regex = "some-([^-]+)-([^,]+)", .target = "0${3}" },
		  "target_label", "\"0${3}\" is invalid 'target_label'" },
		{ { .sources = "a", .regex = "some-([^-]+)-([^,]+)", .target = "-${3}" },
		  "target_label", "\"-${3}\" is invalid 'target_label' for replace action" },
		{ { .target = "a-b" }, "target_label", "is invalid 'target_label'" },
		{ { .target = "a", .action = "jump" }, "action", "unknown relabel action \"jump\"" },
		{ { .target = "a", .action = "hashmod" }, "action", "hashmod is not supported" },
		{ { .target = "a", .replacement = "x", .action = "uppercase" }, "replacement",
		  "'replacement' can not be set" },
		{ { .replacement = "-${1}", .action = "labelmap" }, "replacement",
		  "is invalid 'replacement' for labelmap action" },
		{ { .sources = "a", .action = "labeldrop" }, "action",
		  "labeldrop action requires only 'regex'" },
		{ { .target = "a", .action = "labelkeep" }, "action",
		  "labelkeep action requires only 'regex'" },
		{ { .sources = "a", .target = "b", .regex = "x", .action = "keepequal" }, "action",
		  "requires only 'source_labels' and `target_label`" },
		{ { .sources = "a-b", .target = "c" }, "source_labels",
		  "\"a-b\" is not a valid label name" },
		{ { .target = "c", .regex = "(" }, "regex", "missing closing parenthesis" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct relabel_rules *r = relabel_rules__new();
		struct relabel_error err;
		int ret = add_rule(r, &bad[i].rule, &err);

		if (ret != -EINVAL || strcmp(err.field, bad[i].field) != 0 ||
		    !strstr(err.message, bad[i].says))
			TEST_FAIL("case %zu: %d %s: %s", i, ret, err.field ? err.field : "-",
				  err.message);
		ASSERT_EQ(relabel_rules__count(r), 0);
		relabel_rules__free(r);
	}
	return 0;
}

TEST(re2_subset_only)
{
	static const struct {
		const char *regex;
		const char *says; /* NULL: accepted */
	} regexes[] = {
		{ "(a)\\1", "backreference \\1" },
		{ "a(?=b)", "lookaround (?=" },
		{ "a(?!b)", "lookaround (?!" },
		{ "(?<=a)b", "lookaround (?<=" },
		{ "(?<!a)b", "lookaround (?<!" },
		{ "(?>a+)b", "atomic group" },
		{ "a++", "possessive" },
		{ "a*+", "possessive" },
		{ "a?+", "possessive" },
		{ "a{2}+", "possessive" },
		{ "a**", "repeat of a repeat" },
		{ "(?R)", "(?R is not RE2 syntax" },
		{ "(?1)", "(?1 is not RE2 syntax" },
		{ "(?(1)a|b)", "(?( is not RE2 syntax" },
		{ "(?#note)a", "comment" },
		{ "(?x)a b", "(?x is not RE2 syntax" },
		{ "(?P=name)", "(?P=" },
		{ "(*UTF)a", "(* verbs" },
		{ "a\\Kb", "\\K is not RE2 syntax" },
		{ "\\h", "\\h is not RE2 syntax" },
		{ "\\R", "\\R is not RE2 syntax" },
		{ "\\Z", "\\Z is not RE2 syntax" },
		{ "\\G", "\\G is not RE2 syntax" },
		{ "\\e", "\\e is not RE2 syntax" },
		{ "\\v", "\\x0b" },
		{ "[\\h]", "\\h is not RE2 syntax" },
		{ "a{1001}", "above 1000" },
		{ "a{2,1001}", "above 1000" },
		{ "a{3,2}", "runs backward" },
		{ "\\E", "\\E without \\Q" },
		{ "a\\", "trailing backslash" },
		{ "[a", "not closed" },
		/* what Prometheus users write */
		{ "(.*)", NULL },
		{ "__meta_kubernetes_pod_label_(.+)", NULL },
		{ "(?i)Foo|bar", NULL },
		{ "(?s:.)", NULL },
		{ "(?U)a+", NULL },
		{ "(?i-s:a.)", NULL },
		{ "[[:alpha:]][^]a-z]\\d\\s\\w\\b\\B\\A\\z", NULL },
		{ "\\x{41}+\\x41\\p{Greek}\\PL\\pN*", NULL },
		{ "a{2}b{2,}c{2,3}?d{,3}", NULL },
		{ "\\Q(?=\\1\\E", NULL },
		{ "\\.\\*\\$\\^\\(\\)\\[\\]\\{\\}\\|\\?\\+\\\\", NULL },
		{ "\\a\\f\\t\\n\\r\\0", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(regexes) / sizeof(regexes[0]); i++) {
		struct relabel_rules *r = relabel_rules__new();
		struct relabel_error err;
		int ret = add_rule(r, &(struct rule_spec){ .regex = regexes[i].regex, .target = "x" },
				   &err);

		if (regexes[i].says && (ret != -EINVAL || strcmp(err.field, "regex") != 0 ||
				      !strstr(err.message, regexes[i].says)))
			TEST_FAIL("'%s': %d %s", regexes[i].regex, ret, err.message);
		if (!regexes[i].says && ret != 0)
			TEST_FAIL("'%s' refused: %s", regexes[i].regex, err.message);
		relabel_rules__free(r);
	}
	return 0;
}

TEST(runaway_backtracking_is_bounded)
{
	struct relabel_rules *r = relabel_rules__new();
	struct label_set *ls = label_set__new();
	struct relabel_error err;
	char value[64];

	/* nested repeats that PCRE2 explores exponentially; RE2 would not */
	ASSERT_EQ(add_rule(r, &(struct rule_spec){ .sources = "a", .regex = "(a|aa)*(a|aa)*b",
						   .action = "keep" }, &err), 0);
	/* a b that is not last: every way to split the a's is tried before giving up */
	memset(value, 'a', 48);
	memcpy(value + 48, "ba", 3);
	ASSERT_EQ(label_set__set(ls, "a", value), 0);
	ASSERT_EQ(relabel_rules__apply(r, ls), -E2BIG);
	relabel_rules__free(r);
	label_set__free(ls);
	return 0;
}

TEST(label_set_basics)
{
	struct label_set *ls = label_set__new();
	const char *name, *value;

	ASSERT_TRUE(ls);
	ASSERT_EQ(label_set__set(ls, "b", "2"), 0);
	ASSERT_EQ(label_set__set(ls, "a", "1"), 0);
	ASSERT_EQ(label_set__set(ls, "c", "3"), 0);
	ASSERT_EQ(label_set__set(ls, "b", "two"), 0);
	ASSERT_STREQ(show(ls), "a=1,b=two,c=3");
	ASSERT_EQ(label_set__set(ls, "a", ""), 0); /* empty is absent */
	ASSERT_TRUE(!label_set__get(ls, "a"));
	label_set__del(ls, "zzz");
	label_set__del(ls, "c");
	ASSERT_EQ(label_set__count(ls), 1);
	label_set__at(ls, 0, &name, &value);
	ASSERT_STREQ(name, "b");
	ASSERT_STREQ(value, "two");
	for (int i = 0; i < 100; i++) {
		char n[16];

		snprintf(n, sizeof(n), "l%03d", 99 - i);
		ASSERT_EQ(label_set__set(ls, n, "v"), 0);
	}
	label_set__at(ls, 1, &name, &value);
	ASSERT_STREQ(name, "l000");
	label_set__clear(ls);
	ASSERT_EQ(label_set__count(ls), 0);
	label_set__free(ls);
	label_set__free(NULL);
	relabel_rules__free(NULL);
	ASSERT_TRUE(relabel_label_name_valid("_a9"));
	ASSERT_TRUE(!relabel_label_name_valid("9a"));
	ASSERT_TRUE(!relabel_label_name_valid("a.b"));
	ASSERT_TRUE(!relabel_label_name_valid(""));
	return 0;
}

/* Rules are shared read-only by threads, each with its own labels. */
#include <pthread.h>

static struct relabel_rules *shared;

static void *apply_many(void *arg)
{
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 2000; i++) {
		struct label_set *ls = labels("__meta_kubernetes_pod_label_app=checkout,pid=1");

		if (relabel_rules__apply(shared, ls) != 1 ||
		    strcmp(label_set__get(ls, "app") ? label_set__get(ls, "app") : "", "checkout"))
			bad++;
		label_set__free(ls);
	}
	return (void *)bad;
}

TEST(rules_are_shared_by_threads)
{
	pthread_t t[4];
	struct relabel_error err;
	long bad = 0;
	void *ret;

	shared = relabel_rules__new();
	ASSERT_EQ(add_rule(shared, &(struct rule_spec){ .regex = "__meta_kubernetes_pod_label_(.+)",
							.action = "labelmap" }, &err), 0);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&t[i], NULL, apply_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &ret);
		bad += (long)ret;
	}
	ASSERT_EQ(bad, 0);
	relabel_rules__free(shared);
	return 0;
}

int main(void)
{
	RUN(prometheus_behaviour);
	RUN(prometheus_validation);
	RUN(re2_subset_only);
	RUN(runaway_backtracking_is_bounded);
	RUN(label_set_basics);
	RUN(rules_are_shared_by_threads);
	return test_summary();
}
