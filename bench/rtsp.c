/* SPDX-License-Identifier: MIT */
/*
 * (d) The RTSP server (`dmapipe rtsp`, run with --rtsp): CPU per frame of
 * the server process at 1080p30 for 1 and 8 clients, beside the same
 * gst-rtsp-server pipeline fed in-process by videotestsrc (`dmapipe rtsp
 * --test-source`, the same program and encoder settings), in one run.
 *
 * Each run: the server, for the dmapipe source a producer in another
 * process drawing the same frames as the baseline (`videotestsrc !
 * dmapipesink`: x264's work depends on the picture, so both encode the same
 * one), and N gst-launch-1.0 clients that receive over UDP on loopback
 * without decoding (rtspsrc ! fakesink: the clients are not what is
 * measured, and decoding 8 streams would starve the server of CPU on a
 * small machine). The server's CPU is its whole process (wait4), start-up
 * included, over the frames it sent; the producer's is given apart,
 * because in the baseline videotestsrc draws inside the server.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define RTSP_SECONDS 20

static const unsigned int rtsp_clients[] = { 1, 8 };

/* The port the server printed ("serving rtsp://127.0.0.1:PORT/cam"), or 0. */
static unsigned int wait_port(const char *log, pid_t server)
{
	for (int i = 0; i < 300; i++) {
		char *text = read_file(log);
		const char *p = text ? strstr(text, "serving rtsp://127.0.0.1:") : NULL;
		unsigned int port = 0;

		if (p)
			sscanf(p, "serving rtsp://127.0.0.1:%u", &port);
		free(text);
		if (port)
			return port;
		if (wait_child(server, 0, NULL, NULL) == 1)
			return 0;
		sleep_ms(50);
	}
	return 0;
}

static void run_one(struct bench *b, const char *gst_launch, bool test_source,
		    unsigned int clients, struct rtsp_run *r)
{
	struct child server, producer, cl[8];
	char sock[PATH_MAX], log[PATH_MAX], json[PATH_MAX], plog[PATH_MAX], clog[PATH_MAX];
	char url[128], *text;
	unsigned int port, i;
	uint64_t v;
	double d;
	struct args a;

	memset(r, 0, sizeof(*r));
	memset(&server, 0, sizeof(server));
	memset(&producer, 0, sizeof(producer));
	memset(cl, 0, sizeof(cl));
	r->ran = true;
	r->clients = clients;
	r->test_source = test_source;
	snprintf(sock, sizeof(sock), "%s/rtsp.sock", b->dir);
	snprintf(log, sizeof(log), "%s/rtsp-%s-%u.log", b->dir, test_source ? "vts" : "dmapipe",
		 clients);
	snprintf(json, sizeof(json), "%s/rtsp-%s-%u.json", b->dir, test_source ? "vts" : "dmapipe",
		 clients);
	snprintf(plog, sizeof(plog), "%s/rtsp-serve.log", b->dir);

	if (!test_source) {
		unlink(sock);
		args_init(&a, gst_launch);
		args_add(&a, "-q", "videotestsrc", "is-live=true", "!",
			 "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1", "!",
			 "dmapipesink", NULL);
		args_addf(&a, "socket-path=%s", sock);
		producer.pid = spawn(a.v, "/dev/null", plog);
	}
	args_init(&a, b->tool);
	args_add(&a, "rtsp", "--listen", "127.0.0.1:0", "--json", "--quiet", "--duration", NULL);
	args_addf(&a, "%u", RTSP_SECONDS);
	if (test_source)
		args_add(&a, "--test-source", "1920x1080@30", NULL);
	else
		args_add(&a, "--socket", sock, NULL);
	server.pid = spawn(a.v, json, log);
	port = server.pid > 0 ? wait_port(log, server.pid) : 0;
	if (!port) {
		text = read_file(log);
		snprintf(r->error, sizeof(r->error), "the server did not start: %.200s",
			 text ? text : "no output");
		free(text);
		goto out;
	}
	snprintf(url, sizeof(url), "location=rtsp://127.0.0.1:%u/cam", port);
	for (i = 0; i < clients; i++) {
		snprintf(clog, sizeof(clog), "%s/rtsp-client-%u.log", b->dir, i);
		args_init(&a, gst_launch);
		args_add(&a, "-q", "rtspsrc", url, "protocols=udp", "latency=200", "!", "fakesink",
			 NULL);
		cl[i].pid = spawn(a.v, clog, clog);
	}
	/* the server stops by itself after RTSP_SECONDS */
	if (!wait_child(server.pid, (RTSP_SECONDS + 30) * 1000, &server.status, &server.ru)) {
		kill_child(server.pid, 2000, &server.status, &server.ru);
		snprintf(r->error, sizeof(r->error), "the server did not stop");
		goto out;
	}
	server.done = true;
	text = read_file(json);
	if (!text || json_lookup_u64(text, "frames_sent", &r->frames) < 0 || !r->frames) {
		snprintf(r->error, sizeof(r->error), "the server sent no frames (see its log)");
		free(text);
		goto out;
	}
	if (json_lookup_u64(text, "bytes_sent", &v) == 0 &&
	    json_lookup_double(text, "seconds", &d) == 0 && d > 0)
		r->mbit_s = (double)v * 8 / d / 1e6;
	r->seconds = d;
	if (json_lookup_u64(text, "drops", &v) == 0)
		r->drops = v;
	json_lookup_string(text, "encoder", r->encoder, sizeof(r->encoder));
	json_lookup_string(text, "access", r->access, sizeof(r->access));
	free(text);
	r->server_us = (double)ru_cpu_ns(&server.ru) / 1e3 / (double)r->frames;
	r->server_pct = r->seconds > 0 ? (double)ru_cpu_ns(&server.ru) / 1e9 / r->seconds * 100 : 0;
	r->ok = true;
out:
	if (!server.done && server.pid > 0)
		kill_child(server.pid, 2000, &server.status, &server.ru);
	for (i = 0; i < clients; i++)
		if (cl[i].pid > 0)
			kill_child(cl[i].pid, 2000, &cl[i].status, &cl[i].ru);
	if (producer.pid > 0) {
		kill_child(producer.pid, 2000, &producer.status, &producer.ru);
		if (r->ok && r->seconds > 0)
			/* the producer ran a little longer than the server: per second */
			r->producer_us = (double)ru_cpu_ns(&producer.ru) / 1e3 /
				(30.0 * (r->seconds + 1.0));
	}
}

void rtsp_run_all(struct bench *b, struct rtsp_result *res)
{
	char gst_launch[PATH_MAX], dir[PATH_MAX], path[2 * PATH_MAX + 16];
	const char *old = getenv("GST_PLUGIN_PATH_1_0");

	memset(res, 0, sizeof(*res));
	/* the clients, whether or not --no-gst skipped the shm comparison */
	if (!find_in_path("gst-launch-1.0", gst_launch, sizeof(gst_launch))) {
		snprintf(res->skipped, sizeof(res->skipped), "gst-launch-1.0 not found");
		return;
	}
	/* the producer's dmapipesink: this build's plugin, else the installed one */
	if (build_dir(dir, sizeof(dir))) {
		snprintf(path, sizeof(path), "%s/plugins%s%s", dir, old && *old ? ":" : "",
			 old ? old : "");
		setenv("GST_PLUGIN_PATH_1_0", path, 1);
	}
	res->ran = true;
	for (size_t i = 0; i < sizeof(rtsp_clients) / sizeof(rtsp_clients[0]); i++) {
		for (int k = 0; k < 2 && !stop_requested; k++) {
			struct rtsp_run *r = &res->runs[res->n++];

			bench_log("rtsp: %s, %u client%s, 1080p30, %d s ...",
				  k ? "videotestsrc in the server" : "videotestsrc ! dmapipesink -> dmapipe rtsp",
				  rtsp_clients[i], rtsp_clients[i] == 1 ? "" : "s", RTSP_SECONDS);
			run_one(b, gst_launch, k == 1, rtsp_clients[i], r);
			if (r->ok)
				bench_log("    server %.2f ms CPU per frame (%.0f%% of a core), %llu frames, "
					  "%.1f Mbit/s encoded", r->server_us / 1e3, r->server_pct,
					  (unsigned long long)r->frames, r->mbit_s);
			else
				bench_log("    FAILED: %s", r->error);
		}
	}
}

void rtsp_markdown(const struct rtsp_result *res, FILE *f)
{
	fprintf(f, "\n## RTSP server (`dmapipe rtsp`) against gst-rtsp-server fed by videotestsrc\n\n");
	if (!res->ran) {
		fprintf(f, "Not measured: %s.\n", res->skipped);
		return;
	}
	fprintf(f,
		"1920x1080 I420 at 30 fps, H.264 by x264enc (tune=zerolatency, "
		"speed-preset=ultrafast, 4000 kbit/s), one shared encoder for all clients, "
		"%d s per run; the clients receive over UDP on loopback and do not decode, and "
		"each receives the whole encoded stream. *Server CPU* is the whole server process "
		"(start-up included) over the frames it sent. With dmapipe the frames are drawn "
		"in another process (`videotestsrc ! dmapipesink`, its CPU per frame given apart) "
		"and the server's dmapipesrc maps them for x264enc; the baseline is the same "
		"program and pipeline with `videotestsrc is-live=true` in place of dmapipesrc, "
		"drawing the same pictures inside the server.\n\n", RTSP_SECONDS);
	fprintf(f, "| source | clients | frames | server CPU per frame | server CPU | producer CPU per frame | Mbit/s encoded | producer drops for it |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (unsigned int i = 0; i < res->n; i++) {
		const struct rtsp_run *r = &res->runs[i];
		char prod[32], drops[32];

		if (!r->ok) {
			fprintf(f, "| %s | %u | failed: %s | | | | | |\n",
				r->test_source ? "videotestsrc (in the server)" : "dmapipesrc",
				r->clients, r->error);
			continue;
		}
		if (r->test_source) {
			snprintf(prod, sizeof(prod), "(in the server)");
			drops[0] = '\0';
		} else {
			snprintf(prod, sizeof(prod), "%.2f ms", r->producer_us / 1e3);
			snprintf(drops, sizeof(drops), "%llu", (unsigned long long)r->drops);
		}
		fprintf(f, "| %s | %u | %llu | %.2f ms | %.0f %% | %s | %.1f | %s |\n",
			r->test_source ? "videotestsrc (in the server)" : "dmapipesrc",
			r->clients, (unsigned long long)r->frames, r->server_us / 1e3, r->server_pct,
			prod, r->mbit_s, drops);
	}
	fprintf(f, "\nEncoder: %s, which %s the frames.\n", res->runs[0].encoder[0] ?
		res->runs[0].encoder : "?", res->runs[0].access[0] ? res->runs[0].access : "?");
}

void rtsp_json(const struct rtsp_result *res, struct json *j)
{
	json_begin_object(j, "rtsp");
	json_bool(j, "ran", res->ran);
	if (!res->ran)
		json_string(j, "skipped", res->skipped);
	json_begin_array(j, "runs");
	for (unsigned int i = 0; i < res->n; i++) {
		const struct rtsp_run *r = &res->runs[i];

		json_begin_object(j, NULL);
		json_string(j, "source", r->test_source ? "videotestsrc" : "dmapipe");
		json_u64(j, "clients", r->clients);
		json_bool(j, "ok", r->ok);
		if (!r->ok)
			json_string(j, "error", r->error);
		json_u64(j, "frames", r->frames);
		json_double(j, "server_cpu_per_frame_us", r->server_us);
		json_double(j, "server_cpu_percent", r->server_pct);
		json_double(j, "producer_cpu_per_frame_us", r->test_source ? NAN : r->producer_us);
		json_double(j, "mbit_s", r->mbit_s);
		json_u64(j, "dmapipe_drops", r->drops);
		json_string(j, "encoder", r->encoder);
		json_string(j, "access", r->access);
		json_end_object(j);
	}
	json_end_array(j);
	json_end_object(j);
}
