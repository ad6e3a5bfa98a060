/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What ring.c calls outside itself, for the libFuzzer build of fuzz-ring,
 * which compiles ring.c alone (instrumented) and never maps a ring: the
 * fd checks are not what it fuzzes.
 */
#include <errno.h>
#include <unistd.h>

#include "private.h"

int dmapipe_fd_identify(int fd, enum dmapipe_mem_kind *kind, uint64_t *size, const char **why)
{
	(void)fd;
	(void)kind;
	(void)size;
	*why = "not in the fuzz target";
	return -EBADF;
}

void dmapipe_close(int fd)
{
	if (fd >= 0)
		close(fd);
}
