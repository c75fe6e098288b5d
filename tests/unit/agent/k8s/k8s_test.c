// SPDX-License-Identifier: Apache-2.0
/*
 * The pod cache against a stand-in API server (apiserver.py) on 127.0.0.1
 * with TLS (a certificate openssl makes for the test) and a bearer token:
 * names by container id and pod UID, watch events, deletion grace, paging,
 * 410 re-lists, token rotation, the bounds, and a server that is down,
 * slow, failing or answering garbage.
 */
#include "k8s_pods.h"
#include "metrics.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NODE "node-1"
#define SEC 1000000000ULL

static char dir[] = "/tmp/fornax-k8s-test-XXXXXX";
static char cert[256], key[256], server_token[256], client_token[256];
static const char *script;

struct server {
	pid_t pid;
	FILE *in, *out;
	int port;
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int server_start(struct server *s, int port)
{
	int to_child[2], from_child[2];
	posix_spawn_file_actions_t fa;
	char port_arg[16], line[128];
	char *argv[] = { "/usr/bin/python3", (char *)script, "--port", port_arg, "--cert", cert,
			 "--key", key, "--token-file", server_token, "--node", NODE, NULL };

	snprintf(port_arg, sizeof(port_arg), "%d", port);
	if (pipe2(to_child, O_CLOEXEC) || pipe2(from_child, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
	posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
	if (posix_spawn(&s->pid, argv[0], &fa, NULL, argv, environ))
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	close(to_child[0]);
	close(from_child[1]);
	s->in = fdopen(to_child[1], "w");
	s->out = fdopen(from_child[0], "r");
	if (!s->in || !s->out || !fgets(line, sizeof(line), s->out) ||
	    sscanf(line, "ready %d", &s->port) != 1)
		return -1;
	return 0;
}

static const char *server_cmd(struct server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *server_cmd(struct server *s, const char *fmt, ...)
{
	static char reply[1024];
	va_list ap;

	va_start(ap, fmt);
	vfprintf(s->in, fmt, ap);
	va_end(ap);
	fputc('\n', s->in);
	fflush(s->in);
	if (!fgets(reply, sizeof(reply), s->out))
		return "";
	reply[strcspn(reply, "\n")] = '\0';
	return reply;
}

static void server_stop(struct server *s)
{
	if (!s->pid)
		return;
	server_cmd(s, "quit");
	fclose(s->in);
	fclose(s->out);
	for (int i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) == 0; i++)
		usleep(50000);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* The stats counter named in the server's "stats" answer. */
static long server_count(struct server *s, const char *name)
{
	const char *reply = server_cmd(s, "stats");
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\"%s\": ", name);
	p = strstr(reply, pattern);
	return p ? strtol(p + strlen(pattern), NULL, 10) : -1;
}

static void cid_of(char out[65], int n)
{
	snprintf(out, 65, "%064x", n);
}

static const char *add_pod(struct server *s, const char *ns, const char *name, int n,
			   const char *node, const char *labels)
{
	char cid[65];

	cid_of(cid, n);
	return server_cmd(s,
		"add {\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\","
		"\"uid\":\"00000000-0000-0000-0000-%012d\",\"labels\":%s,"
		"\"annotations\":{\"profiles.grafana.com/cpu.scrape\":\"true\"},"
		"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"%s-6d4cf56db6\","
		"\"controller\":true}]},"
		"\"spec\":{\"nodeName\":\"%s\"},"
		"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.0.%d\","
		"\"initContainerStatuses\":[{\"name\":\"init\",\"containerID\":\"containerd://%064x\","
		"\"image\":\"busybox\"}],"
		"\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"containerd://%s\","
		"\"image\":\"registry.example/%s:1\"},{\"name\":\"pending\",\"image\":\"x\"}]}}",
		name, ns, n, labels ? labels : "{}", name, node, n % 250, 100000 + n, cid, name);
}

static void uid_of(char out[37], int n)
{
	snprintf(out, 37, "00000000-0000-0000-0000-%012d", n);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until the pod with container n is (or, with gone, is no longer) known. */
static bool wait_pod(struct k8s_pods *p, int n, bool gone, double timeout)
{
	double end = now_s() + timeout;
	char cid[65];

	cid_of(cid, n);
	while (now_s() < end) {
		struct k8s_pod *pod = k8s_pods__lookup(p, cid, NULL);

		k8s_pod__put(pod);
		if (!!pod != gone)
			return true;
		usleep(20000);
	}
	return false;
}

static bool wait_stat(struct k8s_pods *p, size_t offset, uint64_t min, double timeout)
{
	double end = now_s() + timeout;

	while (now_s() < end) {
		struct k8s_pods_stats st;

		k8s_pods__stats(p, &st);
		if (*(uint64_t *)((char *)&st + offset) >= min)
			return true;
		usleep(20000);
	}
	return false;
}

#define WAIT_STAT(p, field, min, timeout) \
	wait_stat(p, offsetof(struct k8s_pods_stats, field), min, timeout)

static char events[8192];

static void on_event(void *ctx, enum k8s_event_level level, const char *msg)
{
	size_t n = strlen(events);

	(void)ctx;
	snprintf(events + n, sizeof(events) - n, "%s %s\n", level == K8S_EVENT_WARN ? "W" : "I",
		 msg);
}

static struct k8s_pods *client(int port, struct k8s_pods_opts o)
{
	char url[64];

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
	o.api_url = url;
	o.node_name = NODE;
	o.token_file = client_token;
	o.ca_file = cert;
	o.request_timeout_ns = o.request_timeout_ns ? o.request_timeout_ns : 2 * SEC;
	o.max_backoff_ns = o.max_backoff_ns ? o.max_backoff_ns : SEC / 2;
	o.watch_timeout_s = o.watch_timeout_s ? o.watch_timeout_s : 30;
	o.on_event = on_event;
	events[0] = '\0';
	return k8s_pods__new(&o);
}

struct collected {
	char text[4096];
};

static int collect(void *ctx, const char *name, const char *value)
{
	struct collected *c = ctx;
	size_t n = strlen(c->text);

	snprintf(c->text + n, sizeof(c->text) - n, "%s=%s\n", name, value);
	return 0;
}

TEST(names_from_a_list_and_the_watch)
{
	struct server s = { 0 };
	struct k8s_pods *p;
	struct k8s_pod *pod;
	struct collected meta = { "" };
	char cid[65], uid[37];

	ASSERT_EQ(server_start(&s, 0), 0);
	ASSERT_STREQ(add_pod(&s, "shop", "checkout", 1, NODE,
			     "{\"app.kubernetes.io/name\":\"checkout\",\"tier\":\"web\"}"), "ok");
	ASSERT_STREQ(add_pod(&s, "shop", "cart", 2, NODE, NULL), "ok");
	ASSERT_STREQ(add_pod(&s, "other", "elsewhere", 3, "node-2", NULL), "ok");
	p = client(s.port, (struct k8s_pods_opts){ .deleted_grace_ns = SEC });
	ASSERT_TRUE(p);
	ASSERT_EQ(k8s_pods__wait_synced(p, 10 * SEC), 0);

	cid_of(cid, 1);
	pod = k8s_pods__lookup(p, cid, NULL);
	ASSERT_TRUE(pod);
	ASSERT_STREQ(k8s_pod__namespace(pod), "shop");
	ASSERT_STREQ(k8s_pod__name(pod), "checkout");
	ASSERT_STREQ(k8s_pod__node(pod), NODE);
	ASSERT_STREQ(k8s_pod__container(pod, cid), "app");
	ASSERT_STREQ(k8s_pod__label(pod, "tier"), "web");
	ASSERT_EQ(k8s_pod__meta_labels(pod, cid, collect, &meta), 0);
	k8s_pod__put(pod);
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_namespace=shop\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_name=checkout\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_container_name=app\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_container_init=false\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_controller_kind=ReplicaSet\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_label_app_kubernetes_io_name=checkout\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_labelpresent_tier=true\n"));
	ASSERT_TRUE(strstr(meta.text,
			   "__meta_kubernetes_pod_annotation_profiles_grafana_com_cpu_scrape=true\n"));
	ASSERT_TRUE(strstr(meta.text, "__meta_kubernetes_pod_container_id=containerd://"));

	/* the init container's id, and the pod uid when the container is not known */
	cid_of(cid, 100001);
	pod = k8s_pods__lookup(p, cid, NULL);
	ASSERT_TRUE(pod && strcmp(k8s_pod__container(pod, cid), "init") == 0);
	k8s_pod__put(pod);
	uid_of(uid, 2);
	cid_of(cid, 999);
	pod = k8s_pods__lookup(p, cid, uid);
	ASSERT_TRUE(pod);
	ASSERT_STREQ(k8s_pod__name(pod), "cart");
	ASSERT_TRUE(!k8s_pod__container(pod, cid));
	k8s_pod__put(pod);
	/* another node's pod is not this node's business */
	cid_of(cid, 3);
	ASSERT_TRUE(!k8s_pods__lookup(p, cid, NULL) && errno == ENOENT);

	/* the watch: a new pod, a changed one, a deleted one kept for its grace */
	ASSERT_STREQ(add_pod(&s, "shop", "payment", 4, NODE, "{\"tier\":\"api\"}"), "ok");
	ASSERT_TRUE(wait_pod(p, 4, false, 10));
	ASSERT_STREQ(add_pod(&s, "shop", "payment", 4, NODE, "{\"tier\":\"db\"}"), "ok");
	for (int i = 0; i < 500; i++) {
		cid_of(cid, 4);
		pod = k8s_pods__lookup(p, cid, NULL);
		if (pod && strcmp(k8s_pod__label(pod, "tier"), "db") == 0)
			break;
		k8s_pod__put(pod);
		pod = NULL;
		usleep(20000);
	}
	ASSERT_TRUE(pod);
	uid_of(uid, 4);
	ASSERT_STREQ(server_cmd(&s, "delete %s", uid), "ok");
	/* gone after its grace; the reference taken before outlives it */
	ASSERT_TRUE(wait_pod(p, 4, true, 10));
	ASSERT_STREQ(k8s_pod__name(pod), "payment");
	k8s_pod__put(pod);
	ASSERT_TRUE(WAIT_STAT(p, evicted, 1, 5));
	ASSERT_EQ(server_count(&s, "bad_selector"), 0);
	ASSERT_TRUE(strstr(events, "I kubernetes: 2 pods on node node-1\n"));
	k8s_pods__free(p);
	server_stop(&s);
	return 0;
}

TEST(deleted_pods_stay_for_their_grace)
{
	struct server s = { 0 };
	struct k8s_pods *p;
	char uid[37];
	double t0;

	ASSERT_EQ(server_start(&s, 0), 0);
	add_pod(&s, "shop", "checkout", 1, NODE, NULL);
	p = client(s.port, (struct k8s_pods_opts){ .deleted_grace_ns = 2 * SEC });
	ASSERT_EQ(k8s_pods__wait_synced(p, 10 * SEC), 0);
	uid_of(uid, 1);
	server_cmd(&s, "delete %s", uid);
	t0 = now_s();
	ASSERT_TRUE(WAIT_STAT(p, watch_events, 1, 5));
	/* still named a second after its DELETED event; gone after the grace */
	usleep(1000000);
	ASSERT_TRUE(wait_pod(p, 1, false, 0.1));
	ASSERT_TRUE(wait_pod(p, 1, true, 10));
	ASSERT_TRUE(now_s() - t0 >= 1.9);
	k8s_pods__free(p);
	server_stop(&s);
	return 0;
}

TEST(pages_and_expired_watches)
{
	struct server s = { 0 };
	struct k8s_pods_stats st;
	struct k8s_pods *p;

	ASSERT_EQ(server_start(&s, 0), 0);
	for (int i = 1; i <= 5; i++)
		add_pod(&s, "shop", "pod", i, NODE, NULL);
	p = client(s.port, (struct k8s_pods_opts){ .list_page_size = 2 });
	ASSERT_EQ(k8s_pods__wait_synced(p, 10 * SEC), 0);
	k8s_pods__stats(p, &st);
	ASSERT_EQ(st.pods, 5);
	ASSERT_EQ(server_count(&s, "list"), 3); /* 2 + 2 + 1, through escaped continue tokens */
	/* a watch from a version the server no longer has: 410, then a fresh list */
	ASSERT_STREQ(server_cmd(&s, "expire"), "ok");
	ASSERT_TRUE(WAIT_STAT(p, relists_expired, 1, 10));
	ASSERT_TRUE(WAIT_STAT(p, lists, 2, 10));
	add_pod(&s, "shop", "pod", 6, NODE, NULL);
	ASSERT_TRUE(wait_pod(p, 6, false, 10));
	k8s_pods__free(p);
	server_stop(&s);
	return 0;
}

TEST(down_then_up)
{
	struct server s = { 0 };
	struct k8s_pods_stats st;
	struct k8s_pods *p;
	int port = free_port();
	char cid[65];

	p = client(port, (struct k8s_pods_opts){ 0 });
	ASSERT_TRUE(p);
	ASSERT_TRUE(WAIT_STAT(p, errors_connect, 2, 10));
	cid_of(cid, 1);
	ASSERT_TRUE(!k8s_pods__lookup(p, cid, NULL) && errno == EAGAIN);
	ASSERT_EQ(k8s_pods__wait_synced(p, SEC / 10), -ETIMEDOUT);
	ASSERT_TRUE(strstr(events, "W kubernetes: listing pods: Couldn't connect to server"));
	ASSERT_EQ(server_start(&s, port), 0);
	add_pod(&s, "shop", "checkout", 1, NODE, NULL);
	ASSERT_EQ(k8s_pods__wait_synced(p, 10 * SEC), 0);
	ASSERT_TRUE(wait_pod(p, 1, false, 1));
	ASSERT_TRUE(strstr(events, "I kubernetes: the API server answers again"));
	k8s_pods__stats(p, &st);
	ASSERT_EQ(st.errors_parse + st.errors_auth + st.errors_http, 0);
	/* the same numbers on /metrics */
	{
		struct metrics *m = metrics__new();
		char *text = NULL, *line;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		int id = k8s_pods__add_metrics(p, m);

		ASSERT_TRUE(m && f && id >= 0);
		ASSERT_EQ(metrics__write(m, f), 0);
		fclose(f);
		ASSERT_TRUE(strstr(text, "\nfornax_kubernetes_synced 1\n"));
		ASSERT_TRUE(strstr(text, "\nfornax_kubernetes_pods 1\n"));
		static const char prefix[] =
			"fornax_kubernetes_request_failures_total{reason=\"connect\"} ";

		line = strstr(text, prefix);
		ASSERT_TRUE(line && strtoul(line + sizeof(prefix) - 1, NULL, 10) >= 2);
		ASSERT_TRUE(strstr(text, "fornax_kubernetes_request_failures_total{reason=\"auth\"} 0\n"));
		metrics__remove_collector(m, id);
		metrics__free(m);
		free(text);
	}
	k8s_pods__free(p);
	server_stop(&s);
	return 0;
}

/* A failing server: counted, the cache kept, recovery when it answers again. */
static int fault(const char *mode, size_t stat_offset, int pod_after)
{
	struct server s = { 0 };
	struct k8s_pods *p;

	if (server_start(&s, 0))
		TEST_FAIL("server did not start");
	add_pod(&s, "shop", "checkout", 1, NODE, NULL);
	p = client(s.port, (struct k8s_pods_opts){ .request_timeout_ns = SEC });
	if (k8s_pods__wait_synced(p, 10 * SEC))
		TEST_FAIL("%s: not synced", mode);
	if (strcmp(server_cmd(&s, "mode %s", mode), "ok"))
		TEST_FAIL("mode %s", mode);
	if (!wait_stat(p, stat_offset, 2, 15))
		TEST_FAIL("%s: not counted", mode);
	/* what was known is still known */
	if (!wait_pod(p, 1, false, 0.1))
		TEST_FAIL("%s: the cache lost a pod", mode);
	server_cmd(&s, "mode normal");
	add_pod(&s, "shop", "cart", pod_after, NODE, NULL);
	if (!wait_pod(p, pod_after, false, 15))
		TEST_FAIL("%s: no recovery", mode);
	if (!strstr(events, "W kubernetes: "))
		TEST_FAIL("%s: not reported", mode);
	k8s_pods__free(p);
	server_stop(&s);
	return 0;
}

TEST(garbage)
{
	return fault("garbage", offsetof(struct k8s_pods_stats, errors_parse), 2);
}

TEST(wrong_shape)
{
	return fault("wrongshape", offsetof(struct k8s_pods_stats, errors_parse), 2);
}

TEST(slow)
{
	return fault("slow", offsetof(struct k8s_pods_stats, errors_timeout), 2);
}

TEST(server_errors)
{
	return fault("error500", offsetof(struct k8s_pods_stats, errors_http), 2);
}

TEST(connection_reset)
{
	return fault("reset", offsetof(struct k8s_pods_stats, errors_connect), 2);
}

TEST(rotated_token)
{
	struct server s = { 0 };
	struct k8s_pods *p;

	ASSERT_EQ(server_start(&s, 0), 0);
	add_pod(&s, "shop", "checkout", 1, NODE, NULL);
	p = client(s.port, (struct k8s_pods_opts){ 0 });
	ASSERT_EQ(k8s_pods__wait_synced(p, 10 * SEC), 0);
	/* the server moves on to a new token; the client's file still has the old one */
	write_text(server_token, "token-two\n");
	server_cmd(&s, "drop-watches");
	ASSERT_TRUE(WAIT_STAT(p, errors_auth, 1, 10));
	ASSERT_TRUE(strstr(events, "W kubernetes: watching pods: HTTP 401: Unauthorized"));
	/* the kubelet rewrites the file: the next request reads it */
	write_text(client_token, "token-two\n");
	add_pod(&s, "shop", "cart", 2, NODE, NULL);
	ASSERT_TRUE(wait_pod(p, 2, false, 10));
	k8s_pods__free(p);
	write_text(server_token, "token-one\n");
	write_text(client_token, "token-one\n");
	server_stop(&s);
	return 0;
}

TEST(bounded)
{
	struct server s = { 0 };
	struct k8s_pods_stats st;
	struct k8s_pods *p;
	char labels[4096];
	size_t n = 0;

	ASSERT_EQ(server_start(&s, 0), 0);
	n += (size_t)snprintf(labels + n, sizeof(labels) - n, "{");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(labels + n, sizeof(labels) - n, "%s\"l%02d\":\"v\"", i ? "," : "",
				      i);
	snprintf(labels + n, sizeof(labels) - n, "}");
	for (int i = 1; i <= 5; i++)
		add_pod(&s, "shop", "pod", i, NODE, labels);
	p = client(s.port, (struct k8s_pods_opts){ .max_pods = 3, .max_labels = 10 });
	ASSERT_EQ(k8s_pods__wait_synced(p, 10 * SEC), 0);
	k8s_pods__stats(p, &st);
	ASSERT_EQ(st.pods, 3);
	ASSERT_EQ(st.pods_over_limit, 2);
	/* 30 labels over, on each of 5 pods (annotations are within bounds) */
	ASSERT_EQ(st.labels_dropped, 5 * 30);
	k8s_pods__free(p);
	server_stop(&s);
	return 0;
}

TEST(stops_promptly_while_a_request_hangs)
{
	struct server s = { 0 };
	struct k8s_pods *p;
	double t0;

	ASSERT_EQ(server_start(&s, 0), 0);
	server_cmd(&s, "mode slow");
	p = client(s.port, (struct k8s_pods_opts){ .request_timeout_ns = 60 * SEC });
	usleep(500000);
	t0 = now_s();
	k8s_pods__free(p);
	ASSERT_TRUE(now_s() - t0 < 3);
	server_stop(&s);
	return 0;
}

TEST(refused_options)
{
	struct k8s_pods_opts o = { .api_url = "https://127.0.0.1:1", .node_name = "Node_1" };

	errno = 0;
	ASSERT_TRUE(!k8s_pods__new(&o) && errno == EINVAL);
	o.node_name = NODE;
	o.api_url = "ftp://x";
	ASSERT_TRUE(!k8s_pods__new(&o) && errno == EINVAL);
	o.api_url = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	ASSERT_TRUE(!k8s_pods__new(&o) && errno == EINVAL);
	k8s_pods__free(NULL);
	k8s_pod__put(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	char cmd[1024];

	/* the stand-in API server: the build's copy, or the one named */
	script = argc > 1 ? argv[1] : APISERVER_PY;
	if (!mkdtemp(dir))
		return 1;
	snprintf(cert, sizeof(cert), "%s/apiserver.crt", dir);
	snprintf(key, sizeof(key), "%s/apiserver.key", dir);
	snprintf(server_token, sizeof(server_token), "%s/server-token", dir);
	snprintf(client_token, sizeof(client_token), "%s/token", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kubernetes "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null", key, cert);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl could not make a certificate\n");
		return 1;
	}
	write_text(server_token, "token-one\n");
	write_text(client_token, "token-one\n");
	signal(SIGPIPE, SIG_IGN);
	RUN(names_from_a_list_and_the_watch);
	RUN(deleted_pods_stay_for_their_grace);
	RUN(pages_and_expired_watches);
	RUN(down_then_up);
	RUN(garbage);
	RUN(wrong_shape);
	RUN(slow);
	RUN(server_errors);
	RUN(connection_reset);
	RUN(rotated_token);
	RUN(bounded);
	RUN(stops_promptly_while_a_request_hangs);
	RUN(refused_options);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return test_summary();
}
