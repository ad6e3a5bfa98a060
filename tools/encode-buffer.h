/* SPDX-License-Identifier: MIT */
/*
 * How much memory an encoded stream's buffer gets (docs/REALTIME.md,
 * "Sizing"), for `dmapipe encode --buffer/--buffer-mb` and `run`'s
 * encode=...,buffer=/buffer-mb=. Pure arithmetic, kept apart so that a
 * unit test can check it.
 */
#ifndef DMAPIPE_ENCODE_BUFFER_H
#define DMAPIPE_ENCODE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is asked for, and what sizes it. */
struct enc_buffer_request {
	uint32_t ms, mb;          /* --buffer, --buffer-mb; both 0: the defaults */
	uint32_t bitrate;         /* bits per second, 0: unknown */
	bool container;           /* packet groups (the recorder), else a writer queue */
	uint64_t raw_frame_bytes; /* the raw frames, the worst case without a bitrate */
	double fps;               /* their rate; 0: unknown */
};

/*
 * The memory that holds packets while the disk is behind: the recorder's
 * packet groups (container: the packets are copied into them and the
 * encoder's buffer goes back at once) or the writer thread's queue
 * (bitstream). docs/REALTIME.md, "Sizing".
 */
struct enc_buffer {
	uint64_t bytes;       /* the memory */
	/* of packets it absorbs at peak_rate: container, all groups but the one being written */
	uint64_t data_bytes;
	uint64_t peak_rate;   /* bytes per second planned for, 0: unknown */
	const char *basis;    /* "bitrate", "raw" (the worst case), NULL: unknown */
	uint32_t groups;      /* container: packet groups of group_bytes each */
	uint64_t group_bytes;
	bool asked;           /* --buffer or --buffer-mb, not the default */
};

/*
 * Over the bitrate: a GOP's keyframe and a rate control's short overshoot
 * (x264: its busiest 0.5 s at 1.35-1.59 times the target, docs/REALTIME.md).
 */
#define ENC_BUFFER_HEADROOM 2

/*
 * Without --buffer: the recorder's 4 packet groups of 1 MiB (encode-sink's
 * MAX_HELD), or the bitstream writer's 8 MiB queue, about 4 s of a
 * 16 Mbit/s stream.
 */
#define ENC_BUFFER_GROUPS 4
#define ENC_BUFFER_QUEUE_BYTES (UINT64_C(8) << 20)

/*
 * Plans @r's buffer into @b. 0; -EINVAL with @why when a duration has no
 * rate to turn it into bytes (no bitrate, no raw size and rate); -ERANGE
 * with @why when it is more than @limit bytes (0: no limit), said to be
 * half of the machine's memory.
 */
int enc_buffer_plan(const struct enc_buffer_request *r, uint64_t limit, struct enc_buffer *b,
		    char *why, size_t len);
/* @b's seconds at its peak rate, or 0 when the rate is unknown. */
double enc_buffer_seconds(const struct enc_buffer *b);
/*
 * A raw frame's bytes: of @fourcc (0: 2 bytes per pixel, 4:2:2) at
 * @width x @height, packed; 0 if the size is unknown.
 */
uint64_t enc_raw_frame_bytes(uint32_t fourcc, uint32_t width, uint32_t height);

#endif /* DMAPIPE_ENCODE_BUFFER_H */
