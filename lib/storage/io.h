/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The storage layer's way between buffers and files (io.c), for the
 * recorder, the reader and recording.c: which path an object takes and
 * what was learned, the counted copy's staging, the file's alignment and
 * full-length transfers, the io_uring both directions drive.
 */
#ifndef DMAPIPE_STORAGE_IO_H
#define DMAPIPE_STORAGE_IO_H

#include "config.h"
#include "private.h"

#include <sys/types.h>

#if HAVE_LIBURING
#include <liburing.h>
#endif

/* ---- memory objects and the path their bytes take ---------------------------- */

/* A memory object, named by its inode (an fd number can be reused). */
struct storage_file_id {
	dev_t dev;
	ino_t ino;
};

/* Objects a direct-I/O path was found not to work for, newest 64 kept. */
#define STORAGE_FILE_SET_MAX 64
struct storage_file_set {
	struct storage_file_id ids[STORAGE_FILE_SET_MAX];
	unsigned int n;
};

int storage_file_id_get(int fd, struct storage_file_id *id);
bool storage_file_set_has(const struct storage_file_set *set, const struct storage_file_id *id);
void storage_file_set_add(struct storage_file_set *set, const struct storage_file_id *id);

/*
 * How an object's bytes move between its buffer and the file, and what was
 * learned on the way: the objects whose mapping failed direct I/O (EFAULT,
 * a PFN mapping) and the dma-bufs dmapipe.ko refused, so that later frames
 * take the path that works at once. One per recorder, reader or recording.
 */
struct storage_paths {
	const char *who;     /* "record", "reader", "recording": for the log */
	bool to_file;        /* writing (the recorder) or reading */
	bool direct;         /* the file is open with O_DIRECT */
	struct storage_file_set no_gup;  /* mappings direct I/O faulted on */
	struct storage_file_set no_kmod; /* dma-bufs dmapipe.ko cannot move */
};

void storage_paths_init(struct storage_paths *paths, const char *who, bool to_file, bool direct);
/*
 * The path for @obj: BUFFERED when the file has no O_DIRECT; else DIRECT
 * unless its mapping faulted before, then KMOD for a dma-buf dmapipe.ko
 * has not refused, else COPY.
 */
enum dmapipe_record_path storage_path_pick(const struct storage_paths *paths,
					   const struct dmapipe_object *obj);
/*
 * Direct I/O on @obj's mapping failed with EFAULT: remembers the object
 * (logged once) and returns the path to take instead, KMOD or COPY.
 */
enum dmapipe_record_path storage_path_fault(struct storage_paths *paths,
					    const struct dmapipe_object *obj);
/*
 * Moves @len bytes at @obj_off of object @i of @buf to (to_file) or from
 * @file_fd at @file_off through dmapipe.ko, synchronously. Returns 0;
 * -EXDEV when dmapipe.ko cannot move this object (not a dmapipe buffer, no
 * module, ...: remembered and logged, so take the COPY path); or the file's
 * own error (-EIO, -ENODATA past its end, -ENOSPC, ...).
 */
int storage_path_kmod(struct storage_paths *paths, const struct dmapipe_buffer *buf,
		      unsigned int i, uint64_t obj_off, uint64_t len, int file_fd,
		      uint64_t file_off);
/*
 * How much of an object of @data bytes, stored padded to @block, moves
 * between its mapping and an O_DIRECT file: all of the padded length when
 * it stays within the @mapped bytes (rounded up to a page), else only its
 * whole blocks; the rest is a tail the COPY path moves.
 */
uint64_t storage_direct_span(uint64_t data, uint32_t block, uint64_t mapped);

/* Aligned buffers of the counted copy path, kept for reuse (up to 16). */
#define STORAGE_STAGING_MAX 16
struct storage_staging {
	struct {
		uint8_t *p;
		size_t size;
	} slot[STORAGE_STAGING_MAX];
	unsigned int n;
};

/* A buffer of at least @size bytes aligned to @align (and a page); *got is its size. */
uint8_t *storage_staging_get(struct storage_staging *pool, size_t size, size_t align,
			     size_t *got);
void storage_staging_put(struct storage_staging *pool, uint8_t *p, size_t size);
void storage_staging_clear(struct storage_staging *pool);

/* ---- the file ---------------------------------------------------------------- */

/* All of @len at @off, retrying short transfers and EINTR: 0 or -errno
 * (a write that makes no progress is -EIO, a read past the end -ENODATA). */
int storage_pwrite_full(int fd, const void *p, size_t len, uint64_t off);
int storage_pread_full(int fd, void *p, size_t len, uint64_t off);

/*
 * Direct I/O alignment of an open file: statx STATX_DIOALIGN, else the
 * logical block size of st_blksize; @offset_align and @mem_align are
 * powers of two (0 when the file cannot do direct I/O, by statx's word).
 */
void storage_dio_alignment(int fd, uint32_t *offset_align, uint32_t *mem_align);

/* A full file system, quota or file: the recording ends rather than fails. */
bool storage_space_error(int err);

/* ---- io_uring ---------------------------------------------------------------- */

#if HAVE_LIBURING
/*
 * An io_uring whose requests are queued and then submitted together: the
 * recorder's writes, barriers and fence waits, the reader's reads.
 */
struct storage_ring {
	struct io_uring ring;
	unsigned int unsubmitted; /* SQEs taken since the last submit */
};

/*
 * Sets up @r with room for at least @min_entries requests (rounded up to a
 * power of two, at most 4096), its completions making @efd readable
 * (-1: no eventfd, the caller waits on the ring itself).
 * 0, or -errno with nothing left to undo.
 */
int storage_ring_init(struct storage_ring *r, unsigned int min_entries, int efd);
void storage_ring_exit(struct storage_ring *r);
/* A free SQE, submitting what is queued when none is free; NULL if still none. */
struct io_uring_sqe *storage_ring_sqe(struct storage_ring *r);
/* Submits the SQEs taken since the last submission. */
void storage_ring_flush(struct storage_ring *r);

typedef void (*storage_cqe_func)(void *ctx, void *data, int res);
/*
 * Hands every completion there is to @fn (its user data and result),
 * submitting what @fn queued after each; with @wait, first waits for one
 * when there is none. Returns how many were handled (0 when a wait
 * failed: the ring is broken).
 */
unsigned int storage_ring_reap(struct storage_ring *r, bool wait, storage_cqe_func fn, void *ctx);
/*
 * Waits until a completion is there, without handling it, or until
 * @deadline_ns (CLOCK_MONOTONIC; UINT64_MAX: no deadline) passes.
 * 0, -ETIME or -errno.
 */
int storage_ring_wait(struct storage_ring *r, uint64_t deadline_ns);
#endif

/* ---- recording.c, for the reader --------------------------------------------- */

struct dmapipe_recording;

/*
 * recording.c, for the reader (reader.c): the descriptor frames are read
 * from (O_DIRECT when the info says direct) and one through the page cache
 * (the same when the file has no O_DIRECT). Both stay owned by @r.
 */
void rec_recording_fds(const struct dmapipe_recording *r, int *dfd, int *fd);

#endif /* DMAPIPE_STORAGE_IO_H */
