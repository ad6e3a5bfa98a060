/* SPDX-License-Identifier: MIT */
/* dmapipe encode: frames from a socket or a capture device into a hardware encoder. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "dmapipe-tool.h"
#include "realtime.h"
#include "encode-sink.h"
#include "loop-timing.h"
#include "pipeline.h"

static const char *const encode_usage =
	"Usage: dmapipe encode [--socket SOCKET | --device /dev/videoN] -o FILE|- [OPTIONS]\n"
	"\n"
	"Gives every frame of a stream (or of a capture device, in this process) to a\n"
	"V4L2 hardware encoder, which imports the frames' dma-bufs; the bitstream goes\n"
	"to FILE or stdout. A frame the encoder cannot import (a stride it cannot take,\n"
	"memfd memory) is copied into its own buffers, counted and reported with the\n"
	"reason; --strict refuses instead (exit 1). With --device, the device is first\n"
	"asked for buffers the encoder can import (the encoder's stride).\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET   the producer's socket (default, without --device: the\n"
	"                        stream \"default\"). NAME: a stream in the default\n"
	"                        directory ($XDG_RUNTIME_DIR/dmapipe, /run/dmapipe for\n"
	"                        root, else /tmp/dmapipe-UID); a path (with a /); @NAME:\n"
	"                        abstract\n"
	"  -d, --device PATH     capture from this V4L2 device instead\n"
	"  -o, --output FILE     the bitstream, - for stdout (required); it takes the\n"
	"                        name FILE at its first packet (FILE.partial-XXXXXX\n"
	"                        until then, removed if nothing was encoded)\n"
	"      --force           replace FILE if it is a regular file (never a device)\n"
	"      --container KIND  bitstream (default): the packets back to back; dmapipe:\n"
	"                        a dmapipe recording (docs/FORMAT.md), one frame per\n"
	"                        packet, written by the recorder straight from the\n"
	"                        encoder's buffers (dmapipe export turns it back)\n"
	"      --serve SOCKET    also serve the packets on a dmapipe socket: frames of\n"
	"                        the codec's fourcc in the encoder's own buffers,\n"
	"                        bytes_used = the packet; dropped while consumers hold\n"
	"                        every buffer\n"
	"      --socket-mode MODE  the --serve socket's permissions (default 0660)\n"
	"      --socket-group GROUP  the --serve socket's group\n"
	"      --peer POLICY     whom --serve serves (SO_PEERCRED): same-uid (default),\n"
	"                        any, uid:N, gid:N; another user needs the socket's mode\n"
	"                        or group too, e.g. --socket-mode 0666 --peer any\n"
	"  -e, --encoder PATH    the encoder's node (default: the first offering the codec)\n"
	"  -c, --codec NAME      fwht (default), h264, hevc, vp8, vp9, mpeg4\n"
	"      --io MODE         auto (default), import (fail if impossible), copy\n"
	"      --strict          never copy a frame: fail instead\n"
	"      --bitrate BPS     target bitrate, where the encoder has the control\n"
	"      --gop N           frames per group of pictures\n"
	"      --qp N            quantiser (FWHT: I and P frame QP)\n"
	"      --ctrl ID=VALUE   any V4L2 control, ID in decimal or 0x hex (repeatable)\n"
	"      --in-flight N     frames in the encoder at most (default 4)\n"
	"      --buffer DURATION  hold up to DURATION of packets (2s, 500ms; at most\n"
	"                        60 s) while the disk is behind, sized at twice\n"
	"                        --bitrate, or without one at the raw frames' rate\n"
	"                        (--device with --size and --fps); docs/REALTIME.md\n"
	"      --buffer-mb N     the same, sized as N MiB (default: 4 MiB of packet\n"
	"                        groups with --container dmapipe, an 8 MiB queue\n"
	"                        for a bitstream)\n"
	"  -n, --frames N        stop after N frames encoded (default: until the end)\n"
	"      --duration S      stop after S seconds\n"
	"      --policy POLICY   with --socket: latest, queue:N (default queue:4), block:N\n"
	"      --timeout MS      with --socket: how long to wait for the producer to\n"
	"                        appear (default 10000, 0 = no limit)\n"
	"  With --device:\n"
	"  -f, --format FOURCC   pixel format (default: the device's)\n"
	"      --size WxH        frame size (default: the device's)\n"
	"      --fps N[/M]       frame rate (30000/1001, 29.97)\n"
	"      --capture-io MODE  auto (default), export, import\n"
	"      --capture-stride BYTES  ask the device for this stride first\n"
	"      --no-negotiate    keep the device's layout (or with --socket the producer's)\n"
	"                        even if the encoder cannot import it\n"
	"  -q, --quiet           no progress line, no waiting message\n"
	"      --json            the summary as JSON on stdout (docs/JSON.md), a failure\n"
	"                        too (needs -o FILE)\n"
	HELP_REALTIME("")
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (no encoder, no\n"
	"producer, a frame refused, --strict and a frame to copy), 2 bad command line,\n"
	"3 the disk filled up.\n";

enum {
	OPT_IO = 256,
	OPT_STRICT,
	OPT_BITRATE,
	OPT_GOP,
	OPT_QP,
	OPT_CTRL,
	OPT_IN_FLIGHT,
	OPT_DURATION,
	OPT_POLICY,
	OPT_SIZE,
	OPT_FPS,
	OPT_CAPTURE_IO,
	OPT_CAPTURE_STRIDE,
	OPT_NO_NEGOTIATE,
	OPT_JSON,
	OPT_CONTAINER,
	OPT_SERVE,
	OPT_FORCE,
	OPT_SOCKET_MODE,
	OPT_SOCKET_GROUP,
	OPT_PEER,
	OPT_TIMEOUT,
	OPT_BUFFER,
	OPT_BUFFER_MB,
};

struct encode {
	struct enc_sink_config cfg;
	struct enc_sink sink;
	const char *socket;
	const char *device;
	uint64_t frames;
	uint32_t duration_s;
	enum dmapipe_policy policy;
	uint32_t depth;
	uint32_t fourcc, width, height, fps, fps_den, capture_stride;
	enum dmapipe_v4l2_io capture_io;
	bool negotiate;
	struct realtime rt; /* --realtime, --mlock, --cpu: for the loop's thread */
	struct enc_buffer buffer; /* --buffer, --buffer-mb as planned */
	bool quiet, json;
	uint32_t timeout_ms;
	bool serve_opts; /* --socket-mode, --socket-group or --peer given */

	struct dmapipe_client *client;
	struct dmapipe_v4l2_source *source;
	char negotiation[256];
	uint64_t submitted, dropped;
	uint64_t t0, t1, cpu0, cpu1;
	const char *end;
	int error; /* the submit error that stopped us, or 0 */
	struct loop_timing loop; /* --device: the capture loop's turns */
	uint64_t loop_end;       /* when the capture loop ended (before the drain) */
};

static void parse_ctrl(struct encode *e, const char *s)
{
	const char *eq = strchr(s, '=');
	char *end;
	unsigned long id;
	long value;

	if (!eq || eq == s)
		usage_error("encode", "--ctrl wants ID=VALUE, got '%s'", s);
	errno = 0;
	id = strtoul(s, &end, 0);
	if (errno || end != eq || id == 0 || id > UINT32_MAX)
		usage_error("encode", "--ctrl: bad control id in '%s'", s);
	value = strtol(eq + 1, &end, 0);
	if (errno || *end || end == eq + 1 || value < INT32_MIN || value > INT32_MAX)
		usage_error("encode", "--ctrl: bad value in '%s'", s);
	if (e->cfg.n_controls == 8)
		usage_error("encode", "at most 8 --ctrl");
	e->cfg.controls[e->cfg.n_controls].id = (uint32_t)id;
	e->cfg.controls[e->cfg.n_controls++].value = (int32_t)value;
}

static void parse_args(struct encode *e, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "serve", required_argument, NULL, OPT_SERVE },
		{ "encoder", required_argument, NULL, 'e' },
		{ "codec", required_argument, NULL, 'c' },
		{ "io", required_argument, NULL, OPT_IO },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "bitrate", required_argument, NULL, OPT_BITRATE },
		{ "gop", required_argument, NULL, OPT_GOP },
		{ "qp", required_argument, NULL, OPT_QP },
		{ "ctrl", required_argument, NULL, OPT_CTRL },
		{ "in-flight", required_argument, NULL, OPT_IN_FLIGHT },
		{ "buffer", required_argument, NULL, OPT_BUFFER },
		{ "buffer-mb", required_argument, NULL, OPT_BUFFER_MB },
		{ "frames", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "format", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "fps", required_argument, NULL, OPT_FPS },
		{ "capture-io", required_argument, NULL, OPT_CAPTURE_IO },
		{ "capture-stride", required_argument, NULL, OPT_CAPTURE_STRIDE },
		{ "no-negotiate", no_argument, NULL, OPT_NO_NEGOTIATE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		REALTIME_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool device_opts = false;
	char why[256];
	int ch;

	while ((ch = getopt_long(argc, argv, ":s:d:o:e:c:n:f:qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			e->socket = optarg;
			break;
		case 'd':
			if (optarg[0] != '/')
				usage_error("encode", "--device wants a device node, e.g. /dev/video0");
			e->device = optarg;
			break;
		case 'o':
			e->cfg.out = optarg;
			break;
		case OPT_SERVE:
			e->cfg.serve = optarg;
			break;
		case OPT_SOCKET_MODE:
			opt_socket_mode("encode", optarg, &e->cfg.serve_access);
			e->serve_opts = true;
			break;
		case OPT_SOCKET_GROUP:
			opt_socket_group("encode", optarg, &e->cfg.serve_access);
			e->serve_opts = true;
			break;
		case OPT_PEER:
			opt_peer("encode", optarg, &e->cfg.serve_peer, &e->cfg.serve_uid,
				 &e->cfg.serve_gid);
			e->serve_opts = true;
			break;
		case OPT_TIMEOUT:
			e->timeout_ms = opt_u32("encode", "--timeout", optarg, 0, 86400000);
			break;
		case OPT_FORCE:
			e->cfg.force = true;
			break;
		case OPT_CONTAINER:
			if (strcmp(optarg, "dmapipe") == 0)
				e->cfg.container = true;
			else if (strcmp(optarg, "bitstream") == 0)
				e->cfg.container = false;
			else
				usage_error("encode", "--container wants bitstream or dmapipe, got '%s'",
					    optarg);
			break;
		case 'e':
			if (optarg[0] != '/')
				usage_error("encode", "--encoder wants a device node, e.g. /dev/video3");
			e->cfg.device = optarg;
			break;
		case 'c':
			e->cfg.codec = pipeline_codec(optarg);
			if (!e->cfg.codec)
				usage_error("encode", "unknown codec '%s': fwht, h264, hevc, vp8, vp9 or mpeg4",
					    optarg);
			break;
		case OPT_IO:
			if (strcmp(optarg, "auto") == 0)
				e->cfg.io = DMAPIPE_ENCODER_IO_AUTO;
			else if (strcmp(optarg, "import") == 0)
				e->cfg.io = DMAPIPE_ENCODER_IO_IMPORT;
			else if (strcmp(optarg, "copy") == 0)
				e->cfg.io = DMAPIPE_ENCODER_IO_COPY;
			else
				usage_error("encode", "bad --io '%s': expected auto, import or copy", optarg);
			break;
		case OPT_STRICT:
			e->cfg.strict = true;
			break;
		case OPT_BITRATE:
			e->cfg.bitrate = opt_u32("encode", "--bitrate", optarg, 1, UINT32_MAX);
			break;
		case OPT_GOP:
			e->cfg.gop = opt_u32("encode", "--gop", optarg, 1, 100000);
			break;
		case OPT_QP:
			e->cfg.qp = (int32_t)opt_u32("encode", "--qp", optarg, 0, 1000);
			break;
		case OPT_CTRL:
			parse_ctrl(e, optarg);
			break;
		case OPT_IN_FLIGHT:
			e->cfg.in_flight = opt_u32("encode", "--in-flight", optarg, 1, 32);
			break;
		case OPT_BUFFER:
			e->cfg.buffer_ms = opt_buffer_duration("encode", optarg);
			break;
		case OPT_BUFFER_MB:
			e->cfg.buffer_mb = opt_u32("encode", "--buffer-mb", optarg, 1, 65536);
			break;
		case 'n':
			e->frames = opt_u64("encode", "--frames", optarg);
			break;
		case OPT_DURATION:
			e->duration_s = opt_u32("encode", "--duration", optarg, 1, 86400 * 365);
			break;
		case OPT_POLICY:
			opt_policy("encode", optarg, &e->policy, &e->depth);
			break;
		case 'f':
			e->fourcc = opt_format("encode", optarg);
			device_opts = true;
			break;
		case OPT_SIZE:
			opt_size("encode", optarg, &e->width, &e->height);
			device_opts = true;
			break;
		case OPT_FPS:
			opt_fps("encode", "--fps", optarg, false, 1000, &e->fps, &e->fps_den);
			device_opts = true;
			break;
		case OPT_CAPTURE_IO:
			if (strcmp(optarg, "auto") == 0)
				e->capture_io = DMAPIPE_V4L2_IO_AUTO;
			else if (strcmp(optarg, "export") == 0)
				e->capture_io = DMAPIPE_V4L2_IO_EXPORT;
			else if (strcmp(optarg, "import") == 0)
				e->capture_io = DMAPIPE_V4L2_IO_IMPORT;
			else
				usage_error("encode", "bad --capture-io '%s': expected auto, export or import",
					    optarg);
			device_opts = true;
			break;
		case OPT_CAPTURE_STRIDE:
			e->capture_stride = opt_u32("encode", "--capture-stride", optarg, 16, 65536);
			device_opts = true;
			break;
		case OPT_NO_NEGOTIATE:
			e->negotiate = false;
			break;
		case 'q':
			e->quiet = true;
			break;
		case OPT_JSON:
			e->json = true;
			break;
		case 'h':
			fputs(encode_usage, stdout);
			exit(0);
		default:
			if (!realtime_option(&e->rt, "encode", ch, optarg))
				usage_getopt_error("encode", ch, argv);
		}
	}
	usage_no_operands("encode", argc, argv);
	if (e->socket && e->device)
		usage_error("encode", "--socket and --device exclude each other");
	if (!e->device)
		e->socket = opt_socket("encode", e->socket);
	if (e->cfg.serve)
		e->cfg.serve = opt_socket("encode", e->cfg.serve);
	else if (e->serve_opts)
		usage_error("encode", "--socket-mode, --socket-group and --peer are for --serve");
	if (e->fourcc && e->width)
		check_size("encode", e->fourcc, e->width, e->height);
	if (!e->cfg.out)
		usage_error("encode", "-o FILE (or -o - for stdout) is required");
	if (e->json && strcmp(e->cfg.out, "-") == 0)
		usage_error("encode", "--json prints on stdout: write the bitstream to a file");
	if (device_opts && !e->device)
		usage_error("encode", "--format, --size, --fps and --capture-* need --device");
	if (e->socket && e->cfg.strict && e->cfg.io == DMAPIPE_ENCODER_IO_COPY)
		usage_error("encode", "--io copy copies every frame, which --strict forbids");
	if (e->device && e->cfg.strict && e->cfg.io == DMAPIPE_ENCODER_IO_COPY)
		usage_error("encode", "--io copy copies every frame, which --strict forbids");
	if (e->cfg.buffer_ms && e->cfg.buffer_mb)
		usage_error("encode", "--buffer and --buffer-mb exclude each other");
	/* the worst case without a bitrate: the raw frames the device was asked for */
	e->cfg.raw_frame_bytes = enc_raw_frame_bytes(e->fourcc, e->width, e->height);
	e->cfg.fps = e->fps ? (double)e->fps / (double)e->fps_den : 0;
	if (enc_sink_plan_buffer(&e->cfg, &e->buffer, why, sizeof(why)) < 0)
		usage_error("encode", "%s", why);
}

/* ---- giving frames back ------------------------------------------------------ */

static void release_client_frame(void *data, void *frame)
{
	struct encode *e = data;

	dmapipe_client_release_frame(e->client, frame, -1);
}

static void release_capture(void *data, void *frame)
{
	struct encode *e = data;

	(void)dmapipe_v4l2_source_queue(e->source, frame);
}

/* Submits; false when encoding must stop (the reason is printed). */
static bool submit(struct encode *e, struct dmapipe_buffer *b, const struct dmapipe_frame_meta *m,
		   void *frame, void (*release)(void *, void *))
{
	int ret = dmapipe_encoder_submit(e->sink.enc, b, m, frame);

	if (ret == 0) {
		e->submitted++;
		return true;
	}
	release(e, frame);
	if (ret == -EAGAIN) {
		e->dropped++; /* the encoder is behind: this frame is dropped */
		return true;
	}
	e->error = ret;
	if (ret == -EPERM)
		tool_error(TOOL_ERR_STRICT, 0, "strict: the encoder cannot import these frames and "
			   "copying them is refused");
	else if (ret == -EXDEV)
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "--io import: the encoder cannot import these "
			   "frames");
	else
		tool_error(TOOL_ERR_DEVICE, ret, "the encoder refused a frame");
	e->end = "error";
	return false;
}

static void progress(struct encode *e, uint64_t now)
{
	struct dmapipe_encoder_stats st;
	double secs = (double)(now - e->t0) / 1e9;

	dmapipe_encoder_get_stats(e->sink.enc, &st);
	fprintf(stderr, "\rencode: %llu frames in, %llu packets, %.1f fps, %.1f KiB out, %s, "
		"copied %llu bytes, dropped %llu, backlog %u   ",
		(unsigned long long)st.frames_in, (unsigned long long)st.packets,
		secs > 0 ? (double)st.packets / secs : 0.0, (double)st.bytes_out / 1024.0,
		dmapipe_encoder_io_to_string(st.io), (unsigned long long)st.bytes_copied,
		(unsigned long long)e->dropped, st.in_flight);
}

static bool done_yet(struct encode *e, uint64_t now)
{
	if (stop_requested) {
		e->end = "interrupted";
		return true;
	}
	if (e->frames && e->submitted >= e->frames) {
		e->end = "frames";
		return true;
	}
	if (e->duration_s && now - e->t0 >= (uint64_t)e->duration_s * 1000000000ull) {
		e->end = "duration";
		return true;
	}
	return false;
}

/*
 * What the encoder states to the producer (docs/PROTOCOL.md, section 13):
 * packed rows, as V4L2 encoders compute them for their OUTPUT queue (an
 * alignment of 1: the producer's tightest layout), its device as the
 * importer, its frames in flight; a copy only if it may (not --strict).
 */
static const struct dmapipe_constraints *socket_constraints(struct encode *e,
							    struct dmapipe_constraints *c)
{
	struct dmapipe_encoder_info info;

	dmapipe_constraints_init(c);
	for (unsigned int p = 0; p < DMAPIPE_MAX_PLANES; p++)
		c->stride_align[p] = 1;
	c->min_buffers = e->cfg.in_flight ? e->cfg.in_flight : 4;
	if (!e->cfg.strict)
		c->flags |= DMAPIPE_CONSTRAINT_ALLOW_COPY;
	dmapipe_encoder_get_info(e->sink.enc, &info);
	/* a longer path is not named: the encoder checks its import itself */
	if (strlen(info.path) < sizeof(c->import_device))
		memcpy(c->import_device, info.path, strlen(info.path) + 1);
	return c;
}

static int run_socket(struct encode *e)
{
	struct dmapipe_client_options co;
	struct dmapipe_constraints cons;
	uint64_t next_progress;

	dmapipe_client_options_init(&co);
	co.path = e->socket;
	co.policy = e->policy;
	co.queue_depth = e->depth;
	co.max_in_flight = e->cfg.in_flight ? e->cfg.in_flight : 4;
	co.name = "encode";
	/* a device cannot import memfds: in strict mode say so to the producer */
	co.dmabuf_only = e->cfg.strict;
	if (e->negotiate)
		co.constraints = socket_constraints(e, &cons);
	e->client = connect_client_wait("encode", &co, e->timeout_ms, e->quiet);
	if (!e->client) {
		e->end = stop_requested ? "interrupted" : "no producer";
		return stop_requested && tool.error == TOOL_OK ? 0 : -1;
	}
	next_progress = e->t0 + 1000000000ull;
	while (!done_yet(e, now_ns())) {
		struct pollfd pfd[4] = {
			{ .fd = dmapipe_client_get_fd(e->client), .events = POLLIN },
			{ .fd = dmapipe_encoder_get_fd(e->sink.enc), .events = POLLIN },
			{ .fd = enc_sink_get_fd(&e->sink), .events = POLLIN },
			{ .fd = enc_sink_get_serve_fd(&e->sink), .events = POLLIN },
		};
		struct dmapipe_frame *f;
		uint64_t now;

		tool_log_flush();
		(void)poll(pfd, 4, 100);
		if (dmapipe_encoder_dispatch(e->sink.enc, 0) < 0) {
			tool_error(TOOL_ERR_DEVICE, 0, "the encoder failed");
			e->end = "encoder failed";
			return -1;
		}
		if (enc_sink_dispatch(&e->sink) < 0) {
			e->end = "recording failed";
			return -1;
		}
		dmapipe_client_dispatch(e->client, 0);
		while ((f = dmapipe_client_acquire_frame(e->client))) {
			if (!submit(e, f->buffer, &f->meta, f, release_client_frame))
				return -1;
			if (e->frames && e->submitted >= e->frames)
				break;
		}
		enum dmapipe_client_state state = dmapipe_client_get_state(e->client);

		if (state == DMAPIPE_CLIENT_EOS || state == DMAPIPE_CLIENT_DISCONNECTED ||
		    state == DMAPIPE_CLIENT_ERROR) {
			e->end = state == DMAPIPE_CLIENT_EOS ? "end of stream" :
				 state == DMAPIPE_CLIENT_ERROR ? "producer error" : "disconnected";
			if (state == DMAPIPE_CLIENT_ERROR)
				report_stream_error(e->client, e->socket);
			else if (state == DMAPIPE_CLIENT_DISCONNECTED)
				tool_error(TOOL_ERR_DISCONNECTED, 0, "the producer on %s went away",
					   e->socket);
			break;
		}
		now = now_ns();
		if (!e->quiet && now >= next_progress) {
			progress(e, now);
			next_progress = now + 1000000000ull;
		}
	}
	return 0;
}

static int run_device(struct encode *e)
{
	struct dmapipe_v4l2_options o;
	struct dmapipe_v4l2_info info;
	uint64_t next_progress;
	int ret;

	dmapipe_v4l2_options_init(&o);
	o.device = e->device;
	o.fourcc = e->fourcc;
	o.width = e->width;
	o.height = e->height;
	o.fps_num = e->fps;
	o.fps_den = e->fps ? e->fps_den : 0;
	o.io = e->capture_io;
	o.bytesperline = e->capture_stride;
	o.buffers = 6;
	e->source = open_capture_for(&o, &e->sink, 1, e->negotiate, e->negotiation,
				     sizeof(e->negotiation));
	if (!e->source) {
		tool_error(TOOL_OK, errno, "cannot capture from %s", e->device);
		return -1;
	}
	dmapipe_v4l2_source_get_info(e->source, &info);
	if (!e->quiet)
		fprintf(stderr, "encode: capturing from %s (%s), %s mode; %s\n", info.path,
			info.card, dmapipe_v4l2_io_to_string(info.io), e->negotiation);
	ret = dmapipe_v4l2_source_start(e->source);
	if (ret < 0) {
		tool_error(TOOL_ERR_DEVICE, ret, "cannot start capturing from %s", e->device);
		return -1;
	}
	next_progress = e->t0 + 1000000000ull;
	while (!done_yet(e, now_ns())) {
		struct pollfd pfd[4] = {
			{ .fd = dmapipe_v4l2_source_get_fd(e->source), .events = POLLIN },
			{ .fd = dmapipe_encoder_get_fd(e->sink.enc), .events = POLLIN },
			{ .fd = enc_sink_get_fd(&e->sink), .events = POLLIN },
			{ .fd = enc_sink_get_serve_fd(&e->sink), .events = POLLIN },
		};
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *b;
		uint64_t now;

		tool_log_flush();
		loop_timing_end(&e->loop);
		(void)poll(pfd, 4, 100);
		loop_timing_begin(&e->loop);
		if (dmapipe_encoder_dispatch(e->sink.enc, 0) < 0) {
			tool_error(TOOL_ERR_DEVICE, 0, "the encoder failed");
			e->end = "encoder failed";
			return -1;
		}
		if (enc_sink_dispatch(&e->sink) < 0) {
			e->end = "recording failed";
			return -1;
		}
		while ((ret = dmapipe_v4l2_source_dequeue(e->source, &b, &meta)) == 0) {
			if (!submit(e, b, &meta, b, release_capture))
				return -1;
			if (e->frames && e->submitted >= e->frames)
				break;
		}
		if (ret != -EAGAIN && ret != 0) {
			if (ret == -ENODEV)
				tool_error(TOOL_ERR_DEVICE, 0, "%s went away", e->device);
			else
				tool_error(TOOL_ERR_DEVICE, ret, "capturing from %s", e->device);
			e->end = "device lost";
			return -1;
		}
		now = now_ns();
		if (!e->quiet && now >= next_progress) {
			progress(e, now);
			next_progress = now + 1000000000ull;
		}
	}
	return 0;
}

static void summary(struct encode *e, bool ok)
{
	struct dmapipe_encoder_stats st;
	struct dmapipe_encoder_info info;
	double secs = (double)(e->t1 - e->t0) / 1e9;
	uint64_t cpu = e->cpu1 - e->cpu0;
	char fourcc[16] = "", codec[8], buf[160];

	dmapipe_encoder_get_stats(e->sink.enc, &st);
	dmapipe_encoder_get_info(e->sink.enc, &info);
	if (info.layout.format.fourcc)
		dmapipe_fourcc_to_string(info.layout.format.fourcc, fourcc, sizeof(fourcc));
	for (int i = 0; i < 4; i++)
		codec[i] = (char)((info.codec >> (8 * i)) & 0xff);
	codec[4] = '\0';
	if (e->json) {
		struct json j;

		json_begin_document(&j, strcmp(e->end, "interrupted") == 0);
		json_string(&j, "end", e->end);
		json_string(&j, "encoder", info.path);
		json_string(&j, "codec", codec);
		json_string(&j, "fourcc", fourcc[0] ? fourcc : NULL);
		json_u64(&j, "width", info.layout.format.width);
		json_u64(&j, "height", info.layout.format.height);
		json_string(&j, "io", dmapipe_encoder_io_to_string(info.io));
		json_string(&j, "io_note", info.io_note);
		json_string(&j, "negotiation", e->device ? e->negotiation : NULL);
		json_u64(&j, "frames_in", st.frames_in);
		json_u64(&j, "frames_dropped", e->dropped);
		json_u64(&j, "packets", st.packets);
		json_u64(&j, "keyframes", st.keyframes);
		json_u64(&j, "bytes_out", st.bytes_out);
		json_u64(&j, "frames_imported", st.frames_imported);
		json_u64(&j, "buffers_imported", st.imports);
		json_u64(&j, "reimports", st.reimports);
		json_u64(&j, "frames_copied", st.frames_copied);
		json_u64(&j, "bytes_copied", st.bytes_copied);
		json_u64(&j, "copy_cpu_ns", st.copy_cpu_ns);
		json_string(&j, "container", e->cfg.container ? "dmapipe" : "bitstream");
		if (e->cfg.serve) {
			json_u64(&j, "packets_served", e->sink.served);
			json_u64(&j, "packets_not_served", e->sink.serve_dropped);
		}
		if (e->cfg.container) {
			const struct dmapipe_recorder_stats *r = &e->sink.rec_stats;

			json_u64(&j, "recorded_frames", r->frames_written);
			json_u64(&j, "recorded_direct_bytes", r->path_bytes[DMAPIPE_RECORD_PATH_DIRECT]);
			json_u64(&j, "recorded_copied_bytes", r->bytes_copied);
			json_u64(&j, "recorded_buffered_bytes",
				 r->path_bytes[DMAPIPE_RECORD_PATH_BUFFERED]);
			json_u64(&j, "recorded_gathered_packets", r->frames_gathered);
			json_u64(&j, "recorded_gathered_bytes", r->bytes_gathered);
			json_u64(&j, "recorded_groups", r->groups_written);
		}
		json_u64(&j, "packets_dropped_disk_behind", e->sink.packets_dropped);
		enc_buffer_json(&e->sink.buffer, &j);
		if (!e->cfg.container) {
			const struct writer_stats *w = &e->sink.writer_stats;

			json_u64(&j, "writer_queue_max_bytes", w->max_queued);
			json_u64(&j, "write_ns_p50", w->write_ns_p50);
			json_u64(&j, "write_ns_p99", w->write_ns_p99);
			json_u64(&j, "write_ns_max", w->write_ns_max);
		}
		if (e->source) {
			struct dmapipe_v4l2_timing t = { .size = sizeof(t) };
			struct dmapipe_v4l2_stats vs;

			dmapipe_v4l2_source_get_stats(e->source, &vs);
			dmapipe_v4l2_source_get_timing(e->source, &t);
			double capture_s = (double)(e->loop_end - e->t0) / 1e9;

			json_u64(&j, "frames_captured", vs.frames);
			json_u64(&j, "frames_lost", vs.dropped);
			/* over the loop alone: draining the encoder and the disk after it is not capture */
			json_double(&j, "capture_fps", capture_s > 0 ? (double)vs.frames / capture_s : 0);
			json_u64(&j, "capture_max_dqbuf_latency_ns", t.dqbuf_latency_max_ns);
			json_u64(&j, "capture_max_iteration_ns", e->loop.max_turn_ns);
		}
		realtime_json(&e->rt, &j);
		json_double(&j, "elapsed_s", secs);
		json_double(&j, "fps", secs > 0 ? (double)st.packets / secs : 0);
		json_u64(&j, "cpu_ns", cpu);
		json_double(&j, "cpu_ns_per_frame", st.packets ? (double)cpu / (double)st.packets : 0);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	if (!e->quiet)
		fputc('\n', stderr);
	fprintf(stderr,
		"encode: %s (%s): %s %s %ux%u -> %s\n"
		"  frames: %llu encoded in %.1f s (%.1f fps), %llu dropped (encoder behind), %llu keyframes\n"
		"  bitstream: %llu packets, %llu bytes to %s\n"
		"  input: %s: %s\n"
		"  copied: %llu bytes in %llu frames; %llu frames imported from %llu buffers\n"
		"  cpu: %.3f ms per frame\n"
		"  end: %s\n",
		info.path, info.card, ok ? "ok" : "FAILED", fourcc[0] ? fourcc : "-",
		info.layout.format.width, info.layout.format.height, codec,
		(unsigned long long)st.frames_in, secs, secs > 0 ? (double)st.packets / secs : 0.0,
		(unsigned long long)e->dropped, (unsigned long long)st.keyframes,
		(unsigned long long)st.packets, (unsigned long long)st.bytes_out, e->sink.out,
		dmapipe_encoder_io_to_string(info.io), info.io_note[0] ? info.io_note : "-",
		(unsigned long long)st.bytes_copied, (unsigned long long)st.frames_copied,
		(unsigned long long)st.frames_imported, (unsigned long long)st.imports,
		st.packets ? (double)cpu / (double)st.packets / 1e6 : 0.0, e->end);
	fprintf(stderr, "  buffer: %s\n", enc_buffer_describe(&e->sink.buffer, buf, sizeof(buf)));
	if (e->sink.packets_dropped)
		fprintf(stderr, "  disk behind: %llu packets dropped (up to the next keyframe each "
			"time)\n", (unsigned long long)e->sink.packets_dropped);
	if (e->source) {
		struct dmapipe_v4l2_timing t = { .size = sizeof(t) };

		dmapipe_v4l2_source_get_timing(e->source, &t);
		fprintf(stderr, "  capture loop: longest turn %.1f ms, longest dequeue latency %.1f ms\n",
			(double)e->loop.max_turn_ns / 1e6, (double)t.dqbuf_latency_max_ns / 1e6);
	}
	if (realtime_wanted(&e->rt)) {
		char rt[160];

		realtime_describe(&e->rt, rt, sizeof(rt));
		fprintf(stderr, "  realtime: %s\n", rt);
	}
	if (e->cfg.serve)
		fprintf(stderr, "  served: %llu packets on %s, %llu not served (consumers behind)\n",
			(unsigned long long)e->sink.served, e->cfg.serve,
			(unsigned long long)e->sink.serve_dropped);
	if (e->cfg.container) {
		const struct dmapipe_recorder_stats *r = &e->sink.rec_stats;

		fprintf(stderr, "  recording: %llu frames written; bytes direct %llu, copied %llu, "
			"buffered %llu; %llu packets (%llu bytes) gathered into %llu groups\n",
			(unsigned long long)r->frames_written,
			(unsigned long long)r->path_bytes[DMAPIPE_RECORD_PATH_DIRECT],
			(unsigned long long)r->bytes_copied,
			(unsigned long long)r->path_bytes[DMAPIPE_RECORD_PATH_BUFFERED],
			(unsigned long long)r->frames_gathered, (unsigned long long)r->bytes_gathered,
			(unsigned long long)r->groups_written);
	}
}

int cmd_encode(int argc, char **argv)
{
	struct encode e;
	bool ok;
	int ret;

	memset(&e, 0, sizeof(e));
	e.cfg.codec = V4L2_PIX_FMT_FWHT;
	e.cfg.qp = -1;
	e.policy = DMAPIPE_POLICY_QUEUE;
	e.depth = 4;
	e.negotiate = true;
	e.timeout_ms = 10000;
	realtime_init(&e.rt);
	parse_args(&e, argc, argv);
	install_stop_signals();
	if (e.buffer.asked && realtime_check_lock(&e.rt, "--buffer", e.buffer.bytes) < 0)
		return 1;
	e.cfg.release = e.socket ? release_client_frame : release_capture;
	e.cfg.release_data = &e;
	if (enc_sink_init(&e.sink, &e.cfg) < 0)
		return 1;
	/* the loop runs on this thread; the bitstream's writer thread exists already */
	if (realtime_apply(&e.rt) < 0) {
		enc_sink_finish(&e.sink);
		return 1;
	}
	e.end = "end";
	e.t0 = now_ns();
	e.cpu0 = self_cpu_total_ns();
	ret = e.socket ? run_socket(&e) : run_device(&e);
	e.loop_end = now_ns();
	/* the frames in the encoder are encoded and written before the end */
	if (dmapipe_encoder_finish(e.sink.enc, 10000) < 0 && ret == 0) {
		tool_error(TOOL_ERR_DEVICE, 0, "the encoder did not finish its last frames in 10 s");
		ret = -1;
	}
	if (enc_sink_flush(&e.sink) < 0)
		ret = -1;
	e.t1 = now_ns();
	e.cpu1 = self_cpu_total_ns();
	ok = ret == 0 && !e.sink.write_error && !e.error;
	summary(&e, ok);
	enc_sink_finish(&e.sink);
	if (e.sink.write_error)
		ok = false;
	dmapipe_client_free(e.client);
	dmapipe_v4l2_source_free(e.source);
	return ok ? 0 : 1;
}
