/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the config file reader: the parser state its two files share. */
#ifndef FORNAX_CONFIG_FILE_IMPL_H
#define FORNAX_CONFIG_FILE_IMPL_H

#include "config_file.h"

#include <stdbool.h>
#include <yaml.h>

struct loader {
	yaml_parser_t parser;
	const char *path;
	struct relabel_rules *rules;
	char *err;
	size_t err_size;
	bool failed;
};

/* Records the first error, "PATH:LINE: KEY: what" (key NULL: none). Returns -EINVAL. */
int loader_fail(struct loader *l, unsigned line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The next event, checked (no aliases, no foreign tags). 0 or -EINVAL. */
int loader_next(struct loader *l, yaml_event_t *ev);
/* 1-based line of an event. */
unsigned event_line(const yaml_event_t *ev);
/* Whether a scalar event is YAML's null (~, null, or nothing, unquoted). */
bool event_is_null(const yaml_event_t *ev);

/* The value of relabel_configs, after its key: a list of rules, each added to l->rules. */
int load_relabel_configs(struct loader *l, unsigned line);

#endif /* FORNAX_CONFIG_FILE_IMPL_H */
