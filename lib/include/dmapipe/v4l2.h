/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * V4L2 capture sources.
 *
 * A source opens a V4L2 capture device (through libv4l2 with format
 * conversion disabled, so no hidden copies), negotiates format, size and
 * frame rate, and gives its frames as dmapipe buffers that never leave the
 * device's memory or the memory the device captures into:
 *
 *   - export mode: the driver's own MMAP buffers, exported once with
 *     VIDIOC_EXPBUF (O_CLOEXEC) as dma-bufs;
 *   - import mode: V4L2_MEMORY_DMABUF with buffers from a dmapipe
 *     allocator, for consumers that need what the driver's buffers cannot
 *     give (a struct-page backed mapping for O_DIRECT, say).
 *
 * The driver's sequence numbers and timestamps become the frames'
 * metadata; sequence gaps are drops, counted and flagged.
 *
 * A source either hands frames to the application (dequeue / queue) or
 * feeds a dmapipe_server directly (attach / dispatch): its buffers are
 * registered once and requeued to the device when no consumer holds them
 * any more.
 *
 * The source needs libv4l2 at build time; without it every function fails
 * with ENOTSUP. Not thread-safe: one thread per source.
 */
#ifndef DMAPIPE_V4L2_H
#define DMAPIPE_V4L2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmapipe/format.h>
#include <dmapipe/buffer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_allocator;
struct dmapipe_encoder;
struct dmapipe_server;
struct dmapipe_v4l2_source;

/** How a source's buffers come to be. */
enum dmapipe_v4l2_io {
	/**
	 * export, unless options.direct_io asks for struct-page mappings
	 * (then import with an allocator that gives them)
	 */
	DMAPIPE_V4L2_IO_AUTO = 0,
	/** the driver's MMAP buffers exported with VIDIOC_EXPBUF */
	DMAPIPE_V4L2_IO_EXPORT = 1,
	/** V4L2_MEMORY_DMABUF with buffers from a dmapipe allocator */
	DMAPIPE_V4L2_IO_IMPORT = 2,
};

/**
 * The name of @io: "auto", "export" or "import" ("?" for a value outside
 * the enum). A static string, never NULL. Since 0.1.
 */
const char *dmapipe_v4l2_io_to_string(enum dmapipe_v4l2_io io);

struct dmapipe_v4l2_options {
	uint32_t size; /**< sizeof(struct dmapipe_v4l2_options), set by _init() */
	/** the device node, e.g. "/dev/video0" */
	const char *device;
	/** DRM fourcc wanted; 0 keeps the device's current format */
	uint32_t fourcc;
	/**
	 * the exact V4L2 pixel format (V4L2_PIX_FMT_*), instead of @fourcc: to
	 * choose between a format's one-buffer and one-buffer-per-plane ("M")
	 * forms, which @fourcc leaves to the source (it prefers one buffer)
	 */
	uint32_t v4l2_pixelformat;
	/** frame size wanted; 0 keeps the device's current size */
	uint32_t width, height;
	/** frame rate wanted, as the fraction num/den frames per second; 0 keeps the device's */
	uint32_t fps_num, fps_den;
	enum dmapipe_v4l2_io io;
	/** buffers to ask the driver for; default 4 (the driver may give more) */
	uint32_t buffers;
	/**
	 * import mode's allocator (the source takes its own reference); NULL:
	 * the best one for the job (with direct_io: one whose buffers have
	 * struct-page mappings, dmapipe.ko or udmabuf)
	 */
	struct dmapipe_allocator *allocator;
	/**
	 * the consumers need buffers with a struct-page backed mapping or a
	 * direct-I/O fd (O_DIRECT, io_uring fixed buffers): AUTO then imports
	 */
	bool direct_io;
	/**
	 * bytes per line of the first plane to ask the driver for (the
	 * others follow from it); 0: the driver's choice. For consumers that
	 * import the frames into a device needing a given stride (an
	 * encoder, see dmapipe_encoder_get_layout()). The driver may round it
	 * or refuse it (logged): the layout says what it gave.
	 */
	uint32_t bytesperline;
};

/**
 * Sets @options (caller-owned, not NULL) to the defaults: everything 0 or
 * NULL (the device's current format, size and rate; the driver's stride)
 * but size = sizeof(*options), io AUTO and 4 buffers. Since 0.1.
 */
void dmapipe_v4l2_options_init(struct dmapipe_v4l2_options *options);

/**
 * Opens options->device, checks that it is a V4L2 capture device with
 * streaming I/O, negotiates the format, size and rate, and sets up the
 * buffers (export or import, with a fallback to the other mode that is
 * logged and reported in dmapipe_v4l2_info.io_note). The buffers are queued
 * to the device; capture starts with dmapipe_v4l2_source_start().
 * Returns NULL with errno: ENOENT (no such node), ENOTTY (not a V4L2
 * device), ENODEV (not a capture device, or gone), EINVAL (a format,
 * size or option the device cannot take; the log says what it offers),
 * ENOTSUP (no DRM equivalent for its pixel format, or built without
 * libv4l2), E2BIG (@options from newer headers setting fields this library
 * does not know), or an ioctl's error. Every failure is logged with its
 * reason. @options and its strings are only read during the call; an
 * older caller's smaller struct (its size field) gets the defaults for
 * the fields it lacks. The source owns the device fd and its buffers;
 * free it with dmapipe_v4l2_source_free(). Since 0.1.
 */
struct dmapipe_v4l2_source *dmapipe_v4l2_source_new(const struct dmapipe_v4l2_options *options);

/**
 * Flag of dmapipe_v4l2_source_new_for_encoders(): only check and report;
 * keep the device's layout even when an encoder cannot import it.
 */
#define DMAPIPE_V4L2_NO_NEGOTIATE (1u << 0)

/** What dmapipe_v4l2_source_new_for_encoders() found and did. */
struct dmapipe_v4l2_negotiation {
	/**
	 * the outcome, for the user: "the capture buffers suit the encoder as
	 * they are", "... have the encoder's layout (asked for)", "not
	 * negotiated: <reason>", "the device cannot give the encoder's
	 * layout: <reason>", or "no encoder"
	 */
	char note[256];
	/**
	 * one line per time the device was opened again, each ending in a
	 * newline: "negotiating: <reason>; asking <device> for <n> bytes per
	 * line" ("" when it was not)
	 */
	char steps[512];
	/** the bytes per line asked for at the last opening (0: the driver's choice) */
	uint32_t bytesperline;
	/** how many times the device was opened again */
	uint32_t reopened;
	/** every encoder can import the source's buffers as they are */
	bool importable;
	uint32_t reserved[8];
};

/**
 * Allocation-time negotiation: opens a capture source (as
 * dmapipe_v4l2_source_new() does with @options) whose buffers every encoder
 * of @encoders can import without a copy. When one cannot (typically a
 * stride: the device pads its rows, the encoder computes them unpadded),
 * the device is opened again asking for that encoder's bytes per line
 * (dmapipe_encoder_get_layout()), until the buffers suit every encoder or
 * the device cannot give what they need; then the source is kept as it
 * is, and the encoders copy (counted) or refuse in strict mode. With
 * DMAPIPE_V4L2_NO_NEGOTIATE it only checks. @options->bytesperline, if
 * set, is the first stride asked for.
 *
 * @encoders are borrowed (@n_encoders of them, none needed when 0) and not
 * changed. @result (may be NULL) gets the outcome and each reopening, for
 * the caller to show: the library only logs them. Returns the source, to
 * free with dmapipe_v4l2_source_free(), or NULL with errno as
 * dmapipe_v4l2_source_new() sets it (and EINVAL for unknown @flags or
 * missing encoders); @result is filled either way. Since 0.1.
 */
struct dmapipe_v4l2_source *
dmapipe_v4l2_source_new_for_encoders(const struct dmapipe_v4l2_options *options,
				     struct dmapipe_encoder *const *encoders,
				     unsigned int n_encoders, uint32_t flags,
				     struct dmapipe_v4l2_negotiation *result);

/**
 * Stops capture, detaches from a server, closes the device and drops the
 * source's references to its buffers. Buffers other holders still
 * reference (a consumer's lease) stay valid until they are unreferenced.
 * Accepts NULL. Since 0.1.
 */
void dmapipe_v4l2_source_free(struct dmapipe_v4l2_source *source);

/** What was opened and negotiated. */
struct dmapipe_v4l2_info {
	char path[256];     /**< the node opened */
	char driver[16];    /**< from VIDIOC_QUERYCAP */
	char card[32];
	char bus_info[32];
	char name[64];      /**< the node's sysfs name, e.g. "vivid-000-vid-cap" ("" if unknown) */
	uint32_t device_caps;
	bool multiplanar;   /**< the multi-planar API is used */
	bool libv4l2;       /**< ioctls go through libv4l2 (see docs/V4L2.md) */
	bool timestamps_monotonic; /**< the driver stamps frames with CLOCK_MONOTONIC */
	uint32_t pixelformat;      /**< the V4L2 pixel format */
	uint32_t fps_num, fps_den; /**< the frame rate, 0/0 when the device does not say */
	enum dmapipe_v4l2_io io;   /**< the mode used: EXPORT or IMPORT */
	/** why this mode: chosen, asked for, or the reason for a fallback */
	char io_note[160];
	char allocator[16]; /**< import mode: the allocator's name */
	uint32_t buffers;   /**< buffers the driver gave */
	uint32_t reserved[8];
};

/** Copies what was opened and negotiated into @info (caller-owned). Since 0.1. */
void dmapipe_v4l2_source_get_info(const struct dmapipe_v4l2_source *source,
				  struct dmapipe_v4l2_info *info);

/**
 * Copies the format's rate, colorimetry, chroma siting, field order and
 * pixel aspect ratio, as the device said them (what
 * dmapipe_v4l2_source_attach() gives a server), into @info
 * (caller-owned). Returns 0, or -EINVAL for a NULL argument. Since 0.2.
 */
int dmapipe_v4l2_source_get_format_info(const struct dmapipe_v4l2_source *source,
					struct dmapipe_format_info *info);

/**
 * The negotiated layout (format, strides, offsets); its fds are -1. Owned
 * by the source and valid until dmapipe_v4l2_source_free(). Since 0.1.
 */
const struct dmapipe_layout *dmapipe_v4l2_source_get_layout(const struct dmapipe_v4l2_source *source);

/** The number of buffers the driver gave (info.buffers). Since 0.1. */
unsigned int dmapipe_v4l2_source_get_buffer_count(const struct dmapipe_v4l2_source *source);

/**
 * Buffer @index, or NULL when @index >= the buffer count. No reference is
 * added: the buffer is valid while the source lives; take a reference with
 * dmapipe_buffer_ref() to keep it longer. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_v4l2_source_get_buffer(struct dmapipe_v4l2_source *source,
						      unsigned int index);

/**
 * The device fd to poll: readable when a frame is ready; POLLERR when the
 * device went away (dmapipe_v4l2_source_dequeue() then returns -ENODEV).
 * Owned by the source: do not close it. Since 0.1.
 */
int dmapipe_v4l2_source_get_fd(const struct dmapipe_v4l2_source *source);

/**
 * Queues every buffer nobody holds and starts streaming (a no-op while
 * streaming). Returns 0, -ENODEV when the device is gone, or the error of
 * VIDIOC_QBUF or VIDIOC_STREAMON (logged). Since 0.1.
 */
int dmapipe_v4l2_source_start(struct dmapipe_v4l2_source *source);

/**
 * Stops streaming; buffers the device held become free (buffers the
 * application or consumers hold stay theirs). Returns 0, or the error of
 * VIDIOC_STREAMOFF (logged; the buffers are free either way). Since 0.1.
 */
int dmapipe_v4l2_source_stop(struct dmapipe_v4l2_source *source);

/**
 * Takes the next captured frame without waiting: *buffer gets a reference
 * owned by the caller, who gives it back with dmapipe_v4l2_source_queue().
 * @meta gets the driver's sequence number, its timestamp (CLOCK_MONOTONIC
 * ns; the dequeue time when the driver's clock is not monotonic), bytes
 * used per plane and the flags CORRUPTED (V4L2_BUF_FLAG_ERROR) and
 * DISCONTINUITY (frames were dropped before this one, or the stream
 * restarted); acquire_fence is -1. Returns 0, -EAGAIN (no frame yet),
 * -ENODEV (the device is gone: free the source), or another negative
 * errno. Not for a source attached to a server. Since 0.1.
 */
int dmapipe_v4l2_source_dequeue(struct dmapipe_v4l2_source *source,
				struct dmapipe_buffer **buffer,
				struct dmapipe_frame_meta *meta);

/**
 * Gives a dequeued buffer back: the device captures into it again (while
 * streaming). Takes the caller's reference, also on failure. Returns 0,
 * -EINVAL (@buffer is not one this source gave out), -ENODEV (the device
 * is gone) or the VIDIOC_QBUF error. Since 0.1.
 */
int dmapipe_v4l2_source_queue(struct dmapipe_v4l2_source *source, struct dmapipe_buffer *buffer);

struct dmapipe_v4l2_stats {
	uint64_t frames;     /**< frames dequeued */
	uint64_t dropped;    /**< frames lost: gaps in the driver's sequence numbers */
	uint64_t corrupted;  /**< frames the driver flagged V4L2_BUF_FLAG_ERROR */
	uint64_t requeued;   /**< buffers given back to the device */
	uint32_t held;       /**< buffers out of the device now (application, consumers) */
	uint32_t reserved;
	uint64_t last_sequence;
};

/** Copies the source's counters into @stats (caller-owned). Since 0.1. */
void dmapipe_v4l2_source_get_stats(const struct dmapipe_v4l2_source *source,
				   struct dmapipe_v4l2_stats *stats);

/**
 * How promptly the application dequeues (dmapipe_v4l2_source_get_timing()):
 * the latency of a frame is the time from the driver's timestamp (the
 * buffer was done: a DQBUF became possible) to the end of the DQBUF that
 * returned it, on CLOCK_MONOTONIC. Measured only while the driver's
 * timestamps are monotonic (dmapipe_v4l2_info.timestamps_monotonic); a
 * driver stamping the start of the frame adds one frame time. Since 0.2.
 */
struct dmapipe_v4l2_timing {
	uint32_t size;               /**< sizeof(struct dmapipe_v4l2_timing), set by the caller */
	uint32_t reserved;
	uint64_t frames_timed;       /**< frames whose latency was measured */
	uint64_t dqbuf_latency_max_ns;  /**< the longest */
	uint64_t dqbuf_latency_last_ns; /**< the latest frame's */
	uint64_t dqbuf_latency_sum_ns;  /**< all of them, for a mean */
};

/**
 * Copies the source's dequeue latencies into @timing (caller-owned; its
 * size field says how much of it the caller knows). Returns 0, or
 * -EINVAL if @timing->size is smaller than the first field set. Since 0.2.
 */
int dmapipe_v4l2_source_get_timing(const struct dmapipe_v4l2_source *source,
				   struct dmapipe_v4l2_timing *timing);

/**
 * Feeds @server: registers every buffer with dmapipe_server_add_buffer()
 * and installs the server's idle callback, which requeues a buffer to the
 * device once no consumer holds it. The server also gets the format's rate,
 * colorimetry and field order (dmapipe_server_set_format_info(), since 0.2)
 * for its consumers. In import mode the source also takes the server's
 * constraints callback (since 0.2): when a consumer imports into a DRM
 * node, each buffer is replaced, as it comes back, by one of the
 * allocator dmapipe_allocator_for_constraints() names, at the same V4L2
 * index and without stopping the device (docs/V4L2.md). The server must
 * have no buffers of its own pool; one source per server. Returns 0 or a
 * negative errno. Since 0.1.
 */
int dmapipe_v4l2_source_attach(struct dmapipe_v4l2_source *source, struct dmapipe_server *server);

/**
 * Undoes attach: the buffers are removed from the server (consumers get
 * REMOVE_BUFFER; frames they hold stay valid until released, and those
 * buffers are not captured into again) and the idle callback is cleared.
 * Then the server may take buffers of another format. Since 0.1.
 */
void dmapipe_v4l2_source_detach(struct dmapipe_v4l2_source *source);

/**
 * For an attached source: dequeues the frames ready now, at most
 * @max_frames of them (0: all), and publishes each with
 * dmapipe_server_queue(). Returns the number of frames published,
 * -ENODEV when the device went away (detach and free the source), -EPIPE
 * after the server's end of stream, or another negative errno. Since 0.1.
 */
int dmapipe_v4l2_source_dispatch(struct dmapipe_v4l2_source *source, unsigned int max_frames);

/* ---- waiting for a device to come back ------------------------------ */

struct dmapipe_v4l2_watch;

/**
 * Watches for the capture device described by @info (from a source that
 * was open) to appear: a node whose QUERYCAP card and bus_info, and sysfs
 * name when known, equal @info's, under whichever /dev/videoN it gets.
 * Uses a libudev monitor (the "udev" source when udevd runs, else the
 * kernel's uevents) when dmapipe was built with libudev. @info is copied.
 * Returns the watch, to free with dmapipe_v4l2_watch_free(), or NULL with
 * errno EINVAL (@info NULL or without a card name) or ENOMEM. Since 0.1.
 */
struct dmapipe_v4l2_watch *dmapipe_v4l2_watch_new(const struct dmapipe_v4l2_info *info);

/** Frees the watch and closes its monitor (its fd). Accepts NULL. Since 0.1. */
void dmapipe_v4l2_watch_free(struct dmapipe_v4l2_watch *watch);

/**
 * An fd that becomes readable when video4linux devices come or go, or -1
 * when there is none (built without libudev): then poll
 * dmapipe_v4l2_watch_find() every few hundred milliseconds. Owned by the
 * watch: do not close it. Since 0.1.
 */
int dmapipe_v4l2_watch_get_fd(const struct dmapipe_v4l2_watch *watch);

/**
 * Reads pending events and looks for the device. Returns 1 with its node
 * in @path (@len bytes, caller-owned), 0 while it is absent, or a negative
 * errno (-ENAMETOOLONG when @path is too short). Since 0.1.
 */
int dmapipe_v4l2_watch_find(struct dmapipe_v4l2_watch *watch, char *path, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_V4L2_H */
