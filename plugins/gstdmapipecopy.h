/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The counted copy both elements fall back to when a frame's memory cannot
 * be passed on as it is: dmapipesink copies system memory upstream did not
 * put in its pool into a pool buffer, dmapipesrc copies a producer's frame
 * into GStreamer's default layout for a downstream that cannot take its
 * strides. Pixels go through the library (dmapipe_buffer_copy_from_memory()
 * and _to_memory()), so every copy shows in its statistics too and its
 * strict mode (DMAPIPE_STRICT=1) refuses it there. The element's own
 * strict property and copy counter stay with the element.
 */
#ifndef __GST_DMAPIPE_COPY_H__
#define __GST_DMAPIPE_COPY_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

G_BEGIN_DECLS

/* Copies the frame in @in, laid out as @info says (or as its GstVideoMeta
 * says), into @dbuf, a buffer of @info's format. @in and @dbuf stay the
 * caller's. FALSE after posting an error on @element. */
gboolean gst_dmapipe_copy_from_buffer (GstElement * element,
    const GstVideoInfo * info, GstBuffer * in, struct dmapipe_buffer *dbuf);

/* A new buffer of system memory holding @dbuf's frame in @info's layout
 * (GStreamer's default for the format); @dbuf stays the caller's. NULL
 * when the buffer cannot be allocated, or after posting an error on
 * @element when the library refuses the copy. */
GstBuffer *gst_dmapipe_copy_to_new_buffer (GstElement * element,
    const GstVideoInfo * info, struct dmapipe_buffer *dbuf);

/* Tells that @element made its @copies-th copy: the first is a
 * GST_PERFORMANCE warning saying @why and an element warning on the bus
 * whose debug text is @detail_format; every 300th is a GST_PERFORMANCE
 * info line. */
void gst_dmapipe_copy_report (GstElement * element, guint64 copies,
    const gchar * why, const gchar * detail_format, ...) G_GNUC_PRINTF (4, 5);

G_END_DECLS

#endif /* __GST_DMAPIPE_COPY_H__ */
