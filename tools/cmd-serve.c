/* SPDX-License-Identifier: MIT */
/*
 * dmapipe serve: a producer of test-pattern frames or of a V4L2 device's
 * frames. This file has the command line and what both loops share (its
 * failures, the wait for consumers, the status line, the end of the
 * stream, the summary); the loops are serve-pattern.c and
 * serve-device.c (serve.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"

static const char *const serve_usage =
	"Usage: dmapipe serve [--socket SOCKET] [--device /dev/videoN] [OPTIONS]\n"
	"\n"
	"Serves a stream of test-pattern frames (docs/PATTERN.md) on a unix socket.\n"
	"Each frame is drawn into a buffer of the stream's own pool and handed to\n"
	"every consumer without copying. Ctrl-C ends the stream cleanly (EOS).\n"
	"With --device, serves a V4L2 capture device's frames instead, in the\n"
	"device's own buffers or in buffers it captures into (docs/V4L2.md).\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET       where to serve the stream\n"
	"                            (default: \"default\", a device's: its name, video0)\n"
	"                            NAME: a stream in the default directory\n"
	"                            ($XDG_RUNTIME_DIR/dmapipe, /run/dmapipe for root,\n"
	"                            else /tmp/dmapipe-UID); a path (with a /); @NAME:\n"
	"                            abstract\n"
	"      --size WxH            frame size (default 3840x2160; 4k, 1080p, 720p;\n"
	"                            with --device: the device's current size)\n"
	"  -f, --format FOURCC       pixel format by its DRM, V4L2 or GStreamer name\n"
	"                            (dmapipe formats; default NV12; with --device: the\n"
	"                            device's current format)\n"
	"      --fps N[/M]           frames per second (30000/1001, 29.97), 0 = as fast as\n"
	"                            possible (default 60; with --device: the device's rate\n"
	"                            unless given)\n"
	"  -n, --frames N            frames to serve, 0 = until interrupted (default 0)\n"
	"      --buffers N           buffers in the pool at start (default 4)\n"
	"      --allocator NAME      heap, udmabuf, drm, memfd, dmapipe (default: best available;\n"
	"                            with --device: import mode's allocator)\n"
	"  -d, --device PATH         serve this V4L2 capture device (/dev/videoN)\n"
	"      --io MODE             with --device: auto (default), export (the driver's\n"
	"                            buffers, VIDIOC_EXPBUF) or import (dma-bufs from an\n"
	"                            allocator, V4L2_MEMORY_DMABUF)\n"
	"      --direct-io           with --device: consumers need struct-page mappings\n"
	"                            (O_DIRECT); auto then imports from dmapipe or udmabuf\n"
	"      --reacquire           with --device: when the device disappears, keep serving\n"
	"                            and pick it up again when it comes back (matched by\n"
	"                            card and bus, under any /dev/videoN); without it the\n"
	"                            stream ends (EOS) and serve exits 1\n"
	"      --lease-timeout MS    disconnect a consumer holding a frame longer (default 5000, 0 = never)\n"
	"      --max-consumers N     (default 32)\n"
	"      --max-in-flight N     frames one consumer may hold at once (default 2, at most 256)\n"
	"      --max-buffers N       buffers the pool may grow to (default 32, at most 256); the\n"
	"                            in-flight limits granted add up to N - 2 at most\n"
	"                            (block-policy consumers aside: docs/PROTOCOL.md, Resources)\n"
	"      --pool-budget BYTES   memory the pool may grow to as well (default: no limit)\n"
	"      --max-handshakes N    connections not past their HELLO yet, refused peers\n"
	"                            included; the oldest goes when one more comes (default 16)\n"
	"      --max-monitors N      monitor connections, e.g. dmapipe stats (default 8)\n"
	"      --busy-poll US        poll up to US microseconds before sleeping while\n"
	"                            messages come fast (default 30, 0 = never)\n"
	HELP_SOCKET_ACCESS
	"      --name NAME           stream name, shown to consumers and in buffer names\n"
	"      --strict              fail if any pixel byte is ever copied\n"
	"      --wait-consumers N    start streaming once N consumers are connected\n"
	"      --wait-timeout MS     give up waiting for them after MS (default 30000, 0 = never)\n"
	"      --drain-timeout MS    at the end, up to MS for consumers to receive the frames\n"
	"                            queued for them, then EOS, then their releases\n"
	"                            (default 5000)\n"
	"      --predrawn            draw every buffer once at start and then queue frames\n"
	"                            without touching pixels (measures the handoff alone;\n"
	"                            consumers must use --verify none)\n"
	HELP_REALTIME("    ")
	"  -q, --quiet               no status line every second\n"
	"      --json                print the summary as JSON on stdout (docs/JSON.md), a\n"
	"                            failure too\n"
	"  -h, --help                this text\n"
	"\n"
	"Status lines and messages go to stderr; the summary goes to stdout.\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (cannot serve, the\n"
	"device failed or went away, --strict and a pixel copied), 2 bad command line.\n";

enum {
	OPT_SIZE = 256,
	OPT_FPS,
	OPT_BUFFERS,
	OPT_ALLOCATOR,
	OPT_LEASE_TIMEOUT,
	OPT_MAX_CONSUMERS,
	OPT_MAX_IN_FLIGHT,
	OPT_PEER,
	OPT_NAME,
	OPT_STRICT,
	OPT_WAIT_CONSUMERS,
	OPT_WAIT_TIMEOUT,
	OPT_DRAIN_TIMEOUT,
	OPT_PREDRAWN,
	OPT_JSON,
	OPT_IO,
	OPT_DIRECT_IO,
	OPT_REACQUIRE,
	OPT_BUSY_POLL,
	OPT_MAX_BUFFERS,
	OPT_POOL_BUDGET,
	OPT_MAX_HANDSHAKES,
	OPT_MAX_MONITORS,
	OPT_SOCKET_MODE,
	OPT_SOCKET_GROUP,
};

static void parse_args(struct serve *s, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "format", required_argument, NULL, 'f' },
		{ "fps", required_argument, NULL, OPT_FPS },
		{ "frames", required_argument, NULL, 'n' },
		{ "buffers", required_argument, NULL, OPT_BUFFERS },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "lease-timeout", required_argument, NULL, OPT_LEASE_TIMEOUT },
		{ "max-consumers", required_argument, NULL, OPT_MAX_CONSUMERS },
		{ "max-in-flight", required_argument, NULL, OPT_MAX_IN_FLIGHT },
		{ "max-buffers", required_argument, NULL, OPT_MAX_BUFFERS },
		{ "pool-budget", required_argument, NULL, OPT_POOL_BUDGET },
		{ "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
		{ "max-monitors", required_argument, NULL, OPT_MAX_MONITORS },
		{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "wait-consumers", required_argument, NULL, OPT_WAIT_CONSUMERS },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
		{ "predrawn", no_argument, NULL, OPT_PREDRAWN },
		{ "device", required_argument, NULL, 'd' },
		{ "io", required_argument, NULL, OPT_IO },
		{ "direct-io", no_argument, NULL, OPT_DIRECT_IO },
		{ "reacquire", no_argument, NULL, OPT_REACQUIRE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		REALTIME_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":s:f:n:d:qh", options, NULL)) != -1) {
		switch (c) {
		case 's':
			s->socket = optarg;
			break;
		case OPT_SIZE:
			opt_size("serve", optarg, &s->format.width, &s->format.height);
			s->set_size = true;
			break;
		case 'f':
			s->format.fourcc = opt_format("serve", optarg);
			s->set_format = true;
			break;
		case OPT_FPS:
			opt_fps("serve", "--fps", optarg, true, 100000, &s->fps_num, &s->fps_den);
			s->set_fps = true;
			break;
		case 'd':
			if (!*optarg)
				usage_error("serve", "--device wants a device node, e.g. /dev/video0");
			s->device = optarg;
			break;
		case OPT_IO:
			if (strcmp(optarg, "auto") == 0)
				s->io = DMAPIPE_V4L2_IO_AUTO;
			else if (strcmp(optarg, "export") == 0)
				s->io = DMAPIPE_V4L2_IO_EXPORT;
			else if (strcmp(optarg, "import") == 0)
				s->io = DMAPIPE_V4L2_IO_IMPORT;
			else
				usage_error("serve", "bad --io '%s': expected auto, export or import",
					    optarg);
			break;
		case OPT_DIRECT_IO:
			s->direct_io = true;
			break;
		case OPT_REACQUIRE:
			s->reacquire = true;
			break;
		case 'n':
			s->frames = opt_u64("serve", "--frames", optarg);
			break;
		case OPT_BUFFERS:
			s->buffers = opt_u32("serve", "--buffers", optarg, 1, 32);
			s->set_buffers = true;
			break;
		case OPT_ALLOCATOR:
			s->allocator = optarg;
			break;
		case OPT_LEASE_TIMEOUT:
			s->opts.lease_timeout_ms = opt_u32("serve", "--lease-timeout", optarg,
							   0, 86400000);
			break;
		case OPT_MAX_CONSUMERS:
			s->opts.max_consumers = opt_u32("serve", "--max-consumers", optarg, 1, 1024);
			break;
		case OPT_MAX_IN_FLIGHT:
			s->opts.max_in_flight = opt_u32("serve", "--max-in-flight", optarg, 1, 256);
			break;
		case OPT_MAX_BUFFERS:
			s->opts.max_buffers = opt_u32("serve", "--max-buffers", optarg, 1, 256);
			break;
		case OPT_POOL_BUDGET:
			s->opts.pool_budget_bytes = opt_u64("serve", "--pool-budget", optarg);
			if (s->opts.pool_budget_bytes == 0)
				usage_error("serve", "--pool-budget wants a number of bytes above 0");
			break;
		case OPT_MAX_HANDSHAKES:
			s->opts.max_handshakes = opt_u32("serve", "--max-handshakes", optarg, 1, 1024);
			break;
		case OPT_MAX_MONITORS:
			s->opts.max_monitors = opt_u32("serve", "--max-monitors", optarg, 1, 1024);
			break;
		case OPT_BUSY_POLL:
			s->opts.busy_poll_us = opt_u32("serve", "--busy-poll", optarg, 0, 100000);
			break;
		case OPT_SOCKET_MODE:
			opt_socket_mode("serve", optarg, &s->access);
			break;
		case OPT_SOCKET_GROUP:
			opt_socket_group("serve", optarg, &s->access);
			break;
		case OPT_PEER:
			opt_peer("serve", optarg, &s->opts.peer_policy, &s->opts.allowed_uid,
				 &s->opts.allowed_gid);
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 31)
				usage_error("serve", "--name wants 1 to 31 characters");
			s->opts.stream_name = optarg;
			break;
		case OPT_STRICT:
			s->strict = true;
			break;
		case OPT_WAIT_CONSUMERS:
			s->wait_consumers = opt_u32("serve", "--wait-consumers", optarg, 0, 1024);
			break;
		case OPT_WAIT_TIMEOUT:
			s->wait_timeout_ms = opt_u32("serve", "--wait-timeout", optarg, 0, 86400000);
			break;
		case OPT_DRAIN_TIMEOUT:
			s->drain_timeout_ms = opt_u32("serve", "--drain-timeout", optarg, 0, 86400000);
			break;
		case OPT_PREDRAWN:
			s->predrawn = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case OPT_JSON:
			s->json = true;
			break;
		case 'h':
			fputs(serve_usage, stdout);
			exit(0);
		default:
			if (!realtime_option(&s->rt, "serve", c, optarg))
				usage_getopt_error("serve", c, argv);
		}
	}
	usage_no_operands("serve", argc, argv);
	/* a device's stream is named after it, as the system service names it */
	if (!s->socket && s->device && strrchr(s->device, '/') && strrchr(s->device, '/')[1])
		s->socket = strrchr(s->device, '/') + 1;
	s->socket = opt_socket("serve", s->socket);
	if (s->device && s->set_format && s->set_size)
		check_size("serve", s->format.fourcc, s->format.width, s->format.height);
	if (s->wait_consumers > s->opts.max_consumers)
		usage_error("serve", "--wait-consumers is larger than --max-consumers");
	if (!s->device && (s->io != DMAPIPE_V4L2_IO_AUTO || s->direct_io || s->reacquire))
		usage_error("serve", "--io, --direct-io and --reacquire need --device");
	if (s->device && s->predrawn)
		usage_error("serve", "--predrawn draws test patterns; a --device stream has the device's frames");
	if (s->device && s->set_fps && s->fps_num == 0)
		usage_error("serve", "--fps 0 means nothing to a device: leave --fps out to keep its rate");
}

/* The run failed: one line now, and @failure in the summary. */
__attribute__((format(printf, 5, 6)))
void serve_failed(struct serve *s, const char *failure, enum tool_error code, int err,
			 const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	tool_error(code, err, "%s", text);
	s->failed = true;
	s->failure = failure;
}

/*
 * Dispatches until --wait-consumers consumers are connected. False on a
 * signal, or on the timeout after failing the run: both loops give up the
 * same way.
 */
bool serve_wait_for_consumers(struct serve *s)
{
	unsigned int n = s->wait_consumers;
	int ret;

	if (!s->quiet && n > 0)
		fprintf(stderr, "serve: waiting for %u consumer%s on %s\n", n, n == 1 ? "" : "s",
			s->socket);
	do
		ret = dmapipe_server_wait_consumers(s->server, n, s->wait_timeout_ms ?
						    (int)s->wait_timeout_ms : -1);
	while (ret == -EINTR && !stop_requested);
	if (ret != 0 && !stop_requested)
		serve_failed(s, "timed out waiting for consumers", TOOL_ERR_TIMEOUT, 0,
			     "%u consumer%s did not come within %u ms", n, n == 1 ? "" : "s",
			     s->wait_timeout_ms);
	return ret == 0;
}

static void status_line(struct serve *s, uint64_t frames, uint64_t dt_ns)
{
	struct dmapipe_server_stats st;

	dmapipe_server_get_stats(s->server, &st);
	fprintf(stderr, "serve: frame %llu, %.1f fps, %u consumer%s, %llu dropped, "
		"%llu bytes copied, %u/%u buffers free\n",
		(unsigned long long)s->queued, dt_ns ? (double)frames * 1e9 / (double)dt_ns : 0.0,
		st.consumers, st.consumers == 1 ? "" : "s",
		(unsigned long long)st.frames_dropped, (unsigned long long)st.bytes_copied,
		st.buffers_free, st.buffers);
}

bool serve_apply_realtime(struct serve *s)
{
	if (realtime_apply(&s->rt) < 0) {
		/* realtime_apply() said why */
		s->failed = true;
		s->failure = "refused the real-time settings (--require-realtime)";
		return false;
	}
	return true;
}

void serve_server_failed(struct serve *s, int err)
{
	serve_failed(s, "server failure", TOOL_OK, err, "serving on %s", s->socket);
	serve_stop_clock(s);
}

void serve_start_clock(struct serve *s)
{
	self_cpu_ns(&s->cpu_user0, &s->cpu_sys0);
	s->cpu0 = self_cpu_total_ns();
	s->start_ns = s->status_t0 = now_ns();
	s->status_next = s->start_ns + 1000000000ull;
	s->status_frames = 0;
}

bool serve_status_tick(struct serve *s, bool show)
{
	uint64_t now = now_ns();

	if (now < s->status_next)
		return false;
	tool_log_flush();
	if (show && !s->quiet)
		status_line(s, s->status_frames, now - s->status_t0);
	s->status_frames = 0;
	s->status_t0 = now;
	s->status_next = now + 1000000000ull;
	return true;
}

/* The streaming is over: the rate and the CPU per frame stop counting here. */
void serve_stop_clock(struct serve *s)
{
	s->end_ns = now_ns();
	self_cpu_ns(&s->cpu_user1, &s->cpu_sys1);
	s->cpu1 = self_cpu_total_ns();
}

/*
 * Ends the stream: the frames queued for consumers reach them, then EOS,
 * then their leases come back, within --drain-timeout (a moment when
 * interrupted, a second after a failure). Leases still held then are
 * counted, not a failure: a consumer may keep its last frame until it
 * sees EOS.
 */
void serve_end_stream(struct serve *s)
{
	int ret = dmapipe_server_drain(s->server, stop_requested ? 200 : s->failed ? 1000 :
				       (int)s->drain_timeout_ms);

	if (ret > 0)
		s->leases_at_end = (unsigned int)ret;
}

void serve_print_summary(struct serve *s)
{
	struct dmapipe_server_stats st;
	char fourcc[16];
	double elapsed = s->end_ns > s->start_ns ? (double)(s->end_ns - s->start_ns) * 1e-9 : 0;
	uint64_t cpu = s->cpu1 - s->cpu0;

	dmapipe_server_get_stats(s->server, &st);
	dmapipe_fourcc_to_string(s->format.fourcc, fourcc, sizeof(fourcc));
	if (s->strict && st.bytes_copied > 0 && !s->failed)
		serve_failed(s, "strict: pixel bytes were copied", TOOL_ERR_STRICT, 0,
			     "%llu pixel bytes were copied (--strict)",
			     (unsigned long long)st.bytes_copied);

	if (s->json) {
		struct json j;

		json_begin_document(&j, stop_requested != 0);
		json_string(&j, "socket", s->socket);
		json_string(&j, "stream", stream_name_of(&s->opts));
		json_i64(&j, "pid", (int64_t)getpid());
		json_string(&j, "fourcc", fourcc);
		json_u64(&j, "width", s->format.width);
		json_u64(&j, "height", s->format.height);
		json_u64(&j, "fps_target", s->device && !s->set_fps ? 0 : s->fps_num / s->fps_den);
		json_bool(&j, "predrawn", s->predrawn);
		json_u64(&j, "busy_poll_us", s->opts.busy_poll_us);
		if (s->device) {
			struct dmapipe_v4l2_stats vs = { 0 };

			if (s->source)
				dmapipe_v4l2_source_get_stats(s->source, &vs);
			json_begin_object(&j, "device");
			json_string(&j, "path", s->device_path);
			json_string(&j, "card", s->dev_info.card);
			json_string(&j, "driver", s->dev_info.driver);
			json_string(&j, "bus_info", s->dev_info.bus_info);
			json_bool(&j, "multiplanar", s->dev_info.multiplanar);
			json_bool(&j, "libv4l2", s->dev_info.libv4l2);
			json_string(&j, "io", dmapipe_v4l2_io_to_string(s->dev_info.io));
			json_string(&j, "io_note", s->io_note);
			json_u64(&j, "frames_captured", s->v4l2_frames + vs.frames);
			json_u64(&j, "frames_lost", s->v4l2_dropped + vs.dropped);
			json_u64(&j, "frames_corrupted", s->v4l2_corrupted + vs.corrupted);
			json_u64(&j, "device_losses", s->device_losses);
			json_u64(&j, "reacquired", s->reacquired);
			json_end_object(&j);
			if (s->source) {
				struct dmapipe_v4l2_timing t = { .size = sizeof(t) };

				dmapipe_v4l2_source_get_timing(s->source, &t);
				json_u64(&j, "capture_max_dqbuf_latency_ns", t.dqbuf_latency_max_ns);
			}
			json_u64(&j, "capture_max_iteration_ns", s->loop.max_turn_ns);
		}
		json_string(&j, "allocator", s->alloc_name);
		json_string(&j, "memory", dmapipe_mem_kind_to_string(s->mem_kind));
		json_bool(&j, "dmabuf", s->mem_kind == DMAPIPE_MEM_DMABUF);
		json_u64(&j, "buffers", st.buffers);
		json_u64(&j, "frames_queued", st.frames_queued);
		json_u64(&j, "frames_dropped", st.frames_dropped);
		json_u64(&j, "consumers_total", st.consumers_total);
		json_u64(&j, "consumers_refused", st.consumers_refused);
		json_u64(&j, "lease_timeouts", st.lease_timeouts);
		json_u64(&j, "leases_revoked", st.leases_revoked);
		json_u64(&j, "handshakes_dropped", st.handshakes_dropped);
		json_u64(&j, "accept_failures", st.accept_failures);
		json_u64(&j, "leases_held_at_end", s->leases_at_end);
		json_u64(&j, "bytes_copied", st.bytes_copied);
		json_u64(&j, "frames_copied", st.frames_copied);
		json_u64(&j, "dequeue_stalls", s->stalls);
		json_u64(&j, "late_frames", s->late);
		json_double(&j, "elapsed_s", elapsed);
		json_double(&j, "fps", elapsed > 0 ? (double)s->queued / elapsed : 0);
		json_u64(&j, "cpu_user_ns", s->cpu_user1 - s->cpu_user0);
		json_u64(&j, "cpu_ns", s->cpu1 - s->cpu0);
		json_u64(&j, "cpu_sys_ns", s->cpu_sys1 - s->cpu_sys0);
		json_double(&j, "cpu_ns_per_frame", s->queued ? (double)cpu / (double)s->queued : 0);
		realtime_json(&s->rt, &j);
		json_end_object(&j);
		json_finish(&j);
		return;
	}

	printf("serve: %s %ux%u, %s%s\n", fourcc, s->format.width, s->format.height,
	       s->failed ? "FAILED: " : "done", s->failed ? s->failure : "");
	printf("  frames      %llu queued in %.2f s (%.1f fps)%s\n",
	       (unsigned long long)st.frames_queued, elapsed,
	       elapsed > 0 ? (double)s->queued / elapsed : 0.0,
	       stop_requested ? ", interrupted" : "");
	printf("  consumers   %llu connected in total, %llu refused, %llu lease timeouts",
	       (unsigned long long)st.consumers_total, (unsigned long long)st.consumers_refused,
	       (unsigned long long)st.lease_timeouts);
	if (st.leases_revoked)
		printf(", %llu cut off for a buffer (lease-revoked)",
		       (unsigned long long)st.leases_revoked);
	if (s->leases_at_end)
		printf(", %u frames still held at the end", s->leases_at_end);
	printf("\n");
	if (st.handshakes_dropped || st.accept_failures)
		printf("  refused     %llu connections dropped before their handshake, "
		       "%llu accept failures (no fds or memory)\n",
		       (unsigned long long)st.handshakes_dropped,
		       (unsigned long long)st.accept_failures);
	printf("  dropped     %llu frames (by consumer policies)\n",
	       (unsigned long long)st.frames_dropped);
	printf("  copied      %llu pixel bytes%s\n", (unsigned long long)st.bytes_copied,
	       st.bytes_copied ? "" : " (zero-copy)");
	printf("  memory      %s from allocator %s\n", dmapipe_mem_kind_to_string(s->mem_kind),
	       s->alloc_name);
	if (s->device) {
		struct dmapipe_v4l2_stats vs = { 0 };

		if (s->source)
			dmapipe_v4l2_source_get_stats(s->source, &vs);
		printf("  device      %s (%s, %s), %s mode: %s\n", s->device_path, s->dev_info.card,
		       s->dev_info.bus_info, dmapipe_v4l2_io_to_string(s->dev_info.io), s->io_note);
		printf("  captured    %llu frames, %llu lost by the device (sequence gaps), "
		       "%llu corrupted\n", (unsigned long long)(s->v4l2_frames + vs.frames),
		       (unsigned long long)(s->v4l2_dropped + vs.dropped),
		       (unsigned long long)(s->v4l2_corrupted + vs.corrupted));
		if (s->device_losses)
			printf("  hotplug     device lost %llu times, reacquired %llu times\n",
			       (unsigned long long)s->device_losses,
			       (unsigned long long)s->reacquired);
	}
	if (realtime_wanted(&s->rt)) {
		char rt[160];

		realtime_describe(&s->rt, rt, sizeof(rt));
		printf("  realtime    %s\n", rt);
	}
	printf("  cpu         %.1f us per frame (%s)\n",
	       s->queued ? (double)cpu / (double)s->queued / 1000.0 : 0.0,
	       s->device ? "capture and handoff" : s->predrawn ? "handoff only" : "including drawing");
}

int cmd_serve(int argc, char **argv)
{
	struct serve s;

	memset(&s, 0, sizeof(s));
	realtime_init(&s.rt);
	dmapipe_server_options_init(&s.opts);
	s.format.fourcc = dmapipe_fourcc_from_string("NV12");
	s.format.width = 3840;
	s.format.height = 2160;
	s.format.modifier = DMAPIPE_MOD_LINEAR;
	s.fps_num = 60;
	s.fps_den = 1;
	s.buffers = 4;
	s.wait_timeout_ms = 30000;
	s.drain_timeout_ms = 5000;
	parse_args(&s, argc, argv);
	if (s.buffers > s.opts.max_buffers)
		s.opts.max_buffers = s.buffers;

	install_stop_signals();
	if (s.device)
		return serve_device(&s);
	return serve_pattern(&s);
}
