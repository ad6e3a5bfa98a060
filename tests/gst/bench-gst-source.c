/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The producer process of tests/gst/bench-gst.py: pushes N NV12 frames that
 * were drawn once, in advance, into the memory the sink asks for, so that the
 * CPU the process uses per frame is GStreamer's and the sink's, not drawing.
 *
 *   bench-gst-source [--own] N WIDTH HEIGHT SINK-DESCRIPTION
 *
 * pushes straight into SINK-DESCRIPTION from its one thread, through a pad
 * of its own: no appsrc, whose queue would hand every frame to a second
 * thread. Two threads trading each frame cost this machine more per frame
 * than a transport does (futex wake-ups across CPUs), and how much moves
 * with the scheduling, so a run "alone" into fakesink and a run into a
 * transport differ only by what the sink does. The memory comes from the
 * allocation query, as a well-behaved producer gets it: the sink's buffer
 * pool when it offers one (dmapipesink), else its allocator (shmsink's shm
 * area), else
 * system memory (fakesink). With --own the producer ignores the query and
 * uses its own pool of sealed memfds wrapped as GstFdMemory, the way a
 * capture device (v4l2src io-mode=dmabuf) or a decoder brings its own
 * buffers. K frames are drawn at start and pushed in turn; a pool buffer
 * comes back from the pool with its pixels intact. Prints the time from the
 * first push to EOS as "Execution ended after H:MM:SS.NNN", like
 * gst-launch-1.0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/allocators/allocators.h>
#include <gst/video/video.h>

#define K 4

/* A pool of memfd-backed buffers: the producer's own shareable memory. */
typedef struct
{
  GstBufferPool parent;
  GstAllocator *fd_allocator;
  gsize size;
} OwnPool;

typedef GstBufferPoolClass OwnPoolClass;

static GType own_pool_get_type (void);
G_DEFINE_TYPE (OwnPool, own_pool, GST_TYPE_BUFFER_POOL);

static GstFlowReturn
own_pool_alloc (GstBufferPool * pool, GstBuffer ** buffer,
    GstBufferPoolAcquireParams * params)
{
  OwnPool *self = (OwnPool *) pool;
  gint fd = memfd_create ("bench-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  if (fd < 0 || ftruncate (fd, self->size) < 0
      || fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
    return GST_FLOW_ERROR;
  *buffer = gst_buffer_new ();
  gst_buffer_append_memory (*buffer, gst_fd_allocator_alloc
      (self->fd_allocator, fd, self->size, GST_FD_MEMORY_FLAG_KEEP_MAPPED));
  return GST_FLOW_OK;
}

static void
own_pool_class_init (OwnPoolClass * klass)
{
  klass->alloc_buffer = own_pool_alloc;
}

static void
own_pool_init (OwnPool * self)
{
  self->fd_allocator = gst_fd_allocator_new ();
}

int
main (int argc, char **argv)
{
  GstElement *pipe, *sink;
  GstPad *pad, *sinkpad;
  GstBufferPool *pool = NULL;
  GstAllocator *allocator = NULL;
  GstAllocationParams params;
  GstBuffer *frames[K] = { NULL, };
  GstVideoInfo info;
  GstQuery *query;
  GstCaps *caps;
  GstMessage *msg;
  GstBus *bus;
  GError *err = NULL;
  gint64 start, end;
  gboolean own = FALSE;
  guint64 n, i;
  gint ret = 0;

  gst_init (&argc, &argv);
  if (argc == 6 && strcmp (argv[1], "--own") == 0) {
    own = TRUE;
    argv++;
    argc--;
  }
  if (argc != 5) {
    g_printerr ("usage: %s [--own] N WIDTH HEIGHT SINK-DESCRIPTION\n", argv[0]);
    return 2;
  }
  n = g_ascii_strtoull (argv[1], NULL, 10);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, atoi (argv[2]),
      atoi (argv[3]));
  GST_VIDEO_INFO_FPS_N (&info) = 0;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  caps = gst_video_info_to_caps (&info);

  sink = gst_parse_bin_from_description (argv[4], TRUE, &err);
  if (!sink) {
    g_printerr ("%s\n", err->message);
    return 1;
  }
  pipe = gst_pipeline_new (NULL);
  gst_bin_add (GST_BIN (pipe), sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  pad = gst_pad_new ("src", GST_PAD_SRC);
  if (!sinkpad || !gst_pad_set_active (pad, TRUE)
      || gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK) {
    g_printerr ("cannot link to \"%s\"\n", argv[4]);
    return 1;
  }
  gst_object_unref (sinkpad);
  /* PAUSED: the sink is started and waits for its first frame */
  gst_element_set_state (pipe, GST_STATE_PAUSED);
  gst_pad_push_event (pad, gst_event_new_stream_start ("bench-gst-source"));
  gst_pad_push_event (pad, gst_event_new_caps (caps));
  {
    GstSegment segment;

    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (pad, gst_event_new_segment (&segment));
  }

  /* what memory the sink wants */
  query = gst_query_new_allocation (caps, TRUE);
  gst_allocation_params_init (&params);
  if (gst_pad_peer_query (pad, query)) {
    if (gst_query_get_n_allocation_pools (query) > 0)
      gst_query_parse_nth_allocation_pool (query, 0, &pool, NULL, NULL, NULL);
    if (gst_query_get_n_allocation_params (query) > 0)
      gst_query_parse_nth_allocation_param (query, 0, &allocator, &params);
  }
  gst_query_unref (query);
  if (own) {
    gst_clear_object (&pool);
    pool = g_object_new (own_pool_get_type (), NULL);
    gst_object_ref_sink (pool);
    ((OwnPool *) pool)->size = info.size;
  }
  if (pool) {
    GstStructure *config = gst_buffer_pool_get_config (pool);

    /* K buffers and no more: like shm's area, a full pool makes the
     * producer wait for the consumer instead of allocating */
    gst_buffer_pool_config_set_params (config, caps, info.size, K, K);
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (!gst_buffer_pool_set_config (pool, config)
        || !gst_buffer_pool_set_active (pool, TRUE)) {
      g_printerr ("the sink's pool refused the configuration\n");
      return 1;
    }
  }

  /* draw K frames once */
  for (i = 0; i < K; i++) {
    GstMapInfo map;

    if (pool)
      gst_buffer_pool_acquire_buffer (pool, &frames[i], NULL);
    else
      frames[i] = gst_buffer_new_allocate (allocator, info.size, &params);
    gst_buffer_map (frames[i], &map, GST_MAP_WRITE);
    memset (map.data, 16 + 32 * (gint) i, map.size);
    gst_buffer_unmap (frames[i], &map);
  }
  if (pool) {
    /* back to the pool, pixels kept: acquire returns them in turn */
    for (i = 0; i < K; i++) {
      gst_buffer_unref (frames[i]);
      frames[i] = NULL;
    }
  }

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  start = g_get_monotonic_time ();
  for (i = 0; i < n; i++) {
    GstBuffer *buf;

    if (pool) {
      if (gst_buffer_pool_acquire_buffer (pool, &buf, NULL) != GST_FLOW_OK)
        break;
    } else {
      buf = gst_buffer_ref (frames[i % K]);
      buf = gst_buffer_make_writable (buf);
    }
    GST_BUFFER_PTS (buf) = i * GST_MSECOND;
    GST_BUFFER_OFFSET (buf) = i;
    if (gst_pad_push (pad, buf) != GST_FLOW_OK)
      break;
  }
  gst_pad_push_event (pad, gst_event_new_eos ());

  bus = gst_element_get_bus (pipe);
  /* element messages (dmapipesink's statistics) are printed like
   * gst-launch-1.0 -m does */
  while ((msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT))
      && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
    gchar *str = gst_structure_to_string (gst_message_get_structure (msg));

    g_print ("%s\n", str);
    g_free (str);
    gst_message_unref (msg);
  }
  end = g_get_monotonic_time ();
  if (!msg || GST_MESSAGE_TYPE (msg) != GST_MESSAGE_EOS) {
    g_printerr ("no EOS\n");
    ret = 1;
  } else {
    gint64 us = end - start;

    g_print ("Got EOS from element \"pipeline0\".\n");
    g_print ("Execution ended after %u:%02u:%02u.%06u\n",
        (guint) (us / 3600000000), (guint) (us / 60000000 % 60),
        (guint) (us / 1000000 % 60), (guint) (us % 1000000));
  }
  if (msg)
    gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  for (i = 0; i < K; i++)
    if (frames[i])
      gst_buffer_unref (frames[i]);
  if (pool) {
    gst_buffer_pool_set_active (pool, FALSE);
    gst_object_unref (pool);
  }
  if (allocator)
    gst_object_unref (allocator);
  gst_pad_set_active (pad, FALSE);
  gst_object_unref (pad);
  gst_object_unref (pipe);
  gst_caps_unref (caps);
  return ret;
}
