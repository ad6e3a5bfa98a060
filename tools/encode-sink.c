/* SPDX-License-Identifier: MIT */
/*
 * What `dmapipe encode` and `dmapipe run` share: an encoder writing its
 * bitstream to a file or stdout, and opening a capture device whose
 * buffers the encoders can import (allocation-time negotiation).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "dmapipe-tool.h"
#include "encode-sink.h"

/*
 * Bitstream buffers the recorder may hold at once: the encoder has
 * CAPTURE_BUFFERS, and keeps encoding while some are in the device.
 */
#define CAPTURE_BUFFERS 8
#define MAX_HELD 4

int enc_sink_plan_buffer(const struct enc_sink_config *c, struct enc_buffer *b, char *why,
			 size_t len)
{
	struct enc_buffer_request r = {
		.ms = c->buffer_ms,
		.mb = c->buffer_mb,
		.bitrate = c->bitrate,
		.container = c->container,
		.raw_frame_bytes = c->raw_frame_bytes,
		.fps = c->fps,
	};
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	return enc_buffer_plan(&r, pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 2 : 0,
			       b, why, len);
}

void enc_buffer_json(const struct enc_buffer *b, struct json *j)
{
	json_u64(j, "buffer_bytes", b->bytes);
	if (b->peak_rate)
		json_double(j, "buffer_s", enc_buffer_seconds(b));
	else
		json_null(j, "buffer_s");
	json_string(j, "buffer_rate", b->basis);
	json_u64(j, "buffer_peak_bytes_per_s", b->peak_rate);
}

const char *enc_buffer_describe(const struct enc_buffer *b, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%.2f MB%s", (double)b->bytes / 1e6, b->asked ? "" : " (default)");

	if (n >= 0 && (size_t)n < len && b->groups)
		n += snprintf(buf + n, len - (size_t)n, " in %u packet groups", b->groups);
	if (n >= 0 && (size_t)n < len && b->peak_rate)
		snprintf(buf + n, len - (size_t)n, ", %.2f s at %.2f MB/s (%s)",
			 enc_buffer_seconds(b), (double)b->peak_rate / 1e6,
			 strcmp(b->basis, "raw") == 0 ? "the raw frames' rate" :
			 "twice the bitrate");
	return buf;
}

static void fail_output(struct enc_sink *s, int err, const char *what)
{
	if (!s->write_error)
		tool_error(TOOL_OK, err, "%s %s", what, s->out);
	if (!s->write_error)
		s->write_error = err;
}

static int slot_of(struct enc_sink *s, struct dmapipe_buffer *b)
{
	for (unsigned int i = 0; i < s->n_slots; i++)
		if (s->slots[i].buffer == b)
			return (int)i;
	if (s->n_slots == sizeof(s->slots) / sizeof(s->slots[0]))
		return -ENOSPC;
	s->slots[s->n_slots].buffer = b;
	return (int)s->n_slots++;
}

/* One more holder of the packet's buffer (inside the packet callback). */
static int hold(struct enc_sink *s, const struct dmapipe_encoder_packet *p)
{
	int i = slot_of(s, p->buffer), ret;

	if (i < 0)
		return i;
	if (s->slots[i].holds == 0) {
		ret = dmapipe_encoder_hold_packet(s->enc, p);
		if (ret < 0)
			return ret;
		s->held++;
	}
	s->slots[i].holds++;
	return 0;
}

/* A holder is done: the last one gives the buffer back to the encoder. */
static void unhold(struct enc_sink *s, struct dmapipe_buffer *b)
{
	int i = slot_of(s, b), ret;

	if (i < 0 || s->slots[i].holds == 0)
		return;
	if (--s->slots[i].holds)
		return;
	s->held--;
	ret = dmapipe_encoder_release_packet(s->enc, b);
	if (ret < 0 && ret != -ENOENT)
		fail_output(s, -ret, "giving a bitstream buffer back to the encoder, writing");
}

/*
 * The recorder is done with a packet's buffer: its bytes are on the disk
 * (or failed), its header follows from the recorder's memory.
 */
static void on_record_release(struct dmapipe_recorder *rec, void *frame_data, void *data)
{
	(void)rec;
	unhold(data, frame_data);
}

/* The packet is complete in the file, or failed. */
static void on_recorded(struct dmapipe_recorder *rec, void *frame_data, int status, void *data)
{
	struct enc_sink *s = data;

	(void)rec;
	(void)frame_data;
	if (status < 0)
		fail_output(s, -status, "recording the bitstream to");
	else
		output_publish_start(&s->output);
}

/* Every consumer released a served packet. */
static void on_served_idle(struct dmapipe_server *server, struct dmapipe_buffer *b, void *data)
{
	(void)server;
	unhold(data, b);
}

/* The disk is behind: this packet, and the rest of its group of pictures, are lost. */
static void drop_packet(struct enc_sink *s)
{
	s->packets_dropped++;
	s->skip_to_key = true;
}

/*
 * After a drop, a packet that is not a keyframe is dropped too (counted):
 * it would not decode without the one lost. True if @p is to be dropped.
 */
static bool skipping(struct enc_sink *s, const struct dmapipe_encoder_packet *p)
{
	if (!s->skip_to_key)
		return false;
	if (p->flags & DMAPIPE_FRAME_KEYFRAME) {
		s->skip_to_key = false;
		return false;
	}
	s->packets_dropped++;
	return true;
}

/*
 * One packet, one recorded frame, written from the encoder's exported
 * bitstream buffer (no copy where its mapping allows O_DIRECT); the buffer
 * returns to the encoder in on_recorded(). The disk behind (MAX_HELD
 * buffers at the recorder, or the recorder refusing): the packet is
 * dropped and counted, the loop never waits for the disk.
 */
static void record_packet(struct enc_sink *s, const struct dmapipe_encoder_packet *p,
			  const struct dmapipe_frame_meta *m)
{
	int ret;

	if (s->held >= MAX_HELD) {
		drop_packet(s);
		return;
	}
	ret = hold(s, p);
	if (ret < 0) {
		fail_output(s, -ret, "holding a bitstream buffer for");
		return;
	}
	ret = dmapipe_recorder_submit(s->rec, p->buffer, m, p->buffer);
	if (ret < 0)
		unhold(s, p->buffer);
	if (ret == -EAGAIN)
		drop_packet(s);
	else if (ret < 0)
		fail_output(s, -ret, "recording the bitstream to");
}

/*
 * One packet to the consumers of the served stream, as a frame of the
 * encoder's exported buffer (bytes_used = the packet). A packet finding
 * every buffer held (consumers behind) is not served: the consumers see a
 * sequence gap, the encoder never waits for them.
 */
static void serve_packet(struct enc_sink *s, const struct dmapipe_encoder_packet *p,
			 const struct dmapipe_frame_meta *m)
{
	int i = slot_of(s, p->buffer), ret;

	if (i < 0) {
		fail_output(s, -i, "serving the bitstream on");
		return;
	}
	if (!s->slots[i].served) {
		ret = dmapipe_server_add_buffer(s->server, p->buffer);
		if (ret < 0) {
			fail_output(s, -ret, "registering a bitstream buffer with the server of");
			return;
		}
		s->slots[i].served = true;
	}
	if (s->held >= MAX_HELD && !s->slots[i].holds) {
		s->serve_dropped++;
		return;
	}
	ret = hold(s, p);
	if (ret < 0) {
		fail_output(s, -ret, "holding a bitstream buffer for");
		return;
	}
	/* the server takes this reference; on_served_idle() may run inside */
	ret = dmapipe_server_queue(s->server, dmapipe_buffer_ref(p->buffer), m);
	if (ret < 0) {
		unhold(s, p->buffer);
		fail_output(s, -ret, "serving the bitstream on");
		return;
	}
	s->served++;
}

/* The packet to the recorder (if @record) and the server. */
static void on_packet_buffers(struct enc_sink *s, const struct dmapipe_encoder_packet *p,
			      bool record)
{
	struct dmapipe_frame_meta m;

	if (s->write_error)
		return;
	if (!p->buffer || p->offset) {
		fail_output(s, EPROTO, "the encoder gave a packet that cannot be recorded or served, for");
		return;
	}
	dmapipe_frame_meta_init(&m);
	m.sequence = p->sequence;
	m.timestamp_ns = p->timestamp_ns;
	m.flags = p->flags;
	m.bytes_used[0] = p->size;
	if (record)
		record_packet(s, p, &m);
	if (s->server && !s->write_error)
		serve_packet(s, p, &m);
}

static void on_packet(struct dmapipe_encoder *enc, const struct dmapipe_encoder_packet *p,
		      void *data)
{
	struct enc_sink *s = data;
	/* the disk lost a packet before: this one is lost too unless it is a keyframe */
	bool lost = !s->write_error && skipping(s, p);
	int ret;

	(void)enc;
	if (s->writing && !s->write_error && !lost) {
		ret = writer_put(&s->writer, p->data, p->size);
		if (ret == -EAGAIN)
			drop_packet(s);
		else if (ret < 0)
			fail_output(s, -ret, "writing the bitstream to");
		/* the bitstream takes its name once it holds a packet, off the loop */
		else
			output_publish_start(&s->output);
	}
	if (s->rec || s->server)
		on_packet_buffers(s, p, s->rec && !lost);
	if (p->flags & DMAPIPE_FRAME_KEYFRAME)
		s->keyframes++;
	s->packets++;
	s->bytes += p->size;
}

static void on_done(struct dmapipe_encoder *enc, void *frame_data, int status, void *data)
{
	struct enc_sink *s = data;

	(void)enc;
	if (status)
		s->failed++;
	if (s->release)
		s->release(s->release_data, frame_data);
}

int enc_sink_init(struct enc_sink *s, const struct enc_sink_config *c)
{
	struct dmapipe_encoder_options o;
	char why[256];
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->out = c->out;
	/* the commands planned it already and refused what cannot be: this only keeps it */
	if (enc_sink_plan_buffer(c, &s->buffer, why, sizeof(why)) < 0) {
		tool_error(TOOL_ERR_USAGE, 0, "%s", why);
		return -1;
	}
	/* first: an output that must not be replaced ends it before any device is opened */
	if (output_open(&s->output, "encode", c->out,
			(c->container ? OUTPUT_SEEKABLE : 0) | (c->force ? OUTPUT_FORCE : 0)) < 0)
		return -1;
	dmapipe_encoder_options_init(&o);
	o.device = c->device;
	o.codec = c->codec;
	o.io = c->io;
	o.strict = c->strict;
	o.bitrate = c->bitrate;
	o.gop = c->gop;
	if (c->in_flight)
		o.max_in_flight = c->in_flight;
	if (c->qp >= 0) {
		if (c->codec == V4L2_PIX_FMT_FWHT) {
			o.controls[o.n_controls].id = V4L2_CID_FWHT_I_FRAME_QP;
			o.controls[o.n_controls++].value = c->qp;
			o.controls[o.n_controls].id = V4L2_CID_FWHT_P_FRAME_QP;
			o.controls[o.n_controls++].value = c->qp;
		} else {
			o.controls[o.n_controls].id = V4L2_CID_MPEG_VIDEO_H264_I_FRAME_QP;
			o.controls[o.n_controls++].value = c->qp;
		}
	}
	for (unsigned int i = 0; i < c->n_controls && o.n_controls < DMAPIPE_ENCODER_MAX_CONTROLS; i++)
		o.controls[o.n_controls++] = c->controls[i];
	/* the colorimetry every frame header carries, fixed so that encodings compare */
	o.colorspace = V4L2_COLORSPACE_SMPTE170M;
	o.xfer_func = V4L2_XFER_FUNC_709;
	o.ycbcr_enc = V4L2_YCBCR_ENC_601;
	o.quantization = V4L2_QUANTIZATION_LIM_RANGE;
	o.packet = on_packet;
	o.done = on_done;
	o.user_data = s;
	s->release = c->release;
	s->release_data = c->release_data;
	if (c->container || c->serve) {
		o.export_packets = true;
		o.capture_buffers = CAPTURE_BUFFERS;
	}
	if (c->serve) {
		struct dmapipe_server_options so;

		dmapipe_server_options_init(&so);
		so.path = c->serve;
		so.producer_name = "dmapipe-encode";
		so.peer_policy = c->serve_peer;
		so.allowed_uid = c->serve_uid;
		so.allowed_gid = c->serve_gid;
		s->server = open_server(tool.cmd, &so, &c->serve_access);
		if (!s->server) {
			enc_sink_finish(s);
			return -1;
		}
		dmapipe_server_set_idle_callback(s->server, on_served_idle, s);
	}
	if (c->container) {
		struct dmapipe_recorder_options ro;

		dmapipe_recorder_options_init(&ro);
		ro.max_frames = MAX_HELD;
		if (s->buffer.asked) {
			ro.max_frames = s->buffer.groups;
			ro.max_bytes = s->buffer.bytes;
			ro.gather_bytes = s->buffer.group_bytes;
		}
		ro.done = on_recorded;
		ro.release = on_record_release;
		ro.user_data = s;
		s->rec = dmapipe_recorder_new_fd(s->output.fd, &ro);
		if (!s->rec) {
			tool_error(TOOL_OK, errno, "cannot create the recording %s", c->out);
			enc_sink_finish(s);
			return -1;
		}
	} else {
		s->fd = s->output.fd;
		ret = writer_start(&s->writer, s->fd, s->buffer.bytes);
		if (ret < 0) {
			tool_error(TOOL_OK, -ret, "cannot start the writer of %s", c->out);
			enc_sink_finish(s);
			return -1;
		}
		s->writing = true;
	}
	s->enc = dmapipe_encoder_new(&o);
	if (!s->enc) {
		tool_error(errno == ENOENT ? TOOL_ERR_NOT_INSTALLED : TOOL_OK, errno,
			   "cannot open the encoder");
		enc_sink_finish(s);
		return -1;
	}
	return 0;
}

int enc_sink_get_fd(const struct enc_sink *s)
{
	return s->rec ? dmapipe_recorder_get_fd(s->rec) : -1;
}

int enc_sink_get_serve_fd(const struct enc_sink *s)
{
	return s->server ? dmapipe_server_get_fd(s->server) : -1;
}

int enc_sink_dispatch(struct enc_sink *s)
{
	int ret = 0;

	if (s->server && dmapipe_server_dispatch(s->server, 0) < 0)
		tool_warn("serving the bitstream failed");
	if (s->rec)
		ret = dmapipe_recorder_dispatch(s->rec, 0);
	if (ret < 0)
		fail_output(s, -ret, "recording the bitstream to");
	return ret < 0 ? ret : 0;
}

int enc_sink_flush(struct enc_sink *s)
{
	int ret;

	/*
	 * The packet stream's consumers get EOS first: they need not wait
	 * while a stalled disk drains the bitstream file (as `run` ends its
	 * frame stream before its recorders drain)
	 */
	if (s->server && !s->eos) {
		/* the packets queued for consumers, EOS, and a second for their releases */
		s->eos = true;
		dmapipe_server_drain(s->server, 1000);
	}
	if (s->writing) {
		/* every packet queued reaches the file before the output is closed */
		s->writing = false;
		ret = writer_finish(&s->writer, &s->writer_stats);
		if (ret < 0)
			fail_output(s, -ret, "writing the bitstream to");
	}
	if (!s->rec)
		return 0;
	ret = dmapipe_recorder_finish(s->rec);
	if (ret < 0)
		fail_output(s, -ret, "finishing the recording");
	dmapipe_recorder_get_stats(s->rec, &s->rec_stats);
	return ret;
}

void enc_sink_finish(struct enc_sink *s)
{
	/* the recorder gives its buffers back to the encoder: it goes first */
	enc_sink_flush(s);
	dmapipe_recorder_free(s->rec);
	s->rec = NULL;
	/* EOS to the consumers; the server drops its references */
	dmapipe_server_free(s->server);
	s->server = NULL;
	dmapipe_encoder_free(s->enc);
	s->enc = NULL;
	/* kept (flushed to the disk) once it holds a packet; else it goes */
	if (output_publish_wait(&s->output) < 0 && !s->write_error)
		s->write_error = EEXIST;
	if (output_close(&s->output, s->output.published) < 0 && !s->write_error)
		s->write_error = EIO;
	s->fd = -1;
}

/* ---- allocation-time negotiation ------------------------------------------- */

struct dmapipe_v4l2_source *open_capture_for(const struct dmapipe_v4l2_options *o,
					     struct enc_sink *sinks, unsigned int n, bool negotiate,
					     char *note, size_t len)
{
	struct dmapipe_v4l2_negotiation r;
	struct dmapipe_v4l2_source *src;
	struct dmapipe_encoder **encs = NULL;
	const char *line, *end;
	int saved;

	if (n) {
		encs = calloc(n, sizeof(*encs));
		if (!encs)
			return NULL;
		for (unsigned int i = 0; i < n; i++)
			encs[i] = sinks[i].enc;
	}
	src = dmapipe_v4l2_source_new_for_encoders(o, encs, n,
						   negotiate ? 0 : DMAPIPE_V4L2_NO_NEGOTIATE, &r);
	saved = errno;
	free(encs);
	/* the library says what it did; telling the user is the tool's part */
	for (line = r.steps; *line; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		fprintf(stderr, "%s: %.*s\n", tool.cmd, (int)(end - line), line);
	}
	snprintf(note, len, "%s", r.note);
	errno = saved;
	return src;
}
