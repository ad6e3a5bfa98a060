/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What consumers need of buffers (struct dmapipe_constraints): the checks
 * a producer runs on a CONSTRAINTS message, whether a layout satisfies
 * them, and the producer's rule that combines several consumers' into the
 * layout it allocates (docs/PROTOCOL.md, "Constraints").
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "private.h"

DMAPIPE_EXPORT void dmapipe_constraints_init(struct dmapipe_constraints *c)
{
	memset(c, 0, sizeof(*c));
}

static bool align_valid(uint32_t a)
{
	return a == 0 || (a <= DMAPIPE_CONSTRAINTS_MAX_ALIGN && (a & (a - 1)) == 0);
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return -EINVAL;
}

DMAPIPE_EXPORT int dmapipe_constraints_check(const struct dmapipe_constraints *c, const char **why)
{
	size_t n;

	if (!c)
		return fail(why, "no constraints");
	if (c->flags & ~DMAPIPE_CONSTRAINT_ALLOW_COPY)
		return fail(why, "unknown constraint flags");
	if (c->min_buffers > DMAPIPE_CONSTRAINTS_MAX_BUFFERS)
		return fail(why, "min_buffers above 32");
	for (unsigned int i = 0; i < DMAPIPE_MAX_PLANES; i++)
		if (!align_valid(c->stride_align[i]) || !align_valid(c->offset_align[i]))
			return fail(why, "an alignment that is not a power of two up to 4096");
	if (c->n_formats > DMAPIPE_CONSTRAINTS_MAX_FORMATS)
		return fail(why, "more than 8 formats");
	for (unsigned int i = 0; i < DMAPIPE_CONSTRAINTS_MAX_FORMATS; i++)
		if ((i < c->n_formats) != (c->formats[i] != 0))
			return fail(why, "format 0 listed, or an unused format slot set");
	if (c->n_modifiers > DMAPIPE_CONSTRAINTS_MAX_MODIFIERS)
		return fail(why, "more than 8 modifiers");
	for (unsigned int i = c->n_modifiers; i < DMAPIPE_CONSTRAINTS_MAX_MODIFIERS; i++)
		if (c->modifiers[i])
			return fail(why, "an unused modifier slot set");
	n = strnlen(c->import_device, sizeof(c->import_device));
	if (n == sizeof(c->import_device))
		return fail(why, "import_device not NUL-terminated");
	for (size_t i = n; i < sizeof(c->import_device); i++)
		if (c->import_device[i])
			return fail(why, "bytes after import_device's terminator");
	if (c->pad0)
		return fail(why, "padding not zero");
	for (size_t i = 0; i < ARRAY_SIZE(c->reserved); i++)
		if (c->reserved[i])
			return fail(why, "reserved field not zero");
	return 0;
}

/* Writes "plane P WHAT V is not a multiple of A" and returns -EINVAL. */
static int misaligned(char *why, size_t len, uint32_t plane, const char *what, uint64_t v,
		      uint32_t a)
{
	if (why && len)
		snprintf(why, len, "plane %u %s %llu is not a multiple of %u", plane, what,
			 (unsigned long long)v, a);
	return -EINVAL;
}

DMAPIPE_EXPORT int dmapipe_layout_satisfies(const struct dmapipe_layout *l,
					    const struct dmapipe_constraints *c, char *why,
					    size_t len)
{
	bool found;
	char name[16];

	if (!l || !c) {
		if (why && len)
			snprintf(why, len, "no layout or no constraints");
		return -EINVAL;
	}
	found = c->n_formats == 0;
	for (uint32_t i = 0; i < c->n_formats && i < DMAPIPE_CONSTRAINTS_MAX_FORMATS; i++)
		found |= c->formats[i] == l->format.fourcc;
	if (!found) {
		if (why && len)
			snprintf(why, len, "format %s is not among the %u the consumer takes",
				 dmapipe_fourcc_to_string(l->format.fourcc, name, sizeof(name)),
				 c->n_formats);
		return -EINVAL;
	}
	found = c->n_modifiers == 0 && l->format.modifier == DMAPIPE_MOD_LINEAR;
	for (uint32_t i = 0; i < c->n_modifiers && i < DMAPIPE_CONSTRAINTS_MAX_MODIFIERS; i++)
		found |= c->modifiers[i] == l->format.modifier;
	if (!found) {
		if (why && len)
			snprintf(why, len, "modifier %#llx is not one the consumer takes",
				 (unsigned long long)l->format.modifier);
		return -EINVAL;
	}
	for (uint32_t p = 0; p < l->n_planes && p < DMAPIPE_MAX_PLANES; p++) {
		uint32_t sa = c->stride_align[p], oa = c->offset_align[p];

		if (sa > 1 && l->planes[p].stride % sa)
			return misaligned(why, len, p, "stride", l->planes[p].stride, sa);
		if (oa > 1 && l->planes[p].offset % oa)
			return misaligned(why, len, p, "offset", l->planes[p].offset, oa);
	}
	return 0;
}

void dmapipe_constraints_merge(struct dmapipe_constraints *into,
			       const struct dmapipe_constraints *c)
{
	/* powers of two: the least common multiple is the larger */
	for (unsigned int p = 0; p < DMAPIPE_MAX_PLANES; p++) {
		into->stride_align[p] = MAX(into->stride_align[p], c->stride_align[p]);
		into->offset_align[p] = MAX(into->offset_align[p], c->offset_align[p]);
	}
	into->min_buffers += c->min_buffers;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return a > 1 ? (v + a - 1) / a * a : v;
}

int dmapipe_layout_init_constrained(struct dmapipe_layout *layout,
				    const struct dmapipe_format *format,
				    const struct dmapipe_constraints *c)
{
	uint32_t base = 0;
	uint64_t end = 0;
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	/*
	 * Every plane's stride the tightest multiple of the largest alignment
	 * asked (devices that read packed rows ask 1), 64 when nobody asked.
	 */
	for (unsigned int p = 0; p < DMAPIPE_MAX_PLANES; p++)
		base = MAX(base, c->stride_align[p]);
	if (base == 0)
		base = 64;
	ret = dmapipe_layout_init(layout, format, base);
	if (ret < 0)
		return ret;
	for (uint32_t p = 0; p < layout->n_planes; p++) {
		uint64_t rows = layout->planes[p].stride ?
			dmapipe_layout_plane_size(layout, p) / layout->planes[p].stride : 0;

		layout->planes[p].offset = align_up(end, c->offset_align[p]);
		end = layout->planes[p].offset + (uint64_t)layout->planes[p].stride * rows;
	}
	layout->objects[0].size = align_up(end, page > 0 ? (uint64_t)page : 4096);
	return dmapipe_layout_check(layout, NULL) == 0 ? 0 : -EINVAL;
}

enum import_need constraints_import_need(const char *device)
{
	static const char *const kinds[] = { "card", "renderD" };
	const char *rest;

	if (strncmp(device, DRI_DIR "/", sizeof(DRI_DIR)) != 0)
		return IMPORT_ANY;
	rest = device + sizeof(DRI_DIR);
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		size_t len = strlen(kinds[k]), digits;

		if (strncmp(rest, kinds[k], len) != 0)
			continue;
		digits = strspn(rest + len, "0123456789");
		/* the kernel's names: a decimal minor, no sign, no leading zero */
		if (digits >= 1 && digits <= 4 && rest[len + digits] == '\0' &&
		    (digits == 1 || rest[len] != '0'))
			return IMPORT_DRM;
	}
	return IMPORT_BAD_NAME;
}

void constraints_bad_name(const char *device, char *why, size_t len)
{
	snprintf(why, len, "import_device \"%.64s\" is not a DRM node name "
		 "(" DRI_DIR "/cardN or " DRI_DIR "/renderDN)", device);
}
