// SPDX-License-Identifier: Apache-2.0
#include "curl_api.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/* CURLOPT_PROTOCOLS_STR came in 7.85; curl_multi_poll and _wakeup in 7.68. */
#define MIN_CURL_VERSION 0x075500

struct curl_api libcurl;

static const struct {
	const char *symbol;
	size_t offset;
} symbols[] = {
#define SYM(name) { "curl_" #name, offsetof(struct curl_api, name) }
	SYM(global_init), SYM(global_cleanup), SYM(version_info), SYM(free),
	SYM(easy_init), SYM(easy_cleanup), SYM(easy_setopt), SYM(easy_getinfo),
	SYM(easy_strerror), SYM(easy_unescape), SYM(multi_init), SYM(multi_cleanup),
	SYM(multi_add_handle), SYM(multi_remove_handle), SYM(multi_perform), SYM(multi_poll),
	SYM(multi_wakeup), SYM(multi_info_read), SYM(multi_strerror), SYM(slist_append),
	SYM(slist_free_all), SYM(url), SYM(url_cleanup), SYM(url_set), SYM(url_get),
#undef SYM
};

int curl_api__load(const char **why)
{
	static int result = 1; /* 1: not tried yet */
	static const char *reason;
	void *h;

	if (result <= 0) {
		*why = reason;
		return result;
	}
	/*
	 * libcurl reaches GnuTLS only through librtmp and libldap, which a
	 * store never uses; without this, GnuTLS initializes itself (and
	 * PKCS#11 modules) when loaded, for about 1 MiB of RSS. A value the
	 * user set is kept.
	 */
	setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
	h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		reason = "libcurl.so.4 cannot be loaded (install libcurl4)";
		result = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		void *fn = dlsym(h, symbols[i].symbol);

		if (!fn) {
			reason = "libcurl.so.4 lacks a function fornax needs (7.85 or newer is required)";
			result = -ENOTSUP;
			dlclose(h);
			goto out;
		}
		*(void **)((char *)&libcurl + symbols[i].offset) = fn;
	}
	if (libcurl.version_info(CURLVERSION_NOW)->version_num < MIN_CURL_VERSION) {
		reason = "libcurl is older than 7.85";
		result = -ENOTSUP;
		dlclose(h);
		goto out;
	}
	result = 0;
out:
	/* The handle stays open for the life of the process, as libcurl's state does. */
	*why = reason;
	return result;
}
