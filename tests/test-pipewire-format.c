/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What `dmapipe pipewire` offers PipeWire (tools/pipewire-format.c), with
 * no daemon: the DRM -> SPA format names, the EnumFormat objects and how
 * PipeWire's own filter (the one that intersects a consumer's formats
 * with a producer's) treats them: a consumer that knows no modifiers
 * skips the format with the modifier and takes the one without; one that
 * imports with the linear modifier takes the first. And the Buffers
 * parameter a consumer's request for at least 8 buffers must fit.
 */
#include <errno.h>

#include <spa/buffer/buffer.h>
#include <spa/param/buffers.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/filter.h>

#include "pipewire-format.h"
#include "testlib.h"

#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

static const struct dmapipe_format nv12 = {
	.fourcc = FOURCC('N', 'V', '1', '2'), .width = 640, .height = 480,
	.modifier = DMAPIPE_MOD_LINEAR,
};

static void test_names(void)
{
	static const struct {
		uint32_t fourcc, spa;
	} known[] = {
		{ FOURCC('N', 'V', '1', '2'), SPA_VIDEO_FORMAT_NV12 },
		{ FOURCC('Y', 'U', 'Y', 'V'), SPA_VIDEO_FORMAT_YUY2 },
		{ FOURCC('Y', 'U', '1', '2'), SPA_VIDEO_FORMAT_I420 },
		/* little-endian words against bytes in memory */
		{ FOURCC('X', 'R', '2', '4'), SPA_VIDEO_FORMAT_BGRx },
		{ FOURCC('X', 'B', '2', '4'), SPA_VIDEO_FORMAT_RGBx },
		{ FOURCC('A', 'R', '2', '4'), SPA_VIDEO_FORMAT_BGRA },
		{ FOURCC('R', 'G', '2', '4'), SPA_VIDEO_FORMAT_BGR },
		{ FOURCC('R', '8', ' ', ' '), SPA_VIDEO_FORMAT_GRAY8 },
	};
	unsigned int named = 0;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		check_int_eq(pipewire_format_from_fourcc(known[i].fourcc), known[i].spa);
		check_int_eq(pipewire_format_to_fourcc(known[i].spa), known[i].fourcc);
	}
	/* every name goes both ways, and only for formats the library knows */
	for (uint32_t spa = 1; spa < SPA_VIDEO_FORMAT_DSP_F32; spa++) {
		uint32_t fourcc = pipewire_format_to_fourcc(spa);

		if (!fourcc)
			continue;
		named++;
		check_int_eq(pipewire_format_from_fourcc(fourcc), spa);
		check(dmapipe_fourcc_is_supported(fourcc));
	}
	check(named >= 20);
	/* NV42 has no SPA name: not offered rather than converted */
	check_int_eq(pipewire_format_from_fourcc(FOURCC('N', 'V', '4', '2')), SPA_VIDEO_FORMAT_UNKNOWN);
	test_pass("DRM fourccs and SPA formats name the same bytes, both ways");
}

static void test_enum_format(void)
{
	uint8_t storage[2048];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
	const struct spa_pod *params[2];
	struct spa_video_info_raw info;
	struct dmapipe_format tiled = nv12;
	uint8_t tiny[16];
	struct spa_pod_builder small = SPA_POD_BUILDER_INIT(tiny, sizeof(tiny));

	check_int_eq(pipewire_format_enum_params(&b, &nv12, true, 30, 1, params, 2), 2);
	check(pipewire_format_has_modifier(params[0]));
	check(!pipewire_format_has_modifier(params[1]));
	for (int i = 0; i < 2; i++) {
		const char *why = NULL;

		memset(&info, 0, sizeof(info));
		check(spa_format_video_raw_parse(params[i], &info) >= 0);
		check_int_eq(info.format, SPA_VIDEO_FORMAT_NV12);
		check_int_eq(info.size.width, 640);
		check_int_eq(info.size.height, 480);
		check_int_eq(info.framerate.num, 30);
		check_int_eq(info.framerate.denom, 1);
		check_int_eq(!!(info.flags & SPA_VIDEO_FLAG_MODIFIER), i == 0);
		check_int_eq(info.modifier, 0);
		check_int_eq(pipewire_format_check(params[i], &nv12, &why), 0);
	}

	/* memfds: only the format without a modifier */
	spa_pod_builder_init(&b, storage, sizeof(storage));
	check_int_eq(pipewire_format_enum_params(&b, &nv12, false, 0, 1, params, 2), 1);
	check(!pipewire_format_has_modifier(params[0]));

	tiled.modifier = 0x0100000000000001ull; /* I915_FORMAT_MOD_X_TILED */
	check_int_eq(pipewire_format_enum_params(&b, &tiled, true, 0, 1, params, 2), -EINVAL);
	tiled = nv12;
	tiled.fourcc = FOURCC('N', 'V', '4', '2');
	check_int_eq(pipewire_format_enum_params(&b, &tiled, false, 0, 1, params, 2), -EINVAL);
	check_int_eq(pipewire_format_enum_params(&small, &nv12, true, 0, 1, params, 2), -ENOSPC);
	test_pass("EnumFormat: the modifier (mandatory) first for dma-bufs, then none; bad input refused");
}

/*
 * A consumer's EnumFormat: as pipewiresrc 0.3.65 sends it for video/x-raw
 * (no modifier), or with the modifiers it can import.
 */
static const struct spa_pod *consumer_format(struct spa_pod_builder *b, bool modifier)
{
	struct spa_pod_frame f;

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b,
		SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
		SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
		SPA_FORMAT_VIDEO_format, SPA_POD_CHOICE_ENUM_Id(3, SPA_VIDEO_FORMAT_NV12,
			SPA_VIDEO_FORMAT_NV12, SPA_VIDEO_FORMAT_BGRx),
		SPA_FORMAT_VIDEO_size, SPA_POD_CHOICE_RANGE_Rectangle(
			&SPA_RECTANGLE(320, 240), &SPA_RECTANGLE(1, 1), &SPA_RECTANGLE(8192, 8192)),
		SPA_FORMAT_VIDEO_framerate, SPA_POD_CHOICE_RANGE_Fraction(
			&SPA_FRACTION(30, 1), &SPA_FRACTION(0, 1), &SPA_FRACTION(1000, 1)),
		0);
	if (modifier) {
		struct spa_pod_frame cf;

		/* a consumer that imports: its modifiers, to be fixated by the producer */
		spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier,
				     SPA_POD_PROP_FLAG_MANDATORY | SPA_POD_PROP_FLAG_DONT_FIXATE);
		spa_pod_builder_push_choice(b, &cf, SPA_CHOICE_Enum, 0);
		spa_pod_builder_long(b, 0);  /* the default */
		spa_pod_builder_long(b, 0);  /* DRM_FORMAT_MOD_LINEAR */
		spa_pod_builder_long(b, 0x00ffffffffffffffll); /* DRM_FORMAT_MOD_INVALID */
		spa_pod_builder_pop(b, &cf);
	}
	return spa_pod_builder_pop(b, &f);
}

static void test_negotiation(void)
{
	uint8_t storage[2048], cstorage[1024], rstorage[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
	struct spa_pod_builder cb = SPA_POD_BUILDER_INIT(cstorage, sizeof(cstorage));
	struct spa_pod_builder rb;
	const struct spa_pod *ours[2], *theirs;
	struct spa_pod *result;

	check_int_eq(pipewire_format_enum_params(&b, &nv12, true, 0, 1, ours, 2), 2);

	theirs = consumer_format(&cb, false);
	spa_pod_builder_init(&rb, rstorage, sizeof(rstorage));
	check(spa_pod_filter(&rb, &result, theirs, ours[0]) < 0);
	spa_pod_builder_init(&rb, rstorage, sizeof(rstorage));
	check_int_eq(spa_pod_filter(&rb, &result, theirs, ours[1]), 0);
	check(!pipewire_format_has_modifier(result));

	spa_pod_builder_init(&cb, cstorage, sizeof(cstorage));
	theirs = consumer_format(&cb, true);
	spa_pod_builder_init(&rb, rstorage, sizeof(rstorage));
	check_int_eq(spa_pod_filter(&rb, &result, theirs, ours[0]), 0);
	check(pipewire_format_has_modifier(result));
	test_pass("negotiation: a mapping consumer gets the format without a modifier, "
		  "an importing one the linear modifier");
}

static void test_buffers(void)
{
	uint8_t storage[1024];
	struct spa_pod_builder b = SPA_POD_BUILDER_INIT(storage, sizeof(storage));
	struct dmapipe_layout layout;
	const struct spa_pod *params[2];
	struct spa_pod *choice;
	uint32_t blocks = 0, size = 0, stride = 0, types = 0, n_vals = 0, choice_type = 0;
	int32_t *vals;
	const struct spa_pod_prop *prop;

	check_int_eq(dmapipe_layout_init(&layout, &nv12, 64), 0);
	check_int_eq(pipewire_format_buffer_params(&b, &layout, 4, 8, 64, SPA_DATA_MemFd,
						   params, 2), 2);
	check(spa_pod_parse_object(params[0], SPA_TYPE_OBJECT_ParamBuffers, NULL,
		SPA_PARAM_BUFFERS_blocks, SPA_POD_Int(&blocks),
		SPA_PARAM_BUFFERS_size, SPA_POD_Int(&size),
		SPA_PARAM_BUFFERS_stride, SPA_POD_Int(&stride)) >= 0);
	check_int_eq(blocks, 2);
	check_int_eq(size, 640 * 480);
	check_int_eq(stride, 640);
	prop = spa_pod_find_prop(params[0], NULL, SPA_PARAM_BUFFERS_dataType);
	check(prop);
	choice = spa_pod_get_values(&prop->value, &n_vals, &choice_type);
	check_int_eq(spa_pod_get_int(choice, (int32_t *)&types), 0);
	check_int_eq(types, 1u << SPA_DATA_MemFd);
	/* 4 buffers of the stream, but pipewiresrc asks for 8 to 2^31 */
	prop = spa_pod_find_prop(params[0], NULL, SPA_PARAM_BUFFERS_buffers);
	check(prop);
	choice = spa_pod_get_values(&prop->value, &n_vals, &choice_type);
	check_int_eq(choice_type, SPA_CHOICE_Range);
	check_int_eq(n_vals, 3);
	vals = SPA_POD_BODY(choice);
	check_int_eq(vals[0], 8);
	check_int_eq(vals[1], 1);
	check_int_eq(vals[2], 64);
	check(spa_pod_is_object_type(params[1], SPA_TYPE_OBJECT_ParamMeta));
	check_int_eq(pipewire_format_buffer_params(&b, &layout, 4, 8, 64, SPA_DATA_MemFd,
						   params, 1), -ENOSPC);
	test_pass("Buffers: one block per plane, the largest plane, the data type, 8 or more buffers");
}

int main(void)
{
	test_names();
	test_enum_format();
	test_negotiation();
	test_buffers();
	return 0;
}
