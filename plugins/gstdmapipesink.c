/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-dmapipesink
 * @title: dmapipesink
 * @see_also: dmapipesrc
 *
 * Serves the frames of a pipeline on a dmapipe socket to any number of
 * consumers in other processes: dmapipesrc, the `dmapipe consume` tool, or
 * programs using libdmapipe. Pixels are never copied on the way:
 *
 * - buffers whose memory is already a dma-buf (v4l2src io-mode=dmabuf, a
 *   hardware decoder) or a sealed memfd are passed by file descriptor. Each
 *   memory object crosses the socket once per consumer connection; every
 *   frame after that is a 64-byte message naming it by id;
 * - software producers (videotestsrc, videoconvert, ...) are offered a
 *   buffer pool in the allocation query whose buffers are dma-bufs from the
 *   best allocator on the machine (dma-heap, udmabuf, vgem) or sealed
 *   memfds, with GstVideoMeta, so they draw straight into shareable memory.
 *   The pool is laid out for the connected consumers' constraints (row and
 *   plane alignment, buffers held, a DRM device's memory); when a consumer
 *   joins or changes them beyond the pool, the sink sends RECONFIGURE
 *   upstream, which then takes a new pool, and that consumer waits for its
 *   first frame in the new buffers (2 s at most, then it is refused);
 * - anything else is copied into such a buffer, counted in the #copies
 *   property and in a GST_PERFORMANCE log line; with #strict set it is an
 *   error instead.
 *
 * A buffer stays referenced until every consumer handed it back, so
 * upstream pools (and a V4L2 driver's queue) get it back only then. The
 * streaming thread never waits for a consumer: each consumer chose a policy
 * when it connected (dmapipesrc's policy property): `latest` and `queue`
 * consumers that fall behind lose frames (counted in #drops), and a
 * consumer holding a frame longer than #lease-timeout is disconnected. Only
 * a `block` consumer makes the sink wait, because it asked for it.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc ! video/x-raw,format=NV12,width=1920,height=1080 ! dmapipesink socket-path=/tmp/camera.sock
 * ]| Serves a test stream. videotestsrc draws into the sink's shareable buffers.
 * |[
 * gst-launch-1.0 v4l2src device=/dev/video0 io-mode=dmabuf ! dmapipesink socket-path=@camera
 * ]| Serves a camera's own dma-bufs (abstract socket name "camera"); the
 * driver's buffers go back to it when every consumer released them.
 * |[
 * gst-launch-1.0 dmapipesrc socket-path=/tmp/camera.sock ! videoconvert ! autovideosink
 * ]| Shows the stream in another process.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#include "gstdmapipeclock.h"
#include "gstdmapipecopy.h"
#include "gstdmapipeformat.h"
#include "gstdmapipememreg.h"
#include "gstdmapipepool.h"
#include "gstdmapipesink-private.h"

/* not static: the memory registry logs as part of the sink */
GST_DEBUG_CATEGORY (gst_dmapipe_sink_debug);
#define GST_CAT_DEFAULT gst_dmapipe_sink_debug

#define DEFAULT_SOCKET_PATH NULL
#define DEFAULT_SOCKET_MODE 0660
#define DEFAULT_SOCKET_GROUP NULL
#define DEFAULT_PEER_POLICY "same-uid"
#define DEFAULT_ALLOCATOR NULL
#define DEFAULT_LEASE_TIMEOUT 5000
#define DEFAULT_MAX_CONSUMERS 32
#define DEFAULT_MAX_IN_FLIGHT 2
#define DEFAULT_WAIT_CONSUMERS 0
#define DEFAULT_DRAIN_TIMEOUT 5000
#define DEFAULT_STRIDE_ALIGN 0
#define DEFAULT_STRICT FALSE

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_ALLOCATOR,
  PROP_LEASE_TIMEOUT,
  PROP_MAX_CONSUMERS,
  PROP_MAX_IN_FLIGHT,
  PROP_WAIT_CONSUMERS,
  PROP_DRAIN_TIMEOUT,
  PROP_STRIDE_ALIGN,
  PROP_STRICT,
  PROP_FRAMES,
  PROP_DROPS,
  PROP_COPIES,
  PROP_CONSUMERS,
  PROP_SOCKET_MODE,
  PROP_SOCKET_GROUP,
  PROP_PEER_POLICY,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];


#define gst_dmapipe_sink_parent_class parent_class
G_DEFINE_TYPE (GstDmapipeSink, gst_dmapipe_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (dmapipesink, "dmapipesink", GST_RANK_NONE,
    GST_TYPE_DMAPIPE_SINK);

/* ---- GstBaseSink ------------------------------------------------------ */

static gboolean
gst_dmapipe_sink_start (GstBaseSink * bsink)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);
  gchar *name;

  GST_OBJECT_LOCK (self);
  name = g_strdup (self->allocator_name);
  GST_OBJECT_UNLOCK (self);

  self->allocator = name ? dmapipe_allocator_new (name) :
      dmapipe_allocator_new_default ();
  if (!self->allocator) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No dmapipe allocator %s: %s", name ? name : "available",
            g_strerror (errno)), (NULL));
    g_free (name);
    return FALSE;
  }
  g_free (name);
  GST_INFO_OBJECT (self, "allocator %s: %s",
      dmapipe_allocator_get_name (self->allocator),
      dmapipe_mem_kind_to_string (dmapipe_allocator_get_mem_kind
          (self->allocator)));

  g_mutex_lock (&self->lock);
  self->frames = self->own_drops = self->copies = self->copied_bytes = 0;
  self->sequence = 0;
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);

  if (!gst_dmapipe_sink_server_start (self)) {
    dmapipe_allocator_unref (self->allocator);
    self->allocator = NULL;
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_dmapipe_sink_stop (GstBaseSink * bsink)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);

  gst_dmapipe_sink_server_stop (self);
  if (self->copy_pool) {
    gst_buffer_pool_set_active (self->copy_pool, FALSE);
    gst_clear_object (&self->copy_pool);
  }
  dmapipe_allocator_unref (self->allocator);
  self->allocator = NULL;
  dmapipe_allocator_unref (self->drm_allocator);
  self->drm_allocator = NULL;
  g_mutex_lock (&self->lock);
  gst_clear_object (&self->proposed_pool);
  g_mutex_unlock (&self->lock);
  self->have_pool_layout = FALSE;
  self->have_info = FALSE;
  gst_dmapipe_clock_check_clear (&self->clock_check);
  return TRUE;
}

static gboolean
gst_dmapipe_sink_unlock (GstBaseSink * bsink)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_dmapipe_sink_unlock_stop (GstBaseSink * bsink)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_dmapipe_sink_set_caps (GstBaseSink * bsink, GstCaps * caps)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);
  struct dmapipe_format_info fi;
  GstVideoInfo info;
  guint64 modifier;
  guint32 fourcc;

  if (!gst_dmapipe_video_info_from_caps (&info, &modifier, caps)) {
    GST_ERROR_OBJECT (self, "invalid caps %" GST_PTR_FORMAT, caps);
    return FALSE;
  }
  /* the frames' layouts are told to consumers as linear (GstVideoMeta has
   * no modifier to carry through the memory registry) */
  if (modifier != DMAPIPE_MOD_LINEAR) {
    GST_ERROR_OBJECT (self, "modifier 0x%016" G_GINT64_MODIFIER "x in %"
        GST_PTR_FORMAT ": only linear frames can be served", modifier, caps);
    return FALSE;
  }
  fourcc = gst_dmapipe_format_to_drm (GST_VIDEO_INFO_FORMAT (&info));
  if (!fourcc) {
    GST_ERROR_OBJECT (self, "format %s has no DRM fourcc",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)));
    return FALSE;
  }

  g_mutex_lock (&self->lock);
  if (self->have_info && !gst_video_info_is_equal (&info, &self->info)) {
    GST_INFO_OBJECT (self, "format changed: new buffers for %" GST_PTR_FORMAT,
        caps);
    gst_dmapipe_mem_reg_retire_all (self->registry, self->server);
  }
  g_mutex_unlock (&self->lock);

  if (self->copy_pool && self->have_info
      && !gst_video_info_is_equal (&info, &self->info)) {
    gst_buffer_pool_set_active (self->copy_pool, FALSE);
    gst_clear_object (&self->copy_pool);
  }
  self->info = info;
  self->fourcc = fourcc;
  self->have_info = TRUE;

  /* consumers in other processes learn the rate and colorimetry */
  gst_dmapipe_format_info_from_caps (caps, &info, &fi);
  g_mutex_lock (&self->lock);
  if (self->server && dmapipe_server_set_format_info (self->server, &fi) < 0)
    GST_WARNING_OBJECT (self, "caps %" GST_PTR_FORMAT " cannot be told to "
        "consumers", caps);
  self->format_info = fi;
  self->have_format_info = TRUE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* The allocator for consumers with @cons: the drm allocator while one
 * imports into a DRM device (docs/PROTOCOL.md section 13, rule 7), else
 * the sink's own. No reference added. */
static struct dmapipe_allocator *
pool_allocator (GstDmapipeSink * self, const struct dmapipe_constraints *cons)
{
  if (!cons->import_device[0]
      || !strcmp (dmapipe_allocator_get_name (self->allocator), "drm"))
    return self->allocator;
  if (!self->drm_allocator) {
    self->drm_allocator = dmapipe_allocator_new ("drm");
    if (!self->drm_allocator) {
      GST_WARNING_OBJECT (self, "a consumer imports into %s, but there is "
          "no drm allocator (%s): it gets buffers of %s",
          cons->import_device, g_strerror (errno),
          dmapipe_allocator_get_name (self->allocator));
      return self->allocator;
    }
  }
  return self->drm_allocator;
}

/* A pool for consumers with @cons (the allocator they need; with
 * @videometa, their alignments and @stride_align), its buffers' layout in
 * @layout and whether they are a DRM device's memory in @is_drm. NULL if
 * refused. */
static GstBufferPool *
constrained_pool (GstDmapipeSink * self, GstCaps * caps, guint size,
    guint min, gboolean videometa, guint stride_align,
    const struct dmapipe_constraints *cons, struct dmapipe_layout *layout,
    gboolean * is_drm)
{
  struct dmapipe_allocator *allocator = pool_allocator (self, cons);
  GstBufferPool *pool;
  gchar why[128];

  *is_drm = !strcmp (dmapipe_allocator_get_name (allocator), "drm");
  pool = gst_dmapipe_buffer_pool_new_configured (allocator, caps, size, min,
      videometa, stride_align, cons);
  if (!pool || !gst_dmapipe_buffer_pool_get_layout (pool, layout)) {
    GST_WARNING_OBJECT (self, "pool refused %" GST_PTR_FORMAT, caps);
    gst_clear_object (&pool);
    return NULL;
  }
  if (!gst_dmapipe_sink_pool_serves (layout, *is_drm, cons)) {
    /* GStreamer could not align the planes so, or no drm allocator: the
     * consumers wait and are told why when their wait is over */
    if (dmapipe_layout_satisfies (layout, cons, why, sizeof (why)) == 0)
      g_strlcpy (why, "its memory is not a DRM device's", sizeof (why));
    GST_WARNING_OBJECT (self, "the pool does not meet the consumers' "
        "constraints: %s", why);
  }
  return pool;
}

/* The pool upstream is offered: made for the consumers connected now
 * (their merged constraints, with #stride-align), which it remembers so
 * that a change they do not fit sends upstream a RECONFIGURE. */
static GstBufferPool *
make_upstream_pool (GstDmapipeSink * self, GstCaps * caps, guint size,
    guint * min)
{
  struct dmapipe_constraints cons;
  struct dmapipe_layout layout;
  GstBufferPool *pool;
  gboolean is_drm;
  guint align;

  GST_OBJECT_LOCK (self);
  align = self->stride_align;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->lock);
  cons = self->constraints;
  self->reconfigure = FALSE;
  g_mutex_unlock (&self->lock);

  /* the frames the consumers hold at once are allocated up front too */
  *min += cons.min_buffers;
  pool = constrained_pool (self, caps, size, *min, TRUE, align, &cons,
      &layout, &is_drm);
  if (!pool)
    return NULL;
  /* upstream may bound it: an empty pool then asks us for the releases */
  gst_dmapipe_buffer_pool_set_reclaim (pool, G_OBJECT (self),
      gst_dmapipe_sink_pool_reclaim, gst_dmapipe_sink_pool_wait);
  g_mutex_lock (&self->lock);
  gst_object_replace ((GstObject **) & self->proposed_pool, GST_OBJECT (pool));
  self->pool_layout = layout;
  self->pool_is_drm = is_drm;
  self->have_pool_layout = TRUE;
  /* constraints that changed meanwhile are checked against this pool */
  if (memcmp (&cons, &self->constraints, sizeof (cons))
      && !gst_dmapipe_sink_pool_serves (&layout, is_drm, &self->constraints))
    self->reconfigure = TRUE;
  g_mutex_unlock (&self->lock);
  return pool;
}

static gboolean
gst_dmapipe_sink_propose_allocation (GstBaseSink * bsink, GstQuery * query)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);
  GstCapsFeatures *features;
  GstBufferPool *pool;
  gboolean need_pool;
  GstVideoInfo info;
  GstCaps *caps;
  guint64 modifier;
  guint min;

  gst_query_parse_allocation (query, &caps, &need_pool);
  if (!caps || !gst_dmapipe_video_info_from_caps (&info, &modifier, caps))
    return FALSE;

  /* strides and plane offsets of any buffer travel in its GstVideoMeta */
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);

  if (!need_pool || !self->allocator)
    return TRUE;
  features = gst_caps_get_features (caps, 0);
  if (gst_caps_features_contains (features, GST_CAPS_FEATURE_MEMORY_DMABUF)
      && dmapipe_allocator_get_mem_kind (self->allocator) != DMAPIPE_MEM_DMABUF) {
    GST_DEBUG_OBJECT (self, "dma-buf caps, but only memfds here: no pool");
    return TRUE;
  }
  /* the pool's buffers are linear */
  if (!gst_dmapipe_format_to_drm (GST_VIDEO_INFO_FORMAT (&info))
      || modifier != DMAPIPE_MOD_LINEAR)
    return TRUE;

  /* allocated up front; the pool grows (max 0) when consumers hold frames,
   * and pre-allocating more would only fault in memory no frame uses */
  min = 2;
  pool = make_upstream_pool (self, caps, info.size, &min);
  if (!pool)
    return TRUE;
  gst_query_add_allocation_pool (query, pool, info.size, min, 0);
  GST_DEBUG_OBJECT (self, "offering a pool of %u+ %s buffers from %s", min,
      dmapipe_mem_kind_to_string (dmapipe_allocator_get_mem_kind
          (gst_dmapipe_buffer_pool_get_allocator (pool))),
      dmapipe_allocator_get_name (gst_dmapipe_buffer_pool_get_allocator
          (pool)));
  gst_object_unref (pool);
  return TRUE;
}

/* ---- frames -------------------------------------------------------------- */

/* The frame's capture time on CLOCK_MONOTONIC, as consumers expect. */
static guint64
capture_time (GstDmapipeSink * self, GstBuffer * buffer)
{
  GstClockTime ts = GST_BUFFER_PTS (buffer), running;

  if (!GST_CLOCK_TIME_IS_VALID (ts))
    ts = GST_BUFFER_DTS (buffer);
  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return gst_dmapipe_monotonic_ns ();
  GST_OBJECT_LOCK (self);
  running = gst_segment_to_running_time (&GST_BASE_SINK (self)->segment,
      GST_FORMAT_TIME, ts);
  GST_OBJECT_UNLOCK (self);
  return gst_dmapipe_running_time_to_monotonic (&self->clock_check,
      GST_ELEMENT_CAST (self), running);
}

/* Copies @buffer into a buffer of the sink's own pool: counted, refused
 * in strict mode. */
static GstFlowReturn
copy_buffer (GstDmapipeSink * self, GstBuffer * buffer, GstBuffer ** out)
{
  struct dmapipe_buffer *dbuf;
  struct dmapipe_constraints cons;
  GstBuffer *copy = NULL;
  GstFlowReturn fret;
  gboolean strict;
  guint64 copies;

  GST_OBJECT_LOCK (self);
  strict = self->strict;
  GST_OBJECT_UNLOCK (self);
  if (strict) {
    GstMemory *mem = gst_buffer_n_memory (buffer) ?
        gst_buffer_peek_memory (buffer, 0) : NULL;

    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Refusing to copy a frame (strict=true)"),
        ("upstream's memory (%s) is neither a dma-buf nor a sealed memfd; "
            "let upstream use this sink's buffer pool or export dma-bufs",
            mem && mem->allocator ? mem->allocator->mem_type : "unknown"));
    return GST_FLOW_ERROR;
  }

  g_mutex_lock (&self->lock);
  cons = self->constraints;
  g_mutex_unlock (&self->lock);
  if (self->copy_pool && !gst_dmapipe_sink_pool_serves (&self->copy_layout,
          self->copy_is_drm, &cons)) {
    /* frames out in the old copy buffers stay valid: their pool lives on
     * until the last one comes back */
    GST_INFO_OBJECT (self, "new copy buffers for the consumers' constraints");
    gst_buffer_pool_set_active (self->copy_pool, FALSE);
    gst_clear_object (&self->copy_pool);
  }
  if (!self->copy_pool) {
    GstCaps *caps = gst_video_info_to_caps (&self->info);
    gboolean aligned = FALSE;
    guint p;

    /* the layout GStreamer gives the caps, unless a consumer asks another */
    for (p = 0; p < DMAPIPE_MAX_PLANES; p++)
      aligned |= cons.stride_align[p] > 1 || cons.offset_align[p] > 1;
    self->copy_pool = constrained_pool (self, caps, self->info.size, 2,
        aligned, 0, &cons, &self->copy_layout, &self->copy_is_drm);
    gst_caps_unref (caps);
    if (!self->copy_pool || !gst_buffer_pool_set_active (self->copy_pool, TRUE)) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("Cannot allocate shareable buffers"), (NULL));
      gst_clear_object (&self->copy_pool);
      return GST_FLOW_ERROR;
    }
  }
  fret = gst_buffer_pool_acquire_buffer (self->copy_pool, &copy, NULL);
  if (fret != GST_FLOW_OK)
    return fret;
  dbuf = gst_dmapipe_memory_get_buffer (gst_buffer_peek_memory (copy, 0));
  if (!gst_dmapipe_copy_from_buffer (GST_ELEMENT_CAST (self), &self->info,
          buffer, dbuf)) {
    gst_buffer_unref (copy);
    return GST_FLOW_ERROR;
  }
  gst_buffer_copy_into (copy, buffer,
      GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS, 0, -1);

  g_mutex_lock (&self->lock);
  copies = ++self->copies;
  self->copied_bytes += self->info.size;
  g_mutex_unlock (&self->lock);
  gst_dmapipe_copy_report (GST_ELEMENT_CAST (self), copies, "upstream "
      "memory is neither a dma-buf nor a sealed memfd and upstream did not "
      "take this sink's pool", "upstream buffers are not in shareable "
      "memory; each frame is copied (%" G_GSIZE_FORMAT " bytes); see the "
      "copies property", self->info.size);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COPIES]);

  *out = copy;
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_dmapipe_sink_render (GstBaseSink * bsink, GstBuffer * buffer)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);
  struct dmapipe_frame_meta meta;
  GstBuffer *send = NULL;
  GstDmapipeMemRegResult res = GST_DMAPIPE_MEM_REG_REFUSED;
  GstDmapipeMemRegEntry *e = NULL;
  GstDmapipeFrameDesc desc;
  struct dmapipe_buffer *dbuf;
  GstFlowReturn fret;
  guint wait_consumers;
  gboolean shareable, reconfigure;
  gint ret;

  if (!self->have_info)
    return GST_FLOW_NOT_NEGOTIATED;

  GST_OBJECT_LOCK (self);
  wait_consumers = self->wait_consumers;
  GST_OBJECT_UNLOCK (self);

  dmapipe_frame_meta_init (&meta);
  meta.sequence = GST_BUFFER_OFFSET_IS_VALID (buffer) ?
      GST_BUFFER_OFFSET (buffer) : self->sequence;
  meta.timestamp_ns = capture_time (self, buffer);
  if (!GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT))
    meta.flags |= DMAPIPE_FRAME_KEYFRAME;
  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DISCONT))
    meta.flags |= DMAPIPE_FRAME_DISCONTINUITY;
  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_CORRUPTED))
    meta.flags |= DMAPIPE_FRAME_CORRUPTED;
  self->sequence = meta.sequence + 1;

  shareable = gst_dmapipe_frame_desc_from_buffer (&desc, buffer, &self->info,
      self->fourcc);

  g_mutex_lock (&self->lock);
  if (!self->server) {
    g_mutex_unlock (&self->lock);
    return GST_FLOW_FLUSHING;
  }
  fret = gst_dmapipe_sink_wait_ready (self, wait_consumers);
  if (fret != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    return fret;
  }
  /* zero-copy when the memory is shareable as it is */
  if (shareable && !gst_dmapipe_mem_reg_is_refused (self->registry, &desc))
    res = gst_dmapipe_mem_reg_get (self->registry, self->server, &desc,
        self->frames, &e);
  if (res == GST_DMAPIPE_MEM_REG_OK)
    send = gst_buffer_ref (buffer);

  if (res == GST_DMAPIPE_MEM_REG_REFUSED) {
    g_mutex_unlock (&self->lock);
    fret = copy_buffer (self, buffer, &send);
    if (fret != GST_FLOW_OK)
      return fret;
    if (!gst_dmapipe_frame_desc_from_buffer (&desc, send, &self->info,
            self->fourcc)) {
      gst_buffer_unref (send);
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("the sink's own buffer is not fd memory"));
      return GST_FLOW_ERROR;
    }
    g_mutex_lock (&self->lock);
    res = self->server ? gst_dmapipe_mem_reg_get (self->registry,
        self->server, &desc, self->frames, &e) : GST_DMAPIPE_MEM_REG_BUSY;
    if (res == GST_DMAPIPE_MEM_REG_REFUSED) {
      g_mutex_unlock (&self->lock);
      gst_buffer_unref (send);
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("the sink's own buffers are refused by the library"));
      return GST_FLOW_ERROR;
    }
  }

  if (res == GST_DMAPIPE_MEM_REG_OK && gst_dmapipe_mem_reg_entry_is_held (e))
    /* its consumers may have released it into their rings, which wake
     * nobody for a growing pool's buffers: take those releases first */
    dmapipe_server_dispatch (self->server, 0);
  if (res != GST_DMAPIPE_MEM_REG_OK
      || gst_dmapipe_mem_reg_entry_is_held (e)) {
    /* the same memory is still with a consumer (upstream pushed it again),
     * or no room to register it: this frame cannot be shown */
    GST_DEBUG_OBJECT (self, "frame %" G_GUINT64_FORMAT " dropped: its memory "
        "is busy", meta.sequence);
    self->own_drops++;
    g_mutex_unlock (&self->lock);
    gst_clear_buffer (&send);
    return GST_FLOW_OK;
  }

  reconfigure = self->reconfigure;
  self->reconfigure = FALSE;
  gst_dmapipe_sink_release_wakeups (self, send);
  dbuf = gst_dmapipe_mem_reg_entry_hold (e, send, self->frames);
  self->started = TRUE;
  /* on_buffer_idle() takes @send back inside when no consumer takes it */
  ret = dmapipe_server_queue (self->server, dmapipe_buffer_ref (dbuf), &meta);
  if (ret < 0) {
    GST_WARNING_OBJECT (self, "queue: %s", g_strerror (-ret));
    gst_dmapipe_mem_reg_entry_release (self->registry, e);
    self->own_drops++;
  } else {
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " queued for %d "
        "consumer(s)", meta.sequence, ret);
  }
  self->frames++;
  gst_dmapipe_mem_reg_collect (self->registry, self->server, self->frames);
  gst_dmapipe_mem_reg_steal_idle (self->registry, self->render_idle);
  g_mutex_unlock (&self->lock);
  gst_dmapipe_buffers_unref (self->render_idle);
  if (reconfigure) {
    /* upstream asks again at its next buffer and gets a pool for the
     * consumers (propose_allocation); frames out stay valid, and the old
     * buffers leave the server as upstream stops using them */
    GST_INFO_OBJECT (self, "asking upstream for new buffers");
    gst_pad_push_event (GST_BASE_SINK_PAD (self),
        gst_event_new_reconfigure ());
  }
  return GST_FLOW_OK;
}

static void
post_stats (GstDmapipeSink * self)
{
  struct dmapipe_server_stats stats;
  GstStructure *s;

  g_mutex_lock (&self->lock);
  if (!self->server) {
    g_mutex_unlock (&self->lock);
    return;
  }
  dmapipe_server_get_stats (self->server, &stats);
  s = gst_structure_new ("dmapipesink-stats",
      "frames", G_TYPE_UINT64, self->frames,
      "drops", G_TYPE_UINT64, stats.frames_dropped + self->own_drops,
      "copies", G_TYPE_UINT64, self->copies,
      "copied-bytes", G_TYPE_UINT64, self->copied_bytes,
      "consumers-total", G_TYPE_UINT64, stats.consumers_total,
      "lease-timeouts", G_TYPE_UINT64, stats.lease_timeouts,
      "ring-wakeups", G_TYPE_UINT64, stats.ring_wakeups,
      "memory", G_TYPE_STRING, dmapipe_mem_kind_to_string (stats.mem_kind),
      NULL);
  g_mutex_unlock (&self->lock);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static gboolean
gst_dmapipe_sink_event (GstBaseSink * bsink, GstEvent * event)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (bsink);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      gst_dmapipe_sink_drain_and_end (self);
      post_stats (self);
      break;
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_STREAM_START:
      /* the library ends a stream for good at EOS: after a flushing seek
       * or a new stream, consumers reconnect to a fresh one */
      if (self->eos_sent) {
        GST_INFO_OBJECT (self, "new stream after EOS: restarting the server");
        gst_dmapipe_sink_server_stop (self);
        if (!gst_dmapipe_sink_server_start (self)) {
          gst_event_unref (event);
          return FALSE;
        }
      }
      break;
    default:
      break;
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (bsink, event);
}

/* ---- GObject ------------------------------------------------------------- */

static void
gst_dmapipe_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_free (self->socket_path);
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_SOCKET_MODE:
      self->socket_mode = g_value_get_uint (value);
      break;
    case PROP_SOCKET_GROUP:
      g_free (self->socket_group);
      self->socket_group = g_value_dup_string (value);
      break;
    case PROP_PEER_POLICY:
      g_free (self->peer_policy);
      self->peer_policy = g_value_dup_string (value);
      break;
    case PROP_ALLOCATOR:
      g_free (self->allocator_name);
      self->allocator_name = g_value_dup_string (value);
      break;
    case PROP_LEASE_TIMEOUT:
      self->lease_timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_CONSUMERS:
      self->max_consumers = g_value_get_uint (value);
      break;
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_uint (value);
      break;
    case PROP_WAIT_CONSUMERS:
      self->wait_consumers = g_value_get_uint (value);
      break;
    case PROP_DRAIN_TIMEOUT:
      self->drain_timeout = g_value_get_uint (value);
      break;
    case PROP_STRIDE_ALIGN:
      self->stride_align = g_value_get_uint (value);
      break;
    case PROP_STRICT:
      self->strict = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_dmapipe_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (object);
  struct dmapipe_server_stats stats;

  switch (prop_id) {
    case PROP_FRAMES:
    case PROP_DROPS:
    case PROP_COPIES:
    case PROP_CONSUMERS:
      g_mutex_lock (&self->lock);
      memset (&stats, 0, sizeof (stats));
      if (self->server)
        dmapipe_server_get_stats (self->server, &stats);
      if (prop_id == PROP_FRAMES)
        g_value_set_uint64 (value, self->frames);
      else if (prop_id == PROP_DROPS)
        g_value_set_uint64 (value, stats.frames_dropped + self->own_drops);
      else if (prop_id == PROP_COPIES)
        g_value_set_uint64 (value, self->copies);
      else
        g_value_set_uint (value, stats.consumers);
      g_mutex_unlock (&self->lock);
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_SOCKET_MODE:
      g_value_set_uint (value, self->socket_mode);
      break;
    case PROP_SOCKET_GROUP:
      g_value_set_string (value, self->socket_group);
      break;
    case PROP_PEER_POLICY:
      g_value_set_string (value, self->peer_policy);
      break;
    case PROP_ALLOCATOR:
      g_value_set_string (value, self->allocator_name);
      break;
    case PROP_LEASE_TIMEOUT:
      g_value_set_uint (value, self->lease_timeout);
      break;
    case PROP_MAX_CONSUMERS:
      g_value_set_uint (value, self->max_consumers);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    case PROP_WAIT_CONSUMERS:
      g_value_set_uint (value, self->wait_consumers);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint (value, self->drain_timeout);
      break;
    case PROP_STRIDE_ALIGN:
      g_value_set_uint (value, self->stride_align);
      break;
    case PROP_STRICT:
      g_value_set_boolean (value, self->strict);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_dmapipe_sink_finalize (GObject * object)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (object);

  g_free (self->socket_path);
  g_free (self->socket_group);
  g_free (self->peer_policy);
  g_free (self->allocator_name);
  gst_dmapipe_mem_reg_free (self->registry);
  g_ptr_array_free (self->render_idle, TRUE);
  gst_clear_object (&self->proposed_pool);
  if (self->wake_fd >= 0)
    close (self->wake_fd);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_dmapipe_sink_init (GstDmapipeSink * self)
{
  self->socket_path = g_strdup (DEFAULT_SOCKET_PATH);
  self->socket_mode = DEFAULT_SOCKET_MODE;
  self->socket_group = g_strdup (DEFAULT_SOCKET_GROUP);
  self->peer_policy = g_strdup (DEFAULT_PEER_POLICY);
  self->allocator_name = g_strdup (DEFAULT_ALLOCATOR);
  self->lease_timeout = DEFAULT_LEASE_TIMEOUT;
  self->max_consumers = DEFAULT_MAX_CONSUMERS;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->wait_consumers = DEFAULT_WAIT_CONSUMERS;
  self->drain_timeout = DEFAULT_DRAIN_TIMEOUT;
  self->stride_align = DEFAULT_STRIDE_ALIGN;
  self->strict = DEFAULT_STRICT;

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->registry = gst_dmapipe_mem_reg_new (GST_OBJECT_CAST (self));
  self->render_idle = g_ptr_array_new ();
  self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->wake_fd < 0)
    GST_ERROR_OBJECT (self, "eventfd: %s", g_strerror (errno));

  /* a sink that holds frames for consumers should not pin one more */
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static void
gst_dmapipe_sink_class_init (GstDmapipeSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  GstCaps *caps;

  gobject_class->set_property = gst_dmapipe_sink_set_property;
  gobject_class->get_property = gst_dmapipe_sink_get_property;
  gobject_class->finalize = gst_dmapipe_sink_finalize;

  properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "Unix socket to serve on: a filesystem path (with a /), "
      "@name for the abstract namespace, or a bare NAME: the stream NAME in "
      "the default directory ($XDG_RUNTIME_DIR/dmapipe, /run/dmapipe for "
      "root, else /tmp/dmapipe-UID), as dmapipe serve --socket NAME. A "
      "socket left by a crashed producer is replaced; a live producer's is "
      "not", DEFAULT_SOCKET_PATH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_SOCKET_MODE] = g_param_spec_uint ("socket-mode",
      "Socket mode", "Permissions of a filesystem socket: who may open it at "
      "all (0600 must stay in it). Another user needs it and peer-policy: "
      "e.g. socket-mode=0666 peer-policy=any", 0600, 0777,
      DEFAULT_SOCKET_MODE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_SOCKET_GROUP] = g_param_spec_string ("socket-group",
      "Socket group", "The filesystem socket's group, a name or a number "
      "(NULL: this user's)", DEFAULT_SOCKET_GROUP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_PEER_POLICY] = g_param_spec_string ("peer-policy",
      "Peer policy", "Which consumers are served, by their SO_PEERCRED: "
      "same-uid (this user and root), any, uid:N or gid:N (on a filesystem "
      "socket, socket-mode and socket-group decide first who may open it)",
      DEFAULT_PEER_POLICY,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_ALLOCATOR] = g_param_spec_string ("allocator",
      "Allocator", "Where the buffers this sink offers upstream come from: "
      "heap, udmabuf, drm, memfd, dmapipe; NULL: the first that works here "
      "(memfd buffers are not dma-bufs)", DEFAULT_ALLOCATOR,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_LEASE_TIMEOUT] = g_param_spec_uint ("lease-timeout",
      "Lease timeout", "A consumer that holds a frame longer than this many "
      "milliseconds is disconnected and its frames return (0 = never)",
      0, G_MAXUINT, DEFAULT_LEASE_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_MAX_CONSUMERS] = g_param_spec_uint ("max-consumers",
      "Max consumers", "Consumers served at once; more are refused",
      1, 1024, DEFAULT_MAX_CONSUMERS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_MAX_IN_FLIGHT] = g_param_spec_uint ("max-in-flight",
      "Max in flight", "Frames one consumer may hold at once",
      1, 16, DEFAULT_MAX_IN_FLIGHT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_WAIT_CONSUMERS] = g_param_spec_uint ("wait-consumers",
      "Wait for consumers", "Hold the first frame until this many consumers "
      "are connected (0 = start at once)", 0, 1024, DEFAULT_WAIT_CONSUMERS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[PROP_DRAIN_TIMEOUT] = g_param_spec_uint ("drain-timeout",
      "Drain timeout", "At end of stream, wait up to this many milliseconds "
      "for consumers to receive the frames queued for them and the EOS, and "
      "to release the frames they hold", 0, G_MAXUINT,
      DEFAULT_DRAIN_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[PROP_STRIDE_ALIGN] = g_param_spec_uint ("stride-align",
      "Stride alignment", "Align the rows of the buffers offered upstream to "
      "this many bytes, e.g. for an encoder in a consumer process (a power "
      "of two; 0 = GStreamer's default layout)", 0, 4096, DEFAULT_STRIDE_ALIGN,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_STRICT] = g_param_spec_boolean ("strict", "Strict",
      "Fail instead of copying a frame whose memory cannot be shared",
      DEFAULT_STRICT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[PROP_FRAMES] = g_param_spec_uint64 ("frames", "Frames",
      "Frames served", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DROPS] = g_param_spec_uint64 ("drops", "Drops",
      "Frames consumers did not get: dropped by their policy (latest, "
      "queue) or because the frame's memory was still held",
      0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_COPIES] = g_param_spec_uint64 ("copies", "Copies",
      "Frames whose pixels were copied (0 = zero-copy)", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONSUMERS] = g_param_spec_uint ("consumers", "Consumers",
      "Consumers connected now", 0, G_MAXUINT, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  /* the form is chosen once per process, when the class is made */
  caps = gst_dmapipe_template_caps (gst_dmapipe_dma_drm_enabled ());
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);
  gst_element_class_set_static_metadata (element_class,
      "dmapipe sink", "Sink/Video",
      "Serves video frames to other processes as dma-bufs (or sealed "
      "memfds) over a unix socket without copying pixels: each buffer's fds "
      "cross once per consumer, every frame is a small message; offers "
      "upstream a pool of shareable buffers; copies only what cannot be "
      "shared, counted (copies), or refuses (strict); consumers that fall "
      "behind lose frames instead of stalling the pipeline",
      "dmapipe developers");
  gst_element_class_add_static_metadata (element_class, "example",
      "gst-launch-1.0 videotestsrc ! video/x-raw,format=NV12,width=1920,"
      "height=1080 ! dmapipesink socket-path=/tmp/camera.sock");
  gst_element_class_add_static_metadata (element_class, "example-camera",
      "gst-launch-1.0 v4l2src device=/dev/video0 io-mode=dmabuf ! "
      "dmapipesink socket-path=@camera");
  gst_element_class_add_static_metadata (element_class, "example-consumer",
      "gst-launch-1.0 dmapipesrc socket-path=/tmp/camera.sock ! videoconvert "
      "! autovideosink   (or: dmapipe consume --socket /tmp/camera.sock)");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_stop);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_unlock_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_set_caps);
  basesink_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_dmapipe_sink_propose_allocation);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_render);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_dmapipe_sink_event);

  GST_DEBUG_CATEGORY_INIT (gst_dmapipe_sink_debug, "dmapipesink", 0,
      "dmapipe sink");
}
