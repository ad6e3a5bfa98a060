/* SPDX-License-Identifier: MIT */
/* How much memory an encoded stream's buffer gets (encode-buffer.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <dmapipe/format.h>

#include "encode-buffer.h"

/*
 * The recorder's packet groups (dmapipe_recorder_options): 1 MiB, written
 * 2 s after their first packet at the latest. A buffer asked for is
 * split into groups no larger, and at least one per 2 s of it, so that a
 * group closed by the clock is never the one that runs out. The smallest
 * group still holds a packet of a small stream (640x480 FWHT of vivid's
 * pattern: 12 KB in the lane); below, every packet would be a record.
 */
#define GROUP_BYTES (UINT64_C(1) << 20)
#define GROUP_MS 2000u
#define GROUP_MIN_BYTES (UINT64_C(16) << 10)

static uint64_t round_up_4k(uint64_t v)
{
	return (v + 4095) & ~UINT64_C(4095);
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

uint64_t enc_raw_frame_bytes(uint32_t fourcc, uint32_t width, uint32_t height)
{
	struct dmapipe_format f = { .fourcc = fourcc, .width = width, .height = height };
	struct dmapipe_layout l;

	if (!width || !height)
		return 0;
	if (fourcc && dmapipe_layout_init(&l, &f, 1) == 0)
		return l.objects[0].size;
	return (uint64_t)width * height * 2;
}

double enc_buffer_seconds(const struct enc_buffer *b)
{
	return b->peak_rate ? (double)b->data_bytes / (double)b->peak_rate : 0;
}

/* Groups for @data bytes of packets (@ms at the peak rate), and the one being written. */
static void plan_groups(struct enc_buffer *b, uint64_t data, uint32_t ms)
{
	uint64_t n = div_up(data, GROUP_BYTES);

	if (n < div_up(ms, GROUP_MS))
		n = div_up(ms, GROUP_MS);
	if (n < 2)
		n = 2;
	b->group_bytes = round_up_4k(div_up(data, n));
	if (b->group_bytes < GROUP_MIN_BYTES)
		b->group_bytes = GROUP_MIN_BYTES;
	b->groups = (uint32_t)n + 1;
	b->data_bytes = n * b->group_bytes;
	b->bytes = b->groups * b->group_bytes;
}

int enc_buffer_plan(const struct enc_buffer_request *c, uint64_t limit, struct enc_buffer *b,
		    char *why, size_t len)
{
	memset(b, 0, sizeof(*b));
	if (c->bitrate) {
		b->peak_rate = (uint64_t)c->bitrate / 8 * ENC_BUFFER_HEADROOM;
		b->basis = "bitrate";
	} else if (c->raw_frame_bytes && c->fps > 0) {
		b->peak_rate = (uint64_t)((double)c->raw_frame_bytes * c->fps + 0.5);
		b->basis = "raw";
	}
	b->asked = c->ms || c->mb;
	if (!b->asked) {
		/* the recorder's default groups, or the writer's default queue */
		b->groups = c->container ? ENC_BUFFER_GROUPS : 0;
		b->group_bytes = c->container ? GROUP_BYTES : 0;
		b->bytes = c->container ? ENC_BUFFER_GROUPS * GROUP_BYTES : ENC_BUFFER_QUEUE_BYTES;
		b->data_bytes = c->container ? (ENC_BUFFER_GROUPS - 1) * GROUP_BYTES : b->bytes;
		return 0;
	}
	if (c->ms && !b->peak_rate) {
		snprintf(why, len, "a buffer of %u ms needs the stream's rate to be sized: a "
			 "bitrate, or the raw frames' size and rate (encode --device with --size "
			 "and --fps, run's capture= with size= and fps=); or a size in MiB",
			 c->ms);
		return -EINVAL;
	}
	if (c->mb) {
		uint64_t mem = (uint64_t)c->mb << 20;

		/* the memory asked for and no more: three groups or more, one being written */
		if (c->container) {
			uint64_t n = div_up(mem, GROUP_BYTES);

			b->groups = (uint32_t)(n < 3 ? 3 : n);
			b->group_bytes = (mem / b->groups) & ~UINT64_C(4095);
			b->data_bytes = (b->groups - 1) * b->group_bytes;
			b->bytes = b->groups * b->group_bytes;
		} else {
			b->bytes = b->data_bytes = mem;
		}
	} else {
		uint64_t data = b->peak_rate * c->ms / 1000;

		if (c->container)
			plan_groups(b, data, c->ms);
		else
			b->bytes = b->data_bytes = data < GROUP_MIN_BYTES ? GROUP_MIN_BYTES : data;
	}
	if (limit && b->bytes > limit) {
		snprintf(why, len, "a buffer of %.1f MB is more than half of this machine's memory "
			 "(%.1f MB)", (double)b->bytes / 1e6, (double)limit * 2 / 1e6);
		return -ERANGE;
	}
	return 0;
}
