/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A capture source's buffers (include/dmapipe/v4l2.h): the driver's MMAP
 * buffers exported with VIDIOC_EXPBUF, or an allocator's dma-bufs imported
 * with V4L2_MEMORY_DMABUF, the choice between them and the fallback from
 * one to the other, with its reason. Built with libv4l2 only.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture-private.h"

void capture_free_buffers(struct dmapipe_v4l2_source *s)
{
	capture_swap_free(s);
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		dmapipe_buffer_unref(s->bufs[i].buffer);
		s->bufs[i].buffer = NULL;
	}
	s->n_bufs = 0;
	if (s->node.fd >= 0 && !s->lost && s->memory)
		(void)dmapipe_v4l2_request(&s->node, s->type, s->memory, 0);
	s->memory = 0;
}

static int request(struct dmapipe_v4l2_source *s, uint32_t memory, uint32_t count)
{
	int n = dmapipe_v4l2_request(&s->node, s->type, memory, count);

	if (n < 0)
		return n;
	s->memory = memory;
	return MIN(n, MAX_V4L2_BUFFERS);
}

int capture_qbuf(struct dmapipe_v4l2_source *s, unsigned int index)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(s->bufs[index].buffer);
	struct v4l2_buffer b;
	int ret;

	dmapipe_v4l2_buffer_init(&b, planes, s->type, s->memory, index, s->n_planes_v4l2);
	if (s->info.multiplanar) {
		if (s->memory == V4L2_MEMORY_DMABUF) {
			for (unsigned int p = 0; p < s->n_planes_v4l2; p++) {
				planes[p].m.fd = l->objects[p].fd;
				planes[p].length = (uint32_t)MIN(l->objects[p].size, UINT32_MAX);
			}
		}
	} else if (s->memory == V4L2_MEMORY_DMABUF) {
		b.m.fd = l->objects[0].fd;
		b.length = (uint32_t)MIN(l->objects[0].size, UINT32_MAX);
	}
	ret = dmapipe_v4l2_ioctl(&s->node, VIDIOC_QBUF, &b);
	if (ret == 0)
		s->bufs[index].queued = true;
	return ret;
}

static int setup_export(struct dmapipe_v4l2_source *s, uint32_t count)
{
	int n = request(s, V4L2_MEMORY_MMAP, count);

	if (n < 0) {
		log_error("v4l2: %s: VIDIOC_REQBUFS (MMAP, %u): %s", s->info.path, count,
			  strerror(-n));
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct dmapipe_layout l = s->layout;

		for (unsigned int p = 0; p < s->n_planes_v4l2; p++) {
			int fd = dmapipe_v4l2_export(&s->node, s->type, (uint32_t)i, p,
						     O_CLOEXEC | O_RDWR);

			if (fd < 0) {
				log_error("v4l2: %s: VIDIOC_EXPBUF buffer %d plane %u: %s",
					  s->info.path, i, p, strerror(-fd));
				for (unsigned int q = 0; q < p; q++)
					close(l.objects[q].fd);
				return fd;
			}
			l.objects[p].fd = fd;
			l.objects[p].size = 0; /* the dma-buf's own size */
		}
		/* takes the fds, checks they are dma-bufs and large enough */
		s->bufs[i].buffer = dmapipe_buffer_new_from_fds(&l);
		if (!s->bufs[i].buffer) {
			int ret = -errno;

			log_error("v4l2: %s: exported buffer %d refused: %s", s->info.path, i,
				  strerror(-ret));
			return ret;
		}
		s->n_bufs = (unsigned int)i + 1;
	}
	return 0;
}

/* An allocator whose buffers give struct-page mappings, for direct I/O. */
static struct dmapipe_allocator *direct_io_allocator(void)
{
	static const char *const names[] = { "dmapipe", "udmabuf" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct dmapipe_allocator *a = dmapipe_allocator_new(names[i]);

		if (a)
			return a;
	}
	return NULL;
}

/* Returns 0, or a negative errno with @why set (the caller may fall back). */
static int setup_import(struct dmapipe_v4l2_source *s, const struct dmapipe_v4l2_options *o,
			uint32_t count, char *why, size_t why_len)
{
	struct dmapipe_allocator *a;
	int n, ret;

	if (o->allocator) {
		a = dmapipe_allocator_ref(o->allocator);
	} else {
		a = o->direct_io ? direct_io_allocator() : NULL;
		if (!a) {
			enum dmapipe_log_priority prio = dmapipe_log_get_priority();

			/* the memfd fallback's warning would only confuse: refused below */
			dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
			a = dmapipe_allocator_new_default();
			dmapipe_log_set_priority(prio);
		}
		if (!a) {
			snprintf(why, why_len, "no allocator works here");
			return -ENODEV;
		}
	}
	if (dmapipe_allocator_get_mem_kind(a) != DMAPIPE_MEM_DMABUF) {
		snprintf(why, why_len, "allocator %s gives no dma-bufs, which V4L2 cannot import",
			 dmapipe_allocator_get_name(a));
		dmapipe_allocator_unref(a);
		return -ENODEV;
	}
	if (o->direct_io && !o->allocator) {
		const char *name = dmapipe_allocator_get_name(a);

		if (strcmp(name, "dmapipe") != 0 && strcmp(name, "udmabuf") != 0) {
			snprintf(why, why_len, "no allocator with struct-page mappings (dmapipe.ko, "
				 "udmabuf) on this machine");
			dmapipe_allocator_unref(a);
			return -ENODEV;
		}
	}
	n = request(s, V4L2_MEMORY_DMABUF, count);
	if (n < 0) {
		snprintf(why, why_len, "VIDIOC_REQBUFS (DMABUF): %s", strerror(-n));
		dmapipe_allocator_unref(a);
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct dmapipe_buffer *b = dmapipe_allocator_alloc_layout(a, &s->layout);

		if (!b) {
			ret = -errno;
			snprintf(why, why_len, "allocator %s: %s", dmapipe_allocator_get_name(a),
				 strerror(-ret));
			dmapipe_allocator_unref(a);
			return ret;
		}
		s->bufs[i].buffer = b;
		s->n_bufs = (unsigned int)i + 1;
	}
	/* the driver checks an imported buffer at its first QBUF: do it now,
	 * while falling back to export is still possible */
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		ret = capture_qbuf(s, i);
		if (ret < 0) {
			snprintf(why, why_len, "the driver refused %s's buffer at VIDIOC_QBUF: %s",
				 dmapipe_allocator_get_name(a), strerror(-ret));
			dmapipe_allocator_unref(a);
			return ret;
		}
	}
	s->allocator = a;
	dmapipe_strlcpy(s->info.allocator, dmapipe_allocator_get_name(a), sizeof(s->info.allocator));
	return 0;
}

int capture_setup_buffers(struct dmapipe_v4l2_source *s, const struct dmapipe_v4l2_options *o)
{
	uint32_t caps;
	uint32_t count = o->buffers ? MIN(o->buffers, MAX_V4L2_BUFFERS) : DEFAULT_BUFFERS;
	bool can_import, can_export;
	bool want_import = o->io == DMAPIPE_V4L2_IO_IMPORT ||
			   (o->io == DMAPIPE_V4L2_IO_AUTO && o->direct_io);
	char why[128] = "";
	int ret;

	/* a queue that cannot say what it supports (before 4.20) may do both */
	if (dmapipe_v4l2_queue_caps(&s->node, s->type, &caps) < 0)
		caps = 0;
	can_import = caps ? (caps & V4L2_BUF_CAP_SUPPORTS_DMABUF) != 0 : true;
	can_export = caps ? (caps & V4L2_BUF_CAP_SUPPORTS_MMAP) != 0 : true;
	if (want_import && !can_import) {
		snprintf(why, sizeof(why), "the device cannot import dma-bufs "
			 "(no V4L2_BUF_CAP_SUPPORTS_DMABUF)");
	} else if (want_import) {
		ret = setup_import(s, o, count, why, sizeof(why));
		if (ret == 0) {
			s->info.io = DMAPIPE_V4L2_IO_IMPORT;
			snprintf(s->info.io_note, sizeof(s->info.io_note),
				 o->io == DMAPIPE_V4L2_IO_IMPORT ?
				 "import asked for; buffers from allocator %s" :
				 "consumers need struct-page mappings; buffers from allocator %s",
				 s->info.allocator);
			return 0;
		}
		capture_free_buffers(s);
	}
	if (!can_export) {
		if (why[0])
			log_error("v4l2: %s: cannot import (%s) and cannot export (no MMAP buffers)",
				  s->info.path, why);
		else
			log_error("v4l2: %s offers no MMAP buffers to export; try --io import",
				  s->info.path);
		return -ENOTSUP;
	}
	ret = setup_export(s, count);
	if (ret < 0) {
		capture_free_buffers(s);
		return ret;
	}
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		ret = capture_qbuf(s, i);
		if (ret < 0) {
			log_error("v4l2: %s: VIDIOC_QBUF: %s", s->info.path, strerror(-ret));
			capture_free_buffers(s);
			return ret;
		}
	}
	s->info.io = DMAPIPE_V4L2_IO_EXPORT;
	if (why[0]) {
		snprintf(s->info.io_note, sizeof(s->info.io_note),
			 "fell back to export (VIDIOC_EXPBUF): import impossible: %s", why);
		log_warn("v4l2: %s: import mode impossible (%s): falling back to exporting the "
			 "driver's buffers with VIDIOC_EXPBUF", s->info.path, why);
	} else {
		snprintf(s->info.io_note, sizeof(s->info.io_note), "%s",
			 o->io == DMAPIPE_V4L2_IO_EXPORT ? "export asked for" :
			 "the driver's own buffers, exported: no allocation needed");
	}
	return 0;
}
