/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesink's memory registry: which memory objects (dma-bufs, sealed
 * memfds) of upstream's buffers are registered with the sink's dmapipe
 * server, and which GstBuffer each registration holds for its consumers.
 * The lifetime rules are at the top of gstdmapipememreg.c.
 *
 * Not thread-safe: between _new() and _free(), every gst_dmapipe_mem_reg_*()
 * call is made under the lock that also guards the server (the sink's);
 * gst_dmapipe_frame_desc_from_buffer() and gst_dmapipe_buffers_unref()
 * are made without it.
 */
#ifndef __GST_DMAPIPE_MEM_REG_H__
#define __GST_DMAPIPE_MEM_REG_H__

#include <sys/types.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

G_BEGIN_DECLS

/* A memory object as the kernel knows it: the same object behind two fds,
 * or two GstMemory, has one key. */
typedef struct
{
  dev_t dev;
  ino_t ino;
} GstDmapipeObjectKey;

/* Where a GstBuffer's pixels are: the layout, and per object its key and
 * the fd of the GstMemory holding it (borrowed: valid while the buffer
 * is; layout.objects[].fd are -1). */
typedef struct
{
  struct dmapipe_layout layout;
  GstDmapipeObjectKey keys[DMAPIPE_MAX_OBJECTS];
  gint fds[DMAPIPE_MAX_OBJECTS];
} GstDmapipeFrameDesc;

typedef struct _GstDmapipeMemReg GstDmapipeMemReg;
typedef struct _GstDmapipeMemRegEntry GstDmapipeMemRegEntry;

typedef enum
{
  GST_DMAPIPE_MEM_REG_OK,
  GST_DMAPIPE_MEM_REG_REFUSED,  /* not shareable: copy */
  GST_DMAPIPE_MEM_REG_BUSY,     /* shareable, but cannot be queued now: drop */
} GstDmapipeMemRegResult;

/* Fills @d with where @buffer's pixels are, for @info's format (@fourcc),
 * if every plane lies in fd-backed memory (GstDmaBufMemory, GstFdMemory);
 * planes in memories sharing one object become one object with offsets.
 * Offsets and strides come from the buffer's GstVideoMeta, or @info.
 * The object key of each memory is taken once (fstat()) and kept on the
 * GstMemory. FALSE when the buffer cannot be described so. No lock. */
gboolean gst_dmapipe_frame_desc_from_buffer (GstDmapipeFrameDesc * d,
    GstBuffer * buffer, const GstVideoInfo * info, guint32 fourcc);

/* An empty registry. @owner (not referenced; it must outlive the registry)
 * names the element in debug logs. */
GstDmapipeMemReg *gst_dmapipe_mem_reg_new (GstObject * owner);

/* Frees @reg (NULL is fine) with its registrations and the GstBuffers
 * they hold: only once the server is gone, and without the sink's lock. */
void gst_dmapipe_mem_reg_free (GstDmapipeMemReg * reg);

/* The registration of the objects in @d, made if new: the objects' fds
 * are dup'ed, checked by the library (dmapipe_buffer_new_from_fds()) and
 * added to @server. @frame is the sink's frame count (for ageing). OK sets
 * @out (valid until the next call that retires, collects or clears);
 * REFUSED remembers @d's objects for gst_dmapipe_mem_reg_is_refused(). */
GstDmapipeMemRegResult gst_dmapipe_mem_reg_get (GstDmapipeMemReg * reg,
    struct dmapipe_server *server, const GstDmapipeFrameDesc * d,
    guint64 frame, GstDmapipeMemRegEntry ** out);

/* TRUE if one of @d's objects was refused lately (it will be copied). */
gboolean gst_dmapipe_mem_reg_is_refused (GstDmapipeMemReg * reg,
    const GstDmapipeFrameDesc * d);

/* TRUE while @e holds a GstBuffer: a consumer may still read its frame. */
gboolean gst_dmapipe_mem_reg_entry_is_held (GstDmapipeMemRegEntry * e);

/* Makes @e hold @buffer (takes the reference) until the server says no
 * consumer holds the frame, and marks it used at @frame. Returns @e's
 * dmapipe buffer (no reference added) to queue. */
struct dmapipe_buffer *
gst_dmapipe_mem_reg_entry_hold (GstDmapipeMemRegEntry * e, GstBuffer * buffer,
    guint64 frame);

/* @e's frame was not queued after all: its GstBuffer, if still held, goes
 * to the idle list. */
void gst_dmapipe_mem_reg_entry_release (GstDmapipeMemReg * reg,
    GstDmapipeMemRegEntry * e);

/* The server's idle callback: no consumer holds @dbuf any more, so the
 * GstBuffer of its registration goes to the idle list. */
void gst_dmapipe_mem_reg_buffer_idle (GstDmapipeMemReg * reg,
    struct dmapipe_buffer *dbuf);

/* Frees the retired registrations no consumer holds any more, and retires
 * the ones unused since more frames than the registry keeps (upstream let
 * go of their memory). @server may be NULL once it is gone. */
void gst_dmapipe_mem_reg_collect (GstDmapipeMemReg * reg,
    struct dmapipe_server *server, guint64 frame);

/* Retires every registration (the format changed): frames consumers still
 * hold stay valid until released. @server may be NULL. */
void gst_dmapipe_mem_reg_retire_all (GstDmapipeMemReg * reg,
    struct dmapipe_server *server);

/* Frees every registration and forgets the refused objects. Only once the
 * server was freed: it holds the consumers' leases. Held GstBuffers go to
 * the idle list. */
void gst_dmapipe_mem_reg_clear (GstDmapipeMemReg * reg);

/* Moves the GstBuffers the registry let go of into @into, an array of the
 * calling thread's (so that no release allocates), to unref with
 * gst_dmapipe_buffers_unref() once the lock is dropped: an upstream pool's
 * release may take its own locks. */
void gst_dmapipe_mem_reg_steal_idle (GstDmapipeMemReg * reg, GPtrArray * into);

/* Unrefs the GstBuffers in @buffers and empties it. */
void gst_dmapipe_buffers_unref (GPtrArray * buffers);

G_END_DECLS

#endif /* __GST_DMAPIPE_MEM_REG_H__ */
