/* SPDX-License-Identifier: MIT */
/* The SPA pods `dmapipe pipewire` offers: formats, EnumFormat, Buffers. */
#include <errno.h>

#include <spa/buffer/buffer.h>
#include <spa/buffer/meta.h>
#include <spa/param/buffers.h>
#include <spa/param/format-utils.h>
#include <spa/param/param.h>
#include <spa/param/video/format-utils.h>
#include <spa/pod/builder.h>

#include "pipewire-format.h"

#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

/*
 * Formats both sides have a name for. Only these: a format SPA cannot
 * name cannot be offered, and converting it would be a copy.
 */
static const struct {
	uint32_t fourcc;
	uint32_t spa;
} formats[] = {
	{ FOURCC('N', 'V', '1', '2'), SPA_VIDEO_FORMAT_NV12 },
	{ FOURCC('N', 'V', '2', '1'), SPA_VIDEO_FORMAT_NV21 },
	{ FOURCC('N', 'V', '1', '6'), SPA_VIDEO_FORMAT_NV16 },
	{ FOURCC('N', 'V', '6', '1'), SPA_VIDEO_FORMAT_NV61 },
	{ FOURCC('N', 'V', '2', '4'), SPA_VIDEO_FORMAT_NV24 },
	{ FOURCC('P', '0', '1', '0'), SPA_VIDEO_FORMAT_P010_10LE },
	{ FOURCC('Y', 'U', '1', '2'), SPA_VIDEO_FORMAT_I420 },
	{ FOURCC('Y', 'V', '1', '2'), SPA_VIDEO_FORMAT_YV12 },
	{ FOURCC('Y', 'U', '1', '6'), SPA_VIDEO_FORMAT_Y42B },
	{ FOURCC('Y', 'U', '2', '4'), SPA_VIDEO_FORMAT_Y444 },
	{ FOURCC('Y', 'U', 'Y', 'V'), SPA_VIDEO_FORMAT_YUY2 },
	{ FOURCC('Y', 'V', 'Y', 'U'), SPA_VIDEO_FORMAT_YVYU },
	{ FOURCC('U', 'Y', 'V', 'Y'), SPA_VIDEO_FORMAT_UYVY },
	{ FOURCC('V', 'Y', 'U', 'Y'), SPA_VIDEO_FORMAT_VYUY },
	{ FOURCC('R', '8', ' ', ' '), SPA_VIDEO_FORMAT_GRAY8 },
	{ FOURCC('R', '1', '6', ' '), SPA_VIDEO_FORMAT_GRAY16_LE },
	{ FOURCC('R', 'G', '1', '6'), SPA_VIDEO_FORMAT_RGB16 },
	{ FOURCC('B', 'G', '1', '6'), SPA_VIDEO_FORMAT_BGR16 },
	/* DRM: bits of a little-endian word, high to low; SPA: bytes in order */
	{ FOURCC('R', 'G', '2', '4'), SPA_VIDEO_FORMAT_BGR },
	{ FOURCC('B', 'G', '2', '4'), SPA_VIDEO_FORMAT_RGB },
	{ FOURCC('X', 'R', '2', '4'), SPA_VIDEO_FORMAT_BGRx },
	{ FOURCC('X', 'B', '2', '4'), SPA_VIDEO_FORMAT_RGBx },
	{ FOURCC('R', 'X', '2', '4'), SPA_VIDEO_FORMAT_xBGR },
	{ FOURCC('B', 'X', '2', '4'), SPA_VIDEO_FORMAT_xRGB },
	{ FOURCC('A', 'R', '2', '4'), SPA_VIDEO_FORMAT_BGRA },
	{ FOURCC('A', 'B', '2', '4'), SPA_VIDEO_FORMAT_RGBA },
	{ FOURCC('R', 'A', '2', '4'), SPA_VIDEO_FORMAT_ABGR },
	{ FOURCC('B', 'A', '2', '4'), SPA_VIDEO_FORMAT_ARGB },
};

uint32_t pipewire_format_from_fourcc(uint32_t fourcc)
{
	for (size_t i = 0; i < SPA_N_ELEMENTS(formats); i++)
		if (formats[i].fourcc == fourcc)
			return formats[i].spa;
	return SPA_VIDEO_FORMAT_UNKNOWN;
}

uint32_t pipewire_format_to_fourcc(uint32_t spa_format)
{
	for (size_t i = 0; i < SPA_N_ELEMENTS(formats); i++)
		if (formats[i].spa == spa_format)
			return formats[i].fourcc;
	return 0;
}

static const struct spa_pod *enum_format(struct spa_pod_builder *b, uint32_t spa_format,
					 const struct dmapipe_format *format, bool with_modifier,
					 uint32_t fps_num, uint32_t fps_den)
{
	struct spa_pod_frame f;

	spa_pod_builder_push_object(b, &f, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat);
	spa_pod_builder_add(b,
		SPA_FORMAT_mediaType, SPA_POD_Id(SPA_MEDIA_TYPE_video),
		SPA_FORMAT_mediaSubtype, SPA_POD_Id(SPA_MEDIA_SUBTYPE_raw),
		SPA_FORMAT_VIDEO_format, SPA_POD_Id(spa_format),
		SPA_FORMAT_VIDEO_size,
		SPA_POD_Rectangle(&SPA_RECTANGLE(format->width, format->height)),
		SPA_FORMAT_VIDEO_framerate,
		SPA_POD_Fraction(&SPA_FRACTION(fps_num, fps_den)),
		0);
	if (with_modifier) {
		/*
		 * One modifier, so nothing is left to fixate (no
		 * DONT_FIXATE); mandatory, so that a consumer that does not
		 * know modifiers falls through to the next EnumFormat
		 * instead of getting this one without it.
		 */
		spa_pod_builder_prop(b, SPA_FORMAT_VIDEO_modifier, SPA_POD_PROP_FLAG_MANDATORY);
		spa_pod_builder_long(b, (int64_t)format->modifier);
	}
	return spa_pod_builder_pop(b, &f);
}

int pipewire_format_enum_params(struct spa_pod_builder *b, const struct dmapipe_format *format,
			  bool dmabuf, uint32_t fps_num, uint32_t fps_den,
			  const struct spa_pod **params, unsigned int max)
{
	uint32_t spa_format = pipewire_format_from_fourcc(format->fourcc);
	unsigned int n = 0;

	if (spa_format == SPA_VIDEO_FORMAT_UNKNOWN || format->modifier != DMAPIPE_MOD_LINEAR)
		return -EINVAL;
	if (dmabuf && n < max) {
		params[n] = enum_format(b, spa_format, format, true, fps_num, fps_den);
		if (!params[n++])
			return -ENOSPC;
	}
	if (n < max) {
		params[n] = enum_format(b, spa_format, format, false, fps_num, fps_den);
		if (!params[n++])
			return -ENOSPC;
	}
	return (int)n;
}

bool pipewire_format_has_modifier(const struct spa_pod *format)
{
	return spa_pod_find_prop(format, NULL, SPA_FORMAT_VIDEO_modifier) != NULL;
}

int pipewire_format_check(const struct spa_pod *param, const struct dmapipe_format *format,
		    const char **why)
{
	uint32_t media_type, media_subtype;
	struct spa_video_info_raw info;

	if (spa_format_parse(param, &media_type, &media_subtype) < 0 ||
	    media_type != SPA_MEDIA_TYPE_video || media_subtype != SPA_MEDIA_SUBTYPE_raw) {
		*why = "not raw video";
		return -EINVAL;
	}
	spa_zero(info);
	if (spa_format_video_raw_parse(param, &info) < 0) {
		*why = "a raw video format that does not parse";
		return -EINVAL;
	}
	if (info.format != pipewire_format_from_fourcc(format->fourcc)) {
		*why = "another pixel format";
		return -EINVAL;
	}
	if (info.size.width != format->width || info.size.height != format->height) {
		*why = "another size";
		return -EINVAL;
	}
	return 0;
}

int pipewire_format_buffer_params(struct spa_pod_builder *b, const struct dmapipe_layout *layout,
				  uint32_t n_buffers, uint32_t min_buffers, uint32_t max_buffers,
				  uint32_t data_type, const struct spa_pod **params, unsigned int max)
{
	uint64_t size = 0;
	unsigned int n = 0;

	if (max < 2)
		return -ENOSPC;
	/* the largest plane: every spa_data must be able to hold its chunk */
	for (unsigned int p = 0; p < layout->n_planes; p++) {
		uint64_t s = dmapipe_layout_plane_size(layout, p);

		if (s > size)
			size = s;
	}
	params[n++] = spa_pod_builder_add_object(b,
		SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers,
		SPA_PARAM_BUFFERS_buffers,
		SPA_POD_CHOICE_RANGE_Int((int32_t)SPA_MAX(n_buffers, min_buffers), 1,
					 (int32_t)max_buffers),
		SPA_PARAM_BUFFERS_blocks, SPA_POD_Int((int32_t)layout->n_planes),
		SPA_PARAM_BUFFERS_size, SPA_POD_Int((int32_t)size),
		SPA_PARAM_BUFFERS_stride, SPA_POD_Int((int32_t)layout->planes[0].stride),
		SPA_PARAM_BUFFERS_dataType, SPA_POD_CHOICE_FLAGS_Int(1 << data_type));
	params[n++] = spa_pod_builder_add_object(b,
		SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta,
		SPA_PARAM_META_type, SPA_POD_Id(SPA_META_Header),
		SPA_PARAM_META_size, SPA_POD_Int(sizeof(struct spa_meta_header)));
	for (unsigned int i = 0; i < n; i++)
		if (!params[i])
			return -ENOSPC;
	return (int)n;
}
