/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The copies of code objects the Python walker sends while a process lives
 * (bpf/python.bpf.h, struct fornax_py_code_record): owns the ring buffer
 * they come through and the maps that say what was sent, and hands each
 * copy on as memory ranges (py_mem.h) for the code cache. Frames of a
 * process that exits before the drain are named from these.
 *
 * The walker wakes the agent only when the ring buffer is half full: the
 * records are read when a frame is named (python_tracker__frame) and when
 * python_codes__fd() polls readable.
 */
#ifndef FORNAX_PYTHON_CODES_H
#define FORNAX_PYTHON_CODES_H

#include <stddef.h>
#include <linux/types.h>

#include "py_mem.h"
#include "sampler.h"

struct python_codes;

struct python_codes_opts {
	size_t ringbuf_bytes; /* power of two, page multiple; 0: 1 MiB */
	size_t max_codes;     /* code objects remembered as sent (LRU); 0: 16384 */
	size_t max_chains;    /* chains of them remembered as checked (LRU); 0: 8192 */
};

/*
 * One copied code object, as ranges of the process's memory at their
 * addresses (the code object's header first). Non-zero stops the read.
 */
typedef int (*python_code_fn)(__u32 pid, __u64 start_ns, __u64 code_addr,
			      const struct py_mem_copy *copies, size_t n_copies, void *ctx);

struct python_codes_stats {
	__u64 records;
	__u64 malformed; /* records whose lengths do not add up: dropped */
};

/* NULL with errno set. */
struct python_codes *python_codes__new(const struct python_codes_opts *opts, python_code_fn fn,
				       void *ctx);
void python_codes__free(struct python_codes *pc);

/* Fills m's codes, seen_codes, seen_chains and gen. */
void python_codes__maps(const struct python_codes *pc, struct sampler_python_maps *m);

/* Readable (POLLIN) when the walker asks to be read: its buffer is half full. */
int python_codes__fd(const struct python_codes *pc);

/* Hands every waiting record to fn. Returns how many, or -errno. */
int python_codes__consume(struct python_codes *pc);

/* The agent dropped its copy of (tgid, code_addr): the walker sends it again when met. */
void python_codes__forget(struct python_codes *pc, __u32 tgid, __u64 code_addr);

/* A drain is over: the walker checks each chain of code objects again when next new. */
int python_codes__next_gen(struct python_codes *pc);

void python_codes__stats(const struct python_codes *pc, struct python_codes_stats *out);

#endif /* FORNAX_PYTHON_CODES_H */
