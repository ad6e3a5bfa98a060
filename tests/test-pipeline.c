/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pipeline description of `dmapipe run` (tools/pipeline.c): good
 * descriptions parse into what they say; bad ones are refused with a
 * message naming the element and the problem. Bad input tried: missing
 * '=', empty values, unknown elements, keys, codecs, policies and io modes,
 * numbers with signs, suffixes or out of range, sizes without 'x', two
 * captures, no capture, no consumer, an encoder without out=, two outputs
 * to one file, a recording to stdout.
 */
#include <errno.h>
#include <string.h>

#include <linux/videodev2.h>

#include "testlib.h"
#include "../tools/pipeline.h"

static void expect_error(const char *needle, int argc, char *const argv[])
{
	struct pipeline p;
	char err[320];
	int ret = pipeline_parse(&p, argc, argv, err, sizeof(err));

	check_msg(ret == -EINVAL, "'%s' ... parsed (%d)", argv[0], ret);
	check_msg(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
	pipeline_finish(&p);

	/* serve='s socket access, handed to the command as written */
	{
		char *const shared[] = { "capture=/dev/video0,format=BGRx",
					 "serve=cam,mode=0666,group=video,peer=any" };

		check_int_eq(pipeline_parse(&p, 2, shared, err, sizeof(err)), 0);
		check(strcmp(p.capture.format, "BGRx") == 0);
		check(strcmp(p.serve, "cam") == 0 && strcmp(p.serve_mode, "0666") == 0);
		check(strcmp(p.serve_group, "video") == 0 && strcmp(p.serve_peer, "any") == 0);
		pipeline_finish(&p);
	}

}

#define BAD(needle, ...)                                                       \
	do {                                                                   \
		char *const a_[] = { __VA_ARGS__ };                            \
		expect_error(needle, (int)(sizeof(a_) / sizeof(a_[0])), a_);   \
	} while (0)

int main(void)
{
	struct pipeline p;
	char err[320];
	char *const good[] = {
		"capture=/dev/video0,format=NV12,size=640x480,fps=10,io=import,buffers=6,stride=640",
		"encode=fwht,out=a.fwht,policy=latest,io=import,gop=10,qp=20,in-flight=2,buffer=1.5",
		"encode=h264,out=-,device=/dev/video9,bitrate=2000000,policy=block:2,buffer-mb=64",
		"record=cam.rec,policy=queue:3,buffer=500ms",
		"serve=@cam",
		"rtsp=127.0.0.1:8554/cam",
	};

	check_int_eq(pipeline_parse(&p, 6, good, err, sizeof(err)), 0);
	check_msg(strcmp(p.capture.device, "/dev/video0") == 0, "%s", p.capture.device);
	check(strcmp(p.capture.format, "NV12") == 0);
	check_int_eq(p.capture.width, 640);
	check_int_eq(p.capture.height, 480);
	check_int_eq(p.capture.fps, 10);
	check_int_eq(p.capture.fps_den, 1);
	{
		char *const ntsc[] = { "capture=/dev/video0,fps=30000/1001", "serve=@x" };
		struct pipeline q;

		check_int_eq(pipeline_parse(&q, 2, ntsc, err, sizeof(err)), 0);
		check(q.capture.fps == 30000 && q.capture.fps_den == 1001);
		pipeline_finish(&q);
	}
	check_int_eq(p.capture.io, 2);
	check_int_eq(p.capture.buffers, 6);
	check_int_eq(p.capture.stride, 640);
	check_int_eq(p.n_encode, 2);
	check_int_eq(p.encode[0].codec, V4L2_PIX_FMT_FWHT);
	check(strcmp(p.encode[0].out, "a.fwht") == 0);
	check_int_eq(p.encode[0].policy, PIPELINE_POLICY_LATEST);
	check_int_eq(p.encode[0].io, 1);
	check_int_eq(p.encode[0].gop, 10);
	check_int_eq(p.encode[0].qp, 20);
	check_int_eq(p.encode[0].in_flight, 2);
	check_int_eq(p.encode[0].buffer_ms, 1500);
	check_int_eq(p.encode[0].buffer_mb, 0);
	check_int_eq(p.encode[1].buffer_ms, 0);
	check_int_eq(p.encode[1].buffer_mb, 64);
	check_int_eq(p.encode[1].codec, V4L2_PIX_FMT_H264);
	check(strcmp(p.encode[1].device, "/dev/video9") == 0);
	check_int_eq(p.encode[1].bitrate, 2000000);
	check_int_eq(p.encode[1].policy, PIPELINE_POLICY_BLOCK);
	check_int_eq(p.encode[1].depth, 2);
	check_int_eq(p.encode[1].qp, -1);
	check_int_eq(p.n_record, 1);
	check_int_eq(p.record[0].policy, PIPELINE_POLICY_QUEUE);
	check_int_eq(p.record[0].depth, 3);
	check_int_eq(p.record[0].buffer_ms, 500);
	check(strcmp(p.serve, "@cam") == 0);
	check(!p.serve_mode && !p.serve_group && !p.serve_peer);
	check_msg(strcmp(p.rtsp_listen, "127.0.0.1:8554") == 0, "%s", p.rtsp_listen);
	check(p.rtsp_path && strcmp(p.rtsp_path, "/cam") == 0);
	pipeline_finish(&p);
	/* defaults */
	{
		char *const a[] = { "capture=/dev/video1", "encode=vp8,out=x" };

		check_int_eq(pipeline_parse(&p, 2, a, err, sizeof(err)), 0);
		check_int_eq(p.encode[0].policy, PIPELINE_POLICY_QUEUE);
		check_int_eq(p.encode[0].depth, 4);
		check_int_eq(p.encode[0].io, 0);
		check_int_eq(p.capture.width, 0);
		check_int_eq(p.rtsp_listen[0], 0);
		pipeline_finish(&p);
	}
	/* rtsp= alone consumes the capture; the path is optional */
	{
		char *const a[] = { "capture=/dev/video1", "rtsp=:8554" };

		check_int_eq(pipeline_parse(&p, 2, a, err, sizeof(err)), 0);
		check(strcmp(p.rtsp_listen, ":8554") == 0);
		check(p.rtsp_path == NULL);
		pipeline_finish(&p);
	}
	test_pass("pipeline: a full description and the defaults");

	BAD("expected KIND=VALUE", "capture");
	BAD("expected KIND=VALUE", "=x");
	BAD("capture= needs a value", "capture=", "serve=@x");
	BAD("unknown element 'encoder'", "capture=/dev/video0", "encoder=fwht");
	BAD("unknown codec 'mjpeg'", "capture=/dev/video0", "encode=mjpeg,out=x");
	BAD("bad policy 'sometimes'", "capture=/dev/video0", "encode=fwht,out=x,policy=sometimes");
	BAD("bad policy 'queue:0'", "capture=/dev/video0", "record=r,policy=queue:0");
	BAD("bad policy 'block:-1'", "capture=/dev/video0", "record=r,policy=block:-1");
	BAD("bad io 'dmabuf'", "capture=/dev/video0", "encode=fwht,out=x,io=dmabuf");
	BAD("bad io 'copy'", "capture=/dev/video0,io=copy", "serve=@x");
	BAD("fps=+10 is not a number", "capture=/dev/video0,fps=+10", "serve=@x");
	BAD("fps=10fps is not a number", "capture=/dev/video0,fps=10fps", "serve=@x");
	BAD("fps=0 is out of range", "capture=/dev/video0,fps=0", "serve=@x");
	BAD("fps=30/0 is not a number", "capture=/dev/video0,fps=30/0", "serve=@x");
	BAD("fps=1001/1 is out of range", "capture=/dev/video0,fps=1001/1", "serve=@x");
	BAD("gop=99999999999 is out of range", "capture=/dev/video0", "encode=fwht,out=x,gop=99999999999");
	BAD("size=640: expected WIDTHxHEIGHT", "capture=/dev/video0,size=640", "serve=@x");
	BAD("size=640x", "capture=/dev/video0,size=640x", "serve=@x");
	BAD("unknown key 'colour'", "capture=/dev/video0,colour=red", "serve=@x");
	BAD("unknown key 'out'", "capture=/dev/video0", "record=r,out=x");
	BAD("bad buffer '2m'", "capture=/dev/video0", "record=r,buffer=2m");
	BAD("bad buffer '61s'", "capture=/dev/video0", "record=r,buffer=61s");
	BAD("bad buffer '0'", "capture=/dev/video0", "record=r,buffer=0");
	BAD("bad buffer '2m'", "capture=/dev/video0", "encode=fwht,out=x,buffer=2m");
	BAD("bad buffer '61s'", "capture=/dev/video0", "encode=fwht,out=x,buffer=61s");
	BAD("buffer-mb=65537 is out of range", "capture=/dev/video0", "encode=fwht,out=x,buffer-mb=65537");
	BAD("buffer= and buffer-mb= exclude each other", "capture=/dev/video0",
	    "encode=fwht,out=x,buffer=2s,buffer-mb=8");
	BAD("serve takes mode, group, peer", "capture=/dev/video0", "serve=@x,policy=latest");
	BAD("expected KEY=VALUE", "capture=/dev/video0,fps", "serve=@x");
	BAD("option gop= needs a value", "capture=/dev/video0", "encode=fwht,out=x,gop=");
	BAD("device=video3: expected a device node path", "capture=/dev/video0",
	    "encode=fwht,out=x,device=video3");
	BAD("one capture", "capture=/dev/video0", "capture=/dev/video1", "serve=@x");
	BAD("one serve=", "capture=/dev/video0", "serve=@x", "serve=@y");
	BAD("no capture=DEVICE", "serve=@x");
	BAD("nothing consumes", "capture=/dev/video0");
	BAD("expected rtsp=[HOST]:PORT[/PATH]", "capture=/dev/video0", "rtsp=8554");
	BAD("expected rtsp=[HOST]:PORT[/PATH]", "capture=/dev/video0", "rtsp=:0/cam");
	BAD("expected rtsp=[HOST]:PORT[/PATH]", "capture=/dev/video0", "rtsp=:99999");
	BAD("bad path '/'", "capture=/dev/video0", "rtsp=:8554/");
	BAD("one rtsp=", "capture=/dev/video0", "rtsp=:8554", "rtsp=:8555");
	BAD("rtsp takes none", "capture=/dev/video0", "rtsp=:8554,codec=raw");
	BAD("needs out=FILE", "capture=/dev/video0", "encode=fwht");
	BAD("two encoders write to x", "capture=/dev/video0", "encode=fwht,out=x", "encode=fwht,out=x");
	BAD("two encoders write to -", "capture=/dev/video0", "encode=fwht,out=-", "encode=fwht,out=-");
	BAD("both write to x", "capture=/dev/video0", "encode=fwht,out=x", "record=x");
	BAD("record= needs a file", "capture=/dev/video0", "record=-");
	BAD("at most 4 encoders", "capture=/dev/video0", "encode=fwht,out=1", "encode=fwht,out=2",
	    "encode=fwht,out=3", "encode=fwht,out=4", "encode=fwht,out=5");
	BAD("element 2 'encode=fwht,out=x,qp=q'", "capture=/dev/video0", "encode=fwht,out=x,qp=q");
	test_pass("pipeline: bad descriptions refused with the element and the reason");
	return 0;
}
