// SPDX-License-Identifier: Apache-2.0
#include "config_file.h"
#include "relabel.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/fornax-config-test-XXXXXX";
static char path[256];

static const struct config_file_key keys[] = {
	{ "frequency", 0 },
	{ "drain-interval", 0 },
	{ "output", CONFIG_FILE_LIST },
	{ "pid", CONFIG_FILE_LIST },
	{ "label", CONFIG_FILE_MAP },
	{ "icicle", 0 },
	{ "store", 0 },
};
static const struct config_file_opts opts = { .keys = keys, .n_keys = 7 };

static const char *write_file(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "%s/fornax.yaml", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

/* Loads text; on failure the error with the path replaced by "F". */
static struct config_file *load(const char *text, char *err, size_t size)
{
	struct config_file *cf = config_file__load(write_file(text), &opts, err, size);
	size_t n = strlen(path);

	if (!cf && strncmp(err, path, n) == 0) {
		memmove(err + 1, err + n, strlen(err + n) + 1);
		err[0] = 'F';
	}
	return cf;
}

TEST(flags_lists_maps_and_rules)
{
	char err[512] = "";
	struct config_file *cf = load(
		"# fornax\n"
		"frequency: 99\n"
		"icicle: true\n"
		"output: \"\"\n"
		"pid: [1, 2]\n"
		"label:\n"
		"  env: prod\n"
		"  team: \"a b\"\n"
		"store: 'grpc://parca:7070'\n"
		"relabel_configs:\n"
		"  - source_labels: [__meta_kubernetes_namespace]\n"
		"    regex: kube-system\n"
		"    action: drop\n"
		"  - action: labelmap\n"
		"    regex: __meta_kubernetes_pod_label_(.+)\n",
		err, sizeof(err));
	static const struct {
		const char *key, *value;
		unsigned line;
	} want[] = {
		{ "frequency", "99", 2 }, { "icicle", "true", 3 }, { "output", "", 4 },
		{ "pid", "1", 5 },        { "pid", "2", 5 },       { "label", "env=prod", 7 },
		{ "label", "team=a b", 8 }, { "store", "grpc://parca:7070", 9 },
	};
	const struct relabel_rules *rules;
	struct label_set *ls;

	if (!cf)
		TEST_FAIL("%s", err);
	ASSERT_EQ(config_file__count(cf), 8);
	for (size_t i = 0; i < 8; i++) {
		const struct config_file_pair *p = config_file__pair(cf, i);

		ASSERT_STREQ(p->key, want[i].key);
		ASSERT_STREQ(p->value, want[i].value);
		ASSERT_EQ(p->line, want[i].line);
	}
	ASSERT_TRUE(!config_file__pair(cf, 8));
	ASSERT_TRUE(strstr(config_file__pair(cf, 0)->origin, "/fornax.yaml:2: frequency"));
	ASSERT_STREQ(config_file__get(cf, "pid"), "1");
	ASSERT_TRUE(!config_file__get(cf, "tenant"));

	rules = config_file__relabel_rules(cf);
	ASSERT_TRUE(rules);
	ASSERT_EQ(relabel_rules__count(rules), 2);
	ls = label_set__new();
	label_set__set(ls, "__meta_kubernetes_namespace", "shop");
	label_set__set(ls, "__meta_kubernetes_pod_label_app", "checkout");
	ASSERT_EQ(relabel_rules__apply(rules, ls), 1);
	ASSERT_STREQ(label_set__get(ls, "app"), "checkout");
	label_set__set(ls, "__meta_kubernetes_namespace", "kube-system");
	ASSERT_EQ(relabel_rules__apply(rules, ls), 0);
	label_set__free(ls);
	/* handed over, the rules outlive the file */
	{
		struct relabel_rules *taken = config_file__take_relabel_rules(cf);

		ASSERT_TRUE(taken && !config_file__relabel_rules(cf));
		config_file__free(cf);
		ASSERT_EQ(relabel_rules__count(taken), 2);
		relabel_rules__free(taken);
	}
	return 0;
}

TEST(errors_name_file_line_and_key)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "frequncy: 99\n", "F:1: frequncy: unknown key (did you mean frequency?)" },
		{ "frequency: 1\ndrain_interval: 2s\n",
		  "F:2: drain_interval: unknown key (did you mean drain-interval?)" },
		{ "tenant: x\n", "F:1: tenant: unknown key" },
		{ "frequency: 1\n\nfrequency: 2\n", "F:3: frequency: given twice (first at line 1)" },
		{ "output:\n", "F:1: output: no value (write \"\" for an empty one)" },
		{ "frequency: ~\n", "F:1: frequency: no value" },
		{ "frequency: [1, 2]\n", "F:1: frequency: takes one value, not a list" },
		{ "pid: {a: 1}\n", "F:1: pid: takes one value, not a mapping" },
		{ "pid: [1, [2]]\n", "F:1: pid: expected a list of plain values" },
		{ "label:\n  env: [a]\n", "F:2: label: env: expected a plain value" },
		{ "frequency: 1\npid: [1, 2\n", "F:3: column 1: YAML: did not find expected" },
		{ "frequency: &f 1\nstore: *f\n", "F:2: YAML aliases (*name) are not supported" },
		{ "store: !!python/object x\n", "F:1: the tag tag:yaml.org,2002:python/object" },
		{ "store: !custom x\n", "F:1: the tag !custom is not supported" },
		{ "frequency: 1\n---\nfrequency: 2\n", "F:2: one YAML document only" },
		{ "- frequency\n", "F:1: the file is a mapping of flag names to values" },
		{ "[a]: 1\n", "F:1: keys are flag names" },
		{ "relabel_configs: drop\n", "F:1: relabel_configs: expected a list of rules" },
		{ "relabel_configs:\n  - drop\n", "F:2: relabel_configs: each rule is a mapping" },
		{ "relabel_configs:\n  - action: keep\n    regex: a\n  - target_label: x\n"
		  "    regex: a(?=b)\n",
		  "F:5: relabel_configs[1].regex: lookaround (?= is not RE2 syntax" },
		{ "relabel_configs:\n  - action: replace\n    source_labels: [a]\n",
		  "F:2: relabel_configs[0].target_label: relabel configuration for replace action "
		  "requires 'target_label' value" },
		{ "relabel_configs:\n  - action: labeldrop\n    regex: x\n    separator: ','\n",
		  "F:2: relabel_configs[0].action: labeldrop action requires only 'regex'" },
		{ "relabel_configs:\n  - source_labels: a\n",
		  "F:2: relabel_configs[0]: source_labels is a list of label names" },
		{ "relabel_configs:\n  - regex: a\n    regexp: b\n",
		  "F:3: relabel_configs[0]: unknown field 'regexp'" },
		{ "relabel_configs:\n  - regex: a\n    regex: b\n",
		  "F:3: relabel_configs[0]: regex given twice (first at line 2)" },
		{ "relabel_configs:\n  - target_label: x\n    regex:\n",
		  "F:3: relabel_configs[0]: regex takes one plain value" },
		{ "relabel_configs:\n  - target_label: x\n    modulus: 8\n",
		  "F:3: relabel_configs[0].modulus: modulus is only for hashmod" },
		{ "relabel_configs:\n  - target_label: x\n    source_labels: [a-b]\n",
		  "F:3: relabel_configs[0].source_labels: \"a-b\" is not a valid label name" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[512] = "";
		struct config_file *cf = load(cases[i].text, err, sizeof(err));

		if (cf || errno != EINVAL || strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
			TEST_FAIL("case %zu: got \"%s\" (errno %d), expected \"%s\"", i, err, errno,
				  cases[i].err);
		config_file__free(cf);
	}
	return 0;
}

TEST(empty_files)
{
	static const char *const texts[] = { "", "# nothing yet\n", "---\n", "\n\n" };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char err[256] = "";
		struct config_file *cf = load(texts[i], err, sizeof(err));

		if (!cf)
			TEST_FAIL("'%s': %s", texts[i], err);
		ASSERT_EQ(config_file__count(cf), 0);
		ASSERT_TRUE(!config_file__relabel_rules(cf));
		config_file__free(cf);
	}
	return 0;
}

TEST(only_regular_files_and_bounded)
{
	struct config_file_opts small = { .max_bytes = 16 };
	char err[256], fifo[300];
	struct config_file *cf;

	cf = config_file__load(dir, &opts, err, sizeof(err));
	ASSERT_TRUE(!cf && errno == EINVAL && strstr(err, ": not a regular file"));
	/* a FIFO would block a plain open() until a writer comes */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ASSERT_EQ(mkfifo(fifo, 0600), 0);
	cf = config_file__load(fifo, &opts, err, sizeof(err));
	ASSERT_TRUE(!cf && errno == EINVAL && strstr(err, ": not a regular file"));
	unlink(fifo);
	cf = config_file__load(write_file("frequency: 99\nstore: x\n"), &small, err, sizeof(err));
	ASSERT_TRUE(!cf && errno == EFBIG);
	snprintf(fifo, sizeof(fifo), "%s/missing.yaml", dir);
	cf = config_file__load(fifo, &opts, err, sizeof(err));
	ASSERT_TRUE(!cf && errno == ENOENT && strstr(err, "missing.yaml: No such file"));
	/* without a key table, any key passes, and lists and mappings too */
	cf = config_file__load(write_file("anything: [1]\nelse: {a: b}\n"), NULL, err, sizeof(err));
	ASSERT_TRUE(cf);
	ASSERT_EQ(config_file__count(cf), 2);
	ASSERT_STREQ(config_file__pair(cf, 1)->value, "a=b");
	config_file__free(cf);
	config_file__free(NULL);
	return 0;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(flags_lists_maps_and_rules);
	RUN(errors_name_file_line_and_key);
	RUN(empty_files);
	RUN(only_regular_files_and_bounded);
	unlink(path);
	rmdir(dir);
	return test_summary();
}
