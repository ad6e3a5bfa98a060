/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Other drivers importing dmapipe dma-bufs, i.e. the exporter side of
 * dma_buf_ops that userspace alone never reaches:
 *
 * - vgem imports buffers with DRM PRIME: an attachment with its own
 *   sg_table mapped for vgem's device (BUF_INFO counts it), synced by
 *   DMA_BUF_IOCTL_SYNC and SYNC_RANGE while mapped, detached on GEM_CLOSE;
 * - vivid captures into dmapipe buffers (V4L2_MEMORY_DMABUF): its
 *   videobuf2-vmalloc maps them into the kernel with dma_buf_vmap() (no
 *   attachment) and draws every frame through that mapping.
 *
 * For every flag combination. Needs dmapipe, vgem and vivid (the VM lane).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libdrm/drm.h>
#include <linux/dma-buf.h>
#include <linux/videodev2.h>

#include "kmod-testlib.h"
#include "private.h"

static int dev;

static int open_vgem(void)
{
	DIR *d = opendir("/sys/class/drm");
	struct dirent *e;
	int fd = -1;

	check(d);
	while (fd < 0 && (e = readdir(d))) {
		char link[PATH_MAX], target[PATH_MAX], node[300];
		ssize_t n;

		if (strncmp(e->d_name, "card", 4) != 0 || strchr(e->d_name, '-'))
			continue;
		snprintf(link, sizeof(link), "/sys/class/drm/%s/device", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(strrchr(target, '/') ? strrchr(target, '/') + 1 : target, "vgem") != 0)
			continue;
		snprintf(node, sizeof(node), "/dev/dri/%s", e->d_name);
		fd = open(node, O_RDWR | O_CLOEXEC);
	}
	closedir(d);
	check_msg(fd >= 0, "no vgem card node");
	return fd;
}

static unsigned int attachments(int fd)
{
	struct dmapipe_buf_info bi = { .fd = fd };

	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), 0);
	return bi.attachments;
}

static void test_vgem(uint32_t flags)
{
	const uint64_t size = 4 << 20;
	struct drm_prime_handle prime = { .flags = 0 };
	struct drm_gem_close gem_close = { 0 };
	struct dmapipe_sync_range s = { .offset = 4096, .len = 3 * 4096 + 5 };
	int vgem = open_vgem(), fd;
	uint8_t *p;

	fd = kmod_alloc(dev, size, flags, NULL);
	check(fd >= 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(p != MAP_FAILED);

	prime.fd = fd;
	check_msg(ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &prime) == 0,
		  "vgem PRIME import: %s", strerror(errno));
	check(prime.handle != 0);
	check_int_eq(attachments(fd), 1);

	/* CPU access while a device has the buffer mapped: the syncs cover it */
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
	kmod_fill(p, size, 0, flags + 100);
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
	s.fd = fd;
	s.flags = DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_SYNC_RANGE, &s), 0);
	s.flags = DMAPIPE_SYNC_END | DMAPIPE_SYNC_RW;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_SYNC_RANGE, &s), 0);

	/* PRIME gives the same handle for the same buffer, and no second attachment */
	{
		struct drm_prime_handle again = { .fd = fd };

		check_int_eq(ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &again), 0);
		check_int_eq(again.handle, prime.handle);
		check_int_eq(attachments(fd), 1);
	}

	/* the import keeps the buffer alive without our fd or mapping */
	munmap(p, size);
	close(fd);
	{
		uint64_t bytes;
		unsigned int buffers;

		kmod_counters(&bytes, &buffers);
		check_int_eq(buffers, 1);
	}
	gem_close.handle = prime.handle;
	check_int_eq(ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &gem_close), 0);
	close(vgem);
	kmod_check_idle();
}

static int open_vivid(void)
{
	for (int i = 0; i < 64; i++) {
		char path[128], name[64] = "";
		FILE *f;
		int fd;

		snprintf(path, sizeof(path), "/sys/class/video4linux/video%d/name", i);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(name, sizeof(name), f))
			name[0] = '\0';
		fclose(f);
		if (strncmp(name, "vivid-000-vid-cap", 17) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		check_msg(fd >= 0, "%s: %s", path, strerror(errno));
		return fd;
	}
	check_msg(0, "no vivid-000-vid-cap node");
	return -1;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret;
}

/* vivid draws its test pattern into our buffers through a kernel mapping. */
static void test_vivid(uint32_t flags)
{
	struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	struct v4l2_requestbuffers req = { .count = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					   .memory = V4L2_MEMORY_DMABUF };
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	int video = open_vivid(), fds[2];
	uint8_t *maps[2];
	uint32_t size;

	fmt.fmt.pix.width = 640;
	fmt.fmt.pix.height = 480;
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	fmt.fmt.pix.field = V4L2_FIELD_NONE;
	check_int_eq(xioctl(video, VIDIOC_S_FMT, &fmt), 0);
	size = fmt.fmt.pix.sizeimage;
	check_msg(xioctl(video, VIDIOC_REQBUFS, &req) == 0, "REQBUFS DMABUF: %s",
		  strerror(errno));
	check(req.count >= 2);

	for (int i = 0; i < 2; i++) {
		struct v4l2_buffer b = { .index = (uint32_t)i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_DMABUF };

		fds[i] = kmod_alloc(dev, size, flags, NULL);
		check(fds[i] >= 0);
		maps[i] = mmap(NULL, size, PROT_READ, MAP_SHARED, fds[i], 0);
		check(maps[i] != MAP_FAILED);
		b.m.fd = fds[i];
		b.length = size;
		check_msg(xioctl(video, VIDIOC_QBUF, &b) == 0, "QBUF dma-buf: %s", strerror(errno));
	}
	check_int_eq(xioctl(video, VIDIOC_STREAMON, &type), 0);
	for (int n = 0; n < 4; n++) {
		struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_DMABUF };
		struct pollfd pfd = { .fd = video, .events = POLLIN };
		bool drawn = false;

		check_int_eq(poll(&pfd, 1, 10000), 1);
		check_int_eq(xioctl(video, VIDIOC_DQBUF, &b), 0);
		check(b.index < 2);
		check_int_eq(b.bytesused, size);
		kmod_dmabuf_sync(fds[b.index], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
		for (uint32_t i = 0; i < size && !drawn; i += 4096)
			drawn = maps[b.index][i] != 0;
		kmod_dmabuf_sync(fds[b.index], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		check_msg(drawn, "frame %d: vivid wrote nothing into the dmapipe buffer", n);
		b.m.fd = fds[b.index];
		check_int_eq(xioctl(video, VIDIOC_QBUF, &b), 0);
	}
	check_int_eq(xioctl(video, VIDIOC_STREAMOFF, &type), 0);
	req.count = 0;
	check_int_eq(xioctl(video, VIDIOC_REQBUFS, &req), 0);
	close(video);
	for (int i = 0; i < 2; i++) {
		munmap(maps[i], size);
		close(fds[i]);
	}
	kmod_check_idle();
}

int main(void)
{
	dev = kmod_open();
	kmod_require_vm("needs vgem and vivid");
	kmod_check_idle();
	for (uint32_t flags = 0; flags < 8; flags++) {
		test_vgem(flags);
		test_vivid(flags);
		printf("ok flags 0x%x: vgem PRIME import, vivid capture into the buffers\n", flags);
	}
	close(dev);
	kmod_check_idle();
	return 0;
}
