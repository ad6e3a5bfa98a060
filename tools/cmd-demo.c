/* SPDX-License-Identifier: MIT */
/*
 * dmapipe demo: one producer process and N consumer processes on a socket
 * in a private directory, every frame verified byte for byte, and one
 * readable result.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmapipe-tool.h"

#define MAX_DEMO_CONSUMERS 16

static const char *const demo_usage =
	"Usage: dmapipe demo [OPTIONS]\n"
	"\n"
	"Starts 'dmapipe serve' and N 'dmapipe consume --verify full' as separate\n"
	"processes on a socket in a private directory, waits for them, and shows\n"
	"how many frames crossed, whether every byte of every frame arrived as\n"
	"drawn, how many pixel bytes were copied, the frame rate and latency.\n"
	"\n"
	"Options:\n"
	"      --size WxH        frame size (default 3840x2160)\n"
	"  -f, --format FOURCC   pixel format by its DRM, V4L2 or GStreamer name\n"
	"                        (dmapipe formats; default NV12)\n"
	"  -n, --frames N        frames to stream (default 600)\n"
	"      --fps N           frames per second, 0 = as fast as possible (default 60)\n"
	"  -c, --consumers N     consumer processes (default 1, at most 16)\n"
	"      --policy POLICY   consumers' policy (default queue:8)\n"
	"      --allocator NAME  producer's allocator (default: best available)\n"
	"      --keep            keep the private directory with the logs\n"
	"      --json            print the result as JSON (docs/JSON.md), a failure too\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 a frame failed verification, a\n"
	"pixel was copied or a process failed, 2 bad command line.\n";

enum {
	OPT_SIZE = 256,
	OPT_FPS,
	OPT_POLICY,
	OPT_ALLOCATOR,
	OPT_KEEP,
	OPT_JSON,
};

struct proc {
	pid_t pid;
	char out[512];
	char err[512];
	int status;
	bool done;
	char *json; /* its stdout */
};

static const char *size_name(uint32_t w, uint32_t h, char *buf, size_t len)
{
	if (w == 3840 && h == 2160)
		return "4K";
	if (w == 1920 && h == 1080)
		return "1080p";
	if (w == 1280 && h == 720)
		return "720p";
	snprintf(buf, len, "%ux%u", w, h);
	return buf;
}

static uint64_t get_u64(const char *text, const char *key)
{
	uint64_t v = 0;

	if (text)
		json_lookup_u64(text, key, &v);
	return v;
}

static double get_double(const char *text, const char *key)
{
	double v = NAN;

	if (text)
		json_lookup_double(text, key, &v);
	return v;
}

/* Prints the last lines of a child's log after a failure. */
static void show_log(const char *what, const char *path)
{
	char *text = read_file(path);
	size_t len;
	const char *start;
	int lines = 0;

	if (!text || !*text) {
		free(text);
		return;
	}
	len = strlen(text);
	start = text + len;
	while (start > text && lines < 12) {
		start--;
		if (*start == '\n' && start != text + len - 1)
			lines++;
	}
	if (*start == '\n')
		start++;
	fprintf(stderr, "---- %s (%s) ----\n%s", what, path, start);
	if (len && text[len - 1] != '\n')
		fputc('\n', stderr);
	free(text);
}

int cmd_demo(int argc, char **argv)
{
	static const struct option options[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "format", required_argument, NULL, 'f' },
		{ "frames", required_argument, NULL, 'n' },
		{ "fps", required_argument, NULL, OPT_FPS },
		{ "consumers", required_argument, NULL, 'c' },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "allocator", required_argument, NULL, OPT_ALLOCATOR },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct proc procs[1 + MAX_DEMO_CONSUMERS];
	uint32_t width = 3840, height = 2160, fps = 60, consumers = 1, depth = 8;
	uint32_t fourcc = dmapipe_fourcc_from_string("NV12");
	enum dmapipe_policy policy = DMAPIPE_POLICY_QUEUE;
	const char *allocator = NULL, *policy_arg = "queue:8";
	uint64_t frames = 600, timeout_ms;
	bool json = false, keep = false, ok = true;
	char fourcc_s[16], size_s[32], sock[512], sbuf[32];
	char frames_s[24], fps_s[16], waitc_s[16], name_s[16][32];
	char *dir;
	unsigned int i, nprocs;
	int c;

	while ((c = getopt_long(argc, argv, ":f:n:c:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_SIZE:
			opt_size("demo", optarg, &width, &height);
			break;
		case 'f':
			fourcc = opt_format("demo", optarg);
			break;
		case 'n':
			frames = opt_u64("demo", "--frames", optarg);
			if (frames == 0 || frames > 100000000)
				usage_error("demo", "--frames wants 1 to 100000000");
			break;
		case OPT_FPS:
			fps = opt_u32("demo", "--fps", optarg, 0, 100000);
			break;
		case 'c':
			consumers = opt_u32("demo", "--consumers", optarg, 1, MAX_DEMO_CONSUMERS);
			break;
		case OPT_POLICY:
			opt_policy("demo", optarg, &policy, &depth);
			policy_arg = optarg;
			break;
		case OPT_ALLOCATOR:
			allocator = optarg;
			break;
		case OPT_KEEP:
			keep = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			fputs(demo_usage, stdout);
			return 0;
		default:
			usage_getopt_error("demo", c, argv);
		}
	}
	usage_no_operands("demo", argc, argv);
	(void)policy;
	(void)depth;

	dir = make_private_dir("demo");
	if (!dir)
		return 1;
	snprintf(sock, sizeof(sock), "%s/stream.sock", dir);
	dmapipe_fourcc_to_string(fourcc, fourcc_s, sizeof(fourcc_s));
	snprintf(size_s, sizeof(size_s), "%ux%u", width, height);
	snprintf(frames_s, sizeof(frames_s), "%llu", (unsigned long long)frames);
	snprintf(fps_s, sizeof(fps_s), "%u", fps);
	snprintf(waitc_s, sizeof(waitc_s), "%u", consumers);
	memset(procs, 0, sizeof(procs));
	nprocs = 1 + consumers;

	install_stop_signals();
	{
		char *argv_s[32];
		int k = 0;

		argv_s[k++] = (char *)self_exe();
		argv_s[k++] = (char *)"serve";
		argv_s[k++] = (char *)"--socket";
		argv_s[k++] = sock;
		argv_s[k++] = (char *)"--size";
		argv_s[k++] = size_s;
		argv_s[k++] = (char *)"--format";
		argv_s[k++] = fourcc_s;
		argv_s[k++] = (char *)"--frames";
		argv_s[k++] = frames_s;
		argv_s[k++] = (char *)"--fps";
		argv_s[k++] = fps_s;
		argv_s[k++] = (char *)"--wait-consumers";
		argv_s[k++] = waitc_s;
		argv_s[k++] = (char *)"--name";
		argv_s[k++] = (char *)"demo";
		argv_s[k++] = (char *)"--quiet";
		argv_s[k++] = (char *)"--json";
		if (allocator) {
			argv_s[k++] = (char *)"--allocator";
			argv_s[k++] = (char *)allocator;
		}
		argv_s[k] = NULL;
		snprintf(procs[0].out, sizeof(procs[0].out), "%s/serve.json", dir);
		snprintf(procs[0].err, sizeof(procs[0].err), "%s/serve.log", dir);
		procs[0].pid = spawn(argv_s, procs[0].out, procs[0].err);
	}
	for (i = 1; i < nprocs && procs[0].pid > 0; i++) {
		char *argv_c[32];
		int k = 0;

		snprintf(name_s[i - 1], sizeof(name_s[i - 1]), "demo-consumer-%u", i);
		argv_c[k++] = (char *)self_exe();
		argv_c[k++] = (char *)"consume";
		argv_c[k++] = (char *)"--socket";
		argv_c[k++] = sock;
		argv_c[k++] = (char *)"--frames";
		argv_c[k++] = frames_s;
		argv_c[k++] = (char *)"--verify";
		argv_c[k++] = (char *)"full";
		argv_c[k++] = (char *)"--policy";
		argv_c[k++] = (char *)policy_arg;
		argv_c[k++] = (char *)"--name";
		argv_c[k++] = name_s[i - 1];
		argv_c[k++] = (char *)"--timeout";
		argv_c[k++] = (char *)"20000";
		argv_c[k++] = (char *)"--quiet";
		argv_c[k++] = (char *)"--json";
		argv_c[k] = NULL;
		snprintf(procs[i].out, sizeof(procs[i].out), "%s/consume-%u.json", dir, i);
		snprintf(procs[i].err, sizeof(procs[i].err), "%s/consume-%u.log", dir, i);
		procs[i].pid = spawn(argv_c, procs[i].out, procs[i].err);
	}

	if (!json) {
		fprintf(stderr, "demo: %s %s, %llu frames", size_name(width, height, sbuf, sizeof(sbuf)),
			fourcc_s, (unsigned long long)frames);
		if (fps)
			fprintf(stderr, " at %u fps", fps);
		fprintf(stderr, ", producer pid %d, %u consumer process%s (verify full)\n",
			(int)procs[0].pid, consumers, consumers == 1 ? "" : "es");
	}

	/* generous: the stream itself plus start-up and verification time */
	timeout_ms = 60000 + (fps ? frames * 1000 / fps * 2 : frames * 50);
	{
		uint64_t deadline = now_ns() + timeout_ms * 1000000ull;
		unsigned int remaining = 0;

		for (i = 0; i < nprocs; i++)
			if (procs[i].pid > 0)
				remaining++;
			else
				ok = false;
		while (remaining > 0 && now_ns() < deadline && !stop_requested) {
			for (i = 0; i < nprocs; i++) {
				if (procs[i].pid <= 0 || procs[i].done)
					continue;
				if (wait_child(procs[i].pid, 0, &procs[i].status, NULL)) {
					procs[i].done = true;
					remaining--;
				}
			}
			if (remaining)
				sleep_ms(20);
		}
		for (i = 0; i < nprocs; i++) {
			if (procs[i].pid > 0 && !procs[i].done) {
				kill_child(procs[i].pid, 1000, &procs[i].status, NULL);
				procs[i].done = true;
				ok = false;
				if (!stop_requested)
					tool_error(TOOL_ERR_TIMEOUT, 0, "the %s (pid %d) did not finish "
						   "in time; killed", i ? "consumer" : "producer",
						   (int)procs[i].pid);
			}
		}
	}

	for (i = 0; i < nprocs; i++) {
		procs[i].json = read_file(procs[i].out);
		if (!WIFEXITED(procs[i].status) || WEXITSTATUS(procs[i].status) != 0)
			ok = false;
	}

	{
		const char *sj = procs[0].json;
		uint64_t crossed = UINT64_MAX, verified = 0, failed = 0, dropped = 0, copied = 0;
		double fps_min = INFINITY, p50 = 0, p99 = 0, pmax = 0;
		char memory[64] = "unknown", alloc_name[32] = "unknown";

		if (sj) {
			json_lookup_string(sj, "memory", memory, sizeof(memory));
			json_lookup_string(sj, "allocator", alloc_name, sizeof(alloc_name));
			copied += get_u64(sj, "bytes_copied");
		}
		for (i = 1; i < nprocs; i++) {
			const char *cj = procs[i].json;
			uint64_t got = get_u64(cj, "frames_received");

			if (!cj) {
				ok = false;
				crossed = 0;
				continue;
			}
			crossed = got < crossed ? got : crossed;
			verified += get_u64(cj, "frames_verified");
			failed += get_u64(cj, "frames_failed");
			dropped += get_u64(cj, "frames_dropped");
			copied += get_u64(cj, "bytes_copied");
			if (get_double(cj, "fps") < fps_min)
				fps_min = get_double(cj, "fps");
			p50 = fmax(p50, get_double(cj, "latency_p50_us"));
			p99 = fmax(p99, get_double(cj, "latency_p99_us"));
			pmax = fmax(pmax, get_double(cj, "latency_max_us"));
		}
		if (crossed == UINT64_MAX)
			crossed = 0;
		if (failed || copied || crossed == 0)
			ok = false;
		/* the first reason the demo failed, as its one error line */
		if (failed)
			tool_error(TOOL_ERR_VERIFY, 0, "%llu frames failed verification",
				   (unsigned long long)failed);
		else if (copied)
			tool_error(TOOL_ERR_STRICT, 0, "%llu pixel bytes were copied",
				   (unsigned long long)copied);
		for (i = 0; i < nprocs && !ok && !stop_requested; i++) {
			char st[64];

			if (procs[i].pid > 0 && WIFEXITED(procs[i].status) &&
			    WEXITSTATUS(procs[i].status) == 0)
				continue;
			tool_error(TOOL_ERR_INTERNAL, 0, "the %s (pid %d) failed: %s",
				   i ? "consumer" : "producer", (int)procs[i].pid,
				   procs[i].pid > 0 ? describe_status(procs[i].status, st, sizeof(st)) :
				   "it could not be started");
			break;
		}
		if (!ok && tool.error == TOOL_OK && !stop_requested)
			tool_error(TOOL_ERR_INTERNAL, 0, "no frame crossed");

		if (json) {
			struct json j;

			json_begin_document(&j, stop_requested != 0);
			json_string(&j, "fourcc", fourcc_s);
			json_u64(&j, "width", width);
			json_u64(&j, "height", height);
			json_u64(&j, "frames", frames);
			json_u64(&j, "consumers", consumers);
			json_u64(&j, "frames_crossed_min", crossed);
			json_u64(&j, "frames_verified", verified);
			json_u64(&j, "frames_failed", failed);
			json_u64(&j, "frames_dropped", dropped);
			json_u64(&j, "bytes_copied", copied);
			json_string(&j, "allocator", alloc_name);
			json_string(&j, "memory", memory);
			json_double(&j, "fps_min", isfinite(fps_min) ? fps_min : 0);
			json_double(&j, "latency_p50_us", p50);
			json_double(&j, "latency_p99_us", p99);
			json_double(&j, "latency_max_us", pmax);
			json_begin_array(&j, "processes");
			for (i = 0; i < nprocs; i++) {
				char st[64];

				json_begin_object(&j, NULL);
				json_string(&j, "role", i ? "consumer" : "producer");
				json_i64(&j, "pid", (int64_t)procs[i].pid);
				json_string(&j, "status", describe_status(procs[i].status, st,
									  sizeof(st)));
				json_end_object(&j);
			}
			json_end_array(&j);
			json_end_object(&j);
			json_finish(&j);
		} else {
			char to[64];

			if (consumers == 1)
				snprintf(to, sizeof(to), "process %d", (int)procs[1].pid);
			else
				snprintf(to, sizeof(to), "each of %u processes", consumers);
			printf("%s %s stream: %llu frames crossed from process %d to %s, %s, "
			       "%llu pixel bytes copied, allocator %s (%s), %.1f fps, latency p50 "
			       "%.2f ms, p99 %.2f ms\n",
			       size_name(width, height, sbuf, sizeof(sbuf)), fourcc_s,
			       (unsigned long long)crossed, (int)procs[0].pid, to,
			       failed ? "SOME FAILED VERIFICATION" : verified ? "all verified" :
			       "none verified",
			       (unsigned long long)copied, alloc_name,
			       strstr(memory, "memfd") ? "sealed memfd, NOT a dma-buf" : memory,
			       isfinite(fps_min) ? fps_min : 0.0, p50 / 1000.0, p99 / 1000.0);
			for (i = 1; i < nprocs; i++)
				printf("  consumer %u (pid %d): %llu received, %llu verified, "
				       "%llu failed, %llu dropped, p50 %.2f ms, p99 %.2f ms\n",
				       i, (int)procs[i].pid,
				       (unsigned long long)get_u64(procs[i].json, "frames_received"),
				       (unsigned long long)get_u64(procs[i].json, "frames_verified"),
				       (unsigned long long)get_u64(procs[i].json, "frames_failed"),
				       (unsigned long long)get_u64(procs[i].json, "frames_dropped"),
				       get_double(procs[i].json, "latency_p50_us") / 1000.0,
				       get_double(procs[i].json, "latency_p99_us") / 1000.0);
			if (strstr(memory, "memfd"))
				printf("  note: this machine has no dma-buf provider, so the buffers "
				       "are sealed memfds: shared between processes without copies, "
				       "but not DMA-able by devices\n");
			printf("%s\n", ok ? "demo: PASS" : "demo: FAIL");
		}
	}

	if (!ok) {
		for (i = 0; i < nprocs; i++) {
			char st[64];

			fprintf(stderr, "demo: %s pid %d: %s\n", i ? "consumer" : "producer",
				(int)procs[i].pid, describe_status(procs[i].status, st, sizeof(st)));
			show_log(i ? "consumer log" : "producer log", procs[i].err);
		}
	}
	for (i = 0; i < nprocs; i++)
		free(procs[i].json);
	if (keep)
		fprintf(stderr, "demo: logs kept in %s\n", dir);
	else
		remove_private_dir(dir);
	free(dir);
	/* interrupted: what crossed until then is the result, not a failure */
	return ok || (stop_requested && tool.error == TOOL_OK) ? 0 : 1;
}
