/* SPDX-License-Identifier: MIT */
/*
 * What the parts of dmapipe play share: its state, the slots (buffers
 * shared with the consumers) and the two halves of a frame's way through
 * them. play-read.c has the allocator, the slots and the reads from the
 * disk into them; play-pace.c serves the frames read at the recorded
 * pace; cmd-play.c has the command line, the loop and the summary.
 */
#ifndef DMAPIPE_TOOL_PLAY_H
#define DMAPIPE_TOOL_PLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dmapipe-tool.h"

#define MAX_BUFFERS 32
/* a generation of buffers and the one it replaces, leaving */
#define MAX_SLOTS (2 * MAX_BUFFERS)
#define MAX_CONSUMER_STATS 64
/* app_reallocates_ms: longer than the second the server may hold a change back */
#define PLAY_REALLOC_WAIT_MS 3000

enum slot_state {
	SLOT_FREE,    /* ours, no consumer holds it */
	SLOT_READING, /* the disk is filling it */
	SLOT_READY,   /* filled, waiting for its time */
	SLOT_SERVED,  /* queued to the server; free again at the idle callback */
};

struct slot {
	struct dmapipe_buffer *buffer; /* our reference */
	enum slot_state state;
	uint64_t index;
	struct dmapipe_frame_meta meta;
	uint64_t due;  /* CLOCK_MONOTONIC time to serve it, 0: now */
	bool timed;    /* due was computed */
	bool retiring; /* of an older generation: no new read, leaves the stream once free */
};

struct play {
	struct dmapipe_server_options sopts;
	struct socket_access access;
	const char *file, *socket, *allocator_name, *hash_log;
	FILE *hash_out;
	double speed; /* 0: as fast as possible */
	bool loop, buffered, strict, json, quiet, progress, recorded_timestamps;
	uint64_t first, frames;
	uint32_t queue_depth, buffers;
	uint32_t wait_consumers, wait_timeout_ms, drain_timeout_ms;

	struct dmapipe_recording *rec;
	struct dmapipe_recording_info info;
	struct dmapipe_reader *reader;
	struct dmapipe_server *server;
	struct dmapipe_allocator *alloc;
	int timer_fd;

	/* entries without a buffer are unused; n_slots is one past the last used */
	struct slot slots[MAX_SLOTS];
	unsigned int n_slots;
	int layout_index; /* of the buffers in slots[], -1 before the first */
	uint64_t layout_frame; /* a frame of that layout */
	/* frames read, in order, waiting to be served (indices into slots[]) */
	unsigned int ready[MAX_SLOTS];
	unsigned int ready_head, n_ready;
	unsigned int reading;

	uint64_t next_index;  /* next frame to read */
	uint64_t submitted;   /* reads started (counts toward --frames) */
	uint64_t served, loops, format_changes, late, read_errors;
	bool discontinuity;   /* the next frame served starts a new loop */
	int read_error;
	/* pacing */
	bool clock_set;
	uint64_t base_ns, base_ts, last_ts;

	/* the consumers' constraints (play-constraints.c) */
	struct dmapipe_constraints merged;
	bool constraints_changed;
	bool layout_unmet; /* the recorded layout misses the merged alignments */
	bool told_no_drm;  /* said why a DRM importer gets no drm buffers */
	struct dmapipe_allocator *gen_alloc; /* the current generation's */
	unsigned int gen_count;              /* its buffers */
	uint64_t generations; /* made for the consumers' constraints */

	uint64_t t0, t1, cpu0, cpu1;
	const char *end;
	bool failed;
	const char *failure;
};

/* The allocator of the slots' buffers, into p->alloc: 0, or -1 after saying why. */
int play_open_allocator(struct play *p);
/* The server's idle callback (@data: the play): a served slot is free again. */
void play_on_idle(struct dmapipe_server *server, struct dmapipe_buffer *buffer, void *data);
/* Takes every slot's buffer out of the stream and drops it. */
void play_remove_buffers(struct play *p);
/* The reader's done callback (@user_data: the play): a slot is read, or failed. */
void play_on_read(struct dmapipe_reader *reader, uint64_t index, struct dmapipe_buffer *buffer,
		  void *frame_data, int status, void *user_data);
/* Starts the reads that may start now: 0, or -errno after reporting it. */
int play_start_reads(struct play *p);

/* The constraints callback (@data: the play): notes them for play_follow_constraints(). */
void play_on_constraints(struct dmapipe_server *server, const struct dmapipe_constraints *merged,
			 void *data);
/*
 * Buffers for recorded frame @index's layout, from the allocator and in
 * the count the consumers' constraints ask, added to the stream; the
 * current ones retire. 0, -EAGAIN while the last generation has not left
 * yet, or -errno.
 */
int play_alloc_generation(struct play *p, uint64_t index);
/* Drops the retiring buffers no consumer holds any more. */
void play_retire_idle(struct play *p);
/* A new generation when the constraints changed and ask for one; 0 or -errno. */
int play_follow_constraints(struct play *p);
/* Refuses the consumers waiting for a layout the recording does not have. */
void play_refuse_unmet(struct play *p);

/* Serves ready frames that are due; *wake_ns is when the next one is due, or 0. */
int play_serve_ready(struct play *p, uint64_t *wake_ns);
/* Tells consumers the recording's format info, at the rate it is served at (FORMAT_INFO). */
void play_tell_format_info(struct play *p);

#endif /* DMAPIPE_TOOL_PLAY_H */
