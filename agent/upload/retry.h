/* SPDX-License-Identifier: Apache-2.0 */
/*
 * When the upload thread tries again: exponential backoff with jitter after
 * a failed attempt (the next one in [backoff / 2, backoff], from 250 ms up
 * to a bound), reset when the store answers; and when to say again that the
 * store is still failing (after 10 s, then at doubling intervals up to every
 * 10 minutes: an outage of hours costs a few log lines). Not thread-safe.
 */
#ifndef FORNAX_UPLOAD_RETRY_H
#define FORNAX_UPLOAD_RETRY_H

#include <stdbool.h>
#include <linux/types.h>

struct retry {
	__u64 max_backoff_ns;
	__u64 backoff_ns;   /* the last backoff; 0: none */
	__u64 next_attempt; /* no attempt before this (monotonic ns) */
	__u64 rng;          /* the jitter's xorshift64* state, never 0 */
	bool failing;       /* the last request failed in a way worth retrying */
	__u64 failing_since;
	__u64 report_at, report_every;
};

enum retry_report {
	RETRY_QUIET,      /* said already */
	RETRY_NOW_FAILING, /* the first failure of an outage */
	RETRY_STILL_FAILING,
};

/* seed: any value (0 is replaced). */
void retry__init(struct retry *r, __u64 max_backoff_ns, __u64 seed);

/* Backs off from now: the next attempt is due after a longer wait. */
void retry__backoff(struct retry *r, __u64 now);

/* A request failed and will be retried: what to tell the user about it. */
enum retry_report retry__failed(struct retry *r, __u64 now);

/* The store answered (taken or refused): no more backoff. Returns whether it was failing. */
bool retry__answered(struct retry *r);

static inline bool retry__due(const struct retry *r, __u64 now)
{
	return now >= r->next_attempt;
}

#endif /* FORNAX_UPLOAD_RETRY_H */
