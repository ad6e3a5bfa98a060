/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capture times between CLOCK_MONOTONIC, where dmapipe frames carry them,
 * and an element's pipeline clock. GStreamer's default system clock is
 * CLOCK_MONOTONIC: times pass unchanged. On any other clock a frame keeps
 * its age: it is as old on the pipeline clock as on CLOCK_MONOTONIC.
 *
 * Used by the streaming thread only; nothing here is locked but the
 * element's object lock, taken to read its clock and base time.
 */
#ifndef __GST_DMAPIPE_CLOCK_H__
#define __GST_DMAPIPE_CLOCK_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* Whether the last clock seen is CLOCK_MONOTONIC, so that the property
 * lookup is made once per clock, not per frame. Caller-owned; zero it
 * before use and clear it with gst_dmapipe_clock_check_clear(). */
typedef struct
{
  GstClock *checked;            /* reference, or NULL */
  gboolean monotonic;
} GstDmapipeClockCheck;

/* Now on CLOCK_MONOTONIC, in nanoseconds. */
guint64 gst_dmapipe_monotonic_ns (void);

/* Drops the reference on the clock @check remembers (NULL is fine). */
void gst_dmapipe_clock_check_clear (GstDmapipeClockCheck * check);

/* The capture time on CLOCK_MONOTONIC of @running, a running time of
 * @element (a sink): absolute on its clock, then the same age on
 * CLOCK_MONOTONIC when that clock is another. Now when @running is
 * invalid or @element has no clock. */
guint64 gst_dmapipe_running_time_to_monotonic (GstDmapipeClockCheck * check,
    GstElement * element, GstClockTime running);

/* The running time on @element (a source) of @capture_ns, a time on
 * CLOCK_MONOTONIC; 0 if it lies before the element's base time,
 * GST_CLOCK_TIME_NONE if @element has no clock. */
GstClockTime
gst_dmapipe_monotonic_to_running_time (GstDmapipeClockCheck * check,
    GstElement * element, guint64 capture_ns);

G_END_DECLS

#endif /* __GST_DMAPIPE_CLOCK_H__ */
