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

/* The disk check (record-disk.c). */
struct record_disk {
	bool off;                /* --no-disk-check */
	bool probed;             /* the write test ran: probe holds its figures */
	const char *skipped;     /* why it did not, NULL if it did */
	int error;               /* the write test's error, 0 if none */
	struct dmapipe_disk_probe probe;
	unsigned int frames;     /* the first frames, and their bytes: the stream's need */
	uint64_t bytes;
	double need_bps;         /* bytes per second the stream needs, 0 if not known */
	const char *verdict;     /* "ok", "too-slow", "unknown-rate"; NULL before */
};

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
	/* --device: the span of the dequeued frames' timestamps, for the capture rate */
	uint64_t cap_first_ns, cap_last_ns, cap_frames;
	/* --device: its buffers, and the fewest it had queued after a dequeue
	 * (0: the recorder held them all, and the device had none to fill) */
	uint32_t dev_buffers, dev_min_queued;
	struct realtime rt;       /* --realtime, --mlock, --cpu */
	struct record_disk disk;  /* the disk check */
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

/*
 * The bytes of a frame: its planes' bytes_used, or, when a plane says 0
 * ("the whole plane"), the sizes of the buffer's memory objects.
 */
uint64_t record_frame_bytes(const struct dmapipe_buffer *buf, const struct dmapipe_frame_meta *meta);

/* Frames to hold for --buffer/--buffer-mb, for frames of @frame_bytes at @fps. */
uint32_t record_frames_needed(const struct record *r, uint64_t frame_bytes, double fps);

/*
 * The disk check: a write test of the recording's file system before the
 * source opens (a warning if it cannot be made); each frame recorded, until
 * the first ones tell the stream's need and the verdict is given (one
 * warning when the disk is too slow); its part of --json and the summary.
 */
void record_disk_probe(struct record *r);
void record_disk_frame(struct record *r, const struct dmapipe_buffer *buf,
		       const struct dmapipe_frame_meta *meta);
void record_disk_json(const struct record *r, struct json *j);
void record_disk_summary(const struct record *r);

/* --check and --repair of the file the command line names: the exit status. */
int record_check(struct record *r);
int record_repair(struct record *r);

#endif /* DMAPIPE_TOOL_RECORD_H */
