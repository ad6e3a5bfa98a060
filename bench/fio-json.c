/* SPDX-License-Identifier: MIT */
/* fio's JSON results, read with json-c (fio-json.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fio-json.h"

#if HAVE_JSON_C

#include <json.h>

/* The document: fio may print notes on stdout before it, never inside. */
static const char *document_start(const char *text)
{
	const char *p = text;

	for (;;) {
		if (*p == '{')
			return p;
		p = strchr(p, '\n');
		if (!p)
			return NULL;
		p++;
	}
}

static int get_u64(struct json_object *obj, const char *where, const char *key, uint64_t *v,
		   char *err, size_t err_len)
{
	struct json_object *val;
	int64_t n;

	if (!json_object_object_get_ex(obj, key, &val) || !json_object_is_type(val, json_type_int)) {
		snprintf(err, err_len, "%s \"%s\" is missing or not a whole number", where, key);
		return -ENOENT;
	}
	n = json_object_get_int64(val);
	if (n < 0) {
		snprintf(err, err_len, "%s \"%s\" is negative (%lld)", where, key, (long long)n);
		return -ENOENT;
	}
	*v = (uint64_t)n;
	return 0;
}

static int get_double(struct json_object *obj, const char *where, const char *key, double *v,
		      char *err, size_t err_len)
{
	struct json_object *val;

	/* fio prints percentages as 0.000000, but an integer is a number too */
	if (!json_object_object_get_ex(obj, key, &val) ||
	    !(json_object_is_type(val, json_type_double) ||
	      json_object_is_type(val, json_type_int))) {
		snprintf(err, err_len, "%s \"%s\" is missing or not a number", where, key);
		return -ENOENT;
	}
	*v = json_object_get_double(val);
	return 0;
}

/* A whole number under @key of @obj, or 0 */
static uint64_t opt_u64(struct json_object *obj, const char *key)
{
	struct json_object *val;

	if (!obj || !json_object_object_get_ex(obj, key, &val) ||
	    !json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0)
		return 0;
	return (uint64_t)json_object_get_int64(val);
}

/* The completion latency: fio leaves the percentiles out with --clat_percentiles=0 */
static void read_clat(struct json_object *dir, struct fio_job *job)
{
	struct json_object *clat = NULL, *pct = NULL;

	if (json_object_object_get_ex(dir, "clat_ns", &clat) &&
	    json_object_is_type(clat, json_type_object)) {
		job->clat_max_ns = opt_u64(clat, "max");
		if (json_object_object_get_ex(clat, "percentile", &pct) &&
		    json_object_is_type(pct, json_type_object)) {
			job->clat_p50_ns = opt_u64(pct, "50.000000");
			job->clat_p99_ns = opt_u64(pct, "99.000000");
		}
	}
}

static int read_job(struct json_object *doc, const char *rw, struct fio_job *job, char *err,
		    size_t err_len)
{
	struct json_object *jobs, *first, *dir;
	uint64_t fio_error;
	char where[64];
	int ret;

	if (!json_object_is_type(doc, json_type_object) ||
	    !json_object_object_get_ex(doc, "jobs", &jobs) ||
	    !json_object_is_type(jobs, json_type_array)) {
		snprintf(err, err_len, "fio's output has no \"jobs\" array");
		return -ENOENT;
	}
	first = json_object_array_length(jobs) > 0 ? json_object_array_get_idx(jobs, 0) : NULL;
	if (!first || !json_object_is_type(first, json_type_object)) {
		snprintf(err, err_len, "fio's output lists no job");
		return -ENOENT;
	}
	ret = get_u64(first, "fio's job:", "error", &fio_error, err, err_len);
	if (ret < 0)
		return ret;
	if (fio_error) {
		snprintf(err, err_len, "fio's job failed: error %llu (%s)",
			 (unsigned long long)fio_error,
			 fio_error < 4096 ? strerror((int)fio_error) : "unknown");
		return -EIO;
	}
	if (!json_object_object_get_ex(first, rw, &dir) ||
	    !json_object_is_type(dir, json_type_object)) {
		snprintf(err, err_len, "fio's job has no \"%s\" figures", rw);
		return -ENOENT;
	}
	snprintf(where, sizeof(where), "fio's job: %s:", rw);
	ret = get_u64(dir, where, "io_bytes", &job->io_bytes, err, err_len);
	if (ret == 0)
		ret = get_u64(dir, where, "runtime", &job->runtime_ms, err, err_len);
	/* the CPU is the job's, over all directions: it ran one */
	if (ret == 0)
		ret = get_double(first, "fio's job:", "usr_cpu", &job->usr_cpu, err, err_len);
	if (ret == 0)
		ret = get_double(first, "fio's job:", "sys_cpu", &job->sys_cpu, err, err_len);
	if (ret == 0) {
		job->clat_p50_ns = job->clat_p99_ns = job->clat_max_ns = 0;
		read_clat(dir, job);
	}
	return ret;
}

int fio_json_read_job(const char *text, const char *rw, struct fio_job *job, char *err,
		      size_t err_len)
{
	const char *start = document_start(text);
	struct json_tokener *tok;
	struct json_object *doc;
	enum json_tokener_error jerr;
	struct fio_job parsed;
	size_t len;
	int ret;

	if (!start) {
		snprintf(err, err_len, "no JSON document in fio's output");
		return -EINVAL;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(err, err_len, "json-c: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	len = strlen(start);
	doc = len <= INT_MAX ? json_tokener_parse_ex(tok, start, (int)len) : NULL;
	jerr = json_tokener_get_error(tok);
	if (!doc) {
		if (jerr == json_tokener_continue)
			snprintf(err, err_len, "fio's JSON output ends early, after %zu bytes",
				 len);
		else
			snprintf(err, err_len, "fio's output is not JSON at byte %zu: %s",
				 (size_t)(start - text) + json_tokener_get_parse_end(tok),
				 json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	ret = read_job(doc, rw, &parsed, err, err_len);
	json_object_put(doc);
	if (ret == 0)
		*job = parsed;
	return ret;
}

#else /* !HAVE_JSON_C */

int fio_json_read_job(const char *text, const char *rw, struct fio_job *job, char *err,
		      size_t err_len)
{
	(void)text;
	(void)rw;
	(void)job;
	snprintf(err, err_len, "dmapipe-bench was built without json-c (libjson-c-dev), "
		 "which reads fio's results");
	return -ENOTSUP;
}

#endif
