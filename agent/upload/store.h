/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One remote profile store: its URL, credentials and TLS settings, the one
 * libcurl easy handle reused for every request to it, and the store's own
 * encoder (store_parca.c: gRPC WriteRaw; store_pyroscope.c: Connect Push).
 *
 * The upload thread (upload.c) owns a store: store__prepare() encodes a
 * window and arms the handle, the thread runs the transfer on its curl multi
 * handle, and store__finish() classifies the outcome. Also here: the checks
 * config.c runs on store flags (URL, label names, tenant, token file), so a
 * bad value is refused at startup with exit status 2.
 */
#ifndef FORNAX_STORE_H
#define FORNAX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <curl/curl.h>

#include "upload.pb-c.h"

enum store_kind {
	STORE_PARCA,     /* grpc://, grpcs:// */
	STORE_PYROSCOPE, /* pyroscope+http://, pyroscope+https:// */
};

struct store_url {
	enum store_kind kind;
	bool tls;
	/* "http[s]://host:port[/prefix]" with no trailing slash; malloc'ed. */
	char *base;
};

/*
 * Parses --store. Returns 0, -EINVAL with *why set to a static reason, or
 * -ENOMEM. The caller frees out->base.
 */
int store__parse_url(const char *url, struct store_url *out, const char **why);

/* Prometheus label name rules, plus: "__" prefixes are reserved. 0 or -EINVAL with *why. */
int store__check_label_name(const char *name, const char **why);
/* Non-empty, at most 1024 bytes, UTF-8, no control characters. 0 or -EINVAL with *why. */
int store__check_label_value(const char *value, const char **why);
/* Cortex/Pyroscope tenant ids: 1..150 of [A-Za-z0-9!-_.*'()], not "." or "..". */
int store__check_tenant(const char *tenant, const char **why);
/*
 * Reads a bearer token: the file's content without trailing whitespace;
 * non-empty, at most 16 KiB, no control characters. 0, -errno from the file,
 * or -EINVAL with *why. *token is malloc'ed.
 */
int store__read_token(const char *path, char **token, const char **why);

/*
 * Pyroscope accepts 30 labels per series. fornax sets up to 9 (__name__,
 * service_name, hostname, pid, comm, executable, and from sample labels
 * cgroup, container_id, pod_uid); one is left for growth.
 */
#define STORE_MAX_USER_LABELS_PYROSCOPE 20

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
