/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocator registry and the parts every allocator shares: layouts,
 * page rounding, one allocation per memory object, building the buffer.
 * The allocators themselves (alloc-*.c) only turn a size into an fd.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"
#include "alloc-private.h"

/*
 * Probe order (see alloc.h). dmapipe's own kernel module comes first: its
 * mappings are struct-page backed, so its buffers also feed O_DIRECT.
 */
static const struct dmapipe_allocator_ops *const allocators[] = {
	&dmapipe_alloc_dmapipe_ops,
	&dmapipe_alloc_heap_ops,
	&dmapipe_alloc_udmabuf_ops,
	&dmapipe_alloc_drm_ops,
	&dmapipe_alloc_memfd_ops,
};

static const struct dmapipe_allocator_ops *find_ops(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(allocators); i++)
		if (strcmp(allocators[i]->name, name) == 0)
			return allocators[i];
	return NULL;
}

static struct dmapipe_allocator *open_allocator(const struct dmapipe_allocator_ops *ops,
						int *error)
{
	struct dmapipe_allocator *allocator;
	int ret;

	allocator = calloc(1, sizeof(*allocator));
	if (!allocator) {
		*error = ENOMEM;
		return NULL;
	}
	allocator->refcount = 1;
	allocator->ops = ops;
	allocator->fd = -1;
	ret = ops->open(allocator);
	if (ret < 0) {
		/* ENOENT means "no such allocator name" to callers (alloc.h) */
		*error = ret == -ENOENT ? ENODEV : -ret;
		free(allocator);
		return NULL;
	}
	*error = 0;
	return allocator;
}

int dmapipe_alloc_open_node(struct dmapipe_allocator *allocator, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		log_debug("%s: %s: %s", allocator->ops->name, path, strerror(err));
		return err == ENOENT ? -ENODEV : -err;
	}
	allocator->fd = fd;
	return 0;
}

DMAPIPE_EXPORT struct dmapipe_allocator *dmapipe_allocator_new(const char *name)
{
	const struct dmapipe_allocator_ops *ops;
	struct dmapipe_allocator *allocator;
	int err;

	if (!name) {
		errno = EINVAL;
		return NULL;
	}
	ops = find_ops(name);
	if (!ops) {
		log_error("unknown allocator \"%s\"", name);
		errno = ENOENT;
		return NULL;
	}
	allocator = open_allocator(ops, &err);
	if (!allocator) {
		log_debug("allocator %s unavailable: %s", name, strerror(err));
		errno = err;
	}
	return allocator;
}

DMAPIPE_EXPORT struct dmapipe_allocator *dmapipe_allocator_new_default(void)
{
	const char *env = getenv("DMAPIPE_ALLOCATOR");
	struct dmapipe_allocator *allocator;
	char tried[256] = "";
	size_t used = 0;
	int err;

	if (env && *env) {
		/* An explicit choice never falls back: a test or a deployment asked for it. */
		allocator = dmapipe_allocator_new(env);
		if (!allocator) {
			err = errno;
			log_error("DMAPIPE_ALLOCATOR=%s: %s", env, strerror(err));
			errno = err;
			return NULL;
		}
		log_info("using allocator %s (from DMAPIPE_ALLOCATOR)", env);
		return allocator;
	}

	for (size_t i = 0; i < ARRAY_SIZE(allocators); i++) {
		const struct dmapipe_allocator_ops *ops = allocators[i];

		allocator = open_allocator(ops, &err);
		if (allocator) {
			if (ops->kind != DMAPIPE_MEM_DMABUF)
				log_warn("no dma-buf provider found (tried %s): "
					 "using sealed %s, which is NOT a dma-buf",
					 used ? tried : "nothing", ops->name);
			else
				log_info("using allocator %s: %s", ops->name, ops->description);
			return allocator;
		}
		if (used < sizeof(tried)) {
			int n = snprintf(tried + used, sizeof(tried) - used, "%s%s: %s",
					 used ? ", " : "", ops->name, strerror(err));

			if (n > 0)
				used += (size_t)n;
		}
	}
	log_error("no allocator works here (tried %s)", tried);
	errno = ENODEV;
	return NULL;
}

DMAPIPE_EXPORT struct dmapipe_allocator *dmapipe_allocator_ref(struct dmapipe_allocator *allocator)
{
	if (allocator)
		__atomic_add_fetch(&allocator->refcount, 1, __ATOMIC_RELAXED);
	return allocator;
}

DMAPIPE_EXPORT void dmapipe_allocator_unref(struct dmapipe_allocator *allocator)
{
	if (!allocator)
		return;
	if (__atomic_sub_fetch(&allocator->refcount, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (allocator->ops->close)
		allocator->ops->close(allocator);
	dmapipe_close(allocator->fd);
	free(allocator);
}

DMAPIPE_EXPORT const char *dmapipe_allocator_get_name(const struct dmapipe_allocator *allocator)
{
	return allocator ? allocator->ops->name : NULL;
}

DMAPIPE_EXPORT enum dmapipe_mem_kind
dmapipe_allocator_get_mem_kind(const struct dmapipe_allocator *allocator)
{
	return allocator ? allocator->ops->kind : DMAPIPE_MEM_NONE;
}

/* ---- the allocator consumers' imports need ---------------------------------- */

bool allocator_is_drm(const struct dmapipe_allocator *allocator)
{
	return allocator && strcmp(allocator->ops->name, "drm") == 0;
}

struct dmapipe_allocator *allocator_new_drm(char *why, size_t len)
{
	struct dmapipe_allocator *drm = dmapipe_allocator_new("drm");

	if (!drm) {
		int err = errno;

		snprintf(why, len, "the producer cannot allocate buffers of a DRM device (drm "
			 "allocator: %s)", strerror(err));
		errno = err;
	}
	return drm;
}

/*
 * The server's own pool and every application that allocates the buffers
 * it registers (dmapipe play, dmapipesink) choose alike, so a consumer
 * naming a GPU is served the same by all of them (docs/PROTOCOL.md
 * section 13, rule 7).
 */
DMAPIPE_EXPORT struct dmapipe_allocator *
dmapipe_allocator_for_constraints(struct dmapipe_allocator *current,
				  const struct dmapipe_constraints *constraints, char *why,
				  size_t len)
{
	char text[160];

	if (!why || !len) {
		why = text;
		len = sizeof(text);
	}
	if (!current || !constraints) {
		snprintf(why, len, "no allocator or no constraints");
		errno = EINVAL;
		return NULL;
	}
	switch (constraints_import_need(constraints->import_device)) {
	case IMPORT_BAD_NAME:
		constraints_bad_name(constraints->import_device, why, len);
		errno = EINVAL;
		return NULL;
	case IMPORT_DRM:
		if (!allocator_is_drm(current))
			return allocator_new_drm(why, len);
		break;
	case IMPORT_ANY:
		break;
	}
	return dmapipe_allocator_ref(current);
}

int dmapipe_alloc_layout_init(struct dmapipe_layout *layout, const struct dmapipe_format *format,
			      const char *who)
{
	int ret = dmapipe_layout_init(layout, format, 0);

	if (ret < 0) {
		char name[16];

		log_error("%scannot lay out %s %ux%u modifier 0x%llx: %s", who,
			  dmapipe_fourcc_to_string(format->fourcc, name, sizeof(name)),
			  format->width, format->height, (unsigned long long)format->modifier,
			  strerror(-ret));
	}
	return ret;
}

/*
 * What a buffer keeps of the allocator that made it, dropped by its hook
 * when it is destroyed: a reference, so the allocator's device stays open
 * while any of its buffers lives (also past a pool that made them), and
 * ops->alloc's per-buffer state.
 */
struct allocation {
	struct dmapipe_allocator *allocator;
	void *priv;
};

static void allocation_destroy(void *data)
{
	struct allocation *a = data;

	if (a->priv && a->allocator->ops->free_priv)
		a->allocator->ops->free_priv(a->allocator, a->priv);
	dmapipe_allocator_unref(a->allocator);
	free(a);
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_allocator_alloc(struct dmapipe_allocator *allocator,
							      const struct dmapipe_format *format)
{
	struct dmapipe_layout layout;
	int ret;

	if (!allocator || !format) {
		errno = EINVAL;
		return NULL;
	}
	ret = dmapipe_alloc_layout_init(&layout, format, "");
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return dmapipe_allocator_alloc_layout(allocator, &layout);
}

DMAPIPE_EXPORT struct dmapipe_buffer *
dmapipe_allocator_alloc_layout(struct dmapipe_allocator *allocator,
			       const struct dmapipe_layout *layout)
{
	const struct dmapipe_allocator_ops *ops;
	struct dmapipe_buffer_hook hook = { .destroy = allocation_destroy };
	int direct_io_fds[DMAPIPE_MAX_OBJECTS];
	struct allocation *allocation;
	struct dmapipe_layout l;
	void *privs[DMAPIPE_MAX_OBJECTS] = { NULL };
	long page = sysconf(_SC_PAGESIZE);
	uint64_t page_mask = (page > 0 ? (uint64_t)page : 4096) - 1;
	const char *why;
	uint32_t i;
	int ret;

	if (!allocator || !layout) {
		errno = EINVAL;
		return NULL;
	}
	ops = allocator->ops;
	l = *layout;
	for (i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		l.objects[i].fd = -1;
		l.objects[i].kind = DMAPIPE_MEM_NONE;
		direct_io_fds[i] = -1;
	}
	for (i = 0; i < l.n_objects && i < DMAPIPE_MAX_OBJECTS; i++) {
		uint64_t size = l.objects[i].size;

		if (__builtin_add_overflow(size, page_mask, &size) || size > (uint64_t)INT64_MAX) {
			errno = EOVERFLOW;
			return NULL;
		}
		l.objects[i].size = size & ~page_mask;
	}
	ret = dmapipe_layout_check(&l, &why);
	if (ret < 0) {
		log_error("refusing to allocate an invalid layout: %s", why);
		errno = -ret;
		return NULL;
	}

	for (i = 0; i < l.n_objects; i++) {
		int fd = ops->alloc(allocator, l.objects[i].size, &direct_io_fds[i], &privs[i]);

		if (fd < 0) {
			ret = fd;
			log_warn("%s: allocating %llu bytes failed: %s", ops->name,
				 (unsigned long long)l.objects[i].size, strerror(-ret));
			goto fail;
		}
		l.objects[i].fd = fd;
		l.objects[i].kind = ops->kind;
		/* cheap (one fstatfs) and catches an exporter that is not what it claims */
		if (ops->kind == DMAPIPE_MEM_DMABUF && !dmapipe_fd_is_dmabuf(fd)) {
			log_error("%s: allocated fd is not a dma-buf", ops->name);
			ret = -EPROTO;
			i++;
			goto fail;
		}
		if (i > 0 && privs[i]) {
			/* buffers keep one allocator state pointer; see private.h */
			log_error("%s: per-object allocator state needs a single-object layout",
				  ops->name);
			ret = -ENOTSUP;
			i++;
			goto fail;
		}
	}

	allocation = malloc(sizeof(*allocation));
	if (!allocation) {
		ret = -ENOMEM;
		goto fail;
	}
	allocation->allocator = dmapipe_allocator_ref(allocator);
	allocation->priv = privs[0];
	hook.data = allocation;
	/* takes every fd and the allocation, also on failure */
	return dmapipe_buffer_new_internal(&l, direct_io_fds, &hook);

fail:
	for (uint32_t j = 0; j < i; j++) {
		dmapipe_close(l.objects[j].fd);
		dmapipe_close(direct_io_fds[j]);
		if (privs[j] && ops->free_priv)
			ops->free_priv(allocator, privs[j]);
	}
	errno = -ret;
	return NULL;
}

DMAPIPE_EXPORT int dmapipe_allocator_probe_all(struct dmapipe_allocator_info *infos, int max)
{
	for (size_t i = 0; i < ARRAY_SIZE(allocators); i++) {
		const struct dmapipe_allocator_ops *ops = allocators[i];
		struct dmapipe_allocator *allocator;
		int err;

		if (!infos || (int)i >= max)
			continue;
		allocator = open_allocator(ops, &err);
		infos[i].name = ops->name;
		infos[i].description = ops->description;
		infos[i].available = allocator != NULL;
		infos[i].error = err;
		infos[i].kind = ops->kind;
		dmapipe_allocator_unref(allocator);
	}
	return (int)ARRAY_SIZE(allocators);
}
