/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd, loaded with dlopen() when --http-address is set, and
 * called through this table. Debian's libmicrohttpd links GnuTLS and its
 * dependencies (p11-kit, nettle, gmp, libunistring...) and initializes
 * GnuTLS when loaded: about 2.3 MiB of RSS that an agent without the
 * endpoint, the default, does not pay. The types come from
 * <microhttpd.h>, so every call is checked against its prototypes.
 */
#ifndef FORNAX_MHD_API_H
#define FORNAX_MHD_API_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#define MHD_API_FN(name) __typeof__(MHD_##name) *name

struct mhd_api {
	MHD_API_FN(start_daemon);
	MHD_API_FN(stop_daemon);
	MHD_API_FN(create_response_from_buffer);
	MHD_API_FN(destroy_response);
	MHD_API_FN(add_response_header);
	MHD_API_FN(queue_response);
	MHD_API_FN(get_connection_values);
};

#undef MHD_API_FN

/* Valid once mhd_api__load() returned 0. */
extern struct mhd_api libmhd;

/*
 * Loads libmicrohttpd (once; later calls return the first outcome).
 * Returns 0, or -ENOENT/-ENOTSUP with *why a static reason.
 */
int mhd_api__load(const char **why);

#endif /* FORNAX_MHD_API_H */
