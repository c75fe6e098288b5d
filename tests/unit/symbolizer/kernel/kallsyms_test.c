// SPDX-License-Identifier: Apache-2.0
/* Kernel symbols: parsing a fixture kallsyms, the live one, and build-id notes. */
#include <elf.h>
#include <errno.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kallsyms.h"
#include "symbolizer_test_util.h"
#include "test.h"

static struct kallsyms *load_fixture(bool with_modules)
{
	char *ks_path = fx_src_path("kallsyms.txt"), *mod_path = fx_src_path("modules.txt");
	struct kallsyms *ks = NULL;

	if (ks_path && mod_path)
		ks = kallsyms__load(ks_path, with_modules ? mod_path : NULL);
	free(ks_path);
	free(mod_path);
	return ks;
}

static const char *name_at(const struct kallsyms *ks, __u64 addr)
{
	struct kallsyms_sym s;

	if (kallsyms__lookup(ks, addr, &s) != 0)
		return NULL;
	return s.name;
}

TEST(fixture_core)
{
	struct kallsyms *ks = load_fixture(true);
	struct kallsyms_sym s;
	__u64 start, end;

	ASSERT_TRUE(ks);
	/* text symbols only, __pfx_ folded, aliases merged */
	ASSERT_EQ(kallsyms__count(ks), 15);

	ASSERT_STREQ(name_at(ks, 0xffffffff81000000ULL), "_stext");
	ASSERT_STREQ(name_at(ks, 0xffffffff81000210ULL), "schedule");
	ASSERT_EQ(kallsyms__lookup(ks, 0xffffffff810002ffULL, &s), 0);
	ASSERT_STREQ(s.name, "schedule");
	ASSERT_UEQ(s.addr, 0xffffffff81000210ULL);
	ASSERT_EQ(s.module, -1);
	/* the padding in front of a function is that function's */
	ASSERT_STREQ(name_at(ks, 0xffffffff81000200ULL), "schedule");
	ASSERT_STREQ(name_at(ks, 0xffffffff8100020fULL), "schedule");
	ASSERT_STREQ(name_at(ks, 0xffffffff810001ffULL), "entry_helper");
	/* aliases: global over weak, fewer leading underscores */
	ASSERT_STREQ(name_at(ks, 0xffffffff81000410ULL), "io_schedule");
	ASSERT_STREQ(name_at(ks, 0xffffffff81000520ULL), "local_fn");
	/* past _etext (data, rodata) and before _stext: nothing */
	ASSERT_TRUE(name_at(ks, 0xffffffff81000800ULL) == NULL);
	ASSERT_TRUE(name_at(ks, 0xffffffff81200004ULL) == NULL);
	ASSERT_TRUE(name_at(ks, 0xffffffff80ffffffULL) == NULL);
	ASSERT_TRUE(name_at(ks, 0x400000) == NULL);
	/* init text is a second core range */
	ASSERT_STREQ(name_at(ks, 0xffffffff81400150ULL), "early_init");
	ASSERT_TRUE(name_at(ks, 0xffffffff81400400ULL) == NULL);

	kallsyms__core_range(ks, &start, &end);
	ASSERT_UEQ(start, 0xffffffff81000000ULL);
	ASSERT_UEQ(end, 0xffffffff81400400ULL);
	kallsyms__free(ks);
	return 0;
}

static int module_index(const struct kallsyms *ks, const char *name)
{
	for (size_t i = 0; i < kallsyms__module_count(ks); i++) {
		if (strcmp(kallsyms__module(ks, i)->name, name) == 0)
			return (int)i;
	}
	return -1;
}

TEST(fixture_modules)
{
	struct kallsyms *ks = load_fixture(true);
	const struct kallsyms_module *m;
	struct kallsyms_sym s;
	int ext4, bpf;

	ASSERT_TRUE(ks);
	ASSERT_EQ(kallsyms__module_count(ks), 3);
	ext4 = module_index(ks, "ext4");
	bpf = module_index(ks, "bpf");
	ASSERT_TRUE(ext4 >= 0 && bpf >= 0 && module_index(ks, "__builtin__ftrace") >= 0);

	/* ext4's range from modules.txt */
	m = kallsyms__module(ks, (size_t)ext4);
	ASSERT_UEQ(m->start, 0xffffffffc0400000ULL);
	ASSERT_UEQ(m->end, 0xffffffffc0500000ULL);
	ASSERT_EQ(kallsyms__lookup(ks, 0xffffffffc0400020ULL, &s), 0);
	ASSERT_STREQ(s.name, "ext4_fill_super");
	ASSERT_EQ(s.module, ext4);
	ASSERT_STREQ(name_at(ks, 0xffffffffc0400004ULL), "ext4_fill_super");
	ASSERT_STREQ(name_at(ks, 0xffffffffc04ffff0ULL), "ext4_iget");

	/* bpf programs: no /proc/modules line, range from the symbols */
	ASSERT_EQ(kallsyms__lookup(ks, 0xffffffffc0500010ULL, &s), 0);
	ASSERT_STREQ(s.name, "bpf_prog_6deef7357e7b4530_sd_fw_ingress");
	ASSERT_EQ(s.module, bpf);
	ASSERT_STREQ(name_at(ks, 0xffffffffc0502fffULL), "bpf_prog_ee0e253c78993a24_handler");
	ASSERT_TRUE(name_at(ks, 0xffffffffc0503000ULL) == NULL);
	ASSERT_TRUE(name_at(ks, 0xffffffffc0100000ULL) == NULL);
	kallsyms__free(ks);
	return 0;
}

TEST(fixture_without_modules_file)
{
	struct kallsyms *ks = load_fixture(false);
	const struct kallsyms_module *m;

	ASSERT_TRUE(ks);
	m = kallsyms__module(ks, (size_t)module_index(ks, "ext4"));
	ASSERT_TRUE(m);
	/* from the first symbol (its __pfx_ padding included) to the last + slack */
	ASSERT_UEQ(m->start, 0xffffffffc0400000ULL);
	ASSERT_TRUE(m->end > 0xffffffffc0400500ULL);
	ASSERT_STREQ(name_at(ks, 0xffffffffc0400004ULL), "ext4_fill_super");
	ASSERT_STREQ(name_at(ks, 0xffffffffc0400600ULL), "ext4_iget");
	ASSERT_TRUE(name_at(ks, 0xffffffffc04ffff0ULL) == NULL);
	kallsyms__free(ks);

	/* a missing modules file is not an error */
	ks = kallsyms__load(FX_SRC_DIR "/kallsyms.txt", "/nonexistent/modules");
	ASSERT_TRUE(ks);
	kallsyms__free(ks);
	return 0;
}

static struct kallsyms *parse_string(const char *s, int *err)
{
	FILE *f = fmemopen((void *)s, strlen(s), "r");
	struct kallsyms *ks;

	if (!f) {
		*err = errno;
		return NULL;
	}
	errno = 0;
	ks = kallsyms__parse(f, NULL);
	*err = errno;
	fclose(f);
	return ks;
}

/* Symbols listed after the sorted text (BPF programs, aliases) land where their address says. */
TEST(late_symbols_are_merged_in_order)
{
	static const char text[] =
		"ffffffff81000000 T _stext\n"
		"ffffffff81000100 t alpha\n"
		"ffffffff81000200 t beta\n"
		"ffffffff81000300 T gamma\n"
		"ffffffff81000400 T _etext\n"
		"ffffffffc0002000 t bpf_prog_2\t[bpf]\n"
		"ffffffffc0001000 t bpf_prog_1\t[bpf]\n"
		"ffffffff81000200 T beta_global\n"
		"ffffffff81000300 T gamma_alias\n"
		"ffffffff81000100 t alpha_alias\n";
	static const struct { __u64 addr; const char *name; } want[] = {
		{ 0xffffffff81000110ULL, "alpha" },       /* equal rank: the first listed */
		{ 0xffffffff81000210ULL, "beta_global" }, /* global over local, listed later */
		{ 0xffffffff81000310ULL, "gamma" },
		{ 0xffffffffc0001010ULL, "bpf_prog_1" },
		{ 0xffffffffc0002010ULL, "bpf_prog_2" },
	};
	struct kallsyms_sym sym;
	struct kallsyms *ks;
	int err;

	ks = parse_string(text, &err);
	ASSERT_TRUE(ks);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ASSERT_EQ(kallsyms__lookup(ks, want[i].addr, &sym), 0);
		ASSERT_STREQ(sym.name, want[i].name);
	}
	ASSERT_UEQ(kallsyms__count(ks), 7);
	kallsyms__free(ks);
	return 0;
}

TEST(restricted_and_empty)
{
	int err;

	/* kptr_restrict: every address reads 0 */
	ASSERT_TRUE(parse_string("0000000000000000 T _stext\n"
				 "0000000000000000 T schedule\n"
				 "0000000000000000 t ext4_iget\t[ext4]\n",
				 &err) == NULL);
	ASSERT_EQ(err, EPERM);
	ASSERT_TRUE(parse_string("", &err) == NULL);
	ASSERT_EQ(err, ENODATA);
	ASSERT_TRUE(parse_string("garbage\nffffffff81000000 D data_only\n", &err) == NULL);
	ASSERT_EQ(err, ENODATA);
	errno = 0;
	ASSERT_TRUE(kallsyms__load("/nonexistent/kallsyms", NULL) == NULL);
	ASSERT_EQ(errno, ENOENT);
	return 0;
}

TEST(odd_lines)
{
	struct kallsyms *ks;
	int err;

	ks = parse_string("ffffffff81000000 T _stext\n"
			  "not a line at all\n"
			  "ffffffff81000100 T\n"
			  "ffffffff81000200 T good_one\n"
			  "ffffffff81000300 T bad_module\t[unterminated\n"
			  "fffffffff81000400 T too_many_digits\n"
			  "ffffffff81000500 T last_without_newline",
			  &err);
	ASSERT_TRUE(ks);
	ASSERT_EQ(kallsyms__count(ks), 3);
	ASSERT_STREQ(name_at(ks, 0xffffffff81000250ULL), "good_one");
	kallsyms__free(ks);
	return 0;
}

/* Mutated fixture text: never a crash (run under ASan), lookups stay sane. */
TEST(random_input)
{
	static const char alphabet[] = "0123456789abcdeftTwWdD_[]\t\n x";
	char *path = fx_src_path("kallsyms.txt"), *text = NULL, *buf;
	unsigned seed = 4242;
	size_t len = 0;
	FILE *f;

	ASSERT_TRUE(path);
	f = fopen(path, "re");
	free(path);
	ASSERT_TRUE(f);
	text = calloc(1, 8192);
	ASSERT_TRUE(text);
	len = fread(text, 1, 8191, f);
	fclose(f);
	buf = malloc(len + 1);
	ASSERT_TRUE(buf);
	for (int round = 0; round < 2000; round++) {
		struct kallsyms *ks;
		struct kallsyms_sym s;
		size_t n = len;
		FILE *mf;

		memcpy(buf, text, len);
		for (int k = 0; k < 6; k++)
			buf[rand_r(&seed) % len] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		n = (size_t)rand_r(&seed) % (len + 1);
		buf[n] = '\0';
		mf = fmemopen(buf, n + 1, "r");
		ASSERT_TRUE(mf);
		ks = kallsyms__parse(mf, NULL);
		fclose(mf);
		if (!ks)
			continue;
		for (int k = 0; k < 50; k++) {
			__u64 a = 0xffffffff80000000ULL + ((__u64)rand_r(&seed) << 12) + (__u64)rand_r(&seed) % 4096;

			if (kallsyms__lookup(ks, a, &s) == 0) {
				ASSERT_TRUE(s.addr <= a + 64 && s.name && s.index < kallsyms__count(ks));
				ASSERT_TRUE(s.module < (int)kallsyms__module_count(ks));
			}
		}
		kallsyms__free(ks);
	}
	free(buf);
	free(text);
	return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

static size_t put_note(unsigned char *buf, __u32 type, const char *name, const void *desc,
		       __u32 descsz)
{
	Elf64_Nhdr nh = { .n_namesz = (__u32)strlen(name) + 1, .n_descsz = descsz, .n_type = type };
	size_t pos = 0, npad = (nh.n_namesz + 3) & ~3u, dpad = (descsz + 3) & ~3u;

	memcpy(buf, &nh, sizeof(nh));
	pos += sizeof(nh);
	memset(buf + pos, 0, npad + dpad);
	memcpy(buf + pos, name, nh.n_namesz);
	pos += npad;
	memcpy(buf + pos, desc, descsz);
	return pos + dpad;
}

TEST(build_id_notes)
{
	unsigned char buf[256], id[20];
	char dir[] = "/tmp/fornax-kallsyms-XXXXXX", path[64];
	__u32 version = 0x60100;
	char *hex = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = (unsigned char)(i * 17 + 1);
	ASSERT_TRUE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notes", dir);
	len += put_note(buf + len, 6, "Linux", &version, sizeof(version));
	len += put_note(buf + len, NT_GNU_BUILD_ID, "GNU", id, sizeof(id));
	ASSERT_EQ(write_file(path, buf, len), 0);
	ASSERT_EQ(kallsyms__read_build_id(path, &hex), 0);
	ASSERT_STREQ(hex, "0112233445566778899aabbccddeef0011223344");
	free(hex);

	/* no GNU note */
	len = put_note(buf, 6, "Linux", &version, sizeof(version));
	ASSERT_EQ(write_file(path, buf, len), 0);
	ASSERT_EQ(kallsyms__read_build_id(path, &hex), -ENOENT);
	/* a note claiming more than the file holds */
	len = put_note(buf, NT_GNU_BUILD_ID, "GNU", id, sizeof(id));
	ASSERT_EQ(write_file(path, buf, len - 8), 0);
	ASSERT_EQ(kallsyms__read_build_id(path, &hex), -ENOENT);
	unlink(path);
	rmdir(dir);
	ASSERT_EQ(kallsyms__read_build_id("/nonexistent/notes", &hex), -ENOENT);

	if (access("/sys/kernel/notes", R_OK) == 0) {
		ASSERT_EQ(kallsyms__read_build_id("/sys/kernel/notes", &hex), 0);
		ASSERT_TRUE(strlen(hex) >= 16 && strspn(hex, "0123456789abcdef") == strlen(hex));
		fprintf(stderr, "  kernel build-id %s\n", hex);
		free(hex);
	}
	return 0;
}

TEST(random_notes)
{
	char dir[] = "/tmp/fornax-kallsyms-XXXXXX", path[64];
	unsigned char buf[200];
	unsigned seed = 99;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notes", dir);
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);
		char *hex = NULL;
		int err;

		for (size_t k = 0; k < len; k++)
			buf[k] = (unsigned char)(k % 12 == 8 ? 3 : rand_r(&seed) % (k % 4 ? 8 : 256));
		ASSERT_EQ(write_file(path, buf, len), 0);
		err = kallsyms__read_build_id(path, &hex);
		ASSERT_TRUE(err == 0 || err == -ENOENT);
		if (!err) {
			ASSERT_TRUE(hex && strlen(hex) % 2 == 0);
			free(hex);
		}
	}
	unlink(path);
	rmdir(dir);
	return 0;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Address of a symbol as /proc/kallsyms lists it, read independently. */
static __u64 live_addr(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], sym[256], type;
	unsigned long long a;
	__u64 found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && strcmp(sym, name) == 0 &&
		    (type == 'T' || type == 't')) {
			found = a;
			break;
		}
	}
	fclose(f);
	return found;
}

TEST(live)
{
	const char *names[] = { "schedule", "do_syscall_64", "__x64_sys_read", "vfs_read" };
	struct kallsyms *ks;
	long before, after;
	double t0, t1;
	int checked = 0;

	if (!live_addr("_stext"))
		TEST_SKIP("/proc/kallsyms not readable or restricted");
	before = rss_kib();
	t0 = now_ms();
	ks = kallsyms__load("/proc/kallsyms", "/proc/modules");
	t1 = now_ms();
	after = rss_kib();
	ASSERT_TRUE(ks);
	ASSERT_TRUE(kallsyms__count(ks) > 1000);
	fprintf(stderr, "  %zu symbols, %zu modules, %zu KiB held, RSS +%ld KiB, load %.1f ms\n",
		kallsyms__count(ks), kallsyms__module_count(ks), kallsyms__memory(ks) / 1024,
		after - before, t1 - t0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		__u64 a = live_addr(names[i]);
		struct kallsyms_sym s;

		if (!a)
			continue;
		ASSERT_EQ(kallsyms__lookup(ks, a, &s), 0);
		ASSERT_STREQ(s.name, names[i]);
		ASSERT_EQ(kallsyms__lookup(ks, a + 1, &s), 0);
		ASSERT_STREQ(s.name, names[i]);
		checked++;
	}
	ASSERT_TRUE(checked > 0);
	kallsyms__free(ks);
	return 0;
}

int main(void)
{
	RUN(fixture_core);
	RUN(fixture_modules);
	RUN(fixture_without_modules_file);
	RUN(restricted_and_empty);
	RUN(odd_lines);
	RUN(random_input);
	RUN(build_id_notes);
	RUN(random_notes);
	RUN(late_symbols_are_merged_in_order);
	RUN(live);
	return test_summary();
}
