/* SPDX-License-Identifier: Apache-2.0 */
/* Time units and clocks, in nanoseconds. */
#ifndef FORNAX_BASE_TIMECONST_H
#define FORNAX_BASE_TIMECONST_H

#include <time.h>
#include <linux/types.h>

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

/* clock (CLOCK_MONOTONIC, CLOCK_REALTIME...) in ns. */
static inline __u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + (__u64)ts.tv_nsec;
}

/* The absolute time ns from now on clock, as pthread_cond_timedwait() takes it. */
static inline struct timespec timespec_after_ns(clockid_t clock, __u64 ns)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_sec += (time_t)(ns / NSEC_PER_SEC);
	ts.tv_nsec += (long)(ns % NSEC_PER_SEC);
	if (ts.tv_nsec >= (long)NSEC_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= (long)NSEC_PER_SEC;
	}
	return ts;
}

#endif /* FORNAX_BASE_TIMECONST_H */
