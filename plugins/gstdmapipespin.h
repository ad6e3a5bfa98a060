/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether dmapipesrc's streaming thread should busy poll for its next frame
 * or sleep at once: poll only when the frame is due within the spin, and
 * never for a stream slower than GST_DMAPIPE_SPIN_SLOW_NS per frame (a
 * camera). A spin for a frame that comes later burns the whole spin and
 * then pays the sleep and the wake-up anyway. When a frame is due comes
 * from the time between the frames taken, a moving average (1/8 per frame)
 * in which a gap counts as at most twice GST_DMAPIPE_SPIN_SLOW_NS, so that
 * a fast stream is judged fast again within a few dozen frames after a
 * pause.
 *
 * Used by the streaming thread only; nothing here is locked.
 */
#ifndef __GST_DMAPIPE_SPIN_H__
#define __GST_DMAPIPE_SPIN_H__

#include <glib.h>

G_BEGIN_DECLS

/* How long a spin lasts at most, and the average gap of a slow stream. */
#define GST_DMAPIPE_SPIN_NS (30 * 1000)
#define GST_DMAPIPE_SPIN_SLOW_NS (1000 * 1000)

/* Caller-owned; zeroed means no frame seen yet (the first wait spins). */
typedef struct
{
  gint64 last_frame_ns;         /* when the last frame was taken, 0: none */
  gint64 frame_gap_ns;          /* average time between frames taken */
} GstDmapipeSpin;

/* A frame was taken at @now_ns (CLOCK_MONOTONIC). */
void gst_dmapipe_spin_frame (GstDmapipeSpin * spin, gint64 now_ns);

/* Whether a wait that begins at @now_ns should spin first. */
gboolean gst_dmapipe_spin_due (const GstDmapipeSpin * spin, gint64 now_ns);

G_END_DECLS

#endif /* __GST_DMAPIPE_SPIN_H__ */
