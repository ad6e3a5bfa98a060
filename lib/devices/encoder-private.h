/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the encoder's files share (encoder.c, encoder-layout.c,
 * encoder-queue.c, encoder-packets.c): the encoder itself and the calls
 * between them. Not installed.
 */
#ifndef DMAPIPE_ENCODER_PRIVATE_H
#define DMAPIPE_ENCODER_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "private.h"
#include "devices-private.h"
#include "v4l2-util.h"
#include "dmapipe/device.h"
#include "dmapipe/encoder.h"

#define MAX_SLOTS 32
#define META_RING 128
#define DEFAULT_IN_FLIGHT 4
#define DEFAULT_CAPTURE_BUFFERS 4
#define DRAIN_TIMEOUT_MS 10000

struct out_slot {
	struct dmapipe_buffer *key; /* import: the buffer last queued here (weak) */
	uint64_t ino;               /* and its first object's inode */
	struct dmapipe_buffer *held; /* reference while queued (import) */
	void *frame_data;
	bool queued;
	uint64_t last_use;
	void *map[VIDEO_MAX_PLANES]; /* copy mode: the driver's buffer */
	size_t map_len[VIDEO_MAX_PLANES];
};

struct cap_slot {
	void *map;
	size_t len;
	/* options.export_packets: the exported bitstream buffer */
	struct dmapipe_buffer *buffer;
	/* out of the device until dmapipe_encoder_release_packet() */
	bool held;
};

struct meta_entry {
	uint64_t cookie;
	uint64_t sequence;
	uint64_t timestamp_ns;
	uint32_t flags;
};

struct pending_done {
	void *frame_data;
	int status;
};

struct dmapipe_encoder {
	struct dmapipe_v4l2_node node; /* never through libv4l2: mem2mem needs no conversion */
	int epfd;
	int evfd;                 /* copy mode: done callbacks waiting */
	bool in_epoll;
	struct dmapipe_encoder_options opt;
	uint32_t out_type, cap_type;
	unsigned int n_vplanes;   /* V4L2 planes per OUTPUT buffer */
	uint32_t out_memory;
	bool streaming;
	bool finished;            /* finish() ran: no more submits */
	bool drained;             /* the LAST buffer came */
	struct dmapipe_layout have; /* the producer's layout the current setup is for */
	enum dmapipe_mem_kind have_kind;
	struct out_slot out[MAX_SLOTS];
	unsigned int n_out;
	struct cap_slot cap[VIDEO_MAX_FRAME];
	unsigned int n_cap;
	int cb_slot;              /* the CAPTURE buffer whose packet is being given, or -1 */
	struct meta_entry ring[META_RING];
	uint64_t next_cookie;
	uint64_t use_clock;
	struct pending_done *pending;
	size_t n_pending, cap_pending;
	struct dmapipe_encoder_info info;
	struct dmapipe_encoder_stats stats;
};

/* ---- encoder-layout.c ------------------------------------------------ */

/*
 * Sets the OUTPUT queue's raw format for frames of @have; @want gets the
 * layout the device computes. 0 or a negative errno (logged).
 */
int encoder_set_raw_format(struct dmapipe_encoder *e, const struct dmapipe_layout *have,
			   struct dmapipe_layout *want);

/*
 * Import or copy for frames of @have (in memory of @kind) given @want:
 * *@import, with the reason in info.io_note. 0, -EXDEV or -EPERM.
 */
int encoder_choose_io(struct dmapipe_encoder *e, const struct dmapipe_layout *have,
		      enum dmapipe_mem_kind kind, const struct dmapipe_layout *want, bool *import);

/* ---- encoder-queue.c ------------------------------------------------- */

/* Stops both queues and frees every buffer; frames still in the device are cancelled. */
void encoder_teardown(struct dmapipe_encoder *e);

/* Runs the done callbacks that were deferred; returns how many ran. */
int encoder_run_pending(struct dmapipe_encoder *e);

/* ---- encoder-packets.c ----------------------------------------------- */

/* Requests, maps (and exports) the bitstream buffers and queues them: 0 or -errno. */
int encoder_setup_capture(struct dmapipe_encoder *e);

/* Queues bitstream buffer @i to the device again: 0 or -errno. */
int encoder_qbuf_capture(struct dmapipe_encoder *e, unsigned int i);

/*
 * Dequeues one packet and gives it to the packet callback: 1, -EAGAIN when
 * none is ready (or after the last one), or a negative errno.
 */
int encoder_dq_capture(struct dmapipe_encoder *e);

#endif /* DMAPIPE_ENCODER_PRIVATE_H */
