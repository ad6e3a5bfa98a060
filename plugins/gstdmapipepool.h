/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A GstBufferPool whose buffers live in shareable memory: each buffer is one
 * dmapipe buffer (dma-buf, or sealed memfd on machines without a dma-buf
 * provider) wrapped as GstDmaBufMemory or GstFdMemory, with GstVideoMeta
 * carrying its strides. dmapipesink offers it upstream so that software
 * producers draw straight into memory other processes can map.
 */
#ifndef __GST_DMAPIPE_POOL_H__
#define __GST_DMAPIPE_POOL_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

G_BEGIN_DECLS

#define GST_TYPE_DMAPIPE_BUFFER_POOL (gst_dmapipe_buffer_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstDmapipeBufferPool, gst_dmapipe_buffer_pool,
    GST, DMAPIPE_BUFFER_POOL, GstBufferPool);

/* A pool allocating from @allocator (it keeps a reference). Configure it
 * with video caps; GST_BUFFER_POOL_OPTION_VIDEO_META and
 * GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT are honoured. */
GstBufferPool *gst_dmapipe_buffer_pool_new (struct dmapipe_allocator *allocator);

/* A pool from @allocator configured for @caps: @size-byte buffers, @min of
 * them allocated up front, no maximum. With @videometa its buffers carry
 * GstVideoMeta and, if @stride_align is above 1, rows aligned to that many
 * bytes (a power of two); with @constraints (consumers' merged constraints,
 * copied; NULL for none) also every plane's stride and offset aligned as
 * they ask, together with @stride_align. NULL when the configuration is
 * refused; the caller owns the pool. */
GstBufferPool *
gst_dmapipe_buffer_pool_new_configured (struct dmapipe_allocator * allocator,
    GstCaps * caps, guint size, guint min, gboolean videometa,
    guint stride_align, const struct dmapipe_constraints * constraints);

/* The layout of @pool's buffers (fds -1) once configured: FALSE before. */
gboolean gst_dmapipe_buffer_pool_get_layout (GstBufferPool * pool,
    struct dmapipe_layout * layout);

/* Whether @pool is a dmapipe pool configured without a maximum: one that
 * allocates a buffer when none is free, so that none of its users ever
 * waits for a buffer to come back. */
gboolean gst_dmapipe_buffer_pool_grows (GstBufferPool * pool);

/*
 * The buffers of a pool its user hands to other processes come back when
 * those processes release them, which the user learns on its own time.
 * @reclaim(@owner) takes the releases made so far and gives their buffers
 * back to the pool (TRUE when it gave any); @wait(@owner, TRUE) says that
 * a caller of acquire found the pool empty and is about to sleep until a
 * buffer comes back, @wait(@owner, FALSE) that it stopped waiting. An
 * acquire that finds the pool empty calls @reclaim and tries again before
 * it fails (DONTWAIT) or sleeps, and brackets its sleep with @wait, with a
 * last @reclaim inside: so the owner need not give buffers back the moment
 * they are released, only while someone waits. @owner is held weakly: once
 * it is gone, acquire behaves as GstBufferPool's own. Set it once, before
 * the pool is handed out.
 */
typedef gboolean (*GstDmapipePoolReclaimFunc) (GObject * owner);
typedef void (*GstDmapipePoolWaitFunc) (GObject * owner, gboolean waiting);

void gst_dmapipe_buffer_pool_set_reclaim (GstBufferPool * pool,
    GObject * owner, GstDmapipePoolReclaimFunc reclaim,
    GstDmapipePoolWaitFunc wait);

/* The allocator @pool's buffers come from (no reference added). */
struct dmapipe_allocator *gst_dmapipe_buffer_pool_get_allocator (GstBufferPool
    * pool);

/* The dmapipe buffer behind @mem if this pool made it (no reference is
 * added; valid as long as @mem), else NULL. */
struct dmapipe_buffer *gst_dmapipe_memory_get_buffer (GstMemory * mem);

G_END_DECLS

#endif /* __GST_DMAPIPE_POOL_H__ */
