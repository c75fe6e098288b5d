// SPDX-License-Identifier: Apache-2.0
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

struct collector {
	int id;
	const struct metric_desc *descs;
	size_t n;
	metrics_collect_fn fn;
	void *ctx;
};

struct metrics {
	pthread_mutex_t lock; /* collectors, counters below, and every scrape */
	struct collector *collectors;
	size_t n_collectors;
	size_t cap_collectors;
	int next_id;
	uint64_t dropped_unregistered;
	uint64_t dropped_duplicate;
	uint64_t dropped_nomem;
	char *build_version;
};

struct sample {
	const struct metric_desc *d;
	char **values; /* one block: the pointers, then the strings */
	size_t n_values;
	bool is_u64;
	union {
		double f;
		uint64_t u;
	} v;
};

struct metrics_emitter {
	struct metrics *m;
	const struct collector *c;
	struct sample *samples;
	size_t n;
	size_t cap;
};

static size_t n_labels(const struct metric_desc *d)
{
	size_t n = 0;

	while (d->labels && d->labels[n])
		n++;
	return n;
}

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || c == '_')
		return true;
	return !first && c >= '0' && c <= '9';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

int metric_name__check(const char *name, enum metric_type type, const char **why)
{
	/* What promtool's linter would reject, decided once here instead of per scrape. */
	static const char *const not_base_units[] = {
		"_milliseconds", "_microseconds", "_nanoseconds", "_minutes", "_hours", "_days",
		"_kilobytes", "_megabytes", "_gigabytes", "_kibibytes", "_mebibytes", "_gibibytes",
		"_bits",
	};

	if (!name || !*name) {
		*why = "a metric needs a name";
		return -EINVAL;
	}
	for (const char *p = name; *p; p++) {
		if (!name_char(*p, p == name)) {
			*why = "metric names are lower-case snake_case: [a-z_][a-z0-9_]*";
			return -EINVAL;
		}
	}
	if (strncmp(name, "__", 2) == 0) {
		*why = "names starting with __ are reserved";
		return -EINVAL;
	}
	if (type == METRIC_COUNTER && !ends_with(name, "_total")) {
		*why = "a counter's name ends in _total";
		return -EINVAL;
	}
	if (type != METRIC_COUNTER && ends_with(name, "_total")) {
		*why = "only counters end in _total";
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(not_base_units) / sizeof(not_base_units[0]); i++) {
		if (strstr(name, not_base_units[i])) {
			*why = "use base units: seconds and bytes";
			return -EINVAL;
		}
	}
	return 0;
}

int metric_label_name__check(const char *name, const char **why)
{
	if (!name || !*name) {
		*why = "empty label name";
		return -EINVAL;
	}
	for (const char *p = name; *p; p++) {
		bool upper = *p >= 'A' && *p <= 'Z';

		if (!upper && !name_char(*p, p == name)) {
			*why = "label names are [a-zA-Z_][a-zA-Z0-9_]*";
			return -EINVAL;
		}
	}
	if (strncmp(name, "__", 2) == 0) {
		*why = "label names starting with __ are reserved";
		return -EINVAL;
	}
	return 0;
}

static int check_desc(const struct metric_desc *d, const char **why)
{
	int err = metric_name__check(d->name, d->type, why);

	if (err)
		return err;
	if (d->type != METRIC_COUNTER && d->type != METRIC_GAUGE) {
		*why = "unknown metric type";
		return -EINVAL;
	}
	if (!d->help || !*d->help) {
		*why = "every metric needs help text";
		return -EINVAL;
	}
	for (size_t i = 0; d->labels && d->labels[i]; i++) {
		err = metric_label_name__check(d->labels[i], why);
		if (err)
			return err;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(d->labels[i], d->labels[j]) == 0) {
				*why = "a label name is given twice";
				return -EINVAL;
			}
		}
	}
	return 0;
}

static bool family_registered(const struct metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n_collectors; i++)
		for (size_t j = 0; j < m->collectors[i].n; j++)
			if (strcmp(m->collectors[i].descs[j].name, name) == 0)
				return true;
	return false;
}

static int add_locked(struct metrics *m, const struct metric_desc *descs, size_t n,
		      metrics_collect_fn fn, void *ctx, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		int err = check_desc(&descs[i], why);

		if (err)
			return err;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(descs[i].name, descs[j].name) == 0) {
				*why = "a family is listed twice";
				return -EEXIST;
			}
		}
		if (family_registered(m, descs[i].name)) {
			*why = "a family of that name is already registered";
			return -EEXIST;
		}
	}
	if (m->n_collectors == m->cap_collectors) {
		size_t cap = m->cap_collectors ? 2 * m->cap_collectors : 8;
		struct collector *c = realloc(m->collectors, cap * sizeof(*c));

		if (!c) {
			*why = "out of memory";
			return -ENOMEM;
		}
		m->collectors = c;
		m->cap_collectors = cap;
	}
	m->collectors[m->n_collectors] = (struct collector){
		.id = m->next_id, .descs = descs, .n = n, .fn = fn, .ctx = ctx,
	};
	m->n_collectors++;
	return m->next_id++;
}

int metrics__add_collector(struct metrics *m, const struct metric_desc *descs, size_t n,
			   metrics_collect_fn fn, void *ctx, const char **why)
{
	const char *ignored;
	int ret;

	if (!why)
		why = &ignored;
	if (!m || !descs || !n || !fn) {
		*why = "no families or no collector";
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	ret = add_locked(m, descs, n, fn, ctx, why);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void metrics__remove_collector(struct metrics *m, int id)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_collectors; i++) {
		if (m->collectors[i].id == id) {
			memmove(&m->collectors[i], &m->collectors[i + 1],
				(m->n_collectors - i - 1) * sizeof(m->collectors[0]));
			m->n_collectors--;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

/* The registry's own losses: a sample a collector got wrong is visible, not silent. */
static const char *const dropped_labels[] = { "reason", NULL };
static const struct metric_desc self_descs[] = {
	{ "fornax_metrics_dropped_samples_total",
	  "Samples left out of the exposition: of a family their collector did not register, "
	  "repeating another sample's labels, or for lack of memory.",
	  METRIC_COUNTER, dropped_labels },
};

static void collect_self(struct metrics_emitter *e, void *ctx)
{
	struct metrics *m = ctx; /* the scrape holds m->lock */

	metrics_emit_u64(e, &self_descs[0], (const char *[]){ "unregistered" },
			 m->dropped_unregistered);
	metrics_emit_u64(e, &self_descs[0], (const char *[]){ "duplicate" }, m->dropped_duplicate);
	metrics_emit_u64(e, &self_descs[0], (const char *[]){ "nomem" }, m->dropped_nomem);
}

struct metrics *metrics__new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	const char *why;
	int err;

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	err = metrics__add_collector(m, self_descs, 1, collect_self, m, &why);
	if (err < 0) {
		metrics__free(m);
		errno = -err;
		return NULL;
	}
	return m;
}

void metrics__free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->collectors);
	free(m->build_version);
	free(m);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	long cp;
	size_t n = utf8_decode(s, SIZE_MAX, &cp);

	/* surrogates are not text Prometheus accepts */
	return cp < 0 || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

/* Copies s, each byte that starts no valid UTF-8 sequence replaced by U+FFFD. */
static size_t utf8_copy(char *dst, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0;

	while (*p) {
		size_t n = utf8_len(p);

		if (n) {
			if (dst)
				memcpy(dst + out, p, n);
			out += n;
			p += n;
		} else {
			if (dst)
				memcpy(dst + out, "\xef\xbf\xbd", 3);
			out += 3;
			p++;
		}
	}
	if (dst)
		dst[out] = '\0';
	return out;
}

static bool registered_by(const struct collector *c, const struct metric_desc *d)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (&c->descs[i] == d)
			return true;
	return false;
}

static void emit(struct metrics_emitter *e, const struct metric_desc *d,
		 const char *const *values, bool is_u64, double f, uint64_t u)
{
	size_t nl = n_labels(d), bytes = nl * sizeof(char *);
	struct sample *s;
	char *block, *p;

	if (!registered_by(e->c, d)) {
		e->m->dropped_unregistered++;
		return;
	}
	for (size_t i = 0; i < nl; i++)
		bytes += utf8_copy(NULL, values[i] ? values[i] : "") + 1;
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;

		s = realloc(e->samples, cap * sizeof(*s));
		if (!s) {
			e->m->dropped_nomem++;
			return;
		}
		e->samples = s;
		e->cap = cap;
	}
	block = malloc(bytes ? bytes : 1);
	if (!block) {
		e->m->dropped_nomem++;
		return;
	}
	s = &e->samples[e->n++];
	*s = (struct sample){ .d = d, .values = (char **)block, .n_values = nl, .is_u64 = is_u64 };
	if (is_u64)
		s->v.u = u;
	else
		s->v.f = f;
	p = block + nl * sizeof(char *);
	for (size_t i = 0; i < nl; i++) {
		s->values[i] = p;
		p += utf8_copy(p, values[i] ? values[i] : "") + 1;
	}
}

void metrics_emit(struct metrics_emitter *e, const struct metric_desc *d,
		  const char *const *values, double value)
{
	emit(e, d, values, false, value, 0);
}

void metrics_emit_u64(struct metrics_emitter *e, const struct metric_desc *d,
		      const char *const *values, uint64_t value)
{
	emit(e, d, values, true, 0, value);
}

static int sample_cmp(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	int c = strcmp(x->d->name, y->d->name);

	for (size_t i = 0; !c && i < x->n_values; i++)
		c = strcmp(x->values[i], y->values[i]);
	return c;
}

/* HELP text escapes \ and newline; label values also escape ". */
static void write_escaped(FILE *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else if (quote && *s == '"')
			fputs("\\\"", out);
		else
			fputc(*s, out);
	}
}

/* The shortest text that reads back as the same double, as Go's strconv does. */
static void write_double(FILE *out, double v)
{
	char buf[40];

	if (isnan(v)) {
		fputs("NaN", out);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", out);
		return;
	}
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	fputs(buf, out);
}

static void write_sample(FILE *out, const struct sample *s)
{
	fputs(s->d->name, out);
	if (s->n_values) {
		fputc('{', out);
		for (size_t i = 0; i < s->n_values; i++) {
			fprintf(out, "%s%s=\"", i ? "," : "", s->d->labels[i]);
			write_escaped(out, s->values[i], true);
			fputc('"', out);
		}
		fputc('}', out);
	}
	fputc(' ', out);
	if (s->is_u64)
		fprintf(out, "%" PRIu64, s->v.u);
	else
		write_double(out, s->v.f);
	fputc('\n', out);
}

static void write_samples(struct metrics *m, FILE *out, struct sample *samples, size_t n)
{
	const struct metric_desc *family = NULL;

	qsort(samples, n, sizeof(*samples), sample_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct sample *s = &samples[i];

		if (i > 0 && sample_cmp(&samples[i - 1], s) == 0) {
			m->dropped_duplicate++;
			continue;
		}
		if (s->d != family) {
			family = s->d;
			fprintf(out, "# HELP %s ", family->name);
			write_escaped(out, family->help, false);
			fprintf(out, "\n# TYPE %s %s\n", family->name,
				family->type == METRIC_COUNTER ? "counter" : "gauge");
		}
		write_sample(out, s);
	}
}

int metrics__write(struct metrics *m, FILE *out)
{
	struct metrics_emitter e = { .m = m };
	int err = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_collectors; i++) {
		e.c = &m->collectors[i];
		e.c->fn(&e, e.c->ctx);
	}
	e.c = NULL;
	write_samples(m, out, e.samples, e.n);
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < e.n; i++)
		free(e.samples[i].values);
	free(e.samples);
	if (fflush(out) != 0 || ferror(out))
		err = errno ? -errno : -EIO;
	return err;
}

static const char *const version_labels[] = { "version", NULL };
static const struct metric_desc build_info_desc[] = {
	{ "fornax_build_info", "The fornax version running; always 1.", METRIC_GAUGE,
	  version_labels },
};

static void collect_build_info(struct metrics_emitter *e, void *ctx)
{
	struct metrics *m = ctx;

	metrics_emit(e, &build_info_desc[0], (const char *const[]){ m->build_version }, 1);
}

int metrics__add_build_info(struct metrics *m, const char *version)
{
	const char *why;
	int ret;

	if (m->build_version)
		return -EEXIST;
	m->build_version = strdup(version);
	if (!m->build_version)
		return -ENOMEM;
	ret = metrics__add_collector(m, build_info_desc, 1, collect_build_info, m, &why);
	return ret < 0 ? ret : 0;
}
