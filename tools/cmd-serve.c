/* SPDX-License-Identifier: MIT */
/* dmapipe serve: a producer of test-pattern frames or of a V4L2 device's frames. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "dmapipe-tool.h"
#include "realtime.h"

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

struct serve {
	struct dmapipe_server_options opts;
	struct socket_access access;
	struct dmapipe_format format;
	const char *socket;
	const char *allocator;
	uint32_t fps_num, fps_den; /* the rate consumers are told, and the pace */
	uint64_t frames;
	uint32_t buffers;
	uint32_t wait_consumers;
	uint32_t wait_timeout_ms;
	uint32_t drain_timeout_ms;
	bool strict;
	bool predrawn;
	bool quiet;
	bool json;
	/* --device */
	const char *device;
	enum dmapipe_v4l2_io io;
	bool direct_io;
	bool reacquire;
	bool set_format, set_size, set_fps, set_buffers;

	struct dmapipe_server *server;
	struct dmapipe_allocator *import_alloc;
	struct dmapipe_v4l2_source *source;
	struct dmapipe_v4l2_info dev_info;
	struct dmapipe_v4l2_watch *watch;
	char device_path[256]; /* where the device is now */
	uint64_t v4l2_frames, v4l2_dropped, v4l2_corrupted; /* of earlier sources */
	uint64_t device_losses, reacquired;
	char io_note[160];
	int timer_fd; /* paces frames, -1 without */
	enum dmapipe_mem_kind mem_kind;
	const char *alloc_name;
	const char *alloc_note;

	/* results */
	uint64_t queued;
	uint64_t stalls;     /* dequeue found no free buffer */
	uint64_t late;       /* frames that missed their deadline by a period */
	uint64_t start_ns, end_ns;
	unsigned int leases_at_end; /* frames consumers still held when serve ended */
	uint64_t cpu_user0, cpu_sys0, cpu_user1, cpu_sys1;
	uint64_t cpu0, cpu1; /* precise total */
	bool failed;
	struct realtime rt; /* --realtime, --mlock, --cpu: for the loop's thread */
	const char *failure;
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
static void serve_failed(struct serve *s, const char *failure, enum tool_error code, int err,
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

/* --realtime, --mlock, --cpu for the loop about to start on this thread */
static int apply_realtime(struct serve *s)
{
	if (realtime_apply(&s->rt) < 0) {
		s->failed = true;
		s->failure = "refused the real-time settings (--require-realtime)";
		return -1;
	}
	return 0;
}

static int open_allocator(struct serve *s, struct dmapipe_allocator **out)
{
	struct dmapipe_allocator *alloc;
	const char *env = getenv("DMAPIPE_ALLOCATOR");

	if (s->allocator) {
		alloc = dmapipe_allocator_new(s->allocator);
		if (!alloc && errno == ENOENT)
			usage_error("serve", "unknown allocator '%s' (heap, udmabuf, drm, memfd, dmapipe)",
				    s->allocator);
		if (!alloc) {
			tool_error(TOOL_ERR_UNSUPPORTED, errno, "allocator %s is not available here",
				   s->allocator);
			return -1;
		}
		s->alloc_note = "chosen with --allocator";
	} else {
		enum dmapipe_log_priority prio = dmapipe_log_get_priority();

		/* the fallback warning is what announce_allocator() says */
		dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
		alloc = dmapipe_allocator_new_default();
		dmapipe_log_set_priority(prio);
		if (!alloc) {
			tool_error(TOOL_OK, errno, "no allocator works here");
			return -1;
		}
		s->alloc_note = env && *env ? "chosen with DMAPIPE_ALLOCATOR" :
			"no dma-buf provider on this machine";
	}
	s->alloc_name = dmapipe_allocator_get_name(alloc);
	s->mem_kind = dmapipe_allocator_get_mem_kind(alloc);
	*out = alloc;
	return 0;
}

static void announce_allocator(const struct serve *s)
{
	if (s->mem_kind == DMAPIPE_MEM_DMABUF)
		fprintf(stderr, "serve: allocator: %s (dma-buf)\n", s->alloc_name);
	else
		fprintf(stderr, "serve: allocator: %s (NOT a dma-buf: %s)\n", s->alloc_name,
			s->alloc_note);
}

/* Dispatches until @n consumers are connected; false on timeout or signal. */
static bool wait_for_consumers(struct serve *s, unsigned int n)
{
	int ret;

	if (!s->quiet && n > 0)
		fprintf(stderr, "serve: waiting for %u consumer%s on %s\n", n, n == 1 ? "" : "s",
			s->socket);
	do
		ret = dmapipe_server_wait_consumers(s->server, n, s->wait_timeout_ms ?
						    (int)s->wait_timeout_ms : -1);
	while (ret == -EINTR && !stop_requested);
	return ret == 0;
}

/* Draws every buffer of the pool once, for --predrawn. */
static int predraw(struct serve *s)
{
	struct dmapipe_buffer *held[32];
	unsigned int n = 0, i;
	int ret = 0;

	while (n < s->buffers && n < 32) {
		held[n] = dmapipe_server_dequeue(s->server);
		if (!held[n])
			break;
		ret = dmapipe_buffer_draw_pattern(held[n], n);
		n++;
		if (ret < 0)
			break;
	}
	for (i = 0; i < n; i++)
		dmapipe_buffer_unref(held[i]);
	return ret;
}

/*
 * Handles server events until the absolute CLOCK_MONOTONIC @deadline. A
 * timerfd armed with TFD_TIMER_ABSTIME is polled together with the server's
 * fd, so a frame period costs one wake-up plus one per event, and the
 * deadline is kept to the microsecond. Without a timerfd: dispatch with
 * millisecond timeouts, then clock_nanosleep(TIMER_ABSTIME) for the rest.
 */
static int wait_until(struct serve *s, uint64_t deadline)
{
	struct itimerspec its;
	struct pollfd fds[2];
	uint64_t ticks;
	int ret;

	if (s->timer_fd < 0) {
		for (;;) {
			uint64_t now = now_ns();
			struct timespec ts;

			if (now >= deadline || stop_requested)
				return 0;
			if (deadline - now > 2000000) {
				ret = dmapipe_server_dispatch(s->server,
							      (int)((deadline - now) / 1000000) - 1);
				if (ret < 0)
					return ret;
				continue;
			}
			ts.tv_sec = (time_t)(deadline / 1000000000ull);
			ts.tv_nsec = (long)(deadline % 1000000000ull);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(deadline / 1000000000ull);
	its.it_value.tv_nsec = (long)(deadline % 1000000000ull);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	fds[0].fd = dmapipe_server_get_fd(s->server);
	fds[0].events = POLLIN;
	fds[1].fd = s->timer_fd;
	fds[1].events = POLLIN;
	while (!stop_requested) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0].revents) {
			ret = dmapipe_server_dispatch(s->server, 0);
			if (ret < 0)
				return ret;
		}
		if (fds[1].revents && read(s->timer_fd, &ticks, sizeof(ticks)) > 0)
			return 0;
	}
	return 0;
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

/* The streaming is over: the rate and the CPU per frame stop counting here. */
static void stop_clock(struct serve *s)
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
static void end_stream(struct serve *s)
{
	int ret = dmapipe_server_drain(s->server, stop_requested ? 200 : s->failed ? 1000 :
				       (int)s->drain_timeout_ms);

	if (ret > 0)
		s->leases_at_end = (unsigned int)ret;
}

/* The pattern's frames are progressive, square-pixelled, at the pace they are served. */
static void set_format_info(struct serve *s)
{
	struct dmapipe_format_info info;

	dmapipe_format_info_init(&info);
	info.fps_num = s->fps_num;
	info.fps_den = s->fps_den;
	info.interlace = DMAPIPE_INTERLACE_PROGRESSIVE;
	dmapipe_server_set_format_info(s->server, &info);
}

static int run(struct serve *s)
{
	uint64_t period = s->fps_num ? 1000000000ull * s->fps_den / s->fps_num : 0;
	uint64_t next_status, status_frames = 0, status_t0, base;
	struct dmapipe_server_stats st;
	uint64_t seq;
	int ret;

	if (!wait_for_consumers(s, s->wait_consumers)) {
		if (!stop_requested)
			serve_failed(s, "timed out waiting for consumers", TOOL_ERR_TIMEOUT, 0,
				     "%u consumer%s did not come within %u ms", s->wait_consumers,
				     s->wait_consumers == 1 ? "" : "s", s->wait_timeout_ms);
		return 0;
	}
	if (apply_realtime(s) < 0)
		return 0;

	self_cpu_ns(&s->cpu_user0, &s->cpu_sys0);
	s->cpu0 = self_cpu_total_ns();
	s->start_ns = base = now_ns();
	status_t0 = base;
	next_status = base + 1000000000ull;

	for (seq = 0; !stop_requested && (s->frames == 0 || seq < s->frames); seq++) {
		struct dmapipe_frame_meta meta;
		struct dmapipe_buffer *buf;
		uint64_t now;

		if (period) {
			uint64_t deadline = base + seq * period;

			now = now_ns();
			if (now > deadline + period) {
				/* fell behind (a stall, a slow draw): resynchronise
				 * instead of bursting to catch up */
				s->late++;
				base = now - seq * period;
				deadline = now;
			}
			ret = wait_until(s, deadline);
			if (ret < 0)
				goto server_failed;
			if (stop_requested)
				break;
		}

		for (;;) {
			buf = dmapipe_server_dequeue(s->server);
			if (buf)
				break;
			if (errno != EAGAIN) {
				ret = -errno;
				goto server_failed;
			}
			s->stalls++;
			ret = dmapipe_server_dispatch(s->server, 10);
			if (ret < 0)
				goto server_failed;
			if (stop_requested)
				break;
		}
		if (!buf)
			break;

		if (!s->predrawn) {
			ret = dmapipe_buffer_draw_pattern(buf, seq);
			if (ret < 0) {
				dmapipe_buffer_unref(buf);
				serve_failed(s, "drawing failed", TOOL_OK, ret, "drawing frame %llu",
					     (unsigned long long)seq);
				break;
			}
		}
		dmapipe_frame_meta_init(&meta);
		meta.sequence = seq;
		meta.timestamp_ns = now_ns();
		/* consumers verify by default what says it is the pattern of its sequence */
		if (!s->predrawn)
			meta.flags |= DMAPIPE_FRAME_PATTERN;
		ret = dmapipe_server_queue(s->server, buf, &meta);
		if (ret < 0)
			goto server_failed;
		s->queued++;
		status_frames++;

		/* paced: wait_until() handles events while it waits */
		if (!period) {
			ret = dmapipe_server_dispatch(s->server, 0);
			if (ret < 0)
				goto server_failed;
		}

		now = now_ns();
		if (now >= next_status) {
			tool_log_flush();
			if (!s->quiet)
				status_line(s, status_frames, now - status_t0);
			status_frames = 0;
			status_t0 = now;
			next_status = now + 1000000000ull;
			if (s->strict) {
				dmapipe_server_get_stats(s->server, &st);
				if (st.bytes_copied > 0)
					break;
			}
		}
	}

	stop_clock(s);
	return 0;

server_failed:
	serve_failed(s, "server failure", TOOL_OK, ret, "serving on %s", s->socket);
	stop_clock(s);
	return 0;
}

/* ---- --device: a V4L2 capture device's frames ------------------------------ */

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
	uint64_t next_status, status_frames = 0, status_t0;
	int ret;

	if (!wait_for_consumers(s, s->wait_consumers)) {
		if (!stop_requested)
			serve_failed(s, "timed out waiting for consumers", TOOL_ERR_TIMEOUT, 0,
				     "%u consumer%s did not come within %u ms", s->wait_consumers,
				     s->wait_consumers == 1 ? "" : "s", s->wait_timeout_ms);
		return 0;
	}
	if (apply_realtime(s) < 0)
		return 0;
	ret = dmapipe_v4l2_source_start(s->source);
	if (ret < 0) {
		serve_failed(s, "cannot start capturing", TOOL_ERR_DEVICE, ret,
			     "cannot start capturing on %s", s->device_path);
		return 0;
	}
	self_cpu_ns(&s->cpu_user0, &s->cpu_sys0);
	s->cpu0 = self_cpu_total_ns();
	s->start_ns = status_t0 = now_ns();
	next_status = s->start_ns + 1000000000ull;

	while (!stop_requested && (s->frames == 0 || s->queued < s->frames)) {
		struct pollfd fds[2];
		nfds_t n = 1;
		int timeout = 1000;
		uint64_t now;

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
		if (poll(fds, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto failed;
		}
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
				status_frames += (uint64_t)ret;
			}
		} else if (!s->source && s->watch) {
			ret = try_reacquire(s);
			if (ret < 0) {
				serve_failed(s, "cannot look for the device", TOOL_OK, ret,
					     "looking for the device");
				break;
			}
		}
		now = now_ns();
		if (now >= next_status) {
			tool_log_flush();
			if (!s->quiet && s->source)
				status_line(s, status_frames, now - status_t0);
			status_frames = 0;
			status_t0 = now;
			next_status = now + 1000000000ull;
		}
	}
	stop_clock(s);
	/* no new frames: what consumers hold comes back without requeueing */
	if (s->source)
		dmapipe_v4l2_source_stop(s->source);
	return 0;

failed:
	serve_failed(s, "server failure", TOOL_OK, ret, "serving on %s", s->socket);
	stop_clock(s);
	return 0;
}

static void print_summary(struct serve *s)
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

/* --device: opens the device, then serves it; returns the exit status. */
static int serve_device(struct serve *s)
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
	end_stream(s);
	print_summary(s);
	retire_source(s);
	dmapipe_server_free(s->server);
	dmapipe_v4l2_watch_free(s->watch);
	dmapipe_allocator_unref(s->import_alloc);
	return s->failed ? 1 : 0;
}

int cmd_serve(int argc, char **argv)
{
	struct dmapipe_allocator *alloc = NULL;
	struct serve s;
	int ret;

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
	if (open_allocator(&s, &alloc) < 0)
		return 1;
	announce_allocator(&s);

	s.opts.path = s.socket;
	s.server = open_server("serve", &s.opts, &s.access);
	if (!s.server) {
		dmapipe_allocator_unref(alloc);
		return 1;
	}
	ret = dmapipe_server_alloc_buffers(s.server, alloc, &s.format, s.buffers);
	dmapipe_allocator_unref(alloc);
	if (ret < 0) {
		/* ENOSPC here is a pool budget or a heap, not a disk: not exit 3 */
		tool_error(ret == -ENOSPC ? TOOL_ERR_NO_MEMORY : TOOL_OK, ret,
			   "cannot allocate %u buffers", s.buffers);
		dmapipe_server_free(s.server);
		return 1;
	}
	set_format_info(&s);
	if (s.predrawn && predraw(&s) < 0) {
		tool_error(TOOL_ERR_INTERNAL, 0, "cannot draw the buffers");
		dmapipe_server_free(s.server);
		return 1;
	}
	if (!s.quiet) {
		char fourcc[16];

		fprintf(stderr, "serve: %s %ux%u, %u buffers, ",
			dmapipe_fourcc_to_string(s.format.fourcc, fourcc, sizeof(fourcc)),
			s.format.width, s.format.height, s.buffers);
		if (s.fps_den > 1)
			fprintf(stderr, "%u/%u fps", s.fps_num, s.fps_den);
		else if (s.fps_num)
			fprintf(stderr, "%u fps", s.fps_num);
		else
			fprintf(stderr, "as fast as possible");
		fprintf(stderr, " on %s\n", s.socket);
	}

	s.timer_fd = s.fps_num ? timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC) : -1;
	run(&s);
	if (s.timer_fd >= 0)
		close(s.timer_fd);
	end_stream(&s);
	print_summary(&s);
	dmapipe_server_free(s.server);
	return s.failed ? 1 : 0;
}
