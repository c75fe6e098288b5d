// SPDX-License-Identifier: Apache-2.0
#include "retry.h"

#include "timeconst.h"

#define INITIAL_BACKOFF_NS (250 * NSEC_PER_MSEC)
#define FAILING_REPORT_FIRST_NS (10 * NSEC_PER_SEC)
#define FAILING_REPORT_MAX_NS (600 * NSEC_PER_SEC)

void retry__init(struct retry *r, __u64 max_backoff_ns, __u64 seed)
{
	*r = (struct retry){ .max_backoff_ns = max_backoff_ns, .rng = seed ? seed : 1 };
}

static __u64 next_random(struct retry *r)
{
	/* xorshift64*: jitter needs spread, not secrecy. */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dULL;
}

void retry__backoff(struct retry *r, __u64 now)
{
	__u64 b;

	r->backoff_ns = r->backoff_ns ? r->backoff_ns * 2 : INITIAL_BACKOFF_NS;
	if (r->backoff_ns > r->max_backoff_ns)
		r->backoff_ns = r->max_backoff_ns;
	b = r->backoff_ns;
	r->next_attempt = now + b / 2 + next_random(r) % (b / 2 + 1);
}

enum retry_report retry__failed(struct retry *r, __u64 now)
{
	enum retry_report report = RETRY_QUIET;

	if (!r->failing) {
		r->failing = true;
		r->failing_since = now;
		r->report_every = FAILING_REPORT_FIRST_NS;
		r->report_at = now + r->report_every;
		report = RETRY_NOW_FAILING;
	} else if (now >= r->report_at) {
		r->report_every = r->report_every * 2 > FAILING_REPORT_MAX_NS ? FAILING_REPORT_MAX_NS
									 : r->report_every * 2;
		r->report_at = now + r->report_every;
		report = RETRY_STILL_FAILING;
	}
	retry__backoff(r, now);
	return report;
}

bool retry__answered(struct retry *r)
{
	bool was_failing = r->failing;

	r->failing = false;
	r->backoff_ns = 0;
	r->next_attempt = 0;
	return was_failing;
}
