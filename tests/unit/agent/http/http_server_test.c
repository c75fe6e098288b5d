// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP server against a real client (libcurl) over 127.0.0.1: routes,
 * status codes and headers, the bounds of the capture endpoint, captures
 * that do not stop /metrics or /healthz, the connection limit, the idle
 * timeout, shutdown during a capture; promtool reads the /metrics output.
 */
#include "http_server.h"
#include "metrics.h"
#include "promtool.h"
#include "test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct reply {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
	CURLcode rc;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->len += size * n;
	b[r->len] = '\0';
	r->body = b;
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	size_t len = size * n;

	if (r->hlen + len < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, p, len);
		r->hlen += len;
		r->headers[r->hlen] = '\0';
	}
	return len;
}

static struct reply request(int port, const char *method, const char *path)
{
	struct reply r = { 0 };
	char url[256];
	CURL *h = curl_easy_init();

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	r.rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(h);
	if (!r.body)
		r.body = strdup("");
	return r;
}

static struct reply get(int port, const char *path)
{
	return request(port, "GET", path);
}

static int count_fds(void)
{
	char path[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

static bool has_header(const struct reply *r, const char *line)
{
	return strcasestr(r->headers, line) != NULL;
}

/* The capture callback the agent will provide, played by the test. */
struct fake_capture {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool block;     /* wait until released or cancelled */
	bool started, released, cancelled;
	int result;
	const char *error;
	struct http_capture_request last;
	int calls;
};

static int fake_capture(void *ctx, const struct http_capture_request *req,
			struct http_capture_result *out)
{
	struct fake_capture *f = ctx;
	int ret;

	pthread_mutex_lock(&f->lock);
	f->calls++;
	f->last = *req;
	f->started = true;
	pthread_cond_broadcast(&f->cond);
	while (f->block && !f->released && !f->cancelled)
		pthread_cond_wait(&f->cond, &f->lock);
	ret = f->cancelled ? -ECANCELED : f->result;
	if (ret == 0) {
		out->data = strdup("fake-profile-bytes");
		out->size = strlen(out->data);
	} else if (f->error) {
		snprintf(out->error, sizeof(out->error), "%s", f->error);
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void fake_cancel(void *ctx)
{
	struct fake_capture *f = ctx;

	pthread_mutex_lock(&f->lock);
	f->cancelled = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void fake_wait_started(struct fake_capture *f)
{
	pthread_mutex_lock(&f->lock);
	while (!f->started)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static void fake_release(struct fake_capture *f)
{
	pthread_mutex_lock(&f->lock);
	f->released = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static const struct metric_desc test_descs[] = {
	{ "fornax_samples_total", "Samples taken.", METRIC_COUNTER, NULL },
};

static void collect_samples(struct metrics_emitter *e, void *ctx)
{
	metrics_emit_u64(e, &test_descs[0], NULL, *(uint64_t *)ctx);
}

struct toggle {
	bool fail;
	const char *why;
};

static int toggle_check(void *ctx, char *why, size_t size)
{
	struct toggle *t = ctx;

	if (!t->fail)
		return 0;
	snprintf(why, size, "%s", t->why);
	return 1;
}

struct fixture {
	struct metrics *m;
	struct http_server *s;
	struct fake_capture cap;
	uint64_t samples;
	int port;
	char log[1024];
};

static void fixture_log(void *ctx, const char *msg)
{
	struct fixture *fx = ctx;
	size_t n = strlen(fx->log);

	snprintf(fx->log + n, sizeof(fx->log) - n, "%s\n", msg);
}

static int fixture_start(struct fixture *fx, struct http_server_opts *o)
{
	const char *why = NULL;

	memset(fx, 0, sizeof(*fx));
	pthread_mutex_init(&fx->cap.lock, NULL);
	pthread_cond_init(&fx->cap.cond, NULL);
	fx->m = metrics__new();
	if (!fx->m || metrics__add_collector(fx->m, test_descs, 1, collect_samples, &fx->samples,
					     NULL) < 0)
		return -1;
	o->address = o->address ? o->address : "127.0.0.1:0";
	o->metrics = fx->m;
	o->capture_ctx = &fx->cap;
	o->log = fixture_log;
	o->log_ctx = fx;
	fx->s = http_server__new(o, &why);
	if (!fx->s) {
		fprintf(stderr, "  http_server__new: %s (%s)\n", why, strerror(errno));
		return -1;
	}
	fx->port = http_server__port(fx->s);
	return fx->port > 0 ? 0 : -1;
}

static void fixture_stop(struct fixture *fx)
{
	http_server__free(fx->s);
	metrics__free(fx->m);
}

TEST(metrics_health_and_index)
{
	struct http_server_opts o = { .capture = fake_capture };
	struct toggle live = { 0 }, ready = { .fail = true, .why = "waiting for the first window" };
	int fds_before = count_fds();
	struct fixture fx;
	struct reply r;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	ASSERT_EQ(http_server__add_check(fx.s, HTTP_CHECK_LIVE | HTTP_CHECK_READY, "sampling",
					 toggle_check, &live), 0);
	ASSERT_EQ(http_server__add_check(fx.s, HTTP_CHECK_READY, "store", toggle_check, &ready),
		  0);
	ASSERT_EQ(http_server__add_check(fx.s, 0, "x", toggle_check, &ready), -EINVAL);
	fx.samples = 12345;

	r = get(fx.port, "/metrics");
	ASSERT_EQ(r.rc, CURLE_OK);
	ASSERT_EQ(r.status, 200);
	ASSERT_TRUE(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	ASSERT_TRUE(strstr(r.body, "\nfornax_samples_total 12345\n"));
	free(r.body);

	r = get(fx.port, "/healthz");
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(r.body, "[+]sampling ok\nhealthz check passed\n");
	free(r.body);
	r = get(fx.port, "/readyz");
	ASSERT_EQ(r.status, 503);
	ASSERT_STREQ(r.body, "[+]sampling ok\n[-]store failed: waiting for the first window\n"
			     "readyz check failed\n");
	free(r.body);
	live.fail = true;
	live.why = "no drain for 31.0 s";
	r = get(fx.port, "/healthz");
	ASSERT_EQ(r.status, 503);
	ASSERT_STREQ(r.body, "[-]sampling failed: no drain for 31.0 s\nhealthz check failed\n");
	free(r.body);

	r = get(fx.port, "/");
	ASSERT_EQ(r.status, 200);
	ASSERT_TRUE(strstr(r.body, "/debug/pprof/profile"));
	free(r.body);
	r = get(fx.port, "/nope");
	ASSERT_EQ(r.status, 404);
	free(r.body);
	r = request(fx.port, "POST", "/metrics");
	ASSERT_EQ(r.status, 405);
	ASSERT_TRUE(has_header(&r, "Allow: GET, HEAD\r\n"));
	free(r.body);
	r = request(fx.port, "HEAD", "/metrics");
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.len, 0);
	free(r.body);

	/* the server counts what it answered */
	r = get(fx.port, "/metrics");
	ASSERT_TRUE(strstr(r.body, "fornax_http_requests_total{handler=\"/healthz\",code=\"503\"} 1\n"));
	ASSERT_TRUE(strstr(r.body, "fornax_http_requests_total{handler=\"other\",code=\"404\"} 1\n"));
	ASSERT_TRUE(strstr(r.body, "fornax_http_requests_total{handler=\"/metrics\",code=\"405\"} 1\n"));
	ASSERT_TRUE(strstr(r.body, "fornax_http_capture_in_progress 0\n"));
	free(r.body);
	fixture_stop(&fx);
	ASSERT_EQ(count_fds(), fds_before);
	return 0;
}

TEST(heartbeat_check)
{
	struct http_heartbeat hb;
	char why[128] = "";

	http_heartbeat__init(&hb, 200 * 1000000ULL);
	ASSERT_EQ(http_heartbeat__check(&hb, why, sizeof(why)), 0);
	usleep(300 * 1000);
	ASSERT_TRUE(http_heartbeat__check(&hb, why, sizeof(why)) != 0);
	ASSERT_TRUE(strstr(why, "limit 0.2 s"));
	http_heartbeat__beat(&hb);
	ASSERT_EQ(http_heartbeat__check(&hb, why, sizeof(why)), 0);
	return 0;
}

TEST(capture_parameters_are_bounded)
{
	static const struct {
		const char *query;
		long status;
		const char *says;
	} cases[] = {
		{ "?seconds=61", 400, "seconds=61 is more than this agent allows (60)" },
		{ "?seconds=0", 400, "not a positive whole number" },
		{ "?seconds=-1", 400, "not a positive whole number" },
		{ "?seconds=5s", 400, "not a positive whole number" },
		{ "?seconds=99999999999999999999", 400, "not a positive whole number" },
		{ "?seconds", 400, "not a positive whole number" },
		{ "?hz=1001", 400, "hz=1001 is more than this agent allows (1000)" },
		{ "?hz=0", 400, "not a positive whole number" },
		{ "?pid=abc", 400, "not a positive whole number" },
		{ "?seconds=1&seconds=2", 400, "seconds is given twice" },
		{ "?debug=1", 400, "unknown parameter 'debug'" },
	};
	struct http_server_opts o = { .capture = fake_capture };
	struct fixture fx;
	struct reply r;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), "/debug/pprof/profile%s", cases[i].query);
		r = get(fx.port, path);
		if (r.status != cases[i].status || !strstr(r.body, cases[i].says))
			TEST_FAIL("%s: %ld %s", cases[i].query, r.status, r.body);
		free(r.body);
	}
	ASSERT_EQ(fx.cap.calls, 0);

	/* what go tool pprof asks for, and the defaults */
	r = get(fx.port, "/debug/pprof/profile?seconds=5&hz=499&pid=4242");
	ASSERT_EQ(r.status, 200);
	ASSERT_STREQ(r.body, "fake-profile-bytes");
	ASSERT_TRUE(has_header(&r, "Content-Type: application/octet-stream\r\n"));
	ASSERT_TRUE(has_header(&r, "Content-Disposition: attachment; filename=\"profile\"\r\n"));
	ASSERT_EQ(fx.cap.last.seconds, 5);
	ASSERT_EQ(fx.cap.last.hz, 499);
	ASSERT_EQ(fx.cap.last.pid, 4242);
	free(r.body);
	r = get(fx.port, "/debug/pprof/profile");
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(fx.cap.last.seconds, 30);
	ASSERT_EQ(fx.cap.last.hz, 100);
	ASSERT_EQ(fx.cap.last.pid, 0);
	free(r.body);
	r = request(fx.port, "HEAD", "/debug/pprof/profile");
	ASSERT_EQ(r.status, 405);
	ASSERT_TRUE(has_header(&r, "Allow: GET\r\n"));
	free(r.body);
	ASSERT_EQ(fx.cap.calls, 2);
	fixture_stop(&fx);
	return 0;
}

TEST(capture_errors_map_to_status_codes)
{
	static const struct {
		int result;
		const char *error;
		long status;
		const char *says;
	} cases[] = {
		{ -ESRCH, "no process 4242", 404, "capture failed: no process 4242" },
		{ -EINVAL, NULL, 400, "capture failed: Invalid argument" },
		{ -EAGAIN, "the sampler is restarting", 503, "the sampler is restarting" },
		{ -EIO, NULL, 500, "Input/output error" },
	};
	struct http_server_opts o = { .capture = fake_capture };
	struct fixture fx;
	struct reply r;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx.cap.result = cases[i].result;
		fx.cap.error = cases[i].error;
		r = get(fx.port, "/debug/pprof/profile?seconds=1");
		if (r.status != cases[i].status || !strstr(r.body, cases[i].says))
			TEST_FAIL("case %zu: %ld %s", i, r.status, r.body);
		free(r.body);
	}
	fixture_stop(&fx);

	o = (struct http_server_opts){ 0 }; /* an agent without captures */
	ASSERT_EQ(fixture_start(&fx, &o), 0);
	r = get(fx.port, "/debug/pprof/profile?seconds=1");
	ASSERT_EQ(r.status, 501);
	free(r.body);
	fixture_stop(&fx);
	return 0;
}

struct background {
	pthread_t t;
	int port;
	const char *path;
	struct reply r;
};

static void *background_get(void *arg)
{
	struct background *b = arg;

	b->r = get(b->port, b->path);
	return NULL;
}

TEST(one_capture_at_a_time_and_others_keep_answering)
{
	struct http_server_opts o = { .capture = fake_capture };
	struct background b = { .path = "/debug/pprof/profile?seconds=7" };
	struct fixture fx;
	struct reply r;
	long retry;
	char *p;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	fx.cap.block = true;
	b.port = fx.port;
	ASSERT_EQ(pthread_create(&b.t, NULL, background_get, &b), 0);
	fake_wait_started(&fx.cap);

	r = get(fx.port, "/debug/pprof/profile?seconds=1");
	ASSERT_EQ(r.status, 429);
	ASSERT_TRUE(strstr(r.body, "a capture is already running"));
	p = strcasestr(r.headers, "Retry-After: ");
	ASSERT_TRUE(p);
	retry = strtol(p + 13, NULL, 10);
	ASSERT_TRUE(retry >= 1 && retry <= 8);
	free(r.body);
	/* the capture holds its own connection's thread only */
	r = get(fx.port, "/metrics");
	ASSERT_EQ(r.status, 200);
	ASSERT_TRUE(strstr(r.body, "fornax_http_capture_in_progress 1\n"));
	free(r.body);
	r = get(fx.port, "/healthz");
	ASSERT_EQ(r.status, 200);
	free(r.body);

	fake_release(&fx.cap);
	pthread_join(b.t, NULL);
	ASSERT_EQ(b.r.status, 200);
	ASSERT_STREQ(b.r.body, "fake-profile-bytes");
	free(b.r.body);
	ASSERT_EQ(fx.cap.calls, 1);
	/* the slot is free again */
	fx.cap.block = false;
	r = get(fx.port, "/debug/pprof/profile?seconds=1");
	ASSERT_EQ(r.status, 200);
	free(r.body);
	fixture_stop(&fx);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(stopping_cancels_a_capture_in_progress)
{
	struct http_server_opts o = { .capture = fake_capture, .capture_cancel = fake_cancel };
	struct background b = { .path = "/debug/pprof/profile?seconds=60" };
	struct fixture fx;
	double t0;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	fx.cap.block = true;
	b.port = fx.port;
	ASSERT_EQ(pthread_create(&b.t, NULL, background_get, &b), 0);
	fake_wait_started(&fx.cap);
	t0 = now_s();
	fixture_stop(&fx);
	ASSERT_TRUE(now_s() - t0 < 5);
	ASSERT_TRUE(fx.cap.cancelled);
	pthread_join(b.t, NULL);
	/* the client hears 503, or sees the connection close: never a hang */
	ASSERT_TRUE(b.r.status == 503 || b.r.rc != CURLE_OK);
	free(b.r.body);
	return 0;
}

static int raw_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the server closed fd within timeout_ms (EOF or reset). */
static bool closed_by_server(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return recv(fd, &c, 1, 0) <= 0;
}

TEST(connections_are_limited_and_idle_ones_closed)
{
	struct http_server_opts o = { .max_connections = 2, .idle_timeout_s = 1 };
	struct fixture fx;
	struct reply r;
	int a, b, c;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	a = raw_connect(fx.port);
	b = raw_connect(fx.port);
	ASSERT_TRUE(a >= 0 && b >= 0);
	usleep(200 * 1000); /* accepted */
	/* a third connection is accepted by the kernel and closed by the server at once */
	c = raw_connect(fx.port);
	ASSERT_TRUE(c >= 0);
	ASSERT_TRUE(closed_by_server(c, 2000));
	close(c);
	/* the idle ones go after idle_timeout_s, and the server answers again */
	ASSERT_TRUE(closed_by_server(a, 4000));
	ASSERT_TRUE(closed_by_server(b, 4000));
	close(a);
	close(b);
	/* the server's threads for those connections finish a moment after closing them */
	for (int i = 0; i < 50; i++) {
		r = get(fx.port, "/healthz");
		if (r.status == 200)
			break;
		free(r.body);
		usleep(100 * 1000);
	}
	ASSERT_EQ(r.status, 200);
	free(r.body);
	ASSERT_TRUE(fx.log[0] != '\0'); /* libmicrohttpd said why it closed the third */
	fixture_stop(&fx);
	return 0;
}

TEST(addresses)
{
	static const char *const bad[] = {
		"", "7071", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:-1",
		"127.0.0.1:7x", "[::1", "[::1]", "[::1]7071", "[]:7071", "::1:7071",
		"no-such-host.invalid:7071",
	};
	struct sockaddr_storage ss;
	struct http_server *s, *s2;
	struct http_server_opts o = { 0 };
	const char *why;
	socklen_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (http_address__parse(bad[i], &ss, &len, &why) != -EINVAL)
			TEST_FAIL("'%s' accepted", bad[i]);
		ASSERT_TRUE(why && *why);
	}
	ASSERT_EQ(http_address__parse("127.0.0.1:7071", &ss, &len, &why), 0);
	ASSERT_EQ(ss.ss_family, AF_INET);
	ASSERT_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7071);
	ASSERT_EQ(http_address__parse("[::1]:7071", &ss, &len, &why), 0);
	ASSERT_EQ(ss.ss_family, AF_INET6);
	ASSERT_EQ(http_address__parse("localhost:0", &ss, &len, &why), 0);
	ASSERT_EQ(http_address__parse(":0", &ss, &len, &why), 0);

	/* every address: reachable over 127.0.0.1 */
	o.address = ":0";
	s = http_server__new(&o, &why);
	ASSERT_TRUE(s);
	{
		struct reply r = get(http_server__port(s), "/healthz");

		ASSERT_EQ(r.status, 200);
		free(r.body);
	}
	/* the same port twice */
	{
		char addr[32];

		snprintf(addr, sizeof(addr), "127.0.0.1:%d", http_server__port(s));
		o.address = addr;
		errno = 0;
		s2 = http_server__new(&o, &why);
		ASSERT_TRUE(!s2);
		ASSERT_EQ(errno, EADDRINUSE);
	}
	http_server__free(s);
	http_server__free(NULL);
	return 0;
}

TEST(promtool_reads_the_served_metrics)
{
	struct http_server_opts o = { .capture = fake_capture };
	struct fixture fx;
	struct reply r;
	bool ok;

	ASSERT_EQ(fixture_start(&fx, &o), 0);
	ASSERT_EQ(metrics__add_process_collector(fx.m), 0);
	free(get(fx.port, "/nope").body);
	free(get(fx.port, "/debug/pprof/profile?seconds=1").body);
	r = get(fx.port, "/metrics");
	ASSERT_EQ(r.status, 200);
	ok = promtool_check(r.body, r.len) == 0;
	free(r.body);
	fixture_stop(&fx);
	ASSERT_TRUE(ok);
	return 0;
}

int main(void)
{
	bool promtool = promtool_present();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	RUN(metrics_health_and_index);
	RUN(heartbeat_check);
	RUN(capture_parameters_are_bounded);
	RUN(capture_errors_map_to_status_codes);
	RUN(one_capture_at_a_time_and_others_keep_answering);
	RUN(stopping_cancels_a_capture_in_progress);
	RUN(connections_are_limited_and_idle_ones_closed);
	RUN(addresses);
	if (promtool)
		RUN(promtool_reads_the_served_metrics);
	curl_global_cleanup();
	return promtool_summary(promtool, "promtool_reads_the_served_metrics");
}
