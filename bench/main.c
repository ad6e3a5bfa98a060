/* SPDX-License-Identifier: MIT */
/*
 * dmapipe-bench, run as `dmapipe bench` (tools/cmd-bench.c execs it): the
 * cost of handing frames across processes, measured in one run next to (a)
 * one memcpy of the same frame and (b) GStreamer's shmsink/shmsrc moving
 * the same frames.
 *
 * What "handoff" means here: the producer queues frames that were drawn
 * once at start (serve --predrawn) as fast as the consumers take them, and
 * the consumers never touch the pixels (consume --verify none). The CPU
 * time of all those processes during streaming, divided by the frames, is
 * the per-frame price of moving a frame from one process to the others.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"
#include "dmapipe-tool.h"

#define MAX_RUNS 8
#define MAX_PROCS 65
#define GST_REPEATS 5

static const char *const bench_usage =
	"Usage: dmapipe bench [OPTIONS]\n"
	"\n"
	"Measures the per-frame CPU cost, rate and latency of handing frames from one\n"
	"process to 1 and to 8 others, next to one memcpy of the same frame and to\n"
	"GStreamer's shmsink/shmsrc moving the same frames, and reports ratios.\n"
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
	"  -o, --output FILE       also write the report as markdown (docs/BENCHMARKS.md)\n"
	"      --json              print the results as JSON instead of the report\n"
	"      --keep              keep the directory with every process's output\n"
	"  -h, --help              this text\n";

enum {
	OPT_SIZE = 256,
	OPT_LATENCY_FRAMES,
	OPT_LATENCY_FPS,
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
};

struct bench_opts {
	struct dmapipe_format format;
	uint64_t frames;
	uint32_t repeat;
	uint64_t latency_frames;
	uint32_t latency_fps;
	uint32_t memcpy_runs;
	uint64_t gst_frames;
	uint64_t gst_probe_frames;
	uint32_t gst_timeout_ms;
	uint32_t consumers[MAX_RUNS];
	unsigned int n_consumers;
	bool gst;
	const char *allocator;
	const char *output;
	bool json;
	bool keep;
	bool storage;
	const char *storage_dir;
	uint64_t storage_mb;
	uint32_t storage_repeat;
	uint32_t storage_max_request;
	char command[512]; /* how the bench was run, for the report */
};

struct machine {
	char cpu[128];
	long cores;
	char kernel[128];
	uint64_t llc;
	char date[64];
	char gst_version[96];
	char allocator[32];
	char memory[64];
	bool dmabuf;
	char dev_summary[256];
	char load_start[64], load_end[64]; /* /proc/loadavg: was the machine quiet? */
};

struct copy_result {
	uint64_t bytes;        /* pixel bytes of one frame */
	unsigned int buffers;  /* rotated source and destination buffers */
	uint64_t footprint;
	double median_ms, min_ms, p90_ms;
	double gbps;
	double draw_ms, check_ms; /* the test pattern, cold, medians */
};

struct dp_result {
	bool ran;
	bool ok;
	char error[256];
	unsigned int consumers;
	bool paced;
	unsigned int in_flight;    /* frames one consumer may hold */
	unsigned int depth;        /* its queue */
	uint32_t fps_target;
	uint64_t frames;           /* queued by the producer */
	uint64_t delivered_min;    /* least received by one consumer */
	uint64_t dropped;          /* sum over consumers */
	double fps_producer;
	double fps_consumer_min;
	double lat_p50_us, lat_p90_us, lat_p99_us, lat_max_us; /* worst consumer */
	uint64_t bytes_copied;
	uint64_t cpu_stream_ns;    /* producer + consumers, streaming phase */
	uint64_t cpu_producer_ns;
	uint64_t cpu_consumers_ns;
	uint64_t cpu_whole_ns;     /* wait4: whole processes, setup included */
	double cpu_per_frame_us;
	double cpu_whole_per_frame_us;
	double ratio_memcpy;       /* cpu_per_frame / memcpy */
	unsigned int runs;         /* repeated runs this result is the median of */
	bool no_poll;              /* both sides ran with --busy-poll 0 */
	double cpu_min_us, cpu_max_us, fps_min, fps_max; /* spread over them */
};

struct gst_result {
	bool ran;
	bool measured;
	char status[256];
	unsigned int consumers;
	uint64_t frames;
	double transport_cpu_per_frame_us; /* median over repeats */
	double transport_min_us, transport_max_us;
	double shm_cpu_per_frame_us;       /* producer + readers, before subtraction */
	double base_cpu_per_frame_us;      /* videotestsrc ! fakesink */
	double init_cpu_ms;                /* one gst-launch start-up */
	double fps;
	double ratio_memcpy;
	unsigned int runs;      /* completed */
	unsigned int failures;  /* runs that did not complete */
	unsigned int timeouts;  /* of which: deadlocks (killed after the timeout) */
};

struct bench {
	struct bench_opts o;
	struct machine m;
	struct copy_result copy;     /* at the start */
	struct copy_result copy_end; /* again at the end */
	double memcpy_ref_ms;        /* the faster median: ratios use it */
	struct dp_result thr[MAX_RUNS];  /* library defaults */
	struct dp_result deep[MAX_RUNS]; /* deeper pipelining */
	struct dp_result nopoll[MAX_RUNS]; /* library defaults, busy polling off */
	struct dp_result lat[MAX_RUNS];
	struct gst_result gst[MAX_RUNS];
	char *dir;
	char tool[PATH_MAX];     /* the dmapipe tool that runs serve and consume */
	char gst_launch[512];
	double gst_init_cpu_ns;
	char gst_probe[320];     /* what the long-run probe did, or "" */
	bool gst_base_ok;
	struct storage_result storage;
};

struct child {
	pid_t pid;
	int status;
	struct rusage ru;
	bool done;
	bool killed;
};

/* ---- helpers ------------------------------------------------------------ */

static double median_of(double *v, unsigned int n)
{
	unsigned int i, k;

	if (n == 0)
		return NAN;
	for (i = 1; i < n; i++) {
		double x = v[i];

		for (k = i; k > 0 && v[k - 1] > x; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t ru_cpu_ns(const struct rusage *ru)
{
	return timeval_ns(&ru->ru_utime) + timeval_ns(&ru->ru_stime);
}

/* Waits for all children up to @timeout_ms; kills the rest. True if none was killed. */
static bool wait_all(struct child *ch, unsigned int n, uint64_t timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ull;
	unsigned int left = 0, i;
	bool ok = true;

	for (i = 0; i < n; i++)
		if (ch[i].pid > 0 && !ch[i].done)
			left++;
	while (left && now_ns() < deadline && !stop_requested) {
		for (i = 0; i < n; i++) {
			if (ch[i].pid <= 0 || ch[i].done)
				continue;
			if (wait_child(ch[i].pid, 0, &ch[i].status, &ch[i].ru)) {
				ch[i].done = true;
				left--;
			}
		}
		if (left)
			sleep_ms(5);
	}
	for (i = 0; i < n; i++) {
		if (ch[i].pid > 0 && !ch[i].done) {
			kill_child(ch[i].pid, 500, &ch[i].status, &ch[i].ru);
			ch[i].done = true;
			ch[i].killed = true;
			ok = false;
		}
	}
	return ok;
}

static bool exited_ok(const struct child *c)
{
	return c->pid > 0 && !c->killed && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

static bool find_in_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	if (!copy)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		if (access(out, X_OK) == 0) {
			found = true;
			break;
		}
	}
	free(copy);
	return found;
}

static void first_line(const char *text, char *out, size_t len)
{
	size_t n = 0;

	while (text && text[n] && text[n] != '\n' && n + 1 < len) {
		out[n] = text[n];
		n++;
	}
	out[n] = '\0';
}

/* ---- the machine ---------------------------------------------------------- */

static uint64_t llc_size(void)
{
	uint64_t best = 0;
	int i;

	for (i = 0; i < 8; i++) {
		char path[128], *text, *end;
		uint64_t v;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		text = read_file(path);
		if (!text)
			continue;
		v = strtoull(text, &end, 10);
		if (*end == 'K')
			v <<= 10;
		else if (*end == 'M')
			v <<= 20;
		free(text);
		if (v > best)
			best = v;
	}
	return best ? best : 32ull << 20;
}

static void read_load(char *out, size_t len)
{
	char *text = read_file("/proc/loadavg");
	unsigned int i, spaces = 0;

	snprintf(out, len, "unknown");
	if (!text)
		return;
	/* the three averages */
	for (i = 0; text[i] && i + 1 < len; i++) {
		if (text[i] == ' ' && ++spaces == 3)
			break;
		out[i] = text[i];
	}
	out[i] = '\0';
	free(text);
}

static void describe_machine(struct bench *b)
{
	struct machine *m = &b->m;
	struct dmapipe_allocator *alloc;
	struct utsname uts;
	char *cpuinfo = read_file("/proc/cpuinfo");
	time_t t = time(NULL);
	struct tm tm;

	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if (cpuinfo) {
		char *p = strstr(cpuinfo, "model name");

		if (p && (p = strchr(p, ':'))) {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			first_line(p, m->cpu, sizeof(m->cpu));
		}
		free(cpuinfo);
	}
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&uts) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%.80s %.32s", uts.release, uts.machine);
	m->llc = llc_size();
	read_load(m->load_start, sizeof(m->load_start));
	gmtime_r(&t, &tm);
	strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M UTC", &tm);

	alloc = b->o.allocator ? dmapipe_allocator_new(b->o.allocator) :
				 dmapipe_allocator_new_default();
	if (alloc) {
		snprintf(m->allocator, sizeof(m->allocator), "%s",
			 dmapipe_allocator_get_name(alloc));
		snprintf(m->memory, sizeof(m->memory), "%s",
			 dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(alloc)));
		m->dmabuf = dmapipe_allocator_get_mem_kind(alloc) == DMAPIPE_MEM_DMABUF;
		dmapipe_allocator_unref(alloc);
	} else {
		snprintf(m->allocator, sizeof(m->allocator), "none");
		snprintf(m->memory, sizeof(m->memory), "none");
	}
	snprintf(m->dev_summary, sizeof(m->dev_summary), "/dev/dma_heap: %s, /dev/udmabuf: %s, "
		 "/dev/dri: %s",
		 access("/dev/dma_heap", F_OK) == 0 ? "present" : "absent",
		 access("/dev/udmabuf", F_OK) == 0 ? "present" : "absent",
		 access("/dev/dri", F_OK) == 0 ? "present" : "absent");
}

/* ---- (a) memcpy and the pattern ------------------------------------------ */

static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int measure_copy(struct bench *b, struct copy_result *r)
{
	struct dmapipe_layout layout;
	uint8_t **src, **dst;
	uint64_t frame = 0, alloc;
	double *times, *draws, *checks;
	unsigned int n, i, p, runs = b->o.memcpy_runs, warm;
	volatile uint8_t sink = 0;
	int ret = 0;

	if (dmapipe_layout_init(&layout, &b->o.format, 1) < 0)
		return -EINVAL;
	for (p = 0; p < layout.n_planes; p++)
		frame += dmapipe_layout_plane_size(&layout, p);
	alloc = layout.objects[0].size;
	/* each ring is four times the last-level cache: every copy is cold */
	n = (unsigned int)((4 * b->m.llc + frame - 1) / frame) + 1;
	if (n < 3)
		n = 3;
	r->bytes = frame;
	r->buffers = n;
	r->footprint = 2 * n * alloc;

	src = calloc(n, sizeof(*src));
	dst = calloc(n, sizeof(*dst));
	times = calloc(runs, sizeof(*times));
	draws = calloc(n, sizeof(*draws));
	checks = calloc(n, sizeof(*checks));
	if (!src || !dst || !times || !draws || !checks) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		src[i] = map_anon(alloc);
		dst[i] = map_anon(alloc);
		if (!src[i] || !dst[i]) {
			ret = -ENOMEM;
			goto out;
		}
		/* fault every page in before timing anything */
		memset(src[i], (int)i, alloc);
		memset(dst[i], 0, alloc);
	}

	warm = n; /* one full rotation first */
	for (i = 0; i < warm + runs; i++) {
		uint8_t *s = src[i % n], *d = dst[(i + n / 2) % n];
		uint64_t t0 = now_ns(), t1;

		memcpy(d, s, frame);
		t1 = now_ns();
		sink ^= d[frame - 1];
		if (i >= warm)
			times[i - warm] = (double)(t1 - t0) / 1e6;
	}
	r->median_ms = median_of(times, runs);
	r->min_ms = times[0];
	r->p90_ms = times[(unsigned int)((runs - 1) * 0.9)];
	r->gbps = (double)frame / (r->median_ms * 1e-3) / 1e9;

	/* the test pattern, cold: draw every buffer, then check every buffer */
	for (i = 0; i < n; i++) {
		uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
		uint64_t t0;

		for (p = 0; p < layout.n_planes; p++)
			planes[p] = dst[i] + layout.planes[p].offset;
		t0 = now_ns();
		dmapipe_pattern_draw(&layout, planes, i);
		draws[i] = (double)(now_ns() - t0) / 1e6;
	}
	for (i = 0; i < n; i++) {
		uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
		uint64_t t0;

		for (p = 0; p < layout.n_planes; p++)
			planes[p] = dst[i] + layout.planes[p].offset;
		t0 = now_ns();
		if (dmapipe_pattern_check(&layout, planes, i, NULL, NULL) < 0)
			ret = -EILSEQ;
		checks[i] = (double)(now_ns() - t0) / 1e6;
	}
	r->draw_ms = median_of(draws, n);
	r->check_ms = median_of(checks, n);
	(void)sink;

out:
	for (i = 0; src && dst && i < n; i++) {
		if (src[i])
			munmap(src[i], alloc);
		if (dst[i])
			munmap(dst[i], alloc);
	}
	free(src);
	free(dst);
	free(times);
	free(draws);
	free(checks);
	return ret;
}

/* ---- dmapipe runs ------------------------------------------------------------ */

static void run_dmapipe(struct bench *b, unsigned int consumers, bool paced,
			unsigned int in_flight, unsigned int depth, bool no_poll,
			struct dp_result *r)
{
	const struct bench_opts *o = &b->o;
	struct child ch[MAX_PROCS];
	char sock[600], size_s[32], fourcc_s[16], frames_s[24], fps_s[16], waitc_s[16];
	char maxc_s[16], outs[MAX_PROCS][600], errs[MAX_PROCS][600], names[MAX_PROCS][32];
	char inflight_s[16], policy_s[32];
	char *texts[MAX_PROCS] = { NULL };
	uint64_t frames = paced ? o->latency_frames : o->frames, timeout_ms;
	unsigned int i, n = 1 + consumers;
	char *argv[40];
	int k;

	memset(r, 0, sizeof(*r));
	memset(ch, 0, sizeof(ch));
	r->ran = true;
	r->consumers = consumers;
	r->paced = paced;
	r->fps_target = paced ? o->latency_fps : 0;
	r->in_flight = in_flight;
	r->depth = depth;
	r->no_poll = no_poll;
	snprintf(inflight_s, sizeof(inflight_s), "%u", in_flight);
	/* unthrottled: nothing dropped, the producer waits for the slowest;
	 * paced: what a live consumer would ask for */
	snprintf(policy_s, sizeof(policy_s), "%s:%u", paced ? "queue" : "block", depth);

	snprintf(sock, sizeof(sock), "%s/bench.sock", b->dir);
	unlink(sock);
	snprintf(size_s, sizeof(size_s), "%ux%u", o->format.width, o->format.height);
	dmapipe_fourcc_to_string(o->format.fourcc, fourcc_s, sizeof(fourcc_s));
	snprintf(frames_s, sizeof(frames_s), "%llu", (unsigned long long)frames);
	snprintf(fps_s, sizeof(fps_s), "%u", r->fps_target);
	snprintf(waitc_s, sizeof(waitc_s), "%u", consumers);
	snprintf(maxc_s, sizeof(maxc_s), "%u", consumers > 32 ? consumers : 32);

	k = 0;
	argv[k++] = b->tool;
	argv[k++] = (char *)"serve";
	argv[k++] = (char *)"--socket";
	argv[k++] = sock;
	argv[k++] = (char *)"--size";
	argv[k++] = size_s;
	argv[k++] = (char *)"--format";
	argv[k++] = fourcc_s;
	argv[k++] = (char *)"--fps";
	argv[k++] = fps_s;
	argv[k++] = (char *)"--frames";
	argv[k++] = frames_s;
	argv[k++] = (char *)"--wait-consumers";
	argv[k++] = waitc_s;
	argv[k++] = (char *)"--max-consumers";
	argv[k++] = maxc_s;
	argv[k++] = (char *)"--max-in-flight";
	argv[k++] = inflight_s;
	argv[k++] = (char *)"--buffers";
	argv[k++] = (char *)"4";
	argv[k++] = (char *)"--predrawn";
	argv[k++] = (char *)"--name";
	argv[k++] = (char *)"bench";
	argv[k++] = (char *)"--quiet";
	argv[k++] = (char *)"--json";
	if (o->allocator) {
		argv[k++] = (char *)"--allocator";
		argv[k++] = (char *)o->allocator;
	}
	if (no_poll) {
		argv[k++] = (char *)"--busy-poll";
		argv[k++] = (char *)"0";
	}
	argv[k] = NULL;
	snprintf(outs[0], sizeof(outs[0]), "%s/serve.json", b->dir);
	snprintf(errs[0], sizeof(errs[0]), "%s/serve.log", b->dir);
	ch[0].pid = spawn(argv, outs[0], errs[0]);

	for (i = 1; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "bench-%u", i);
		k = 0;
		argv[k++] = b->tool;
		argv[k++] = (char *)"consume";
		argv[k++] = (char *)"--socket";
		argv[k++] = sock;
		argv[k++] = (char *)"--verify";
		argv[k++] = (char *)"none";
		argv[k++] = (char *)"--policy";
		argv[k++] = policy_s;
		argv[k++] = (char *)"--in-flight";
		argv[k++] = inflight_s;
		argv[k++] = (char *)"--name";
		argv[k++] = names[i];
		argv[k++] = (char *)"--timeout";
		argv[k++] = (char *)"30000";
		argv[k++] = (char *)"--quiet";
		argv[k++] = (char *)"--json";
		if (no_poll) {
			argv[k++] = (char *)"--busy-poll";
			argv[k++] = (char *)"0";
		}
		argv[k] = NULL;
		snprintf(outs[i], sizeof(outs[i]), "%s/consume-%u.json", b->dir, i);
		snprintf(errs[i], sizeof(errs[i]), "%s/consume-%u.log", b->dir, i);
		ch[i].pid = spawn(argv, outs[i], errs[i]);
	}

	timeout_ms = paced ? frames * 1000 / (o->latency_fps ? o->latency_fps : 1) + 60000 :
			     600000;
	r->ok = wait_all(ch, n, timeout_ms);
	if (!r->ok)
		snprintf(r->error, sizeof(r->error), "timed out after %llu s: killed",
			 (unsigned long long)(timeout_ms / 1000));

	r->delivered_min = UINT64_MAX;
	r->fps_consumer_min = INFINITY;
	for (i = 0; i < n; i++) {
		uint64_t v = 0;
		double d;

		texts[i] = read_file(outs[i]);
		if (!exited_ok(&ch[i]) && r->ok) {
			char st[64];

			r->ok = false;
			snprintf(r->error, sizeof(r->error), "%s %u: %.40s (see %.160s)",
				 i ? "consumer" : "producer", i,
				 describe_status(ch[i].status, st, sizeof(st)), errs[i]);
		}
		r->cpu_whole_ns += ru_cpu_ns(&ch[i].ru);
		if (!texts[i])
			continue;
		json_lookup_u64(texts[i], "cpu_ns", &v);
		r->cpu_stream_ns += v;
		if (i == 0)
			r->cpu_producer_ns = v;
		else
			r->cpu_consumers_ns += v;
		v = 0;
		json_lookup_u64(texts[i], "bytes_copied", &v);
		r->bytes_copied += v;
		if (i == 0) {
			json_lookup_u64(texts[i], "frames_queued", &r->frames);
			if (json_lookup_double(texts[i], "fps", &d) == 0)
				r->fps_producer = d;
			continue;
		}
		v = 0;
		json_lookup_u64(texts[i], "frames_received", &v);
		if (v < r->delivered_min)
			r->delivered_min = v;
		v = 0;
		json_lookup_u64(texts[i], "frames_dropped", &v);
		r->dropped += v;
		if (json_lookup_double(texts[i], "fps", &d) == 0 && d < r->fps_consumer_min)
			r->fps_consumer_min = d;
		if (json_lookup_double(texts[i], "latency_p50_us", &d) == 0)
			r->lat_p50_us = fmax(r->lat_p50_us, d);
		if (json_lookup_double(texts[i], "latency_p90_us", &d) == 0)
			r->lat_p90_us = fmax(r->lat_p90_us, d);
		if (json_lookup_double(texts[i], "latency_p99_us", &d) == 0)
			r->lat_p99_us = fmax(r->lat_p99_us, d);
		if (json_lookup_double(texts[i], "latency_max_us", &d) == 0)
			r->lat_max_us = fmax(r->lat_max_us, d);
	}
	if (r->delivered_min == UINT64_MAX)
		r->delivered_min = 0;
	if (!isfinite(r->fps_consumer_min))
		r->fps_consumer_min = 0;
	if (r->frames) {
		r->cpu_per_frame_us = (double)r->cpu_stream_ns / (double)r->frames / 1e3;
		r->cpu_whole_per_frame_us = (double)r->cpu_whole_ns / (double)r->frames / 1e3;
	}
	if (b->copy.median_ms > 0)
		r->ratio_memcpy = r->cpu_per_frame_us / (b->copy.median_ms * 1e3);
	if (r->ok && r->frames == 0) {
		r->ok = false;
		snprintf(r->error, sizeof(r->error), "no frames were queued");
	}
	for (i = 0; i < n; i++)
		free(texts[i]);
}

/*
 * Unthrottled runs are short and the machine is noisy: run them
 * b->o.repeat times and keep the run with the median CPU per frame, with
 * the spread of all runs. Any failed run fails the result.
 */
static void run_dmapipe_repeated(struct bench *b, unsigned int consumers, unsigned int in_flight,
				 unsigned int depth, bool no_poll, struct dp_result *out)
{
	struct dp_result *runs = calloc(b->o.repeat, sizeof(*runs));
	double cpu_min = INFINITY, cpu_max = 0, fps_min = INFINITY, fps_max = 0;
	unsigned int i, k, n = 0;
	uint64_t copied = 0;

	if (!runs) {
		memset(out, 0, sizeof(*out));
		snprintf(out->error, sizeof(out->error), "out of memory");
		out->ran = true;
		return;
	}
	for (i = 0; i < b->o.repeat && !stop_requested; i++) {
		run_dmapipe(b, consumers, false, in_flight, depth, no_poll, &runs[n]);
		copied += runs[n].bytes_copied;
		if (!runs[n].ok) {
			*out = runs[n];
			out->bytes_copied = copied;
			free(runs);
			return;
		}
		cpu_min = fmin(cpu_min, runs[n].cpu_per_frame_us);
		cpu_max = fmax(cpu_max, runs[n].cpu_per_frame_us);
		fps_min = fmin(fps_min, runs[n].fps_consumer_min);
		fps_max = fmax(fps_max, runs[n].fps_consumer_min);
		n++;
	}
	if (n == 0) {
		memset(out, 0, sizeof(*out));
		out->ran = true;
		snprintf(out->error, sizeof(out->error), "interrupted");
		free(runs);
		return;
	}
	/* the median by CPU per frame */
	for (i = 1; i < n; i++) {
		struct dp_result x = runs[i];

		for (k = i; k > 0 && runs[k - 1].cpu_per_frame_us > x.cpu_per_frame_us; k--)
			runs[k] = runs[k - 1];
		runs[k] = x;
	}
	*out = runs[n / 2];
	out->runs = n;
	out->bytes_copied = copied;
	out->cpu_min_us = cpu_min;
	out->cpu_max_us = cpu_max;
	out->fps_min = fps_min;
	out->fps_max = fps_max;
	free(runs);
}

/* ---- (b) GStreamer shmsink/shmsrc ------------------------------------------------ */

static void gst_caps(const struct bench *b, char *out, size_t len)
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

/* Runs one gst-launch-1.0 pipeline given as words; returns its CPU or -1. */
static double gst_run_simple(struct bench *b, const char *const words[], const char *tag,
			     double *exec_s)
{
	struct child c;
	char out[600];
	char *argv[40];
	char *text;
	double cpu = -1;
	int k = 0;

	memset(&c, 0, sizeof(c));
	argv[k++] = b->gst_launch;
	while (*words && k < 39)
		argv[k++] = (char *)*words++;
	argv[k] = NULL;
	snprintf(out, sizeof(out), "%s/gst-%s.log", b->dir, tag);
	c.pid = spawn(argv, out, out);
	if (wait_all(&c, 1, b->o.gst_timeout_ms) && exited_ok(&c))
		cpu = (double)ru_cpu_ns(&c.ru);
	text = read_file(out);
	if (exec_s)
		*exec_s = gst_exec_seconds(text);
	free(text);
	return cpu;
}

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

static void gst_baselines(struct bench *b)
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

/* One shmsink process and @readers shmsrc processes; false on timeout. */
static bool gst_shm_once(struct bench *b, unsigned int readers, unsigned int rep,
			 double *cpu_ns, double *exec_s, char *why, size_t why_len)
{
	struct child ch[MAX_PROCS];
	char caps[160], nbuf[32], sock[600], sockarg[640], shmarg[64], outs[MAX_PROCS][600];
	uint64_t deadline, frame_alloc;
	struct dmapipe_layout layout;
	unsigned int i, gone, n = 1 + readers;
	char *text, *argv[40];
	bool ok;
	int k;

	memset(ch, 0, sizeof(ch));
	gst_caps(b, caps, sizeof(caps));
	snprintf(nbuf, sizeof(nbuf), "num-buffers=%llu", (unsigned long long)b->o.gst_frames);
	snprintf(sock, sizeof(sock), "%s/gst-shm.sock", b->dir);
	unlink(sock);
	snprintf(sockarg, sizeof(sockarg), "socket-path=%s", sock);
	frame_alloc = 64ull << 20;
	if (dmapipe_layout_init(&layout, &b->o.format, 1) == 0 &&
	    4 * layout.objects[0].size > frame_alloc)
		frame_alloc = 4 * layout.objects[0].size;
	snprintf(shmarg, sizeof(shmarg), "shm-size=%llu", (unsigned long long)frame_alloc);

	/* without -q: "Got EOS" tells that every frame went through */
	k = 0;
	argv[k++] = b->gst_launch;
	argv[k++] = (char *)"videotestsrc";
	argv[k++] = nbuf;
	argv[k++] = (char *)"pattern=solid-color";
	argv[k++] = (char *)"!";
	argv[k++] = caps;
	argv[k++] = (char *)"!";
	argv[k++] = (char *)"shmsink";
	argv[k++] = sockarg;
	argv[k++] = shmarg;
	argv[k++] = (char *)"wait-for-connection=true";
	argv[k++] = (char *)"sync=false";
	argv[k] = NULL;
	snprintf(outs[0], sizeof(outs[0]), "%s/gst-shm%u-%u-shmsink.log", b->dir, readers, rep);
	ch[0].pid = spawn(argv, outs[0], outs[0]);

	deadline = now_ns() + 10000000000ull;
	while (access(sock, F_OK) != 0 && now_ns() < deadline)
		sleep_ms(5);

	for (i = 1; i < n; i++) {
		k = 0;
		argv[k++] = b->gst_launch;
		argv[k++] = (char *)"-q";
		argv[k++] = (char *)"shmsrc";
		argv[k++] = sockarg;
		argv[k++] = (char *)"is-live=true";
		argv[k++] = (char *)"!";
		argv[k++] = caps;
		argv[k++] = (char *)"!";
		argv[k++] = (char *)"fakesink";
		argv[k++] = (char *)"sync=false";
		/* a kept last buffer holds a shm block and stalls shmsink's EOS */
		argv[k++] = (char *)"enable-last-sample=false";
		argv[k] = NULL;
		snprintf(outs[i], sizeof(outs[i]), "%s/gst-shm%u-%u-shmsrc-%u.log", b->dir, readers,
			 rep, i);
		ch[i].pid = spawn(argv, outs[i], outs[i]);
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

static void run_gst(struct bench *b, unsigned int readers, struct gst_result *r)
{
	double transport[GST_REPEATS], shm[GST_REPEATS], base[GST_REPEATS], fps[GST_REPEATS];
	char first_failure[256] = "";
	unsigned int i, good = 0;

	memset(r, 0, sizeof(*r));
	r->ran = true;
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
		if (!gst_shm_once(b, readers, i, &cpu, &exec, why, sizeof(why))) {
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
static void run_gst_probe(struct bench *b)
{
	uint64_t frames = b->o.gst_frames;
	uint32_t timeout = b->o.gst_timeout_ms;
	double cpu = 0, exec = NAN;
	char why[256] = "";

	b->o.gst_frames = b->o.gst_probe_frames;
	b->o.gst_timeout_ms = 30000;
	if (gst_shm_once(b, 1, 99, &cpu, &exec, why, sizeof(why)))
		snprintf(b->gst_probe, sizeof(b->gst_probe), "completed %llu frames in %.1f s",
			 (unsigned long long)b->o.gst_frames, exec);
	else
		snprintf(b->gst_probe, sizeof(b->gst_probe), "did not complete %llu frames: %s",
			 (unsigned long long)b->o.gst_frames, why);
	b->o.gst_frames = frames;
	b->o.gst_timeout_ms = timeout;
}

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
	}
}

/* ---- reports -------------------------------------------------------------------- */

static const char *pct(double ratio, char *buf, size_t len)
{
	if (!isfinite(ratio))
		snprintf(buf, len, "-");
	else if (ratio < 0.001)
		snprintf(buf, len, "%.3f%%", ratio * 100);
	else
		snprintf(buf, len, "%.2f%%", ratio * 100);
	return buf;
}

/* The storage rows of the targets table: ratios against fio in the same run. */
static void storage_targets(const struct bench *b, FILE *f)
{
	const struct storage_result *s = &b->storage;
	const struct storage_run *pairs[2][2] = {
		{ &s->rec_direct, &s->fio_write }, { &s->replay, &s->fio_read },
	};
	const char *what[2] = { "recording", "replay" };
	const struct storage_pairs *pp[2] = { &s->write_pairs, &s->read_pairs };

	if (!b->o.storage || !s->ran)
		return;
	for (int i = 0; i < 2; i++) {
		const struct storage_run *r = pairs[i][0], *ref = pairs[i][1];
		double ratio = r->ok && ref->ok && ref->mb_s > 0 ? r->mb_s / ref->mb_s : 0;
		/* "not growing": what the file holds in the page cache stays under 1% of it */
		bool flat = r->ok && r->cache_peak * 100 <= r->bytes;

		if (!r->ok || !ref->ok) {
			fprintf(f, "| %s at least 95%% of fio's direct I/O rate, page cache flat | "
				"not measured (%s) | |\n", what[i], !r->ok ? r->error : ref->error);
			continue;
		}
		/* met only if the medians and the pairs both say so */
		fprintf(f, "| %s at least 95%% of fio's direct I/O rate, page cache flat | %.1f%% "
			"of fio (%.0f vs %.0f MB/s; pair by pair %.1f%%); page cache peak %.1f MB "
			"for %.0f MB | %s |\n",
			what[i], ratio * 100, r->mb_s, ref->mb_s, pp[i]->median * 100,
			(double)r->cache_peak / 1e6, (double)r->bytes / 1e6,
			ratio >= 0.95 && pp[i]->median >= 0.95 && flat ? "met" : "NOT met");
	}
}

/* BUILDDIR/tmp when this program runs from a build tree, else $TMPDIR or /var/tmp. */
static const char *default_storage_dir(char *buf, size_t len)
{
	const char *exe = self_exe(), *tmp = getenv("TMPDIR");
	char probe[PATH_MAX];
	char *slash;

	if (exe && strlen(exe) < sizeof(probe)) {
		snprintf(probe, sizeof(probe), "%s", exe);
		slash = strrchr(probe, '/');
		if (slash) {
			*slash = '\0'; /* BUILDDIR/tools */
			slash = strrchr(probe, '/');
		}
		if (slash) {
			*slash = '\0'; /* BUILDDIR */
			if (snprintf(buf, len, "%s/meson-private", probe) < (int)len &&
			    access(buf, F_OK) == 0 &&
			    snprintf(buf, len, "%s/tmp", probe) < (int)len) {
				mkdir(buf, 0755);
				return buf;
			}
		}
	}
	snprintf(buf, len, "%s", tmp && *tmp ? tmp : "/var/tmp");
	return buf;
}

static void storage_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void storage_log(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void write_markdown(const struct bench *b, FILE *f)
{
	const struct bench_opts *o = &b->o;
	const struct machine *m = &b->m;
	const struct copy_result *c = &b->copy;
	char fourcc[16], p1[32], p2[32];
	unsigned int i;
	bool memfd = !m->dmabuf;

	dmapipe_fourcc_to_string(o->format.fourcc, fourcc, sizeof(fourcc));
	fprintf(f, "# dmapipe benchmarks\n\n");
	fprintf(f, "Generated by `%s` on %s. Every number below comes from that one\n"
		"invocation; rerun the command to reproduce it on another machine. Ratios matter\n"
		"more than absolute times. On a small virtual machine, run-to-run variation of\n"
		"tens of percent is normal, which is why the unthrottled runs are repeated and\n"
		"shown with their spread, and the GStreamer runs are paired and repeated.\n\n",
		o->command, m->date);

	fprintf(f, "## Machine\n\n");
	fprintf(f, "| | |\n|---|---|\n");
	fprintf(f, "| CPU | %s, %ld online cores, last-level cache %llu MiB |\n", m->cpu, m->cores,
		(unsigned long long)(m->llc >> 20));
	fprintf(f, "| Kernel | %s |\n", m->kernel);
	fprintf(f, "| Allocator | %s: %s |\n", m->allocator, m->memory);
	fprintf(f, "| Kernel interfaces | %s |\n", m->dev_summary);
	fprintf(f, "| GStreamer | %s |\n", b->gst_launch[0] ? m->gst_version :
		"gst-launch-1.0 not installed");
	fprintf(f, "| Frame | %s %ux%u, %llu bytes of pixels |\n", fourcc, o->format.width,
		o->format.height, (unsigned long long)c->bytes);
	fprintf(f, "| Load average (1, 5, 15 min) | %s before the run; %s at its end (with the "
		"benchmark's own processes) |\n\n",
		m->load_start, m->load_end);
	if (memfd)
		fprintf(f, "**This host has no dma-buf provider** (no dma-heap, no udmabuf, no DRM\n"
			"device), so the buffers were sealed memfds, which are NOT dma-bufs. The\n"
			"handoff measured here is the same code path for dma-bufs: fds cross the\n"
			"socket once per connection, each frame is a small message naming a buffer\n"
			"id, and the consumer hands a lease back. What differs with real dma-bufs is\n"
			"allocation and `DMA_BUF_IOCTL_SYNC` around CPU access, and neither happens\n"
			"per frame in the handoff (the consumers here do not touch pixels).\n\n");

	fprintf(f, "## Results\n\n");
	fprintf(f, "### (a) One memcpy of the frame, cache-cold\n\n");
	fprintf(f, "%llu bytes copied between buffers rotated among %u sources and %u\n"
		"destinations (%llu MiB in all, four times the last-level cache per ring, so\n"
		"no copy finds its data in cache); median of %u copies.\n\n",
		(unsigned long long)c->bytes, c->buffers, c->buffers,
		(unsigned long long)(c->footprint >> 20), o->memcpy_runs);
	fprintf(f, "| when | memcpy median | min | p90 | bandwidth |\n|---|---|---|---|---|\n");
	fprintf(f, "| before the runs | %.3f ms | %.3f ms | %.3f ms | %.1f GB/s |\n", c->median_ms,
		c->min_ms, c->p90_ms, c->gbps);
	if (b->copy_end.median_ms > 0)
		fprintf(f, "| after the runs | %.3f ms | %.3f ms | %.3f ms | %.1f GB/s |\n",
			b->copy_end.median_ms, b->copy_end.min_ms, b->copy_end.p90_ms,
			b->copy_end.gbps);
	fprintf(f, "\nEvery ratio below divides by the faster of the two medians, %.3f ms, so that\n"
		"a slow moment of the machine cannot make the handoff look cheaper.\n\n",
		b->memcpy_ref_ms);
	fprintf(f, "For scale, drawing the test pattern (docs/PATTERN.md) into a cold frame takes\n"
		"%.3f ms and checking every byte of one %.3f ms (medians).\n\n", c->draw_ms,
		c->check_ms);

	fprintf(f, "### Handoff: dmapipe, producer to N consumer processes, unthrottled\n\n");
	fprintf(f, "`dmapipe serve --predrawn --fps 0 --frames %llu` (frames drawn once at start,\n"
		"then queued as fast as the consumers take them) and N x `dmapipe consume\n"
		"--verify none --policy block:DEPTH --in-flight K` (nothing dropped; pixels never\n"
		"touched). Three settings: the library defaults (a consumer holds at most K = 2\n"
		"frames, queue of 4), deeper pipelining (K = 8, queue of 16), which lets the\n"
		"processes batch their wake-ups, and the defaults with `--busy-poll 0` on both\n"
		"sides, which shows what the adaptive busy polling (docs/ARCHITECTURE.md) buys;\n"
		"its polling is CPU time of the processes and is counted like any other.\n"
		"CPU is user + system time of the producer and\n"
		"every consumer during streaming (CLOCK_PROCESS_CPUTIME_ID read at the first and\n"
		"last frame in each process), divided by the frames produced; \"whole processes\"\n"
		"is wait4() rusage of the same processes including start-up, allocation,\n"
		"pre-faulting and connecting.\n\n",
		(unsigned long long)o->frames);
	fprintf(f, "Each setting ran %u times; the table shows the run with the median CPU per\n"
		"frame, and the spread of CPU per frame and frames/s over all runs.\n\n",
		o->repeat);
	fprintf(f, "| consumers | in flight / queue | frames | frames/s (slowest consumer) | "
		"frames/s range | CPU per frame | CPU range | of one memcpy | whole processes per "
		"frame | latency p50 / p99 | pixel bytes copied | dropped |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < o->n_consumers; i++) {
		const struct dp_result *rs[3] = { &b->thr[i], &b->deep[i], &b->nopoll[i] };
		unsigned int k;

		for (k = 0; k < 3; k++) {
			const struct dp_result *r = rs[k];

			if (!r->ran)
				continue;
			if (!r->ok) {
				fprintf(f, "| %u | %u / %u%s | FAILED: %s | | | | | | | | | |\n",
					r->consumers, r->in_flight, r->depth,
					r->no_poll ? ", no busy polling" : "", r->error);
				continue;
			}
			fprintf(f, "| %u | %u / %u%s | %llu | %.0f | %.0f to %.0f | %.2f us | "
				"%.2f to %.2f us | **%s** | %.2f us | %.1f / %.1f us | %llu | %llu |\n",
				r->consumers, r->in_flight, r->depth,
				r->no_poll ? ", no busy polling" : "", (unsigned long long)r->frames,
				r->fps_consumer_min, r->fps_min, r->fps_max, r->cpu_per_frame_us,
				r->cpu_min_us, r->cpu_max_us,
				pct(r->ratio_memcpy, p1, sizeof(p1)), r->cpu_whole_per_frame_us,
				r->lat_p50_us, r->lat_p99_us, (unsigned long long)r->bytes_copied,
				(unsigned long long)r->dropped);
		}
	}
	fprintf(f, "\nLatency here is queueing under saturation (the producer keeps every consumer's\n"
		"queue full); the paced runs below show the latency of a live stream.\n\n");

	fprintf(f, "### Handoff: dmapipe at %u fps (a live stream)\n\n", o->latency_fps);
	fprintf(f, "Same processes, `--fps %u --frames %llu`, consumers `--policy queue:4`.\n"
		"Latency is consumer receive time minus the producer's timestamp taken just\n"
		"before queueing (both CLOCK_MONOTONIC). At this rate every frame wakes every\n"
		"process, so the CPU per frame includes the cross-CPU wake-ups.\n\n",
		o->latency_fps, (unsigned long long)o->latency_frames);
	fprintf(f, "| consumers | frames | CPU per frame | of one memcpy | latency p50 | p90 | p99 | max | "
		"pixel bytes copied | dropped |\n|---|---|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < o->n_consumers; i++) {
		const struct dp_result *r = &b->lat[i];

		if (!r->ok) {
			fprintf(f, "| %u | FAILED: %s | | | | | | | | |\n", r->consumers, r->error);
			continue;
		}
		fprintf(f, "| %u | %llu | %.2f us | %s | %.1f us | %.1f us | %.1f us | %.1f us | %llu | %llu |\n",
			r->consumers, (unsigned long long)r->frames, r->cpu_per_frame_us,
			pct(r->ratio_memcpy, p1, sizeof(p1)), r->lat_p50_us, r->lat_p90_us,
			r->lat_p99_us, r->lat_max_us, (unsigned long long)r->bytes_copied,
			(unsigned long long)r->dropped);
	}

	fprintf(f, "\n### (b) GStreamer shmsink -> shmsrc, the same frames\n\n");
	if (!b->gst_launch[0] || !o->gst) {
		fprintf(f, "%s.\n\n", b->gst[0].status[0] ? b->gst[0].status :
			"not measured: gst-launch-1.0 missing");
	} else {
		char caps[160];

		gst_caps(b, caps, sizeof(caps));
		fprintf(f, "`gst-launch-1.0 videotestsrc num-buffers=%llu pattern=solid-color ! CAPS !\n"
			"shmsink socket-path=... shm-size=... wait-for-connection=true sync=false` and N x\n"
			"`gst-launch-1.0 shmsrc socket-path=... is-live=true ! CAPS ! fakesink sync=false\n"
			"enable-last-sample=false`, with CAPS = `%s`, as separate\n"
			"processes; CPU from wait4() rusage.\n\n"
			"To compare only the transport, each shm run is paired with a run of the\n"
			"single-process pipeline `videotestsrc ! CAPS ! fakesink` with the same frames,\n"
			"made just before it, and its CPU is subtracted: that pays for drawing the\n"
			"frames and for one GStreamer start-up, which the shmsink process pays too.\n"
			"One more GStreamer start-up per reader process is subtracted as well\n"
			"(%.1f ms, median of `fakesrc num-buffers=1 ! fakesink`). What is left is\n"
			"the transport: shmsink, the shm area, the control socket and shmsrc.\n"
			"Medians over the runs that completed, of %u pairs of %llu frames each.\n\n"
			"Long unthrottled shm runs are known to deadlock, so runs are bounded to %llu\n"
			"frames and a run that has not finished after %u s is killed and counted as a\n"
			"deadlock, never waited for. frames/s is frames over the shmsink pipeline's\n"
			"own \"Execution ended after\" time. shmsrc carries no source timestamps, so\n"
			"latency is not measured. fakesink keeps its last buffer by default, which\n"
			"pins a shm block and stops shmsink from completing EOS (the run hangs), hence\n"
			"enable-last-sample=false. With several readers, those that connect after the\n"
			"first one miss the first frames (shmsink starts on the first connection).\n\n",
			(unsigned long long)o->gst_frames, caps, b->gst_init_cpu_ns / 1e6, GST_REPEATS,
			(unsigned long long)o->gst_frames, (unsigned long long)o->gst_frames,
			o->gst_timeout_ms / 1000);
		fprintf(f, "| readers | runs | frames/s | transport CPU per frame (median) | range over runs | "
			"of one memcpy | shm processes' CPU per frame | source alone per frame |\n"
			"|---|---|---|---|---|---|---|---|\n");
		for (i = 0; i < o->n_consumers; i++) {
			const struct gst_result *g = &b->gst[i];

			if (!g->measured) {
				fprintf(f, "| %u | %s | | | | | | |\n", g->consumers, g->status);
				continue;
			}
			fprintf(f, "| %u | %s | %.0f | %.2f us | %.0f to %.0f us | **%s** | %.2f us | "
				"%.2f us |\n",
				g->consumers, g->status, g->fps, g->transport_cpu_per_frame_us,
				g->transport_min_us, g->transport_max_us,
				pct(g->ratio_memcpy, p1, sizeof(p1)), g->shm_cpu_per_frame_us,
				g->base_cpu_per_frame_us);
		}
		fprintf(f, "\n");
		if (b->gst_probe[0])
			fprintf(f, "Long-run probe, one reader, the same pipelines (30 s limit): %s.\n\n",
				b->gst_probe);
		for (i = 0; i < o->n_consumers; i++)
			if (b->gst[i].timeouts)
				fprintf(f, "**GStreamer shm deadlocked** in %u of %u runs with %u reader%s "
					"(%llu frames each).\n", b->gst[i].timeouts, GST_REPEATS,
					b->gst[i].consumers, b->gst[i].consumers == 1 ? "" : "s",
					(unsigned long long)o->gst_frames);
		fprintf(f, "\n");
	}

	if (o->storage)
		storage_markdown(&b->storage, f);

	fprintf(f, "## Ratios\n\n");
	fprintf(f, "| consumers | dmapipe handoff / memcpy (defaults; pipelined) | "
		"GStreamer shm transport / memcpy | GStreamer shm / dmapipe (defaults; pipelined) |\n"
		"|---|---|---|---|\n");
	for (i = 0; i < o->n_consumers; i++) {
		const struct dp_result *r = &b->thr[i], *d = &b->deep[i];
		const struct gst_result *g = &b->gst[i];
		char p3[64], p4[32];

		if (g->measured && r->ok && d->ok && r->cpu_per_frame_us > 0 &&
		    d->cpu_per_frame_us > 0)
			snprintf(p3, sizeof(p3), "%.1f x; %.1f x",
				 g->transport_cpu_per_frame_us / r->cpu_per_frame_us,
				 g->transport_cpu_per_frame_us / d->cpu_per_frame_us);
		else
			snprintf(p3, sizeof(p3), "-");
		fprintf(f, "| %u | %s; %s | %s | %s |\n", r->consumers,
			r->ok ? pct(r->ratio_memcpy, p1, sizeof(p1)) : "failed",
			d->ok ? pct(d->ratio_memcpy, p4, sizeof(p4)) : "failed",
			g->measured ? pct(g->ratio_memcpy, p2, sizeof(p2)) : g->status, p3);
	}
	fprintf(f, "\n## Targets\n\n");
	fprintf(f, "| target | measured | |\n|---|---|---|\n");
	{
		uint64_t copied = 0;
		bool all_ok = true;

		for (i = 0; i < o->n_consumers; i++) {
			copied += b->thr[i].bytes_copied + b->deep[i].bytes_copied +
				  b->lat[i].bytes_copied;
			all_ok = all_ok && b->thr[i].ok && b->deep[i].ok && b->lat[i].ok;
		}
		fprintf(f, "| zero pixel bytes copied | %llu bytes in all runs | %s |\n",
			(unsigned long long)copied, copied == 0 && all_ok ? "met" : "NOT met");
		storage_targets(b, f);
		for (i = 0; i < o->n_consumers; i++) {
			const struct dp_result *r = &b->thr[i], *d = &b->deep[i];
			char p3[32];

			if (!r->ok || !d->ok) {
				fprintf(f, "| handoff CPU per frame under 1%% of one memcpy, %u consumer%s | "
					"a run failed | NOT met |\n", r->consumers,
					r->consumers == 1 ? "" : "s");
				continue;
			}
			fprintf(f, "| handoff CPU per frame under 1%% of one memcpy, %u consumer%s "
				"(unthrottled) | defaults %s; pipelined %s",
				r->consumers, r->consumers == 1 ? "" : "s",
				pct(r->ratio_memcpy, p1, sizeof(p1)), pct(d->ratio_memcpy, p3, sizeof(p3)));
			if (r->consumers > 1) {
				char p4[32], p5[32];

				/* one frame is r->consumers handoffs: each one's share too */
				fprintf(f, " for the %u consumers together; per handoff (one frame to "
					"one consumer) defaults %s, pipelined %s", r->consumers,
					pct(r->ratio_memcpy / r->consumers, p4, sizeof(p4)),
					pct(d->ratio_memcpy / d->consumers, p5, sizeof(p5)));
			}
			if (r->ratio_memcpy < 0.01)
				fprintf(f, " | met |\n");
			else if (d->ratio_memcpy < 0.01)
				fprintf(f, " | met only with deeper pipelining |\n");
			else if (r->consumers > 1 && r->ratio_memcpy / r->consumers < 0.01)
				fprintf(f, " | met per handoff; NOT met for the %u together |\n",
					r->consumers);
			else
				fprintf(f, " | NOT met |\n");
			if (r->consumers == 1)
				fprintf(f, "| at least 100,000 frames/s through one consumer, content "
					"untouched | defaults %.0f; pipelined %.0f frames/s (best run %.0f) "
					"| %s |\n", r->fps_consumer_min, d->fps_consumer_min,
					fmax(r->fps_max, d->fps_max),
					r->fps_consumer_min >= 100000 ? "met" :
					d->fps_consumer_min >= 100000 ? "met only with deeper pipelining" :
					"NOT met");
		}
	}
}

static void write_json(const struct bench *b)
{
	const struct bench_opts *o = &b->o;
	struct json j;
	char fourcc[16];
	unsigned int i;

	json_init(&j, stdout);
	json_begin_object(&j, NULL);
	json_string(&j, "command", "bench");
	json_begin_object(&j, "machine");
	json_string(&j, "cpu", b->m.cpu);
	json_i64(&j, "cores", b->m.cores);
	json_string(&j, "kernel", b->m.kernel);
	json_u64(&j, "llc_bytes", b->m.llc);
	json_string(&j, "date", b->m.date);
	json_string(&j, "allocator", b->m.allocator);
	json_string(&j, "memory", b->m.memory);
	json_bool(&j, "dmabuf", b->m.dmabuf);
	json_string(&j, "gstreamer", b->gst_launch[0] ? b->m.gst_version : NULL);
	json_string(&j, "loadavg_start", b->m.load_start);
	json_string(&j, "loadavg_end", b->m.load_end);
	json_end_object(&j);
	json_string(&j, "format", dmapipe_fourcc_to_string(o->format.fourcc, fourcc,
							   sizeof(fourcc)));
	json_u64(&j, "width", o->format.width);
	json_u64(&j, "height", o->format.height);
	json_begin_object(&j, "memcpy");
	json_u64(&j, "bytes", b->copy.bytes);
	json_u64(&j, "buffers", b->copy.buffers);
	json_double(&j, "median_ms", b->copy.median_ms);
	json_double(&j, "min_ms", b->copy.min_ms);
	json_double(&j, "p90_ms", b->copy.p90_ms);
	json_double(&j, "gbps", b->copy.gbps);
	json_double(&j, "pattern_draw_ms", b->copy.draw_ms);
	json_double(&j, "pattern_check_ms", b->copy.check_ms);
	json_double(&j, "median_end_ms", b->copy_end.median_ms);
	json_double(&j, "reference_ms", b->memcpy_ref_ms);
	json_end_object(&j);
	json_begin_array(&j, "dmapipe");
	for (i = 0; i < o->n_consumers; i++) {
		const struct dp_result *rs[4] = { &b->thr[i], &b->deep[i], &b->nopoll[i],
						  &b->lat[i] };
		unsigned int k;

		for (k = 0; k < 4; k++) {
			const struct dp_result *r = rs[k];

			if (!r->ran)
				continue;
			json_begin_object(&j, NULL);
			json_string(&j, "mode", r->paced ? "paced" : "unthrottled");
			json_bool(&j, "busy_poll", !r->no_poll);
			json_u64(&j, "consumers", r->consumers);
			json_u64(&j, "in_flight", r->in_flight);
			json_u64(&j, "queue_depth", r->depth);
			json_u64(&j, "runs", r->paced ? 1 : r->runs);
			if (!r->paced) {
				json_double(&j, "cpu_per_frame_min_us", r->cpu_min_us);
				json_double(&j, "cpu_per_frame_max_us", r->cpu_max_us);
				json_double(&j, "fps_min", r->fps_min);
				json_double(&j, "fps_max", r->fps_max);
			}
			json_bool(&j, "ok", r->ok);
			json_string(&j, "error", r->ok ? NULL : r->error);
			json_u64(&j, "fps_target", r->fps_target);
			json_u64(&j, "frames", r->frames);
			json_u64(&j, "delivered_min", r->delivered_min);
			json_u64(&j, "dropped", r->dropped);
			json_double(&j, "fps_producer", r->fps_producer);
			json_double(&j, "fps_consumer_min", r->fps_consumer_min);
			json_double(&j, "cpu_per_frame_us", r->cpu_per_frame_us);
			json_double(&j, "cpu_producer_per_frame_us", r->frames ?
				    (double)r->cpu_producer_ns / (double)r->frames / 1e3 : 0);
			json_double(&j, "cpu_consumers_per_frame_us", r->frames ?
				    (double)r->cpu_consumers_ns / (double)r->frames / 1e3 : 0);
			json_double(&j, "cpu_whole_per_frame_us", r->cpu_whole_per_frame_us);
			json_double(&j, "ratio_memcpy", r->ratio_memcpy);
			json_double(&j, "latency_p50_us", r->lat_p50_us);
			json_double(&j, "latency_p90_us", r->lat_p90_us);
			json_double(&j, "latency_p99_us", r->lat_p99_us);
			json_double(&j, "latency_max_us", r->lat_max_us);
			json_u64(&j, "bytes_copied", r->bytes_copied);
			json_end_object(&j);
		}
	}
	json_end_array(&j);
	json_begin_array(&j, "gstreamer_shm");
	for (i = 0; i < o->n_consumers; i++) {
		const struct gst_result *g = &b->gst[i];

		json_begin_object(&j, NULL);
		json_u64(&j, "readers", g->consumers);
		json_bool(&j, "measured", g->measured);
		json_string(&j, "status", g->status);
		json_u64(&j, "frames", g->frames);
		json_u64(&j, "runs_completed", g->runs);
		json_u64(&j, "runs_failed", g->failures);
		json_u64(&j, "deadlocks", g->timeouts);
		if (g->measured) {
			json_double(&j, "fps", g->fps);
			json_double(&j, "transport_cpu_per_frame_us", g->transport_cpu_per_frame_us);
			json_double(&j, "transport_min_us", g->transport_min_us);
			json_double(&j, "transport_max_us", g->transport_max_us);
			json_double(&j, "shm_cpu_per_frame_us", g->shm_cpu_per_frame_us);
			json_double(&j, "base_cpu_per_frame_us", g->base_cpu_per_frame_us);
			json_double(&j, "init_cpu_ms", g->init_cpu_ms);
			json_double(&j, "ratio_memcpy", g->ratio_memcpy);
		}
		json_end_object(&j);
	}
	json_end_array(&j);
	json_string(&j, "gstreamer_probe", b->gst_probe[0] ? b->gst_probe : NULL);
	if (b->o.storage)
		storage_json(&b->storage, &j);
	json_end_object(&j);
	json_finish(&j);
}

/* ---- main ------------------------------------------------------------------------- */

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

static void log_step(const struct bench *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_step(const struct bench *b, const char *fmt, ...)
{
	va_list ap;

	(void)b;
	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * The dmapipe tool whose serve and consume are measured: $DMAPIPE_TOOL
 * (`dmapipe bench` sets it to itself, so the tool and the bench always come
 * from one build), then the build tree's tools/dmapipe beside this
 * program's bench/, then dmapipe from PATH. False after printing why.
 */
static bool find_tool(char *out, size_t len)
{
	const char *env = getenv("DMAPIPE_TOOL");
	char dir[PATH_MAX];
	char *slash;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		if (access(out, X_OK) == 0)
			return true;
		fprintf(stderr, "dmapipe bench: DMAPIPE_TOOL=%s: %s\n", env, strerror(errno));
		return false;
	}
	snprintf(dir, sizeof(dir), "%s", self_exe());
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (snprintf(out, len, "%s/../tools/dmapipe", dir) < (int)len &&
		    access(out, X_OK) == 0)
			return true;
	}
	if (find_in_path("dmapipe", out, len))
		return true;
	fprintf(stderr, "dmapipe bench: cannot find the dmapipe tool (not in the build tree "
		"beside %s, not in PATH); set DMAPIPE_TOOL to its path\n", self_exe());
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *b;
	size_t used;
	unsigned int i;
	int c, status = 0;

	b = calloc(1, sizeof(*b));
	if (!b)
		return 1;
	b->o.format.fourcc = dmapipe_fourcc_from_string("NV12");
	b->o.format.width = 3840;
	b->o.format.height = 2160;
	b->o.format.modifier = DMAPIPE_MOD_LINEAR;
	b->o.frames = 100000;
	b->o.repeat = 5;
	b->o.latency_frames = 300;
	b->o.latency_fps = 60;
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
		case 'h':
			fputs(bench_usage, stdout);
			free(b);
			return 0;
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
		return 1;
	}
	install_stop_signals();
	dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
	describe_machine(b);
	if (b->o.allocator && strcmp(b->m.allocator, "none") == 0)
		usage_error("bench", "allocator '%s' is unknown or unavailable here", b->o.allocator);
	b->dir = make_private_dir("bench");
	if (!b->dir) {
		free(b);
		return 1;
	}
	if (b->o.gst && find_in_path("gst-launch-1.0", b->gst_launch, sizeof(b->gst_launch))) {
		char out[600], *text;
		char *argv_v[] = { b->gst_launch, (char *)"--version", NULL };
		struct child ch;

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
	} else {
		b->gst_launch[0] = '\0';
	}

	log_step(b, "machine: %s, %ld cores, kernel %s, allocator %s (%s)", b->m.cpu, b->m.cores,
		 b->m.kernel, b->m.allocator, b->m.memory);
	log_step(b, "(a) memcpy of one frame, cache-cold ...");
	if (measure_copy(b, &b->copy) < 0) {
		fprintf(stderr, "dmapipe bench: the memcpy measurement failed\n");
		status = 1;
	}
	log_step(b, "    median %.3f ms (%.1f GB/s)", b->copy.median_ms, b->copy.gbps);

	for (i = 0; i < b->o.n_consumers && !stop_requested; i++) {
		/* the defaults, deeper pipelining, and the defaults without busy
		 * polling: what the adaptive polling buys, in the same run */
		struct dp_result *runs[3] = { &b->thr[i], &b->deep[i], &b->nopoll[i] };
		const unsigned int in_flight[3] = { 2, 8, 2 }, depth[3] = { 4, 16, 4 };
		const bool no_poll[3] = { false, false, true };
		struct dp_result *r;
		unsigned int k;

		for (k = 0; k < 3 && !stop_requested; k++) {
			log_step(b, "dmapipe: %u consumer%s, %llu frames, unthrottled, in-flight %u, "
				 "block:%u%s, %u runs ...", b->o.consumers[i],
				 b->o.consumers[i] == 1 ? "" : "s", (unsigned long long)b->o.frames,
				 in_flight[k], depth[k], no_poll[k] ? ", no busy polling" : "",
				 b->o.repeat);
			run_dmapipe_repeated(b, b->o.consumers[i], in_flight[k], depth[k], no_poll[k],
					     runs[k]);
			r = runs[k];
			if (r->ok)
				log_step(b, "    %.0f frames/s, %.2f us CPU per frame (%.3f%% of memcpy; "
					 "runs %.2f to %.2f us), %llu bytes copied", r->fps_consumer_min,
					 r->cpu_per_frame_us, r->ratio_memcpy * 100, r->cpu_min_us,
					 r->cpu_max_us, (unsigned long long)r->bytes_copied);
			else
				log_step(b, "    FAILED: %s", r->error);
		}

		r = &b->lat[i];
		log_step(b, "dmapipe: %u consumer%s, %llu frames at %u fps ...", b->o.consumers[i],
			 b->o.consumers[i] == 1 ? "" : "s", (unsigned long long)b->o.latency_frames,
			 b->o.latency_fps);
		run_dmapipe(b, b->o.consumers[i], true, 2, 4, false, r);
		if (r->ok)
			log_step(b, "    latency p50 %.1f us, p99 %.1f us, %.2f us CPU per frame",
				 r->lat_p50_us, r->lat_p99_us, r->cpu_per_frame_us);
		else
			log_step(b, "    FAILED: %s", r->error);
	}

	if (b->gst_launch[0] && !stop_requested) {
		log_step(b, "(b) GStreamer baselines (start-up, videotestsrc ! fakesink) ...");
		gst_baselines(b);
	}
	for (i = 0; i < b->o.n_consumers && !stop_requested; i++) {
		struct gst_result *g = &b->gst[i];

		if (b->gst_launch[0] && b->o.gst)
			log_step(b, "GStreamer shm: %u reader%s, %llu frames x %d runs ...",
				 b->o.consumers[i], b->o.consumers[i] == 1 ? "" : "s",
				 (unsigned long long)b->o.gst_frames, GST_REPEATS);
		run_gst(b, b->o.consumers[i], g);
		if (g->measured)
			log_step(b, "    %.2f us transport CPU per frame (%.2f%% of memcpy), %.0f frames/s",
				 g->transport_cpu_per_frame_us, g->ratio_memcpy * 100, g->fps);
		else
			log_step(b, "    %s", g->status);
	}

	if (b->gst_launch[0] && b->o.gst && b->gst_base_ok && b->o.gst_probe_frames &&
	    !stop_requested) {
		log_step(b, "GStreamer shm: probe, 1 reader, %llu frames ...",
			 (unsigned long long)b->o.gst_probe_frames);
		run_gst_probe(b);
		log_step(b, "    %s", b->gst_probe);
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
		so.log = storage_log;
		log_step(b, "(c) storage in %s: %llu MB per run, fio against the recorder and "
			 "the replay reader ...", so.dir, (unsigned long long)b->o.storage_mb);
		storage_run_all(&so, &b->o.format, sr);
		if (!sr->ran)
			log_step(b, "    not measured: %s", sr->skipped);
		else
			log_step(b, "    write: fio %.0f MB/s, recorder %.0f MB/s (%.1f%%); read: fio "
				 "%.0f MB/s, replay %.0f MB/s (%.1f%%)", sr->fio_write.mb_s,
				 sr->rec_direct.mb_s, sr->fio_write.mb_s > 0 ?
				 sr->rec_direct.mb_s / sr->fio_write.mb_s * 100 : 0,
				 sr->fio_read.mb_s, sr->replay.mb_s, sr->fio_read.mb_s > 0 ?
				 sr->replay.mb_s / sr->fio_read.mb_s * 100 : 0);
	}

	if (!stop_requested) {
		log_step(b, "(a) memcpy again, to see whether the machine changed ...");
		if (measure_copy(b, &b->copy_end) < 0)
			status = 1;
		log_step(b, "    median %.3f ms (%.1f GB/s)", b->copy_end.median_ms,
			 b->copy_end.gbps);
	}
	apply_reference(b);

	for (i = 0; i < b->o.n_consumers; i++)
		if (!b->thr[i].ok || !b->deep[i].ok || !b->lat[i].ok)
			status = 1;

	read_load(b->m.load_end, sizeof(b->m.load_end));
	if (b->o.json)
		write_json(b);
	else
		write_markdown(b, stdout);
	if (b->o.output) {
		/* the sections other programs write (tests/gst/bench-gst.py, the
		 * VM lane's tests/vm/bench-encode) live at the end of the same file
		 * between their own markers: keep everything from the first */
		char *old = read_file(b->o.output);
		char *keep = NULL;

		for (const char *const *m = (const char *const[]){
			     "<!-- bench-gst.py: begin -->", "<!-- encode-bench: begin -->", NULL };
		     old && *m; m++) {
			char *at = strstr(old, *m);

			if (at && (!keep || at < keep))
				keep = at;
		}
		FILE *f = fopen(b->o.output, "we");

		if (!f) {
			fprintf(stderr, "dmapipe bench: cannot write %s: %s\n", b->o.output,
				strerror(errno));
			status = 1;
		} else {
			write_markdown(b, f);
			if (keep)
				fprintf(f, "\n%s", keep);
			if (fclose(f) != 0)
				status = 1;
			else
				log_step(b, "report written to %s", b->o.output);
		}
		free(old);
	}
	if (stop_requested)
		status = 1;
	for (i = 0; i < b->o.n_consumers; i++)
		if (b->gst[i].failures)
			b->o.keep = true;
	if (status != 0 || b->o.keep)
		fprintf(stderr, "dmapipe bench: %s; logs kept in %s\n",
			status ? "some measurements failed" : "done", b->dir);
	else
		remove_private_dir(b->dir);
	free(b->dir);
	free(b);
	return status;
}
