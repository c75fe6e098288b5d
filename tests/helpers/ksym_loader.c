// SPDX-License-Identifier: Apache-2.0
/*
 * Loads a BPF program (ksym_spin), runs it in this process's own bpf(2)
 * calls for SECONDS, then unloads it and stays SECONDS_AFTER more:
 *
 *   fornax_ksym_loader SECONDS [SECONDS_AFTER]
 *
 * Prints "loaded" once the program is in the kernel and "unloaded" after.
 * Its samples are in the kernel, in the program's JIT text, under
 * bpf_prog_test_run_xdp: a program loaded after the agent started.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ksym_spin.skel.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end || *out < 0 || *out > 3600 ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	unsigned char pkt[64] = { 0 };
	double seconds, after = 0, until;
	struct ksym_spin *skel;
	int err = 0;

	if (argc < 2 || argc > 3 || parse_seconds(argv[1], &seconds) ||
	    (argc == 3 && parse_seconds(argv[2], &after))) {
		fprintf(stderr, "usage: %s SECONDS [SECONDS_AFTER]\n", argv[0]);
		return 2;
	}
	skel = ksym_spin__open_and_load();
	if (!skel) {
		fprintf(stderr, "loading ksym_spin: %s\n", strerror(errno));
		return 1;
	}
	printf("loaded\n");
	fflush(stdout);
	until = now() + seconds;
	while (now() < until) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 200);

		err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.ksym_spin), &opts);
		if (err) {
			fprintf(stderr, "running ksym_spin: %s\n", strerror(-err));
			break;
		}
	}
	ksym_spin__destroy(skel);
	printf("unloaded\n");
	fflush(stdout);
	if (!err && after > 0)
		usleep((useconds_t)(after * 1e6));
	return err ? 1 : 0;
}
