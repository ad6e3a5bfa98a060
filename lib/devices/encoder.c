/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * V4L2 stateful encoders as consumers (include/dmapipe/encoder.h): opening
 * the device, its controls, the encoder's life cycle and what it reports.
 *
 * Sequence (the stateful encoder interface of the V4L2 spec): the coded
 * format on CAPTURE first, then the raw format on OUTPUT, whose size sets
 * the CAPTURE buffer size; then both queues are filled and started. The
 * raw format and the import/copy decision are in encoder-layout.c, the
 * queues and submitting in encoder-queue.c, the bitstream side in
 * encoder-packets.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "encoder-private.h"

DMAPIPE_EXPORT const char *dmapipe_encoder_io_to_string(enum dmapipe_encoder_io io)
{
	switch (io) {
	case DMAPIPE_ENCODER_IO_AUTO:
		return "auto";
	case DMAPIPE_ENCODER_IO_IMPORT:
		return "import";
	case DMAPIPE_ENCODER_IO_COPY:
		return "copy";
	}
	return "?";
}

DMAPIPE_EXPORT void dmapipe_encoder_options_init(struct dmapipe_encoder_options *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->codec = V4L2_PIX_FMT_FWHT;
	o->io = DMAPIPE_ENCODER_IO_AUTO;
	o->profile = -1;
	o->level = -1;
	o->max_in_flight = DEFAULT_IN_FLIGHT;
	o->capture_buffers = DEFAULT_CAPTURE_BUFFERS;
}

/*
 * The first stateful encoder whose CAPTURE queue offers @codec, through
 * device discovery. Returns 0 with the node in @path, or -ENOENT.
 */
static int find_encoder(uint32_t codec, char *path, size_t len)
{
	struct dmapipe_device_list *list = dmapipe_device_list_new(0);
	const struct dmapipe_device *dev;
	int ret = -ENOENT;

	if (!list)
		return -errno;
	dev = dmapipe_device_list_find_v4l2(list, DMAPIPE_V4L2_ENCODER, codec, false);
	if (dev) {
		dmapipe_strlcpy(path, dev->path, len);
		ret = 0;
	}
	dmapipe_device_list_free(list);
	return ret;
}

static int set_ctrl(struct dmapipe_encoder *e, uint32_t id, int32_t value, bool required)
{
	struct v4l2_queryctrl q;
	struct v4l2_ext_control c;
	struct v4l2_ext_controls cs;
	int ret;

	memset(&q, 0, sizeof(q));
	q.id = id;
	if (dmapipe_v4l2_ioctl(&e->node, VIDIOC_QUERYCTRL, &q) < 0 || (q.flags & V4L2_CTRL_FLAG_DISABLED)) {
		if (required)
			log_error("encoder: %s has no control 0x%08x", e->info.path, id);
		else
			log_info("encoder: %s has no control 0x%08x (%s): left alone", e->info.path,
				 id, (const char *)q.name);
		return -ENOTSUP;
	}
	memset(&c, 0, sizeof(c));
	memset(&cs, 0, sizeof(cs));
	c.id = id;
	c.value = value;
	cs.which = V4L2_CTRL_WHICH_CUR_VAL;
	cs.count = 1;
	cs.controls = &c;
	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_S_EXT_CTRLS, &cs);
	if (ret < 0)
		log_error("encoder: %s: control %s = %d: %s", e->info.path, (const char *)q.name,
			  value, strerror(-ret));
	return ret;
}

static int apply_controls(struct dmapipe_encoder *e)
{
	const struct dmapipe_encoder_options *o = &e->opt;
	uint32_t profile_cid = 0, level_cid = 0;
	int ret;

	switch (o->codec) {
	case V4L2_PIX_FMT_H264:
		profile_cid = V4L2_CID_MPEG_VIDEO_H264_PROFILE;
		level_cid = V4L2_CID_MPEG_VIDEO_H264_LEVEL;
		break;
	case V4L2_PIX_FMT_HEVC:
		profile_cid = V4L2_CID_MPEG_VIDEO_HEVC_PROFILE;
		level_cid = V4L2_CID_MPEG_VIDEO_HEVC_LEVEL;
		break;
	case V4L2_PIX_FMT_VP8:
		profile_cid = V4L2_CID_MPEG_VIDEO_VP8_PROFILE;
		break;
	case V4L2_PIX_FMT_VP9:
		profile_cid = V4L2_CID_MPEG_VIDEO_VP9_PROFILE;
		level_cid = V4L2_CID_MPEG_VIDEO_VP9_LEVEL;
		break;
	case V4L2_PIX_FMT_MPEG4:
		profile_cid = V4L2_CID_MPEG_VIDEO_MPEG4_PROFILE;
		level_cid = V4L2_CID_MPEG_VIDEO_MPEG4_LEVEL;
		break;
	}
	/* the common ones where the device offers them; asked-for ones it
	 * has not are logged, not fatal: a generic caller cannot know */
	if (o->bitrate)
		(void)set_ctrl(e, V4L2_CID_MPEG_VIDEO_BITRATE, (int32_t)MIN(o->bitrate, INT32_MAX),
			       false);
	if (o->gop)
		(void)set_ctrl(e, V4L2_CID_MPEG_VIDEO_GOP_SIZE, (int32_t)MIN(o->gop, INT32_MAX),
			       false);
	if (o->profile >= 0) {
		if (profile_cid)
			(void)set_ctrl(e, profile_cid, o->profile, false);
		else
			log_warn("encoder: this codec has no profile control: profile ignored");
	}
	if (o->level >= 0) {
		if (level_cid)
			(void)set_ctrl(e, level_cid, o->level, false);
		else
			log_warn("encoder: this codec has no level control: level ignored");
	}
	for (uint32_t i = 0; i < o->n_controls; i++) {
		ret = set_ctrl(e, o->controls[i].id, o->controls[i].value, true);
		if (ret < 0)
			return ret == -ENOTSUP ? -ENOTSUP : -EINVAL;
	}
	return 0;
}

static int open_encoder(struct dmapipe_encoder *e, const char *device)
{
	struct v4l2_capability cap;
	struct v4l2_format fmt;
	uint32_t caps, qcaps;
	char v[16];
	int ret;

	if (!device) {
		ret = find_encoder(e->opt.codec, e->info.path, sizeof(e->info.path));
		if (ret < 0) {
			log_error("encoder: no stateful encoder offers %s (see dmapipe info)",
				  dmapipe_v4l2_fcc(e->opt.codec, v));
			return ret;
		}
	} else {
		dmapipe_strlcpy(e->info.path, device, sizeof(e->info.path));
	}
	e->node.fd = open(e->info.path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (e->node.fd < 0) {
		ret = -errno;
		log_error("encoder: cannot open %s: %s", e->info.path, strerror(-ret));
		return ret;
	}
	ret = dmapipe_v4l2_querycap(e->node.fd, &cap, &caps);
	if (ret < 0) {
		log_error("encoder: %s is not a V4L2 device (VIDIOC_QUERYCAP: %s)", e->info.path,
			  strerror(-ret));
		return ret == -ENODEV ? -ENODEV : -ENOTTY;
	}
	dmapipe_strlcpy(e->info.driver, (const char *)cap.driver, sizeof(e->info.driver));
	dmapipe_strlcpy(e->info.card, (const char *)cap.card, sizeof(e->info.card));
	if (!(caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE)) ||
	    !(caps & V4L2_CAP_STREAMING)) {
		log_error("encoder: %s (%s) is not a memory-to-memory device", e->info.path,
			  e->info.card);
		return -ENODEV;
	}
	e->info.multiplanar = (caps & V4L2_CAP_VIDEO_M2M_MPLANE) != 0;
	e->out_type = e->info.multiplanar ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE :
					     V4L2_BUF_TYPE_VIDEO_OUTPUT;
	e->cap_type = e->info.multiplanar ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE :
					     V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (!dmapipe_v4l2_offers(&e->node, e->cap_type, e->opt.codec)) {
		log_error("encoder: %s (%s) does not encode to %s", e->info.path, e->info.card,
			  dmapipe_v4l2_fcc(e->opt.codec, v));
		return device ? -EINVAL : -ENODEV;
	}
	/* the coded format first: it decides what the raw side offers */
	memset(&fmt, 0, sizeof(fmt));
	fmt.type = e->cap_type;
	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_G_FMT, &fmt);
	if (ret == 0) {
		/* only the format: the rest (sizeimage) stays the driver's */
		if (e->info.multiplanar)
			fmt.fmt.pix_mp.pixelformat = e->opt.codec;
		else
			fmt.fmt.pix.pixelformat = e->opt.codec;
		ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_S_FMT, &fmt);
	}
	if (ret < 0) {
		log_error("encoder: %s: setting the coded format %s: %s", e->info.path,
			  dmapipe_v4l2_fcc(e->opt.codec, v), strerror(-ret));
		return ret;
	}
	e->info.codec = e->opt.codec;

	if (dmapipe_v4l2_queue_caps(&e->node, e->out_type, &qcaps) == 0)
		e->info.can_import = (qcaps & V4L2_BUF_CAP_SUPPORTS_DMABUF) != 0;
	return apply_controls(e);
}

DMAPIPE_EXPORT struct dmapipe_encoder *
dmapipe_encoder_new(const struct dmapipe_encoder_options *options)
{
	struct dmapipe_encoder_options o;
	struct dmapipe_encoder *e;
	struct epoll_event ev;
	int ret;

	/* a caller built against older headers passes a smaller struct */
	dmapipe_encoder_options_init(&o);
	ret = dmapipe_options_copy(&o, sizeof(o), options, sizeof(uint32_t));
	if (ret == 0 && (o.io > DMAPIPE_ENCODER_IO_COPY || o.n_controls > DMAPIPE_ENCODER_MAX_CONTROLS ||
			 o.max_in_flight > MAX_SLOTS || o.capture_buffers > VIDEO_MAX_FRAME || !o.codec))
		ret = -EINVAL;
	if (ret < 0) {
		log_error("encoder: invalid options%s",
			  ret == -E2BIG ? ": fields this library does not know are set" : "");
		errno = -ret;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->node.fd = e->epfd = e->evfd = -1;
	e->node.libv4l2 = false;
	e->cb_slot = -1;
	e->opt = o;
	if (!e->opt.max_in_flight)
		e->opt.max_in_flight = DEFAULT_IN_FLIGHT;
	if (!e->opt.capture_buffers)
		e->opt.capture_buffers = DEFAULT_CAPTURE_BUFFERS;
	e->opt.device = NULL; /* not kept: the caller owns the string */
	e->next_cookie = 1;

	ret = open_encoder(e, o.device);
	if (ret < 0)
		goto fail;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->epfd < 0 || e->evfd < 0) {
		ret = -errno;
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = 1;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->evfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	log_info("encoder: %s (%s, %s): encodes %s, %s API, OUTPUT queue %s dma-bufs",
		 e->info.path, e->info.card, e->info.driver,
		 dmapipe_v4l2_fcc(e->info.codec, (char[16]){ 0 }),
		 e->info.multiplanar ? "multi-planar" : "single-planar",
		 e->info.can_import ? "imports" : "cannot import");
	return e;

fail:
	dmapipe_close(e->node.fd);
	dmapipe_close(e->epfd);
	dmapipe_close(e->evfd);
	free(e);
	errno = -ret;
	return NULL;
}

DMAPIPE_EXPORT void dmapipe_encoder_free(struct dmapipe_encoder *e)
{
	if (!e)
		return;
	encoder_teardown(e);
	if (e->n_pending)
		encoder_run_pending(e);
	free(e->pending);
	dmapipe_close(e->node.fd);
	dmapipe_close(e->epfd);
	dmapipe_close(e->evfd);
	free(e);
}

DMAPIPE_EXPORT int dmapipe_encoder_request_keyframe(struct dmapipe_encoder *e)
{
	return set_ctrl(e, V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME, 1, false);
}

DMAPIPE_EXPORT int dmapipe_encoder_set_control(struct dmapipe_encoder *e, uint32_t id, int32_t value)
{
	return set_ctrl(e, id, value, true);
}

DMAPIPE_EXPORT void dmapipe_encoder_get_info(const struct dmapipe_encoder *e,
					     struct dmapipe_encoder_info *info)
{
	*info = e->info;
}

DMAPIPE_EXPORT void dmapipe_encoder_get_stats(const struct dmapipe_encoder *e,
					      struct dmapipe_encoder_stats *stats)
{
	*stats = e->stats;
	stats->slots = e->n_out;
}
