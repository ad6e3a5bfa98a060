/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The producer side of a stream: its lifecycle, accepting connections and
 * bounding their handshakes, timers, dispatch, waiting for consumers and
 * draining. What consumers send is server-receive.c's; the stats getters
 * are server-stats.c's. server-private.h says how the references it holds
 * are owned.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "server-private.h"

#define FENCE_RETRY_NS (1000 * 1000ull)
/* connections accepted per wake-up, at most: a flood of them waits its turn */
#define ACCEPT_BATCH 32
/* accept() failing for want of fds or memory: not watched for this long, doubling */
#define ACCEPT_BACKOFF_MIN_MS 100
#define ACCEPT_BACKOFF_MAX_MS 2000
/* ... and logged at most once per this, with the count of failures */
#define ACCEPT_LOG_INTERVAL_NS (5000 * 1000000ull)
/* a busy loop's dispatch(0) looks at quiet sockets at most this often (socket_look_due()) */
#define SOCKET_LOOK_NS (50 * 1000ull)

/* epoll tags: the listening socket and the timer use these two addresses */
static char tag_listen, tag_timer;

static bool rings_ready(void *data);
static void rings_sleep(void *data, bool sleeping);

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
	o->max_handshakes = 16;
	o->max_monitors = 8;
}

static int epoll_add(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

DMAPIPE_EXPORT struct dmapipe_server *dmapipe_server_new(const struct dmapipe_server_options *options)
{
	struct dmapipe_server_options opts;
	struct dmapipe_server *server;
	const char *base;
	int ret;

	dmapipe_server_options_init(&opts);
	ret = options ? dmapipe_options_copy(&opts, sizeof(opts), options, sizeof(uint32_t)) :
			-EINVAL;
	if (ret == 0 && !opts.path)
		ret = -EINVAL;
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	server = calloc(1, sizeof(*server));
	if (!server)
		return NULL;
	server->opts = opts;
	dmapipe_busy_poll_init(&server->busy_poll, server->opts.busy_poll_us);
	server->features = DMAPIPE_FEATURES_ALL;
	if (!dmapipe_rings_enabled())
		server->features &= ~DMAPIPE_FEATURE_RINGS;
	server->busy_poll.ring_ready = rings_ready;
	server->busy_poll.ring_sleep = rings_sleep;
	server->busy_poll.ring_data = server;
	server->listen_fd = server->epoll_fd = server->timer_fd = -1;
	server->timer_deadline = UINT64_MAX;
	server->leases_due_ns = UINT64_MAX;

	if (server->opts.max_in_flight == 0 || server->opts.max_in_flight > MAX_IN_FLIGHT_CAP)
		server->opts.max_in_flight = server->opts.max_in_flight ? MAX_IN_FLIGHT_CAP : 2;
	if (server->opts.max_queue_depth == 0 || server->opts.max_queue_depth > MAX_QUEUE_CAP)
		server->opts.max_queue_depth = server->opts.max_queue_depth ? MAX_QUEUE_CAP : 8;
	if (server->opts.max_buffers == 0 || server->opts.max_buffers > MAX_SLOTS)
		server->opts.max_buffers = server->opts.max_buffers ? MAX_SLOTS : 32;
	if (server->opts.max_consumers == 0)
		server->opts.max_consumers = 32;
	if (server->opts.max_handshakes == 0)
		server->opts.max_handshakes = 16;
	if (server->opts.max_monitors == 0)
		server->opts.max_monitors = 8;

	server->path = strdup(server->opts.path);
	base = strrchr(server->opts.path, '/');
	base = base ? base + 1 : server->opts.path;
	if (*base == '@')
		base++;
	server->stream_name = strdup(server->opts.stream_name ? server->opts.stream_name : base);
	server->producer_name = strdup(server->opts.producer_name ? server->opts.producer_name : "dmapipe");
	server->opts.path = server->path;
	server->opts.stream_name = server->stream_name;
	server->opts.producer_name = server->producer_name;
	if (!server->path || !server->stream_name || !server->producer_name) {
		ret = -ENOMEM;
		goto err;
	}

	server->rx = calloc(1, sizeof(*server->rx));
	/* one sendmmsg() sends at most a queue's worth of frames */
	server->tx = calloc(MAX_QUEUE_CAP, sizeof(*server->tx));
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

/* ---- accepting connections ----------------------------------------------- */

/*
 * Ends a connection still in its handshake, counted: with its refusal if
 * the peer policy refused it at accept, else with @code and @why.
 */
static void drop_handshake(struct consumer *c, enum dmapipe_error_code code, const char *why)
{
	struct dmapipe_server *server = c->server;

	server->stats.handshakes_dropped++;
	if (!c->refuse_code)
		server->stats.consumers_refused++;
	consumer_close(c, c->refuse_code ? c->refuse_code : code,
		       c->refuse_code ? c->refuse_why : why);
}

/* Bytes the peer sent on @c's socket that we have not read yet. */
static int pending_bytes(const struct consumer *c)
{
	int n = 0;

	return ioctl(c->fd, SIOCINQ, &n) == 0 ? n : 0;
}

/*
 * The handshake slots are full. Connections whose HELLO has come are
 * answered first (so that a flood of new connections cannot push out an
 * honest peer that said HELLO at once); if that frees no slot, the
 * connection that has waited longest in silence (or for its refusal to
 * be read) makes room for the new one.
 */
static void make_handshake_room(struct dmapipe_server *server)
{
	struct consumer *c, *next, *oldest = NULL;

	for (c = server->consumers; c; c = next) {
		next = c->next;
		if (c->state == STATE_HANDSHAKE && pending_bytes(c) > 0)
			consumer_readable(c);
	}
	if (server->n_handshakes < server->opts.max_handshakes)
		return;
	/* newest first: the last one in handshake is the oldest */
	for (c = server->consumers; c; c = c->next)
		if (c->state == STATE_HANDSHAKE)
			oldest = c;
	if (oldest)
		drop_handshake(oldest, DMAPIPE_ERR_TOO_MANY,
			       "too many connections in their handshake: the oldest is dropped");
}

static void listen_watch(struct dmapipe_server *server, bool watch)
{
	struct epoll_event ev = { .events = watch ? EPOLLIN : 0, .data.ptr = &tag_listen };

	epoll_ctl(server->epoll_fd, EPOLL_CTL_MOD, server->listen_fd, &ev);
	server->accept_paused = !watch;
}

/*
 * accept() failed for want of fds or memory (@err): the pending
 * connection stays in the backlog and would be reported again at once,
 * so the listening socket is not watched for a while (doubling up to
 * ACCEPT_BACKOFF_MAX_MS) and everyone connected is served meanwhile.
 * Logged at most once per ACCEPT_LOG_INTERVAL_NS, with the count.
 */
static void accept_back_off(struct dmapipe_server *server, int err)
{
	uint64_t now = dmapipe_now_ns();

	server->stats.accept_failures++;
	server->accept_failed++;
	server->accept_backoff_ms = server->accept_backoff_ms ?
		MIN(server->accept_backoff_ms * 2, (uint32_t)ACCEPT_BACKOFF_MAX_MS) :
		ACCEPT_BACKOFF_MIN_MS;
	server->accept_resume_ns = now + (uint64_t)server->accept_backoff_ms * 1000000u;
	listen_watch(server, false);
	if (server->accept_logged_ns && now - server->accept_logged_ns < ACCEPT_LOG_INTERVAL_NS)
		return;
	log_warn("accept on %s: %s: %llu connection attempt%s failed; not accepting for %u ms "
		 "(connected peers are served)", server->path, strerror(err),
		 (unsigned long long)server->accept_failed, server->accept_failed == 1 ? "" : "s",
		 server->accept_backoff_ms);
	server->accept_logged_ns = now;
	server->accept_failed = 0;
}

static void accept_consumers(struct dmapipe_server *server)
{
	for (int n = 0; n < ACCEPT_BATCH; n++) {
		struct consumer *c;
		const char *why = NULL;
		int fd, ret;

		fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				accept_back_off(server, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn_ratelimited("accept on %s: %s", server->path, strerror(errno));
			return;
		}
		server->accept_backoff_ms = 0;
		if (server->n_handshakes >= server->opts.max_handshakes)
			make_handshake_room(server);
		c = calloc(1, sizeof(*c));
		if (!c) {
			dmapipe_close_deferred(fd); /* the peer may have sent fds already */
			return;
		}
		c->server = server;
		c->fd = fd;
		c->id = ++server->next_consumer_id;
		c->connected_ns = dmapipe_now_ns();
		c->state = STATE_HANDSHAKE;
		c->next = server->consumers;
		server->consumers = c;
		server->n_handshakes++;

		if (epoll_add(server->epoll_fd, fd, EPOLLIN, c) < 0) {
			consumer_close(c, DMAPIPE_ERR_INTERNAL, "epoll");
			continue;
		}
		/* A refused peer waits for its HELLO like any other, counted
		 * among the handshakes, never among the consumers. */
		ret = dmapipe_peer_check(fd, server->opts.peer_policy, server->opts.allowed_uid,
					 server->opts.allowed_gid, &c->cred, &why);
		if (ret < 0) {
			server->stats.consumers_refused++;
			c->refuse_code = DMAPIPE_ERR_PERMISSION;
			c->refuse_why = why;
		}
	}
}

/* ---- timers -------------------------------------------------------------- */

/* Bytes we sent on @c's socket that its peer has not read yet. */
static int unread_bytes(const struct consumer *c)
{
	int n = 0;

	return ioctl(c->fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

/*
 * A monitor asks and goes: one that has not read a STATS reply within
 * the handshake timeout, or has sent nothing for that long, is dropped.
 * Returns false if it was.
 */
static bool check_monitor(struct consumer *c, uint64_t now, uint64_t limit_ns)
{
	char why[96];

	if (!limit_ns)
		return true;
	if (c->unread_since_ns && unread_bytes(c) == 0)
		c->unread_since_ns = 0;
	if (c->unread_since_ns && c->unread_since_ns + limit_ns <= now) {
		snprintf(why, sizeof(why), "monitor did not read its STATS reply within %u ms",
			 c->server->opts.handshake_timeout_ms);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
		return false;
	}
	if (!c->unread_since_ns && !c->stats_wanted && c->active_ns + limit_ns <= now) {
		snprintf(why, sizeof(why), "monitor idle for %u ms", c->server->opts.handshake_timeout_ms);
		consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
		return false;
	}
	return true;
}

/* Fenced releases whose fence signalled give their buffer back. */
static void reap_fences(struct consumer *c)
{
	for (unsigned int i = 0; i < c->n_fenced;) {
		if (server_fence_signalled(c->fenced[i].fence)) {
			struct dmapipe_buffer *b = c->fenced[i].buffer;

			dmapipe_close(c->fenced[i].fence);
			c->fenced[i] = c->fenced[--c->n_fenced];
			server_drop_ref(c->server, b);
		} else {
			i++;
		}
	}
}

static bool lease_expired(const struct consumer *c, uint64_t now, uint64_t lease_ns)
{
	for (unsigned int i = 0; i < c->n_leases; i++)
		if (c->leases[i].sent_ns + lease_ns <= now)
			return true;
	return false;
}

/* The earliest deadline of the streaming consumers' leases, exactly. */
static uint64_t leases_due(const struct dmapipe_server *server, uint64_t lease_ns)
{
	uint64_t due = UINT64_MAX;

	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (c->state == STATE_STREAMING)
			for (unsigned int i = 0; i < c->n_leases; i++)
				due = MIN(due, c->leases[i].sent_ns + lease_ns);
	return due;
}

/*
 * @now may be a little older than stamps taken while the dispatch handled
 * events (a connection accepted, a lease sent): each check is written as
 * "stamp + limit <= now", so such a stamp is simply not due yet.
 */
static void check_deadlines(struct dmapipe_server *server, uint64_t now)
{
	uint64_t lease_ns = (uint64_t)server->opts.lease_timeout_ms * 1000000u;
	uint64_t hs_ns = (uint64_t)server->opts.handshake_timeout_ms * 1000000u;
	/* below the bound no lease can have expired: the leases are not walked */
	bool leases_look = lease_ns && server->leases_due_ns <= now;
	struct consumer *c, *next;

	if (server->accept_paused && now >= server->accept_resume_ns)
		listen_watch(server, true);

	for (c = server->consumers; c; c = next) {
		next = c->next;

		if (c->state == STATE_HANDSHAKE) {
			if (hs_ns && c->connected_ns + hs_ns <= now)
				drop_handshake(c, DMAPIPE_ERR_PROTOCOL,
					       "no HELLO within the handshake timeout");
			continue;
		}
		if (c->state != STATE_STREAMING)
			continue;
		if (c->role == DMAPIPE_ROLE_MONITOR) {
			if (check_monitor(c, now, hs_ns))
				consumer_flush(c);
			continue;
		}
		/*
		 * A consumer that announced CONSTRAINTS and never sends them
		 * would keep wait_consumers() waiting and its frames
		 * unshaped: the handshake timeout bounds that too.
		 */
		if (c->constraints_pending && hs_ns && c->hello_ns + hs_ns <= now) {
			char why[112];

			snprintf(why, sizeof(why), "no CONSTRAINTS within %u ms of a HELLO that "
				 "announced them", server->opts.handshake_timeout_ms);
			consumer_close(c, DMAPIPE_ERR_PROTOCOL, why);
			continue;
		}
		if (!server_check_unmet(c, now))
			continue;
		reap_fences(c);
		if (leases_look && lease_expired(c, now, lease_ns)) {
			/*
			 * Releases that came while this process was busy (a
			 * stalled loop, a late dispatch) count: read what the
			 * consumer sent before holding the lease against it.
			 */
			consumer_readable(c);
			if (c->state != STATE_STREAMING || consumer_collect_releases(c) < 0)
				continue;
			if (lease_expired(c, now, lease_ns)) {
				char why[96];

				snprintf(why, sizeof(why),
					 "a frame was held longer than the lease timeout (%u ms)",
					 server->opts.lease_timeout_ms);
				server->stats.lease_timeouts++;
				consumer_close(c, DMAPIPE_ERR_LEASE_TIMEOUT, why);
				continue;
			}
		}
		consumer_flush(c);
	}
	if (leases_look)
		server->leases_due_ns = leases_due(server, lease_ns);
}

void server_update_timer(struct dmapipe_server *server)
{
	uint64_t lease_ns = (uint64_t)server->opts.lease_timeout_ms * 1000000u;
	uint64_t hs_ns = (uint64_t)server->opts.handshake_timeout_ms * 1000000u;
	uint64_t deadline = UINT64_MAX, now = 0;
	struct itimerspec its;

	if (server->accept_paused)
		deadline = server->accept_resume_ns;
	if (server->constraints_due_ns)
		deadline = MIN(deadline, server->constraints_due_ns);
	if (lease_ns)
		deadline = MIN(deadline, server->leases_due_ns);
	for (struct consumer *c = server->consumers; c; c = c->next) {
		deadline = MIN(deadline, server_unmet_deadline(c));
		if (c->state == STATE_HANDSHAKE && hs_ns)
			deadline = MIN(deadline, c->connected_ns + hs_ns);
		if (c->state == STATE_STREAMING && c->constraints_pending && hs_ns)
			deadline = MIN(deadline, c->hello_ns + hs_ns);
		if (c->role == DMAPIPE_ROLE_MONITOR && c->state == STATE_STREAMING && hs_ns)
			deadline = MIN(deadline, (c->unread_since_ns ? c->unread_since_ns :
						  c->active_ns) + hs_ns);
		if (c->n_fenced > 0 ||
		    (c->n_pending > 0 && !(c->features & DMAPIPE_FEATURE_FENCES) &&
		     consumer_held(c) < c->max_in_flight)) {
			/* the clock only when needed: this runs on every queue */
			if (!now)
				now = dmapipe_now_ns();
			deadline = MIN(deadline, now + FENCE_RETRY_NS);
		}
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
	if (!now)
		now = dmapipe_now_ns();
	if (deadline <= now)
		deadline = now + 1;
	its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
	its.it_value.tv_nsec = (long)(deadline % 1000000000u);
	timerfd_settime(server->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- dispatch ------------------------------------------------------------ */

DMAPIPE_EXPORT int dmapipe_server_get_fd(const struct dmapipe_server *server)
{
	/* The server is never const itself (it comes from _new()). */
	struct dmapipe_server *s = (struct dmapipe_server *)server;

	/*
	 * From now on an event loop of the application may sleep on the fd,
	 * waiting for a release: it cannot see the rings, so every release
	 * must make the fd readable, as a RELEASE datagram did.
	 */
	if (!s->fd_exported) {
		s->fd_exported = true;
		rings_sleep(s, false);
	}
	return server->epoll_fd;
}

/*
 * A release from @c changes what we do now: frames wait for its room, or
 * the application waits (in dequeue_wait() or drain(), or in its own loop
 * with no buffer left to dequeue).
 */
static bool release_wanted(const struct dmapipe_server *server, const struct consumer *c)
{
	return c->n_pending > 0 || server->waiting > 0 || server->starved || server->wake_every;
}

/*
 * Busy poll: a releases ring has entries that change what we do (or a
 * broken head: collected, it ends). Other releases wait for the next
 * dequeue or dispatch: they are no reason to stop polling the sockets.
 */
static bool rings_ready(void *data)
{
	const struct dmapipe_server *server = data;
	const char *why;

	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (c->releases_ring.map && release_wanted(server, c) &&
		    dmapipe_ring_available(&c->releases_ring, &why) != 0)
			return true;
	return false;
}

/*
 * Our sleeping flag, in each frames ring: up only while we sleep and a
 * release would change what we do (frames wait for that consumer's room,
 * or the application waits in dequeue_wait() or drain()). Otherwise a
 * release waits for the next dequeue or dispatch, and wakes nobody.
 */
static void rings_sleep(void *data, bool sleeping)
{
	struct dmapipe_server *server = data;
	/* a loop that polls the fd without saying when it sleeps may always sleep */
	bool always = server->fd_exported && !server->sleep_managed;

	server->asleep = sleeping;
	/* asleep with no free buffer: any release is one we wait for */
	server->starved = sleeping && server->pool && dmapipe_pool_get_free(server->pool) == 0;

	for (struct consumer *c = server->consumers; c; c = c->next) {
		bool want = always || (sleeping && release_wanted(server, c));

		if (c->frames_ring.map && want != c->sleeping) {
			dmapipe_ring_set_sleeping(&c->frames_ring, want);
			c->sleeping = want;
		}
	}
}

DMAPIPE_EXPORT bool dmapipe_server_before_poll(struct dmapipe_server *server)
{
	if (!server)
		return false;
	server->sleep_managed = true;
	/* the flags before the look: a release published after it wakes us */
	rings_sleep(server, true);
	if (rings_ready(server)) {
		dmapipe_server_after_poll(server);
		return true;
	}
	return false;
}

DMAPIPE_EXPORT void dmapipe_server_after_poll(struct dmapipe_server *server)
{
	if (server)
		rings_sleep(server, false);
}

void server_sleep_changed(struct dmapipe_server *server)
{
	if (!server->asleep)
		return;
	rings_sleep(server, true);
	if (rings_ready(server))
		server_collect_releases(server);
}

DMAPIPE_EXPORT void dmapipe_server_set_release_wakeups(struct dmapipe_server *server, bool every)
{
	if (!server || server->wake_every == every)
		return;
	server->wake_every = every;
	server_sleep_changed(server);
}

/*
 * Whether a dispatch that must not wait (@timeout_ns 0) at @now needs to
 * look at the sockets. While every connection is a consumer streaming
 * through both rings, with nothing queued for its socket, the sockets
 * carry no per-frame message: frames and releases are in the rings, and
 * no consumer sends a WAKE to a producer that does not sleep. What they
 * may carry (a connection, a control message, a fenced release) then waits
 * at most SOCKET_LOOK_NS for a producer that dispatches in a busy loop,
 * instead of one epoll_wait() per frame. A wait (@timeout_ns not 0) always
 * looks, and so does every dispatch once an event loop may sleep on the
 * fd: it dispatches because the fd said something came.
 */
static bool socket_look_due(const struct dmapipe_server *server, int64_t timeout_ns, uint64_t now)
{
	bool any = false;

	if (timeout_ns != 0 || server->fd_exported ||
	    now - server->socket_look_ns >= SOCKET_LOOK_NS)
		return true;
	for (const struct consumer *c = server->consumers; c; c = c->next) {
		if (c->state != STATE_STREAMING || c->role != DMAPIPE_ROLE_CONSUMER ||
		    !c->frames_ring.map || !c->releases_ring.map || c->n_control > 0 ||
		    c->want_out || c->stats_wanted)
			return true;
		any = true;
	}
	return !any;
}

/*
 * dmapipe_server_dispatch(), but a signal ends a wait with -EINTR, and
 * the wait is up to @timeout_ns (-1: forever). @now: the caller's clock
 * read, for the look's interval; read again below only if time may have
 * passed.
 */
static int dispatch(struct dmapipe_server *server, int64_t timeout_ns, uint64_t now)
{
	struct epoll_event events[32];
	int n = 0, handled = 0;
	bool looked = socket_look_due(server, timeout_ns, now);

	if (looked) {
		n = dmapipe_busy_poll_wait(&server->busy_poll, server->epoll_fd, events,
					   ARRAY_SIZE(events), timeout_ns);
		if (n < 0)
			return -errno;
	}

	for (int i = 0; i < n; i++) {
		struct consumer *c = events[i].data.ptr;

		if (events[i].data.ptr == &tag_listen || events[i].data.ptr == &tag_timer)
			continue;
		/* one closed earlier in this loop is still allocated (server_reap()) */
		if (c->state == STATE_CLOSING)
			continue;
		if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			consumer_readable(c);
		else if (events[i].events & EPOLLOUT)
			consumer_flush(c);
		handled++;
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
	/*
	 * One clock read for the rest, taken again only if time may have
	 * passed: a wait, or messages handled (a CONSTRAINTS allocates). The
	 * frames the releases and the deadlines let go start their leases at
	 * it, not at one read per consumer.
	 */
	if (handled > 0 || (looked && timeout_ns != 0))
		now = dmapipe_now_ns();
	if (looked)
		server->socket_look_ns = now;
	server->send_ns = now;
	if (server_collect_releases(server))
		handled++;
	check_deadlines(server, now);
	server->send_ns = 0;
	server_update_timer(server);
	server_reap(server);
	return handled;
}

DMAPIPE_EXPORT int dmapipe_server_dispatch(struct dmapipe_server *server, int timeout_ms)
{
	int ret = dispatch(server, dmapipe_timeout_ns_of_ms(timeout_ms), dmapipe_now_ns());

	return ret == -EINTR ? 0 : ret;
}

DMAPIPE_EXPORT int dmapipe_server_dispatch_until(struct dmapipe_server *server,
						 uint64_t deadline_ns)
{
	uint64_t now;
	int ret;

	if (!server)
		return -EINVAL;
	now = dmapipe_now_ns();
	/* past it: what is there, without waiting; far off: the ns fit an int64_t */
	ret = dispatch(server, deadline_ns <= now ? 0 :
		       (int64_t)MIN(deadline_ns - now, (uint64_t)INT64_MAX), now);
	return ret == -EINTR ? 0 : ret;
}

int server_wait_dispatch(void *server, int timeout_ms)
{
	return dmapipe_server_dispatch(server, timeout_ms);
}

/* ---- the producer's lifecycle: waiting for consumers, draining ---------- */

/*
 * The lifecycle waits return on a signal (-EINTR), unlike
 * dmapipe_server_dispatch(): a program ends them from its signal handler,
 * as it would end its own poll loop.
 */
static int lifecycle_dispatch(void *server, int timeout_ms)
{
	return dispatch(server, dmapipe_timeout_ns_of_ms(timeout_ms), dmapipe_now_ns());
}

/* Streaming consumers that stated their constraints, if they promised to. */
static unsigned int settled_consumers(const struct dmapipe_server *server)
{
	unsigned int n = 0;

	for (const struct consumer *c = server->consumers; c; c = c->next)
		n += is_streaming_consumer(c) && !c->constraints_pending;
	return n;
}

struct consumers_wait {
	const struct dmapipe_server *server;
	unsigned int n;
};

static int enough_consumers(void *data)
{
	const struct consumers_wait *w = data;

	return settled_consumers(w->server) >= w->n ? 0 : -EAGAIN;
}

DMAPIPE_EXPORT int dmapipe_server_wait_consumers(struct dmapipe_server *server, unsigned int n,
						 int timeout_ms)
{
	struct consumers_wait w = { .server = server, .n = n };

	return dmapipe_wait_until(enough_consumers, &w, lifecycle_dispatch, server,
				  dmapipe_deadline_after_ms(timeout_ms));
}

/* 0 once no consumer has a frame decided for it and not sent yet. */
static bool frames_sent(const struct dmapipe_server *server)
{
	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (is_streaming_consumer(c) && c->n_pending > 0)
			return false;
	return true;
}

/*
 * What a consumer has not yet received (queued frames and control
 * messages, EOS included: they wait for room in its socket) or not yet
 * given back (leases, releases behind a fence).
 */
static int outstanding(const struct dmapipe_server *server)
{
	int n = 0;

	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (is_streaming_consumer(c))
			n += (int)(c->n_pending + c->n_control + c->n_leases + c->n_fenced);
	return n;
}

static int leases_held(const struct dmapipe_server *server)
{
	int n = 0;

	for (const struct consumer *c = server->consumers; c; c = c->next)
		if (is_streaming_consumer(c))
			n += (int)(c->n_leases + c->n_fenced);
	return n;
}

/*
 * The order matters to consumers that keep their last frame until they
 * see the end (a GStreamer sink's last sample): waiting for every lease
 * before EOS would wait for them until their lease timeout ends them with
 * an ERROR.
 */
DMAPIPE_EXPORT int dmapipe_server_drain_step(struct dmapipe_server *server)
{
	server_collect_releases(server);
	server_reap(server);
	if (!server->eos && frames_sent(server))
		dmapipe_server_end_of_stream(server);
	return outstanding(server);
}

static int drained(void *server)
{
	return dmapipe_server_drain_step(server) > 0 ? -EAGAIN : 0;
}

DMAPIPE_EXPORT int dmapipe_server_drain(struct dmapipe_server *server, int timeout_ms)
{
	int ret;

	server->waiting++;
	ret = dmapipe_wait_until(drained, server, lifecycle_dispatch, server,
				 dmapipe_deadline_after_ms(timeout_ms));
	server->waiting--;

	/* out of time: the frames still unsent are dropped, EOS goes anyway */
	dmapipe_server_end_of_stream(server);
	if (ret == 0 || ret == -ETIMEDOUT)
		return leases_held(server);
	return ret;
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
		if (!is_streaming_consumer(c) || !consumer_flush(c))
			continue;
		/* no FRAME follows an EOS: what could not be sent is dropped */
		while (c->n_pending > 0)
			consumer_drop_oldest(c);
		consumer_send_control(c, &msg);
	}
	server_reap(server);
	return 0;
}

/* ---- teardown ------------------------------------------------------------ */

DMAPIPE_EXPORT void dmapipe_server_free(struct dmapipe_server *server)
{
	if (!server)
		return;
	server->freeing = true;
	dmapipe_server_end_of_stream(server);
	while (server->consumers)
		consumer_close(server->consumers, DMAPIPE_ERR_NONE, NULL);
	server_reap(server);
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
