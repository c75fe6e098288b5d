// SPDX-License-Identifier: Apache-2.0
/* DW_EH_PE pointer encodings: the LEB128 and fixed-size forms, pc-relative or absolute. */
#include "cfi_encoding.h"

#include <dwarf.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

static int read_uleb(const __u8 **p, const __u8 *end, __u64 *out)
{
	__u64 v = 0;
	unsigned shift = 0;

	while (*p < end) {
		__u8 b = *(*p)++;

		if (shift < 64)
			v |= (__u64)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

static int read_sleb(const __u8 **p, const __u8 *end, __u64 *out)
{
	__u64 v = 0;
	unsigned shift = 0;

	while (*p < end) {
		__u8 b = *(*p)++;

		if (shift < 64)
			v |= (__u64)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~0ULL << shift;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

int cfi_read_encoded(const __u8 **p, const __u8 *end, __u8 enc, __u64 field_vaddr, bool apply,
		     __u64 *out)
{
	const __u8 *q = *p;
	size_t size = 0;
	bool is_signed = false;
	__u64 v = 0;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	case DW_EH_PE_udata4:
		size = 4;
		break;
	case DW_EH_PE_sdata4:
		size = 4;
		is_signed = true;
		break;
	case DW_EH_PE_udata2:
		size = 2;
		break;
	case DW_EH_PE_sdata2:
		size = 2;
		is_signed = true;
		break;
	case DW_EH_PE_uleb128:
		if (read_uleb(&q, end, &v))
			return -EINVAL;
		break;
	case DW_EH_PE_sleb128:
		if (read_sleb(&q, end, &v))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (size) {
		if ((size_t)(end - q) < size)
			return -EINVAL;
		if (size == 8) {
			__u64 x;

			memcpy(&x, q, 8);
			v = le64toh(x);
		} else if (size == 4) {
			__u32 x;

			memcpy(&x, q, 4);
			x = le32toh(x);
			v = is_signed ? (__u64)(__s64)(__s32)x : x;
		} else {
			__u16 x;

			memcpy(&x, q, 2);
			x = le16toh(x);
			v = is_signed ? (__u64)(__s64)(__s16)x : x;
		}
		q += size;
	}
	if (apply) {
		if (enc & DW_EH_PE_indirect)
			return -ENOTSUP;
		switch (enc & 0x70) {
		case DW_EH_PE_absptr:
			break;
		case DW_EH_PE_pcrel:
			v += field_vaddr;
			break;
		default: /* textrel/datarel/funcrel: not used for FDE pc ranges */
			return -ENOTSUP;
		}
	}
	*p = q;
	*out = v;
	return 0;
}
