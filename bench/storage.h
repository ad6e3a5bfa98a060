/* SPDX-License-Identifier: MIT */
/*
 * dmapipe bench's storage section (bench-storage.c): the recorder and the
 * replay read path against fio, on one file system, in one run.
 */
#ifndef DMAPIPE_BENCH_STORAGE_H
#define DMAPIPE_BENCH_STORAGE_H

#include <limits.h>

#include "dmapipe-tool.h"

#define STORAGE_MAX_REPEAT 9

struct storage_opts {
	const char *dir;     /* where the files go (O_DIRECT must work there) */
	const char *fio;     /* fio's path, or NULL: not measured */
	const char *log_dir; /* fio's JSON output goes here */
	uint64_t bytes;      /* written (and read) per run */
	unsigned int repeat; /* alternating fio / dmapipe runs; medians */
	unsigned int max_request_kib; /* the device's max_sectors_kb for the runs, 0: as is */
	void (*log)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
};

struct storage_run {
	bool ok;
	char error[160];
	uint64_t bytes, frames;
	double seconds, mb_s, cpu_ms_per_gb;
	double whole_cpu_ms_per_gb; /* fio: the whole process, start-up included */
	uint64_t cache_peak, cache_end; /* the file's resident bytes */
	uint64_t dev_requests, dev_bytes; /* the device's, this run's direction */
	unsigned int runs;              /* medians: runs that completed */
	double min_mb_s, max_mb_s;
};

struct storage_result {
	bool ran;
	char skipped[256]; /* why not, when !ran */
	char dir[PATH_MAX];
	struct dmapipe_format format;
	uint64_t write_bs;
	uint32_t block, write_depth, read_depth;
	unsigned int max_request_kib; /* applied for the runs (0: the device's own) */
	unsigned int device_max_request_kib; /* the device's own setting, 0 unknown */
	uint64_t rec_copied, rec_direct_bytes;
	struct storage_run fio_write, rec_direct, rec_buffered, naive;
	struct storage_run fio_read, replay;
	/* dmapipe / fio of each pair (run back to back, each first in turn), over the pairs */
	struct storage_pairs {
		unsigned int n;
		double median, min, max;
	} write_pairs, read_pairs;
};

void storage_run_all(const struct storage_opts *o, const struct dmapipe_format *format,
		     struct storage_result *res);
void storage_markdown(const struct storage_result *res, FILE *f);
void storage_json(const struct storage_result *res, struct json *j);

#endif
