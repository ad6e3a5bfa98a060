/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The writeback connector: the CRTC's output composed into a buffer, so a
 * caller can see what the display really showed. Either it is the output
 * connector itself (the CRTC drives nothing else), or it is put on the
 * CRTC beside the output with the mode (attaching it later would need a
 * modeset) -- which only works where the driver lets the two encoders be
 * clones (vkms does not: display-commit.c says so when it refuses). A
 * frame's commit carries a job (WRITEBACK_FB_ID) whose fence
 * (WRITEBACK_OUT_FENCE_PTR) signals once the frame was composed. One job
 * at a time; the composed buffer is a dumb buffer of the display device,
 * the mode's size in XRGB8888, exported as a dma-buf for the caller.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "display-private.h"

#ifndef DRM_FORMAT_XRGB8888
#define DRM_FORMAT_XRGB8888 0x34325258u /* 'XR24' */
#endif

/*
 * The output connector when it is a writeback connector itself, else the
 * first writeback connector the CRTC can drive beside it.
 */
static uint32_t find_connector(struct dmapipe_display *d, uint32_t *formats_blob)
{
	drmModeRes *res;
	uint64_t blob = 0;
	uint32_t id = 0;

	if (kms_prop_id(d->fd, d->info.connector_id, DRM_MODE_OBJECT_CONNECTOR,
			"WRITEBACK_PIXEL_FORMATS", &blob)) {
		*formats_blob = (uint32_t)blob;
		return d->info.connector_id;
	}
	res = drmModeGetResources(d->fd);
	if (!res)
		return 0;
	for (int i = 0; i < res->count_connectors && !id; i++) {
		drmModeConnector *c = drmModeGetConnector(d->fd, res->connectors[i]);

		if (!c)
			continue;
		if (c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK &&
		    (kms_connector_crtcs(d->fd, c) & (1u << d->crtc_index)) &&
		    kms_prop_id(d->fd, c->connector_id, DRM_MODE_OBJECT_CONNECTOR,
				"WRITEBACK_PIXEL_FORMATS", &blob)) {
			id = c->connector_id;
			*formats_blob = (uint32_t)blob;
		}
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	return id;
}

static bool takes_xrgb8888(int fd, uint32_t blob_id)
{
	drmModePropertyBlobRes *blob = drmModeGetPropertyBlob(fd, blob_id);
	bool found = false;

	if (!blob)
		return false;
	for (uint32_t i = 0; i < blob->length / sizeof(uint32_t); i++)
		found |= ((const uint32_t *)blob->data)[i] == DRM_FORMAT_XRGB8888;
	drmModeFreePropertyBlob(blob);
	return found;
}

/* A dumb buffer of the mode's size with a framebuffer, and the same memory as a dmapipe buffer. */
static int make_buffer(struct dmapipe_display *d)
{
	struct drm_mode_create_dumb create = {
		.width = d->info.mode_width,
		.height = d->info.mode_height,
		.bpp = 32,
	};
	uint32_t handles[4] = { 0 }, pitches[4] = { 0 }, offsets[4] = { 0 };
	struct dmapipe_layout layout;
	int fd, ret;

	if (drmIoctl(d->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
		return -errno;
	d->wb_handle = create.handle;
	handles[0] = create.handle;
	pitches[0] = create.pitch;
	if (drmModeAddFB2(d->fd, create.width, create.height, DRM_FORMAT_XRGB8888, handles,
			  pitches, offsets, &d->wb_fb, 0) < 0)
		return -errno;
	if (drmPrimeHandleToFD(d->fd, create.handle, DRM_CLOEXEC | DRM_RDWR, &fd) < 0)
		return -errno;
	memset(&layout, 0, sizeof(layout));
	layout.format.fourcc = DRM_FORMAT_XRGB8888;
	layout.format.width = create.width;
	layout.format.height = create.height;
	layout.format.modifier = DMAPIPE_MOD_LINEAR;
	layout.n_objects = 1;
	layout.objects[0].fd = fd;
	layout.objects[0].kind = DMAPIPE_MEM_DMABUF;
	layout.objects[0].size = create.size;
	layout.n_planes = 1;
	layout.planes[0].stride = create.pitch;
	/* takes the fd, also on failure */
	d->wb_buffer = dmapipe_buffer_new_from_fds(&layout);
	if (!d->wb_buffer)
		return -errno;
	ret = dmapipe_buffer_map_plane(d->wb_buffer, 0) ? 0 : -errno;
	return ret;
}

int display_writeback_init(struct dmapipe_display *d)
{
	uint32_t formats = 0;
	int ret;

	d->wb_connector = find_connector(d, &formats);
	if (!d->wb_connector) {
		log_error("display: %s (%s) has no writeback connector for CRTC %u",
			  d->info.device, d->info.driver, d->info.crtc_id);
		return -ENOENT;
	}
	if (!takes_xrgb8888(d->fd, formats)) {
		log_error("display: %s: the writeback connector does not write XRGB8888",
			  d->info.device);
		d->wb_connector = 0;
		return -ENOTSUP;
	}
	d->wb_crtc_id = kms_prop_id(d->fd, d->wb_connector, DRM_MODE_OBJECT_CONNECTOR,
				    "CRTC_ID", NULL);
	d->wb_fb_id = kms_prop_id(d->fd, d->wb_connector, DRM_MODE_OBJECT_CONNECTOR,
				  "WRITEBACK_FB_ID", NULL);
	d->wb_out_fence = kms_prop_id(d->fd, d->wb_connector, DRM_MODE_OBJECT_CONNECTOR,
				      "WRITEBACK_OUT_FENCE_PTR", NULL);
	ret = d->wb_crtc_id && d->wb_fb_id && d->wb_out_fence ? make_buffer(d) : -EOPNOTSUPP;
	if (ret < 0) {
		log_error("display: %s: setting up the writeback connector: %s", d->info.device,
			  strerror(-ret));
		display_writeback_finish(d);
		return ret;
	}
	d->info.writeback = true;
	d->info.writeback_id = d->wb_connector;
	return 0;
}

void display_writeback_finish(struct dmapipe_display *d)
{
	if (d->wb_fence >= 0) {
		if (d->wb_in_epoll)
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->wb_fence, NULL);
		close(d->wb_fence);
		d->wb_fence = -1;
		d->wb_in_epoll = false;
	}
	dmapipe_buffer_unref(d->wb_buffer);
	d->wb_buffer = NULL;
	if (d->wb_fb)
		drmModeRmFB(d->fd, d->wb_fb);
	d->wb_fb = 0;
	if (d->wb_handle)
		drmCloseBufferHandle(d->fd, d->wb_handle);
	d->wb_handle = 0;
	d->wb_connector = 0;
}

int display_writeback_add(struct dmapipe_display *d, drmModeAtomicReq *req)
{
	/* the kernel writes the job's fence fd there during the commit */
	if (drmModeAtomicAddProperty(req, d->wb_connector, d->wb_fb_id, d->wb_fb) < 0 ||
	    drmModeAtomicAddProperty(req, d->wb_connector, d->wb_out_fence,
				     (uint64_t)(uintptr_t)&d->wb_fence) < 0)
		return -ENOMEM;
	return 0;
}

/* Stops watching the job's fence and closes it. */
static void drop_fence(struct dmapipe_display *d)
{
	if (d->wb_in_epoll)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->wb_fence, NULL);
	d->wb_in_epoll = false;
	close(d->wb_fence);
	d->wb_fence = -1;
}

/* The frame whose commit carries the job: retired, on screen or still pending. */
static struct display_frame *job_frame(struct dmapipe_display *d)
{
	if (d->retired.used && d->retired.writeback)
		return &d->retired;
	if (d->on_screen.used && d->on_screen.writeback)
		return &d->on_screen;
	if (d->pending.used && d->pending.writeback)
		return &d->pending;
	return NULL;
}

int display_writeback_complete(struct dmapipe_display *d, int wait_ms)
{
	struct pollfd pfd = { .fd = d->wb_fence, .events = POLLIN };
	struct display_frame *f;
	int ret;

	if (d->wb_fence < 0)
		return 0;
	ret = poll(&pfd, 1, wait_ms);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (ret == 0) {
		if (wait_ms > 0)
			log_warn("display: the writeback job did not finish in %d ms", wait_ms);
		return 0;
	}
	drop_fence(d);
	d->wb_done_ns = dmapipe_now_ns();
	f = job_frame(d);
	if (f) {
		f->writeback = false;
		d->stats.writebacks++;
		if (d->opt.writeback && !f->handed_back)
			d->opt.writeback(d, f->frame_data, d->wb_buffer, d->opt.user_data);
		if (f == &d->retired)
			display_frame_done(d, f, 0, -1);
	}
	display_commit_waiting(d);
	return 1;
}

int display_writeback_time_left(const struct dmapipe_display *d)
{
	uint64_t deadline, now;

	if (d->wb_fence < 0)
		return -1;
	deadline = d->wb_commit_ns + (uint64_t)d->opt.writeback_deadline_ms * 1000000ull;
	now = dmapipe_now_ns();
	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

int display_writeback_check_deadline(struct dmapipe_display *d)
{
	struct display_frame *f;

	if (display_writeback_time_left(d) != 0)
		return 0;
	/*
	 * The driver lost it (vkms can, docs/DISPLAY.md) or is far behind. The
	 * kernel may still hold the job and would complete the next one's
	 * fence with this one's composition: no job is made again.
	 */
	log_warn("display: %s (%s): the writeback job did not finish in %d ms: writeback "
		 "stops, frames go on", d->info.device, d->info.driver,
		 d->opt.writeback_deadline_ms);
	drop_fence(d);
	d->wb_stopped = true;
	d->stats.writebacks_lost++;
	f = job_frame(d);
	if (f) {
		f->writeback = false;
		if (f == &d->retired)
			display_frame_done(d, f, 0, -1);
	}
	display_commit_waiting(d);
	return 1;
}
