// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

#define RATELIMIT_INTERVAL_S 10
#define RATELIMIT_BURST 5

static enum log_level current_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
	[LOG_TRACE] = "trace",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

bool log_enabled(enum log_level level)
{
	return level <= current_level;
}

static void log_vmsg(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	/* One buffer and one write so lines from two threads never interleave. */
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "fornax: %s: ", level_names[level]);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	/* messages carry names from files anyone writes: no escape sequence reaches a terminal */
	(void)utf8_make_printable(line, "\n\t");
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	fprintf(stderr, "%s%s\n", line, suffix ? suffix : "");
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	char suffix[64] = "";
	time_t now = time(NULL);
	va_list ap;

	if (!log_enabled(level))
		return;
	if (now - rl->window_start >= RATELIMIT_INTERVAL_S) {
		rl->window_start = now;
		rl->printed = 0;
	}
	if (rl->printed >= RATELIMIT_BURST) {
		rl->suppressed++;
		return;
	}
	rl->printed++;
	if (rl->suppressed) {
		snprintf(suffix, sizeof(suffix), " (%u similar messages suppressed)", rl->suppressed);
		rl->suppressed = 0;
	}
	va_start(ap, fmt);
	log_vmsg(level, suffix, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/*
	 * The agent says in one line what failed and why; libbpf's account
	 * of it (a warning, then the verifier's page) is for -v and -vv.
	 */
	enum log_level ours = level == LIBBPF_WARN ? LOG_DEBUG : LOG_TRACE;

	if (!log_enabled(ours))
		return 0;
	log_vmsg(ours, NULL, fmt, ap);
	return 0;
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
