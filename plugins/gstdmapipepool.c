/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Ownership: each GstMemory owns a dup of the dmapipe buffer's fd (closed
 * when the memory is freed) and holds the dmapipe buffer itself as qdata,
 * so the allocator's per-buffer state (a GEM handle, a udmabuf's memfd)
 * lives exactly as long as the memory. Memories are created with
 * GST_FD_MEMORY_FLAG_KEEP_MAPPED and pre-faulted: the first map of a fresh
 * 4K frame costs about 10 ms of page faults, so a pool buffer is mapped once,
 * at allocation, and stays mapped while the pool recycles it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstdmapipeformat.h"
#include "gstdmapipepool.h"

GST_DEBUG_CATEGORY_STATIC (gst_dmapipe_buffer_pool_debug);
#define GST_CAT_DEFAULT gst_dmapipe_buffer_pool_debug

struct _GstDmapipeBufferPool
{
  GstBufferPool parent;

  struct dmapipe_allocator *allocator;
  GstAllocator *gst_allocator;  /* dmabuf or fd, after the allocator's kind */

  GstVideoInfo info;
  GstVideoAlignment align;
  gboolean add_videometa;
  struct dmapipe_layout layout;
  gboolean configured;
  gboolean grows;               /* configured with max 0 */

  /* plane offsets consumers ask (dmapipe_constraints.offset_align) */
  guint offset_align[DMAPIPE_MAX_PLANES];

  /* gst_dmapipe_buffer_pool_set_reclaim(): set before the pool is shared */
  GWeakRef owner;
  GstDmapipePoolReclaimFunc reclaim;
  GstDmapipePoolWaitFunc wait;
};

G_DEFINE_TYPE (GstDmapipeBufferPool, gst_dmapipe_buffer_pool,
    GST_TYPE_BUFFER_POOL);

static GQuark dmapipe_buffer_quark;

static const gchar **
gst_dmapipe_buffer_pool_get_options (GstBufferPool * pool)
{
  static const gchar *options[] = {
    GST_BUFFER_POOL_OPTION_VIDEO_META,
    GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT,
    NULL
  };

  return options;
}

/* Moves each plane of @info to the first offset its consumers' alignment
 * allows after the plane before it; the planes keep their sizes. Offsets
 * travel in the GstVideoMeta, which GstVideoAlignment cannot move. */
static void
align_offsets (GstDmapipeBufferPool * self, GstVideoInfo * info)
{
  gsize size[GST_VIDEO_MAX_PLANES], end = 0;
  guint n = GST_VIDEO_INFO_N_PLANES (info), p;

  for (p = 0; p < n; p++)
    size[p] = (p + 1 < n ? info->offset[p + 1] : info->size) - info->offset[p];
  for (p = 0; p < n; p++) {
    guint a = p < DMAPIPE_MAX_PLANES ? self->offset_align[p] : 0;

    info->offset[p] = a > 1 ? (end + a - 1) / a * a : end;
    end = info->offset[p] + size[p];
  }
  info->size = end;
}

static gboolean
gst_dmapipe_buffer_pool_set_config (GstBufferPool * pool,
    GstStructure * config)
{
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (pool);
  GstVideoInfo info;
  GstCaps *caps;
  guint min, max;

  if (!gst_buffer_pool_config_get_params (config, &caps, NULL, &min, &max)
      || caps == NULL) {
    GST_WARNING_OBJECT (pool, "no caps in config");
    return FALSE;
  }
  if (!gst_dmapipe_video_info_from_caps (&info, NULL, caps)) {
    GST_WARNING_OBJECT (pool, "caps are not video: %" GST_PTR_FORMAT, caps);
    return FALSE;
  }

  self->add_videometa = gst_buffer_pool_config_has_option (config,
      GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_video_alignment_reset (&self->align);
  /* strides other than GStreamer's default need a GstVideoMeta to be seen */
  if (self->add_videometa && gst_buffer_pool_config_has_option (config,
          GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT)) {
    gst_buffer_pool_config_get_video_alignment (config, &self->align);
    if (!gst_video_info_align (&info, &self->align)) {
      GST_WARNING_OBJECT (pool, "cannot align %" GST_PTR_FORMAT, caps);
      return FALSE;
    }
    gst_buffer_pool_config_set_video_alignment (config, &self->align);
  }

  if (self->add_videometa)
    align_offsets (self, &info);
  if (!gst_dmapipe_layout_from_video_info (&info, &self->layout)) {
    GST_WARNING_OBJECT (pool, "format %s cannot be described to dmapipe",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)));
    return FALSE;
  }
  self->info = info;
  self->configured = TRUE;
  g_atomic_int_set (&self->grows, max == 0);

  gst_buffer_pool_config_set_params (config, caps, info.size, min, max);
  GST_DEBUG_OBJECT (pool, "%s %dx%d, %" G_GSIZE_FORMAT " bytes, from %s (%s)",
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)),
      GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info), info.size,
      dmapipe_allocator_get_name (self->allocator),
      dmapipe_mem_kind_to_string (dmapipe_allocator_get_mem_kind
          (self->allocator)));

  return GST_BUFFER_POOL_CLASS (gst_dmapipe_buffer_pool_parent_class)->
      set_config (pool, config);
}

/*
 * Maps the new memory once (it stays mapped) and faults its pages in with
 * one madvise() instead of one trap per 4 KiB page while the producer draws
 * its first frame into it: ~3000 traps for a 4K NV12 frame, most of the
 * ~10 ms a fresh frame otherwise costs. Best effort: a mapping that cannot
 * be populated (PFN-mapped dma-bufs, older kernels) faults as usual.
 */
static void
prefault (GstBufferPool * pool, GstMemory * mem)
{
#ifdef MADV_POPULATE_WRITE
  GstMapInfo map;
  guintptr start, end;
  gsize page = (gsize) sysconf (_SC_PAGESIZE);

  if (!gst_memory_map (mem, &map, GST_MAP_READWRITE))
    return;
  start = (guintptr) map.data & ~(guintptr) (page - 1);
  end = ((guintptr) map.data + map.maxsize + page - 1) & ~(guintptr) (page - 1);
  if (madvise ((void *) start, end - start, MADV_POPULATE_WRITE) < 0)
    GST_DEBUG_OBJECT (pool, "madvise(MADV_POPULATE_WRITE): %s",
        g_strerror (errno));
  gst_memory_unmap (mem, &map);
#endif
}

static GstFlowReturn
gst_dmapipe_buffer_pool_alloc_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params)
{
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (pool);
  const struct dmapipe_layout *layout;
  struct dmapipe_buffer *dbuf;
  GstMemory *mem;
  GstBuffer *buf;
  gsize size;
  int fd;

  dbuf = dmapipe_allocator_alloc_layout (self->allocator, &self->layout);
  if (!dbuf) {
    GST_ERROR_OBJECT (pool, "allocating %" G_GUINT64_FORMAT " bytes from %s "
        "failed: %s", self->layout.objects[0].size,
        dmapipe_allocator_get_name (self->allocator), g_strerror (errno));
    return GST_FLOW_ERROR;
  }
  layout = dmapipe_buffer_get_layout (dbuf);
  size = layout->objects[0].size;
  fd = fcntl (layout->objects[0].fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) {
    GST_ERROR_OBJECT (pool, "dup: %s", g_strerror (errno));
    dmapipe_buffer_unref (dbuf);
    return GST_FLOW_ERROR;
  }

  /* the memory owns the dup'ed fd from here on */
  mem = gst_fd_allocator_alloc (self->gst_allocator, fd, size,
      GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  if (!mem) {
    close (fd);
    dmapipe_buffer_unref (dbuf);
    return GST_FLOW_ERROR;
  }
  gst_memory_resize (mem, 0, self->info.size);
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), dmapipe_buffer_quark,
      dbuf, (GDestroyNotify) dmapipe_buffer_unref);
  prefault (pool, mem);

  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  if (self->add_videometa) {
    GstVideoMeta *meta = gst_buffer_add_video_meta_full (buf,
        GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT (&self->info),
        GST_VIDEO_INFO_WIDTH (&self->info), GST_VIDEO_INFO_HEIGHT (&self->info),
        GST_VIDEO_INFO_N_PLANES (&self->info), self->info.offset,
        self->info.stride);

    gst_video_meta_set_alignment (meta, self->align);
  }

  *buffer = buf;
  return GST_FLOW_OK;
}

/*
 * A buffer at once if one is free (or the pool may allocate one). An empty
 * pool first asks its owner for the buffers its consumers released
 * meanwhile; only then does a DONTWAIT acquire fail, or a blocking one
 * sleep, with its owner told to give buffers back as they come.
 */
static GstFlowReturn
gst_dmapipe_buffer_pool_acquire_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params)
{
  GstBufferPoolClass *parent =
      GST_BUFFER_POOL_CLASS (gst_dmapipe_buffer_pool_parent_class);
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (pool);
  GstBufferPoolAcquireParams now = { 0, };
  GstFlowReturn ret;
  GObject *owner;

  if (!self->reclaim)
    return parent->acquire_buffer (pool, buffer, params);
  if (params)
    now = *params;
  now.flags |= GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT;
  ret = parent->acquire_buffer (pool, buffer, &now);
  /* GST_FLOW_EOS: empty, and at its maximum */
  if (ret != GST_FLOW_EOS)
    return ret;
  owner = g_weak_ref_get (&self->owner);
  if (!owner)
    return parent->acquire_buffer (pool, buffer, params);

  if (self->reclaim (owner))
    ret = parent->acquire_buffer (pool, buffer, &now);
  if (ret == GST_FLOW_EOS && !(params
          && (params->flags & GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT))) {
    GST_LOG_OBJECT (pool, "empty: waiting for a consumer's release");
    self->wait (owner, TRUE);
    /* what was released before the owner heard that we wait */
    if (self->reclaim (owner))
      ret = parent->acquire_buffer (pool, buffer, &now);
    if (ret == GST_FLOW_EOS)
      ret = parent->acquire_buffer (pool, buffer, params);
    self->wait (owner, FALSE);
  }
  g_object_unref (owner);
  return ret;
}

static void
gst_dmapipe_buffer_pool_finalize (GObject * object)
{
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (object);

  g_weak_ref_clear (&self->owner);
  dmapipe_allocator_unref (self->allocator);
  if (self->gst_allocator)
    gst_object_unref (self->gst_allocator);

  G_OBJECT_CLASS (gst_dmapipe_buffer_pool_parent_class)->finalize (object);
}

static void
gst_dmapipe_buffer_pool_class_init (GstDmapipeBufferPoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_dmapipe_buffer_pool_finalize;
  pool_class->get_options = gst_dmapipe_buffer_pool_get_options;
  pool_class->set_config = gst_dmapipe_buffer_pool_set_config;
  pool_class->alloc_buffer = gst_dmapipe_buffer_pool_alloc_buffer;
  pool_class->acquire_buffer = gst_dmapipe_buffer_pool_acquire_buffer;

  dmapipe_buffer_quark = g_quark_from_static_string ("GstDmapipeBuffer");
  GST_DEBUG_CATEGORY_INIT (gst_dmapipe_buffer_pool_debug, "dmapipepool", 0,
      "dmapipe buffer pool");
}

static void
gst_dmapipe_buffer_pool_init (GstDmapipeBufferPool * self)
{
  gst_video_info_init (&self->info);
  g_weak_ref_init (&self->owner, NULL);
}

GstBufferPool *
gst_dmapipe_buffer_pool_new (struct dmapipe_allocator *allocator)
{
  GstDmapipeBufferPool *self;

  g_return_val_if_fail (allocator != NULL, NULL);

  self = g_object_new (GST_TYPE_DMAPIPE_BUFFER_POOL, NULL);
  gst_object_ref_sink (self);
  self->allocator = dmapipe_allocator_ref (allocator);
  if (dmapipe_allocator_get_mem_kind (allocator) == DMAPIPE_MEM_DMABUF)
    self->gst_allocator = gst_dmabuf_allocator_new ();
  else
    self->gst_allocator = gst_fd_allocator_new ();

  return GST_BUFFER_POOL_CAST (self);
}

GstBufferPool *
gst_dmapipe_buffer_pool_new_configured (struct dmapipe_allocator *allocator,
    GstCaps * caps, guint size, guint min, gboolean videometa,
    guint stride_align, const struct dmapipe_constraints *constraints)
{
  GstBufferPool *pool = gst_dmapipe_buffer_pool_new (allocator);
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (pool);
  GstStructure *config = gst_buffer_pool_get_config (pool);

  gst_buffer_pool_config_set_params (config, caps, size, min, 0);
  if (videometa) {
    GstVideoAlignment valign;
    gboolean aligned = FALSE;
    guint i;

    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    gst_video_alignment_reset (&valign);
    for (i = 0; i < GST_VIDEO_MAX_PLANES; i++) {
      /* powers of two: the larger is a multiple of the other */
      guint a = stride_align;

      if (constraints && i < DMAPIPE_MAX_PLANES)
        a = MAX (a, constraints->stride_align[i]);
      if (a > 1) {
        valign.stride_align[i] = a - 1;
        aligned = TRUE;
      }
    }
    if (aligned) {
      gst_buffer_pool_config_add_option (config,
          GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
      gst_buffer_pool_config_set_video_alignment (config, &valign);
    }
    if (constraints)
      memcpy (self->offset_align, constraints->offset_align,
          sizeof (self->offset_align));
  }
  if (!gst_buffer_pool_set_config (pool, config)) {
    gst_object_unref (pool);
    return NULL;
  }
  return pool;
}

gboolean
gst_dmapipe_buffer_pool_get_layout (GstBufferPool * pool,
    struct dmapipe_layout *layout)
{
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (pool);

  if (!self->configured)
    return FALSE;
  *layout = self->layout;
  return TRUE;
}

gboolean
gst_dmapipe_buffer_pool_grows (GstBufferPool * pool)
{
  return GST_IS_DMAPIPE_BUFFER_POOL (pool)
      && g_atomic_int_get (&GST_DMAPIPE_BUFFER_POOL (pool)->grows);
}

void
gst_dmapipe_buffer_pool_set_reclaim (GstBufferPool * pool, GObject * owner,
    GstDmapipePoolReclaimFunc reclaim, GstDmapipePoolWaitFunc wait)
{
  GstDmapipeBufferPool *self = GST_DMAPIPE_BUFFER_POOL (pool);

  g_return_if_fail (reclaim != NULL && wait != NULL);
  g_weak_ref_set (&self->owner, owner);
  self->reclaim = reclaim;
  self->wait = wait;
}

struct dmapipe_allocator *
gst_dmapipe_buffer_pool_get_allocator (GstBufferPool * pool)
{
  return GST_DMAPIPE_BUFFER_POOL (pool)->allocator;
}

struct dmapipe_buffer *
gst_dmapipe_memory_get_buffer (GstMemory * mem)
{
  if (!dmapipe_buffer_quark)
    return NULL;
  return gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem),
      dmapipe_buffer_quark);
}
