/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstdmapipespin.h"

gboolean
gst_dmapipe_spin_begin (GstDmapipeSpin * spin)
{
  if (spin->last_wait_ns >= GST_DMAPIPE_SPIN_SLOW_NS)
    return FALSE;
  if (spin->skip > 0) {
    spin->skip--;
    return FALSE;
  }
  return TRUE;
}

void
gst_dmapipe_spin_end (GstDmapipeSpin * spin, gboolean found)
{
  if (found) {
    spin->backoff = 0;
    return;
  }
  spin->backoff = spin->backoff ?
      MIN (spin->backoff * 2, GST_DMAPIPE_SPIN_BACKOFF_MAX) : 1;
  spin->skip = spin->backoff;
}

void
gst_dmapipe_spin_waited (GstDmapipeSpin * spin, gint64 wait_ns)
{
  spin->last_wait_ns = wait_ns;
}
