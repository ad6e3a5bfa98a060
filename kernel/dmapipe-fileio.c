// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe: WRITE_FILE / READ_FILE, buffer pages to and from files.
 *
 * A dma-buf's userspace mapping usually cannot be the buffer of O_DIRECT
 * I/O: get_user_pages() refuses the VM_PFNMAP mappings exporters make. In
 * the kernel there is no such problem: the buffer's pages become a bio_vec
 * iterator for the file's own ->write_iter()/->read_iter(), and with
 * O_DIRECT the storage device moves the bytes by DMA. No CPU copy, no
 * mapping, and the same path for every kind of buffer.
 */

#include <linux/bvec.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "dmapipe-priv.h"

/* Bytes per vfs call: bounds the bio_vec array and lets a signal stop a long transfer. */
#define FILE_IO_CHUNK	(32UL << 20)

static ssize_t file_io_chunk(struct dmapipe_buffer *buf, struct bio_vec *bvec,
			     struct file *file, u64 offset, size_t len, loff_t *pos,
			     bool to_file)
{
	size_t skip = offset_in_page(offset), left = len;
	pgoff_t page = offset >> PAGE_SHIFT;
	unsigned int nr = 0;
	struct iov_iter iter;

	while (left) {
		size_t n = min_t(size_t, PAGE_SIZE - skip, left);

		bvec[nr].bv_page = buf->pages[page++];
		bvec[nr].bv_offset = skip;
		bvec[nr].bv_len = n;
		nr++;
		left -= n;
		skip = 0;
	}
	iov_iter_bvec(&iter, to_file ? ITER_SOURCE : ITER_DEST, bvec, nr, len);
	if (to_file)
		return dmapipe_vfs_iter_write(file, &iter, pos);
	return vfs_iter_read(file, &iter, pos, 0);
}

/**
 * dmapipe_file_io - move buffer bytes to or from a file
 * @buf: the buffer
 * @file: the file, checked by the caller (regular or block device)
 * @offset: first byte in the buffer (range checked by the caller)
 * @len: bytes
 * @pos: position in the file
 * @to_file: write the buffer to the file, else read the file into it
 *
 * Waits for the fences that CPU access would wait for, and syncs the range
 * around the transfer, because the file system may copy with the CPU
 * (buffered I/O, or a direct-I/O fallback).
 *
 * Return: bytes moved (short at end of file or after a failure part way),
 * or a negative errno when nothing moved.
 */
ssize_t dmapipe_file_io(struct dmapipe_buffer *buf, struct file *file, u64 offset,
			u64 len, loff_t pos, bool to_file)
{
	struct bio_vec *bvec;
	size_t done = 0;
	long ret;

	if (!len)
		return 0;

	/* writing the buffer out reads it: wait for writers; reading in: for all */
	ret = dma_resv_wait_timeout(buf->dmabuf->resv, dma_resv_usage_rw(!to_file), true,
				    MAX_SCHEDULE_TIMEOUT);
	if (ret < 0)
		return ret;

	bvec = kvmalloc_array(FILE_IO_CHUNK / PAGE_SIZE + 1, sizeof(*bvec), GFP_KERNEL);
	if (!bvec)
		return -ENOMEM;

	dmapipe_buffer_sync_range(buf, offset, len, true);
	while (done < len) {
		size_t n = min_t(u64, len - done, FILE_IO_CHUNK);

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = file_io_chunk(buf, bvec, file, offset + done, n, &pos, to_file);
		if (ret <= 0)
			break;
		done += ret;
		if (ret < n)
			break;
	}
	if (!to_file)
		dmapipe_buffer_sync_range(buf, offset, len, false);

	kvfree(bvec);
	return done ? (ssize_t)done : ret;
}
