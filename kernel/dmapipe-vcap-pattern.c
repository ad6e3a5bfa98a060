// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dmapipe test pattern, drawn in the kernel. docs/PATTERN.md is the
 * specification; lib/pattern.c checks what this draws, bit for bit.
 *
 * Byte x of row y of plane p of frame seq is (x + 3y + 7seq + 101p) mod 256,
 * except the 16-byte stamp (seq, ~seq as little-endian u64) at the start of
 * plane 0. Every row is therefore a window of one ramp 0, 1, ..., 255, 0, ...
 * and drawing a row is one memcpy.
 */
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/videodev2.h>

#include "dmapipe-vcap.h"

#if VCAP_KERNEL_GE(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#define STAMP_BYTES	16

/*
 * Keyed by V4L2 code; the geometry is the one of the DRM format with the
 * same memory layout (docs/PATTERN.md): YUYV..VYUY, NV12..NV42, P010 and
 * YU12/YV12 carry the same code in both; 422P is DRM YU16, XR24 is XRGB8888,
 * BX24 is BGRX8888, BGR3 is RGB888, RGB3 is BGR888, RGBP is RGB565, GREY is
 * R8 and Y16 is R16. The first entry is the fallback of TRY_FMT.
 */
static const struct vcap_format vcap_formats[] = {
	{ V4L2_PIX_FMT_YUYV,    1, 2, 1, 1, { 4 } },
	{ V4L2_PIX_FMT_YVYU,    1, 2, 1, 1, { 4 } },
	{ V4L2_PIX_FMT_UYVY,    1, 2, 1, 1, { 4 } },
	{ V4L2_PIX_FMT_VYUY,    1, 2, 1, 1, { 4 } },
	{ V4L2_PIX_FMT_NV12,    2, 1, 2, 2, { 1, 2 } },
	{ V4L2_PIX_FMT_NV21,    2, 1, 2, 2, { 1, 2 } },
	{ V4L2_PIX_FMT_NV16,    2, 1, 2, 1, { 1, 2 } },
	{ V4L2_PIX_FMT_NV61,    2, 1, 2, 1, { 1, 2 } },
	{ V4L2_PIX_FMT_NV24,    2, 1, 1, 1, { 1, 2 } },
	{ V4L2_PIX_FMT_NV42,    2, 1, 1, 1, { 1, 2 } },
	{ V4L2_PIX_FMT_P010,    2, 1, 2, 2, { 2, 4 } },
	{ V4L2_PIX_FMT_YUV420,  3, 1, 2, 2, { 1, 1, 1 } },
	{ V4L2_PIX_FMT_YVU420,  3, 1, 2, 2, { 1, 1, 1 } },
	{ V4L2_PIX_FMT_YUV422P, 3, 1, 2, 1, { 1, 1, 1 } },
	{ V4L2_PIX_FMT_XBGR32,  1, 1, 1, 1, { 4 } },
	{ V4L2_PIX_FMT_XRGB32,  1, 1, 1, 1, { 4 } },
	{ V4L2_PIX_FMT_BGR24,   1, 1, 1, 1, { 3 } },
	{ V4L2_PIX_FMT_RGB24,   1, 1, 1, 1, { 3 } },
	{ V4L2_PIX_FMT_RGB565,  1, 1, 1, 1, { 2 } },
	{ V4L2_PIX_FMT_GREY,    1, 1, 1, 1, { 1 } },
	{ V4L2_PIX_FMT_Y16,     1, 1, 1, 1, { 2 } },
};

/* ramp[i] = i mod 256: row y of plane p is the window at (3y + 7seq + 101p) mod 256 */
static u8 vcap_ramp[256 + VCAP_MAX_ROWBYTES] __ro_after_init;

unsigned int vcap_format_count(void)
{
	return ARRAY_SIZE(vcap_formats);
}

const struct vcap_format *vcap_format_by_index(unsigned int index)
{
	return index < ARRAY_SIZE(vcap_formats) ? &vcap_formats[index] : NULL;
}

const struct vcap_format *vcap_format_find(u32 fourcc)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vcap_formats); i++)
		if (vcap_formats[i].fourcc == fourcc)
			return &vcap_formats[i];
	return NULL;
}

u32 vcap_format_width_step(const struct vcap_format *fmt)
{
	return max(fmt->block_w, fmt->hsub);
}

u32 vcap_format_height_step(const struct vcap_format *fmt)
{
	return fmt->vsub;
}

void vcap_geometry_init(const struct vcap_format *fmt, u32 *width, u32 *height,
			u32 *bytesperline, struct vcap_geometry *geo)
{
	u32 w = clamp(*width, (u32)VCAP_MIN_WIDTH, (u32)VCAP_MAX_WIDTH);
	u32 h = clamp(*height, (u32)VCAP_MIN_HEIGHT, (u32)VCAP_MAX_HEIGHT);
	u32 stride_align, stride, offset = 0;
	unsigned int p;

	/* the limits are multiples of every step */
	w = ALIGN(w, vcap_format_width_step(fmt));
	h = ALIGN(h, vcap_format_height_step(fmt));

	memset(geo, 0, sizeof(*geo));
	geo->n_planes = fmt->n_planes;
	for (p = 0; p < fmt->n_planes; p++) {
		struct vcap_plane *pl = &geo->planes[p];
		u32 pw = p ? DIV_ROUND_UP(w, fmt->hsub) : w;

		pl->rowbytes = DIV_ROUND_UP(pw, fmt->block_w) * fmt->bpb[p];
		pl->rows = p ? DIV_ROUND_UP(h, fmt->vsub) : h;
	}

	/*
	 * The chroma strides derive from bytesperline, so it must divide
	 * evenly; rowbytes of plane 0 always does, as w is a multiple of hsub.
	 */
	stride_align = fmt->n_planes > 1 ? fmt->bpb[0] * fmt->hsub : 1;
	stride = ALIGN(max(*bytesperline, geo->planes[0].rowbytes), stride_align);
	if (stride > VCAP_MAX_ROWBYTES)
		stride = max_t(u32, geo->planes[0].rowbytes, VCAP_MAX_ROWBYTES);

	for (p = 0; p < fmt->n_planes; p++) {
		struct vcap_plane *pl = &geo->planes[p];

		pl->stride = p ? stride * fmt->bpb[p] / (fmt->bpb[0] * fmt->hsub) : stride;
		pl->offset = offset;
		offset += pl->stride * pl->rows;
	}
	geo->sizeimage = offset;

	*width = w;
	*height = h;
	*bytesperline = stride;
}

void vcap_pattern_init(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vcap_ramp); i++)
		vcap_ramp[i] = (u8)i;
}

void vcap_pattern_stamp(u8 *frame, const struct vcap_geometry *geo, u64 seq)
{
	u8 *plane0 = frame + geo->planes[0].offset;

	if (geo->planes[0].rowbytes < STAMP_BYTES)
		return;
	put_unaligned_le64(seq, plane0);
	put_unaligned_le64(~seq, plane0 + 8);
}

void vcap_pattern_draw(u8 *frame, const struct vcap_geometry *geo, u64 seq)
{
	unsigned int p;

	for (p = 0; p < geo->n_planes; p++) {
		const struct vcap_plane *pl = &geo->planes[p];
		u8 *row = frame + pl->offset;
		u32 y;

		for (y = 0; y < pl->rows; y++, row += pl->stride) {
			u32 phase = (u32)((3 * (u64)y + 7 * seq + 101 * (u64)p) & 255);

			memcpy(row, vcap_ramp + phase, pl->rowbytes);
		}
		/* a 4K plane is several milliseconds of copying */
		cond_resched();
	}
	vcap_pattern_stamp(frame, geo, seq);
}
