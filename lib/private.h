/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interfaces of libdmapipe. Nothing here is installed or exported.
 */
#ifndef DMAPIPE_PRIVATE_H
#define DMAPIPE_PRIVATE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dmapipe/dmapipe.h"
#include "dmapipe/device.h"

#define DMAPIPE_EXPORT __attribute__((visibility("default")))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- logging (log.c) ------------------------------------------------ */

void dmapipe_log_internal(enum dmapipe_log_priority priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) dmapipe_log_internal(DMAPIPE_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) dmapipe_log_internal(DMAPIPE_LOG_WARNING, __VA_ARGS__)
#define log_info(...) dmapipe_log_internal(DMAPIPE_LOG_INFO, __VA_ARGS__)
#define log_debug(...) dmapipe_log_internal(DMAPIPE_LOG_DEBUG, __VA_ARGS__)

/* ---- time and small helpers (util.c) -------------------------------- */

uint64_t dmapipe_now_ns(void); /* CLOCK_MONOTONIC */

/* busy-poll.c: epoll_wait() that polls first while messages come back fast */
struct epoll_event;
struct dmapipe_busy_poll {
	uint64_t max_ns;    /* the bound; 0: never poll */
	uint64_t window_ns; /* how long the next wait polls */
};
void dmapipe_busy_poll_init(struct dmapipe_busy_poll *bp, uint32_t max_us);
/* epoll_wait() with the same arguments and results (-1 and errno on error) */
int dmapipe_busy_poll_wait(struct dmapipe_busy_poll *bp, int epfd, struct epoll_event *events,
			   int max_events, int timeout_ms);
/* Copies at most size-1 bytes and always terminates. */
void dmapipe_strlcpy(char *dst, const char *src, size_t size);
/* Closes fd if >= 0 and preserves errno. */
void dmapipe_close(int fd);

/* ---- copy accounting (util.c) --------------------------------------- */

/* Every CPU copy of pixel data anywhere in the library goes through here. */
void dmapipe_count_copy(uint64_t bytes);
/*
 * Asked before every pixel copy: 0, or -EPERM in strict mode (logged as an
 * error naming @what, e.g. "copy_pixels").
 */
int dmapipe_copy_allowed(const char *what);

/* ---- format geometry (format.c) ------------------------------------- */

/* Number of planes of a known linear @fourcc, or 0 if unknown. */
unsigned int dmapipe_format_plane_count(uint32_t fourcc);
/*
 * Bytes of pixel data in one row of @plane (without stride padding) and its
 * number of rows, for a @width x @height frame of @fourcc (subsampled sizes
 * round up). Returns 0, or -EINVAL for an unknown fourcc or plane.
 */
int dmapipe_format_plane_geometry(uint32_t fourcc, uint32_t width, uint32_t height,
				  unsigned int plane, uint64_t *row_bytes, uint32_t *rows);

/* ---- fd identification (fdcheck.c) ---------------------------------- */

/*
 * Identifies an fd received from elsewhere: a dma-buf (size from
 * lseek SEEK_END) or a memfd that carries F_SEAL_SHRINK (size from fstat).
 * Anything else, including an unsealed memfd, is refused: returns -EBADFD
 * (wrong kind), -EPERM (memfd without F_SEAL_SHRINK) or -EBADF (not an open
 * fd) with *why set. kind, size and why may be NULL.
 */
int dmapipe_fd_identify(int fd, enum dmapipe_mem_kind *kind, uint64_t *size,
			const char **why);

/* True if fd is a dma-buf (fstatfs f_type == DMA_BUF_MAGIC). */
bool dmapipe_fd_is_dmabuf(int fd);

/* ---- buffers (buffer.c) --------------------------------------------- */

struct dmapipe_pool;

struct dmapipe_buffer {
	unsigned int refcount;            /* atomic (__atomic_*); 0 while in a pool's free list */
	struct dmapipe_layout layout;     /* owns objects[].fd */
	int direct_io_fd[DMAPIPE_MAX_OBJECTS]; /* struct-page backed fd or -1; owned */
	void *map[DMAPIPE_MAX_OBJECTS];   /* [0, map_size) of each object, or NULL */
	uint64_t map_size[DMAPIPE_MAX_OBJECTS]; /* to the last plane's end (linear) */
	/* mapping of direct_io_fd[] when it is a memfd (udmabuf), for O_DIRECT; or NULL */
	void *dio_map[DMAPIPE_MAX_OBJECTS];
	struct dmapipe_pool *pool;        /* weak; NULL when standalone or pool gone */
	int index;                        /* in pool, or -1 */
	struct dmapipe_allocator *allocator; /* reference, or NULL for imported buffers */
	void *alloc_priv;                 /* allocator's per-buffer state */
	bool in_free_list;
	bool read_only;                   /* some object could only be mapped PROT_READ */
};

/*
 * Creates a buffer that takes ownership of layout->objects[].fd and of
 * direct_io_fds[] (may be NULL: none). Does NOT check fds: callers that
 * received them use dmapipe_buffer_new_from_fds(). Adds its own reference
 * to @allocator (may be NULL). Returns NULL on failure, after closing every
 * fd and releasing @alloc_priv through the allocator's free_priv.
 */
struct dmapipe_buffer *dmapipe_buffer_new_internal(const struct dmapipe_layout *layout,
						   const int *direct_io_fds,
						   struct dmapipe_allocator *allocator,
						   void *alloc_priv);

/*
 * dmapipe_buffer_new_from_fds() without the log line: on failure returns
 * NULL with errno set and *why pointing at a static reason (for the ERROR
 * message a consumer sends back).
 */
struct dmapipe_buffer *dmapipe_buffer_import(const struct dmapipe_layout *layout, const char **why);

/* Maps every object now (and pre-faults them); 0 or -errno. */
int dmapipe_buffer_map_all(struct dmapipe_buffer *buffer);

/*
 * A struct-page backed mapping of object @i for direct I/O: the memfd behind
 * a udmabuf (mapped once, on first use), else the object's own mapping
 * (dmapipe_buffer_map_all() must have run). NULL with errno on failure.
 */
void *dmapipe_buffer_direct_io_map(struct dmapipe_buffer *buffer, unsigned int i);

/* Unmaps, closes every fd and frees; for pool.c (refcount must be 0). */
void dmapipe_buffer_destroy(struct dmapipe_buffer *buffer);

/* ---- pools (pool.c) ------------------------------------------------- */

/*
 * Called by dmapipe_buffer_unref() when the count reaches 0: puts @buffer
 * back on its pool's free list and returns true, or returns false when the
 * buffer has no (live) pool and must be destroyed by the caller.
 */
bool dmapipe_pool_return_buffer(struct dmapipe_buffer *buffer);
/* Called by dmapipe_buffer_ref() on 0 -> 1: takes it off the free list. */
void dmapipe_pool_revive_buffer(struct dmapipe_buffer *buffer);

/* ---- device discovery (discover.c) ---------------------------------- */

/*
 * The role of a V4L2 node with @device_caps whose queues (types and formats
 * filled in) are @queues: mem2mem nodes are encoders, decoders or plain
 * m2m by which side has compressed formats.
 */
enum dmapipe_v4l2_role dmapipe_v4l2_classify(uint32_t device_caps,
					     const struct dmapipe_v4l2_queue *queues,
					     unsigned int n_queues);

/* ---- allocators (alloc.c and alloc-*.c) ----------------------------- */

/*
 * Built with libdrm only. On an open DRM node: creates a one-page dumb
 * buffer, exports it with PRIME and maps it, then frees it all. 0, or
 * -errno of the step that failed (render nodes: -EACCES). In alloc-drm.c;
 * discover.c reports it too.
 */
int dmapipe_drm_probe_dumb(int dev);

struct dmapipe_allocator_ops {
	const char *name;
	const char *description;
	enum dmapipe_mem_kind kind;
	/* Opens the device; returns 0 or -errno (-ENODEV when absent). */
	int (*open)(struct dmapipe_allocator *allocator);
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
 * dmapipe.ko's WRITE_FILE / READ_FILE (alloc-dmapipe.c): moves @len bytes
 * from @offset of the dma-buf @dmabuf_fd to @file_fd at @file_offset (or
 * back), in the kernel, straight from/into the buffer's pages; the only
 * zero-copy route to storage for a buffer whose mapping cannot feed O_DIRECT.
 * @dmabuf_fd must be a dmapipe dma-buf (else -EXDEV), @file_fd a regular
 * file or block device opened with O_DIRECT, offsets and length aligned as
 * its O_DIRECT needs. Neither fd is taken over; the file position does not
 * move. Returns 0 once all @len bytes moved, or -errno (-ENODEV without
 * /dev/dmapipe, -ENODATA when a read hits the end of the file).
 */
int dmapipe_kmod_write_file(int dmabuf_fd, uint64_t offset, uint64_t len, int file_fd,
			    uint64_t file_offset);
int dmapipe_kmod_read_file(int dmabuf_fd, uint64_t offset, uint64_t len, int file_fd,
			   uint64_t file_offset);

/* Creates a memfd of @size bytes sealed with F_SEAL_SHRINK | F_SEAL_GROW |
 * F_SEAL_SEAL (never F_SEAL_WRITE, which udmabuf refuses); returns the fd
 * or -errno. Shared by the memfd and udmabuf allocators. */
int dmapipe_memfd_create_sealed(const char *name, uint64_t size);

/* ---- encoders (encoder.c) -------------------------------------------- */

struct v4l2_format;

/*
 * The layout of a V4L2 raw format (what a device computes: strides from
 * bytesperline, planes one after another in a single-buffer format, one
 * object per plane in an "M" format; objects[].size = sizeimage, fds -1).
 * Returns 0, -ENOTSUP (no DRM equivalent) or -EPROTO (inconsistent).
 */
int dmapipe_encoder_layout_from_v4l2(const struct v4l2_format *fmt, struct dmapipe_layout *layout);

/*
 * Can a device that computed @want import frames of @have in memory of
 * @kind? 0, or -EXDEV with the first reason written to @why.
 */
int dmapipe_encoder_layout_compatible(const struct dmapipe_layout *have, enum dmapipe_mem_kind kind,
				      const struct dmapipe_layout *want, char *why, size_t len);

/* The system page size (util.c). */
uint64_t dmapipe_page_size(void);

/* ioctl() retried on EINTR: 0 or -errno (util.c). */
int dmapipe_ioctl(int fd, unsigned long request, void *arg);

/* A V4L2 fourcc as its four characters, or 0x%08x if they do not print (util.c). */
const char *dmapipe_v4l2_fcc(uint32_t code, char buf[16]);

/* ---- storage-util.c: shared by the recorder and the replay reader ---- */

#include <sys/types.h>

/* A memory object, named by its inode (an fd number can be reused). */
struct dmapipe_file_id {
	dev_t dev;
	ino_t ino;
};

/* Objects a direct-I/O path was found not to work for, newest 64 kept. */
#define DMAPIPE_FILE_SET_MAX 64
struct dmapipe_file_set {
	struct dmapipe_file_id ids[DMAPIPE_FILE_SET_MAX];
	unsigned int n;
};

int dmapipe_file_id_get(int fd, struct dmapipe_file_id *id);
bool dmapipe_file_set_has(const struct dmapipe_file_set *set, const struct dmapipe_file_id *id);
void dmapipe_file_set_add(struct dmapipe_file_set *set, const struct dmapipe_file_id *id);

/* All of @len at @off, retrying short transfers and EINTR: 0 or -errno
 * (a write that makes no progress is -EIO, a read past the end -ENODATA). */
int dmapipe_pwrite_full(int fd, const void *p, size_t len, uint64_t off);
int dmapipe_pread_full(int fd, void *p, size_t len, uint64_t off);

/* Aligned buffers of the counted copy path, kept for reuse (up to 16). */
#define DMAPIPE_STAGING_MAX 16
struct dmapipe_staging {
	struct {
		uint8_t *p;
		size_t size;
	} slot[DMAPIPE_STAGING_MAX];
	unsigned int n;
};

/* A buffer of at least @size bytes aligned to @align (and a page); *got is its size. */
uint8_t *dmapipe_staging_get(struct dmapipe_staging *pool, size_t size, size_t align,
			     size_t *got);
void dmapipe_staging_put(struct dmapipe_staging *pool, uint8_t *p, size_t size);
void dmapipe_staging_clear(struct dmapipe_staging *pool);

#endif /* DMAPIPE_PRIVATE_H */
