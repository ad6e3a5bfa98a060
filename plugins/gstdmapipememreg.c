/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesink's memory registry.
 *
 * Lifetime rules (who owns what, when an entry dies):
 *
 * - Object keys. The key (st_dev, st_ino) of a GstMemory's fd is taken
 *   with one fstat() the first time the memory is seen and kept on the
 *   GstMemory as qdata: a GstFdMemory keeps its fd for life, and an
 *   upstream pool recycles the same memories, so that is one system call
 *   per memory, not per frame. The key is set once and freed with the
 *   memory; a global lock keeps two sinks sharing a memory (tee) from
 *   setting it twice. Keys, not fds, name objects: the same dma-buf behind
 *   two fds or two GstMemory is one registration.
 *
 * - An entry is one set of memory objects registered with the server. It
 *   owns a dmapipe buffer (our reference) made from dups of the memories'
 *   fds, so the objects stay alive whatever upstream does with its
 *   GstMemory; the server holds a reference of its own from
 *   dmapipe_server_add_buffer(), and one more per consumer lease.
 *
 * - While a frame of an entry is out, the entry holds the GstBuffer it
 *   came in (a reference), so that upstream's pool, a V4L2 driver's queue
 *   included, gets the buffer back only when every consumer released the
 *   frame: the server's idle callback (or a failed queue) moves it to the
 *   idle list. The registry never unrefs a GstBuffer itself: it runs under
 *   the sink's lock, and an upstream pool's release may take its own locks.
 *   The sink steals the idle list and unrefs it after dropping the lock.
 *
 * - An entry is retired (removed from the server, so no new consumer
 *   imports it and no frame names it again) when the format changes, when
 *   the same memory comes described differently, when it is the least
 *   recently used of REGISTRY_SIZE live entries and a new one is needed,
 *   or when no frame used it for REGISTRY_MAX_AGE frames. A retired entry
 *   dies as soon as no consumer holds a lease on it (its dmapipe buffer is
 *   down to our one reference): at once, or at a later collect. Its
 *   GstBuffer goes to the idle list and the dup'ed fds are closed.
 *
 * - When the server is freed (stop, or a restart after EOS), every lease
 *   is gone with it: gst_dmapipe_mem_reg_clear() then frees every entry.
 *
 * - Objects the library refused (neither a dma-buf nor a sealed memfd)
 *   are remembered, the newest REGISTRY_SIZE of them, so that they are
 *   copied without being dup'ed and checked again for every frame.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstdmapipememreg.h"

/* logged as dmapipesink's: the registry is part of it */
GST_DEBUG_CATEGORY_EXTERN (gst_dmapipe_sink_debug);
#define GST_CAT_DEFAULT gst_dmapipe_sink_debug

/* Memory objects remembered at once. An upstream pool cycles through its
 * buffers, so an object unused for REGISTRY_MAX_AGE frames is one upstream
 * let go of: its registration (and the dup'ed fd pinning it) is dropped. */
#define REGISTRY_SIZE 64
#define REGISTRY_MAX_AGE 64

struct _GstDmapipeMemRegEntry
{
  struct dmapipe_buffer *dbuf;  /* our reference; the server holds its own */
  struct dmapipe_layout layout; /* geometry only: the fds are dbuf's */
  GstDmapipeObjectKey keys[DMAPIPE_MAX_OBJECTS];
  GstBuffer *held;              /* while a consumer holds the frame */
  guint64 last_used;            /* frame count when last queued */
  gboolean retiring;            /* removed from the server, waiting for leases */
};

struct _GstDmapipeMemReg
{
  GstObject *owner;             /* for logs; not referenced */
  GPtrArray *entries;           /* GstDmapipeMemRegEntry* */
  GArray *refused;              /* GstDmapipeObjectKey: not shareable */
  GPtrArray *idle;              /* GstBuffer* for the sink to unref */
};

typedef GstDmapipeMemRegEntry Entry;

static GQuark
object_key_quark (void)
{
  static GQuark quark;

  if (G_UNLIKELY (quark == 0))
    quark = g_quark_from_static_string ("GstDmapipeSinkObjectKey");
  return quark;
}

/* ---- describing a GstBuffer --------------------------------------------- */

static gboolean
memory_object_key (GstMemory * mem, gint fd, GstDmapipeObjectKey * key)
{
  static GMutex key_lock;
  GstDmapipeObjectKey *cached;
  struct stat st;

  g_mutex_lock (&key_lock);
  cached = gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem),
      object_key_quark ());
  if (!cached) {
    if (fstat (fd, &st) < 0) {
      g_mutex_unlock (&key_lock);
      return FALSE;
    }
    cached = g_new (GstDmapipeObjectKey, 1);
    cached->dev = st.st_dev;
    cached->ino = st.st_ino;
    gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), object_key_quark (),
        cached, g_free);
  }
  *key = *cached;
  g_mutex_unlock (&key_lock);
  return TRUE;
}

gboolean
gst_dmapipe_frame_desc_from_buffer (GstDmapipeFrameDesc * d,
    GstBuffer * buffer, const GstVideoInfo * info, guint32 fourcc)
{
  GstVideoMeta *vmeta = gst_buffer_get_video_meta (buffer);
  guint n_planes = GST_VIDEO_INFO_N_PLANES (info);
  guint p;

  if (vmeta && (vmeta->format != GST_VIDEO_INFO_FORMAT (info)
          || vmeta->width != (guint) GST_VIDEO_INFO_WIDTH (info)
          || vmeta->height != (guint) GST_VIDEO_INFO_HEIGHT (info)
          || vmeta->n_planes != n_planes))
    return FALSE;

  memset (d, 0, sizeof (*d));
  d->layout.format.fourcc = fourcc;
  d->layout.format.width = GST_VIDEO_INFO_WIDTH (info);
  d->layout.format.height = GST_VIDEO_INFO_HEIGHT (info);
  d->layout.format.modifier = DMAPIPE_MOD_LINEAR;
  d->layout.n_planes = n_planes;
  for (p = 0; p < DMAPIPE_MAX_OBJECTS; p++) {
    d->layout.objects[p].fd = -1;
    d->fds[p] = -1;
  }

  for (p = 0; p < n_planes; p++) {
    gsize offset = vmeta ? vmeta->offset[p] :
        GST_VIDEO_INFO_PLANE_OFFSET (info, p);
    gint stride = vmeta ? vmeta->stride[p] :
        GST_VIDEO_INFO_PLANE_STRIDE (info, p);
    guint idx, len, obj;
    gsize skip, mem_offset;
    GstMemory *mem;
    GstDmapipeObjectKey key = { 0, };
    gint fd;

    if (stride <= 0
        || !gst_buffer_find_memory (buffer, offset, 1, &idx, &len, &skip))
      return FALSE;
    mem = gst_buffer_peek_memory (buffer, idx);
    if (!gst_is_fd_memory (mem))
      return FALSE;
    fd = gst_fd_memory_get_fd (mem);
    if (fd < 0)
      return FALSE;
    /* planes sharing a memory (and so an fd) share its object */
    for (obj = 0; obj < d->layout.n_objects; obj++)
      if (d->fds[obj] == fd)
        break;
    if (obj == d->layout.n_objects && !memory_object_key (mem, fd, &key))
      return FALSE;
    for (obj = 0; obj < d->layout.n_objects; obj++)
      if (d->fds[obj] == fd || (d->keys[obj].dev == key.dev
              && d->keys[obj].ino == key.ino))
        break;
    if (obj == d->layout.n_objects) {
      if (obj == DMAPIPE_MAX_OBJECTS)
        return FALSE;
      d->keys[obj] = key;
      d->fds[obj] = fd;
      d->layout.n_objects++;
    }
    gst_memory_get_sizes (mem, &mem_offset, NULL);
    d->layout.planes[p].object = obj;
    d->layout.planes[p].offset = mem_offset + skip;
    d->layout.planes[p].stride = stride;
  }
  return TRUE;
}

/* ---- the registry ------------------------------------------------------- */

GstDmapipeMemReg *
gst_dmapipe_mem_reg_new (GstObject * owner)
{
  GstDmapipeMemReg *reg = g_new0 (GstDmapipeMemReg, 1);

  reg->owner = owner;
  reg->entries = g_ptr_array_new ();
  reg->refused = g_array_new (FALSE, FALSE, sizeof (GstDmapipeObjectKey));
  reg->idle = g_ptr_array_new ();
  return reg;
}

void
gst_dmapipe_mem_reg_free (GstDmapipeMemReg * reg)
{
  if (!reg)
    return;
  gst_dmapipe_mem_reg_clear (reg);
  gst_dmapipe_buffers_unref (reg->idle);
  g_ptr_array_free (reg->entries, TRUE);
  g_array_free (reg->refused, TRUE);
  g_ptr_array_free (reg->idle, TRUE);
  g_free (reg);
}

static Entry *
entry_find_dbuf (GstDmapipeMemReg * reg, struct dmapipe_buffer *dbuf)
{
  guint i;

  for (i = 0; i < reg->entries->len; i++) {
    Entry *e = g_ptr_array_index (reg->entries, i);

    if (e->dbuf == dbuf)
      return e;
  }
  return NULL;
}

void
gst_dmapipe_mem_reg_buffer_idle (GstDmapipeMemReg * reg,
    struct dmapipe_buffer *dbuf)
{
  Entry *e = entry_find_dbuf (reg, dbuf);

  if (e)
    gst_dmapipe_mem_reg_entry_release (reg, e);
}

gboolean
gst_dmapipe_mem_reg_entry_is_held (GstDmapipeMemRegEntry * e)
{
  return e->held != NULL;
}

struct dmapipe_buffer *
gst_dmapipe_mem_reg_entry_hold (GstDmapipeMemRegEntry * e, GstBuffer * buffer,
    guint64 frame)
{
  g_return_val_if_fail (e->held == NULL, NULL);
  e->held = buffer;
  e->last_used = frame;
  return e->dbuf;
}

void
gst_dmapipe_mem_reg_entry_release (GstDmapipeMemReg * reg,
    GstDmapipeMemRegEntry * e)
{
  if (e->held) {
    g_ptr_array_add (reg->idle, e->held);
    e->held = NULL;
  }
}

static void
entry_free (GstDmapipeMemReg * reg, Entry * e)
{
  if (e->held)
    g_ptr_array_add (reg->idle, e->held);
  dmapipe_buffer_unref (e->dbuf);
  g_free (e);
}

/* Unregisters @e. A frame still leased by a consumer keeps the entry (and
 * the GstBuffer) until the lease ends: the server then holds the only other
 * reference on the dmapipe buffer. */
static void
entry_retire (GstDmapipeMemReg * reg, struct dmapipe_server *server, Entry * e)
{
  if (!e->retiring && server)
    dmapipe_server_remove_buffer (server, e->dbuf);
  e->retiring = TRUE;
  if (dmapipe_buffer_get_refcount (e->dbuf) == 1) {
    g_ptr_array_remove_fast (reg->entries, e);
    entry_free (reg, e);
  }
}

void
gst_dmapipe_mem_reg_collect (GstDmapipeMemReg * reg,
    struct dmapipe_server *server, guint64 frame)
{
  guint i = 0;

  while (i < reg->entries->len) {
    Entry *e = g_ptr_array_index (reg->entries, i);

    if (e->retiring && dmapipe_buffer_get_refcount (e->dbuf) == 1) {
      g_ptr_array_remove_index_fast (reg->entries, i);
      entry_free (reg, e);
      continue;
    }
    if (!e->retiring && !e->held && frame > e->last_used + REGISTRY_MAX_AGE) {
      GST_DEBUG_OBJECT (reg->owner, "dropping registration unused for %"
          G_GUINT64_FORMAT " frames", frame - e->last_used);
      entry_retire (reg, server, e);
      continue;
    }
    i++;
  }
}

void
gst_dmapipe_mem_reg_retire_all (GstDmapipeMemReg * reg,
    struct dmapipe_server *server)
{
  guint i;

  for (i = reg->entries->len; i > 0; i--)
    entry_retire (reg, server, g_ptr_array_index (reg->entries, i - 1));
}

void
gst_dmapipe_mem_reg_clear (GstDmapipeMemReg * reg)
{
  guint i;

  for (i = 0; i < reg->entries->len; i++)
    entry_free (reg, g_ptr_array_index (reg->entries, i));
  g_ptr_array_set_size (reg->entries, 0);
  g_array_set_size (reg->refused, 0);
}

gboolean
gst_dmapipe_mem_reg_is_refused (GstDmapipeMemReg * reg,
    const GstDmapipeFrameDesc * d)
{
  guint i, j;

  for (i = 0; i < d->layout.n_objects; i++)
    for (j = 0; j < reg->refused->len; j++) {
      GstDmapipeObjectKey *k = &g_array_index (reg->refused,
          GstDmapipeObjectKey, j);

      if (k->dev == d->keys[i].dev && k->ino == d->keys[i].ino)
        return TRUE;
    }
  return FALSE;
}

static void
refuse (GstDmapipeMemReg * reg, const GstDmapipeFrameDesc * d)
{
  guint i;

  for (i = 0; i < d->layout.n_objects; i++) {
    if (reg->refused->len >= REGISTRY_SIZE)
      g_array_remove_index (reg->refused, 0);
    g_array_append_val (reg->refused, d->keys[i]);
  }
}

static gboolean
same_geometry (const struct dmapipe_layout *a, const struct dmapipe_layout *b)
{
  guint i;

  if (memcmp (&a->format, &b->format, sizeof (a->format)) != 0
      || a->n_objects != b->n_objects || a->n_planes != b->n_planes)
    return FALSE;
  for (i = 0; i < a->n_planes; i++)
    if (a->planes[i].object != b->planes[i].object
        || a->planes[i].offset != b->planes[i].offset
        || a->planes[i].stride != b->planes[i].stride)
      return FALSE;
  return TRUE;
}

GstDmapipeMemRegResult
gst_dmapipe_mem_reg_get (GstDmapipeMemReg * reg,
    struct dmapipe_server *server, const GstDmapipeFrameDesc * d,
    guint64 frame, GstDmapipeMemRegEntry ** out)
{
  struct dmapipe_layout layout;
  struct dmapipe_buffer *dbuf;
  Entry *e, *found = NULL, *lru = NULL;
  guint i, j, live = 0;
  gint id;

  for (i = 0; i < reg->entries->len && !found; i++) {
    gboolean match;

    e = g_ptr_array_index (reg->entries, i);
    if (e->retiring || e->layout.n_objects != d->layout.n_objects)
      continue;
    match = TRUE;
    for (j = 0; j < d->layout.n_objects && match; j++)
      match = e->keys[j].dev == d->keys[j].dev
          && e->keys[j].ino == d->keys[j].ino;
    if (match)
      found = e;
  }
  if (found) {
    if (same_geometry (&found->layout, &d->layout)) {
      *out = found;
      return GST_DMAPIPE_MEM_REG_OK;
    }
    /* the same memory described differently: start over with it */
    entry_retire (reg, server, found);
  }

  for (i = 0; i < reg->entries->len; i++) {
    e = g_ptr_array_index (reg->entries, i);
    if (e->retiring)
      continue;
    live++;
    if (!e->held && (!lru || e->last_used < lru->last_used))
      lru = e;
  }
  if (live >= REGISTRY_SIZE) {
    if (!lru) {
      GST_WARNING_OBJECT (reg->owner, "all %u registered buffers are held by "
          "consumers", live);
      return GST_DMAPIPE_MEM_REG_BUSY;
    }
    entry_retire (reg, server, lru);
  }

  layout = d->layout;
  for (i = 0; i < layout.n_objects; i++) {
    layout.objects[i].fd = fcntl (d->fds[i], F_DUPFD_CLOEXEC, 3);
    layout.objects[i].size = 0;         /* the library reads the real size */
    if (layout.objects[i].fd < 0) {
      GST_ERROR_OBJECT (reg->owner, "dup: %s", g_strerror (errno));
      while (i-- > 0)
        close (layout.objects[i].fd);
      return GST_DMAPIPE_MEM_REG_BUSY;
    }
  }
  /* takes the dup'ed fds, identifies them (dma-buf or sealed memfd) and
   * bounds-checks the layout against their sizes */
  dbuf = dmapipe_buffer_new_from_fds (&layout);
  if (!dbuf) {
    GST_INFO_OBJECT (reg->owner, "memory is neither a dma-buf nor a sealed "
        "memfd (%s): it will be copied", g_strerror (errno));
    refuse (reg, d);
    return GST_DMAPIPE_MEM_REG_REFUSED;
  }
  id = dmapipe_server_add_buffer (server, dbuf);
  if (id < 0) {
    GST_WARNING_OBJECT (reg->owner, "cannot register buffer: %s",
        g_strerror (-id));
    dmapipe_buffer_unref (dbuf);
    return GST_DMAPIPE_MEM_REG_BUSY;
  }

  e = g_new0 (Entry, 1);
  e->dbuf = dbuf;
  e->layout = d->layout;
  memcpy (e->keys, d->keys, sizeof (e->keys));
  e->last_used = frame;
  g_ptr_array_add (reg->entries, e);
  GST_DEBUG_OBJECT (reg->owner, "registered buffer %d: %u object(s), %s", id,
      layout.n_objects,
      dmapipe_mem_kind_to_string (dmapipe_buffer_get_mem_kind (dbuf)));
  *out = e;
  return GST_DMAPIPE_MEM_REG_OK;
}

void
gst_dmapipe_mem_reg_steal_idle (GstDmapipeMemReg * reg, GPtrArray * into)
{
  guint i;

  for (i = 0; i < reg->idle->len; i++)
    g_ptr_array_add (into, g_ptr_array_index (reg->idle, i));
  g_ptr_array_set_size (reg->idle, 0);
}

void
gst_dmapipe_buffers_unref (GPtrArray * buffers)
{
  guint i;

  for (i = 0; i < buffers->len; i++)
    gst_buffer_unref (g_ptr_array_index (buffers, i));
  g_ptr_array_set_size (buffers, 0);
}
