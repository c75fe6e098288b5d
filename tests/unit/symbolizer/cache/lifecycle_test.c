// SPDX-License-Identifier: Apache-2.0
/*
 * The symbolizer's process lifecycle: maps read while a process is alive,
 * the kernel's exit report, the grace before an exited process is freed,
 * and a forked child running its parent's image.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "procmaps.h"
#include "symbolizer.h"
#include "symbolizer_test_util.h"
#include "test.h"

/* The executable file mappings of pid, as the kernel reports them at exit. */
static size_t exit_vmas(pid_t pid, struct symbolizer_vma *out, size_t max)
{
	char path[64];
	struct procmaps *pm;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	pm = procmaps__parse_file(f, PROCMAPS_EXEC_ONLY);
	fclose(f);
	for (size_t i = 0; pm && i < procmaps__count(pm) && n < max; i++) {
		const struct procmaps_entry *e = procmaps__entry(pm, i);

		if (!e->inode)
			continue;
		out[n++] = (struct symbolizer_vma){
			.start = e->start, .end = e->end, .offset = e->offset, .inode = e->inode,
			.dev_major = e->dev_major, .dev_minor = e->dev_minor,
		};
	}
	procmaps__free(pm);
	return n;
}

static const char *leaf_name(struct symbolizer *sym, pid_t pid, __u64 start, __u64 addr)
{
	static struct symbolizer_location loc;

	if (symbolizer__lookup_user(sym, pid, start, &addr, 1, &loc) != 0 || !loc.n_frames)
		return NULL;
	return loc.frames[loc.n_frames - 1].function;
}

TEST(exited_process_is_kept_for_its_grace_then_freed)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct symbolizer_vma vmas[64];
	struct symbolizer_stats st;
	struct fx_proc fx;
	__u64 start, leaf;
	size_t n;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	start = proc_start_ns(fx.pid);
	leaf = fx_addr(&fx, "fx_leaf");
	n = exit_vmas(fx.pid, vmas, 64);
	ASSERT_TRUE(n > 0 && leaf);
	/* read at exec: files opened while the process lives */
	ASSERT_EQ(symbolizer__process_read(sym, fx.pid, start, true), 0);
	fx_stop(&fx);
	ASSERT_EQ(symbolizer__process_exit(sym, fx.pid, start, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = true }), 0);
	/* a repeated exit report changes nothing */
	ASSERT_EQ(symbolizer__process_exit(sym, fx.pid, start, NULL), 0);
	ASSERT_STREQ(leaf_name(sym, fx.pid, start, leaf), "fx_leaf");
	symbolizer__end_cycle(sym);
	ASSERT_STREQ(leaf_name(sym, fx.pid, start, leaf), "fx_leaf"); /* the next drain */
	symbolizer__end_cycle(sym);
	symbolizer__stats(sym, &st);
	ASSERT_EQ(st.exited_freed, 1);
	ASSERT_EQ(st.exits, 1);
	ASSERT_EQ(st.exec_reads, 1);
	ASSERT_TRUE(leaf_name(sym, fx.pid, start, leaf) == NULL); /* freed: gone for good */
	symbolizer__free(sym);
	return 0;
}

TEST(exit_report_alone_uses_files_known_from_others)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct symbolizer_vma vmas[65];
	struct symbolizer_stats st;
	struct fx_proc a, b;
	__u64 start_b, leaf_b;
	size_t n;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &a), 0);
	ASSERT_EQ(fx_spawn("fx_pie", &b), 0);
	ASSERT_EQ(symbolizer__process_read(sym, a.pid, proc_start_ns(a.pid), true), 0);
	/* b is never read while alive: it lived too short */
	start_b = proc_start_ns(b.pid);
	leaf_b = fx_addr(&b, "fx_leaf");
	n = exit_vmas(b.pid, vmas, 64);
	ASSERT_TRUE(n > 0);
	/* and a mapping of a file no live process ever showed */
	vmas[n++] = (struct symbolizer_vma){ .start = 0x10000, .end = 0x20000, .inode = 1,
					      .dev_major = 0, .dev_minor = 0xfffff };
	fx_stop(&b);
	ASSERT_EQ(symbolizer__process_exit(sym, b.pid, start_b, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = true }), 0);
	ASSERT_STREQ(leaf_name(sym, b.pid, start_b, leaf_b), "fx_leaf");
	ASSERT_TRUE(leaf_name(sym, b.pid, start_b, 0x10010) == NULL);
	symbolizer__stats(sym, &st);
	ASSERT_EQ(st.exit_unknown_files, 1);
	fx_stop(&a);
	symbolizer__free(sym);
	return 0;
}

TEST(forked_child_runs_its_parents_image)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct fx_proc fx;
	__u64 start, child_start, leaf;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	start = proc_start_ns(fx.pid);
	leaf = fx_addr(&fx, "fx_leaf");
	ASSERT_EQ(symbolizer__process_read(sym, fx.pid, start, true), 0);
	/* a child that exits before any read: same pid number, a later start */
	child_start = start + 1000000000ULL * 1000;
	ASSERT_EQ(symbolizer__process_fork(sym, fx.pid, start, fx.pid, child_start), 0);
	ASSERT_STREQ(leaf_name(sym, fx.pid, child_start, leaf), "fx_leaf");
	/* the parent entry is untouched */
	ASSERT_STREQ(leaf_name(sym, fx.pid, start, leaf), "fx_leaf");
	fx_stop(&fx);
	symbolizer__free(sym);
	return 0;
}

/*
 * A process followed by the kernel's records from its start is given its
 * mappings from them: its lookups and a fork of it read no /proc/PID/maps.
 */
TEST(mappings_from_records_stand_for_a_maps_read)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct symbolizer_vma vmas[64];
	struct symbolizer_stats before, after;
	struct fx_proc a, b;
	__u64 start_b, child_start, leaf_b;
	size_t n;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &a), 0);
	ASSERT_EQ(fx_spawn("fx_pie", &b), 0);
	/* the file is known by (dev, inode), as a mapping record would have made it */
	ASSERT_EQ(symbolizer__process_read(sym, a.pid, proc_start_ns(a.pid), false), 0);
	start_b = proc_start_ns(b.pid);
	leaf_b = fx_addr(&b, "fx_leaf");
	n = exit_vmas(b.pid, vmas, 64);
	ASSERT_TRUE(n > 0 && leaf_b);
	ASSERT_EQ(symbolizer__process_mappings(sym, b.pid, start_b, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = false }, true), -EINVAL);
	symbolizer__stats(sym, &before);
	ASSERT_EQ(symbolizer__process_mappings(sym, b.pid, start_b, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = true }, true), 0);
	ASSERT_STREQ(leaf_name(sym, b.pid, start_b, leaf_b), "fx_leaf");
	/* a fork of it right after new records: the child runs its image, nothing read */
	child_start = start_b + 1000000000ULL * 1000;
	ASSERT_EQ(symbolizer__process_mappings(sym, b.pid, start_b, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = true }, false), 0);
	ASSERT_EQ(symbolizer__process_fork(sym, b.pid, start_b, b.pid, child_start), 0);
	ASSERT_STREQ(leaf_name(sym, b.pid, child_start, leaf_b), "fx_leaf");
	symbolizer__stats(sym, &after);
	ASSERT_EQ(after.maps_reads, before.maps_reads);
	ASSERT_EQ(after.mappings_given, before.mappings_given + 2);
	fx_stop(&a);
	fx_stop(&b);
	symbolizer__free(sym);
	return 0;
}

/*
 * The child's first sample was heard of before its fork record, and its maps
 * read then, after its exec: the samples it took before the exec ran in its
 * parent's image, given to it by the late fork record for the grace.
 */
TEST(fork_record_after_the_childs_first_read)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct fx_proc parent, child;
	__u64 parent_start, child_start, leaf;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &parent), 0);
	ASSERT_EQ(fx_spawn("fx_nopie", &child), 0);
	parent_start = proc_start_ns(parent.pid);
	child_start = proc_start_ns(child.pid);
	leaf = fx_addr(&parent, "fx_leaf"); /* PIE: nowhere in the non-PIE child's maps */
	ASSERT_EQ(symbolizer__process_read(sym, child.pid, child_start, false), 0);
	ASSERT_TRUE(leaf_name(sym, child.pid, child_start, leaf) == NULL);
	ASSERT_EQ(symbolizer__process_fork(sym, parent.pid, parent_start, child.pid, child_start), 0);
	ASSERT_STREQ(leaf_name(sym, child.pid, child_start, leaf), "fx_leaf");
	/* its own image is untouched */
	ASSERT_STREQ(leaf_name(sym, child.pid, child_start, fx_addr(&child, "fx_leaf")), "fx_leaf");
	/* a repeated fork record changes nothing */
	ASSERT_EQ(symbolizer__process_fork(sym, parent.pid, parent_start, child.pid, child_start), 0);
	for (int i = 0; i < 4; i++)
		symbolizer__end_cycle(sym);
	/* the grace is over: the parent's image no longer serves it */
	ASSERT_TRUE(leaf_name(sym, child.pid, child_start, leaf) == NULL);
	fx_stop(&child);
	fx_stop(&parent);
	symbolizer__free(sym);
	return 0;
}

TEST(read_of_a_gone_process)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct fx_proc fx;
	__u64 start;
	pid_t pid;

	ASSERT_TRUE(sym);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	pid = fx.pid;
	start = proc_start_ns(pid);
	fx_stop(&fx);
	ASSERT_EQ(symbolizer__process_read(sym, pid, start, true), -ESRCH);
	/* nothing known: an exit without mappings keeps nothing */
	ASSERT_EQ(symbolizer__process_exit(sym, pid, start, NULL), 0);
	symbolizer__stats(sym, &st);
	ASSERT_EQ(st.exec_gone, 1);
	ASSERT_EQ(st.processes, 0);
	symbolizer__free(sym);
	return 0;
}

/* Waits until pid has exited and not been reaped: its /proc entry stays, its maps are empty. */
static bool wait_zombie(pid_t pid)
{
	char path[64], buf[512], *state;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "re");
		size_t len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[len] = 0;
		state = strrchr(buf, ')');
		if (state && state[1] == ' ' && state[2] == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * A short process's first-sample record can be read after its exit report
 * (the records come every 20 ms, the process lived less): its maps, read
 * now, are a zombie's, empty. They must not replace what the exit said.
 */
TEST(read_after_the_exit_report_keeps_its_mappings)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct symbolizer_vma vmas[64];
	struct fx_proc fx, other;
	__u64 start, leaf;
	size_t n;

	ASSERT_TRUE(sym);
	/* the file is known from a live process, as from the perf records in the agent */
	ASSERT_EQ(fx_spawn("fx_pie", &other), 0);
	ASSERT_EQ(symbolizer__process_read(sym, other.pid, proc_start_ns(other.pid), false), 0);
	ASSERT_EQ(fx_spawn("fx_pie", &fx), 0);
	start = proc_start_ns(fx.pid);
	leaf = fx_addr(&fx, "fx_leaf");
	n = exit_vmas(fx.pid, vmas, 64);
	ASSERT_TRUE(n > 0 && leaf);
	close(fx.in_fd); /* the fixture exits at end of input */
	fx.in_fd = -1;
	ASSERT_TRUE(wait_zombie(fx.pid));
	ASSERT_EQ(symbolizer__process_exit(sym, fx.pid, start, &(struct symbolizer_exit){
		.vmas = vmas, .n_vmas = n, .complete = true }), 0);
	ASSERT_EQ(symbolizer__process_read(sym, fx.pid, start, false), -ESRCH);
	ASSERT_STREQ(leaf_name(sym, fx.pid, start, leaf), "fx_leaf");
	fx_stop(&fx);
	fx_stop(&other);
	symbolizer__free(sym);
	return 0;
}

/* Two copies of one binary (two containers' layers, say): one file record, by build-id. */
TEST(same_build_id_in_two_places_is_one_file)
{
	struct symbolizer *sym = symbolizer__new(&(struct symbolizer_opts){ .debug_dirs = "/nonexistent" });
	struct symbolizer_stats before, after;
	char *src = fx_path("fx_pie"), *copy = NULL, cmd[1024];
	struct fx_proc a, b = { .pid = -1, .in_fd = -1 };
	char copy_name[64];
	__u64 sa, sb;
	int rc = 1;

	ASSERT_TRUE(sym && src);
	snprintf(copy_name, sizeof(copy_name), "fx_pie.copy-%d", getpid());
	copy = fx_path(copy_name);
	snprintf(cmd, sizeof(cmd), "cp %s %s", src, copy);
	ASSERT_EQ(system(cmd), 0);
	ASSERT_EQ(fx_spawn("fx_pie", &a), 0);
	if (fx_spawn(copy_name, &b) != 0)
		goto out;
	sa = proc_start_ns(a.pid);
	sb = proc_start_ns(b.pid);
	if (!leaf_name(sym, a.pid, sa, fx_addr(&a, "fx_leaf")))
		goto out;
	symbolizer__stats(sym, &before);
	/* another inode, same build-id: the cached address of the first copy answers */
	if (!leaf_name(sym, b.pid, sb, fx_addr(&b, "fx_leaf")) ||
	    strcmp(leaf_name(sym, b.pid, sb, fx_addr(&b, "fx_leaf")), "fx_leaf") != 0)
		goto out;
	symbolizer__stats(sym, &after);
	if (after.cache_hits < before.cache_hits + 1 || after.cache_misses != before.cache_misses ||
	    after.files != before.files) {
		fprintf(stderr, "  hits %llu→%llu misses %llu→%llu files %llu→%llu\n",
			(unsigned long long)before.cache_hits, (unsigned long long)after.cache_hits,
			(unsigned long long)before.cache_misses, (unsigned long long)after.cache_misses,
			(unsigned long long)before.files, (unsigned long long)after.files);
		goto out;
	}
	rc = 0;
out:
	fx_stop(&a);
	fx_stop(&b);
	unlink(copy);
	free(copy);
	free(src);
	symbolizer__free(sym);
	return rc;
}

int main(void)
{
	RUN(exited_process_is_kept_for_its_grace_then_freed);
	RUN(exit_report_alone_uses_files_known_from_others);
	RUN(forked_child_runs_its_parents_image);
	RUN(fork_record_after_the_childs_first_read);
	RUN(mappings_from_records_stand_for_a_maps_read);
	RUN(read_of_a_gone_process);
	RUN(read_after_the_exit_report_keeps_its_mappings);
	RUN(same_build_id_in_two_places_is_one_file);
	return test_summary();
}
