/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The encoder's bitstream side (include/dmapipe/encoder.h): the CAPTURE
 * buffers (mapped, and exported as dma-bufs with options.export_packets),
 * packets out of them with their frame's sequence and timestamp, and the
 * packets a caller holds out of the device.
 *
 * The V4L2 timestamp carries a cookie from OUTPUT to CAPTURE (the m2m
 * framework copies it); the cookie finds the frame's sequence and capture
 * time in a small ring that encoder-queue.c fills at submit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "encoder-private.h"

int encoder_qbuf_capture(struct dmapipe_encoder *e, unsigned int i)
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

int encoder_setup_capture(struct dmapipe_encoder *e)
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
		ret = encoder_qbuf_capture(e, (unsigned int)i);
		if (ret < 0) {
			log_error("encoder: %s: VIDIOC_QBUF (CAPTURE): %s", e->info.path, strerror(-ret));
			return ret;
		}
	}
	return 0;
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

int encoder_dq_capture(struct dmapipe_encoder *e)
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
	ret = encoder_qbuf_capture(e, b.index);
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
		ret = encoder_qbuf_capture(e, i);
		if (ret < 0)
			log_error("encoder: %s: requeueing a bitstream buffer: %s", e->info.path,
				  strerror(-ret));
		return ret;
	}
	return -ENOENT;
}
