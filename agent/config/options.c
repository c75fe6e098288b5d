// SPDX-License-Identifier: Apache-2.0
/*
 * The options of a capture (sampling, outputs, symbolization, unwinding)
 * and the table of every option, the store's included (store_options.c).
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "flamegraph.h"
#include "unwind.h"

static int apply_duration(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_duration(value, origin, MIN_DRAIN_INTERVAL_NS, &cfg->duration_ns);
}

static int apply_interval(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_duration(value, origin, MIN_INTERVAL_NS, &cfg->interval_ns);
}

static int apply_drain_interval(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_duration(value, origin, MIN_DRAIN_INTERVAL_NS, &cfg->drain_interval_ns);
}

static int apply_frequency(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[64];

	if (config_parse_uint(value, 1, MAX_FREQUENCY, &v) == 0) {
		cfg->frequency = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a frequency in Hz (1..%d)", MAX_FREQUENCY);
	return config_invalid(origin, value, why);
}

static int add_pid(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	__u32 *pids;

	if (config_parse_uint(value, 1, INT_MAX, &v))
		return config_invalid(origin, value, "is not a process id");
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
		err = config_invalid(origin, value, "is not a process id");
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add_pid(cfg, tok, origin);
	free(copy);
	return err;
}


static int apply_kernel(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_bool(&cfg->kernel_stacks, true, value, origin);
}

static int apply_no_kernel(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_bool(&cfg->kernel_stacks, false, value, origin);
}

static int apply_include_idle(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_bool(&cfg->include_idle, true, value, origin);
}

void config_free_outputs(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_outputs; i++)
		free(cfg->outputs[i].path);
	free(cfg->outputs);
	cfg->outputs = NULL;
	cfg->n_outputs = 0;
}

int config_add_output(struct config *cfg, const char *path, const char *origin)
{
	struct config_output *grown;
	char *copy;

	if (!*path)
		return config_invalid(origin, NULL, "needs a path");
	for (size_t i = 0; i < cfg->n_outputs; i++)
		if (strcmp(cfg->outputs[i].path, path) == 0)
			return config_invalid(origin, path, "is given twice");
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
			config_free_outputs(cfg);
		cfg->outputs_from_env = false;
		return config_add_output(cfg, value, origin);
	}
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	cfg->outputs_from_env = true;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = config_add_output(cfg, tok, origin);
	if (!err && !cfg->n_outputs)
		err = config_invalid(origin, NULL, "needs a path");
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
		return config_invalid(origin, value, "is not a format (pprof, folded, svg)");
	return 0;
}

static int apply_title(struct config *cfg, const char *value, const char *origin)
{
	char *copy;

	if (!*value)
		return config_invalid(origin, NULL, "needs a title");
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

	if (config_parse_uint(value, FLAMEGRAPH_MIN_WIDTH, FLAMEGRAPH_MAX_WIDTH, &v) == 0) {
		cfg->width = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a width in pixels (%d..%d)", FLAMEGRAPH_MIN_WIDTH,
		 FLAMEGRAPH_MAX_WIDTH);
	return config_invalid(origin, value, why);
}

static int apply_icicle(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_bool(&cfg->icicle, true, value, origin);
}

static int apply_top(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;

	if (config_parse_uint(value, 0, 100000, &v))
		return config_invalid(origin, value, "is not a number of functions (0 hides the summary)");
	cfg->top = (int)v;
	return 0;
}

static int apply_top_by(struct config *cfg, const char *value, const char *origin)
{
	if (strcmp(value, "function") == 0)
		cfg->top_by = TOP_BY_FUNCTION;
	else if (strcmp(value, "comm") == 0)
		cfg->top_by = TOP_BY_COMM;
	else
		return config_invalid(origin, value, "is not a grouping (function, comm)");
	return 0;
}

static int apply_sample_index(struct config *cfg, const char *value, const char *origin)
{
	if (!*value)
		return config_invalid(origin, NULL, "needs a sample type (e.g. alloc_space)");
	return config_set_string(&cfg->sample_index, value);
}

static int apply_max_files(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;

	if (config_parse_uint(value, 0, UINT_MAX, &v))
		return config_invalid(origin, value, "is not a number of files (0 keeps all)");
	cfg->max_files = v;
	return 0;
}

static int apply_max_stacks(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[80];

	if (config_parse_uint(value, 64, MAX_STACKS_LIMIT, &v) == 0) {
		cfg->max_stacks = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a stack count (64..%u)", MAX_STACKS_LIMIT);
	return config_invalid(origin, value, why);
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
		err = config_invalid(origin, NULL, "needs a cgroup path");
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		const char *why;

		err = cgroup_filter__add(&cfg->cgroups, tok, &why);
		if (err && err != -ENOMEM)
			err = config_invalid(origin, tok, why ? why : "is not a cgroup");
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
		err = config_invalid(origin, NULL, "needs a directory");
	for (tok = strtok_r(copy, ":", &save); tok && !err; tok = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (tok[0] != '/')
			err = config_invalid(origin, tok, "is not an absolute path");
		else if (stat(tok, &st) != 0 || !S_ISDIR(st.st_mode))
			err = config_invalid(origin, tok, "is not a directory");
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
			err = config_invalid(origin, tok, "is not a debuginfod server URL (http:// or https://)");
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
		err = config_invalid(origin, NULL, "needs a server URL");
	free(copy);
	return err;
}

static int apply_debuginfod_cache(struct config *cfg, const char *value, const char *origin)
{
	char *copy;

	if (value[0] != '/')
		return config_invalid(origin, value, "is not an absolute path");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(cfg->debuginfod_cache);
	cfg->debuginfod_cache = copy;
	return 0;
}

static int apply_debuginfod_timeout(struct config *cfg, const char *value, const char *origin)
{
	int err = config_apply_duration(value, origin, NSEC_PER_SEC, &cfg->debuginfod_timeout_ns);

	if (!err && cfg->debuginfod_timeout_ns > MAX_DEBUGINFOD_TIMEOUT_NS)
		return config_invalid(origin, value, "is too long (maximum 10m)");
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
		return config_invalid(origin, value, "is not an unwind method (auto, dwarf, fp)");
	return 0;
}

static int apply_python(struct config *cfg, const char *value, const char *origin)
{
	if (strcmp(value, "auto") == 0)
		cfg->python = true;
	else if (strcmp(value, "off") == 0)
		cfg->python = false;
	else
		return config_invalid(origin, value, "is not a Python mode (auto, off)");
	return 0;
}

/* "64M", "1G", "524288": bytes, with binary K/M/G/T suffixes, within [min, max]. */
static int parse_size_in(const char *value, __u64 min, __u64 max, __u64 *out)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v, scale = 1;
	const char *unit;
	char *end;

	if (!isdigit((unsigned char)*value))
		return -EINVAL;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		unit = strchr(suffixes, toupper((unsigned char)*end));
		if (!unit || (end[1] && strcasecmp(end + 1, "iB") && strcasecmp(end + 1, "B")))
			return -EINVAL;
		scale = 1ULL << (10 * (unit - suffixes + 1));
	}
	if (v > max / scale || v * scale < min)
		return -ERANGE;
	*out = v * scale;
	return 0;
}

static int apply_unwind_memory(struct config *cfg, const char *value, const char *origin)
{
	__u64 v;

	if (parse_size_in(value, MIN_UNWIND_MEMORY, MAX_UNWIND_MEMORY, &v))
		return config_invalid(origin, value, "is not a size from 1M to 1T (e.g. 64M, 1G)");
	cfg->unwind_memory = v;
	return 0;
}

static int apply_unwind_cache(struct config *cfg, const char *value, const char *origin)
{
	char *copy = NULL;

	if (strcmp(value, "off") != 0) {
		if (value[0] != '/')
			return config_invalid(origin, value, "is not an absolute path or off");
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
	}
	free(cfg->unwind_cache);
	cfg->unwind_cache = copy;
	cfg->unwind_cache_off = !copy;
	return 0;
}

static int apply_unwind_cache_size(struct config *cfg, const char *value, const char *origin)
{
	__u64 v;

	if (parse_size_in(value, MIN_UNWIND_CACHE_SIZE, MAX_UNWIND_CACHE_SIZE, &v))
		return config_invalid(origin, value, "is not a size from 1M to 1T (e.g. 64M, 1G)");
	cfg->unwind_cache_size = v;
	return 0;
}

static int apply_perf_map_memory(struct config *cfg, const char *value, const char *origin)
{
	__u64 v;

	if (parse_size_in(value, MIN_PERF_MAP_MEMORY, MAX_PERF_MAP_MEMORY, &v))
		return config_invalid(origin, value, "is not a size from 1M to 1T (e.g. 64M, 1G)");
	cfg->perf_map_memory = v;
	return 0;
}

static int apply_debug_info_memory(struct config *cfg, const char *value, const char *origin)
{
	__u64 v;

	if (parse_size_in(value, MIN_DEBUG_INFO_MEMORY, MAX_DEBUG_INFO_MEMORY, &v))
		return config_invalid(origin, value, "is not a size from 1M to 1T (e.g. 32M, 1G)");
	cfg->debug_info_memory = v;
	return 0;
}

static int apply_verbose(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;

	if (!value) {
		cfg->verbosity++;
		return 0;
	}
	if (config_parse_uint(value, 0, 2, &v))
		return config_invalid(origin, value, "is not a verbosity level (0..2)");
	cfg->verbosity = v;
	return 0;
}

static int apply_quiet(struct config *cfg, const char *value, const char *origin)
{
	bool quiet = true;

	if (value && config_parse_bool(value, &quiet))
		return config_invalid(origin, value, "is not a boolean (true/false)");
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


const struct option_spec config_options[] = {
	{ "duration", 'd', OPT_VALUE, apply_duration, "DURATION",
	  "capture once for DURATION (500ms, 30s, 2m) and write one profile, then exit", 0 },
	{ "output", 'o', OPT_VALUE, apply_output, "PATH",
	  "with --duration: a file to write ('-': stdout), repeatable: -o p.pb.gz -o flame.svg (default "
	  "fornax.pb.gz); otherwise: the directory that receives one profile per interval "
	  "(default fornax-profiles)", OPT_CONVERT },
	{ "format", 0, OPT_VALUE, apply_format, "FORMAT",
	  "pprof (gzipped), folded (collapsed stacks) or svg (flame graph); default: from the "
	  "file extension (.pb.gz, .folded, .txt, .svg), pprof for '-' (stdout) and devices", OPT_CONVERT },
	{ "title", 0, OPT_VALUE, apply_title, "TEXT", "flame graph title", OPT_CONVERT },
	{ "width", 0, OPT_VALUE, apply_width, "PX", "flame graph width in pixels (default 1200)", OPT_CONVERT },
	{ "icicle", 0, OPT_BOOL, apply_icicle, NULL,
	  "flame graph drawn top-down: callers above their callees", OPT_CONVERT },
	{ "top", 0, OPT_VALUE, apply_top, "N",
	  "after a capture, print the N functions with the most samples on stderr; 0 hides it "
	  "(default 10)", OPT_CONVERT },
	{ "top-by", 0, OPT_VALUE, apply_top_by, "WHAT",
	  "rows of the summary: function (code without a name by its mapping, [libc.so.6]; "
	  "default) or comm (the process)", OPT_CONVERT },
	{ "sample-index", 0, OPT_VALUE, apply_sample_index, "NAME",
	  "which of the profile's values to read, by type, as go tool pprof -sample_index: "
	  "alloc_space, inuse_objects... (default: the samples count, else the profile's "
	  "default, else the last)", OPT_CONVERT | OPT_CONVERT_ONLY },
	{ "frequency", 'F', OPT_VALUE, apply_frequency, "HZ", "samples per second per CPU (default 99 with --duration, 19 continuous)", 0 },
	{ "pid", 'p', OPT_VALUE, apply_pid, "PID",
	  "profile only this process; repeatable (environment: comma-separated)", 0 },
	{ "kernel", 0, OPT_BOOL, apply_kernel, NULL, "collect kernel stacks (default)", 0 },
	{ "no-kernel", 0, OPT_BOOL, apply_no_kernel, NULL, "user stacks only", 0 },
	{ "include-idle", 0, OPT_BOOL, apply_include_idle, NULL,
	  "keep samples of the idle task (CPU time spent idle)", 0 },
	{ "interval", 'i', OPT_VALUE, apply_interval, "DURATION",
	  "continuous mode: length of each profile window (default 10s)", 0 },
	{ "drain-interval", 0, OPT_VALUE, apply_drain_interval, "DURATION",
	  "how often kernel maps are drained and symbolized (default 1s, at most the interval)", 0 },
	{ "max-files", 0, OPT_VALUE, apply_max_files, "N",
	  "continuous mode: keep the newest N profiles in the output directory, 0 keeps all "
	  "(default 360)", 0 },
	{ "max-stacks", 0, OPT_VALUE, apply_max_stacks, "N",
	  "stack map entries per drain (default: sized from CPUs, frequency and drain interval)", 0 },
	{ "cgroup", 0, OPT_VALUE, apply_cgroup, "PATH",
	  "profile only tasks in this cgroup v2 subtree (a path under the cgroup2 mount, or "
	  "relative to its root), filtered in the kernel; repeatable (environment: "
	  "comma-separated)", 0 },
	{ "debug-dir", 0, OPT_VALUE, apply_debug_dir, "DIR",
	  "look for separate debug files (.build-id/xx/yyyy.debug, .gnu_debuglink names) under "
	  "DIR instead of /usr/lib/debug; repeatable (environment: ':'-separated)", 0 },
	{ "debuginfod", 0, OPT_VALUE, apply_debuginfod, "URLS",
	  "fetch debug files not found locally from these debuginfod servers (space- or "
	  "comma-separated); off by default", 0 },
	{ "debuginfod-cache", 0, OPT_VALUE, apply_debuginfod_cache, "DIR",
	  "where fetched debug files are kept (default " DEFAULT_DEBUGINFOD_CACHE ")", 0 },
	{ "debuginfod-timeout", 0, OPT_VALUE, apply_debuginfod_timeout, "DURATION",
	  "give up a debuginfod download after this long (default 5s)", 0 },
	{ "unwind", 0, OPT_VALUE, apply_unwind, "METHOD",
	  "user stacks: auto (CFI tables from .eh_frame where loaded, frame pointers elsewhere; "
	  "default), dwarf (CFI tables only), fp (frame pointers only)", 0 },
	{ "unwind-memory", 0, OPT_VALUE, apply_unwind_memory, "SIZE",
	  "kernel map memory the CFI tables may take, e.g. 64M (default 256M; used as needed)", 0 },
	{ "unwind-cache", 0, OPT_VALUE, apply_unwind_cache, "DIR",
	  "keep built CFI tables (and inflated copies of debug files) here, so a restart reads "
	  "them instead of making them again; off: make them at every start (default "
	  DEFAULT_UNWIND_CACHE ")", 0 },
	{ "unwind-cache-size", 0, OPT_VALUE, apply_unwind_cache_size, "SIZE",
	  "disk space the kept tables and copies may take; the least recently used go first "
	  "(default 256M)",
	  0 },
	{ "perf-map-memory", 0, OPT_VALUE, apply_perf_map_memory, "SIZE",
	  "JIT perf maps (/tmp/perf-PID.map) read, all processes together, each file counted once "
	  "(default 256M; one file at most 64M)", 0 },
	{ "debug-info-memory", 0, OPT_VALUE, apply_debug_info_memory, "SIZE",
	  "estimated memory of the ELF/DWARF files kept open for symbolization; the least "
	  "recently used are closed beyond it, a file whose DWARF alone exceeds it is named from "
	  "its symbol table (default 32M)", 0 },
	{ "python", 0, OPT_VALUE, apply_python, "MODE",
	  "auto (default): CPython 3.11+ processes show their Python frames, with names, files "
	  "and lines, in place of the interpreter loop; off: native frames only", 0 },
	{ "store", 0, OPT_VALUE, apply_store, "URL",
	  "also send every window to a profile store: grpc://HOST:PORT or grpcs://... (Parca), "
	  "pyroscope+http://HOST:PORT or pyroscope+https://... (Pyroscope)", 0 },
	{ "label", 0, OPT_VALUE, apply_label, "KEY=VALUE",
	  "add a label to every series sent to the store; repeatable (environment: "
	  "comma-separated)", 0 },
	{ "service-name", 0, OPT_VALUE, apply_service_name, "NAME",
	  "Pyroscope service_name for every process (default: each process's executable name)", 0 },
	{ "tenant", 0, OPT_VALUE, apply_tenant, "ID",
	  "tenant of a multi-tenant store (Pyroscope: X-Scope-OrgID)", 0 },
	{ "bearer-token-file", 0, OPT_VALUE, apply_bearer_token_file, "PATH",
	  "send the token in PATH as 'Authorization: Bearer'; re-read when the file changes", 0 },
	{ "ca-file", 0, OPT_VALUE, apply_ca_file, "PATH",
	  "trust the CA certificates in PATH (PEM) instead of the system's for the store", 0 },
	{ "insecure-skip-verify", 0, OPT_BOOL, apply_insecure_skip_verify, NULL,
	  "do not verify the store's TLS certificate (testing only)", 0 },
	{ "spool-dir", 0, OPT_VALUE, apply_spool_dir, "DIR",
	  "keep windows the store cannot take yet in DIR and replay them, also after a restart", 0 },
	{ "spool-max-bytes", 0, OPT_VALUE, apply_spool_max_bytes, "SIZE",
	  "bound of the spool, oldest windows dropped first (default 256M)", 0 },
	{ "store-timeout", 0, OPT_VALUE, apply_store_timeout, "DURATION",
	  "give up on one request to the store after DURATION and retry (default 30s)", 0 },
	{ "store-connect-timeout", 0, OPT_VALUE, apply_store_connect_timeout, "DURATION",
	  "give up connecting to the store after DURATION and retry (default 5s)", 0 },
	{ "store-queue", 0, OPT_VALUE, apply_store_queue, "N",
	  "windows held in memory for the store before they go to the spool (default 4)", 0 },
	{ "config", 'c', OPT_VALUE, apply_config, "PATH",
	  "read options from this YAML file (keys are the long flags; relabel_configs for pod "
	  "labels); the environment and the command line override it; SIGHUP re-reads it", 0 },
	{ "http-address", 0, OPT_VALUE, apply_http_address, "HOST:PORT",
	  "serve /metrics, /healthz, /readyz and /debug/pprof/profile here (e.g. 127.0.0.1:7071); "
	  "off by default", 0 },
	{ "kubernetes", 0, OPT_BOOL, apply_kubernetes, NULL,
	  "label samples with their pod's namespace, name, container and node, from the API "
	  "server (the service account's token and CA)", 0 },
	{ "kubernetes-api", 0, OPT_VALUE, apply_kubernetes_api, "URL",
	  "the API server (default: from $KUBERNETES_SERVICE_HOST and _PORT)", 0 },
	{ "node-name", 0, OPT_VALUE, apply_node_name, "NAME",
	  "this node's name for --kubernetes (default: $NODE_NAME)", 0 },
	{ "verbose", 'v', OPT_COUNT, apply_verbose, NULL,
	  "more logging; -vv adds libbpf's (environment: 0..2)", OPT_CONVERT },
	{ "quiet", 'q', OPT_BOOL, apply_quiet, NULL, "log errors and warnings only", OPT_CONVERT },
	{ "help", 'h', OPT_BOOL, apply_help, NULL, "show this help", OPT_CONVERT | OPT_NO_ENV },
	{ "version", 'V', OPT_BOOL, apply_version, NULL, "show the version", OPT_NO_ENV },
};

const size_t config_n_options = sizeof(config_options) / sizeof(config_options[0]);

const char *config_convert_help(const struct option_spec *spec)
{
	static const struct {
		const char *name, *help;
	} helps[] = {
		{ "output", "a file to write ('-': stdout), repeatable: -o flame.svg -o "
			    "stacks.folded; its extension says the format" },
		{ "format", "pprof (gzipped), folded (collapsed stacks) or svg (flame graph); "
			    "default: from the file extension (.pb.gz, .folded, .txt, .svg), "
			    "pprof for '-' (stdout)" },
		{ "top", "print the N functions with the most samples on stderr (default: none)" },
	};

	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(spec->name, helps[i].name) == 0)
			return helps[i].help;
	return NULL;
}
