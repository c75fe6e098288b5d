/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FORNAX_LOG_H
#define FORNAX_LOG_H

#include <stdbool.h>
#include <time.h>

enum log_level {
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE, /* -vv: libbpf's own debug output too */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * For messages on per-sample or per-process paths: at most `burst` messages
 * per `interval_s` seconds from one call site; the number suppressed is
 * reported with the next message that gets through.
 */
struct log_ratelimit {
	time_t window_start;
	unsigned printed;
	unsigned suppressed;
};

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_warn_ratelimited(...)                                      \
	do {                                                           \
		static struct log_ratelimit _rl;                       \
		log_ratelimited(&_rl, LOG_WARN, __VA_ARGS__);          \
	} while (0)

/* Routes libbpf's messages into this log (warnings stay warnings, debug needs -vv). */
void log_setup_libbpf(void);

#endif /* FORNAX_LOG_H */
