// SPDX-License-Identifier: Apache-2.0
#include "kernel_features.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "log.h"

/* Does struct bpf_map_ops's map_update_elem return long (6.4+) rather than int? */
static bool map_ops_return_long(const struct btf *btf)
{
	const struct btf_type *ops, *t;
	const struct btf_member *m;
	__s32 id = btf__find_by_name_kind(btf, "bpf_map_ops", BTF_KIND_STRUCT);

	if (id <= 0)
		return false;
	ops = btf__type_by_id(btf, id);
	m = btf_members(ops);
	for (int i = 0; i < btf_vlen(ops); i++, m++) {
		if (strcmp(btf__name_by_offset(btf, m->name_off), "map_update_elem"))
			continue;
		t = btf__type_by_id(btf, btf__resolve_type(btf, m->type));
		if (!t || !btf_is_ptr(t))
			return false;
		t = btf__type_by_id(btf, btf__resolve_type(btf, t->type));
		if (!t || !btf_is_func_proto(t))
			return false;
		t = btf__type_by_id(btf, btf__resolve_type(btf, t->type));
		return t && btf_is_int(t) && t->size == 8;
	}
	return false;
}

/* Opens a disabled sideband event asking for build-ids; older kernels say EINVAL. */
static bool perf_has_build_id(void)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.disabled = 1,
		.mmap = 1,
		.mmap2 = 1,
		.build_id = 1,
	};
	int fd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

void kernel_features__probe(struct kernel_features *f)
{
	struct utsname u;
	struct stat st;

	*f = (struct kernel_features){};
	if (uname(&u) == 0)
		snprintf(f->release, sizeof(f->release), "%s", u.release);
	f->btf = stat("/sys/kernel/btf/vmlinux", &st) == 0;
	f->perf_build_id = perf_has_build_id();
}

void kernel_features__probe_types(struct kernel_features *f)
{
	struct btf *btf = btf__load_vmlinux_btf();

	f->btf_types_probed = true;
	if (!btf)
		return;
	f->map_ops_long = map_ops_return_long(btf);
	f->vma_iterator = btf__find_by_name_kind(btf, "bpf_iter_task_vma_new", BTF_KIND_FUNC) > 0;
	btf__free(btf);
}

void kernel_features__log(const struct kernel_features *f)
{
	bool sideband = f->sideband;
	const char *maps = sideband	   ? "perf sideband records"
			   : f->vma_iterator ? "the BPF VMA iterator at exit"
					     : "/proc reads while alive";
	char types[160] = "";

	if (f->btf_types_probed)
		snprintf(types, sizeof(types),
			 "; map ops return long (6.4): %s; BPF VMA iterator (6.7): %s",
			 f->map_ops_long ? "yes" : "no, map errors are read as int",
			 f->vma_iterator ? "yes" : "no");
	log_info("kernel %s: BTF %s%s; perf sideband records: %s (build-ids in them, 5.12: %s); "
		 "mappings of exited processes from %s",
		 f->release[0] ? f->release : "(unknown)", f->btf ? "yes" : "no", types,
		 sideband ? "yes" : "no",
		 f->perf_build_id ? "yes, files matched by (dev, inode)" : "no", maps);
}
