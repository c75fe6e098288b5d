/* SPDX-License-Identifier: Apache-2.0 */
/* C++ (Itanium ABI) and Rust (legacy and v0) demangling through libiberty. */
#ifndef FORNAX_SYMBOLIZER_DEMANGLER_H
#define FORNAX_SYMBOLIZER_DEMANGLER_H

/*
 * malloc'd demangled form of name (with parameter types), or NULL if name
 * is not a mangled name libiberty understands, or on -ENOMEM.
 */
char *symbolizer_demangle(const char *name);

#endif /* FORNAX_SYMBOLIZER_DEMANGLER_H */
