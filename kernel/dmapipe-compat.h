/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmapipe: what differs between the kernels dmapipe builds for (6.1 to
 * 6.13+). Out-of-tree code must build for each; every version guard is
 * here, on DMAPIPE_KERNEL_SINCE(), which compares the major and minor
 * version of the headers being built against (LINUX_VERSION_CODE without
 * the sublevel, from the same <linux/version.h>).
 */
#ifndef DMAPIPE_COMPAT_H
#define DMAPIPE_COMPAT_H

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/uio.h>
#include <linux/version.h>

#define DMAPIPE_KERNEL_SINCE(major, minor) \
	(KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, 0) >= \
	 KERNEL_VERSION(major, minor, 0))

/*
 * Symbol namespaces are strings since 6.13 and bare words before: use
 * MODULE_IMPORT_NS(DMAPIPE_NS) and MODULE_IMPORT_NS(DMAPIPE_NS_DMA_BUF).
 */
#if DMAPIPE_KERNEL_SINCE(6, 13)
#define DMAPIPE_NS		"DMAPIPE"
#define DMAPIPE_NS_DMA_BUF	"DMA_BUF"
#else
#define DMAPIPE_NS		DMAPIPE
#define DMAPIPE_NS_DMA_BUF	DMA_BUF
#endif

/* Since 6.2 the dma-buf core calls map, unmap and vmap with dmabuf->resv held. */
static inline void dmapipe_assert_resv_held(struct dma_buf *dmabuf)
{
#if DMAPIPE_KERNEL_SINCE(6, 2)
	dma_resv_assert_held(dmabuf->resv);
#endif
}

/* vm_flags became read-only behind vm_flags_set() in 6.3. */
static inline void dmapipe_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
#if DMAPIPE_KERNEL_SINCE(6, 3)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/*
 * Writes to a regular file hold the file system's write access (the freeze
 * protection, sb_start_write): vfs_iter_write() takes it itself since 6.7;
 * before, its callers must, or a write to a frozen ext4 goes ahead and
 * warns on every journal start.
 */
static inline ssize_t dmapipe_vfs_iter_write(struct file *file, struct iov_iter *iter,
					     loff_t *pos)
{
#if DMAPIPE_KERNEL_SINCE(6, 7)
	return vfs_iter_write(file, iter, pos, 0);
#else
	ssize_t ret;

	file_start_write(file);
	ret = vfs_iter_write(file, iter, pos, 0);
	file_end_write(file);
	return ret;
#endif
}

#endif /* DMAPIPE_COMPAT_H */
