/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /dev/dmapipe: GET_INFO, then ALLOC / mmap / SYNC_RANGE / BUF_INFO / free
 * for every combination of the ALLOC flags, each buffer written by this
 * process and read back (and answered) by another process that received
 * the fd over SCM_RIGHTS. Also: buffers outlive their fd while mapped,
 * BUF_INFO hides physical addresses from unprivileged callers, the ioctl
 * ABI's size extensibility, and the errors for bad fds, foreign dma-bufs,
 * bad ranges and private mappings. The counters end at zero.
 *
 * Needs the dmapipe module and nobody else using it: the VM lane (exits 77
 * elsewhere).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "kmod-testlib.h"
#include "private.h"

static long page_size;

static void test_info(int dev)
{
	struct dmapipe_info info;

	memset(&info, 0xff, sizeof(info));
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_GET_INFO, &info), 0);
	check_int_eq(info.abi_version, DMAPIPE_ABI_VERSION);
	check_int_eq(info.page_size, page_size);
	check(info.features & DMAPIPE_FEATURE_ALLOC);
	check(info.features & DMAPIPE_FEATURE_COHERENT);
	check(info.features & DMAPIPE_FEATURE_PAGE_MMAP);
	check(info.features & DMAPIPE_FEATURE_SYNC_RANGE);
	check(info.features & DMAPIPE_FEATURE_FILE_IO);
	check_int_eq(info.max_total_bytes, (uint64_t)kmod_param_get("max_total_mb") << 20);
	check_int_eq(info.max_buffer_bytes, (uint64_t)kmod_param_get("max_buffer_mb") << 20);
	check_int_eq(info.max_buffers, kmod_param_get("max_buffers"));
	check_int_eq(info.buffers, 0);
	check_int_eq(info.bytes_in_use, 0);
	printf("abi %u, features 0x%llx, limits %llu MiB total, %llu MiB per buffer, %u buffers\n",
	       info.abi_version, (unsigned long long)info.features,
	       (unsigned long long)(info.max_total_bytes >> 20),
	       (unsigned long long)(info.max_buffer_bytes >> 20), info.max_buffers);
	test_pass("get-info");
}

/* The child: receives the fd, checks the parent's bytes, writes its own. */
static int child_main(int sock, uint64_t size, uint32_t seed)
{
	int fd = kmod_recv_fd(sock);
	uint8_t *p;
	char ok = 0;

	check(fd >= 0);
	check(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	check_int_eq(lseek(fd, 0, SEEK_END), (off_t)size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check_msg(p != MAP_FAILED, "child mmap: %s", strerror(errno));
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	check(kmod_verify(p, size, 0, seed));
	kmod_fill(p, size, 0, seed + 1);
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
	munmap(p, size);
	close(fd);
	check_int_eq(write(sock, &ok, 1), 1);
	return 0;
}

static void share_with_child(int fd, uint8_t *p, uint64_t size, uint32_t seed)
{
	int sv[2], status;
	pid_t pid;
	char ok;

	check_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(child_main(sv[1], size, seed));
	}
	close(sv[1]);
	kmod_send_fd(sv[0], fd);
	check_int_eq(read(sv[0], &ok, 1), 1);
	check_int_eq(waitpid(pid, &status, 0), pid);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	close(sv[0]);

	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
	check(kmod_verify(p, size, 0, seed + 1));
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
}

static void sync_range(int dev, int fd, uint32_t flags, uint64_t offset, uint64_t len,
		       int want_errno)
{
	struct dmapipe_sync_range s = { .fd = fd, .flags = flags, .offset = offset, .len = len };
	int ret = ioctl(dev, DMAPIPE_IOCTL_SYNC_RANGE, &s);

	if (want_errno)
		check_msg(ret < 0 && errno == want_errno, "SYNC_RANGE 0x%x %" PRIu64 "+%" PRIu64
			  ": %d (%s), wanted %s", flags, offset, len, ret, strerror(errno),
			  strerror(want_errno));
	else
		check_msg(ret == 0, "SYNC_RANGE 0x%x %" PRIu64 "+%" PRIu64 ": %s", flags, offset,
			  len, strerror(errno));
}

static void test_flags(int dev, uint32_t flags, uint64_t size)
{
	const uint32_t seed = flags * 1000 + (uint32_t)(size >> 12);
	struct dmapipe_buf_info bi = { 0 };
	struct dmapipe_alloc a;
	uint64_t bytes, rounded = ALIGN_UP(size, (uint64_t)page_size);
	unsigned int buffers;
	uint8_t *p;
	int fd;

	fd = kmod_alloc(dev, size, flags, &a);
	check_msg(fd >= 0, "ALLOC %" PRIu64 " flags 0x%x: %s", size, flags, strerror(-fd));
	check_int_eq(a.fd, fd);
	check_int_eq(a.size, rounded);
	check(a.id > 0);
	check(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	check_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	check(dmapipe_fd_is_dmabuf(fd));
	check_int_eq(lseek(fd, 0, SEEK_END), (off_t)rounded);
	kmod_counters(&bytes, &buffers);
	check_int_eq(buffers, 1);
	check_int_eq(bytes, rounded);

	bi.fd = fd;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), 0);
	check_int_eq(bi.flags & 0xffff, flags | DMAPIPE_ALLOC_ZEROED);
	check_int_eq(bi.flags & (DMAPIPE_BUF_DEVICE | DMAPIPE_BUF_WRAPPED), 0);
	check_int_eq(bi.size, rounded);
	check_int_eq(bi.id, a.id);
	check(bi.segments >= 1 && bi.segments <= rounded / page_size);
	check(bi.max_segment >= (uint64_t)page_size && bi.max_segment <= rounded);
	check_int_eq(bi.attachments, 0);
	check_int_eq(bi.device[0], 0);
	/* root here: an address only for a single contiguous segment */
	check_int_eq(!!(bi.flags & DMAPIPE_BUF_PHYS), bi.segments == 1);
	check_int_eq(bi.phys_addr != 0, bi.segments == 1);

	p = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check_msg(p != MAP_FAILED, "mmap flags 0x%x: %s", flags, strerror(errno));
	/* zeroed, always */
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
	for (uint64_t i = 0; i < rounded; i += 8)
		check(*(uint64_t *)(p + i) == 0);
	kmod_fill(p, rounded, 0, seed);
	kmod_dmabuf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);

	/* ranges: whole, pieces, unaligned, empty, each direction */
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, 0, rounded, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_END | DMAPIPE_SYNC_RW, 0, rounded, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_READ, 1, 3, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_END | DMAPIPE_SYNC_READ, 1, 3, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_WRITE, rounded - 1, 1, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_END | DMAPIPE_SYNC_WRITE, rounded - 1, 1, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, rounded, 0, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, (uint64_t)page_size / 2,
		   rounded - (uint64_t)page_size, 0);
	sync_range(dev, fd, DMAPIPE_SYNC_END | DMAPIPE_SYNC_RW, (uint64_t)page_size / 2,
		   rounded - (uint64_t)page_size, 0);
	/* refused */
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, rounded, 1, EINVAL);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, 1, rounded, EINVAL);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, UINT64_MAX, 2, EINVAL);
	sync_range(dev, fd, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, 2, UINT64_MAX, EINVAL);
	sync_range(dev, fd, DMAPIPE_SYNC_START, 0, rounded, EINVAL);
	sync_range(dev, fd, DMAPIPE_SYNC_RW | 8, 0, rounded, EINVAL);

	share_with_child(fd, p, rounded, seed);

	/* the mapping keeps the buffer after its last fd is closed */
	close(fd);
	kmod_counters(&bytes, &buffers);
	check_int_eq(buffers, 1);
	check(kmod_verify(p, rounded, 0, seed + 1));
	check_int_eq(munmap(p, rounded), 0);
	kmod_check_idle();
	printf("ok flags 0x%x size %" PRIu64 ": %u segments, longest %" PRIu64 " bytes\n", flags,
	       size, bi.segments, (uint64_t)bi.max_segment);
}

/* Partial and offset mappings; private and oversized ones are refused. */
static void test_mmap_errors(int dev)
{
	const uint64_t size = 16 * (uint64_t)page_size;
	uint32_t flags[] = { 0, DMAPIPE_ALLOC_PAGE_MMAP };

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		int fd = kmod_alloc(dev, size, flags[i], NULL);
		uint8_t *p, *q;

		check(fd >= 0);
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		check(p != MAP_FAILED);
		kmod_fill(p, size, 0, 7);
		q = mmap(NULL, 4 * page_size, PROT_READ, MAP_SHARED, fd, 5 * page_size);
		check_msg(q != MAP_FAILED, "offset mmap: %s", strerror(errno));
		check(kmod_verify(q, 4 * page_size, 5 * page_size, 7));
		munmap(q, 4 * page_size);

		check(mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED);
		check_int_eq(errno, EINVAL);
		check(mmap(NULL, size + page_size, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
		check(mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, size) == MAP_FAILED);
		/* no growing a mapping beyond the buffer (VM_DONTEXPAND) */
		q = mremap(p, size, size + page_size, MREMAP_MAYMOVE);
		check(q == MAP_FAILED);
		munmap(p, size);
		close(fd);
	}
	kmod_check_idle();
	test_pass("mmap-errors");
}

/* An unprivileged process with the fd open learns no physical address. */
static void test_unprivileged_info(int dev)
{
	int fd = kmod_alloc(dev, (uint64_t)page_size, 0, NULL);
	int status;
	pid_t pid;

	check(fd >= 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		struct dmapipe_buf_info bi = { .fd = fd };

		check_int_eq(setresgid(65534, 65534, 65534), 0);
		check_int_eq(setresuid(65534, 65534, 65534), 0);
		check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), 0);
		check_int_eq(bi.segments, 1);
		check_int_eq(bi.phys_addr, 0);
		check_int_eq(bi.flags & DMAPIPE_BUF_PHYS, 0);
		_exit(0);
	}
	check_int_eq(waitpid(pid, &status, 0), pid);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	close(fd);
	kmod_check_idle();
	test_pass("unprivileged-buf-info");
}

#define IOC_RESIZE(cmd, size) (((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) | \
			       ((unsigned long)(size) << _IOC_SIZESHIFT))

/* Structs are extensible by size (uapi/dmapipe.h). */
static void test_abi_sizes(int dev)
{
	uint8_t big[256];
	struct dmapipe_alloc *a = (void *)big;
	int fd;

	/* shorter than version 0 */
	memset(big, 0, sizeof(big));
	check_int_eq(ioctl(dev, IOC_RESIZE(DMAPIPE_IOCTL_GET_INFO, 40), big), -1);
	check_int_eq(errno, EINVAL);
	/* longer: zero-extended fields are fine, results copied up to our size */
	memset(big, 0xaa, sizeof(big));
	check_int_eq(ioctl(dev, IOC_RESIZE(DMAPIPE_IOCTL_GET_INFO, 64), big), 0);
	check_int_eq(((struct dmapipe_info *)big)->abi_version, DMAPIPE_ABI_VERSION);
	check_int_eq(big[48], 0xaa);

	memset(big, 0, sizeof(big));
	a->size = (uint64_t)page_size;
	check_int_eq(ioctl(dev, IOC_RESIZE(DMAPIPE_IOCTL_ALLOC, 128), big), 0);
	check(a->fd >= 0);
	close(a->fd);
	/* longer with non-zero bytes the module does not know */
	memset(big, 0, sizeof(big));
	a->size = (uint64_t)page_size;
	big[100] = 1;
	check_int_eq(ioctl(dev, IOC_RESIZE(DMAPIPE_IOCTL_ALLOC, 128), big), -1);
	check_int_eq(errno, E2BIG);
	/* wrong direction, type or number */
	check_int_eq(ioctl(dev, _IOW(DMAPIPE_IOC_MAGIC, 0x00, struct dmapipe_info), big), -1);
	check_int_eq(errno, ENOTTY);
	check_int_eq(ioctl(dev, _IOWR(DMAPIPE_IOC_MAGIC, 0x3f, struct dmapipe_alloc), big), -1);
	check_int_eq(errno, ENOTTY);
	check_int_eq(ioctl(dev, _IOWR('b', 0x01, struct dmapipe_alloc), big), -1);
	check_int_eq(errno, ENOTTY);
	/* bad pointers */
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_ALLOC, NULL), -1);
	check_int_eq(errno, EFAULT);
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_GET_INFO, (void *)16), -1);
	check_int_eq(errno, EFAULT);
	/* an ALLOC whose result cannot be copied out leaves no fd and no buffer */
	fd = dup(0);
	close(fd);
	{
		struct dmapipe_alloc *ro = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		check(ro != MAP_FAILED);
		ro->size = (uint64_t)page_size;
		check_int_eq(mprotect(ro, page_size, PROT_READ), 0);
		check_int_eq(ioctl(dev, DMAPIPE_IOCTL_ALLOC, ro), -1);
		check_int_eq(errno, EFAULT);
		munmap(ro, page_size);
	}
	check_int_eq(dup(0), fd);
	close(fd);
	kmod_check_idle();
	test_pass("abi-sizes");
}

static void expect_alloc_error(int dev, uint64_t size, uint32_t flags, int err)
{
	int ret = kmod_alloc(dev, size, flags, NULL);

	check_msg(ret == -err, "ALLOC %" PRIu64 " 0x%x: %d (%s), wanted %s", size, flags, ret,
		  ret < 0 ? strerror(-ret) : "fd", strerror(err));
}

static void test_errors(int dev)
{
	struct dmapipe_buf_info bi = { 0 };
	const char *what = NULL;
	int fd, foreign, pipefd[2];

	expect_alloc_error(dev, 0, 0, EINVAL);
	expect_alloc_error(dev, 4096, 0x8, EINVAL);
	expect_alloc_error(dev, 4096, 0x80000000u, EINVAL);
	expect_alloc_error(dev, UINT64_MAX, 0, EFBIG);
	expect_alloc_error(dev, UINT64_MAX - 4095, 0, EFBIG);

	/* fds that are not ours */
	bi.fd = -1;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), -1);
	check_int_eq(errno, EBADF);
	bi.fd = 1000000;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), -1);
	check_int_eq(errno, EBADF);
	check_int_eq(pipe(pipefd), 0);
	bi.fd = pipefd[0];
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), -1);
	check_int_eq(errno, EINVAL);
	bi.fd = dev;
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), -1);
	check_int_eq(errno, EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	foreign = kmod_foreign_dmabuf(1 << 20, &what);
	if (foreign >= 0) {
		bi.fd = foreign;
		check_int_eq(ioctl(dev, DMAPIPE_IOCTL_BUF_INFO, &bi), -1);
		check_int_eq(errno, EXDEV);
		sync_range(dev, foreign, DMAPIPE_SYNC_START | DMAPIPE_SYNC_RW, 0, 4096, EXDEV);
		close(foreign);
		printf("ok a %s dma-buf is refused with EXDEV\n", what);
	} else {
		printf("no other dma-buf exporter here (udmabuf, vgem): foreign fds not tested\n");
	}

	/* the device's own ioctls on a dma-buf, dma-buf ioctls on the device */
	fd = kmod_alloc(dev, 4096, 0, NULL);
	check(fd >= 0);
	check_int_eq(ioctl(fd, DMAPIPE_IOCTL_GET_INFO, &bi), -1);
	check_int_eq(errno, ENOTTY);
	{
		struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };

		check_int_eq(ioctl(dev, DMA_BUF_IOCTL_SYNC, &s), -1);
		check_int_eq(errno, ENOTTY);
	}
	close(fd);
	kmod_check_idle();
	test_pass("errors");
}

int main(void)
{
	static const uint64_t sizes[] = { 1, 4096 * 3 + 1, 2 << 20, (8 << 20) + 4096 };
	int dev;

	page_size = sysconf(_SC_PAGESIZE);
	dev = kmod_open();
	kmod_require_vm("checks the module's global counters");
	kmod_check_idle();
	test_info(dev);
	for (uint32_t flags = 0; flags < 8; flags++)
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
			test_flags(dev, flags, sizes[i]);
	test_pass("every-flag-combination");
	test_mmap_errors(dev);
	test_unprivileged_info(dev);
	test_abi_sizes(dev);
	test_errors(dev);
	close(dev);
	kmod_check_idle();
	return 0;
}
