/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What dmapipesrc's files share: the element's instance struct, and the
 * caps side (gstdmapipesrccaps.c) that the element's methods
 * (gstdmapipesrc.c) call.
 */
#ifndef __GST_DMAPIPE_SRC_PRIVATE_H__
#define __GST_DMAPIPE_SRC_PRIVATE_H__

#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#include "gstdmapipeclock.h"
#include "gstdmapipeconn.h"
#include "gstdmapipespin.h"
#include "gstdmapipesrc.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_dmapipe_src_debug);

struct _GstDmapipeSrc
{
  GstPushSrc parent;

  /* properties, GST_OBJECT_LOCK */
  gchar *socket_path;
  gchar *peer_policy;
  gint policy;
  guint queue_depth;
  guint max_in_flight;
  gboolean reconnect;
  guint timeout;
  gboolean strict;
  gint fps_n, fps_d;
  gchar *import_device;

  /* format, GST_OBJECT_LOCK (caps queries come from any thread) */
  gboolean have_format;
  struct dmapipe_format format;
  gboolean have_fi;             /* the producer sent FORMAT_INFO */
  struct dmapipe_format_info fi;
  enum dmapipe_mem_kind mem_kind;

  /* streaming thread */
  GstDmapipeConn *conn;
  GstVideoInfo info;            /* GStreamer's default layout of the format */
  gboolean videometa;           /* downstream takes GstVideoMeta */
  gboolean dmabuf_caps;         /* negotiated memory:DMABuf: not mapped */
  gboolean dma_drm;             /* dma-buf caps in 1.24's DMA_DRM form */
  gboolean discont;
  GstDmapipeClockCheck clock_check;

  gint wake_fd;                 /* eventfd: unlock() */
  GstDmapipeSpin spin;          /* whether to busy poll for the next frame */
  gint flushing;
  gint stats_posted;            /* atomic: this run's stats message is out */

  /* statistics, GST_OBJECT_LOCK */
  guint64 frames;
  guint64 copies;
};

/* The framerate property if set, else the producer's nominal rate, else
 * 0/1. Call with GST_OBJECT_LOCK. */
void gst_dmapipe_src_stream_rate (GstDmapipeSrc * self, gint * fps_n,
    gint * fps_d);

/* Notes the format, FORMAT_INFO and kind of memory of @frame's buffer and,
 * when they changed (or are first known), renegotiates; posts an element
 * error and returns FALSE if GStreamer cannot carry the format or
 * downstream takes none of its caps. */
gboolean gst_dmapipe_src_update_format (GstDmapipeSrc * self,
    const struct dmapipe_frame *frame);

/* GstBaseSrc methods */
GstCaps *gst_dmapipe_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter);
gboolean gst_dmapipe_src_negotiate (GstBaseSrc * bsrc);
gboolean gst_dmapipe_src_decide_allocation (GstBaseSrc * bsrc,
    GstQuery * query);

G_END_DECLS

#endif /* __GST_DMAPIPE_SRC_PRIVATE_H__ */
