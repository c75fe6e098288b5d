/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command line and environment. Every flag has an environment twin
 * (FORNAX_<FLAG>, dashes as underscores); the command line wins. Invalid
 * values are reported in one line naming the flag or variable, and the
 * caller exits with status 2.
 */
#ifndef FORNAX_CONFIG_H
#define FORNAX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "cgroups.h"
#include "output.h"
#include "top.h"

/* One file an ad-hoc capture (or convert) writes. */
struct config_output {
	char *path;
	enum output_format format;
};

struct relabel_rules;

struct config_label {
	char *name;
	char *value;
};

struct config {
	__u64 duration_ns;       /* 0: run until SIGINT/SIGTERM */
	__u64 interval_ns;       /* continuous mode: one profile per interval */
	__u64 drain_interval_ns; /* how often the kernel maps are drained */
	unsigned frequency;      /* Hz, per CPU */
	__u32 *pids;             /* sample only these processes (tgids) */
	size_t n_pids;
	bool kernel_stacks;
	bool include_idle;
	char *output;            /* file (with --duration) or directory (continuous) */
	enum output_format format;
	unsigned max_files;      /* continuous mode: profiles kept in the output directory */
	size_t max_stacks;       /* 0: sized from CPUs × frequency × drain interval */
	__u32 unwind_mode;       /* enum fornax_unwind_mode (bpf/unwind.h) */
	size_t unwind_memory;    /* bytes of unwind rows in kernel maps at most; 0: default */
	char *unwind_cache;      /* --unwind-cache: tables kept on disk here; NULL: off */
	bool unwind_cache_off;   /* --unwind-cache=off */
	__u64 unwind_cache_size; /* --unwind-cache-size */
	size_t perf_map_memory;  /* bytes of perf maps read, all together; 0: default */
	size_t debug_info_memory; /* estimated heap of open DWARF sessions; 0: default */
	bool python;             /* --python=auto: Python frames of CPython processes */
	int verbosity;           /* 0 info, 1 debug, 2 trace; -1 warnings only */
	bool show_help;
	bool show_version;
	/*
	 * Every -o of an ad-hoc capture or of convert, each with its format
	 * (output and format above are the first one's). Continuous mode
	 * takes exactly one: the directory.
	 */
	struct config_output *outputs;
	size_t n_outputs;
	bool outputs_from_env;   /* the first -o on the command line replaces them */
	/* Flame graphs (--title, --width, --icicle); NULL/0: the renderer's defaults. */
	char *title;
	unsigned width;
	bool icicle;
	int top;                 /* functions in the summary after a capture; -1: default */
	enum top_by top_by;      /* --top-by: rows are functions or processes */
	/* fornax convert IN: no BPF, just a profile file to render. */
	bool convert;
	char *input;
	char *sample_index;      /* --sample-index: the value to read, by type name; NULL: pprof's rule */
	struct cgroup_filter cgroups; /* --cgroup: sample only under these */
	char *debug_dirs;             /* --debug-dir: ':'-separated; NULL: /usr/lib/debug */
	char *debuginfod_urls;        /* --debuginfod: space-separated; NULL: off */
	char *debuginfod_cache;       /* --debuginfod-cache */
	__u64 debuginfod_timeout_ns;  /* --debuginfod-timeout */
	/* Remote store (agent/upload.h); every field below needs store. */
	char *store;             /* URL as given; NULL: no store */
	struct config_label *labels; /* --label, in the order given */
	size_t n_labels;
	char *service_name;      /* NULL: derived per process */
	char *tenant;
	char *bearer_token_file;
	char *ca_file;
	bool insecure_skip_verify;
	char *spool_dir;         /* NULL: no spool */
	__u64 spool_max_bytes;
	__u64 store_timeout_ns;
	__u64 store_connect_timeout_ns;
	unsigned store_queue;    /* windows held in memory for the upload thread */
	char store_flag_seen[64]; /* a store-only flag or variable that was given, for errors */
	/* Operating a running agent. */
	char *config_path;       /* --config: a YAML file of the same options */
	char *http_address;      /* NULL: no HTTP endpoint */
	bool kubernetes;         /* name samples' pods through the API server */
	char *kubernetes_api;    /* NULL: from KUBERNETES_SERVICE_HOST/_PORT */
	char *node_name;         /* --node-name, else NODE_NAME */
	struct relabel_rules *relabel; /* the config file's relabel_configs; NULL: none */
};

/*
 * Fills cfg from defaults, then the environment (envp, NULL-terminated),
 * then argv. Returns 0, or -EINVAL after printing one line that says what
 * is wrong (the caller exits 2).
 */
int config__parse(struct config *cfg, int argc, char **argv, char **envp);
/* The same for "fornax convert IN -o OUT...": argv[0] is "convert"; only its options apply. */
int config__parse_convert(struct config *cfg, int argc, char **argv, char **envp);
void config__print_convert_help(const char *argv0);
void config__free(struct config *cfg);
/*
 * SIGHUP: parses the configuration again and takes into cfg what a running
 * agent can change (relabel rules, verbosity), saying on stderr when other
 * settings differ. -EINVAL (the errors printed) leaves cfg as it was.
 */
int config__reload(struct config *cfg, int argc, char **argv, char **envp);
void config__print_help(const char *argv0);

/*
 * The longest duration taken: a year. Deadlines are the monotonic clock
 * plus a duration, which must not wrap.
 */
#define MAX_DURATION_NS (8760ULL * 3600 * 1000000000ULL)

/* "500ms", "30s", "2m", "1h", "1m30s". Returns 0, -EINVAL, or -ERANGE past MAX_DURATION_NS. */
int config__parse_duration(const char *s, __u64 *ns);

#endif /* FORNAX_CONFIG_H */
