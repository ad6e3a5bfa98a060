/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmapipe: what the parts of dmapipe.ko share.
 *
 * dmapipe-core.c    module, limits and counters, /dev/dmapipe, sysfs
 * dmapipe-buffer.c  buffers and their dma_buf_ops, the exported buffer API
 * dmapipe-fence.c   per-frame completion fences
 * dmapipe-ioctl.c   the ioctls of /dev/dmapipe
 * dmapipe-fileio.c  WRITE_FILE / READ_FILE: buffer pages to and from files
 * dmapipe-compat.h  the differences between kernel versions
 */
#ifndef DMAPIPE_PRIV_H
#define DMAPIPE_PRIV_H

#include <linux/dma-buf.h>
#include <linux/dma-direction.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>

#include "dmapipe.h"

/**
 * struct dmapipe_buffer - one dma-buf of dmapipe
 * @dmabuf: the dma-buf; once exported it owns this struct (dmabuf->priv)
 * @dev: the driver's device (a reference) that @sgt is DMA-mapped for, or NULL
 * @sgt: the memory; DMA-mapped for @dev while the buffer lives
 * @table: backs @sgt for memory dmapipe allocated
 * @pages: every page in order, for vmap, mmap and file I/O
 * @npages: entries in @pages
 * @size: bytes, @npages pages
 * @flags: DMAPIPE_ALLOC_* and DMAPIPE_BUF_* bits (uapi/dmapipe.h)
 * @id: unique while the module is loaded
 * @segments: physically contiguous runs in @pages
 * @max_segment: bytes in the longest run
 * @lock: protects @attachments and the vmap state; taken inside dmabuf->resv
 * @attachments: struct dmapipe_attachment, one per importing device
 * @vmap_count: users of @vaddr
 * @vaddr: the kernel mapping while @vmap_count > 0
 * @fence_context: the timeline of fences made by dmapipe_buffer_fence_new()
 * @fence_seqno: the last seqno on it
 * @release: the driver's release of wrapped memory
 * @release_priv: its argument
 * @release_owner: the module @release lives in, held while the buffer lives
 */
struct dmapipe_buffer {
	struct dma_buf *dmabuf;
	struct device *dev;
	struct sg_table *sgt;
	struct sg_table table;
	struct page **pages;
	pgoff_t npages;
	size_t size;
	u32 flags;
	u64 id;
	unsigned int segments;
	size_t max_segment;

	struct mutex lock;		/* attachments, vmap_count, vaddr */
	struct list_head attachments;
	unsigned int vmap_count;
	void *vaddr;

	u64 fence_context;
	atomic64_t fence_seqno;

	void (*release)(struct sg_table *sgt, void *priv);
	void *release_priv;
	struct module *release_owner;
};

/* dmapipe-core.c */
extern struct device *dmapipe_dma_dev;
int dmapipe_charge(size_t size);
void dmapipe_uncharge(size_t size);
void dmapipe_get_counters(u64 *bytes_in_use, unsigned int *buffers);
void dmapipe_get_limits(u64 *max_total_bytes, u64 *max_buffer_bytes,
			unsigned int *max_buffers);

/* dmapipe-buffer.c */
struct dmapipe_buffer *dmapipe_buffer_create(struct device *dev, size_t size, u32 flags,
					     bool user);
bool dmapipe_is_buffer(const struct dma_buf *dmabuf);
unsigned int dmapipe_buffer_attachments(struct dmapipe_buffer *buf);
int dmapipe_buffer_check_range(const struct dmapipe_buffer *buf, u64 offset, u64 len);
void dmapipe_buffer_sync_range(struct dmapipe_buffer *buf, u64 offset, u64 len,
			       bool for_cpu);

/* dmapipe-fence.c */
void dmapipe_fence_barrier(void);

/* dmapipe-fileio.c */
ssize_t dmapipe_file_io(struct dmapipe_buffer *buf, struct file *file, u64 offset,
			u64 len, loff_t pos, bool to_file);

/* dmapipe-ioctl.c */
long dmapipe_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* DMAPIPE_PRIV_H */
