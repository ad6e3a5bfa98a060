/* SPDX-License-Identifier: MIT */
/*
 * What the parts of dmapipe serve share: its state, and what both of its
 * loops do the same way (failing, waiting for consumers, the status line,
 * the end of the stream, the summary: cmd-serve.c, with the command
 * line). The loops differ in where frames come from: serve-pattern.c
 * draws the test pattern into an allocator's buffers at a pace,
 * serve-device.c hands on a V4L2 device's frames as they come.
 */
#ifndef DMAPIPE_TOOL_SERVE_H
#define DMAPIPE_TOOL_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "dmapipe-tool.h"
#include "loop-timing.h"
#include "realtime.h"

struct serve {
	struct dmapipe_server_options opts;
	struct socket_access access;
	struct dmapipe_format format;
	const char *socket;
	const char *allocator;
	uint32_t fps_num, fps_den; /* the rate consumers are told, and the pace */
	uint64_t frames;
	uint32_t buffers;
	uint32_t wait_consumers;
	uint32_t wait_timeout_ms;
	uint32_t drain_timeout_ms;
	bool strict;
	bool predrawn;
	bool quiet;
	bool json;
	/* --device */
	const char *device;
	enum dmapipe_v4l2_io io;
	bool direct_io;
	bool reacquire;
	bool set_format, set_size, set_fps, set_buffers;

	struct dmapipe_server *server;
	struct dmapipe_allocator *import_alloc;
	struct dmapipe_v4l2_source *source;
	struct dmapipe_v4l2_info dev_info;
	struct dmapipe_v4l2_watch *watch;
	char device_path[256]; /* where the device is now */
	uint64_t v4l2_frames, v4l2_dropped, v4l2_corrupted; /* of earlier sources */
	uint64_t device_losses, reacquired;
	char io_note[160];
	enum dmapipe_mem_kind mem_kind;
	const char *alloc_name;
	const char *alloc_note;

	/* results */
	uint64_t queued;
	uint64_t stalls;     /* dequeue found no free buffer */
	struct loop_timing loop; /* --device: the capture loop's longest turn */
	uint64_t late;       /* frames that missed their deadline by a period */
	uint64_t start_ns, end_ns;
	uint64_t status_next, status_t0, status_frames; /* the status line's second */
	unsigned int leases_at_end; /* frames consumers still held when serve ended */
	uint64_t cpu_user0, cpu_sys0, cpu_user1, cpu_sys1;
	uint64_t cpu0, cpu1; /* precise total */
	bool failed;
	const char *failure;
	struct realtime rt; /* --realtime, --mlock, --cpu: for the loop's thread */
};

/* The run failed: one line now, and @failure in the summary. */
__attribute__((format(printf, 5, 6), cold))
void serve_failed(struct serve *s, const char *failure, enum tool_error code, int err,
		  const char *fmt, ...);
/*
 * Dispatches until --wait-consumers consumers are connected. False on a
 * signal, or on the timeout after serve_failed().
 */
bool serve_wait_for_consumers(struct serve *s);
/*
 * --realtime, --mlock, --cpu for the loop about to start on this thread;
 * false after serve_failed() when --require-realtime was refused.
 */
bool serve_apply_realtime(struct serve *s);
/* The server itself failed with @err: the run fails and its clock stops. */
void serve_server_failed(struct serve *s, int err) __attribute__((cold));
/* The streaming starts: the rate, the CPU per frame and the status line count from here. */
void serve_start_clock(struct serve *s);
/*
 * Called each turn of a loop, which adds the frames it queued to
 * s->status_frames: once a second, prints what the library holds and,
 * with @show and without --quiet, the status line. True when that second
 * came.
 */
bool serve_status_tick(struct serve *s, bool show);
/* The streaming is over: the rate and the CPU per frame stop counting here. */
void serve_stop_clock(struct serve *s);
/* Ends the stream: EOS, and the leases back within --drain-timeout. */
void serve_end_stream(struct serve *s);
/* The summary, on stdout or as the --json document. */
void serve_print_summary(struct serve *s);

/* The two ways to serve, each returning the exit status. */
int serve_pattern(struct serve *s);
int serve_device(struct serve *s);

#endif /* DMAPIPE_TOOL_SERVE_H */
