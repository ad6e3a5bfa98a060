/* SPDX-License-Identifier: MIT */
/*
 * dmapipe play: a recording served as a stream. Frames are read with
 * direct I/O (several reads in flight) straight into buffers the stream
 * shares with its consumers, at the recorded pace or as fast as possible.
 * This file has the command line, the loop and the summary; the reads are
 * play-read.c, the pace play-pace.c (play.h).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "play.h"

static const char *const play_usage =
	"Usage: dmapipe play FILE [--socket SOCKET] [OPTIONS]\n"
	"\n"
	"Serves the frames of a recording (made by dmapipe record) on a unix socket,\n"
	"like a live producer: with their recorded sequence numbers and flags, at the\n"
	"recorded pace or as fast as the disk reads. Their timestamps are the\n"
	"replay's own timeline (CLOCK_MONOTONIC, as a live producer's): it starts when\n"
	"the first frame is served and advances at the replay speed, so consumers\n"
	"measure latency and GStreamer times buffers against it; --recorded-timestamps\n"
	"serves the recorded capture times instead. Frames are read\n"
	"with direct I/O straight into the buffers the consumers map (no copy where\n"
	"the buffers' mappings allow it; the summary says which path was taken).\n"
	"Format changes inside the recording are served as format changes. A\n"
	"recording whose writer died is scanned (see dmapipe record --repair).\n"
	"Consumers with the block policy get every frame; others drop by policy.\n"
	"Consumers' constraints (docs/PROTOCOL.md section 13) are met between frames\n"
	"by new buffers: more of them for the frames consumers hold, a DRM device's\n"
	"memory (the drm allocator) for one that imports into a GPU (not with --strict:\n"
	"a mapping without direct I/O would copy). The recording fixes each frame's\n"
	"layout: a consumer asking other row or plane alignments is refused with the\n"
	"reason, unless it allowed a copy (then it copies).\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET     where to serve (default: the stream \"default\")\n"
	HELP_SOCKET_NAME
	"      --speed SPEED       recorded (default), max, or a factor such as 2 or 0.5\n"
	"      --loop              start again after the last frame (flagged as a\n"
	"                          discontinuity); ends with --frames or Ctrl-C\n"
	"      --first N           start at frame N of the recording (default 0)\n"
	"  -n, --frames N          serve at most N frames, 0 = all (default 0)\n"
	"      --queue-depth N     reads in flight (default 4)\n"
	"      --buffers N         buffers shared with consumers (default 8)\n"
	"      --allocator NAME    dmapipe, udmabuf, memfd, heap, drm (default: the first\n"
	"                          of dmapipe, udmabuf, memfd: mappings the disk can DMA into)\n"
	"      --buffered          read through the page cache instead of O_DIRECT\n"
	"      --strict            fail rather than copy a pixel\n"
	"      --wait-consumers N  start once N consumers are connected (default 0)\n"
	"      --wait-timeout MS   give up waiting for them after MS (default 30000, 0 = never)\n"
	"      --drain-timeout MS  at the end, up to MS for consumers to receive the frames\n"
	"                          queued for them, then EOS, then their releases (default 5000)\n"
	"      --lease-timeout MS  disconnect a consumer holding a frame longer (default 5000)\n"
	"      --max-in-flight N   frames one consumer may hold at once (default 2)\n"
	"      --socket-mode MODE  permissions of the socket file (default 0660): who may\n"
	"                          open it at all\n"
	"      --socket-group GROUP  the socket file's group (default: this user's)\n"
	"      --peer POLICY       whom it then serves (SO_PEERCRED): same-uid (default:\n"
	"                          this user and root), any, uid:N, gid:N. Another user\n"
	"                          needs both, e.g. --socket-mode 0666 --peer any\n"
	"      --name NAME         stream name\n"
	"      --progress          a progress line every second (default when stderr is a tty)\n"
	"  -q, --quiet             no progress line\n"
	"      --recorded-timestamps  serve the recorded capture times (in the past, and\n"
	"                          from another boot's clock) instead of the replay's\n"
	"      --hash-log FILE     write \"sequence crc32\" of every frame served (its visible\n"
	"                          bytes) to FILE, for content that is not the test pattern\n"
	"      --json              print the summary as JSON on stdout (docs/JSON.md), a\n"
	"                          failure too\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (unreadable recording,\n"
	"read error, strict copy), 2 bad command line.\n";

enum {
	OPT_SPEED = 256,
	OPT_LOOP,
	OPT_FIRST,
	OPT_QUEUE_DEPTH,
	OPT_BUFFERS,
	OPT_ALLOCATOR,
	OPT_BUFFERED,
	OPT_STRICT,
	OPT_WAIT_CONSUMERS,
	OPT_WAIT_TIMEOUT,
	OPT_DRAIN_TIMEOUT,
	OPT_LEASE_TIMEOUT,
	OPT_MAX_IN_FLIGHT,
	OPT_PEER,
	OPT_NAME,
	OPT_PROGRESS,
	OPT_JSON,
	OPT_HASH_LOG,
	OPT_RECORDED_TIMESTAMPS,
	OPT_SOCKET_MODE,
	OPT_SOCKET_GROUP,
};


/* ---- command line ------------------------------------------------------------------ */

static double parse_speed(const char *s)
{
	char *end;
	double v;

	if (strcmp(s, "recorded") == 0)
		return 1.0;
	if (strcmp(s, "max") == 0)
		return 0.0;
	if (!*s || strspn(s, "0123456789.") != strlen(s))
		usage_error("play", "bad --speed '%s': expected recorded, max or a factor", s);
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0.01 && v <= 1000.0))
		usage_error("play", "bad --speed '%s': a factor from 0.01 to 1000", s);
	return v;
}

static void parse_args(struct play *p, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "speed", required_argument, NULL, OPT_SPEED },
		{ "loop", no_argument, NULL, OPT_LOOP },
		{ "first", required_argument, NULL, OPT_FIRST },
		{ "frames", required_argument, NULL, 'n' },
		{ "queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH },
		{ "buffers", required_argument, NULL, OPT_BUFFERS },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "buffered", no_argument, NULL, OPT_BUFFERED },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "wait-consumers", required_argument, NULL, OPT_WAIT_CONSUMERS },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
		{ "lease-timeout", required_argument, NULL, OPT_LEASE_TIMEOUT },
		{ "max-in-flight", required_argument, NULL, OPT_MAX_IN_FLIGHT },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "hash-log", required_argument, NULL, OPT_HASH_LOG },
		{ "recorded-timestamps", no_argument, NULL, OPT_RECORDED_TIMESTAMPS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":s:n:qh", options, NULL)) != -1) {
		switch (c) {
		case 's':
			p->socket = optarg;
			break;
		case OPT_SPEED:
			p->speed = parse_speed(optarg);
			break;
		case OPT_LOOP:
			p->loop = true;
			break;
		case OPT_FIRST:
			p->first = opt_u64("play", "--first", optarg);
			break;
		case 'n':
			p->frames = opt_u64("play", "--frames", optarg);
			break;
		case OPT_QUEUE_DEPTH:
			p->queue_depth = opt_u32("play", "--queue-depth", optarg, 1, 16);
			break;
		case OPT_BUFFERS:
			p->buffers = opt_u32("play", "--buffers", optarg, 2, MAX_BUFFERS);
			break;
		case OPT_ALLOCATOR:
			p->allocator_name = optarg;
			break;
		case OPT_BUFFERED:
			p->buffered = true;
			break;
		case OPT_STRICT:
			p->strict = true;
			break;
		case OPT_WAIT_CONSUMERS:
			p->wait_consumers = opt_u32("play", "--wait-consumers", optarg, 0, 1024);
			break;
		case OPT_WAIT_TIMEOUT:
			p->wait_timeout_ms = opt_u32("play", "--wait-timeout", optarg, 0, 86400000);
			break;
		case OPT_DRAIN_TIMEOUT:
			p->drain_timeout_ms = opt_u32("play", "--drain-timeout", optarg, 0, 86400000);
			break;
		case OPT_LEASE_TIMEOUT:
			p->sopts.lease_timeout_ms = opt_u32("play", "--lease-timeout", optarg, 0,
							    86400000);
			break;
		case OPT_MAX_IN_FLIGHT:
			p->sopts.max_in_flight = opt_u32("play", "--max-in-flight", optarg, 1, 16);
			break;
		case OPT_SOCKET_MODE:
			opt_socket_mode("play", optarg, &p->access);
			break;
		case OPT_SOCKET_GROUP:
			opt_socket_group("play", optarg, &p->access);
			break;
		case OPT_PEER:
			opt_peer("play", optarg, &p->sopts.peer_policy, &p->sopts.allowed_uid,
				 &p->sopts.allowed_gid);
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 31)
				usage_error("play", "--name wants 1 to 31 characters");
			p->sopts.stream_name = optarg;
			break;
		case OPT_PROGRESS:
			p->progress = true;
			break;
		case 'q':
			p->quiet = true;
			break;
		case OPT_JSON:
			p->json = true;
			break;
		case OPT_HASH_LOG:
			p->hash_log = optarg;
			break;
		case OPT_RECORDED_TIMESTAMPS:
			p->recorded_timestamps = true;
			break;
		case 'h':
			fputs(play_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("play", c, argv);
		}
	}
	if (optind < argc)
		p->file = argv[optind++];
	usage_no_operands("play", argc, argv);
	if (!p->file)
		usage_error("play", "the recording to play (FILE) is required");
	p->socket = opt_socket("play", p->socket);
	if (p->queue_depth >= p->buffers)
		usage_error("play", "--buffers must be larger than --queue-depth");
}

/* ---- main loop ------------------------------------------------------------------------- */

static bool wait_for_consumers(struct play *p)
{
	int ret;

	if (!p->quiet && p->wait_consumers > 0)
		fprintf(stderr, "play: waiting for %u consumer%s on %s\n", p->wait_consumers,
			p->wait_consumers == 1 ? "" : "s", p->socket);
	do
		ret = dmapipe_server_wait_consumers(p->server, p->wait_consumers,
						    p->wait_timeout_ms ? (int)p->wait_timeout_ms : -1);
	while (ret == -EINTR && !stop_requested);
	return ret == 0;
}

static void progress_line(struct play *p, uint64_t now, uint64_t *last_bytes, uint64_t *last_ns)
{
	struct dmapipe_reader_stats rs;
	struct dmapipe_server_stats st;
	double dt = (double)(now - *last_ns) * 1e-9;

	dmapipe_reader_get_stats(p->reader, &rs);
	dmapipe_server_get_stats(p->server, &st);
	fprintf(stderr, "play: %llu frames, %.1f MB/s, %u consumer%s, %llu dropped by consumers, "
		"backlog %u reading / %u ready, %llu bytes copied\n",
		(unsigned long long)p->served,
		dt > 0 ? (double)(rs.bytes_read - *last_bytes) / dt / 1e6 : 0.0,
		st.consumers, st.consumers == 1 ? "" : "s",
		(unsigned long long)st.frames_dropped, p->reading, p->n_ready,
		(unsigned long long)rs.bytes_copied);
	*last_bytes = rs.bytes_read;
	*last_ns = now;
}

static bool finished(struct play *p)
{
	bool more = (p->loop || p->next_index < p->info.frames) &&
		    (p->frames == 0 || p->submitted < p->frames) && !p->read_error;

	return !more && p->reading == 0 && p->n_ready == 0;
}

static int run(struct play *p)
{
	uint64_t next_progress, last_bytes = 0, last_ns;
	int ret = 0;

	p->t0 = last_ns = now_ns();
	next_progress = p->t0 + 1000000000ull;
	p->cpu0 = self_cpu_total_ns();
	p->end = "end";
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = dmapipe_server_get_fd(p->server), .events = POLLIN },
			{ .fd = dmapipe_reader_get_fd(p->reader), .events = POLLIN },
			{ .fd = p->timer_fd, .events = POLLIN },
		};
		uint64_t wake = 0, now;
		int timeout = 100;

		if (stop_requested) {
			p->end = "interrupted";
			break;
		}
		ret = play_start_reads(p);
		if (ret < 0)
			break;
		ret = play_serve_ready(p, &wake);
		if (ret < 0)
			break;
		if (finished(p))
			break;
		tool_log_flush();
		now = now_ns();
		if (p->progress && now >= next_progress) {
			progress_line(p, now, &last_bytes, &last_ns);
			next_progress = now + 1000000000ull;
		}
		if (wake) {
			struct itimerspec its = { 0 };

			its.it_value.tv_sec = (time_t)(wake / 1000000000ull);
			its.it_value.tv_nsec = (long)(wake % 1000000000ull);
			timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
			timeout = -1;
		}
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (pfd[2].revents) {
			uint64_t ticks;

			if (read(p->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				break;
		}
		ret = dmapipe_reader_dispatch(p->reader, 0);
		if (ret < 0)
			break;
		ret = dmapipe_server_dispatch(p->server, 0);
		if (ret < 0)
			break;
		ret = 0;
	}
	p->t1 = now_ns();
	p->cpu1 = self_cpu_total_ns();
	if (ret < 0 || p->read_error) {
		p->failed = true;
		p->end = "error";
		p->failure = p->read_error ? "a frame could not be read" : strerror(-ret);
		if (tool.error == TOOL_OK)
			tool_error(TOOL_OK, ret, "serving %s on %s", p->file, p->socket);
	}
	return ret;
}

static void print_summary(struct play *p)
{
	struct dmapipe_reader_stats rs;
	struct dmapipe_server_stats st;
	struct dmapipe_copy_stats copies;
	double elapsed = p->t1 > p->t0 ? (double)(p->t1 - p->t0) * 1e-9 : 0;
	/* the last generation's: a consumer may have asked for a DRM device's memory */
	const struct dmapipe_allocator *last = p->gen_alloc ? p->gen_alloc : p->alloc;
	const char *alloc = dmapipe_allocator_get_name(last);
	enum dmapipe_mem_kind kind = dmapipe_allocator_get_mem_kind(last);
	uint64_t copied;

	dmapipe_reader_get_stats(p->reader, &rs);
	dmapipe_server_get_stats(p->server, &st);
	dmapipe_get_copy_stats(&copies);
	copied = rs.bytes_copied + st.bytes_copied;
	if (p->strict && copied && !p->failed) {
		p->failed = true;
		p->failure = "strict: pixel bytes were copied";
		tool_error(TOOL_ERR_STRICT, 0, "%llu pixel bytes were copied (--strict)",
			   (unsigned long long)copied);
	}
	if (p->json) {
		struct json j;

		json_begin_document(&j, strcmp(p->end, "interrupted") == 0);
		json_string(&j, "end", p->end);
		json_string(&j, "file", p->file);
		json_string(&j, "socket", p->socket);
		json_string(&j, "stream", stream_name_of(&p->sopts));
		json_string(&j, "speed", p->speed == 0 ? "max" : NULL);
		json_double(&j, "speed_factor", p->speed);
		json_bool(&j, "direct", p->info.direct);
		json_bool(&j, "scanned", p->info.scanned);
		json_u64(&j, "recording_frames", p->info.frames);
		json_u64(&j, "frames_read", rs.frames_read);
		json_u64(&j, "frames_served", p->served);
		json_u64(&j, "read_errors", p->read_errors);
		json_u64(&j, "loops", p->loops);
		json_u64(&j, "format_changes", p->format_changes);
		json_u64(&j, "buffer_generations", p->generations);
		json_u64(&j, "late_frames", p->late);
		json_u64(&j, "consumers_total", st.consumers_total);
		json_u64(&j, "frames_dropped", st.frames_dropped);
		json_u64(&j, "bytes_read", rs.bytes_read);
		json_begin_object(&j, "paths");
		for (int i = 0; i < DMAPIPE_RECORD_PATH_COUNT; i++) {
			json_begin_object(&j, dmapipe_record_path_to_string(i));
			json_u64(&j, "bytes", rs.path_bytes[i]);
			json_u64(&j, "objects", rs.path_frames[i]);
			json_end_object(&j);
		}
		json_end_object(&j);
		json_u64(&j, "bytes_copied", copied);
		json_u64(&j, "process_bytes_copied", copies.bytes);
		json_bool(&j, "io_uring", rs.io_uring != 0);
		json_string(&j, "allocator", alloc);
		json_string(&j, "memory", dmapipe_mem_kind_to_string(kind));
		json_double(&j, "elapsed_s", elapsed);
		json_double(&j, "mb_per_s", elapsed > 0 ? (double)rs.bytes_read / elapsed / 1e6 : 0);
		json_double(&j, "fps", elapsed > 0 ? (double)p->served / elapsed : 0);
		json_u64(&j, "cpu_ns", p->cpu1 - p->cpu0);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	printf("play: %s: %s%s (%s)\n", p->file, p->failed ? "FAILED: " : "done",
	       p->failed ? p->failure : "", p->end);
	printf("  frames      %llu served of %llu in the recording%s, %llu loops, "
	       "%llu format changes, %llu read errors\n",
	       (unsigned long long)p->served, (unsigned long long)p->info.frames,
	       p->info.scanned ? " (scanned: not closed by its writer)" : "",
	       (unsigned long long)p->loops, (unsigned long long)p->format_changes,
	       (unsigned long long)p->read_errors);
	printf("  rate        %.1f MB/s, %.1f fps over %.2f s (%s)\n",
	       elapsed > 0 ? (double)rs.bytes_read / elapsed / 1e6 : 0.0,
	       elapsed > 0 ? (double)p->served / elapsed : 0.0, elapsed,
	       p->speed == 0 ? "as fast as possible" : "recorded pace");
	printf("  consumers   %llu connected in total, %llu frames dropped by their policies\n",
	       (unsigned long long)st.consumers_total, (unsigned long long)st.frames_dropped);
	printf("  read        %s%s,", p->info.direct ? "O_DIRECT" : "buffered",
	       rs.io_uring ? " through io_uring" : "");
	for (int i = 0; i < DMAPIPE_RECORD_PATH_COUNT; i++)
		if (rs.path_bytes[i])
			printf(" %s %.1f MB", dmapipe_record_path_to_string(i),
			       (double)rs.path_bytes[i] / 1e6);
	printf("\n  memory      %s from allocator %s", dmapipe_mem_kind_to_string(kind), alloc);
	if (p->generations)
		printf(", %llu new buffer generations for the consumers' constraints",
		       (unsigned long long)p->generations);
	printf("\n");
	printf("  copied      %llu pixel bytes%s\n", (unsigned long long)copied,
	       copied ? " (the buffers' mappings could not take direct I/O)" : " (zero-copy)");
}

int cmd_play(int argc, char **argv)
{
	struct dmapipe_reader_options ro;
	struct play p;
	int status;

	memset(&p, 0, sizeof(p));
	dmapipe_server_options_init(&p.sopts);
	p.speed = 1.0;
	p.queue_depth = 4;
	p.buffers = 8;
	p.wait_timeout_ms = 30000;
	p.drain_timeout_ms = 5000;
	p.layout_index = -1;
	p.timer_fd = -1;
	p.progress = isatty(STDERR_FILENO);
	parse_args(&p, argc, argv);
	if (p.quiet)
		p.progress = false;
	if (p.strict)
		dmapipe_set_strict(true);

	p.rec = open_recording(p.file, p.buffered ? DMAPIPE_RECORDING_BUFFERED : 0, NULL);
	if (!p.rec)
		return 1;
	dmapipe_recording_get_info(p.rec, &p.info);
	if (p.info.frames == 0) {
		tool_error(TOOL_ERR_NOT_FOUND, 0, "%s has no frames", p.file);
		dmapipe_recording_close(p.rec);
		return 1;
	}
	if (p.first >= p.info.frames) {
		tool_error(TOOL_ERR_NOT_FOUND, 0, "--first %llu: %s has %llu frames",
			   (unsigned long long)p.first, p.file, (unsigned long long)p.info.frames);
		dmapipe_recording_close(p.rec);
		return 1;
	}
	p.next_index = p.first;
	if (p.hash_log) {
		p.hash_out = fopen(p.hash_log, "w");
		if (!p.hash_out) {
			tool_error(TOOL_OK, errno, "cannot write %s", p.hash_log);
			dmapipe_recording_close(p.rec);
			return 1;
		}
	}
	if (play_open_allocator(&p) < 0) {
		if (p.hash_out)
			fclose(p.hash_out);
		dmapipe_recording_close(p.rec);
		return 1;
	}
	dmapipe_reader_options_init(&ro);
	ro.max_frames = p.queue_depth;
	ro.done = play_on_read;
	ro.user_data = &p;
	p.reader = dmapipe_reader_new(p.rec, &ro);
	p.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	install_stop_signals();
	p.sopts.path = p.socket;
	/*
	 * play makes new buffers for consumers' constraints; one it cannot
	 * serve is refused at its first missed frame (play-constraints.c), so
	 * this wait only bounds a change the server's rate limit held back.
	 */
	p.sopts.app_reallocates_ms = PLAY_REALLOC_WAIT_MS;
	if (p.sopts.max_buffers < p.buffers)
		p.sopts.max_buffers = p.buffers;
	if (!p.reader || p.timer_fd < 0) {
		tool_error(TOOL_OK, errno, "cannot read %s", p.file);
		status = 1;
		goto out;
	}
	p.server = open_server("play", &p.sopts, &p.access);
	if (!p.server) {
		status = 1;
		goto out;
	}
	dmapipe_server_set_idle_callback(p.server, play_on_idle, &p);
	dmapipe_server_set_constraints_callback(p.server, play_on_constraints, &p);
	play_tell_format_info(&p);
	if (!p.quiet) {
		char fourcc[16];
		struct dmapipe_recorded_frame f;

		dmapipe_recording_get_frame(p.rec, p.first, &f);
		fprintf(stderr, "play: %s: %llu frames, %s %ux%u%s, %s, buffers from %s (%s), on %s\n",
			p.file, (unsigned long long)p.info.frames,
			dmapipe_fourcc_to_string(f.layout.format.fourcc, fourcc, sizeof(fourcc)),
			f.layout.format.width, f.layout.format.height,
			p.info.layouts > 1 ? " (the format changes)" : "",
			p.info.direct ? "O_DIRECT" : "buffered",
			dmapipe_allocator_get_name(p.alloc),
			dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(p.alloc)), p.socket);
	}
	if (!wait_for_consumers(&p)) {
		if (!stop_requested) {
			p.failed = true;
			p.failure = "timed out waiting for consumers";
			tool_error(TOOL_ERR_TIMEOUT, 0, "%u consumer%s did not come within %u ms",
				   p.wait_consumers, p.wait_consumers == 1 ? "" : "s",
				   p.wait_timeout_ms);
		}
		p.end = stop_requested ? "interrupted" : "wait-timeout";
	} else {
		run(&p);
	}
	/* the frames queued for consumers reach them, then EOS, then their leases come back */
	if (!p.failed && !stop_requested)
		dmapipe_server_drain(p.server, (int)p.drain_timeout_ms);
	else
		dmapipe_server_end_of_stream(p.server);
	if (p.progress && p.end)
		progress_line(&p, now_ns(), &(uint64_t){ 0 }, &(uint64_t){ p.t0 });
	if (!p.end)
		p.end = "none";
	/* before the summary, which says whether the run failed */
	if (p.hash_out && fclose(p.hash_out) != 0) {
		tool_error(TOOL_ERR_IO, errno, "writing %s failed", p.hash_log);
		p.failed = true;
		p.failure = "the hash log could not be written";
	}
	p.hash_out = NULL;
	print_summary(&p);
	status = p.failed ? 1 : 0;
out:
	/* reads in flight finish before their buffers go */
	dmapipe_reader_free(p.reader);
	if (p.server) {
		play_remove_buffers(&p);
		dmapipe_server_free(p.server);
	}
	if (p.timer_fd >= 0)
		close(p.timer_fd);
	dmapipe_allocator_unref(p.gen_alloc);
	dmapipe_allocator_unref(p.alloc);
	dmapipe_recording_close(p.rec);
	if (p.hash_out && fclose(p.hash_out) != 0) {
		tool_error(TOOL_ERR_IO, errno, "writing %s failed", p.hash_log);
		status = 1;
	}
	return status;
}
