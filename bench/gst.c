/* SPDX-License-Identifier: MIT */
/*
 * (b) GStreamer's shmsink/shmsrc moving the same frames, as separate
 * gst-launch-1.0 processes, each run paired with a source-only run whose
 * CPU is subtracted so that what is left is the transport. Two paths:
 * no-copy, where videotestsrc draws straight into shmsink's shared memory
 * (shmsink answers the allocation query), and copy, where `identity
 * drop-allocation=true` keeps that query from videotestsrc, which then
 * draws into its own memory and shmsink copies every frame into the area.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

void gst_caps(const struct bench *b, char *out, size_t len)
{
	char fourcc[16];
	const char *name;

	dmapipe_fourcc_to_string(b->o.format.fourcc, fourcc, sizeof(fourcc));
	/* GStreamer's names for the DRM formats the comparison can use */
	if (strcmp(fourcc, "XRGB8888") == 0 || strcmp(fourcc, "XR24") == 0)
		name = "BGRx";
	else if (strcmp(fourcc, "YUV420") == 0 || strcmp(fourcc, "YU12") == 0)
		name = "I420";
	else if (strcmp(fourcc, "YUYV") == 0)
		name = "YUY2";
	else
		name = fourcc;
	snprintf(out, len, "video/x-raw,format=%s,width=%u,height=%u,framerate=0/1", name,
		 b->o.format.width, b->o.format.height);
}

/* "Execution ended after 0:00:00.397648011" from gst-launch's output, in seconds. */
static double gst_exec_seconds(const char *text)
{
	const char *p = text ? strstr(text, "Execution ended after ") : NULL;
	unsigned int h, mi;
	double s;

	if (!p || sscanf(p, "Execution ended after %u:%u:%lf", &h, &mi, &s) != 3)
		return NAN;
	return h * 3600.0 + mi * 60.0 + s;
}

double gst_run_simple(struct bench *b, const char *const words[], const char *tag,
		      double *exec_s)
{
	struct child c;
	struct args a;
	char out[600];
	char *text;
	double cpu = -1;

	memset(&c, 0, sizeof(c));
	args_init(&a, b->gst_launch);
	while (*words)
		args_add(&a, *words++, NULL);
	snprintf(out, sizeof(out), "%s/gst-%s.log", b->dir, tag);
	c.pid = spawn(a.v, out, out);
	if (wait_all(&c, 1, b->o.gst_timeout_ms) && exited_ok(&c))
		cpu = (double)ru_cpu_ns(&c.ru);
	text = read_file(out);
	if (exec_s)
		*exec_s = gst_exec_seconds(text);
	free(text);
	return cpu;
}

/* The caps and the source's num-buffers=N of every pipeline. */
static void gst_words(struct bench *b, char *caps, size_t caps_len, char *nbuf, size_t nbuf_len)
{
	gst_caps(b, caps, caps_len);
	snprintf(nbuf, nbuf_len, "num-buffers=%llu", (unsigned long long)b->o.gst_frames);
}

/* The source alone, in one process: what the shm pipelines pay besides the transport. */
static double gst_run_base(struct bench *b)
{
	char caps[160], nbuf[32];
	const char *base[] = { "videotestsrc", nbuf, "pattern=solid-color", "!", caps, "!",
			       "fakesink", "sync=false", NULL };
	double exec = NAN, cpu;

	gst_words(b, caps, sizeof(caps), nbuf, sizeof(nbuf));
	cpu = gst_run_simple(b, base, "base", &exec);
	return isfinite(exec) ? cpu : -1;
}

/* Whether identity has drop-allocation: b->gst_copy_why "" or why not. */
static void gst_copy_check(struct bench *b)
{
	const char *check[] = { "-q", "fakesrc", "num-buffers=1", "!", "identity",
				"drop-allocation=true", "!", "fakesink", NULL };
	char path[600], *text, *why;

	b->gst_copy_why[0] = '\0';
	if (gst_run_simple(b, check, "identity", NULL) >= 0)
		return;
	/* "WARNING: erroneous pipeline: no property "drop-allocation" in element "identity"" */
	snprintf(path, sizeof(path), "%s/gst-identity.log", b->dir);
	text = read_file(path);
	why = text ? strstr(text, "erroneous pipeline: ") : NULL;
	if (why)
		why += strlen("erroneous pipeline: ");
	first_line(why ? why : "it failed", b->gst_copy_why, sizeof(b->gst_copy_why));
	free(text);
}

void gst_baselines(struct bench *b)
{
	const char *init[] = { "-q", "fakesrc", "num-buffers=1", "!", "fakesink", NULL };
	double inits[GST_REPEATS];
	unsigned int i, ni = 0;

	gst_run_simple(b, init, "warmup", NULL); /* builds the registry cache */
	for (i = 0; i < GST_REPEATS; i++) {
		double v = gst_run_simple(b, init, "init", NULL);

		if (v >= 0)
			inits[ni++] = v;
	}
	b->gst_init_cpu_ns = ni ? median_of(inits, ni) : 0;
	b->gst_base_ok = gst_run_base(b) >= 0;
	gst_copy_check(b);
}

/*
 * "Failed to read from shmsrc: Control socket has closed" from gst-launch's
 * report of an error, or "" when there is none.
 */
static void gst_error_summary(const char *text, char *out, size_t len)
{
	const char *err = text ? strstr(text, "ERROR: from element ") : NULL;
	const char *msg, *eol, *dbg;
	size_t n;

	out[0] = '\0';
	if (!err)
		return;
	eol = strchr(err, '\n');
	if (!eol)
		eol = err + strlen(err);
	/* the message follows the element path's last ": " */
	for (msg = eol; msg > err + 1 && !(msg[-2] == ':' && msg[-1] == ' '); msg--)
		;
	n = (size_t)(eol - msg);
	snprintf(out, len, "%.*s", (int)(n < 120 ? n : 120), msg);
	/* the detail is the line after "../file.c(line): function (): element:" */
	dbg = strstr(eol, "\n../");
	if (dbg && (dbg = strchr(dbg + 1, '\n'))) {
		dbg++;
		eol = strchr(dbg, '\n');
		n = eol ? (size_t)(eol - dbg) : strlen(dbg);
		if (n && strlen(out) + 3 < len)
			snprintf(out + strlen(out), len - strlen(out), ": %.*s",
				 (int)(n < 120 ? n : 120), dbg);
	}
}

/*
 * shmsink unlinks its shared memory area ("shmpipe.<pid>.<n>" under
 * /dev/shm) when it stops cleanly; one that was killed (a deadlocked run,
 * the probe) leaves it behind, 64 MiB or more per run: remove @pid's.
 */
static void remove_shm_areas(pid_t pid)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int owner, n;

		if (sscanf(e->d_name, "shmpipe.%d.%d", &owner, &n) == 2 && owner == pid)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/*
 * One shmsink process and @readers shmsrc processes, shmsink's copy path
 * when @copy; false on timeout.
 */
static bool gst_shm_once(struct bench *b, unsigned int readers, bool copy, unsigned int rep,
			 double *cpu_ns, double *exec_s, char *why, size_t why_len)
{
	const char *path = copy ? "shmcopy" : "shm";
	struct child ch[MAX_PROCS];
	char caps[160], nbuf[32], sock[600], sockarg[640], outs[MAX_PROCS][600];
	uint64_t deadline, frame_alloc;
	struct dmapipe_layout layout;
	unsigned int i, gone, n = 1 + readers;
	struct args a;
	char *text;
	bool ok;

	memset(ch, 0, sizeof(ch));
	gst_words(b, caps, sizeof(caps), nbuf, sizeof(nbuf));
	snprintf(sock, sizeof(sock), "%s/gst-shm.sock", b->dir);
	unlink(sock);
	snprintf(sockarg, sizeof(sockarg), "socket-path=%s", sock);
	frame_alloc = 64ull << 20;
	if (dmapipe_layout_init(&layout, &b->o.format, 1) == 0 &&
	    4 * layout.objects[0].size > frame_alloc)
		frame_alloc = 4 * layout.objects[0].size;

	/* without -q: "Got EOS" tells that every frame went through */
	args_init(&a, b->gst_launch);
	args_add(&a, "videotestsrc", nbuf, "pattern=solid-color", "!", caps, "!", NULL);
	if (copy)
		args_add(&a, "identity", "drop-allocation=true", "!", NULL);
	args_add(&a, "shmsink", sockarg, NULL);
	args_addf(&a, "shm-size=%llu", (unsigned long long)frame_alloc);
	args_add(&a, "wait-for-connection=true", "sync=false", NULL);
	snprintf(outs[0], sizeof(outs[0]), "%s/gst-%s%u-%u-shmsink.log", b->dir, path, readers,
		 rep);
	ch[0].pid = spawn(a.v, outs[0], outs[0]);

	deadline = now_ns() + 10000000000ull;
	while (access(sock, F_OK) != 0 && now_ns() < deadline)
		sleep_ms(5);

	for (i = 1; i < n; i++) {
		args_init(&a, b->gst_launch);
		/* a kept last buffer holds a shm block and stalls shmsink's EOS */
		args_add(&a, "-q", "shmsrc", sockarg, "is-live=true", "!", caps, "!", "fakesink",
			 "sync=false", "enable-last-sample=false", NULL);
		snprintf(outs[i], sizeof(outs[i]), "%s/gst-%s%u-%u-shmsrc-%u.log", b->dir, path,
			 readers, rep, i);
		ch[i].pid = spawn(a.v, outs[i], outs[i]);
	}

	/* the producer finishes first; readers end when its socket closes */
	ok = wait_all(ch, 1, b->o.gst_timeout_ms);
	gone = 0;
	for (i = 1; i < n; i++) {
		if (wait_child(ch[i].pid, 0, &ch[i].status, &ch[i].ru)) {
			ch[i].done = true;
			gone++;
		}
	}
	wait_all(ch + 1, readers, ok ? 5000 : 100);
	if (ch[0].pid > 0)
		remove_shm_areas(ch[0].pid);
	text = read_file(outs[0]);
	*exec_s = gst_exec_seconds(text);
	*cpu_ns = 0;
	for (i = 0; i < n; i++)
		*cpu_ns += (double)ru_cpu_ns(&ch[i].ru);
	if (!ok && gone) {
		char summary[256] = "", st[64] = "";

		for (i = 1; i < n; i++) {
			if (ch[i].done && !ch[i].killed) {
				char *log = read_file(outs[i]);

				gst_error_summary(log, summary, sizeof(summary));
				describe_status(ch[i].status, st, sizeof(st));
				free(log);
				break;
			}
		}
		snprintf(why, why_len, "shmsink stalled after %u of %u readers were disconnected "
			 "(reader %.24s: %.100s); killed after %u s", gone, readers, st,
			 summary[0] ? summary : "no error message", b->o.gst_timeout_ms / 1000);
	} else if (!ok) {
		snprintf(why, why_len, "timeout: shmsink had not finished %llu frames after %u s "
			 "with every reader still connected (deadlock); killed",
			 (unsigned long long)b->o.gst_frames, b->o.gst_timeout_ms / 1000);
	} else if (!text || !strstr(text, "Got EOS from element")) {
		char summary[256];

		gst_error_summary(text, summary, sizeof(summary));
		snprintf(why, why_len, "shmsink pipeline failed before EOS: %.200s",
			 summary[0] ? summary : "no error message");
		ok = false;
	}
	free(text);
	return ok;
}

void run_gst(struct bench *b, unsigned int readers, bool copy, struct gst_result *r)
{
	double transport[GST_REPEATS], shm[GST_REPEATS], base[GST_REPEATS], fps[GST_REPEATS];
	char first_failure[256] = "";
	unsigned int i, good = 0;

	memset(r, 0, sizeof(*r));
	r->ran = true;
	r->copy = copy;
	r->consumers = readers;
	r->frames = b->o.gst_frames;
	r->init_cpu_ms = b->gst_init_cpu_ns / 1e6;
	if (!b->o.gst) {
		snprintf(r->status, sizeof(r->status), "not measured: --no-gst");
		return;
	}
	if (!b->gst_launch[0]) {
		snprintf(r->status, sizeof(r->status), "not measured: gst-launch-1.0 missing");
		return;
	}
	if (!b->gst_base_ok) {
		snprintf(r->status, sizeof(r->status),
			 "not measured: videotestsrc ! fakesink failed (format not supported?)");
		return;
	}
	if (copy && b->gst_copy_why[0]) {
		snprintf(r->status, sizeof(r->status),
			 "not measured: identity drop-allocation=true is not available: %.180s",
			 b->gst_copy_why);
		return;
	}
	/* Paired runs: each shm run is compared with a source-only run made
	 * just before it, so drift of the machine cancels out. */
	for (i = 0; i < GST_REPEATS && !stop_requested; i++) {
		double cpu = 0, exec = NAN, cpu_base;
		char why[256] = "";

		cpu_base = gst_run_base(b);
		if (cpu_base < 0) {
			r->failures++;
			if (!first_failure[0])
				snprintf(first_failure, sizeof(first_failure),
					 "videotestsrc ! fakesink failed");
			continue;
		}
		if (!gst_shm_once(b, readers, copy, i, &cpu, &exec, why, sizeof(why))) {
			r->failures++;
			if (strstr(why, "deadlock"))
				r->timeouts++;
			if (!first_failure[0])
				snprintf(first_failure, sizeof(first_failure), "%s", why);
			continue;
		}
		shm[good] = cpu / (double)r->frames / 1e3;
		base[good] = cpu_base / (double)r->frames / 1e3;
		/* both pipelines start gst once for the source; each reader
		 * is one more gst-launch start-up */
		transport[good] = (cpu - cpu_base - readers * b->gst_init_cpu_ns) /
				  (double)r->frames / 1e3;
		fps[good] = isfinite(exec) && exec > 0 ? (double)r->frames / exec : NAN;
		good++;
	}
	r->runs = good;
	if (good == 0) {
		snprintf(r->status, sizeof(r->status), "not measured: %s", first_failure);
		return;
	}
	r->measured = true;
	r->transport_cpu_per_frame_us = median_of(transport, good); /* sorts */
	r->transport_min_us = transport[0];
	r->transport_max_us = transport[good - 1];
	r->shm_cpu_per_frame_us = median_of(shm, good);
	r->base_cpu_per_frame_us = median_of(base, good);
	r->fps = median_of(fps, good);
	if (b->copy.median_ms > 0)
		r->ratio_memcpy = r->transport_cpu_per_frame_us / (b->copy.median_ms * 1e3);
	if (r->failures)
		snprintf(r->status, sizeof(r->status), "%u of %u runs failed; first: %s",
			 r->failures, GST_REPEATS, first_failure);
	else
		snprintf(r->status, sizeof(r->status), "%u of %u runs completed", good,
			 GST_REPEATS);
}

/* One long shm run with one reader: does it finish? */
void run_gst_probe(struct bench *b)
{
	uint64_t frames = b->o.gst_frames;
	uint32_t timeout = b->o.gst_timeout_ms;
	double cpu = 0, exec = NAN;
	char why[256] = "";

	b->o.gst_frames = b->o.gst_probe_frames;
	b->o.gst_timeout_ms = 30000;
	if (gst_shm_once(b, 1, false, 99, &cpu, &exec, why, sizeof(why)))
		snprintf(b->gst_probe, sizeof(b->gst_probe), "completed %llu frames in %.1f s",
			 (unsigned long long)b->o.gst_frames, exec);
	else
		snprintf(b->gst_probe, sizeof(b->gst_probe), "did not complete %llu frames: %s",
			 (unsigned long long)b->o.gst_frames, why);
	b->o.gst_frames = frames;
	b->o.gst_timeout_ms = timeout;
}

void gst_find(struct bench *b)
{
	char out[600], *text;
	char *argv_v[] = { b->gst_launch, (char *)"--version", NULL };
	struct child ch;

	if (!b->o.gst || !find_in_path("gst-launch-1.0", b->gst_launch, sizeof(b->gst_launch))) {
		b->gst_launch[0] = '\0';
		return;
	}
	memset(&ch, 0, sizeof(ch));
	snprintf(out, sizeof(out), "%s/gst-version.log", b->dir);
	ch.pid = spawn(argv_v, out, "/dev/null");
	wait_all(&ch, 1, 10000);
	text = read_file(out);
	if (text) {
		/* "gst-launch-1.0 version 1.22.0\nGStreamer 1.22.0\n..." */
		char *g = strstr(text, "GStreamer ");

		first_line(g ? g : text, b->m.gst_version, sizeof(b->m.gst_version));
	}
	free(text);
}
