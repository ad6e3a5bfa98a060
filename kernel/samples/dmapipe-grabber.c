// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe-grabber: a sample capture driver on dmapipe's in-kernel API.
 *
 * It plays an FPGA frame grabber without videobuf2: a platform device of
 * its own with a 32-bit DMA mask, buffers allocated against that device
 * (and some of its own pages, wrapped), and a kthread that "DMAs" each
 * frame (the CPU writes it, after a delay) and then signals the frame's
 * fence. Userspace gets the buffers as
 * dma-buf fds and waits for frames with poll() or a sync_file, or hands the
 * driver a buffer it allocated from /dev/dmapipe. docs/KERNEL.md explains
 * each step; the ioctls are in dmapipe-grabber.h.
 */

#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/iosys-map.h>
#include <linux/kthread.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "dmapipe.h"
#include "dmapipe-grabber.h"

static unsigned int nbuffers = 4;
module_param(nbuffers, uint, 0444);
MODULE_PARM_DESC(nbuffers, "Buffers of the driver's own (1-16, default 4)");

static unsigned int frame_size = 640 * 480 * 2;
module_param(frame_size, uint, 0444);
MODULE_PARM_DESC(frame_size, "Bytes per frame (default 614400: 640x480 YUYV)");

static unsigned int wrapped = 1;
module_param(wrapped, uint, 0444);
MODULE_PARM_DESC(wrapped, "How many of them are the driver's pages handed over (default 1)");

static unsigned int latency_ms = 20;
module_param(latency_ms, uint, 0444);
MODULE_PARM_DESC(latency_ms, "Time from a capture request to the frame, ms (default 20)");

#define GRABBER_MAX_BUFFERS	16

/**
 * struct grabber_request - one queued frame
 * @node: in grabber.queue
 * @buf: the buffer it goes into (a reference)
 * @fence: its completion fence (a reference)
 * @index: the driver's buffer index, or U32_MAX for a userspace buffer
 * @sequence: the frame number
 */
struct grabber_request {
	struct list_head node;
	struct dmapipe_buffer *buf;
	struct dma_fence *fence;
	u32 index;
	u64 sequence;
};

static struct grabber {
	struct platform_device *pdev;
	struct dmapipe_buffer *bufs[GRABBER_MAX_BUFFERS];
	struct task_struct *thread;
	spinlock_t lock;		/* queue */
	struct list_head queue;
	wait_queue_head_t wait;
	atomic64_t sequence;
} grabber;

/* What the device's DMA would do: write the frame into the buffer. */
static int grabber_fill(struct grabber_request *req)
{
	size_t size = dmapipe_buffer_size(req->buf);
	struct dmapipe_grabber_frame *frame;
	struct iosys_map map;
	u8 *p;
	size_t i;
	int ret;

	if (size < sizeof(*frame) + sizeof(u64))
		return -EINVAL;
	ret = dmapipe_buffer_vmap(req->buf, &map);
	if (ret)
		return ret;
	dmapipe_buffer_sync_for_cpu(req->buf, 0, size);

	p = map.vaddr;
	for (i = sizeof(*frame); i < size - sizeof(u64); i++)
		p[i] = (u8)(req->sequence + i);
	memcpy(p + size - sizeof(u64), &req->sequence, sizeof(u64));
	frame = map.vaddr;
	frame->magic = DMAPIPE_GRABBER_MAGIC;
	frame->index = req->index;
	frame->sequence = req->sequence;
	frame->size = size;
	frame->timestamp_ns = ktime_get_ns();

	dmapipe_buffer_sync_for_device(req->buf, 0, size);
	dmapipe_buffer_vunmap(req->buf, &map);
	return 0;
}

static void grabber_complete(struct grabber_request *req, int error)
{
	/* the frame is done: poll(), sync_files and CPU access stop waiting */
	dmapipe_fence_signal(req->fence, error);
	dmapipe_buffer_put(req->buf);
	kfree(req);
}

static struct grabber_request *grabber_next(void)
{
	struct grabber_request *req;

	spin_lock(&grabber.lock);
	req = list_first_entry_or_null(&grabber.queue, struct grabber_request, node);
	if (req)
		list_del(&req->node);
	spin_unlock(&grabber.lock);
	return req;
}

static int grabber_thread(void *data)
{
	struct grabber_request *req;

	while (!kthread_should_stop()) {
		wait_event_interruptible(grabber.wait, !list_empty(&grabber.queue) ||
					 kthread_should_stop());
		req = grabber_next();
		if (!req)
			continue;
		msleep_interruptible(latency_ms);
		grabber_complete(req, grabber_fill(req));
	}
	while ((req = grabber_next()))
		grabber_complete(req, -ECANCELED);
	return 0;
}

static int grabber_capture(struct dmapipe_grabber_capture *cap)
{
	struct grabber_request *req;
	struct dmapipe_buffer *buf;
	long ret;

	if (cap->fd >= 0) {
		/* any dmapipe buffer, e.g. one userspace allocated from /dev/dmapipe */
		buf = dmapipe_buffer_get_from_fd(cap->fd);
		if (IS_ERR(buf))
			return PTR_ERR(buf);
		cap->index = U32_MAX;
	} else {
		if (cap->index >= nbuffers)
			return -EINVAL;
		buf = grabber.bufs[cap->index];
		dmapipe_buffer_get(buf);
	}

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req) {
		ret = -ENOMEM;
		goto err_put_buf;
	}

	/* implicit sync: the device must not overwrite what readers still use */
	ret = dma_resv_wait_timeout(dmapipe_buffer_dma_buf(buf)->resv, DMA_RESV_USAGE_READ,
				    true, MAX_SCHEDULE_TIMEOUT);
	if (ret < 0)
		goto err_free_req;

	req->fence = dmapipe_buffer_fence_new(buf, DMA_RESV_USAGE_WRITE);
	if (IS_ERR(req->fence)) {
		ret = PTR_ERR(req->fence);
		goto err_free_req;
	}
	req->buf = buf;
	req->index = cap->index;
	req->sequence = atomic64_inc_return(&grabber.sequence);
	cap->sequence = req->sequence;

	spin_lock(&grabber.lock);
	list_add_tail(&req->node, &grabber.queue);
	spin_unlock(&grabber.lock);
	wake_up(&grabber.wait);
	return 0;

err_free_req:
	kfree(req);
err_put_buf:
	dmapipe_buffer_put(buf);
	return ret;
}

/* dmapipe calls this once the last user of a buffer we kept is gone. */
static void grabber_release_wrapped(struct sg_table *sgt, void *priv)
{
	struct sg_page_iter piter;

	for_each_sgtable_page(sgt, &piter, 0)
		__free_page(sg_page_iter_page(&piter));
	sg_free_table(sgt);
	kfree(sgt);
}

/*
 * A driver that already has its frame memory wraps it instead of having
 * dmapipe allocate: order-0 pages here, below 4 GiB for the 32-bit device.
 * @keep: the memory stays ours, freed by grabber_release_wrapped() (which
 * keeps this module loaded while the buffer exists); else the pages are
 * handed over to the buffer.
 */
static struct dmapipe_buffer *grabber_wrap(struct device *dev, bool keep)
{
	unsigned int i, n = DIV_ROUND_UP(frame_size, PAGE_SIZE);
	struct dmapipe_buffer *buf;
	struct sg_table *sgt;
	struct page **pages;
	int ret;

	pages = kvcalloc(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt) {
		ret = -ENOMEM;
		goto err_free_array;
	}
	for (i = 0; i < n; i++) {
		pages[i] = alloc_page(GFP_KERNEL | __GFP_DMA32 | __GFP_ZERO);
		if (!pages[i]) {
			ret = -ENOMEM;
			goto err_free_pages;
		}
	}
	ret = sg_alloc_table_from_pages(sgt, pages, n, 0, (size_t)n << PAGE_SHIFT, GFP_KERNEL);
	if (ret)
		goto err_free_pages;

	buf = dmapipe_buffer_wrap(dev, sgt, DMAPIPE_ALLOC_PAGE_MMAP,
				  keep ? grabber_release_wrapped : NULL, NULL);
	if (IS_ERR(buf)) {
		ret = PTR_ERR(buf);
		goto err_free_table;
	}
	if (!keep) {
		/* the buffer owns the pages now; the table was only the description */
		sg_free_table(sgt);
		kfree(sgt);
	}
	kvfree(pages);
	return buf;

err_free_table:
	sg_free_table(sgt);
err_free_pages:
	while (i--)
		__free_page(pages[i]);
	kfree(sgt);
err_free_array:
	kvfree(pages);
	return ERR_PTR(ret);
}

/*
 * A buffer of the driver's own memory that only the caller holds: the
 * driver drops its reference at once, so the buffer (and this module)
 * lives exactly as long as userspace keeps it.
 */
static int grabber_export_wrapped(void)
{
	struct dmapipe_buffer *buf;
	int fd;

	buf = grabber_wrap(&grabber.pdev->dev, true);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	fd = dmapipe_buffer_fd(buf, O_CLOEXEC);
	dmapipe_buffer_put(buf);
	return fd;
}

static long grabber_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct dmapipe_grabber_capture cap;
	struct dmapipe_grabber_buffer b;
	int ret;

	switch (cmd) {
	case DMAPIPE_GRABBER_IOCTL_GET_BUFFER:
		if (copy_from_user(&b, uarg, sizeof(b)))
			return -EFAULT;
		if (b.index >= nbuffers)
			return -EINVAL;
		b.fd = dmapipe_buffer_fd(grabber.bufs[b.index], O_CLOEXEC);
		if (b.fd < 0)
			return b.fd;
		/* like VIDIOC_EXPBUF: a failed copy leaves the fd to the caller */
		return copy_to_user(uarg, &b, sizeof(b)) ? -EFAULT : 0;
	case DMAPIPE_GRABBER_IOCTL_EXPORT_WRAPPED:
		b.index = U32_MAX;
		b.fd = grabber_export_wrapped();
		if (b.fd < 0)
			return b.fd;
		return copy_to_user(uarg, &b, sizeof(b)) ? -EFAULT : 0;
	case DMAPIPE_GRABBER_IOCTL_CAPTURE:
		if (copy_from_user(&cap, uarg, sizeof(cap)))
			return -EFAULT;
		ret = grabber_capture(&cap);
		if (ret)
			return ret;
		return copy_to_user(uarg, &cap, sizeof(cap)) ? -EFAULT : 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations grabber_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = grabber_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice grabber_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmapipe-grabber",
	.fops = &grabber_fops,
};

static void grabber_free_buffers(void)
{
	unsigned int i;

	for (i = 0; i < nbuffers; i++) {
		dmapipe_buffer_put(grabber.bufs[i]);
		grabber.bufs[i] = NULL;
	}
}

static int grabber_alloc_buffers(struct device *dev)
{
	unsigned int i;

	for (i = 0; i < nbuffers; i++) {
		struct dmapipe_buffer *buf;
		struct sg_table *sgt;

		if (i >= nbuffers - min(wrapped, nbuffers))
			buf = grabber_wrap(dev, false);
		else
			/* zeroed: userspace may look before the first frame */
			buf = dmapipe_buffer_alloc(dev, frame_size,
						   DMAPIPE_ALLOC_PAGE_MMAP | DMAPIPE_ALLOC_ZEROED);
		if (IS_ERR(buf)) {
			grabber_free_buffers();
			return PTR_ERR(buf);
		}
		grabber.bufs[i] = buf;
		/* a real driver programs these addresses into its DMA engine */
		sgt = dmapipe_buffer_sgt(buf);
		dev_dbg(dev, "buffer %u: %zu bytes in %u DMA segments\n", i,
			dmapipe_buffer_size(buf), sgt->nents);
	}
	return 0;
}

static int __init grabber_init(void)
{
	struct platform_device_info info = {
		.name = "dmapipe-grabber",
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(32),
	};
	int ret;

	if (!nbuffers || nbuffers > GRABBER_MAX_BUFFERS || !frame_size)
		return -EINVAL;
	spin_lock_init(&grabber.lock);
	INIT_LIST_HEAD(&grabber.queue);
	init_waitqueue_head(&grabber.wait);

	grabber.pdev = platform_device_register_full(&info);
	if (IS_ERR(grabber.pdev))
		return PTR_ERR(grabber.pdev);

	ret = grabber_alloc_buffers(&grabber.pdev->dev);
	if (ret)
		goto err_unregister_pdev;

	grabber.thread = kthread_run(grabber_thread, NULL, "dmapipe-grabber");
	if (IS_ERR(grabber.thread)) {
		ret = PTR_ERR(grabber.thread);
		goto err_free_buffers;
	}

	grabber_misc.parent = &grabber.pdev->dev;
	ret = misc_register(&grabber_misc);
	if (ret)
		goto err_stop_thread;
	return 0;

err_stop_thread:
	kthread_stop(grabber.thread);
err_free_buffers:
	grabber_free_buffers();
err_unregister_pdev:
	platform_device_unregister(grabber.pdev);
	return ret;
}

static void __exit grabber_exit(void)
{
	misc_deregister(&grabber_misc);
	kthread_stop(grabber.thread);
	/*
	 * Buffers userspace still holds live on and keep dmapipe.ko loaded;
	 * exported wrapped ones keep this module loaded too, so exit never
	 * runs while grabber_release_wrapped() may still be called.
	 */
	grabber_free_buffers();
	platform_device_unregister(grabber.pdev);
}

module_init(grabber_init);
module_exit(grabber_exit);

MODULE_DESCRIPTION("dmapipe sample: a fake frame grabber on the in-kernel API");
MODULE_AUTHOR("The dmapipe authors");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMAPIPE_NS);
