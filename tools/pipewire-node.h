/* SPDX-License-Identifier: MIT */
/*
 * A PipeWire video node whose buffers are a dmapipe producer's own
 * (`dmapipe pipewire`, docs/PIPEWIRE.md). The node is a pw_stream in the
 * output direction that allocates its buffers itself: each PipeWire buffer
 * is one buffer of the dmapipe stream, its planes the buffer's fds as
 * SPA_DATA_DmaBuf (memfds as SPA_DATA_MemFd). A frame from the producer
 * queues the PipeWire buffer of its buffer id and, while the node drives
 * the graph, starts a graph cycle. The frame's dmapipe lease is held
 * exactly while PipeWire holds the buffer: until the stream hands it back
 * (pw_stream_dequeue_buffer()) or removes it. Pixels are never touched.
 *
 * Everything runs in the thread of the PipeWire main loop that @core
 * belongs to, the dmapipe client included.
 */
#ifndef DMAPIPE_PIPEWIRE_NODE_H
#define DMAPIPE_PIPEWIRE_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <pipewire/pipewire.h>

#include <dmapipe/dmapipe.h>

struct pipewire_node;

struct pipewire_node_options {
	const char *name;          /* node.name, what consumers target */
	const char *description;   /* node.description, what people see */
	uint32_t fps_num, fps_den; /* announced rate; 0/1: variable */
	/* renegotiations the node starts (new buffers, new format), at most */
	unsigned int max_renegotiations;
	bool verbose; /* state changes and the agreed format on stderr */
};

struct pipewire_node_stats {
	uint64_t frames_received;
	uint64_t frames_queued;     /* handed to PipeWire */
	uint64_t frames_returned;   /* given back by PipeWire, lease released */
	/* frames released at once, not handed to PipeWire: */
	uint64_t dropped_unlinked;  /* no consumer, or formats not agreed yet */
	uint64_t dropped_replaced;  /* PipeWire had not taken the previous one; a newer came */
	uint64_t dropped_no_buffer; /* a buffer PipeWire has no buffer for (yet) */
	uint64_t dropped_fence;     /* its acquire fence did not signal in time */
	uint64_t formats;           /* formats PipeWire set on the node */
	uint64_t renegotiations;    /* started by the node, each logged */
	uint64_t renegotiations_refused; /* over max_renegotiations */
	uint64_t retriggers;        /* cycles started again for a frame the graph had not taken */
	uint32_t buffers;           /* PipeWire buffers now */
	uint32_t leases;            /* held now */
	uint32_t leases_max;        /* most held at once */
	uint32_t data_type;         /* SPA_DATA_DmaBuf or SPA_DATA_MemFd; 0 before buffers */
	bool modifier;              /* the consumer took the format with the modifier */
	bool driving;               /* the node drives the graph (starts its cycles) */
};

/*
 * Creates the node on @core for the frames of @client (both stay the
 * caller's and must outlive the node; the client is dispatched by the
 * caller, who calls pipewire_node_client_ready() after each dispatch).
 * The node connects to PipeWire once the stream has a format and buffers.
 * Returns NULL with errno on failure.
 */
struct pipewire_node *pipewire_node_new(struct pw_core *core, struct dmapipe_client *client,
					const struct pipewire_node_options *options);

/* Disconnects the node and releases every lease it holds. NULL: nothing. */
void pipewire_node_free(struct pipewire_node *node);

/*
 * Takes the frames the client has received and follows changes of its
 * format and buffers (renegotiating, bounded). Returns 0, or a negative
 * errno when the node cannot go on (a format SPA cannot name).
 */
int pipewire_node_client_ready(struct pipewire_node *node);

/*
 * Periodic work, every few milliseconds: takes back buffers PipeWire
 * returned, hands on a frame that waited, and starts a graph cycle for a
 * frame PipeWire did not take or to return the last one after a pause.
 */
void pipewire_node_tick(struct pipewire_node *node);

/* The stream's state; *@error (if not NULL) the error text in PW_STREAM_STATE_ERROR. */
enum pw_stream_state pipewire_node_get_state(const struct pipewire_node *node,
					     const char **error);

/* The node's id in the PipeWire graph, SPA_ID_INVALID before it is connected. */
uint32_t pipewire_node_get_id(const struct pipewire_node *node);

void pipewire_node_get_stats(const struct pipewire_node *node, struct pipewire_node_stats *stats);

#endif /* DMAPIPE_PIPEWIRE_NODE_H */
