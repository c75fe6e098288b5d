// SPDX-License-Identifier: Apache-2.0
/* /proc/PID/maps parsing, including the odd lines real systems produce. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "procmaps.h"
#include "test.h"

static struct procmaps *parse_str(const char *s, unsigned flags)
{
	return procmaps__parse_buf(s, strlen(s), flags);
}

/* Parses s both from a buffer and through a FILE; both must agree. */
static struct procmaps *parse_both(const char *s, unsigned flags)
{
	struct procmaps *a = parse_str(s, flags), *b;
	FILE *f = fmemopen((void *)s, strlen(s), "r");

	if (!a || !f) {
		if (f)
			fclose(f);
		procmaps__free(a);
		return NULL;
	}
	b = procmaps__parse_file(f, flags);
	fclose(f);
	if (!b || procmaps__count(a) != procmaps__count(b) ||
	    procmaps__skipped(a) != procmaps__skipped(b)) {
		procmaps__free(a);
		procmaps__free(b);
		return NULL;
	}
	for (size_t i = 0; i < procmaps__count(a); i++) {
		const struct procmaps_entry *x = procmaps__entry(a, i), *y = procmaps__entry(b, i);

		if (x->start != y->start || x->end != y->end || x->inode != y->inode ||
		    (x->path == NULL) != (y->path == NULL) ||
		    (x->path && strcmp(x->path, y->path) != 0)) {
			procmaps__free(a);
			procmaps__free(b);
			return NULL;
		}
	}
	procmaps__free(b);
	return a;
}

static const char typical[] =
	"55d4c6a00000-55d4c6a02000 r--p 00000000 fd:01 1835043                    /usr/bin/cat\n"
	"55d4c6a02000-55d4c6a07000 r-xp 00002000 fd:01 1835043                    /usr/bin/cat\n"
	"55d4c7b1e000-55d4c7b3f000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f1e2c028000-7f1e2c17d000 r-xp 00028000 103:02 393253                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f1e2c1fa000-7f1e2c1fc000 rw-p 00000000 00:00 0 \n"
	"7ffc0d5d6000-7ffc0d5f7000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffc0d5fa000-7ffc0d5fe000 r--p 00000000 00:00 0                          [vvar]\n"
	"7ffc0d5fe000-7ffc0d600000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

TEST(typical)
{
	struct procmaps *m = parse_both(typical, 0);
	const struct procmaps_entry *e;

	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 9);
	ASSERT_EQ(procmaps__skipped(m), 0);

	e = procmaps__entry(m, 1);
	ASSERT_UEQ(e->start, 0x55d4c6a02000ULL);
	ASSERT_UEQ(e->end, 0x55d4c6a07000ULL);
	ASSERT_UEQ(e->offset, 0x2000);
	ASSERT_EQ(e->dev_major, 0xfd);
	ASSERT_EQ(e->dev_minor, 1);
	ASSERT_UEQ(e->inode, 1835043);
	ASSERT_EQ(e->perms, PROCMAPS_READ | PROCMAPS_EXEC);
	ASSERT_STREQ(e->path, "/usr/bin/cat");
	ASSERT_TRUE(!e->deleted && !e->pseudo);
	/* the same path is stored once */
	ASSERT_TRUE(procmaps__entry(m, 0)->path == e->path);

	e = procmaps__entry(m, 3);
	ASSERT_EQ(e->dev_major, 0x103);
	ASSERT_EQ(e->dev_minor, 2);

	e = procmaps__entry(m, 2);
	ASSERT_STREQ(e->path, "[heap]");
	ASSERT_TRUE(e->pseudo);
	ASSERT_EQ(e->perms, PROCMAPS_READ | PROCMAPS_WRITE);

	e = procmaps__entry(m, 4); /* anonymous, with the padding space */
	ASSERT_TRUE(e->path == NULL);
	ASSERT_TRUE(!e->pseudo);

	e = procmaps__entry(m, 7);
	ASSERT_STREQ(e->path, "[vdso]");
	ASSERT_TRUE(e->pseudo);

	e = procmaps__entry(m, 8);
	ASSERT_UEQ(e->start, 0xffffffffff600000ULL);
	ASSERT_EQ(e->perms, PROCMAPS_EXEC);
	procmaps__free(m);
	return 0;
}

TEST(exec_only)
{
	struct procmaps *m = parse_both(typical, PROCMAPS_EXEC_ONLY);

	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 4);
	for (size_t i = 0; i < procmaps__count(m); i++)
		ASSERT_TRUE(procmaps__entry(m, i)->perms & PROCMAPS_EXEC);
	ASSERT_STREQ(procmaps__entry(m, 0)->path, "/usr/bin/cat");
	ASSERT_STREQ(procmaps__entry(m, 3)->path, "[vsyscall]");
	procmaps__free(m);
	return 0;
}

TEST(find)
{
	struct procmaps *m = parse_str(typical, 0);
	const struct procmaps_entry *e;

	ASSERT_TRUE(m);
	e = procmaps__find(m, 0x55d4c6a02000ULL);
	ASSERT_TRUE(e && e->offset == 0x2000);
	e = procmaps__find(m, 0x55d4c6a06fffULL);
	ASSERT_TRUE(e && e->offset == 0x2000);
	ASSERT_TRUE(procmaps__find(m, 0x55d4c6a07000ULL) == NULL); /* end is exclusive */
	ASSERT_TRUE(procmaps__find(m, 0x1000) == NULL);
	ASSERT_TRUE(procmaps__find(m, ~0ULL) == NULL);
	e = procmaps__find(m, 0x7ffc0d5fe123ULL);
	ASSERT_TRUE(e && strcmp(e->path, "[vdso]") == 0);
	procmaps__free(m);
	return 0;
}

TEST(spaces_deleted_escapes)
{
	static const char in[] =
		"7f0000000000-7f0000001000 r-xp 00000000 08:01 11 /opt/my app/lib foo.so\n"
		"7f0000001000-7f0000002000 r-xp 00001000 08:01 12 /usr/lib/libgone.so (deleted)\n"
		"7f0000002000-7f0000003000 r-xp 00000000 00:05 13 /memfd:jit code (deleted)\n"
		"7f0000003000-7f0000004000 r-xp 00000000 08:01 14 /tmp/new\\012line.so\n"
		"7f0000004000-7f0000005000 r-xp 00000000 08:01 15 /tmp/back\\slash\n"
		"7f0000005000-7f0000006000 rw-p 00000000 00:00 0 [anon:my name]\n";
	struct procmaps *m = parse_both(in, 0);
	const struct procmaps_entry *e;

	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 6);
	ASSERT_EQ(procmaps__skipped(m), 0);
	e = procmaps__entry(m, 0);
	ASSERT_STREQ(e->path, "/opt/my app/lib foo.so");
	ASSERT_TRUE(!e->deleted);
	e = procmaps__entry(m, 1);
	ASSERT_STREQ(e->path, "/usr/lib/libgone.so");
	ASSERT_TRUE(e->deleted);
	e = procmaps__entry(m, 2);
	ASSERT_STREQ(e->path, "/memfd:jit code");
	ASSERT_TRUE(e->deleted && !e->pseudo);
	e = procmaps__entry(m, 3);
	ASSERT_STREQ(e->path, "/tmp/new\nline.so");
	e = procmaps__entry(m, 4);
	ASSERT_STREQ(e->path, "/tmp/back\\slash");
	e = procmaps__entry(m, 5);
	ASSERT_STREQ(e->path, "[anon:my name]");
	ASSERT_TRUE(e->pseudo);
	procmaps__free(m);
	return 0;
}

TEST(huge_line)
{
	size_t plen = 20000, len;
	char *in, *p;
	struct procmaps *m;
	const struct procmaps_entry *e;

	in = malloc(plen + 256);
	ASSERT_TRUE(in);
	p = in + snprintf(in, 256, "7f0000000000-7f0000001000 r-xp 00000000 08:01 42 /");
	memset(p, 'a', plen);
	p[plen] = '\n';
	len = (size_t)(p - in) + plen + 1;
	len += (size_t)snprintf(in + len, 256,
				"7f0000001000-7f0000002000 r-xp 00000000 08:01 43 /short\n");
	in[len] = '\0';
	m = parse_both(in, 0);
	free(in);
	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 2);
	e = procmaps__entry(m, 0);
	ASSERT_EQ(strlen(e->path), plen + 1);
	ASSERT_EQ(e->path[plen], 'a');
	ASSERT_STREQ(procmaps__entry(m, 1)->path, "/short");
	procmaps__free(m);
	return 0;
}

TEST(garbage_lines)
{
	static const char in[] =
		"this is not a maps line\n"
		"7f0000000000-7f0000001000 r-xp 00000000 08:01 11 /ok/one\n"
		"zzzz-7f0000001000 r-xp 00000000 08:01 11 /bad/start\n"
		"7f0000001000-7f0000000000 r-xp 00000000 08:01 11 /bad/end-before-start\n"
		"7f0000001000-7f0000002000 rqxp 00000000 08:01 11 /bad/perms\n"
		"7f0000001000-7f0000002000 r-xp 00000000 0801 11 /bad/dev\n"
		"7f0000001000-7f0000002000 r-xp 00000000 08:01 1x1 /bad/inode\n"
		"7f0000001000-7f0000002000 r-xp 00000000 08:01\n"
		"11111111111111111-7f0000002000 r-xp 00000000 08:01 11 /bad/overflow\n"
		"\n"
		"7f0000002000-7f0000003000 r-xp 00000000 08:01 12 /ok/two\n";
	struct procmaps *m = parse_both(in, 0);

	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 2);
	ASSERT_EQ(procmaps__skipped(m), 8); /* the empty line is not counted */
	ASSERT_STREQ(procmaps__entry(m, 0)->path, "/ok/one");
	ASSERT_STREQ(procmaps__entry(m, 1)->path, "/ok/two");
	procmaps__free(m);
	return 0;
}

TEST(empty_and_truncated)
{
	struct procmaps *m;

	m = parse_both("", 0);
	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 0);
	ASSERT_EQ(procmaps__skipped(m), 0);
	ASSERT_TRUE(procmaps__find(m, 0x1000) == NULL);
	procmaps__free(m);

	/* a last line without its newline still counts when complete */
	m = parse_both("7f0000000000-7f0000001000 r-xp 00000000 08:01 11 /lib/a.so\n"
		       "7f0000001000-7f0000002000 r-xp 00000000 08:01 12 /lib/b.so", 0);
	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 2);
	ASSERT_STREQ(procmaps__entry(m, 1)->path, "/lib/b.so");
	procmaps__free(m);

	/* cut inside the fields: skipped */
	m = parse_both("7f0000000000-7f0000001000 r-xp 00000000 08:01 11 /lib/a.so\n"
		       "7f0000001000-7f00000020", 0);
	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__count(m), 1);
	ASSERT_EQ(procmaps__skipped(m), 1);
	procmaps__free(m);
	return 0;
}

TEST(unsorted_input)
{
	struct procmaps *m = parse_str("7f0000002000-7f0000003000 r-xp 00000000 08:01 12 /b\n"
				       "7f0000000000-7f0000001000 r-xp 00000000 08:01 11 /a\n",
				       0);

	ASSERT_TRUE(m);
	ASSERT_STREQ(procmaps__entry(m, 0)->path, "/a");
	ASSERT_TRUE(procmaps__find(m, 0x7f0000002800ULL) == procmaps__entry(m, 1));
	procmaps__free(m);
	return 0;
}

TEST(live_self)
{
	FILE *f = fopen("/proc/self/maps", "re");
	const struct procmaps_entry *e;
	struct procmaps *m;
	char exe[4096];
	ssize_t n;

	ASSERT_TRUE(f);
	m = procmaps__parse_file(f, PROCMAPS_EXEC_ONLY);
	fclose(f);
	ASSERT_TRUE(m);
	ASSERT_EQ(procmaps__skipped(m), 0);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_TRUE(n > 0);
	exe[n] = '\0';
	e = procmaps__find(m, (__u64)(uintptr_t)&parse_str);
	ASSERT_TRUE(e);
	ASSERT_STREQ(e->path, exe);
	ASSERT_TRUE(e->perms & PROCMAPS_EXEC);
	ASSERT_TRUE(e->inode != 0);
	procmaps__free(m);
	return 0;
}

/* Mutated and random input: never a crash (run under ASan), lines accounted for. */
TEST(random_input)
{
	static const char alphabet[] = "0123456789abcdefx-: rwxps/[]()\\\n\t deleted";
	unsigned seed = 12345;
	char buf[512];

	for (int round = 0; round < 3000; round++) {
		size_t len, lines = 0;
		struct procmaps *m;

		if (round % 2) {
			/* a valid text with a few bytes changed */
			len = sizeof(typical) - 1;
			memcpy(buf, typical, len < sizeof(buf) ? len : sizeof(buf));
			len = len < sizeof(buf) ? len : sizeof(buf);
			for (int k = 0; k < 4; k++)
				buf[rand_r(&seed) % len] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
			len = (size_t)rand_r(&seed) % (len + 1); /* and cut anywhere */
		} else {
			len = (size_t)rand_r(&seed) % sizeof(buf);
			for (size_t k = 0; k < len; k++)
				buf[k] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		}
		for (size_t k = 0; k < len; k++)
			lines += buf[k] == '\n';
		m = procmaps__parse_buf(buf, len, round % 3 ? 0 : PROCMAPS_EXEC_ONLY);
		ASSERT_TRUE(m);
		ASSERT_TRUE(procmaps__count(m) + procmaps__skipped(m) <= lines + 1);
		for (size_t k = 0; k < procmaps__count(m); k++) {
			const struct procmaps_entry *e = procmaps__entry(m, k);

			ASSERT_TRUE(e->start < e->end);
			ASSERT_TRUE(procmaps__find(m, e->start) != NULL);
		}
		procmaps__free(m);
	}
	return 0;
}

TEST(bad_args)
{
	errno = 0;
	ASSERT_TRUE(procmaps__parse_file(NULL, 0) == NULL);
	ASSERT_EQ(errno, EINVAL);
	ASSERT_TRUE(procmaps__parse_buf(NULL, 5, 0) == NULL);
	procmaps__free(NULL);
	ASSERT_EQ(procmaps__count(NULL), 0);
	return 0;
}

int main(void)
{
	RUN(typical);
	RUN(exec_only);
	RUN(find);
	RUN(spaces_deleted_escapes);
	RUN(huge_line);
	RUN(garbage_lines);
	RUN(empty_and_truncated);
	RUN(unsorted_input);
	RUN(live_self);
	RUN(random_input);
	RUN(bad_args);
	return test_summary();
}
