/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's YAML config file (--config). Its keys are the long flag
 * names, so one option table serves the command line, the environment and
 * the file; this module only reads the file into (flag, value) pairs in
 * file order, plus the relabel_configs, and leaves each value's meaning to
 * that table:
 *
 *   frequency: 99                 a flag and its value
 *   icicle: true                  a switch, as its FORNAX_ twin takes it
 *   output: ""                    an empty value (a bare "output:" is an error)
 *   pid: [1, 2]                   a repeatable flag: one pair per item
 *   label: {env: prod, team: a}   a KEY=VALUE flag: one pair per entry
 *   relabel_configs:              Prometheus rules (agent/relabel/)
 *     - source_labels: [__meta_kubernetes_namespace]
 *       regex: kube-system
 *       action: drop
 *
 * Every error names the file, the line and the key ("fornax.yaml:12:
 * frequncy: unknown key (did you mean frequency?)"), and each pair carries
 * an origin in the same form for the option table's own messages. The file
 * is read whole with a size bound, from a regular file only; YAML aliases,
 * several documents and tags other than YAML's own are refused.
 */
#ifndef FORNAX_CONFIG_FILE_H
#define FORNAX_CONFIG_FILE_H

#include <stddef.h>

struct relabel_rules;

enum config_file_key_flags {
	CONFIG_FILE_LIST = 1, /* a YAML list gives one pair per item (repeatable flags) */
	CONFIG_FILE_MAP = 2,  /* a YAML mapping gives "KEY=VALUE" pairs (--label) */
};

struct config_file_key {
	const char *name; /* long flag name, without "--" */
	unsigned flags;
};

struct config_file_opts {
	/* The keys the file may hold; NULL: any (relabel_configs is always known). */
	const struct config_file_key *keys;
	size_t n_keys;
	size_t max_bytes; /* 0: 1 MiB */
};

struct config_file_pair {
	const char *key;
	const char *value;
	unsigned line;
	const char *origin; /* "PATH:LINE: KEY", for messages about the value */
};

struct config_file;

/*
 * Reads and checks the file. NULL with errno set and err (one line, naming
 * file, line and key) filled: ENOENT, EACCES..., EINVAL (not a regular
 * file, bad YAML, unknown key, a bad relabel rule), EFBIG (over max_bytes),
 * ENOMEM.
 */
struct config_file *config_file__load(const char *path, const struct config_file_opts *opts,
				      char *err, size_t err_size);
void config_file__free(struct config_file *cf);

size_t config_file__count(const struct config_file *cf);
const struct config_file_pair *config_file__pair(const struct config_file *cf, size_t i);
/* The first value given for key, or NULL. */
const char *config_file__get(const struct config_file *cf, const char *key);

/* The relabel_configs (NULL when the file has none); cf keeps them. */
const struct relabel_rules *config_file__relabel_rules(const struct config_file *cf);
/* The same, handed over: the caller frees them (relabel_rules__free()). */
struct relabel_rules *config_file__take_relabel_rules(struct config_file *cf);

#endif /* FORNAX_CONFIG_FILE_H */
