/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A short write test of a directory's file system, so a recorder can say
 * before its first frame whether the disk keeps up with the stream
 * (docs/REALTIME.md): requests of the recorder's kind (large, aligned,
 * O_DIRECT where the file system takes it, several in flight through
 * io_uring) into a file without a name (O_TMPFILE), which disappears when
 * it is closed, whatever happens; no file of the caller's is touched.
 * Through the page cache each request is made durable before the next, so
 * the figure is the disk's and not the cache's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "io.h"
#include "dmapipe/record.h"

#define PROBE_REQUEST (1u << 20)
#define PROBE_DEPTH 4
#define PROBE_DEFAULT_BYTES (256ull << 20)
#define PROBE_DEFAULT_MS 500u

struct probe {
	int fd;
	uint8_t *buf;
	uint64_t max_bytes, deadline_ns;
	uint64_t submitted, written;
	struct dmapipe_hist latency;
	int error;
#if HAVE_LIBURING
	struct storage_ring *ring;
	unsigned int in_flight;
	uint64_t start_ns[PROBE_DEPTH]; /* each request in flight's start; 0: a free slot */
#endif
};

static int open_tmpfile(const char *dir, bool *direct)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC | O_DIRECT, 0600);

	*direct = fd >= 0;
	if (fd < 0 && errno == EINVAL) {
		/* EINVAL is also what a file system without O_DIRECT says */
		fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		*direct = false;
	}
	return fd < 0 ? -errno : fd;
}

/* One request at a time, each made durable: the page cache's path, or no io_uring. */
static void probe_sync(struct probe *p, bool direct)
{
	while (p->written < p->max_bytes && dmapipe_now_ns() < p->deadline_ns) {
		uint64_t t0 = dmapipe_now_ns();
		int ret = storage_pwrite_full(p->fd, p->buf, PROBE_REQUEST, p->written);

		if (ret == 0 && !direct && fdatasync(p->fd) < 0)
			ret = -errno;
		if (ret < 0) {
			p->error = ret;
			return;
		}
		p->written += PROBE_REQUEST;
		dmapipe_hist_add(&p->latency, dmapipe_now_ns() - t0);
	}
}

#if HAVE_LIBURING
/* Queues the next request if there is one to make: its start time is its slot's. */
static void probe_submit(struct probe *p)
{
	struct io_uring_sqe *sqe;
	uint64_t *start = NULL;

	if (p->error || p->submitted >= p->max_bytes || dmapipe_now_ns() >= p->deadline_ns)
		return;
	for (unsigned int i = 0; i < PROBE_DEPTH && !start; i++)
		if (!p->start_ns[i])
			start = &p->start_ns[i];
	sqe = start ? storage_ring_sqe(p->ring) : NULL;
	if (!sqe)
		return;
	io_uring_prep_write(sqe, p->fd, p->buf, PROBE_REQUEST, p->submitted);
	io_uring_sqe_set_data(sqe, start);
	*start = dmapipe_now_ns();
	p->submitted += PROBE_REQUEST;
	p->in_flight++;
}

/* A request completed: counted, timed, and the next one queued (storage_ring_reap() submits it). */
static void probe_done(void *ctx, void *data, int res)
{
	struct probe *p = ctx;
	uint64_t *start = data;

	dmapipe_hist_add(&p->latency, dmapipe_now_ns() - *start);
	*start = 0;
	p->in_flight--;
	if (res >= 0 && (unsigned int)res == PROBE_REQUEST)
		p->written += PROBE_REQUEST;
	else if (!p->error)
		p->error = res < 0 ? res : -EIO;
	probe_submit(p);
}

/* Several requests in flight, as the recorder keeps them. */
static int probe_ring(struct probe *p)
{
	struct storage_ring ring;
	int ret = storage_ring_init(&ring, PROBE_DEPTH, -1);

	if (ret < 0)
		return ret;
	p->ring = &ring;
	for (unsigned int i = 0; i < PROBE_DEPTH; i++)
		probe_submit(p);
	while (p->in_flight > 0) {
		if (!storage_ring_reap(&ring, true, probe_done, p)) {
			/* the ring is broken: its requests cannot be waited for */
			if (!p->error)
				p->error = -EIO;
			break;
		}
	}
	storage_ring_exit(&ring);
	p->ring = NULL;
	return 0;
}
#endif

DMAPIPE_EXPORT int dmapipe_disk_probe(const char *dir, uint64_t max_bytes, uint32_t max_ms,
				      struct dmapipe_disk_probe *result)
{
	struct dmapipe_disk_probe r;
	struct statvfs vfs;
	struct probe *p;
	uint64_t t0, t1;
	bool direct;
	int ret;

	if (!dir || !result || result->size < offsetof(struct dmapipe_disk_probe, latency_p50_ns))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->max_bytes = max_bytes ? max_bytes : PROBE_DEFAULT_BYTES;
	/* whole requests, at least one */
	p->max_bytes = MAX(p->max_bytes / PROBE_REQUEST, 1) * PROBE_REQUEST;
	/* a test must not fill the disk others write to: a quarter of what is free at most */
	if (statvfs(dir, &vfs) == 0) {
		uint64_t quarter = (uint64_t)vfs.f_bavail * vfs.f_frsize / 4;

		if (quarter < PROBE_DEPTH * PROBE_REQUEST) {
			free(p);
			return -ENOSPC;
		}
		p->max_bytes = MIN(p->max_bytes, quarter / PROBE_REQUEST * PROBE_REQUEST);
	}
	p->fd = open_tmpfile(dir, &direct);
	if (p->fd < 0) {
		ret = p->fd;
		free(p);
		return ret;
	}
	/* aligned for any direct-I/O file system; a pattern, not zeros a device could elide */
	if (posix_memalign((void **)&p->buf, 4096, PROBE_REQUEST)) {
		close(p->fd);
		free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < PROBE_REQUEST; i++)
		p->buf[i] = (uint8_t)(i * 131 + (i >> 12));
	t0 = dmapipe_now_ns();
	p->deadline_ns = t0 + (uint64_t)(max_ms ? max_ms : PROBE_DEFAULT_MS) * 1000000ull;
	ret = -ENOSYS;
#if HAVE_LIBURING
	if (direct)
		ret = probe_ring(p);
#endif
	if (ret < 0)
		probe_sync(p, direct);
	/* what the disk acknowledged counts, not what a volatile cache holds */
	if (!p->error && p->written && fdatasync(p->fd) < 0)
		p->error = -errno;
	t1 = dmapipe_now_ns();
	close(p->fd);
	free(p->buf);
	ret = p->error;
	if (ret == 0) {
		memset(&r, 0, sizeof(r));
		r.size = (uint32_t)MIN((size_t)result->size, sizeof(r));
		r.direct = direct;
		r.request_bytes = PROBE_REQUEST;
		r.bytes = p->written;
		r.elapsed_ns = t1 - t0;
		r.bytes_per_s = r.elapsed_ns ? (uint64_t)((double)r.bytes * 1e9 /
							  (double)r.elapsed_ns) : 0;
		r.latency_p50_ns = dmapipe_hist_percentile(&p->latency, 500);
		r.latency_p99_ns = dmapipe_hist_percentile(&p->latency, 990);
		r.latency_max_ns = p->latency.max;
		/* a caller built against an older header gets what its struct holds */
		memcpy(result, &r, r.size);
	}
	free(p);
	return ret;
}
