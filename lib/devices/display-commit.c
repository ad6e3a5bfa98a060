/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The display's atomic commits: choosing a plane and a rectangle with
 * TEST_ONLY commits, the non-blocking commit of each frame (the mode
 * with the first), and its flip event, which is when the frame before it
 * leaves the screen and its lease goes back.
 *
 * One commit at a time: a CRTC refuses a non-blocking commit while the
 * previous one has not flipped (-EBUSY), so a frame that comes meanwhile
 * waits as d->next and is committed from the flip event.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "display-private.h"

/* ---- building a commit ---------------------------------------------------- */

struct rect {
	int32_t x, y;
	uint32_t w, h;
};

static int add(drmModeAtomicReq *req, uint32_t object, uint32_t prop, uint64_t value)
{
	if (!prop)
		return -EOPNOTSUPP;
	return drmModeAtomicAddProperty(req, object, prop, value) < 0 ? -ENOMEM : 0;
}

/* The mode on the CRTC, the connector on it, other planes off it (first commit only). */
static int add_modeset(struct dmapipe_display *d, drmModeAtomicReq *req,
		       const struct kms_plane *plane)
{
	int ret;

	if (!d->mode_blob &&
	    drmModeCreatePropertyBlob(d->fd, &d->mode, sizeof(d->mode), &d->mode_blob) < 0)
		return -errno;
	ret = add(req, d->info.connector_id, d->conn_crtc_id, d->info.crtc_id);
	if (ret == 0)
		ret = add(req, d->info.crtc_id, d->crtc_mode_id, d->mode_blob);
	if (ret == 0)
		ret = add(req, d->info.crtc_id, d->crtc_active, 1);
	for (uint32_t i = 0; i < d->n_others && ret == 0; i++)
		if (d->others[i] != d->wb_connector)
			ret = add(req, d->others[i], d->others_crtc_id[i], 0);
	if (ret == 0 && d->wb_connector && d->wb_connector != d->info.connector_id)
		ret = add(req, d->wb_connector, d->wb_crtc_id, d->info.crtc_id);
	/* what another client (an fbdev console) left on this CRTC would show through */
	for (uint32_t i = 0; i < d->n_planes && ret == 0; i++) {
		const struct kms_plane *p = &d->planes[i];

		if (p == plane || p->crtc_id != d->info.crtc_id)
			continue;
		ret = add(req, p->id, p->prop.fb_id, 0);
		if (ret == 0)
			ret = add(req, p->id, p->prop.crtc_id, 0);
	}
	return ret;
}

static int add_plane(struct dmapipe_display *d, drmModeAtomicReq *req,
		     const struct kms_plane *p, const struct display_fb *fb,
		     const struct dmapipe_format *format, const struct rect *r, int in_fence)
{
	int ret;

	ret = add(req, p->id, p->prop.fb_id, fb->fb_id);
	if (ret == 0)
		ret = add(req, p->id, p->prop.crtc_id, d->info.crtc_id);
	if (ret == 0)
		ret = add(req, p->id, p->prop.src_x, 0);
	if (ret == 0)
		ret = add(req, p->id, p->prop.src_y, 0);
	/* source coordinates are 16.16 fixed point */
	if (ret == 0)
		ret = add(req, p->id, p->prop.src_w, (uint64_t)format->width << 16);
	if (ret == 0)
		ret = add(req, p->id, p->prop.src_h, (uint64_t)format->height << 16);
	if (ret == 0)
		ret = add(req, p->id, p->prop.crtc_x, (uint64_t)(int64_t)r->x);
	if (ret == 0)
		ret = add(req, p->id, p->prop.crtc_y, (uint64_t)(int64_t)r->y);
	if (ret == 0)
		ret = add(req, p->id, p->prop.crtc_w, r->w);
	if (ret == 0)
		ret = add(req, p->id, p->prop.crtc_h, r->h);
	if (ret == 0 && in_fence >= 0)
		ret = add(req, p->id, p->prop.in_fence_fd, (uint64_t)in_fence);
	return ret;
}

static int add_plane_off(drmModeAtomicReq *req, const struct kms_plane *p)
{
	int ret = add(req, p->id, p->prop.fb_id, 0);

	return ret ? ret : add(req, p->id, p->prop.crtc_id, 0);
}

/* ---- choosing the plane and the rectangle ------------------------------------ */

/* Would the device take frames of @format in @fb on plane @p at @r? 0 or -errno. */
static int test_commit(struct dmapipe_display *d, const struct kms_plane *p,
		       const struct display_fb *fb, const struct dmapipe_format *format,
		       const struct rect *r)
{
	uint32_t flags = DRM_MODE_ATOMIC_TEST_ONLY;
	drmModeAtomicReq *req = drmModeAtomicAlloc();
	int ret;

	if (!req)
		return -ENOMEM;
	ret = d->modeset_done ? 0 : add_modeset(d, req, p);
	if (!d->modeset_done)
		flags |= DRM_MODE_ATOMIC_ALLOW_MODESET;
	if (ret == 0)
		ret = add_plane(d, req, p, fb, format, r, -1);
	if (ret == 0 && d->plane && d->plane != p)
		ret = add_plane_off(req, d->plane);
	if (ret == 0 && drmModeAtomicCommit(d->fd, req, flags, NULL) < 0)
		ret = -errno;
	drmModeAtomicFree(req);
	return ret;
}

/* Would the commits that failed pass without the writeback connector beside the output? */
static bool writeback_is_the_trouble(struct dmapipe_display *d,
				     const struct dmapipe_format *format,
				     const struct display_fb *fb, const struct rect *rects,
				     unsigned int n)
{
	uint32_t wb = d->wb_connector;
	bool passes = false;

	d->wb_connector = 0;
	for (uint32_t i = 0; i < d->n_planes && !passes; i++) {
		const struct kms_plane *p = &d->planes[i];

		if (p->type == DMAPIPE_KMS_PLANE_CURSOR ||
		    !kms_plane_takes(p, format->fourcc, format->modifier))
			continue;
		for (unsigned int k = 0; k < n && !passes; k++)
			passes = test_commit(d, p, fb, format, &rects[k]) == 0;
	}
	d->wb_connector = wb;
	return passes;
}

/* The rectangles to try, best first: the one asked for, else fitted, else 1:1 centred. */
static unsigned int candidates(const struct dmapipe_display *d,
			       const struct dmapipe_format *f, struct rect out[2])
{
	uint32_t mw = d->info.mode_width, mh = d->info.mode_height;

	if (d->opt.width) {
		out[0] = (struct rect){ d->opt.x, d->opt.y, d->opt.width, d->opt.height };
		return 1;
	}
	if (f->width == mw && f->height == mh) {
		out[0] = (struct rect){ 0, 0, mw, mh };
		return 1;
	}
	/* the largest rectangle of the frame's aspect ratio, centred */
	if ((uint64_t)mw * f->height <= (uint64_t)mh * f->width) {
		out[0].w = mw;
		out[0].h = (uint32_t)((uint64_t)mw * f->height / f->width);
	} else {
		out[0].h = mh;
		out[0].w = (uint32_t)((uint64_t)mh * f->width / f->height);
	}
	out[0].x = (int32_t)(mw - out[0].w) / 2;
	out[0].y = (int32_t)(mh - out[0].h) / 2;
	out[1] = (struct rect){ ((int32_t)mw - (int32_t)f->width) / 2,
				((int32_t)mh - (int32_t)f->height) / 2, f->width, f->height };
	return 2;
}

static const char *modifier_name(uint64_t modifier, char *buf, size_t len)
{
	if (modifier == DMAPIPE_MOD_LINEAR)
		return "linear";
	if (modifier == DMAPIPE_MOD_INVALID)
		return "implicit";
	snprintf(buf, len, "0x%016llx", (unsigned long long)modifier);
	return buf;
}

/* No plane takes the format: say what the planes do take. */
static int no_plane(struct dmapipe_display *d, const struct dmapipe_format *format)
{
	char fourcc[16], mod[24], list[128] = "";
	bool format_known = false;
	size_t used = 0;

	dmapipe_fourcc_to_string(format->fourcc, fourcc, sizeof(fourcc));
	for (uint32_t i = 0; i < d->n_planes; i++) {
		const struct kms_plane *p = &d->planes[i];

		if (p->type == DMAPIPE_KMS_PLANE_CURSOR)
			continue;
		for (uint32_t k = 0; k < p->n_formats; k++) {
			char name[16];

			format_known |= p->formats[k].fourcc == format->fourcc;
			if (used < sizeof(list) && !strstr(list, dmapipe_fourcc_to_string(
						p->formats[k].fourcc, name, sizeof(name))))
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 used ? " " : "", name);
		}
	}
	if (format_known) {
		display_error(d, "no plane of CRTC %u on %s (%s) scans out %s with modifier %s "
			      "(a modifier it cannot scan out)", d->info.crtc_id, d->info.device,
			      d->info.driver, fourcc,
			      modifier_name(format->modifier, mod, sizeof(mod)));
	} else {
		display_error(d, "no plane of CRTC %u on %s (%s) scans out %s; its planes take: %s",
			      d->info.crtc_id, d->info.device, d->info.driver, fourcc,
			      list[0] ? list : "nothing");
	}
	return -ENOTSUP;
}

int display_check_format(struct dmapipe_display *d, const struct dmapipe_format *format)
{
	for (uint32_t i = 0; i < d->n_planes; i++)
		if (d->planes[i].type != DMAPIPE_KMS_PLANE_CURSOR &&
		    kms_plane_takes(&d->planes[i], format->fourcc, format->modifier))
			return 0;
	return no_plane(d, format);
}

int display_configure(struct dmapipe_display *d, const struct dmapipe_format *format,
		      struct display_fb *fb)
{
	struct rect rects[2];
	unsigned int n = candidates(d, format, rects);
	bool any = false;
	int ret = -ENOTSUP;

	/* the primary plane first: some drivers need it on for the CRTC to run */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < d->n_planes; i++) {
			struct kms_plane *p = &d->planes[i];
			bool primary = p->type == DMAPIPE_KMS_PLANE_PRIMARY;

			if (p->type == DMAPIPE_KMS_PLANE_CURSOR || primary != (pass == 0) ||
			    !kms_plane_takes(p, format->fourcc, format->modifier))
				continue;
			any = true;
			for (unsigned int k = 0; k < n; k++) {
				ret = test_commit(d, p, fb, format, &rects[k]);
				if (ret < 0)
					continue;
				if (d->plane && d->plane != p)
					d->old_plane = d->plane;
				d->plane = p;
				d->have = *format;
				d->dst_x = rects[k].x;
				d->dst_y = rects[k].y;
				d->dst_w = rects[k].w;
				d->dst_h = rects[k].h;
				d->info.plane_id = p->id;
				d->info.plane_type = p->type;
				d->info.x = rects[k].x;
				d->info.y = rects[k].y;
				d->info.width = rects[k].w;
				d->info.height = rects[k].h;
				d->info.scaled = rects[k].w != format->width ||
						 rects[k].h != format->height;
				log_info("display: plane %u (%s) shows %ux%u at %d,%d %ux%u%s",
					 p->id, dmapipe_kms_plane_type_to_string(p->type),
					 format->width, format->height, rects[k].x, rects[k].y,
					 rects[k].w, rects[k].h, d->info.scaled ? ", scaled" : "");
				return 0;
			}
		}
	}
	if (!any)
		return no_plane(d, format);
	if (d->wb_connector && d->wb_connector != d->info.connector_id && !d->modeset_done &&
	    d->plane == NULL && writeback_is_the_trouble(d, format, fb, rects, n)) {
		display_error(d, "%s (%s) cannot drive its writeback connector beside %s "
			      "(no clone encoders): make the writeback connector the output",
			      d->info.device, d->info.driver, d->info.connector);
		return -EINVAL;
	}
	display_error(d, "%s (%s) refused a %ux%u frame at %d,%d %ux%u on the %ux%u mode (%s)%s",
		      d->info.device, d->info.driver, format->width, format->height, rects[0].x,
		      rects[0].y, rects[0].w, rects[0].h, d->info.mode_width, d->info.mode_height,
		      strerror(-ret), d->opt.width ? "" :
		      ": its planes cannot scale or place it; ask for a mode of the frame's size "
		      "or a rectangle");
	/* the driver's own errno (ERANGE for scaling, say) is in the message */
	return -EINVAL;
}

/* ---- the commit of each frame ------------------------------------------------- */

/* Hands back the frame on screen at once, with the fence of the commit that replaces it. */
static void hand_back_on_screen(struct dmapipe_display *d, int release_fence)
{
	struct display_frame *f = &d->on_screen;

	/* a writeback of it must be read first: it goes back with its flip instead */
	if (!f->used || f->handed_back || f->writeback) {
		dmapipe_close(release_fence);
		return;
	}
	f->handed_back = true;
	d->stats.release_fences++;
	if (d->opt.done)
		d->opt.done(d, f->frame_data, 0, release_fence, d->opt.user_data);
	else
		dmapipe_close(release_fence);
	f->frame_data = NULL;
}

int display_commit_next(struct dmapipe_display *d)
{
	uint32_t flags = DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT;
	struct display_frame *f = &d->next;
	struct rect r = { d->dst_x, d->dst_y, d->dst_w, d->dst_h };
	drmModeAtomicReq *req;
	int32_t out_fence = -1;
	bool writeback = false;
	int ret;

	req = drmModeAtomicAlloc();
	if (!req)
		return -ENOMEM;
	ret = 0;
	if (!d->modeset_done) {
		ret = add_modeset(d, req, d->plane);
		flags |= DRM_MODE_ATOMIC_ALLOW_MODESET;
	}
	if (ret == 0)
		ret = add_plane(d, req, d->plane, f->fb, &d->have, &r, f->acquire_fence);
	if (ret == 0 && d->old_plane)
		ret = add_plane_off(req, d->old_plane);
	if (ret == 0 && d->opt.release_fences)
		ret = add(req, d->info.crtc_id, d->crtc_out_fence,
			  (uint64_t)(uintptr_t)&out_fence);
	/*
	 * Not with the mode: the CRTC's vblank is off until that commit
	 * enabled it, so its flip event comes at once and the next commit
	 * can replace its state before a vblank composed it (vkms then never
	 * runs the job).
	 */
	if (ret == 0 && d->wb_connector && d->wb_fence < 0 && !d->wb_stopped &&
	    d->modeset_done && d->wb_commits + 1 >= d->opt.writeback_interval &&
	    dmapipe_now_ns() >= d->wb_done_ns + DISPLAY_WRITEBACK_GAP_NS) {
		ret = display_writeback_add(d, req);
		writeback = ret == 0;
	}
	if (ret < 0) {
		drmModeAtomicFree(req);
		display_error(d, "building the commit: %s", strerror(-ret));
		return ret;
	}
	if (drmModeAtomicCommit(d->fd, req, flags, d) < 0) {
		ret = -errno;
		drmModeAtomicFree(req);
		if (writeback)
			d->wb_fence = -1;
		display_error(d, "the commit of frame %llu failed: %s",
			      (unsigned long long)d->stats.frames_in, strerror(-ret));
		return ret;
	}
	drmModeAtomicFree(req);
	d->stats.commits++;
	d->wb_commits = writeback ? 0 : d->wb_commits + 1;
	d->modeset_done = true;
	d->old_plane = NULL;
	if (f->acquire_fence >= 0) {
		/* the commit holds the fence now */
		d->stats.in_fences++;
		close(f->acquire_fence);
		f->acquire_fence = -1;
	}
	if (writeback) {
		f->writeback = true;
		d->wb_commit_ns = dmapipe_now_ns();
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wb_fence,
			      &(struct epoll_event){ .events = EPOLLIN,
						     .data.fd = d->wb_fence }) == 0)
			d->wb_in_epoll = true;
	}
	d->pending = *f;
	memset(f, 0, sizeof(*f));
	f->acquire_fence = -1;
	if (out_fence >= 0)
		hand_back_on_screen(d, out_fence);
	return 0;
}

/* ---- flip events ------------------------------------------------------------------ */

static void on_flip(int fd, unsigned int sequence, unsigned int tv_sec, unsigned int tv_usec,
		    unsigned int crtc_id, void *data)
{
	struct dmapipe_display *d = data;
	uint64_t flip_ns = (uint64_t)tv_sec * 1000000000ull + (uint64_t)tv_usec * 1000ull;
	struct display_frame old;

	(void)fd;
	(void)crtc_id;
	if (!d->pending.used)
		return;
	d->stats.frames_shown++;
	if (flip_ns > d->pending.show_ns) {
		uint64_t latency = flip_ns - d->pending.show_ns;

		d->stats.latency_sum_ns += latency;
		if (latency > d->stats.latency_max_ns)
			d->stats.latency_max_ns = latency;
	}
	if (d->opt.shown)
		d->opt.shown(d, d->pending.frame_data, flip_ns, sequence, d->opt.user_data);
	old = d->on_screen;
	d->on_screen = d->pending;
	memset(&d->pending, 0, sizeof(d->pending));
	d->pending.acquire_fence = -1;
	if (old.used && old.writeback && !d->retired.used) {
		/* a job composed it: it stays held until the callback has read it */
		d->retired = old;
		return;
	}
	display_frame_done(d, &old, 0, -1);
}

int display_handle_events(struct dmapipe_display *d)
{
	drmEventContext ctx = {
		.version = 3,
		.page_flip_handler2 = on_flip,
	};
	uint64_t shown = d->stats.frames_shown;
	int ret;

	if (drmHandleEvent(d->fd, &ctx) < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	ret = (int)(d->stats.frames_shown - shown);
	display_commit_waiting(d);
	return ret;
}

void display_commit_waiting(struct dmapipe_display *d)
{
	/* a commit on top of a writeback job could replace the state it composes */
	if (!d->next.used || d->pending.used || d->wb_fence >= 0)
		return;
	if (display_commit_next(d) < 0) {
		d->stats.frames_failed++;
		display_frame_done(d, &d->next, -EIO, -1);
	}
}

int display_wait_flip(struct dmapipe_display *d, int timeout_ms)
{
	uint64_t end = dmapipe_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	while (d->pending.used) {
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		uint64_t now = dmapipe_now_ns();
		int ret;

		if (now >= end)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)((end - now + 999999) / 1000000));
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret > 0) {
			ret = display_handle_events(d);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}
