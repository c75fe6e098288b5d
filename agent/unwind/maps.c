// SPDX-License-Identifier: Apache-2.0
/*
 * The maps the walker reads (bpf/unwind.h), created before the program that
 * reuses them and sized from --unwind-memory.
 */
#include "unwind_impl.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static __u32 pid_max(void)
{
	unsigned long v = 0;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v && v <= DEFAULT_PID_MAX ? v : DEFAULT_PID_MAX;
}

int create_maps(struct unwinder *u, size_t max_table_bytes)
{
	LIBBPF_OPTS(bpf_map_create_opts, no_prealloc, .map_flags = BPF_F_NO_PREALLOC);
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE);
	size_t page_bytes = sizeof(struct fornax_unwind_row) << FORNAX_UNWIND_ROW_PAGE_SHIFT;
	__u32 row_pages = max_table_bytes / page_bytes;
	/* Mapping entries are 32 bytes against rows' 8: a quarter of the budget is plenty. */
	__u32 map_pages = max_table_bytes / 4 /
			  (sizeof(struct fornax_unwind_mapping) << FORNAX_UNWIND_MAP_PAGE_SHIFT);
	int cpus = libbpf_num_possible_cpus();
	__u32 requests = cpus > 0 ? (__u32)cpus * REQUESTS_PER_CPU : MIN_REQUESTS;
	int err;

	if (row_pages < 1)
		row_pages = 1;
	if (map_pages < 1)
		map_pages = 1;
	if (requests < MIN_REQUESTS)
		requests = MIN_REQUESTS;
	err = page_pool__init(&u->rows, "fornax_rows", sizeof(struct fornax_unwind_row),
			FORNAX_UNWIND_ROW_PAGE_SHIFT, row_pages);
	if (!err)
		err = page_pool__init(&u->mappings, "fornax_maps", sizeof(struct fornax_unwind_mapping),
				FORNAX_UNWIND_MAP_PAGE_SHIFT, map_pages);
	if (err)
		return err;
	u->maps.row_pages = u->rows.outer_fd;
	u->maps.map_pages = u->mappings.outer_fd;
	/* Entries are allocated as processes appear; only the buckets are up front. */
	u->max_processes = max_table_bytes / TABLE_BYTES_PER_PROCESS;
	if (u->max_processes < MIN_PROCESSES)
		u->max_processes = MIN_PROCESSES;
	if (u->max_processes > pid_max())
		u->max_processes = pid_max();
	u->maps.procs = bpf_map_create(BPF_MAP_TYPE_HASH, "fornax_procs", sizeof(__u32),
				       sizeof(struct fornax_unwind_proc), u->max_processes,
				       &no_prealloc);
	if (u->maps.procs < 0)
		return -errno;
	/* The program inserts into this one from interrupt context: preallocated. */
	u->maps.requests = bpf_map_create(BPF_MAP_TYPE_HASH, "fornax_requests", sizeof(__u32),
					  sizeof(struct fornax_unwind_request), requests, NULL);
	if (u->maps.requests < 0)
		return -errno;
	/* Both are written from process context only (map updates, exec and mmap hooks). */
	u->maps.files = bpf_map_create(BPF_MAP_TYPE_HASH, "fornax_files",
				       sizeof(struct fornax_file_id), sizeof(struct fornax_unwind_file),
				       u->max_processes, &no_prealloc);
	if (u->maps.files < 0)
		return -errno;
	u->maps.vmas = bpf_map_create(BPF_MAP_TYPE_HASH, "fornax_vmas", sizeof(__u32),
				      sizeof(struct fornax_unwind_vmas), u->max_processes,
				      &no_prealloc);
	if (u->maps.vmas < 0)
		return -errno;
	/* The smallest ring: its records are only read to empty it. */
	u->maps.doorbell = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "fornax_doorbell", 0, 0,
					  (__u32)sysconf(_SC_PAGESIZE), NULL);
	if (u->maps.doorbell < 0)
		return -errno;
	u->maps.gen = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fornax_gen", sizeof(__u32), sizeof(__u64),
				     1, &mmapable);
	if (u->maps.gen < 0)
		return -errno;
	u->gen = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, u->maps.gen,
		      0);
	if (u->gen == MAP_FAILED) {
		u->gen = NULL;
		return -errno;
	}
	return 0;
}

void destroy_maps(struct unwinder *u)
{
	page_pool__destroy(&u->rows);
	page_pool__destroy(&u->mappings);
	if (u->maps.procs >= 0)
		close(u->maps.procs);
	if (u->maps.requests >= 0)
		close(u->maps.requests);
	if (u->maps.files >= 0)
		close(u->maps.files);
	if (u->maps.vmas >= 0)
		close(u->maps.vmas);
	if (u->maps.doorbell >= 0)
		close(u->maps.doorbell);
	if (u->gen)
		munmap(u->gen, sysconf(_SC_PAGESIZE));
	if (u->maps.gen >= 0)
		close(u->maps.gen);
}
