/* SPDX-License-Identifier: MIT */
/*
 * dmapipe record --device: frames straight from a V4L2 capture device,
 * its buffers requeued as soon as the disk is done with them, with no
 * socket in between. The loop in cmd-record.c sees it only through
 * struct frame_source, as it sees a producer's stream (record-stream.c).
 */
#include <errno.h>
#include <string.h>

#include "record.h"

static int device_open(struct record *r)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_allocator *alloc = NULL;
	struct dmapipe_v4l2_info vi;
	char fourcc[16];

	dmapipe_v4l2_options_init(&o);
	o.device = r->device;
	o.fourcc = r->fourcc;
	o.width = r->width;
	o.height = r->height;
	o.fps_num = r->fps;
	o.fps_den = r->fps ? r->fps_den : 0;
	o.io = r->io;
	/* the disk DMAs straight from the capture buffers when their mappings allow it */
	o.direct_io = true;
	o.buffers = r->buffers ? r->buffers : 8;
	/* --buffer: as many as the device gives; the frames needed are checked below */
	if (r->buffer_ms || r->buffer_mb)
		o.buffers = 32;
	if (r->allocator) {
		alloc = dmapipe_allocator_new(r->allocator);
		if (!alloc && errno == ENOENT)
			usage_error("record", "unknown allocator '%s' (heap, udmabuf, drm, memfd, "
				    "dmapipe)", r->allocator);
		if (!alloc) {
			tool_error(TOOL_ERR_UNSUPPORTED, errno, "allocator %s is not available here",
				   r->allocator);
			return -1;
		}
		o.allocator = alloc;
	}
	r->source = dmapipe_v4l2_source_new(&o);
	dmapipe_allocator_unref(alloc); /* the source keeps its own reference */
	if (!r->source) {
		tool_error(TOOL_OK, errno, "cannot capture from %s", r->device);
		return -1;
	}
	dmapipe_v4l2_source_get_info(r->source, &vi);
	r->dev_buffers = r->dev_min_queued = vi.buffers;
	if (r->buffer_ms || r->buffer_mb) {
		const struct dmapipe_layout *l = dmapipe_v4l2_source_get_layout(r->source);
		double fps = vi.fps_num && vi.fps_den ? (double)vi.fps_num / vi.fps_den : 60.0;
		uint64_t size = 0;

		for (uint32_t i = 0; i < l->n_objects; i++)
			size += l->objects[i].size;
		r->need = record_frames_needed(r, size, fps);
		/* two stay with the device so that it keeps capturing */
		if (r->need + 2 > vi.buffers) {
			tool_error(TOOL_ERR_UNSUPPORTED, 0, "--buffer%s needs %u frames of %s (%.1f MB) "
				   "and the device gave %u buffers, of which 2 stay with it",
				   r->buffer_mb ? "-mb" : "", r->need, r->device,
				   (double)size * r->need / 1e6, vi.buffers);
			return -1;
		}
		if (r->ropts.max_frames < r->need)
			r->ropts.max_frames = r->need;
	}
	/* the recording keeps the device's rate; dmapipe_vcap draws the test pattern */
	r->ropts.fps_num = vi.fps_num;
	r->ropts.fps_den = vi.fps_den;
	r->pattern_device = strcmp(vi.driver, "dmapipe_vcap") == 0;
	if (!r->quiet) {
		const struct dmapipe_layout *l = dmapipe_v4l2_source_get_layout(r->source);

		fprintf(stderr, "record: device %s (%s, %s): %s %ux%u", vi.path, vi.card, vi.driver,
			dmapipe_fourcc_to_string(l->format.fourcc, fourcc, sizeof(fourcc)),
			l->format.width, l->format.height);
		if (vi.fps_num && vi.fps_den)
			fprintf(stderr, " at %.2f fps", (double)vi.fps_num / (double)vi.fps_den);
		fprintf(stderr, ", %u buffers, %s mode: %s\n", vi.buffers,
			dmapipe_v4l2_io_to_string(vi.io), vi.io_note);
	}
	return 0;
}

static int device_start(struct record *r)
{
	struct dmapipe_format_info fi;
	int ret;

	/* the recording keeps the device's colorimetry, fields and aspect ratio with its rate */
	if (dmapipe_v4l2_source_get_format_info(r->source, &fi) == 0)
		(void)dmapipe_recorder_set_format_info(r->rec, &fi);
	ret = dmapipe_v4l2_source_start(r->source);

	if (ret < 0) {
		tool_error(TOOL_ERR_DEVICE, ret, "cannot start capturing from %s", r->device);
		r->end = "error";
		r->error = true;
	}
	return ret;
}

static int device_fd(const struct record *r)
{
	return dmapipe_v4l2_source_get_fd(r->source);
}

/*
 * The capture rate from the device's own timestamps, and how close the
 * recorder came to holding every buffer: at 0 queued the device had none
 * to fill, and the frames it then lost are the recorder's doing.
 */
static void count_capture(struct record *r)
{
	struct dmapipe_v4l2_stats vs;

	if (r->cap_frames++ == 0)
		r->cap_first_ns = r->meta.timestamp_ns;
	r->cap_last_ns = r->meta.timestamp_ns;
	dmapipe_v4l2_source_get_stats(r->source, &vs);
	if (vs.held <= r->dev_buffers && r->dev_buffers - vs.held < r->dev_min_queued)
		r->dev_min_queued = r->dev_buffers - vs.held;
}

static int device_next(struct record *r, struct dmapipe_buffer **buf,
		       const struct dmapipe_frame_meta **meta, void **frame_data)
{
	int ret = dmapipe_v4l2_source_dequeue(r->source, buf, &r->meta);

	if (ret == 0) {
		if (r->pattern_device)
			r->meta.flags |= DMAPIPE_FRAME_PATTERN;
		count_capture(r);
		*meta = &r->meta;
		*frame_data = *buf;
		return 0;
	}
	if (ret == -EAGAIN)
		return ret;
	if (ret == -ENODEV)
		tool_error(TOOL_ERR_DEVICE, 0, "%s went away", r->device);
	else
		tool_error(TOOL_ERR_DEVICE, ret, "capturing from %s", r->device);
	r->end = ret == -ENODEV ? "device-gone" : "error";
	r->error = true;
	return ret;
}

/* The device gets the buffer back at once and keeps capturing. */
static void device_give_back(struct record *r, void *frame_data)
{
	dmapipe_v4l2_source_queue(r->source, frame_data);
}

static void device_counts(const struct record *r, uint64_t *received, uint64_t *gaps)
{
	struct dmapipe_v4l2_stats vs;

	dmapipe_v4l2_source_get_stats(r->source, &vs);
	*received = vs.frames;
	*gaps = vs.dropped;
}

const struct frame_source record_device_source = {
	.open = device_open,
	.start = device_start,
	.fd = device_fd,
	.next = device_next,
	.give_back = device_give_back,
	.counts = device_counts,
};
