/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The storage layer's way between buffers and files, shared by the
 * recorder, the replay reader and recording.c: which path an object's bytes
 * take (O_DIRECT from its mapping, dmapipe.ko, a counted copy, the page
 * cache) and the memory of what failed (so the next frame goes straight
 * the way that works), the copy's staging buffers, the file's direct-I/O
 * alignment and full-length transfers, and the io_uring both directions
 * drive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "io.h"
#include "codec.h"

/* ---- memory objects and the path their bytes take ---------------------------- */

int storage_file_id_get(int fd, struct storage_file_id *id)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

bool storage_file_set_has(const struct storage_file_set *set, const struct storage_file_id *id)
{
	for (unsigned int i = 0; i < set->n; i++)
		if (set->ids[i].dev == id->dev && set->ids[i].ino == id->ino)
			return true;
	return false;
}

void storage_file_set_add(struct storage_file_set *set, const struct storage_file_id *id)
{
	if (storage_file_set_has(set, id))
		return;
	if (set->n == STORAGE_FILE_SET_MAX) {
		/* forget the oldest: it is only a shortcut */
		memmove(set->ids, set->ids + 1, sizeof(set->ids[0]) * (STORAGE_FILE_SET_MAX - 1));
		set->n--;
	}
	set->ids[set->n++] = *id;
}

void storage_paths_init(struct storage_paths *paths, const char *who, bool to_file, bool direct)
{
	memset(paths, 0, sizeof(*paths));
	paths->who = who;
	paths->to_file = to_file;
	paths->direct = direct;
}

enum dmapipe_record_path storage_path_pick(const struct storage_paths *paths,
					   const struct dmapipe_object *obj)
{
	struct storage_file_id id = { 0, 0 };

	if (!paths->direct)
		return DMAPIPE_RECORD_PATH_BUFFERED;
	if (storage_file_id_get(obj->fd, &id) < 0 || !storage_file_set_has(&paths->no_gup, &id))
		return DMAPIPE_RECORD_PATH_DIRECT;
	if (obj->kind == DMAPIPE_MEM_DMABUF && !storage_file_set_has(&paths->no_kmod, &id))
		return DMAPIPE_RECORD_PATH_KMOD;
	return DMAPIPE_RECORD_PATH_COPY;
}

enum dmapipe_record_path storage_path_fault(struct storage_paths *paths,
					    const struct dmapipe_object *obj)
{
	struct storage_file_id id = { 0, 0 };
	bool known = storage_file_id_get(obj->fd, &id) == 0;

	if (known && !storage_file_set_has(&paths->no_gup, &id)) {
		log_info("%s: the mapping of a %s object is not struct-page backed (EFAULT); "
			 "using %s", paths->who, dmapipe_mem_kind_to_string(obj->kind),
			 obj->kind != DMAPIPE_MEM_DMABUF ? "a counted copy" : paths->to_file ?
			 "dmapipe.ko WRITE_FILE if it is a dmapipe buffer, else a counted copy" :
			 "dmapipe.ko READ_FILE if it is a dmapipe buffer, else a counted copy");
		storage_file_set_add(&paths->no_gup, &id);
	}
	if (obj->kind == DMAPIPE_MEM_DMABUF && !(known && storage_file_set_has(&paths->no_kmod, &id)))
		return DMAPIPE_RECORD_PATH_KMOD;
	return DMAPIPE_RECORD_PATH_COPY;
}

/*
 * An error that is the file's, not the buffer's: the COPY path would meet
 * it too. Anything else from dmapipe.ko means it cannot move this buffer.
 */
static bool file_error(int err)
{
	return err == -EIO || err == -ENODATA || storage_space_error(err);
}

int storage_path_kmod(struct storage_paths *paths, const struct dmapipe_buffer *buf,
		      unsigned int i, uint64_t obj_off, uint64_t len, int file_fd,
		      uint64_t file_off)
{
	const struct dmapipe_object *obj = &buf->layout.objects[i];
	struct storage_file_id id = { 0, 0 };
	int ret;

	ret = paths->to_file ?
	      dmapipe_kmod_write_file(obj->fd, obj_off, len, file_fd, file_off) :
	      dmapipe_kmod_read_file(obj->fd, obj_off, len, file_fd, file_off);
	if (ret == 0 || file_error(ret))
		return ret;
	log_info("%s: dmapipe.ko cannot %s object %u (%s): copying it", paths->who,
		 paths->to_file ? "write" : "read into", i, strerror(-ret));
	if (storage_file_id_get(obj->fd, &id) == 0)
		storage_file_set_add(&paths->no_kmod, &id);
	return -EXDEV;
}

uint64_t storage_direct_span(uint64_t data, uint32_t block, uint64_t mapped)
{
	uint64_t stored = ALIGN_UP(data, (uint64_t)block);

	return stored <= ALIGN_UP(mapped, dmapipe_page_size()) ? stored : data / block * block;
}

uint8_t *storage_staging_get(struct storage_staging *pool, size_t size, size_t align,
			     size_t *got)
{
	void *p = NULL;

	for (unsigned int i = 0; i < pool->n; i++) {
		if (pool->slot[i].size >= size) {
			uint8_t *s = pool->slot[i].p;

			*got = pool->slot[i].size;
			pool->slot[i] = pool->slot[--pool->n];
			return s;
		}
	}
	if (posix_memalign(&p, MAX(align, (size_t)dmapipe_page_size()), size) != 0)
		return NULL;
	*got = size;
	return p;
}

void storage_staging_put(struct storage_staging *pool, uint8_t *p, size_t size)
{
	if (!p)
		return;
	if (pool->n == STORAGE_STAGING_MAX) {
		free(p);
		return;
	}
	pool->slot[pool->n].p = p;
	pool->slot[pool->n].size = size;
	pool->n++;
}

void storage_staging_clear(struct storage_staging *pool)
{
	for (unsigned int i = 0; i < pool->n; i++)
		free(pool->slot[i].p);
	pool->n = 0;
}

/* ---- the file ---------------------------------------------------------------- */

int storage_pwrite_full(int fd, const void *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const uint8_t *)p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int storage_pread_full(int fd, void *p, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)p + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		done += (size_t)n;
	}
	return 0;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < REC_MAX_BLOCK)
		p <<= 1;
	return p;
}

void storage_dio_alignment(int fd, uint32_t *offset_align, uint32_t *mem_align)
{
	struct statx stx;
	struct stat st;

	memset(&stx, 0, sizeof(stx));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		*offset_align = stx.stx_dio_offset_align;
		*mem_align = stx.stx_dio_mem_align;
		return;
	}
	/* before 6.1, or a file system that does not say: its block size */
	if (fstat(fd, &st) == 0 && st.st_blksize > 0) {
		*offset_align = pow2_at_least((uint32_t)st.st_blksize);
		*mem_align = *offset_align;
		return;
	}
	*offset_align = REC_MIN_BLOCK;
	*mem_align = REC_MIN_BLOCK;
}

bool storage_space_error(int err)
{
	return err == -ENOSPC || err == -EDQUOT || err == -EFBIG;
}

/* ---- io_uring ---------------------------------------------------------------- */

#if HAVE_LIBURING
int storage_ring_init(struct storage_ring *r, unsigned int min_entries, int efd)
{
	unsigned int entries = 8;
	int ret;

	while (entries < min_entries && entries < 4096)
		entries *= 2;
	memset(r, 0, sizeof(*r));
	ret = io_uring_queue_init(entries, &r->ring, 0);
	if (ret < 0)
		return ret;
	ret = efd >= 0 ? io_uring_register_eventfd(&r->ring, efd) : 0;
	if (ret < 0) {
		io_uring_queue_exit(&r->ring);
		return ret;
	}
	return 0;
}

void storage_ring_exit(struct storage_ring *r)
{
	io_uring_queue_exit(&r->ring);
}

struct io_uring_sqe *storage_ring_sqe(struct storage_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {
		io_uring_submit(&r->ring);
		r->unsubmitted = 0;
		sqe = io_uring_get_sqe(&r->ring);
	}
	if (sqe)
		r->unsubmitted++;
	return sqe;
}

void storage_ring_flush(struct storage_ring *r)
{
	if (r->unsubmitted) {
		io_uring_submit(&r->ring);
		r->unsubmitted = 0;
	}
}

unsigned int storage_ring_reap(struct storage_ring *r, bool wait, storage_cqe_func fn, void *ctx)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;
	int ret;

	storage_ring_flush(r);
	for (;;) {
		ret = wait && n == 0 ? io_uring_wait_cqe(&r->ring, &cqe) :
				       io_uring_peek_cqe(&r->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			break;
		void *data = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&r->ring, cqe);
		fn(ctx, data, res);
		n++;
		storage_ring_flush(r);
	}
	return n;
}

int storage_ring_wait(struct storage_ring *r, uint64_t deadline_ns)
{
	struct __kernel_timespec ts = { 0, 0 };
	struct io_uring_cqe *cqe;
	int ret;

	storage_ring_flush(r);
	do {
		uint64_t now = dmapipe_now_ns();

		if (deadline_ns != UINT64_MAX) {
			if (now >= deadline_ns)
				return -ETIME;
			ts.tv_sec = (long long)((deadline_ns - now) / 1000000000u);
			ts.tv_nsec = (long long)((deadline_ns - now) % 1000000000u);
		}
		ret = io_uring_wait_cqe_timeout(&r->ring, &cqe,
						deadline_ns == UINT64_MAX ? NULL : &ts);
	} while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}
#endif
