/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What frames mean beyond their pixel format (struct dmapipe_format_info):
 * the values FORMAT_INFO carries, their checks and the frame rate syntax
 * the tools share.
 */
#include <ctype.h>
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

DMAPIPE_EXPORT int dmapipe_format_info_check(const struct dmapipe_format_info *info,
					     const char **why)
{
	if (!info)
		return fail(why, "no format info");
	if (info->fps_den == 0)
		return fail(why, "frame rate denominator 0");
	if (info->par_den == 0)
		return fail(why, "pixel aspect ratio denominator 0");
	if (info->matrix > DMAPIPE_MATRIX_BT2020)
		return fail(why, "unknown colour matrix");
	if (info->transfer > DMAPIPE_TRANSFER_ARIB_STD_B67)
		return fail(why, "unknown transfer function");
	if (info->primaries > DMAPIPE_PRIMARIES_SMPTEEG432)
		return fail(why, "unknown colour primaries");
	if (info->range > DMAPIPE_RANGE_LIMITED)
		return fail(why, "unknown colour range");
	if (info->chroma_site > DMAPIPE_CHROMA_SITE_DV)
		return fail(why, "unknown chroma siting");
	if (info->interlace > DMAPIPE_INTERLACE_ALTERNATE)
		return fail(why, "unknown interlace mode");
	if (info->field_order > DMAPIPE_FIELD_ORDER_BOTTOM_FIRST)
		return fail(why, "unknown field order");
	/* a progressive stream has no field order to keep */
	if (info->field_order && (info->interlace == DMAPIPE_INTERLACE_PROGRESSIVE ||
				  info->interlace == DMAPIPE_INTERLACE_UNKNOWN))
		return fail(why, "a field order for frames that are not interlaced");
	for (size_t i = 0; i < ARRAY_SIZE(info->reserved); i++)
		if (info->reserved[i])
			return fail(why, "reserved field not zero");
	return 0;
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
