// SPDX-License-Identifier: Apache-2.0
#include "page_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "array.h"

struct retired_range {
	struct page_pool *pool;
	__u32 start;
	__u32 n;
};

int page_pool__init(struct page_pool *p, const char *name, __u32 elem_size, __u32 page_shift,
		    __u32 max_pages)
{
	LIBBPF_OPTS(bpf_map_create_opts, inner_opts, .map_flags = BPF_F_MMAPABLE);
	LIBBPF_OPTS(bpf_map_create_opts, outer_opts);
	int template_fd, err = 0;

	p->name = name;
	p->elem_size = elem_size;
	p->page_shift = page_shift;
	p->max_pages = max_pages;
	p->outer_fd = -1;
	p->pages = calloc(max_pages, sizeof(*p->pages));
	p->alloc = range_alloc__new((__u64)max_pages << page_shift);
	if (!p->pages || !p->alloc)
		return -ENOMEM;
	for (__u32 i = 0; i < max_pages; i++)
		p->pages[i].fd = -1;
	/* The outer map takes its pages' shape from a template, then forgets it. */
	template_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), elem_size,
				     1u << page_shift, &inner_opts);
	if (template_fd < 0)
		return -errno;
	outer_opts.inner_map_fd = template_fd;
	p->outer_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, name, sizeof(__u32), sizeof(__u32),
				     max_pages, &outer_opts);
	if (p->outer_fd < 0)
		err = -errno;
	close(template_fd);
	return err;
}

static void release_page(struct page_pool *p, __u32 i)
{
	struct page *pg = &p->pages[i];

	if (pg->fd < 0)
		return;
	/* The kernel frees the map once no program can reach it any more. */
	bpf_map_delete_elem(p->outer_fd, &i);
	munmap(pg->mem, (size_t)p->elem_size << p->page_shift);
	close(pg->fd);
	pg->fd = -1;
	pg->mem = NULL;
	p->live_pages--;
}

void page_pool__destroy(struct page_pool *p)
{
	if (p->pages)
		for (__u32 i = 0; i < p->max_pages; i++)
			release_page(p, i);
	free(p->pages);
	range_alloc__free(p->alloc);
	if (p->outer_fd >= 0)
		close(p->outer_fd);
}

static int create_page(struct page_pool *p, __u32 i)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	struct page *pg = &p->pages[i];
	size_t bytes = (size_t)p->elem_size << p->page_shift;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, p->name, sizeof(__u32), p->elem_size,
			    1u << p->page_shift, &opts);
	if (fd < 0)
		return -errno;
	pg->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (pg->mem == MAP_FAILED) {
		err = -errno;
		pg->mem = NULL;
		close(fd);
		return err;
	}
	if (bpf_map_update_elem(p->outer_fd, &i, &fd, BPF_ANY)) {
		err = -errno;
		munmap(pg->mem, bytes);
		pg->mem = NULL;
		close(fd);
		return err;
	}
	pg->fd = fd;
	p->live_pages++;
	return 0;
}

/* Accounts [start, start + n) to its pages; delta +1 or -1 per index. */
static void account(struct page_pool *p, __u32 start, __u32 n, bool add)
{
	__u64 end = (__u64)start + n;

	for (__u64 at = start; at < end;) {
		__u32 page = at >> p->page_shift;
		__u64 page_end = ((__u64)page + 1) << p->page_shift;
		__u32 span = (page_end < end ? page_end : end) - at;

		if (add) {
			p->pages[page].used += span;
		} else {
			p->pages[page].used -= span;
			if (!p->pages[page].used)
				release_page(p, page);
		}
		at += span;
	}
}

int page_pool__get(struct page_pool *p, __u32 n, __u32 *start)
{
	__u64 end;
	int err = range_alloc__get(p->alloc, n, start);

	if (err)
		return err;
	end = (__u64)*start + n;
	for (__u64 page = *start >> p->page_shift; page << p->page_shift < end; page++) {
		if (p->pages[page].fd >= 0)
			continue;
		err = create_page(p, page);
		if (err) {
			/* Pages created so far have no users: give them back. */
			for (__u64 q = *start >> p->page_shift; q < page; q++)
				if (!p->pages[q].used)
					release_page(p, q);
			range_alloc__put(p->alloc, *start, n);
			return err;
		}
	}
	account(p, *start, n, true);
	return 0;
}

void *page_pool__span(struct page_pool *p, __u32 at, __u32 n, __u32 *span)
{
	__u32 page = at >> p->page_shift;
	__u32 slot = at & ((1u << p->page_shift) - 1);
	__u32 left = (1u << p->page_shift) - slot;

	*span = n < left ? n : left;
	return (char *)p->pages[page].mem + (size_t)slot * p->elem_size;
}

void page_pool__write(struct page_pool *p, __u32 start, const void *src, __u32 n)
{
	const char *from = src;

	for (__u32 done = 0, span; done < n; done += span) {
		void *to = page_pool__span(p, start + done, n - done, &span);

		memcpy(to, from + (size_t)done * p->elem_size, (size_t)span * p->elem_size);
	}
}

void page_pool__put(struct page_pool *p, __u32 start, __u32 n)
{
	if (range_alloc__put(p->alloc, start, n))
		return;
	account(p, start, n, false);
}

__u64 page_pool__bytes(const struct page_pool *p)
{
	return ((__u64)p->live_pages * p->elem_size) << p->page_shift;
}

int page_retire__add(struct page_retire *r, struct page_pool *pool, __u32 start, __u32 n)
{
	if (!n)
		return 0;
	if (r->gen)
		__atomic_fetch_add(r->gen, 1, __ATOMIC_SEQ_CST);
	if (ARRAY_GROW(&r->items, &r->cap, r->n + 1))
		return -ENOMEM;
	r->items[r->n++] = (struct retired_range){ pool, start, n };
	return 0;
}

void page_retire__flush(struct page_retire *r)
{
	if (!r->n)
		return;
	grace_period__wait(&r->grace);
	for (size_t i = 0; i < r->n; i++)
		page_pool__put(r->items[i].pool, r->items[i].start, r->items[i].n);
	r->n = 0;
}

void page_retire__free(struct page_retire *r)
{
	free(r->items);
	r->items = NULL;
	r->n = r->cap = 0;
}
