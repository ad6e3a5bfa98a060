/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the display's files share (display.c: the object and its frames;
 * display-commit.c: atomic commits, flips and leases; display-fb.c: the
 * imports; display-writeback.c: the writeback connector), and the KMS
 * plumbing (display-kms.c) that discovery (discover-kms.c) asks devices
 * with too. Built with libdrm only. Not installed.
 */
#ifndef DMAPIPE_DISPLAY_PRIVATE_H
#define DMAPIPE_DISPLAY_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <xf86drm.h>
#include <xf86drmMode.h>

#include "private.h"
#include "dmapipe/device.h"
#include "dmapipe/display.h"

/* ---- KMS plumbing (display-kms.c) ----------------------------------- */

/* The properties of a plane that a commit sets; 0 when it has none. */
struct kms_plane_props {
	uint32_t fb_id, crtc_id;
	uint32_t src_x, src_y, src_w, src_h;
	uint32_t crtc_x, crtc_y, crtc_w, crtc_h;
	uint32_t in_fence_fd;
};

struct kms_plane {
	uint32_t id;
	uint32_t type;           /* enum dmapipe_kms_plane_type */
	uint32_t possible_crtcs;
	uint32_t crtc_id;        /* the CRTC it is on now, 0 if none */
	struct dmapipe_kms_format *formats; /* malloc'ed */
	uint32_t n_formats;
	bool has_modifiers;      /* formats came from IN_FORMATS */
	struct kms_plane_props prop;
};

/*
 * Opens a DRM primary node for modesetting: O_RDWR | O_CLOEXEC, with the
 * client caps that show every plane and connector (universal planes,
 * atomic, and writeback connectors when @writeback). *@atomic tells
 * whether the driver takes atomic commits. Returns the fd (the caller
 * closes it) or -errno.
 */
int kms_open(const char *path, bool writeback, bool *atomic);

/* The id of property @name of a KMS object, 0 if it has none; its value in *@value. */
uint32_t kms_prop_id(int fd, uint32_t object, uint32_t type, const char *name, uint64_t *value);

/*
 * Reads plane @id: type, CRTCs, the CRTC it is on, its formats with their
 * modifiers (IN_FORMATS, else its format list with DMAPIPE_MOD_INVALID)
 * and the ids of the properties a commit sets. 0 or -errno; free with
 * kms_plane_finish().
 */
int kms_read_plane(int fd, uint32_t id, struct kms_plane *plane);
void kms_plane_finish(struct kms_plane *plane);

/*
 * Does @plane scan out @fourcc with @modifier? A plane without IN_FORMATS
 * takes its formats linear (or with the implicit modifier) only.
 */
bool kms_plane_takes(const struct kms_plane *plane, uint32_t fourcc, uint64_t modifier);

/* "Virtual-1", "HDMI-A-1": the name the kernel gives the connector in sysfs. */
void kms_connector_name(const drmModeConnector *connector, char *buf, size_t len);

/* The CRTCs (bit i: CRTC number i) the connector's encoders can drive. */
uint32_t kms_connector_crtcs(int fd, const drmModeConnector *connector);

/* The connector's preferred mode, else its first; NULL when it has none. */
const drmModeModeInfo *kms_preferred_mode(const drmModeConnector *connector);

/* The mode's refresh rate in Hz (rounded), from its clock and totals. */
uint32_t kms_mode_refresh(const drmModeModeInfo *mode);

/* ---- the display -------------------------------------------------------- */

/*
 * How long after a writeback job's fence the next job may be committed:
 * vkms turns its composer off in a job's clean-up, which a kernel worker
 * runs some time after the fence, so a job committed before that never
 * gets composed (the lane lost jobs that way on both kernels under load).
 */
#define DISPLAY_WRITEBACK_GAP_NS 250000000ull

/* Framebuffers kept at once; more distinct buffers evict the least recently shown. */
#define DISPLAY_MAX_FBS 32
#define DISPLAY_MAX_GEMS (DISPLAY_MAX_FBS * DMAPIPE_MAX_OBJECTS)

/* One distinct buffer made scanout-ready: its framebuffer and its objects' handles. */
struct display_fb {
	struct dmapipe_buffer *key;          /* the buffer it was made for (weak) */
	uint64_t ino[DMAPIPE_MAX_OBJECTS];   /* and its objects' inodes: a reused pointer differs */
	uint32_t n_objects;
	uint32_t handles[DMAPIPE_MAX_OBJECTS];
	uint32_t fb_id;                      /* 0: the slot is free */
	uint32_t busy;                       /* frames using it now */
	uint64_t last_use;
};

/* One PRIME import: the same dma-buf always gives the same handle, so count its users. */
struct display_gem {
	uint32_t handle;
	uint32_t refs;
};

/* A frame the display holds: queued, committed, or on screen. */
struct display_frame {
	bool used;
	struct dmapipe_buffer *buffer;       /* the display's reference */
	struct display_fb *fb;
	void *frame_data;
	bool handed_back;                    /* done already ran (release fence given) */
	int acquire_fence;                   /* a dup, given to IN_FENCE_FD; -1: none */
	uint64_t show_ns;                    /* when show() took it */
	bool writeback;                      /* its commit carries the writeback job */
};

struct dmapipe_display {
	struct dmapipe_display_options opt;
	int fd;
	int epfd;
	struct dmapipe_display_info info;
	struct dmapipe_display_stats stats;

	uint32_t crtc_index;
	drmModeModeInfo mode;
	uint32_t mode_blob;
	bool modeset_done;
	uint32_t crtc_mode_id, crtc_active, crtc_out_fence;  /* CRTC property ids */
	uint32_t conn_crtc_id;                               /* the connector's CRTC_ID */
	/* other connectors on the CRTC now (an fbdev console's), taken off at the modeset */
	uint32_t others[8], others_crtc_id[8];
	uint32_t n_others;

	struct kms_plane *planes; /* those the CRTC can use */
	uint32_t n_planes;
	struct kms_plane *plane;  /* the one frames go to */
	struct kms_plane *old_plane; /* the one to turn off in the next commit, or NULL */
	struct dmapipe_format have; /* what the plane and the rectangle were chosen for */
	int32_t dst_x, dst_y;
	uint32_t dst_w, dst_h;

	struct display_fb fbs[DISPLAY_MAX_FBS];
	struct display_gem gems[DISPLAY_MAX_GEMS];
	uint64_t use_clock;

	struct display_frame pending; /* committed, its flip not yet come */
	struct display_frame on_screen;
	struct display_frame next;    /* waits for the pending flip */
	struct display_frame retired; /* off screen, held until its writeback is read */

	/* the writeback connector (display-writeback.c) */
	uint32_t wb_connector;
	uint32_t wb_crtc_id, wb_fb_id, wb_out_fence; /* its property ids */
	uint32_t wb_fb;           /* framebuffer of the composed buffer */
	uint32_t wb_handle;
	struct dmapipe_buffer *wb_buffer;
	int wb_fence;             /* the job in flight's fence, -1: none */
	bool wb_in_epoll;
	uint64_t wb_commit_ns;    /* when the job in flight was committed */
	uint64_t wb_done_ns;      /* when the last job's fence signalled */
	uint64_t wb_commits;      /* commits made since the last job */
	bool wb_stopped;          /* a job was given up: no more jobs */
};

/* Records why show() failed (info.error) and logs it. */
void display_error(struct dmapipe_display *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hands a frame back (done callback) and empties the slot. */
void display_frame_done(struct dmapipe_display *d, struct display_frame *f, int status,
			int release_fence);

/* ---- imports (display-fb.c) ----------------------------------------- */

/*
 * The framebuffer of @buffer: the one made for it before, or a new one
 * (its dma-bufs imported, a slot evicted if all are taken). NULL with the
 * reason recorded: -EXDEV (not a dma-buf, the import refused), -ENOTSUP
 * (a modifier without the device's support), -EINVAL (AddFB2 refused),
 * -ENOSPC (every slot holds a frame on screen or queued) in *@err.
 */
struct display_fb *display_fb_get(struct dmapipe_display *d, struct dmapipe_buffer *buffer,
				  int *err);

/* Removes every framebuffer and closes every import. */
void display_fb_clear(struct dmapipe_display *d);

/* ---- commits (display-commit.c) ------------------------------------- */

/*
 * Does a plane of the CRTC scan out @format with its modifier? 0, or
 * -ENOTSUP with the reason recorded. Asked before anything is imported:
 * a modifier the driver does not know fails AddFB2 with a vaguer reason.
 */
int display_check_format(struct dmapipe_display *d, const struct dmapipe_format *format);

/*
 * Chooses the plane and the rectangle for frames of @format (sets
 * d->plane, d->dst_*, the info), trying each candidate with a TEST_ONLY
 * commit of @fb. 0, -ENOTSUP (no plane takes it), -EINVAL (the driver
 * refused every rectangle), with the reason recorded.
 */
int display_configure(struct dmapipe_display *d, const struct dmapipe_format *format,
		      struct display_fb *fb);

/* Commits d->next (non-blocking, with a flip event); it becomes d->pending. 0 or -errno. */
int display_commit_next(struct dmapipe_display *d);

/* Reads the device's events (flips): the number handled, or -errno. */
int display_handle_events(struct dmapipe_display *d);

/* Waits up to @timeout_ms for the pending flip; 0, -ETIMEDOUT or -errno. */
int display_wait_flip(struct dmapipe_display *d, int timeout_ms);

/*
 * Commits the frame that waits (d->next) once neither a flip nor a
 * writeback job is in flight; a refused commit hands it back failed.
 */
void display_commit_waiting(struct dmapipe_display *d);

/* ---- the writeback connector (display-writeback.c) ------------------ */

/* Finds the writeback connector of the CRTC and makes its buffer. 0, or -errno (logged). */
int display_writeback_init(struct dmapipe_display *d);
void display_writeback_finish(struct dmapipe_display *d);

/* Adds the writeback job to a commit (its fence into d->wb_fence). 0 or -errno. */
int display_writeback_add(struct dmapipe_display *d, drmModeAtomicReq *req);

/*
 * The job's fence signalled (or, with @wait_ms, waits that long for it):
 * calls the writeback callback for the frame that carries the job, and
 * hands that frame back if it is off screen already (d->retired). 1 when
 * it ran, 0 when the job is not done, -errno.
 */
int display_writeback_complete(struct dmapipe_display *d, int wait_ms);

/*
 * Milliseconds until the job in flight reaches its deadline
 * (opt.writeback_deadline_ms after its commit), 0 when it is past, -1
 * when no job is in flight.
 */
int display_writeback_time_left(const struct dmapipe_display *d);

/*
 * Gives the job in flight up if it is past its deadline: its frame goes
 * back without a callback, stats.writebacks_lost counts it, no job is
 * made again, and the frame that waited is committed. 1 when it gave up.
 */
int display_writeback_check_deadline(struct dmapipe_display *d);

#endif /* DMAPIPE_DISPLAY_PRIVATE_H */
