/* SPDX-License-Identifier: MIT */
/*
 * dmapipe play: a recording served as a stream. Frames are read with
 * direct I/O (several reads in flight) straight into buffers the stream
 * shares with its consumers, at the recorded pace or as fast as possible.
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

#include "dmapipe-tool.h"

#define MAX_BUFFERS 32
#define MAX_CONSUMER_STATS 64
/* a frame this late behind the recorded pace restarts the clock rather than bursting */
#define LATE_NS 100000000ull

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

enum slot_state {
	SLOT_FREE,    /* ours, no consumer holds it */
	SLOT_READING, /* the disk is filling it */
	SLOT_READY,   /* filled, waiting for its time */
	SLOT_SERVED,  /* queued to the server; free again at the idle callback */
};

struct slot {
	struct dmapipe_buffer *buffer; /* our reference */
	enum slot_state state;
	uint64_t index;
	struct dmapipe_frame_meta meta;
	uint64_t due;  /* CLOCK_MONOTONIC time to serve it, 0: now */
	bool timed;    /* due was computed */
};

struct play {
	struct dmapipe_server_options sopts;
	struct socket_access access;
	const char *file, *socket, *allocator_name, *hash_log;
	FILE *hash_out;
	double speed; /* 0: as fast as possible */
	bool loop, buffered, strict, json, quiet, progress, recorded_timestamps;
	uint64_t first, frames;
	uint32_t queue_depth, buffers;
	uint32_t wait_consumers, wait_timeout_ms, drain_timeout_ms;

	struct dmapipe_recording *rec;
	struct dmapipe_recording_info info;
	struct dmapipe_reader *reader;
	struct dmapipe_server *server;
	struct dmapipe_allocator *alloc;
	int timer_fd;

	struct slot slots[MAX_BUFFERS];
	unsigned int n_slots;
	int layout_index; /* of the buffers in slots[], -1 before the first */
	/* frames read, in order, waiting to be served (indices into slots[]) */
	unsigned int ready[MAX_BUFFERS];
	unsigned int ready_head, n_ready;
	unsigned int reading;

	uint64_t next_index;  /* next frame to read */
	uint64_t submitted;   /* reads started (counts toward --frames) */
	uint64_t served, loops, format_changes, late, read_errors;
	bool discontinuity;   /* the next frame served starts a new loop */
	int read_error;
	/* pacing */
	bool clock_set;
	uint64_t base_ns, base_ts, last_ts;

	uint64_t t0, t1, cpu0, cpu1;
	const char *end;
	bool failed;
	const char *failure;
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

/* ---- allocator ---------------------------------------------------------------------- */

/*
 * Buffers the disk can DMA into: dmapipe.ko's page mappings, udmabuf
 * (through its memfd), then plain memfds. dma-heap and DRM mappings are
 * PFN-based, which O_DIRECT cannot use; they are taken only on request.
 */
static int open_allocator(struct play *p)
{
	static const char *const order[] = { "dmapipe", "udmabuf", "memfd" };
	const char *env = getenv("DMAPIPE_ALLOCATOR");

	if (p->allocator_name) {
		p->alloc = dmapipe_allocator_new(p->allocator_name);
		if (!p->alloc && errno == ENOENT)
			usage_error("play", "unknown allocator '%s' (dmapipe, udmabuf, memfd, heap, drm)",
				    p->allocator_name);
	} else if (env && *env) {
		p->alloc = dmapipe_allocator_new_default();
	} else {
		enum dmapipe_log_priority prio = dmapipe_log_get_priority();

		dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && !p->alloc; i++)
			p->alloc = dmapipe_allocator_new(order[i]);
		dmapipe_log_set_priority(prio);
		/* the ones that are not here are the order's reason, not a problem */
		if (p->alloc)
			tool_log_discard();
	}
	if (!p->alloc) {
		tool_error(TOOL_ERR_UNSUPPORTED, errno, "no allocator%s%s works here",
			   p->allocator_name ? " " : "", p->allocator_name ? p->allocator_name : "");
		return -1;
	}
	return 0;
}

/* ---- buffers --------------------------------------------------------------------------- */

static void on_idle(struct dmapipe_server *server, struct dmapipe_buffer *buffer, void *data)
{
	struct play *p = data;

	(void)server;
	for (unsigned int i = 0; i < p->n_slots; i++)
		if (p->slots[i].buffer == buffer && p->slots[i].state == SLOT_SERVED)
			p->slots[i].state = SLOT_FREE;
}

static void remove_buffers(struct play *p)
{
	for (unsigned int i = 0; i < p->n_slots; i++) {
		dmapipe_server_remove_buffer(p->server, p->slots[i].buffer);
		dmapipe_buffer_unref(p->slots[i].buffer);
	}
	p->n_slots = 0;
	p->ready_head = p->n_ready = 0;
}

/* Buffers with the layout of recorded frame @index, shared with the consumers. */
static int add_buffers(struct play *p, uint64_t index)
{
	struct dmapipe_recorded_frame f;
	int ret;

	dmapipe_recording_get_frame(p->rec, index, &f);
	remove_buffers(p);
	for (unsigned int i = 0; i < p->buffers; i++) {
		struct dmapipe_buffer *b = dmapipe_allocator_alloc_layout(p->alloc, &f.layout);

		if (!b) {
			ret = -errno;
			/* ENOSPC here is a pool budget or a heap, not a disk: not exit 3 */
			tool_error(ret == -ENOSPC ? TOOL_ERR_NO_MEMORY : TOOL_OK, ret,
				   "cannot allocate a buffer for frame %llu",
				   (unsigned long long)index);
			return ret;
		}
		ret = dmapipe_server_add_buffer(p->server, b);
		if (ret < 0) {
			tool_error(TOOL_ERR_INTERNAL, ret, "the stream refused a buffer");
			dmapipe_buffer_unref(b);
			return ret;
		}
		p->slots[p->n_slots].buffer = b;
		p->slots[p->n_slots].state = SLOT_FREE;
		p->n_slots++;
	}
	if (p->layout_index >= 0)
		p->format_changes++;
	p->layout_index = (int)f.layout_index;
	return 0;
}

/* ---- reading ----------------------------------------------------------------------------- */

static void on_read(struct dmapipe_reader *reader, uint64_t index, struct dmapipe_buffer *buffer,
		    void *frame_data, int status, void *user_data)
{
	struct play *p = user_data;
	struct slot *s = frame_data;
	struct dmapipe_recorded_frame f;

	(void)reader;
	(void)buffer;
	p->reading--;
	if (status == -ECANCELED) {
		s->state = SLOT_FREE; /* the player is closing */
		return;
	}
	if (status < 0) {
		s->state = SLOT_FREE;
		p->read_errors++;
		if (!p->read_error) {
			p->read_error = status;
			tool_error(TOOL_ERR_IO, status, "reading frame %llu of %s",
				   (unsigned long long)index, p->file);
		}
		return;
	}
	dmapipe_recording_get_frame(p->rec, index, &f);
	s->meta = f.meta;
	s->state = SLOT_READY;
	p->ready[(p->ready_head + p->n_ready) % MAX_BUFFERS] = (unsigned int)(s - p->slots);
	p->n_ready++;
}

static struct slot *free_slot(struct play *p)
{
	for (unsigned int i = 0; i < p->n_slots; i++)
		if (p->slots[i].state == SLOT_FREE)
			return &p->slots[i];
	return NULL;
}

/* True if a consumer has frames queued for it and not sent yet. */
static bool frames_unsent(struct play *p)
{
	struct dmapipe_consumer_stats cs[MAX_CONSUMER_STATS];
	int n = dmapipe_server_get_consumer_stats(p->server, cs, MAX_CONSUMER_STATS);

	for (int i = 0; i < n && i < MAX_CONSUMER_STATS; i++)
		if (cs[i].queued > 0)
			return true;
	return false;
}

/* True when every frame read from this layout is served and sent. */
static bool layout_drained(struct play *p)
{
	return p->reading == 0 && p->n_ready == 0 && !frames_unsent(p);
}

/* Whether another read may start; handles the end of the file and format changes. */
static int start_reads(struct play *p)
{
	while (!p->read_error && (p->frames == 0 || p->submitted < p->frames)) {
		struct dmapipe_recorded_frame f;
		struct slot *s;
		int ret;

		if (p->next_index >= p->info.frames) {
			if (!p->loop)
				return 0;
			p->next_index = 0;
			p->loops++;
			continue;
		}
		dmapipe_recording_get_frame(p->rec, p->next_index, &f);
		if ((int)f.layout_index != p->layout_index) {
			/* a new format starts once every frame of the old one was sent */
			if (p->layout_index >= 0 && !layout_drained(p))
				return 0;
			ret = add_buffers(p, p->next_index);
			if (ret < 0)
				return ret;
		}
		s = free_slot(p);
		if (!s)
			return 0;
		ret = dmapipe_reader_submit(p->reader, p->next_index, s->buffer, s);
		if (ret == -EAGAIN)
			return 0;
		if (ret < 0) {
			if (ret == -EPERM && p->strict)
				tool_error(TOOL_ERR_STRICT, 0, "frame %llu would have been copied "
					   "(--strict)", (unsigned long long)p->next_index);
			else
				tool_error(TOOL_ERR_IO, ret, "cannot read frame %llu",
					   (unsigned long long)p->next_index);
			return ret;
		}
		s->state = SLOT_READING;
		s->index = p->next_index;
		s->timed = false;
		p->reading++;
		p->submitted++;
		p->next_index++;
	}
	return 0;
}

/* ---- serving --------------------------------------------------------------------------- */

/* True if a block-policy consumer has no room: wait rather than make it drop. */
static bool blocked(struct play *p)
{
	struct dmapipe_consumer_stats cs[MAX_CONSUMER_STATS];
	int n = dmapipe_server_get_consumer_stats(p->server, cs, MAX_CONSUMER_STATS);

	for (int i = 0; i < n && i < MAX_CONSUMER_STATS; i++)
		if (cs[i].state == DMAPIPE_CONSUMER_STREAMING &&
		    cs[i].policy == DMAPIPE_POLICY_BLOCK && cs[i].queued >= cs[i].queue_depth)
			return true;
	return false;
}

/*
 * When frame @s is due (CLOCK_MONOTONIC), 0 for now: its recorded distance
 * from the frame that started the clock, divided by the speed. Called once
 * per frame, in order.
 */
static uint64_t pace(struct play *p, const struct slot *s)
{
	uint64_t ts = s->meta.timestamp_ns, due;

	if (p->speed == 0)
		return 0;
	if (!p->clock_set || ts < p->last_ts || s->index == 0) {
		/* the first frame, a loop, or timestamps that go back: now */
		p->clock_set = true;
		p->base_ns = now_ns();
		p->base_ts = ts;
		p->last_ts = ts;
		return 0;
	}
	p->last_ts = ts;
	due = p->base_ns + (uint64_t)((double)(ts - p->base_ts) / p->speed);
	if (due > now_ns() + 5000000000ull) {
		/* a gap of seconds in the recording: do not sit idle through it */
		p->base_ns -= due - now_ns();
		due = now_ns();
	}
	return due;
}

/* Serves ready frames that are due; *wake_ns is when the next one is due, or 0. */
static int serve_ready(struct play *p, uint64_t *wake_ns)
{
	*wake_ns = 0;
	while (p->n_ready > 0) {
		struct slot *s = &p->slots[p->ready[p->ready_head]];
		struct dmapipe_frame_meta meta = s->meta;
		uint64_t now = now_ns();
		int ret;

		if (!s->timed) {
			s->due = pace(p, s);
			s->timed = true;
		}
		if (s->due > now) {
			*wake_ns = s->due;
			return 0;
		}
		if (blocked(p))
			return 0;
		if (s->due && now > s->due + LATE_NS) {
			/* behind (a slow disk, a blocking consumer): resynchronise, no burst */
			p->late++;
			p->base_ns += now - s->due;
		}
		if (p->hash_out) {
			uint32_t crc;

			if (frame_crc32(s->buffer, &crc) == 0)
				fprintf(p->hash_out, "%llu %08x\n",
					(unsigned long long)meta.sequence, crc);
			else
				fprintf(p->hash_out, "%llu -\n", (unsigned long long)meta.sequence);
		}
		if (s->index == 0 && p->loops > 0 && p->served > 0)
			meta.flags |= DMAPIPE_FRAME_DISCONTINUITY;
		/*
		 * The replay's timeline: when the frame is due (its recorded
		 * distance from the clock's start, at the replay speed), or now
		 * when it is served as fast as possible or late. The recorded
		 * capture time lies in the past (another run, maybe another
		 * boot): consumers would see the recording's age as latency and
		 * GStreamer would time every buffer before the pipeline started.
		 */
		if (!p->recorded_timestamps)
			meta.timestamp_ns = s->due && now <= s->due + LATE_NS ? s->due : now;
		meta.acquire_fence = -1;
		s->state = SLOT_SERVED;
		p->ready_head = (p->ready_head + 1) % MAX_BUFFERS;
		p->n_ready--;
		ret = dmapipe_server_queue(p->server, dmapipe_buffer_ref(s->buffer), &meta);
		if (ret < 0) {
			tool_error(TOOL_ERR_INTERNAL, ret, "the stream refused a frame");
			return ret;
		}
		p->served++;
	}
	return 0;
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
		ret = start_reads(p);
		if (ret < 0)
			break;
		ret = serve_ready(p, &wake);
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
	const char *alloc = dmapipe_allocator_get_name(p->alloc);
	enum dmapipe_mem_kind kind = dmapipe_allocator_get_mem_kind(p->alloc);
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
	printf("\n  memory      %s from allocator %s\n", dmapipe_mem_kind_to_string(kind), alloc);
	printf("  copied      %llu pixel bytes%s\n", (unsigned long long)copied,
	       copied ? " (the buffers' mappings could not take direct I/O)" : " (zero-copy)");
}

/*
 * Consumers get the recording's nominal rate (FORMAT_INFO) as it is served:
 * at the recorded pace the rate itself, at another factor that rate times
 * the factor, and nothing when frames go as fast as they can.
 */
static void tell_rate(struct play *p)
{
	struct dmapipe_format_info info;
	uint64_t num = p->info.fps_num, den = p->info.fps_den;

	if (!num || !den || p->speed == 0)
		return;
	if (p->speed != 1.0) {
		/* the factor in thousandths, as --speed takes it */
		num *= (uint64_t)(p->speed * 1000.0 + 0.5);
		den *= 1000;
		for (uint64_t a = num, b = den; ; ) {
			uint64_t t = a % b;

			if (!t) {
				num /= b;
				den /= b;
				break;
			}
			a = b;
			b = t;
		}
		if (num > UINT32_MAX || den > UINT32_MAX)
			return;
	}
	dmapipe_format_info_init(&info);
	info.fps_num = (uint32_t)num;
	info.fps_den = (uint32_t)den;
	dmapipe_server_set_format_info(p->server, &info);
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
	if (open_allocator(&p) < 0) {
		if (p.hash_out)
			fclose(p.hash_out);
		dmapipe_recording_close(p.rec);
		return 1;
	}
	dmapipe_reader_options_init(&ro);
	ro.max_frames = p.queue_depth;
	ro.done = on_read;
	ro.user_data = &p;
	p.reader = dmapipe_reader_new(p.rec, &ro);
	p.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	install_stop_signals();
	p.sopts.path = p.socket;
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
	dmapipe_server_set_idle_callback(p.server, on_idle, &p);
	tell_rate(&p);
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
		remove_buffers(&p);
		dmapipe_server_free(p.server);
	}
	if (p.timer_fd >= 0)
		close(p.timer_fd);
	dmapipe_allocator_unref(p.alloc);
	dmapipe_recording_close(p.rec);
	if (p.hash_out && fclose(p.hash_out) != 0) {
		tool_error(TOOL_ERR_IO, errno, "writing %s failed", p.hash_log);
		status = 1;
	}
	return status;
}
