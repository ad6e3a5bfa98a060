/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Frame formats and buffer layouts, named with DRM fourcc codes and
 * modifiers (see drm_fourcc.h).
 */
#ifndef DMAPIPE_FORMAT_H
#define DMAPIPE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMAPIPE_MAX_OBJECTS 4
#define DMAPIPE_MAX_PLANES 4

/** Linear layout: DRM_FORMAT_MOD_LINEAR. */
#define DMAPIPE_MOD_LINEAR UINT64_C(0)
/** DRM_FORMAT_MOD_INVALID: "implicit modifier, ask the driver". */
#define DMAPIPE_MOD_INVALID UINT64_C(0x00ffffffffffffff)

/** What kind of memory an fd refers to. */
enum dmapipe_mem_kind {
	DMAPIPE_MEM_NONE = 0,
	/** A dma-buf: devices can DMA from and to it. */
	DMAPIPE_MEM_DMABUF = 1,
	/**
	 * A memfd sealed against shrinking: shareable between processes, NOT a
	 * dma-buf. The fallback for machines with no dma-buf provider; always
	 * reported as such.
	 */
	DMAPIPE_MEM_MEMFD = 2,
};

/** The frame format: what the pixels mean. */
struct dmapipe_format {
	uint32_t fourcc; /**< DRM_FORMAT_* */
	uint32_t width;
	uint32_t height;
	uint32_t reserved;
	uint64_t modifier; /**< DRM_FORMAT_MOD_*; DMAPIPE_MOD_LINEAR for CPU-drawn frames */
};

/** One memory object of a buffer. */
struct dmapipe_object {
	int fd;        /**< owned by whoever owns the layout */
	uint32_t kind; /**< enum dmapipe_mem_kind */
	uint64_t size; /**< bytes; for a dma-buf, lseek(fd, 0, SEEK_END) */
};

/** One plane: where its pixels live. */
struct dmapipe_plane {
	uint32_t object; /**< index into objects[] */
	uint32_t stride; /**< bytes per row */
	uint64_t offset; /**< byte offset of the plane in its object */
};

/**
 * Where a buffer's pixels are: the format plus up to 4 memory objects and up
 * to 4 planes. This carries what PipeWire's spa_data, libcamera's
 * FrameBuffer planes, FFmpeg's AVDRMFrameDescriptor and GstVideoMeta carry.
 */
struct dmapipe_layout {
	struct dmapipe_format format;
	uint32_t n_objects;
	uint32_t n_planes;
	struct dmapipe_object objects[DMAPIPE_MAX_OBJECTS];
	struct dmapipe_plane planes[DMAPIPE_MAX_PLANES];
};

/**
 * Returns the DRM fourcc for a name like "NV12", "YUYV", "XR24" (the fourcc
 * itself), "XRGB8888" (the drm_fourcc.h name without DRM_FORMAT_), or any
 * other name dmapipe_fourcc_from_name() takes; 0 if unknown or ambiguous.
 * Since 0.1.
 */
uint32_t dmapipe_fourcc_from_string(const char *name);

/**
 * Writes a printable name of @fourcc ("NV12") into the caller's @buf of
 * @len bytes (16 hold every name), always terminated, and returns @buf.
 * Unknown codes print as their four characters or as hex. Since 0.1.
 */
const char *dmapipe_fourcc_to_string(uint32_t fourcc, char *buf, size_t len);

/**
 * The DRM fourcc of a V4L2 pixel format (V4L2_PIX_FMT_*), or 0 when the
 * library knows no DRM equivalent. @n_objects, if not NULL, is set to the
 * number of buffers a frame of that V4L2 format is spread over: 1 for the
 * contiguous formats (NV12), one per plane for the "M" formats (NV12M).
 * Since 0.1.
 */
uint32_t dmapipe_fourcc_from_v4l2(uint32_t pixelformat, unsigned int *n_objects);

/**
 * The V4L2 pixel format of DRM fourcc @fourcc: its contiguous form, or with
 * @separate_objects its one-buffer-per-plane ("M") form. 0 if there is none.
 * Since 0.1.
 */
uint32_t dmapipe_fourcc_to_v4l2(uint32_t fourcc, bool separate_objects);

/** True if the library knows the plane geometry of @fourcc. Since 0.1. */
bool dmapipe_fourcc_is_supported(uint32_t fourcc);

/**
 * Fills @layout with a single-object linear layout of @format: plane strides
 * aligned to @stride_align bytes (a power of two; 0 means 64), planes packed
 * one after another, objects[0].size the total rounded up to the page size
 * and objects[0].fd = -1. Returns 0, -EINVAL for an unsupported fourcc or
 * modifier, or -EOVERFLOW for dimensions whose size overflows. Since 0.1.
 */
int dmapipe_layout_init(struct dmapipe_layout *layout,
			const struct dmapipe_format *format,
			uint32_t stride_align);

/**
 * Checks a layout received from elsewhere before anything is mapped: counts
 * in range, each plane in an existing object, stride at least the plane's
 * row size, offset + stride * rows within the object's size, no arithmetic
 * overflow. On failure returns a negative errno and, if @why is not NULL,
 * points it at a static description of the first problem found. Since 0.1.
 */
int dmapipe_layout_check(const struct dmapipe_layout *layout, const char **why);

/**
 * The number of bytes a frame of @layout's format occupies in plane @plane
 * (stride * rows), or 0 for NULL, a plane out of range or an unknown
 * format. Since 0.1.
 */
uint64_t dmapipe_layout_plane_size(const struct dmapipe_layout *layout,
				   unsigned int plane);

/**
 * "dma-buf", "memfd (not a dma-buf)", "none" or "unknown": static strings,
 * never freed. Since 0.1.
 */
const char *dmapipe_mem_kind_to_string(enum dmapipe_mem_kind kind);

/**
 * Reads a format name as people write it in any of the places that name
 * formats, and says which DRM fourcc it is: the drm_fourcc.h name
 * ("XRGB8888") or the DRM code ("XR24"); the V4L2 code ("RGB3", "YU12",
 * "NM12"); GStreamer's name ("BGRx", "I420"); a few others ("IYUV",
 * "GRAY"). Case does not matter except for GStreamer's mixed-case names
 * (its BGRx and xRGB are different formats). On success sets *@fourcc and
 * returns 0. Otherwise returns -ENOENT (no format has that name) or
 * -EINVAL (the name means different formats in different places, or
 * @name or @fourcc is NULL), and writes why into @why (@why_len bytes,
 * always terminated; NULL or 0: nothing written): the formats an
 * ambiguous name stands for, or the names an unknown one resembles.
 * Since 0.1.
 */
int dmapipe_fourcc_from_name(const char *name, uint32_t *fourcc, char *why, size_t why_len);

/**
 * What the library knows of one pixel format: its names where formats are
 * named differently, and its planes. The library owns every description
 * (they are never freed, never to be allocated by the caller: fields may be
 * appended in later versions).
 */
struct dmapipe_format_desc {
	uint32_t fourcc;         /**< DRM fourcc */
	const char *name;        /**< drm_fourcc.h name without DRM_FORMAT_ ("XRGB8888") */
	uint32_t v4l2;           /**< V4L2 pixel format, planes in one buffer; 0: none */
	uint32_t v4l2_mplane;    /**< V4L2 "M" format, one buffer per plane; 0: none */
	const char *gst_name;    /**< GStreamer's name ("BGRx"); NULL: none */
	uint32_t n_planes;
	uint32_t hsub;           /**< luma columns per chroma column: 2 for 4:2:0 and 4:2:2 */
	uint32_t vsub;           /**< luma rows per chroma row: 2 for 4:2:0 */
	uint32_t bits_per_pixel; /**< all planes together: NV12 12, YUYV 16, XRGB8888 32 */
	/**
	 * a frame's width must be a multiple of this for every plane to hold
	 * whole samples: 2 for NV12 and YUYV, 1 for XRGB8888
	 */
	uint32_t width_multiple;
	uint32_t height_multiple; /**< the same for the height: 2 for 4:2:0 */
};

/**
 * The description of the @index-th format the library knows (0, 1, ...;
 * every one of them dmapipe_fourcc_is_supported()), or NULL past the last:
 * for listing them. Since 0.1.
 */
const struct dmapipe_format_desc *dmapipe_format_desc_get(unsigned int index);

/** The description of @fourcc, or NULL for a format the library does not know. Since 0.1. */
const struct dmapipe_format_desc *dmapipe_format_desc_find(uint32_t fourcc);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_FORMAT_H */
