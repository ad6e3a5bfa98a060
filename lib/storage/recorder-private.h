/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Between the recorder's three files: recorder.c (when a frame is written:
 * submitting it, holding it for its acquire fence, completing it, and the
 * object's life), recorder-write.c (how: a record's layout and its writes
 * along each object's path) and recorder-file.c (the file around them:
 * creating it, space ahead, barriers, writeback, closing it with its index).
 */
#ifndef DMAPIPE_STORAGE_RECORDER_PRIVATE_H
#define DMAPIPE_STORAGE_RECORDER_PRIVATE_H

#include "config.h"

#if HAVE_LIBURING

#include "private.h"
#include "io.h"
#include "index.h"

#define MAX_OPS (2 * DMAPIPE_MAX_OBJECTS)
/* buffered mode: start writeback every WB_CHUNK, drop pages WB_LAG behind */
#define WB_CHUNK (UINT64_C(8) << 20)
#define WB_DROP (UINT64_C(32) << 20)
#define WB_LAG (UINT64_C(64) << 20)
/* EIO for this long with no write succeeding in between: the disk is gone, stop */
#define IO_ERROR_PERSISTENT_NS (5000 * 1000000ull)
/* buffered mode: frames are refused (-EAGAIN) while more is cached than this */
#define WB_MAX_CACHED (UINT64_C(256) << 20)
/*
 * Preallocation leaves this much of the file system free for other
 * writers: 1/SPACE_MARGIN_SHARE of its size, at most SPACE_MARGIN_MAX
 * (docs/FORMAT.md, "A full disk").
 */
#define SPACE_MARGIN_SHARE 32
#define SPACE_MARGIN_MAX (UINT64_C(64) << 20)

enum op_kind {
	OP_OBJECT,
	OP_HEADER,
	OP_FENCE,  /* a frame's acquire fence signalled (IORING_OP_POLL_ADD) */
	OP_FSYNC,
	OP_FALLOC,
	OP_FALLOC_TRIM, /* gives back what a failed OP_FALLOC left allocated */
	OP_WRITEBACK,
	OP_DROP_WAIT,
	OP_DROP,
};

struct rec_frame;

/* A packet gathered into a group: what its index entry and callbacks need. */
struct rec_gathered {
	void *frame_data;
	uint64_t submit_ns;
	uint32_t record_flags; /* FORMAT_CHANGE for the first of a new layout */
	bool released;         /* its release callback ran */
};

/*
 * A packet group being filled, then written (recorder-gather.c): one
 * aligned buffer holding the packets' bytes back to back and, once it is
 * closed, its descriptor at the end. Its memory counts as a frame in
 * flight of the buffer's size.
 */
struct rec_group {
	uint8_t *buf;
	size_t buf_size; /* as the staging pool gave it */
	uint64_t cap;    /* the group's bytes at most: gather_bytes, rounded to the block */
	struct rec_packet_group desc; /* desc.packets: cap_packets entries */
	struct rec_gathered *gathered; /* as many */
	uint32_t cap_packets;
	uint32_t unreleased;   /* gathered packets whose release callback is due */
	uint64_t first_ts;     /* the oldest packet's timestamp */
	uint64_t first_ns;     /* when it was gathered */
};

struct rec_op {
	enum op_kind kind;
	struct rec_frame *frame;
	uint64_t file_off;
	uint64_t len;  /* bytes this op writes */
	uint64_t done;
	const uint8_t *src;
	uint8_t *staging; /* owned while the op runs, or NULL */
	size_t staging_size;
	enum dmapipe_record_path path;
	uint32_t object;
	uint64_t obj_off;  /* where src starts in the object */
	uint64_t data_len; /* for COPY: bytes of pixel data in src (the rest is padding) */
};

struct rec_frame {
	struct rec_frame *next; /* allocation order */
	struct rec_group *group; /* a packet group's record (no buffer, no header), or NULL */
	struct dmapipe_buffer *buffer;
	void *frame_data;
	uint64_t offset, size;
	struct rec_frame_header fh;
	struct rec_op ops[MAX_OPS];
	unsigned int n_ops;
	struct rec_op header_op;
	uint8_t *header;
	int fence;              /* the recorder's duplicate of the acquire fence while
				   the frame waits for it, else -1 */
	struct rec_op fence_op;
	unsigned int pending;
	int status;
	bool checksum;          /* its payload gets a CRC32C when its pixels are final */
	bool header_submitted;
	bool released;          /* its buffer went back (done callback): only the header is left */
	bool complete;
	uint64_t submit_ns;     /* when the recorder took it: its write latency starts */
};

struct dmapipe_recorder {
	struct dmapipe_recorder_options opts;
	/*
	 * dmapipe_recorder_set_format_info()'s, for the superblock; all zero
	 * (unknown) until then. Its rate is not used: opts has the rate.
	 */
	struct dmapipe_format_info format_info;
	struct dmapipe_hist write_latency; /* submit to complete, frames written */
	/* the disk-behind check: one window of offered and written bytes */
	struct {
		uint64_t start_ns, offered, written_at_start, refused;
		uint64_t last_warning_ns;
	} behind;
	int fd;
	bool created; /* the recorder created the file (it may remove it on failure) */
	bool direct;
	uint32_t block;
	uint32_t mem_align;
	uint8_t id[16];
	uint64_t created_ns;

	struct storage_ring ring;
	bool ring_ok;
	int efd, tfd, epfd;

	uint64_t write_pos;
	uint64_t prealloc_end;
	uint64_t prealloc_chunk;
	bool falloc_pending;
	bool falloc_failed;    /* the file system is full (or refuses fallocate) */
	bool falloc_unsupported;
	struct rec_op falloc_op;
	/* preallocation stops here: the margin left to other writers, as of the last look */
	uint64_t space_limit;
	struct rec_op trim_op;
	uint32_t falloc_enospc;  /* preallocations that failed with ENOSPC (or EDQUOT...) */

	struct rec_frame *head, *tail;
	uint32_t fences_waiting; /* frames held until their acquire fence signals */
	uint32_t in_flight;       /* frames holding their buffer */
	uint64_t in_flight_bytes;
	uint32_t headers_pending; /* frames given back whose header is being written */

	uint64_t durable_end;
	uint64_t fsync_candidate;
	bool fsync_pending;
	struct rec_op fsync_op;

	uint64_t wb_started, wb_dropped;
	uint64_t wb_dropped_done; /* end of the range whose pages were dropped */
	bool wb_pending, drop_pending;
	struct rec_op wb_op, drop_wait_op, drop_op;

	struct rec_frame *open_group; /* the packet group being filled, or NULL */
	bool groups;             /* a group was written: the file is version 3 */
	uint32_t releases_due;   /* gathered packets whose release callback is due */
	uint64_t packets_pending; /* gathered packets not in the index yet: it will hold them */

	struct rec_index ix;
	struct rec_layout last_layout;
	bool have_last;
	uint64_t data_end; /* end of the last record written completely */

	struct storage_staging staging;
	struct storage_paths paths;

	struct dmapipe_recorder_stats stats;
	int error;   /* first write error, -ENOSPC when the disk filled */
	uint64_t io_error_since; /* the first EIO of a run with no write done since, or 0 */
	bool finished;
	int finish_ret;
	int completed_in_dispatch;
};

/* ---- recorder.c ----------------------------------------------------------------------- */

/*
 * The recorder is done with @f's buffer: its reference goes, and the
 * caller's release callback runs; the header, if one is still to come,
 * is written from the recorder's own memory. Once per frame.
 */
void recorder_release_frame(struct dmapipe_recorder *rec, struct rec_frame *f);
/*
 * Every write of @f is done (or failed): the entry goes into the index,
 * the buffer back if it was not already, then the done callback.
 */
void recorder_complete_frame(struct dmapipe_recorder *rec, struct rec_frame *f);
/* Records the first error (a full disk as -ENOSPC) that stops the recording. */
void recorder_fail(struct dmapipe_recorder *rec, int err);
/*
 * A write failed with @err: true if the recording goes on without what it
 * wrote (an EIO, while writes have not failed for IO_ERROR_PERSISTENT_NS),
 * false if the error ends it (recorder_fail() still to be called).
 */
bool recorder_io_error_transient(struct dmapipe_recorder *rec, int err);
/* A write completed: a run of I/O errors is over. */
void recorder_io_ok(struct dmapipe_recorder *rec);
/* Offset below which every record is complete (written or failed). */
uint64_t recorder_complete_end(const struct dmapipe_recorder *rec);

/* ---- recorder-write.c ----------------------------------------------------------------- */

/*
 * The layout @buf's record stores: with @meta NULL whole objects, else as
 * a frame with @meta is recorded (a compressed frame up to bytes_used).
 */
void recorder_layout(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
		     const struct dmapipe_frame_meta *meta, struct rec_layout *rl);
/*
 * DMAPIPE_RECORDED_FORMAT_CHANGE if @rl is a new format after the last
 * record's layout (not merely other sizes of a compressed format's
 * objects), else 0; @rl becomes the last layout.
 */
uint32_t recorder_note_layout(struct dmapipe_recorder *rec, const struct rec_layout *rl);
/* This thread's CPU time: what checksums cost (dmapipe_recorder_stats.checksum_ns). */
uint64_t recorder_thread_cpu_ns(void);
/* The bytes of the record of @buf with @meta: its header block and its padded objects. */
uint64_t recorder_record_size(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
			      const struct dmapipe_frame_meta *meta);
/*
 * Plans the record of @buf at f->offset: its layout (a format change when
 * it differs from the previous frame's), header and one write per object
 * (plus a copied tail where the padding is not mapped). 0 or -errno
 * (-EPERM in strict mode, -ENOMEM); recorder_free_frame() undoes it.
 */
int recorder_plan_frame(struct dmapipe_recorder *rec, struct rec_frame *f,
			struct dmapipe_buffer *buf, const struct dmapipe_frame_meta *meta);
/*
 * Starts the writes of a planned frame; the frame completes when they and
 * its header are done (at once if they all finished or failed here).
 */
void recorder_start_frame(struct dmapipe_recorder *rec, struct rec_frame *f);
/* A completion of an OP_OBJECT or OP_HEADER write. */
void recorder_write_done(struct dmapipe_recorder *rec, struct rec_op *op, int res);
/* Frees a frame that never started: its staging buffers, its header block, @f. */
void recorder_free_frame(struct dmapipe_recorder *rec, struct rec_frame *f);

/* ---- recorder-gather.c ---------------------------------------------------------------- */

/*
 * Whether @buf with @meta is a packet that goes into a group: gathering
 * on, a compressed fourcc, one object and plane at its start, bytes_used set and small
 * enough for a group, its acquire fence signalled (@signalled).
 */
bool recorder_gatherable(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
			 const struct dmapipe_frame_meta *meta, bool signalled);
/*
 * Copies the packet into the open group (a new one if needed: the open
 * one is written first when the packet does not fit, is of another
 * layout, or is older than gather_ms). Returns 0 (the caller's buffer is
 * no longer needed: its release callback runs in the next dispatch),
 * -EAGAIN (no memory in the budget or space on the disk yet), -ENOSPC,
 * -ENOMEM or the CPU access error.
 */
int recorder_gather(struct dmapipe_recorder *rec, struct dmapipe_buffer *buf,
		    const struct dmapipe_frame_meta *meta, void *frame_data);
/* Writes the open group, if there is one. */
void recorder_flush_group(struct dmapipe_recorder *rec);
/* Writes the open group if its oldest packet has waited gather_ms by the clock. */
void recorder_flush_group_due(struct dmapipe_recorder *rec);
/* Runs the release callbacks that are due (from dispatch and finish only). */
void recorder_run_releases(struct dmapipe_recorder *rec);
/*
 * A group's write completed (or failed): each packet goes into the index
 * and gets its done callback; the group's memory is freed.
 */
void recorder_complete_group(struct dmapipe_recorder *rec, struct rec_frame *f);
/* Frees @g, its buffer back to the staging pool (NULL is ignored). */
void recorder_group_free(struct dmapipe_recorder *rec, struct rec_group *g);

/* ---- recorder-file.c ------------------------------------------------------------------ */

/*
 * Creates @path, or with @path NULL takes a duplicate of the caller's
 * @fd; switches to O_DIRECT (or buffered, as the options allow), learns
 * the alignment and writes the superblock of a recording in progress,
 * with the first chunk of space allocated. Only regular files are taken.
 * 0 or -errno (the caller removes the file if rec->created).
 */
int recorder_create_file(struct dmapipe_recorder *rec, const char *path, int fd);
/*
 * Writes the index after the last complete record, trims the file, marks
 * it closed and syncs; a failure is recorded with recorder_fail().
 */
void recorder_close_file(struct dmapipe_recorder *rec);
/* Buffered mode: true while too much of the file is in the page cache for @size more. */
bool recorder_cache_full(const struct dmapipe_recorder *rec, uint64_t size);
/*
 * Whether a record ending at @end fits in the allocated space with room
 * left for the index: 0; -EAGAIN while more is being allocated; -ENOSPC
 * once the disk is full (the recording stops).
 */
int recorder_reserve_space(struct dmapipe_recorder *rec, uint64_t end);
/* Allocates ahead up to @want_end, in the background. */
void recorder_queue_falloc(struct dmapipe_recorder *rec, uint64_t want_end);
/* Starts a data barrier over the records complete now, unless one runs. */
void recorder_queue_barrier(struct dmapipe_recorder *rec);
/* Buffered mode: starts writeback behind the writes and drops written pages. */
void recorder_queue_writeback(struct dmapipe_recorder *rec);
/* A completion of the file's own requests (all kinds but OP_OBJECT and OP_HEADER). */
void recorder_file_op_done(struct dmapipe_recorder *rec, struct rec_op *op, int res);
/* True while one of the file's own requests is in flight. */
bool recorder_file_busy(const struct dmapipe_recorder *rec);

#endif /* HAVE_LIBURING */

#endif /* DMAPIPE_STORAGE_RECORDER_PRIVATE_H */
