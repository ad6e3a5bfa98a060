/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test pattern (docs/PATTERN.md): every byte compared with an
 * independent per-byte reference, strides with garbage padding, single
 * flipped bytes located exactly, wrong sequences, the stamp, and the
 * buffer wrappers on a real (memfd) buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "private.h"
#include "testlib.h"

/* Every DRM fourcc name; the test covers those the library supports. */
static const char *const fourcc_names[] = {
	"C8", "R8", "R10", "R12", "R16", "RG88", "GR88", "RG1616", "GR1616",
	"RGB332", "BGR233", "XRGB4444", "XBGR4444", "RGBX4444", "BGRX4444",
	"ARGB4444", "ABGR4444", "RGBA4444", "BGRA4444", "XRGB1555", "XBGR1555",
	"RGBX5551", "BGRX5551", "ARGB1555", "ABGR1555", "RGBA5551", "BGRA5551",
	"RGB565", "BGR565", "RGB888", "BGR888", "XRGB8888", "XBGR8888",
	"RGBX8888", "BGRX8888", "ARGB8888", "ABGR8888", "RGBA8888", "BGRA8888",
	"XRGB2101010", "XBGR2101010", "RGBX1010102", "BGRX1010102",
	"ARGB2101010", "ABGR2101010", "RGBA1010102", "BGRA1010102",
	"XRGB16161616", "XBGR16161616", "ARGB16161616", "ABGR16161616",
	"XRGB16161616F", "XBGR16161616F", "ARGB16161616F", "ABGR16161616F",
	"YUYV", "YVYU", "UYVY", "VYUY", "AYUV", "XYUV8888", "VUY888",
	"VUY101010", "Y210", "Y212", "Y216", "Y410", "Y412", "Y416",
	"XVYU2101010", "NV12", "NV21", "NV16", "NV61", "NV24", "NV42", "NV15",
	"P210", "P010", "P012", "P016", "P030", "Q410", "Q401", "YUV410",
	"YVU410", "YUV411", "YVU411", "YUV420", "YVU420", "YUV422", "YVU422",
	"YUV444", "YVU444",
};

struct frame {
	struct dmapipe_layout layout;
	uint8_t *mem;
	size_t size;
	uint8_t *planes[DMAPIPE_MAX_PLANES];
	uint64_t rowbytes[DMAPIPE_MAX_PLANES];
	uint32_t rows[DMAPIPE_MAX_PLANES];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64: reproducible garbage */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/*
 * A frame of @fourcc in malloc'ed memory whose rows are @pad bytes longer
 * than the pixel data, filled with garbage.
 */
static void frame_init(struct frame *f, uint32_t fourcc, uint32_t w, uint32_t h, uint32_t pad)
{
	struct dmapipe_format fmt = { .fourcc = fourcc, .width = w, .height = h,
				      .modifier = DMAPIPE_MOD_LINEAR };
	struct dmapipe_layout packed;
	uint64_t offset = 0;
	unsigned int p;
	size_t i;

	memset(f, 0, sizeof(*f));
	check_int_eq(dmapipe_layout_init(&packed, &fmt, 1), 0);
	f->layout = packed;
	for (p = 0; p < packed.n_planes; p++) {
		uint64_t size = dmapipe_layout_plane_size(&packed, p);

		f->rowbytes[p] = packed.planes[p].stride;
		check(f->rowbytes[p] > 0 && size % f->rowbytes[p] == 0);
		f->rows[p] = (uint32_t)(size / f->rowbytes[p]);
		f->layout.planes[p].object = 0;
		f->layout.planes[p].stride = (uint32_t)(f->rowbytes[p] + pad);
		f->layout.planes[p].offset = offset;
		offset += (uint64_t)f->layout.planes[p].stride * f->rows[p];
	}
	f->layout.n_objects = 1;
	f->layout.objects[0].fd = -1;
	f->layout.objects[0].size = offset;
	f->size = (size_t)offset;
	f->mem = malloc(f->size);
	check(f->mem);
	for (i = 0; i + 8 <= f->size; i += 8) {
		uint64_t r = rng();

		memcpy(f->mem + i, &r, 8);
	}
	for (; i < f->size; i++)
		f->mem[i] = (uint8_t)rng();
	for (p = 0; p < packed.n_planes; p++)
		f->planes[p] = f->mem + f->layout.planes[p].offset;
}

static void frame_finish(struct frame *f)
{
	free(f->mem);
}

/* The specification, byte by byte, written independently of pattern.c. */
static uint8_t expected(const struct frame *f, unsigned int p, uint64_t x, uint64_t y,
			uint64_t seq)
{
	if (p == 0 && y == 0 && x < 16 && f->rowbytes[0] >= 16) {
		if (x < 8)
			return (uint8_t)(seq >> (8 * x));
		return (uint8_t)(~seq >> (8 * (x - 8)));
	}
	return (uint8_t)(x + 3 * y + 7 * (seq % 256) + 101 * p);
}

static void check_every_byte(const struct frame *f, uint64_t seq)
{
	unsigned int p;
	uint64_t x, y;

	for (p = 0; p < f->layout.n_planes; p++)
		for (y = 0; y < f->rows[p]; y++)
			for (x = 0; x < f->rowbytes[p]; x++) {
				uint8_t got = f->planes[p][y * f->layout.planes[p].stride + x];

				check_msg(got == expected(f, p, x, y, seq),
					  "plane %u x %" PRIu64 " y %" PRIu64 ": %u != %u",
					  p, x, y, got, expected(f, p, x, y, seq));
			}
}

/* Flips one byte at (p, x, y) and expects check to report exactly that. */
static void check_flip(struct frame *f, uint64_t seq, unsigned int p, uint64_t x, uint64_t y)
{
	uint64_t off = y * f->layout.planes[p].stride + x;
	unsigned int bad_plane = 99;
	uint64_t bad_offset = UINT64_MAX;

	f->planes[p][off] ^= 0x10;
	check_int_eq(dmapipe_pattern_check(&f->layout, f->planes, seq, &bad_plane, &bad_offset),
		     -EILSEQ);
	check_int_eq(bad_plane, p);
	check_int_eq(bad_offset, off);
	f->planes[p][off] ^= 0x10;
}

static void scribble_padding(struct frame *f)
{
	unsigned int p;
	uint64_t x, y;

	for (p = 0; p < f->layout.n_planes; p++)
		for (y = 0; y < f->rows[p]; y++)
			for (x = f->rowbytes[p]; x < f->layout.planes[p].stride; x++)
				f->planes[p][y * f->layout.planes[p].stride + x] = (uint8_t)rng();
}

/* Small sizes: every byte against the reference, every byte flipped. */
static void test_small(uint32_t fourcc, uint32_t w, uint32_t h, uint32_t pad)
{
	const uint64_t seqs[] = { 0, 1, 255, 256, 12345, UINT64_MAX - 1, UINT64_MAX };
	struct frame f;
	unsigned int i, p;
	uint64_t x, y;

	frame_init(&f, fourcc, w, h, pad);
	for (i = 0; i < ARRAY_SIZE(seqs); i++) {
		uint64_t seq = seqs[i], got;

		check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, seq), 0);
		check_every_byte(&f, seq);
		check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq, NULL, NULL), 0);
		scribble_padding(&f);
		check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq, NULL, NULL), 0);

		if (f.rowbytes[0] >= 16) {
			check_int_eq(dmapipe_pattern_read_stamp(&f.layout, f.planes, &got), 0);
			check(got == seq);
			/* the stamp tells apart sequences whose pixels are equal */
			check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq + 256,
							   NULL, NULL), -EILSEQ);
		} else {
			check_int_eq(dmapipe_pattern_read_stamp(&f.layout, f.planes, &got),
				     -EINVAL);
		}
		check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq + 1, NULL, NULL),
			     -EILSEQ);
		check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq - 1, NULL, NULL),
			     -EILSEQ);
	}

	for (p = 0; p < f.layout.n_planes; p++)
		for (y = 0; y < f.rows[p]; y++)
			for (x = 0; x < f.rowbytes[p]; x++)
				check_flip(&f, UINT64_MAX, p, x, y);
	frame_finish(&f);
}

/* Large sizes: round trip and flips at chosen and random places. */
static void test_large(uint32_t fourcc, uint32_t w, uint32_t h, uint32_t pad)
{
	const uint64_t seq = 0x0123456789abcdefull;
	struct frame f;
	unsigned int i, p;
	uint64_t got;

	frame_init(&f, fourcc, w, h, pad);
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, seq), 0);
	check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq, NULL, NULL), 0);
	scribble_padding(&f);
	check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq, NULL, NULL), 0);
	check_int_eq(dmapipe_pattern_read_stamp(&f.layout, f.planes, &got), 0);
	check(got == seq);
	check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, seq + 1, NULL, NULL), -EILSEQ);

	for (p = 0; p < f.layout.n_planes; p++) {
		uint64_t lx = f.rowbytes[p] - 1, ly = f.rows[p] - 1;

		check_flip(&f, seq, p, 0, 0);
		check_flip(&f, seq, p, lx, 0);
		check_flip(&f, seq, p, 0, ly);
		check_flip(&f, seq, p, lx, ly);
		for (i = 0; i < 8; i++)
			check_flip(&f, seq, p, rng() % f.rowbytes[p], rng() % f.rows[p]);
	}
	check_flip(&f, seq, 0, 7, 0);  /* sequence */
	check_flip(&f, seq, 0, 15, 0); /* complement */
	check_flip(&f, seq, 0, 16, 0); /* first pattern byte after the stamp */

	/* a damaged stamp is reported, not misread */
	f.planes[0][3] ^= 1;
	check_int_eq(dmapipe_pattern_read_stamp(&f.layout, f.planes, &got), -EILSEQ);
	f.planes[0][3] ^= 1;
	frame_finish(&f);
}

static uint64_t fnv1a64(const uint8_t *p, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/*
 * The test vectors printed in docs/PATTERN.md (computed there by an
 * independent implementation): any change of the pattern breaks these.
 */
static void test_vectors(void)
{
	static const struct {
		const char *name;
		uint32_t w, h;
		uint64_t seq;
		const char *bytes[3];
	} small[] = {
		{ "NV12", 2, 2, 5, { "23242627", "8889" } },
		{ "XRGB8888", 4, 2, 1,
		  { "0100000000000000feffffffffffffff0a0b0c0d0e0f10111213141516171819" } },
		{ "YUYV", 5, 1, 300, { "3435363738393a3b3c3d3e3f" } },
		{ "YUV420", 3, 3, UINT64_MAX, { "f9fafbfcfdfeff0001", "5e5f6162", "c3c4c6c7" } },
	};
	static const struct {
		uint64_t seq;
		uint64_t fnv[2];
	} big[] = {
		{ 0, { 0xbedd72a02eaa03cdull, 0x2ce9d5c1e29b79a5ull } },
		{ 1234567, { 0xbf216a5cdfffa611ull, 0x637d0652c0b6baa5ull } },
	};
	unsigned int i, p;
	uint64_t k;

	for (i = 0; i < ARRAY_SIZE(small); i++) {
		struct frame f;

		frame_init(&f, dmapipe_fourcc_from_string(small[i].name), small[i].w,
			   small[i].h, 0);
		check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, small[i].seq), 0);
		for (p = 0; p < f.layout.n_planes; p++) {
			const char *hex = small[i].bytes[p];

			check(hex && strlen(hex) == 2 * f.rowbytes[p] * f.rows[p]);
			for (k = 0; k < f.rowbytes[p] * f.rows[p]; k++) {
				unsigned int v;

				check(sscanf(hex + 2 * k, "%2x", &v) == 1);
				check_msg(f.planes[p][k] == v, "%s plane %u byte %" PRIu64,
					  small[i].name, p, k);
			}
		}
		frame_finish(&f);
	}
	for (i = 0; i < ARRAY_SIZE(big); i++) {
		struct frame f;

		frame_init(&f, dmapipe_fourcc_from_string("NV12"), 1920, 1080, 0);
		check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, big[i].seq), 0);
		for (p = 0; p < 2; p++)
			check(fnv1a64(f.planes[p], f.rowbytes[p] * f.rows[p]) == big[i].fnv[p]);
		frame_finish(&f);
	}
	test_pass("vectors");
}

/* Known geometries: what docs/PATTERN.md documents. */
static void test_geometry(void)
{
	struct {
		const char *name;
		uint32_t planes;
		uint64_t rowbytes[3];
		uint32_t rows[3];
	} cases[] = {
		{ "NV12", 2, { 17, 18 }, { 9, 5 } },
		{ "XRGB8888", 1, { 68 }, { 9 } },
		{ "YUYV", 1, { 36 }, { 9 } },
		{ "YUV420", 3, { 17, 9, 9 }, { 9, 5, 5 } },
	};
	unsigned int i, p;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t fourcc = dmapipe_fourcc_from_string(cases[i].name);
		struct frame f;

		check_msg(fourcc && dmapipe_fourcc_is_supported(fourcc), "%s", cases[i].name);
		frame_init(&f, fourcc, 17, 9, 0);
		check_int_eq(f.layout.n_planes, cases[i].planes);
		for (p = 0; p < cases[i].planes; p++) {
			check_int_eq(f.rowbytes[p], cases[i].rowbytes[p]);
			check_int_eq(f.rows[p], cases[i].rows[p]);
		}
		frame_finish(&f);
	}
	test_pass("geometry");
}

static void test_invalid(void)
{
	uint32_t nv12 = dmapipe_fourcc_from_string("NV12");
	uint64_t got;
	struct frame f;

	frame_init(&f, nv12, 64, 64, 0);
	f.layout.format.modifier = 0x0100000000000001ull; /* I915_FORMAT_MOD_X_TILED */
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 1), -EINVAL);
	check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, 1, NULL, NULL), -EINVAL);
	check_int_eq(dmapipe_pattern_read_stamp(&f.layout, f.planes, &got), -EINVAL);
	f.layout.format.modifier = DMAPIPE_MOD_INVALID;
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 1), -EINVAL);
	f.layout.format.modifier = DMAPIPE_MOD_LINEAR;

	f.layout.format.fourcc = 0x20202020; /* "    " */
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 1), -EINVAL);
	check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, 1, NULL, NULL), -EINVAL);
	f.layout.format.fourcc = nv12;

	/* a stride shorter than the row */
	f.layout.planes[1].stride = 63;
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 1), -EINVAL);
	f.layout.planes[1].stride = 64;

	/* plane count that does not match the format */
	f.layout.n_planes = 1;
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 1), -EINVAL);
	f.layout.n_planes = 2;

	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 1), 0);
	frame_finish(&f);
	test_pass("invalid");
}

/* The wrappers on a real shareable buffer. */
static void test_buffer(void)
{
	struct dmapipe_format fmt = { .fourcc = dmapipe_fourcc_from_string("NV12"),
				      .width = 320, .height = 240,
				      .modifier = DMAPIPE_MOD_LINEAR };
	struct dmapipe_allocator *alloc = dmapipe_allocator_new("memfd");
	struct dmapipe_buffer *buf;
	uint8_t *y;

	check_msg(alloc, "memfd allocator: %s", strerror(errno));
	buf = dmapipe_allocator_alloc(alloc, &fmt);
	check(buf);
	check_int_eq(dmapipe_buffer_draw_pattern(buf, 42), 0);
	check_int_eq(dmapipe_buffer_check_pattern(buf, 42), 0);
	check_int_eq(dmapipe_buffer_check_pattern(buf, 43), -EILSEQ);
	y = dmapipe_buffer_map_plane(buf, 1);
	check(y);
	y[100] ^= 0xff;
	check_int_eq(dmapipe_buffer_check_pattern(buf, 42), -EILSEQ);
	check_int_eq(dmapipe_buffer_draw_pattern(buf, UINT64_MAX), 0);
	check_int_eq(dmapipe_buffer_check_pattern(buf, UINT64_MAX), 0);
	dmapipe_buffer_unref(buf);
	dmapipe_allocator_unref(alloc);
	test_pass("buffer");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Not a pass/fail criterion (machines differ): printed for the log. */
static void report_speed(void)
{
	struct frame f;
	double t0, t1, t2;
	int i;

	frame_init(&f, dmapipe_fourcc_from_string("NV12"), 3840, 2160, 0);
	check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, 0), 0);
	t0 = now_s();
	for (i = 1; i <= 10; i++)
		check_int_eq(dmapipe_pattern_draw(&f.layout, f.planes, i), 0);
	t1 = now_s();
	for (i = 0; i < 10; i++)
		check_int_eq(dmapipe_pattern_check(&f.layout, f.planes, 10, NULL, NULL), 0);
	t2 = now_s();
	printf("# 4K NV12: draw %.2f ms, check %.2f ms per frame\n",
	       (t1 - t0) * 100.0, (t2 - t1) * 100.0);
	frame_finish(&f);
}

int main(void)
{
	const uint32_t sizes[][2] = { { 1, 1 }, { 3, 3 }, { 17, 9 }, { 2, 2 }, { 16, 1 } };
	unsigned int i, s, n = 0;

	test_geometry();
	test_vectors();
	test_invalid();

	for (i = 0; i < ARRAY_SIZE(fourcc_names); i++) {
		uint32_t fourcc = dmapipe_fourcc_from_string(fourcc_names[i]);

		if (!fourcc || !dmapipe_fourcc_is_supported(fourcc))
			continue;
		n++;
		for (s = 0; s < ARRAY_SIZE(sizes); s++) {
			test_small(fourcc, sizes[s][0], sizes[s][1], 0);
			test_small(fourcc, sizes[s][0], sizes[s][1], 13);
		}
		/* 4K with padded rows for every format; packed rows are the
		 * common case and are covered by the vectors and small sizes */
		test_large(fourcc, 4096, 2160, 192);
		test_large(fourcc, 1921, 1081, 7);
		printf("ok pattern %s\n", fourcc_names[i]);
	}
	check_msg(n >= 3, "only %u supported formats", n);

	test_buffer();
	report_speed();
	return 0;
}
