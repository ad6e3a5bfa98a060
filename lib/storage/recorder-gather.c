/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Packet groups (docs/FORMAT.md, "Packet groups"): the packets of a
 * compressed stream, a few KiB each, copied back to back into one aligned
 * buffer and written with one request, the group's descriptor at its end.
 * One record per packet would cost a header block and a padded block
 * each: a 1 Mbit/s recording 2-4 times the size of its bitstream.
 *
 * The copy is what makes one request possible: O_DIRECT takes no
 * unaligned pieces of several buffers. It is bitstream, not pixels, so it
 * is counted apart (bytes_gathered) and strict mode does not refuse it;
 * in exchange the packet's buffer goes back at once (its release callback
 * runs in the next dispatch), and its done callback follows the group's
 * write, as a frame's follows its header's.
 *
 * Crash safety without an order between the packets and their descriptor
 * inside one request: the descriptor ends the record, so a request cut
 * short loses it rather than orphaning it, and every packet carries the
 * CRC32C of its bytes, so the pieces of a request the kernel split and
 * only partly wrote are told apart by the reader.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "recorder-private.h"

#if HAVE_LIBURING

static uint64_t gather_ns(const struct dmapipe_recorder *rec)
{
	return (uint64_t)rec->opts.gather_ms * 1000000u;
}

/* The record of a group of @n packets holding @payload bytes. */
static uint64_t group_record_size(const struct dmapipe_recorder *rec, uint64_t payload, uint32_t n)
{
	return ALIGN_UP(payload + rec_group_descriptor_size(n), (uint64_t)rec->block);
}

static uint64_t group_cap(const struct dmapipe_recorder *rec)
{
	return ALIGN_UP(rec->opts.gather_bytes, (uint64_t)rec->block);
}

bool recorder_gatherable(const struct dmapipe_recorder *rec, const struct dmapipe_buffer *buf,
			 const struct dmapipe_frame_meta *meta, bool signalled)
{
	const struct dmapipe_layout *l = &buf->layout;
	uint64_t len = meta->bytes_used[0];

	return rec->opts.gather_bytes && signalled && !dmapipe_format_plane_count(l->format.fourcc) &&
	       l->n_objects == 1 && l->n_planes == 1 && l->planes[0].offset == 0 && len > 0 &&
	       len <= UINT32_MAX && len <= buf->map_size[0] &&
	       group_record_size(rec, len, 1) <= group_cap(rec);
}

void recorder_group_free(struct dmapipe_recorder *rec, struct rec_group *g)
{
	if (!g)
		return;
	storage_staging_put(&rec->staging, g->buf, g->buf_size);
	free(g->desc.packets);
	free(g->gathered);
	free(g);
}

static void free_open_group(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	rec->in_flight--;
	rec->in_flight_bytes -= f->size;
	recorder_group_free(rec, f->group);
	free(f);
}

/*
 * A new open group for packets of layout @rl, its memory within the
 * recorder's budget: 0, -EAGAIN (the budget is spent), -ENOMEM.
 */
static int open_group(struct dmapipe_recorder *rec, const struct rec_layout *rl)
{
	uint64_t cap = group_cap(rec);
	struct rec_frame *f;
	struct rec_group *g;
	int idx;

	if (rec->in_flight > 0 && (rec->in_flight >= rec->opts.max_frames ||
				   rec->in_flight_bytes + cap > rec->opts.max_bytes))
		return -EAGAIN;
	if (recorder_cache_full(rec, cap))
		return -EAGAIN;
	idx = rec_index_add_layout(&rec->ix, rl);
	if (idx < 0)
		return idx;
	f = calloc(1, sizeof(*f));
	g = calloc(1, sizeof(*g));
	if (!f || !g) {
		free(f);
		free(g);
		return -ENOMEM;
	}
	f->fence = -1;
	f->group = g;
	f->size = cap; /* what it holds of the budget until it is written */
	g->cap = cap;
	g->buf = storage_staging_get(&rec->staging, (size_t)cap, rec->mem_align, &g->buf_size);
	g->desc.layout = *rl;
	g->desc.layout_index = (uint32_t)idx;
	memcpy(g->desc.id, rec->id, sizeof(g->desc.id));
	rec->in_flight++;
	rec->in_flight_bytes += cap;
	rec->open_group = f;
	if (!g->buf) {
		rec->open_group = NULL;
		free_open_group(rec, f);
		return -ENOMEM;
	}
	return 0;
}

static int grow_packets(struct rec_group *g)
{
	uint32_t n = g->cap_packets ? 2 * g->cap_packets : 32;
	struct rec_group_packet *p;
	struct rec_gathered *k;

	p = realloc(g->desc.packets, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	g->desc.packets = p;
	k = realloc(g->gathered, n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	g->gathered = k;
	g->cap_packets = n;
	return 0;
}

int recorder_gather(struct dmapipe_recorder *rec, struct dmapipe_buffer *buf,
		    const struct dmapipe_frame_meta *meta, void *frame_data)
{
	uint32_t len = (uint32_t)meta->bytes_used[0];
	struct rec_frame *f = rec->open_group;
	struct rec_group_packet *p;
	struct rec_gathered *k;
	struct rec_layout rl;
	struct rec_group *g;
	bool opened = false;
	uint64_t t0;
	int ret;

	/* the packet's buffer as it is, whole: every packet of a buffer pool shares it */
	recorder_layout(rec, buf, NULL, &rl);
	if (f) {
		g = f->group;
		if (!rec_layout_equal(&rl, &g->desc.layout) ||
		    meta->timestamp_ns >= g->first_ts + gather_ns(rec) ||
		    dmapipe_now_ns() >= g->first_ns + gather_ns(rec) ||
		    group_record_size(rec, (uint64_t)g->desc.payload + len, g->desc.n_packets + 1) >
		    g->cap)
			recorder_flush_group(rec);
	}
	if (!rec->open_group) {
		ret = open_group(rec, &rl);
		if (ret < 0)
			return ret;
		opened = true;
	}
	f = rec->open_group;
	g = f->group;
	ret = recorder_reserve_space(rec, rec->write_pos +
				     group_record_size(rec, (uint64_t)g->desc.payload + len,
						       g->desc.n_packets + 1));
	if (ret == 0 && g->desc.n_packets == g->cap_packets)
		ret = grow_packets(g);
	if (ret == 0)
		ret = dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ);
	if (ret < 0) {
		if (opened) {
			rec->open_group = NULL;
			free_open_group(rec, f);
		}
		return ret;
	}
	memcpy(g->buf + g->desc.payload, buf->map[0], len);
	dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ);
	/* from the recorder's own copy: the CPU reads it hot */
	t0 = recorder_thread_cpu_ns();
	p = &g->desc.packets[g->desc.n_packets];
	p->crc = rec_crc32c(0, g->buf + g->desc.payload, len);
	rec->stats.checksum_ns += recorder_thread_cpu_ns() - t0;
	rec->stats.frames_checksummed++;
	p->sequence = meta->sequence;
	p->timestamp_ns = meta->timestamp_ns;
	p->frame_flags = meta->flags;
	p->length = len;
	k = &g->gathered[g->desc.n_packets];
	k->frame_data = frame_data;
	k->submit_ns = dmapipe_now_ns();
	k->record_flags = DMAPIPE_RECORDED_GROUPED | DMAPIPE_RECORDED_CHECKSUM |
			  (g->desc.n_packets == 0 ? recorder_note_layout(rec, &rl) : 0);
	if (k->record_flags & DMAPIPE_RECORDED_FORMAT_CHANGE)
		rec->stats.format_changes++;
	if (g->desc.n_packets == 0) {
		g->first_ts = meta->timestamp_ns;
		g->first_ns = k->submit_ns;
	}
	g->desc.n_packets++;
	g->desc.payload += len;
	rec->packets_pending++;
	rec->stats.frames_gathered++;
	rec->stats.bytes_gathered += len;
	/* the buffer is free now; its release callback runs from dispatch, as always */
	k->released = !rec->opts.release;
	if (!k->released) {
		g->unreleased++;
		rec->releases_due++;
		eventfd_write(rec->efd, 1);
	}
	return 0;
}

void recorder_flush_group(struct dmapipe_recorder *rec)
{
	struct rec_frame *f = rec->open_group;
	struct rec_group *g;
	uint64_t size, dsize;
	struct rec_op *op;

	if (!f)
		return;
	rec->open_group = NULL;
	g = f->group;
	dsize = rec_group_descriptor_size(g->desc.n_packets);
	size = group_record_size(rec, g->desc.payload, g->desc.n_packets);
	g->desc.offset = rec->write_pos;
	g->desc.record_size = size;
	g->desc.durable_end = rec->durable_end;
	memset(g->buf + g->desc.payload, 0, (size_t)(size - dsize - g->desc.payload));
	rec_group_encode(g->buf + size - dsize, &g->desc);

	f->offset = rec->write_pos;
	f->submit_ns = g->first_ns;
	rec->write_pos += size;
	op = &f->ops[f->n_ops++];
	op->kind = OP_OBJECT;
	op->frame = f;
	op->src = g->buf;
	op->file_off = f->offset;
	op->len = size;
	op->data_len = size;
	op->path = rec->direct ? DMAPIPE_RECORD_PATH_DIRECT : DMAPIPE_RECORD_PATH_BUFFERED;
	if (rec->tail)
		rec->tail->next = f;
	else
		rec->head = f;
	rec->tail = f;
	rec->groups = true;
	recorder_queue_falloc(rec, rec->write_pos + rec->prealloc_chunk / 2);
	recorder_start_frame(rec, f);
	storage_ring_flush(&rec->ring);
}

void recorder_flush_group_due(struct dmapipe_recorder *rec)
{
	if (rec->open_group &&
	    dmapipe_now_ns() >= rec->open_group->group->first_ns + gather_ns(rec))
		recorder_flush_group(rec);
}

/* The oldest gathered packet whose release callback is due, or NULL. */
static struct rec_gathered *next_release(struct dmapipe_recorder *rec, struct rec_group **gp)
{
	for (struct rec_frame *f = rec->head; ; f = f->next) {
		struct rec_group *g;

		if (!f)
			f = rec->open_group; /* last: the newest packets */
		if (!f)
			return NULL;
		g = f->group;
		if (g && g->unreleased) {
			for (uint32_t i = 0; i < g->desc.n_packets; i++) {
				if (!g->gathered[i].released) {
					*gp = g;
					return &g->gathered[i];
				}
			}
		}
		if (f == rec->open_group)
			return NULL;
	}
}

static void release(struct dmapipe_recorder *rec, struct rec_group *g, struct rec_gathered *k)
{
	k->released = true;
	g->unreleased--;
	rec->releases_due--;
	rec->opts.release(rec, k->frame_data, rec->opts.user_data);
}

void recorder_run_releases(struct dmapipe_recorder *rec)
{
	struct rec_gathered *k;
	struct rec_group *g;

	/* looked up afresh each time: a callback may submit, and so write a group */
	while (rec->releases_due && (k = next_release(rec, &g)))
		release(rec, g, k);
}

void recorder_complete_group(struct dmapipe_recorder *rec, struct rec_frame *f)
{
	struct rec_group *g = f->group;
	uint64_t pos = f->offset, now = dmapipe_now_ns();

	if (f->status == 0) {
		rec->stats.groups_written++;
		rec->data_end = MAX(rec->data_end, f->offset + g->desc.record_size);
		recorder_io_ok(rec);
	} else if (recorder_io_error_transient(rec, f->status)) {
		rec->stats.frames_io_errors += g->desc.n_packets;
		log_warn_ratelimited("record: a packet group of %u packets lost to a write error "
				     "(EIO): skipped, the recording goes on", g->desc.n_packets);
	} else if (f->status != -ECANCELED) {
		recorder_fail(rec, f->status);
	}
	for (uint32_t i = 0; i < g->desc.n_packets; i++) {
		const struct rec_group_packet *p = &g->desc.packets[i];
		struct rec_index_entry e = {
			.offset = pos,
			.record_size = p->length,
			.sequence = p->sequence,
			.timestamp_ns = p->timestamp_ns,
			.frame_flags = p->frame_flags,
			.record_flags = g->gathered[i].record_flags,
			.layout_index = g->desc.layout_index,
			.payload_crc = p->crc,
			.bytes_used = { p->length },
		};

		pos += p->length;
		if (f->status < 0) {
			rec->stats.frames_failed++;
			continue;
		}
		if (rec_index_add_entry(&rec->ix, &e) < 0)
			recorder_fail(rec, -ENOMEM);
		rec->stats.frames_written++;
		dmapipe_hist_add(&rec->write_latency, now - g->gathered[i].submit_ns);
	}
	f->complete = true;
	rec->packets_pending -= g->desc.n_packets;
	rec->in_flight--;
	rec->in_flight_bytes -= g->cap;
	storage_staging_put(&rec->staging, g->buf, g->buf_size);
	g->buf = NULL;
	for (uint32_t i = 0; i < g->desc.n_packets; i++) {
		struct rec_gathered *k = &g->gathered[i];

		if (!k->released)
			release(rec, g, k);
		rec->completed_in_dispatch++;
		if (rec->opts.done)
			rec->opts.done(rec, k->frame_data, f->status, rec->opts.user_data);
	}
}

#endif /* HAVE_LIBURING */
