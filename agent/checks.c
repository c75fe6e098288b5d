// SPDX-License-Identifier: Apache-2.0
#include "checks.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "preflight.h"
#include "unwind.h"

int checks__start(const struct config *cfg, struct targets **targets)
{
	__u32 missing = 0;
	int err = preflight__check(&(struct preflight_opts){
		.cfi_walker = cfg->unwind_mode == FORNAX_UNWIND_DWARF,
	});

	if (err || !cfg->n_pids)
		return err;
	*targets = targets__new(cfg->pids, cfg->n_pids, &missing);
	if (*targets)
		return 0;
	err = -errno;
	if (err == -ESRCH)
		log_error("--pid %u: no such process", missing);
	else
		log_error("--pid %u: %s", missing, strerror(-err));
	return err;
}

int checks__explain_empty(const struct config *cfg, struct targets *targets, __u64 samples)
{
	size_t exited = targets__exited(targets);

	if (samples)
		return 0;
	if (cfg->n_pids && exited == cfg->n_pids) {
		log_error("no samples: %s before it ran while sampled",
			  cfg->n_pids == 1 ? "the process exited" : "every process exited");
		return -ESRCH;
	}
	if (cfg->n_pids)
		log_warn("no samples: the process%s used no CPU time during the capture",
			 cfg->n_pids == 1 ? "" : "es");
	else if (cfg->cgroups.n)
		log_warn("no samples: no task under --cgroup ran on a CPU during the capture");
	else
		log_warn("no samples: the CPUs were idle (idle time is left out; --include-idle "
			 "keeps it)");
	return 0;
}
