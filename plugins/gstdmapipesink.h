/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef __GST_DMAPIPE_SINK_H__
#define __GST_DMAPIPE_SINK_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_DMAPIPE_SINK (gst_dmapipe_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstDmapipeSink, gst_dmapipe_sink, GST, DMAPIPE_SINK,
    GstBaseSink);

GST_ELEMENT_REGISTER_DECLARE (dmapipesink);

G_END_DECLS

#endif /* __GST_DMAPIPE_SINK_H__ */
