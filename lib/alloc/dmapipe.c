/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe: the project's own exporter, /dev/dmapipe (kernel/dmapipe.ko).
 *
 * Preferred over every other allocator when the module is loaded: its
 * buffers are asked for with DMAPIPE_ALLOC_PAGE_MMAP, so their mapping is
 * backed by struct pages and can be the buffer of O_DIRECT and io_uring
 * I/O. The dma-buf is therefore its own direct-I/O fd (a duplicate, which
 * the buffer owns like every direct-I/O fd). The device's other calls (its
 * open and ABI check, and the file I/O storage uses) are in core/kmod.c.
 *
 * The ABI is kernel/uapi/dmapipe.h; docs/KERNEL.md describes it.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../kernel/uapi/dmapipe.h"
#include "private.h"
#include "alloc-private.h"

static int kmod_open(struct dmapipe_allocator *allocator)
{
	int fd = dmapipe_kmod_open();

	if (fd < 0)
		return fd;
	allocator->fd = fd;
	return 0;
}

static int kmod_alloc(struct dmapipe_allocator *allocator, uint64_t size, int *direct_io_fd,
		      void **priv)
{
	struct dmapipe_alloc alloc = {
		.size = size,
		.flags = DMAPIPE_ALLOC_PAGE_MMAP | DMAPIPE_ALLOC_ZEROED,
	};
	int ret, dio;

	*direct_io_fd = -1;
	*priv = NULL;
	ret = dmapipe_ioctl(allocator->fd, DMAPIPE_IOCTL_ALLOC, &alloc);
	if (ret < 0) {
		log_debug("dmapipe: ALLOC of %llu bytes failed: %s%s", (unsigned long long)size,
			  strerror(-ret),
			  ret == -EFBIG || ret == -EDQUOT ?
				  " (a limit of the module: /sys/module/dmapipe/parameters/)" : "");
		return ret;
	}
	/* the mapping is struct-page backed: the dma-buf is its own direct-I/O fd */
	dio = fcntl(alloc.fd, F_DUPFD_CLOEXEC, 3);
	if (dio < 0) {
		ret = -errno;
		close(alloc.fd);
		return ret;
	}
	*direct_io_fd = dio;
	return alloc.fd;
}

const struct dmapipe_allocator_ops dmapipe_alloc_dmapipe_ops = {
	.name = "dmapipe",
	.description = "dmapipe.ko " DMAPIPE_KMOD_DEV " (dma-buf with struct-page mappings)",
	.kind = DMAPIPE_MEM_DMABUF,
	.open = kmod_open,
	.alloc = kmod_alloc,
};
