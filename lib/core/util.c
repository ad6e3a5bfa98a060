/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers every layer uses: time, strings, fds, ioctls, options structs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

uint64_t dmapipe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

void dmapipe_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len;

	if (size == 0)
		return;
	len = strnlen(src, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void dmapipe_close(int fd)
{
	int saved = errno;

	/* Never retry close() on EINTR: on Linux the fd is gone either way. */
	if (fd >= 0)
		close(fd);
	errno = saved;
}

uint64_t dmapipe_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint64_t)ps : 4096;
}

int dmapipe_ioctl(int fd, unsigned long request, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, request, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

int dmapipe_options_copy(void *dst, size_t dst_size, const void *src, size_t min_size)
{
	const unsigned char *bytes = src;
	uint32_t size;

	if (!src || min_size < sizeof(size) || dst_size < min_size)
		return -EINVAL;
	memcpy(&size, src, sizeof(size));
	if (size < min_size)
		return -EINVAL;
	/* a newer caller's fields are all zero unless it asked for something
	 * this library cannot do: then refusing beats ignoring */
	for (size_t i = dst_size; i < size; i++)
		if (bytes[i])
			return -E2BIG;
	memcpy(dst, src, MIN((size_t)size, dst_size));
	size = (uint32_t)dst_size;
	memcpy(dst, &size, sizeof(size));
	return 0;
}
