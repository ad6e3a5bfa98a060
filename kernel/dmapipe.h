/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmapipe: the in-kernel API of dmapipe.ko, for capture drivers.
 *
 * A driver allocates buffers against its own struct device (so its DMA
 * mask and IOMMU apply) or wraps an sg_table it already has, hands them to
 * userspace as dma-buf fds, and signals each frame's completion with a
 * dma_fence in the buffer's reservation object, so that poll() on the
 * dma-buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE and CPU access wait for the DMA.
 * docs/KERNEL.md walks through it; kernel/samples/dmapipe-grabber.c uses it.
 *
 * Every symbol is exported in the DMAPIPE namespace: a user module says
 * MODULE_IMPORT_NS(DMAPIPE_NS), which is right for every kernel version.
 *
 * Lifetime: a struct dmapipe_buffer is a dma-buf. Each reference (from an
 * allocation, dmapipe_buffer_get() or dmapipe_buffer_get_from_fd()) is a
 * reference on that dma-buf and is dropped with dmapipe_buffer_put(); the
 * memory goes when the last user, fd, mapping or attachment is gone.
 */
#ifndef DMAPIPE_H
#define DMAPIPE_H

#include <linux/dma-resv.h>
#include <linux/types.h>

#include "dmapipe-compat.h"
#include "uapi/dmapipe.h"

struct device;
struct dma_buf;
struct dma_fence;
struct iosys_map;
struct module;
struct sg_table;
struct dmapipe_buffer;

struct dmapipe_buffer *dmapipe_buffer_alloc(struct device *dev, size_t size, u32 flags);

struct dmapipe_buffer *__dmapipe_buffer_wrap(struct device *dev, struct sg_table *sgt,
					     u32 flags,
					     void (*release)(struct sg_table *sgt, void *priv),
					     void *priv, struct module *owner);

/**
 * dmapipe_buffer_wrap - make a dma-buf of memory a driver already has
 * @dev: the driver's device, or NULL; dmapipe maps the memory for it
 * @sgt: the pages, not DMA-mapped, every entry starting and ending on a
 *	page boundary
 * @flags: 0 or DMAPIPE_ALLOC_PAGE_MMAP (then every page needs a reference
 *	count, as vm_insert_pages() does)
 * @release: NULL to hand the pages over, or the driver's function that
 *	frees the memory
 * @priv: passed to @release
 *
 * With @release NULL the pages become the buffer's: each must be an
 * order-0 page with a reference of its own (alloc_page(), or a high-order
 * allocation split with split_page()), which the buffer drops when it goes;
 * @sgt stays the caller's, to free at once. Nothing of the caller's module
 * is needed afterwards.
 *
 * With @release, the memory stays the driver's: dmapipe maps @sgt itself,
 * the driver must not change or free it, and @release(@sgt, @priv) is
 * called once the last user is gone, with @sgt unmapped again. The calling
 * module cannot be unloaded until then, its own references included: drop
 * them when the device goes away (remove()), not in module exit.
 *
 * The buffer counts against the module's limits. May sleep.
 *
 * Return: a buffer with one reference, or an ERR_PTR(); on error nothing
 * changed hands and @release is not called.
 */
#define dmapipe_buffer_wrap(dev, sgt, flags, release, priv) \
	__dmapipe_buffer_wrap(dev, sgt, flags, release, priv, THIS_MODULE)

struct dmapipe_buffer *dmapipe_buffer_get_from_fd(int fd);
void dmapipe_buffer_get(struct dmapipe_buffer *buf);
void dmapipe_buffer_put(struct dmapipe_buffer *buf);
int dmapipe_buffer_fd(struct dmapipe_buffer *buf, unsigned int fd_flags);

struct dma_buf *dmapipe_buffer_dma_buf(struct dmapipe_buffer *buf);
size_t dmapipe_buffer_size(const struct dmapipe_buffer *buf);
struct sg_table *dmapipe_buffer_sgt(struct dmapipe_buffer *buf);

int dmapipe_buffer_vmap(struct dmapipe_buffer *buf, struct iosys_map *map);
void dmapipe_buffer_vunmap(struct dmapipe_buffer *buf, struct iosys_map *map);

int dmapipe_buffer_sync_for_cpu(struct dmapipe_buffer *buf, size_t offset, size_t len);
int dmapipe_buffer_sync_for_device(struct dmapipe_buffer *buf, size_t offset, size_t len);

int dmapipe_buffer_add_fence(struct dmapipe_buffer *buf, struct dma_fence *fence,
			     enum dma_resv_usage usage);
struct dma_fence *dmapipe_buffer_fence_new(struct dmapipe_buffer *buf,
					   enum dma_resv_usage usage);
void dmapipe_fence_signal(struct dma_fence *fence, int error);

#endif /* DMAPIPE_H */
