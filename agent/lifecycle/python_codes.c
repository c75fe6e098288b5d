// SPDX-License-Identifier: Apache-2.0
#include "python_codes.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "python.h"

struct python_codes {
	python_code_fn fn;
	void *ctx;
	int codes_fd, seen_codes_fd, seen_chains_fd, gen_fd;
	__u64 gen;
	struct ring_buffer *rb;
	struct python_codes_stats stats;
};

/* The copied objects of one record; 0 or -EINVAL when its lengths do not add up. */
static int record_copies(const struct fornax_py_code_record *r, size_t size,
			 struct py_mem_copy *out, size_t *n)
{
	const struct {
		__u64 addr;
		const __u8 *data;
		__u32 len, cap;
	} parts[] = {
		{ r->code, r->code_bytes, r->code_len, FORNAX_PY_CODE_COPY },
		{ r->qualname, r->qualname_bytes, r->qualname_len, FORNAX_PY_STR_COPY },
		{ r->filename, r->filename_bytes, r->filename_len, FORNAX_PY_STR_COPY },
		{ r->linetable, r->linetable_bytes, r->linetable_len, FORNAX_PY_LINETABLE_COPY },
	};

	*n = 0;
	if (size < FORNAX_PY_CODE_RECORD_HDR + FORNAX_PY_CODE_COPY + 2 * FORNAX_PY_STR_COPY ||
	    size - (sizeof(*r) - FORNAX_PY_LINETABLE_COPY) < r->linetable_len)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].len > parts[i].cap || (i == 0 && !parts[i].len))
			return -EINVAL;
		if (parts[i].len && parts[i].addr)
			out[(*n)++] = (struct py_mem_copy){ parts[i].addr, parts[i].data,
							    parts[i].len };
	}
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct python_codes *pc = ctx;
	const struct fornax_py_code_record *r = data;
	struct py_mem_copy copies[4];
	size_t n;

	pc->stats.records++;
	if (record_copies(r, size, copies, &n)) {
		pc->stats.malformed++;
		return 0;
	}
	return pc->fn(r->tgid, r->start_ns, r->code, copies, n, pc->ctx);
}

static int seen_map(const char *name, size_t entries)
{
	return bpf_map_create(BPF_MAP_TYPE_LRU_HASH, name, sizeof(struct fornax_py_seen_key),
			      sizeof(struct fornax_py_seen), (__u32)entries, NULL);
}

struct python_codes *python_codes__new(const struct python_codes_opts *opts, python_code_fn fn,
				       void *ctx)
{
	struct python_codes *pc = calloc(1, sizeof(*pc));
	size_t rb_bytes = opts && opts->ringbuf_bytes ? opts->ringbuf_bytes : 1u << 20;
	int err;

	if (!pc) {
		errno = ENOMEM;
		return NULL;
	}
	pc->fn = fn;
	pc->ctx = ctx;
	pc->seen_codes_fd = pc->seen_chains_fd = pc->gen_fd = -1;
	pc->codes_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "py_codes", 0, 0, (__u32)rb_bytes,
				      NULL);
	if (pc->codes_fd >= 0)
		pc->seen_codes_fd = seen_map("py_seen_codes", opts && opts->max_codes
								     ? opts->max_codes : 16384);
	if (pc->seen_codes_fd >= 0)
		pc->seen_chains_fd = seen_map("py_seen_chains", opts && opts->max_chains
								       ? opts->max_chains : 8192);
	if (pc->seen_chains_fd >= 0)
		pc->gen_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "py_gen", sizeof(__u32),
					    sizeof(__u64), 1, NULL);
	if (pc->gen_fd < 0) {
		err = -errno;
		goto fail;
	}
	pc->rb = ring_buffer__new(pc->codes_fd, on_record, pc, NULL);
	if (!pc->rb) {
		err = -errno;
		goto fail;
	}
	return pc;
fail:
	python_codes__free(pc);
	errno = -err;
	return NULL;
}

void python_codes__free(struct python_codes *pc)
{
	if (!pc)
		return;
	ring_buffer__free(pc->rb);
	if (pc->codes_fd >= 0)
		close(pc->codes_fd);
	if (pc->seen_codes_fd >= 0)
		close(pc->seen_codes_fd);
	if (pc->seen_chains_fd >= 0)
		close(pc->seen_chains_fd);
	if (pc->gen_fd >= 0)
		close(pc->gen_fd);
	free(pc);
}

void python_codes__maps(const struct python_codes *pc, struct sampler_python_maps *m)
{
	m->codes = pc->codes_fd;
	m->seen_codes = pc->seen_codes_fd;
	m->seen_chains = pc->seen_chains_fd;
	m->gen = pc->gen_fd;
}

int python_codes__fd(const struct python_codes *pc)
{
	return ring_buffer__epoll_fd(pc->rb);
}

int python_codes__consume(struct python_codes *pc)
{
	return ring_buffer__consume(pc->rb);
}

void python_codes__forget(struct python_codes *pc, __u32 tgid, __u64 code_addr)
{
	struct fornax_py_seen_key key = { .addr = code_addr, .tgid = tgid };

	/* -ENOENT: the LRU dropped it already */
	bpf_map_delete_elem(pc->seen_codes_fd, &key);
}

int python_codes__next_gen(struct python_codes *pc)
{
	__u32 zero = 0;

	pc->gen++;
	return bpf_map_update_elem(pc->gen_fd, &zero, &pc->gen, BPF_ANY) ? -errno : 0;
}

void python_codes__stats(const struct python_codes *pc, struct python_codes_stats *out)
{
	*out = pc->stats;
}
