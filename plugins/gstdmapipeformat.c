/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GStreamer names packed formats by byte order in memory, DRM by the
 * little-endian word (GStreamer BGRx, bytes B G R x, is DRM XRGB8888).
 * Multi-planar formats list their planes in the same order on both sides
 * (YV12 is Y, V, U in GStreamer's planes and in DRM's YVU420), so plane i
 * of a GstVideoInfo is plane i of a dmapipe layout.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/allocators/allocators.h>

#include "gstdmapipeformat.h"

/* DRM's fourcc_code(): the four characters, first in the lowest byte */
#define DRM_FOURCC(a, b, c, d) ((guint32) (a) | ((guint32) (b) << 8) | \
    ((guint32) (c) << 16) | ((guint32) (d) << 24))

static const struct
{
  GstVideoFormat format;
  guint32 fourcc;
} format_map[] = {
  {GST_VIDEO_FORMAT_NV12, DRM_FOURCC ('N', 'V', '1', '2')},
  {GST_VIDEO_FORMAT_NV21, DRM_FOURCC ('N', 'V', '2', '1')},
  {GST_VIDEO_FORMAT_NV16, DRM_FOURCC ('N', 'V', '1', '6')},
  {GST_VIDEO_FORMAT_NV61, DRM_FOURCC ('N', 'V', '6', '1')},
  {GST_VIDEO_FORMAT_NV24, DRM_FOURCC ('N', 'V', '2', '4')},
  {GST_VIDEO_FORMAT_I420, DRM_FOURCC ('Y', 'U', '1', '2')},     /* YUV420 */
  {GST_VIDEO_FORMAT_YV12, DRM_FOURCC ('Y', 'V', '1', '2')},     /* YVU420 */
  {GST_VIDEO_FORMAT_Y42B, DRM_FOURCC ('Y', 'U', '1', '6')},     /* YUV422 */
  {GST_VIDEO_FORMAT_Y444, DRM_FOURCC ('Y', 'U', '2', '4')},     /* YUV444 */
  {GST_VIDEO_FORMAT_YUY2, DRM_FOURCC ('Y', 'U', 'Y', 'V')},
  {GST_VIDEO_FORMAT_YVYU, DRM_FOURCC ('Y', 'V', 'Y', 'U')},
  {GST_VIDEO_FORMAT_UYVY, DRM_FOURCC ('U', 'Y', 'V', 'Y')},
  {GST_VIDEO_FORMAT_VYUY, DRM_FOURCC ('V', 'Y', 'U', 'Y')},
  {GST_VIDEO_FORMAT_BGRx, DRM_FOURCC ('X', 'R', '2', '4')},     /* XRGB8888 */
  {GST_VIDEO_FORMAT_RGBx, DRM_FOURCC ('X', 'B', '2', '4')},     /* XBGR8888 */
  {GST_VIDEO_FORMAT_xRGB, DRM_FOURCC ('B', 'X', '2', '4')},     /* BGRX8888 */
  {GST_VIDEO_FORMAT_xBGR, DRM_FOURCC ('R', 'X', '2', '4')},     /* RGBX8888 */
  {GST_VIDEO_FORMAT_BGRA, DRM_FOURCC ('A', 'R', '2', '4')},     /* ARGB8888 */
  {GST_VIDEO_FORMAT_RGBA, DRM_FOURCC ('A', 'B', '2', '4')},     /* ABGR8888 */
  {GST_VIDEO_FORMAT_ARGB, DRM_FOURCC ('B', 'A', '2', '4')},     /* BGRA8888 */
  {GST_VIDEO_FORMAT_ABGR, DRM_FOURCC ('R', 'A', '2', '4')},     /* RGBA8888 */
  {GST_VIDEO_FORMAT_RGB, DRM_FOURCC ('B', 'G', '2', '4')},      /* BGR888 */
  {GST_VIDEO_FORMAT_BGR, DRM_FOURCC ('R', 'G', '2', '4')},      /* RGB888 */
  /* 16-bit words in host order, little-endian on every target we build for */
  {GST_VIDEO_FORMAT_RGB16, DRM_FOURCC ('R', 'G', '1', '6')},    /* RGB565 */
  {GST_VIDEO_FORMAT_BGR16, DRM_FOURCC ('B', 'G', '1', '6')},    /* BGR565 */
  {GST_VIDEO_FORMAT_GRAY8, DRM_FOURCC ('R', '8', ' ', ' ')},
  {GST_VIDEO_FORMAT_GRAY16_LE, DRM_FOURCC ('R', '1', '6', ' ')},
  {GST_VIDEO_FORMAT_P010_10LE, DRM_FOURCC ('P', '0', '1', '0')},
  {GST_VIDEO_FORMAT_P012_LE, DRM_FOURCC ('P', '0', '1', '2')},
  {GST_VIDEO_FORMAT_P016_LE, DRM_FOURCC ('P', '0', '1', '6')},
  {GST_VIDEO_FORMAT_BGR10A2_LE, DRM_FOURCC ('A', 'R', '3', '0')},       /* ARGB2101010 */
  {GST_VIDEO_FORMAT_RGB10A2_LE, DRM_FOURCC ('A', 'B', '3', '0')},       /* ABGR2101010 */
};

#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "RGB16/BGR16 are host-endian in GStreamer and little-endian in DRM"
#endif

guint32
gst_dmapipe_format_to_drm (GstVideoFormat format)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (format_map); i++)
    if (format_map[i].format == format)
      return format_map[i].fourcc;
  return 0;
}

GstVideoFormat
gst_dmapipe_format_from_drm (guint32 fourcc)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (format_map); i++)
    if (format_map[i].fourcc == fourcc)
      return format_map[i].format;
  return GST_VIDEO_FORMAT_UNKNOWN;
}

gboolean
gst_dmapipe_layout_from_video_info (const GstVideoInfo * info,
    struct dmapipe_layout *layout)
{
  guint32 fourcc = gst_dmapipe_format_to_drm (GST_VIDEO_INFO_FORMAT (info));
  const gchar *why = NULL;
  guint i;

  if (fourcc == 0 || !dmapipe_fourcc_is_supported (fourcc))
    return FALSE;
  if (GST_VIDEO_INFO_N_PLANES (info) > DMAPIPE_MAX_PLANES)
    return FALSE;

  memset (layout, 0, sizeof (*layout));
  layout->format.fourcc = fourcc;
  layout->format.width = GST_VIDEO_INFO_WIDTH (info);
  layout->format.height = GST_VIDEO_INFO_HEIGHT (info);
  layout->format.modifier = DMAPIPE_MOD_LINEAR;
  layout->n_objects = 1;
  layout->objects[0].fd = -1;
  layout->objects[0].size = GST_VIDEO_INFO_SIZE (info);
  layout->n_planes = GST_VIDEO_INFO_N_PLANES (info);
  for (i = 0; i < layout->n_planes; i++) {
    layout->planes[i].object = 0;
    layout->planes[i].offset = GST_VIDEO_INFO_PLANE_OFFSET (info, i);
    layout->planes[i].stride = GST_VIDEO_INFO_PLANE_STRIDE (info, i);
  }
  for (i = 1; i < DMAPIPE_MAX_OBJECTS; i++)
    layout->objects[i].fd = -1;

  /* GStreamer and the library must agree on the planes' geometry */
  return dmapipe_layout_check (layout, &why) == 0;
}

gboolean
gst_dmapipe_video_info_from_format (const struct dmapipe_format *format,
    GstVideoInfo * info)
{
  GstVideoFormat vformat = gst_dmapipe_format_from_drm (format->fourcc);

  if (vformat == GST_VIDEO_FORMAT_UNKNOWN)
    return FALSE;
  /* GStreamer 1.22 caps cannot carry a modifier: linear only */
  if (format->modifier != DMAPIPE_MOD_LINEAR
      && format->modifier != DMAPIPE_MOD_INVALID)
    return FALSE;
  if (format->width == 0 || format->height == 0
      || format->width > G_MAXINT || format->height > G_MAXINT)
    return FALSE;
  return gst_video_info_set_format (info, vformat, format->width,
      format->height);
}

/*
 * FORMAT_INFO's enums against GStreamer's, index = the dmapipe value
 * (docs/PROTOCOL.md, FORMAT_INFO). Range, matrix and field order have the
 * same numbers in both.
 */
static const GstVideoTransferFunction transfers[] = {
  GST_VIDEO_TRANSFER_UNKNOWN, GST_VIDEO_TRANSFER_GAMMA10,
  GST_VIDEO_TRANSFER_SRGB, GST_VIDEO_TRANSFER_BT709, GST_VIDEO_TRANSFER_BT601,
  GST_VIDEO_TRANSFER_SMPTE240M, GST_VIDEO_TRANSFER_BT2020_10,
  GST_VIDEO_TRANSFER_BT2020_12, GST_VIDEO_TRANSFER_SMPTE2084,
  GST_VIDEO_TRANSFER_ARIB_STD_B67,
};

static const GstVideoColorPrimaries primaries[] = {
  GST_VIDEO_COLOR_PRIMARIES_UNKNOWN, GST_VIDEO_COLOR_PRIMARIES_BT709,
  GST_VIDEO_COLOR_PRIMARIES_BT470M, GST_VIDEO_COLOR_PRIMARIES_BT470BG,
  GST_VIDEO_COLOR_PRIMARIES_SMPTE170M, GST_VIDEO_COLOR_PRIMARIES_SMPTE240M,
  GST_VIDEO_COLOR_PRIMARIES_BT2020, GST_VIDEO_COLOR_PRIMARIES_SMPTERP431,
  GST_VIDEO_COLOR_PRIMARIES_SMPTEEG432,
};

static const GstVideoChromaSite sites[] = {
  GST_VIDEO_CHROMA_SITE_UNKNOWN, GST_VIDEO_CHROMA_SITE_MPEG2,
  GST_VIDEO_CHROMA_SITE_JPEG, GST_VIDEO_CHROMA_SITE_COSITED,
  GST_VIDEO_CHROMA_SITE_DV,
};

/* dmapipe's interlace values, index = GstVideoInterlaceMode; FIELDS
 * (two separate fields in one buffer) has none */
static const guint32 interlaces[] = {
  DMAPIPE_INTERLACE_PROGRESSIVE, DMAPIPE_INTERLACE_INTERLEAVED,
  DMAPIPE_INTERLACE_MIXED, DMAPIPE_INTERLACE_UNKNOWN,
  DMAPIPE_INTERLACE_ALTERNATE,
};

static guint
index_of (const gint * table, guint n, gint value)
{
  guint i;

  for (i = 1; i < n; i++)
    if (table[i] == value)
      return i;
  return 0;
}

/* Sets what @fi knows on @caps' only structure. */
static void
caps_set_format_info (GstCaps * caps, const struct dmapipe_format_info *fi)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  GstVideoColorimetry cm;
  guint i;

  if (fi->par_num)
    gst_structure_set (s, "pixel-aspect-ratio", GST_TYPE_FRACTION,
        (gint) MIN (fi->par_num, G_MAXINT), (gint) MIN (fi->par_den, G_MAXINT),
        NULL);
  if (fi->matrix || fi->transfer || fi->primaries || fi->range) {
    gchar *str;

    cm.range = (GstVideoColorRange) fi->range;
    cm.matrix = (GstVideoColorMatrix) fi->matrix;
    cm.transfer = transfers[fi->transfer];
    cm.primaries = primaries[fi->primaries];
    str = gst_video_colorimetry_to_string (&cm);
    if (str)
      gst_structure_set (s, "colorimetry", G_TYPE_STRING, str, NULL);
    g_free (str);
  }
  if (fi->chroma_site) {
    gchar *str = gst_video_chroma_site_to_string (sites[fi->chroma_site]);

    if (str)
      gst_structure_set (s, "chroma-site", G_TYPE_STRING, str, NULL);
    g_free (str);
  }
  for (i = 0; i < G_N_ELEMENTS (interlaces); i++)
    if (fi->interlace && interlaces[i] == fi->interlace)
      gst_structure_set (s, "interlace-mode", G_TYPE_STRING,
          gst_video_interlace_mode_to_string ((GstVideoInterlaceMode) i), NULL);
  if (fi->field_order)
    gst_structure_set (s, "field-order", G_TYPE_STRING,
        gst_video_field_order_to_string ((GstVideoFieldOrder) fi->field_order),
        NULL);
}

void
gst_dmapipe_format_info_from_caps (const GstCaps * caps,
    const GstVideoInfo * info, struct dmapipe_format_info *fi)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  GstVideoInterlaceMode mode = GST_VIDEO_INFO_INTERLACE_MODE (info);
  const GstVideoColorimetry *cm = &GST_VIDEO_INFO_COLORIMETRY (info);

  dmapipe_format_info_init (fi);
  if (GST_VIDEO_INFO_FPS_N (info) > 0 && GST_VIDEO_INFO_FPS_D (info) > 0) {
    fi->fps_num = (guint32) GST_VIDEO_INFO_FPS_N (info);
    fi->fps_den = (guint32) GST_VIDEO_INFO_FPS_D (info);
  }
  if (GST_VIDEO_INFO_PAR_N (info) > 0 && GST_VIDEO_INFO_PAR_D (info) > 0) {
    fi->par_num = (guint32) GST_VIDEO_INFO_PAR_N (info);
    fi->par_den = (guint32) GST_VIDEO_INFO_PAR_D (info);
  }
  if ((guint) mode < G_N_ELEMENTS (interlaces))
    fi->interlace = interlaces[mode];
  if (fi->interlace != DMAPIPE_INTERLACE_PROGRESSIVE
      && fi->interlace != DMAPIPE_INTERLACE_UNKNOWN
      && GST_VIDEO_INFO_FIELD_ORDER (info) <= GST_VIDEO_FIELD_ORDER_BOTTOM_FIELD_FIRST)
    fi->field_order = (guint32) GST_VIDEO_INFO_FIELD_ORDER (info);
  if (gst_structure_has_field (s, "colorimetry")) {
    if (cm->range <= GST_VIDEO_COLOR_RANGE_16_235)
      fi->range = (guint32) cm->range;
    if (cm->matrix <= GST_VIDEO_COLOR_MATRIX_BT2020)
      fi->matrix = (guint32) cm->matrix;
    fi->transfer = index_of ((const gint *) transfers, G_N_ELEMENTS (transfers),
        cm->transfer);
    fi->primaries = index_of ((const gint *) primaries,
        G_N_ELEMENTS (primaries), cm->primaries);
  }
  if (gst_structure_has_field (s, "chroma-site"))
    fi->chroma_site = index_of ((const gint *) sites, G_N_ELEMENTS (sites),
        GST_VIDEO_INFO_CHROMA_SITE (info));
}

gboolean
gst_dmapipe_dma_drm_enabled (void)
{
  const gchar *force = g_getenv (GST_DMAPIPE_DMA_DRM_ENV);
  guint major, minor, micro, nano;

  if (g_strcmp0 (force, "0") == 0)
    return FALSE;
  if (g_strcmp0 (force, "1") == 0)
    return TRUE;
  /* what the process runs, not the headers it was built with: one build
   * serves Debian 12's 1.22 and a newer GStreamer alike */
  gst_version (&major, &minor, &micro, &nano);
  return major > 1 || (major == 1 && minor >= 24);
}

GstCaps *
gst_dmapipe_template_caps (gboolean dma_drm)
{
  if (!dma_drm)
    return gst_caps_from_string (GST_DMAPIPE_CAPS);
  return gst_caps_from_string (GST_DMAPIPE_DMA_DRM_CAPS ";" GST_DMAPIPE_CAPS);
}

gchar *
gst_dmapipe_drm_format_to_string (guint32 fourcc, guint64 modifier)
{
  if (fourcc == 0 || modifier == DMAPIPE_MOD_INVALID)
    return NULL;
  if (modifier == DMAPIPE_MOD_LINEAR)
    return g_strdup_printf ("%" GST_FOURCC_FORMAT, GST_FOURCC_ARGS (fourcc));
  return g_strdup_printf ("%" GST_FOURCC_FORMAT ":0x%016" G_GINT64_MODIFIER
      "x", GST_FOURCC_ARGS (fourcc), modifier);
}

static gboolean
refuse (const gchar ** why, const gchar * reason)
{
  if (why)
    *why = reason;
  return FALSE;
}

gboolean
gst_dmapipe_drm_format_from_string (const gchar * str, guint32 * fourcc,
    guint64 * modifier, const gchar ** why)
{
  const gchar *colon, *hex;
  guint64 mod = DMAPIPE_MOD_LINEAR;
  gsize len, i;

  if (!str || !*str)
    return refuse (why, "drm-format is empty");
  colon = strchr (str, ':');
  len = colon ? (gsize) (colon - str) : strlen (str);
  if (len != 4)
    return refuse (why, "drm-format's fourcc is not four characters");
  for (i = 0; i < 4; i++)
    if (!g_ascii_isprint (str[i]))
      return refuse (why, "drm-format's fourcc has an unprintable character");
  if (colon) {
    hex = colon + 1;
    if (hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X'))
      return refuse (why, "drm-format's modifier does not begin with 0x");
    hex += 2;
    len = strlen (hex);
    if (len == 0 || len > 16)
      return refuse (why, "drm-format's modifier is not 1 to 16 hex digits");
    mod = 0;
    for (i = 0; i < len; i++) {
      if (!g_ascii_isxdigit (hex[i]))
        return refuse (why, "drm-format's modifier is not 1 to 16 hex digits");
      mod = (mod << 4) | (guint64) g_ascii_xdigit_value (hex[i]);
    }
    /* GStreamer writes linear as the fourcc alone and refuses ":0x0" */
    if (mod == DMAPIPE_MOD_LINEAR)
      return refuse (why, "drm-format names the linear modifier, which is "
          "written as the fourcc alone");
    if (mod == DMAPIPE_MOD_INVALID)
      return refuse (why, "drm-format's modifier is DRM_FORMAT_MOD_INVALID");
  }
  *fourcc = GST_MAKE_FOURCC (str[0], str[1], str[2], str[3]);
  *modifier = mod;
  return TRUE;
}

gboolean
gst_dmapipe_video_info_from_caps (GstVideoInfo * info, guint64 * modifier,
    const GstCaps * caps)
{
  const GstStructure *s;
  GstStructure *ps;
  GstVideoFormat vformat;
  const gchar *drm;
  GstCaps *plain;
  guint32 fourcc;
  guint64 mod = DMAPIPE_MOD_LINEAR;
  gboolean ok;

  if (!gst_caps_is_fixed (caps))
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  if (g_strcmp0 (gst_structure_get_string (s, "format"),
          GST_DMAPIPE_DMA_DRM_FORMAT) != 0) {
    ok = gst_video_info_from_caps (info, caps);
  } else {
    /* DMA_DRM describes dma-bufs only (GStreamer 1.24's rule) */
    if (!gst_caps_features_contains (gst_caps_get_features (caps, 0),
            GST_CAPS_FEATURE_MEMORY_DMABUF))
      return FALSE;
    drm = gst_structure_get_string (s, "drm-format");
    if (!drm || !gst_dmapipe_drm_format_from_string (drm, &fourcc, &mod, NULL))
      return FALSE;
    vformat = gst_dmapipe_format_from_drm (fourcc);
    if (vformat == GST_VIDEO_FORMAT_UNKNOWN)
      return FALSE;
    /* a 1.22 GstVideoInfo knows no DMA_DRM: read the planes of the
     * fourcc's own format */
    plain = gst_caps_copy (caps);
    ps = gst_caps_get_structure (plain, 0);
    gst_structure_set (ps, "format", G_TYPE_STRING,
        gst_video_format_to_string (vformat), NULL);
    gst_structure_remove_field (ps, "drm-format");
    ok = gst_video_info_from_caps (info, plain);
    gst_caps_unref (plain);
  }
  if (ok && modifier)
    *modifier = mod;
  return ok;
}

GstCaps *
gst_dmapipe_caps_from_format (const struct dmapipe_format *format,
    const struct dmapipe_format_info *fi, gint fps_n, gint fps_d,
    GstDmapipeCapsForm form)
{
  GstVideoFormat vformat = gst_dmapipe_format_from_drm (format->fourcc);
  struct dmapipe_format geometry = *format;
  GstVideoInfo info;
  GstCaps *caps;

  /* only drm-format carries a modifier; the planes are the fourcc's */
  if (form == GST_DMAPIPE_CAPS_DMA_DRM)
    geometry.modifier = DMAPIPE_MOD_LINEAR;
  if (!gst_dmapipe_video_info_from_format (&geometry, &info))
    return NULL;
  caps = gst_caps_new_simple ("video/x-raw",
      "format", G_TYPE_STRING, gst_video_format_to_string (vformat),
      "width", G_TYPE_INT, (gint) format->width,
      "height", G_TYPE_INT, (gint) format->height,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  if (fi)
    caps_set_format_info (caps, fi);
  if (fps_n <= 0 && fi && fi->fps_num && fi->fps_num <= G_MAXINT
      && fi->fps_den <= G_MAXINT) {
    fps_n = (gint) fi->fps_num;
    fps_d = (gint) fi->fps_den;
  }
  if (fps_n > 0)
    gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, fps_n, fps_d,
        NULL);
  else
    gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION_RANGE, 0, 1,
        G_MAXINT, 1, NULL);
  if (form == GST_DMAPIPE_CAPS_DMA_DRM) {
    /* a producer that names no modifier (INVALID) draws linear frames,
     * as the 1.22 form assumes too */
    gchar *drm = gst_dmapipe_drm_format_to_string (format->fourcc,
        format->modifier == DMAPIPE_MOD_INVALID ? DMAPIPE_MOD_LINEAR :
        format->modifier);

    gst_caps_set_simple (caps, "format", G_TYPE_STRING,
        GST_DMAPIPE_DMA_DRM_FORMAT, "drm-format", G_TYPE_STRING, drm, NULL);
    g_free (drm);
  }
  if (form != GST_DMAPIPE_CAPS_SYSTEM)
    gst_caps_set_features (caps, 0,
        gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_DMABUF, NULL));
  return caps;
}

gboolean
gst_dmapipe_layout_is_default (const struct dmapipe_layout *layout,
    const GstVideoInfo * info)
{
  guint i;

  if (layout->n_objects != 1
      || layout->n_planes != GST_VIDEO_INFO_N_PLANES (info))
    return FALSE;
  for (i = 0; i < layout->n_planes; i++)
    if (layout->planes[i].offset != GST_VIDEO_INFO_PLANE_OFFSET (info, i)
        || layout->planes[i].stride !=
        (guint32) GST_VIDEO_INFO_PLANE_STRIDE (info, i))
      return FALSE;
  return TRUE;
}

const gchar *
gst_dmapipe_fourcc_name (guint32 fourcc, gchar buf[16])
{
  return dmapipe_fourcc_to_string (fourcc, buf, 16);
}
