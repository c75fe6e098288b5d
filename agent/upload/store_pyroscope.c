// SPDX-License-Identifier: Apache-2.0
/*
 * Pyroscope: Connect unary POST /push.v1.PusherService/Push with
 * Content-Type application/proto and the bare PushRequest as the body
 * (HTTP/1.1 for pyroscope+http://, ALPN for pyroscope+https://). Success is
 * HTTP 200 with a PushResponse; an error is a non-200 status with a JSON
 * body {"code": "...", "message": "..."}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_api.h"
#include "push.pb-c.h"
#include "store_impl.h"
#include "timeconst.h"

#define PYROSCOPE_PROFILE_NAME "process_cpu"

static int label_cmp(const void *a, const void *b)
{
	const Push__V1__LabelPair *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int pyroscope_encode(const struct store *s, const Fornax__Upload__V1__Window *w,
			    void **body, size_t *len)
{
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	Push__V1__RawProfileSeries *series = NULL, **series_ptrs = NULL;
	Push__V1__LabelPair *labels = NULL, **label_ptrs = NULL;
	Push__V1__RawSample *samples = NULL, **sample_ptrs = NULL;
	char (*ids)[37] = NULL;
	size_t n = w->n_series, n_labels = 0, l = 0, size;
	void *out = NULL;
	int err = -ENOMEM;

	(void)s;
	for (size_t i = 0; i < n; i++)
		n_labels += w->series[i]->n_labels + 2;
	series = calloc(n ?: 1, sizeof(*series));
	series_ptrs = calloc(n ?: 1, sizeof(*series_ptrs));
	samples = calloc(n ?: 1, sizeof(*samples));
	sample_ptrs = calloc(n ?: 1, sizeof(*sample_ptrs));
	ids = calloc(n ?: 1, sizeof(*ids));
	labels = calloc(n_labels ?: 1, sizeof(*labels));
	label_ptrs = calloc(n_labels ?: 1, sizeof(*label_ptrs));
	if (!series || !series_ptrs || !samples || !sample_ptrs || !ids || !labels || !label_ptrs)
		goto cleanup;

	for (size_t i = 0; i < n; i++) {
		const Fornax__Upload__V1__Series *src = w->series[i];
		size_t first = l;

		push__v1__label_pair__init(&labels[l]);
		labels[l].name = "__name__";
		labels[l].value = PYROSCOPE_PROFILE_NAME;
		label_ptrs[l] = &labels[l];
		l++;
		push__v1__label_pair__init(&labels[l]);
		labels[l].name = "service_name";
		labels[l].value = src->service_name && *src->service_name ? src->service_name
									  : (char *)"unknown";
		label_ptrs[l] = &labels[l];
		l++;
		for (size_t k = 0; k < src->n_labels; k++, l++) {
			push__v1__label_pair__init(&labels[l]);
			labels[l].name = src->labels[k]->name;
			labels[l].value = src->labels[k]->value;
			label_ptrs[l] = &labels[l];
		}
		qsort(&label_ptrs[first], l - first, sizeof(*label_ptrs), label_cmp);

		push__v1__raw_sample__init(&samples[i]);
		samples[i].raw_profile = src->profile;
		/* Pyroscope's ingesters parse the id as a UUID. */
		store__series_uuid(&w->id, i, ids[i]);
		samples[i].id = ids[i];
		sample_ptrs[i] = &samples[i];

		push__v1__raw_profile_series__init(&series[i]);
		series[i].labels = &label_ptrs[first];
		series[i].n_labels = l - first;
		series[i].samples = &sample_ptrs[i];
		series[i].n_samples = 1;
		series_ptrs[i] = &series[i];
	}
	req.series = series_ptrs;
	req.n_series = n;

	size = push__v1__push_request__get_packed_size(&req);
	out = malloc(size ?: 1);
	if (!out)
		goto cleanup;
	push__v1__push_request__pack(&req, out);
	*body = out;
	*len = size;
	err = 0;
cleanup:
	free(series);
	free(series_ptrs);
	free(samples);
	free(sample_ptrs);
	free(ids);
	free(labels);
	free(label_ptrs);
	return err;
}

static int pyroscope_headers(const struct store *s, struct curl_slist **list)
{
	char line[200];
	int err;

	err = store__append_header(list, "Content-Type: application/proto");
	if (!err)
		err = store__append_header(list, "Connect-Protocol-Version: 1");
	snprintf(line, sizeof(line), "Connect-Timeout-Ms: %llu",
		 (unsigned long long)(s->timeout_ns / NSEC_PER_MSEC));
	if (!err)
		err = store__append_header(list, line);
	if (!err && s->tenant) {
		/* The tenant was checked at startup: no characters that could end the header. */
		snprintf(line, sizeof(line), "X-Scope-OrgID: %s", s->tenant);
		err = store__append_header(list, line);
	}
	return err;
}

/*
 * The "message" string of a Connect error body, unescaped; escapes other
 * than the simple ones become '?'. Returns its length, or 0 if there is none.
 */
static size_t connect_message(const char *body, size_t len, char *out, size_t size)
{
	static const char key[] = "\"message\"";
	const char *p = memmem(body, len, key, sizeof(key) - 1), *end = body + len;
	size_t n = 0;

	if (!p || !size)
		return 0;
	p += sizeof(key) - 1;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != ':')
		return 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != '"')
		return 0;
	while (p < end && *p != '"' && n + 1 < size) {
		char c = *p++;

		if (c == '\\' && p < end) {
			char e = *p++;

			c = e == 'n' ? ' ' : e == 't' ? ' ' : (e == '"' || e == '\\' || e == '/') ? e : '?';
			if (e == 'u')
				p += (end - p) < 4 ? (end - p) : 4;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return n;
}

static enum store_result pyroscope_classify(struct store *s, long status, long version,
					    char *why, size_t why_len)
{
	struct store_response *r = &s->resp;
	char prefix[64], message[512];
	size_t n;

	(void)version;
	if (status == 200) {
		Push__V1__PushResponse *msg = NULL;

		if (strncasecmp(r->content_type, "application/proto", 17) == 0 &&
		    r->body_total == r->body_len)
			msg = push__v1__push_response__unpack(NULL, r->body_len,
							      (const uint8_t *)r->body);
		if (!msg) {
			store__describe(why, why_len,
					"HTTP 200 with a body that is not a PushResponse, content type",
					r->content_type, strlen(r->content_type));
			return STORE_RETRY;
		}
		push__v1__push_response__free_unpacked(msg, NULL);
		return STORE_OK;
	}
	snprintf(prefix, sizeof(prefix), "HTTP %ld", status);
	n = connect_message(r->body, r->body_len, message, sizeof(message));
	if (n)
		store__describe(why, why_len, prefix, message, n);
	else
		store__describe(why, why_len, prefix, r->body, r->body_len);
	return store__classify_http(status);
}

const struct store_ops store_pyroscope_ops = {
	.name = "Pyroscope",
	.path = "/push.v1.PusherService/Push",
	.http_version_plain = CURL_HTTP_VERSION_1_1,
	.http_version_tls = CURL_HTTP_VERSION_2TLS,
	.encode = pyroscope_encode,
	.add_headers = pyroscope_headers,
	.classify = pyroscope_classify,
};
