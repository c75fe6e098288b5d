// SPDX-License-Identifier: Apache-2.0
#include "sideband.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "array.h"
#include "hashmap.h"
#include "log.h"

/*
 * 64 data pages (256 KiB) per CPU hold about two thousand records: several
 * hundred short-lived processes between two reads. The agent reads them
 * whenever a process record wakes it, so the ring only absorbs a drain.
 */
#define DEFAULT_RING_PAGES 64
/* A process not taken this many cycles after its exit is dropped. */
#define EXITED_MAX_CYCLES 2

struct sb_proc {
	__u32 pid;
	bool complete; /* followed from its exec or fork, nothing lost since */
	bool exited;
	__u64 exit_cycle;
	__u64 vdso_start;
	struct symbolizer_vma *vmas; /* sorted by start, non-overlapping */
	size_t n, cap;
};

struct sb_ring {
	int fd;
	void *base; /* the metadata page, then the data pages */
	size_t data_size;
};

/* One record copied out of a ring, to be applied in time order. */
struct sb_record {
	__u64 time;
	__u64 seq; /* ties keep the rings' order */
	struct perf_event_header *hdr;
};

struct sideband {
	struct sb_ring *rings;
	int n_rings;
	size_t page_size;
	sideband_mmap_fn fn;
	sideband_ksymbol_fn ksymbol;
	void *ctx;
	struct hmap procs; /* pid → sb_proc */
	__u64 cycle;
	/* reused between reads */
	struct sb_record *recs;
	size_t n_recs, recs_cap;
	char *buf;
	size_t buf_len, buf_cap;
	struct symbolizer_vma *taken;
	size_t taken_cap;
	struct sideband_stats stats;
};

/* The sample_id trailer every record carries (sample_id_all, TID | TIME). */
struct sb_sample_id {
	__u32 pid, tid;
	__u64 time;
};

struct sb_mmap2 {
	struct perf_event_header hdr;
	__u32 pid, tid;
	__u64 addr, len, pgoff;
	__u32 maj, min;
	__u64 ino, ino_generation;
	__u32 prot, flags;
	char filename[];
};

struct sb_task {
	struct perf_event_header hdr;
	__u32 pid, ppid, tid, ptid;
	__u64 time;
};

struct sb_comm {
	struct perf_event_header hdr;
	__u32 pid, tid;
	char comm[];
};

struct sb_ksymbol {
	struct perf_event_header hdr;
	__u64 addr;
	__u32 len;
	__u16 ksym_type, flags;
	char name[];
};

struct sb_lost {
	struct perf_event_header hdr;
	__u64 id, lost;
};

static bool proc_eq(const void *val, const void *key)
{
	return ((const struct sb_proc *)val)->pid == *(const __u32 *)key;
}

static struct sb_proc *proc_find(struct sideband *sb, __u32 pid)
{
	return hmap__find(&sb->procs, hash_u64(pid), proc_eq, &pid);
}

static void proc_free(struct sideband *sb, struct sb_proc *p)
{
	(void)hmap__remove(&sb->procs, hash_u64(p->pid), p);
	free(p->vmas);
	free(p);
}

/* pid's entry, emptied: a new image (exec) or a new process (fork). NULL: no memory. */
static struct sb_proc *proc_reset(struct sideband *sb, __u32 pid)
{
	struct sb_proc *p = proc_find(sb, pid);

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->pid = pid;
		if (hmap__insert(&sb->procs, hash_u64(pid), p)) {
			free(p);
			return NULL;
		}
	}
	p->n = 0;
	p->complete = true;
	p->exited = false;
	p->vdso_start = 0;
	return p;
}

/* Adds v, replacing what it overlaps (the kernel unmapped that to map v). */
static int proc_add_vma(struct sb_proc *p, const struct symbolizer_vma *v)
{
	size_t out = 0, at;

	for (size_t i = 0; i < p->n; i++)
		if (p->vmas[i].end <= v->start || v->end <= p->vmas[i].start)
			p->vmas[out++] = p->vmas[i];
	p->n = out;
	if (ARRAY_GROW(&p->vmas, &p->cap, p->n + 1))
		return -ENOMEM;
	for (at = p->n; at > 0 && p->vmas[at - 1].start > v->start; at--)
		p->vmas[at] = p->vmas[at - 1];
	p->vmas[at] = *v;
	p->n++;
	return 0;
}

static void on_mmap2(struct sideband *sb, const struct sb_mmap2 *r, size_t size)
{
	size_t max = size - sizeof(*r) - sizeof(struct sb_sample_id);
	const char *path = r->filename;
	struct symbolizer_vma v = {
		.start = r->addr, .end = r->addr + r->len, .offset = r->pgoff,
		.inode = r->ino, .dev_major = r->maj, .dev_minor = r->min,
	};
	struct sb_proc *p;

	if (size < sizeof(*r) + sizeof(struct sb_sample_id) || !memchr(path, '\0', max) ||
	    (r->hdr.misc & PERF_RECORD_MISC_MMAP_BUILD_ID) || !(r->prot & PROT_EXEC))
		return;
	p = proc_find(sb, r->pid);
	if (!r->ino) {
		if (p && strcmp(path, "[vdso]") == 0)
			p->vdso_start = r->addr;
		return;
	}
	sb->stats.mmaps++;
	if (p && !p->exited && proc_add_vma(p, &v))
		p->complete = false; /* no memory: the exit falls back to what /proc gave */
	if (sb->fn && path[0] == '/')
		sb->fn(r->pid, &v, path, sb->ctx);
}

static void on_ksymbol(struct sideband *sb, const struct sb_ksymbol *r, size_t size)
{
	if (size < sizeof(*r) + sizeof(struct sb_sample_id) ||
	    !memchr(r->name, '\0', size - sizeof(*r) - sizeof(struct sb_sample_id)))
		return;
	/* OOL text (kprobe slots, ftrace trampolines) has kallsyms names of its own */
	if (r->ksym_type != PERF_RECORD_KSYMBOL_TYPE_BPF || !sb->ksymbol)
		return;
	sb->stats.ksymbols++;
	sb->ksymbol(r->addr, r->len, r->name, r->flags & PERF_RECORD_KSYMBOL_FLAGS_UNREGISTER,
		    sb->ctx);
}

static void on_fork(struct sideband *sb, const struct sb_task *r)
{
	struct sb_proc *parent, *child;

	if (r->pid == r->ppid)
		return; /* a new thread */
	sb->stats.forks++;
	parent = proc_find(sb, r->ppid);
	child = proc_reset(sb, r->pid);
	if (!child)
		return;
	/* a child runs its parent's image until it executes */
	child->complete = parent && parent->complete;
	if (!parent)
		return;
	child->vdso_start = parent->vdso_start;
	if (ARRAY_GROW(&child->vmas, &child->cap, parent->n)) {
		child->complete = false;
		return;
	}
	if (parent->n)
		memcpy(child->vmas, parent->vmas, parent->n * sizeof(parent->vmas[0]));
	child->n = parent->n;
}

static void apply(struct sideband *sb, const struct perf_event_header *hdr)
{
	sb->stats.records++;
	switch (hdr->type) {
	case PERF_RECORD_MMAP2:
		on_mmap2(sb, (const struct sb_mmap2 *)hdr, hdr->size);
		break;
	case PERF_RECORD_COMM:
		if ((hdr->misc & PERF_RECORD_MISC_COMM_EXEC) && hdr->size >= sizeof(struct sb_comm)) {
			sb->stats.execs++;
			(void)proc_reset(sb, ((const struct sb_comm *)hdr)->pid);
		}
		break;
	case PERF_RECORD_FORK:
		if (hdr->size >= sizeof(struct sb_task))
			on_fork(sb, (const struct sb_task *)hdr);
		break;
	case PERF_RECORD_EXIT:
		if (hdr->size >= sizeof(struct sb_task)) {
			const struct sb_task *r = (const struct sb_task *)hdr;
			struct sb_proc *p = r->pid == r->tid ? proc_find(sb, r->pid) : NULL;

			if (r->pid == r->tid)
				sb->stats.exits++;
			if (p) {
				p->exited = true;
				p->exit_cycle = sb->cycle;
			}
		}
		break;
	case PERF_RECORD_KSYMBOL:
		on_ksymbol(sb, (const struct sb_ksymbol *)hdr, hdr->size);
		break;
	case PERF_RECORD_LOST: {
		struct sb_proc *p;
		size_t pos = 0;

		if (hdr->size >= sizeof(struct sb_lost))
			sb->stats.lost += ((const struct sb_lost *)hdr)->lost;
		/* whose records they were is unknown: nobody's layout is certain now */
		while ((p = hmap__next(&sb->procs, &pos)))
			p->complete = false;
		break;
	}
	default:
		break;
	}
}

/* Copies ring r's waiting records into sb->buf and notes them in sb->recs. */
static int read_ring(struct sideband *sb, struct sb_ring *r)
{
	struct perf_event_mmap_page *meta = r->base;
	const char *data = (const char *)r->base + sb->page_size;
	__u64 head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	__u64 tail = meta->data_tail;
	int err = 0;

	while (tail < head) {
		struct perf_event_header hdr;
		size_t off = tail % r->data_size, first;
		char *rec;

		memcpy(&hdr, data + off, sizeof(hdr)); /* a header never wraps: records are 8-aligned */
		if (hdr.size < sizeof(hdr) || hdr.size > head - tail) {
			err = -EBADMSG;
			break;
		}
		err = ARRAY_GROW(&sb->buf, &sb->buf_cap, sb->buf_len + hdr.size);
		if (!err)
			err = ARRAY_GROW(&sb->recs, &sb->recs_cap, sb->n_recs + 1);
		if (err)
			break;
		rec = sb->buf + sb->buf_len;
		first = r->data_size - off < hdr.size ? r->data_size - off : hdr.size;
		memcpy(rec, data + off, first);
		memcpy(rec + first, data, hdr.size - first);
		/* the offset for now; made a pointer once buf stops moving */
		sb->recs[sb->n_recs++] = (struct sb_record){
			.time = hdr.size >= sizeof(hdr) + sizeof(struct sb_sample_id)
					? ((const struct sb_sample_id *)(rec + hdr.size) - 1)->time
					: 0,
			.seq = sb->buf_len,
		};
		sb->buf_len += hdr.size;
		tail += hdr.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
	return err;
}

static int record_cmp(const void *a, const void *b)
{
	const struct sb_record *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int sideband__consume(struct sideband *sb)
{
	int err = 0;

	if (!sb)
		return 0;
	sb->n_recs = 0;
	sb->buf_len = 0;
	for (int i = 0; i < sb->n_rings; i++) {
		int e = read_ring(sb, &sb->rings[i]);

		if (e)
			err = err ?: e;
	}
	/* rings are per CPU: a process that moved between CPUs is ordered by time */
	for (size_t i = 0; i < sb->n_recs; i++)
		sb->recs[i].hdr = (struct perf_event_header *)(sb->buf + sb->recs[i].seq);
	if (sb->n_recs > 1)
		qsort(sb->recs, sb->n_recs, sizeof(sb->recs[0]), record_cmp);
	for (size_t i = 0; i < sb->n_recs; i++)
		apply(sb, sb->recs[i].hdr);
	return err ? err : (int)sb->n_recs;
}

/* p's mappings into sb->taken, as *out. false without memory. */
static bool copy_out(struct sideband *sb, const struct sb_proc *p, struct sideband_exit *out)
{
	if (ARRAY_GROW(&sb->taken, &sb->taken_cap, p->n))
		return false;
	if (p->n)
		memcpy(sb->taken, p->vmas, p->n * sizeof(p->vmas[0]));
	out->ex = (struct symbolizer_exit){
		.vmas = sb->taken,
		.n_vmas = p->n,
		.complete = true,
		.vdso_start = p->vdso_start,
	};
	return true;
}

/* pid's process once the records waiting in the rings are applied; NULL if not followed. */
static struct sb_proc *current_proc(struct sideband *sb, __u32 pid)
{
	int err = sideband__consume(sb);

	if (err < 0)
		log_warn_ratelimited("reading perf sideband records: %s, ignoring", strerror(-err));
	return proc_find(sb, pid);
}

bool sideband__mappings(struct sideband *sb, __u32 pid, struct sideband_exit *out)
{
	/* the mappings its loader made may still wait in the rings */
	struct sb_proc *p = sb ? current_proc(sb, pid) : NULL;

	*out = (struct sideband_exit){};
	if (!p || !p->complete || p->exited || !copy_out(sb, p, out))
		return false;
	sb->stats.given++;
	return true;
}

bool sideband__take_exit(struct sideband *sb, __u32 pid, struct sideband_exit *out)
{
	/* its exit's records may have come after the last read */
	struct sb_proc *p = sb ? current_proc(sb, pid) : NULL;

	*out = (struct sideband_exit){};
	if (!sb)
		return false;
	if (!p || !p->complete) {
		sb->stats.unknown++;
		if (p)
			proc_free(sb, p);
		return false;
	}
	if (!copy_out(sb, p, out)) {
		proc_free(sb, p);
		return false;
	}
	proc_free(sb, p);
	sb->stats.taken++;
	return true;
}

void sideband__end_cycle(struct sideband *sb)
{
	struct sb_proc *p, **gone = NULL;
	size_t pos = 0, n = 0, cap = 0;

	if (!sb)
		return;
	sb->cycle++;
	while ((p = hmap__next(&sb->procs, &pos)))
		if (p->exited && sb->cycle - p->exit_cycle > EXITED_MAX_CYCLES &&
		    !ARRAY_GROW(&gone, &cap, n + 1))
			gone[n++] = p;
	for (size_t i = 0; i < n; i++)
		proc_free(sb, gone[i]);
	free(gone);
	hmap__shrink(&sb->procs);
}

static int open_ring(struct sideband *sb, struct sb_ring *r, int cpu, size_t pages)
{
	/*
	 * exclude_kernel leaves kernel mappings out of MMAP2; KSYMBOL records
	 * come whatever it says. A program's load is reported on the ring of
	 * the CPU that loaded it.
	 */
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_DUMMY,
		.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME,
		.sample_id_all = 1,
		.mmap = 1,
		.mmap2 = 1,
		.comm = 1,
		.comm_exec = 1,
		.task = 1,
		.ksymbol = sb->ksymbol != NULL,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};

	r->fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	r->data_size = pages * sb->page_size;
	r->base = mmap(NULL, r->data_size + sb->page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       r->fd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return -errno;
	}
	return 0;
}

struct sideband *sideband__new(const struct sideband_opts *opts, sideband_mmap_fn fn, void *ctx)
{
	size_t pages = opts && opts->ring_pages ? opts->ring_pages : DEFAULT_RING_PAGES;
	int n_cpus = libbpf_num_possible_cpus(), err = 0;
	struct sideband *sb;

	if (pages & (pages - 1)) {
		errno = EINVAL;
		return NULL;
	}
	sb = calloc(1, sizeof(*sb));
	if (!sb) {
		errno = ENOMEM;
		return NULL;
	}
	sb->fn = fn;
	sb->ksymbol = opts ? opts->ksymbol : NULL;
	sb->ctx = ctx;
	sb->page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (n_cpus <= 0) {
		err = n_cpus ? n_cpus : -EINVAL;
		goto cleanup;
	}
	sb->rings = calloc((size_t)n_cpus, sizeof(*sb->rings));
	if (!sb->rings) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (int cpu = 0; cpu < n_cpus; cpu++) {
		struct sb_ring *r = &sb->rings[sb->n_rings];

		err = open_ring(sb, r, cpu, pages);
		if (err == -ENODEV) {
			err = 0; /* offline CPU */
			continue;
		}
		sb->n_rings++;
		if (err)
			goto cleanup;
	}
	if (!sb->n_rings)
		err = -ENODEV;
	if (err)
		goto cleanup;
	return sb;

cleanup:
	sideband__free(sb);
	errno = -err;
	return NULL;
}

void sideband__free(struct sideband *sb)
{
	struct sb_proc *p;
	size_t pos = 0;

	if (!sb)
		return;
	for (int i = 0; i < sb->n_rings; i++) {
		if (sb->rings[i].base)
			munmap(sb->rings[i].base, sb->rings[i].data_size + sb->page_size);
		if (sb->rings[i].fd >= 0)
			close(sb->rings[i].fd);
	}
	while ((p = hmap__next(&sb->procs, &pos))) {
		free(p->vmas);
		free(p);
	}
	hmap__clear(&sb->procs);
	free(sb->rings);
	free(sb->recs);
	free(sb->buf);
	free(sb->taken);
	free(sb);
}

void sideband__stats(const struct sideband *sb, struct sideband_stats *out)
{
	*out = sb->stats;
	out->processes = hmap__len(&sb->procs);
}
