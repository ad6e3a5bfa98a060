/* SPDX-License-Identifier: MIT */
/*
 * dmapipe record: frames from a stream into a file with direct I/O. This
 * file has the command line, the one recording loop and its summary; the
 * frames come from record-stream.c or record-device.c, and --check and
 * --repair are record-check.c (record.h).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

static const char *const record_usage =
	"Usage: dmapipe record [--socket SOCKET] -o FILE [OPTIONS]\n"
	"       dmapipe record --device /dev/videoN -o FILE [OPTIONS]\n"
	"       dmapipe record --check FILE [--verify MODE] [--json]\n"
	"       dmapipe record --repair FILE [--json]\n"
	"\n"
	"Records the frames of a stream into FILE (docs/FORMAT.md) with direct I/O:\n"
	"the disk reads each frame straight out of the shared buffer when its mapping\n"
	"allows (otherwise through dmapipe.ko or a counted copy, and the summary says\n"
	"so). When the disk falls behind, frames are dropped and counted; the producer\n"
	"never waits. Ctrl-C ends the recording cleanly.\n"
	"With --device, records a V4L2 capture device straight, with no socket in\n"
	"between: the device captures into buffers the disk can DMA from (import mode\n"
	"with dmapipe.ko or udmabuf buffers when there are some, docs/V4L2.md), and a\n"
	"buffer goes back to the device as soon as its frame is on the disk. When the\n"
	"disk is behind, frames are dropped (counted) and the device keeps capturing.\n"
	"Until its first frame is on the disk the recording is FILE.partial-XXXXXX, next\n"
	"to FILE; it takes the name FILE then (replacing an old FILE only with --force).\n"
	"A recorder killed before that leaves it there; a recording that ends without\n"
	"a frame leaves nothing, and an old FILE as it was. Only regular files are\n"
	"written or replaced.\n"
	"\n"
	"--check reads every frame of a recording back and verifies it: against the\n"
	"checksum recorded with it (--checksum, and compressed frames by default), and\n"
	"against the test pattern (docs/PATTERN.md) when the producer marked it as\n"
	"such; it says which frames could not be checked. A recording whose writer\n"
	"died is scanned; one that was damaged or cut after it was closed fails.\n"
	"--repair scans such a recording and writes its index back (also rebuilding a\n"
	"damaged superblock from the frame headers).\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET     the producer's socket, also as an operand (default:\n"
	"                          the stream \"default\")\n"
	HELP_SOCKET_NAME
	"  -o, --output FILE       the recording to create; - is stdout, which must then\n"
	"                          be a regular file (> FILE)\n"
	"  -d, --device PATH       record this V4L2 capture device instead of a socket\n"
	"      --size WxH          with --device: the frame size (default: the device's)\n"
	"  -f, --format FOURCC     with --device: the pixel format (default: the device's)\n"
	"      --fps N[/M]         with --device: the frame rate (default: the device's)\n"
	"      --io MODE           with --device: auto (default: import into buffers with\n"
	"                          struct-page mappings where possible), export or import\n"
	"      --buffers N         with --device: capture buffers (default 8)\n"
	"      --allocator NAME    with --device: import mode's allocator\n"
	"      --force             replace FILE if it is a regular file: the old one stays\n"
	"                          until the first frame of the new one is on the disk\n"
	"  -n, --frames N          stop after N frames, 0 = until end of stream (default 0)\n"
	"      --duration S        stop after S seconds (default: no limit)\n"
	"      --direct            O_DIRECT or fail (default: O_DIRECT, buffered if refused)\n"
	"      --buffered          through the page cache, kept flat by background writeback\n"
	"      --queue-depth N     frames in flight to the disk (default 8); a producer\n"
	"                          granting fewer is reported\n"
	"      --buffer DURATION   hold up to DURATION of frames (2s, 500ms) while the disk\n"
	"                          is behind, instead of dropping them (docs/REALTIME.md);\n"
	"                          an error if the producer or device cannot grant it\n"
	"      --buffer-mb N       the same, sized as N MiB of frames\n"
	"      --sync-interval MS  data barrier interval (default 500, 0 = only at the end)\n"
	"      --policy POLICY     latest or queue:N (default queue:4); block is refused:\n"
	"                          a recorder never slows the producer\n"
	"      --checksum          a CRC32C of every frame's pixels, so --check finds\n"
	"                          damaged bytes (a CPU pass over each frame, counted in\n"
	"                          the summary; default: compressed frames only)\n"
	"      --no-checksum       no checksum, not even for compressed frames\n"
	"      --strict            fail rather than copy a pixel\n"
	"      --no-disk-check     no write test of the file system before the first frame\n"
	"                          (default: a test of at most 250 ms and 128 MiB, and a\n"
	"                          warning if it took less than the stream needs)\n"
	HELP_REALTIME("")
	"      --timeout MS        fail if no frame arrives for MS (default 10000, 0 = never)\n"
	"      --progress          a progress line every second (default when stderr is a tty)\n"
	"      --check FILE        verify a recording\n"
	"      --verify MODE       for --check: auto (default: frames marked as the pattern),\n"
	"                          full or stamp (every frame against the pattern), none\n"
	"                          (do not read the frames)\n"
	"      --repair FILE       write the index of an unfinished recording back\n"
	"      --json              print the summary as JSON on stdout (docs/JSON.md), a\n"
	"                          failure too\n"
	"  -q, --quiet             no progress line, no waiting message\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (for --check: a frame\n"
	"failed, the recording is damaged), 2 bad command line, 3 the disk filled up\n"
	"(the recording was stopped and closed; every frame written is in it).\n";

enum {
	OPT_FORCE = 256,
	OPT_DURATION,
	OPT_DIRECT,
	OPT_BUFFERED,
	OPT_QUEUE_DEPTH,
	OPT_SYNC_INTERVAL,
	OPT_POLICY,
	OPT_STRICT,
	OPT_TIMEOUT,
	OPT_PROGRESS,
	OPT_CHECK,
	OPT_VERIFY,
	OPT_REPAIR,
	OPT_JSON,
	OPT_SIZE,
	OPT_FPS,
	OPT_IO,
	OPT_BUFFERS,
	OPT_ALLOCATOR,
	OPT_CHECKSUM,
	OPT_NO_CHECKSUM,
	OPT_BUFFER,
	OPT_BUFFER_MB,
	OPT_NO_DISK_CHECK,
};

static void parse_args(struct record *r, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "device", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "format", required_argument, NULL, 'f' },
		{ "fps", required_argument, NULL, OPT_FPS },
		{ "io", required_argument, NULL, OPT_IO },
		{ "buffers", required_argument, NULL, OPT_BUFFERS },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "checksum", no_argument, NULL, OPT_CHECKSUM },
		{ "no-checksum", no_argument, NULL, OPT_NO_CHECKSUM },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "frames", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		{ "buffered", no_argument, NULL, OPT_BUFFERED },
		{ "queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH },
		{ "buffer", required_argument, NULL, OPT_BUFFER },
		{ "buffer-mb", required_argument, NULL, OPT_BUFFER_MB },
		{ "no-disk-check", no_argument, NULL, OPT_NO_DISK_CHECK },
		{ "sync-interval", required_argument, NULL, OPT_SYNC_INTERVAL },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "verify", required_argument, NULL, OPT_VERIFY },
		{ "repair", required_argument, NULL, OPT_REPAIR },
		{ "json", no_argument, NULL, OPT_JSON },
		REALTIME_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, modes;

	while ((ch = getopt_long(argc, argv, ":s:o:d:f:n:qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			r->socket = optarg;
			break;
		case 'o':
			r->output = optarg;
			break;
		case 'd':
			r->device = optarg;
			break;
		case OPT_SIZE:
			opt_size("record", optarg, &r->width, &r->height);
			break;
		case 'f':
			r->fourcc = opt_format("record", optarg);
			break;
		case OPT_FPS:
			opt_fps("record", "--fps", optarg, false, 1000, &r->fps, &r->fps_den);
			break;
		case OPT_IO:
			if (strcmp(optarg, "auto") == 0)
				r->io = DMAPIPE_V4L2_IO_AUTO;
			else if (strcmp(optarg, "export") == 0)
				r->io = DMAPIPE_V4L2_IO_EXPORT;
			else if (strcmp(optarg, "import") == 0)
				r->io = DMAPIPE_V4L2_IO_IMPORT;
			else
				usage_error("record", "bad --io '%s': expected auto, export or import",
					    optarg);
			r->io_set = true;
			break;
		case OPT_BUFFERS:
			r->buffers = opt_u32("record", "--buffers", optarg, 2, 32);
			break;
		case OPT_ALLOCATOR:
			r->allocator = optarg;
			break;
		case OPT_CHECKSUM:
		case OPT_NO_CHECKSUM:
			if (r->ropts.checksum != DMAPIPE_RECORD_CHECKSUM_AUTO)
				usage_error("record", "--checksum and --no-checksum exclude each other");
			r->ropts.checksum = ch == OPT_CHECKSUM ? DMAPIPE_RECORD_CHECKSUM_ALL :
								  DMAPIPE_RECORD_CHECKSUM_NONE;
			break;
		case OPT_FORCE:
			r->force = true;
			break;
		case 'n':
			r->frames = opt_u64("record", "--frames", optarg);
			break;
		case OPT_DURATION:
			r->duration_s = opt_u32("record", "--duration", optarg, 1, 86400 * 366);
			break;
		case OPT_DIRECT:
		case OPT_BUFFERED:
			if (r->ropts.mode != DMAPIPE_RECORD_AUTO)
				usage_error("record", "--direct and --buffered exclude each other");
			r->ropts.mode = ch == OPT_DIRECT ? DMAPIPE_RECORD_DIRECT :
							  DMAPIPE_RECORD_BUFFERED;
			break;
		case OPT_QUEUE_DEPTH:
			r->ropts.max_frames = opt_u32("record", "--queue-depth", optarg, 1, 64);
			break;
		case OPT_BUFFER:
			r->buffer_ms = opt_buffer_duration("record", optarg);
			break;
		case OPT_BUFFER_MB:
			r->buffer_mb = opt_u32("record", "--buffer-mb", optarg, 1, 65536);
			break;
		case OPT_NO_DISK_CHECK:
			r->disk.off = true;
			break;
		case OPT_SYNC_INTERVAL:
			r->ropts.sync_interval_ms = opt_u32("record", "--sync-interval", optarg, 0,
							    3600000);
			break;
		case OPT_POLICY:
			opt_policy("record", optarg, &r->copts.policy, &r->copts.queue_depth);
			if (r->copts.policy == DMAPIPE_POLICY_BLOCK)
				usage_error("record", "--policy block would let the disk slow the "
					    "producer: use latest or queue:N");
			break;
		case OPT_STRICT:
			r->strict = true;
			break;
		case OPT_TIMEOUT:
			r->timeout_ms = opt_u32("record", "--timeout", optarg, 0, 86400000);
			break;
		case OPT_PROGRESS:
			r->progress = true;
			break;
		case 'q':
			r->quiet = true;
			break;
		case OPT_CHECK:
			r->check = optarg;
			break;
		case OPT_VERIFY:
			r->verify = opt_verify("record", optarg);
			break;
		case OPT_REPAIR:
			r->repair = optarg;
			break;
		case OPT_JSON:
			r->json = true;
			break;
		case 'h':
			fputs(record_usage, stdout);
			exit(0);
		default:
			if (!realtime_option(&r->rt, "record", ch, optarg))
				usage_getopt_error("record", ch, argv);
		}
	}
	if (optind < argc && !r->socket && !r->device && !r->check && !r->repair)
		r->socket = argv[optind++];
	usage_no_operands("record", argc, argv);
	if (r->buffer_ms && r->buffer_mb)
		usage_error("record", "--buffer and --buffer-mb exclude each other");
	modes = (r->check != NULL) + (r->repair != NULL) +
		(r->output != NULL || r->socket != NULL || r->device != NULL);
	if (modes > 1)
		usage_error("record", "--check, --repair and recording (--socket/--device/-o) "
			    "exclude each other");
	if (r->check || r->repair)
		return;
	if (r->socket && r->device)
		usage_error("record", "--socket and --device exclude each other");
	if (!r->device && (r->width || r->fourcc || r->fps || r->io_set || r->buffers ||
			   r->allocator))
		usage_error("record", "--size, --format, --fps, --io, --buffers and --allocator "
			    "are for --device");
	if (!r->device)
		r->socket = opt_socket("record", r->socket);
	if (!r->output)
		usage_error("record", "-o FILE is required");
	if (r->json && strcmp(r->output, "-") == 0)
		usage_error("record", "--json prints on stdout, where -o - writes the recording");
}

uint64_t record_frame_bytes(const struct dmapipe_buffer *buf, const struct dmapipe_frame_meta *meta)
{
	const struct dmapipe_layout *l = dmapipe_buffer_get_layout(buf);
	uint64_t sum = 0;

	for (uint32_t p = 0; p < l->n_planes; p++) {
		/* 0: the whole plane, whose end only its object's size tells */
		if (!meta->bytes_used[p]) {
			sum = 0;
			for (uint32_t i = 0; i < l->n_objects; i++)
				sum += l->objects[i].size;
			return sum;
		}
		sum += meta->bytes_used[p];
	}
	return sum;
}

uint32_t record_frames_needed(const struct record *r, uint64_t frame_bytes, double fps)
{
	double n;

	if (r->buffer_mb)
		n = frame_bytes ? (double)(r->buffer_mb << 20) / (double)frame_bytes : 1;
	else
		n = (double)r->buffer_ms * fps / 1000.0 + 0.999;
	return n < 1 ? 1 : n > 128 ? 128 : (uint32_t)n;
}

/* ---- recording ----------------------------------------------------------------------- */

/*
 * The frame's pixels are on the disk (or failed): its lease or device
 * buffer goes back before its header is written, so a stalled disk holds
 * it for one write.
 */
static void on_release(struct dmapipe_recorder *rec, void *frame_data, void *user_data)
{
	struct record *r = user_data;

	(void)rec;
	r->src->give_back(r, frame_data);
	r->released++;
}

/* The frame is complete in the file (a failure is counted by the recorder's stats). */
static void on_done(struct dmapipe_recorder *rec, void *frame_data, int status, void *user_data)
{
	struct record *r = user_data;

	(void)rec;
	(void)frame_data;
	/* the recording takes its name once a frame of it is on the disk, off the loop */
	if (status == 0)
		output_publish_start(&r->out);
}

static void progress_line(struct record *r, uint64_t now)
{
	struct dmapipe_recorder_stats rs;
	uint64_t received, gaps;
	double dt = (double)(now - r->last_ns) * 1e-9;

	dmapipe_recorder_get_stats(r->rec, &rs);
	r->src->counts(r, &received, &gaps);
	fprintf(stderr, "record: %llu frames, %.1f MB/s, %llu dropped, backlog %u frames "
		"(%.1f MB), %llu bytes copied\n", (unsigned long long)rs.frames_written,
		dt > 0 ? (double)(rs.bytes_written - r->last_bytes) / dt / 1e6 : 0.0,
		(unsigned long long)(gaps + r->refused), rs.in_flight_frames,
		(double)rs.in_flight_bytes / 1e6, (unsigned long long)rs.bytes_copied);
	r->last_bytes = rs.bytes_written;
	r->last_ns = now;
}

static void loop_start(struct record *r)
{
	r->t0 = r->last_ns = now_ns();
	r->deadline = r->duration_s ? r->t0 + (uint64_t)r->duration_s * 1000000000ull : UINT64_MAX;
	r->next_progress = r->t0 + 1000000000ull;
	r->last_bytes = 0;
	r->end = "frames";
}

/*
 * One turn of a recording loop, whatever the frames come from: the stop
 * conditions, the progress line, a wait of up to 100 ms for @source_fd or
 * the disk, and the recorder reaping what completed. False when the loop
 * is to end (r->end says why).
 */
static bool loop_turn(struct record *r, int source_fd)
{
	struct pollfd pfd[2] = {
		{ .fd = source_fd, .events = POLLIN },
		{ .fd = dmapipe_recorder_get_fd(r->rec), .events = POLLIN },
	};
	uint64_t now;
	int ret;

	if (stop_requested) {
		r->end = "interrupted";
		return false;
	}
	if (r->frames && r->submitted >= r->frames)
		return false;
	now = now_ns();
	if (now >= r->deadline) {
		r->end = "duration";
		return false;
	}
	if (r->progress && now >= r->next_progress) {
		progress_line(r, now);
		r->next_progress = now + 1000000000ull;
	}
	tool_log_flush();
	loop_timing_end(&r->loop);
	/* frames received before the loop are taken at once, not after a poll */
	poll(pfd, 2, r->received_early ? 0 : 100);
	r->received_early = false;
	loop_timing_begin(&r->loop);
	ret = dmapipe_recorder_dispatch(r->rec, 0);
	if (ret < 0) {
		tool_error(TOOL_OK, ret, "writing %s", r->output);
		r->end = "error";
		r->error = true;
		return false;
	}
	return true;
}

/* A frame the recorder refused for good: the disk is full, or an error. */
static void submit_failed(struct record *r, int ret)
{
	if (ret == -ENOSPC) {
		r->disk_full = true;
		r->end = "disk-full";
		return;
	}
	if (ret == -EPERM && r->strict)
		tool_error(TOOL_ERR_STRICT, 0, "a frame would have been copied (--strict)");
	else
		tool_error(TOOL_OK, ret, "cannot record a frame");
	r->end = "error";
	r->error = true;
}

/*
 * Records the source's frames until a stop condition. A frame the
 * recorder refuses (the disk is behind) goes back to its source at once
 * and counts as dropped: the source never waits for the disk.
 */
static void record_frames(struct record *r)
{
	const struct frame_source *src = r->src;
	uint64_t last_frame;
	int ret = 0;

	loop_start(r);
	if (src->start && src->start(r) < 0) {
		r->t1 = now_ns();
		return;
	}
	last_frame = now_ns();
	while (loop_turn(r, src->fd(r))) {
		const struct dmapipe_frame_meta *meta;
		struct dmapipe_buffer *buf;
		void *frame_data;

		if (src->dispatch)
			src->dispatch(r);
		while ((ret = src->next(r, &buf, &meta, &frame_data)) == 0) {
			last_frame = now_ns();
			/* before the submit: the recorder may hand the frame back at once */
			record_disk_frame(r, buf, meta);
			/* the recorder waits for the frame's acquire fence itself */
			ret = dmapipe_recorder_submit(r->rec, buf, meta, frame_data);
			if (ret == 0) {
				r->submitted++;
				if (r->frames && r->submitted >= r->frames)
					break;
				continue;
			}
			src->give_back(r, frame_data);
			if (ret == -EAGAIN) {
				r->refused++;
				continue;
			}
			submit_failed(r, ret);
			break;
		}
		if (r->disk_full || r->error || (ret < 0 && ret != -EAGAIN))
			break;
		if (r->timeout_ms && now_ns() - last_frame > (uint64_t)r->timeout_ms * 1000000ull) {
			r->end = "timeout";
			r->error = true;
			tool_error(TOOL_ERR_TIMEOUT, 0, "no frame for %u ms", r->timeout_ms);
			break;
		}
	}
	r->t1 = now_ns();
}

/*
 * The frames still on their way to the disk complete before the recording
 * is finished, their leases renewed meanwhile: after the end of the
 * stream the producer still times them out, and a stalled disk may hold
 * them longer than its timeout (dmapipe_recorder_finish() would wait
 * without a word to it).
 */
static void drain_in_flight(struct record *r)
{
	struct dmapipe_recorder_stats rs;
	uint64_t deadline = now_ns() + 60000000000ull;

	for (;;) {
		dmapipe_recorder_get_stats(r->rec, &rs);
		if (!rs.in_flight_frames || now_ns() >= deadline || stop_requested)
			return;
		if (dmapipe_recorder_dispatch(r->rec, 100) < 0)
			return;
		if (r->src->dispatch)
			r->src->dispatch(r);
	}
}

static void print_summary(struct record *r, int finish_ret)
{
	struct dmapipe_recorder_latency lat = { .size = sizeof(lat) };
	struct dmapipe_recorder_stats rs;
	struct dmapipe_copy_stats copies;
	uint64_t received, gaps;
	double elapsed = r->t1 > r->t0 ? (double)(r->t1 - r->t0) * 1e-9 : 0;
	uint64_t drops;
	const char *mode;
	bool ok = !r->error && finish_ret == 0;

	dmapipe_recorder_get_stats(r->rec, &rs);
	dmapipe_recorder_get_latency(r->rec, &lat);
	r->src->counts(r, &received, &gaps);
	dmapipe_get_copy_stats(&copies);
	drops = gaps + r->refused;
	mode = rs.mode == DMAPIPE_RECORD_DIRECT ? "direct" : "buffered";
	if (r->json) {
		struct json j;

		json_begin_document(&j, strcmp(r->end, "interrupted") == 0);
		json_string(&j, "mode", "record");
		json_string(&j, "end", r->end);
		json_string(&j, "file", r->output);
		json_bool(&j, "file_written", r->out.published);
		json_string(&j, "mode", mode);
		json_u64(&j, "block_size", rs.block_size);
		json_string(&j, "source", r->device ? "device" : "socket");
		if (r->device) {
			struct dmapipe_v4l2_info vi;

			dmapipe_v4l2_source_get_info(r->source, &vi);
			json_string(&j, "device", vi.path);
			json_string(&j, "driver", vi.driver);
			json_string(&j, "io", dmapipe_v4l2_io_to_string(vi.io));
			json_string(&j, "io_note", vi.io_note);
			json_string(&j, "allocator", vi.allocator);
		}
		json_u64(&j, "frames_received", received);
		json_u64(&j, "frames_recorded", rs.frames_written);
		json_u64(&j, "frames_failed", rs.frames_failed);
		json_u64(&j, "frames_dropped", drops);
		json_u64(&j, "frames_dropped_by_producer", gaps);
		json_u64(&j, "frames_dropped_disk_behind", r->refused);
		json_u64(&j, "frames_io_errors", rs.frames_io_errors);
		json_u64(&j, "buffer_frames", r->need);
		json_u64(&j, "keepalives", r->keepalives);
		json_u64(&j, "keepalive_max_gap_ns", r->keepalive_max_gap_ns);
		json_u64(&j, "loop_max_iteration_ns", r->loop.max_turn_ns);
		json_u64(&j, "write_latency_p50_ns", lat.p50_ns);
		json_u64(&j, "write_latency_p99_ns", lat.p99_ns);
		json_u64(&j, "write_latency_max_ns", lat.max_ns);
		realtime_json(&r->rt, &j);
		record_disk_json(r, &j);
		if (r->device) {
			struct dmapipe_v4l2_timing t = { .size = sizeof(t) };

			dmapipe_v4l2_source_get_timing(r->source, &t);
			json_u64(&j, "capture_max_dqbuf_latency_ns", t.dqbuf_latency_max_ns);
			json_u64(&j, "device_buffers", r->dev_buffers);
			json_u64(&j, "device_min_queued", r->dev_min_queued);
			/* frames per second of the device's own timestamps: what a
			 * recorder that kept buffers from it made it lose shows here */
			json_double(&j, "capture_fps", r->cap_frames > 1 && r->cap_last_ns > r->cap_first_ns ?
				    (double)(r->cap_frames - 1) * 1e9 /
				    (double)(r->cap_last_ns - r->cap_first_ns) : 0);
		}
		json_u64(&j, "format_changes", rs.format_changes);
		json_u64(&j, "bytes_written", rs.bytes_written);
		json_u64(&j, "file_size", rs.file_size);
		json_begin_object(&j, "paths");
		for (int p = 0; p < DMAPIPE_RECORD_PATH_COUNT; p++) {
			json_begin_object(&j, dmapipe_record_path_to_string(p));
			json_u64(&j, "bytes", rs.path_bytes[p]);
			json_u64(&j, "objects", rs.path_frames[p]);
			json_end_object(&j);
		}
		json_end_object(&j);
		json_u64(&j, "bytes_copied", rs.bytes_copied);
		json_u64(&j, "process_bytes_copied", copies.bytes);
		json_u64(&j, "frames_checksummed", rs.frames_checksummed);
		json_u64(&j, "checksum_cpu_ns", rs.checksum_ns);
		json_u64(&j, "barriers", rs.barriers);
		json_double(&j, "elapsed_s", elapsed);
		json_double(&j, "mb_per_s", elapsed > 0 ? (double)rs.bytes_written / elapsed / 1e6 : 0);
		json_double(&j, "fps", elapsed > 0 ? (double)rs.frames_written / elapsed : 0);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	fprintf(r->report, "record: %s (%s)\n", r->disk_full || finish_ret == -ENOSPC ?
		"stopped: the disk is full, the recording is closed and consistent" :
		ok ? "ok" : "FAILED", r->end);
	if (r->out.published)
		fprintf(r->report, "  file        %s, %llu bytes, %s I/O, block %u\n", r->output,
			(unsigned long long)rs.file_size, mode, rs.block_size);
	else
		fprintf(r->report, "  file        %s not written: no frame was recorded (a file of "
			"that name is as it was)\n", r->output);
	fprintf(r->report, "  frames      %llu recorded, %llu dropped (%llu %s, "
		"%llu with the disk behind), %llu failed, %llu format changes\n",
		(unsigned long long)rs.frames_written, (unsigned long long)drops,
		(unsigned long long)gaps, r->device ? "lost by the device" :
		"by the producer's policy", (unsigned long long)r->refused,
		(unsigned long long)rs.frames_failed, (unsigned long long)rs.format_changes);
	if (lat.frames)
		fprintf(r->report, "  latency     %.1f ms median, %.1f ms p99, %.1f ms max from "
			"submit to on disk\n", (double)lat.p50_ns / 1e6, (double)lat.p99_ns / 1e6,
			(double)lat.max_ns / 1e6);
	if (rs.frames_io_errors)
		fprintf(r->report, "  write errors %u frames lost to EIO and skipped (gaps in the "
			"recording)\n", rs.frames_io_errors);
	fprintf(r->report, "  rate        %.1f MB/s, %.1f fps over %.2f s\n",
		elapsed > 0 ? (double)rs.bytes_written / elapsed / 1e6 : 0.0,
		elapsed > 0 ? (double)rs.frames_written / elapsed : 0.0, elapsed);
	fprintf(r->report, "  paths      ");
	for (int p = 0; p < DMAPIPE_RECORD_PATH_COUNT; p++)
		if (rs.path_bytes[p])
			fprintf(r->report, " %s %.1f MB", dmapipe_record_path_to_string(p),
				(double)rs.path_bytes[p] / 1e6);
	fprintf(r->report, "\n  copied      %llu pixel bytes%s\n", (unsigned long long)rs.bytes_copied,
		rs.bytes_copied ? " (the buffers' mappings could not feed direct I/O)" :
		" (zero-copy)");
	if (realtime_wanted(&r->rt)) {
		char rt[160];

		realtime_describe(&r->rt, rt, sizeof(rt));
		fprintf(r->report, "  realtime    %s\n", rt);
	}
	record_disk_summary(r);
	if (rs.frames_checksummed)
		fprintf(r->report, "  checksums   %llu frames, %.1f ms of CPU (%.0f us per frame)\n",
			(unsigned long long)rs.frames_checksummed, (double)rs.checksum_ns / 1e6,
			(double)rs.checksum_ns / (double)rs.frames_checksummed / 1e3);
	else
		fprintf(r->report, "  checksums   none: --check can find damaged frames only if "
			"they are the test pattern (--checksum)\n");
}

int cmd_record(int argc, char **argv)
{
	struct record r;
	int finish_ret, status;

	memset(&r, 0, sizeof(r));
	dmapipe_client_options_init(&r.copts);
	dmapipe_recorder_options_init(&r.ropts);
	r.copts.policy = DMAPIPE_POLICY_QUEUE;
	r.copts.queue_depth = 4;
	r.copts.name = "dmapipe-record";
	r.copts.map_buffers = true;
	r.verify = VERIFY_AUTO;
	r.timeout_ms = 10000;
	r.progress = isatty(STDERR_FILENO);
	realtime_init(&r.rt);
	parse_args(&r, argc, argv);
	if (r.quiet)
		r.progress = false;
	if (r.check)
		return record_check(&r);
	if (r.repair)
		return record_repair(&r);
	if (r.strict)
		dmapipe_set_strict(true);
	/* as many leases as frames may be in flight to the disk: --queue-depth means it */
	r.copts.max_in_flight = r.ropts.max_frames;
	r.src = r.device ? &record_device_source : &record_stream_source;
	r.ropts.done = on_done;
	r.ropts.release = on_release;
	r.ropts.user_data = &r;

	install_stop_signals();
	/* before anything else: a name that must not be replaced ends it here */
	if (output_open(&r.out, "record", r.output,
			OUTPUT_SEEKABLE | (r.force ? OUTPUT_FORCE : 0)) < 0)
		return 1;
	r.report = r.out.kind == OUTPUT_STDOUT ? stderr : stdout;
	/* before the source: nothing holds a lease or a device buffer while it runs */
	record_disk_probe(&r);
	if (r.src->open(&r) < 0) {
		output_close(&r.out, false);
		return 1;
	}
	r.rec = dmapipe_recorder_new_fd(r.out.fd, &r.ropts);
	if (!r.rec) {
		tool_error(TOOL_OK, errno, "cannot record to %s", r.output);
		output_close(&r.out, false);
		dmapipe_client_free(r.client);
		dmapipe_v4l2_source_free(r.source);
		return 1;
	}
	/* the loop runs on this thread; the writer threads exist already */
	if (realtime_apply(&r.rt) < 0) {
		dmapipe_recorder_free(r.rec);
		output_close(&r.out, false);
		dmapipe_client_free(r.client);
		dmapipe_v4l2_source_free(r.source);
		return 1;
	}
	record_frames(&r);
	drain_in_flight(&r);
	/* every frame still in flight completes here (and its buffer goes back) */
	finish_ret = dmapipe_recorder_finish(r.rec);
	if (finish_ret == -ENOSPC)
		r.disk_full = true;
	if (r.progress) {
		/* the last line: the mean rate of the whole recording */
		r.last_bytes = 0;
		r.last_ns = r.t0;
		progress_line(&r, now_ns());
	}
	/*
	 * A recording with frames has its name already (output_close() makes
	 * it durable); one without goes, and an old file stays as it was: a
	 * new file replaces an old one only once it holds something.
	 */
	if (output_publish_wait(&r.out) < 0) {
		r.end = "error";
		r.error = true;
	}
	if (output_close(&r.out, r.out.published) < 0)
		r.error = true;
	if (r.disk_full)
		tool_error(TOOL_ERR_DISK_FULL, 0, "the disk is full: the recording was stopped and "
			   "closed, every frame written is in it");
	else if (finish_ret < 0 && !r.error)
		tool_error(TOOL_OK, finish_ret, "finishing %s failed", r.output);
	print_summary(&r, finish_ret);
	if (r.disk_full)
		status = EXIT_DISK_FULL;
	else
		status = r.error || finish_ret < 0 ? 1 : 0;
	dmapipe_recorder_free(r.rec);
	dmapipe_client_free(r.client);
	dmapipe_v4l2_source_free(r.source);
	return status;
}
