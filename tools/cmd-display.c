/* SPDX-License-Identifier: MIT */
/* dmapipe display: show a stream on a screen through KMS, without a copy. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe-tool.h"

static const char *const display_usage =
	"Usage: dmapipe display [--socket SOCKET] [OPTIONS]\n"
	"\n"
	"Shows a stream on a screen through KMS: the display controller scans out\n"
	"each frame's own dma-buf, imported once per buffer with PRIME and never\n"
	"copied. Frames go up with non-blocking atomic commits; a frame's lease\n"
	"goes back to the producer when the next one is on screen (or at once, with\n"
	"a release fence). The display never slows the producer: it takes the\n"
	"newest frame and drops the others. Prints progress and a summary: frames\n"
	"shown and dropped, flips, latency from receipt to flip, bytes copied.\n"
	"`dmapipe info` lists the KMS devices, their connectors and planes.\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET     the producer's socket (default: the stream \"default\")\n"
	HELP_SOCKET_NAME
	"  -d, --device PATH       the KMS device, e.g. /dev/dri/card1 (default: the first\n"
	"                          with a connected connector)\n"
	"      --connector NAME    the connector, e.g. Virtual-1 or HDMI-A-1 (default: the\n"
	"                          first connected one)\n"
	"      --mode WxH          the mode (default: the connector's preferred mode)\n"
	"      --rect X,Y,WxH      where frames go on the screen (default: as large as the\n"
	"                          frame's aspect ratio allows and centred, where the plane\n"
	"                          can scale; else the frame's own size, centred)\n"
	"  -n, --frames N          stop after N frames shown, 0 = until end of stream\n"
	"                          (default 0)\n"
	"      --policy POLICY     latest (default), queue:N or block:N\n"
	"      --release-fences    hand each frame back with a release fence as soon as the\n"
	"                          next one is committed, not after its flip\n"
	"      --check-writeback N compose a frame with the device's writeback connector\n"
	"                          at most every Nth frame and 250 ms apart, and compare\n"
	"                          it with the frame, pixel by pixel\n"
	"                          (XRGB8888 and ARGB8888 frames shown unscaled); where the\n"
	"                          driver cannot run it beside the output (vkms), make it\n"
	"                          the output: --connector Writeback-1 --mode WxH\n"
	"      --timeout MS        fail if no frame arrives for MS, also while waiting for\n"
	"                          the producer to appear (default 10000, 0 = never)\n"
	"      --name NAME         name shown in the producer's stats\n"
	"  -q, --quiet             no status line every second\n"
	"      --json              print the summary as JSON on stdout (docs/JSON.md); a\n"
	"                          failure too\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (no screen, no producer,\n"
	"the display or the stream failed, a writeback check found the screen\n"
	"differing from the frame), 2 bad command line.\n";

enum {
	OPT_CONNECTOR = 256,
	OPT_MODE,
	OPT_RECT,
	OPT_POLICY,
	OPT_RELEASE_FENCES,
	OPT_CHECK_WRITEBACK,
	OPT_TIMEOUT,
	OPT_NAME,
	OPT_JSON,
};

#ifndef DRM_FORMAT_XRGB8888
#define DRM_FORMAT_XRGB8888 0x34325258u /* 'XR24' */
#define DRM_FORMAT_ARGB8888 0x34325241u /* 'AR24' */
#endif

struct display_cmd {
	struct dmapipe_client_options copts;
	struct dmapipe_display_options dopts;
	const char *socket;
	uint64_t frames;
	uint32_t timeout_ms;
	bool quiet;
	bool json;

	struct dmapipe_client *client;
	struct dmapipe_display *display;

	struct dmapipe_format format;
	enum dmapipe_mem_kind mem_kind;
	uint64_t received, shown, gaps, last_seq;
	bool have_seq;
	struct samples latency;  /* receipt to flip */
	struct samples interval; /* the same since the last status line */
	uint64_t wb_checked, wb_skipped, wb_failed;
	char wb_first_failure[160];
	uint64_t t0, t1, cpu0, cpu1;
	const char *end;
	bool error;
};

/* "X,Y,WxH" */
static void opt_rect(const char *s, struct dmapipe_display_options *o)
{
	char buf[64], *size;
	int x, y, n = 0;

	if (strlen(s) >= sizeof(buf) || sscanf(s, "%d,%d,%n", &x, &y, &n) != 2 || n == 0)
		usage_error("display", "bad rectangle '%s': expected X,Y,WxH such as 0,0,1280x720",
			    s);
	strcpy(buf, s);
	size = buf + n;
	opt_size("display", size, &o->width, &o->height);
	o->x = x;
	o->y = y;
}

static void parse_args(struct display_cmd *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "device", required_argument, NULL, 'd' },
		{ "connector", required_argument, NULL, OPT_CONNECTOR },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "rect", required_argument, NULL, OPT_RECT },
		{ "frames", required_argument, NULL, 'n' },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "release-fences", no_argument, NULL, OPT_RELEASE_FENCES },
		{ "check-writeback", required_argument, NULL, OPT_CHECK_WRITEBACK },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, ":s:d:n:qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->socket = optarg;
			break;
		case 'd':
			c->dopts.device = optarg;
			break;
		case OPT_CONNECTOR:
			if (!*optarg)
				usage_error("display", "--connector wants a name such as Virtual-1");
			c->dopts.connector = optarg;
			break;
		case OPT_MODE:
			opt_size("display", optarg, &c->dopts.mode_width, &c->dopts.mode_height);
			break;
		case OPT_RECT:
			opt_rect(optarg, &c->dopts);
			break;
		case 'n':
			c->frames = opt_u64("display", "--frames", optarg);
			break;
		case OPT_POLICY:
			opt_policy("display", optarg, &c->copts.policy, &c->copts.queue_depth);
			break;
		case OPT_RELEASE_FENCES:
			c->dopts.release_fences = true;
			break;
		case OPT_CHECK_WRITEBACK:
			c->dopts.writeback_interval = opt_u32("display", "--check-writeback", optarg,
							      1, 100000);
			break;
		case OPT_TIMEOUT:
			c->timeout_ms = opt_u32("display", "--timeout", optarg, 0, 86400000);
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 31)
				usage_error("display", "--name wants 1 to 31 characters");
			c->copts.name = optarg;
			break;
		case 'q':
			c->quiet = true;
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case 'h':
			fputs(display_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("display", ch, argv);
		}
	}
	usage_no_operands("display", argc, argv);
	c->socket = opt_socket("display", c->socket);
}

/* ---- the display's callbacks ------------------------------------------------ */

static void on_done(struct dmapipe_display *display, void *frame_data, int status,
		    int release_fence, void *user_data)
{
	struct display_cmd *c = user_data;

	(void)display;
	(void)status;
	dmapipe_client_release_frame(c->client, frame_data, release_fence);
}

static void on_shown(struct dmapipe_display *display, void *frame_data, uint64_t flip_ns,
		     uint64_t vblank, void *user_data)
{
	struct display_cmd *c = user_data;
	struct dmapipe_frame *f = frame_data;

	(void)display;
	(void)vblank;
	c->shown++;
	if (f->received_ns && flip_ns >= f->received_ns) {
		samples_add(&c->latency, flip_ns - f->received_ns);
		if (!c->quiet)
			samples_add(&c->interval, flip_ns - f->received_ns);
	}
}

static uint32_t pixel(const uint8_t *plane, uint32_t stride, uint32_t x, uint32_t y)
{
	const uint8_t *p = plane + (uint64_t)y * stride + (uint64_t)x * 4;

	/* XRGB8888 is B, G, R, X in memory; X (or alpha) does not reach the screen's colour */
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/*
 * The composed screen equals the frame where the frame is and is black
 * elsewhere (an unscaled XRGB8888 or ARGB8888 frame: alpha is
 * pre-multiplied over the black background, so the colour is the frame's).
 */
static void on_writeback(struct dmapipe_display *display, void *frame_data,
			 struct dmapipe_buffer *composed, void *user_data)
{
	struct display_cmd *c = user_data;
	struct dmapipe_frame *f = frame_data;
	const struct dmapipe_layout *lf = dmapipe_buffer_get_layout(f->buffer);
	const struct dmapipe_layout *lc = dmapipe_buffer_get_layout(composed);
	struct dmapipe_display_info info;
	uint8_t *pf, *pc;
	uint64_t bad = 0;

	dmapipe_display_get_info(display, &info);
	if (info.scaled || (lf->format.fourcc != DRM_FORMAT_XRGB8888 &&
			    lf->format.fourcc != DRM_FORMAT_ARGB8888)) {
		c->wb_skipped++;
		return;
	}
	pf = dmapipe_buffer_map_plane(f->buffer, 0);
	pc = dmapipe_buffer_map_plane(composed, 0);
	if (!pf || !pc || dmapipe_buffer_begin_cpu_access(f->buffer, DMAPIPE_ACCESS_READ) < 0) {
		c->wb_skipped++;
		return;
	}
	if (dmapipe_buffer_begin_cpu_access(composed, DMAPIPE_ACCESS_READ) < 0) {
		dmapipe_buffer_end_cpu_access(f->buffer, DMAPIPE_ACCESS_READ);
		c->wb_skipped++;
		return;
	}
	for (uint32_t y = 0; y < lc->format.height; y++) {
		for (uint32_t x = 0; x < lc->format.width; x++) {
			int64_t fx = (int64_t)x - info.x, fy = (int64_t)y - info.y;
			bool inside = fx >= 0 && fy >= 0 && fx < lf->format.width &&
				      fy < lf->format.height;
			uint32_t want = inside ? pixel(pf + lf->planes[0].offset,
						       lf->planes[0].stride, (uint32_t)fx,
						       (uint32_t)fy) : 0;
			uint32_t got = pixel(pc, lc->planes[0].stride, x, y);

			if (want == got)
				continue;
			if (!bad && !c->wb_failed)
				snprintf(c->wb_first_failure, sizeof(c->wb_first_failure),
					 "frame %llu: screen pixel %u,%u is #%06x, the frame's is #%06x",
					 (unsigned long long)f->meta.sequence, x, y, got, want);
			bad++;
		}
	}
	dmapipe_buffer_end_cpu_access(composed, DMAPIPE_ACCESS_READ);
	dmapipe_buffer_end_cpu_access(f->buffer, DMAPIPE_ACCESS_READ);
	c->wb_checked++;
	if (bad) {
		c->wb_failed++;
		if (!c->quiet && c->wb_failed == 1)
			tool_warn("writeback check FAILED: %s (%llu pixels differ)",
				  c->wb_first_failure, (unsigned long long)bad);
	}
}

/* ---- the loop ---------------------------------------------------------------- */

static void account_sequence(struct display_cmd *c, uint64_t seq)
{
	if (c->have_seq && seq > c->last_seq)
		c->gaps += seq - c->last_seq - 1;
	c->have_seq = true;
	c->last_seq = seq;
}

static void first_frame(struct display_cmd *c, struct dmapipe_frame *frame, uint64_t now)
{
	const struct dmapipe_format *fmt = dmapipe_client_get_format(c->client);

	c->t0 = frame->received_ns ? frame->received_ns : now;
	c->cpu0 = self_cpu_total_ns();
	if (fmt)
		c->format = *fmt;
	c->mem_kind = dmapipe_buffer_get_mem_kind(frame->buffer);
}

static void announce(struct display_cmd *c)
{
	struct dmapipe_display_info info;
	char fourcc[16];

	if (c->quiet || c->json)
		return;
	dmapipe_display_get_info(c->display, &info);
	fprintf(stderr, "display: %s %ux%u, %s, on %s (%s) %s %ux%u@%u, plane %u (%s) at "
		"%d,%d %ux%u%s\n",
		dmapipe_fourcc_to_string(c->format.fourcc, fourcc, sizeof(fourcc)),
		c->format.width, c->format.height, dmapipe_mem_kind_to_string(c->mem_kind),
		info.device, info.driver, info.connector, info.mode_width, info.mode_height,
		info.mode_refresh, info.plane_id,
		dmapipe_kms_plane_type_to_string(info.plane_type), info.x, info.y, info.width,
		info.height, info.scaled ? ", scaled" : "");
}

/* The producer said why it ended the connection. */
static void producer_error(struct display_cmd *c)
{
	enum dmapipe_error_code code = dmapipe_client_get_error(c->client, NULL);

	if (code == DMAPIPE_ERR_STRICT) {
		tool_log_discard();
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "the producer's buffers are not dma-bufs "
			   "(memfds): a display scans out dma-bufs only");
	} else {
		report_stream_error(c->client, c->socket);
	}
	c->end = "error";
	c->error = true;
}

/* Takes every frame received; false when the loop must end. */
static bool take_frames(struct display_cmd *c, uint64_t now, uint64_t *last_frame_ns)
{
	struct dmapipe_frame *frame;

	while ((frame = dmapipe_client_acquire_frame(c->client))) {
		int ret;

		*last_frame_ns = now;
		if (c->received == 0)
			first_frame(c, frame, now);
		c->received++;
		account_sequence(c, frame->meta.sequence);
		ret = dmapipe_display_show(c->display, frame->buffer, &frame->meta, frame);
		if (ret < 0) {
			tool_error(TOOL_ERR_DEVICE, ret, "cannot show frame %llu",
				   (unsigned long long)frame->meta.sequence);
			dmapipe_client_release_frame(c->client, frame, -1);
			c->end = "display-error";
			c->error = true;
			return false;
		}
		if (c->received == 1)
			announce(c);
	}
	if (errno == EAGAIN)
		return true;
	if (errno == EPIPE) {
		c->end = "eos";
	} else if (errno == ECONNRESET) {
		c->end = "disconnected";
		c->error = true;
		tool_error(TOOL_ERR_DISCONNECTED, 0, "the producer on %s went away", c->socket);
	} else {
		producer_error(c);
	}
	return false;
}

static void status_line(struct display_cmd *c, uint64_t shown, uint64_t dt_ns)
{
	struct dmapipe_display_stats ds;
	struct dmapipe_copy_stats cs;

	dmapipe_display_get_stats(c->display, &ds);
	dmapipe_get_copy_stats(&cs);
	fprintf(stderr, "display: frame %llu, %.1f fps shown, latency p50 %.3f ms, %llu dropped, "
		"%llu bytes copied\n", (unsigned long long)c->last_seq,
		(double)shown * 1e9 / (double)dt_ns,
		(double)samples_percentile(&c->interval, 50) / 1e6,
		(unsigned long long)(c->gaps + ds.frames_dropped), (unsigned long long)cs.bytes);
	c->interval.n = 0;
}

static void run(struct display_cmd *c)
{
	uint64_t last_frame_ns = now_ns(), next_status = now_ns() + 1000000000ull;
	uint64_t status_t0 = now_ns(), status_shown = 0;
	struct pollfd pfd[2] = {
		{ .fd = dmapipe_client_get_fd(c->client), .events = POLLIN },
		{ .fd = dmapipe_display_get_fd(c->display), .events = POLLIN },
	};

	c->end = "frames";
	while (c->frames == 0 || c->shown < c->frames) {
		uint64_t now;
		int ret;

		if (stop_requested) {
			c->end = "interrupted";
			break;
		}
		poll(pfd, 2, 200);
		ret = dmapipe_display_dispatch(c->display, 0);
		if (ret < 0) {
			tool_error(TOOL_ERR_DEVICE, ret, "the display failed");
			c->end = "display-error";
			c->error = true;
			break;
		}
		if (c->frames && c->shown >= c->frames)
			break;
		ret = dmapipe_client_dispatch(c->client, 0);
		if (ret < 0) {
			tool_error(TOOL_OK, ret, "the stream from %s failed", c->socket);
			c->end = "error";
			c->error = true;
			break;
		}
		now = now_ns();
		if (!take_frames(c, now, &last_frame_ns))
			break;
		if (c->timeout_ms && now - last_frame_ns > (uint64_t)c->timeout_ms * 1000000ull) {
			tool_error(TOOL_ERR_TIMEOUT, 0, "no frame from %s for %u ms", c->socket,
				   c->timeout_ms);
			c->end = "timeout";
			c->error = true;
			break;
		}
		if (!c->quiet && !c->json && c->received && now >= next_status) {
			status_line(c, c->shown - status_shown, now - status_t0);
			status_shown = c->shown;
			status_t0 = now;
			next_status = now + 1000000000ull;
		}
	}
	c->t1 = now_ns();
	c->cpu1 = self_cpu_total_ns();
}

/* ---- the summary ---------------------------------------------------------------- */

static void print_json(struct display_cmd *c, const struct dmapipe_display_info *info,
		       const struct dmapipe_display_stats *ds,
		       const struct dmapipe_copy_stats *copies, double fps)
{
	char fourcc[16];
	struct json j;

	json_begin_document(&j, strcmp(c->end, "interrupted") == 0);
	json_string(&j, "end", c->end);
	json_string(&j, "socket", c->socket);
	json_string(&j, "device", info->device);
	json_string(&j, "driver", info->driver);
	json_string(&j, "connector", info->connector);
	json_u64(&j, "crtc", info->crtc_id);
	json_u64(&j, "mode_width", info->mode_width);
	json_u64(&j, "mode_height", info->mode_height);
	json_u64(&j, "mode_refresh", info->mode_refresh);
	json_u64(&j, "plane", info->plane_id);
	json_string(&j, "plane_type", dmapipe_kms_plane_type_to_string(info->plane_type));
	json_begin_object(&j, "rect");
	json_i64(&j, "x", info->x);
	json_i64(&j, "y", info->y);
	json_u64(&j, "width", info->width);
	json_u64(&j, "height", info->height);
	json_end_object(&j);
	json_bool(&j, "scaled", info->scaled);
	json_string(&j, "policy", dmapipe_policy_to_string(c->copts.policy));
	json_bool(&j, "release_fences", c->dopts.release_fences);
	json_string(&j, "fourcc", c->received ?
		    dmapipe_fourcc_to_string(c->format.fourcc, fourcc, sizeof(fourcc)) : NULL);
	json_u64(&j, "width", c->format.width);
	json_u64(&j, "height", c->format.height);
	json_string(&j, "memory", dmapipe_mem_kind_to_string(c->mem_kind));
	json_bool(&j, "dmabuf", c->mem_kind == DMAPIPE_MEM_DMABUF);
	json_u64(&j, "frames_received", c->received);
	json_u64(&j, "frames_shown", c->shown);
	json_u64(&j, "frames_dropped", ds->frames_dropped);
	json_u64(&j, "sequence_gaps", c->gaps);
	json_u64(&j, "frames_failed", ds->frames_failed);
	json_u64(&j, "flips", ds->frames_shown);
	json_u64(&j, "commits", ds->commits);
	json_u64(&j, "imports", ds->imports);
	json_u64(&j, "framebuffers", ds->framebuffers);
	json_u64(&j, "evictions", ds->evictions);
	json_u64(&j, "in_fences", ds->in_fences);
	json_u64(&j, "release_fences_given", ds->release_fences);
	json_u64(&j, "writeback_checked", c->wb_checked);
	json_u64(&j, "writeback_skipped", c->wb_skipped);
	json_u64(&j, "writeback_failed", c->wb_failed);
	json_u64(&j, "writeback_lost", ds->writebacks_lost);
	json_string(&j, "writeback_first_failure", c->wb_failed ? c->wb_first_failure : NULL);
	json_double(&j, "fps", fps);
	json_double(&j, "latency_p50_us", (double)samples_percentile(&c->latency, 50) / 1e3);
	json_double(&j, "latency_p99_us", (double)samples_percentile(&c->latency, 99) / 1e3);
	json_double(&j, "latency_max_us", (double)samples_max(&c->latency) / 1e3);
	json_u64(&j, "bytes_copied", copies->bytes);
	json_u64(&j, "frames_copied", copies->frames);
	json_u64(&j, "cpu_ns", c->cpu1 - c->cpu0);
	json_double(&j, "cpu_ns_per_frame", c->received ?
		    (double)(c->cpu1 - c->cpu0) / (double)c->received : 0);
	json_end_object(&j);
	json_finish(&j);
}

static void print_summary(struct display_cmd *c)
{
	struct dmapipe_display_info info;
	struct dmapipe_display_stats ds;
	struct dmapipe_copy_stats copies;
	double elapsed = c->t1 > c->t0 && c->received ? (double)(c->t1 - c->t0) * 1e-9 : 0;
	double fps = elapsed > 0 ? (double)c->shown / elapsed : 0;
	bool ok = !c->error && c->wb_failed == 0;
	char fourcc[16];

	dmapipe_display_get_info(c->display, &info);
	dmapipe_display_get_stats(c->display, &ds);
	dmapipe_get_copy_stats(&copies);
	if (c->json) {
		print_json(c, &info, &ds, &copies, fps);
		return;
	}
	printf("display: %s (%s)\n", ok ? "ok" : "FAILED", c->end);
	printf("  screen      %s (%s) %s %ux%u@%u, plane %u (%s) at %d,%d %ux%u%s\n",
	       info.device, info.driver, info.connector, info.mode_width, info.mode_height,
	       info.mode_refresh, info.plane_id, dmapipe_kms_plane_type_to_string(info.plane_type),
	       info.x, info.y, info.width, info.height, info.scaled ? " (scaled)" : "");
	if (c->received)
		printf("  stream      %s %ux%u, %s\n",
		       dmapipe_fourcc_to_string(c->format.fourcc, fourcc, sizeof(fourcc)),
		       c->format.width, c->format.height, dmapipe_mem_kind_to_string(c->mem_kind));
	printf("  frames      %llu received, %llu shown, %llu dropped by the display, "
	       "%llu missed in the stream\n", (unsigned long long)c->received,
	       (unsigned long long)c->shown, (unsigned long long)ds.frames_dropped,
	       (unsigned long long)c->gaps);
	printf("  flips       %llu, %.1f fps; %llu commits, %llu waited on a fence\n",
	       (unsigned long long)ds.frames_shown, fps, (unsigned long long)ds.commits,
	       (unsigned long long)ds.in_fences);
	printf("  imports     %llu dma-bufs, %llu framebuffers (%llu evicted)\n",
	       (unsigned long long)ds.imports, (unsigned long long)ds.framebuffers,
	       (unsigned long long)ds.evictions);
	printf("  latency     receipt to flip p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
	       (double)samples_percentile(&c->latency, 50) / 1e6,
	       (double)samples_percentile(&c->latency, 99) / 1e6,
	       (double)samples_max(&c->latency) / 1e6);
	if (c->dopts.writeback_interval)
		printf("  writeback   %llu frames compared with the screen, %llu differ, "
		       "%llu not comparable%s\n", (unsigned long long)c->wb_checked,
		       (unsigned long long)c->wb_failed, (unsigned long long)c->wb_skipped,
		       ds.writebacks_lost ? "; a job was lost, checks stopped" : "");
	if (c->wb_failed)
		printf("  first bad   %s\n", c->wb_first_failure);
	printf("  copied      %llu pixel bytes%s\n", (unsigned long long)copies.bytes,
	       copies.bytes ? "" : " (zero-copy)");
	printf("  cpu         %.1f us per frame\n",
	       c->received ? (double)(c->cpu1 - c->cpu0) / (double)c->received / 1000.0 : 0.0);
}

int cmd_display(int argc, char **argv)
{
	struct display_cmd c;
	int status;

	memset(&c, 0, sizeof(c));
	dmapipe_client_options_init(&c.copts);
	dmapipe_display_options_init(&c.dopts);
	c.timeout_ms = 10000;
	c.copts.name = "dmapipe-display";
	/* on screen, committed, and the next one waiting for the flip */
	c.copts.max_in_flight = 3;
	c.copts.dmabuf_only = true;
	parse_args(&c, argc, argv);
	c.dopts.done = on_done;
	c.dopts.shown = on_shown;
	c.dopts.writeback = on_writeback;
	c.dopts.user_data = &c;

	install_stop_signals();
	/* the screen first: without one there is nothing to connect for */
	c.display = dmapipe_display_new(&c.dopts);
	if (!c.display) {
		tool_error(TOOL_OK, errno, "no screen to show the stream on");
		return 1;
	}
	c.copts.path = c.socket;
	c.client = connect_client_wait("display", &c.copts, c.timeout_ms, c.quiet);
	if (!c.client) {
		dmapipe_display_free(c.display);
		return 1;
	}
	run(&c);
	if (c.wb_failed)
		tool_error(TOOL_ERR_VERIFY, 0, "the screen differed from the frame in %llu of %llu "
			   "writeback checks (first: %s)", (unsigned long long)c.wb_failed,
			   (unsigned long long)c.wb_checked, c.wb_first_failure);
	print_summary(&c);
	/* hands back what the display holds to the client, which must still be there */
	dmapipe_display_free(c.display);
	status = c.error || c.wb_failed ? 1 : 0;
	dmapipe_client_free(c.client);
	samples_free(&c.latency);
	samples_free(&c.interval);
	return status;
}
