/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Buffers: refcounted sets of memory objects with a fixed layout.
 *
 * Ownership: the buffer owns layout.objects[].fd and direct_io_fd[] and
 * closes them when it is destroyed. What else happens at the ends of its
 * life is up to its hooks (private.h), set by whoever owns that part of it:
 * a pool keeps its buffers at refcount 0 instead of letting them be
 * destroyed (pool.c), an allocator frees its per-buffer state and drops its
 * reference when one is destroyed (alloc/alloc.c). This file knows neither.
 *
 * Reference counts are atomic and the hooks guard their own state, so
 * references may be dropped from any thread (e.g. a GStreamer streaming
 * thread) while the owner works in another. Everything else about one
 * buffer (map, cpu access, naming) is for one thread at a time.
 *
 * Mappings: each object is mapped once, whole, MAP_SHARED, and pre-faulted
 * with MAP_POPULATE: a fresh 4K frame costs ~10 ms of page faults the first
 * time it is touched, which must happen at setup and never per frame. An
 * object whose fd cannot be mapped writable (a dma-buf opened O_RDONLY, a
 * memfd with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE) is mapped read-only, the
 * buffer is marked read_only and write access is refused with -EACCES.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "private.h"

#ifndef DMA_BUF_NAME_LEN
#define DMA_BUF_NAME_LEN 32
#endif
#ifndef DMA_BUF_SET_NAME
/* 5.2+; the kernel takes the name's address, sized like a pointer. */
#define DMA_BUF_SET_NAME _IOW(DMA_BUF_BASE, 1, const char *)
#endif

/* Serialises first mappings: map_plane() may race with itself otherwise. */
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned int n_objects(const struct dmapipe_buffer *buffer)
{
	return MIN(buffer->layout.n_objects, (uint32_t)DMAPIPE_MAX_OBJECTS);
}

struct dmapipe_buffer *dmapipe_buffer_new_internal(const struct dmapipe_layout *layout,
						   const int *direct_io_fds,
						   const struct dmapipe_buffer_hook *hook)
{
	struct dmapipe_buffer *buffer;
	unsigned int i, n;
	int err = EINVAL;

	if (!layout)
		goto fail_hook;
	n = MIN(layout->n_objects, (uint32_t)DMAPIPE_MAX_OBJECTS);
	if (layout->n_objects == 0 || layout->n_objects > DMAPIPE_MAX_OBJECTS ||
	    layout->n_planes == 0 || layout->n_planes > DMAPIPE_MAX_PLANES)
		goto fail;
	buffer = calloc(1, sizeof(*buffer));
	if (!buffer) {
		err = ENOMEM;
		goto fail;
	}
	buffer->refcount = 1;
	buffer->layout = *layout;
	for (i = 0; i < DMAPIPE_MAX_OBJECTS; i++) {
		buffer->direct_io_fd[i] = i < n && direct_io_fds ? direct_io_fds[i] : -1;
		if (i >= n)
			buffer->layout.objects[i].fd = -1;
	}
	buffer->index = -1;
	if (hook)
		buffer->hooks[buffer->n_hooks++] = *hook;
	return buffer;

fail:
	for (i = 0; i < n; i++) {
		dmapipe_close(layout->objects[i].fd);
		if (direct_io_fds)
			dmapipe_close(direct_io_fds[i]);
	}
fail_hook:
	if (hook && hook->destroy)
		hook->destroy(hook->data);
	errno = err;
	return NULL;
}

int dmapipe_buffer_add_hook(struct dmapipe_buffer *buffer, const struct dmapipe_buffer_hook *hook)
{
	if (!buffer || !hook)
		return -EINVAL;
	if (buffer->n_hooks >= DMAPIPE_BUFFER_MAX_HOOKS)
		return -ENOSPC;
	buffer->hooks[buffer->n_hooks++] = *hook;
	return 0;
}

void dmapipe_buffer_destroy(struct dmapipe_buffer *buffer)
{
	if (!buffer)
		return;
	for (unsigned int i = 0; i < n_objects(buffer); i++) {
		if (buffer->map[i])
			munmap(buffer->map[i], buffer->map_size[i]);
		if (buffer->dio_map[i])
			munmap(buffer->dio_map[i], buffer->map_size[i]);
		dmapipe_close(buffer->layout.objects[i].fd);
		dmapipe_close(buffer->direct_io_fd[i]);
	}
	/* the last added first: a pool's hold on a buffer goes before its allocation */
	for (unsigned int i = buffer->n_hooks; i-- > 0;)
		if (buffer->hooks[i].destroy)
			buffer->hooks[i].destroy(buffer->hooks[i].data);
	free(buffer);
}

static int fail_fds(const struct dmapipe_layout *layout, unsigned int n, const char *what,
		    int err, void (*close_fd)(int fd), const char **why)
{
	/* close each fd once, even if a (refused) layout named it twice */
	for (unsigned int i = 0; i < n; i++) {
		bool seen = false;

		for (unsigned int j = 0; j < i; j++)
			seen |= layout->objects[j].fd == layout->objects[i].fd;
		if (!seen)
			close_fd(layout->objects[i].fd);
	}
	*why = what;
	errno = -err;
	return err;
}

/* dmapipe_buffer_import() closing refused fds with @close_fd */
static struct dmapipe_buffer *import(const struct dmapipe_layout *layout,
				     void (*close_fd)(int fd), const char **why)
{
	struct dmapipe_layout l;
	unsigned int i, n;
	int ret;

	if (!layout) {
		*why = "no layout";
		errno = EINVAL;
		return NULL;
	}
	l = *layout;
	n = MIN(l.n_objects, (uint32_t)DMAPIPE_MAX_OBJECTS);
	for (i = n; i < DMAPIPE_MAX_OBJECTS; i++)
		l.objects[i].fd = -1;

	for (i = 0; i < n; i++) {
		enum dmapipe_mem_kind kind;
		uint64_t size;

		for (unsigned int j = 0; j < i; j++)
			if (l.objects[j].fd == l.objects[i].fd) {
				fail_fds(&l, n, "the same fd is given for two objects", -EINVAL,
					 close_fd, why);
				return NULL;
			}
		ret = dmapipe_fd_identify(l.objects[i].fd, &kind, &size, why);
		if (ret < 0) {
			fail_fds(&l, n, *why, ret, close_fd, why);
			return NULL;
		}
		if (l.objects[i].size > size) {
			fail_fds(&l, n, "an object is smaller than its declared size", -EBADFD,
				 close_fd, why);
			return NULL;
		}
		/* what the fd really is, whatever the sender claimed */
		l.objects[i].kind = kind;
		l.objects[i].size = size;
	}

	ret = dmapipe_layout_check(&l, why);
	if (ret < 0) {
		fail_fds(&l, n, *why, ret, close_fd, why);
		return NULL;
	}
	*why = "out of memory";
	return dmapipe_buffer_new_internal(&l, NULL, NULL);
}

struct dmapipe_buffer *dmapipe_buffer_import(const struct dmapipe_layout *layout, const char **why)
{
	/* they came from a peer: a refused one may be anything (closer.c) */
	return import(layout, dmapipe_close_deferred, why);
}

DMAPIPE_EXPORT struct dmapipe_buffer *
dmapipe_buffer_new_from_fds(const struct dmapipe_layout *layout)
{
	const char *why = NULL;
	/* the application's own fds: closed before this returns, as documented */
	struct dmapipe_buffer *b = import(layout, dmapipe_close, &why);

	if (!b) {
		int err = errno;

		log_warn("refusing buffer: %s", why);
		errno = err;
	}
	return b;
}

DMAPIPE_EXPORT struct dmapipe_buffer *dmapipe_buffer_ref(struct dmapipe_buffer *buffer)
{
	if (!buffer)
		return NULL;
	/* 0 -> 1: someone took a kept buffer (a free pool buffer, by index); it is not free now */
	if (__atomic_fetch_add(&buffer->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		for (unsigned int i = 0; i < buffer->n_hooks; i++)
			if (buffer->hooks[i].revive)
				buffer->hooks[i].revive(buffer, buffer->hooks[i].data);
	return buffer;
}

/* The last reference went: true if a hook keeps the buffer alive. */
static bool kept(struct dmapipe_buffer *buffer)
{
	for (unsigned int i = 0; i < buffer->n_hooks; i++)
		if (buffer->hooks[i].release &&
		    buffer->hooks[i].release(buffer, buffer->hooks[i].data))
			return true;
	return false;
}

DMAPIPE_EXPORT void dmapipe_buffer_unref(struct dmapipe_buffer *buffer)
{
	unsigned int old;

	if (!buffer)
		return;
	old = __atomic_load_n(&buffer->refcount, __ATOMIC_RELAXED);
	do {
		if (old == 0) {
			log_error("unref of buffer %p that has no reference", (void *)buffer);
			return;
		}
	} while (!__atomic_compare_exchange_n(&buffer->refcount, &old, old - 1, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	if (old == 1 && !kept(buffer))
		dmapipe_buffer_destroy(buffer);
}

DMAPIPE_EXPORT unsigned int dmapipe_buffer_get_refcount(const struct dmapipe_buffer *buffer)
{
	return buffer ? __atomic_load_n(&buffer->refcount, __ATOMIC_RELAXED) : 0;
}

DMAPIPE_EXPORT const struct dmapipe_layout *
dmapipe_buffer_get_layout(const struct dmapipe_buffer *buffer)
{
	return buffer ? &buffer->layout : NULL;
}

DMAPIPE_EXPORT enum dmapipe_mem_kind
dmapipe_buffer_get_mem_kind(const struct dmapipe_buffer *buffer)
{
	enum dmapipe_mem_kind kind = DMAPIPE_MEM_DMABUF;

	if (!buffer || n_objects(buffer) == 0)
		return DMAPIPE_MEM_NONE;
	for (unsigned int i = 0; i < n_objects(buffer); i++) {
		switch (buffer->layout.objects[i].kind) {
		case DMAPIPE_MEM_DMABUF:
			break;
		case DMAPIPE_MEM_MEMFD:
			kind = DMAPIPE_MEM_MEMFD;
			break;
		default:
			return DMAPIPE_MEM_NONE;
		}
	}
	return kind;
}

DMAPIPE_EXPORT int dmapipe_buffer_get_direct_io_fd(const struct dmapipe_buffer *buffer,
						   unsigned int object)
{
	if (!buffer || object >= n_objects(buffer))
		return -1;
	if (buffer->direct_io_fd[object] >= 0)
		return buffer->direct_io_fd[object];
	/* a memfd's own mapping is struct-page backed */
	if (buffer->layout.objects[object].kind == DMAPIPE_MEM_MEMFD)
		return buffer->layout.objects[object].fd;
	return -1;
}

DMAPIPE_EXPORT int dmapipe_buffer_get_index(const struct dmapipe_buffer *buffer)
{
	return buffer ? buffer->index : -1;
}

/*
 * How much of object @i to map: up to the end of its last plane when the
 * geometry is known, else all of it. A sender may hand us a sparse memfd
 * far larger than the frame; pre-faulting all of it would allocate that
 * memory (charged to us), so only what the frame covers is mapped.
 */
static uint64_t map_extent(const struct dmapipe_buffer *buffer, unsigned int i)
{
	const struct dmapipe_layout *layout = &buffer->layout;
	uint64_t mod = layout->format.modifier, end = 0;

	if (mod != DMAPIPE_MOD_LINEAR && mod != DMAPIPE_MOD_INVALID)
		return layout->objects[i].size; /* tiled: the driver knows the extent */
	for (unsigned int p = 0; p < layout->n_planes && p < DMAPIPE_MAX_PLANES; p++) {
		uint64_t size = dmapipe_layout_plane_size(layout, p), plane_end;

		if (layout->planes[p].object != i)
			continue;
		if (size == 0 || __builtin_add_overflow(layout->planes[p].offset, size, &plane_end))
			return layout->objects[i].size;
		end = MAX(end, plane_end);
	}
	if (end == 0 || end > layout->objects[i].size)
		return layout->objects[i].size;
	return end;
}

static int map_object(struct dmapipe_buffer *buffer, unsigned int i)
{
	const struct dmapipe_object *object = &buffer->layout.objects[i];
	uint64_t extent = map_extent(buffer, i);
	void *map;

	if (extent == 0 || extent > SIZE_MAX)
		return -EOVERFLOW;
	map = mmap(NULL, (size_t)extent, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		   object->fd, 0);
	if (map == MAP_FAILED && (errno == EACCES || errno == EPERM)) {
		map = mmap(NULL, (size_t)extent, PROT_READ, MAP_SHARED | MAP_POPULATE, object->fd,
			   0);
		if (map != MAP_FAILED) {
			log_info("object %u of buffer %p is not writable here: mapped read-only", i,
				 (void *)buffer);
			buffer->read_only = true;
		}
	}
	if (map == MAP_FAILED) {
		int err = errno;

		log_warn("mmap of %llu bytes (%s) failed: %s", (unsigned long long)extent,
			 dmapipe_mem_kind_to_string(object->kind), strerror(err));
		return -err;
	}
	buffer->map_size[i] = extent;
	__atomic_store_n(&buffer->map[i], map, __ATOMIC_RELEASE);
	return 0;
}

int dmapipe_buffer_map_all(struct dmapipe_buffer *buffer)
{
	int ret = 0;

	if (!buffer)
		return -EINVAL;
	pthread_mutex_lock(&map_lock);
	for (unsigned int i = 0; i < n_objects(buffer) && ret == 0; i++)
		if (!buffer->map[i])
			ret = map_object(buffer, i);
	pthread_mutex_unlock(&map_lock);
	return ret;
}

void *dmapipe_buffer_direct_io_map(struct dmapipe_buffer *buffer, unsigned int i)
{
	int fd;
	void *map;

	if (!buffer || i >= n_objects(buffer) || !buffer->map[i]) {
		errno = EINVAL;
		return NULL;
	}
	fd = buffer->direct_io_fd[i];
	if (fd < 0 || dmapipe_fd_is_dmabuf(fd))
		return buffer->map[i]; /* its own mapping is the best there is */
	pthread_mutex_lock(&map_lock);
	if (!buffer->dio_map[i]) {
		/*
		 * writable, so the disk can also read a recording back into it
		 * (read-only where the memfd allows no more); no MAP_POPULATE:
		 * the pages exist
		 */
		map = mmap(NULL, (size_t)buffer->map_size[i], PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		if (map == MAP_FAILED)
			map = mmap(NULL, (size_t)buffer->map_size[i], PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			log_info("mmap of the direct-I/O memfd failed: %s", strerror(errno));
		else
			buffer->dio_map[i] = map;
	}
	map = buffer->dio_map[i];
	pthread_mutex_unlock(&map_lock);
	return map ? map : buffer->map[i];
}

DMAPIPE_EXPORT void *dmapipe_buffer_map_plane(struct dmapipe_buffer *buffer, unsigned int plane)
{
	const struct dmapipe_plane *p;
	uint8_t *map;
	int ret;

	if (!buffer || plane >= buffer->layout.n_planes || plane >= DMAPIPE_MAX_PLANES) {
		errno = EINVAL;
		return NULL;
	}
	p = &buffer->layout.planes[plane];
	if (p->object >= n_objects(buffer) || p->offset >= buffer->layout.objects[p->object].size) {
		errno = EINVAL;
		return NULL;
	}
	map = __atomic_load_n(&buffer->map[p->object], __ATOMIC_ACQUIRE);
	if (!map) {
		ret = dmapipe_buffer_map_all(buffer);
		if (ret < 0) {
			errno = -ret;
			return NULL;
		}
		map = buffer->map[p->object];
	}
	return map + p->offset;
}

static int sync_one(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	int ret;

	do {
		ret = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	return ret < 0 ? -errno : 0;
}

static uint64_t sync_flags(enum dmapipe_access access)
{
	return (access & DMAPIPE_ACCESS_READ ? DMA_BUF_SYNC_READ : 0) |
	       (access & DMAPIPE_ACCESS_WRITE ? DMA_BUF_SYNC_WRITE : 0);
}

DMAPIPE_EXPORT int dmapipe_buffer_begin_cpu_access(struct dmapipe_buffer *buffer,
						   enum dmapipe_access access)
{
	uint64_t flags;
	unsigned int i;
	int ret;

	if (!buffer || (access & ~DMAPIPE_ACCESS_RW) || !(access & DMAPIPE_ACCESS_RW))
		return -EINVAL;
	if ((access & DMAPIPE_ACCESS_WRITE) && buffer->read_only)
		return -EACCES;
	flags = sync_flags(access);
	for (i = 0; i < n_objects(buffer); i++) {
		if (buffer->layout.objects[i].kind != DMAPIPE_MEM_DMABUF)
			continue;
		ret = sync_one(buffer->layout.objects[i].fd, DMA_BUF_SYNC_START | flags);
		if (ret < 0)
			goto undo;
	}
	return 0;

undo:
	log_warn("DMA_BUF_IOCTL_SYNC start failed: %s", strerror(-ret));
	while (i-- > 0)
		if (buffer->layout.objects[i].kind == DMAPIPE_MEM_DMABUF)
			sync_one(buffer->layout.objects[i].fd, DMA_BUF_SYNC_END | flags);
	return ret;
}

DMAPIPE_EXPORT int dmapipe_buffer_end_cpu_access(struct dmapipe_buffer *buffer,
						 enum dmapipe_access access)
{
	uint64_t flags;
	int ret, first = 0;

	if (!buffer || (access & ~DMAPIPE_ACCESS_RW) || !(access & DMAPIPE_ACCESS_RW))
		return -EINVAL;
	flags = sync_flags(access);
	/* end every object even if one fails: a started sync must not be left open */
	for (unsigned int i = 0; i < n_objects(buffer); i++) {
		if (buffer->layout.objects[i].kind != DMAPIPE_MEM_DMABUF)
			continue;
		ret = sync_one(buffer->layout.objects[i].fd, DMA_BUF_SYNC_END | flags);
		if (ret < 0 && first == 0)
			first = ret;
	}
	if (first < 0)
		log_warn("DMA_BUF_IOCTL_SYNC end failed: %s", strerror(-first));
	return first;
}

DMAPIPE_EXPORT int dmapipe_buffer_set_name(struct dmapipe_buffer *buffer, const char *name)
{
	char label[DMA_BUF_NAME_LEN];
	bool named = false;

	if (!buffer || !name)
		return -EINVAL;
	dmapipe_strlcpy(label, name, sizeof(label));
	for (unsigned int i = 0; i < n_objects(buffer); i++) {
		if (buffer->layout.objects[i].kind != DMAPIPE_MEM_DMABUF)
			continue;
		if (ioctl(buffer->layout.objects[i].fd, DMA_BUF_SET_NAME, label) < 0)
			return -errno;
		named = true;
	}
	/* memfds are named at creation; there is nothing to set */
	return named ? 0 : -ENOTTY;
}

static bool cpu_linear(const struct dmapipe_layout *layout)
{
	uint64_t mod = layout->format.modifier;

	return dmapipe_fourcc_is_supported(layout->format.fourcc) &&
	       (mod == DMAPIPE_MOD_LINEAR || mod == DMAPIPE_MOD_INVALID);
}

DMAPIPE_EXPORT int dmapipe_buffer_copy_pixels(struct dmapipe_buffer *dst,
					      struct dmapipe_buffer *src)
{
	const struct dmapipe_layout *dl, *sl;
	uint64_t total = 0;
	const char *why;
	int ret;

	if (!dst || !src || dst == src)
		return -EINVAL;
	dl = &dst->layout;
	sl = &src->layout;
	if (dl->format.fourcc != sl->format.fourcc || dl->format.width != sl->format.width ||
	    dl->format.height != sl->format.height)
		return -EINVAL;
	if (!cpu_linear(dl) || !cpu_linear(sl))
		return -ENOTSUP;
	ret = dmapipe_copy_allowed("dmapipe_buffer_copy_pixels");
	if (ret < 0)
		return ret;
	/* both were checked when made; checking again keeps this copy self-evidently in bounds */
	if (dmapipe_layout_check(dl, &why) < 0 || dmapipe_layout_check(sl, &why) < 0) {
		log_error("copy_pixels: invalid layout: %s", why);
		return -EINVAL;
	}
	ret = dmapipe_buffer_map_all(src);
	if (ret == 0)
		ret = dmapipe_buffer_map_all(dst);
	if (ret < 0)
		return ret;
	if (dst->read_only)
		return -EACCES;

	ret = dmapipe_buffer_begin_cpu_access(src, DMAPIPE_ACCESS_READ);
	if (ret < 0)
		return ret;
	ret = dmapipe_buffer_begin_cpu_access(dst, DMAPIPE_ACCESS_WRITE);
	if (ret < 0) {
		dmapipe_buffer_end_cpu_access(src, DMAPIPE_ACCESS_READ);
		return ret;
	}

	for (unsigned int p = 0; p < dl->n_planes; p++) {
		const struct dmapipe_plane *dp = &dl->planes[p], *sp = &sl->planes[p];
		uint8_t *d = (uint8_t *)dst->map[dp->object] + dp->offset;
		const uint8_t *s = (const uint8_t *)src->map[sp->object] + sp->offset;
		uint64_t row_bytes;
		uint32_t rows;

		dmapipe_format_plane_geometry(dl->format.fourcc, dl->format.width,
					      dl->format.height, p, &row_bytes, &rows);
		if (dp->stride == sp->stride && dp->stride == row_bytes) {
			memcpy(d, s, (size_t)(row_bytes * rows));
		} else {
			for (uint32_t y = 0; y < rows; y++)
				memcpy(d + (uint64_t)y * dp->stride, s + (uint64_t)y * sp->stride,
				       (size_t)row_bytes);
		}
		total += row_bytes * rows;
	}
	dmapipe_count_copy(total);

	ret = dmapipe_buffer_end_cpu_access(dst, DMAPIPE_ACCESS_WRITE);
	if (dmapipe_buffer_end_cpu_access(src, DMAPIPE_ACCESS_READ) < 0 && ret == 0)
		ret = -EIO;
	return ret;
}

/*
 * Copies every plane between @buffer and caller memory (@to_memory says
 * which way), row by row with each side's stride, counted like
 * dmapipe_buffer_copy_pixels().
 */
static int copy_memory(struct dmapipe_buffer *buffer, uint8_t *const planes[],
		       const uint32_t strides[], bool to_memory, const char *what)
{
	const struct dmapipe_layout *l;
	enum dmapipe_access access = to_memory ? DMAPIPE_ACCESS_READ : DMAPIPE_ACCESS_WRITE;
	uint64_t total = 0;
	const char *why;
	int ret;

	if (!buffer || !planes || !strides)
		return -EINVAL;
	l = &buffer->layout;
	if (!cpu_linear(l))
		return -ENOTSUP;
	for (unsigned int p = 0; p < l->n_planes; p++) {
		uint64_t row_bytes;
		uint32_t rows;

		if (!planes[p] ||
		    dmapipe_format_plane_geometry(l->format.fourcc, l->format.width,
						  l->format.height, p, &row_bytes, &rows) < 0 ||
		    (rows > 1 && strides[p] < row_bytes))
			return -EINVAL;
	}
	ret = dmapipe_copy_allowed(what);
	if (ret < 0)
		return ret;
	if (dmapipe_layout_check(l, &why) < 0) {
		log_error("%s: invalid layout: %s", what, why);
		return -EINVAL;
	}
	ret = dmapipe_buffer_map_all(buffer);
	if (ret < 0)
		return ret;
	if (!to_memory && buffer->read_only)
		return -EACCES;
	ret = dmapipe_buffer_begin_cpu_access(buffer, access);
	if (ret < 0)
		return ret;

	for (unsigned int p = 0; p < l->n_planes; p++) {
		const struct dmapipe_plane *bp = &l->planes[p];
		uint8_t *b = (uint8_t *)buffer->map[bp->object] + bp->offset;
		uint8_t *m = planes[p];
		uint64_t row_bytes;
		uint32_t rows;

		dmapipe_format_plane_geometry(l->format.fourcc, l->format.width, l->format.height,
					      p, &row_bytes, &rows);
		for (uint32_t y = 0; y < rows; y++) {
			uint8_t *brow = b + (uint64_t)y * bp->stride;
			uint8_t *mrow = m + (uint64_t)y * strides[p];

			if (to_memory)
				memcpy(mrow, brow, (size_t)row_bytes);
			else
				memcpy(brow, mrow, (size_t)row_bytes);
		}
		total += row_bytes * rows;
	}
	dmapipe_count_copy(total);
	return dmapipe_buffer_end_cpu_access(buffer, access);
}

DMAPIPE_EXPORT int dmapipe_buffer_copy_from_memory(struct dmapipe_buffer *dst,
						   uint8_t *const planes[],
						   const uint32_t strides[])
{
	return copy_memory(dst, planes, strides, false, "dmapipe_buffer_copy_from_memory");
}

DMAPIPE_EXPORT int dmapipe_buffer_copy_to_memory(struct dmapipe_buffer *src,
						 uint8_t *const planes[],
						 const uint32_t strides[])
{
	return copy_memory(src, planes, strides, true, "dmapipe_buffer_copy_to_memory");
}

DMAPIPE_EXPORT void dmapipe_frame_meta_init(struct dmapipe_frame_meta *meta)
{
	if (!meta)
		return;
	memset(meta, 0, sizeof(*meta));
	meta->acquire_fence = -1;
}
