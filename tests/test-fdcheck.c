/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe_fd_identify(): what a received fd may be. Pipes, sockets, files,
 * devices, O_PATH fds and memfds that are not sealed against shrinking are
 * refused; sealed memfds and dma-bufs are accepted with their real size.
 * The dma-buf part runs with whichever dma-buf allocator this machine has.
 * dmapipe_fd_is_sync_file(): only a sync_file is one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/dma-buf.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "private.h"
#include "alloc/alloc-private.h"
#include "testlib.h"

/* sw_sync (debugfs): a timeline whose fences signal only when told to. */
struct sw_sync_create_fence_data {
	uint32_t value;
	char name[32];
	int32_t fence;
};
#define SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct sw_sync_create_fence_data)

#define expect_refused(fd, err, text)                                                   \
	do {                                                                            \
		enum dmapipe_mem_kind kind_ = DMAPIPE_MEM_DMABUF;                       \
		uint64_t size_ = 1;                                                     \
		const char *why_ = NULL;                                                \
		int ret_ = dmapipe_fd_identify((fd), &kind_, &size_, &why_);            \
		check_msg(ret_ == (err), "%s: got %d (%s), wanted %d", #fd, ret_,       \
			  why_ ? why_ : "-", (err));                                    \
		check_msg(why_ && strstr(why_, (text)), "why: %s", why_ ? why_ : "NULL"); \
		check_int_eq(kind_, DMAPIPE_MEM_NONE);                                  \
		check_int_eq(size_, 0);                                                 \
		check(!dmapipe_fd_is_dmabuf(fd));                                       \
	} while (0)

static int memfd(const char *name, unsigned int flags, off_t size, int seals)
{
	int fd = memfd_create(name, MFD_CLOEXEC | flags);

	check(fd >= 0);
	check(ftruncate(fd, size) == 0);
	if (seals)
		check(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

static void test_not_memory(void)
{
	int p[2], s[2], fd;
	char *dir, path[512];
	struct statfs sfs;

	check(pipe2(p, O_CLOEXEC) == 0);
	expect_refused(p[0], -EBADFD, "not a dma-buf or memfd");
	expect_refused(p[1], -EBADFD, "not a dma-buf or memfd");
	close(p[0]);
	close(p[1]);

	check(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) == 0);
	expect_refused(s[0], -EBADFD, "not a dma-buf or memfd");
	close(s[0]);
	close(s[1]);

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	check(fd >= 0);
	expect_refused(fd, -EBADFD, "not a dma-buf or memfd");
	close(fd);

	/* a regular file: refused whatever the fs; tmpfs files answer
	 * F_GET_SEALS, and are told apart from unsealed memfds */
	dir = test_make_dir("fdcheck");
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	check(fd >= 0);
	check(ftruncate(fd, 4096) == 0);
	check(fstatfs(fd, &sfs) == 0);
	if (sfs.f_type == TMPFS_MAGIC)
		expect_refused(fd, -EBADFD, "a tmpfs/shmem file, not a memfd");
	else
		expect_refused(fd, -EBADFD, "not a dma-buf or memfd");
	close(fd);
	test_rmdir_all(dir);
	free(dir);

	/* /dev/shm is tmpfs wherever it exists: its files are not memfds */
	snprintf(path, sizeof(path), "/dev/shm/dmapipe-fdcheck-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 && fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
		check(ftruncate(fd, 4096) == 0);
		expect_refused(fd, -EBADFD, "a tmpfs/shmem file, not a memfd");
	} else {
		printf("# /dev/shm is not a tmpfs here: the shm-file case was not run\n");
	}
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}

	/* the executable itself, read-only */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	check(fd >= 0);
	check(dmapipe_fd_identify(fd, NULL, NULL, NULL) < 0);
	close(fd);

	/* closed and invalid fds */
	fd = dup(1);
	check(fd >= 0);
	close(fd);
	expect_refused(fd, -EBADF, "not an open fd");
	expect_refused(-1, -EBADF, "not an open fd");
	check_int_eq(dmapipe_fd_identify(-1, NULL, NULL, NULL), -EBADF);
	test_pass("not_memory");
}

static void test_memfds(void)
{
	enum dmapipe_mem_kind kind;
	uint64_t size;
	const char *why;
	char path[64];
	int fd, opath;

	/* no sealing allowed at all: the kernel reports F_SEAL_SEAL */
	fd = memfd("no-sealing", 0, 8192, 0);
	expect_refused(fd, -EPERM, "memfd is not sealed against shrinking (F_SEAL_SHRINK)");
	close(fd);

	fd = memfd("unsealed", MFD_ALLOW_SEALING, 8192, 0);
	expect_refused(fd, -EPERM, "memfd is not sealed against shrinking (F_SEAL_SHRINK)");
	close(fd);

	fd = memfd("grow-only", MFD_ALLOW_SEALING, 8192, F_SEAL_GROW | F_SEAL_SEAL);
	expect_refused(fd, -EPERM, "F_SEAL_SHRINK");
	close(fd);

	fd = memfd("sealed", MFD_ALLOW_SEALING, 12345, F_SEAL_SHRINK);
	why = "unset";
	check_int_eq(dmapipe_fd_identify(fd, &kind, &size, &why), 0);
	check_int_eq(kind, DMAPIPE_MEM_MEMFD);
	check_int_eq(size, 12345);
	check(why == NULL);
	check(!dmapipe_fd_is_dmabuf(fd));
	/* sealed against shrink, it may still grow: the size is read each time */
	check(ftruncate(fd, 20000) == 0);
	check_int_eq(dmapipe_fd_identify(fd, &kind, &size, NULL), 0);
	check_int_eq(size, 20000);
	check(ftruncate(fd, 100) < 0 && errno == EPERM);

	/* an O_PATH fd to the same memfd gives no access */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opath = open(path, O_PATH | O_CLOEXEC);
	check(opath >= 0);
	expect_refused(opath, -EBADFD, "O_PATH");
	close(opath);
	close(fd);

	/* write-sealed (read-only for everybody): accepted, mapped read-only by buffers */
	fd = memfd("write-sealed", MFD_ALLOW_SEALING, 4096, F_SEAL_SHRINK | F_SEAL_WRITE);
	check_int_eq(dmapipe_fd_identify(fd, &kind, &size, NULL), 0);
	check_int_eq(kind, DMAPIPE_MEM_MEMFD);
	check_int_eq(size, 4096);
	close(fd);

	/* a size-0 sealed memfd is identified; layout checks refuse it later */
	fd = memfd("empty", MFD_ALLOW_SEALING, 0, F_SEAL_SHRINK);
	check_int_eq(dmapipe_fd_identify(fd, &kind, &size, NULL), 0);
	check_int_eq(size, 0);
	close(fd);

	/* what our own allocators create */
	fd = dmapipe_memfd_create_sealed("dmapipe-test", 3 * 4096);
	check(fd >= 0);
	check_int_eq(dmapipe_fd_identify(fd, &kind, &size, NULL), 0);
	check_int_eq(kind, DMAPIPE_MEM_MEMFD);
	check_int_eq(size, 3 * 4096);
	{
		int seals = fcntl(fd, F_GET_SEALS);

		check(seals >= 0);
		check((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
		      (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
		check(!(seals & F_SEAL_WRITE));
		check(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	check(ftruncate(fd, 4096) < 0 && errno == EPERM);
	check(ftruncate(fd, 8 * 4096) < 0 && errno == EPERM);
	close(fd);
	check_int_eq(dmapipe_memfd_create_sealed("dmapipe-test", 0), -EINVAL);
	check_int_eq(dmapipe_memfd_create_sealed("dmapipe-test", UINT64_MAX), -EINVAL);
	test_pass("memfds");
}

static void test_dmabuf(void)
{
	static const char *const names[] = { "heap", "udmabuf", "drm" };
	struct dmapipe_format fmt = { .fourcc = dmapipe_fourcc_from_string("XRGB8888"),
				      .width = 64, .height = 64 };
	unsigned int tested = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct dmapipe_allocator *alloc = dmapipe_allocator_new(names[i]);
		const struct dmapipe_layout *l;
		struct dmapipe_buffer *buf;
		enum dmapipe_mem_kind kind;
		char path[64], target[256];
		uint64_t size;
		ssize_t n;
		int fd;

		if (!alloc) {
			printf("dma-buf via %s: not here (%s)\n", names[i], strerror(errno));
			continue;
		}
		buf = dmapipe_allocator_alloc(alloc, &fmt);
		check(buf);
		l = dmapipe_buffer_get_layout(buf);
		fd = l->objects[0].fd;
		check(dmapipe_fd_is_dmabuf(fd));
		check_int_eq(dmapipe_fd_identify(fd, &kind, &size, NULL), 0);
		check_int_eq(kind, DMAPIPE_MEM_DMABUF);
		check(size >= l->objects[0].size);
		/* a dma-buf's size is fixed: asking again gives the same answer */
		{
			uint64_t again = 0;

			check_int_eq(dmapipe_fd_identify(fd, NULL, &again, NULL), 0);
			check_int_eq(again, size);
		}

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		check(n > 0);
		target[n] = '\0';
		printf("dma-buf via %s: link \"%s\"\n", names[i], target);
		check(strncmp(target, "/dmabuf:", 8) == 0 ||
		      strcmp(target, "anon_inode:dmabuf") == 0);

		/* udmabuf's memfd is a memfd, not a dma-buf */
		if (dmapipe_buffer_get_direct_io_fd(buf, 0) >= 0) {
			int dio = dmapipe_buffer_get_direct_io_fd(buf, 0);

			check(!dmapipe_fd_is_dmabuf(dio));
			check_int_eq(dmapipe_fd_identify(dio, &kind, &size, NULL), 0);
			check_int_eq(kind, DMAPIPE_MEM_MEMFD);
		}
		dmapipe_buffer_unref(buf);
		dmapipe_allocator_unref(alloc);
		tested++;
	}
	if (tested)
		test_pass("dmabuf");
	else
		printf("dma-buf: no dma-buf provider on this machine, sub-test not run\n");
}

/*
 * dmapipe_fd_is_sync_file(): only a real sync_file passes. One is made by
 * sw_sync (debugfs) or by exporting a dma-buf's fences (6.0+), when this
 * machine has either; the refusals run everywhere.
 */
static void test_sync_file(void)
{
	int p[2], fd = -1;

	check(pipe2(p, O_CLOEXEC) == 0);
	check(!dmapipe_fd_is_sync_file(p[0]));
	close(p[0]);
	close(p[1]);
	fd = memfd("sync", MFD_ALLOW_SEALING, 4096, F_SEAL_SHRINK);
	check(!dmapipe_fd_is_sync_file(fd));
	close(fd);
	check(!dmapipe_fd_is_sync_file(-1));

	fd = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		struct sw_sync_create_fence_data d = { .value = 1 };

		check(!dmapipe_fd_is_sync_file(fd)); /* the timeline is not a fence */
		check(ioctl(fd, SW_SYNC_IOC_CREATE_FENCE, &d) == 0);
		close(fd);
		check(dmapipe_fd_is_sync_file(d.fence));
		close(d.fence);
		test_pass("sync_file (sw_sync)");
		return;
	}
#ifdef DMA_BUF_IOCTL_EXPORT_SYNC_FILE
	{
		static const char *const names[] = { "dmapipe", "heap", "udmabuf", "drm" };
		struct dmapipe_format fmt = { .fourcc = dmapipe_fourcc_from_string("XRGB8888"),
					      .width = 64, .height = 64 };
		bool exported = false;

		for (size_t i = 0; i < ARRAY_SIZE(names) && !exported; i++) {
			struct dmapipe_allocator *alloc = dmapipe_allocator_new(names[i]);
			struct dmapipe_buffer *buf = alloc ? dmapipe_allocator_alloc(alloc, &fmt) : NULL;
			struct dma_buf_export_sync_file e = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };

			if (buf) {
				fd = dmapipe_buffer_get_layout(buf)->objects[0].fd;
				exported = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e) == 0;
			}
			if (exported) {
				check(!dmapipe_fd_is_sync_file(fd));
				check(dmapipe_fd_is_sync_file(e.fd));
				close(e.fd);
			}
			dmapipe_buffer_unref(buf);
			dmapipe_allocator_unref(alloc);
		}
		if (exported) {
			test_pass("sync_file (exported from a dma-buf)");
			return;
		}
	}
#endif
	printf("sync_file: neither sw_sync nor a dma-buf's fence export here, "
	       "only the refusals were checked\n");
}

int main(void)
{
	int fds = test_count_fds();

	test_not_memory();
	test_memfds();
	test_dmabuf();
	test_sync_file();
	check_int_eq(test_count_fds(), fds);
	return 0;
}
