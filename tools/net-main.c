/* SPDX-License-Identifier: MIT */
/*
 * dmapipe-net: `dmapipe rtsp` and `dmapipe srt` (net.h). The command line,
 * where the dmapipe plugin is, the elements each pipeline needs and the
 * encoder; the servers are in net-rtsp.c and net-srt.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

static const char *const rtsp_usage =
	"Usage: dmapipe rtsp [--socket SOCKET] [--listen [HOST]:PORT] [--path /NAME] [OPTIONS]\n"
	"\n"
	"Serves a dmapipe stream over RTSP (gst-rtsp-server). The frames are taken\n"
	"with dmapipesrc, policy latest, so a slow network never slows the producer\n"
	"or its other consumers; they are encoded once for every client (shared\n"
	"media) and sent as H.264 over RTP, or as raw RTP video with --codec raw.\n"
	"The encoder is a V4L2 hardware encoder importing the frames' dma-bufs where\n"
	"one exists, else x264enc, which reads them through a mapping; the output\n"
	"says which, and whether frames are imported, mapped or copied. While no\n"
	"client watches, the stream is not consumed: the first client connects it.\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET   the producer's socket (default: the stream \"default\");\n"
	"                        NAME: a stream in the default directory; a path (with\n"
	"                        a /); @NAME: abstract\n"
	"  -l, --listen ADDR     [HOST]:PORT to listen on (default :8554; port 0: any)\n"
	"  -p, --path /NAME      the stream's path: rtsp://HOST:PORT/NAME (default /cam)\n"
	"      --codec C         h264 (default) or raw (RTP raw video, no encoder)\n"
	"      --encoder E       auto (default), v4l2 (v4l2h264enc, dma-buf import) or x264\n"
	"      --bitrate KBPS    H.264 bit rate (default 4000)\n"
	"      --gop N           frames between key frames (default 30); a client that\n"
	"                        starts playing gets one at once\n"
	"      --protocols P     what clients may use: udp,tcp (default), udp or tcp\n"
	"  -d, --duration S      stop after S seconds (default: until interrupted)\n"
	"      --json            a JSON report on stdout at the end, per-client counters\n"
	"                        (docs/JSON.md); a failure too\n"
	"  -q, --quiet           no progress line\n"
	"      --print-pipeline  print the GStreamer pipeline and exit\n"
	"      --test-source WxH@FPS  videotestsrc instead of a dmapipe stream (the\n"
	"                        benchmark's in-process baseline)\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (a GStreamer element\n"
	"missing, cannot listen), 2 bad command line.\n"
	"\n"
	"Example: dmapipe rtsp --socket cam --listen :8554 --path /cam\n"
	"         gst-launch-1.0 rtspsrc location=rtsp://HOST:8554/cam ! decodebin ! autovideosink\n";

static const char *const srt_usage =
	"Usage: dmapipe srt [--socket SOCKET] [--listen [HOST]:PORT] [OPTIONS]\n"
	"\n"
	"Serves a dmapipe stream over SRT for contribution links: H.264 in MPEG-TS,\n"
	"srtsink in listener mode, any number of callers at once, each its own SRT\n"
	"connection with its own retransmissions. Frames are taken with dmapipesrc,\n"
	"policy latest, and encoded once for every caller.\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET   the producer's socket (default: the stream \"default\");\n"
	"                        NAME: a stream in the default directory; a path (with\n"
	"                        a /); @NAME: abstract\n"
	"  -l, --listen ADDR     [HOST]:PORT to listen on (default :9000)\n"
	"      --latency MS      SRT latency (default 125): how long a receiver waits for a\n"
	"                        retransmission; give it 3 to 4 round trips on lossy links\n"
	"      --passphrase P    encrypt (AES); callers need the same passphrase\n"
	"      --pbkeylen N      key length in bytes: 16 (default), 24 or 32\n"
	"      --encoder E       auto (default), v4l2 or x264\n"
	"      --bitrate KBPS    H.264 bit rate (default 4000); SRT sends it plus the\n"
	"                        retransmissions (its overhead limit is 25 %% by default)\n"
	"      --gop N           frames between key frames (default 30); a caller that\n"
	"                        connects gets one at once\n"
	"  -d, --duration S      stop after S seconds (default: until interrupted)\n"
	"      --json            a JSON report on stdout at the end, per-caller counters\n"
	"                        (docs/JSON.md); a failure too\n"
	"  -q, --quiet           no progress line\n"
	"      --print-pipeline  print the GStreamer pipeline and exit\n"
	"      --test-source WxH@FPS  videotestsrc instead of a dmapipe stream\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (a GStreamer element\n"
	"missing, cannot listen), 2 bad command line.\n"
	"\n"
	"Example: dmapipe srt --socket cam --listen :9000 --latency 200\n"
	"         gst-launch-1.0 srtsrc uri=srt://HOST:9000 ! tsdemux ! h264parse ! avdec_h264 ! autovideosink\n";

enum {
	OPT_CODEC = 256,
	OPT_ENCODER,
	OPT_BITRATE,
	OPT_GOP,
	OPT_PROTOCOLS,
	OPT_LATENCY,
	OPT_PASSPHRASE,
	OPT_PBKEYLEN,
	OPT_JSON,
	OPT_PRINT,
	OPT_TEST_SOURCE,
};

/* "[HOST]:PORT", "PORT"; HOST may be an IPv6 address in brackets. */
static void parse_listen(struct net_options *o, const char *s)
{
	const char *colon = strrchr(s, ':');
	const char *port = colon ? colon + 1 : s;
	size_t hlen = colon ? (size_t)(colon - s) : 0;
	uint32_t p;

	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen >= sizeof(o->host) || parse_u32(port, &p) < 0 || p > 65535)
		usage_error(o->cmd, "--listen %s: expected [HOST]:PORT with a port from 0 to 65535",
			    s);
	memcpy(o->host, s, hlen);
	o->host[hlen] = '\0';
	o->port = p;
}

static void parse_test_source(struct net_options *o, const char *s)
{
	char size[32];
	const char *at = strchr(s, '@');

	if (!at || (size_t)(at - s) >= sizeof(size))
		usage_error(o->cmd, "--test-source %s: expected WxH@FPS", s);
	memcpy(size, s, (size_t)(at - s));
	size[at - s] = '\0';
	opt_size(o->cmd, size, &o->width, &o->height);
	o->fps = opt_u32(o->cmd, "--test-source FPS", at + 1, 1, 1000);
	o->test_source = true;
}

static void parse_args(struct net_options *o, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "path", required_argument, NULL, 'p' },
		{ "codec", required_argument, NULL, OPT_CODEC },
		{ "encoder", required_argument, NULL, OPT_ENCODER },
		{ "bitrate", required_argument, NULL, OPT_BITRATE },
		{ "gop", required_argument, NULL, OPT_GOP },
		{ "protocols", required_argument, NULL, OPT_PROTOCOLS },
		{ "latency", required_argument, NULL, OPT_LATENCY },
		{ "passphrase", required_argument, NULL, OPT_PASSPHRASE },
		{ "pbkeylen", required_argument, NULL, OPT_PBKEYLEN },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "print-pipeline", no_argument, NULL, OPT_PRINT },
		{ "test-source", required_argument, NULL, OPT_TEST_SOURCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool srt = strcmp(o->cmd, "srt") == 0;
	int ch;

	while ((ch = getopt_long(argc, argv, ":s:l:p:d:qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->socket = optarg;
			break;
		case 'l':
			parse_listen(o, optarg);
			break;
		case 'p':
			if (srt)
				usage_error(o->cmd, "--path is for rtsp (an SRT listener has one stream)");
			if (optarg[0] != '/' || !optarg[1] || strpbrk(optarg, " ?#\"\\"))
				usage_error(o->cmd, "--path %s: expected /NAME (no spaces, ?, # or quotes)",
					    optarg);
			o->path = optarg;
			break;
		case OPT_CODEC:
			if (strcmp(optarg, "h264") == 0)
				o->codec = NET_CODEC_H264;
			else if (strcmp(optarg, "raw") == 0 && !srt)
				o->codec = NET_CODEC_RAW;
			else
				usage_error(o->cmd, "--codec %s: expected h264%s", optarg,
					    srt ? " (SRT carries MPEG-TS)" : " or raw");
			break;
		case OPT_ENCODER:
			if (strcmp(optarg, "auto") && strcmp(optarg, "v4l2") && strcmp(optarg, "x264"))
				usage_error(o->cmd, "--encoder %s: expected auto, v4l2 or x264", optarg);
			o->encoder = optarg;
			break;
		case OPT_BITRATE:
			o->bitrate = opt_u32(o->cmd, "--bitrate", optarg, 16, 2000000);
			break;
		case OPT_GOP:
			o->gop = opt_u32(o->cmd, "--gop", optarg, 1, 100000);
			break;
		case OPT_PROTOCOLS:
			if (srt)
				usage_error(o->cmd, "--protocols is for rtsp");
			if (strcmp(optarg, "udp,tcp") && strcmp(optarg, "tcp,udp") &&
			    strcmp(optarg, "udp") && strcmp(optarg, "tcp"))
				usage_error(o->cmd, "--protocols %s: expected udp,tcp, udp or tcp", optarg);
			o->protocols = optarg;
			break;
		case OPT_LATENCY:
			if (!srt)
				usage_error(o->cmd, "--latency is for srt (RTSP clients set their own)");
			o->latency_ms = opt_u32(o->cmd, "--latency", optarg, 20, 60000);
			break;
		case OPT_PASSPHRASE:
			if (!srt)
				usage_error(o->cmd, "--passphrase is for srt");
			if (strlen(optarg) < 10 || strlen(optarg) > 79)
				usage_error(o->cmd, "--passphrase: SRT wants 10 to 79 characters");
			o->passphrase = optarg;
			break;
		case OPT_PBKEYLEN:
			if (!srt)
				usage_error(o->cmd, "--pbkeylen is for srt");
			o->pbkeylen = opt_u32(o->cmd, "--pbkeylen", optarg, 16, 32);
			if (o->pbkeylen != 16 && o->pbkeylen != 24 && o->pbkeylen != 32)
				usage_error(o->cmd, "--pbkeylen %s: expected 16, 24 or 32", optarg);
			break;
		case 'd':
			o->duration_s = opt_u32(o->cmd, "--duration", optarg, 1, 86400 * 365);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_PRINT:
			o->print_pipeline = true;
			break;
		case OPT_TEST_SOURCE:
			parse_test_source(o, optarg);
			break;
		case 'h':
			fputs(srt ? srt_usage : rtsp_usage, stdout);
			exit(0);
		default:
			usage_getopt_error(o->cmd, ch, argv);
		}
	}
	usage_no_operands(o->cmd, argc, argv);
	if (o->socket && o->test_source)
		usage_error(o->cmd, "--socket and --test-source exclude each other");
	if (!o->test_source)
		o->socket = opt_socket(o->cmd, o->socket);
	if (o->codec == NET_CODEC_RAW && strcmp(o->encoder, "auto"))
		usage_error(o->cmd, "--codec raw has no encoder; drop --encoder");
	if (o->passphrase && !o->pbkeylen)
		o->pbkeylen = 16;
	if (o->pbkeylen && !o->passphrase)
		usage_error(o->cmd, "--pbkeylen needs --passphrase");
}

/* ---- the plugin ------------------------------------------------------------- */

static bool has_plugin(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/libgstdmapipe.so", dir);
	return access(path, R_OK) == 0;
}

/*
 * The build tree's plugin when this program runs from a build tree, else the
 * installed one when it is not where GStreamer looks by itself (a /usr/local
 * prefix): put first in GST_PLUGIN_PATH, before gst_init() reads it.
 */
static void setup_plugin_path(void)
{
	char built[PATH_MAX], value[2 * PATH_MAX + 2], *slash;
	const char *var = getenv("GST_PLUGIN_PATH_1_0") ? "GST_PLUGIN_PATH_1_0" : "GST_PLUGIN_PATH";
	const char *old = getenv(var);
	const char *dir = NULL;

	snprintf(built, sizeof(built), "%s", self_exe());
	slash = strrchr(built, '/');
	if (slash && (size_t)(slash - built) + sizeof("/../plugins") <= sizeof(built)) {
		strcpy(slash, "/../plugins");
		if (has_plugin(built))
			dir = built;
	}
	if (!dir && has_plugin(DMAPIPE_GST_PLUGIN_DIR))
		dir = DMAPIPE_GST_PLUGIN_DIR;
	if (!dir)
		return;
	snprintf(value, sizeof(value), "%s%s%s", dir, old && *old ? ":" : "", old ? old : "");
	setenv(var, value, 1);
}

/* ---- elements ------------------------------------------------------------- */

static const struct {
	const char *element, *package;
} packages[] = {
	{ "dmapipesrc", "the dmapipe GStreamer plugin (meson -Dgst=enabled, then install it)" },
	{ "videoconvert", "gstreamer1.0-plugins-base" },
	{ "videotestsrc", "gstreamer1.0-plugins-base" },
	{ "appsrc", "gstreamer1.0-plugins-base" },
	{ "appsink", "gstreamer1.0-plugins-base" },
	{ "x264enc", "gstreamer1.0-plugins-ugly" },
	{ "rtph264pay", "gstreamer1.0-plugins-good" },
	{ "rtpvrawpay", "gstreamer1.0-plugins-good" },
	{ "rtpbin", "gstreamer1.0-plugins-good" },
	{ "udpsrc", "gstreamer1.0-plugins-good" },
	{ "multiudpsink", "gstreamer1.0-plugins-good" },
	{ "v4l2h264enc", "gstreamer1.0-plugins-good (and a V4L2 H.264 encoder device)" },
	{ "h264parse", "gstreamer1.0-plugins-bad" },
	{ "mpegtsmux", "gstreamer1.0-plugins-bad" },
	{ "srtsink", "gstreamer1.0-plugins-bad" },
};

static const char *package_of(const char *element)
{
	for (size_t i = 0; i < sizeof(packages) / sizeof(packages[0]); i++)
		if (strcmp(packages[i].element, element) == 0)
			return packages[i].package;
	return "a GStreamer plugin package";
}

static bool element_exists(const char *name)
{
	GstElementFactory *f = gst_element_factory_find(name);

	if (!f)
		return false;
	gst_object_unref(f);
	return true;
}

int net_check_elements(const struct net_options *o, const struct net_encoder *enc, bool srt)
{
	const char *need[12];
	unsigned int n = 0;
	int missing = 0;
	char text[512] = "";
	size_t len;

	need[n++] = o->test_source ? "videotestsrc" : "dmapipesrc";
	need[n++] = "videoconvert";
	if (enc->element)
		need[n++] = enc->element;
	if (srt || (enc->element && strcmp(enc->element, "v4l2h264enc") == 0))
		need[n++] = "h264parse";
	if (srt) {
		need[n++] = "mpegtsmux";
		need[n++] = "srtsink";
	} else {
		need[n++] = o->codec == NET_CODEC_RAW ? "rtpvrawpay" : "rtph264pay";
		/* what gst-rtsp-server builds around the payloader */
		need[n++] = "rtpbin";
		need[n++] = "udpsrc";
		need[n++] = "multiudpsink";
		need[n++] = "appsrc";
		need[n++] = "appsink";
	}
	for (unsigned int i = 0; i < n; i++) {
		if (element_exists(need[i]))
			continue;
		/* one line says every element missing */
		len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "%s%s not found: install %s",
			 missing++ ? "; " : "", need[i], package_of(need[i]));
	}
	if (missing)
		tool_error(TOOL_ERR_NOT_INSTALLED, 0, "GStreamer element %s", text);
	return missing ? -1 : 0;
}

/* ---- the encoder ------------------------------------------------------------- */

/*
 * v4l2h264enc exists only where a V4L2 H.264 encoder device does; it must
 * also offer dma-buf import on its input queue, or it would copy.
 */
static bool v4l2_can_import(char *why, size_t len)
{
	GstElement *e;
	GParamSpec *spec;
	bool ok = false;

	if (!element_exists("v4l2h264enc")) {
		snprintf(why, len, "no V4L2 H.264 encoder here (v4l2h264enc appears with a device)");
		return false;
	}
	e = gst_element_factory_make("v4l2h264enc", NULL);
	spec = e ? g_object_class_find_property(G_OBJECT_GET_CLASS(e), "output-io-mode") : NULL;
	if (spec && G_IS_PARAM_SPEC_ENUM(spec)) {
		GEnumClass *ec = G_PARAM_SPEC_ENUM(spec)->enum_class;

		ok = g_enum_get_value_by_nick(ec, "dmabuf-import") != NULL;
	}
	if (!ok)
		snprintf(why, len, "v4l2h264enc cannot import dma-bufs (no output-io-mode=dmabuf-import)");
	if (e)
		gst_object_unref(e);
	return ok;
}

void net_quote(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 2 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = '\0';
}

int net_choose_encoder(const struct net_options *o, struct net_encoder *enc)
{
	char source[PATH_MAX + 256], q[PATH_MAX], v4l2_why[128];
	bool v4l2 = false;

	memset(enc, 0, sizeof(*enc));
	if (o->test_source) {
		snprintf(source, sizeof(source),
			 "videotestsrc name=src is-live=true ! video/x-raw,format=I420,width=%u,"
			 "height=%u,framerate=%u/1", o->width, o->height, o->fps);
	} else {
		net_quote(q, sizeof(q), o->socket);
		snprintf(source, sizeof(source),
			 "dmapipesrc name=src socket-path=\"%s\" policy=latest reconnect=true", q);
	}
	if (o->codec == NET_CODEC_RAW) {
		enc->element = NULL;
		enc->access = "copies";
		snprintf(enc->why, sizeof(enc->why),
			 "rtpvrawpay packs the rows into RTP packets (a copy per frame)");
		snprintf(enc->launch, sizeof(enc->launch), "%s ! videoconvert name=conv", source);
		return 0;
	}
	if (strcmp(o->encoder, "x264") != 0) {
		v4l2 = v4l2_can_import(v4l2_why, sizeof(v4l2_why));
		if (!v4l2 && strcmp(o->encoder, "v4l2") == 0) {
			tool_error(TOOL_ERR_NOT_INSTALLED, 0, "--encoder v4l2: %s", v4l2_why);
			return -1;
		}
	}
	if (v4l2) {
		enc->element = "v4l2h264enc";
		enc->access = "imports";
		snprintf(enc->why, sizeof(enc->why),
			 "v4l2h264enc imports the frames' dma-bufs (output-io-mode=dmabuf-import)");
		snprintf(enc->launch, sizeof(enc->launch),
			 "%s ! v4l2h264enc name=enc output-io-mode=dmabuf-import "
			 "extra-controls=\"controls,video_bitrate=%u,h264_i_frame_period=%u\" ! "
			 "video/x-h264,stream-format=byte-stream,alignment=au ! h264parse",
			 source, o->bitrate * 1000, o->gop);
		return 0;
	}
	enc->element = "x264enc";
	enc->access = "maps";
	snprintf(enc->why, sizeof(enc->why),
		 "x264enc (software) reads the frames through a mapping of their buffers; %s",
		 strcmp(o->encoder, "x264") == 0 ? "--encoder x264" : v4l2_why);
	/*
	 * One slice per frame: zerolatency's sliced threads cut each frame into
	 * one slice per thread, and a client that joins between two slices of
	 * a frame decodes the slices it got as a picture with the others
	 * missing (seen at 13 dB when a client joined during the key frame
	 * forced for another). With one slice its depayloader drops the
	 * fragments whose start it missed: it loses that frame instead. One
	 * thread: x264's frame threads would hold a frame per thread, more
	 * than the leases dmapipesrc may hold (the pipeline stalls until its
	 * lease timeout), and add a frame of latency each.
	 */
	snprintf(enc->launch, sizeof(enc->launch),
		 "%s ! videoconvert name=conv ! x264enc name=enc tune=zerolatency "
		 "sliced-threads=false threads=1 speed-preset=ultrafast key-int-max=%u bitrate=%u",
		 source, o->gop, o->bitrate);
	return 0;
}

static const char *pad_format(GstElement *e, const char *pad_name)
{
	GstPad *pad = gst_element_get_static_pad(e, pad_name);
	GstCaps *caps = pad ? gst_pad_get_current_caps(pad) : NULL;
	const char *fmt = NULL;

	if (caps && gst_caps_get_size(caps) > 0)
		fmt = gst_structure_get_string(gst_caps_get_structure(caps, 0), "format");
	/* format strings are interned by GStreamer: they outlive the caps */
	fmt = fmt ? g_intern_string(fmt) : NULL;
	if (caps)
		gst_caps_unref(caps);
	if (pad)
		gst_object_unref(pad);
	return fmt;
}

const char *net_access_now(GstElement *bin, const struct net_encoder *enc, char *why, size_t len)
{
	GstElement *conv = bin ? gst_bin_get_by_name(GST_BIN(bin), "conv") : NULL;
	GstElement *src = bin ? gst_bin_get_by_name(GST_BIN(bin), "src") : NULL;
	const char *in = conv ? pad_format(conv, "sink") : NULL;
	const char *out = conv ? pad_format(conv, "src") : NULL;
	const char *access = enc->access;
	guint64 copies = 0;

	snprintf(why, len, "%s", enc->why);
	if (src && g_object_class_find_property(G_OBJECT_GET_CLASS(src), "copies"))
		g_object_get(src, "copies", &copies, NULL);
	if (in && out && strcmp(in, out) != 0) {
		access = "copies";
		snprintf(why, len, "videoconvert converts %s to %s for %s (a CPU copy per frame)", in,
			 out, enc->element ? enc->element : "rtpvrawpay");
	} else if (copies) {
		access = "copies";
		snprintf(why, len, "dmapipesrc copied %llu frames into GStreamer's default layout",
			 (unsigned long long)copies);
	}
	if (conv)
		gst_object_unref(conv);
	if (src)
		gst_object_unref(src);
	return access;
}

int main(int argc, char **argv)
{
	struct net_options o;
	struct net_encoder enc;
	const char *cmd = argc > 1 ? argv[1] : "";
	bool srt;

	memset(&o, 0, sizeof(o));
	if (strcmp(cmd, "rtsp") && strcmp(cmd, "srt"))
		usage_error(NULL, "dmapipe-net is run as dmapipe rtsp or dmapipe srt");
	/* the tool's command, from here on: its lines, its document */
	tool_start(cmd, argc - 1, argv + 1);
	srt = strcmp(cmd, "srt") == 0;
	o.cmd = cmd;
	o.port = srt ? 9000 : 8554;
	o.path = "/cam";
	o.encoder = "auto";
	o.bitrate = 4000;
	o.gop = 30;
	o.protocols = "udp,tcp";
	o.latency_ms = 125;
	/* the options follow the subcommand, as the tool passed them */
	optind = 0;
	parse_args(&o, argc - 1, argv + 1);

	setup_plugin_path();
	gst_init(NULL, NULL);
	if (net_choose_encoder(&o, &enc) < 0 || net_check_elements(&o, &enc, srt) < 0)
		return tool_finish(1);

	return tool_finish(srt ? net_srt_run(&o, &enc) : net_rtsp_run(&o, &enc));
}
