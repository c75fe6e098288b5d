/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the pprof decoder: what protobuf-c would allocate to unpack a
 * Profile message, measured from the wire format before it does. A few
 * bytes of input can stand for a whole unpacked struct (an empty sample is
 * two bytes, its struct about 80), so the decompressed size alone does not
 * bound the memory a hostile profile takes.
 */
#ifndef FORNAX_PPROF_SCAN_H
#define FORNAX_PPROF_SCAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * An upper estimate of the heap protobuf-c's unpack of the Profile in
 * buf takes, in *bytes (saturating); the scan stops once it passes limit.
 * 0, or -EINVAL if the wire format is broken (unpack would refuse it too).
 */
int pprof_scan__unpacked_bytes(const uint8_t *buf, size_t len, size_t limit, size_t *bytes);

#endif /* FORNAX_PPROF_SCAN_H */
