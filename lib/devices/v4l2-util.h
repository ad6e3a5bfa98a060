/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The V4L2 plumbing every V4L2 user of devices/ calls (capture source,
 * encoder, discovery, device watch): ioctls, format enumeration, the two
 * forms of struct v4l2_format, buffer requests and exports, and V4L2
 * formats as dmapipe layouts. No V4L2 ioctl sequence is written anywhere
 * else. Not installed, not exported.
 */
#ifndef DMAPIPE_V4L2_UTIL_H
#define DMAPIPE_V4L2_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/videodev2.h>

#include "private.h"
#include "dmapipe/device.h"

/*
 * An open V4L2 node: its fd, and whether its ioctls go through libv4l2
 * (only the capture source's single-planar devices do; see capture.c).
 * The fd belongs to whoever opened it.
 */
struct dmapipe_v4l2_node {
	int fd;
	bool libv4l2;
};

/* ---- ioctls --------------------------------------------------------- */

/* An ioctl on @node (through libv4l2 when it says so), retried on EINTR: 0 or -errno. */
int dmapipe_v4l2_ioctl(const struct dmapipe_v4l2_node *node, unsigned long request, void *arg);

/* A V4L2 fourcc as its four characters, or 0x%08x if they do not print. */
const char *dmapipe_v4l2_fcc(uint32_t code, char buf[16]);

/*
 * VIDIOC_QUERYCAP on @fd (the kernel's ioctl: libv4l2 would print its own
 * error for a non-V4L2 fd). Fills @cap and *@caps, the capabilities of this
 * node (device_caps when the driver gives them). 0 or -errno.
 */
int dmapipe_v4l2_querycap(int fd, struct v4l2_capability *cap, uint32_t *caps);

/* True for V4L2_BUF_TYPE_VIDEO_OUTPUT and its multi-planar form. */
bool dmapipe_v4l2_is_output_type(uint32_t type);

/* ---- formats (VIDIOC_ENUM_FMT, VIDIOC_ENUM_FRAMESIZES) --------------- */

/* Does queue @type of @node list @pixelformat? */
bool dmapipe_v4l2_offers(const struct dmapipe_v4l2_node *node, uint32_t type,
			 uint32_t pixelformat);

/*
 * The formats queue @type of @node lists, for an error message: "NV12
 * (NV12), YUYV (YUYV)", each the DRM name with the V4L2 code, or "FWHT
 * (no DRM equivalent)". Cut at @len; "" when it lists none.
 */
void dmapipe_v4l2_describe_formats(const struct dmapipe_v4l2_node *node, uint32_t type, char *buf,
				   size_t len);

/* The frame sizes of @pixelformat, summarised (type 0 when not enumerated). */
void dmapipe_v4l2_frame_sizes(const struct dmapipe_v4l2_node *node, uint32_t pixelformat,
			      struct dmapipe_frame_sizes *sizes);

/*
 * Every format of queue @type with its frame sizes, in a new array the
 * caller frees (*@out, NULL when none). Returns the count, or -errno when
 * the enumeration failed before the first format.
 */
int dmapipe_v4l2_formats_new(const struct dmapipe_v4l2_node *node, uint32_t type,
			     struct dmapipe_v4l2_format **out);

/* ---- struct v4l2_format, single- or multi-planar ------------------------ */

/* What both forms carry, read from the one @fmt->type uses. */
struct dmapipe_v4l2_pix {
	uint32_t pixelformat, width, height, field;
	uint32_t bytesperline, sizeimage; /* of the first plane */
	unsigned int num_planes;          /* 1 in the single-planar form */
};

void dmapipe_v4l2_format_read(const struct v4l2_format *fmt, struct dmapipe_v4l2_pix *pix);

/*
 * What FORMAT_INFO says of @fmt: its colorimetry with the driver's
 * "default" values resolved as videodev2.h's V4L2_MAP_*_DEFAULT do, and
 * its field order. @info is set wholly (the rate unknown: the caller knows
 * it from VIDIOC_G_PARM); a value with no dmapipe equivalent stays unknown.
 */
void dmapipe_v4l2_format_info_read(const struct v4l2_format *fmt,
				   struct dmapipe_format_info *info);

/*
 * Sets @fmt (type already set) to @pixelformat @width x @height,
 * progressive, with the bytes per line of the first @n planes from
 * @bytesperline (0 or NULL: the driver's choice) and no sizeimage (the
 * driver computes it). The multi-planar form gets the plane count of the
 * V4L2 format when dmapipe knows it. Other fields (colorimetry) are kept.
 */
void dmapipe_v4l2_format_write(struct v4l2_format *fmt, uint32_t pixelformat, uint32_t width,
			       uint32_t height, const uint32_t *bytesperline, unsigned int n);

/* Sets the colorimetry fields (V4L2_COLORSPACE_* ...; 0: the driver's default). */
void dmapipe_v4l2_format_set_colorimetry(struct v4l2_format *fmt, uint32_t colorspace,
					 uint32_t xfer_func, uint32_t ycbcr_enc,
					 uint32_t quantization);

/*
 * The layout of a V4L2 raw format (what a device computes: strides from
 * bytesperline, planes one after another in a single-buffer format, one
 * object per plane in an "M" format; objects[].size = sizeimage, fds -1).
 * Returns 0, -ENOTSUP (no DRM equivalent) or -EPROTO (inconsistent), with
 * the reason in @why when it is not NULL.
 */
int dmapipe_v4l2_layout_from_format(const struct v4l2_format *fmt, struct dmapipe_layout *layout,
				    char *why, size_t len);

/* ---- buffers --------------------------------------------------------- */

/*
 * VIDIOC_REQBUFS with count 0 for MMAP: frees nothing another file handle
 * owns and gives the queue's V4L2_BUF_CAP_* in *@caps (kernel 4.20 and
 * later). 0 or -errno (-EBUSY: the queue streams elsewhere).
 */
int dmapipe_v4l2_queue_caps(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t *caps);

/*
 * VIDIOC_REQBUFS: @count buffers of @memory on queue @type. Returns the
 * count the driver gave (at least 1), -ENOMEM when it gave none, or -errno.
 * With @count 0 it frees the queue's buffers and returns 0 or -errno.
 */
int dmapipe_v4l2_request(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t memory,
			 uint32_t count);

/*
 * VIDIOC_CREATE_BUFS: one more buffer of @memory on queue @type, for the
 * queue's current format. Returns its index, or -errno.
 */
int dmapipe_v4l2_create_buffer(const struct dmapipe_v4l2_node *node, uint32_t type,
			       uint32_t memory);

/*
 * Zeroes @b and @planes (VIDEO_MAX_PLANES of them) and sets type, memory
 * and index; a multi-planar @type points @b at @planes, @n_planes long.
 */
void dmapipe_v4l2_buffer_init(struct v4l2_buffer *b, struct v4l2_plane *planes, uint32_t type,
			      uint32_t memory, uint32_t index, unsigned int n_planes);

/*
 * VIDIOC_EXPBUF of plane @plane of MMAP buffer @index with @flags
 * (O_CLOEXEC | O_RDWR, say). Returns a new dma-buf fd the caller owns, or
 * -errno.
 */
int dmapipe_v4l2_export(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t index,
			uint32_t plane, uint32_t flags);

/*
 * VIDIOC_QUERYBUF of MMAP buffer @index, then mmap() of its first
 * @n_planes planes with @prot: maps[] and lens[] get them (the caller
 * unmaps, also after a failure: what was mapped is set). 0 or -errno.
 */
int dmapipe_v4l2_map_buffer(const struct dmapipe_v4l2_node *node, uint32_t type, uint32_t index,
			    unsigned int n_planes, int prot, void **maps, size_t *lens);

/* VIDIOC_STREAMON (@on) or VIDIOC_STREAMOFF on queue @type: 0 or -errno. */
int dmapipe_v4l2_stream(const struct dmapipe_v4l2_node *node, uint32_t type, bool on);

#endif /* DMAPIPE_V4L2_UTIL_H */
