/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The in-kernel API through the sample driver (kernel/samples/
 * dmapipe-grabber.c): buffers allocated against the driver's own device,
 * exported as dma-bufs; each frame's fence makes poll(), a sync_file from
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_SYNC and WRITE_FILE wait for
 * the "DMA"; a capture into a buffer userspace allocated, found by its fd;
 * a failed frame's error reaching the sync_file; the driver's own memory,
 * wrapped, handed over or kept (then it keeps the driver loaded); the
 * driver unloading while userspace still holds its buffers and fences
 * (they keep dmapipe.ko loaded, and stay readable).
 *
 *   test-kmod-grabber /path/to/KVER/dmapipe_grabber.ko
 *
 * Only in the VM lane (loads a module; exits 77 elsewhere).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/sync_file.h>

#include "../kernel/samples/dmapipe-grabber.h"
#include "kmod-testlib.h"
#include "private.h"

#define FRAME_SIZE (640 * 480 * 2)
#define LATENCY_MS 300

static int dev, grabber;
static unsigned int base_refs;	/* dmapipe's module refcount before the test */

static void load_grabber(const char *path, const char *params)
{
	struct stat st;
	void *image;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	check_msg(fd >= 0, "%s: %s", path, strerror(errno));
	check_int_eq(fstat(fd, &st), 0);
	image = malloc((size_t)st.st_size);
	check(image);
	check_int_eq(read(fd, image, (size_t)st.st_size), st.st_size);
	close(fd);
	check_msg(syscall(SYS_init_module, image, (size_t)st.st_size, params) == 0,
		  "loading %s: %s", path, strerror(errno));
	free(image);
	grabber = open("/dev/dmapipe-grabber", O_RDWR | O_CLOEXEC);
	check_msg(grabber >= 0, "/dev/dmapipe-grabber: %s", strerror(errno));
}

static int unload_grabber(void)
{
	return syscall(SYS_delete_module, "dmapipe_grabber", O_NONBLOCK) == 0 ? 0 : -errno;
}

static int get_buffer(unsigned int index)
{
	struct dmapipe_grabber_buffer b = { .index = index };

	check_msg(ioctl(grabber, DMAPIPE_GRABBER_IOCTL_GET_BUFFER, &b) == 0, "GET_BUFFER %u: %s",
		  index, strerror(errno));
	check(fcntl(b.fd, F_GETFD) & FD_CLOEXEC);
	return b.fd;
}

static int capture(int fd, unsigned int index, uint64_t *sequence)
{
	struct dmapipe_grabber_capture c = { .fd = fd, .index = index };

	if (ioctl(grabber, DMAPIPE_GRABBER_IOCTL_CAPTURE, &c) < 0)
		return -errno;
	if (sequence)
		*sequence = c.sequence;
	return 0;
}

static void check_frame(const uint8_t *p, uint64_t size, uint64_t sequence, uint32_t index)
{
	const struct dmapipe_grabber_frame *f = (const void *)p;
	uint64_t tail;

	check_int_eq(f->magic, DMAPIPE_GRABBER_MAGIC);
	check_int_eq(f->sequence, sequence);
	check_int_eq(f->index, index);
	check_int_eq(f->size, size);
	check(f->timestamp_ns > 0);
	for (uint64_t i = sizeof(*f); i < size - 8; i++)
		check_msg(p[i] == (uint8_t)(sequence + i), "frame %" PRIu64 " byte %" PRIu64,
			  sequence, i);
	memcpy(&tail, p + size - 8, 8);
	check_int_eq(tail, sequence);
}

static int poll_in(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int ret = poll(&pfd, 1, timeout_ms);

	check(ret >= 0);
	return ret;
}

static int export_sync_file(int fd)
{
	struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

	check_msg(ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) == 0,
		  "DMA_BUF_IOCTL_EXPORT_SYNC_FILE: %s", strerror(errno));
	return e.fd;
}

static int sync_file_status(int fd)
{
	struct sync_file_info info;

	memset(&info, 0, sizeof(info));
	check_int_eq(ioctl(fd, SYNC_IOC_FILE_INFO, &info), 0);
	return info.status;
}

static unsigned int module_refcnt(const char *name)
{
	char path[256], line[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	f = fopen(path, "r");
	check(f);
	check(fgets(line, sizeof(line), f));
	fclose(f);
	return (unsigned int)strtoul(line, NULL, 10);
}

static void test_buffers(int fds[4], uint8_t *maps[4])
{
	for (unsigned int i = 0; i < 4; i++) {
		struct dmapipe_buf_info bi = { 0 };

		fds[i] = get_buffer(i);
		bi.fd = fds[i];
		check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), 0);
		check_int_eq(bi.size, FRAME_SIZE);
		/* the last one is the driver's own pages, handed over */
		check_int_eq(bi.flags & ~(uint32_t)DMAPIPE_BUF_PHYS,
			     DMAPIPE_BUF_DEVICE | DMAPIPE_ALLOC_PAGE_MMAP |
			     (i == 3 ? DMAPIPE_BUF_WRAPPED : DMAPIPE_ALLOC_ZEROED));
		check_msg(strcmp(bi.device, "dmapipe-grabber") == 0, "device \"%s\"", bi.device);
		maps[i] = mmap(NULL, FRAME_SIZE, PROT_READ, MAP_SHARED, fds[i], 0);
		check(maps[i] != MAP_FAILED);
		check_int_eq(maps[i][0], 0);
	}
	{
		struct dmapipe_grabber_buffer b = { .index = 4 };

		check_int_eq(ioctl(grabber, DMAPIPE_GRABBER_IOCTL_GET_BUFFER, &b), -1);
		check_int_eq(errno, EINVAL);
	}
	test_pass("driver-buffers");
}

/* poll() and a sync_file wait for the frame's fence. */
static void test_poll_and_sync_file(int fd, const uint8_t *map)
{
	uint64_t seq, start;
	int sync_fd;

	check_int_eq(capture(-1, 0, &seq), 0);
	start = test_now_ms();
	check_int_eq(poll_in(fd, 0), 0);
	sync_fd = export_sync_file(fd);
	check_int_eq(poll_in(sync_fd, 0), 0);
	check_int_eq(sync_file_status(sync_fd), 0);
	check_int_eq(poll_in(fd, 10000), 1);
	check(test_now_ms() - start >= LATENCY_MS / 2);
	check_int_eq(poll_in(sync_fd, 0), 1);
	check_int_eq(sync_file_status(sync_fd), 1);
	close(sync_fd);
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	check_frame(map, FRAME_SIZE, seq, 0);
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
	test_pass("poll-and-sync-file-wait-for-the-frame");
}

/* CPU access and SYNC_RANGE wait too. */
static void test_cpu_access_waits(int fd, const uint8_t *map)
{
	struct dmapipe_sync_range s = { .fd = fd, .flags = DMAPIPE_SYNC_START | DMAPIPE_SYNC_READ,
					.offset = 0, .len = 4096 };
	uint64_t seq, start;

	check_int_eq(capture(-1, 1, &seq), 0);
	start = test_now_ms();
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	check(test_now_ms() - start >= LATENCY_MS / 2);
	check_frame(map, FRAME_SIZE, seq, 1);
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);

	check_int_eq(capture(-1, 1, &seq), 0);
	start = test_now_ms();
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_SYNC_RANGE, &s), 0);
	check(test_now_ms() - start >= LATENCY_MS / 2);
	check_frame(map, FRAME_SIZE, seq, 1);
	test_pass("cpu-access-waits-for-the-frame");
}

/* WRITE_FILE right after the capture request stores the complete frame. */
static void test_write_file_waits(int fd)
{
	char path[256];
	struct dmapipe_file_io io = { .fd = fd, .len = FRAME_SIZE,
				      .flags = DMAPIPE_FILE_BUFFERED };
	uint8_t *back = malloc(FRAME_SIZE);
	uint64_t seq;
	int f;

	snprintf(path, sizeof(path), "%s/dmapipe-grabber-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	f = mkstemp(path);
	check(f >= 0 && back);
	unlink(path);
	io.file_fd = f;
	check_int_eq(capture(-1, 2, &seq), 0);
	check_msg(ioctl(dev, DMAPIPE_IOCTL_WRITE_FILE, &io) == 0, "WRITE_FILE: %s",
		  strerror(errno));
	check_int_eq(io.done, FRAME_SIZE);
	check_int_eq(pread(f, back, FRAME_SIZE, 0), FRAME_SIZE);
	check_frame(back, FRAME_SIZE, seq, 2);
	close(f);
	free(back);
	test_pass("write-file-waits-for-the-frame");
}

/* The driver captures into a buffer userspace allocated: lookup by fd. */
static void test_capture_into_user_buffer(void)
{
	const char *what = NULL;
	uint64_t seq;
	uint8_t *p;
	int fd, foreign, pipefd[2];

	fd = kmod_alloc(dev, FRAME_SIZE, DMAPIPE_ALLOC_COHERENT, NULL);
	check(fd >= 0);
	p = mmap(NULL, FRAME_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	check(p != MAP_FAILED);
	check_int_eq(capture(fd, 0, &seq), 0);
	check_int_eq(poll_in(fd, 10000), 1);
	check_frame(p, FRAME_SIZE, seq, UINT32_MAX);
	munmap(p, FRAME_SIZE);
	close(fd);

	foreign = kmod_foreign_dmabuf(1 << 20, &what);
	check_msg(foreign >= 0, "no foreign dma-buf exporter (vgem or udmabuf) in the VM");
	check_int_eq(capture(foreign, 0, NULL), -EXDEV);
	close(foreign);
	check_int_eq(pipe(pipefd), 0);
	check_int_eq(capture(pipefd[0], 0, NULL), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	check_int_eq(capture(-1, 4, NULL), -EINVAL);
	check_int_eq(capture(100000, 0, NULL), -EBADF);
	test_pass("capture-into-a-userspace-buffer");
}

/*
 * Unloading the driver: a queued frame fails with ECANCELED, which its
 * sync_file reports; the driver's buffers and the fences live on in
 * userspace and keep dmapipe.ko loaded until they are closed.
 */
/*
 * Memory the driver keeps (wrapped with a release function) and exported:
 * a buffer like the others, that keeps the driver loaded while it exists.
 */
static int test_export_wrapped(uint8_t **map)
{
	struct dmapipe_grabber_buffer b = { .index = 0 };
	struct dmapipe_buf_info bi = { 0 };
	uint64_t seq;

	check_msg(ioctl(grabber, DMAPIPE_GRABBER_IOCTL_EXPORT_WRAPPED, &b) == 0,
		  "EXPORT_WRAPPED: %s", strerror(errno));
	bi.fd = b.fd;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), 0);
	check_int_eq(bi.flags & ~(uint32_t)DMAPIPE_BUF_PHYS,
		     DMAPIPE_BUF_DEVICE | DMAPIPE_BUF_WRAPPED | DMAPIPE_ALLOC_PAGE_MMAP);
	*map = mmap(NULL, FRAME_SIZE, PROT_READ, MAP_SHARED, b.fd, 0);
	check(*map != MAP_FAILED);
	check_int_eq(capture(b.fd, 0, &seq), 0);
	check_int_eq(poll_in(b.fd, 10000), 1);
	check_frame(*map, FRAME_SIZE, seq, UINT32_MAX);
	test_pass("driver-memory-wrapped-and-exported");
	return b.fd;
}

static void test_unload_with_buffers(int fds[4], uint8_t *maps[4], int wrapped_fd,
				     uint8_t *wrapped_map)
{
	uint64_t seq1, seq2;
	int sync1, sync2, ret;

	check_int_eq(capture(-1, 3, &seq1), 0);
	sync1 = export_sync_file(fds[3]);
	usleep(100000);	/* the kthread takes it and "DMAs" for LATENCY_MS */
	check_int_eq(capture(-1, 2, &seq2), 0);
	sync2 = export_sync_file(fds[2]);
	close(grabber);
	/* the driver's own memory in userspace keeps the driver */
	ret = unload_grabber();
	check_msg(ret == -EWOULDBLOCK || ret == -EBUSY,
		  "dmapipe_grabber unloaded while its own memory is in use: %s", strerror(-ret));
	munmap(wrapped_map, FRAME_SIZE);
	close(wrapped_fd);
	check_msg(unload_grabber() == 0, "unloading dmapipe_grabber: %s", strerror(errno));
	/* the frame in progress completed, the queued one was cancelled */
	check_int_eq(poll_in(sync1, 0), 1);
	if (sync_file_status(sync1) == 1)
		check_frame(maps[3], FRAME_SIZE, seq1, 3);
	else
		check_int_eq(sync_file_status(sync1), -ECANCELED);
	check_int_eq(poll_in(sync2, 0), 1);
	check_int_eq(sync_file_status(sync2), -ECANCELED);
	close(sync1);

	ret = syscall(SYS_delete_module, "dmapipe", O_NONBLOCK);
	check_msg(ret < 0 && (errno == EWOULDBLOCK || errno == EBUSY),
		  "dmapipe unloaded while the driver's buffers are alive");
	close(sync2);
	for (int i = 0; i < 4; i++) {
		check_int_eq(maps[i][FRAME_SIZE - 1], maps[i][FRAME_SIZE - 1]);
		munmap(maps[i], FRAME_SIZE);
		close(fds[i]);
	}
	kmod_check_idle();
	/* the fences' module references are gone once their RCU callbacks ran */
	for (int i = 0; i < 500 && module_refcnt("dmapipe") != base_refs; i++)
		usleep(10000);
	check_msg(module_refcnt("dmapipe") == base_refs, "dmapipe refcnt %u, was %u before",
		  module_refcnt("dmapipe"), base_refs);
	test_pass("driver-unload-with-buffers-in-userspace");
}

int main(int argc, char **argv)
{
	uint8_t *maps[4], *wrapped_map;
	char params[128];
	int fds[4], wrapped_fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/dmapipe_grabber.ko\n", argv[0]);
		return 2;
	}
	dev = kmod_open();
	kmod_require_vm("loads the sample driver");
	kmod_check_idle();
	base_refs = module_refcnt("dmapipe");
	snprintf(params, sizeof(params), "nbuffers=4 frame_size=%d latency_ms=%d", FRAME_SIZE,
		 LATENCY_MS);
	load_grabber(argv[1], params);

	test_buffers(fds, maps);
	test_poll_and_sync_file(fds[0], maps[0]);
	test_cpu_access_waits(fds[1], maps[1]);
	test_write_file_waits(fds[2]);
	test_capture_into_user_buffer();
	wrapped_fd = test_export_wrapped(&wrapped_map);
	test_unload_with_buffers(fds, maps, wrapped_fd, wrapped_map);

	close(dev);
	kmod_check_idle();
	return 0;
}
