/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Real dma-bufs through the GStreamer elements, for the VM lane (vivid):
 *
 *   producer (this process):
 *     v4l2src device=<vivid> io-mode=dmabuf num-buffers=N ! dmapipesink
 *   consumer (a second process, this program with --consume):
 *     dmapipesrc policy=block ! fakesink | v4l2sink io-mode=dmabuf-import
 *
 * Both sides checksum every frame (the visible rows of every plane, through
 * a GstVideoFrame mapping) keyed by sequence number; the consumer's must
 * equal the producer's for all N frames, the consumer must have received
 * dma-buf memory with memory:DMABuf caps, and neither element may have
 * copied a frame (the sink's copies property is read at the end). Cases:
 *
 *   - single-planar vivid, YUY2: one dma-buf per frame;
 *   - multi-planar vivid, NV12 (NV12M): two dma-bufs per frame;
 *   - the same into vivid's output device with v4l2sink
 *     io-mode=dmabuf-import (a V4L2 device importing the producer's
 *     dma-bufs), when the vivid instance has an output node;
 *   - videotestsrc drawing into dmapipesink's own pool (dma-bufs from the
 *     best allocator of this kernel: dma-heap, udmabuf or vgem).
 *
 * Exits 77 when vivid or GStreamer's v4l2 plugin is absent.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/videodev2.h>

#include <gst/gst.h>
#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

#define N_FRAMES 30
#define W 640
#define H 360

static gchar *tmpdir;

#define check(cond, ...)                                                     \
  G_STMT_START {                                                             \
    if (!(cond)) {                                                           \
      g_printerr ("%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
      g_printerr (__VA_ARGS__);                                              \
      g_printerr ("\n");                                                     \
      exit (1);                                                              \
    }                                                                        \
  } G_STMT_END

/* ---- checksums -------------------------------------------------------- */

/* SHA-1 of the visible rows of every plane (rows are this format's default
 * stride long: the widths used here have no rounding), whatever the strides
 * of the buffer. NULL if the buffer cannot be mapped. */
static gchar *
frame_checksum (GstBuffer * buf, const GstVideoInfo * info)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA1);
  GstVideoInfo plain;
  GstVideoFrame frame;
  gchar *result;
  guint p, c, y;

  gst_video_info_set_format (&plain, GST_VIDEO_INFO_FORMAT (info),
      GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info));
  if (!gst_video_frame_map (&frame, info, buf, GST_MAP_READ)) {
    g_checksum_free (sum);
    return NULL;
  }
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
    guint rows = 0;

    for (c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&frame); c++)
      if (GST_VIDEO_FORMAT_INFO_PLANE (frame.info.finfo, c) == p) {
        rows = GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c);
        break;
      }
    for (y = 0; y < rows; y++)
      g_checksum_update (sum, data + (gsize) y * stride,
          GST_VIDEO_INFO_PLANE_STRIDE (&plain, p));
  }
  gst_video_frame_unmap (&frame);
  result = g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return result;
}

typedef struct
{
  GMutex lock;
  GHashTable *sums;             /* sequence -> checksum */
  FILE *out;                    /* the consumer writes its lines here */
  guint frames;
  guint dmabuf_frames;
  guint unmappable;
} Probe;

static GstPadProbeReturn
checksum_probe (GstPad * pad, GstPadProbeInfo * pinfo, gpointer data)
{
  Probe *probe = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (pinfo);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstVideoInfo info;
  gchar *sum;
  guint i;
  gboolean dmabuf = TRUE;

  check (caps && gst_video_info_from_caps (&info, caps), "no caps");
  gst_caps_unref (caps);
  sum = frame_checksum (buf, &info);
  for (i = 0; i < gst_buffer_n_memory (buf); i++)
    dmabuf &= gst_is_dmabuf_memory (gst_buffer_peek_memory (buf, i));

  g_mutex_lock (&probe->lock);
  probe->frames++;
  if (dmabuf)
    probe->dmabuf_frames++;
  if (!sum) {
    probe->unmappable++;
  } else if (probe->out) {
    fprintf (probe->out, "%" G_GUINT64_FORMAT " %s\n", GST_BUFFER_OFFSET (buf),
        sum);
    fflush (probe->out);
  } else {
    g_hash_table_insert (probe->sums,
        g_memdup2 (&GST_BUFFER_OFFSET (buf), sizeof (guint64)), g_strdup (sum));
  }
  g_mutex_unlock (&probe->lock);
  g_free (sum);
  return GST_PAD_PROBE_OK;
}

/* Runs @pipe until EOS; FALSE on error or after @timeout_s seconds. */
static gboolean
run_to_eos (GstElement * pipe, guint timeout_s, const gchar * what)
{
  GstBus *bus = gst_element_get_bus (pipe);
  gboolean ok = FALSE;
  GstMessage *msg;

  msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (!msg) {
    g_printerr ("%s: no EOS within %u s\n", what, timeout_s);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &err, &dbg);
    g_printerr ("%s: error from %s: %s (%s)\n", what,
        GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, dbg);
    g_clear_error (&err);
    g_free (dbg);
  } else {
    ok = TRUE;
  }
  if (msg)
    gst_message_unref (msg);
  gst_object_unref (bus);
  return ok;
}

/* ---- the consumer process ---------------------------------------------- */

static int
consume (const gchar * sock, const gchar * out_path, const gchar * sink_desc)
{
  GstElement *pipe, *src;
  GstPad *pad;
  gchar *desc, *caps_str = NULL;
  Probe probe = { 0, };
  guint64 copies = 1;
  GstCaps *caps;
  gboolean ok;

  desc = g_strdup_printf ("dmapipesrc name=src socket-path=%s policy=block "
      "timeout=60000 ! %s", sock, sink_desc);
  pipe = gst_parse_launch (desc, NULL);
  check (pipe != NULL, "cannot build %s", desc);
  g_free (desc);
  g_mutex_init (&probe.lock);
  probe.out = fopen (out_path, "w");
  check (probe.out != NULL, "%s: %s", out_path, g_strerror (errno));

  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, checksum_probe, &probe,
      NULL);

  check (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "consumer does not start");
  ok = run_to_eos (pipe, 240, "consumer");
  caps = gst_pad_get_current_caps (pad);
  if (caps) {
    caps_str = gst_caps_to_string (caps);
    gst_caps_unref (caps);
  }
  g_object_get (src, "copies", &copies, NULL);
  fprintf (probe.out, "# frames=%u dmabuf=%u unmappable=%u copies=%"
      G_GUINT64_FORMAT " caps=%s\n", probe.frames, probe.dmabuf_frames,
      probe.unmappable, copies, caps_str ? caps_str : "none");
  fclose (probe.out);
  g_free (caps_str);

  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (src);
  gst_object_unref (pipe);
  return ok ? 0 : 1;
}

/* ---- the producer and the comparison ------------------------------------- */

/* The /dev node of the video4linux device called @name, or NULL. */
static gchar *
find_node (const gchar * name)
{
  GDir *dir = g_dir_open ("/sys/class/video4linux", 0, NULL);
  const gchar *entry;
  gchar *node = NULL;

  if (!dir)
    return NULL;
  while (!node && (entry = g_dir_read_name (dir))) {
    gchar *path = g_build_filename ("/sys/class/video4linux", entry, "name",
        NULL);
    gchar *contents = NULL;

    if (g_file_get_contents (path, &contents, NULL, NULL)
        && g_strcmp0 (g_strstrip (contents), name) == 0)
      node = g_build_filename ("/dev", entry, NULL);
    g_free (contents);
    g_free (path);
  }
  g_dir_close (dir);
  return node;
}

/* Switches a vivid output node to its HDMI output, whose format follows
 * what is set on it (the S-Video output is fixed to a TV standard). */
static gboolean
select_hdmi_output (const gchar * node)
{
  struct v4l2_output out;
  gboolean ok = FALSE;
  gint fd = open (node, O_RDWR | O_CLOEXEC);

  if (fd < 0)
    return FALSE;
  for (out.index = 0; !ok; out.index++) {
    if (ioctl (fd, VIDIOC_ENUMOUTPUT, &out) < 0)
      break;
    if (g_str_has_prefix ((const gchar *) out.name, "HDMI")) {
      gint index = out.index;

      ok = ioctl (fd, VIDIOC_S_OUTPUT, &index) == 0;
    }
  }
  close (fd);
  return ok;
}

static gboolean
wait_socket (const gchar * path)
{
  struct stat st;
  guint i;

  for (i = 0; i < 500; i++) {
    if (stat (path, &st) == 0 && S_ISSOCK (st.st_mode))
      return TRUE;
    g_usleep (10000);
  }
  return FALSE;
}

static gint
wait_child (GPid pid, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_TIME_SPAN_SECOND;
  gint status;

  while (g_get_monotonic_time () < deadline) {
    pid_t r = waitpid (pid, &status, WNOHANG);

    if (r == pid)
      return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
    g_usleep (20000);
  }
  kill (pid, SIGKILL);
  waitpid (pid, &status, 0);
  return -1;
}

/* One case: @source (a pipeline fragment producing N frames) served by
 * dmapipesink and consumed in another process by dmapipesrc ! @sink_desc. */
#define EXPECT_DMABUF 1           /* the producer's memory is dma-buf */
#define EXPECT_DMABUF_CAPS 2      /* downstream of dmapipesrc takes memory:DMABuf */

static void
run_case (const gchar * label, const gchar * source, const gchar * sink_desc,
    guint expect)
{
  gchar *sock = g_build_filename (tmpdir, "s", NULL);
  gchar *out = g_build_filename (tmpdir, "consumer.txt", NULL);
  gchar *desc, *contents = NULL, **lines, *summary = NULL;
  gchar *argv[6];
  GstElement *pipe, *sink;
  Probe probe = { 0, };
  guint64 frames = 0, copies = 1, drops = 0;
  guint matched = 0, i;
  GError *error = NULL;
  GstPad *pad;
  GPid pid;
  gint status;

  g_print ("---- %s\n", label);
  unlink (sock);
  desc = g_strdup_printf ("%s ! dmapipesink name=sink socket-path=%s "
      "wait-consumers=1 sync=false", source, sock);
  g_print ("producer: %s\n", desc);
  pipe = gst_parse_launch (desc, &error);
  check (pipe != NULL, "%s: %s", desc, error ? error->message : "?");
  g_free (desc);
  g_mutex_init (&probe.lock);
  probe.sums = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
      g_free);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, checksum_probe, &probe,
      NULL);
  check (gst_element_set_state (pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "producer does not start");
  check (wait_socket (sock), "no socket at %s", sock);

  argv[0] = (gchar *) "/proc/self/exe";
  argv[1] = (gchar *) "--consume";
  argv[2] = sock;
  argv[3] = out;
  argv[4] = (gchar *) sink_desc;
  argv[5] = NULL;
  g_print ("consumer: dmapipesrc policy=block ! %s\n", sink_desc);
  check (g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
          NULL, &pid, &error), "spawn: %s", error->message);

  check (run_to_eos (pipe, 240, "producer"), "producer failed");
  status = wait_child (pid, 120);
  check (status == 0, "consumer exited with %d", status);

  g_object_get (sink, "frames", &frames, "copies", &copies, "drops", &drops,
      NULL);
  gst_element_set_state (pipe, GST_STATE_NULL);

  check (g_file_get_contents (out, &contents, NULL, NULL), "no consumer output");
  lines = g_strsplit (contents, "\n", -1);
  for (i = 0; lines[i]; i++) {
    guint64 seq;
    gchar sum[64];
    const gchar *want;

    if (lines[i][0] == '#') {
      summary = g_strdup (lines[i]);
      continue;
    }
    if (sscanf (lines[i], "%" G_GUINT64_FORMAT " %63s", &seq, sum) != 2)
      continue;
    want = g_hash_table_lookup (probe.sums, &seq);
    check (want != NULL, "consumer frame %" G_GUINT64_FORMAT " was never "
        "produced", seq);
    check (strcmp (want, sum) == 0, "frame %" G_GUINT64_FORMAT ": producer %s, "
        "consumer %s", seq, want, sum);
    matched++;
  }
  g_strfreev (lines);
  g_free (contents);

  g_print ("producer: %u frames checksummed (%u in dma-buf memory), sink: "
      "frames=%" G_GUINT64_FORMAT " copies=%" G_GUINT64_FORMAT " drops=%"
      G_GUINT64_FORMAT "\n", probe.frames, probe.dmabuf_frames, frames, copies,
      drops);
  g_print ("consumer: %u frames identical to the producer's; %s\n", matched,
      summary ? summary : "(no summary)");
  check (probe.unmappable == 0, "producer frames could not be mapped");
  check (!(expect & EXPECT_DMABUF) || probe.dmabuf_frames == probe.frames,
      "the producer's memory is not dma-buf");
  check (frames == N_FRAMES && probe.frames == N_FRAMES, "%" G_GUINT64_FORMAT
      " frames served", frames);
  check (matched == N_FRAMES, "only %u of %u frames verified", matched,
      N_FRAMES);
  check (copies == 0, "the sink copied %" G_GUINT64_FORMAT " frames", copies);
  check (summary && strstr (summary, " copies=0 "), "the source copied");
  check (strstr (summary, " unmappable=0 "), "consumer frames unmappable");
  if (expect & EXPECT_DMABUF)
    check (strstr (summary, "dmabuf=" G_STRINGIFY (N_FRAMES) " "),
        "the consumer did not get dma-buf memory");
  if ((expect & EXPECT_DMABUF) && (expect & EXPECT_DMABUF_CAPS))
    check (strstr (summary, "memory:DMABuf"), "no memory:DMABuf caps");
  g_print ("ok %s\n", label);

  g_free (summary);
  g_hash_table_unref (probe.sums);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  unlink (out);
  g_free (out);
  g_free (sock);
}

/*
 * Only the few system plugins needed: in the VM the registry starts empty
 * and scanning every plugin under TCG takes long, and on any machine loading
 * unrelated plugins only adds their leaks to sanitizer reports.
 */
static void
limit_system_plugins (void)
{
  static const gchar *needed[] = { "libgstcoreelements.so",
    "libgstvideo4linux2.so", "libgstvideotestsrc.so"
  };
  const gchar *registry = g_getenv ("GST_REGISTRY_1_0");
  gchar *dir;
  guint i;

  /* a registry of its own next to the one given, or in $TMPDIR (the VM) */
  if (registry) {
    gchar *reg = g_strconcat (registry, ".vivid", NULL);

    dir = g_strconcat (registry, ".vivid-plugins", NULL);
    g_setenv ("GST_REGISTRY_1_0", reg, TRUE);
    g_free (reg);
  } else {
    dir = g_build_filename (g_get_tmp_dir (), "dmapipe-gst-plugins", NULL);
  }
  g_mkdir_with_parents (dir, 0755);
  for (i = 0; i < G_N_ELEMENTS (needed); i++) {
    gchar *target = g_build_filename (GST_SYSTEM_PLUGINS_DIR, needed[i], NULL);
    gchar *link = g_build_filename (dir, needed[i], NULL);

    if (symlink (target, link) < 0 && errno != EEXIST)
      g_printerr ("symlink %s: %s\n", link, g_strerror (errno));
    g_free (target);
    g_free (link);
  }
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", dir, TRUE);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  gchar *cap0, *cap1, *out0, *source;
  GstElementFactory *f;

  if (argc == 5 && strcmp (argv[1], "--consume") == 0) {
    gst_init (&argc, &argv);
    return consume (argv[2], argv[3], argv[4]);
  }

  cap0 = find_node ("vivid-000-vid-cap");
  cap1 = find_node ("vivid-001-vid-cap");
  out0 = find_node ("vivid-000-vid-out");
  if (!cap0 && !cap1) {
    g_print ("SKIP: no vivid capture node (modprobe vivid)\n");
    return 77;
  }
  limit_system_plugins ();
  gst_init (&argc, &argv);

  f = gst_element_factory_find ("v4l2src");
  if (!f) {
    g_print ("SKIP: GStreamer's v4l2src is not installed "
        "(gstreamer1.0-plugins-good)\n");
    return 77;
  }
  gst_object_unref (f);
  f = gst_element_factory_find ("dmapipesink");
  check (f != NULL, "the dmapipe plugin is not found (GST_PLUGIN_PATH_1_0)");
  gst_object_unref (f);

  tmpdir = g_dir_make_tmp ("dmapipe-gst-vivid-XXXXXX", NULL);
  check (tmpdir != NULL, "no temporary directory");

  if (cap0) {
    /* 10 fps: under TCG, vivid's capture thread falls behind at 30 fps and
     * its catch-up logs "schedule_timeout: wrong timeout value" with a
     * stack trace, which the lane rightly counts as a kernel failure */
    source = g_strdup_printf ("v4l2src device=%s io-mode=dmabuf num-buffers=%d "
        "! video/x-raw,format=YUY2,width=%d,height=%d,framerate=10/1", cap0,
        N_FRAMES, W, H);
    run_case ("vivid single-planar YUY2: v4l2src io-mode=dmabuf -> dmapipesrc",
        source, "fakesink sync=false", EXPECT_DMABUF | EXPECT_DMABUF_CAPS);
    if (out0 && select_hdmi_output (out0)) {
      /* the output device at 10 fps too (v4l2sink sets the caps' rate
       * with S_PARM): its own thread has the same TCG trouble */
      gchar *sink = g_strdup_printf ("video/x-raw,framerate=10/1 ! "
          "v4l2sink device=%s io-mode=dmabuf-import sync=false", out0);

      /* v4l2sink's caps carry no memory:DMABuf: it imports dma-buf memory
       * it is given under plain caps */
      run_case ("vivid capture -> dmapipesrc ! v4l2sink io-mode=dmabuf-import",
          source, sink, EXPECT_DMABUF);
      g_free (sink);
    }
    g_free (source);
  }
  if (cap1) {
    source = g_strdup_printf ("v4l2src device=%s io-mode=dmabuf num-buffers=%d "
        "! video/x-raw,format=NV12,width=%d,height=%d,framerate=10/1", cap1,
        N_FRAMES, W, H);
    run_case ("vivid multi-planar NV12 (two dma-bufs a frame)", source,
        "fakesink sync=false", EXPECT_DMABUF | EXPECT_DMABUF_CAPS);
    g_free (source);
  }
  source = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,format=YUY2,width=%d,height=%d,framerate=30/1", N_FRAMES, W,
      H);
  {
    struct dmapipe_allocator *a = dmapipe_allocator_new_default ();

    check (a != NULL, "no allocator");
    g_print ("dmapipesink's pool allocates from %s (%s)\n",
        dmapipe_allocator_get_name (a),
        dmapipe_mem_kind_to_string (dmapipe_allocator_get_mem_kind (a)));
    run_case ("videotestsrc drawing into dmapipesink's pool", source,
        "fakesink sync=false", dmapipe_allocator_get_mem_kind (a) ==
        DMAPIPE_MEM_DMABUF ? EXPECT_DMABUF | EXPECT_DMABUF_CAPS : 0);
    dmapipe_allocator_unref (a);
  }
  g_free (source);

  rmdir (tmpdir);
  g_print ("all vivid cases passed\n");
  return 0;
}
