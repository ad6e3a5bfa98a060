/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One consumer of a stream, as the producer sees it: the frames decided
 * for it and not yet sent (its policy's queue), its leases and the
 * releases behind a fence, the control messages waiting for room in its
 * socket, the STATS reply it wants, and sending all of that without ever
 * blocking; and ending a connection without freeing it under a loop.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "server-private.h"

static void set_want_out(struct consumer *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out == want || c->fd < 0)
		return;
	if (epoll_ctl(c->server->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want;
}

/* ---- control messages: never dropped, queued while the socket is full ---- */

/*
 * Every member of a control entry's union is one of dmapipe_msg's, of the
 * same type, so the entry takes the first bytes of the message's union,
 * whichever member it holds.
 */
#define CONTROL_BODY (sizeof(struct control) - offsetof(struct control, hello))
_Static_assert(offsetof(struct dmapipe_msg, hello) + CONTROL_BODY <= sizeof(struct dmapipe_msg),
	       "a control entry holds any message but STATS");

static void control_from_msg(struct control *ctl, const struct dmapipe_msg *msg)
{
	ctl->type = msg->type;
	memcpy(&ctl->hello, &msg->hello, CONTROL_BODY);
}

static void control_to_msg(const struct control *ctl, struct dmapipe_msg *msg)
{
	msg->type = ctl->type;
	memcpy(&msg->hello, &ctl->hello, CONTROL_BODY);
}

/* Closes the fds a queued control message owns (our own duplicates). */
static void control_close_fds(struct control *ctl)
{
	if (ctl->type == DMAPIPE_MSG_RING) {
		dmapipe_close(ctl->ring.fd);
		ctl->ring.fd = -1;
		return;
	}
	if (ctl->type != DMAPIPE_MSG_ADD_BUFFER)
		return;
	for (uint32_t i = 0; i < ctl->add_buffer.layout.n_objects; i++) {
		dmapipe_close(ctl->add_buffer.layout.objects[i].fd);
		ctl->add_buffer.layout.objects[i].fd = -1;
	}
}

static int dup_control_fds(struct control *ctl)
{
	if (ctl->type == DMAPIPE_MSG_RING && ctl->ring.fd >= 0) {
		ctl->ring.fd = fcntl(ctl->ring.fd, F_DUPFD_CLOEXEC, 3);
		return ctl->ring.fd < 0 ? -errno : 0;
	}
	if (ctl->type != DMAPIPE_MSG_ADD_BUFFER)
		return 0;
	for (uint32_t i = 0; i < ctl->add_buffer.layout.n_objects; i++) {
		int fd = fcntl(ctl->add_buffer.layout.objects[i].fd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0) {
			int err = -errno;

			for (uint32_t j = 0; j < i; j++)
				dmapipe_close(ctl->add_buffer.layout.objects[j].fd);
			return err;
		}
		ctl->add_buffer.layout.objects[i].fd = fd;
	}
	return 0;
}

int consumer_send_now(struct consumer *c, const struct dmapipe_msg *msg)
{
	int ret = dmapipe_send_msg(c->fd, msg);

	if (ret == 0)
		c->sock_sent++;
	return ret;
}

bool consumer_send_control(struct consumer *c, const struct dmapipe_msg *msg)
{
	struct control *slot;
	int ret;

	if (c->state == STATE_CLOSING)
		return false;
	if (c->n_control == 0) {
		ret = consumer_send_now(c, msg);
		if (ret == 0)
			return true;
		if (ret != -EAGAIN) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return false;
		}
	}
	if (c->n_control >= MAX_CONTROL_QUEUE) {
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "consumer does not read its socket");
		return false;
	}
	if (!c->control) {
		c->control = calloc(MAX_CONTROL_QUEUE, sizeof(*c->control));
		if (!c->control) {
			consumer_close(c, DMAPIPE_ERR_INTERNAL, "out of memory");
			return false;
		}
	}
	slot = &c->control[(c->control_head + c->n_control) % MAX_CONTROL_QUEUE];
	control_from_msg(slot, msg);
	if (dup_control_fds(slot) < 0) {
		consumer_close(c, DMAPIPE_ERR_INTERNAL, "cannot duplicate buffer fds");
		return false;
	}
	c->n_control++;
	set_want_out(c, true);
	return true;
}

/* ---- who holds a buffer ---------------------------------------------------- */

bool server_buffer_in_use(const struct dmapipe_server *server, const struct dmapipe_buffer *b)
{
	for (const struct consumer *c = server->consumers; c; c = c->next) {
		for (unsigned int i = 0; i < c->n_leases; i++)
			if (c->leases[i].buffer == b)
				return true;
		for (unsigned int i = 0; i < c->n_pending; i++)
			if (c->pending[(c->pending_head + i) % MAX_QUEUE_CAP].buffer == b)
				return true;
		for (unsigned int i = 0; i < c->n_fenced; i++)
			if (c->fenced[i].buffer == b)
				return true;
	}
	return false;
}

void server_drop_ref(struct dmapipe_server *server, struct dmapipe_buffer *b)
{
	int id = server_slot_of(server, b);

	dmapipe_buffer_unref(b);
	/* an application slot keeps its own reference, so @b is alive */
	if (id < 0 || server->slots[id].ours || server->slots[id].retiring || server->freeing ||
	    !server->idle_func)
		return;
	if (!server_buffer_in_use(server, b))
		server->idle_func(server, b, server->idle_data);
}

/* Forgets the oldest unsent frame. */
static void pending_discard(struct consumer *c)
{
	struct pending *p = &c->pending[c->pending_head];
	struct dmapipe_buffer *b = p->buffer;

	dmapipe_close(p->meta.acquire_fence);
	p->buffer = NULL;
	c->pending_head = (c->pending_head + 1) % MAX_QUEUE_CAP;
	c->n_pending--;
	server_drop_ref(c->server, b);
}

void consumer_drop_oldest(struct consumer *c)
{
	pending_discard(c);
	c->frames_dropped++;
	c->server->stats.frames_dropped++;
}

bool server_fence_signalled(int fence)
{
	struct pollfd pfd = { .fd = fence, .events = POLLIN };

	return fence < 0 || (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLERR)));
}

/* ---- sending --------------------------------------------------------------- */

/* Bytes we sent on @c's socket that its peer has not read yet. */
static int unread_bytes(const struct consumer *c)
{
	int n = 0;

	return ioctl(c->fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

bool consumer_send_stats(struct consumer *c)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_msg *msg;
	bool nothing_unread;
	int n, ret;

	/* behind queued control messages, in order: flush sends it after them */
	if (!c->stats_wanted || c->state != STATE_STREAMING || c->n_control > 0)
		return true;
	msg = calloc(1, sizeof(*msg));
	if (!msg) {
		consumer_close(c, DMAPIPE_ERR_INTERNAL, "out of memory");
		return false;
	}
	nothing_unread = c->role == DMAPIPE_ROLE_MONITOR && unread_bytes(c) == 0;
	msg->type = DMAPIPE_MSG_STATS;
	dmapipe_server_get_stats(server, &msg->stats.server);
	n = dmapipe_server_get_consumer_stats(server, msg->stats.consumers, DMAPIPE_PROTO_MAX_STATS);
	msg->stats.n_consumers = (uint32_t)MIN(n, DMAPIPE_PROTO_MAX_STATS);
	ret = consumer_send_now(c, msg);
	free(msg);
	if (ret == -EAGAIN) {
		set_want_out(c, true);
		return true;
	}
	if (ret < 0) {
		consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
		return false;
	}
	c->stats_wanted = false;
	if (c->role == DMAPIPE_ROLE_MONITOR && (nothing_unread || !c->unread_since_ns))
		c->unread_since_ns = dmapipe_now_ns();
	return true;
}

/* False while a consumer that cannot take fences waits for the frame's. */
static bool frame_ready(const struct consumer *c, const struct pending *p)
{
	return (c->features & DMAPIPE_FEATURE_FENCES) || server_fence_signalled(p->meta.acquire_fence);
}

static void frame_msg(const struct consumer *c, const struct pending *p, struct dmapipe_msg *msg)
{
	msg->type = DMAPIPE_MSG_FRAME;
	msg->frame.buffer_id = p->id;
	msg->frame.meta = p->meta;
	if (!(c->features & DMAPIPE_FEATURE_FENCES))
		msg->frame.meta.acquire_fence = -1;
}

/*
 * The clock a lease starts at: the one the queue or dispatch that sends
 * the frame read (one read for all consumers), else read now.
 */
static uint64_t send_clock(const struct consumer *c)
{
	return c->server->send_ns ? c->server->send_ns : dmapipe_now_ns();
}

/* The oldest pending frame was sent: its reference becomes a lease. */
static void pending_to_lease(struct consumer *c, uint64_t now)
{
	struct pending *p = &c->pending[c->pending_head];
	struct lease *l = &c->leases[c->n_leases++];

	dmapipe_close(p->meta.acquire_fence);
	p->meta.acquire_fence = -1;
	l->buffer = p->buffer; /* the pending reference becomes the lease */
	l->id = p->id;
	l->sequence = p->meta.sequence;
	l->sent_ns = now;
	if (c->server->opts.lease_timeout_ms)
		c->server->leases_due_ns = MIN(c->server->leases_due_ns,
					       now + (uint64_t)c->server->opts.lease_timeout_ms * 1000000u);
	p->buffer = NULL;
	c->pending_head = (c->pending_head + 1) % MAX_QUEUE_CAP;
	c->n_pending--;
	c->frames_sent++;
}

/* The WAKE itself, built only when it is sent. */
static bool send_wake(struct consumer *c)
{
	struct dmapipe_msg msg;
	int ret;

	dmapipe_msg_init_wake(&msg);
	ret = consumer_send_now(c, &msg);
	/* a full socket wakes the consumer by itself */
	if (ret < 0 && ret != -EAGAIN) {
		consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
		return false;
	}
	return true;
}

/* After publishing: a WAKE on the socket, only if the consumer sleeps. */
static bool wake_consumer(struct consumer *c)
{
	/* until the consumer's own ring came, we cannot know: wake it */
	if (c->releases_ring.map && !dmapipe_ring_peer_sleeping(&c->releases_ring))
		return true;
	return send_wake(c);
}

/*
 * consumer_flush() for a consumer with rings: frames without a fence go
 * into the ring (published together), a fenced one on the socket after
 * the slots before it were published; a slot's socket_msgs keeps the
 * order of the two for the consumer. The in-flight limit alone decides
 * how many go, as it does on the socket: a slot is written again only
 * after its frame was released, so after it was read.
 */
static bool flush_ring(struct consumer *c)
{
	unsigned int n = 0;
	/* read once a frame goes: most flushes (every dispatch's) send nothing */
	uint64_t now = 0;
	bool full = false;

	while (c->n_pending > 0 && consumer_held(c) < c->max_in_flight) {
		const struct pending *p = &c->pending[c->pending_head];
		struct dmapipe_msg msg;
		int ret;

		if (!frame_ready(c, p))
			break;
		if (!now)
			now = send_clock(c);
		frame_msg(c, p, &msg);
		if (msg.frame.meta.acquire_fence < 0) {
			dmapipe_ring_encode_frame(dmapipe_ring_next_slot(&c->frames_ring, n), &msg.frame,
						  c->sock_sent);
			n++;
			pending_to_lease(c, now);
			continue;
		}
		dmapipe_ring_publish(&c->frames_ring, n);
		n = 0;
		ret = consumer_send_now(c, &msg);
		if (ret == -EAGAIN) {
			full = true;
			break;
		}
		if (ret < 0) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return false;
		}
		pending_to_lease(c, now);
	}
	if (n > 0) {
		dmapipe_ring_publish(&c->frames_ring, n);
		if (!wake_consumer(c))
			return false;
	}
	set_want_out(c, full);
	return true;
}

/* ---- rings: releases collected, the consumer's ring taken ------------------ */

int consumer_collect_releases(struct consumer *c)
{
	const char *why = NULL;
	int n;

	if (!c->releases_ring.map || c->state != STATE_STREAMING)
		return 0;
	n = dmapipe_ring_available(&c->releases_ring, &why);
	if (n == 0)
		return 0;
	if (n < 0) {
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
		return -1;
	}
	if ((unsigned int)n > c->n_leases) {
		consumer_close(c, DMAPIPE_ERR_PROTOCOL,
			       "releases ring holds more releases than the consumer has leases");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct dmapipe_ring_wire_release slot;
		uint32_t id;
		uint64_t sequence;

		dmapipe_ring_copy_slot(&c->releases_ring, 0, &slot);
		if (dmapipe_ring_decode_release(&slot, &id, &sequence, &why) < 0) {
			consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
			return -1;
		}
		dmapipe_ring_consume(&c->releases_ring, 1);
		if (!consumer_release_lease(c, id, sequence, -1))
			return -1;
	}
	return n;
}

bool server_collect_releases(struct dmapipe_server *server)
{
	bool any = false;
	struct consumer *c, *next;

	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (c->releases_ring.map && consumer_collect_releases(c) > 0) {
			any = true;
			consumer_flush(c);
		}
	}
	return any;
}

bool consumer_handle_ring(struct consumer *c, struct dmapipe_msg_ring *r)
{
	const char *why = NULL;
	int ret;

	if (r->kind == DMAPIPE_RING_MSG_WAKE) {
		c->server->stats.ring_wakeups++;
		return true; /* the dispatch that read it collects the releases */
	}
	if (r->kind != DMAPIPE_RING_MSG_RELEASES || c->releases_ring.map) {
		dmapipe_close_deferred(r->fd);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, r->kind == DMAPIPE_RING_MSG_RELEASES ?
			       "a second releases ring" : "a consumer sent a frames ring");
		return false;
	}
	if (r->capacity < c->max_in_flight) {
		dmapipe_close_deferred(r->fd);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "releases ring smaller than the in-flight limit");
		return false;
	}
	ret = dmapipe_ring_map(&c->releases_ring, r->fd, DMAPIPE_RING_RELEASES, r->capacity, &why);
	if (ret < 0) {
		dmapipe_close_deferred(r->fd);
		consumer_close(c, ret == -EPROTO ? DMAPIPE_ERR_PROTOCOL : DMAPIPE_ERR_BAD_FD, why);
		return false;
	}
	/* identified as a sealed memfd: closing it cannot wait */
	dmapipe_close(r->fd);
	r->fd = -1;
	return true;
}

bool consumer_flush(struct consumer *c)
{
	int ret;

	if (c->state != STATE_STREAMING)
		return true;

	while (c->n_control > 0) {
		struct control *ctl = &c->control[c->control_head];
		struct dmapipe_msg msg;

		control_to_msg(ctl, &msg);
		ret = consumer_send_now(c, &msg);
		if (ret == -EAGAIN) {
			set_want_out(c, true);
			return true;
		}
		control_close_fds(ctl);
		if (ret < 0) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return false;
		}
		c->control_head = (c->control_head + 1) % MAX_CONTROL_QUEUE;
		c->n_control--;
	}
	if (c->stats_wanted) {
		if (!consumer_send_stats(c))
			return false;
		if (c->stats_wanted)
			return true; /* no room: EPOLLOUT is armed */
	}

	if (c->frames_ring.map)
		return flush_ring(c);
	while (c->n_pending > 0 && consumer_held(c) < c->max_in_flight) {
		struct dmapipe_msg *tx = c->server->tx;
		unsigned int n = 0, sent;
		uint64_t now;

		/* Every frame the consumer may take now goes in one sendmmsg(). */
		while (n < c->n_pending && consumer_held(c) + n < c->max_in_flight) {
			const struct pending *p = &c->pending[(c->pending_head + n) % MAX_QUEUE_CAP];

			/* A consumer that cannot take fences gets the frame once
			 * it is complete; the timer retries. */
			if (!frame_ready(c, p))
				break;
			frame_msg(c, p, &tx[n]);
			n++;
		}
		if (n == 0)
			break;
		ret = dmapipe_send_msgs(c->fd, tx, n);
		if (ret == -EAGAIN) {
			set_want_out(c, true);
			return true;
		}
		if (ret < 0) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return false;
		}
		sent = (unsigned int)ret;
		c->sock_sent += sent;
		now = send_clock(c);
		for (unsigned int i = 0; i < sent; i++)
			pending_to_lease(c, now);
		if (sent < n) {
			/* the socket filled up after the first ones */
			set_want_out(c, true);
			return true;
		}
	}
	set_want_out(c, false);
	return true;
}

/* ---- the end of a connection ------------------------------------------------ */

static void send_error(struct consumer *c, enum dmapipe_error_code code, const char *why)
{
	struct dmapipe_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_ERROR;
	msg.error.code = code;
	dmapipe_strlcpy(msg.error.message, why, sizeof(msg.error.message));
	/* best effort: the connection ends right after */
	(void)consumer_send_now(c, &msg);
}

static void consumer_unlink(struct dmapipe_server *server, struct consumer *c)
{
	for (struct consumer **pp = &server->consumers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			/* c->next stays as it was: a loop standing on c goes on from there */
			*pp = c->next;
			return;
		}
	}
}

/* Takes @c out of the counts its state and role put it in. */
static void consumer_uncount(struct dmapipe_server *server, struct consumer *c)
{
	if (c->state == STATE_HANDSHAKE) {
		server->n_handshakes--;
	} else if (c->role == DMAPIPE_ROLE_MONITOR) {
		server->n_monitors--;
	} else {
		server->n_consumers--;
		if (c->budgeted)
			server->granted -= c->max_in_flight;
	}
}

void consumer_close(struct consumer *c, enum dmapipe_error_code code, const char *why)
{
	struct dmapipe_server *server = c->server;

	if (c->state == STATE_CLOSING)
		return;
	if (code != DMAPIPE_ERR_NONE) {
		char name[DMAPIPE_ERROR_NAME_LEN];

		dmapipe_socket_drain(c->fd);
		send_error(c, code, why);
		log_warn_ratelimited("consumer %u (%s, pid %d): %s: %s", c->id,
				     c->name[0] ? c->name : "?", (int)c->cred.pid,
				     dmapipe_error_code_name(code, name, sizeof(name)), why);
	} else if (why) {
		log_info_ratelimited("consumer %u (%s, pid %d) disconnected: %s", c->id,
				     c->name[0] ? c->name : "?", (int)c->cred.pid, why);
	}
	consumer_uncount(server, c);
	c->state = STATE_CLOSING;

	while (c->n_pending > 0)
		pending_discard(c);
	while (c->n_leases > 0) {
		struct dmapipe_buffer *b = c->leases[--c->n_leases].buffer;

		server_drop_ref(server, b);
	}
	while (c->n_fenced > 0) {
		struct fenced *f = &c->fenced[--c->n_fenced];

		dmapipe_close(f->fence);
		server_drop_ref(server, f->buffer);
	}
	while (c->n_control > 0) {
		control_close_fds(&c->control[c->control_head]);
		c->control_head = (c->control_head + 1) % MAX_CONTROL_QUEUE;
		c->n_control--;
	}
	dmapipe_ring_finish(&c->frames_ring);
	dmapipe_ring_finish(&c->releases_ring);
	epoll_ctl(server->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	/*
	 * A datagram of the peer's still unread at our close (a ring WAKE,
	 * which a ring consumer sends after its last release) makes the
	 * kernel reset its end: its next read fails with ECONNRESET before
	 * it reads what we sent last, and an EOS turns into "producer went
	 * away". Stop it sending, then read what is queued.
	 */
	shutdown(c->fd, SHUT_RD);
	dmapipe_socket_drain(c->fd);
	/* the drain stops at 256 messages: what is left, fds included, goes
	 * with the socket, and releasing them may wait */
	dmapipe_close_deferred(c->fd);
	c->fd = -1;
	consumer_unlink(server, c);
	c->reap_next = server->closed;
	server->closed = c;
}

void server_reap(struct dmapipe_server *server)
{
	if (server->n_retiring && !server->freeing)
		server_retire_idle(server);
	while (server->closed) {
		struct consumer *c = server->closed;

		server->closed = c->reap_next;
		free(c->control);
		free(c->leases);
		free(c->fenced);
		free(c);
	}
	/* a safe point for the application's callback: no loop over consumers runs */
	server_tell_constraints(server);
}

/* ---- the start of a stream, broadcasts, releases ---------------------------- */

bool consumer_start(struct consumer *c)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_msg msg;

	if (server->have_format) {
		memset(&msg, 0, sizeof(msg));
		msg.type = DMAPIPE_MSG_FORMAT;
		msg.format = server->format;
		if (!consumer_send_control(c, &msg))
			return false;
		if (!consumer_send_format_info(c))
			return false;
	}
	for (unsigned int i = 0; i < server->n_slots; i++) {
		if (!server->slots[i].buffer)
			continue;
		server_add_buffer_msg(&msg, i, server->slots[i].buffer);
		if (!consumer_send_control(c, &msg))
			return false;
	}
	if (server->eos) {
		memset(&msg, 0, sizeof(msg));
		msg.type = DMAPIPE_MSG_EOS;
		msg.eos_last_sequence = server->last_sequence;
		return consumer_send_control(c, &msg);
	}
	return true;
}

bool consumer_send_format_info(struct consumer *c)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_msg msg;

	if (!server->have_format || !server->have_format_info ||
	    !(c->features & DMAPIPE_FEATURE_FORMAT_INFO))
		return true;
	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_FORMAT_INFO;
	msg.format_info = server->format_info;
	return consumer_send_control(c, &msg);
}

void server_broadcast_format_info(struct dmapipe_server *server)
{
	struct consumer *c, *next;

	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (c->state == STATE_STREAMING && c->role == DMAPIPE_ROLE_CONSUMER)
			consumer_send_format_info(c);
	}
}

void server_broadcast_control(struct dmapipe_server *server, const struct dmapipe_msg *msg)
{
	struct consumer *c, *next;

	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (c->state == STATE_STREAMING && c->role == DMAPIPE_ROLE_CONSUMER)
			consumer_send_control(c, msg);
	}
}

bool consumer_release_lease(struct consumer *c, uint32_t buffer_id, uint64_t sequence, int fence)
{
	unsigned int i;

	for (i = 0; i < c->n_leases; i++)
		if (c->leases[i].id == buffer_id && c->leases[i].sequence == sequence)
			break;
	/* the fence is not known to be a sync_file until checked below */
	if (i == c->n_leases) {
		dmapipe_close_deferred(fence);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "release of a frame the consumer does not hold");
		return false;
	}
	if (fence >= 0 && !(c->features & DMAPIPE_FEATURE_FENCES)) {
		dmapipe_close_deferred(fence);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "release fence without the fences feature");
		return false;
	}
	if (fence >= 0 && !dmapipe_fd_is_sync_file(fence)) {
		dmapipe_close_deferred(fence);
		consumer_close(c, DMAPIPE_ERR_BAD_FD, "release fence is not a sync_file");
		return false;
	}
	if (fence >= 0 && !server_fence_signalled(fence)) {
		/* it stays within max_in_flight: the lease becomes the fenced entry */
		if (c->n_fenced >= c->server->opts.fd_quota) {
			dmapipe_close(fence);
			consumer_close(c, DMAPIPE_ERR_FD_QUOTA, "too many unsignalled release fences");
			return false;
		}
		c->fenced[c->n_fenced].buffer = c->leases[i].buffer;
		c->fenced[c->n_fenced].fence = fence;
		c->n_fenced++;
		c->leases[i] = c->leases[--c->n_leases];
	} else {
		struct dmapipe_buffer *b = c->leases[i].buffer;

		dmapipe_close(fence);
		c->leases[i] = c->leases[--c->n_leases];
		server_drop_ref(c->server, b);
	}
	c->frames_released++;
	return true;
}
