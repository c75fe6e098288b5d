/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cold part of a function, found without symbols. GCC moves a
 * function's unlikely blocks (CPython's error and exception paths in
 * _PyEval_EvalFrameDefault) to a fragment of their own, named
 * function.cold only in .symtab, which distributions strip: .dynsym's
 * entry covers the hot part alone, and a native frame in the cold part
 * would not be taken for the function.
 *
 * The fragment has its own FDE in .eh_frame, and the function's body
 * branches into it from every unlikely path: the FDE outside the function
 * that the body's 32-bit relative jumps land in most is its cold part.
 * The body is read as bytes, not decoded, so a few "jumps" are parts of
 * other instructions; they scatter, and the fragment, met by hundreds of
 * real ones in CPython (378 of 378 for Debian's 3.11), must take at least
 * PY_COLD_MIN_JUMPS and more than half of all jumps that land in an FDE.
 */
#ifndef FORNAX_PY_COLD_H
#define FORNAX_PY_COLD_H

#include <gelf.h>
#include <linux/types.h>

#define PY_COLD_MIN_JUMPS 8
/* Bodies read: CPython's eval loop is 55 KiB (3.11) to 120 KiB (3.12, debug builds). */
#define PY_COLD_MAX_BODY (1u << 20)

/*
 * The cold part [*cold_start, *cold_end) (ELF virtual addresses) of the
 * function at [start, start + size) in elf. 0, or -ENOENT if none is
 * found, -EINVAL for a body that is not in an executable section or is
 * over PY_COLD_MAX_BODY, -ENOEXEC for no readable .eh_frame, -ENOMEM.
 */
int py_cold__find(Elf *elf, __u64 start, __u64 size, __u64 *cold_start, __u64 *cold_end);

#endif /* FORNAX_PY_COLD_H */
