/* SPDX-License-Identifier: MIT */
/* dmapipe record: frames from a stream into a file with direct I/O; checking and repairing recordings. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe-tool.h"
#include "loop-timing.h"
#include "output.h"
#include "realtime.h"

/* What the help of --check says of a recording whose first block is gone. */
#define REPAIR_HINT "(if its first block was damaged, dmapipe record --repair recovers it " \
	"from its frame headers)"

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
};

struct frame_source;

struct record {
	struct dmapipe_client_options copts;
	struct dmapipe_recorder_options ropts;
	bool received_early; /* the client was dispatched before the loop: frames may wait */
	const char *socket, *output, *check, *repair;
	/* --device */
	const char *device, *allocator;
	uint32_t width, height, fourcc, fps, fps_den, buffers;
	enum dmapipe_v4l2_io io;
	struct dmapipe_v4l2_source *source;
	uint64_t frames;
	uint32_t duration_s;
	uint32_t timeout_ms;
	enum verify_mode verify;
	bool strict, json, quiet, progress, io_set;
	bool pattern_device; /* dmapipe_vcap: its frames are the test pattern */

	const struct frame_source *src;
	struct dmapipe_client *client;
	struct dmapipe_frame_meta meta; /* a device frame's, until it is submitted */
	struct dmapipe_recorder *rec;
	struct output out;
	bool force;
	FILE *report; /* the summary: stdout, or stderr when the recording goes there */
	uint64_t submitted, refused, released;
	uint64_t t0, t1;
	const char *end;
	bool error, disk_full;
	/* --buffer / --buffer-mb: what to hold; need: that many frames (0: not asked) */
	uint64_t buffer_ms, buffer_mb;
	uint32_t need;
	uint64_t next_keepalive, keepalive_ns;
	uint64_t keepalives, last_keepalive, keepalive_max_gap_ns;
	struct loop_timing loop;  /* the recording loop's turns */
	struct realtime rt;       /* --realtime, --mlock, --cpu */
	/* the loops' clock: --duration's deadline, the progress line's state */
	uint64_t deadline, next_progress, last_bytes, last_ns;
};

/* --buffer: "2s", "500ms", "1.5" (seconds); at most 60 s */
static uint64_t parse_buffer_duration(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		usage_error("record", "--buffer wants a duration such as 2s or 500ms, got '%s'", s);
	if (strcmp(end, "ms") == 0)
		v /= 1000.0;
	else if (*end && strcmp(end, "s") != 0)
		usage_error("record", "--buffer wants a duration such as 2s or 500ms, got '%s'", s);
	if (v > 60.0)
		usage_error("record", "--buffer: at most 60 s, got '%s'", s);
	return (uint64_t)(v * 1000.0 + 0.5) ? (uint64_t)(v * 1000.0 + 0.5) : 1;
}

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
			r->buffer_ms = parse_buffer_duration(optarg);
			break;
		case OPT_BUFFER_MB:
			r->buffer_mb = opt_u32("record", "--buffer-mb", optarg, 1, 65536);
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

/* ---- --check and --repair ----------------------------------------------------- */

static int check_frame(const struct dmapipe_recorded_frame *f, uint8_t *mem, enum verify_mode mode)
{
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
	uint64_t stamp;
	int ret;

	for (unsigned int p = 0; p < f->layout.n_planes; p++)
		planes[p] = mem + f->object_offset[f->layout.planes[p].object] +
			    f->layout.planes[p].offset;
	if (mode == VERIFY_FULL)
		return dmapipe_pattern_check(&f->layout, planes, f->meta.sequence, NULL, NULL);
	ret = dmapipe_pattern_read_stamp(&f->layout, planes, &stamp);
	if (ret == 0 && stamp != f->meta.sequence)
		ret = -EILSEQ;
	return ret;
}

/* What is wrong with a recording as a whole, for a person; NULL when nothing. */
static const char *damage_text(const struct dmapipe_recording_info *info)
{
	if (info->damage & DMAPIPE_RECORDING_TRUNCATED)
		return "closed by its writer, but the file ends before its index: it was cut "
		       "after it was closed";
	if (info->damage & DMAPIPE_RECORDING_INDEX_DAMAGED)
		return "closed by its writer, but its index is damaged";
	if (info->damage & DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED)
		return "its superblock is damaged (rebuilt from the frame headers)";
	if (info->frames < info->frames_expected)
		return "frames its writer recorded are missing";
	return NULL;
}

static void print_info_json(struct json *j, const struct dmapipe_recording_info *info)
{
	json_u64(j, "frames", info->frames);
	json_u64(j, "frames_expected", info->frames_expected);
	json_bool(j, "closed", info->closed);
	json_bool(j, "scanned", info->scanned);
	json_bool(j, "repaired", info->repaired);
	json_string(j, "damage", recording_damage(info));
	json_u64(j, "unconfirmed", info->unconfirmed);
	json_u64(j, "bad_headers", info->bad_headers);
	json_u64(j, "layouts", info->layouts);
	json_u64(j, "version", info->version);
	json_u64(j, "block_size", info->block_size);
	json_u64(j, "file_size", info->file_size);
	json_u64(j, "data_end", info->data_end);
	json_bool(j, "direct", info->direct);
}

/* What --check found. */
struct check {
	uint64_t by_checksum, by_pattern; /* frames that passed each kind of check */
	uint64_t verified, failed, unchecked, read_errors, gaps, changes;
	uint64_t failed_checksum; /* of the failed: their bytes differ from their checksum */
	uint64_t first_seq, last_seq;
};

/*
 * Frame @i read into @mem: its checksum when it has one, the pattern when
 * @mode (after auto) asks for it. Returns false if a check failed.
 */
static bool check_one(struct record *r, struct check *c, struct dmapipe_recording *rc, uint64_t i,
		      const struct dmapipe_recorded_frame *f, uint8_t *mem, size_t len)
{
	enum verify_mode mode = verify_frame_mode(r->verify, f->meta.flags);
	int sum = dmapipe_recording_check_payload(rc, i, mem, len);
	const char *why = NULL;
	int ret;

	if (sum == 0) {
		c->by_checksum++;
	} else if (sum == -EBADMSG) {
		why = "its bytes differ from the checksum recorded with them: the file is damaged";
		c->failed_checksum++;
	}
	if (!why && mode != VERIFY_NONE) {
		ret = check_frame(f, mem, mode);
		if (ret == 0)
			c->by_pattern++;
		else
			why = ret == -EILSEQ ? "pixel data differs from the pattern" :
			      "no pattern for this format";
	}
	if (why) {
		c->failed++;
		if (!r->quiet && c->failed <= 5)
			fprintf(stderr, "record: frame %llu (sequence %llu) FAILED: %s\n",
				(unsigned long long)i, (unsigned long long)f->meta.sequence, why);
		return false;
	}
	if (sum == 0 || mode != VERIFY_NONE)
		c->verified++;
	else
		c->unchecked++; /* no checksum, not the pattern: nothing to compare with */
	return true;
}

static int run_check(struct record *r)
{
	struct dmapipe_recording *rc = open_recording(r->check, 0, REPAIR_HINT);
	struct dmapipe_recording_info info;
	struct check c = { 0 };
	uint64_t t0 = now_ns();
	uint8_t *mem = NULL;
	size_t mem_size = 0;
	const char *damage;
	double elapsed;
	bool ok;

	if (!rc)
		return 1;
	dmapipe_recording_get_info(rc, &info);
	for (uint64_t i = 0; i < info.frames; i++) {
		struct dmapipe_recorded_frame f;
		int ret;

		dmapipe_recording_get_frame(rc, i, &f);
		if (i == 0)
			c.first_seq = f.meta.sequence;
		else if (f.meta.sequence > c.last_seq + 1)
			c.gaps += f.meta.sequence - c.last_seq - 1;
		c.last_seq = f.meta.sequence;
		if (f.flags & DMAPIPE_RECORDED_FORMAT_CHANGE)
			c.changes++;
		if (r->verify == VERIFY_NONE)
			continue;
		if (f.size > mem_size) {
			free(mem);
			mem = NULL;
			mem_size = (size_t)f.size;
			if (posix_memalign((void **)&mem, 4096, mem_size)) {
				tool_error(TOOL_ERR_NO_MEMORY, 0, "no memory for a frame of %llu bytes",
					   (unsigned long long)mem_size);
				dmapipe_recording_close(rc);
				return 1;
			}
		}
		ret = dmapipe_recording_read_frame(rc, i, mem, mem_size);
		if (ret < 0) {
			c.read_errors++;
			if (!r->quiet)
				fprintf(stderr, "record: frame %llu (sequence %llu): read failed: %s\n",
					(unsigned long long)i, (unsigned long long)f.meta.sequence,
					strerror(-ret));
			continue;
		}
		check_one(r, &c, rc, i, &f, mem, mem_size);
	}
	free(mem);
	elapsed = (double)(now_ns() - t0) * 1e-9;
	damage = damage_text(&info);
	ok = c.failed == 0 && c.read_errors == 0 && !damage;
	if (damage)
		tool_error(TOOL_ERR_DAMAGED, 0, "%s is damaged: %s", r->check, damage);
	else if (c.failed)
		tool_error(c.failed_checksum ? TOOL_ERR_DAMAGED : TOOL_ERR_VERIFY, 0,
			   "%s: %llu frames failed the check (%llu against their checksum)",
			   r->check, (unsigned long long)c.failed,
			   (unsigned long long)c.failed_checksum);
	else if (c.read_errors)
		tool_error(TOOL_ERR_IO, 0, "%s: %llu frames could not be read", r->check,
			   (unsigned long long)c.read_errors);

	if (r->json) {
		struct json j;

		json_begin_document(&j, false);
		json_string(&j, "mode", "check");
		json_string(&j, "file", r->check);
		print_info_json(&j, &info);
		json_string(&j, "verify", verify_names[r->verify]);
		json_u64(&j, "frames_verified", c.verified);
		json_u64(&j, "frames_verified_checksum", c.by_checksum);
		json_u64(&j, "frames_verified_pattern", c.by_pattern);
		json_u64(&j, "frames_failed", c.failed);
		json_u64(&j, "frames_not_checked", c.unchecked);
		json_u64(&j, "read_errors", c.read_errors);
		json_u64(&j, "format_changes", c.changes);
		json_u64(&j, "sequence_gaps", c.gaps);
		if (info.frames) {
			json_u64(&j, "sequence_first", c.first_seq);
			json_u64(&j, "sequence_last", c.last_seq);
		} else {
			json_null(&j, "sequence_first");
			json_null(&j, "sequence_last");
		}
		json_double(&j, "elapsed_s", elapsed);
		json_end_object(&j);
		json_finish(&j);
	} else {
		printf("record --check: %s: %s\n", r->check, ok ? "ok" : "FAILED");
		if (damage)
			printf("  DAMAGED     %s: %llu of the %llu frames it recorded are left "
			       "(--repair keeps them)\n", damage, (unsigned long long)info.frames,
			       (unsigned long long)info.frames_expected);
		printf("  state       %s%s%s\n", info.closed ? "closed" : "not closed by its writer",
		       info.scanned ? ", scanned" : "",
		       info.scanned && info.unconfirmed ?
		       " (some frames after the last barrier: see docs/FORMAT.md)" : "");
		printf("  frames      %llu (sequence %llu..%llu, %llu missing), %llu format changes\n",
		       (unsigned long long)info.frames, (unsigned long long)c.first_seq,
		       (unsigned long long)c.last_seq, (unsigned long long)c.gaps,
		       (unsigned long long)c.changes);
		printf("  verified    %llu (%llu by their checksum, %llu as the test pattern; "
		       "--verify %s), %llu failed, %llu read errors\n",
		       (unsigned long long)c.verified, (unsigned long long)c.by_checksum,
		       (unsigned long long)c.by_pattern, verify_names[r->verify],
		       (unsigned long long)c.failed, (unsigned long long)c.read_errors);
		if (c.unchecked)
			printf("  not checked %llu frames: no checksum and not the test pattern, so "
			       "damaged pixels cannot be found (dmapipe record --checksum records "
			       "checksums)\n", (unsigned long long)c.unchecked);
		if (info.scanned)
			printf("  scan        %llu unconfirmed, %llu damaged headers\n",
			       (unsigned long long)info.unconfirmed,
			       (unsigned long long)info.bad_headers);
		printf("  read        %.2f s, %s\n", elapsed, info.direct ? "O_DIRECT" : "buffered");
	}
	dmapipe_recording_close(rc);
	return ok ? 0 : 1;
}

static int run_repair(struct record *r)
{
	struct dmapipe_recording *rc = open_recording(r->repair, DMAPIPE_RECORDING_REPAIR,
						      "(no superblock and no frame header found)");
	struct dmapipe_recording_info info;

	if (!rc)
		return 1;
	dmapipe_recording_get_info(rc, &info);
	if (r->json) {
		struct json j;

		json_begin_document(&j, false);
		json_string(&j, "mode", "repair");
		json_string(&j, "file", r->repair);
		print_info_json(&j, &info);
		json_end_object(&j);
		json_finish(&j);
	} else if (info.repaired) {
		printf("record --repair: %s: %llu frames recovered and indexed (%llu unconfirmed, "
		       "%llu damaged headers)\n", r->repair, (unsigned long long)info.frames,
		       (unsigned long long)info.unconfirmed, (unsigned long long)info.bad_headers);
		if (info.damage & DMAPIPE_RECORDING_SUPERBLOCK_DAMAGED)
			printf("  the superblock was damaged: rebuilt from the frame headers\n");
		if (info.frames < info.frames_expected)
			printf("  its writer recorded %llu frames: %llu were lost with the part of the "
			       "file that is missing or damaged\n",
			       (unsigned long long)info.frames_expected,
			       (unsigned long long)(info.frames_expected - info.frames));
	} else {
		printf("record --repair: %s: closed cleanly, %llu frames: nothing to repair\n",
		       r->repair, (unsigned long long)info.frames);
	}
	dmapipe_recording_close(rc);
	return 0;
}

/* ---- where the frames come from --------------------------------------------------------- */

/*
 * A producer's stream (each frame a lease, released when the disk is done
 * with it) or a V4L2 device (its buffers, requeued when the disk is done).
 * One recording loop serves both: a source only says how to get a frame
 * and how to give it back.
 */
struct frame_source {
	/* Connects or opens: 0, or -1 after saying why. */
	int (*open)(struct record *r);
	/* Starts the frames: 0, or -errno with r->end set. NULL: nothing to start. */
	int (*start)(struct record *r);
	/* Readable when dispatch() or next() has work. */
	int (*fd)(const struct record *r);
	/* Called once a turn, before next(). NULL: nothing to do. */
	void (*dispatch)(struct record *r);
	/*
	 * The next frame: 0 with its buffer, its metadata and the frame_data
	 * the recorder hands back; -EAGAIN when there is none now; any other
	 * error ends the recording, with r->end (and r->error) set.
	 */
	int (*next)(struct record *r, struct dmapipe_buffer **buf,
		    const struct dmapipe_frame_meta **meta, void **frame_data);
	/* Gives a frame back: the disk is done with it, or refused it. */
	void (*give_back)(struct record *r, void *frame_data);
	/* Frames that reached the recorder, and frames lost before it (sequence gaps). */
	void (*counts)(const struct record *r, uint64_t *received, uint64_t *gaps);
};

/* Frames to hold for --buffer/--buffer-mb, for frames of @frame_bytes at @fps. */
static uint32_t frames_needed(const struct record *r, uint64_t frame_bytes, double fps)
{
	double n;

	if (r->buffer_mb)
		n = frame_bytes ? (double)(r->buffer_mb << 20) / (double)frame_bytes : 1;
	else
		n = (double)r->buffer_ms * fps / 1000.0 + 0.999;
	return n < 1 ? 1 : n > 128 ? 128 : (uint32_t)n;
}

/*
 * --buffer over a socket: the stream says neither its rate nor, before a
 * frame, its size. A short look at it (a latest consumer holding one
 * frame) measures both over the first frames: their sizes and the
 * spacing of their timestamps. 0, or -1 after saying why.
 */
static int probe_stream(struct record *r, uint64_t *frame_bytes, double *fps)
{
	struct dmapipe_client_options o = r->copts;
	struct dmapipe_client *c;
	uint64_t first_ts = 0, last_ts = 0, first_seq = 0, last_seq = 0;
	unsigned int n = 0;

	o.policy = DMAPIPE_POLICY_LATEST;
	o.max_in_flight = 1;
	o.name = "dmapipe-record-probe";
	c = connect_client_wait("record", &o, r->timeout_ms, r->quiet);
	if (!c)
		return -1;
	*frame_bytes = 0;
	while (n < 6) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(c, r->timeout_ms ?
								    (int)r->timeout_ms : -1);

		if (!f) {
			tool_error(TOOL_OK, -errno, "--buffer: no frames from %s to size the buffer "
				   "with", r->socket);
			dmapipe_client_free(c);
			return -1;
		}
		*frame_bytes = 0;
		for (int p = 0; p < DMAPIPE_MAX_PLANES; p++)
			*frame_bytes += f->meta.bytes_used[p];
		if (!n) {
			first_ts = f->meta.timestamp_ns;
			first_seq = f->meta.sequence;
		}
		last_ts = f->meta.timestamp_ns;
		last_seq = f->meta.sequence;
		dmapipe_client_release_frame(c, f, -1);
		n++;
	}
	dmapipe_client_free(c);
	/* sequence numbers count the frames "latest" skipped between those seen */
	*fps = last_ts > first_ts && last_seq > first_seq ?
	       (double)(last_seq - first_seq) * 1e9 / (double)(last_ts - first_ts) : 60.0;
	return 0;
}

/*
 * Sizes the buffer (--buffer: a look at the stream); the connection that
 * takes leases waits for stream_start(), once the recording exists:
 * creating it waits for the disk, and leases held meanwhile would time out
 * on a stalled one.
 */
static int stream_open(struct record *r)
{
	r->copts.path = r->socket;
	if (r->buffer_ms || r->buffer_mb) {
		uint64_t frame_bytes;
		double fps;

		if (probe_stream(r, &frame_bytes, &fps) < 0)
			return -1;
		r->need = frames_needed(r, frame_bytes, fps);
		r->copts.max_in_flight = r->need;
		if (r->ropts.max_frames < r->need)
			r->ropts.max_frames = r->need;
		if (!r->quiet)
			fprintf(stderr, "record: buffer of %u frames (%.1f MB, %.0f ms at the "
				"%.1f fps measured)\n", r->need, (double)(frame_bytes * r->need) / 1e6,
				(double)r->need * 1000.0 / fps, fps);
	}
	return 0;
}

/*
 * The recording keeps the producer's nominal rate (FORMAT_INFO), so that
 * export and play need not guess it from timestamps: it comes right after
 * the handshake with FORMAT. The connection is made once the recording
 * exists (stream_start()), so the rate goes to the recorder afterwards and
 * into the superblock it writes at the end. A producer that has no format
 * yet, or tells no rate, leaves it unknown.
 */
static void stream_nominal_rate(struct record *r)
{
	const struct dmapipe_format_info *info;
	uint64_t deadline = now_ns() + 2000000000ull;

	while (!dmapipe_client_get_format(r->client) && !stop_requested && now_ns() < deadline) {
		enum dmapipe_client_state st = dmapipe_client_get_state(r->client);

		if (st != DMAPIPE_CLIENT_CONNECTING && st != DMAPIPE_CLIENT_STREAMING)
			return;
		dmapipe_client_dispatch(r->client, 50);
	}
	/*
	 * A producer sends FORMAT_INFO right after FORMAT and before its
	 * ADD_BUFFERs, but not always in the same burst: wait for it until a
	 * buffer has come (then no FORMAT_INFO preceded it: the producer told
	 * no rate) or the deadline.
	 */
	for (;;) {
		struct dmapipe_client_stats cs;
		enum dmapipe_client_state st = dmapipe_client_get_state(r->client);

		dmapipe_client_get_stats(r->client, &cs);
		if (dmapipe_client_get_format_info(r->client) || cs.buffers_added > 0 ||
		    stop_requested || now_ns() >= deadline ||
		    (st != DMAPIPE_CLIENT_CONNECTING && st != DMAPIPE_CLIENT_STREAMING))
			break;
		dmapipe_client_dispatch(r->client, 20);
	}
	r->received_early = true;
	info = dmapipe_client_get_format_info(r->client);
	if (info && info->fps_num)
		(void)dmapipe_recorder_set_rate(r->rec, info->fps_num, info->fps_den);
}

static int stream_start(struct record *r)
{
	uint32_t granted = 0, timeout_ms = 0;
	uint64_t deadline;

	r->client = connect_client_wait("record", &r->copts, r->timeout_ms, r->quiet);
	if (!r->client) {
		r->end = "error";
		r->error = true;
		return -ENOTCONN;
	}
	deadline = now_ns() + 5000000000ull;
	while (dmapipe_client_get_grant(r->client, &granted, NULL, &timeout_ms) < 0 &&
	       now_ns() < deadline && !stop_requested)
		dmapipe_client_dispatch(r->client, 50);
	/*
	 * The lease clocks restart six times per timeout while frames are
	 * held: a process that does not run for most of a timeout (a loaded
	 * machine) still renews in time.
	 */
	r->keepalive_ns = timeout_ms ? (uint64_t)timeout_ms * 1000000ull / 6 : 0;
	if (granted && granted < r->copts.max_in_flight) {
		const char *opt = r->need ? (r->buffer_ms ? "--buffer" : "--buffer-mb") :
				  "--queue-depth";

		if (r->need)
			tool_error(TOOL_ERR_UNSUPPORTED, 0, "the producer granted %u frames in flight "
				   "of the %u asked (%s); start it with a larger --max-in-flight, and "
				   "--buffers, --max-buffers or --pool-budget to match", granted,
				   r->copts.max_in_flight, opt);
		else
			tool_warn("the producer granted %u frames in flight of the %u asked (%s); "
				  "start it with a larger --max-in-flight, and --buffers, "
				  "--max-buffers or --pool-budget to match", granted,
				  r->copts.max_in_flight, opt);
		if (r->need) {
			r->end = "error";
			r->error = true;
			return -ENOSPC;
		}
	}
	stream_nominal_rate(r);
	return 0;
}

static int stream_fd(const struct record *r)
{
	return dmapipe_client_get_fd(r->client);
}

static void stream_dispatch(struct record *r)
{
	uint64_t now;

	dmapipe_client_dispatch(r->client, 0);
	if (!r->keepalive_ns)
		return;
	/* writes in flight (a stalled disk) must not cost the connection */
	now = now_ns();
	if (now >= r->next_keepalive) {
		if (dmapipe_client_keep_leases(r->client) > 0) {
			if (r->last_keepalive && now - r->last_keepalive > r->keepalive_max_gap_ns)
				r->keepalive_max_gap_ns = now - r->last_keepalive;
			r->last_keepalive = now;
			r->keepalives++;
		} else {
			/* nothing held: the next frame held starts a new run */
			r->last_keepalive = 0;
		}
		r->next_keepalive = now + r->keepalive_ns;
	}
}

static int stream_next(struct record *r, struct dmapipe_buffer **buf,
		       const struct dmapipe_frame_meta **meta, void **frame_data)
{
	struct dmapipe_frame *frame = dmapipe_client_acquire_frame(r->client);
	int err;

	if (frame) {
		*buf = frame->buffer;
		*meta = &frame->meta;
		*frame_data = frame;
		return 0;
	}
	err = errno;
	if (err == EAGAIN)
		return -EAGAIN;
	if (err == EPIPE) {
		r->end = "eos";
		return -EPIPE;
	}
	r->end = err == ECONNRESET ? "disconnected" : "error";
	r->error = true;
	if (err == ECONNRESET)
		tool_error(TOOL_ERR_DISCONNECTED, 0, "the producer on %s went away", r->socket);
	else
		report_stream_error(r->client, r->socket);
	return -err;
}

static void stream_give_back(struct record *r, void *frame_data)
{
	dmapipe_client_release_frame(r->client, frame_data, -1);
}

static void stream_counts(const struct record *r, uint64_t *received, uint64_t *gaps)
{
	struct dmapipe_client_stats cs = { 0 };

	if (r->client)
		dmapipe_client_get_stats(r->client, &cs);
	*received = cs.frames_received;
	*gaps = cs.sequence_gaps;
}

static const struct frame_source stream_source = {
	.open = stream_open,
	.start = stream_start,
	.fd = stream_fd,
	.dispatch = stream_dispatch,
	.next = stream_next,
	.give_back = stream_give_back,
	.counts = stream_counts,
};

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
	if (r->buffer_ms || r->buffer_mb) {
		const struct dmapipe_layout *l = dmapipe_v4l2_source_get_layout(r->source);
		double fps = vi.fps_num && vi.fps_den ? (double)vi.fps_num / vi.fps_den : 60.0;
		uint64_t size = 0;

		for (uint32_t i = 0; i < l->n_objects; i++)
			size += l->objects[i].size;
		r->need = frames_needed(r, size, fps);
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
	int ret = dmapipe_v4l2_source_start(r->source);

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

static int device_next(struct record *r, struct dmapipe_buffer **buf,
		       const struct dmapipe_frame_meta **meta, void **frame_data)
{
	int ret = dmapipe_v4l2_source_dequeue(r->source, buf, &r->meta);

	if (ret == 0) {
		if (r->pattern_device)
			r->meta.flags |= DMAPIPE_FRAME_PATTERN;
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

static const struct frame_source device_source = {
	.open = device_open,
	.start = device_start,
	.fd = device_fd,
	.next = device_next,
	.give_back = device_give_back,
	.counts = device_counts,
};

/* ---- recording ----------------------------------------------------------------------- */

/* The disk is done with a frame (a failure is counted by the recorder's stats). */
static void on_done(struct dmapipe_recorder *rec, void *frame_data, int status, void *user_data)
{
	struct record *r = user_data;

	(void)rec;
	r->src->give_back(r, frame_data);
	r->released++;
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
		if (r->device) {
			struct dmapipe_v4l2_timing t = { .size = sizeof(t) };

			dmapipe_v4l2_source_get_timing(r->source, &t);
			json_u64(&j, "capture_max_dqbuf_latency_ns", t.dqbuf_latency_max_ns);
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
		return run_check(&r);
	if (r.repair)
		return run_repair(&r);
	if (r.strict)
		dmapipe_set_strict(true);
	/* as many leases as frames may be in flight to the disk: --queue-depth means it */
	r.copts.max_in_flight = r.ropts.max_frames;
	r.src = r.device ? &device_source : &stream_source;
	r.ropts.done = on_done;
	r.ropts.user_data = &r;

	install_stop_signals();
	/* before anything else: a name that must not be replaced ends it here */
	if (output_open(&r.out, "record", r.output,
			OUTPUT_SEEKABLE | (r.force ? OUTPUT_FORCE : 0)) < 0)
		return 1;
	r.report = r.out.kind == OUTPUT_STDOUT ? stderr : stdout;
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
