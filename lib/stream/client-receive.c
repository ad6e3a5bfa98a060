/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a consumer receives, checked before it is used: buffers are built
 * with dmapipe_buffer_import(), which identifies every fd and
 * bounds-checks the layout against the fds' real sizes before anything is
 * mapped; frame ids, counts and payload sizes are checked against what the
 * producer announced. A producer that breaks a rule gets an ERROR and the
 * connection ends; the frames the application already holds stay valid
 * until it releases them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "client-private.h"

/* recvmmsg() bursts read per wake-up, at most */
#define RECV_ROUNDS 16

/* Bytes of @b's objects, as their fds report them. */
static uint64_t buffer_bytes(const struct dmapipe_buffer *b)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(b);
	uint64_t bytes = 0;

	for (uint32_t i = 0; i < l->n_objects; i++)
		bytes += l->objects[i].size;
	return bytes;
}

static void handle_add_buffer(struct dmapipe_client *client, struct dmapipe_msg_add_buffer *a)
{
	struct dmapipe_buffer *b;
	unsigned int n = a->layout.n_objects;
	const char *reason = NULL;
	char why[DMAPIPE_PROTO_ERROR_LEN];

	if (a->buffer_id >= MAX_IDS || client->buffers[a->buffer_id]) {
		dmapipe_msg_drop_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_ADD_BUFFER,
							     .add_buffer = *a });
		snprintf(why, sizeof(why), "ADD_BUFFER with %s buffer id %u",
			 a->buffer_id >= MAX_IDS ? "out-of-range" : "an already used", a->buffer_id);
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL, why);
		return;
	}
	if (!client->have_format ||
	    memcmp(&a->layout.format, &client->format, sizeof(client->format)) != 0) {
		dmapipe_msg_drop_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_ADD_BUFFER,
							     .add_buffer = *a });
		client_protocol_violation(client, DMAPIPE_ERR_BAD_LAYOUT,
					  "ADD_BUFFER format differs from the stream's FORMAT");
		return;
	}
	if (client->fds_held + n > client->opts.fd_quota) {
		dmapipe_msg_drop_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_ADD_BUFFER,
							     .add_buffer = *a });
		client_protocol_violation(client, DMAPIPE_ERR_FD_QUOTA,
					  "producer's buffers exceed this consumer's fd quota");
		return;
	}
	/* takes the fds; identifies each and checks the layout against the
	 * fds' real sizes before anything is mapped (refused ones go to the
	 * closer) */
	b = dmapipe_buffer_import(&a->layout, &reason);
	if (!b) {
		int err = errno;

		snprintf(why, sizeof(why), "buffer %u refused: %s", a->buffer_id, reason);
		client_protocol_violation(client,
					  err == EBADFD || err == EPERM || err == EBADF ? DMAPIPE_ERR_BAD_FD :
					  DMAPIPE_ERR_BAD_LAYOUT, why);
		return;
	}
	if (client->opts.dmabuf_only && dmapipe_buffer_get_mem_kind(b) != DMAPIPE_MEM_DMABUF) {
		dmapipe_buffer_unref(b);
		client_protocol_violation(client, DMAPIPE_ERR_BAD_FD,
					  "memfd buffer sent to a consumer that takes only dma-bufs");
		return;
	}
	if (client->opts.map_buffers) {
		/* the fds' own sizes (fdcheck), whatever the producer declared */
		uint64_t bytes = buffer_bytes(b);
		int ret;

		if (bytes > client->opts.max_mapped_bytes - MIN(client->mapped_bytes,
								 client->opts.max_mapped_bytes)) {
			dmapipe_buffer_unref(b);
			snprintf(why, sizeof(why), "buffer %u: %llu more bytes to map (and pre-fault) "
				 "would pass max_mapped_bytes %llu", a->buffer_id,
				 (unsigned long long)bytes,
				 (unsigned long long)client->opts.max_mapped_bytes);
			client_protocol_violation(client, DMAPIPE_ERR_FD_QUOTA, why);
			return;
		}
		ret = dmapipe_buffer_map_all(b);
		if (ret < 0) {
			dmapipe_buffer_unref(b);
			snprintf(why, sizeof(why), "cannot map buffer %u: %s", a->buffer_id,
				 strerror(-ret));
			client_protocol_violation(client, DMAPIPE_ERR_BAD_FD, why);
			return;
		}
	}
	client->buffers[a->buffer_id] = b;
	if (client->opts.map_buffers)
		client->mapped_bytes += buffer_bytes(b);
	client->fds_held += n;
	client->stats.buffers_added++;
	client->stats.fds_received += n;
	client->stats.mem_kind = dmapipe_buffer_get_mem_kind(b);
}

static void handle_remove_buffer(struct dmapipe_client *client, uint32_t id)
{
	if (id >= MAX_IDS || !client->buffers[id]) {
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL, "REMOVE_BUFFER of an unknown buffer id");
		return;
	}
	client->fds_held -= dmapipe_buffer_get_layout(client->buffers[id])->n_objects;
	if (client->opts.map_buffers)
		client->mapped_bytes -= buffer_bytes(client->buffers[id]);
	/* frames holding it keep their own reference */
	dmapipe_buffer_unref(client->buffers[id]);
	client->buffers[id] = NULL;
}

static void handle_frame(struct dmapipe_client *client, struct dmapipe_msg_frame *f,
			 uint64_t received_ns)
{
	const struct dmapipe_layout *layout;
	struct client_frame *cf = NULL;
	enum dmapipe_error_code code = DMAPIPE_ERR_PROTOCOL;
	const char *why = NULL;
	unsigned int slot;

	if (client->state == DMAPIPE_CLIENT_EOS)
		why = "FRAME after EOS (no frame follows the end of a stream)";
	else if (f->buffer_id >= MAX_IDS || !client->buffers[f->buffer_id])
		why = "FRAME names a buffer id that was never added";
	else if (client->id_current[f->buffer_id])
		why = "FRAME reuses a buffer this consumer has not released";
	else if (f->meta.acquire_fence >= 0 && !(client->features & DMAPIPE_FEATURE_FENCES))
		why = "FRAME carries a fence although fences were not negotiated";
	else if (f->meta.acquire_fence >= 0 && !dmapipe_fd_is_sync_file(f->meta.acquire_fence)) {
		why = "FRAME acquire fence is not a sync_file";
		code = DMAPIPE_ERR_BAD_FD;
	}
	else if (client_frames_outstanding(client) >= client->granted_in_flight)
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
		/* not (known to be) a sync_file: it may be anything */
		dmapipe_close_deferred(f->meta.acquire_fence);
		client_protocol_violation(client, code, why);
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
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
					  "no room for another frame: the application holds too many");
		return;
	}

	memset(cf, 0, sizeof(*cf));
	cf->used = true;
	cf->generation = client->generation;
	client->n_current++;
	client->id_current[f->buffer_id] = true;
	cf->frame.buffer = dmapipe_buffer_ref(client->buffers[f->buffer_id]);
	cf->frame.buffer_id = f->buffer_id;
	cf->frame.meta = f->meta;
	cf->frame.received_ns = received_ns;
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

/*
 * Our releases ring, sent once the producer agreed rings. Without it (no
 * memory, a full socket) releases simply keep the socket: the producer
 * takes them there too.
 */
static void send_releases_ring(struct dmapipe_client *client)
{
	struct dmapipe_msg msg = { .type = DMAPIPE_MSG_RING };
	int ret;

	ret = dmapipe_ring_create(&client->releases_ring, DMAPIPE_RING_RELEASES,
				  dmapipe_ring_capacity_for(client->granted_in_flight));
	if (ret < 0) {
		log_warn_ratelimited("%s: cannot make a releases ring: %s", client->path,
				     strerror(-ret));
		return;
	}
	msg.ring.kind = DMAPIPE_RING_MSG_RELEASES;
	msg.ring.capacity = client->releases_ring.capacity;
	msg.ring.fd = client->releases_ring.fd;
	/* an event loop of the application may sleep on our fd at any time */
	if (client->fd_exported && !client->sleep_managed)
		dmapipe_ring_set_sleeping(&client->releases_ring, true);
	if (dmapipe_send_msg(client->sock, &msg) < 0) {
		dmapipe_ring_finish(&client->releases_ring);
		return;
	}
	/* the producer has its copy: the mapping is all we need */
	dmapipe_close(client->releases_ring.fd);
	client->releases_ring.fd = -1;
}

static void handle_ring(struct dmapipe_client *client, struct dmapipe_msg_ring *r)
{
	const char *why = NULL;
	int ret;

	if (!(client->features & DMAPIPE_FEATURE_RINGS)) {
		dmapipe_msg_drop_fds(&(struct dmapipe_msg){ .type = DMAPIPE_MSG_RING, .ring = *r });
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
					  "RING although rings were not negotiated");
		return;
	}
	if (r->kind == DMAPIPE_RING_MSG_WAKE) {
		client->stats.ring_wakeups++;
		return; /* dispatch reads the ring after the socket */
	}
	if (r->kind != DMAPIPE_RING_MSG_FRAMES || client->frames_ring.map) {
		dmapipe_close_deferred(r->fd);
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
					  r->kind == DMAPIPE_RING_MSG_FRAMES ? "a second frames ring" :
					  "the producer sent a releases ring");
		return;
	}
	if (r->capacity < client->granted_in_flight) {
		dmapipe_close_deferred(r->fd);
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
					  "frames ring smaller than the in-flight limit");
		return;
	}
	ret = dmapipe_ring_map(&client->frames_ring, r->fd, DMAPIPE_RING_FRAMES, r->capacity, &why);
	if (ret < 0) {
		dmapipe_close_deferred(r->fd);
		client_protocol_violation(client, ret == -EPROTO ? DMAPIPE_ERR_PROTOCOL :
					  DMAPIPE_ERR_BAD_FD, why);
		return;
	}
	/* identified as a sealed memfd: its close cannot wait */
	dmapipe_close(r->fd);
	/* from now on a poll looks at the ring before each system call */
	client->busy_poll.ring_spin = true;
}

unsigned int client_ring_take(struct dmapipe_client *client)
{
	unsigned int taken = 0;
	const char *why = NULL;
	uint64_t now = 0;
	int n;

	if (!client->frames_ring.map)
		return 0;
	n = dmapipe_ring_available(&client->frames_ring, &why);
	if (n < 0) {
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL, why);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct dmapipe_ring_wire_frame slot;
		struct dmapipe_msg_frame f;
		uint64_t socket_msgs;

		dmapipe_ring_copy_slot(&client->frames_ring, 0, &slot);
		dmapipe_ring_decode_frame(&slot, &f, &socket_msgs);
		if (socket_msgs < client->last_socket_msgs) {
			client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
						  "ring frame slots out of order with the socket");
			return taken;
		}
		/* it follows socket messages not read yet: they come first */
		if (socket_msgs > client->sock_received)
			break;
		dmapipe_ring_consume(&client->frames_ring, 1);
		client->last_socket_msgs = socket_msgs;
		if (!now)
			now = dmapipe_now_ns();
		handle_frame(client, &f, now);
		if (client->sock < 0)
			return taken; /* refused: the connection (and the ring) ended */
		client->stats.ring_frames++;
		taken++;
	}
	return taken;
}

bool client_ring_ready(const struct dmapipe_client *client)
{
	struct dmapipe_ring_wire_frame slot;
	const char *why;
	int n;

	if (!client->frames_ring.map)
		return false;
	n = dmapipe_ring_available(&client->frames_ring, &why);
	if (n <= 0)
		return n < 0;
	dmapipe_ring_copy_slot(&client->frames_ring, 0, &slot);
	return slot.socket_msgs <= client->sock_received;
}

void client_ring_sleep(struct dmapipe_client *client, bool sleeping)
{
	if (client->releases_ring.map)
		dmapipe_ring_set_sleeping(&client->releases_ring,
					  sleeping || (client->fd_exported && !client->sleep_managed));
}

static void handle_msg(struct dmapipe_client *client, struct dmapipe_msg *msg)
{
	char name[DMAPIPE_ERROR_NAME_LEN];

	if (!client->hello_done) {
		if (msg->type == DMAPIPE_MSG_ERROR)
			goto error;
		if (msg->type != DMAPIPE_MSG_HELLO || msg->hello.role != DMAPIPE_ROLE_PRODUCER) {
			dmapipe_msg_drop_fds(msg);
			client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL, "producer did not answer HELLO");
			return;
		}
		if (msg->hello.min_version > DMAPIPE_PROTO_VERSION ||
		    msg->hello.version < DMAPIPE_PROTO_VERSION) {
			client_protocol_violation(client, DMAPIPE_ERR_VERSION, "incompatible protocol version");
			return;
		}
		client->hello_done = true;
		/* a feature is used only if both sides set it, whatever the producer says;
		 * our offer left RINGS out if DMAPIPE_RINGS=0 */
		client->features = msg->hello.features & client->offered;
		client->granted_in_flight = MAX(1u, MIN(msg->hello.max_in_flight,
							client->opts.max_in_flight));
		client->granted_queue_depth = msg->hello.queue_depth;
		client->lease_timeout_ms = msg->hello.lease_timeout_ms;
		client->state = DMAPIPE_CLIENT_STREAMING;
		client->backoff_ms = client->opts.reconnect_min_ms;
		log_info_ratelimited("connected to %s (stream '%s', policy %u, %u in flight, "
				     "lease timeout %u ms%s)", client->path, msg->hello.name,
				     msg->hello.policy, client->granted_in_flight,
				     msg->hello.lease_timeout_ms,
				     client->features & DMAPIPE_FEATURE_RINGS ? ", rings" : "");
		/* the producer waits for them before it counts us as streaming */
		if ((client->features & DMAPIPE_FEATURE_CONSTRAINTS) &&
		    client_send_constraints(client) < 0) {
			client_connection_lost(client, DMAPIPE_CLIENT_DISCONNECTED);
			return;
		}
		if (client->features & DMAPIPE_FEATURE_RINGS)
			send_releases_ring(client);
		return;
	}

	switch (msg->type) {
	case DMAPIPE_MSG_FORMAT:
		client->format = msg->format;
		client->have_format = true;
		return;
	case DMAPIPE_MSG_FORMAT_INFO:
		/* only after FORMAT, and only if we asked for it */
		if (!(client->features & DMAPIPE_FEATURE_FORMAT_INFO) || !client->have_format) {
			client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL,
						  "FORMAT_INFO not agreed or before FORMAT");
			return;
		}
		client->format_info = msg->format_info;
		client->have_format_info = true;
		return;
	case DMAPIPE_MSG_ADD_BUFFER:
		handle_add_buffer(client, &msg->add_buffer);
		return;
	case DMAPIPE_MSG_REMOVE_BUFFER:
		handle_remove_buffer(client, msg->remove_buffer_id);
		return;
	case DMAPIPE_MSG_FRAME:
		handle_frame(client, &msg->frame, client->rx->received_ns);
		return;
	case DMAPIPE_MSG_RING:
		handle_ring(client, &msg->ring);
		return;
	case DMAPIPE_MSG_EOS:
		log_info_ratelimited("%s: end of stream after frame %llu", client->path,
				     (unsigned long long)msg->eos_last_sequence);
		if (client->opts.reconnect) {
			client_connection_lost(client, DMAPIPE_CLIENT_EOS);
		} else {
			/* keep the queued frames: the application may still take them */
			client->state = DMAPIPE_CLIENT_EOS;
		}
		return;
	case DMAPIPE_MSG_ERROR:
		goto error;
	default:
		dmapipe_msg_drop_fds(msg);
		client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL, "unexpected message from the producer");
		return;
	}

error:
	log_error_ratelimited("producer on %s ended the connection: %s: %s", client->path,
			      dmapipe_error_code_name(msg->error.code, name, sizeof(name)),
			      msg->error.message);
	client->error = msg->error.code;
	dmapipe_strlcpy(client->error_message, msg->error.message, sizeof(client->error_message));
	client_connection_lost(client, DMAPIPE_CLIENT_ERROR);
}

/*
 * A message of a received burst; false once the connection ended. The
 * ring frames written before the producer sent it come first.
 */
static bool handle_burst_msg(void *data, struct dmapipe_msg *msg)
{
	struct dmapipe_client *client = data;

	if (client->frames_ring.map) {
		client_ring_take(client);
		if (client->sock < 0) {
			dmapipe_msg_drop_fds(msg);
			return false;
		}
	}
	client->sock_received++;
	handle_msg(client, msg);
	return client->sock >= 0;
}

/* The read of the socket failed with @ret: the connection ends. */
static void read_failed(struct dmapipe_client *client, int ret, const char *why)
{
	dmapipe_recv_batch_discard(client->rx);
	if (ret == -ECONNRESET || ret == -EPIPE) {
		log_info_ratelimited("%s: producer closed the connection", client->path);
		client_connection_lost(client, client->state == DMAPIPE_CLIENT_EOS ?
				       DMAPIPE_CLIENT_EOS : DMAPIPE_CLIENT_DISCONNECTED);
		return;
	}
	client_protocol_violation(client, DMAPIPE_ERR_PROTOCOL, why ? why : strerror(-ret));
}

void client_sock_readable(struct dmapipe_client *client)
{
	struct dmapipe_recv_batch *rx = client->rx;

	/* Whole bursts only: what recvmmsg() took off the socket is not
	 * reported by epoll again. A connection that ends inside a burst
	 * closes the fds of the rest (connection_reset()). */
	for (int round = 0; round < RECV_ROUNDS; round++) {
		const char *why;
		int got = dmapipe_recv_burst(client->sock, rx, handle_burst_msg, client, &why);

		if (got == -EAGAIN || got == -ECANCELED)
			return;
		if (got < 0) {
			read_failed(client, got, why);
			return;
		}
		/* a short burst emptied the socket */
		if (got < DMAPIPE_RECV_BATCH)
			return;
	}
}
