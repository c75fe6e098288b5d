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

enum output_format {
	OUTPUT_FORMAT_AUTO, /* from the file extension; pprof otherwise */
	OUTPUT_FORMAT_PPROF,
	OUTPUT_FORMAT_FOLDED,
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
	int verbosity;           /* 0 info, 1 debug, 2 trace; -1 warnings only */
	bool show_help;
	bool show_version;
};

/*
 * Fills cfg from defaults, then the environment (envp, NULL-terminated),
 * then argv. Returns 0, or -EINVAL after printing one line that says what
 * is wrong (the caller exits 2).
 */
int config__parse(struct config *cfg, int argc, char **argv, char **envp);
void config__free(struct config *cfg);
void config__print_help(const char *argv0);

/* "500ms", "30s", "2m", "1h", "1m30s". Returns 0 or -EINVAL. */
int config__parse_duration(const char *s, __u64 *ns);

#endif /* FORNAX_CONFIG_H */
