// SPDX-License-Identifier: Apache-2.0
/*
 * The process_* families Prometheus' client libraries export, so that the
 * dashboards and alerts written for them work for fornax too. Everything
 * comes from this process's own /proc/self, which nobody else controls.
 */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const struct metric_desc process_descs[] = {
	{ "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
	  METRIC_COUNTER, NULL },
	{ "process_resident_memory_bytes", "Resident memory size in bytes.", METRIC_GAUGE, NULL },
	{ "process_virtual_memory_bytes", "Virtual memory size in bytes.", METRIC_GAUGE, NULL },
	{ "process_open_fds", "Number of open file descriptors.", METRIC_GAUGE, NULL },
	{ "process_max_fds", "Maximum number of open file descriptors.", METRIC_GAUGE, NULL },
	{ "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
	  METRIC_GAUGE, NULL },
	{ "process_threads", "Number of OS threads in the process.", METRIC_GAUGE, NULL },
};

enum { CPU, RSS, VSIZE, OPEN_FDS, MAX_FDS, START_TIME, THREADS };

/* Reads a small /proc file whole; returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return n;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Seconds since the epoch at boot: "btime" in /proc/stat. */
static int boot_time(unsigned long long *btime)
{
	char buf[8192], *p, *end;

	if (read_small("/proc/stat", buf, sizeof(buf)) < 0)
		return -EIO;
	p = strstr(buf, "\nbtime ");
	if (!p)
		return -EIO;
	errno = 0;
	*btime = strtoull(p + 7, &end, 10);
	return errno || end == p + 7 ? -EIO : 0;
}

static int count_fds(unsigned long long *n)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned long long count = 0;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			count++;
	closedir(d);
	*n = count ? count - 1 : 0; /* not the directory's own fd */
	return 0;
}

/* Fields 3..24 of /proc/self/stat (numbered as in proc(5)); the comm may hold spaces. */
static int read_stat(unsigned long long field[25])
{
	char buf[1024], *p, *end;

	if (read_small("/proc/self/stat", buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return -EIO;
	p += 2; /* ") " then the state, a letter */
	if (!*p)
		return -EIO;
	p++;
	for (int i = 4; i <= 24; i++) {
		errno = 0;
		/* negative fields (priority, nice) are not read below; keep their bits */
		field[i] = (unsigned long long)strtoll(p, &end, 10);
		if (errno || end == p)
			return -EIO;
		p = end;
	}
	return 0;
}

static void collect_process(struct metrics_emitter *e, void *ctx)
{
	enum { UTIME = 14, STIME = 15, NUM_THREADS = 20, STARTTIME = 22, VSIZE_F = 23, RSS_F = 24 };
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long f[25], btime, fds = 0;
	struct rlimit rl;

	(void)ctx;
	if (read_stat(f) == 0 && ticks > 0 && page > 0) {
		metrics_emit(e, &process_descs[CPU], NULL,
			     (double)(f[UTIME] + f[STIME]) / (double)ticks);
		metrics_emit_u64(e, &process_descs[RSS], NULL, f[RSS_F] * (unsigned long long)page);
		metrics_emit_u64(e, &process_descs[VSIZE], NULL, f[VSIZE_F]);
		metrics_emit_u64(e, &process_descs[THREADS], NULL, f[NUM_THREADS]);
		if (boot_time(&btime) == 0)
			metrics_emit(e, &process_descs[START_TIME], NULL,
				     (double)btime + (double)f[STARTTIME] / (double)ticks);
	}
	if (count_fds(&fds) == 0)
		metrics_emit_u64(e, &process_descs[OPEN_FDS], NULL, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		metrics_emit_u64(e, &process_descs[MAX_FDS], NULL, rl.rlim_cur);
}

int metrics__add_process_collector(struct metrics *m)
{
	const char *why;
	int ret = metrics__add_collector(m, process_descs,
					 sizeof(process_descs) / sizeof(process_descs[0]),
					 collect_process, NULL, &why);

	return ret < 0 ? ret : 0;
}
