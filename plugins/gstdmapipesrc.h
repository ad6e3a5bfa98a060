/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef __GST_DMAPIPE_SRC_H__
#define __GST_DMAPIPE_SRC_H__

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_DMAPIPE_SRC (gst_dmapipe_src_get_type ())
G_DECLARE_FINAL_TYPE (GstDmapipeSrc, gst_dmapipe_src, GST, DMAPIPE_SRC,
    GstPushSrc);

#define GST_TYPE_DMAPIPE_POLICY (gst_dmapipe_policy_get_type ())
GType gst_dmapipe_policy_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (dmapipesrc);

G_END_DECLS

#endif /* __GST_DMAPIPE_SRC_H__ */
