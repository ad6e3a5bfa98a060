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

/** How the Y'CbCr values are derived from R'G'B' (GstVideoColorMatrix). */
enum dmapipe_color_matrix {
	DMAPIPE_MATRIX_UNKNOWN = 0,
	DMAPIPE_MATRIX_RGB = 1,       /**< identity: the values are R'G'B' */
	DMAPIPE_MATRIX_FCC = 2,
	DMAPIPE_MATRIX_BT709 = 3,
	DMAPIPE_MATRIX_BT601 = 4,
	DMAPIPE_MATRIX_SMPTE240M = 5,
	DMAPIPE_MATRIX_BT2020 = 6,
};

/** The transfer function (GstVideoTransferFunction's subset). */
enum dmapipe_color_transfer {
	DMAPIPE_TRANSFER_UNKNOWN = 0,
	DMAPIPE_TRANSFER_LINEAR = 1,
	DMAPIPE_TRANSFER_SRGB = 2,
	DMAPIPE_TRANSFER_BT709 = 3,
	DMAPIPE_TRANSFER_BT601 = 4,
	DMAPIPE_TRANSFER_SMPTE240M = 5,
	DMAPIPE_TRANSFER_BT2020_10 = 6,
	DMAPIPE_TRANSFER_BT2020_12 = 7,
	DMAPIPE_TRANSFER_SMPTE2084 = 8, /**< PQ */
	DMAPIPE_TRANSFER_ARIB_STD_B67 = 9, /**< HLG */
};

/** The colour primaries (GstVideoColorPrimaries's subset). */
enum dmapipe_color_primaries {
	DMAPIPE_PRIMARIES_UNKNOWN = 0,
	DMAPIPE_PRIMARIES_BT709 = 1,
	DMAPIPE_PRIMARIES_BT470M = 2,
	DMAPIPE_PRIMARIES_BT470BG = 3,  /**< BT.601 625 lines */
	DMAPIPE_PRIMARIES_SMPTE170M = 4, /**< BT.601 525 lines */
	DMAPIPE_PRIMARIES_SMPTE240M = 5,
	DMAPIPE_PRIMARIES_BT2020 = 6,
	DMAPIPE_PRIMARIES_SMPTERP431 = 7, /**< DCI-P3 */
	DMAPIPE_PRIMARIES_SMPTEEG432 = 8, /**< Display P3 */
};

/** Quantization range of the values. */
enum dmapipe_color_range {
	DMAPIPE_RANGE_UNKNOWN = 0,
	DMAPIPE_RANGE_FULL = 1,    /**< 0..255 for 8 bits */
	DMAPIPE_RANGE_LIMITED = 2, /**< 16..235 (luma) for 8 bits */
};

/** Where subsampled chroma samples sit relative to luma. */
enum dmapipe_chroma_site {
	DMAPIPE_CHROMA_SITE_UNKNOWN = 0,
	DMAPIPE_CHROMA_SITE_MPEG2 = 1, /**< horizontally cosited, vertically centred ("left") */
	DMAPIPE_CHROMA_SITE_JPEG = 2,  /**< centred both ways */
	DMAPIPE_CHROMA_SITE_COSITED = 3, /**< cosited both ways ("top-left", BT.2020) */
	DMAPIPE_CHROMA_SITE_DV = 4,    /**< cosited, alternating Cb/Cr lines */
};

/** How the frames hold fields. */
enum dmapipe_interlace {
	DMAPIPE_INTERLACE_UNKNOWN = 0,
	DMAPIPE_INTERLACE_PROGRESSIVE = 1,
	DMAPIPE_INTERLACE_INTERLEAVED = 2, /**< both fields in every frame, rows alternating */
	DMAPIPE_INTERLACE_MIXED = 3,       /**< some frames interlaced, some progressive */
	DMAPIPE_INTERLACE_ALTERNATE = 4,   /**< one field per frame */
};

/** Which field comes first in time. */
enum dmapipe_field_order {
	DMAPIPE_FIELD_ORDER_UNKNOWN = 0,
	DMAPIPE_FIELD_ORDER_TOP_FIRST = 1,
	DMAPIPE_FIELD_ORDER_BOTTOM_FIRST = 2,
};

/**
 * What a stream's frames mean beyond their pixel format: the nominal frame
 * rate, colorimetry, chroma siting, interlacing and pixel aspect ratio
 * (FORMAT_INFO, docs/PROTOCOL.md). Every field's zero means "unknown" but
 * the denominators, which are at least 1. Since 0.2.
 */
struct dmapipe_format_info {
	uint32_t fps_num;     /**< nominal frames per second as fps_num/fps_den; 0 = unknown or variable */
	uint32_t fps_den;     /**< >= 1 */
	uint32_t par_num;     /**< pixel aspect ratio par_num/par_den; 0 = unknown */
	uint32_t par_den;     /**< >= 1 */
	uint32_t matrix;      /**< enum dmapipe_color_matrix */
	uint32_t transfer;    /**< enum dmapipe_color_transfer */
	uint32_t primaries;   /**< enum dmapipe_color_primaries */
	uint32_t range;       /**< enum dmapipe_color_range */
	uint32_t chroma_site; /**< enum dmapipe_chroma_site */
	uint32_t interlace;   /**< enum dmapipe_interlace */
	uint32_t field_order; /**< enum dmapipe_field_order */
	uint32_t reserved[5]; /**< zero */
};

/**
 * Sets @info to "nothing known": rate 0/1, square pixels (1/1), every
 * other field unknown. Since 0.2.
 */
void dmapipe_format_info_init(struct dmapipe_format_info *info);

/**
 * Checks @info: denominators at least 1, every enum a value this library
 * knows, a field order only for interlaced content, reserved fields zero.
 * Returns 0 or -EINVAL with *@why (if not NULL) pointing at a static
 * description of the first problem. Since 0.2.
 */
int dmapipe_format_info_check(const struct dmapipe_format_info *info, const char **why);

/** Formats and modifiers one dmapipe_constraints lists at most. */
#define DMAPIPE_CONSTRAINTS_MAX_FORMATS 8
#define DMAPIPE_CONSTRAINTS_MAX_MODIFIERS 8
/** The largest stride or offset alignment a consumer may ask for. */
#define DMAPIPE_CONSTRAINTS_MAX_ALIGN 4096
/** The most buffers a consumer may ask the producer to have. */
#define DMAPIPE_CONSTRAINTS_MAX_BUFFERS 32
/** import_device's size, terminator included. */
#define DMAPIPE_CONSTRAINTS_DEVICE_LEN 64

/**
 * dmapipe_constraints.flags: the consumer copies frames of buffers that do
 * not satisfy it (counted) rather than be refused.
 */
#define DMAPIPE_CONSTRAINT_ALLOW_COPY (1u << 0)

/**
 * What a consumer needs of the buffers it is sent (CONSTRAINTS,
 * docs/PROTOCOL.md): the producer allocates buffers that satisfy every
 * connected consumer, or refuses the one it cannot satisfy. Zero fields
 * ask nothing. Since 0.2.
 */
struct dmapipe_constraints {
	uint32_t flags;                            /**< DMAPIPE_CONSTRAINT_* */
	uint32_t min_buffers;                      /**< buffers it holds at once, at most DMAPIPE_CONSTRAINTS_MAX_BUFFERS */
	uint32_t stride_align[DMAPIPE_MAX_PLANES]; /**< per plane: a power of two up to 4096, or 0 */
	uint32_t offset_align[DMAPIPE_MAX_PLANES]; /**< per plane: a power of two up to 4096, or 0 */
	uint32_t n_formats;                        /**< 0: any */
	uint32_t formats[DMAPIPE_CONSTRAINTS_MAX_FORMATS];     /**< DRM fourccs it accepts */
	uint32_t n_modifiers;                      /**< 0: linear only */
	uint32_t pad0;                             /**< zero */
	uint64_t modifiers[DMAPIPE_CONSTRAINTS_MAX_MODIFIERS]; /**< modifiers it accepts */
	/**
	 * what must be able to import the buffers: "" (nothing said), "cpu"
	 * (mappable), or a device node ("/dev/dri/renderD128", "/dev/video1")
	 * the consumer opens; NUL-terminated
	 */
	char import_device[DMAPIPE_CONSTRAINTS_DEVICE_LEN];
	uint32_t reserved[8];                      /**< zero */
};

struct dmapipe_layout;

/** Sets @constraints to "nothing asked" (all zero). Since 0.2. */
void dmapipe_constraints_init(struct dmapipe_constraints *constraints);

/**
 * Checks @constraints as a producer does: known flags, alignments 0 or
 * powers of two up to DMAPIPE_CONSTRAINTS_MAX_ALIGN, counts within their
 * arrays and unused entries zero, no format 0, min_buffers within
 * DMAPIPE_CONSTRAINTS_MAX_BUFFERS, import_device terminated, reserved and
 * padding zero. Returns 0 or -EINVAL with *@why (if not NULL) a static
 * description. Since 0.2.
 */
int dmapipe_constraints_check(const struct dmapipe_constraints *constraints, const char **why);

/**
 * Whether buffers of @layout serve a consumer with @constraints: its
 * format and modifier accepted, every plane's stride and offset aligned
 * as asked. import_device and min_buffers are not a layout's to satisfy.
 * Returns 0, or -EINVAL with the first reason written into @why (@len
 * bytes; may be NULL), e.g. "plane 0 stride 1008 is not a multiple of
 * 64". Since 0.2.
 */
int dmapipe_layout_satisfies(const struct dmapipe_layout *layout,
			     const struct dmapipe_constraints *constraints, char *why, size_t len);

/**
 * Parses a frame rate written "N", "N/M" or "N.NN" (at most 3 decimals:
 * "29.97" is 2997/100; write "30000/1001" for the exact NTSC rate) into
 * *@num / *@den, reduced. 0 is allowed ("unknown"). Returns 0 or -EINVAL
 * for anything else (a zero denominator, trailing text, overflow of 32
 * bits). Since 0.2.
 */
int dmapipe_fraction_parse(const char *text, uint32_t *num, uint32_t *den);

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
 * Since 0.2.
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
 * for listing them. Since 0.2.
 */
const struct dmapipe_format_desc *dmapipe_format_desc_get(unsigned int index);

/** The description of @fourcc, or NULL for a format the library does not know. Since 0.2. */
const struct dmapipe_format_desc *dmapipe_format_desc_find(uint32_t fourcc);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_FORMAT_H */
