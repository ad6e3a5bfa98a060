/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the recorder (recorder.c) and the replay reader (reader.c) share on
 * their way between buffers and the disk: the sets of memory objects a path
 * was found not to work for (so the next frame skips straight to the one
 * that does), and the aligned staging buffers of the counted copy path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "io.h"
#include "codec.h"

int storage_file_id_get(int fd, struct storage_file_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

bool storage_file_set_has(const struct storage_file_set *set, const struct storage_file_id *id)
{
	for (unsigned int i = 0; i < set->n; i++)
		if (set->ids[i].dev == id->dev && set->ids[i].ino == id->ino)
			return true;
	return false;
}

void storage_file_set_add(struct storage_file_set *set, const struct storage_file_id *id)
{
	if (storage_file_set_has(set, id))
		return;
	if (set->n == STORAGE_FILE_SET_MAX) {
		/* forget the oldest: it is only a shortcut */
		memmove(set->ids, set->ids + 1, sizeof(set->ids[0]) * (STORAGE_FILE_SET_MAX - 1));
		set->n--;
	}
	set->ids[set->n++] = *id;
}

uint8_t *storage_staging_get(struct storage_staging *pool, size_t size, size_t align,
			     size_t *got)
{
	void *p = NULL;

	for (unsigned int i = 0; i < pool->n; i++) {
		if (pool->slot[i].size >= size) {
			uint8_t *s = pool->slot[i].p;

			*got = pool->slot[i].size;
			pool->slot[i] = pool->slot[--pool->n];
			return s;
		}
	}
	if (posix_memalign(&p, MAX(align, (size_t)dmapipe_page_size()), size) != 0)
		return NULL;
	*got = size;
	return p;
}

void storage_staging_put(struct storage_staging *pool, uint8_t *p, size_t size)
{
	if (!p)
		return;
	if (pool->n == STORAGE_STAGING_MAX) {
		free(p);
		return;
	}
	pool->slot[pool->n].p = p;
	pool->slot[pool->n].size = size;
	pool->n++;
}

void storage_staging_clear(struct storage_staging *pool)
{
	for (unsigned int i = 0; i < pool->n; i++)
		free(pool->slot[i].p);
	pool->n = 0;
}

int storage_pwrite_full(int fd, const void *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const uint8_t *)p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int storage_pread_full(int fd, void *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		done += (size_t)n;
	}
	return 0;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < REC_MAX_BLOCK)
		p <<= 1;
	return p;
}

void storage_dio_alignment(int fd, uint32_t *offset_align, uint32_t *mem_align)
{
	struct statx stx;
	struct stat st;

	memset(&stx, 0, sizeof(stx));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		*offset_align = stx.stx_dio_offset_align;
		*mem_align = stx.stx_dio_mem_align;
		return;
	}
	/* before 6.1, or a file system that does not say: its block size */
	if (fstat(fd, &st) == 0 && st.st_blksize > 0) {
		*offset_align = pow2_at_least((uint32_t)st.st_blksize);
		*mem_align = *offset_align;
		return;
	}
	*offset_align = REC_MIN_BLOCK;
	*mem_align = REC_MIN_BLOCK;
}
