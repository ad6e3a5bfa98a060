/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GstVideoFormat <-> DRM fourcc, and GstVideoInfo <-> dmapipe layouts.
 */
#ifndef __GST_DMAPIPE_FORMAT_H__
#define __GST_DMAPIPE_FORMAT_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

G_BEGIN_DECLS

/* Every GstVideoFormat with a DRM fourcc the library knows the planes of;
 * in GStreamer's byte order names (BGRx is DRM XRGB8888). */
#define GST_DMAPIPE_VIDEO_FORMATS "{ NV12, NV21, NV16, NV61, NV24, I420, YV12, " \
    "Y42B, Y444, YUY2, YVYU, UYVY, VYUY, BGRx, RGBx, xRGB, xBGR, BGRA, RGBA, " \
    "ARGB, ABGR, RGB, BGR, RGB16, BGR16, GRAY8, GRAY16_LE, P010_10LE, " \
    "P012_LE, P016_LE, BGR10A2_LE, RGB10A2_LE }"

/* GStreamer 1.22's caps: a GstVideoFormat name with or without the
 * memory:DMABuf feature */
#define GST_DMAPIPE_CAPS \
    GST_VIDEO_CAPS_MAKE_WITH_FEATURES (GST_CAPS_FEATURE_MEMORY_DMABUF, \
        GST_DMAPIPE_VIDEO_FORMATS) ";" \
    GST_VIDEO_CAPS_MAKE (GST_DMAPIPE_VIDEO_FORMATS)

/* GStreamer 1.24's form of memory:DMABuf caps: format=DMA_DRM and the
 * fourcc and modifier in drm-format. Spelt out here so that a plugin built
 * against 1.22 headers speaks it when it runs on 1.24 or newer. */
#define GST_DMAPIPE_DMA_DRM_FORMAT "DMA_DRM"
#define GST_DMAPIPE_DMA_DRM_CAPS \
    GST_VIDEO_CAPS_MAKE_WITH_FEATURES (GST_CAPS_FEATURE_MEMORY_DMABUF, \
        GST_DMAPIPE_DMA_DRM_FORMAT)

/* "0" forces the 1.22 form, "1" the DMA_DRM form; unset or anything else:
 * the form of the GStreamer this process runs */
#define GST_DMAPIPE_DMA_DRM_ENV "DMAPIPE_GST_DMA_DRM"

/* How gst_dmapipe_caps_from_format() writes a stream's caps. */
typedef enum
{
  GST_DMAPIPE_CAPS_SYSTEM,      /* video/x-raw, format=NV12 */
  GST_DMAPIPE_CAPS_DMABUF,      /* video/x-raw(memory:DMABuf), format=NV12 */
  GST_DMAPIPE_CAPS_DMA_DRM,     /* ... format=DMA_DRM, drm-format=NV12 */
} GstDmapipeCapsForm;

/* TRUE when memory:DMABuf caps are to be in the DMA_DRM form: what
 * $DMAPIPE_GST_DMA_DRM says, else whether gst_version() is 1.24 or newer.
 * Read when an element class is initialised, so once per process. */
gboolean gst_dmapipe_dma_drm_enabled (void);

/* The pad template caps of both elements: with @dma_drm, the DMA_DRM form
 * first, then the 1.22 memory:DMABuf form (still read by elements that
 * have not moved on), then system memory; without, GST_DMAPIPE_CAPS. The
 * caller owns the caps. */
GstCaps *gst_dmapipe_template_caps (gboolean dma_drm);

/* @fourcc and @modifier as GStreamer 1.24 writes a drm-format: the four
 * characters alone for the linear modifier ("NV12"), else followed by ':'
 * and the modifier as 0x and 16 hex digits ("NV12:0x0100000000000001").
 * NULL for fourcc 0 or DMAPIPE_MOD_INVALID. The caller frees the string. */
gchar *gst_dmapipe_drm_format_to_string (guint32 fourcc, guint64 modifier);

/* Reads a drm-format string as written above into @fourcc and @modifier
 * (DMAPIPE_MOD_LINEAR when there is no ':'). The four characters must be
 * printable; the modifier must be 0x and 1 to 16 hex digits, neither 0
 * (GStreamer writes linear without a modifier and refuses ":0x0") nor
 * DMAPIPE_MOD_INVALID. FALSE with *@why (static) saying what is wrong;
 * @fourcc and @modifier are then left alone. Any fourcc is taken: whether
 * the plugin maps it is the caller's question. */
gboolean gst_dmapipe_drm_format_from_string (const gchar * str,
    guint32 * fourcc, guint64 * modifier, const gchar ** why);

/* The DRM fourcc of @format, or 0 when it has none here. */
guint32 gst_dmapipe_format_to_drm (GstVideoFormat format);

/* The GstVideoFormat of a DRM fourcc, or GST_VIDEO_FORMAT_UNKNOWN. */
GstVideoFormat gst_dmapipe_format_from_drm (guint32 fourcc);

/* A single-object linear layout with @info's offsets and strides, the
 * object's size being @info's size; objects[0].fd = -1. FALSE when the
 * format has no DRM fourcc or the library refuses the geometry. */
gboolean gst_dmapipe_layout_from_video_info (const GstVideoInfo * info,
    struct dmapipe_layout * layout);

/* GStreamer's default layout of a dmapipe format (no padding beyond
 * GStreamer's own rounding). FALSE for an unknown fourcc or a modifier
 * other than linear. */
gboolean gst_dmapipe_video_info_from_format (const struct dmapipe_format * format,
    GstVideoInfo * info);

/* Caps for a stream of @format with what @fi (FORMAT_INFO; NULL: nothing
 * known) says: colorimetry, chroma siting, interlacing, field order and
 * pixel aspect ratio, each left out for downstream to fill in when
 * unknown; the frame rate @fps_n/@fps_d when @fps_n is not 0, else @fi's,
 * else any; written in @form. NULL when @form cannot describe @format
 * (an unmapped fourcc; a modifier other than linear needs the DMA_DRM
 * form). The caller owns the caps. */
GstCaps *gst_dmapipe_caps_from_format (const struct dmapipe_format * format,
    const struct dmapipe_format_info * fi, gint fps_n, gint fps_d,
    GstDmapipeCapsForm form);

/* gst_video_info_from_caps() for caps of either form: DMA_DRM caps are
 * read as the GstVideoFormat of their drm-format's fourcc, so @info
 * describes the planes as the 1.22 form would. @modifier (may be NULL)
 * gets the modifier, DMAPIPE_MOD_LINEAR for the 1.22 form. FALSE when the
 * caps are not fixed video caps, the drm-format is malformed or names a
 * fourcc the plugin does not map. */
gboolean gst_dmapipe_video_info_from_caps (GstVideoInfo * info,
    guint64 * modifier, const GstCaps * caps);

/* What @caps (already read into @info) say beyond the format, for
 * FORMAT_INFO: the rate, pixel aspect ratio, interlacing and field order,
 * and colorimetry and chroma siting only when @caps name them (GStreamer
 * would otherwise guess from the size). */
void gst_dmapipe_format_info_from_caps (const GstCaps * caps,
    const GstVideoInfo * info, struct dmapipe_format_info * fi);

/* TRUE if @layout is GStreamer's default layout for @info (one object,
 * the same plane offsets and strides): an element that neither takes
 * GstVideoMeta nor imports dma-bufs reads it right. */
gboolean gst_dmapipe_layout_is_default (const struct dmapipe_layout * layout,
    const GstVideoInfo * info);

/* Short printable name of a fourcc ("NV12"). */
const gchar *gst_dmapipe_fourcc_name (guint32 fourcc, gchar buf[16]);

G_END_DECLS

#endif /* __GST_DMAPIPE_FORMAT_H__ */
