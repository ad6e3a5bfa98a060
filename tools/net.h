/* SPDX-License-Identifier: MIT */
/*
 * dmapipe-net: the helper behind `dmapipe rtsp` and `dmapipe srt`
 * (cmd-rtsp.c execs it, so the dmapipe tool never loads GStreamer).
 *
 * Both take the frames of a dmapipe stream with dmapipesrc (policy latest,
 * reconnecting), encode them once, and serve every network client from that
 * one encoder: net-rtsp.c through gst-rtsp-server (shared media), net-srt.c
 * through srtsink in listener mode. net-main.c parses the command line,
 * checks that every GStreamer element is there (naming the Debian package
 * that has it), chooses the encoder and writes the pipeline's text;
 * net-stats.c keeps the counters both report.
 */
#ifndef DMAPIPE_NET_H
#define DMAPIPE_NET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <gst/gst.h>

#include "dmapipe-tool.h"

enum net_codec {
	NET_CODEC_H264,
	NET_CODEC_RAW,  /* RTP raw video (RFC 4175), RTSP only */
};

struct net_options {
	const char *cmd;          /* "rtsp" or "srt" */
	const char *socket;       /* the dmapipe producer */
	char host[64];            /* "" = every address */
	uint32_t port;
	const char *path;         /* RTSP mount point, "/cam" */
	enum net_codec codec;
	const char *encoder;      /* "auto", "x264", "v4l2" */
	uint32_t bitrate;         /* kbit/s */
	uint32_t gop;             /* frames between key frames */
	const char *protocols;    /* RTSP: "udp,tcp", "udp", "tcp" */
	uint32_t latency_ms;      /* SRT receive/send latency */
	const char *passphrase;   /* SRT, NULL: unencrypted */
	uint32_t pbkeylen;        /* SRT key length (16, 24, 32) */
	uint32_t duration_s;      /* 0: until interrupted */
	bool json, quiet, print_pipeline;
	/*
	 * The benchmark's baseline: a videotestsrc of this size and rate in
	 * place of dmapipesrc, so that the same program measures an in-process
	 * gst-rtsp-server pipeline.
	 */
	bool test_source;
	uint32_t width, height, fps;
};

#define NET_WHY_LEN 320

/* How the encoder gets at the frames, reported as chosen and as it ran. */
struct net_encoder {
	const char *element;      /* "x264enc", "v4l2h264enc", NULL for raw */
	const char *access;       /* "imports", "maps" or "copies" */
	char why[NET_WHY_LEN];
	char launch[PATH_MAX + 1024]; /* from the source to the payloader or muxer */
};

/* ---- net-main.c ---------------------------------------------------------- */

/* Chooses the encoder (probing v4l2h264enc's dma-buf import) and writes
 * the pipeline up to the payloader's input. 0, or -1 with a message. */
int net_choose_encoder(const struct net_options *o, struct net_encoder *enc);
/*
 * Every element the pipeline of @o with @enc uses must exist; prints one
 * line per missing element with the Debian package that ships it. 0 or -1.
 */
int net_check_elements(const struct net_options *o, const struct net_encoder *enc, bool srt);
/* @s with '"' and '\' escaped into @out, for a quoted value in a launch line. */
void net_quote(char *out, size_t len, const char *s);
/*
 * The access mode once caps are negotiated: "copies" if the converter in
 * front of the encoder converts (the frames' format is not one the
 * encoder takes), else what was chosen. @why gets the reason.
 */
const char *net_access_now(GstElement *bin, const struct net_encoder *enc, char *why,
			   size_t len);

/* ---- net-rtsp.c, net-srt.c ------------------------------------------------- */

/* Run until interrupted or --duration: exit status (0, 1). */
int net_rtsp_run(const struct net_options *o, const struct net_encoder *enc);
int net_srt_run(const struct net_options *o, const struct net_encoder *enc);

/* ---- net-stats.c: what both report ----------------------------------------- */

/*
 * The dmapipe side, summed over every dmapipesrc the server ran (an RTSP
 * media lives while it has clients): frames received, frames the producer
 * dropped for this consumer, copies, reconnections, connections.
 */
struct net_source_totals {
	uint64_t frames, drops, copies, reconnects;
	uint64_t connections;
};
/*
 * Reads the counters of the dmapipesrc named "src" in @bin into @t
 * (connections untouched). Drops and reconnections can only be read while
 * it is connected, so every counter keeps the larger of what @t had and
 * what is read: sample it while it runs and once more when it stops.
 */
void net_source_sample(struct net_source_totals *t, GstElement *bin);
/* @a += @b */
void net_source_totals_add(struct net_source_totals *a, const struct net_source_totals *b);

/*
 * Counts frames (RTP packets with the marker bit, or buffers for a muxed
 * stream) and bytes leaving @pad, atomically: a pad probe in the
 * streaming thread adds, the main loop reads.
 */
struct net_flow {
	uint64_t frames, bytes, packets;
};
void net_flow_watch(struct net_flow *flow, GstPad *pad, bool rtp);
void net_flow_read(const struct net_flow *flow, struct net_flow *out);

/* Element @i of a GValueArray-typed value (as GStreamer's statistics
 * structures hold them), if it is a structure; NULL past the end. */
const GstStructure *net_array_structure(const GValue *array, guint i);

/* Writes the "dmapipe" object of the JSON report. */
void net_json_source(struct json *j, const struct net_source_totals *t);
/* "12.3 Mbit/s" style rate of @bytes over @ns into @buf. */
const char *net_rate(uint64_t bytes, uint64_t ns, char *buf, size_t len);

#endif /* DMAPIPE_NET_H */
