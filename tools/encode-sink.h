/* SPDX-License-Identifier: MIT */
/* Encoders writing bitstreams, shared by `dmapipe encode` and `dmapipe run`. */
#ifndef DMAPIPE_ENCODE_SINK_H
#define DMAPIPE_ENCODE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmapipe/dmapipe.h>

#include "dmapipe-tool.h"
#include "encode-buffer.h"
#include "output.h"
#include "writer.h"

struct enc_sink_config {
	const char *device;  /* NULL: found by codec */
	uint32_t codec;      /* V4L2 coded format */
	const char *out;     /* a file, or "-" (output.h's rules) */
	bool force;          /* an existing regular file @out may be replaced */
	enum dmapipe_encoder_io io;
	bool strict;
	uint32_t bitrate, gop, in_flight;
	int32_t qp;          /* -1: the driver's */
	struct dmapipe_encoder_control controls[8];
	unsigned int n_controls;
	/* write the packets through the recorder (a dmapipe recording) to @out */
	bool container;
	/*
	 * --buffer DURATION / --buffer-mb N (0: the defaults): what absorbs a
	 * stall of the disk, sized by enc_sink_plan_buffer()
	 */
	uint32_t buffer_ms, buffer_mb;
	/* the raw frames' bytes and rate, the worst case without a bitrate (0: unknown) */
	uint64_t raw_frame_bytes;
	double fps;
	/* also serve the packets on this dmapipe socket (NULL: not served) */
	const char *serve;
	/* that socket's mode and group, and whom it serves */
	struct socket_access serve_access;
	enum dmapipe_peer_policy serve_peer;
	uid_t serve_uid;
	gid_t serve_gid;
	/* gives a frame back (a client frame's lease, a capture buffer) */
	void (*release)(void *data, void *frame);
	void *release_data;
};

/*
 * Plans @c's buffer (encode-buffer.h) into @b, at most half of this
 * machine's memory: 0, or -EINVAL/-ERANGE with @why.
 */
int enc_sink_plan_buffer(const struct enc_sink_config *c, struct enc_buffer *b, char *why,
			 size_t len);
/* buffer_bytes, buffer_s, buffer_rate, buffer_peak_bytes_per_s into @j (docs/JSON.md). */
void enc_buffer_json(const struct enc_buffer *b, struct json *j);
/* One line for a summary, in @buf; returns @buf. */
const char *enc_buffer_describe(const struct enc_buffer *b, char *buf, size_t len);

struct enc_sink {
	struct enc_buffer buffer;
	struct dmapipe_encoder *enc;
	const char *out;
	struct output output; /* takes its name at the first packet written */
	int fd;               /* output.fd, or -1 when the recorder writes it */
	int write_error;     /* errno of the first failed write (reported), or 0 */
	uint64_t packets, keyframes, bytes, failed;
	/*
	 * Bitstream: packets go to a writer thread (writer.h), never a
	 * write() in the caller's loop. A packet the writer or the recorder
	 * cannot take now is dropped, and so is every packet after it up to
	 * the next keyframe (they would not decode without it).
	 */
	struct writer writer;
	bool writing;
	bool skip_to_key;
	uint64_t packets_dropped;    /* the disk was behind (incl. up to the keyframe) */
	struct writer_stats writer_stats; /* after enc_sink_flush() */
	void (*release)(void *data, void *frame);
	void *release_data;
	/* container: the recorder; serve: the server */
	struct dmapipe_recorder *rec;
	struct dmapipe_server *server;
	/* the exported bitstream buffers seen, who holds them */
	struct {
		struct dmapipe_buffer *buffer;
		unsigned int holds;  /* the recorder and/or the server */
		bool served;         /* registered with the server */
	} slots[16];
	unsigned int n_slots;
	unsigned int held;           /* buffers with holds */
	uint64_t served, serve_dropped;
	bool eos;                    /* end of stream sent to the consumers */
	struct dmapipe_recorder_stats rec_stats; /* after enc_sink_flush() */
};

/*
 * Opens the output (refused before anything else if it exists and force is
 * not set), then the encoder; reports why (tool_error()) and returns -1 on
 * failure.
 */
int enc_sink_init(struct enc_sink *s, const struct enc_sink_config *c);

/* The recorder's fd (poll it, then enc_sink_dispatch()), or -1. */
int enc_sink_get_fd(const struct enc_sink *s);
/* The server's fd (poll it, then enc_sink_dispatch()), or -1. */
int enc_sink_get_serve_fd(const struct enc_sink *s);
/* Reaps the recorder's completed writes and the server's releases, giving their buffers back to the encoder. */
int enc_sink_dispatch(struct enc_sink *s);
/*
 * After dmapipe_encoder_finish(): ends the served stream (EOS, up to a
 * second for the consumers to leave) and the recording (every packet
 * written or failed), fills rec_stats. Idempotent.
 */
int enc_sink_flush(struct enc_sink *s);
/*
 * Frees the encoder (finish it first to keep its last packets) and closes
 * the output: kept if a packet reached it, else its temporary file goes
 * and an old file of that name stays as it was.
 */
void enc_sink_finish(struct enc_sink *s);

/*
 * Opens the capture device of @o so that every encoder of @sinks can
 * import its buffers (dmapipe_v4l2_source_new_for_encoders(); with
 * @negotiate false it only checks): the library's reopenings are printed
 * ("CMD: negotiating: ..."), @note gets its outcome. NULL (errno set,
 * logged) if the device cannot be opened.
 */
struct dmapipe_v4l2_source *open_capture_for(const struct dmapipe_v4l2_options *o,
					     struct enc_sink *sinks, unsigned int n, bool negotiate,
					     char *note, size_t len);

#endif /* DMAPIPE_ENCODE_SINK_H */
