// SPDX-License-Identifier: Apache-2.0
/*
 * The thread: list the node's pods (in pages), then watch from the list's
 * resource version; a watch the server ends is resumed, an expired one
 * (410) re-lists; a failure backs off, doubling up to max_backoff. The
 * cache keeps serving lookups whatever happens here.
 */
#include "k8s_http.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_MAX_PODS 1024
#define DEFAULT_MAX_LABELS 64
#define DEFAULT_PAGE 500
#define DEFAULT_GRACE_NS (60ULL * 1000000000ULL)
#define DEFAULT_REQUEST_TIMEOUT_NS (30ULL * 1000000000ULL)
#define DEFAULT_WATCH_TIMEOUT_S 300
#define DEFAULT_MAX_BACKOFF_NS (30ULL * 1000000000ULL)
#define FIRST_BACKOFF_NS (500ULL * 1000000ULL)
/* A page of 500 pods is a few MiB; one watch event is one pod. */
#define MAX_LIST_BYTES (64u << 20)
#define MAX_EVENT_BYTES (4u << 20)
/* A watch that ends sooner than this without events is a failure, not a resumable end. */
#define MIN_WATCH_NS (1000ULL * 1000000ULL)
#define EXPIRE_EVERY_NS (200ULL * 1000000ULL)

struct k8s_pods {
	struct k8s_pods_opts opts; /* strings below are our copies */
	char *api_url, *node, *token_file, *ca_file;
	struct k8s_cache *cache;
	struct k8s_http *http;
	pthread_t thread;
	bool started;
	bool curl_initialized;
	_Atomic bool stop;

	pthread_mutex_t lock; /* stats and synced */
	pthread_cond_t synced_cond;
	struct k8s_pods_stats stats;

	/* the thread's own */
	char *rv;            /* resource version to watch from; NULL: list first */
	char *continue_token;
	char *next_rv;
	size_t page_pods;
	bool page_seen;
	bool failing;
	uint64_t failures;
	uint64_t last_expire_ns;
	char last_why[512];
};

static void count(struct k8s_pods *p, uint64_t *counter, uint64_t n)
{
	pthread_mutex_lock(&p->lock);
	*counter += n;
	pthread_mutex_unlock(&p->lock);
}

static void event(struct k8s_pods *p, enum k8s_event_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void event(struct k8s_pods *p, enum k8s_event_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!p->opts.on_event)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->opts.on_event(p->opts.ctx, level, msg);
}

static int set_str(char **dst, const char *src)
{
	char *copy = src ? strdup(src) : NULL;

	if (src && !copy)
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* A pod object from a list or an event, into the cache. */
static int take_pod(struct k8s_pods *p, json_object *o)
{
	uint64_t dropped = 0;
	struct k8s_pod *pod;
	int err = k8s_pod__from_json(o, p->opts.max_labels, &pod, &dropped);

	if (dropped)
		count(p, &p->stats.labels_dropped, dropped);
	if (err == -EBADMSG) {
		count(p, &p->stats.errors_parse, 1);
		return 0; /* one bad pod does not cost the others */
	}
	if (err)
		return err;
	err = k8s_cache__upsert(p->cache, pod);
	if (err == -ENOSPC) {
		count(p, &p->stats.pods_over_limit, 1);
		return 0;
	}
	return err;
}

static int on_list(void *ctx, json_object *list)
{
	struct k8s_pods *p = ctx;
	json_object *items = NULL, *meta = NULL, *cont = NULL;
	const char *rv = k8s_resource_version(list);
	int err = 0;

	if (p->page_seen || !json_object_object_get_ex(list, "items", &items) ||
	    !rv || !(json_object_is_type(items, json_type_array) ||
		     json_object_is_type(items, json_type_null)))
		return -EBADMSG;
	p->page_seen = true;
	for (size_t i = 0; !err && items && i < json_object_array_length(items); i++)
		err = take_pod(p, json_object_array_get_idx(items, i));
	p->page_pods += items ? json_object_array_length(items) : 0;
	json_object_object_get_ex(list, "metadata", &meta);
	json_object_object_get_ex(meta, "continue", &cont);
	if (!err)
		err = set_str(&p->next_rv, rv);
	if (!err)
		err = set_str(&p->continue_token,
			      cont && json_object_is_type(cont, json_type_string) &&
					      *json_object_get_string(cont)
				      ? json_object_get_string(cont)
				      : NULL);
	return err;
}

/* Percent-encodes what is not unreserved in a URL. */
static int append_escaped(char *buf, size_t size, size_t *n, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (*n + 4 > size)
			return -E2BIG;
		if (plain) {
			buf[(*n)++] = (char)c;
		} else {
			buf[(*n)++] = '%';
			buf[(*n)++] = hex[c >> 4];
			buf[(*n)++] = hex[c & 15];
		}
	}
	buf[*n] = '\0';
	return 0;
}

/* .../api/v1/pods?fieldSelector=spec.nodeName=NODE, then extra parameters. */
static int pods_url(struct k8s_pods *p, char *buf, size_t size, const char *extra,
		    const char *escaped_name, const char *escaped_value)
{
	size_t n = (size_t)snprintf(buf, size, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s%s",
				    p->api_url, p->node, extra);

	if (n >= size)
		return -E2BIG;
	if (!escaped_name)
		return 0;
	n += (size_t)snprintf(buf + n, size - n, "&%s=", escaped_name);
	if (n >= size)
		return -E2BIG;
	return append_escaped(buf, size, &n, escaped_value);
}

static int run(struct k8s_pods *p, struct k8s_request *r)
{
	const char *why = NULL;
	char *token = NULL;
	int err = 0;

	if (*p->token_file)
		err = k8s_read_token(p->token_file, &token, &why);
	if (err) {
		snprintf(r->why, sizeof(r->why), "token %s: %s", p->token_file, why);
		return err;
	}
	r->token = token;
	err = k8s_http__run(p->http, r, &p->stop);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	return err;
}

static void succeeded(struct k8s_pods *p)
{
	if (p->failing)
		event(p, K8S_EVENT_INFO, "kubernetes: the API server answers again (after %llu "
			 "failed requests)", (unsigned long long)p->failures);
	p->failing = false;
	p->failures = 0;
	p->last_why[0] = '\0';
}

static int list(struct k8s_pods *p, char *why, size_t why_size)
{
	char url[4096], extra[64];
	size_t pods = 0;
	bool first;
	int err = 0;

	set_str(&p->continue_token, NULL);
	k8s_cache__begin_list(p->cache);
	snprintf(extra, sizeof(extra), "&limit=%zu", p->opts.list_page_size);
	do {
		struct k8s_request r = {
			.url = url, .on_object = on_list, .ctx = p,
			.headers_timeout_ns = p->opts.request_timeout_ns,
			.total_timeout_ns = p->opts.request_timeout_ns,
			.max_object_bytes = MAX_LIST_BYTES,
		};

		err = pods_url(p, url, sizeof(url), extra, p->continue_token ? "continue" : NULL,
			       p->continue_token);
		if (err)
			break;
		p->page_seen = false;
		p->page_pods = 0;
		err = run(p, &r);
		if (!err && !p->page_seen) {
			snprintf(r.why, sizeof(r.why), "the answer holds no pod list");
			err = -EBADMSG;
		}
		snprintf(why, why_size, "listing pods: %s", r.why);
		pods += p->page_pods;
	} while (!err && p->continue_token);
	if (err)
		return err;
	k8s_cache__end_list(p->cache, k8s_now_ns());
	set_str(&p->rv, p->next_rv);
	succeeded(p);
	pthread_mutex_lock(&p->lock);
	p->stats.lists++;
	first = !p->stats.synced;
	p->stats.synced = true;
	pthread_cond_broadcast(&p->synced_cond);
	pthread_mutex_unlock(&p->lock);
	if (first)
		event(p, K8S_EVENT_INFO, "kubernetes: %zu pods on node %s", pods, p->node);
	return 0;
}

static int on_watch_event(void *ctx, json_object *ev)
{
	struct k8s_pods *p = ctx;
	json_object *type = NULL, *obj = NULL, *code = NULL;
	const char *t, *rv;
	int err = 0;

	if (!json_object_object_get_ex(ev, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    !json_object_object_get_ex(ev, "object", &obj))
		return -EBADMSG;
	t = json_object_get_string(type);
	if (strcmp(t, "ERROR") == 0) {
		/* a Status: 410 says the resource version is too old to watch from */
		json_object_object_get_ex(obj, "code", &code);
		return code && json_object_get_int(code) == 410 ? -ESTALE : -EPROTO;
	}
	rv = k8s_resource_version(obj);
	if (!rv)
		return -EBADMSG;
	if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0) {
		err = take_pod(p, obj);
	} else if (strcmp(t, "DELETED") == 0) {
		json_object *meta = NULL, *uid = NULL;

		if (json_object_object_get_ex(obj, "metadata", &meta) &&
		    json_object_object_get_ex(meta, "uid", &uid) &&
		    json_object_is_type(uid, json_type_string))
			k8s_cache__delete(p->cache, json_object_get_string(uid), k8s_now_ns());
	} else if (strcmp(t, "BOOKMARK") != 0) {
		count(p, &p->stats.errors_parse, 1);
		return 0;
	}
	count(p, &p->stats.watch_events, 1);
	return err ? err : set_str(&p->rv, rv);
}

/* Deleted pods leave at the end of their grace, also in the middle of a long watch. */
static void expire(void *ctx)
{
	struct k8s_pods *p = ctx;
	uint64_t now = k8s_now_ns();
	size_t evicted;

	if (now - p->last_expire_ns < EXPIRE_EVERY_NS)
		return;
	p->last_expire_ns = now;
	evicted = k8s_cache__expire(p->cache, now);
	if (evicted)
		count(p, &p->stats.evicted, evicted);
}

static int watch(struct k8s_pods *p, char *why, size_t why_size)
{
	char url[4096], extra[96];
	uint64_t events = p->stats.watch_events, start = k8s_now_ns();
	struct k8s_request r = {
		.url = url, .on_object = on_watch_event, .on_tick = expire, .ctx = p,
		.headers_timeout_ns = p->opts.request_timeout_ns,
		.total_timeout_ns = p->opts.watch_timeout_s * 1000000000ULL +
				    p->opts.request_timeout_ns,
		.max_object_bytes = MAX_EVENT_BYTES,
	};
	int err;

	snprintf(extra, sizeof(extra), "&watch=1&allowWatchBookmarks=true&timeoutSeconds=%u",
		 p->opts.watch_timeout_s);
	err = pods_url(p, url, sizeof(url), extra, "resourceVersion", p->rv);
	if (!err)
		err = run(p, &r);
	snprintf(why, why_size, "watching pods: %s", r.why[0] ? r.why : strerror(-err));
	if (err == -EPROTO && r.status == 200)
		snprintf(why, why_size, "watching pods: the server sent an ERROR event");
	if (!err && k8s_now_ns() - start < MIN_WATCH_NS && p->stats.watch_events == events) {
		snprintf(why, why_size, "watching pods: the server ended the watch at once");
		err = -EPROTO;
	}
	return err;
}

static void failed(struct k8s_pods *p, int err, const char *why)
{
	uint64_t *counter;

	switch (err) {
	case -ECONNREFUSED:
		counter = &p->stats.errors_connect;
		break;
	case -ETIMEDOUT:
		counter = &p->stats.errors_timeout;
		break;
	case -EACCES:
		counter = &p->stats.errors_auth;
		break;
	case -EBADMSG:
		counter = &p->stats.errors_parse;
		break;
	default:
		counter = &p->stats.errors_http;
		break;
	}
	count(p, counter, 1);
	p->failures++;
	/* said once when it starts failing, and again when the reason changes */
	if (!p->failing || strcmp(p->last_why, why) != 0)
		event(p, K8S_EVENT_WARN, "kubernetes: %s; retrying", why);
	p->failing = true;
	snprintf(p->last_why, sizeof(p->last_why), "%s", why);
}

static uint64_t jitter(uint64_t ns)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)k8s_now_ns();
	return ns / 2 + (ns / 2) * (r % 1000) / 1000;
}

static void *thread_main(void *arg)
{
	struct k8s_pods *p = arg;
	uint64_t backoff = 0;
	char why[512];

	while (!atomic_load(&p->stop)) {
		int err = p->rv ? watch(p, why, sizeof(why)) : list(p, why, sizeof(why));

		expire(p);
		if (err == -ECANCELED)
			break;
		if (err == -ESTALE) {
			count(p, &p->stats.relists_expired, 1);
			set_str(&p->rv, NULL);
			continue;
		}
		if (!err) {
			succeeded(p);
			backoff = 0;
			continue;
		}
		failed(p, err, why);
		backoff = backoff ? 2 * backoff : FIRST_BACKOFF_NS;
		if (backoff > p->opts.max_backoff_ns)
			backoff = p->opts.max_backoff_ns;
		if (k8s_http__sleep(p->http, jitter(backoff), &p->stop))
			break;
	}
	return NULL;
}

/* "https://HOST:PORT" from the environment Kubernetes gives every pod. */
static char *in_cluster_url(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *url;

	if (!host || !*host)
		return NULL;
	if (asprintf(&url, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port && *port ? port : "443") < 0)
		return NULL;
	return url;
}

/* RFC 1123 names only: the node name goes into a URL unescaped. */
static bool valid_node_name(const char *s)
{
	if (!s || !*s || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '.'))
			return false;
	return true;
}

static int copy_opts(struct k8s_pods *p, const struct k8s_pods_opts *o)
{
	p->opts = *o;
	if (!p->opts.max_pods)
		p->opts.max_pods = DEFAULT_MAX_PODS;
	if (!p->opts.max_labels)
		p->opts.max_labels = DEFAULT_MAX_LABELS;
	if (!p->opts.list_page_size)
		p->opts.list_page_size = DEFAULT_PAGE;
	if (!p->opts.deleted_grace_ns)
		p->opts.deleted_grace_ns = DEFAULT_GRACE_NS;
	if (!p->opts.request_timeout_ns)
		p->opts.request_timeout_ns = DEFAULT_REQUEST_TIMEOUT_NS;
	if (!p->opts.watch_timeout_s)
		p->opts.watch_timeout_s = DEFAULT_WATCH_TIMEOUT_S;
	if (!p->opts.max_backoff_ns)
		p->opts.max_backoff_ns = DEFAULT_MAX_BACKOFF_NS;
	if (!valid_node_name(o->node_name))
		return -EINVAL;
	p->api_url = o->api_url ? strdup(o->api_url) : in_cluster_url();
	p->node = strdup(o->node_name);
	p->token_file = strdup(o->token_file ? o->token_file
					     : K8S_SERVICE_ACCOUNT_DIR "/token");
	p->ca_file = strdup(o->ca_file ? o->ca_file : K8S_SERVICE_ACCOUNT_DIR "/ca.crt");
	if (!p->api_url)
		return o->api_url ? -ENOMEM : -EINVAL;
	if (strncmp(p->api_url, "https://", 8) && strncmp(p->api_url, "http://", 7))
		return -EINVAL;
	/* no trailing slash: paths are appended */
	while (strlen(p->api_url) > 8 && p->api_url[strlen(p->api_url) - 1] == '/')
		p->api_url[strlen(p->api_url) - 1] = '\0';
	return p->node && p->token_file && p->ca_file ? 0 : -ENOMEM;
}

struct k8s_pods *k8s_pods__new(const struct k8s_pods_opts *opts)
{
	struct k8s_pods *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	const char *why;
	int err;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->synced_cond, NULL);
	err = copy_opts(p, opts);
	if (err)
		goto cleanup;
	err = curl_api__load(&why);
	if (err)
		goto cleanup;
	if (libcurl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err = -ENOMEM;
		goto cleanup;
	}
	p->curl_initialized = true;
	p->cache = k8s_cache__new(p->opts.max_pods, p->opts.deleted_grace_ns);
	p->http = k8s_http__new(p->ca_file);
	if (!p->cache || !p->http) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* the thread starts with every signal blocked: they are the agent's */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&p->thread, NULL, thread_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto cleanup;
	p->started = true;
	return p;
cleanup:
	k8s_pods__free(p);
	errno = -err;
	return NULL;
}

void k8s_pods__free(struct k8s_pods *p)
{
	if (!p)
		return;
	if (p->started) {
		atomic_store(&p->stop, true);
		k8s_http__wakeup(p->http);
		pthread_join(p->thread, NULL);
	}
	k8s_http__free(p->http);
	if (p->curl_initialized)
		libcurl.global_cleanup();
	k8s_cache__free(p->cache);
	free(p->rv);
	free(p->next_rv);
	free(p->continue_token);
	free(p->api_url);
	free(p->node);
	free(p->token_file);
	free(p->ca_file);
	pthread_cond_destroy(&p->synced_cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct k8s_pod *k8s_pods__lookup(struct k8s_pods *p, const char *container_id,
				 const char *pod_uid)
{
	struct k8s_pod *pod = k8s_cache__lookup(p->cache, container_id, pod_uid);
	bool synced;

	if (pod)
		return pod;
	pthread_mutex_lock(&p->lock);
	synced = p->stats.synced;
	pthread_mutex_unlock(&p->lock);
	errno = synced ? ENOENT : EAGAIN;
	return NULL;
}

int k8s_pods__wait_synced(struct k8s_pods *p, uint64_t timeout_ns)
{
	struct timespec deadline;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(timeout_ns / 1000000000ULL);
	deadline.tv_nsec += (long)(timeout_ns % 1000000000ULL);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stats.synced && !err)
		err = pthread_cond_timedwait(&p->synced_cond, &p->lock, &deadline);
	err = p->stats.synced ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&p->lock);
	return err;
}

void k8s_pods__stats(struct k8s_pods *p, struct k8s_pods_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
	k8s_cache__counts(p->cache, &out->pods, &out->containers);
}
