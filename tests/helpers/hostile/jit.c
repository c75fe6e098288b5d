// SPDX-License-Identifier: Apache-2.0
/*
 * jit SECONDS ADDRESS [PERF_MAP]
 *
 * Runs a loop in anonymous executable memory at ADDRESS (hex), like JIT
 * code, for SECONDS. With PERF_MAP, first hard-links it to
 * /tmp/perf-<pid>.map, as a user can do with a file of their own. Built
 * static so that it runs alone in a bare container root.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* 1: add $1, %rax; jmp 1b */
static const unsigned char loop[] = { 0x48, 0x83, 0xc0, 0x01, 0xeb, 0xfa };

int main(int argc, char **argv)
{
	unsigned long addr;
	void (*code)(void);
	unsigned seconds;
	char path[64];
	void *p;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s SECONDS ADDRESS [PERF_MAP]\n", argv[0]);
		return 2;
	}
	seconds = (unsigned)strtoul(argv[1], NULL, 10);
	addr = strtoul(argv[2], NULL, 16);
	if (argc == 4) {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		if (link(argv[3], path) != 0) {
			perror(path);
			return 1;
		}
	}
	p = mmap((void *)addr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || (unsigned long)p != addr) {
		perror("mmap");
		return 1;
	}
	memcpy(p, loop, sizeof(loop));
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	alarm(seconds); /* the default action ends the loop */
	code = (void (*)(void))p;
	code();
	return 0;
}
