// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: a spool file as the upload thread meets it after a
 * restart — indexed by spool__open(), read by spool__read_oldest(), decoded
 * as a Window and encoded for both stores (built with -DFORNAX_FUZZ=ON and
 * clang). The input is the file's whole content, header included.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "spool.h"
#include "store_impl.h"
#include "upload.pb-c.h"

#define WINDOW_NAME "00000000000000000001-0000000000000000.window"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fornax-spool-fuzz-XXXXXX";

static void encode(const struct store_ops *ops, const Fornax__Upload__V1__Window *w)
{
	struct store s = { .ops = ops };
	size_t len;
	void *body;

	if (ops->encode(&s, w, &body, &len) == 0)
		free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int dir_fd = -1;
	Fornax__Upload__V1__Window *w;
	struct spool *s;
	__s64 t;
	size_t len;
	void *buf;
	int fd;

	if (dir_fd < 0) {
		if (!mkdtemp(dir))
			abort();
		dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	fd = openat(dir_fd, WINDOW_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	s = spool__open(&(struct spool_opts){ .dir = dir, .max_bytes = 64 << 20 }, NULL);
	if (!s)
		abort();
	if (spool__read_oldest(s, &buf, &len, &t) == 0) {
		w = fornax__upload__v1__window__unpack(NULL, len, buf);
		if (w) {
			encode(&store_parca_ops, w);
			encode(&store_pyroscope_ops, w);
			fornax__upload__v1__window__free_unpacked(w, NULL);
		}
		free(buf);
	}
	spool__close(s);
	return 0;
}
