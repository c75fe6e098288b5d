// SPDX-License-Identifier: Apache-2.0
/*
 * /debug/pprof/profile: the request side of an on-demand capture. The URL
 * and answers are those of Go's net/http/pprof, so `go tool pprof URL` and
 * `curl URL > cpu.pb.gz` work unchanged; unlike Go's handler, a malformed or
 * out-of-range parameter is a 400 that says why, not a silent default.
 */
#include "http_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct capture_args {
	struct http_capture_request req;
	bool seen_seconds, seen_hz, seen_pid;
	char error[192];
};

static int parse_uint(const char *value, unsigned long max, unsigned long *out)
{
	char *end;

	if (!value || *value < '0' || *value > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(value, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

static enum MHD_Result parse_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct capture_args *a = cls;
	unsigned long v;
	bool *seen;

	(void)kind;
	if (strcmp(key, "seconds") == 0)
		seen = &a->seen_seconds;
	else if (strcmp(key, "hz") == 0)
		seen = &a->seen_hz;
	else if (strcmp(key, "pid") == 0)
		seen = &a->seen_pid;
	else {
		snprintf(a->error, sizeof(a->error),
			 "unknown parameter '%.64s' (seconds, hz and pid are known)", key);
		return MHD_NO;
	}
	if (*seen) {
		snprintf(a->error, sizeof(a->error), "%s is given twice", key);
		return MHD_NO;
	}
	*seen = true;
	if (parse_uint(value, INT_MAX, &v) || v == 0) {
		snprintf(a->error, sizeof(a->error), "%s='%.32s' is not a positive whole number", key,
			 value ? value : "");
		return MHD_NO;
	}
	if (seen == &a->seen_seconds)
		a->req.seconds = (unsigned)v;
	else if (seen == &a->seen_hz)
		a->req.hz = (unsigned)v;
	else
		a->req.pid = (int)v;
	return MHD_YES;
}

static unsigned status_of(int err)
{
	switch (err) {
	case -EINVAL:
		return MHD_HTTP_BAD_REQUEST;
	case -ESRCH:
		return MHD_HTTP_NOT_FOUND;
	case -ECANCELED:
	case -EAGAIN:
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* Takes the single capture slot; on failure says how long the running one has left. */
static int claim(struct http_server *s, unsigned seconds, unsigned *retry_after)
{
	int err = 0;

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		err = -ECANCELED;
	} else if (s->capturing) {
		uint64_t now = http_now_ns();
		uint64_t left = s->capture_end_ns > now ? s->capture_end_ns - now : 0;

		*retry_after = (unsigned)(left / 1000000000ULL) + 1;
		err = -EBUSY;
	} else {
		s->capturing = true;
		s->capture_end_ns = http_now_ns() + (uint64_t)seconds * 1000000000ULL;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

static void release(struct http_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->capturing = false;
	pthread_mutex_unlock(&s->lock);
}

static enum MHD_Result run_capture(struct http_server *s, struct MHD_Connection *c,
				   const struct http_capture_request *req)
{
	static const char *const attachment[] = {
		"Content-Disposition", "attachment; filename=\"profile\"", NULL,
	};
	struct http_capture_result out = { 0 };
	char retry[16];
	unsigned retry_after = 1;
	int err;

	err = claim(s, req->seconds, &retry_after);
	if (err == -EBUSY) {
		snprintf(retry, sizeof(retry), "%u", retry_after);
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_TOO_MANY_REQUESTS,
					 (const char *[]){ MHD_HTTP_HEADER_RETRY_AFTER, retry, NULL },
					 "a capture is already running; try again in %u s",
					 retry_after);
	}
	if (err)
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
					 "the agent is stopping");
	err = s->opts.capture(s->opts.capture_ctx, req, &out);
	release(s);
	if (err == 0 && out.data)
		return http_respond(s, c, HANDLER_PPROF, MHD_HTTP_OK, out.data, out.size,
				    "application/octet-stream", attachment);
	free(out.data);
	out.error[sizeof(out.error) - 1] = '\0';
	if (!err)
		err = -EIO; /* "success" without a profile */
	return http_respond_text(s, c, HANDLER_PPROF, status_of(err), NULL, "capture failed: %s",
				 out.error[0] ? out.error : strerror(-err));
}

enum MHD_Result http_serve_pprof(struct http_server *s, struct MHD_Connection *c,
				 const char *method)
{
	static const char *const allow_get[] = { MHD_HTTP_HEADER_ALLOW, "GET", NULL };
	struct capture_args a = { .req = { 0 } };

	/* HEAD would start a capture and throw it away */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_METHOD_NOT_ALLOWED, allow_get,
					 "a capture is started with GET");
	libmhd.get_connection_values(c, MHD_GET_ARGUMENT_KIND, parse_arg, &a);
	if (a.error[0])
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_BAD_REQUEST, NULL, "%s",
					 a.error);
	if (!a.seen_seconds)
		a.req.seconds = s->opts.default_seconds;
	if (!a.seen_hz)
		a.req.hz = s->opts.default_hz;
	if (a.req.seconds > s->opts.max_seconds)
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_BAD_REQUEST, NULL,
					 "seconds=%u is more than this agent allows (%u)",
					 a.req.seconds, s->opts.max_seconds);
	if (a.req.hz > s->opts.max_hz)
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_BAD_REQUEST, NULL,
					 "hz=%u is more than this agent allows (%u)", a.req.hz,
					 s->opts.max_hz);
	if (!s->opts.capture)
		return http_respond_text(s, c, HANDLER_PPROF, MHD_HTTP_NOT_IMPLEMENTED, NULL,
					 "on-demand captures are not available in this agent");
	return run_capture(s, c, &a.req);
}
