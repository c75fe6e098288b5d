// SPDX-License-Identifier: Apache-2.0
/*
 * The store's flags, checked when the command line is read: the URL (parsed
 * here, so that reading the configuration never loads libcurl), label
 * names and values, the tenant, the token file.
 */
#include "store_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "safe_open.h"
#include "utf8.h"

#define MAX_TOKEN_BYTES (16 * 1024)
#define MAX_LABEL_VALUE 1024
#define MAX_TENANT 150
#define MAX_PORT 65535

static const struct {
	const char *prefix;
	enum store_kind kind;
	bool tls;
	const char *scheme;
	unsigned default_port;
} url_schemes[] = {
	{ "grpc://", STORE_PARCA, false, "http", 7070 },
	{ "grpcs://", STORE_PARCA, true, "https", 443 },
	{ "pyroscope+http://", STORE_PYROSCOPE, false, "http", 4040 },
	{ "pyroscope+https://", STORE_PYROSCOPE, true, "https", 443 },
};

#define N_SCHEMES (sizeof(url_schemes) / sizeof(url_schemes[0]))

/* RFC 3986 unreserved and sub-delims: what a host name or path segment may hold as is. */
static bool url_char(char c)
{
	return isalnum((unsigned char)c) || ((unsigned char)c < 0x80 && strchr("-._~!$&'()*+,;=", c));
}

/* A %XX escape at p. */
static bool pct_encoded(const char *p)
{
	return p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]);
}

/* host[:port] at [s, end): a name or an [IPv6] literal. *port is 0 when absent. */
static bool parse_authority(const char *s, const char *end, const char **host_end,
			    unsigned long *port)
{
	const char *p = s;

	*port = 0;
	if (p < end && *p == '[') {
		for (p++; p < end && (isxdigit((unsigned char)*p) || *p == ':' || *p == '.'); p++)
			;
		if (p == s + 1 || p == end || *p != ']')
			return false;
		p++;
	} else {
		for (; p < end && *p != ':'; p += *p == '%' ? 3 : 1) {
			if (!url_char(*p) && !(p + 2 < end && pct_encoded(p)))
				return false;
		}
		if (p == s)
			return false;
	}
	*host_end = p;
	if (p == end)
		return true;
	if (*p != ':')
		return false;
	if (++p == end)
		return false;
	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		*port = *port * 10 + (unsigned long)(*p - '0');
		if (*port > MAX_PORT)
			return false;
	}
	return *port > 0;
}

/* An absolute path of pchars, or nothing, at [s, end). */
static bool valid_path(const char *s, const char *end)
{
	for (const char *p = s; p < end; p++) {
		if (*p == '/' || *p == ':' || *p == '@' || url_char(*p))
			continue;
		if (p + 2 < end && pct_encoded(p)) {
			p += 2;
			continue;
		}
		return false;
	}
	return s == end || *s == '/';
}

int store__parse_url(const char *url, struct store_url *out, const char **why)
{
	const char *auth, *auth_end, *path, *path_end, *host_end;
	unsigned long port;
	size_t i;
	int n;

	*out = (struct store_url){ 0 };
	for (i = 0; i < N_SCHEMES; i++)
		if (strncasecmp(url, url_schemes[i].prefix, strlen(url_schemes[i].prefix)) == 0)
			break;
	if (i == N_SCHEMES) {
		*why = "is not a store URL (grpc://, grpcs://, pyroscope+http://, pyroscope+https://)";
		return -EINVAL;
	}
	auth = url + strlen(url_schemes[i].prefix);
	auth_end = auth + strcspn(auth, "/?#");
	path = auth_end;
	path_end = path + strcspn(path, "?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth))) {
		*why = "must not carry credentials (use --bearer-token-file)";
		return -EINVAL;
	}
	if (!parse_authority(auth, auth_end, &host_end, &port) || !valid_path(path, path_end)) {
		*why = "is not a valid URL (e.g. grpc://parca.example:7070)";
		return -EINVAL;
	}
	if (*path_end) {
		*why = "must not have a query or fragment";
		return -EINVAL;
	}
	/* A path prefix (a store behind a reverse proxy) keeps its slashes, minus the last. */
	while (path_end > path && path_end[-1] == '/')
		path_end--;
	if (url_schemes[i].kind == STORE_PARCA && path_end > path) {
		*why = "has a path, which gRPC does not use (give host:port only)";
		return -EINVAL;
	}
	n = port ? asprintf(&out->base, "%s://%.*s:%lu%.*s", url_schemes[i].scheme,
			    (int)(host_end - auth), auth, port, (int)(path_end - path), path)
		 : asprintf(&out->base, "%s://%.*s:%u%.*s", url_schemes[i].scheme,
			    (int)(host_end - auth), auth, url_schemes[i].default_port,
			    (int)(path_end - path), path);
	if (n < 0) {
		out->base = NULL;
		return -ENOMEM;
	}
	out->kind = url_schemes[i].kind;
	out->tls = url_schemes[i].tls;
	return 0;
}

int store__check_label_name(const char *name, const char **why)
{
	if (!*name) {
		*why = "is empty";
		return -EINVAL;
	}
	for (const char *p = name; *p; p++) {
		bool ok = isalpha((unsigned char)*p) || *p == '_' || (p > name && isdigit((unsigned char)*p));

		/* isalpha() follows the locale; label names are ASCII only. */
		if (!ok || (unsigned char)*p >= 0x80) {
			*why = "is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)";
			return -EINVAL;
		}
	}
	if (strncmp(name, "__", 2) == 0) {
		*why = "is reserved (names starting with __ belong to the store)";
		return -EINVAL;
	}
	return 0;
}

/* Well-formed UTF-8 (no overlong forms or surrogates), no control characters. */
static bool printable_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		long cp;
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

int store__check_label_value(const char *value, const char **why)
{
	size_t len = strlen(value);

	if (!len) {
		*why = "is empty";
		return -EINVAL;
	}
	if (len > MAX_LABEL_VALUE) {
		*why = "is longer than 1024 bytes";
		return -EINVAL;
	}
	if (!printable_utf8((const unsigned char *)value, len)) {
		*why = "is not printable UTF-8";
		return -EINVAL;
	}
	return 0;
}

int store__check_tenant(const char *tenant, const char **why)
{
	size_t len = strlen(tenant);

	if (!len || len > MAX_TENANT || strcmp(tenant, ".") == 0 || strcmp(tenant, "..") == 0) {
		*why = "is not a tenant id (1..150 characters, not . or ..)";
		return -EINVAL;
	}
	for (const char *p = tenant; *p; p++) {
		if ((unsigned char)*p < 0x80 && isalnum((unsigned char)*p))
			continue;
		if (!strchr("!-_.*'()", *p)) {
			*why = "is not a tenant id (letters, digits and !-_.*'() only)";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The token file, opened as a file others control is (lib/safe_open.h): it
 * may sit where others write, and a FIFO, a device or a terminal under its
 * name must neither block the agent nor become its terminal. Resolved in the
 * agent's own root, a relative path from the working directory.
 */
static int open_token(const char *path, const char **why)
{
	struct safe_open_opts opts = { .max_size = MAX_TOKEN_BYTES };
	char *cwd, *abs = NULL;
	int root, fd;

	if (path[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return -errno;
		if (asprintf(&abs, "%s/%s", cwd, path) < 0)
			abs = NULL;
		free(cwd);
		if (!abs)
			return -ENOMEM;
		path = abs;
	}
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	fd = root < 0 ? -errno : safe_open__in_root(root, path, &opts, NULL);
	if (root >= 0)
		close(root);
	free(abs);
	if (fd == -EBADFD || fd == -EISDIR) {
		*why = "is not a regular file";
		return -EINVAL;
	}
	if (fd == -EFBIG) {
		*why = "is larger than 16 KiB";
		return -EINVAL;
	}
	return fd;
}

int store__read_token(const char *path, char **token, const char **why)
{
	char *buf = NULL;
	size_t len = 0, start = 0;
	int fd, err;

	*token = NULL;
	fd = open_token(path, why);
	if (fd < 0)
		return fd;
	err = read_fd_all(fd, MAX_TOKEN_BYTES, (void **)&buf, &len);
	if (err == -EFBIG) {
		*why = "is larger than 16 KiB"; /* grew since it was opened */
		err = -EINVAL;
	}
	if (err)
		goto cleanup;
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	buf[len] = '\0';
	if (start == len) {
		*why = "is empty";
		err = -EINVAL;
		goto cleanup;
	}
	for (size_t i = start; i < len; i++) {
		if ((unsigned char)buf[i] < 0x21 || buf[i] == 0x7f) {
			*why = "holds more than one token (whitespace or control characters inside)";
			err = -EINVAL;
			goto cleanup;
		}
	}
	memmove(buf, buf + start, len - start + 1);
	*token = buf;
	buf = NULL;
	err = 0;
cleanup:
	free(buf);
	close(fd);
	return err;
}
