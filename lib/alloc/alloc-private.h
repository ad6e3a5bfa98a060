/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocator vtable (alloc.c) and what the allocators share.
 */
#ifndef DMAPIPE_ALLOC_PRIVATE_H
#define DMAPIPE_ALLOC_PRIVATE_H

#include "private.h"

struct dmapipe_allocator_ops {
	const char *name;
	const char *description;
	enum dmapipe_mem_kind kind;
	/*
	 * Opens the device into allocator->fd (if it has one); returns 0 or
	 * -errno (-ENODEV when absent).
	 */
	int (*open)(struct dmapipe_allocator *allocator);
	/*
	 * Releases what open set up besides allocator->fd, which alloc.c
	 * closes; may be NULL.
	 */
	void (*close)(struct dmapipe_allocator *allocator);
	/*
	 * Allocates one object of @size bytes (page-aligned) and returns its fd
	 * (a dma-buf or sealed memfd, O_CLOEXEC) or -errno. *direct_io_fd gets
	 * a struct-page backed fd for the same memory, or -1. *priv may be set
	 * to per-buffer state released by free_priv.
	 */
	int (*alloc)(struct dmapipe_allocator *allocator, uint64_t size,
		     int *direct_io_fd, void **priv);
	void (*free_priv)(struct dmapipe_allocator *allocator, void *priv);
};

struct dmapipe_allocator {
	unsigned int refcount;
	const struct dmapipe_allocator_ops *ops;
	int fd;      /* device fd, or -1 */
	void *priv;  /* allocator-wide state */
};

extern const struct dmapipe_allocator_ops dmapipe_alloc_dmapipe_ops;
extern const struct dmapipe_allocator_ops dmapipe_alloc_heap_ops;
extern const struct dmapipe_allocator_ops dmapipe_alloc_udmabuf_ops;
extern const struct dmapipe_allocator_ops dmapipe_alloc_drm_ops;
extern const struct dmapipe_allocator_ops dmapipe_alloc_memfd_ops;

/*
 * Opens the device node @path (O_CLOEXEC is added to @flags) into
 * allocator->fd, for an allocator's open. Returns 0 or -errno; a missing
 * node is -ENODEV, because -ENOENT means "no such allocator" (alloc.h).
 */
int dmapipe_alloc_open_node(struct dmapipe_allocator *allocator, const char *path, int flags);

/*
 * dmapipe_layout_init() with the default stride alignment, logging as an
 * error, after the prefix @who (e.g. "pool: "), why @format cannot be laid
 * out. Returns 0 or -errno.
 */
int dmapipe_alloc_layout_init(struct dmapipe_layout *layout, const struct dmapipe_format *format,
			      const char *who);

/* Creates a memfd of @size bytes sealed with F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL (never F_SEAL_WRITE, which udmabuf refuses); returns the fd
 * or -errno. Shared by the memfd and udmabuf allocators. */
int dmapipe_memfd_create_sealed(const char *name, uint64_t size);

#endif /* DMAPIPE_ALLOC_PRIVATE_H */
