/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One remote profile store: its URL, credentials and TLS settings, the one
 * libcurl easy handle reused for every request to it, and the store's own
 * encoder (store_parca.c: gRPC WriteRaw; store_pyroscope.c: Connect Push).
 *
 * The upload thread (upload.c) owns a store: store__prepare() encodes a
 * window and arms the handle, the thread runs the transfer on its curl multi
 * handle, and store__finish() classifies the outcome. The URL and the
 * other flags are checked by store_config.h.
 */
#ifndef FORNAX_STORE_H
#define FORNAX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <curl/curl.h>

#include "store_config.h"
#include "upload.pb-c.h"

/* How a finished request went. */
enum store_result {
	STORE_OK,
	/* Try again later: store down or overloaded, timeout, or an answer that makes no sense. */
	STORE_RETRY,
	/* The store refused this window (HTTP 400, INVALID_ARGUMENT, other 4xx): drop it. */
	STORE_REJECTED,
	/* The store refused our credentials (401/403, UNAUTHENTICATED/PERMISSION_DENIED): drop. */
	STORE_AUTH,
};

struct store_opts {
	const char *url;               /* required */
	const char *tenant;            /* NULL: none */
	const char *bearer_token_file; /* NULL: none; re-read when the file changes */
	const char *ca_file;           /* NULL: the system's CAs */
	bool insecure_skip_verify;
	__u64 timeout_ns;              /* whole request; required */
	__u64 connect_timeout_ns;      /* required */
	const char *user_agent;        /* NULL: "fornax" */
};

struct store;

/* NULL with errno set; the reason is logged. */
struct store *store__new(const struct store_opts *opts);
void store__free(struct store *s);

enum store_kind store__kind(const struct store *s);
/* "Parca" or "Pyroscope", and "http[s]://host:port[/prefix]", for messages. */
const char *store__name(const struct store *s);
const char *store__base_url(const struct store *s);

/*
 * Encodes window w into this store's request and arms the easy handle for
 * it. Returns the handle to add to a multi handle, or NULL with errno set.
 */
CURL *store__prepare(struct store *s, const Fornax__Upload__V1__Window *w);

/*
 * Classifies a finished transfer (code from CURLMSG_DONE). why receives a
 * one-line reason, with the server's own message when it sent one.
 * *body_bytes is the request size that went out.
 */
enum store_result store__finish(struct store *s, CURLcode code, char *why, size_t why_len,
				size_t *body_bytes);

#endif /* FORNAX_STORE_H */
