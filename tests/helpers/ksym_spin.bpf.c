// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * A BPF program that does nothing but burn CPU, so that samples land in its
 * JIT-compiled text: ksym_loader runs it in its own syscall
 * (BPF_PROG_TEST_RUN) after the agent has read /proc/kallsyms.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* kallsyms names it bpf_prog_<tag>_ksym_spin: keep it within 15 characters */
SEC("xdp")
int ksym_spin(struct xdp_md *ctx)
{
	__u64 h = ctx->data_end - ctx->data;

	for (int i = 0; i < 4000; i++)
		h = h * 6364136223846793005ULL + 1442695040888963407ULL + i;
	return (h >> 63) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
