/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hardware encoders: V4L2 stateful memory-to-memory encoders as consumers.
 *
 * An encoder takes raw frames (any struct dmapipe_buffer: a consumer's
 * frame, a capture device's buffer) on the device's OUTPUT queue and gives
 * the compressed bitstream, one packet per frame, from its CAPTURE queue.
 *
 * Raw frames reach the device in one of two ways, chosen per format:
 *
 *   - import: the frame's dma-buf is queued with V4L2_MEMORY_DMABUF; each
 *     distinct dmapipe buffer gets its own V4L2 buffer index, so the
 *     driver's import (attachment, mapping) is made once and reused;
 *   - copy: the frame is copied by the CPU into the driver's own MMAP
 *     buffers, counted in the copy statistics (dmapipe_get_copy_stats())
 *     and refused in strict mode. Only when import is impossible (the
 *     device cannot import, the buffer is a memfd, or its strides or plane
 *     offsets are not the ones the device computes), and the reason is
 *     logged and kept in the info.
 *
 * dmapipe_encoder_get_layout() tells a producer that can still choose its
 * buffers (a capture source in the same process, an allocator) which
 * layout the encoder would import, so that the copy is never needed.
 *
 * The caller keeps each frame's lease (or capture buffer) until the done
 * callback: the device has finished reading it. Sequence numbers and
 * capture timestamps travel through the device with the frame (in the
 * V4L2 timestamp) and come back with its packet.
 *
 * Event loop: dmapipe_encoder_get_fd() is readable when
 * dmapipe_encoder_dispatch() has work. Not thread-safe: one thread per
 * encoder. No libv4l2 is used (mem2mem devices need no conversion).
 */
#ifndef DMAPIPE_ENCODER_H
#define DMAPIPE_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmapipe/format.h>
#include <dmapipe/buffer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_encoder;

/** How raw frames reach the encoder. */
enum dmapipe_encoder_io {
	/** import when the frame's buffer allows it, else a counted copy (logged) */
	DMAPIPE_ENCODER_IO_AUTO = 0,
	/** import or fail (submit returns -EXDEV with the reason logged) */
	DMAPIPE_ENCODER_IO_IMPORT = 1,
	/** always copy into the driver's buffers (a reference, or a benchmark) */
	DMAPIPE_ENCODER_IO_COPY = 2,
};

/**
 * The name of @io: "auto", "import" or "copy" ("?" for a value outside the
 * enum). A static string, never NULL. Since 0.1.
 */
const char *dmapipe_encoder_io_to_string(enum dmapipe_encoder_io io);

/** A codec-specific control (VIDIOC_S_EXT_CTRLS): a V4L2 CID and its value. */
struct dmapipe_encoder_control {
	uint32_t id;   /**< V4L2_CID_*, e.g. V4L2_CID_FWHT_I_FRAME_QP */
	int32_t value;
};

#define DMAPIPE_ENCODER_MAX_CONTROLS 16

/** One encoded frame. */
struct dmapipe_encoder_packet {
	/** the compressed bytes; valid only during the packet callback */
	const void *data;
	size_t size;
	/** of the raw frame it encodes (from the meta given to submit) */
	uint64_t sequence;
	uint64_t timestamp_ns;
	/** DMAPIPE_FRAME_KEYFRAME, DMAPIPE_FRAME_CORRUPTED (V4L2_BUF_FLAG_ERROR) */
	uint32_t flags;
	uint32_t reserved;
	/** packets given before this one */
	uint64_t index;
	/**
	 * with options.export_packets: the bitstream buffer holding the packet
	 * (a dma-buf exported with VIDIOC_EXPBUF; fourcc = the codec, the raw
	 * frames' width and height, one plane), @data being @offset bytes
	 * into it. Borrowed: take a reference and dmapipe_encoder_hold_packet()
	 * to keep it past the callback. NULL otherwise. Since 0.1.
	 */
	struct dmapipe_buffer *buffer;
	uint64_t offset;
};

/**
 * The device no longer needs a frame: it was encoded (status 0; in copy
 * mode, as soon as it was copied) or dropped (a negative errno: -ECANCELED
 * when the encoder was stopped or reconfigured, -EIO on a device error).
 * @frame_data is what was passed to dmapipe_encoder_submit(): release the
 * frame's lease here. Called from dispatch(), finish(), and from submit()
 * when a new format makes the encoder drain first.
 */
typedef void (*dmapipe_encoder_done_func)(struct dmapipe_encoder *encoder, void *frame_data,
					  int status, void *user_data);

/** A packet is ready. Called from the same places as the done callback. */
typedef void (*dmapipe_encoder_packet_func)(struct dmapipe_encoder *encoder,
					    const struct dmapipe_encoder_packet *packet,
					    void *user_data);

struct dmapipe_encoder_options {
	uint32_t size; /**< sizeof(struct dmapipe_encoder_options), set by _init() */
	/** the encoder's node, e.g. "/dev/video3"; NULL: the first encoder offering @codec */
	const char *device;
	/** the coded format, a V4L2 pixel format (V4L2_PIX_FMT_FWHT, _H264...); default FWHT */
	uint32_t codec;
	enum dmapipe_encoder_io io;
	/** never copy: where only a copy would work, submit fails with -EPERM */
	bool strict;
	/** V4L2_CID_MPEG_VIDEO_BITRATE in bits/s; 0: the driver's default */
	uint32_t bitrate;
	/** V4L2_CID_MPEG_VIDEO_GOP_SIZE; 0: the driver's default */
	uint32_t gop;
	/** the codec's profile and level control values; -1: the driver's default */
	int32_t profile;
	int32_t level;
	/** codec-specific controls, applied after the ones above; any failure fails _new() */
	uint32_t n_controls;
	struct dmapipe_encoder_control controls[DMAPIPE_ENCODER_MAX_CONTROLS];
	/**
	 * the raw format's colorimetry (V4L2_COLORSPACE_*, V4L2_XFER_FUNC_*,
	 * V4L2_YCBCR_ENC_*, V4L2_QUANTIZATION_*); 0 for each: the driver's
	 * default. Codecs write it into the bitstream.
	 */
	uint32_t colorspace, xfer_func, ycbcr_enc, quantization;
	/** raw frames in the device at most; submit beyond returns -EAGAIN; default 4 */
	uint32_t max_in_flight;
	/** bitstream buffers; default 4 */
	uint32_t capture_buffers;
	dmapipe_encoder_done_func done;
	dmapipe_encoder_packet_func packet;
	void *user_data;
	/**
	 * export the bitstream buffers (VIDIOC_EXPBUF) and give each packet's
	 * buffer in packet->buffer, so that it can be written to disk or served
	 * without a copy. Since 0.1.
	 */
	bool export_packets;
};

/**
 * Sets @options (caller-owned, not NULL) to the defaults: everything 0 or
 * NULL (the first encoder for the codec, the driver's controls and
 * colorimetry, no callbacks) but size = sizeof(*options), codec FWHT, io
 * AUTO, profile and level -1, max_in_flight 4 and capture_buffers 4.
 * Since 0.1.
 */
void dmapipe_encoder_options_init(struct dmapipe_encoder_options *options);

/**
 * Opens the encoder (options->device, or the first stateful encoder whose
 * CAPTURE queue offers options->codec, found with dmapipe_device_list_new()),
 * sets the coded format and applies the controls. Returns NULL with errno:
 * ENOENT (no such node, or no encoder for the codec), ENODEV (not a
 * stateful encoder), EINVAL (bad options, a codec or control the device
 * refuses; logged), ENOTSUP (the device cannot take the required control),
 * E2BIG (@options from newer headers setting fields this library does not
 * know), or an ioctl's error. @options and its strings are only read
 * during the call (user_data is kept and given to the callbacks); an older
 * caller's smaller struct (its size field) gets the defaults for the
 * fields it lacks. The encoder owns the device fd; free it with
 * dmapipe_encoder_free(). Since 0.1.
 */
struct dmapipe_encoder *dmapipe_encoder_new(const struct dmapipe_encoder_options *options);

/**
 * Stops the device at once (frames in flight are done with -ECANCELED,
 * their packets lost: call dmapipe_encoder_finish() first to keep them)
 * and frees. Accepts NULL. Since 0.1.
 */
void dmapipe_encoder_free(struct dmapipe_encoder *encoder);

/**
 * The layout the encoder imports for frames of @format: the strides and
 * plane offsets the device computes (VIDIOC_TRY_FMT), in one object whose
 * size is the device's sizeimage (fd -1), written to @layout
 * (caller-owned). A producer that allocates buffers this way gets every
 * frame imported. Nothing is set up on the device. Returns 0, -EINVAL (the
 * encoder does not take that format or size: it would change it), -ENOTSUP
 * (no V4L2 equivalent of the fourcc). Since 0.1.
 */
int dmapipe_encoder_get_layout(struct dmapipe_encoder *encoder,
			       const struct dmapipe_format *format,
			       struct dmapipe_layout *layout);

/**
 * Would frames of @layout be imported? Returns 0, or -EXDEV with the reason
 * in @why (a stride, an offset, the object count, the memory kind; @len
 * bytes, caller-owned), or -EINVAL or -ENOTSUP (with a reason) when the
 * encoder does not take the format at all. @kind is the buffers' memory
 * kind; @layout's fds are not used. Nothing is set up. Since 0.1.
 */
int dmapipe_encoder_check_layout(struct dmapipe_encoder *encoder,
				 const struct dmapipe_layout *layout,
				 enum dmapipe_mem_kind kind, char *why, size_t len);

/**
 * Queues a frame. The first frame, and each frame whose layout differs
 * from the previous one, (re)configures the device (after draining what it
 * holds) and chooses import or copy for that layout. Takes a reference on
 * @buffer until the done callback. @meta's sequence, timestamp and flags
 * come back with the frame's packet; its acquire fence is not waited for
 * (wait before submitting).
 *
 * Returns 0; -EAGAIN when max_in_flight frames are in the device (the
 * encoder is behind: drop the frame, nothing was taken); -EPERM when only a
 * copy would do and copies are refused (options.strict or strict mode);
 * -EXDEV in DMAPIPE_ENCODER_IO_IMPORT mode when the buffer cannot be
 * imported; -EINVAL for a format the encoder does not take; -EPIPE after
 * dmapipe_encoder_finish(); or an ioctl's error. The reasons are logged.
 * Since 0.1.
 */
int dmapipe_encoder_submit(struct dmapipe_encoder *encoder, struct dmapipe_buffer *buffer,
			   const struct dmapipe_frame_meta *meta, void *frame_data);

/**
 * The pollable fd: readable when dmapipe_encoder_dispatch() has work.
 * Owned by the encoder: do not close it. Since 0.1.
 */
int dmapipe_encoder_get_fd(const struct dmapipe_encoder *encoder);

/**
 * Dequeues what the device finished: raw frames (done callback) and
 * packets (packet callback), waiting up to @timeout_ms (0: do not wait,
 * -1: forever) for the first. Returns the number of events handled or a
 * negative errno (-EIO when the device failed). Since 0.1.
 */
int dmapipe_encoder_dispatch(struct dmapipe_encoder *encoder, int timeout_ms);

/**
 * Drains: the device encodes every frame it holds (V4L2_ENC_CMD_STOP),
 * whose packets and done callbacks come before this returns, waiting at
 * most @timeout_ms (-1: forever) for them. Further submits fail with
 * -EPIPE. Returns 0, -ETIMEDOUT, or an ioctl's error. Since 0.1.
 */
int dmapipe_encoder_finish(struct dmapipe_encoder *encoder, int timeout_ms);

/**
 * Called from the packet callback only: keeps the packet's bitstream
 * buffer (options.export_packets) out of the device after the callback
 * returns, until dmapipe_encoder_release_packet(). The device stalls once
 * every bitstream buffer is held, so hold fewer than
 * options.capture_buffers. Returns 0 or -EINVAL (not in the callback of
 * this packet, or no exported buffer). Since 0.1.
 */
int dmapipe_encoder_hold_packet(struct dmapipe_encoder *encoder,
				const struct dmapipe_encoder_packet *packet);

/**
 * Gives a held bitstream buffer back to the device. Returns 0, -ENOENT
 * (@buffer is not held: e.g. a reconfiguration replaced the encoder's
 * buffers, which then live on only through the caller's reference), or the
 * QBUF error. Since 0.1.
 */
int dmapipe_encoder_release_packet(struct dmapipe_encoder *encoder,
				   struct dmapipe_buffer *buffer);

/**
 * Asks for the next frame to be a keyframe
 * (V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME). Returns 0, or -ENOTSUP when the
 * device has no such control. Since 0.1.
 */
int dmapipe_encoder_request_keyframe(struct dmapipe_encoder *encoder);

/**
 * Sets a control now (bitrate changes while encoding, say). Returns 0,
 * -ENOTSUP (the device has no such control) or the driver's error.
 * Since 0.1.
 */
int dmapipe_encoder_set_control(struct dmapipe_encoder *encoder, uint32_t id, int32_t value);

/** What was opened and chosen. */
struct dmapipe_encoder_info {
	char path[128];        /**< the encoder's node */
	char driver[16];
	char card[32];
	uint32_t codec;        /**< V4L2 coded format */
	bool multiplanar;
	bool can_import;       /**< the OUTPUT queue imports dma-bufs */
	bool configured;       /**< a format was set (after the first submit) */
	/** enum dmapipe_encoder_io of the current format: IMPORT or COPY (AUTO before) */
	uint32_t io;
	/** why that mode: asked for, or the reason import is impossible */
	char io_note[192];
	/** the raw layout the device encodes (strides, offsets it computes) */
	struct dmapipe_layout layout;
	uint32_t pixelformat;  /**< V4L2 raw format on the OUTPUT queue */
	uint32_t capture_size; /**< bytes per bitstream buffer */
	uint32_t reserved[8];
};

/** Copies what was opened and chosen into @info (caller-owned). Since 0.1. */
void dmapipe_encoder_get_info(const struct dmapipe_encoder *encoder,
			      struct dmapipe_encoder_info *info);

struct dmapipe_encoder_stats {
	uint64_t frames_in;      /**< frames submitted and accepted */
	uint64_t frames_done;    /**< done callbacks with status 0 */
	uint64_t frames_refused; /**< submits answered -EAGAIN: the encoder was behind */
	uint64_t frames_failed;  /**< done with an error, or refused for another reason */
	uint64_t packets;        /**< packets given */
	uint64_t keyframes;
	uint64_t bytes_out;      /**< bitstream bytes */
	uint64_t frames_imported; /**< frames queued as dma-bufs */
	uint64_t imports;        /**< distinct buffers given a V4L2 index (first import) */
	uint64_t reimports;      /**< an index re-used for another buffer (more buffers than slots) */
	uint64_t frames_copied;  /**< frames copied into the driver's buffers */
	uint64_t bytes_copied;   /**< pixel bytes those copies moved */
	uint64_t reconfigures;   /**< format changes after the first */
	/** CPU time (this thread's) spent copying frames, in nanoseconds */
	uint64_t copy_cpu_ns;
	uint32_t in_flight;      /**< raw frames in the device now (the backlog) */
	uint32_t slots;          /**< V4L2 OUTPUT buffers */
	uint32_t io;             /**< enum dmapipe_encoder_io now */
	uint32_t reserved[5];
};

/** Copies the encoder's counters into @stats (caller-owned). Since 0.1. */
void dmapipe_encoder_get_stats(const struct dmapipe_encoder *encoder,
			       struct dmapipe_encoder_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_ENCODER_H */
