// SPDX-License-Identifier: Apache-2.0
/* The range allocator against a bitmap model, through random gets and puts. */
#include <errno.h>
#include <stdbool.h>

#include "range_alloc.h"
#include "test.h"

#define CAP 4096

TEST(exhaust_and_refill)
{
	struct range_alloc *a = range_alloc__new(100);
	__u32 s1, s2, s3;

	ASSERT_TRUE(a);
	ASSERT_EQ(range_alloc__get(a, 0, &s1), -EINVAL);
	ASSERT_EQ(range_alloc__get(a, 40, &s1), 0);
	ASSERT_EQ(range_alloc__get(a, 60, &s2), 0);
	ASSERT_EQ(s1, 0);
	ASSERT_EQ(s2, 40);
	ASSERT_EQ(range_alloc__get(a, 1, &s3), -ENOSPC);
	ASSERT_EQ(range_alloc__used(a), 100);
	ASSERT_EQ(range_alloc__put(a, s1, 40), 0);
	ASSERT_EQ(range_alloc__put(a, s1, 40), -EINVAL); /* double put */
	ASSERT_EQ(range_alloc__put(a, 90, 20), -EINVAL); /* past the end */
	ASSERT_EQ(range_alloc__get(a, 41, &s3), -ENOSPC);
	ASSERT_EQ(range_alloc__put(a, s2, 60), 0);
	/* Merged back into one range. */
	ASSERT_EQ(range_alloc__get(a, 100, &s3), 0);
	ASSERT_EQ(s3, 0);
	range_alloc__free(a);
	ASSERT_TRUE(!range_alloc__new(0));
	ASSERT_TRUE(!range_alloc__new((1ULL << 32) + 1));
	range_alloc__free(NULL);
	return 0;
}

TEST(random_against_bitmap)
{
	static bool owned[CAP];
	struct { __u32 start, n; } live[512];
	struct range_alloc *a = range_alloc__new(CAP);
	unsigned seed = 7, n_live = 0;
	__u64 used = 0;

	ASSERT_TRUE(a);
	for (int step = 0; step < 20000; step++) {
		seed = seed * 1103515245 + 12345;
		if (n_live < 512 && (seed >> 16) % 3) {
			__u32 n = 1 + (seed >> 8) % 64, start;
			int err = range_alloc__get(a, n, &start);
			bool fits = false;

			/* The model: is there any free run of n? First fit must find the first. */
			for (__u32 s = 0, run = 0; s < CAP; s++) {
				run = owned[s] ? 0 : run + 1;
				if (run == n) {
					fits = true;
					if (!err)
						ASSERT_EQ(start, s + 1 - n);
					break;
				}
			}
			ASSERT_EQ(err, fits ? 0 : -ENOSPC);
			if (err)
				continue;
			for (__u32 i = start; i < start + n; i++) {
				ASSERT_TRUE(!owned[i]);
				owned[i] = true;
			}
			live[n_live].start = start;
			live[n_live++].n = n;
			used += n;
		} else if (n_live) {
			unsigned k = (seed >> 4) % n_live;

			ASSERT_EQ(range_alloc__put(a, live[k].start, live[k].n), 0);
			for (__u32 i = live[k].start; i < live[k].start + live[k].n; i++)
				owned[i] = false;
			used -= live[k].n;
			live[k] = live[--n_live];
		}
		ASSERT_EQ(range_alloc__used(a), used);
	}
	range_alloc__free(a);
	return 0;
}

int main(void)
{
	RUN(exhaust_and_refill);
	RUN(random_against_bitmap);
	return test_summary();
}
