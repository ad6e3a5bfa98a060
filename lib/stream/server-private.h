/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the producer's files share: server.c (lifecycle, connections,
 * timers, dispatch, wait and drain), server-receive.c (the messages
 * consumers send, HELLO included), server-stats.c (the stats getters),
 * server-consumer.c (each consumer's queue, policy, leases and sending)
 * and server-buffers.c (the buffers of the stream: slots, registration,
 * dequeue and queue).
 *
 * Ownership in one place: every reference the server holds on a buffer is
 * either a slot reference (buffers the application registered with
 * dmapipe_server_add_buffer()), a pending entry (a frame decided for a
 * consumer but not yet sent), a lease (sent, not yet released) or a fenced
 * release (released with a fence that has not signalled). Pool buffers have
 * no slot reference, so they return to the pool as soon as the last
 * pending entry or lease goes.
 */
#ifndef DMAPIPE_SERVER_PRIVATE_H
#define DMAPIPE_SERVER_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "private.h"
#include "busy-poll.h"
#include "ring.h"
#include "socket.h"
#include "transport.h"
#include "wait.h"

#define MAX_SLOTS 256
/*
 * A consumer may hold as many frames as the producer's budget allows
 * (granted at HELLO, docs/PROTOCOL.md "Resources"), up to every slot; the
 * default stays 2 (dmapipe_server_options.max_in_flight).
 */
#define MAX_IN_FLIGHT_CAP MAX_SLOTS
#define MAX_QUEUE_CAP 16
#define MAX_CONTROL_QUEUE 64
/* buffers kept out of every consumer's budget: the frame being drawn and the next */
#define RESERVE_BUFFERS 2

/* the public enum, as the stats report it */
enum consumer_state {
	STATE_HANDSHAKE = DMAPIPE_CONSUMER_HANDSHAKE,
	STATE_STREAMING = DMAPIPE_CONSUMER_STREAMING,
	STATE_CLOSING = DMAPIPE_CONSUMER_CLOSING,
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

/*
 * A control message that could not be sent yet; owns dup'ed fds. STATS
 * never waits here (a connection has at most one reply waiting, see
 * consumer.stats_wanted), so the entry is small.
 */
struct control {
	enum dmapipe_msg_type type;
	union {
		struct dmapipe_msg_hello hello;
		struct dmapipe_format format;
		struct dmapipe_msg_add_buffer add_buffer;
		uint32_t remove_buffer_id;
		uint64_t eos_last_sequence;
		struct dmapipe_msg_error error;
		struct dmapipe_format_info format_info;
		struct dmapipe_msg_ring ring; /* fd dup'ed like ADD_BUFFER's */
	};
};

/*
 * One connection: a consumer or a monitor, or a peer still in its
 * handshake. consumer_close() ends it at once but the struct lives on
 * (state CLOSING, off the server's list) until server_reap() frees it at
 * the end of the public call that closed it, so a loop over consumers
 * never holds a freed one, whatever it calls.
 */
struct consumer {
	struct consumer *next;      /* the server's list of open connections */
	struct consumer *reap_next; /* the server's list of closed ones */
	struct dmapipe_server *server;
	int fd;
	uint32_t id;
	enum consumer_state state;
	struct ucred cred;
	uint32_t role;
	uint32_t features;
	uint32_t policy;
	uint32_t queue_depth;
	uint32_t max_in_flight; /* granted */
	bool budgeted;          /* max_in_flight counts in server->granted */
	char name[DMAPIPE_PROTO_NAME_LEN];
	uint64_t connected_ns;
	bool want_out; /* EPOLLOUT armed */
	/* refused at accept: answered with this ERROR once its HELLO is read,
	 * so the refusal reaches the peer instead of a connection reset */
	enum dmapipe_error_code refuse_code;
	const char *refuse_why;

	/*
	 * STATS: at most one reply waits in this process (a newer request
	 * only keeps it wanted; it is built when it goes). Monitors: when the
	 * last request came, and since when a reply sent is unread.
	 */
	bool stats_wanted;
	uint64_t active_ns;
	uint64_t unread_since_ns;

	struct pending pending[MAX_QUEUE_CAP];
	unsigned int pending_head, n_pending;
	/* max_in_flight entries each, allocated at HELLO; n_leases + n_fenced <= max_in_flight */
	struct lease *leases;
	unsigned int n_leases;
	uint64_t keepalives;     /* KEEPALIVE messages received */
	struct fenced *fenced;
	unsigned int n_fenced;
	struct control *control;
	unsigned int control_head, n_control;

	uint64_t frames_sent, frames_released, frames_dropped;

	/* CONSTRAINTS: agreed and none received yet (wait_consumers waits) */
	bool constraints_pending;
	uint64_t hello_ns; /* when its HELLO was answered: CONSTRAINTS are due within the handshake timeout */
	bool has_constraints;
	struct dmapipe_constraints constraints;
	/*
	 * app_reallocates_ms: since when the application's buffers miss its
	 * constraints (0: they meet them), and why. It gets no frame in them
	 * meanwhile, and is refused once the wait is over.
	 */
	uint64_t unmet_since_ns;
	/* CONSTRAINTS received in the current one-second window (a bound on new generations) */
	uint64_t constraints_window_ns;
	uint32_t constraints_in_window;
	char unmet_why[160];

	/*
	 * FEATURE_RINGS (docs/PROTOCOL.md section 14): the ring we write
	 * frames into and the one the consumer writes releases into (map
	 * NULL until it sent it). sock_sent counts every message sent on the
	 * socket: a frame slot carries it so that the consumer keeps the
	 * order of the two paths. sleeping: our flag in frames_ring is up.
	 */
	struct dmapipe_ring frames_ring;
	struct dmapipe_ring releases_ring;
	uint64_t sock_sent;
	bool sleeping;
};

struct slot {
	struct dmapipe_buffer *buffer; /* NULL when unused */
	bool ours;                     /* from our pool: no slot reference */
	/* of an older generation: no new frames, removed once nobody holds it
	 * (the slot holds a reference then, ours is false) */
	bool retiring;
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
	uint64_t socket_look_ns; /* when a dispatch last looked at the sockets */
	/*
	 * No lease falls due before leases_due_ns (UINT64_MAX: none can).
	 * It is a bound, not the earliest deadline: a lease sent lowers it,
	 * a release or a KEEPALIVE leaves it, and the dispatch that reaches
	 * it looks at every lease and takes the real earliest deadline. So
	 * neither the timer nor the deadline check walks the leases per frame.
	 */
	uint64_t leases_due_ns;
	/* the clock of the queue or dispatch now sending frames, or 0 */
	uint64_t send_ns;

	/* accept() failing for want of fds or memory: the listening socket
	 * is not watched until accept_resume_ns (doubling back-off) */
	bool accept_paused;
	uint64_t accept_resume_ns;
	uint32_t accept_backoff_ms;
	uint64_t accept_failed; /* since the last log line about it */
	uint64_t accept_logged_ns;

	struct consumer *consumers;
	struct consumer *closed; /* to free in server_reap() */
	uint32_t next_consumer_id;
	unsigned int n_consumers;  /* streaming consumers */
	unsigned int n_handshakes; /* connections before (or refused at) their HELLO */
	unsigned int n_monitors;   /* streaming monitors */
	unsigned int granted;      /* sum of the budgeted consumers' max_in_flight */

	bool have_format;
	struct dmapipe_format format;
	unsigned int n_retiring; /* slots of older generations still held */
	bool have_format_info; /* dmapipe_server_set_format_info() was called */
	struct dmapipe_format_info format_info;
	struct slot slots[MAX_SLOTS];
	unsigned int n_slots; /* highest used index + 1 */
	struct dmapipe_pool *pool;
	uint64_t buffer_bytes; /* of one pool buffer, for pool_budget_bytes */
	struct dmapipe_allocator *allocator;
	bool eos;
	uint64_t last_sequence;
	uint32_t features; /* what we offer: every feature, rings unless DMAPIPE_RINGS=0 */
	unsigned int waiting; /* inside a wait for releases (dequeue_wait, drain) */
	/*
	 * dmapipe_server_get_fd() was called: our flag stays up in every
	 * frames ring, unless the loop says when it sleeps (sleep_managed,
	 * dmapipe_server_before_poll()). starved: it sleeps (in its own
	 * loop or in a dispatch) with no free buffer in the pool, so any
	 * release is one it waits for.
	 */
	bool fd_exported;
	bool sleep_managed;
	bool starved;
	/*
	 * asleep: between the flags going up for a sleep and coming down
	 * (rings_sleep()); another thread of the application may queue or
	 * dequeue meanwhile (server_sleep_changed()). wake_every: the
	 * application wants every release to wake it
	 * (dmapipe_server_set_release_wakeups()).
	 */
	bool asleep;
	bool wake_every;

	struct dmapipe_server_stats stats;
	struct dmapipe_copy_stats copies_at_start;

	/* scratch space of the dispatch loop, allocated once */
	struct dmapipe_recv_batch *rx; /* a burst received from one consumer */
	struct dmapipe_msg *tx;        /* FRAMEs sent with one sendmmsg() */

	dmapipe_server_idle_func idle_func;
	void *idle_data;
	/* the constraints callback: what it was last told, when, and when it is due again */
	dmapipe_server_constraints_func constraints_func;
	void *constraints_data;
	struct dmapipe_constraints constraints_told;
	uint64_t constraints_told_ns;
	uint64_t constraints_due_ns; /* 0: nothing waits to be told */
	bool freeing; /* no idle callbacks during dmapipe_server_free() */
};

/* ---- server-consumer.c: one consumer's queue, leases and sending ---- */

/*
 * Sends a control message now, or queues it behind earlier ones. Control
 * messages are never dropped; a consumer that lets too many pile up is
 * disconnected. Returns false if the consumer was closed.
 */
bool consumer_send_control(struct consumer *c, const struct dmapipe_msg *msg);

/*
 * Sends as much as policy and socket allow: queued control messages, a
 * STATS reply wanted, then frames. Returns false if the connection was
 * closed.
 */
bool consumer_flush(struct consumer *c);

/*
 * Ends a connection and returns everything it held. @code != NONE sends an
 * ERROR first. The struct stays allocated, state CLOSING and off the
 * server's list, until server_reap(); loops that may hold it skip it.
 */
void consumer_close(struct consumer *c, enum dmapipe_error_code code, const char *why)
	__attribute__((cold));

/*
 * Frees the connections closed since the last call. Only where no loop
 * over consumers is running: at the end of dispatch and of every public
 * call that may close one.
 */
void server_reap(struct dmapipe_server *server);

/*
 * Sends FORMAT and every buffer to a consumer that just finished its
 * handshake. Returns false if the connection was closed.
 */
bool consumer_start(struct consumer *c);

/* The policy drops the oldest unsent frame: counted for this consumer. */
void consumer_drop_oldest(struct consumer *c);

/*
 * Ends the lease on (@buffer_id, @sequence), taking @fence (or -1).
 * Returns false if the connection was closed.
 */
bool consumer_release_lease(struct consumer *c, uint32_t buffer_id, uint64_t sequence, int fence);

/*
 * Sends @msg on @c's socket now (dmapipe_send_msg()), counted in
 * c->sock_sent when it went. Returns what dmapipe_send_msg() returned.
 */
int consumer_send_now(struct consumer *c, const struct dmapipe_msg *msg);

/*
 * Takes the releases the consumer wrote into its ring, each checked as a
 * RELEASE. Returns how many, or -1 if the connection was closed.
 */
int consumer_collect_releases(struct consumer *c);

/*
 * What a sleeping loop waits for changed under it (another thread queued
 * frames that now wait for a consumer's room, or took the pool's last
 * buffer): the flags follow at once, and the rings are read once more so
 * that a release published before a flag went up is taken, not left
 * until the next event. Nothing while no loop sleeps.
 */
void server_sleep_changed(struct dmapipe_server *server);

/* Collects the ring releases of every consumer; true if any came. */
bool server_collect_releases(struct dmapipe_server *server);

/* A RING from the consumer: its releases ring, or a wake-up. False if closed. */
bool consumer_handle_ring(struct consumer *c, struct dmapipe_msg_ring *r);

/* Builds and sends the STATS reply a connection wants, if it can go now. False if closed. */
bool consumer_send_stats(struct consumer *c);

/* Sends @msg to every streaming consumer (never to monitors). */
void server_broadcast_control(struct dmapipe_server *server, const struct dmapipe_msg *msg);
/* server-buffers.c, for server-constraints.c */
int server_register_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer, bool ours);
void server_remove_slot(struct dmapipe_server *server, unsigned int id);
unsigned int server_buffer_limit(const struct dmapipe_server *server);

/*
 * server-constraints.c. A consumer's CONSTRAINTS arrived: the buffers
 * satisfy it, or a new generation is made that satisfies every consumer,
 * or it is refused (closed with ERROR constraints-unmet). False if @c was
 * closed.
 */
bool server_handle_constraints(struct consumer *c, const struct dmapipe_constraints *cons);
/* Every streaming consumer's constraints merged; false if none stated any. */
bool server_merged_constraints(const struct dmapipe_server *server,
			       struct dmapipe_constraints *merged);
/* Removes the older generations' buffers nobody holds any more. */
void server_retire_idle(struct dmapipe_server *server);
/*
 * app_reallocates_ms: whether @c takes a frame in @b. Not when @b misses
 * its constraints (the application reallocates for it): its wait starts.
 */
bool server_frame_serves(struct consumer *c, const struct dmapipe_buffer *b);
/*
 * Refuses @c if it waited longer than app_reallocates_ms for buffers
 * that meet its constraints. False if @c was closed.
 */
bool server_check_unmet(struct consumer *c, uint64_t now);
/* When @c's wait for buffers that meet its constraints ends, or UINT64_MAX. */
uint64_t server_unmet_deadline(const struct consumer *c);
/*
 * Tells the constraints callback the merged constraints if they changed,
 * at most once per CONSTRAINTS_TELL_NS from the end of the last call
 * (later changes are told when it is over: server->constraints_due_ns).
 * Only where server_reap() may run.
 */
void server_tell_constraints(struct dmapipe_server *server);
#define CONSTRAINTS_TELL_NS 1000000000ull
/* CONSTRAINTS one consumer may send in a second (server-receive.c) */
#define MAX_CONSTRAINTS_PER_S 8

/* True if a streaming consumer's import_device is a DRM node. */
bool server_wants_drm(const struct dmapipe_server *server);
/*
 * After the server's own pool was made from another allocator than "drm"
 * (it could not open): refuses, with @why, the consumers that import into
 * a DRM device and do not copy.
 */
void server_refuse_unmet_imports(struct dmapipe_server *server, const char *why);

/* FORMAT_INFO to @c if it agreed to the feature and there is one; false if @c was closed */
bool consumer_send_format_info(struct consumer *c);
/* consumer_send_format_info() to every streaming consumer */
void server_broadcast_format_info(struct dmapipe_server *server);

/* True if a consumer holds @b: pending, leased, or released behind a fence. */
bool server_buffer_in_use(const struct dmapipe_server *server, const struct dmapipe_buffer *b);

/*
 * Drops a reference the server held for a consumer, after the entry that
 * held @b was removed; calls the idle callback for an application buffer
 * no consumer holds any more.
 */
void server_drop_ref(struct dmapipe_server *server, struct dmapipe_buffer *b);

/* True if @fence (a sync_file, or -1 for none) has signalled. */
bool server_fence_signalled(int fence);

/* ---- server-buffers.c: the stream's buffers ------------------------- */

/* The slot (buffer id) of @buffer, or -1 if it is not registered. */
int server_slot_of(const struct dmapipe_server *server, const struct dmapipe_buffer *buffer);

/* Fills @msg with the ADD_BUFFER of buffer @b as id @id (fds not duplicated). */
void server_add_buffer_msg(struct dmapipe_msg *msg, uint32_t id, const struct dmapipe_buffer *b);

/* The kind of memory the stream's buffers are, or NONE before there are any. */
enum dmapipe_mem_kind server_mem_kind(const struct dmapipe_server *server);

/*
 * Leases the budgeted consumers may be granted in total: the buffers the
 * stream may have (max_buffers, and for the server's pool what
 * pool_budget_bytes holds) less RESERVE_BUFFERS.
 */
unsigned int server_lease_budget(const struct dmapipe_server *server);

/* ---- server.c -------------------------------------------------------- */

/* Arms the timer for the earliest deadline (lease and handshake timeouts, fence polls). */
void server_update_timer(struct dmapipe_server *server);

/* dmapipe_server_dispatch(@server, @timeout_ms), for dmapipe_wait_until() */
int server_wait_dispatch(void *server, int timeout_ms);

/* ---- server-receive.c ------------------------------------------------ */

/*
 * Reads and handles what @c sent, a few whole bursts at most, then sends
 * what that made ready. @c may be closed on return (consumer_close()).
 */
void consumer_readable(struct consumer *c);

/* The number of frames (leases and fenced releases) @c holds. */
static inline unsigned int consumer_held(const struct consumer *c)
{
	return c->n_leases + c->n_fenced;
}

/* A consumer (not a monitor) past its HELLO and not closed. */
static inline bool is_streaming_consumer(const struct consumer *c)
{
	return c->role == DMAPIPE_ROLE_CONSUMER && c->state == STATE_STREAMING;
}

#endif /* DMAPIPE_SERVER_PRIVATE_H */
