/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder: frames to a file with direct I/O through io_uring.
 *
 * Each frame becomes one record (docs/FORMAT.md): a header block followed
 * by the buffer's objects, each padded to the block size. The objects are
 * written first, straight from the buffer's mapping; the header only once
 * every object write completed, so a valid header always describes bytes
 * that are in the file. Records are laid out in submission order, but
 * their writes complete in any order; a reader scanning after a crash
 * checks every block for a header. Records are not gathered into shared
 * requests, since a request cut short could then hold a header without its
 * payload (docs/FORMAT.md, "Request sizes").
 *
 * How an object reaches the disk, per object:
 *   - DIRECT: an O_DIRECT write from the mapping (struct-page backed:
 *     memfds, dmapipe.ko's page mappings). A PFN mapping (dma-heap,
 *     udmabuf's own mmap) fails with EFAULT; the object is remembered
 *     (by device and inode) and the write is redone by
 *   - KMOD: dmapipe.ko's WRITE_FILE, in the kernel, for dmapipe dma-bufs,
 *     synchronous in dispatch (the consumer waits, never the producer), or
 *   - COPY: a counted CPU copy into an aligned staging buffer (refused in
 *     strict mode). Also used for an object whose padded length runs past
 *     its mapping: only the tail block is copied.
 *   - BUFFERED: plain writes into the page cache when the file system has
 *     no O_DIRECT (the kernel copies; recorder-file.c keeps the page cache
 *     from growing with the recording).
 *
 * recorder-file.c looks after the file around the records: its creation,
 * space allocated ahead, data barriers, and the index at the end.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "recorder-private.h"

DMAPIPE_EXPORT const char *dmapipe_record_path_to_string(enum dmapipe_record_path path)
{
	switch (path) {
	case DMAPIPE_RECORD_PATH_DIRECT:
		return "direct";
	case DMAPIPE_RECORD_PATH_KMOD:
		return "kmod";
	case DMAPIPE_RECORD_PATH_COPY:
		return "copy";
	case DMAPIPE_RECORD_PATH_BUFFERED:
		return "buffered";
	default:
		return "unknown";
	}
}

DMAPIPE_EXPORT void dmapipe_recorder_options_init(struct dmapipe_recorder_options *options)
{
	if (!options)
		return;
	memset(options, 0, sizeof(*options));
	options->size = sizeof(*options);
	options->mode = DMAPIPE_RECORD_AUTO;
	options->max_frames = 8;
	options->max_bytes = UINT64_C(512) << 20;
	options->sync_interval_ms = 500;
	options->prealloc_bytes = UINT64_C(256) << 20;
}

#if HAVE_LIBURING

/* ---- writes --------------------------------------------------------------------------- */

static int queue_write(struct dmapipe_recorder *rec, struct rec_op *op)
{
	struct io_uring_sqe *sqe = storage_ring_sqe(&rec->ring);
	uint64_t left = op->len - op->done;

	if (!sqe)
		return -EBUSY;
	/* one request moves at most 1 GiB; the rest is a short write, resubmitted */
	if (left > (UINT64_C(1) << 30))
		left = UINT64_C(1) << 30;
	io_uring_prep_write(sqe, rec->fd, op->src + op->done, (unsigned int)left,
			    op->file_off + op->done);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

/* ---- frames ------------------------------------------------------------------------- */

void recorder_fail(struct dmapipe_recorder *rec, int err)
{
	if (rec->error == 0 || (rec->error == -ENOSPC && !storage_space_error(err))) {
		if (storage_space_error(err)) {
			log_warn("record: the file system is full: stopping the recording");
			rec->error = -ENOSPC;
		} else {
			log_error("record: write error: %s", strerror(-err));
			rec->error = err;
		}
		rec->stats.error = rec->error;
	}
}

static int add_entry(struct dmapipe_recorder *rec, const struct rec_frame *f)
{
	struct rec_index_entry e;

	rec_index_entry_from_header(&e, &f->fh);
	return rec_index_add_entry(&rec->ix, &e);
}

/* Frees records from the head that are complete; the durable candidate follows. */
static void retire_frames(struct dmapipe_recorder *rec)
{
	while (rec->head && rec->head->complete) {
		struct rec_frame *f = rec->head;

		rec->head = f->next;
		if (!rec->head)
			rec->tail = NULL;
		free(f->header);
		free(f);
	}
}

uint64_t recorder_complete_end(const struct dmapipe_recorder *rec)
{
	return rec->head ? rec->head->offset : rec->write_pos;
}

static void complete_frame(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	for (unsigned int i = 0; i < f->n_ops; i++) {
		storage_staging_put(&rec->staging, f->ops[i].staging, f->ops[i].staging_size);
		f->ops[i].staging = NULL;
	}
	if (f->status == 0) {
		if (add_entry(rec, f) < 0)
			recorder_fail(rec, -ENOMEM);
		rec->stats.frames_written++;
		rec->data_end = MAX(rec->data_end, f->offset + f->size);
	} else {
		rec->stats.frames_failed++;
		if (f->status != -ECANCELED)
			recorder_fail(rec, f->status);
	}
	f->complete = true;
	rec->in_flight--;
	rec->in_flight_bytes -= f->size;
	dmapipe_buffer_unref(f->buffer);
	f->buffer = NULL;
	rec->completed_in_dispatch++;
	if (rec->opts.done)
		rec->opts.done(rec, f->frame_data, f->status, rec->opts.user_data);
	retire_frames(rec);
	if (!rec->direct)
		recorder_queue_writeback(rec);
}

static void submit_header(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	f->fh.durable_end = rec->durable_end;
	rec_frame_header_encode(f->header, &f->fh);
	f->header_op.kind = OP_HEADER;
	f->header_op.frame = f;
	f->header_op.file_off = f->offset;
	f->header_op.len = rec->block;
	f->header_op.done = 0;
	f->header_op.src = f->header;
	f->header_submitted = true;
	f->pending++;
	if (queue_write(rec, &f->header_op) < 0) {
		f->pending--;
		f->status = -EBUSY;
		complete_frame(rec, f);
	}
}

static void op_finished(struct dmapipe_recorder *rec, struct rec_op *op)
{
	struct rec_frame *f = op->frame;

	storage_staging_put(&rec->staging, op->staging, op->staging_size);
	op->staging = NULL;
	if (--f->pending > 0)
		return;
	if (f->status == 0 && !f->header_submitted)
		submit_header(rec, f);
	else
		complete_frame(rec, f);
}

/*
 * Fills @op's staging buffer with object bytes [src, src + data_len) and
 * zero padding to op->len: the counted copy. 0, -EPERM (strict) or -ENOMEM.
 */
static int stage_copy(struct dmapipe_recorder *rec, struct rec_op *op, struct dmapipe_buffer *buf)
{
	int ret = dmapipe_copy_allowed("record: staging copy for the disk");

	if (ret < 0)
		return ret;
	op->staging = storage_staging_get(&rec->staging, op->len, rec->mem_align, &op->staging_size);
	if (!op->staging)
		return -ENOMEM;
	ret = dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ);
	if (ret < 0) {
		storage_staging_put(&rec->staging, op->staging, op->staging_size);
		op->staging = NULL;
		return ret;
	}
	memcpy(op->staging, op->src, op->data_len);
	dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ);
	memset(op->staging + op->data_len, 0, op->len - op->data_len);
	dmapipe_count_copy(op->data_len);
	op->src = op->staging;
	op->path = DMAPIPE_RECORD_PATH_COPY;
	return 0;
}

/*
 * Starts (or restarts, after EFAULT) one object op along the best path
 * still open for its object. Returns 0 with the op queued or finished
 * synchronously (op->done == op->len), or -errno.
 */
static int start_object_op(struct dmapipe_recorder *rec, struct rec_op *op)
{
	struct dmapipe_buffer *buf = op->frame->buffer;
	int ret;

	if (op->path == DMAPIPE_RECORD_PATH_KMOD) {
		ret = storage_path_kmod(&rec->paths, buf, op->object, op->obj_off, op->len, rec->fd,
					op->file_off);
		if (ret == 0) {
			op->done = op->len;
			return 0;
		}
		if (ret != -EXDEV)
			return ret;
		ret = stage_copy(rec, op, buf);
		if (ret < 0)
			return ret;
	}
	return queue_write(rec, op);
}

static void object_done(struct dmapipe_recorder *rec, struct rec_op *op, int res)
{
	struct rec_frame *f = op->frame;
	int ret;

	if (res == -EFAULT && op->path == DMAPIPE_RECORD_PATH_DIRECT && f->status == 0) {
		op->done = 0;
		op->path = storage_path_fault(&rec->paths, &f->buffer->layout.objects[op->object]);
		if (op->path == DMAPIPE_RECORD_PATH_COPY)
			ret = stage_copy(rec, op, f->buffer);
		else
			ret = 0;
		if (ret == 0)
			ret = start_object_op(rec, op);
		if (ret < 0)
			goto failed;
		if (op->done < op->len)
			return; /* queued again */
		res = 0;
		goto account;
	}
	if (res == -EAGAIN || res == -EINTR) {
		if (queue_write(rec, op) == 0)
			return;
		res = -EBUSY;
	}
	if (res < 0) {
		ret = res;
		goto failed;
	}
	if (res == 0) {
		ret = -EIO;
		goto failed;
	}
	op->done += (uint64_t)res;
	if (op->done < op->len) {
		if (queue_write(rec, op) == 0)
			return;
		ret = -EBUSY;
		goto failed;
	}
account:
	rec->stats.path_bytes[op->path] += op->len;
	rec->stats.path_frames[op->path]++;
	rec->stats.bytes_written += op->len;
	if (op->path == DMAPIPE_RECORD_PATH_COPY)
		rec->stats.bytes_copied += op->data_len;
	op_finished(rec, op);
	return;
failed:
	if (f->status == 0)
		f->status = ret;
	op_finished(rec, op);
}

static void header_done(struct dmapipe_recorder *rec, struct rec_op *op, int res)
{
	struct rec_frame *f = op->frame;

	if (res > 0) {
		op->done += (uint64_t)res;
		if (op->done < op->len && queue_write(rec, op) == 0)
			return;
		if (op->done < op->len)
			res = -EIO;
	} else if (res == 0) {
		res = -EIO;
	}
	if (res < 0 && f->status == 0)
		f->status = res;
	f->pending--;
	complete_frame(rec, f);
}

/* ---- completions ---------------------------------------------------------------------- */

static void handle_cqe(void *ctx, void *data, int res)
{
	struct dmapipe_recorder *rec = ctx;
	struct rec_op *op = data;

	if (!op)
		return;
	switch (op->kind) {
	case OP_OBJECT:
		object_done(rec, op, res);
		break;
	case OP_HEADER:
		header_done(rec, op, res);
		break;
	default:
		recorder_file_op_done(rec, op, res);
		break;
	}
}

static unsigned int reap(struct dmapipe_recorder *rec, bool wait)
{
	return storage_ring_reap(&rec->ring, wait, handle_cqe, rec);
}

static bool busy(const struct dmapipe_recorder *rec)
{
	return rec->head || recorder_file_busy(rec);
}

/* ---- the recorder ---------------------------------------------------------------------- */

static int setup_events(struct dmapipe_recorder *rec)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ret;

	rec->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rec->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	rec->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rec->efd < 0 || rec->tfd < 0 || rec->epfd < 0)
		return -errno;
	ret = storage_ring_init(&rec->ring, rec->opts.max_frames * (MAX_OPS + 1) + 8, rec->efd);
	if (ret < 0) {
		log_warn("record: io_uring is not available: %s", strerror(-ret));
		return -ENOTSUP;
	}
	rec->ring_ok = true;
	ev.data.fd = rec->efd;
	if (epoll_ctl(rec->epfd, EPOLL_CTL_ADD, rec->efd, &ev) < 0)
		return -errno;
	ev.data.fd = rec->tfd;
	if (epoll_ctl(rec->epfd, EPOLL_CTL_ADD, rec->tfd, &ev) < 0)
		return -errno;
	if (rec->opts.sync_interval_ms) {
		struct itimerspec its = {
			.it_interval = { rec->opts.sync_interval_ms / 1000,
					 (long)(rec->opts.sync_interval_ms % 1000) * 1000000L },
		};

		its.it_value = its.it_interval;
		if (timerfd_settime(rec->tfd, 0, &its, NULL) < 0)
			return -errno;
	}
	return 0;
}

static void recorder_destroy(struct dmapipe_recorder *rec)
{
	if (rec->ring_ok)
		storage_ring_exit(&rec->ring);
	dmapipe_close(rec->efd);
	dmapipe_close(rec->tfd);
	dmapipe_close(rec->epfd);
	dmapipe_close(rec->fd);
	storage_staging_clear(&rec->staging);
	rec_index_clear(&rec->ix);
	free(rec);
}

DMAPIPE_EXPORT struct dmapipe_recorder *
dmapipe_recorder_new(const char *path, const struct dmapipe_recorder_options *options)
{
	struct dmapipe_recorder *rec;
	struct timespec ts;
	int ret;

	if (!path || !*path || (options && options->size < sizeof(*options))) {
		errno = EINVAL;
		return NULL;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		errno = ENOMEM;
		return NULL;
	}
	rec->fd = rec->efd = rec->tfd = rec->epfd = -1;
	if (options)
		rec->opts = *options;
	else
		dmapipe_recorder_options_init(&rec->opts);
	if (rec->opts.max_frames == 0)
		rec->opts.max_frames = 1;
	if (rec->opts.max_frames > 256)
		rec->opts.max_frames = 256;
	if (rec->opts.prealloc_bytes == 0)
		rec->falloc_unsupported = true; /* asked for none */

	if (getrandom(rec->id, sizeof(rec->id), 0) != sizeof(rec->id)) {
		ret = -errno;
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rec->created_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	ret = recorder_create_file(rec, path);
	if (ret < 0)
		goto fail;
	ret = setup_events(rec);
	if (ret < 0)
		goto fail;
	storage_paths_init(&rec->paths, "record", true, rec->direct);
	rec->write_pos = rec->block;
	rec->data_end = rec->block;
	rec->stats.mode = rec->direct ? DMAPIPE_RECORD_DIRECT : DMAPIPE_RECORD_BUFFERED;
	rec->stats.block_size = rec->block;
	rec->stats.mem_align = rec->mem_align;
	log_info("record: %s: %s, block %u, memory alignment %u", path,
		 rec->direct ? "O_DIRECT" : "buffered", rec->block, rec->mem_align);
	return rec;

fail:
	if (rec->fd >= 0)
		unlink(path);
	recorder_destroy(rec);
	errno = -ret;
	return NULL;
}

/*
 * The bytes of object @i that are recorded. A fourcc dmapipe has no
 * geometry for (a compressed bitstream: 'FWHT', 'H264') fills its buffer
 * only to bytes_used, which varies per frame: the data of its planes
 * (offset + bytes_used, when every plane on the object gives it), rounded
 * up to the block size so that frames share a few layouts (docs/FORMAT.md).
 * Raw frames are recorded whole.
 */
static uint64_t recorded_size(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
			      const struct dmapipe_frame_meta *meta, unsigned int i)
{
	const struct dmapipe_layout *l = &buf->layout;
	uint64_t end = 0;

	if (dmapipe_format_plane_count(l->format.fourcc))
		return buf->map_size[i];
	for (unsigned int p = 0; p < l->n_planes && p < DMAPIPE_MAX_PLANES; p++) {
		if (l->planes[p].object != i)
			continue;
		if (!meta->bytes_used[p])
			return buf->map_size[i];
		end = MAX(end, l->planes[p].offset + meta->bytes_used[p]);
	}
	return MIN(ALIGN_UP(end, (uint64_t)rec->block), buf->map_size[i]);
}

/* Layouts that differ at most in the recorded sizes of a compressed format's objects. */
static bool same_format(const struct rec_layout *a, const struct rec_layout *b)
{
	struct rec_layout x = *b;

	if (!dmapipe_format_plane_count(a->layout.format.fourcc)) {
		for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
			x.layout.objects[i].size = a->layout.objects[i].size;
			x.stored[i] = a->stored[i];
		}
	}
	return rec_layout_equal(a, &x);
}

static int build_frame(struct dmapipe_recorder *rec, struct rec_frame *f,
		       struct dmapipe_buffer *buf, const struct dmapipe_frame_meta *meta)
{
	const struct dmapipe_layout *l = &buf->layout;
	struct rec_layout rl;
	uint64_t pos;
	int idx;

	memset(&rl, 0, sizeof(rl));
	rl.layout = *l;
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		rl.layout.objects[i].fd = -1;
		rl.layout.objects[i].kind = DMAPIPE_MEM_NONE;
		if (i >= l->n_objects) {
			rl.layout.objects[i].size = 0;
			continue;
		}
		rl.layout.objects[i].size = recorded_size(rec, buf, meta, i);
		rl.stored[i] = ALIGN_UP(rl.layout.objects[i].size, (uint64_t)rec->block);
	}
	f->fh.record_flags = !rec->have_last || !same_format(&rl, &rec->last_layout) ?
			     DMAPIPE_RECORDED_FORMAT_CHANGE : 0;
	idx = rec_index_add_layout(&rec->ix, &rl);
	if (idx < 0)
		return idx;
	memcpy(f->fh.id, rec->id, sizeof(f->fh.id));
	f->fh.layout = rl;
	f->fh.layout_index = (uint32_t)idx;
	f->fh.sequence = meta->sequence;
	f->fh.timestamp_ns = meta->timestamp_ns;
	f->fh.frame_flags = meta->flags;
	memcpy(f->fh.bytes_used, meta->bytes_used, sizeof(f->fh.bytes_used));
	f->size = rec->block + rec_layout_payload(&rl);
	f->fh.record_size = f->size;

	/* the ops: one per object, plus a copied tail where the padding is not mapped */
	pos = f->offset + rec->block;
	for (unsigned int i = 0; i < l->n_objects; i++) {
		uint64_t data = rl.layout.objects[i].size, stored = rl.stored[i];
		enum dmapipe_record_path path = storage_path_pick(&rec->paths, &l->objects[i]);
		const uint8_t *src = path == DMAPIPE_RECORD_PATH_DIRECT ?
				     dmapipe_buffer_direct_io_map(buf, i) : buf->map[i];
		struct rec_op *op = &f->ops[f->n_ops++];
		uint64_t body = stored;

		if (path != DMAPIPE_RECORD_PATH_BUFFERED)
			body = storage_direct_span(data, rec->block, MIN(data, l->objects[i].size));
		op->kind = OP_OBJECT;
		op->frame = f;
		op->object = i;
		op->src = src;
		op->path = path;
		op->file_off = pos;
		/* buffered writes need no alignment: the padding stays a hole */
		op->len = path == DMAPIPE_RECORD_PATH_BUFFERED ? data : body;
		op->data_len = MIN(data, op->len);
		if (op->len == 0) {
			f->n_ops--;
		} else if (path == DMAPIPE_RECORD_PATH_COPY) {
			int ret = stage_copy(rec, op, buf);

			if (ret < 0)
				return ret;
		}
		if (body < stored) {
			struct rec_op *tail = &f->ops[f->n_ops++];
			int ret;

			tail->kind = OP_OBJECT;
			tail->frame = f;
			tail->object = i;
			tail->src = (const uint8_t *)buf->map[i] + body;
			tail->obj_off = body;
			tail->file_off = pos + body;
			tail->len = stored - body;
			tail->data_len = data - body;
			ret = stage_copy(rec, tail, buf);
			if (ret < 0)
				return ret;
		}
		pos += stored;
	}
	rec->last_layout = rl;
	rec->have_last = true;
	return 0;
}

static void free_frame_ops(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	for (unsigned int i = 0; i < f->n_ops; i++)
		storage_staging_put(&rec->staging, f->ops[i].staging, f->ops[i].staging_size);
	free(f->header);
	free(f);
}

DMAPIPE_EXPORT int dmapipe_recorder_submit(struct dmapipe_recorder *rec,
					   struct dmapipe_buffer *buffer,
					   const struct dmapipe_frame_meta *meta, void *frame_data)
{
	struct rec_frame *f;
	uint64_t size, end;
	int ret;

	if (!rec || !buffer || !meta || rec->finished)
		return -EINVAL;
	if (rec->error == -ENOSPC)
		return -ENOSPC;
	if (rec->error)
		return -EIO;
	ret = dmapipe_buffer_map_all(buffer);
	if (ret < 0)
		return ret;
	/* refuse before anything is copied: a refused frame costs nothing */
	size = rec->block;
	for (unsigned int i = 0; i < buffer->layout.n_objects && i < DMAPIPE_MAX_OBJECTS; i++)
		size += ALIGN_UP(recorded_size(rec, buffer, meta, i), (uint64_t)rec->block);
	/*
	 * the disk is behind: too much in flight, or (buffered) too much in the
	 * page cache not yet written back and dropped
	 */
	if ((rec->in_flight > 0 && (rec->in_flight >= rec->opts.max_frames ||
				    rec->in_flight_bytes + size > rec->opts.max_bytes)) ||
	    recorder_cache_full(rec, size)) {
		rec->stats.frames_refused++;
		return -EAGAIN;
	}
	end = rec->write_pos + size;
	ret = recorder_reserve_space(rec, end);
	if (ret == -EAGAIN)
		rec->stats.frames_refused++;
	if (ret < 0)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (posix_memalign((void **)&f->header, MAX(rec->mem_align, (uint32_t)dmapipe_page_size()),
			   rec->block)) {
		free(f);
		return -ENOMEM;
	}
	memset(f->header, 0, rec->block);
	f->buffer = buffer; /* borrowed until the frame is accepted */
	f->offset = rec->write_pos;
	f->fh.offset = f->offset;
	ret = build_frame(rec, f, buffer, meta);
	if (ret < 0) {
		free_frame_ops(rec, f);
		return ret;
	}
	if (f->fh.record_flags & DMAPIPE_RECORDED_FORMAT_CHANGE)
		rec->stats.format_changes++;
	f->buffer = dmapipe_buffer_ref(buffer);
	f->frame_data = frame_data;
	rec->write_pos = end;
	rec->in_flight++;
	rec->in_flight_bytes += f->size;
	rec->stats.frames_submitted++;
	if (rec->tail)
		rec->tail->next = f;
	else
		rec->head = f;
	rec->tail = f;

	recorder_queue_falloc(rec, end + rec->prealloc_chunk / 2);

	f->pending = f->n_ops + 1; /* +1: held until every op is started */
	for (unsigned int i = 0; i < f->n_ops; i++) {
		struct rec_op *op = &f->ops[i];

		ret = start_object_op(rec, op);
		if (ret < 0) {
			if (f->status == 0)
				f->status = ret;
			f->pending--;
		} else if (op->done == op->len) {
			/* finished synchronously (WRITE_FILE) */
			rec->stats.path_bytes[op->path] += op->len;
			rec->stats.path_frames[op->path]++;
			rec->stats.bytes_written += op->len;
			f->pending--;
		}
	}
	f->pending--;
	if (f->pending == 0) {
		if (f->status == 0)
			submit_header(rec, f);
		else
			complete_frame(rec, f);
	}
	/* else: the queued ops finish in dispatch, and the frame with them */
	storage_ring_flush(&rec->ring);
	return 0;
}

DMAPIPE_EXPORT int dmapipe_recorder_get_fd(const struct dmapipe_recorder *rec)
{
	return rec ? rec->epfd : -1;
}

static void drain_fd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

DMAPIPE_EXPORT int dmapipe_recorder_dispatch(struct dmapipe_recorder *rec, int timeout_ms)
{
	struct epoll_event ev[2];
	int n;

	if (!rec)
		return -EINVAL;
	if (rec->finished)
		return 0;
	rec->completed_in_dispatch = 0;
	n = epoll_wait(rec->epfd, ev, 2, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == rec->efd) {
			drain_fd(rec->efd);
		} else if (ev[i].data.fd == rec->tfd) {
			drain_fd(rec->tfd);
			recorder_queue_barrier(rec);
		}
	}
	reap(rec, false);
	if (!rec->direct)
		recorder_queue_writeback(rec);
	storage_ring_flush(&rec->ring);
	return rec->completed_in_dispatch;
}

DMAPIPE_EXPORT int dmapipe_recorder_finish(struct dmapipe_recorder *rec)
{
	if (!rec)
		return -EINVAL;
	if (rec->finished)
		return rec->finish_ret;
	rec->finished = true;
	/* everything in flight completes (their done callbacks run) */
	while (busy(rec))
		if (reap(rec, true) == 0 && busy(rec))
			break; /* the ring failed: nothing more will complete */
	if (rec->head) {
		log_error("record: %u frames never completed", rec->in_flight);
		recorder_fail(rec, -EIO);
	}

	recorder_close_file(rec);
	rec->finish_ret = rec->error;
	return rec->finish_ret;
}

DMAPIPE_EXPORT void dmapipe_recorder_free(struct dmapipe_recorder *rec)
{
	if (!rec)
		return;
	dmapipe_recorder_finish(rec);
	/* frames that never completed (a broken ring) still hold buffers */
	while (rec->head) {
		struct rec_frame *f = rec->head;

		rec->head = f->next;
		dmapipe_buffer_unref(f->buffer);
		free_frame_ops(rec, f);
	}
	recorder_destroy(rec);
}

DMAPIPE_EXPORT void dmapipe_recorder_get_stats(const struct dmapipe_recorder *rec,
					       struct dmapipe_recorder_stats *stats)
{
	if (!rec || !stats)
		return;
	*stats = rec->stats;
	stats->in_flight_frames = rec->in_flight;
	stats->in_flight_bytes = rec->in_flight_bytes;
	if (!rec->finished)
		stats->file_size = rec->data_end;
	stats->preallocated = rec->prealloc_end;
	stats->error = rec->error;
}

#else /* !HAVE_LIBURING */

DMAPIPE_EXPORT struct dmapipe_recorder *
dmapipe_recorder_new(const char *path, const struct dmapipe_recorder_options *options)
{
	(void)path;
	(void)options;
	log_warn("record: dmapipe was built without liburing: no recorder");
	errno = ENOTSUP;
	return NULL;
}

DMAPIPE_EXPORT int dmapipe_recorder_submit(struct dmapipe_recorder *rec,
					   struct dmapipe_buffer *buffer,
					   const struct dmapipe_frame_meta *meta, void *frame_data)
{
	return -EINVAL;
}

DMAPIPE_EXPORT int dmapipe_recorder_get_fd(const struct dmapipe_recorder *rec)
{
	return -1;
}

DMAPIPE_EXPORT int dmapipe_recorder_dispatch(struct dmapipe_recorder *rec, int timeout_ms)
{
	return -EINVAL;
}

DMAPIPE_EXPORT int dmapipe_recorder_finish(struct dmapipe_recorder *rec)
{
	return -EINVAL;
}

DMAPIPE_EXPORT void dmapipe_recorder_free(struct dmapipe_recorder *rec)
{
}

DMAPIPE_EXPORT void dmapipe_recorder_get_stats(const struct dmapipe_recorder *rec,
					       struct dmapipe_recorder_stats *stats)
{
	if (stats)
		memset(stats, 0, sizeof(*stats));
}

#endif /* HAVE_LIBURING */
