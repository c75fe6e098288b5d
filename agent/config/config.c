// SPDX-License-Identifier: Apache-2.0
/*
 * Reading the configuration: defaults, then each option's environment twin
 * (FORNAX_<FLAG>), then the command line, then the checks that need every
 * option at once; and the help text, from the same table.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relabel.h"
#include "unwind.h"

void config_env_name(const struct option_spec *spec, char *buf, size_t size)
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
	return spec->flags & OPT_CONVERT;
}

static int apply_environment(struct config *cfg, char **envp)
{
	char name[64];
	int err;

	for (size_t i = 0; i < config_n_options; i++) {
		const struct option_spec *spec = &config_options[i];
		const char *value;

		if (spec->flags & OPT_NO_ENV)
			continue;
		if (cfg->convert ? !convert_option(spec) : (spec->flags & OPT_CONVERT_ONLY))
			continue;
		config_env_name(spec, name, sizeof(name));
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

/* getopt_long()'s view of the options: each long option's val is 256 + its index. */
static int getopt_tables(struct option **longopts, char **shortopts)
{
	size_t s = 0;

	*longopts = calloc(config_n_options + 1, sizeof(**longopts));
	*shortopts = malloc(2 * config_n_options + 2);
	if (!*longopts || !*shortopts)
		return -ENOMEM;
	(*shortopts)[s++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < config_n_options; i++) {
		const struct option_spec *spec = &config_options[i];

		(*longopts)[i] = (struct option){
			.name = spec->name,
			.has_arg = spec->kind == OPT_VALUE ? required_argument : no_argument,
			.val = 256 + (int)i,
		};
		if (spec->short_name) {
			(*shortopts)[s++] = spec->short_name;
			if (spec->kind == OPT_VALUE)
				(*shortopts)[s++] = ':';
		}
	}
	(*shortopts)[s] = '\0';
	return 0;
}

/* The option getopt_long() returned c for, or NULL after saying what is wrong. */
static const struct option_spec *getopt_spec(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c >= 256 && c < 256 + (int)config_n_options)
		return &config_options[c - 256];
	if (c == ':') {
		fprintf(stderr, "fornax: %s: needs a value (see --help)\n", arg);
	} else if (c == '?') {
		if (optopt >= 256 && optopt < 256 + (int)config_n_options)
			fprintf(stderr, "fornax: --%s: takes no value (see --help)\n",
				config_options[optopt - 256].name);
		else if (optopt)
			fprintf(stderr, "fornax: -%c: unknown option (see --help)\n", optopt);
		else
			fprintf(stderr, "fornax: %s: unknown option (see --help)\n", arg);
	} else {
		for (size_t i = 0; i < config_n_options; i++)
			if (config_options[i].short_name == c)
				return &config_options[i];
	}
	return NULL;
}

/* convert takes its input file; the capture takes no operand. */
static int operands(struct config *cfg, int argc, char **argv)
{
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

static int apply_command_line(struct config *cfg, int argc, char **argv)
{
	struct option *longopts = NULL;
	char *shortopts = NULL;
	int c, err;

	err = getopt_tables(&longopts, &shortopts);
	if (err)
		goto cleanup;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct option_spec *spec = getopt_spec(c, argv);
		char origin[64];

		if (!spec) {
			err = -EINVAL;
			goto cleanup;
		}
		if (cfg->convert && !convert_option(spec)) {
			fprintf(stderr, "fornax: convert: --%s: not an option of convert (see fornax "
				"convert --help)\n", spec->name);
			err = -EINVAL;
			goto cleanup;
		}
		if (!cfg->convert && (spec->flags & OPT_CONVERT_ONLY)) {
			fprintf(stderr, "fornax: --%s: an option of fornax convert only (see fornax "
				"convert --help)\n", spec->name);
			err = -EINVAL;
			goto cleanup;
		}
		snprintf(origin, sizeof(origin), "--%s", spec->name);
		err = spec->apply(cfg, spec->kind == OPT_VALUE ? optarg : NULL, origin);
		if (err)
			goto cleanup;
	}
	err = operands(cfg, argc, argv);
cleanup:
	free(longopts);
	free(shortopts);
	return err;
}

static const char *output_origin(const struct config *cfg)
{
	return cfg->outputs_from_env ? "FORNAX_OUTPUT" : "--output";
}

static const char *format_name(enum output_format f)
{
	return f == OUTPUT_FORMAT_FOLDED ? "folded" : f == OUTPUT_FORMAT_SVG ? "svg" : "pprof";
}

/* The file's kind, or the error printed: a capture must not be lost at its end to a typo. */
static int classify_output(const struct config *cfg, const char *path, enum output_target *target)
{
	const char *why;
	char buf[160];
	int err = output__classify(path, target, &why);

	if (err == -ENOMEM)
		return err;
	if (!err)
		return 0;
	if (!why) {
		snprintf(buf, sizeof(buf), "cannot be written: %s", strerror(-err));
		why = buf;
	}
	return config_invalid(output_origin(cfg), path, why);
}

/*
 * Before any sample, each file is checked (its directory exists and takes
 * files) and gets its format: its extension's, or --format for a name
 * without a known extension. Standard output, a device or a FIFO is pprof
 * unless --format says otherwise; a file name without a known extension
 * and no --format is an error (x.png must not quietly become gzipped
 * pprof), and so is a --format that contradicts an extension.
 */
static int check_output_files(struct config *cfg)
{
	size_t n_stdout = 0;

	for (size_t i = 0; i < cfg->n_outputs; i++) {
		struct config_output *o = &cfg->outputs[i];
		enum output_format ext = output__is_stdout(o->path)
						 ? OUTPUT_FORMAT_AUTO
						 : output__format_from_extension(o->path);
		enum output_target target;
		int err = classify_output(cfg, o->path, &target);

		if (err)
			return err;
		if (target == OUTPUT_TARGET_STDOUT && n_stdout++)
			return config_invalid(output_origin(cfg), o->path,
					      "is standard output a second time");
		if (cfg->format != OUTPUT_FORMAT_AUTO && ext != OUTPUT_FORMAT_AUTO &&
		    ext != cfg->format) {
			fprintf(stderr, "fornax: --format %s: the extension of '%s' says %s; drop "
				"--format or rename the file\n", format_name(cfg->format), o->path,
				format_name(ext));
			return -EINVAL;
		}
		if (ext == OUTPUT_FORMAT_AUTO && cfg->format == OUTPUT_FORMAT_AUTO &&
		    target == OUTPUT_TARGET_FILE)
			return config_invalid(output_origin(cfg), o->path,
					      "has no known extension (.pb.gz, .pprof, .pb, .folded, "
					      ".txt, .svg): add one or give --format");
		o->format = ext != OUTPUT_FORMAT_AUTO ? ext
			    : cfg->format != OUTPUT_FORMAT_AUTO ? cfg->format : OUTPUT_FORMAT_PPROF;
		if (target == OUTPUT_TARGET_STDOUT && o->format == OUTPUT_FORMAT_PPROF &&
		    isatty(STDOUT_FILENO))
			return config_invalid(output_origin(cfg), o->path,
					      "is a terminal: gzipped pprof would garble it; redirect "
					      "standard output, or give --format folded or svg");
	}
	return 0;
}

/* Continuous mode writes a directory: one that exists, or one it can create. */
static int check_output_dir(struct config *cfg)
{
	const char *why = NULL;
	char buf[160];
	int err;

	if (output__is_stdout(cfg->outputs[0].path))
		return config_invalid(output_origin(cfg), cfg->outputs[0].path,
				      "is not a directory: continuous mode writes a profile per "
				      "interval into one (--duration writes a single profile)");
	err = output__check_dir(cfg->outputs[0].path, &why);
	if (err == -ENOMEM)
		return err;
	if (err && !why) {
		snprintf(buf, sizeof(buf), "cannot be written: %s", strerror(-err));
		why = buf;
	}
	return why ? config_invalid(output_origin(cfg), cfg->outputs[0].path, why) : 0;
}

static const char *default_file(enum output_format f)
{
	return f == OUTPUT_FORMAT_FOLDED ? "fornax.folded" : f == OUTPUT_FORMAT_SVG ? "fornax.svg"
											: "fornax.pb.gz";
}


static int finish(struct config *cfg)
{
	const char *default_output;

	if (cfg->show_help || cfg->show_version)
		return 0;
	if (!cfg->frequency)
		cfg->frequency = cfg->duration_ns ? DEFAULT_CAPTURE_FREQUENCY
						  : DEFAULT_CONTINUOUS_FREQUENCY;
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
		int err = config_add_output(cfg, default_output, "--output");

		if (err)
			return err;
	}
	if (cfg->duration_ns || cfg->convert) {
		int err = check_output_files(cfg);

		if (err)
			return err;
	} else {
		int err = cfg->n_outputs ? check_output_dir(cfg) : 0;

		if (err)
			return err;
		if (cfg->format == OUTPUT_FORMAT_AUTO)
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
	if (!cfg->unwind_cache_off && !cfg->unwind_cache) {
		cfg->unwind_cache = strdup(DEFAULT_UNWIND_CACHE);
		if (!cfg->unwind_cache)
			return -ENOMEM;
	}
	if (!cfg->unwind_cache_size)
		cfg->unwind_cache_size = DEFAULT_UNWIND_CACHE_SIZE;
	return config_finish_store(cfg);
}

/*
 * --config (or FORNAX_CONFIG) before anything else: the file's values sit
 * below the environment's and the command line's, so they are applied first.
 */
static int find_config_file(struct config *cfg, bool convert, int argc, char **argv,
			    char **envp)
{
	const char *path = env_lookup(envp, "FORNAX_CONFIG");

	if (convert)
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) &&
		    i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	return path && *path ? apply_config(cfg, path, "--config") : 0;
}

static int parse(struct config *cfg, bool convert, int argc, char **argv, char **envp)
{
	int err;

	*cfg = (struct config){
		.interval_ns = DEFAULT_INTERVAL_NS,
		.drain_interval_ns = DEFAULT_DRAIN_INTERVAL_NS,
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
	err = find_config_file(cfg, convert, argc, argv, envp);
	if (!err && cfg->config_path)
		err = config_apply_file(cfg);
	if (!err)
		err = apply_environment(cfg, envp);
	if (!err)
		err = apply_command_line(cfg, argc, argv);
	if (!err)
		err = finish(cfg);
	if (!err)
		err = config_finish_kubernetes(cfg, envp);
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
	config_free_outputs(cfg);
	free(cfg->title);
	free(cfg->input);
	free(cfg->sample_index);
	cfg->sample_index = NULL;
	free(cfg->debug_dirs);
	free(cfg->debuginfod_urls);
	free(cfg->debuginfod_cache);
	free(cfg->unwind_cache);
	cgroup_filter__free(&cfg->cgroups);
	cfg->pids = NULL;
	cfg->output = NULL;
	cfg->title = NULL;
	cfg->input = NULL;
	cfg->debug_dirs = NULL;
	cfg->debuginfod_urls = NULL;
	cfg->debuginfod_cache = NULL;
	cfg->unwind_cache = NULL;
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
	free(cfg->config_path);
	free(cfg->http_address);
	free(cfg->kubernetes_api);
	free(cfg->node_name);
	relabel_rules__free(cfg->relabel);
	cfg->config_path = cfg->http_address = cfg->kubernetes_api = cfg->node_name = NULL;
	cfg->relabel = NULL;
}

#define HELP_WIDTH 80
#define HELP_INDENT 24

/* Prints text from column col on, wrapped at HELP_WIDTH with HELP_INDENT under it. */
static void print_wrapped(const char *text, int col)
{
	const char *p = text;

	while (*p) {
		int room = HELP_WIDTH - col, len = (int)strlen(p), cut = len;

		if (len > room) {
			/* the last space that fits; a word longer than the line goes whole */
			for (cut = room; cut > 0 && p[cut] != ' '; cut--)
				;
			if (cut == 0)
				for (cut = room; p[cut] && p[cut] != ' '; cut++)
					;
		}
		printf("%.*s\n", cut, p);
		p += cut;
		while (*p == ' ')
			p++;
		if (*p)
			printf("%*s", HELP_INDENT, "");
		col = HELP_INDENT;
	}
}

static void print_option(const struct option_spec *spec, bool convert)
{
	const char *help = convert && config_convert_help(spec) ? config_convert_help(spec)
								: spec->help;
	char env[64], flag[64], *text = NULL;
	int n = 0, col;

	if (spec->short_name)
		n = snprintf(flag, sizeof(flag), "-%c, ", spec->short_name);
	snprintf(flag + n, sizeof(flag) - n, "--%s%s%s", spec->name, spec->metavar ? " " : "",
		 spec->metavar ? spec->metavar : "");
	config_env_name(spec, env, sizeof(env));
	col = printf("  %s", flag);
	/* A flag too wide for its column takes a line of its own. */
	if (col + 2 > HELP_INDENT) {
		printf("\n");
		col = 0;
	}
	printf("%*s", HELP_INDENT - col, "");
	if (spec->flags & OPT_NO_ENV || asprintf(&text, "%s [%s]", help, env) < 0)
		text = NULL;
	print_wrapped(text ? text : help, HELP_INDENT);
	free(text);
}

/* "fornax", not the path it was run by. */
static const char *program_name(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	return slash && slash[1] ? slash + 1 : argv0;
}

void config__print_convert_help(const char *path)
{
	const char *argv0 = program_name(path);

	printf("Usage: %s convert PROFILE [-o FILE]... [OPTIONS]\n\n"
	       "Renders a pprof profile (gzipped or not; from fornax, Go's runtime/pprof,\n"
	       "Parca...) as a flame graph, folded stacks or pprof, by each file's extension.\n"
	       "PROFILE '-' reads stdin. Needs no privileges.\n\n"
	       "  %s convert cpu.pb.gz -o flame.svg -o stacks.folded\n"
	       "  %s convert cpu.pb.gz --top 20\n\n"
	       "Options (environment twin in brackets):\n",
	       argv0, argv0, argv0);
	for (size_t i = 0; i < config_n_options; i++)
		if (convert_option(&config_options[i]))
			print_option(&config_options[i], true);
}

void config__print_help(const char *path)
{
	const char *argv0 = program_name(path);

	printf("Usage: %s [OPTIONS]\n"
	       "       %s convert PROFILE -o FILE...   (see %s convert --help)\n\n"
	       "Always-on eBPF CPU profiler: samples every CPU, symbolizes stacks on the host,\n"
	       "and writes pprof, folded-stack or flame graph (SVG) profiles.\n\n"
	       "  %s --duration 30s -o profile.pb.gz   one 30 s capture\n"
	       "  %s -d 30s -o flame.svg -o p.pb.gz    a flame graph and a profile of it\n"
	       "  %s -o /var/lib/fornax/profiles       one profile per 10 s until stopped\n\n"
	       "Options (environment twin in brackets):\n",
	       argv0, argv0, argv0, argv0, argv0, argv0);
	for (size_t i = 0; i < config_n_options; i++)
		if (!(config_options[i].flags & OPT_CONVERT_ONLY))
			print_option(&config_options[i], false);
}
