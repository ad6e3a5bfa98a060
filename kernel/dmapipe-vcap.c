// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe_vcap: virtual V4L2 capture devices whose frames can be verified.
 *
 * Frame n of a stream carries sequence number n and the dmapipe test pattern
 * of n (docs/PATTERN.md): its content is a pure function of the sequence
 * number and the format, so whoever receives it - through MMAP, USERPTR,
 * read(), a dma-buf exported with VIDIOC_EXPBUF or a dma-buf imported with
 * V4L2_MEMORY_DMABUF - can check every byte. Timestamps are CLOCK_MONOTONIC
 * and frames are paced at the frame interval; a frame that finds no queued
 * buffer, or that the "Drop Rate" control drops, is lost and its sequence
 * number skipped, as with real hardware. docs/VCAP.md has the parameters,
 * the controls and the drop rule.
 *
 * Each device is a platform device registered by this module (one per
 * n_devs) with one video node. One kthread per streaming device produces
 * the frames; the CPU is the "DMA engine", so it writes the buffers through
 * their kernel mapping and hands them to the device side of the DMA API.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/freezer.h>
#include <linux/gcd.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/videodev2.h>

#include <media/v4l2-ctrls.h>
#include <media/v4l2-dev.h>
#include <media/v4l2-device.h>
#include <media/v4l2-event.h>
#include <media/v4l2-fh.h>
#include <media/v4l2-ioctl.h>
#include <media/videobuf2-dma-contig.h>
#include <media/videobuf2-dma-sg.h>
#include <media/videobuf2-v4l2.h>
#include <media/videobuf2-vmalloc.h>

#include "dmapipe-vcap.h"
#include "uapi/dmapipe.h"

#define VCAP_NAME		"dmapipe-vcap"
#define VCAP_MAX_DEVS		8
#define VCAP_MIN_FPS		1
#define VCAP_MAX_FPS		1000
/* timer slack of the frame clock */
#define VCAP_SLACK_NS		(50 * NSEC_PER_USEC)

/* The menu of V4L2_CID_TEST_PATTERN. */
enum vcap_pattern {
	VCAP_PATTERN_FULL,	/* docs/PATTERN.md, every byte */
	VCAP_PATTERN_STAMP,	/* only the 16-byte stamp: transport benchmarks */
};

static char *mem_ops = "vmalloc";
module_param(mem_ops, charp, 0444);
MODULE_PARM_DESC(mem_ops, "videobuf2 memory ops: vmalloc (default), dma-sg or dma-contig");

static unsigned int n_devs = 1;
module_param(n_devs, uint, 0444);
MODULE_PARM_DESC(n_devs, "number of capture devices, 1-8 (default 1)");

static unsigned int width = 640;
module_param(width, uint, 0444);
MODULE_PARM_DESC(width, "default frame width, 16-4096 (default 640)");

static unsigned int height = 480;
module_param(height, uint, 0444);
MODULE_PARM_DESC(height, "default frame height, 16-4096 (default 480)");

static char *fourcc = "YUYV";
module_param(fourcc, charp, 0444);
MODULE_PARM_DESC(fourcc, "default V4L2 pixel format, e.g. YUYV (default), NV12, YU12, XR24");

static unsigned int fps = 30;
module_param(fps, uint, 0444);
MODULE_PARM_DESC(fps, "default frame rate, 1-1000 frames per second (default 30)");

/* The module parameters, checked and decoded once at load time. */
static const struct vb2_mem_ops *vcap_mem_ops;
static u32 vcap_default_fourcc;

static struct platform_device *vcap_pdevs[VCAP_MAX_DEVS];

struct vcap_buffer {
	struct vb2_v4l2_buffer vb;	/* first: vb2 allocates vcap_buffers */
	struct list_head list;
};

/**
 * struct vcap_dev - one capture device
 * @v4l2_dev: its V4L2 device; its refcount owns this structure
 * @vdev: the video node
 * @queue: the capture queue
 * @ctrls: the control handler
 * @dev: the platform device, for DMA
 * @lock: serialises the ioctls, the queue and the format
 * @pix: current V4L2 format (@lock); constant while buffers exist
 * @geo: plane layout of @pix (@lock); constant while buffers exist
 * @slock: protects @queued, @timeperframe and @interval_changed
 * @queued: buffers waiting for a frame
 * @timeperframe: frame interval
 * @interval_changed: set by S_PARM, cleared by the thread when it adopts it
 * @pattern: enum vcap_pattern, from V4L2_CID_TEST_PATTERN
 * @drop_rate: percentage of frames dropped on purpose
 * @thread: the frame producer, between start_streaming and stop_streaming
 * @frames_done: frames delivered since STREAMON
 * @frames_dropped: frames dropped on purpose since STREAMON
 * @frames_lost: frames lost since STREAMON for want of a queued buffer, or
 *	because the thread woke up too late for them
 */
struct vcap_dev {
	struct v4l2_device v4l2_dev;
	struct video_device vdev;
	struct vb2_queue queue;
	struct v4l2_ctrl_handler ctrls;
	struct device *dev;

	struct mutex lock;		/* ioctls, queue, format */
	struct v4l2_pix_format pix;
	struct vcap_geometry geo;

	spinlock_t slock;		/* queued buffers, frame interval */
	struct list_head queued;
	struct v4l2_fract timeperframe;
	bool interval_changed;

	int pattern;
	int drop_rate;

	struct task_struct *thread;
	u64 frames_done;
	u64 frames_dropped;
	u64 frames_lost;
};

static struct vcap_dev *to_vcap(struct v4l2_device *v4l2_dev)
{
	return container_of(v4l2_dev, struct vcap_dev, v4l2_dev);
}

/* ---- frame clock ---------------------------------------------------------- */

/* Nanoseconds taken by @n frames at @tpf. */
static u64 vcap_frames_to_ns(const struct v4l2_fract *tpf, u64 n)
{
	return mul_u64_u64_div_u64(n, (u64)tpf->numerator * NSEC_PER_SEC, tpf->denominator);
}

/* Whole frames at @tpf that fit in @ns. */
static u64 vcap_ns_to_frames(const struct v4l2_fract *tpf, u64 ns)
{
	return mul_u64_u64_div_u64(ns, tpf->denominator, (u64)tpf->numerator * NSEC_PER_SEC);
}

/*
 * Clamps @tpf into [1/VCAP_MAX_FPS, 1/VCAP_MIN_FPS] seconds and reduces it;
 * 0/x and x/0 give the default of the fps parameter.
 */
static void vcap_fix_interval(struct v4l2_fract *tpf)
{
	unsigned long g;

	if (!tpf->numerator || !tpf->denominator) {
		*tpf = (struct v4l2_fract){ 1, fps };
		return;
	}
	if ((u64)tpf->numerator * VCAP_MAX_FPS < tpf->denominator) {
		*tpf = (struct v4l2_fract){ 1, VCAP_MAX_FPS };
		return;
	}
	if ((u64)tpf->numerator > (u64)tpf->denominator * VCAP_MIN_FPS) {
		*tpf = (struct v4l2_fract){ 1, VCAP_MIN_FPS };
		return;
	}
	g = gcd(tpf->numerator, tpf->denominator);
	tpf->numerator /= g;
	tpf->denominator /= g;
}

/* ---- frame production ------------------------------------------------------ */

/*
 * Frame @seq is dropped on purpose when the running count of drops,
 * floor(n * rate / 100) after n frames, steps up at it: exactly @rate frames
 * in every 100, spread evenly, and a consumer can tell which ones.
 */
static bool vcap_drops(u32 seq, int rate)
{
	return ((u64)seq + 1) * rate / 100 != (u64)seq * rate / 100;
}

/*
 * The CPU drew the frame through a kernel mapping of memory the device side
 * owns. Write it back to where a device (or the CPU, after vb2 syncs the
 * buffer for it at buffer_done) reads it: a vmap alias on aliasing caches,
 * then the caches and any bounce buffer. vmalloc memory is never mapped for
 * DMA, and dma-contig buffers are coherent.
 */
static void vcap_flush_mapping(struct vcap_dev *vcap, struct vb2_buffer *vb, void *vaddr)
{
	struct sg_table *sgt;

	if (vcap_mem_ops != &vb2_dma_sg_memops)
		return;
	sgt = vb2_dma_sg_plane_desc(vb, 0);
	if (!sgt)
		return;
	flush_kernel_vmap_range(vaddr, vcap->geo.sizeimage);
	dma_sync_sgtable_for_device(vcap->dev, sgt, DMA_BIDIRECTIONAL);
}

/* Draws frame @seq into @vb. Returns 0 or a negative errno. */
static int vcap_fill(struct vcap_dev *vcap, struct vb2_buffer *vb, u32 seq)
{
	/* an imported dma-buf is written like any CPU writer would: bracketed */
	struct dma_buf *dbuf = vb->memory == VB2_MEMORY_DMABUF ? vb->planes[0].dbuf : NULL;
	u8 *vaddr;
	int ret;

	if (dbuf) {
		ret = dma_buf_begin_cpu_access(dbuf, DMA_TO_DEVICE);
		if (ret)
			return ret;
	}
	vaddr = vb2_plane_vaddr(vb, 0);
	if (vaddr) {
		if (READ_ONCE(vcap->pattern) == VCAP_PATTERN_STAMP)
			vcap_pattern_stamp(vaddr, &vcap->geo, seq);
		else
			vcap_pattern_draw(vaddr, &vcap->geo, seq);
		if (!dbuf)
			vcap_flush_mapping(vcap, vb, vaddr);
	}
	if (dbuf)
		dma_buf_end_cpu_access(dbuf, DMA_TO_DEVICE);
	return vaddr ? 0 : -EFAULT;
}

/* Frame @seq ended at @end: deliver it to the oldest queued buffer, if any. */
static void vcap_capture(struct vcap_dev *vcap, u32 seq, ktime_t end)
{
	enum vb2_buffer_state state = VB2_BUF_STATE_DONE;
	struct vcap_buffer *buf;
	int ret;

	if (vcap_drops(seq, READ_ONCE(vcap->drop_rate))) {
		WRITE_ONCE(vcap->frames_dropped, vcap->frames_dropped + 1);
		return;
	}

	spin_lock(&vcap->slock);
	buf = list_first_entry_or_null(&vcap->queued, struct vcap_buffer, list);
	if (buf)
		list_del(&buf->list);
	spin_unlock(&vcap->slock);
	if (!buf) {
		WRITE_ONCE(vcap->frames_lost, vcap->frames_lost + 1);
		return;
	}

	ret = vcap_fill(vcap, &buf->vb.vb2_buf, seq);
	if (ret) {
		dev_err_ratelimited(vcap->dev, "frame %u: cannot write the buffer: %d\n", seq, ret);
		state = VB2_BUF_STATE_ERROR;
	}
	buf->vb.sequence = seq;
	buf->vb.field = V4L2_FIELD_NONE;
	buf->vb.vb2_buf.timestamp = ktime_to_ns(end);
	vb2_set_plane_payload(&buf->vb.vb2_buf, 0, vcap->geo.sizeimage);
	WRITE_ONCE(vcap->frames_done, vcap->frames_done + 1);
	vb2_buffer_done(&buf->vb.vb2_buf, state);
}

/* Sleeps until @deadline; false when the thread must stop. */
static bool vcap_sleep_until(ktime_t deadline)
{
	set_current_state(TASK_INTERRUPTIBLE);
	if (kthread_should_stop()) {
		__set_current_state(TASK_RUNNING);
		return false;
	}
	schedule_hrtimeout_range(&deadline, VCAP_SLACK_NS, HRTIMER_MODE_ABS);
	try_to_freeze();
	return !kthread_should_stop();
}

/*
 * The frame clock: frame k of the current rate ends at base + (k + 1)
 * intervals, and that instant is its timestamp, as a device with its own
 * frame clock would stamp it; the thread's wake-up latency does not show.
 * When the thread wakes late (a loaded or suspended machine) the frames
 * whose end passed unseen are lost like frames without a buffer and the
 * newest one is delivered. A new rate set by S_PARM starts at the end of
 * the frame just delivered.
 */
static int vcap_thread(void *data)
{
	struct vcap_dev *vcap = data;
	struct v4l2_fract tpf;
	ktime_t base = ktime_get();
	u64 frames = 0;		/* frames of the current rate that ended */
	u32 seq_base = 0;	/* sequence number of the first of them */

	set_freezable();
	spin_lock(&vcap->slock);
	tpf = vcap->timeperframe;
	vcap->interval_changed = false;
	spin_unlock(&vcap->slock);

	for (;;) {
		ktime_t deadline = ktime_add_ns(base, vcap_frames_to_ns(&tpf, frames + 1));
		ktime_t now;
		u64 ended;
		u32 seq;

		if (!vcap_sleep_until(deadline))
			break;
		now = ktime_get();
		if (ktime_before(now, deadline))
			continue;

		ended = vcap_ns_to_frames(&tpf, ktime_to_ns(ktime_sub(now, base)));
		ended = max(ended, frames + 1);
		WRITE_ONCE(vcap->frames_lost, vcap->frames_lost + ended - frames - 1);
		frames = ended;
		seq = seq_base + (u32)(frames - 1);
		vcap_capture(vcap, seq, ktime_add_ns(base, vcap_frames_to_ns(&tpf, frames)));

		spin_lock(&vcap->slock);
		if (vcap->interval_changed) {
			base = ktime_add_ns(base, vcap_frames_to_ns(&tpf, frames));
			seq_base = seq + 1;
			frames = 0;
			tpf = vcap->timeperframe;
			vcap->interval_changed = false;
		}
		spin_unlock(&vcap->slock);
	}
	return 0;
}

/* ---- videobuf2 ------------------------------------------------------------- */

static int vcap_queue_setup(struct vb2_queue *q, unsigned int *num_buffers,
			    unsigned int *num_planes, unsigned int sizes[],
			    struct device *alloc_devs[])
{
	struct vcap_dev *vcap = vb2_get_drv_priv(q);

	if (*num_planes)
		return *num_planes == 1 && sizes[0] >= vcap->geo.sizeimage ? 0 : -EINVAL;
	*num_planes = 1;
	sizes[0] = vcap->geo.sizeimage;
	return 0;
}

static int vcap_buf_prepare(struct vb2_buffer *vb)
{
	struct vcap_dev *vcap = vb2_get_drv_priv(vb->vb2_queue);

	if (vb2_plane_size(vb, 0) < vcap->geo.sizeimage)
		return -EINVAL;
	vb2_set_plane_payload(vb, 0, vcap->geo.sizeimage);
	return 0;
}

static void vcap_buf_queue(struct vb2_buffer *vb)
{
	struct vcap_dev *vcap = vb2_get_drv_priv(vb->vb2_queue);
	struct vcap_buffer *buf = container_of(to_vb2_v4l2_buffer(vb), struct vcap_buffer, vb);

	spin_lock(&vcap->slock);
	list_add_tail(&buf->list, &vcap->queued);
	spin_unlock(&vcap->slock);
}

/* Gives every queued buffer back to vb2 in @state. */
static void vcap_return_buffers(struct vcap_dev *vcap, enum vb2_buffer_state state)
{
	struct vcap_buffer *buf, *tmp;
	LIST_HEAD(bufs);

	spin_lock(&vcap->slock);
	list_splice_init(&vcap->queued, &bufs);
	spin_unlock(&vcap->slock);
	list_for_each_entry_safe(buf, tmp, &bufs, list) {
		list_del(&buf->list);
		vb2_buffer_done(&buf->vb.vb2_buf, state);
	}
}

static int vcap_start_streaming(struct vb2_queue *q, unsigned int count)
{
	struct vcap_dev *vcap = vb2_get_drv_priv(q);
	struct task_struct *thread;

	vcap->frames_done = 0;
	vcap->frames_dropped = 0;
	vcap->frames_lost = 0;
	thread = kthread_run(vcap_thread, vcap, "%s", vcap->v4l2_dev.name);
	if (IS_ERR(thread)) {
		vcap_return_buffers(vcap, VB2_BUF_STATE_QUEUED);
		return PTR_ERR(thread);
	}
	vcap->thread = thread;
	return 0;
}

static void vcap_stop_streaming(struct vb2_queue *q)
{
	struct vcap_dev *vcap = vb2_get_drv_priv(q);

	kthread_stop(vcap->thread);
	vcap->thread = NULL;
	vcap_return_buffers(vcap, VB2_BUF_STATE_ERROR);
}

static const struct vb2_ops vcap_qops = {
	.queue_setup		= vcap_queue_setup,
	.buf_prepare		= vcap_buf_prepare,
	.buf_queue		= vcap_buf_queue,
	.start_streaming	= vcap_start_streaming,
	.stop_streaming		= vcap_stop_streaming,
#if !VCAP_KERNEL_GE(6, 13, 0)
	/* since 6.13 vb2 drops and retakes q->lock itself */
	.wait_prepare		= vb2_ops_wait_prepare,
	.wait_finish		= vb2_ops_wait_finish,
#endif
};

/* ---- ioctls ---------------------------------------------------------------- */

static int vcap_querycap(struct file *file, void *priv, struct v4l2_capability *cap)
{
	struct vcap_dev *vcap = video_drvdata(file);

	strscpy(cap->driver, KBUILD_MODNAME, sizeof(cap->driver));
	strscpy(cap->card, vcap->v4l2_dev.name, sizeof(cap->card));
	snprintf(cap->bus_info, sizeof(cap->bus_info), "platform:%s", dev_name(vcap->dev));
	return 0;
}

static int vcap_enum_fmt(struct file *file, void *priv, struct v4l2_fmtdesc *f)
{
	const struct vcap_format *fmt = vcap_format_by_index(f->index);

	if (!fmt)
		return -EINVAL;
	f->pixelformat = fmt->fourcc;
	return 0;
}

/* Fills @pix (and @geo) with the valid format nearest to @pix. */
static void vcap_try_pix(struct v4l2_pix_format *pix, struct vcap_geometry *geo)
{
	const struct vcap_format *fmt = vcap_format_find(pix->pixelformat);

	if (!fmt)
		fmt = vcap_format_by_index(0);
	vcap_geometry_init(fmt, &pix->width, &pix->height, &pix->bytesperline, geo);
	pix->pixelformat = fmt->fourcc;
	pix->sizeimage = geo->sizeimage;
	pix->field = V4L2_FIELD_NONE;
	pix->colorspace = V4L2_COLORSPACE_SRGB;
	pix->xfer_func = V4L2_XFER_FUNC_DEFAULT;
	pix->ycbcr_enc = V4L2_YCBCR_ENC_DEFAULT;
	pix->quantization = V4L2_QUANTIZATION_DEFAULT;
	pix->flags = 0;
}

static int vcap_g_fmt(struct file *file, void *priv, struct v4l2_format *f)
{
	struct vcap_dev *vcap = video_drvdata(file);

	f->fmt.pix = vcap->pix;
	return 0;
}

static int vcap_try_fmt(struct file *file, void *priv, struct v4l2_format *f)
{
	struct vcap_geometry geo;

	vcap_try_pix(&f->fmt.pix, &geo);
	return 0;
}

static int vcap_s_fmt(struct file *file, void *priv, struct v4l2_format *f)
{
	struct vcap_dev *vcap = video_drvdata(file);
	struct vcap_geometry geo;

	if (vb2_is_busy(&vcap->queue))
		return -EBUSY;
	vcap_try_pix(&f->fmt.pix, &geo);
	vcap->pix = f->fmt.pix;
	vcap->geo = geo;
	return 0;
}

static int vcap_enum_framesizes(struct file *file, void *priv, struct v4l2_frmsizeenum *fsize)
{
	const struct vcap_format *fmt = vcap_format_find(fsize->pixel_format);

	if (!fmt || fsize->index)
		return -EINVAL;
	fsize->type = V4L2_FRMSIZE_TYPE_STEPWISE;
	fsize->stepwise.min_width = VCAP_MIN_WIDTH;
	fsize->stepwise.max_width = VCAP_MAX_WIDTH;
	fsize->stepwise.step_width = vcap_format_width_step(fmt);
	fsize->stepwise.min_height = VCAP_MIN_HEIGHT;
	fsize->stepwise.max_height = VCAP_MAX_HEIGHT;
	fsize->stepwise.step_height = vcap_format_height_step(fmt);
	return 0;
}

static int vcap_enum_frameintervals(struct file *file, void *priv,
				    struct v4l2_frmivalenum *fival)
{
	const struct vcap_format *fmt = vcap_format_find(fival->pixel_format);

	if (!fmt || fival->index)
		return -EINVAL;
	if (fival->width < VCAP_MIN_WIDTH || fival->width > VCAP_MAX_WIDTH ||
	    fival->width % vcap_format_width_step(fmt) ||
	    fival->height < VCAP_MIN_HEIGHT || fival->height > VCAP_MAX_HEIGHT ||
	    fival->height % vcap_format_height_step(fmt))
		return -EINVAL;
	fival->type = V4L2_FRMIVAL_TYPE_CONTINUOUS;
	fival->stepwise.min = (struct v4l2_fract){ 1, VCAP_MAX_FPS };
	fival->stepwise.max = (struct v4l2_fract){ 1, VCAP_MIN_FPS };
	fival->stepwise.step = (struct v4l2_fract){ 1, 1 };
	return 0;
}

static int vcap_g_parm(struct file *file, void *priv, struct v4l2_streamparm *parm)
{
	struct vcap_dev *vcap = video_drvdata(file);

	if (parm->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	parm->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
	spin_lock(&vcap->slock);
	parm->parm.capture.timeperframe = vcap->timeperframe;
	spin_unlock(&vcap->slock);
	/* what vb2's read() emulation queues */
	parm->parm.capture.readbuffers = 1;
	return 0;
}

static int vcap_s_parm(struct file *file, void *priv, struct v4l2_streamparm *parm)
{
	struct vcap_dev *vcap = video_drvdata(file);
	struct v4l2_fract tpf;

	if (parm->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	tpf = parm->parm.capture.timeperframe;
	vcap_fix_interval(&tpf);
	spin_lock(&vcap->slock);
	vcap->timeperframe = tpf;
	vcap->interval_changed = true;
	spin_unlock(&vcap->slock);
	return vcap_g_parm(file, priv, parm);
}

static int vcap_enum_input(struct file *file, void *priv, struct v4l2_input *inp)
{
	if (inp->index)
		return -EINVAL;
	inp->type = V4L2_INPUT_TYPE_CAMERA;
	strscpy(inp->name, "dmapipe Pattern", sizeof(inp->name));
	return 0;
}

static int vcap_g_input(struct file *file, void *priv, unsigned int *i)
{
	*i = 0;
	return 0;
}

static int vcap_s_input(struct file *file, void *priv, unsigned int i)
{
	return i ? -EINVAL : 0;
}

static int vcap_log_status(struct file *file, void *priv)
{
	struct vcap_dev *vcap = video_drvdata(file);

	v4l2_ctrl_log_status(file, priv);
	v4l2_info(&vcap->v4l2_dev, "mem_ops %s, %ux%u %p4cc, bytesperline %u, %u/%u s\n",
		  mem_ops, vcap->pix.width, vcap->pix.height, &vcap->pix.pixelformat,
		  vcap->pix.bytesperline, vcap->timeperframe.numerator,
		  vcap->timeperframe.denominator);
	if (vcap->thread)
		v4l2_info(&vcap->v4l2_dev,
			  "streaming: %llu frames done, %llu dropped, %llu lost\n",
			  READ_ONCE(vcap->frames_done), READ_ONCE(vcap->frames_dropped),
			  READ_ONCE(vcap->frames_lost));
	return 0;
}

static const struct v4l2_ioctl_ops vcap_ioctl_ops = {
	.vidioc_querycap		= vcap_querycap,
	.vidioc_enum_fmt_vid_cap	= vcap_enum_fmt,
	.vidioc_g_fmt_vid_cap		= vcap_g_fmt,
	.vidioc_try_fmt_vid_cap		= vcap_try_fmt,
	.vidioc_s_fmt_vid_cap		= vcap_s_fmt,
	.vidioc_enum_framesizes		= vcap_enum_framesizes,
	.vidioc_enum_frameintervals	= vcap_enum_frameintervals,
	.vidioc_g_parm			= vcap_g_parm,
	.vidioc_s_parm			= vcap_s_parm,
	.vidioc_enum_input		= vcap_enum_input,
	.vidioc_g_input			= vcap_g_input,
	.vidioc_s_input			= vcap_s_input,

	.vidioc_reqbufs			= vb2_ioctl_reqbufs,
	.vidioc_create_bufs		= vb2_ioctl_create_bufs,
	.vidioc_prepare_buf		= vb2_ioctl_prepare_buf,
	.vidioc_querybuf		= vb2_ioctl_querybuf,
	.vidioc_qbuf			= vb2_ioctl_qbuf,
	.vidioc_dqbuf			= vb2_ioctl_dqbuf,
	.vidioc_expbuf			= vb2_ioctl_expbuf,
	.vidioc_streamon		= vb2_ioctl_streamon,
	.vidioc_streamoff		= vb2_ioctl_streamoff,
#if VCAP_KERNEL_GE(6, 10, 0)
	.vidioc_remove_bufs		= vb2_ioctl_remove_bufs,
#endif

	.vidioc_log_status		= vcap_log_status,
	.vidioc_subscribe_event		= v4l2_ctrl_subscribe_event,
	.vidioc_unsubscribe_event	= v4l2_event_unsubscribe,
};

static const struct v4l2_file_operations vcap_fops = {
	.owner		= THIS_MODULE,
	.open		= v4l2_fh_open,
	.release	= vb2_fop_release,
	.read		= vb2_fop_read,
	.poll		= vb2_fop_poll,
	.mmap		= vb2_fop_mmap,
	.unlocked_ioctl	= video_ioctl2,
};

/* ---- controls -------------------------------------------------------------- */

static int vcap_s_ctrl(struct v4l2_ctrl *ctrl)
{
	struct vcap_dev *vcap = container_of(ctrl->handler, struct vcap_dev, ctrls);

	switch (ctrl->id) {
	case V4L2_CID_TEST_PATTERN:
		WRITE_ONCE(vcap->pattern, ctrl->val);
		return 0;
	case DMAPIPE_VCAP_CID_DROP_RATE:
		WRITE_ONCE(vcap->drop_rate, ctrl->val);
		return 0;
	}
	return -EINVAL;
}

static const struct v4l2_ctrl_ops vcap_ctrl_ops = {
	.s_ctrl = vcap_s_ctrl,
};

static const char * const vcap_pattern_menu[] = {
	[VCAP_PATTERN_FULL] = "dmapipe Pattern",
	[VCAP_PATTERN_STAMP] = "Stamp Only",
	NULL,
};

static const struct v4l2_ctrl_config vcap_drop_rate_ctrl = {
	.ops	= &vcap_ctrl_ops,
	.id	= DMAPIPE_VCAP_CID_DROP_RATE,
	.name	= "Drop Rate",
	.type	= V4L2_CTRL_TYPE_INTEGER,
	.min	= 0,
	.max	= 100,
	.step	= 1,
	.def	= 0,
};

static int vcap_ctrls_init(struct vcap_dev *vcap)
{
	struct v4l2_ctrl_handler *hdl = &vcap->ctrls;
	int ret;

	v4l2_ctrl_handler_init(hdl, 2);
	v4l2_ctrl_new_std_menu_items(hdl, &vcap_ctrl_ops, V4L2_CID_TEST_PATTERN,
				     ARRAY_SIZE(vcap_pattern_menu) - 2, 0,
				     VCAP_PATTERN_FULL, vcap_pattern_menu);
	v4l2_ctrl_new_custom(hdl, &vcap_drop_rate_ctrl, NULL);
	ret = hdl->error ?: v4l2_ctrl_handler_setup(hdl);
	if (ret) {
		v4l2_ctrl_handler_free(hdl);
		return ret;
	}
	vcap->v4l2_dev.ctrl_handler = hdl;
	return 0;
}

/* ---- device ---------------------------------------------------------------- */

/* The last reference to the device is gone: the node is closed everywhere. */
static void vcap_release(struct v4l2_device *v4l2_dev)
{
	struct vcap_dev *vcap = to_vcap(v4l2_dev);

	v4l2_ctrl_handler_free(&vcap->ctrls);
	v4l2_device_unregister(&vcap->v4l2_dev);
	mutex_destroy(&vcap->lock);
	kfree(vcap);
}

static void vcap_queue_init(struct vcap_dev *vcap)
{
	struct vb2_queue *q = &vcap->queue;

	q->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	q->io_modes = VB2_MMAP | VB2_DMABUF | VB2_READ;
	/* dma-contig cannot take user memory, which is almost never contiguous */
	if (vcap_mem_ops != &vb2_dma_contig_memops)
		q->io_modes |= VB2_USERPTR;
	q->drv_priv = vcap;
	q->buf_struct_size = sizeof(struct vcap_buffer);
	q->ops = &vcap_qops;
	q->mem_ops = vcap_mem_ops;
	q->timestamp_flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_EOF;
	q->lock = &vcap->lock;
	q->dev = vcap->dev;
	/* the CPU writes what vb2-dma-sg syncs for it: see vcap_flush_mapping() */
	q->bidirectional = vcap_mem_ops == &vb2_dma_sg_memops;
	/*
	 * vb2-dma-contig asks the page allocator for each frame in one piece:
	 * without CMA a frame above its largest block (4 MiB) cannot be had,
	 * and REQBUFS failing with ENOMEM says so; no warning splat for it.
	 */
	q->gfp_flags = __GFP_NOWARN;
}

static int vcap_probe(struct platform_device *pdev)
{
	struct video_device *vdev;
	struct vcap_dev *vcap;
	int ret;

	/* no DMA engine: the device reaches all memory, so vb2-dma-* never bounce */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "cannot set the DMA mask\n");

	vcap = kzalloc(sizeof(*vcap), GFP_KERNEL);
	if (!vcap)
		return -ENOMEM;
	vcap->dev = &pdev->dev;
	mutex_init(&vcap->lock);
	spin_lock_init(&vcap->slock);
	INIT_LIST_HEAD(&vcap->queued);
	vcap->timeperframe = (struct v4l2_fract){ 1, fps };
	vcap->pix.pixelformat = vcap_default_fourcc;
	vcap->pix.width = width;
	vcap->pix.height = height;
	vcap_try_pix(&vcap->pix, &vcap->geo);
	snprintf(vcap->v4l2_dev.name, sizeof(vcap->v4l2_dev.name), "%s-%d", VCAP_NAME, pdev->id);

	ret = v4l2_device_register(&pdev->dev, &vcap->v4l2_dev);
	if (ret)
		goto err_free;
	ret = vcap_ctrls_init(vcap);
	if (ret)
		goto err_unregister_v4l2;
	vcap_queue_init(vcap);
	ret = vb2_queue_init(&vcap->queue);
	if (ret)
		goto err_free_ctrls;

	vdev = &vcap->vdev;
	strscpy(vdev->name, vcap->v4l2_dev.name, sizeof(vdev->name));
	vdev->fops = &vcap_fops;
	vdev->ioctl_ops = &vcap_ioctl_ops;
	vdev->release = video_device_release_empty;
	vdev->v4l2_dev = &vcap->v4l2_dev;
	vdev->queue = &vcap->queue;
	vdev->lock = &vcap->lock;
	vdev->vfl_dir = VFL_DIR_RX;
	vdev->device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_READWRITE;
	video_set_drvdata(vdev, vcap);

	ret = video_register_device(vdev, VFL_TYPE_VIDEO, -1);
	if (ret)
		goto err_free_ctrls;
	/*
	 * From here on the v4l2_device refcount owns @vcap: remove() drops the
	 * reference probe() took, the node's users theirs, and the last one
	 * frees everything in vcap_release().
	 */
	vcap->v4l2_dev.release = vcap_release;

	v4l2_info(&vcap->v4l2_dev, "%s: %ux%u %p4cc at %u/%u s, %s memory\n",
		  video_device_node_name(vdev), vcap->pix.width, vcap->pix.height,
		  &vcap->pix.pixelformat, vcap->timeperframe.numerator,
		  vcap->timeperframe.denominator, mem_ops);
	return 0;

err_free_ctrls:
	v4l2_ctrl_handler_free(&vcap->ctrls);
err_unregister_v4l2:
	v4l2_device_unregister(&vcap->v4l2_dev);
err_free:
	mutex_destroy(&vcap->lock);
	kfree(vcap);
	return ret;
}

static void vcap_remove(struct platform_device *pdev)
{
	struct vcap_dev *vcap = to_vcap(platform_get_drvdata(pdev));

	v4l2_info(&vcap->v4l2_dev, "unregistering %s\n", video_device_node_name(&vcap->vdev));
	/* stops streaming and frees the buffers, even with the node still open */
	vb2_video_unregister_device(&vcap->vdev);
	v4l2_device_put(&vcap->v4l2_dev);
}

#if !VCAP_KERNEL_GE(6, 11, 0)
static int vcap_remove_compat(struct platform_device *pdev)
{
	vcap_remove(pdev);
	return 0;
}
#endif

static struct platform_driver vcap_driver = {
	.probe	= vcap_probe,
#if !VCAP_KERNEL_GE(6, 11, 0)
	.remove	= vcap_remove_compat,
#else
	.remove	= vcap_remove,
#endif
	.driver	= {
		.name		= VCAP_NAME,
		/* module_init reports a failed probe, so it must have happened */
		.probe_type	= PROBE_FORCE_SYNCHRONOUS,
	},
};

/* ---- module ---------------------------------------------------------------- */

static int __init vcap_check_params(void)
{
	u32 w = width, h = height, bpl = 0;
	const struct vcap_format *fmt;
	struct vcap_geometry geo;
	char code[4];
	size_t len;

	if (sysfs_streq(mem_ops, "vmalloc")) {
		vcap_mem_ops = &vb2_vmalloc_memops;
	} else if (sysfs_streq(mem_ops, "dma-sg")) {
		vcap_mem_ops = &vb2_dma_sg_memops;
	} else if (sysfs_streq(mem_ops, "dma-contig")) {
		vcap_mem_ops = &vb2_dma_contig_memops;
	} else {
		pr_err("mem_ops=%s: want vmalloc, dma-sg or dma-contig\n", mem_ops);
		return -EINVAL;
	}
	if (n_devs < 1 || n_devs > VCAP_MAX_DEVS) {
		pr_err("n_devs=%u: want 1 to %u\n", n_devs, VCAP_MAX_DEVS);
		return -EINVAL;
	}
	if (fps < VCAP_MIN_FPS || fps > VCAP_MAX_FPS) {
		pr_err("fps=%u: want %u to %u\n", fps, VCAP_MIN_FPS, VCAP_MAX_FPS);
		return -EINVAL;
	}
	len = fourcc ? strlen(fourcc) : 0;
	if (len < 1 || len > sizeof(code)) {
		pr_err("fourcc=%s: want a V4L2 four-character code\n", fourcc ?: "");
		return -EINVAL;
	}
	/* codes shorter than four characters are padded with spaces ("Y16 ") */
	memset(code, ' ', sizeof(code));
	memcpy(code, fourcc, len);
	vcap_default_fourcc = v4l2_fourcc(code[0], code[1], code[2], code[3]);
	fmt = vcap_format_find(vcap_default_fourcc);
	if (!fmt) {
		pr_err("fourcc=%s: not a supported pixel format\n", fourcc);
		return -EINVAL;
	}
	vcap_geometry_init(fmt, &w, &h, &bpl, &geo);
	if (w != width || h != height) {
		pr_err("%ux%u: not a valid %s frame size (nearest %ux%u)\n",
		       width, height, fourcc, w, h);
		return -EINVAL;
	}
	return 0;
}

static int __init vcap_init(void)
{
	unsigned int i;
	int ret;

	ret = vcap_check_params();
	if (ret)
		return ret;
	vcap_pattern_init();

	ret = platform_driver_register(&vcap_driver);
	if (ret)
		return ret;
	for (i = 0; i < n_devs; i++) {
		struct platform_device *pdev;

		pdev = platform_device_register_simple(VCAP_NAME, i, NULL, 0);
		if (IS_ERR(pdev)) {
			ret = PTR_ERR(pdev);
			goto err_unregister_devices;
		}
		vcap_pdevs[i] = pdev;
		if (!platform_get_drvdata(pdev)) {
			pr_err("%s: probe failed\n", dev_name(&pdev->dev));
			ret = -ENODEV;
			i++;
			goto err_unregister_devices;
		}
	}
	return 0;

err_unregister_devices:
	while (i--) {
		platform_device_unregister(vcap_pdevs[i]);
		vcap_pdevs[i] = NULL;
	}
	platform_driver_unregister(&vcap_driver);
	return ret;
}

static void __exit vcap_exit(void)
{
	unsigned int i = n_devs;

	while (i--)
		platform_device_unregister(vcap_pdevs[i]);
	platform_driver_unregister(&vcap_driver);
}

module_init(vcap_init);
module_exit(vcap_exit);

MODULE_DESCRIPTION("dmapipe virtual V4L2 capture device drawing a verifiable test pattern");
MODULE_AUTHOR("The dmapipe authors");
MODULE_LICENSE("GPL");
#if VCAP_KERNEL_GE(6, 13, 0)
MODULE_IMPORT_NS("DMA_BUF");
#else
MODULE_IMPORT_NS(DMA_BUF);
#endif
