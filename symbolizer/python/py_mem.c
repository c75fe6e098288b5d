// SPDX-License-Identifier: Apache-2.0
#include "py_mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

/* PyASCIIObject.state bits: interned (2), kind (3), compact, ascii. */
#define STATE_KIND(s) (((s) >> 2) & 7)
#define STATE_COMPACT(s) (((s) >> 5) & 1)
#define STATE_ASCII(s) (((s) >> 6) & 1)
/*
 * Room for any header the layouts name (3.11's data.any ends at 80). Reads
 * take only the fields they need: a small object may end a mapping.
 */
#define HEADER_READ 80

int py_mem__read(__u32 pid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (!len)
		return 0;
	if (!addr || addr + len < addr)
		return -EFAULT;
	n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : errno == EPERM ? -EPERM : -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

int py_mem__read_at(const struct py_mem *m, __u64 addr, void *buf, size_t len)
{
	for (size_t i = 0; i < m->n_copies; i++) {
		const struct py_mem_copy *c = &m->copies[i];

		if (addr >= c->addr && addr - c->addr <= c->len && len <= c->len - (addr - c->addr)) {
			memcpy(buf, (const char *)c->data + (addr - c->addr), len);
			return 0;
		}
	}
	return py_mem__read(m->pid, addr, buf, len);
}

static __u64 get_u64(const unsigned char *hdr, __u32 off)
{
	__u64 v;

	memcpy(&v, hdr + off, sizeof(v));
	return v;
}

/* Reads the first len bytes of an object and checks its type. */
static int read_header(const struct py_mem *m, __u64 addr, __u64 type, unsigned char *hdr,
		       size_t len)
{
	int err;

	if (len > HEADER_READ || m->layout->ob_type + 8 > len)
		return -EINVAL;
	err = py_mem__read_at(m, addr, hdr, len);
	if (err)
		return err;
	if (type && get_u64(hdr, m->layout->ob_type) != type)
		return -EFAULT;
	return 0;
}

size_t py_utf8_put(char *buf, __u32 cp)
{
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | (cp >> 6));
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xe0 | (cp >> 12));
		buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		buf[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	buf[0] = (char)(0xf0 | (cp >> 18));
	buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	buf[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int py_mem__read_str(const struct py_mem *m, __u64 addr, size_t max_chars, char **out)
{
	const struct py_layout *l = m->layout;
	unsigned char hdr[HEADER_READ], *raw = NULL;
	__u64 length, data;
	__u32 state, kind;
	char *s = NULL, *p;
	int err;

	*out = NULL;
	err = read_header(m, addr, m->unicode_type, hdr,
			  (l->unicode_state > l->unicode_length ? l->unicode_state + 4
								: l->unicode_length + 8));
	if (err)
		return err;
	length = get_u64(hdr, l->unicode_length);
	memcpy(&state, hdr + l->unicode_state, sizeof(state));
	kind = STATE_KIND(state);
	if (kind != 1 && kind != 2 && kind != 4)
		return -EFAULT;
	if (length > max_chars)
		return -E2BIG;
	if (STATE_COMPACT(state))
		data = addr + (STATE_ASCII(state) ? l->unicode_ascii_size : l->unicode_compact_size);
	else if ((err = py_mem__read_at(m, addr + l->unicode_data_any, &data, sizeof(data))))
		return err;
	raw = malloc(length * kind + 1);
	s = malloc(length * 4 + 1);
	if (!raw || !s) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = py_mem__read_at(m, data, raw, length * kind);
	if (err)
		goto cleanup;
	p = s;
	for (size_t i = 0; i < length; i++) {
		__u32 cp = 0;

		if (kind == 1) {
			cp = raw[i];
		} else if (kind == 2) {
			__u16 u;

			memcpy(&u, raw + 2 * i, 2);
			cp = u;
		} else {
			memcpy(&cp, raw + 4 * i, 4);
		}
		/* An ASCII-flagged string holds only ASCII; anything else is not a str. */
		if (STATE_ASCII(state) && cp > 0x7f) {
			err = -EFAULT;
			goto cleanup;
		}
		p += py_utf8_put(p, cp);
	}
	*p = '\0';
	*out = s;
	s = NULL;
	err = 0;

cleanup:
	free(raw);
	free(s);
	return err;
}

int py_mem__read_bytes(const struct py_mem *m, __u64 addr, size_t max_len, void **out,
		       size_t *len)
{
	unsigned char hdr[HEADER_READ];
	__s64 size;
	void *buf;
	int err;

	*out = NULL;
	err = read_header(m, addr, m->bytes_type, hdr, m->layout->ob_size + 8);
	if (err)
		return err;
	size = (__s64)get_u64(hdr, m->layout->ob_size);
	if (size < 0)
		return -EFAULT;
	if ((__u64)size > max_len)
		return -E2BIG;
	buf = malloc(size ? (size_t)size : 1);
	if (!buf)
		return -ENOMEM;
	err = py_mem__read_at(m, addr + m->layout->bytes_sval, buf, (size_t)size);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = (size_t)size;
	return 0;
}
