/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesrc's connection and its cache of memories.
 *
 * Lifetime rules (who owns what, when an entry dies):
 *
 * - The connection owns the dmapipe client and one entry per producer
 *   buffer seen. It is referenced by the element from start() to stop()
 *   and by every frame out in GStreamer, so it outlives a stopped element
 *   while downstream still holds frames: those frames stay valid, and the
 *   last one freed frees the connection, the client with it.
 *
 * - An entry holds a reference on its dmapipe buffer and one GstMemory per
 *   memory object, each owning a dup of the object's fd (GstDmaBufMemory
 *   for dma-bufs, GstFdMemory for memfds), read-only and kept mapped once
 *   mapped. They are made on the buffer's first frame and reused for every
 *   frame after it, so downstream caches keyed by GstMemory (GL imports,
 *   kmssink framebuffers, V4L2 dma-buf import) import each buffer once.
 *
 * - The memories never die while their entry lives: their dispose hook
 *   takes them back when GStreamer drops the last reference, and the entry
 *   gives the frame back to the producer once all of them are back. The
 *   GstBuffer carrying them is kept too (see Entry) so that a frame
 *   allocates nothing.
 *
 * - An entry dies when no frame of it is out and the client forgot its
 *   buffer (the producer removed it, or a reconnect replaced every buffer):
 *   the client's dmapipe buffer is then down to the entry's reference.
 *   Such entries are collected when the next frame is wrapped, and all
 *   that are left when the connection dies; freeing one clears the dispose
 *   hooks first, so its memories and GstBuffer are really freed and the
 *   dup'ed fds closed.
 *
 * The client is not thread-safe: every call into it is made under the
 * connection's lock, which frees nothing of GStreamer's while held.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstdmapipeconn.h"

/* logged as dmapipesrc's: the connection is part of it */
GST_DEBUG_CATEGORY_EXTERN (gst_dmapipe_src_debug);
#define GST_CAT_DEFAULT gst_dmapipe_src_debug

/* The memories made for one producer buffer, reused for each of its frames,
 * and the GstBuffer that carries them.
 *
 * While a frame is out, @busy counts the memories not back yet. The frame
 * goes back to the producer when @busy drops to 0, which happens one of two
 * ways:
 *  - the GstBuffer's last reference goes while it is the only holder of
 *    every memory (the usual case): its dispose hook keeps the buffer, with
 *    its memories and GstVideoMeta, for the next frame of this producer
 *    buffer, so a frame costs no allocation;
 *  - otherwise (a gst_buffer_copy() or someone else shares a memory, or
 *    downstream changed the buffer's memories) the GstBuffer is freed as
 *    usual and each memory's dispose hook takes it back when its last
 *    reference goes.
 * Memory references are the GstBuffer's while @buf exists and the entry's
 * own otherwise. */
typedef struct
{
  GstDmapipeConn *conn;
  struct dmapipe_buffer *dbuf;  /* reference */
  guint n_mem;
  GstMemory *mem[DMAPIPE_MAX_OBJECTS];
  gsize mem_size[DMAPIPE_MAX_OBJECTS];  /* the part the planes cover */
  GstBuffer *buf;               /* kept between frames; NULL if none */
  guint busy;
  struct dmapipe_frame *frame;
} Entry;

/* The client and everything that must outlive the element while GStreamer
 * still holds frames: one reference for the element, one per frame out. */
struct _GstDmapipeConn
{
  gint refcount;
  GMutex lock;                  /* the client is not thread-safe */
  struct dmapipe_client *client;
  GPtrArray *entries;           /* Entry* */
  GstAllocator *dmabuf_allocator;
  GstAllocator *fd_allocator;
};

/* GstBuffer's own dispose (it returns pooled buffers to their pool) */
static GstMiniObjectDisposeFunction buffer_dispose_default;

static GQuark
entry_quark (void)
{
  static GQuark quark;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("GstDmapipeSrcEntry");
  return quark;
}

GstDmapipeConn *
gst_dmapipe_conn_new (struct dmapipe_client *client)
{
  GstDmapipeConn *conn = g_new0 (GstDmapipeConn, 1);

  conn->refcount = 1;
  g_mutex_init (&conn->lock);
  conn->client = client;
  conn->entries = g_ptr_array_new ();
  conn->dmabuf_allocator = gst_dmabuf_allocator_new ();
  conn->fd_allocator = gst_fd_allocator_new ();
  return conn;
}

GstDmapipeConn *
gst_dmapipe_conn_ref (GstDmapipeConn * conn)
{
  g_atomic_int_inc (&conn->refcount);
  return conn;
}

/* Frees an entry whose memories are all back (busy == 0). */
static void
entry_free (Entry * e)
{
  guint i;

  /* no more resurrection: the unrefs below free the memories (closing
   * their fds) and the buffer */
  for (i = 0; i < e->n_mem; i++)
    GST_MINI_OBJECT_CAST (e->mem[i])->dispose = NULL;
  if (e->buf) {
    GST_MINI_OBJECT_CAST (e->buf)->dispose = buffer_dispose_default;
    gst_buffer_unref (e->buf);
  } else {
    for (i = 0; i < e->n_mem; i++)
      gst_memory_unref (e->mem[i]);
  }
  dmapipe_buffer_unref (e->dbuf);
  g_free (e);
}

void
gst_dmapipe_conn_unref (GstDmapipeConn * conn)
{
  guint i;

  if (!g_atomic_int_dec_and_test (&conn->refcount))
    return;
  /* every frame came back (each held a reference): all entries are idle */
  for (i = 0; i < conn->entries->len; i++)
    entry_free (g_ptr_array_index (conn->entries, i));
  g_ptr_array_free (conn->entries, TRUE);
  dmapipe_client_free (conn->client);
  gst_object_unref (conn->dmabuf_allocator);
  gst_object_unref (conn->fd_allocator);
  g_mutex_clear (&conn->lock);
  g_free (conn);
}

/*
 * The last reference to one of our memories went away, in whatever thread.
 * Take it back instead of freeing it; when all memories of the frame are
 * back, the frame is released to the producer.
 */
static gboolean
memory_dispose (GstMiniObject * obj)
{
  Entry *e = gst_mini_object_get_qdata (obj, entry_quark ());
  GstDmapipeConn *conn = e->conn;
  struct dmapipe_frame *frame = NULL;

  g_mutex_lock (&conn->lock);
  gst_mini_object_ref (obj);
  g_assert (e->busy > 0);
  if (--e->busy == 0) {
    frame = e->frame;
    e->frame = NULL;
    dmapipe_client_release_frame (conn->client, frame, -1);
  }
  g_mutex_unlock (&conn->lock);
  if (frame)
    gst_dmapipe_conn_unref (conn);
  return FALSE;
}

static gboolean
strip_meta (GstBuffer * buf, GstMeta ** meta, gpointer unused)
{
  /* what downstream added; our GstVideoMeta is marked pooled */
  if (!GST_META_FLAG_IS_SET (*meta, GST_META_FLAG_POOLED)) {
    GST_META_FLAG_UNSET (*meta, GST_META_FLAG_LOCKED);
    *meta = NULL;
  }
  return TRUE;
}

/*
 * The last reference to a frame's GstBuffer went away, in whatever thread.
 * If the buffer holds exactly the entry's memories and nobody else holds
 * any of them, keep it for the entry's next frame and release this one.
 * Otherwise let it go: the memories come back one by one through
 * memory_dispose() when their other holders drop them.
 */
static gboolean
buffer_dispose (GstMiniObject * obj)
{
  GstBuffer *buf = GST_BUFFER_CAST (obj);
  Entry *e = gst_mini_object_get_qdata (obj, entry_quark ());
  GstDmapipeConn *conn = e->conn;
  struct dmapipe_frame *frame = NULL;
  gboolean keep;
  guint i;

  /* The buffer is out, so nothing but its holders touches it or the
   * entry's memories (busy > 0 keeps the entry and its fields): checking
   * needs no lock. A memory whose only reference is this buffer's cannot
   * gain another. */
  keep = gst_buffer_n_memory (buf) == e->n_mem;
  for (i = 0; keep && i < e->n_mem; i++)
    keep = gst_buffer_peek_memory (buf, i) == e->mem[i]
        && GST_MINI_OBJECT_REFCOUNT_VALUE (e->mem[i]) == 1;
  if (keep) {
    gst_buffer_ref (buf);
    /* outside conn->lock: freeing a meta may free another of our buffers */
    gst_buffer_foreach_meta (buf, strip_meta, NULL);
  }

  g_mutex_lock (&conn->lock);
  if (keep) {
    g_assert (e->busy == e->n_mem);
    e->busy = 0;
    frame = e->frame;
    e->frame = NULL;
    dmapipe_client_release_frame (conn->client, frame, -1);
  } else {
    e->buf = NULL;
  }
  g_mutex_unlock (&conn->lock);
  if (frame) {
    gst_dmapipe_conn_unref (conn);
    return FALSE;
  }
  return buffer_dispose_default (obj);
}

/* The end of the last plane in each object: the bytes a frame covers. */
static void
object_extents (const struct dmapipe_layout *l, gsize extent[])
{
  guint i;

  for (i = 0; i < l->n_objects; i++)
    extent[i] = 0;
  for (i = 0; i < l->n_planes; i++) {
    guint64 end = l->planes[i].offset + dmapipe_layout_plane_size (l, i);
    guint o = l->planes[i].object;

    extent[o] = MAX (extent[o], MIN (end, l->objects[o].size));
  }
  for (i = 0; i < l->n_objects; i++)
    if (extent[i] == 0)
      extent[i] = l->objects[i].size;
}

static Entry *
entry_new (GstDmapipeConn * conn, struct dmapipe_buffer *dbuf)
{
  const struct dmapipe_layout *l = dmapipe_buffer_get_layout (dbuf);
  gboolean dmabuf = dmapipe_buffer_get_mem_kind (dbuf) == DMAPIPE_MEM_DMABUF;
  Entry *e = g_new0 (Entry, 1);
  guint i;

  e->conn = conn;
  e->dbuf = dmapipe_buffer_ref (dbuf);
  object_extents (l, e->mem_size);
  for (i = 0; i < l->n_objects; i++) {
    gint fd = fcntl (l->objects[i].fd, F_DUPFD_CLOEXEC, 3);
    GstMemory *mem;

    if (fd < 0) {
      GST_ERROR ("dup: %s", g_strerror (errno));
      entry_free (e);
      return NULL;
    }
    /* the memory owns the dup; mapped once, on first use, and kept */
    mem = gst_fd_allocator_alloc (dmabuf ? conn->dmabuf_allocator :
        conn->fd_allocator, fd, l->objects[i].size,
        GST_FD_MEMORY_FLAG_KEEP_MAPPED);
    if (!mem) {
      close (fd);
      entry_free (e);
      return NULL;
    }
    gst_memory_resize (mem, 0, e->mem_size[i]);
    /* other consumers see the same pixels: nobody writes into them */
    GST_MINI_OBJECT_FLAG_SET (mem, GST_MEMORY_FLAG_READONLY);
    gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), entry_quark (), e,
        NULL);
    GST_MINI_OBJECT_CAST (mem)->dispose = memory_dispose;
    e->mem[e->n_mem++] = mem;
  }
  return e;
}

/* Entries of buffers the client forgot (REMOVE_BUFFER, reconnect) go, with
 * the fds they pin. Under conn->lock; returns them (NULL if none) for the
 * caller to free after dropping it. */
static GPtrArray *
conn_collect (GstDmapipeConn * conn)
{
  GPtrArray *dead = NULL;
  guint i = 0;

  while (i < conn->entries->len) {
    Entry *e = g_ptr_array_index (conn->entries, i);

    if (e->busy == 0 && dmapipe_buffer_get_refcount (e->dbuf) == 1) {
      g_ptr_array_remove_index_fast (conn->entries, i);
      if (!dead)
        dead = g_ptr_array_new ();
      g_ptr_array_add (dead, e);
    } else {
      i++;
    }
  }
  return dead;
}

/* Frees what conn_collect() returned, without conn->lock: freeing a
 * memory or buffer may run other code of GStreamer's. */
static void
entries_free (GPtrArray * dead)
{
  guint i;

  if (!dead)
    return;
  for (i = 0; i < dead->len; i++)
    entry_free (g_ptr_array_index (dead, i));
  g_ptr_array_free (dead, TRUE);
}

static Entry *
conn_find (GstDmapipeConn * conn, struct dmapipe_buffer *dbuf)
{
  guint i;

  for (i = 0; i < conn->entries->len; i++) {
    Entry *e = g_ptr_array_index (conn->entries, i);

    if (e->dbuf == dbuf)
      return e;
  }
  return NULL;
}

/* ---- frames ------------------------------------------------------------- */

gint
gst_dmapipe_conn_get_fd (GstDmapipeConn * conn)
{
  gint fd;

  g_mutex_lock (&conn->lock);
  fd = dmapipe_client_get_fd (conn->client);
  g_mutex_unlock (&conn->lock);
  return fd;
}

gboolean
gst_dmapipe_conn_before_poll (GstDmapipeConn * conn)
{
  gboolean ready;

  g_mutex_lock (&conn->lock);
  ready = dmapipe_client_before_poll (conn->client);
  g_mutex_unlock (&conn->lock);
  return ready;
}

void
gst_dmapipe_conn_after_poll (GstDmapipeConn * conn)
{
  g_mutex_lock (&conn->lock);
  dmapipe_client_after_poll (conn->client);
  g_mutex_unlock (&conn->lock);
}

struct dmapipe_frame *
gst_dmapipe_conn_acquire_frame (GstDmapipeConn * conn, gboolean dispatch,
    gint * err, gchar ** why)
{
  enum dmapipe_error_code code;
  const gchar *message = NULL;
  struct dmapipe_frame *frame;

  *why = NULL;
  g_mutex_lock (&conn->lock);
  frame = dmapipe_client_acquire_frame (conn->client);
  if (!frame && errno == EAGAIN && dispatch) {
    dmapipe_client_dispatch (conn->client, 0);
    frame = dmapipe_client_acquire_frame (conn->client);
  }
  *err = frame ? 0 : errno;
  if (*err == EPROTO) {
    code = dmapipe_client_get_error (conn->client, &message);
    *why = g_strdup_printf ("%s: %s", dmapipe_error_code_to_string (code),
        message ? message : "");
  }
  g_mutex_unlock (&conn->lock);
  return frame;
}

void
gst_dmapipe_conn_release_frame (GstDmapipeConn * conn,
    struct dmapipe_frame *frame)
{
  g_mutex_lock (&conn->lock);
  dmapipe_client_release_frame (conn->client, frame, -1);
  g_mutex_unlock (&conn->lock);
}

void
gst_dmapipe_conn_get_stats (GstDmapipeConn * conn,
    struct dmapipe_client_stats *stats)
{
  g_mutex_lock (&conn->lock);
  dmapipe_client_get_stats (conn->client, stats);
  g_mutex_unlock (&conn->lock);
}

gboolean
gst_dmapipe_conn_get_format_info (GstDmapipeConn * conn,
    struct dmapipe_format_info *fi)
{
  const struct dmapipe_format_info *got;

  g_mutex_lock (&conn->lock);
  got = dmapipe_client_get_format_info (conn->client);
  if (got)
    *fi = *got;
  g_mutex_unlock (&conn->lock);
  return got != NULL;
}

GstBuffer *
gst_dmapipe_conn_wrap_frame (GstDmapipeConn * conn,
    struct dmapipe_frame *frame, const GstVideoInfo * info)
{
  const struct dmapipe_layout *l = dmapipe_buffer_get_layout (frame->buffer);
  gsize offsets[GST_VIDEO_MAX_PLANES] = { 0, };
  gint strides[GST_VIDEO_MAX_PLANES] = { 0, };
  gsize base[DMAPIPE_MAX_OBJECTS];
  GPtrArray *dead;
  GstVideoMeta *meta;
  GstBuffer *buf;
  Entry *e;
  guint i, n;

  g_mutex_lock (&conn->lock);
  dead = conn_collect (conn);
  e = conn_find (conn, frame->buffer);
  if (!e) {
    e = entry_new (conn, frame->buffer);
    if (e)
      g_ptr_array_add (conn->entries, e);
  }
  if (!e || e->busy) {
    /* cannot happen: the client never hands out a buffer we still hold */
    dmapipe_client_release_frame (conn->client, frame, -1);
    g_mutex_unlock (&conn->lock);
    entries_free (dead);
    return NULL;
  }
  n = e->n_mem;
  for (i = 0; i < n; i++) {
    gsize offset, size = gst_memory_get_sizes (e->mem[i], &offset, NULL);

    /* only we hold it now: undo any resize downstream made */
    if (offset != 0 || size != e->mem_size[i])
      gst_memory_resize (e->mem[i], -(gssize) offset, e->mem_size[i]);
  }
  /* the buffer kept from this entry's last frame, or a new one that takes
   * the entry's memory references */
  buf = e->buf;
  if (!buf) {
    buf = gst_buffer_new ();
    for (i = 0; i < n; i++)
      gst_buffer_append_memory (buf, e->mem[i]);
    gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (buf), entry_quark (),
        e, NULL);
    if (!buffer_dispose_default)
      buffer_dispose_default = GST_MINI_OBJECT_CAST (buf)->dispose;
    GST_MINI_OBJECT_CAST (buf)->dispose = buffer_dispose;
    e->buf = buf;
  }
  e->busy = n;
  e->frame = frame;
  gst_dmapipe_conn_ref (conn);
  g_mutex_unlock (&conn->lock);
  entries_free (dead);

  /* a kept buffer carries the last frame's flags and timestamps */
  GST_BUFFER_FLAGS (buf) = 0;
  GST_BUFFER_DURATION (buf) = GST_CLOCK_TIME_NONE;
  for (i = 0, base[0] = 0; i < n; i++)
    if (i > 0)
      base[i] = base[i - 1] + e->mem_size[i - 1];
  for (i = 0; i < l->n_planes; i++) {
    offsets[i] = base[l->planes[i].object] + l->planes[i].offset;
    strides[i] = l->planes[i].stride;
  }
  meta = gst_buffer_get_video_meta (buf);
  if (!meta) {
    meta = gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
        GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info), l->n_planes, offsets, strides);
    /* kept with the buffer, not stripped between frames */
    GST_META_FLAG_SET (meta, GST_META_FLAG_POOLED);
    GST_META_FLAG_SET (meta, GST_META_FLAG_LOCKED);
  } else {
    /* set again for every frame: downstream may have changed it */
    meta->flags = GST_VIDEO_FRAME_FLAG_NONE;
    meta->format = GST_VIDEO_INFO_FORMAT (info);
    meta->width = GST_VIDEO_INFO_WIDTH (info);
    meta->height = GST_VIDEO_INFO_HEIGHT (info);
    meta->n_planes = l->n_planes;
    memcpy (meta->offset, offsets, sizeof (offsets));
    memcpy (meta->stride, strides, sizeof (strides));
  }
  return buf;
}

