// SPDX-License-Identifier: Apache-2.0
#include "proc_watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "array.h"
#include "hashmap.h"
#include "log.h"
#include "timeconst.h"

/*
 * The agent reads records as they come, so the buffer only has to absorb a
 * burst while it is busy draining: 64 KiB per CPU (about 30 exits with
 * their mappings each), at least 256 KiB. Every data page is mapped twice
 * and counts twice in the agent's RSS.
 */
#define RINGBUF_BYTES_PER_CPU (64u << 10)
#define MIN_RINGBUF_BYTES (256u << 10)
#define MAX_RINGBUF_BYTES (16u << 20)

static size_t default_ringbuf_bytes(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = MIN_RINGBUF_BYTES;

	while (want < MAX_RINGBUF_BYTES && want < (size_t)(cpus > 0 ? cpus : 1) * RINGBUF_BYTES_PER_CPU)
		want <<= 1;
	return want;
}
/* Mapping records wait this many cycles for their exit record. */
#define PARTIAL_MAX_CYCLES 2
/* Executable mappings kept per exiting process; past it the report is partial. */
#define MAX_EXIT_VMAS (1u << 16)

struct pending_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns;
};

/* EXIT_MAPS records of one process, until its EXIT record. */
struct pending {
	struct pending_key key;
	struct fornax_proc_vma *vmas;
	size_t n, cap;
	__u64 cycle;
	bool truncated; /* more than MAX_EXIT_VMAS: not the complete layout */
	TAILQ_ENTRY(pending) link; /* oldest first */
};

struct proc_watch {
	struct sampler_proc_maps maps; /* the programs live in the sampler's object */
	struct ring_buffer *rb;
	proc_event_fn fn;
	void *ctx;
	struct hmap pending; /* pending_key → pending */
	TAILQ_HEAD(, pending) pending_list;
	__u64 cycle;
	int nr_cpus;
	bool exit_maps;
	bool records_came; /* the last consume found records: more may wait unannounced */
	__u64 delivered;
	__u64 stale_partial;
	__u64 malformed;
};

static __u64 pending_hash(const struct pending_key *k)
{
	return hash_pair(k->tgid, k->start_ns);
}

static bool pending_eq(const void *val, const void *key)
{
	const struct pending_key *a = &((const struct pending *)val)->key, *b = key;

	return a->tgid == b->tgid && a->start_ns == b->start_ns;
}

static struct pending *pending_find(struct proc_watch *pw, const struct pending_key *key)
{
	return hmap__find(&pw->pending, pending_hash(key), pending_eq, key);
}

static void pending_free(struct proc_watch *pw, struct pending *p)
{
	(void)hmap__remove(&pw->pending, pending_hash(&p->key), p);
	TAILQ_REMOVE(&pw->pending_list, p, link);
	free(p->vmas);
	free(p);
}

static int add_maps(struct proc_watch *pw, const struct fornax_proc_maps_record *rec)
{
	struct pending_key key = { .tgid = rec->hdr.tgid, .start_ns = rec->hdr.process_start_ns };
	__u32 n = rec->hdr.n_maps;
	struct pending *p;

	if (n > FORNAX_PROC_MAPS_PER_RECORD) {
		pw->malformed++;
		return 0;
	}
	p = pending_find(pw, &key);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->key = key;
		if (hmap__insert(&pw->pending, pending_hash(&key), p)) {
			free(p);
			return -ENOMEM;
		}
		TAILQ_INSERT_TAIL(&pw->pending_list, p, link);
	}
	p->cycle = pw->cycle;
	if (p->n + n > MAX_EXIT_VMAS) {
		p->truncated = true;
		return 0;
	}
	if (ARRAY_GROW(&p->vmas, &p->cap, p->n + n))
		return -ENOMEM;
	memcpy(p->vmas + p->n, rec->maps, n * sizeof(*p->vmas));
	p->n += n;
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct proc_watch *pw = ctx;
	const struct fornax_proc_event *hdr = data;
	struct pending_key key;
	struct pending *p = NULL;
	struct proc_event ev;
	int err;

	if (size < sizeof(*hdr)) {
		pw->malformed++;
		return 0;
	}
	switch (hdr->kind) {
	case FORNAX_PROC_EXIT_MAPS:
		if (size < sizeof(struct fornax_proc_maps_record)) {
			pw->malformed++;
			return 0;
		}
		return add_maps(pw, data);
	case FORNAX_PROC_EXEC:
	case FORNAX_PROC_FIRST_SAMPLE:
	case FORNAX_PROC_FORK:
	case FORNAX_PROC_EXIT:
		break;
	default:
		pw->malformed++;
		return 0;
	}
	ev = (struct proc_event){
		.kind = hdr->kind,
		.pid = hdr->tgid,
		.process_start_ns = hdr->process_start_ns,
		.cgroup_id = hdr->cgroup_id,
		.parent_pid = hdr->parent_tgid,
		.parent_start_ns = hdr->parent_start_ns,
	};
	/* the kernel's bytes, terminated here whatever they hold */
	if (hdr->kind == FORNAX_PROC_EXEC) {
		memcpy(ev.exe_name, hdr->exe_name, sizeof(ev.exe_name) - 1);
		ev.exe_name_cut = hdr->flags & FORNAX_EXEC_NAME_CUT;
	}
	if (hdr->kind == FORNAX_PROC_EXIT) {
		key = (struct pending_key){ .tgid = hdr->tgid, .start_ns = hdr->process_start_ns };
		p = pending_find(pw, &key);
		ev.maps_complete = hdr->maps_walked != 0;
		ev.vdso_start = hdr->vdso_start;
		if (p) {
			ev.vmas = p->vmas;
			ev.n_vmas = p->n;
			ev.maps_complete &= !p->truncated;
		}
	}
	pw->delivered++;
	err = pw->fn ? pw->fn(&ev, pw->ctx) : 0;
	if (p)
		pending_free(pw, p);
	return err;
}

/* The ring buffer and the counters the sampler's object writes (bpf/proc_events.bpf.h). */
static int create_maps(struct proc_watch *pw, const struct proc_watch_opts *opts)
{
	size_t bytes = opts->ringbuf_bytes ? opts->ringbuf_bytes : default_ringbuf_bytes();
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "events", 0, 0, (__u32)bytes, NULL);
	if (fd < 0)
		return -errno;
	pw->maps.events = fd;
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "event_stats", sizeof(__u32),
			    sizeof(struct fornax_proc_event_stats), 1, NULL);
	if (fd < 0)
		return -errno;
	pw->maps.stats = fd;
	return 0;
}

struct proc_watch *proc_watch__new(const struct proc_watch_opts *opts, proc_event_fn fn, void *ctx)
{
	const struct proc_watch_opts empty = {};
	struct proc_watch *pw;
	int err;

	if (!opts)
		opts = &empty;
	pw = calloc(1, sizeof(*pw));
	if (!pw) {
		errno = ENOMEM;
		return NULL;
	}
	TAILQ_INIT(&pw->pending_list);
	pw->fn = fn;
	pw->ctx = ctx;
	pw->nr_cpus = libbpf_num_possible_cpus();
	if (pw->nr_cpus <= 0) {
		err = pw->nr_cpus ? pw->nr_cpus : -EINVAL;
		goto cleanup;
	}
	pw->maps.events = pw->maps.stats = -1;
	pw->exit_maps = opts->vma_iterator;
	pw->maps.exit_maps = opts->vma_iterator;
	err = create_maps(pw, opts);
	if (err) {
		log_error("creating the process-event maps: %s", strerror(-err));
		goto cleanup;
	}
	pw->rb = ring_buffer__new(pw->maps.events, on_record, pw, NULL);
	if (!pw->rb) {
		err = -errno;
		log_error("opening the process-event ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	return pw;

cleanup:
	proc_watch__free(pw);
	errno = -err;
	return NULL;
}

void proc_watch__free(struct proc_watch *pw)
{
	if (!pw)
		return;
	ring_buffer__free(pw->rb);
	if (pw->maps.events >= 0)
		close(pw->maps.events);
	if (pw->maps.stats >= 0)
		close(pw->maps.stats);
	while (!TAILQ_EMPTY(&pw->pending_list))
		pending_free(pw, TAILQ_FIRST(&pw->pending_list));
	hmap__clear(&pw->pending);
	free(pw);
}

const struct sampler_proc_maps *proc_watch__maps(const struct proc_watch *pw)
{
	return &pw->maps;
}

int proc_watch__add_ringbuf(struct proc_watch *pw, int map_fd)
{
	return ring_buffer__add(pw->rb, map_fd, on_record, pw);
}

int proc_watch__fd(const struct proc_watch *pw)
{
	return ring_buffer__epoll_fd(pw->rb);
}

int proc_watch__consume(struct proc_watch *pw)
{
	int n = ring_buffer__consume(pw->rb);

	pw->records_came = n > 0;
	return n;
}

int proc_watch__poll_timeout_ms(const struct proc_watch *pw)
{
	/* rounded up: a look sooner than the gap could miss a record that woke no one */
	if (pw && pw->records_came)
		return (int)((FORNAX_RINGBUF_WAKEUP_GAP_NS + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
	return -1;
}

void proc_watch__end_cycle(struct proc_watch *pw)
{
	struct pending *p, *next;

	if (!pw)
		return;
	for (p = TAILQ_FIRST(&pw->pending_list); p; p = next) {
		next = TAILQ_NEXT(p, link);
		if (pw->cycle - p->cycle >= PARTIAL_MAX_CYCLES) {
			pending_free(pw, p);
			pw->stale_partial++;
		}
	}
	hmap__shrink(&pw->pending);
	pw->cycle++;
}

void proc_watch__log_summary(const struct proc_watch *pw)
{
	struct proc_watch_stats ws;

	if (!pw || proc_watch__stats(pw, &ws) != 0)
		return;
	log_info("process events: %llu forks, %llu execs, %llu exits (%llu without mappings), "
		 "%llu lost (ring buffer full)",
		 (unsigned long long)ws.kernel.forks, (unsigned long long)ws.kernel.execs,
		 (unsigned long long)ws.kernel.exits, (unsigned long long)ws.kernel.exits_without_mm,
		 (unsigned long long)ws.kernel.ringbuf_full);
	if (ws.kernel.ringbuf_full)
		log_warn("%llu process events lost: the ring buffer was full",
			 (unsigned long long)ws.kernel.ringbuf_full);
}

int proc_watch__stats(const struct proc_watch *pw, struct proc_watch_stats *out)
{
	struct fornax_proc_event_stats *percpu;
	__u32 zero = 0;
	int err;

	memset(out, 0, sizeof(*out));
	out->delivered = pw->delivered;
	out->stale_partial = pw->stale_partial;
	out->exit_maps = pw->exit_maps;
	percpu = calloc(pw->nr_cpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	err = bpf_map_lookup_elem(pw->maps.stats, &zero, percpu);
	for (int cpu = 0; !err && cpu < pw->nr_cpus; cpu++) {
		const __u64 *src = (const __u64 *)&percpu[cpu];
		__u64 *dst = (__u64 *)&out->kernel;

		for (size_t f = 0; f < sizeof(out->kernel) / sizeof(__u64); f++)
			dst[f] += src[f];
	}
	free(percpu);
	return err;
}
