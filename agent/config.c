// SPDX-License-Identifier: Apache-2.0
#include "config.h"
#include "flamegraph.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "unwind.h"

#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

#define DEFAULT_FREQUENCY 19
#define MAX_FREQUENCY 100000
#define DEFAULT_INTERVAL_NS (10 * NSEC_PER_SEC)
#define DEFAULT_DRAIN_INTERVAL_NS (1 * NSEC_PER_SEC)
#define MIN_INTERVAL_NS (100 * NSEC_PER_MSEC)
#define MIN_DRAIN_INTERVAL_NS (10 * NSEC_PER_MSEC)
#define DEFAULT_MAX_FILES 360
#define MAX_STACKS_LIMIT (1u << 24)
#define DEFAULT_DEBUGINFOD_CACHE "/var/cache/fornax/debuginfod"
#define DEFAULT_DEBUGINFOD_TIMEOUT_NS (5 * NSEC_PER_SEC)
#define MAX_DEBUGINFOD_TIMEOUT_NS (600 * NSEC_PER_SEC)
/* One page of rows (bpf/unwind.h) up to what a map-in-map of pages can name. */
#define MIN_UNWIND_MEMORY (1ULL << 20)
#define MAX_UNWIND_MEMORY (1ULL << 40)
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
};

static int invalid(const char *origin, const char *value, const char *why)
{
	char shown[256];
	size_t n = 0;

	/* One line, whatever the value holds: control characters are shown escaped. */
	for (const char *p = value ? value : ""; *p && n + 5 < sizeof(shown); p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			n += snprintf(shown + n, sizeof(shown) - n, "\\x%02x", (unsigned char)*p);
		else
			shown[n++] = *p;
	}
	shown[n] = '\0';
	fprintf(stderr, "fornax: %s: %s%s%s%s\n", origin, value ? "'" : "", shown,
		value ? "' " : "", why);
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config__parse_duration(const char *s, __u64 *ns)
{
	static const struct {
		const char *suffix;
		__u64 ns;
	} units[] = {
		/* "ms" before "m" and "s" so the longest suffix wins. */
		{ "ms", NSEC_PER_MSEC },
		{ "s", NSEC_PER_SEC },
		{ "m", 60 * NSEC_PER_SEC },
		{ "h", 3600 * NSEC_PER_SEC },
	};
	__u64 total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		unsigned long long v;
		char *end;
		size_t i;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno)
			return -ERANGE;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].suffix);

			if (strncmp(end, units[i].suffix, len) == 0 &&
			    !isalpha((unsigned char)end[len]))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		if (v > (UINT64_MAX - total) / units[i].ns)
			return -ERANGE;
		total += v * units[i].ns;
		p = end + strlen(units[i].suffix);
	}
	*ns = total;
	return 0;
}

static int apply_duration_value(const char *value, const char *origin, __u64 min_ns, __u64 *out)
{
	int err = config__parse_duration(value, out);

	if (err == -ERANGE)
		return invalid(origin, value, "is too large");
	if (err)
		return invalid(origin, value, "is not a duration (use e.g. 500ms, 30s, 2m)");
	if (*out < min_ns) {
		char why[64];

		snprintf(why, sizeof(why), "is too short (minimum %llums)",
			 (unsigned long long)(min_ns / NSEC_PER_MSEC));
		return invalid(origin, value, why);
	}
	return 0;
}

static int apply_duration(struct config *cfg, const char *value, const char *origin)
{
	return apply_duration_value(value, origin, MIN_DRAIN_INTERVAL_NS, &cfg->duration_ns);
}

static int apply_interval(struct config *cfg, const char *value, const char *origin)
{
	return apply_duration_value(value, origin, MIN_INTERVAL_NS, &cfg->interval_ns);
}

static int apply_drain_interval(struct config *cfg, const char *value, const char *origin)
{
	return apply_duration_value(value, origin, MIN_DRAIN_INTERVAL_NS, &cfg->drain_interval_ns);
}

static int apply_frequency(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[64];

	if (parse_uint(value, 1, MAX_FREQUENCY, &v) == 0) {
		cfg->frequency = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a frequency in Hz (1..%d)", MAX_FREQUENCY);
	return invalid(origin, value, why);
}

static int add_pid(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	__u32 *pids;

	if (parse_uint(value, 1, INT_MAX, &v))
		return invalid(origin, value, "is not a process id");
	pids = realloc(cfg->pids, (cfg->n_pids + 1) * sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	pids[cfg->n_pids++] = v;
	cfg->pids = pids;
	return 0;
}

/* Repeatable on the command line; a comma-separated list in the environment. */
static int apply_pid(struct config *cfg, const char *value, const char *origin)
{
	char *copy, *tok, *save = NULL;
	int err = 0;

	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	if (!*copy)
		err = invalid(origin, value, "is not a process id");
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add_pid(cfg, tok, origin);
	free(copy);
	return err;
}

static int apply_bool(bool *field, bool set_to, const char *value, const char *origin)
{
	bool v;

	if (!value) {
		*field = set_to;
		return 0;
	}
	if (parse_bool(value, &v))
		return invalid(origin, value, "is not a boolean (true/false)");
	*field = v ? set_to : !set_to;
	return 0;
}

static int apply_kernel(struct config *cfg, const char *value, const char *origin)
{
	return apply_bool(&cfg->kernel_stacks, true, value, origin);
}

static int apply_no_kernel(struct config *cfg, const char *value, const char *origin)
{
	return apply_bool(&cfg->kernel_stacks, false, value, origin);
}

static int apply_include_idle(struct config *cfg, const char *value, const char *origin)
{
	return apply_bool(&cfg->include_idle, true, value, origin);
}

static void free_outputs(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_outputs; i++)
		free(cfg->outputs[i].path);
	free(cfg->outputs);
	cfg->outputs = NULL;
	cfg->n_outputs = 0;
}

static int add_output(struct config *cfg, const char *path, const char *origin)
{
	struct config_output *grown;
	char *copy;

	if (!*path)
		return invalid(origin, NULL, "needs a path");
	for (size_t i = 0; i < cfg->n_outputs; i++)
		if (strcmp(cfg->outputs[i].path, path) == 0)
			return invalid(origin, path, "is given twice");
	copy = strdup(path);
	grown = copy ? reallocarray(cfg->outputs, cfg->n_outputs + 1, sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	grown[cfg->n_outputs++] = (struct config_output){ .path = copy };
	cfg->outputs = grown;
	return 0;
}

/*
 * Repeatable: each -o is one more file from the same capture. The
 * environment takes a comma-separated list, which the first -o on the
 * command line replaces (the command line wins).
 */
static int apply_output(struct config *cfg, const char *value, const char *origin)
{
	bool from_env = strncmp(origin, "FORNAX_", 7) == 0;
	char *copy, *tok, *save = NULL;
	int err = 0;

	if (!from_env) {
		if (cfg->outputs_from_env)
			free_outputs(cfg);
		cfg->outputs_from_env = false;
		return add_output(cfg, value, origin);
	}
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	cfg->outputs_from_env = true;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add_output(cfg, tok, origin);
	if (!err && !cfg->n_outputs)
		err = invalid(origin, NULL, "needs a path");
	free(copy);
	return err;
}

static int apply_format(struct config *cfg, const char *value, const char *origin)
{
	if (strcmp(value, "pprof") == 0)
		cfg->format = OUTPUT_FORMAT_PPROF;
	else if (strcmp(value, "folded") == 0)
		cfg->format = OUTPUT_FORMAT_FOLDED;
	else if (strcmp(value, "svg") == 0)
		cfg->format = OUTPUT_FORMAT_SVG;
	else
		return invalid(origin, value, "is not a format (pprof, folded, svg)");
	return 0;
}

static int apply_title(struct config *cfg, const char *value, const char *origin)
{
	char *copy;

	if (!*value)
		return invalid(origin, NULL, "needs a title");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(cfg->title);
	cfg->title = copy;
	return 0;
}

static int apply_width(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[64];

	if (parse_uint(value, FLAMEGRAPH_MIN_WIDTH, FLAMEGRAPH_MAX_WIDTH, &v) == 0) {
		cfg->width = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a width in pixels (%d..%d)", FLAMEGRAPH_MIN_WIDTH,
		 FLAMEGRAPH_MAX_WIDTH);
	return invalid(origin, value, why);
}

static int apply_icicle(struct config *cfg, const char *value, const char *origin)
{
	return apply_bool(&cfg->icicle, true, value, origin);
}

static int apply_top(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;

	if (parse_uint(value, 0, 100000, &v))
		return invalid(origin, value, "is not a number of functions (0 hides the summary)");
	cfg->top = (int)v;
	return 0;
}

static int apply_max_files(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;

	if (parse_uint(value, 0, UINT_MAX, &v))
		return invalid(origin, value, "is not a number of files (0 keeps all)");
	cfg->max_files = v;
	return 0;
}

static int apply_max_stacks(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[80];

	if (parse_uint(value, 64, MAX_STACKS_LIMIT, &v) == 0) {
		cfg->max_stacks = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a stack count (64..%u)", MAX_STACKS_LIMIT);
	return invalid(origin, value, why);
}

/* Repeatable on the command line; a comma-separated list in the environment. */
static int apply_cgroup(struct config *cfg, const char *value, const char *origin)
{
	char *copy, *tok, *save = NULL;
	int err = 0;

	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	if (!*copy)
		err = invalid(origin, NULL, "needs a cgroup path");
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		const char *why;

		err = cgroup_filter__add(&cfg->cgroups, tok, &why);
		if (err && err != -ENOMEM)
			err = invalid(origin, tok, why ? why : "is not a cgroup");
	}
	free(copy);
	return err;
}

/* Repeatable on the command line; a ':'-separated list in the environment. */
static int apply_debug_dir(struct config *cfg, const char *value, const char *origin)
{
	char *copy, *tok, *save = NULL, *joined;
	int err = 0;

	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	if (!*copy)
		err = invalid(origin, NULL, "needs a directory");
	for (tok = strtok_r(copy, ":", &save); tok && !err; tok = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (tok[0] != '/')
			err = invalid(origin, tok, "is not an absolute path");
		else if (stat(tok, &st) != 0 || !S_ISDIR(st.st_mode))
			err = invalid(origin, tok, "is not a directory");
		if (err)
			break;
		if (asprintf(&joined, "%s%s%s", cfg->debug_dirs ? cfg->debug_dirs : "",
			     cfg->debug_dirs ? ":" : "", tok) < 0) {
			err = -ENOMEM;
			break;
		}
		free(cfg->debug_dirs);
		cfg->debug_dirs = joined;
	}
	free(copy);
	return err;
}

/* Server URLs, separated by spaces or commas: http:// or https:// only. */
static int apply_debuginfod(struct config *cfg, const char *value, const char *origin)
{
	char *copy, *tok, *save = NULL, *joined;
	int err = 0;

	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " ,", &save); tok && !err; tok = strtok_r(NULL, " ,", &save)) {
		if ((strncmp(tok, "http://", 7) != 0 || !tok[7]) &&
		    (strncmp(tok, "https://", 8) != 0 || !tok[8])) {
			err = invalid(origin, tok, "is not a debuginfod server URL (http:// or https://)");
			break;
		}
		if (asprintf(&joined, "%s%s%s", cfg->debuginfod_urls ? cfg->debuginfod_urls : "",
			     cfg->debuginfod_urls ? " " : "", tok) < 0) {
			err = -ENOMEM;
			break;
		}
		free(cfg->debuginfod_urls);
		cfg->debuginfod_urls = joined;
	}
	if (!err && !cfg->debuginfod_urls)
		err = invalid(origin, NULL, "needs a server URL");
	free(copy);
	return err;
}

static int apply_debuginfod_cache(struct config *cfg, const char *value, const char *origin)
{
	char *copy;

	if (value[0] != '/')
		return invalid(origin, value, "is not an absolute path");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(cfg->debuginfod_cache);
	cfg->debuginfod_cache = copy;
	return 0;
}

static int apply_debuginfod_timeout(struct config *cfg, const char *value, const char *origin)
{
	int err = apply_duration_value(value, origin, NSEC_PER_SEC, &cfg->debuginfod_timeout_ns);

	if (!err && cfg->debuginfod_timeout_ns > MAX_DEBUGINFOD_TIMEOUT_NS)
		return invalid(origin, value, "is too long (maximum 10m)");
	return err;
}

static int apply_unwind(struct config *cfg, const char *value, const char *origin)
{
	if (strcmp(value, "auto") == 0)
		cfg->unwind_mode = FORNAX_UNWIND_AUTO;
	else if (strcmp(value, "dwarf") == 0)
		cfg->unwind_mode = FORNAX_UNWIND_DWARF;
	else if (strcmp(value, "fp") == 0)
		cfg->unwind_mode = FORNAX_UNWIND_FP;
	else
		return invalid(origin, value, "is not an unwind method (auto, dwarf, fp)");
	return 0;
}

static int apply_python(struct config *cfg, const char *value, const char *origin)
{
	if (strcmp(value, "auto") == 0)
		cfg->python = true;
	else if (strcmp(value, "off") == 0)
		cfg->python = false;
	else
		return invalid(origin, value, "is not a Python mode (auto, off)");
	return 0;
}

/* "64M", "1G", "524288": bytes, with binary K/M/G/T suffixes. */
static int apply_unwind_memory(struct config *cfg, const char *value, const char *origin)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v, scale = 1;
	const char *unit;
	char *end;

	if (!isdigit((unsigned char)*value))
		goto bad;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno)
		goto bad;
	if (*end) {
		unit = strchr(suffixes, toupper((unsigned char)*end));
		if (!unit || (end[1] && strcasecmp(end + 1, "iB") && strcasecmp(end + 1, "B")))
			goto bad;
		scale = 1ULL << (10 * (unit - suffixes + 1));
	}
	if (v > MAX_UNWIND_MEMORY / scale || v * scale < MIN_UNWIND_MEMORY)
		goto bad;
	cfg->unwind_memory = v * scale;
	return 0;
bad:
	return invalid(origin, value, "is not a size from 1M to 1T (e.g. 64M, 1G)");
}

/* Store-only flags remember that they were given: without --store they are a mistake. */
static void saw_store_flag(struct config *cfg, const char *origin)
{
	if (!cfg->store_flag_seen[0])
		snprintf(cfg->store_flag_seen, sizeof(cfg->store_flag_seen), "%s", origin);
}

static int set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static int apply_store(struct config *cfg, const char *value, const char *origin)
{
	struct store_url url;
	const char *why = "";
	int err = store__parse_url(value, &url, &why);

	if (err == -ENOMEM)
		return err;
	if (err)
		return invalid(origin, value, why);
	free(url.base);
	return set_string(&cfg->store, value);
}

static int add_label(struct config *cfg, const char *pair, const char *origin)
{
	const char *eq = strchr(pair, '='), *why = "";
	struct config_label *grown;
	char *name, *value;
	char msg[160];

	saw_store_flag(cfg, origin);
	if (!eq || eq == pair)
		return invalid(origin, pair, "is not a label (key=value)");
	name = strndup(pair, eq - pair);
	if (!name)
		return -ENOMEM;
	if (store__check_label_name(name, &why)) {
		snprintf(msg, sizeof(msg), "has a label name that %s", why);
		free(name);
		return invalid(origin, pair, msg);
	}
	/* Set per process by fornax, or by a flag of their own. */
	if (strcmp(name, "pid") == 0 || strcmp(name, "comm") == 0 ||
	    strcmp(name, "executable") == 0 || strcmp(name, "service_name") == 0) {
		snprintf(msg, sizeof(msg), "sets '%s', which fornax sets per process%s", name,
			 strcmp(name, "service_name") == 0 ? " (use --service-name)" : "");
		free(name);
		return invalid(origin, pair, msg);
	}
	for (size_t i = 0; i < cfg->n_labels; i++) {
		if (strcmp(cfg->labels[i].name, name) == 0) {
			snprintf(msg, sizeof(msg), "sets label '%s' a second time", name);
			free(name);
			return invalid(origin, pair, msg);
		}
	}
	if (store__check_label_value(eq + 1, &why)) {
		snprintf(msg, sizeof(msg), "has a value that %s", why);
		free(name);
		return invalid(origin, pair, msg);
	}
	value = strdup(eq + 1);
	grown = reallocarray(cfg->labels, cfg->n_labels + 1, sizeof(*grown));
	if (!value || !grown) {
		free(name);
		free(value);
		if (grown)
			cfg->labels = grown;
		return -ENOMEM;
	}
	cfg->labels = grown;
	cfg->labels[cfg->n_labels++] = (struct config_label){ .name = name, .value = value };
	return 0;
}

/* Repeatable on the command line; a comma-separated list in the environment. */
static int apply_label(struct config *cfg, const char *value, const char *origin)
{
	char *copy, *tok, *save = NULL;
	int err = 0;

	if (!*value)
		return invalid(origin, NULL, "needs key=value");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add_label(cfg, tok, origin);
	free(copy);
	return err;
}

static int apply_service_name(struct config *cfg, const char *value, const char *origin)
{
	const char *why = "";

	saw_store_flag(cfg, origin);
	if (store__check_label_value(value, &why))
		return invalid(origin, value, why);
	return set_string(&cfg->service_name, value);
}

static int apply_tenant(struct config *cfg, const char *value, const char *origin)
{
	const char *why = "";

	saw_store_flag(cfg, origin);
	if (store__check_tenant(value, &why))
		return invalid(origin, value, why);
	return set_string(&cfg->tenant, value);
}

static int apply_bearer_token_file(struct config *cfg, const char *value, const char *origin)
{
	const char *why = "";
	char *token = NULL, msg[160];
	int err;

	saw_store_flag(cfg, origin);
	if (!*value)
		return invalid(origin, NULL, "needs a path");
	/* Read now so a missing or malformed file stops the start, not the first upload. */
	err = store__read_token(value, &token, &why);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (err == -ENOMEM)
		return err;
	if (err) {
		snprintf(msg, sizeof(msg), "%s", err == -EINVAL ? why : strerror(-err));
		return invalid(origin, value, msg);
	}
	return set_string(&cfg->bearer_token_file, value);
}

static int apply_ca_file(struct config *cfg, const char *value, const char *origin)
{
	char msg[160];

	saw_store_flag(cfg, origin);
	if (!*value)
		return invalid(origin, NULL, "needs a path");
	if (access(value, R_OK) < 0) {
		snprintf(msg, sizeof(msg), "cannot be read: %s", strerror(errno));
		return invalid(origin, value, msg);
	}
	return set_string(&cfg->ca_file, value);
}

static int apply_insecure_skip_verify(struct config *cfg, const char *value, const char *origin)
{
	saw_store_flag(cfg, origin);
	return apply_bool(&cfg->insecure_skip_verify, true, value, origin);
}

static int apply_spool_dir(struct config *cfg, const char *value, const char *origin)
{
	saw_store_flag(cfg, origin);
	if (!*value)
		return invalid(origin, NULL, "needs a path");
	return set_string(&cfg->spool_dir, value);
}

/* "256M", "1G", "512KiB", "1048576": binary units. */
static int parse_size(const char *s, __u64 *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },	  { "B", 0 },	  { "K", 10 },	  { "KB", 10 },	  { "KiB", 10 },
		{ "k", 10 },	  { "M", 20 },	  { "MB", 20 },	  { "MiB", 20 },  { "G", 30 },
		{ "GB", 30 },	  { "GiB", 30 },  { "T", 40 },	  { "TB", 40 },	  { "TiB", 40 },
	};
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > (UINT64_MAX >> units[i].shift))
				return -ERANGE;
			*out = (__u64)v << units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

static int apply_spool_max_bytes(struct config *cfg, const char *value, const char *origin)
{
	__u64 v;

	saw_store_flag(cfg, origin);
	if (parse_size(value, &v))
		return invalid(origin, value, "is not a size (e.g. 64M, 1G)");
	if (v < MIN_SPOOL_MAX_BYTES)
		return invalid(origin, value, "is too small (minimum 4K)");
	cfg->spool_max_bytes = v;
	return 0;
}

static int apply_store_timeout(struct config *cfg, const char *value, const char *origin)
{
	saw_store_flag(cfg, origin);
	return apply_duration_value(value, origin, MIN_STORE_TIMEOUT_NS, &cfg->store_timeout_ns);
}

static int apply_store_connect_timeout(struct config *cfg, const char *value, const char *origin)
{
	saw_store_flag(cfg, origin);
	return apply_duration_value(value, origin, MIN_STORE_TIMEOUT_NS,
				    &cfg->store_connect_timeout_ns);
}

static int apply_store_queue(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[64];

	saw_store_flag(cfg, origin);
	if (parse_uint(value, 1, MAX_STORE_QUEUE, &v) == 0) {
		cfg->store_queue = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a number of windows (1..%d)", MAX_STORE_QUEUE);
	return invalid(origin, value, why);
}

static int apply_verbose(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;

	if (!value) {
		cfg->verbosity++;
		return 0;
	}
	if (parse_uint(value, 0, 2, &v))
		return invalid(origin, value, "is not a verbosity level (0..2)");
	cfg->verbosity = v;
	return 0;
}

static int apply_quiet(struct config *cfg, const char *value, const char *origin)
{
	bool quiet = true;

	if (value && parse_bool(value, &quiet))
		return invalid(origin, value, "is not a boolean (true/false)");
	if (quiet)
		cfg->verbosity = -1;
	return 0;
}

static int apply_help(struct config *cfg, const char *value, const char *origin)
{
	(void)value;
	(void)origin;
	cfg->show_help = true;
	return 0;
}

static int apply_version(struct config *cfg, const char *value, const char *origin)
{
	(void)value;
	(void)origin;
	cfg->show_version = true;
	return 0;
}

static const struct option_spec option_specs[] = {
	{ "duration", 'd', OPT_VALUE, apply_duration, "DURATION",
	  "capture once for DURATION (500ms, 30s, 2m) and write one profile, then exit" },
	{ "output", 'o', OPT_VALUE, apply_output, "PATH",
	  "with --duration: a file to write, repeatable: -o p.pb.gz -o flame.svg (default "
	  "fornax.pb.gz); otherwise: the directory that receives one profile per interval "
	  "(default fornax-profiles)" },
	{ "format", 0, OPT_VALUE, apply_format, "FORMAT",
	  "pprof (gzipped), folded (collapsed stacks) or svg (flame graph); default: from the "
	  "file extension (.folded, .txt: folded; .svg: svg), else pprof" },
	{ "title", 0, OPT_VALUE, apply_title, "TEXT", "flame graph title" },
	{ "width", 0, OPT_VALUE, apply_width, "PX", "flame graph width in pixels (default 1200)" },
	{ "icicle", 0, OPT_BOOL, apply_icicle, NULL,
	  "flame graph drawn top-down: callers above their callees" },
	{ "top", 0, OPT_VALUE, apply_top, "N",
	  "after a capture, print the N functions with the most samples on stderr; 0 hides it "
	  "(default 10)" },
	{ "frequency", 'F', OPT_VALUE, apply_frequency, "HZ", "samples per second per CPU (default 19)" },
	{ "pid", 'p', OPT_VALUE, apply_pid, "PID",
	  "profile only this process; repeatable (environment: comma-separated)" },
	{ "kernel", 0, OPT_BOOL, apply_kernel, NULL, "collect kernel stacks (default)" },
	{ "no-kernel", 0, OPT_BOOL, apply_no_kernel, NULL, "user stacks only" },
	{ "include-idle", 0, OPT_BOOL, apply_include_idle, NULL,
	  "keep samples of the idle task (CPU time spent idle)" },
	{ "interval", 'i', OPT_VALUE, apply_interval, "DURATION",
	  "continuous mode: length of each profile window (default 10s)" },
	{ "drain-interval", 0, OPT_VALUE, apply_drain_interval, "DURATION",
	  "how often kernel maps are drained and symbolized (default 1s, at most the interval)" },
	{ "max-files", 0, OPT_VALUE, apply_max_files, "N",
	  "continuous mode: keep the newest N profiles in the output directory, 0 keeps all "
	  "(default 360)" },
	{ "max-stacks", 0, OPT_VALUE, apply_max_stacks, "N",
	  "stack map entries per drain (default: sized from CPUs, frequency and drain interval)" },
	{ "cgroup", 0, OPT_VALUE, apply_cgroup, "PATH",
	  "profile only tasks in this cgroup v2 subtree (a path under the cgroup2 mount, or "
	  "relative to its root), filtered in the kernel; repeatable (environment: "
	  "comma-separated)" },
	{ "debug-dir", 0, OPT_VALUE, apply_debug_dir, "DIR",
	  "look for separate debug files (.build-id/xx/yyyy.debug, .gnu_debuglink names) under "
	  "DIR instead of /usr/lib/debug; repeatable (environment: ':'-separated)" },
	{ "debuginfod", 0, OPT_VALUE, apply_debuginfod, "URLS",
	  "fetch debug files not found locally from these debuginfod servers (space- or "
	  "comma-separated); off by default" },
	{ "debuginfod-cache", 0, OPT_VALUE, apply_debuginfod_cache, "DIR",
	  "where fetched debug files are kept (default " DEFAULT_DEBUGINFOD_CACHE ")" },
	{ "debuginfod-timeout", 0, OPT_VALUE, apply_debuginfod_timeout, "DURATION",
	  "give up a debuginfod download after this long (default 5s)" },
	{ "unwind", 0, OPT_VALUE, apply_unwind, "METHOD",
	  "user stacks: auto (CFI tables from .eh_frame where loaded, frame pointers elsewhere; "
	  "default), dwarf (CFI tables only), fp (frame pointers only)" },
	{ "unwind-memory", 0, OPT_VALUE, apply_unwind_memory, "SIZE",
	  "kernel map memory the CFI tables may take, e.g. 64M (default 256M; used as needed)" },
	{ "python", 0, OPT_VALUE, apply_python, "MODE",
	  "auto (default): CPython 3.11+ processes show their Python frames, with names, files "
	  "and lines, in place of the interpreter loop; off: native frames only" },
	{ "store", 0, OPT_VALUE, apply_store, "URL",
	  "also send every window to a profile store: grpc://HOST:PORT or grpcs://... (Parca), "
	  "pyroscope+http://HOST:PORT or pyroscope+https://... (Pyroscope)" },
	{ "label", 0, OPT_VALUE, apply_label, "KEY=VALUE",
	  "add a label to every series sent to the store; repeatable (environment: "
	  "comma-separated)" },
	{ "service-name", 0, OPT_VALUE, apply_service_name, "NAME",
	  "Pyroscope service_name for every process (default: each process's executable name)" },
	{ "tenant", 0, OPT_VALUE, apply_tenant, "ID",
	  "tenant of a multi-tenant store (Pyroscope: X-Scope-OrgID)" },
	{ "bearer-token-file", 0, OPT_VALUE, apply_bearer_token_file, "PATH",
	  "send the token in PATH as 'Authorization: Bearer'; re-read when the file changes" },
	{ "ca-file", 0, OPT_VALUE, apply_ca_file, "PATH",
	  "trust the CA certificates in PATH (PEM) instead of the system's for the store" },
	{ "insecure-skip-verify", 0, OPT_BOOL, apply_insecure_skip_verify, NULL,
	  "do not verify the store's TLS certificate (testing only)" },
	{ "spool-dir", 0, OPT_VALUE, apply_spool_dir, "DIR",
	  "keep windows the store cannot take yet in DIR and replay them, also after a restart" },
	{ "spool-max-bytes", 0, OPT_VALUE, apply_spool_max_bytes, "SIZE",
	  "bound of the spool, oldest windows dropped first (default 256M)" },
	{ "store-timeout", 0, OPT_VALUE, apply_store_timeout, "DURATION",
	  "give up on one request to the store after DURATION and retry (default 30s)" },
	{ "store-connect-timeout", 0, OPT_VALUE, apply_store_connect_timeout, "DURATION",
	  "give up connecting to the store after DURATION and retry (default 5s)" },
	{ "store-queue", 0, OPT_VALUE, apply_store_queue, "N",
	  "windows held in memory for the store before they go to the spool (default 4)" },
	{ "verbose", 'v', OPT_COUNT, apply_verbose, NULL,
	  "more logging; -vv adds libbpf's (environment: 0..2)" },
	{ "quiet", 'q', OPT_BOOL, apply_quiet, NULL, "log errors and warnings only" },
	{ "help", 'h', OPT_BOOL, apply_help, NULL, "show this help" },
	{ "version", 'V', OPT_BOOL, apply_version, NULL, "show the version" },
};

#define N_OPTIONS (sizeof(option_specs) / sizeof(option_specs[0]))

static void env_name(const struct option_spec *spec, char *buf, size_t size)
{
	size_t n = snprintf(buf, size, "FORNAX_");

	for (const char *p = spec->name; *p && n + 1 < size; p++)
		buf[n++] = *p == '-' ? '_' : toupper((unsigned char)*p);
	buf[n] = '\0';
}

static const char *env_lookup(char **envp, const char *name)
{
	size_t len = strlen(name);

	for (char **e = envp; e && *e; e++) {
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	}
	return NULL;
}

/* What `fornax convert` takes: rendering options, no sampling ones. */
static bool convert_option(const struct option_spec *spec)
{
	static const apply_fn convert_applies[] = {
		apply_output, apply_format, apply_title, apply_width, apply_icicle, apply_top,
		apply_verbose, apply_quiet, apply_help,
	};

	for (size_t i = 0; i < sizeof(convert_applies) / sizeof(convert_applies[0]); i++)
		if (spec->apply == convert_applies[i])
			return true;
	return false;
}

static int apply_environment(struct config *cfg, char **envp)
{
	char name[64];
	int err;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_spec *spec = &option_specs[i];
		const char *value;

		if (spec->apply == apply_help || spec->apply == apply_version)
			continue;
		if (cfg->convert && !convert_option(spec))
			continue;
		env_name(spec, name, sizeof(name));
		value = env_lookup(envp, name);
		/* An empty variable is how deploy templates say "unset". */
		if (!value || !*value)
			continue;
		err = spec->apply(cfg, value, name);
		if (err)
			return err;
	}
	return 0;
}

static int apply_command_line(struct config *cfg, int argc, char **argv)
{
	struct option longopts[N_OPTIONS + 1];
	char shortopts[2 * N_OPTIONS + 2];
	size_t s = 0;
	int c, err;

	shortopts[s++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_spec *spec = &option_specs[i];

		longopts[i] = (struct option){
			.name = spec->name,
			.has_arg = spec->kind == OPT_VALUE ? required_argument : no_argument,
			.val = 256 + (int)i,
		};
		if (spec->short_name) {
			shortopts[s++] = spec->short_name;
			if (spec->kind == OPT_VALUE)
				shortopts[s++] = ':';
		}
	}
	shortopts[s] = '\0';
	longopts[N_OPTIONS] = (struct option){ 0 };

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct option_spec *spec = NULL;
		char origin[64];

		if (c >= 256 && c < 256 + (int)N_OPTIONS) {
			spec = &option_specs[c - 256];
		} else if (c == '?' || c == ':') {
			const char *arg = argv[optind - 1];

			if (c == ':')
				fprintf(stderr, "fornax: %s: needs a value (see --help)\n", arg);
			else if (optopt >= 256 && optopt < 256 + (int)N_OPTIONS)
				fprintf(stderr, "fornax: --%s: takes no value (see --help)\n",
					option_specs[optopt - 256].name);
			else if (optopt)
				fprintf(stderr, "fornax: -%c: unknown option (see --help)\n", optopt);
			else
				fprintf(stderr, "fornax: %s: unknown option (see --help)\n", arg);
			return -EINVAL;
		} else {
			for (size_t i = 0; i < N_OPTIONS; i++)
				if (option_specs[i].short_name == c)
					spec = &option_specs[i];
		}
		if (!spec)
			return -EINVAL;
		if (cfg->convert && !convert_option(spec)) {
			fprintf(stderr, "fornax: convert: --%s: not an option of convert (see fornax "
				"convert --help)\n", spec->name);
			return -EINVAL;
		}
		snprintf(origin, sizeof(origin), "--%s", spec->name);
		err = spec->apply(cfg, spec->kind == OPT_VALUE ? optarg : NULL, origin);
		if (err)
			return err;
	}
	/* convert takes its input file; the capture takes no operand. */
	if (cfg->convert && optind < argc && !cfg->input) {
		cfg->input = strdup(argv[optind++]);
		if (!cfg->input)
			return -ENOMEM;
	}
	if (optind < argc) {
		fprintf(stderr, "fornax: %s'%s': unexpected argument (see%s --help)\n",
			cfg->convert ? "convert: " : "", argv[optind],
			cfg->convert ? " fornax convert" : "");
		return -EINVAL;
	}
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum output_format config__format_from_extension(const char *path)
{
	if (has_suffix(path, ".folded") || has_suffix(path, ".txt"))
		return OUTPUT_FORMAT_FOLDED;
	if (has_suffix(path, ".svg"))
		return OUTPUT_FORMAT_SVG;
	if (has_suffix(path, ".pb.gz") || has_suffix(path, ".pprof") || has_suffix(path, ".pb"))
		return OUTPUT_FORMAT_PPROF;
	return OUTPUT_FORMAT_AUTO;
}

static const char *format_name(enum output_format f)
{
	return f == OUTPUT_FORMAT_FOLDED ? "folded" : f == OUTPUT_FORMAT_SVG ? "svg" : "pprof";
}

/*
 * Each file's format: its extension's, or --format for a name without a
 * known extension, else pprof (svg for convert). A --format that
 * contradicts an extension is an error rather than a surprise.
 */
static int resolve_output_formats(struct config *cfg)
{
	enum output_format fallback = cfg->convert ? OUTPUT_FORMAT_SVG : OUTPUT_FORMAT_PPROF;

	for (size_t i = 0; i < cfg->n_outputs; i++) {
		struct config_output *o = &cfg->outputs[i];
		enum output_format ext = config__format_from_extension(o->path);

		if (cfg->format != OUTPUT_FORMAT_AUTO && ext != OUTPUT_FORMAT_AUTO &&
		    ext != cfg->format) {
			fprintf(stderr, "fornax: --format %s: the extension of '%s' says %s; drop "
				"--format or rename the file\n", format_name(cfg->format), o->path,
				format_name(ext));
			return -EINVAL;
		}
		o->format = ext != OUTPUT_FORMAT_AUTO ? ext
			    : cfg->format != OUTPUT_FORMAT_AUTO ? cfg->format : fallback;
	}
	return 0;
}

static const char *default_file(enum output_format f)
{
	return f == OUTPUT_FORMAT_FOLDED ? "fornax.folded" : f == OUTPUT_FORMAT_SVG ? "fornax.svg"
											: "fornax.pb.gz";
}

static int finish_store(struct config *cfg)
{
	struct store_url url;
	const char *why = "";
	int err;

	if (!cfg->store) {
		if (cfg->store_flag_seen[0]) {
			fprintf(stderr, "fornax: %s: needs --store\n", cfg->store_flag_seen);
			return -EINVAL;
		}
		return 0;
	}
	if (cfg->store_connect_timeout_ns > cfg->store_timeout_ns)
		cfg->store_connect_timeout_ns = cfg->store_timeout_ns;
	err = store__parse_url(cfg->store, &url, &why);
	if (err)
		return err;
	free(url.base);
	if (url.kind == STORE_PYROSCOPE && cfg->n_labels > STORE_MAX_USER_LABELS_PYROSCOPE) {
		fprintf(stderr, "fornax: --label: %zu labels, Pyroscope takes at most %d besides "
			"its own\n", cfg->n_labels, STORE_MAX_USER_LABELS_PYROSCOPE);
		return -EINVAL;
	}
	return 0;
}

static int finish(struct config *cfg)
{
	const char *default_output;

	if (cfg->show_help || cfg->show_version)
		return 0;
	if (cfg->drain_interval_ns > cfg->interval_ns)
		cfg->drain_interval_ns = cfg->interval_ns;
	if (cfg->duration_ns && cfg->drain_interval_ns > cfg->duration_ns)
		cfg->drain_interval_ns = cfg->duration_ns;

	if (cfg->convert) {
		if (!cfg->input) {
			fprintf(stderr, "fornax: convert: needs a profile to read (see fornax convert "
				"--help)\n");
			return -EINVAL;
		}
		if (!cfg->n_outputs && cfg->top <= 0) {
			fprintf(stderr, "fornax: convert: needs -o FILE (.svg, .folded, .pb.gz) or "
				"--top N\n");
			return -EINVAL;
		}
	}
	if (cfg->duration_ns || cfg->convert)
		default_output = default_file(cfg->format);
	else
		default_output = "fornax-profiles";
	if (!cfg->duration_ns && !cfg->convert && cfg->n_outputs > 1) {
		fprintf(stderr, "fornax: --output: several outputs need --duration (continuous mode "
			"writes one directory)\n");
		return -EINVAL;
	}
	/* With a store, local files are written only when asked for. */
	if (!cfg->n_outputs && !cfg->convert && !cfg->store) {
		int err = add_output(cfg, default_output, "--output");

		if (err)
			return err;
	}
	if (cfg->duration_ns || cfg->convert) {
		int err = resolve_output_formats(cfg);

		if (err)
			return err;
	} else if (cfg->format == OUTPUT_FORMAT_AUTO) {
		cfg->format = OUTPUT_FORMAT_PPROF;
	}
	if (cfg->n_outputs) {
		free(cfg->output);
		cfg->output = strdup(cfg->outputs[0].path);
		if (!cfg->output)
			return -ENOMEM;
		if (cfg->duration_ns || cfg->convert)
			cfg->format = cfg->outputs[0].format;
		else
			cfg->outputs[0].format = cfg->format;
	}
	if (!cfg->debuginfod_cache) {
		cfg->debuginfod_cache = strdup(DEFAULT_DEBUGINFOD_CACHE);
		if (!cfg->debuginfod_cache)
			return -ENOMEM;
	}
	return finish_store(cfg);
}

static int parse(struct config *cfg, bool convert, int argc, char **argv, char **envp)
{
	int err;

	*cfg = (struct config){
		.interval_ns = DEFAULT_INTERVAL_NS,
		.drain_interval_ns = DEFAULT_DRAIN_INTERVAL_NS,
		.frequency = DEFAULT_FREQUENCY,
		.kernel_stacks = true,
		.max_files = DEFAULT_MAX_FILES,
		.top = -1,
		.convert = convert,
		.debuginfod_timeout_ns = DEFAULT_DEBUGINFOD_TIMEOUT_NS,
		.unwind_mode = FORNAX_UNWIND_AUTO,
		.python = true,
		.spool_max_bytes = DEFAULT_SPOOL_MAX_BYTES,
		.store_timeout_ns = DEFAULT_STORE_TIMEOUT_NS,
		.store_connect_timeout_ns = DEFAULT_STORE_CONNECT_TIMEOUT_NS,
		.store_queue = DEFAULT_STORE_QUEUE,
	};
	err = apply_environment(cfg, envp);
	if (!err)
		err = apply_command_line(cfg, argc, argv);
	if (!err)
		err = finish(cfg);
	if (err == -ENOMEM)
		fprintf(stderr, "fornax: out of memory while reading the configuration\n");
	if (err)
		config__free(cfg);
	return err;
}

int config__parse(struct config *cfg, int argc, char **argv, char **envp)
{
	return parse(cfg, false, argc, argv, envp);
}

int config__parse_convert(struct config *cfg, int argc, char **argv, char **envp)
{
	return parse(cfg, true, argc, argv, envp);
}

void config__free(struct config *cfg)
{
	free(cfg->pids);
	free(cfg->output);
	free_outputs(cfg);
	free(cfg->title);
	free(cfg->input);
	free(cfg->debug_dirs);
	free(cfg->debuginfod_urls);
	free(cfg->debuginfod_cache);
	cgroup_filter__free(&cfg->cgroups);
	cfg->pids = NULL;
	cfg->output = NULL;
	cfg->title = NULL;
	cfg->input = NULL;
	cfg->debug_dirs = NULL;
	cfg->debuginfod_urls = NULL;
	cfg->debuginfod_cache = NULL;
	cfg->n_pids = 0;
	for (size_t i = 0; i < cfg->n_labels; i++) {
		free(cfg->labels[i].name);
		free(cfg->labels[i].value);
	}
	free(cfg->labels);
	free(cfg->store);
	free(cfg->service_name);
	free(cfg->tenant);
	free(cfg->bearer_token_file);
	free(cfg->ca_file);
	free(cfg->spool_dir);
	cfg->labels = NULL;
	cfg->n_labels = 0;
	cfg->store = cfg->service_name = cfg->tenant = NULL;
	cfg->bearer_token_file = cfg->ca_file = cfg->spool_dir = NULL;
}

static void print_option(const struct option_spec *spec)
{
	char env[64], flag[64];
	int n = 0;

	if (spec->short_name)
		n = snprintf(flag, sizeof(flag), "-%c, ", spec->short_name);
	snprintf(flag + n, sizeof(flag) - n, "--%s%s%s", spec->name, spec->metavar ? " " : "",
		 spec->metavar ? spec->metavar : "");
	env_name(spec, env, sizeof(env));
	printf("  %-28s %s", flag, spec->help);
	if (spec->apply != apply_help && spec->apply != apply_version)
		printf(" [%s]", env);
	printf("\n");
}

void config__print_convert_help(const char *argv0)
{
	printf("Usage: %s convert PROFILE [-o FILE]... [OPTIONS]\n\n"
	       "Renders a pprof profile (gzipped or not; from fornax, Go's runtime/pprof, Parca...)\n"
	       "as a flame graph, folded stacks or pprof, by each file's extension. PROFILE '-'\n"
	       "reads stdin. Needs no privileges.\n\n"
	       "  %s convert cpu.pb.gz -o flame.svg -o stacks.folded\n"
	       "  %s convert cpu.pb.gz --top 20\n\n"
	       "Options (environment twin in brackets):\n",
	       argv0, argv0, argv0);
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (convert_option(&option_specs[i]))
			print_option(&option_specs[i]);
}

void config__print_help(const char *argv0)
{
	printf("Usage: %s [OPTIONS]\n"
	       "       %s convert PROFILE -o FILE...   (see %s convert --help)\n\n"
	       "Always-on eBPF CPU profiler: samples every CPU, symbolizes stacks on the host,\n"
	       "and writes pprof, folded-stack or flame graph (SVG) profiles.\n\n"
	       "  %s --duration 30s -o profile.pb.gz   one 30 s capture\n"
	       "  %s -d 30s -o flame.svg -o p.pb.gz    a flame graph and a profile of it\n"
	       "  %s -o /var/lib/fornax/profiles       one profile per 10 s until stopped\n\n"
	       "Options (environment twin in brackets):\n",
	       argv0, argv0, argv0, argv0, argv0, argv0);
	for (size_t i = 0; i < N_OPTIONS; i++)
		print_option(&option_specs[i]);
}
