// SPDX-License-Identifier: Apache-2.0
/*
 * The options of the remote store. Their values are checked by the upload
 * path's own rules (store_config.h) as they are read: a bad one stops the
 * start with exit status 2, not the first upload.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_config.h"


int apply_store(struct config *cfg, const char *value, const char *origin)
{
	struct store_url url;
	const char *why = "";
	int err = store__parse_url(value, &url, &why);

	if (err == -ENOMEM)
		return err;
	if (err)
		return config_invalid(origin, value, why);
	free(url.base);
	return config_set_string(&cfg->store, value);
}

static int add_label(struct config *cfg, const char *pair, const char *origin)
{
	const char *eq = strchr(pair, '='), *why = "";
	struct config_label *grown;
	char *name, *value;
	char msg[160];

	config_saw_store_flag(cfg, origin);
	if (!eq || eq == pair)
		return config_invalid(origin, pair, "is not a label (key=value)");
	name = strndup(pair, eq - pair);
	if (!name)
		return -ENOMEM;
	if (store__check_label_name(name, &why)) {
		snprintf(msg, sizeof(msg), "has a label name that %s", why);
		free(name);
		return config_invalid(origin, pair, msg);
	}
	/* Set per process by fornax, or by a flag of their own. */
	if (strcmp(name, "pid") == 0 || strcmp(name, "comm") == 0 ||
	    strcmp(name, "executable") == 0 || strcmp(name, "service_name") == 0) {
		snprintf(msg, sizeof(msg), "sets '%s', which fornax sets per process%s", name,
			 strcmp(name, "service_name") == 0 ? " (use --service-name)" : "");
		free(name);
		return config_invalid(origin, pair, msg);
	}
	for (size_t i = 0; i < cfg->n_labels; i++) {
		if (strcmp(cfg->labels[i].name, name) == 0) {
			snprintf(msg, sizeof(msg), "sets label '%s' a second time", name);
			free(name);
			return config_invalid(origin, pair, msg);
		}
	}
	if (store__check_label_value(eq + 1, &why)) {
		snprintf(msg, sizeof(msg), "has a value that %s", why);
		free(name);
		return config_invalid(origin, pair, msg);
	}
	value = strdup(eq + 1);
	grown = reallocarray(cfg->labels, cfg->n_labels + 1, sizeof(*grown));
	if (!value || !grown) {
		free(name);
		free(value);
		if (grown)
			cfg->labels = grown;
		return -ENOMEM;
	}
	cfg->labels = grown;
	cfg->labels[cfg->n_labels++] = (struct config_label){ .name = name, .value = value };
	return 0;
}

/* Repeatable on the command line; a comma-separated list in the environment. */
int apply_label(struct config *cfg, const char *value, const char *origin)
{
	char *copy, *tok, *save = NULL;
	int err = 0;

	if (!*value)
		return config_invalid(origin, NULL, "needs key=value");
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add_label(cfg, tok, origin);
	free(copy);
	return err;
}

int apply_service_name(struct config *cfg, const char *value, const char *origin)
{
	const char *why = "";

	config_saw_store_flag(cfg, origin);
	if (store__check_label_value(value, &why))
		return config_invalid(origin, value, why);
	return config_set_string(&cfg->service_name, value);
}

int apply_tenant(struct config *cfg, const char *value, const char *origin)
{
	const char *why = "";

	config_saw_store_flag(cfg, origin);
	if (store__check_tenant(value, &why))
		return config_invalid(origin, value, why);
	return config_set_string(&cfg->tenant, value);
}

int apply_bearer_token_file(struct config *cfg, const char *value, const char *origin)
{
	const char *why = "";
	char *token = NULL, msg[160];
	int err;

	config_saw_store_flag(cfg, origin);
	if (!*value)
		return config_invalid(origin, NULL, "needs a path");
	/* Read now so a missing or malformed file stops the start, not the first upload. */
	err = store__read_token(value, &token, &why);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (err == -ENOMEM)
		return err;
	if (err) {
		snprintf(msg, sizeof(msg), "%s", err == -EINVAL ? why : strerror(-err));
		return config_invalid(origin, value, msg);
	}
	return config_set_string(&cfg->bearer_token_file, value);
}

int apply_ca_file(struct config *cfg, const char *value, const char *origin)
{
	char msg[160];

	config_saw_store_flag(cfg, origin);
	if (!*value)
		return config_invalid(origin, NULL, "needs a path");
	if (access(value, R_OK) < 0) {
		snprintf(msg, sizeof(msg), "cannot be read: %s", strerror(errno));
		return config_invalid(origin, value, msg);
	}
	return config_set_string(&cfg->ca_file, value);
}

int apply_insecure_skip_verify(struct config *cfg, const char *value, const char *origin)
{
	config_saw_store_flag(cfg, origin);
	return config_apply_bool(&cfg->insecure_skip_verify, true, value, origin);
}

int apply_spool_dir(struct config *cfg, const char *value, const char *origin)
{
	config_saw_store_flag(cfg, origin);
	if (!*value)
		return config_invalid(origin, NULL, "needs a path");
	return config_set_string(&cfg->spool_dir, value);
}

/* "256M", "1G", "512KiB", "1048576": binary units. */
static int parse_size(const char *s, __u64 *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },	  { "B", 0 },	  { "K", 10 },	  { "KB", 10 },	  { "KiB", 10 },
		{ "k", 10 },	  { "M", 20 },	  { "MB", 20 },	  { "MiB", 20 },  { "G", 30 },
		{ "GB", 30 },	  { "GiB", 30 },  { "T", 40 },	  { "TB", 40 },	  { "TiB", 40 },
	};
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > (UINT64_MAX >> units[i].shift))
				return -ERANGE;
			*out = (__u64)v << units[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

int apply_spool_max_bytes(struct config *cfg, const char *value, const char *origin)
{
	__u64 v;

	config_saw_store_flag(cfg, origin);
	if (parse_size(value, &v))
		return config_invalid(origin, value, "is not a size (e.g. 64M, 1G)");
	if (v < MIN_SPOOL_MAX_BYTES)
		return config_invalid(origin, value, "is too small (minimum 4K)");
	cfg->spool_max_bytes = v;
	return 0;
}

int apply_store_timeout(struct config *cfg, const char *value, const char *origin)
{
	config_saw_store_flag(cfg, origin);
	return config_apply_duration(value, origin, MIN_STORE_TIMEOUT_NS, &cfg->store_timeout_ns);
}

int apply_store_connect_timeout(struct config *cfg, const char *value, const char *origin)
{
	config_saw_store_flag(cfg, origin);
	return config_apply_duration(value, origin, MIN_STORE_TIMEOUT_NS,
				    &cfg->store_connect_timeout_ns);
}

int apply_store_queue(struct config *cfg, const char *value, const char *origin)
{
	unsigned long long v;
	char why[64];

	config_saw_store_flag(cfg, origin);
	if (config_parse_uint(value, 1, MAX_STORE_QUEUE, &v) == 0) {
		cfg->store_queue = v;
		return 0;
	}
	snprintf(why, sizeof(why), "is not a number of windows (1..%d)", MAX_STORE_QUEUE);
	return config_invalid(origin, value, why);
}

int config_finish_store(struct config *cfg)
{
	struct store_url url;
	const char *why = "";
	int err;

	if (!cfg->store) {
		if (cfg->store_flag_seen[0]) {
			fprintf(stderr, "fornax: %s: needs --store\n", cfg->store_flag_seen);
			return -EINVAL;
		}
		return 0;
	}
	if (cfg->store_connect_timeout_ns > cfg->store_timeout_ns)
		cfg->store_connect_timeout_ns = cfg->store_timeout_ns;
	err = store__parse_url(cfg->store, &url, &why);
	if (err)
		return err;
	free(url.base);
	if (url.kind == STORE_PYROSCOPE && cfg->n_labels > STORE_MAX_USER_LABELS_PYROSCOPE) {
		fprintf(stderr, "fornax: --label: %zu labels, Pyroscope takes at most %d besides "
			"its own\n", cfg->n_labels, STORE_MAX_USER_LABELS_PYROSCOPE);
		return -EINVAL;
	}
	return 0;
}

