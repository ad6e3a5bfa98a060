/* SPDX-License-Identifier: MIT */
/*
 * (c) The storage part of dmapipe bench: the recorder's disk path and the
 * replay read path against fio on the same file system, in the same run.
 *
 * fio runs a direct-I/O sequential write (and read) with the recorder's
 * own request size (one frame's object, padded to the block) and queue
 * depth through io_uring; the recorder is fed as fast as it takes frames
 * from pre-drawn buffers (no producer, no pacing), so the measurement is
 * the disk path alone. Time and CPU exclude start-up and file set-up on
 * both sides: fio's own job runtime and usr/sys figures; for the recorder
 * the first frame to the end of its finish (index and flush), with
 * getrusage user + system time; per GB moved. Each dmapipe run goes in a
 * process of its own with fresh buffers, as each fio job does, and the
 * device's requests are counted per run. The page cache is the
 * file's resident pages (cachestat, or mincore before Linux 6.5), sampled
 * by a separate process while either side runs, so the side being timed is
 * never paused by the sampling nor charged for it. Buffered recording and
 * a plain write() loop show what direct I/O saves.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static uint64_t cpu_self_ns(void)
{
	uint64_t user, sys;

	self_cpu_ns(&user, &sys);
	return user + sys;
}

void watch_start(struct run_watch *w, struct storage_run *r, const char *path, int dir)
{
	memset(r, 0, sizeof(*r));
	w->dir = dir;
	sampler_start(&w->sm, path);
	if (dir >= 0)
		dev_counts(&w->dc);
}

void watch_end(struct run_watch *w, struct storage_run *r)
{
	w->t1 = now_ns();
	w->cpu = cpu_self_ns() - w->cpu0;
	if (w->dir >= 0)
		dev_delta(r, &w->dc, w->dir);
}

void watch_fail(struct run_watch *w, struct storage_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	sampler_stop(&w->sm);
}

void watch_cache(struct run_watch *w, struct storage_run *r, const char *path)
{
	r->cache_peak = sampler_stop(&w->sm);
	r->cache_end = resident_bytes(path);
	if (r->cache_end > r->cache_peak)
		r->cache_peak = r->cache_end;
}

/* The clock of a dmapipe run starts (fio reports its own). */
static void watch_clock(struct run_watch *w)
{
	w->t0 = now_ns();
	w->cpu0 = cpu_self_ns();
}

/* A dmapipe run that moved r->bytes, ended (watch_end()), succeeded: its figures. */
static void finish_run(struct run_watch *w, struct storage_run *r, const char *path)
{
	double s = (double)(w->t1 - w->t0) * 1e-9;

	r->ok = true;
	r->seconds = s;
	r->mb_s = s > 0 ? (double)r->bytes / s / 1e6 : 0;
	r->cpu_ms_per_gb = r->bytes ? (double)w->cpu / 1e6 / ((double)r->bytes / 1e9) : 0;
	watch_cache(w, r, path);
}

static void count_done(struct dmapipe_recorder *rec, void *frame_data, int status, void *data)
{
	(void)rec;
	(void)frame_data;
	if (status < 0)
		++*(uint64_t *)data;
}

static void run_recorder(const struct storage_opts *o, struct dmapipe_pool *pool,
			 enum dmapipe_record_mode mode, const char *path, struct storage_run *r,
			 struct dmapipe_recorder_stats *out_stats)
{
	struct dmapipe_recorder_options ro;
	struct dmapipe_recorder *rec;
	struct run_watch w;
	uint64_t failed = 0, seq = 0;
	int ret = 0;

	unlink(path);
	watch_start(&w, r, path, 1);
	dmapipe_recorder_options_init(&ro);
	ro.mode = mode;
	ro.done = count_done;
	ro.user_data = &failed;
	rec = dmapipe_recorder_new(path, &ro);
	if (!rec) {
		watch_fail(&w, r, "recorder: %s", strerror(errno));
		return;
	}
	/* from the first frame to the end of finish (index, flush), like fio's runtime */
	watch_clock(&w);
	while (!stop_requested) {
		struct dmapipe_recorder_stats st;
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;

		dmapipe_recorder_get_stats(rec, &st);
		if (st.bytes_written + st.in_flight_bytes >= o->bytes)
			break;
		b = dmapipe_pool_acquire(pool);
		if (!b) {
			ret = dmapipe_recorder_dispatch(rec, -1);
			if (ret < 0)
				break;
			continue;
		}
		dmapipe_frame_meta_init(&meta);
		meta.sequence = seq;
		meta.timestamp_ns = now_ns();
		ret = dmapipe_recorder_submit(rec, b, &meta, NULL);
		dmapipe_buffer_unref(b);
		if (ret == -EAGAIN) {
			/* the disk is behind: wait for it, the frame is not lost here */
			ret = dmapipe_recorder_dispatch(rec, -1);
			if (ret < 0)
				break;
			continue;
		}
		if (ret < 0)
			break;
		seq++;
		dmapipe_recorder_dispatch(rec, 0);
	}
	if (ret >= 0)
		ret = dmapipe_recorder_finish(rec);
	/* fio's runtime ends with its last I/O (and end_fsync): so does this one */
	watch_end(&w, r);
	dmapipe_recorder_get_stats(rec, out_stats);
	{
		struct dmapipe_recorder_latency lat = { .size = sizeof(lat) };

		if (dmapipe_recorder_get_latency(rec, &lat) == 0) {
			r->lat_p50_ns = lat.p50_ns;
			r->lat_p99_ns = lat.p99_ns;
			r->lat_max_ns = lat.max_ns;
		}
	}
	dmapipe_recorder_free(rec);
	if (ret < 0 || failed) {
		watch_fail(&w, r, "recording failed: %s", strerror(ret < 0 ? -ret : EIO));
		return;
	}
	r->bytes = out_stats->bytes_written;
	r->frames = out_stats->frames_written;
	finish_run(&w, r, path);
}

/* A plain loop: pwrite() each frame into the page cache, fsync at the end. */
static void run_naive(const struct storage_opts *o, struct dmapipe_pool *pool, const char *path,
		      struct storage_run *r)
{
	struct dmapipe_buffer *b = dmapipe_pool_acquire(pool);
	const struct dmapipe_layout *l;
	struct run_watch w;
	uint64_t off = 0, len;
	void *p;
	int fd;

	unlink(path);
	/* the rows of this loop are about the page cache: its device requests are not counted */
	watch_start(&w, r, path, -1);
	if (!b) {
		watch_fail(&w, r, "no buffer");
		return;
	}
	l = dmapipe_buffer_get_layout(b);
	p = dmapipe_buffer_map_plane(b, 0);
	len = l->objects[0].size;
	watch_clock(&w);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !p) {
		watch_fail(&w, r, "cannot write the file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		dmapipe_buffer_unref(b);
		return;
	}
	/* the plane pointer is the start of object 0 for the linear layouts used here */
	p = (uint8_t *)p - l->planes[0].offset;
	while (off < o->bytes && !stop_requested) {
		ssize_t n = pwrite(fd, p, (size_t)len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(r->error, sizeof(r->error), "write: %s", strerror(errno));
			break;
		}
		off += (uint64_t)n;
		r->frames++;
	}
	if (!r->error[0] && fsync(fd) < 0)
		snprintf(r->error, sizeof(r->error), "fsync: %s", strerror(errno));
	close(fd);
	dmapipe_buffer_unref(b);
	watch_end(&w, r);
	if (r->error[0]) {
		sampler_stop(&w.sm);
		return;
	}
	r->bytes = off;
	finish_run(&w, r, path);
}

/* ---- replay: dmapipe_reader, as dmapipe play reads ------------------------------------- */

struct replay_ctx {
	uint64_t failed;
	bool busy[16];
};

static void replay_done(struct dmapipe_reader *rd, uint64_t index, struct dmapipe_buffer *b,
			void *frame_data, int status, void *user_data)
{
	struct replay_ctx *c = user_data;

	(void)rd;
	(void)index;
	(void)b;
	c->busy[(uintptr_t)frame_data] = false;
	if (status < 0)
		c->failed++;
}

static bool any_busy(const struct replay_ctx *c)
{
	for (unsigned int k = 0; k < 16; k++)
		if (c->busy[k])
			return true;
	return false;
}

static void run_replay(const char *path, struct dmapipe_pool *pool, unsigned int depth,
		       struct storage_run *r, struct dmapipe_reader_stats *out)
{
	struct dmapipe_reader_options o;
	struct dmapipe_recording *rec;
	struct dmapipe_recording_info info;
	struct dmapipe_reader *rd = NULL;
	struct dmapipe_buffer *bufs[16] = { NULL };
	struct replay_ctx c;
	struct run_watch w;
	unsigned int n = depth + 2 < 16 ? depth + 2 : 16;
	uint64_t i = 0;
	int ret = 0;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	drop_cache(path);
	watch_start(&w, r, path, 0);
	rec = dmapipe_recording_open(path, 0);
	if (!rec) {
		watch_fail(&w, r, "cannot open the recording: %s", strerror(errno));
		return;
	}
	dmapipe_recording_get_info(rec, &info);
	dmapipe_reader_options_init(&o);
	o.max_frames = depth;
	o.done = replay_done;
	o.user_data = &c;
	rd = dmapipe_reader_new(rec, &o);
	for (unsigned int k = 0; k < n && rd; k++) {
		bufs[k] = dmapipe_pool_acquire(pool);
		if (!bufs[k]) {
			ret = -ENOMEM;
			break;
		}
	}
	watch_clock(&w);
	while (rd && ret >= 0 && i < info.frames && !stop_requested) {
		unsigned int k;

		for (k = 0; k < n && c.busy[k]; k++)
			;
		if (k == n) {
			ret = dmapipe_reader_dispatch(rd, -1);
			continue;
		}
		ret = dmapipe_reader_submit(rd, i, bufs[k], (void *)(uintptr_t)k);
		if (ret == -EAGAIN) {
			ret = dmapipe_reader_dispatch(rd, -1);
			continue;
		}
		if (ret < 0)
			break;
		c.busy[k] = true;
		i++;
	}
	/* the last reads, then the reader's count of what it moved */
	while (rd && ret >= 0 && any_busy(&c))
		ret = dmapipe_reader_dispatch(rd, -1);
	watch_end(&w, r);
	if (rd)
		dmapipe_reader_get_stats(rd, out);
	dmapipe_reader_free(rd);
	for (unsigned int k = 0; k < n; k++)
		dmapipe_buffer_unref(bufs[k]);
	dmapipe_recording_close(rec);
	if (ret < 0 || c.failed || i < info.frames) {
		watch_fail(&w, r, "replay failed: %s", strerror(ret < 0 ? -ret : EIO));
		return;
	}
	r->frames = out->frames_read;
	r->bytes = out->bytes_read;
	finish_run(&w, r, path);
}

/* ---- the whole section ------------------------------------------------------------------ */

/*
 * Fresh buffers for one run, as fio allocates its own for each job, drawn
 * so that their pages exist before the clock starts. How physically
 * contiguous the pages come out sets how large the device requests can be
 * (a request holds at most the queue's max_segments runs of contiguous
 * pages), which is why each run's requests are counted.
 */
static struct dmapipe_pool *fresh_pool(const struct dmapipe_format *format, unsigned int n)
{
	struct dmapipe_allocator *alloc;
	struct dmapipe_pool *pool = NULL;

	alloc = dmapipe_allocator_new("memfd");
	if (alloc)
		pool = dmapipe_pool_new(alloc, format, n, "bench-storage");
	dmapipe_allocator_unref(alloc);
	for (unsigned int i = 0; pool && i < dmapipe_pool_get_size(pool); i++)
		dmapipe_buffer_draw_pattern(dmapipe_pool_get_buffer(pool, i), i);
	return pool;
}

/*
 * One dmapipe run in a process of its own, as each fio job runs in its
 * own: its buffers, its io_uring context and its memory start fresh, with
 * nothing of what the bench did before (after the handoff runs, the
 * recorder run inside the bench's own process reached 64-83% of fio where
 * the same code in a new process reached parity; the cause is not known).
 * The results come back through a pipe.
 */
enum storage_job {
	JOB_RECORD_DIRECT,
	JOB_RECORD_BUFFERED,
	JOB_REPLAY,
	JOB_WRITE_LOOP,
};

struct job_result {
	struct storage_run run;
	struct dmapipe_recorder_stats rec;
	struct dmapipe_reader_stats replay;
};

static void do_job(const struct storage_opts *o, const struct dmapipe_format *format,
		   unsigned int buffers, unsigned int read_depth, enum storage_job job,
		   const char *path, struct job_result *out)
{
	struct dmapipe_pool *pool = fresh_pool(format, buffers);

	memset(out, 0, sizeof(*out));
	if (!pool) {
		snprintf(out->run.error, sizeof(out->run.error), "cannot allocate frames: %s",
			 strerror(errno));
		return;
	}
	switch (job) {
	case JOB_RECORD_DIRECT:
	case JOB_RECORD_BUFFERED:
		run_recorder(o, pool, job == JOB_RECORD_DIRECT ? DMAPIPE_RECORD_DIRECT :
			     DMAPIPE_RECORD_BUFFERED, path, &out->run, &out->rec);
		break;
	case JOB_REPLAY:
		run_replay(path, pool, read_depth, &out->run, &out->replay);
		break;
	case JOB_WRITE_LOOP:
		run_naive(o, pool, path, &out->run);
		break;
	}
	dmapipe_pool_free(pool);
}

static void run_job(const struct storage_opts *o, const struct dmapipe_format *format,
		    unsigned int buffers, unsigned int read_depth, enum storage_job job,
		    const char *path, struct job_result *out)
{
	size_t got = 0;
	int p[2], status = 0;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(out->run.error, sizeof(out->run.error), "no pipe to the run's process: %s",
			 strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct job_result r;
		const uint8_t *b = (const uint8_t *)&r;
		size_t done = 0;

		close(p[0]);
		do_job(o, format, buffers, read_depth, job, path, &r);
		while (done < sizeof(r)) {
			ssize_t n = write(p[1], b + done, sizeof(r) - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				_exit(1);
			done += (size_t)n;
		}
		_exit(0);
	}
	close(p[1]);
	while (pid > 0 && got < sizeof(*out)) {
		ssize_t n = read(p[0], (uint8_t *)out + got, sizeof(*out) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || got < sizeof(*out)) {
		memset(out, 0, sizeof(*out));
		snprintf(out->run.error, sizeof(out->run.error), "the run's process %s",
			 pid < 0 ? "could not start" : describe_status(status, (char[32]){ 0 }, 32));
	}
}

double mean_request_kib(const struct storage_run *r)
{
	return (double)r->dev_bytes / (double)r->dev_requests / 1024;
}

/* " (device requests: write N of X KiB, read M of Y KiB)", or "" */
static const char *dev_sizes(const struct storage_run *w, const struct storage_run *r, char *buf,
			     size_t len)
{
	buf[0] = 0;
	if (w->dev_requests && r->dev_requests)
		snprintf(buf, len, " (device requests: write %llu of %.0f KiB, "
			 "read %llu of %.0f KiB)",
			 (unsigned long long)w->dev_requests, mean_request_kib(w),
			 (unsigned long long)r->dev_requests, mean_request_kib(r));
	return buf;
}

/* Keeps in @dst the run whose rate is the median of @runs. */
static void median_run(struct storage_run *runs, unsigned int n, struct storage_run *dst)
{
	double v[STORAGE_MAX_REPEAT];
	unsigned int ok = 0;

	for (unsigned int i = 0; i < n; i++)
		if (runs[i].ok)
			v[ok++] = runs[i].mb_s;
	if (ok == 0) {
		*dst = runs[0];
		return;
	}
	sort_doubles(v, ok);
	for (unsigned int i = 0; i < n; i++) {
		if (runs[i].ok && runs[i].mb_s == v[ok / 2]) {
			*dst = runs[i];
			break;
		}
	}
	dst->runs = ok;
	dst->min_mb_s = v[0];
	dst->max_mb_s = v[ok - 1];
}

/* dmapipe's rate over fio's in each pair where both ran: the pairs ran back to back,
 * so a drift of the disk's speed over the whole run moves both sides of a pair */
static void pair_ratios(const struct storage_run *ours, const struct storage_run *fio,
			unsigned int n, struct storage_pairs *out)
{
	double v[STORAGE_MAX_REPEAT];
	unsigned int k = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < n; i++)
		if (ours[i].ok && fio[i].ok && fio[i].mb_s > 0)
			v[k++] = ours[i].mb_s / fio[i].mb_s;
	if (k == 0)
		return;
	out->n = k;
	out->median = median_of(v, k);
	out->min = v[0];
	out->max = v[k - 1];
}

static bool direct_io_works(const char *dir, char *why, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/dmapipe-bench-probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, len, "%s: %s", dir, errno == EINVAL ?
			 "the file system refuses O_DIRECT" : strerror(errno));
		return false;
	}
	close(fd);
	unlink(path);
	return true;
}

void storage_run_all(const struct storage_opts *o, const struct dmapipe_format *format,
		     struct storage_result *res)
{
	struct storage_run fw[STORAGE_MAX_REPEAT], rw[STORAGE_MAX_REPEAT];
	struct storage_run fr[STORAGE_MAX_REPEAT], pr[STORAGE_MAX_REPEAT];
	struct dmapipe_recorder_stats rs;
	struct job_result jr;
	struct dmapipe_pool *pool = NULL;
	struct dmapipe_recorder_options defaults;
	struct dmapipe_reader_options rdefaults;
	struct dmapipe_layout layout;
	struct statvfs sv;
	struct stat dst;
	char fio_path[PATH_MAX], rec_path[PATH_MAX], sizes[96], knob[96];
	unsigned int reps = o->repeat ? o->repeat : 1;

	memset(res, 0, sizeof(*res));
	memset(fw, 0, sizeof(fw));
	memset(rw, 0, sizeof(rw));
	memset(fr, 0, sizeof(fr));
	memset(pr, 0, sizeof(pr));
	snprintf(res->dir, sizeof(res->dir), "%s", o->dir);
	res->format = *format;
	if (!o->fio) {
		snprintf(res->skipped, sizeof(res->skipped), "fio is not installed");
		return;
	}
	if (!HAVE_JSON_C) {
		snprintf(res->skipped, sizeof(res->skipped), "dmapipe-bench was built without "
			 "json-c (libjson-c-dev), which reads fio's results");
		return;
	}
	if (!direct_io_works(o->dir, res->skipped, sizeof(res->skipped)))
		return;
	storage_dev = stat(o->dir, &dst) == 0 ? dst.st_dev : 0;
	if (statvfs(o->dir, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < o->bytes * 2 + (UINT64_C(256) << 20)) {
		snprintf(res->skipped, sizeof(res->skipped), "%s has %llu MB free, the runs need "
			 "%llu MB", o->dir,
			 (unsigned long long)((uint64_t)sv.f_bavail * sv.f_frsize / 1000000),
			 (unsigned long long)((o->bytes * 2 + (UINT64_C(256) << 20)) / 1000000));
		return;
	}
	if (dmapipe_layout_init(&layout, format, 0) < 0) {
		snprintf(res->skipped, sizeof(res->skipped), "no layout for the frame format");
		return;
	}
	dmapipe_recorder_options_init(&defaults);
	dmapipe_reader_options_init(&rdefaults);
	/* the recorder's requests: one per object, padded to the block; its queue depth */
	res->block = 4096;
	res->write_bs = (layout.objects[0].size + res->block - 1) / res->block * res->block;
	res->write_depth = defaults.max_frames;
	res->read_depth = 4; /* dmapipe play's default --queue-depth */
	(void)rdefaults;
	/* memfd buffers: struct-page memory, what the direct path needs, on any machine */
	pool = fresh_pool(format, res->write_depth + 4);
	if (!pool) {
		snprintf(res->skipped, sizeof(res->skipped), "cannot allocate frames: %s",
			 strerror(errno));
		return;
	}
	/* that was the check; every run allocates its own (run_job) */
	dmapipe_pool_free(pool);
	pool = NULL;
	snprintf(fio_path, sizeof(fio_path), "%s/dmapipe-bench-fio.dat", o->dir);
	snprintf(rec_path, sizeof(rec_path), "%s/dmapipe-bench.rec", o->dir);
	if (o->max_request_kib) {
		int ret;

		if (!storage_dev || !queue_knob(storage_dev, knob, sizeof(knob)) ||
		    read_knob(knob, &res->device_max_request_kib) < 0) {
			snprintf(res->skipped, sizeof(res->skipped), "--storage-max-request: %s "
				 "is not on a block device whose request size can be set", o->dir);
			return;
		}
		ret = write_knob(knob, o->max_request_kib);
		if (ret < 0) {
			snprintf(res->skipped, sizeof(res->skipped), "--storage-max-request: "
				 "cannot write %u to %s: %s", o->max_request_kib, knob,
				 ret == -EINVAL ? "above what the device takes" : strerror(-ret));
			return;
		}
		res->max_request_kib = o->max_request_kib;
		bench_log("storage: %s is %u for these runs (was %u, put back afterwards)", knob,
			  o->max_request_kib, res->device_max_request_kib);
	}
	res->ran = true;

	/*
	 * Alternate fio and dmapipe, and which of them goes first (fio first in
	 * even pairs, dmapipe first in odd ones), so a drift of the disk's
	 * speed over the run, or what one run leaves behind for the next
	 * (the host writing back, freed blocks being discarded), falls on
	 * both sides alike.
	 */
	for (unsigned int i = 0; i < reps && !stop_requested; i++) {
		for (unsigned int side = 0; side < 2 && !stop_requested; side++) {
			if ((side == 0) == (i % 2 == 0)) {
				bench_log("storage: pair %u/%u: fio ...", i + 1, reps);
				unlink(fio_path);
				run_fio(o, "write", fio_path, res->write_bs, res->write_depth,
					&fw[i]);
				drop_cache(fio_path);
				run_fio(o, "read", fio_path, res->write_bs, res->read_depth,
					&fr[i]);
				unlink(fio_path);
				bench_log("    fio: write %.0f MB/s, read %.0f MB/s%s", fw[i].mb_s,
					  fr[i].mb_s, dev_sizes(&fw[i], &fr[i], sizes, sizeof(sizes)));
				continue;
			}
			bench_log("storage: pair %u/%u: the recorder and replay ...", i + 1, reps);
			run_job(o, format, res->write_depth + 4, res->read_depth,
				JOB_RECORD_DIRECT, rec_path, &jr);
			rw[i] = jr.run;
			rs = jr.rec;
			if (i == 0) {
				res->rec_copied = rs.bytes_copied;
				res->rec_direct_bytes = rs.path_bytes[DMAPIPE_RECORD_PATH_DIRECT];
				res->block = rs.block_size ? rs.block_size : res->block;
			}
			if (rw[i].ok) {
				run_job(o, format, res->write_depth + 4, res->read_depth,
					JOB_REPLAY, rec_path, &jr);
				pr[i] = jr.run;
			} else
				memset(&pr[i], 0, sizeof(pr[i]));
			unlink(rec_path);
			bench_log("    recorder %.0f MB/s, replay %.0f MB/s%s", rw[i].mb_s,
				  pr[i].mb_s, dev_sizes(&rw[i], &pr[i], sizes, sizeof(sizes)));
		}
	}
	pair_ratios(rw, fw, reps, &res->write_pairs);
	pair_ratios(pr, fr, reps, &res->read_pairs);
	median_run(fw, reps, &res->fio_write);
	median_run(rw, reps, &res->rec_direct);
	median_run(fr, reps, &res->fio_read);
	median_run(pr, reps, &res->replay);
	if (!stop_requested) {
		bench_log("storage: buffered recorder, then a plain write() loop ...");
		run_job(o, format, res->write_depth + 4, res->read_depth, JOB_RECORD_BUFFERED,
			rec_path, &jr);
		res->rec_buffered = jr.run;
		unlink(rec_path);
		run_job(o, format, res->write_depth + 4, res->read_depth, JOB_WRITE_LOOP, rec_path,
			&jr);
		res->naive = jr.run;
		unlink(rec_path);
	}
	if (res->max_request_kib && write_knob(knob, res->device_max_request_kib) < 0)
		tool_warn("could not put %s back to %u: %s", knob, res->device_max_request_kib,
			  strerror(errno));
}
