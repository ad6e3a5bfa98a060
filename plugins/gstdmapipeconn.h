/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipesrc's connection to a producer and its cache of the GstMemory and
 * GstBuffer made for each producer buffer. The lifetime rules are at the
 * top of gstdmapipeconn.c.
 *
 * Thread-safe: the streaming thread takes frames, and whatever thread
 * frees the last reference to a frame's memories gives it back.
 */
#ifndef __GST_DMAPIPE_CONN_H__
#define __GST_DMAPIPE_CONN_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <dmapipe/dmapipe.h>

G_BEGIN_DECLS

typedef struct _GstDmapipeConn GstDmapipeConn;

/* A connection around @client, which it takes (freed with the connection's
 * last reference). The caller holds the one reference. */
GstDmapipeConn *gst_dmapipe_conn_new (struct dmapipe_client *client);

/* Adds a reference to @conn; returns it. */
GstDmapipeConn *gst_dmapipe_conn_ref (GstDmapipeConn * conn);

/* Drops a reference. The last one (the element's, or that of the last
 * frame GStreamer frees, whichever comes last) frees the cache, closing
 * the fds of its memories, and the client. */
void gst_dmapipe_conn_unref (GstDmapipeConn * conn);

/* The client's fd, readable when dispatching has something to read (its
 * socket and its reconnect timer). Valid while @conn is. */
gint gst_dmapipe_conn_get_fd (GstDmapipeConn * conn);
/* around a poll() of the fd: a frame in the ring is ready (TRUE: do not
 * sleep), else the producer wakes us for the next one until after_poll */
gboolean gst_dmapipe_conn_before_poll (GstDmapipeConn * conn);
void gst_dmapipe_conn_after_poll (GstDmapipeConn * conn);

/* The next frame the client received, after dispatching what arrived if
 * @dispatch (the fd was readable). The caller owns the frame: it goes to
 * gst_dmapipe_conn_wrap_frame() or gst_dmapipe_conn_release_frame().
 * NULL with *@err set: EAGAIN (none yet), EPIPE (end of stream),
 * ECONNRESET (the producer went away), EPROTO (the producer's error, with
 * *@why a new string naming it, for the caller to free) or another errno. */
struct dmapipe_frame *gst_dmapipe_conn_acquire_frame (GstDmapipeConn * conn,
    gboolean dispatch, gint * err, gchar ** why);

/* Gives @frame back to the producer at once; @frame is gone after. */
void gst_dmapipe_conn_release_frame (GstDmapipeConn * conn,
    struct dmapipe_frame *frame);

/* Copies the producer's FORMAT_INFO into @fi and returns TRUE, or FALSE
 * (@fi untouched) when it sent none. */
gboolean gst_dmapipe_conn_get_format_info (GstDmapipeConn * conn,
    struct dmapipe_format_info *fi);

/* The client's statistics. */
void gst_dmapipe_conn_get_stats (GstDmapipeConn * conn,
    struct dmapipe_client_stats *stats);

/* A GstBuffer wrapping @frame's producer buffer without copying, with a
 * GstVideoMeta of @info's format and the producer's offsets and strides.
 * Takes @frame: it goes back to the producer when GStreamer frees the last
 * reference to the buffer's memories (the caller gets the buffer's one
 * reference). NULL, with @frame given back, if the memories cannot be
 * made. */
GstBuffer *gst_dmapipe_conn_wrap_frame (GstDmapipeConn * conn,
    struct dmapipe_frame *frame, const GstVideoInfo * info);

G_END_DECLS

#endif /* __GST_DMAPIPE_CONN_H__ */
