/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pools whose buffers come from an allocator: dmapipe_pool_new() registers
 * the allocator as the pool's source (core/pool.c knows no allocators). The
 * pool holds one reference on the allocator and each buffer its own
 * (alloc.c), so buffers may outlive both the pool and the caller's
 * allocator.
 */
#include <stdlib.h>

#include "private.h"
#include "alloc-private.h"

static struct dmapipe_buffer *allocator_make(const struct dmapipe_format *format, void *data)
{
	return dmapipe_allocator_alloc(data, format);
}

static void allocator_release(void *data)
{
	dmapipe_allocator_unref(data);
}

/* @pool with @count buffers, or NULL with errno (and @pool freed). */
static struct dmapipe_pool *grown(struct dmapipe_pool *pool, unsigned int count)
{
	int ret = dmapipe_pool_grow(pool, count);

	if (ret < 0) {
		dmapipe_pool_free(pool);
		errno = -ret;
		return NULL;
	}
	return pool;
}

DMAPIPE_EXPORT struct dmapipe_pool *dmapipe_pool_new(struct dmapipe_allocator *allocator,
						     const struct dmapipe_format *format,
						     unsigned int count, const char *name)
{
	struct dmapipe_pool_source source = {
		.make = allocator_make,
		.release = allocator_release,
	};
	struct dmapipe_layout layout;
	struct dmapipe_pool *pool;
	int ret;

	if (!format) {
		errno = EINVAL;
		return NULL;
	}
	/* refused now, not at the first grow: a pool of 0 buffers is valid */
	ret = dmapipe_alloc_layout_init(&layout, format, "pool: ");
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}

	source.data = allocator ? dmapipe_allocator_ref(allocator) :
				  dmapipe_allocator_new_default();
	if (!source.data)
		return NULL;
	pool = dmapipe_pool_new_from_source(format, name, &source);
	if (!pool)
		return NULL;
	return grown(pool, count);
}

/* A pool whose every buffer has one layout a consumer's constraints chose. */
struct layout_source {
	struct dmapipe_allocator *allocator;
	struct dmapipe_layout layout;
};

static struct dmapipe_buffer *layout_make(const struct dmapipe_format *format, void *data)
{
	struct layout_source *s = data;

	(void)format;
	return dmapipe_allocator_alloc_layout(s->allocator, &s->layout);
}

static void layout_release(void *data)
{
	struct layout_source *s = data;

	dmapipe_allocator_unref(s->allocator);
	free(s);
}

struct dmapipe_pool *dmapipe_pool_new_layout(struct dmapipe_allocator *allocator,
					     const struct dmapipe_layout *layout,
					     unsigned int count, const char *name)
{
	struct dmapipe_pool_source source = {
		.make = layout_make,
		.release = layout_release,
	};
	struct layout_source *s;
	struct dmapipe_pool *pool;

	if (!allocator || !layout) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->allocator = dmapipe_allocator_ref(allocator);
	s->layout = *layout;
	source.data = s;
	pool = dmapipe_pool_new_from_source(&layout->format, name, &source);
	if (!pool)
		return NULL;
	return grown(pool, count);
}
