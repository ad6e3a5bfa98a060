/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One consumer of a stream, as the producer sees it: the frames decided
 * for it and not yet sent (its policy's queue), its leases and the
 * releases behind a fence, the control messages waiting for room in its
 * socket, and sending all of that without ever blocking.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server-private.h"

static void set_want_out(struct consumer *c, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out == want || c->fd < 0)
		return;
	if (epoll_ctl(c->server->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want;
}

static int dup_msg_fds(struct dmapipe_msg *msg)
{
	if (msg->type != DMAPIPE_MSG_ADD_BUFFER)
		return 0;
	for (uint32_t i = 0; i < msg->add_buffer.layout.n_objects; i++) {
		int fd = fcntl(msg->add_buffer.layout.objects[i].fd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0) {
			int err = -errno;

			for (uint32_t j = 0; j < i; j++)
				dmapipe_close(msg->add_buffer.layout.objects[j].fd);
			return err;
		}
		msg->add_buffer.layout.objects[i].fd = fd;
	}
	return 0;
}

bool consumer_send_control(struct consumer *c, const struct dmapipe_msg *msg)
{
	struct control *slot;
	int ret;

	if (c->state == STATE_CLOSING)
		return false;
	if (c->n_control == 0) {
		ret = dmapipe_send_msg(c->fd, msg);
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
	slot->msg = *msg;
	if (dup_msg_fds(&slot->msg) < 0) {
		consumer_close(c, DMAPIPE_ERR_INTERNAL, "cannot duplicate buffer fds");
		return false;
	}
	c->n_control++;
	set_want_out(c, true);
	return true;
}

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
	if (id < 0 || server->slots[id].ours || server->freeing || !server->idle_func)
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

bool consumer_flush(struct consumer *c)
{
	int ret;

	if (c->state != STATE_STREAMING)
		return true;

	while (c->n_control > 0) {
		struct control *ctl = &c->control[c->control_head];

		ret = dmapipe_send_msg(c->fd, &ctl->msg);
		if (ret == -EAGAIN) {
			set_want_out(c, true);
			return true;
		}
		dmapipe_msg_close_fds(&ctl->msg);
		if (ret < 0) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return false;
		}
		c->control_head = (c->control_head + 1) % MAX_CONTROL_QUEUE;
		c->n_control--;
	}

	while (c->n_pending > 0 && c->n_leases < c->max_in_flight) {
		struct dmapipe_msg *tx = c->server->tx;
		unsigned int n = 0, sent;
		uint64_t now;

		/* Every frame the consumer may take now goes in one sendmmsg(). */
		while (n < c->n_pending && c->n_leases + n < c->max_in_flight) {
			const struct pending *p = &c->pending[(c->pending_head + n) % MAX_QUEUE_CAP];

			/* A consumer that cannot take fences gets the frame once
			 * it is complete; the timer retries. */
			if (!(c->features & DMAPIPE_FEATURE_FENCES) &&
			    !server_fence_signalled(p->meta.acquire_fence))
				break;
			tx[n].type = DMAPIPE_MSG_FRAME;
			tx[n].frame.buffer_id = p->id;
			tx[n].frame.meta = p->meta;
			if (!(c->features & DMAPIPE_FEATURE_FENCES))
				tx[n].frame.meta.acquire_fence = -1;
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
		now = dmapipe_now_ns();
		for (unsigned int i = 0; i < sent; i++) {
			struct pending *p = &c->pending[c->pending_head];
			struct lease *l = &c->leases[c->n_leases++];

			dmapipe_close(p->meta.acquire_fence);
			l->buffer = p->buffer; /* the pending reference becomes the lease */
			l->id = p->id;
			l->sequence = p->meta.sequence;
			l->sent_ns = now;
			p->buffer = NULL;
			c->pending_head = (c->pending_head + 1) % MAX_QUEUE_CAP;
			c->n_pending--;
			c->frames_sent++;
		}
		if (sent < n) {
			/* the socket filled up after the first ones */
			set_want_out(c, true);
			return true;
		}
	}
	set_want_out(c, false);
	return true;
}

static void send_error(struct consumer *c, enum dmapipe_error_code code, const char *why)
{
	struct dmapipe_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_ERROR;
	msg.error.code = code;
	dmapipe_strlcpy(msg.error.message, why, sizeof(msg.error.message));
	/* best effort: the connection ends right after */
	(void)dmapipe_send_msg(c->fd, &msg);
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
	if (c->role != DMAPIPE_ROLE_MONITOR)
		server->n_consumers--;
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
		dmapipe_msg_close_fds(&c->control[c->control_head].msg);
		c->control_head = (c->control_head + 1) % MAX_CONTROL_QUEUE;
		c->n_control--;
	}
	epoll_ctl(server->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	/* what the peer sent after the drain is still queued on the socket,
	 * fds included: closing it releases them, which may wait */
	dmapipe_close_deferred(c->fd);
	c->fd = -1;
	consumer_unlink(server, c);
	c->reap_next = server->closed;
	server->closed = c;
}

void server_reap(struct dmapipe_server *server)
{
	while (server->closed) {
		struct consumer *c = server->closed;

		server->closed = c->reap_next;
		free(c->control);
		free(c);
	}
}

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
		if (c->n_fenced >= MAX_FENCED || c->n_fenced >= c->server->opts.fd_quota) {
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
