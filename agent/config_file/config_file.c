// SPDX-License-Identifier: Apache-2.0
#include "config_file_impl.h"

#include "fileio.h"
#include "relabel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_BYTES (1u << 20)
#define RELABEL_KEY "relabel_configs"

struct pair {
	struct config_file_pair pub;
	char *key, *value, *origin;
};

struct config_file {
	struct pair *pairs;
	size_t n, cap;
	struct relabel_rules *rules;
};

int loader_fail(struct loader *l, unsigned line, const char *key, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (l->failed)
		return -EINVAL;
	l->failed = true;
	n = (size_t)snprintf(l->err, l->err_size, "%s:%u: %s%s", l->path, line, key ? key : "",
			     key ? ": " : "");
	if (n < l->err_size) {
		va_start(ap, fmt);
		vsnprintf(l->err + n, l->err_size - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

unsigned event_line(const yaml_event_t *ev)
{
	return (unsigned)ev->start_mark.line + 1;
}

bool event_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->type != YAML_SCALAR_EVENT || !ev->data.scalar.plain_implicit)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* A tag beyond YAML's core schema (!!str, !!int...) asks for a type we do not have. */
static const char *foreign_tag(const yaml_event_t *ev)
{
	const yaml_char_t *tag = NULL;

	if (ev->type == YAML_SCALAR_EVENT)
		tag = ev->data.scalar.tag;
	else if (ev->type == YAML_SEQUENCE_START_EVENT)
		tag = ev->data.sequence_start.tag;
	else if (ev->type == YAML_MAPPING_START_EVENT)
		tag = ev->data.mapping_start.tag;
	static const char *const core[] = { "str", "int", "float", "bool", "null", "seq", "map" };

	if (!tag)
		return NULL;
	if (strncmp((const char *)tag, "tag:yaml.org,2002:", 18) == 0)
		for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++)
			if (strcmp((const char *)tag + 18, core[i]) == 0)
				return NULL;
	return (const char *)tag;
}

int loader_next(struct loader *l, yaml_event_t *ev)
{
	const char *tag;

	if (!yaml_parser_parse(&l->parser, ev)) {
		const yaml_mark_t *m = &l->parser.problem_mark;

		return loader_fail(l, (unsigned)m->line + 1, NULL, "column %u: YAML: %s%s%s",
				   (unsigned)m->column + 1,
				   l->parser.problem ? l->parser.problem : "malformed",
				   l->parser.context ? " " : "",
				   l->parser.context ? l->parser.context : "");
	}
	if (ev->type == YAML_ALIAS_EVENT) {
		unsigned line = event_line(ev);

		yaml_event_delete(ev);
		return loader_fail(l, line, NULL, "YAML aliases (*name) are not supported");
	}
	tag = foreign_tag(ev);
	if (tag) {
		unsigned line = event_line(ev);
		int err = loader_fail(l, line, NULL, "the tag %.64s is not supported", tag);

		yaml_event_delete(ev);
		return err;
	}
	return 0;
}

static int add_pair(struct config_file *cf, struct loader *l, const char *key,
		    const char *value, unsigned line)
{
	struct pair p = { .pub.line = line };

	if (cf->n == cf->cap) {
		size_t cap = cf->cap ? 2 * cf->cap : 16;
		struct pair *pairs = realloc(cf->pairs, cap * sizeof(*pairs));

		if (!pairs)
			return -ENOMEM;
		cf->pairs = pairs;
		cf->cap = cap;
	}
	p.key = strdup(key);
	p.value = strdup(value);
	if (asprintf(&p.origin, "%s:%u: %s", l->path, line, key) < 0)
		p.origin = NULL;
	if (!p.key || !p.value || !p.origin) {
		free(p.key);
		free(p.value);
		free(p.origin);
		return -ENOMEM;
	}
	p.pub.key = p.key;
	p.pub.value = p.value;
	p.pub.origin = p.origin;
	cf->pairs[cf->n++] = p;
	return 0;
}

static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[64], n = (unsigned)strlen(b);

	if (n >= 64 || strlen(a) >= 64)
		return 99;
	for (unsigned j = 0; j <= n; j++)
		row[j] = j;
	for (const char *p = a; *p; p++) {
		unsigned diag = row[0];

		row[0]++;
		for (unsigned j = 1; j <= n; j++) {
			unsigned up = row[j], best = diag + (*p != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[n];
}

/* The key's entry in the table; NULL when unknown (with a near name in *near). */
static const struct config_file_key *find_key(const struct config_file_opts *o,
					      const char *key, const char **near)
{
	static const struct config_file_key any = { .flags = CONFIG_FILE_LIST | CONFIG_FILE_MAP };
	unsigned best = 3;

	*near = NULL;
	if (!o->keys)
		return &any;
	for (size_t i = 0; i < o->n_keys; i++) {
		unsigned d;

		if (strcmp(o->keys[i].name, key) == 0)
			return &o->keys[i];
		d = edit_distance(key, o->keys[i].name);
		if (d < best) {
			best = d;
			*near = o->keys[i].name;
		}
	}
	return NULL;
}

/* One "KEY: VALUE" entry of a mapping value, as the pair "KEY=VALUE". */
static int load_map_entry(struct config_file *cf, struct loader *l, const char *key,
			  const yaml_event_t *item)
{
	const char *name = (const char *)item->data.scalar.value;
	yaml_event_t val = { 0 };
	char *kv = NULL;
	int err = loader_next(l, &val);

	if (!err && (val.type != YAML_SCALAR_EVENT || event_is_null(&val)))
		err = loader_fail(l, event_line(item), key, "%s: expected a plain value", name);
	if (!err && asprintf(&kv, "%s=%s", name, (const char *)val.data.scalar.value) < 0) {
		kv = NULL;
		err = -ENOMEM;
	}
	if (!err)
		err = add_pair(cf, l, key, kv, event_line(item));
	free(kv);
	yaml_event_delete(&val);
	return err;
}

/* A value after its key: a scalar, or a list or mapping where the key takes one. */
static int load_value(struct config_file *cf, struct loader *l, const char *key,
		      const struct config_file_key *k, unsigned key_line)
{
	yaml_event_t ev, item;
	int err = loader_next(l, &ev), type;

	if (err)
		return err;
	type = ev.type;
	if (type == YAML_SCALAR_EVENT) {
		if (event_is_null(&ev))
			err = loader_fail(l, key_line, key,
					  "no value (write \"\" for an empty one)");
		else
			err = add_pair(cf, l, key, (const char *)ev.data.scalar.value, key_line);
		yaml_event_delete(&ev);
		return err;
	}
	yaml_event_delete(&ev);
	if (type != YAML_SEQUENCE_START_EVENT && type != YAML_MAPPING_START_EVENT)
		return loader_fail(l, key_line, key, "expected a value");
	if (!(k->flags & (type == YAML_SEQUENCE_START_EVENT ? CONFIG_FILE_LIST : CONFIG_FILE_MAP)))
		return loader_fail(l, key_line, key, "takes one value, not a %s",
				   type == YAML_SEQUENCE_START_EVENT ? "list" : "mapping");
	while (!err) {
		err = loader_next(l, &item);
		if (err)
			break;
		if (item.type == YAML_SEQUENCE_END_EVENT || item.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&item);
			break;
		}
		if (item.type != YAML_SCALAR_EVENT || event_is_null(&item))
			err = loader_fail(l, event_line(&item), key, "expected a %s of plain values",
					  type == YAML_SEQUENCE_START_EVENT ? "list" : "mapping");
		else if (type == YAML_SEQUENCE_START_EVENT)
			err = add_pair(cf, l, key, (const char *)item.data.scalar.value,
				       event_line(&item));
		else
			err = load_map_entry(cf, l, key, &item);
		yaml_event_delete(&item);
	}
	return err;
}

struct seen_key {
	char *name;
	unsigned line;
};

static int load_mapping(struct config_file *cf, struct loader *l,
			const struct config_file_opts *o)
{
	struct seen_key *seen = NULL;
	size_t n_seen = 0;
	int err = 0;

	while (!err) {
		const struct config_file_key *k;
		const char *near;
		struct seen_key *s;
		yaml_event_t ev;
		unsigned line;
		char *key;

		err = loader_next(l, &ev);
		if (err)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		line = event_line(&ev);
		if (ev.type != YAML_SCALAR_EVENT) {
			yaml_event_delete(&ev);
			err = loader_fail(l, line, NULL, "keys are flag names");
			break;
		}
		key = strdup((const char *)ev.data.scalar.value);
		yaml_event_delete(&ev);
		s = key ? realloc(seen, (n_seen + 1) * sizeof(*seen)) : NULL;
		if (!s) {
			free(key);
			err = -ENOMEM;
			break;
		}
		seen = s;
		seen[n_seen++] = (struct seen_key){ .name = key, .line = line };
		for (size_t i = 0; i + 1 < n_seen && !err; i++)
			if (strcmp(seen[i].name, key) == 0)
				err = loader_fail(l, line, key, "given twice (first at line %u)",
						  seen[i].line);
		if (err)
			break;
		if (strcmp(key, RELABEL_KEY) == 0) {
			err = load_relabel_configs(l, line);
			continue;
		}
		k = find_key(o, key, &near);
		if (!k) {
			err = near ? loader_fail(l, line, key, "unknown key (did you mean %s?)", near)
				   : loader_fail(l, line, key, "unknown key");
			break;
		}
		err = load_value(cf, l, key, k, line);
	}
	for (size_t i = 0; i < n_seen; i++)
		free(seen[i].name);
	free(seen);
	return err;
}

/* Expects an event of the given type and drops it. */
static int expect(struct loader *l, yaml_event_type_t type, yaml_event_type_t *got)
{
	yaml_event_t ev;
	int err = loader_next(l, &ev);

	if (err)
		return err;
	*got = ev.type;
	if (ev.type != type && !(type == YAML_DOCUMENT_START_EVENT &&
				 ev.type == YAML_STREAM_END_EVENT))
		err = loader_fail(l, event_line(&ev), NULL, "%s",
				  ev.type == YAML_DOCUMENT_START_EVENT ? "one YAML document only"
								       : "malformed YAML");
	yaml_event_delete(&ev);
	return err;
}

static int load_document(struct config_file *cf, struct loader *l,
			 const struct config_file_opts *o)
{
	yaml_event_type_t got;
	yaml_event_t ev;
	int err;

	err = expect(l, YAML_STREAM_START_EVENT, &got);
	if (!err)
		err = expect(l, YAML_DOCUMENT_START_EVENT, &got);
	if (err || got == YAML_STREAM_END_EVENT)
		return err; /* an empty file, or comments only */
	err = loader_next(l, &ev); /* the document's root */
	if (err)
		return err;
	if (ev.type == YAML_MAPPING_START_EVENT)
		err = load_mapping(cf, l, o);
	else if (!(ev.type == YAML_SCALAR_EVENT && event_is_null(&ev)))
		err = loader_fail(l, event_line(&ev), NULL,
				  "the file is a mapping of flag names to values");
	yaml_event_delete(&ev);
	if (!err)
		err = expect(l, YAML_DOCUMENT_END_EVENT, &got);
	if (!err)
		err = expect(l, YAML_STREAM_END_EVENT, &got);
	return err;
}

/* The file whole: a regular file, opened without blocking on a FIFO, at most max bytes. */
static int read_file(const char *path, size_t max, char **buf, size_t *len, const char **why)
{
	struct stat st;
	int fd, err;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*why = strerror(errno);
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		*why = "not a regular file";
		goto cleanup;
	}
	err = read_fd_all(fd, max, (void **)buf, len);
	if (err == -EFBIG)
		*why = "larger than a config file should be";
	else if (err)
		*why = strerror(-err);
cleanup:
	close(fd);
	return err;
}

struct config_file *config_file__load(const char *path, const struct config_file_opts *opts,
				      char *err, size_t err_size)
{
	static const struct config_file_opts none = { 0 };
	struct loader l = { .path = path, .err = err, .err_size = err_size };
	const struct config_file_opts *o = opts ? opts : &none;
	struct config_file *cf = NULL;
	const char *why = NULL;
	size_t len = 0;
	char *buf;
	int ret;

	ret = read_file(path, o->max_bytes ? o->max_bytes : DEFAULT_MAX_BYTES, &buf, &len, &why);
	if (ret) {
		snprintf(err, err_size, "%s: %s", path, why);
		errno = -ret;
		return NULL;
	}
	cf = calloc(1, sizeof(*cf));
	l.rules = relabel_rules__new();
	if (!cf || !l.rules || !yaml_parser_initialize(&l.parser)) {
		free(buf);
		free(cf);
		relabel_rules__free(l.rules);
		snprintf(err, err_size, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)buf, len);
	ret = load_document(cf, &l, o);
	yaml_parser_delete(&l.parser);
	free(buf);
	if (!ret && relabel_rules__count(l.rules))
		cf->rules = l.rules;
	else
		relabel_rules__free(l.rules);
	if (ret) {
		if (ret == -ENOMEM && !l.failed)
			snprintf(err, err_size, "%s: out of memory", path);
		config_file__free(cf);
		errno = -ret;
		return NULL;
	}
	return cf;
}

void config_file__free(struct config_file *cf)
{
	if (!cf)
		return;
	for (size_t i = 0; i < cf->n; i++) {
		free(cf->pairs[i].key);
		free(cf->pairs[i].value);
		free(cf->pairs[i].origin);
	}
	free(cf->pairs);
	relabel_rules__free(cf->rules);
	free(cf);
}

size_t config_file__count(const struct config_file *cf)
{
	return cf->n;
}

const struct config_file_pair *config_file__pair(const struct config_file *cf, size_t i)
{
	return i < cf->n ? &cf->pairs[i].pub : NULL;
}

const char *config_file__get(const struct config_file *cf, const char *key)
{
	for (size_t i = 0; i < cf->n; i++)
		if (strcmp(cf->pairs[i].key, key) == 0)
			return cf->pairs[i].value;
	return NULL;
}

const struct relabel_rules *config_file__relabel_rules(const struct config_file *cf)
{
	return cf->rules;
}

struct relabel_rules *config_file__take_relabel_rules(struct config_file *cf)
{
	struct relabel_rules *r = cf->rules;

	cf->rules = NULL;
	return r;
}
