// SPDX-License-Identifier: Apache-2.0
#include "debuginfod.h"

#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

struct debuginfod {
	void *lib;
	debuginfod_client *client;
	debuginfod_client *(*begin)(void);
	int (*find_debuginfo)(debuginfod_client *, const unsigned char *, int, char **);
	void (*end)(debuginfod_client *);
};

struct debuginfod *debuginfod__new(void)
{
	struct debuginfod *d = calloc(1, sizeof(*d));
	int err = ENOENT;

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!d->lib)
		goto fail;
	d->begin = (debuginfod_client * (*)(void)) dlsym(d->lib, "debuginfod_begin");
	d->find_debuginfo = (int (*)(debuginfod_client *, const unsigned char *, int, char **))
		dlsym(d->lib, "debuginfod_find_debuginfo");
	d->end = (void (*)(debuginfod_client *))dlsym(d->lib, "debuginfod_end");
	if (!d->begin || !d->find_debuginfo || !d->end)
		goto fail;
	d->client = d->begin();
	if (!d->client) {
		err = ENOMEM;
		goto fail;
	}
	return d;
fail:
	debuginfod__free(d);
	errno = err;
	return NULL;
}

void debuginfod__free(struct debuginfod *d)
{
	if (!d)
		return;
	if (d->client)
		d->end(d->client);
	/*
	 * Not dlclose()d: libdebuginfod brings libcurl and its TLS library,
	 * whose process-wide state is set up once and never torn down;
	 * unloading them would leave that state unreachable (and reported as
	 * leaked). A process loads the library at most once.
	 */
	free(d);
}

int debuginfod__find_debuginfo(struct debuginfod *d, const unsigned char *build_id, size_t len,
			       char **path)
{
	int fd;

	*path = NULL;
	if (!d || !build_id || !len || len > 64)
		return -EINVAL;
	fd = d->find_debuginfo(d->client, build_id, (int)len, path);
	if (fd < 0) {
		free(*path);
		*path = NULL;
		return fd;
	}
	/* the library opens without O_CLOEXEC */
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}
