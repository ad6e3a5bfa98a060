/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Consumers' constraints on the producer's side (docs/PROTOCOL.md,
 * section "Constraints"): a consumer's CONSTRAINTS is met by the buffers
 * there are, by a new generation of the server's own pool that satisfies
 * every consumer, or refused with the reason. A new generation is
 * announced with ADD_BUFFER before any frame uses it; the older buffers
 * take no new frame and leave (REMOVE_BUFFER) once nobody holds them, so
 * no consumer loses a frame to it.
 *
 * A consumer that imports into a DRM device (import_device a card or
 * render node) needs buffers of a DRM device's memory: Mesa's drivers
 * import those but not udmabuf's, a heap's or a memfd. The producer then
 * allocates the next generation with the "drm" allocator (vgem first). It
 * opens nothing the consumer names: the name only says "a GPU", and vgem's
 * buffers are ordinary pages that every GPU driver and the CPU take.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "server-private.h"

bool server_merged_constraints(const struct dmapipe_server *server,
			       struct dmapipe_constraints *merged)
{
	bool any = false;

	dmapipe_constraints_init(merged);
	for (const struct consumer *c = server->consumers; c; c = c->next) {
		if (c->state != STATE_STREAMING || c->role != DMAPIPE_ROLE_CONSUMER ||
		    !c->has_constraints)
			continue;
		dmapipe_constraints_merge(merged, &c->constraints);
		any = true;
	}
	return any;
}

bool server_wants_drm(const struct dmapipe_server *server)
{
	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (is_streaming_consumer(c) && c->has_constraints &&
		    constraints_import_need(c->constraints.import_device) == IMPORT_DRM)
			return true;
	return false;
}

/* True if the server's own pool is of a DRM device's memory. */
static bool pool_is_drm(const struct dmapipe_server *server)
{
	return server->pool && allocator_is_drm(server->allocator);
}

void server_retire_idle(struct dmapipe_server *server)
{
	for (unsigned int i = 0; i < server->n_slots && server->n_retiring; i++) {
		struct slot *s = &server->slots[i];

		if (s->retiring && !server_buffer_in_use(server, s->buffer))
			server_remove_slot(server, i);
	}
}

/* A buffer of the current generation, or NULL when there is none. */
static const struct dmapipe_buffer *current_buffer(const struct dmapipe_server *server)
{
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer && !server->slots[i].retiring)
			return server->slots[i].buffer;
	return NULL;
}

/* True if every buffer of the current generation satisfies @cons; else why not. */
static bool buffers_satisfy(const struct dmapipe_server *server,
			    const struct dmapipe_constraints *cons, char *why, size_t len)
{
	for (unsigned int i = 0; i < server->n_slots; i++) {
		const struct slot *s = &server->slots[i];

		if (s->buffer && !s->retiring &&
		    dmapipe_layout_satisfies(dmapipe_buffer_get_layout(s->buffer), cons, why,
					     len) < 0)
			return false;
	}
	return true;
}

/* True if the current buffers have the layout @merged gives (fds aside). */
static bool pool_is_for(const struct dmapipe_server *server, const struct dmapipe_buffer *b,
			const struct dmapipe_constraints *merged)
{
	const struct dmapipe_layout *have = dmapipe_buffer_get_layout(b);
	struct dmapipe_layout want;

	if (dmapipe_layout_init_constrained(&want, &server->format, merged) < 0)
		return true; /* nothing better to make */
	if (have->n_planes != want.n_planes)
		return false;
	for (uint32_t p = 0; p < want.n_planes; p++)
		if (have->planes[p].stride != want.planes[p].stride ||
		    have->planes[p].offset != want.planes[p].offset)
			return false;
	return true;
}

/*
 * A new generation of the server's pool for @merged from @allocator (the
 * server takes a reference when it is not its own): its buffers are
 * announced now, the current ones retire. 0 or a negative errno (logged;
 * the current generation then stays).
 */
static int new_generation(struct dmapipe_server *server, const struct dmapipe_constraints *merged,
			  struct dmapipe_allocator *allocator)
{
	struct dmapipe_layout layout;
	struct dmapipe_pool *pool;
	unsigned int count = dmapipe_pool_get_size(server->pool);
	int ret;

	ret = dmapipe_layout_init_constrained(&layout, &server->format, merged);
	if (ret < 0)
		return ret;
	count = MIN(MAX(count, merged->min_buffers + RESERVE_BUFFERS), server_buffer_limit(server));
	pool = dmapipe_pool_new_layout(allocator, &layout, count, NULL);
	if (!pool) {
		ret = -errno;
		log_error("a new buffer generation for the consumers' constraints: %s",
			  strerror(-ret));
		return ret;
	}
	/* the current buffers take no new frame; their slots keep them alive */
	for (unsigned int i = 0; i < server->n_slots; i++) {
		struct slot *s = &server->slots[i];

		if (!s->buffer || !s->ours)
			continue;
		dmapipe_buffer_ref(s->buffer);
		s->ours = false;
		s->retiring = true;
		server->n_retiring++;
	}
	dmapipe_pool_free(server->pool);
	server->pool = pool;
	server->buffer_bytes = layout.objects[0].size;
	if (allocator != server->allocator) {
		dmapipe_allocator_unref(server->allocator);
		server->allocator = dmapipe_allocator_ref(allocator);
	}
	for (unsigned int i = 0; i < count; i++) {
		ret = server_register_buffer(server, dmapipe_pool_get_buffer(pool, i), true);
		if (ret < 0)
			return ret;
	}
	log_info("new buffer generation for the consumers' constraints: %u buffers, stride %u, "
		 "allocator %s, %u of the old ones still held", count, layout.planes[0].stride,
		 dmapipe_allocator_get_name(allocator), server->n_retiring);
	server_retire_idle(server);
	return 0;
}

/*
 * A new generation from the drm allocator, for a consumer that imports
 * into a DRM device. 0, or a negative errno with the reason in @why.
 */
static int drm_generation(struct dmapipe_server *server, const struct dmapipe_constraints *merged,
			  char *why, size_t len)
{
	struct dmapipe_allocator *drm = allocator_new_drm(why, len);
	int ret;

	if (!drm)
		return -ENODEV;
	ret = new_generation(server, merged, drm);
	if (ret < 0)
		snprintf(why, len, "the producer cannot allocate buffers of a DRM device (%s)",
			 strerror(-ret));
	dmapipe_allocator_unref(drm);
	return ret;
}

/* Refuses @c with ERROR constraints-unmet (counted). Returns false. */
static bool refuse(struct consumer *c, const char *why)
{
	c->server->stats.consumers_refused++;
	consumer_close(c, DMAPIPE_ERR_CONSTRAINTS, why);
	return false;
}

/* @c's wait for buffers that meet its constraints starts, unless it already did. */
static void start_wait(struct consumer *c, const char *why)
{
	if (c->unmet_since_ns)
		return;
	c->unmet_since_ns = dmapipe_now_ns();
	snprintf(c->unmet_why, sizeof(c->unmet_why), "%s", why);
	log_info("consumer %u (%s) waits up to %u ms for buffers that meet its constraints: %s",
		 c->id, c->name, c->server->opts.app_reallocates_ms, why);
	server_update_timer(c->server);
}

bool server_frame_serves(struct consumer *c, const struct dmapipe_buffer *b)
{
	const struct dmapipe_server *server = c->server;
	char why[sizeof(c->unmet_why)];

	if (!server->opts.app_reallocates_ms || server->pool || !c->has_constraints ||
	    (c->constraints.flags & DMAPIPE_CONSTRAINT_ALLOW_COPY))
		return true;
	if (dmapipe_layout_satisfies(dmapipe_buffer_get_layout(b), &c->constraints, why,
				     sizeof(why)) == 0) {
		c->unmet_since_ns = 0;
		return true;
	}
	start_wait(c, why);
	return false;
}

uint64_t server_unmet_deadline(const struct consumer *c)
{
	if (!c->unmet_since_ns || c->state != STATE_STREAMING)
		return UINT64_MAX;
	return c->unmet_since_ns + (uint64_t)c->server->opts.app_reallocates_ms * 1000000u;
}

bool server_check_unmet(struct consumer *c, uint64_t now)
{
	char why[320];

	if (server_unmet_deadline(c) > now)
		return true;
	snprintf(why, sizeof(why), "%s; no buffers that meet it came from the application "
		 "within %u ms", c->unmet_why, c->server->opts.app_reallocates_ms);
	return refuse(c, why);
}

void server_tell_constraints(struct dmapipe_server *server)
{
	struct dmapipe_constraints merged;
	uint64_t now;

	if (!server->constraints_func || server->freeing)
		return;
	dmapipe_server_get_constraints(server, &merged);
	if (memcmp(&merged, &server->constraints_told, sizeof(merged)) == 0) {
		server->constraints_due_ns = 0;
		return;
	}
	now = dmapipe_now_ns();
	if (server->constraints_told_ns && now < server->constraints_told_ns + CONSTRAINTS_TELL_NS) {
		/*
		 * told lately: this change and any before the second is over go
		 * together (the due time moves if a call ended after it was set)
		 */
		uint64_t due = server->constraints_told_ns + CONSTRAINTS_TELL_NS;

		if (server->constraints_due_ns != due) {
			server->constraints_due_ns = due;
			server_update_timer(server);
		}
		return;
	}
	server->constraints_told = merged;
	server->constraints_told_ns = now;
	server->constraints_due_ns = 0;
	server->constraints_func(server, &merged, server->constraints_data);
	/*
	 * The second counts from the callback's end: two calls' own clock
	 * reads are then a second apart however late the first one began (a
	 * preempted application saw 999.5 ms between them when it counted
	 * from the read above), and a slow callback is never called again
	 * at once.
	 */
	server->constraints_told_ns = dmapipe_now_ns();
}

DMAPIPE_EXPORT void dmapipe_server_set_constraints_callback(struct dmapipe_server *server,
							    dmapipe_server_constraints_func func,
							    void *data)
{
	server->constraints_func = func;
	server->constraints_data = data;
}

DMAPIPE_EXPORT int dmapipe_server_get_constraints(const struct dmapipe_server *server,
						  struct dmapipe_constraints *out)
{
	int n = 0;

	if (!server || !out)
		return -EINVAL;
	dmapipe_constraints_init(out);
	for (const struct consumer *c = server->consumers; c; c = c->next) {
		if (!is_streaming_consumer(c) || !c->has_constraints)
			continue;
		dmapipe_constraints_merge(out, &c->constraints);
		if (!out->import_device[0] &&
		    constraints_import_need(c->constraints.import_device) == IMPORT_DRM)
			memcpy(out->import_device, c->constraints.import_device,
			       sizeof(out->import_device));
		n++;
	}
	return n;
}

DMAPIPE_EXPORT int dmapipe_server_refuse_waiting(struct dmapipe_server *server,
						const char *reason)
{
	struct consumer *c, *next;
	char why[sizeof(c->unmet_why) + 160];
	int n = 0;

	if (!server || !reason)
		return -EINVAL;
	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (!is_streaming_consumer(c) || !c->unmet_since_ns)
			continue;
		snprintf(why, sizeof(why), "%s; %.150s", c->unmet_why, reason);
		refuse(c, why);
		n++;
	}
	server_reap(server);
	return n;
}

void server_refuse_unmet_imports(struct dmapipe_server *server, const char *why)
{
	struct consumer *c, *next;

	if (!server->pool || pool_is_drm(server))
		return;
	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (is_streaming_consumer(c) && c->has_constraints &&
		    constraints_import_need(c->constraints.import_device) == IMPORT_DRM &&
		    !(c->constraints.flags & DMAPIPE_CONSTRAINT_ALLOW_COPY))
			refuse(c, why);
	}
}

bool server_handle_constraints(struct consumer *c, const struct dmapipe_constraints *cons)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_constraints merged, layout_only;
	const struct dmapipe_buffer *b;
	enum import_need need = constraints_import_need(cons->import_device);
	char why[160];

	if (need == IMPORT_BAD_NAME) {
		/* named nothing this producer could mean: it says so, and opens nothing */
		constraints_bad_name(cons->import_device, why, sizeof(why));
		return refuse(c, why);
	}
	c->constraints = *cons;
	c->has_constraints = true;
	c->constraints_pending = false;
	server_merged_constraints(server, &merged);
	if (merged.min_buffers + RESERVE_BUFFERS > server_buffer_limit(server)) {
		snprintf(why, sizeof(why), "the consumers need %u buffers, this producer has at most %u",
			 merged.min_buffers + RESERVE_BUFFERS, server_buffer_limit(server));
		return refuse(c, why);
	}
	b = current_buffer(server);
	if (!b)
		return true; /* the next buffers are made for it */

	/* a format or modifier the stream does not have: no new buffer helps */
	layout_only = *cons;
	memset(layout_only.stride_align, 0, sizeof(layout_only.stride_align));
	memset(layout_only.offset_align, 0, sizeof(layout_only.offset_align));
	if (dmapipe_layout_satisfies(dmapipe_buffer_get_layout(b), &layout_only, why,
				     sizeof(why)) < 0)
		return refuse(c, why);
	/*
	 * The producer's own pool always has the layout the merged constraints
	 * give: the tightest that suits every consumer (a device reading
	 * packed rows imports it as it is).
	 */
	if (server->pool && server_wants_drm(server) && !pool_is_drm(server) &&
	    drm_generation(server, &merged, why, sizeof(why)) == 0)
		return true;
	if (need == IMPORT_DRM && server->pool && !pool_is_drm(server)) {
		if (!(cons->flags & DMAPIPE_CONSTRAINT_ALLOW_COPY))
			return refuse(c, why);
		log_info_ratelimited("consumer %u (%s) copies frames: %s", c->id, c->name, why);
		/* the pool keeps the layout every consumer asked, this one's included */
		if (!pool_is_for(server, b, &merged))
			new_generation(server, &merged, server->allocator);
		return true;
	}
	if (server->pool && !pool_is_for(server, b, &merged) &&
	    new_generation(server, &merged, server->allocator) == 0)
		return true;
	if (buffers_satisfy(server, cons, why, sizeof(why))) {
		c->unmet_since_ns = 0;
		return true;
	}
	if (cons->flags & DMAPIPE_CONSTRAINT_ALLOW_COPY) {
		/* the consumer knows what it needs: it copies, and counts it */
		log_info_ratelimited("consumer %u (%s) copies frames: %s", c->id, c->name, why);
		return true;
	}
	if (!server->pool && server->opts.app_reallocates_ms) {
		/*
		 * The application makes new buffers when told: until they come
		 * this consumer is like one that came before there were any.
		 * A change of constraints does not restart its wait.
		 */
		start_wait(c, why);
		return true;
	}
	if (!server->pool) {
		char text[256];

		snprintf(text, sizeof(text), "%s; the buffers are the application's (a "
			 "device's own) and cannot be replaced", why);
		return refuse(c, text);
	}
	return refuse(c, why);
}
