/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A display consumer: frames shown on a screen through KMS, without a copy.
 *
 * The display scans out the frames' own dma-bufs. Each distinct buffer is
 * imported once into the display device with PRIME (one GEM handle per
 * dma-buf, shared and counted when several buffers or planes name the same
 * one) and given one framebuffer, with its modifier; every frame after that
 * is one non-blocking atomic commit that points a plane at the buffer's
 * framebuffer, with a page-flip event to say when it is on screen.
 *
 * Leases. A frame's buffer is scanned out for as long as it is on screen,
 * so the caller keeps the frame (its lease) until the display hands it
 * back in the done callback: when the next frame is on screen (its flip
 * event came), or at once with a release fence when the options ask for
 * release fences (the commit's OUT_FENCE_PTR fence signals when the next
 * frame is on screen). A frame given while a commit is still waiting for
 * its flip waits in a one-frame queue; a newer frame replaces it, and the
 * replaced one is handed back unshown (the `latest` policy: the display
 * never slows the producer down, it drops). An acquire fence of a frame
 * goes to the plane's IN_FENCE_FD, so the display waits for it, not the
 * CPU.
 *
 * Modesetting is done on the first frame: the connector (the first
 * connected one, or the one named), its preferred mode (or the one
 * asked for), a CRTC its encoders can drive, and a plane of that CRTC that
 * takes the frame's format with its modifier (the primary plane first).
 * Where the frame goes on the screen is options' rectangle, else the
 * largest rectangle of the frame's aspect ratio the plane can scale to,
 * centred, else the frame at its own size, centred; each is tried with a
 * TEST_ONLY commit.
 *
 * A writeback connector (where the device has one) can compose every Nth
 * frame as it is shown into a buffer the caller reads: a proof of what
 * the display shows, as opposed to what was handed to it. It runs beside
 * the output connector where the driver lets their encoders be clones;
 * where it does not (vkms), name the writeback connector as the output
 * connector ("Writeback-1") and it is the CRTC's only output.
 *
 * Event loop: dmapipe_display_get_fd() is readable when
 * dmapipe_display_dispatch() has work (flip events, writeback fences).
 * Not thread-safe: one thread per display. Built without libdrm, every
 * call fails with ENOTSUP.
 */
#ifndef DMAPIPE_DISPLAY_H
#define DMAPIPE_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmapipe/format.h>
#include <dmapipe/buffer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmapipe_display;

/**
 * The display is done with a frame given to dmapipe_display_show():
 * status 0 when it was shown and is now replaced on screen (or about to
 * be: @release_fence, when not -1, signals once it no longer is; the
 * callee owns it and passes it on or closes it), -ECANCELED when it was
 * never shown (a newer frame replaced it in the queue, or the display was
 * freed first), -EIO when its commit failed (logged). @frame_data is what
 * was given to show(): release the frame's lease here. Called from
 * dispatch(), show() and free().
 */
typedef void (*dmapipe_display_done_func)(struct dmapipe_display *display, void *frame_data,
					  int status, int release_fence, void *user_data);

/**
 * A frame is on screen: its flip event came. @flip_ns is when the flip
 * happened (CLOCK_MONOTONIC, the kernel's vblank timestamp), @vblank the
 * CRTC's vblank counter then. Called from dispatch() only, before the
 * done callback of the frame it replaced.
 */
typedef void (*dmapipe_display_shown_func)(struct dmapipe_display *display, void *frame_data,
					   uint64_t flip_ns, uint64_t vblank, void *user_data);

/**
 * The writeback connector composed a frame as the display showed it:
 * @composed is what the CRTC put out, the mode's size in XRGB8888 (a
 * dma-buf; borrowed: take a reference to keep it, map it to read it, and
 * bracket reads with dmapipe_buffer_begin_cpu_access()). @frame_data is
 * the frame that was on the plane, still held by the display (its done
 * callback comes after this one: a frame with a writeback job is handed
 * back only once it was composed, release fences or not). Called from
 * dispatch() and free().
 */
/**
 * How long a writeback job may take from its commit to its fence, unless
 * the options say otherwise. While one is in flight the display commits
 * no other frame (a newer frame waits, or replaces the one waiting): the
 * job composes the frame it was committed with, and a commit on top could
 * replace the CRTC state before the job ran (vkms then never runs it). A
 * job later than its deadline is given up with a warning
 * (stats.writebacks_lost), its frame goes back without a writeback
 * callback, and writeback stops; frames go on.
 */
#define DMAPIPE_DISPLAY_WRITEBACK_DEADLINE_MS 2000

typedef void (*dmapipe_display_writeback_func)(struct dmapipe_display *display,
					       void *frame_data,
					       struct dmapipe_buffer *composed,
					       void *user_data);

struct dmapipe_display_options {
	uint32_t size; /**< sizeof(struct dmapipe_display_options), set by _init() */
	/** the KMS device, "/dev/dri/card1"; NULL: the first with a connected connector */
	const char *device;
	/**
	 * the connector by name, "Virtual-1", "HDMI-A-1"; NULL: the first
	 * connected one. A writeback connector ("Writeback-1") is taken only
	 * by name; its first mode is its largest, so give the mode too.
	 */
	const char *connector;
	/** the mode; 0 x 0: the connector's preferred mode (else its first) */
	uint32_t mode_width, mode_height;
	/**
	 * where frames go on the screen, in pixels of the mode; width and
	 * height 0: fit the frame, as the header comment says. A plane that
	 * cannot scale or position takes only what its driver allows (the
	 * first frame's commit is refused with -EINVAL otherwise).
	 */
	int32_t x, y;
	uint32_t width, height;
	/**
	 * hand each frame back as soon as the next one is committed, with a
	 * release fence (the commit's OUT_FENCE_PTR) that signals when it has
	 * left the screen, rather than waiting for the flip event
	 */
	bool release_fences;
	dmapipe_display_done_func done;
	dmapipe_display_shown_func shown;
	/**
	 * a frame shown at least N commits after the last writeback job, and
	 * once no job is in flight and 250 ms have passed since the last one
	 * finished (vkms's composer goes off a while after each job), is also
	 * composed into the writeback connector; 0: never. The options need
	 * a writeback callback then, and dmapipe_display_new() fails with
	 * ENOENT when the CRTC has no writeback connector.
	 */
	uint32_t writeback_interval;
	dmapipe_display_writeback_func writeback;
	void *user_data;
	/** a writeback job's deadline; 0: DMAPIPE_DISPLAY_WRITEBACK_DEADLINE_MS. Since 0.2. */
	uint32_t writeback_deadline_ms;
};

/**
 * Sets @options (caller-owned, not NULL) to the defaults: everything 0 or
 * NULL (the first connected connector of the first KMS device, its
 * preferred mode, frames fitted to it, leases back on flip, no callbacks)
 * but size = sizeof(*options). Since 0.2.
 */
void dmapipe_display_options_init(struct dmapipe_display_options *options);

/**
 * Opens the KMS device and finds the connector, mode and CRTC (nothing is
 * shown until the first frame). Becomes DRM master of the device, which
 * only one process can be: a running compositor makes this fail.
 *
 * Returns NULL with errno: ENODEV (no KMS device, or options->device is
 * not one: e.g. a render-only driver such as vgem), ENOENT (no such
 * device node or connector), ENXIO (no connected connector, or the one
 * named is not connected, or no CRTC can drive it), EINVAL (bad options,
 * or a mode the connector does not offer), ENOENT also for a writeback
 * interval without a writeback connector, EBUSY (another process is DRM
 * master), EOPNOTSUPP (the driver takes no atomic commits), E2BIG
 * (@options from newer headers setting fields this library does not
 * know), ENOTSUP (built without libdrm), or the errno of a failed system
 * call; the reason is logged. @options and its strings are only read
 * during the call (user_data is kept for the callbacks); an older caller's
 * smaller struct gets the defaults for the fields it lacks. The display
 * owns the device fd; free it with dmapipe_display_free(). Since 0.2.
 */
struct dmapipe_display *dmapipe_display_new(const struct dmapipe_display_options *options);

/**
 * Waits (up to a second) for a commit in flight, takes the frames off the
 * screen (their framebuffers are removed, which disables the plane),
 * hands every frame it holds back (done callbacks: 0 for the frame that
 * was on screen, -ECANCELED for one never shown), closes the imports and
 * the device. Accepts NULL. Since 0.2.
 */
void dmapipe_display_free(struct dmapipe_display *display);

/**
 * Shows a frame: commits it now when no commit is waiting for its flip,
 * else keeps it as the next frame (handing back, unshown, the one it
 * replaces). Takes a reference on @buffer until the done callback.
 * @meta (may be NULL) is only read during the call: its acquire fence,
 * if any, is duplicated and given to the plane's IN_FENCE_FD.
 *
 * The first frame, and each frame whose format, size or modifier differs
 * from the one before, chooses the plane and the rectangle (and sets the
 * mode on the first). Returns 0, or -EXDEV (@buffer is not a dma-buf: a
 * memfd cannot be scanned out; or the device refused to import it),
 * -ENOTSUP (no plane of the CRTC takes the format with that modifier, or
 * the device takes no modifiers), -EINVAL (the driver refused the mode,
 * the rectangle or the framebuffer; NULL @buffer), -ENOMEM, or the error
 * of the commit. On failure nothing was taken and no callback runs for
 * @frame_data. The reason is logged and kept in the info (error).
 * Since 0.2.
 */
int dmapipe_display_show(struct dmapipe_display *display, struct dmapipe_buffer *buffer,
			 const struct dmapipe_frame_meta *meta, void *frame_data);

/**
 * The pollable fd: readable when dmapipe_display_dispatch() has work.
 * Owned by the display: do not close it. Since 0.2.
 */
int dmapipe_display_get_fd(const struct dmapipe_display *display);

/**
 * Handles flip events (shown and done callbacks, the next frame's
 * commit) and writeback completions, waiting up to @timeout_ms (0: do not
 * wait, -1: forever) for the first. Returns the number of events handled,
 * or a negative errno for a failure of the device. A signal ends the wait
 * with 0. Since 0.2.
 */
int dmapipe_display_dispatch(struct dmapipe_display *display, int timeout_ms);

/** What was opened and chosen. */
struct dmapipe_display_info {
	char device[64];      /**< "/dev/dri/card1" */
	char driver[32];      /**< "vkms" */
	char connector[32];   /**< "Virtual-1" */
	uint32_t connector_id;
	uint32_t crtc_id;
	uint32_t mode_width, mode_height;
	uint32_t mode_refresh; /**< Hz */
	/** the plane frames go to (0 before the first frame) and its type */
	uint32_t plane_id;
	uint32_t plane_type;  /**< enum dmapipe_kms_plane_type */
	/** where the current frames are shown, in pixels of the mode */
	int32_t x, y;
	uint32_t width, height;
	bool scaled;          /**< the frames are scaled to that rectangle */
	bool modifiers;       /**< the device takes framebuffers with modifiers */
	bool writeback;       /**< a writeback connector composes frames */
	uint32_t writeback_id; /**< its connector id, 0 if none */
	/** why the last dmapipe_display_show() failed, "" if it did not */
	char error[192];
	uint32_t reserved[8];
};

/** Copies what was opened and chosen into @info (caller-owned). Since 0.2. */
void dmapipe_display_get_info(const struct dmapipe_display *display,
			      struct dmapipe_display_info *info);

struct dmapipe_display_stats {
	uint64_t frames_in;       /**< frames taken by show() */
	uint64_t frames_shown;    /**< flip events: frames that reached the screen */
	uint64_t frames_dropped;  /**< replaced in the queue by a newer frame, never shown */
	uint64_t frames_failed;   /**< commits refused after show() took the frame */
	uint64_t commits;         /**< atomic commits made (test-only ones not counted) */
	uint64_t imports;         /**< dma-bufs imported with PRIME (GEM handles made) */
	uint64_t framebuffers;    /**< framebuffers made (one per distinct buffer) */
	uint64_t evictions;       /**< framebuffers removed to make room for new buffers */
	uint64_t writebacks;      /**< frames composed into the writeback connector */
	uint64_t in_fences;       /**< commits that waited on an acquire fence */
	uint64_t release_fences;  /**< frames handed back with a release fence */
	/** show() to the flip that put the frame on screen, summed over frames_shown */
	uint64_t latency_sum_ns;
	uint64_t latency_max_ns;
	uint32_t cached;          /**< framebuffers kept now */
	/**
	 * writeback jobs given up: not finished by their deadline (their
	 * frame went back without a callback; the display then makes no more
	 * jobs). Since 0.2.
	 */
	uint32_t writebacks_lost;
	uint32_t reserved[8];
};

/** Copies the display's counters into @stats (caller-owned). Since 0.2. */
void dmapipe_display_get_stats(const struct dmapipe_display *display,
			       struct dmapipe_display_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* DMAPIPE_DISPLAY_H */
