// SPDX-License-Identifier: Apache-2.0
/* The value parsers every option shares: numbers, booleans, durations, strings. */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_invalid(const char *origin, const char *value, const char *why)
{
	char shown[256];
	size_t n = 0;

	/* One line, whatever the value holds: control characters are shown escaped. */
	for (const char *p = value ? value : ""; *p && n + 5 < sizeof(shown); p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			n += snprintf(shown + n, sizeof(shown) - n, "\\x%02x", (unsigned char)*p);
		else
			shown[n++] = *p;
	}
	shown[n] = '\0';
	fprintf(stderr, "fornax: %s: %s%s%s%s\n", origin, value ? "'" : "", shown,
		value ? "' " : "", why);
	return -EINVAL;
}

int config_parse_uint(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config__parse_duration(const char *s, __u64 *ns)
{
	static const struct {
		const char *suffix;
		__u64 ns;
	} units[] = {
		/* "ms" before "m" and "s" so the longest suffix wins. */
		{ "ms", NSEC_PER_MSEC },
		{ "s", NSEC_PER_SEC },
		{ "m", 60 * NSEC_PER_SEC },
		{ "h", 3600 * NSEC_PER_SEC },
	};
	__u64 total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		unsigned long long v;
		char *end;
		size_t i;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno)
			return -ERANGE;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].suffix);

			if (strncmp(end, units[i].suffix, len) == 0 &&
			    !isalpha((unsigned char)end[len]))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		if (v > (MAX_DURATION_NS - total) / units[i].ns)
			return -ERANGE;
		total += v * units[i].ns;
		p = end + strlen(units[i].suffix);
	}
	*ns = total;
	return 0;
}

int config_apply_duration(const char *value, const char *origin, __u64 min_ns, __u64 *out)
{
	int err = config__parse_duration(value, out);

	if (err == -ERANGE)
		return config_invalid(origin, value, "is too large (at most 8760h, a year)");
	if (err)
		return config_invalid(origin, value, "is not a duration (use e.g. 500ms, 30s, 2m)");
	if (*out < min_ns) {
		char why[64];

		snprintf(why, sizeof(why), "is too short (minimum %llums)",
			 (unsigned long long)(min_ns / NSEC_PER_MSEC));
		return config_invalid(origin, value, why);
	}
	return 0;
}


int config_apply_bool(bool *field, bool set_to, const char *value, const char *origin)
{
	bool v;

	if (!value) {
		*field = set_to;
		return 0;
	}
	if (config_parse_bool(value, &v))
		return config_invalid(origin, value, "is not a boolean (true/false)");
	*field = v ? set_to : !set_to;
	return 0;
}


/* Store-only flags remember that they were given: without --store they are a mistake. */
void config_saw_store_flag(struct config *cfg, const char *origin)
{
	if (!cfg->store_flag_seen[0])
		snprintf(cfg->store_flag_seen, sizeof(cfg->store_flag_seen), "%s", origin);
}

int config_set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}
