// SPDX-License-Identifier: Apache-2.0
/*
 * The store layer without a network: flag checks, each store's request
 * encoding (decoded back with the generated readers), the headers sent, and
 * how every kind of answer is classified.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curl_api.h"
#include "profilestore.pb-c.h"
#include "push.pb-c.h"
#include "store_impl.h"
#include "test.h"

TEST(urls)
{
	static const struct {
		const char *url;
		int err;
		enum store_kind kind;
		bool tls;
		const char *base;
	} cases[] = {
		{ "grpc://parca.example:7070", 0, STORE_PARCA, false, "http://parca.example:7070" },
		{ "grpc://parca.example", 0, STORE_PARCA, false, "http://parca.example:7070" },
		{ "GRPCS://parca.example", 0, STORE_PARCA, true, "https://parca.example:443" },
		{ "grpc://[::1]:7070/", 0, STORE_PARCA, false, "http://[::1]:7070" },
		{ "pyroscope+http://127.0.0.1", 0, STORE_PYROSCOPE, false, "http://127.0.0.1:4040" },
		{ "pyroscope+https://p.example/prefix/", 0, STORE_PYROSCOPE, true,
		  "https://p.example:443/prefix" },
		{ "http://parca.example:7070", -EINVAL, 0, false, NULL },
		{ "grpc://", -EINVAL, 0, false, NULL },
		{ "grpc://parca.example:7070/some/path", -EINVAL, 0, false, NULL },
		{ "grpc://user:secret@parca.example:7070", -EINVAL, 0, false, NULL },
		{ "pyroscope+http://p.example:4040/?x=1", -EINVAL, 0, false, NULL },
		{ "pyroscope+http://p.example:99999", -EINVAL, 0, false, NULL },
		{ "parca.example:7070", -EINVAL, 0, false, NULL },
		{ "grpc://[::1]", 0, STORE_PARCA, false, "http://[::1]:7070" },
		{ "grpc://parca.example:07070", 0, STORE_PARCA, false, "http://parca.example:7070" },
		{ "pyroscope+http://p.example/a%20b//", 0, STORE_PYROSCOPE, false,
		  "http://p.example:4040/a%20b" },
		{ "grpc://parca.example:0", -EINVAL, 0, false, NULL },
		{ "grpc://parca.example:", -EINVAL, 0, false, NULL },
		{ "grpc://parca example:7070", -EINVAL, 0, false, NULL },
		{ "grpc://[::1", -EINVAL, 0, false, NULL },
		{ "pyroscope+http://p.example/a b", -EINVAL, 0, false, NULL },
		{ "pyroscope+http://p.example#top", -EINVAL, 0, false, NULL },
		{ "", -EINVAL, 0, false, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_url u;
		const char *why = NULL;
		int err = store__parse_url(cases[i].url, &u, &why);

		if (err != cases[i].err)
			TEST_FAIL("%s: %d, want %d", cases[i].url, err, cases[i].err);
		if (err) {
			ASSERT_TRUE(why && *why);
			continue;
		}
		ASSERT_EQ(u.kind, cases[i].kind);
		ASSERT_EQ(u.tls, cases[i].tls);
		ASSERT_STREQ(u.base, cases[i].base);
		free(u.base);
	}
	return 0;
}

TEST(label_and_tenant_rules)
{
	static const char *const good_names[] = { "env", "_x", "Region2", "a_b_c" };
	static const char *const bad_names[] = { "", "2x", "a-b", "a.b", "__name__", "__x", "é" };
	static const char *const bad_values[] = { "", "tab\there", "new\nline", "\xff\xfe",
						  "\xc0\xaf" /* overlong '/' */ };
	static const char *const good_tenants[] = { "acme", "team-1_a.b", "x!*'()" };
	static const char *const bad_tenants[] = { "", ".", "..", "a/b", "a b", "a|b" };
	const char *why;
	char long_value[1100];

	for (size_t i = 0; i < sizeof(good_names) / sizeof(*good_names); i++)
		ASSERT_EQ(store__check_label_name(good_names[i], &why), 0);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++)
		if (store__check_label_name(bad_names[i], &why) != -EINVAL)
			TEST_FAIL("label name '%s' accepted", bad_names[i]);
	ASSERT_EQ(store__check_label_value("prod", &why), 0);
	ASSERT_EQ(store__check_label_value("zürich/α β", &why), 0);
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++)
		if (store__check_label_value(bad_values[i], &why) != -EINVAL)
			TEST_FAIL("label value %zu accepted", i);
	memset(long_value, 'v', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	ASSERT_EQ(store__check_label_value(long_value, &why), -EINVAL);
	for (size_t i = 0; i < sizeof(good_tenants) / sizeof(*good_tenants); i++)
		ASSERT_EQ(store__check_tenant(good_tenants[i], &why), 0);
	for (size_t i = 0; i < sizeof(bad_tenants) / sizeof(*bad_tenants); i++)
		if (store__check_tenant(bad_tenants[i], &why) != -EINVAL)
			TEST_FAIL("tenant '%s' accepted", bad_tenants[i]);
	return 0;
}

static char tmp_file[PATH_MAX];

static int write_tmp(const char *content)
{
	int fd;

	snprintf(tmp_file, sizeof(tmp_file), "/tmp/fornax-store-test-XXXXXX");
	fd = mkstemp(tmp_file);
	if (fd < 0)
		return -1;
	if (write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

TEST(token_files)
{
	static const struct {
		const char *content;
		int err;
		const char *token;
	} cases[] = {
		{ "s3cr3t\n", 0, "s3cr3t" },
		{ "  s3cr3t \r\n\n", 0, "s3cr3t" },
		{ "", -EINVAL, NULL },
		{ "\n\n", -EINVAL, NULL },
		{ "two tokens\n", -EINVAL, NULL },
		{ "one\ntwo\n", -EINVAL, NULL },
	};
	const char *why;
	char *token;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err;

		ASSERT_EQ(write_tmp(cases[i].content), 0);
		err = store__read_token(tmp_file, &token, &why);
		unlink(tmp_file);
		if (err != cases[i].err)
			TEST_FAIL("case %zu: %d, want %d", i, err, cases[i].err);
		if (!err) {
			ASSERT_STREQ(token, cases[i].token);
			free(token);
		}
	}
	ASSERT_EQ(store__read_token("/nonexistent/token", &token, &why), -ENOENT);
	ASSERT_EQ(store__read_token("/tmp", &token, &why), -EINVAL);
	return 0;
}

/* What may sit under the token file's name: read as safe_open reads files others control. */
TEST(token_file_shapes)
{
	char dir[] = "/tmp/fornax-token-XXXXXX", path[PATH_MAX], link[PATH_MAX + 8];
	char *big = calloc(1, 20000), *cwd = getcwd(NULL, 0);
	const char *why;
	char *token;
	int fd;

	ASSERT_TRUE(big && cwd && mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	/* a FIFO: refused at once, not waited on */
	ASSERT_EQ(mkfifo(path, 0600), 0);
	alarm(30);
	ASSERT_EQ(store__read_token(path, &token, &why), -EINVAL);
	alarm(0);
	ASSERT_STREQ(why, "is not a regular file");
	ASSERT_EQ(unlink(path), 0);
	/* a device through a symlink */
	ASSERT_EQ(symlink("/dev/zero", link), 0);
	ASSERT_EQ(store__read_token(link, &token, &why), -EINVAL);
	ASSERT_EQ(unlink(link), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "rotated\n", 8), 8);
	close(fd);
	/* a symlink to the file (Kubernetes' secrets rotate so), and a relative path */
	ASSERT_EQ(symlink("token", link), 0);
	ASSERT_EQ(store__read_token(link, &token, &why), 0);
	ASSERT_STREQ(token, "rotated");
	free(token);
	ASSERT_EQ(chdir(dir), 0);
	ASSERT_EQ(store__read_token("link", &token, &why), 0);
	ASSERT_STREQ(token, "rotated");
	free(token);
	ASSERT_EQ(chdir(cwd), 0);
	/* larger than the bound */
	memset(big, 'x', 19999);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, big, 19999), 19999);
	close(fd);
	ASSERT_EQ(store__read_token(path, &token, &why), -EINVAL);
	ASSERT_STREQ(why, "is larger than 16 KiB");
	unlink(link);
	unlink(path);
	rmdir(dir);
	free(big);
	free(cwd);
	return 0;
}

/* A window of two series, built the way series.c packs it. */
struct window_fixture {
	Fornax__Upload__V1__Window w;
	Fornax__Upload__V1__Series s[2], *sp[2];
	Fornax__Upload__V1__Label l[4], *lp0[2], *lp1[2];
	unsigned char id[16];
};

static void window_fixture(struct window_fixture *f)
{
	fornax__upload__v1__window__init(&f->w);
	for (int i = 0; i < 4; i++)
		fornax__upload__v1__label__init(&f->l[i]);
	f->l[0] = (Fornax__Upload__V1__Label){ f->l[0].base, "hostname", "node-1" };
	f->l[1] = (Fornax__Upload__V1__Label){ f->l[1].base, "pid", "42" };
	f->l[2] = (Fornax__Upload__V1__Label){ f->l[2].base, "hostname", "node-1" };
	f->l[3] = (Fornax__Upload__V1__Label){ f->l[3].base, "pid", "43" };
	f->lp0[0] = &f->l[0];
	f->lp0[1] = &f->l[1];
	f->lp1[0] = &f->l[2];
	f->lp1[1] = &f->l[3];
	for (int i = 0; i < 2; i++) {
		fornax__upload__v1__series__init(&f->s[i]);
		f->s[i].labels = i ? f->lp1 : f->lp0;
		f->s[i].n_labels = 2;
		f->s[i].service_name = i ? "db" : "web";
		f->s[i].profile.data = (uint8_t *)(i ? "profile-B" : "profile-A");
		f->s[i].profile.len = 9;
		f->sp[i] = &f->s[i];
	}
	for (int i = 0; i < 16; i++)
		f->id[i] = 0xa0 + i;
	f->w.time_nanos = 1700000000000000000LL;
	f->w.id.data = f->id;
	f->w.id.len = 16;
	f->w.series = f->sp;
	f->w.n_series = 2;
}

static bool has_header(const struct store *s, const char *line)
{
	for (const struct curl_slist *l = s->headers; l; l = l->next)
		if (strcmp(l->data, line) == 0)
			return true;
	return false;
}

static struct store *new_store(const char *url, const char *tenant, const char *token_file)
{
	return store__new(&(struct store_opts){
		.url = url, .tenant = tenant, .bearer_token_file = token_file,
		.timeout_ns = 2500000000ULL, .connect_timeout_ns = 1000000000ULL,
	});
}

TEST(parca_request)
{
	Parca__Profilestore__V1alpha1__WriteRawRequest *req;
	struct window_fixture f;
	const unsigned char *b;
	struct store *s;
	size_t len;

	window_fixture(&f);
	ASSERT_EQ(write_tmp("tok-123\n"), 0);
	s = new_store("grpc://127.0.0.1:9", "acme", tmp_file);
	unlink(tmp_file);
	ASSERT_TRUE(s);
	ASSERT_EQ(store__kind(s), STORE_PARCA);
	ASSERT_STREQ(s->endpoint,
		     "http://127.0.0.1:9/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw");
	ASSERT_TRUE(store__prepare(s, &f.w) == s->curl);

	/* One uncompressed, length-prefixed gRPC message. */
	b = s->body;
	ASSERT_TRUE(s->body_len > 5);
	ASSERT_EQ(b[0], 0);
	len = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];
	ASSERT_EQ(len, s->body_len - 5);
	req = parca__profilestore__v1alpha1__write_raw_request__unpack(NULL, len, b + 5);
	ASSERT_TRUE(req);
	ASSERT_STREQ(req->tenant, "acme");
	ASSERT_EQ(req->normalized, 0);
	ASSERT_EQ(req->n_series, 2);
	for (size_t i = 0; i < 2; i++) {
		Parca__Profilestore__V1alpha1__RawProfileSeries *rs = req->series[i];

		ASSERT_TRUE(rs->labels);
		ASSERT_EQ(rs->labels->n_labels, 3);
		/* Sorted, __name__ first. */
		ASSERT_STREQ(rs->labels->labels[0]->name, "__name__");
		ASSERT_STREQ(rs->labels->labels[0]->value, "fornax_cpu");
		ASSERT_STREQ(rs->labels->labels[1]->name, "hostname");
		ASSERT_STREQ(rs->labels->labels[2]->name, "pid");
		ASSERT_STREQ(rs->labels->labels[2]->value, i ? "43" : "42");
		ASSERT_EQ(rs->n_samples, 1);
		ASSERT_EQ(rs->samples[0]->raw_profile.len, 9);
		ASSERT_TRUE(memcmp(rs->samples[0]->raw_profile.data, i ? "profile-B" : "profile-A", 9) == 0);
	}
	parca__profilestore__v1alpha1__write_raw_request__free_unpacked(req, NULL);
	ASSERT_TRUE(has_header(s, "Content-Type: application/grpc"));
	ASSERT_TRUE(has_header(s, "TE: trailers"));
	ASSERT_TRUE(has_header(s, "grpc-timeout: 2500m"));
	ASSERT_TRUE(has_header(s, "Authorization: Bearer tok-123"));
	ASSERT_TRUE(has_header(s, "Expect:"));
	store__finish(s, CURLE_COULDNT_CONNECT, NULL, 0, &len);
	ASSERT_TRUE(!s->body);
	store__free(s);
	return 0;
}

static bool is_uuid4(const char *s)
{
	regex_t re;
	bool ok;

	if (regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
		    REG_EXTENDED | REG_NOSUB))
		return false;
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

TEST(pyroscope_request)
{
	Push__V1__PushRequest *req;
	struct window_fixture f;
	char first_id[40];
	struct store *s;
	size_t len;

	window_fixture(&f);
	s = new_store("pyroscope+http://127.0.0.1:9/pyro/", "acme", NULL);
	ASSERT_TRUE(s);
	ASSERT_EQ(store__kind(s), STORE_PYROSCOPE);
	ASSERT_STREQ(s->endpoint, "http://127.0.0.1:9/pyro/push.v1.PusherService/Push");
	for (int round = 0; round < 2; round++) {
		ASSERT_TRUE(store__prepare(s, &f.w));
		req = push__v1__push_request__unpack(NULL, s->body_len, s->body);
		ASSERT_TRUE(req);
		ASSERT_EQ(req->n_series, 2);
		for (size_t i = 0; i < 2; i++) {
			Push__V1__RawProfileSeries *rs = req->series[i];

			ASSERT_EQ(rs->n_labels, 4);
			ASSERT_STREQ(rs->labels[0]->name, "__name__");
			ASSERT_STREQ(rs->labels[0]->value, "process_cpu");
			ASSERT_STREQ(rs->labels[1]->name, "hostname");
			ASSERT_STREQ(rs->labels[2]->name, "pid");
			ASSERT_STREQ(rs->labels[3]->name, "service_name");
			ASSERT_STREQ(rs->labels[3]->value, i ? "db" : "web");
			ASSERT_EQ(rs->n_samples, 1);
			ASSERT_TRUE(is_uuid4(rs->samples[0]->id));
		}
		/* Distinct per series, and the same when the window is sent again. */
		ASSERT_TRUE(strcmp(req->series[0]->samples[0]->id, req->series[1]->samples[0]->id) != 0);
		if (round == 0)
			snprintf(first_id, sizeof(first_id), "%s", req->series[0]->samples[0]->id);
		else
			ASSERT_STREQ(req->series[0]->samples[0]->id, first_id);
		push__v1__push_request__free_unpacked(req, NULL);
		store__finish(s, CURLE_OPERATION_TIMEDOUT, NULL, 0, &len);
	}
	ASSERT_TRUE(has_header(s, "Content-Type: application/proto"));
	ASSERT_TRUE(has_header(s, "Connect-Protocol-Version: 1"));
	ASSERT_TRUE(has_header(s, "X-Scope-OrgID: acme"));
	ASSERT_TRUE(has_header(s, "Expect:"));
	store__free(s);
	return 0;
}

static void set_response(struct store *s, const char *content_type, const char *grpc_status,
			 const char *grpc_message, const void *body, size_t body_len)
{
	snprintf(s->resp.content_type, sizeof(s->resp.content_type), "%s", content_type);
	s->resp.has_grpc_status = grpc_status != NULL;
	snprintf(s->resp.grpc_status, sizeof(s->resp.grpc_status), "%s", grpc_status ?: "");
	snprintf(s->resp.grpc_message, sizeof(s->resp.grpc_message), "%s", grpc_message ?: "");
	memcpy(s->resp.body, body, body_len);
	s->resp.body_len = s->resp.body_total = body_len;
}

TEST(parca_answers)
{
	static const unsigned char empty_msg[5] = { 0, 0, 0, 0, 0 };
	static const struct {
		long http;
		long version;
		const char *grpc_status;
		const void *body;
		size_t body_len;
		enum store_result want;
	} cases[] = {
		{ 200, CURL_HTTP_VERSION_2_0, "0", empty_msg, 5, STORE_OK },
		{ 200, CURL_HTTP_VERSION_2_0, "0", "", 0, STORE_RETRY },  /* no message */
		{ 200, CURL_HTTP_VERSION_2_0, "0", "\x01\0\0\0\0", 5, STORE_RETRY }, /* compressed flag */
		{ 200, CURL_HTTP_VERSION_2_0, NULL, empty_msg, 5, STORE_RETRY }, /* no grpc-status */
		{ 200, CURL_HTTP_VERSION_1_1, "0", empty_msg, 5, STORE_RETRY },
		{ 200, CURL_HTTP_VERSION_2_0, "14", "", 0, STORE_RETRY },  /* UNAVAILABLE */
		{ 200, CURL_HTTP_VERSION_2_0, "8", "", 0, STORE_RETRY },   /* RESOURCE_EXHAUSTED */
		{ 200, CURL_HTTP_VERSION_2_0, "4", "", 0, STORE_RETRY },   /* DEADLINE_EXCEEDED */
		{ 200, CURL_HTTP_VERSION_2_0, "13", "", 0, STORE_RETRY },  /* INTERNAL */
		{ 200, CURL_HTTP_VERSION_2_0, "12", "", 0, STORE_RETRY },  /* UNIMPLEMENTED */
		{ 200, CURL_HTTP_VERSION_2_0, "3", "", 0, STORE_REJECTED }, /* INVALID_ARGUMENT */
		{ 200, CURL_HTTP_VERSION_2_0, "16", "", 0, STORE_AUTH },   /* UNAUTHENTICATED */
		{ 200, CURL_HTTP_VERSION_2_0, "7", "", 0, STORE_AUTH },    /* PERMISSION_DENIED */
		{ 200, CURL_HTTP_VERSION_2_0, "99", "", 0, STORE_RETRY },
		{ 200, CURL_HTTP_VERSION_2_0, "x", "", 0, STORE_RETRY },
		{ 503, CURL_HTTP_VERSION_2_0, NULL, "busy", 4, STORE_RETRY },
		{ 429, CURL_HTTP_VERSION_2_0, NULL, "", 0, STORE_RETRY },
		{ 400, CURL_HTTP_VERSION_2_0, NULL, "", 0, STORE_REJECTED },
		{ 403, CURL_HTTP_VERSION_2_0, NULL, "", 0, STORE_AUTH },
		{ 404, CURL_HTTP_VERSION_2_0, NULL, "", 0, STORE_RETRY },
	};
	struct store *s = new_store("grpc://127.0.0.1:9", NULL, NULL);
	char why[256];

	ASSERT_TRUE(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum store_result r;

		set_response(s, "application/grpc", cases[i].grpc_status, NULL, cases[i].body,
			     cases[i].body_len);
		r = s->ops->classify(s, cases[i].http, cases[i].version, why, sizeof(why));
		if (r != cases[i].want)
			TEST_FAIL("case %zu: %d, want %d (%s)", i, r, cases[i].want, why);
	}
	/* The server's own words, percent-decoded, reach the log. */
	set_response(s, "application/grpc", "3", "invalid profile: bad ids (100%25 sure)%", "", 0);
	ASSERT_EQ(s->ops->classify(s, 200, CURL_HTTP_VERSION_2_0, why, sizeof(why)), STORE_REJECTED);
	ASSERT_STREQ(why, "grpc-status 3 INVALID_ARGUMENT: invalid profile: bad ids (100% sure)%");
	store__free(s);
	return 0;
}

TEST(pyroscope_answers)
{
	static const struct {
		long http;
		const char *content_type;
		const char *body;
		enum store_result want;
	} cases[] = {
		{ 200, "application/proto", "", STORE_OK },
		{ 200, "text/html", "<html>proxy login</html>", STORE_RETRY },
		{ 200, "application/proto", "\xff\xff\xff", STORE_RETRY },
		{ 400, "application/json", "{\"code\":\"invalid_argument\"}", STORE_REJECTED },
		{ 401, "application/json", "{\"code\":\"unauthenticated\"}", STORE_AUTH },
		{ 403, "application/json", "", STORE_AUTH },
		{ 413, "text/plain", "too large", STORE_REJECTED },
		{ 404, "text/plain", "404 page not found", STORE_RETRY },
		{ 408, "text/plain", "", STORE_RETRY },
		{ 429, "application/json", "{\"code\":\"resource_exhausted\"}", STORE_RETRY },
		{ 500, "application/json", "{\"code\":\"internal\"}", STORE_RETRY },
		{ 503, "application/json", "{\"code\":\"unavailable\"}", STORE_RETRY },
		{ 302, "text/html", "", STORE_RETRY },
	};
	struct store *s = new_store("pyroscope+http://127.0.0.1:9", NULL, NULL);
	char why[256];
	size_t len;

	ASSERT_TRUE(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum store_result r;

		set_response(s, cases[i].content_type, NULL, NULL, cases[i].body,
			     strlen(cases[i].body));
		r = s->ops->classify(s, cases[i].http, CURL_HTTP_VERSION_1_1, why, sizeof(why));
		if (r != cases[i].want)
			TEST_FAIL("case %zu: %d, want %d (%s)", i, r, cases[i].want, why);
	}
	set_response(s, "application/json", NULL, NULL,
		     "{\"code\": \"invalid_argument\", \"message\": \"labels: \\\"service_name\\\" is required\\n\"}",
		     strlen("{\"code\": \"invalid_argument\", \"message\": \"labels: \\\"service_name\\\" is required\\n\"}"));
	ASSERT_EQ(s->ops->classify(s, 400, CURL_HTTP_VERSION_1_1, why, sizeof(why)), STORE_REJECTED);
	ASSERT_STREQ(why, "HTTP 400: labels: \"service_name\" is required ");

	/* Transport errors always retry, and name libcurl's reason. */
	store__finish(s, CURLE_COULDNT_CONNECT, why, sizeof(why), &len);
	ASSERT_TRUE(strstr(why, "curl: Couldn't connect to server") == why);
	ASSERT_EQ(store__finish(s, CURLE_HTTP2_STREAM, why, sizeof(why), &len), STORE_RETRY);
	ASSERT_EQ(store__finish(s, CURLE_OPERATION_TIMEDOUT, why, sizeof(why), &len), STORE_RETRY);
	ASSERT_EQ(store__finish(s, CURLE_PEER_FAILED_VERIFICATION, why, sizeof(why), &len),
		  STORE_RETRY);
	store__free(s);
	return 0;
}

int main(void)
{
	const char *why = "";

	if (curl_api__load(&why)) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	libcurl.global_init(CURL_GLOBAL_DEFAULT);
	RUN(urls);
	RUN(label_and_tenant_rules);
	RUN(token_files);
	RUN(token_file_shapes);
	RUN(parca_request);
	RUN(pyroscope_request);
	RUN(parca_answers);
	RUN(pyroscope_answers);
	libcurl.global_cleanup();
	return test_summary();
}
