/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the symbolizer tests: fixture paths, source markers,
 * spawning fixture programs, and independent readers (readelf, nm,
 * addr2line from binutils) to compare against.
 */
#ifndef FORNAX_SYMBOLIZER_TEST_UTIL_H
#define FORNAX_SYMBOLIZER_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FX_DIR
#error "FX_DIR must name the fixture build directory"
#endif
#ifndef FX_SRC_DIR
#error "FX_SRC_DIR must name the fixture source directory"
#endif

extern char **environ;

/* Caller frees. */
static inline char *fx_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", FX_DIR, name) < 0)
		return NULL;
	return p;
}

static inline char *fx_src_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", FX_SRC_DIR, name) < 0)
		return NULL;
	return p;
}

static inline bool ends_with(const char *s, const char *suffix)
{
	size_t a, b;

	if (!s || !suffix)
		return false;
	a = strlen(s);
	b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Line number of the first line of fixture source src holding marker, 0 if none. */
static inline unsigned marker_line(const char *src, const char *marker)
{
	char *path = fx_src_path(src), *line = NULL;
	unsigned n = 0, found = 0;
	size_t cap = 0;
	FILE *f;

	f = path ? fopen(path, "re") : NULL;
	free(path);
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		n++;
		if (strstr(line, marker)) {
			found = n;
			break;
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Output of a shell command (trusted test input), malloc'd; NULL on failure. */
static inline char *run_capture(const char *cmd)
{
	char *out = NULL;
	size_t len = 0;
	FILE *p, *mem;
	char buf[4096];
	size_t n;

	mem = open_memstream(&out, &len);
	if (!mem)
		return NULL;
	p = popen(cmd, "re");
	if (!p) {
		fclose(mem);
		free(out);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		fwrite(buf, 1, n, mem);
	if (pclose(p) != 0) {
		fclose(mem);
		free(out);
		return NULL;
	}
	fclose(mem);
	return out;
}

/* Build-id as binutils readelf -n prints it; malloc'd, NULL if none. */
static inline char *readelf_build_id(const char *path)
{
	char *cmd, *out, *p, *id = NULL;
	size_t n;

	if (asprintf(&cmd, "readelf -n '%s' 2>/dev/null", path) < 0)
		return NULL;
	out = run_capture(cmd);
	free(cmd);
	if (!out)
		return NULL;
	p = strstr(out, "Build ID: ");
	if (p) {
		p += strlen("Build ID: ");
		n = strspn(p, "0123456789abcdef");
		id = strndup(p, n);
	}
	free(out);
	return id;
}

/* st_value and st_size of a defined symbol per binutils nm; 0 if found. */
static inline int nm_symbol(const char *path, const char *name, unsigned long long *addr,
			    unsigned long long *size)
{
	char *cmd, *out, *line, *save = NULL;
	int err = -ENOENT;

	if (asprintf(&cmd, "nm -S --defined-only '%s'", path) < 0)
		return -ENOMEM;
	out = run_capture(cmd);
	free(cmd);
	if (!out)
		return -EIO;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, s;
		char type, sym[256];

		if (sscanf(line, "%llx %llx %c %255s", &a, &s, &type, sym) == 4 &&
		    strcmp(sym, name) == 0) {
			*addr = a;
			*size = s;
			err = 0;
			break;
		}
	}
	free(out);
	return err;
}

/*
 * binutils addr2line -i -f -e path addr: alternating function and
 * file:line lines, innermost first. Returns the malloc'd output.
 */
static inline char *addr2line_inlines(const char *path, unsigned long long vaddr)
{
	char *cmd, *out;

	if (asprintf(&cmd, "addr2line -i -f -e '%s' 0x%llx", path, vaddr) < 0)
		return NULL;
	out = run_capture(cmd);
	free(cmd);
	return out;
}

#define FX_MAX_ADDRS 16

/* A running fixture program and the "name 0xaddr" lines it printed. */
struct fx_proc {
	pid_t pid;
	int in_fd; /* its stdin: closing it makes it exit */
	size_t n;
	char names[FX_MAX_ADDRS][32];
	unsigned long long addrs[FX_MAX_ADDRS];
};

static inline int fx_spawn(const char *name, struct fx_proc *fx)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err;
	posix_spawn_file_actions_t fa;
	char *path = fx_path(name), *line = NULL;
	char *argv[] = { path, NULL };
	size_t cap = 0;
	FILE *f = NULL;

	memset(fx, 0, sizeof(*fx));
	fx->pid = -1;
	fx->in_fd = -1;
	if (!path || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		err = -errno;
		goto cleanup;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	err = -posix_spawn(&fx->pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		goto cleanup;
	close(in[0]);
	in[0] = -1;
	close(out[1]);
	out[1] = -1;
	fx->in_fd = in[1];
	in[1] = -1;
	f = fdopen(out[0], "r");
	if (!f) {
		err = -errno;
		goto cleanup;
	}
	out[0] = -1;
	err = -EPROTO;
	while (getline(&line, &cap, f) > 0) {
		unsigned long long a;
		char nm[32];

		if (strncmp(line, "ready", 5) == 0) {
			err = 0;
			break;
		}
		if (sscanf(line, "%31s %llx", nm, &a) == 2 && fx->n < FX_MAX_ADDRS) {
			memcpy(fx->names[fx->n], nm, sizeof(nm));
			fx->addrs[fx->n++] = a;
		}
	}
cleanup:
	free(line);
	if (f)
		fclose(f);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	free(path);
	return err;
}

static inline unsigned long long fx_addr(const struct fx_proc *fx, const char *name)
{
	for (size_t i = 0; i < fx->n; i++) {
		if (strcmp(fx->names[i], name) == 0)
			return fx->addrs[i];
	}
	return 0;
}

/* Closes its stdin and reaps it. */
static inline void fx_stop(struct fx_proc *fx)
{
	int status;

	if (fx->in_fd >= 0)
		close(fx->in_fd);
	fx->in_fd = -1;
	if (fx->pid > 0)
		waitpid(fx->pid, &status, 0);
	fx->pid = -1;
}

/* Start time of pid in ns since boot, as the BPF side reports it (tick precision). */
static inline unsigned long long proc_start_ns(pid_t pid)
{
	char path[64], buf[1024], *p, *save = NULL, *tok;
	unsigned long long ticks = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (i = 3, tok = strtok_r(p + 1, " ", &save); tok && i < 22; i++)
		tok = strtok_r(NULL, " ", &save);
	if (!tok)
		return 0;
	ticks = strtoull(tok, NULL, 10);
	return ticks * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

#endif /* FORNAX_SYMBOLIZER_TEST_UTIL_H */
