/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How encode --buffer/--buffer-mb and run's buffer=/buffer-mb= become
 * memory (tools/encode-buffer.c, docs/REALTIME.md "Sizing"): a duration at
 * twice the bitrate, or at the raw frames' rate without one; packet groups
 * of at most 1 MiB, one per 2 s at least, and the one being written; a
 * size in MiB never exceeded; the defaults as they were. Bad input tried:
 * a duration without a rate, a buffer over the memory limit.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <dmapipe/format.h>

#include "testlib.h"
#include "../tools/encode-buffer.h"

static struct enc_buffer plan(struct enc_buffer_request r, uint64_t limit, int want)
{
	struct enc_buffer b;
	char why[256] = "";
	int ret = enc_buffer_plan(&r, limit, &b, why, sizeof(why));

	check_msg(ret == want, "ms %u mb %u bitrate %u: %d, want %d (%s)", r.ms, r.mb, r.bitrate, ret,
		  want, why);
	if (want)
		check_msg(why[0], "refused without a reason");
	return b;
}

/*
 * A duration at a known rate: the seconds it absorbs are the ones asked
 * for, give or take each group's rounding up to 4 KiB.
 */
static void check_seconds(const struct enc_buffer *b, double want)
{
	double s = enc_buffer_seconds(b);
	double slack = (double)(b->groups ? b->groups : 1) * 4096.0 / (double)b->peak_rate;

	check_msg(s >= want && s <= want + slack, "%.4f s, want %.3f (+%.4f)", s, want, slack);
}

int main(void)
{
	struct enc_buffer b;

	/* 2 s at 8 Mbit/s, recorded: 2 MB/s peak, 4 groups of 1 MB + the one being written */
	b = plan((struct enc_buffer_request){ .ms = 2000, .bitrate = 8000000, .container = true }, 0, 0);
	check_int_eq(b.peak_rate, 2000000);
	check(b.asked && strcmp(b.basis, "bitrate") == 0);
	check_seconds(&b, 2.0);
	check_int_eq(b.groups, 5);
	check(b.group_bytes <= UINT64_C(1) << 20 && b.group_bytes % 4096 == 0);
	check_int_eq(b.bytes, b.groups * b.group_bytes);
	check_int_eq(b.data_bytes, (b.groups - 1) * b.group_bytes);

	/* the same to a bitstream file: a queue of exactly 2 s at the peak rate */
	b = plan((struct enc_buffer_request){ .ms = 2000, .bitrate = 8000000 }, 0, 0);
	check_int_eq(b.bytes, 4000000);
	check_int_eq(b.groups, 0);
	check_seconds(&b, 2.0);

	/* 4K60 at 40 Mbit/s, 2 s: 20 MB in groups of at most 1 MiB */
	b = plan((struct enc_buffer_request){ .ms = 2000, .bitrate = 40000000, .container = true }, 0, 0);
	check_seconds(&b, 2.0);
	check_int_eq(b.groups, 21);

	/*
	 * a low bitrate: a group closes 2 s after its first packet, so one per
	 * 2 s at least (1.25 MB would fit in two)
	 */
	b = plan((struct enc_buffer_request){ .ms = 10000, .bitrate = 500000, .container = true }, 0, 0);
	check_seconds(&b, 10.0);
	check_int_eq(b.groups, 5 + 1);
	check_int_eq(b.group_bytes, 253952);
	/* and never below 16 KiB a group: 1 s at 100 kbit/s */
	b = plan((struct enc_buffer_request){ .ms = 1000, .bitrate = 100000, .container = true }, 0, 0);
	check_int_eq(b.group_bytes, 16384);
	check(enc_buffer_seconds(&b) > 1.0);

	/* no bitrate (FWHT): the raw frames' rate, NV12 640x480 at 10 fps */
	{
		uint64_t raw = enc_raw_frame_bytes(dmapipe_fourcc_from_string("NV12"), 640, 480);

		check_msg(raw >= 640 * 480 * 3 / 2 && raw < 640 * 480 * 3 / 2 + 4096, "NV12 frame %llu",
			  (unsigned long long)raw);
		b = plan((struct enc_buffer_request){ .ms = 1000, .raw_frame_bytes = raw, .fps = 10 }, 0, 0);
		check(strcmp(b.basis, "raw") == 0);
		check_int_eq(b.peak_rate, raw * 10);
		check_int_eq(b.bytes, raw * 10);
		check_seconds(&b, 1.0);
	}
	/* without a format: 2 bytes a pixel */
	check_int_eq(enc_raw_frame_bytes(0, 640, 480), 640 * 480 * 2);
	check_int_eq(enc_raw_frame_bytes(0, 0, 0), 0);

	/* a bitrate wins over the raw rate */
	b = plan((struct enc_buffer_request){ .ms = 500, .bitrate = 1000000, .raw_frame_bytes = 1000000,
					      .fps = 30 }, 0, 0);
	check(strcmp(b.basis, "bitrate") == 0);

	/* --buffer-mb: never more than asked, three groups or more */
	for (uint32_t mb = 1; mb <= 64; mb *= 2) {
		b = plan((struct enc_buffer_request){ .mb = mb, .container = true }, 0, 0);
		check_msg(b.bytes <= (uint64_t)mb << 20 && b.bytes > ((uint64_t)mb << 20) - 3 * 4096 * 64,
			  "--buffer-mb %u: %llu bytes", mb, (unsigned long long)b.bytes);
		check(b.groups >= 3 && b.group_bytes <= UINT64_C(1) << 20);
		check_int_eq(enc_buffer_seconds(&b) == 0, 1); /* no rate known */
		b = plan((struct enc_buffer_request){ .mb = mb }, 0, 0);
		check_int_eq(b.bytes, (uint64_t)mb << 20);
	}
	/* --buffer-mb with a bitrate: the seconds it absorbs are reported */
	b = plan((struct enc_buffer_request){ .mb = 8, .bitrate = 8000000 }, 0, 0);
	check_msg(fabs(enc_buffer_seconds(&b) - 8388608.0 / 2000000.0) < 1e-9, "%f",
		  enc_buffer_seconds(&b));

	/* the defaults, as before: 4 groups of 1 MiB, or an 8 MiB queue */
	b = plan((struct enc_buffer_request){ .container = true, .bitrate = 12000000 }, 0, 0);
	check(!b.asked);
	check_int_eq(b.groups, 4);
	check_int_eq(b.bytes, 4 << 20);
	check_int_eq(b.data_bytes, 3 << 20);
	b = plan((struct enc_buffer_request){ 0 }, 0, 0);
	check_int_eq(b.bytes, 8 << 20);
	check(!b.basis && enc_buffer_seconds(&b) == 0);
	test_pass("encode-buffer: durations at the bitrate or the raw rate, sizes, defaults");

	/* refused: a duration without a rate, and a buffer over the limit */
	plan((struct enc_buffer_request){ .ms = 2000, .container = true }, 0, -EINVAL);
	plan((struct enc_buffer_request){ .ms = 2000, .raw_frame_bytes = 1000 }, 0, -EINVAL);
	plan((struct enc_buffer_request){ .ms = 60000, .bitrate = 4000000000u }, UINT64_C(1) << 30,
	     -ERANGE);
	plan((struct enc_buffer_request){ .mb = 2048, .container = true }, UINT64_C(1) << 30, -ERANGE);
	plan((struct enc_buffer_request){ .mb = 1024 }, UINT64_C(1) << 30, 0);
	test_pass("encode-buffer: a duration without a rate and a buffer over the limit refused");
	return 0;
}
