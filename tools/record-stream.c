/* SPDX-License-Identifier: MIT */
/*
 * dmapipe record's frames from a producer's stream: each frame a lease,
 * released when the disk is done with it and renewed while a stalled
 * disk holds it; --buffer sized by a look at the stream first. Separate
 * from the device source (record-device.c): the loop in cmd-record.c
 * sees either only through struct frame_source.
 */
#include <errno.h>
#include <sys/resource.h>

#include "record.h"

/*
 * --buffer over a socket: the stream says neither its rate nor, before a
 * frame, its size. A short look at it (a latest consumer holding one
 * frame) measures both over the first frames: their sizes, and the rate
 * from FORMAT_INFO or else the spacing of their timestamps (*@nominal
 * says which). 0, or -1 after saying why.
 */
static int probe_stream(struct record *r, uint64_t *frame_bytes, double *fps, bool *nominal)
{
	const struct dmapipe_format_info *info;
	struct dmapipe_client_options o = r->copts;
	struct dmapipe_client *c;
	uint64_t first_ts = 0, last_ts = 0, first_seq = 0, last_seq = 0;
	unsigned int n = 0;

	o.policy = DMAPIPE_POLICY_LATEST;
	o.max_in_flight = 1;
	o.name = "dmapipe-record-probe";
	c = connect_client_wait("record", &o, r->timeout_ms, r->quiet);
	if (!c)
		return -1;
	*frame_bytes = 0;
	while (n < 6) {
		struct dmapipe_frame *f = dmapipe_client_wait_frame(c, r->timeout_ms ?
								    (int)r->timeout_ms : -1);

		if (!f) {
			tool_error(TOOL_OK, -errno, "--buffer: no frames from %s to size the buffer "
				   "with", r->socket);
			dmapipe_client_free(c);
			return -1;
		}
		*frame_bytes = record_frame_bytes(f->buffer, &f->meta);
		if (!n) {
			first_ts = f->meta.timestamp_ns;
			first_seq = f->meta.sequence;
		}
		last_ts = f->meta.timestamp_ns;
		last_seq = f->meta.sequence;
		dmapipe_client_release_frame(c, f, -1);
		n++;
	}
	/*
	 * The producer's nominal rate when it tells one: the buffer is a
	 * promise in time, and a rate measured over six frames is noisy
	 * (5.4 fps on a 5 fps vivid in a loaded VM, one frame more than the
	 * producer granted). Sequence numbers count the frames "latest"
	 * skipped between those seen.
	 */
	info = dmapipe_client_get_format_info(c);
	*nominal = info && info->fps_num && info->fps_den;
	if (*nominal)
		*fps = (double)info->fps_num / (double)info->fps_den;
	else
		*fps = last_ts > first_ts && last_seq > first_seq ?
		       (double)(last_seq - first_seq) * 1e9 / (double)(last_ts - first_ts) : 60.0;
	dmapipe_client_free(c);
	return 0;
}

/*
 * The producer's pool grows to what this recorder may hold, and each of
 * its buffers reaches the recorder as fds: the client's automatic fd
 * quota covers them (max_in_flight + 64 buffers of up to 4 objects), and
 * the soft file limit is raised to match when it is lower.
 */
static void stream_fd_room(struct record *r)
{
	rlim_t fds = (rlim_t)(r->need + 64) * DMAPIPE_MAX_OBJECTS + 256;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < fds) {
		rl.rlim_cur = fds;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Sizes the buffer (--buffer: a look at the stream); the connection that
 * takes leases waits for stream_start(), once the recording exists:
 * creating it waits for the disk, and leases held meanwhile would time out
 * on a stalled one.
 */
static int stream_open(struct record *r)
{
	r->copts.path = r->socket;
	if (r->buffer_ms || r->buffer_mb) {
		uint64_t frame_bytes;
		bool nominal;
		double fps;

		if (probe_stream(r, &frame_bytes, &fps, &nominal) < 0)
			return -1;
		r->need = record_frames_needed(r, frame_bytes, fps);
		r->copts.max_in_flight = r->need;
		stream_fd_room(r);
		if (r->ropts.max_frames < r->need)
			r->ropts.max_frames = r->need;
		if (!r->quiet)
			fprintf(stderr, "record: buffer of %u frames (%.1f MB, %.0f ms at the "
				"%.1f fps %s)\n", r->need, (double)(frame_bytes * r->need) / 1e6,
				(double)r->need * 1000.0 / fps, fps,
				nominal ? "the producer states" : "measured");
	}
	return 0;
}

/*
 * The recording keeps the producer's FORMAT_INFO: the nominal rate, so
 * that export and play need not guess it from timestamps, and colorimetry,
 * chroma siting, fields and aspect ratio, which play serves again. It
 * comes right after the handshake with FORMAT. The connection is made once
 * the recording exists (stream_start()), so the info goes to the recorder
 * afterwards and into the superblock it writes at the end. A producer that
 * has no format yet, or tells no FORMAT_INFO, leaves it unknown.
 */
static void stream_format_info(struct record *r)
{
	const struct dmapipe_format_info *info;
	uint64_t deadline = now_ns() + 2000000000ull;

	while (!dmapipe_client_get_format(r->client) && !stop_requested && now_ns() < deadline) {
		enum dmapipe_client_state st = dmapipe_client_get_state(r->client);

		if (st != DMAPIPE_CLIENT_CONNECTING && st != DMAPIPE_CLIENT_STREAMING)
			return;
		dmapipe_client_dispatch(r->client, 50);
	}
	/*
	 * A producer sends FORMAT_INFO right after FORMAT and before its
	 * ADD_BUFFERs, but not always in the same burst: wait for it until a
	 * buffer has come (then no FORMAT_INFO preceded it: the producer told
	 * no rate) or the deadline.
	 */
	for (;;) {
		struct dmapipe_client_stats cs;
		enum dmapipe_client_state st = dmapipe_client_get_state(r->client);

		dmapipe_client_get_stats(r->client, &cs);
		if (dmapipe_client_get_format_info(r->client) || cs.buffers_added > 0 ||
		    stop_requested || now_ns() >= deadline ||
		    (st != DMAPIPE_CLIENT_CONNECTING && st != DMAPIPE_CLIENT_STREAMING))
			break;
		dmapipe_client_dispatch(r->client, 20);
	}
	r->received_early = true;
	info = dmapipe_client_get_format_info(r->client);
	if (info)
		(void)dmapipe_recorder_set_format_info(r->rec, info);
	if (info && info->fps_num) {
		/* the recorder has its copy already: this one is for the disk check */
		r->ropts.fps_num = info->fps_num;
		r->ropts.fps_den = info->fps_den;
	}
}

static int stream_start(struct record *r)
{
	uint32_t granted = 0, timeout_ms = 0;
	uint64_t deadline;

	r->client = connect_client_wait("record", &r->copts, r->timeout_ms, r->quiet);
	if (!r->client) {
		r->end = "error";
		r->error = true;
		return -ENOTCONN;
	}
	deadline = now_ns() + 5000000000ull;
	while (dmapipe_client_get_grant(r->client, &granted, NULL, &timeout_ms) < 0 &&
	       now_ns() < deadline && !stop_requested)
		dmapipe_client_dispatch(r->client, 50);
	/*
	 * The lease clocks restart six times per timeout while frames are
	 * held: a process that does not run for most of a timeout (a loaded
	 * machine) still renews in time.
	 */
	r->keepalive_ns = timeout_ms ? (uint64_t)timeout_ms * 1000000ull / 6 : 0;
	if (granted && granted < r->copts.max_in_flight) {
		const char *opt = r->need ? (r->buffer_ms ? "--buffer" : "--buffer-mb") :
				  "--queue-depth";

		if (r->need)
			tool_error(TOOL_ERR_UNSUPPORTED, 0, "the producer granted %u frames in flight "
				   "of the %u asked (%s); start it with a larger --max-in-flight, and "
				   "--buffers, --max-buffers or --pool-budget to match", granted,
				   r->copts.max_in_flight, opt);
		else
			tool_warn("the producer granted %u frames in flight of the %u asked (%s); "
				  "start it with a larger --max-in-flight, and --buffers, "
				  "--max-buffers or --pool-budget to match", granted,
				  r->copts.max_in_flight, opt);
		if (r->need) {
			r->end = "error";
			r->error = true;
			return -ENOSPC;
		}
	}
	stream_format_info(r);
	return 0;
}

static int stream_fd(const struct record *r)
{
	return dmapipe_client_get_fd(r->client);
}

static void stream_dispatch(struct record *r)
{
	uint64_t now;

	dmapipe_client_dispatch(r->client, 0);
	if (!r->keepalive_ns)
		return;
	/* writes in flight (a stalled disk) must not cost the connection */
	now = now_ns();
	if (now >= r->next_keepalive) {
		if (dmapipe_client_keep_leases(r->client) > 0) {
			if (r->last_keepalive && now - r->last_keepalive > r->keepalive_max_gap_ns)
				r->keepalive_max_gap_ns = now - r->last_keepalive;
			r->last_keepalive = now;
			r->keepalives++;
		} else {
			/* nothing held: the next frame held starts a new run */
			r->last_keepalive = 0;
		}
		r->next_keepalive = now + r->keepalive_ns;
	}
}

static int stream_next(struct record *r, struct dmapipe_buffer **buf,
		       const struct dmapipe_frame_meta **meta, void **frame_data)
{
	struct dmapipe_frame *frame = dmapipe_client_acquire_frame(r->client);
	int err;

	if (frame) {
		*buf = frame->buffer;
		*meta = &frame->meta;
		*frame_data = frame;
		return 0;
	}
	err = errno;
	if (err == EAGAIN)
		return -EAGAIN;
	if (err == EPIPE) {
		r->end = "eos";
		return -EPIPE;
	}
	r->end = err == ECONNRESET ? "disconnected" : "error";
	r->error = true;
	if (err == ECONNRESET)
		tool_error(TOOL_ERR_DISCONNECTED, 0, "the producer on %s went away", r->socket);
	else
		report_stream_error(r->client, r->socket);
	return -err;
}

static void stream_give_back(struct record *r, void *frame_data)
{
	dmapipe_client_release_frame(r->client, frame_data, -1);
}

static void stream_counts(const struct record *r, uint64_t *received, uint64_t *gaps)
{
	struct dmapipe_client_stats cs = { 0 };

	if (r->client)
		dmapipe_client_get_stats(r->client, &cs);
	*received = cs.frames_received;
	*gaps = cs.sequence_gaps;
}

const struct frame_source record_stream_source = {
	.open = stream_open,
	.start = stream_start,
	.fd = stream_fd,
	.dispatch = stream_dispatch,
	.next = stream_next,
	.give_back = stream_give_back,
	.counts = stream_counts,
};
