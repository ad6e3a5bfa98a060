// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe: per-frame completion fences.
 *
 * A driver that starts DMA into a buffer adds a fence to the buffer's
 * reservation object; poll() on the dma-buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
 * DMA_BUF_IOCTL_SYNC, SYNC_RANGE and WRITE_FILE then wait for it, and the
 * driver signals it when the frame is complete.
 *
 * Fences outlive their buffer (a sync_file keeps one) and their ops are
 * module code, so each fence holds a reference on this module. A fence is
 * freed in an RCU callback, after readers that found it under RCU are done;
 * the callback drops the module reference last, and module exit waits for
 * callbacks still running (rcu_barrier()).
 */

#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "dmapipe-priv.h"

struct dmapipe_fence {
	struct dma_fence base;
	spinlock_t lock;	/* the fence's own, for dma_fence_init() */
	char timeline[32];
};

static const char *fence_get_driver_name(struct dma_fence *fence)
{
	return KBUILD_MODNAME;
}

static const char *fence_get_timeline_name(struct dma_fence *fence)
{
	return container_of(fence, struct dmapipe_fence, base)->timeline;
}

static void fence_free_rcu(struct rcu_head *rcu)
{
	struct dma_fence *fence = container_of(rcu, struct dma_fence, rcu);

	kfree(container_of(fence, struct dmapipe_fence, base));
	module_put(THIS_MODULE);
}

static void fence_release(struct dma_fence *fence)
{
	call_rcu(&fence->rcu, fence_free_rcu);
}

static const struct dma_fence_ops dmapipe_fence_ops = {
	.get_driver_name = fence_get_driver_name,
	.get_timeline_name = fence_get_timeline_name,
	.release = fence_release,
};

/* Waits for the RCU callbacks of released fences; for module exit. */
void dmapipe_fence_barrier(void)
{
	rcu_barrier();
}

/**
 * dmapipe_buffer_add_fence - make users of a buffer wait for a fence
 * @buf: the buffer
 * @fence: the fence; the buffer takes its own reference
 * @usage: DMA_RESV_USAGE_WRITE when a device writes the buffer (a capture
 *	device: readers wait), DMA_RESV_USAGE_READ when it only reads it
 *	(writers wait)
 *
 * May sleep.
 *
 * Return: 0 or -ENOMEM.
 */
int dmapipe_buffer_add_fence(struct dmapipe_buffer *buf, struct dma_fence *fence,
			     enum dma_resv_usage usage)
{
	struct dma_resv *resv = buf->dmabuf->resv;
	int ret;

	dma_resv_lock(resv, NULL);
	ret = dma_resv_reserve_fences(resv, 1);
	if (!ret)
		dma_resv_add_fence(resv, fence, usage);
	dma_resv_unlock(resv);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_add_fence, DMAPIPE_NS);

/**
 * dmapipe_buffer_fence_new - a fence for one frame, already in the buffer
 * @buf: the buffer
 * @usage: as for dmapipe_buffer_add_fence()
 *
 * Call before starting the DMA, signal with dmapipe_fence_signal() when it
 * is complete (or failed). Fences of one buffer share a timeline: signal
 * them in the order they were made. May sleep.
 *
 * Return: the fence, with a reference for the caller, or ERR_PTR(-ENOMEM).
 */
struct dma_fence *dmapipe_buffer_fence_new(struct dmapipe_buffer *buf,
					   enum dma_resv_usage usage)
{
	struct dmapipe_fence *f;
	int ret;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&f->lock);
	snprintf(f->timeline, sizeof(f->timeline), "dmapipe-buffer-%llu", buf->id);
	/* the caller runs module code through a buffer: the module is alive */
	__module_get(THIS_MODULE);
	dma_fence_init(&f->base, &dmapipe_fence_ops, &f->lock, buf->fence_context,
		       atomic64_inc_return(&buf->fence_seqno));

	ret = dmapipe_buffer_add_fence(buf, &f->base, usage);
	if (ret) {
		/* never published: signal so the release does not complain */
		dma_fence_signal(&f->base);
		dma_fence_put(&f->base);
		return ERR_PTR(ret);
	}
	return &f->base;
}
EXPORT_SYMBOL_NS_GPL(dmapipe_buffer_fence_new, DMAPIPE_NS);

/**
 * dmapipe_fence_signal - complete a frame's fence
 * @fence: from dmapipe_buffer_fence_new(); the caller's reference is dropped
 * @error: 0, or a negative errno for a frame that failed (waiters see it)
 *
 * Can be called from interrupt context.
 */
void dmapipe_fence_signal(struct dma_fence *fence, int error)
{
	if (error)
		dma_fence_set_error(fence, error);
	dma_fence_signal(fence);
	dma_fence_put(fence);
}
EXPORT_SYMBOL_NS_GPL(dmapipe_fence_signal, DMAPIPE_NS);
