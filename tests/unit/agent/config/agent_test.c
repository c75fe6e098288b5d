// SPDX-License-Identifier: Apache-2.0
/* Agent pieces that need no BPF: configuration, folded output, file naming and pruning. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "output.h"
#include "pprof.h"
#include "test.h"

TEST(durations)
{
	__u64 ns;

	ASSERT_EQ(config__parse_duration("500ms", &ns), 0);
	ASSERT_UEQ(ns, 500000000ULL);
	ASSERT_EQ(config__parse_duration("30s", &ns), 0);
	ASSERT_UEQ(ns, 30000000000ULL);
	ASSERT_EQ(config__parse_duration("2m", &ns), 0);
	ASSERT_UEQ(ns, 120000000000ULL);
	ASSERT_EQ(config__parse_duration("1m30s", &ns), 0);
	ASSERT_UEQ(ns, 90000000000ULL);
	ASSERT_EQ(config__parse_duration("1h", &ns), 0);
	ASSERT_UEQ(ns, 3600000000000ULL);
	ASSERT_EQ(config__parse_duration("30", &ns), -EINVAL);
	ASSERT_EQ(config__parse_duration("", &ns), -EINVAL);
	ASSERT_EQ(config__parse_duration("s", &ns), -EINVAL);
	ASSERT_EQ(config__parse_duration("-1s", &ns), -EINVAL);
	ASSERT_EQ(config__parse_duration("1.5s", &ns), -EINVAL);
	ASSERT_EQ(config__parse_duration("5sec", &ns), -EINVAL);
	ASSERT_EQ(config__parse_duration("99999999999999999999h", &ns), -ERANGE);
	ASSERT_EQ(config__parse_duration("9999999999h", &ns), -ERANGE);
	/* A year at most: the monotonic clock plus any duration taken must not wrap. */
	ASSERT_EQ(config__parse_duration("5124095h", &ns), -ERANGE);
	ASSERT_EQ(config__parse_duration("8761h", &ns), -ERANGE);
	ASSERT_EQ(config__parse_duration("8760h", &ns), 0);
	ASSERT_UEQ(ns, MAX_DURATION_NS);
	return 0;
}

TEST(environment_then_command_line)
{
	char *argv[] = { "fornax", "-F", "99", "--pid", "7", NULL };
	char *envp[] = { "FORNAX_FREQUENCY=50", "FORNAX_PID=1,2", "FORNAX_KERNEL=false",
			 "FORNAX_INTERVAL=", "HOME=/root", NULL };
	struct config cfg;

	ASSERT_EQ(config__parse(&cfg, 5, argv, envp), 0);
	ASSERT_EQ(cfg.frequency, 99);
	/* Repeatable flags add to what the environment gave. */
	ASSERT_EQ(cfg.n_pids, 3);
	ASSERT_EQ(cfg.pids[0], 1);
	ASSERT_EQ(cfg.pids[2], 7);
	ASSERT_TRUE(!cfg.kernel_stacks);
	/* Empty means unset: the default interval stays. */
	ASSERT_UEQ(cfg.interval_ns, 10000000000ULL);
	ASSERT_STREQ(cfg.output, "fornax-profiles");
	config__free(&cfg);
	return 0;
}

/* Reading the store's flags loads nothing: a missing libcurl is for the uploader to say. */
TEST(store_flags_do_not_load_libcurl)
{
	char *argv[] = { "fornax", "--store", "grpcs://parca.example", "--label", "env=prod", NULL };
	struct config cfg;

	ASSERT_EQ(config__parse(&cfg, 5, argv, NULL), 0);
	ASSERT_STREQ(cfg.store, "grpcs://parca.example");
	ASSERT_TRUE(!dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD));
	config__free(&cfg);
	return 0;
}

TEST(capture_defaults_and_format_from_extension)
{
	char *a1[] = { "fornax", "--duration", "2s", NULL };
	char *a2[] = { "fornax", "-d", "2s", "-o", "x.folded", NULL };
	char *a3[] = { "fornax", "-d", "500ms", "--format", "folded", NULL };
	char *envp[] = { NULL };
	struct config cfg;

	ASSERT_EQ(config__parse(&cfg, 3, a1, envp), 0);
	ASSERT_STREQ(cfg.output, "fornax.pb.gz");
	ASSERT_EQ(cfg.format, OUTPUT_FORMAT_PPROF);
	ASSERT_UEQ(cfg.drain_interval_ns, 1000000000ULL);
	config__free(&cfg);
	ASSERT_EQ(config__parse(&cfg, 5, a2, envp), 0);
	ASSERT_EQ(cfg.format, OUTPUT_FORMAT_FOLDED);
	config__free(&cfg);
	ASSERT_EQ(config__parse(&cfg, 5, a3, envp), 0);
	ASSERT_STREQ(cfg.output, "fornax.folded");
	/* A capture shorter than the drain interval drains at its end. */
	ASSERT_UEQ(cfg.drain_interval_ns, 500000000ULL);
	config__free(&cfg);
	return 0;
}

static __u64 add_fn(struct pprof *p, const char *name)
{
	return pprof__add_function(p, &(struct pprof_function){ .name = name });
}

TEST(folded_output)
{
	struct pprof *p = pprof__new(&(struct pprof_opts){ .period_ns = 1000 });
	struct pprof_label l1[] = { { .key = "comm", .str = "app" }, { .key = "tid", .str = "1" } };
	struct pprof_label l2[] = { { .key = "comm", .str = "app" }, { .key = "tid", .str = "2" } };
	__u64 kmap, umap, main_fn, work_fn, inl_fn, hostile_fn, k_fn;
	__u64 loc_main, loc_work, loc_k, loc_unknown, loc_hostile;
	char *text = NULL;
	size_t len = 0;

	ASSERT_TRUE(p);
	umap = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0x1000, .limit = 0x9000,
							      .filename = "/bin/app" });
	kmap = pprof__add_mapping(p, &(struct pprof_mapping){ .start = 0xffffffff81000000ULL,
							      .limit = 0xffffffff82000000ULL,
							      .filename = "[kernel.kallsyms]" });
	main_fn = add_fn(p, "main");
	work_fn = add_fn(p, "work");
	inl_fn = add_fn(p, "inlined");
	hostile_fn = add_fn(p, "ns::f<a;b>\nx");
	k_fn = add_fn(p, "do_syscall_64");
	loc_main = pprof__add_location(p, umap, 0x1100, &(struct pprof_line){ main_fn, 3 }, 1);
	/* An inline chain: innermost first. */
	loc_work = pprof__add_location(p, umap, 0x1200,
				       (struct pprof_line[]){ { inl_fn, 9 }, { work_fn, 5 } }, 2);
	loc_k = pprof__add_location(p, kmap, 0xffffffff81000100ULL,
				    &(struct pprof_line){ k_fn, 0 }, 1);
	loc_unknown = pprof__add_location(p, umap, 0x1300, NULL, 0);
	loc_hostile = pprof__add_location(p, umap, 0x1400, &(struct pprof_line){ hostile_fn, 1 }, 1);

	/* Leaf first; two threads with the same stack fold into one line. */
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ loc_k, loc_work, loc_main }, 3, 2, l1, 2), 0);
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ loc_k, loc_work, loc_main }, 3, 3, l2, 2), 0);
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ loc_unknown, loc_main }, 2, 1, l1, 2), 0);
	ASSERT_EQ(pprof__add_sample(p, (__u64[]){ loc_hostile, loc_main }, 2, 4, l1, 2), 0);

	ASSERT_EQ(output__folded(p, &text, &len), 0);
	ASSERT_EQ(len, strlen(text));
	ASSERT_STREQ(text, "app;main;[unknown] 1\n"
			   "app;main;ns::f<a_b>_x 4\n"
			   "app;main;work;inlined;do_syscall_64_[k] 5\n");
	free(text);
	pprof__free(p);
	return 0;
}

TEST(window_paths_sort_by_time_and_prune_keeps_the_newest)
{
	char dir[] = "/tmp/fornax-agent-test-XXXXXX";
	const long long base = 1795000000000000000LL; /* 2026-11-18 */
	char *paths[5];
	int kept = 0;

	ASSERT_TRUE(mkdtemp(dir));
	for (int i = 0; i < 5; i++) {
		int fd;

		paths[i] = output__window_path(dir, base + i * 1500000000LL, OUTPUT_FORMAT_PPROF);
		ASSERT_TRUE(paths[i]);
		ASSERT_TRUE(strstr(paths[i], "/fornax-") && strstr(paths[i], "Z.pb.gz"));
		if (i)
			ASSERT_TRUE(strcmp(paths[i - 1], paths[i]) < 0);
		fd = open(paths[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ASSERT_TRUE(fd >= 0);
		close(fd);
	}
	/* Not ours: never pruned. */
	{
		char other[256];
		int fd;

		snprintf(other, sizeof(other), "%s/notes.txt", dir);
		fd = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ASSERT_TRUE(fd >= 0);
		close(fd);
		ASSERT_EQ(output__prune(dir, 2), 3);
		ASSERT_EQ(access(other, F_OK), 0);
		unlink(other);
	}
	for (int i = 0; i < 5; i++) {
		bool exists = access(paths[i], F_OK) == 0;

		ASSERT_EQ(exists, i >= 3);
		kept += exists;
		unlink(paths[i]);
		free(paths[i]);
	}
	ASSERT_EQ(kept, 2);
	ASSERT_EQ(output__prune(dir, 0), 0);
	rmdir(dir);
	ASSERT_EQ(output__prune(dir, 3), -ENOENT);
	return 0;
}

int main(void)
{
	RUN(durations);
	RUN(environment_then_command_line);
	RUN(store_flags_do_not_load_libcurl);
	RUN(capture_defaults_and_format_from_extension);
	RUN(folded_output);
	RUN(window_paths_sort_by_time_and_prune_keeps_the_newest);
	return test_summary();
}
