/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The reader: frames of a recording into buffers, several reads in flight.
 *
 * The mirror of the recorder (recorder.c). Each frame is one read per object
 * (docs/FORMAT.md lays objects out exactly as the buffer has them), issued
 * through io_uring so the disk always has the next frames queued; frames
 * are handed back in submission order whatever order their reads finish in.
 *
 * How an object's bytes reach the buffer, per object, first that works:
 *   - DIRECT: an O_DIRECT read into a struct-page mapping (a memfd, the
 *     memfd behind a udmabuf, dmapipe.ko's page mappings): the disk DMAs
 *     into the pages the consumers will read, no copy.
 *   - KMOD: the mapping is PFN-based (EFAULT: dma-heap, udmabuf's own
 *     mmap) and the buffer is a dmapipe.ko dma-buf: READ_FILE in the
 *     kernel, synchronous.
 *   - COPY: into an aligned staging buffer, then a counted CPU copy
 *     (refused in strict mode). Also for the last partial block of an
 *     object whose padding runs past its mapping.
 *   - BUFFERED: the recording was opened without O_DIRECT (a file system
 *     that refuses it): a page-cache read, the kernel copies.
 * The choice, and the memory of objects a path failed for (by device and
 * inode, so later frames take the right path at once), are io.c's
 * storage_paths, shared with the recorder.
 *
 * Without io_uring (not built with liburing, or refused by the kernel) the
 * same paths run one read at a time inside dmapipe_reader_submit(), and the
 * frames are delivered from dispatch as usual.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "private.h"
#include "io.h"
#include "codec.h"

#define MAX_OPS (2 * DMAPIPE_MAX_OBJECTS)
/* one request moves at most this much; the rest is resubmitted */
#define MAX_REQUEST (UINT64_C(1) << 30)

struct rd_frame;

struct rd_op {
	struct rd_frame *frame;
	unsigned int object;
	uint64_t file_off;
	uint64_t obj_off;   /* where this op's bytes start in the object */
	uint64_t len;       /* bytes read from the file */
	uint64_t done;
	uint64_t data_len;  /* COPY: bytes copied into the buffer (the rest is padding) */
	uint8_t *dst;       /* where the read goes: the mapping, or staging */
	uint8_t *staging;   /* owned while the op runs, or NULL */
	size_t staging_size;
	enum dmapipe_record_path path;
	bool queued;
};

struct rd_frame {
	struct rd_frame *next; /* submission order */
	uint64_t index;
	struct dmapipe_buffer *buffer;
	void *frame_data;
	uint64_t size;
	struct rd_op ops[MAX_OPS];
	unsigned int n_ops;
	unsigned int pending;
	int status;
	bool complete;
};

struct dmapipe_reader {
	struct dmapipe_reader_options opts;
	struct dmapipe_recording *recording;
	struct dmapipe_recording_info info;
	int dfd;     /* frames: O_DIRECT when info.direct */
	int fd;      /* the page cache */
	int efd;     /* readable when there is something to deliver */
#if HAVE_LIBURING
	struct storage_ring ring;
#endif
	bool ring_ok;
	bool dispatching;
	unsigned int in_ring; /* requests submitted and not completed */

	struct rd_frame *head, *tail;
	struct storage_staging staging;
	struct storage_paths paths;
	struct dmapipe_reader_stats stats;
};

DMAPIPE_EXPORT void dmapipe_reader_options_init(struct dmapipe_reader_options *options)
{
	if (!options)
		return;
	memset(options, 0, sizeof(*options));
	options->size = sizeof(*options);
	options->max_frames = 4;
	options->max_bytes = UINT64_C(512) << 20;
}

/* ---- the counted copy path ------------------------------------------------------ */

/* Turns @op into a read into staging followed by a counted copy. */
static int make_copy_op(struct dmapipe_reader *rd, struct rd_op *op)
{
	int ret = dmapipe_copy_allowed("reader: a buffer whose mapping cannot take direct I/O");

	if (ret < 0)
		return ret;
	op->staging = storage_staging_get(&rd->staging, (size_t)op->len, rd->info.mem_align,
					  &op->staging_size);
	if (!op->staging)
		return -ENOMEM;
	op->dst = op->staging;
	op->path = DMAPIPE_RECORD_PATH_COPY;
	return 0;
}

/* ---- reads ------------------------------------------------------------------------ */

static void op_complete(struct dmapipe_reader *rd, struct rd_op *op, int res);

static int op_fd(const struct dmapipe_reader *rd, const struct rd_op *op)
{
	return op->path == DMAPIPE_RECORD_PATH_BUFFERED ? rd->fd : rd->dfd;
}

/*
 * Issues the rest of @op's read: queued on the ring, or done at once
 * (without a ring, and for KMOD) with op_complete() called. 0 or -errno
 * when it could not even be issued.
 */
static int issue(struct dmapipe_reader *rd, struct rd_op *op)
{
	uint64_t left = op->len - op->done;
	ssize_t n;

	if (op->path == DMAPIPE_RECORD_PATH_KMOD) {
		int ret = storage_path_kmod(&rd->paths, op->frame->buffer, op->object, op->obj_off,
					    op->len, rd->dfd, op->file_off);

		if (ret != -EXDEV) {
			op_complete(rd, op, ret < 0 ? ret : (int)MIN(op->len, (uint64_t)INT32_MAX));
			return 0;
		}
		ret = make_copy_op(rd, op);
		if (ret < 0)
			return ret;
	}
	if (left > MAX_REQUEST)
		left = MAX_REQUEST;
#if HAVE_LIBURING
	if (rd->ring_ok) {
		struct io_uring_sqe *sqe = storage_ring_sqe(&rd->ring);

		if (!sqe)
			return -EBUSY;
		io_uring_prep_read(sqe, op_fd(rd, op), op->dst + op->done, (unsigned int)left,
				   op->file_off + op->done);
		io_uring_sqe_set_data(sqe, op);
		op->queued = true;
		rd->in_ring++;
		return 0;
	}
#endif
	do
		n = pread(op_fd(rd, op), op->dst + op->done, (size_t)left,
			  (off_t)(op->file_off + op->done));
	while (n < 0 && errno == EINTR);
	op_complete(rd, op, n < 0 ? -errno : (int)n);
	return 0;
}

static void frame_finished(struct dmapipe_reader *rd, struct rd_frame *f)
{
	uint64_t one = 1;

	f->complete = true;
	/* outside dispatch (a synchronous read): make the fd readable */
	if (!rd->dispatching && f == rd->head && write(rd->efd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		log_debug("reader: eventfd: %s", strerror(errno));
}

static void op_finished(struct dmapipe_reader *rd, struct rd_op *op)
{
	struct rd_frame *f = op->frame;

	if (--f->pending == 0)
		frame_finished(rd, f);
}

static void op_failed(struct dmapipe_reader *rd, struct rd_op *op, int err)
{
	if (op->frame->status == 0)
		op->frame->status = err;
	op_finished(rd, op);
}

/* EFAULT from a direct read: the mapping is PFN-based; take the next path. */
static int on_fault(struct dmapipe_reader *rd, struct rd_op *op)
{
	op->done = 0;
	op->path = storage_path_fault(&rd->paths, &op->frame->buffer->layout.objects[op->object]);
	return op->path == DMAPIPE_RECORD_PATH_COPY ? make_copy_op(rd, op) : 0;
}

static void op_complete(struct dmapipe_reader *rd, struct rd_op *op, int res)
{
	struct rd_frame *f = op->frame;
	struct dmapipe_buffer *buf = f->buffer;
	int ret;

	op->queued = false;
	if (op->path == DMAPIPE_RECORD_PATH_KMOD && res >= 0) {
		op->done = op->len;
		goto account;
	}
	if (res == -EFAULT && op->path == DMAPIPE_RECORD_PATH_DIRECT && f->status == 0) {
		ret = on_fault(rd, op);
		if (ret == 0)
			ret = issue(rd, op);
		if (ret < 0)
			op_failed(rd, op, ret);
		return;
	}
	if (res == -EINVAL && op->path == DMAPIPE_RECORD_PATH_DIRECT && rd->dfd != rd->fd &&
	    f->status == 0) {
		/* this memory or length does not suit O_DIRECT here: the page cache does */
		log_debug("reader: O_DIRECT read refused, reading through the page cache");
		op->path = DMAPIPE_RECORD_PATH_BUFFERED;
		ret = issue(rd, op);
		if (ret < 0)
			op_failed(rd, op, ret);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		ret = issue(rd, op);
		if (ret < 0)
			op_failed(rd, op, ret);
		return;
	}
	if (res < 0) {
		op_failed(rd, op, res);
		return;
	}
	if (res == 0) {
		op_failed(rd, op, -ENODATA); /* the file ends early */
		return;
	}
	op->done += (uint64_t)res;
	if (op->done < op->len) {
		ret = issue(rd, op);
		if (ret < 0)
			op_failed(rd, op, ret);
		return;
	}
account:
	if (op->path == DMAPIPE_RECORD_PATH_COPY && f->status == 0) {
		ret = dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_WRITE);
		if (ret < 0) {
			op_failed(rd, op, ret);
			return;
		}
		memcpy((uint8_t *)buf->map[op->object] + op->obj_off, op->staging,
		       (size_t)op->data_len);
		dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_WRITE);
		dmapipe_count_copy(op->data_len);
		rd->stats.bytes_copied += op->data_len;
	}
	rd->stats.path_bytes[op->path] += op->len;
	rd->stats.path_frames[op->path]++;
	rd->stats.bytes_read += op->len;
	op_finished(rd, op);
}

/* ---- frames ------------------------------------------------------------------------ */

/* True if @b can take frame @f as it is laid out in the file. */
static bool layout_fits(const struct dmapipe_buffer *b, const struct dmapipe_recorded_frame *f)
{
	const struct dmapipe_layout *bl = &b->layout, *fl = &f->layout;

	if (bl->format.fourcc != fl->format.fourcc || bl->format.width != fl->format.width ||
	    bl->format.height != fl->format.height || bl->format.modifier != fl->format.modifier ||
	    bl->n_objects != fl->n_objects || bl->n_planes != fl->n_planes)
		return false;
	for (unsigned int i = 0; i < fl->n_objects; i++)
		if (bl->objects[i].size < fl->objects[i].size)
			return false;
	for (unsigned int p = 0; p < fl->n_planes; p++)
		if (bl->planes[p].object != fl->planes[p].object ||
		    bl->planes[p].offset != fl->planes[p].offset ||
		    bl->planes[p].stride != fl->planes[p].stride)
			return false;
	return true;
}

/* Plans the reads of @f: one per object, plus a copied tail beyond the mapping. */
static int build_ops(struct dmapipe_reader *rd, struct rd_frame *f,
		     const struct dmapipe_recorded_frame *rf)
{
	struct dmapipe_buffer *buf = f->buffer;
	uint32_t block = rd->info.block_size;

	for (unsigned int i = 0; i < rf->layout.n_objects; i++) {
		uint64_t data = rf->layout.objects[i].size;
		uint64_t stored = ALIGN_UP(data, (uint64_t)block);
		enum dmapipe_record_path path = storage_path_pick(&rd->paths, &buf->layout.objects[i]);
		uint64_t body;
		struct rd_op *op;
		int ret;

		/* a page-cache read needs no alignment: read the data only */
		if (path == DMAPIPE_RECORD_PATH_BUFFERED)
			body = data;
		else
			body = storage_direct_span(data, block, MIN(buf->map_size[i],
								    buf->layout.objects[i].size));
		if (body) {
			op = &f->ops[f->n_ops++];
			op->frame = f;
			op->object = i;
			op->file_off = rf->offset + rf->object_offset[i];
			op->len = body;
			op->data_len = MIN(body, data);
			op->path = path;
			if (path == DMAPIPE_RECORD_PATH_COPY) {
				ret = make_copy_op(rd, op);
				if (ret < 0)
					return ret;
			} else {
				op->dst = path == DMAPIPE_RECORD_PATH_DIRECT ?
					  dmapipe_buffer_direct_io_map(buf, i) : buf->map[i];
				if (!op->dst)
					return -errno;
			}
		}
		if (body < data) {
			op = &f->ops[f->n_ops++];
			op->frame = f;
			op->object = i;
			op->file_off = rf->offset + rf->object_offset[i] + body;
			op->obj_off = body;
			op->len = stored - body;
			op->data_len = data - body;
			ret = make_copy_op(rd, op);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static void free_frame(struct dmapipe_reader *rd, struct rd_frame *f)
{
	for (unsigned int i = 0; i < f->n_ops; i++)
		storage_staging_put(&rd->staging, f->ops[i].staging, f->ops[i].staging_size);
	dmapipe_buffer_unref(f->buffer);
	free(f);
}

DMAPIPE_EXPORT int dmapipe_reader_submit(struct dmapipe_reader *rd, uint64_t index,
					 struct dmapipe_buffer *buffer, void *frame_data)
{
	struct dmapipe_recorded_frame rf;
	struct rd_frame *f;
	int ret;

	if (!rd || !buffer)
		return -EINVAL;
	ret = dmapipe_recording_get_frame(rd->recording, index, &rf);
	if (ret < 0)
		return ret;
	if (!layout_fits(buffer, &rf))
		return -EINVAL;
	if (buffer->read_only)
		return -EACCES;
	if (rd->stats.in_flight_frames > 0 &&
	    (rd->stats.in_flight_frames >= rd->opts.max_frames ||
	     rd->stats.in_flight_bytes + rf.size > rd->opts.max_bytes))
		return -EAGAIN;
	ret = dmapipe_buffer_map_all(buffer);
	if (ret < 0)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->buffer = dmapipe_buffer_ref(buffer);
	f->index = index;
	f->frame_data = frame_data;
	f->size = rf.size;
	/*
	 * a grouped packet (a few KiB, not aligned): read at once through
	 * the page cache, delivered from dispatch in order like the rest
	 */
	if (rf.flags & DMAPIPE_RECORDED_GROUPED)
		f->status = dmapipe_recording_read_frame_to_buffer(rd->recording, index, buffer);
	else
		ret = build_ops(rd, f, &rf);
	if (ret < 0) {
		free_frame(rd, f);
		return ret;
	}
	if (rd->tail)
		rd->tail->next = f;
	else
		rd->head = f;
	rd->tail = f;
	rd->stats.in_flight_frames++;
	rd->stats.in_flight_bytes += f->size;

	f->pending = f->n_ops + 1; /* +1: held until every op is issued */
	for (unsigned int i = 0; i < f->n_ops; i++) {
		ret = issue(rd, &f->ops[i]);
		if (ret < 0)
			op_failed(rd, &f->ops[i], ret);
	}
#if HAVE_LIBURING
	if (rd->ring_ok)
		storage_ring_flush(&rd->ring);
#endif
	if (--f->pending == 0)
		frame_finished(rd, f);
	return 0;
}

DMAPIPE_EXPORT int dmapipe_reader_get_fd(const struct dmapipe_reader *rd)
{
	return rd ? rd->efd : -1;
}

/* Hands complete frames from the head to the application. */
static int deliver(struct dmapipe_reader *rd, bool cancel)
{
	int n = 0;

	while (rd->head && (rd->head->complete || cancel)) {
		struct rd_frame *f = rd->head;
		int status = f->complete ? f->status : -ECANCELED;

		rd->head = f->next;
		if (!rd->head)
			rd->tail = NULL;
		rd->stats.in_flight_frames--;
		rd->stats.in_flight_bytes -= f->size;
		if (status == 0)
			rd->stats.frames_read++;
		else
			rd->stats.frames_failed++;
		if (rd->opts.done)
			rd->opts.done(rd, f->index, f->buffer, f->frame_data, status,
				      rd->opts.user_data);
		free_frame(rd, f);
		n++;
	}
	return n;
}

#if HAVE_LIBURING
static void handle_cqe(void *ctx, void *data, int res)
{
	struct dmapipe_reader *rd = ctx;
	struct rd_op *op = data;

	if (op) {
		rd->in_ring--;
		op_complete(rd, op, res);
	}
}

/* Handles every completion there is. */
static void reap(struct dmapipe_reader *rd)
{
	storage_ring_reap(&rd->ring, false, handle_cqe, rd);
}

/* Waits until the head frame is complete, the reads run out or @timeout_ms passes. */
static void wait_head(struct dmapipe_reader *rd, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
		dmapipe_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (rd->head && !rd->head->complete && rd->in_ring > 0) {
		int ret = storage_ring_wait(&rd->ring, deadline);

		if (ret < 0)
			break;
		reap(rd);
	}
}
#endif

DMAPIPE_EXPORT int dmapipe_reader_dispatch(struct dmapipe_reader *rd, int timeout_ms)
{
	uint64_t v;
	int n;

	if (!rd)
		return -EINVAL;
	while (read(rd->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	rd->dispatching = true;
#if HAVE_LIBURING
	if (rd->ring_ok) {
		reap(rd);
		if (timeout_ms != 0)
			wait_head(rd, timeout_ms);
	}
#else
	(void)timeout_ms;
#endif
	n = deliver(rd, false);
	rd->dispatching = false;
	return n;
}

DMAPIPE_EXPORT void dmapipe_reader_get_stats(const struct dmapipe_reader *rd,
					     struct dmapipe_reader_stats *stats)
{
	if (!stats)
		return;
	memset(stats, 0, sizeof(*stats));
	if (rd)
		*stats = rd->stats;
}

DMAPIPE_EXPORT void dmapipe_reader_free(struct dmapipe_reader *rd)
{
	if (!rd)
		return;
#if HAVE_LIBURING
	/* the kernel may still write into the buffers: wait for every request */
	rd->dispatching = true;
	while (rd->ring_ok && rd->in_ring > 0) {
		if (storage_ring_wait(&rd->ring, UINT64_MAX) < 0)
			break;
		reap(rd);
	}
#endif
	deliver(rd, true);
#if HAVE_LIBURING
	if (rd->ring_ok)
		storage_ring_exit(&rd->ring);
#endif
	storage_staging_clear(&rd->staging);
	dmapipe_close(rd->efd);
	free(rd);
}

DMAPIPE_EXPORT struct dmapipe_reader *dmapipe_reader_new(struct dmapipe_recording *recording,
							 const struct dmapipe_reader_options *options)
{
	struct dmapipe_reader_options opts;
	struct dmapipe_reader *rd;
	int ret;

	dmapipe_reader_options_init(&opts);
	ret = !recording ? -EINVAL : 0;
	if (ret == 0 && options)
		ret = dmapipe_options_copy(&opts, sizeof(opts), options, sizeof(uint32_t));
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	rd = calloc(1, sizeof(*rd));
	if (!rd) {
		errno = ENOMEM;
		return NULL;
	}
	rd->opts = opts;
	rd->opts.max_frames = MAX(1u, MIN(rd->opts.max_frames, 256u));
	rd->recording = recording;
	dmapipe_recording_get_info(recording, &rd->info);
	rec_recording_fds(recording, &rd->dfd, &rd->fd);
	storage_paths_init(&rd->paths, "reader", false, rd->info.direct);
	rd->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rd->efd < 0) {
		int err = errno;

		free(rd);
		errno = err;
		return NULL;
	}
#if HAVE_LIBURING
	ret = storage_ring_init(&rd->ring, rd->opts.max_frames * MAX_OPS + 8, rd->efd);
	if (ret == 0)
		rd->ring_ok = true;
	else
		log_info("reader: io_uring is not available (%s): reading one frame at a time",
			 strerror(-ret));
#endif
	rd->stats.io_uring = rd->ring_ok;
	return rd;
}
