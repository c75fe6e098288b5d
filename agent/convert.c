// SPDX-License-Identifier: Apache-2.0
#include "convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "output.h"
#include "pprof_codec.h"
#include "top.h"

/* Larger compressed profiles than this are not profiles anyone means to draw. */
#define MAX_INPUT_BYTES (1ULL << 30)

/* Reads a whole file (or stdin for "-") into *buf. Returns 0 or -errno (EFBIG past the cap). */
static int read_input(const char *path, void **buf, size_t *len)
{
	int fd, err;

	if (strcmp(path, "-") == 0)
		return read_fd_all(STDIN_FILENO, MAX_INPUT_BYTES, buf, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_fd_all(fd, MAX_INPUT_BYTES, buf, len);
	close(fd);
	return err;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

int convert__main(int argc, char **argv, char **envp, const char *prog)
{
	struct pprof_decode_info info;
	struct config cfg;
	struct pprof *p = NULL;
	char unit[sizeof(info.sample_type)];
	void *buf = NULL;
	size_t len = 0;
	int status = 1, err;

	if (config__parse_convert(&cfg, argc, argv, envp))
		return 2;
	if (cfg.show_help) {
		config__print_convert_help(prog);
		config__free(&cfg);
		return 0;
	}
	log_set_level(cfg.verbosity < 0 ? LOG_WARN : LOG_INFO + cfg.verbosity);

	err = read_input(cfg.input, &buf, &len);
	if (err) {
		log_error("%s: %s", cfg.input, err == -EFBIG ? "larger than 1 GiB" : strerror(-err));
		goto cleanup;
	}
	p = pprof__decode(buf, len, &(struct pprof_decode_opts){ .sample_type = cfg.sample_index },
			  &info);
	if (!p) {
		log_error("%s: %s", cfg.input, info.error);
		goto cleanup;
	}
	if (info.samples_skipped)
		log_warn("%s: %llu samples with a value of 0 or less, ignoring", cfg.input,
			 (unsigned long long)info.samples_skipped);
	if (info.labels_skipped)
		log_warn("%s: %llu labels without a key, ignoring", cfg.input,
			 (unsigned long long)info.labels_skipped);
	/* "samples/count" counts samples; "alloc_space/bytes" counts bytes. */
	snprintf(unit, sizeof(unit), "%s",
		 strcmp(info.sample_unit, "count") == 0 ? info.sample_type : info.sample_unit);

	status = 0;
	for (size_t i = 0; i < cfg.n_outputs; i++) {
		const struct config_output *o = &cfg.outputs[i];

		err = output__write_opts(p, o->format, o->path, &(struct output_opts){
			.title = cfg.title ? cfg.title : base_name(cfg.input),
			.width = cfg.width,
			.icicle = cfg.icicle,
			.unit = unit,
		});
		if (err) {
			log_error("writing %s: %s", o->path, strerror(-err));
			status = 1;
			continue;
		}
		log_debug("wrote %s", o->path);
	}
	if (cfg.top > 0) {
		char *text;

		err = top__format(p, (size_t)cfg.top, cfg.top_by, unit, &text);
		if (err) {
			log_error("top: %s", strerror(-err));
			status = 1;
		} else {
			fputs(text, stderr);
			free(text);
		}
	}
cleanup:
	pprof__free(p);
	free(buf);
	config__free(&cfg);
	return status;
}
