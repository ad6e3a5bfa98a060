/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstdmapipespin.h"

void
gst_dmapipe_spin_frame (GstDmapipeSpin * spin, gint64 now_ns)
{
  if (spin->last_frame_ns) {
    gint64 gap = CLAMP (now_ns - spin->last_frame_ns, 0,
        2 * GST_DMAPIPE_SPIN_SLOW_NS);

    spin->frame_gap_ns = spin->frame_gap_ns ?
        spin->frame_gap_ns + (gap - spin->frame_gap_ns) / 8 : gap;
  }
  spin->last_frame_ns = now_ns;
}

gboolean
gst_dmapipe_spin_due (const GstDmapipeSpin * spin, gint64 now_ns)
{
  return spin->frame_gap_ns < GST_DMAPIPE_SPIN_SLOW_NS
      && spin->last_frame_ns + spin->frame_gap_ns - now_ns < GST_DMAPIPE_SPIN_NS;
}
