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
 * checks every block for a header. Frames are not gathered into shared
 * requests, since a request cut short could then hold a header without its
 * payload (docs/FORMAT.md, "Request sizes"); the small packets of a
 * compressed stream are, into packet groups whose descriptor comes last
 * (recorder-gather.c).
 *
 * A frame's pixels may still be in the making when it is submitted: its
 * acquire fence (a sync_file) says when they are complete. The recorder
 * waits for it itself, for every caller, without blocking the caller: a
 * frame whose fence has not signalled keeps its place in the file and its
 * slot in flight, its fence is polled in the ring (IORING_OP_POLL_ADD),
 * and its writes start when the poll completes. Nothing of it is read
 * before (a counted copy is planned at submit, made then).
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
#include <fcntl.h>
#include <poll.h>
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
	options->gather_bytes = UINT64_C(1) << 20;
	options->gather_ms = 2000;
}

#if HAVE_LIBURING

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

bool recorder_io_error_transient(struct dmapipe_recorder *rec, int err)
{
	uint64_t now = dmapipe_now_ns();

	if (err != -EIO)
		return false;
	if (!rec->io_error_since)
		rec->io_error_since = now;
	if (now - rec->io_error_since >= IO_ERROR_PERSISTENT_NS) {
		log_error("record: writes have failed with EIO for %llu ms: the error is persistent",
			  (unsigned long long)((now - rec->io_error_since) / 1000000));
		return false;
	}
	return true;
}

void recorder_io_ok(struct dmapipe_recorder *rec)
{
	rec->io_error_since = 0;
}

/*
 * Whether the disk keeps up, judged over windows of BEHIND_WINDOW_NS: a
 * window in which frames were refused and the disk wrote less than was
 * offered says so, at most every BEHIND_WARN_NS. A stall absorbed by the
 * buffer refuses nothing and says nothing; a disk slower than the stream
 * is named within a window of falling behind, with both rates.
 */
#define BEHIND_WINDOW_NS (2 * UINT64_C(1000000000))
#define BEHIND_WARN_NS (30 * UINT64_C(1000000000))

static void check_behind(struct dmapipe_recorder *rec, uint64_t size)
{
	uint64_t now = dmapipe_now_ns(), span, written;

	if (!rec->behind.start_ns) {
		rec->behind.start_ns = now;
		rec->behind.written_at_start = rec->stats.bytes_written;
	}
	rec->behind.offered += size;
	span = now - rec->behind.start_ns;
	if (span < BEHIND_WINDOW_NS)
		return;
	written = rec->stats.bytes_written - rec->behind.written_at_start;
	if (rec->behind.refused && written < rec->behind.offered &&
	    (!rec->behind.last_warning_ns || now - rec->behind.last_warning_ns >= BEHIND_WARN_NS)) {
		double s = (double)span / 1e9;

		log_warn("record: the disk is not keeping up: it wrote %.1f MB/s over the last %.1f s "
			 "while the stream brought %.1f MB/s; %llu frames dropped in that time",
			 (double)written / s / 1e6, s, (double)rec->behind.offered / s / 1e6,
			 (unsigned long long)rec->behind.refused);
		rec->behind.last_warning_ns = now;
	}
	rec->behind.start_ns = now;
	rec->behind.written_at_start = rec->stats.bytes_written;
	rec->behind.offered = 0;
	rec->behind.refused = 0;
}

/*
 * Frames given back whose header is still being written cost the recorder
 * a block and a record each, no buffer: they may outnumber the frames in
 * flight (a stalled disk holds a header as long as a payload), within
 * bounds.
 */
static uint32_t headers_pending_max(const struct dmapipe_recorder *rec)
{
	return MAX(4 * rec->opts.max_frames, 64u);
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
		recorder_group_free(rec, f->group);
		free(f->header);
		free(f);
	}
}

uint64_t recorder_complete_end(const struct dmapipe_recorder *rec)
{
	return rec->head ? rec->head->offset : rec->write_pos;
}

void recorder_release_frame(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	if (f->released)
		return;
	f->released = true;
	if (!f->complete)
		rec->headers_pending++;
	rec->in_flight--;
	rec->in_flight_bytes -= f->size;
	dmapipe_buffer_unref(f->buffer);
	f->buffer = NULL;
	if (rec->opts.release)
		rec->opts.release(rec, f->frame_data, rec->opts.user_data);
}

/* The end of a frame's record: its index entry, buffer and done callback. */
static void complete_record(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	for (unsigned int i = 0; i < f->n_ops; i++) {
		storage_staging_put(&rec->staging, f->ops[i].staging, f->ops[i].staging_size);
		f->ops[i].staging = NULL;
	}
	if (f->status == 0) {
		if (add_entry(rec, f) < 0)
			recorder_fail(rec, -ENOMEM);
		rec->stats.frames_written++;
		dmapipe_hist_add(&rec->write_latency, dmapipe_now_ns() - f->submit_ns);
		rec->data_end = MAX(rec->data_end, f->offset + f->size);
		recorder_io_ok(rec);
	} else {
		rec->stats.frames_failed++;
		if (recorder_io_error_transient(rec, f->status)) {
			/* skipped: not indexed, a gap in the sequence; its space stays unused */
			rec->stats.frames_io_errors++;
			log_warn_ratelimited("record: frame %llu lost to a write error (EIO): "
					     "skipped, the recording goes on",
					     (unsigned long long)f->fh.sequence);
		} else if (f->status != -ECANCELED) {
			recorder_fail(rec, f->status);
		}
	}
	f->complete = true;
	if (f->released)
		rec->headers_pending--;
	else
		recorder_release_frame(rec, f);
	rec->completed_in_dispatch++;
	if (rec->opts.done)
		rec->opts.done(rec, f->frame_data, f->status, rec->opts.user_data);
}

void recorder_complete_frame(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	if (f->group)
		recorder_complete_group(rec, f);
	else
		complete_record(rec, f);
	retire_frames(rec);
	if (!rec->direct)
		recorder_queue_writeback(rec);
}

static unsigned int reap(struct dmapipe_recorder *rec, bool wait);

/* ---- acquire fences ------------------------------------------------------------------ */

/* How long dmapipe_recorder_finish() gives fences that have not signalled. */
#define FENCE_FINISH_MS 1000

/* Whether @fence (a sync_file, or -1: none) has signalled: 1, 0, or -EINVAL (not an fd). */
static int fence_signalled(int fence)
{
	struct pollfd pfd = { .fd = fence, .events = POLLIN };

	if (fence < 0)
		return 1;
	if (poll(&pfd, 1, 0) < 0)
		return -errno;
	if (pfd.revents & POLLNVAL)
		return -EINVAL;
	return (pfd.revents & (POLLIN | POLLERR)) != 0;
}

/* Holds @f until f->fence signals; its writes start in fence_done(). */
static void wait_fence(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	struct io_uring_sqe *sqe = storage_ring_sqe(&rec->ring);

	if (!sqe) {
		dmapipe_close(f->fence);
		f->fence = -1;
		f->status = -EBUSY;
		recorder_complete_frame(rec, f);
		return;
	}
	f->fence_op.kind = OP_FENCE;
	f->fence_op.frame = f;
	io_uring_prep_poll_add(sqe, f->fence, POLLIN);
	io_uring_sqe_set_data(sqe, &f->fence_op);
	rec->fences_waiting++;
}

static void fence_done(struct dmapipe_recorder *rec, struct rec_frame *f, int res)
{
	dmapipe_close(f->fence);
	f->fence = -1;
	rec->fences_waiting--;
	if (res < 0) {
		/* -ECANCELED: the recording ended first (wait_fences()) */
		f->status = res;
		recorder_complete_frame(rec, f);
		return;
	}
	recorder_start_frame(rec, f);
}

/*
 * At the end: frames whose fence has not signalled get FENCE_FINISH_MS
 * more, then their waits are cancelled and they complete with -ECANCELED,
 * unwritten (the rest of the recording is not at fault).
 */
static void wait_fences(struct dmapipe_recorder *rec)
{
	uint64_t deadline = dmapipe_now_ns() + FENCE_FINISH_MS * UINT64_C(1000000);

	while (rec->fences_waiting > 0 && storage_ring_wait(&rec->ring, deadline) == 0)
		reap(rec, false);
	if (rec->fences_waiting == 0)
		return;
	log_warn("record: %u frames' acquire fences did not signal within %u ms of the end: "
		 "not recorded", rec->fences_waiting, FENCE_FINISH_MS);
	for (struct rec_frame *f = rec->head; f; f = f->next) {
		struct io_uring_sqe *sqe;

		if (f->fence < 0)
			continue;
		sqe = storage_ring_sqe(&rec->ring);
		if (!sqe)
			break;
		io_uring_prep_cancel(sqe, &f->fence_op, 0);
		io_uring_sqe_set_data(sqe, NULL);
	}
	storage_ring_flush(&rec->ring);
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
	case OP_HEADER:
		recorder_write_done(rec, op, res);
		break;
	case OP_FENCE:
		fence_done(rec, op->frame, res);
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
	ret = storage_ring_init(&rec->ring, rec->opts.max_frames * (MAX_OPS + 2) + 8, rec->efd);
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

/* The file is @path, or (@path NULL) the caller's @fd. */
static struct dmapipe_recorder *recorder_new(const char *path, int fd,
					     const struct dmapipe_recorder_options *options)
{
	struct dmapipe_recorder_options opts;
	struct dmapipe_recorder *rec;
	struct timespec ts;
	int ret;

	dmapipe_recorder_options_init(&opts);
	ret = path ? (*path ? 0 : -EINVAL) : (fd < 0 ? -EBADF : 0);
	if (ret == 0 && options)
		ret = dmapipe_options_copy(&opts, sizeof(opts), options, sizeof(uint32_t));
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		errno = ENOMEM;
		return NULL;
	}
	rec->fd = rec->efd = rec->tfd = rec->epfd = -1;
	rec->opts = opts;
	if (rec->opts.max_frames == 0)
		rec->opts.max_frames = 1;
	if (rec->opts.max_frames > 256)
		rec->opts.max_frames = 256;
	if (rec->opts.prealloc_bytes == 0)
		rec->falloc_unsupported = true; /* asked for none */
	if (rec->opts.checksum > DMAPIPE_RECORD_CHECKSUM_NONE) {
		ret = -EINVAL;
		goto fail;
	}
	/* a group's payload is counted in 32 bits on disk; 256 MiB is plenty */
	if (rec->opts.gather_bytes > (UINT64_C(256) << 20))
		rec->opts.gather_bytes = UINT64_C(256) << 20;
	rec->stats.checksum = rec->opts.checksum;

	if (getrandom(rec->id, sizeof(rec->id), 0) != sizeof(rec->id)) {
		ret = -errno;
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rec->created_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	ret = recorder_create_file(rec, path, fd);
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
	if (path)
		log_info("record: %s: %s, block %u, memory alignment %u", path,
			 rec->direct ? "O_DIRECT" : "buffered", rec->block, rec->mem_align);
	else
		log_info("record: fd %d: %s, block %u, memory alignment %u", fd,
			 rec->direct ? "O_DIRECT" : "buffered", rec->block, rec->mem_align);
	return rec;

fail:
	/* only what this recorder created goes: never a file that was there before */
	if (rec->created)
		unlink(path);
	recorder_destroy(rec);
	errno = -ret;
	return NULL;
}

DMAPIPE_EXPORT struct dmapipe_recorder *
dmapipe_recorder_new(const char *path, const struct dmapipe_recorder_options *options)
{
	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	return recorder_new(path, -1, options);
}

DMAPIPE_EXPORT struct dmapipe_recorder *
dmapipe_recorder_new_fd(int fd, const struct dmapipe_recorder_options *options)
{
	return recorder_new(NULL, fd, options);
}

DMAPIPE_EXPORT int dmapipe_recorder_submit(struct dmapipe_recorder *rec,
					   struct dmapipe_buffer *buffer,
					   const struct dmapipe_frame_meta *meta, void *frame_data)
{
	struct rec_frame *f;
	uint64_t size, end;
	int signalled, ret;

	if (!rec || !buffer || !meta || rec->finished)
		return -EINVAL;
	if (rec->error == -ENOSPC)
		return -ENOSPC;
	if (rec->error)
		return -EIO;
	signalled = fence_signalled(meta->acquire_fence);
	if (signalled < 0)
		return signalled;
	ret = dmapipe_buffer_map_all(buffer);
	if (ret < 0)
		return ret;
	if (recorder_gatherable(rec, buffer, meta, signalled)) {
		check_behind(rec, meta->bytes_used[0]);
		ret = recorder_gather(rec, buffer, meta, frame_data);
		if (ret == 0) {
			rec->stats.frames_submitted++;
		} else if (ret == -EAGAIN) {
			rec->stats.frames_refused++;
			rec->behind.refused++;
		}
		return ret;
	}
	/* records are laid out in submission order: the packets gathered so far first */
	recorder_flush_group(rec);
	/* refuse before anything is copied: a refused frame costs nothing */
	size = recorder_record_size(rec, buffer, meta);
	check_behind(rec, size);
	/*
	 * the disk is behind: too much in flight, or (buffered) too much in the
	 * page cache not yet written back and dropped
	 */
	if ((rec->in_flight > 0 && (rec->in_flight >= rec->opts.max_frames ||
				    rec->in_flight_bytes + size > rec->opts.max_bytes)) ||
	    rec->headers_pending >= headers_pending_max(rec) || recorder_cache_full(rec, size)) {
		rec->stats.frames_refused++;
		rec->behind.refused++;
		return -EAGAIN;
	}
	end = rec->write_pos + size;
	ret = recorder_reserve_space(rec, end);
	if (ret == -EAGAIN) {
		rec->stats.frames_refused++;
		rec->behind.refused++;
	}
	if (ret < 0)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fence = -1;
	/* the caller keeps its fence: the recorder waits on its own duplicate */
	if (!signalled) {
		f->fence = fcntl(meta->acquire_fence, F_DUPFD_CLOEXEC, 3);
		if (f->fence < 0) {
			free(f);
			return -errno;
		}
	}
	f->buffer = buffer; /* borrowed until the frame is accepted */
	f->offset = rec->write_pos;
	f->submit_ns = dmapipe_now_ns();
	ret = recorder_plan_frame(rec, f, buffer, meta);
	if (ret < 0) {
		dmapipe_close(f->fence);
		recorder_free_frame(rec, f);
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

	if (f->fence >= 0)
		wait_fence(rec, f);
	else
		recorder_start_frame(rec, f);
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
	recorder_flush_group_due(rec);
	recorder_run_releases(rec);
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
	recorder_flush_group(rec);
	storage_ring_flush(&rec->ring);
	wait_fences(rec);
	/* everything in flight completes (their done callbacks run) */
	while (busy(rec))
		if (reap(rec, true) == 0 && busy(rec))
			break; /* the ring failed: nothing more will complete */
	if (rec->head) {
		log_error("record: %u frames never completed", rec->in_flight + rec->headers_pending);
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
		dmapipe_close(f->fence);
		dmapipe_buffer_unref(f->buffer);
		recorder_free_frame(rec, f);
	}
	recorder_destroy(rec);
}

DMAPIPE_EXPORT int dmapipe_recorder_set_rate(struct dmapipe_recorder *rec, uint32_t fps_num,
					     uint32_t fps_den)
{
	if (!rec || !fps_num != !fps_den)
		return -EINVAL;
	rec->opts.fps_num = fps_num;
	rec->opts.fps_den = fps_den;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_recorder_set_format_info(struct dmapipe_recorder *rec,
						    const struct dmapipe_format_info *info)
{
	const char *why;

	if (!rec || dmapipe_format_info_check(info, &why) < 0) {
		if (rec)
			log_warn("record: the format info is refused: %s", why);
		return -EINVAL;
	}
	rec->format_info = *info;
	rec->opts.fps_num = info->fps_num;
	rec->opts.fps_den = info->fps_num ? info->fps_den : 0;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_recorder_get_latency(const struct dmapipe_recorder *rec,
					       struct dmapipe_recorder_latency *latency)
{
	struct dmapipe_recorder_latency l;

	if (!rec || !latency || latency->size < offsetof(struct dmapipe_recorder_latency, p99_ns))
		return -EINVAL;
	memset(&l, 0, sizeof(l));
	l.size = (uint32_t)MIN((size_t)latency->size, sizeof(l));
	l.frames = rec->write_latency.n;
	l.p50_ns = dmapipe_hist_percentile(&rec->write_latency, 500);
	l.p99_ns = dmapipe_hist_percentile(&rec->write_latency, 990);
	l.max_ns = rec->write_latency.max;
	/* a caller built against an older header gets what its struct holds */
	memcpy(latency, &l, l.size);
	return 0;
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

DMAPIPE_EXPORT struct dmapipe_recorder *
dmapipe_recorder_new_fd(int fd, const struct dmapipe_recorder_options *options)
{
	(void)fd;
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

DMAPIPE_EXPORT int dmapipe_recorder_set_rate(struct dmapipe_recorder *rec, uint32_t fps_num,
					     uint32_t fps_den)
{
	(void)rec;
	(void)fps_num;
	(void)fps_den;
	return -ENOSYS;
}

DMAPIPE_EXPORT int dmapipe_recorder_set_format_info(struct dmapipe_recorder *rec,
						    const struct dmapipe_format_info *info)
{
	(void)rec;
	(void)info;
	return -ENOSYS;
}

DMAPIPE_EXPORT void dmapipe_recorder_get_stats(const struct dmapipe_recorder *rec,
					       struct dmapipe_recorder_stats *stats)
{
	if (stats)
		memset(stats, 0, sizeof(*stats));
}

DMAPIPE_EXPORT int dmapipe_recorder_get_latency(const struct dmapipe_recorder *rec,
					       struct dmapipe_recorder_latency *latency)
{
	(void)rec;
	(void)latency;
	return -ENOSYS;
}

#endif /* HAVE_LIBURING */
