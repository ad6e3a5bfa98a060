/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lifetime of dmapipe.ko: unloading is refused while anything holds
 * the module (an open /dev/dmapipe, a buffer's fd, a buffer only mapped,
 * a buffer only in another process) and works once nothing does; then 100
 * unload/load cycles, each using the device.
 *
 *   test-kmod-load /path/to/KVER/dmapipe.ko
 *
 * Modules that depend on dmapipe (holders, e.g. dmapipe_vcap) are unloaded
 * first and loaded again at the end from $DMAPIPE_TEST_KMODS (the lane's
 * modules, space separated). Leaves dmapipe loaded with its default
 * parameters. Only in the VM lane (exits 77 elsewhere).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod-testlib.h"
#include "private.h"

#define CYCLES 100

struct image {
	void *data;
	size_t size;
};

static struct image read_image(const char *path)
{
	struct image im = { NULL, 0 };
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	check_msg(fd >= 0, "%s: %s", path, strerror(errno));
	check_int_eq(fstat(fd, &st), 0);
	im.size = (size_t)st.st_size;
	im.data = malloc(im.size);
	check(im.data);
	check_int_eq(read(fd, im.data, im.size), (ssize_t)im.size);
	close(fd);
	return im;
}

static int load(const struct image *im)
{
	return syscall(SYS_init_module, im->data, im->size, "") == 0 ? 0 : -errno;
}

static int unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) == 0 ? 0 : -errno;
}

static bool loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return access(path, F_OK) == 0;
}

static void expect_busy(const char *why)
{
	int ret = unload("dmapipe");

	check_msg(ret == -EWOULDBLOCK || ret == -EBUSY,
		  "unloading dmapipe while %s: %s (wanted EBUSY or EWOULDBLOCK)", why,
		  ret ? strerror(-ret) : "it unloaded");
	check(loaded("dmapipe"));
}

/* The modules that use dmapipe, unloaded; their paths for reloading. */
static int unload_holders(char holders[][256], int max)
{
	const char *env = getenv("DMAPIPE_TEST_KMODS");
	DIR *d = opendir("/sys/module/dmapipe/holders");
	struct dirent *e;
	int n = 0;

	check(d);
	while ((e = readdir(d))) {
		char want[300];
		const char *p;

		if (e->d_name[0] == '.')
			continue;
		check(n < max);
		snprintf(want, sizeof(want), "/%s.ko", e->d_name);
		/* find NAME.ko (or NAME with '-' for '_') among the lane's modules */
		holders[n][0] = '\0';
		for (p = env ? env : ""; *p;) {
			size_t len = strcspn(p, " ");
			char path[256], norm[256];

			snprintf(path, sizeof(path), "%.*s", (int)len, p);
			snprintf(norm, sizeof(norm), "%s", path);
			for (char *c = strrchr(norm, '/'); c && *c; c++)
				if (*c == '-')
					*c = '_';
			if (strlen(norm) >= strlen(want) &&
			    strcmp(norm + strlen(norm) - strlen(want), want) == 0)
				snprintf(holders[n], 256, "%s", path);
			p += len;
			p += strspn(p, " ");
		}
		check_msg(holders[n][0], "module %s uses dmapipe and is not in $DMAPIPE_TEST_KMODS: "
			  "cannot load it again afterwards", e->d_name);
		check_msg(unload(e->d_name) == 0, "unloading %s: %s", e->d_name, strerror(errno));
		printf("unloaded %s (uses dmapipe)\n", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void test_refused_while_held(const struct image *im)
{
	int dev, fd, sv[2], status;
	uint8_t *p;
	pid_t pid;

	dev = kmod_open();
	expect_busy("/dev/dmapipe is open");
	fd = kmod_alloc(dev, 1 << 20, 0, NULL);
	check(fd >= 0);
	close(dev);
	expect_busy("a buffer's fd is open");

	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(p != MAP_FAILED);
	close(fd);
	expect_busy("a buffer is mapped");
	p[4096] = 42;

	/* the buffer lives on in another process only */
	check_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	check(pid >= 0);
	if (pid == 0) {
		int got;
		char c;

		close(sv[0]);
		got = kmod_recv_fd(sv[1]);
		check_int_eq(write(sv[1], "r", 1), 1);
		check_int_eq(read(sv[1], &c, 1), 1);	/* until the parent tried */
		close(got);
		_exit(0);
	}
	close(sv[1]);
	{
		int dev2 = kmod_open();

		fd = kmod_alloc(dev2, 4096, 0, NULL);
		close(dev2);
	}
	check(fd >= 0);
	kmod_send_fd(sv[0], fd);
	close(fd);
	check_int_eq(munmap(p, 1 << 20), 0);
	{
		char c;

		check_int_eq(read(sv[0], &c, 1), 1);
	}
	expect_busy("another process holds a buffer");
	check_int_eq(write(sv[0], "x", 1), 1);
	check_int_eq(waitpid(pid, &status, 0), pid);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(sv[0]);

	/* nothing holds it now */
	kmod_check_idle();
	check_msg(unload("dmapipe") == 0, "unloading an idle dmapipe: %s", strerror(errno));
	check(!loaded("dmapipe"));
	check_msg(load(im) == 0, "loading dmapipe again: %s", strerror(errno));
	test_pass("unload-refused-while-held");
}

static void test_cycles(const struct image *im)
{
	uint64_t start = test_now_ms();

	for (int i = 0; i < CYCLES; i++) {
		struct dmapipe_info info;
		int dev, ret;

		ret = unload("dmapipe");
		check_msg(ret == 0, "cycle %d: unload: %s", i, strerror(-ret));
		check(access("/dev/dmapipe", F_OK) != 0);
		ret = load(im);
		check_msg(ret == 0, "cycle %d: load: %s", i, strerror(-ret));
		dev = kmod_open();
		check_int_eq(ioctl(dev, DMAPIPE_IOCTL_GET_INFO, &info), 0);
		check_int_eq(info.abi_version, DMAPIPE_ABI_VERSION);
		check_int_eq(info.buffers, 0);
		if (i % 10 == 0) {
			int fd = kmod_alloc(dev, 64 << 10, (uint32_t)i % 8, NULL);

			check(fd >= 0);
			close(fd);
		}
		close(dev);
	}
	printf("%d unload/load cycles in %.1f s\n", CYCLES,
	       (double)(test_now_ms() - start) / 1000.0);
	test_pass("load-unload-cycles");
}

int main(int argc, char **argv)
{
	char holders[8][256];
	struct image im, him;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/dmapipe.ko\n", argv[0]);
		return 2;
	}
	close(kmod_open());
	kmod_require_vm("unloads and loads the module");
	im = read_image(argv[1]);
	kmod_check_idle();

	n = unload_holders(holders, 8);
	test_refused_while_held(&im);
	test_cycles(&im);
	for (int i = n - 1; i >= 0; i--) {
		him = read_image(holders[i]);
		check_msg(load(&him) == 0, "loading %s again: %s", holders[i], strerror(errno));
		free(him.data);
	}
	free(im.data);
	kmod_check_idle();
	return 0;
}
