/* SPDX-License-Identifier: MIT */
/*
 * dmapipe-bench, run as `dmapipe bench` (tools/cmd-bench.c execs it): the
 * cost of handing frames across processes, measured in one run next to (a)
 * one memcpy of the same frame and (b) GStreamer's shmsink/shmsrc moving
 * the same frames, without and with a copy into the shm area, and (c) the
 * recorder and replay against fio. Options, the order of the runs, and the
 * report's destination.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static const char *const bench_usage =
	"Usage: dmapipe bench [OPTIONS]\n"
	"\n"
	"Measures the per-frame CPU cost, rate and latency of handing frames from one\n"
	"process to 1 and to 8 others, next to one memcpy of the same frame and to\n"
	"GStreamer's shmsink/shmsrc moving the same frames (its no-copy path, and its\n"
	"copy path with identity drop-allocation=true), and reports ratios.\n"
	"\n"
	"Options:\n"
	"  -n, --frames N          frames per throughput run (default 100000)\n"
	"      --size WxH          frame size (default 3840x2160)\n"
	"  -f, --format FOURCC     pixel format (default NV12)\n"
	"  -c, --consumers LIST    consumer counts, comma separated (default 1,8)\n"
	"  -r, --repeat N          unthrottled runs per setting; the median is\n"
	"                          reported with the spread (default 5)\n"
	"      --latency-frames N  frames per paced latency run (default 300)\n"
	"      --latency-fps N     rate of the paced runs (default 60)\n"
	"      --latency-pairs N   paced runs per consumer count, each paired with a raw\n"
	"                          socket ping-pong run back to back, each side first in\n"
	"                          turn; the ratios are medians over the pairs (default 5,\n"
	"                          1 to 9)\n"
	"      --memcpy-runs N     timed memcpy runs (default 60)\n"
	"      --gst-frames N      frames per GStreamer run (default 1000; long unthrottled\n"
	"                          shm runs are known to deadlock)\n"
	"      --gst-probe N       one more shm run of N frames, to see whether a long\n"
	"                          run deadlocks (default 3000, 0 = skip; 30 s limit)\n"
	"      --gst-timeout MS    give a GStreamer run up to MS (default 60000)\n"
	"      --no-gst            skip the GStreamer comparison\n"
	"      --allocator NAME    producer's allocator (default: best available)\n"
	"      --storage-dir DIR   where the storage runs write (default: BUILDDIR/tmp when\n"
	"                          run from a build tree, else $TMPDIR or /var/tmp); the\n"
	"                          file system must take O_DIRECT\n"
	"      --storage-size MB   written (and read) per storage run (default 2048)\n"
	"      --storage-repeat N  fio / dmapipe storage pairs, each side first in turn\n"
	"                          (default 7, at most 9)\n"
	"      --storage-max-request KIB\n"
	"                          cap the device's requests at KIB for the storage runs\n"
	"                          (its queue's max_sectors_kb, put back afterwards; needs\n"
	"                          root), so both sides send requests of one size whatever\n"
	"                          the physical layout of their buffers\n"
	"      --no-storage        skip the storage comparison with fio\n"
	"      --rtsp              also measure dmapipe rtsp's CPU per frame at 1080p30 for 1\n"
	"                          and 8 clients, beside videotestsrc in the same server\n"
	"                          (about 2 minutes; needs dmapipe rtsp)\n"
	"      --display           measure only `dmapipe display` beside GStreamer's kmssink\n"
	"                          on a KMS device (the VM lane's vkms): CPU per frame shown;\n"
	"                          exit 77 without a KMS device\n"
	"      --display-frames N  frames per display run (default 300)\n"
	"      --display-repeat N  runs of each display consumer, 1 to 5 (default 3)\n"
	"      --display-device PATH\n"
	"                          the KMS device (default: the first with a connected\n"
	"                          connector)\n"
	"  -o, --output FILE       also write the report as markdown (docs/BENCHMARKS.md)\n"
	"      --json              print the results as JSON instead of the report\n"
	"                          (docs/JSON.md)\n"
	"      --keep              keep the directory with every process's output\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 a measurement failed (its logs\n"
	"are kept), 2 bad command line.\n";

enum {
	OPT_SIZE = 256,
	OPT_LATENCY_FRAMES,
	OPT_LATENCY_FPS,
	OPT_LATENCY_PAIRS,
	OPT_MEMCPY_RUNS,
	OPT_GST_FRAMES,
	OPT_GST_TIMEOUT,
	OPT_GST_PROBE,
	OPT_NO_GST,
	OPT_ALLOCATOR,
	OPT_JSON,
	OPT_KEEP,
	OPT_STORAGE_DIR,
	OPT_STORAGE_SIZE,
	OPT_STORAGE_REPEAT,
	OPT_STORAGE_MAX_REQUEST,
	OPT_NO_STORAGE,
	OPT_RTSP,
	OPT_DISPLAY,
	OPT_DISPLAY_FRAMES,
	OPT_DISPLAY_REPEAT,
	OPT_DISPLAY_DEVICE,
};

/*
 * Every ratio uses the faster of the two memcpy medians: a slow moment of
 * the machine must not make the handoff look cheaper than it is.
 */
static void apply_reference(struct bench *b)
{
	double ref = b->copy.median_ms;
	unsigned int i;

	if (b->copy_end.median_ms > 0 && (ref <= 0 || b->copy_end.median_ms < ref))
		ref = b->copy_end.median_ms;
	b->memcpy_ref_ms = ref;
	if (ref <= 0)
		return;
	for (i = 0; i < b->o.n_consumers; i++) {
		b->thr[i].ratio_memcpy = b->thr[i].cpu_per_frame_us / (ref * 1e3);
		b->deep[i].ratio_memcpy = b->deep[i].cpu_per_frame_us / (ref * 1e3);
		b->nopoll[i].ratio_memcpy = b->nopoll[i].cpu_per_frame_us / (ref * 1e3);
		b->lat[i].ratio_memcpy = b->lat[i].cpu_per_frame_us / (ref * 1e3);
		b->gst[i].ratio_memcpy = b->gst[i].transport_cpu_per_frame_us / (ref * 1e3);
		b->gst_copy[i].ratio_memcpy = b->gst_copy[i].transport_cpu_per_frame_us /
					      (ref * 1e3);
	}
}

/* BUILDDIR/tmp when this program runs from a build tree, else $TMPDIR or /var/tmp. */
static const char *default_storage_dir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX];

	if (build_dir(dir, sizeof(dir)) && snprintf(buf, len, "%s/tmp", dir) < (int)len) {
		mkdir(buf, 0755);
		return buf;
	}
	snprintf(buf, len, "%s", tmp && *tmp ? tmp : "/var/tmp");
	return buf;
}

static void parse_consumers(const char *s, struct bench_opts *o)
{
	char buf[128], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		usage_error("bench", "--consumers list too long");
	strcpy(buf, s);
	o->n_consumers = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->n_consumers == MAX_RUNS)
			usage_error("bench", "--consumers takes at most %d counts", MAX_RUNS);
		o->consumers[o->n_consumers++] = opt_u32("bench", "--consumers", tok, 1,
							 MAX_PROCS - 1);
	}
	if (o->n_consumers == 0)
		usage_error("bench", "--consumers wants a list such as 1,8");
}

/*
 * The dmapipe tool whose serve and consume are measured: $DMAPIPE_TOOL
 * (`dmapipe bench` sets it to itself, so the tool and the bench always come
 * from one build), then the tools/dmapipe of the build tree this program
 * runs from, then dmapipe from PATH. False after printing why.
 */
static bool find_tool(char *out, size_t len)
{
	const char *env = getenv("DMAPIPE_TOOL");
	char dir[PATH_MAX];

	if (env && *env) {
		snprintf(out, len, "%s", env);
		if (access(out, X_OK) == 0)
			return true;
		tool_error(TOOL_ERR_NOT_INSTALLED, errno, "DMAPIPE_TOOL=%s", env);
		return false;
	}
	if (build_dir(dir, sizeof(dir)) && snprintf(out, len, "%s/tools/dmapipe", dir) < (int)len &&
	    access(out, X_OK) == 0)
		return true;
	if (find_in_path("dmapipe", out, len))
		return true;
	tool_error(TOOL_ERR_NOT_INSTALLED, 0, "cannot find the dmapipe tool (not in this build "
		   "tree, not in PATH); set DMAPIPE_TOOL to its path");
	return false;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "format", required_argument, NULL, 'f' },
		{ "consumers", required_argument, NULL, 'c' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "latency-frames", required_argument, NULL, OPT_LATENCY_FRAMES },
		{ "latency-fps", required_argument, NULL, OPT_LATENCY_FPS },
		{ "latency-pairs", required_argument, NULL, OPT_LATENCY_PAIRS },
		{ "memcpy-runs", required_argument, NULL, OPT_MEMCPY_RUNS },
		{ "gst-frames", required_argument, NULL, OPT_GST_FRAMES },
		{ "gst-timeout", required_argument, NULL, OPT_GST_TIMEOUT },
		{ "gst-probe", required_argument, NULL, OPT_GST_PROBE },
		{ "no-gst", no_argument, NULL, OPT_NO_GST },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "storage-dir", required_argument, NULL, OPT_STORAGE_DIR },
		{ "storage-size", required_argument, NULL, OPT_STORAGE_SIZE },
		{ "storage-repeat", required_argument, NULL, OPT_STORAGE_REPEAT },
		{ "storage-max-request", required_argument, NULL, OPT_STORAGE_MAX_REQUEST },
		{ "no-storage", no_argument, NULL, OPT_NO_STORAGE },
		{ "rtsp", no_argument, NULL, OPT_RTSP },
		{ "display", no_argument, NULL, OPT_DISPLAY },
		{ "display-frames", required_argument, NULL, OPT_DISPLAY_FRAMES },
		{ "display-repeat", required_argument, NULL, OPT_DISPLAY_REPEAT },
		{ "display-device", required_argument, NULL, OPT_DISPLAY_DEVICE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *b;
	size_t used;
	unsigned int i;
	int c, status = 0;

	tool_start("bench", argc, argv);
	b = calloc(1, sizeof(*b));
	if (!b)
		return tool_finish(1);
	b->o.format.fourcc = dmapipe_fourcc_from_string("NV12");
	b->o.format.width = 3840;
	b->o.format.height = 2160;
	b->o.format.modifier = DMAPIPE_MOD_LINEAR;
	b->o.frames = 100000;
	b->o.repeat = 5;
	b->o.latency_frames = 300;
	b->o.latency_fps = 60;
	b->o.latency_pairs = 5;
	b->o.memcpy_runs = 60;
	b->o.gst_frames = 1000;
	b->o.gst_probe_frames = 3000;
	b->o.gst_timeout_ms = 60000;
	b->o.consumers[0] = 1;
	b->o.consumers[1] = 8;
	b->o.n_consumers = 2;
	b->o.gst = true;
	b->o.storage = true;
	b->o.storage_mb = 2048;
	b->o.storage_repeat = 7;
	b->o.display_frames = 300;
	b->o.display_repeat = 3;

	while ((c = getopt_long(argc, argv, ":n:f:c:r:o:h", options, NULL)) != -1) {
		switch (c) {
		case 'n':
			b->o.frames = opt_u64("bench", "--frames", optarg);
			if (b->o.frames == 0)
				usage_error("bench", "--frames must be at least 1");
			break;
		case OPT_SIZE:
			opt_size("bench", optarg, &b->o.format.width, &b->o.format.height);
			break;
		case 'f':
			b->o.format.fourcc = opt_format("bench", optarg);
			break;
		case 'c':
			parse_consumers(optarg, &b->o);
			break;
		case 'r':
			b->o.repeat = opt_u32("bench", "--repeat", optarg, 1, 100);
			break;
		case OPT_LATENCY_FRAMES:
			b->o.latency_frames = opt_u64("bench", "--latency-frames", optarg);
			if (b->o.latency_frames == 0)
				usage_error("bench", "--latency-frames must be at least 1");
			break;
		case OPT_LATENCY_FPS:
			b->o.latency_fps = opt_u32("bench", "--latency-fps", optarg, 1, 100000);
			break;
		case OPT_LATENCY_PAIRS:
			b->o.latency_pairs = opt_u32("bench", "--latency-pairs", optarg, 1,
						     MAX_PAIRS);
			break;
		case OPT_MEMCPY_RUNS:
			b->o.memcpy_runs = opt_u32("bench", "--memcpy-runs", optarg, 1, 100000);
			break;
		case OPT_GST_FRAMES:
			b->o.gst_frames = opt_u64("bench", "--gst-frames", optarg);
			if (b->o.gst_frames == 0 || b->o.gst_frames > 100000)
				usage_error("bench", "--gst-frames wants 1 to 100000");
			break;
		case OPT_GST_TIMEOUT:
			b->o.gst_timeout_ms = opt_u32("bench", "--gst-timeout", optarg, 1000,
						      3600000);
			break;
		case OPT_GST_PROBE:
			b->o.gst_probe_frames = opt_u64("bench", "--gst-probe", optarg);
			if (b->o.gst_probe_frames > 1000000)
				usage_error("bench", "--gst-probe wants 0 to 1000000");
			break;
		case OPT_NO_GST:
			b->o.gst = false;
			break;
		case OPT_ALLOCATOR:
			b->o.allocator = optarg;
			break;
		case 'o':
			b->o.output = optarg;
			break;
		case OPT_JSON:
			b->o.json = true;
			break;
		case OPT_KEEP:
			b->o.keep = true;
			break;
		case OPT_STORAGE_DIR:
			b->o.storage_dir = optarg;
			break;
		case OPT_STORAGE_SIZE:
			b->o.storage_mb = opt_u32("bench", "--storage-size", optarg, 64, 1 << 20);
			break;
		case OPT_STORAGE_REPEAT:
			b->o.storage_repeat = opt_u32("bench", "--storage-repeat", optarg, 1,
						      STORAGE_MAX_REPEAT);
			break;
		case OPT_STORAGE_MAX_REQUEST:
			b->o.storage_max_request = opt_u32("bench", "--storage-max-request", optarg,
							   4, 1 << 20);
			break;
		case OPT_NO_STORAGE:
			b->o.storage = false;
			break;
		case OPT_RTSP:
			b->o.rtsp = true;
			break;
		case OPT_DISPLAY:
			b->o.display = true;
			break;
		case OPT_DISPLAY_FRAMES:
			b->o.display_frames = opt_u32("bench", "--display-frames", optarg, 10, 100000);
			break;
		case OPT_DISPLAY_REPEAT:
			b->o.display_repeat = opt_u32("bench", "--display-repeat", optarg, 1,
						      GST_REPEATS);
			break;
		case OPT_DISPLAY_DEVICE:
			b->o.display_device = optarg;
			break;
		case 'h':
			fputs(bench_usage, stdout);
			free(b);
			return tool_finish(0);
		default:
			usage_getopt_error("bench", c, argv);
		}
	}
	usage_no_operands("bench", argc, argv);

	/* what the user runs, however this program was started */
	used = (size_t)snprintf(b->o.command, sizeof(b->o.command), "dmapipe bench");
	for (i = 1; i < (unsigned int)argc && used < sizeof(b->o.command); i++)
		used += (size_t)snprintf(b->o.command + used, sizeof(b->o.command) - used,
					 " %s", argv[i]);

	if (!find_tool(b->tool, sizeof(b->tool))) {
		free(b);
		return tool_finish(1);
	}
	install_stop_signals();
	dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
	describe_machine(b);
	if (b->o.allocator && strcmp(b->m.allocator, "none") == 0)
		usage_error("bench", "allocator '%s' is unknown or unavailable here", b->o.allocator);
	b->dir = make_private_dir("bench");
	if (!b->dir) {
		free(b);
		return tool_finish(1);
	}
	gst_find(b);

	bench_log("machine: %s, %ld cores, kernel %s, allocator %s (%s)", b->m.cpu, b->m.cores,
		  b->m.kernel, b->m.allocator, b->m.memory);
	if (b->o.display) {
		/* a section of its own: it needs a KMS device, which few benches have */
		status = bench_display(b);
		if (bench_display_report(b) < 0 && status == 0)
			status = 1;
		if (status == 1 || b->o.keep)
			fprintf(stderr, "dmapipe bench: logs kept in %s\n", b->dir);
		else
			remove_private_dir(b->dir);
		free(b->dir);
		free(b);
		return status;
	}
	bench_log("(a) memcpy of one frame, cache-cold ...");
	if (measure_copy(b, &b->copy) < 0) {
		bench_log("    the memcpy measurement failed");
		status = 1;
	}
	bench_log("    median %.3f ms (%.1f GB/s)", b->copy.median_ms, b->copy.gbps);

	/* the paced ping-pong runs are paired with dmapipe's (run_paced_pairs) */
	bench_log("raw socket ping-pong (the floor): %llu frames unthrottled ...",
		  (unsigned long long)b->o.frames);
	run_pingpong(b->o.frames, 0, &b->pp_fast);
	if (b->pp_fast.ok)
		bench_log("    %.2f us CPU per frame", b->pp_fast.cpu_per_frame_us);
	else
		bench_log("    FAILED: %s", b->pp_fast.error);

	bench_log("one cache line between two cores (the shared-memory floor) ...");
	run_cacheline(&b->cacheline);
	if (b->cacheline.ok)
		bench_log("    CPUs %d and %d: round trip %.0f ns, one way %.0f ns (median of %u runs)",
			  b->cacheline.cpus[0], b->cacheline.cpus[1], b->cacheline.rtt_ns,
			  b->cacheline.one_way_ns, b->cacheline.runs);
	else
		bench_log("    %s: %s", b->cacheline.skipped ? "skipped" : "FAILED",
			  b->cacheline.error);

	for (i = 0; i < b->o.n_consumers && !stop_requested; i++) {
		/* the defaults, deeper pipelining, and the defaults without busy
		 * polling: what the adaptive polling buys, in the same run */
		struct dp_result *r;
		unsigned int k;

		for (k = 0; k < N_SETTINGS && !stop_requested; k++) {
			const struct handoff_setting *s = &handoff_settings[k];

			bench_log("dmapipe: %u consumer%s, %llu frames, unthrottled, in-flight %u, "
				  "block:%u, %u buffers%s, %u runs ...", b->o.consumers[i],
				  b->o.consumers[i] == 1 ? "" : "s", (unsigned long long)b->o.frames,
				  s->in_flight, s->depth, s->buffers,
				  s->no_poll ? ", no busy polling" : "", b->o.repeat);
			r = &handoff_runs(b, k)[i];
			run_dmapipe_repeated(b, b->o.consumers[i], s, r);
			if (r->ok)
				bench_log("    %.0f frames/s, %.2f us CPU per frame (%.3f%% of the first "
					  "memcpy; runs %.2f to %.2f us), %llu bytes copied, pool %u buffers "
					  "(%.0f MB)", r->fps_consumer_min, r->cpu_per_frame_us,
					  r->ratio_memcpy * 100, r->cpu_min_us, r->cpu_max_us,
					  (unsigned long long)r->bytes_copied, r->pool_buffers,
					  (double)r->pool_bytes / 1e6);
			else
				bench_log("    FAILED: %s", r->error);
		}

		bench_log("dmapipe: %u consumer%s, %llu frames at %u fps, against a raw socket "
			  "ping-pong, %u pair%s ...", b->o.consumers[i],
			  b->o.consumers[i] == 1 ? "" : "s", (unsigned long long)b->o.latency_frames,
			  b->o.latency_fps, b->o.latency_pairs, b->o.latency_pairs == 1 ? "" : "s");
		run_paced_pairs(b, i);
		if (b->paced[i].ok)
			bench_log("    dmapipe / ping-pong, medians of %u pair%s: CPU per frame "
				  "%.2fx, latency p50 %.2fx, p99 %.2fx", b->paced[i].n,
				  b->paced[i].n == 1 ? "" : "s",
				  b->paced[i].cpu_ratio.median, b->paced[i].p50_ratio.median,
				  b->paced[i].p99_ratio.median);
	}

	producer_extra_all(b);
	for (i = 0; i < N_SETTINGS; i++) {
		const struct producer_extra *e = &b->extra[i];

		if (!e->ok)
			continue;
		bench_log("producer, %s: %.0f ns CPU per frame with %u consumer%s, %.0f ns with %u: "
			  "%.0f ns per extra consumer (a ring write, two cache-line transfers: "
			  "%.0f ns)", e->setting, e->lo_ns, e->lo, e->lo == 1 ? "" : "s", e->hi_ns,
			  e->hi, e->per_consumer_ns, e->ring_write_ns);
	}

	if (b->gst_launch[0] && !stop_requested) {
		bench_log("(b) GStreamer baselines (start-up, videotestsrc ! fakesink) ...");
		gst_baselines(b);
	}
	for (i = 0; i < b->o.n_consumers && !stop_requested; i++) {
		/* the no-copy path, then the copy path with the same readers */
		for (unsigned int copy = 0; copy < 2 && !stop_requested; copy++) {
			struct gst_result *g = copy ? &b->gst_copy[i] : &b->gst[i];

			if (b->gst_launch[0] && b->o.gst)
				bench_log("GStreamer shm, %s path: %u reader%s, %llu frames x %d "
					  "runs ...", copy ? "copy" : "no-copy", b->o.consumers[i],
					  b->o.consumers[i] == 1 ? "" : "s",
					  (unsigned long long)b->o.gst_frames, GST_REPEATS);
			run_gst(b, b->o.consumers[i], copy, g);
			if (g->measured)
				bench_log("    %.2f us transport CPU per frame (%.2f%% of the first memcpy), "
					  "%.0f frames/s", g->transport_cpu_per_frame_us,
					  g->ratio_memcpy * 100, g->fps);
			else
				bench_log("    %s", g->status);
		}
	}

	if (b->gst_launch[0] && b->o.gst && b->gst_base_ok && b->o.gst_probe_frames &&
	    !stop_requested) {
		bench_log("GStreamer shm: probe, 1 reader, %llu frames ...",
			  (unsigned long long)b->o.gst_probe_frames);
		run_gst_probe(b);
		bench_log("    %s", b->gst_probe);
	}

	if (b->o.storage && !stop_requested) {
		struct storage_opts so;
		char dir[PATH_MAX], fio[PATH_MAX];
		struct storage_result *sr = &b->storage;

		memset(&so, 0, sizeof(so));
		so.dir = b->o.storage_dir ? b->o.storage_dir : default_storage_dir(dir, sizeof(dir));
		so.fio = find_in_path("fio", fio, sizeof(fio)) ? fio : NULL;
		so.log_dir = b->dir;
		so.bytes = b->o.storage_mb << 20;
		so.repeat = b->o.storage_repeat;
		so.max_request_kib = b->o.storage_max_request;
		bench_log("(c) storage in %s: %llu MB per run, fio against the recorder and "
			  "the replay reader ...", so.dir, (unsigned long long)b->o.storage_mb);
		storage_run_all(&so, &b->o.format, sr);
		if (!sr->ran)
			bench_log("    not measured: %s", sr->skipped);
		else
			bench_log("    write: fio %.0f MB/s, recorder %.0f MB/s (%.1f%%); read: fio "
				  "%.0f MB/s, replay %.0f MB/s (%.1f%%)", sr->fio_write.mb_s,
				  sr->rec_direct.mb_s, sr->fio_write.mb_s > 0 ?
				  sr->rec_direct.mb_s / sr->fio_write.mb_s * 100 : 0,
				  sr->fio_read.mb_s, sr->replay.mb_s, sr->fio_read.mb_s > 0 ?
				  sr->replay.mb_s / sr->fio_read.mb_s * 100 : 0);
	}

	if (b->o.rtsp && !stop_requested) {
		bench_log("(d) dmapipe rtsp against gst-rtsp-server fed by videotestsrc ...");
		rtsp_run_all(b, &b->rtsp);
	}

	if (!stop_requested) {
		bench_log("(a) memcpy again, to see whether the machine changed ...");
		if (measure_copy(b, &b->copy_end) < 0)
			status = 1;
		bench_log("    median %.3f ms (%.1f GB/s)", b->copy_end.median_ms,
			  b->copy_end.gbps);
	}
	apply_reference(b);

	for (i = 0; i < b->o.n_consumers; i++)
		if (!b->thr[i].ok || !b->deep[i].ok || !b->lat[i].ok || !b->paced[i].ok)
			status = 1;

	read_load(b->m.load_end, sizeof(b->m.load_end));
	/* the failures are known before the report, which says them */
	if (status != 0 && !stop_requested)
		tool_error(TOOL_ERR_INTERNAL, 0, "some measurements failed; logs kept in %s",
			   b->dir);
	if (b->o.output) {
		if (write_report_file(b) < 0)
			status = 1;
		else
			bench_log("report written to %s", b->o.output);
	}
	if (b->o.json)
		write_json(b);
	else
		write_markdown(b, stdout);
	/* interrupted: what was measured is the report, not a failure */
	if (stop_requested && tool.error == TOOL_OK)
		status = 0;
	for (i = 0; i < b->o.n_consumers; i++)
		if (b->gst[i].failures || b->gst_copy[i].failures)
			b->o.keep = true;
	if (status != 0 || b->o.keep)
		fprintf(stderr, "bench: logs kept in %s\n", b->dir);
	else
		remove_private_dir(b->dir);
	free(b->dir);
	free(b);
	return tool_finish(status);
}
