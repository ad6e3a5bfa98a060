/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The /dev/dmapipe calls (kernel/dmapipe.ko) that are not allocation: the
 * device open with its ABI check, and WRITE_FILE / READ_FILE, which move a
 * dmapipe dma-buf's bytes to and from storage inside the kernel. Storage
 * needs these without needing an allocator, so they live below both; the
 * allocator (alloc/dmapipe.c) opens the device through here too.
 *
 * The ABI is kernel/uapi/dmapipe.h; docs/KERNEL.md describes it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../kernel/uapi/dmapipe.h"
#include "private.h"

int dmapipe_kmod_open(void)
{
	struct dmapipe_info info;
	int fd, err;

	fd = open(DMAPIPE_KMOD_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		log_debug("dmapipe: %s: %s", DMAPIPE_KMOD_DEV, strerror(err));
		/* ENOENT would read as "unknown allocator name" (see alloc.h) */
		return err == ENOENT ? -ENODEV : -err;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, DMAPIPE_IOCTL_GET_INFO, &info) < 0) {
		err = errno;
		log_warn("dmapipe: %s: GET_INFO failed: %s", DMAPIPE_KMOD_DEV, strerror(err));
		close(fd);
		return -err;
	}
	if (info.abi_version != DMAPIPE_ABI_VERSION ||
	    !(info.features & DMAPIPE_FEATURE_ALLOC) ||
	    !(info.features & DMAPIPE_FEATURE_PAGE_MMAP)) {
		log_warn("dmapipe: %s speaks ABI %u (features 0x%llx); this library needs ABI %u",
			 DMAPIPE_KMOD_DEV, info.abi_version, (unsigned long long)info.features,
			 DMAPIPE_ABI_VERSION);
		close(fd);
		return -EPROTONOSUPPORT;
	}
	return fd;
}

/* One process-wide fd of the device for the file helpers, opened on first use. */
static int shared_device(void)
{
	static int shared = -1;
	int fd = __atomic_load_n(&shared, __ATOMIC_ACQUIRE);
	int expected = -1;

	if (fd >= 0)
		return fd;
	fd = dmapipe_kmod_open();
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
