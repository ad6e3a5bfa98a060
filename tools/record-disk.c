/* SPDX-License-Identifier: MIT */
/*
 * dmapipe record's disk check (docs/REALTIME.md): before the first frame
 * a short write test of the recording's file system (dmapipe_disk_probe(),
 * before anything holds a lease, so a slow disk costs no frame), and once
 * the stream's first frames and nominal rate say how much it needs, one
 * warning when the probe took less than that with a fifth to spare. The
 * verdict and the figures go into the summary and --json.
 */
#include <errno.h>
#include <libgen.h>
#include <string.h>

#include "record.h"

/* what the probe may take: a quarter of a second, 128 MiB */
#define DISK_PROBE_MS 250u
#define DISK_PROBE_BYTES (128ull << 20)
/* compressed frames whose sizes make the stream's rate (a raw frame is every frame's size) */
#define DISK_FRAMES 10
/* the disk should take the stream with this to spare */
#define DISK_HEADROOM 1.2

void record_disk_probe(struct record *r)
{
	struct record_disk *d = &r->disk;
	char path[4096];
	const char *dir;
	int ret;

	d->probe.size = sizeof(d->probe);
	if (d->off) {
		d->skipped = "--no-disk-check";
		return;
	}
	if (r->out.kind == OUTPUT_STDOUT) {
		d->skipped = "the recording goes to stdout";
		return;
	}
	/* the directory the recording is in: its file system is the one written */
	snprintf(path, sizeof(path), "%s", r->output);
	dir = dirname(path);
	ret = dmapipe_disk_probe(dir, DISK_PROBE_BYTES, DISK_PROBE_MS, &d->probe);
	d->probed = ret == 0;
	d->error = ret;
	if (ret == 0)
		return;
	if (ret == -EOPNOTSUPP || ret == -EISDIR)
		d->skipped = "the file system cannot make a file without a name (O_TMPFILE)";
	else
		d->skipped = "the write test failed";
	if (!r->quiet)
		tool_warn("disk check: no write test of %s: %s (%s)", dir, d->skipped,
			  strerror(-ret));
}

/* The nominal rate in frames per second (the device's, or the producer's), 0 if unknown. */
static double nominal_fps(const struct record *r)
{
	if (r->ropts.fps_num && r->ropts.fps_den)
		return (double)r->ropts.fps_num / (double)r->ropts.fps_den;
	return 0;
}

void record_disk_frame(struct record *r, const struct dmapipe_buffer *buf,
		       const struct dmapipe_frame_meta *meta)
{
	struct record_disk *d = &r->disk;
	double fps, have;

	if (!d->probed || d->verdict)
		return;
	d->bytes += record_frame_bytes(buf, meta);
	/* a raw frame's size is every frame's: the first tells */
	if (++d->frames < DISK_FRAMES &&
	    !dmapipe_format_desc_find(dmapipe_buffer_get_layout(buf)->format.fourcc))
		return;
	fps = nominal_fps(r);
	if (fps <= 0) {
		d->verdict = "unknown-rate";
		return;
	}
	d->need_bps = (double)d->bytes / (double)d->frames * fps;
	have = (double)d->probe.bytes_per_s;
	if (have >= d->need_bps * DISK_HEADROOM) {
		d->verdict = "ok";
		return;
	}
	d->verdict = "too-slow";
	tool_warn("disk check: the file system of %s took %.1f MB/s in a %.0f ms write test; "
		  "the stream needs %.1f MB/s (%.0f fps): frames will be dropped once the "
		  "buffer is full", r->output, have / 1e6, (double)d->probe.elapsed_ns / 1e6,
		  d->need_bps / 1e6, fps);
}

void record_disk_json(const struct record *r, struct json *j)
{
	const struct record_disk *d = &r->disk;

	json_begin_object(j, "disk_check");
	json_string(j, "method", d->probed ? "probe" : NULL);
	json_string(j, "skipped", d->skipped);
	json_string(j, "verdict", d->verdict ? d->verdict : d->probed ? "no-verdict" : NULL);
	if (d->probed) {
		json_bool(j, "direct", d->probe.direct);
		json_u64(j, "bytes", d->probe.bytes);
		json_u64(j, "elapsed_ns", d->probe.elapsed_ns);
		json_u64(j, "bytes_per_s", d->probe.bytes_per_s);
		json_u64(j, "latency_p99_ns", d->probe.latency_p99_ns);
	}
	if (d->need_bps > 0)
		json_u64(j, "need_bytes_per_s", (uint64_t)d->need_bps);
	else
		json_null(j, "need_bytes_per_s");
	json_end_object(j);
}

void record_disk_summary(const struct record *r)
{
	const struct record_disk *d = &r->disk;

	if (!d->probed) {
		fprintf(r->report, "  disk check  not made: %s\n", d->skipped);
		return;
	}
	fprintf(r->report, "  disk check  %.1f MB/s in a %.0f ms write test (%s I/O)",
		(double)d->probe.bytes_per_s / 1e6, (double)d->probe.elapsed_ns / 1e6,
		d->probe.direct ? "direct" : "synced buffered");
	if (d->verdict && d->need_bps > 0)
		fprintf(r->report, ", the stream needs %.1f MB/s: %s\n", d->need_bps / 1e6,
			strcmp(d->verdict, "ok") == 0 ? "enough" : "TOO SLOW");
	else if (d->verdict)
		fprintf(r->report, "; the stream told no rate to compare with\n");
	else
		fprintf(r->report, "; too few frames to compare with the stream\n");
}
