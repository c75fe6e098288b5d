// SPDX-License-Identifier: Apache-2.0
/*
 * pprof decoder: encoded profile → the builder's model.
 *
 * The input is untrusted (any file a user points `fornax convert` at), so
 * every index and id is checked before use and every failure says what was
 * wrong. protobuf-c does the wire-format parsing; this file checks what the
 * wire format cannot: string indexes, ids that must refer to something, and
 * sample values that must match the sample types.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof_codec.h"
#include "pprof_scan.h"
#include "profile.pb-c.h"

#define DEFAULT_MAX_BYTES (1ULL << 30)
/*
 * Unpacking may take this many times the message, plus a floor: real
 * profiles take 5 to 20 (a sample of a few ids), while empty samples take
 * 48 times their two bytes each.
 */
#define UNPACK_RATIO 32
#define UNPACK_FLOOR (64ULL << 20)
#define UNPACK_MAX (4ULL << 30)

struct id_map {
	/* Sorted by from; empty when the ids are exactly 1..N in order (the common case). */
	struct id_pair {
		uint64_t from;
		__u64 to;
	} *pairs;
	__u64 *direct; /* direct[i]: model id of input id i + 1 */
	size_t n;
};

struct decoder {
	const Perftools__Profiles__Profile *in;
	struct pprof *out;
	struct pprof_decode_info *info;
	struct id_map mappings, functions, locations;
	__u64 *stack;            /* scratch: one sample's model location ids */
	struct pprof_label *labels;
};

static int fail(struct decoder *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct decoder *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (d->info && !d->info->error[0]) {
		va_start(ap, fmt);
		vsnprintf(d->info->error, sizeof(d->info->error), fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A string_table entry, or NULL when idx is out of range. */
static const char *str_at(const struct decoder *d, int64_t idx)
{
	if (idx < 0 || (uint64_t)idx >= d->in->n_string_table)
		return NULL;
	return d->in->string_table[idx];
}

static int compare_pairs(const void *a, const void *b)
{
	const struct id_pair *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

/*
 * Prepares a map for n input ids read by get_id(i). Ids 1..N in order take
 * an array; anything else a sorted list of pairs. Returns 0 or -errno.
 */
static int id_map_init(struct decoder *d, struct id_map *m, size_t n, const char *what,
		       uint64_t (*get_id)(const Perftools__Profiles__Profile *, size_t))
{
	bool dense = true;

	m->n = n;
	for (size_t i = 0; i < n && dense; i++)
		dense = get_id(d->in, i) == i + 1;
	if (dense) {
		m->direct = calloc(n ? n : 1, sizeof(*m->direct));
		return m->direct ? 0 : -ENOMEM;
	}
	m->pairs = calloc(n ? n : 1, sizeof(*m->pairs));
	if (!m->pairs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		m->pairs[i].from = get_id(d->in, i);
		if (!m->pairs[i].from)
			return fail(d, -EINVAL, "%s %zu has id 0", what, i + 1);
	}
	qsort(m->pairs, n, sizeof(*m->pairs), compare_pairs);
	for (size_t i = 1; i < n; i++)
		if (m->pairs[i].from == m->pairs[i - 1].from)
			return fail(d, -EINVAL, "two %ss have id %llu", what,
				    (unsigned long long)m->pairs[i].from);
	return 0;
}

static void id_map_set(struct id_map *m, uint64_t from, __u64 to)
{
	struct id_pair key = { .from = from }, *p;

	if (m->direct) {
		m->direct[from - 1] = to;
		return;
	}
	p = bsearch(&key, m->pairs, m->n, sizeof(*m->pairs), compare_pairs);
	if (p)
		p->to = to;
}

/* The model id of input id from, 0 if there is none. */
static __u64 id_map_get(const struct id_map *m, uint64_t from)
{
	struct id_pair key = { .from = from }, *p;

	if (m->direct)
		return from && from <= m->n ? m->direct[from - 1] : 0;
	p = bsearch(&key, m->pairs, m->n, sizeof(*m->pairs), compare_pairs);
	return p ? p->to : 0;
}

static void id_map_free(struct id_map *m)
{
	free(m->pairs);
	free(m->direct);
}

static uint64_t mapping_id_at(const Perftools__Profiles__Profile *in, size_t i)
{
	return in->mapping[i]->id;
}

static uint64_t function_id_at(const Perftools__Profiles__Profile *in, size_t i)
{
	return in->function[i]->id;
}

static uint64_t location_id_at(const Perftools__Profiles__Profile *in, size_t i)
{
	return in->location[i]->id;
}

/*
 * Inflates gzip or zlib data into *out (malloc'ed), refusing more than max
 * bytes. Concatenated gzip members are read one after the other, as gunzip
 * does. Returns 0 or -errno.
 */
static int inflate_all(struct decoder *d, const unsigned char *in, size_t in_len, size_t max,
		       unsigned char **out, size_t *out_len)
{
	size_t cap = in_len < max / 4 ? 4 * in_len + 4096 : max;
	unsigned char *buf = NULL;
	bool live = false;
	z_stream zs;
	int err = 0, ret;

	if (cap > max)
		cap = max;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	memset(&zs, 0, sizeof(zs));
	/* 15 + 32: detect a gzip or a zlib header. */
	if (inflateInit2(&zs, 15 + 32) != Z_OK) {
		err = -ENOMEM;
		goto cleanup;
	}
	live = true;
	zs.next_in = (unsigned char *)in;
	zs.avail_in = in_len > UINT32_MAX ? UINT32_MAX : (uInt)in_len;
	for (;;) {
		size_t used = zs.total_out;

		if (used == cap) {
			size_t ncap = cap > max / 2 ? max : 2 * cap;
			unsigned char *grown;

			if (cap >= max) {
				err = fail(d, -EFBIG, "larger than %zu bytes uncompressed", max);
				goto cleanup;
			}
			grown = realloc(buf, ncap + 1);
			if (!grown) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = grown;
			cap = ncap;
		}
		zs.next_out = buf + used;
		zs.avail_out = cap - used > UINT32_MAX ? UINT32_MAX : (uInt)(cap - used);
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			size_t consumed = (size_t)(zs.next_in - in);

			if (consumed == in_len)
				break;
			if (in_len - consumed >= 2 && in[consumed] == 0x1f && in[consumed + 1] == 0x8b) {
				uLong total = zs.total_out;

				/* Another gzip member: carry on into the same buffer. */
				if (inflateReset(&zs) != Z_OK) {
					err = -EIO;
					goto cleanup;
				}
				zs.total_out = total;
				zs.avail_in = in_len - consumed > UINT32_MAX ? UINT32_MAX
									   : (uInt)(in_len - consumed);
				continue;
			}
			err = fail(d, -EINVAL, "%zu bytes of trailing garbage after the compressed data",
				   in_len - consumed);
			goto cleanup;
		}
		if (ret == Z_BUF_ERROR && zs.avail_out) {
			/* Out of input with the stream unfinished, or input past 4 GiB. */
			if ((size_t)(zs.next_in - in) < in_len) {
				zs.avail_in = in_len - (size_t)(zs.next_in - in) > UINT32_MAX
						      ? UINT32_MAX
						      : (uInt)(in_len - (size_t)(zs.next_in - in));
				continue;
			}
			err = fail(d, -EINVAL, "compressed data is truncated");
			goto cleanup;
		}
		if (ret == Z_MEM_ERROR) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			err = fail(d, -EINVAL, "compressed data is corrupt (%s)",
				   zs.msg ? zs.msg : "zlib error");
			goto cleanup;
		}
		if (zs.avail_in == 0 && (size_t)(zs.next_in - in) < in_len)
			zs.avail_in = in_len - (size_t)(zs.next_in - in) > UINT32_MAX
					      ? UINT32_MAX
					      : (uInt)(in_len - (size_t)(zs.next_in - in));
	}
	*out = buf;
	*out_len = zs.total_out;
	buf = NULL;
cleanup:
	if (live)
		inflateEnd(&zs);
	free(buf);
	return err;
}

static bool is_gzip(const unsigned char *b, size_t len)
{
	return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

/*
 * zlib: CM 8 and a header checksum, as RFC 1950 defines. One raw protobuf
 * in 31 that starts with field 9 (time_nanos) passes too, so a failed
 * inflate of a "zlib" input falls back to reading it raw.
 */
static bool maybe_zlib(const unsigned char *b, size_t len)
{
	return len >= 2 && (b[0] & 0x0f) == 8 && (b[0] >> 4) <= 7 && ((b[0] << 8) | b[1]) % 31 == 0;
}

static void copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* Which of the sample's values becomes the model's count. Returns the index or -errno. */
static int pick_value(struct decoder *d, const char *wanted)
{
	const Perftools__Profiles__Profile *in = d->in;
	const char *def;
	int pick = -1;

	if (!in->n_sample_type)
		return fail(d, -EINVAL, "no sample types: not a pprof profile");
	if (in->n_sample_type > INT32_MAX)
		return fail(d, -EINVAL, "too many sample types");
	for (size_t i = 0; i < in->n_sample_type; i++) {
		const Perftools__Profiles__ValueType *vt = in->sample_type[i];

		if (!str_at(d, vt->type) || !str_at(d, vt->unit))
			return fail(d, -EINVAL, "sample type %zu names a string that does not exist",
				    i + 1);
	}
	if (wanted) {
		for (size_t i = 0; i < in->n_sample_type && pick < 0; i++)
			if (strcmp(str_at(d, in->sample_type[i]->type), wanted) == 0)
				pick = (int)i;
		if (pick < 0)
			return fail(d, -ENOENT, "the profile has no sample type \"%s\"", wanted);
	}
	for (size_t i = 0; i < in->n_sample_type && pick < 0; i++)
		if (strcmp(str_at(d, in->sample_type[i]->unit), "count") == 0)
			pick = (int)i;
	def = in->default_sample_type ? str_at(d, in->default_sample_type) : NULL;
	for (size_t i = 0; def && i < in->n_sample_type && pick < 0; i++)
		if (strcmp(str_at(d, in->sample_type[i]->type), def) == 0)
			pick = (int)i;
	if (pick < 0)
		pick = (int)in->n_sample_type - 1;
	if (d->info) {
		copy_name(d->info->sample_type, sizeof(d->info->sample_type),
			  str_at(d, in->sample_type[pick]->type));
		copy_name(d->info->sample_unit, sizeof(d->info->sample_unit),
			  str_at(d, in->sample_type[pick]->unit));
	}
	return pick;
}

/* An optional string: index 0 ("") and a bad index are told apart by *bad. */
static const char *opt_str(const struct decoder *d, int64_t idx, bool *bad)
{
	const char *s = str_at(d, idx);

	if (!s)
		*bad = true;
	return s;
}

static int load_mappings(struct decoder *d)
{
	const Perftools__Profiles__Profile *in = d->in;
	int err = id_map_init(d, &d->mappings, in->n_mapping, "mapping", mapping_id_at);

	for (size_t i = 0; !err && i < in->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = in->mapping[i];
		bool bad = false;
		struct pprof_mapping pm = {
			.start = m->memory_start,
			/* Some writers leave the limit at 0 when they do not know it. */
			.limit = m->memory_limit < m->memory_start ? m->memory_start : m->memory_limit,
			.offset = m->file_offset,
			.filename = opt_str(d, m->filename, &bad),
			.build_id = opt_str(d, m->build_id, &bad),
			.has_functions = m->has_functions,
			.has_filenames = m->has_filenames,
			.has_line_numbers = m->has_line_numbers,
			.has_inline_frames = m->has_inline_frames,
		};
		__u64 id;

		if (bad)
			return fail(d, -EINVAL, "mapping %llu names a string that does not exist",
				    (unsigned long long)m->id);
		id = pprof__add_mapping(d->out, &pm);
		if (!id)
			return -errno;
		id_map_set(&d->mappings, m->id, id);
	}
	return err;
}

static int load_functions(struct decoder *d)
{
	const Perftools__Profiles__Profile *in = d->in;
	int err = id_map_init(d, &d->functions, in->n_function, "function", function_id_at);

	for (size_t i = 0; !err && i < in->n_function; i++) {
		const Perftools__Profiles__Function *f = in->function[i];
		bool bad = false;
		struct pprof_function pf = {
			.name = opt_str(d, f->name, &bad),
			.system_name = opt_str(d, f->system_name, &bad),
			.filename = opt_str(d, f->filename, &bad),
			.start_line = f->start_line,
		};
		__u64 id;

		if (bad)
			return fail(d, -EINVAL, "function %llu names a string that does not exist",
				    (unsigned long long)f->id);
		/* A nameless function still needs something to show. */
		if (!*pf.name)
			pf.name = *pf.system_name ? pf.system_name : "[unknown]";
		id = pprof__add_function(d->out, &pf);
		if (!id)
			return -errno;
		id_map_set(&d->functions, f->id, id);
	}
	return err;
}

static int load_locations(struct decoder *d)
{
	const Perftools__Profiles__Profile *in = d->in;
	struct pprof_line *lines = NULL;
	size_t cap = 0;
	int err = id_map_init(d, &d->locations, in->n_location, "location", location_id_at);

	for (size_t i = 0; !err && i < in->n_location; i++) {
		const Perftools__Profiles__Location *l = in->location[i];
		__u64 mapping = 0, id;

		if (l->mapping_id) {
			mapping = id_map_get(&d->mappings, l->mapping_id);
			if (!mapping) {
				err = fail(d, -EINVAL, "location %llu refers to mapping %llu, which does "
					   "not exist", (unsigned long long)l->id,
					   (unsigned long long)l->mapping_id);
				break;
			}
		}
		if (l->n_line > cap) {
			struct pprof_line *grown = reallocarray(lines, l->n_line, sizeof(*lines));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			lines = grown;
			cap = l->n_line;
		}
		for (size_t j = 0; j < l->n_line; j++) {
			lines[j].function_id = id_map_get(&d->functions, l->line[j]->function_id);
			lines[j].line = l->line[j]->line;
			if (!lines[j].function_id) {
				err = fail(d, -EINVAL, "location %llu refers to function %llu, which "
					   "does not exist", (unsigned long long)l->id,
					   (unsigned long long)l->line[j]->function_id);
				break;
			}
		}
		if (err)
			break;
		/* Appended, not interned: other writers' locations need not have distinct addresses. */
		id = pprof__append_location(d->out, mapping, l->address, lines, l->n_line);
		if (!id) {
			err = -errno;
			break;
		}
		id_map_set(&d->locations, l->id, id);
	}
	free(lines);
	return err;
}

static int load_samples(struct decoder *d, int value)
{
	const Perftools__Profiles__Profile *in = d->in;
	size_t stack_cap = 0, label_cap = 0;
	int err = 0;

	for (size_t i = 0; i < in->n_sample; i++) {
		const Perftools__Profiles__Sample *s = in->sample[i];
		size_t n_labels = 0;

		if (s->n_value != in->n_sample_type)
			return fail(d, -EINVAL, "sample %zu has %zu values for %zu sample types", i + 1,
				    s->n_value, in->n_sample_type);
		if (s->value[value] <= 0) {
			if (d->info)
				d->info->samples_skipped++;
			continue;
		}
		if (s->n_location_id > stack_cap) {
			__u64 *grown = reallocarray(d->stack, s->n_location_id, sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			d->stack = grown;
			stack_cap = s->n_location_id;
		}
		for (size_t j = 0; j < s->n_location_id; j++) {
			d->stack[j] = id_map_get(&d->locations, s->location_id[j]);
			if (!d->stack[j])
				return fail(d, -EINVAL, "sample %zu refers to location %llu, which does "
					    "not exist", i + 1, (unsigned long long)s->location_id[j]);
		}
		if (s->n_label > label_cap) {
			struct pprof_label *grown = reallocarray(d->labels, s->n_label, sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			d->labels = grown;
			label_cap = s->n_label;
		}
		for (size_t j = 0; j < s->n_label; j++) {
			const Perftools__Profiles__Label *l = s->label[j];
			bool bad = false;
			struct pprof_label pl = {
				.key = opt_str(d, l->key, &bad),
				.str = l->str ? opt_str(d, l->str, &bad) : NULL,
				.num = l->num,
				.num_unit = opt_str(d, l->num_unit, &bad),
			};

			if (bad)
				return fail(d, -EINVAL, "a label of sample %zu names a string that does "
					    "not exist", i + 1);
			if (!*pl.key) {
				if (d->info)
					d->info->labels_skipped++;
				continue;
			}
			d->labels[n_labels++] = pl;
		}
		err = pprof__add_sample(d->out, d->stack, s->n_location_id, s->value[value],
					d->labels, n_labels);
		if (err == -EOVERFLOW)
			return fail(d, err, "sample values add up to more than 2^63");
		if (err)
			return err;
	}
	return 0;
}

static int load(struct decoder *d, const struct pprof_decode_opts *opts)
{
	const Perftools__Profiles__Profile *in = d->in;
	int value, err;

	if (!in->n_string_table || !in->string_table[0] || in->string_table[0][0])
		return fail(d, -EINVAL, "string table does not start with \"\": not a pprof profile");
	value = pick_value(d, opts ? opts->sample_type : NULL);
	if (value < 0)
		return value;
	d->out = pprof__new(&(struct pprof_opts){
		/* The model needs a period; a profile that gives none counts events of 1. */
		.period_ns = in->period > 0 ? (__u64)in->period : 1,
		.time_nanos = in->time_nanos,
	});
	if (!d->out)
		return -errno;
	if (in->duration_nanos > 0)
		pprof__set_duration(d->out, (__u64)in->duration_nanos);
	err = load_mappings(d);
	if (!err)
		err = load_functions(d);
	if (!err)
		err = load_locations(d);
	if (!err)
		err = load_samples(d, value);
	for (size_t i = 0; !err && i < in->n_comment; i++) {
		const char *c = str_at(d, in->comment[i]);

		if (!c)
			return fail(d, -EINVAL, "comment %zu names a string that does not exist", i + 1);
		err = pprof__add_comment(d->out, c);
	}
	return err;
}

struct pprof *pprof__decode(const void *buf, size_t len, const struct pprof_decode_opts *opts,
			    struct pprof_decode_info *info)
{
	size_t max = opts && opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES;
	struct decoder d = { .info = info };
	Perftools__Profiles__Profile *in = NULL;
	unsigned char *raw = NULL;
	size_t raw_len = len, unpacked, budget;
	int err;

	if (info)
		memset(info, 0, sizeof(*info));
	if (!buf && len) {
		err = -EINVAL;
		goto cleanup;
	}
	if (!len) {
		err = fail(&d, -EINVAL, "empty input");
		goto cleanup;
	}
	if (is_gzip(buf, len)) {
		err = inflate_all(&d, buf, len, max, &raw, &raw_len);
		if (err)
			goto cleanup;
	} else if (maybe_zlib(buf, len)) {
		err = inflate_all(&d, buf, len, max, &raw, &raw_len);
		if (err == -EINVAL) {
			if (info)
				info->error[0] = '\0';
			raw_len = len;
			err = 0;
		} else if (err) {
			goto cleanup;
		}
	}
	if (!raw && len > max) {
		err = fail(&d, -EFBIG, "larger than %zu bytes", max);
		goto cleanup;
	}
	/* what unpacking would take, before it takes it: tiny messages cost a struct each */
	budget = raw_len > (UNPACK_MAX - UNPACK_FLOOR) / UNPACK_RATIO ? UNPACK_MAX
								  : raw_len * UNPACK_RATIO + UNPACK_FLOOR;
	err = pprof_scan__unpacked_bytes(raw ? raw : buf, raw_len, budget, &unpacked);
	if (err) {
		err = fail(&d, -EINVAL, "not a pprof profile (the protobuf message does not parse)");
		goto cleanup;
	}
	if (unpacked > budget) {
		err = fail(&d, -EFBIG, "would take more than %zu MiB of memory to read, more than "
			   "its size allows", budget >> 20);
		goto cleanup;
	}
	in = perftools__profiles__profile__unpack(NULL, raw_len, raw ? raw : buf);
	if (!in) {
		err = fail(&d, -EINVAL, "not a pprof profile (the protobuf message does not parse)");
		goto cleanup;
	}
	d.in = in;
	err = load(&d, opts);

cleanup:
	if (err == -ENOMEM)
		fail(&d, err, "out of memory");
	else if (err)
		fail(&d, err, "%s", strerror(-err));
	if (in)
		perftools__profiles__profile__free_unpacked(in, NULL);
	free(raw);
	free(d.stack);
	free(d.labels);
	id_map_free(&d.mappings);
	id_map_free(&d.functions);
	id_map_free(&d.locations);
	if (err) {
		pprof__free(d.out);
		errno = -err;
		return NULL;
	}
	return d.out;
}
