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

/*
 * True if @fd is a sync_file (the only kind of fence the protocol carries).
 * A fence of any other kind could never signal and would pin a buffer.
 */
bool dmapipe_fd_is_sync_file(int fd);

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

/* ---- allocators and dmapipe.ko (alloc/) ----------------------------- */

/*
 * Built with libdrm only. On an open DRM node: creates a one-page dumb
 * buffer, exports it with PRIME and maps it, then frees it all. 0, or
 * -errno of the step that failed (render nodes: -EACCES). In alloc-drm.c;
 * discover.c reports it too.
 */
int dmapipe_drm_probe_dumb(int dev);

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

/* The system page size (util.c). */
uint64_t dmapipe_page_size(void);

/* ioctl() retried on EINTR: 0 or -errno (util.c). */
int dmapipe_ioctl(int fd, unsigned long request, void *arg);

/* A V4L2 fourcc as its four characters, or 0x%08x if they do not print (util.c). */
const char *dmapipe_v4l2_fcc(uint32_t code, char buf[16]);

#endif /* DMAPIPE_PRIVATE_H */
