// SPDX-License-Identifier: Apache-2.0
/* relabel_configs in the config file: Prometheus' YAML shape, checked by agent/relabel. */
#include "config_file_impl.h"

#include "relabel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any rule a person writes; more is a mistake worth a clear error. */
#define MAX_SOURCE_LABELS 64

enum field { F_SOURCE_LABELS, F_SEPARATOR, F_REGEX, F_TARGET_LABEL, F_REPLACEMENT, F_ACTION,
	     F_MODULUS, N_FIELDS };

static const char *const field_names[N_FIELDS] = {
	"source_labels", "separator", "regex", "target_label", "replacement", "action", "modulus",
};

struct rule_fields {
	char *value[N_FIELDS];
	unsigned line[N_FIELDS];
	char *sources[MAX_SOURCE_LABELS];
	size_t n_sources;
	bool given[N_FIELDS];
};

static void fields_free(struct rule_fields *f)
{
	for (int i = 0; i < N_FIELDS; i++)
		free(f->value[i]);
	for (size_t i = 0; i < f->n_sources; i++)
		free(f->sources[i]);
}

static int load_sources(struct loader *l, struct rule_fields *f, const char *where)
{
	yaml_event_t ev;
	int err = loader_next(l, &ev);

	if (err)
		return err;
	if (ev.type != YAML_SEQUENCE_START_EVENT) {
		err = loader_fail(l, event_line(&ev), where, "source_labels is a list of label names");
		yaml_event_delete(&ev);
		return err;
	}
	yaml_event_delete(&ev);
	while (!(err = loader_next(l, &ev))) {
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT || event_is_null(&ev))
			err = loader_fail(l, event_line(&ev), where,
					  "source_labels is a list of label names");
		else if (f->n_sources == MAX_SOURCE_LABELS)
			err = loader_fail(l, event_line(&ev), where, "more than %d source_labels",
					  MAX_SOURCE_LABELS);
		else if (!(f->sources[f->n_sources] = strdup((const char *)ev.data.scalar.value)))
			err = -ENOMEM;
		else
			f->n_sources++;
		yaml_event_delete(&ev);
		if (err)
			return err;
	}
	return err;
}

static int load_field(struct loader *l, struct rule_fields *f, enum field which,
		      const char *where)
{
	yaml_event_t ev;
	int err;

	if (which == F_SOURCE_LABELS)
		return load_sources(l, f, where);
	err = loader_next(l, &ev);
	if (err)
		return err;
	if (ev.type != YAML_SCALAR_EVENT || event_is_null(&ev))
		err = loader_fail(l, event_line(&ev), where, "%s takes one plain value",
				  field_names[which]);
	else if (!(f->value[which] = strdup((const char *)ev.data.scalar.value)))
		err = -ENOMEM;
	yaml_event_delete(&ev);
	return err;
}

/* The fields of one rule, up to its end. */
static int load_fields(struct loader *l, struct rule_fields *f, const char *where)
{
	yaml_event_t ev;
	int err;

	while (!(err = loader_next(l, &ev))) {
		unsigned line = event_line(&ev);
		int which = -1;

		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		for (int i = 0; ev.type == YAML_SCALAR_EVENT && i < N_FIELDS; i++)
			if (strcmp((const char *)ev.data.scalar.value, field_names[i]) == 0)
				which = i;
		if (which < 0) {
			err = ev.type == YAML_SCALAR_EVENT
				      ? loader_fail(l, line, where, "unknown field '%.64s'",
						    (const char *)ev.data.scalar.value)
				      : loader_fail(l, line, where, "fields are names");
			yaml_event_delete(&ev);
			return err;
		}
		yaml_event_delete(&ev);
		if (f->given[which])
			return loader_fail(l, line, where, "%s given twice (first at line %u)",
					   field_names[which], f->line[which]);
		f->given[which] = true;
		f->line[which] = line;
		err = load_field(l, f, (enum field)which, where);
		if (err)
			return err;
	}
	return err;
}

static int load_rule(struct loader *l, size_t index, unsigned line)
{
	struct rule_fields f = { 0 };
	struct relabel_error rerr;
	char where[48];
	int err;

	snprintf(where, sizeof(where), "relabel_configs[%zu]", index);
	err = load_fields(l, &f, where);
	if (!err) {
		struct relabel_rule_opts o = {
			.source_labels = f.given[F_SOURCE_LABELS] ? (const char *const *)f.sources
								  : NULL,
			.n_source_labels = f.n_sources,
			.separator = f.value[F_SEPARATOR],
			.regex = f.value[F_REGEX],
			.target_label = f.value[F_TARGET_LABEL],
			.replacement = f.value[F_REPLACEMENT],
			.action = f.value[F_ACTION],
			.has_modulus = f.given[F_MODULUS],
		};
		static const char *const empty[1];

		/* "source_labels: []" is given, and empty: Prometheus tells it from absent */
		if (f.given[F_SOURCE_LABELS] && !f.n_sources)
			o.source_labels = empty;
		err = relabel_rules__add(l->rules, &o, &rerr);
		if (err == -EINVAL) {
			unsigned at = line;

			for (int i = 0; i < N_FIELDS; i++)
				if (f.given[i] && rerr.field && !strcmp(rerr.field, field_names[i]))
					at = f.line[i];
			snprintf(where, sizeof(where), "relabel_configs[%zu].%s", index,
				 rerr.field ? rerr.field : "");
			err = loader_fail(l, at, where, "%s", rerr.message);
		}
	}
	fields_free(&f);
	return err;
}

int load_relabel_configs(struct loader *l, unsigned line)
{
	yaml_event_t ev;
	size_t index = 0;
	int err = loader_next(l, &ev);

	if (err)
		return err;
	if (ev.type != YAML_SEQUENCE_START_EVENT) {
		yaml_event_delete(&ev);
		return loader_fail(l, line, "relabel_configs", "expected a list of rules");
	}
	yaml_event_delete(&ev);
	while (!(err = loader_next(l, &ev))) {
		unsigned at = event_line(&ev);
		int type = ev.type;

		yaml_event_delete(&ev);
		if (type == YAML_SEQUENCE_END_EVENT)
			return 0;
		if (type != YAML_MAPPING_START_EVENT)
			return loader_fail(l, at, "relabel_configs", "each rule is a mapping");
		err = load_rule(l, index++, at);
		if (err)
			return err;
	}
	return err;
}
