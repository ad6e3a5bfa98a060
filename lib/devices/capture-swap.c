/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An import-mode capture source and its consumers' constraints
 * (docs/PROTOCOL.md section 13): while attached to a server, the source
 * follows the allocator the consumers' imports need (a DRM device's
 * memory for one that imports into a GPU, dmapipe_allocator_for_constraints()).
 * V4L2_MEMORY_DMABUF takes a new fd at every VIDIOC_QBUF, so each buffer
 * is replaced by one of the new allocator when it comes back from its
 * holders, at its own index, without STREAMOFF: the device never stops
 * and no consumer loses a frame. The new buffer is queued to the device
 * at once (from the server's idle callback, which must not call back into
 * the server) and takes the old one's place in the stream when its first
 * frame is dispatched. The format (bytesperline) is fixed while
 * streaming: a stride a consumer needs is not this file's to give; the
 * server refuses that consumer with the reason (rule 5).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "capture-private.h"

static void on_constraints(struct dmapipe_server *server, const struct dmapipe_constraints *merged,
			   void *data)
{
	struct dmapipe_v4l2_source *s = data;

	(void)server;
	s->merged = *merged;
	s->constraints_changed = true;
}

void capture_swap_attach(struct dmapipe_v4l2_source *s)
{
	if (s->memory == V4L2_MEMORY_DMABUF)
		dmapipe_server_set_constraints_callback(s->server, on_constraints, s);
}

/* Gives up replacing the buffers not replaced yet (the ones that were stay). */
static void swap_abandon(struct dmapipe_v4l2_source *s)
{
	for (unsigned int i = 0; i < s->n_bufs; i++)
		s->bufs[i].swap = false;
	dmapipe_allocator_unref(s->next_allocator);
	s->next_allocator = NULL;
}

void capture_swap_follow(struct dmapipe_v4l2_source *s)
{
	struct dmapipe_allocator *a;
	char why[192];

	if (s->constraints_changed && !s->next_allocator) {
		s->constraints_changed = false;
		a = dmapipe_allocator_for_constraints(s->allocator, &s->merged, why, sizeof(why));
		if (!a) {
			log_warn_ratelimited("v4l2: %s: %s: consumers importing into %s try the "
					     "buffers there are", s->info.path, why,
					     s->merged.import_device);
		} else if (a == s->allocator) {
			dmapipe_allocator_unref(a);
		} else {
			log_info("v4l2: %s: the consumers' imports need buffers of allocator %s: "
				 "each of the %u is replaced as it comes back", s->info.path,
				 dmapipe_allocator_get_name(a), s->n_bufs);
			s->next_allocator = a;
			for (unsigned int i = 0; i < s->n_bufs; i++)
				s->bufs[i].swap = true;
		}
	}
	if (!s->next_allocator)
		return;
	for (unsigned int i = 0; i < s->n_bufs; i++)
		if (s->bufs[i].swap || s->bufs[i].retired)
			return;
	/* every buffer replaced and in the stream */
	dmapipe_allocator_unref(s->allocator);
	s->allocator = s->next_allocator;
	s->next_allocator = NULL;
	dmapipe_strlcpy(s->info.allocator, dmapipe_allocator_get_name(s->allocator),
			sizeof(s->info.allocator));
}

void capture_swap_before_qbuf(struct dmapipe_v4l2_source *s, unsigned int i)
{
	struct vbuf *v = &s->bufs[i];
	struct dmapipe_buffer *b;

	if (!v->swap || !s->next_allocator || v->retired)
		return;
	v->swap = false;
	b = dmapipe_allocator_alloc_layout(s->next_allocator, &s->layout);
	if (!b) {
		log_warn("v4l2: %s: a buffer of allocator %s: %s; the others stay", s->info.path,
			 dmapipe_allocator_get_name(s->next_allocator), strerror(errno));
		swap_abandon(s);
		return;
	}
	v->retired = v->buffer;
	v->buffer = b;
}

bool capture_swap_undo(struct dmapipe_v4l2_source *s, unsigned int i, int err)
{
	struct vbuf *v = &s->bufs[i];

	if (!v->retired)
		return false;
	log_warn("v4l2: %s: the driver refused a new buffer at VIDIOC_QBUF (%s): the device "
		 "keeps its buffers", s->info.path, strerror(-err));
	dmapipe_buffer_unref(v->buffer);
	v->buffer = v->retired;
	v->retired = NULL;
	swap_abandon(s);
	return true;
}

int capture_swap_register(struct dmapipe_v4l2_source *s, unsigned int i)
{
	struct vbuf *v = &s->bufs[i];
	int ret;

	if (!v->retired)
		return 0;
	/* idle since it came back: no consumer holds it, nothing of it is unsent */
	(void)dmapipe_server_remove_buffer(s->server, v->retired);
	dmapipe_buffer_unref(v->retired);
	v->retired = NULL;
	ret = dmapipe_server_add_buffer(s->server, v->buffer);
	if (ret < 0) {
		log_error("v4l2: %s: the server refused the new buffer %u: %s", s->info.path, i,
			  strerror(-ret));
		return ret;
	}
	return 0;
}

void capture_swap_detach(struct dmapipe_v4l2_source *s)
{
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		if (!s->bufs[i].retired)
			continue;
		/* a later attach registers the buffer that replaced it */
		(void)dmapipe_server_remove_buffer(s->server, s->bufs[i].retired);
		dmapipe_buffer_unref(s->bufs[i].retired);
		s->bufs[i].retired = NULL;
	}
	dmapipe_server_set_constraints_callback(s->server, NULL, NULL);
}

void capture_swap_free(struct dmapipe_v4l2_source *s)
{
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		dmapipe_buffer_unref(s->bufs[i].retired);
		s->bufs[i].retired = NULL;
		s->bufs[i].swap = false;
	}
	dmapipe_allocator_unref(s->next_allocator);
	s->next_allocator = NULL;
}
