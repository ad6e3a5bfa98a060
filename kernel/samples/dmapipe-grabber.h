/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * dmapipe-grabber: the ioctls of the sample driver (dmapipe-grabber.c),
 * /dev/dmapipe-grabber.
 */
#ifndef _UAPI_DMAPIPE_GRABBER_H
#define _UAPI_DMAPIPE_GRABBER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct dmapipe_grabber_buffer - DMAPIPE_GRABBER_IOCTL_GET_BUFFER
 * @index: in: one of the driver's own buffers
 * @fd: out: a new dma-buf fd of it (O_CLOEXEC)
 */
struct dmapipe_grabber_buffer {
	__u32 index;
	__s32 fd;
};

/**
 * struct dmapipe_grabber_capture - DMAPIPE_GRABBER_IOCTL_CAPTURE
 * @fd: in: a dmapipe dma-buf to capture into, or -1 for buffer @index
 * @index: in: the driver's buffer when @fd is -1
 * @sequence: out: the frame's sequence number
 *
 * Queues one frame. On return the frame's fence is in the buffer: poll(),
 * DMA_BUF_IOCTL_SYNC and EXPORT_SYNC_FILE wait for it. The frame starts
 * with a struct dmapipe_grabber_frame, its other bytes are
 * (u8)(sequence + offset), and its last 8 bytes repeat the sequence.
 */
struct dmapipe_grabber_capture {
	__s32 fd;
	__u32 index;
	__u64 sequence;
};

#define DMAPIPE_GRABBER_MAGIC	0x44505247	/* "GRPD" in memory */

struct dmapipe_grabber_frame {
	__u32 magic;
	__u32 index;
	__u64 sequence;
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC, when the frame was complete */
	__u64 size;
};

#define DMAPIPE_GRABBER_IOCTL_GET_BUFFER \
	_IOWR(0xDA, 0x40, struct dmapipe_grabber_buffer)
#define DMAPIPE_GRABBER_IOCTL_CAPTURE \
	_IOWR(0xDA, 0x41, struct dmapipe_grabber_capture)
/*
 * A new buffer of the driver's own memory (wrapped with a release
 * function) that only the caller holds: @fd out, @index ignored. The
 * driver module cannot be unloaded until it is gone.
 */
#define DMAPIPE_GRABBER_IOCTL_EXPORT_WRAPPED \
	_IOR(0xDA, 0x42, struct dmapipe_grabber_buffer)

#endif /* _UAPI_DMAPIPE_GRABBER_H */
