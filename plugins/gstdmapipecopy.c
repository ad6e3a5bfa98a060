/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include "gstdmapipecopy.h"

GST_DEBUG_CATEGORY_STATIC (CAT_PERFORMANCE);

/* a GST_PERFORMANCE line for the first copy and then every this many */
#define COPY_LOG_INTERVAL 300

static void
copy_failed (GstElement * element, gint ret)
{
  GST_ELEMENT_ERROR (element, STREAM, FAILED, ("Cannot copy a frame: %s",
          g_strerror (-ret)), (ret == -EPERM ?
          "the library is in strict mode (DMAPIPE_STRICT=1)" : NULL));
}

gboolean
gst_dmapipe_copy_from_buffer (GstElement * element, const GstVideoInfo * info,
    GstBuffer * in, struct dmapipe_buffer *dbuf)
{
  uint8_t *planes[GST_VIDEO_MAX_PLANES] = { NULL, };
  uint32_t strides[GST_VIDEO_MAX_PLANES] = { 0, };
  GstVideoFrame frame;
  guint p;
  gint ret;

  if (!gst_video_frame_map (&frame, info, in, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (element, STREAM, FAILED, ("Cannot map a frame"), (NULL));
    return FALSE;
  }
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    planes[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  ret = dmapipe_buffer_copy_from_memory (dbuf, planes, strides);
  gst_video_frame_unmap (&frame);
  if (ret < 0) {
    copy_failed (element, ret);
    return FALSE;
  }
  return TRUE;
}

GstBuffer *
gst_dmapipe_copy_to_new_buffer (GstElement * element,
    const GstVideoInfo * info, struct dmapipe_buffer *dbuf)
{
  uint8_t *planes[GST_VIDEO_MAX_PLANES] = { NULL, };
  uint32_t strides[GST_VIDEO_MAX_PLANES] = { 0, };
  GstBuffer *buf;
  GstMapInfo map;
  guint i;
  gint ret;

  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  if (!buf || !gst_buffer_map (buf, &map, GST_MAP_WRITE)) {
    gst_clear_buffer (&buf);
    return NULL;
  }
  for (i = 0; i < GST_VIDEO_INFO_N_PLANES (info); i++) {
    planes[i] = map.data + GST_VIDEO_INFO_PLANE_OFFSET (info, i);
    strides[i] = GST_VIDEO_INFO_PLANE_STRIDE (info, i);
  }
  ret = dmapipe_buffer_copy_to_memory (dbuf, planes, strides);
  gst_buffer_unmap (buf, &map);
  if (ret < 0) {
    gst_buffer_unref (buf);
    copy_failed (element, ret);
    return NULL;
  }
  return buf;
}

void
gst_dmapipe_copy_report (GstElement * element, guint64 copies,
    const gchar * why, const gchar * detail_format, ...)
{
  static gsize category_once;
  va_list args;
  gchar *detail;

  if (g_once_init_enter (&category_once)) {
    GST_DEBUG_CATEGORY_GET (CAT_PERFORMANCE, "GST_PERFORMANCE");
    g_once_init_leave (&category_once, 1);
  }

  if (copies == 1) {
    GST_CAT_WARNING_OBJECT (CAT_PERFORMANCE, element, "copying frames: %s",
        why);
    va_start (args, detail_format);
    detail = g_strdup_vprintf (detail_format, args);
    va_end (args);
    GST_ELEMENT_WARNING (element, STREAM, FORMAT, ("Copying every frame"),
        ("%s", detail));
    g_free (detail);
  } else if (copies % COPY_LOG_INTERVAL == 0) {
    GST_CAT_INFO_OBJECT (CAT_PERFORMANCE, element, "%" G_GUINT64_FORMAT
        " frames copied so far", copies);
  }
}
