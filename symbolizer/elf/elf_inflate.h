/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A debug file's private copy with its zlib-compressed sections inflated,
 * in a file of the agent's, so that libdw maps its DWARF instead of
 * inflating it into the heap; kept for the next agent under the debug
 * file's identity (elf_inflate.c says why).
 */
#ifndef FORNAX_ELF_INFLATE_H
#define FORNAX_ELF_INFLATE_H

#include <linux/types.h>
#include <stdbool.h>

/*
 * Whether copies in dir_fd are worth it: the directory is the agent's
 * alone and on a filesystem whose pages can be written back (not tmpfs).
 */
bool elf_inflate__useful_dir(int dir_fd);

/*
 * The copy of src (an ELF64 little-endian file, read, never mapped): the
 * one kept in dir_fd for this very file, or one made with O_TMPFILE there
 * and then kept (named "<hash>.dbg"): an fd, with *inflated set to the
 * bytes inflated. -ENOTSUP when src has no zlib section to inflate or is another
 * kind of ELF, -EFBIG past max_bytes inflated, -EBADMSG for a stream that
 * is corrupt or not the size its header claims, or another -errno.
 */
int elf_inflate__copy(int src, int dir_fd, __u64 max_bytes, __u64 *inflated);

#endif /* FORNAX_ELF_INFLATE_H */
