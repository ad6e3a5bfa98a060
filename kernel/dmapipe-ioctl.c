// SPDX-License-Identifier: GPL-2.0-only
/*
 * dmapipe: the ioctls of /dev/dmapipe (uapi/dmapipe.h).
 *
 * One dispatcher copies every argument in and out, so the handlers only
 * see kernel memory: it checks the ioctl number and direction, takes any
 * argument size from the version-0 size up (copy_struct_from_user()), and
 * copies the result back up to the caller's size. An ioctl that creates an
 * fd reserves it, and the fd is installed only once the result has reached
 * userspace: a failed copy leaves no fd behind.
 */

#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>

#include "dmapipe-priv.h"

union dmapipe_ioctl_arg {
	struct dmapipe_info info;
	struct dmapipe_alloc alloc;
	struct dmapipe_sync_range sync;
	struct dmapipe_buf_info buf_info;
	struct dmapipe_file_io file_io;
};

/**
 * struct dmapipe_ioctl_ctx - what a handler leaves for the dispatcher
 * @install: a dma-buf (one reference) to install as @install_fd once the
 *	result is copied out; dropped instead when that fails
 * @install_fd: a reserved, not yet installed fd
 */
struct dmapipe_ioctl_ctx {
	struct dma_buf *install;
	int install_fd;
};

static int ioctl_get_info(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg)
{
	struct dmapipe_info *info = &arg->info;

	info->abi_version = DMAPIPE_ABI_VERSION;
	info->page_size = PAGE_SIZE;
	info->features = DMAPIPE_FEATURE_ALLOC | DMAPIPE_FEATURE_COHERENT |
			 DMAPIPE_FEATURE_PAGE_MMAP | DMAPIPE_FEATURE_SYNC_RANGE |
			 DMAPIPE_FEATURE_FILE_IO | DMAPIPE_FEATURE_KERNEL_API;
	dmapipe_get_limits(&info->max_total_bytes, &info->max_buffer_bytes,
			   &info->max_buffers);
	dmapipe_get_counters(&info->bytes_in_use, &info->buffers);
	return 0;
}

static int ioctl_alloc(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg)
{
	struct dmapipe_alloc *alloc = &arg->alloc;
	struct dmapipe_buffer *buf;
	int fd;

	if (alloc->size > SIZE_MAX)
		return -EFBIG;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	buf = dmapipe_buffer_create(NULL, alloc->size, alloc->flags, true);
	if (IS_ERR(buf)) {
		put_unused_fd(fd);
		return PTR_ERR(buf);
	}
	alloc->size = buf->size;
	alloc->fd = fd;
	alloc->id = buf->id;
	ctx->install = buf->dmabuf;
	ctx->install_fd = fd;
	return 0;
}

static int ioctl_sync_range(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg)
{
	const u32 known = DMAPIPE_SYNC_RW | DMAPIPE_SYNC_END;
	struct dmapipe_sync_range *sync = &arg->sync;
	struct dmapipe_buffer *buf;
	bool write = sync->flags & DMAPIPE_SYNC_WRITE;
	bool start = !(sync->flags & DMAPIPE_SYNC_END);
	long ret;

	if ((sync->flags & ~known) || !(sync->flags & DMAPIPE_SYNC_RW))
		return -EINVAL;
	buf = dmapipe_buffer_get_from_fd(sync->fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = dmapipe_buffer_check_range(buf, sync->offset, sync->len);
	if (ret)
		goto out_put;

	if (start) {
		/* as DMA_BUF_IOCTL_SYNC: readers wait for writers, writers for all */
		ret = dma_resv_wait_timeout(buf->dmabuf->resv, dma_resv_usage_rw(write), true,
					    MAX_SCHEDULE_TIMEOUT);
		if (ret < 0)
			goto out_put;
		ret = 0;
	}
	dmapipe_buffer_sync_range(buf, sync->offset, sync->len, start);

out_put:
	dmapipe_buffer_put(buf);
	return ret;
}

static int ioctl_buf_info(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg)
{
	struct dmapipe_buf_info *info = &arg->buf_info;
	struct dmapipe_buffer *buf;

	buf = dmapipe_buffer_get_from_fd(info->fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	info->flags = buf->flags;
	info->size = buf->size;
	info->id = buf->id;
	info->segments = buf->segments;
	info->attachments = dmapipe_buffer_attachments(buf);
	info->max_segment = buf->max_segment;
	info->phys_addr = 0;
	/* physical addresses help attacks: only for those who could read them anyway */
	if (buf->segments == 1 && capable(CAP_SYS_ADMIN)) {
		info->phys_addr = page_to_phys(buf->pages[0]);
		info->flags |= DMAPIPE_BUF_PHYS;
	}
	memset(info->device, 0, sizeof(info->device));
	if (buf->dev)
		strscpy(info->device, dev_name(buf->dev), sizeof(info->device));
	dmapipe_buffer_put(buf);
	return 0;
}

static int ioctl_file_io(union dmapipe_ioctl_arg *arg, bool to_file)
{
	struct dmapipe_file_io *io = &arg->file_io;
	struct dmapipe_buffer *buf;
	struct file *file;
	umode_t mode;
	ssize_t ret;

	if ((io->flags & ~DMAPIPE_FILE_BUFFERED) || io->pad || io->file_offset > LLONG_MAX)
		return -EINVAL;
	io->done = 0;

	buf = dmapipe_buffer_get_from_fd(io->fd);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = dmapipe_buffer_check_range(buf, io->offset, io->len);
	if (ret)
		goto out_put_buf;

	file = fget(io->file_fd);
	if (!file) {
		ret = -EBADF;
		goto out_put_buf;
	}
	mode = file_inode(file)->i_mode;
	if (!S_ISREG(mode) && !S_ISBLK(mode)) {
		ret = -EINVAL;
		goto out_put_file;
	}
	if (!(file->f_flags & O_DIRECT) && !(io->flags & DMAPIPE_FILE_BUFFERED)) {
		ret = -EINVAL;
		goto out_put_file;
	}

	ret = dmapipe_file_io(buf, file, io->offset, io->len, io->file_offset, to_file);
	if (ret > 0) {
		io->done = ret;
		ret = 0;
	}

out_put_file:
	fput(file);
out_put_buf:
	dmapipe_buffer_put(buf);
	return ret;
}

static int ioctl_write_file(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg)
{
	return ioctl_file_io(arg, true);
}

static int ioctl_read_file(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg)
{
	return ioctl_file_io(arg, false);
}

struct dmapipe_ioctl_desc {
	unsigned int cmd;
	unsigned int size_ver0;
	int (*handler)(struct dmapipe_ioctl_ctx *ctx, union dmapipe_ioctl_arg *arg);
};

static const struct dmapipe_ioctl_desc dmapipe_ioctls[] = {
	[_IOC_NR(DMAPIPE_IOCTL_GET_INFO)] = {
		DMAPIPE_IOCTL_GET_INFO, DMAPIPE_INFO_SIZE_VER0, ioctl_get_info },
	[_IOC_NR(DMAPIPE_IOCTL_ALLOC)] = {
		DMAPIPE_IOCTL_ALLOC, DMAPIPE_ALLOC_SIZE_VER0, ioctl_alloc },
	[_IOC_NR(DMAPIPE_IOCTL_SYNC_RANGE)] = {
		DMAPIPE_IOCTL_SYNC_RANGE, DMAPIPE_SYNC_RANGE_SIZE_VER0, ioctl_sync_range },
	[_IOC_NR(DMAPIPE_IOCTL_BUF_INFO)] = {
		DMAPIPE_IOCTL_BUF_INFO, DMAPIPE_BUF_INFO_SIZE_VER0, ioctl_buf_info },
	[_IOC_NR(DMAPIPE_IOCTL_WRITE_FILE)] = {
		DMAPIPE_IOCTL_WRITE_FILE, DMAPIPE_FILE_IO_SIZE_VER0, ioctl_write_file },
	[_IOC_NR(DMAPIPE_IOCTL_READ_FILE)] = {
		DMAPIPE_IOCTL_READ_FILE, DMAPIPE_FILE_IO_SIZE_VER0, ioctl_read_file },
};

/* The ABI is fixed-width with explicit padding: same layout for 32-bit callers. */
static_assert(sizeof(struct dmapipe_info) == DMAPIPE_INFO_SIZE_VER0);
static_assert(sizeof(struct dmapipe_alloc) == DMAPIPE_ALLOC_SIZE_VER0);
static_assert(sizeof(struct dmapipe_sync_range) == DMAPIPE_SYNC_RANGE_SIZE_VER0);
static_assert(sizeof(struct dmapipe_buf_info) == DMAPIPE_BUF_INFO_SIZE_VER0);
static_assert(sizeof(struct dmapipe_file_io) == DMAPIPE_FILE_IO_SIZE_VER0);
static_assert(offsetof(struct dmapipe_info, bytes_in_use) == 40);
static_assert(offsetof(struct dmapipe_alloc, id) == 16);
static_assert(offsetof(struct dmapipe_sync_range, offset) == 8);
static_assert(offsetof(struct dmapipe_buf_info, device) == 48);
static_assert(offsetof(struct dmapipe_file_io, done) == 40);

long dmapipe_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dmapipe_ioctl_ctx ctx = { .install = NULL, .install_fd = -1 };
	void __user *uarg = (void __user *)arg;
	const struct dmapipe_ioctl_desc *desc;
	union dmapipe_ioctl_arg karg;
	unsigned int nr = _IOC_NR(cmd);
	size_t usize = _IOC_SIZE(cmd);
	size_t ksize;
	int ret;

	if (_IOC_TYPE(cmd) != DMAPIPE_IOC_MAGIC || nr >= ARRAY_SIZE(dmapipe_ioctls))
		return -ENOTTY;
	desc = &dmapipe_ioctls[array_index_nospec(nr, ARRAY_SIZE(dmapipe_ioctls))];
	if (!desc->handler || _IOC_DIR(cmd) != _IOC_DIR(desc->cmd))
		return -ENOTTY;
	if (usize < desc->size_ver0)
		return -EINVAL;
	ksize = _IOC_SIZE(desc->cmd);

	memset(&karg, 0, sizeof(karg));
	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		ret = copy_struct_from_user(&karg, ksize, uarg, usize);
		if (ret)
			return ret;
	}

	ret = desc->handler(&ctx, &karg);
	if (ret)
		return ret;

	if ((_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(uarg, &karg, min(usize, ksize)))
		ret = -EFAULT;
	if (ctx.install) {
		if (ret) {
			put_unused_fd(ctx.install_fd);
			dma_buf_put(ctx.install);
		} else {
			/* consumes the reference */
			fd_install(ctx.install_fd, ctx.install->file);
		}
	}
	return ret;
}
