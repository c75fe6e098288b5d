// SPDX-License-Identifier: Apache-2.0
/*
 * The upload path's queue and its retry schedule, without a network: the
 * order windows go out in, where the queue sends its overflow (spool, or
 * the oldest dropped), the backoff's growth, jitter and bound, and when an
 * outage is reported. End to end, with real stores, in
 * tests/integration/test_store_*.py.
 */
#include <stdlib.h>

#include "retry.h"
#include "test.h"
#include "timeconst.h"
#include "upload_queue.h"

static struct uwin *window(__s64 t)
{
	struct uwin *w = calloc(1, sizeof(*w));

	if (w) {
		w->time_nanos = t;
		w->buf = malloc(8);
		w->len = 8;
	}
	return w;
}

TEST(queue_is_oldest_first_and_a_failed_window_goes_back_first)
{
	struct upload_queue q;
	struct uwin *w;

	upload_queue__init(&q);
	ASSERT_TRUE(!upload_queue__pop_head(&q));
	for (int t = 1; t <= 3; t++)
		upload_queue__push_tail(&q, window(t));
	ASSERT_EQ(q.n, 3);
	w = upload_queue__pop_head(&q);
	ASSERT_EQ(w->time_nanos, 1);
	/* its attempt failed: it is still the oldest, and goes out before the others */
	upload_queue__push_head(&q, w);
	ASSERT_EQ(q.n, 3);
	for (int t = 1; t <= 3; t++) {
		w = upload_queue__pop_head(&q);
		ASSERT_TRUE(w);
		ASSERT_EQ(w->time_nanos, t);
		uwin_free(w);
	}
	ASSERT_EQ(q.n, 0);
	upload_queue__push_tail(&q, window(4));
	upload_queue__clear(&q);
	ASSERT_EQ(q.n, 0);
	ASSERT_TRUE(!upload_queue__pop_head(&q));
	return 0;
}

TEST(settling_spools_the_overflow_or_drops_the_oldest)
{
	/* within the limit and the store fine: nothing to do */
	ASSERT_EQ(upload_queue__settle(0, 4, true, false), SETTLE_DONE);
	ASSERT_EQ(upload_queue__settle(4, 4, true, false), SETTLE_DONE);
	ASSERT_EQ(upload_queue__settle(4, 4, false, true), SETTLE_DONE);
	/* beyond it: to the spool while it takes writes, else the oldest go */
	ASSERT_EQ(upload_queue__settle(5, 4, true, false), SETTLE_SPOOL);
	ASSERT_EQ(upload_queue__settle(5, 4, false, false), SETTLE_DROP_OLDEST);
	ASSERT_EQ(upload_queue__settle(5, 4, false, true), SETTLE_DROP_OLDEST);
	/* the store failing (or a stop): everything to the spool, even within the limit */
	ASSERT_EQ(upload_queue__settle(1, 4, true, true), SETTLE_SPOOL);
	ASSERT_EQ(upload_queue__settle(0, 4, true, true), SETTLE_DONE);
	/* submit's own bound, for a stuck thread */
	ASSERT_TRUE(!upload_queue__overflowing(10, 4));
	ASSERT_TRUE(upload_queue__overflowing(11, 4));
	return 0;
}

/* The settle loop as upload.c runs it: how many windows end where. */
TEST(settling_a_queue_to_the_end)
{
	size_t queued = 9, spooled = 0, dropped = 0;
	int steps = 0;

	for (;; steps++) {
		enum settle_action a = upload_queue__settle(queued, 4, spooled < 3, false);

		if (a == SETTLE_DONE)
			break;
		queued--;
		if (a == SETTLE_SPOOL)
			spooled++;
		else
			dropped++;
		ASSERT_TRUE(steps < 100);
	}
	/* three went to the spool until it refused, two were dropped, the limit stays */
	ASSERT_EQ(spooled, 3);
	ASSERT_EQ(dropped, 2);
	ASSERT_EQ(queued, 4);
	return 0;
}

TEST(backoff_doubles_with_jitter_up_to_its_bound)
{
	const __u64 max = 30 * NSEC_PER_SEC, now = 1000 * NSEC_PER_SEC;
	__u64 want = 250 * NSEC_PER_MSEC;
	struct retry r;

	retry__init(&r, max, 42);
	ASSERT_TRUE(retry__due(&r, 0));
	for (int i = 0; i < 12; i++) {
		retry__backoff(&r, now);
		ASSERT_UEQ(r.backoff_ns, want);
		/* the next attempt is in [backoff / 2, backoff] */
		ASSERT_TRUE(r.next_attempt >= now + want / 2 && r.next_attempt <= now + want);
		ASSERT_TRUE(!retry__due(&r, now + want / 2 - 1));
		ASSERT_TRUE(retry__due(&r, now + want));
		want = want * 2 > max ? max : want * 2;
	}
	ASSERT_UEQ(r.backoff_ns, max);
	ASSERT_TRUE(!retry__answered(&r)); /* backing off is not failing */
	ASSERT_UEQ(r.backoff_ns, 0);
	ASSERT_TRUE(retry__due(&r, 0));
	return 0;
}

TEST(jitter_spreads_the_attempts)
{
	const __u64 b = 16 * NSEC_PER_SEC;
	__u64 lo = ~0ULL, hi = 0;
	struct retry r;

	retry__init(&r, b, 7);
	for (int i = 0; i < 200; i++) {
		r.backoff_ns = b; /* at the bound: every draw in [b / 2, b] */
		retry__backoff(&r, 0);
		lo = r.next_attempt < lo ? r.next_attempt : lo;
		hi = r.next_attempt > hi ? r.next_attempt : hi;
	}
	ASSERT_TRUE(lo >= b / 2 && hi <= b);
	/* two hundred agents retrying together do not come back together */
	ASSERT_TRUE(hi - lo > b / 4);
	return 0;
}

TEST(an_outage_is_said_at_doubling_intervals)
{
	__u64 t = 5 * NSEC_PER_SEC, said_at[16];
	size_t said = 0;
	struct retry r;

	retry__init(&r, 30 * NSEC_PER_SEC, 1);
	ASSERT_EQ(retry__failed(&r, t), RETRY_NOW_FAILING);
	ASSERT_TRUE(r.failing);
	ASSERT_UEQ(r.failing_since, t);
	/* a retry every second for an hour: a few lines, not thousands */
	for (__u64 now = t + NSEC_PER_SEC; now < t + 3600 * NSEC_PER_SEC; now += NSEC_PER_SEC) {
		enum retry_report rep = retry__failed(&r, now);

		ASSERT_TRUE(rep != RETRY_NOW_FAILING);
		if (rep == RETRY_STILL_FAILING) {
			ASSERT_TRUE(said < 16);
			said_at[said++] = (now - t) / NSEC_PER_SEC;
		}
	}
	/* after 10 s, then 20, 40, 80... up to every 600 s */
	ASSERT_EQ(said_at[0], 10);
	ASSERT_EQ(said_at[1], 30);
	ASSERT_EQ(said_at[2], 70);
	ASSERT_EQ(said_at[3], 150);
	ASSERT_EQ(said_at[4], 310);
	ASSERT_EQ(said_at[5], 630);
	ASSERT_EQ(said_at[6], 1230);
	ASSERT_EQ(said_at[7], 1830);
	ASSERT_EQ(said_at[9], 3030);
	ASSERT_EQ(said, 10);
	/* the store answers: back to normal, and the next failure is news again */
	ASSERT_TRUE(retry__answered(&r));
	ASSERT_TRUE(!r.failing);
	ASSERT_EQ(retry__failed(&r, t), RETRY_NOW_FAILING);
	return 0;
}

int main(void)
{
	RUN(queue_is_oldest_first_and_a_failed_window_goes_back_first);
	RUN(settling_spools_the_overflow_or_drops_the_oldest);
	RUN(settling_a_queue_to_the_end);
	RUN(backoff_doubles_with_jitter_up_to_its_bound);
	RUN(jitter_spreads_the_attempts);
	RUN(an_outage_is_said_at_doubling_intervals);
	return test_summary();
}
