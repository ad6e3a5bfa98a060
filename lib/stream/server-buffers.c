/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The buffers of a stream: slots (buffer ids), the server's own pool or
 * the application's registered buffers, format changes, and the frame
 * cycle dequeue -> draw -> queue.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "server-private.h"

int server_slot_of(const struct dmapipe_server *server, const struct dmapipe_buffer *buffer)
{
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer == buffer)
			return (int)i;
	return -1;
}

/* True if a consumer still holds a lease on buffer id @id. */
static bool id_leased(const struct dmapipe_server *server, uint32_t id)
{
	for (const struct consumer *c = server->consumers; c; c = c->next)
		for (unsigned int i = 0; i < c->n_leases; i++)
			if (c->leases[i].id == id)
				return true;
	return false;
}

/*
 * A free id. An id whose old buffer is still leased somewhere is not
 * reused yet: the consumer holding it must be able to release it by id.
 */
static int free_slot(struct dmapipe_server *server)
{
	for (unsigned int i = 0; i < MAX_SLOTS; i++)
		if (!server->slots[i].buffer && !id_leased(server, i))
			return (int)i;
	return -1;
}

void server_add_buffer_msg(struct dmapipe_msg *msg, uint32_t id, const struct dmapipe_buffer *b)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = DMAPIPE_MSG_ADD_BUFFER;
	msg->add_buffer.buffer_id = id;
	msg->add_buffer.layout = *dmapipe_buffer_get_layout(b);
}

/*
 * The most buffers the stream may have: max_buffers, and for the
 * server's own pool what pool_budget_bytes holds of them.
 */
unsigned int server_buffer_limit(const struct dmapipe_server *server)
{
	unsigned int limit = server->opts.max_buffers;

	if (server->pool && server->opts.pool_budget_bytes && server->buffer_bytes)
		limit = (unsigned int)MIN((uint64_t)limit,
					  server->opts.pool_budget_bytes / server->buffer_bytes);
	return limit;
}

unsigned int server_lease_budget(const struct dmapipe_server *server)
{
	unsigned int limit = server_buffer_limit(server);

	return limit > RESERVE_BUFFERS ? limit - RESERVE_BUFFERS : 0;
}

/* The kind of memory the stream's buffers are, or NONE before there are any. */
enum dmapipe_mem_kind server_mem_kind(const struct dmapipe_server *server)
{
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer)
			return dmapipe_buffer_get_mem_kind(server->slots[i].buffer);
	return DMAPIPE_MEM_NONE;
}

static void remove_slot(struct dmapipe_server *server, unsigned int id)
{
	struct dmapipe_msg msg;
	struct slot *s = &server->slots[id];

	if (s->retiring) {
		s->retiring = false;
		server->n_retiring--;
	}
	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_REMOVE_BUFFER;
	msg.remove_buffer_id = id;
	server_broadcast_control(server, &msg);
	if (!s->ours)
		dmapipe_buffer_unref(s->buffer);
	s->buffer = NULL;
	s->ours = false;
	while (server->n_slots > 0 && !server->slots[server->n_slots - 1].buffer)
		server->n_slots--;
}

static void drop_all_pending(struct dmapipe_server *server)
{
	for (struct consumer *c = server->consumers; c; c = c->next)
		while (c->n_pending > 0)
			consumer_drop_oldest(c);
}

static int set_format(struct dmapipe_server *server, const struct dmapipe_format *format)
{
	struct dmapipe_msg msg;

	if (!dmapipe_fourcc_is_supported(format->fourcc) && format->modifier == DMAPIPE_MOD_LINEAR)
		log_debug("format %08x is not one the library can draw or check", format->fourcc);
	server->format = *format;
	server->have_format = true;
	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_FORMAT;
	msg.format = *format;
	server_broadcast_control(server, &msg);
	server_broadcast_format_info(server);
	return 0;
}

DMAPIPE_EXPORT int dmapipe_server_set_format_info(struct dmapipe_server *server,
						  const struct dmapipe_format_info *info)
{
	const char *why;

	if (!server || dmapipe_format_info_check(info, &why) < 0) {
		if (info)
			log_warn("format info refused: %s", why);
		return -EINVAL;
	}
	server->format_info = *info;
	server->have_format_info = true;
	server_broadcast_format_info(server);
	return 0;
}

static int register_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer, bool ours)
{
	struct dmapipe_msg msg;
	int id = free_slot(server);

	if (id < 0)
		return -ENOSPC;
	if (dmapipe_buffer_get_mem_kind(buffer) == DMAPIPE_MEM_MEMFD) {
		struct consumer *c, *next;

		for (c = server->consumers; c; c = next) {
			next = c->next;
			if (c->state == STATE_STREAMING && c->role == DMAPIPE_ROLE_CONSUMER &&
			    !(c->features & DMAPIPE_FEATURE_MEMFD))
				consumer_close(c, DMAPIPE_ERR_STRICT,
					       "consumer takes only dma-bufs and the stream now has memfd buffers");
		}
	}
	server->slots[id].buffer = ours ? buffer : dmapipe_buffer_ref(buffer);
	server->slots[id].ours = ours;
	if ((unsigned int)id >= server->n_slots)
		server->n_slots = (unsigned int)id + 1;
	server_add_buffer_msg(&msg, (uint32_t)id, buffer);
	server_broadcast_control(server, &msg);
	return id;
}

static void name_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer, int id)
{
	char name[32];

	snprintf(name, sizeof(name), "%s:%s:%d", server->producer_name, server->stream_name, id);
	(void)dmapipe_buffer_set_name(buffer, name);
}

/* Bytes of one buffer of @format as the pool lays it out, 0 if unknown. */
static uint64_t format_bytes(const struct dmapipe_format *format)
{
	struct dmapipe_layout layout;
	uint64_t bytes = 0;

	if (dmapipe_layout_init(&layout, format, 0) < 0)
		return 0;
	for (uint32_t i = 0; i < layout.n_objects; i++)
		bytes += layout.objects[i].size;
	return bytes;
}

/*
 * -ENOSPC (logged) if @count buffers of @bytes each, or the fewest a
 * stream can work with, do not fit pool_budget_bytes.
 */
static int check_pool_budget(const struct dmapipe_server *server,
			     const struct dmapipe_format *format, unsigned int count, uint64_t bytes)
{
	uint64_t budget = server->opts.pool_budget_bytes;
	unsigned int need = MAX(count, RESERVE_BUFFERS + 1u);

	if (!budget || !bytes || budget / bytes >= need)
		return 0;
	log_error("%ux%u buffers of %llu bytes: %u of them need %llu bytes, over the pool budget "
		  "of %llu bytes (it holds %llu; a stream needs at least %u: %u for the producer, "
		  "1 for a consumer)", format->width, format->height, (unsigned long long)bytes,
		  need, (unsigned long long)(bytes * need), (unsigned long long)budget,
		  (unsigned long long)(budget / bytes), RESERVE_BUFFERS + 1, RESERVE_BUFFERS);
	return -ENOSPC;
}

int server_register_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer, bool ours)
{
	int id = register_buffer(server, buffer, ours);

	if (id >= 0)
		name_buffer(server, buffer, id);
	return id;
}

void server_remove_slot(struct dmapipe_server *server, unsigned int id)
{
	remove_slot(server, id);
}

DMAPIPE_EXPORT int dmapipe_server_alloc_buffers(struct dmapipe_server *server,
						struct dmapipe_allocator *allocator,
						const struct dmapipe_format *format,
						unsigned int count)
{
	struct dmapipe_constraints merged;
	struct dmapipe_pool *pool;
	uint64_t bytes;
	char drm_why[128] = "";
	int ret;

	if (!format || count == 0 || count > server->opts.max_buffers)
		return -EINVAL;
	bytes = format_bytes(format);
	ret = check_pool_budget(server, format, count, bytes);
	if (ret < 0)
		return ret;
	if (!allocator) {
		allocator = dmapipe_allocator_new_default();
		if (!allocator)
			return -errno;
	} else {
		dmapipe_allocator_ref(allocator);
	}
	if (server_wants_drm(server) && !allocator_is_drm(allocator)) {
		/* a consumer imports into a DRM device (docs/PROTOCOL.md section 13, rule 7) */
		struct dmapipe_allocator *drm = allocator_new_drm(drm_why, sizeof(drm_why));

		if (drm) {
			dmapipe_allocator_unref(allocator);
			allocator = drm;
		}
	}
	if (server_merged_constraints(server, &merged)) {
		struct dmapipe_layout layout;

		/* the consumers connected now get buffers they can use at once */
		ret = dmapipe_layout_init_constrained(&layout, format, &merged);
		count = MIN(MAX(count, merged.min_buffers + RESERVE_BUFFERS),
			    server->opts.max_buffers);
		pool = ret == 0 ? dmapipe_pool_new_layout(allocator, &layout, count, NULL) :
				  dmapipe_pool_new(allocator, format, count, NULL);
	} else {
		pool = dmapipe_pool_new(allocator, format, count, NULL);
	}
	if (!pool) {
		ret = -errno;
		dmapipe_allocator_unref(allocator);
		return ret;
	}
	if (!bytes) {
		/* a layout only the allocator knows: measure what it made */
		const struct dmapipe_layout *l = dmapipe_buffer_get_layout(dmapipe_pool_get_buffer(pool, 0));

		for (uint32_t i = 0; i < l->n_objects; i++)
			bytes += l->objects[i].size;
		ret = check_pool_budget(server, format, count, bytes);
		if (ret < 0) {
			dmapipe_pool_free(pool);
			dmapipe_allocator_unref(allocator);
			return ret;
		}
	}

	/* Replace whatever was there: pending frames of old buffers go,
	 * leases stay until released (consumers keep those buffers until then). */
	drop_all_pending(server);
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer)
			remove_slot(server, i);
	dmapipe_pool_free(server->pool);
	dmapipe_allocator_unref(server->allocator);
	server->pool = pool;
	server->buffer_bytes = bytes;
	server->allocator = allocator;

	set_format(server, format);
	for (unsigned int i = 0; i < count; i++) {
		struct dmapipe_buffer *b = dmapipe_pool_get_buffer(pool, i);

		ret = register_buffer(server, b, true);
		if (ret < 0) {
			server_reap(server);
			return ret;
		}
		name_buffer(server, b, ret);
	}
	if (drm_why[0])
		server_refuse_unmet_imports(server, drm_why);
	server_reap(server);
	log_info("%u buffers of %ux%u from allocator %s (%s)", count, format->width, format->height,
		 dmapipe_allocator_get_name(allocator),
		 dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(allocator)));
	return 0;
}

static bool server_has_buffers(const struct dmapipe_server *server)
{
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer)
			return true;
	return false;
}

DMAPIPE_EXPORT int dmapipe_server_add_buffer(struct dmapipe_server *server,
					     struct dmapipe_buffer *buffer)
{
	const struct dmapipe_layout *layout = dmapipe_buffer_get_layout(buffer);
	int id;

	if (server_slot_of(server, buffer) >= 0)
		return -EEXIST;
	if (server->pool) {
		log_error("add_buffer: the stream already uses buffers allocated by the server");
		return -EBUSY;
	}
	/* a new format starts once every buffer of the old one was removed */
	if (!server->have_format || !server_has_buffers(server))
		set_format(server, &layout->format);
	else if (memcmp(&server->format, &layout->format, sizeof(layout->format)) != 0)
		return -EINVAL;
	id = register_buffer(server, buffer, false);
	if (id >= 0)
		name_buffer(server, buffer, id);
	server_reap(server);
	return id;
}

DMAPIPE_EXPORT void dmapipe_server_set_idle_callback(struct dmapipe_server *server,
						     dmapipe_server_idle_func func, void *data)
{
	server->idle_func = func;
	server->idle_data = data;
}

DMAPIPE_EXPORT int dmapipe_server_remove_buffer(struct dmapipe_server *server,
						struct dmapipe_buffer *buffer)
{
	int id = server_slot_of(server, buffer);

	if (id < 0 || server->slots[id].ours)
		return -ENOENT;
	/* pending frames of this buffer are dropped; leases keep their refs */
	for (struct consumer *c = server->consumers; c; c = c->next) {
		unsigned int n = c->n_pending;

		for (unsigned int i = 0; i < n; i++) {
			struct pending p = c->pending[c->pending_head];

			c->pending_head = (c->pending_head + 1) % MAX_QUEUE_CAP;
			c->n_pending--;
			if (p.id == (uint32_t)id) {
				dmapipe_close(p.meta.acquire_fence);
				dmapipe_buffer_unref(p.buffer);
				c->frames_dropped++;
				server->stats.frames_dropped++;
			} else {
				c->pending[(c->pending_head + c->n_pending) % MAX_QUEUE_CAP] = p;
				c->n_pending++;
			}
		}
	}
	remove_slot(server, (unsigned int)id);
	server_reap(server);
	return 0;
}

/* True if a block-policy consumer has no room for another frame. */
static bool blocked(const struct dmapipe_server *server)
{
	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (c->state == STATE_STREAMING && c->role == DMAPIPE_ROLE_CONSUMER &&
		    c->policy == DMAPIPE_POLICY_BLOCK && c->n_pending >= c->queue_depth)
			return true;
	return false;
}

/* True if a block-policy consumer holds a frame: the producer may wait for it. */
static bool block_consumer_holds(const struct dmapipe_server *server)
{
	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (c->role == DMAPIPE_ROLE_CONSUMER && c->policy == DMAPIPE_POLICY_BLOCK &&
		    (c->n_pending > 0 || consumer_held(c) > 0))
			return true;
	return false;
}

/*
 * The safety net under the lease budget: the consumer (not a block one)
 * holding the oldest lease, which an honest consumer that releases within
 * frames never is while another hoards. NULL if none holds a lease.
 */
static struct consumer *oldest_lease_holder(const struct dmapipe_server *server)
{
	struct consumer *oldest = NULL;
	uint64_t oldest_ns = UINT64_MAX;

	for (struct consumer *c = server->consumers; c; c = c->next) {
		if (c->role != DMAPIPE_ROLE_CONSUMER || c->policy == DMAPIPE_POLICY_BLOCK)
			continue;
		for (unsigned int i = 0; i < c->n_leases; i++) {
			if (c->leases[i].sent_ns < oldest_ns) {
				oldest_ns = c->leases[i].sent_ns;
				oldest = c;
			}
		}
	}
	return oldest;
}

/* dmapipe_server_dequeue() without freeing the consumers it closed. */
static struct dmapipe_buffer *dequeue_buffer(struct dmapipe_server *server)
{
	struct dmapipe_buffer *b;
	unsigned int size;

	if (!server->pool) {
		errno = ENOENT;
		return NULL;
	}
	/* releases in the consumers' rings wake nobody: they are taken here */
	server_collect_releases(server);
	if (blocked(server)) {
		errno = EAGAIN;
		return NULL;
	}
	b = dmapipe_pool_acquire(server->pool);
	if (b)
		return b;

	/* Frames not yet sent to latest/queue consumers are the producer's
	 * to take back: the newest frame is about to replace them anyway. */
	for (struct consumer *c = server->consumers; c; c = c->next) {
		if (c->policy == DMAPIPE_POLICY_BLOCK)
			continue;
		while (c->n_pending > 0) {
			consumer_drop_oldest(c);
			b = dmapipe_pool_acquire(server->pool);
			if (b)
				return b;
		}
	}

	/* Every buffer is leased: grow rather than slow down, up to the
	 * limit. The lease budget keeps consumers' leases below it. */
	size = dmapipe_pool_get_size(server->pool);
	if (size < server_buffer_limit(server) && dmapipe_pool_grow(server->pool, 1) == 0) {
		struct dmapipe_buffer *nb = dmapipe_pool_get_buffer(server->pool, size);
		int id = register_buffer(server, nb, true);

		if (id >= 0) {
			name_buffer(server, nb, id);
			log_info("all %u buffers are leased: grew the pool to %u", size, size + 1);
			return dmapipe_pool_acquire(server->pool);
		}
	}

	/*
	 * It cannot grow: the budget was outrun (frames the application
	 * holds, a format change under pool_budget_bytes). A block consumer
	 * asked the producer to wait for it; otherwise the oldest lease gives.
	 */
	while (!block_consumer_holds(server)) {
		struct consumer *victim = oldest_lease_holder(server);
		char why[96];

		if (!victim)
			break;
		snprintf(why, sizeof(why), "the producer needs a buffer and this consumer held the "
			 "oldest of %u leases", victim->n_leases);
		server->stats.leases_revoked++;
		consumer_close(victim, DMAPIPE_ERR_LEASE_REVOKED, why);
		b = dmapipe_pool_acquire(server->pool);
		if (b)
			return b;
	}
	errno = EAGAIN;
	return NULL;
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_server_dequeue(struct dmapipe_server *server)
{
	struct dmapipe_buffer *b = dequeue_buffer(server);
	int err = errno;

	/* the last free buffer, taken while the loop sleeps: releases matter now */
	if (b && server->asleep && dmapipe_pool_get_free(server->pool) == 0)
		server_sleep_changed(server);
	server_reap(server);
	errno = err;
	return b;
}

static void *dequeue(void *server)
{
	return dmapipe_server_dequeue(server);
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_server_dequeue_wait(struct dmapipe_server *server,
								  int timeout_ms)
{
	struct dmapipe_buffer *b;
	int err;

	server->waiting++;
	b = dmapipe_wait_for(dequeue, server_wait_dispatch, server, timeout_ms);
	err = errno;
	server->waiting--;
	errno = err;
	return b;
}

DMAPIPE_EXPORT int dmapipe_server_queue(struct dmapipe_server *server, struct dmapipe_buffer *buffer,
					const struct dmapipe_frame_meta *meta)
{
	struct consumer *c, *next;
	int id = server_slot_of(server, buffer);
	int fence = meta ? meta->acquire_fence : -1;
	bool waits = false;
	int count = 0;

	if (id < 0) {
		dmapipe_close(fence);
		dmapipe_buffer_unref(buffer);
		log_error("queue: buffer is not registered with this stream");
		return -ENOENT;
	}
	/*
	 * Releases in the rings wake nobody (unless the loop waits for them):
	 * an application that queues its own buffers never dequeues, where
	 * they are taken, so they are taken here, and its buffers come back
	 * and the consumers have room before the frame is handed out. A
	 * buffer of the pool was just dequeued, which took them: a second
	 * look would only cost a cache line the consumer may have written.
	 */
	if (!server->slots[id].ours)
		server_collect_releases(server);
	if (!server->slots[id].ours && server_buffer_in_use(server, buffer)) {
		dmapipe_close(fence);
		dmapipe_buffer_unref(buffer);
		log_error("queue: buffer %d is still held by a consumer", id);
		return -EBUSY;
	}
	if (fence >= 0 && !dmapipe_fd_is_sync_file(fence)) {
		dmapipe_close(fence);
		dmapipe_buffer_unref(buffer);
		log_error("queue: acquire fence is not a sync_file");
		return -EINVAL;
	}
	if (server->eos) {
		dmapipe_close(fence);
		dmapipe_buffer_unref(buffer);
		return -EPIPE;
	}
	server->stats.frames_queued++;
	server->last_sequence = meta ? meta->sequence : 0;

	/* one clock read for every consumer's lease, not one each */
	server->send_ns = dmapipe_now_ns();
	for (c = server->consumers; c; c = next) {
		struct pending *p;

		next = c->next;
		/* one that promised constraints gets frames in buffers made for them */
		if (c->state != STATE_STREAMING || c->role != DMAPIPE_ROLE_CONSUMER ||
		    c->constraints_pending || !server_frame_serves(c, buffer))
			continue;
		if (c->n_pending >= c->queue_depth) {
			if (c->policy == DMAPIPE_POLICY_BLOCK)
				log_debug("consumer %u: block queue full, dropping (producer ignored dequeue)", c->id);
			consumer_drop_oldest(c);
		}
		p = &c->pending[(c->pending_head + c->n_pending) % MAX_QUEUE_CAP];
		if (meta) {
			p->meta = *meta;
		} else {
			dmapipe_frame_meta_init(&p->meta);
		}
		p->meta.acquire_fence = fence >= 0 ? fcntl(fence, F_DUPFD_CLOEXEC, 3) : -1;
		p->id = (uint32_t)id;
		p->buffer = dmapipe_buffer_ref(buffer);
		c->n_pending++;
		count++;
		consumer_flush(c);
		waits |= c->n_pending > 0;
	}
	server->send_ns = 0;
	/* another thread's loop sleeps: frames now wait for a consumer's room */
	if (waits && server->asleep)
		server_sleep_changed(server);
	dmapipe_close(fence);
	/* with no consumer taking it, an application buffer is idle at once */
	server_drop_ref(server, buffer);
	server_update_timer(server);
	server_reap(server);
	return count;
}
