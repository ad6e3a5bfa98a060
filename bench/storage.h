/* SPDX-License-Identifier: MIT */
/*
 * dmapipe bench's storage section: the recorder and the replay read path
 * against fio, on one file system, in one run (storage.c), with fio
 * (fio.c), the page cache (page-cache.c) and the block device's counters
 * (blockdev.c) around each run; report.c writes the results.
 */
#ifndef DMAPIPE_BENCH_STORAGE_H
#define DMAPIPE_BENCH_STORAGE_H

#include <limits.h>
#include <sys/types.h>

#include "dmapipe-tool.h"

#define STORAGE_MAX_REPEAT 9

struct storage_opts {
	const char *dir;     /* where the files go (O_DIRECT must work there) */
	const char *fio;     /* fio's path, or NULL: not measured */
	const char *log_dir; /* fio's JSON output goes here */
	uint64_t bytes;      /* written (and read) per run */
	unsigned int repeat; /* alternating fio / dmapipe runs; medians */
	unsigned int max_request_kib; /* the device's max_sectors_kb for the runs, 0: as is */
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
	/* per request (fio) or frame (recorder), submit to complete; 0 unknown */
	uint64_t lat_p50_ns, lat_p99_ns, lat_max_ns;
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

/* Runs the whole section into @res; res->ran false with res->skipped saying why not. */
void storage_run_all(const struct storage_opts *o, const struct dmapipe_format *format,
		     struct storage_result *res);
/* report.c */
void storage_markdown(const struct storage_result *res, FILE *f);
void storage_json(const struct storage_result *res, struct json *j);
/* The mean size of @r's device requests, in KiB (call only with dev_requests > 0). */
double mean_request_kib(const struct storage_run *r);

/* ---- page-cache.c ------------------------------------------------------------ */

/* Bytes of @path in the page cache now; 0 if it cannot be told. */
uint64_t resident_bytes(const char *path);
/* Drops @path's clean pages, so a read run starts cold. */
void drop_cache(const char *path);

/*
 * The page-cache sampler: a child process that looks at the file every
 * SAMPLE_MS while a run goes on and reports the peak when told to stop.
 * Started the same way for fio and for dmapipe, before either opens the
 * file, so the process being measured is never paused by the sampling
 * and never charged for its CPU.
 */
struct sampler {
	pid_t pid;
	int stop_fd;   /* closed by the parent: stop */
	int result_fd; /* the child writes the peak here */
};

/* Starts sampling @path (s->pid < 0 if it could not start). */
void sampler_start(struct sampler *s, const char *path);
/* Stops the sampler; its peak, or 0 when it did not run. */
uint64_t sampler_stop(struct sampler *s);

/* ---- blockdev.c ---------------------------------------------------------------- */

/* The device the files are on (0: unknown), for its request counters */
extern dev_t storage_dev;

struct dev_counts {
	uint64_t requests[2], sectors[2]; /* [0] reads, [1] writes, completed */
};

/* storage_dev's completed requests and sectors now; false if unknown. */
bool dev_counts(struct dev_counts *c);
/* The device's requests and bytes in direction @w since @before, into @r. */
void dev_delta(struct storage_run *r, const struct dev_counts *before, int w);
/* The max_sectors_kb file of @dev's queue (a partition's is its disk's). */
bool queue_knob(dev_t dev, char *path, size_t len);
/* A knob's value; 0 or -errno (-EINVAL: not a positive number). */
int read_knob(const char *path, unsigned int *v);
/* 0 or -errno. */
int write_knob(const char *path, unsigned int v);

/* ---- storage.c: what is watched around every run, fio's and dmapipe's ---------------- */

/*
 * The file's page cache (the sampler process) and the device's requests
 * in the run's direction; for a dmapipe run also its clock and CPU from
 * the first frame (fio reports its own).
 */
struct run_watch {
	struct sampler sm;
	struct dev_counts dc;
	int dir;           /* the device's direction: 0 read, 1 write, -1 not counted */
	uint64_t t0, cpu0; /* dmapipe runs: at the first frame */
	uint64_t t1, cpu;  /* at watch_end(): the time, the CPU since t0 */
};

/* Clears @r and starts watching @path for it (@dir as run_watch.dir). */
void watch_start(struct run_watch *w, struct storage_run *r, const char *path, int dir);
/* The run's I/O is over: the clock stops, the device's requests go into @r. */
void watch_end(struct run_watch *w, struct storage_run *r);
/* The run failed: r->error says why (printf-style), the sampler is stopped. */
void watch_fail(struct run_watch *w, struct storage_run *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The run succeeded: the sampler's peak and what is cached now go into @r. */
void watch_cache(struct run_watch *w, struct storage_run *r, const char *path);

/* ---- fio.c ------------------------------------------------------------------------ */

/*
 * One fio job: @rw ("write" or "read") of o->bytes on @path with requests
 * of @bs bytes, @depth in flight, direct I/O through io_uring. r->ok, or
 * r->error says why not.
 */
void run_fio(const struct storage_opts *o, const char *rw, const char *path, uint64_t bs,
	     unsigned int depth, struct storage_run *r);

#endif
