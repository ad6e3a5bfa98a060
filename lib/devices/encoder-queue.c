/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The encoder's queue machinery (include/dmapipe/encoder.h): setting the
 * device up for a layout and tearing it down, submitting frames (imported
 * or copied), dequeueing what the device finished, draining.
 *
 * OUTPUT slots in import mode: each distinct dmapipe buffer gets its own
 * V4L2 index (REQBUFS for the first ones, CREATE_BUFS as more appear), so
 * videobuf2 keeps its attachment and mapping of the dma-buf from one frame
 * to the next; a slot is recognised by the buffer's address and its first
 * object's inode (dma-bufs have unique inodes), so a freed and reallocated
 * buffer at the same address is not mistaken for the old one. Beyond
 * MAX_SLOTS buffers the least recently used idle slot is re-pointed
 * (counted as a re-import).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoder-private.h"

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

int encoder_run_pending(struct dmapipe_encoder *e)
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
void encoder_teardown(struct dmapipe_encoder *e)
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
	struct dmapipe_layout want;
	char name[16];
	bool import;
	int ret;

	ret = encoder_set_raw_format(e, have, &want);
	if (ret == 0)
		ret = encoder_choose_io(e, have, kind, &want, &import);
	if (ret < 0)
		return ret;
	e->have = *have; /* export_capture() takes the size from it */
	ret = encoder_setup_capture(e);
	if (ret == 0)
		ret = setup_output(e, import);
	if (ret == 0)
		ret = start(e);
	if (ret < 0) {
		encoder_teardown(e);
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

/* Everything ready now; the number of events, or a negative errno. */
static int drain_ready(struct dmapipe_encoder *e)
{
	int n = 0, ret;

	if (e->n_pending)
		n += encoder_run_pending(e);
	if (!e->streaming)
		return n;
	while ((ret = dq_output(e)) > 0)
		n++;
	if (ret < 0 && ret != -EAGAIN)
		return ret;
	while (!e->drained && (ret = encoder_dq_capture(e)) > 0)
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
	encoder_teardown(e);
	if (e->n_pending)
		encoder_run_pending(e);
	return ret;
}

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
			encoder_teardown(e);
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
