/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The producer side of a stream.
 *
 * Ownership in one place: every reference the server holds on a buffer is
 * either a slot reference (buffers the application registered with
 * dmapipe_server_add_buffer()), a pending entry (a frame decided for a
 * consumer but not yet sent), a lease (sent, not yet released) or a fenced
 * release (released with a fence that has not signalled). Pool buffers have
 * no slot reference, so they return to the pool as soon as the last
 * pending entry or lease goes.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "private.h"
#include "busy-poll.h"
#include "socket.h"
#include "transport.h"

#define MAX_SLOTS 256
#define MAX_IN_FLIGHT_CAP 16
#define MAX_QUEUE_CAP 16
#define MAX_CONTROL_QUEUE 64
#define MAX_FENCED 16
/* recvmmsg() bursts read from one consumer per wake-up, at most */
#define RECV_ROUNDS 4
#define FENCE_RETRY_NS (1000 * 1000ull)

enum consumer_state {
	STATE_HANDSHAKE = 0,
	STATE_STREAMING = 1,
	STATE_CLOSING = 2,
};

struct pending {
	struct dmapipe_buffer *buffer; /* reference */
	uint32_t id;
	struct dmapipe_frame_meta meta; /* meta.acquire_fence owned here */
};

struct lease {
	struct dmapipe_buffer *buffer; /* reference */
	uint32_t id;
	uint64_t sequence;
	uint64_t sent_ns;
};

struct fenced {
	struct dmapipe_buffer *buffer; /* reference, dropped when fence signals */
	int fence;
};

/* A control message that could not be sent yet; owns dup'ed fds. */
struct control {
	struct dmapipe_msg msg;
};

struct consumer {
	struct consumer *next;
	struct dmapipe_server *server;
	int fd;
	uint32_t id;
	enum consumer_state state;
	struct ucred cred;
	uint32_t role;
	uint32_t features;
	uint32_t policy;
	uint32_t queue_depth;
	uint32_t max_in_flight;
	char name[DMAPIPE_PROTO_NAME_LEN];
	uint64_t connected_ns;
	bool want_out; /* EPOLLOUT armed */
	/* refused at accept: answered with this ERROR once its HELLO is read,
	 * so the refusal reaches the peer instead of a connection reset */
	enum dmapipe_error_code refuse_code;
	const char *refuse_why;

	struct pending pending[MAX_QUEUE_CAP];
	unsigned int pending_head, n_pending;
	struct lease leases[MAX_IN_FLIGHT_CAP];
	unsigned int n_leases;
	struct fenced fenced[MAX_FENCED];
	unsigned int n_fenced;
	struct control *control;
	unsigned int control_head, n_control;
	bool eos_sent;

	uint64_t frames_sent, frames_released, frames_dropped;
};

struct slot {
	struct dmapipe_buffer *buffer; /* NULL when unused */
	bool ours;                     /* from our pool: no slot reference */
};

struct dmapipe_server {
	struct dmapipe_server_options opts;
	char *path;
	char *stream_name;
	char *producer_name;
	struct dmapipe_socket_file sock_file;

	int listen_fd;
	int epoll_fd;
	struct dmapipe_busy_poll busy_poll;
	int timer_fd;
	uint64_t timer_deadline; /* armed expiry, UINT64_MAX when disarmed or fired */

	struct consumer *consumers;
	uint32_t next_consumer_id;
	unsigned int n_consumers; /* streaming consumers and handshakes, not monitors */

	bool have_format;
	struct dmapipe_format format;
	struct slot slots[MAX_SLOTS];
	unsigned int n_slots; /* highest used index + 1 */
	struct dmapipe_pool *pool;
	struct dmapipe_allocator *allocator;
	uint32_t pool_base_id;
	bool eos;
	uint64_t last_sequence;

	struct dmapipe_server_stats stats;
	struct dmapipe_copy_stats copies_at_start;

	/* scratch space of the dispatch loop, allocated once */
	struct dmapipe_recv_batch *rx; /* a burst received from one consumer */
	struct dmapipe_msg *tx;        /* FRAMEs sent with one sendmmsg() */

	dmapipe_server_idle_func idle_func;
	void *idle_data;
	bool freeing; /* no idle callbacks during dmapipe_server_free() */
};

/* epoll tags: the listening socket and the timer use these two addresses */
static char tag_listen, tag_timer;

static void consumer_close(struct consumer *c, enum dmapipe_error_code code, const char *why);
static void consumer_flush(struct consumer *c);
static void update_timer(struct dmapipe_server *server);

DMAPIPE_EXPORT void dmapipe_server_options_init(struct dmapipe_server_options *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->socket_mode = 0660;
	o->peer_policy = DMAPIPE_PEER_SAME_UID;
	o->max_consumers = 32;
	o->lease_timeout_ms = 5000;
	o->max_in_flight = 2;
	o->max_queue_depth = 8;
	o->fd_quota = 64;
	o->max_buffers = 32;
	o->handshake_timeout_ms = 5000;
	o->busy_poll_us = 30;
}

static int epoll_add(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

DMAPIPE_EXPORT struct dmapipe_server *dmapipe_server_new(const struct dmapipe_server_options *options)
{
	struct dmapipe_server *server;
	const char *base;
	int ret;

	if (!options || options->size < sizeof(uint32_t) || !options->path) {
		errno = EINVAL;
		return NULL;
	}
	server = calloc(1, sizeof(*server));
	if (!server)
		return NULL;
	dmapipe_server_options_init(&server->opts);
	memcpy(&server->opts, options, MIN((size_t)options->size, sizeof(server->opts)));
	server->opts.size = sizeof(server->opts);
	dmapipe_busy_poll_init(&server->busy_poll, server->opts.busy_poll_us);
	server->listen_fd = server->epoll_fd = server->timer_fd = -1;
	server->timer_deadline = UINT64_MAX;

	if (server->opts.max_in_flight == 0 || server->opts.max_in_flight > MAX_IN_FLIGHT_CAP)
		server->opts.max_in_flight = server->opts.max_in_flight ? MAX_IN_FLIGHT_CAP : 2;
	if (server->opts.max_queue_depth == 0 || server->opts.max_queue_depth > MAX_QUEUE_CAP)
		server->opts.max_queue_depth = server->opts.max_queue_depth ? MAX_QUEUE_CAP : 8;
	if (server->opts.max_buffers == 0 || server->opts.max_buffers > MAX_SLOTS)
		server->opts.max_buffers = server->opts.max_buffers ? MAX_SLOTS : 32;
	if (server->opts.max_consumers == 0)
		server->opts.max_consumers = 32;

	server->path = strdup(options->path);
	base = strrchr(options->path, '/');
	base = base ? base + 1 : options->path;
	if (*base == '@')
		base++;
	server->stream_name = strdup(options->stream_name ? options->stream_name : base);
	server->producer_name = strdup(options->producer_name ? options->producer_name : "dmapipe");
	server->opts.path = server->path;
	server->opts.stream_name = server->stream_name;
	server->opts.producer_name = server->producer_name;
	if (!server->path || !server->stream_name || !server->producer_name) {
		ret = -ENOMEM;
		goto err;
	}

	server->rx = calloc(1, sizeof(*server->rx));
	server->tx = calloc(MAX_IN_FLIGHT_CAP, sizeof(*server->tx));
	if (!server->rx || !server->tx) {
		ret = -ENOMEM;
		goto err;
	}
	server->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (server->epoll_fd < 0) {
		ret = -errno;
		goto err;
	}
	server->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (server->timer_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = dmapipe_socket_listen(server->path, server->opts.socket_mode, &server->sock_file);
	if (ret < 0)
		goto err;
	server->listen_fd = ret;
	ret = epoll_add(server->epoll_fd, server->listen_fd, EPOLLIN, &tag_listen);
	if (ret == 0)
		ret = epoll_add(server->epoll_fd, server->timer_fd, EPOLLIN, &tag_timer);
	if (ret < 0)
		goto err;

	dmapipe_get_copy_stats(&server->copies_at_start);
	log_info("serving on %s", server->path);
	return server;

err:
	dmapipe_server_free(server);
	errno = -ret;
	return NULL;
}

/* ---- slots ------------------------------------------------------------- */

static int slot_of(const struct dmapipe_server *server, const struct dmapipe_buffer *buffer)
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

static void fill_add_buffer(struct dmapipe_msg *msg, uint32_t id, const struct dmapipe_buffer *b)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = DMAPIPE_MSG_ADD_BUFFER;
	msg->add_buffer.buffer_id = id;
	msg->add_buffer.layout = *dmapipe_buffer_get_layout(b);
}

/* ---- consumers: sending -------------------------------------------------- */

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

/*
 * Sends a control message now, or queues it behind earlier ones. Control
 * messages are never dropped; a consumer that lets too many pile up is
 * disconnected. Returns false if the consumer was closed.
 */
static bool consumer_send_control(struct consumer *c, const struct dmapipe_msg *msg)
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

/* True if a consumer holds @b: pending, leased, or released behind a fence. */
static bool buffer_in_use_by_consumers(const struct dmapipe_server *server,
				       const struct dmapipe_buffer *b)
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

/*
 * Drops a reference the server held for a consumer. An application
 * buffer that no consumer holds any more is idle: the application hears
 * of it (to requeue it to its device, say). The caller has already removed
 * the entry that held @b.
 */
static void drop_ref(struct dmapipe_server *server, struct dmapipe_buffer *b)
{
	int id = slot_of(server, b);

	dmapipe_buffer_unref(b);
	/* an application slot keeps its own reference, so @b is alive */
	if (id < 0 || server->slots[id].ours || server->freeing || !server->idle_func)
		return;
	if (!buffer_in_use_by_consumers(server, b))
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
	drop_ref(c->server, b);
}

/* The policy drops the oldest unsent frame: counted for this consumer. */
static void pending_drop_oldest(struct consumer *c)
{
	pending_discard(c);
	c->frames_dropped++;
	c->server->stats.frames_dropped++;
}

static bool fence_signalled(int fence)
{
	struct pollfd pfd = { .fd = fence, .events = POLLIN };

	return fence < 0 || (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLERR)));
}

/* Sends as much as policy and socket allow. */
static void consumer_flush(struct consumer *c)
{
	int ret;

	if (c->state != STATE_STREAMING)
		return;

	while (c->n_control > 0) {
		struct control *ctl = &c->control[c->control_head];

		ret = dmapipe_send_msg(c->fd, &ctl->msg);
		if (ret == -EAGAIN) {
			set_want_out(c, true);
			return;
		}
		dmapipe_msg_close_fds(&ctl->msg);
		if (ret < 0) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return;
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
			    !fence_signalled(p->meta.acquire_fence))
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
			return;
		}
		if (ret < 0) {
			consumer_close(c, DMAPIPE_ERR_NONE, strerror(-ret));
			return;
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
			return;
		}
	}
	set_want_out(c, false);
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
			*pp = c->next;
			return;
		}
	}
}

/*
 * Ends a connection and returns everything it held. @code != NONE sends an
 * ERROR first. The struct is freed at once; callers must not touch @c
 * afterwards.
 */
static void consumer_close(struct consumer *c, enum dmapipe_error_code code, const char *why)
{
	struct dmapipe_server *server = c->server;

	if (c->state == STATE_CLOSING)
		return;
	if (code != DMAPIPE_ERR_NONE) {
		dmapipe_socket_drain(c->fd);
		send_error(c, code, why);
		log_warn("consumer %u (%s, pid %d): %s: %s", c->id, c->name[0] ? c->name : "?",
			 (int)c->cred.pid, dmapipe_error_code_to_string(code), why);
	} else if (why) {
		log_info("consumer %u (%s, pid %d) disconnected: %s", c->id,
			 c->name[0] ? c->name : "?", (int)c->cred.pid, why);
	}
	if (c->role != DMAPIPE_ROLE_MONITOR)
		server->n_consumers--;
	c->state = STATE_CLOSING;

	while (c->n_pending > 0)
		pending_discard(c);
	while (c->n_leases > 0) {
		struct dmapipe_buffer *b = c->leases[--c->n_leases].buffer;

		drop_ref(server, b);
	}
	while (c->n_fenced > 0) {
		struct fenced *f = &c->fenced[--c->n_fenced];

		dmapipe_close(f->fence);
		drop_ref(server, f->buffer);
	}
	while (c->n_control > 0) {
		dmapipe_msg_close_fds(&c->control[c->control_head].msg);
		c->control_head = (c->control_head + 1) % MAX_CONTROL_QUEUE;
		c->n_control--;
	}
	free(c->control);
	epoll_ctl(server->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	consumer_unlink(server, c);
	free(c);
}

/* Sends FORMAT and every buffer to a consumer that just finished its handshake. */
/* Returns false if the connection was closed (and @c freed). */
static bool consumer_start(struct consumer *c)
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
		fill_add_buffer(&msg, i, server->slots[i].buffer);
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

static void broadcast_control(struct dmapipe_server *server, const struct dmapipe_msg *msg)
{
	struct consumer *c, *next;

	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (c->state == STATE_STREAMING && c->role == DMAPIPE_ROLE_CONSUMER)
			consumer_send_control(c, msg);
	}
}

/* ---- consumers: receiving ------------------------------------------------ */

/* The kind of memory the stream's buffers are, or NONE before there are any. */
static enum dmapipe_mem_kind server_mem_kind(const struct dmapipe_server *server)
{
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer)
			return dmapipe_buffer_get_mem_kind(server->slots[i].buffer);
	return DMAPIPE_MEM_NONE;
}

/* Returns false if the connection was closed (and @c freed). */
static bool handle_hello(struct consumer *c, const struct dmapipe_msg_hello *h)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_msg reply;

	if (h->min_version > DMAPIPE_PROTO_VERSION || h->version < DMAPIPE_PROTO_VERSION) {
		char why[96];

		snprintf(why, sizeof(why), "peer speaks protocol %u..%u, this producer speaks %u",
			 h->min_version, h->version, DMAPIPE_PROTO_VERSION);
		server->stats.consumers_refused++;
		consumer_close(c, DMAPIPE_ERR_VERSION, why);
		return false;
	}
	if (h->role != DMAPIPE_ROLE_CONSUMER && h->role != DMAPIPE_ROLE_MONITOR) {
		server->stats.consumers_refused++;
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "only consumers and monitors connect to a producer");
		return false;
	}
	c->role = h->role;
	dmapipe_strlcpy(c->name, h->name, sizeof(c->name));
	c->features = h->features & DMAPIPE_FEATURES_ALL;
	if (h->role == DMAPIPE_ROLE_CONSUMER && !(c->features & DMAPIPE_FEATURE_MEMFD) &&
	    server_mem_kind(server) == DMAPIPE_MEM_MEMFD) {
		server->stats.consumers_refused++;
		consumer_close(c, DMAPIPE_ERR_STRICT,
			       "consumer takes only dma-bufs and this stream's buffers are memfds");
		return false;
	}
	if (c->role == DMAPIPE_ROLE_MONITOR) {
		/* monitors do not count against max_consumers */
		server->n_consumers--;
	} else {
		c->policy = h->policy;
		if (c->policy < DMAPIPE_POLICY_LATEST || c->policy > DMAPIPE_POLICY_BLOCK)
			c->policy = DMAPIPE_POLICY_LATEST;
		c->queue_depth = c->policy == DMAPIPE_POLICY_LATEST ? 1 :
			MAX(1u, MIN(h->queue_depth, server->opts.max_queue_depth));
		c->max_in_flight = MAX(1u, MIN(h->max_in_flight, server->opts.max_in_flight));
		server->stats.consumers_total++;
	}

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
	c->state = STATE_STREAMING;
	if (!consumer_send_control(c, &reply))
		return false;
	if (c->role == DMAPIPE_ROLE_CONSUMER) {
		log_info("consumer %u (%s, pid %d) streaming: policy %u, queue %u, in flight %u",
			 c->id, c->name, (int)c->cred.pid, c->policy, c->queue_depth,
			 c->max_in_flight);
		return consumer_start(c);
	}
	return true;
}

/*
 * Ends the lease on (@buffer_id, @sequence), taking @fence (or -1).
 * Returns false if the connection was closed (and @c freed).
 */
static bool release_lease(struct consumer *c, uint32_t buffer_id, uint64_t sequence, int fence)
{
	unsigned int i;

	for (i = 0; i < c->n_leases; i++)
		if (c->leases[i].id == buffer_id && c->leases[i].sequence == sequence)
			break;
	if (i == c->n_leases) {
		dmapipe_close(fence);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "release of a frame the consumer does not hold");
		return false;
	}
	if (fence >= 0 && !(c->features & DMAPIPE_FEATURE_FENCES)) {
		dmapipe_close(fence);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, "release fence without the fences feature");
		return false;
	}
	if (fence >= 0 && !dmapipe_fd_is_sync_file(fence)) {
		dmapipe_close(fence);
		consumer_close(c, DMAPIPE_ERR_BAD_FD, "release fence is not a sync_file");
		return false;
	}
	if (fence >= 0 && !fence_signalled(fence)) {
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
		drop_ref(c->server, b);
	}
	c->frames_released++;
	return true;
}

/* Returns false if the connection was closed (and @c freed). */
static bool handle_release(struct consumer *c, struct dmapipe_msg_release *r)
{
	return release_lease(c, r->buffer_id, r->sequence, r->release_fence);
}

/*
 * RELEASES: each entry exactly as a RELEASE without a fence, in order; the
 * first one that names no lease ends the connection (a repeated entry
 * included). Returns false if the connection was closed (and @c freed).
 */
static bool handle_releases(struct consumer *c, const struct dmapipe_msg_releases *r)
{
	for (uint32_t i = 0; i < r->n_releases; i++)
		if (!release_lease(c, r->releases[i].buffer_id, r->releases[i].sequence, -1))
			return false;
	return true;
}

/* Returns false if the connection was closed (and @c freed). */
static bool send_stats(struct consumer *c)
{
	struct dmapipe_server *server = c->server;
	struct dmapipe_msg *msg = calloc(1, sizeof(*msg));
	bool ok;
	int n;

	if (!msg) {
		consumer_close(c, DMAPIPE_ERR_INTERNAL, "out of memory");
		return false;
	}
	msg->type = DMAPIPE_MSG_STATS;
	dmapipe_server_get_stats(server, &msg->stats.server);
	n = dmapipe_server_get_consumer_stats(server, msg->stats.consumers, DMAPIPE_PROTO_MAX_STATS);
	msg->stats.n_consumers = (uint32_t)MIN(n, DMAPIPE_PROTO_MAX_STATS);
	ok = consumer_send_control(c, msg);
	free(msg);
	return ok;
}

/* Returns false if the consumer was closed. */
static bool consumer_handle_msg(struct consumer *c, struct dmapipe_msg *msg)
{
	if (c->state == STATE_HANDSHAKE) {
		if (c->refuse_code != DMAPIPE_ERR_NONE) {
			dmapipe_msg_close_fds(msg);
			consumer_close(c, c->refuse_code, c->refuse_why);
			return false;
		}
		if (msg->type != DMAPIPE_MSG_HELLO) {
			dmapipe_msg_close_fds(msg);
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
		return send_stats(c);
	case DMAPIPE_MSG_ERROR:
		log_warn("consumer %u (%s) reported error %s: %s", c->id, c->name,
			 dmapipe_error_code_to_string(msg->error.code), msg->error.message);
		consumer_close(c, DMAPIPE_ERR_NONE, "consumer reported an error");
		return false;
	default:
		break;
	}
	{
		char why[80];

		snprintf(why, sizeof(why), "unexpected %s message from a %s",
			 dmapipe_msg_type_to_string(msg->type),
			 c->role == DMAPIPE_ROLE_MONITOR ? "monitor" : "consumer");
		dmapipe_msg_close_fds(msg);
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

static void consumer_readable(struct consumer *c)
{
	struct dmapipe_recv_batch *rx = c->server->rx;

	/* Whole bursts only: what recvmmsg() took off the socket is no longer
	 * reported by epoll, so every datagram of a burst is handled (or its
	 * fds closed) before returning. */
	for (int round = 0; round < RECV_ROUNDS; round++) {
		int got = dmapipe_recv_batch_fill(c->fd, rx);

		if (got == -EAGAIN)
			break;
		if (got < 0) {
			consumer_read_failed(c, got, NULL);
			return;
		}
		for (;;) {
			struct dmapipe_msg msg;
			const char *why = NULL;
			int ret;

			ret = dmapipe_recv_batch_next(rx, &msg, &why);
			if (ret == -EAGAIN)
				break;
			if (ret < 0) {
				consumer_read_failed(c, ret, why);
				return;
			}
			if (!consumer_handle_msg(c, &msg)) {
				dmapipe_recv_batch_discard(rx);
				return;
			}
		}
		/* a short burst emptied the socket: no need to ask again */
		if (got < DMAPIPE_RECV_BATCH)
			break;
	}
	consumer_flush(c);
}

static void accept_consumers(struct dmapipe_server *server)
{
	for (;;) {
		struct consumer *c;
		const char *why = NULL;
		int fd, ret;

		fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("accept on %s: %s", server->path, strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->server = server;
		c->fd = fd;
		c->id = ++server->next_consumer_id;
		c->connected_ns = dmapipe_now_ns();
		c->state = STATE_HANDSHAKE;
		c->next = server->consumers;
		server->consumers = c;
		server->n_consumers++;

		if (epoll_add(server->epoll_fd, fd, EPOLLIN, c) < 0) {
			consumer_close(c, DMAPIPE_ERR_INTERNAL, "epoll");
			continue;
		}
		ret = dmapipe_peer_check(fd, server->opts.peer_policy, server->opts.allowed_uid,
					 server->opts.allowed_gid, &c->cred, &why);
		if (ret < 0) {
			server->stats.consumers_refused++;
			c->refuse_code = DMAPIPE_ERR_PERMISSION;
			c->refuse_why = why;
		} else if (server->n_consumers > server->opts.max_consumers) {
			server->stats.consumers_refused++;
			c->refuse_code = DMAPIPE_ERR_TOO_MANY;
			c->refuse_why = "the producer has its maximum of consumers";
		}
	}
}

/* ---- timers ------------------------------------------------------------------ */

static void check_deadlines(struct dmapipe_server *server)
{
	uint64_t now = dmapipe_now_ns();
	uint64_t lease_ns = (uint64_t)server->opts.lease_timeout_ms * 1000000u;
	uint64_t hs_ns = (uint64_t)server->opts.handshake_timeout_ms * 1000000u;
	struct consumer *c, *next;

	for (c = server->consumers; c; c = next) {
		next = c->next;

		if (c->state == STATE_HANDSHAKE) {
			if (hs_ns && now - c->connected_ns >= hs_ns) {
				if (!c->refuse_code)
					server->stats.consumers_refused++;
				consumer_close(c, c->refuse_code ? c->refuse_code : DMAPIPE_ERR_PROTOCOL,
					       c->refuse_code ? c->refuse_why :
					       "no HELLO within the handshake timeout");
			}
			continue;
		}
		for (unsigned int i = 0; i < c->n_fenced;) {
			if (fence_signalled(c->fenced[i].fence)) {
				struct dmapipe_buffer *b = c->fenced[i].buffer;

				dmapipe_close(c->fenced[i].fence);
				c->fenced[i] = c->fenced[--c->n_fenced];
				drop_ref(server, b);
			} else {
				i++;
			}
		}
		if (lease_ns) {
			bool expired = false;

			for (unsigned int i = 0; i < c->n_leases; i++)
				if (now - c->leases[i].sent_ns >= lease_ns)
					expired = true;
			if (expired) {
				char why[96];

				snprintf(why, sizeof(why), "a frame was held longer than the lease timeout (%u ms)",
					 server->opts.lease_timeout_ms);
				server->stats.lease_timeouts++;
				consumer_close(c, DMAPIPE_ERR_LEASE_TIMEOUT, why);
				continue;
			}
		}
		consumer_flush(c);
	}
}

static void update_timer(struct dmapipe_server *server)
{
	uint64_t lease_ns = (uint64_t)server->opts.lease_timeout_ms * 1000000u;
	uint64_t hs_ns = (uint64_t)server->opts.handshake_timeout_ms * 1000000u;
	uint64_t deadline = UINT64_MAX, now = dmapipe_now_ns();
	struct itimerspec its;

	for (struct consumer *c = server->consumers; c; c = c->next) {
		if (c->state == STATE_HANDSHAKE && hs_ns)
			deadline = MIN(deadline, c->connected_ns + hs_ns);
		if (lease_ns)
			for (unsigned int i = 0; i < c->n_leases; i++)
				deadline = MIN(deadline, c->leases[i].sent_ns + lease_ns);
		if (c->n_fenced > 0 ||
		    (c->n_pending > 0 && !(c->features & DMAPIPE_FEATURE_FENCES) &&
		     c->n_leases < c->max_in_flight))
			deadline = MIN(deadline, now + FENCE_RETRY_NS);
	}
	/*
	 * The earliest deadline moves with every release, but re-arming the
	 * timer per frame would cost a syscall per frame: a timer armed for
	 * an earlier time only fires early, and check_deadlines() then finds
	 * nothing due and the timer is armed again for the real deadline.
	 */
	if (deadline == UINT64_MAX || deadline >= server->timer_deadline)
		return;
	server->timer_deadline = deadline;
	memset(&its, 0, sizeof(its));
	if (deadline <= now)
		deadline = now + 1;
	its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
	its.it_value.tv_nsec = (long)(deadline % 1000000000u);
	timerfd_settime(server->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- dispatch ---------------------------------------------------------------- */

DMAPIPE_EXPORT int dmapipe_server_get_fd(const struct dmapipe_server *server)
{
	return server->epoll_fd;
}

DMAPIPE_EXPORT int dmapipe_server_dispatch(struct dmapipe_server *server, int timeout_ms)
{
	struct epoll_event events[32];
	int n, handled = 0;

	n = dmapipe_busy_poll_wait(&server->busy_poll, server->epoll_fd, events,
				   ARRAY_SIZE(events), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;

	for (int i = 0; i < n; i++) {
		void *tag = events[i].data.ptr;

		if (tag == &tag_listen || tag == &tag_timer)
			continue;
		/* A consumer closed earlier in this loop may be in the list;
		 * check it is still connected before touching it. */
		for (struct consumer *c = server->consumers; c; c = c->next) {
			if (c != tag)
				continue;
			if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				consumer_readable(c);
			else if (events[i].events & EPOLLOUT)
				consumer_flush(c);
			handled++;
			break;
		}
	}
	for (int i = 0; i < n; i++) {
		if (events[i].data.ptr == &tag_listen) {
			accept_consumers(server);
			handled++;
		} else if (events[i].data.ptr == &tag_timer) {
			uint64_t ticks;

			if (read(server->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				log_debug("timerfd read: %s", strerror(errno));
			server->timer_deadline = UINT64_MAX;
			handled++;
		}
	}
	check_deadlines(server);
	update_timer(server);
	return handled;
}

/* ---- buffers ----------------------------------------------------------------- */

static void remove_slot(struct dmapipe_server *server, unsigned int id)
{
	struct dmapipe_msg msg;
	struct slot *s = &server->slots[id];

	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_REMOVE_BUFFER;
	msg.remove_buffer_id = id;
	broadcast_control(server, &msg);
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
			pending_drop_oldest(c);
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
	broadcast_control(server, &msg);
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
	fill_add_buffer(&msg, (uint32_t)id, buffer);
	broadcast_control(server, &msg);
	return id;
}

static void name_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer, int id)
{
	char name[32];

	snprintf(name, sizeof(name), "%s:%s:%d", server->producer_name, server->stream_name, id);
	(void)dmapipe_buffer_set_name(buffer, name);
}

DMAPIPE_EXPORT int dmapipe_server_alloc_buffers(struct dmapipe_server *server,
						struct dmapipe_allocator *allocator,
						const struct dmapipe_format *format,
						unsigned int count)
{
	struct dmapipe_pool *pool;
	int ret;

	if (!format || count == 0 || count > server->opts.max_buffers)
		return -EINVAL;
	if (!allocator) {
		allocator = dmapipe_allocator_new_default();
		if (!allocator)
			return -errno;
	} else {
		dmapipe_allocator_ref(allocator);
	}
	pool = dmapipe_pool_new(allocator, format, count, NULL);
	if (!pool) {
		ret = -errno;
		dmapipe_allocator_unref(allocator);
		return ret;
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
	server->allocator = allocator;

	set_format(server, format);
	for (unsigned int i = 0; i < count; i++) {
		struct dmapipe_buffer *b = dmapipe_pool_get_buffer(pool, i);

		ret = register_buffer(server, b, true);
		if (ret < 0)
			return ret;
		name_buffer(server, b, ret);
	}
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

	if (slot_of(server, buffer) >= 0)
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
	int id = slot_of(server, buffer);

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

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_server_dequeue(struct dmapipe_server *server)
{
	struct dmapipe_buffer *b;
	unsigned int size;

	if (!server->pool) {
		errno = ENOENT;
		return NULL;
	}
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
			pending_drop_oldest(c);
			b = dmapipe_pool_acquire(server->pool);
			if (b)
				return b;
		}
	}

	/* Every buffer is leased: grow rather than slow down, up to the cap.
	 * Leases are bounded by max_in_flight and the lease timeout. */
	size = dmapipe_pool_get_size(server->pool);
	if (size < server->opts.max_buffers && dmapipe_pool_grow(server->pool, 1) == 0) {
		struct dmapipe_buffer *nb = dmapipe_pool_get_buffer(server->pool, size);
		int id = register_buffer(server, nb, true);

		if (id >= 0) {
			name_buffer(server, nb, id);
			log_info("all %u buffers are leased: grew the pool to %u", size, size + 1);
			return dmapipe_pool_acquire(server->pool);
		}
	}
	errno = EAGAIN;
	return NULL;
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_server_dequeue_wait(struct dmapipe_server *server,
								  int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
		dmapipe_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct dmapipe_buffer *b = dmapipe_server_dequeue(server);
		uint64_t now;
		int wait, ret;

		if (b || errno != EAGAIN)
			return b;
		now = dmapipe_now_ns();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return NULL;
		}
		wait = deadline == UINT64_MAX ? -1 : (int)((deadline - now + 999999) / 1000000);
		ret = dmapipe_server_dispatch(server, wait);
		if (ret < 0) {
			errno = -ret;
			return NULL;
		}
	}
}

DMAPIPE_EXPORT int dmapipe_server_queue(struct dmapipe_server *server, struct dmapipe_buffer *buffer,
					const struct dmapipe_frame_meta *meta)
{
	struct consumer *c, *next;
	int id = slot_of(server, buffer);
	int fence = meta ? meta->acquire_fence : -1;
	int count = 0;

	if (id < 0) {
		dmapipe_close(fence);
		dmapipe_buffer_unref(buffer);
		log_error("queue: buffer is not registered with this stream");
		return -ENOENT;
	}
	if (!server->slots[id].ours && buffer_in_use_by_consumers(server, buffer)) {
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

	for (c = server->consumers; c; c = next) {
		struct pending *p;

		next = c->next;
		if (c->state != STATE_STREAMING || c->role != DMAPIPE_ROLE_CONSUMER)
			continue;
		if (c->n_pending >= c->queue_depth) {
			if (c->policy == DMAPIPE_POLICY_BLOCK)
				log_debug("consumer %u: block queue full, dropping (producer ignored dequeue)", c->id);
			pending_drop_oldest(c);
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
	}
	dmapipe_close(fence);
	/* with no consumer taking it, an application buffer is idle at once */
	drop_ref(server, buffer);
	update_timer(server);
	return count;
}

DMAPIPE_EXPORT int dmapipe_server_end_of_stream(struct dmapipe_server *server)
{
	struct dmapipe_msg msg;

	if (server->eos)
		return 0;
	server->eos = true;
	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_EOS;
	msg.eos_last_sequence = server->last_sequence;
	for (struct consumer *c = server->consumers, *next; c; c = next) {
		next = c->next;
		if (c->state != STATE_STREAMING || c->role != DMAPIPE_ROLE_CONSUMER)
			continue;
		consumer_flush(c);
		if (c->state == STATE_STREAMING)
			consumer_send_control(c, &msg);
	}
	return 0;
}

/* ---- stats ------------------------------------------------------------------- */

DMAPIPE_EXPORT void dmapipe_server_get_stats(const struct dmapipe_server *server,
					     struct dmapipe_server_stats *stats)
{
	struct dmapipe_copy_stats copies;
	unsigned int buffers = 0;

	*stats = server->stats;
	dmapipe_get_copy_stats(&copies);
	stats->bytes_copied = copies.bytes - server->copies_at_start.bytes;
	stats->frames_copied = copies.frames - server->copies_at_start.frames;
	stats->consumers = 0;
	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (c->role == DMAPIPE_ROLE_CONSUMER && c->state == STATE_STREAMING)
			stats->consumers++;
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
		}
		n++;
	}
	return n;
}

/* ---- teardown ---------------------------------------------------------------- */

DMAPIPE_EXPORT void dmapipe_server_free(struct dmapipe_server *server)
{
	if (!server)
		return;
	server->freeing = true;
	dmapipe_server_end_of_stream(server);
	while (server->consumers)
		consumer_close(server->consumers, DMAPIPE_ERR_NONE, NULL);
	for (unsigned int i = 0; i < server->n_slots; i++)
		if (server->slots[i].buffer && !server->slots[i].ours)
			dmapipe_buffer_unref(server->slots[i].buffer);
	dmapipe_pool_free(server->pool);
	dmapipe_allocator_unref(server->allocator);
	if (server->listen_fd >= 0) {
		dmapipe_socket_unlink(server->path, &server->sock_file);
		close(server->listen_fd);
	}
	dmapipe_close(server->timer_fd);
	dmapipe_close(server->epoll_fd);
	free(server->rx);
	free(server->tx);
	free(server->path);
	free(server->stream_name);
	free(server->producer_name);
	free(server);
}
