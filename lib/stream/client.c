/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The consumer side of a stream: connecting and reconnecting, dispatch,
 * and the application's side (frames taken and released, releases sent
 * together). What it receives is checked in client-receive.c.
 */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "client-private.h"
#include "socket.h"
#include "wait.h"

/* Public and fixed-size (stream.h): a change of size is a change of the ABI. */
_Static_assert(sizeof(struct dmapipe_client_stats) == 120, "dmapipe_client_stats size");

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
	o->peer_policy = DMAPIPE_PEER_SAME_UID;
	o->busy_poll_us = 30;
	o->max_mapped_bytes = DEFAULT_MAX_MAPPED;
}

/* ---- the connection: connect, lose, reconnect ---------------------------- */

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

unsigned int client_frames_outstanding(const struct dmapipe_client *client)
{
	return client->n_current;
}

/* Drops everything that belongs to the current connection. */
static void connection_reset(struct dmapipe_client *client)
{
	if (client->sock >= 0) {
		epoll_ctl(client->epoll_fd, EPOLL_CTL_DEL, client->sock, NULL);
		/* it may still hold fds the producer sent and we never read */
		dmapipe_close_deferred(client->sock);
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
	dmapipe_ring_finish(&client->frames_ring);
	dmapipe_ring_finish(&client->releases_ring);
	client->busy_poll.ring_spin = false;
	client->sock_received = 0;
	client->last_socket_msgs = 0;
	client->fds_held = 0;
	client->mapped_bytes = 0;
	client->have_format = false;
	client->have_format_info = false;
	client->hello_done = false;
	/* sequence numbers of the next connection are unrelated to these */
	client->have_last = false;
	/* frames the application holds stay valid; their release is now local */
	client->generation++;
	client->n_current = 0;
	memset(client->id_current, 0, sizeof(client->id_current));
}

static void schedule_reconnect(struct dmapipe_client *client)
{
	client->state = DMAPIPE_CLIENT_CONNECTING;
	arm_timer(client, client->backoff_ms);
	client->backoff_ms = MIN(client->backoff_ms * 2, client->opts.reconnect_max_ms);
}

void client_connection_lost(struct dmapipe_client *client, enum dmapipe_client_state state)
{
	connection_reset(client);
	client->discontinuity = true;
	if (client->opts.reconnect) {
		schedule_reconnect(client);
		return;
	}
	client->state = state;
}

void client_protocol_violation(struct dmapipe_client *client, enum dmapipe_error_code code,
			       const char *why)
{
	struct dmapipe_msg msg;

	char name[DMAPIPE_ERROR_NAME_LEN];

	log_error_ratelimited("producer on %s: %s: %s", client->path,
			      dmapipe_error_code_name(code, name, sizeof(name)), why);
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
	client_connection_lost(client, DMAPIPE_CLIENT_ERROR);
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
		log_error_ratelimited("producer on %s refused: %s", client->path, why);
		/* whoever is there may have queued fds for us already */
		dmapipe_close_deferred(fd);
		return ret;
	}

	memset(&hello, 0, sizeof(hello));
	hello.type = DMAPIPE_MSG_HELLO;
	hello.hello.version = DMAPIPE_PROTO_VERSION;
	hello.hello.min_version = DMAPIPE_PROTO_VERSION;
	hello.hello.role = DMAPIPE_ROLE_CONSUMER;
	hello.hello.features = DMAPIPE_FEATURES_ALL;
	if (!client->rings_enabled)
		hello.hello.features &= ~DMAPIPE_FEATURE_RINGS;
	if (client->opts.dmabuf_only)
		hello.hello.features &= ~DMAPIPE_FEATURE_MEMFD;
	/* the bit promises CONSTRAINTS right after the handshake (the producer
	 * waits for them): only a consumer that has some sets it */
	if (!client->have_constraints)
		hello.hello.features &= ~DMAPIPE_FEATURE_CONSTRAINTS;
	client->offered = hello.hello.features;
	hello.hello.policy = client->opts.policy;
	hello.hello.queue_depth = client->opts.queue_depth;
	hello.hello.max_in_flight = client->opts.max_in_flight;
	dmapipe_strlcpy(hello.hello.name, client->name, sizeof(hello.hello.name));
	ret = dmapipe_send_msg(fd, &hello);
	if (ret < 0) {
		dmapipe_close_deferred(fd);
		return ret;
	}
	if (epoll_ctl(client->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		dmapipe_close_deferred(fd);
		return ret;
	}
	client->sock = fd;
	client->want_out = false;
	client->state = DMAPIPE_CLIENT_CONNECTING;
	client->error = DMAPIPE_ERR_NONE;
	client->error_message[0] = '\0';
	return 0;
}

/* Busy poll: a frame in the ring may be taken now. */
static bool ring_ready(void *data)
{
	return client_ring_ready(data);
}

static void ring_sleep(void *data, bool sleeping)
{
	client_ring_sleep(data, sleeping);
}

DMAPIPE_EXPORT struct dmapipe_client *dmapipe_client_new(const struct dmapipe_client_options *options)
{
	struct dmapipe_client_options opts;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_timer };
	struct dmapipe_client *client;
	int ret;

	dmapipe_client_options_init(&opts);
	ret = options ? dmapipe_options_copy(&opts, sizeof(opts), options, sizeof(uint32_t)) :
			-EINVAL;
	if (ret == 0 && !opts.path)
		ret = -EINVAL;
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	client = calloc(1, sizeof(*client));
	if (!client)
		return NULL;
	client->opts = opts;
	if (opts.constraints) {
		if (dmapipe_constraints_check(opts.constraints, NULL) < 0) {
			free(client);
			errno = EINVAL;
			return NULL;
		}
		client->constraints = *opts.constraints;
		client->have_constraints = true;
		client->opts.constraints = NULL; /* the caller's: not kept */
	}
	dmapipe_busy_poll_init(&client->busy_poll, client->opts.busy_poll_us);
	client->rings_enabled = dmapipe_rings_enabled();
	client->busy_poll.ring_ready = ring_ready;
	client->busy_poll.ring_sleep = ring_sleep;
	client->busy_poll.ring_data = client;
	client->sock = client->timer_fd = -1;
	client->path = strdup(client->opts.path);
	client->name = strdup(client->opts.name ? client->opts.name : "consumer");
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
	/*
	 * A fixed 64 ended every stream whose producer's pool grew past 64
	 * buffers (a recorder's deep buffer asks for exactly that): the
	 * automatic quota covers the largest pool a producer may have, and
	 * what this consumer itself asks to hold.
	 */
	if (client->opts.fd_quota == 0)
		client->opts.fd_quota = MAX(MAX_IDS, (client->opts.max_in_flight + 64) *
							   DMAPIPE_MAX_OBJECTS);
	if (client->opts.max_mapped_bytes == 0)
		client->opts.max_mapped_bytes = DEFAULT_MAX_MAPPED;
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

/* ---- releases: held back and sent together ------------------------------- */

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
			client_sock_readable(client);
			if (client->sock >= 0)
				client_connection_lost(client, client->state == DMAPIPE_CLIENT_EOS ?
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

DMAPIPE_EXPORT int dmapipe_client_get_grant(const struct dmapipe_client *client,
					    uint32_t *max_in_flight, uint32_t *queue_depth,
					    uint32_t *lease_timeout_ms)
{
	if (!client->hello_done || client->sock < 0)
		return -ENOTCONN;
	if (max_in_flight)
		*max_in_flight = client->granted_in_flight;
	if (queue_depth)
		*queue_depth = client->granted_queue_depth;
	if (lease_timeout_ms)
		*lease_timeout_ms = client->lease_timeout_ms;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_client_keep_leases(struct dmapipe_client *client)
{
	struct dmapipe_msg msg = { .type = DMAPIPE_MSG_KEEPALIVE };
	int ret;

	/* after EOS the producer still times out the leases it waits for */
	if ((client->state != DMAPIPE_CLIENT_STREAMING && client->state != DMAPIPE_CLIENT_EOS) ||
	    client->sock < 0)
		return -ENOTCONN;
	if (!(client->features & DMAPIPE_FEATURE_KEEPALIVE))
		return -ENOTSUP;
	if (client_frames_outstanding(client) == 0)
		return 0;
	ret = dmapipe_send_msg(client->sock, &msg);
	return ret < 0 ? ret : 1;
}

/* ---- dispatch ------------------------------------------------------------ */

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
		/* the loop polling it cannot see the ring: every frame must wake it */
		client_ring_sleep(c, true);
	}
	return client->epoll_fd;
}

DMAPIPE_EXPORT bool dmapipe_client_before_poll(struct dmapipe_client *client)
{
	if (!client)
		return false;
	client->sleep_managed = true;
	if (client->queue_len > 0)
		return true;
	/* the flag before the look: a frame published after it wakes us */
	client_ring_sleep(client, true);
	if (client_ring_ready(client)) {
		client_ring_sleep(client, false);
		return true;
	}
	return false;
}

DMAPIPE_EXPORT void dmapipe_client_after_poll(struct dmapipe_client *client)
{
	if (client)
		client_ring_sleep(client, false);
}

DMAPIPE_EXPORT int dmapipe_client_dispatch(struct dmapipe_client *client, int timeout_ms)
{
	struct epoll_event events[4];
	int n, handled = 0;

	/* releases held back go out before waiting */
	if (client->n_releases > 0 && client->sock >= 0)
		flush_releases(client);
	if (client->sock_deferred) {
		client->sock_deferred = false;
		if (client->sock >= 0) {
			/*
			 * What it reads may be what the caller waits for: a frame
			 * that took the socket path, the EOS, the end of the
			 * connection. The caller looks before anything sleeps; a
			 * WAKE alone costs it one more call, no system call.
			 */
			client_sock_readable(client);
			client_ring_take(client);
			return 1;
		}
	}
	n = dmapipe_busy_poll_wait(&client->busy_poll, client->epoll_fd, events,
				   ARRAY_SIZE(events), dmapipe_timeout_ns_of_ms(timeout_ms));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/*
	 * Woken with a frame in the ring (the socket held the producer's
	 * WAKE): the frame goes to the application first, and the socket is
	 * read by the next dispatch, which is then at most one dispatch late.
	 * Reading the WAKE first cost a woken consumer most of the latency
	 * it had above a plain datagram. A slot that follows socket messages
	 * not read yet is not taken here (client_ring_take()), so order holds.
	 */
	if (n > 0 && client->sock >= 0 && client_ring_take(client) > 0) {
		client->sock_deferred = true;
		return handled + 1;
	}
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
				log_info_ratelimited("%s: reconnected", client->path);
			} else {
				log_debug("%s: reconnect failed: %s", client->path, strerror(-ret));
				schedule_reconnect(client);
			}
			handled++;
		} else if (events[i].data.ptr == &tag_sock && client->sock >= 0) {
			if (events[i].events & EPOLLOUT)
				flush_releases(client);
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				client_sock_readable(client);
			handled++;
		}
	}
	if (client_ring_take(client) > 0)
		handled++;
	return handled;
}

/* ---- the application's side ---------------------------------------------- */

/* A WAKE for the producer, built only when it is sent. */
static void send_wake(struct dmapipe_client *client)
{
	struct dmapipe_msg msg;

	dmapipe_msg_init_wake(&msg);
	/* a full socket wakes the producer anyway; a dead one shows at the next read */
	(void)dmapipe_send_msg(client->sock, &msg);
}

/*
 * A release without a fence into our ring: no system call, unless the
 * producer sleeps waiting for releases (its flag in the frames ring).
 * The ring cannot overflow: what it holds unread are leases the producer
 * still counts, at most the in-flight limit, which the capacity holds.
 */
static void ring_release(struct dmapipe_client *client, uint32_t buffer_id, uint64_t sequence)
{
	dmapipe_ring_encode_release(dmapipe_ring_next_slot(&client->releases_ring, 0), buffer_id,
				    sequence);
	dmapipe_ring_publish(&client->releases_ring, 1);
	if (!client->frames_ring.map || !dmapipe_ring_peer_sleeping(&client->frames_ring))
		return;
	send_wake(client);
}

DMAPIPE_EXPORT struct dmapipe_frame *dmapipe_client_acquire_frame(struct dmapipe_client *client)
{
	struct client_frame *cf;

	/* a busy consumer finds its next frame here, without a system call */
	if (client->queue_len == 0 && client->frames_ring.map)
		client_ring_take(client);
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

static void *acquire(void *client)
{
	return dmapipe_client_acquire_frame(client);
}

static int wait_dispatch(void *client, int timeout_ms)
{
	return dmapipe_client_dispatch(client, timeout_ms);
}

DMAPIPE_EXPORT struct dmapipe_frame *dmapipe_client_wait_frame(struct dmapipe_client *client,
							       int timeout_ms)
{
	return dmapipe_wait_for(acquire, wait_dispatch, client, timeout_ms);
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
	if (cf->generation == client->generation) {
		client->n_current--;
		/* the application may have written to its frame: not past the table */
		if (frame->buffer_id < MAX_IDS)
			client->id_current[frame->buffer_id] = false;
	}
	current = cf->generation == client->generation && client->sock >= 0;
	if (current && release_fence < 0 && client->releases_ring.map) {
		ring_release(client, frame->buffer_id, frame->meta.sequence);
		current = false; /* nothing left to send on the socket */
	} else if (current) {
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

int client_send_constraints(struct dmapipe_client *client)
{
	struct dmapipe_msg msg;

	if (!(client->features & DMAPIPE_FEATURE_CONSTRAINTS) || client->sock < 0)
		return -ENOTSUP;
	memset(&msg, 0, sizeof(msg));
	msg.type = DMAPIPE_MSG_CONSTRAINTS;
	if (client->have_constraints)
		msg.constraints = client->constraints;
	return dmapipe_send_msg(client->sock, &msg);
}

DMAPIPE_EXPORT int dmapipe_client_set_constraints(struct dmapipe_client *client,
						  const struct dmapipe_constraints *constraints)
{
	if (constraints && dmapipe_constraints_check(constraints, NULL) < 0)
		return -EINVAL;
	client->have_constraints = constraints != NULL;
	if (constraints)
		client->constraints = *constraints;
	if (!client->hello_done)
		return 0;
	return client_send_constraints(client);
}

DMAPIPE_EXPORT bool dmapipe_client_takes_constraints(const struct dmapipe_client *client)
{
	return client->hello_done && (client->features & DMAPIPE_FEATURE_CONSTRAINTS);
}

DMAPIPE_EXPORT const struct dmapipe_format_info *
dmapipe_client_get_format_info(const struct dmapipe_client *client)
{
	return client->have_format && client->have_format_info ? &client->format_info : NULL;
}

DMAPIPE_EXPORT void dmapipe_client_get_stats(const struct dmapipe_client *client,
					     struct dmapipe_client_stats *stats)
{
	*stats = client->stats;
}

DMAPIPE_EXPORT int dmapipe_client_get_buffers(const struct dmapipe_client *client, uint32_t *ids,
					      struct dmapipe_buffer **buffers, unsigned int max)
{
	unsigned int n = 0;

	for (uint32_t id = 0; id < MAX_IDS; id++) {
		if (!client->buffers[id])
			continue;
		if (n < max) {
			ids[n] = id;
			if (buffers)
				buffers[n] = client->buffers[id];
		}
		n++;
	}
	return (int)n;
}
