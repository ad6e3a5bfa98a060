/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The dmapipe GStreamer plugin: dmapipesink and dmapipesrc.
 *
 * libdmapipe's messages go to the GStreamer debug log (category "dmapipe",
 * e.g. GST_DEBUG=dmapipe:4) unless DMAPIPE_DEBUG is set, in which case the
 * library keeps printing to stderr as the user asked.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>

#include <gst/gst.h>
#include <dmapipe/dmapipe.h>

#include "gstdmapipesink.h"
#include "gstdmapipesrc.h"

GST_DEBUG_CATEGORY_STATIC (gst_dmapipe_lib_debug);

static void
log_to_gst (enum dmapipe_log_priority priority, const char *fmt, va_list args,
    void *data)
{
  GstDebugLevel level;
  gchar *msg;

  switch (priority) {
    case DMAPIPE_LOG_ERROR:
      level = GST_LEVEL_ERROR;
      break;
    case DMAPIPE_LOG_WARNING:
      level = GST_LEVEL_WARNING;
      break;
    case DMAPIPE_LOG_INFO:
      level = GST_LEVEL_INFO;
      break;
    default:
      level = GST_LEVEL_DEBUG;
      break;
  }
  if (level > gst_debug_category_get_threshold (gst_dmapipe_lib_debug))
    return;
  msg = g_strdup_vprintf (fmt, args);
  g_strchomp (msg);
  GST_CAT_LEVEL_LOG (gst_dmapipe_lib_debug, level, NULL, "%s", msg);
  g_free (msg);
}

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  GST_DEBUG_CATEGORY_INIT (gst_dmapipe_lib_debug, "dmapipe", 0,
      "libdmapipe");
  if (!g_getenv ("DMAPIPE_DEBUG")) {
    dmapipe_log_set_handler (log_to_gst, NULL);
    dmapipe_log_set_priority (DMAPIPE_LOG_DEBUG);
  }

  ret |= GST_ELEMENT_REGISTER (dmapipesink, plugin);
  ret |= GST_ELEMENT_REGISTER (dmapipesrc, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, dmapipe,
    "Zero-copy video between processes with dma-bufs (dmapipe)",
    plugin_init, VERSION, "LGPL", PACKAGE, ORIGIN)
