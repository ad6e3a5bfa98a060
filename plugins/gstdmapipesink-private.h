/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What dmapipesink's files share: the element's instance struct, and the
 * server side (gstdmapipesinkserver.c) that the element's methods
 * (gstdmapipesink.c) call.
 */
#ifndef __GST_DMAPIPE_SINK_PRIVATE_H__
#define __GST_DMAPIPE_SINK_PRIVATE_H__

#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#include "gstdmapipeclock.h"
#include "gstdmapipememreg.h"
#include "gstdmapipesink.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_dmapipe_sink_debug);

/* How long a consumer whose constraints upstream's buffers miss waits for
 * buffers of the new pool (dmapipe_server_options.app_reallocates_ms):
 * upstream takes it at its next buffer after the RECONFIGURE, and the
 * library tells a change within a second of the one before it. */
#define GST_DMAPIPE_SINK_REALLOC_WAIT_MS 2000

struct _GstDmapipeSink
{
  GstBaseSink parent;

  /* properties, GST_OBJECT_LOCK */
  gchar *socket_path;
  guint socket_mode;
  gchar *socket_group;
  gchar *peer_policy;
  gchar *allocator_name;
  guint lease_timeout;
  guint max_consumers;
  guint max_in_flight;
  guint wait_consumers;
  guint drain_timeout;
  guint stride_align;
  gboolean strict;

  /* streaming thread only */
  GstVideoInfo info;
  gboolean have_info;
  guint32 fourcc;
  GstBufferPool *copy_pool;
  struct dmapipe_layout copy_layout;    /* of copy_pool's buffers */
  gboolean copy_is_drm;
  GstDmapipeClockCheck clock_check;

  /* set in start(), cleared in stop() */
  struct dmapipe_allocator *allocator;
  struct dmapipe_allocator *drm_allocator;     /* opened when a consumer
                                                 * imports into a DRM device */

  /* The server is not thread-safe: the streaming thread and the dispatch
   * thread use it under @lock. @cond is signalled after every dispatch
   * and on unlock(). Lock order: GST_OBJECT_LOCK is never taken inside. */
  GMutex lock;
  GCond cond;
  struct dmapipe_server *server;
  gboolean have_format_info;    /* from the caps: a new server tells it too */
  struct dmapipe_format_info format_info;
  GstDmapipeMemReg *registry;
  GPtrArray *render_idle;       /* streaming thread: the registry's idle
                                 * buffers, unref'd after render() unlocks */
  guint waiters;                /* threads in g_cond_wait*() on @cond */
  /* the consumers' merged constraints (the server's callback), and what
   * the pool proposed last was made for: the pool follows the first, and
   * render() sends RECONFIGURE upstream when the second falls short */
  struct dmapipe_constraints constraints;
  gboolean have_pool_layout;
  struct dmapipe_layout pool_layout;
  GstBufferPool *proposed_pool; /* the last pool proposed upstream (a
                                 * reference: render() compares pointers) */
  gboolean pool_is_drm;
  gboolean reconfigure;
  gboolean flushing;
  gboolean eos_sent;
  gboolean started;             /* a frame was queued since start */
  gboolean wake_every;          /* every release wakes the dispatch thread
                                 * (gst_dmapipe_sink_release_wakeups()) */
  guint upstream_waits;         /* threads asleep in the proposed pool's
                                 * acquire (gst_dmapipe_sink_pool_wait()) */
  gboolean draining;            /* in gst_dmapipe_sink_drain_and_end() */
  guint64 frames;
  guint64 own_drops;            /* frames this element could not queue */
  guint64 copies;
  guint64 copied_bytes;
  guint64 sequence;

  GThread *thread;
  gint wake_fd;                 /* eventfd: stops the dispatch thread */
  gint thread_stop;
};

/* Opens the server on #socket-path and starts its dispatch thread; posts an
 * element error and returns FALSE on failure. */
gboolean gst_dmapipe_sink_server_start (GstDmapipeSink * self);

/* Under self->lock: whether a pool of @layout (@is_drm: from the drm
 * allocator) serves consumers with the merged @constraints. */
gboolean gst_dmapipe_sink_pool_serves (const struct dmapipe_layout *layout,
    gboolean is_drm, const struct dmapipe_constraints *constraints);

/* Stops the dispatch thread, ends the stream at once and frees the server
 * and what the registry held. */
void gst_dmapipe_sink_server_stop (GstDmapipeSink * self);

/* The pool the sink proposes upstream reclaims through these
 * (gst_dmapipe_buffer_pool_set_reclaim()); they take self->lock. */
gboolean gst_dmapipe_sink_pool_reclaim (GObject * owner);
void gst_dmapipe_sink_pool_wait (GObject * owner, gboolean waiting);

/* Whether releases wake the dispatch thread, after the buffer render()
 * sends (a pool that grows or not); with self->lock held. */
void gst_dmapipe_sink_release_wakeups (GstDmapipeSink * self,
    GstBuffer * send);

/* Under self->lock: waits for #wait-consumers before the first frame and
 * for room at block-policy consumers; GST_FLOW_FLUSHING on a flush. */
GstFlowReturn gst_dmapipe_sink_wait_ready (GstDmapipeSink * self,
    guint wait_consumers);

/* At EOS, within #drain-timeout: queued frames, then EOS, then releases. */
void gst_dmapipe_sink_drain_and_end (GstDmapipeSink * self);

G_END_DECLS

#endif /* __GST_DMAPIPE_SINK_PRIVATE_H__ */
