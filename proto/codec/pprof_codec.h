/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pprof model (proto/pprof/pprof.h) to and from the perftools.profiles
 * wire format, through protobuf-c: the encoder every writer of pprof files
 * and uploads uses, and the decoder for profiles from any writer.
 *
 * Library code: returns -errno / NULL with errno set, never logs.
 */
#ifndef FORNAX_PPROF_CODEC_H
#define FORNAX_PPROF_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "pprof.h"

/* Encodes the profile, gzipped or not; *buf is malloc'ed, the caller frees it. Returns 0 or -errno. */
int pprof__encode(const struct pprof *p, bool gzip, void **buf, size_t *len);

/*
 * Reading profiles written by anyone (Go's runtime/pprof, Parca, pprof
 * itself, fornax): gzipped or not, checked for consistency, and loaded into
 * the same model the builder makes, so every writer works on them.
 */
struct pprof_decode_opts {
	size_t max_bytes;        /* cap on the uncompressed message; 0: 1 GiB */
	const char *sample_type; /* value to read, by type name; NULL: see pprof__decode */
};

struct pprof_decode_info {
	char sample_type[32];    /* the value read, e.g. "samples" */
	char sample_unit[32];    /* its unit, e.g. "count" */
	__u64 samples_skipped;   /* samples whose value was 0 or negative */
	__u64 labels_skipped;    /* labels with an empty key */
	char error[160];         /* why decoding failed, for the user */
};

/*
 * Decodes an encoded profile (gzip, zlib or raw protobuf) into a new model.
 * Each sample's count is one of its values: opts->sample_type if given,
 * else the first value whose unit is "count" (CPU profiles: samples), else
 * the profile's default_sample_type, else the last one, as pprof does.
 * Returns NULL with errno set (EINVAL: not a valid profile, EFBIG: larger
 * than max_bytes, or its unpacking would take more than 32 times its size
 * plus 64 MiB, ENOMEM) and info->error saying why; info may be NULL.
 */
struct pprof *pprof__decode(const void *buf, size_t len, const struct pprof_decode_opts *opts,
			    struct pprof_decode_info *info);

#endif /* FORNAX_PPROF_CODEC_H */
