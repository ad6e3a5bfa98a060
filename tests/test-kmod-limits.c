/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The limits of dmapipe.ko: max_buffer_mb (EFBIG), max_total_mb and
 * max_buffers (EDQUOT), 0 for none, changed at run time; GET_INFO and the
 * sysfs counters agree with what is allocated. And memory itself: an
 * allocation above its memory cgroup's limit fails with ENOMEM, without
 * the OOM killer and without a warning in the kernel log.
 *
 * Changes module parameters, so only in the VM lane (exits 77 elsewhere).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod-testlib.h"
#include "private.h"

#define MIB (1ull << 20)

static int dev;

static void expect(uint64_t size, int err)
{
	int fd = kmod_alloc(dev, size, 0, NULL);

	if (!err) {
		check_msg(fd >= 0, "ALLOC %" PRIu64 ": %s", size, strerror(-fd));
		close(fd);
	} else {
		check_msg(fd == -err, "ALLOC %" PRIu64 ": %d (%s), wanted %s", size, fd,
			  fd < 0 ? strerror(-fd) : "an fd", strerror(err));
	}
}

static void check_counters(unsigned int buffers, uint64_t bytes)
{
	struct dmapipe_info info;
	unsigned int b;
	uint64_t n;

	kmod_counters(&n, &b);
	check_int_eq(b, buffers);
	check_int_eq(n, bytes);
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_GET_INFO, &info), 0);
	check_int_eq(info.buffers, buffers);
	check_int_eq(info.bytes_in_use, bytes);
}

static void test_buffer_limit(void)
{
	struct dmapipe_info info;

	kmod_param_set("max_buffer_mb", 2);
	check_int_eq(ioctl(dev, DMAPIPE_IOCTL_GET_INFO, &info), 0);
	check_int_eq(info.max_buffer_bytes, 2 * MIB);
	expect(2 * MIB, 0);
	expect(2 * MIB + 1, EFBIG);
	expect(UINT64_MAX, EFBIG);
	kmod_param_set("max_buffer_mb", 0);
	expect(6 * MIB, 0);
	check_counters(0, 0);
	test_pass("max_buffer_mb");
}

static void test_total_limit(void)
{
	int a, b, c;

	kmod_param_set("max_total_mb", 8);
	a = kmod_alloc(dev, 4 * MIB, 0, NULL);
	b = kmod_alloc(dev, 4 * MIB, DMAPIPE_ALLOC_PAGE_MMAP, NULL);
	check(a >= 0 && b >= 0);
	check_counters(2, 8 * MIB);
	expect(4096, EDQUOT);
	expect(9 * MIB, EDQUOT);
	close(a);
	check_counters(1, 4 * MIB);
	expect(4 * MIB + 1, EDQUOT);
	c = kmod_alloc(dev, 4 * MIB, DMAPIPE_ALLOC_COHERENT, NULL);
	check(c >= 0);
	/* lowering a limit below what is in use refuses new buffers only */
	kmod_param_set("max_total_mb", 1);
	expect(4096, EDQUOT);
	check_counters(2, 8 * MIB);
	close(b);
	close(c);
	expect(MIB, 0);
	kmod_param_set("max_total_mb", 0);
	expect(16 * MIB, 0);
	check_counters(0, 0);
	test_pass("max_total_mb");
}

static void test_count_limit(void)
{
	int fds[5];

	kmod_param_set("max_buffers", 3);
	for (int i = 0; i < 3; i++) {
		fds[i] = kmod_alloc(dev, 4096, 0, NULL);
		check(fds[i] >= 0);
	}
	expect(4096, EDQUOT);
	check_counters(3, 3 * 4096);
	close(fds[1]);
	fds[1] = kmod_alloc(dev, 4096, 0, NULL);
	check(fds[1] >= 0);
	kmod_param_set("max_buffers", 0);
	for (int i = 3; i < 5; i++) {
		fds[i] = kmod_alloc(dev, 4096, 0, NULL);
		check(fds[i] >= 0);
	}
	check_counters(5, 5 * 4096);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	check_counters(0, 0);
	test_pass("max_buffers");
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -errno;
}

/* ALLOC charges the caller's memory cgroup, and fails cleanly at its limit. */
static void test_memcg(void)
{
	char *root = test_make_dir("cgroup"), group[512], path[600], pid[32];
	int status;
	pid_t child;

	if (mount("cgroup2", root, "cgroup2", 0, NULL) < 0) {
		printf("no cgroup2 here (%s): memory cgroup limit not tested\n", strerror(errno));
		rmdir(root);
		free(root);
		return;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	snprintf(group, sizeof(group), "%s/dmapipe-test", root);
	check_msg(write_file(path, "+memory") == 0, "enabling the memory controller failed");
	check_int_eq(mkdir(group, 0755), 0);
	snprintf(path, sizeof(path), "%s/memory.max", group);
	check_int_eq(write_file(path, "67108864"), 0);
	snprintf(path, sizeof(path), "%s/memory.swap.max", group);
	write_file(path, "0");

	child = fork();
	check(child >= 0);
	if (child == 0) {
		int fd;

		snprintf(path, sizeof(path), "%s/cgroup.procs", group);
		snprintf(pid, sizeof(pid), "%d", getpid());
		check_int_eq(write_file(path, pid), 0);
		fd = kmod_alloc(dev, 16 * MIB, 0, NULL);
		check_msg(fd >= 0, "16 MiB under a 64 MiB cgroup: %s", strerror(-fd));
		close(fd);
		fd = kmod_alloc(dev, 128 * MIB, 0, NULL);
		check_msg(fd == -ENOMEM, "128 MiB under a 64 MiB cgroup: %s",
			  fd < 0 ? strerror(-fd) : "allocated");
		_exit(0);
	}
	check_int_eq(waitpid(child, &status, 0), child);
	check_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "child status 0x%x (killed by the OOM killer?)", status);
	check_int_eq(rmdir(group), 0);
	check_int_eq(umount(root), 0);
	rmdir(root);
	free(root);
	check_counters(0, 0);
	test_pass("memory-cgroup-enomem");
}

int main(void)
{
	unsigned int buffer_mb, total_mb, buffers;

	dev = kmod_open();
	kmod_require_vm("changes the module's limits");
	kmod_check_idle();
	buffer_mb = kmod_param_get("max_buffer_mb");
	total_mb = kmod_param_get("max_total_mb");
	buffers = kmod_param_get("max_buffers");

	test_buffer_limit();
	test_total_limit();
	test_count_limit();
	kmod_param_set("max_buffer_mb", buffer_mb);
	kmod_param_set("max_total_mb", total_mb);
	kmod_param_set("max_buffers", buffers);
	test_memcg();

	close(dev);
	kmod_check_idle();
	return 0;
}
