// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP server module on its own, as the agent will run it: a main loop
 * that counts "samples" and beats a heartbeat every 100 ms, and the server
 * on its threads. Prints "port N" once it listens; stops on SIGTERM/SIGINT.
 * Used by tests/integration/test_prometheus_http.py until the agent serves
 * /metrics itself.
 *
 *   fornax_http_demo [ADDRESS]      (default 127.0.0.1:0)
 */
#include "http_server.h"
#include "metrics.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct metric_desc descs[] = {
	{ "fornax_samples_total", "Samples taken (a counter the demo's loop raises).",
	  METRIC_COUNTER, NULL },
};

static _Atomic uint64_t samples;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void collect(struct metrics_emitter *e, void *ctx)
{
	(void)ctx;
	metrics_emit_u64(e, &descs[0], NULL, atomic_load(&samples));
}

int main(int argc, char **argv)
{
	struct http_server_opts opts = { .address = argc > 1 ? argv[1] : "127.0.0.1:0" };
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec tick = { .tv_nsec = 100 * 1000000L };
	struct http_heartbeat hb;
	struct http_server *s;
	const char *why = NULL;
	struct metrics *m;
	int ret = 1;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	m = metrics__new();
	if (!m || metrics__add_collector(m, descs, 1, collect, NULL, &why) < 0 ||
	    metrics__add_process_collector(m) || metrics__add_build_info(m, "demo")) {
		fprintf(stderr, "http_demo: metrics: %s\n", why ? why : "failed");
		goto cleanup;
	}
	opts.metrics = m;
	http_heartbeat__init(&hb, 2000 * 1000000ULL);
	s = http_server__new(&opts, &why);
	if (!s) {
		fprintf(stderr, "http_demo: %s: %s\n", opts.address, why);
		goto cleanup;
	}
	if (http_server__add_check(s, HTTP_CHECK_LIVE | HTTP_CHECK_READY, "loop",
				   http_heartbeat__check, &hb)) {
		http_server__free(s);
		goto cleanup;
	}
	printf("port %d\n", http_server__port(s));
	fflush(stdout);
	while (!stop) {
		nanosleep(&tick, NULL);
		atomic_fetch_add(&samples, 19);
		http_heartbeat__beat(&hb);
	}
	http_server__free(s);
	ret = 0;
cleanup:
	metrics__free(m);
	return ret;
}
