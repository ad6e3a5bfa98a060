/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A record's writes (recorder.c decides when a frame is written, this file
 * how): the record's layout and size, one write per object along the path
 * its memory allows (io.c's storage_paths) with the fallbacks when a path
 * fails, and the header once every object is in the file.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recorder-private.h"

#if HAVE_LIBURING

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
	/*
	 * Straight to io_uring's workers: issued inline, a write may wait in
	 * the file system (its journal, its locks) for a stalled disk, inside
	 * the caller's loop, which may be a capture loop (docs/REALTIME.md).
	 */
	sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data(sqe, op);
	return 0;
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
		recorder_complete_frame(rec, f);
	}
}

/*
 * Every object of @f is in the file. With a release callback the buffer
 * goes back now and the header follows from the recorder's memory, so
 * that a frame's lease lasts one write, not two in a row (under a stalled
 * disk each takes the stall: docs/REALTIME.md).
 */
static void payload_written(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	if (rec->opts.release)
		recorder_release_frame(rec, f);
	submit_header(rec, f);
}

static void op_finished(struct dmapipe_recorder *rec, struct rec_op *op)
{
	struct rec_frame *f = op->frame;

	storage_staging_put(&rec->staging, op->staging, op->staging_size);
	op->staging = NULL;
	if (--f->pending > 0)
		return;
	if (f->status == 0 && !f->header_submitted && !f->group)
		payload_written(rec, f);
	else
		recorder_complete_frame(rec, f);
}

/* The counted copy's staging buffer for @op: 0, -EPERM (strict) or -ENOMEM. */
static int stage_alloc(struct dmapipe_recorder *rec, struct rec_op *op)
{
	int ret = dmapipe_copy_allowed("record: staging copy for the disk");

	if (ret < 0)
		return ret;
	op->staging = storage_staging_get(&rec->staging, op->len, rec->mem_align, &op->staging_size);
	if (!op->staging)
		return -ENOMEM;
	op->path = DMAPIPE_RECORD_PATH_COPY;
	return 0;
}

/*
 * Fills @op's staging buffer with object bytes [src, src + data_len) and
 * zero padding to op->len: the counted copy. Only once the frame's content
 * is complete (its acquire fence signalled). 0 or -errno.
 */
static int stage_fill(struct dmapipe_recorder *rec, struct rec_op *op, struct dmapipe_buffer *buf)
{
	int ret = dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ);

	if (ret < 0)
		return ret;
	memcpy(op->staging, op->src, op->data_len);
	dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ);
	memset(op->staging + op->data_len, 0, op->len - op->data_len);
	dmapipe_count_copy(op->data_len);
	op->src = op->staging;
	return 0;
}

static int stage_copy(struct dmapipe_recorder *rec, struct rec_op *op, struct dmapipe_buffer *buf)
{
	int ret = stage_alloc(rec, op);

	return ret < 0 ? ret : stage_fill(rec, op, buf);
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

	/* a group's own memory never faults: only a buffer's mapping does */
	if (res == -EFAULT && op->path == DMAPIPE_RECORD_PATH_DIRECT && f->status == 0 &&
	    f->buffer) {
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
	recorder_complete_frame(rec, f);
}

void recorder_write_done(struct dmapipe_recorder *rec, struct rec_op *op, int res)
{
	if (op->kind == OP_HEADER)
		header_done(rec, op, res);
	else
		object_done(rec, op, res);
}

uint64_t recorder_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The CRC32C of the frame's data, object by object as recorded, read from
 * the buffer's mapping once its pixels are final: a CPU pass over the
 * frame, timed (docs/FORMAT.md, "Payload checksums"). A buffer that cannot
 * be read by the CPU is recorded without.
 */
static void checksum_frame(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	const struct dmapipe_layout *l = &f->fh.layout.layout;
	struct dmapipe_buffer *buf = f->buffer;
	uint64_t t0 = recorder_thread_cpu_ns();
	uint32_t crc = 0;
	int ret;

	ret = dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ);
	if (ret < 0) {
		log_debug("record: frame %llu recorded without a checksum: %s",
			  (unsigned long long)f->fh.sequence, strerror(-ret));
		return;
	}
	for (unsigned int i = 0; i < l->n_objects && i < DMAPIPE_MAX_OBJECTS; i++)
		crc = rec_crc32c(crc, buf->map[i], (size_t)l->objects[i].size);
	dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ);
	f->fh.payload_crc = crc;
	f->fh.record_flags |= DMAPIPE_RECORDED_CHECKSUM;
	rec->stats.frames_checksummed++;
	rec->stats.checksum_ns += recorder_thread_cpu_ns() - t0;
}

void recorder_start_frame(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	int ret;

	if (f->checksum)
		checksum_frame(rec, f);
	f->pending = f->n_ops + 1; /* +1: held until every op is started */
	for (unsigned int i = 0; i < f->n_ops; i++) {
		struct rec_op *op = &f->ops[i];

		/* planned as a copy: the pixels are final now, copy them */
		ret = op->path == DMAPIPE_RECORD_PATH_COPY && op->src != op->staging ?
		      stage_fill(rec, op, f->buffer) : 0;
		if (ret == 0)
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
		/*
		 * written synchronously (WRITE_FILE), maybe inside
		 * dmapipe_recorder_submit(): the buffer goes back with the
		 * header's completion, in dispatch, where done callbacks run
		 */
		if (f->status == 0 && !f->group)
			submit_header(rec, f);
		else
			recorder_complete_frame(rec, f);
	}
	/* else: the queued ops finish in dispatch, and the frame with them */
}

/* ---- planning a record ---------------------------------------------------------------- */

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

uint64_t recorder_record_size(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
			      const struct dmapipe_frame_meta *meta)
{
	uint64_t size = rec->block;

	for (unsigned int i = 0; i < buf->layout.n_objects && i < DMAPIPE_MAX_OBJECTS; i++)
		size += ALIGN_UP(recorded_size(rec, buf, meta, i), (uint64_t)rec->block);
	return size;
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

void recorder_layout(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
		     const struct dmapipe_frame_meta *meta, struct rec_layout *rl)
{
	const struct dmapipe_layout *l = &buf->layout;

	memset(rl, 0, sizeof(*rl));
	rl->layout = *l;
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		rl->layout.objects[i].fd = -1;
		rl->layout.objects[i].kind = DMAPIPE_MEM_NONE;
		if (i >= l->n_objects) {
			rl->layout.objects[i].size = 0;
			continue;
		}
		rl->layout.objects[i].size = meta ? recorded_size(rec, buf, meta, i) : buf->map_size[i];
		rl->stored[i] = ALIGN_UP(rl->layout.objects[i].size, (uint64_t)rec->block);
	}
}

uint32_t recorder_note_layout(struct dmapipe_recorder *rec, const struct rec_layout *rl)
{
	uint32_t change = !rec->have_last || !same_format(rl, &rec->last_layout) ?
			  DMAPIPE_RECORDED_FORMAT_CHANGE : 0;

	rec->last_layout = *rl;
	rec->have_last = true;
	return change;
}

int recorder_plan_frame(struct dmapipe_recorder *rec, struct rec_frame *f,
		       struct dmapipe_buffer *buf, const struct dmapipe_frame_meta *meta)
{
	const struct dmapipe_layout *l = &buf->layout;
	struct rec_layout rl;
	uint64_t pos;
	int idx;

	if (posix_memalign((void **)&f->header, MAX(rec->mem_align, (uint32_t)dmapipe_page_size()),
			   rec->block))
		return -ENOMEM;
	memset(f->header, 0, rec->block);
	f->fh.offset = f->offset;
	recorder_layout(rec, buf, meta, &rl);
	idx = rec_index_add_layout(&rec->ix, &rl);
	if (idx < 0)
		return idx;
	f->fh.record_flags = recorder_note_layout(rec, &rl);
	memcpy(f->fh.id, rec->id, sizeof(f->fh.id));
	f->fh.layout = rl;
	f->fh.layout_index = (uint32_t)idx;
	f->fh.sequence = meta->sequence;
	f->fh.timestamp_ns = meta->timestamp_ns;
	f->fh.frame_flags = meta->flags;
	memcpy(f->fh.bytes_used, meta->bytes_used, sizeof(f->fh.bytes_used));
	f->size = rec->block + rec_layout_payload(&rl);
	f->fh.record_size = f->size;
	f->checksum = rec->opts.checksum == DMAPIPE_RECORD_CHECKSUM_ALL ||
		      (rec->opts.checksum == DMAPIPE_RECORD_CHECKSUM_AUTO &&
		       !dmapipe_format_plane_count(l->format.fourcc));

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
			int ret = stage_alloc(rec, op);

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
			ret = stage_alloc(rec, tail);
			if (ret < 0)
				return ret;
		}
		pos += stored;
	}
	return 0;
}

void recorder_free_frame(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	recorder_group_free(rec, f->group);
	for (unsigned int i = 0; i < f->n_ops; i++)
		storage_staging_put(&rec->staging, f->ops[i].staging, f->ops[i].staging_size);
	free(f->header);
	free(f);
}

#endif /* HAVE_LIBURING */
