/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The consumer side of a stream.
 *
 * Everything a producer sends is checked before it is used: buffers are
 * built with dmapipe_buffer_new_from_fds(), which identifies every fd and
 * bounds-checks the layout against the fds' real sizes before anything is
 * mapped; frame ids, counts and payload sizes are checked against what
 * the producer announced. A producer that breaks a rule gets an ERROR and
 * the connection ends; the frames the application already holds stay
 * valid until it releases them.
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

#define MAX_IDS 256
#define MAX_FRAMES 16
/* recvmmsg() bursts read per wake-up, at most */
#define RECV_ROUNDS 16
/*
 * Release coalescing (see dmapipe_client_release_frame()): a release is
 * held back only while more received frames wait to be acquired, only if
 * the application held the frame less than RELEASE_FAST_NS (it is
 * handing frames on quickly, so the next release follows soon), never
 * longer than RELEASE_HOLD_MAX_NS, and for at most half of the in-flight
 * window (at least 2), so that the producer gets buffers back and sends
 * more frames while the consumer works through the rest.
 */
#define RELEASE_FAST_NS (100 * 1000ull)
#define RELEASE_HOLD_MAX_NS (1000 * 1000ull)

struct client_frame {
	struct dmapipe_frame frame;
	bool used;
	bool taken;          /* handed to the application */
	uint64_t generation; /* connection it came from */
	uint64_t acquired_ns;
};

struct release_entry {
	uint32_t buffer_id;
	uint64_t sequence;
	int fence;
};

struct dmapipe_client {
	struct dmapipe_client_options opts;
	char *path;
	char *name;

	int epoll_fd;
	struct dmapipe_busy_poll busy_poll;
	int timer_fd;
	int sock;
	bool want_out; /* EPOLLOUT armed on sock */
	/* dmapipe_client_get_fd() was called: an event loop may poll the fd,
	 * so a held-back release must make it readable */
	bool fd_exported;
	uint64_t generation;
	enum dmapipe_client_state state;
	bool hello_done;
	uint32_t features;
	uint32_t granted_in_flight;
	uint32_t backoff_ms;

	bool have_format;
	struct dmapipe_format format;
	struct dmapipe_buffer *buffers[MAX_IDS];
	unsigned int fds_held;

	struct client_frame frames[MAX_FRAMES];
	/* received, not yet taken: indices into frames[] in arrival order */
	unsigned int queue[MAX_FRAMES];
	unsigned int queue_head, queue_len;
	struct release_entry releases[MAX_FRAMES];
	unsigned int n_releases;
	uint64_t releases_held_ns; /* when the oldest held-back release was made */

	/* scratch space, allocated once */
	struct dmapipe_recv_batch *rx; /* a burst received from the producer */
	uint64_t rx_ns;                /* when it was received */
	struct dmapipe_msg *tx;        /* releases sent with one sendmmsg() */

	bool have_last;
	uint64_t last_sequence;
	bool discontinuity;

	enum dmapipe_error_code error;
	char error_message[DMAPIPE_PROTO_ERROR_LEN];
	struct dmapipe_client_stats stats;
};

static char tag_sock, tag_timer;

DMAPIPE_EXPORT void dmapipe_client_options_init(struct dmapipe_client_options *o)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->policy = DMAPIPE_POLICY_LATEST;
	o->queue_depth = 4;
	o->max_in_flight = 2;
	o->reconnect_min_ms = 50;
	o->reconnect_max_ms = 2000;
	o->fd_quota = 64;
	o->peer_policy = DMAPIPE_PEER_SAME_UID;
	o->busy_poll_us = 30;
}

static void arm_timer(struct dmapipe_client *client, uint32_t ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (ms == 0)
		its.it_value.tv_nsec = 1;
	timerfd_settime(client->timer_fd, 0, &its, NULL);
}

static unsigned int frames_outstanding(const struct dmapipe_client *client)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MAX_FRAMES; i++)
		if (client->frames[i].used && client->frames[i].generation == client->generation)
			n++;
	return n;
}

/* Drops everything that belongs to the current connection. */
static void connection_reset(struct dmapipe_client *client)
{
	if (client->sock >= 0) {
		epoll_ctl(client->epoll_fd, EPOLL_CTL_DEL, client->sock, NULL);
		close(client->sock);
		client->sock = -1;
	}
	/* a burst it was in the middle of: close the fds not yet handled */
	if (client->rx)
		dmapipe_recv_batch_discard(client->rx);
	/* Frames received but not yet taken stay queued: they hold their
	 * buffers, so the application can still drain them after EOS or a
	 * lost connection; releasing them is then local. */
	for (unsigned int i = 0; i < client->n_releases; i++)
		dmapipe_close(client->releases[i].fence);
	client->n_releases = 0;
	for (unsigned int i = 0; i < MAX_IDS; i++) {
		dmapipe_buffer_unref(client->buffers[i]);
		client->buffers[i] = NULL;
	}
	client->fds_held = 0;
	client->have_format = false;
	client->hello_done = false;
	/* sequence numbers of the next connection are unrelated to these */
	client->have_last = false;
	/* frames the application holds stay valid; their release is now local */
	client->generation++;
}

static void schedule_reconnect(struct dmapipe_client *client)
{
	client->state = DMAPIPE_CLIENT_CONNECTING;
	arm_timer(client, client->backoff_ms);
	client->backoff_ms = MIN(client->backoff_ms * 2, client->opts.reconnect_max_ms);
}

/*
 * The connection ended (@state says how). With reconnect on, the client
 * goes back to connecting; otherwise the state is final.
 */
static void connection_lost(struct dmapipe_client *client, enum dmapipe_client_state state)
{
	connection_reset(client);
	client->discontinuity = true;
	if (client->opts.reconnect) {
		schedule_reconnect(client);
		return;
	}
	client->state = state;
}

/* We refuse what the producer sent: tell it why, log it once, disconnect. */
static void protocol_violation(struct dmapipe_client *client, enum dmapipe_error_code code,
			       const char *why)
{
	struct dmapipe_msg msg;

	log_error("producer on %s: %s: %s", client->path, dmapipe_error_code_to_string(code), why);
	if (client->sock >= 0) {
		dmapipe_socket_drain(client->sock);
		memset(&msg, 0, sizeof(msg));
		msg.type = DMAPIPE_MSG_ERROR;
		msg.error.code = code;
		dmapipe_strlcpy(msg.error.message, why, sizeof(msg.error.message));
		(void)dmapipe_send_msg(client->sock, &msg);
	}
	client->error = code;
	dmapipe_strlcpy(client->error_message, why, sizeof(client->error_message));
	connection_lost(client, DMAPIPE_CLIENT_ERROR);
}

static int try_connect(struct dmapipe_client *client)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_sock };
	struct dmapipe_msg hello;
	const char *why = NULL;
	struct ucred cred;
	int fd, ret;

	fd = dmapipe_socket_connect(client->path);
	/* a producer whose backlog is full is retried like an absent one */
	if (fd < 0)
		return fd == -EAGAIN ? -ECONNREFUSED : fd;
	ret = dmapipe_peer_check(fd, client->opts.peer_policy, client->opts.allowed_uid,
				 client->opts.allowed_gid, &cred, &why);
	if (ret < 0) {
		log_error("producer on %s refused: %s", client->path, why);
		close(fd);
		return ret;
	}

	memset(&hello, 0, sizeof(hello));
	hello.type = DMAPIPE_MSG_HELLO;
	hello.hello.version = DMAPIPE_PROTO_VERSION;
	hello.hello.min_version = DMAPIPE_PROTO_VERSION;
	hello.hello.role = DMAPIPE_ROLE_CONSUMER;
	hello.hello.features = DMAPIPE_FEATURES_ALL;
	if (client->opts.dmabuf_only)
		hello.hello.features &= ~DMAPIPE_FEATURE_MEMFD;
	hello.hello.policy = client->opts.policy;
	hello.hello.queue_depth = client->opts.queue_depth;
	hello.hello.max_in_flight = client->opts.max_in_flight;
	dmapipe_strlcpy(hello.hello.name, client->name, sizeof(hello.hello.name));
	ret = dmapipe_send_msg(fd, &hello);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	client->sock = fd;
	client->want_out = false;
	client->state = DMAPIPE_CLIENT_CONNECTING;
	client->error = DMAPIPE_ERR_NONE;
	client->error_message[0] = '\0';
	return 0;
}

DMAPIPE_EXPORT struct dmapipe_client *dmapipe_client_new(const struct dmapipe_client_options *options)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_timer };
	struct dmapipe_client *client;
	int ret;

	if (!options || options->size < sizeof(uint32_t) || !options->path) {
		errno = EINVAL;
		return NULL;
	}
	client = calloc(1, sizeof(*client));
	if (!client)
		return NULL;
	dmapipe_client_options_init(&client->opts);
	memcpy(&client->opts, options, MIN((size_t)options->size, sizeof(client->opts)));
	client->opts.size = sizeof(client->opts);
	dmapipe_busy_poll_init(&client->busy_poll, client->opts.busy_poll_us);
	client->sock = client->timer_fd = -1;
	client->path = strdup(options->path);
	client->name = strdup(options->name ? options->name : "consumer");
	client->rx = calloc(1, sizeof(*client->rx));
	client->tx = calloc(MAX_FRAMES, sizeof(*client->tx));
	if (!client->rx || !client->tx) {
		ret = -ENOMEM;
		goto err;
	}
	client->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	client->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!client->path || !client->name || client->epoll_fd < 0 || client->timer_fd < 0 ||
	    epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, client->timer_fd, &ev) < 0) {
		ret = errno ? -errno : -ENOMEM;
		goto err;
	}
	if (client->opts.max_in_flight == 0)
		client->opts.max_in_flight = 1;
	if (client->opts.max_in_flight > MAX_FRAMES)
		client->opts.max_in_flight = MAX_FRAMES;
	if (client->opts.reconnect_min_ms == 0)
		client->opts.reconnect_min_ms = 1;
	if (client->opts.reconnect_max_ms < client->opts.reconnect_min_ms)
		client->opts.reconnect_max_ms = client->opts.reconnect_min_ms;
	client->backoff_ms = client->opts.reconnect_min_ms;

	ret = try_connect(client);
	if (ret < 0) {
		if (!client->opts.reconnect || ret == -EACCES || ret == -EINVAL ||
		    ret == -ENAMETOOLONG)
			goto err;
		log_info("%s: %s; retrying", client->path, strerror(-ret));
		schedule_reconnect(client);
	}
	return client;

err:
	dmapipe_client_free(client);
	errno = -ret;
	return NULL;
}

DMAPIPE_EXPORT void dmapipe_client_free(struct dmapipe_client *client)
{
	if (!client)
		return;
	connection_reset(client);
	for (unsigned int i = 0; i < MAX_FRAMES; i++) {
		if (client->frames[i].used) {
			dmapipe_close(client->frames[i].frame.meta.acquire_fence);
			dmapipe_buffer_unref(client->frames[i].frame.buffer);
		}
	}
	dmapipe_close(client->timer_fd);
	dmapipe_close(client->epoll_fd);
	free(client->rx);
	free(client->tx);
	free(client->path);
	free(client->name);
	free(client);
}

/* ---- receiving ---------------------------------------------------------- */

static void handle_add_buffer(struct dmapipe_client *client, struct dmapipe_msg_add_buffer *a)
{
	struct dmapipe_buffer *b;
	unsigned int n = a->layout.n_objects;
	const char *reason = NULL;
	char why[DMAPIPE_PROTO_ERROR_LEN];

	if (a->buffer_id >= MAX_IDS || client->buffers[a->buffer_id]) {
		dmapipe_msg_close_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_ADD_BUFFER,
							     .add_buffer = *a });
		snprintf(why, sizeof(why), "ADD_BUFFER with %s buffer id %u",
			 a->buffer_id >= MAX_IDS ? "out-of-range" : "an already used", a->buffer_id);
		protocol_violation(client, DMAPIPE_ERR_PROTOCOL, why);
		return;
	}
	if (!client->have_format ||
	    memcmp(&a->layout.format, &client->format, sizeof(client->format)) != 0) {
		dmapipe_msg_close_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_ADD_BUFFER,
							     .add_buffer = *a });
		protocol_violation(client, DMAPIPE_ERR_BAD_LAYOUT,
				   "ADD_BUFFER format differs from the stream's FORMAT");
		return;
	}
	if (client->fds_held + n > client->opts.fd_quota) {
		dmapipe_msg_close_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_ADD_BUFFER,
							     .add_buffer = *a });
		protocol_violation(client, DMAPIPE_ERR_FD_QUOTA,
				   "producer's buffers exceed this consumer's fd quota");
		return;
	}
	/* takes the fds; identifies each and checks the layout against the
	 * fds' real sizes before anything is mapped */
	b = dmapipe_buffer_import(&a->layout, &reason);
	if (!b) {
		int err = errno;

		snprintf(why, sizeof(why), "buffer %u refused: %s", a->buffer_id, reason);
		protocol_violation(client,
				   err == EBADFD || err == EPERM || err == EBADF ? DMAPIPE_ERR_BAD_FD :
				   DMAPIPE_ERR_BAD_LAYOUT, why);
		return;
	}
	if (client->opts.dmabuf_only && dmapipe_buffer_get_mem_kind(b) != DMAPIPE_MEM_DMABUF) {
		dmapipe_buffer_unref(b);
		protocol_violation(client, DMAPIPE_ERR_BAD_FD,
				   "memfd buffer sent to a consumer that takes only dma-bufs");
		return;
	}
	if (client->opts.map_buffers) {
		int ret = dmapipe_buffer_map_all(b);

		if (ret < 0) {
			dmapipe_buffer_unref(b);
			snprintf(why, sizeof(why), "cannot map buffer %u: %s", a->buffer_id,
				 strerror(-ret));
			protocol_violation(client, DMAPIPE_ERR_BAD_FD, why);
			return;
		}
	}
	client->buffers[a->buffer_id] = b;
	client->fds_held += n;
	client->stats.buffers_added++;
	client->stats.fds_received += n;
	client->stats.mem_kind = dmapipe_buffer_get_mem_kind(b);
}

static void handle_remove_buffer(struct dmapipe_client *client, uint32_t id)
{
	if (id >= MAX_IDS || !client->buffers[id]) {
		protocol_violation(client, DMAPIPE_ERR_PROTOCOL, "REMOVE_BUFFER of an unknown buffer id");
		return;
	}
	client->fds_held -= dmapipe_buffer_get_layout(client->buffers[id])->n_objects;
	/* frames holding it keep their own reference */
	dmapipe_buffer_unref(client->buffers[id]);
	client->buffers[id] = NULL;
}

static bool id_held(const struct dmapipe_client *client, uint32_t id)
{
	for (unsigned int i = 0; i < MAX_FRAMES; i++)
		if (client->frames[i].used && client->frames[i].generation == client->generation &&
		    client->frames[i].frame.buffer_id == id)
			return true;
	return false;
}

static void handle_frame(struct dmapipe_client *client, struct dmapipe_msg_frame *f)
{
	const struct dmapipe_layout *layout;
	struct client_frame *cf = NULL;
	enum dmapipe_error_code code = DMAPIPE_ERR_PROTOCOL;
	const char *why = NULL;
	unsigned int slot;

	if (f->buffer_id >= MAX_IDS || !client->buffers[f->buffer_id])
		why = "FRAME names a buffer id that was never added";
	else if (id_held(client, f->buffer_id))
		why = "FRAME reuses a buffer this consumer has not released";
	else if (f->meta.acquire_fence >= 0 && !(client->features & DMAPIPE_FEATURE_FENCES))
		why = "FRAME carries a fence although fences were not negotiated";
	else if (f->meta.acquire_fence >= 0 && !dmapipe_fd_is_sync_file(f->meta.acquire_fence)) {
		why = "FRAME acquire fence is not a sync_file";
		code = DMAPIPE_ERR_BAD_FD;
	}
	else if (frames_outstanding(client) >= client->granted_in_flight)
		why = "producer sent more frames than the agreed in-flight limit";
	if (!why) {
		layout = dmapipe_buffer_get_layout(client->buffers[f->buffer_id]);
		for (unsigned int p = 0; p < DMAPIPE_MAX_PLANES && !why; p++) {
			uint64_t room = 0;

			if (p < layout->n_planes)
				room = layout->objects[layout->planes[p].object].size -
				       layout->planes[p].offset;
			if (f->meta.bytes_used[p] > room)
				why = "FRAME bytes_used larger than the plane";
		}
	}
	if (why) {
		dmapipe_close(f->meta.acquire_fence);
		protocol_violation(client, code, why);
		return;
	}
	for (slot = 0; slot < MAX_FRAMES; slot++) {
		if (!client->frames[slot].used) {
			cf = &client->frames[slot];
			break;
		}
	}
	if (!cf) {
		/* the application holds frames of older connections too */
		dmapipe_close(f->meta.acquire_fence);
		protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
				   "no room for another frame: the application holds too many");
		return;
	}

	memset(cf, 0, sizeof(*cf));
	cf->used = true;
	cf->generation = client->generation;
	cf->frame.buffer = dmapipe_buffer_ref(client->buffers[f->buffer_id]);
	cf->frame.buffer_id = f->buffer_id;
	cf->frame.meta = f->meta;
	cf->frame.received_ns = client->rx_ns;
	if (client->have_last) {
		if (f->meta.sequence > client->last_sequence + 1)
			client->stats.sequence_gaps += f->meta.sequence - client->last_sequence - 1;
		else if (f->meta.sequence <= client->last_sequence)
			client->discontinuity = true;
	}
	if (client->discontinuity) {
		cf->frame.meta.flags |= DMAPIPE_FRAME_DISCONTINUITY;
		client->discontinuity = false;
	}
	client->have_last = true;
	client->last_sequence = f->meta.sequence;
	client->queue[(client->queue_head + client->queue_len) % MAX_FRAMES] = slot;
	client->queue_len++;
	client->stats.frames_received++;
}

static void handle_msg(struct dmapipe_client *client, struct dmapipe_msg *msg)
{
	if (!client->hello_done) {
		if (msg->type == DMAPIPE_MSG_ERROR)
			goto error;
		if (msg->type != DMAPIPE_MSG_HELLO || msg->hello.role != DMAPIPE_ROLE_PRODUCER) {
			dmapipe_msg_close_fds(msg);
			protocol_violation(client, DMAPIPE_ERR_PROTOCOL, "producer did not answer HELLO");
			return;
		}
		if (msg->hello.min_version > DMAPIPE_PROTO_VERSION ||
		    msg->hello.version < DMAPIPE_PROTO_VERSION) {
			protocol_violation(client, DMAPIPE_ERR_VERSION, "incompatible protocol version");
			return;
		}
		client->hello_done = true;
		client->features = msg->hello.features & DMAPIPE_FEATURES_ALL;
		client->granted_in_flight = MAX(1u, MIN(msg->hello.max_in_flight,
							client->opts.max_in_flight));
		client->state = DMAPIPE_CLIENT_STREAMING;
		client->backoff_ms = client->opts.reconnect_min_ms;
		log_info("connected to %s (stream '%s', policy %u, %u in flight, lease timeout %u ms)",
			 client->path, msg->hello.name, msg->hello.policy, client->granted_in_flight,
			 msg->hello.lease_timeout_ms);
		return;
	}

	switch (msg->type) {
	case DMAPIPE_MSG_FORMAT:
		client->format = msg->format;
		client->have_format = true;
		return;
	case DMAPIPE_MSG_ADD_BUFFER:
		handle_add_buffer(client, &msg->add_buffer);
		return;
	case DMAPIPE_MSG_REMOVE_BUFFER:
		handle_remove_buffer(client, msg->remove_buffer_id);
		return;
	case DMAPIPE_MSG_FRAME:
		handle_frame(client, &msg->frame);
		return;
	case DMAPIPE_MSG_EOS:
		log_info("%s: end of stream after frame %llu", client->path,
			 (unsigned long long)msg->eos_last_sequence);
		if (client->opts.reconnect) {
			connection_lost(client, DMAPIPE_CLIENT_EOS);
		} else {
			/* keep the queued frames: the application may still take them */
			client->state = DMAPIPE_CLIENT_EOS;
		}
		return;
	case DMAPIPE_MSG_ERROR:
		goto error;
	default:
		dmapipe_msg_close_fds(msg);
		protocol_violation(client, DMAPIPE_ERR_PROTOCOL, "unexpected message from the producer");
		return;
	}

error:
	log_error("producer on %s ended the connection: %s: %s", client->path,
		  dmapipe_error_code_to_string(msg->error.code), msg->error.message);
	client->error = msg->error.code;
	dmapipe_strlcpy(client->error_message, msg->error.message, sizeof(client->error_message));
	connection_lost(client, DMAPIPE_CLIENT_ERROR);
}

static void sock_readable(struct dmapipe_client *client);

/* EPOLLOUT only while releases wait for room: one syscall when it changes. */
static void set_want_out(struct dmapipe_client *client, bool want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = &tag_sock };

	if (client->want_out == want)
		return;
	if (epoll_ctl(client->epoll_fd, EPOLL_CTL_MOD, client->sock, &ev) == 0)
		client->want_out = want;
}

/*
 * Sends every release waiting in client->releases, in order, with one
 * sendmmsg(): fenced ones as RELEASE each, the others together in one
 * RELEASES if the producer takes it (a single one as RELEASE), or as one
 * RELEASE each if it does not.
 */
static void flush_releases(struct dmapipe_client *client)
{
	while (client->n_releases > 0 && client->sock >= 0) {
		unsigned int covers[MAX_FRAMES]; /* releases each message carries */
		struct dmapipe_msg *tx = client->tx;
		unsigned int n_msgs = 0, done = 0, sent;
		bool fences = client->features & DMAPIPE_FEATURE_FENCES;
		bool batch = client->features & DMAPIPE_FEATURE_RELEASES;
		int ret;

		for (unsigned int i = 0; i < client->n_releases; i++) {
			struct release_entry *r = &client->releases[i];
			struct dmapipe_msg *last = n_msgs ? &tx[n_msgs - 1] : NULL;

			if (r->fence >= 0 && !fences) {
				/* the producer cannot take fences: wait here, it is ours to wait for */
				struct pollfd pfd = { .fd = r->fence, .events = POLLIN };

				poll(&pfd, 1, -1);
			}
			if (r->fence < 0 || !fences) {
				if (batch && last && last->type == DMAPIPE_MSG_RELEASE &&
				    last->release.release_fence < 0) {
					/* a second unfenced release: turn the last one into RELEASES */
					uint32_t id = last->release.buffer_id;
					uint64_t seq = last->release.sequence;

					last->type = DMAPIPE_MSG_RELEASES;
					last->releases.n_releases = 1;
					last->releases.releases[0].buffer_id = id;
					last->releases.releases[0].sequence = seq;
				}
				if (batch && last && last->type == DMAPIPE_MSG_RELEASES) {
					uint32_t k = last->releases.n_releases++;

					last->releases.releases[k].buffer_id = r->buffer_id;
					last->releases.releases[k].sequence = r->sequence;
					covers[n_msgs - 1]++;
					continue;
				}
			}
			tx[n_msgs].type = DMAPIPE_MSG_RELEASE;
			tx[n_msgs].release.buffer_id = r->buffer_id;
			tx[n_msgs].release.sequence = r->sequence;
			tx[n_msgs].release.release_fence = fences ? r->fence : -1;
			covers[n_msgs++] = 1;
		}
		ret = dmapipe_send_msgs(client->sock, tx, n_msgs);
		if (ret == -EAGAIN) {
			set_want_out(client, true);
			return;
		}
		if (ret < 0) {
			/* The producer is gone, but what it sent before going (the
			 * last frames, EOS) is still queued on our side: read it
			 * first, so the end of the stream is not lost. */
			for (unsigned int i = 0; i < client->n_releases; i++)
				dmapipe_close(client->releases[i].fence);
			client->n_releases = 0;
			sock_readable(client);
			if (client->sock >= 0)
				connection_lost(client, client->state == DMAPIPE_CLIENT_EOS ?
						DMAPIPE_CLIENT_EOS : DMAPIPE_CLIENT_DISCONNECTED);
			return;
		}
		sent = (unsigned int)ret;
		for (unsigned int m = 0; m < sent; m++)
			done += covers[m];
		for (unsigned int i = 0; i < done; i++)
			dmapipe_close(client->releases[i].fence);
		memmove(&client->releases[0], &client->releases[done],
			sizeof(client->releases[0]) * (client->n_releases - done));
		client->n_releases -= done;
		if (sent < n_msgs) {
			/* the socket filled up: the rest goes when there is room */
			set_want_out(client, true);
			return;
		}
	}
	if (client->sock >= 0)
		set_want_out(client, false);
}

/* The read of the socket failed with @ret: the connection ends. */
static void read_failed(struct dmapipe_client *client, int ret, const char *why)
{
	dmapipe_recv_batch_discard(client->rx);
	if (ret == -ECONNRESET || ret == -EPIPE) {
		log_info("%s: producer closed the connection", client->path);
		connection_lost(client, client->state == DMAPIPE_CLIENT_EOS ?
				DMAPIPE_CLIENT_EOS : DMAPIPE_CLIENT_DISCONNECTED);
		return;
	}
	protocol_violation(client, DMAPIPE_ERR_PROTOCOL, why ? why : strerror(-ret));
}

static void sock_readable(struct dmapipe_client *client)
{
	struct dmapipe_recv_batch *rx = client->rx;

	/* Whole bursts only: what recvmmsg() took off the socket is not
	 * reported by epoll again. A connection that ends inside a burst
	 * closes the fds of the rest (connection_reset()). */
	for (int round = 0; round < RECV_ROUNDS && client->sock >= 0; round++) {
		int got = dmapipe_recv_batch_fill(client->sock, rx);

		if (got == -EAGAIN)
			return;
		if (got < 0) {
			read_failed(client, got, NULL);
			return;
		}
		/* one clock read for the burst: it arrived at once */
		client->rx_ns = dmapipe_now_ns();
		while (client->sock >= 0) {
			struct dmapipe_msg msg;
			const char *why = NULL;
			int ret;

			ret = dmapipe_recv_batch_next(rx, &msg, &why);
			if (ret == -EAGAIN)
				break;
			if (ret < 0) {
				read_failed(client, ret, why);
				return;
			}
			handle_msg(client, &msg);
		}
		/* a short burst emptied the socket */
		if (got < DMAPIPE_RECV_BATCH)
			return;
	}
}

DMAPIPE_EXPORT int dmapipe_client_get_fd(const struct dmapipe_client *client)
{
	/* The client is never const itself (it comes from _new()); the
	 * prototype only promises that the stream does not change. */
	struct dmapipe_client *c = (struct dmapipe_client *)client;

	/*
	 * From now on the fd may be polled, so held-back releases arm
	 * EPOLLOUT to keep it readable. Until then the only ways into the
	 * client are its own calls, and dispatch and wait send held releases
	 * before they block: no epoll_ctl() is needed per hold.
	 */
	if (!c->fd_exported) {
		c->fd_exported = true;
		if (c->n_releases > 0 && c->sock >= 0)
			set_want_out(c, true);
	}
	return client->epoll_fd;
}

DMAPIPE_EXPORT int dmapipe_client_dispatch(struct dmapipe_client *client, int timeout_ms)
{
	struct epoll_event events[4];
	int n, handled = 0;

	/* releases held back go out before waiting */
	if (client->n_releases > 0 && client->sock >= 0)
		flush_releases(client);
	n = dmapipe_busy_poll_wait(&client->busy_poll, client->epoll_fd, events,
				   ARRAY_SIZE(events), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (events[i].data.ptr == &tag_timer) {
			uint64_t ticks;
			int ret;

			if (read(client->timer_fd, &ticks, sizeof(ticks)) < 0)
				continue;
			if (client->sock >= 0 || !client->opts.reconnect)
				continue;
			ret = try_connect(client);
			if (ret == 0) {
				client->stats.reconnects++;
				log_info("%s: reconnected", client->path);
			} else {
				log_debug("%s: reconnect failed: %s", client->path, strerror(-ret));
				schedule_reconnect(client);
			}
			handled++;
		} else if (events[i].data.ptr == &tag_sock && client->sock >= 0) {
			if (events[i].events & EPOLLOUT)
				flush_releases(client);
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				sock_readable(client);
			handled++;
		}
	}
	return handled;
}

/* ---- the application's side ------------------------------------------------ */

DMAPIPE_EXPORT struct dmapipe_frame *dmapipe_client_acquire_frame(struct dmapipe_client *client)
{
	struct client_frame *cf;

	if (client->queue_len == 0) {
		switch (client->state) {
		case DMAPIPE_CLIENT_EOS:
			errno = EPIPE;
			break;
		case DMAPIPE_CLIENT_DISCONNECTED:
			errno = ECONNRESET;
			break;
		case DMAPIPE_CLIENT_ERROR:
			errno = EPROTO;
			break;
		default:
			errno = EAGAIN;
			break;
		}
		return NULL;
	}
	cf = &client->frames[client->queue[client->queue_head]];
	client->queue_head = (client->queue_head + 1) % MAX_FRAMES;
	client->queue_len--;
	cf->taken = true;
	cf->acquired_ns = dmapipe_now_ns();
	return &cf->frame;
}

DMAPIPE_EXPORT struct dmapipe_frame *dmapipe_client_wait_frame(struct dmapipe_client *client,
							       int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
		dmapipe_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct dmapipe_frame *f = dmapipe_client_acquire_frame(client);
		uint64_t now;
		int wait, ret;

		if (f || errno != EAGAIN)
			return f;
		now = dmapipe_now_ns();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return NULL;
		}
		wait = deadline == UINT64_MAX ? -1 : (int)((deadline - now + 999999) / 1000000);
		ret = dmapipe_client_dispatch(client, wait);
		if (ret < 0) {
			errno = -ret;
			return NULL;
		}
	}
}

DMAPIPE_EXPORT int dmapipe_client_release_frame(struct dmapipe_client *client,
						struct dmapipe_frame *frame, int release_fence)
{
	struct client_frame *cf = (struct client_frame *)frame;
	bool current, hold = false;
	uint64_t now;

	if (!frame || cf < client->frames || cf >= client->frames + MAX_FRAMES || !cf->used ||
	    !cf->taken) {
		dmapipe_close(release_fence);
		return -EINVAL;
	}
	current = cf->generation == client->generation && client->sock >= 0;
	if (current) {
		struct release_entry *r = &client->releases[client->n_releases++];

		r->buffer_id = frame->buffer_id;
		r->sequence = frame->meta.sequence;
		r->fence = release_fence;
		now = dmapipe_now_ns();
		if (client->n_releases == 1)
			client->releases_held_ns = now;
		/*
		 * Coalescing: while more received frames wait and the
		 * application hands frames on quickly, hold this release so the
		 * next ones go in the same message. EPOLLOUT makes the client's
		 * fd readable meanwhile, so an event loop dispatches (and sends
		 * it) as soon as it polls; dispatch and wait send it too.
		 */
		hold = client->queue_len > 0 &&
		       client->n_releases < MAX(2u, client->granted_in_flight / 2) &&
		       now - cf->acquired_ns < RELEASE_FAST_NS &&
		       now - client->releases_held_ns < RELEASE_HOLD_MAX_NS;
	} else {
		/* the connection it came from is gone: the producer already
		 * took the lease back */
		dmapipe_close(release_fence);
	}
	dmapipe_close(frame->meta.acquire_fence);
	dmapipe_buffer_unref(frame->buffer);
	memset(cf, 0, sizeof(*cf));
	client->stats.frames_released++;
	if (current) {
		if (hold) {
			if (client->fd_exported)
				set_want_out(client, true);
		} else {
			flush_releases(client);
		}
	}
	return 0;
}

DMAPIPE_EXPORT enum dmapipe_client_state dmapipe_client_get_state(const struct dmapipe_client *client)
{
	return client->state;
}

DMAPIPE_EXPORT enum dmapipe_error_code dmapipe_client_get_error(const struct dmapipe_client *client,
								const char **message)
{
	if (message)
		*message = client->error_message;
	return client->error;
}

DMAPIPE_EXPORT const struct dmapipe_format *dmapipe_client_get_format(const struct dmapipe_client *client)
{
	return client->have_format ? &client->format : NULL;
}

DMAPIPE_EXPORT void dmapipe_client_get_stats(const struct dmapipe_client *client,
					     struct dmapipe_client_stats *stats)
{
	*stats = client->stats;
}

/* ---- monitor ----------------------------------------------------------------- */

static int recv_wait(int fd, struct dmapipe_msg *msg, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const char *why = NULL;
		uint64_t now;
		int ret;

		ret = dmapipe_recv_msg(fd, msg, NULL, &why);
		if (ret != -EAGAIN)
			return ret;
		now = dmapipe_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)((deadline - now + 999999) / 1000000));
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

DMAPIPE_EXPORT int dmapipe_query_stats(const char *path, struct dmapipe_server_stats *server,
				       struct dmapipe_consumer_stats *consumers, int max,
				       int timeout_ms)
{
	uint64_t deadline = dmapipe_now_ns() + (uint64_t)(timeout_ms < 0 ? 5000 : timeout_ms) * 1000000u;
	struct dmapipe_msg *msg;
	int fd, ret, n;

	if (!path)
		return -EINVAL;
	msg = calloc(1, sizeof(*msg));
	if (!msg)
		return -ENOMEM;
	fd = dmapipe_socket_connect(path);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	msg->type = DMAPIPE_MSG_HELLO;
	msg->hello.version = DMAPIPE_PROTO_VERSION;
	msg->hello.min_version = DMAPIPE_PROTO_VERSION;
	msg->hello.role = DMAPIPE_ROLE_MONITOR;
	msg->hello.features = DMAPIPE_FEATURE_STATS;
	dmapipe_strlcpy(msg->hello.name, "stats", sizeof(msg->hello.name));
	ret = dmapipe_send_msg(fd, msg);
	if (ret < 0)
		goto out;
	ret = recv_wait(fd, msg, deadline);
	if (ret < 0)
		goto out;
	if (msg->type != DMAPIPE_MSG_HELLO) {
		dmapipe_msg_close_fds(msg);
		ret = msg->type == DMAPIPE_MSG_ERROR ? -EACCES : -EPROTO;
		goto out;
	}
	memset(msg, 0, sizeof(*msg));
	msg->type = DMAPIPE_MSG_STATS_REQUEST;
	ret = dmapipe_send_msg(fd, msg);
	if (ret < 0)
		goto out;
	ret = recv_wait(fd, msg, deadline);
	if (ret < 0)
		goto out;
	if (msg->type != DMAPIPE_MSG_STATS) {
		dmapipe_msg_close_fds(msg);
		ret = -EPROTO;
		goto out;
	}
	if (server)
		*server = msg->stats.server;
	n = (int)msg->stats.n_consumers;
	if (consumers)
		memcpy(consumers, msg->stats.consumers, sizeof(*consumers) * (size_t)MIN(n, max));
	ret = n;
out:
	dmapipe_close(fd);
	free(msg);
	return ret;
}
