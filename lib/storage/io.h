/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the recorder and the replay reader share (io.c).
 */
#ifndef DMAPIPE_STORAGE_IO_H
#define DMAPIPE_STORAGE_IO_H

#include "config.h"
#include "private.h"

#include <sys/types.h>

#if HAVE_LIBURING
#include <liburing.h>
#endif

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

/* All of @len at @off, retrying short transfers and EINTR: 0 or -errno
 * (a write that makes no progress is -EIO, a read past the end -ENODATA). */
int storage_pwrite_full(int fd, const void *p, size_t len, uint64_t off);
int storage_pread_full(int fd, void *p, size_t len, uint64_t off);

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

/*
 * Direct I/O alignment of an open file: statx STATX_DIOALIGN, else the
 * logical block size of st_blksize; @offset_align and @mem_align are
 * powers of two (0 when the file cannot do direct I/O, by statx's word).
 */
void storage_dio_alignment(int fd, uint32_t *offset_align, uint32_t *mem_align);

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
 * power of two, at most 4096), its completions making @efd readable.
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

struct dmapipe_recording;

/*
 * recording.c, for the reader (reader.c): the descriptor frames are read
 * from (O_DIRECT when the info says direct) and one through the page cache
 * (the same when the file has no O_DIRECT). Both stay owned by @r.
 */
void rec_recording_fds(const struct dmapipe_recording *r, int *dfd, int *fd);

#endif /* DMAPIPE_STORAGE_IO_H */
