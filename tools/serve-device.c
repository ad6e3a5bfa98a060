/* SPDX-License-Identifier: MIT */
/*
 * dmapipe serve --device: a V4L2 capture device's frames handed on as it
 * captures them, and with --reacquire the device found again when it
 * comes back. Separate from serve-pattern.c, which draws and paces its
 * own frames: the two loops share only what serve.h declares.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "serve.h"

/* Opens the device at @path with the options given; NULL on failure (logged). */
static struct dmapipe_v4l2_source *open_source(struct serve *s, const char *path)
{
	struct dmapipe_v4l2_options o;

	dmapipe_v4l2_options_init(&o);
	o.device = path;
	if (s->set_format)
		o.fourcc = s->format.fourcc;
	if (s->set_size) {
		o.width = s->format.width;
		o.height = s->format.height;
	}
	if (s->set_fps) {
		o.fps_num = s->fps_num;
		o.fps_den = s->fps_den;
	}
	o.io = s->io;
	o.direct_io = s->direct_io;
	o.buffers = s->buffers;
	o.allocator = s->import_alloc;
	return dmapipe_v4l2_source_new(&o);
}

static void announce_source(struct serve *s)
{
	const struct dmapipe_layout *l = dmapipe_v4l2_source_get_layout(s->source);
	struct dmapipe_v4l2_info *i = &s->dev_info;
	char fourcc[16];

	dmapipe_v4l2_source_get_info(s->source, i);
	s->format = l->format;
	snprintf(s->device_path, sizeof(s->device_path), "%s", i->path);
	snprintf(s->io_note, sizeof(s->io_note), "%s", i->io_note);
	s->mem_kind = DMAPIPE_MEM_DMABUF;
	s->alloc_name = i->io == DMAPIPE_V4L2_IO_IMPORT ? i->allocator : "v4l2-export";
	if (s->quiet)
		return;
	fprintf(stderr, "serve: device %s (%s, %s, %s): %s %ux%u", i->path, i->card, i->driver,
		i->bus_info, dmapipe_fourcc_to_string(l->format.fourcc, fourcc, sizeof(fourcc)),
		l->format.width, l->format.height);
	if (i->fps_num && i->fps_den)
		fprintf(stderr, " at %.2f fps", (double)i->fps_num / (double)i->fps_den);
	fprintf(stderr, ", %u buffers, %s API%s\n", i->buffers,
		i->multiplanar ? "multi-planar" : "single-planar",
		i->libv4l2 ? " through libv4l2" : ", kernel ioctls");
	fprintf(stderr, "serve: %s mode: %s\n", dmapipe_v4l2_io_to_string(i->io), i->io_note);
}

/* Remembers the counters of a source about to go. */
static void retire_source(struct serve *s)
{
	struct dmapipe_v4l2_stats st;

	if (!s->source)
		return;
	dmapipe_v4l2_source_get_stats(s->source, &st);
	s->v4l2_frames += st.frames;
	s->v4l2_dropped += st.dropped;
	s->v4l2_corrupted += st.corrupted;
	dmapipe_v4l2_source_free(s->source);
	s->source = NULL;
}

/*
 * The device went away: its buffers leave the stream (consumers get
 * REMOVE_BUFFER; frames they hold stay valid until released), its fds are
 * closed. Returns true to keep serving (--reacquire).
 */
static bool device_lost(struct serve *s)
{
	s->device_losses++;
	fprintf(stderr, "serve: device %s (%s, %s) disappeared\n", s->device_path, s->dev_info.card,
		s->dev_info.bus_info);
	retire_source(s);
	if (!s->reacquire)
		return false;
	if (!s->watch)
		s->watch = dmapipe_v4l2_watch_new(&s->dev_info);
	if (!s->watch) {
		tool_warn("cannot watch for the device: %s", strerror(errno));
		return false;
	}
	if (!s->quiet)
		fprintf(stderr, "serve: waiting for %s (%s) to come back\n", s->dev_info.card,
			s->dev_info.bus_info);
	return true;
}

/* While the device is away: looks for it and, found, serves it again. */
static int try_reacquire(struct serve *s)
{
	char path[256];
	int ret = dmapipe_v4l2_watch_find(s->watch, path, sizeof(path));

	if (ret <= 0)
		return ret;
	s->source = open_source(s, path);
	if (!s->source) {
		/* just appeared and not ready, or taken by another process: try later */
		tool_warn("%s came back as %s but cannot be opened yet: %s", s->dev_info.card,
			  path, strerror(errno));
		return 0;
	}
	ret = dmapipe_v4l2_source_attach(s->source, s->server);
	if (ret == 0)
		ret = dmapipe_v4l2_source_start(s->source);
	if (ret < 0) {
		tool_warn("cannot serve %s again: %s", path, strerror(-ret));
		retire_source(s);
		return 0;
	}
	s->reacquired++;
	fprintf(stderr, "serve: device back as %s\n", path);
	announce_source(s);
	return 1;
}

static int run_device(struct serve *s)
{
	int ret;

	if (!serve_wait_for_consumers(s) || !serve_apply_realtime(s))
		return 0;
	ret = dmapipe_v4l2_source_start(s->source);
	if (ret < 0) {
		serve_failed(s, "cannot start capturing", TOOL_ERR_DEVICE, ret,
			     "cannot start capturing on %s", s->device_path);
		return 0;
	}
	serve_start_clock(s);

	while (!stop_requested && (s->frames == 0 || s->queued < s->frames)) {
		struct pollfd fds[2];
		nfds_t n = 1;
		int timeout = 1000;

		fds[0].fd = dmapipe_server_get_fd(s->server);
		fds[0].events = POLLIN;
		fds[1].revents = 0;
		if (s->source) {
			fds[1].fd = dmapipe_v4l2_source_get_fd(s->source);
			fds[1].events = POLLIN;
			n = 2;
		} else if (s->watch) {
			fds[1].fd = dmapipe_v4l2_watch_get_fd(s->watch);
			fds[1].events = POLLIN;
			n = fds[1].fd >= 0 ? 2 : 1;
			timeout = 500; /* a rescan, also without uevents */
		}
		loop_timing_end(&s->loop);
		if (poll(fds, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto failed;
		}
		loop_timing_begin(&s->loop);
		if (fds[0].revents) {
			ret = dmapipe_server_dispatch(s->server, 0);
			if (ret < 0)
				goto failed;
		}
		if (s->source && (n < 2 || fds[1].revents)) {
			uint64_t left = s->frames ? s->frames - s->queued : 0;

			ret = dmapipe_v4l2_source_dispatch(s->source, left > UINT32_MAX ?
							   UINT32_MAX : (unsigned int)left);
			if (ret == -ENODEV) {
				if (!device_lost(s)) {
					serve_failed(s, "the device disappeared", TOOL_ERR_DEVICE, 0,
						     "%s disappeared (--reacquire waits for it to "
						     "come back)", s->device_path);
					break;
				}
			} else if (ret < 0) {
				serve_failed(s, "capture failed", TOOL_ERR_DEVICE, ret,
					     "capturing from %s", s->device_path);
				break;
			} else {
				s->queued += (uint64_t)ret;
				s->status_frames += (uint64_t)ret;
			}
		} else if (!s->source && s->watch) {
			ret = try_reacquire(s);
			if (ret < 0) {
				serve_failed(s, "cannot look for the device", TOOL_OK, ret,
					     "looking for the device");
				break;
			}
		}
		/* no line while the device is away: there is nothing to count */
		serve_status_tick(s, s->source != NULL);
	}
	loop_timing_end(&s->loop);
	serve_stop_clock(s);
	/* no new frames: what consumers hold comes back without requeueing */
	if (s->source)
		dmapipe_v4l2_source_stop(s->source);
	return 0;

failed:
	serve_server_failed(s, ret);
	return 0;
}

/* --device: opens the device, then serves it; returns the exit status. */
int serve_device(struct serve *s)
{
	if (s->allocator) {
		s->import_alloc = dmapipe_allocator_new(s->allocator);
		if (!s->import_alloc && errno == ENOENT)
			usage_error("serve", "unknown allocator '%s' (heap, udmabuf, drm, memfd, dmapipe)",
				    s->allocator);
		if (!s->import_alloc) {
			tool_error(TOOL_ERR_UNSUPPORTED, errno, "allocator %s is not available here",
				   s->allocator);
			return 1;
		}
	}
	s->source = open_source(s, s->device);
	if (!s->source) {
		int err = errno;

		/* the library's reason, when it gave one, ends the line */
		if (tool_log_held())
			tool_error(TOOL_OK, err, "cannot serve %s", s->device);
		else
			tool_error(TOOL_OK, err, "cannot serve %s%s", s->device,
				   err == ENOTTY ? ": not a V4L2 device" :
				   err == ENODEV ? ": not a V4L2 capture device with streaming "
				   "I/O, or gone" : err == EINVAL ? ": the device cannot take these "
				   "settings" : "");
		dmapipe_allocator_unref(s->import_alloc);
		return 1;
	}
	announce_source(s);

	s->opts.path = s->socket;
	if (!s->opts.producer_name)
		s->opts.producer_name = "v4l2";
	s->server = open_server("serve", &s->opts, &s->access);
	if (!s->server) {
		retire_source(s);
		dmapipe_allocator_unref(s->import_alloc);
		return 1;
	}
	if (dmapipe_v4l2_source_attach(s->source, s->server) < 0) {
		tool_error(TOOL_ERR_DEVICE, 0, "cannot register the buffers of %s", s->device);
		retire_source(s);
		dmapipe_server_free(s->server);
		dmapipe_allocator_unref(s->import_alloc);
		return 1;
	}
	if (!s->quiet)
		fprintf(stderr, "serve: serving %s on %s%s\n", s->device_path, s->socket,
			s->reacquire ? " (reacquired if it disappears)" : "");
	if (s->reacquire) {
		/* watch from the start, so no uevent is missed */
		s->watch = dmapipe_v4l2_watch_new(&s->dev_info);
		if (!s->watch)
			tool_warn("cannot watch for device changes: %s", strerror(errno));
	}

	run_device(s);
	serve_end_stream(s);
	serve_print_summary(s);
	retire_source(s);
	dmapipe_server_free(s->server);
	dmapipe_v4l2_watch_free(s->watch);
	dmapipe_allocator_unref(s->import_alloc);
	return s->failed ? 1 : 0;
}
