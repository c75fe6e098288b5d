// SPDX-License-Identifier: Apache-2.0
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
/* One page of rows (bpf/unwind.h) up to what a map-in-map of pages can name. */
#define MIN_UNWIND_MEMORY (1ULL << 20)
#define MAX_UNWIND_MEMORY (1ULL << 40)

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
	fprintf(stderr, "fornax: %s: %s%s%s%s\n", origin, value ? "'" : "", value ? value : "",
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

static int apply_output(struct config *cfg, const char *value, const char *origin)
{
	char *copy;

	if (!*value)
		return invalid(origin, NULL, "needs a path");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(cfg->output);
	cfg->output = copy;
	return 0;
}

static int apply_format(struct config *cfg, const char *value, const char *origin)
{
	if (strcmp(value, "pprof") == 0)
		cfg->format = OUTPUT_FORMAT_PPROF;
	else if (strcmp(value, "folded") == 0)
		cfg->format = OUTPUT_FORMAT_FOLDED;
	else
		return invalid(origin, value, "is not a format (pprof, folded)");
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
	  "with --duration: the profile file (default fornax.pb.gz); otherwise: the directory "
	  "that receives one profile per interval (default fornax-profiles)" },
	{ "format", 0, OPT_VALUE, apply_format, "FORMAT",
	  "pprof (gzipped) or folded (collapsed stacks); default: from the file extension "
	  "(.folded, .txt: folded), else pprof" },
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
	{ "unwind", 0, OPT_VALUE, apply_unwind, "METHOD",
	  "user stacks: auto (CFI tables from .eh_frame where loaded, frame pointers elsewhere; "
	  "default), dwarf (CFI tables only), fp (frame pointers only)" },
	{ "unwind-memory", 0, OPT_VALUE, apply_unwind_memory, "SIZE",
	  "kernel map memory the CFI tables may take, e.g. 64M (default 256M; used as needed)" },
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

static int apply_environment(struct config *cfg, char **envp)
{
	char name[64];
	int err;

	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_spec *spec = &option_specs[i];
		const char *value;

		if (spec->apply == apply_help || spec->apply == apply_version)
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
		snprintf(origin, sizeof(origin), "--%s", spec->name);
		err = spec->apply(cfg, spec->kind == OPT_VALUE ? optarg : NULL, origin);
		if (err)
			return err;
	}
	if (optind < argc) {
		fprintf(stderr, "fornax: '%s': unexpected argument (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static enum output_format format_from_extension(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot && (strcmp(dot, ".folded") == 0 || strcmp(dot, ".txt") == 0))
		return OUTPUT_FORMAT_FOLDED;
	return OUTPUT_FORMAT_PPROF;
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

	if (cfg->duration_ns)
		default_output = cfg->format == OUTPUT_FORMAT_FOLDED ? "fornax.folded" : "fornax.pb.gz";
	else
		default_output = "fornax-profiles";
	if (!cfg->output) {
		cfg->output = strdup(default_output);
		if (!cfg->output)
			return -ENOMEM;
	}
	if (cfg->format == OUTPUT_FORMAT_AUTO)
		cfg->format = cfg->duration_ns ? format_from_extension(cfg->output) : OUTPUT_FORMAT_PPROF;
	return 0;
}

int config__parse(struct config *cfg, int argc, char **argv, char **envp)
{
	int err;

	*cfg = (struct config){
		.interval_ns = DEFAULT_INTERVAL_NS,
		.drain_interval_ns = DEFAULT_DRAIN_INTERVAL_NS,
		.frequency = DEFAULT_FREQUENCY,
		.kernel_stacks = true,
		.max_files = DEFAULT_MAX_FILES,
		.unwind_mode = FORNAX_UNWIND_AUTO,
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

void config__free(struct config *cfg)
{
	free(cfg->pids);
	free(cfg->output);
	cfg->pids = NULL;
	cfg->output = NULL;
	cfg->n_pids = 0;
}

void config__print_help(const char *argv0)
{
	char env[64], flag[64];

	printf("Usage: %s [OPTIONS]\n\n"
	       "Always-on eBPF CPU profiler: samples every CPU, symbolizes stacks on the host,\n"
	       "and writes pprof or folded-stack profiles.\n\n"
	       "  %s --duration 30s -o profile.pb.gz   one 30 s capture\n"
	       "  %s -o /var/lib/fornax/profiles       one profile per 10 s until stopped\n\n"
	       "Options (environment twin in brackets):\n",
	       argv0, argv0, argv0);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_spec *spec = &option_specs[i];
		int n = 0;

		if (spec->short_name)
			n = snprintf(flag, sizeof(flag), "-%c, ", spec->short_name);
		snprintf(flag + n, sizeof(flag) - n, "--%s%s%s", spec->name,
			 spec->metavar ? " " : "", spec->metavar ? spec->metavar : "");
		env_name(spec, env, sizeof(env));
		printf("  %-28s %s", flag, spec->help);
		if (spec->apply != apply_help && spec->apply != apply_version)
			printf(" [%s]", env);
		printf("\n");
	}
}
