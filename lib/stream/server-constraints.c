/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Consumers' constraints on the producer's side (docs/PROTOCOL.md,
 * section "Constraints"): a consumer's CONSTRAINTS is met by the buffers
 * there are, by a new generation of the server's own pool that satisfies
 * every consumer, or refused with the reason. A new generation is
 * announced with ADD_BUFFER before any frame uses it; the older buffers
 * take no new frame and leave (REMOVE_BUFFER) once nobody holds them, so
 * no consumer loses a frame to it.
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
 * A new generation of the server's pool for @merged: its buffers are
 * announced now, the current ones retire. 0 or a negative errno (logged;
 * the current generation then stays).
 */
static int new_generation(struct dmapipe_server *server, const struct dmapipe_constraints *merged)
{
	struct dmapipe_layout layout;
	struct dmapipe_pool *pool;
	unsigned int count = dmapipe_pool_get_size(server->pool);
	int ret;

	ret = dmapipe_layout_init_constrained(&layout, &server->format, merged);
	if (ret < 0)
		return ret;
	count = MIN(MAX(count, merged->min_buffers + RESERVE_BUFFERS), server_buffer_limit(server));
	pool = dmapipe_pool_new_layout(server->allocator, &layout, count, NULL);
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
	for (unsigned int i = 0; i < count; i++) {
		ret = server_register_buffer(server, dmapipe_pool_get_buffer(pool, i), true);
		if (ret < 0)
			return ret;
	}
	log_info("new buffer generation for the consumers' constraints: %u buffers, stride %u, "
		 "%u of the old ones still held", count, layout.planes[0].stride, server->n_retiring);
	server_retire_idle(server);
	return 0;
}

/* Refuses @c with ERROR constraints-unmet (counted). Returns false. */
static bool refuse(struct consumer *c, const char *why)
{
	c->server->stats.consumers_refused++;
	consumer_close(c, DMAPIPE_ERR_CONSTRAINTS, why);
	return false;
}

bool server_handle_constraints(struct consumer *c, const struct dmapipe_constraints *cons)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_constraints merged, layout_only;
	const struct dmapipe_buffer *b;
	char why[96];

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
	if (server->pool && !pool_is_for(server, b, &merged) &&
	    new_generation(server, &merged) == 0)
		return true;
	if (buffers_satisfy(server, cons, why, sizeof(why)))
		return true;
	if (cons->flags & DMAPIPE_CONSTRAINT_ALLOW_COPY) {
		/* the consumer knows what it needs: it copies, and counts it */
		log_info_ratelimited("consumer %u (%s) copies frames: %s", c->id, c->name, why);
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
