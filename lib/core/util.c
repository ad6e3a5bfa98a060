/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers and the process-wide copy accounting.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

const char *dmapipe_v4l2_fcc(uint32_t code, char buf[16])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((code >> (8 * i)) & 0xff);

		if (c < ' ' || c > '~') {
			snprintf(buf, 16, "0x%08x", code);
			return buf;
		}
		buf[i] = c;
	}
	buf[4] = '\0';
	return buf;
}
