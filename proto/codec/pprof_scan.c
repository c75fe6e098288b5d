// SPDX-License-Identifier: Apache-2.0
/*
 * The unpacked size of a Profile, from one pass over its wire format: each
 * message protobuf-c allocates costs its struct, the pointer to it and the
 * allocator's overhead; each repeated integer up to 8 bytes for a 1-byte
 * varint; each string its bytes, a NUL and a pointer.
 */
#include "pprof_scan.h"

#include <errno.h>

#include "profile.pb-c.h"

#define ALLOC_OVERHEAD 16 /* malloc's header and rounding, per allocation */

/* Field numbers of profile.proto. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	SAMPLE_LABEL = 3,
	LOCATION_LINE = 4,
};

struct wire {
	const uint8_t *p, *end;
};

static int varint(struct wire *w, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (w->p == w->end)
			return -EINVAL;
		*v |= (uint64_t)(*w->p & 0x7f) << shift;
		if (!(*w->p++ & 0x80))
			return 0;
	}
	return -EINVAL;
}

/* The next field: its number, wire type, and for length-delimited ones the payload. */
static int field(struct wire *w, uint32_t *num, unsigned *type, struct wire *payload)
{
	uint64_t key, v;
	int err = varint(w, &key);

	if (err)
		return err;
	*num = (uint32_t)(key >> 3);
	*type = key & 7;
	switch (*type) {
	case 0:
		return varint(w, &v);
	case 1:
	case 5: {
		size_t n = *type == 1 ? 8 : 4;

		if ((size_t)(w->end - w->p) < n)
			return -EINVAL;
		w->p += n;
		return 0;
	}
	case 2:
		err = varint(w, &v);
		if (err || v > (uint64_t)(w->end - w->p))
			return -EINVAL;
		payload->p = w->p;
		payload->end = w->p + v;
		w->p += v;
		return 0;
	default:
		return -EINVAL;
	}
}

static void add(size_t *total, size_t n)
{
	*total = n > SIZE_MAX - *total ? SIZE_MAX : *total + n;
}

/* One submessage of struct_size, with its repeated children of child_size in field child. */
static int message(struct wire m, size_t struct_size, uint32_t child, size_t child_size,
		   size_t *total)
{
	struct wire payload;
	uint32_t num;
	unsigned type;
	int err = 0;

	add(total, struct_size + sizeof(void *) + ALLOC_OVERHEAD);
	/* repeated integers, packed or not: at most 8 bytes each per input byte */
	add(total, (size_t)(m.end - m.p) * 8);
	while (!err && m.p < m.end) {
		err = field(&m, &num, &type, &payload);
		if (!err && child && num == child && type == 2)
			add(total, child_size + sizeof(void *) + ALLOC_OVERHEAD);
	}
	return err;
}

int pprof_scan__unpacked_bytes(const uint8_t *buf, size_t len, size_t limit, size_t *bytes)
{
	struct wire w = { buf, buf + len }, payload;
	size_t total = sizeof(Perftools__Profiles__Profile);
	uint32_t num;
	unsigned type;
	int err = 0;

	/* past the limit the answer is known: a bomb is refused without reading all of it */
	while (!err && w.p < w.end && total <= limit) {
		err = field(&w, &num, &type, &payload);
		if (err || type != 2)
			continue;
		switch (num) {
		case PROFILE_SAMPLE_TYPE:
			err = message(payload, sizeof(Perftools__Profiles__ValueType), 0, 0, &total);
			break;
		case PROFILE_SAMPLE:
			err = message(payload, sizeof(Perftools__Profiles__Sample), SAMPLE_LABEL,
				      sizeof(Perftools__Profiles__Label), &total);
			break;
		case PROFILE_MAPPING:
			err = message(payload, sizeof(Perftools__Profiles__Mapping), 0, 0, &total);
			break;
		case PROFILE_LOCATION:
			err = message(payload, sizeof(Perftools__Profiles__Location), LOCATION_LINE,
				      sizeof(Perftools__Profiles__Line), &total);
			break;
		case PROFILE_FUNCTION:
			err = message(payload, sizeof(Perftools__Profiles__Function), 0, 0, &total);
			break;
		case PROFILE_STRING_TABLE:
			add(&total, (size_t)(payload.end - payload.p) + 1 + sizeof(char *) +
					    ALLOC_OVERHEAD);
			break;
		}
	}
	*bytes = total;
	return err;
}
