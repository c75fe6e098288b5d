/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside config: the option table (options.c, store_options.c), the value
 * parsers every option shares (values.c) and the engine that reads the
 * environment, then the command line (config.c). Not for other modules.
 */
#ifndef FORNAX_CONFIG_IMPL_H
#define FORNAX_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "timeconst.h"

/* A capture reads its one profile: enough samples in seconds. A daemon costs little. */
#define DEFAULT_CAPTURE_FREQUENCY 99
#define DEFAULT_CONTINUOUS_FREQUENCY 19
#define MAX_FREQUENCY 100000
#define DEFAULT_INTERVAL_NS (10 * NSEC_PER_SEC)
#define DEFAULT_DRAIN_INTERVAL_NS (1 * NSEC_PER_SEC)
#define MIN_INTERVAL_NS (100 * NSEC_PER_MSEC)
#define MIN_DRAIN_INTERVAL_NS (10 * NSEC_PER_MSEC)
#define DEFAULT_MAX_FILES 360
#define MAX_STACKS_LIMIT (1u << 24)
#define DEFAULT_DEBUGINFOD_CACHE "/var/cache/fornax/debuginfod"
#define DEFAULT_UNWIND_CACHE "/var/cache/fornax/unwind"
#define DEFAULT_UNWIND_CACHE_SIZE (256ULL << 20)
#define MIN_UNWIND_CACHE_SIZE (1ULL << 20)
#define MAX_UNWIND_CACHE_SIZE (1ULL << 40)
#define DEFAULT_DEBUGINFOD_TIMEOUT_NS (5 * NSEC_PER_SEC)
#define MAX_DEBUGINFOD_TIMEOUT_NS (600 * NSEC_PER_SEC)
/* One page of rows (bpf/unwind.h) up to what a map-in-map of pages can name. */
#define MIN_UNWIND_MEMORY (1ULL << 20)
#define MAX_UNWIND_MEMORY (1ULL << 40)
#define MIN_PERF_MAP_MEMORY (1ULL << 20)
#define MAX_PERF_MAP_MEMORY (1ULL << 40)
#define MIN_DEBUG_INFO_MEMORY (1ULL << 20)
#define MAX_DEBUG_INFO_MEMORY (1ULL << 40)
#define DEFAULT_STORE_TIMEOUT_NS (30 * NSEC_PER_SEC)
#define DEFAULT_STORE_CONNECT_TIMEOUT_NS (5 * NSEC_PER_SEC)
#define MIN_STORE_TIMEOUT_NS (100 * NSEC_PER_MSEC)
#define DEFAULT_SPOOL_MAX_BYTES (256ULL << 20)
#define MIN_SPOOL_MAX_BYTES (4ULL << 10)
#define DEFAULT_STORE_QUEUE 4
#define MAX_STORE_QUEUE 4096

enum option_kind {
	OPT_VALUE, /* takes an argument */
	OPT_BOOL,  /* a switch; its environment twin takes true/false */
	OPT_COUNT, /* repeatable switch (-v); its environment twin takes a number */
};

/* origin names the flag or variable in error messages: "--frequency", "FORNAX_FREQUENCY". */
typedef int (*apply_fn)(struct config *cfg, const char *value, const char *origin);

struct option_spec {
	const char *name;
	int short_name;
	enum option_kind kind;
	apply_fn apply;
	const char *metavar;
	const char *help;
	unsigned flags; /* enum option_flags */
};

enum option_flags {
	OPT_CONVERT = 1 << 0, /* an option of `fornax convert` too */
	OPT_NO_ENV = 1 << 1,  /* no environment twin (--help, --version) */
	OPT_CONVERT_ONLY = 1 << 2, /* of `fornax convert` alone (with OPT_CONVERT) */
};

/* Every option, in the order --help lists them. */
extern const struct option_spec config_options[];
extern const size_t config_n_options;
/* "FORNAX_" and the option's name in capitals, dashes as underscores. */
void config_env_name(const struct option_spec *spec, char *buf, size_t size);
/* What an option does for `fornax convert` where that differs from a capture; else NULL. */
const char *config_convert_help(const struct option_spec *spec);

/* values.c */

/* Prints "fornax: ORIGIN: 'VALUE' WHY" (control characters escaped) and returns -EINVAL. */
int config_invalid(const char *origin, const char *value, const char *why);
/* Decimal digits only, in [min, max]. 0, -EINVAL or -ERANGE. */
int config_parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out);
/* 1/true/yes/on, 0/false/no/off. 0 or -EINVAL. */
int config_parse_bool(const char *s, bool *out);
/* A duration of at least min_ns into *out, or the error printed. */
int config_apply_duration(const char *value, const char *origin, __u64 min_ns, __u64 *out);
/* A switch (value NULL) or its environment twin's true/false: *field is set_to or not. */
int config_apply_bool(bool *field, bool set_to, const char *value, const char *origin);
/* Replaces *field with a copy of value. 0 or -ENOMEM. */
int config_set_string(char **field, const char *value);
/* Store-only flags remember that they were given: without --store they are a mistake. */
void config_saw_store_flag(struct config *cfg, const char *origin);

/* options.c */
int config_add_output(struct config *cfg, const char *path, const char *origin);
void config_free_outputs(struct config *cfg);

/* store_options.c */
int apply_store(struct config *cfg, const char *value, const char *origin);
int apply_label(struct config *cfg, const char *value, const char *origin);
int apply_service_name(struct config *cfg, const char *value, const char *origin);
int apply_tenant(struct config *cfg, const char *value, const char *origin);
int apply_bearer_token_file(struct config *cfg, const char *value, const char *origin);
int apply_ca_file(struct config *cfg, const char *value, const char *origin);
int apply_insecure_skip_verify(struct config *cfg, const char *value, const char *origin);
int apply_spool_dir(struct config *cfg, const char *value, const char *origin);
int apply_spool_max_bytes(struct config *cfg, const char *value, const char *origin);
int apply_store_timeout(struct config *cfg, const char *value, const char *origin);
int apply_store_connect_timeout(struct config *cfg, const char *value, const char *origin);
int apply_store_queue(struct config *cfg, const char *value, const char *origin);
/* After parsing: the store flags make sense together (and without a store, none is given). */
int config_finish_store(struct config *cfg);

/* ops_options.c */
int apply_config(struct config *cfg, const char *value, const char *origin);
int apply_http_address(struct config *cfg, const char *value, const char *origin);
int apply_kubernetes(struct config *cfg, const char *value, const char *origin);
int apply_kubernetes_api(struct config *cfg, const char *value, const char *origin);
int apply_node_name(struct config *cfg, const char *value, const char *origin);
/* Applies the pairs of cfg->config_path and keeps its relabel rules; the error printed. */
int config_apply_file(struct config *cfg);
int config_finish_kubernetes(struct config *cfg, char **envp);

#endif /* FORNAX_CONFIG_IMPL_H */
