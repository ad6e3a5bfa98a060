/* SPDX-License-Identifier: MIT */
/*
 * dmapipe bench --display: the display consumer's CPU per frame shown,
 * beside GStreamer's kmssink, on a KMS device that imports dma-bufs (the
 * VM lane's vkms; a machine without one skips, saying so).
 *
 *   dmapipe display       fed by `dmapipe serve --predrawn` in another
 *                         process: the display process's own CPU from its
 *                         first frame to its last (its JSON), per frame
 *   kmssink, in-process   videotestsrc ! kmssink in one process, minus
 *                         videotestsrc ! fakesink with the same frames:
 *                         what the sink costs per frame, its own start-up
 *                         cancelled by the baseline's
 *   dmapipesrc ! kmssink  fed like dmapipe display, the gst-launch process
 *                         minus one GStreamer start-up
 *
 * All three run at the display's rate (each flip waits for a vblank), the
 * frame the size of the connector's preferred mode, XRGB8888, so nothing
 * is scaled. Runs alternate; medians. The section goes to stdout and,
 * with --output, between its own markers in that file.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MARK_BEGIN "<!-- display-bench: begin -->"
#define MARK_END "<!-- display-bench: end -->"

/* The first KMS device with a connected connector, and that connector's preferred mode. */
static bool find_display(struct bench *b, struct display_bench *r)
{
	struct dmapipe_device_list *list = dmapipe_device_list_new(0);
	bool found = false;

	for (size_t i = 0; i < dmapipe_device_list_get_count(list) && !found; i++) {
		const struct dmapipe_device *dev = dmapipe_device_list_get(list, i);

		if (dev->type != DMAPIPE_DEVICE_KMS || dev->error)
			continue;
		if (b->o.display_device && strcmp(b->o.display_device, dev->path) != 0)
			continue;
		for (uint32_t c = 0; c < dev->kms->n_connectors && !found; c++) {
			const struct dmapipe_kms_connector *k = &dev->kms->connectors[c];

			if (!k->connected || k->writeback || !k->width)
				continue;
			snprintf(r->device, sizeof(r->device), "%s", dev->path);
			snprintf(r->driver, sizeof(r->driver), "%s", dev->kms->driver);
			snprintf(r->connector, sizeof(r->connector), "%s", k->name);
			r->width = k->width;
			r->height = k->height;
			r->refresh = k->refresh;
			found = true;
		}
	}
	dmapipe_device_list_free(list);
	return found;
}

/* A producer of pre-drawn XRGB8888 frames at 60 fps on @sock; its pid, or -1. */
static pid_t start_serve(struct bench *b, const struct display_bench *r, const char *sock,
			 const char *tag)
{
	char out[PATH_MAX + 64];
	struct args a;
	pid_t pid;

	args_init(&a, b->tool);
	args_add(&a, "serve", "--socket", sock, "--format", "XRGB8888", "--fps", "60",
		 "--predrawn", "--quiet", NULL);
	args_addf(&a, "--size=%ux%u", r->width, r->height);
	if (b->o.allocator)
		args_add(&a, "--allocator", b->o.allocator, NULL);
	snprintf(out, sizeof(out), "%s/serve-%s.log", b->dir, tag);
	pid = spawn(a.v, out, out);
	for (int i = 0; i < 500 && pid > 0 && access(sock, F_OK) != 0; i++)
		sleep_ms(10);
	return pid;
}

static void stop_serve(pid_t pid)
{
	int status;
	struct rusage ru;

	if (pid > 0)
		kill_child(pid, 2000, &status, &ru);
}

/* One `dmapipe display` run: its CPU per frame shown, or NAN with @why set. */
static double run_display(struct bench *b, struct display_bench *r, unsigned int run)
{
	char sock[PATH_MAX], out[PATH_MAX + 64], err[PATH_MAX + 64];
	uint64_t shown = 0, cpu = 0, copied = 1;
	double fps = 0, cpu_us = NAN;
	struct child c;
	struct args a;
	char *text;
	pid_t serve;

	snprintf(sock, sizeof(sock), "%s/display-%u.sock", b->dir, run);
	serve = start_serve(b, r, sock, "display");
	memset(&c, 0, sizeof(c));
	args_init(&a, b->tool);
	args_add(&a, "display", "--socket", sock, "--device", r->device, "--quiet", "--json",
		 NULL);
	args_addf(&a, "--frames=%llu", (unsigned long long)b->o.display_frames);
	snprintf(out, sizeof(out), "%s/display-%u.json", b->dir, run);
	snprintf(err, sizeof(err), "%s/display-%u.log", b->dir, run);
	c.pid = spawn(a.v, out, err);
	wait_all(&c, 1, 60000 + b->o.display_frames * 200);
	stop_serve(serve);
	text = read_file(out);
	if (exited_ok(&c) && text && json_lookup_u64(text, "frames_shown", &shown) == 0 &&
	    json_lookup_u64(text, "cpu_ns", &cpu) == 0 &&
	    json_lookup_u64(text, "bytes_copied", &copied) == 0 && shown) {
		json_lookup_double(text, "fps", &fps);
		cpu_us = (double)cpu / (double)shown / 1e3;
		r->display_fps = fps;
		r->display_copied += copied;
		r->display_whole_us = (double)ru_cpu_ns(&c.ru) / (double)shown / 1e3;
	} else {
		char *log = read_file(err);

		snprintf(r->why, sizeof(r->why), "dmapipe display: %s",
			 log && *log ? log : "no result");
		r->why[strcspn(r->why, "\n")] = '\0';
		free(log);
	}
	free(text);
	return cpu_us;
}

/* "frame copy" lines kmssink logged (GST_PERFORMANCE) in @tag's output. */
static unsigned int kms_copies(struct bench *b, const char *tag)
{
	char path[PATH_MAX + 64], *text, *p;
	unsigned int n = 0;

	snprintf(path, sizeof(path), "%s/gst-%s.log", b->dir, tag);
	text = read_file(path);
	for (p = text; p && (p = strstr(p, "frame copy")); p++)
		n++;
	free(text);
	return n;
}

/* One kmssink run fed by videotestsrc, minus the same with fakesink: per frame, or NAN. */
static double run_kmssink(struct bench *b, struct display_bench *r, unsigned int run)
{
	char caps[128], nbuf[32], drv[64], tag[32];
	const char *kms[] = { "videotestsrc", nbuf, "pattern=solid-color", "!", caps, "!",
			      "kmssink", drv, "force-modesetting=true", "sync=false", NULL };
	const char *fake[] = { "videotestsrc", nbuf, "pattern=solid-color", "!", caps, "!",
			       "fakesink", "sync=false", NULL };
	double with, without, exec = NAN;

	snprintf(caps, sizeof(caps), "video/x-raw,format=BGRx,width=%u,height=%u,framerate=60/1",
		 r->width, r->height);
	snprintf(nbuf, sizeof(nbuf), "num-buffers=%llu", (unsigned long long)b->o.display_frames);
	snprintf(drv, sizeof(drv), "driver-name=%s", r->driver);
	snprintf(tag, sizeof(tag), "kms-%u", run);
	with = gst_run_simple(b, kms, tag, &exec);
	r->kms_copies += kms_copies(b, tag);
	snprintf(tag, sizeof(tag), "fake-%u", run);
	without = gst_run_simple(b, fake, tag, NULL);
	if (with < 0 || without < 0 || !isfinite(exec)) {
		snprintf(r->why, sizeof(r->why), "videotestsrc ! kmssink did not complete "
			 "(see %s/gst-kms-%u.log)", b->dir, run);
		return NAN;
	}
	r->kms_fps = (double)b->o.display_frames / exec;
	return (with - without) / (double)b->o.display_frames / 1e3;
}

/* dmapipesrc ! kmssink fed by dmapipe serve: the process minus one start-up, per frame. */
static double run_src_kmssink(struct bench *b, struct display_bench *r, unsigned int run)
{
	char sock[PATH_MAX], path[PATH_MAX + 32], nbuf[32], drv[64], tag[32];
	const char *words[] = { "dmapipesrc", path, nbuf, "!", "kmssink", drv,
				"force-modesetting=true", "sync=false", NULL };
	double cpu, exec = NAN;
	pid_t serve;

	snprintf(sock, sizeof(sock), "%s/src-%u.sock", b->dir, run);
	snprintf(path, sizeof(path), "socket-path=%s", sock);
	snprintf(nbuf, sizeof(nbuf), "num-buffers=%llu", (unsigned long long)b->o.display_frames);
	snprintf(drv, sizeof(drv), "driver-name=%s", r->driver);
	snprintf(tag, sizeof(tag), "src-kms-%u", run);
	serve = start_serve(b, r, sock, "src");
	cpu = gst_run_simple(b, words, tag, &exec);
	stop_serve(serve);
	r->src_copies += kms_copies(b, tag);
	if (cpu < 0 || !isfinite(exec)) {
		snprintf(r->why, sizeof(r->why), "dmapipesrc ! kmssink did not complete "
			 "(see %s/gst-%s.log)", b->dir, tag);
		return NAN;
	}
	r->src_fps = (double)b->o.display_frames / exec;
	return (cpu - r->gst_init_ns) / (double)b->o.display_frames / 1e3;
}

static void write_section(const struct bench *b, const struct display_bench *r, FILE *f)
{
	fprintf(f, MARK_BEGIN "\n## Display: `dmapipe display` beside kmssink\n\n");
	if (!r->ran) {
		fprintf(f, "Not measured: %s.\n" MARK_END "\n", r->why);
		return;
	}
	fprintf(f,
		"Generated by `%s` on %s (%s, %ld online CPUs, kernel %s, %s) on `%s` (%s), "
		"connector %s at its preferred %ux%u@%u; every number in this section comes "
		"from that one run.\n\n"
		"Each consumer shows %llu XRGB8888 frames of the mode's size (nothing scaled), "
		"paced by the display: each flip waits for a vblank. %u runs of each, "
		"alternating; medians, min..max in brackets.\n\n"
		"- **dmapipe display**: `dmapipe display --socket S --frames N` fed by `dmapipe "
		"serve --predrawn --fps 60` in another process (frames drawn once; %s buffers). "
		"CPU is the display process's own from its first frame to its last "
		"(CLOCK_PROCESS_CPUTIME_ID, its JSON `cpu_ns`), over the frames shown; with "
		"its start-up and connection, %.1f us per frame.\n"
		"- **kmssink, fed in-process**: `gst-launch-1.0 videotestsrc num-buffers=N "
		"pattern=solid-color ! CAPS ! kmssink driver-name=%s force-modesetting=true "
		"sync=false` (videotestsrc draws into kmssink's own dumb buffers), minus "
		"`videotestsrc ... ! fakesink sync=false` with the same frames: the drawing and "
		"one GStreamer start-up cancel out, what is left is kmssink's cost per frame "
		"(wait4() CPU of both processes).\n"
		"- **dmapipesrc ! kmssink**: fed like dmapipe display, the gst-launch process's "
		"CPU minus one GStreamer start-up (%.1f ms, `fakesrc num-buffers=1 ! fakesink`).\n\n",
		b->o.command, b->m.date, b->m.cpu, b->m.cores, b->m.kernel, r->machine_note,
		r->device, r->driver, r->connector, r->width, r->height, r->refresh,
		(unsigned long long)b->o.display_frames, r->runs, b->m.allocator,
		r->display_whole_us, r->driver, r->gst_init_ns / 1e6);
	fprintf(f, "| consumer | fed by | CPU per frame shown | frames/s | pixel bytes copied |\n"
		"|---|---|---|---|---|\n");
	fprintf(f, "| `dmapipe display` | another process, over the socket | **%.1f us** "
		"[%.1f .. %.1f] | %.1f | %llu |\n", r->display_us, r->display_min, r->display_max,
		r->display_fps, (unsigned long long)r->display_copied);
	fprintf(f, "| `kmssink` | videotestsrc, same process | **%.1f us** [%.1f .. %.1f] | "
		"%.1f | %s |\n", r->kms_us, r->kms_min, r->kms_max, r->kms_fps,
		r->kms_copies ? "frames copied (\"frame copy\" logged)" :
		"0 (drawn into its dumb buffers)");
	fprintf(f, "| `dmapipesrc ! kmssink` | another process, over the socket | **%.1f us** "
		"[%.1f .. %.1f] | %.1f | %s |\n\n", r->src_us, r->src_min, r->src_max, r->src_fps,
		r->src_copies ? "frames copied (\"frame copy\" logged)" :
		"0 (each buffer imported once)");
	fprintf(f, "kmssink fed in-process costs %.2f x the CPU per frame of `dmapipe display` "
		"fed from another process (%.1f us vs %.1f us); `dmapipesrc ! kmssink`, fed "
		"the same way as `dmapipe display`, %.2f x. %s\n" MARK_END "\n",
		r->display_us > 0 ? r->kms_us / r->display_us : 0, r->kms_us, r->display_us,
		r->display_us > 0 ? r->src_us / r->display_us : 0, r->note);
}

/* Replaces the section between its markers in @path, or appends it. 0 or -1. */
static int write_file(const struct bench *b, const struct display_bench *r, const char *path)
{
	char *old = read_file(path), *begin = NULL, *end = NULL;
	FILE *f;

	if (old) {
		begin = strstr(old, MARK_BEGIN);
		end = begin ? strstr(begin, MARK_END) : NULL;
	}
	f = fopen(path, "we");
	if (!f) {
		tool_error(TOOL_OK, errno, "cannot write %s", path);
		free(old);
		return -1;
	}
	if (begin && end) {
		fwrite(old, 1, (size_t)(begin - old), f);
		write_section(b, r, f);
		end += strlen(MARK_END);
		fputs(*end == '\n' ? end + 1 : end, f);
	} else {
		if (old && *old)
			fprintf(f, "%s%s\n", old, old[strlen(old) - 1] == '\n' ? "" : "\n");
		write_section(b, r, f);
	}
	free(old);
	return fclose(f) == 0 ? 0 : -1;
}

static void spread(double *v, unsigned int n, double *median, double *min, double *max)
{
	*median = median_of(v, n);
	*min = n ? v[0] : NAN;
	*max = n ? v[n - 1] : NAN;
}

int bench_display(struct bench *b)
{
	const char *init[] = { "-q", "fakesrc", "num-buffers=1", "!", "fakesink", NULL };
	double d[GST_REPEATS], k[GST_REPEATS], s[GST_REPEATS], inits[GST_REPEATS];
	struct display_bench *r = &b->display;
	unsigned int nd = 0, nk = 0, ns = 0, ni = 0;

	snprintf(r->machine_note, sizeof(r->machine_note), "%s",
		 getenv("DMAPIPE_VM") ? "the VM lane, TCG: only ratios mean much" : "native");
	if (!find_display(b, r)) {
		snprintf(r->why, sizeof(r->why), "no KMS device with a connected connector%s%s",
			 b->o.display_device ? " at " : "",
			 b->o.display_device ? b->o.display_device : "");
		bench_log("display: %s", r->why);
		return 77;
	}
	if (!b->gst_launch[0]) {
		snprintf(r->why, sizeof(r->why), "gst-launch-1.0 not found");
		bench_log("display: %s", r->why);
		return 77;
	}
	bench_log("display: %s (%s) %s %ux%u@%u, %llu frames, %u runs each ...", r->device,
		  r->driver, r->connector, r->width, r->height, r->refresh,
		  (unsigned long long)b->o.display_frames, b->o.display_repeat);
	gst_run_simple(b, init, "warmup", NULL); /* builds the registry cache */
	for (unsigned int i = 0; i < GST_REPEATS; i++) {
		double v = gst_run_simple(b, init, "init", NULL);

		if (v >= 0)
			inits[ni++] = v;
	}
	r->gst_init_ns = ni ? median_of(inits, ni) : 0;
	/* kmssink's copy path logs at GST_PERFORMANCE */
	setenv("GST_DEBUG", "GST_PERFORMANCE:5", 1);
	for (unsigned int run = 0; run < b->o.display_repeat && !stop_requested; run++) {
		double v = run_display(b, r, run);

		if (isfinite(v))
			d[nd++] = v;
		v = run_kmssink(b, r, run);
		if (isfinite(v))
			k[nk++] = v;
		v = run_src_kmssink(b, r, run);
		if (isfinite(v))
			s[ns++] = v;
		bench_log("    run %u: display %.1f us, kmssink %.1f us, dmapipesrc ! kmssink %.1f us "
			  "per frame", run + 1, nd ? d[nd - 1] : NAN, nk ? k[nk - 1] : NAN,
			  ns ? s[ns - 1] : NAN);
	}
	unsetenv("GST_DEBUG");
	r->runs = b->o.display_repeat;
	if (nd < r->runs || nk < r->runs || ns < r->runs) {
		bench_log("display: a run failed: %s", r->why);
		return 1;
	}
	spread(d, nd, &r->display_us, &r->display_min, &r->display_max);
	spread(k, nk, &r->kms_us, &r->kms_min, &r->kms_max);
	spread(s, ns, &r->src_us, &r->src_min, &r->src_max);
	if (r->display_max < r->kms_min)
		snprintf(r->note, sizeof(r->note), "Every dmapipe display run used less CPU per "
			 "frame than every kmssink run.");
	else
		snprintf(r->note, sizeof(r->note), "The runs overlap (the dearest dmapipe display "
			 "run %.1f us, the cheapest kmssink run %.1f us): the medians' ratio is "
			 "not a firm difference.", r->display_max, r->kms_min);
	r->ran = true;
	bench_log("display: %.1f us per frame; kmssink in-process %.1f us; dmapipesrc ! kmssink "
		  "%.1f us", r->display_us, r->kms_us, r->src_us);
	return r->display_copied || r->kms_copies || r->src_copies ? 1 : 0;
}

int bench_display_report(const struct bench *b)
{
	const struct display_bench *r = &b->display;

	write_section(b, r, stdout);
	if (b->o.output && write_file(b, r, b->o.output) < 0)
		return -1;
	return 0;
}
