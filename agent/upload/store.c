// SPDX-License-Identifier: Apache-2.0
/*
 * What both stores share: the reused libcurl handle (timeouts, keep-alive,
 * TLS), credentials, and capture of the answer (status, headers and gRPC
 * trailers, a bounded body). URL and flag checks are store_config.c.
 */
#include "store_impl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curl_api.h"
#include "log.h"
#include "timeconst.h"

/* TCP keep-alive probes on the reused connection: a dead peer is noticed between windows. */
#define KEEPALIVE_IDLE_S 30
#define KEEPALIVE_INTERVAL_S 15

int store__append_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = libcurl.slist_append(*list, line);

	if (!grown)
		return -ENOMEM;
	*list = grown;
	return 0;
}

enum store_result store__classify_http(long status)
{
	if (status == 401 || status == 403)
		return STORE_AUTH;
	if (status == 404 || status == 405 || status == 415)
		return STORE_RETRY;
	if (status == 408 || status == 429 || status >= 500)
		return STORE_RETRY;
	if (status >= 400)
		return STORE_REJECTED;
	return STORE_RETRY;
}

void store__describe(char *why, size_t why_len, const char *prefix, const char *text,
		     size_t text_len)
{
	size_t n;

	if (!why_len)
		return;
	n = snprintf(why, why_len, "%s%s", prefix, text_len ? ": " : "");
	if (n >= why_len)
		return;
	for (size_t i = 0; i < text_len && n + 1 < why_len; i++) {
		unsigned char c = text[i];

		if (c == '\n' || c == '\r')
			break;
		why[n++] = (c < 0x20 || c == 0x7f) ? '?' : c;
	}
	why[n] = '\0';
}

void store__series_uuid(const ProtobufCBinaryData *window_id, size_t index, char out[37])
{
	unsigned char b[16] = { 0 };

	memcpy(b, window_id->data, window_id->len < 16 ? window_id->len : 16);
	/* Distinct per series, and the same on every attempt of the window. */
	b[12] ^= index >> 24;
	b[13] ^= index >> 16;
	b[14] ^= index >> 8;
	b[15] ^= index;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

/* Copies "value" of a "Name: value\r\n" line into dst when name matches. */
static bool header_value(const char *line, size_t len, const char *name, char *dst, size_t size)
{
	size_t nlen = strlen(name), v, end;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return false;
	v = nlen + 1;
	while (v < len && (line[v] == ' ' || line[v] == '\t'))
		v++;
	end = len;
	while (end > v && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' '))
		end--;
	if (end - v >= size)
		end = v + size - 1;
	memcpy(dst, line + v, end - v);
	dst[end - v] = '\0';
	return true;
}

/*
 * Sees every header line, and after the blank line the HTTP/2 trailers,
 * where gRPC puts grpc-status. The last value wins, so a trailer overrides
 * a header of the same name.
 */
static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
	struct store_response *r = ctx;
	size_t len = size * n;

	if (header_value(line, len, "grpc-status", r->grpc_status, sizeof(r->grpc_status)))
		r->has_grpc_status = true;
	else if (!header_value(line, len, "grpc-message", r->grpc_message, sizeof(r->grpc_message)))
		header_value(line, len, "content-type", r->content_type, sizeof(r->content_type));
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct store_response *r = ctx;
	size_t len = size * n, keep = 0;

	if (r->body && r->body_len < STORE_MAX_RESPONSE) {
		keep = STORE_MAX_RESPONSE - r->body_len;
		if (keep > len)
			keep = len;
		memcpy(r->body + r->body_len, data, keep);
		r->body_len += keep;
	}
	r->body_total += len;
	return len;
}

/* -vv: libcurl's account of each exchange, without bodies and without the token. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
	static const char redacted[] = "authorization:";
	const char *what;
	size_t start = 0;

	(void)h;
	(void)ctx;
	if (type == CURLINFO_TEXT)
		what = "*";
	else if (type == CURLINFO_HEADER_OUT)
		what = ">";
	else if (type == CURLINFO_HEADER_IN)
		what = "<";
	else
		return 0;
	/* Outgoing headers arrive as one block; log them line by line. */
	while (start < size) {
		size_t end = start;

		size_t next;

		while (end < size && data[end] != '\n')
			end++;
		next = end + 1;
		while (end > start && data[end - 1] == '\r')
			end--;
		if (end - start >= sizeof(redacted) - 1 &&
		    strncasecmp(data + start, redacted, sizeof(redacted) - 1) == 0)
			log_msg(LOG_TRACE, "curl %s Authorization: (redacted)", what);
		else if (end > start)
			log_msg(LOG_TRACE, "curl %s %.*s", what, (int)(end - start), data + start);
		start = next;
	}
	return 0;
}

#define SETOPT(h, opt, val)                                           \
	do {                                                          \
		CURLcode _c = libcurl.easy_setopt((h), (opt), (val));    \
		if (_c != CURLE_OK) {                                 \
			log_error("store: setting %s: %s", #opt,      \
				  libcurl.easy_strerror(_c));            \
			err = _c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL; \
			goto cleanup;                                 \
		}                                                     \
	} while (0)

static int setup_handle(struct store *s, const struct store_opts *opts)
{
	long connect_ms = opts->connect_timeout_ns / NSEC_PER_MSEC;
	long total_ms = opts->timeout_ns / NSEC_PER_MSEC;
	CURL *h = s->curl;
	int err = 0;

	SETOPT(h, CURLOPT_URL, s->endpoint);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_ERRORBUFFER, s->errbuf);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 0 ? connect_ms : 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, total_ms > 0 ? total_ms : 1L);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_TCP_KEEPIDLE, (long)KEEPALIVE_IDLE_S);
	SETOPT(h, CURLOPT_TCP_KEEPINTVL, (long)KEEPALIVE_INTERVAL_S);
	SETOPT(h, CURLOPT_HTTP_VERSION,
	       s->url.tls ? s->ops->http_version_tls : s->ops->http_version_plain);
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_USERAGENT, s->user_agent);
	SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, CURLOPT_HEADERDATA, &s->resp);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(h, CURLOPT_WRITEDATA, &s->resp);
	/* Only the URL's own scheme, and no redirects: a POST body must not wander off. */
	SETOPT(h, CURLOPT_PROTOCOLS_STR, s->url.tls ? "https" : "http");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (log_enabled(LOG_TRACE)) {
		SETOPT(h, CURLOPT_DEBUGFUNCTION, on_debug);
		SETOPT(h, CURLOPT_VERBOSE, 1L);
	}
	/*
	 * libcurl before 8.0 cannot reuse an HTTP/2 prior-knowledge (h2c)
	 * connection: the second request on it fails with CURLE_HTTP2, and
	 * so does every later one (curl issue 10634). Such a connection is
	 * used for one request only.
	 */
	if (!s->url.tls && s->ops->http_version_plain == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE &&
	    libcurl.version_info(CURLVERSION_NOW)->version_num < 0x080000) {
		SETOPT(h, CURLOPT_FORBID_REUSE, 1L);
		s->no_reuse = true;
	}
	if (s->url.tls) {
		if (opts->ca_file)
			SETOPT(h, CURLOPT_CAINFO, opts->ca_file);
		if (opts->insecure_skip_verify) {
			SETOPT(h, CURLOPT_SSL_VERIFYPEER, 0L);
			SETOPT(h, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}
cleanup:
	return err;
}

struct store *store__new(const struct store_opts *opts)
{
	struct store *s;
	const char *why = "";
	int err;

	if (!opts || !opts->url || !opts->timeout_ns || !opts->connect_timeout_ns) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	err = store__parse_url(opts->url, &s->url, &why);
	if (err) {
		if (err == -EINVAL)
			log_error("store: %s %s", opts->url, why);
		goto fail;
	}
	s->ops = s->url.kind == STORE_PARCA ? &store_parca_ops : &store_pyroscope_ops;
	s->timeout_ns = opts->timeout_ns;
	err = -ENOMEM;
	if (asprintf(&s->endpoint, "%s%s", s->url.base, s->ops->path) < 0) {
		s->endpoint = NULL;
		goto fail;
	}
	s->user_agent = strdup(opts->user_agent ? opts->user_agent : "fornax");
	s->resp.body = malloc(STORE_MAX_RESPONSE);
	if (!s->user_agent || !s->resp.body)
		goto fail;
	if (opts->tenant && !(s->tenant = strdup(opts->tenant)))
		goto fail;
	if (opts->bearer_token_file) {
		s->token_file = strdup(opts->bearer_token_file);
		if (!s->token_file)
			goto fail;
		err = store__read_token(s->token_file, &s->token, &why);
		if (err) {
			log_error("store: reading %s: %s", s->token_file,
				  err == -EINVAL ? why : strerror(-err));
			goto fail;
		}
		if (stat(s->token_file, &s->token_stat) < 0)
			memset(&s->token_stat, 0, sizeof(s->token_stat));
	}
	s->curl = libcurl.easy_init();
	if (!s->curl) {
		log_error("store: cannot create a curl handle");
		err = -ENOMEM;
		goto fail;
	}
	err = setup_handle(s, opts);
	if (err)
		goto fail;
	if (s->url.tls && opts->insecure_skip_verify)
		log_warn("store: TLS certificate verification is OFF (--insecure-skip-verify): anyone "
			 "on the path to %s can read and change what is sent", s->url.base);
	if (!s->url.tls && (opts->insecure_skip_verify || opts->ca_file))
		log_warn("store: %s is not TLS; --ca-file and --insecure-skip-verify do nothing",
			 s->url.base);
	if (s->no_reuse)
		log_debug("store: libcurl %s cannot reuse h2c connections: one connection per request",
			  libcurl.version_info(CURLVERSION_NOW)->version);
	if (!s->url.tls && s->token)
		log_warn("store: the bearer token goes to %s in clear text", s->url.base);
	return s;
fail:
	store__free(s);
	errno = -err;
	return NULL;
}

void store__free(struct store *s)
{
	if (!s)
		return;
	if (s->curl)
		libcurl.easy_cleanup(s->curl);
	libcurl.slist_free_all(s->headers);
	free(s->url.base);
	free(s->endpoint);
	free(s->tenant);
	free(s->token_file);
	if (s->token)
		explicit_bzero(s->token, strlen(s->token));
	free(s->token);
	free(s->user_agent);
	free(s->body);
	free(s->resp.body);
	free(s);
}

enum store_kind store__kind(const struct store *s)
{
	return s->url.kind;
}

const char *store__name(const struct store *s)
{
	return s->ops->name;
}

const char *store__base_url(const struct store *s)
{
	return s->url.base;
}

/* Tokens are rotated in place (Kubernetes projected tokens): re-read when the file changes. */
static void reload_token(struct store *s)
{
	static struct log_ratelimit rl;
	const char *why = "";
	struct stat st;
	char *token;
	int err;

	if (!s->token_file || stat(s->token_file, &st) < 0)
		return;
	if (st.st_ino == s->token_stat.st_ino && st.st_dev == s->token_stat.st_dev &&
	    st.st_size == s->token_stat.st_size &&
	    st.st_mtim.tv_sec == s->token_stat.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->token_stat.st_mtim.tv_nsec)
		return;
	err = store__read_token(s->token_file, &token, &why);
	if (err) {
		log_ratelimited(&rl, LOG_WARN, "store: re-reading %s: %s; keeping the previous token",
				s->token_file, err == -EINVAL ? why : strerror(-err));
		return;
	}
	explicit_bzero(s->token, strlen(s->token));
	free(s->token);
	s->token = token;
	s->token_stat = st;
	log_info("store: %s changed, using the new token", s->token_file);
}

static int build_headers(struct store *s, struct curl_slist **list)
{
	char *line = NULL;
	int err;

	/* libcurl would add "Expect: 100-continue" to large HTTP/1.1 POSTs and wait for it. */
	err = store__append_header(list, "Expect:");
	if (!err)
		err = s->ops->add_headers(s, list);
	if (!err && s->token) {
		if (asprintf(&line, "Authorization: Bearer %s", s->token) < 0)
			return -ENOMEM;
		err = store__append_header(list, line);
		explicit_bzero(line, strlen(line));
		free(line);
	}
	return err;
}

CURL *store__prepare(struct store *s, const Fornax__Upload__V1__Window *w)
{
	struct curl_slist *headers = NULL;
	CURLcode c;
	int err;

	reload_token(s);
	free(s->body);
	s->body = NULL;
	err = s->ops->encode(s, w, &s->body, &s->body_len);
	if (err)
		goto fail;
	err = build_headers(s, &headers);
	if (err)
		goto fail;
	libcurl.slist_free_all(s->headers);
	s->headers = headers;
	headers = NULL;
	s->errbuf[0] = '\0';
	s->resp.content_type[0] = '\0';
	s->resp.has_grpc_status = false;
	s->resp.grpc_status[0] = '\0';
	s->resp.grpc_message[0] = '\0';
	s->resp.body_len = 0;
	s->resp.body_total = 0;
	/* After a transport error the kept connection may be the problem: start a new one. */
	if ((c = libcurl.easy_setopt(s->curl, CURLOPT_FRESH_CONNECT, s->fresh_next ? 1L : 0L)) != CURLE_OK ||
	    (c = libcurl.easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers)) != CURLE_OK ||
	    (c = libcurl.easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				  (curl_off_t)s->body_len)) != CURLE_OK ||
	    (c = libcurl.easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->body)) != CURLE_OK) {
		log_error("store: arming the request: %s", libcurl.easy_strerror(c));
		err = -ENOMEM;
		goto fail;
	}
	return s->curl;
fail:
	libcurl.slist_free_all(headers);
	errno = -err;
	return NULL;
}

enum store_result store__finish(struct store *s, CURLcode code, char *why, size_t why_len,
				size_t *body_bytes)
{
	long status = 0, version = 0;
	enum store_result r;
	CURLcode c;

	*body_bytes = s->body_len;
	s->fresh_next = code != CURLE_OK;
	if (code != CURLE_OK) {
		/*
		 * Refused, reset, timed out, TLS failure, HTTP/2 stream error,
		 * garbage: none of these says the window is bad, so all retry.
		 */
		char text[CURL_ERROR_SIZE + 64];

		snprintf(text, sizeof(text), "%s%s%s", libcurl.easy_strerror(code),
			 s->errbuf[0] ? " - " : "", s->errbuf);
		store__describe(why, why_len, "curl", text, strlen(text));
		r = STORE_RETRY;
		goto out;
	}
	if ((c = libcurl.easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status)) != CURLE_OK ||
	    (c = libcurl.easy_getinfo(s->curl, CURLINFO_HTTP_VERSION, &version)) != CURLE_OK) {
		store__describe(why, why_len, "curl: reading the answer's status",
				libcurl.easy_strerror(c), strlen(libcurl.easy_strerror(c)));
		r = STORE_RETRY;
		goto out;
	}
	r = s->ops->classify(s, status, version, why, why_len);
out:
	free(s->body);
	s->body = NULL;
	s->body_len = 0;
	return r;
}
