/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `fornax convert PROFILE -o FILE...`: reads a pprof profile from any
 * writer and renders it with the capture's writers (flame graph, folded
 * stacks, pprof) and its top summary. No BPF, no privileges.
 */
#ifndef FORNAX_CONVERT_H
#define FORNAX_CONVERT_H

/* argv[0] is "convert". Returns the exit status: 0, 1 (failed) or 2 (bad usage). */
int convert__main(int argc, char **argv, char **envp, const char *prog);

#endif /* FORNAX_CONVERT_H */
