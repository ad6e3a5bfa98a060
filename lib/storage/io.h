/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the recorder and the replay reader share (io.c).
 */
#ifndef DMAPIPE_STORAGE_IO_H
#define DMAPIPE_STORAGE_IO_H

#include "private.h"

#include <sys/types.h>

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

struct dmapipe_recording;

/*
 * recording.c, for the reader (reader.c): the descriptor frames are read
 * from (O_DIRECT when the info says direct) and one through the page cache
 * (the same when the file has no O_DIRECT). Both stay owned by @r.
 */
void rec_recording_fds(const struct dmapipe_recording *r, int *dfd, int *fd);

#endif /* DMAPIPE_STORAGE_IO_H */
