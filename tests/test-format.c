/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Formats and layouts: fourcc names, the geometry table, dmapipe_layout_init
 * and -- the security boundary -- dmapipe_layout_check: every rule, and a
 * randomized comparison against an independent 128-bit reference. Also the
 * log handler, the version string and the copy counters.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <linux/videodev2.h>

#if __has_include(<drm/drm_fourcc.h>)
#include <drm/drm_fourcc.h>
#elif __has_include(<libdrm/drm_fourcc.h>)
#include <libdrm/drm_fourcc.h>
#else
#include <drm_fourcc.h>
#endif

#include "private.h"
#include "testlib.h"

static uint32_t fourcc(const char *name)
{
	uint32_t f = dmapipe_fourcc_from_string(name);

	check_msg(f != 0, "%s", name);
	return f;
}

static void test_names(void)
{
	char buf[16];

	check_int_eq(fourcc("NV12"), DRM_FORMAT_NV12);
	check_int_eq(fourcc("nv12"), DRM_FORMAT_NV12);
	check_int_eq(fourcc("XRGB8888"), DRM_FORMAT_XRGB8888);
	check_int_eq(fourcc("xrgb8888"), DRM_FORMAT_XRGB8888);
	check_int_eq(fourcc("XR24"), DRM_FORMAT_XRGB8888);
	check_int_eq(fourcc("xr24"), DRM_FORMAT_XRGB8888);
	check_int_eq(fourcc("AR24"), DRM_FORMAT_ARGB8888);
	check_int_eq(fourcc("XB24"), DRM_FORMAT_XBGR8888);
	check_int_eq(fourcc("ABGR8888"), DRM_FORMAT_ABGR8888);
	check_int_eq(fourcc("YUYV"), DRM_FORMAT_YUYV);
	check_int_eq(fourcc("YUY2"), DRM_FORMAT_YUYV);
	check_int_eq(fourcc("UYVY"), DRM_FORMAT_UYVY);
	check_int_eq(fourcc("I420"), DRM_FORMAT_YUV420);
	check_int_eq(fourcc("YU12"), DRM_FORMAT_YUV420);
	check_int_eq(fourcc("YUV420"), DRM_FORMAT_YUV420);
	check_int_eq(fourcc("YVU420"), DRM_FORMAT_YVU420);
	check_int_eq(fourcc("YV12"), DRM_FORMAT_YVU420);
	check_int_eq(fourcc("NV21"), DRM_FORMAT_NV21);
	check_int_eq(fourcc("NV16"), DRM_FORMAT_NV16);
	check_int_eq(fourcc("RGB888"), DRM_FORMAT_RGB888);
	check_int_eq(fourcc("BGR888"), DRM_FORMAT_BGR888);
	check_int_eq(fourcc("RG24"), DRM_FORMAT_RGB888);
	check_int_eq(fourcc("RGB565"), DRM_FORMAT_RGB565);
	check_int_eq(fourcc("RG16"), DRM_FORMAT_RGB565);
	check_int_eq(fourcc("GREY"), DRM_FORMAT_R8);
	check_int_eq(fourcc("R8"), DRM_FORMAT_R8);
	check_int_eq(fourcc("r8"), DRM_FORMAT_R8);
	check_int_eq(fourcc("P010"), DRM_FORMAT_P010);

	check_int_eq(dmapipe_fourcc_from_string(NULL), 0);
	check_int_eq(dmapipe_fourcc_from_string(""), 0);
	check_int_eq(dmapipe_fourcc_from_string("NV1"), 0);
	check_int_eq(dmapipe_fourcc_from_string("NV12 "), 0);
	check_int_eq(dmapipe_fourcc_from_string("FOO"), 0);
	check_int_eq(dmapipe_fourcc_from_string("XRGB88888"), 0);

	check(strcmp(dmapipe_fourcc_to_string(DRM_FORMAT_NV12, buf, sizeof(buf)), "NV12") == 0);
	check(strcmp(dmapipe_fourcc_to_string(DRM_FORMAT_YUV420, buf, sizeof(buf)), "YUV420") == 0);
	check(strcmp(dmapipe_fourcc_to_string(DRM_FORMAT_XRGB8888, buf, sizeof(buf)),
		     "XRGB8888") == 0);
	check(strcmp(dmapipe_fourcc_to_string(DRM_FORMAT_R8, buf, sizeof(buf)), "R8") == 0);
	check(strcmp(dmapipe_fourcc_to_string(fourcc_code('A', 'B', 'C', 'D'), buf, sizeof(buf)),
		     "ABCD") == 0);
	check(strcmp(dmapipe_fourcc_to_string(fourcc_code('Q', '8', ' ', ' '), buf, sizeof(buf)),
		     "Q8") == 0);
	check(strcmp(dmapipe_fourcc_to_string(0x01020304, buf, sizeof(buf)), "0x01020304") == 0);
	check(strcmp(dmapipe_fourcc_to_string(DRM_FORMAT_NV12 | DRM_FORMAT_BIG_ENDIAN, buf,
					      sizeof(buf)), "0xb231564e") == 0);
	/* a short buffer is truncated, never overrun */
	memset(buf, 'x', sizeof(buf));
	dmapipe_fourcc_to_string(DRM_FORMAT_XRGB8888, buf, 4);
	check(strcmp(buf, "XRG") == 0 && buf[4] == 'x');
	test_pass("names");
}

/* name resolves to @want through dmapipe_fourcc_from_name(), and from_string agrees */
static void check_name(const char *name, uint32_t want)
{
	char why[256];
	uint32_t f = 0;
	int ret = dmapipe_fourcc_from_name(name, &f, why, sizeof(why));

	check_msg(ret == 0 && f == want, "%s: %d %08x, want %08x (%s)", name, ret, f, want, why);
	check_int_eq(dmapipe_fourcc_from_string(name), want);
}

/* name is refused with @err, and the reason names every one of @hints */
static void check_refused(const char *name, int err, const char *const *hints)
{
	char why[256];
	uint32_t f = 0xdeadbeef;
	int ret = dmapipe_fourcc_from_name(name, &f, why, sizeof(why));

	check_msg(ret == err, "%s: %d, want %d (%s)", name, ret, err, why);
	check_msg(f == 0xdeadbeef, "%s: fourcc written on failure", name);
	check_int_eq(dmapipe_fourcc_from_string(name), 0);
	for (; hints && *hints; hints++)
		check_msg(strstr(why, *hints), "%s: '%s' not in: %s", name, *hints, why);
}

static void code_text(uint32_t code, char buf[5])
{
	int n = 4;

	memcpy(buf, &code, 4);
	while (n > 1 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

/* Every name of every format reads back as that format, in every namespace. */
static void test_names_everywhere(void)
{
	const struct dmapipe_format_desc *d;
	unsigned int n = 0;
	char text[5], lower[32];

	for (; (d = dmapipe_format_desc_get(n)); n++) {
		check_msg(dmapipe_fourcc_is_supported(d->fourcc), "%s", d->name);
		check(dmapipe_format_desc_find(d->fourcc) == d);
		check_name(d->name, d->fourcc);
		for (size_t i = 0; i <= strlen(d->name) && i < sizeof(lower); i++)
			lower[i] = (char)tolower((unsigned char)d->name[i]);
		check_name(lower, d->fourcc);
		code_text(d->fourcc, text);
		check_name(text, d->fourcc);
		if (d->gst_name)
			check_name(d->gst_name, d->fourcc);
		if (d->v4l2) {
			code_text(d->v4l2, text);
			check_name(text, d->fourcc);
			check_int_eq(dmapipe_fourcc_from_v4l2(d->v4l2, NULL), d->fourcc);
		}
		if (d->v4l2_mplane) {
			code_text(d->v4l2_mplane, text);
			check_name(text, d->fourcc);
		}
		check(d->n_planes >= 1 && d->n_planes <= DMAPIPE_MAX_PLANES);
		check(d->width_multiple >= 1 && d->height_multiple >= 1 && d->bits_per_pixel >= 8);
	}
	check(n >= 30);
	check(!dmapipe_format_desc_get(n));
	check(!dmapipe_format_desc_find(0));
	check(!dmapipe_format_desc_find(fourcc_code('N', 'V', '1', '5')));

	/* the names people bring from elsewhere */
	check_name("BGRx", DRM_FORMAT_XRGB8888);  /* GStreamer: bytes B G R x */
	check_name("xRGB", DRM_FORMAT_BGRX8888);
	check_name("RGBA", DRM_FORMAT_ABGR8888);
	check_name("RGB", DRM_FORMAT_BGR888);      /* GStreamer and V4L2: bytes R G B */
	check_name("RGB3", DRM_FORMAT_BGR888);     /* V4L2_PIX_FMT_RGB24 */
	check_name("BGR3", DRM_FORMAT_RGB888);
	check_name("YU12", DRM_FORMAT_YUV420);     /* V4L2 and DRM agree */
	check_name("YM12", DRM_FORMAT_YUV420);     /* V4L2_PIX_FMT_YUV420M */
	check_name("NM12", DRM_FORMAT_NV12);       /* V4L2_PIX_FMT_NV12M */
	check_name("I420", DRM_FORMAT_YUV420);
	check_name("i420", DRM_FORMAT_YUV420);
	check_name("GRAY8", DRM_FORMAT_R8);
	check_name("Y16", DRM_FORMAT_R16);
	check_name("P010_10LE", DRM_FORMAT_P010);
	check_name("XRGB8888", DRM_FORMAT_XRGB8888);
	check_name("XR24", DRM_FORMAT_XRGB8888);

	/* GStreamer's mixed case matters; in other capitals the name is ambiguous */
	check_refused("BGRX", -EINVAL, (const char *const[]){ "ambiguous", "BGRx", "XRGB8888",
							       "BGRX8888", NULL });
	check_refused("xrgb", -EINVAL, (const char *const[]){ "xRGB", "BGRX8888", "XRGB8888",
							       NULL });
	check_refused("NV1", -ENOENT, (const char *const[]){ "unknown", "NV12", "NV16", NULL });
	check_refused("FOO", -ENOENT, (const char *const[]){ "unknown format 'FOO'", NULL });
	check_refused("", -ENOENT, NULL);
	check_int_eq(dmapipe_fourcc_from_name(NULL, &(uint32_t){ 0 }, NULL, 0), -EINVAL);
	check_int_eq(dmapipe_fourcc_from_name("NV12", NULL, NULL, 0), -EINVAL);
	/* no reason buffer: the same answer, nothing written */
	check_int_eq(dmapipe_fourcc_from_name("BGRX", &(uint32_t){ 0 }, NULL, 0), -EINVAL);

	/* what a size must be a multiple of, and the bits a pixel takes */
	d = dmapipe_format_desc_find(DRM_FORMAT_NV12);
	check(d && d->hsub == 2 && d->vsub == 2 && d->n_planes == 2 && d->bits_per_pixel == 12);
	check(d->width_multiple == 2 && d->height_multiple == 2 && strcmp(d->gst_name, "NV12") == 0);
	check(d->v4l2 == V4L2_PIX_FMT_NV12 && d->v4l2_mplane == V4L2_PIX_FMT_NV12M);
	d = dmapipe_format_desc_find(DRM_FORMAT_YUYV);
	check(d && d->width_multiple == 2 && d->height_multiple == 1 && d->bits_per_pixel == 16);
	d = dmapipe_format_desc_find(DRM_FORMAT_NV16);
	check(d && d->width_multiple == 2 && d->height_multiple == 1 && d->bits_per_pixel == 16);
	d = dmapipe_format_desc_find(DRM_FORMAT_XRGB8888);
	check(d && d->width_multiple == 1 && d->bits_per_pixel == 32 && d->v4l2_mplane == 0);
	check(strcmp(d->gst_name, "BGRx") == 0 && d->v4l2 == V4L2_PIX_FMT_XBGR32);
	d = dmapipe_format_desc_find(DRM_FORMAT_P010);
	check(d && d->bits_per_pixel == 24);
	test_pass("names everywhere");
}

static void test_supported(void)
{
	static const char *const required[] = {
		"NV12", "NV21", "NV16", "YUV420", "YVU420", "YUYV", "UYVY", "XRGB8888",
		"ARGB8888", "XBGR8888", "ABGR8888", "RGB888", "BGR888", "RGB565", "R8", "P010",
	};
	char buf[16];

	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		uint32_t f = fourcc(required[i]);

		check_msg(dmapipe_fourcc_is_supported(f), "%s", required[i]);
		/* the printed name reads back as the same code */
		check_int_eq(dmapipe_fourcc_from_string(dmapipe_fourcc_to_string(f, buf,
										 sizeof(buf))), f);
	}
	check(!dmapipe_fourcc_is_supported(0));
	check(!dmapipe_fourcc_is_supported(fourcc_code('N', 'V', '1', '5')));
	test_pass("supported");
}

struct geom {
	const char *name;
	uint32_t w, h;
	unsigned int planes;
	uint64_t row[3];
	uint32_t rows[3];
};

static void test_geometry(void)
{
	static const struct geom cases[] = {
		{ "NV12", 1920, 1080, 2, { 1920, 1920 }, { 1080, 540 } },
		{ "NV12", 3, 3, 2, { 3, 4 }, { 3, 2 } },
		{ "NV21", 1, 1, 2, { 1, 2 }, { 1, 1 } },
		{ "NV16", 5, 3, 2, { 5, 6 }, { 3, 3 } },
		{ "YUV420", 641, 479, 3, { 641, 321, 321 }, { 479, 240, 240 } },
		{ "YVU420", 2, 2, 3, { 2, 1, 1 }, { 2, 1, 1 } },
		{ "YUYV", 641, 1, 1, { 1284 }, { 1 } },
		{ "UYVY", 2, 2, 1, { 4 }, { 2 } },
		{ "XRGB8888", 7, 3, 1, { 28 }, { 3 } },
		{ "RGB888", 7, 3, 1, { 21 }, { 3 } },
		{ "RGB565", 7, 3, 1, { 14 }, { 3 } },
		{ "R8", 7, 3, 1, { 7 }, { 3 } },
		{ "P010", 5, 5, 2, { 10, 12 }, { 5, 3 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct geom *c = &cases[i];
		uint32_t f = fourcc(c->name);
		uint64_t row;
		uint32_t rows;

		check_int_eq(dmapipe_format_plane_count(f), c->planes);
		for (unsigned int p = 0; p < c->planes; p++) {
			check_int_eq(dmapipe_format_plane_geometry(f, c->w, c->h, p, &row, &rows),
				     0);
			check_msg(row == c->row[p] && rows == c->rows[p],
				  "%s %ux%u plane %u: %" PRIu64 " x %u", c->name, c->w, c->h, p,
				  row, rows);
		}
		check_int_eq(dmapipe_format_plane_geometry(f, c->w, c->h, c->planes, &row, &rows),
			     -EINVAL);
	}
	check_int_eq(dmapipe_format_plane_count(0), 0);
	test_pass("geometry");
}

static void test_layout_init(void)
{
	struct dmapipe_format fmt = { .fourcc = DRM_FORMAT_NV12, .width = 1920, .height = 1080 };
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct dmapipe_layout l;
	const char *why;

	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	check_int_eq(l.n_objects, 1);
	check_int_eq(l.n_planes, 2);
	check_int_eq(l.objects[0].fd, -1);
	check_int_eq(l.objects[1].fd, -1);
	check_int_eq(l.planes[0].stride, 1920);
	check_int_eq(l.planes[0].offset, 0);
	check_int_eq(l.planes[1].stride, 1920);
	check_int_eq(l.planes[1].offset, 1920 * 1080);
	check_int_eq(l.objects[0].size, ALIGN_UP((uint64_t)1920 * 1080 * 3 / 2, page));
	check_int_eq(dmapipe_layout_plane_size(&l, 0), 1920 * 1080);
	check_int_eq(dmapipe_layout_plane_size(&l, 1), 1920 * 540);
	check_int_eq(dmapipe_layout_plane_size(&l, 2), 0);
	check_int_eq(dmapipe_layout_check(&l, &why), 0);

	/* odd sizes round up; strides aligned */
	fmt = (struct dmapipe_format){ .fourcc = DRM_FORMAT_YUV420, .width = 641, .height = 479 };
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	check_int_eq(l.n_planes, 3);
	check_int_eq(l.planes[0].stride, 704);
	check_int_eq(l.planes[1].stride, 384);
	check_int_eq(l.planes[2].stride, 384);
	check_int_eq(l.planes[1].offset, 704 * 479);
	check_int_eq(l.planes[2].offset, 704 * 479 + 384 * 240);
	check_int_eq(l.objects[0].size, ALIGN_UP((uint64_t)704 * 479 + 2 * 384 * 240, page));
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	check_int_eq(dmapipe_layout_init(&l, &fmt, 1), 0);
	check_int_eq(l.planes[0].stride, 641);
	check_int_eq(l.planes[1].stride, 321);
	check_int_eq(dmapipe_layout_init(&l, &fmt, 4096), 0);
	check_int_eq(l.planes[2].stride, 4096);

	fmt = (struct dmapipe_format){ .fourcc = DRM_FORMAT_YUYV, .width = 641, .height = 3 };
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	check_int_eq(l.planes[0].stride, 1344);

	/* refusals */
	fmt = (struct dmapipe_format){ .fourcc = DRM_FORMAT_NV12, .width = 64, .height = 64 };
	check_int_eq(dmapipe_layout_init(&l, &fmt, 3), -EINVAL);
	check_int_eq(dmapipe_layout_init(NULL, &fmt, 0), -EINVAL);
	check_int_eq(dmapipe_layout_init(&l, NULL, 0), -EINVAL);
	fmt.modifier = DMAPIPE_MOD_INVALID;
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EINVAL);
	fmt.modifier = I915_FORMAT_MOD_X_TILED;
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EINVAL);
	fmt.modifier = DMAPIPE_MOD_LINEAR;
	fmt.fourcc = fourcc_code('N', 'V', '1', '5');
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EINVAL);
	fmt.fourcc = DRM_FORMAT_NV12;
	fmt.width = 0;
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EINVAL);
	fmt.width = 64;
	fmt.height = 0;
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EINVAL);
	/* a row of 2^32 bytes does not fit a 32-bit stride */
	fmt = (struct dmapipe_format){ .fourcc = DRM_FORMAT_XRGB8888, .width = 1u << 30,
				       .height = 1 };
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EOVERFLOW);
	fmt.width = UINT32_MAX;
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), -EOVERFLOW);
	/* 2^32 - 64 rounded up to 64 still fits; a larger alignment does not */
	fmt = (struct dmapipe_format){ .fourcc = DRM_FORMAT_R8, .width = UINT32_MAX - 63,
				       .height = 1 };
	check_int_eq(dmapipe_layout_init(&l, &fmt, 64), 0);
	check_int_eq(dmapipe_layout_init(&l, &fmt, 128), -EOVERFLOW);
	/* huge but representable frames are laid out (not allocated) fine */
	fmt = (struct dmapipe_format){ .fourcc = DRM_FORMAT_ARGB8888, .width = 65536,
				       .height = 65536 };
	check_int_eq(dmapipe_layout_init(&l, &fmt, 0), 0);
	check_int_eq(l.objects[0].size, UINT64_C(1) << 34);
	test_pass("layout_init");
}

static struct dmapipe_layout nv12(uint32_t w, uint32_t h)
{
	struct dmapipe_format fmt = { .fourcc = DRM_FORMAT_NV12, .width = w, .height = h };
	struct dmapipe_layout l;

	check_int_eq(dmapipe_layout_init(&l, &fmt, 1), 0);
	return l;
}

#define expect_refused(layout, err, text)                                              \
	do {                                                                           \
		const char *why_ = NULL;                                               \
		int ret_ = dmapipe_layout_check(&(layout), &why_);                     \
		check_msg(ret_ == (err), "got %d (%s), wanted %d", ret_,               \
			  why_ ? why_ : "-", (err));                                   \
		check_msg(why_ && strstr(why_, (text)), "why: %s", why_ ? why_ : "NULL"); \
	} while (0)

static void test_layout_check(void)
{
	struct dmapipe_layout good = nv12(64, 48), l;
	const char *why = "unset";

	check_int_eq(dmapipe_layout_check(&good, &why), 0);
	check(why == NULL);
	check_int_eq(dmapipe_layout_check(&good, NULL), 0);
	check_int_eq(dmapipe_layout_check(NULL, &why), -EINVAL);

	l = good, l.n_objects = 0;
	expect_refused(l, -EINVAL, "object count");
	l = good, l.n_objects = 5;
	expect_refused(l, -EINVAL, "object count");
	l = good, l.n_planes = 0;
	expect_refused(l, -EINVAL, "plane count");
	l = good, l.n_planes = 5;
	expect_refused(l, -EINVAL, "plane count");
	l = good, l.format.fourcc = 0;
	expect_refused(l, -EINVAL, "fourcc");
	l = good, l.format.width = 0;
	expect_refused(l, -EINVAL, "width or height");
	l = good, l.format.height = 0;
	expect_refused(l, -EINVAL, "width or height");
	l = good, l.objects[0].size = 0;
	expect_refused(l, -EINVAL, "size 0");
	l = good, l.objects[0].size = UINT64_MAX;
	expect_refused(l, -EOVERFLOW, "2^63");
	l = good, l.planes[1].object = 1;
	expect_refused(l, -EINVAL, "object index");
	l = good, l.planes[1].object = UINT32_MAX;
	expect_refused(l, -EINVAL, "object index");
	l = good, l.planes[1].offset = l.objects[0].size;
	expect_refused(l, -EINVAL, "starts at or past the end");
	l = good, l.planes[1].offset = UINT64_MAX;
	expect_refused(l, -EINVAL, "starts at or past the end");
	l = good, l.n_objects = 2, l.objects[1].size = 4096;
	expect_refused(l, -EINVAL, "not used by any plane");
	l = good, l.n_planes = 1;
	expect_refused(l, -EINVAL, "plane count does not match");
	l = good, l.n_planes = 3, l.planes[2] = l.planes[1];
	expect_refused(l, -EINVAL, "plane count does not match");
	l = good, l.planes[0].stride = 63;
	expect_refused(l, -EINVAL, "stride is smaller");
	l = good, l.planes[1].stride = 0;
	expect_refused(l, -EINVAL, "stride is smaller");

	/* exactly fitting passes, one byte short fails: NV12 3x3 is 3*3 + 4*2 bytes */
	l = nv12(3, 3);
	l.objects[0].size = 17;
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	l.objects[0].size = 16;
	expect_refused(l, -EINVAL, "extends past the end of its object");
	l = good, l.planes[1].offset = l.objects[0].size - 64 * 24 + 1;
	expect_refused(l, -EINVAL, "extends past the end of its object");
	l = good, l.planes[1].stride = 1u << 20;
	expect_refused(l, -EINVAL, "extends past the end of its object");

	/* offset + stride * rows wrapping 64 bits */
	memset(&l, 0, sizeof(l));
	l.format = (struct dmapipe_format){ .fourcc = DRM_FORMAT_XRGB8888, .width = 1,
					    .height = UINT32_MAX };
	l.n_objects = 1;
	l.n_planes = 1;
	l.objects[0].size = (uint64_t)INT64_MAX;
	l.planes[0].stride = UINT32_MAX;
	l.planes[0].offset = (uint64_t)INT64_MAX - 1;
	expect_refused(l, -EOVERFLOW, "overflows");

	/* planes in separate objects */
	l = good;
	l.n_objects = 2;
	l.objects[1].size = 64 * 24;
	l.planes[1].object = 1;
	l.planes[1].offset = 0;
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	l.objects[1].size = 64 * 24 - 1;
	expect_refused(l, -EINVAL, "extends past the end");

	/* DRM_FORMAT_MOD_INVALID is checked as linear */
	l = good, l.format.modifier = DMAPIPE_MOD_INVALID;
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	l.planes[0].stride = 1;
	expect_refused(l, -EINVAL, "stride is smaller");

	/* other modifiers: driver geometry, only objects and offsets are checked */
	l = good, l.format.modifier = I915_FORMAT_MOD_Y_TILED;
	l.planes[0].stride = 1;
	l.n_planes = 4; /* e.g. aux planes */
	l.planes[2] = l.planes[3] = l.planes[1];
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	l.planes[3].offset = l.objects[0].size;
	expect_refused(l, -EINVAL, "starts at or past the end");
	l.planes[3].offset = 0;
	l.planes[3].object = 2;
	expect_refused(l, -EINVAL, "object index");

	/* unknown fourcc: the same */
	l = good, l.format.fourcc = fourcc_code('N', 'V', '1', '5');
	l.planes[1].stride = 1;
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	check_int_eq(dmapipe_layout_plane_size(&l, 0), 0);
	test_pass("layout_check");
}

/*
 * Random layouts, many of them hostile, against an independent reference
 * computed with 128-bit integers: the check must never accept a layout
 * whose planes do not fit, and must accept every one that does.
 */
static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t pick(uint64_t small_max)
{
	static const uint64_t edges[] = {
		0, 1, 2, 3, 63, 64, 4095, 4096, UINT32_MAX - 1, UINT32_MAX,
		(uint64_t)UINT32_MAX + 1, (uint64_t)INT64_MAX - 1, (uint64_t)INT64_MAX,
		(uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX,
	};

	switch (rng() % 4) {
	case 0:
		return edges[rng() % ARRAY_SIZE(edges)];
	case 1:
		return rng();
	default:
		return rng() % (small_max + 1);
	}
}

static bool reference_ok(const struct dmapipe_layout *l)
{
	static const uint32_t known[] = { DRM_FORMAT_NV12, DRM_FORMAT_YUV420, DRM_FORMAT_YUYV,
					  DRM_FORMAT_XRGB8888, DRM_FORMAT_P010 };
	bool used[DMAPIPE_MAX_OBJECTS] = { false };
	bool geometry = false;

	if (l->n_objects < 1 || l->n_objects > 4 || l->n_planes < 1 || l->n_planes > 4)
		return false;
	if (!l->format.fourcc || !l->format.width || !l->format.height)
		return false;
	for (uint32_t i = 0; i < l->n_objects; i++)
		if (l->objects[i].size == 0 || l->objects[i].size > (uint64_t)INT64_MAX)
			return false;
	for (uint32_t p = 0; p < l->n_planes; p++) {
		if (l->planes[p].object >= l->n_objects)
			return false;
		if (l->planes[p].offset >= l->objects[l->planes[p].object].size)
			return false;
		used[l->planes[p].object] = true;
	}
	for (uint32_t i = 0; i < l->n_objects; i++)
		if (!used[i])
			return false;
	for (size_t k = 0; k < ARRAY_SIZE(known); k++)
		geometry |= l->format.fourcc == known[k];
	if (!geometry || (l->format.modifier != 0 && l->format.modifier != DMAPIPE_MOD_INVALID))
		return true;
	if (l->n_planes != dmapipe_format_plane_count(l->format.fourcc))
		return false;
	for (uint32_t p = 0; p < l->n_planes; p++) {
		unsigned __int128 w = l->format.width, h = l->format.height, row, end;

		switch (l->format.fourcc) {
		case DRM_FORMAT_NV12:
			row = p ? (w + 1) / 2 * 2 : w;
			h = p ? (h + 1) / 2 : h;
			break;
		case DRM_FORMAT_YUV420:
			row = p ? (w + 1) / 2 : w;
			h = p ? (h + 1) / 2 : h;
			break;
		case DRM_FORMAT_YUYV:
			row = (w + 1) / 2 * 4;
			break;
		case DRM_FORMAT_P010:
			row = p ? (w + 1) / 2 * 4 : w * 2;
			h = p ? (h + 1) / 2 : h;
			break;
		default:
			row = w * 4;
			break;
		}
		if (l->planes[p].stride < row)
			return false;
		end = (unsigned __int128)l->planes[p].offset +
		      (unsigned __int128)l->planes[p].stride * h;
		if (end > l->objects[l->planes[p].object].size)
			return false;
	}
	return true;
}

static void test_layout_random(void)
{
	static const uint32_t fourccs[] = { DRM_FORMAT_NV12, DRM_FORMAT_YUV420, DRM_FORMAT_YUYV,
					    DRM_FORMAT_XRGB8888, DRM_FORMAT_P010, 0,
					    fourcc_code('N', 'V', '1', '5') };
	unsigned int accepted = 0, refused = 0;

	for (unsigned int iter = 0; iter < 300000; iter++) {
		struct dmapipe_layout l;
		const char *why;
		bool want;
		int ret;

		memset(&l, 0, sizeof(l));
		l.format.fourcc = fourccs[rng() % ARRAY_SIZE(fourccs)];
		l.format.width = (uint32_t)pick(64);
		l.format.height = (uint32_t)pick(64);
		l.format.modifier = rng() % 8 == 0 ? (rng() % 2 ? DMAPIPE_MOD_INVALID :
						      I915_FORMAT_MOD_X_TILED) : 0;
		l.n_objects = rng() % 8 == 0 ? (uint32_t)pick(8) : 1 + rng() % 2;
		l.n_planes = rng() % 8 == 0 ? (uint32_t)pick(8) :
					      dmapipe_format_plane_count(l.format.fourcc);
		for (int i = 0; i < DMAPIPE_MAX_OBJECTS; i++)
			l.objects[i].size = pick(64 * 64 * 4);
		for (int p = 0; p < DMAPIPE_MAX_PLANES; p++) {
			l.planes[p].object = rng() % 4 == 0 ? (uint32_t)pick(4) : 0;
			l.planes[p].stride = (uint32_t)pick(256);
			l.planes[p].offset = pick(64 * 64 * 2);
		}
		/* keep a fair share plausible so both outcomes are exercised */
		if (rng() % 2 && l.format.fourcc && dmapipe_fourcc_is_supported(l.format.fourcc) &&
		    l.format.width && l.format.height && l.format.width < 100000 &&
		    l.format.height < 100000) {
			struct dmapipe_format f = l.format;

			f.modifier = 0;
			check_int_eq(dmapipe_layout_init(&l, &f, 1u << (rng() % 8)), 0);
			l.format.modifier = rng() % 8 == 0 ? DMAPIPE_MOD_INVALID : 0;
			if (rng() % 2)
				l.objects[0].size -= rng() % 8192 % l.objects[0].size;
			if (rng() % 4 == 0)
				l.planes[rng() % l.n_planes].stride -= (uint32_t)(rng() % 3);
		}
		want = reference_ok(&l);
		ret = dmapipe_layout_check(&l, &why);
		check_msg((ret == 0) == want,
			  "iteration %u: check says %d (%s), reference says %s", iter, ret,
			  ret ? why : "ok", want ? "ok" : "refuse");
		if (ret == 0) {
			accepted++;
		} else {
			refused++;
			check(why != NULL && *why);
		}
	}
	check_msg(accepted > 1000 && refused > 1000, "accepted %u refused %u", accepted, refused);
	printf("random layouts: %u accepted, %u refused\n", accepted, refused);
	test_pass("layout_random");
}

static void test_misc(void)
{
	struct dmapipe_copy_stats stats;

	check(strcmp(dmapipe_mem_kind_to_string(DMAPIPE_MEM_DMABUF), "dma-buf") == 0);
	check(strcmp(dmapipe_mem_kind_to_string(DMAPIPE_MEM_MEMFD), "memfd (not a dma-buf)") == 0);
	check(strcmp(dmapipe_mem_kind_to_string(DMAPIPE_MEM_NONE), "none") == 0);
	check(strcmp(dmapipe_mem_kind_to_string((enum dmapipe_mem_kind)42), "unknown") == 0);
	check(strcmp(dmapipe_version(), "0.1.0") == 0);

	dmapipe_get_copy_stats(&stats);
	check_int_eq(stats.bytes, 0);
	check_int_eq(stats.frames, 0);
	dmapipe_count_copy(1000);
	dmapipe_count_copy(24);
	dmapipe_get_copy_stats(&stats);
	check_int_eq(stats.bytes, 1024);
	check_int_eq(stats.frames, 2);
	dmapipe_get_copy_stats(NULL);
	test_pass("misc");
}

static unsigned int log_calls;
static enum dmapipe_log_priority log_last_priority;
static char log_last[256];

__attribute__((format(printf, 2, 0)))
static void capture(enum dmapipe_log_priority priority, const char *fmt, va_list args, void *data)
{
	check(data == &log_calls);
	log_calls++;
	log_last_priority = priority;
	vsnprintf(log_last, sizeof(log_last), fmt, args);
}

static void test_log(void)
{
	char buf[16];
	uint64_t t0 = dmapipe_now_ns(), t1;

	/* tests/meson.build sets DMAPIPE_DEBUG=warning */
	if (getenv("DMAPIPE_DEBUG") && strcmp(getenv("DMAPIPE_DEBUG"), "warning") == 0)
		check_int_eq(dmapipe_log_get_priority(), DMAPIPE_LOG_WARNING);

	dmapipe_log_set_handler(capture, &log_calls);
	dmapipe_log_set_priority(DMAPIPE_LOG_INFO);
	check_int_eq(dmapipe_log_get_priority(), DMAPIPE_LOG_INFO);
	dmapipe_log_internal(DMAPIPE_LOG_INFO, "hello %d", 42);
	check_int_eq(log_calls, 1);
	check_int_eq(log_last_priority, DMAPIPE_LOG_INFO);
	check(strcmp(log_last, "hello 42") == 0);
	dmapipe_log_internal(DMAPIPE_LOG_DEBUG, "filtered");
	check_int_eq(log_calls, 1);

	/* the library reports through it, e.g. an unknown allocator name */
	check(dmapipe_allocator_new("no-such-allocator") == NULL);
	check_int_eq(errno, ENOENT);
	check_int_eq(log_calls, 2);
	check_int_eq(log_last_priority, DMAPIPE_LOG_ERROR);
	check(strstr(log_last, "unknown allocator") != NULL);

	dmapipe_log_set_priority((enum dmapipe_log_priority)0);
	check_int_eq(dmapipe_log_get_priority(), DMAPIPE_LOG_ERROR);
	dmapipe_log_set_priority((enum dmapipe_log_priority)99);
	check_int_eq(dmapipe_log_get_priority(), DMAPIPE_LOG_DEBUG);

	/* back to the default handler: must not crash on long or newline-ended lines */
	dmapipe_log_set_handler(NULL, NULL);
	dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
	memset(log_last, 'x', sizeof(log_last) - 1);
	log_last[sizeof(log_last) - 1] = '\0';
	dmapipe_log_internal(DMAPIPE_LOG_ERROR, "(test) default handler, long line: %s%s%s%s%s",
			     log_last, log_last, log_last, log_last, log_last);
	dmapipe_log_internal(DMAPIPE_LOG_ERROR, "(test) default handler, newline-ended\n");
	dmapipe_log_set_priority(DMAPIPE_LOG_WARNING);
	check_int_eq(log_calls, 2);

	/* small helpers */
	dmapipe_strlcpy(buf, "0123456789abcdefXYZ", sizeof(buf));
	check(strcmp(buf, "0123456789abcde") == 0);
	dmapipe_strlcpy(buf, "ab", sizeof(buf));
	check(strcmp(buf, "ab") == 0);
	errno = 1234;
	dmapipe_close(-1);
	check_int_eq(errno, 1234);
	t1 = dmapipe_now_ns();
	check(t1 >= t0 && t1 - t0 < UINT64_C(10000000000));
	check(strcmp(dmapipe_fourcc_to_string(DRM_FORMAT_NV12, buf, sizeof(buf)), "NV12") == 0);
	test_pass("log");
}

/* Strict mode: $DMAPIPE_STRICT is read once, at the first question. */
static void test_strict(void)
{
	check(setenv("DMAPIPE_STRICT", "1", 1) == 0);
	check(dmapipe_get_strict());
	check(unsetenv("DMAPIPE_STRICT") == 0);
	check(dmapipe_get_strict());
	check_int_eq(dmapipe_copy_allowed("test"), -EPERM);
	dmapipe_set_strict(false);
	check(!dmapipe_get_strict());
	check_int_eq(dmapipe_copy_allowed("test"), 0);
	dmapipe_set_strict(true);
	check(dmapipe_get_strict());
	dmapipe_set_strict(false);
	test_pass("strict");
}

static void test_v4l2(void)
{
	unsigned int n = 99;

	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_NV12, &n), DRM_FORMAT_NV12);
	check_int_eq(n, 1);
	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_NV12M, &n), DRM_FORMAT_NV12);
	check_int_eq(n, 2);
	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_YUV420M, &n), DRM_FORMAT_YUV420);
	check_int_eq(n, 3);
	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_YUYV, NULL), DRM_FORMAT_YUYV);
	/* memory order B, G, R, X is DRM's little-endian XRGB8888 */
	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_XBGR32, NULL), DRM_FORMAT_XRGB8888);
	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_RGB24, NULL), DRM_FORMAT_BGR888);
	/* compressed and unknown codes have no DRM equivalent; n untouched */
	n = 99;
	check_int_eq(dmapipe_fourcc_from_v4l2(V4L2_PIX_FMT_MJPEG, &n), 0);
	check_int_eq(n, 99);
	check_int_eq(dmapipe_fourcc_from_v4l2(0, NULL), 0);

	check_int_eq(dmapipe_fourcc_to_v4l2(DRM_FORMAT_NV12, false), V4L2_PIX_FMT_NV12);
	check_int_eq(dmapipe_fourcc_to_v4l2(DRM_FORMAT_NV12, true), V4L2_PIX_FMT_NV12M);
	check_int_eq(dmapipe_fourcc_to_v4l2(DRM_FORMAT_XRGB8888, false), V4L2_PIX_FMT_XBGR32);
	check_int_eq(dmapipe_fourcc_to_v4l2(DRM_FORMAT_XRGB8888, true), 0);
	check_int_eq(dmapipe_fourcc_to_v4l2(0, false), 0);
	/* every mapped format is one the library knows the geometry of */
	for (uint32_t drm = 0, i = 0; i < 4; i++) {
		static const uint32_t codes[] = { V4L2_PIX_FMT_NV16M, V4L2_PIX_FMT_P010,
						  V4L2_PIX_FMT_Y16, V4L2_PIX_FMT_BGRA32 };

		drm = dmapipe_fourcc_from_v4l2(codes[i], NULL);
		check(drm != 0);
		check(dmapipe_fourcc_is_supported(drm));
	}
	test_pass("v4l2");
}

static void test_format_info(void)
{
	struct dmapipe_format_info info;
	const char *why = NULL;
	static const struct {
		const char *text;
		int ret;
		uint32_t num, den;
	} rates[] = {
		{ "30", 0, 30, 1 }, { "30000/1001", 0, 30000, 1001 }, { "60/2", 0, 30, 1 },
		{ "29.97", 0, 2997, 100 }, { "23.976", 0, 2997, 125 }, { "0", 0, 0, 1 },
		{ "0/5", 0, 0, 1 }, { "25.0", 0, 25, 1 }, { "4294967295/1", 0, 4294967295u, 1 },
		{ "30/0", -EINVAL, 0, 0 }, { "", -EINVAL, 0, 0 }, { "-30", -EINVAL, 0, 0 },
		{ " 30", -EINVAL, 0, 0 }, { "30 ", -EINVAL, 0, 0 }, { "30/", -EINVAL, 0, 0 },
		{ "/30", -EINVAL, 0, 0 }, { "30.", -EINVAL, 0, 0 }, { "29.9701", -EINVAL, 0, 0 },
		{ "4294967296", -EINVAL, 0, 0 }, { "4294967295.5", -EINVAL, 0, 0 },
		{ "1/2/3", -EINVAL, 0, 0 }, { "0x1e", -EINVAL, 0, 0 }, { "30fps", -EINVAL, 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		uint32_t num = 7, den = 7;
		int ret = dmapipe_fraction_parse(rates[i].text, &num, &den);

		check_msg(ret == rates[i].ret, "'%s': %d", rates[i].text, ret);
		if (ret == 0)
			check_msg(num == rates[i].num && den == rates[i].den, "'%s': %u/%u",
				  rates[i].text, num, den);
	}
	check_int_eq(dmapipe_fraction_parse(NULL, &info.fps_num, &info.fps_den), -EINVAL);

	dmapipe_format_info_init(&info);
	check(info.fps_num == 0 && info.fps_den == 1 && info.par_num == 1 && info.par_den == 1);
	check_int_eq(dmapipe_format_info_check(&info, &why), 0);
	info.interlace = DMAPIPE_INTERLACE_ALTERNATE;
	info.field_order = DMAPIPE_FIELD_ORDER_BOTTOM_FIRST;
	info.matrix = DMAPIPE_MATRIX_BT2020;
	info.transfer = DMAPIPE_TRANSFER_SMPTE2084;
	check_int_eq(dmapipe_format_info_check(&info, NULL), 0);
	info.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
	check_int_eq(dmapipe_format_info_check(&info, &why), -EINVAL);
	check(why && strstr(why, "field order"));
	dmapipe_format_info_init(&info);
	info.par_den = 0;
	check_int_eq(dmapipe_format_info_check(&info, &why), -EINVAL);
	dmapipe_format_info_init(&info);
	info.range = 3;
	check_int_eq(dmapipe_format_info_check(&info, &why), -EINVAL);
	dmapipe_format_info_init(&info);
	info.reserved[0] = 1;
	check_int_eq(dmapipe_format_info_check(&info, &why), -EINVAL);
	check_int_eq(dmapipe_format_info_check(NULL, &why), -EINVAL);
	test_pass("format info: init, checks, frame rates N, N/M and N.NNN");
}

static void test_constraints(void)
{
	const struct dmapipe_format nv12 = { .fourcc = 0x3231564e, .width = 1008, .height = 482 };
	struct dmapipe_constraints c, a, b;
	struct dmapipe_layout l;
	const char *why = NULL;
	char text[128];

	dmapipe_constraints_init(&c);
	check_int_eq(dmapipe_constraints_check(&c, &why), 0);
	c.stride_align[0] = 64;
	c.offset_align[1] = 4096;
	c.min_buffers = 32;
	c.n_formats = 1;
	c.formats[0] = nv12.fourcc;
	strcpy(c.import_device, "/dev/video1");
	check_int_eq(dmapipe_constraints_check(&c, &why), 0);
	a = c;
	a.stride_align[0] = 96;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	a.offset_align[3] = 8192;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	a.min_buffers = 33;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	a.formats[1] = 1;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	a.n_formats = 2;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	a.modifiers[0] = 1;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	a.flags = 2;
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	a = c;
	memset(a.import_device, 'x', sizeof(a.import_device));
	check_int_eq(dmapipe_constraints_check(&a, &why), -EINVAL);
	check_int_eq(dmapipe_constraints_check(NULL, &why), -EINVAL);

	/* 1008x482 NV12: rows of 1008 bytes unless aligned, the chroma plane at 482 rows */
	check_int_eq(dmapipe_layout_init(&l, &nv12, 16), 0);
	check_int_eq(l.planes[0].stride, 1008);
	check_int_eq(dmapipe_layout_satisfies(&l, &c, text, sizeof(text)), -EINVAL);
	check_msg(strstr(text, "plane 0 stride 1008 is not a multiple of 64"), "%s", text);
	check_int_eq(dmapipe_layout_init(&l, &nv12, 64), 0);
	check_int_eq(dmapipe_layout_satisfies(&l, &c, text, sizeof(text)), -EINVAL);
	check_msg(strstr(text, "plane 1 offset"), "%s", text);
	check_int_eq(dmapipe_layout_init_constrained(&l, &nv12, &c), 0);
	check_int_eq(dmapipe_layout_satisfies(&l, &c, text, sizeof(text)), 0);
	check(l.planes[1].offset % 4096 == 0 && l.planes[0].stride == 1024);
	check(l.objects[0].size >= l.planes[1].offset + 1024ull * 241);
	check_int_eq(dmapipe_layout_check(&l, &why), 0);
	l.format.fourcc = 0x56595559; /* YUYV */
	check_int_eq(dmapipe_layout_satisfies(&l, &c, text, sizeof(text)), -EINVAL);
	check_msg(strstr(text, "format YUYV"), "%s", text);
	l.format.fourcc = nv12.fourcc;
	l.format.modifier = 1;
	check_int_eq(dmapipe_layout_satisfies(&l, &c, text, sizeof(text)), -EINVAL);
	check_msg(strstr(text, "modifier 0x1"), "%s", text);
	c.n_modifiers = 1;
	c.modifiers[0] = 1;
	check_int_eq(dmapipe_layout_satisfies(&l, &c, NULL, 0), 0);

	/* the producer's rule: the larger alignment, the sum of the counts */
	dmapipe_constraints_init(&a);
	dmapipe_constraints_init(&b);
	a.stride_align[0] = 256;
	a.min_buffers = 3;
	b.stride_align[0] = 64;
	b.offset_align[2] = 128;
	b.min_buffers = 2;
	dmapipe_constraints_init(&c);
	dmapipe_constraints_merge(&c, &a);
	dmapipe_constraints_merge(&c, &b);
	check(c.stride_align[0] == 256 && c.offset_align[2] == 128 && c.min_buffers == 5);
	test_pass("constraints: checks, layouts that satisfy them or say why not, the merge rule");
}

int main(void)
{
	test_strict();
	test_names();
	test_names_everywhere();
	test_v4l2();
	test_supported();
	test_geometry();
	test_layout_init();
	test_layout_check();
	test_layout_random();
	test_misc();
	test_log();
	test_format_info();
	test_constraints();
	return 0;
}
