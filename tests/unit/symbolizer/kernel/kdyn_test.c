// SPDX-License-Identifier: Apache-2.0
/* Kernel text that comes and goes: replacing, grace, masks, bounds. */
#include <errno.h>

#include "kdyn.h"
#include "test.h"

#define A 0xffffffffc0010000ULL

static const char *name_at(const struct kdyn *d, __u64 addr)
{
	const struct kdyn_sym *s = kdyn__lookup(d, addr);

	return s ? (s->name ? s->name : "(mask)") : NULL;
}

TEST(add_lookup_replace)
{
	struct kdyn *d = kdyn__new(0);
	const char *old;

	ASSERT_TRUE(d);
	ASSERT_EQ(kdyn__add(d, A, 0x100, "bpf_prog_aa_one"), 0);
	ASSERT_EQ(kdyn__add(d, A + 0x200, 0x100, "bpf_prog_bb_two"), 0);
	ASSERT_STREQ(name_at(d, A), "bpf_prog_aa_one");
	ASSERT_STREQ(name_at(d, A + 0xff), "bpf_prog_aa_one");
	ASSERT_TRUE(name_at(d, A + 0x100) == NULL);
	ASSERT_TRUE(name_at(d, A - 1) == NULL);
	ASSERT_STREQ(name_at(d, A + 0x250), "bpf_prog_bb_two");
	ASSERT_TRUE(kdyn__lookup(d, A)->id != kdyn__lookup(d, A + 0x200)->id);
	/* a program at a reused address replaces what it overlaps at once */
	old = name_at(d, A);
	ASSERT_EQ(kdyn__add(d, A + 0x80, 0x200, "bpf_prog_cc_three"), 0);
	ASSERT_EQ(kdyn__count(d), 1);
	ASSERT_TRUE(name_at(d, A) == NULL);
	ASSERT_STREQ(name_at(d, A + 0x250), "bpf_prog_cc_three");
	ASSERT_STREQ(old, "bpf_prog_aa_one"); /* handed out names live to the cycle's end */
	kdyn__end_cycle(d);
	ASSERT_EQ(kdyn__add(d, A, 0, "x"), -EINVAL);
	ASSERT_EQ(kdyn__add(d, ~0ULL - 1, 4, "x"), -EINVAL);
	ASSERT_EQ(kdyn__add(d, A, 4, NULL), -EINVAL);
	kdyn__free(d);
	kdyn__free(NULL);
	return 0;
}

TEST(gone_keeps_name_for_grace)
{
	struct kdyn *d = kdyn__new(0);

	ASSERT_TRUE(d);
	ASSERT_EQ(kdyn__add(d, A, 0x100, "bpf_prog_aa_one"), 0);
	ASSERT_EQ(kdyn__remove(d, A, 0x100, false), 0);
	/* the drain right after the unload still names its samples */
	ASSERT_STREQ(name_at(d, A + 8), "bpf_prog_aa_one");
	kdyn__end_cycle(d);
	ASSERT_STREQ(name_at(d, A + 8), "bpf_prog_aa_one");
	kdyn__end_cycle(d);
	ASSERT_TRUE(name_at(d, A + 8) == NULL);
	ASSERT_EQ(kdyn__count(d), 0);
	/* unknown to it and not in kallsyms: nothing to do */
	ASSERT_EQ(kdyn__remove(d, A, 0x100, false), -ENOENT);
	/* gone, then something new at the same place: the new name at once */
	ASSERT_EQ(kdyn__add(d, A, 0x100, "bpf_prog_aa_one"), 0);
	ASSERT_EQ(kdyn__remove(d, A, 0x100, false), 0);
	ASSERT_EQ(kdyn__add(d, A, 0x40, "bpf_prog_dd_four"), 0);
	ASSERT_STREQ(name_at(d, A + 8), "bpf_prog_dd_four");
	ASSERT_TRUE(name_at(d, A + 0x80) == NULL);
	kdyn__free(d);
	return 0;
}

TEST(mask_over_kallsyms)
{
	struct kdyn *d = kdyn__new(0);

	ASSERT_TRUE(d);
	/* a program kallsyms listed went: its name there holds for the grace, then a mask */
	ASSERT_EQ(kdyn__remove(d, A, 0x100, true), 0);
	ASSERT_TRUE(kdyn__lookup(d, A) == NULL);
	kdyn__end_cycle(d);
	ASSERT_TRUE(kdyn__lookup(d, A) == NULL);
	kdyn__end_cycle(d);
	ASSERT_STREQ(name_at(d, A), "(mask)");
	ASSERT_STREQ(name_at(d, A + 0xff), "(mask)");
	kdyn__end_cycle(d);
	ASSERT_EQ(kdyn__count(d), 1); /* masks stay */
	/* removing again adds no second mask */
	ASSERT_EQ(kdyn__remove(d, A, 0x100, true), 0);
	ASSERT_EQ(kdyn__count(d), 1);
	/* a new program there replaces the mask where it lies; the rest stays masked */
	ASSERT_EQ(kdyn__add(d, A + 0x10, 0x10, "bpf_prog_ee_five"), 0);
	ASSERT_STREQ(name_at(d, A + 0x10), "bpf_prog_ee_five");
	ASSERT_STREQ(name_at(d, A + 0x1f), "bpf_prog_ee_five");
	ASSERT_STREQ(name_at(d, A), "(mask)");
	ASSERT_STREQ(name_at(d, A + 0x20), "(mask)");
	ASSERT_STREQ(name_at(d, A + 0xff), "(mask)");
	ASSERT_EQ(kdyn__count(d), 3);
	ASSERT_EQ(kdyn__add(d, A, 0x100, "bpf_prog_ff_six"), 0);
	ASSERT_EQ(kdyn__count(d), 1);
	ASSERT_STREQ(name_at(d, A + 0x20), "bpf_prog_ff_six");
	kdyn__free(d);
	return 0;
}

TEST(bounded)
{
	struct kdyn *d = kdyn__new(3);

	ASSERT_TRUE(d);
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(kdyn__add(d, A + (__u64)i * 0x100, 0x100, "p"), 0);
	ASSERT_EQ(kdyn__add(d, A + 0x1000, 0x100, "q"), -ENOSPC);
	ASSERT_EQ(kdyn__remove(d, A + 0x2000, 0x100, true), -ENOSPC);
	/* replacing what it overlaps fits */
	ASSERT_EQ(kdyn__add(d, A, 0x180, "r"), 0);
	ASSERT_EQ(kdyn__count(d), 2);
	ASSERT_STREQ(name_at(d, A + 0x220), "p");
	kdyn__free(d);
	return 0;
}

int main(void)
{
	RUN(add_lookup_replace);
	RUN(gone_keeps_name_for_grace);
	RUN(mask_over_kallsyms);
	RUN(bounded);
	return test_summary();
}
