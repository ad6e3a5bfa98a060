/* SPDX-License-Identifier: MIT */
/* The pipeline description of `dmapipe run` (pipeline.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/videodev2.h>

#include <dmapipe/format.h>

#include "pipeline.h"

static const struct {
	const char *name;
	uint32_t code;
} codecs[] = {
	{ "fwht", V4L2_PIX_FMT_FWHT }, { "h264", V4L2_PIX_FMT_H264 },
	{ "hevc", V4L2_PIX_FMT_HEVC }, { "h265", V4L2_PIX_FMT_HEVC },
	{ "vp8", V4L2_PIX_FMT_VP8 },   { "vp9", V4L2_PIX_FMT_VP9 },
	{ "mpeg4", V4L2_PIX_FMT_MPEG4 },
};

uint32_t pipeline_codec(const char *name)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (strcmp(codecs[i].name, name) == 0)
			return codecs[i].code;
	return 0;
}

/* Decimal digits only, within [min, max]. */
static int parse_num(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*c - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v < min)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int pipeline_parse_policy(const char *s, enum pipeline_policy *policy, uint32_t *depth)
{
	if (strcmp(s, "latest") == 0) {
		*policy = PIPELINE_POLICY_LATEST;
		*depth = 1;
		return 0;
	}
	if (strncmp(s, "queue:", 6) == 0) {
		*policy = PIPELINE_POLICY_QUEUE;
		return parse_num(s + 6, 1, 64, depth) < 0 ? -EINVAL : 0;
	}
	if (strncmp(s, "block:", 6) == 0) {
		*policy = PIPELINE_POLICY_BLOCK;
		return parse_num(s + 6, 1, 64, depth) < 0 ? -EINVAL : 0;
	}
	return -EINVAL;
}

struct ctx {
	char *err;
	size_t len;
	int index;
	const char *element;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct ctx *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->len, "element %d '%s': %s", c->index + 1, c->element, msg);
	return -EINVAL;
}

static int num_key(struct ctx *c, const char *key, const char *val, uint32_t min, uint32_t max,
		   uint32_t *out)
{
	int ret = parse_num(val, min, max, out);

	if (ret == -ERANGE)
		return fail(c, "%s=%s is out of range (%u to %u)", key, val, min, max);
	if (ret < 0)
		return fail(c, "%s=%s is not a number", key, val);
	return 0;
}

static int policy_key(struct ctx *c, const char *val, enum pipeline_policy *policy, uint32_t *depth)
{
	if (pipeline_parse_policy(val, policy, depth) < 0)
		return fail(c, "bad policy '%s': expected latest, queue:N or block:N (N 1 to 64)", val);
	return 0;
}

int pipeline_parse_duration(const char *s, uint32_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		v /= 1000.0;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	if (v > 60.0)
		return -ERANGE;
	/* a positive duration under half a millisecond is the shortest there is */
	*ms = (uint32_t)(v * 1000.0 + 0.5) ? (uint32_t)(v * 1000.0 + 0.5) : 1;
	return 0;
}

static int buffer_key(struct ctx *c, const char *val, uint32_t *ms)
{
	if (pipeline_parse_duration(val, ms) < 0)
		return fail(c, "bad buffer '%s': expected a duration such as 2s or 500ms, at most 60 s",
			    val);
	return 0;
}

static int record_key(struct ctx *c, struct pipeline_record *r, const char *key, const char *val)
{
	if (strcmp(key, "policy") == 0)
		return policy_key(c, val, &r->policy, &r->depth);
	if (strcmp(key, "buffer") == 0)
		return buffer_key(c, val, &r->buffer_ms);
	return fail(c, "unknown key '%s' (record takes policy, buffer)", key);
}

static int io_key(struct ctx *c, const char *val, const char *const names[3], int *io)
{
	for (int i = 0; i < 3; i++) {
		if (strcmp(val, names[i]) == 0) {
			*io = i;
			return 0;
		}
	}
	return fail(c, "bad io '%s': expected %s, %s or %s", val, names[0], names[1], names[2]);
}

static int capture_key(struct ctx *c, struct pipeline_capture *cap, const char *key, char *val)
{
	static const char *const ios[3] = { "auto", "export", "import" };

	if (strcmp(key, "format") == 0) {
		size_t n = strlen(val);

		if (n < 2 || n >= sizeof(cap->format))
			return fail(c, "format=%s: expected a format name such as NV12 or YUYV", val);
		memcpy(cap->format, val, n + 1);
		return 0;
	}
	if (strcmp(key, "size") == 0) {
		char *x = strchr(val, 'x');

		if (!x)
			return fail(c, "size=%s: expected WIDTHxHEIGHT", val);
		*x = '\0';
		if (parse_num(val, 16, 16384, &cap->width) < 0 ||
		    parse_num(x + 1, 16, 16384, &cap->height) < 0) {
			*x = 'x';
			return fail(c, "size=%s: expected WIDTHxHEIGHT, 16 to 16384 each", val);
		}
		*x = 'x';
		return 0;
	}
	if (strcmp(key, "fps") == 0) {
		if (dmapipe_fraction_parse(val, &cap->fps, &cap->fps_den) < 0)
			return fail(c, "fps=%s is not a number (N, N/M or N.NNN)", val);
		if (cap->fps == 0 || cap->fps > 1000ull * cap->fps_den)
			return fail(c, "fps=%s is out of range (1 to 1000)", val);
		return 0;
	}
	if (strcmp(key, "buffers") == 0)
		return num_key(c, key, val, 2, 32, &cap->buffers);
	if (strcmp(key, "stride") == 0)
		return num_key(c, key, val, 16, 65536, &cap->stride);
	if (strcmp(key, "io") == 0)
		return io_key(c, val, ios, &cap->io);
	return fail(c, "unknown key '%s' (capture takes format, size, fps, io, buffers, stride)",
		    key);
}

static int encode_key(struct ctx *c, struct pipeline_encode *e, const char *key, char *val)
{
	static const char *const ios[3] = { "auto", "import", "copy" };
	uint32_t v;

	if (strcmp(key, "out") == 0) {
		e->out = val;
		return 0;
	}
	if (strcmp(key, "device") == 0) {
		if (val[0] != '/')
			return fail(c, "device=%s: expected a device node path", val);
		e->device = val;
		return 0;
	}
	if (strcmp(key, "policy") == 0)
		return policy_key(c, val, &e->policy, &e->depth);
	if (strcmp(key, "io") == 0)
		return io_key(c, val, ios, &e->io);
	if (strcmp(key, "bitrate") == 0)
		return num_key(c, key, val, 1, UINT32_MAX, &e->bitrate);
	if (strcmp(key, "gop") == 0)
		return num_key(c, key, val, 1, 100000, &e->gop);
	if (strcmp(key, "in-flight") == 0)
		return num_key(c, key, val, 1, 32, &e->in_flight);
	if (strcmp(key, "qp") == 0) {
		if (num_key(c, key, val, 0, 1000, &v) < 0)
			return -EINVAL;
		e->qp = (int32_t)v;
		return 0;
	}
	if (strcmp(key, "container") == 0) {
		if (strcmp(val, "dmapipe") && strcmp(val, "bitstream"))
			return fail(c, "container=%s: expected bitstream or dmapipe", val);
		e->container = strcmp(val, "dmapipe") == 0;
		return 0;
	}
	if (strcmp(key, "buffer") == 0) {
		if (e->buffer_mb)
			return fail(c, "buffer= and buffer-mb= exclude each other");
		return buffer_key(c, val, &e->buffer_ms);
	}
	if (strcmp(key, "buffer-mb") == 0) {
		if (e->buffer_ms)
			return fail(c, "buffer= and buffer-mb= exclude each other");
		return num_key(c, key, val, 1, 65536, &e->buffer_mb);
	}
	return fail(c, "unknown key '%s' (encode takes out, device, policy, io, bitrate, gop, "
		    "qp, in-flight, container, buffer, buffer-mb)", key);
}

/* serve=: the socket's access, checked by the command (it knows groups and modes) */
static int serve_key(struct ctx *c, struct pipeline *p, const char *key, char *val)
{
	if (strcmp(key, "mode") == 0)
		p->serve_mode = val;
	else if (strcmp(key, "group") == 0)
		p->serve_group = val;
	else if (strcmp(key, "peer") == 0)
		p->serve_peer = val;
	else
		return fail(c, "unknown key '%s' (serve takes mode, group, peer)", key);
	return 0;
}

int pipeline_parse(struct pipeline *p, int argc, char *const argv[], char *err, size_t len)
{
	size_t total = 0;
	char *pos;
	bool have_capture = false;
	struct ctx c = { .err = err, .len = len };

	memset(p, 0, sizeof(*p));
	err[0] = '\0';
	for (int i = 0; i < argc; i++)
		total += strlen(argv[i]) + 1;
	p->storage = malloc(total ? total : 1);
	if (!p->storage) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	pos = p->storage;
	for (int i = 0; i < argc; i++) {
		char *el = pos, *kind, *value, *rest, *eq;

		strcpy(el, argv[i]);
		pos += strlen(argv[i]) + 1;
		c.index = i;
		c.element = argv[i];
		eq = strchr(el, '=');
		if (!eq || eq == el)
			return fail(&c, "expected KIND=VALUE (capture=, encode=, record=, serve=, rtsp=)");
		*eq = '\0';
		kind = el;
		value = eq + 1;
		rest = strchr(value, ',');
		if (rest)
			*rest++ = '\0';
		if (!*value)
			return fail(&c, "%s= needs a value", kind);

		if (strcmp(kind, "capture") == 0) {
			if (have_capture)
				return fail(&c, "a pipeline has one capture");
			have_capture = true;
			p->capture.device = value;
		} else if (strcmp(kind, "encode") == 0) {
			struct pipeline_encode *e;

			if (p->n_encode == PIPELINE_MAX_ENCODE)
				return fail(&c, "at most %d encoders", PIPELINE_MAX_ENCODE);
			e = &p->encode[p->n_encode++];
			e->codec = pipeline_codec(value);
			if (!e->codec)
				return fail(&c, "unknown codec '%s' (fwht, h264, hevc, vp8, vp9, mpeg4)",
					    value);
			snprintf(e->codec_name, sizeof(e->codec_name), "%s", value);
			e->policy = PIPELINE_POLICY_QUEUE;
			e->depth = 4;
			e->qp = -1;
		} else if (strcmp(kind, "record") == 0) {
			struct pipeline_record *r;

			if (p->n_record == PIPELINE_MAX_RECORD)
				return fail(&c, "at most %d recorders", PIPELINE_MAX_RECORD);
			r = &p->record[p->n_record++];
			r->path = value;
			r->policy = PIPELINE_POLICY_QUEUE;
			r->depth = 8;
		} else if (strcmp(kind, "serve") == 0) {
			if (p->serve)
				return fail(&c, "one serve= per pipeline (it is the stream's socket)");
			p->serve = value;
		} else if (strcmp(kind, "rtsp") == 0) {
			char *slash = strchr(value, '/'), *colon;
			size_t n = slash ? (size_t)(slash - value) : strlen(value);
			uint32_t port;

			if (p->rtsp_listen[0])
				return fail(&c, "one rtsp= per pipeline (it serves every client)");
			if (slash && (!slash[1] || strpbrk(slash, " ?#\"\\")))
				return fail(&c, "bad path '%s': expected /NAME", slash);
			if (n >= sizeof(p->rtsp_listen))
				return fail(&c, "the address is too long");
			memcpy(p->rtsp_listen, value, n);
			p->rtsp_listen[n] = '\0';
			colon = strrchr(p->rtsp_listen, ':');
			if (!colon || parse_num(colon + 1, 1, 65535, &port) < 0) {
				p->rtsp_listen[0] = '\0';
				return fail(&c, "expected rtsp=[HOST]:PORT[/PATH], e.g. rtsp=:8554/cam");
			}
			p->rtsp_path = slash;
		} else {
			return fail(&c, "unknown element '%s' (capture, encode, record, serve, rtsp)",
				    kind);
		}

		while (rest && *rest) {
			char *key = rest, *val;
			int ret;

			rest = strchr(key, ',');
			if (rest)
				*rest++ = '\0';
			val = strchr(key, '=');
			if (!val || val == key)
				return fail(&c, "option '%s': expected KEY=VALUE", key);
			*val++ = '\0';
			if (!*val)
				return fail(&c, "option %s= needs a value", key);
			if (strcmp(kind, "capture") == 0)
				ret = capture_key(&c, &p->capture, key, val);
			else if (strcmp(kind, "encode") == 0)
				ret = encode_key(&c, &p->encode[p->n_encode - 1], key, val);
			else if (strcmp(kind, "record") == 0)
				ret = record_key(&c, &p->record[p->n_record - 1], key, val);
			else if (strcmp(kind, "serve") == 0)
				ret = serve_key(&c, p, key, val);
			else
				ret = fail(&c, "unknown key '%s' (%s takes none)", key, kind);
			if (ret < 0)
				return ret;
		}
	}
	c.index = -1;
	if (!have_capture) {
		snprintf(err, len, "no capture=DEVICE element");
		return -EINVAL;
	}
	if (!p->n_encode && !p->n_record && !p->serve && !p->rtsp_listen[0]) {
		snprintf(err, len, "nothing consumes the capture: add encode=, record=, serve= or rtsp=");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < p->n_encode; i++) {
		if (!p->encode[i].out) {
			snprintf(err, len, "encode=%s needs out=FILE (or out=- for stdout)",
				 p->encode[i].codec_name);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(p->encode[i].out, p->encode[j].out) == 0) {
				snprintf(err, len, "two encoders write to %s", p->encode[i].out);
				return -EINVAL;
			}
		}
		for (unsigned int j = 0; j < p->n_record; j++) {
			if (strcmp(p->encode[i].out, p->record[j].path) == 0) {
				snprintf(err, len, "an encoder and a recorder both write to %s",
					 p->record[j].path);
				return -EINVAL;
			}
		}
	}
	for (unsigned int i = 0; i < p->n_record; i++) {
		if (strcmp(p->record[i].path, "-") == 0) {
			snprintf(err, len, "record= needs a file (recordings use direct I/O)");
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (strcmp(p->record[i].path, p->record[j].path) == 0) {
				snprintf(err, len, "two recorders write to %s", p->record[i].path);
				return -EINVAL;
			}
		}
	}
	return 0;
}

void pipeline_finish(struct pipeline *p)
{
	free(p->storage);
	p->storage = NULL;
}
