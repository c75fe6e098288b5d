// SPDX-License-Identifier: Apache-2.0
#include "http_impl.h"

#include "metrics.h"
#include "timeconst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_CONNECTIONS 16
#define DEFAULT_IDLE_TIMEOUT_S 30
/*
 * Connection threads run the metrics collectors and wait on captures;
 * neither needs the default 8 MiB of stack.
 */
#define THREAD_STACK_SIZE (1u << 20)

static const char *const handler_names[N_HANDLERS] = {
	[HANDLER_INDEX] = "/",
	[HANDLER_METRICS] = "/metrics",
	[HANDLER_HEALTHZ] = "/healthz",
	[HANDLER_READYZ] = "/readyz",
	[HANDLER_PPROF] = "/debug/pprof/profile",
	[HANDLER_OTHER] = "other",
};

uint64_t http_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void count_request(struct http_server *s, enum http_handler h, unsigned code)
{
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n_counts; i++)
		if (s->counts[i].handler == h && s->counts[i].code == code)
			break;
	if (i == s->n_counts && i < MAX_REQUEST_COUNTS)
		s->counts[s->n_counts++] = (struct request_count){ .handler = h, .code = code };
	if (i < MAX_REQUEST_COUNTS)
		s->counts[i].n++;
	else
		s->counts_overflow++;
	pthread_mutex_unlock(&s->lock);
}

enum MHD_Result http_respond(struct http_server *s, struct MHD_Connection *c,
			     enum http_handler h, unsigned code, char *body, size_t len,
			     const char *content_type, const char *const *headers)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = libmhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO; /* MHD closes the connection */
	}
	libmhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type ? content_type : "text/plain; charset=utf-8");
	libmhd.add_response_header(r, "X-Content-Type-Options", "nosniff");
	libmhd.add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		libmhd.add_response_header(r, headers[i], headers[i + 1]);
	ret = libmhd.queue_response(c, code, r);
	libmhd.destroy_response(r);
	count_request(s, h, code);
	return ret;
}

enum MHD_Result http_respond_text(struct http_server *s, struct MHD_Connection *c,
				  enum http_handler h, unsigned code, const char *const *headers,
				  const char *fmt, ...)
{
	char *body = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	/* room for the newline: vasprintf's terminator becomes it */
	body[n] = '\n';
	return http_respond(s, c, h, code, body, (size_t)n + 1, NULL, headers);
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	if (!s->opts.metrics)
		return http_respond_text(s, c, HANDLER_METRICS, MHD_HTTP_NOT_FOUND, NULL,
					 "no metrics in this agent");
	f = open_memstream(&text, &len);
	if (!f)
		return http_respond_text(s, c, HANDLER_METRICS, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 NULL, "out of memory");
	err = metrics__write(s->opts.metrics, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(text);
		return http_respond_text(s, c, HANDLER_METRICS, MHD_HTTP_INTERNAL_SERVER_ERROR,
					 NULL, "metrics: %s", strerror(-err));
	}
	return http_respond(s, c, HANDLER_METRICS, MHD_HTTP_OK, text, len,
			    METRICS_CONTENT_TYPE, NULL);
}

/* Kubernetes' own format: a line per check, then the verdict. */
static enum MHD_Result serve_checks(struct http_server *s, struct MHD_Connection *c,
				    enum http_handler h, unsigned kind)
{
	const char *what = kind == HTTP_CHECK_LIVE ? "healthz" : "readyz";
	char *text = NULL, why[256];
	bool healthy = true;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return http_respond_text(s, c, h, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
					 "out of memory");
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct http_check *chk = &s->checks[i];

		if (!(chk->kinds & kind))
			continue;
		why[0] = '\0';
		if (chk->fn(chk->ctx, why, sizeof(why)) == 0) {
			fprintf(f, "[+]%s ok\n", chk->name);
		} else {
			healthy = false;
			why[sizeof(why) - 1] = '\0';
			fprintf(f, "[-]%s failed: %s\n", chk->name, why[0] ? why : "no reason given");
		}
	}
	if (s->stopping) {
		healthy = false;
		fputs("[-]shutdown failed: the agent is stopping\n", f);
	}
	pthread_mutex_unlock(&s->lock);
	fprintf(f, "%s check %s\n", what, healthy ? "passed" : "failed");
	if (fclose(f)) {
		free(text);
		return http_respond_text(s, c, h, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
					 "out of memory");
	}
	return http_respond(s, c, h, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text,
			    len, NULL, NULL);
}

static enum http_handler route(const char *url)
{
	static const struct {
		const char *path;
		enum http_handler h;
	} routes[] = {
		{ "/", HANDLER_INDEX },
		{ "/metrics", HANDLER_METRICS },
		{ "/healthz", HANDLER_HEALTHZ },
		{ "/readyz", HANDLER_READYZ },
		{ "/debug/pprof/profile", HANDLER_PPROF },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			return routes[i].h;
	return HANDLER_OTHER;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	static const char *const allow_get_head[] = { MHD_HTTP_HEADER_ALLOW, "GET, HEAD", NULL };
	static int first_call;
	struct http_server *s = cls;
	enum http_handler h = route(url);

	(void)version;
	(void)upload_data;
	/* The first call only announces the request; answer on the second. */
	if (!*req_cls) {
		*req_cls = &first_call;
		return MHD_YES;
	}
	*upload_data_size = 0; /* a body, if any, is not read */
	if (h == HANDLER_PPROF)
		return http_serve_pprof(s, c, method);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return http_respond_text(s, c, h, MHD_HTTP_METHOD_NOT_ALLOWED, allow_get_head,
					 "only GET and HEAD are served");
	switch (h) {
	case HANDLER_METRICS:
		return serve_metrics(s, c);
	case HANDLER_HEALTHZ:
		return serve_checks(s, c, h, HTTP_CHECK_LIVE);
	case HANDLER_READYZ:
		return serve_checks(s, c, h, HTTP_CHECK_READY);
	case HANDLER_INDEX:
		return http_respond_text(s, c, h, MHD_HTTP_OK, NULL,
			"fornax\n\n"
			"/metrics               Prometheus metrics\n"
			"/healthz               liveness\n"
			"/readyz                readiness\n"
			"/debug/pprof/profile   ?seconds=N[&hz=F][&pid=P]: a CPU profile of this node "
			"(go tool pprof http://HOST:PORT/debug/pprof/profile)");
	default:
		return http_respond_text(s, c, HANDLER_OTHER, MHD_HTTP_NOT_FOUND, NULL,
					 "not found: %s (see /)", url);
	}
}

static const char *const request_labels[] = { "handler", "code", NULL };
static const struct metric_desc http_descs[] = {
	{ "fornax_http_requests_total", "HTTP requests answered, by handler and status code.",
	  METRIC_COUNTER, request_labels },
	{ "fornax_http_capture_in_progress",
	  "1 while an on-demand capture (/debug/pprof/profile) runs.", METRIC_GAUGE, NULL },
};

static void collect_http(struct metrics_emitter *e, void *ctx)
{
	struct http_server *s = ctx;
	char code[16];

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_counts; i++) {
		snprintf(code, sizeof(code), "%u", s->counts[i].code);
		metrics_emit_u64(e, &http_descs[0],
				 (const char *[]){ handler_names[s->counts[i].handler], code },
				 s->counts[i].n);
	}
	if (s->counts_overflow)
		metrics_emit_u64(e, &http_descs[0], (const char *[]){ "other", "other" },
				 s->counts_overflow);
	metrics_emit(e, &http_descs[1], NULL, s->capturing ? 1 : 0);
	pthread_mutex_unlock(&s->lock);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];
	size_t n;

	if (!s->opts.log)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	s->opts.log(s->opts.log_ctx, msg);
}

static void apply_defaults(struct http_server_opts *o)
{
	if (!o->max_seconds)
		o->max_seconds = 60;
	if (!o->default_seconds)
		o->default_seconds = o->max_seconds < 30 ? o->max_seconds : 30;
	if (!o->max_hz)
		o->max_hz = 1000;
	if (!o->default_hz)
		o->default_hz = o->max_hz < 100 ? o->max_hz : 100;
	if (!o->max_connections)
		o->max_connections = DEFAULT_MAX_CONNECTIONS;
	if (!o->idle_timeout_s)
		o->idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
}

static int start_daemon(struct http_server *s, int fd)
{
	sigset_t all, old;
	int err = 0, listen_fd;

	/*
	 * MHD owns the socket it is given, and its documentation does not say
	 * whether a failed start closes it: give it a copy and always close ours,
	 * so a failure can leak one descriptor but never close another's.
	 */
	listen_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (listen_fd < 0)
		return -errno;

	/* The threads MHD starts inherit this mask: every signal stays with the agent's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	s->daemon = libmhd.start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, handle, s,
		/* first, or libmicrohttpd says so on its own logger */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->opts.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.idle_timeout_s,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK_SIZE,
		MHD_OPTION_END);
	if (!s->daemon)
		err = errno ? -errno : -EIO;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

struct http_server *http_server__new(const struct http_server_opts *opts, const char **why)
{
	struct sockaddr_storage addr;
	struct http_server *s;
	const char *ignored;
	socklen_t len;
	int fd = -1, err;

	if (!why)
		why = &ignored;
	s = calloc(1, sizeof(*s));
	if (!s) {
		*why = "out of memory";
		return NULL;
	}
	s->opts = *opts;
	s->metrics_id = -1;
	pthread_mutex_init(&s->lock, NULL);
	apply_defaults(&s->opts);
	if (s->opts.default_seconds > s->opts.max_seconds || s->opts.default_hz > s->opts.max_hz) {
		*why = "the default capture is beyond the limits";
		err = -EINVAL;
		goto cleanup;
	}
	err = mhd_api__load(why);
	if (err)
		goto cleanup;
	err = http_address__parse(opts->address, &addr, &len, why);
	if (err)
		goto cleanup;
	fd = http_listen(&addr, len, &s->port);
	if (fd < 0) {
		err = fd;
		*why = strerror(-err);
		goto cleanup;
	}
	if (s->opts.metrics) {
		s->metrics_id = metrics__add_collector(s->opts.metrics, http_descs,
						       sizeof(http_descs) / sizeof(http_descs[0]),
						       collect_http, s, why);
		if (s->metrics_id < 0) {
			err = s->metrics_id;
			goto cleanup;
		}
	}
	err = start_daemon(s, fd);
	close(fd);
	fd = -1;
	if (err) {
		*why = "libmicrohttpd did not start";
		goto cleanup;
	}
	return s;
cleanup:
	if (fd >= 0)
		close(fd);
	http_server__free(s);
	errno = -err;
	return NULL;
}

void http_server__free(struct http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_mutex_unlock(&s->lock);
	/* a capture in progress holds its connection's thread, which the stop below joins */
	if (s->opts.capture_cancel)
		s->opts.capture_cancel(s->opts.capture_ctx);
	if (s->daemon)
		libmhd.stop_daemon(s->daemon);
	if (s->metrics_id >= 0)
		metrics__remove_collector(s->opts.metrics, s->metrics_id);
	for (size_t i = 0; i < s->n_checks; i++)
		free(s->checks[i].name);
	free(s->checks);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int http_server__port(const struct http_server *s)
{
	return s->port;
}

int http_server__add_check(struct http_server *s, unsigned kinds, const char *name,
			   http_check_fn fn, void *ctx)
{
	struct http_check *checks;
	char *copy;

	if (!kinds || (kinds & ~(unsigned)(HTTP_CHECK_LIVE | HTTP_CHECK_READY)) || !name ||
	    !*name || !fn)
		return -EINVAL;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	checks = realloc(s->checks, (s->n_checks + 1) * sizeof(*checks));
	if (!checks) {
		pthread_mutex_unlock(&s->lock);
		free(copy);
		return -ENOMEM;
	}
	s->checks = checks;
	s->checks[s->n_checks++] = (struct http_check){
		.kinds = kinds, .name = copy, .fn = fn, .ctx = ctx,
	};
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void http_heartbeat__init(struct http_heartbeat *hb, uint64_t max_age_ns)
{
	hb->max_age_ns = max_age_ns;
	atomic_store_explicit(&hb->last_ns, http_now_ns(), memory_order_relaxed);
}

void http_heartbeat__beat(struct http_heartbeat *hb)
{
	atomic_store_explicit(&hb->last_ns, http_now_ns(), memory_order_relaxed);
}

int http_heartbeat__check(void *ctx, char *why, size_t why_size)
{
	struct http_heartbeat *hb = ctx;
	uint64_t last = atomic_load_explicit(&hb->last_ns, memory_order_relaxed);
	uint64_t now = http_now_ns(), age = now > last ? now - last : 0;

	if (age <= hb->max_age_ns)
		return 0;
	snprintf(why, why_size, "last turn %.1f s ago (limit %.1f s)", (double)age / 1e9,
		 (double)hb->max_age_ns / 1e9);
	return 1;
}
