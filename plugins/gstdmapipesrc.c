/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-dmapipesrc
 * @title: dmapipesrc
 * @see_also: dmapipesink
 *
 * Receives frames from a dmapipe producer in another process (dmapipesink,
 * the `dmapipe serve` tool, a libdmapipe program) and pushes them without
 * copying pixels: each GstBuffer wraps the producer's own memory, as
 * GstDmaBufMemory for dma-bufs and GstFdMemory for memfds, with a
 * GstVideoMeta carrying the strides and plane offsets.
 *
 * The memories are made once per producer buffer and reused for every frame
 * that buffer carries, so elements that cache imports per GstMemory (GL
 * upload, kmssink, V4L2 dma-buf import) import each buffer once. The
 * memories are read-only: the producer's other consumers see the same
 * pixels. A frame goes back to the producer when GStreamer frees the last
 * reference to its memory, whichever thread does it.
 *
 * The caps are video/x-raw(memory:DMABuf) when the producer's buffers are
 * dma-bufs and downstream accepts that feature, plain video/x-raw otherwise
 * (both kinds of memory can be mapped). Running on GStreamer 1.24 or newer
 * (or with DMAPIPE_GST_DMA_DRM=1), dma-buf caps are offered first as
 * format=DMA_DRM with the producer's fourcc and modifier in drm-format,
 * then in the 1.22 form; a modifier other than linear is taken only then,
 * and only as DMA_DRM caps. On 1.22 only linear layouts are taken.
 *
 * Timestamps are the producer's capture times (CLOCK_MONOTONIC) on the
 * pipeline clock (`dmapipe play` stamps a replay's own timeline). A
 * `dmapipesrc-stats` element message is posted once per run: at EOS (the
 * producer's end of stream, or num-buffers) or when the element stops. If downstream cannot take a GstVideoMeta and the producer
 * uses strides other than GStreamer's default, frames are copied, counted
 * in #copies, or refused with #strict.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 dmapipesrc socket-path=/tmp/camera.sock ! videoconvert ! autovideosink
 * ]| Shows a stream served by dmapipesink or `dmapipe serve`.
 * |[
 * gst-launch-1.0 dmapipesrc socket-path=@camera policy=block reconnect=true ! v4l2h264enc output-io-mode=dmabuf-import ! h264parse ! mp4mux ! filesink location=out.mp4
 * ]| Feeds a hardware encoder the producer's dma-bufs; waits for producer
 * restarts instead of failing.
 * |[
 * gst-launch-1.0 dmapipesrc socket-path=/tmp/camera.sock ! glupload ! glimagesink
 * ]| Imports the dma-bufs into GL.
 * |[
 * gst-launch-1.0 dmapipesrc socket-path=/tmp/camera.sock import-device=/dev/dri/card0 ! glupload ! glimagesink
 * ]| Asks the producer for buffers of a DRM device's memory, which Mesa
 * imports (docs/PROTOCOL.md section 13, rule 7); a producer that cannot
 * allocate them refuses the connection with the reason.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#include "gstdmapipecopy.h"
#include "gstdmapipeformat.h"
#include "gstdmapipesrc-private.h"

/* not static: the connection logs as part of the source */
GST_DEBUG_CATEGORY (gst_dmapipe_src_debug);
#define GST_CAT_DEFAULT gst_dmapipe_src_debug

#define DEFAULT_SOCKET_PATH NULL
#define DEFAULT_PEER_POLICY "same-uid"
#define DEFAULT_POLICY DMAPIPE_POLICY_LATEST
#define DEFAULT_QUEUE_DEPTH 4
#define DEFAULT_MAX_IN_FLIGHT 2
#define DEFAULT_RECONNECT FALSE
#define DEFAULT_TIMEOUT 0
#define DEFAULT_STRICT FALSE
#define DEFAULT_IMPORT_DEVICE NULL

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_POLICY,
  PROP_QUEUE_DEPTH,
  PROP_MAX_IN_FLIGHT,
  PROP_RECONNECT,
  PROP_TIMEOUT,
  PROP_STRICT,
  PROP_FRAMERATE,
  PROP_FRAMES,
  PROP_DROPS,
  PROP_COPIES,
  PROP_RECONNECTS,
  PROP_PEER_POLICY,
  PROP_IMPORT_DEVICE,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

GType
gst_dmapipe_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {DMAPIPE_POLICY_LATEST, "Keep only the newest frame not yet taken; "
          "never slows the producer", "latest"},
    {DMAPIPE_POLICY_QUEUE, "Keep up to queue-depth frames, dropping the "
          "oldest", "queue"},
    {DMAPIPE_POLICY_BLOCK, "Keep up to queue-depth frames, then make the "
          "producer wait (no frame lost)", "block"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstDmapipePolicy", values);

    g_once_init_leave (&type, t);
  }
  return type;
}

#define gst_dmapipe_src_parent_class parent_class
G_DEFINE_TYPE (GstDmapipeSrc, gst_dmapipe_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (dmapipesrc, "dmapipesrc", GST_RANK_NONE,
    GST_TYPE_DMAPIPE_SRC);

/* the caps form chosen at class init: one per process, as the templates */
static gboolean src_dma_drm;

/* ---- frames ---------------------------------------------------------------- */

/* Copies a frame into system memory in GStreamer's default layout, for a
 * downstream that cannot take the producer's strides. Counted. */
static GstFlowReturn
copy_frame (GstDmapipeSrc * self, struct dmapipe_frame *frame,
    GstBuffer ** out)
{
  GstBuffer *buf;
  gboolean strict;
  guint64 copies;

  GST_OBJECT_LOCK (self);
  strict = self->strict;
  GST_OBJECT_UNLOCK (self);
  if (strict) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Refusing to copy a frame (strict=true)"),
        ("downstream does not take GstVideoMeta and the producer's layout "
            "differs from GStreamer's default; add videoconvert or use an "
            "element that supports GstVideoMeta"));
    return GST_FLOW_ERROR;
  }

  buf = gst_dmapipe_copy_to_new_buffer (GST_ELEMENT_CAST (self), &self->info,
      frame->buffer);
  if (!buf)
    return GST_FLOW_ERROR;

  GST_OBJECT_LOCK (self);
  copies = ++self->copies;
  GST_OBJECT_UNLOCK (self);
  gst_dmapipe_copy_report (GST_ELEMENT_CAST (self), copies, "downstream "
      "does not take GstVideoMeta and the producer's layout is not "
      "GStreamer's default", "downstream does not take GstVideoMeta; see "
      "the copies property");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COPIES]);
  *out = buf;
  return GST_FLOW_OK;
}

/* The dmapipesrc-stats message, once per run (start() to stop()): at EOS,
 * whether the producer ended the stream or num-buffers did, else when the
 * element stops. */
static void
post_stats (GstDmapipeSrc * self, GstDmapipeConn * conn)
{
  struct dmapipe_client_stats stats;
  GstStructure *s;

  if (!conn || !g_atomic_int_compare_and_exchange (&self->stats_posted, 0, 1))
    return;
  gst_dmapipe_conn_get_stats (conn, &stats);
  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("dmapipesrc-stats",
      "frames", G_TYPE_UINT64, self->frames,
      "drops", G_TYPE_UINT64, stats.sequence_gaps,
      "copies", G_TYPE_UINT64, self->copies,
      "reconnects", G_TYPE_UINT64, stats.reconnects,
      "memory", G_TYPE_STRING, dmapipe_mem_kind_to_string (stats.mem_kind),
      NULL);
  GST_OBJECT_UNLOCK (self);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* The busy poll before a poll() (gstdmapipespin.h): ring looks between two
 * clock reads, a look costing less than a clock read. */
#define SPIN_LOOKS 16

static inline gint64
now_ns (void)
{
  return g_get_monotonic_time () * 1000;
}

/* Looks at the frames ring for up to GST_DMAPIPE_SPIN_NS; the frame, or
 * NULL (none came, an error to be read again, a flush). */
static struct dmapipe_frame *
spin_for_frame (GstDmapipeSrc * self)
{
  gint64 until = now_ns () + GST_DMAPIPE_SPIN_NS;
  struct dmapipe_frame *frame;
  guint looks = 0;
  gchar *why = NULL;
  gint err;

  while (!(frame = gst_dmapipe_conn_acquire_frame (self->conn, FALSE, &err,
              &why)) && err == EAGAIN && !g_atomic_int_get (&self->flushing)
      && (++looks % SPIN_LOOKS != 0 || now_ns () < until));
  g_free (why);
  gst_dmapipe_spin_end (&self->spin, frame != NULL);
  return frame;
}

/* Waits for the next frame, or for unlock(). */
static GstFlowReturn
next_frame (GstDmapipeSrc * self, struct dmapipe_frame **out)
{
  GstDmapipeConn *conn = self->conn;
  /* a frame already received is taken without a syscall; otherwise poll()
   * says when dispatching has something to read */
  gboolean dispatch = FALSE;
  gint64 deadline = 0;
  guint timeout;
  gint64 start_ns = now_ns ();
  /* one spin at most, before the first sleep */
  gboolean spin = TRUE;

  GST_OBJECT_LOCK (self);
  timeout = self->timeout;
  GST_OBJECT_UNLOCK (self);
  if (timeout)
    deadline = g_get_monotonic_time () + timeout * G_TIME_SPAN_MILLISECOND;

  for (;;) {
    struct dmapipe_frame *frame;
    struct pollfd pfd[2];
    gchar *why;
    gint err, wait_ms = -1;

    if (g_atomic_int_get (&self->flushing))
      return GST_FLOW_FLUSHING;

    frame = gst_dmapipe_conn_acquire_frame (conn, dispatch, &err, &why);
    if (frame) {
      gst_dmapipe_spin_waited (&self->spin, now_ns () - start_ns);
      *out = frame;
      return GST_FLOW_OK;
    }
    switch (err) {
      case EAGAIN:
        break;
      case EPIPE:
        GST_INFO_OBJECT (self, "end of stream");
        return GST_FLOW_EOS;
      case ECONNRESET:
        GST_ELEMENT_ERROR (self, RESOURCE, READ,
            ("The producer went away"),
            ("connection lost; set reconnect=true to wait for a new producer"));
        return GST_FLOW_ERROR;
      default:
        GST_ELEMENT_ERROR (self, RESOURCE, READ,
            ("The producer ended the connection"), ("%s", why ? why :
                g_strerror (err)));
        g_free (why);
        return GST_FLOW_ERROR;
    }

    if (deadline) {
      gint64 left = deadline - g_get_monotonic_time ();

      if (left <= 0) {
        GST_ELEMENT_ERROR (self, RESOURCE, READ,
            ("No frame for %u ms", timeout), (NULL));
        return GST_FLOW_ERROR;
      }
      wait_ms = (gint) MIN (left / 1000 + 1, G_MAXINT);
    }
    /* a stream whose frames come back to back: the next one is usually
     * in the ring within microseconds, cheaper to wait for here than
     * through a wake-up datagram and a poll() */
    if (spin) {
      spin = FALSE;
      if (gst_dmapipe_spin_begin (&self->spin)) {
        frame = spin_for_frame (self);
        if (frame) {
          gst_dmapipe_spin_waited (&self->spin, now_ns () - start_ns);
          *out = frame;
          return GST_FLOW_OK;
        }
        dispatch = FALSE;
        continue;
      }
    }
    /* the client's fd covers its socket and its reconnect timer; the
     * producer wakes it for ring frames only while we sleep */
    if (gst_dmapipe_conn_before_poll (conn)) {
      dispatch = FALSE;
      continue;
    }
    pfd[0].fd = gst_dmapipe_conn_get_fd (conn);
    pfd[0].events = POLLIN;
    pfd[1].fd = self->wake_fd;
    pfd[1].events = POLLIN;
    if (poll (pfd, 2, wait_ms) < 0 && errno != EINTR) {
      gst_dmapipe_conn_after_poll (conn);
      GST_ELEMENT_ERROR (self, RESOURCE, READ, (NULL), ("poll: %s",
              g_strerror (errno)));
      return GST_FLOW_ERROR;
    }
    gst_dmapipe_conn_after_poll (conn);
    dispatch = pfd[0].revents != 0;
  }
}

static GstFlowReturn
gst_dmapipe_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (psrc);
  struct dmapipe_frame *frame = NULL;
  GstClockTime pts;
  GstFlowReturn ret;
  GstBuffer *buf = NULL;
  guint64 sequence, capture;
  guint32 flags, buffer_id;
  gint fps_n, fps_d;

  ret = next_frame (self, &frame);
  if (ret != GST_FLOW_OK)
    return ret;

  if (!gst_dmapipe_src_update_format (self, frame)) {
    gst_dmapipe_conn_release_frame (self->conn, frame);
    return GST_FLOW_NOT_NEGOTIATED;
  }

  sequence = frame->meta.sequence;
  flags = frame->meta.flags;
  buffer_id = frame->buffer_id;
  capture = frame->meta.timestamp_ns ? frame->meta.timestamp_ns :
      frame->received_ns;

  /* memory:DMABuf consumers import by fd and read the layout from the
   * GstVideoMeta; only a mapping consumer without GstVideoMeta support
   * would misread the producer's strides */
  if (!self->videometa && !self->dmabuf_caps
      && !gst_dmapipe_layout_is_default (dmapipe_buffer_get_layout
          (frame->buffer), &self->info)) {
    ret = copy_frame (self, frame, &buf);
    gst_dmapipe_conn_release_frame (self->conn, frame);
    if (ret != GST_FLOW_OK)
      return ret;
  } else {
    /* takes the frame, given back when its memories are */
    buf = gst_dmapipe_conn_wrap_frame (self->conn, frame, &self->info);
    if (!buf) {
      GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
          ("cannot wrap buffer %u", buffer_id));
      return GST_FLOW_ERROR;
    }
  }

  GST_OBJECT_LOCK (self);
  gst_dmapipe_src_stream_rate (self, &fps_n, &fps_d);
  self->frames++;
  GST_OBJECT_UNLOCK (self);

  pts = gst_dmapipe_monotonic_to_running_time (&self->clock_check,
      GST_ELEMENT_CAST (self), capture);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  if (fps_n > 0 && fps_d > 0)
    GST_BUFFER_DURATION (buf) = gst_util_uint64_scale_int (GST_SECOND, fps_d,
        fps_n);
  GST_BUFFER_OFFSET (buf) = sequence;
  GST_BUFFER_OFFSET_END (buf) = sequence + 1;
  if (self->discont || (flags & DMAPIPE_FRAME_DISCONTINUITY)) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }
  if (flags & DMAPIPE_FRAME_CORRUPTED)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_CORRUPTED);

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " pts %" GST_TIME_FORMAT,
      sequence, GST_TIME_ARGS (pts));
  *outbuf = buf;
  return GST_FLOW_OK;
}

/* ---- GstBaseSrc -------------------------------------------------------------- */

/* EOS leaving the element, from the producer's end of stream or from
 * GstBaseSrc itself when num-buffers ran out (create() is not called then):
 * the stats go out with it. */
static GstPadProbeReturn
eos_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (user_data);
  GstDmapipeConn *conn = NULL;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  GST_OBJECT_LOCK (self);
  if (self->conn)
    conn = gst_dmapipe_conn_ref (self->conn);
  GST_OBJECT_UNLOCK (self);
  if (conn) {
    post_stats (self, conn);
    gst_dmapipe_conn_unref (conn);
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
gst_dmapipe_src_start (GstBaseSrc * bsrc)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);
  struct dmapipe_client_options opts;
  struct dmapipe_constraints cons;
  struct dmapipe_client *client;
  GstDmapipeConn *conn;
  gchar *path, *name, *peer;
  gchar resolved[108];
  gint err;

  dmapipe_client_options_init (&opts);
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->socket_path);
  peer = g_strdup (self->peer_policy);
  opts.policy = self->policy;
  opts.queue_depth = self->queue_depth;
  opts.max_in_flight = self->max_in_flight;
  opts.reconnect = self->reconnect;
  dmapipe_constraints_init (&cons);
  if (self->import_device && *self->import_device) {
    /* the producer allocates what that device imports, or refuses: this
     * element has no copy into such memory to fall back to */
    g_strlcpy (cons.import_device, self->import_device,
        sizeof (cons.import_device));
    opts.constraints = &cons;
  }
  self->have_format = FALSE;
  self->have_fi = FALSE;
  self->frames = self->copies = 0;
  GST_OBJECT_UNLOCK (self);
  g_atomic_int_set (&self->stats_posted, 0);

  if (!path || !*path) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("No socket path set"), ("set the socket-path property"));
    g_free (path);
    g_free (peer);
    return FALSE;
  }
  /* a bare name is a stream in the default directory, as for the tool */
  err = dmapipe_socket_default_path (path, resolved, sizeof (resolved));
  if (err == 0)
    err = dmapipe_peer_policy_from_string (peer ? peer : DEFAULT_PEER_POLICY,
        &opts.peer_policy,
        &opts.allowed_uid, &opts.allowed_gid);
  if (err < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Bad socket-path '%s' or peer-policy '%s'", path, peer),
        ("socket-path: a path, @name or a bare NAME; peer-policy: same-uid, "
            "any, uid:N or gid:N"));
    g_free (path);
    g_free (peer);
    return FALSE;
  }
  g_free (peer);
  g_free (path);
  path = g_strdup (resolved);
  name = gst_object_get_name (GST_OBJECT (self));
  opts.path = path;
  opts.name = name;
  client = dmapipe_client_new (&opts);
  err = errno;
  g_free (name);
  if (!client) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("No producer on %s: %s", path, g_strerror (err)),
        ("set reconnect=true to wait for one"));
    g_free (path);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "connected to %s", path);
  g_free (path);

  conn = gst_dmapipe_conn_new (client);
  GST_OBJECT_LOCK (self);
  self->conn = conn;
  GST_OBJECT_UNLOCK (self);
  self->discont = TRUE;
  self->videometa = FALSE;
  return TRUE;
}

static gboolean
gst_dmapipe_src_stop (GstBaseSrc * bsrc)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);
  GstDmapipeConn *conn;

  GST_OBJECT_LOCK (self);
  conn = self->conn;
  self->conn = NULL;
  self->have_format = FALSE;
  self->have_fi = FALSE;
  GST_OBJECT_UNLOCK (self);
  /* a run that ends without EOS (a state change, an error) reports too */
  post_stats (self, conn);
  /* frames still out keep the connection until GStreamer frees them */
  if (conn)
    gst_dmapipe_conn_unref (conn);
  gst_dmapipe_clock_check_clear (&self->clock_check);
  return TRUE;
}

static gboolean
gst_dmapipe_src_unlock (GstBaseSrc * bsrc)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);
  guint64 one = 1;

  g_atomic_int_set (&self->flushing, 1);
  if (write (self->wake_fd, &one, sizeof (one)) < 0)
    GST_WARNING_OBJECT (self, "eventfd: %s", g_strerror (errno));
  return TRUE;
}

static gboolean
gst_dmapipe_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);
  guint64 value;

  if (read (self->wake_fd, &value, sizeof (value)) < 0 && errno != EAGAIN)
    GST_WARNING_OBJECT (self, "eventfd: %s", g_strerror (errno));
  g_atomic_int_set (&self->flushing, 0);
  return TRUE;
}

static gboolean
gst_dmapipe_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (bsrc);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GstClockTime min = 0, max;
    gint fps_n, fps_d;
    guint in_flight;

    GST_OBJECT_LOCK (self);
    gst_dmapipe_src_stream_rate (self, &fps_n, &fps_d);
    in_flight = self->max_in_flight;
    GST_OBJECT_UNLOCK (self);
    /* a frame is on its way for up to one frame time; downstream may hold
     * the in-flight limit's worth */
    if (fps_n > 0 && fps_d > 0)
      min = gst_util_uint64_scale_int (GST_SECOND, fps_d, fps_n);
    max = min * in_flight;
    gst_query_set_latency (query, TRUE, min, max);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

/* ---- GObject ------------------------------------------------------------- */

static void
gst_dmapipe_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_free (self->socket_path);
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_PEER_POLICY:
      g_free (self->peer_policy);
      self->peer_policy = g_value_dup_string (value);
      break;
    case PROP_IMPORT_DEVICE:{
      const gchar *dev = g_value_get_string (value);

      /* it must fit CONSTRAINTS' field whole: a cut name is another one */
      if (dev && strlen (dev) >= DMAPIPE_CONSTRAINTS_DEVICE_LEN) {
        GST_WARNING_OBJECT (self, "import-device '%s' is longer than %d "
            "bytes: ignored", dev, DMAPIPE_CONSTRAINTS_DEVICE_LEN - 1);
        break;
      }
      g_free (self->import_device);
      self->import_device = g_strdup (dev);
      break;
    }
    case PROP_POLICY:
      self->policy = g_value_get_enum (value);
      break;
    case PROP_QUEUE_DEPTH:
      self->queue_depth = g_value_get_uint (value);
      break;
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_uint (value);
      break;
    case PROP_RECONNECT:
      self->reconnect = g_value_get_boolean (value);
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    case PROP_STRICT:
      self->strict = g_value_get_boolean (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_dmapipe_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (object);
  struct dmapipe_client_stats stats;

  memset (&stats, 0, sizeof (stats));
  if (prop_id == PROP_DROPS || prop_id == PROP_RECONNECTS) {
    GST_OBJECT_LOCK (self);
    /* the connection lives as long as the element is started */
    if (self->conn) {
      GstDmapipeConn *conn = gst_dmapipe_conn_ref (self->conn);

      GST_OBJECT_UNLOCK (self);
      gst_dmapipe_conn_get_stats (conn, &stats);
      gst_dmapipe_conn_unref (conn);
    } else {
      GST_OBJECT_UNLOCK (self);
    }
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_PEER_POLICY:
      g_value_set_string (value, self->peer_policy);
      break;
    case PROP_IMPORT_DEVICE:
      g_value_set_string (value, self->import_device);
      break;
    case PROP_POLICY:
      g_value_set_enum (value, self->policy);
      break;
    case PROP_QUEUE_DEPTH:
      g_value_set_uint (value, self->queue_depth);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    case PROP_RECONNECT:
      g_value_set_boolean (value, self->reconnect);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case PROP_STRICT:
      g_value_set_boolean (value, self->strict);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_FRAMES:
      g_value_set_uint64 (value, self->frames);
      break;
    case PROP_DROPS:
      g_value_set_uint64 (value, stats.sequence_gaps);
      break;
    case PROP_COPIES:
      g_value_set_uint64 (value, self->copies);
      break;
    case PROP_RECONNECTS:
      g_value_set_uint64 (value, stats.reconnects);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_dmapipe_src_finalize (GObject * object)
{
  GstDmapipeSrc *self = GST_DMAPIPE_SRC (object);

  g_free (self->socket_path);
  g_free (self->peer_policy);
  g_free (self->import_device);
  if (self->wake_fd >= 0)
    close (self->wake_fd);

  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_dmapipe_src_init (GstDmapipeSrc * self)
{
  self->socket_path = g_strdup (DEFAULT_SOCKET_PATH);
  self->peer_policy = g_strdup (DEFAULT_PEER_POLICY);
  self->import_device = g_strdup (DEFAULT_IMPORT_DEVICE);
  self->policy = DEFAULT_POLICY;
  self->queue_depth = DEFAULT_QUEUE_DEPTH;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->reconnect = DEFAULT_RECONNECT;
  self->timeout = DEFAULT_TIMEOUT;
  self->strict = DEFAULT_STRICT;
  self->fps_n = 0;
  self->fps_d = 1;
  gst_video_info_init (&self->info);
  self->dma_drm = src_dma_drm;
  self->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (self->wake_fd < 0)
    GST_ERROR_OBJECT (self, "eventfd: %s", g_strerror (errno));

  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_pad_add_probe (GST_BASE_SRC_PAD (self),
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, eos_probe, self, NULL);
}

static void
gst_dmapipe_src_class_init (GstDmapipeSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);
  GstCaps *caps;

  gobject_class->set_property = gst_dmapipe_src_set_property;
  gobject_class->get_property = gst_dmapipe_src_get_property;
  gobject_class->finalize = gst_dmapipe_src_finalize;

  properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "The producer's unix socket: a filesystem path (with a "
      "/), @name for the abstract namespace, or a bare NAME: the stream NAME "
      "in the default directory ($XDG_RUNTIME_DIR/dmapipe, /run/dmapipe for "
      "root, else /tmp/dmapipe-UID), as dmapipe --socket NAME",
      DEFAULT_SOCKET_PATH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_PEER_POLICY] = g_param_spec_string ("peer-policy",
      "Peer policy", "Which producers this consumer accepts, by their "
      "SO_PEERCRED: same-uid (this user and root), any, uid:N or gid:N. A "
      "producer running as another user (the dmapipe-serve@ service runs as "
      "user dmapipe) needs any or uid:N", DEFAULT_PEER_POLICY,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_IMPORT_DEVICE] = g_param_spec_string ("import-device",
      "Import device", "What downstream imports the buffers into, stated to "
      "the producer as a constraint (docs/PROTOCOL.md section 13): a DRM node "
      "(/dev/dri/cardN, /dev/dri/renderDN) makes it allocate from a DRM "
      "device, which Mesa imports (glupload), or refuse the connection with "
      "the reason; cpu or another device asks nothing of the memory. Up to 63 "
      "bytes; unset states no constraints", DEFAULT_IMPORT_DEVICE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_POLICY] = g_param_spec_enum ("policy", "Policy",
      "What the producer does when this consumer falls behind",
      GST_TYPE_DMAPIPE_POLICY, DEFAULT_POLICY,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_QUEUE_DEPTH] = g_param_spec_uint ("queue-depth",
      "Queue depth", "Frames the producer keeps for this consumer with the "
      "queue and block policies (capped by the producer)", 1, 16,
      DEFAULT_QUEUE_DEPTH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_MAX_IN_FLIGHT] = g_param_spec_uint ("max-in-flight",
      "Max in flight", "Frames this element and downstream may hold at once "
      "(capped by the producer's max-in-flight)", 1, 16, DEFAULT_MAX_IN_FLIGHT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_RECONNECT] = g_param_spec_boolean ("reconnect",
      "Reconnect", "When the producer is absent, ends the stream or goes "
      "away, wait for it (reconnecting with backoff) instead of ending with "
      "EOS or an error", DEFAULT_RECONNECT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_TIMEOUT] = g_param_spec_uint ("timeout", "Timeout",
      "Post an error when no frame arrives for this many milliseconds "
      "(0 = wait forever)", 0, G_MAXUINT, DEFAULT_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[PROP_STRICT] = g_param_spec_boolean ("strict", "Strict",
      "Fail instead of copying frames for a downstream that cannot take "
      "their strides", DEFAULT_STRICT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[PROP_FRAMERATE] = gst_param_spec_fraction ("framerate",
      "Frame rate", "Frame rate to put in the caps (0/1: the producer's "
      "nominal rate, or when it tells none, variable or what downstream "
      "requires)", 0, 1, G_MAXINT,
      1, 0, 1,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_FRAMES] = g_param_spec_uint64 ("frames", "Frames",
      "Frames received", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DROPS] = g_param_spec_uint64 ("drops", "Drops",
      "Frames the producer sent to others but not to this consumer (gaps in "
      "the sequence numbers)", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_COPIES] = g_param_spec_uint64 ("copies", "Copies",
      "Frames whose pixels were copied (0 = zero-copy)", 0, G_MAXUINT64, 0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_RECONNECTS] = g_param_spec_uint64 ("reconnects",
      "Reconnects", "Times the connection to the producer was re-established",
      0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  src_dma_drm = gst_dmapipe_dma_drm_enabled ();
  caps = gst_dmapipe_template_caps (src_dma_drm);
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);
  gst_element_class_set_static_metadata (element_class,
      "dmapipe source", "Source/Video",
      "Receives video frames from a dmapipe producer in another process "
      "(dmapipesink, dmapipe serve) as dma-bufs or memfds, without copying "
      "pixels: memory:DMABuf caps when the buffers are dma-bufs and "
      "downstream takes them, GstVideoMeta with the producer's strides, "
      "capture timestamps on the pipeline clock; frames go back to the "
      "producer when GStreamer frees them",
      "dmapipe developers");
  gst_element_class_add_static_metadata (element_class, "example",
      "gst-launch-1.0 dmapipesrc socket-path=/tmp/camera.sock ! videoconvert "
      "! autovideosink");
  gst_element_class_add_static_metadata (element_class, "example-encoder",
      "gst-launch-1.0 dmapipesrc socket-path=@camera policy=block "
      "reconnect=true ! v4l2h264enc output-io-mode=dmabuf-import ! h264parse "
      "! mp4mux ! filesink location=out.mp4");
  gst_element_class_add_static_metadata (element_class, "example-producer",
      "gst-launch-1.0 v4l2src io-mode=dmabuf ! dmapipesink "
      "socket-path=@camera   (or: dmapipe serve --socket @camera)");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_dmapipe_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_dmapipe_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_dmapipe_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_dmapipe_src_unlock_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_dmapipe_src_get_caps);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_dmapipe_src_negotiate);
  basesrc_class->decide_allocation =
      GST_DEBUG_FUNCPTR (gst_dmapipe_src_decide_allocation);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_dmapipe_src_query);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_dmapipe_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_dmapipe_src_debug, "dmapipesrc", 0,
      "dmapipe source");

  gst_type_mark_as_plugin_api (GST_TYPE_DMAPIPE_POLICY, 0);
}
