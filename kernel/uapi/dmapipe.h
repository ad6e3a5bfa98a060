/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * dmapipe: the ioctl ABI of /dev/dmapipe, the dma-buf exporter.
 *
 * docs/KERNEL.md describes it in prose; this header is the contract.
 *
 * Extensibility: every ioctl argument is a struct with fixed-width fields,
 * explicit padding and a size that is a multiple of 8, so it has the same
 * layout for 32- and 64-bit callers. The size is encoded in the ioctl number
 * (_IOC_SIZE). Later ABI versions only append fields. The module accepts any
 * size from the version-0 size (DMAPIPE_*_SIZE_VER0) up: a shorter struct is
 * zero-extended, a longer one must be zero beyond the fields the module knows
 * (else E2BIG), and results are copied back up to the caller's size only.
 * Input fields named "pad" or "reserved" must be zero (else EINVAL), unknown
 * flag bits are refused with EINVAL, unknown ioctls with ENOTTY.
 *
 * Fds named in a struct ("fd") are dma-bufs. A dma-buf that another exporter
 * made is refused with EXDEV; an fd that is not a dma-buf with EINVAL; a
 * closed fd with EBADF.
 */
#ifndef _UAPI_DMAPIPE_H
#define _UAPI_DMAPIPE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMAPIPE_ABI_VERSION		1

#define DMAPIPE_IOC_MAGIC		0xDA

/* GET_INFO.features: what this module can do */
#define DMAPIPE_FEATURE_ALLOC		0x0001	/* ALLOC, BUF_INFO */
#define DMAPIPE_FEATURE_COHERENT	0x0002	/* DMAPIPE_ALLOC_COHERENT */
#define DMAPIPE_FEATURE_PAGE_MMAP	0x0004	/* DMAPIPE_ALLOC_PAGE_MMAP */
#define DMAPIPE_FEATURE_SYNC_RANGE	0x0008	/* SYNC_RANGE */
#define DMAPIPE_FEATURE_FILE_IO		0x0010	/* WRITE_FILE, READ_FILE */
#define DMAPIPE_FEATURE_KERNEL_API	0x0020	/* drivers can allocate, wrap, fence */

/**
 * struct dmapipe_info - DMAPIPE_IOCTL_GET_INFO
 * @abi_version: out: DMAPIPE_ABI_VERSION of the module
 * @page_size: out: sizes and mmap offsets are multiples of this
 * @features: out: DMAPIPE_FEATURE_* bits
 * @max_total_bytes: out: limit on all buffers together, 0 for none
 * @max_buffer_bytes: out: limit on one buffer, 0 for none
 * @max_buffers: out: limit on the number of buffers, 0 for none
 * @buffers: out: buffers alive now, from every process and driver
 * @bytes_in_use: out: bytes those buffers hold
 */
struct dmapipe_info {
	__u32 abi_version;
	__u32 page_size;
	__u64 features;
	__u64 max_total_bytes;
	__u64 max_buffer_bytes;
	__u32 max_buffers;
	__u32 buffers;
	__u64 bytes_in_use;
};

#define DMAPIPE_INFO_SIZE_VER0		48

/* ALLOC.flags; BUF_INFO.flags reports them too */
/*
 * Write-combined CPU mappings and no cache maintenance: devices see CPU
 * writes without syncs, CPU reads are slow. Without it the buffer is
 * "streaming": cached, and synced by DMA_BUF_IOCTL_SYNC and SYNC_RANGE.
 */
#define DMAPIPE_ALLOC_COHERENT		0x0001
/*
 * mmap() inserts the struct pages (VM_MIXEDMAP), so the mapping can be the
 * buffer of O_DIRECT I/O and io_uring fixed buffers. Without it mmap() maps
 * page frames (VM_PFNMAP), as dma-heaps do: use WRITE_FILE/READ_FILE then.
 */
#define DMAPIPE_ALLOC_PAGE_MMAP		0x0002
/*
 * The memory is zeroed. Memory that userspace allocates is always zeroed;
 * the flag is accepted so a caller can say it relies on that.
 */
#define DMAPIPE_ALLOC_ZEROED		0x0004

/**
 * struct dmapipe_alloc - DMAPIPE_IOCTL_ALLOC
 * @size: in: bytes, rounded up to whole pages; out: the rounded size
 * @flags: in: DMAPIPE_ALLOC_* bits
 * @fd: out: the new dma-buf, O_RDWR | O_CLOEXEC; the caller closes it
 * @id: out: the buffer's id, unique while the module is loaded
 *
 * Errors: EINVAL (size 0 or unknown flags), EFBIG (above the max_buffer_mb
 * limit), EDQUOT (the max_total_mb or max_buffers limit would be exceeded),
 * ENOMEM, EMFILE (no free fd).
 */
struct dmapipe_alloc {
	__u64 size;
	__u32 flags;
	__s32 fd;
	__u64 id;
};

#define DMAPIPE_ALLOC_SIZE_VER0		24

/* SYNC_RANGE.flags: the values of DMA_BUF_SYNC_* from <linux/dma-buf.h> */
#define DMAPIPE_SYNC_READ		0x0001
#define DMAPIPE_SYNC_WRITE		0x0002
#define DMAPIPE_SYNC_RW			(DMAPIPE_SYNC_READ | DMAPIPE_SYNC_WRITE)
#define DMAPIPE_SYNC_START		0x0000
#define DMAPIPE_SYNC_END		0x0004

/**
 * struct dmapipe_sync_range - DMAPIPE_IOCTL_SYNC_RANGE
 * @fd: in: the dma-buf
 * @flags: in: DMAPIPE_SYNC_START or _END, with _READ and/or _WRITE
 * @offset: in: first byte of the range
 * @len: in: bytes in the range; 0 is allowed and syncs nothing
 *
 * DMA_BUF_IOCTL_SYNC for a byte range: START waits (interruptibly) for the
 * fences CPU access must wait for, as DMA_BUF_IOCTL_SYNC does, then makes
 * the range coherent for the CPU; END hands it back to the devices. Ranges
 * are widened to whole pages or DMA segments where the hardware needs it.
 * Errors: EINVAL (bad flags, range outside the buffer), EINTR.
 */
struct dmapipe_sync_range {
	__s32 fd;
	__u32 flags;
	__u64 offset;
	__u64 len;
};

#define DMAPIPE_SYNC_RANGE_SIZE_VER0	24

/* BUF_INFO.flags beyond the DMAPIPE_ALLOC_* bits */
#define DMAPIPE_BUF_DEVICE		0x00010000	/* allocated by a driver for its device */
#define DMAPIPE_BUF_WRAPPED		0x00020000	/* a driver's own memory */
#define DMAPIPE_BUF_PHYS		0x00040000	/* @phys_addr is valid */

/**
 * struct dmapipe_buf_info - DMAPIPE_IOCTL_BUF_INFO
 * @fd: in: the dma-buf
 * @flags: out: DMAPIPE_ALLOC_* and DMAPIPE_BUF_* bits
 * @size: out: bytes
 * @id: out: the buffer's id
 * @segments: out: physically contiguous runs of memory
 * @attachments: out: devices attached now
 * @max_segment: out: bytes in the longest run
 * @phys_addr: out: where a buffer of one segment starts, for CAP_SYS_ADMIN
 *	callers only (DMAPIPE_BUF_PHYS); 0 otherwise
 * @device: out: the driver's device name, "" for buffers of /dev/dmapipe
 */
struct dmapipe_buf_info {
	__s32 fd;
	__u32 flags;
	__u64 size;
	__u64 id;
	__u32 segments;
	__u32 attachments;
	__u64 max_segment;
	__u64 phys_addr;
	char device[32];
};

#define DMAPIPE_BUF_INFO_SIZE_VER0	80

/* FILE_IO.flags */
/*
 * Accept a file that was not opened with O_DIRECT: the kernel then copies
 * through the page cache. Without it such a file is refused with EINVAL.
 */
#define DMAPIPE_FILE_BUFFERED		0x0001

/**
 * struct dmapipe_file_io - DMAPIPE_IOCTL_WRITE_FILE, DMAPIPE_IOCTL_READ_FILE
 * @fd: in: the dma-buf
 * @file_fd: in: a regular file or block device, opened for writing
 *	(WRITE_FILE) or reading (READ_FILE), with O_DIRECT
 * @offset: in: first byte in the buffer
 * @len: in: bytes to move
 * @file_offset: in: position in the file, as for pwrite()/pread(); the
 *	file position does not change
 * @flags: in: DMAPIPE_FILE_* bits
 * @pad: must be 0
 * @done: out: bytes moved
 *
 * WRITE_FILE writes buffer bytes to the file, READ_FILE reads file bytes
 * into the buffer, in the kernel, straight from and into the buffer's pages:
 * with O_DIRECT the storage device reads or writes them by DMA, whatever
 * the buffer's own mapping is. WRITE_FILE first waits for the buffer's
 * write fences (a frame still being captured), READ_FILE for all of them.
 * Like pwrite(), a transfer that failed part way returns 0 with @done short;
 * READ_FILE stops short at the end of the file. O_DIRECT alignment rules of
 * the file system apply to @offset, @len and @file_offset (EINVAL).
 * Errors: EBADF (@file_fd not open for that), EINVAL (not a regular file or
 * block device, no O_DIRECT without DMAPIPE_FILE_BUFFERED, range outside
 * the buffer, alignment), EXDEV (another exporter's dma-buf), EINTR, and
 * whatever the file system returns.
 */
struct dmapipe_file_io {
	__s32 fd;
	__s32 file_fd;
	__u64 offset;
	__u64 len;
	__u64 file_offset;
	__u32 flags;
	__u32 pad;
	__u64 done;
};

#define DMAPIPE_FILE_IO_SIZE_VER0	48

#define DMAPIPE_IOCTL_GET_INFO		_IOR(DMAPIPE_IOC_MAGIC, 0x00, struct dmapipe_info)
#define DMAPIPE_IOCTL_ALLOC		_IOWR(DMAPIPE_IOC_MAGIC, 0x01, struct dmapipe_alloc)
#define DMAPIPE_IOCTL_SYNC_RANGE	_IOW(DMAPIPE_IOC_MAGIC, 0x02, struct dmapipe_sync_range)
#define DMAPIPE_IOCTL_BUF_INFO		_IOWR(DMAPIPE_IOC_MAGIC, 0x03, struct dmapipe_buf_info)
#define DMAPIPE_IOCTL_WRITE_FILE	_IOWR(DMAPIPE_IOC_MAGIC, 0x04, struct dmapipe_file_io)
#define DMAPIPE_IOCTL_READ_FILE		_IOWR(DMAPIPE_IOC_MAGIC, 0x05, struct dmapipe_file_io)

/*
 * dmapipe_vcap, the virtual V4L2 capture device (docs/VCAP.md): its own
 * controls, in the V4L2 user class (V4L2_CID_USER_BASE is 0x00980900).
 * The frame content is chosen with the standard V4L2_CID_TEST_PATTERN.
 */
#define DMAPIPE_VCAP_CID_BASE		(0x00980900 | 0xe000)
/* integer 0..100: percentage of frames dropped on purpose, by the rule of docs/VCAP.md */
#define DMAPIPE_VCAP_CID_DROP_RATE	(DMAPIPE_VCAP_CID_BASE + 0)

#endif /* _UAPI_DMAPIPE_H */
