/* SPDX-License-Identifier: MIT */
/*
 * dmapipe play and its consumers' constraints (docs/PROTOCOL.md section
 * 13). play allocates the buffers it serves, so it is an application that
 * reallocates (app_reallocates_ms): told the merged constraints, it makes
 * a new generation of buffers when they ask for another allocator (a
 * DRM device's memory for a consumer that imports into a GPU) or another
 * count (the frames consumers hold). The layout it cannot change: the
 * recording fixes each frame's strides and offsets, and direct I/O reads
 * a frame's objects into the buffer exactly as they lie in the file. A
 * consumer whose alignments that layout misses is refused with the
 * reason (or copies, if it allowed a copy).
 *
 * A new generation replaces the buffers between frames: reads go into
 * the new buffers at once, frames already read into old ones are served
 * in order like any other, and each old buffer leaves the stream once
 * its leases came back, so no consumer loses a frame to the change.
 */
#include <errno.h>
#include <string.h>

#include "play.h"

/*
 * Told to a consumer whose alignments the recorded layout misses. Reading
 * rows into a buffer of another stride would take one unaligned read per
 * row (O_DIRECT takes whole blocks only): page-cache reads, the kernel
 * copying every pixel for every consumer's time budget, for one
 * consumer's sake. The consumer that allowed a copy copies (rule 6).
 */
#define FIXED_LAYOUT "the recording fixes each frame's layout (play reads it as recorded, " \
		     "with direct I/O)"

void play_on_constraints(struct dmapipe_server *server, const struct dmapipe_constraints *merged,
			 void *data)
{
	struct play *p = data;

	(void)server;
	p->merged = *merged;
	p->constraints_changed = true;
}

/* The buffers of a generation: --buffers plus the frames the consumers hold. */
static unsigned int generation_size(const struct play *p)
{
	unsigned int count = p->buffers + p->merged.min_buffers;

	return count < MAX_BUFFERS ? count : MAX_BUFFERS;
}

/*
 * The allocator of the next generation, a reference for the caller: the
 * library's choice for the merged constraints (the drm allocator while a
 * consumer imports into a GPU), or the current one when that fails or
 * --strict forbids it (a DRM device's mapping may refuse direct I/O, as a
 * card's dumb buffers do, and reads into it would then be copies that
 * --strict turns into a failure of the whole stream; vgem's takes it).
 */
static struct dmapipe_allocator *generation_allocator(struct play *p)
{
	struct dmapipe_allocator *current = p->gen_alloc ? p->gen_alloc : p->alloc;
	struct dmapipe_allocator *next;
	char why[192];

	next = dmapipe_allocator_for_constraints(current, &p->merged, why, sizeof(why));
	if (!next) {
		if (!p->quiet && !p->told_no_drm)
			fprintf(stderr, "play: %s: consumers importing into %s try the buffers "
				"there are\n", why, p->merged.import_device);
		p->told_no_drm = true;
		return dmapipe_allocator_ref(current);
	}
	if (next != current && p->strict) {
		if (!p->quiet && !p->told_no_drm)
			fprintf(stderr, "play: --strict: no buffers of a DRM device (reading into "
				"them may copy); consumers importing into %s try the buffers "
				"there are\n", p->merged.import_device);
		p->told_no_drm = true;
		dmapipe_allocator_unref(next);
		return dmapipe_allocator_ref(current);
	}
	return next;
}

/* Notes whether the recorded layout misses the merged alignments. */
static void check_layout(struct play *p, const struct dmapipe_layout *layout)
{
	struct dmapipe_constraints align;

	/* formats, modifiers and counts are the server's to refuse at once */
	dmapipe_constraints_init(&align);
	memcpy(align.stride_align, p->merged.stride_align, sizeof(align.stride_align));
	memcpy(align.offset_align, p->merged.offset_align, sizeof(align.offset_align));
	p->layout_unmet = dmapipe_layout_satisfies(layout, &align, NULL, 0) < 0;
}

void play_refuse_unmet(struct play *p)
{
	if (p->layout_unmet)
		dmapipe_server_refuse_waiting(p->server, FIXED_LAYOUT);
}

int play_alloc_generation(struct play *p, uint64_t index)
{
	struct dmapipe_buffer *b[MAX_BUFFERS];
	struct dmapipe_recorded_frame f;
	struct dmapipe_allocator *alloc;
	unsigned int count = generation_size(p), n = 0, empty = 0;
	int ret = 0;

	for (unsigned int i = 0; i < MAX_SLOTS; i++)
		if (!p->slots[i].buffer)
			empty++;
	if (empty < count)
		return -EAGAIN; /* the last generation still leaves */
	dmapipe_recording_get_frame(p->rec, index, &f);
	alloc = generation_allocator(p);
	for (n = 0; n < count; n++) {
		b[n] = dmapipe_allocator_alloc_layout(alloc, &f.layout);
		if (!b[n]) {
			ret = -errno;
			break;
		}
	}
	if (ret < 0) {
		while (n > 0)
			dmapipe_buffer_unref(b[--n]);
		dmapipe_allocator_unref(alloc);
		return ret;
	}
	/* the current buffers take no new read and leave once free */
	for (unsigned int i = 0; i < p->n_slots; i++)
		if (p->slots[i].buffer)
			p->slots[i].retiring = true;
	for (unsigned int i = 0, k = 0; k < count; i++) {
		struct slot *s = &p->slots[i];

		if (s->buffer)
			continue;
		ret = dmapipe_server_add_buffer(p->server, b[k]);
		if (ret < 0) {
			tool_error(TOOL_ERR_INTERNAL, ret, "the stream refused a buffer");
			while (k < count)
				dmapipe_buffer_unref(b[k++]);
			break;
		}
		memset(s, 0, sizeof(*s));
		s->buffer = b[k++];
		s->state = SLOT_FREE;
		if (i >= p->n_slots)
			p->n_slots = i + 1;
	}
	dmapipe_allocator_unref(p->gen_alloc);
	p->gen_alloc = alloc;
	p->gen_count = count;
	check_layout(p, &f.layout);
	play_retire_idle(p);
	return ret < 0 ? ret : 0;
}

void play_retire_idle(struct play *p)
{
	for (unsigned int i = 0; i < p->n_slots; i++) {
		struct slot *s = &p->slots[i];

		if (!s->buffer || !s->retiring || s->state != SLOT_FREE)
			continue;
		dmapipe_server_remove_buffer(p->server, s->buffer);
		dmapipe_buffer_unref(s->buffer);
		memset(s, 0, sizeof(*s));
	}
	while (p->n_slots > 0 && !p->slots[p->n_slots - 1].buffer)
		p->n_slots--;
}

int play_follow_constraints(struct play *p)
{
	struct dmapipe_allocator *alloc;
	struct dmapipe_recorded_frame f;
	bool same;
	int ret;

	play_retire_idle(p);
	if (!p->constraints_changed || p->layout_index < 0)
		return 0;
	dmapipe_recording_get_frame(p->rec, p->layout_frame, &f);
	check_layout(p, &f.layout);
	alloc = generation_allocator(p);
	same = alloc == p->gen_alloc && generation_size(p) == p->gen_count;
	dmapipe_allocator_unref(alloc);
	if (same) {
		p->constraints_changed = false;
		return 0;
	}
	ret = play_alloc_generation(p, p->layout_frame);
	if (ret == -EAGAIN)
		return 0; /* again once the old buffers left */
	p->constraints_changed = false;
	if (ret < 0) {
		/* the stream goes on in the buffers there are; waiting consumers hear why */
		if (!p->quiet)
			fprintf(stderr, "play: no new buffers for the consumers' constraints: %s\n",
				strerror(-ret));
		return 0;
	}
	p->generations++;
	if (!p->quiet)
		fprintf(stderr, "play: new buffers for the consumers' constraints: %u from %s\n",
			p->gen_count, dmapipe_allocator_get_name(p->gen_alloc));
	return 0;
}
