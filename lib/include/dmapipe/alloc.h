/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allocators: where buffers come from.
 *
 * Probed in this order by dmapipe_allocator_new_default():
 *   1. "dmapipe"  - dmapipe's own kernel module (/dev/dmapipe), when present
 *   2. "heap"     - dma-heap, /dev/dma_heap/system
 *   3. "udmabuf"  - a sealed memfd turned into a dma-buf by /dev/udmabuf;
 *                   the memfd is kept and feeds direct I/O
 *   4. "drm"      - DRM PRIME dumb buffers from vgem, else any card node
 *   5. "memfd"    - memfd sealed against shrink and grow: NOT a dma-buf, the
 *                   declared fallback; reported as such everywhere
 * The environment variable DMAPIPE_ALLOCATOR=name overrides the order.
 */
#ifndef DMAPIPE_ALLOC_H
#define DMAPIPE_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include <dmapipe/format.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_allocator;
struct dmapipe_buffer;
struct dmapipe_constraints;

/**
 * Opens the allocator called @name ("heap", "udmabuf", "drm", "memfd",
 * "dmapipe") and returns it with one reference owned by the caller, or NULL
 * with errno: ENOENT for an unknown name, ENODEV (or the open error) when
 * this machine lacks it. Since 0.1.
 */
struct dmapipe_allocator *dmapipe_allocator_new(const char *name);

/**
 * The allocator named by DMAPIPE_ALLOCATOR (never another when it is set),
 * else the first in the probe order that works here, with one reference
 * owned by the caller; the choice is logged, a warning when it is not a
 * dma-buf provider. NULL with errno: ENODEV when none works, or
 * dmapipe_allocator_new()'s error for the named one. Since 0.1.
 */
struct dmapipe_allocator *dmapipe_allocator_new_default(void);

/**
 * Adds a reference, owned by the caller, and returns @allocator (NULL for
 * NULL). Safe in any thread. Since 0.1.
 */
struct dmapipe_allocator *dmapipe_allocator_ref(struct dmapipe_allocator *allocator);

/**
 * Drops a reference; the last one closes the allocator's device. Every
 * buffer and pool the allocator made holds a reference of its own, so the
 * caller may drop its reference while they live. Safe in any thread. NULL:
 * does nothing. Since 0.1.
 */
void dmapipe_allocator_unref(struct dmapipe_allocator *allocator);

/** "heap", "udmabuf", ...: static, never freed; NULL for NULL. Since 0.1. */
const char *dmapipe_allocator_get_name(const struct dmapipe_allocator *allocator);

/**
 * What its buffers are: DMAPIPE_MEM_DMABUF or DMAPIPE_MEM_MEMFD;
 * DMAPIPE_MEM_NONE for NULL. Since 0.1.
 */
enum dmapipe_mem_kind dmapipe_allocator_get_mem_kind(const struct dmapipe_allocator *allocator);

/**
 * Allocates one buffer of @format with a linear single-object layout (see
 * dmapipe_layout_init()). Returns a buffer with one reference owned by the
 * caller (the buffer holds a reference on @allocator), or NULL with errno:
 * EINVAL for NULL or a format that cannot be laid out, else the
 * allocator's error (e.g. ENOMEM). Since 0.1.
 */
struct dmapipe_buffer *dmapipe_allocator_alloc(struct dmapipe_allocator *allocator,
					       const struct dmapipe_format *format);

/**
 * Allocates one buffer with the given @layout (strides and offsets chosen
 * by the caller, e.g. to match an encoder's alignment); objects[].size must
 * be set (each is rounded up to whole pages), objects[].fd and .kind are
 * ignored, and @layout itself is only read. Returns a buffer with one
 * reference owned by the caller, or NULL with errno: EINVAL for a layout
 * dmapipe_layout_check() refuses, EOVERFLOW, ENOTSUP (an allocator that
 * needs a single object), else the allocator's error. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_allocator_alloc_layout(struct dmapipe_allocator *allocator,
						      const struct dmapipe_layout *layout);

/**
 * The allocator whose buffers every consumer with @constraints can import
 * (merged ones, e.g. from dmapipe_server_get_constraints()), for an
 * application that allocates the buffers it serves: @current, unless
 * import_device names a DRM node (/dev/dri/cardN or /dev/dri/renderDN)
 * and @current is not "drm"; then a new "drm" allocator (vgem first),
 * whose buffers GPU drivers import (docs/PROTOCOL.md section 13, rule 7).
 * Opens nothing the consumer names. Returns a reference owned by the
 * caller (to @current or to the new one), or NULL with errno and the
 * reason, for a consumer's refusal, in @why (@len bytes; may be NULL):
 * EINVAL (a NULL argument, or an import_device under /dev/dri that is not
 * a node name), else dmapipe_allocator_new("drm")'s error. Since 0.2.
 */
struct dmapipe_allocator *dmapipe_allocator_for_constraints(struct dmapipe_allocator *current,
							    const struct dmapipe_constraints *constraints,
							    char *why, size_t len);

/** Availability of one allocator, for `dmapipe info`. */
struct dmapipe_allocator_info {
	const char *name;        /**< "heap", ... */
	const char *description; /**< one line, e.g. "dma-heap /dev/dma_heap/system" */
	bool available;
	int error;               /**< errno when not available */
	enum dmapipe_mem_kind kind;
};

/**
 * Fills up to @max entries of the caller's @infos (may be NULL) in probe
 * order, opening and closing each allocator to see whether it works on
 * this machine; the strings in them are static. Returns the number of
 * allocators known (may exceed @max). Since 0.1.
 */
int dmapipe_allocator_probe_all(struct dmapipe_allocator_info *infos, int max);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_ALLOC_H */
