/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The deterministic test pattern. docs/PATTERN.md is the specification; a
 * kernel driver and a GStreamer element reproduce it from that page, so any
 * change here is a change of the specification.
 *
 * Byte x of row y of plane p of frame seq is (x + 3y + 7seq + 101p) mod 256,
 * except the 16-byte stamp at the start of plane 0. Row y is therefore row 0
 * shifted in value by 3y: every row is a window of one "ramp" 0,1,...,255,
 * 0,1,... and drawing is one memcpy per row, checking one memcmp per row, at
 * memory bandwidth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define STAMP_BYTES 16

struct plane_geometry {
	uint64_t rowbytes; /* bytes of pixel data per row */
	uint32_t rows;
};

struct pattern_geometry {
	unsigned int n_planes;
	struct plane_geometry planes[DMAPIPE_MAX_PLANES];
};

/* The rows and bytes per row of each plane, from the format table in format.c. */
static int pattern_geometry(const struct dmapipe_layout *layout, struct pattern_geometry *geo)
{
	const struct dmapipe_format *format = &layout->format;
	unsigned int p, n;

	if (format->modifier != DMAPIPE_MOD_LINEAR)
		return -EINVAL;
	if (format->width == 0 || format->height == 0)
		return -EINVAL;
	n = dmapipe_format_plane_count(format->fourcc);
	if (n == 0 || n > DMAPIPE_MAX_PLANES || n != layout->n_planes)
		return -EINVAL;

	geo->n_planes = n;
	for (p = 0; p < n; p++) {
		struct plane_geometry *g = &geo->planes[p];

		if (dmapipe_format_plane_geometry(format->fourcc, format->width,
						  format->height, p, &g->rowbytes,
						  &g->rows) < 0)
			return -EINVAL;
		/* the caller's rows must have room for the pixel data */
		if (g->rowbytes == 0 || g->rows == 0 || layout->planes[p].stride < g->rowbytes)
			return -EINVAL;
	}
	return 0;
}

/*
 * 256 + @rowbytes bytes of 0, 1, ..., 255, 0, 1, ...: row y of plane p is
 * the window starting at (3y + 7seq + 101p) mod 256.
 */
static uint8_t *ramp_new(uint64_t rowbytes)
{
	uint8_t *ramp;
	uint64_t i;

	if (rowbytes > SIZE_MAX - 256)
		return NULL;
	ramp = malloc((size_t)rowbytes + 256);
	if (!ramp)
		return NULL;
	for (i = 0; i < rowbytes + 256; i++)
		ramp[i] = (uint8_t)i;
	return ramp;
}

static uint64_t max_rowbytes(const struct pattern_geometry *geo)
{
	uint64_t max = 0;
	unsigned int p;

	for (p = 0; p < geo->n_planes; p++)
		max = MAX(max, geo->planes[p].rowbytes);
	return max;
}

/* The start of row y of plane p in the ramp, mod 256. */
static unsigned int row_phase(unsigned int plane, uint32_t y, uint64_t sequence)
{
	return (unsigned int)((3u * (uint64_t)y + 7u * sequence + 101u * plane) & 255u);
}

static void stamp_encode(uint8_t stamp[STAMP_BYTES], uint64_t sequence)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		stamp[i] = (uint8_t)(sequence >> (8 * i));
		stamp[8 + i] = (uint8_t)(~sequence >> (8 * i));
	}
}

static uint64_t le64_read(const uint8_t *p)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * What drawing and checking both start with: the arguments checked, the
 * geometry of every plane in @geo and, in *ramp, a ramp long enough for the
 * longest row (the caller frees it). Returns 0, -EINVAL or -ENOMEM.
 */
static int pattern_begin(const struct dmapipe_layout *layout, uint8_t *const planes[],
			 struct pattern_geometry *geo, uint8_t **ramp)
{
	int ret;

	if (!layout || !planes)
		return -EINVAL;
	ret = pattern_geometry(layout, geo);
	if (ret < 0)
		return ret;
	for (unsigned int p = 0; p < geo->n_planes; p++)
		if (!planes[p])
			return -EINVAL;
	*ramp = ramp_new(max_rowbytes(geo));
	return *ramp ? 0 : -ENOMEM;
}

DMAPIPE_EXPORT int dmapipe_pattern_draw(const struct dmapipe_layout *layout,
					uint8_t *const planes[], uint64_t sequence)
{
	struct pattern_geometry geo;
	uint8_t *ramp;
	unsigned int p;
	int ret;

	ret = pattern_begin(layout, planes, &geo, &ramp);
	if (ret < 0)
		return ret;

	for (p = 0; p < geo.n_planes; p++) {
		const struct plane_geometry *g = &geo.planes[p];
		size_t stride = layout->planes[p].stride;
		uint8_t *row = planes[p];
		uint32_t y;

		for (y = 0; y < g->rows; y++, row += stride)
			memcpy(row, ramp + row_phase(p, y, sequence), (size_t)g->rowbytes);
	}
	if (geo.planes[0].rowbytes >= STAMP_BYTES)
		stamp_encode(planes[0], sequence);

	free(ramp);
	return 0;
}

/* The first x in [0, len) where row differs from want. */
static uint64_t first_difference(const uint8_t *row, const uint8_t *want, uint64_t len)
{
	uint64_t x;

	for (x = 0; x < len; x++)
		if (row[x] != want[x])
			return x;
	return len;
}

DMAPIPE_EXPORT int dmapipe_pattern_check(const struct dmapipe_layout *layout,
					 uint8_t *const planes[], uint64_t sequence,
					 unsigned int *bad_plane, uint64_t *bad_offset)
{
	struct pattern_geometry geo;
	uint8_t stamp[STAMP_BYTES];
	uint8_t *ramp;
	unsigned int p;
	int ret;

	ret = pattern_begin(layout, planes, &geo, &ramp);
	if (ret < 0)
		return ret;
	stamp_encode(stamp, sequence);

	for (p = 0; p < geo.n_planes; p++) {
		const struct plane_geometry *g = &geo.planes[p];
		size_t stride = layout->planes[p].stride;
		const uint8_t *row = planes[p];
		uint32_t y;

		for (y = 0; y < g->rows; y++, row += stride) {
			const uint8_t *want = ramp + row_phase(p, y, sequence);
			uint64_t skip = 0, x;

			/* the stamp replaces the first 16 bytes of plane 0's row 0 */
			if (p == 0 && y == 0 && g->rowbytes >= STAMP_BYTES) {
				x = first_difference(row, stamp, STAMP_BYTES);
				if (x < STAMP_BYTES)
					goto mismatch;
				skip = STAMP_BYTES;
			}
			if (memcmp(row + skip, want + skip, (size_t)(g->rowbytes - skip)) == 0)
				continue;
			x = skip + first_difference(row + skip, want + skip, g->rowbytes - skip);
mismatch:
			if (bad_plane)
				*bad_plane = p;
			if (bad_offset)
				*bad_offset = (uint64_t)y * stride + x;
			free(ramp);
			return -EILSEQ;
		}
	}

	free(ramp);
	return 0;
}

DMAPIPE_EXPORT int dmapipe_pattern_read_stamp(const struct dmapipe_layout *layout,
					      uint8_t *const planes[], uint64_t *sequence)
{
	struct pattern_geometry geo;
	uint64_t seq, inv;
	int ret;

	if (!layout || !planes || !planes[0] || !sequence)
		return -EINVAL;
	ret = pattern_geometry(layout, &geo);
	if (ret < 0)
		return ret;
	if (geo.planes[0].rowbytes < STAMP_BYTES)
		return -EINVAL;

	seq = le64_read(planes[0]);
	inv = le64_read(planes[0] + 8);
	if (seq != ~inv)
		return -EILSEQ;
	*sequence = seq;
	return 0;
}

/*
 * Maps every plane of @buffer into @planes and begins CPU @access; the
 * caller ends it.
 */
static int begin_access(struct dmapipe_buffer *buffer, uint8_t *planes[DMAPIPE_MAX_PLANES],
			enum dmapipe_access access)
{
	const struct dmapipe_layout *layout = dmapipe_buffer_get_layout(buffer);
	unsigned int p;

	if (!layout || layout->n_planes == 0 || layout->n_planes > DMAPIPE_MAX_PLANES)
		return -EINVAL;
	for (p = 0; p < DMAPIPE_MAX_PLANES; p++)
		planes[p] = NULL;
	for (p = 0; p < layout->n_planes; p++) {
		planes[p] = dmapipe_buffer_map_plane(buffer, p);
		if (!planes[p])
			return errno ? -errno : -ENOMEM;
	}
	return dmapipe_buffer_begin_cpu_access(buffer, access);
}

DMAPIPE_EXPORT int dmapipe_buffer_draw_pattern(struct dmapipe_buffer *buffer, uint64_t sequence)
{
	uint8_t *planes[DMAPIPE_MAX_PLANES];
	int ret, end;

	ret = begin_access(buffer, planes, DMAPIPE_ACCESS_WRITE);
	if (ret < 0)
		return ret;
	ret = dmapipe_pattern_draw(dmapipe_buffer_get_layout(buffer), planes, sequence);
	end = dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_WRITE);
	return ret < 0 ? ret : end;
}

DMAPIPE_EXPORT int dmapipe_buffer_check_pattern(struct dmapipe_buffer *buffer, uint64_t sequence)
{
	uint8_t *planes[DMAPIPE_MAX_PLANES];
	unsigned int bad_plane = 0;
	uint64_t bad_offset = 0;
	int ret, end;

	ret = begin_access(buffer, planes, DMAPIPE_ACCESS_READ);
	if (ret < 0)
		return ret;
	ret = dmapipe_pattern_check(dmapipe_buffer_get_layout(buffer), planes, sequence,
				    &bad_plane, &bad_offset);
	end = dmapipe_buffer_end_cpu_access(buffer, DMAPIPE_ACCESS_READ);
	if (ret == -EILSEQ)
		log_debug("pattern: frame %llu differs at plane %u offset %llu",
			  (unsigned long long)sequence, bad_plane,
			  (unsigned long long)bad_offset);
	return ret < 0 ? ret : end;
}
