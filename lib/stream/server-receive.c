/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What consumers and monitors send to the producer, read off their
 * sockets in whole recvmmsg() bursts: the HELLO that ends a handshake
 * (version, role, policy and the lease budget a consumer is granted),
 * releases, keepalives, stats requests, rings, constraints and errors.
 * Apart from server.c because it is the protocol's producer half (each
 * message's rules, as docs/PROTOCOL.md states them) while server.c is the
 * machinery around it: connections, timers and dispatch.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server-private.h"

/* recvmmsg() bursts read from one consumer per wake-up, at most */
#define RECV_ROUNDS 4

/* Refuses a peer at its HELLO: counted, answered with ERROR @code, closed. */
static bool refuse(struct consumer *c, enum dmapipe_error_code code, const char *why)
{
	c->server->stats.consumers_refused++;
	consumer_close(c, code, why);
	return false;
}

/*
 * The in-flight limit a consumer gets, or 0 when it must be refused
 * (*@why then says why). Every consumer but a block-policy one counts
 * against the lease budget, so that whatever they hold the producer
 * still has a buffer to draw into; a block consumer asked the producer
 * to wait for it instead (docs/PROTOCOL.md, "Resources").
 */
static uint32_t grant_in_flight(struct consumer *c, uint32_t asked, char *why, size_t size)
{
	struct dmapipe_server *server = c->server;
	uint32_t grant = MAX(1u, MIN(asked, server->opts.max_in_flight));
	unsigned int budget = server_lease_budget(server);

	if (c->policy == DMAPIPE_POLICY_BLOCK)
		return grant;
	if (server->granted >= budget) {
		snprintf(why, size, "no buffer budget left: consumers hold %u of the %u leases "
			 "%u buffers allow", server->granted, budget, budget + RESERVE_BUFFERS);
		return 0;
	}
	c->budgeted = true;
	return MIN(grant, budget - server->granted);
}

/* Returns false if the connection was closed. */
static bool handle_hello(struct consumer *c, const struct dmapipe_msg_hello *h)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_msg reply;
	char why[128];

	if (h->min_version > DMAPIPE_PROTO_VERSION || h->version < DMAPIPE_PROTO_VERSION) {
		snprintf(why, sizeof(why), "peer speaks protocol %u..%u, this producer speaks %u",
			 h->min_version, h->version, DMAPIPE_PROTO_VERSION);
		return refuse(c, DMAPIPE_ERR_VERSION, why);
	}
	if (h->role != DMAPIPE_ROLE_CONSUMER && h->role != DMAPIPE_ROLE_MONITOR)
		return refuse(c, DMAPIPE_ERR_PROTOCOL, "only consumers and monitors connect to a producer");
	c->role = h->role;
	dmapipe_strlcpy(c->name, h->name, sizeof(c->name));
	c->features = h->features & server->features;
	if (h->role != DMAPIPE_ROLE_CONSUMER)
		c->features &= ~DMAPIPE_FEATURE_RINGS;
	if (h->role == DMAPIPE_ROLE_CONSUMER && !(c->features & DMAPIPE_FEATURE_MEMFD) &&
	    server_mem_kind(server) == DMAPIPE_MEM_MEMFD)
		return refuse(c, DMAPIPE_ERR_STRICT,
			      "consumer takes only dma-bufs and this stream's buffers are memfds");
	if (c->role == DMAPIPE_ROLE_MONITOR) {
		if (server->n_monitors >= server->opts.max_monitors)
			return refuse(c, DMAPIPE_ERR_TOO_MANY, "the producer has its maximum of monitors");
	} else {
		if (server->n_consumers >= server->opts.max_consumers)
			return refuse(c, DMAPIPE_ERR_TOO_MANY, "the producer has its maximum of consumers");
		c->policy = h->policy;
		if (c->policy < DMAPIPE_POLICY_LATEST || c->policy > DMAPIPE_POLICY_BLOCK)
			c->policy = DMAPIPE_POLICY_LATEST;
		c->queue_depth = c->policy == DMAPIPE_POLICY_LATEST ? 1 :
			MAX(1u, MIN(h->queue_depth, server->opts.max_queue_depth));
		c->max_in_flight = grant_in_flight(c, h->max_in_flight, why, sizeof(why));
		if (c->max_in_flight == 0)
			return refuse(c, DMAPIPE_ERR_TOO_MANY, why);
		c->leases = calloc(c->max_in_flight, sizeof(*c->leases));
		c->fenced = calloc(c->max_in_flight, sizeof(*c->fenced));
		if (!c->leases || !c->fenced) {
			c->budgeted = false;
			consumer_close(c, DMAPIPE_ERR_INTERNAL, "out of memory");
			return false;
		}
	}

	/* from here on it counts as what it is, no longer as a handshake */
	server->n_handshakes--;
	if (c->role == DMAPIPE_ROLE_MONITOR) {
		server->n_monitors++;
		c->active_ns = dmapipe_now_ns();
	} else {
		server->n_consumers++;
		if (c->budgeted)
			server->granted += c->max_in_flight;
		server->stats.consumers_total++;
	}
	c->state = STATE_STREAMING;
	if ((c->features & DMAPIPE_FEATURE_RINGS) &&
	    dmapipe_ring_create(&c->frames_ring, DMAPIPE_RING_FRAMES,
				dmapipe_ring_capacity_for(c->max_in_flight)) < 0) {
		/* the socket does it all, as for a peer without rings */
		log_warn_ratelimited("consumer %u: cannot make its frames ring: %s", c->id,
				     strerror(errno));
		c->features &= ~DMAPIPE_FEATURE_RINGS;
	} else if (c->frames_ring.map && server->fd_exported && !server->sleep_managed) {
		dmapipe_ring_set_sleeping(&c->frames_ring, true);
		c->sleeping = true;
	}
	/* it states its constraints right after our HELLO: wait_consumers waits for them */
	c->constraints_pending = c->role == DMAPIPE_ROLE_CONSUMER &&
				 (c->features & DMAPIPE_FEATURE_CONSTRAINTS);
	c->hello_ns = dmapipe_now_ns();

	memset(&reply, 0, sizeof(reply));
	reply.type = DMAPIPE_MSG_HELLO;
	reply.hello.version = DMAPIPE_PROTO_VERSION;
	reply.hello.min_version = DMAPIPE_PROTO_VERSION;
	reply.hello.role = DMAPIPE_ROLE_PRODUCER;
	reply.hello.features = c->features;
	reply.hello.policy = c->policy;
	reply.hello.queue_depth = c->queue_depth;
	reply.hello.max_in_flight = c->max_in_flight;
	reply.hello.lease_timeout_ms = server->opts.lease_timeout_ms;
	dmapipe_strlcpy(reply.hello.name, server->stream_name, sizeof(reply.hello.name));
	if (!consumer_send_control(c, &reply))
		return false;
	if (c->frames_ring.map) {
		memset(&reply, 0, sizeof(reply));
		reply.type = DMAPIPE_MSG_RING;
		reply.ring.kind = DMAPIPE_RING_MSG_FRAMES;
		reply.ring.capacity = c->frames_ring.capacity;
		reply.ring.fd = c->frames_ring.fd;
		if (!consumer_send_control(c, &reply))
			return false;
		/* sent (or queued with a duplicate): the mapping is all we need */
		dmapipe_close(c->frames_ring.fd);
		c->frames_ring.fd = -1;
	}
	if (c->role == DMAPIPE_ROLE_CONSUMER) {
		log_info_ratelimited("consumer %u (%s, pid %d) streaming: policy %u, queue %u, "
				     "in flight %u", c->id, c->name, (int)c->cred.pid, c->policy,
				     c->queue_depth, c->max_in_flight);
		return consumer_start(c);
	}
	return true;
}

/* Returns false if the connection was closed. */
static bool handle_release(struct consumer *c, struct dmapipe_msg_release *r)
{
	return consumer_release_lease(c, r->buffer_id, r->sequence, r->release_fence);
}

/*
 * RELEASES: each entry exactly as a RELEASE without a fence, in order; the
 * first one that names no lease ends the connection (a repeated entry
 * included). Returns false if the connection was closed.
 */
static bool handle_releases(struct consumer *c, const struct dmapipe_msg_releases *r)
{
	for (uint32_t i = 0; i < r->n_releases; i++)
		if (!consumer_release_lease(c, r->releases[i].buffer_id, r->releases[i].sequence, -1))
			return false;
	return true;
}

/*
 * A STATS_REQUEST: at most one reply waits for a connection (a request
 * while one waits only keeps it wanted; it is built when it goes).
 * Returns false if the connection was closed.
 */
static bool handle_stats_request(struct consumer *c)
{
	c->stats_wanted = true;
	c->active_ns = dmapipe_now_ns();
	return consumer_send_stats(c);
}

/*
 * KEEPALIVE: the consumer still uses every lease it holds (a write to a
 * stalled disk, say): their lease clocks start again. It cannot hold
 * more than it was granted, and the lease budget keeps a buffer for the
 * producer whatever it holds (docs/PROTOCOL.md, section 5).
 */
static void handle_keepalive(struct consumer *c)
{
	uint64_t now = dmapipe_now_ns();

	for (unsigned int i = 0; i < c->n_leases; i++)
		c->leases[i].sent_ns = now;
	c->keepalives++;
}

/* Returns false if the consumer was closed. */
/*
 * Each CONSTRAINTS may make a new generation of the pool: allocations for
 * every buffer. An honest consumer states them at connection and when its
 * device changes; more than MAX_CONSTRAINTS_PER_S in one second is a peer
 * making the producer allocate without end, cut off like any violation.
 */
static bool constraints_allowed(struct consumer *c)
{
	uint64_t now = dmapipe_now_ns();
	char why[80];

	if (now - c->constraints_window_ns >= 1000000000ull) {
		c->constraints_window_ns = now;
		c->constraints_in_window = 0;
	}
	if (++c->constraints_in_window <= MAX_CONSTRAINTS_PER_S)
		return true;
	snprintf(why, sizeof(why), "CONSTRAINTS more than %u times in a second",
		 MAX_CONSTRAINTS_PER_S);
	consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
	return false;
}

static bool consumer_handle_msg(void *consumer, struct dmapipe_msg *msg)
{
	struct consumer *c = consumer;

	if (c->state == STATE_HANDSHAKE) {
		if (c->refuse_code != DMAPIPE_ERR_NONE) {
			dmapipe_msg_drop_fds(msg);
			consumer_close(c, c->refuse_code, c->refuse_why);
			return false;
		}
		if (msg->type != DMAPIPE_MSG_HELLO) {
			dmapipe_msg_drop_fds(msg);
			c->server->stats.consumers_refused++;
			consumer_close(c, DMAPIPE_ERR_PROTOCOL, "first message must be HELLO");
			return false;
		}
		return handle_hello(c, &msg->hello);
	}

	switch (msg->type) {
	case DMAPIPE_MSG_RELEASE:
		if (c->role != DMAPIPE_ROLE_CONSUMER)
			break;
		return handle_release(c, &msg->release);
	case DMAPIPE_MSG_RELEASES:
		if (c->role != DMAPIPE_ROLE_CONSUMER || !(c->features & DMAPIPE_FEATURE_RELEASES))
			break;
		return handle_releases(c, &msg->releases);
	case DMAPIPE_MSG_STATS_REQUEST:
		if (!(c->features & DMAPIPE_FEATURE_STATS))
			break;
		return handle_stats_request(c);
	case DMAPIPE_MSG_KEEPALIVE:
		if (c->role != DMAPIPE_ROLE_CONSUMER || !(c->features & DMAPIPE_FEATURE_KEEPALIVE))
			break;
		handle_keepalive(c);
		return true;
	case DMAPIPE_MSG_RING:
		if (!(c->features & DMAPIPE_FEATURE_RINGS))
			break;
		return consumer_handle_ring(c, &msg->ring);
	case DMAPIPE_MSG_CONSTRAINTS:
		if (c->role != DMAPIPE_ROLE_CONSUMER || !(c->features & DMAPIPE_FEATURE_CONSTRAINTS))
			break;
		if (!constraints_allowed(c))
			return false;
		return server_handle_constraints(c, &msg->constraints);
	case DMAPIPE_MSG_ERROR: {
		char name[DMAPIPE_ERROR_NAME_LEN];

		log_warn_ratelimited("consumer %u (%s) reported error %s: %s", c->id, c->name,
				     dmapipe_error_code_name(msg->error.code, name, sizeof(name)),
				     msg->error.message);
		consumer_close(c, DMAPIPE_ERR_NONE, "consumer reported an error");
		return false;
	}
	default:
		break;
	}
	{
		char why[80];

		snprintf(why, sizeof(why), "unexpected %s message from a %s",
			 dmapipe_msg_type_to_string(msg->type),
			 c->role == DMAPIPE_ROLE_MONITOR ? "monitor" : "consumer");
		dmapipe_msg_drop_fds(msg);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
	}
	return false;
}

/* Ends a connection whose read failed (@ret from the transport). */
static void consumer_read_failed(struct consumer *c, int ret, const char *why)
{
	dmapipe_recv_batch_discard(c->server->rx);
	if (ret == -ECONNRESET || ret == -EPIPE) {
		consumer_close(c, DMAPIPE_ERR_NONE, "connection closed");
		return;
	}
	if (c->state == STATE_HANDSHAKE && !c->refuse_code)
		c->server->stats.consumers_refused++;
	consumer_close(c, DMAPIPE_ERR_PROTOCOL, why ? why : strerror(-ret));
}

void consumer_readable(struct consumer *c)
{
	struct dmapipe_recv_batch *rx = c->server->rx;

	/* Whole bursts only: what recvmmsg() took off the socket is no longer
	 * reported by epoll, so every datagram of a burst is handled (or its
	 * fds closed) before returning. */
	for (int round = 0; round < RECV_ROUNDS; round++) {
		const char *why;
		int got = dmapipe_recv_burst(c->fd, rx, consumer_handle_msg, c, &why);

		if (got == -ECANCELED)
			return;
		if (got == -EAGAIN)
			break;
		if (got < 0) {
			consumer_read_failed(c, got, why);
			return;
		}
		/* a short burst emptied the socket: no need to ask again */
		if (got < DMAPIPE_RECV_BATCH)
			break;
	}
	consumer_flush(c);
}
