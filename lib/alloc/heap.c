/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dma-heap: DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/<name>.
 *
 * The system heap by default. $DMAPIPE_DMA_HEAP names another heap (e.g.
 * "linux,cma" for devices that need physically contiguous buffers and have
 * no IOMMU, as many V4L2 codecs on ARM boards do).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#include "private.h"
#include "alloc-private.h"

#define HEAP_DIR "/dev/dma_heap/"

static int heap_open(struct dmapipe_allocator *allocator)
{
	const char *name = getenv("DMAPIPE_DMA_HEAP");
	char path[PATH_MAX];

	if (!name || !*name)
		name = "system";
	if (strchr(name, '/') || strcmp(name, "..") == 0) {
		log_error("heap: invalid DMAPIPE_DMA_HEAP \"%s\"", name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), HEAP_DIR "%s", name);
	return dmapipe_alloc_open_node(allocator, path, O_RDONLY);
}

static int heap_alloc(struct dmapipe_allocator *allocator, uint64_t size, int *direct_io_fd,
		      void **priv)
{
	struct dma_heap_allocation_data data = { 0 };
	int ret;

	*direct_io_fd = -1; /* heap pages are PFN-mapped: no O_DIRECT from them */
	*priv = NULL;
	data.len = size;
	data.fd_flags = O_RDWR | O_CLOEXEC;
	data.heap_flags = 0;
	do {
		ret = ioctl(allocator->fd, DMA_HEAP_IOCTL_ALLOC, &data);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	if (ret < 0) {
		ret = -errno;
		log_debug("heap: DMA_HEAP_IOCTL_ALLOC of %llu bytes failed: %s",
			  (unsigned long long)size, strerror(-ret));
		return ret;
	}
	return (int)data.fd;
}

const struct dmapipe_allocator_ops dmapipe_alloc_heap_ops = {
	.name = "heap",
	.description = "dma-heap " HEAP_DIR "system (or $DMAPIPE_DMA_HEAP)",
	.kind = DMAPIPE_MEM_DMABUF,
	.open = heap_open,
	.alloc = heap_alloc,
};
