/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The declared fallback: a memfd sealed against shrinking and growing.
 * Shareable between processes and safe to map (its size cannot change under
 * a mapping), but NOT a dma-buf: no device can import it. Everything that
 * reports on buffers says so (DMAPIPE_MEM_MEMFD).
 *
 * The memfd is its own direct-I/O fd: its mapping is backed by struct pages,
 * so dmapipe_buffer_get_direct_io_fd() returns objects[i].fd itself and the
 * allocator hands out no second fd.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"
#include "alloc-private.h"
#include "core/memfd-seals.h"

int dmapipe_memfd_create_sealed(const char *name, uint64_t size)
{
	int fd, ret;

	if (size == 0 || size > (uint64_t)INT64_MAX)
		return -EINVAL;

	fd = memfd_create_sealable(name);
	if (fd < 0)
		return fd;

	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	/* Never F_SEAL_WRITE: the producer writes, and udmabuf refuses it. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;

fail:
	ret = -errno;
	close(fd);
	return ret;
}

static int memfd_open(struct dmapipe_allocator *allocator)
{
	int fd;

	(void)allocator;
	/* memfd_create exists since 3.17; check anyway, e.g. under a seccomp filter */
	fd = memfd_create("dmapipe-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int memfd_alloc(struct dmapipe_allocator *allocator, uint64_t size, int *direct_io_fd,
		       void **priv)
{
	int fd, ret;

	(void)allocator;
	*direct_io_fd = -1;
	*priv = NULL;
	fd = dmapipe_memfd_create_sealed("dmapipe", size);
	if (fd < 0)
		return fd;
	/*
	 * Commit the memory now: running out of it fails here, with an error,
	 * instead of as SIGBUS on some later write to the mapping.
	 *
	 * Not in dmapipe_memfd_create_sealed(), so never for udmabuf: shmem
	 * keeps fallocated pages "not uptodate" until first faulted, and since
	 * 6.11 udmabuf pins such pages as they are. Writes through the
	 * udmabuf then stay invisible to read() of the memfd, and a later
	 * fault through a memfd mapping zeroes them.
	 */
	do {
		ret = fallocate(fd, 0, 0, (off_t)size);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0 && errno != EOPNOTSUPP) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

const struct dmapipe_allocator_ops dmapipe_alloc_memfd_ops = {
	.name = "memfd",
	.description = "sealed memfd (shared memory, NOT a dma-buf)",
	.kind = DMAPIPE_MEM_MEMFD,
	.open = memfd_open,
	.alloc = memfd_alloc,
};
