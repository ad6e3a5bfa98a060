/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * V4L2 stateful encoders as consumers (include/dmapipe/encoder.h).
 *
 * Sequence (the stateful encoder interface of the V4L2 spec): the coded
 * format on CAPTURE first, then the raw format on OUTPUT, whose size sets
 * the CAPTURE buffer size; then both queues are filled and started.
 *
 * OUTPUT slots in import mode: each distinct dmapipe buffer gets its own
 * V4L2 index (REQBUFS for the first ones, CREATE_BUFS as more appear), so
 * videobuf2 keeps its attachment and mapping of the dma-buf from one frame
 * to the next; a slot is recognised by the buffer's address and its first
 * object's inode (dma-bufs have unique inodes), so a freed and reallocated
 * buffer at the same address is not mistaken for the old one. Beyond
 * MAX_SLOTS buffers the least recently used idle slot is re-pointed
 * (counted as a re-import).
 *
 * The V4L2 timestamp carries a cookie from OUTPUT to CAPTURE (the m2m
 * framework copies it); the cookie finds the frame's sequence and capture
 * time in a small ring.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "private.h"
#include "devices-private.h"
#include "v4l2-util.h"
#include "dmapipe/device.h"
#include "dmapipe/encoder.h"

#define MAX_SLOTS 32
#define META_RING 128
#define DEFAULT_IN_FLIGHT 4
#define DEFAULT_CAPTURE_BUFFERS 4
#define DRAIN_TIMEOUT_MS 10000

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

/* ---- the import decision ------------------------------------------------- */

int dmapipe_encoder_layout_compatible(const struct dmapipe_layout *have, enum dmapipe_mem_kind kind,
				      const struct dmapipe_layout *want, char *why, size_t len)
{
	char a[16], b[16];

	if (kind != DMAPIPE_MEM_DMABUF) {
		snprintf(why, len, "the frames are in %s, which a device cannot import",
			 dmapipe_mem_kind_to_string(kind));
		return -EXDEV;
	}
	if (have->format.fourcc != want->format.fourcc ||
	    have->format.width != want->format.width ||
	    have->format.height != want->format.height) {
		snprintf(why, len, "the frames are %s %ux%u, the encoder takes %s %ux%u",
			 dmapipe_fourcc_to_string(have->format.fourcc, a, sizeof(a)),
			 have->format.width, have->format.height,
			 dmapipe_fourcc_to_string(want->format.fourcc, b, sizeof(b)),
			 want->format.width, want->format.height);
		return -EXDEV;
	}
	if (have->format.modifier != DMAPIPE_MOD_LINEAR) {
		snprintf(why, len, "the frames have modifier 0x%llx, the encoder takes linear frames",
			 (unsigned long long)have->format.modifier);
		return -EXDEV;
	}
	if (have->n_planes != want->n_planes) {
		snprintf(why, len, "the frames have %u planes, the encoder %u", have->n_planes,
			 want->n_planes);
		return -EXDEV;
	}
	if (want->n_objects == 1 && have->n_objects != 1) {
		snprintf(why, len, "the frames' planes are in %u buffers, the encoder's format "
			 "wants them in one", have->n_objects);
		return -EXDEV;
	}
	if (want->n_objects > 1 && have->n_objects != want->n_objects) {
		snprintf(why, len, "the frames' planes are in %u buffers, the encoder wants one "
			 "per plane", have->n_objects);
		return -EXDEV;
	}
	for (unsigned int p = 0; p < want->n_planes; p++) {
		const struct dmapipe_plane *hp = &have->planes[p], *wp = &want->planes[p];

		if (hp->object != wp->object) {
			snprintf(why, len, "plane %u is in buffer %u, the encoder wants it in %u", p,
				 hp->object, wp->object);
			return -EXDEV;
		}
		if (hp->stride != wp->stride) {
			snprintf(why, len, "plane %u has stride %u, the encoder needs %u", p,
				 hp->stride, wp->stride);
			return -EXDEV;
		}
		if (hp->offset != wp->offset) {
			snprintf(why, len, "plane %u is at offset %llu, the encoder reads it at %llu", p,
				 (unsigned long long)hp->offset, (unsigned long long)wp->offset);
			return -EXDEV;
		}
	}
	for (unsigned int o = 0; o < want->n_objects; o++) {
		if (have->objects[o].size < want->objects[o].size) {
			snprintf(why, len, "buffer %u has %llu bytes, the encoder needs %llu", o,
				 (unsigned long long)have->objects[o].size,
				 (unsigned long long)want->objects[o].size);
			return -EXDEV;
		}
	}
	return 0;
}

/* ---- the encoder ------------------------------------------------------------- */

struct out_slot {
	struct dmapipe_buffer *key; /* import: the buffer last queued here (weak) */
	uint64_t ino;               /* and its first object's inode */
	struct dmapipe_buffer *held; /* reference while queued (import) */
	void *frame_data;
	bool queued;
	uint64_t last_use;
	void *map[VIDEO_MAX_PLANES]; /* copy mode: the driver's buffer */
	size_t map_len[VIDEO_MAX_PLANES];
};

struct cap_slot {
	void *map;
	size_t len;
	/* options.export_packets: the exported bitstream buffer */
	struct dmapipe_buffer *buffer;
	/* out of the device until dmapipe_encoder_release_packet() */
	bool held;
};

struct meta_entry {
	uint64_t cookie;
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint32_t flags;
};

struct pending_done {
	void *frame_data;
	int status;
};

struct dmapipe_encoder {
	struct dmapipe_v4l2_node node; /* never through libv4l2: mem2mem needs no conversion */
	int epfd;
	int evfd;                 /* copy mode: done callbacks waiting */
	bool in_epoll;
	struct dmapipe_encoder_options opt;
	uint32_t out_type, cap_type;
	unsigned int n_vplanes;   /* V4L2 planes per OUTPUT buffer */
	uint32_t out_memory;
	bool streaming;
	bool finished;            /* finish() ran: no more submits */
	bool drained;             /* the LAST buffer came */
	struct dmapipe_layout have; /* the producer's layout the current setup is for */
	enum dmapipe_mem_kind have_kind;
	struct out_slot out[MAX_SLOTS];
	unsigned int n_out;
	struct cap_slot cap[VIDEO_MAX_FRAME];
	unsigned int n_cap;
	int cb_slot;              /* the CAPTURE buffer whose packet is being given, or -1 */
	struct meta_entry ring[META_RING];
	uint64_t next_cookie;
	uint64_t use_clock;
	struct pending_done *pending;
	size_t n_pending, cap_pending;
	struct dmapipe_encoder_info info;
	struct dmapipe_encoder_stats stats;
};

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

/* ---- formats ---------------------------------------------------------------- */

/*
 * Fills @fmt for the OUTPUT queue from @layout (strides from it when
 * @strides, else 0: the driver's choice) and runs TRY_FMT or S_FMT.
 */
static int out_format(struct dmapipe_encoder *e, const struct dmapipe_layout *layout,
		      bool strides, bool set, struct v4l2_format *fmt)
{
	bool separate = layout->n_objects > 1;
	uint32_t pf = dmapipe_fourcc_to_v4l2(layout->format.fourcc, separate);
	uint32_t bpl[DMAPIPE_MAX_PLANES] = { 0 };
	struct dmapipe_v4l2_pix got;
	char a[16], b[16];

	if (!pf || (separate && !e->info.multiplanar)) {
		/* one buffer per plane may still be offered in the contiguous form */
		pf = dmapipe_fourcc_to_v4l2(layout->format.fourcc, false);
		if (!pf)
			return -ENOTSUP;
	}
	if (!dmapipe_v4l2_offers(&e->node, e->out_type, pf)) {
		uint32_t other = dmapipe_fourcc_to_v4l2(layout->format.fourcc, !separate);

		if (other && (!separate || e->info.multiplanar) &&
		    dmapipe_v4l2_offers(&e->node, e->out_type, other)) {
			pf = other;
		} else {
			char offered[384];

			dmapipe_v4l2_describe_formats(&e->node, e->out_type, offered, sizeof(offered));
			log_error("encoder: %s does not take %s frames; it takes %s", e->info.path,
				  dmapipe_fourcc_to_string(layout->format.fourcc, a, sizeof(a)),
				  offered[0] ? offered : "nothing");
			return -EINVAL;
		}
	}
	for (unsigned int p = 0; p < layout->n_planes && p < DMAPIPE_MAX_PLANES; p++)
		bpl[p] = layout->planes[p].stride;
	memset(fmt, 0, sizeof(*fmt));
	fmt->type = e->out_type;
	dmapipe_v4l2_format_write(fmt, pf, layout->format.width, layout->format.height,
				  strides ? bpl : NULL, layout->n_planes);
	dmapipe_v4l2_format_set_colorimetry(fmt, e->opt.colorspace, e->opt.xfer_func,
					    e->opt.ycbcr_enc, e->opt.quantization);
	int ret = dmapipe_v4l2_ioctl(&e->node, set ? VIDIOC_S_FMT : VIDIOC_TRY_FMT, fmt);

	if (ret < 0) {
		log_error("encoder: %s: %s on OUTPUT: %s", e->info.path,
			  set ? "VIDIOC_S_FMT" : "VIDIOC_TRY_FMT", strerror(-ret));
		return ret;
	}
	dmapipe_v4l2_format_read(fmt, &got);
	if (got.pixelformat != pf || got.width != layout->format.width ||
	    got.height != layout->format.height) {
		log_error("encoder: %s cannot encode %s %ux%u (it would take %s %ux%u)", e->info.path,
			  dmapipe_v4l2_fcc(pf, a), layout->format.width, layout->format.height,
			  dmapipe_v4l2_fcc(got.pixelformat, b), got.width, got.height);
		return -EINVAL;
	}
	return 0;
}

DMAPIPE_EXPORT int dmapipe_encoder_get_layout(struct dmapipe_encoder *e,
					      const struct dmapipe_format *format,
					      struct dmapipe_layout *layout)
{
	struct dmapipe_layout l;
	struct v4l2_format fmt;
	int ret;

	memset(&l, 0, sizeof(l));
	l.format = *format;
	l.n_objects = 1;
	if (!dmapipe_fourcc_is_supported(format->fourcc))
		return -ENOTSUP;
	ret = out_format(e, &l, false, false, &fmt);
	if (ret < 0)
		return ret;
	ret = dmapipe_v4l2_layout_from_format(&fmt, layout, NULL, 0);
	return ret == -EPROTO ? -EINVAL : ret;
}

DMAPIPE_EXPORT int dmapipe_encoder_check_layout(struct dmapipe_encoder *e,
						const struct dmapipe_layout *layout,
						enum dmapipe_mem_kind kind, char *why, size_t len)
{
	struct dmapipe_layout want;
	struct v4l2_format fmt;
	int ret;

	if (!e->info.can_import) {
		snprintf(why, len, "the encoder cannot import dma-bufs "
			 "(no V4L2_BUF_CAP_SUPPORTS_DMABUF)");
		return -EXDEV;
	}
	ret = out_format(e, layout, true, false, &fmt);
	if (ret < 0) {
		snprintf(why, len, "the encoder does not take this format");
		return ret;
	}
	ret = dmapipe_v4l2_layout_from_format(&fmt, &want, NULL, 0);
	if (ret < 0) {
		snprintf(why, len, "the encoder's format has no layout dmapipe knows");
		return -EXDEV;
	}
	return dmapipe_encoder_layout_compatible(layout, kind, &want, why, len);
}

/* ---- setting up and tearing down the queues ---------------------------------- */

static void push_done(struct dmapipe_encoder *e, void *frame_data, int status)
{
	uint64_t one = 1;

	if (e->n_pending == e->cap_pending) {
		size_t n = e->cap_pending ? e->cap_pending * 2 : 16;
		struct pending_done *p = realloc(e->pending, n * sizeof(*p));

		if (!p) {
			/* no room to defer it: tell now rather than lose a lease */
			if (e->opt.done)
				e->opt.done(e, frame_data, status, e->opt.user_data);
			return;
		}
		e->pending = p;
		e->cap_pending = n;
	}
	e->pending[e->n_pending].frame_data = frame_data;
	e->pending[e->n_pending].status = status;
	e->n_pending++;
	if (write(e->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("encoder: eventfd write: %s", strerror(errno));
}

static void frame_done(struct dmapipe_encoder *e, void *frame_data, int status)
{
	if (status == 0)
		e->stats.frames_done++;
	else
		e->stats.frames_failed++;
	if (e->opt.done)
		e->opt.done(e, frame_data, status, e->opt.user_data);
}

static int run_pending(struct dmapipe_encoder *e)
{
	size_t n = e->n_pending;
	uint64_t v;

	if (read(e->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("encoder: eventfd read: %s", strerror(errno));
	/* the callback may submit again, which may push more: take the batch first */
	for (size_t i = 0; i < n && i < e->n_pending; i++)
		frame_done(e, e->pending[i].frame_data, e->pending[i].status);
	if (n >= e->n_pending) {
		e->n_pending = 0;
	} else {
		memmove(e->pending, e->pending + n, (e->n_pending - n) * sizeof(*e->pending));
		e->n_pending -= n;
	}
	return (int)n;
}

static void unmap_out(struct out_slot *s)
{
	for (unsigned int p = 0; p < VIDEO_MAX_PLANES; p++) {
		if (s->map[p])
			munmap(s->map[p], s->map_len[p]);
		s->map[p] = NULL;
	}
}

/* Stops both queues and frees every buffer; frames still in the device are cancelled. */
static void teardown(struct dmapipe_encoder *e)
{
	if (e->in_epoll) {
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->node.fd, NULL);
		e->in_epoll = false;
	}
	if (e->streaming) {
		(void)dmapipe_v4l2_stream(&e->node, e->out_type, false);
		(void)dmapipe_v4l2_stream(&e->node, e->cap_type, false);
		e->streaming = false;
	}
	for (unsigned int i = 0; i < e->n_out; i++) {
		struct out_slot *s = &e->out[i];

		if (s->queued) {
			s->queued = false;
			/* copied frames were done when they were copied */
			if (s->held)
				frame_done(e, s->frame_data, -ECANCELED);
			dmapipe_buffer_unref(s->held);
			s->held = NULL;
		}
		unmap_out(s);
		memset(s, 0, sizeof(*s));
	}
	for (unsigned int i = 0; i < e->n_cap; i++) {
		if (e->cap[i].map)
			munmap(e->cap[i].map, e->cap[i].len);
		e->cap[i].map = NULL;
		/* a held buffer lives on with its holder's reference (vb2 orphans it) */
		dmapipe_buffer_unref(e->cap[i].buffer);
		e->cap[i].buffer = NULL;
		e->cap[i].held = false;
	}
	if (e->n_out)
		(void)dmapipe_v4l2_request(&e->node, e->out_type, e->out_memory, 0);
	if (e->n_cap)
		(void)dmapipe_v4l2_request(&e->node, e->cap_type, V4L2_MEMORY_MMAP, 0);
	e->n_out = e->n_cap = 0;
	e->stats.in_flight = 0;
	e->drained = false;
	e->info.configured = false;
}

static int qbuf_cap(struct dmapipe_encoder *e, unsigned int i)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer b;

	dmapipe_v4l2_buffer_init(&b, planes, e->cap_type, V4L2_MEMORY_MMAP, i, 1);
	return dmapipe_v4l2_ioctl(&e->node, VIDIOC_QBUF, &b);
}

/*
 * options.export_packets: bitstream buffer @i as a dmapipe buffer of the
 * coded fourcc (one plane at offset 0; the light layout check of unknown
 * fourccs applies), the size of the raw frames it encodes.
 */
static int export_capture(struct dmapipe_encoder *e, unsigned int i)
{
	struct dmapipe_layout l;
	int fd, ret;

	fd = dmapipe_v4l2_export(&e->node, e->cap_type, i, 0, O_CLOEXEC | O_RDONLY);
	if (fd < 0) {
		log_error("encoder: %s: VIDIOC_EXPBUF (CAPTURE %u): %s", e->info.path, i,
			  strerror(-fd));
		return fd;
	}
	memset(&l, 0, sizeof(l));
	l.format.fourcc = e->info.codec;
	l.format.width = e->have.format.width;
	l.format.height = e->have.format.height;
	l.format.modifier = DMAPIPE_MOD_LINEAR;
	l.n_planes = 1;
	l.n_objects = 1;
	for (unsigned int o = 0; o < DMAPIPE_MAX_OBJECTS; o++)
		l.objects[o].fd = -1;
	l.objects[0].fd = fd;
	l.objects[0].size = 0; /* the dma-buf's own size */
	/* takes the fd */
	e->cap[i].buffer = dmapipe_buffer_new_from_fds(&l);
	if (!e->cap[i].buffer) {
		ret = -errno;
		log_error("encoder: %s: exported bitstream buffer %u refused: %s", e->info.path, i,
			  strerror(-ret));
		return ret;
	}
	return 0;
}

static int setup_capture(struct dmapipe_encoder *e)
{
	struct dmapipe_v4l2_pix pix;
	struct v4l2_format fmt;
	int n, ret;

	memset(&fmt, 0, sizeof(fmt));
	fmt.type = e->cap_type;
	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_G_FMT, &fmt);
	if (ret < 0)
		return ret;
	dmapipe_v4l2_format_read(&fmt, &pix);
	e->info.capture_size = pix.sizeimage;
	n = dmapipe_v4l2_request(&e->node, e->cap_type, V4L2_MEMORY_MMAP, e->opt.capture_buffers);
	if (n < 0) {
		log_error("encoder: %s: VIDIOC_REQBUFS (CAPTURE, MMAP): %s", e->info.path,
			  strerror(-n));
		return n;
	}
	n = MIN(n, VIDEO_MAX_FRAME);
	for (int i = 0; i < n; i++) {
		void *map = NULL;
		size_t len = 0;

		e->n_cap = (unsigned int)i + 1;
		ret = dmapipe_v4l2_map_buffer(&e->node, e->cap_type, (unsigned int)i, 1, PROT_READ,
					      &map, &len);
		if (ret < 0) {
			log_error("encoder: %s: mapping bitstream buffer %d: %s", e->info.path, i,
				  strerror(-ret));
			return ret;
		}
		e->cap[i].map = map;
		e->cap[i].len = len;
		/* the driver may have grown sizeimage; what it gives is what counts */
		if (len < e->info.capture_size)
			e->info.capture_size = (uint32_t)len;
		if (e->opt.export_packets) {
			ret = export_capture(e, (unsigned int)i);
			if (ret < 0)
				return ret;
		}
		ret = qbuf_cap(e, (unsigned int)i);
		if (ret < 0) {
			log_error("encoder: %s: VIDIOC_QBUF (CAPTURE): %s", e->info.path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int setup_output(struct dmapipe_encoder *e, bool import)
{
	uint32_t memory = import ? V4L2_MEMORY_DMABUF : V4L2_MEMORY_MMAP;
	int n = dmapipe_v4l2_request(&e->node, e->out_type, memory, e->opt.max_in_flight);
	int ret;

	if (n < 0) {
		log_error("encoder: %s: VIDIOC_REQBUFS (OUTPUT, %s): %s", e->info.path,
			  import ? "DMABUF" : "MMAP", strerror(-n));
		return n;
	}
	e->out_memory = memory;
	e->n_out = (unsigned int)MIN(n, MAX_SLOTS);
	if (import)
		return 0;
	for (unsigned int i = 0; i < e->n_out; i++) {
		ret = dmapipe_v4l2_map_buffer(&e->node, e->out_type, i, e->n_vplanes,
					      PROT_READ | PROT_WRITE, e->out[i].map, e->out[i].map_len);
		if (ret < 0) {
			log_error("encoder: %s: mapping OUTPUT buffer %u: %s", e->info.path, i,
				  strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int start(struct dmapipe_encoder *e)
{
	struct epoll_event ev;
	int ret;

	ret = dmapipe_v4l2_stream(&e->node, e->out_type, true);
	if (ret == 0)
		ret = dmapipe_v4l2_stream(&e->node, e->cap_type, true);
	if (ret < 0) {
		log_error("encoder: %s: VIDIOC_STREAMON: %s", e->info.path, strerror(-ret));
		return ret;
	}
	e->streaming = true;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.u32 = 0;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->node.fd, &ev) < 0)
		return -errno;
	e->in_epoll = true;
	return 0;
}

/*
 * Sets the device up for frames of @have: the raw format, import or copy
 * for it (with the reason), the bitstream buffers, and starts it.
 */
static int configure(struct dmapipe_encoder *e, const struct dmapipe_layout *have,
		     enum dmapipe_mem_kind kind)
{
	struct v4l2_format fmt;
	struct dmapipe_v4l2_pix pix;
	struct dmapipe_layout want;
	char why[160] = "", name[16];
	bool import;
	int ret;

	ret = out_format(e, have, e->opt.io != DMAPIPE_ENCODER_IO_COPY, true, &fmt);
	if (ret < 0)
		return ret == -ENOTSUP ? -EINVAL : ret;
	ret = dmapipe_v4l2_layout_from_format(&fmt, &want, NULL, 0);
	if (ret < 0) {
		log_error("encoder: %s: its raw format has no layout dmapipe knows", e->info.path);
		return -EINVAL;
	}
	e->info.layout = want;
	dmapipe_v4l2_format_read(&fmt, &pix);
	e->info.pixelformat = pix.pixelformat;
	e->n_vplanes = MAX(pix.num_planes, 1);

	if (e->opt.io == DMAPIPE_ENCODER_IO_COPY) {
		import = false;
		snprintf(e->info.io_note, sizeof(e->info.io_note), "copy asked for");
	} else if (!e->info.can_import) {
		import = false;
		snprintf(why, sizeof(why), "the encoder cannot import dma-bufs "
			 "(no V4L2_BUF_CAP_SUPPORTS_DMABUF)");
	} else {
		import = dmapipe_encoder_layout_compatible(have, kind, &want, why, sizeof(why)) == 0;
		if (import)
			snprintf(e->info.io_note, sizeof(e->info.io_note),
				 "the frames' dma-bufs are imported (V4L2_MEMORY_DMABUF)");
	}
	if (!import && e->opt.io != DMAPIPE_ENCODER_IO_COPY) {
		if (e->opt.io == DMAPIPE_ENCODER_IO_IMPORT) {
			log_error("encoder: %s: cannot import these frames: %s", e->info.path, why);
			snprintf(e->info.io_note, sizeof(e->info.io_note), "import impossible: %s", why);
			return -EXDEV;
		}
		if (e->opt.strict || dmapipe_get_strict()) {
			log_error("encoder: %s: strict: refusing to copy frames into the encoder, "
				  "which cannot import them: %s", e->info.path, why);
			snprintf(e->info.io_note, sizeof(e->info.io_note),
				 "strict: copy refused; import impossible: %s", why);
			return -EPERM;
		}
		log_warn("encoder: %s: copying every frame into the encoder's buffers (counted): "
			 "import impossible: %s", e->info.path, why);
		snprintf(e->info.io_note, sizeof(e->info.io_note), "copy: import impossible: %s", why);
	}
	if (!import && e->opt.strict) {
		log_error("encoder: %s: strict: copy mode asked for, but copies are refused",
			  e->info.path);
		return -EPERM;
	}
	e->have = *have; /* export_capture() takes the size from it */
	ret = setup_capture(e);
	if (ret == 0)
		ret = setup_output(e, import);
	if (ret == 0)
		ret = start(e);
	if (ret < 0) {
		teardown(e);
		return ret;
	}
	e->info.io = import ? DMAPIPE_ENCODER_IO_IMPORT : DMAPIPE_ENCODER_IO_COPY;
	e->stats.io = e->info.io;
	e->info.configured = true;
	e->have = *have;
	e->have_kind = kind;
	log_info("encoder: %s: %s %ux%u, %s: %s; bitstream buffers of %u bytes", e->info.path,
		 dmapipe_fourcc_to_string(want.format.fourcc, name, sizeof(name)),
		 want.format.width, want.format.height,
		 dmapipe_encoder_io_to_string(e->info.io), e->info.io_note, e->info.capture_size);
	return 0;
}

/* ---- dequeueing --------------------------------------------------------------- */

static void cookie_to_tv(uint64_t cookie, struct timeval *tv)
{
	tv->tv_sec = (time_t)(cookie / 1000000u);
	tv->tv_usec = (suseconds_t)(cookie % 1000000u);
}

static int dq_output(struct dmapipe_encoder *e)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer b;
	struct out_slot *s;
	int ret;

	dmapipe_v4l2_buffer_init(&b, planes, e->out_type, e->out_memory, 0, VIDEO_MAX_PLANES);
	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_DQBUF, &b);
	if (ret < 0)
		return ret;
	if (b.index >= e->n_out || !e->out[b.index].queued) {
		log_error("encoder: %s returned OUTPUT buffer %u it does not hold", e->info.path,
			  b.index);
		return -EPROTO;
	}
	s = &e->out[b.index];
	s->queued = false;
	e->stats.in_flight--;
	dmapipe_buffer_unref(s->held);
	s->held = NULL;
	if (e->out_memory == V4L2_MEMORY_DMABUF)
		frame_done(e, s->frame_data, b.flags & V4L2_BUF_FLAG_ERROR ? -EIO : 0);
	return 1;
}

/*
 * vicodec does not flag its FWHT keyframes (V4L2_BUF_FLAG_KEYFRAME); the
 * frame header says it: big-endian flags at byte 20.
 */
static bool fwht_is_iframe(const struct dmapipe_encoder *e, const uint8_t *p, uint32_t len)
{
	uint32_t flags;

	if (e->info.codec != V4L2_PIX_FMT_FWHT || len < 44)
		return false;
	flags = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
	return (flags & V4L2_FWHT_FL_I_FRAME) != 0;
}

static int dq_capture(struct dmapipe_encoder *e)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct dmapipe_encoder_packet pkt;
	struct v4l2_buffer b;
	uint64_t cookie;
	uint32_t used;
	int ret;

	dmapipe_v4l2_buffer_init(&b, planes, e->cap_type, V4L2_MEMORY_MMAP, 0, VIDEO_MAX_PLANES);
	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_DQBUF, &b);
	if (ret == -EPIPE) {
		/* after the LAST buffer */
		e->drained = true;
		return -EAGAIN;
	}
	if (ret < 0)
		return ret;
	if (b.index >= e->n_cap) {
		log_error("encoder: %s returned unknown CAPTURE buffer %u", e->info.path, b.index);
		return -EPROTO;
	}
	used = e->info.multiplanar ? planes[0].bytesused : b.bytesused;
	if (e->info.multiplanar && planes[0].data_offset < used)
		used -= planes[0].data_offset;
	if (used > e->cap[b.index].len)
		used = (uint32_t)e->cap[b.index].len;
	if (used) {
		memset(&pkt, 0, sizeof(pkt));
		pkt.data = (const uint8_t *)e->cap[b.index].map +
			   (e->info.multiplanar ? planes[0].data_offset : 0);
		pkt.size = used;
		cookie = (uint64_t)b.timestamp.tv_sec * 1000000u + (uint64_t)b.timestamp.tv_usec;
		const struct meta_entry *m = &e->ring[cookie % META_RING];

		if (m->cookie == cookie && cookie) {
			pkt.sequence = m->sequence;
			pkt.timestamp_ns = m->timestamp_ns;
		} else {
			log_debug("encoder: %s: packet without a known frame (cookie %llu)",
				  e->info.path, (unsigned long long)cookie);
		}
		if ((b.flags & V4L2_BUF_FLAG_KEYFRAME) || fwht_is_iframe(e, pkt.data, used)) {
			pkt.flags |= DMAPIPE_FRAME_KEYFRAME;
			e->stats.keyframes++;
		}
		if (b.flags & V4L2_BUF_FLAG_ERROR)
			pkt.flags |= DMAPIPE_FRAME_CORRUPTED;
		pkt.index = e->stats.packets;
		pkt.buffer = e->cap[b.index].buffer;
		pkt.offset = e->info.multiplanar ? planes[0].data_offset : 0;
		e->stats.packets++;
		e->stats.bytes_out += used;
		e->cb_slot = (int)b.index;
		if (e->opt.packet)
			e->opt.packet(e, &pkt, e->opt.user_data);
		e->cb_slot = -1;
	}
	if (b.flags & V4L2_BUF_FLAG_LAST) {
		e->drained = true;
		return 1;
	}
	if (e->cap[b.index].held)
		return 1; /* requeued by dmapipe_encoder_release_packet() */
	ret = qbuf_cap(e, b.index);
	if (ret < 0) {
		log_error("encoder: %s: requeueing a bitstream buffer: %s", e->info.path,
			  strerror(-ret));
		return ret;
	}
	return 1;
}

DMAPIPE_EXPORT int dmapipe_encoder_hold_packet(struct dmapipe_encoder *e,
					      const struct dmapipe_encoder_packet *packet)
{
	if (!e || !packet || !packet->buffer || e->cb_slot < 0 ||
	    e->cap[e->cb_slot].buffer != packet->buffer)
		return -EINVAL;
	e->cap[e->cb_slot].held = true;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_encoder_release_packet(struct dmapipe_encoder *e,
						 struct dmapipe_buffer *buffer)
{
	int ret;

	if (!e || !buffer)
		return -EINVAL;
	for (unsigned int i = 0; i < e->n_cap; i++) {
		if (e->cap[i].buffer != buffer || !e->cap[i].held)
			continue;
		e->cap[i].held = false;
		if (e->cb_slot == (int)i || e->drained)
			return 0; /* dq_capture requeues it / the device is done */
		ret = qbuf_cap(e, i);
		if (ret < 0)
			log_error("encoder: %s: requeueing a bitstream buffer: %s", e->info.path,
				  strerror(-ret));
		return ret;
	}
	return -ENOENT;
}

/* Everything ready now; the number of events, or a negative errno. */
static int drain_ready(struct dmapipe_encoder *e)
{
	int n = 0, ret;

	if (e->n_pending)
		n += run_pending(e);
	if (!e->streaming)
		return n;
	while ((ret = dq_output(e)) > 0)
		n++;
	if (ret < 0 && ret != -EAGAIN)
		return ret;
	while (!e->drained && (ret = dq_capture(e)) > 0)
		n++;
	if (ret < 0 && ret != -EAGAIN)
		return ret;
	return n;
}

DMAPIPE_EXPORT int dmapipe_encoder_get_fd(const struct dmapipe_encoder *e)
{
	return e->epfd;
}

DMAPIPE_EXPORT int dmapipe_encoder_dispatch(struct dmapipe_encoder *e, int timeout_ms)
{
	struct epoll_event ev[2];
	int ret;

	ret = drain_ready(e);
	if (ret != 0 || timeout_ms == 0)
		return ret;
	ret = epoll_wait(e->epfd, ev, 2, timeout_ms);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	return drain_ready(e);
}

/* Stop command, then everything until the LAST buffer. */
static int drain(struct dmapipe_encoder *e, int timeout_ms)
{
	struct v4l2_encoder_cmd cmd;
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    dmapipe_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int ret;

	if (!e->streaming)
		return 0;
	memset(&cmd, 0, sizeof(cmd));
	cmd.cmd = V4L2_ENC_CMD_STOP;
	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_ENCODER_CMD, &cmd);
	if (ret < 0) {
		/* no stop command: wait for the frames in the device instead */
		log_info("encoder: %s: VIDIOC_ENCODER_CMD stop: %s", e->info.path, strerror(-ret));
	}
	while (ret == 0 ? !e->drained : e->stats.in_flight > 0) {
		uint64_t now = dmapipe_now_ns();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = dmapipe_encoder_dispatch(e, deadline == UINT64_MAX ? 200 :
					     (int)MIN((deadline - now) / 1000000u + 1, 200u));
		if (r < 0)
			return r;
	}
	/* the device may still hold the last frames' OUTPUT buffers */
	(void)drain_ready(e);
	return 0;
}

DMAPIPE_EXPORT int dmapipe_encoder_finish(struct dmapipe_encoder *e, int timeout_ms)
{
	int ret = 0;

	if (e->finished)
		return 0;
	e->finished = true;
	if (e->streaming) {
		ret = drain(e, timeout_ms);
		if (ret == -ETIMEDOUT)
			log_warn("encoder: %s did not drain in %d ms", e->info.path, timeout_ms);
	}
	(void)drain_ready(e);
	teardown(e);
	if (e->n_pending)
		run_pending(e);
	return ret;
}

DMAPIPE_EXPORT void dmapipe_encoder_free(struct dmapipe_encoder *e)
{
	if (!e)
		return;
	teardown(e);
	if (e->n_pending)
		run_pending(e);
	free(e->pending);
	dmapipe_close(e->node.fd);
	dmapipe_close(e->epfd);
	dmapipe_close(e->evfd);
	free(e);
}

/* ---- submitting ----------------------------------------------------------------- */

static bool same_layout(const struct dmapipe_layout *a, const struct dmapipe_layout *b)
{
	if (memcmp(&a->format, &b->format, sizeof(a->format)) || a->n_objects != b->n_objects ||
	    a->n_planes != b->n_planes)
		return false;
	for (unsigned int p = 0; p < a->n_planes; p++)
		if (a->planes[p].object != b->planes[p].object ||
		    a->planes[p].stride != b->planes[p].stride ||
		    a->planes[p].offset != b->planes[p].offset)
			return false;
	for (unsigned int o = 0; o < a->n_objects; o++)
		if (a->objects[o].size != b->objects[o].size)
			return false;
	return true;
}

static uint64_t object_ino(const struct dmapipe_layout *l)
{
	struct stat st;

	if (l->n_objects == 0 || fstat(l->objects[0].fd, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

static int create_slot(struct dmapipe_encoder *e)
{
	int index;

	if (e->n_out >= MAX_SLOTS)
		return -ENOSPC;
	index = dmapipe_v4l2_create_buffer(&e->node, e->out_type, V4L2_MEMORY_DMABUF);
	if (index < 0)
		return index;
	if ((unsigned int)index != e->n_out)
		return -EPROTO;
	memset(&e->out[e->n_out], 0, sizeof(e->out[0]));
	return (int)e->n_out++;
}

/* The OUTPUT index for @buffer in import mode, or a negative errno. */
static int import_slot(struct dmapipe_encoder *e, struct dmapipe_buffer *buffer, uint64_t ino)
{
	int unused = -1, lru = -1;

	for (unsigned int i = 0; i < e->n_out; i++) {
		struct out_slot *s = &e->out[i];

		if (s->key == buffer && s->ino == ino)
			return s->queued ? -EBUSY : (int)i;
		if (s->queued)
			continue;
		if (!s->key && unused < 0)
			unused = (int)i;
		if (s->key && (lru < 0 || s->last_use < e->out[lru].last_use))
			lru = (int)i;
	}
	if (unused >= 0) {
		e->stats.imports++;
		return unused;
	}
	int n = create_slot(e);

	if (n >= 0) {
		e->stats.imports++;
		return n;
	}
	if (lru >= 0) {
		e->stats.imports++;
		e->stats.reimports++;
		return lru;
	}
	return -EAGAIN;
}

static int submit_import(struct dmapipe_encoder *e, struct dmapipe_buffer *buffer,
			 struct v4l2_buffer *b, struct v4l2_plane *planes)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buffer);
	const struct dmapipe_layout *want = &e->info.layout;
	uint64_t ino = object_ino(l);
	int i = import_slot(e, buffer, ino);

	if (i < 0)
		return i;
	b->index = (uint32_t)i;
	b->memory = V4L2_MEMORY_DMABUF;
	if (e->info.multiplanar) {
		for (unsigned int p = 0; p < e->n_vplanes; p++) {
			planes[p].m.fd = l->objects[p].fd;
			planes[p].length = (uint32_t)MIN(l->objects[p].size, UINT32_MAX);
			planes[p].bytesused = (uint32_t)want->objects[p].size;
		}
	} else {
		b->m.fd = l->objects[0].fd;
		b->length = (uint32_t)MIN(l->objects[0].size, UINT32_MAX);
		b->bytesused = (uint32_t)want->objects[0].size;
	}
	e->out[i].key = buffer;
	e->out[i].ino = ino;
	return i;
}

static int submit_copy(struct dmapipe_encoder *e, struct dmapipe_buffer *buffer,
		       struct v4l2_buffer *b, struct v4l2_plane *planes)
{
	const struct dmapipe_layout *want = &e->info.layout;
	uint8_t *dst[DMAPIPE_MAX_PLANES];
	uint32_t strides[DMAPIPE_MAX_PLANES];
	struct dmapipe_copy_stats before, after;
	struct timespec t0, t1;
	int i = -1, ret;

	for (unsigned int k = 0; k < e->n_out; k++) {
		if (!e->out[k].queued) {
			i = (int)k;
			break;
		}
	}
	if (i < 0)
		return -EAGAIN;
	for (unsigned int p = 0; p < want->n_planes; p++) {
		const struct dmapipe_plane *pl = &want->planes[p];

		dst[p] = (uint8_t *)e->out[i].map[pl->object] + pl->offset;
		strides[p] = pl->stride;
	}
	if (!dmapipe_buffer_map_plane(buffer, 0))
		return -errno;
	dmapipe_get_copy_stats(&before);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	ret = dmapipe_buffer_begin_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	if (ret == 0) {
		ret = dmapipe_buffer_copy_to_memory(buffer, dst, strides);
		(void)dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	if (ret < 0)
		return ret;
	e->stats.copy_cpu_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll +
					   (t1.tv_nsec - t0.tv_nsec));
	dmapipe_get_copy_stats(&after);
	e->stats.frames_copied++;
	e->stats.bytes_copied += after.bytes - before.bytes;
	b->index = (uint32_t)i;
	b->memory = V4L2_MEMORY_MMAP;
	if (e->info.multiplanar) {
		for (unsigned int p = 0; p < e->n_vplanes; p++)
			planes[p].bytesused = (uint32_t)want->objects[p].size;
	} else {
		b->bytesused = (uint32_t)want->objects[0].size;
	}
	return i;
}

DMAPIPE_EXPORT int dmapipe_encoder_submit(struct dmapipe_encoder *e, struct dmapipe_buffer *buffer,
					  const struct dmapipe_frame_meta *meta, void *frame_data)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buffer);
	enum dmapipe_mem_kind kind = dmapipe_buffer_get_mem_kind(buffer);
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer b;
	struct meta_entry *m;
	int i, ret;

	if (e->finished)
		return -EPIPE;
	if (!e->info.configured || !same_layout(&e->have, l) ||
	    (e->have_kind != kind && e->info.io == DMAPIPE_ENCODER_IO_IMPORT)) {
		if (e->info.configured) {
			/* a new format: what the device holds is encoded first */
			ret = drain(e, DRAIN_TIMEOUT_MS);
			if (ret < 0)
				log_warn("encoder: %s: draining for a new format: %s", e->info.path,
					 strerror(-ret));
			teardown(e);
			e->stats.reconfigures++;
		}
		ret = configure(e, l, kind);
		if (ret < 0) {
			e->stats.frames_failed++;
			return ret;
		}
	}
	if (e->stats.in_flight >= e->opt.max_in_flight) {
		e->stats.frames_refused++;
		return -EAGAIN;
	}
	dmapipe_v4l2_buffer_init(&b, planes, e->out_type, 0, 0, e->n_vplanes);
	b.field = V4L2_FIELD_NONE;
	i = e->info.io == DMAPIPE_ENCODER_IO_IMPORT ? submit_import(e, buffer, &b, planes) :
						       submit_copy(e, buffer, &b, planes);
	if (i < 0) {
		if (i == -EAGAIN)
			e->stats.frames_refused++;
		else
			e->stats.frames_failed++;
		return i;
	}
	m = &e->ring[e->next_cookie % META_RING];
	m->cookie = e->next_cookie;
	m->sequence = meta ? meta->sequence : e->stats.frames_in;
	m->timestamp_ns = meta ? meta->timestamp_ns : 0;
	m->flags = meta ? meta->flags : 0;
	cookie_to_tv(e->next_cookie, &b.timestamp);
	e->next_cookie++;

	ret = dmapipe_v4l2_ioctl(&e->node, VIDIOC_QBUF, &b);
	if (ret < 0) {
		struct out_slot *s = &e->out[i];

		log_error("encoder: %s: VIDIOC_QBUF (OUTPUT, %s): %s", e->info.path,
			  dmapipe_encoder_io_to_string(e->info.io), strerror(-ret));
		if (e->info.io == DMAPIPE_ENCODER_IO_IMPORT) {
			/* the driver did not take this dma-buf: forget the slot's key */
			s->key = NULL;
			s->ino = 0;
		}
		e->stats.frames_failed++;
		return ret;
	}
	e->out[i].queued = true;
	e->out[i].last_use = ++e->use_clock;
	e->out[i].frame_data = frame_data;
	e->stats.frames_in++;
	e->stats.in_flight++;
	if (e->info.io == DMAPIPE_ENCODER_IO_IMPORT) {
		e->out[i].held = dmapipe_buffer_ref(buffer);
		e->stats.frames_imported++;
	} else {
		/* copied: the frame itself is free now */
		push_done(e, frame_data, 0);
	}
	e->stats.slots = e->n_out;
	return 0;
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
