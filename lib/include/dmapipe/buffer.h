/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Buffers, frames and pools.
 *
 * A dmapipe_buffer is a refcounted set of memory objects (dma-buf or sealed
 * memfd fds) with a fixed layout. A buffer that belongs to a pool goes back
 * to its pool when its last reference is dropped, so "who holds this
 * buffer" is always the set of references: the application while it draws,
 * and one lease per consumer that was sent the frame.
 */
#ifndef DMAPIPE_BUFFER_H
#define DMAPIPE_BUFFER_H

#include <stdbool.h>
#include <stdint.h>

#include <dmapipe/format.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_buffer;
struct dmapipe_pool;
struct dmapipe_allocator;

enum dmapipe_frame_flags {
	DMAPIPE_FRAME_KEYFRAME = 1u << 0,
	/** the producer knows the content is damaged (e.g. a DMA error) */
	DMAPIPE_FRAME_CORRUPTED = 1u << 1,
	/** frames before this one were dropped or the stream restarted */
	DMAPIPE_FRAME_DISCONTINUITY = 1u << 2,
};

/** Per-frame metadata: what changes from one use of a buffer to the next. */
struct dmapipe_frame_meta {
	uint64_t sequence;     /**< producer's frame number; gaps are drops */
	uint64_t timestamp_ns; /**< capture time, CLOCK_MONOTONIC */
	uint32_t flags;        /**< enum dmapipe_frame_flags */
	uint32_t reserved;
	/** bytes of payload per plane; 0 means "the whole plane" */
	uint64_t bytes_used[DMAPIPE_MAX_PLANES];
	/**
	 * sync_file fd that signals when the frame's content is complete, or
	 * -1. The frame's owner owns it (see dmapipe_server_queue()).
	 */
	int acquire_fence;
};

/** Resets @meta to zero with acquire_fence = -1. Since 0.1. */
void dmapipe_frame_meta_init(struct dmapipe_frame_meta *meta);

/**
 * Creates a buffer from fds the caller already has (V4L2 EXPBUF, a DRM
 * PRIME export, another library). Takes ownership of every fd in
 * layout->objects[] on success and on failure. Each fd is identified
 * (dma-buf or sealed memfd; anything else is -EBADFD) and its size checked
 * against the layout. Returns a buffer with one reference. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_buffer_new_from_fds(const struct dmapipe_layout *layout);

struct dmapipe_buffer *dmapipe_buffer_ref(struct dmapipe_buffer *buffer);
/** Drops a reference; at zero the buffer goes back to its pool, or is freed. */
void dmapipe_buffer_unref(struct dmapipe_buffer *buffer);
/** The current number of references (for tests and diagnostics). */
unsigned int dmapipe_buffer_get_refcount(const struct dmapipe_buffer *buffer);

/** The layout; fds in it stay owned by the buffer. Since 0.1. */
const struct dmapipe_layout *dmapipe_buffer_get_layout(const struct dmapipe_buffer *buffer);

/** DMAPIPE_MEM_DMABUF only if every object is a dma-buf. Since 0.1. */
enum dmapipe_mem_kind dmapipe_buffer_get_mem_kind(const struct dmapipe_buffer *buffer);

/**
 * An fd of @object whose userspace mapping is backed by struct pages, so
 * O_DIRECT and io_uring can DMA from it: the memfd behind a udmabuf, the
 * memfd itself, or -1 if there is none. Owned by the buffer. Since 0.1.
 */
int dmapipe_buffer_get_direct_io_fd(const struct dmapipe_buffer *buffer,
				    unsigned int object);

/** The index the buffer has in its pool, or -1. Since 0.1. */
int dmapipe_buffer_get_index(const struct dmapipe_buffer *buffer);

/**
 * Maps every object (once; the mapping lives as long as the buffer, because
 * mapping per frame costs milliseconds of page faults at 4K) and returns a
 * pointer to @plane's first byte, or NULL with errno set. Since 0.1.
 */
void *dmapipe_buffer_map_plane(struct dmapipe_buffer *buffer, unsigned int plane);

enum dmapipe_access {
	DMAPIPE_ACCESS_READ = 1,
	DMAPIPE_ACCESS_WRITE = 2,
	DMAPIPE_ACCESS_RW = 3,
};

/**
 * Brackets CPU access to a mapped buffer: DMA_BUF_IOCTL_SYNC START/END on
 * each dma-buf object (a no-op for memfds). Every CPU read or write of the
 * mapping must happen between begin and end. Since 0.1.
 */
int dmapipe_buffer_begin_cpu_access(struct dmapipe_buffer *buffer, enum dmapipe_access access);
int dmapipe_buffer_end_cpu_access(struct dmapipe_buffer *buffer, enum dmapipe_access access);

/**
 * Names every dma-buf object (DMA_BUF_SET_NAME, at most 31 characters, e.g.
 * "producer:stream:3"), visible in /proc/PID/fdinfo and debugfs. Returns 0,
 * or -ENOTTY where the kernel cannot name dma-bufs (not an error for
 * callers that only want the name when possible). Since 0.1.
 */
int dmapipe_buffer_set_name(struct dmapipe_buffer *buffer, const char *name);

/**
 * Copies the pixels of @src into @dst (same format and size, any strides),
 * counted in the process-wide copy statistics. This is the only pixel copy
 * the library makes, and only where a caller asked for it. In strict mode
 * (dmapipe_set_strict()) it copies nothing and returns -EPERM. Since 0.1.
 */
int dmapipe_buffer_copy_pixels(struct dmapipe_buffer *dst, struct dmapipe_buffer *src);

/**
 * Copies the pixels of a frame in ordinary memory into @dst: @planes[p]
 * points at plane p's first row and @strides[p] is its stride, one entry
 * per plane of @dst's layout (same format and size assumed, plane order
 * as in the layout). The memory is only read. Counted in the copy
 * statistics; -EPERM in strict mode. For producers whose frames arrive in
 * memory that cannot be shared (a GStreamer element's system memory).
 * Returns 0, -EINVAL, -ENOTSUP (tiled layout), -EACCES (read-only
 * buffer) or -EPERM. Since 0.1.
 */
int dmapipe_buffer_copy_from_memory(struct dmapipe_buffer *dst, uint8_t *const planes[],
				    const uint32_t strides[]);

/**
 * The other direction: copies the pixels of @src into ordinary memory
 * described like dmapipe_buffer_copy_from_memory(), counted, -EPERM in
 * strict mode. For consumers whose next stage cannot take the buffer's
 * strides. Since 0.1.
 */
int dmapipe_buffer_copy_to_memory(struct dmapipe_buffer *src, uint8_t *const planes[],
				  const uint32_t strides[]);

/* ---- pools ---------------------------------------------------------- */

/**
 * Creates a pool of @count buffers of @format from @allocator (NULL: the
 * best available, see dmapipe_allocator_new_default()), each mapped and
 * pre-faulted once. The pool keeps a reference on the allocator. Buffers
 * are named "@name:@index" when @name is not NULL. Since 0.1.
 */
struct dmapipe_pool *dmapipe_pool_new(struct dmapipe_allocator *allocator,
				      const struct dmapipe_format *format,
				      unsigned int count, const char *name);

/**
 * Frees the pool. Buffers still referenced elsewhere stay valid and are
 * freed when their last reference goes. Since 0.1.
 */
void dmapipe_pool_free(struct dmapipe_pool *pool);

/**
 * Takes a free buffer (one nobody references) and returns it with one
 * reference owned by the caller, or NULL with errno EAGAIN when every
 * buffer is in use. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_pool_acquire(struct dmapipe_pool *pool);

unsigned int dmapipe_pool_get_size(const struct dmapipe_pool *pool);
unsigned int dmapipe_pool_get_free(const struct dmapipe_pool *pool);
/** Buffer @index of the pool (no reference is added). */
struct dmapipe_buffer *dmapipe_pool_get_buffer(struct dmapipe_pool *pool, unsigned int index);
/** Adds @n buffers to the pool. Returns 0 or a negative errno. */
int dmapipe_pool_grow(struct dmapipe_pool *pool, unsigned int n);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_BUFFER_H */
