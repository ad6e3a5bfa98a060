/* SPDX-License-Identifier: MIT */
/* Encoders writing bitstreams, shared by `dmapipe encode` and `dmapipe run`. */
#ifndef DMAPIPE_ENCODE_SINK_H
#define DMAPIPE_ENCODE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmapipe/dmapipe.h>

#include "dmapipe-tool.h"
#include "output.h"

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

struct enc_sink {
	struct dmapipe_encoder *enc;
	const char *out;
	struct output output; /* takes its name at the first packet written */
	int fd;               /* output.fd, or -1 when the recorder writes it */
	int write_error;     /* errno of the first failed write (reported), or 0 */
	uint64_t packets, keyframes, bytes, failed;
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
