/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The clock conversions of dmapipesink (pipeline clock -> CLOCK_MONOTONIC,
 * what consumers expect) and dmapipesrc (the way back).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <time.h>

#include "gstdmapipeclock.h"

guint64
gst_dmapipe_monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

void
gst_dmapipe_clock_check_clear (GstDmapipeClockCheck * check)
{
  gst_clear_object (&check->checked);
  check->monotonic = FALSE;
}

static gboolean
is_monotonic_clock (GstDmapipeClockCheck * check, GstClock * clock)
{
  if (clock != check->checked) {
    GstClockType type = GST_CLOCK_TYPE_REALTIME;

    if (GST_IS_SYSTEM_CLOCK (clock))
      g_object_get (clock, "clock-type", &type, NULL);
    check->monotonic = type == GST_CLOCK_TYPE_MONOTONIC;
    gst_object_replace ((GstObject **) & check->checked, GST_OBJECT (clock));
  }
  return check->monotonic;
}

/* @element's clock (a new reference, NULL if none) and base time, read
 * together: a state change may set both. */
static GstClock *
element_clock (GstElement * element, GstClockTime * base_time)
{
  GstClock *clock;

  GST_OBJECT_LOCK (element);
  clock = GST_ELEMENT_CLOCK (element) ?
      gst_object_ref (GST_ELEMENT_CLOCK (element)) : NULL;
  *base_time = element->base_time;
  GST_OBJECT_UNLOCK (element);
  return clock;
}

guint64
gst_dmapipe_running_time_to_monotonic (GstDmapipeClockCheck * check,
    GstElement * element, GstClockTime running)
{
  guint64 now = gst_dmapipe_monotonic_ns ();
  GstClockTime base, abs;
  GstClock *clock;

  if (!GST_CLOCK_TIME_IS_VALID (running))
    return now;
  clock = element_clock (element, &base);
  if (!clock)
    return now;
  abs = running + base;
  if (!is_monotonic_clock (check, clock)) {
    /* another clock: carry the frame's age over to CLOCK_MONOTONIC */
    GstClockTime clock_now = gst_clock_get_time (clock);

    if (clock_now > abs)
      abs = now > clock_now - abs ? now - (clock_now - abs) : 0;
    else
      abs = now + (abs - clock_now);
  }
  gst_object_unref (clock);
  return abs;
}

GstClockTime
gst_dmapipe_monotonic_to_running_time (GstDmapipeClockCheck * check,
    GstElement * element, guint64 capture_ns)
{
  GstClockTime base, abs;
  GstClock *clock;

  clock = element_clock (element, &base);
  if (!clock)
    return GST_CLOCK_TIME_NONE;

  if (is_monotonic_clock (check, clock)) {
    abs = capture_ns;
  } else {
    /* another clock: the frame is as old on it as on CLOCK_MONOTONIC */
    GstClockTime clock_now = gst_clock_get_time (clock);
    guint64 now = gst_dmapipe_monotonic_ns ();
    guint64 age = now > capture_ns ? now - capture_ns : 0;

    abs = clock_now > age ? clock_now - age : 0;
  }
  gst_object_unref (clock);
  /* captured before this pipeline started playing */
  return abs > base ? abs - base : 0;
}
