/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Device discovery: the devices of this machine that produce, consume or
 * provide dma-bufs.
 *
 *   - V4L2 video nodes (/dev/videoN): capture devices, stateful
 *     memory-to-memory encoders and decoders, other mem2mem devices and
 *     outputs, with their formats per queue and whether their buffers can be
 *     exported (VIDIOC_EXPBUF) and imported (V4L2_MEMORY_DMABUF);
 *   - DRM render nodes (/dev/dri/renderDN) with their driver and PRIME and
 *     dumb-buffer support;
 *   - dma-heaps (/dev/dma_heap/NAME);
 *   - udmabuf (/dev/udmabuf);
 *   - dmapipe.ko (/dev/dmapipe);
 *   - KMS devices (/dev/dri/cardN of a driver with modesetting: display
 *     controllers, vkms) with their connectors and their planes' formats
 *     and modifiers.
 *
 * Devices are found through libudev when the library was built with it
 * (udev_enumerate reads sysfs, so no udev daemon is needed) and otherwise by
 * reading /sys/class directly. Discovery only queries: it never starts
 * streaming, and it allocates a buffer only when asked to prove export
 * (DMAPIPE_DISCOVER_PROBE_EXPORT). A device that cannot be opened or queried
 * (no permission, busy, broken driver) keeps its entry, with the error; it
 * never ends the listing.
 *
 * Every struct here is owned by the list it came from and valid until
 * dmapipe_device_list_free(). The structs carry reserved fields so they can
 * grow without changing their size.
 */
#ifndef DMAPIPE_DEVICE_H
#define DMAPIPE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dmapipe_device_type {
	DMAPIPE_DEVICE_V4L2 = 1,    /**< a V4L2 video node */
	DMAPIPE_DEVICE_DRM = 2,     /**< a DRM render node */
	DMAPIPE_DEVICE_DMA_HEAP = 3,
	DMAPIPE_DEVICE_UDMABUF = 4,
	DMAPIPE_DEVICE_DMAPIPE = 5, /**< dmapipe.ko */
	/** a DRM primary node with modesetting (a display controller). Since 0.1. */
	DMAPIPE_DEVICE_KMS = 6,
};

/** What a V4L2 video node is for, from its capabilities and formats. */
enum dmapipe_v4l2_role {
	DMAPIPE_V4L2_OTHER = 0,   /**< none below (metadata, touch, unknown) */
	DMAPIPE_V4L2_CAPTURE = 1, /**< video capture (camera, grabber) */
	DMAPIPE_V4L2_OUTPUT = 2,  /**< video output */
	/** mem2mem: raw frames in (OUTPUT queue), compressed out (CAPTURE queue) */
	DMAPIPE_V4L2_ENCODER = 3,
	/** mem2mem: compressed in (OUTPUT queue), raw frames out (CAPTURE queue) */
	DMAPIPE_V4L2_DECODER = 4,
	/** mem2mem with raw frames on both sides (scaler, converter) */
	DMAPIPE_V4L2_M2M = 5,
};

/** dmapipe_v4l2_format.flags */
#define DMAPIPE_V4L2_FORMAT_COMPRESSED (1u << 0) /**< V4L2_FMT_FLAG_COMPRESSED */
#define DMAPIPE_V4L2_FORMAT_EMULATED (1u << 1)   /**< V4L2_FMT_FLAG_EMULATED */

/** The frame sizes of one format (VIDIOC_ENUM_FRAMESIZES), summarised. */
struct dmapipe_frame_sizes {
	/**
	 * V4L2_FRMSIZE_TYPE_DISCRETE (1), _CONTINUOUS (2) or _STEPWISE (3);
	 * 0 when the driver does not enumerate sizes.
	 */
	uint32_t type;
	/** for DISCRETE: how many sizes; min/max are the smallest and largest */
	uint32_t n_discrete;
	uint32_t min_width, min_height;
	uint32_t max_width, max_height;
	/** for STEPWISE and CONTINUOUS (step 1) */
	uint32_t step_width, step_height;
	uint32_t reserved[4];
};

/** One format of a V4L2 queue (VIDIOC_ENUM_FMT). */
struct dmapipe_v4l2_format {
	uint32_t pixelformat; /**< V4L2_PIX_FMT_* */
	/** the DRM fourcc (dmapipe_fourcc_from_v4l2()), 0 if none (compressed formats) */
	uint32_t fourcc;
	/** buffers per frame for that DRM fourcc (1, or one per plane for "M" formats) */
	uint32_t n_objects;
	uint32_t flags;        /**< DMAPIPE_V4L2_FORMAT_* */
	char description[32];  /**< the driver's, NUL-terminated */
	struct dmapipe_frame_sizes sizes;
	uint32_t reserved[4];
};

/** One buffer queue of a V4L2 video node. */
struct dmapipe_v4l2_queue {
	uint32_t type; /**< V4L2_BUF_TYPE_* */
	/**
	 * V4L2_BUF_CAP_* from VIDIOC_REQBUFS with count 0 (which allocates
	 * nothing); 0 when the query failed (see error).
	 */
	uint32_t buf_caps;
	/**
	 * 0, or the errno of the queue queries: EBUSY when another file
	 * handle owns the queue (it is streaming elsewhere).
	 */
	int error;
	/**
	 * Buffers of this queue can be exported as dma-bufs (VIDIOC_EXPBUF of
	 * MMAP buffers). Without DMAPIPE_DISCOVER_PROBE_EXPORT this is read
	 * from V4L2_BUF_CAP_SUPPORTS_MMAP (every videobuf2 memory type can
	 * export); with it, one buffer was allocated and exported.
	 */
	bool dmabuf_export;
	/** dmabuf_export was proved by exporting a buffer */
	bool export_probed;
	/** V4L2_BUF_CAP_SUPPORTS_DMABUF: the queue imports dma-bufs */
	bool dmabuf_import;
	uint32_t n_formats;
	const struct dmapipe_v4l2_format *formats;
	uint32_t reserved[6];
};

#define DMAPIPE_V4L2_MAX_QUEUES 2

struct dmapipe_v4l2_device {
	char driver[16];   /**< VIDIOC_QUERYCAP, NUL-terminated */
	char card[32];     /**< VIDIOC_QUERYCAP, or sysfs "name" when it cannot be opened */
	char bus_info[32];
	uint32_t version;
	uint32_t capabilities; /**< V4L2_CAP_*, of the whole physical device */
	uint32_t device_caps;  /**< V4L2_CAP_*, of this node */
	uint32_t role;         /**< enum dmapipe_v4l2_role */
	bool multiplanar;      /**< the node uses the multi-planar API */
	/** for mem2mem nodes: OUTPUT queue first, then CAPTURE */
	uint32_t n_queues;
	struct dmapipe_v4l2_queue queues[DMAPIPE_V4L2_MAX_QUEUES];
	uint32_t reserved[8];
};

struct dmapipe_drm_device {
	char driver[32];       /**< drmGetVersion() name, "vgem" */
	char description[64];
	char card[64];         /**< the primary node of the same device, or "" */
	bool prime_import;     /**< DRM_CAP_PRIME */
	bool prime_export;
	/**
	 * The primary node can create a dumb buffer, export it with PRIME and
	 * map it (what the "drm" allocator needs; render nodes refuse dumb
	 * buffers). dumb_error is the errno when it cannot or was not checked.
	 */
	bool dumb_buffers;
	int dumb_error;
	uint32_t reserved[8];
};

struct dmapipe_udmabuf_device {
	/** /sys/module/udmabuf/parameters, or -1 when not readable */
	int64_t size_limit_mb;
	int64_t list_limit;
	uint32_t reserved[8];
};

struct dmapipe_kmod_device {
	uint32_t abi_version; /**< DMAPIPE_IOCTL_GET_INFO, see kernel/uapi/dmapipe.h */
	uint32_t page_size;
	uint64_t features;    /**< DMAPIPE_FEATURE_* bits */
	uint64_t max_total_bytes;  /**< 0: no limit */
	uint64_t max_buffer_bytes; /**< 0: no limit */
	uint32_t max_buffers;      /**< 0: no limit */
	uint32_t buffers;          /**< alive now, system-wide */
	uint64_t bytes_in_use;
	uint32_t reserved[8];
};

/** The type of a KMS plane: the values of its "type" property. */
enum dmapipe_kms_plane_type {
	DMAPIPE_KMS_PLANE_OVERLAY = 0,
	DMAPIPE_KMS_PLANE_PRIMARY = 1,
	DMAPIPE_KMS_PLANE_CURSOR = 2,
};

/** A format a plane scans out, with one modifier. */
struct dmapipe_kms_format {
	uint32_t fourcc;   /**< DRM_FORMAT_* */
	uint32_t reserved;
	/**
	 * DRM_FORMAT_MOD_*, from the plane's IN_FORMATS; DMAPIPE_MOD_INVALID
	 * when the plane lists no modifiers (the driver's implicit layout,
	 * which for dumb and foreign linear buffers is linear)
	 */
	uint64_t modifier;
};

/** One plane of a KMS device. */
struct dmapipe_kms_plane {
	uint32_t id;
	uint32_t type;           /**< enum dmapipe_kms_plane_type */
	uint32_t possible_crtcs; /**< bit i: the device's CRTC number i */
	/** the format and modifier pairs it scans out */
	uint32_t n_formats;
	const struct dmapipe_kms_format *formats;
	bool in_fence;           /**< it waits on acquire fences (IN_FENCE_FD) */
	uint32_t reserved[7];
};

/** One connector of a KMS device. */
struct dmapipe_kms_connector {
	uint32_t id;
	uint32_t type;           /**< DRM_MODE_CONNECTOR_* (18: writeback) */
	char name[32];           /**< "Virtual-1", "HDMI-A-1", "Writeback-1" */
	bool connected;
	bool writeback;          /**< composes the CRTC's output into a buffer */
	uint32_t possible_crtcs; /**< bit i: CRTC number i can drive it */
	uint32_t n_modes;
	/** its preferred mode, else its first; 0 when it has none */
	uint32_t width, height, refresh;
	uint32_t reserved[6];
};

struct dmapipe_kms_device {
	char driver[32];       /**< drmGetVersion() name, "vkms" */
	char description[64];
	bool atomic;           /**< takes atomic commits */
	bool modifiers;        /**< takes framebuffers with modifiers (DRM_CAP_ADDFB2_MODIFIERS) */
	bool prime_import;     /**< imports dma-bufs (DRM_CAP_PRIME) */
	uint32_t n_crtcs;
	uint32_t n_connectors;
	const struct dmapipe_kms_connector *connectors;
	uint32_t n_planes;
	const struct dmapipe_kms_plane *planes;
	uint32_t reserved[8];
};

/** One device. Only the member of its type is set; the others are NULL. */
struct dmapipe_device {
	uint32_t type;  /**< enum dmapipe_device_type */
	/**
	 * 0, or the errno of what failed (EACCES opening it, EBUSY...);
	 * what the entry holds then comes from sysfs only.
	 */
	int error;
	/** what failed: "open", "VIDIOC_QUERYCAP", ...; NULL when error is 0 */
	const char *error_op;
	/** sysfs name: "video0", "renderD128", "system", "udmabuf", "dmapipe", "card1" */
	char name[64];
	char path[128]; /**< device node, "/dev/video0" */
	const struct dmapipe_v4l2_device *v4l2;
	const struct dmapipe_drm_device *drm;
	const struct dmapipe_udmabuf_device *udmabuf;
	const struct dmapipe_kmod_device *kmod;
	/** Since 0.1; takes the room of reserved fields, so the size is unchanged */
	const struct dmapipe_kms_device *kms;
	uint32_t reserved[8 - sizeof(void *) / sizeof(uint32_t)];
};

struct dmapipe_device_list;

/**
 * Flag of dmapipe_device_list_new(): prove VIDIOC_EXPBUF on every V4L2
 * queue that is not busy by allocating one MMAP buffer, exporting it and
 * freeing it. Without it, export is read from the queue's capabilities and
 * nothing is allocated.
 */
#define DMAPIPE_DISCOVER_PROBE_EXPORT (1u << 0)

/**
 * Lists the devices present now, in a stable order: V4L2, DRM, dma-heaps,
 * udmabuf, dmapipe, KMS; by number within a type (video2 before video10).
 * A DRM primary node is listed as KMS only when its device has connectors
 * (vgem's has none).
 * A machine without any gives an empty list. Returns NULL with errno set
 * only when the listing itself fails (ENOMEM; EINVAL for unknown @flags;
 * the sysfs or udev error when /sys cannot be read). Free with
 * dmapipe_device_list_free(). Since 0.1.
 */
struct dmapipe_device_list *dmapipe_device_list_new(uint32_t flags);

/**
 * Frees @list and every struct it handed out (devices, queues, formats).
 * Accepts NULL. Since 0.1.
 */
void dmapipe_device_list_free(struct dmapipe_device_list *list);

/** The number of devices in @list (0 for NULL). Since 0.1. */
size_t dmapipe_device_list_get_count(const struct dmapipe_device_list *list);

/**
 * Device @index (< count), or NULL when out of range. Owned by @list and
 * valid until dmapipe_device_list_free(). Since 0.1.
 */
const struct dmapipe_device *dmapipe_device_list_get(const struct dmapipe_device_list *list,
						     size_t index);

/**
 * The first V4L2 device with @role that has a format @pixelformat
 * (V4L2_PIX_FMT_*, 0 for any) on the queue where that role takes its input
 * (OUTPUT for encoders and decoders) when @input is true, or gives its
 * output (CAPTURE for capture devices, encoders and decoders) otherwise.
 * NULL if none. Owned by @list and valid until dmapipe_device_list_free().
 * Since 0.1.
 */
const struct dmapipe_device *dmapipe_device_list_find_v4l2(const struct dmapipe_device_list *list,
							   enum dmapipe_v4l2_role role,
							   uint32_t pixelformat, bool input);

/**
 * The name of a KMS plane @type: "primary", "overlay", "cursor" ("unknown"
 * otherwise). A static string, never NULL. Since 0.2.
 */
const char *dmapipe_kms_plane_type_to_string(enum dmapipe_kms_plane_type type);

/** True when libdmapipe was built with libudev. Since 0.1. */
bool dmapipe_device_have_udev(void);

/**
 * The name of @type: "v4l2", "drm", "dma-heap", "udmabuf", "dmapipe",
 * "kms" ("unknown" otherwise). A static string, never NULL. Since 0.1.
 */
const char *dmapipe_device_type_to_string(enum dmapipe_device_type type);

/**
 * The name of @role: "capture", "output", "encoder", "decoder", "m2m",
 * "other". A static string, never NULL. Since 0.1.
 */
const char *dmapipe_v4l2_role_to_string(enum dmapipe_v4l2_role role);

/**
 * "video-capture", "video-capture-mplane", "video-output",
 * "video-output-mplane" or "other" for a V4L2_BUF_TYPE_*. A static
 * string, never NULL. Since 0.1.
 */
const char *dmapipe_v4l2_buf_type_to_string(uint32_t type);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_DEVICE_H */
