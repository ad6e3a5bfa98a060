/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesink's server side: the dmapipe server, the thread that
 * dispatches it, and the sink's waits on consumers.
 *
 * Lifetime: gst_dmapipe_sink_server_start() (from start(), or after an
 * EOS when a new stream begins) makes the server and the thread;
 * gst_dmapipe_sink_server_stop() joins the thread, then frees the server
 * under self->lock, which ends the stream for every consumer and gives
 * back every buffer the registry held. The server is not thread-safe: the
 * streaming thread and the dispatch thread only touch it under
 * self->lock.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "gstdmapipepool.h"
#include "gstdmapipesink-private.h"

#define GST_CAT_DEFAULT gst_dmapipe_sink_debug

/* ---- the server and its dispatch thread --------------------------------- */

/* The server is done with @dbuf: no consumer holds it any more. Called from
 * inside dmapipe_server_queue() and _dispatch(), with self->lock held. */
static void
on_buffer_idle (struct dmapipe_server *server, struct dmapipe_buffer *dbuf,
    void *data)
{
  GstDmapipeSink *self = data;

  gst_dmapipe_mem_reg_buffer_idle (self->registry, dbuf);
}

gboolean
gst_dmapipe_sink_pool_serves (const struct dmapipe_layout *layout,
    gboolean is_drm, const struct dmapipe_constraints *constraints)
{
  struct dmapipe_constraints align;

  /* a DRM node imports a DRM device's memory (PROTOCOL.md 13, rule 7) */
  if (constraints->import_device[0] && !is_drm)
    return FALSE;
  /* formats are the caps' business; the pool grows, so min_buffers is no
   * reason for new buffers either */
  dmapipe_constraints_init (&align);
  memcpy (align.stride_align, constraints->stride_align,
      sizeof (align.stride_align));
  memcpy (align.offset_align, constraints->offset_align,
      sizeof (align.offset_align));
  return dmapipe_layout_satisfies (layout, &align, NULL, 0) == 0;
}

/* The consumers' merged constraints changed. Called inside the server's
 * calls, with self->lock held: it only takes note, render() acts. */
static void
on_constraints (struct dmapipe_server *server,
    const struct dmapipe_constraints *merged, void *data)
{
  GstDmapipeSink *self = data;

  self->constraints = *merged;
  if (self->have_pool_layout && !gst_dmapipe_sink_pool_serves
      (&self->pool_layout, self->pool_is_drm, merged)) {
    GST_INFO_OBJECT (self, "the consumers' constraints changed (stride "
        "alignment %u, offset alignment %u, import device '%s'): upstream "
        "gets a new pool", merged->stride_align[0], merged->offset_align[1],
        merged->import_device);
    self->reconfigure = TRUE;
  }
}

/* Under self->lock: whether every release wakes the dispatch thread. It
 * does while a buffer must go back to upstream at once (self->wake_every),
 * while upstream waits in the sink's pool for one, and during the drain. */
static void
apply_release_wakeups (GstDmapipeSink * self)
{
  if (self->server)
    dmapipe_server_set_release_wakeups (self->server, self->wake_every
        || self->upstream_waits > 0 || self->draining);
}

/* Under self->lock: one dispatch that does not wait, and what it freed.
 * The buffers no consumer holds any more move to @idle: unref them once
 * the lock is released (they may go back to upstream's pool). */
static void
dispatch_now (GstDmapipeSink * self, GPtrArray * idle)
{
  gint ret = dmapipe_server_dispatch (self->server, 0);

  if (ret < 0)
    GST_ERROR_OBJECT (self, "dispatch: %s", g_strerror (-ret));
  gst_dmapipe_mem_reg_collect (self->registry, self->server, self->frames);
  /* a broadcast is a futex syscall even with nobody waiting */
  if (self->waiters)
    g_cond_broadcast (&self->cond);
  gst_dmapipe_mem_reg_steal_idle (self->registry, idle);
}

/*
 * The dispatch thread says when it sleeps (dmapipe_server_before_poll()):
 * a consumer's release then wakes it only when something waits for one
 * (frames behind a consumer's in-flight limit, render() waiting for room
 * or a drain, buffers that must go back to upstream at once:
 * gst_dmapipe_sink_release_wakeups()). Other releases stay in the rings
 * until the next render(), whose queue takes them: no datagram from the
 * consumer and no wake-up of this thread per frame.
 */
static gpointer
dispatch_thread (gpointer data)
{
  GstDmapipeSink *self = data;
  GPtrArray *idle = g_ptr_array_new ();
  struct pollfd pfd[2];

  pfd[0].fd = dmapipe_server_get_fd (self->server);
  pfd[0].events = POLLIN;
  pfd[1].fd = self->wake_fd;
  pfd[1].events = POLLIN;

  for (;;) {
    gboolean ready, readable = FALSE;
    gint ret, err = 0;

    g_mutex_lock (&self->lock);
    ready = dmapipe_server_before_poll (self->server);
    g_mutex_unlock (&self->lock);
    if (!ready) {
      ret = poll (pfd, 2, -1);
      err = ret < 0 ? errno : 0;
      readable = ret > 0 && (pfd[0].revents & POLLIN);
    }

    /* one lock per wake-up: the sleep ends, then the dispatch */
    g_mutex_lock (&self->lock);
    if (!ready)
      dmapipe_server_after_poll (self->server);
    if (g_atomic_int_get (&self->thread_stop) || (err && err != EINTR)) {
      g_mutex_unlock (&self->lock);
      if (err && err != EINTR)
        GST_ERROR_OBJECT (self, "poll: %s", g_strerror (err));
      break;
    }
    if (!ready && !readable) {
      g_mutex_unlock (&self->lock);
      continue;
    }
    dispatch_now (self, idle);
    g_mutex_unlock (&self->lock);
    gst_dmapipe_buffers_unref (idle);
  }
  g_ptr_array_free (idle, TRUE);
  return NULL;
}

/*
 * Called with self->lock held, for the buffer render() sends. A buffer of
 * a dmapipe pool that grows may come back at the next render() (its pool
 * allocates meanwhile, upstream never waits). One of the pool the sink
 * proposed last, with a maximum, comes back at the next render() too, or
 * when upstream finds that pool empty: its acquire takes the consumers'
 * releases (gst_dmapipe_sink_pool_reclaim()) and, before it sleeps, has
 * every release wake the dispatch thread (gst_dmapipe_sink_pool_wait()).
 * Any other goes back the moment its last consumer releases it (another
 * element's pool, a capture driver's buffer, an earlier proposal's), so
 * every release wakes the dispatch thread then, as the drain's do.
 */
void
gst_dmapipe_sink_release_wakeups (GstDmapipeSink * self, GstBuffer * send)
{
  gboolean every = !(send->pool && (send->pool == self->proposed_pool
          || gst_dmapipe_buffer_pool_grows (send->pool)));

  if (every == self->wake_every)
    return;
  GST_DEBUG_OBJECT (self, "releases %s", every ? "wake the dispatch thread "
      "(buffers go back at once)" : "wait for the next frame or for "
      "upstream's acquire (the buffers come from the sink's pool)");
  self->wake_every = every;
  apply_release_wakeups (self);
}

gboolean
gst_dmapipe_sink_pool_reclaim (GObject * owner)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (owner);
  GPtrArray *idle = g_ptr_array_new ();
  gboolean any;

  g_mutex_lock (&self->lock);
  if (self->server)
    dispatch_now (self, idle);
  g_mutex_unlock (&self->lock);
  any = idle->len > 0;
  gst_dmapipe_buffers_unref (idle);
  g_ptr_array_free (idle, TRUE);
  return any;
}

void
gst_dmapipe_sink_pool_wait (GObject * owner, gboolean waiting)
{
  GstDmapipeSink *self = GST_DMAPIPE_SINK (owner);

  g_mutex_lock (&self->lock);
  if (waiting)
    self->upstream_waits++;
  else if (self->upstream_waits > 0)
    self->upstream_waits--;
  apply_release_wakeups (self);
  g_mutex_unlock (&self->lock);
}

gboolean
gst_dmapipe_sink_server_start (GstDmapipeSink * self)
{
  struct dmapipe_server_options opts;
  struct dmapipe_server *server;
  GError *error = NULL;
  gchar *path, *group, *peer;
  gchar resolved[108];
  guint dir_mode = 0700;
  gid_t gid = (gid_t) - 1;
  gint ret;

  dmapipe_server_options_init (&opts);
  GST_OBJECT_LOCK (self);
  path = g_strdup (self->socket_path);
  group = g_strdup (self->socket_group);
  peer = g_strdup (self->peer_policy);
  opts.socket_mode = self->socket_mode;
  opts.lease_timeout_ms = self->lease_timeout;
  opts.max_consumers = self->max_consumers;
  opts.max_in_flight = self->max_in_flight;
  GST_OBJECT_UNLOCK (self);
  /* upstream takes a new pool after a RECONFIGURE (propose_allocation) */
  opts.app_reallocates_ms = GST_DMAPIPE_SINK_REALLOC_WAIT_MS;

  if (!path || !*path) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("No socket path set"), ("set the socket-path property"));
    g_free (path);
    g_free (group);
    g_free (peer);
    return FALSE;
  }
  /* a bare name is a stream in the default directory, as for the tool */
  ret = dmapipe_socket_default_path (path, resolved, sizeof (resolved));
  if (ret == 0)
    ret = dmapipe_peer_policy_from_string (peer ? peer : "same-uid",
        &opts.peer_policy, &opts.allowed_uid, &opts.allowed_gid);
  if (ret == 0 && group && *group) {
    struct group *g = getgrnam (group);
    gchar *end;
    guint64 n = g_ascii_strtoull (group, &end, 10);

    if (g)
      gid = g->gr_gid;
    else if (*end == '\0' && end != group && n < G_MAXUINT32)
      gid = (gid_t) n;
    else
      ret = -EINVAL;
  }
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Bad socket-path '%s', socket-group '%s' or peer-policy '%s'", path,
            group ? group : "", peer ? peer : ""),
        ("socket-path: a path, @name or a bare NAME; socket-group: a group "
            "name or number; peer-policy: same-uid, any, uid:N or gid:N"));
    g_free (path);
    g_free (group);
    g_free (peer);
    return FALSE;
  }
  g_free (peer);
  g_free (group);
  g_free (path);
  path = g_strdup (resolved);
  /* the directory lets in whom the socket's mode lets in, no more */
  if (opts.socket_mode & 0060)
    dir_mode |= 0050;
  if (opts.socket_mode & 0006)
    dir_mode |= 0005;
  ret = dmapipe_socket_prepare_dir (path, dir_mode);
  if (ret < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot serve on %s: %s", path, g_strerror (-ret)),
        ("the default socket directory could not be made ready"));
    g_free (path);
    return FALSE;
  }
  opts.path = path;
  opts.producer_name = "gst";
  opts.stream_name = NULL;      /* the socket's base name */
  server = dmapipe_server_new (&opts);
  if (!server) {
    gint err = errno;

    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot serve on %s: %s", path, g_strerror (err)),
        (err == EADDRINUSE ? "another producer is live on this socket" :
            "dmapipe_server_new failed"));
    g_free (path);
    return FALSE;
  }
  if (gid != (gid_t) - 1 && path[0] != '@' && chown (path, (uid_t) - 1, gid) < 0) {
    gint err = errno;

    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
        ("Cannot give %s the group %u: %s", path, (guint) gid,
            g_strerror (err)),
        ("a user can only give a file a group it belongs to"));
    dmapipe_server_free (server);
    g_free (path);
    return FALSE;
  }
  dmapipe_server_set_idle_callback (server, on_buffer_idle, self);
  dmapipe_server_set_constraints_callback (server, on_constraints, self);
  dmapipe_constraints_init (&self->constraints);
  self->reconfigure = FALSE;
  if (self->have_format_info)
    dmapipe_server_set_format_info (server, &self->format_info);
  GST_INFO_OBJECT (self, "serving on %s", path);
  g_free (path);

  /* under the lock: upstream's thread may be in the pool's acquire */
  g_mutex_lock (&self->lock);
  self->server = server;
  self->eos_sent = FALSE;
  self->started = FALSE;
  self->wake_every = FALSE;     /* the library's default */
  self->draining = FALSE;
  /* upstream may wait in the sink's pool across a restart */
  apply_release_wakeups (self);
  g_mutex_unlock (&self->lock);
  g_atomic_int_set (&self->thread_stop, 0);
  self->thread = g_thread_try_new ("dmapipesink", dispatch_thread, self,
      &error);
  if (!self->thread) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("Cannot start a thread"),
        ("%s", error->message));
    g_clear_error (&error);
    g_mutex_lock (&self->lock);
    dmapipe_server_free (server);
    self->server = NULL;
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  return TRUE;
}

void
gst_dmapipe_sink_server_stop (GstDmapipeSink * self)
{
  GPtrArray *idle = g_ptr_array_new ();
  guint64 one = 1;

  if (self->thread) {
    g_atomic_int_set (&self->thread_stop, 1);
    if (write (self->wake_fd, &one, sizeof (one)) < 0)
      GST_WARNING_OBJECT (self, "eventfd: %s", g_strerror (errno));
    g_thread_join (self->thread);
    self->thread = NULL;
    if (read (self->wake_fd, &one, sizeof (one)) < 0 && errno != EAGAIN)
      GST_WARNING_OBJECT (self, "eventfd: %s", g_strerror (errno));
  }

  g_mutex_lock (&self->lock);
  /* EOS to every consumer and all leases dropped; no idle callbacks from
   * here on, so the held buffers are released below */
  dmapipe_server_free (self->server);
  self->server = NULL;
  gst_dmapipe_mem_reg_clear (self->registry);
  gst_dmapipe_mem_reg_steal_idle (self->registry, idle);
  g_mutex_unlock (&self->lock);
  gst_dmapipe_buffers_unref (idle);
  g_ptr_array_free (idle, TRUE);
}

/* ---- waiting for consumers ---------------------------------------------- */

/*
 * The sink's only two waits on consumers: gst_dmapipe_sink_wait_ready()
 * (render(): the #wait-consumers before the first frame, then room at
 * block-policy consumers) and gst_dmapipe_sink_drain_and_end() (EOS:
 * queued frames out, then EOS, then releases, within #drain-timeout, as
 * the library's dmapipe_server_drain_step() says). They cannot block in
 * the library's own waits (dmapipe_server_wait_consumers(),
 * dmapipe_server_drain()): the dispatch thread runs the server, and a
 * flush must end a wait. Both run under self->lock and sleep on
 * self->cond, which the dispatch thread signals after every dispatch and
 * unlock() on a flush.
 */

/* True if a consumer that asked for backpressure has no room. */
static gboolean
consumer_blocked (GstDmapipeSink * self)
{
  struct dmapipe_consumer_stats stats[32];
  gint n, i;

  n = dmapipe_server_get_consumer_stats (self->server, stats,
      G_N_ELEMENTS (stats));
  for (i = 0; i < MIN (n, (gint) G_N_ELEMENTS (stats)); i++)
    if (stats[i].policy == DMAPIPE_POLICY_BLOCK
        && stats[i].queued >= stats[i].queue_depth)
      return TRUE;
  return FALSE;
}

static guint
consumers_connected (GstDmapipeSink * self)
{
  struct dmapipe_server_stats stats;

  dmapipe_server_get_stats (self->server, &stats);
  return stats.consumers;
}

/* Waits (under self->lock) for the consumers #wait-consumers asks for and
 * for room at block-policy consumers. */
GstFlowReturn
gst_dmapipe_sink_wait_ready (GstDmapipeSink * self, guint wait_consumers)
{
  gboolean logged = FALSE;

  for (;;) {
    gint64 until;

    if (self->flushing)
      return GST_FLOW_FLUSHING;
    if (!self->started && consumers_connected (self) < wait_consumers) {
      if (!logged)
        GST_INFO_OBJECT (self, "waiting for %u consumer(s)", wait_consumers);
    } else if (consumer_blocked (self)) {
      if (!logged)
        GST_LOG_OBJECT (self, "a block-policy consumer is full: waiting");
    } else {
      return GST_FLOW_OK;
    }
    logged = TRUE;
    /* the dispatch thread signals after every event; the timeout only
     * bounds a missed wakeup */
    until = g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND;
    self->waiters++;
    g_cond_wait_until (&self->cond, &self->lock, until);
    self->waiters--;
  }
}

/*
 * At EOS, within #drain-timeout: consumers first get the frames queued for
 * them, then EOS; then the sink waits until they released every frame (or
 * left). Returning earlier would let the pipeline tear the server down under
 * consumers still reading: they would lose the end of the stream, and
 * upstream could reuse buffers they still read. The library says where the
 * end stands (dmapipe_server_drain_step()); the sink only waits, on its
 * condition, because its own thread dispatches the server and a flush must
 * be able to end the wait.
 */
void
gst_dmapipe_sink_drain_and_end (GstDmapipeSink * self)
{
  gint64 deadline;
  guint timeout;

  GST_OBJECT_LOCK (self);
  timeout = self->drain_timeout;
  GST_OBJECT_UNLOCK (self);
  deadline = g_get_monotonic_time () + timeout * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&self->lock);
  /* the dispatch thread wakes for every release now: this wait needs them */
  self->draining = TRUE;
  apply_release_wakeups (self);
  while (self->server && !self->flushing
      && dmapipe_server_drain_step (self->server) > 0) {
    gboolean more;

    self->waiters++;
    more = g_cond_wait_until (&self->cond, &self->lock, deadline);
    self->waiters--;
    if (!more)
      break;
  }
  /* out of time or flushing: EOS goes anyway, unsent frames are dropped */
  if (self->server && !self->eos_sent) {
    dmapipe_server_end_of_stream (self->server);
    self->eos_sent = TRUE;
  }
  self->draining = FALSE;
  apply_release_wakeups (self);
  g_mutex_unlock (&self->lock);
}
