// SPDX-License-Identifier: Apache-2.0
/*
 * How big are the unwind tables, and how long do they take to build?
 * Builds each file's table several times and prints its rows, the bytes of
 * kernel map memory it takes (8-byte rows plus the bucket index the walker
 * searches first, bpf/unwind.h), FDEs, and the median and spread of the
 * build time (open + libdw evaluation + merging + index).
 *
 *   unwind_tables [--runs N] [--dump] FILE...
 *
 * --dump prints every row (address, rule), for comparing with
 * readelf --debug-dump=frames-interp.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfi_table.h"
#include "unwind_rows.h"

static const char *const type_names[CFI_ROW_NR_TYPES] = {
	[CFI_ROW_NONE] = "none",       [CFI_ROW_CFA_SP] = "rsp",
	[CFI_ROW_CFA_FP] = "rbp",      [CFI_ROW_PLT] = "plt",
	[CFI_ROW_SIGNAL] = "signal",   [CFI_ROW_OUTERMOST] = "outermost",
	[CFI_ROW_UNSUPPORTED] = "unsupported",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct cfi_table *build(const char *path, double *seconds)
{
	double start = now();
	struct cfi_table *t = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;

	if (fd < 0)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf) {
		struct unwind_rows_layout layout;

		t = cfi_table__build(elf);
		/* What loading it costs too: the index is built from the rows. */
		if (t && unwind_rows__layout(t, &layout) == 0) {
			struct fornax_unwind_row *image = malloc(layout.slots * sizeof(*image));

			if (image)
				unwind_rows__serialize(t, &layout, image);
			free(image);
		}
		elf_end(elf);
	} else {
		errno = ENOEXEC;
	}
	close(fd);
	*seconds = now() - start;
	return t;
}

static void dump(const struct cfi_table *t)
{
	size_t n;
	const struct cfi_row *rows = cfi_table__rows(t, &n);

	for (size_t i = 0; i < n; i++) {
		const struct cfi_row *r = &rows[i];

		printf("%016llx %-11s cfa_off=%-5u rbp=", (unsigned long long)(cfi_table__origin(t) + r->pc),
		       type_names[r->type], r->cfa_off);
		if (r->fp_off)
			printf("c%+d\n", 8 * r->fp_off);
		else
			printf("u\n");
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "dump", no_argument, NULL, 'd' },
		{ 0 },
	};
	int runs = 5, c, status = 0;
	bool do_dump = false;

	while ((c = getopt_long(argc, argv, "r:d", longopts, NULL)) != -1) {
		if (c == 'r')
			runs = atoi(argv[optind - 1]);
		else if (c == 'd')
			do_dump = true;
		else
			return 2;
	}
	if (optind >= argc || runs < 1) {
		fprintf(stderr, "usage: %s [--runs N] [--dump] FILE...\n", argv[0]);
		return 2;
	}
	elf_version(EV_CURRENT);
	if (!do_dump)
		printf("%-40s %9s %9s %10s %7s %8s %6s %6s %10s %10s\n", "file", "rows", "buckets",
		       "map bytes", "fdes", "unsupp", "plt", "signal", "build ms", "spread ms");
	for (int i = optind; i < argc; i++) {
		double *times = calloc(runs, sizeof(*times));
		struct cfi_table *t = NULL;
		const struct cfi_table_stats *st;
		size_t n;

		if (!times)
			return 1;
		for (int r = 0; r < runs; r++) {
			cfi_table__free(t);
			t = build(argv[i], &times[r]);
			if (!t)
				break;
		}
		if (!t) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			status = 1;
			free(times);
			continue;
		}
		if (do_dump) {
			dump(t);
		} else {
			struct unwind_rows_layout layout = { 0 };

			qsort(times, runs, sizeof(*times), compare_doubles);
			st = cfi_table__stats(t);
			cfi_table__rows(t, &n);
			unwind_rows__layout(t, &layout);
			printf("%-40s %9zu %9u %10zu %7llu %8llu %6llu %6llu %10.1f %10.1f\n", argv[i],
			       n, layout.n_buckets, (size_t)layout.slots * sizeof(struct fornax_unwind_row),
			       (unsigned long long)st->fdes,
			       (unsigned long long)st->rows_by_type[CFI_ROW_UNSUPPORTED],
			       (unsigned long long)st->rows_by_type[CFI_ROW_PLT],
			       (unsigned long long)st->rows_by_type[CFI_ROW_SIGNAL],
			       times[runs / 2] * 1e3, (times[runs - 1] - times[0]) * 1e3);
		}
		cfi_table__free(t);
		free(times);
	}
	return status;
}
