/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesink and dmapipesrc under GstHarness, on the host's sealed memfds.
 * The other end of each stream is libdmapipe itself, in this process: a
 * dmapipe_client checks what the sink serves, a dmapipe_server feeds the
 * source, so every test sees both the GStreamer and the protocol side.
 * Frame content is the test pattern (docs/PATTERN.md), checked byte for
 * byte.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#define W 64
#define H 48
#define CAPS_NV12 "video/x-raw,format=NV12,width=64,height=48,framerate=30/1"

static gchar *tmpdir;
static gchar *sock;

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("dmapipe-gst-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
  sock = g_build_filename (tmpdir, "s", NULL);
}

static void
teardown (void)
{
  unlink (sock);
  rmdir (tmpdir);
  g_free (sock);
  g_free (tmpdir);
}

static guint64
now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

/* ---- frames in GStreamer buffers ---------------------------------------- */

/* The dmapipe layout of a mapped video frame, planes pointing into it. */
static void
frame_layout (GstVideoFrame * frame, struct dmapipe_layout *l,
    uint8_t * planes[])
{
  guint p;

  memset (l, 0, sizeof (*l));
  l->format.fourcc = dmapipe_fourcc_from_string ("NV12");
  l->format.width = GST_VIDEO_FRAME_WIDTH (frame);
  l->format.height = GST_VIDEO_FRAME_HEIGHT (frame);
  l->n_objects = 1;
  l->objects[0].size = G_MAXUINT32;
  l->n_planes = GST_VIDEO_FRAME_N_PLANES (frame);
  for (p = 0; p < l->n_planes; p++) {
    l->planes[p].stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
    planes[p] = GST_VIDEO_FRAME_PLANE_DATA (frame, p);
  }
}

static void
draw_buffer (GstBuffer * buf, const GstVideoInfo * info, guint64 seq)
{
  struct dmapipe_layout l;
  uint8_t *planes[4];
  GstVideoFrame frame;

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_WRITE));
  frame_layout (&frame, &l, planes);
  fail_unless_equals_int (dmapipe_pattern_draw (&l, planes, seq), 0);
  gst_video_frame_unmap (&frame);
  GST_BUFFER_OFFSET (buf) = seq;
}

static gboolean
buffer_has_pattern (GstBuffer * buf, guint64 seq)
{
  struct dmapipe_layout l;
  uint8_t *planes[4];
  GstVideoFrame frame;
  GstVideoInfo info;
  gint ret;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, W, H);
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
  frame_layout (&frame, &l, planes);
  ret = dmapipe_pattern_check (&l, planes, seq, NULL, NULL);
  gst_video_frame_unmap (&frame);
  return ret == 0;
}

/* ---- a consumer for the sink: libdmapipe's client ------------------------ */

static struct dmapipe_client *
consumer_new (enum dmapipe_policy policy, guint in_flight)
{
  struct dmapipe_client_options o;
  struct dmapipe_client *c;

  dmapipe_client_options_init (&o);
  o.path = sock;
  o.policy = policy;
  o.queue_depth = 2;
  o.max_in_flight = in_flight;
  o.name = "check";
  c = dmapipe_client_new (&o);
  fail_unless (c != NULL, "connect: %s", g_strerror (errno));
  return c;
}

/* Dispatches until the sink counts @n consumers. */
static void
wait_consumers (GstElement * sink, struct dmapipe_client *c, guint n)
{
  guint64 deadline = now_ms () + 5000;
  guint have = 0;

  while (now_ms () < deadline) {
    if (c)
      dmapipe_client_dispatch (c, 10);
    else
      g_usleep (10000);
    g_object_get (sink, "consumers", &have, NULL);
    if (have == n)
      return;
  }
  fail ("sink has %u consumers, expected %u", have, n);
}

static guint64
get_u64 (GstElement * e, const gchar * prop)
{
  guint64 v;

  g_object_get (e, prop, &v, NULL);
  return v;
}

static GstHarness *
sink_harness (const gchar * extra)
{
  GstElement *sink = gst_element_factory_make ("dmapipesink", NULL);
  GstHarness *h;

  fail_unless (sink != NULL);
  g_object_set (sink, "socket-path", sock, "sync", FALSE, "allocator", "memfd",
      "lease-timeout", 0, NULL);
  if (extra) {
    gchar **kv = g_strsplit (extra, "=", 2);

    gst_util_set_object_arg (G_OBJECT (sink), kv[0], kv[1]);
    g_strfreev (kv);
  }
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, CAPS_NV12);
  return h;
}

/* Asks the sink for its pool, as a producer that wants one does, and
 * configures it with at most @max_buffers (0: as the sink proposes,
 * without a maximum: it grows). */
static GstBufferPool *
sink_pool_max (GstHarness * h, GstVideoInfo * info, guint max_buffers)
{
  GstCaps *caps = gst_caps_from_string (CAPS_NV12);
  GstQuery *query = gst_query_new_allocation (caps, TRUE);
  GstBufferPool *pool = NULL;
  GstStructure *config;
  guint size, min, max;

  fail_unless (gst_video_info_from_caps (info, caps));
  fail_unless (gst_pad_peer_query (h->srcpad, query));
  fail_unless (gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE,
          NULL));
  fail_unless_equals_int (gst_query_get_n_allocation_pools (query), 1);
  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
  fail_unless (pool != NULL);
  fail_unless (size >= info->size);
  fail_unless_equals_int (max, 0);
  if (max_buffers)
    max = MAX (max_buffers, min);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  gst_query_unref (query);
  gst_caps_unref (caps);
  return pool;
}

static GstBufferPool *
sink_pool (GstHarness * h, GstVideoInfo * info)
{
  return sink_pool_max (h, info, 0);
}

/* Waits up to 5 s for @buf's reference count to come down to @refs. */
static void
wait_refcount (GstBuffer * buf, gint refs)
{
  guint64 deadline = now_ms () + 5000;

  while (GST_MINI_OBJECT_REFCOUNT_VALUE (buf) != refs && now_ms () < deadline)
    g_usleep (1000);
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (buf), refs);
}

static GstBuffer *
pool_frame (GstBufferPool * pool, const GstVideoInfo * info, guint64 seq)
{
  GstBuffer *buf = NULL;

  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buf, NULL),
      GST_FLOW_OK);
  draw_buffer (buf, info, seq);
  return buf;
}

/* The frame from the sink, checked against the pattern. */
static struct dmapipe_frame *
expect_frame (struct dmapipe_client *c, guint64 seq)
{
  struct dmapipe_frame *f = dmapipe_client_wait_frame (c, 5000);

  fail_unless (f != NULL, "no frame: %s", g_strerror (errno));
  fail_unless_equals_uint64 (f->meta.sequence, seq);
  fail_unless_equals_int (dmapipe_buffer_check_pattern (f->buffer, seq), 0);
  return f;
}

/* ---- dmapipesink ------------------------------------------------------ */

GST_START_TEST (test_sink_pool_zero_copy)
{
  struct dmapipe_copy_stats before, after;
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstBuffer *buf;
  GstVideoMeta *vmeta;
  GstHarness *h;
  guint64 i;

  h = sink_harness (NULL);
  pool = sink_pool (h, &info);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  dmapipe_get_copy_stats (&before);
  for (i = 0; i < 10; i++) {
    buf = pool_frame (pool, &info, i);
    fail_unless (gst_is_fd_memory (gst_buffer_peek_memory (buf, 0)));
    vmeta = gst_buffer_get_video_meta (buf);
    fail_unless (vmeta != NULL);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
    f = expect_frame (c, i);
    /* strides and offsets travel as the pool laid them out */
    fail_unless_equals_int (dmapipe_buffer_get_layout (f->buffer)->planes[1].
        offset, GST_VIDEO_INFO_PLANE_OFFSET (&info, 1));
    fail_unless_equals_int (dmapipe_client_release_frame (c, f, -1), 0);
  }
  dmapipe_get_copy_stats (&after);
  fail_unless_equals_uint64 (after.frames, before.frames);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 0);
  fail_unless_equals_uint64 (get_u64 (h->element, "frames"), 10);

  dmapipe_client_free (c);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* stride-align lays the pool's rows out for a consumer's hardware */
GST_START_TEST (test_sink_pool_stride_align)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstVideoMeta *vmeta;
  GstBuffer *buf;
  GstHarness *h;

  h = sink_harness ("stride-align=256");
  pool = sink_pool (h, &info);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  buf = pool_frame (pool, &info, 7);
  vmeta = gst_buffer_get_video_meta (buf);
  fail_unless_equals_int (vmeta->stride[0], 256);
  fail_unless_equals_int (vmeta->stride[1], 256);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  f = expect_frame (c, 7);
  fail_unless_equals_int (dmapipe_buffer_get_layout (f->buffer)->planes[0].
      stride, 256);
  dmapipe_client_release_frame (c, f, -1);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 0);

  dmapipe_client_free (c);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

static GstBuffer *
sysmem_frame (guint64 seq)
{
  GstVideoInfo info;
  GstBuffer *buf;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, W, H);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  draw_buffer (buf, &info, seq);
  return buf;
}

GST_START_TEST (test_sink_copy_counted)
{
  struct dmapipe_copy_stats before, after;
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstHarness *h;

  h = sink_harness (NULL);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  dmapipe_get_copy_stats (&before);
  fail_unless_equals_int (gst_harness_push (h, sysmem_frame (3)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, sysmem_frame (4)), GST_FLOW_OK);
  f = expect_frame (c, 3);
  dmapipe_client_release_frame (c, f, -1);
  f = expect_frame (c, 4);
  dmapipe_client_release_frame (c, f, -1);
  dmapipe_get_copy_stats (&after);

  /* both copies counted, by the element and by the library */
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 2);
  fail_unless_equals_uint64 (after.frames - before.frames, 2);
  fail_unless_equals_uint64 (after.bytes - before.bytes, 2 * (W * H * 3 / 2));

  dmapipe_client_free (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_sink_strict)
{
  struct dmapipe_copy_stats before, after;
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstHarness *h;

  h = sink_harness ("strict=true");
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  dmapipe_get_copy_stats (&before);
  fail_unless_equals_int (gst_harness_push (h, sysmem_frame (1)),
      GST_FLOW_ERROR);
  dmapipe_get_copy_stats (&after);
  fail_unless_equals_uint64 (after.frames, before.frames);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 0);
  f = dmapipe_client_wait_frame (c, 200);
  fail_unless (f == NULL && errno == ETIMEDOUT);

  dmapipe_client_free (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Ends the stream: EOS to the sink, then to consumer @c; returns the
 * ring-wakeups of the dmapipesink-stats message the sink posts on @bus. */
static guint64
end_and_count_wakeups (GstHarness * h, GstBus * bus, struct dmapipe_client *c)
{
  const GstStructure *st;
  GstMessage *msg;
  guint64 wakeups = G_MAXUINT64;

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (dmapipe_client_wait_frame (c, 5000) == NULL && errno == EPIPE,
      "%s", g_strerror (errno));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL && gst_message_has_name (msg, "dmapipesink-stats"));
  st = gst_message_get_structure (msg);
  fail_unless (gst_structure_get_uint64 (st, "ring-wakeups", &wakeups));
  gst_message_unref (msg);
  return wakeups;
}

/* The sink keeps the GstBuffer (and so the upstream pool's buffer) as long
 * as a consumer holds the frame. A buffer of another element's pool with a
 * maximum (upstream could wait for it; here another dmapipesink's) comes
 * back as soon as the consumer releases it, and with no consumer at all at
 * once. A buffer of a pool that grows (the sink's own, as proposed) may
 * come back later, at the latest with the next frame: the consumer's
 * release waits in its ring and wakes nobody, so at EOS the sink counts no
 * release wake-up (ring-wakeups). */
static void
check_sink_release (guint max_buffers)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstBuffer *buf, *next;
  GstHarness *h, *other = NULL;
  GstBus *bus;
  gchar *other_sock = NULL;

  h = sink_harness (NULL);
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  if (max_buffers) {
    /* a pool this sink did not propose: it cannot see who waits in it */
    other_sock = g_strdup_printf ("socket-path=%s.other", sock);
    other = sink_harness (other_sock);
    pool = sink_pool_max (other, &info, max_buffers);
  } else {
    pool = sink_pool_max (h, &info, 0);
  }
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  buf = pool_frame (pool, &info, 0);
  gst_buffer_ref (buf);
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  f = expect_frame (c, 0);
  /* ours and the sink's, held for the consumer */
  fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (buf), 2);
  fail_unless_equals_int (dmapipe_client_release_frame (c, f, -1), 0);

  if (max_buffers) {
    wait_refcount (buf, 1);
    gst_buffer_unref (buf);

    /* and with no consumer at all, at once */
    dmapipe_client_free (c);
    wait_consumers (h->element, NULL, 0);
    buf = pool_frame (pool, &info, 1);
    gst_buffer_ref (buf);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
    fail_unless_equals_int (GST_MINI_OBJECT_REFCOUNT_VALUE (buf), 1);
    gst_buffer_unref (buf);
  } else {
    next = pool_frame (pool, &info, 1);
    fail_unless_equals_int (gst_harness_push (h, next), GST_FLOW_OK);
    /* The ring's release is taken by that frame's queue (over the socket
     * alone, by the dispatch thread when it comes). Not asserted at once:
     * a dispatch the thread makes for another reason may take it first
     * and give the buffer back just after this push returns. */
    wait_refcount (buf, 1);
    gst_buffer_unref (buf);
    f = expect_frame (c, 1);
    fail_unless_equals_int (dmapipe_client_release_frame (c, f, -1), 0);

    /* over the socket alone (DMAPIPE_RINGS=0) there is no ring to wake for */
    fail_unless_equals_uint64 (end_and_count_wakeups (h, bus, c), 0);
    dmapipe_client_free (c);
  }

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
  if (other) {
    /* its server removes its socket */
    gst_harness_teardown (other);
    g_free (other_sock);
  }
}

GST_START_TEST (test_sink_release)
{
  check_sink_release (0);
}

GST_END_TEST;

GST_START_TEST (test_sink_release_bounded_pool)
{
  check_sink_release (4);
}

GST_END_TEST;

typedef struct
{
  GstBufferPool *pool;
  GstBuffer *buf;
  gint ret;                     /* -1 until the acquire returned */
} AcquireJob;

static gpointer
acquire_thread (gpointer data)
{
  AcquireJob *job = data;
  GstFlowReturn ret = gst_buffer_pool_acquire_buffer (job->pool, &job->buf,
      NULL);

  g_atomic_int_set (&job->ret, ret);
  return NULL;
}

/* The sink's own pool, bounded by upstream: a consumer's release does not
 * wake the sink while nobody waits for the buffer. An acquire that finds
 * the pool empty takes the releases made so far (DONTWAIT, then a blocking
 * one), and a blocking acquire that found none is woken by the next
 * release. Tried: an empty pool with every frame held, one release taken
 * by a DONTWAIT acquire, a blocking acquire that cannot succeed while the
 * consumer holds the last frame, then succeeds once it releases it; at EOS
 * the sink counted at most that one wake-up. */
GST_START_TEST (test_sink_bounded_pool_reclaim)
{
  GstBufferPoolAcquireParams dontwait = {.flags =
        GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT
  };
  struct dmapipe_frame *f0, *f1;
  struct dmapipe_client *c;
  AcquireJob job = {.ret = -1 };
  GstBufferPool *pool;
  GstVideoInfo info;
  GstBuffer *b0, *b1, *got = NULL;
  GstStructure *config;
  GThread *thread;
  GstHarness *h;
  GstBus *bus;
  guint64 wakeups;
  guint max;

  h = sink_harness (NULL);
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  /* as small as the sink lets it be: two buffers, both allocated */
  pool = sink_pool_max (h, &info, 1);
  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_get_params (config, NULL, NULL, NULL,
          &max));
  gst_structure_free (config);
  fail_unless_equals_int (max, 2);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  b0 = pool_frame (pool, &info, 0);
  b1 = pool_frame (pool, &info, 1);
  fail_unless_equals_int (gst_harness_push (h, b0), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, b1), GST_FLOW_OK);
  f0 = expect_frame (c, 0);
  f1 = expect_frame (c, 1);
  /* both with the consumer: nothing to take */
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &got,
          &dontwait), GST_FLOW_EOS);

  /* released into the ring (or the socket): the acquire takes it */
  fail_unless_equals_int (dmapipe_client_release_frame (c, f0, -1), 0);
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &got,
          &dontwait), GST_FLOW_OK);
  fail_unless (got == b0);

  /* empty again, and the consumer holds the last frame: this one waits */
  job.pool = pool;
  thread = g_thread_new ("acquire", acquire_thread, &job);
  g_usleep (50000);
  fail_unless_equals_int (g_atomic_int_get (&job.ret), -1);
  fail_unless_equals_int (dmapipe_client_release_frame (c, f1, -1), 0);
  g_thread_join (thread);
  fail_unless_equals_int (job.ret, GST_FLOW_OK);
  fail_unless (job.buf == b1);

  gst_buffer_unref (got);
  gst_buffer_unref (job.buf);
  /* the first release woke nobody; the second may have, for the waiter */
  wakeups = end_and_count_wakeups (h, bus, c);
  fail_unless (wakeups <= 1, "%" G_GUINT64_FORMAT " wake-ups", wakeups);

  dmapipe_client_free (c);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A consumer that never reads nor releases does not slow the sink: its
 * frames are dropped (policy latest), counted. */
GST_START_TEST (test_sink_slow_consumer)
{
  struct dmapipe_client *slow, *fast;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  guint64 start, i, got = 0;

  h = sink_harness (NULL);
  pool = sink_pool (h, &info);
  slow = consumer_new (DMAPIPE_POLICY_LATEST, 1);
  fast = consumer_new (DMAPIPE_POLICY_LATEST, 2);
  wait_consumers (h->element, fast, 2);
  dmapipe_client_dispatch (slow, 100);

  start = now_ms ();
  for (i = 0; i < 200; i++) {
    fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, i)),
        GST_FLOW_OK);
    /* the fast one keeps up */
    while ((f = dmapipe_client_acquire_frame (fast)) != NULL) {
      fail_unless_equals_int (dmapipe_buffer_check_pattern (f->buffer,
              f->meta.sequence), 0);
      dmapipe_client_release_frame (fast, f, -1);
      got++;
    }
    dmapipe_client_dispatch (fast, 0);
  }
  fail_unless (now_ms () - start < 3000, "200 frames took %" G_GUINT64_FORMAT
      " ms", now_ms () - start);
  fail_unless (got > 0);
  /* the slow consumer took one frame and holds it: the rest were dropped */
  fail_unless (get_u64 (h->element, "drops") >= 150, "drops %"
      G_GUINT64_FORMAT, get_u64 (h->element, "drops"));
  fail_unless_equals_uint64 (get_u64 (h->element, "frames"), 200);

  dmapipe_client_free (slow);
  dmapipe_client_free (fast);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct
{
  GstHarness *h;
  GstBufferPool *pool;
  GstVideoInfo *info;
  guint n;
  gint pushed;
} PushJob;

static gpointer
push_thread (gpointer data)
{
  PushJob *job = data;
  guint i;

  for (i = 0; i < job->n; i++) {
    fail_unless_equals_int (gst_harness_push (job->h, pool_frame (job->pool,
                job->info, i)), GST_FLOW_OK);
    g_atomic_int_inc (&job->pushed);
  }
  return NULL;
}

/* A block-policy consumer asked for backpressure: it gets every frame and
 * the sink waits for it. */
GST_START_TEST (test_sink_block_policy)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  GThread *t;
  PushJob job;
  guint i;

  h = sink_harness (NULL);
  pool = sink_pool (h, &info);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 1);
  wait_consumers (h->element, c, 1);

  job.h = h;
  job.pool = pool;
  job.info = &info;
  job.n = 20;
  job.pushed = 0;
  t = g_thread_new ("push", push_thread, &job);
  /* one in flight + a queue of 2: the producer stops after a few */
  g_usleep (300000);
  fail_unless (g_atomic_int_get (&job.pushed) < 10, "pushed %d",
      g_atomic_int_get (&job.pushed));
  for (i = 0; i < job.n; i++) {
    f = expect_frame (c, i);
    dmapipe_client_release_frame (c, f, -1);
  }
  g_thread_join (t);
  fail_unless_equals_uint64 (get_u64 (h->element, "drops"), 0);

  dmapipe_client_free (c);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* EOS reaches consumers after the frames queued for them. */
GST_START_TEST (test_sink_eos)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  GstMessage *msg;
  GstBus *bus;
  guint i;

  h = sink_harness (NULL);
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  pool = sink_pool (h, &info);
  c = consumer_new (DMAPIPE_POLICY_QUEUE, 1);
  wait_consumers (h->element, c, 1);

  for (i = 0; i < 3; i++)
    fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, i)),
        GST_FLOW_OK);
  /* the consumer releases as it goes, so all three reach it before EOS */
  for (i = 0; i < 3; i++) {
    f = expect_frame (c, i);
    dmapipe_client_release_frame (c, f, -1);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  f = dmapipe_client_wait_frame (c, 5000);
  fail_unless (f == NULL && errno == EPIPE, "%s", g_strerror (errno));
  fail_unless_equals_int (dmapipe_client_get_state (c), DMAPIPE_CLIENT_EOS);

  /* the stats are posted for gst-launch -m and applications */
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  fail_unless (gst_message_has_name (msg, "dmapipesink-stats"));
  gst_message_unref (msg);

  dmapipe_client_free (c);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A flushing seek: streaming goes on; after EOS, a new stream is served on
 * a fresh connection. */
GST_START_TEST (test_sink_flush)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  GstSegment segment;

  h = sink_harness (NULL);
  pool = sink_pool (h, &info);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, 0)),
      GST_FLOW_OK);
  f = expect_frame (c, 0);
  dmapipe_client_release_frame (c, f, -1);

  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, 100)),
      GST_FLOW_OK);
  f = expect_frame (c, 100);
  dmapipe_client_release_frame (c, f, -1);

  /* EOS, then a flushing seek back into the stream */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  f = dmapipe_client_wait_frame (c, 5000);
  fail_unless (f == NULL && errno == EPIPE);
  dmapipe_client_free (c);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);
  fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, 5)),
      GST_FLOW_OK);
  f = expect_frame (c, 5);
  dmapipe_client_release_frame (c, f, -1);

  dmapipe_client_free (c);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct
{
  GstHarness *h;
  GstBuffer *buf;
  GstFlowReturn ret;
  gint done;
} OnePush;

static gpointer
push_one (gpointer data)
{
  OnePush *job = data;

  job->ret = gst_harness_push (job->h, job->buf);
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

/* The unlock path: a sink waiting for consumers gives up when flushed. */
GST_START_TEST (test_sink_wait_consumers_flush)
{
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  OnePush job;
  GThread *t;
  guint64 start;

  h = sink_harness ("wait-consumers=1");
  pool = sink_pool (h, &info);
  job.h = h;
  job.buf = pool_frame (pool, &info, 0);
  job.ret = GST_FLOW_OK;
  job.done = 0;
  t = g_thread_new ("push", push_one, &job);
  g_usleep (300000);
  fail_if (g_atomic_int_get (&job.done), "pushed without a consumer");

  start = now_ms ();
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  g_thread_join (t);
  fail_unless (now_ms () - start < 1000);
  fail_unless_equals_int (job.ret, GST_FLOW_FLUSHING);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));

  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A new format: the old buffers go, consumers get the new format. */
GST_START_TEST (test_sink_caps_change)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  const struct dmapipe_format *fmt;
  GstVideoInfo info;
  GstBuffer *buf;
  GstHarness *h;

  h = sink_harness (NULL);
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);

  fail_unless_equals_int (gst_harness_push (h, sysmem_frame (0)), GST_FLOW_OK);
  f = expect_frame (c, 0);
  dmapipe_client_release_frame (c, f, -1);

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=NV12,width=32,height=16,framerate=30/1");
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 32, 16);
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  {
    struct dmapipe_layout l;
    uint8_t *planes[4];
    GstVideoFrame frame;

    fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
    frame_layout (&frame, &l, planes);
    fail_unless_equals_int (dmapipe_pattern_draw (&l, planes, 1), 0);
    gst_video_frame_unmap (&frame);
  }
  GST_BUFFER_OFFSET (buf) = 1;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  f = dmapipe_client_wait_frame (c, 5000);
  fail_unless (f != NULL);
  fmt = dmapipe_client_get_format (c);
  fail_unless (fmt != NULL);
  fail_unless_equals_int (fmt->width, 32);
  fail_unless_equals_int (dmapipe_buffer_get_layout (f->buffer)->format.height,
      16);
  fail_unless_equals_int (dmapipe_buffer_check_pattern (f->buffer, 1), 0);
  dmapipe_client_release_frame (c, f, -1);

  dmapipe_client_free (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- a producer for the source: libdmapipe's server ---------------------- */

typedef struct
{
  GMutex lock;
  struct dmapipe_server *server;
  GThread *thread;
  gint stop;
  guint64 seq;
  /* buffers of the producer's own layout, and which are free */
  struct dmapipe_buffer *bufs[8];
  gboolean busy[8];
  guint n_bufs;
} Producer;

static gpointer
producer_loop (gpointer data)
{
  Producer *p = data;

  while (!g_atomic_int_get (&p->stop)) {
    struct pollfd pfd = { dmapipe_server_get_fd (p->server), POLLIN, 0 };

    poll (&pfd, 1, 5);
    g_mutex_lock (&p->lock);
    dmapipe_server_dispatch (p->server, 0);
    g_mutex_unlock (&p->lock);
  }
  return NULL;
}

static void
on_idle (struct dmapipe_server *s, struct dmapipe_buffer *b, void *data)
{
  Producer *p = data;
  guint i;

  for (i = 0; i < p->n_bufs; i++)
    if (p->bufs[i] == b)
      p->busy[i] = FALSE;
}

/* A producer of NV12 @width x 48 in @count memfd buffers, each with rows
 * @stride bytes apart (0: the library's default, from the server's pool). */
static Producer *
producer_new (guint width, guint stride, guint count)
{
  struct dmapipe_server_options o;
  struct dmapipe_format f = { 0, };
  struct dmapipe_allocator *alloc;
  Producer *p = g_new0 (Producer, 1);
  guint i;

  dmapipe_server_options_init (&o);
  o.path = sock;
  o.lease_timeout_ms = 0;
  o.max_in_flight = 4;
  p->server = dmapipe_server_new (&o);
  fail_unless (p->server != NULL, "server: %s", g_strerror (errno));
  g_mutex_init (&p->lock);
  dmapipe_server_set_idle_callback (p->server, on_idle, p);

  f.fourcc = dmapipe_fourcc_from_string ("NV12");
  f.width = width;
  f.height = H;
  f.modifier = DMAPIPE_MOD_LINEAR;
  alloc = dmapipe_allocator_new ("memfd");
  fail_unless (alloc != NULL);
  if (!stride) {
    fail_unless_equals_int (dmapipe_server_alloc_buffers (p->server, alloc, &f,
            count), 0);
  } else {
    for (i = 0; i < count && i < G_N_ELEMENTS (p->bufs); i++) {
      struct dmapipe_layout l;
      struct dmapipe_buffer *b;

      fail_unless_equals_int (dmapipe_layout_init (&l, &f, 0), 0);
      l.planes[0].stride = stride;
      l.planes[1].stride = stride;
      l.planes[1].offset = (guint64) stride * H + 4096;
      l.objects[0].size = l.planes[1].offset + (guint64) stride * H / 2;
      b = dmapipe_allocator_alloc_layout (alloc, &l);
      fail_unless (b != NULL);
      fail_unless (dmapipe_server_add_buffer (p->server, b) >= 0);
      p->bufs[p->n_bufs++] = b;
    }
  }
  dmapipe_allocator_unref (alloc);
  p->thread = g_thread_new ("producer", producer_loop, p);
  return p;
}

static void
producer_free (Producer * p)
{
  guint i;

  g_atomic_int_set (&p->stop, 1);
  g_thread_join (p->thread);
  dmapipe_server_free (p->server);
  for (i = 0; i < p->n_bufs; i++)
    dmapipe_buffer_unref (p->bufs[i]);
  g_mutex_clear (&p->lock);
  g_free (p);
}

/* Draws and queues the next frame in a free buffer. */
static void
producer_push (Producer * p)
{
  struct dmapipe_frame_meta meta;
  guint64 deadline = now_ms () + 5000;
  struct dmapipe_buffer *b = NULL;
  guint i;

  g_mutex_lock (&p->lock);
  while (!b) {
    if (p->n_bufs) {
      for (i = 0; i < p->n_bufs && !b; i++)
        if (!p->busy[i]) {
          p->busy[i] = TRUE;
          b = dmapipe_buffer_ref (p->bufs[i]);
        }
    } else {
      b = dmapipe_server_dequeue (p->server);
      fail_unless (b || errno == EAGAIN);
    }
    if (!b) {
      fail_unless (now_ms () < deadline, "the producer has no free buffer");
      g_mutex_unlock (&p->lock);
      g_usleep (1000);
      g_mutex_lock (&p->lock);
    }
  }
  fail_unless_equals_int (dmapipe_buffer_draw_pattern (b, p->seq), 0);
  dmapipe_frame_meta_init (&meta);
  meta.sequence = p->seq++;
  meta.timestamp_ns = (guint64) g_get_monotonic_time () * 1000;
  fail_unless (dmapipe_server_queue (p->server, b, &meta) >= 0);
  g_mutex_unlock (&p->lock);
}

static guint
producer_leases (Producer * p)
{
  struct dmapipe_consumer_stats cs[4];
  guint n = 0;
  gint i, count;

  g_mutex_lock (&p->lock);
  count = dmapipe_server_get_consumer_stats (p->server, cs, 4);
  for (i = 0; i < MIN (count, 4); i++)
    n += cs[i].leases_held;
  g_mutex_unlock (&p->lock);
  return n;
}

static guint
producer_consumers (Producer * p)
{
  struct dmapipe_server_stats st;

  g_mutex_lock (&p->lock);
  dmapipe_server_get_stats (p->server, &st);
  g_mutex_unlock (&p->lock);
  return st.consumers;
}

/* Starts the source and waits until the producer sees it streaming, so that
 * no frame is queued before there is a consumer to take it. */
static void
src_play (GstHarness * h, Producer * p)
{
  guint64 deadline = now_ms () + 5000;

  gst_harness_play (h);
  while (producer_consumers (p) != 1 && now_ms () < deadline)
    g_usleep (1000);
  fail_unless_equals_int (producer_consumers (p), 1);
}

static void
wait_leases (Producer * p, guint n)
{
  guint64 deadline = now_ms () + 5000;

  while (producer_leases (p) != n && now_ms () < deadline)
    g_usleep (1000);
  fail_unless_equals_int (producer_leases (p), n);
}

static GstHarness *
src_harness (gboolean videometa)
{
  GstHarness *h = gst_harness_new ("dmapipesrc");

  g_object_set (h->element, "socket-path", sock, "timeout", 10000, NULL);
  if (videometa)
    gst_harness_add_propose_allocation_meta (h, GST_VIDEO_META_API_TYPE, NULL);
  return h;
}

/* ---- dmapipesrc ------------------------------------------------------- */

GST_START_TEST (test_src_caps_and_meta)
{
  GstVideoMeta *vmeta;
  GstStructure *s;
  GstBuffer *buf;
  GstHarness *h;
  Producer *p;
  GstCaps *caps;
  gint width, height;

  /* rows padded to 128 bytes and a gap between the planes */
  p = producer_new (66, 128, 2);
  h = src_harness (TRUE);
  src_play (h, p);
  producer_push (p);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);

  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (caps != NULL);
  s = gst_caps_get_structure (caps, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "format"), "NV12");
  fail_unless (gst_structure_get_int (s, "width", &width)
      && gst_structure_get_int (s, "height", &height));
  fail_unless_equals_int (width, 66);
  fail_unless_equals_int (height, H);
  /* memfds are not dma-bufs: no memory:DMABuf feature */
  fail_unless (gst_caps_features_is_equal (gst_caps_get_features (caps, 0),
          GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY));
  gst_caps_unref (caps);

  fail_unless_equals_int (gst_buffer_n_memory (buf), 1);
  fail_unless (gst_is_fd_memory (gst_buffer_peek_memory (buf, 0)));
  fail_unless (GST_MEMORY_IS_READONLY (gst_buffer_peek_memory (buf, 0)));
  vmeta = gst_buffer_get_video_meta (buf);
  fail_unless (vmeta != NULL);
  fail_unless_equals_int (vmeta->stride[0], 128);
  fail_unless_equals_int (vmeta->stride[1], 128);
  fail_unless_equals_int (vmeta->offset[1], 128 * H + 4096);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 0);
  fail_unless (GST_BUFFER_PTS_IS_VALID (buf));
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  {
    struct dmapipe_layout l;
    uint8_t *planes[4];
    GstVideoFrame frame;
    GstVideoInfo info;

    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 66, H);
    fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
    frame_layout (&frame, &l, planes);
    fail_unless_equals_int (dmapipe_pattern_check (&l, planes, 0, NULL, NULL),
        0);
    gst_video_frame_unmap (&frame);
  }
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 0);
  gst_buffer_unref (buf);

  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* Downstream that only takes dma-buf caps cannot get memfds. */
GST_START_TEST (test_src_not_negotiated)
{
  GstHarness *h;
  Producer *p;
  GstEvent *ev;
  GstBus *bus;
  GstMessage *msg;

  p = producer_new (W, 0, 2);
  h = src_harness (TRUE);
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_set_sink_caps_str (h, "video/x-raw(memory:DMABuf)");
  src_play (h, p);
  producer_push (p);
  msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  while ((ev = gst_harness_try_pull_event (h)))
    gst_event_unref (ev);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* Frames go back to the producer when GStreamer frees their memory, not
 * before: a copy of the GstBuffer (sharing the memory) keeps the lease. The
 * memory made for a producer buffer is reused for its next frame. */
GST_START_TEST (test_src_release_and_reuse)
{
  GstBuffer *buf, *copy, *again;
  GstMemory *mem;
  GstHarness *h;
  Producer *p;

  p = producer_new (W, 0, 1);
  h = src_harness (TRUE);
  src_play (h, p);

  producer_push (p);
  buf = gst_harness_pull (h);
  wait_leases (p, 1);
  mem = gst_buffer_peek_memory (buf, 0);
  copy = gst_buffer_copy (buf);
  gst_buffer_unref (buf);
  g_usleep (50000);
  fail_unless_equals_int (producer_leases (p), 1);
  gst_buffer_unref (copy);
  wait_leases (p, 0);

  /* the only buffer comes back: same GstMemory, for import caches */
  producer_push (p);
  again = gst_harness_pull (h);
  fail_unless (gst_buffer_peek_memory (again, 0) == mem);
  fail_unless (buffer_has_pattern (again, 1));
  gst_buffer_unref (again);
  wait_leases (p, 0);

  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* The GstBuffer of a producer buffer is kept for its next frame when it
 * comes back whole, stripped of what downstream added; whenever one of its
 * memories is still held elsewhere, the frame stays leased until that
 * memory is freed too. Tried: a foreign meta and flag on the buffer, a
 * memory kept alone after the buffer went, a memory taken out of the
 * buffer by downstream. */
GST_START_TEST (test_src_buffer_kept)
{
  GstBuffer *buf, *again;
  GstMemory *mem, *held;
  GstVideoMeta *vmeta;
  GstHarness *h;
  Producer *p;

  p = producer_new (W, 0, 1);
  h = src_harness (TRUE);
  src_play (h, p);

  producer_push (p);
  buf = gst_harness_pull (h);
  mem = gst_buffer_peek_memory (buf, 0);
  fail_unless (gst_buffer_is_writable (buf));
  gst_buffer_add_reference_timestamp_meta (buf,
      gst_caps_new_empty_simple ("timestamp/x-test"), 1, GST_CLOCK_TIME_NONE);
  GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_MARKER);
  gst_buffer_get_video_meta (buf)->stride[0] = 1;
  gst_buffer_unref (buf);
  wait_leases (p, 0);

  producer_push (p);
  again = gst_harness_pull (h);
  fail_unless (again == buf);
  fail_unless (gst_buffer_peek_memory (again, 0) == mem);
  fail_unless (gst_buffer_get_reference_timestamp_meta (again, NULL) == NULL);
  fail_if (GST_BUFFER_FLAG_IS_SET (again, GST_BUFFER_FLAG_MARKER));
  fail_if (GST_BUFFER_FLAG_IS_SET (again, GST_BUFFER_FLAG_DISCONT));
  vmeta = gst_buffer_get_video_meta (again);
  fail_unless (vmeta != NULL);
  fail_unless_equals_int (vmeta->stride[0], W);
  fail_unless (buffer_has_pattern (again, 1));

  /* a memory outlives its buffer: the frame stays leased */
  held = gst_memory_ref (gst_buffer_peek_memory (again, 0));
  gst_buffer_unref (again);
  g_usleep (50000);
  fail_unless_equals_int (producer_leases (p), 1);
  gst_memory_unref (held);
  wait_leases (p, 0);

  /* downstream takes the memory out of the buffer */
  producer_push (p);
  buf = gst_harness_pull (h);
  fail_unless (gst_buffer_peek_memory (buf, 0) == mem);
  fail_unless (buffer_has_pattern (buf, 2));
  held = gst_buffer_get_memory (buf, 0);
  gst_buffer_remove_memory (buf, 0);
  gst_buffer_unref (buf);
  g_usleep (50000);
  fail_unless_equals_int (producer_leases (p), 1);
  gst_memory_unref (held);
  wait_leases (p, 0);

  /* and the next frame still comes in the same memory */
  producer_push (p);
  buf = gst_harness_pull (h);
  fail_unless (gst_buffer_peek_memory (buf, 0) == mem);
  fail_unless (buffer_has_pattern (buf, 3));
  gst_buffer_unref (buf);
  wait_leases (p, 0);

  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* The source stops while downstream still holds a frame: the frame stays
 * valid and is released when freed. */
GST_START_TEST (test_src_stop_while_held)
{
  GstBuffer *buf;
  GstHarness *h;
  Producer *p;

  p = producer_new (W, 0, 2);
  h = src_harness (TRUE);
  src_play (h, p);
  producer_push (p);
  buf = gst_harness_pull (h);
  wait_leases (p, 1);
  gst_harness_teardown (h);
  fail_unless (buffer_has_pattern (buf, 0));
  /* the connection lives on with the frame */
  fail_unless_equals_int (producer_consumers (p), 1);
  gst_buffer_unref (buf);
  {
    guint64 deadline = now_ms () + 5000;

    while (producer_consumers (p) != 0 && now_ms () < deadline)
      g_usleep (1000);
  }
  fail_unless_equals_int (producer_consumers (p), 0);
  producer_free (p);
}

GST_END_TEST;

/* Without GstVideoMeta downstream, padded strides are copied into
 * GStreamer's default layout, counted; strict refuses. */
GST_START_TEST (test_src_copy_without_videometa)
{
  struct dmapipe_copy_stats before, after;
  GstBuffer *buf;
  GstHarness *h;
  Producer *p;

  p = producer_new (66, 128, 2);
  h = src_harness (FALSE);
  src_play (h, p);
  dmapipe_get_copy_stats (&before);
  producer_push (p);
  buf = gst_harness_pull (h);
  dmapipe_get_copy_stats (&after);
  fail_unless_equals_uint64 (after.frames - before.frames, 1);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 1);
  fail_unless (!gst_is_fd_memory (gst_buffer_peek_memory (buf, 0)));
  {
    GstVideoInfo info;
    struct dmapipe_layout l;
    uint8_t *planes[4];
    GstVideoFrame frame;

    gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 66, H);
    fail_unless_equals_int (gst_buffer_get_size (buf), info.size);
    fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
    frame_layout (&frame, &l, planes);
    fail_unless_equals_int (dmapipe_pattern_check (&l, planes, 0, NULL, NULL),
        0);
    gst_video_frame_unmap (&frame);
  }
  gst_buffer_unref (buf);
  /* released at once: the copy is ours */
  wait_leases (p, 0);
  gst_harness_teardown (h);
  {
    guint64 deadline = now_ms () + 5000;

    while (producer_consumers (p) != 0 && now_ms () < deadline)
      g_usleep (1000);
  }

  h = src_harness (FALSE);
  g_object_set (h->element, "strict", TRUE, NULL);
  {
    GstBus *bus = gst_bus_new ();
    GstMessage *msg;

    gst_element_set_bus (h->element, bus);
    src_play (h, p);
    dmapipe_get_copy_stats (&before);
    producer_push (p);
    msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL);
    gst_message_unref (msg);
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
  }
  dmapipe_get_copy_stats (&after);
  fail_unless_equals_uint64 (after.frames, before.frames);
  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* Pulls events until EOS (5 s at most). */
static void
pull_until_eos (GstHarness * h)
{
  guint64 deadline = now_ms () + 5000;
  gboolean eos = FALSE;
  GstEvent *ev;

  while (!eos && now_ms () < deadline) {
    ev = gst_harness_try_pull_event (h);
    if (!ev) {
      g_usleep (1000);
      continue;
    }
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos);
}

GST_START_TEST (test_src_eos)
{
  GstBuffer *buf;
  GstHarness *h;
  Producer *p;

  p = producer_new (W, 0, 2);
  h = src_harness (TRUE);
  src_play (h, p);
  producer_push (p);
  buf = gst_harness_pull (h);
  gst_buffer_unref (buf);
  g_mutex_lock (&p->lock);
  dmapipe_server_end_of_stream (p->server);
  g_mutex_unlock (&p->lock);
  pull_until_eos (h);
  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* The dmapipesrc-stats messages on @bus now: how many, and the frames of the last. */
static guint
stats_messages (GstBus * bus, guint64 * frames)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *st = gst_message_get_structure (msg);

    if (gst_structure_has_name (st, "dmapipesrc-stats")) {
      fail_unless (gst_structure_get_uint64 (st, "frames", frames));
      n++;
    }
    gst_message_unref (msg);
  }
  return n;
}

/*
 * The stats message comes once per run however the run ends: at EOS when
 * num-buffers ends the stream (GstBaseSrc sends that EOS, create() is not
 * called), at the producer's EOS, and when the element stops without EOS.
 * Stopping after an EOS does not post it again.
 */
GST_START_TEST (test_src_stats_once)
{
  GstHarness *h;
  GstBus *bus;
  Producer *p;
  guint64 frames = 0;
  gint run;

  for (run = 0; run < 3; run++) {
    p = producer_new (W, 0, 4);
    h = src_harness (TRUE);
    bus = gst_bus_new ();
    gst_element_set_bus (h->element, bus);
    if (run == 0)
      g_object_set (h->element, "num-buffers", 3, NULL);
    src_play (h, p);
    for (gint i = 0; i < (run == 0 ? 3 : 2); i++) {
      producer_push (p);
      gst_buffer_unref (gst_harness_pull (h));
    }
    if (run == 1) {
      g_mutex_lock (&p->lock);
      dmapipe_server_end_of_stream (p->server);
      g_mutex_unlock (&p->lock);
    }
    if (run < 2) {
      pull_until_eos (h);
      fail_unless_equals_int (stats_messages (bus, &frames), 1);
      fail_unless_equals_uint64 (frames, run == 0 ? 3 : 2);
    }
    fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (stats_messages (bus, &frames), run < 2 ? 0 : 1);
    fail_unless_equals_uint64 (frames, 2 + (run == 0));
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
    producer_free (p);
  }
}

GST_END_TEST;

/* With reconnect, a producer restart is a discontinuity, not an error. */
GST_START_TEST (test_src_reconnect)
{
  GstBuffer *buf;
  GstHarness *h;
  Producer *p;

  p = producer_new (W, 0, 2);
  h = src_harness (TRUE);
  g_object_set (h->element, "reconnect", TRUE, NULL);
  src_play (h, p);
  producer_push (p);
  buf = gst_harness_pull (h);
  fail_unless (buffer_has_pattern (buf, 0));
  gst_buffer_unref (buf);
  producer_push (p);
  buf = gst_harness_pull (h);
  fail_unless (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (buf);

  /* the producer goes away and a new one, of another size, comes */
  producer_free (p);
  p = producer_new (2 * W, 0, 2);
  {
    guint64 deadline = now_ms () + 5000;

    while (producer_consumers (p) != 1 && now_ms () < deadline)
      g_usleep (5000);
  }
  fail_unless_equals_int (producer_consumers (p), 1);
  producer_push (p);
  buf = gst_harness_pull (h);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 0);
  fail_unless_equals_int (gst_buffer_get_video_meta (buf)->width, 2 * W);
  gst_buffer_unref (buf);
  fail_unless (get_u64 (h->element, "reconnects") >= 1);

  gst_harness_teardown (h);
  producer_free (p);
}

GST_END_TEST;

/* Without reconnect, a producer that dies (no EOS) is an error. */
GST_START_TEST (test_src_producer_gone)
{
  GstHarness *h;
  GstBuffer *buf;
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  pid_t pid;
  gint status, sync[2];
  gchar c;

  fail_unless (pipe (sync) == 0);
  pid = fork ();
  fail_unless (pid >= 0);
  if (pid == 0) {
    /* the producer, in a process of its own, killed below */
    Producer *p = producer_new (W, 0, 2);
    guint64 deadline;

    if (write (sync[1], "r", 1) != 1)
      _exit (1);
    deadline = now_ms () + 5000;
    while (producer_consumers (p) != 1 && now_ms () < deadline)
      g_usleep (1000);
    producer_push (p);
    for (;;)
      pause ();
  }
  close (sync[1]);
  fail_unless (read (sync[0], &c, 1) == 1);
  close (sync[0]);

  h = src_harness (TRUE);
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);
  buf = gst_harness_pull (h);
  fail_unless (buffer_has_pattern (buf, 0));
  gst_buffer_unref (buf);

  kill (pid, SIGKILL);
  fail_unless (waitpid (pid, &status, 0) == pid);
  msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_READ), "%s", err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct
{
  GstElement *element;
  gint done;
} StateJob;

static gpointer
to_null (gpointer data)
{
  StateJob *job = data;

  gst_element_set_state (job->element, GST_STATE_NULL);
  g_atomic_int_set (&job->done, 1);
  return NULL;
}

/* A source waiting for frames stops promptly (unlock). */
GST_START_TEST (test_src_unlock)
{
  GstElement *pipe, *src, *sink;
  StateJob job;
  GThread *t;
  Producer *p;
  guint64 start;

  p = producer_new (W, 0, 2);
  pipe = gst_pipeline_new (NULL);
  src = gst_element_factory_make ("dmapipesrc", NULL);
  sink = gst_element_factory_make ("fakesink", NULL);
  fail_unless (src && sink);
  g_object_set (src, "socket-path", sock, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, sink, NULL);
  fail_unless (gst_element_link (src, sink));
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  g_usleep (200000);            /* now blocked waiting for a frame */

  job.element = pipe;
  job.done = 0;
  start = now_ms ();
  t = g_thread_new ("stop", to_null, &job);
  while (!g_atomic_int_get (&job.done) && now_ms () - start < 5000)
    g_usleep (1000);
  fail_unless (g_atomic_int_get (&job.done), "set_state(NULL) hangs");
  fail_unless (now_ms () - start < 1000);
  g_thread_join (t);
  gst_object_unref (pipe);
  producer_free (p);
}

GST_END_TEST;

/* sink -> src in one process through GStreamer only: a round trip. */
GST_START_TEST (test_sink_to_src)
{
  GstElement *prod, *cons, *src, *sink;
  GstBus *bus;
  GstMessage *msg;
  gchar *desc;
  guint64 copies = 1;

  desc = g_strdup_printf ("videotestsrc num-buffers=30 pattern=ball ! "
      "video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! "
      "dmapipesink name=sink socket-path=%s sync=false wait-consumers=1 "
      "allocator=memfd", sock);
  prod = gst_parse_launch (desc, NULL);
  g_free (desc);
  desc = g_strdup_printf ("dmapipesrc name=src socket-path=%s policy=block "
      "timeout=10000 ! fakesink", sock);
  fail_unless (prod != NULL);
  fail_unless (gst_element_set_state (prod, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  cons = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (cons != NULL);
  fail_unless (gst_element_set_state (cons, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);

  bus = gst_element_get_bus (cons);
  msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);

  src = gst_bin_get_by_name (GST_BIN (cons), "src");
  sink = gst_bin_get_by_name (GST_BIN (prod), "sink");
  fail_unless_equals_uint64 (get_u64 (src, "frames"), 30);
  fail_unless_equals_uint64 (get_u64 (src, "copies"), 0);
  g_object_get (sink, "copies", &copies, NULL);
  fail_unless_equals_uint64 (copies, 0);
  fail_unless_equals_uint64 (get_u64 (sink, "frames"), 30);
  gst_object_unref (src);
  gst_object_unref (sink);

  gst_element_set_state (cons, GST_STATE_NULL);
  gst_element_set_state (prod, GST_STATE_NULL);
  gst_object_unref (cons);
  gst_object_unref (prod);
}

GST_END_TEST;

/* ---- the sink's pool follows the consumers' constraints ------------------ */

/* A consumer that needs every plane's rows aligned to @stride_align bytes
 * and the second plane at a multiple of @offset_align. */
static struct dmapipe_client *
constrained_consumer (struct dmapipe_constraints *cons, guint stride_align,
    guint offset_align)
{
  struct dmapipe_client_options o;
  struct dmapipe_client *c;

  dmapipe_constraints_init (cons);
  cons->stride_align[0] = cons->stride_align[1] = stride_align;
  cons->offset_align[1] = offset_align;
  dmapipe_client_options_init (&o);
  o.path = sock;
  o.policy = DMAPIPE_POLICY_QUEUE;
  o.queue_depth = 4;
  o.max_in_flight = 2;
  o.name = "constrained";
  o.constraints = cons;
  c = dmapipe_client_new (&o);
  fail_unless (c != NULL, "connect: %s", g_strerror (errno));
  return c;
}

/* Takes the frames @c has: sequences from *@next on without a gap when
 * @next is given, each in a buffer that satisfies @cons when given.
 * Returns how many. */
static guint
take_frames (struct dmapipe_client *c, guint64 * next,
    const struct dmapipe_constraints *cons)
{
  struct dmapipe_frame *f;
  gchar why[128];
  guint n = 0;

  while ((f = dmapipe_client_acquire_frame (c))) {
    if (next) {
      fail_unless_equals_uint64 (f->meta.sequence, *next);
      (*next)++;
    }
    if (cons)
      fail_unless (dmapipe_layout_satisfies (dmapipe_buffer_get_layout
              (f->buffer), cons, why, sizeof (why)) == 0,
          "frame %" G_GUINT64_FORMAT " in a buffer not for it: %s",
          f->meta.sequence, why);
    dmapipe_client_release_frame (c, f, -1);
    n++;
  }
  return n;
}

/*
 * videotestsrc draws into the sink's pool, rows of 200 bytes; A (no
 * constraints, block policy) is there from the start. B joins asking for
 * rows and a chroma plane aligned to 512 and 4096 bytes: the sink sends
 * RECONFIGURE, videotestsrc takes a pool made for B, and B gets frames,
 * every plane of each satisfying it, none copied; A's sequence numbers
 * stay contiguous throughout.
 */
GST_START_TEST (test_sink_pool_follows_constraints)
{
  struct dmapipe_constraints cons;
  struct dmapipe_client *a, *b = NULL;
  GstElement *pipe, *sink;
  guint64 next_a = 0, deadline;
  guint b_frames = 0, a_after_b = 0;
  gchar *desc;

  desc = g_strdup_printf ("videotestsrc is-live=true ! "
      "video/x-raw,format=NV12,width=200,height=100,framerate=60/1 ! "
      "dmapipesink name=sink socket-path=%s sync=false wait-consumers=1 "
      "lease-timeout=0", sock);
  pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (pipe != NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  a = consumer_new (DMAPIPE_POLICY_BLOCK, 2);

  deadline = now_ms () + 15000;
  while (now_ms () < deadline && (b_frames < 30 || a_after_b < 30)) {
    dmapipe_client_dispatch (a, 5);
    a_after_b += take_frames (a, &next_a, NULL) * (b != NULL);
    if (!b && next_a >= 20)
      b = constrained_consumer (&cons, 512, 4096);
    if (b) {
      const char *why = NULL;

      dmapipe_client_dispatch (b, 0);
      fail_if (dmapipe_client_get_state (b) == DMAPIPE_CLIENT_ERROR,
          "B refused: %s", (dmapipe_client_get_error (b, &why), why));
      b_frames += take_frames (b, NULL, &cons);
    }
  }
  fail_unless (b_frames >= 30, "B got %u frames", b_frames);
  fail_unless (a_after_b >= 30, "A got %u frames after B joined", a_after_b);
  fail_unless_equals_uint64 (get_u64 (sink, "copies"), 0);
  fail_unless_equals_int (dmapipe_client_get_state (a),
      DMAPIPE_CLIENT_STREAMING);

  dmapipe_client_free (b);
  dmapipe_client_free (a);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

GST_END_TEST;

/*
 * Upstream keeps its first pool (it never asks again): the sink still asks
 * it (RECONFIGURE), B, asking 512-byte rows, waits and is refused with the
 * reason once the sink's bound is over; A gets every frame all along.
 */
GST_START_TEST (test_sink_constraints_unmet_refused)
{
  struct dmapipe_constraints cons;
  struct dmapipe_client *a, *b;
  struct dmapipe_frame *f;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstEvent *ev;
  GstHarness *h;
  const char *msg = NULL;
  guint64 seq = 0, joined, deadline;
  gboolean reconfigure = FALSE;

  h = sink_harness (NULL);
  pool = sink_pool (h, &info);
  a = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, a, 1);
  b = constrained_consumer (&cons, 512, 0);
  wait_consumers (h->element, b, 2);

  joined = now_ms ();
  deadline = joined + 10000;
  while (now_ms () < deadline
      && dmapipe_client_get_state (b) == DMAPIPE_CLIENT_STREAMING) {
    fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info,
                seq)), GST_FLOW_OK);
    f = expect_frame (a, seq);
    dmapipe_client_release_frame (a, f, -1);
    seq++;
    dmapipe_client_dispatch (b, 0);
    fail_unless_equals_int (take_frames (b, NULL, NULL), 0);
    g_usleep (20000);
  }
  fail_unless (now_ms () - joined >= 2000, "B refused after %" G_GUINT64_FORMAT
      " ms", now_ms () - joined);
  fail_unless_equals_int (dmapipe_client_get_state (b), DMAPIPE_CLIENT_ERROR);
  fail_unless_equals_int (dmapipe_client_get_error (b, &msg),
      DMAPIPE_ERR_CONSTRAINTS);
  fail_unless (strstr (msg, "is not a multiple of 512")
      && strstr (msg, "within 2000 ms"), "%s", msg);
  while ((ev = gst_harness_try_pull_upstream_event (h))) {
    reconfigure |= GST_EVENT_TYPE (ev) == GST_EVENT_RECONFIGURE;
    gst_event_unref (ev);
  }
  fail_unless (reconfigure, "no RECONFIGURE reached upstream");
  /* A goes on */
  fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, seq)),
      GST_FLOW_OK);
  f = expect_frame (a, seq);
  dmapipe_client_release_frame (a, f, -1);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 0);

  dmapipe_client_free (b);
  dmapipe_client_free (a);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

/*
 * Upstream's frames are in system memory: the sink copies them (counted),
 * into buffers laid out for a consumer that joins asking 512-byte rows and
 * a 4096-byte chroma offset, which then gets frames that satisfy it; A
 * gets every frame.
 */
GST_START_TEST (test_sink_copies_follow_constraints)
{
  struct dmapipe_constraints cons;
  struct dmapipe_client *a, *b;
  struct dmapipe_frame *f;
  GstHarness *h;
  guint64 seq = 0, deadline;
  guint b_frames = 0;

  h = sink_harness (NULL);
  a = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, a, 1);
  for (; seq < 3; seq++) {
    fail_unless_equals_int (gst_harness_push (h, sysmem_frame (seq)),
        GST_FLOW_OK);
    f = expect_frame (a, seq);
    dmapipe_client_release_frame (a, f, -1);
  }
  b = constrained_consumer (&cons, 512, 4096);
  wait_consumers (h->element, b, 2);
  deadline = now_ms () + 5000;
  while (now_ms () < deadline && b_frames < 5) {
    fail_unless_equals_int (gst_harness_push (h, sysmem_frame (seq)),
        GST_FLOW_OK);
    f = expect_frame (a, seq);
    dmapipe_client_release_frame (a, f, -1);
    seq++;
    dmapipe_client_dispatch (b, 10);
    b_frames += take_frames (b, NULL, &cons);
  }
  fail_unless (b_frames >= 5, "B got %u frames", b_frames);
  fail_unless_equals_int (dmapipe_client_get_state (b),
      DMAPIPE_CLIENT_STREAMING);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), seq);

  dmapipe_client_free (b);
  dmapipe_client_free (a);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ---- the caps form (GStreamer 1.22's or 1.24's DMA_DRM) --------------- */

#define CAPS_DMA_DRM(drm) "video/x-raw(memory:DMABuf),format=DMA_DRM," \
    "drm-format=" drm ",width=64,height=48,framerate=30/1"

/* What the elements are to speak here: DMAPIPE_GST_DMA_DRM=0/1, else the
 * GStreamer this runs on. The suite runs once as the environment has it
 * and once with DMAPIPE_GST_DMA_DRM=1 (tests/gst/meson.build). */
static gboolean
expect_dma_drm (void)
{
  const gchar *force = g_getenv ("DMAPIPE_GST_DMA_DRM");
  guint major, minor, micro, nano;

  if (g_strcmp0 (force, "0") == 0)
    return FALSE;
  if (g_strcmp0 (force, "1") == 0)
    return TRUE;
  gst_version (&major, &minor, &micro, &nano);
  return major == 1 && minor >= 24;
}

static GstCaps *
template_caps (const gchar * factory, const gchar * pad)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  GstPadTemplate *t;
  GstCaps *caps;

  fail_unless (e != NULL);
  t = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (e), pad);
  fail_unless (t != NULL);
  caps = gst_pad_template_get_caps (t);
  gst_object_unref (e);
  return caps;
}

/* Both elements' templates: DMA_DRM first in that form, the 1.22 forms
 * in both. */
GST_START_TEST (test_form_templates)
{
  const gchar *const elements[][2] = {
    {"dmapipesink", "sink"}, {"dmapipesrc", "src"},
  };
  GstCaps *drm = gst_caps_from_string (CAPS_DMA_DRM ("NV12"));
  GstCaps *old = gst_caps_from_string ("video/x-raw(memory:DMABuf),"
      "format=NV12,width=64,height=48,framerate=30/1");
  GstCaps *sys = gst_caps_from_string (CAPS_NV12);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (elements); i++) {
    GstCaps *caps = template_caps (elements[i][0], elements[i][1]);
    const GstStructure *head = gst_caps_get_structure (caps, 0);

    fail_unless_equals_int (gst_caps_is_subset (drm, caps), expect_dma_drm ());
    fail_unless_equals_int (g_strcmp0 (gst_structure_get_string (head,
                "format"), "DMA_DRM") == 0, expect_dma_drm ());
    fail_unless (gst_caps_is_subset (old, caps));
    fail_unless (gst_caps_is_subset (sys, caps));
    gst_caps_unref (caps);
  }
  gst_caps_unref (drm);
  gst_caps_unref (old);
  gst_caps_unref (sys);
}

GST_END_TEST;

/* In the DMA_DRM form the sink takes drm-format caps as the format they
 * name and serves the frames without copying; a modifier it cannot tell
 * consumers is refused. In the 1.22 form such caps are not accepted. */
GST_START_TEST (test_sink_dma_drm_caps)
{
  struct dmapipe_client *c;
  struct dmapipe_frame *f;
  const struct dmapipe_layout *l;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstHarness *h;
  GstCaps *caps;

  h = sink_harness (NULL);
  caps = gst_caps_from_string (CAPS_DMA_DRM ("NV12"));
  fail_unless_equals_int (gst_pad_query_accept_caps (h->srcpad->peer, caps),
      expect_dma_drm ());
  gst_caps_unref (caps);
  if (!expect_dma_drm ()) {
    gst_harness_teardown (h);
    return;
  }

  /* the sink's own (sealed memfd) buffers, as under its 1.22 caps */
  pool = sink_pool (h, &info);
  gst_harness_set_src_caps_str (h, CAPS_DMA_DRM ("NV12"));
  c = consumer_new (DMAPIPE_POLICY_BLOCK, 2);
  wait_consumers (h->element, c, 1);
  fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, 4)),
      GST_FLOW_OK);
  f = expect_frame (c, 4);
  l = dmapipe_buffer_get_layout (f->buffer);
  fail_unless_equals_int (l->format.fourcc, dmapipe_fourcc_from_string ("NV12"));
  fail_unless_equals_uint64 (l->format.modifier, DMAPIPE_MOD_LINEAR);
  fail_unless_equals_int (l->format.width, W);
  fail_unless_equals_int (l->format.height, H);
  dmapipe_client_release_frame (c, f, -1);
  fail_unless_equals_uint64 (get_u64 (h->element, "copies"), 0);

  /* tiled frames cannot be described to consumers */
  gst_harness_set_src_caps_str (h, CAPS_DMA_DRM ("NV12:0x0100000000000001"));
  fail_unless_equals_int (gst_harness_push (h, pool_frame (pool, &info, 5)),
      GST_FLOW_NOT_NEGOTIATED);

  dmapipe_client_free (c);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
dmapipe_suite (void)
{
  Suite *s = suite_create ("dmapipe");
  TCase *sink = tcase_create ("sink");
  TCase *src = tcase_create ("src");
  TCase *form = tcase_create ("caps-form");

  tcase_add_checked_fixture (sink, setup, teardown);
  tcase_add_checked_fixture (src, setup, teardown);
  tcase_set_timeout (sink, 60);
  tcase_set_timeout (src, 60);
  suite_add_tcase (s, sink);
  suite_add_tcase (s, src);

  tcase_add_test (sink, test_sink_pool_zero_copy);
  tcase_add_test (sink, test_sink_pool_stride_align);
  tcase_add_test (sink, test_sink_copy_counted);
  tcase_add_test (sink, test_sink_strict);
  tcase_add_test (sink, test_sink_release);
  tcase_add_test (sink, test_sink_release_bounded_pool);
  tcase_add_test (sink, test_sink_bounded_pool_reclaim);
  tcase_add_test (sink, test_sink_slow_consumer);
  tcase_add_test (sink, test_sink_block_policy);
  tcase_add_test (sink, test_sink_eos);
  tcase_add_test (sink, test_sink_flush);
  tcase_add_test (sink, test_sink_wait_consumers_flush);
  tcase_add_test (sink, test_sink_caps_change);
  tcase_add_test (sink, test_sink_to_src);
  tcase_add_test (sink, test_sink_pool_follows_constraints);
  tcase_add_test (sink, test_sink_constraints_unmet_refused);
  tcase_add_test (sink, test_sink_copies_follow_constraints);

  tcase_add_test (src, test_src_caps_and_meta);
  tcase_add_test (src, test_src_not_negotiated);
  tcase_add_test (src, test_src_release_and_reuse);
  tcase_add_test (src, test_src_buffer_kept);
  tcase_add_test (src, test_src_stop_while_held);
  tcase_add_test (src, test_src_copy_without_videometa);
  tcase_add_test (src, test_src_eos);
  tcase_add_test (src, test_src_stats_once);
  tcase_add_test (src, test_src_reconnect);
  tcase_add_test (src, test_src_producer_gone);
  tcase_add_test (src, test_src_unlock);

  tcase_add_checked_fixture (form, setup, teardown);
  tcase_set_timeout (form, 60);
  suite_add_tcase (s, form);
  tcase_add_test (form, test_form_templates);
  tcase_add_test (form, test_sink_dma_drm_caps);
  return s;
}

/*
 * Only the system plugins these tests use (and this build's dmapipe), with
 * a registry of their own: loading every installed plugin would make the
 * tests slower and valgrind runs report the leaks of unrelated libraries.
 */
static void
limit_system_plugins (void)
{
  static const gchar *needed[] = { "libgstcoreelements.so",
    "libgstvideotestsrc.so"
  };
  const gchar *system = g_getenv ("GST_PLUGIN_SYSTEM_PATH_1_0");
  const gchar *registry = g_getenv ("GST_REGISTRY_1_0");
  gchar *dir, *reg;
  guint i;

  if (!system || !*system || !registry || strchr (system, ':'))
    return;
  dir = g_strconcat (registry, ".plugins", NULL);
  g_mkdir_with_parents (dir, 0755);
  for (i = 0; i < G_N_ELEMENTS (needed); i++) {
    gchar *target = g_build_filename (system, needed[i], NULL);
    gchar *link = g_build_filename (dir, needed[i], NULL);

    if (symlink (target, link) < 0 && errno != EEXIST)
      g_printerr ("symlink %s: %s\n", link, g_strerror (errno));
    g_free (target);
    g_free (link);
  }
  reg = g_strconcat (registry, ".elements", NULL);
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", dir, TRUE);
  g_setenv ("GST_REGISTRY_1_0", reg, TRUE);
  g_free (reg);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  limit_system_plugins ();
  gst_check_init (&argc, &argv);
  return gst_check_run_suite (dmapipe_suite (), "dmapipe", __FILE__);
}
