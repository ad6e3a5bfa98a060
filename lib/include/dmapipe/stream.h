/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Streaming frames between processes.
 *
 * A server (producer) serves one stream on a unix socket to any number of
 * clients (consumers), peer to peer, no daemon. Each buffer's fds cross the
 * socket once per connection; each frame is a small message naming the
 * buffer by id. Every consumer holds "leases" on the frames it was sent and
 * hands them back; the producer never waits for a consumer unless that
 * consumer asked for the block policy. docs/PROTOCOL.md is the wire
 * specification, docs/ARCHITECTURE.md explains leases and policies.
 *
 * Event loop integration: dmapipe_server_get_fd() / dmapipe_client_get_fd()
 * return one pollable fd (an epoll fd); when it is readable call the
 * matching _dispatch(obj, 0). Simple programs use the blocking calls
 * (dmapipe_server_dequeue_wait(), dmapipe_client_wait_frame()) instead.
 *
 * Not thread-safe: use one object from one thread at a time.
 */
#ifndef DMAPIPE_STREAM_H
#define DMAPIPE_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <dmapipe/format.h>
#include <dmapipe/buffer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_server;
struct dmapipe_client;
struct dmapipe_allocator;

/** What a consumer wants when it cannot keep up. */
enum dmapipe_policy {
	/** keep only the newest unsent frame; never slows the producer */
	DMAPIPE_POLICY_LATEST = 1,
	/** keep up to queue_depth unsent frames, dropping the oldest */
	DMAPIPE_POLICY_QUEUE = 2,
	/** keep up to queue_depth unsent frames, then make the producer wait */
	DMAPIPE_POLICY_BLOCK = 3,
};

/**
 * Reads a consumer policy as a command line writes it: "latest", or
 * "queue" or "block" with an optional ":N", the queue depth from 1 to 64
 * (4 without). Sets *@policy and, but for latest (which keeps one frame
 * and takes no depth), *@queue_depth. Returns 0, -EINVAL for an unknown
 * name (a depth after "latest" included) or -ERANGE for a depth that is
 * not a whole number from 1 to 64; on failure nothing is written.
 * Since 0.1.
 */
int dmapipe_policy_from_string(const char *string, enum dmapipe_policy *policy,
			       uint32_t *queue_depth);

/** The name of @policy ("latest", "queue", "block"), or "unknown". Since 0.1. */
const char *dmapipe_policy_to_string(enum dmapipe_policy policy);

/** Who may connect, checked with SO_PEERCRED. */
enum dmapipe_peer_policy {
	DMAPIPE_PEER_SAME_UID = 0, /**< default: only the producer's own uid (and root) */
	DMAPIPE_PEER_UID = 1,      /**< only allowed_uid (and root) */
	DMAPIPE_PEER_GID = 2,      /**< only processes whose gid is allowed_gid (and root) */
	DMAPIPE_PEER_ANY = 3,      /**< anybody who can open the socket */
};

/**
 * Reads a peer policy as a command line writes it: "same-uid", "any",
 * "uid:N" or "gid:N" (N a whole number). Sets *@policy and, for uid:N or
 * gid:N, *@uid or *@gid (the options' allowed_uid / allowed_gid). Returns
 * 0 or -EINVAL; on failure nothing is written. Since 0.1.
 */
int dmapipe_peer_policy_from_string(const char *string, enum dmapipe_peer_policy *policy,
				    uid_t *uid, gid_t *gid);

/** Reason codes carried by ERROR messages and reported in stats. */
enum dmapipe_error_code {
	DMAPIPE_ERR_NONE = 0,
	DMAPIPE_ERR_PROTOCOL = 1,      /**< malformed or unexpected message */
	DMAPIPE_ERR_VERSION = 2,       /**< incompatible protocol version */
	DMAPIPE_ERR_PERMISSION = 3,    /**< peer credentials refused */
	DMAPIPE_ERR_BAD_FD = 4,        /**< fd of the wrong kind, unsealed memfd, wrong size */
	DMAPIPE_ERR_BAD_LAYOUT = 5,    /**< offsets/strides outside the objects */
	DMAPIPE_ERR_FD_QUOTA = 6,      /**< peer sent or would hold too many fds */
	DMAPIPE_ERR_LEASE_TIMEOUT = 7, /**< a frame was held longer than allowed */
	DMAPIPE_ERR_TOO_MANY = 8,      /**< too many consumers */
	DMAPIPE_ERR_SHUTDOWN = 9,      /**< producer is going away */
	DMAPIPE_ERR_STRICT = 10,       /**< a copy would have been needed in strict mode */
	DMAPIPE_ERR_INTERNAL = 11,
	/**
	 * the producer needed a buffer and this consumer held the oldest
	 * lease: it was cut off to give the buffer back (docs/PROTOCOL.md,
	 * Resources). Older peers report it as an unknown error 12.
	 */
	DMAPIPE_ERR_LEASE_REVOKED = 12,
	/**
	 * the consumer's constraints cannot be met by this producer (its
	 * buffers are a device's own, a format or modifier it does not
	 * have, more buffers than its limit) and it did not allow a copy;
	 * the message says which. Older peers report it as an unknown
	 * error 13. Since 0.2.
	 */
	DMAPIPE_ERR_CONSTRAINTS = 13,
};

/**
 * A name for @code ("lease-timeout"), or "unknown" for a code this
 * library does not know (print its number with it: peers may send codes
 * newer than this library). Since 0.1.
 */
const char *dmapipe_error_code_to_string(enum dmapipe_error_code code);

/* ---- server (producer) ---------------------------------------------- */

struct dmapipe_server_options {
	uint32_t size; /**< sizeof(struct dmapipe_server_options), set by _init() */
	/** filesystem path, or "@name" for the abstract namespace */
	const char *path;
	uint32_t socket_mode;       /**< permissions of a filesystem socket; default 0660 */
	enum dmapipe_peer_policy peer_policy;
	uid_t allowed_uid;
	gid_t allowed_gid;
	uint32_t max_consumers;     /**< default 32 */
	uint32_t lease_timeout_ms;  /**< a lease held longer ends the connection; default 5000, 0 = none */
	uint32_t max_in_flight;     /**< frames one consumer may hold at once; default 2 */
	uint32_t max_queue_depth;   /**< upper bound of a consumer's queue; default 8 */
	uint32_t fd_quota;          /**< fds one peer may send in total; default 64 */
	const char *producer_name;  /**< names dma-bufs "producer:stream:index"; default "dmapipe" */
	const char *stream_name;    /**< default: the socket's base name */
	/** most buffers the server's own pool may grow to (see dequeue); default 32 */
	uint32_t max_buffers;
	uint32_t handshake_timeout_ms; /**< a peer silent this long after connecting is dropped; default 5000 */
	/**
	 * dispatch may poll for up to this long before sleeping, while
	 * consumers' messages have lately come back sooner than that
	 * (adaptive: a live stream at display rates never polls); 0 = never
	 * poll; default 30
	 */
	uint32_t busy_poll_us;
	/**
	 * connections that have not finished their handshake yet (peers the
	 * peer policy refuses included, until they are answered); a new one
	 * over the limit drops the oldest. They never count against
	 * max_consumers. Default 16.
	 */
	uint32_t max_handshakes;
	/** monitor connections (dmapipe_query_stats(), `dmapipe stats`); default 8 */
	uint32_t max_monitors;
	/**
	 * bytes the server's own pool may grow to, on top of max_buffers;
	 * 0 = no limit but max_buffers (the default). A format whose
	 * buffers do not fit at least three times in it is refused
	 * (dmapipe_server_alloc_buffers()).
	 */
	uint64_t pool_budget_bytes;
	/**
	 * 0 (the default): buffers the application registered
	 * (dmapipe_server_add_buffer()) are what they are, and a consumer
	 * whose constraints they miss is refused at once (ERROR
	 * constraints-unmet). Otherwise the application reallocates when the
	 * consumers' constraints change (dmapipe_server_set_constraints_callback()):
	 * such a consumer gets no frame in buffers that miss its constraints
	 * and waits up to this many milliseconds for one in buffers that meet
	 * them, then is refused with the reason (docs/PROTOCOL.md section 13,
	 * rule 5). Since 0.2.
	 */
	uint32_t app_reallocates_ms;
};

/** Sets @options to the defaults, size included. Since 0.1. */
void dmapipe_server_options_init(struct dmapipe_server_options *options);

/**
 * Creates a server listening on options->path. The options are copied
 * (strings too; the caller keeps its own); fields beyond options->size
 * keep their defaults. A socket file left behind by a crashed producer is
 * found by a test connect and replaced. Returns the server, to free with
 * dmapipe_server_free(), or NULL with errno: EINVAL (no options or path),
 * E2BIG (@options from newer headers setting fields this library does
 * not know), EADDRINUSE (a live producer is on the path), EEXIST (the path is not a
 * socket), ENAMETOOLONG, or the errno of a failed system call. Since 0.1.
 */
struct dmapipe_server *dmapipe_server_new(const struct dmapipe_server_options *options);

/**
 * Ends the stream at once (dmapipe_server_end_of_stream(), then every
 * connection closed; dmapipe_server_drain() first for an orderly end),
 * gives back every reference the server holds (leases included: frames
 * consumers hold stay valid in their processes), removes the socket file
 * if it is still the one the server made, and frees @server. No idle
 * callback runs. NULL is allowed. Since 0.1.
 */
void dmapipe_server_free(struct dmapipe_server *server);

/**
 * Sets the format and allocates @count buffers for it from @allocator
 * (NULL: the default allocator; the server keeps its own reference, the
 * caller keeps its own). Replaces any earlier buffers: consumers get
 * REMOVE_BUFFER, FORMAT and the new buffers; unsent frames of the old ones
 * are dropped, leases on them stay until released. Returns 0, -EINVAL
 * (no format, @count 0 or above max_buffers), -ENOSPC (with
 * pool_budget_bytes: @count buffers of @format, or the three a stream
 * needs at least, do not fit in it; logged with the sizes), or the
 * negative errno of the allocation. Since 0.1.
 */
int dmapipe_server_alloc_buffers(struct dmapipe_server *server,
				 struct dmapipe_allocator *allocator,
				 const struct dmapipe_format *format,
				 unsigned int count);

/**
 * Sets what the stream's frames mean beyond their format (rate,
 * colorimetry, siting, interlacing, pixel aspect ratio; copied). Consumers
 * that agreed to FEATURE_FORMAT_INFO get it now and after every FORMAT;
 * older consumers get FORMAT only. Returns 0 or -EINVAL (NULL @server, or
 * @info fails dmapipe_format_info_check(), logged). Since 0.2.
 */
int dmapipe_server_set_format_info(struct dmapipe_server *server,
				   const struct dmapipe_format_info *info);

/**
 * Registers a buffer the application allocated itself (e.g. V4L2 exports).
 * The server takes a reference, and gives it back in
 * dmapipe_server_remove_buffer() or dmapipe_server_free(). All buffers of a
 * stream share the format of the first; once every buffer was removed, the
 * next one added may have a new format (consumers get FORMAT first; frames
 * they hold of the old format stay valid). Returns the buffer's id (>= 0)
 * or a negative errno (-EINVAL for a buffer whose format differs from the
 * registered buffers'). Since 0.1.
 */
int dmapipe_server_add_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer);

/**
 * Unregisters a buffer added with dmapipe_server_add_buffer(): consumers
 * get REMOVE_BUFFER, frames of it not yet sent are dropped (counted), and
 * consumers that hold it keep it until they release it. The server's
 * reference is given back now; the idle callback is not called for it.
 * Returns 0, or -ENOENT if @buffer is not an application buffer of this
 * server. Since 0.1.
 */
int dmapipe_server_remove_buffer(struct dmapipe_server *server, struct dmapipe_buffer *buffer);

/**
 * Called when a buffer registered with dmapipe_server_add_buffer() is no
 * longer held by any consumer after dmapipe_server_queue(): every lease
 * released (and its release fence signalled), or dropped by a policy or a
 * disconnect -- including at once, inside dmapipe_server_queue(), when no
 * consumer took the frame. A capture source requeues the buffer to its
 * device here. The callback must not call back into the server. Not
 * called for the server's own pool buffers, nor during
 * dmapipe_server_free().
 */
typedef void (*dmapipe_server_idle_func)(struct dmapipe_server *server,
					 struct dmapipe_buffer *buffer, void *data);

/**
 * Sets the idle callback and its @data (NULL @func: none). @buffer in a
 * call is only borrowed: the server still holds its registration
 * reference. Since 0.1.
 */
void dmapipe_server_set_idle_callback(struct dmapipe_server *server,
				      dmapipe_server_idle_func func, void *data);

/**
 * Called when the merged constraints of the streaming consumers changed
 * (one stated or changed its constraints, or one that had stated some
 * left), with the same @merged dmapipe_server_get_constraints() gives
 * (borrowed for the call). Called at most once per second, counted from
 * the end of the last call: changes in between are reported together
 * when the second is over, and only if the result differs from the last
 * one reported, so consumers changing their constraints over and over
 * make the application reallocate at most once a second. Runs inside
 * dmapipe_server_dispatch() or another server call, never during
 * dmapipe_server_free(); it may read the server (dmapipe_server_get_*())
 * but should only note what to do: the application reallocates from its
 * own loop. Since 0.2.
 */
typedef void (*dmapipe_server_constraints_func)(struct dmapipe_server *server,
						const struct dmapipe_constraints *merged,
						void *data);

/**
 * Sets the constraints callback and its @data (NULL @func: none). Use
 * it with dmapipe_server_options.app_reallocates_ms when the
 * application allocates the buffers it registers. Since 0.2.
 */
void dmapipe_server_set_constraints_callback(struct dmapipe_server *server,
					     dmapipe_server_constraints_func func, void *data);

/**
 * Fills @out with the constraints of every streaming consumer merged as
 * the server merges them for its own pool (docs/PROTOCOL.md section 13,
 * rule 3): per plane the largest stride and offset alignment asked,
 * min_buffers their sum (the producer's own buffers not included), no
 * formats or modifiers (they are not merged: check the stream's against
 * each consumer's), import_device the first DRM node a consumer names
 * ("" if none does: then no consumer needs a DRM device's memory).
 * Returns how many consumers stated constraints (0: @out asks nothing),
 * or -EINVAL (a NULL argument). Since 0.2.
 */
int dmapipe_server_get_constraints(const struct dmapipe_server *server,
				   struct dmapipe_constraints *out);

/**
 * Refuses at once, with ERROR constraints-unmet, every consumer that waits
 * for buffers that meet its constraints (app_reallocates_ms), for an
 * application that knows it will not make such buffers (a layout its
 * source fixes: a recording, a device's format). Each gets the
 * constraint its buffers miss, "; " and @reason (at most 150 bytes of it
 * are sent), instead of the same when its wait is over. Consumers that
 * allowed a copy or whose constraints the buffers meet never wait, and
 * are left alone. Returns how many were refused (counted in
 * consumers_refused), or -EINVAL (a NULL argument). Since 0.2.
 */
int dmapipe_server_refuse_waiting(struct dmapipe_server *server, const char *reason);

/**
 * A free buffer of the server's own pool to draw into, with one reference
 * owned by the caller (give it to dmapipe_server_queue(), or unref it);
 * NULL with errno EAGAIN when none is free (frames still held by
 * consumers) or when a block-policy consumer has no room, or ENOENT when
 * the stream has no pool (its buffers are the application's). Unsent
 * frames of latest/queue consumers are dropped to make room, and the pool
 * grows up to max_buffers (and pool_budget_bytes). When it cannot grow,
 * the consumer holding the oldest lease is cut off with ERROR
 * lease-revoked (never a block-policy one: while one of those holds
 * frames, this waits for it), counted in leases_revoked. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_server_dequeue(struct dmapipe_server *server);

/**
 * Like dmapipe_server_dequeue() but dispatches up to @timeout_ms (-1: no
 * limit) while no buffer is free: NULL with errno ETIMEDOUT when none came
 * in time, or the errno of a failure of the server. A signal does not end
 * the wait. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_server_dequeue_wait(struct dmapipe_server *server, int timeout_ms);

/**
 * Publishes @buffer as the next frame: every streaming consumer gets a
 * lease according to its policy. Takes the caller's reference to @buffer
 * and ownership of meta->acquire_fence. @meta->sequence is kept as given.
 * Returns the number of consumers the frame was queued for, or a negative
 * errno. Since 0.1.
 */
int dmapipe_server_queue(struct dmapipe_server *server, struct dmapipe_buffer *buffer,
			 const struct dmapipe_frame_meta *meta);

/**
 * Ends the stream now: every consumer is sent what can go without waiting,
 * then EOS; frames that could not be sent yet are dropped (counted in
 * frames_dropped), as no FRAME follows an EOS. Consumers that connect
 * later get EOS after the buffers. The server keeps serving stats and
 * taking releases until dmapipe_server_free(); further frames are refused
 * (-EPIPE). Returns 0. dmapipe_server_drain() ends a stream without
 * dropping frames. Since 0.1.
 */
int dmapipe_server_end_of_stream(struct dmapipe_server *server);

/**
 * Dispatches until at least @n consumers are streaming (handshake done;
 * monitors do not count) or @timeout_ms passed (-1: no limit). A producer
 * calls it before its first frame so that every consumer it waits for
 * sees the stream from its start. Returns 0 once they are there,
 * -ETIMEDOUT, -EINTR when a signal arrived (unlike dispatch, so that a
 * program's stop flag is seen; call again to go on waiting), or a
 * negative errno for a failure of the server itself. Since 0.1.
 */
int dmapipe_server_wait_consumers(struct dmapipe_server *server, unsigned int n,
				  int timeout_ms);

/**
 * Ends the stream in order, all within @timeout_ms (-1: no limit): first
 * every consumer is sent the frames queued for it, then EOS goes out, then
 * the server dispatches until every consumer has received the EOS and
 * returned its leases (or left). EOS does not wait for the leases because
 * a consumer may keep its last frame until it sees the end, as a
 * GStreamer sink keeps its last sample. Frames still unsent when the time
 * is up are dropped (counted in frames_dropped); a lease still held then
 * is not an error of the stream, only counted. EOS has gone out whenever
 * this returns; the server keeps serving stats and taking releases until
 * dmapipe_server_free().
 *
 * Returns the number of leases consumers still held at the end (0: every
 * frame came back), -EINTR when a signal arrived, or a negative errno for
 * a failure of the server itself. Since 0.1.
 */
int dmapipe_server_drain(struct dmapipe_server *server, int timeout_ms);

/**
 * One step of dmapipe_server_drain() for a program that runs its own
 * event loop (and so cannot block in the library): never waits. Once no
 * consumer has a frame queued for it, sends EOS (once). Returns how much
 * is still outstanding: frames and control messages not yet received
 * (EOS included), leases not yet returned; 0 when the stream is over for
 * every consumer. Call it again after each dispatch until it returns 0 or
 * the program's own time limit passes, then call
 * dmapipe_server_end_of_stream(), which sends EOS if it has not gone yet
 * (dropping unsent frames). Since 0.1.
 */
int dmapipe_server_drain_step(struct dmapipe_server *server);

/**
 * The pollable fd: readable when dmapipe_server_dispatch() has work. It
 * belongs to the server (do not close it) and lives until
 * dmapipe_server_free(). Since 0.1.
 */
int dmapipe_server_get_fd(const struct dmapipe_server *server);

/**
 * For an event loop that polls dmapipe_server_get_fd(). Releases travel in
 * shared-memory rings when both sides have rings (docs/PROTOCOL.md section
 * 14), which the fd cannot show; by default every consumer then sends a
 * wake-up datagram with every release, since the loop may be asleep
 * waiting for a buffer. A loop that calls this right before it sleeps, and
 * dmapipe_server_after_poll() when it wakes, is woken only by releases
 * that change what it can do: frames queued behind a consumer's in-flight
 * limit, or any release while the pool has no free buffer. Other releases
 * wait in the rings for the next dmapipe_server_dequeue(),
 * dmapipe_server_dispatch(), or dmapipe_server_queue() of an application
 * buffer (dmapipe_server_add_buffer()), and a paced
 * producer costs no wake-up per release. Another thread may queue and
 * dequeue while the loop sleeps: frames left waiting for a consumer's
 * room, or the pool's last buffer taken, raise the flags then and there.
 * Returns true if such a release is already in a ring (call
 * dmapipe_server_dispatch() with timeout 0, and do not sleep): the check
 * and the sleeping flags are ordered so that none is missed. Without rings
 * it only returns false. Since 0.2.
 */
bool dmapipe_server_before_poll(struct dmapipe_server *server);

/** Ends the sleep dmapipe_server_before_poll() began. Since 0.2. */
void dmapipe_server_after_poll(struct dmapipe_server *server);

/**
 * For a loop that says when it sleeps (dmapipe_server_before_poll()):
 * @every true makes every release wake it, as if it did not say so, and
 * false (the default) only the releases that before_poll describes. Turn
 * it on while buffers should go back the moment consumers release them:
 * an upstream pool that cannot grow, a capture driver, or a thread of the
 * application that waits for releases itself (a drain). Released buffers
 * of a pool that grows can wait in the rings for the next
 * dmapipe_server_queue() of an application buffer, which takes them, and
 * cost nobody a wake-up.
 *
 * Like dmapipe_server_queue() and dmapipe_server_dequeue(), it may be
 * called from another thread while the loop sleeps (the calls serialised
 * by the application's lock): the change takes effect at once, and a
 * release that came before it is taken by this call (idle callbacks may
 * run inside it). Since 0.2.
 */
void dmapipe_server_set_release_wakeups(struct dmapipe_server *server, bool every);

/**
 * Handles connections, handshakes, releases, unsent frames and lease
 * timeouts, waiting up to @timeout_ms (0: do not wait, -1: forever) for the
 * first event. Returns the number of events handled or a negative errno
 * for a failure of the server itself (a failing consumer is disconnected,
 * logged and counted, never returned here). A signal ends the wait with 0.
 * Since 0.1.
 */
int dmapipe_server_dispatch(struct dmapipe_server *server, int timeout_ms);

/**
 * dmapipe_server_dispatch() that waits for the first event until the
 * CLOCK_MONOTONIC time @deadline_ns (nanoseconds, as clock_gettime()
 * gives them) rather than for a number of milliseconds: the wait of a
 * loop that paces its frames, which then sleeps until the next frame is
 * due in one system call. It never returns before the deadline without an
 * event, and wakes within the thread's timer slack after it (50 us by
 * default, none for a real-time thread; prctl(PR_SET_TIMERSLACK)); kernels
 * before 5.11 wake it up to a millisecond late. A deadline already past
 * handles what is there without waiting. Returns the number of events
 * handled, 0 at the deadline or on a signal, or a negative errno as
 * dmapipe_server_dispatch() does (-EINVAL for no server); call it again
 * until the deadline has passed. Since 0.2.
 */
int dmapipe_server_dispatch_until(struct dmapipe_server *server, uint64_t deadline_ns);

/** Where a consumer's connection is (dmapipe_consumer_stats.state). */
enum dmapipe_consumer_state {
	DMAPIPE_CONSUMER_HANDSHAKE = 0, /**< connected, HELLO not answered yet */
	DMAPIPE_CONSUMER_STREAMING = 1,
	DMAPIPE_CONSUMER_CLOSING = 2,   /**< being disconnected */
};

/*
 * The stats structs are fixed-size (their sizes are checked when the
 * library is built) so that they can grow: a new counter takes a reserved
 * field, which is zero until then. The STATS message (docs/PROTOCOL.md)
 * carries the fields before the reserved ones; a new one goes on the wire
 * only with a protocol feature bit.
 */

/** Counters of one connected consumer. */
struct dmapipe_consumer_stats {
	uint32_t id;            /**< connection number, unique per server */
	int32_t pid;            /**< from SO_PEERCRED */
	uint32_t uid;
	uint32_t policy;        /**< enum dmapipe_policy */
	uint32_t queue_depth;
	uint32_t leases_held;   /**< frames sent and not yet released */
	uint32_t queued;        /**< frames waiting to be sent */
	uint32_t state;         /**< enum dmapipe_consumer_state */
	uint64_t frames_sent;
	uint64_t frames_released;
	uint64_t frames_dropped;   /**< dropped by the policy for this consumer */
	uint64_t oldest_lease_ns;  /**< age of the oldest lease held */
	char name[32];             /**< the consumer's self-chosen name */
	/** frames it may hold at once, as granted (not on the wire: 0 in dmapipe_query_stats()) */
	uint32_t max_in_flight;
	uint32_t pad0;
	uint64_t reserved[7];      /**< zero */
};

/** Counters of the whole stream. */
struct dmapipe_server_stats {
	uint64_t frames_queued;
	uint64_t frames_dropped;    /**< sum of per-consumer drops, including departed ones */
	uint64_t consumers_total;   /**< connections accepted */
	uint64_t consumers_refused; /**< handshakes or peers refused, with reason logged */
	uint64_t lease_timeouts;
	uint64_t bytes_copied;      /**< CPU copies of pixel data by this stream (0 = zero-copy) */
	uint64_t frames_copied;
	uint32_t consumers;         /**< connected now */
	uint32_t buffers;
	uint32_t buffers_free;
	uint32_t mem_kind;          /**< enum dmapipe_mem_kind of the buffers */
	struct dmapipe_format format;
	char allocator[16];
	/*
	 * Not on the wire: dmapipe_server_get_stats() fills them,
	 * dmapipe_query_stats() leaves them 0.
	 */
	uint64_t leases_revoked;     /**< consumers cut off with ERROR lease-revoked */
	/** connections dropped before their handshake: over max_handshakes or silent too long */
	uint64_t handshakes_dropped;
	/** accept() failures for want of fds or memory (the server then backs off) */
	uint64_t accept_failures;
	uint32_t handshakes;        /**< connections in their handshake now */
	uint32_t monitors;          /**< monitor connections now */
	/**
	 * wake-up datagrams consumers sent because this producer slept
	 * waiting for their releases (docs/PROTOCOL.md 14.5). Since 0.2.
	 */
	uint64_t ring_wakeups;
	uint64_t reserved[3];       /**< zero */
};

/** Fills @stats with the stream's counters as they are now. Since 0.1. */
void dmapipe_server_get_stats(const struct dmapipe_server *server,
			      struct dmapipe_server_stats *stats);

/**
 * Fills up to @max records of the streaming consumers (not monitors, not
 * connections still in their handshake) into @stats. Returns how many are
 * connected, which may be more than @max. Since 0.1.
 */
int dmapipe_server_get_consumer_stats(const struct dmapipe_server *server,
				      struct dmapipe_consumer_stats *stats, int max);

/* ---- client (consumer) ---------------------------------------------- */

struct dmapipe_client_options {
	uint32_t size; /**< set by _init() */
	const char *path;            /**< as for the server */
	enum dmapipe_policy policy;  /**< default DMAPIPE_POLICY_LATEST */
	uint32_t queue_depth;        /**< for queue/block; default 4 */
	uint32_t max_in_flight;      /**< frames held at once; default 2, at most 128 */
	const char *name;            /**< shown in the producer's stats */
	/** reconnect with backoff when the producer goes away or restarts */
	bool reconnect;
	uint32_t reconnect_min_ms;   /**< first retry delay; default 50 */
	uint32_t reconnect_max_ms;   /**< backoff cap; default 2000 */
	/**
	 * fds of buffers the producer may make this consumer hold; 0 (the
	 * default) = enough for any pool a producer may have (256 buffers)
	 * and for max_in_flight frames of 4-object buffers beside 64 others:
	 * max(256, (max_in_flight + 64) x DMAPIPE_MAX_OBJECTS)
	 */
	uint32_t fd_quota;
	enum dmapipe_peer_policy peer_policy; /**< who may serve us; default same uid */
	uid_t allowed_uid;
	gid_t allowed_gid;
	/** map every buffer once at ADD_BUFFER time (for consumers that read pixels) */
	bool map_buffers;
	/**
	 * accept dma-bufs only: the producer is told (no FEATURE_MEMFD) and
	 * refuses the connection with ERROR strict if its buffers are memfds
	 * (for consumers that hand buffers to devices)
	 */
	bool dmabuf_only;
	/** as the server's busy_poll_us, for the producer's messages; default 30 */
	uint32_t busy_poll_us;
	/**
	 * with map_buffers: the most bytes of buffers mapped at once on a
	 * connection. Mapping pre-faults every page, which for a memfd
	 * commits its memory to this process: a producer's sparse memfd would
	 * cost this consumer memory the producer never paid for. A buffer
	 * past the limit is refused with ERROR fd-quota. 0: the default,
	 * 4 GiB; UINT64_MAX: no limit.
	 */
	uint64_t max_mapped_bytes;
	/**
	 * what this consumer needs of the buffers (copied at
	 * dmapipe_client_new()): stated to a producer that takes
	 * constraints right after the handshake, and again after every
	 * reconnect, before the producer counts it as streaming
	 * (dmapipe_server_wait_consumers()); NULL asks nothing, and then
	 * dmapipe_client_set_constraints() only takes effect from the next
	 * connection. Since 0.2.
	 */
	const struct dmapipe_constraints *constraints;
};

/** Sets @options to the defaults, size included. Since 0.1. */
void dmapipe_client_options_init(struct dmapipe_client_options *options);

/**
 * Connects to a producer and sends HELLO. The options are copied (strings
 * too); fields beyond options->size keep their defaults. Without
 * options->reconnect a missing producer is an error; with it, the client
 * keeps trying in the background of dispatch. Returns the client, to free
 * with dmapipe_client_free(), or NULL with errno: EINVAL (no options or
 * path, or a bad path), E2BIG (@options from newer headers setting fields
 * this library does not know), ENOENT or ECONNREFUSED (no producer), EACCES (the
 * producer's credentials are refused by the peer policy), ENAMETOOLONG,
 * or the errno of a failed system call. Since 0.1.
 */
struct dmapipe_client *dmapipe_client_new(const struct dmapipe_client_options *options);

/**
 * Disconnects and frees @client. Frames the application still holds are
 * released with it and must not be used afterwards. NULL is allowed.
 * Since 0.1.
 */
void dmapipe_client_free(struct dmapipe_client *client);

/** A received frame: valid until released. */
struct dmapipe_frame {
	struct dmapipe_buffer *buffer; /**< the client holds a reference until release */
	uint32_t buffer_id;
	uint32_t reserved;
	/** acquire_fence, if any, is owned by the frame and closed on release */
	struct dmapipe_frame_meta meta;
	uint64_t received_ns;          /**< CLOCK_MONOTONIC when it arrived */
};

enum dmapipe_client_state {
	DMAPIPE_CLIENT_CONNECTING = 0,
	DMAPIPE_CLIENT_STREAMING = 1,
	DMAPIPE_CLIENT_EOS = 2,          /**< producer ended the stream */
	DMAPIPE_CLIENT_DISCONNECTED = 3, /**< connection lost (and not reconnecting) */
	DMAPIPE_CLIENT_ERROR = 4,        /**< producer sent ERROR, see get_error() */
};

/** Where the connection is now. Since 0.1. */
enum dmapipe_client_state dmapipe_client_get_state(const struct dmapipe_client *client);

/**
 * The last ERROR of the current connection, sent by the producer or by
 * this client refusing what it received; DMAPIPE_ERR_NONE if there was
 * none. *@message (if @message is not NULL) points at its text, owned by
 * the client and valid until the next connection or dmapipe_client_free().
 * Since 0.1.
 */
enum dmapipe_error_code dmapipe_client_get_error(const struct dmapipe_client *client,
						 const char **message);

/**
 * The current format, or NULL before the first FORMAT message (and after
 * the connection was lost). Owned by the client; valid until the next
 * FORMAT, connection or dmapipe_client_free(). Since 0.1.
 */
const struct dmapipe_format *dmapipe_client_get_format(const struct dmapipe_client *client);

/**
 * States new constraints (copied; NULL: none) to the producer: it answers
 * with buffers that satisfy them (a new generation), or ERROR
 * constraints-unmet (dmapipe_client_get_error()) unless
 * DMAPIPE_CONSTRAINT_ALLOW_COPY is set, in which case buffers that do not
 * satisfy them may keep coming (dmapipe_layout_satisfies() tells which) and
 * the consumer copies. They also apply after a reconnect. Returns 0
 * (sent, or kept for the next connection), -EINVAL (@constraints fail
 * dmapipe_constraints_check()), -ENOTSUP (the connection did not agree to
 * constraints: an older producer, or a client made without
 * options->constraints; they apply from the next connection) or the errno
 * of the send. Since 0.2.
 */
int dmapipe_client_set_constraints(struct dmapipe_client *client,
				   const struct dmapipe_constraints *constraints);

/**
 * True if the producer connected now takes constraints (it agreed to
 * FEATURE_CONSTRAINTS); false before the handshake and with an older
 * producer. Since 0.2.
 */
bool dmapipe_client_takes_constraints(const struct dmapipe_client *client);

/**
 * The stream's rate, colorimetry, siting, interlacing and pixel aspect
 * ratio, or NULL while unknown: before FORMAT, or from a producer that did
 * not send FORMAT_INFO (an older one, or one that was told nothing). Owned
 * by the client; valid until the next FORMAT_INFO, connection or
 * dmapipe_client_free(). Since 0.2.
 */
const struct dmapipe_format_info *
dmapipe_client_get_format_info(const struct dmapipe_client *client);

/**
 * The pollable fd: readable when dmapipe_client_dispatch() has work. It
 * belongs to the client (do not close it) and lives until
 * dmapipe_client_free(). Asking for it tells the client that an event loop
 * polls it (see dmapipe_client_release_frame()). Since 0.1.
 */
int dmapipe_client_get_fd(const struct dmapipe_client *client);

/**
 * For an event loop that polls dmapipe_client_get_fd(). Frames travel in
 * a shared-memory ring when both sides have rings (docs/PROTOCOL.md
 * section 14), which the fd cannot show; by default the producer then
 * sends a wake-up datagram for every frame, since the loop may be asleep.
 * A loop that calls this right before it sleeps, and
 * dmapipe_client_after_poll() when it wakes, gets a wake-up only for the
 * frames that come while it sleeps: a busy consumer costs no system call
 * per frame. Returns true if a frame is ready without sleeping (take it
 * with dmapipe_client_acquire_frame(), and do not sleep): the check and
 * the sleeping flag are ordered so that no frame is missed. Without rings
 * it only returns false. Since 0.2.
 */
bool dmapipe_client_before_poll(struct dmapipe_client *client);

/** Ends the sleep dmapipe_client_before_poll() began. Since 0.2. */
void dmapipe_client_after_poll(struct dmapipe_client *client);

/**
 * Sends releases held back, then handles what the producer sent and the
 * reconnect timer, waiting up to @timeout_ms (0: do not wait, -1: forever)
 * for the first event. Returns the number of events handled (a signal
 * ends the wait with 0), or a negative errno for a failure of the client
 * itself. A lost connection or an ERROR is a state
 * (dmapipe_client_get_state()), not a failure. Since 0.1.
 */
int dmapipe_client_dispatch(struct dmapipe_client *client, int timeout_ms);

/**
 * The oldest received frame not yet taken, or NULL with errno EAGAIN (none
 * yet), EPIPE (end of stream), ECONNRESET (disconnected) or EPROTO (the
 * producer reported an error). Since 0.1.
 */
struct dmapipe_frame *dmapipe_client_acquire_frame(struct dmapipe_client *client);

/**
 * Dispatches until a frame arrives or @timeout_ms passes (-1: no limit):
 * the frame as dmapipe_client_acquire_frame() gives it, or NULL with errno
 * ETIMEDOUT, one of acquire_frame's, or the errno of a failure of the
 * client. A signal does not end the wait. Since 0.1.
 */
struct dmapipe_frame *dmapipe_client_wait_frame(struct dmapipe_client *client, int timeout_ms);

/**
 * Gives the frame back to the producer (RELEASE). @release_fence (or -1)
 * signals when the consumer's device is done reading; ownership is taken.
 *
 * Releases made in quick succession travel together: while more received
 * frames wait to be acquired and the application held this one briefly
 * (under 0.1 ms), the release is held back so that the next ones share its
 * message. It goes out with the next release once that empties the queue
 * of received frames, fills half the in-flight window (at least 2) or
 * comes 1 ms after the first held one, or with the next dispatch or wait,
 * whichever is first. Meanwhile dmapipe_client_get_fd() is readable, so
 * an event loop dispatches at once (a client whose fd was never asked
 * for skips that system call: its dispatch and wait send the release).
 * Since 0.1.
 */
int dmapipe_client_release_frame(struct dmapipe_client *client, struct dmapipe_frame *frame,
				 int release_fence);

/** Counters of a consumer over all its connections. */
struct dmapipe_client_stats {
	uint64_t frames_received;
	uint64_t frames_released;
	uint64_t sequence_gaps;     /**< frames missing between received sequence numbers */
	uint64_t reconnects;
	uint64_t buffers_added;
	uint64_t fds_received;
	uint32_t mem_kind;          /**< enum dmapipe_mem_kind of the current buffers */
	uint32_t pad0;
	/** of frames_received, those that came through the shared-memory ring. Since 0.2. */
	uint64_t ring_frames;
	/** wake-ups the producer sent because this consumer slept on its ring. Since 0.2. */
	uint64_t ring_wakeups;
	uint64_t reserved[6];       /**< zero */
};

/** Fills @stats with the client's counters as they are now. Since 0.1. */
void dmapipe_client_get_stats(const struct dmapipe_client *client,
			      struct dmapipe_client_stats *stats);

/**
 * What the producer granted on the current connection: the frames this
 * client may hold at once (@max_in_flight), its queue (@queue_depth) and
 * the lease timeout in ms (@lease_timeout_ms, 0 = none). Any pointer may
 * be NULL. Returns 0, or -ENOTCONN before the producer's HELLO. A
 * producer grants less than asked when its limits or its lease budget
 * say so: compare with what was asked. Since 0.2.
 */
int dmapipe_client_get_grant(const struct dmapipe_client *client, uint32_t *max_in_flight,
			     uint32_t *queue_depth, uint32_t *lease_timeout_ms);

/**
 * Tells the producer that every frame this client holds is still in use
 * (a KEEPALIVE message, docs/PROTOCOL.md): their leases start again, so
 * a consumer whose work is slow but alive (a write to a stalled disk)
 * is not disconnected for a lease timeout. Send it well within the lease
 * timeout while frames are held. Returns 1 when it was sent, 0 when
 * nothing is held (nothing is sent), -ENOTSUP if the producer does not
 * take KEEPALIVE (its leases then time out as before), -ENOTCONN when
 * not connected (after EOS it still is: frames held then are still
 * leases), -EAGAIN when the socket is full (try again), or another
 * negative errno. Since 0.2.
 */
int dmapipe_client_keep_leases(struct dmapipe_client *client);

/**
 * The buffers the producer has added on the current connection and not
 * removed, before any frame names them: for a consumer that hands the
 * buffers on as a set (a PipeWire node, a device that imports them) and
 * sets that up before the first frame. Fills up to @max entries of @ids
 * with their ids, in increasing order, and of @buffers (if not NULL) with
 * the buffers, without adding a reference: each stays valid until the
 * next dispatch (a REMOVE_BUFFER or a lost connection drops it), so take
 * one with dmapipe_buffer_ref() to keep it. A frame's buffer_id names
 * the same buffer. Returns how many there are, which may be more than
 * @max. Since 0.2.
 */
int dmapipe_client_get_buffers(const struct dmapipe_client *client, uint32_t *ids,
			       struct dmapipe_buffer **buffers, unsigned int max);

/**
 * Asks the producer on @path for its statistics (a monitor connection: no
 * frames, no fds), waiting up to @timeout_ms (negative: 5000) for the
 * answers. Fills @server and up to @max records into @consumers (either
 * may be NULL). Returns the number of consumer records the producer sent
 * (at most 32, which may be more than @max; server->consumers counts them
 * all), or a negative errno: -ENOENT or -ECONNREFUSED (no producer), -EACCES (refused),
 * -ETIMEDOUT, -EPROTO (an answer that is not the expected one). Since 0.1.
 */
int dmapipe_query_stats(const char *path, struct dmapipe_server_stats *server,
			struct dmapipe_consumer_stats *consumers, int max, int timeout_ms);

/* ---- where streams live, and who serves them ---------------------------- */

/**
 * The directory where a stream named by a bare name has its socket, into
 * @buf of @len bytes: $XDG_RUNTIME_DIR/dmapipe when XDG_RUNTIME_DIR is set
 * (a login session, a user service); else $RUNTIME_DIRECTORY (the first
 * of them), which systemd gives a system service with RuntimeDirectory=;
 * else /run/dmapipe for root; else /tmp/dmapipe-UID (UID the effective
 * uid). Nothing is created (dmapipe_socket_prepare_dir() does). Returns 0,
 * -EINVAL (no @buf) or -ENAMETOOLONG. Since 0.2.
 */
int dmapipe_socket_default_dir(char *buf, size_t len);

/**
 * What a program makes of the socket a user names, into @buf of @len
 * bytes: a bare NAME (no '/', not starting with '@') becomes NAME in
 * dmapipe_socket_default_dir(), and NULL or "" the stream "default" there;
 * a path ("/run/cam", "./cam") or an abstract name ("@cam") is copied as it
 * is. Returns 0, -EINVAL (NAME "." or "..", or with control characters)
 * or -ENAMETOOLONG (longer than a unix socket address holds). Since 0.2.
 */
int dmapipe_socket_default_path(const char *name, char *buf, size_t len);

/**
 * Makes ready the directory a producer is about to listen in, when @path
 * (as dmapipe_socket_default_path() gave it) is in the default directory;
 * for any other path it does nothing and returns 0 (a directory the user
 * named is theirs). The default directory is created with @dir_mode (0700
 * is always included: 0700 keeps the streams private; give group or
 * others r-x for those the socket's own mode lets in), or given the bits
 * of @dir_mode it lacks if it exists and belongs to this user. One that
 * belongs to another user than this one or root, or is not a directory,
 * is refused (-EPERM, logged): in /tmp another user could have made it to
 * swap sockets. Returns 0 or a negative errno. Since 0.2.
 */
int dmapipe_socket_prepare_dir(const char *path, uint32_t dir_mode);

/** Who serves a stream (dmapipe_query_stream()). */
struct dmapipe_stream_info {
	/**
	 * the stream's name as the producer sent it (its stream_name option,
	 * by default the socket's base name), NUL-terminated; it comes from
	 * another process: escape it before printing it to a terminal
	 */
	char name[32];
	int32_t pid;           /**< the producer's process, from SO_PEERCRED */
	uint32_t uid;
	uint32_t gid;
	uint32_t reserved0;
	uint64_t reserved[4];  /**< zero */
};

/**
 * dmapipe_query_stats(), and who answered: fills @info (if not NULL) with
 * the stream's name and the producer's credentials. Returns what
 * dmapipe_query_stats() returns. Since 0.2.
 */
int dmapipe_query_stream(const char *path, struct dmapipe_stream_info *info,
			 struct dmapipe_server_stats *server,
			 struct dmapipe_consumer_stats *consumers, int max, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_STREAM_H */
