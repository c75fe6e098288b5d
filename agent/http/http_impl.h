/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the HTTP server: what its files share. */
#ifndef FORNAX_HTTP_IMPL_H
#define FORNAX_HTTP_IMPL_H

#include "http_server.h"

#include "mhd_api.h"
#include <pthread.h>
#include <stdbool.h>

enum http_handler {
	HANDLER_INDEX,
	HANDLER_METRICS,
	HANDLER_HEALTHZ,
	HANDLER_READYZ,
	HANDLER_PPROF,
	HANDLER_OTHER,
	N_HANDLERS,
};

struct http_check {
	unsigned kinds;
	char *name;
	http_check_fn fn;
	void *ctx;
};

/* Requests answered, per (handler, status): a handful of pairs, so a small array. */
#define MAX_REQUEST_COUNTS 64

struct request_count {
	enum http_handler handler;
	unsigned code;
	uint64_t n;
};

struct http_server {
	struct http_server_opts opts;
	struct MHD_Daemon *daemon;
	int port;
	int metrics_id; /* our collector in opts.metrics, or -1 */

	pthread_mutex_t lock; /* checks, counts, the capture state below */
	struct http_check *checks;
	size_t n_checks;
	struct request_count counts[MAX_REQUEST_COUNTS];
	size_t n_counts;
	uint64_t counts_overflow;
	bool capturing;
	bool stopping;
	uint64_t capture_end_ns; /* CLOCK_MONOTONIC, while capturing */
};

/* The listening socket for addr (bound, listening, non-blocking, close-on-exec). */
int http_listen(const struct sockaddr_storage *addr, socklen_t len, int *port);

/*
 * Queues a response holding body (malloc()ed; taken over, also on failure)
 * and counts it. content_type NULL: text/plain. headers: NULL, or name,
 * value, ..., NULL.
 */
enum MHD_Result http_respond(struct http_server *s, struct MHD_Connection *c,
			     enum http_handler h, unsigned code, char *body, size_t len,
			     const char *content_type, const char *const *headers);
/* A text answer: printf-style, with a newline added. */
enum MHD_Result http_respond_text(struct http_server *s, struct MHD_Connection *c,
				  enum http_handler h, unsigned code, const char *const *headers,
				  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

enum MHD_Result http_serve_pprof(struct http_server *s, struct MHD_Connection *c,
				 const char *method);

uint64_t http_now_ns(void);

#endif /* FORNAX_HTTP_IMPL_H */
