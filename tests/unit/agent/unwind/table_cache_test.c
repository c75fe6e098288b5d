// SPDX-License-Identifier: Apache-2.0
/*
 * Unwind tables on disk: what is stored comes back the same; an entry is
 * used only for the inputs it was built from; corrupt, truncated or linked
 * entries are refused (and deleted); a directory others may write to is
 * not used; the size bound holds; a file seen before is found by its
 * identity alone, and only that file. On tables of the system's libraries.
 */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table_cache.h"
#include "test.h"

static const char *const libs[] = {
	"/lib/x86_64-linux-gnu/libc.so.6",
	"/lib/x86_64-linux-gnu/libm.so.6",
	"/lib64/ld-linux-x86-64.so.2",
};

struct built {
	struct cfi_table *t;
	void *inputs;
	size_t len;
};

static int build(const char *path, struct built *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf) {
		out->inputs = cfi_table__inputs(elf, 64u << 20, &out->len);
		out->t = cfi_table__build(elf);
		elf_end(elf);
	}
	close(fd);
	return out->t && out->inputs ? 0 : -1;
}

static void built_free(struct built *b)
{
	cfi_table__free(b->t);
	free(b->inputs);
}

static char *new_dir(void)
{
	char *dir = strdup("/tmp/fornax-table-cache-XXXXXX");

	if (dir && !mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

static void remove_dir(char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(dir);
}

static bool same_table(const struct cfi_table *a, const struct cfi_table *b)
{
	size_t na, nb;
	const struct cfi_row *ra = cfi_table__rows(a, &na), *rb = cfi_table__rows(b, &nb);

	return na == nb && cfi_table__origin(a) == cfi_table__origin(b) &&
	       memcmp(ra, rb, na * sizeof(*ra)) == 0 &&
	       cfi_table__stats(a)->fdes == cfi_table__stats(b)->fdes;
}

/* The one entry in dir, by name into name; 0 or -1. */
static int only_entry(const char *dir, char *name, size_t size)
{
	char cmd[160];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), "ls '%s'", dir);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = fgets(name, (int)size, p) != NULL;
	pclose(p);
	if (!ok)
		return -1;
	name[strcspn(name, "\n")] = '\0';
	return 0;
}

TEST(stored_table_comes_back_the_same)
{
	struct table_cache_stats st;
	struct table_cache *c;
	struct cfi_table *t;
	struct built b;
	char *dir = new_dir();

	ASSERT_TRUE(dir);
	ASSERT_EQ(build(libs[0], &b), 0);
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	ASSERT_TRUE(!table_cache__load(c, NULL, b.inputs, b.len));
	ASSERT_EQ(table_cache__store(c, NULL, b.inputs, b.len, b.t), 0);
	t = table_cache__load(c, NULL, b.inputs, b.len);
	ASSERT_TRUE(t);
	ASSERT_TRUE(same_table(t, b.t));
	table_cache__stats(c, &st);
	ASSERT_UEQ(st.misses, 1);
	ASSERT_UEQ(st.hits, 1);
	ASSERT_UEQ(st.stored, 1);
	ASSERT_TRUE(st.bytes > b.len);
	cfi_table__free(t);
	table_cache__free(c);
	/* and after a restart */
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	t = table_cache__load(c, NULL, b.inputs, b.len);
	ASSERT_TRUE(t && same_table(t, b.t));
	cfi_table__free(t);
	table_cache__free(c);
	built_free(&b);
	remove_dir(dir);
	return 0;
}

/* An entry under the name other inputs hash to (a file posing as another) is not used. */
TEST(entry_for_other_inputs_is_not_used)
{
	struct table_cache_stats st;
	struct built libc, libm;
	struct table_cache *c;
	char *dir = new_dir(), libc_name[64], libm_name[64], from[192], to[192];

	ASSERT_TRUE(dir);
	ASSERT_EQ(build(libs[0], &libc), 0);
	ASSERT_EQ(build(libs[1], &libm), 0);
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	ASSERT_EQ(table_cache__store(c, NULL, libm.inputs, libm.len, libm.t), 0);
	ASSERT_EQ(only_entry(dir, libm_name, sizeof(libm_name)), 0);
	ASSERT_EQ(table_cache__store(c, NULL, libc.inputs, libc.len, libc.t), 0);
	/* libc's entry replaced by libm's rows */
	snprintf(from, sizeof(from), "%s/%s", dir, libm_name);
	ASSERT_EQ(unlink(from), 0);
	ASSERT_EQ(only_entry(dir, libc_name, sizeof(libc_name)), 0);
	ASSERT_EQ(table_cache__store(c, NULL, libm.inputs, libm.len, libm.t), 0);
	snprintf(to, sizeof(to), "%s/%s", dir, libc_name);
	ASSERT_EQ(rename(from, to), 0);
	ASSERT_TRUE(!table_cache__load(c, NULL, libc.inputs, libc.len));
	table_cache__stats(c, &st);
	ASSERT_UEQ(st.hits, 0);
	ASSERT_UEQ(st.bad, 0);
	ASSERT_UEQ(st.misses, 1);
	table_cache__free(c);
	built_free(&libc);
	built_free(&libm);
	remove_dir(dir);
	return 0;
}

/* Flips one byte at offset from the end (or truncates) the single entry in dir. */
static int damage(const char *dir, off_t from_end, bool truncate_it)
{
	char name[64], path[192];
	struct stat st;
	unsigned char byte;
	int fd, err = -1;

	if (only_entry(dir, name, sizeof(name)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		goto out;
	if (truncate_it) {
		err = ftruncate(fd, st.st_size / 2);
		goto out;
	}
	if (pread(fd, &byte, 1, st.st_size - from_end) != 1)
		goto out;
	byte ^= 0x40;
	err = pwrite(fd, &byte, 1, st.st_size - from_end) == 1 ? 0 : -1;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

TEST(damaged_entries_are_refused_and_deleted)
{
	struct table_cache_stats st;
	struct table_cache *c;
	struct built b;
	char *dir = new_dir(), name[64];
	/* a row, a byte of the inputs, the magic */
	const struct { off_t from_end; bool truncate_it; } cases[] = {
		{ 3, false }, { 0, true }, { 0, false },
	};

	ASSERT_TRUE(dir);
	ASSERT_EQ(build(libs[2], &b), 0);
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		off_t at = cases[i].from_end;

		ASSERT_EQ(table_cache__store(c, NULL, b.inputs, b.len, b.t), 0);
		if (!at && !cases[i].truncate_it) {
			struct stat s;
			char path[192];

			ASSERT_EQ(only_entry(dir, name, sizeof(name)), 0);
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			ASSERT_EQ(stat(path, &s), 0);
			at = s.st_size; /* the first byte: the magic */
		}
		ASSERT_EQ(damage(dir, at, cases[i].truncate_it), 0);
		ASSERT_TRUE(!table_cache__load(c, NULL, b.inputs, b.len));
		ASSERT_TRUE(only_entry(dir, name, sizeof(name)) != 0); /* deleted */
	}
	table_cache__stats(c, &st);
	ASSERT_UEQ(st.bad, 3);
	ASSERT_UEQ(st.hits, 0);
	table_cache__free(c);
	built_free(&b);
	remove_dir(dir);
	return 0;
}

/* Rows another build of the agent (or of libdw) wrote may differ: not used, deleted. */
TEST(entry_of_another_agent_build_is_stale)
{
	struct table_cache_stats st;
	struct table_cache *c;
	struct built b;
	char *dir = new_dir(), name[64], path[192];
	unsigned char byte;
	int fd;

	ASSERT_TRUE(dir);
	ASSERT_EQ(build(libs[2], &b), 0);
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	ASSERT_EQ(table_cache__store(c, NULL, b.inputs, b.len, b.t), 0);
	ASSERT_EQ(only_entry(dir, name, sizeof(name)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	/* the builder's identity follows the 8-byte magic */
	ASSERT_EQ(pread(fd, &byte, 1, 8), 1);
	byte ^= 1;
	ASSERT_EQ(pwrite(fd, &byte, 1, 8), 1);
	close(fd);
	ASSERT_TRUE(!table_cache__load(c, NULL, b.inputs, b.len));
	ASSERT_TRUE(only_entry(dir, name, sizeof(name)) != 0);
	table_cache__stats(c, &st);
	ASSERT_UEQ(st.stale, 1);
	ASSERT_UEQ(st.bad, 0);
	table_cache__free(c);
	built_free(&b);
	remove_dir(dir);
	return 0;
}

TEST(links_are_not_followed)
{
	struct table_cache *c;
	struct built b;
	char *dir = new_dir(), *elsewhere = new_dir(), name[64], path[192], target[192];

	ASSERT_TRUE(dir && elsewhere);
	ASSERT_EQ(build(libs[2], &b), 0);
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	ASSERT_EQ(table_cache__store(c, NULL, b.inputs, b.len, b.t), 0);
	ASSERT_EQ(only_entry(dir, name, sizeof(name)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(target, sizeof(target), "%s/%s", elsewhere, name);
	ASSERT_EQ(rename(path, target), 0);
	ASSERT_EQ(symlink(target, path), 0);
	ASSERT_TRUE(!table_cache__load(c, NULL, b.inputs, b.len));
	table_cache__free(c);
	built_free(&b);
	remove_dir(dir);
	remove_dir(elsewhere);
	return 0;
}

TEST(directory_others_may_write_is_not_used)
{
	char *dir = new_dir();

	ASSERT_TRUE(dir);
	ASSERT_EQ(chmod(dir, 0777), 0);
	errno = 0;
	ASSERT_TRUE(!table_cache__new(dir, 64u << 20));
	ASSERT_EQ(errno, EPERM);
	ASSERT_EQ(chmod(dir, 0700), 0);
	table_cache__free(table_cache__new(dir, 64u << 20));
	ASSERT_TRUE(!table_cache__new(dir, 0));
	remove_dir(dir);
	return 0;
}

TEST(least_recently_used_go_beyond_the_size)
{
	struct table_cache_stats st;
	struct built b[3];
	struct table_cache *c;
	struct cfi_table *t;
	char *dir = new_dir();
	__u64 max = 0;

	ASSERT_TRUE(dir);
	for (int i = 0; i < 3; i++) {
		size_t n;

		ASSERT_EQ(build(libs[i], &b[i]), 0);
		cfi_table__rows(b[i].t, &n);
		/* room for the two largest, not for all three */
		max += b[i].len + n * sizeof(struct cfi_row) + 4096;
	}
	max = max * 9 / 10;
	c = table_cache__new(dir, max);
	ASSERT_TRUE(c);
	ASSERT_EQ(table_cache__store(c, NULL, b[0].inputs, b[0].len, b[0].t), 0);
	ASSERT_EQ(table_cache__store(c, NULL, b[1].inputs, b[1].len, b[1].t), 0);
	ASSERT_EQ(table_cache__store(c, NULL, b[2].inputs, b[2].len, b[2].t), 0);
	table_cache__stats(c, &st);
	ASSERT_TRUE(st.evicted >= 1);
	ASSERT_TRUE(st.bytes <= max);
	/* the last stored is kept */
	t = table_cache__load(c, NULL, b[2].inputs, b[2].len);
	ASSERT_TRUE(t);
	cfi_table__free(t);
	table_cache__free(c);
	for (int i = 0; i < 3; i++)
		built_free(&b[i]);
	remove_dir(dir);
	return 0;
}

/* Copies path to a new file in dir; its fstat() into st. 0 or -1. */
static int copy_file(const char *path, const char *dir, char *out, size_t size, struct stat *st)
{
	char cmd[512];

	snprintf(out, size, "%s/copy.so", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, out);
	return system(cmd) == 0 && stat(out, st) == 0 ? 0 : -1;
}

/* Files in dir whose name ends with suffix. */
static int count_suffix(const char *dir, const char *suffix)
{
	char cmd[256], line[128];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls '%s'", dir);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		size_t len = strcspn(line, "\n");

		line[len] = '\0';
		if (len > strlen(suffix) && strcmp(line + len - strlen(suffix), suffix) == 0)
			n++;
	}
	pclose(p);
	return n;
}

TEST(file_seen_before_is_found_by_its_identity)
{
	char *dir = new_dir(), *files = new_dir(), copy[256], cmd[1600];
	struct table_cache_stats st;
	struct stat file, other;
	struct table_cache *c;
	struct cfi_table *t;
	struct built b;

	ASSERT_TRUE(dir && files);
	ASSERT_EQ(copy_file(libs[2], files, copy, sizeof(copy), &file), 0);
	ASSERT_EQ(build(copy, &b), 0);
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	ASSERT_TRUE(!table_cache__load_file(c, &file));
	ASSERT_EQ(table_cache__store(c, &file, b.inputs, b.len, b.t), 0);
	ASSERT_EQ(count_suffix(dir, ".id"), 1);
	table_cache__free(c);

	/* a restarted agent: the rows come back without the inputs */
	c = table_cache__new(dir, 64u << 20);
	ASSERT_TRUE(c);
	t = table_cache__load_file(c, &file);
	ASSERT_TRUE(t && same_table(t, b.t));
	cfi_table__free(t);
	table_cache__stats(c, &st);
	ASSERT_UEQ(st.by_identity, 1);
	ASSERT_UEQ(st.hits, 1);

	/* the file rewritten in place with the same bytes and mtime: a new ctime, not found */
	usleep(20 * 1000);
	snprintf(cmd, sizeof(cmd), "cp -p '%s' '%s.t' && cat '%s.t' > '%s' && touch -r '%s.t' '%s'",
		 copy, copy, copy, copy, copy, copy);
	ASSERT_EQ(system(cmd), 0);
	ASSERT_EQ(stat(copy, &other), 0);
	ASSERT_TRUE(other.st_ino == file.st_ino && other.st_size == file.st_size);
	ASSERT_TRUE(other.st_mtim.tv_sec == file.st_mtim.tv_sec &&
		    other.st_mtim.tv_nsec == file.st_mtim.tv_nsec);
	ASSERT_TRUE(other.st_ctim.tv_sec != file.st_ctim.tv_sec ||
		    other.st_ctim.tv_nsec != file.st_ctim.tv_nsec);
	ASSERT_TRUE(!table_cache__load_file(c, &other));
	/* ... and its inputs, read again, find the entry and remember the new identity */
	t = table_cache__load(c, &other, b.inputs, b.len);
	ASSERT_TRUE(t);
	cfi_table__free(t);
	t = table_cache__load_file(c, &other);
	ASSERT_TRUE(t && same_table(t, b.t));
	cfi_table__free(t);

	/* an alias whose entry is gone is deleted, and finds nothing */
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*.cfi", dir);
	ASSERT_EQ(system(cmd), 0);
	ASSERT_TRUE(!table_cache__load_file(c, &other));
	ASSERT_EQ(count_suffix(dir, ".id"), 1); /* the first identity's, never used again */
	table_cache__stats(c, &st);
	ASSERT_UEQ(st.by_identity, 2);
	table_cache__free(c);
	built_free(&b);
	remove_dir(dir);
	remove_dir(files);
	return 0;
}

/* An alias with one byte changed (another file's identity, a damaged entry name) finds nothing. */
TEST(damaged_alias_finds_nothing)
{
	char *dir = new_dir(), *files = new_dir(), copy[256], cmd[512], line[128];
	struct table_cache *c;
	struct stat file;
	struct built b;

	ASSERT_TRUE(dir && files);
	ASSERT_EQ(copy_file(libs[2], files, copy, sizeof(copy), &file), 0);
	ASSERT_EQ(build(copy, &b), 0);
	/* the magic, the builder, the entry's name, the identity */
	static const int offsets[] = { 1, 9, 17, 30 };

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		FILE *p;
		int fd;

		c = table_cache__new(dir, 64u << 20);
		ASSERT_TRUE(c);
		ASSERT_EQ(table_cache__store(c, &file, b.inputs, b.len, b.t), 0);
		snprintf(cmd, sizeof(cmd), "ls '%s'/*.id", dir);
		p = popen(cmd, "r");
		ASSERT_TRUE(p && fgets(line, sizeof(line), p));
		pclose(p);
		line[strcspn(line, "\n")] = '\0';
		fd = open(line, O_RDWR | O_CLOEXEC);
		ASSERT_TRUE(fd >= 0);
		ASSERT_EQ(pwrite(fd, "\xff", 1, offsets[i]), 1);
		close(fd);
		ASSERT_TRUE(!table_cache__load_file(c, &file));
		ASSERT_EQ(count_suffix(dir, ".id"), 0);
		table_cache__free(c);
	}
	built_free(&b);
	remove_dir(dir);
	remove_dir(files);
	return 0;
}

int main(void)
{
	elf_version(EV_CURRENT);
	RUN(stored_table_comes_back_the_same);
	RUN(entry_for_other_inputs_is_not_used);
	RUN(damaged_entries_are_refused_and_deleted);
	RUN(entry_of_another_agent_build_is_stale);
	RUN(links_are_not_followed);
	RUN(directory_others_may_write_is_not_used);
	RUN(least_recently_used_go_beyond_the_size);
	RUN(file_seen_before_is_found_by_its_identity);
	RUN(damaged_alias_finds_nothing);
	return test_summary();
}
