/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What is this fd? Every fd received from another process goes through
 * dmapipe_fd_identify() before anything maps it.
 *
 *  - dma-buf: every dma-buf file lives on the kernel's internal "dmabuf"
 *    pseudo filesystem (since 5.3), so fstatfs() reports DMA_BUF_MAGIC and
 *    no user can forge that. Older kernels used an anon inode named
 *    "dmabuf"; /proc/self/fd/N then reads "anon_inode:dmabuf" (newer ones
 *    read "/dmabuf:" plus the buffer's name, if any). A dma-buf's size is
 *    fixed for its life and reported by lseek(fd, 0, SEEK_END).
 *  - memfd: only shmem and hugetlbfs files answer F_GET_SEALS. A memfd that
 *    is not sealed against shrinking can be truncated under our mapping by
 *    its sender, turning our next access into SIGBUS, so it is refused.
 *    A plain tmpfs (or /dev/shm) file answers F_GET_SEALS too, with
 *    F_SEAL_SEAL and no F_SEAL_SHRINK: it is refused as well, but told
 *    apart from an unsealed memfd by its /proc/self/fd link, which for a
 *    memfd reads "/memfd:NAME (deleted)", so that the refusal names the
 *    real mistake.
 *  - sync_file: the only fence the protocol carries (dmapipe_fd_is_sync_file()).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "private.h"
#include "core/memfd-seals.h"

#ifndef DMA_BUF_MAGIC
#define DMA_BUF_MAGIC 0x444d4142 /* "DMAB" */
#endif

/*
 * True if /proc/self/fd/@fd links to exactly @target (an anon inode's
 * name), or, with @prefix, to something that starts with it.
 */
static bool fd_link_matches(int fd, const char *target, bool prefix)
{
	char path[64], link[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return prefix ? strncmp(link, target, strlen(target)) == 0 : strcmp(link, target) == 0;
}

static bool fd_link_is(int fd, const char *target)
{
	return fd_link_matches(fd, target, false);
}

bool dmapipe_fd_is_dmabuf(int fd)
{
	struct statfs sfs;

	if (fd < 0 || fstatfs(fd, &sfs) < 0)
		return false;
	if ((unsigned long)sfs.f_type == DMA_BUF_MAGIC)
		return true;
	/* Before 5.3 dma-bufs were anon inodes; their fs is anon_inodefs. */
	if ((unsigned long)sfs.f_type == ANON_INODE_FS_MAGIC)
		return fd_link_is(fd, "anon_inode:dmabuf");
	return false;
}

static int fail(const char **why, const char *text, int err)
{
	if (why)
		*why = text;
	return err;
}

int dmapipe_fd_identify(int fd, enum dmapipe_mem_kind *kind, uint64_t *size, const char **why)
{
	struct stat st;
	off_t end;
	int flags, seals;

	if (kind)
		*kind = DMAPIPE_MEM_NONE;
	if (size)
		*size = 0;
	if (why)
		*why = NULL;

	flags = fcntl(fd, F_GETFL);
	if (fd < 0 || flags < 0)
		return fail(why, "not an open fd", -EBADF);
	if (flags & O_PATH)
		return fail(why, "an O_PATH fd gives no access to memory", -EBADFD);

	if (dmapipe_fd_is_dmabuf(fd)) {
		end = lseek(fd, 0, SEEK_END);
		if (end < 0)
			return fail(why, "cannot get the dma-buf's size (lseek SEEK_END failed)",
				    -errno);
		if (lseek(fd, 0, SEEK_SET) < 0)
			return fail(why, "cannot rewind the dma-buf (lseek SEEK_SET failed)",
				    -errno);
		if (end == 0)
			return fail(why, "dma-buf has size 0", -EBADFD);
		if (kind)
			*kind = DMAPIPE_MEM_DMABUF;
		if (size)
			*size = (uint64_t)end;
		return 0;
	}

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return fail(why, "not a dma-buf or memfd", -EBADFD);
	if (!(seals & F_SEAL_SHRINK) && !fd_link_matches(fd, "/memfd:", true))
		return fail(why, "a tmpfs/shmem file, not a memfd: only dma-bufs and sealed memfds "
			    "are accepted", -EBADFD);
	if (!(seals & F_SEAL_SHRINK))
		return fail(why, "memfd is not sealed against shrinking (F_SEAL_SHRINK)", -EPERM);
	if (fstat(fd, &st) < 0)
		return fail(why, "fstat of the memfd failed", -errno);
	if (!S_ISREG(st.st_mode))
		return fail(why, "not a dma-buf or memfd", -EBADFD);
	if (kind)
		*kind = DMAPIPE_MEM_MEMFD;
	if (size)
		*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * A sync_file is an anon inode named "sync_file" on every kernel the
 * library runs on; unlike a dma-buf it has no file system of its own to
 * ask fstatfs() about.
 */
bool dmapipe_fd_is_sync_file(int fd)
{
	return fd >= 0 && fd_link_is(fd, "anon_inode:sync_file");
}
