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
	/**
	 * the pixels are the test pattern (docs/PATTERN.md) of the frame's
	 * sequence number, so a consumer can verify them; set by producers
	 * that draw it (dmapipe serve without --device), kept in recordings
	 * and replays. Since 0.1.
	 */
	DMAPIPE_FRAME_PATTERN = 1u << 3,
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

/**
 * Resets the caller's @meta to zero with acquire_fence = -1 (no fence); an
 * fd it held is not closed. @meta NULL: does nothing. Since 0.1.
 */
void dmapipe_frame_meta_init(struct dmapipe_frame_meta *meta);

/**
 * Creates a buffer from fds the caller already has (V4L2 EXPBUF, a DRM
 * PRIME export, another library). Takes ownership of every fd in
 * layout->objects[0..n_objects) on success and on failure; @layout itself
 * is copied. Each fd is identified (dma-buf or sealed memfd) and its size
 * checked against the layout; the kinds and sizes in @layout are replaced
 * by what the fds really are. Returns a buffer with one reference, or NULL
 * with errno: EBADFD (not a dma-buf or memfd, or smaller than declared),
 * EPERM (a memfd not sealed against shrinking), EINVAL (a bad layout, the
 * same fd twice) or ENOMEM; the reason is logged. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_buffer_new_from_fds(const struct dmapipe_layout *layout);

/**
 * Adds a reference, owned by the caller, and returns @buffer (NULL for
 * NULL). Taking a reference on a free pool buffer (one from
 * dmapipe_pool_get_buffer() that nobody holds) takes it off the pool's free
 * list. Safe in any thread. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_buffer_ref(struct dmapipe_buffer *buffer);

/**
 * Drops a reference. At zero a pool buffer goes back to its pool's free
 * list; any other buffer, and a pool buffer whose pool was freed, is
 * destroyed: its mappings go, its fds are closed and it drops its reference
 * on the allocator that made it. Safe in any thread, also while another
 * frees the pool. NULL: does nothing. Since 0.1.
 */
void dmapipe_buffer_unref(struct dmapipe_buffer *buffer);

/**
 * The current number of references, 0 for a free pool buffer or NULL; for
 * tests and diagnostics, since another thread may change it at once.
 * Since 0.1.
 */
unsigned int dmapipe_buffer_get_refcount(const struct dmapipe_buffer *buffer);

/**
 * The buffer's layout, valid as long as the buffer; the fds in it stay
 * owned by the buffer (duplicate one to keep it). NULL for NULL. Since 0.1.
 */
const struct dmapipe_layout *dmapipe_buffer_get_layout(const struct dmapipe_buffer *buffer);

/**
 * DMAPIPE_MEM_DMABUF only if every object is a dma-buf, DMAPIPE_MEM_MEMFD if
 * some object is a memfd, DMAPIPE_MEM_NONE for NULL. Since 0.1.
 */
enum dmapipe_mem_kind dmapipe_buffer_get_mem_kind(const struct dmapipe_buffer *buffer);

/**
 * An fd of @object whose userspace mapping is backed by struct pages, so
 * O_DIRECT and io_uring can DMA from it: the memfd behind a udmabuf, the
 * memfd itself, a dmapipe.ko dma-buf, or -1 if there is none (also for NULL
 * or an object out of range). Owned by the buffer: do not close it.
 * Since 0.1.
 */
int dmapipe_buffer_get_direct_io_fd(const struct dmapipe_buffer *buffer,
				    unsigned int object);

/**
 * The index the buffer has in its pool (see dmapipe_pool_get_buffer()), or
 * -1 for a buffer not made by a pool and for NULL. A buffer keeps its index
 * after its pool is freed. Since 0.1.
 */
int dmapipe_buffer_get_index(const struct dmapipe_buffer *buffer);

/**
 * Maps every object (once; the mapping lives as long as the buffer, because
 * mapping per frame costs milliseconds of page faults at 4K) and returns a
 * pointer to @plane's first byte. The mapping is the buffer's: do not unmap
 * it, and bracket access with dmapipe_buffer_begin_cpu_access() / _end_.
 * An object that cannot be mapped writable is mapped read-only. Returns
 * NULL with errno: EINVAL for NULL or a plane out of range, or mmap's error.
 * Since 0.1.
 */
void *dmapipe_buffer_map_plane(struct dmapipe_buffer *buffer, unsigned int plane);

enum dmapipe_access {
	DMAPIPE_ACCESS_READ = 1,
	DMAPIPE_ACCESS_WRITE = 2,
	DMAPIPE_ACCESS_RW = 3,
};

/**
 * Begins CPU access to a mapped buffer: DMA_BUF_IOCTL_SYNC START on each
 * dma-buf object (a no-op for memfds). Every CPU read or write of the
 * mapping must happen between begin and dmapipe_buffer_end_cpu_access()
 * with the same @access. Returns 0, -EINVAL (NULL, or @access not READ,
 * WRITE or RW), -EACCES (WRITE on a read-only buffer) or the ioctl's -errno,
 * after ending what it had started. Since 0.1.
 */
int dmapipe_buffer_begin_cpu_access(struct dmapipe_buffer *buffer, enum dmapipe_access access);

/**
 * Ends CPU access begun with dmapipe_buffer_begin_cpu_access():
 * DMA_BUF_IOCTL_SYNC END on each dma-buf object, every object even if one
 * fails, so no started sync is left open. Returns 0, -EINVAL (NULL or a bad
 * @access) or the first ioctl's -errno. Since 0.1.
 */
int dmapipe_buffer_end_cpu_access(struct dmapipe_buffer *buffer, enum dmapipe_access access);

/**
 * Names every dma-buf object (DMA_BUF_SET_NAME, at most 31 characters, e.g.
 * "producer:stream:3"), visible in /proc/PID/fdinfo and debugfs; @name is
 * copied. Returns 0, -EINVAL for NULL, or -ENOTTY where the kernel cannot
 * name dma-bufs and for memfds, which are named at creation (not an error
 * for callers that only want the name when possible). Since 0.1.
 */
int dmapipe_buffer_set_name(struct dmapipe_buffer *buffer, const char *name);

/**
 * Copies the pixels of @src into @dst (same format and size, any strides),
 * counted in the process-wide copy statistics. The library copies pixels
 * only here and in the two functions below, and only where a caller asked
 * for it. Both buffers stay the caller's. Returns 0, -EINVAL (NULL, the same
 * buffer twice, formats or sizes that differ), -ENOTSUP (a tiled or unknown
 * format), -EACCES (@dst is read-only), -EPERM in strict mode
 * (dmapipe_set_strict(); nothing copied), or -errno of mapping or
 * DMA_BUF_IOCTL_SYNC. Since 0.1.
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
 * described like dmapipe_buffer_copy_from_memory() (only the rows' pixel
 * bytes are written, not the padding up to each stride), counted, -EPERM
 * in strict mode. For consumers whose next stage cannot take the buffer's
 * strides. Returns 0, -EINVAL, -ENOTSUP (tiled layout) or -EPERM.
 * Since 0.1.
 */
int dmapipe_buffer_copy_to_memory(struct dmapipe_buffer *src, uint8_t *const planes[],
				  const uint32_t strides[]);

/* ---- pools ---------------------------------------------------------- */

/**
 * Creates a pool of @count buffers of @format from @allocator (NULL: the
 * best available, see dmapipe_allocator_new_default()), each mapped and
 * pre-faulted once. The pool takes its own reference on the allocator (the
 * caller keeps its own), and each buffer one more, so buffers may outlive
 * both the pool and the allocator. Buffers are named "@name:@index" when
 * @name is not NULL (@name is copied). Returns the pool, to be freed with
 * dmapipe_pool_free(), or NULL with errno: EINVAL for a format that cannot
 * be laid out, else the allocator's error. Since 0.1.
 */
struct dmapipe_pool *dmapipe_pool_new(struct dmapipe_allocator *allocator,
				      const struct dmapipe_format *format,
				      unsigned int count, const char *name);

/**
 * Frees the pool and its free buffers, and drops its reference on the
 * allocator. Buffers still referenced elsewhere stay valid and are
 * destroyed when their last reference goes, in whichever thread. NULL:
 * does nothing. Since 0.1.
 */
void dmapipe_pool_free(struct dmapipe_pool *pool);

/**
 * Takes a free buffer (one nobody references; the last one returned is
 * taken first) and returns it with one reference owned by the caller, or
 * NULL with errno EAGAIN when every buffer is in use, EINVAL for NULL.
 * Since 0.1.
 */
struct dmapipe_buffer *dmapipe_pool_acquire(struct dmapipe_pool *pool);

/** The number of buffers in the pool, busy or free; 0 for NULL. Since 0.1. */
unsigned int dmapipe_pool_get_size(const struct dmapipe_pool *pool);

/**
 * The number of free buffers (nobody references them); 0 for NULL. Another
 * thread may change it at once by dropping a reference. Since 0.1.
 */
unsigned int dmapipe_pool_get_free(const struct dmapipe_pool *pool);

/**
 * Buffer @index (0 .. size - 1) of the pool, busy or free, without adding a
 * reference: the pointer is valid while the pool or a reference holds the
 * buffer, so take one with dmapipe_buffer_ref() to keep or use it. Returns
 * NULL with errno EINVAL for NULL or an index out of range. Since 0.1.
 */
struct dmapipe_buffer *dmapipe_pool_get_buffer(struct dmapipe_pool *pool, unsigned int index);

/**
 * Adds @n free buffers to the pool, made, mapped and named like the first
 * ones, with the next indices. On failure none is added. Returns 0, or
 * -EINVAL for NULL, -EOVERFLOW past INT32_MAX buffers, -ENOMEM, or the
 * allocator's -errno. Since 0.1.
 */
int dmapipe_pool_grow(struct dmapipe_pool *pool, unsigned int n);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_BUFFER_H */
