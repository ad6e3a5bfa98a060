/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recording frames to storage, and reading recordings back.
 *
 * A recorder writes frames (any struct dmapipe_buffer) into a file with
 * direct I/O: several writes in flight through io_uring, sizes and
 * alignment from statx(STATX_DIOALIGN), space preallocated ahead, and the
 * disk reading each frame straight out of the buffer's pages whenever the
 * buffer's mapping is struct-page backed. docs/FORMAT.md specifies the file
 * and what survives a crash or a power loss.
 *
 * A recording is read back with dmapipe_recording_open(): a cleanly closed
 * file through its index, a file whose writer died by scanning it (in
 * memory, or written back with DMAPIPE_RECORDING_REPAIR). A dmapipe_reader
 * reads its frames into buffers with several reads in flight, for replay.
 *
 * Not thread-safe: one object from one thread at a time.
 */
#ifndef DMAPIPE_RECORD_H
#define DMAPIPE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmapipe/format.h>
#include <dmapipe/buffer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_recorder;
struct dmapipe_recording;

/* ---- writing ---------------------------------------------------------- */

/** How the file is written. */
enum dmapipe_record_mode {
	/** O_DIRECT, and buffered only when the file system refuses O_DIRECT */
	DMAPIPE_RECORD_AUTO = 0,
	/** O_DIRECT or fail */
	DMAPIPE_RECORD_DIRECT = 1,
	/**
	 * through the page cache (file systems without O_DIRECT), with
	 * writeback started and finished pages dropped in the background so
	 * the page cache and Dirty memory stay flat
	 */
	DMAPIPE_RECORD_BUFFERED = 2,
};

/**
 * Which frames get a CRC32C of their payload in their header, so that a
 * reader can tell damaged bytes (dmapipe_recording_check_payload()). The
 * checksum is a CPU pass over the frame's pixels when its pixels are final,
 * from the buffer's mapping (no copy): about the cost of reading the frame
 * once, counted in dmapipe_recorder_stats.checksum_ns.
 */
enum dmapipe_record_checksum {
	/**
	 * compressed frames (a fourcc without pixel geometry: small, and one
	 * damaged byte breaks the decoder silently); raw frames go to the disk
	 * without the CPU touching them
	 */
	DMAPIPE_RECORD_CHECKSUM_AUTO = 0,
	/** every frame */
	DMAPIPE_RECORD_CHECKSUM_ALL = 1,
	/** none */
	DMAPIPE_RECORD_CHECKSUM_NONE = 2,
};

/**
 * Called when the recorder no longer needs a frame: its bytes are in the
 * file (status 0) or could not be written (a negative errno, e.g. -ENOSPC;
 * -ECANCELED for a frame whose acquire fence never signalled).
 * The recorder has dropped its buffer reference already; @frame_data is
 * what was passed to dmapipe_recorder_submit(), so a consumer releases the
 * frame's lease here. Called from dmapipe_recorder_dispatch() and
 * dmapipe_recorder_finish() only.
 */
typedef void (*dmapipe_recorder_done_func)(struct dmapipe_recorder *recorder,
					   void *frame_data, int status, void *user_data);

/**
 * Optional (dmapipe_recorder_options.release): called as soon as the
 * recorder no longer needs a frame's buffer, which is when its pixels are
 * in the file, before its header is: the done callback follows once the
 * frame is complete (or failed). Under a stalled disk each write takes the
 * stall, so a lease released here lasts one stall, not two. A frame that
 * fails before its pixels are written gets this callback right before its
 * done callback. The recorder has dropped its buffer reference already.
 * Called from dmapipe_recorder_dispatch() and dmapipe_recorder_finish()
 * only. Since 0.2.
 */
typedef void (*dmapipe_recorder_release_func)(struct dmapipe_recorder *recorder,
					      void *frame_data, void *user_data);

struct dmapipe_recorder_options {
	/**
	 * sizeof the struct the caller was built with, set by _init(); fields
	 * past it (a program built against older headers) take their defaults
	 */
	uint32_t size;
	enum dmapipe_record_mode mode; /**< default DMAPIPE_RECORD_AUTO */
	/**
	 * frames in flight to the disk at most; a submit beyond returns
	 * -EAGAIN (the caller drops the frame); default 8
	 */
	uint32_t max_frames;
	/** and bytes in flight at most (one frame is always allowed); default 512 MiB */
	uint64_t max_bytes;
	/**
	 * how often a data barrier (fdatasync) runs while recording; frames
	 * written since the last barrier are "unconfirmed" after a power loss
	 * (docs/FORMAT.md); default 500, 0 = only at the end
	 */
	uint32_t sync_interval_ms;
	/** fallocate()d ahead of the write position, in bytes; default 256 MiB */
	uint64_t prealloc_bytes;
	/**
	 * dmapipe_recorder_new(): truncate an existing regular file; without
	 * it an existing file gives -EEXIST. Ignored by
	 * dmapipe_recorder_new_fd().
	 */
	bool overwrite;
	dmapipe_recorder_done_func done;
	void *user_data;
	/** which frames carry a checksum of their payload; default AUTO */
	enum dmapipe_record_checksum checksum;
	/**
	 * the stream's nominal frame rate, stored for readers
	 * (dmapipe_recording_info); 0/0 (default) when unknown
	 */
	uint32_t fps_num, fps_den;
	/** buffers back before their headers are written; NULL (default): with done. Since 0.2 */
	dmapipe_recorder_release_func release;
	/**
	 * packets of a compressed stream (a fourcc without pixel geometry,
	 * one object and plane, bytes_used set) are copied into packet
	 * groups of at most this many bytes, each written in one request
	 * (docs/FORMAT.md, "Packet groups"): a small packet then costs its
	 * bytes, not a header block and a padded block. 0 turns gathering
	 * off (one record per packet, format version 2). The copies are
	 * bitstream, counted in dmapipe_recorder_stats.bytes_gathered, not
	 * pixel copies. Default 1 MiB. Since 0.3.
	 */
	uint64_t gather_bytes;
	/**
	 * a packet waits at most this long in its group before the group's
	 * write starts, by the packets' timestamps and by the clock (checked
	 * at each submit and dispatch); its done callback follows that write.
	 * Default 2000 (1 Mbit/s within 5% of the bitstream, docs/FORMAT.md).
	 * Since 0.3.
	 */
	uint32_t gather_ms;
};

/**
 * Fills @options (caller-owned; NULL is ignored) with the defaults named
 * at each field, and size with this header's sizeof. Since 0.1.
 */
void dmapipe_recorder_options_init(struct dmapipe_recorder_options *options);

/**
 * Creates the file @path (mode 0644), writes its superblock and allocates
 * the first space ahead. @options (NULL: the defaults) is copied, up to its
 * size field; @path is not kept. Only regular files are written: a name
 * that is a device node, a FIFO, a socket or a directory is refused
 * (EINVAL) without being opened for writing, truncated or removed. With
 * overwrite an existing regular file is truncated here, before any frame:
 * a caller that must keep the old contents until the new recording holds
 * frames creates a file of its own and uses dmapipe_recorder_new_fd(). On
 * failure a file this call created is removed; one that existed is never
 * removed. Returns a recorder the caller frees with
 * dmapipe_recorder_free(), or NULL with errno: EEXIST; EINVAL (no @path,
 * not a regular file, an options size that does not cover the size field,
 * O_DIRECT refused in DMAPIPE_RECORD_DIRECT mode); E2BIG (@options from
 * newer headers setting fields this library does not know); ENOSPC (the
 * file system is full already); ENOTSUP (built without liburing, or
 * io_uring unavailable); or the error of open/write. Since 0.1.
 */
struct dmapipe_recorder *dmapipe_recorder_new(const char *path,
					      const struct dmapipe_recorder_options *options);

/**
 * As dmapipe_recorder_new(), into a file the caller opened: @fd must be a
 * regular file open for writing (O_WRONLY or O_RDWR) without O_APPEND. Its
 * contents are replaced (it is truncated first). The recorder works on a
 * duplicate of @fd, which it closes in dmapipe_recorder_free(); @fd stays
 * the caller's. The file's status flags are shared with @fd: the recorder
 * sets O_DIRECT on them. The recorder never names, renames or removes the
 * file, so a caller can record into a temporary file and rename it once
 * it holds frames (as dmapipe record does). Returns a recorder or NULL
 * with errno: EBADF (@fd is not an open fd), EINVAL (not a regular file,
 * read-only, O_APPEND, or as dmapipe_recorder_new()), or the errors of
 * dmapipe_recorder_new(). Since 0.2.
 */
struct dmapipe_recorder *dmapipe_recorder_new_fd(int fd,
						 const struct dmapipe_recorder_options *options);

/**
 * Queues a frame for writing and takes a reference on @buffer until the
 * done callback. Every object of the buffer is written from its start to
 * the end of its last plane; @meta's sequence, timestamp, flags and
 * bytes_used are recorded. A frame whose layout differs from the previous
 * frame's is recorded as a format change.
 *
 * @meta's acquire fence (a sync_file, or -1) is waited for by the
 * recorder, never by the caller: a frame whose fence has not signalled is
 * held (it keeps its place in the file and counts as in flight) and its
 * pixels are read only once the fence signals, in
 * dmapipe_recorder_dispatch(). The fence stays the caller's: the recorder
 * waits on a duplicate, so the caller may close it once this returns.
 * dmapipe_recorder_finish() gives fences still unsignalled one second,
 * then completes their frames with -ECANCELED, unwritten.
 *
 * Returns 0; -EAGAIN when max_frames/max_bytes are in flight, or (with a
 * release callback) four times max_frames, at least 64, frames released
 * wait for their header (the disk is behind: drop the frame, nothing was
 * taken); -ENOSPC once the file system
 * is full (the recording is stopped: call dmapipe_recorder_finish());
 * -EPERM in strict mode when only a copy could write this buffer; -EIO
 * after a write error; -EINVAL (also for an acquire fence that is not an
 * open fd). Since 0.1.
 */
int dmapipe_recorder_submit(struct dmapipe_recorder *recorder, struct dmapipe_buffer *buffer,
			    const struct dmapipe_frame_meta *meta, void *frame_data);

/**
 * The pollable fd (an epoll fd): readable when dmapipe_recorder_dispatch()
 * has work. It stays owned by the recorder; do not close it. -1 for a NULL
 * recorder. Since 0.1.
 */
int dmapipe_recorder_get_fd(const struct dmapipe_recorder *recorder);

/**
 * Reaps completed writes (calling the done callback), starts the writes of
 * frames whose acquire fence signalled, writes frame headers, runs barriers
 * and background writeback, waiting up to @timeout_ms (0: do not wait, -1:
 * forever) for the first event. Returns the number of frames completed (0
 * after dmapipe_recorder_finish()), or -EINVAL, or the epoll_wait() error.
 * Since 0.1.
 */
int dmapipe_recorder_dispatch(struct dmapipe_recorder *recorder, int timeout_ms);

/**
 * Ends the recording: waits for every frame in flight (calling the done
 * callback; frames whose acquire fence has not signalled within a second
 * complete with -ECANCELED), writes the index, marks the file closed and
 * trims the preallocation. When the disk is full and the index does not
 * fit, the file is left consistent without one (readers scan it). The
 * recorder then takes no more frames. Returns 0, -ENOSPC (stopped early
 * because the disk filled; every completed frame is in the file), the
 * first write error, or -EINVAL for NULL. Idempotent: later calls return
 * the same. Since 0.1.
 */
int dmapipe_recorder_finish(struct dmapipe_recorder *recorder);

/**
 * Finishes the recording if dmapipe_recorder_finish() was not called (its
 * result is then lost), drops every buffer reference the recorder still
 * holds, closes the file and frees @recorder. NULL is ignored. Since 0.1.
 */
void dmapipe_recorder_free(struct dmapipe_recorder *recorder);

/** How a frame's bytes reached the disk. */
enum dmapipe_record_path {
	/** O_DIRECT straight from the buffer's struct-page mapping */
	DMAPIPE_RECORD_PATH_DIRECT = 0,
	/** dmapipe.ko's WRITE_FILE: in the kernel, from the dma-buf's pages */
	DMAPIPE_RECORD_PATH_KMOD = 1,
	/** a counted CPU copy into an aligned staging buffer */
	DMAPIPE_RECORD_PATH_COPY = 2,
	/** through the page cache (buffered mode: the kernel copies) */
	DMAPIPE_RECORD_PATH_BUFFERED = 3,
	DMAPIPE_RECORD_PATH_COUNT = 4,
};

/**
 * A static name for @path: "direct", "kmod", "copy", "buffered", or
 * "unknown". Since 0.1.
 */
const char *dmapipe_record_path_to_string(enum dmapipe_record_path path);

struct dmapipe_recorder_stats {
	uint64_t frames_submitted;
	uint64_t frames_written;    /**< completely in the file (payload and header) */
	uint64_t frames_failed;     /**< done with an error (e.g. -ENOSPC) */
	uint64_t frames_refused;    /**< submits answered -EAGAIN: the disk was behind */
	uint64_t bytes_written;     /**< payload bytes, alignment padding included */
	uint64_t path_bytes[DMAPIPE_RECORD_PATH_COUNT];  /**< per enum dmapipe_record_path */
	uint64_t path_frames[DMAPIPE_RECORD_PATH_COUNT]; /**< objects written per path */
	uint64_t bytes_copied;      /**< = path_bytes[COPY]: pixel bytes the CPU copied */
	uint64_t format_changes;
	uint64_t barriers;          /**< fdatasyncs completed */
	uint64_t file_size;         /**< end of the data written so far */
	uint64_t preallocated;      /**< end of the preallocated space */
	uint64_t in_flight_bytes;   /**< the backlog: frames whose buffer the recorder holds */
	uint32_t in_flight_frames;
	uint32_t mode;              /**< enum dmapipe_record_mode actually used (DIRECT or BUFFERED) */
	uint32_t block_size;        /**< the file's alignment */
	uint32_t mem_align;         /**< direct I/O memory alignment */
	int32_t error;              /**< 0, or the error that stopped the recording */
	uint32_t checksum;          /**< enum dmapipe_record_checksum in effect */
	uint64_t frames_checksummed; /**< frames whose payload got a CRC32C */
	uint64_t checksum_ns;       /**< CPU time those checksums took */
	/**
	 * frames lost to a transient write error (EIO) and skipped: not in
	 * the index, a gap in the sequence numbers (also in frames_failed).
	 * Since 0.2.
	 */
	uint32_t frames_io_errors;
	uint32_t reserved;
	/**
	 * packets gathered into packet groups, and their bytes copied
	 * there (bitstream, not pixels: not in bytes_copied). Since 0.3.
	 */
	uint64_t frames_gathered;
	uint64_t bytes_gathered;
	/** packet groups written (each one request); also in path_frames. Since 0.3 */
	uint64_t groups_written;
};

/**
 * Fills the caller's @stats with the counters so far (in-flight figures
 * as of now). Nothing happens when either is NULL. Since 0.1.
 */
void dmapipe_recorder_get_stats(const struct dmapipe_recorder *recorder,
				struct dmapipe_recorder_stats *stats);

/**
 * How long the disk took with the frames written so far: from
 * dmapipe_recorder_submit() taking a frame to its last write (payload and
 * header) completing, which includes the time it queued behind the frames
 * before it. Frames that failed are not counted. The percentiles come
 * from a histogram with eight buckets per power of two: at most 12.5 %
 * above the true value, never above @max_ns. Since 0.2.
 */
struct dmapipe_recorder_latency {
	uint32_t size;      /**< set by the caller: sizeof(struct dmapipe_recorder_latency) */
	uint32_t reserved0;
	uint64_t frames;    /**< frames measured */
	uint64_t p50_ns;
	uint64_t p99_ns;
	uint64_t max_ns;
	uint64_t reserved[4];
};

/**
 * Fills @latency (whose size field the caller sets; a smaller struct from
 * an older header gets the fields it holds) with the write latency so
 * far. Returns 0, -EINVAL (no @recorder or @latency, or a size that
 * does not hold @p50_ns) or -ENOSYS (built without io_uring). Since 0.2.
 */
int dmapipe_recorder_get_latency(const struct dmapipe_recorder *recorder,
				 struct dmapipe_recorder_latency *latency);

/**
 * Sets the stream's nominal frame rate @fps_num/@fps_den, as
 * dmapipe_recorder_options' fps_num/fps_den, for a recorder made before
 * the rate was known (a consumer that connects once its file exists). The
 * superblock dmapipe_recorder_finish() writes stores it; a recording that
 * is repaired instead keeps the rate it was created with. 0/0: unknown.
 * Returns 0, -EINVAL (no @recorder, or only one of the two is zero) or
 * -ENOSYS (built without io_uring). Since 0.2.
 */
int dmapipe_recorder_set_rate(struct dmapipe_recorder *recorder, uint32_t fps_num,
			      uint32_t fps_den);

/**
 * Sets what the stream's frames mean beyond their pixel format (the
 * producer's FORMAT_INFO: colorimetry, chroma siting, interlacing and
 * field order, pixel aspect ratio, and the nominal rate, which replaces
 * dmapipe_recorder_set_rate()'s), for readers
 * (dmapipe_recording_get_format_info()). @info is copied. Like the rate,
 * it goes into the superblock dmapipe_recorder_finish() writes; a
 * recording repaired instead keeps what it was created with. Returns 0,
 * -EINVAL (no @recorder, or @info fails dmapipe_format_info_check(),
 * logged) or -ENOSYS (built without io_uring). Since 0.2.
 */
int dmapipe_recorder_set_format_info(struct dmapipe_recorder *recorder,
				     const struct dmapipe_format_info *info);

/* ---- can the disk keep up? ------------------------------------------------ */

/**
 * What dmapipe_disk_probe() measured. Since 0.2.
 */
struct dmapipe_disk_probe {
	uint32_t size;          /**< set by the caller: sizeof(struct dmapipe_disk_probe) */
	bool direct;            /**< O_DIRECT; else through the page cache, each request synced */
	uint8_t reserved0[3];
	uint64_t request_bytes; /**< the size of each write */
	uint64_t bytes;         /**< written and made durable */
	uint64_t elapsed_ns;    /**< first write to the end of the last fdatasync */
	uint64_t bytes_per_s;   /**< @bytes over @elapsed_ns */
	/** each request's submission to its completion (with its sync, through the page cache) */
	uint64_t latency_p50_ns;
	uint64_t latency_p99_ns;
	uint64_t latency_max_ns;
	uint64_t reserved[4];
};

/**
 * Measures how fast the file system of directory @dir takes a recorder's
 * writes: 1 MiB requests, four in flight through io_uring with O_DIRECT
 * (one at a time, each followed by fdatasync(), where the file system has
 * no O_DIRECT or the library no io_uring), into a file without a name
 * (O_TMPFILE) that is gone when the call returns, then fdatasync(). It
 * stops after @max_bytes (0: 256 MiB; never more than a quarter of the
 * free space, so the test cannot fill the disk) or once @max_ms (0: 500)
 * have passed, whichever comes first, then waits for the writes in flight
 * (4 MiB at most: a slow disk costs little more than the time given) and
 * the sync; nothing of the caller's is written. A short burst: a disk whose
 * cache or SLC area absorbs it reads faster here than it will sustain.
 * Fills @result (whose size field the caller sets; a smaller struct from
 * an older header gets the fields it holds). Returns 0, -EINVAL (no @dir
 * or @result, or a size that does not hold @latency_p50_ns), -EOPNOTSUPP
 * or -EISDIR (no O_TMPFILE on that file system), -ENOSPC (a quarter of
 * the free space holds less than the four requests in flight, or the disk
 * filled up meanwhile), or the error of open()
 * or of a write. Since 0.2.
 */
int dmapipe_disk_probe(const char *dir, uint64_t max_bytes, uint32_t max_ms,
		       struct dmapipe_disk_probe *result);

/* ---- reading ------------------------------------------------------------ */

enum dmapipe_recording_open_flags {
	/** ignore the index and scan the file for frame headers */
	DMAPIPE_RECORDING_SCAN = 1u << 0,
	/**
	 * if the file had to be scanned, write the index back and mark it
	 * closed (needs write access)
	 */
	DMAPIPE_RECORDING_REPAIR = 1u << 1,
	/** read frames without O_DIRECT */
	DMAPIPE_RECORDING_BUFFERED = 1u << 2,
};

enum dmapipe_recorded_flags {
	/** the first frame, or the layout differs from the previous frame's */
	DMAPIPE_RECORDED_FORMAT_CHANGE = 1u << 0,
	/**
	 * recovered by a scan, written after the writer's last data barrier:
	 * complete after a process crash, but after a power loss its pixels
	 * may not have reached the disk (docs/FORMAT.md)
	 */
	DMAPIPE_RECORDED_UNCONFIRMED = 1u << 1,
	/**
	 * the frame carries a CRC32C of its payload (checksum), which
	 * dmapipe_recording_check_payload() compares. Since 0.1 (format
	 * version 2).
	 */
	DMAPIPE_RECORDED_CHECKSUM = 1u << 2,
	/**
	 * a packet of a compressed stream stored in a packet group (with
	 * other packets, in one write): the frame's offset and size are the
	 * packet's bytes exactly, not block-aligned, and it always carries
	 * DMAPIPE_RECORDED_CHECKSUM. Since 0.3 (format version 3).
	 */
	DMAPIPE_RECORDED_GROUPED = 1u << 3,
};

/** What is wrong with a recording, beyond a writer that did not finish. */
enum dmapipe_recording_damage {
	/**
	 * its writer closed it, but the file ends before the index it wrote:
	 * the file was cut after it was closed (frames_expected says how
	 * many frames it had)
	 */
	DMAPIPE_RECORDING_TRUNCATED = 1u << 0,
	/** closed, but the index fails its checks: the frames were scanned */
	DMAPIPE_RECORDING_INDEX_DAMAGED = 1u << 1,
	/**
	 * the superblock was unusable: the recording's id and block size were
	 * recovered from its frame headers (DMAPIPE_RECORDING_SCAN or
	 * DMAPIPE_RECORDING_REPAIR only)
	 */
	DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED = 1u << 2,
};

/** One frame of a recording. */
struct dmapipe_recorded_frame {
	uint64_t offset;  /**< file offset of the payload (object 0) */
	uint64_t size;    /**< payload bytes in the file (objects, each padded to the block size) */
	/** per object: where it starts within the payload */
	uint64_t object_offset[DMAPIPE_MAX_OBJECTS];
	/**
	 * the frame's layout; objects[].fd = -1, objects[].size = the bytes
	 * recorded for the object (to the end of its last plane)
	 */
	struct dmapipe_layout layout;
	struct dmapipe_frame_meta meta; /**< acquire_fence = -1 */
	uint32_t flags;        /**< enum dmapipe_recorded_flags */
	uint32_t layout_index; /**< which distinct layout (0, 1, ...) in recording order */
	/**
	 * with DMAPIPE_RECORDED_CHECKSUM: the CRC32C of the payload's data,
	 * each object's layout.objects[].size bytes in object order
	 * (padding excluded); else 0
	 */
	uint32_t checksum;
	uint32_t reserved[5];
};

struct dmapipe_recording_info {
	uint64_t file_size;
	uint64_t frames;
	uint64_t data_end;         /**< end of the last frame */
	uint64_t created_ns;       /**< CLOCK_REALTIME when the recording began */
	uint32_t block_size;
	uint32_t mem_align;        /**< memory alignment dmapipe_recording_read_frame() needs */
	uint32_t layouts;          /**< distinct layouts */
	bool closed;               /**< the writer finished it and its index was used */
	bool scanned;              /**< it was scanned (writer died, or the index was bad) */
	bool repaired;             /**< the scan's index was written back */
	bool direct;               /**< frames are read with O_DIRECT */
	uint64_t unconfirmed;      /**< frames flagged DMAPIPE_RECORDED_UNCONFIRMED */
	uint64_t bad_headers;      /**< blocks that looked like headers but failed their checks */
	uint8_t id[16];            /**< the recording's random id */
	uint32_t version;          /**< the file's format version (docs/FORMAT.md) */
	uint32_t damage;           /**< enum dmapipe_recording_damage */
	/** the nominal frame rate its writer was told, 0/0 when none */
	uint32_t fps_num, fps_den;
	/**
	 * frames the writer recorded, as its superblock says (a closed
	 * recording: more than frames when frames were lost); else frames
	 */
	uint64_t frames_expected;
	/**
	 * grouped packets a scan left out because their bytes do not match
	 * their checksum (a write cut short, damage). Since 0.3.
	 */
	uint64_t packets_damaged;
};

/**
 * Opens a recording. A closed recording is read through its index; a file
 * whose writer did not finish (killed, power loss, or a full disk with no
 * room for the index), or whose index is damaged, is scanned for frame
 * headers, and with DMAPIPE_RECORDING_REPAIR the index is written back.
 * @path is copied. Returns a recording the caller closes with
 * dmapipe_recording_close(), or NULL with errno: EINVAL (no @path, an
 * unknown flag), EBADMSG (not a dmapipe recording, or its superblock is
 * damaged; logged with the reason), EPROTONOSUPPORT (a newer format
 * version), or the error of open/read/write. Since 0.1.
 */
struct dmapipe_recording *dmapipe_recording_open(const char *path, uint32_t flags);

/**
 * Closes the file and frees @recording. A dmapipe_reader reading from it
 * must be freed first. NULL is ignored. Since 0.1.
 */
void dmapipe_recording_close(struct dmapipe_recording *recording);

/**
 * Fills the caller's @info: the file, its frames and layouts, how it was
 * opened (index or scan, repaired, O_DIRECT). Nothing happens when either
 * is NULL. Since 0.1.
 */
void dmapipe_recording_get_info(const struct dmapipe_recording *recording,
				struct dmapipe_recording_info *info);

/**
 * Fills the caller's @info with what the recording's writer was told of
 * its frames (dmapipe_recorder_set_format_info()): the nominal rate,
 * colorimetry, chroma siting, interlacing and pixel aspect ratio, each
 * unknown (0; rate 0/1, aspect ratio 0/1) when the writer did not say, in
 * files written before they were stored, and for a value the file holds
 * that this library does not know (logged at open; the frames are read
 * all the same). The result passes dmapipe_format_info_check(). Returns 0
 * or -EINVAL (NULL). Since 0.2.
 */
int dmapipe_recording_get_format_info(const struct dmapipe_recording *recording,
				      struct dmapipe_format_info *info);

/**
 * Fills the caller's @frame with frame @index (0 ... frames-1, in file
 * order, which is the order frames were submitted in); no fd is in it.
 * Returns 0, -ERANGE, or -EINVAL for NULL. Since 0.1.
 */
int dmapipe_recording_get_frame(const struct dmapipe_recording *recording, uint64_t index,
				struct dmapipe_recorded_frame *frame);

/**
 * Reads frame @index's payload (frame.size bytes: every object at its
 * object_offset) into the caller's @dst, which must be aligned to
 * info.mem_align and hold @len >= frame.size bytes. With O_DIRECT the disk
 * writes straight into @dst. Returns 0, -ERANGE, -EINVAL (alignment, size,
 * NULL), -ENODATA (the file ends early) or the read error. Since 0.1.
 */
int dmapipe_recording_read_frame(struct dmapipe_recording *recording, uint64_t index,
				 void *dst, size_t len);

/**
 * Reads frame @index into @buffer's mapping, object by object (the buffer
 * needs as many objects, each at least as large as recorded), along the
 * same paths as dmapipe_reader_new() says: where the mapping is
 * struct-page backed the disk writes straight into it (no copy), a
 * dmapipe.ko dma-buf is filled by READ_FILE, anything else goes through a
 * counted copy (-EPERM in strict mode). What a path was found not to work
 * for is remembered for later calls. The caller keeps its reference to
 * @buffer. Returns 0, -ERANGE, -EINVAL (objects, NULL), -EACCES (read-only
 * buffer), -EPERM, or the read error. Since 0.1.
 */
int dmapipe_recording_read_frame_to_buffer(struct dmapipe_recording *recording, uint64_t index,
					   struct dmapipe_buffer *buffer);

/**
 * Checks the payload of frame @index, as dmapipe_recording_read_frame()
 * read it into @payload (@len bytes, the caller's), against the CRC32C its
 * writer recorded. Returns 0 when it matches; -EBADMSG when it does not
 * (the bytes in the file are damaged); -ENODATA when the frame carries no
 * checksum (recorded without, or by a version 1 writer); -ERANGE;
 * -EINVAL (NULL, @len shorter than the frame). Since 0.2.
 */
int dmapipe_recording_check_payload(const struct dmapipe_recording *recording, uint64_t index,
				    const void *payload, size_t len);

/* ---- reading frames into buffers, several reads in flight ------------------- */

struct dmapipe_reader;

/**
 * Called when frame @index is in @buffer (status 0) or could not be read
 * (a negative errno). Calls come in submission order, from
 * dmapipe_reader_dispatch() and dmapipe_reader_free() only (status
 * -ECANCELED there). The reader drops its reference to @buffer after the
 * call returns.
 */
typedef void (*dmapipe_reader_done_func)(struct dmapipe_reader *reader, uint64_t index,
					 struct dmapipe_buffer *buffer, void *frame_data,
					 int status, void *user_data);

struct dmapipe_reader_options {
	/** as dmapipe_recorder_options.size: fields past it take their defaults */
	uint32_t size;
	/** frames read at once at most; a submit beyond returns -EAGAIN; default 4 */
	uint32_t max_frames;
	/** and bytes in flight at most (one frame is always allowed); default 512 MiB */
	uint64_t max_bytes;
	dmapipe_reader_done_func done;
	void *user_data;
	uint32_t reserved[8];
};

/**
 * Fills @options (caller-owned; NULL is ignored) with the defaults named
 * at each field, and size with this header's sizeof. Since 0.1.
 */
void dmapipe_reader_options_init(struct dmapipe_reader_options *options);

/**
 * A pipeline that reads frames of @recording into buffers with several
 * reads in flight (io_uring; one read at a time where io_uring is not
 * available), so a replay runs at the disk's rate. Each object takes the
 * same path as in dmapipe_recording_read_frame_to_buffer(): O_DIRECT
 * straight into a struct-page mapping (a memfd, the memfd behind a
 * udmabuf, dmapipe.ko's page mappings), dmapipe.ko's READ_FILE for its own
 * PFN-mapped dma-bufs, else a counted copy (-EPERM in strict mode); a
 * recording opened without O_DIRECT is read through the page cache. The
 * paths are counted in dmapipe_reader_get_stats() with enum
 * dmapipe_record_path. @recording stays the caller's and must outlive the
 * reader; @options (NULL: the defaults) is copied up to its size field.
 * Returns a reader the caller frees with dmapipe_reader_free(), or NULL
 * with errno: ENOMEM, EINVAL (no @recording, an options size that does not
 * cover the size field), E2BIG (@options from newer headers setting fields
 * this library does not know), or the error of eventfd(). Since 0.1.
 */
struct dmapipe_reader *dmapipe_reader_new(struct dmapipe_recording *recording,
					  const struct dmapipe_reader_options *options);

/**
 * Starts reading frame @index into @buffer, which must have the frame's
 * layout (format, planes, strides and offsets; objects at least as large
 * as recorded) and be writable. Takes a reference on @buffer until the
 * done callback. Returns 0; -EAGAIN when max_frames/max_bytes are in
 * flight (dispatch, then retry); -ERANGE; -EINVAL (layout mismatch);
 * -EACCES (read-only buffer); -EPERM in strict mode when only a copy
 * could fill this buffer. Since 0.1.
 */
int dmapipe_reader_submit(struct dmapipe_reader *reader, uint64_t index,
			  struct dmapipe_buffer *buffer, void *frame_data);

/**
 * The pollable fd (an eventfd): readable when dmapipe_reader_dispatch()
 * has work. It stays owned by the reader; do not close it. -1 for a NULL
 * reader. Since 0.1.
 */
int dmapipe_reader_get_fd(const struct dmapipe_reader *reader);

/**
 * Reaps completed reads and calls the done callback for every frame
 * complete in submission order, waiting up to @timeout_ms (0: do not
 * wait, -1: until one frame is done) when there is none yet. Returns the
 * number of frames delivered, or -EINVAL for NULL. Since 0.1.
 */
int dmapipe_reader_dispatch(struct dmapipe_reader *reader, int timeout_ms);

/**
 * Waits for the reads in flight, because the kernel may still write into
 * their buffers, delivers their frames (with their status if complete,
 * else -ECANCELED), drops the reader's buffer references and frees it.
 * The recording stays open. NULL is ignored. Since 0.1.
 */
void dmapipe_reader_free(struct dmapipe_reader *reader);

struct dmapipe_reader_stats {
	uint64_t frames_read;       /**< delivered with status 0 */
	uint64_t frames_failed;
	uint64_t bytes_read;        /**< payload bytes read from the file */
	uint64_t path_bytes[DMAPIPE_RECORD_PATH_COUNT];  /**< per enum dmapipe_record_path */
	uint64_t path_frames[DMAPIPE_RECORD_PATH_COUNT]; /**< objects read per path */
	uint64_t bytes_copied;      /**< pixel bytes the CPU copied (the copy path) */
	uint64_t in_flight_bytes;
	uint32_t in_flight_frames;
	uint32_t io_uring;          /**< 1 when reads are asynchronous */
	uint32_t reserved[8];
};

/**
 * Fills the caller's @stats with the counters so far (zeros for a NULL
 * reader; nothing happens for NULL @stats). Since 0.1.
 */
void dmapipe_reader_get_stats(const struct dmapipe_reader *reader,
			      struct dmapipe_reader_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_RECORD_H */
