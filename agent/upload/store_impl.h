/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by store.c (HTTP, TLS, credentials, response capture) and the two
 * encoders, store_parca.c and store_pyroscope.c. Not for other modules.
 */
#ifndef FORNAX_STORE_IMPL_H
#define FORNAX_STORE_IMPL_H

#include <sys/stat.h>

#include "store.h"

/* What the server said, collected by the header and write callbacks. */
struct store_response {
	char content_type[128];
	bool has_grpc_status;
	char grpc_status[16];
	char grpc_message[512];  /* raw, percent-encoded */
	char *body;              /* the first STORE_MAX_RESPONSE bytes */
	size_t body_len;
	size_t body_total;       /* everything the server sent */
};

#define STORE_MAX_RESPONSE (64 * 1024)

struct store_ops {
	const char *name; /* for messages */
	const char *path; /* appended to the URL's base */
	long http_version_plain;
	long http_version_tls;
	/* Builds the request body: *body malloc'ed. 0 or -errno. */
	int (*encode)(const struct store *s, const Fornax__Upload__V1__Window *w, void **body,
		      size_t *len);
	/* Adds this protocol's request headers. 0 or -ENOMEM. */
	int (*add_headers)(const struct store *s, struct curl_slist **list);
	/* Classifies a transfer that completed at the HTTP level. */
	enum store_result (*classify)(struct store *s, long http_status, long http_version,
				      char *why, size_t why_len);
};

extern const struct store_ops store_parca_ops;
extern const struct store_ops store_pyroscope_ops;

struct store {
	const struct store_ops *ops;
	struct store_url url;
	char *endpoint;
	char *tenant;
	char *token_file;
	char *token;
	struct stat token_stat; /* of the file the token was read from */
	__u64 timeout_ns;
	char *user_agent;
	CURL *curl;
	bool no_reuse;   /* one connection per request (see setup_handle) */
	bool fresh_next; /* the last request failed in transport: reconnect */
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	void *body;
	size_t body_len;
	struct store_response resp;
};

/* Appends one header line; 0 or -ENOMEM. */
int store__append_header(struct curl_slist **list, const char *line);

/*
 * HTTP status → result for answers that carry no protocol-level status:
 * 429/5xx/408 retry, 401/403 auth, 404/405/415 retry (a wrong URL must not
 * cost windows: fixing it and restarting replays the spool), other 4xx
 * rejected, anything else retry.
 */
enum store_result store__classify_http(long http_status);

/* why = "prefix: text" with text cut at the first line break and made printable. */
void store__describe(char *why, size_t why_len, const char *prefix, const char *text,
		     size_t text_len);

/* 16-byte window id + series index → RFC 4122 version-4 UUID text (37 bytes with NUL). */
void store__series_uuid(const ProtobufCBinaryData *window_id, size_t index, char out[37]);

#endif /* FORNAX_STORE_IMPL_H */
