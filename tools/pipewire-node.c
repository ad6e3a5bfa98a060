/* SPDX-License-Identifier: MIT */
/*
 * The PipeWire node of `dmapipe pipewire`: a pw_stream whose buffers are
 * the producer's (see pipewire-node.h for the contract, docs/PIPEWIRE.md
 * for why it is built this way).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spa/buffer/meta.h>
#include <spa/param/video/format-utils.h>
#include <spa/utils/result.h>

#include "dmapipe-tool.h"
#include "pipewire-format.h"
#include "pipewire-node.h"

/* PipeWire 0.3.65 allocates at most 64 buffers per port (MAX_BUFFERS). */
#define MAX_SLOTS 64
/*
 * Buffers to ask PipeWire for, at least: consumers ask for a minimum
 * (pipewiresrc 8) that a producer with a pool of 4 does not reach, so
 * several PipeWire buffers may share one dmapipe buffer (see struct slot).
 */
#define MIN_PW_BUFFERS 8
/*
 * The newest frame is kept this long after it was queued when no newer
 * one came and no consumer holds it (a paused producer): long enough for
 * any consumer to have been given it.
 */
#define LAST_FRAME_NS (250 * 1000000ull)
/*
 * PipeWire 0.3.65 has no explicit sync for these consumers: a frame with
 * an acquire fence goes out once the fence signalled, waited for this
 * long at most, else dropped.
 */
#define FENCE_WAIT_MS 100
/* Stuck this long with every lease held: say why, once. */
#define STUCK_WARN_NS (2000 * 1000000ull)

/* One buffer of the dmapipe stream. */
struct stream_buffer {
	uint32_t id;                   /* the dmapipe buffer id */
	struct dmapipe_buffer *buffer; /* our reference: its fds are in PipeWire */
};

/*
 * One PipeWire buffer: the memory of one dmapipe buffer. Several PipeWire
 * buffers may share a dmapipe buffer, and never hold it at the same time:
 * the producer sends a buffer again only once its lease came back, which
 * is once PipeWire gave back the PipeWire buffer that carried it.
 */
struct slot {
	struct pw_buffer *pwb;         /* NULL once PipeWire removed it */
	struct spa_meta_busy *busy;    /* consumers that hold it, plus us; or NULL */
	struct stream_buffer *sb;
	struct dmapipe_frame *frame;   /* the lease, while PipeWire holds it or it waits */
	bool ours;                     /* dequeued: PipeWire does not hold it */
};

struct pipewire_node {
	struct pipewire_node_options opts;
	char *name, *description;
	struct dmapipe_client *client;
	struct pw_core *core;
	struct pw_loop *data_loop;
	struct pw_stream *stream;
	struct spa_hook listener;
	bool connected;
	enum pw_stream_state state;

	/* what the node offers: the client's format when it was offered */
	struct dmapipe_format offered;
	/* offered again for new buffers; PipeWire has not answered yet */
	bool renegotiating;

	/* the stream's buffers of the negotiated format, by id */
	struct stream_buffer sbufs[MAX_SLOTS];
	unsigned int n_sbufs;
	/* PipeWire's buffers, as PipeWire added them */
	struct slot slots[MAX_SLOTS];
	unsigned int n_slots;
	bool negotiated;
	bool warned_few_buffers;
	bool warned_refused;
	/* a frame waiting for PipeWire to take the one queued before it */
	struct slot *pending;
	/* inside a trigger: PipeWire calls process from there, which must not recurse */
	bool in_trigger;
	struct slot *newest;           /* the frame queued last */
	uint64_t last_queue_ns;
	bool warned_stuck;

	struct pipewire_node_stats stats;
};

static void release_frame(struct pipewire_node *node, struct slot *slot)
{
	if (!slot->frame)
		return;
	dmapipe_client_release_frame(node->client, slot->frame, -1);
	slot->frame = NULL;
	node->stats.leases--;
	if (node->pending == slot)
		node->pending = NULL;
	if (node->newest == slot)
		node->newest = NULL;
}

/* Releases a frame at once, not given to PipeWire, counted in @counter. */
static void drop_frame(struct pipewire_node *node, struct dmapipe_frame *frame,
		       uint64_t *counter)
{
	dmapipe_client_release_frame(node->client, frame, -1);
	node->stats.leases--;
	(*counter)++;
}

/* A PipeWire buffer we hold for the dmapipe buffer @id with @buffer, or NULL. */
static struct slot *find_slot(struct pipewire_node *node, uint32_t id,
			      const struct dmapipe_buffer *buffer)
{
	for (unsigned int i = 0; i < node->n_slots; i++) {
		struct slot *s = &node->slots[i];

		if (s->pwb && s->ours && !s->frame && s->sb->id == id && s->sb->buffer == buffer)
			return s;
	}
	return NULL;
}

static void clear_slots(struct pipewire_node *node)
{
	for (unsigned int i = 0; i < node->n_slots; i++) {
		struct slot *s = &node->slots[i];

		release_frame(node, s);
		if (s->pwb)
			s->pwb->user_data = NULL;
	}
	for (unsigned int i = 0; i < node->n_sbufs; i++)
		dmapipe_buffer_unref(node->sbufs[i].buffer);
	memset(node->slots, 0, sizeof(node->slots));
	memset(node->sbufs, 0, sizeof(node->sbufs));
	node->n_slots = 0;
	node->n_sbufs = 0;
	node->pending = NULL;
	node->newest = NULL;
	node->stats.buffers = 0;
}

static uint32_t queued_in_stream(struct pipewire_node *node)
{
	struct pw_time t;

	memset(&t, 0, sizeof(t));
	if (pw_stream_get_time_n(node->stream, &t, sizeof(t)) < 0)
		return 0;
	return t.queued_buffers;
}

/* Waits until the data thread has run what was invoked on it before. */
static int barrier(struct spa_loop *loop, bool async, uint32_t seq, const void *data,
		   size_t size, void *user_data)
{
	return 0;
}

static void collect_returned(struct pipewire_node *node);

static void trigger(struct pipewire_node *node)
{
	int ret;

	node->in_trigger = true;
	ret = pw_stream_trigger_process(node->stream);
	if (ret < 0)
		tool_warn("cannot start a graph cycle: %s", spa_strerror(ret));
	/*
	 * The cycle hands back the buffer of the cycle before (PipeWire
	 * returns a buffer at the next cycle); once the data thread has run
	 * it, its lease can go back to the producer at once.
	 */
	pw_loop_invoke(node->data_loop, barrier, 0, NULL, 0, true, NULL);
	node->in_trigger = false;
}

static void queue_slot(struct pipewire_node *node, struct slot *slot)
{
	const struct dmapipe_layout *layout = dmapipe_buffer_get_layout(slot->sb->buffer);
	const struct dmapipe_frame_meta *meta = &slot->frame->meta;
	struct spa_buffer *buf = slot->pwb->buffer;
	struct spa_meta_header *h;
	int ret;

	for (unsigned int p = 0; p < buf->n_datas && p < layout->n_planes; p++) {
		struct spa_chunk *c = buf->datas[p].chunk;
		uint64_t size = dmapipe_layout_plane_size(layout, p);

		if (meta->bytes_used[p] && meta->bytes_used[p] < size)
			size = meta->bytes_used[p];
		c->offset = (uint32_t)layout->planes[p].offset;
		c->size = (uint32_t)size;
		c->stride = (int32_t)layout->planes[p].stride;
		c->flags = meta->flags & DMAPIPE_FRAME_CORRUPTED ? SPA_CHUNK_FLAG_CORRUPTED : 0;
	}
	h = spa_buffer_find_meta_data(buf, SPA_META_Header, sizeof(*h));
	if (h) {
		h->flags = meta->flags & DMAPIPE_FRAME_DISCONTINUITY ? SPA_META_HEADER_FLAG_DISCONT : 0;
		if (meta->flags & DMAPIPE_FRAME_CORRUPTED)
			h->flags |= SPA_META_HEADER_FLAG_CORRUPTED;
		h->offset = 0;
		/* both clocks are CLOCK_MONOTONIC */
		h->pts = meta->timestamp_ns ? (int64_t)meta->timestamp_ns : -1;
		h->dts_offset = 0;
		h->seq = meta->sequence;
	}
	if (node->pending == slot)
		node->pending = NULL;
	ret = pw_stream_queue_buffer(node->stream, slot->pwb);
	if (ret < 0) {
		tool_warn("cannot queue buffer %u: %s", slot->sb->id, spa_strerror(ret));
		release_frame(node, slot);
		node->stats.dropped_no_buffer++;
		return;
	}
	slot->ours = false;
	node->newest = slot;
	node->stats.frames_queued++;
	node->last_queue_ns = now_ns();
	if (pw_stream_is_driving(node->stream)) {
		trigger(node);
		collect_returned(node);
	}
}

/*
 * Whether PipeWire is done with a buffer it handed back. As a driver,
 * PipeWire 0.3.65 runs the node twice per cycle (it starts the cycle, and
 * is scheduled in it), and the second run hands back the buffer the first
 * one sent, possibly before the consumer even took it. So a buffer counts
 * as given back only once a newer frame went out after it (or it waited
 * long enough with none), and no consumer holds it: every pw_stream
 * negotiates SPA_META_Busy, whose count is the consumers that hold the
 * buffer plus one for us, since we dequeued it.
 */
static bool done_with(struct pipewire_node *node, struct slot *slot, uint64_t now)
{
	if (slot == node->pending)
		return false;
	if (slot == node->newest && now - node->last_queue_ns < LAST_FRAME_NS)
		return false;
	return !slot->busy || __atomic_load_n(&slot->busy->count, __ATOMIC_SEQ_CST) <= 1;
}

/*
 * Takes every buffer PipeWire handed back and returns the leases of those
 * it is done with to the producer; then hands on a frame that waited, once
 * PipeWire took the one before it.
 */
static void collect_returned(struct pipewire_node *node)
{
	uint64_t now = now_ns();

	if (!node->negotiated)
		return;
	for (;;) {
		struct pw_buffer *pwb = pw_stream_dequeue_buffer(node->stream);
		struct slot *slot;

		if (!pwb)
			break;
		slot = pwb->user_data;
		if (slot)
			slot->ours = true;
	}
	for (unsigned int i = 0; i < node->n_slots; i++) {
		struct slot *slot = &node->slots[i];

		if (slot->ours && slot->frame && done_with(node, slot, now)) {
			release_frame(node, slot);
			node->stats.frames_returned++;
		}
	}
	if (node->pending && !node->in_trigger && queued_in_stream(node) == 0)
		queue_slot(node, node->pending);
}

static void handle_frame(struct pipewire_node *node, struct dmapipe_frame *frame)
{
	struct slot *slot;

	node->stats.frames_received++;
	if (++node->stats.leases > node->stats.leases_max)
		node->stats.leases_max = node->stats.leases;
	collect_returned(node);
	if (node->state != PW_STREAM_STATE_STREAMING || !node->negotiated) {
		drop_frame(node, frame, &node->stats.dropped_unlinked);
		return;
	}
	slot = find_slot(node, frame->buffer_id, frame->buffer);
	if (!slot) {
		drop_frame(node, frame, &node->stats.dropped_no_buffer);
		return;
	}
	if (frame->meta.acquire_fence >= 0) {
		struct pollfd pfd = { .fd = frame->meta.acquire_fence, .events = POLLIN };

		if (poll(&pfd, 1, FENCE_WAIT_MS) != 1) {
			drop_frame(node, frame, &node->stats.dropped_fence);
			return;
		}
	}
	if (node->pending) {
		release_frame(node, node->pending);
		node->stats.dropped_replaced++;
	}
	slot->frame = frame;
	/*
	 * PipeWire would deliver everything queued, in order, one per cycle:
	 * a frame waits here instead while the previous one was not taken,
	 * and a newer frame replaces it (the `latest` policy, at this end).
	 */
	if (!node->in_trigger && queued_in_stream(node) == 0)
		queue_slot(node, slot);
	else
		node->pending = slot;
}

/* ---- negotiation --------------------------------------------------------- */

static int offer_format(struct pipewire_node *node, const struct dmapipe_format *format,
			bool dmabuf)
{
	uint8_t storage[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
	const struct spa_pod *params[2];
	int n;

	n = pipewire_format_enum_params(&b, format, dmabuf, node->opts.fps_num,
					node->opts.fps_den, params, 2);
	if (n < 0)
		return n;
	node->offered = *format;
	if (!node->connected) {
		int ret;

		ret = pw_stream_connect(node->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
					PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_ALLOC_BUFFERS,
					params, (uint32_t)n);
		if (ret < 0)
			return ret;
		node->connected = true;
		return 0;
	}
	return pw_stream_update_params(node->stream, params, (uint32_t)n);
}

/*
 * The client's buffers or format differ from what PipeWire has: offer the
 * format again, which makes PipeWire 0.3.65 renegotiate the link, format
 * and buffers (a changed Buffers parameter alone does not). Bounded, and
 * each one logged, so a producer that keeps changing cannot keep the
 * graph renegotiating.
 */
static int renegotiate(struct pipewire_node *node, const char *why)
{
	const struct dmapipe_format *format = dmapipe_client_get_format(node->client);
	struct dmapipe_buffer *bufs[1];
	uint32_t ids[1];
	bool dmabuf;
	int ret;

	if (!format || dmapipe_client_get_buffers(node->client, ids, bufs, 1) < 1)
		return 0;
	if (node->stats.renegotiations >= node->opts.max_renegotiations) {
		node->stats.renegotiations_refused++;
		if (!node->warned_refused)
			tool_warn("not renegotiating (%s): %u renegotiations already; frames in "
				  "buffers PipeWire does not have are dropped", why,
				  node->opts.max_renegotiations);
		node->warned_refused = true;
		return 0;
	}
	node->stats.renegotiations++;
	node->renegotiating = true;
	fprintf(stderr, "pipewire: renegotiating (%s), %llu of at most %u\n", why,
		(unsigned long long)node->stats.renegotiations, node->opts.max_renegotiations);
	dmabuf = dmapipe_buffer_get_mem_kind(bufs[0]) == DMAPIPE_MEM_DMABUF;
	ret = offer_format(node, format, dmabuf);
	if (ret < 0)
		tool_warn("cannot offer the new format: %s", spa_strerror(ret));
	return ret;
}

/* Whether the client's buffers are the slots' (same ids, same objects). */
static bool buffers_match(struct pipewire_node *node)
{
	struct dmapipe_buffer *bufs[MAX_SLOTS];
	uint32_t ids[MAX_SLOTS];
	int n = dmapipe_client_get_buffers(node->client, ids, bufs, MAX_SLOTS);

	if (n > MAX_SLOTS)
		n = MAX_SLOTS;
	if ((unsigned int)n != node->n_sbufs)
		return false;
	for (int i = 0; i < n; i++)
		if (node->sbufs[i].id != ids[i] || node->sbufs[i].buffer != bufs[i])
			return false;
	return true;
}

static void on_param_changed(void *data, uint32_t id, const struct spa_pod *param)
{
	struct pipewire_node *node = data;
	const struct dmapipe_format *format = dmapipe_client_get_format(node->client);
	struct dmapipe_buffer *bufs[MAX_SLOTS];
	uint32_t ids[MAX_SLOTS];
	uint8_t storage[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
	const struct spa_pod *params[2];
	const char *why = NULL;
	int n, n_params;

	if (id != SPA_PARAM_Format)
		return;
	node->renegotiating = false;
	/* PipeWire removed the old buffers (and their leases) before this */
	clear_slots(node);
	node->negotiated = false;
	if (!param)
		return;
	node->stats.formats++;
	if (!format || pipewire_format_check(param, format, &why) < 0) {
		/*
		 * The stream moved on since the format was offered: the new
		 * offer follows (renegotiate() from the client's side).
		 */
		tool_warn("PipeWire set a format that is not the stream's (%s); waiting for the "
			  "next one", why ? why : "no format");
		return;
	}
	n = dmapipe_client_get_buffers(node->client, ids, bufs, MAX_SLOTS);
	if (n <= 0)
		return;
	if (n > MAX_SLOTS)
		n = MAX_SLOTS;
	for (int i = 0; i < n; i++) {
		node->sbufs[i].id = ids[i];
		node->sbufs[i].buffer = dmapipe_buffer_ref(bufs[i]);
	}
	node->n_sbufs = (unsigned int)n;
	node->stats.modifier = pipewire_format_has_modifier(param);
	node->stats.data_type = dmapipe_buffer_get_mem_kind(bufs[0]) == DMAPIPE_MEM_DMABUF ?
				SPA_DATA_DmaBuf : SPA_DATA_MemFd;
	n_params = pipewire_format_buffer_params(&b, dmapipe_buffer_get_layout(bufs[0]),
						 node->n_sbufs, MIN_PW_BUFFERS, MAX_SLOTS,
						 node->stats.data_type, params, 2);
	if (n_params < 0) {
		pw_stream_set_error(node->stream, n_params, "cannot describe the buffers");
		return;
	}
	node->negotiated = true;
	if (node->opts.verbose)
		fprintf(stderr, "pipewire: format agreed (%s), the stream's %u buffers as %s\n",
			node->stats.modifier ? "with the modifier" : "no modifier", node->n_sbufs,
			node->stats.data_type == SPA_DATA_DmaBuf ? "DmaBuf" : "MemFd");
	pw_stream_update_params(node->stream, params, (uint32_t)n_params);
}

static void on_add_buffer(void *data, struct pw_buffer *pwb)
{
	struct pipewire_node *node = data;
	struct spa_buffer *buf = pwb->buffer;
	const struct dmapipe_layout *layout;
	struct slot *slot;

	pwb->user_data = NULL;
	if (node->n_slots >= MAX_SLOTS || !node->n_sbufs) {
		tool_warn("PipeWire added a buffer the stream has no memory for");
		return;
	}
	slot = &node->slots[node->n_slots];
	/* round robin: each dmapipe buffer gets as many PipeWire buffers as the others */
	slot->sb = &node->sbufs[node->n_slots % node->n_sbufs];
	node->n_slots++;
	layout = dmapipe_buffer_get_layout(slot->sb->buffer);
	if (buf->n_datas < layout->n_planes) {
		tool_warn("PipeWire's buffer has %u data blocks for %u planes", buf->n_datas,
			  layout->n_planes);
		return;
	}
	for (unsigned int p = 0; p < buf->n_datas; p++) {
		struct spa_data *d = &buf->datas[p];
		const struct dmapipe_plane *plane = &layout->planes[p < layout->n_planes ? p : 0];
		const struct dmapipe_object *obj = &layout->objects[plane->object];

		if (!(d->type & (1u << node->stats.data_type))) {
			tool_warn("the consumer does not take %s buffers",
				  node->stats.data_type == SPA_DATA_DmaBuf ? "DmaBuf" : "MemFd");
			return;
		}
		/*
		 * The whole object, the plane by the chunk's offset: what
		 * consumers that import dma-bufs pass on (fd, offset, stride)
		 * and what mapping consumers add to the mapping.
		 */
		d->type = node->stats.data_type;
		d->flags = SPA_DATA_FLAG_READABLE;
		d->fd = obj->fd;
		d->mapoffset = 0;
		d->maxsize = (uint32_t)obj->size;
		d->data = NULL;
	}
	slot->pwb = pwb;
	slot->busy = spa_buffer_find_meta_data(buf, SPA_META_Busy, sizeof(*slot->busy));
	slot->ours = false; /* in the stream's queue of free buffers until dequeued */
	pwb->user_data = slot;
	node->stats.buffers++;
}

static void on_remove_buffer(void *data, struct pw_buffer *pwb)
{
	struct pipewire_node *node = data;
	struct slot *slot = pwb->user_data;

	if (!slot)
		return;
	release_frame(node, slot);
	slot->pwb = NULL;
	slot->busy = NULL;
	slot->ours = false;
	pwb->user_data = NULL;
	if (node->stats.buffers)
		node->stats.buffers--;
}

static void on_process(void *data)
{
	struct pipewire_node *node = data;

	/* while driving, frames start the cycles; this is a follower's cue */
	if (!node->in_trigger)
		collect_returned(node);
}

static void on_state_changed(void *data, enum pw_stream_state old,
			     enum pw_stream_state state, const char *error)
{
	struct pipewire_node *node = data;

	node->state = state;
	node->stats.driving = pw_stream_is_driving(node->stream);
	/* an error ends the command, which says it once (dmapipe pipewire's tick) */
	if (state != PW_STREAM_STATE_ERROR && node->opts.verbose)
		fprintf(stderr, "pipewire: node %s -> %s%s\n", pw_stream_state_as_string(old),
			pw_stream_state_as_string(state),
			node->stats.driving ? " (driving the graph)" : "");
	if (state != PW_STREAM_STATE_STREAMING)
		return;
	if (node->stats.buffers < node->n_sbufs && !node->warned_few_buffers) {
		tool_warn("PipeWire made %u buffers for the stream's %u; frames in the others are "
			  "dropped", node->stats.buffers, node->n_sbufs);
		node->warned_few_buffers = true;
	}
	collect_returned(node);
}

static const struct pw_stream_events stream_events = {
	PW_VERSION_STREAM_EVENTS,
	.state_changed = on_state_changed,
	.param_changed = on_param_changed,
	.add_buffer = on_add_buffer,
	.remove_buffer = on_remove_buffer,
	.process = on_process,
};

/* ---- the node's life ----------------------------------------------------- */

struct pipewire_node *pipewire_node_new(struct pw_core *core, struct dmapipe_client *client,
					const struct pipewire_node_options *options)
{
	struct pipewire_node *node = calloc(1, sizeof(*node));
	struct pw_properties *props;
	struct pw_context *context = pw_core_get_context(core);

	if (!node)
		return NULL;
	node->opts = *options;
	node->name = strdup(options->name);
	node->description = strdup(options->description ? options->description : options->name);
	if (!node->name || !node->description)
		goto fail;
	node->client = client;
	node->core = core;
	node->data_loop = pw_data_loop_get_loop(pw_context_get_data_loop(context));
	node->state = PW_STREAM_STATE_UNCONNECTED;
	props = pw_properties_new(PW_KEY_MEDIA_TYPE, "Video",
				  PW_KEY_MEDIA_CATEGORY, "Capture",
				  PW_KEY_MEDIA_ROLE, "Camera",
				  PW_KEY_MEDIA_CLASS, "Video/Source",
				  PW_KEY_NODE_NAME, node->name,
				  PW_KEY_NODE_DESCRIPTION, node->description,
				  NULL);
	if (!props)
		goto fail;
	node->stream = pw_stream_new(core, node->name, props);
	if (!node->stream)
		goto fail;
	pw_stream_add_listener(node->stream, &node->listener, &stream_events, node);
	return node;
fail:
	free(node->name);
	free(node->description);
	free(node);
	return NULL;
}

void pipewire_node_free(struct pipewire_node *node)
{
	if (!node)
		return;
	if (node->stream) {
		/* removes PipeWire's buffers, which releases their leases */
		pw_stream_disconnect(node->stream);
		spa_hook_remove(&node->listener);
		pw_stream_destroy(node->stream);
	}
	clear_slots(node);
	free(node->name);
	free(node->description);
	free(node);
}

int pipewire_node_client_ready(struct pipewire_node *node)
{
	const struct dmapipe_format *format = dmapipe_client_get_format(node->client);
	struct dmapipe_frame *frame;
	int ret = 0;

	if (!node->connected) {
		struct dmapipe_buffer *bufs[1];
		uint32_t ids[1];

		if (format && dmapipe_client_get_buffers(node->client, ids, bufs, 1) > 0) {
			ret = offer_format(node, format, dmapipe_buffer_get_mem_kind(bufs[0]) ==
							 DMAPIPE_MEM_DMABUF);
			if (ret < 0)
				return ret;
		}
	} else if (format && memcmp(format, &node->offered, sizeof(*format)) != 0) {
		ret = renegotiate(node, "the producer changed the format");
	} else if (node->negotiated && !node->renegotiating && !buffers_match(node)) {
		ret = renegotiate(node, "the producer added or removed buffers");
	}
	while ((frame = dmapipe_client_acquire_frame(node->client)))
		handle_frame(node, frame);
	return ret;
}

void pipewire_node_tick(struct pipewire_node *node)
{
	uint64_t now = now_ns();

	if (!node->negotiated || node->state != PW_STREAM_STATE_STREAMING)
		return;
	collect_returned(node);
	if (pw_stream_is_driving(node->stream) && queued_in_stream(node) > 0) {
		/* the graph was still busy with the last cycle when it was queued */
		node->stats.retriggers++;
		trigger(node);
		collect_returned(node);
	}
	if (node->stats.leases && node->stats.leases == node->stats.leases_max &&
	    now - node->last_queue_ns > STUCK_WARN_NS && !node->warned_stuck) {
		tool_warn("PipeWire's consumers hold all %u frames the producer lets this consumer "
			  "hold, so it sends no more until they let one go; a producer that grants "
			  "more (dmapipe serve --max-in-flight 4) leaves room", node->stats.leases);
		node->warned_stuck = true;
	}
}

enum pw_stream_state pipewire_node_get_state(const struct pipewire_node *node,
					     const char **error)
{
	return pw_stream_get_state(node->stream, error);
}

uint32_t pipewire_node_get_id(const struct pipewire_node *node)
{
	return pw_stream_get_node_id(node->stream);
}

void pipewire_node_get_stats(const struct pipewire_node *node, struct pipewire_node_stats *stats)
{
	*stats = node->stats;
}
