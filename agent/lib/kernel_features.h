/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the running kernel offers that fornax uses when present, probed once
 * at start (BTF and perf_event_open, never the release number alone: distro
 * kernels backport), so every stage decides from the same answers and one
 * start-up line says which features were found and which fallbacks apply.
 */
#ifndef FORNAX_KERNEL_FEATURES_H
#define FORNAX_KERNEL_FEATURES_H

#include <stdbool.h>

struct kernel_features {
	char release[65];       /* uname -r */
	bool btf;               /* /sys/kernel/btf/vmlinux */
	bool btf_types_probed;  /* the two below were looked up (kernel_features__probe_types()) */
	/*
	 * Map ops return long (6.4): before, an inlined map update's error
	 * reaches BPF programs zero-extended; they keep it in an int.
	 */
	bool map_ops_long;
	bool vma_iterator;      /* bpf_iter_task_vma_* kfuncs (6.7): mappings walked at exit */
	bool perf_build_id;     /* perf MMAP2 records carry build-ids (5.12) */
	bool sideband;          /* set by the agent: perf sideband records opened */
};

/* Fills f but for the BTF types; a probe that cannot run leaves its feature false. */
void kernel_features__probe(struct kernel_features *f);

/*
 * Looks up map_ops_long and vma_iterator in the kernel's BTF. Parsing it
 * costs about as much CPU as verifying the sampling program (40 ms here),
 * and libbpf parses it again for each object it loads, so only a caller
 * whose choice depends on them asks.
 */
void kernel_features__probe_types(struct kernel_features *f);

/* The start-up line: the kernel, the features found and the fallbacks taken. */
void kernel_features__log(const struct kernel_features *f);

#endif /* FORNAX_KERNEL_FEATURES_H */
