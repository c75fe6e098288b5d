/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes names for the pods of this node: a thread lists and watches
 * the pods whose spec.nodeName is this node through the API server (the
 * pod's service account token and CA, or any URL such as a kubectl proxy),
 * and keeps what a sample needs to be named: namespace, pod, container,
 * node, labels, annotations and the controlling owner, looked up by the
 * container id and pod UID that agent/cgroups.c reads from a sample's
 * cgroup path.
 *
 * The cache is bounded (max_pods, labels and annotations per pod) and
 * follows the API server: a pod leaves it deleted_grace after its DELETED
 * event (or after a re-list no longer shows it), so the last samples of a
 * pod still get its names. A lost watch resumes from the last resource
 * version; an expired one (410) re-lists. While the API server is down,
 * slow or answering garbage, the cache keeps what it had, failures are
 * counted and reported through on_event, and requests back off up to 30 s.
 *
 * HTTP goes through libcurl as the upload path loads it (curl_api.h), on
 * this module's own thread; lookups take a mutex for a hash lookup only.
 */
#ifndef FORNAX_K8S_PODS_H
#define FORNAX_K8S_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K8S_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

enum k8s_event_level {
	K8S_EVENT_INFO, /* in sync (again) */
	K8S_EVENT_WARN, /* a request failed; the text says why */
};

struct k8s_pods_opts {
	/* "https://HOST:PORT" (or http:// for a local proxy); NULL: from KUBERNETES_SERVICE_HOST/_PORT */
	const char *api_url;
	const char *node_name;      /* required: the downward API's spec.nodeName */
	const char *token_file;     /* NULL: K8S_SERVICE_ACCOUNT_DIR/token; "": none */
	const char *ca_file;        /* NULL: K8S_SERVICE_ACCOUNT_DIR/ca.crt; "": the system's */
	size_t max_pods;            /* 0: 1024 */
	size_t max_labels;          /* per pod, labels and annotations each; 0: 64 */
	size_t list_page_size;      /* pods per list request; 0: 500 */
	uint64_t deleted_grace_ns;  /* 0: 60 s */
	uint64_t request_timeout_ns; /* a list, or a watch's headers, at most; 0: 30 s */
	unsigned watch_timeout_s;   /* the API server ends each watch after this; 0: 300 */
	uint64_t max_backoff_ns;    /* 0: 30 s */
	/* Failures and recoveries, from the module's thread; NULL: none */
	void (*on_event)(void *ctx, enum k8s_event_level level, const char *msg);
	void *ctx;
};

struct k8s_pods_stats {
	uint64_t pods;              /* in the cache now, deleted ones in their grace included */
	uint64_t containers;        /* container ids known */
	bool synced;                /* a full list has been read */
	uint64_t lists;             /* completed lists */
	uint64_t relists_expired;   /* lists forced by 410 Gone */
	uint64_t watch_events;      /* ADDED, MODIFIED, DELETED, BOOKMARK */
	uint64_t errors_connect;    /* connection refused, TLS, DNS */
	uint64_t errors_timeout;    /* no answer, or no headers, in time */
	uint64_t errors_http;       /* an HTTP status other than 200 (auth excepted) */
	uint64_t errors_auth;       /* 401, 403, or no token to send */
	uint64_t errors_parse;      /* not JSON, or not the shape of a pod list or event */
	uint64_t pods_over_limit;   /* pods not cached for max_pods */
	uint64_t labels_dropped;    /* labels and annotations beyond max_labels, or malformed */
	uint64_t evicted;           /* pods freed after their grace */
};

struct k8s_pods;
struct k8s_pod;

/*
 * Starts the thread; it lists at once. NULL with errno set: EINVAL (no
 * node name, no API URL), ENOENT/ENOTSUP (libcurl cannot be loaded; see
 * curl_api.h), ENOMEM.
 */
struct k8s_pods *k8s_pods__new(const struct k8s_pods_opts *opts);
/* Stops the thread (a request in flight is abandoned) and frees the cache. */
void k8s_pods__free(struct k8s_pods *p);

/*
 * The pod a sample belongs to, by container id (64 hex digits) and, when
 * that is unknown or "", by pod UID. A reference: give it back with
 * k8s_pod__put(). NULL with errno ENOENT (no such pod) or EAGAIN (not
 * synced yet).
 */
struct k8s_pod *k8s_pods__lookup(struct k8s_pods *p, const char *container_id,
				 const char *pod_uid);
void k8s_pod__put(struct k8s_pod *pod);

struct metrics;
/*
 * Exports the stats below as fornax_kubernetes_* families. Returns the
 * collector's id (metrics__remove_collector() before k8s_pods__free()) or -errno.
 */
int k8s_pods__add_metrics(struct k8s_pods *p, struct metrics *m);

/* Waits until the first full list (0) or timeout_ns (-ETIMEDOUT). */
int k8s_pods__wait_synced(struct k8s_pods *p, uint64_t timeout_ns);
void k8s_pods__stats(struct k8s_pods *p, struct k8s_pods_stats *out);

/* A pod's fields; valid while the reference is held. "" when absent. */
const char *k8s_pod__namespace(const struct k8s_pod *pod);
const char *k8s_pod__name(const struct k8s_pod *pod);
const char *k8s_pod__uid(const struct k8s_pod *pod);
const char *k8s_pod__node(const struct k8s_pod *pod);
/* The container name for a container id of this pod; NULL when not (yet) known. */
const char *k8s_pod__container(const struct k8s_pod *pod, const char *container_id);
/* The pod's label (or NULL). */
const char *k8s_pod__label(const struct k8s_pod *pod, const char *name);

/*
 * The pod as Prometheus' kubernetes_sd (role: pod) names it, for
 * relabel_configs written for Prometheus or Parca Agent:
 * __meta_kubernetes_namespace, _pod_name, _pod_uid, _pod_node_name,
 * _pod_phase, _pod_ip, _pod_label_<name> and _pod_labelpresent_<name>,
 * _pod_annotation_<name> and _pod_annotationpresent_<name> (names with
 * characters outside [a-zA-Z0-9_] turned into _), _pod_controller_kind and
 * _name, and, for container_id if it is one of the pod's,
 * _pod_container_name, _pod_container_id, _pod_container_image and
 * _pod_container_init. emit returns 0 or -errno, which stops the walk and
 * is returned.
 */
int k8s_pod__meta_labels(const struct k8s_pod *pod, const char *container_id,
			 int (*emit)(void *ctx, const char *name, const char *value), void *ctx);

#endif /* FORNAX_K8S_PODS_H */
