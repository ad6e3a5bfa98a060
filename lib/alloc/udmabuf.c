/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * udmabuf: a sealed memfd turned into a dma-buf by /dev/udmabuf.
 *
 * The kernel requires F_SEAL_SHRINK and refuses F_SEAL_WRITE on the memfd,
 * and a page-aligned offset and size. The memfd is kept as the buffer's
 * direct-I/O fd: since 6.11 udmabuf maps its pages with vmf_insert_pfn()
 * (VM_PFNMAP), which O_DIRECT and io_uring cannot pin, while the memfd's own
 * mapping of the same pages can.
 *
 * The module limits one buffer to size_limit_mb (default 64 MiB).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/udmabuf.h>

#include "private.h"
#include "alloc-private.h"

#define UDMABUF_PATH "/dev/udmabuf"

static int udmabuf_open(struct dmapipe_allocator *allocator)
{
	return dmapipe_alloc_open_node(allocator, UDMABUF_PATH, O_RDWR);
}

static int udmabuf_alloc(struct dmapipe_allocator *allocator, uint64_t size, int *direct_io_fd,
			 void **priv)
{
	struct udmabuf_create create = { 0 };
	int memfd, fd, err;

	*direct_io_fd = -1;
	*priv = NULL;
	memfd = dmapipe_memfd_create_sealed("dmapipe-udmabuf", size);
	if (memfd < 0)
		return memfd;

	create.memfd = (uint32_t)memfd;
	create.flags = UDMABUF_FLAGS_CLOEXEC;
	create.offset = 0;
	create.size = size;
	do {
		fd = ioctl(allocator->fd, UDMABUF_CREATE, &create);
	} while (fd < 0 && (errno == EINTR || errno == EAGAIN));
	if (fd < 0) {
		err = errno;
		log_debug("udmabuf: UDMABUF_CREATE of %llu bytes failed: %s%s",
			  (unsigned long long)size, strerror(err),
			  err == EINVAL && size > (UINT64_C(64) << 20) ?
				  " (above the module's size_limit_mb, default 64?)" : "");
		close(memfd);
		return -err;
	}
	*direct_io_fd = memfd;
	return fd;
}

const struct dmapipe_allocator_ops dmapipe_alloc_udmabuf_ops = {
	.name = "udmabuf",
	.description = "udmabuf " UDMABUF_PATH " (dma-buf over a sealed memfd)",
	.kind = DMAPIPE_MEM_DMABUF,
	.open = udmabuf_open,
	.alloc = udmabuf_alloc,
};
