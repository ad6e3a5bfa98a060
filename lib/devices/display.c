/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The display consumer (dmapipe/display.h): opening the KMS device and
 * choosing connector, mode and CRTC; taking frames (show), their slots
 * and the done callbacks; the event loop. The commits are in
 * display-commit.c, the imports in display-fb.c, the writeback connector
 * in display-writeback.c, the KMS queries in display-kms.c. Built without
 * libdrm, every call fails with ENOTSUP.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "private.h"
#include "dmapipe/display.h"

/* Caller-allocated: they grow only into their reserved fields. */
_Static_assert(sizeof(struct dmapipe_display_info) == 404, "dmapipe_display_info size");
_Static_assert(sizeof(struct dmapipe_display_stats) == 144, "dmapipe_display_stats size");

DMAPIPE_EXPORT void dmapipe_display_options_init(struct dmapipe_display_options *options)
{
	memset(options, 0, sizeof(*options));
	options->size = sizeof(*options);
}

#if HAVE_LIBDRM

#include "display-private.h"

#define MAX_CARDS 64
#define FREE_FLIP_WAIT_MS 1000

void display_error(struct dmapipe_display *d, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(d->info.error, sizeof(d->info.error), fmt, args);
	va_end(args);
	log_error("display: %s", d->info.error);
}

/* A setup failure before the display exists for the caller: logged, errno set. */
__attribute__((format(printf, 2, 3)))
static void *fail_new(int err, const char *fmt, ...)
{
	char msg[256];
	va_list args;

	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	log_error("display: %s", msg);
	errno = err;
	return NULL;
}

void display_frame_done(struct dmapipe_display *d, struct display_frame *f, int status,
			int release_fence)
{
	struct dmapipe_buffer *buffer = f->buffer;
	void *frame_data = f->frame_data;
	bool handed_back = f->handed_back;

	if (!f->used) {
		dmapipe_close(release_fence);
		return;
	}
	if (f->fb && f->fb->busy)
		f->fb->busy--;
	dmapipe_close(f->acquire_fence);
	memset(f, 0, sizeof(*f));
	f->acquire_fence = -1;
	dmapipe_buffer_unref(buffer);
	if (!handed_back && d->opt.done)
		d->opt.done(d, frame_data, status, release_fence, d->opt.user_data);
	else
		dmapipe_close(release_fence);
}

/* ---- opening: device, connector, mode, CRTC ---------------------------- */

struct card_choice {
	drmModeConnector *connector;
	const drmModeModeInfo *mode;
	uint32_t crtc_id;
	uint32_t crtc_index;
};

/* The mode asked for (or the preferred one) of @c; NULL if it has none such. */
static const drmModeModeInfo *pick_mode(const struct dmapipe_display_options *o,
					const drmModeConnector *c)
{
	const drmModeModeInfo *preferred = kms_preferred_mode(c);

	if (!o->mode_width)
		return preferred;
	if (preferred && preferred->hdisplay == o->mode_width &&
	    preferred->vdisplay == o->mode_height)
		return preferred;
	for (int i = 0; i < c->count_modes; i++)
		if (c->modes[i].hdisplay == o->mode_width && c->modes[i].vdisplay == o->mode_height)
			return &c->modes[i];
	return NULL;
}

/*
 * The connector of an open KMS device the options want, with its mode
 * and a CRTC. 0, or -ENOENT (no connector of that name), -ENXIO (not
 * connected, or no CRTC for it), -EINVAL (no such mode), with @why set.
 */
static int choose_output(int fd, const drmModeRes *res, const struct dmapipe_display_options *o,
			 struct card_choice *out, char *why, size_t len)
{
	bool named_found = false, any_connected = false;

	for (int i = 0; i < res->count_connectors; i++) {
		drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);
		char name[32];
		uint32_t crtcs;

		if (!c)
			continue;
		kms_connector_name(c, name, sizeof(name));
		/* a writeback connector shows nothing: only when asked for by name */
		if ((!o->connector && c->connector_type == DRM_MODE_CONNECTOR_WRITEBACK) ||
		    (o->connector && strcmp(o->connector, name) != 0)) {
			drmModeFreeConnector(c);
			continue;
		}
		named_found = true;
		if (c->connection != DRM_MODE_CONNECTED) {
			if (o->connector)
				snprintf(why, len, "connector %s is not connected", name);
			drmModeFreeConnector(c);
			continue;
		}
		any_connected = true;
		out->mode = pick_mode(o, c);
		if (!out->mode) {
			int n = snprintf(why, len, "connector %s offers no %ux%u mode; its modes:",
					 name, o->mode_width, o->mode_height);

			/* the first few, each size once (drivers list sizes at several rates) */
			for (int m = 0, shown = 0; m < c->count_modes && shown < 8 && n > 0 &&
			     (size_t)n < len; m++) {
				if (m > 0 && c->modes[m].hdisplay == c->modes[m - 1].hdisplay &&
				    c->modes[m].vdisplay == c->modes[m - 1].vdisplay)
					continue;
				n += snprintf(why + n, len - (size_t)n, " %ux%u",
					      c->modes[m].hdisplay, c->modes[m].vdisplay);
				shown++;
			}
			if (n > 0 && (size_t)n < len && c->count_modes > 8)
				snprintf(why + n, len - (size_t)n, " ...");
			drmModeFreeConnector(c);
			return -EINVAL;
		}
		crtcs = kms_connector_crtcs(fd, c);
		for (int k = 0; k < res->count_crtcs; k++) {
			if (!(crtcs & (1u << k)))
				continue;
			out->connector = c;
			out->crtc_id = res->crtcs[k];
			out->crtc_index = (uint32_t)k;
			return 0;
		}
		snprintf(why, len, "no CRTC can drive connector %s", name);
		drmModeFreeConnector(c);
		return -ENXIO;
	}
	if (o->connector && !named_found) {
		snprintf(why, len, "no connector named %s", o->connector);
		return -ENOENT;
	}
	if (!any_connected && !o->connector)
		snprintf(why, len, "no connector is connected");
	return -ENXIO;
}

/*
 * Opens @path if it is a KMS device with what the options want. Returns
 * the fd, -ENODEV (no display on this device: no CRTC or connector), or
 * choose_output()'s and open's errors, with @why set.
 */
static int open_card(const char *path, const struct dmapipe_display_options *o,
		     struct card_choice *out, char *why, size_t len)
{
	drmModeRes *res;
	bool atomic;
	int fd, ret;

	fd = kms_open(path, o->writeback_interval > 0, &atomic);
	if (fd == -ENOTTY) {
		snprintf(why, len, "%s is not a DRM device", path);
		return -ENODEV;
	}
	if (fd < 0) {
		snprintf(why, len, "%s: %s", path, strerror(-fd));
		return fd;
	}
	res = drmModeGetResources(fd);
	if (!res || res->count_crtcs == 0 || res->count_connectors == 0) {
		drmVersion *v = drmGetVersion(fd);

		snprintf(why, len, "%s (%s) drives no display: it has no CRTC or connector", path,
			 v && v->name ? v->name : "?");
		drmFreeVersion(v);
		drmModeFreeResources(res);
		close(fd);
		return -ENODEV;
	}
	if (!atomic) {
		snprintf(why, len, "%s: the driver takes no atomic commits", path);
		drmModeFreeResources(res);
		close(fd);
		return -EOPNOTSUPP;
	}
	ret = choose_output(fd, res, o, out, why, len);
	drmModeFreeResources(res);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static int compare_cards(const void *a, const void *b)
{
	return strverscmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first /dev/dri/cardN (by number) that has what the options want. */
static int find_card(const struct dmapipe_display_options *o, struct card_choice *out,
		     char *path, size_t path_len, char *why, size_t len)
{
	char *names[MAX_CARDS];
	size_t n = 0;
	struct dirent *de;
	int ret = -ENODEV, fd = -ENODEV;
	DIR *dir;

	snprintf(why, len, "no KMS device: no %s/card* drives a display", DRI_DIR);
	dir = opendir(DRI_DIR);
	if (!dir)
		return -ENODEV;
	while ((de = readdir(dir)) && n < MAX_CARDS) {
		if (strncmp(de->d_name, "card", 4) != 0 || de->d_name[4] < '0' ||
		    de->d_name[4] > '9')
			continue;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), compare_cards);
	for (size_t i = 0; i < n && fd < 0; i++) {
		char p[64], err[192];

		snprintf(p, sizeof(p), DRI_DIR "/%s", names[i]);
		fd = open_card(p, o, out, err, sizeof(err));
		if (fd >= 0) {
			dmapipe_strlcpy(path, p, path_len);
		} else if (fd != -ENODEV || ret == -ENODEV) {
			/* the most telling failure: a display that is not usable beats none */
			ret = fd;
			if (fd != -ENODEV)
				dmapipe_strlcpy(why, err, len);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return fd >= 0 ? fd : ret;
}

/* Connectors another client left on our CRTC: they would be clones of ours. */
static void find_others(struct dmapipe_display *d)
{
	drmModeRes *res = drmModeGetResources(d->fd);

	for (int i = 0; res && i < res->count_connectors; i++) {
		uint32_t id = res->connectors[i], prop;
		uint64_t crtc = 0;

		if (id == d->info.connector_id || d->n_others == ARRAY_SIZE(d->others))
			continue;
		prop = kms_prop_id(d->fd, id, DRM_MODE_OBJECT_CONNECTOR, "CRTC_ID", &crtc);
		if (prop && crtc == d->info.crtc_id) {
			d->others[d->n_others] = id;
			d->others_crtc_id[d->n_others++] = prop;
		}
	}
	drmModeFreeResources(res);
}

static int read_planes(struct dmapipe_display *d)
{
	drmModePlaneRes *res = drmModeGetPlaneResources(d->fd);
	int ret = 0;

	if (!res)
		return -errno;
	d->planes = calloc(res->count_planes ? res->count_planes : 1, sizeof(*d->planes));
	if (!d->planes) {
		drmModeFreePlaneResources(res);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < res->count_planes; i++) {
		struct kms_plane *p = &d->planes[d->n_planes];

		ret = kms_read_plane(d->fd, res->planes[i], p);
		if (ret < 0)
			break;
		if (!(p->possible_crtcs & (1u << d->crtc_index))) {
			kms_plane_finish(p);
			continue;
		}
		d->n_planes++;
	}
	drmModeFreePlaneResources(res);
	return ret;
}

static int setup(struct dmapipe_display *d, struct card_choice *c, const char *path)
{
	drmVersion *v;
	uint64_t cap = 0;
	int ret;

	dmapipe_strlcpy(d->info.device, path, sizeof(d->info.device));
	v = drmGetVersion(d->fd);
	if (v && v->name)
		dmapipe_strlcpy(d->info.driver, v->name, sizeof(d->info.driver));
	drmFreeVersion(v);
	kms_connector_name(c->connector, d->info.connector, sizeof(d->info.connector));
	d->info.connector_id = c->connector->connector_id;
	d->info.crtc_id = c->crtc_id;
	d->crtc_index = c->crtc_index;
	d->mode = *c->mode;
	d->info.mode_width = c->mode->hdisplay;
	d->info.mode_height = c->mode->vdisplay;
	d->info.mode_refresh = kms_mode_refresh(c->mode);
	d->info.modifiers = drmGetCap(d->fd, DRM_CAP_ADDFB2_MODIFIERS, &cap) == 0 && cap;

	/* opening a node nobody holds made us master; else ask (root may) */
	if (!drmIsMaster(d->fd) && drmSetMaster(d->fd) < 0) {
		fail_new(EBUSY, "%s: another process is DRM master (a compositor?): %s", path,
			 strerror(errno));
		return -EBUSY;
	}
	d->conn_crtc_id = kms_prop_id(d->fd, d->info.connector_id, DRM_MODE_OBJECT_CONNECTOR,
				      "CRTC_ID", NULL);
	d->crtc_mode_id = kms_prop_id(d->fd, c->crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID", NULL);
	d->crtc_active = kms_prop_id(d->fd, c->crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE", NULL);
	d->crtc_out_fence = kms_prop_id(d->fd, c->crtc_id, DRM_MODE_OBJECT_CRTC,
					"OUT_FENCE_PTR", NULL);
	if (!d->conn_crtc_id || !d->crtc_mode_id || !d->crtc_active) {
		fail_new(EOPNOTSUPP, "%s: the connector or CRTC lacks the atomic properties", path);
		return -EOPNOTSUPP;
	}
	if (d->opt.release_fences && !d->crtc_out_fence) {
		fail_new(EOPNOTSUPP, "%s: the CRTC gives no release fences (no OUT_FENCE_PTR)", path);
		return -EOPNOTSUPP;
	}
	find_others(d);
	ret = read_planes(d);
	if (ret < 0) {
		fail_new(-ret, "%s: reading the planes failed: %s", path, strerror(-ret));
		return ret;
	}
	if (d->opt.writeback_interval) {
		ret = display_writeback_init(d);
		if (ret < 0)
			return ret;
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.fd = d->fd }) < 0)
		return -errno;
	return 0;
}

DMAPIPE_EXPORT struct dmapipe_display *
dmapipe_display_new(const struct dmapipe_display_options *options)
{
	struct dmapipe_display *d;
	struct card_choice choice = { 0 };
	char path[64], why[256];
	int ret, fd;

	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->fd = -1;
	d->epfd = -1;
	d->wb_fence = -1;
	d->pending.acquire_fence = d->on_screen.acquire_fence = d->next.acquire_fence = -1;
	d->retired.acquire_fence = -1;
	dmapipe_display_options_init(&d->opt);
	ret = dmapipe_options_copy(&d->opt, sizeof(d->opt), options, sizeof(uint32_t));
	if (ret < 0) {
		free(d);
		return fail_new(-ret, "options: %s", ret == -E2BIG ?
				"fields this library does not know are set" : "invalid");
	}
	if (!d->opt.mode_width != !d->opt.mode_height || !d->opt.width != !d->opt.height) {
		free(d);
		return fail_new(EINVAL, "a mode or rectangle needs both its width and height");
	}
	if (d->opt.writeback_interval && !d->opt.writeback) {
		free(d);
		return fail_new(EINVAL, "writeback_interval without a writeback callback");
	}
	if (!d->opt.writeback_deadline_ms)
		d->opt.writeback_deadline_ms = DMAPIPE_DISPLAY_WRITEBACK_DEADLINE_MS;
	/* the strings are the caller's and only read during this call */
	why[0] = '\0';
	if (d->opt.device) {
		dmapipe_strlcpy(path, d->opt.device, sizeof(path));
		fd = open_card(path, &d->opt, &choice, why, sizeof(why));
	} else {
		fd = find_card(&d->opt, &choice, path, sizeof(path), why, sizeof(why));
	}
	d->opt.device = NULL;
	d->opt.connector = NULL;
	if (fd < 0) {
		free(d);
		return fail_new(-fd, "%s", why);
	}
	d->fd = fd;
	ret = setup(d, &choice, path);
	drmModeFreeConnector(choice.connector);
	if (ret < 0) {
		dmapipe_display_free(d);
		errno = -ret;
		return NULL;
	}
	log_info("display: %s (%s), %s, %ux%u@%u, CRTC %u, %u planes%s", d->info.device,
		 d->info.driver, d->info.connector, d->info.mode_width, d->info.mode_height,
		 d->info.mode_refresh, d->info.crtc_id, d->n_planes,
		 d->info.writeback ? ", writeback" : "");
	return d;
}

DMAPIPE_EXPORT void dmapipe_display_free(struct dmapipe_display *display)
{
	struct dmapipe_display *d = display;

	if (!d)
		return;
	/* first, or the wait for the flip would commit it */
	display_frame_done(d, &d->next, -ECANCELED, -1);
	if (d->pending.used)
		display_wait_flip(d, FREE_FLIP_WAIT_MS);
	/* the frame carrying a writeback job is still held: let its callback run */
	if (d->wb_fence >= 0)
		display_writeback_complete(d, display_writeback_time_left(d));
	/* removing the framebuffers takes them off the screen before the leases go back */
	display_fb_clear(d);
	display_frame_done(d, &d->pending, -ECANCELED, -1);
	display_frame_done(d, &d->on_screen, 0, -1);
	display_frame_done(d, &d->retired, 0, -1);
	display_writeback_finish(d);
	if (d->mode_blob)
		drmModeDestroyPropertyBlob(d->fd, d->mode_blob);
	for (uint32_t i = 0; i < d->n_planes; i++)
		kms_plane_finish(&d->planes[i]);
	free(d->planes);
	dmapipe_close(d->epfd);
	dmapipe_close(d->fd);
	free(d);
}

/* ---- frames ------------------------------------------------------------------ */

static bool same_format(const struct dmapipe_format *a, const struct dmapipe_format *b)
{
	return a->fourcc == b->fourcc && a->width == b->width && a->height == b->height &&
	       a->modifier == b->modifier;
}

DMAPIPE_EXPORT int dmapipe_display_show(struct dmapipe_display *display,
					struct dmapipe_buffer *buffer,
					const struct dmapipe_frame_meta *meta, void *frame_data)
{
	struct dmapipe_display *d = display;
	const struct dmapipe_layout *layout;
	struct display_fb *fb;
	bool reconfigure;
	int fence = -1, ret;

	if (!d || !buffer)
		return -EINVAL;
	d->info.error[0] = '\0';
	layout = dmapipe_buffer_get_layout(buffer);
	if (dmapipe_buffer_get_mem_kind(buffer) != DMAPIPE_MEM_DMABUF) {
		display_error(d, "the buffer is %s: a display scans out dma-bufs only",
			      dmapipe_mem_kind_to_string(dmapipe_buffer_get_mem_kind(buffer)));
		return -EXDEV;
	}
	reconfigure = !d->plane || !same_format(&d->have, &layout->format);
	if (reconfigure) {
		ret = display_check_format(d, &layout->format);
		if (ret < 0)
			return ret;
	}
	fb = display_fb_get(d, buffer, &ret);
	if (!fb)
		return ret;
	if (reconfigure) {
		ret = display_configure(d, &layout->format, fb);
		if (ret < 0)
			return ret;
	}
	if (meta && meta->acquire_fence >= 0) {
		fence = fcntl(meta->acquire_fence, F_DUPFD_CLOEXEC, 3);
		if (fence < 0) {
			ret = -errno;
			display_error(d, "duplicating the acquire fence: %s", strerror(-ret));
			return ret;
		}
	}
	if (d->next.used) {
		/* latest: the newer frame replaces the one that waited */
		display_frame_done(d, &d->next, -ECANCELED, -1);
		d->stats.frames_dropped++;
	}
	d->next.used = true;
	d->next.buffer = dmapipe_buffer_ref(buffer);
	d->next.fb = fb;
	fb->busy++;
	fb->last_use = ++d->use_clock;
	d->next.frame_data = frame_data;
	d->next.acquire_fence = fence;
	d->next.show_ns = dmapipe_now_ns();
	d->stats.frames_in++;
	/* after the flip, and after the writeback job that composes the frame on screen */
	if (d->pending.used || d->wb_fence >= 0)
		return 0;
	ret = display_commit_next(d);
	if (ret < 0) {
		/* nothing taken: undo without a callback */
		d->next.frame_data = NULL;
		d->next.handed_back = true;
		display_frame_done(d, &d->next, ret, -1);
		d->stats.frames_in--;
		return ret;
	}
	return 0;
}

DMAPIPE_EXPORT int dmapipe_display_get_fd(const struct dmapipe_display *display)
{
	return display ? display->epfd : -1;
}

DMAPIPE_EXPORT int dmapipe_display_dispatch(struct dmapipe_display *display, int timeout_ms)
{
	struct dmapipe_display *d = display;
	struct epoll_event ev[4];
	int n, handled = 0, ret, left;

	if (!d)
		return -EINVAL;
	/* wake up for a writeback job's deadline too */
	left = display_writeback_time_left(d);
	if (left >= 0 && (timeout_ms < 0 || left < timeout_ms))
		timeout_ms = left;
	n = epoll_wait(d->epfd, ev, ARRAY_SIZE(ev), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.fd == d->fd)
			ret = display_handle_events(d);
		else
			ret = display_writeback_complete(d, 0);
		if (ret < 0)
			return ret;
		handled += ret;
	}
	return handled + display_writeback_check_deadline(d);
}

DMAPIPE_EXPORT void dmapipe_display_get_info(const struct dmapipe_display *display,
					     struct dmapipe_display_info *info)
{
	if (!display || !info)
		return;
	*info = display->info;
}

DMAPIPE_EXPORT void dmapipe_display_get_stats(const struct dmapipe_display *display,
					      struct dmapipe_display_stats *stats)
{
	uint32_t cached = 0;

	if (!display || !stats)
		return;
	*stats = display->stats;
	for (size_t i = 0; i < DISPLAY_MAX_FBS; i++)
		cached += display->fbs[i].fb_id != 0;
	stats->cached = cached;
}

#else /* !HAVE_LIBDRM */

DMAPIPE_EXPORT struct dmapipe_display *
dmapipe_display_new(const struct dmapipe_display_options *options)
{
	(void)options;
	log_error("display: this libdmapipe was built without libdrm");
	errno = ENOTSUP;
	return NULL;
}

DMAPIPE_EXPORT void dmapipe_display_free(struct dmapipe_display *display)
{
	(void)display;
}

DMAPIPE_EXPORT int dmapipe_display_show(struct dmapipe_display *display,
					struct dmapipe_buffer *buffer,
					const struct dmapipe_frame_meta *meta, void *frame_data)
{
	(void)display;
	(void)buffer;
	(void)meta;
	(void)frame_data;
	return -ENOTSUP;
}

DMAPIPE_EXPORT int dmapipe_display_get_fd(const struct dmapipe_display *display)
{
	(void)display;
	return -1;
}

DMAPIPE_EXPORT int dmapipe_display_dispatch(struct dmapipe_display *display, int timeout_ms)
{
	(void)display;
	(void)timeout_ms;
	return -ENOTSUP;
}

DMAPIPE_EXPORT void dmapipe_display_get_info(const struct dmapipe_display *display,
					     struct dmapipe_display_info *info)
{
	(void)display;
	if (info)
		memset(info, 0, sizeof(*info));
}

DMAPIPE_EXPORT void dmapipe_display_get_stats(const struct dmapipe_display *display,
					      struct dmapipe_display_stats *stats)
{
	(void)display;
	if (stats)
		memset(stats, 0, sizeof(*stats));
}

#endif /* HAVE_LIBDRM */
