// SPDX-License-Identifier: Apache-2.0
/*
 * The row and mapping spaces of the unwinder, on real BPF maps: pages are
 * created as ranges reach them and deleted when they empty, writes through
 * the mmap land in the maps the program reads (checked through the kernel,
 * not the mmap), a full space says so, and a retired range waits for a grace
 * period and bumps the walker's cache generation. Needs CAP_BPF (root);
 * skips (77) without it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "page_pool.h"
#include "test.h"

#define SHIFT 4 /* 16 entries a page */
#define PAGE (1u << SHIFT)
#define MAX_PAGES 4

/* The entry at index as the kernel holds it, through the page's map fd. */
static int kernel_entry(const struct page_pool *p, __u32 index, __u64 *out)
{
	__u32 slot = index & (PAGE - 1);

	return bpf_map_lookup_elem(p->pages[index >> SHIFT].fd, &slot, out);
}

/* Does the outer map (what the program indexes) name page i? */
static bool outer_has(const struct page_pool *p, __u32 i)
{
	__u32 id;

	return bpf_map_lookup_elem(p->outer_fd, &i, &id) == 0;
}

static int new_pool(struct page_pool *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	p->outer_fd = -1;
	err = page_pool__init(p, "test_pool", sizeof(__u64), SHIFT, MAX_PAGES);
	return err;
}

TEST(pages_come_and_go_with_their_ranges)
{
	__u64 data[10], got;
	struct page_pool p;
	__u32 a, b;
	int err = new_pool(&p);

	if (err == -EPERM) {
		page_pool__destroy(&p);
		TEST_SKIP("creating BPF maps needs CAP_BPF");
	}
	ASSERT_EQ(err, 0);
	ASSERT_EQ(p.live_pages, 0);
	ASSERT_TRUE(!outer_has(&p, 0));
	ASSERT_UEQ(page_pool__bytes(&p), 0);

	ASSERT_EQ(page_pool__get(&p, 10, &a), 0);
	ASSERT_EQ(a, 0);
	ASSERT_EQ(p.live_pages, 1);
	ASSERT_TRUE(outer_has(&p, 0));
	/* the second range crosses into page 1, which is made for it */
	ASSERT_EQ(page_pool__get(&p, 10, &b), 0);
	ASSERT_EQ(b, 10);
	ASSERT_EQ(p.live_pages, 2);
	ASSERT_TRUE(outer_has(&p, 1) && !outer_has(&p, 2));
	ASSERT_UEQ(page_pool__bytes(&p), 2 * PAGE * sizeof(__u64));

	for (int i = 0; i < 10; i++)
		data[i] = 0x1000 + i;
	page_pool__write(&p, b, data, 10);
	for (__u32 i = 0; i < 10; i++) {
		ASSERT_EQ(kernel_entry(&p, b + i, &got), 0);
		ASSERT_UEQ(got, 0x1000 + i);
	}
	/* page 0 still holds part of b: it stays */
	page_pool__put(&p, a, 10);
	ASSERT_EQ(p.live_pages, 2);
	ASSERT_TRUE(outer_has(&p, 0));
	page_pool__put(&p, b, 10);
	ASSERT_EQ(p.live_pages, 0);
	ASSERT_TRUE(!outer_has(&p, 0) && !outer_has(&p, 1));
	ASSERT_UEQ(page_pool__bytes(&p), 0);
	/* first fit: the space returned whole, the next range starts at 0 again */
	ASSERT_EQ(page_pool__get(&p, 3, &a), 0);
	ASSERT_EQ(a, 0);
	page_pool__destroy(&p);
	return 0;
}

TEST(a_full_space_says_so)
{
	struct page_pool p;
	__u32 a, b;
	int err = new_pool(&p);

	if (err == -EPERM) {
		page_pool__destroy(&p);
		TEST_SKIP("creating BPF maps needs CAP_BPF");
	}
	ASSERT_EQ(err, 0);
	ASSERT_EQ(page_pool__get(&p, MAX_PAGES * PAGE + 1, &a), -ENOSPC);
	ASSERT_EQ(p.live_pages, 0);
	ASSERT_EQ(page_pool__get(&p, MAX_PAGES * PAGE, &a), 0);
	ASSERT_EQ(p.live_pages, MAX_PAGES);
	ASSERT_EQ(page_pool__get(&p, 1, &b), -ENOSPC);
	page_pool__put(&p, a, MAX_PAGES * PAGE);
	ASSERT_EQ(p.live_pages, 0);
	page_pool__destroy(&p);
	return 0;
}

TEST(retired_ranges_wait_for_a_grace_period)
{
	struct page_retire r = { 0 };
	struct page_pool p;
	__u64 gen = 5;
	__u32 a;
	int err = new_pool(&p);

	if (err == -EPERM) {
		page_pool__destroy(&p);
		TEST_SKIP("creating BPF maps needs CAP_BPF");
	}
	ASSERT_EQ(err, 0);
	grace_period__init(&r.grace);
	r.gen = &gen;
	ASSERT_EQ(page_pool__get(&p, 20, &a), 0);
	ASSERT_EQ(page_retire__add(&r, &p, a, 20), 0);
	/* the walker's caches are invalidated at once, the space is not reused yet */
	ASSERT_UEQ(gen, 6);
	ASSERT_EQ(p.live_pages, 2);
	ASSERT_EQ(page_retire__add(&r, &p, a, 0), 0);
	ASSERT_UEQ(gen, 6); /* an empty range retires nothing */
	page_retire__flush(&r);
	ASSERT_EQ(p.live_pages, 0);
	ASSERT_EQ(r.n, 0);
	page_retire__flush(&r); /* nothing retired: no wait, nothing put twice */
	page_retire__free(&r);
	page_pool__destroy(&p);
	return 0;
}

int main(void)
{
	RUN(pages_come_and_go_with_their_ranges);
	RUN(a_full_space_says_so);
	RUN(retired_ranges_wait_for_a_grace_period);
	return test_summary();
}
