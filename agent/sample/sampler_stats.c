// SPDX-License-Identifier: Apache-2.0
#include "sampler_stats.h"

#include <stdio.h>

#include "log.h"

static const char *const unwind_end_names[FORNAX_END_NR] = {
	[FORNAX_END_COMPLETE] = "complete",
	[FORNAX_END_DEPTH] = "depth limit",
	[FORNAX_END_PC_NOT_COVERED] = "pc not covered",
	[FORNAX_END_READ_FAULT] = "read fault",
	[FORNAX_END_TABLE_MISSING] = "table missing",
	[FORNAX_END_UNSUPPORTED] = "unsupported CFI",
	[FORNAX_END_BAD_FRAME] = "bad frame",
	[FORNAX_END_BAD_PC] = "bad return address",
	[FORNAX_END_FP_LOST] = "rbp lost",
};

/* "12 complete, 3 pc not covered, ..." for the CFI walks in end[]. */
static void format_unwind_ends(const __u64 *end, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = FORNAX_END_COMPLETE; i < FORNAX_END_NR && n < size; i++) {
		if (!end[i] && i != FORNAX_END_COMPLETE)
			continue;
		n += snprintf(buf + n, size - n, "%s%llu %s", n ? ", " : "",
			      (unsigned long long)end[i], unwind_end_names[i]);
	}
}

static void check_books(const struct sampler_drain_stats *st)
{
	const struct fornax_set_stats *k = &st->set;

	/* Both sides count every sample; a mismatch would mean the drain lost some. */
	if (k->samples != k->recorded + k->filtered + k->idle + k->counts_map_full ||
	    st->drained_samples != k->recorded)
		log_warn("drain books do not balance: kernel saw %llu samples (%llu recorded), "
			 "drain read %llu",
			 (unsigned long long)k->samples, (unsigned long long)k->recorded,
			 (unsigned long long)st->drained_samples);
	if (k->counts_map_full)
		log_warn_ratelimited("%llu samples lost: counts map full (raise --max-stacks or "
				     "lower --drain-interval)",
				     (unsigned long long)k->counts_map_full);
	if (k->stack_map_full)
		log_warn_ratelimited("%llu stacks dropped: stacks map full (raise --max-stacks)",
				     (unsigned long long)k->stack_map_full);
	if (k->stack_other_error)
		log_warn_ratelimited("%llu stacks dropped: the kernel could not walk or store them",
				     (unsigned long long)k->stack_other_error);
}

static void log_unwind(const struct fornax_set_stats *k)
{
	char ends[256];

	if (!log_enabled(LOG_DEBUG))
		return;
	format_unwind_ends(k->unwind_end, ends, sizeof(ends));
	log_debug("unwind: CFI walks: %s; %llu by frame pointers, %llu frame-pointer steps, "
		  "%llu signal frames, %llu requests lost, %llu frame-pointer walks ended at a "
		  "return address that cannot be code",
		  ends, (unsigned long long)k->unwind_fp, (unsigned long long)k->unwind_fp_steps,
		  (unsigned long long)k->unwind_signal_frames,
		  (unsigned long long)k->unwind_requests_lost,
		  (unsigned long long)k->unwind_fp_bad_return);
}

void sampler_totals__add(struct sampler_totals *t, const struct sampler_drain_stats *st, bool cfi)
{
	check_books(st);
	t->unwind_fp += st->set.unwind_fp;
	for (int i = 0; i < FORNAX_END_NR; i++)
		t->unwind_end[i] += st->set.unwind_end[i];
	t->vma_walks += st->set.unwind_vma_walks;
	t->vmas_added += st->set.unwind_vmas_added;
	t->vmas_overflow += st->set.unwind_vmas_overflow;
	t->vmas_missed += st->set.unwind_vmas_missed;
	t->vmas_unstored += st->set.unwind_vmas_unstored;
	t->requests_spared += st->set.unwind_requests_spared;
	if (cfi)
		log_unwind(&st->set);
	t->samples += st->drained_samples;
	t->lost += st->set.counts_map_full;
	t->filtered += st->set.filtered;
	t->idle += st->set.idle;
	t->stacks_dropped += st->set.stack_map_full + st->set.stack_other_error;
	t->stacks_missing += st->missing_stacks;
	t->user_stacks_truncated += st->set.user_stack_truncated;
	t->drains++;
	log_debug("drain: %llu samples, %llu keys, %llu stacks (kernel: %llu samples, %llu idle, "
		  "%llu filtered)",
		  (unsigned long long)st->drained_samples, (unsigned long long)st->keys,
		  (unsigned long long)st->stacks, (unsigned long long)st->set.samples,
		  (unsigned long long)st->set.idle, (unsigned long long)st->set.filtered);
}

void sampler_totals__log_done(const struct sampler_totals *t, __u64 profiles, __u64 write_errors)
{
	log_info("done: %llu samples in %llu profiles, %llu lost (%llu samples: counts map full, "
		 "%llu stacks dropped), %llu write errors",
		 (unsigned long long)t->samples, (unsigned long long)profiles,
		 (unsigned long long)(t->lost + t->stacks_dropped), (unsigned long long)t->lost,
		 (unsigned long long)t->stacks_dropped, (unsigned long long)write_errors);
}

void sampler_totals__log_unwind(const struct sampler_totals *t)
{
	__u64 walks = 0;
	char ends[256];

	for (int i = 0; i < FORNAX_END_NR; i++)
		walks += t->unwind_end[i];
	format_unwind_ends(t->unwind_end, ends, sizeof(ends));
	log_info("user stacks: %llu walked by CFI (%s), %llu by frame pointers; %llu walks of "
		 "processes before the agent described them, by the %llu mappings registered at "
		 "exec and mmap (%llu found no room, %llu could not be looked up; %llu processes' "
		 "entries not stored; %llu walks whole of processes too young to ask the agent)",
		 (unsigned long long)walks, ends, (unsigned long long)t->unwind_fp,
		 (unsigned long long)t->vma_walks, (unsigned long long)t->vmas_added,
		 (unsigned long long)t->vmas_overflow, (unsigned long long)t->vmas_missed,
		 (unsigned long long)t->vmas_unstored, (unsigned long long)t->requests_spared);
}
