/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A capture source streaming (include/dmapipe/v4l2.h): start and stop,
 * frames dequeued with their sequence, timestamp and drop accounting,
 * buffers given back to the device, and feeding a dmapipe_server whose
 * idle callback requeues a buffer once no consumer holds it.
 *
 * Buffer states: each buffer is either queued in the driver or held
 * (by the application between dequeue and queue, or by the server and its
 * consumers between dispatch and the idle callback). STREAMOFF makes every
 * queued buffer free again; start() queues every buffer not held. Built
 * with libv4l2 only.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture-private.h"

static int device_gone_or(struct dmapipe_v4l2_source *s, int ret)
{
	if (ret == -ENODEV) {
		if (!s->lost)
			log_warn("v4l2: %s (%s) is gone", s->info.path, s->info.card);
		s->lost = true;
		s->streaming = false;
	}
	return ret;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_start(struct dmapipe_v4l2_source *s)
{
	int ret;

	if (s->lost)
		return -ENODEV;
	if (s->streaming)
		return 0;
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		if (s->bufs[i].queued || s->bufs[i].held)
			continue;
		ret = capture_qbuf(s, i);
		if (ret < 0) {
			log_error("v4l2: %s: VIDIOC_QBUF: %s", s->info.path, strerror(-ret));
			return device_gone_or(s, ret);
		}
	}
	ret = dmapipe_v4l2_stream(&s->node, s->type, true);
	if (ret < 0) {
		log_error("v4l2: %s: VIDIOC_STREAMON: %s", s->info.path, strerror(-ret));
		return device_gone_or(s, ret);
	}
	s->streaming = true;
	s->restarted = true;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_stop(struct dmapipe_v4l2_source *s)
{
	int ret = 0;

	if (s->lost) {
		/* a vanished device returned its buffers when it was unregistered */
		for (unsigned int i = 0; i < s->n_bufs; i++)
			s->bufs[i].queued = false;
		s->streaming = false;
		return 0;
	}
	if (!s->streaming)
		return 0;
	ret = dmapipe_v4l2_stream(&s->node, s->type, false);
	if (ret < 0) {
		log_warn("v4l2: %s: VIDIOC_STREAMOFF: %s", s->info.path, strerror(-ret));
		device_gone_or(s, ret);
	}
	/* STREAMOFF takes every buffer back from the driver, and a lost
	 * device's queue is gone: either way no buffer is queued now */
	for (unsigned int i = 0; i < s->n_bufs; i++)
		s->bufs[i].queued = false;
	s->streaming = false;
	return ret;
}

static int find_index(const struct dmapipe_v4l2_source *s, const struct dmapipe_buffer *b)
{
	for (unsigned int i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].buffer == b)
			return (int)i;
	return -1;
}

static int dequeue(struct dmapipe_v4l2_source *s, unsigned int *index,
		   struct dmapipe_frame_meta *meta)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer b;
	uint64_t ts;
	int ret;

	if (s->lost)
		return -ENODEV;
	if (!s->streaming)
		return -EAGAIN;
	dmapipe_v4l2_buffer_init(&b, planes, s->type, s->memory, 0, VIDEO_MAX_PLANES);
	ret = dmapipe_v4l2_ioctl(&s->node, VIDIOC_DQBUF, &b);
	if (ret == -EAGAIN) {
		struct pollfd pfd = { .fd = s->node.fd, .events = POLLIN };

		/* a vanished device answers POLLERR, its ioctls ENODEV */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP))) {
			struct v4l2_capability cap;

			ret = dmapipe_v4l2_ioctl(&s->node, VIDIOC_QUERYCAP, &cap);
			if (ret == -ENODEV)
				return device_gone_or(s, ret);
		}
		return -EAGAIN;
	}
	if (ret < 0) {
		if (ret != -ENODEV)
			log_error("v4l2: %s: VIDIOC_DQBUF: %s", s->info.path, strerror(-ret));
		return device_gone_or(s, ret);
	}
	if (b.index >= s->n_bufs) {
		log_error("v4l2: %s: the driver returned unknown buffer %u", s->info.path, b.index);
		return -EPROTO;
	}
	s->bufs[b.index].queued = false;
	s->bufs[b.index].held = true;

	dmapipe_frame_meta_init(meta);
	meta->sequence = b.sequence;
	if ((b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
		ts = (uint64_t)b.timestamp.tv_sec * 1000000000ull +
		     (uint64_t)b.timestamp.tv_usec * 1000ull;
		s->info.timestamps_monotonic = true;
	} else {
		ts = dmapipe_now_ns();
		s->info.timestamps_monotonic = false;
	}
	meta->timestamp_ns = ts;
	if (s->info.timestamps_monotonic) {
		uint64_t now = dmapipe_now_ns(), late = now > ts ? now - ts : 0;

		s->timing.frames_timed++;
		s->timing.dqbuf_latency_last_ns = late;
		s->timing.dqbuf_latency_sum_ns += late;
		if (late > s->timing.dqbuf_latency_max_ns)
			s->timing.dqbuf_latency_max_ns = late;
	}
	if (s->info.multiplanar) {
		for (unsigned int p = 0; p < s->n_planes_v4l2 && p < DMAPIPE_MAX_PLANES; p++) {
			meta->bytes_used[p] = planes[p].bytesused;
			if (planes[p].data_offset && !s->warned_offset) {
				log_warn("v4l2: %s: the driver reports data_offset %u in plane %u, "
					 "which the layout does not carry", s->info.path,
					 planes[p].data_offset, p);
				s->warned_offset = true;
			}
			if (planes[p].data_offset)
				meta->flags |= DMAPIPE_FRAME_CORRUPTED;
		}
	} else {
		meta->bytes_used[0] = b.bytesused;
	}
	/* in one V4L2 plane the format's planes share the count: "whole
	 * plane"; and a count past the plane (sizeimage padding) says no more */
	if (s->n_planes_v4l2 == 1 && s->layout.n_planes > 1)
		meta->bytes_used[0] = 0;
	for (unsigned int p = 0; p < s->layout.n_planes; p++)
		meta->bytes_used[p] = MIN(meta->bytes_used[p],
					  dmapipe_layout_plane_size(&s->layout, p));
	if (b.flags & V4L2_BUF_FLAG_ERROR) {
		meta->flags |= DMAPIPE_FRAME_CORRUPTED;
		s->stats.corrupted++;
	}
	if (s->have_seq && !s->restarted && b.sequence > s->last_seq + 1) {
		s->stats.dropped += b.sequence - s->last_seq - 1;
		meta->flags |= DMAPIPE_FRAME_DISCONTINUITY;
	}
	if (s->restarted && s->have_seq)
		meta->flags |= DMAPIPE_FRAME_DISCONTINUITY;
	s->restarted = false;
	s->have_seq = true;
	s->last_seq = b.sequence;
	s->stats.last_sequence = b.sequence;
	s->stats.frames++;
	*index = b.index;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_dequeue(struct dmapipe_v4l2_source *s,
					       struct dmapipe_buffer **buffer,
					       struct dmapipe_frame_meta *meta)
{
	unsigned int index;
	int ret;

	if (s->server)
		return -EBUSY;
	ret = dequeue(s, &index, meta);
	if (ret < 0)
		return ret;
	*buffer = dmapipe_buffer_ref(s->bufs[index].buffer);
	return 0;
}

/* The buffer is back from its holders: to the device, if it streams. */
static int give_back(struct dmapipe_v4l2_source *s, unsigned int i)
{
	int ret;

	s->bufs[i].held = false;
	if (!s->streaming || s->lost)
		return 0;
	if (s->server)
		capture_swap_before_qbuf(s, i);
	ret = capture_qbuf(s, i);
	if (ret < 0 && ret != -ENODEV && capture_swap_undo(s, i, ret))
		ret = capture_qbuf(s, i);
	if (ret < 0) {
		if (ret != -ENODEV)
			log_error("v4l2: %s: VIDIOC_QBUF %u: %s", s->info.path, i, strerror(-ret));
		return device_gone_or(s, ret);
	}
	s->stats.requeued++;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_queue(struct dmapipe_v4l2_source *s,
					     struct dmapipe_buffer *buffer)
{
	int i = find_index(s, buffer);

	if (i < 0 || !s->bufs[i].held) {
		dmapipe_buffer_unref(buffer);
		return -EINVAL;
	}
	dmapipe_buffer_unref(buffer); /* the source keeps its own reference */
	return give_back(s, (unsigned int)i);
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_get_stats(const struct dmapipe_v4l2_source *s,
						  struct dmapipe_v4l2_stats *stats)
{
	*stats = s->stats;
	stats->held = 0;
	for (unsigned int i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].held)
			stats->held++;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_get_timing(const struct dmapipe_v4l2_source *s,
						 struct dmapipe_v4l2_timing *timing)
{
	struct dmapipe_v4l2_timing t = s->timing;
	uint32_t size = timing->size;

	/* an older caller gets the fields it knows, a newer one ours */
	if (size < offsetof(struct dmapipe_v4l2_timing, frames_timed) + sizeof(t.frames_timed))
		return -EINVAL;
	t.size = (uint32_t)MIN((size_t)size, sizeof(t));
	memcpy(timing, &t, t.size);
	return 0;
}

/* ---- feeding a server ------------------------------------------------------ */

static void on_idle(struct dmapipe_server *server, struct dmapipe_buffer *buffer, void *data)
{
	struct dmapipe_v4l2_source *s = data;
	int i = find_index(s, buffer);

	(void)server;
	if (i >= 0 && s->bufs[i].held)
		(void)give_back(s, (unsigned int)i);
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_attach(struct dmapipe_v4l2_source *s,
					      struct dmapipe_server *server)
{
	int ret;

	if (s->server)
		return -EBUSY;
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		ret = dmapipe_server_add_buffer(server, s->bufs[i].buffer);
		if (ret < 0) {
			log_error("v4l2: %s: the server refused buffer %u: %s", s->info.path, i,
				  strerror(-ret));
			for (unsigned int j = 0; j < i; j++)
				dmapipe_server_remove_buffer(server, s->bufs[j].buffer);
			return ret;
		}
	}
	s->server = server;
	dmapipe_server_set_idle_callback(server, on_idle, s);
	capture_swap_attach(s);
	/* consumers in other processes learn the rate and colorimetry too */
	if (dmapipe_server_set_format_info(server, &s->format_info) < 0)
		log_warn("v4l2: %s: the stream's rate and colorimetry cannot be told", s->info.path);
	return 0;
}

DMAPIPE_EXPORT void dmapipe_v4l2_source_detach(struct dmapipe_v4l2_source *s)
{
	struct dmapipe_server *server = s->server;

	if (!server)
		return;
	dmapipe_server_set_idle_callback(server, NULL, NULL);
	capture_swap_detach(s);
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		/* frames consumers hold keep their own references; such a
		 * buffer stays held and is never captured into again */
		(void)dmapipe_server_remove_buffer(server, s->bufs[i].buffer);
	}
	s->server = NULL;
}

DMAPIPE_EXPORT int dmapipe_v4l2_source_dispatch(struct dmapipe_v4l2_source *s,
						unsigned int max_frames)
{
	int published = 0;

	if (!s->server)
		return -EINVAL;
	capture_swap_follow(s);
	while (max_frames == 0 || (unsigned int)published < max_frames) {
		struct dmapipe_frame_meta meta;
		unsigned int index;
		int ret = dequeue(s, &index, &meta);

		if (ret == -EAGAIN)
			return published;
		if (ret < 0)
			return ret;
		ret = capture_swap_register(s, index);
		if (ret < 0) {
			give_back(s, index);
			return ret;
		}
		ret = dmapipe_server_queue(s->server, dmapipe_buffer_ref(s->bufs[index].buffer),
					   &meta);
		if (ret < 0) {
			/* not published: back to the device at once */
			give_back(s, index);
			if (ret == -EPIPE)
				return ret;
			log_error("v4l2: %s: publishing frame %llu: %s", s->info.path,
				  (unsigned long long)meta.sequence, strerror(-ret));
			return ret;
		}
		published++;
	}
	return published;
}
