/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "kmod-testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/dma-buf.h>

#include "private.h"

int kmod_open(void)
{
	int fd;

	/* progress lines reach the log even if a check aborts later */
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open("/dev/dmapipe", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		if (access("/sys/module/dmapipe", F_OK) != 0)
			test_skip("/dev/dmapipe: %s: the dmapipe module is not loaded "
				  "(the vm lane loads it: meson test --suite vm)", strerror(err));
		check_msg(0, "/dev/dmapipe: %s although the module is loaded", strerror(err));
	}
	return fd;
}

void kmod_require_vm(const char *why)
{
	const char *vm = getenv("DMAPIPE_VM");

	if (!vm || strcmp(vm, "1") != 0)
		test_skip("only in the VM lane (it %s)", why);
}

int kmod_alloc(int dev, uint64_t size, uint32_t flags, struct dmapipe_alloc *out)
{
	struct dmapipe_alloc a = { .size = size, .flags = flags };

	if (ioctl(dev, DMAPIPE_IOCTL_ALLOC, &a) < 0)
		return -errno;
	if (out)
		*out = a;
	return a.fd;
}

static uint64_t read_u64(const char *path)
{
	char line[64] = "";
	FILE *f = fopen(path, "r");

	check_msg(f, "%s: %s", path, strerror(errno));
	check(fgets(line, sizeof(line), f));
	fclose(f);
	return strtoull(line, NULL, 10);
}

void kmod_counters(uint64_t *bytes, unsigned int *buffers)
{
	*bytes = read_u64(KMOD_SYSFS "/bytes_in_use");
	*buffers = (unsigned int)read_u64(KMOD_SYSFS "/buffers");
}

void kmod_check_idle(void)
{
	uint64_t start = test_now_ms(), bytes;
	unsigned int buffers;

	for (;;) {
		kmod_counters(&bytes, &buffers);
		if (!bytes && !buffers)
			return;
		check_msg(test_now_ms() - start < 5000,
			  "counters not back to zero: %u buffers, %llu bytes", buffers,
			  (unsigned long long)bytes);
		usleep(10000);
	}
}

unsigned int kmod_param_get(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), KMOD_PARAMS "/%s", name);
	return (unsigned int)read_u64(path);
}

unsigned int kmod_param_set(const char *name, unsigned int value)
{
	unsigned int old = kmod_param_get(name);
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), KMOD_PARAMS "/%s", name);
	f = fopen(path, "w");
	check_msg(f, "%s: %s", path, strerror(errno));
	fprintf(f, "%u\n", value);
	check_msg(fclose(f) == 0, "%s: %s", path, strerror(errno));
	check_int_eq(kmod_param_get(name), value);
	return old;
}

void kmod_dmabuf_sync(int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };
	int ret;

	do {
		ret = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
	} while (ret < 0 && (errno == EINTR || errno == EAGAIN));
	check_msg(ret == 0, "DMA_BUF_IOCTL_SYNC 0x%llx: %s", (unsigned long long)flags,
		  strerror(errno));
}

void kmod_send_fd(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	check_msg(sendmsg(sock, &msg, 0) == 1, "sendmsg: %s", strerror(errno));
}

int kmod_recv_fd(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd;

	check_msg(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) == 1, "recvmsg: %s", strerror(errno));
	check(!(msg.msg_flags & MSG_CTRUNC));
	c = CMSG_FIRSTHDR(&msg);
	check(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int kmod_foreign_dmabuf(uint64_t size, const char **what)
{
	static const char *const names[] = { "udmabuf", "drm" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct dmapipe_format f = { .fourcc = dmapipe_fourcc_from_string("R8"),
					    .width = 4096, .height = (uint32_t)(size / 4096) };
		struct dmapipe_allocator *a = dmapipe_allocator_new(names[i]);
		struct dmapipe_buffer *b;
		int fd;

		if (!a)
			continue;
		b = dmapipe_allocator_alloc(a, &f);
		dmapipe_allocator_unref(a);
		if (!b)
			continue;
		fd = fcntl(dmapipe_buffer_get_layout(b)->objects[0].fd, F_DUPFD_CLOEXEC, 3);
		dmapipe_buffer_unref(b);
		check(fd >= 0);
		*what = names[i];
		return fd;
	}
	return -1;
}

static int run(const char *cmd)
{
	int ret = system(cmd);

	if (ret != 0)
		fprintf(stderr, "command failed (%d): %s\n", ret, cmd);
	return ret;
}

char *kmod_scratch_fs(unsigned int mib)
{
	char cmd[512];
	char *mnt;

	kmod_require_vm("makes a RAM disk file system");
	check_msg(access("/dev/ram0", F_OK) != 0,
		  "/dev/ram0 exists already: not touching someone else's RAM disk");
	snprintf(cmd, sizeof(cmd), "modprobe brd rd_nr=1 rd_size=%u max_part=0", mib * 1024);
	check(run(cmd) == 0);
	check(run("mkfs.ext4 -q -F -E nodiscard /dev/ram0") == 0);
	mnt = test_make_dir("scratch");
	check_msg(mount("/dev/ram0", mnt, "ext4", 0, NULL) == 0 ||
		  (run("modprobe ext4") == 0 && mount("/dev/ram0", mnt, "ext4", 0, NULL) == 0),
		  "mount ext4 on /dev/ram0: %s", strerror(errno));
	return mnt;
}

void kmod_scratch_fs_remove(char *mnt)
{
	check_msg(umount(mnt) == 0, "umount %s: %s", mnt, strerror(errno));
	rmdir(mnt);
	free(mnt);
	run("rmmod brd");
}

static uint64_t pattern_word(uint64_t offset, uint32_t seed)
{
	uint64_t x = (offset >> 3) * 0x9E3779B97F4A7C15ull + seed;

	return x ^ (x >> 29);
}

void kmod_fill(void *p, uint64_t len, uint64_t offset, uint32_t seed)
{
	uint64_t *w = p;

	check(len % 8 == 0 && offset % 8 == 0);
	for (uint64_t i = 0; i < len / 8; i++)
		w[i] = pattern_word(offset + i * 8, seed);
}

bool kmod_verify(const void *p, uint64_t len, uint64_t offset, uint32_t seed)
{
	const uint64_t *w = p;

	check(len % 8 == 0 && offset % 8 == 0);
	for (uint64_t i = 0; i < len / 8; i++) {
		if (w[i] != pattern_word(offset + i * 8, seed)) {
			fprintf(stderr, "pattern mismatch at byte %llu (seed %u)\n",
				(unsigned long long)(offset + i * 8), seed);
			return false;
		}
	}
	return true;
}
