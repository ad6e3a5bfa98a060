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

#define GST_DMAPIPE_CAPS \
    GST_VIDEO_CAPS_MAKE_WITH_FEATURES (GST_CAPS_FEATURE_MEMORY_DMABUF, \
        GST_DMAPIPE_VIDEO_FORMATS) ";" \
    GST_VIDEO_CAPS_MAKE (GST_DMAPIPE_VIDEO_FORMATS)

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
 * else any; the memory:DMABuf feature if @dmabuf. NULL when GStreamer
 * 1.22 caps cannot describe @format. The caller owns the caps. */
GstCaps *gst_dmapipe_caps_from_format (const struct dmapipe_format * format,
    const struct dmapipe_format_info * fi, gint fps_n, gint fps_d,
    gboolean dmabuf);

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
