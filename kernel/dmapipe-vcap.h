/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dmapipe_vcap: a V4L2 virtual capture device whose frames are the dmapipe
 * test pattern (docs/PATTERN.md). Shared between the device
 * (dmapipe-vcap.c) and the pattern generator (dmapipe-vcap-pattern.c).
 */
#ifndef DMAPIPE_VCAP_H
#define DMAPIPE_VCAP_H

#include <linux/types.h>
#include <linux/version.h>

/*
 * True when building for kernel a.b.c or later: the module builds out of
 * tree for every installed kernel (6.1 and 6.12 at least), and the
 * videobuf2, driver core and module APIs changed in between.
 */
#define VCAP_KERNEL_GE(a, b, c) \
	(KERNEL_VERSION(LINUX_VERSION_MAJOR, LINUX_VERSION_PATCHLEVEL, LINUX_VERSION_SUBLEVEL) >= \
	 KERNEL_VERSION(a, b, c))

#define VCAP_MAX_PLANES		3

/* Frame sizes: at least 16 bytes per row of plane 0, so every frame has a stamp. */
#define VCAP_MIN_WIDTH		16
#define VCAP_MIN_HEIGHT		16
#define VCAP_MAX_WIDTH		4096
#define VCAP_MAX_HEIGHT		4096
/* the widest row of any plane: 4 bytes per pixel (XRGB, P010 chroma) */
#define VCAP_MAX_ROWBYTES	(VCAP_MAX_WIDTH * 4)

/**
 * struct vcap_format - a pixel format and its plane geometry
 * @fourcc: V4L2_PIX_FMT_* (single-planar API: all planes in one buffer)
 * @n_planes: planes, in memory order
 * @block_w: pixels per block of plane 0 (2 for packed 4:2:2, else 1)
 * @hsub: horizontal chroma subsampling of planes 1 and 2
 * @vsub: vertical chroma subsampling of planes 1 and 2
 * @bpb: bytes per block of each plane
 *
 * This is the table of docs/PATTERN.md ("Plane geometry"), keyed by the
 * V4L2 code of each format. The stride of plane p >= 1 follows from
 * bytesperline as the V4L2 single-planar formats define it:
 * bytesperline * bpb[p] / (bpb[0] * hsub).
 */
struct vcap_format {
	u32 fourcc;
	u8 n_planes;
	u8 block_w;
	u8 hsub;
	u8 vsub;
	u8 bpb[VCAP_MAX_PLANES];
};

/**
 * struct vcap_plane - where one plane lies in a frame buffer
 * @offset: byte offset of the plane's first row in the buffer
 * @stride: bytes from one row to the next
 * @rowbytes: bytes of pattern per row (the rest of the stride is padding)
 * @rows: number of rows
 */
struct vcap_plane {
	u32 offset;
	u32 stride;
	u32 rowbytes;
	u32 rows;
};

/**
 * struct vcap_geometry - the layout of one frame
 * @n_planes: planes in use
 * @planes: the planes, in memory order
 * @sizeimage: bytes of the whole frame
 */
struct vcap_geometry {
	unsigned int n_planes;
	struct vcap_plane planes[VCAP_MAX_PLANES];
	u32 sizeimage;
};

unsigned int vcap_format_count(void);
const struct vcap_format *vcap_format_by_index(unsigned int index);
const struct vcap_format *vcap_format_find(u32 fourcc);

/* Width and height steps of @fmt: sizes are multiples of these. */
u32 vcap_format_width_step(const struct vcap_format *fmt);
u32 vcap_format_height_step(const struct vcap_format *fmt);

/*
 * Rounds *width and *height to a valid size of @fmt, picks a stride of at
 * least *bytesperline (0: the smallest) and fills @geo.
 */
void vcap_geometry_init(const struct vcap_format *fmt, u32 *width, u32 *height,
			u32 *bytesperline, struct vcap_geometry *geo);

void vcap_pattern_init(void);

/* Draws frame @seq of the pattern into @frame, padding untouched. */
void vcap_pattern_draw(u8 *frame, const struct vcap_geometry *geo, u64 seq);

/* Writes only the 16-byte stamp of frame @seq (the "Stamp Only" pattern). */
void vcap_pattern_stamp(u8 *frame, const struct vcap_geometry *geo, u64 seq);

#endif /* DMAPIPE_VCAP_H */
