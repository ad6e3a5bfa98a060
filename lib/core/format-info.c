/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What frames mean beyond their pixel format (struct dmapipe_format_info):
 * the values FORMAT_INFO carries, their checks and the frame rate syntax
 * the tools share.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

DMAPIPE_EXPORT void dmapipe_format_info_init(struct dmapipe_format_info *info)
{
	memset(info, 0, sizeof(*info));
	info->fps_den = 1;
	info->par_num = 1;
	info->par_den = 1;
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return -EINVAL;
}

/* The enumerated fields: their largest value this library knows, and what a larger one is. */
static const struct {
	size_t offset;
	uint32_t max;
	const char *what;
} enum_fields[] = {
	{ offsetof(struct dmapipe_format_info, matrix), DMAPIPE_MATRIX_BT2020,
	  "unknown colour matrix" },
	{ offsetof(struct dmapipe_format_info, transfer), DMAPIPE_TRANSFER_ARIB_STD_B67,
	  "unknown transfer function" },
	{ offsetof(struct dmapipe_format_info, primaries), DMAPIPE_PRIMARIES_SMPTEEG432,
	  "unknown colour primaries" },
	{ offsetof(struct dmapipe_format_info, range), DMAPIPE_RANGE_LIMITED,
	  "unknown colour range" },
	{ offsetof(struct dmapipe_format_info, chroma_site), DMAPIPE_CHROMA_SITE_DV,
	  "unknown chroma siting" },
	{ offsetof(struct dmapipe_format_info, interlace), DMAPIPE_INTERLACE_ALTERNATE,
	  "unknown interlace mode" },
	{ offsetof(struct dmapipe_format_info, field_order), DMAPIPE_FIELD_ORDER_BOTTOM_FIRST,
	  "unknown field order" },
};

static uint32_t *enum_field(struct dmapipe_format_info *info, size_t i)
{
	return (uint32_t *)((char *)info + enum_fields[i].offset);
}

/* A progressive stream has no field order to keep. */
static bool stray_field_order(const struct dmapipe_format_info *info)
{
	return info->field_order && (info->interlace == DMAPIPE_INTERLACE_PROGRESSIVE ||
				     info->interlace == DMAPIPE_INTERLACE_UNKNOWN);
}

DMAPIPE_EXPORT int dmapipe_format_info_check(const struct dmapipe_format_info *info,
					     const char **why)
{
	if (!info)
		return fail(why, "no format info");
	if (info->fps_den == 0)
		return fail(why, "frame rate denominator 0");
	if (info->par_den == 0)
		return fail(why, "pixel aspect ratio denominator 0");
	for (size_t i = 0; i < ARRAY_SIZE(enum_fields); i++)
		if (*enum_field((struct dmapipe_format_info *)info, i) > enum_fields[i].max)
			return fail(why, enum_fields[i].what);
	if (stray_field_order(info))
		return fail(why, "a field order for frames that are not interlaced");
	for (size_t i = 0; i < ARRAY_SIZE(info->reserved); i++)
		if (info->reserved[i])
			return fail(why, "reserved field not zero");
	return 0;
}

int dmapipe_format_info_sanitize_enums(struct dmapipe_format_info *info, const char **why)
{
	const char *first = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(enum_fields); i++) {
		uint32_t *v = enum_field(info, i);

		if (*v > enum_fields[i].max) {
			*v = 0;
			first = first ? first : enum_fields[i].what;
		}
	}
	if (stray_field_order(info)) {
		info->field_order = DMAPIPE_FIELD_ORDER_UNKNOWN;
		first = first ? first : "a field order for frames that are not interlaced";
	}
	return first ? fail(why, first) : 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Digits only (no sign, no space, which strtoull would take); 0 or -EINVAL. */
static int parse_digits(const char *s, const char **end, uint64_t *v)
{
	uint64_t x = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > UINT32_MAX)
			return -EINVAL;
	}
	*end = s;
	*v = x;
	return 0;
}

DMAPIPE_EXPORT int dmapipe_fraction_parse(const char *text, uint32_t *num, uint32_t *den)
{
	uint64_t n, d = 1, g;
	const char *s;

	if (!text || !num || !den || parse_digits(text, &s, &n) < 0)
		return -EINVAL;
	if (*s == '/') {
		if (parse_digits(s + 1, &s, &d) < 0 || d == 0)
			return -EINVAL;
	} else if (*s == '.') {
		unsigned int places = 0;

		for (s++; isdigit((unsigned char)*s); s++) {
			if (++places > 3)
				return -EINVAL;
			n = n * 10 + (uint64_t)(*s - '0');
			d *= 10;
		}
		if (places == 0 || n > UINT32_MAX)
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	g = n ? gcd(n, d) : d;
	*num = (uint32_t)(n / g);
	*den = (uint32_t)(d / g);
	return 0;
}
