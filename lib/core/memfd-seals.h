/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memfd flags and file seals for libc headers older than the kernel they
 * run on, and the one way the library creates a sealable memfd. Private
 * to lib/: the memfd allocator (alloc/memfd.c) and the shared-memory
 * rings (stream/ring.c) both make sealed memfds and must agree on how,
 * and core/fdcheck.c reads the seals of the memfds peers send.
 */
#ifndef DMAPIPE_MEMFD_SEALS_H
#define DMAPIPE_MEMFD_SEALS_H

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
/* 6.3+: say "never executable" so the kernel does not warn; older ones refuse the flag. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
/* Linux 5.1: no new writable mapping and no write(), for anyone */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/*
 * A new empty memfd named @name that accepts seals, close-on-exec and, on
 * kernels that know the flag, never executable. Returns the fd (the
 * caller closes it) or -errno.
 */
static inline int memfd_create_sealable(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd < 0 ? -errno : fd;
}

#endif /* DMAPIPE_MEMFD_SEALS_H */
