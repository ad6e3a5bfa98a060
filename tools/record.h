/* SPDX-License-Identifier: MIT */
/*
 * What the parts of dmapipe record share: the command's state and the
 * frame sources its one recording loop takes frames from. cmd-record.c
 * has the command line, the loop and the summary; record-stream.c a
 * producer's stream, record-device.c a V4L2 device; record-check.c
 * --check and --repair, which read a recording instead of writing one.
 */
#ifndef DMAPIPE_TOOL_RECORD_H
#define DMAPIPE_TOOL_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dmapipe-tool.h"
#include "loop-timing.h"
#include "output.h"
#include "realtime.h"

struct frame_source;

struct record {
	struct dmapipe_client_options copts;
	struct dmapipe_recorder_options ropts;
	bool received_early; /* the client was dispatched before the loop: frames may wait */
	const char *socket, *output, *check, *repair;
	/* --device */
	const char *device, *allocator;
	uint32_t width, height, fourcc, fps, fps_den, buffers;
	enum dmapipe_v4l2_io io;
	struct dmapipe_v4l2_source *source;
	uint64_t frames;
	uint32_t duration_s;
	uint32_t timeout_ms;
	enum verify_mode verify;
	bool strict, json, quiet, progress, io_set;
	bool pattern_device; /* dmapipe_vcap: its frames are the test pattern */

	const struct frame_source *src;
	struct dmapipe_client *client;
	struct dmapipe_frame_meta meta; /* a device frame's, until it is submitted */
	struct dmapipe_recorder *rec;
	struct output out;
	bool force;
	FILE *report; /* the summary: stdout, or stderr when the recording goes there */
	uint64_t submitted, refused, released;
	uint64_t t0, t1;
	const char *end;
	bool error, disk_full;
	/* --buffer / --buffer-mb: what to hold; need: that many frames (0: not asked) */
	uint64_t buffer_ms, buffer_mb;
	uint32_t need;
	uint64_t next_keepalive, keepalive_ns;
	uint64_t keepalives, last_keepalive, keepalive_max_gap_ns;
	struct loop_timing loop;  /* the recording loop's turns */
	struct realtime rt;       /* --realtime, --mlock, --cpu */
	/* the loops' clock: --duration's deadline, the progress line's state */
	uint64_t deadline, next_progress, last_bytes, last_ns;
};

/*
 * A producer's stream (each frame a lease, released when the disk is done
 * with it) or a V4L2 device (its buffers, requeued when the disk is done).
 * One recording loop serves both: a source only says how to get a frame
 * and how to give it back.
 */
struct frame_source {
	/* Connects or opens: 0, or -1 after saying why. */
	int (*open)(struct record *r);
	/* Starts the frames: 0, or -errno with r->end set. NULL: nothing to start. */
	int (*start)(struct record *r);
	/* Readable when dispatch() or next() has work. */
	int (*fd)(const struct record *r);
	/* Called once a turn, before next(). NULL: nothing to do. */
	void (*dispatch)(struct record *r);
	/*
	 * The next frame: 0 with its buffer, its metadata and the frame_data
	 * the recorder hands back; -EAGAIN when there is none now; any other
	 * error ends the recording, with r->end (and r->error) set.
	 */
	int (*next)(struct record *r, struct dmapipe_buffer **buf,
		    const struct dmapipe_frame_meta **meta, void **frame_data);
	/* Gives a frame back: the disk is done with it, or refused it. */
	void (*give_back)(struct record *r, void *frame_data);
	/* Frames that reached the recorder, and frames lost before it (sequence gaps). */
	void (*counts)(const struct record *r, uint64_t *received, uint64_t *gaps);
};

/* A producer's stream (--socket) and a V4L2 capture device (--device). */
extern const struct frame_source record_stream_source;
extern const struct frame_source record_device_source;

/* Frames to hold for --buffer/--buffer-mb, for frames of @frame_bytes at @fps. */
uint32_t record_frames_needed(const struct record *r, uint64_t frame_bytes, double fps);

/* --check and --repair of the file the command line names: the exit status. */
int record_check(struct record *r);
int record_repair(struct record *r);

#endif /* DMAPIPE_TOOL_RECORD_H */
