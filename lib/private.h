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

/*
 * cold: a branch that logs is one the stream rarely takes, and GCC moves
 * it out of the function's body (to .text.unlikely), so that the code a
 * frame runs after a sleep spans fewer lines and pages. The same goes for
 * the calls that end a connection for a protocol violation.
 */
void dmapipe_log_internal(enum dmapipe_log_priority priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), cold));

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

/* ---- copy accounting and strict mode (copy.c) ----------------------- */

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
/* True for a known single-plane, unsubsampled format: RGB (and R8/R16), not Y'CbCr. */
bool dmapipe_format_is_rgb(uint32_t fourcc);
/*
 * Sets every enumerated field of @info beyond this library's values, and a
 * field order for frames that are not interlaced, to unknown, so that
 * @info's enums pass dmapipe_format_info_check(). Returns 0 when nothing
 * changed, else -EINVAL with *@why (if not NULL) describing the first
 * value that did ("unknown colour matrix").
 */
int dmapipe_format_info_sanitize_enums(struct dmapipe_format_info *info, const char **why);

/* ---- consumers' constraints (constraints.c) ------------------------- */

/*
 * The producer's rule for several consumers: into's alignments become the
 * least common multiple with @c's (the larger: both are powers of two),
 * and @c's min_buffers add to into's. Formats, modifiers and devices are
 * each consumer's own to check.
 */
void dmapipe_constraints_merge(struct dmapipe_constraints *into,
			       const struct dmapipe_constraints *c);
/*
 * A single-object linear layout of @format whose strides and plane
 * offsets satisfy @c's alignments: rows the tightest multiple of the
 * largest stride alignment asked (64 when none is), planes in order, each
 * at the first offset its alignment allows, the object's size rounded up
 * to a page; fds -1. 0 or -EINVAL.
 */
int dmapipe_layout_init_constrained(struct dmapipe_layout *layout,
				    const struct dmapipe_format *format,
				    const struct dmapipe_constraints *c);

#define DRI_DIR "/dev/dri"

/* What a consumer's import_device asks of the memory of the producer's buffers. */
enum import_need {
	IMPORT_ANY,      /* "", "cpu", or a device not under DRI_DIR: the consumer's to try */
	IMPORT_DRM,      /* DRI_DIR/cardN or DRI_DIR/renderDN: a DRM device's memory */
	IMPORT_BAD_NAME, /* under DRI_DIR but not a node name: refused */
};
/* The need of an import_device (NUL-terminated); opens nothing. */
enum import_need constraints_import_need(const char *device);
/* The reason an import_device that is IMPORT_BAD_NAME is refused, into @why. */
void constraints_bad_name(const char *device, char *why, size_t len);

/* ---- the allocator consumers' imports need (alloc.c) ------------------ */

/* Whether @allocator is the "drm" allocator, whose buffers DRM devices import. */
bool allocator_is_drm(const struct dmapipe_allocator *allocator);
/*
 * A new "drm" allocator (a reference for the caller), or NULL with errno
 * and the reason a consumer is refused for in @why.
 */
struct dmapipe_allocator *allocator_new_drm(char *why, size_t len);

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

/*
 * What a buffer calls when its life changes, set by whoever owns that part
 * of it, so that buffer.c knows neither pools nor allocators: a pool keeps
 * its buffers when their last reference goes (core/pool.c), an allocator
 * frees its per-buffer state when one is destroyed (alloc/alloc.c).
 *
 * release: the last reference went. Returns true if the owner keeps the
 *          buffer (alive at refcount 0, e.g. on a pool's free list), false
 *          to let it be destroyed.
 * revive:  a kept buffer got a reference again (refcount 0 -> 1).
 * destroy: the buffer is going away, its fds already closed: frees @data
 *          and what it holds.
 * Any of them may be NULL. release and revive run in whichever thread
 * drops or takes the reference, so what @data points at is guarded by its
 * owner's own lock; the hook itself never changes once added.
 */
struct dmapipe_buffer_hook {
	bool (*release)(struct dmapipe_buffer *buffer, void *data);
	void (*revive)(struct dmapipe_buffer *buffer, void *data);
	void (*destroy)(void *data);
	void *data;
};

/* The allocator that made a buffer and the pool that keeps it. */
#define DMAPIPE_BUFFER_MAX_HOOKS 2

struct dmapipe_buffer {
	unsigned int refcount;            /* atomic (__atomic_*); 0 while a hook keeps it */
	struct dmapipe_layout layout;     /* owns objects[].fd */
	int direct_io_fd[DMAPIPE_MAX_OBJECTS]; /* struct-page backed fd or -1; owned */
	void *map[DMAPIPE_MAX_OBJECTS];   /* [0, map_size) of each object, or NULL */
	uint64_t map_size[DMAPIPE_MAX_OBJECTS]; /* to the last plane's end (linear) */
	/* mapping of direct_io_fd[] when it is a memfd (udmabuf), for O_DIRECT; or NULL */
	void *dio_map[DMAPIPE_MAX_OBJECTS];
	int index;                        /* in its pool (set by the pool), or -1 */
	bool read_only;                   /* some object could only be mapped PROT_READ */
	unsigned int n_hooks;
	struct dmapipe_buffer_hook hooks[DMAPIPE_BUFFER_MAX_HOOKS]; /* in the order added */
};

/*
 * Creates a buffer that takes ownership of layout->objects[].fd, of
 * direct_io_fds[] (may be NULL: none) and of @hook (may be NULL: none), its
 * first hook. Does NOT check fds: callers that received them use
 * dmapipe_buffer_new_from_fds(). Returns NULL on failure, after closing
 * every fd and calling hook->destroy.
 */
struct dmapipe_buffer *dmapipe_buffer_new_internal(const struct dmapipe_layout *layout,
						   const int *direct_io_fds,
						   const struct dmapipe_buffer_hook *hook);

/*
 * Adds @hook to a buffer no other thread can see yet (hooks are read
 * without a lock). On the last unref the hooks' release are asked in the
 * order they were added until one keeps the buffer; destroy runs in the
 * reverse order. Returns 0, or -ENOSPC when the buffer has
 * DMAPIPE_BUFFER_MAX_HOOKS already; the hook is not taken then.
 */
int dmapipe_buffer_add_hook(struct dmapipe_buffer *buffer, const struct dmapipe_buffer_hook *hook);

/*
 * dmapipe_buffer_new_from_fds() for fds a peer sent, without the log line:
 * on failure returns NULL with errno set and *why pointing at a static
 * reason (for the ERROR message a consumer sends back); the refused fds
 * go to the closer (dmapipe_close_deferred()), not closed in this thread.
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

/*
 * Unmaps, closes every fd, runs the hooks' destroy and frees: for a hook
 * that kept the buffer and lets it go (refcount must be 0).
 */
void dmapipe_buffer_destroy(struct dmapipe_buffer *buffer);

/* ---- pools (pool.c) ------------------------------------------------- */

/*
 * Where a pool's buffers come from, registered by whoever creates the pool
 * (dmapipe_pool_new() in alloc/pool-alloc.c registers an allocator), so the
 * pool knows nothing of allocators.
 * make:    returns a new buffer of @format with one reference, or NULL with
 *          errno set. Called without any lock held.
 * release: drops @data when the pool is freed; may be NULL. Buffers that
 *          outlive the pool must hold what they need themselves.
 */
struct dmapipe_pool_source {
	struct dmapipe_buffer *(*make)(const struct dmapipe_format *format, void *data);
	void (*release)(void *data);
	void *data;
};

/*
 * Creates an empty pool of @format whose buffers come from @source (the
 * struct is copied); dmapipe_pool_grow() adds them. Takes ownership of
 * source->data, also on failure (then released at once). @name as for
 * dmapipe_pool_new(). Returns the pool, or NULL with errno set.
 */
struct dmapipe_pool *dmapipe_pool_new_from_source(const struct dmapipe_format *format,
						  const char *name,
						  const struct dmapipe_pool_source *source);

/* ---- allocators (alloc/) -------------------------------------------- */

/*
 * A pool of @count buffers of @allocator (a reference is taken), every one
 * with exactly @layout (copied; its fds ignored), as the producer makes
 * for consumers' constraints. NULL with errno set. In pool-alloc.c.
 */
struct dmapipe_pool *dmapipe_pool_new_layout(struct dmapipe_allocator *allocator,
					     const struct dmapipe_layout *layout,
					     unsigned int count, const char *name);

/*
 * Built with libdrm only. On an open DRM node: creates a one-page dumb
 * buffer, exports it with PRIME and maps it, then frees it all. 0, or
 * -errno of the step that failed (render nodes: -EACCES). In alloc-drm.c;
 * discover.c reports it too.
 */
int dmapipe_drm_probe_dumb(int dev);

/* ---- /dev/dmapipe (kmod.c) ------------------------------------------ */

#define DMAPIPE_KMOD_DEV "/dev/dmapipe"

/*
 * Opens /dev/dmapipe and checks that it speaks the ABI this library was
 * built for (with allocation and struct-page mappings). Returns a new fd
 * (O_CLOEXEC; the caller closes it), or -errno: -ENODEV when the module is
 * not loaded, -EPROTONOSUPPORT for another ABI.
 */
int dmapipe_kmod_open(void);

/*
 * dmapipe.ko's WRITE_FILE / READ_FILE: moves @len bytes
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

/* ---- more small helpers (util.c) ------------------------------------ */

/* The system page size (util.c). */
uint64_t dmapipe_page_size(void);

/* ioctl() retried on EINTR: 0 or -errno (util.c). For any fd. */
int dmapipe_ioctl(int fd, unsigned long request, void *arg);

/*
 * Takes a public options struct from its caller (util.c). Such a struct
 * starts with "uint32_t size", set by its _init() to its sizeof in the
 * headers the caller was built with, so a library can honour what older
 * and newer callers pass. @dst holds the defaults (the struct's _init()
 * ran on it) and is @dst_size, this library's sizeof, bytes long; the
 * caller's first MIN(size, @dst_size) bytes are copied over it, so fields
 * an older caller does not know keep their defaults. A newer caller's
 * larger struct is taken when every byte past @dst_size is zero (it asks
 * for nothing this library lacks). Then dst's size is @dst_size. Pointers
 * inside are copied as they are: they stay the caller's. @min_size is the
 * smallest size accepted (sizeof(uint32_t): just the size field, as
 * dmapipe_server_new() takes). Returns 0, -EINVAL (@src NULL or its size
 * below @min_size) or -E2BIG (a non-zero byte this library does not know).
 */
int dmapipe_options_copy(void *dst, size_t dst_size, const void *src, size_t min_size);

/* ---- rate-limited logging (ratelimit.c) ----------------------------- */

/*
 * A budget of log lines: at most @burst per @interval_ns. Every call site
 * of log_*_ratelimited() has its own (a static one), so a peer that makes
 * one error path fire thousands of times a second costs a few lines, and
 * the rest are counted and reported as "... N similar messages
 * suppressed" when the next interval starts.
 */
struct dmapipe_ratelimit {
	uint64_t interval_ns;
	unsigned int burst;
	uint64_t begin_ns; /* of the current interval; 0 before the first line */
	unsigned int printed, suppressed;
};

#define DMAPIPE_RATELIMIT_INTERVAL_MS 5000
#define DMAPIPE_RATELIMIT_BURST 10

/*
 * True if a line of @priority may be written now under @rl (thread-safe);
 * a line the log priority filters out is not counted. Writes the count of
 * lines suppressed in the interval that just ended, naming @site.
 */
bool dmapipe_ratelimit_allow(struct dmapipe_ratelimit *rl, enum dmapipe_log_priority priority,
			     const char *site);

#define log_ratelimited(priority, ...)                                              \
	do {                                                                        \
		static struct dmapipe_ratelimit rl_ = {                             \
			.interval_ns = DMAPIPE_RATELIMIT_INTERVAL_MS * 1000000ull,  \
			.burst = DMAPIPE_RATELIMIT_BURST,                           \
		};                                                                  \
		if (dmapipe_ratelimit_allow(&rl_, (priority), __func__))            \
			dmapipe_log_internal((priority), __VA_ARGS__);              \
	} while (0)

#define log_error_ratelimited(...) log_ratelimited(DMAPIPE_LOG_ERROR, __VA_ARGS__)
#define log_warn_ratelimited(...) log_ratelimited(DMAPIPE_LOG_WARNING, __VA_ARGS__)
#define log_info_ratelimited(...) log_ratelimited(DMAPIPE_LOG_INFO, __VA_ARGS__)

/* ---- closing what peers sent, off the caller's thread (closer.c) ---- */

/*
 * Takes @fd (if >= 0) and closes it on the closer thread, never in the
 * caller's: the last close of a file a peer sent may wait as long as the
 * peer likes (a TCP socket lingering on unsent data, a FUSE flush, a unix
 * socket holding more such fds). For every fd received from a peer that
 * is dropped before it was identified as a dma-buf, sealed memfd or
 * sync_file, and for connection sockets that may hold a peer's unread
 * fds. The fd is gone from the caller's point of view at once; it stays
 * open in the process until a closer thread gets to it.
 */
void dmapipe_close_deferred(int fd);

/*
 * Waits until every fd handed to dmapipe_close_deferred() so far is
 * closed, up to @timeout_ms (negative: no limit). Returns 0 or
 * -ETIMEDOUT. For tests that count fds.
 */
int dmapipe_closer_wait_idle(int timeout_ms);

/* ---- latency histograms (histogram.c) -------------------------------- */

/* 16 exact buckets, then 8 per power of two up to 2^64 */
#define DMAPIPE_HIST_BUCKETS (16 + 60 * 8)

struct dmapipe_hist {
	uint64_t n, max;
	uint64_t count[DMAPIPE_HIST_BUCKETS];
};

/* Counts @v (a duration in ns, or any other positive quantity). */
void dmapipe_hist_add(struct dmapipe_hist *h, uint64_t v);

/*
 * The value at or below which @permille/1000 of the samples lie (500: the
 * median, 990: p99), as the top of its bucket: at most 12.5 % above the
 * true value, and never above the largest sample. 0 without samples.
 */
uint64_t dmapipe_hist_percentile(const struct dmapipe_hist *h, unsigned int permille);

/* ---- symbol versions (docs/ABI.md) ------------------------------------ */

/*
 * Binds the function @impl to the exported symbol @sym, a string:
 * "name@DMAPIPE_0.1" for a compat version that programs built against 0.1
 * keep calling. The version node must exist in dmapipe.sym, and name must
 * be listed only in the node of its current (default) version. An asm
 * .symver rather than GCC's symver attribute, which clang (CC=clang
 * for -Dfuzzing=true) does not have.
 */
#define DMAPIPE_SYMVER(impl, sym) __asm__(".symver " #impl ", " sym)

/* Fails the build unless @field of struct @now is where the frozen struct
 * @old (a compat-0.N.h copy of an older release's) has it. */
#define DMAPIPE_SAME_OFFSET(now, old, field)                                       \
	_Static_assert(offsetof(struct now, field) == offsetof(struct old, field), \
		       #now "." #field " moved since " #old)

#endif /* DMAPIPE_PRIVATE_H */
