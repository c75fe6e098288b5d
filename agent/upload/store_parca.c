// SPDX-License-Identifier: Apache-2.0
/*
 * Parca: unary gRPC /parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw
 * over HTTP/2 (h2c with prior knowledge for grpc://, ALPN h2 for grpcs://).
 * The body is one length-prefixed message; the outcome is grpc-status, in
 * the trailers (or in the headers of a trailers-only answer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_api.h"
#include "profilestore.pb-c.h"
#include "store_impl.h"
#include "timeconst.h"

#define PARCA_PROFILE_NAME "fornax_cpu"
#define GRPC_FRAME_HEADER 5

enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

static const char *const grpc_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

static int label_cmp(const void *a, const void *b)
{
	const Parca__Profilestore__V1alpha1__Label *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int parca_encode(const struct store *s, const Fornax__Upload__V1__Window *w, void **body,
			size_t *len)
{
	Parca__Profilestore__V1alpha1__WriteRawRequest req =
		PARCA__PROFILESTORE__V1ALPHA1__WRITE_RAW_REQUEST__INIT;
	Parca__Profilestore__V1alpha1__RawProfileSeries *series = NULL, **series_ptrs = NULL;
	Parca__Profilestore__V1alpha1__LabelSet *sets = NULL;
	Parca__Profilestore__V1alpha1__Label *labels = NULL, **label_ptrs = NULL;
	Parca__Profilestore__V1alpha1__RawSample *samples = NULL, **sample_ptrs = NULL;
	size_t n = w->n_series, n_labels = 0, l = 0, size;
	unsigned char *out = NULL;
	int err = -ENOMEM;

	for (size_t i = 0; i < n; i++)
		n_labels += w->series[i]->n_labels + 1;
	series = calloc(n ?: 1, sizeof(*series));
	series_ptrs = calloc(n ?: 1, sizeof(*series_ptrs));
	sets = calloc(n ?: 1, sizeof(*sets));
	samples = calloc(n ?: 1, sizeof(*samples));
	sample_ptrs = calloc(n ?: 1, sizeof(*sample_ptrs));
	labels = calloc(n_labels ?: 1, sizeof(*labels));
	label_ptrs = calloc(n_labels ?: 1, sizeof(*label_ptrs));
	if (!series || !series_ptrs || !sets || !samples || !sample_ptrs || !labels || !label_ptrs)
		goto cleanup;

	for (size_t i = 0; i < n; i++) {
		const Fornax__Upload__V1__Series *src = w->series[i];
		size_t first = l;

		parca__profilestore__v1alpha1__label__init(&labels[l]);
		labels[l].name = "__name__";
		labels[l].value = PARCA_PROFILE_NAME;
		label_ptrs[l] = &labels[l];
		l++;
		for (size_t k = 0; k < src->n_labels; k++, l++) {
			parca__profilestore__v1alpha1__label__init(&labels[l]);
			labels[l].name = src->labels[k]->name;
			labels[l].value = src->labels[k]->value;
			label_ptrs[l] = &labels[l];
		}
		qsort(&label_ptrs[first], l - first, sizeof(*label_ptrs), label_cmp);
		parca__profilestore__v1alpha1__label_set__init(&sets[i]);
		sets[i].labels = &label_ptrs[first];
		sets[i].n_labels = l - first;

		parca__profilestore__v1alpha1__raw_sample__init(&samples[i]);
		samples[i].raw_profile = src->profile;
		sample_ptrs[i] = &samples[i];

		parca__profilestore__v1alpha1__raw_profile_series__init(&series[i]);
		series[i].labels = &sets[i];
		series[i].samples = &sample_ptrs[i];
		series[i].n_samples = 1;
		series_ptrs[i] = &series[i];
	}
	/* Deprecated upstream, but the only place the API has for a tenant. */
	req.tenant = s->tenant ? s->tenant : (char *)"";
	req.series = series_ptrs;
	req.n_series = n;
	req.normalized = false;

	size = parca__profilestore__v1alpha1__write_raw_request__get_packed_size(&req);
	if (size > UINT32_MAX) {
		err = -EMSGSIZE;
		goto cleanup;
	}
	out = malloc(GRPC_FRAME_HEADER + size);
	if (!out)
		goto cleanup;
	/* Not compressed (the profiles inside are gzipped already), then the big-endian length. */
	out[0] = 0;
	out[1] = size >> 24;
	out[2] = size >> 16;
	out[3] = size >> 8;
	out[4] = size;
	parca__profilestore__v1alpha1__write_raw_request__pack(&req, out + GRPC_FRAME_HEADER);
	*body = out;
	*len = GRPC_FRAME_HEADER + size;
	err = 0;
cleanup:
	free(series);
	free(series_ptrs);
	free(sets);
	free(samples);
	free(sample_ptrs);
	free(labels);
	free(label_ptrs);
	return err;
}

static int parca_headers(const struct store *s, struct curl_slist **list)
{
	char line[64];
	__u64 ms = s->timeout_ns / NSEC_PER_MSEC;
	int err;

	err = store__append_header(list, "Content-Type: application/grpc");
	if (!err)
		err = store__append_header(list, "TE: trailers");
	/* The server gives up when we do; at most 8 digits in gRPC's format. */
	snprintf(line, sizeof(line), "grpc-timeout: %llum",
		 (unsigned long long)(ms > 99999999 ? 99999999 : ms));
	if (!err)
		err = store__append_header(list, line);
	return err;
}

/*
 * grpc-message is percent-encoded UTF-8; libcurl keeps a malformed escape as
 * it is. Out of memory, the message is shown undecoded.
 */
static size_t decode_grpc_message(const char *in, char *out, size_t size)
{
	int decoded_len = 0;
	char *decoded = libcurl.easy_unescape(NULL, in, 0, &decoded_len);
	const char *from = decoded ? decoded : in;
	size_t n = decoded ? (size_t)decoded_len : strlen(in);

	if (n > size - 1)
		n = size - 1;
	memcpy(out, from, n);
	out[n] = '\0';
	libcurl.free(decoded);
	return n;
}

/* A successful answer carries exactly one uncompressed WriteRawResponse. */
static bool valid_response(const struct store_response *r)
{
	Parca__Profilestore__V1alpha1__WriteRawResponse *msg;
	const unsigned char *b = (const unsigned char *)r->body;
	size_t len;

	if (r->body_total != r->body_len || r->body_len < GRPC_FRAME_HEADER || b[0] != 0)
		return false;
	len = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];
	if (len != r->body_len - GRPC_FRAME_HEADER)
		return false;
	msg = parca__profilestore__v1alpha1__write_raw_response__unpack(NULL, len,
									 b + GRPC_FRAME_HEADER);
	if (!msg)
		return false;
	parca__profilestore__v1alpha1__write_raw_response__free_unpacked(msg, NULL);
	return true;
}

static enum store_result parca_classify(struct store *s, long status, long version, char *why,
					size_t why_len)
{
	struct store_response *r = &s->resp;
	char prefix[80], message[sizeof(r->grpc_message)];
	unsigned long code;
	char *end;

	if (status != 200) {
		/* Not gRPC's answer: a proxy in front of the store, or not a gRPC server at all. */
		snprintf(prefix, sizeof(prefix), "HTTP %ld", status);
		store__describe(why, why_len, prefix, r->body, r->body_len);
		return store__classify_http(status);
	}
	if (version != CURL_HTTP_VERSION_2_0) {
		store__describe(why, why_len, "the server answered over HTTP/1, gRPC needs HTTP/2",
				NULL, 0);
		return STORE_RETRY;
	}
	if (!r->has_grpc_status) {
		store__describe(why, why_len, "answer without grpc-status (not a gRPC server?)",
				NULL, 0);
		return STORE_RETRY;
	}
	code = strtoul(r->grpc_status, &end, 10);
	if (end == r->grpc_status || *end || code > GRPC_UNAUTHENTICATED) {
		store__describe(why, why_len, "unknown grpc-status", r->grpc_status,
				strlen(r->grpc_status));
		return STORE_RETRY;
	}
	if (code == GRPC_OK) {
		if (strncasecmp(r->content_type, "application/grpc", 16) != 0 || !valid_response(r)) {
			store__describe(why, why_len,
					"grpc-status 0 with a body that is not a WriteRawResponse",
					NULL, 0);
			return STORE_RETRY;
		}
		return STORE_OK;
	}
	snprintf(prefix, sizeof(prefix), "grpc-status %lu %s", code, grpc_names[code]);
	store__describe(why, why_len, prefix, message,
			decode_grpc_message(r->grpc_message, message, sizeof(message)));
	switch (code) {
	case GRPC_INVALID_ARGUMENT:
	case GRPC_NOT_FOUND:
	case GRPC_ALREADY_EXISTS:
	case GRPC_FAILED_PRECONDITION:
	case GRPC_OUT_OF_RANGE:
	case GRPC_DATA_LOSS:
		return STORE_REJECTED;
	case GRPC_UNAUTHENTICATED:
	case GRPC_PERMISSION_DENIED:
		return STORE_AUTH;
	default:
		/*
		 * UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, and the
		 * server-side failures (UNKNOWN, INTERNAL, ABORTED, CANCELLED);
		 * UNIMPLEMENTED means a wrong endpoint, which a restart with
		 * the right URL fixes, so the window is kept too.
		 */
		return STORE_RETRY;
	}
}

const struct store_ops store_parca_ops = {
	.name = "Parca",
	.path = "/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw",
	.http_version_plain = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
	.http_version_tls = CURL_HTTP_VERSION_2TLS,
	.encode = parca_encode,
	.add_headers = parca_headers,
	.classify = parca_classify,
};
