/* SPDX-License-Identifier: MIT */
/*
 * The storage part of dmapipe bench: the recorder's disk path and the
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
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage.h"

#define SAMPLE_MS 100

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every architecture (Linux 6.5) */
#endif

static uint64_t cpu_self_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return timeval_ns(&ru.ru_utime) + timeval_ns(&ru.ru_stime);
}

/* Bytes of the file @fd in the page cache, by mincore() over a mapping of it. */
static uint64_t resident_bytes_mincore(int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	uint64_t n = 0;
	unsigned char *vec;
	size_t pages;
	void *map;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return 0;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 0;
	pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
	vec = malloc(pages);
	if (vec && mincore(map, (size_t)st.st_size, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	return n * (uint64_t)page;
}

/*
 * Bytes of @path in the page cache now; 0 if it cannot be told. cachestat()
 * costs microseconds; the mincore() fallback (kernels before 6.5) some 20 ms
 * on a 2 GB file, which is why sampling runs in its own process.
 */
static uint64_t resident_bytes(const char *path)
{
	static bool no_cachestat;
	struct { uint64_t off, len; } range = { 0, 0 };
	struct {
		uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
	} cs;
	uint64_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!no_cachestat && syscall(__NR_cachestat, fd, &range, &cs, 0) == 0) {
		close(fd);
		return cs.nr_cache * (uint64_t)sysconf(_SC_PAGESIZE);
	}
	no_cachestat = true;
	n = resident_bytes_mincore(fd);
	close(fd);
	return n;
}

/* The device the files are on (0: unknown), for its request counters */
static dev_t storage_dev;

struct dev_counts {
	uint64_t requests[2], sectors[2]; /* [0] reads, [1] writes, completed */
};

static bool dev_counts(struct dev_counts *c)
{
	char line[512], name[64];
	unsigned long long v[7];
	unsigned int maj, min;
	bool found = false;
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (!storage_dev)
		return false;
	f = fopen("/proc/diskstats", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, name,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 10 ||
		    makedev(maj, min) != storage_dev)
			continue;
		c->requests[0] = v[0];
		c->sectors[0] = v[2];
		c->requests[1] = v[4];
		c->sectors[1] = v[6];
		found = true;
	}
	fclose(f);
	return found;
}

/* The device's requests and bytes in direction @w since @before, into @r. */
static void dev_delta(struct storage_run *r, const struct dev_counts *before, int w)
{
	struct dev_counts now;

	if (!dev_counts(&now))
		return;
	r->dev_requests = now.requests[w] - before->requests[w];
	r->dev_bytes = (now.sectors[w] - before->sectors[w]) * 512;
}

/* The max_sectors_kb file of @dev's queue (a partition's is its disk's). */
static bool queue_knob(dev_t dev, char *path, size_t len)
{
	snprintf(path, len, "/sys/dev/block/%u:%u/queue/max_sectors_kb", major(dev), minor(dev));
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, len, "/sys/dev/block/%u:%u/../queue/max_sectors_kb", major(dev),
		 minor(dev));
	return access(path, F_OK) == 0;
}

static int read_knob(const char *path, unsigned int *v)
{
	char *text = read_file(path), *end;
	unsigned long n;

	if (!text)
		return -errno;
	errno = 0;
	n = strtoul(text, &end, 10);
	free(text);
	if (errno || end == text || n == 0 || n > UINT_MAX)
		return -EINVAL;
	*v = (unsigned int)n;
	return 0;
}

static int write_knob(const char *path, unsigned int v)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%u\n", v);
	if (write(fd, buf, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Drops @path's clean pages, so a read run starts cold. */
static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

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

static void sampler_child(const char *path, int stop_fd, int result_fd)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	uint64_t peak = 0, res;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	for (;;) {
		int n = poll(&pfd, 1, SAMPLE_MS);

		res = resident_bytes(path);
		if (res > peak)
			peak = res;
		if (n != 0 && !(n < 0 && errno == EINTR))
			break; /* the parent closed its end (or went away) */
	}
	if (write(result_fd, &peak, sizeof(peak)) != (ssize_t)sizeof(peak))
		_exit(1);
	_exit(0);
}

static void sampler_start(struct sampler *s, const char *path)
{
	int stop[2], result[2];

	s->pid = -1;
	s->stop_fd = s->result_fd = -1;
	if (pipe2(stop, O_CLOEXEC) < 0)
		return;
	if (pipe2(result, O_CLOEXEC) < 0) {
		close(stop[0]);
		close(stop[1]);
		return;
	}
	s->pid = fork();
	if (s->pid == 0) {
		close(stop[1]);
		close(result[0]);
		sampler_child(path, stop[0], result[1]);
	}
	close(stop[0]);
	close(result[1]);
	if (s->pid < 0) {
		close(stop[1]);
		close(result[0]);
		return;
	}
	s->stop_fd = stop[1];
	s->result_fd = result[0];
}

/* Stops the sampler; its peak, or 0 when it did not run. */
static uint64_t sampler_stop(struct sampler *s)
{
	uint64_t peak = 0;
	ssize_t n;

	if (s->pid < 0)
		return 0;
	close(s->stop_fd);
	do
		n = read(s->result_fd, &peak, sizeof(peak));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(peak))
		peak = 0;
	close(s->result_fd);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
	s->pid = -1;
	return peak;
}

/* A dmapipe run's figures: @t0 to @t1 and @cpu spent; the sampler is stopped. */
static void finish_run(struct storage_run *r, const char *path, uint64_t t0, uint64_t t1,
		       uint64_t cpu, struct sampler *sm)
{
	double s = (double)(t1 - t0) * 1e-9;

	r->cache_peak = sampler_stop(sm);
	r->ok = true;
	r->seconds = s;
	r->mb_s = s > 0 ? (double)r->bytes / s / 1e6 : 0;
	r->cpu_ms_per_gb = r->bytes ? (double)cpu / 1e6 / ((double)r->bytes / 1e9) : 0;
	r->cache_end = resident_bytes(path);
	if (r->cache_end > r->cache_peak)
		r->cache_peak = r->cache_end;
}

/* ---- fio ------------------------------------------------------------------------ */

static void run_fio(const struct storage_opts *o, const char *rw, const char *path,
		    uint64_t bs, unsigned int depth, struct storage_run *r)
{
	char a_name[64], a_rw[32], a_bs[48], a_depth[32], a_size[48], a_file[PATH_MAX + 16];
	char out[PATH_MAX], *text, *p;
	char *argv[] = { (char *)o->fio, a_name, a_rw, a_bs, a_depth, a_size, a_file,
			 (char *)"--ioengine=io_uring", (char *)"--direct=1",
			 (char *)"--end_fsync=1", (char *)"--output-format=json",
			 (char *)"--group_reporting", NULL };
	struct rusage ru;
	struct sampler sm;
	struct dev_counts dc;
	uint64_t runtime_ms = 0;
	double usr = 0, sys = 0;
	int status;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(a_name, sizeof(a_name), "--name=dmapipe-%s", rw);
	snprintf(a_rw, sizeof(a_rw), "--rw=%s", rw);
	snprintf(a_bs, sizeof(a_bs), "--bs=%llu", (unsigned long long)bs);
	snprintf(a_depth, sizeof(a_depth), "--iodepth=%u", depth);
	snprintf(a_size, sizeof(a_size), "--size=%llu", (unsigned long long)o->bytes);
	snprintf(a_file, sizeof(a_file), "--filename=%s", path);
	snprintf(out, sizeof(out), "%s/fio-%s.json", o->log_dir, rw);
	/* the page cache the file occupies, while fio runs */
	sampler_start(&sm, path);
	dev_counts(&dc);
	pid = spawn(argv, out, "/dev/null");
	if (pid < 0) {
		sampler_stop(&sm);
		snprintf(r->error, sizeof(r->error), "cannot start fio");
		return;
	}
	wait_child(pid, -1, &status, &ru);
	r->cache_peak = sampler_stop(&sm);
	dev_delta(r, &dc, strcmp(rw, "write") == 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(r->error, sizeof(r->error), "fio failed (%s)",
			 describe_status(status, (char[32]){ 0 }, 32));
		return;
	}
	text = read_file(out);
	/*
	 * fio's own figures: bytes and runtime of the job (its start-up and
	 * file set-up excluded, as the recorder's are), and the job's CPU as
	 * percentages of that runtime
	 */
	p = text ? strstr(text, strcmp(rw, "write") == 0 ? "\"write\" : {" : "\"read\" : {") :
		   NULL;
	if (!p || json_lookup_u64(p, "io_bytes", &r->bytes) < 0 || r->bytes == 0 ||
	    json_lookup_u64(p, "runtime", &runtime_ms) < 0 || runtime_ms == 0 ||
	    json_lookup_double(p, "usr_cpu", &usr) < 0 || json_lookup_double(p, "sys_cpu", &sys) < 0) {
		snprintf(r->error, sizeof(r->error), "no result in fio's output");
		free(text);
		return;
	}
	free(text);
	r->ok = true;
	r->seconds = (double)runtime_ms / 1e3;
	r->mb_s = (double)r->bytes / r->seconds / 1e6;
	r->cpu_ms_per_gb = (usr + sys) / 100.0 * (double)runtime_ms / ((double)r->bytes / 1e9);
	r->cache_end = resident_bytes(path);
	if (r->cache_end > r->cache_peak)
		r->cache_peak = r->cache_end;
	r->whole_cpu_ms_per_gb = (double)(timeval_ns(&ru.ru_utime) + timeval_ns(&ru.ru_stime)) /
				 1e6 / ((double)r->bytes / 1e9);
}

/* ---- the recorder ------------------------------------------------------------------- */

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
	struct sampler sm;
	struct dev_counts dc;
	uint64_t failed = 0, t0, end, cpu0, cpu, seq = 0;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	unlink(path);
	if (!pool) {
		snprintf(r->error, sizeof(r->error), "cannot allocate frames");
		return;
	}
	sampler_start(&sm, path);
	dev_counts(&dc);
	dmapipe_recorder_options_init(&ro);
	ro.mode = mode;
	ro.done = count_done;
	ro.user_data = &failed;
	rec = dmapipe_recorder_new(path, &ro);
	if (!rec) {
		snprintf(r->error, sizeof(r->error), "recorder: %s", strerror(errno));
		sampler_stop(&sm);
		return;
	}
	/* from the first frame to the end of finish (index, flush), like fio's runtime */
	t0 = now_ns();
	cpu0 = cpu_self_ns();
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
	end = now_ns();
	cpu = cpu_self_ns() - cpu0;
	dev_delta(r, &dc, 1);
	dmapipe_recorder_get_stats(rec, out_stats);
	dmapipe_recorder_free(rec);
	if (ret < 0 || failed) {
		snprintf(r->error, sizeof(r->error), "recording failed: %s",
			 strerror(ret < 0 ? -ret : EIO));
		sampler_stop(&sm);
		return;
	}
	r->bytes = out_stats->bytes_written;
	r->frames = out_stats->frames_written;
	finish_run(r, path, t0, end, cpu, &sm);
}

/* A plain loop: pwrite() each frame into the page cache, fsync at the end. */
static void run_naive(const struct storage_opts *o, struct dmapipe_pool *pool, const char *path,
		      struct storage_run *r)
{
	struct dmapipe_buffer *b = pool ? dmapipe_pool_acquire(pool) : NULL;
	const struct dmapipe_layout *l;
	struct sampler sm;
	uint64_t t0, cpu0, off = 0, len;
	void *p;
	int fd;

	memset(r, 0, sizeof(*r));
	unlink(path);
	if (!b) {
		snprintf(r->error, sizeof(r->error), "no buffer");
		return;
	}
	sampler_start(&sm, path);
	l = dmapipe_buffer_get_layout(b);
	p = dmapipe_buffer_map_plane(b, 0);
	len = l->objects[0].size;
	t0 = now_ns();
	cpu0 = cpu_self_ns();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !p) {
		snprintf(r->error, sizeof(r->error), "cannot write the file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		dmapipe_buffer_unref(b);
		sampler_stop(&sm);
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
	if (r->error[0]) {
		sampler_stop(&sm);
		return;
	}
	r->bytes = off;
	finish_run(r, path, t0, now_ns(), cpu_self_ns() - cpu0, &sm);
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
	struct sampler sm;
	struct dev_counts dc;
	unsigned int n = depth + 2 < 16 ? depth + 2 : 16;
	uint64_t t0, t1, cpu0, cpu, i = 0;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	if (!pool) {
		snprintf(r->error, sizeof(r->error), "cannot allocate frames");
		return;
	}
	drop_cache(path);
	sampler_start(&sm, path);
	dev_counts(&dc);
	rec = dmapipe_recording_open(path, 0);
	if (!rec) {
		snprintf(r->error, sizeof(r->error), "cannot open the recording: %s",
			 strerror(errno));
		sampler_stop(&sm);
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
	t0 = now_ns();
	cpu0 = cpu_self_ns();
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
	t1 = now_ns();
	cpu = cpu_self_ns() - cpu0;
	dev_delta(r, &dc, 0);
	if (rd)
		dmapipe_reader_get_stats(rd, out);
	dmapipe_reader_free(rd);
	for (unsigned int k = 0; k < n; k++)
		dmapipe_buffer_unref(bufs[k]);
	if (ret < 0 || c.failed || i < info.frames) {
		snprintf(r->error, sizeof(r->error), "replay failed: %s",
			 strerror(ret < 0 ? -ret : EIO));
		dmapipe_recording_close(rec);
		sampler_stop(&sm);
		return;
	}
	r->frames = out->frames_read;
	r->bytes = out->bytes_read;
	dmapipe_recording_close(rec);
	finish_run(r, path, t0, t1, cpu, &sm);
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

/* The mean size of @r's device requests, in KiB (call only with dev_requests > 0). */
static double mean_request_kib(const struct storage_run *r)
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
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
	qsort(v, ok, sizeof(v[0]), cmp_double);
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
	qsort(v, k, sizeof(v[0]), cmp_double);
	out->n = k;
	out->median = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
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
		if (o->log)
			o->log("storage: %s is %u for these runs (was %u, put back afterwards)", knob,
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
				if (o->log)
					o->log("storage: pair %u/%u: fio ...", i + 1, reps);
				unlink(fio_path);
				run_fio(o, "write", fio_path, res->write_bs, res->write_depth,
					&fw[i]);
				drop_cache(fio_path);
				run_fio(o, "read", fio_path, res->write_bs, res->read_depth,
					&fr[i]);
				unlink(fio_path);
				if (o->log)
					o->log("    fio: write %.0f MB/s, read %.0f MB/s%s",
					       fw[i].mb_s, fr[i].mb_s,
					       dev_sizes(&fw[i], &fr[i], sizes,
							 sizeof(sizes)));
				continue;
			}
			if (o->log)
				o->log("storage: pair %u/%u: the recorder and replay ...", i + 1,
				       reps);
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
			if (o->log)
				o->log("    recorder %.0f MB/s, replay %.0f MB/s%s", rw[i].mb_s,
				       pr[i].mb_s,
				       dev_sizes(&rw[i], &pr[i], sizes, sizeof(sizes)));
		}
	}
	pair_ratios(rw, fw, reps, &res->write_pairs);
	pair_ratios(pr, fr, reps, &res->read_pairs);
	median_run(fw, reps, &res->fio_write);
	median_run(rw, reps, &res->rec_direct);
	median_run(fr, reps, &res->fio_read);
	median_run(pr, reps, &res->replay);
	if (!stop_requested) {
		if (o->log)
			o->log("storage: buffered recorder, then a plain write() loop ...");
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
		fprintf(stderr, "dmapipe bench: could not put %s back to %u: %s\n", knob,
			res->device_max_request_kib, strerror(errno));
}

static void ratio_row(FILE *f, const char *what, const struct storage_run *r,
		      const struct storage_run *ref)
{
	char ratio[32] = "", reqs[48] = "";

	if (r->ok && ref && ref->ok && ref->mb_s > 0)
		snprintf(ratio, sizeof(ratio), "%.1f%%", r->mb_s / ref->mb_s * 100);
	if (r->dev_requests)
		snprintf(reqs, sizeof(reqs), "%llu, %.0f KiB", (unsigned long long)r->dev_requests,
			 mean_request_kib(r));
	if (!r->ok) {
		fprintf(f, "| %s | failed: %s | | | | | |\n", what,
			r->error[0] ? r->error : "not run");
		return;
	}
	fprintf(f, "| %s | %.0f MB/s", what, r->mb_s);
	if (r->runs > 1)
		fprintf(f, " (%.0f to %.0f over %u runs)", r->min_mb_s, r->max_mb_s, r->runs);
	fprintf(f, " | %s | %.0f ms | %.1f MB | %.1f MB | %s |\n", ratio, r->cpu_ms_per_gb,
		(double)r->cache_peak / 1e6, (double)r->cache_end / 1e6, reqs);
}

static void pairs_sentence(FILE *f, const char *who, const struct storage_pairs *p,
			   const char *what)
{
	if (p->n == 0)
		return;
	fprintf(f, "%s ran at %.1f%% of fio's %s (median of %u pairs; %.1f%% to %.1f%%)", who,
		p->median * 100, what, p->n, p->min * 100, p->max * 100);
}

void storage_markdown(const struct storage_result *res, FILE *f)
{
	char fourcc[16];

	fprintf(f, "## Storage: recording and replay against fio\n\n");
	if (!res->ran) {
		fprintf(f, "Not measured: %s.\n\n", res->skipped[0] ? res->skipped : "skipped");
		return;
	}
	fprintf(f, "One run on one file system (`%s`): fio's direct-I/O sequential write "
		"with the recorder's request size (%llu bytes: one %s %ux%u frame padded to "
		"the %u-byte block) and queue depth (%u), through io_uring, then the "
		"recorder (`dmapipe_recorder`, what `dmapipe record` uses) fed as fast as it "
		"takes frames from pre-drawn memfd buffers, with no producer or pacing, so "
		"the disk path alone is measured. "
		"Replay: fio's direct sequential read with the same request size and "
		"`dmapipe play`'s read depth (%u) against `dmapipe_reader`, the play read "
		"path, into the same kind of buffers. Medians of alternating pairs, fio "
		"first in one pair and dmapipe first in the next. Time and "
		"CPU exclude start-up and file set-up on both sides: fio's own job runtime "
		"and CPU figures (its usr/sys percentages of that runtime), and for dmapipe "
		"the first frame to the end of the last read or of the recorder's finish "
		"(index and flush), with getrusage user + system time of the process (the "
		"io_uring workers are its threads). Page cache: the file's resident pages "
		"(cachestat, or mincore before Linux 6.5), sampled every 100 ms by a separate "
		"process for either side, so the side being timed is never paused or charged "
		"for it, and at the end. Ratios are against fio in this run; "
		"absolute numbers depend on the machine and on what else runs on it. "
		"Each dmapipe run goes in a process of its own with buffers allocated afresh, "
		"as each fio job does: how "
		"physically contiguous their pages come out sets how large the device "
		"requests can be (a request holds at most the queue's max_segments runs of "
		"contiguous pages), so the tables give the device's requests during the run "
		"and their mean size (/proc/diskstats). ",
		res->dir, (unsigned long long)res->write_bs,
		dmapipe_fourcc_to_string(res->format.fourcc, fourcc, sizeof(fourcc)),
		res->format.width, res->format.height, res->block, res->write_depth,
		res->read_depth);
	if (res->max_request_kib)
		fprintf(f, "For these runs the device's requests were capped at %u KiB (its "
			"`max_sectors_kb`, %u KiB otherwise, put back afterwards: "
			"`--storage-max-request`), so both sides sent requests of one size whatever "
			"the layout of their buffers.\n\n", res->max_request_kib,
			res->device_max_request_kib);
	else
		fprintf(f, "The device's requests were not capped (`--storage-max-request`): "
			"their size, and with it the rate, follows the physical layout of each "
			"side's buffers.\n\n");
	fprintf(f, "| write path | rate | of fio | CPU per GB | page cache peak | at the end | "
		"device requests, mean size |\n");
	fprintf(f, "|---|---|---|---|---|---|---|\n");
	ratio_row(f, "fio, O_DIRECT, io_uring", &res->fio_write, &res->fio_write);
	ratio_row(f, "**recorder, direct** (zero-copy)", &res->rec_direct, &res->fio_write);
	ratio_row(f, "recorder, buffered (bounded page cache)", &res->rec_buffered, &res->fio_write);
	ratio_row(f, "plain `pwrite()` loop + fsync", &res->naive, &res->fio_write);
	fprintf(f, "\n| read path | rate | of fio | CPU per GB | page cache peak | at the end | "
		"device requests, mean size |\n");
	fprintf(f, "|---|---|---|---|---|---|---|\n");
	ratio_row(f, "fio, O_DIRECT, io_uring", &res->fio_read, &res->fio_read);
	ratio_row(f, "**replay (`dmapipe_reader`)**, direct", &res->replay, &res->fio_read);
	fprintf(f, "\nThe recorder wrote %llu bytes straight from the frame buffers "
		"(direct path) and copied %llu; the target is at least 95%% of fio's "
		"rate with the page cache not growing.\n\n",
		(unsigned long long)res->rec_direct_bytes, (unsigned long long)res->rec_copied);
	if (res->write_pairs.n > 0 || res->read_pairs.n > 0) {
		fprintf(f, "Pair by pair (fio and dmapipe back to back, each first in turn), "
			"the ratio that a drift of the disk's speed over the whole run moves "
			"least:");
		pairs_sentence(f, " the recorder", &res->write_pairs, "write");
		pairs_sentence(f, res->write_pairs.n ? "; replay" : " replay", &res->read_pairs,
			       "read");
		fprintf(f, ".\n\n");
	}
}

static void pairs_json(struct json *j, const char *name, const struct storage_pairs *p)
{
	json_begin_object(j, name);
	json_u64(j, "pairs", p->n);
	json_double(j, "median", p->median);
	json_double(j, "min", p->min);
	json_double(j, "max", p->max);
	json_end_object(j);
}

void storage_json(const struct storage_result *res, struct json *j)
{
	const struct { const char *name; const struct storage_run *r; } runs[] = {
		{ "fio_write", &res->fio_write }, { "recorder_direct", &res->rec_direct },
		{ "recorder_buffered", &res->rec_buffered }, { "write_loop", &res->naive },
		{ "fio_read", &res->fio_read }, { "replay", &res->replay },
	};

	json_begin_object(j, "storage");
	json_bool(j, "ran", res->ran);
	json_string(j, "skipped", res->ran ? NULL : res->skipped);
	json_string(j, "dir", res->dir);
	json_u64(j, "write_bs", res->write_bs);
	json_u64(j, "write_depth", res->write_depth);
	json_u64(j, "read_depth", res->read_depth);
	json_u64(j, "max_request_kib", res->max_request_kib);
	json_u64(j, "recorder_bytes_copied", res->rec_copied);
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		const struct storage_run *r = runs[i].r;

		json_begin_object(j, runs[i].name);
		json_bool(j, "ok", r->ok);
		json_string(j, "error", r->ok ? NULL : r->error);
		json_u64(j, "bytes", r->bytes);
		json_double(j, "mb_per_s", r->mb_s);
		json_double(j, "cpu_ms_per_gb", r->cpu_ms_per_gb);
		json_u64(j, "page_cache_peak", r->cache_peak);
		json_u64(j, "page_cache_end", r->cache_end);
		json_u64(j, "device_requests", r->dev_requests);
		json_u64(j, "device_bytes", r->dev_bytes);
		json_end_object(j);
	}
	json_double(j, "recorder_of_fio", res->fio_write.ok && res->fio_write.mb_s > 0 ?
		    res->rec_direct.mb_s / res->fio_write.mb_s : 0);
	json_double(j, "replay_of_fio", res->fio_read.ok && res->fio_read.mb_s > 0 ?
		    res->replay.mb_s / res->fio_read.mb_s : 0);
	pairs_json(j, "recorder_of_fio_pairs", &res->write_pairs);
	pairs_json(j, "replay_of_fio_pairs", &res->read_pairs);
	json_end_object(j);
}
