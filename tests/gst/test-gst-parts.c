/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The parts of the GStreamer plugin that both elements are built from,
 * compiled into this test from plugins/ (the plugin exports none of them):
 * the sink's memory registry and its lifetime rules, the clock
 * conversions, dmapipesrc's choice to busy poll, and the caps and layout
 * helpers of the format file. The elements themselves are tested in
 * test-gst-elements.c.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#include "gstdmapipeclock.h"
#include "gstdmapipeformat.h"
#include "gstdmapipememreg.h"
#include "gstdmapipespin.h"

/* the registry and the connection log in the elements' categories */
GST_DEBUG_CATEGORY (gst_dmapipe_sink_debug);
GST_DEBUG_CATEGORY (gst_dmapipe_src_debug);

#define W 64
#define H 48
/* the registry's size and age limits (gstdmapipememreg.c) */
#define REGISTRY_SIZE 64
#define REGISTRY_MAX_AGE 64

static GstAllocator *fd_allocator;
static GstVideoInfo gray;
static guint32 gray_fourcc;

static guint
open_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *d;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((d = readdir (dir)))
    if (d->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

/* The library hands the connections' sockets and the fds peers sent to a
 * closer thread (a close() there may block; the event loop must not):
 * after a client or server is freed they close soon, not at once. Waits
 * up to 20 s for the count to come down to @expected and returns the
 * count then, so that a leak still fails the assertion. */
static guint
settled_fds (guint expected)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  guint n;

  while ((n = open_fds ()) != expected && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return n;
}

/* A memfd of @size bytes, sealed against shrinking if @sealed. */
static gint
memfd_new (gsize size, gboolean sealed)
{
  gint fd = memfd_create ("test-gst-parts", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  if (sealed)
    g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK), ==, 0);
  return fd;
}

/* A GstBuffer of one GstFdMemory owning a dup of @fd, with a GstVideoMeta
 * of @stride for GRAY8 WxH. */
static GstBuffer *
buffer_new (gint fd, gsize size, gint stride)
{
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0, };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride, };
  GstBuffer *buf = gst_buffer_new ();
  gint dup = fcntl (fd, F_DUPFD_CLOEXEC, 3);

  g_assert_cmpint (dup, >=, 0);
  gst_buffer_append_memory (buf, gst_fd_allocator_alloc (fd_allocator, dup,
          size, GST_FD_MEMORY_FLAG_NONE));
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_FORMAT_GRAY8, W, H, 1, offset, strides);
  return buf;
}

static struct dmapipe_server *
server_new (gchar ** path)
{
  static guint n;
  struct dmapipe_server_options opts;
  struct dmapipe_server *server;

  *path = g_strdup_printf ("@dmapipe-test-gst-parts-%d-%u", (gint) getpid (),
      n++);
  dmapipe_server_options_init (&opts);
  opts.path = *path;
  server = dmapipe_server_new (&opts);
  g_assert_nonnull (server);
  return server;
}

static guint
server_buffers (struct dmapipe_server *server)
{
  struct dmapipe_server_stats stats;

  dmapipe_server_get_stats (server, &stats);
  return stats.buffers;
}

static GstDmapipeMemRegResult
reg_get (GstDmapipeMemReg * reg, struct dmapipe_server *server,
    GstBuffer * buf, guint64 frame, GstDmapipeMemRegEntry ** e)
{
  GstDmapipeFrameDesc d;

  g_assert_true (gst_dmapipe_frame_desc_from_buffer (&d, buf, &gray,
          gray_fourcc));
  if (gst_dmapipe_mem_reg_is_refused (reg, &d))
    return GST_DMAPIPE_MEM_REG_REFUSED;
  return gst_dmapipe_mem_reg_get (reg, server, &d, frame, e);
}

/* What the sink does with the registry's idle list; returns how many. */
static guint
unref_idle (GstDmapipeMemReg * reg)
{
  GPtrArray *idle = g_ptr_array_new ();
  guint n;

  gst_dmapipe_mem_reg_steal_idle (reg, idle);
  n = idle->len;
  gst_dmapipe_buffers_unref (idle);
  g_ptr_array_free (idle, TRUE);
  return n;
}

/* ---- describing buffers ------------------------------------------------- */

static void
test_desc_object_key_once (void)
{
  gint fd = memfd_new (W * H, TRUE);
  GstBuffer *a = buffer_new (fd, W * H, W), *b = buffer_new (fd, W * H, W);
  GQuark key = g_quark_from_static_string ("GstDmapipeSinkObjectKey");
  GstMemory *mem = gst_buffer_peek_memory (a, 0);
  GstDmapipeFrameDesc da, db;
  gpointer cached;

  g_assert_null (gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem), key));
  g_assert_true (gst_dmapipe_frame_desc_from_buffer (&da, a, &gray,
          gray_fourcc));
  cached = gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem), key);
  g_assert_nonnull (cached);
  /* the second look at the same memory uses what the first one kept */
  g_assert_true (gst_dmapipe_frame_desc_from_buffer (&da, a, &gray,
          gray_fourcc));
  g_assert_true (gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (mem),
          key) == cached);
  /* two GstMemory, two fds, one object: one key */
  g_assert_true (gst_dmapipe_frame_desc_from_buffer (&db, b, &gray,
          gray_fourcc));
  g_assert_cmpint (da.layout.n_objects, ==, 1);
  g_assert_cmpint (da.fds[0], !=, db.fds[0]);
  g_assert_true (da.keys[0].dev == db.keys[0].dev
      && da.keys[0].ino == db.keys[0].ino);
  g_assert_cmpuint (da.layout.planes[0].stride, ==, W);

  gst_buffer_unref (a);
  gst_buffer_unref (b);
  close (fd);
}

static void
test_desc_refuses_system_memory (void)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, W * H, NULL);
  GstDmapipeFrameDesc d;

  g_assert_false (gst_dmapipe_frame_desc_from_buffer (&d, buf, &gray,
          gray_fourcc));
  gst_buffer_unref (buf);
}

/* ---- the registry --------------------------------------------------------- */

/* A registry and the server it registers with, as the sink has them. */
typedef struct
{
  GstDmapipeMemReg *reg;
  struct dmapipe_server *server;        /* NULL once a test freed it */
  gchar *path;
  guint fds_start;              /* open before the server */
  guint fds;                    /* open with the server, nothing registered */
} Fixture;

static void
fixture_setup (Fixture * f, gconstpointer unused)
{
  f->fds_start = open_fds ();
  f->server = server_new (&f->path);
  f->reg = gst_dmapipe_mem_reg_new (NULL);
  f->fds = open_fds ();
}

/* The server goes first (it holds the consumers' leases), then every
 * registration; with the test's own buffers and fds gone, nothing of
 * either may be left open. */
static void
fixture_teardown (Fixture * f, gconstpointer unused)
{
  if (f->server)
    dmapipe_server_free (f->server);
  gst_dmapipe_mem_reg_clear (f->reg);
  unref_idle (f->reg);
  gst_dmapipe_mem_reg_free (f->reg);
  g_assert_cmpuint (settled_fds (f->fds_start), ==, f->fds_start);
  g_free (f->path);
}

static void
test_reg_register_once (Fixture * f, gconstpointer unused)
{
  GstDmapipeMemRegEntry *e1 = NULL, *e2 = NULL;
  gint fd = memfd_new (W * H, TRUE);
  GstBuffer *a = buffer_new (fd, W * H, W), *b = buffer_new (fd, W * H, W);
  guint fds = open_fds ();

  g_assert_cmpint (reg_get (f->reg, f->server, a, 0, &e1), ==,
      GST_DMAPIPE_MEM_REG_OK);
  /* one dup pins the object */
  g_assert_cmpuint (open_fds (), ==, fds + 1);
  g_assert_cmpint (reg_get (f->reg, f->server, b, 1, &e2), ==,
      GST_DMAPIPE_MEM_REG_OK);
  g_assert_true (e1 == e2);
  g_assert_cmpuint (server_buffers (f->server), ==, 1);
  g_assert_cmpuint (open_fds (), ==, fds + 1);

  gst_buffer_unref (a);
  gst_buffer_unref (b);
  close (fd);
}

static void
test_reg_refused_remembered (Fixture * f, gconstpointer unused)
{
  GstDmapipeMemRegEntry *e = NULL;
  gint fd = memfd_new (W * H, FALSE);
  GstBuffer *buf = buffer_new (fd, W * H, W);
  guint fds = open_fds ();
  GstDmapipeFrameDesc d;

  g_assert_true (gst_dmapipe_frame_desc_from_buffer (&d, buf, &gray,
          gray_fourcc));
  g_assert_false (gst_dmapipe_mem_reg_is_refused (f->reg, &d));
  g_assert_cmpint (gst_dmapipe_mem_reg_get (f->reg, f->server, &d, 0, &e),
      ==, GST_DMAPIPE_MEM_REG_REFUSED);
  /* the library closed the dup it refused */
  g_assert_cmpuint (open_fds (), ==, fds);
  g_assert_true (gst_dmapipe_mem_reg_is_refused (f->reg, &d));
  g_assert_cmpuint (server_buffers (f->server), ==, 0);
  /* forgotten with the server */
  dmapipe_server_free (f->server);
  f->server = NULL;
  gst_dmapipe_mem_reg_clear (f->reg);
  g_assert_false (gst_dmapipe_mem_reg_is_refused (f->reg, &d));

  gst_buffer_unref (buf);
  close (fd);
}

static void
test_reg_new_geometry_retires (Fixture * f, gconstpointer unused)
{
  GstDmapipeMemRegEntry *e1 = NULL, *e2 = NULL;
  gint fd = memfd_new (2 * W * H, TRUE);
  GstBuffer *a = buffer_new (fd, 2 * W * H, W);
  GstBuffer *b = buffer_new (fd, 2 * W * H, 2 * W);
  guint fds = open_fds ();

  g_assert_cmpint (reg_get (f->reg, f->server, a, 0, &e1), ==,
      GST_DMAPIPE_MEM_REG_OK);
  /* the same memory with another stride: the old registration goes, fd
   * and all, and a new one is made */
  g_assert_cmpint (reg_get (f->reg, f->server, b, 1, &e2), ==,
      GST_DMAPIPE_MEM_REG_OK);
  g_assert_cmpuint (server_buffers (f->server), ==, 1);
  g_assert_cmpuint (open_fds (), ==, fds + 1);
  g_assert_cmpint (reg_get (f->reg, f->server, b, 2, &e1), ==,
      GST_DMAPIPE_MEM_REG_OK);
  g_assert_true (e1 == e2);

  gst_buffer_unref (a);
  gst_buffer_unref (b);
  close (fd);
}

static void
test_reg_unused_ages_out (Fixture * f, gconstpointer unused)
{
  GstDmapipeMemRegEntry *e = NULL;
  gint fd = memfd_new (W * H, TRUE);
  GstBuffer *buf = buffer_new (fd, W * H, W);
  guint fds = open_fds ();

  g_assert_cmpint (reg_get (f->reg, f->server, buf, 10, &e), ==,
      GST_DMAPIPE_MEM_REG_OK);
  gst_dmapipe_mem_reg_collect (f->reg, f->server, 10 + REGISTRY_MAX_AGE);
  g_assert_cmpuint (server_buffers (f->server), ==, 1);
  /* upstream evidently let go of it: unregistered, the dup closed */
  gst_dmapipe_mem_reg_collect (f->reg, f->server, 10 + REGISTRY_MAX_AGE + 1);
  g_assert_cmpuint (server_buffers (f->server), ==, 0);
  g_assert_cmpuint (open_fds (), ==, fds);

  gst_buffer_unref (buf);
  close (fd);
}

static void
test_reg_full_evicts_least_recent (Fixture * f, gconstpointer unused)
{
  GstDmapipeMemRegEntry *entries[REGISTRY_SIZE], *e = NULL;
  GstBuffer *bufs[REGISTRY_SIZE + 1];
  gint fds[REGISTRY_SIZE + 1];
  guint i;

  for (i = 0; i <= REGISTRY_SIZE; i++) {
    fds[i] = memfd_new (W * H, TRUE);
    bufs[i] = buffer_new (fds[i], W * H, W);
  }
  for (i = 0; i < REGISTRY_SIZE; i++) {
    g_assert_cmpint (reg_get (f->reg, f->server, bufs[i], i, &entries[i]),
        ==, GST_DMAPIPE_MEM_REG_OK);
    gst_dmapipe_mem_reg_entry_hold (entries[i], gst_buffer_ref (bufs[i]), i);
  }
  /* every registration holds a frame: no room */
  g_assert_cmpint (reg_get (f->reg, f->server, bufs[REGISTRY_SIZE], 100, &e),
      ==, GST_DMAPIPE_MEM_REG_BUSY);
  g_assert_cmpuint (server_buffers (f->server), ==, REGISTRY_SIZE);

  /* the consumers let go of two; the older of them makes room */
  gst_dmapipe_mem_reg_entry_release (f->reg, entries[7]);
  gst_dmapipe_mem_reg_entry_release (f->reg, entries[3]);
  g_assert_cmpuint (unref_idle (f->reg), ==, 2);
  g_assert_cmpint (reg_get (f->reg, f->server, bufs[REGISTRY_SIZE], 101, &e),
      ==, GST_DMAPIPE_MEM_REG_OK);
  g_assert_cmpuint (server_buffers (f->server), ==, REGISTRY_SIZE);
  g_assert_cmpint (reg_get (f->reg, f->server, bufs[7], 102, &e), ==,
      GST_DMAPIPE_MEM_REG_OK);
  g_assert_true (e == entries[7]);

  /* what the registrations still held goes back to the sink */
  dmapipe_server_free (f->server);
  f->server = NULL;
  gst_dmapipe_mem_reg_clear (f->reg);
  g_assert_cmpuint (unref_idle (f->reg), ==, REGISTRY_SIZE - 2);
  for (i = 0; i <= REGISTRY_SIZE; i++) {
    g_assert_cmpint (GST_MINI_OBJECT_REFCOUNT_VALUE (bufs[i]), ==, 1);
    gst_buffer_unref (bufs[i]);
    close (fds[i]);
  }
}

static void
on_idle (struct dmapipe_server *server, struct dmapipe_buffer *dbuf,
    void *data)
{
  gst_dmapipe_mem_reg_buffer_idle (data, dbuf);
}

/* Runs the server and @client until @client has a frame. */
static struct dmapipe_frame *
receive_frame (struct dmapipe_server *server, struct dmapipe_client *client)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  struct dmapipe_frame *frame;

  while (!(frame = dmapipe_client_acquire_frame (client))) {
    g_assert_cmpint (errno, ==, EAGAIN);
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    dmapipe_server_dispatch (server, 0);
    dmapipe_client_dispatch (client, 5);
  }
  return frame;
}

/* Runs the server and @client, as the sink's dispatch thread does, until
 * the registry gave @buf back. */
static void
run_until_idle (Fixture * f, struct dmapipe_client *client, GstBuffer * buf)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;

  while (GST_MINI_OBJECT_REFCOUNT_VALUE (buf) > 1) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    dmapipe_client_dispatch (client, 0);
    dmapipe_server_dispatch (f->server, 5);
    gst_dmapipe_mem_reg_collect (f->reg, f->server, 1);
    unref_idle (f->reg);
  }
}

/* A retired registration whose frame a consumer holds lives until the
 * consumer releases it: the GstBuffer stays held, the fds open. */
static void
test_reg_retired_waits_for_lease (Fixture * f, gconstpointer unused)
{
  GstDmapipeMemRegEntry *e = NULL;
  gint fd = memfd_new (W * H, TRUE);
  GstBuffer *buf = buffer_new (fd, W * H, W);
  struct dmapipe_client_options copts;
  struct dmapipe_consumer_stats stats;
  struct dmapipe_frame_meta meta;
  struct dmapipe_client *client;
  struct dmapipe_frame *frame;
  struct dmapipe_buffer *dbuf;
  guint fds_registered;
  gint64 deadline;

  dmapipe_server_set_idle_callback (f->server, on_idle, f->reg);
  dmapipe_client_options_init (&copts);
  copts.path = f->path;
  client = dmapipe_client_new (&copts);
  g_assert_nonnull (client);
  deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  do {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    dmapipe_server_dispatch (f->server, 5);
    dmapipe_client_dispatch (client, 0);
  } while (dmapipe_server_get_consumer_stats (f->server, &stats, 1) < 1
      || stats.state != 1);

  g_assert_cmpint (reg_get (f->reg, f->server, buf, 0, &e), ==,
      GST_DMAPIPE_MEM_REG_OK);
  dbuf = gst_dmapipe_mem_reg_entry_hold (e, gst_buffer_ref (buf), 0);
  dmapipe_frame_meta_init (&meta);
  g_assert_cmpint (dmapipe_server_queue (f->server, dmapipe_buffer_ref (dbuf),
          &meta), ==, 1);
  frame = receive_frame (f->server, client);
  fds_registered = open_fds ();

  gst_dmapipe_mem_reg_retire_all (f->reg, f->server);
  gst_dmapipe_mem_reg_collect (f->reg, f->server, 1);
  g_assert_cmpuint (server_buffers (f->server), ==, 0);
  g_assert_cmpuint (unref_idle (f->reg), ==, 0);
  g_assert_cmpint (GST_MINI_OBJECT_REFCOUNT_VALUE (buf), ==, 2);
  g_assert_cmpuint (open_fds (), ==, fds_registered);

  /* released: the GstBuffer comes back and the registration goes */
  dmapipe_client_release_frame (client, frame, -1);
  run_until_idle (f, client, buf);
  dmapipe_client_free (client);
  dmapipe_server_free (f->server);
  f->server = NULL;
  /* the registry's dup was closed already: only the test's memfd and its
   * GstMemory's dup are left */
  g_assert_cmpuint (settled_fds (f->fds_start + 2), ==, f->fds_start + 2);

  gst_buffer_unref (buf);
  close (fd);
}

/* ---- busy poll or sleep --------------------------------------------------- */

/* Tried: a fresh stream (spins); spins that find nothing (each makes the
 * next 1, 2, 4 ... 64 waits sleep at once, and no more than 64); a spin
 * that finds a frame (spinning at every wait again). */
static void
test_spin_backoff (void)
{
  static const guint skips[] = { 1, 2, 4, 8, 16, 32, 64, 64 };
  GstDmapipeSpin spin = { 0, };

  g_assert_true (gst_dmapipe_spin_begin (&spin));
  gst_dmapipe_spin_end (&spin, TRUE);
  g_assert_true (gst_dmapipe_spin_begin (&spin));

  for (guint i = 0; i < G_N_ELEMENTS (skips); i++) {
    gst_dmapipe_spin_end (&spin, FALSE);
    for (guint k = 0; k < skips[i]; k++)
      g_assert_false (gst_dmapipe_spin_begin (&spin));
    /* the wait after them spins again, to see whether frames came back */
    g_assert_true (gst_dmapipe_spin_begin (&spin));
  }

  gst_dmapipe_spin_end (&spin, TRUE);
  g_assert_cmpuint (spin.backoff, ==, 0);
  g_assert_true (gst_dmapipe_spin_begin (&spin));
  g_assert_true (gst_dmapipe_spin_begin (&spin));
  /* after a frame found, one empty spin skips one wait, not 64 */
  gst_dmapipe_spin_end (&spin, FALSE);
  g_assert_false (gst_dmapipe_spin_begin (&spin));
  g_assert_true (gst_dmapipe_spin_begin (&spin));
}

/* Tried: a frame waited for 2 ms (a camera: no spin, however the spins
 * went), then one waited for 10 us (spins again). */
static void
test_spin_slow_stream (void)
{
  GstDmapipeSpin spin = { 0, };

  gst_dmapipe_spin_waited (&spin, 2 * GST_DMAPIPE_SPIN_SLOW_NS);
  g_assert_false (gst_dmapipe_spin_begin (&spin));
  g_assert_false (gst_dmapipe_spin_begin (&spin));
  g_assert_cmpuint (spin.skip, ==, 0);
  gst_dmapipe_spin_waited (&spin, 10 * 1000);
  g_assert_true (gst_dmapipe_spin_begin (&spin));
}

/* ---- clock conversions ---------------------------------------------------- */

static GstElement *
element_with_clock (GstClockType type, GstClockTime base)
{
  GstElement *element = gst_pipeline_new (NULL);
  GstClock *clock = g_object_new (GST_TYPE_SYSTEM_CLOCK, "clock-type", type,
      NULL);

  gst_object_ref_sink (clock);
  g_assert_true (gst_element_set_clock (element, clock));
  gst_element_set_base_time (element, base);
  gst_object_unref (clock);
  return element;
}

static void
test_clock_monotonic (void)
{
  GstDmapipeClockCheck check = { NULL, };
  guint64 now = gst_dmapipe_monotonic_ns ();
  GstElement *element = element_with_clock (GST_CLOCK_TYPE_MONOTONIC,
      now - GST_SECOND);

  /* the default system clock is CLOCK_MONOTONIC: times pass unchanged */
  g_assert_cmpuint (gst_dmapipe_monotonic_to_running_time (&check, element,
          now), ==, GST_SECOND);
  g_assert_cmpuint (gst_dmapipe_running_time_to_monotonic (&check, element,
          GST_SECOND), ==, now);
  /* captured before the pipeline started: at its start */
  g_assert_cmpuint (gst_dmapipe_monotonic_to_running_time (&check, element,
          now - 2 * GST_SECOND), ==, 0);
  g_assert_true (check.checked == GST_ELEMENT_CLOCK (element));

  gst_dmapipe_clock_check_clear (&check);
  g_assert_null (check.checked);
  gst_object_unref (element);
}

static guint64
distance (guint64 a, guint64 b)
{
  return a > b ? a - b : b - a;
}

static void
test_clock_other_keeps_age (void)
{
  GstDmapipeClockCheck check = { NULL, };
  GstElement *element = element_with_clock (GST_CLOCK_TYPE_REALTIME, 0);
  GstClockTime now, running, back;
  guint64 start, capture, slack;

  /* Both clocks run at the same rate, so the conversions are exact but
   * for the time that passes between reading one clock and the other:
   * never more than the whole test takes. */
  start = gst_dmapipe_monotonic_ns ();
  now = gst_clock_get_time (GST_ELEMENT_CLOCK (element));
  gst_element_set_base_time (element, now - 10 * GST_SECOND);
  /* a frame 200 ms old on CLOCK_MONOTONIC is 200 ms old on this clock */
  capture = gst_dmapipe_monotonic_ns () - 200 * GST_MSECOND;
  running = gst_dmapipe_monotonic_to_running_time (&check, element, capture);
  /* and back */
  back = gst_dmapipe_running_time_to_monotonic (&check, element, running);
  slack = gst_dmapipe_monotonic_ns () - start + GST_MSECOND;
  g_assert_cmpuint (distance (running, 9800 * GST_MSECOND), <=, slack);
  g_assert_cmpuint (distance (back, capture), <=, 2 * slack);

  gst_dmapipe_clock_check_clear (&check);
  gst_object_unref (element);
}

static void
test_clock_none (void)
{
  GstDmapipeClockCheck check = { NULL, };
  GstElement *element = gst_pipeline_new (NULL);
  guint64 before = gst_dmapipe_monotonic_ns (), t;

  g_assert_cmpuint (gst_dmapipe_monotonic_to_running_time (&check, element,
          before), ==, GST_CLOCK_TIME_NONE);
  /* no clock, or no running time: the frame is taken as captured now */
  t = gst_dmapipe_running_time_to_monotonic (&check, element, GST_SECOND);
  g_assert_cmpuint (t, >=, before);
  t = gst_dmapipe_running_time_to_monotonic (&check, element,
      GST_CLOCK_TIME_NONE);
  g_assert_cmpuint (t, >=, before);
  g_assert_null (check.checked);
  gst_object_unref (element);
}

/* ---- formats ------------------------------------------------------------ */

static void
test_format_caps (void)
{
  struct dmapipe_format format = {
    .fourcc = dmapipe_fourcc_from_string ("NV12"),
    .width = 320,
    .height = 240,
    .modifier = DMAPIPE_MOD_LINEAR,
  };
  GstCaps *caps, *expected;

  caps = gst_dmapipe_caps_from_format (&format, NULL, 0, 1,
      GST_DMAPIPE_CAPS_SYSTEM);
  expected = gst_caps_from_string ("video/x-raw,format=NV12,width=320,"
      "height=240,pixel-aspect-ratio=1/1,framerate=[0/1,2147483647/1]");
  g_assert_true (gst_caps_is_equal (caps, expected));
  gst_caps_unref (caps);
  gst_caps_unref (expected);

  caps = gst_dmapipe_caps_from_format (&format, NULL, 30, 1,
      GST_DMAPIPE_CAPS_DMABUF);
  expected = gst_caps_from_string ("video/x-raw(memory:DMABuf),format=NV12,"
      "width=320,height=240,pixel-aspect-ratio=1/1,framerate=30/1");
  g_assert_true (gst_caps_is_equal (caps, expected));
  gst_caps_unref (caps);
  gst_caps_unref (expected);

  /* GStreamer 1.22 caps carry no modifier */
  format.modifier = 1;
  g_assert_null (gst_dmapipe_caps_from_format (&format, NULL, 0, 1,
          GST_DMAPIPE_CAPS_SYSTEM));
  g_assert_null (gst_dmapipe_caps_from_format (&format, NULL, 0, 1,
          GST_DMAPIPE_CAPS_DMABUF));
}

/* FORMAT_INFO to caps and back: every field the caps can say survives. */
static void
test_format_info_caps (void)
{
  struct dmapipe_format format = {
    .fourcc = dmapipe_fourcc_from_string ("NV12"),
    .width = 720,
    .height = 480,
    .modifier = DMAPIPE_MOD_LINEAR,
  };
  struct dmapipe_format_info fi, back, unknown;
  GstCaps *caps, *expected;
  GstVideoInfo info;

  dmapipe_format_info_init (&fi);
  fi.fps_num = 30000;
  fi.fps_den = 1001;
  fi.par_num = 10;
  fi.par_den = 11;
  fi.matrix = DMAPIPE_MATRIX_BT601;
  fi.transfer = DMAPIPE_TRANSFER_BT601;
  fi.primaries = DMAPIPE_PRIMARIES_SMPTE170M;
  fi.range = DMAPIPE_RANGE_LIMITED;
  fi.chroma_site = DMAPIPE_CHROMA_SITE_MPEG2;
  fi.interlace = DMAPIPE_INTERLACE_INTERLEAVED;
  fi.field_order = DMAPIPE_FIELD_ORDER_BOTTOM_FIRST;
  caps = gst_dmapipe_caps_from_format (&format, &fi, 0, 1,
      GST_DMAPIPE_CAPS_SYSTEM);
  expected = gst_caps_from_string ("video/x-raw,format=NV12,width=720,"
      "height=480,pixel-aspect-ratio=10/11,framerate=30000/1001,"
      "colorimetry=bt601,chroma-site=mpeg2,interlace-mode=interleaved,"
      "field-order=bottom-field-first");
  g_assert_true (gst_caps_is_equal (caps, expected));
  g_assert_true (gst_video_info_from_caps (&info, caps));
  gst_dmapipe_format_info_from_caps (caps, &info, &back);
  g_assert_cmpmem (&back, sizeof (back), &fi, sizeof (fi));
  gst_caps_unref (caps);
  gst_caps_unref (expected);

  /* the framerate property wins over the producer's rate */
  caps = gst_dmapipe_caps_from_format (&format, &fi, 25, 1,
      GST_DMAPIPE_CAPS_SYSTEM);
  g_assert_true (gst_video_info_from_caps (&info, caps));
  g_assert_cmpint (GST_VIDEO_INFO_FPS_N (&info), ==, 25);
  gst_caps_unref (caps);

  /* HLG BT.2020, full range: a colorimetry without a short name */
  fi.matrix = DMAPIPE_MATRIX_BT2020;
  fi.transfer = DMAPIPE_TRANSFER_ARIB_STD_B67;
  fi.primaries = DMAPIPE_PRIMARIES_BT2020;
  fi.range = DMAPIPE_RANGE_FULL;
  fi.chroma_site = DMAPIPE_CHROMA_SITE_COSITED;
  fi.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
  fi.field_order = DMAPIPE_FIELD_ORDER_UNKNOWN;
  caps = gst_dmapipe_caps_from_format (&format, &fi, 0, 1,
      GST_DMAPIPE_CAPS_DMABUF);
  g_assert_true (gst_video_info_from_caps (&info, caps));
  gst_dmapipe_format_info_from_caps (caps, &info, &back);
  g_assert_cmpmem (&back, sizeof (back), &fi, sizeof (fi));
  gst_caps_unref (caps);

  /* caps that name no colorimetry: it stays unknown, not GStreamer's guess */
  caps = gst_caps_from_string ("video/x-raw,format=NV12,width=720,"
      "height=480,framerate=50/1");
  g_assert_true (gst_video_info_from_caps (&info, caps));
  gst_dmapipe_format_info_from_caps (caps, &info, &back);
  dmapipe_format_info_init (&unknown);
  unknown.fps_num = 50;
  unknown.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
  g_assert_cmpmem (&back, sizeof (back), &unknown, sizeof (unknown));
  g_assert_cmpint (dmapipe_format_info_check (&back, NULL), ==, 0);
  gst_caps_unref (caps);
}

static void
test_format_default_layout (void)
{
  struct dmapipe_layout layout;
  GstVideoInfo info;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 320, 240);
  g_assert_true (gst_dmapipe_layout_from_video_info (&info, &layout));
  g_assert_true (gst_dmapipe_layout_is_default (&layout, &info));
  layout.planes[1].stride += 64;
  g_assert_false (gst_dmapipe_layout_is_default (&layout, &info));
  layout.planes[1].stride -= 64;
  layout.planes[1].offset += 4096;
  g_assert_false (gst_dmapipe_layout_is_default (&layout, &info));
  layout.planes[1].offset -= 4096;
  /* the chroma plane in an object of its own (V4L2 NV12M) */
  layout.n_objects = 2;
  layout.planes[1].object = 1;
  g_assert_false (gst_dmapipe_layout_is_default (&layout, &info));
}

/* A modifier with a vendor and a value: Intel's X tiling */
#define MOD_X_TILED G_GUINT64_CONSTANT (0x0100000000000001)

/* drm-format strings as GStreamer 1.24 writes and reads them, for every
 * fourcc the plugin maps, linear and with a modifier. */
static void
test_drm_format_strings (void)
{
  guint32 fourcc;
  guint64 modifier;
  const gchar *why;
  gchar *str, *expected;
  gint v;
  guint n = 0;

  for (v = GST_VIDEO_FORMAT_UNKNOWN + 1; v < 256; v++) {
    guint32 drm = gst_dmapipe_format_to_drm ((GstVideoFormat) v);

    if (!drm)
      continue;
    n++;
    str = gst_dmapipe_drm_format_to_string (drm, DMAPIPE_MOD_LINEAR);
    expected = g_strdup_printf ("%" GST_FOURCC_FORMAT, GST_FOURCC_ARGS (drm));
    g_assert_cmpstr (str, ==, expected);
    why = NULL;
    g_assert_true (gst_dmapipe_drm_format_from_string (str, &fourcc,
            &modifier, &why));
    g_assert_null (why);
    g_assert_cmphex (fourcc, ==, drm);
    g_assert_cmphex (modifier, ==, DMAPIPE_MOD_LINEAR);
    g_free (str);
    g_free (expected);

    str = gst_dmapipe_drm_format_to_string (drm, MOD_X_TILED);
    expected = g_strdup_printf ("%" GST_FOURCC_FORMAT ":0x0100000000000001",
        GST_FOURCC_ARGS (drm));
    g_assert_cmpstr (str, ==, expected);
    g_assert_true (gst_dmapipe_drm_format_from_string (str, &fourcc,
            &modifier, NULL));
    g_assert_cmphex (fourcc, ==, drm);
    g_assert_cmphex (modifier, ==, MOD_X_TILED);
    g_free (str);
    g_free (expected);
  }
  /* GST_DMAPIPE_VIDEO_FORMATS' 32 formats */
  g_assert_cmpuint (n, ==, 32);

  /* spaces are part of a fourcc: GRAY8 is "R8  " */
  str = gst_dmapipe_drm_format_to_string (gst_dmapipe_format_to_drm
      (GST_VIDEO_FORMAT_GRAY8), DMAPIPE_MOD_LINEAR);
  g_assert_cmpstr (str, ==, "R8  ");
  g_free (str);
  /* what GStreamer's reader takes besides what it writes */
  g_assert_true (gst_dmapipe_drm_format_from_string ("NV12:0X1", &fourcc,
          &modifier, NULL));
  g_assert_cmphex (fourcc, ==, dmapipe_fourcc_from_string ("NV12"));
  g_assert_cmphex (modifier, ==, 1);
  g_assert_true (gst_dmapipe_drm_format_from_string ("NV12:0xFFFFFFFFFFFFFFFF",
          &fourcc, &modifier, NULL));
  g_assert_cmphex (modifier, ==, G_MAXUINT64);

  /* nothing to write for an unknown fourcc or modifier */
  g_assert_null (gst_dmapipe_drm_format_to_string (0, DMAPIPE_MOD_LINEAR));
  g_assert_null (gst_dmapipe_drm_format_to_string (dmapipe_fourcc_from_string
          ("NV12"), DMAPIPE_MOD_INVALID));
}

/* Malformed drm-format strings are refused, each with a reason, and
 * leave the outputs alone. */
static void
test_drm_format_malformed (void)
{
  static const gchar *const bad[] = {
    "", "NV12:", "NV12:zz", "TOOLONG", "NV1", "NV1:0x1", "NV12:0x",
    "NV12:1", "NV12:x1", "NV12:0x01g", "NV12:0x1 ", " NV12",
    "NV12:0x10000000000000000",
    /* linear is written as the fourcc alone */
    "NV12:0x0", "NV12:0x0000000000000000",
    "NV12:0x00ffffffffffffff",  /* DRM_FORMAT_MOD_INVALID */
    "NV\00112", "NV12:0x1:0x2",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    guint32 fourcc = 7;
    guint64 modifier = 9;
    const gchar *why = NULL;

    g_assert_false (gst_dmapipe_drm_format_from_string (bad[i], &fourcc,
            &modifier, &why));
    g_assert_nonnull (why);
    g_assert_cmpuint (fourcc, ==, 7);
    g_assert_cmpuint (modifier, ==, 9);
  }
  g_assert_false (gst_dmapipe_drm_format_from_string (NULL, NULL, NULL, NULL));
}

/* The DMA_DRM form of a stream's caps, and both forms read back. */
static void
test_dma_drm_caps (void)
{
  struct dmapipe_format format = {
    .fourcc = dmapipe_fourcc_from_string ("NV12"),
    .width = 320,
    .height = 240,
    .modifier = DMAPIPE_MOD_LINEAR,
  };
  GstCaps *caps, *expected, *tmpl_new, *tmpl_old;
  GstVideoInfo info;
  guint64 modifier;
  gint v;

  caps = gst_dmapipe_caps_from_format (&format, NULL, 30, 1,
      GST_DMAPIPE_CAPS_DMA_DRM);
  expected = gst_caps_from_string ("video/x-raw(memory:DMABuf),"
      "format=DMA_DRM,drm-format=NV12,width=320,height=240,"
      "pixel-aspect-ratio=1/1,framerate=30/1");
  g_assert_true (gst_caps_is_equal (caps, expected));
  modifier = 5;
  g_assert_true (gst_dmapipe_video_info_from_caps (&info, &modifier, caps));
  g_assert_cmpint (GST_VIDEO_INFO_FORMAT (&info), ==, GST_VIDEO_FORMAT_NV12);
  g_assert_cmpint (GST_VIDEO_INFO_WIDTH (&info), ==, 320);
  g_assert_cmpint (GST_VIDEO_INFO_HEIGHT (&info), ==, 240);
  g_assert_cmpint (GST_VIDEO_INFO_FPS_N (&info), ==, 30);
  g_assert_cmphex (modifier, ==, DMAPIPE_MOD_LINEAR);
  tmpl_new = gst_dmapipe_template_caps (TRUE);
  tmpl_old = gst_dmapipe_template_caps (FALSE);
  g_assert_true (gst_caps_is_subset (caps, tmpl_new));
  g_assert_false (gst_caps_is_subset (caps, tmpl_old));
  gst_caps_unref (tmpl_new);
  gst_caps_unref (tmpl_old);
  gst_caps_unref (caps);
  gst_caps_unref (expected);

  /* a producer that names no modifier draws linear frames */
  format.modifier = DMAPIPE_MOD_INVALID;
  caps = gst_dmapipe_caps_from_format (&format, NULL, 30, 1,
      GST_DMAPIPE_CAPS_DMA_DRM);
  g_assert_cmpstr (gst_structure_get_string (gst_caps_get_structure (caps, 0),
          "drm-format"), ==, "NV12");
  gst_caps_unref (caps);

  /* a modifier: only this form carries it; the planes are NV12's */
  format.modifier = MOD_X_TILED;
  caps = gst_dmapipe_caps_from_format (&format, NULL, 0, 1,
      GST_DMAPIPE_CAPS_DMA_DRM);
  g_assert_nonnull (caps);
  g_assert_cmpstr (gst_structure_get_string (gst_caps_get_structure (caps, 0),
          "drm-format"), ==, "NV12:0x0100000000000001");
  gst_caps_unref (caps);
  caps = gst_caps_from_string ("video/x-raw(memory:DMABuf),format=DMA_DRM,"
      "drm-format=NV12:0x0100000000000001,width=320,height=240,"
      "framerate=0/1");
  g_assert_true (gst_dmapipe_video_info_from_caps (&info, &modifier, caps));
  g_assert_cmpint (GST_VIDEO_INFO_FORMAT (&info), ==, GST_VIDEO_FORMAT_NV12);
  g_assert_cmphex (modifier, ==, MOD_X_TILED);
  gst_caps_unref (caps);

  /* the 1.22 forms read as before, linear */
  caps = gst_caps_from_string ("video/x-raw(memory:DMABuf),format=YUY2,"
      "width=64,height=48,framerate=0/1");
  modifier = 5;
  g_assert_true (gst_dmapipe_video_info_from_caps (&info, &modifier, caps));
  g_assert_cmpint (GST_VIDEO_INFO_FORMAT (&info), ==, GST_VIDEO_FORMAT_YUY2);
  g_assert_cmphex (modifier, ==, DMAPIPE_MOD_LINEAR);
  gst_caps_unref (caps);

  /* every mapped format survives the round trip in the DMA_DRM form */
  format.modifier = DMAPIPE_MOD_LINEAR;
  for (v = GST_VIDEO_FORMAT_UNKNOWN + 1; v < 256; v++) {
    format.fourcc = gst_dmapipe_format_to_drm ((GstVideoFormat) v);
    if (!format.fourcc)
      continue;
    caps = gst_dmapipe_caps_from_format (&format, NULL, 30, 1,
        GST_DMAPIPE_CAPS_DMA_DRM);
    g_assert_nonnull (caps);
    g_assert_true (gst_dmapipe_video_info_from_caps (&info, NULL, caps));
    g_assert_cmpint (GST_VIDEO_INFO_FORMAT (&info), ==, v);
    gst_caps_unref (caps);
  }
}

/* DMA_DRM caps that do not hold together are refused. */
static void
test_dma_drm_caps_refused (void)
{
  static const gchar *const bad[] = {
    /* DMA_DRM is for dma-bufs only */
    "video/x-raw,format=DMA_DRM,drm-format=NV12,width=64,height=48,"
        "framerate=0/1",
    "video/x-raw(memory:DMABuf),format=DMA_DRM,width=64,height=48,"
        "framerate=0/1",
    "video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=NV12:zz,"
        "width=64,height=48,framerate=0/1",
    "video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=TOOLONG,"
        "width=64,height=48,framerate=0/1",
    "video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=(string)\"\","
        "width=64,height=48,framerate=0/1",
    /* a fourcc the plugin does not map */
    "video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=ZZZZ,"
        "width=64,height=48,framerate=0/1",
    /* not fixed */
    "video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=NV12,"
        "width=[1,64],height=48,framerate=0/1",
    "video/x-raw(memory:DMABuf),format=DMA_DRM,drm-format=NV12,"
        "height=48,framerate=0/1",
  };
  GstVideoInfo info;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstCaps *caps = gst_caps_from_string (bad[i]);
    guint64 modifier = 5;

    g_assert_nonnull (caps);
    g_assert_false (gst_dmapipe_video_info_from_caps (&info, &modifier, caps));
    g_assert_cmphex (modifier, ==, 5);
    gst_caps_unref (caps);
  }
}

/* GStreamer 1.24's own drm-format writer and readers, looked up at run
 * time (this test is built against 1.22 headers); NULL on 1.22. */
typedef gchar *(*DrmToStringFunc) (guint32 fourcc, guint64 modifier);
typedef guint32 (*DrmFromStringFunc) (const gchar * str, guint64 * modifier);
typedef gpointer (*DrmInfoFromCapsFunc) (const GstCaps * caps);
typedef void (*DrmInfoFreeFunc) (gpointer info);

/* Our strings and caps against GStreamer's own code where the runtime has
 * it (tests/gst/test-gst-newer.sh runs this on 1.26): every mapped fourcc
 * written alike, read alike, our DMA_DRM caps accepted, malformed strings
 * refused by both. */
static void
test_drm_format_matches_gstreamer (void)
{
  static const gchar *const bad[] = { "NV12:", "NV12:zz", "TOOLONG", "",
    "NV12:0x0"
  };
  DrmToStringFunc to_string = (DrmToStringFunc) dlsym (RTLD_DEFAULT,
      "gst_video_dma_drm_fourcc_to_string");
  DrmFromStringFunc from_string = (DrmFromStringFunc) dlsym (RTLD_DEFAULT,
      "gst_video_dma_drm_fourcc_from_string");
  DrmInfoFromCapsFunc info_from_caps = (DrmInfoFromCapsFunc) dlsym
      (RTLD_DEFAULT, "gst_video_info_dma_drm_new_from_caps");
  DrmInfoFreeFunc info_free = (DrmInfoFreeFunc) dlsym (RTLD_DEFAULT,
      "gst_video_info_dma_drm_free");
  struct dmapipe_format format = {
    .width = 320,
    .height = 240,
  };
  const guint64 modifiers[] = { DMAPIPE_MOD_LINEAR, MOD_X_TILED };
  guint i, m;
  gint v;

  if (!to_string || !from_string || !info_from_caps || !info_free) {
    g_test_skip ("GStreamer older than 1.24 here: no DMA_DRM API to compare "
        "with");
    return;
  }
  for (v = GST_VIDEO_FORMAT_UNKNOWN + 1; v < 256; v++) {
    format.fourcc = gst_dmapipe_format_to_drm ((GstVideoFormat) v);
    if (!format.fourcc)
      continue;
    for (m = 0; m < G_N_ELEMENTS (modifiers); m++) {
      gchar *ours = gst_dmapipe_drm_format_to_string (format.fourcc,
          modifiers[m]);
      gchar *theirs = to_string (format.fourcc, modifiers[m]);
      guint64 modifier = 5;
      gpointer info;
      GstCaps *caps;

      g_assert_cmpstr (ours, ==, theirs);
      g_assert_cmphex (from_string (ours, &modifier), ==, format.fourcc);
      g_assert_cmphex (modifier, ==, modifiers[m]);
      format.modifier = modifiers[m];
      caps = gst_dmapipe_caps_from_format (&format, NULL, 30, 1,
          GST_DMAPIPE_CAPS_DMA_DRM);
      info = info_from_caps (caps);
      g_assert_nonnull (info);
      info_free (info);
      gst_caps_unref (caps);
      g_free (ours);
      g_free (theirs);
    }
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    guint32 fourcc;
    guint64 modifier;

    g_assert_cmphex (from_string (bad[i], NULL), ==, 0);
    g_assert_false (gst_dmapipe_drm_format_from_string (bad[i], &fourcc,
            &modifier, NULL));
  }
}

/* Which form the elements speak: the environment, else the runtime. */
static void
test_dma_drm_choice (void)
{
  guint major, minor, micro, nano;
  gchar *saved = g_strdup (g_getenv (GST_DMAPIPE_DMA_DRM_ENV));
  GstCaps *tmpl, *first, *old_form;

  g_setenv (GST_DMAPIPE_DMA_DRM_ENV, "1", TRUE);
  g_assert_true (gst_dmapipe_dma_drm_enabled ());
  g_setenv (GST_DMAPIPE_DMA_DRM_ENV, "0", TRUE);
  g_assert_false (gst_dmapipe_dma_drm_enabled ());
  g_unsetenv (GST_DMAPIPE_DMA_DRM_ENV);
  gst_version (&major, &minor, &micro, &nano);
  g_assert_true (gst_dmapipe_dma_drm_enabled () == (major == 1
          && minor >= 24));
  /* anything else than 0 or 1 leaves the choice to the runtime */
  g_setenv (GST_DMAPIPE_DMA_DRM_ENV, "yes", TRUE);
  g_assert_true (gst_dmapipe_dma_drm_enabled () == (major == 1
          && minor >= 24));
  if (saved)
    g_setenv (GST_DMAPIPE_DMA_DRM_ENV, saved, TRUE);
  else
    g_unsetenv (GST_DMAPIPE_DMA_DRM_ENV);
  g_free (saved);

  /* DMA_DRM first, then the 1.22 forms, still accepted */
  tmpl = gst_dmapipe_template_caps (TRUE);
  first = gst_caps_copy_nth (tmpl, 0);
  g_assert_cmpstr (gst_structure_get_string (gst_caps_get_structure (first,
              0), "format"), ==, "DMA_DRM");
  g_assert_true (gst_caps_features_contains (gst_caps_get_features (first, 0),
          GST_CAPS_FEATURE_MEMORY_DMABUF));
  old_form = gst_caps_from_string (GST_DMAPIPE_CAPS);
  g_assert_true (gst_caps_is_subset (old_form, tmpl));
  gst_caps_unref (first);
  gst_caps_unref (tmpl);
  tmpl = gst_dmapipe_template_caps (FALSE);
  g_assert_true (gst_caps_is_equal (tmpl, old_form));
  gst_caps_unref (tmpl);
  gst_caps_unref (old_form);
}

int
main (int argc, char **argv)
{
  gint ret;
  const gchar *registry = g_getenv ("GST_REGISTRY_1_0");

  /* The parts are compiled in: no plugin is loaded, so none is scanned.
   * Scanning the system's would run every installed plugin's code in
   * this process (its leaks fail the sanitizer build) and, as the first
   * test of a fresh build, write the registry the other tests share. */
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", "", TRUE);
  g_setenv ("GST_PLUGIN_PATH_1_0", "", TRUE);
  if (registry) {
    gchar *own = g_strconcat (registry, ".parts", NULL);

    g_setenv ("GST_REGISTRY_1_0", own, TRUE);
    g_free (own);
  }
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  GST_DEBUG_CATEGORY_INIT (gst_dmapipe_sink_debug, "dmapipesink", 0, "test");
  GST_DEBUG_CATEGORY_INIT (gst_dmapipe_src_debug, "dmapipesrc", 0, "test");
  fd_allocator = gst_fd_allocator_new ();
  gst_video_info_set_format (&gray, GST_VIDEO_FORMAT_GRAY8, W, H);
  gray_fourcc = gst_dmapipe_format_to_drm (GST_VIDEO_FORMAT_GRAY8);

  g_test_add_func ("/desc/object-key-once", test_desc_object_key_once);
  g_test_add_func ("/desc/refuses-system-memory",
      test_desc_refuses_system_memory);
#define ADD_REG_TEST(name, func) g_test_add (name, Fixture, NULL, \
    fixture_setup, func, fixture_teardown)
  ADD_REG_TEST ("/registry/register-once", test_reg_register_once);
  ADD_REG_TEST ("/registry/refused-remembered", test_reg_refused_remembered);
  ADD_REG_TEST ("/registry/new-geometry-retires",
      test_reg_new_geometry_retires);
  ADD_REG_TEST ("/registry/unused-ages-out", test_reg_unused_ages_out);
  ADD_REG_TEST ("/registry/full-evicts-least-recent",
      test_reg_full_evicts_least_recent);
  ADD_REG_TEST ("/registry/retired-waits-for-lease",
      test_reg_retired_waits_for_lease);
  g_test_add_func ("/spin/backoff", test_spin_backoff);
  g_test_add_func ("/spin/slow-stream", test_spin_slow_stream);
  g_test_add_func ("/clock/monotonic", test_clock_monotonic);
  g_test_add_func ("/clock/other-keeps-age", test_clock_other_keeps_age);
  g_test_add_func ("/clock/none", test_clock_none);
  g_test_add_func ("/format/caps", test_format_caps);
  g_test_add_func ("/format/info-caps", test_format_info_caps);
  g_test_add_func ("/format/default-layout", test_format_default_layout);
  g_test_add_func ("/format/drm-format-strings", test_drm_format_strings);
  g_test_add_func ("/format/drm-format-malformed", test_drm_format_malformed);
  g_test_add_func ("/format/dma-drm-caps", test_dma_drm_caps);
  g_test_add_func ("/format/dma-drm-caps-refused", test_dma_drm_caps_refused);
  g_test_add_func ("/format/dma-drm-choice", test_dma_drm_choice);
  g_test_add_func ("/format/drm-format-matches-gstreamer",
      test_drm_format_matches_gstreamer);
  ret = g_test_run ();
  gst_object_unref (fd_allocator);
  return ret;
}
