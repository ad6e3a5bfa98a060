/* SPDX-License-Identifier: MIT */
/*
 * dmapipe play's reads: the buffers the disk can DMA into (the allocator,
 * one set of slots per recorded layout, replaced when the format
 * changes) and the direct-I/O reads of frames into them, several in
 * flight. What happens to a frame once read is play-pace.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "play.h"

/*
 * Buffers the disk can DMA into: dmapipe.ko's page mappings, udmabuf
 * (through its memfd), then plain memfds. dma-heap and DRM mappings are
 * PFN-based, which O_DIRECT cannot use; they are taken only on request.
 */
int play_open_allocator(struct play *p)
{
	static const char *const order[] = { "dmapipe", "udmabuf", "memfd" };
	const char *env = getenv("DMAPIPE_ALLOCATOR");

	if (p->allocator_name) {
		p->alloc = dmapipe_allocator_new(p->allocator_name);
		if (!p->alloc && errno == ENOENT)
			usage_error("play", "unknown allocator '%s' (dmapipe, udmabuf, memfd, heap, drm)",
				    p->allocator_name);
	} else if (env && *env) {
		p->alloc = dmapipe_allocator_new_default();
	} else {
		enum dmapipe_log_priority prio = dmapipe_log_get_priority();

		dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && !p->alloc; i++)
			p->alloc = dmapipe_allocator_new(order[i]);
		dmapipe_log_set_priority(prio);
		/* the ones that are not here are the order's reason, not a problem */
		if (p->alloc)
			tool_log_discard();
	}
	if (!p->alloc) {
		tool_error(TOOL_ERR_UNSUPPORTED, errno, "no allocator%s%s works here",
			   p->allocator_name ? " " : "", p->allocator_name ? p->allocator_name : "");
		return -1;
	}
	return 0;
}

/* ---- buffers --------------------------------------------------------------------------- */

void play_on_idle(struct dmapipe_server *server, struct dmapipe_buffer *buffer, void *data)
{
	struct play *p = data;

	(void)server;
	for (unsigned int i = 0; i < p->n_slots; i++)
		if (p->slots[i].buffer == buffer && p->slots[i].state == SLOT_SERVED)
			p->slots[i].state = SLOT_FREE;
}

void play_remove_buffers(struct play *p)
{
	for (unsigned int i = 0; i < p->n_slots; i++) {
		if (!p->slots[i].buffer)
			continue;
		dmapipe_server_remove_buffer(p->server, p->slots[i].buffer);
		dmapipe_buffer_unref(p->slots[i].buffer);
		memset(&p->slots[i], 0, sizeof(p->slots[i]));
	}
	p->n_slots = 0;
	p->ready_head = p->n_ready = 0;
}

/* Buffers with the layout of recorded frame @index, shared with the consumers. */
static int add_buffers(struct play *p, uint64_t index)
{
	struct dmapipe_recorded_frame f;
	int ret;

	dmapipe_recording_get_frame(p->rec, index, &f);
	play_remove_buffers(p);
	ret = play_alloc_generation(p, index);
	if (ret < 0) {
		/* ENOSPC here is a pool budget or a heap, not a disk: not exit 3 */
		if (tool.error == TOOL_OK)
			tool_error(ret == -ENOSPC ? TOOL_ERR_NO_MEMORY : TOOL_OK, ret,
				   "cannot allocate a buffer for frame %llu",
				   (unsigned long long)index);
		return ret;
	}
	if (p->layout_index >= 0)
		p->format_changes++;
	p->layout_index = (int)f.layout_index;
	p->layout_frame = index;
	return 0;
}

/* ---- reading ----------------------------------------------------------------------------- */

void play_on_read(struct dmapipe_reader *reader, uint64_t index, struct dmapipe_buffer *buffer,
		    void *frame_data, int status, void *user_data)
{
	struct play *p = user_data;
	struct slot *s = frame_data;
	struct dmapipe_recorded_frame f;

	(void)reader;
	(void)buffer;
	p->reading--;
	if (status == -ECANCELED) {
		s->state = SLOT_FREE; /* the player is closing */
		return;
	}
	if (status < 0) {
		s->state = SLOT_FREE;
		p->read_errors++;
		if (!p->read_error) {
			p->read_error = status;
			tool_error(TOOL_ERR_IO, status, "reading frame %llu of %s",
				   (unsigned long long)index, p->file);
		}
		return;
	}
	dmapipe_recording_get_frame(p->rec, index, &f);
	s->meta = f.meta;
	s->state = SLOT_READY;
	p->ready[(p->ready_head + p->n_ready) % MAX_SLOTS] = (unsigned int)(s - p->slots);
	p->n_ready++;
}

static struct slot *free_slot(struct play *p)
{
	for (unsigned int i = 0; i < p->n_slots; i++)
		if (p->slots[i].buffer && !p->slots[i].retiring &&
		    p->slots[i].state == SLOT_FREE)
			return &p->slots[i];
	return NULL;
}

/* True if a consumer has frames queued for it and not sent yet. */
static bool frames_unsent(struct play *p)
{
	struct dmapipe_consumer_stats cs[MAX_CONSUMER_STATS];
	int n = dmapipe_server_get_consumer_stats(p->server, cs, MAX_CONSUMER_STATS);

	for (int i = 0; i < n && i < MAX_CONSUMER_STATS; i++)
		if (cs[i].queued > 0)
			return true;
	return false;
}

/* True when every frame read from this layout is served and sent. */
static bool layout_drained(struct play *p)
{
	return p->reading == 0 && p->n_ready == 0 && !frames_unsent(p);
}

/* Whether another read may start; handles the end of the file and format changes. */
int play_start_reads(struct play *p)
{
	int ret = play_follow_constraints(p);

	if (ret < 0)
		return ret;
	while (!p->read_error && (p->frames == 0 || p->submitted < p->frames)) {
		struct dmapipe_recorded_frame f;
		struct slot *s;

		if (p->next_index >= p->info.frames) {
			if (!p->loop)
				return 0;
			p->next_index = 0;
			p->loops++;
			continue;
		}
		dmapipe_recording_get_frame(p->rec, p->next_index, &f);
		if ((int)f.layout_index != p->layout_index) {
			/* a new format starts once every frame of the old one was sent */
			if (p->layout_index >= 0 && !layout_drained(p))
				return 0;
			ret = add_buffers(p, p->next_index);
			if (ret < 0)
				return ret;
		}
		s = free_slot(p);
		if (!s)
			return 0;
		ret = dmapipe_reader_submit(p->reader, p->next_index, s->buffer, s);
		if (ret == -EAGAIN)
			return 0;
		if (ret < 0) {
			if (ret == -EPERM && p->strict)
				tool_error(TOOL_ERR_STRICT, 0, "frame %llu would have been copied "
					   "(--strict)", (unsigned long long)p->next_index);
			else
				tool_error(TOOL_ERR_IO, ret, "cannot read frame %llu",
					   (unsigned long long)p->next_index);
			return ret;
		}
		s->state = SLOT_READING;
		s->index = p->next_index;
		s->timed = false;
		p->reading++;
		p->submitted++;
		p->next_index++;
	}
	return 0;
}
