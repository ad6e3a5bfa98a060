/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a producer reports about itself and its consumers
 * (dmapipe_server_get_stats(), dmapipe_server_get_consumer_stats()):
 * read-only views of the server's state, built on demand. Apart from
 * server.c because nothing here changes the stream, and the public stats
 * structs are ABI (their sizes are asserted here).
 */
#include "config.h"

#include <string.h>

#include "server-private.h"

/* Public and fixed-size (stream.h): a change of size is a change of the ABI. */
_Static_assert(sizeof(struct dmapipe_consumer_stats) == 160, "dmapipe_consumer_stats size");
_Static_assert(sizeof(struct dmapipe_server_stats) == 176, "dmapipe_server_stats size");

static unsigned int streaming_consumers(const struct dmapipe_server *server)
{
	unsigned int n = 0;

	for (const struct consumer *c = server->consumers; c; c = c->next)
		n += is_streaming_consumer(c);
	return n;
}

DMAPIPE_EXPORT void dmapipe_server_get_stats(const struct dmapipe_server *server,
					     struct dmapipe_server_stats *stats)
{
	struct dmapipe_copy_stats copies;
	unsigned int buffers = 0;

	*stats = server->stats;
	dmapipe_get_copy_stats(&copies);
	stats->bytes_copied = copies.bytes - server->copies_at_start.bytes;
	stats->frames_copied = copies.frames - server->copies_at_start.frames;
	stats->consumers = streaming_consumers(server);
	stats->handshakes = server->n_handshakes;
	stats->monitors = server->n_monitors;
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer)
			buffers++;
	stats->buffers = buffers;
	stats->buffers_free = server->pool ? dmapipe_pool_get_free(server->pool) : 0;
	stats->format = server->format;
	stats->mem_kind = server_mem_kind(server);
	memset(stats->allocator, 0, sizeof(stats->allocator));
	dmapipe_strlcpy(stats->allocator,
			server->allocator ? dmapipe_allocator_get_name(server->allocator) : "application",
			sizeof(stats->allocator));
}

DMAPIPE_EXPORT int dmapipe_server_get_consumer_stats(const struct dmapipe_server *server,
						     struct dmapipe_consumer_stats *stats, int max)
{
	uint64_t now = dmapipe_now_ns();
	int n = 0;

	for (const struct consumer *c = server->consumers; c; c = c->next) {
		struct dmapipe_consumer_stats *s;
		uint64_t oldest = 0;

		if (c->role != DMAPIPE_ROLE_CONSUMER || c->state != STATE_STREAMING)
			continue;
		if (n < max) {
			s = &stats[n];
			memset(s, 0, sizeof(*s));
			s->id = c->id;
			s->pid = c->cred.pid;
			s->uid = c->cred.uid;
			s->policy = c->policy;
			s->queue_depth = c->queue_depth;
			s->leases_held = c->n_leases + c->n_fenced;
			s->queued = c->n_pending;
			s->state = c->state;
			s->frames_sent = c->frames_sent;
			s->frames_released = c->frames_released;
			s->frames_dropped = c->frames_dropped;
			for (unsigned int i = 0; i < c->n_leases; i++)
				oldest = MAX(oldest, now - c->leases[i].sent_ns);
			s->oldest_lease_ns = oldest;
			dmapipe_strlcpy(s->name, c->name, sizeof(s->name));
			s->max_in_flight = c->max_in_flight;
		}
		n++;
	}
	return n;
}
