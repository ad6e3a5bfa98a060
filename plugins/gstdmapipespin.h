/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether dmapipesrc's streaming thread busy polls for its next frame
 * before it sleeps, as the library's own waits do (lib/stream/busy-poll.c):
 * only while frames come fast (the last one was waited for less than
 * GST_DMAPIPE_SPIN_SLOW_NS: not a camera), and not right after spins that
 * found nothing. Such a spin costs its whole length and then the sleep and
 * the wake-up anyway: a producer at 9,000 frames/s, a frame every 110 us,
 * made every 30 us spin end empty. So a spin that finds nothing makes the
 * next wait sleep at once, the next such spin the next 2, then 4, up to
 * GST_DMAPIPE_SPIN_BACKOFF_MAX waits; a spin that finds a frame ends that.
 *
 * Used by the streaming thread only; nothing here is locked.
 */
#ifndef __GST_DMAPIPE_SPIN_H__
#define __GST_DMAPIPE_SPIN_H__

#include <glib.h>

G_BEGIN_DECLS

/* How long a spin lasts at most; the wait after which frames are slow;
 * the most waits a spin that found nothing makes sleep at once. */
#define GST_DMAPIPE_SPIN_NS (30 * 1000)
#define GST_DMAPIPE_SPIN_SLOW_NS (1000 * 1000)
#define GST_DMAPIPE_SPIN_BACKOFF_MAX 64

/* Caller-owned; zeroed: the first wait spins. */
typedef struct
{
  gint64 last_wait_ns;          /* how long the last frame was waited for */
  guint skip;                   /* waits left that sleep at once */
  guint backoff;                /* waits the next empty spin skips, 0: none */
} GstDmapipeSpin;

/* Whether this wait spins first; counts a skipped spin. */
gboolean gst_dmapipe_spin_begin (GstDmapipeSpin * spin);

/* The spin this wait made found a frame (@found) or nothing. */
void gst_dmapipe_spin_end (GstDmapipeSpin * spin, gboolean found);

/* A frame was taken after waiting @wait_ns for it. */
void gst_dmapipe_spin_waited (GstDmapipeSpin * spin, gint64 wait_ns);

G_END_DECLS

#endif /* __GST_DMAPIPE_SPIN_H__ */
