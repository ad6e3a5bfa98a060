// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe: buffers, their dma_buf_ops and the exported buffer API.
 *
 * Memory is order-0 pages, allocated in high-order chunks where possible
 * (fewer DMA segments and IOMMU TLB entries) and split, so that every page
 * is refcounted on its own: mmap can then insert the struct pages
 * (DMAPIPE_ALLOC_PAGE_MMAP), and a page that O_DIRECT or io_uring pinned
 * through such a mapping stays valid after the buffer is gone.
 *
 * Streaming buffers (the default) are cached: each importing device gets
 * its own sg_table, mapped with dma_map_sgtable(), and CPU access syncs the
 * mapped ones. Coherent buffers have write-combined CPU mappings and no
 * cacheable alias (x86: the linear map is switched too), so devices map
 * them without cache maintenance and CPU access needs none.
 *
 * A buffer allocated by a driver for its device also has the driver's own
 * DMA mapping (dmapipe_buffer_sgt()), kept for the buffer's life.
 *
 * Once dma_buf_export() has succeeded, the dma-buf owns the buffer, and the
 * only way to let go of it is dma_buf_put(); release() frees it.
 */

#include <linux/cacheflush.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/iosys-map.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#ifdef CONFIG_X86
#include <asm/set_memory.h>
#endif

#include "dmapipe-priv.h"

/**
 * struct dmapipe_attachment - one importing device's view of a buffer
 * @dev: the importer's device
 * @sgt: the buffer's pages, split to the device's maximum segment size
 * @node: in dmapipe_buffer.attachments
 * @dir: the direction @sgt is mapped with, while @mapped
 * @mapped: @sgt is DMA-mapped for @dev
 */
struct dmapipe_attachment {
	struct device *dev;
	struct sg_table sgt;
	struct list_head node;
	enum dma_data_direction dir;
	bool mapped;
};

static atomic64_t dmapipe_next_id = ATOMIC64_INIT(0);

/* 1 MiB, 64 KiB, 4 KiB: sizes IOMMUs map well (as the system dma-heap does) */
static const unsigned int alloc_orders[] = { 8, 4, 0 };

static const struct dma_buf_ops dmapipe_dmabuf_ops;

bool dmapipe_is_buffer(const struct dma_buf *dmabuf)
{
	return dmabuf->ops == &dmapipe_dmabuf_ops;
}

static unsigned long dma_attrs(const struct dmapipe_buffer *buf)
{
	return buf->flags & DMAPIPE_ALLOC_COHERENT ? DMA_ATTR_SKIP_CPU_SYNC : 0;
}

static pgprot_t cpu_prot(const struct dmapipe_buffer *buf, pgprot_t prot)
{
	return buf->flags & DMAPIPE_ALLOC_COHERENT ? pgprot_writecombine(prot) : prot;
}

static unsigned int max_segment(struct device *dev)
{
	unsigned int max = dev ? dma_get_max_seg_size(dev) : UINT_MAX;

	return max_t(unsigned int, round_down(max, PAGE_SIZE), PAGE_SIZE);
}

/* The zone a device without an IOMMU needs to reach its buffers directly. */
static gfp_t dev_gfp(struct device *dev, gfp_t gfp)
{
	if (!dev || device_iommu_mapped(dev))
		return gfp;
	if (dma_get_mask(dev) < dma_get_required_mask(dev))
		return (gfp & ~__GFP_HIGHMEM) | __GFP_DMA32;
	return gfp;
}

static int alloc_buffer_pages(struct dmapipe_buffer *buf, gfp_t gfp)
{
	unsigned int o = 0;
	pgoff_t i = 0;

	while (i < buf->npages) {
		unsigned int order = alloc_orders[o];
		struct page *page;
		unsigned long n;

		if (fatal_signal_pending(current))
			goto err_free;
		if (order && (1UL << order) > buf->npages - i) {
			o++;
			continue;
		}
		if (order)
			page = alloc_pages((gfp | __GFP_NOWARN | __GFP_NORETRY) &
					   ~__GFP_DIRECT_RECLAIM, order);
		else
			page = alloc_page(gfp | __GFP_NOWARN | __GFP_RETRY_MAYFAIL);
		if (!page) {
			if (!order)
				goto err_free;
			/* fragmented: do not try this order again */
			o++;
			continue;
		}
		if (order)
			split_page(page, order);
		for (n = 0; n < (1UL << order); n++)
			buf->pages[i++] = page + n;
	}
	return 0;

err_free:
	while (i--)
		__free_page(buf->pages[i]);
	return fatal_signal_pending(current) ? -EINTR : -ENOMEM;
}

static void free_buffer_pages(struct dmapipe_buffer *buf)
{
	pgoff_t i;

	for (i = 0; i < buf->npages; i++)
		__free_page(buf->pages[i]);
}

/*
 * Coherent memory must have no cacheable alias with dirty lines: on x86 the
 * kernel's linear map of the pages becomes write-combined as well (PAT does
 * not allow two cache modes for one page, and the switch flushes); elsewhere
 * the zeroing is cleaned out of the caches once, through our own device.
 */
static int make_coherent(struct dmapipe_buffer *buf)
{
#ifdef CONFIG_X86
	return set_pages_array_wc(buf->pages, buf->npages);
#else
	int ret;

	ret = dma_map_sgtable(dmapipe_dma_dev, buf->sgt, DMA_BIDIRECTIONAL, 0);
	if (ret)
		return ret;
	dma_unmap_sgtable(dmapipe_dma_dev, buf->sgt, DMA_BIDIRECTIONAL, 0);
	return 0;
#endif
}

static void undo_coherent(struct dmapipe_buffer *buf)
{
#ifdef CONFIG_X86
	set_pages_array_wb(buf->pages, buf->npages);
#endif
}

static void count_segments(struct dmapipe_buffer *buf)
{
	size_t run = PAGE_SIZE;
	pgoff_t i;

	buf->segments = 1;
	buf->max_segment = PAGE_SIZE;
	for (i = 1; i < buf->npages; i++) {
		if (page_to_pfn(buf->pages[i]) == page_to_pfn(buf->pages[i - 1]) + 1) {
			run += PAGE_SIZE;
		} else {
			buf->segments++;
			run = PAGE_SIZE;
		}
		buf->max_segment = max(buf->max_segment, run);
	}
}

static struct dmapipe_buffer *buffer_new(struct device *dev, size_t size, u32 flags)
{
	struct dmapipe_buffer *buf;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return NULL;
	buf->pages = kvmalloc_array(size >> PAGE_SHIFT, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages) {
		kfree(buf);
		return NULL;
	}
	buf->dev = get_device(dev);
	buf->npages = size >> PAGE_SHIFT;
	buf->size = size;
	buf->flags = flags;
	buf->id = atomic64_inc_return(&dmapipe_next_id);
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	buf->fence_context = dma_fence_context_alloc(1);
	atomic64_set(&buf->fence_seqno, 0);
	return buf;
}

static void buffer_free(struct dmapipe_buffer *buf)
{
	mutex_destroy(&buf->lock);
	put_device(buf->dev);
	kvfree(buf->pages);
	kfree(buf);
}

static int buffer_export(struct dmapipe_buffer *buf)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);

	exp_info.ops = &dmapipe_dmabuf_ops;
	exp_info.size = buf->size;
	exp_info.flags = O_RDWR;
	exp_info.priv = buf;
	buf->dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(buf->dmabuf))
		return PTR_ERR(buf->dmabuf);
	return 0;
}

/**
 * dmapipe_buffer_create - allocate and export a buffer
 * @dev: the driver's device to allocate for and map to, or NULL
 * @size: bytes, rounded up to whole pages
 * @flags: DMAPIPE_ALLOC_* bits
 * @user: for userspace: the memory is always zeroed and charged to the
 *	caller's memory cgroup
 *
 * Return: the buffer with one reference on its dma-buf, or an ERR_PTR().
 */
struct dmapipe_buffer *dmapipe_buffer_create(struct device *dev, size_t size, u32 flags,
					     bool user)
{
	const u32 known = DMAPIPE_ALLOC_COHERENT | DMAPIPE_ALLOC_PAGE_MMAP |
			  DMAPIPE_ALLOC_ZEROED;
	gfp_t gfp = GFP_HIGHUSER;
	struct dmapipe_buffer *buf;
	int ret;

	if (!size || (flags & ~known))
		return ERR_PTR(-EINVAL);
	/* scatterlists and vmap() count pages in an unsigned int */
	if (size > (size_t)LONG_MAX - PAGE_SIZE || size >> PAGE_SHIFT >= UINT_MAX)
		return ERR_PTR(-EFBIG);
	size = PAGE_ALIGN(size);
	if (user)
		flags |= DMAPIPE_ALLOC_ZEROED;
	if (dev)
		flags |= DMAPIPE_BUF_DEVICE;

	ret = dmapipe_charge(size);
	if (ret)
		return ERR_PTR(ret);

	buf = buffer_new(dev, size, flags);
	if (!buf) {
		ret = -ENOMEM;
		goto err_uncharge;
	}

	if (flags & DMAPIPE_ALLOC_ZEROED)
		gfp |= __GFP_ZERO;
	if (user)
		gfp |= __GFP_ACCOUNT;
	ret = alloc_buffer_pages(buf, dev_gfp(dev, gfp));
	if (ret)
		goto err_free_buf;
	count_segments(buf);

	ret = sg_alloc_table_from_pages_segment(&buf->table, buf->pages, buf->npages, 0, size,
						max_segment(dev), GFP_KERNEL);
	if (ret)
		goto err_free_pages;
	buf->sgt = &buf->table;

	if (flags & DMAPIPE_ALLOC_COHERENT) {
		ret = make_coherent(buf);
		if (ret)
			goto err_free_table;
	}

	if (dev) {
		ret = dma_map_sgtable(dev, buf->sgt, DMA_BIDIRECTIONAL, dma_attrs(buf));
		if (ret)
			goto err_undo_coherent;
	}

	ret = buffer_export(buf);
	if (ret)
		goto err_unmap;
	return buf;

err_unmap:
	if (dev)
		dma_unmap_sgtable(dev, buf->sgt, DMA_BIDIRECTIONAL, dma_attrs(buf));
err_undo_coherent:
	if (flags & DMAPIPE_ALLOC_COHERENT)
		undo_coherent(buf);
err_free_table:
	sg_free_table(&buf->table);
err_free_pages:
	free_buffer_pages(buf);
err_free_buf:
	buffer_free(buf);
err_uncharge:
	dmapipe_uncharge(size);
	return ERR_PTR(ret);
}

/**
 * dmapipe_buffer_alloc - allocate a buffer for a device
 * @dev: the driver's device: the memory suits its DMA mask and is
 *	DMA-mapped for it (see dmapipe_buffer_sgt()); NULL for none
 * @size: bytes, rounded up to whole pages
 * @flags: DMAPIPE_ALLOC_COHERENT, DMAPIPE_ALLOC_PAGE_MMAP, DMAPIPE_ALLOC_ZEROED.
 *	Without DMAPIPE_ALLOC_ZEROED the memory is not cleared: fill all of it
 *	before userspace or another device can see it.
 *
 * The buffer counts against the module's limits. May sleep.
 *
 * Return: a buffer with one reference, or ERR_PTR(-EINVAL, -EFBIG, -EDQUOT,
 * -ENOMEM, -EINTR).
 */
struct dmapipe_buffer *dmapipe_buffer_alloc(struct device *dev, size_t size, u32 flags)
{
	return dmapipe_buffer_create(dev, size, flags, false);
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_alloc, DMAPIPE_NS);

/*
 * Fills buf->pages from @sgt. Pages handed over (@take) must be order-0
 * pages with their own reference, which the buffer then drops; pages for
 * struct-page mmap need a reference count (vm_insert_pages()).
 */
static int wrap_pages(struct dmapipe_buffer *buf, struct sg_table *sgt, bool take)
{
	bool need_ref = take || (buf->flags & DMAPIPE_ALLOC_PAGE_MMAP);
	struct sg_page_iter piter;
	pgoff_t i = 0;

	for_each_sgtable_page(sgt, &piter, 0) {
		struct page *page = sg_page_iter_page(&piter);

		if (i == buf->npages || (need_ref && !page_count(page)) ||
		    (take && PageCompound(page)))
			return -EINVAL;
		buf->pages[i++] = page;
	}
	return i == buf->npages ? 0 : -EINVAL;
}

static size_t wrap_size(struct sg_table *sgt)
{
	struct scatterlist *sg;
	size_t size = 0;
	unsigned int i;

	for_each_sgtable_sg(sgt, sg, i) {
		if (!sg_page(sg) || !PAGE_ALIGNED(sg->offset) || !PAGE_ALIGNED(sg->length) ||
		    !sg->length || check_add_overflow(size, (size_t)sg->length, &size))
			return 0;
	}
	return size;
}

/* See dmapipe_buffer_wrap() in dmapipe.h. */
struct dmapipe_buffer *__dmapipe_buffer_wrap(struct device *dev, struct sg_table *sgt,
					     u32 flags,
					     void (*release)(struct sg_table *sgt, void *priv),
					     void *priv, struct module *owner)
{
	struct dmapipe_buffer *buf;
	size_t size;
	int ret;

	if (!sgt || (flags & ~DMAPIPE_ALLOC_PAGE_MMAP))
		return ERR_PTR(-EINVAL);
	size = wrap_size(sgt);
	if (!size || size > (size_t)LONG_MAX || size >> PAGE_SHIFT >= UINT_MAX)
		return ERR_PTR(-EINVAL);
	flags |= DMAPIPE_BUF_WRAPPED;
	if (dev)
		flags |= DMAPIPE_BUF_DEVICE;

	ret = dmapipe_charge(size);
	if (ret)
		return ERR_PTR(ret);

	buf = buffer_new(dev, size, flags);
	if (!buf) {
		ret = -ENOMEM;
		goto err_uncharge;
	}
	ret = wrap_pages(buf, sgt, !release);
	if (ret)
		goto err_free_buf;
	count_segments(buf);

	if (release) {
		/* the driver's memory, freed by the driver's code: keep it loaded */
		if (!try_module_get(owner)) {
			ret = -ENODEV;
			goto err_free_buf;
		}
		buf->sgt = sgt;
		buf->release = release;
		buf->release_priv = priv;
		buf->release_owner = owner;
	} else {
		/* pages handed over: a table of our own, freed like allocated memory */
		ret = sg_alloc_table_from_pages_segment(&buf->table, buf->pages, buf->npages, 0,
							size, max_segment(dev), GFP_KERNEL);
		if (ret)
			goto err_free_buf;
		buf->sgt = &buf->table;
	}

	if (dev) {
		ret = dma_map_sgtable(dev, buf->sgt, DMA_BIDIRECTIONAL, 0);
		if (ret)
			goto err_undo_table;
	}

	ret = buffer_export(buf);
	if (ret)
		goto err_unmap;
	return buf;

err_unmap:
	if (dev)
		dma_unmap_sgtable(dev, buf->sgt, DMA_BIDIRECTIONAL, 0);
err_undo_table:
	if (release)
		module_put(owner);
	else
		sg_free_table(&buf->table);
err_free_buf:
	buffer_free(buf);
err_uncharge:
	dmapipe_uncharge(size);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(__dmapipe_buffer_wrap, DMAPIPE_NS);

/* dma_buf_ops.release: the last reference to the dma-buf is gone. */
static void dmapipe_release(struct dma_buf *dmabuf)
{
	struct dmapipe_buffer *buf = dmabuf->priv;
	struct module *owner = buf->release_owner;

	/* a kernel user that did not vunmap: keep the pages out of reach */
	if (WARN_ON_ONCE(buf->vmap_count))
		vunmap(buf->vaddr);

	if (buf->dev)
		dma_unmap_sgtable(buf->dev, buf->sgt, DMA_BIDIRECTIONAL, dma_attrs(buf));
	if (buf->release) {
		buf->release(buf->sgt, buf->release_priv);
		module_put(owner);
	} else {
		if (buf->flags & DMAPIPE_ALLOC_COHERENT)
			undo_coherent(buf);
		sg_free_table(&buf->table);
		free_buffer_pages(buf);
	}
	dmapipe_uncharge(buf->size);
	buffer_free(buf);
}

static int dmapipe_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct dmapipe_buffer *buf = dmabuf->priv;
	struct dmapipe_attachment *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table_from_pages_segment(&a->sgt, buf->pages, buf->npages, 0,
						buf->size, max_segment(attach->dev),
						GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = attach->dev;
	attach->priv = a;

	mutex_lock(&buf->lock);
	list_add(&a->node, &buf->attachments);
	mutex_unlock(&buf->lock);
	return 0;
}

static void dmapipe_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct dmapipe_buffer *buf = dmabuf->priv;
	struct dmapipe_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	mutex_unlock(&buf->lock);

	sg_free_table(&a->sgt);
	kfree(a);
}

static struct sg_table *dmapipe_map_dma_buf(struct dma_buf_attachment *attach,
					    enum dma_data_direction dir)
{
	struct dmapipe_buffer *buf = attach->dmabuf->priv;
	struct dmapipe_attachment *a = attach->priv;
	int ret;

	dmapipe_assert_resv_held(attach->dmabuf);

	mutex_lock(&buf->lock);
	if (a->mapped) {
		/* one mapping per attachment: the importer must unmap first */
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = dma_map_sgtable(a->dev, &a->sgt, dir, dma_attrs(buf));
	if (ret)
		goto out_unlock;
	a->dir = dir;
	a->mapped = true;

out_unlock:
	mutex_unlock(&buf->lock);
	return ret ? ERR_PTR(ret) : &a->sgt;
}

static void dmapipe_unmap_dma_buf(struct dma_buf_attachment *attach,
				  struct sg_table *sgt, enum dma_data_direction dir)
{
	struct dmapipe_buffer *buf = attach->dmabuf->priv;
	struct dmapipe_attachment *a = attach->priv;

	dmapipe_assert_resv_held(attach->dmabuf);

	mutex_lock(&buf->lock);
	a->mapped = false;
	mutex_unlock(&buf->lock);
	dma_unmap_sgtable(a->dev, sgt, dir, dma_attrs(buf));
}

/*
 * Syncs bytes [offset, offset + len) of one DMA mapping. The DMA API only
 * takes sub-ranges of a mapping by DMA address, which is only exact while
 * every DMA segment is one CPU segment; an IOMMU that merged segments gets
 * its whole table synced.
 */
static void sync_table(struct device *dev, struct sg_table *sgt,
		       enum dma_data_direction dir, u64 offset, u64 len, bool for_cpu)
{
	struct scatterlist *sg;
	u64 pos = 0, end = offset + len;
	unsigned int i;

	if (sgt->nents != sgt->orig_nents) {
		if (for_cpu)
			dma_sync_sgtable_for_cpu(dev, sgt, dir);
		else
			dma_sync_sgtable_for_device(dev, sgt, dir);
		return;
	}

	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 seg_start = pos, seg_end = pos + sg_dma_len(sg);
		u64 from, to;

		pos = seg_end;
		if (seg_end <= offset)
			continue;
		if (seg_start >= end)
			break;
		from = max(offset, seg_start) - seg_start;
		to = min(end, seg_end) - seg_start;
		if (for_cpu)
			dma_sync_single_range_for_cpu(dev, sg_dma_address(sg), from, to - from,
						      dir);
		else
			dma_sync_single_range_for_device(dev, sg_dma_address(sg), from,
							 to - from, dir);
	}
}

/**
 * dmapipe_buffer_sync_range - make a range coherent for the CPU or devices
 * @buf: the buffer
 * @offset: first byte (checked by the caller)
 * @len: bytes
 * @for_cpu: true before CPU access, false after it
 *
 * Syncs the owner's mapping and every mapped attachment, each with the
 * direction it was mapped with, and the kernel mapping on architectures
 * with virtually indexed caches. Coherent buffers need none of it.
 */
void dmapipe_buffer_sync_range(struct dmapipe_buffer *buf, u64 offset, u64 len,
			       bool for_cpu)
{
	struct dmapipe_attachment *a;

	if (!len || (buf->flags & DMAPIPE_ALLOC_COHERENT))
		return;

	mutex_lock(&buf->lock);
	if (buf->vmap_count) {
		if (for_cpu)
			invalidate_kernel_vmap_range(buf->vaddr + offset, len);
		else
			flush_kernel_vmap_range(buf->vaddr + offset, len);
	}
	if (buf->dev)
		sync_table(buf->dev, buf->sgt, DMA_BIDIRECTIONAL, offset, len, for_cpu);
	list_for_each_entry(a, &buf->attachments, node) {
		if (a->mapped)
			sync_table(a->dev, &a->sgt, a->dir, offset, len, for_cpu);
	}
	mutex_unlock(&buf->lock);
}

int dmapipe_buffer_check_range(const struct dmapipe_buffer *buf, u64 offset, u64 len)
{
	u64 end;

	if (check_add_overflow(offset, len, &end) || end > buf->size)
		return -EINVAL;
	return 0;
}

static int dmapipe_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct dmapipe_buffer *buf = dmabuf->priv;

	dmapipe_buffer_sync_range(buf, 0, buf->size, true);
	return 0;
}

static int dmapipe_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct dmapipe_buffer *buf = dmabuf->priv;

	dmapipe_buffer_sync_range(buf, 0, buf->size, false);
	return 0;
}

/* Maps pages as page frames (VM_PFNMAP), one remap per contiguous run. */
static int mmap_pfns(struct dmapipe_buffer *buf, struct vm_area_struct *vma)
{
	unsigned long addr = vma->vm_start;
	pgoff_t first = vma->vm_pgoff, i = first;

	while (addr < vma->vm_end) {
		unsigned long pfn = page_to_pfn(buf->pages[i]);
		unsigned long size = PAGE_SIZE;
		int ret;

		while (addr + size < vma->vm_end &&
		       page_to_pfn(buf->pages[i + size / PAGE_SIZE]) == pfn + size / PAGE_SIZE)
			size += PAGE_SIZE;
		ret = remap_pfn_range(vma, addr, pfn, size, vma->vm_page_prot);
		if (ret)
			return ret;
		addr += size;
		i += size / PAGE_SIZE;
	}
	return 0;
}

static int dmapipe_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct dmapipe_buffer *buf = dmabuf->priv;
	unsigned long num = vma_pages(vma);

	/* a private mapping would copy-on-write memory that devices share */
	if (is_cow_mapping(vma->vm_flags))
		return -EINVAL;
	if (vma->vm_pgoff > buf->npages || num > buf->npages - vma->vm_pgoff)
		return -EINVAL;

	vma->vm_page_prot = cpu_prot(buf, vma->vm_page_prot);
	dmapipe_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	if (buf->flags & DMAPIPE_ALLOC_PAGE_MMAP)
		return vm_insert_pages(vma, vma->vm_start, buf->pages + vma->vm_pgoff, &num);
	return mmap_pfns(buf, vma);
}

static int buffer_vmap_locked(struct dmapipe_buffer *buf, struct iosys_map *map)
{
	void *vaddr;

	lockdep_assert_held(&buf->lock);
	if (!buf->vmap_count) {
		vaddr = vmap(buf->pages, buf->npages, VM_MAP, cpu_prot(buf, PAGE_KERNEL));
		if (!vaddr)
			return -ENOMEM;
		buf->vaddr = vaddr;
	}
	buf->vmap_count++;
	iosys_map_set_vaddr(map, buf->vaddr);
	return 0;
}

static void buffer_vunmap_locked(struct dmapipe_buffer *buf)
{
	lockdep_assert_held(&buf->lock);
	if (WARN_ON_ONCE(!buf->vmap_count))
		return;
	if (!--buf->vmap_count) {
		vunmap(buf->vaddr);
		buf->vaddr = NULL;
	}
}

static int dmapipe_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct dmapipe_buffer *buf = dmabuf->priv;
	int ret;

	dmapipe_assert_resv_held(dmabuf);

	mutex_lock(&buf->lock);
	ret = buffer_vmap_locked(buf, map);
	mutex_unlock(&buf->lock);
	return ret;
}

static void dmapipe_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct dmapipe_buffer *buf = dmabuf->priv;

	dmapipe_assert_resv_held(dmabuf);

	mutex_lock(&buf->lock);
	buffer_vunmap_locked(buf);
	mutex_unlock(&buf->lock);
	iosys_map_clear(map);
}

static const struct dma_buf_ops dmapipe_dmabuf_ops = {
	.attach = dmapipe_attach,
	.detach = dmapipe_detach,
	.map_dma_buf = dmapipe_map_dma_buf,
	.unmap_dma_buf = dmapipe_unmap_dma_buf,
	.release = dmapipe_release,
	.begin_cpu_access = dmapipe_begin_cpu_access,
	.end_cpu_access = dmapipe_end_cpu_access,
	.mmap = dmapipe_mmap,
	.vmap = dmapipe_vmap,
	.vunmap = dmapipe_vunmap,
};

unsigned int dmapipe_buffer_attachments(struct dmapipe_buffer *buf)
{
	struct dmapipe_attachment *a;
	unsigned int n = 0;

	mutex_lock(&buf->lock);
	list_for_each_entry(a, &buf->attachments, node)
		n++;
	mutex_unlock(&buf->lock);
	return n;
}

/**
 * dmapipe_buffer_get_from_fd - look a dmapipe buffer up from a dma-buf fd
 * @fd: a file descriptor of the current process
 *
 * Return: the buffer with a new reference, or ERR_PTR(-EBADF) for a closed
 * fd, ERR_PTR(-EINVAL) for an fd that is not a dma-buf, ERR_PTR(-EXDEV)
 * for another exporter's dma-buf.
 */
struct dmapipe_buffer *dmapipe_buffer_get_from_fd(int fd)
{
	struct dma_buf *dmabuf;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return ERR_CAST(dmabuf);
	if (!dmapipe_is_buffer(dmabuf)) {
		dma_buf_put(dmabuf);
		return ERR_PTR(-EXDEV);
	}
	return dmabuf->priv;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_get_from_fd, DMAPIPE_NS);

/**
 * dmapipe_buffer_get - take a reference
 * @buf: the buffer
 */
void dmapipe_buffer_get(struct dmapipe_buffer *buf)
{
	get_dma_buf(buf->dmabuf);
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_get, DMAPIPE_NS);

/**
 * dmapipe_buffer_put - drop a reference
 * @buf: the buffer, or NULL
 */
void dmapipe_buffer_put(struct dmapipe_buffer *buf)
{
	if (buf)
		dma_buf_put(buf->dmabuf);
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_put, DMAPIPE_NS);

/**
 * dmapipe_buffer_fd - give userspace an fd of the buffer
 * @buf: the buffer; the fd gets its own reference, the caller keeps its own
 * @fd_flags: O_CLOEXEC or 0
 *
 * Return: the new fd in the current process, or a negative errno.
 */
int dmapipe_buffer_fd(struct dmapipe_buffer *buf, unsigned int fd_flags)
{
	int fd;

	if (fd_flags & ~O_CLOEXEC)
		return -EINVAL;
	get_dma_buf(buf->dmabuf);
	fd = dma_buf_fd(buf->dmabuf, fd_flags);
	if (fd < 0)
		dma_buf_put(buf->dmabuf);
	return fd;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_fd, DMAPIPE_NS);

/**
 * dmapipe_buffer_dma_buf - the dma-buf of a buffer
 * @buf: the buffer
 *
 * Return: the dma-buf, valid while the caller holds its reference on @buf
 * (for dma_buf_attach(), or dma_resv_wait_timeout() on its resv).
 */
struct dma_buf *dmapipe_buffer_dma_buf(struct dmapipe_buffer *buf)
{
	return buf->dmabuf;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_dma_buf, DMAPIPE_NS);

/**
 * dmapipe_buffer_size - the size of a buffer
 * @buf: the buffer
 *
 * Return: bytes, a multiple of PAGE_SIZE.
 */
size_t dmapipe_buffer_size(const struct dmapipe_buffer *buf)
{
	return buf->size;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_size, DMAPIPE_NS);

/**
 * dmapipe_buffer_sgt - the DMA addresses of a buffer for its device
 * @buf: the buffer
 *
 * Return: the sg_table DMA-mapped (bidirectional) for the device the buffer
 * was allocated or wrapped for, valid as long as the buffer; walk it with
 * for_each_sgtable_dma_sg(). NULL for a buffer without a device.
 */
struct sg_table *dmapipe_buffer_sgt(struct dmapipe_buffer *buf)
{
	return buf->dev ? buf->sgt : NULL;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_sgt, DMAPIPE_NS);

/**
 * dmapipe_buffer_vmap - map a buffer into the kernel
 * @buf: the buffer
 * @map: set to the mapping
 *
 * Mappings are refcounted: the buffer is mapped once however many users map
 * it, dma-buf importers included. Bracket CPU access with
 * dmapipe_buffer_sync_for_cpu() and dmapipe_buffer_sync_for_device().
 *
 * Return: 0 or -ENOMEM.
 */
int dmapipe_buffer_vmap(struct dmapipe_buffer *buf, struct iosys_map *map)
{
	int ret;

	mutex_lock(&buf->lock);
	ret = buffer_vmap_locked(buf, map);
	mutex_unlock(&buf->lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_vmap, DMAPIPE_NS);

/**
 * dmapipe_buffer_vunmap - drop a kernel mapping
 * @buf: the buffer
 * @map: what dmapipe_buffer_vmap() set; cleared
 */
void dmapipe_buffer_vunmap(struct dmapipe_buffer *buf, struct iosys_map *map)
{
	mutex_lock(&buf->lock);
	buffer_vunmap_locked(buf);
	mutex_unlock(&buf->lock);
	iosys_map_clear(map);
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_vunmap, DMAPIPE_NS);

/**
 * dmapipe_buffer_sync_for_cpu - make a range coherent for the CPU
 * @buf: the buffer
 * @offset: first byte
 * @len: bytes
 *
 * After a device wrote the range by DMA and before the CPU reads or writes
 * it. Covers the driver's own mapping and every importer's. Does not wait
 * for fences: the caller knows its DMA is done.
 *
 * Return: 0, or -EINVAL for a range outside the buffer.
 */
int dmapipe_buffer_sync_for_cpu(struct dmapipe_buffer *buf, size_t offset, size_t len)
{
	int ret = dmapipe_buffer_check_range(buf, offset, len);

	if (!ret)
		dmapipe_buffer_sync_range(buf, offset, len, true);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_sync_for_cpu, DMAPIPE_NS);

/**
 * dmapipe_buffer_sync_for_device - hand a range back to the devices
 * @buf: the buffer
 * @offset: first byte
 * @len: bytes
 *
 * After CPU access and before the next DMA of the range, e.g. before a
 * capture device writes a frame into it.
 *
 * Return: 0, or -EINVAL for a range outside the buffer.
 */
int dmapipe_buffer_sync_for_device(struct dmapipe_buffer *buf, size_t offset, size_t len)
{
	int ret = dmapipe_buffer_check_range(buf, offset, len);

	if (!ret)
		dmapipe_buffer_sync_range(buf, offset, len, false);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_sync_for_device, DMAPIPE_NS);
