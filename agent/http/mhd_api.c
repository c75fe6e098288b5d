// SPDX-License-Identifier: Apache-2.0
#include "mhd_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

struct mhd_api libmhd;

static const struct {
	const char *symbol;
	size_t offset;
} symbols[] = {
#define SYM(name) { "MHD_" #name, offsetof(struct mhd_api, name) }
	SYM(start_daemon), SYM(stop_daemon), SYM(create_response_from_buffer),
	SYM(destroy_response), SYM(add_response_header), SYM(queue_response),
	SYM(get_connection_values),
#undef SYM
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int result;
static const char *reason;

static void load(void)
{
	void *h = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		reason = "libmicrohttpd.so.12 cannot be loaded (install libmicrohttpd12)";
		result = -ENOENT;
		return;
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *fn = dlsym(h, symbols[i].symbol);

		if (!fn) {
			reason = "libmicrohttpd.so.12 lacks a function fornax needs";
			result = -ENOTSUP;
			dlclose(h);
			return;
		}
		*(void **)((char *)&libmhd + symbols[i].offset) = fn;
	}
	/* The handle stays open for the life of the process, as the daemon's threads may. */
}

int mhd_api__load(const char **why)
{
	pthread_once(&once, load);
	*why = reason;
	return result;
}
