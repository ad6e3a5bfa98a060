/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesrc's caps: what the producer's format, FORMAT_INFO and kind of
 * memory become as caps (memory:DMABuf first for dma-bufs), negotiation
 * with downstream, the allocation query (does downstream take
 * GstVideoMeta), and following the producer's format changes. Apart from
 * gstdmapipesrc.c because it maps one model onto another and touches no
 * connection; the element's file receives frames and runs the element.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/allocators/allocators.h>

#include "gstdmapipeformat.h"
#include "gstdmapipesrc-private.h"

#define GST_CAT_DEFAULT gst_dmapipe_src_debug

void
gst_dmapipe_src_stream_rate (GstDmapipeSrc * self, gint * fps_n, gint * fps_d)
{
  *fps_n = self->fps_n;
  *fps_d = self->fps_d;
  if (*fps_n <= 0 && self->have_fi && self->fi.fps_num
      && self->fi.fps_num <= G_MAXINT && self->fi.fps_den <= G_MAXINT) {
    *fps_n = (gint) self->fi.fps_num;
    *fps_d = (gint) self->fi.fps_den;
  }
}

/* What this stream can be, preferred first; NULL before the first FORMAT.
 * Call with GST_OBJECT_LOCK. */
static GstCaps *
stream_caps (GstDmapipeSrc * self)
{
  GstCaps *caps, *form;
  struct dmapipe_format_info fi = self->fi;
  GstDmapipeCapsForm forms[3];
  guint i, n = 0;

  if (!self->have_format)
    return NULL;
  /* Colorimetry and chroma siting stay out of the caps for now: a V4L2
   * sink whose device takes another colorimetry (vivid's HDMI output
   * takes BT.709, its capture makes BT.601) accepts them in its caps
   * query and then refuses the stream at S_FMT, where no fallback is
   * possible. Rate, pixel aspect ratio and fields go in. */
  fi.matrix = 0;
  fi.transfer = 0;
  fi.primaries = 0;
  fi.range = 0;
  fi.chroma_site = 0;
  /* dma-bufs are best imported; a form that cannot describe the stream
   * (a modifier in the 1.22 forms) gives no caps and is left out */
  if (self->mem_kind == DMAPIPE_MEM_DMABUF) {
    if (self->dma_drm)
      forms[n++] = GST_DMAPIPE_CAPS_DMA_DRM;
    forms[n++] = GST_DMAPIPE_CAPS_DMABUF;
  }
  forms[n++] = GST_DMAPIPE_CAPS_SYSTEM;
  caps = gst_caps_new_empty ();
  for (i = 0; i < n; i++) {
    form = gst_dmapipe_caps_from_format (&self->format,
        self->have_fi ? &fi : NULL, self->fps_n, self->fps_d, forms[i]);
    if (form)
      gst_caps_append (caps, form);
  }
  if (gst_caps_is_empty (caps)) {
    gst_caps_unref (caps);
    return NULL;
  }
  return caps;
}

GstCaps *
gst_dmapipe_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);
  GstCaps *caps, *tmp;

  GST_OBJECT_LOCK (self);
  caps = stream_caps (self);
  GST_OBJECT_UNLOCK (self);
  if (!caps)
    caps = gst_pad_get_pad_template_caps (GST_BASE_SRC_PAD (bsrc));
  if (filter) {
    tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

gboolean
gst_dmapipe_src_negotiate (GstBaseSrc * bsrc)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);
  GstCaps *caps, *peer, *chosen = NULL;
  gboolean ret;
  guint i;

  GST_OBJECT_LOCK (self);
  caps = stream_caps (self);
  GST_OBJECT_UNLOCK (self);
  /* nothing to say before the producer told us its format: create()
   * negotiates once it has */
  if (!caps)
    return TRUE;

  peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (bsrc), NULL);
  for (i = 0; i < gst_caps_get_size (caps) && !chosen; i++) {
    GstCaps *c = gst_caps_copy_nth (caps, i);

    if (peer) {
      GstCaps *tmp = gst_caps_intersect_full (c, peer, GST_CAPS_INTERSECT_FIRST);

      gst_caps_unref (c);
      c = tmp;
    }
    if (gst_caps_is_empty (c)) {
      gst_caps_unref (c);
      continue;
    }
    /* a variable frame rate (0/1) if downstream allows it */
    c = gst_caps_truncate (c);
    c = gst_caps_make_writable (c);
    gst_structure_fixate_field_nearest_fraction (gst_caps_get_structure (c, 0),
        "framerate", 0, 1);
    chosen = gst_caps_fixate (c);
  }
  GST_DEBUG_OBJECT (self, "stream %" GST_PTR_FORMAT ", downstream %"
      GST_PTR_FORMAT, caps, peer);
  gst_caps_unref (caps);
  if (peer)
    gst_caps_unref (peer);
  if (!chosen) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("Downstream accepts none of the stream's caps"),
        ("%s buffers, format %s %ux%u",
            dmapipe_mem_kind_to_string (self->mem_kind),
            gst_video_format_to_string (gst_dmapipe_format_from_drm
                (self->format.fourcc)), self->format.width,
            self->format.height));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "caps %" GST_PTR_FORMAT, chosen);
  self->dmabuf_caps = gst_caps_features_contains (gst_caps_get_features (chosen,
          0), GST_CAPS_FEATURE_MEMORY_DMABUF);
  ret = gst_base_src_set_caps (bsrc, chosen);
  gst_caps_unref (chosen);
  return ret;
}

gboolean
gst_dmapipe_src_decide_allocation (GstBaseSrc * bsrc, GstQuery * query)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);

  self->videometa = gst_query_find_allocation_meta (query,
      GST_VIDEO_META_API_TYPE, NULL);
  /* buffers come from the producer: a pool would only allocate memory
   * nobody uses */
  while (gst_query_get_n_allocation_pools (query) > 0)
    gst_query_remove_nth_allocation_pool (query, 0);
  GST_DEBUG_OBJECT (self, "downstream %s GstVideoMeta",
      self->videometa ? "takes" : "does not take");
  return TRUE;
}

/* The producer's format or kind of memory changed (or is first known). */
gboolean
gst_dmapipe_src_update_format (GstDmapipeSrc * self,
    const struct dmapipe_frame *frame)
{
  const struct dmapipe_layout *l = dmapipe_buffer_get_layout (frame->buffer);
  enum dmapipe_mem_kind kind = dmapipe_buffer_get_mem_kind (frame->buffer);
  struct dmapipe_format_info fi;
  struct dmapipe_format geometry;
  gboolean changed, have_fi;
  gchar name[16];

  have_fi = gst_dmapipe_conn_get_format_info (self->conn, &fi);
  GST_OBJECT_LOCK (self);
  changed = !self->have_format || self->mem_kind != kind
      || memcmp (&self->format, &l->format, sizeof (l->format)) != 0
      || have_fi != self->have_fi
      || (have_fi && memcmp (&self->fi, &fi, sizeof (fi)) != 0);
  if (changed) {
    self->format = l->format;
    self->mem_kind = kind;
    self->have_format = TRUE;
    self->have_fi = have_fi;
    if (have_fi)
      self->fi = fi;
  }
  GST_OBJECT_UNLOCK (self);
  if (!changed)
    return TRUE;

  /* a modifier travels in DMA_DRM caps only, and only with dma-bufs; the
   * GstVideoInfo (GstVideoMeta's format) is then the fourcc's own */
  geometry = l->format;
  if (self->dma_drm && kind == DMAPIPE_MEM_DMABUF)
    geometry.modifier = DMAPIPE_MOD_LINEAR;
  if (!gst_dmapipe_video_info_from_format (&geometry, &self->info)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Unsupported format"),
        ("%s %ux%u, modifier 0x%" G_GINT64_MODIFIER "x in %s buffers: the "
            "caps form in use (%s) carries neither this format nor this "
            "modifier", gst_dmapipe_fourcc_name (l->format.fourcc, name),
            l->format.width, l->format.height, (guint64) l->format.modifier,
            dmapipe_mem_kind_to_string (kind),
            self->dma_drm ? "DMA_DRM" : "GStreamer 1.22's"));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "stream is %s %ux%u in %s buffers",
      gst_dmapipe_fourcc_name (l->format.fourcc, name), l->format.width,
      l->format.height, dmapipe_mem_kind_to_string (kind));
  self->discont = TRUE;
  return gst_base_src_negotiate (GST_BASE_SRC (self));
}
