/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dmapipe buffers to storage without a CPU copy, on ext4 (a RAM disk):
 *
 * - O_DIRECT pwrite()/pread() straight from/into a struct-page mapping
 *   (DMAPIPE_ALLOC_PAGE_MMAP), and the same refused (EFAULT) from a default,
 *   page-frame mapping, which get_user_pages() cannot pin;
 * - io_uring writes from the struct-page mapping, plain and as a registered
 *   (fixed) buffer;
 * - WRITE_FILE from a buffer with a default mapping, READ_FILE back, the
 *   file's bytes checked each time, short transfers at end of file and on
 *   a full file system;
 * - every error WRITE_FILE/READ_FILE promise, a foreign dma-buf included;
 * - WRITE_FILE to a frozen file system waits for the thaw (on 6.1 it once
 *   wrote at once and ext4 warned on every journal start: the lane fails a
 *   test whose kernel log has a WARNING).
 *
 * Prints MB/s of each path (a RAM disk under TCG: compare, do not quote).
 * Needs the dmapipe module and root (the VM lane); exits 77 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#if HAVE_LIBURING
#include <liburing.h>
#endif

#include "kmod-testlib.h"
#include "private.h"

#define BUF_SIZE (16u << 20)

static int dev;
static char *mnt;

struct mapped {
	int fd;
	uint8_t *p;
};

static struct mapped alloc_mapped(uint32_t flags, uint32_t seed)
{
	struct mapped m;

	m.fd = kmod_alloc(dev, BUF_SIZE, flags, NULL);
	check_msg(m.fd >= 0, "ALLOC: %s", strerror(-m.fd));
	m.p = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	check(m.p != MAP_FAILED);
	if (seed) {
		kmod_dmabuf_sync(m.fd, 0 /* START */ | 3);
		kmod_fill(m.p, BUF_SIZE, 0, seed);
		kmod_dmabuf_sync(m.fd, 4 /* END */ | 3);
	}
	return m;
}

static void free_mapped(struct mapped *m)
{
	munmap(m->p, BUF_SIZE);
	close(m->fd);
}

static int open_file(const char *name, int flags)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mnt, name);
	fd = open(path, flags | O_CLOEXEC, 0600);
	check_msg(fd >= 0, "%s: %s", path, strerror(errno));
	return fd;
}

static double mbps(uint64_t bytes, uint64_t us)
{
	return us ? (double)bytes / (double)us : 0.0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The file's bytes [file_offset, +len) are the pattern of @seed at @offset. */
static void check_file(const char *name, uint64_t file_offset, uint64_t len, uint64_t offset,
		       uint32_t seed)
{
	int fd = open_file(name, O_RDONLY | O_DIRECT);
	void *tmp;

	check_int_eq(posix_memalign(&tmp, 4096, len), 0);
	check_int_eq(pread(fd, tmp, len, (off_t)file_offset), (ssize_t)len);
	check_msg(kmod_verify(tmp, len, offset, seed), "%s: wrong bytes", name);
	free(tmp);
	close(fd);
}

static int file_io(unsigned long cmd, int buf_fd, int file_fd, uint64_t offset, uint64_t len,
		   uint64_t file_offset, uint32_t flags, uint64_t *done)
{
	struct dmapipe_file_io io = { .fd = buf_fd, .file_fd = file_fd, .offset = offset,
				      .len = len, .file_offset = file_offset, .flags = flags,
				      .done = 12345 };

	if (ioctl(dev, cmd, &io) < 0)
		return -errno;
	if (done)
		*done = io.done;
	return 0;
}

static void expect_io_error(unsigned long cmd, int buf_fd, int file_fd, uint64_t offset,
			    uint64_t len, uint64_t file_offset, uint32_t flags, int err,
			    const char *what)
{
	int ret = file_io(cmd, buf_fd, file_fd, offset, len, file_offset, flags, NULL);

	check_msg(ret == -err, "%s: %d (%s), wanted %s", what, ret, strerror(-ret),
		  strerror(err));
}

static void test_odirect_from_mapping(void)
{
	struct mapped src = alloc_mapped(DMAPIPE_ALLOC_PAGE_MMAP, 11);
	struct mapped wc = alloc_mapped(DMAPIPE_ALLOC_PAGE_MMAP | DMAPIPE_ALLOC_COHERENT, 12);
	struct mapped dst = alloc_mapped(DMAPIPE_ALLOC_PAGE_MMAP, 0);
	struct mapped pfn = alloc_mapped(0, 13);
	int f = open_file("odirect.bin", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	uint64_t t;

	t = now_us();
	check_msg(pwrite(f, src.p, BUF_SIZE, 0) == BUF_SIZE, "O_DIRECT pwrite from a "
		  "struct-page mapping: %s", strerror(errno));
	printf("O_DIRECT write from a struct-page mapping: %.0f MB/s\n",
	       mbps(BUF_SIZE, now_us() - t));
	check_file("odirect.bin", 0, BUF_SIZE, 0, 11);

	check_msg(pwrite(f, wc.p, BUF_SIZE, BUF_SIZE) == BUF_SIZE,
		  "O_DIRECT pwrite from a coherent struct-page mapping: %s", strerror(errno));
	check_file("odirect.bin", BUF_SIZE, BUF_SIZE, 0, 12);

	/* and into one: the device writes the buffer's pages */
	t = now_us();
	check_int_eq(pread(f, dst.p, BUF_SIZE, 0), BUF_SIZE);
	printf("O_DIRECT read into a struct-page mapping: %.0f MB/s\n",
	       mbps(BUF_SIZE, now_us() - t));
	kmod_dmabuf_sync(dst.fd, 0 | 1);
	check(kmod_verify(dst.p, BUF_SIZE, 0, 11));
	kmod_dmabuf_sync(dst.fd, 4 | 1);

	/* a page-frame mapping cannot be pinned: this is what WRITE_FILE is for */
	check_int_eq(pwrite(f, pfn.p, 1 << 20, 0), -1);
	check_int_eq(errno, EFAULT);

	close(f);
	free_mapped(&src);
	free_mapped(&wc);
	free_mapped(&dst);
	free_mapped(&pfn);
	test_pass("odirect-from-struct-page-mapping");
}

#if HAVE_LIBURING
static int uring_write(struct io_uring *ring, int fd, void *p, unsigned int len, uint64_t off,
		       int fixed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	check(sqe);
	if (fixed >= 0)
		io_uring_prep_write_fixed(sqe, fd, p, len, off, fixed);
	else
		io_uring_prep_write(sqe, fd, p, len, off);
	check_int_eq(io_uring_submit(ring), 1);
	check_int_eq(io_uring_wait_cqe(ring, &cqe), 0);
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

static bool kernel_older_than(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &ma, &mi);
	return ma < major || (ma == major && mi < minor);
}

static void test_io_uring(void)
{
	struct mapped src = alloc_mapped(DMAPIPE_ALLOC_PAGE_MMAP, 21);
	struct iovec iov = { .iov_base = src.p, .iov_len = BUF_SIZE };
	int f = open_file("uring.bin", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	struct io_uring ring;
	uint64_t t;
	int ret;

	ret = io_uring_queue_init(8, &ring, 0);
	if (ret < 0) {
		printf("io_uring unavailable here (%s): not tested\n", strerror(-ret));
		goto out;
	}
	t = now_us();
	ret = uring_write(&ring, f, src.p, BUF_SIZE, 0, -1);
	check_msg(ret == BUF_SIZE, "io_uring write from a struct-page mapping: %s",
		  ret < 0 ? strerror(-ret) : "short");
	printf("io_uring O_DIRECT write from a struct-page mapping: %.0f MB/s\n",
	       mbps(BUF_SIZE, now_us() - t));
	check_file("uring.bin", 0, BUF_SIZE, 0, 21);

	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret == -EOPNOTSUPP && kernel_older_than(6, 4)) {
		/* io_uring refused every file mapping as a fixed buffer until 6.4 */
		printf("io_uring fixed buffer from a dma-buf mapping: EOPNOTSUPP on this kernel "
		       "(before 6.4 io_uring takes no file-backed fixed buffers)\n");
	} else {
		check_msg(ret == 0, "io_uring_register_buffers of a struct-page mapping: %s",
			  strerror(-ret));
		t = now_us();
		ret = uring_write(&ring, f, src.p, BUF_SIZE, BUF_SIZE, 0);
		check_msg(ret == BUF_SIZE, "io_uring fixed write: %s",
			  ret < 0 ? strerror(-ret) : "short");
		printf("io_uring O_DIRECT write from a fixed (registered) dma-buf mapping: "
		       "%.0f MB/s\n", mbps(BUF_SIZE, now_us() - t));
		check_file("uring.bin", BUF_SIZE, BUF_SIZE, 0, 21);
		check_int_eq(io_uring_unregister_buffers(&ring), 0);
	}
	io_uring_queue_exit(&ring);
	test_pass("io-uring-from-struct-page-mapping");
out:
	close(f);
	free_mapped(&src);
}
#endif

static void test_write_read_file(void)
{
	struct mapped src = alloc_mapped(0, 31);	/* a default, page-frame mapping */
	struct mapped dst = alloc_mapped(0, 0);
	int f = open_file("write-file.bin", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	uint64_t done = 0, t;
	int ret;

	t = now_us();
	ret = file_io(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 0, BUF_SIZE, 0, 0, &done);
	check_msg(ret == 0, "WRITE_FILE: %s", strerror(-ret));
	check_int_eq(done, BUF_SIZE);
	printf("WRITE_FILE (O_DIRECT from a page-frame mapped buffer): %.0f MB/s\n",
	       mbps(BUF_SIZE, now_us() - t));
	check_file("write-file.bin", 0, BUF_SIZE, 0, 31);
	/* the file position did not move */
	check_int_eq(lseek(f, 0, SEEK_CUR), 0);

	/* a piece, to another place in the file */
	check_int_eq(file_io(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 1 << 20, 64 << 10,
			     BUF_SIZE + (4 << 20), 0, &done), 0);
	check_int_eq(done, 64 << 10);
	check_file("write-file.bin", BUF_SIZE + (4 << 20), 64 << 10, 1 << 20, 31);

	/* and back into another buffer */
	t = now_us();
	check_int_eq(file_io(DMAPIPE_IOCTL_READ_FILE, dst.fd, f, 0, BUF_SIZE, 0, 0, &done), 0);
	check_int_eq(done, BUF_SIZE);
	printf("READ_FILE (O_DIRECT into a page-frame mapped buffer): %.0f MB/s\n",
	       mbps(BUF_SIZE, now_us() - t));
	kmod_dmabuf_sync(dst.fd, 0 | 1);
	check(kmod_verify(dst.p, BUF_SIZE, 0, 31));
	kmod_dmabuf_sync(dst.fd, 4 | 1);

	/* the library's helpers, which the recorder uses: all bytes or an errno */
	check_int_eq(dmapipe_kmod_write_file(src.fd, 2 << 20, 1 << 20, f, 40 << 20), 0);
	check_file("write-file.bin", 40 << 20, 1 << 20, 2 << 20, 31);
	check_int_eq(dmapipe_kmod_read_file(dst.fd, 0, 1 << 20, f, 40 << 20), 0);
	kmod_dmabuf_sync(dst.fd, 0 | 1);
	check(kmod_verify(dst.p, 1 << 20, 2 << 20, 31));
	kmod_dmabuf_sync(dst.fd, 4 | 1);
	check_int_eq(dmapipe_kmod_read_file(dst.fd, 0, 1 << 20, f, (40 << 20) + (512 << 10)),
		     -ENODATA);
	check_int_eq(dmapipe_kmod_write_file(src.fd, 0, 4096, -1, 0), -EBADF);

	/* short at the end of the file, zero past it */
	check_int_eq(file_io(DMAPIPE_IOCTL_READ_FILE, dst.fd, f, 0, 64 << 10,
			     (41 << 20) - (32 << 10), 0, &done), 0);
	check_int_eq(done, 32 << 10);
	check_int_eq(file_io(DMAPIPE_IOCTL_READ_FILE, dst.fd, f, 0, 1 << 20, 1ull << 40, 0,
			     &done), 0);
	check_int_eq(done, 0);
	close(f);

	/* a file without O_DIRECT: refused, unless the caller accepts the copy */
	f = open_file("buffered.bin", O_RDWR | O_CREAT | O_TRUNC);
	expect_io_error(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 0, 4096, 0, 0, EINVAL,
			"WRITE_FILE to a file without O_DIRECT");
	check_int_eq(file_io(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 8192, 1 << 20, 0,
			     DMAPIPE_FILE_BUFFERED, &done), 0);
	check_int_eq(done, 1 << 20);
	close(f);
	check_file("buffered.bin", 0, 1 << 20, 8192, 31);

	free_mapped(&src);
	free_mapped(&dst);
	test_pass("write-file-read-file");
}

/*
 * A frozen file system: WRITE_FILE must wait for the thaw like write(2),
 * not write underneath the freeze. A child makes the call, the parent
 * checks it is still waiting well after the child said it was about to
 * call (no absolute time is asserted: a slow machine only waits longer),
 * thaws, and checks the bytes.
 */
static void test_frozen(void)
{
	struct mapped src = alloc_mapped(0, 41);
	int f = open_file("frozen.bin", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	int dirfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int go[2], status = 0;
	char c = 0;
	pid_t pid;

	check(dirfd >= 0);
	check_int_eq(pipe(go), 0);
	check_msg(ioctl(dirfd, FIFREEZE, 0) == 0, "FIFREEZE: %s", strerror(errno));
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		uint64_t done = 0;
		int ret;

		close(go[0]);
		if (write(go[1], "x", 1) != 1)
			_exit(3);
		ret = file_io(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 0, 1 << 20, 0, 0, &done);
		_exit(ret == 0 && done == (1 << 20) ? 0 : 4);
	}
	close(go[1]);
	check_int_eq(read(go[0], &c, 1), 1);
	close(go[0]);
	/* long enough for an unprotected 1 MiB write to a RAM disk to be over */
	usleep(500 * 1000);
	check_msg(waitpid(pid, &status, WNOHANG) == 0,
		  "WRITE_FILE finished on a frozen file system (status %d)", status);
	check_msg(ioctl(dirfd, FITHAW, 0) == 0, "FITHAW: %s", strerror(errno));
	check_int_eq(waitpid(pid, &status, 0), pid);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "WRITE_FILE after the thaw: status %d", status);
	check_file("frozen.bin", 0, 1 << 20, 0, 41);
	close(dirfd);
	close(f);
	free_mapped(&src);
	test_pass("frozen-file-system");
}

/* A full file system: a short transfer, then ENOSPC. */
static void test_enospc(void)
{
	struct mapped src = alloc_mapped(0, 41);
	int f = open_file("fill.bin", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	uint64_t done = BUF_SIZE, pos = 0;
	int ret = 0, i;

	for (i = 0; i < 64 && done == BUF_SIZE; i++) {
		ret = file_io(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 0, BUF_SIZE, pos, 0, &done);
		if (ret)
			break;
		pos += done;
	}
	check_msg(i < 64, "the file system never filled up");
	if (!ret)
		ret = file_io(DMAPIPE_IOCTL_WRITE_FILE, src.fd, f, 0, BUF_SIZE, pos, 0, &done);
	check_msg(ret == -ENOSPC, "WRITE_FILE on a full file system: %s", strerror(-ret));
	printf("ok full file system after %" PRIu64 " MiB: short, then ENOSPC\n", pos >> 20);
	close(f);
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/fill.bin", mnt);
		unlink(path);
	}
	free_mapped(&src);
	test_pass("enospc");
}

static void test_errors(void)
{
	const unsigned long W = DMAPIPE_IOCTL_WRITE_FILE, R = DMAPIPE_IOCTL_READ_FILE;
	struct mapped b = alloc_mapped(0, 51);
	int f = open_file("errors.bin", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	int ro = open_file("errors.bin", O_RDONLY | O_DIRECT);
	int wo = open_file("errors.bin", O_WRONLY | O_DIRECT);
	int dir = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *what = NULL;
	int pipefd[2], foreign;

	check(dir >= 0);
	check_int_eq(pipe(pipefd), 0);

	expect_io_error(W, b.fd, ro, 0, 4096, 0, 0, EBADF, "WRITE_FILE to a read-only fd");
	expect_io_error(R, b.fd, wo, 0, 4096, 0, 0, EBADF, "READ_FILE from a write-only fd");
	expect_io_error(W, b.fd, -1, 0, 4096, 0, 0, EBADF, "file fd -1");
	expect_io_error(W, b.fd, pipefd[1], 0, 4096, 0, 0, EINVAL, "a pipe");
	expect_io_error(W, b.fd, dir, 0, 4096, 0, 0, EINVAL, "a directory");
	expect_io_error(W, b.fd, b.fd, 0, 4096, 0, 0, EINVAL, "the dma-buf itself");
	expect_io_error(W, b.fd, dev, 0, 4096, 0, 0, EINVAL, "/dev/dmapipe");
	expect_io_error(W, b.fd, f, 0, BUF_SIZE + 4096ull, 0, 0, EINVAL, "past the buffer");
	expect_io_error(W, b.fd, f, BUF_SIZE, 1, 0, 0, EINVAL, "past the buffer");
	expect_io_error(W, b.fd, f, UINT64_MAX, 2, 0, 0, EINVAL, "overflowing offset");
	expect_io_error(W, b.fd, f, 4096, UINT64_MAX, 0, 0, EINVAL, "overflowing length");
	expect_io_error(W, b.fd, f, 0, 4096, (uint64_t)INT64_MAX + 1, 0, EINVAL,
			"a file offset above LLONG_MAX");
	expect_io_error(W, b.fd, f, 0, 4096, 0, 0x2, EINVAL, "unknown flags");
	expect_io_error(W, b.fd, f, 100, 4096, 0, 0, EINVAL, "O_DIRECT misaligned buffer offset");
	expect_io_error(W, b.fd, f, 0, 4096, 100, 0, EINVAL, "O_DIRECT misaligned file offset");
	expect_io_error(W, -1, f, 0, 4096, 0, 0, EBADF, "buffer fd -1");
	expect_io_error(W, f, f, 0, 4096, 0, 0, EINVAL, "a file as the buffer");
	{
		struct dmapipe_file_io io = { .fd = b.fd, .file_fd = f, .len = 4096, .pad = 1 };

		check_int_eq(ioctl(dev, W, &io), -1);
		check_int_eq(errno, EINVAL);
	}
	foreign = kmod_foreign_dmabuf(1 << 20, &what);
	check_msg(foreign >= 0, "no foreign dma-buf exporter (vgem or udmabuf) in the VM");
	expect_io_error(W, foreign, f, 0, 4096, 0, 0, EXDEV, "WRITE_FILE of a foreign dma-buf");
	expect_io_error(R, foreign, f, 0, 4096, 0, 0, EXDEV, "READ_FILE into a foreign dma-buf");
	printf("ok a %s dma-buf is refused with EXDEV\n", what);
	/* zero bytes is fine, and moves nothing */
	check_int_eq(file_io(W, b.fd, f, 0, 0, 0, 0, NULL), 0);

	close(foreign);
	close(pipefd[0]);
	close(pipefd[1]);
	close(dir);
	close(ro);
	close(wo);
	close(f);
	free_mapped(&b);
	test_pass("file-io-errors");
}

int main(void)
{
	dev = kmod_open();
	kmod_require_vm("mounts a RAM disk");
	kmod_check_idle();
	mnt = kmod_scratch_fs(160);

	test_odirect_from_mapping();
#if HAVE_LIBURING
	test_io_uring();
#else
	printf("built without liburing: io_uring not tested\n");
#endif
	test_write_read_file();
	test_errors();
	test_enospc();
	test_frozen();

	kmod_scratch_fs_remove(mnt);
	close(dev);
	kmod_check_idle();
	return 0;
}
