/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How dmapipe-bench reads fio's results (bench/fio-json.c): documents fio
 * 3.33 wrote on this project's machine for the bench's own write and read
 * jobs (tests/data/fio-3.33-*.json) give their figures, also after lines
 * fio printed before the document; broken documents give a one-line
 * reason and no figures, never a crash. Tried: every truncation of a real
 * document, a syntax error, text with no document, no "jobs", an empty
 * job list, a job with no figures for the direction, a number given as a
 * string, a negative count, and a job fio reports as failed.
 *
 * Usage: test-fio-json WRITE-SAMPLE READ-SAMPLE
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "fio-json.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long len;

	check_msg(f, "%s: %s", path, strerror(errno));
	check(fseek(f, 0, SEEK_END) == 0);
	len = ftell(f);
	check(len > 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	check(buf);
	check(fread(buf, 1, (size_t)len, f) == (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* @text is refused with @want and a reason containing @needle; @job is untouched. */
static void expect_error(const char *text, const char *rw, int want, const char *needle)
{
	struct fio_job job = { .io_bytes = 12345 };
	char err[160] = "";
	int ret = fio_json_read_job(text, rw, &job, err, sizeof(err));

	check_msg(ret == want, "'%.60s': %d, expected %d (%s)", text, ret, want, err);
	check_msg(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
	check_msg(!strchr(err, '\n'), "error \"%s\" is not one line", err);
	check_int_eq(job.io_bytes, 12345);
}

static void check_write(const char *text)
{
	struct fio_job job;
	char err[160];

	check_msg(fio_json_read_job(text, "write", &job, err, sizeof(err)) == 0, "%s", err);
	/* what the recorded run reported (python3 -m json.tool agrees) */
	check_int_eq(job.io_bytes, 66650112);
	check_int_eq(job.runtime_ms, 223);
	check(fabs(job.usr_cpu - 1.351351) < 1e-9);
	check(fabs(job.sys_cpu - 3.153153) < 1e-9);
	/* clat_ns: its percentiles are fio's buckets, so p99 may pass the max */
	check_int_eq(job.clat_p50_ns, 5668864);
	check_int_eq(job.clat_p99_ns, 40108032);
	check_int_eq(job.clat_max_ns, 40078268);
}

int main(int argc, char **argv)
{
	struct fio_job job;
	char err[160], *w, *r, *noted, *cut;
	size_t len;

	if (argc != 3) {
		fprintf(stderr, "usage: %s WRITE-SAMPLE READ-SAMPLE\n", argv[0]);
		return 2;
	}
	if (!HAVE_JSON_C) {
		expect_error("{}", "write", -ENOTSUP, "json-c");
		test_skip("dmapipe-bench was built without json-c: fio's results cannot be read");
	}
	w = slurp(argv[1]);
	r = slurp(argv[2]);

	check_write(w);
	/* the write job moved nothing in the other direction: figures, all zero */
	check_msg(fio_json_read_job(w, "read", &job, err, sizeof(err)) == 0, "%s", err);
	check_int_eq(job.io_bytes, 0);
	check_int_eq(job.runtime_ms, 0);
	check_msg(fio_json_read_job(r, "read", &job, err, sizeof(err)) == 0, "%s", err);
	check_int_eq(job.io_bytes, 66650112);
	check_int_eq(job.runtime_ms, 102);
	check(job.usr_cpu == 0.0);
	check(fabs(job.sys_cpu - 8.910891) < 1e-9);
	/* a document without clat_ns (older fio, other options): no latency, no error */
	{
		static const char bare[] = "{\"jobs\": [{\"error\": 0, \"usr_cpu\": 1.0, "
			"\"sys_cpu\": 2.0, \"write\": {\"io_bytes\": 10, \"runtime\": 5}}]}";

		check_msg(fio_json_read_job(bare, "write", &job, err, sizeof(err)) == 0, "%s", err);
		check_int_eq(job.clat_p50_ns, 0);
		check_int_eq(job.clat_max_ns, 0);
	}
	test_pass("recorded fio 3.33 write and read results, latency optional");

	/* fio prints some notes on stdout, before the document */
	check(asprintf(&noted, "note: both iodepth >= 1 and synchronous I/O engine are selected\n"
		       "fio: {not a document either}\n%s", w) > 0);
	check_write(noted);
	free(noted);
	test_pass("lines before the document");

	/* every truncation of a real document short of its closing brace is
	 * refused, none crashes */
	len = (size_t)(strrchr(w, '}') - w);
	cut = malloc(len + 1);
	check(cut);
	for (size_t n = 0; n <= len; n++) {
		int ret;

		memcpy(cut, w, n);
		cut[n] = '\0';
		ret = fio_json_read_job(cut, "write", &job, err, sizeof(err));
		check_msg(ret == -EINVAL, "%zu of %zu bytes: %d (%s)", n, len, ret, err);
		check(err[0] && !strchr(err, '\n'));
	}
	free(cut);
	expect_error("{\n  \"jobs\" : [\n    {\n      \"write\" : {", "write", -EINVAL, "ends early");
	test_pass("every truncation refused");

	expect_error("{ \"jobs\" : [ { \"write\" : { \"io_bytes\" : 12, } ] }", "write", -EINVAL,
		     "not JSON at byte");
	expect_error("", "write", -EINVAL, "no JSON document");
	expect_error("fio: file /x: Permission denied\n", "write", -EINVAL, "no JSON document");
	expect_error("{ \"fio version\" : \"fio-3.33\" }", "write", -ENOENT, "no \"jobs\"");
	expect_error("{ \"jobs\" : {} }", "write", -ENOENT, "no \"jobs\"");
	expect_error("{ \"jobs\" : [] }", "write", -ENOENT, "no job");
	expect_error("{ \"jobs\" : [ { \"error\" : 0 } ] }", "write", -ENOENT,
		     "no \"write\" figures");
	expect_error("{ \"jobs\" : [ { \"error\" : 0, \"write\" : { \"io_bytes\" : \"12\", "
		     "\"runtime\" : 5 }, \"usr_cpu\" : 1.0, \"sys_cpu\" : 2.0 } ] }", "write",
		     -ENOENT, "\"io_bytes\" is missing or not a whole number");
	expect_error("{ \"jobs\" : [ { \"error\" : 0, \"write\" : { \"io_bytes\" : -4, "
		     "\"runtime\" : 5 }, \"usr_cpu\" : 1.0, \"sys_cpu\" : 2.0 } ] }", "write",
		     -ENOENT, "negative");
	expect_error("{ \"jobs\" : [ { \"error\" : 0, \"write\" : { \"io_bytes\" : 4, "
		     "\"runtime\" : 5 }, \"usr_cpu\" : null, \"sys_cpu\" : 2.0 } ] }", "write",
		     -ENOENT, "\"usr_cpu\" is missing or not a number");
	expect_error("{ \"jobs\" : [ { \"error\" : 28, \"write\" : { \"io_bytes\" : 4, "
		     "\"runtime\" : 5 }, \"usr_cpu\" : 1.0, \"sys_cpu\" : 2.0 } ] }", "write",
		     -EIO, "error 28 (No space left on device)");
	test_pass("broken documents refused with their reason");

	free(w);
	free(r);
	return 0;
}
