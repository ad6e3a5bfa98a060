/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by the test programs. */
#ifndef DMAPIPE_TESTLIB_H
#define DMAPIPE_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define TEST_SKIP 77

/* Fails the test with file:line and a message. */
#define check(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

#define check_msg(cond, ...)                                                     \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,   \
				__LINE__, #cond);                                \
			fprintf(stderr, __VA_ARGS__);                            \
			fputc('\n', stderr);                                     \
			abort();                                                 \
		}                                                                \
	} while (0)

#define check_int_eq(a, b)                                                       \
	do {                                                                     \
		long long a_ = (long long)(a), b_ = (long long)(b);              \
		if (a_ != b_) {                                                  \
			fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);             \
			abort();                                                 \
		}                                                                \
	} while (0)

/* Prints the reason and exits 77 (meson: skipped). */
__attribute__((noreturn, format(printf, 1, 2))) void test_skip(const char *fmt, ...);

/* Prints "ok <name>" lines for sub-tests. */
void test_pass(const char *name);

/*
 * Number of open fds of this process (counts /proc/self/fd), once the
 * library's closer has closed what was handed to it (up to 20 s).
 */
int test_count_fds(void);
/*
 * A writer child @pid reports each sequence number it completed on the
 * pipe @fd (a uint64_t each): waits for @first of them, SIGKILLs the
 * child (checked), then takes what was still in the pipe, up to @max in
 * @logged, and closes @fd. Returns how many were reported.
 */
uint64_t test_kill_after(pid_t pid, int fd, uint64_t *logged, uint64_t max, uint64_t first);

/*
 * A fresh directory for sockets and files, outside /tmp's tmpfs in the VM
 * lane when $DMAPIPE_TEST_DIR is set; removed with test_rmdir_all().
 * Returns a malloc'ed path.
 */
char *test_make_dir(const char *tag);
/*
 * vgem's card node (found by its driver's name, /dev/dri/card0..15), open
 * read-write: its fd, its path in @path (@len bytes; NULL: not wanted), or
 * -ENODEV.
 */
int test_open_vgem(char *path, size_t len);
/* "@dir/@name", malloc()ed (the test aborts if it cannot be). */
char *test_path(const char *dir, const char *name);
void test_rmdir_all(const char *path);

/* Monotonic milliseconds. */
uint64_t test_now_ms(void);

/* Whether the environment demands real dma-bufs (VM lane), see tests/meson.build. */
bool test_require_dmabuf(void);

/*
 * A sync_file that signals only when test_fence_signal() says so: from
 * sw_sync (debugfs) where the kernel has it, else a vgem fence on a vgem
 * buffer exported with DMA_BUF_IOCTL_EXPORT_SYNC_FILE (Linux 6.0+; vgem
 * signals it by itself, with an error, after 10 s).
 */
struct test_fence {
	int fd;            /* the sync_file, owned: test_fence_finish() closes it */
	int dev;           /* the sw_sync timeline or the vgem node */
	uint32_t handle;   /* vgem: the buffer */
	uint32_t vgem;     /* vgem: the fence */
	bool sw_sync;
};

/* 0, or -errno with *why naming what this kernel lacks. */
int test_fence_new(struct test_fence *fence, const char **why);
/* 0 or -errno. */
int test_fence_signal(struct test_fence *fence);
/* Closes everything, the sync_file too if still open; safe after a failed _new(). */
void test_fence_finish(struct test_fence *fence);

struct dmapipe_server;
struct dmapipe_client;
/*
 * Dispatches @server and each of the @n @clients (NULL entries skipped),
 * without waiting on the clients, until three rounds in a row did nothing.
 */
void test_pump(struct dmapipe_server *server, struct dmapipe_client **clients, int n);

#endif
