/* SPDX-License-Identifier: Apache-2.0 */
/* Requests to the API server, for the module's thread (http.c). */
#ifndef FORNAX_K8S_HTTP_H
#define FORNAX_K8S_HTTP_H

#include "curl_api.h"
#include "k8s_impl.h"

struct k8s_request {
	const char *url;
	const char *token;           /* NULL: no Authorization header */
	uint64_t headers_timeout_ns; /* connect and the answer's headers */
	uint64_t total_timeout_ns;
	size_t max_object_bytes;     /* one JSON object of the answer, at most */
	/* Each complete JSON object of a 200 answer; non-zero ends the request with it. */
	int (*on_object)(void *ctx, json_object *o);
	/* Called about once a second while the request runs (NULL: none). */
	void (*on_tick)(void *ctx);
	void *ctx;
	/* out */
	long status;
	char why[256];
};

struct k8s_http;

struct k8s_http *k8s_http__new(const char *ca_file);
void k8s_http__free(struct k8s_http *h);
/*
 * Runs one request. 0 when a 200 answer ended cleanly; otherwise r->why
 * says what happened and the return says what kind of failure it was:
 * -ECONNREFUSED (connecting, TLS), -ETIMEDOUT, -EACCES (401, 403), -ESTALE
 * (410 Gone), -EPROTO (another status), -EBADMSG (not JSON, or cut off),
 * -ECANCELED (stop was set), or what on_object returned.
 */
int k8s_http__run(struct k8s_http *h, struct k8s_request *r, _Atomic bool *stop);
/* Sleeps ns, or until stop is set and k8s_http__wakeup() called. */
int k8s_http__sleep(struct k8s_http *h, uint64_t ns, _Atomic bool *stop);
/* From any thread: a request or sleep in progress looks at stop now. */
void k8s_http__wakeup(struct k8s_http *h);

/* The service account token (one line, re-read for every request). -EACCES with *why. */
int k8s_read_token(const char *path, char **token, const char **why);

#endif /* FORNAX_K8S_HTTP_H */
