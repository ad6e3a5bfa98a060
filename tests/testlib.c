/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/dma-buf.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

void test_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(TEST_SKIP);
}

void test_pass(const char *name)
{
	printf("ok %s\n", name);
	fflush(stdout);
}

int test_count_fds(void)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	/* fds the library handed to its closer are still open until it got to them */
	if (dmapipe_closer_wait_idle(20000) < 0)
		fprintf(stderr, "test_count_fds: the closer is still busy after 20 s\n");
	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

char *test_make_dir(const char *tag)
{
	const char *base = getenv("DMAPIPE_TEST_DIR");
	char *path;

	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/dmapipe-%s-XXXXXX", base, tag) < 0)
		abort();
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

char *test_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

void test_pump(struct dmapipe_server *server, struct dmapipe_client **clients, int n)
{
	for (int idle = 0; idle < 3;) {
		int work = dmapipe_server_dispatch(server, 5);

		for (int i = 0; i < n; i++)
			if (clients[i])
				work += dmapipe_client_dispatch(clients[i], 0);
		idle = work > 0 ? 0 : idle + 1;
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void test_rmdir_all(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool test_require_dmabuf(void)
{
	const char *v = getenv("DMAPIPE_TEST_REQUIRE_DMABUF");

	return v && strcmp(v, "1") == 0;
}

/* ---- fences that signal when told ------------------------------------------------- */

/* sw_sync's uapi (drivers/dma-buf/sw_sync.c), not in the installed headers */
struct test_sw_sync_create_fence_data {
	uint32_t value;
	char name[32];
	int32_t fence;
};
#define TEST_SW_SYNC_IOC_CREATE_FENCE _IOWR('W', 0, struct test_sw_sync_create_fence_data)
#define TEST_SW_SYNC_IOC_INC _IOW('W', 1, uint32_t)

/* the few DRM and vgem calls needed (uapi drm.h, drm_mode.h, vgem_drm.h) */
struct test_drm_version {
	int major, minor, patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};
struct test_drm_create_dumb {
	uint32_t height, width, bpp, flags, handle, pitch;
	uint64_t size;
};
struct test_drm_prime_handle {
	uint32_t handle, flags;
	int32_t fd;
};
struct test_drm_gem_close {
	uint32_t handle, pad;
};
struct test_vgem_fence_attach {
	uint32_t handle, flags, out_fence, pad;
};
struct test_vgem_fence_signal {
	uint32_t fence, flags;
};
#define TEST_DRM_IOCTL_VERSION _IOWR('d', 0x00, struct test_drm_version)
#define TEST_DRM_IOCTL_GEM_CLOSE _IOW('d', 0x09, struct test_drm_gem_close)
#define TEST_DRM_IOCTL_PRIME_HANDLE_TO_FD _IOWR('d', 0x2d, struct test_drm_prime_handle)
#define TEST_DRM_IOCTL_MODE_CREATE_DUMB _IOWR('d', 0xb2, struct test_drm_create_dumb)
#define TEST_DRM_IOCTL_VGEM_FENCE_ATTACH _IOWR('d', 0x41, struct test_vgem_fence_attach)
#define TEST_DRM_IOCTL_VGEM_FENCE_SIGNAL _IOW('d', 0x42, struct test_vgem_fence_signal)
#define TEST_VGEM_FENCE_WRITE 0x1

static int fence_from_sw_sync(struct test_fence *fence)
{
	struct test_sw_sync_create_fence_data d = { .value = 1, .name = "test" };

	fence->dev = open("/sys/kernel/debug/sync/sw_sync", O_RDWR | O_CLOEXEC);
	if (fence->dev < 0)
		return -errno;
	if (ioctl(fence->dev, TEST_SW_SYNC_IOC_CREATE_FENCE, &d) < 0)
		return -errno;
	fence->fd = d.fence;
	fence->sw_sync = true;
	return 0;
}

int test_open_vgem(char *path, size_t len)
{
	for (int i = 0; i < 16; i++) {
		char node[32], name[16] = "";
		struct test_drm_version v = { .name_len = sizeof(name) - 1, .name = name };
		int fd;

		snprintf(node, sizeof(node), "/dev/dri/card%d", i);
		fd = open(node, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, TEST_DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "vgem") == 0) {
			if (path)
				snprintf(path, len, "%s", node);
			return fd;
		}
		close(fd);
	}
	return -ENODEV;
}

static int fence_from_vgem(struct test_fence *fence)
{
	struct test_drm_create_dumb dumb = { .height = 1, .width = 1024, .bpp = 32 };
	struct test_vgem_fence_attach attach = { .flags = TEST_VGEM_FENCE_WRITE };
	struct test_drm_prime_handle prime = { .flags = O_CLOEXEC, .fd = -1 };
	/* a reader of the buffer waits for its writer: the vgem fence */
	struct dma_buf_export_sync_file sync = { .flags = DMA_BUF_SYNC_READ, .fd = -1 };
	int ret = 0;

	fence->dev = test_open_vgem(NULL, 0);
	if (fence->dev < 0)
		return fence->dev;
	if (ioctl(fence->dev, TEST_DRM_IOCTL_MODE_CREATE_DUMB, &dumb) < 0)
		return -errno;
	fence->handle = dumb.handle;
	attach.handle = dumb.handle;
	if (ioctl(fence->dev, TEST_DRM_IOCTL_VGEM_FENCE_ATTACH, &attach) < 0)
		return -errno;
	fence->vgem = attach.out_fence;
	prime.handle = dumb.handle;
	if (ioctl(fence->dev, TEST_DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) < 0)
		return -errno;
	if (ioctl(prime.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &sync) < 0)
		ret = -errno;
	close(prime.fd);
	fence->fd = sync.fd;
	return ret;
}

int test_fence_new(struct test_fence *fence, const char **why)
{
	int ret;

	memset(fence, 0, sizeof(*fence));
	fence->fd = fence->dev = -1;
	if (fence_from_sw_sync(fence) == 0)
		return 0;
	test_fence_finish(fence);
	ret = fence_from_vgem(fence);
	if (ret == 0)
		return 0;
	test_fence_finish(fence);
	*why = ret == -ENODEV ? "no sw_sync in debugfs and no vgem node" :
	       "no sw_sync in debugfs, and vgem cannot make a fence here (needs Linux 6.0+ "
	       "for DMA_BUF_IOCTL_EXPORT_SYNC_FILE)";
	return ret;
}

int test_fence_signal(struct test_fence *fence)
{
	if (fence->sw_sync) {
		uint32_t one = 1;

		return ioctl(fence->dev, TEST_SW_SYNC_IOC_INC, &one) < 0 ? -errno : 0;
	} else {
		struct test_vgem_fence_signal sig = { .fence = fence->vgem };

		return ioctl(fence->dev, TEST_DRM_IOCTL_VGEM_FENCE_SIGNAL, &sig) < 0 ? -errno : 0;
	}
}

void test_fence_finish(struct test_fence *fence)
{
	if (fence->fd >= 0)
		close(fence->fd);
	if (!fence->sw_sync && fence->handle && fence->dev >= 0) {
		struct test_drm_gem_close c = { .handle = fence->handle };

		ioctl(fence->dev, TEST_DRM_IOCTL_GEM_CLOSE, &c);
	}
	if (fence->dev >= 0)
		close(fence->dev);
	memset(fence, 0, sizeof(*fence));
	fence->fd = fence->dev = -1;
}

uint64_t test_kill_after(pid_t pid, int fd, uint64_t *logged, uint64_t max, uint64_t first)
{
	uint64_t n = 0;
	int status;

	while (n < first) {
		ssize_t got = read(fd, &logged[n], sizeof(uint64_t));

		check_msg(got == sizeof(uint64_t), "the recording child ended early");
		n++;
	}
	check(kill(pid, SIGKILL) == 0);
	check(waitpid(pid, &status, 0) == pid);
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* completions reported before the kill that were still in the pipe */
	while (n < max && read(fd, &logged[n], sizeof(uint64_t)) == sizeof(uint64_t))
		n++;
	close(fd);
	return n;
}
