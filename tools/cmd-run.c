/* SPDX-License-Identifier: MIT */
/*
 * dmapipe run: one capture wired to several consumers in one command.
 *
 * The capture device feeds a server (the serve= socket, or a private
 * abstract one); every consumer in this process -- encoders, recorders --
 * is an ordinary client of that server, so each has its own policy, leases
 * and drop counter exactly as another process would, and a slow one drops
 * frames without slowing capture or the others. Nothing is copied on the
 * way: the clients receive the capture buffers' own dma-bufs.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmapipe-tool.h"
#include "realtime.h"
#include "encode-sink.h"
#include "loop-timing.h"
#include "pipeline.h"

static const char *const run_usage =
	"Usage: dmapipe run [OPTIONS] capture=DEVICE[,KEY=VALUE...] CONSUMER...\n"
	"\n"
	"Wires one capture device to several consumers: hardware encoders, recorders\n"
	"and other processes (serve=). Each consumer has its own policy; nothing is\n"
	"copied unless an encoder cannot import the frames (counted, with the reason;\n"
	"--strict refuses). The device is asked for buffers every encoder can import.\n"
	"\n"
	"Elements:\n"
	"  capture=DEVICE[,format=FOURCC][,size=WxH][,fps=N[/M]][,io=auto|export|import]\n"
	"                [,buffers=N][,stride=BYTES]\n"
	"  encode=CODEC,out=FILE|-[,device=/dev/videoN][,policy=POLICY][,io=auto|import|copy]\n"
	"                [,bitrate=N][,gop=N][,qp=N][,in-flight=N]   (up to 4)\n"
	"                [,container=bitstream|dmapipe]  dmapipe: FILE is a recording\n"
	"                [,buffer=DURATION|,buffer-mb=N]  packets held while the disk\n"
	"                                 is behind, as dmapipe encode --buffer\n"
	"  record=FILE[,policy=POLICY][,buffer=DURATION]\n"
	"                                 a recording with direct I/O (up to 4); buffer=\n"
	"                                 holds DURATION of frames (2s, 500ms) while the\n"
	"                                 disk is behind (docs/REALTIME.md)\n"
	"  serve=SOCKET[,mode=MODE][,group=GROUP][,peer=POLICY]\n"
	"                                 other processes may consume the stream: SOCKET\n"
	"                                 as dmapipe serve --socket takes it; MODE, GROUP\n"
	"                                 and POLICY as its --socket-mode, --socket-group\n"
	"                                 and --peer (e.g. mode=0666,peer=any: any user)\n"
	"  rtsp=[HOST]:PORT[/PATH]        serve it over RTSP (dmapipe rtsp, policy latest)\n"
	"  POLICY: latest, queue:N or block:N (encode default queue:4, record queue:8)\n"
	"\n"
	"Options:\n"
	"  -n, --frames N      stop after the device captured N frames\n"
	"      --duration S    stop after S seconds\n"
	"      --strict        never copy a frame: fail instead\n"
	"      --no-negotiate  keep the device's layout even if an encoder cannot import it\n"
	"  -q, --quiet         no progress line\n"
	"      --json          the summary as JSON on stdout (docs/JSON.md), a failure\n"
	"                      too; without it the summary goes to stderr\n"
	HELP_REALTIME("")
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (the device, an encoder\n"
	"or a recorder failed), 2 bad command line.\n"
	"\n"
	"Example: dmapipe run capture=/dev/video0,size=640x480 encode=fwht,out=cam.fwht \\\n"
	"             record=cam.rec serve=cam\n";

struct consumer {
	struct dmapipe_client *client;
	/* one of */
	struct enc_sink sink;
	bool is_encode;
	struct dmapipe_recorder *rec;
	const char *name;
	uint64_t frames, dropped;
	bool failed;
	uint32_t need;            /* record buffer=: frames it may hold, or 0 */
	uint64_t next_keepalive;  /* record: when its held leases are next renewed */
};

struct run {
	struct pipeline p;
	uint64_t frames;
	uint32_t duration_s;
	bool strict, negotiate, quiet, json;
	struct socket_access access; /* serve='s mode= and group= */
	enum dmapipe_peer_policy peer; /* and its peer= */
	uid_t peer_uid;
	gid_t peer_gid;
	uint32_t fourcc; /* capture's format=, 0: the device's */
	char private_sock[64];
	struct dmapipe_server *server;
	struct dmapipe_v4l2_source *source;
	struct consumer cons[PIPELINE_MAX_ENCODE + PIPELINE_MAX_RECORD];
	unsigned int n_cons;
	char negotiation[256];
	uint64_t t0;
	uint64_t capture_end; /* when the capture loop ended, before the consumers drain */
	struct loop_timing loop;  /* the capture loop's turns */
	struct realtime rt;       /* --realtime, --mlock, --cpu: for the capture loop */
	uint64_t encode_buffers;  /* the bytes of the encoders' buffer= / buffer-mb= */
	pid_t rtsp;               /* the dmapipe rtsp server of rtsp=, or 0 */
	int rtsp_status;
};

static void release_frame(void *data, void *frame)
{
	struct consumer *c = data;

	dmapipe_client_release_frame(c->client, frame, -1);
}

/* The frame's pixels are on the disk: its lease goes back before its header is written. */
static void on_record_release(struct dmapipe_recorder *rec, void *frame_data, void *data)
{
	struct consumer *c = data;

	(void)rec;
	dmapipe_client_release_frame(c->client, frame_data, -1);
}

static void on_recorded(struct dmapipe_recorder *rec, void *frame_data, int status, void *data)
{
	struct consumer *c = data;

	(void)rec;
	(void)frame_data;
	if (status && !c->failed) {
		c->failed = true;
		tool_error(TOOL_OK, status, "recording to %s", c->name);
	}
}

/* What an encode= element asks of its encoder and its output. */
static void encode_config(const struct run *r, const struct pipeline_encode *pe,
			  struct enc_sink_config *cfg)
{
	const struct pipeline_capture *cap = &r->p.capture;

	memset(cfg, 0, sizeof(*cfg));
	cfg->device = pe->device;
	cfg->codec = pe->codec;
	cfg->out = pe->out;
	cfg->io = (enum dmapipe_encoder_io)pe->io;
	cfg->strict = r->strict;
	cfg->bitrate = pe->bitrate;
	cfg->gop = pe->gop;
	cfg->in_flight = pe->in_flight;
	cfg->qp = pe->qp;
	cfg->container = pe->container;
	cfg->buffer_ms = pe->buffer_ms;
	cfg->buffer_mb = pe->buffer_mb;
	/* the worst case without a bitrate: the raw frames capture= asks for */
	cfg->raw_frame_bytes = enc_raw_frame_bytes(r->fourcc, cap->width, cap->height);
	cfg->fps = cap->fps ? (double)cap->fps / (double)cap->fps_den : 0;
}

static void parse_args(struct run *r, int argc, char **argv)
{
	static const struct option options[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'D' },
		{ "strict", no_argument, NULL, 'S' },
		{ "no-negotiate", no_argument, NULL, 'N' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' },
		REALTIME_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[320];
	int ch;

	while ((ch = getopt_long(argc, argv, ":n:qh", options, NULL)) != -1) {
		switch (ch) {
		case 'n':
			r->frames = opt_u64("run", "--frames", optarg);
			break;
		case 'D':
			r->duration_s = opt_u32("run", "--duration", optarg, 1, 86400 * 365);
			break;
		case 'S':
			r->strict = true;
			break;
		case 'N':
			r->negotiate = false;
			break;
		case 'q':
			r->quiet = true;
			break;
		case 'J':
			r->json = true;
			break;
		case 'h':
			fputs(run_usage, stdout);
			exit(0);
		default:
			if (!realtime_option(&r->rt, "run", ch, optarg))
				usage_getopt_error("run", ch, argv);
		}
	}
	if (optind >= argc)
		usage_error("run", "no pipeline: give capture=DEVICE and at least one consumer");
	if (pipeline_parse(&r->p, argc - optind, argv + optind, err, sizeof(err)) < 0) {
		pipeline_finish(&r->p);
		usage_error("run", "%s", err);
	}
	for (unsigned int i = 0; i < r->p.n_encode; i++)
		if (r->strict && r->p.encode[i].io == DMAPIPE_ENCODER_IO_COPY)
			usage_error("run", "encode=%s,io=copy copies every frame, which --strict forbids",
				    r->p.encode[i].codec_name);
	if (r->p.capture.format[0])
		r->fourcc = opt_format("run", r->p.capture.format);
	if (r->fourcc && r->p.capture.width)
		check_size("run", r->fourcc, r->p.capture.width, r->p.capture.height);
	if (r->p.serve)
		r->p.serve = opt_socket("run", r->p.serve);
	if (r->p.serve_mode)
		opt_socket_mode("run", r->p.serve_mode, &r->access);
	if (r->p.serve_group)
		opt_socket_group("run", r->p.serve_group, &r->access);
	if (r->p.serve_peer)
		opt_peer("run", r->p.serve_peer, &r->peer, &r->peer_uid, &r->peer_gid);
	for (unsigned int i = 0; i < r->p.n_encode; i++) {
		struct enc_sink_config cfg;
		struct enc_buffer b;

		encode_config(r, &r->p.encode[i], &cfg);
		if (enc_sink_plan_buffer(&cfg, &b, err, sizeof(err)) < 0)
			usage_error("run", "encode=%s: %s", r->p.encode[i].codec_name, err);
		if (b.asked)
			r->encode_buffers += b.bytes;
	}
}

static struct dmapipe_client *connect_consumer(struct run *r, const char *name,
					       enum pipeline_policy policy, uint32_t depth,
					       uint32_t in_flight, bool dmabuf_only)
{
	struct dmapipe_client_options co;
	struct dmapipe_client *cl;

	dmapipe_client_options_init(&co);
	if (in_flight)
		co.max_in_flight = in_flight;
	co.path = r->p.serve ? r->p.serve : r->private_sock;
	co.policy = (enum dmapipe_policy)policy;
	co.queue_depth = depth;
	co.name = name;
	co.dmabuf_only = dmabuf_only;
	cl = dmapipe_client_new(&co);
	if (!cl)
		tool_error(TOOL_ERR_INTERNAL, errno, "%s cannot connect to its own stream", name);
	return cl;
}

/*
 * The frames each record= with buffer= may hold (@needs), from the
 * device's rate; they must fit the device's buffers with two left for
 * capture and two for every other consumer. -1 after saying why.
 */
static int record_buffers(struct run *r, uint32_t *needs, uint32_t *max_need)
{
	struct dmapipe_v4l2_info vi;
	uint32_t total = 0;
	double fps;

	dmapipe_v4l2_source_get_info(r->source, &vi);
	fps = vi.fps_num && vi.fps_den ? (double)vi.fps_num / vi.fps_den : 60.0;
	for (unsigned int i = 0; i < r->p.n_record; i++) {
		uint32_t ms = r->p.record[i].buffer_ms;
		double n = (double)ms * fps / 1000.0 + 0.999;

		needs[i] = !ms ? 0 : n > 128 ? 128 : (uint32_t)n;
		total += needs[i] ? needs[i] : 2;
		if (needs[i] > *max_need)
			*max_need = needs[i];
	}
	total += 2 * r->p.n_encode + 2;
	if (*max_need && total > vi.buffers) {
		tool_error(TOOL_ERR_UNSUPPORTED, 0, "record= buffer= needs %u frames at %.1f fps with "
			   "the other consumers, and the device gave %u buffers (capture=...,buffers= "
			   "at most 32): shorten the buffer", total, fps, vi.buffers);
		return -1;
	}
	return 0;
}

static int setup(struct run *r)
{
	struct dmapipe_server_options so;
	struct dmapipe_v4l2_options vo;
	struct enc_sink sinks[PIPELINE_MAX_ENCODE];
	const struct pipeline_capture *cap = &r->p.capture;
	uint32_t needs[PIPELINE_MAX_RECORD] = { 0 }, max_need = 0;
	unsigned int i;

	/* the encoders first: the capture device is asked for what they import */
	for (i = 0; i < r->p.n_encode; i++) {
		const struct pipeline_encode *pe = &r->p.encode[i];
		struct consumer *c = &r->cons[r->n_cons];
		struct enc_sink_config cfg;

		encode_config(r, pe, &cfg);
		cfg.release = release_frame;
		cfg.release_data = c;
		if (enc_sink_init(&c->sink, &cfg) < 0)
			return -1;
		c->is_encode = true;
		c->name = pe->out;
		r->n_cons++;
		sinks[i] = c->sink;
	}
	dmapipe_v4l2_options_init(&vo);
	vo.device = cap->device;
	vo.fourcc = r->fourcc;
	vo.width = cap->width;
	vo.height = cap->height;
	vo.fps_num = cap->fps;
	vo.fps_den = cap->fps ? cap->fps_den : 0;
	vo.io = (enum dmapipe_v4l2_io)cap->io;
	vo.buffers = cap->buffers ? cap->buffers : 8;
	/* record buffer=: as many as the device gives (checked below) */
	for (i = 0; i < r->p.n_record; i++)
		if (r->p.record[i].buffer_ms && !cap->buffers)
			vo.buffers = 32;
	vo.bytesperline = cap->stride;
	r->source = open_capture_for(&vo, sinks, r->p.n_encode, r->negotiate, r->negotiation,
				     sizeof(r->negotiation));
	if (!r->source) {
		tool_error(TOOL_OK, errno, "cannot capture from %s", cap->device);
		return -1;
	}

	if (record_buffers(r, needs, &max_need) < 0)
		return -1;
	dmapipe_server_options_init(&so);
	if (max_need > so.max_in_flight)
		so.max_in_flight = max_need;
	if (!r->p.serve)
		snprintf(r->private_sock, sizeof(r->private_sock), "@dmapipe-run-%d", (int)getpid());
	so.path = r->p.serve ? r->p.serve : r->private_sock;
	so.producer_name = "run";
	so.peer_policy = r->peer;
	so.allowed_uid = r->peer_uid;
	so.allowed_gid = r->peer_gid;
	r->server = open_server("run", &so, &r->access);
	if (!r->server)
		return -1;
	if (dmapipe_v4l2_source_attach(r->source, r->server) < 0) {
		tool_error(TOOL_ERR_DEVICE, 0, "cannot register the buffers of %s", cap->device);
		return -1;
	}
	if (r->p.rtsp_listen[0]) {
		/* a consumer like any other process, connected while clients watch */
		char *args[] = { (char *)self_exe(), (char *)"rtsp", (char *)"--socket", (char *)so.path,
				 (char *)"--listen", r->p.rtsp_listen, (char *)"--path",
				 (char *)(r->p.rtsp_path ? r->p.rtsp_path : "/cam"), (char *)"--quiet",
				 NULL };

		r->rtsp = spawn(args, NULL, NULL);
		if (r->rtsp < 0) {
			r->rtsp = 0;
			tool_error(TOOL_OK, errno, "cannot start dmapipe rtsp");
			return -1;
		}
	}

	for (i = 0; i < r->p.n_encode; i++) {
		struct consumer *c = &r->cons[i];

		c->client = connect_consumer(r, "encode", r->p.encode[i].policy, r->p.encode[i].depth,
					     0, r->strict);
		if (!c->client)
			return -1;
	}
	for (i = 0; i < r->p.n_record; i++) {
		struct consumer *c = &r->cons[r->n_cons];
		struct dmapipe_recorder_options ro;

		dmapipe_recorder_options_init(&ro);
		ro.done = on_recorded;
		ro.release = on_record_release;
		ro.user_data = c;
		c->need = needs[i];
		if (c->need > ro.max_frames)
			ro.max_frames = c->need;
		c->name = r->p.record[i].path;
		c->rec = dmapipe_recorder_new(r->p.record[i].path, &ro);
		if (!c->rec) {
			tool_error(TOOL_OK, errno, "cannot record to %s", r->p.record[i].path);
			return -1;
		}
		r->n_cons++;
		c->client = connect_consumer(r, "record", r->p.record[i].policy, r->p.record[i].depth,
					     c->need, false);
		if (!c->client)
			return -1;
	}
	return 0;
}

/* Hands one consumer its frames; -1 on a fatal error. */
static int feed(struct run *r, struct consumer *c)
{
	struct dmapipe_frame *f;
	int ret;

	dmapipe_client_dispatch(c->client, 0);
	if (c->is_encode && dmapipe_encoder_dispatch(c->sink.enc, 0) < 0) {
		tool_error(TOOL_ERR_DEVICE, 0, "the encoder writing %s failed", c->name);
		return -1;
	}
	if (c->rec && (ret = dmapipe_recorder_dispatch(c->rec, 0)) < 0 && !c->failed) {
		c->failed = true;
		tool_error(TOOL_OK, ret, "the recording %s stopped", c->name);
	}
	/* a recorder's writes in flight (a stalled disk) keep its leases */
	if (c->rec && now_ns() >= c->next_keepalive) {
		(void)dmapipe_client_keep_leases(c->client);
		c->next_keepalive = now_ns() + 1000000000ull;
	}
	while ((f = dmapipe_client_acquire_frame(c->client))) {
		if (c->failed) {
			dmapipe_client_release_frame(c->client, f, -1);
			continue;
		}
		if (c->is_encode)
			ret = dmapipe_encoder_submit(c->sink.enc, f->buffer, &f->meta, f);
		else
			ret = dmapipe_recorder_submit(c->rec, f->buffer, &f->meta, f);
		if (ret == 0) {
			c->frames++;
			continue;
		}
		dmapipe_client_release_frame(c->client, f, -1);
		if (ret == -EAGAIN) {
			c->dropped++;
			continue;
		}
		if (ret == -EPERM && r->strict)
			tool_error(TOOL_ERR_STRICT, 0, "%s: the frames would have to be copied "
				   "(--strict)", c->name);
		else
			tool_error(TOOL_OK, ret, "%s", c->name);
		return -1;
	}
	return 0;
}

static void progress(struct run *r)
{
	struct dmapipe_v4l2_stats vs;
	struct dmapipe_copy_stats cs;
	double secs = (double)(now_ns() - r->t0) / 1e9;

	dmapipe_v4l2_source_get_stats(r->source, &vs);
	dmapipe_get_copy_stats(&cs);
	fprintf(stderr, "\rrun: %llu frames captured (%.1f fps)", (unsigned long long)vs.frames,
		secs > 0 ? (double)vs.frames / secs : 0.0);
	for (unsigned int i = 0; i < r->n_cons; i++)
		fprintf(stderr, ", %s %llu/-%llu", r->cons[i].is_encode ? "enc" : "rec",
			(unsigned long long)r->cons[i].frames, (unsigned long long)r->cons[i].dropped);
	fprintf(stderr, ", copied %llu bytes   ", (unsigned long long)cs.bytes);
}

/* The summary as a document (--json). */
static void summary_json(struct run *r, const char *end)
{
	struct dmapipe_v4l2_stats vs;
	struct dmapipe_v4l2_info vi;
	struct dmapipe_copy_stats cs;
	struct dmapipe_consumer_stats st[40];
	const struct dmapipe_layout *l = dmapipe_v4l2_source_get_layout(r->source);
	double secs = (double)(now_ns() - r->t0) / 1e9;
	char fourcc[16], how[40];
	struct json j;
	int n;

	dmapipe_v4l2_source_get_stats(r->source, &vs);
	dmapipe_v4l2_source_get_info(r->source, &vi);
	dmapipe_get_copy_stats(&cs);
	json_begin_document(&j, strcmp(end, "interrupted") == 0);
	json_string(&j, "end", end);
	json_string(&j, "socket", r->p.serve);
	json_string(&j, "fourcc", dmapipe_fourcc_to_string(l->format.fourcc, fourcc, sizeof(fourcc)));
	json_u64(&j, "width", l->format.width);
	json_u64(&j, "height", l->format.height);
	json_begin_object(&j, "device");
	json_string(&j, "path", vi.path);
	json_string(&j, "card", vi.card);
	json_string(&j, "driver", vi.driver);
	json_string(&j, "io", dmapipe_v4l2_io_to_string(vi.io));
	json_string(&j, "io_note", vi.io_note);
	json_u64(&j, "frames_captured", vs.frames);
	json_u64(&j, "frames_lost", vs.dropped);
	json_end_object(&j);
	json_string(&j, "negotiation", r->negotiation);
	json_begin_array(&j, "consumers");
	for (unsigned int i = 0; i < r->n_cons; i++) {
		struct consumer *c = &r->cons[i];

		json_begin_object(&j, NULL);
		json_string(&j, "kind", c->is_encode ? "encode" : "record");
		json_string(&j, "file", c->name);
		json_bool(&j, "failed", c->failed || (c->is_encode && c->sink.write_error));
		json_u64(&j, "frames_dropped", c->dropped);
		if (c->is_encode) {
			struct dmapipe_encoder_stats es;
			struct dmapipe_encoder_info ei;

			dmapipe_encoder_get_stats(c->sink.enc, &es);
			dmapipe_encoder_get_info(c->sink.enc, &ei);
			json_string(&j, "encoder", ei.path);
			json_u64(&j, "frames_in", es.frames_in);
			json_u64(&j, "packets", es.packets);
			json_u64(&j, "bytes_out", es.bytes_out);
			json_string(&j, "io", dmapipe_encoder_io_to_string(ei.io));
			json_string(&j, "io_note", ei.io_note);
			json_u64(&j, "bytes_copied", es.bytes_copied);
			json_u64(&j, "packets_dropped_disk_behind", c->sink.packets_dropped);
			enc_buffer_json(&c->sink.buffer, &j);
		} else {
			struct dmapipe_recorder_stats rs;

			dmapipe_recorder_get_stats(c->rec, &rs);
			json_u64(&j, "frames_recorded", rs.frames_written);
			json_u64(&j, "bytes_written", rs.bytes_written);
			json_u64(&j, "bytes_copied", rs.bytes_copied);
		}
		json_end_object(&j);
	}
	n = dmapipe_server_get_consumer_stats(r->server, st, 40);
	for (int i = 0; i < n && i < 40; i++) {
		if (strcmp(st[i].name, "encode") == 0 || strcmp(st[i].name, "record") == 0)
			continue;
		json_begin_object(&j, NULL);
		json_string(&j, "kind", "process");
		json_string(&j, "name", st[i].name);
		json_i64(&j, "pid", st[i].pid);
		json_u64(&j, "frames_sent", st[i].frames_sent);
		json_u64(&j, "frames_dropped", st[i].frames_dropped);
		json_end_object(&j);
	}
	json_end_array(&j);
	if (r->p.rtsp_listen[0]) {
		json_begin_object(&j, "rtsp");
		json_string(&j, "listen", r->p.rtsp_listen);
		json_string(&j, "path", r->p.rtsp_path ? r->p.rtsp_path : "/cam");
		json_string(&j, "status", describe_status(r->rtsp_status, how, sizeof(how)));
		json_end_object(&j);
	} else {
		json_null(&j, "rtsp");
	}
	realtime_json(&r->rt, &j);
	json_double(&j, "elapsed_s", secs);
	json_double(&j, "fps", secs > 0 ? (double)vs.frames / secs : 0);
	{
		struct dmapipe_v4l2_timing t = { .size = sizeof(t) };
		double capture_s = r->capture_end > r->t0 ? (double)(r->capture_end - r->t0) / 1e9 : 0;

		dmapipe_v4l2_source_get_timing(r->source, &t);
		/* the rate while capturing: elapsed_s includes the consumers' drain */
		json_double(&j, "capture_fps", capture_s > 0 ? (double)vs.frames / capture_s : 0);
		json_u64(&j, "capture_max_iteration_ns", r->loop.max_turn_ns);
		json_u64(&j, "capture_max_dqbuf_latency_ns", t.dqbuf_latency_max_ns);
	}
	json_u64(&j, "bytes_copied", cs.bytes);
	json_u64(&j, "frames_copied", cs.frames);
	json_end_object(&j);
	json_finish(&j);
}

static void summary(struct run *r, bool ok, const char *end)
{
	struct dmapipe_v4l2_stats vs;
	struct dmapipe_v4l2_info vi;
	struct dmapipe_copy_stats cs;
	struct dmapipe_consumer_stats st[40];
	double secs = (double)(now_ns() - r->t0) / 1e9;
	int n;

	if (!r->quiet)
		fputc('\n', stderr);
	if (r->json) {
		summary_json(r, end);
		return;
	}
	dmapipe_v4l2_source_get_stats(r->source, &vs);
	dmapipe_v4l2_source_get_info(r->source, &vi);
	dmapipe_get_copy_stats(&cs);
	fprintf(stderr, "run: %s; %s\n  capture: %s (%s), %s mode, %llu frames in %.1f s (%.1f fps), "
		"%llu dropped by the device; %s\n", ok ? "ok" : "FAILED", end, vi.path, vi.card,
		dmapipe_v4l2_io_to_string(vi.io), (unsigned long long)vs.frames, secs,
		secs > 0 ? (double)vs.frames / secs : 0.0, (unsigned long long)vs.dropped,
		r->negotiation);
	{
		struct dmapipe_v4l2_timing t = { .size = sizeof(t) };

		dmapipe_v4l2_source_get_timing(r->source, &t);
		fprintf(stderr, "  capture loop: longest turn %.1f ms, longest dequeue latency %.1f ms\n",
			(double)r->loop.max_turn_ns / 1e6, (double)t.dqbuf_latency_max_ns / 1e6);
	}
	if (realtime_wanted(&r->rt)) {
		char rt[160];

		realtime_describe(&r->rt, rt, sizeof(rt));
		fprintf(stderr, "  realtime: %s\n", rt);
	}
	for (unsigned int i = 0; i < r->n_cons; i++) {
		struct consumer *c = &r->cons[i];

		if (c->is_encode) {
			struct dmapipe_encoder_stats es;
			struct dmapipe_encoder_info ei;

			dmapipe_encoder_get_stats(c->sink.enc, &es);
			dmapipe_encoder_get_info(c->sink.enc, &ei);
			fprintf(stderr, "  encode -> %s: %llu frames, %llu dropped, %llu packets, "
				"%llu bytes, %llu packets lost with the disk behind; %s: %s; "
				"copied %llu bytes\n", c->name,
				(unsigned long long)es.frames_in, (unsigned long long)c->dropped,
				(unsigned long long)es.packets, (unsigned long long)es.bytes_out,
				(unsigned long long)c->sink.packets_dropped,
				dmapipe_encoder_io_to_string(ei.io), ei.io_note,
				(unsigned long long)es.bytes_copied);
		} else {
			struct dmapipe_recorder_stats rs;

			dmapipe_recorder_get_stats(c->rec, &rs);
			fprintf(stderr, "  record -> %s: %llu frames written, %llu dropped, "
				"%llu bytes copied\n", c->name, (unsigned long long)rs.frames_written,
				(unsigned long long)c->dropped, (unsigned long long)rs.bytes_copied);
		}
	}
	n = dmapipe_server_get_consumer_stats(r->server, st, 40);
	for (int i = 0; i < n && i < 40; i++) {
		if (strcmp(st[i].name, "encode") == 0 || strcmp(st[i].name, "record") == 0)
			continue;
		char name[128];

		fprintf(stderr, "  consumer %u (pid %d, %s): %llu frames sent, %llu dropped\n", st[i].id,
			st[i].pid, st[i].name[0] ? text_escape(st[i].name, name, sizeof(name)) : "unnamed",
			(unsigned long long)st[i].frames_sent, (unsigned long long)st[i].frames_dropped);
	}
	if (r->p.rtsp_listen[0]) {
		char how[40];

		fprintf(stderr, "  rtsp -> %s%s: %s\n", r->p.rtsp_listen,
			r->p.rtsp_path ? r->p.rtsp_path : "/cam",
			describe_status(r->rtsp_status, how, sizeof(how)));
	}
	fprintf(stderr, "  copied: %llu bytes in %llu frames (whole process)\n",
		(unsigned long long)cs.bytes, (unsigned long long)cs.frames);
}

int cmd_run(int argc, char **argv)
{
	struct run r;
	const char *end = "end";
	uint64_t next_progress;
	bool ok = true;
	unsigned int i;
	int ret;

	memset(&r, 0, sizeof(r));
	r.negotiate = true;
	realtime_init(&r.rt);
	parse_args(&r, argc, argv);
	install_stop_signals();
	if (realtime_check_lock(&r.rt, "encode buffer=", r.encode_buffers) < 0) {
		ok = false;
		end = "setup-failed";
		goto out;
	}
	if (setup(&r) < 0) {
		ok = false;
		end = "setup-failed";
		goto out;
	}
	/* the capture loop runs on this thread; the consumers' threads exist already */
	r.t0 = now_ns();
	if (realtime_apply(&r.rt) < 0) {
		ok = false;
		end = "realtime-refused";
		goto out;
	}
	ret = dmapipe_v4l2_source_start(r.source);
	if (ret < 0) {
		tool_error(TOOL_ERR_DEVICE, ret, "cannot start capturing from %s", r.p.capture.device);
		ok = false;
		end = "device-failed";
		goto out;
	}
	r.t0 = now_ns();
	next_progress = r.t0 + 1000000000ull;
	for (;;) {
		struct pollfd pfd[2 + 3 * (PIPELINE_MAX_ENCODE + PIPELINE_MAX_RECORD)];
		struct dmapipe_v4l2_stats vs;
		unsigned int n = 0;

		pfd[n++] = (struct pollfd){ .fd = dmapipe_server_get_fd(r.server), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = dmapipe_v4l2_source_get_fd(r.source), .events = POLLIN };
		for (i = 0; i < r.n_cons; i++) {
			pfd[n++] = (struct pollfd){ .fd = dmapipe_client_get_fd(r.cons[i].client),
						    .events = POLLIN };
			pfd[n++] = (struct pollfd){ .fd = r.cons[i].is_encode ?
						    dmapipe_encoder_get_fd(r.cons[i].sink.enc) :
						    dmapipe_recorder_get_fd(r.cons[i].rec),
						    .events = POLLIN };
			if (r.cons[i].is_encode)
				pfd[n++] = (struct pollfd){ .fd = enc_sink_get_fd(&r.cons[i].sink),
							    .events = POLLIN };
		}
		tool_log_flush();
		loop_timing_end(&r.loop);
		(void)poll(pfd, n, 100);
		loop_timing_begin(&r.loop);
		ret = dmapipe_v4l2_source_dispatch(r.source, 0);
		if (ret < 0) {
			if (ret == -ENODEV)
				tool_error(TOOL_ERR_DEVICE, 0, "%s went away", r.p.capture.device);
			else
				tool_error(TOOL_ERR_DEVICE, ret, "capturing from %s", r.p.capture.device);
			ok = false;
			end = "capture-failed";
			break;
		}
		dmapipe_server_dispatch(r.server, 0);
		for (i = 0; i < r.n_cons; i++) {
			if ((r.cons[i].is_encode && enc_sink_dispatch(&r.cons[i].sink) < 0) ||
			    feed(&r, &r.cons[i]) < 0) {
				ok = false;
				end = "consumer-failed";
				break;
			}
		}
		if (!ok)
			break;
		dmapipe_v4l2_source_get_stats(r.source, &vs);
		if (stop_requested) {
			end = "interrupted";
			break;
		}
		if (r.frames && vs.frames >= r.frames) {
			end = "frames";
			break;
		}
		if (r.duration_s && now_ns() - r.t0 >= (uint64_t)r.duration_s * 1000000000ull) {
			end = "duration";
			break;
		}
		if (r.rtsp && wait_child(r.rtsp, 0, &r.rtsp_status, NULL) == 1) {
			char how[40];

			r.rtsp = 0;
			ok = false;
			end = "rtsp-ended";
			tool_error(TOOL_ERR_INTERNAL, 0, "the RTSP server ended (%s)",
				   describe_status(r.rtsp_status, how, sizeof(how)));
			break;
		}
		if (!r.quiet && now_ns() >= next_progress) {
			progress(&r);
			next_progress = now_ns() + 1000000000ull;
		}
	}
	/* the last frames: encoders drain, recorders write their index */
	r.capture_end = now_ns();
	dmapipe_v4l2_source_stop(r.source);
	/*
	 * The socket's consumers get EOS now, not after the recorders' drain
	 * below: on a stalled disk that takes longer than a consumer waits.
	 */
	dmapipe_server_end_of_stream(r.server);
	if (r.rtsp) {
		kill_child(r.rtsp, 5000, &r.rtsp_status, NULL);
		r.rtsp = 0;
		if (!WIFEXITED(r.rtsp_status) || WEXITSTATUS(r.rtsp_status)) {
			char how[40];

			ok = false;
			tool_error(TOOL_ERR_INTERNAL, 0, "the RTSP server failed (%s)",
				   describe_status(r.rtsp_status, how, sizeof(how)));
		}
	}
	for (i = 0; i < r.n_cons; i++) {
		struct consumer *c = &r.cons[i];

		if (c->is_encode && dmapipe_encoder_finish(c->sink.enc, 10000) < 0) {
			tool_error(TOOL_ERR_DEVICE, 0, "the encoder writing %s did not finish its "
				   "last frames in 10 s", c->name);
			ok = false;
		}
		if (c->is_encode && enc_sink_flush(&c->sink) < 0)
			ok = false;
		if (c->rec && (ret = dmapipe_recorder_finish(c->rec)) < 0) {
			tool_error(TOOL_OK, ret, "finishing the recording %s", c->name);
			ok = false;
		}
		if (c->failed || (c->is_encode && c->sink.write_error))
			ok = false;
	}
out:
	if (r.rtsp)
		kill_child(r.rtsp, 5000, &r.rtsp_status, NULL);
	if (r.source && r.server)
		summary(&r, ok, end);
	for (i = 0; i < r.n_cons; i++) {
		struct consumer *c = &r.cons[i];

		if (c->is_encode)
			enc_sink_finish(&c->sink);
		dmapipe_recorder_free(c->rec);
		dmapipe_client_free(c->client);
	}
	dmapipe_v4l2_source_free(r.source);
	dmapipe_server_free(r.server);
	pipeline_finish(&r.p);
	return ok ? 0 : 1;
}
