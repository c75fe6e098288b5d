// SPDX-License-Identifier: Apache-2.0
/*
 * One request to the API server at a time, on the module's thread: libcurl's
 * multi interface, so that a watch that hangs can still be stopped, and each
 * JSON object of the answer parsed as it arrives (a list is one object, a
 * watch a stream of them), never the whole body held as text.
 */
#include "k8s_http.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Enough for any service account token (JWTs are a few KiB). */
#define MAX_TOKEN_BYTES (64u << 10)
#define MAX_ERROR_BODY 2048
#define POLL_MS 1000

/*
 * An easy handle per request (curl_api.h has no easy_reset); the multi
 * handle keeps the connection, so a watch reuses the list's.
 */
struct k8s_http {
	CURLM *multi;
	char errbuf[CURL_ERROR_SIZE];
	char *ca_file;
};

/* What one request collects while it runs. */
struct transfer {
	struct k8s_request *r;
	CURL *easy;
	json_tokener *tok;
	size_t object_bytes;
	bool headers_done;
	int err; /* a parse error or the callback's, which aborted the transfer */
	char body[MAX_ERROR_BODY + 1]; /* the start of an answer other than 200 */
	size_t body_len;
};

struct k8s_http *k8s_http__new(const char *ca_file)
{
	struct k8s_http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->multi = libcurl.multi_init();
	h->ca_file = ca_file ? strdup(ca_file) : NULL;
	if (!h->multi || (ca_file && !h->ca_file)) {
		k8s_http__free(h);
		return NULL;
	}
	return h;
}

void k8s_http__free(struct k8s_http *h)
{
	if (!h)
		return;
	if (h->multi)
		libcurl.multi_cleanup(h->multi);
	free(h->ca_file);
	free(h);
}

void k8s_http__wakeup(struct k8s_http *h)
{
	libcurl.multi_wakeup(h->multi);
}

int k8s_http__sleep(struct k8s_http *h, uint64_t ns, _Atomic bool *stop)
{
	uint64_t end = k8s_now_ns() + ns, now;

	while (!atomic_load(stop) && (now = k8s_now_ns()) < end) {
		uint64_t left_ms = (end - now) / 1000000 + 1;

		libcurl.multi_poll(h->multi, NULL, 0, (int)(left_ms < POLL_MS ? left_ms : POLL_MS),
				   NULL);
	}
	return atomic_load(stop) ? -ECANCELED : 0;
}

int k8s_read_token(const char *path, char **token, const char **why)
{
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	int fd, err;

	*token = NULL;
	/* the kubelet rotates it: a symlink into a ..data directory, re-read for every request */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*why = strerror(errno);
		return -EACCES;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -EACCES;
	}
	err = read_fd_all(fd, MAX_TOKEN_BYTES, (void **)&buf, &len);
	close(fd);
	if (err) {
		*why = err == -EFBIG ? "larger than 64 KiB" : strerror(-err);
		return err == -ENOMEM ? -ENOMEM : -EACCES;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)buf[i] <= ' ' || buf[i] == 0x7f) {
			free(buf);
			*why = "the token file holds more than one token";
			return -EACCES;
		}
	}
	if (!len) {
		free(buf);
		*why = "the token file is empty";
		return -EACCES;
	}
	*token = buf;
	return 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
	struct transfer *t = ctx;
	long code = 0;

	if (size * n == 2 && data[0] == '\r' && data[1] == '\n') {
		libcurl.easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) {
			t->r->status = code;
			t->headers_done = true;
		}
	}
	return size * n;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Feeds a 200 answer to the tokenizer; each complete object goes to the callback. */
static int feed(struct transfer *t, const char *data, size_t len)
{
	while (len) {
		enum json_tokener_error je;
		json_object *o;
		size_t used;
		int err;

		if (!t->object_bytes) {
			while (len && is_space(*data)) {
				data++;
				len--;
			}
			if (!len)
				break;
		}
		o = json_tokener_parse_ex(t->tok, data, (int)(len > 1 << 30 ? 1 << 30 : len));
		je = json_tokener_get_error(t->tok);
		if (je == json_tokener_continue) {
			t->object_bytes += len;
			if (t->object_bytes > t->r->max_object_bytes) {
				snprintf(t->r->why, sizeof(t->r->why),
					 "an object of the answer is larger than %zu bytes",
					 t->r->max_object_bytes);
				return -EBADMSG;
			}
			return 0;
		}
		if (je != json_tokener_success || !o) {
			snprintf(t->r->why, sizeof(t->r->why), "the answer is not JSON: %s",
				 json_tokener_error_desc(je));
			json_object_put(o);
			return -EBADMSG;
		}
		used = json_tokener_get_parse_end(t->tok);
		err = t->r->on_object(t->r->ctx, o);
		json_object_put(o);
		json_tokener_reset(t->tok);
		t->object_bytes = 0;
		if (err)
			return err;
		data += used;
		len -= used;
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct transfer *t = ctx;
	size_t len = size * n;

	if (t->r->status != 200) {
		size_t room = MAX_ERROR_BODY - t->body_len;

		memcpy(t->body + t->body_len, data, len < room ? len : room);
		t->body_len += len < room ? len : room;
		t->body[t->body_len] = '\0';
		return len;
	}
	t->err = feed(t, data, len);
	return t->err ? 0 : len; /* 0 aborts the transfer */
}

/* The message of a Kubernetes Status object in an error answer, else the text. */
static void status_message(struct transfer *t)
{
	json_object *o = json_tokener_parse(t->body), *msg = NULL;
	const char *text = t->body;

	if (o && json_object_object_get_ex(o, "message", &msg) &&
	    json_object_is_type(msg, json_type_string))
		text = json_object_get_string(msg);
	snprintf(t->r->why, sizeof(t->r->why), "HTTP %ld: %.200s", t->r->status, text);
	for (char *p = t->r->why; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_object_put(o);
}

#define SETOPT(opt, val)                                                   \
	do {                                                               \
		CURLcode _c = libcurl.easy_setopt(t->easy, (opt), (val));   \
		if (_c != CURLE_OK) {                                      \
			snprintf(r->why, sizeof(r->why), "libcurl: %s: %s", #opt, \
				 libcurl.easy_strerror(_c));                  \
			return _c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL; \
		}                                                          \
	} while (0)

static int setup(struct k8s_http *h, struct k8s_request *r, struct transfer *t,
		 struct curl_slist *headers)
{
	bool tls = strncmp(r->url, "https://", 8) == 0;
	uint64_t connect_ms = r->headers_timeout_ns / 1000000;

	SETOPT(CURLOPT_URL, r->url);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_ms ? connect_ms : 1));
	SETOPT(CURLOPT_PROTOCOLS_STR, tls ? "https" : "http");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_ACCEPT_ENCODING, ""); /* a large list comes gzipped */
	SETOPT(CURLOPT_USERAGENT, "fornax");
	SETOPT(CURLOPT_HTTPHEADER, headers);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, t);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, t);
	if (tls && h->ca_file && *h->ca_file)
		SETOPT(CURLOPT_CAINFO, h->ca_file);
	return 0;
}

#undef SETOPT

/* Waits for the transfer, minding the stop flag and both deadlines. */
static int wait_done(struct k8s_http *h, struct k8s_request *r, struct transfer *t,
		     _Atomic bool *stop, CURLcode *done)
{
	uint64_t start = k8s_now_ns();
	int running = 1;

	while (running) {
		uint64_t now = k8s_now_ns();
		CURLMsg *msg;
		int left;

		if (atomic_load(stop))
			return -ECANCELED;
		if (!t->headers_done && now - start > r->headers_timeout_ns) {
			snprintf(r->why, sizeof(r->why), "no answer within %.1f s",
				 (double)r->headers_timeout_ns / 1e9);
			return -ETIMEDOUT;
		}
		if (now - start > r->total_timeout_ns) {
			snprintf(r->why, sizeof(r->why), "not done within %.1f s",
				 (double)r->total_timeout_ns / 1e9);
			return -ETIMEDOUT;
		}
		if (libcurl.multi_perform(h->multi, &running) != CURLM_OK)
			return -EIO;
		while ((msg = libcurl.multi_info_read(h->multi, &left)))
			if (msg->msg == CURLMSG_DONE) {
				*done = msg->data.result;
				running = 0;
			}
		if (running)
			libcurl.multi_poll(h->multi, NULL, 0, POLL_MS, NULL);
		if (r->on_tick)
			r->on_tick(r->ctx);
	}
	return 0;
}

static int classify(struct k8s_http *h, struct k8s_request *r, struct transfer *t, CURLcode c)
{
	if (t->err) {
		if (t->err == -EBADMSG && !r->why[0])
			snprintf(r->why, sizeof(r->why), "the answer is not what was asked for");
		return t->err;
	}
	if (c != CURLE_OK) {
		snprintf(r->why, sizeof(r->why), "%.100s%s%.140s", libcurl.easy_strerror(c),
			 h->errbuf[0] ? ": " : "", h->errbuf);
		return c == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	}
	if (r->status == 200) {
		if (t->object_bytes) {
			snprintf(r->why, sizeof(r->why), "the answer ends inside a JSON object");
			return -EBADMSG;
		}
		return 0;
	}
	status_message(t);
	if (r->status == 401 || r->status == 403)
		return -EACCES;
	return r->status == 410 ? -ESTALE : -EPROTO;
}

/* The headers of a request; the token's copy is wiped when the list is freed. */
static struct curl_slist *request_headers(const char *token)
{
	struct curl_slist *headers = libcurl.slist_append(NULL, "Accept: application/json");
	struct curl_slist *next;
	char *auth;

	if (!headers || !token)
		return headers;
	if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
		auth = NULL;
	next = auth ? libcurl.slist_append(headers, auth) : NULL;
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (!next) {
		libcurl.slist_free_all(headers);
		return NULL;
	}
	return next;
}

static void free_headers(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	libcurl.slist_free_all(headers);
}

int k8s_http__run(struct k8s_http *h, struct k8s_request *r, _Atomic bool *stop)
{
	struct transfer *t = calloc(1, sizeof(*t));
	struct curl_slist *headers = NULL;
	CURLcode done = CURLE_OK;
	int err;

	r->status = 0;
	r->why[0] = '\0';
	h->errbuf[0] = '\0';
	if (!t)
		return -ENOMEM;
	t->r = r;
	t->easy = libcurl.easy_init();
	t->tok = json_tokener_new_ex(64);
	headers = request_headers(r->token);
	if (!t->easy || !t->tok || !headers) {
		err = -ENOMEM;
		goto cleanup;
	}
	json_tokener_set_flags(t->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	err = setup(h, r, t, headers);
	if (err)
		goto cleanup;
	if (libcurl.multi_add_handle(h->multi, t->easy) != CURLM_OK) {
		err = -EIO;
		goto cleanup;
	}
	err = wait_done(h, r, t, stop, &done);
	libcurl.multi_remove_handle(h->multi, t->easy);
	if (!err)
		err = classify(h, r, t, done);
cleanup:
	if (t->easy)
		libcurl.easy_cleanup(t->easy);
	if (headers)
		free_headers(headers);
	if (t->tok)
		json_tokener_free(t->tok);
	free(t);
	return err;
}
