// SPDX-License-Identifier: Apache-2.0
/* --http-address: "HOST:PORT", "[V6]:PORT" or ":PORT", and the listening socket. */
#include "http_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int http_address__parse(const char *address, struct sockaddr_storage *addr, socklen_t *len,
			const char **why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], service[8];
	const char *colon;
	unsigned port;
	size_t host_len;
	int err;

	*why = "expected HOST:PORT, [IPv6]:PORT or :PORT";
	if (!address)
		return -EINVAL;
	if (address[0] == '[') {
		const char *close = strchr(address, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		host_len = (size_t)(close - address - 1);
		if (!host_len || host_len >= sizeof(host))
			return -EINVAL;
		memcpy(host, address + 1, host_len);
		colon = close + 1;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		colon = strrchr(address, ':');
		if (!colon || memchr(address, ':', (size_t)(colon - address)))
			return -EINVAL;
		host_len = (size_t)(colon - address);
		if (host_len >= sizeof(host))
			return -EINVAL;
		memcpy(host, address, host_len);
	}
	host[host_len] = '\0';
	if (parse_port(colon + 1, &port)) {
		*why = "the port is not a number in 0..65535";
		return -EINVAL;
	}
	snprintf(service, sizeof(service), "%u", port);
	if (!host_len) {
		/* every address: IPv6 and IPv4 on one dual-stack socket where the host has IPv6 */
		hints.ai_flags |= AI_PASSIVE;
		hints.ai_family = AF_INET6;
		err = getaddrinfo(NULL, service, &hints, &res);
		if (err) {
			hints.ai_family = AF_INET;
			err = getaddrinfo(NULL, service, &hints, &res);
		}
	} else {
		err = getaddrinfo(host, service, &hints, &res);
	}
	if (err || !res) {
		*why = err ? gai_strerror(err) : "no address";
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int http_listen(const struct sockaddr_storage *addr, socklen_t len, int *port)
{
	union {
		struct sockaddr_storage ss;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} bound;
	socklen_t bound_len = sizeof(bound);
	int fd, one = 1, zero = 0, err;

	fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a restarted agent binds again while the old connections linger in TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)addr)->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)addr, len) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&bound.ss, &bound_len)) {
		err = -errno;
		close(fd);
		return err;
	}
	*port = ntohs(bound.ss.ss_family == AF_INET6 ? bound.in6.sin6_port : bound.in.sin_port);
	return fd;
}
