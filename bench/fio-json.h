/* SPDX-License-Identifier: MIT */
/*
 * Reading fio's --output-format=json results (fio-json.c): a pure decoder,
 * no I/O, so that tests/test-fio-json.c can feed it recorded and broken
 * documents. Needs json-c; without it fio_json_read_job() says so.
 */
#ifndef DMAPIPE_BENCH_FIO_JSON_H
#define DMAPIPE_BENCH_FIO_JSON_H

#include <stddef.h>
#include <stdint.h>

/* One fio job's figures in one direction, as fio reports them. */
struct fio_job {
	uint64_t io_bytes;   /* bytes the job moved in that direction */
	uint64_t runtime_ms; /* the job's own runtime in that direction (start-up excluded) */
	double usr_cpu;      /* the job's user CPU, percent of its runtime */
	double sys_cpu;      /* its system CPU, percent of its runtime */
	/* completion latency of its requests ("clat_ns"); 0 where fio gave none */
	uint64_t clat_p50_ns, clat_p99_ns, clat_max_ns;
};

/*
 * Reads the first job's figures for direction @rw ("read" or "write") from
 * @text, the NUL-terminated output of fio --output-format=json (with
 * --group_reporting a run has one job). Lines fio printed before the
 * document (notes, warnings) are skipped. Nothing is kept: @text stays the
 * caller's, and @job is written only on success.
 *
 * Returns 0, or a negative errno with a one-line reason in @err (at most
 * @err_len bytes, always terminated): -EINVAL when the text is not a JSON
 * document or ends early, -ENOENT when a field is missing or not a number,
 * -EIO when fio reported an error for the job, -ENOTSUP when dmapipe-bench
 * was built without json-c.
 */
int fio_json_read_job(const char *text, const char *rw, struct fio_job *job, char *err,
		      size_t err_len);

#endif
