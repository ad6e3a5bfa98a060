/* SPDX-License-Identifier: MIT */
/*
 * The pipeline description of `dmapipe run` (README.md, "Usage"):
 *
 *   capture=/dev/video0[,format=NV12][,size=WxH][,fps=N[/M]][,io=auto|export|import]
 *          [,buffers=N][,stride=BYTES]
 *   encode=CODEC[,out=FILE|-][,device=/dev/videoN][,policy=POLICY][,io=auto|import|copy]
 *          [,bitrate=N][,gop=N][,qp=N][,in-flight=N][,buffer=DURATION|,buffer-mb=N]
 *   record=FILE[,policy=POLICY][,buffer=DURATION]   (DURATION: 2s, 500ms; at most 60 s)
 *   serve=SOCKET[,mode=MODE][,group=GROUP][,peer=POLICY]
 *                    (processes that connect choose their own policies)
 *   rtsp=[HOST]:PORT[/PATH]   (dmapipe rtsp serves the stream, policy latest)
 *
 * One capture, and at least one consumer (encode, record, serve, rtsp). Pure:
 * parsing only, no device is touched; errors name the element and the
 * problem. Kept apart from the commands so that a unit test can feed it
 * bad descriptions.
 */
#ifndef DMAPIPE_PIPELINE_H
#define DMAPIPE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIPELINE_MAX_ENCODE 4
#define PIPELINE_MAX_RECORD 4

/* Consumer policies as the stream API has them (enum dmapipe_policy). */
enum pipeline_policy {
	PIPELINE_POLICY_LATEST = 1,
	PIPELINE_POLICY_QUEUE = 2,
	PIPELINE_POLICY_BLOCK = 3,
};

struct pipeline_capture {
	const char *device;
	char format[16];     /* "" = the device's; any name dmapipe formats lists */
	uint32_t width, height;
	uint32_t fps, fps_den; /* fps/fps_den; 0 = the device's */
	int io;              /* 0 auto, 1 export, 2 import (enum dmapipe_v4l2_io) */
	uint32_t buffers;
	uint32_t stride;     /* bytes per line to ask for; 0 = the device's */
};

struct pipeline_encode {
	uint32_t codec;      /* V4L2 fourcc */
	char codec_name[8];
	const char *out;     /* a file, or "-" for stdout */
	const char *device;  /* NULL: found by codec */
	enum pipeline_policy policy;
	uint32_t depth;
	int io;              /* enum dmapipe_encoder_io */
	uint32_t bitrate, gop, in_flight;
	int32_t qp;          /* -1: default */
	bool container;      /* container=dmapipe: a dmapipe recording of the packets */
	uint32_t buffer_ms;  /* buffer=DURATION: packets held while the disk is behind; 0: default */
	uint32_t buffer_mb;  /* buffer-mb=N: the same in MiB (1 to 65536); 0: default */
};

struct pipeline_record {
	const char *path;
	enum pipeline_policy policy;
	uint32_t depth;
	uint32_t buffer_ms;  /* buffer=DURATION: frames held while the disk is behind; 0: default */
};

struct pipeline {
	struct pipeline_capture capture;
	struct pipeline_encode encode[PIPELINE_MAX_ENCODE];
	unsigned int n_encode;
	struct pipeline_record record[PIPELINE_MAX_RECORD];
	unsigned int n_record;
	const char *serve;   /* NULL: nobody else may connect */
	/* serve='s socket mode, group and peer policy, as written (NULL: not given) */
	const char *serve_mode, *serve_group, *serve_peer;
	/* rtsp=: "[HOST]:PORT" to listen on ("": no rtsp=), "/PATH" or NULL */
	char rtsp_listen[72];
	const char *rtsp_path;
	/* the strings point into this copy of the arguments */
	char *storage;
};

/*
 * Parses @argc elements. Returns 0, or -EINVAL with a message (the element
 * and what is wrong with it) in @err. Free with pipeline_finish() in both
 * cases.
 */
int pipeline_parse(struct pipeline *p, int argc, char *const argv[], char *err, size_t len);
void pipeline_finish(struct pipeline *p);

/* V4L2 coded format of a codec name ("fwht", "h264", "hevc", "vp8", "vp9", "mpeg4"), or 0. */
uint32_t pipeline_codec(const char *name);

/* "latest", "queue:N", "block:N" into @policy/@depth; 0 or -EINVAL. */
int pipeline_parse_policy(const char *s, enum pipeline_policy *policy, uint32_t *depth);

/*
 * A buffer's duration, as record --buffer, encode --buffer and run's
 * buffer= take it: "2s", "500ms" or seconds ("1.5"), more than 0 and at
 * most 60 s, into @ms (at least 1). 0, -EINVAL (not a duration) or
 * -ERANGE (over 60 s).
 */
int pipeline_parse_duration(const char *s, uint32_t *ms);

#endif /* DMAPIPE_PIPELINE_H */
