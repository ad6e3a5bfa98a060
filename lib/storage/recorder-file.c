/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recorder's file, around the frames recorder.c writes into it:
 * creating it, its superblock, space allocated ahead, data barriers,
 * background writeback in buffered mode, and closing it with its index.
 * docs/FORMAT.md has the layout and what survives a crash.
 *
 * Barriers: every sync_interval_ms an fdatasync runs (IORING_OP_FSYNC);
 * when it completes, every record that was complete when it started is
 * durable, and headers written afterwards carry that offset ("durable
 * end"), which tells a scan which frames survived a power loss for sure.
 *
 * Space: fallocate()d ahead in chunks (IORING_OP_FALLOCATE, so it never
 * blocks the caller), never into the margin left free for other writers;
 * once it fails with ENOSPC (or the margin is reached), frames are
 * accepted only while they and the index still fit in what is allocated,
 * so a full disk ends the recording with a complete index. A chunk that
 * fails part way may leave blocks allocated past the known end (ext4 and
 * XFS keep what they got): those are punched out again, so the other
 * writers on the disk are not starved by space the recording never uses.
 *
 * Buffered mode (a file system without O_DIRECT): writeback is started
 * with sync_file_range() behind the writes and finished pages are dropped
 * with POSIX_FADV_DONTNEED, all as io_uring requests, so neither the page
 * cache nor Dirty memory grows with the recording.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "recorder-private.h"

#if HAVE_LIBURING

static int write_superblock(struct dmapipe_recorder *rec, uint32_t state, uint64_t index_offset,
			    uint64_t index_size)
{
	struct rec_superblock sb = {
		/* version 3 only with groups: without, older readers read the file */
		.version = rec->groups ? REC_VERSION : REC_VERSION_PLAIN,
		.block_size = rec->block,
		.created_ns = rec->created_ns,
		.state = state,
		.flags = rec->direct ? 0 : REC_SB_BUFFERED,
		.index_offset = index_offset,
		.index_size = index_size,
		.frame_count = rec->ix.n_entries,
		.data_end = rec->data_end,
		.max_frames = rec->opts.max_frames,
	};
	struct dmapipe_format_info info = rec->format_info;

	/* the rate is the options' (or dmapipe_recorder_set_rate()'s) */
	info.fps_num = rec->opts.fps_num;
	info.fps_den = rec->opts.fps_den;
	rec_superblock_set_format_info(&sb, &info);
	memcpy(sb.id, rec->id, sizeof(sb.id));
	return rec_superblock_write(rec->fd, &sb, rec->mem_align);
}

/*
 * Opens @path for the recording: created (O_EXCL) unless overwrite is
 * asked, then an existing regular file is truncated. Anything else that
 * already has the name (a device node, a FIFO, a socket, a directory) is
 * refused before it is opened, and checked again once open: a recorder
 * writes, truncates and on failure removes regular files only, and removes
 * only a file it created itself (rec->created).
 */
static int open_path(struct dmapipe_recorder *rec, const char *path)
{
	const int base = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int err, fl;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		log_warn("record: %s is not a regular file: a recording is never written into "
			 "(nor replaces) anything else", path);
		return -EINVAL;
	}
	rec->fd = open(path, base | O_CREAT | O_EXCL, 0644);
	if (rec->fd >= 0)
		rec->created = true;
	else if (errno == EEXIST && rec->opts.overwrite)
		rec->fd = open(path, base);
	if (rec->fd < 0) {
		err = errno;
		log_warn("record: cannot create %s: %s", path, strerror(err));
		return -err;
	}
	/* O_NONBLOCK kept a FIFO swapped in since stat() from blocking the open */
	if (fstat(rec->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warn("record: %s is not a regular file: not written", path);
		return -EINVAL;
	}
	fl = fcntl(rec->fd, F_GETFL);
	if (fl < 0 || fcntl(rec->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    (!rec->created && ftruncate(rec->fd, 0) < 0)) {
		err = errno;
		log_warn("record: cannot prepare %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

/*
 * The caller's @fd (dmapipe_recorder_new_fd()): a duplicate is kept, which
 * must be a regular file open for writing without O_APPEND (whose writes
 * would ignore the offsets records are placed at); it is emptied.
 */
static int use_fd(struct dmapipe_recorder *rec, int fd)
{
	struct stat st;
	int fl, err;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	if (!S_ISREG(st.st_mode) || (fl & O_ACCMODE) == O_RDONLY || (fl & O_APPEND)) {
		log_warn("record: fd %d is %s: a recording needs a regular file open for writing "
			 "at any offset", fd, !S_ISREG(st.st_mode) ? "not a regular file" :
			 (fl & O_APPEND) ? "open for appending" : "read-only");
		return -EINVAL;
	}
	rec->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (rec->fd < 0 || ftruncate(rec->fd, 0) < 0) {
		err = errno;
		log_warn("record: cannot prepare fd %d: %s", fd, strerror(err));
		return -err;
	}
	return 0;
}

/* Switches rec->fd to O_DIRECT as the mode allows and learns the file's alignment. */
static int setup_direct(struct dmapipe_recorder *rec, const char *name)
{
	uint32_t off_align = 0, mem_align = 0;

	/*
	 * The file exists before O_DIRECT is asked for: a file system that
	 * refuses O_DIRECT (tmpfs before 6.6) would fail open(O_CREAT |
	 * O_DIRECT) only after it created the file, which would make the
	 * buffered retry's O_EXCL fail with EEXIST.
	 */
	if (rec->opts.mode != DMAPIPE_RECORD_BUFFERED) {
		int fl = fcntl(rec->fd, F_GETFL);

		if (fl >= 0 && fcntl(rec->fd, F_SETFL, fl | O_DIRECT) == 0) {
			rec->direct = true;
		} else if (errno == EINVAL && rec->opts.mode == DMAPIPE_RECORD_AUTO) {
			log_warn("record: %s: the file system refuses O_DIRECT; recording through "
				 "the page cache (buffered mode)", name);
		} else {
			int err = errno;

			log_warn("record: cannot use O_DIRECT on %s: %s%s", name, strerror(err),
				 err == EINVAL ? " (the file system refuses O_DIRECT)" : "");
			return -err;
		}
	}
	storage_dio_alignment(rec->fd, &off_align, &mem_align);
	if (rec->direct && off_align == 0) {
		log_warn("record: %s: the file system reports no direct I/O support", name);
		return -EINVAL;
	}
	/* a block is at least a page, so records stay page-aligned for any reader */
	rec->block = MAX(off_align, REC_MIN_BLOCK);
	rec->mem_align = MAX(mem_align, 1u);
	if (rec->block > REC_MAX_BLOCK || rec->mem_align > dmapipe_page_size()) {
		log_warn("record: %s: direct I/O alignment %u/%u is beyond what the recorder "
			 "supports", name, off_align, mem_align);
		return -EINVAL;
	}
	return 0;
}

/*
 * Where preallocation must stop for now: the free space (as unprivileged
 * writers see it) minus the margin left to the other writers on the file
 * system. Looked at when a chunk is done, in dispatch, never in submit:
 * statvfs() is cheap on a local file system but it is a system call the
 * capture path need not make. Unknown (the call failed): no limit, as
 * before; ENOSPC still ends the recording cleanly.
 */
static void update_space_limit(struct dmapipe_recorder *rec)
{
	struct statvfs sv;
	uint64_t avail, margin;

	if (fstatvfs(rec->fd, &sv) < 0 || sv.f_frsize == 0) {
		rec->space_limit = UINT64_MAX;
		return;
	}
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	margin = MIN((uint64_t)sv.f_blocks * sv.f_frsize / SPACE_MARGIN_SHARE, SPACE_MARGIN_MAX);
	rec->space_limit = rec->prealloc_end + (avail > margin ? avail - margin : 0);
	rec->space_limit &= ~((uint64_t)rec->block - 1);
}

/* What may be preallocated from @off for a wish of @len: within the limit, in blocks. */
static uint64_t space_allowed(const struct dmapipe_recorder *rec, uint64_t off, uint64_t len)
{
	if (off >= rec->space_limit)
		return 0;
	return MIN(len, rec->space_limit - off);
}

/*
 * The first chunk, synchronously: a disk that is already full (or only
 * has the margin left) fails the recorder's creation. A chunk cut short
 * by ENOSPC is given back (the file holds only the superblock yet) before
 * a small one is tried.
 */
static int first_chunk(struct dmapipe_recorder *rec, const char *path)
{
	uint64_t want = rec->prealloc_chunk;
	bool small = false;

	rec->prealloc_end = rec->block;
	update_space_limit(rec);
	for (;;) {
		uint64_t len = space_allowed(rec, rec->block, want);

		if (len < rec->block) {
			log_warn("record: %s: the file system is full (nothing free beyond the "
				 "margin left to other writers)", path);
			return -ENOSPC;
		}
		if (fallocate(rec->fd, 0, 0, (off_t)(rec->block + len)) == 0) {
			rec->prealloc_end = rec->block + len;
			break;
		}
		if (!storage_space_error(-errno)) {
			log_info("record: %s: no preallocation: %s", path, strerror(errno));
			rec->falloc_unsupported = true;
			rec->prealloc_end = 0;
			return 0;
		}
		rec->falloc_enospc++;
		if (ftruncate(rec->fd, (off_t)rec->block) < 0)
			return -errno;
		if (small) {
			log_warn("record: %s: the file system is full", path);
			return -ENOSPC;
		}
		/* what statvfs said was not there after all: a small chunk, and look again */
		small = true;
		want = MIN(want, UINT64_C(4) << 20);
		rec->prealloc_chunk = want;
		update_space_limit(rec);
	}
	rec->stats.preallocated = rec->prealloc_end;
	return 0;
}

int recorder_create_file(struct dmapipe_recorder *rec, const char *path, int fd)
{
	char name[32];
	int ret;

	if (!path) {
		snprintf(name, sizeof(name), "fd %d", fd);
		path = name;
		ret = use_fd(rec, fd);
	} else {
		ret = open_path(rec, path);
	}
	if (ret == 0)
		ret = setup_direct(rec, path);
	if (ret < 0)
		return ret;
	rec->wb_started = rec->wb_dropped = rec->wb_dropped_done = rec->block;
	rec->prealloc_chunk = ALIGN_UP(rec->opts.prealloc_bytes, (uint64_t)rec->block);
	ret = write_superblock(rec, REC_STATE_RECORDING, 0, 0);
	if (ret < 0) {
		log_warn("record: cannot write the superblock of %s: %s", path, strerror(-ret));
		return ret;
	}
	/* the first chunk synchronously: a disk that is already full fails here */
	if (!rec->falloc_unsupported) {
		ret = first_chunk(rec, path);
		if (ret < 0)
			return ret;
	}
	if (fdatasync(rec->fd) < 0)
		return -errno;
	return 0;
}

void recorder_close_file(struct dmapipe_recorder *rec)
{
	int64_t index_size;
	uint64_t end;
	int ret = 0;

	index_size = rec_index_write(&rec->ix, rec->fd, rec->id, rec->data_end, rec->block,
				     rec->mem_align);
	if (index_size < 0) {
		log_warn("record: no room for the index (%s): the file is complete without "
			 "one and is scanned when opened", strerror((int)-index_size));
		end = rec->data_end;
	} else {
		end = rec->data_end + ALIGN_UP((uint64_t)index_size, (uint64_t)rec->block);
	}
	if (ftruncate(rec->fd, (off_t)end) < 0 || fdatasync(rec->fd) < 0)
		ret = -errno;
	if (ret == 0 && index_size >= 0) {
		ret = write_superblock(rec, REC_STATE_CLOSED, rec->data_end, (uint64_t)index_size);
		if (ret == 0 && fdatasync(rec->fd) < 0)
			ret = -errno;
	}
	if (!rec->direct)
		posix_fadvise(rec->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (ret < 0) {
		log_error("record: closing the recording failed: %s", strerror(-ret));
		recorder_fail(rec, ret);
	}
	rec->stats.file_size = end;
}

/* ---- space ---------------------------------------------------------------------------- */

/* Bytes of the index (with the header block it ends before) if @extra frames are added. */
static uint64_t index_reserve(const struct dmapipe_recorder *rec, uint64_t extra_frames,
			      uint32_t extra_layouts)
{
	return ALIGN_UP(rec_index_size(rec->ix.n_layouts + extra_layouts,
				       rec->ix.n_entries + rec->in_flight +
				       rec->headers_pending + rec->packets_pending +
				       extra_frames),
			(uint64_t)rec->block);
}

int recorder_reserve_space(struct dmapipe_recorder *rec, uint64_t end)
{
	/*
	 * Frames go only into preallocated space, with room left for the
	 * index, so a full disk always ends with a complete index. Space not
	 * allocated yet is the disk being behind; none left is the end.
	 */
	if (rec->falloc_unsupported || end + index_reserve(rec, 1, 1) <= rec->prealloc_end)
		return 0;
	if (rec->falloc_failed) {
		recorder_fail(rec, -ENOSPC);
		return -ENOSPC;
	}
	recorder_queue_falloc(rec, end + index_reserve(rec, 1, 1) + rec->prealloc_chunk / 2);
	storage_ring_flush(&rec->ring);
	return -EAGAIN;
}

void recorder_queue_falloc(struct dmapipe_recorder *rec, uint64_t want_end)
{
	struct io_uring_sqe *sqe;
	uint64_t len;

	if (rec->falloc_pending || rec->falloc_failed || rec->falloc_unsupported ||
	    want_end <= rec->prealloc_end)
		return;
	len = space_allowed(rec, rec->prealloc_end,
			    MAX(rec->prealloc_chunk, want_end - rec->prealloc_end));
	if (len < rec->block) {
		/* the rest is the others' margin: as if the disk were full */
		log_warn("record: leaving the file system's last free space to other writers: "
			 "recording up to the %llu bytes allocated",
			 (unsigned long long)rec->prealloc_end);
		rec->falloc_failed = true;
		return;
	}
	sqe = storage_ring_sqe(&rec->ring);
	if (!sqe)
		return;
	rec->falloc_op.kind = OP_FALLOC;
	rec->falloc_op.file_off = rec->prealloc_end;
	rec->falloc_op.len = len;
	io_uring_prep_fallocate(sqe, rec->fd, 0, rec->falloc_op.file_off, rec->falloc_op.len);
	io_uring_sqe_set_data(sqe, &rec->falloc_op);
	rec->falloc_pending = true;
}

/*
 * Gives back what a failed chunk got: ext4 and XFS keep the blocks a
 * fallocate() allocated before it ran out (and grow the file to them),
 * where the recording would never write, and every other writer on the
 * disk would meet ENOSPC. The range is the failed request's, all past
 * the preallocated end and so past anything written; the file keeps its
 * size (the tail reads as zeros, as preallocated space does, and closing
 * truncates it). As an io_uring request it never blocks the caller; the
 * next chunk waits for it (falloc_pending), or it could punch that one.
 */
static void queue_trim(struct dmapipe_recorder *rec)
{
	struct io_uring_sqe *sqe = storage_ring_sqe(&rec->ring);

	if (!sqe)
		return;
	rec->trim_op.kind = OP_FALLOC_TRIM;
	rec->trim_op.file_off = rec->falloc_op.file_off;
	rec->trim_op.len = rec->falloc_op.len;
	io_uring_prep_fallocate(sqe, rec->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				rec->trim_op.file_off, rec->trim_op.len);
	io_uring_sqe_set_data(sqe, &rec->trim_op);
	rec->falloc_pending = true;
}

static void trim_done(struct dmapipe_recorder *rec, int res)
{
	rec->falloc_pending = false;
	if (res < 0)
		log_warn("record: cannot give back the space a failed preallocation left "
			 "allocated (%s): it is freed when the recording is closed", strerror(-res));
	update_space_limit(rec);
}

static void falloc_done(struct dmapipe_recorder *rec, int res)
{
	rec->falloc_pending = false;
	if (res == 0) {
		rec->prealloc_end = rec->falloc_op.file_off + rec->falloc_op.len;
		rec->stats.preallocated = rec->prealloc_end;
		update_space_limit(rec);
		return;
	}
	if (res == -EOPNOTSUPP) {
		log_info("record: the file system cannot preallocate; writing without");
		rec->falloc_unsupported = true;
		return;
	}
	if (storage_space_error(res)) {
		rec->falloc_enospc++;
		queue_trim(rec);
		/* try smaller pieces before calling the disk full */
		if (rec->prealloc_chunk > (UINT64_C(256) << 10)) {
			rec->prealloc_chunk = ALIGN_UP(rec->prealloc_chunk / 4, (uint64_t)rec->block);
			log_info("record: preallocating %llu bytes failed (%s): given back, trying "
				 "%llu", (unsigned long long)rec->falloc_op.len, strerror(-res),
				 (unsigned long long)rec->prealloc_chunk);
			return;
		}
		log_warn("record: the file system is full: recording up to the %llu bytes "
			 "allocated (%u preallocations failed)", (unsigned long long)rec->prealloc_end,
			 rec->falloc_enospc);
		rec->falloc_failed = true;
		return;
	}
	log_warn("record: fallocate failed (%s); writing without preallocation", strerror(-res));
	rec->falloc_unsupported = true;
}

/* ---- barriers and background writeback ------------------------------------------------ */

void recorder_queue_barrier(struct dmapipe_recorder *rec)
{
	struct io_uring_sqe *sqe;
	uint64_t end = recorder_complete_end(rec);

	if (rec->fsync_pending || end <= rec->durable_end)
		return;
	sqe = storage_ring_sqe(&rec->ring);
	if (!sqe)
		return;
	rec->fsync_op.kind = OP_FSYNC;
	rec->fsync_candidate = end;
	io_uring_prep_fsync(sqe, rec->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &rec->fsync_op);
	rec->fsync_pending = true;
}

static void barrier_done(struct dmapipe_recorder *rec, int res)
{
	rec->fsync_pending = false;
	/*
	 * Direct I/O reports a lost write on the write itself, so an EIO here
	 * concerns what the file system keeps: the barrier is tried again
	 * (durable_end stays) unless the errors persist. Through the page
	 * cache it may mean frames already counted as written are gone: that
	 * ends the recording.
	 */
	if (res < 0 && rec->direct && recorder_io_error_transient(rec, res))
		return;
	if (res < 0) {
		recorder_fail(rec, res);
		return;
	}
	rec->durable_end = MAX(rec->durable_end, rec->fsync_candidate);
	rec->stats.barriers++;
}

bool recorder_cache_full(const struct dmapipe_recorder *rec, uint64_t size)
{
	return !rec->direct && rec->write_pos + size > rec->wb_dropped_done + WB_MAX_CACHED &&
	       size < WB_MAX_CACHED;
}

void recorder_queue_writeback(struct dmapipe_recorder *rec)
{
	uint64_t end = recorder_complete_end(rec);
	struct io_uring_sqe *sqe;

	if (!rec->wb_pending && end >= rec->wb_started + WB_CHUNK) {
		sqe = storage_ring_sqe(&rec->ring);
		if (!sqe)
			return;
		rec->wb_op.kind = OP_WRITEBACK;
		io_uring_prep_sync_file_range(sqe, rec->fd, (unsigned int)(end - rec->wb_started),
					      rec->wb_started, SYNC_FILE_RANGE_WRITE);
		io_uring_sqe_set_data(sqe, &rec->wb_op);
		rec->wb_started = end;
		rec->wb_pending = true;
	}
	if (!rec->drop_pending && rec->wb_started >= rec->wb_dropped + WB_LAG) {
		struct io_uring_sqe *wait = storage_ring_sqe(&rec->ring), *drop;

		if (!wait)
			return;
		drop = storage_ring_sqe(&rec->ring);
		if (!drop) {
			io_uring_prep_nop(wait);
			io_uring_sqe_set_data(wait, NULL);
			return;
		}
		/* wait for the range's writeback, then drop its clean pages */
		rec->drop_wait_op.kind = OP_DROP_WAIT;
		io_uring_prep_sync_file_range(wait, rec->fd, (unsigned int)WB_DROP, rec->wb_dropped,
					      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					      SYNC_FILE_RANGE_WAIT_AFTER);
		io_uring_sqe_set_data(wait, &rec->drop_wait_op);
		wait->flags |= IOSQE_IO_LINK;
		rec->drop_op.kind = OP_DROP;
		io_uring_prep_fadvise(drop, rec->fd, rec->wb_dropped, (off_t)WB_DROP,
				      POSIX_FADV_DONTNEED);
		io_uring_sqe_set_data(drop, &rec->drop_op);
		rec->wb_dropped += WB_DROP;
		rec->drop_pending = true;
	}
}

void recorder_file_op_done(struct dmapipe_recorder *rec, struct rec_op *op, int res)
{
	switch (op->kind) {
	case OP_FSYNC:
		barrier_done(rec, res);
		break;
	case OP_FALLOC:
		falloc_done(rec, res);
		break;
	case OP_FALLOC_TRIM:
		trim_done(rec, res);
		break;
	case OP_WRITEBACK:
		rec->wb_pending = false;
		if (res < 0)
			log_debug("record: sync_file_range: %s", strerror(-res));
		break;
	case OP_DROP_WAIT:
		if (res < 0 && res != -ECANCELED)
			log_debug("record: sync_file_range wait: %s", strerror(-res));
		break;
	case OP_DROP:
		rec->drop_pending = false;
		rec->wb_dropped_done = rec->wb_dropped;
		break;
	default:
		break;
	}
}

bool recorder_file_busy(const struct dmapipe_recorder *rec)
{
	return rec->falloc_pending || rec->fsync_pending || rec->wb_pending || rec->drop_pending;
}

#endif /* HAVE_LIBURING */
