/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pixel formats and layouts.
 *
 * dmapipe_layout_check() is the security boundary for layouts received
 * from another process: nothing is mapped or handed to a device before the
 * layout passed it. All arithmetic on received values is done in 64 bits
 * with explicit overflow checks.
 *
 * Which layouts get the full geometry check:
 *  - a fourcc this file knows, with DRM_FORMAT_MOD_LINEAR or
 *    DRM_FORMAT_MOD_INVALID: plane count, strides and every plane's
 *    offset + stride * rows against its object. INVALID ("implicit
 *    modifier") is checked as linear: every implicit-modifier producer we
 *    take frames from (V4L2, GStreamer 1.22 memory:DMABuf) is linear, and a
 *    layout that could not even hold a linear image is refused.
 *  - any other modifier (tiled, compressed) or an unknown fourcc: the
 *    geometry belongs to the driver, so only the counts, the object indices
 *    and "offset inside its object" are checked. Such buffers are passed to
 *    devices, never read by the CPU through dmapipe (copy_pixels and the
 *    pattern code refuse them).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <linux/videodev2.h>

#if __has_include(<drm/drm_fourcc.h>)
#include <drm/drm_fourcc.h>
#elif __has_include(<libdrm/drm_fourcc.h>)
#include <libdrm/drm_fourcc.h>
#elif __has_include(<drm_fourcc.h>)
#include <drm_fourcc.h>
#endif

#include "private.h"

/*
 * Neither the kernel uapi header nor libdrm's is installed: the codes are
 * ABI (four ASCII characters, little-endian), so spell out the ones we use.
 */
#ifndef fourcc_code
#define fourcc_code(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#endif
#ifndef DRM_FORMAT_R8
#define DRM_FORMAT_R8 fourcc_code('R', '8', ' ', ' ')
#define DRM_FORMAT_R16 fourcc_code('R', '1', '6', ' ')
#define DRM_FORMAT_RGB565 fourcc_code('R', 'G', '1', '6')
#define DRM_FORMAT_BGR565 fourcc_code('B', 'G', '1', '6')
#define DRM_FORMAT_RGB888 fourcc_code('R', 'G', '2', '4')
#define DRM_FORMAT_BGR888 fourcc_code('B', 'G', '2', '4')
#define DRM_FORMAT_XRGB8888 fourcc_code('X', 'R', '2', '4')
#define DRM_FORMAT_XBGR8888 fourcc_code('X', 'B', '2', '4')
#define DRM_FORMAT_RGBX8888 fourcc_code('R', 'X', '2', '4')
#define DRM_FORMAT_BGRX8888 fourcc_code('B', 'X', '2', '4')
#define DRM_FORMAT_ARGB8888 fourcc_code('A', 'R', '2', '4')
#define DRM_FORMAT_ABGR8888 fourcc_code('A', 'B', '2', '4')
#define DRM_FORMAT_RGBA8888 fourcc_code('R', 'A', '2', '4')
#define DRM_FORMAT_BGRA8888 fourcc_code('B', 'A', '2', '4')
#define DRM_FORMAT_XRGB2101010 fourcc_code('X', 'R', '3', '0')
#define DRM_FORMAT_XBGR2101010 fourcc_code('X', 'B', '3', '0')
#define DRM_FORMAT_ARGB2101010 fourcc_code('A', 'R', '3', '0')
#define DRM_FORMAT_ABGR2101010 fourcc_code('A', 'B', '3', '0')
#define DRM_FORMAT_YUYV fourcc_code('Y', 'U', 'Y', 'V')
#define DRM_FORMAT_YVYU fourcc_code('Y', 'V', 'Y', 'U')
#define DRM_FORMAT_UYVY fourcc_code('U', 'Y', 'V', 'Y')
#define DRM_FORMAT_VYUY fourcc_code('V', 'Y', 'U', 'Y')
#define DRM_FORMAT_NV12 fourcc_code('N', 'V', '1', '2')
#define DRM_FORMAT_NV21 fourcc_code('N', 'V', '2', '1')
#define DRM_FORMAT_NV16 fourcc_code('N', 'V', '1', '6')
#define DRM_FORMAT_NV61 fourcc_code('N', 'V', '6', '1')
#define DRM_FORMAT_NV24 fourcc_code('N', 'V', '2', '4')
#define DRM_FORMAT_NV42 fourcc_code('N', 'V', '4', '2')
#define DRM_FORMAT_P010 fourcc_code('P', '0', '1', '0')
#define DRM_FORMAT_P012 fourcc_code('P', '0', '1', '2')
#define DRM_FORMAT_P016 fourcc_code('P', '0', '1', '6')
#define DRM_FORMAT_YUV420 fourcc_code('Y', 'U', '1', '2')
#define DRM_FORMAT_YVU420 fourcc_code('Y', 'V', '1', '2')
#define DRM_FORMAT_YUV422 fourcc_code('Y', 'U', '1', '6')
#define DRM_FORMAT_YVU422 fourcc_code('Y', 'V', '1', '6')
#define DRM_FORMAT_YUV444 fourcc_code('Y', 'U', '2', '4')
#define DRM_FORMAT_YVU444 fourcc_code('Y', 'V', '2', '4')
#endif

_Static_assert(DMAPIPE_MOD_LINEAR == 0, "DRM_FORMAT_MOD_LINEAR is 0");

/*
 * Plane geometry: a row of plane p holds ceil(w_p / block_w) blocks of
 * bpb[p] bytes, where w_p is the width, divided (rounding up) by hsub for
 * the chroma planes p >= 1; the plane has height (or ceil(height / vsub))
 * rows. block_w is 2 for packed 4:2:2 (YUYV: 4 bytes per 2 pixels).
 */
struct format_info {
	uint32_t fourcc;
	const char *name;
	/*
	 * GStreamer's name, which says the bytes in memory where DRM says a
	 * little-endian word (GStreamer BGRx, bytes B G R x, is DRM XRGB8888);
	 * the same table as plugins/gstdmapipeformat.c. NULL: none.
	 */
	const char *gst_name;
	uint8_t n_planes;
	uint8_t block_w;
	uint8_t hsub;
	uint8_t vsub;
	uint8_t bpb[DMAPIPE_MAX_PLANES];
};

#define RGB(code, gst, bytes) { DRM_FORMAT_##code, #code, gst, 1, 1, 1, 1, { bytes } }

static const struct format_info formats[] = {
	/* semi-planar YUV: one luma plane, one interleaved chroma plane */
	{ DRM_FORMAT_NV12, "NV12", "NV12", 2, 1, 2, 2, { 1, 2 } },
	{ DRM_FORMAT_NV21, "NV21", "NV21", 2, 1, 2, 2, { 1, 2 } },
	{ DRM_FORMAT_NV16, "NV16", "NV16", 2, 1, 2, 1, { 1, 2 } },
	{ DRM_FORMAT_NV61, "NV61", "NV61", 2, 1, 2, 1, { 1, 2 } },
	{ DRM_FORMAT_NV24, "NV24", "NV24", 2, 1, 1, 1, { 1, 2 } },
	{ DRM_FORMAT_NV42, "NV42", NULL, 2, 1, 1, 1, { 1, 2 } },
	{ DRM_FORMAT_P010, "P010", "P010_10LE", 2, 1, 2, 2, { 2, 4 } },
	{ DRM_FORMAT_P012, "P012", "P012_LE", 2, 1, 2, 2, { 2, 4 } },
	{ DRM_FORMAT_P016, "P016", "P016_LE", 2, 1, 2, 2, { 2, 4 } },
	/* planar YUV */
	{ DRM_FORMAT_YUV420, "YUV420", "I420", 3, 1, 2, 2, { 1, 1, 1 } },
	{ DRM_FORMAT_YVU420, "YVU420", "YV12", 3, 1, 2, 2, { 1, 1, 1 } },
	{ DRM_FORMAT_YUV422, "YUV422", "Y42B", 3, 1, 2, 1, { 1, 1, 1 } },
	{ DRM_FORMAT_YVU422, "YVU422", NULL, 3, 1, 2, 1, { 1, 1, 1 } },
	{ DRM_FORMAT_YUV444, "YUV444", "Y444", 3, 1, 1, 1, { 1, 1, 1 } },
	{ DRM_FORMAT_YVU444, "YVU444", NULL, 3, 1, 1, 1, { 1, 1, 1 } },
	/* packed YUV 4:2:2 */
	{ DRM_FORMAT_YUYV, "YUYV", "YUY2", 1, 2, 1, 1, { 4 } },
	{ DRM_FORMAT_YVYU, "YVYU", "YVYU", 1, 2, 1, 1, { 4 } },
	{ DRM_FORMAT_UYVY, "UYVY", "UYVY", 1, 2, 1, 1, { 4 } },
	{ DRM_FORMAT_VYUY, "VYUY", "VYUY", 1, 2, 1, 1, { 4 } },
	/* RGB and single channel */
	RGB(XRGB8888, "BGRx", 4),
	RGB(ARGB8888, "BGRA", 4),
	RGB(XBGR8888, "RGBx", 4),
	RGB(ABGR8888, "RGBA", 4),
	RGB(RGBX8888, "xBGR", 4),
	RGB(RGBA8888, "ABGR", 4),
	RGB(BGRX8888, "xRGB", 4),
	RGB(BGRA8888, "ARGB", 4),
	RGB(XRGB2101010, NULL, 4),
	RGB(ARGB2101010, "BGR10A2_LE", 4),
	RGB(XBGR2101010, NULL, 4),
	RGB(ABGR2101010, "RGB10A2_LE", 4),
	RGB(RGB888, "BGR", 3),
	RGB(BGR888, "RGB", 3),
	/* 16-bit words: GStreamer's are host order, little-endian where we build */
	RGB(RGB565, "RGB16", 2),
	RGB(BGR565, "BGR16", 2),
	RGB(R8, "GRAY8", 1),
	RGB(R16, "GRAY16_LE", 2),
};

/*
 * Other names people use for the same formats (FFmpeg, older tools), beside
 * the DRM, V4L2 and GStreamer names the tables give.
 */
static const struct {
	const char *name;
	uint32_t fourcc;
} aliases[] = {
	{ "IYUV", DRM_FORMAT_YUV420 },	  { "YUV422P", DRM_FORMAT_YUV422 },
	{ "YUV444P", DRM_FORMAT_YUV444 }, { "GRAY", DRM_FORMAT_R8 },
	{ "Y8", DRM_FORMAT_R8 },	  { "GRAY16", DRM_FORMAT_R16 },
};

/*
 * V4L2 pixel formats and the DRM fourcc of the same memory layout. The
 * "M" variants keep each plane in its own buffer (n_objects > 1); the plain
 * ones put all planes in one buffer. V4L2 names RGB by component order in
 * memory, DRM by a little-endian 32-bit word, so the letters differ.
 */
static const struct {
	uint32_t v4l2;
	uint32_t drm;
	uint8_t n_objects;
} v4l2_formats[] = {
	{ V4L2_PIX_FMT_NV12, DRM_FORMAT_NV12, 1 },
	{ V4L2_PIX_FMT_NV21, DRM_FORMAT_NV21, 1 },
	{ V4L2_PIX_FMT_NV16, DRM_FORMAT_NV16, 1 },
	{ V4L2_PIX_FMT_NV61, DRM_FORMAT_NV61, 1 },
	{ V4L2_PIX_FMT_NV24, DRM_FORMAT_NV24, 1 },
	{ V4L2_PIX_FMT_NV42, DRM_FORMAT_NV42, 1 },
	{ V4L2_PIX_FMT_NV12M, DRM_FORMAT_NV12, 2 },
	{ V4L2_PIX_FMT_NV21M, DRM_FORMAT_NV21, 2 },
	{ V4L2_PIX_FMT_NV16M, DRM_FORMAT_NV16, 2 },
	{ V4L2_PIX_FMT_NV61M, DRM_FORMAT_NV61, 2 },
	{ V4L2_PIX_FMT_YUV420, DRM_FORMAT_YUV420, 1 },
	{ V4L2_PIX_FMT_YVU420, DRM_FORMAT_YVU420, 1 },
	{ V4L2_PIX_FMT_YUV422P, DRM_FORMAT_YUV422, 1 },
	{ V4L2_PIX_FMT_YUV420M, DRM_FORMAT_YUV420, 3 },
	{ V4L2_PIX_FMT_YVU420M, DRM_FORMAT_YVU420, 3 },
	{ V4L2_PIX_FMT_YUV422M, DRM_FORMAT_YUV422, 3 },
	{ V4L2_PIX_FMT_YVU422M, DRM_FORMAT_YVU422, 3 },
	{ V4L2_PIX_FMT_YUV444M, DRM_FORMAT_YUV444, 3 },
	{ V4L2_PIX_FMT_YVU444M, DRM_FORMAT_YVU444, 3 },
	{ V4L2_PIX_FMT_YUYV, DRM_FORMAT_YUYV, 1 },
	{ V4L2_PIX_FMT_YVYU, DRM_FORMAT_YVYU, 1 },
	{ V4L2_PIX_FMT_UYVY, DRM_FORMAT_UYVY, 1 },
	{ V4L2_PIX_FMT_VYUY, DRM_FORMAT_VYUY, 1 },
	{ V4L2_PIX_FMT_P010, DRM_FORMAT_P010, 1 },
	/* bytes B, G, R, X in memory */
	{ V4L2_PIX_FMT_XBGR32, DRM_FORMAT_XRGB8888, 1 },
	{ V4L2_PIX_FMT_ABGR32, DRM_FORMAT_ARGB8888, 1 },
	/* bytes R, G, B, X */
	{ V4L2_PIX_FMT_RGBX32, DRM_FORMAT_XBGR8888, 1 },
	{ V4L2_PIX_FMT_RGBA32, DRM_FORMAT_ABGR8888, 1 },
	/* bytes X, R, G, B */
	{ V4L2_PIX_FMT_XRGB32, DRM_FORMAT_BGRX8888, 1 },
	{ V4L2_PIX_FMT_ARGB32, DRM_FORMAT_BGRA8888, 1 },
	/* bytes X, B, G, R */
	{ V4L2_PIX_FMT_BGRX32, DRM_FORMAT_RGBX8888, 1 },
	{ V4L2_PIX_FMT_BGRA32, DRM_FORMAT_RGBA8888, 1 },
	/* bytes R, G, B */
	{ V4L2_PIX_FMT_RGB24, DRM_FORMAT_BGR888, 1 },
	/* bytes B, G, R */
	{ V4L2_PIX_FMT_BGR24, DRM_FORMAT_RGB888, 1 },
	{ V4L2_PIX_FMT_RGB565, DRM_FORMAT_RGB565, 1 },
	{ V4L2_PIX_FMT_GREY, DRM_FORMAT_R8, 1 },
	{ V4L2_PIX_FMT_Y16, DRM_FORMAT_R16, 1 },
};

DMAPIPE_EXPORT uint32_t dmapipe_fourcc_from_v4l2(uint32_t pixelformat, unsigned int *n_objects)
{
	for (size_t i = 0; i < ARRAY_SIZE(v4l2_formats); i++) {
		if (v4l2_formats[i].v4l2 == pixelformat) {
			if (n_objects)
				*n_objects = v4l2_formats[i].n_objects;
			return v4l2_formats[i].drm;
		}
	}
	return 0;
}

DMAPIPE_EXPORT uint32_t dmapipe_fourcc_to_v4l2(uint32_t fourcc, bool separate_objects)
{
	for (size_t i = 0; i < ARRAY_SIZE(v4l2_formats); i++)
		if (v4l2_formats[i].drm == fourcc &&
		    (v4l2_formats[i].n_objects > 1) == separate_objects)
			return v4l2_formats[i].v4l2;
	return 0;
}

static const struct format_info *find_format(uint32_t fourcc)
{
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	return NULL;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

static void plane_geometry(const struct format_info *info, uint32_t width, uint32_t height,
			   unsigned int plane, uint64_t *row_bytes, uint32_t *rows)
{
	uint64_t w = width, h = height;

	if (plane > 0) {
		w = div_round_up(w, info->hsub);
		h = div_round_up(h, info->vsub);
	}
	/* at most ceil(2^32 / 1) * 255: no overflow in 64 bits */
	*row_bytes = div_round_up(w, info->block_w) * info->bpb[plane];
	*rows = (uint32_t)h;
}

bool dmapipe_format_is_rgb(uint32_t fourcc)
{
	const struct format_info *info = find_format(fourcc);

	return info && info->n_planes == 1 && info->block_w == 1 && info->hsub == 1 &&
	       info->vsub == 1;
}

unsigned int dmapipe_format_plane_count(uint32_t fourcc)
{
	const struct format_info *info = find_format(fourcc);

	return info ? info->n_planes : 0;
}

int dmapipe_format_plane_geometry(uint32_t fourcc, uint32_t width, uint32_t height,
				  unsigned int plane, uint64_t *row_bytes, uint32_t *rows)
{
	const struct format_info *info = find_format(fourcc);

	if (!info || plane >= info->n_planes)
		return -EINVAL;
	plane_geometry(info, width, height, plane, row_bytes, rows);
	return 0;
}

static uint32_t code_of(const char *s)
{
	char c[4] = { ' ', ' ', ' ', ' ' };
	size_t len = strlen(s);

	if (len < 2 || len > 4)
		return 0;
	for (size_t i = 0; i < len; i++)
		c[i] = s[i];
	return fourcc_code(c[0], c[1], c[2], c[3]);
}

static bool code_equal_nocase(uint32_t a, uint32_t b)
{
	for (int i = 0; i < 4; i++) {
		unsigned char ca = (a >> (8 * i)) & 0xff, cb = (b >> (8 * i)) & 0xff;

		if (toupper(ca) != toupper(cb))
			return false;
	}
	return true;
}

/* One name that matched in name resolution, and where it comes from. */
struct name_match {
	uint32_t fourcc;
	const char *kind;   /* "DRM", "V4L2", "GStreamer", "alias" */
	char spelling[16];  /* as that namespace writes it */
};

struct name_matches {
	struct name_match m[8];
	unsigned int n;
};

static void add_match(struct name_matches *ms, uint32_t fourcc, const char *kind,
		      const char *spelling)
{
	for (unsigned int i = 0; i < ms->n; i++)
		if (ms->m[i].fourcc == fourcc && strcmp(ms->m[i].kind, kind) == 0)
			return;
	if (ms->n == ARRAY_SIZE(ms->m))
		return;
	ms->m[ms->n].fourcc = fourcc;
	ms->m[ms->n].kind = kind;
	dmapipe_strlcpy(ms->m[ms->n].spelling, spelling, sizeof(ms->m[ms->n].spelling));
	ms->n++;
}

static bool has_lower(const char *s)
{
	for (; *s; s++)
		if (islower((unsigned char)*s))
			return true;
	return false;
}

/* A V4L2 code as its four characters, trailing spaces dropped ("Y16"). */
static void code_to_text(uint32_t code, char buf[5])
{
	int n = 4;

	for (int i = 0; i < 4; i++)
		buf[i] = (char)((code >> (8 * i)) & 0xff);
	while (n > 1 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

/*
 * Every name @name stands for. DRM names and fourcc codes and V4L2 codes
 * are matched without case, as they always were; GStreamer's names only
 * with their case when it is mixed (BGRx and xRGB are different formats,
 * BGRX is neither), and without it when they are all capitals (I420).
 */
static void find_names(const char *name, struct name_matches *ms)
{
	uint32_t code = code_of(name);
	char text[5];

	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		const struct format_info *f = &formats[i];

		if (strcasecmp(name, f->name) == 0)
			add_match(ms, f->fourcc, "DRM", f->name);
		if (code && code_equal_nocase(code, f->fourcc)) {
			code_to_text(f->fourcc, text);
			add_match(ms, f->fourcc, "DRM", text);
		}
		if (f->gst_name && (has_lower(f->gst_name) ? strcmp(name, f->gst_name) :
				    strcasecmp(name, f->gst_name)) == 0)
			add_match(ms, f->fourcc, "GStreamer", f->gst_name);
	}
	if (code)
		for (size_t i = 0; i < ARRAY_SIZE(v4l2_formats); i++)
			if (code_equal_nocase(code, v4l2_formats[i].v4l2)) {
				code_to_text(v4l2_formats[i].v4l2, text);
				add_match(ms, v4l2_formats[i].drm, "V4L2", text);
			}
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (strcasecmp(name, aliases[i].name) == 0)
			add_match(ms, aliases[i].fourcc, "alias", aliases[i].name);
}

/* Appends printf output to @buf (of @len bytes, may be 0) at *@pos. */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

DMAPIPE_EXPORT int dmapipe_fourcc_from_name(const char *name, uint32_t *fourcc, char *why,
					    size_t why_len)
{
	struct name_matches ms = { .n = 0 };
	char drm[16];
	size_t pos = 0;
	bool agree = true, ambiguous = false;

	if (why && why_len)
		why[0] = '\0';
	if (!name || !fourcc)
		return -EINVAL;
	find_names(name, &ms);
	for (unsigned int i = 1; i < ms.n; i++)
		agree = agree && ms.m[i].fourcc == ms.m[0].fourcc;
	if (ms.n > 0 && agree) {
		*fourcc = ms.m[0].fourcc;
		return 0;
	}
	if (ms.n) {
		append(why, why_len, &pos, "'%s' is ambiguous:", name);
		for (unsigned int i = 0; i < ms.n; i++)
			append(why, why_len, &pos, "%s %s %s is DRM %s", i ? ";" : "",
			       ms.m[i].kind, ms.m[i].spelling,
			       dmapipe_fourcc_to_string(ms.m[i].fourcc, drm, sizeof(drm)));
		return -EINVAL;
	}
	/*
	 * Near misses: a GStreamer name in other capitals (BGRX: GStreamer's
	 * BGRx, or DRM's BGRX8888, which GStreamer calls xRGB?) is ambiguous;
	 * else the DRM names it begins are suggestions.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (formats[i].gst_name && strcasecmp(name, formats[i].gst_name) == 0)
			ambiguous = true;
	append(why, why_len, &pos, ambiguous ? "'%s' is ambiguous" : "unknown format '%s'", name);
	for (size_t i = 0, hints = 0; i < ARRAY_SIZE(formats); i++) {
		const struct format_info *f = &formats[i];
		bool gst = f->gst_name && strcasecmp(name, f->gst_name) == 0;
		bool prefix = strlen(name) >= 3 && strncasecmp(name, f->name, strlen(name)) == 0;

		if (!gst && !prefix)
			continue;
		append(why, why_len, &pos, "%s", hints++ ? ", " : ambiguous ? ": " : "; did you mean ");
		if (gst)
			append(why, why_len, &pos, "GStreamer's %s (DRM %s)", f->gst_name, f->name);
		else if (f->gst_name)
			append(why, why_len, &pos, "DRM %s (GStreamer's %s)", f->name, f->gst_name);
		else
			append(why, why_len, &pos, "DRM %s", f->name);
	}
	return ambiguous ? -EINVAL : -ENOENT;
}

DMAPIPE_EXPORT uint32_t dmapipe_fourcc_from_string(const char *name)
{
	uint32_t fourcc;

	return dmapipe_fourcc_from_name(name, &fourcc, NULL, 0) == 0 ? fourcc : 0;
}

DMAPIPE_EXPORT const char *dmapipe_fourcc_to_string(uint32_t fourcc, char *buf, size_t len)
{
	const struct format_info *info = find_format(fourcc);
	char c[5];
	int n = 4;

	if (!buf || len == 0)
		return buf;
	if (info) {
		dmapipe_strlcpy(buf, info->name, len);
		return buf;
	}
	for (int i = 0; i < 4; i++) {
		c[i] = (char)((fourcc >> (8 * i)) & 0xff);
		if (c[i] < 0x20 || c[i] > 0x7e) {
			snprintf(buf, len, "0x%08x", fourcc);
			return buf;
		}
	}
	while (n > 1 && c[n - 1] == ' ')
		n--;
	c[n] = '\0';
	dmapipe_strlcpy(buf, c, len);
	return buf;
}

DMAPIPE_EXPORT bool dmapipe_fourcc_is_supported(uint32_t fourcc)
{
	return find_format(fourcc) != NULL;
}

static struct dmapipe_format_desc descs[ARRAY_SIZE(formats)];
static pthread_once_t descs_once = PTHREAD_ONCE_INIT;

static uint32_t lcm_small(uint32_t a, uint32_t b)
{
	uint32_t m = a;

	while (m % b)
		m += a;
	return m;
}

/* The public descriptions, derived once from the tables above. */
static void descs_init(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		const struct format_info *f = &formats[i];
		struct dmapipe_format_desc *d = &descs[i];
		uint32_t bits = 0;

		d->fourcc = f->fourcc;
		d->name = f->name;
		d->gst_name = f->gst_name;
		d->v4l2 = dmapipe_fourcc_to_v4l2(f->fourcc, false);
		d->v4l2_mplane = dmapipe_fourcc_to_v4l2(f->fourcc, true);
		d->n_planes = f->n_planes;
		d->hsub = f->hsub;
		d->vsub = f->vsub;
		/* a block of block_w pixels and its share of the chroma planes */
		for (unsigned int p = 0; p < f->n_planes; p++)
			bits += 8u * f->bpb[p] / (p ? (uint32_t)f->hsub * f->vsub : 1);
		d->bits_per_pixel = bits / f->block_w;
		/* every plane a whole number of blocks and of chroma samples */
		d->width_multiple = lcm_small(f->hsub, f->block_w);
		d->height_multiple = f->vsub;
	}
}

DMAPIPE_EXPORT const struct dmapipe_format_desc *dmapipe_format_desc_get(unsigned int index)
{
	pthread_once(&descs_once, descs_init);
	return index < ARRAY_SIZE(descs) ? &descs[index] : NULL;
}

DMAPIPE_EXPORT const struct dmapipe_format_desc *dmapipe_format_desc_find(uint32_t fourcc)
{
	pthread_once(&descs_once, descs_init);
	for (size_t i = 0; i < ARRAY_SIZE(descs); i++)
		if (descs[i].fourcc == fourcc)
			return &descs[i];
	return NULL;
}

DMAPIPE_EXPORT int dmapipe_layout_init(struct dmapipe_layout *layout,
				       const struct dmapipe_format *format,
				       uint32_t stride_align)
{
	const struct format_info *info;
	uint64_t total = 0, align = stride_align ? stride_align : 64;

	if (!layout || !format)
		return -EINVAL;
	info = find_format(format->fourcc);
	if (!info || format->modifier != DMAPIPE_MOD_LINEAR)
		return -EINVAL;
	if (format->width == 0 || format->height == 0)
		return -EINVAL;
	if (align & (align - 1))
		return -EINVAL;

	memset(layout, 0, sizeof(*layout));
	layout->format = *format;
	layout->n_objects = 1;
	layout->n_planes = info->n_planes;
	for (unsigned int i = 0; i < DMAPIPE_MAX_OBJECTS; i++)
		layout->objects[i].fd = -1;

	for (unsigned int p = 0; p < info->n_planes; p++) {
		uint64_t row_bytes, stride, size;
		uint32_t rows;

		plane_geometry(info, format->width, format->height, p, &row_bytes, &rows);
		if (__builtin_add_overflow(row_bytes, align - 1, &stride))
			return -EOVERFLOW;
		stride &= ~(align - 1);
		if (stride > UINT32_MAX)
			return -EOVERFLOW;
		size = stride * rows; /* < 2^64: both factors < 2^32 */
		layout->planes[p].object = 0;
		layout->planes[p].stride = (uint32_t)stride;
		layout->planes[p].offset = total;
		if (__builtin_add_overflow(total, size, &total))
			return -EOVERFLOW;
	}
	if (__builtin_add_overflow(total, dmapipe_page_size() - 1, &total))
		return -EOVERFLOW;
	total &= ~(dmapipe_page_size() - 1);
	/* must stay mappable and usable as an off_t */
	if (total > (uint64_t)INT64_MAX || total > (uint64_t)SIZE_MAX)
		return -EOVERFLOW;
	layout->objects[0].size = total;
	return 0;
}

static bool has_cpu_geometry(const struct dmapipe_layout *layout)
{
	uint64_t mod = layout->format.modifier;

	return find_format(layout->format.fourcc) &&
	       (mod == DMAPIPE_MOD_LINEAR || mod == DMAPIPE_MOD_INVALID);
}

static int fail(const char **why, const char *text, int err)
{
	if (why)
		*why = text;
	return err;
}

DMAPIPE_EXPORT int dmapipe_layout_check(const struct dmapipe_layout *layout, const char **why)
{
	const struct format_info *info;
	uint32_t used = 0;

	if (why)
		*why = NULL;
	if (!layout)
		return fail(why, "no layout", -EINVAL);
	if (layout->n_objects == 0 || layout->n_objects > DMAPIPE_MAX_OBJECTS)
		return fail(why, "object count is 0 or above DMAPIPE_MAX_OBJECTS (4)", -EINVAL);
	if (layout->n_planes == 0 || layout->n_planes > DMAPIPE_MAX_PLANES)
		return fail(why, "plane count is 0 or above DMAPIPE_MAX_PLANES (4)", -EINVAL);
	if (layout->format.fourcc == 0)
		return fail(why, "fourcc is 0", -EINVAL);
	if (layout->format.width == 0 || layout->format.height == 0)
		return fail(why, "width or height is 0", -EINVAL);

	for (uint32_t i = 0; i < layout->n_objects; i++) {
		if (layout->objects[i].size == 0)
			return fail(why, "an object has size 0", -EINVAL);
		if (layout->objects[i].size > (uint64_t)INT64_MAX)
			return fail(why, "an object is larger than 2^63 bytes", -EOVERFLOW);
	}

	for (uint32_t p = 0; p < layout->n_planes; p++) {
		const struct dmapipe_plane *plane = &layout->planes[p];

		if (plane->object >= layout->n_objects)
			return fail(why, "a plane refers to an object index >= the object count",
				    -EINVAL);
		if (plane->offset >= layout->objects[plane->object].size)
			return fail(why, "a plane starts at or past the end of its object",
				    -EINVAL);
		used |= 1u << plane->object;
	}
	if (used != (1u << layout->n_objects) - 1)
		return fail(why, "an object is not used by any plane", -EINVAL);

	if (!has_cpu_geometry(layout))
		return 0; /* driver-defined geometry: see the top of this file */

	info = find_format(layout->format.fourcc);
	if (layout->n_planes != info->n_planes)
		return fail(why, "plane count does not match the format's", -EINVAL);

	for (uint32_t p = 0; p < layout->n_planes; p++) {
		const struct dmapipe_plane *plane = &layout->planes[p];
		uint64_t row_bytes, size, end;
		uint32_t rows;

		plane_geometry(info, layout->format.width, layout->format.height, p, &row_bytes,
			       &rows);
		if (plane->stride < row_bytes)
			return fail(why, "a stride is smaller than its plane's row of pixels",
				    -EINVAL);
		size = (uint64_t)plane->stride * rows; /* < 2^64: both factors < 2^32 */
		if (__builtin_add_overflow(plane->offset, size, &end))
			return fail(why, "plane offset + stride * rows overflows 64 bits",
				    -EOVERFLOW);
		if (end > layout->objects[plane->object].size)
			return fail(why, "a plane extends past the end of its object "
					 "(offset + stride * rows > object size)", -EINVAL);
	}
	return 0;
}

DMAPIPE_EXPORT uint64_t dmapipe_layout_plane_size(const struct dmapipe_layout *layout,
						  unsigned int plane)
{
	const struct format_info *info;
	uint64_t row_bytes;
	uint32_t rows;

	if (!layout || plane >= layout->n_planes || plane >= DMAPIPE_MAX_PLANES)
		return 0;
	info = find_format(layout->format.fourcc);
	if (!info || plane >= info->n_planes)
		return 0;
	plane_geometry(info, layout->format.width, layout->format.height, plane, &row_bytes,
		       &rows);
	return (uint64_t)layout->planes[plane].stride * rows;
}

DMAPIPE_EXPORT const char *dmapipe_mem_kind_to_string(enum dmapipe_mem_kind kind)
{
	switch (kind) {
	case DMAPIPE_MEM_NONE:
		return "none";
	case DMAPIPE_MEM_DMABUF:
		return "dma-buf";
	case DMAPIPE_MEM_MEMFD:
		return "memfd (not a dma-buf)";
	}
	return "unknown";
}
