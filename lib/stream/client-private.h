/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the consumer's files share: client.c (lifecycle, connect and
 * reconnect, dispatch, the application's side with releases) and
 * client-receive.c (the checks of everything the producer sends).
 */
#ifndef DMAPIPE_CLIENT_PRIVATE_H
#define DMAPIPE_CLIENT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "private.h"
#include "busy-poll.h"
#include "ring.h"
#include "transport.h"

#define MAX_IDS 256
/* frames one client may hold: a recorder covering a disk stall holds seconds of them */
#define MAX_FRAMES 128
/* dmapipe_client_options.max_mapped_bytes when not set */
#define DEFAULT_MAX_MAPPED (4ull << 30)
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
	/*
	 * The last dispatch handed over frames from the ring before reading
	 * the socket that woke it: the next one reads the socket first.
	 */
	bool sock_deferred;
	/* the application's loop says when it sleeps (dmapipe_client_before_poll()) */
	bool sleep_managed;
	uint64_t generation;
	enum dmapipe_client_state state;
	bool hello_done;
	uint32_t features;
	uint32_t granted_in_flight;
	uint32_t granted_queue_depth, lease_timeout_ms; /* the producer's HELLO */
	uint32_t backoff_ms;

	bool have_format;
	struct dmapipe_format format;
	uint32_t offered; /* the features our HELLO of this connection set */
	bool have_constraints; /* stated after every handshake */
	struct dmapipe_constraints constraints;
	bool have_format_info; /* a FORMAT_INFO came on this connection */
	struct dmapipe_format_info format_info;
	struct dmapipe_buffer *buffers[MAX_IDS];
	unsigned int fds_held;
	uint64_t mapped_bytes; /* of the buffers mapped on this connection */

	struct client_frame frames[MAX_FRAMES];
	/*
	 * Of frames[], the entries of the current connection (generation):
	 * how many, and which buffer ids they hold. Kept on receive and
	 * release, cleared when the connection ends, so that each FRAME is
	 * checked against the in-flight limit and for a reused buffer
	 * without scanning frames[].
	 */
	unsigned int n_current;
	bool id_current[MAX_IDS];
	/* received, not yet taken: indices into frames[] in arrival order */
	unsigned int queue[MAX_FRAMES];
	unsigned int queue_head, queue_len;
	struct release_entry releases[MAX_FRAMES];
	unsigned int n_releases;
	uint64_t releases_held_ns; /* when the oldest held-back release was made */

	/* scratch space, allocated once */
	struct dmapipe_recv_batch *rx; /* a burst received from the producer */
	struct dmapipe_msg *tx;        /* releases sent with one sendmmsg() */

	bool have_last;
	uint64_t last_sequence;
	bool discontinuity;

	enum dmapipe_error_code error;
	char error_message[DMAPIPE_PROTO_ERROR_LEN];
	struct dmapipe_client_stats stats;

	/*
	 * FEATURE_RINGS (docs/PROTOCOL.md section 14): the producer's frames
	 * ring (read-only) and ours for releases (map NULL when absent).
	 * sock_received counts the messages read from the socket on this
	 * connection; a frame slot is taken once it is at least the slot's
	 * socket_msgs, which never goes down (last_socket_msgs).
	 */
	bool rings_enabled; /* DMAPIPE_RINGS was not 0 at _new() */
	struct dmapipe_ring frames_ring;
	struct dmapipe_ring releases_ring;
	uint64_t sock_received;
	uint64_t last_socket_msgs;
};

/* ---- client.c --------------------------------------------------------- */

/* Frames of the current connection the application holds or has not taken yet. */
unsigned int client_frames_outstanding(const struct dmapipe_client *client);

/*
 * The connection ended (@state says how). With reconnect on, the client
 * goes back to connecting; otherwise the state is final.
 */
void client_connection_lost(struct dmapipe_client *client, enum dmapipe_client_state state);

/* Sends CONSTRAINTS (the stated ones, or none) if the producer agreed: 0 or -errno. */
int client_send_constraints(struct dmapipe_client *client);

/* We refuse what the producer sent: tell it why, log it once, disconnect. */
void client_protocol_violation(struct dmapipe_client *client, enum dmapipe_error_code code,
			       const char *why) __attribute__((cold));

/* ---- client-receive.c ------------------------------------------------- */

/*
 * Reads and handles what the producer sent, whole recvmmsg() bursts at a
 * time; the connection may end inside (client->sock is then -1).
 */
void client_sock_readable(struct dmapipe_client *client);

/*
 * Takes the frames of the frames ring that may come now (their socket
 * messages were read), each checked as a FRAME datagram. The connection
 * may end inside. Returns how many were taken.
 */
unsigned int client_ring_take(struct dmapipe_client *client);

/*
 * True if client_ring_take() would take a frame now (or end the
 * connection: a broken index); false while the next slot waits for
 * socket messages not read yet, which the socket's own readiness shows.
 */
bool client_ring_ready(const struct dmapipe_client *client);

/* Our sleeping flag in the releases ring (up while an outside loop may sleep on our fd). */
void client_ring_sleep(struct dmapipe_client *client, bool sleeping);

#endif /* DMAPIPE_CLIENT_PRIVATE_H */
