/* SPDX-License-Identifier: MIT */
/*
 * dmapipe-bench's parts (bench/): what the handoff, memcpy, GStreamer and
 * storage measurements fill in, and what main.c calls to run them and
 * report.c to write them out.
 */
#ifndef DMAPIPE_BENCH_H
#define DMAPIPE_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "dmapipe-tool.h"
#include "storage.h"

#define MAX_RUNS 8
#define MAX_PROCS 65
#define GST_REPEATS 5
#define MAX_PAIRS 9   /* --latency-pairs */

struct bench_opts {
	struct dmapipe_format format;
	uint64_t frames;
	uint32_t repeat;
	uint64_t latency_frames;
	uint32_t latency_fps;
	uint32_t latency_pairs;
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
	bool rtsp;
	bool display;               /* --display: only the display comparison (display.c) */
	uint64_t display_frames;
	uint32_t display_repeat;
	const char *display_device;
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

/*
 * One setting of the handoff runs: what serve and every consume are given.
 * handoff.c holds the settings; main.c runs each of handoff_settings[] for
 * every consumer count, in this order, into b->thr, b->deep and b->nopoll.
 */
struct handoff_setting {
	const char *name;          /* for the JSON: "defaults", "pipelined", "no-busy-poll" */
	unsigned int in_flight;    /* consume --in-flight, serve --max-in-flight */
	unsigned int depth;        /* consume --policy block: (paced: queue:) */
	unsigned int buffers;      /* serve --buffers: the pool at start */
	bool no_poll;              /* --busy-poll 0 on both sides */
};

enum { SET_DEFAULTS, SET_DEEP, SET_NO_POLL, N_SETTINGS };
extern const struct handoff_setting handoff_settings[N_SETTINGS];
extern const struct handoff_setting handoff_paced; /* the paced runs: the defaults */

struct dp_result {
	bool ran;
	bool ok;
	char error[256];
	unsigned int consumers;
	bool paced;
	const char *setting;       /* handoff_setting.name */
	unsigned int in_flight;    /* frames one consumer may hold */
	unsigned int depth;        /* its queue */
	unsigned int buffers;      /* the pool at start (serve --buffers) */
	unsigned int pool_buffers; /* the pool at the end (it grows, never shrinks) */
	uint64_t pool_bytes;       /* pool_buffers x one frame's buffer */
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

/* pingpong.c: the raw SOCK_SEQPACKET floor, one 64-byte message each way per frame */
struct pp_result {
	bool ran;
	bool ok;
	char error[128];
	uint64_t frames;
	uint32_t fps_target;       /* 0: unthrottled */
	double cpu_per_frame_us;   /* both processes, first frame to last (as dmapipe's) */
	double lat_p50_us, lat_p90_us, lat_p99_us, lat_max_us;
};

/* One ratio dmapipe / ping-pong over the paced pairs */
struct pair_ratio {
	double median, min, max;
};

/*
 * The paced comparison for one consumer count: pairs of a ping-pong run and
 * a dmapipe run back to back, each side first in turn (the ping-pong in
 * pair 0), and the ratios dmapipe / ping-pong of each pair.
 */
struct paced_pairs {
	bool ran;
	bool ok;                   /* every run of every pair */
	unsigned int consumers;
	unsigned int n;            /* pairs with both runs ok */
	unsigned int rep;          /* the pair whose runs bench.lat[] and bench.pp_lat[] hold */
	double cpu[MAX_PAIRS], p50[MAX_PAIRS], p99[MAX_PAIRS]; /* each pair's ratios */
	struct pair_ratio cpu_ratio, p50_ratio, p99_ratio;
};

/* cacheline.c: one cache line bounced between two pinned processes */
#define CL_RUNS 11
struct cl_result {
	bool ran;
	bool ok;
	bool skipped;              /* fewer than two CPUs allowed: why in error */
	char error[128];
	int cpus[2];               /* the two CPUs the processes were pinned to */
	unsigned int runs;
	unsigned int trips;        /* round trips per run */
	double rtt_ns;             /* the median run's round trip */
	double rtt_min_ns, rtt_max_ns;
	double one_way_ns;         /* half the round trip: one transfer of the line */
};

/*
 * What each consumer beyond the first costs the producer, for one setting:
 * its streaming CPU per frame with the largest consumer count measured
 * minus that with the smallest, per consumer added (handoff.c).
 */
struct producer_extra {
	bool ok;                   /* both runs ok and two different counts; else why */
	char why[96];
	const char *setting;       /* handoff_setting.name */
	unsigned int lo, hi;       /* the consumer counts compared */
	double lo_ns, hi_ns;       /* the producer's CPU per frame with each */
	double per_consumer_ns;    /* (hi_ns - lo_ns) / (hi - lo) */
	double ring_write_ns;      /* two one-way cache-line transfers; NAN without them */
};

struct gst_result {
	bool ran;
	bool copy;              /* shmsink's copy path: identity drop-allocation=true before it */
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

/* (d) rtsp.c: one server run */
struct rtsp_run {
	bool ran, ok;
	char error[256];
	bool test_source;          /* videotestsrc inside the server */
	unsigned int clients;
	uint64_t frames;           /* sent by the server */
	double seconds;
	double server_us;          /* server CPU per frame, whole process */
	double server_pct;         /* of one core */
	double producer_us;        /* the producer process's CPU per frame */
	double mbit_s;             /* encoded; every client receives all of it */
	uint64_t drops;            /* frames the producer dropped for the server */
	char encoder[32], access[16];
};

struct rtsp_result {
	bool ran;
	char skipped[128];
	struct rtsp_run runs[4];
	unsigned int n;
};

/* dmapipe display beside kmssink on a KMS device (display.c) */
struct display_bench {
	bool ran;
	char why[320];           /* why not, or the run that failed */
	char device[128], driver[32], connector[32];
	uint32_t width, height, refresh;
	char machine_note[64];
	unsigned int runs;
	double gst_init_ns;      /* one gst-launch start-up */
	double display_us, display_min, display_max, display_fps, display_whole_us;
	double kms_us, kms_min, kms_max, kms_fps;
	double src_us, src_min, src_max, src_fps;
	uint64_t display_copied;
	unsigned int kms_copies, src_copies; /* "frame copy" lines kmssink logged */
	char note[256];
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
	struct dp_result lat[MAX_RUNS];     /* paced: the representative pair's */
	struct pp_result pp_lat[MAX_RUNS];  /* the ping-pong of the same pair */
	struct paced_pairs paced[MAX_RUNS];
	struct pp_result pp_fast;    /* unthrottled, frames */
	struct cl_result cacheline;  /* the shared-memory floor beside it */
	struct producer_extra extra[N_SETTINGS]; /* per setting, from thr, deep, nopoll */
	struct gst_result gst[MAX_RUNS];      /* no-copy: drawn into the shm area */
	struct gst_result gst_copy[MAX_RUNS]; /* copy: shmsink copies each frame into it */
	char gst_copy_why[160];  /* why the copy path cannot run, or "" */
	char *dir;
	char tool[PATH_MAX];     /* the dmapipe tool that runs serve and consume */
	char gst_launch[512];
	double gst_init_cpu_ns;
	char gst_probe[320];     /* what the long-run probe did, or "" */
	bool gst_base_ok;
	struct storage_result storage;
	struct rtsp_result rtsp;
	struct display_bench display;
};

/* The unthrottled runs of setting @k (SET_*), one per consumer count. */
static inline struct dp_result *handoff_runs(struct bench *b, unsigned int k)
{
	return k == SET_DEFAULTS ? b->thr : k == SET_DEEP ? b->deep : b->nopoll;
}

struct child {
	pid_t pid;
	int status;
	struct rusage ru;
	bool done;
	bool killed;
};

/* ---- util.c --------------------------------------------------------------- */

/* One line of progress on stderr, "bench: ..." */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sorts @v, smallest first. */
void sort_doubles(double *v, unsigned int n);
/* The median of @v, which it sorts; NAN when @n is 0. */
double median_of(double *v, unsigned int n);
/* User + system time of a wait4() rusage. */
uint64_t ru_cpu_ns(const struct rusage *ru);
/* Waits for all children up to @timeout_ms; kills the rest. True if none was killed. */
bool wait_all(struct child *ch, unsigned int n, uint64_t timeout_ms);
/* The child ran to exit status 0 (not killed). */
bool exited_ok(const struct child *c);
/* @name's path from $PATH into @out; false if it is not there. */
bool find_in_path(const char *name, char *out, size_t len);
/* The first line of @text into @out. */
void first_line(const char *text, char *out, size_t len);

/*
 * A command line for spawn(), built word by word: added words are the
 * caller's and must outlive it, formatted ones live in it. More words or
 * text than it holds is a programming error and aborts.
 */
#define ARGS_MAX 40
struct args {
	char *v[ARGS_MAX + 1]; /* NULL-terminated */
	unsigned int n;
	char text[PATH_MAX + 1024];
	size_t used;
};

void args_init(struct args *a, const char *program);
/* Adds the words given, up to a NULL. */
void args_add(struct args *a, ...) __attribute__((sentinel));
/* Adds one word made like printf's. */
void args_addf(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The meson build directory this program runs from (BUILDDIR of
 * BUILDDIR/bench/dmapipe-bench) into @out; false when it is not in one.
 */
bool build_dir(char *out, size_t len);

/* ---- machine.c: what the report says about the machine -------------------- */

/* /proc/loadavg's three averages into @out ("unknown" if unreadable). */
void read_load(char *out, size_t len);
/* Fills b->m: CPU, cores, kernel, caches, allocator, dma-buf interfaces. */
void describe_machine(struct bench *b);

/* ---- copy.c: (a) one memcpy of a frame, and the test pattern --------------- */

/* 0, or -EINVAL / -ENOMEM / -EILSEQ (the pattern check failed). */
int measure_copy(struct bench *b, struct copy_result *r);

/* ---- pingpong.c: the raw socket baseline ----------------------------------- */

/* @frames ping-pongs, paced at @fps (0: as fast as they go), into @r. */
void run_pingpong(uint64_t frames, uint32_t fps, struct pp_result *r);

/* ---- cacheline.c: the shared-memory baseline ---------------------------------- */

/* Bounces one cache line between the first two allowed CPUs into @r. */
void run_cacheline(struct cl_result *r);
/* @r's CPU per frame in transfers of one cache line; NAN when either was not measured. */
double cacheline_ratio(const struct bench *b, const struct dp_result *r);
/* Its part of the handoff section (after the socket ping-pong), and its JSON object. */
void cacheline_markdown(const struct bench *b, FILE *f);
void cacheline_json(const struct bench *b, struct json *j);

/* ---- handoff.c: dmapipe serve and consume processes ------------------------- */

/* One frame's buffer in bytes, as the allocator lays it out (page-rounded); 0 if it cannot. */
uint64_t frame_buffer_bytes(const struct dmapipe_format *format);
void run_dmapipe(struct bench *b, unsigned int consumers, bool paced,
		 const struct handoff_setting *s, struct dp_result *r);
void run_dmapipe_repeated(struct bench *b, unsigned int consumers,
			  const struct handoff_setting *s, struct dp_result *out);
/*
 * Fills b->extra[] from the unthrottled runs and the cache line, once they
 * all ran. A ring write of a frame slot publishes the slot's line and the
 * head's line: two one-way transfers.
 */
void producer_extra_all(struct bench *b);
/* The target: at most this many ring writes per extra consumer. */
#define EXTRA_RING_WRITES_MAX 2.0
/*
 * The paced runs of consumer count @i against the raw socket ping-pong, in
 * b->o.latency_pairs alternating pairs: b->paced[i], b->lat[i], b->pp_lat[i].
 */
void run_paced_pairs(struct bench *b, unsigned int i);

/* ---- gst.c: (b) GStreamer shmsink/shmsrc ------------------------------------ */

/* The caps of the bench's frame format in GStreamer's names. */
void gst_caps(const struct bench *b, char *out, size_t len);
/* gst-launch-1.0 from PATH into b->gst_launch and its version, or "" */
void gst_find(struct bench *b);
/* Start-up CPU, the source alone, and whether the copy path can run (b->gst_copy_why). */
void gst_baselines(struct bench *b);
/*
 * Runs gst-launch-1.0 with @words (output in DIR/gst-TAG.log): its wait4()
 * CPU in ns, or -1 when it failed; *@exec_s (may be NULL) is its
 * "Execution ended after" time, NAN when it printed none.
 */
double gst_run_simple(struct bench *b, const char *const words[], const char *tag,
		      double *exec_s);
/* GST_REPEATS paired runs with @readers shmsrc processes; shmsink's copy path if @copy. */
void run_gst(struct bench *b, unsigned int readers, bool copy, struct gst_result *r);
void run_gst_probe(struct bench *b);

/* ---- rtsp.c: (d) dmapipe rtsp against videotestsrc in the server ------------ */

void rtsp_run_all(struct bench *b, struct rtsp_result *res);
void rtsp_markdown(const struct rtsp_result *res, FILE *f);
void rtsp_json(const struct rtsp_result *res, struct json *j);
/* ---- display.c: dmapipe display beside kmssink ------------------------------ */

/*
 * Measures b->display: 0, 77 when there is no KMS device or no
 * gst-launch-1.0 (why in b->display.why), 1 when a run failed or copied.
 */
int bench_display(struct bench *b);
/* Its section on stdout and, with --output, between its markers in that file. 0 or -1. */
int bench_display_report(const struct bench *b);

/* ---- report.c ----------------------------------------------------------------- */

void write_markdown(const struct bench *b, FILE *f);
void write_json(const struct bench *b);
/*
 * Writes the markdown report to b->o.output, keeping the sections other
 * programs append to the same file. 0, or -1 after printing why.
 */
int write_report_file(const struct bench *b);

#endif
