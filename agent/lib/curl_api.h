/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl, loaded with dlopen() when a store is configured, and called
 * through this table. Only an agent with --store pays for it: Debian's
 * libcurl maps some 28 libraries (TLS, Kerberos, LDAP, SSH, IDN...), which
 * cost about 6 MiB of RSS just by being loaded and relocated. The types come
 * from <curl/curl.h>, so every call is checked against libcurl's prototypes.
 */
#ifndef FORNAX_CURL_API_H
#define FORNAX_CURL_API_H

#include <curl/curl.h>

#define CURL_API_FN(name) __typeof__(curl_##name) *name

struct curl_api {
	CURL_API_FN(global_init);
	CURL_API_FN(global_cleanup);
	CURL_API_FN(version_info);
	CURL_API_FN(free);
	CURL_API_FN(easy_init);
	CURL_API_FN(easy_cleanup);
	CURL_API_FN(easy_setopt);
	CURL_API_FN(easy_getinfo);
	CURL_API_FN(easy_strerror);
	CURL_API_FN(easy_unescape);
	CURL_API_FN(multi_init);
	CURL_API_FN(multi_cleanup);
	CURL_API_FN(multi_add_handle);
	CURL_API_FN(multi_remove_handle);
	CURL_API_FN(multi_perform);
	CURL_API_FN(multi_poll);
	CURL_API_FN(multi_wakeup);
	CURL_API_FN(multi_info_read);
	CURL_API_FN(multi_strerror);
	CURL_API_FN(slist_append);
	CURL_API_FN(slist_free_all);
	CURL_API_FN(url);
	CURL_API_FN(url_cleanup);
	CURL_API_FN(url_set);
	CURL_API_FN(url_get);
};

#undef CURL_API_FN

/* Valid once curl_api__load() returned 0. */
extern struct curl_api libcurl;

/*
 * Loads libcurl (once; later calls return the first outcome) and checks it
 * is recent enough. Returns 0, or -ENOENT/-ENOTSUP with *why a static
 * reason. Call it before any thread starts.
 */
int curl_api__load(const char **why);

#endif /* FORNAX_CURL_API_H */
