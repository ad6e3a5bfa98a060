/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe: the project's own exporter, /dev/dmapipe (kernel/dmapipe.ko).
 *
 * Preferred over every other allocator when the module is loaded: its
 * buffers are asked for with DMAPIPE_ALLOC_PAGE_MMAP, so their mapping is
 * backed by struct pages and can be the buffer of O_DIRECT and io_uring
 * I/O. The dma-buf is therefore its own direct-I/O fd (a duplicate, which
 * the buffer owns like every direct-I/O fd). For the other exporters, whose
 * mappings cannot feed O_DIRECT, dmapipe_kmod_write_file() moves buffer
 * bytes to storage inside the kernel; it works on dmapipe dma-bufs only.
 *
 * The ABI is kernel/uapi/dmapipe.h; docs/KERNEL.md describes it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../kernel/uapi/dmapipe.h"
#include "private.h"
#include "alloc-private.h"

#define DMAPIPE_DEV "/dev/dmapipe"

/* Opens the device and checks it speaks ABI 1; returns the fd or -errno. */
static int open_device(void)
{
	struct dmapipe_info info;
	int fd, err;

	fd = open(DMAPIPE_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		log_debug("dmapipe: %s: %s", DMAPIPE_DEV, strerror(err));
		/* ENOENT would read as "unknown allocator name" (see alloc.h) */
		return err == ENOENT ? -ENODEV : -err;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, DMAPIPE_IOCTL_GET_INFO, &info) < 0) {
		err = errno;
		log_warn("dmapipe: %s: GET_INFO failed: %s", DMAPIPE_DEV, strerror(err));
		close(fd);
		return -err;
	}
	if (info.abi_version != DMAPIPE_ABI_VERSION ||
	    !(info.features & DMAPIPE_FEATURE_ALLOC) ||
	    !(info.features & DMAPIPE_FEATURE_PAGE_MMAP)) {
		log_warn("dmapipe: %s speaks ABI %u (features 0x%llx); this library needs ABI %u",
			 DMAPIPE_DEV, info.abi_version, (unsigned long long)info.features,
			 DMAPIPE_ABI_VERSION);
		close(fd);
		return -EPROTONOSUPPORT;
	}
	return fd;
}

static int kmod_open(struct dmapipe_allocator *allocator)
{
	int fd = open_device();

	if (fd < 0)
		return fd;
	allocator->fd = fd;
	return 0;
}

static void kmod_close(struct dmapipe_allocator *allocator)
{
	dmapipe_close(allocator->fd);
	allocator->fd = -1;
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
	do {
		ret = ioctl(allocator->fd, DMAPIPE_IOCTL_ALLOC, &alloc);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
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
	.description = "dmapipe.ko " DMAPIPE_DEV " (dma-buf with struct-page mappings)",
	.kind = DMAPIPE_MEM_DMABUF,
	.open = kmod_open,
	.close = kmod_close,
	.alloc = kmod_alloc,
};

/* One process-wide fd of the device for the file helpers, opened on first use. */
static int shared_device(void)
{
	static int shared = -1;
	int fd = __atomic_load_n(&shared, __ATOMIC_ACQUIRE);
	int expected = -1;

	if (fd >= 0)
		return fd;
	fd = open_device();
	if (fd < 0)
		return fd;
	if (!__atomic_compare_exchange_n(&shared, &expected, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(fd);
		fd = expected;
	}
	return fd;
}

static int file_io(unsigned long cmd, int dmabuf_fd, uint64_t offset, uint64_t len,
		   int file_fd, uint64_t file_offset)
{
	int dev = shared_device();
	uint64_t done = 0;

	if (dev < 0)
		return dev;
	while (done < len) {
		struct dmapipe_file_io io = {
			.fd = dmabuf_fd,
			.file_fd = file_fd,
			.offset = offset + done,
			.len = len - done,
			.file_offset = file_offset + done,
		};

		if (ioctl(dev, cmd, &io) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (io.done == 0)
			/* the file ended (read) or took nothing without saying why (write) */
			return cmd == DMAPIPE_IOCTL_READ_FILE ? -ENODATA : -EIO;
		done += io.done;
	}
	return 0;
}

int dmapipe_kmod_write_file(int dmabuf_fd, uint64_t offset, uint64_t len, int file_fd,
			    uint64_t file_offset)
{
	return file_io(DMAPIPE_IOCTL_WRITE_FILE, dmabuf_fd, offset, len, file_fd, file_offset);
}

int dmapipe_kmod_read_file(int dmabuf_fd, uint64_t offset, uint64_t len, int file_fd,
			   uint64_t file_offset)
{
	return file_io(DMAPIPE_IOCTL_READ_FILE, dmabuf_fd, offset, len, file_fd, file_offset);
}
