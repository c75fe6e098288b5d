/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Debug files from debuginfod servers, through libdebuginfod loaded with
 * dlopen() only when asked for: linking it (or letting libdwfl reach for it)
 * would bring libcurl and some thirty libraries into every agent. Servers,
 * cache directory and timeouts come from libdebuginfod's environment
 * (DEBUGINFOD_URLS, DEBUGINFOD_CACHE_PATH, DEBUGINFOD_TIMEOUT,
 * DEBUGINFOD_MAXTIME), which the caller sets before the first query. A
 * query blocks for at most those timeouts; answers, misses included, are
 * cached on disk by the library.
 */
#ifndef FORNAX_SYMBOLIZER_DEBUGINFOD_H
#define FORNAX_SYMBOLIZER_DEBUGINFOD_H

#include <stddef.h>

struct debuginfod;

/* NULL with errno set: ENOENT when libdebuginfod.so.1 cannot be loaded. */
struct debuginfod *debuginfod__new(void);
void debuginfod__free(struct debuginfod *d);

/*
 * An fd (O_CLOEXEC) of the debug file for the build-id, and its path in the
 * cache (malloc'ed), or -errno (-ENOENT: no server has it).
 */
int debuginfod__find_debuginfo(struct debuginfod *d, const unsigned char *build_id, size_t len,
			       char **path);

#endif /* FORNAX_SYMBOLIZER_DEBUGINFOD_H */
