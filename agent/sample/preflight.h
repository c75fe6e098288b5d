/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What loading the sampler needs, checked before libbpf is asked: on a
 * machine that lacks one of them, the user gets one line naming it rather
 * than a page of loader output whose first line points elsewhere.
 */
#ifndef FORNAX_PREFLIGHT_H
#define FORNAX_PREFLIGHT_H

#include <stdbool.h>

struct preflight_opts {
	bool cfi_walker; /* --unwind=dwarf: the CFI walker is required, not tried */
};

/*
 * Privileges (root, or CAP_BPF with CAP_PERFMON, naming the ones missing),
 * the kernel's BTF and its version. Returns 0, or -errno after logging one
 * line that says what is wrong and how to fix it.
 */
int preflight__check(const struct preflight_opts *opts);

#endif /* FORNAX_PREFLIGHT_H */
