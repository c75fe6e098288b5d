// SPDX-License-Identifier: Apache-2.0
#include "preflight.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* The oldest kernel with all the sampler loads: BTF in sysfs, the BPF ring buffer, CAP_BPF. */
#define MIN_KERNEL_MAJOR 5
#define MIN_KERNEL_MINOR 8
/* The CFI walker's bounded loops and map-in-map lookups (bpf/unwind.h). */
#define CFI_KERNEL_MAJOR 6
#define CFI_KERNEL_MINOR 1

static int effective_caps(unsigned long long *caps)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*caps = data[0].effective | (unsigned long long)data[1].effective << 32;
	return 0;
}

static bool has_cap(unsigned long long caps, int cap)
{
	return caps & (1ULL << cap);
}

static int check_privileges(void)
{
	unsigned long long caps = 0;
	char missing[64] = "";
	int err = effective_caps(&caps);

	if (err) {
		log_error("reading this process's capabilities: %s", strerror(-err));
		return err;
	}
	/* Before Linux 5.8, CAP_SYS_ADMIN covered BPF and perf events; it still does. */
	if (has_cap(caps, CAP_SYS_ADMIN) || (has_cap(caps, CAP_BPF) && has_cap(caps, CAP_PERFMON)))
		return 0;
	if (geteuid() != 0) {
		log_error("fornax needs root: run it with sudo (or grant it CAP_BPF and CAP_PERFMON, "
			  "and the capabilities docs/usage.md lists)");
		return -EPERM;
	}
	snprintf(missing, sizeof(missing), "%s%s%s", has_cap(caps, CAP_BPF) ? "" : "CAP_BPF",
		 !has_cap(caps, CAP_BPF) && !has_cap(caps, CAP_PERFMON) ? " and " : "",
		 has_cap(caps, CAP_PERFMON) ? "" : "CAP_PERFMON");
	log_error("running as root without %s (dropped from this process's capabilities): "
		  "fornax needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN", missing);
	return -EPERM;
}

static bool kernel_at_least(int have_major, int have_minor, int major, int minor)
{
	return have_major > major || (have_major == major && have_minor >= minor);
}

static int check_kernel(const struct preflight_opts *opts)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0; /* the loader will say what it lacks */
	if (!kernel_at_least(major, minor, MIN_KERNEL_MAJOR, MIN_KERNEL_MINOR)) {
		log_error("Linux %s is too old: fornax needs %d.%d or later (BTF, the BPF ring "
			  "buffer, CAP_BPF)", u.release, MIN_KERNEL_MAJOR, MIN_KERNEL_MINOR);
		return -EOPNOTSUPP;
	}
	if (opts->cfi_walker && !kernel_at_least(major, minor, CFI_KERNEL_MAJOR, CFI_KERNEL_MINOR)) {
		log_error("--unwind=dwarf: the CFI walker needs Linux %d.%d or later, this is %s "
			  "(--unwind=auto falls back to frame pointers)", CFI_KERNEL_MAJOR,
			  CFI_KERNEL_MINOR, u.release);
		return -EOPNOTSUPP;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		log_error("this kernel has no BTF: /sys/kernel/btf/vmlinux is missing (a kernel "
			  "built with CONFIG_DEBUG_INFO_BTF=y, as Debian's, Ubuntu's and RHEL's are)");
		return -ENOENT;
	}
	return 0;
}

int preflight__check(const struct preflight_opts *opts)
{
	struct preflight_opts none = { 0 };

	return check_privileges() ?: check_kernel(opts ? opts : &none);
}
