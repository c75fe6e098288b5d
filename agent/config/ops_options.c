// SPDX-License-Identifier: Apache-2.0
/*
 * The options of a running agent's operation: the config file, the HTTP
 * endpoint, Kubernetes pod names; and the config file read into the same
 * option table the command line and the environment go through.
 */
#include "config_impl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "relabel.h"

int apply_config(struct config *cfg, const char *value, const char *origin)
{
	if (!*value)
		return config_invalid(origin, NULL, "needs a path");
	return config_set_string(&cfg->config_path, value);
}

int apply_http_address(struct config *cfg, const char *value, const char *origin)
{
	if (!*value || !strchr(value, ':'))
		return config_invalid(origin, value, "is not HOST:PORT (127.0.0.1:7071, :7071)");
	return config_set_string(&cfg->http_address, value);
}

int apply_kubernetes(struct config *cfg, const char *value, const char *origin)
{
	return config_apply_bool(&cfg->kubernetes, true, value, origin);
}

int apply_kubernetes_api(struct config *cfg, const char *value, const char *origin)
{
	if (strncmp(value, "https://", 8) && strncmp(value, "http://", 7))
		return config_invalid(origin, value, "is not an http:// or https:// URL");
	return config_set_string(&cfg->kubernetes_api, value);
}

int apply_node_name(struct config *cfg, const char *value, const char *origin)
{
	if (!*value)
		return config_invalid(origin, NULL, "needs a node name");
	return config_set_string(&cfg->node_name, value);
}

/* Keys whose YAML list or mapping means several values. */
static unsigned key_flags(const char *name)
{
	static const char *const lists[] = { "pid", "cgroup", "debug-dir", "output", "label" };

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (strcmp(name, lists[i]) == 0)
			return strcmp(name, "label") == 0 ? CONFIG_FILE_MAP | CONFIG_FILE_LIST
							  : CONFIG_FILE_LIST;
	return 0;
}

/*
 * Reads cfg->config_path and applies its pairs through the option table
 * (the file sits below the environment and the command line, which are
 * applied after it), keeping its relabel rules in cfg.
 */
int config_apply_file(struct config *cfg)
{
	struct config_file_key keys[64];
	struct config_file *cf;
	size_t n = 0;
	char err[512];
	int ret = 0;

	for (size_t i = 0; i < config_n_options && n < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct option_spec *spec = &config_options[i];

		if (spec->flags & OPT_NO_ENV || strcmp(spec->name, "config") == 0)
			continue;
		keys[n++] = (struct config_file_key){ spec->name, key_flags(spec->name) };
	}
	cf = config_file__load(cfg->config_path, &(struct config_file_opts){ .keys = keys,
									 .n_keys = n },
			       err, sizeof(err));
	if (!cf) {
		ret = errno == ENOMEM ? -ENOMEM : -EINVAL;
		fprintf(stderr, "fornax: --config: %s\n", err);
		return ret;
	}
	for (size_t i = 0; i < config_file__count(cf) && !ret; i++) {
		const struct config_file_pair *p = config_file__pair(cf, i);

		for (size_t j = 0; j < config_n_options; j++) {
			const struct option_spec *spec = &config_options[j];

			if (strcmp(spec->name, p->key) == 0) {
				ret = spec->apply(cfg, p->value, p->origin);
				break;
			}
		}
	}
	if (!ret) {
		relabel_rules__free(cfg->relabel);
		cfg->relabel = config_file__take_relabel_rules(cf);
	}
	config_file__free(cf);
	return ret;
}

/* The node name: --node-name, else the NODE_NAME a DaemonSet sets from spec.nodeName. */
int config_finish_kubernetes(struct config *cfg, char **envp)
{
	const char *node = NULL;
	size_t len = strlen("NODE_NAME=");

	if (!cfg->kubernetes)
		return 0;
	for (char **e = envp; !cfg->node_name && e && *e; e++)
		if (strncmp(*e, "NODE_NAME=", len) == 0 && (*e)[len])
			node = *e + len;
	if (!cfg->node_name && node && config_set_string(&cfg->node_name, node))
		return -ENOMEM;
	if (!cfg->node_name) {
		fprintf(stderr, "fornax: --kubernetes: needs the node's name: --node-name, "
			"FORNAX_NODE_NAME or NODE_NAME (the downward API's spec.nodeName)\n");
		return -EINVAL;
	}
	return 0;
}

static bool same_string(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

int config__reload(struct config *cfg, int argc, char **argv, char **envp)
{
	struct config fresh;
	struct relabel_rules *old;

	if (config__parse(&fresh, argc, argv, envp)) {
		fprintf(stderr, "fornax: SIGHUP: the configuration has errors (above): keeping the "
			"running one\n");
		return -EINVAL;
	}
	old = cfg->relabel;
	cfg->relabel = fresh.relabel;
	fresh.relabel = old;
	cfg->verbosity = fresh.verbosity;
	if (fresh.frequency != cfg->frequency || fresh.interval_ns != cfg->interval_ns ||
	    fresh.drain_interval_ns != cfg->drain_interval_ns ||
	    fresh.kubernetes != cfg->kubernetes || !same_string(fresh.store, cfg->store) ||
	    !same_string(fresh.output, cfg->output) ||
	    !same_string(fresh.http_address, cfg->http_address))
		fprintf(stderr, "fornax: SIGHUP: sampling, output, store and endpoint settings "
			"take effect at the next start; relabel_configs and verbosity now\n");
	config__free(&fresh);
	return 0;
}
