/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's HTTP endpoint (--http-address), served by libmicrohttpd on
 * threads of its own: a listening thread and one thread per connection, at
 * most max_connections. Nothing here runs on the sampling or drain path;
 * what the endpoints show comes from callbacks into the owning modules,
 * which must answer from their own state without waiting on that path.
 *
 *   /metrics                 the metrics registry, Prometheus text format
 *   /healthz                 liveness checks: 200 when all pass, else 503
 *   /readyz                  readiness checks, the same way
 *   /debug/pprof/profile     ?seconds=N[&hz=F][&pid=P]: an on-demand CPU
 *                            profile (gzipped pprof), as `go tool pprof`
 *                            fetches it; one at a time, N and F capped
 *   /                        a short index of the above
 *
 * Only GET and HEAD are served. Every signal is blocked in the server's
 * threads, so they reach the agent's signalfd.
 */
#ifndef FORNAX_HTTP_SERVER_H
#define FORNAX_HTTP_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct metrics;

/*
 * A health check: returns 0 when healthy, else non-zero with a short
 * reason in why (NUL-terminated, at most why_size bytes). Called on a
 * server thread for every request to the endpoint; it must be quick.
 */
typedef int (*http_check_fn)(void *ctx, char *why, size_t why_size);

enum http_check_kind {
	HTTP_CHECK_LIVE = 1,  /* /healthz */
	HTTP_CHECK_READY = 2, /* /readyz */
};

/* One on-demand capture, validated against the server's limits. */
struct http_capture_request {
	unsigned seconds; /* 1..max_seconds */
	unsigned hz;      /* 1..max_hz */
	int pid;          /* 0: every process */
};

struct http_capture_result {
	void *data;       /* malloc()ed gzipped pprof; the server frees it */
	size_t size;
	char error[256];  /* on failure: one sentence for the client */
};

/*
 * Runs one capture and blocks until it is done (about req->seconds). On
 * success returns 0 with out->data set; on failure -errno and out->error:
 * -EINVAL and -ESRCH (no such process) are the client's fault (400, 404),
 * -ECANCELED (the agent is stopping) and -EAGAIN are 503, others 500.
 */
typedef int (*http_capture_fn)(void *ctx, const struct http_capture_request *req,
			       struct http_capture_result *out);

struct http_server_opts {
	/*
	 * "127.0.0.1:7071", "[::1]:7071", "localhost:7071", ":7071" (every
	 * address); port 0 picks a free one (see http_server__port()).
	 */
	const char *address;
	struct metrics *metrics;      /* /metrics; NULL: 404. Must outlive the server */
	http_capture_fn capture;      /* NULL: /debug/pprof/profile answers 501 */
	/*
	 * Called once by http_server__free(), before it waits for its threads:
	 * from then on capture must return -ECANCELED at once, for a capture
	 * in progress and for one that starts later (a request admitted just
	 * before the stop may call it after this).
	 */
	void (*capture_cancel)(void *ctx);
	void *capture_ctx;
	unsigned max_seconds;         /* 0: 60 */
	unsigned default_seconds;     /* 0: 30, as `go tool pprof` asks */
	unsigned max_hz;              /* 0: 1000 */
	unsigned default_hz;          /* 0: 100 */
	unsigned max_connections;     /* 0: 16 */
	unsigned idle_timeout_s;      /* a connection idle this long is closed; 0: 30 */
	/* libmicrohttpd's own complaints (bind failures, broken clients); NULL: dropped */
	void (*log)(void *ctx, const char *msg);
	void *log_ctx;
};

struct http_server;

/*
 * Binds, listens and starts serving. NULL with errno set: EINVAL (address
 * malformed, *why says how), EADDRINUSE, EADDRNOTAVAIL, EACCES, ENOMEM...
 */
struct http_server *http_server__new(const struct http_server_opts *opts, const char **why);
/* Stops accepting, cancels a capture in progress, waits for every connection. */
void http_server__free(struct http_server *s);
/* The bound port (useful with port 0). */
int http_server__port(const struct http_server *s);

/*
 * Adds a check to /healthz, /readyz or both (kinds OR-ed). name is shown
 * in the answer ("[+]sampling ok", "[-]drain failed: ..."). Returns 0,
 * -EINVAL or -ENOMEM. ctx must stay valid until the server is freed.
 */
int http_server__add_check(struct http_server *s, unsigned kinds, const char *name,
			   http_check_fn fn, void *ctx);

/*
 * A ready-made liveness check for a loop that should come round regularly
 * (the drain loop): the loop calls http_heartbeat__beat() each turn, an
 * atomic store of the time and nothing else; the check fails once the last
 * beat is older than max_age_ns. init counts as a beat, so a loop that
 * has not come round yet is given max_age_ns to do so.
 */
struct http_heartbeat {
	_Atomic uint64_t last_ns; /* CLOCK_MONOTONIC */
	uint64_t max_age_ns;
};

void http_heartbeat__init(struct http_heartbeat *hb, uint64_t max_age_ns);
void http_heartbeat__beat(struct http_heartbeat *hb);
int http_heartbeat__check(void *hb, char *why, size_t why_size); /* an http_check_fn */

/*
 * Parses an --http-address value into a socket address. Returns 0 or
 * -EINVAL with *why set; a host name is resolved (numeric hosts are not).
 */
int http_address__parse(const char *address, struct sockaddr_storage *addr, socklen_t *len,
			const char **why);

#endif /* FORNAX_HTTP_SERVER_H */
