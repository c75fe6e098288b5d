/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a Python process's objects out of its memory (process_vm_readv):
 * every read is bounded, every object's type is checked against the
 * type object's address, and nothing read is trusted as a length without
 * a limit. Errors: -EFAULT (not mapped, or not the object expected),
 * -ESRCH (gone), -E2BIG (over the limit), -ENOMEM.
 */
#ifndef FORNAX_PY_MEM_H
#define FORNAX_PY_MEM_H

#include <stddef.h>
#include <linux/types.h>

#include "py_layout.h"

/* len bytes of the process's memory at addr, copied earlier (by the walker, bpf/python.h). */
struct py_mem_copy {
	__u64 addr;
	const void *data;
	size_t len;
};

/* A process and what its reads are checked against. */
struct py_mem {
	__u32 pid;
	const struct py_layout *layout;
	__u64 unicode_type; /* &PyUnicode_Type in the process; 0: not checked */
	__u64 bytes_type;   /* &PyBytes_Type */
	/* A read inside one of these is served from it, the others from the process. */
	const struct py_mem_copy *copies;
	size_t n_copies;
};

/* Exactly len bytes at addr, or -EFAULT / -ESRCH / -EPERM. */
int py_mem__read(__u32 pid, __u64 addr, void *buf, size_t len);

/* The same, from m's copies when one holds them all, else from m's process. */
int py_mem__read_at(const struct py_mem *m, __u64 addr, void *buf, size_t len);

/*
 * The str object at addr as UTF-8 (NUL-terminated, malloc()ed), at most
 * max_chars characters. Compact ASCII, latin-1, UCS-2 and UCS-4 strings and
 * legacy (non-compact) ones; lone surrogates become U+FFFD.
 */
int py_mem__read_str(const struct py_mem *m, __u64 addr, size_t max_chars, char **out);

/* The bytes object at addr (malloc()ed copy), at most max_len bytes. */
int py_mem__read_bytes(const struct py_mem *m, __u64 addr, size_t max_len, void **out,
		       size_t *len);

/* Appends code point cp to buf as UTF-8 (4 bytes of room needed); returns the bytes written. */
size_t py_utf8_put(char *buf, __u32 cp);

#endif /* FORNAX_PY_MEM_H */
