/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a store's flags must be: the URL, label names and values, the
 * tenant, the token file. config.c checks them while it reads the command
 * line, so a bad value is refused at startup with exit status 2; none of
 * this loads libcurl (a missing libcurl is said when the uploader starts).
 */
#ifndef FORNAX_STORE_CONFIG_H
#define FORNAX_STORE_CONFIG_H

#include <stdbool.h>

enum store_kind {
	STORE_PARCA,     /* grpc://, grpcs:// */
	STORE_PYROSCOPE, /* pyroscope+http://, pyroscope+https:// */
};

struct store_url {
	enum store_kind kind;
	bool tls;
	/* "http[s]://host:port[/prefix]" with no trailing slash; malloc'ed. */
	char *base;
};

/*
 * Parses --store. Returns 0, -EINVAL with *why set to a static reason, or
 * -ENOMEM. The caller frees out->base.
 */
int store__parse_url(const char *url, struct store_url *out, const char **why);

/* Prometheus label name rules, plus: "__" prefixes are reserved. 0 or -EINVAL with *why. */
int store__check_label_name(const char *name, const char **why);
/* Non-empty, at most 1024 bytes, UTF-8, no control characters. 0 or -EINVAL with *why. */
int store__check_label_value(const char *value, const char **why);
/* Cortex/Pyroscope tenant ids: 1..150 of [A-Za-z0-9!-_.*'()], not "." or "..". */
int store__check_tenant(const char *tenant, const char **why);
/*
 * Reads a bearer token: the file's content without trailing whitespace;
 * non-empty, at most 16 KiB, no control characters. 0, -errno from the file,
 * or -EINVAL with *why. *token is malloc'ed.
 */
int store__read_token(const char *path, char **token, const char **why);

/*
 * Pyroscope accepts 30 labels per series. fornax sets up to 9 (__name__,
 * service_name, hostname, pid, comm, executable, and from sample labels
 * cgroup, container_id, pod_uid); one is left for growth.
 */
#define STORE_MAX_USER_LABELS_PYROSCOPE 20

#endif /* FORNAX_STORE_CONFIG_H */
