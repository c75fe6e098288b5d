// SPDX-License-Identifier: Apache-2.0
#include "demangler.h"

#include <stddef.h>

#include <demangle.h>

char *symbolizer_demangle(const char *name)
{
	if (!name || name[0] != '_')
		return NULL;
	/* Itanium C++ and legacy Rust start with _Z, Rust v0 with _R */
	if (name[1] != 'Z' && name[1] != 'R')
		return NULL;
	/* DMGL_AUTO tries Rust first (legacy Rust is valid Itanium), then C++ */
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}
