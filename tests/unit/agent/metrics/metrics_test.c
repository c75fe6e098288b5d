// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"
#include "promtool.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static char *scrape(struct metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int err;

	if (!f)
		return NULL;
	err = metrics__write(m, f);
	fclose(f);
	if (err) {
		free(text);
		return NULL;
	}
	return text;
}

/* The value of the first sample line starting with prefix (name and labels), or NAN. */
static double sample_value(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, len) == 0 && p[len] == ' ')
			return strtod(p + len + 1, NULL);
	return NAN;
}

static const char *const kind_labels[] = { "kind", "path", NULL };
static const struct metric_desc descs[] = {
	{ "test_samples_total", "Samples taken.", METRIC_COUNTER, NULL },
	{ "test_queue_depth", "Windows waiting.\nSecond line with a \\ backslash.", METRIC_GAUGE,
	  NULL },
	{ "test_dropped_total", "Samples dropped, by reason.", METRIC_COUNTER, kind_labels },
};
static const struct metric_desc stranger = { "test_stranger", "Not registered.", METRIC_GAUGE,
					     NULL };

struct state {
	uint64_t samples;
	double depth;
	int calls;
	bool misbehave;
};

static void collect(struct metrics_emitter *e, void *ctx)
{
	struct state *s = ctx;

	s->calls++;
	/* out of order on purpose: the exposition sorts */
	metrics_emit(e, &descs[2], (const char *[]){ "z", "/b" }, 2);
	metrics_emit(e, &descs[2], (const char *[]){ "a\"q\\b\nc", "/a" }, 1);
	metrics_emit_u64(e, &descs[0], NULL, s->samples);
	metrics_emit(e, &descs[1], NULL, s->depth);
	metrics_emit(e, &descs[2], (const char *[]){ "bad\xff" "utf8", "/c" }, 0.5);
	if (s->misbehave) {
		metrics_emit(e, &stranger, NULL, 1);
		metrics_emit(e, &descs[2], (const char *[]){ "z", "/b" }, 3);
	}
}

TEST(exposition_is_sorted_escaped_and_exact)
{
	struct metrics *m = metrics__new();
	struct state s = { .samples = (1ULL << 63) + 1, .depth = 3 };
	const char *why = NULL;
	char *text;

	ASSERT_TRUE(m);
	ASSERT_TRUE(metrics__add_collector(m, descs, 3, collect, &s, &why) >= 0);
	text = scrape(m);
	ASSERT_TRUE(text);
	ASSERT_STREQ(text,
		"# HELP fornax_metrics_dropped_samples_total Samples left out of the exposition: of "
		"a family their collector did not register, repeating another sample's labels, or "
		"for lack of memory.\n"
		"# TYPE fornax_metrics_dropped_samples_total counter\n"
		"fornax_metrics_dropped_samples_total{reason=\"duplicate\"} 0\n"
		"fornax_metrics_dropped_samples_total{reason=\"nomem\"} 0\n"
		"fornax_metrics_dropped_samples_total{reason=\"unregistered\"} 0\n"
		"# HELP test_dropped_total Samples dropped, by reason.\n"
		"# TYPE test_dropped_total counter\n"
		"test_dropped_total{kind=\"a\\\"q\\\\b\\nc\",path=\"/a\"} 1\n"
		"test_dropped_total{kind=\"bad\xef\xbf\xbdutf8\",path=\"/c\"} 0.5\n"
		"test_dropped_total{kind=\"z\",path=\"/b\"} 2\n"
		"# HELP test_queue_depth Windows waiting.\\nSecond line with a \\\\ backslash.\n"
		"# TYPE test_queue_depth gauge\n"
		"test_queue_depth 3\n"
		"# HELP test_samples_total Samples taken.\n"
		"# TYPE test_samples_total counter\n"
		"test_samples_total 9223372036854775809\n");
	ASSERT_EQ(s.calls, 1);
	free(text);
	metrics__free(m);
	return 0;
}

TEST(doubles_read_back_exactly)
{
	static const double values[] = { 0.1, 1e-9, 123456789.125, -2.5, 1.0 / 3, 1e300, 0 };
	struct metrics *m = metrics__new();
	struct state s = { 0 };
	char *text;

	ASSERT_TRUE(m);
	ASSERT_TRUE(metrics__add_collector(m, descs, 3, collect, &s, NULL) >= 0);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		s.depth = values[i];
		text = scrape(m);
		ASSERT_TRUE(text);
		ASSERT_TRUE(sample_value(text, "test_queue_depth") == values[i]);
		free(text);
	}
	/* shortest form, as Go's strconv writes it: 0.1, not 0.10000000000000001 */
	s.depth = 0.1;
	text = scrape(m);
	ASSERT_TRUE(text && strstr(text, "\ntest_queue_depth 0.1\n"));
	free(text);
	metrics__free(m);
	return 0;
}

static const struct metric_desc special_desc[] = {
	{ "test_special", "Special values.", METRIC_GAUGE, kind_labels },
};

static void collect_special(struct metrics_emitter *e, void *ctx)
{
	(void)ctx;
	metrics_emit(e, &special_desc[0], (const char *[]){ "nan", "" }, NAN);
	metrics_emit(e, &special_desc[0], (const char *[]){ "pinf", "" }, INFINITY);
	metrics_emit(e, &special_desc[0], (const char *[]){ "ninf", "" }, -INFINITY);
	metrics_emit(e, &special_desc[0], (const char *[]){ "null", NULL }, 1);
}

TEST(special_values)
{
	struct metrics *m = metrics__new();
	char *text;

	ASSERT_TRUE(m);
	ASSERT_TRUE(metrics__add_collector(m, special_desc, 1, collect_special, NULL, NULL) >= 0);
	text = scrape(m);
	ASSERT_TRUE(text);
	ASSERT_TRUE(strstr(text, "test_special{kind=\"nan\",path=\"\"} NaN\n"));
	ASSERT_TRUE(strstr(text, "test_special{kind=\"pinf\",path=\"\"} +Inf\n"));
	ASSERT_TRUE(strstr(text, "test_special{kind=\"ninf\",path=\"\"} -Inf\n"));
	ASSERT_TRUE(strstr(text, "test_special{kind=\"null\",path=\"\"} 1\n"));
	free(text);
	metrics__free(m);
	return 0;
}

static void collect_nothing(struct metrics_emitter *e, void *ctx)
{
	(void)e;
	(void)ctx;
}

TEST(names_follow_prometheus_conventions)
{
	static const char *const bad_label[] = { "__reserved", NULL };
	static const char *const twice[] = { "a", "a", NULL };
	static const char *const dash[] = { "a-b", NULL };
	static const struct {
		struct metric_desc d;
		int err;
	} cases[] = {
		{ { "test_count", "h", METRIC_COUNTER, NULL }, -EINVAL },       /* no _total */
		{ { "test_depth_total", "h", METRIC_GAUGE, NULL }, -EINVAL },   /* gauge _total */
		{ { "test_Camel", "h", METRIC_GAUGE, NULL }, -EINVAL },
		{ { "test:rule", "h", METRIC_GAUGE, NULL }, -EINVAL },
		{ { "__test", "h", METRIC_GAUGE, NULL }, -EINVAL },
		{ { "9test", "h", METRIC_GAUGE, NULL }, -EINVAL },
		{ { "test_latency_milliseconds", "h", METRIC_GAUGE, NULL }, -EINVAL },
		{ { "test_size_kilobytes", "h", METRIC_GAUGE, NULL }, -EINVAL },
		{ { "test_ok", "", METRIC_GAUGE, NULL }, -EINVAL },             /* no help */
		{ { "test_ok", "h", METRIC_GAUGE, bad_label }, -EINVAL },
		{ { "test_ok", "h", METRIC_GAUGE, twice }, -EINVAL },
		{ { "test_ok", "h", METRIC_GAUGE, dash }, -EINVAL },
		{ { "test_samples_total", "h", METRIC_COUNTER, NULL }, -EEXIST }, /* taken below */
		{ { "test_latency_seconds", "h", METRIC_GAUGE, NULL }, 0 },
		{ { "test_size_bytes", "h", METRIC_GAUGE, twice + 1 }, 0 },
	};
	struct metrics *m = metrics__new();
	struct state s = { 0 };

	ASSERT_TRUE(m);
	ASSERT_TRUE(metrics__add_collector(m, descs, 3, collect, &s, NULL) >= 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = NULL;
		int ret = metrics__add_collector(m, &cases[i].d, 1, collect_nothing, NULL, &why);

		if (cases[i].err) {
			if (ret != cases[i].err)
				TEST_FAIL("case %zu (%s): %d, expected %d", i, cases[i].d.name, ret,
					  cases[i].err);
			ASSERT_TRUE(why && *why);
		} else if (ret < 0) {
			TEST_FAIL("case %zu (%s) refused: %s", i, cases[i].d.name, why);
		}
	}
	metrics__free(m);
	return 0;
}

TEST(mistakes_are_counted_not_written)
{
	struct metrics *m = metrics__new();
	struct state s = { .misbehave = true };
	char *text;

	ASSERT_TRUE(m);
	ASSERT_TRUE(metrics__add_collector(m, descs, 3, collect, &s, NULL) >= 0);
	text = scrape(m);
	ASSERT_TRUE(text);
	ASSERT_TRUE(!strstr(text, "test_stranger"));
	/* the first of two samples with the same labels wins; the second is dropped */
	ASSERT_EQ(sample_value(text, "test_dropped_total{kind=\"z\",path=\"/b\"}"), 2);
	free(text);
	text = scrape(m); /* the losses of a scrape show in the next */
	ASSERT_TRUE(text);
	ASSERT_EQ(sample_value(text, "fornax_metrics_dropped_samples_total{reason=\"unregistered\"}"),
		  1);
	ASSERT_EQ(sample_value(text, "fornax_metrics_dropped_samples_total{reason=\"duplicate\"}"),
		  1);
	free(text);
	metrics__free(m);
	return 0;
}

TEST(removed_collector_is_not_called)
{
	struct metrics *m = metrics__new();
	struct state s = { 0 };
	char *text;
	int id;

	ASSERT_TRUE(m);
	id = metrics__add_collector(m, descs, 3, collect, &s, NULL);
	ASSERT_TRUE(id >= 0);
	free(scrape(m));
	ASSERT_EQ(s.calls, 1);
	metrics__remove_collector(m, id);
	text = scrape(m);
	ASSERT_TRUE(text && !strstr(text, "test_"));
	ASSERT_EQ(s.calls, 1);
	free(text);
	/* the names are free again */
	ASSERT_TRUE(metrics__add_collector(m, descs, 3, collect, &s, NULL) >= 0);
	metrics__free(m);
	return 0;
}

TEST(process_collector_reads_this_process)
{
	struct metrics *m = metrics__new();
	double fds, fds_after, start, rss, cpu;
	struct timespec now;
	char *text;
	int fd;

	ASSERT_TRUE(m);
	ASSERT_EQ(metrics__add_process_collector(m), 0);
	ASSERT_EQ(metrics__add_build_info(m, "1.2.3"), 0);
	ASSERT_EQ(metrics__add_build_info(m, "1.2.3"), -EEXIST);
	/* burn a little CPU so the counter is above zero */
	for (volatile unsigned long i = 0; i < 200000000UL; i++)
		;
	text = scrape(m);
	ASSERT_TRUE(text);
	fds = sample_value(text, "process_open_fds");
	start = sample_value(text, "process_start_time_seconds");
	rss = sample_value(text, "process_resident_memory_bytes");
	cpu = sample_value(text, "process_cpu_seconds_total");
	ASSERT_TRUE(strstr(text, "\nfornax_build_info{version=\"1.2.3\"} 1\n"));
	ASSERT_TRUE(sample_value(text, "process_threads") >= 1);
	ASSERT_TRUE(sample_value(text, "process_max_fds") >= 64);
	ASSERT_TRUE(sample_value(text, "process_virtual_memory_bytes") > rss);
	free(text);
	ASSERT_TRUE(rss > 1 << 20);
	ASSERT_TRUE(cpu > 0.01 && cpu < 600);
	clock_gettime(CLOCK_REALTIME, &now);
	ASSERT_TRUE(start <= (double)now.tv_sec + 1 && start > (double)now.tv_sec - 600);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	text = scrape(m);
	fds_after = sample_value(text, "process_open_fds");
	free(text);
	close(fd);
	ASSERT_EQ(fds_after, fds + 1);
	metrics__free(m);
	return 0;
}

struct churn {
	struct metrics *m;
	_Atomic bool stop;
	_Atomic int scrapes;
};

static void *scraper(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		free(scrape(c->m));
		c->scrapes++;
	}
	return NULL;
}

TEST(collectors_come_and_go_during_scrapes)
{
	struct churn c = { .m = metrics__new() };
	struct state s = { 0 };
	pthread_t t;

	ASSERT_TRUE(c.m);
	ASSERT_EQ(pthread_create(&t, NULL, scraper, &c), 0);
	/* until both sides have had many turns (a mutex is not fair) */
	for (int i = 0; i < 2000 || (c.scrapes < 100 && i < 10000000); i++) {
		int id = metrics__add_collector(c.m, descs, 3, collect, &s, NULL);

		ASSERT_TRUE(id >= 0);
		metrics__remove_collector(c.m, id);
	}
	c.stop = true;
	pthread_join(t, NULL);
	ASSERT_TRUE(c.scrapes > 0);
	metrics__free(c.m);
	return 0;
}

/*
 * The independent reader: Prometheus' own promtool parses and lints what a
 * registry with every kind of family writes.
 */
TEST(promtool_accepts_the_exposition)
{
	struct metrics *m = metrics__new();
	struct state s = { .samples = 42, .depth = 0.25 };
	char *text;
	bool ok;

	ASSERT_TRUE(m);
	ASSERT_TRUE(metrics__add_collector(m, descs, 3, collect, &s, NULL) >= 0);
	ASSERT_TRUE(metrics__add_collector(m, special_desc, 1, collect_special, NULL, NULL) >= 0);
	ASSERT_EQ(metrics__add_process_collector(m), 0);
	ASSERT_EQ(metrics__add_build_info(m, "0.1.0"), 0);
	text = scrape(m);
	ASSERT_TRUE(text);
	ok = promtool_check(text, strlen(text)) == 0;
	free(text);
	metrics__free(m);
	ASSERT_TRUE(ok);
	/* and it does refuse what breaks the conventions */
	ASSERT_TRUE(promtool_check("# HELP x_count c\n# TYPE x_count counter\nx_count 1\n", 50) != 0);
	return 0;
}

int main(void)
{
	RUN(exposition_is_sorted_escaped_and_exact);
	RUN(doubles_read_back_exactly);
	RUN(special_values);
	RUN(names_follow_prometheus_conventions);
	RUN(mistakes_are_counted_not_written);
	RUN(removed_collector_is_not_called);
	RUN(process_collector_reads_this_process);
	RUN(collectors_come_and_go_during_scrapes);
	if (promtool_present())
		RUN(promtool_accepts_the_exposition);
	return promtool_summary(promtool_present(), "promtool_accepts_the_exposition");
}
