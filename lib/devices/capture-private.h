/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a capture source's files share (capture.c, capture-buffers.c,
 * capture-stream.c): the source itself and the calls between them. The
 * functions exist only with libv4l2 (HAVE_LIBV4L2). Not installed.
 */
#ifndef DMAPIPE_CAPTURE_PRIVATE_H
#define DMAPIPE_CAPTURE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "private.h"
#include "devices-private.h"
#include "v4l2-util.h"
#include "dmapipe/stream.h"
#include "dmapipe/v4l2.h"

#define DEFAULT_BUFFERS 4
#define MAX_V4L2_BUFFERS 32

struct vbuf {
	struct dmapipe_buffer *buffer; /* the source's reference */
	bool queued;                   /* in the driver */
	bool held;                     /* out: application or server */
	bool swap;                     /* to be replaced when it comes back (capture-swap.c) */
	/* replaced by buffer, which is queued: leaves the server at buffer's first frame */
	struct dmapipe_buffer *retired;
};

struct dmapipe_v4l2_source {
	struct dmapipe_v4l2_node node;
	uint32_t type;   /* V4L2_BUF_TYPE_VIDEO_CAPTURE(_MPLANE) */
	uint32_t memory; /* V4L2_MEMORY_MMAP or _DMABUF */
	bool streaming;
	bool lost;
	bool restarted; /* the next frame follows a (re)start */
	bool have_seq;
	bool warned_offset;
	uint32_t last_seq;
	unsigned int n_planes_v4l2; /* planes per v4l2_buffer (mplane) */
	struct dmapipe_layout layout;
	struct vbuf bufs[MAX_V4L2_BUFFERS];
	unsigned int n_bufs;
	struct dmapipe_allocator *allocator;
	struct dmapipe_server *server;
	struct dmapipe_v4l2_info info;
	struct dmapipe_v4l2_stats stats;
	struct dmapipe_v4l2_timing timing;
	/* colorimetry, fields and rate of the negotiated format, for FORMAT_INFO */
	struct dmapipe_format_info format_info;
	/* the consumers' constraints, attached in import mode (capture-swap.c) */
	struct dmapipe_constraints merged;
	bool constraints_changed;
	struct dmapipe_allocator *next_allocator; /* the buffers are being replaced by its */
};

/* ---- capture-buffers.c ----------------------------------------------- */

/*
 * Sets the buffers up for the negotiated layout as @o asks (export, import,
 * or the fallback from import to export, with the reason in info.io_note)
 * and queues them. 0 or a negative errno (logged).
 */
int capture_setup_buffers(struct dmapipe_v4l2_source *s, const struct dmapipe_v4l2_options *o);

/* Drops the source's references to its buffers and frees the driver's. */
void capture_free_buffers(struct dmapipe_v4l2_source *s);

/* Queues buffer @index to the driver (marked queued): 0 or -errno. */
int capture_qbuf(struct dmapipe_v4l2_source *s, unsigned int index);

/* ---- capture-swap.c: import mode follows the consumers' constraints ---- */

/* Takes the server's constraints callback (import mode only). */
void capture_swap_attach(struct dmapipe_v4l2_source *s);
/* Gives the callback back and the retired buffers' registrations. */
void capture_swap_detach(struct dmapipe_v4l2_source *s);
/* From dispatch: acts on changed constraints; the allocator once all are replaced. */
void capture_swap_follow(struct dmapipe_v4l2_source *s);
/* Buffer @i is back and goes to the device: replaced first, if it is to be. */
void capture_swap_before_qbuf(struct dmapipe_v4l2_source *s, unsigned int i);
/* The driver refused replaced buffer @i (@err): the old one back, no more replacing. */
bool capture_swap_undo(struct dmapipe_v4l2_source *s, unsigned int i, int err);
/* Buffer @i's first frame is dequeued: it takes the retired one's place in the server. */
int capture_swap_register(struct dmapipe_v4l2_source *s, unsigned int i);
/* Drops the retired buffers and the next allocator. */
void capture_swap_free(struct dmapipe_v4l2_source *s);

#endif /* DMAPIPE_CAPTURE_PRIVATE_H */
