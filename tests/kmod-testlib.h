/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers of the kernel module tests (test-kmod-*.c): /dev/dmapipe, its
 * counters and parameters, fd passing, a scratch file system that does
 * O_DIRECT, a dma-buf of another exporter.
 */
#ifndef DMAPIPE_KMOD_TESTLIB_H
#define DMAPIPE_KMOD_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "../kernel/uapi/dmapipe.h"
#include "testlib.h"

#define KMOD_SYSFS "/sys/class/misc/dmapipe"
#define KMOD_PARAMS "/sys/module/dmapipe/parameters"

/* Opens /dev/dmapipe, or exits 77 saying why it is not there. */
int kmod_open(void);

/* Exits 77 unless running in the VM lane ($DMAPIPE_VM=1), naming @why. */
void kmod_require_vm(const char *why);

/* DMAPIPE_IOCTL_ALLOC: the dma-buf fd, or -errno; @out may be NULL. */
int kmod_alloc(int dev, uint64_t size, uint32_t flags, struct dmapipe_alloc *out);

/* The sysfs counters. */
void kmod_counters(uint64_t *bytes, unsigned int *buffers);
/* Waits (up to 5 s: fput may be deferred) for the counters to be 0; fails otherwise. */
void kmod_check_idle(void);

/* Module parameters: read, and write (returns the old value). */
unsigned int kmod_param_get(const char *name);
unsigned int kmod_param_set(const char *name, unsigned int value);

/* DMA_BUF_IOCTL_SYNC; fails the test on error. */
void kmod_dmabuf_sync(int fd, uint64_t flags);

/* Sends one fd over a unix socket / receives one (returns it). */
void kmod_send_fd(int sock, int fd);
int kmod_recv_fd(int sock);

/*
 * A dma-buf from another exporter (udmabuf, else vgem through the drm
 * allocator), or -1 when there is none. @what gets its name.
 */
int kmod_foreign_dmabuf(uint64_t size, const char **what);

/*
 * A fresh ext4 file system on a RAM disk (brd), mounted at a new directory
 * whose malloc'ed path is returned: tmpfs cannot do O_DIRECT on every
 * kernel. Root only (the VM lane). kmod_scratch_fs_remove() undoes it.
 */
char *kmod_scratch_fs(unsigned int mib);
void kmod_scratch_fs_remove(char *mnt);

/* Fills/checks a pattern that depends on the offset and a seed. */
void kmod_fill(void *p, uint64_t len, uint64_t offset, uint32_t seed);
bool kmod_verify(const void *p, uint64_t len, uint64_t offset, uint32_t seed);

#endif
