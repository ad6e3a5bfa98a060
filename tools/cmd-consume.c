/* SPDX-License-Identifier: MIT */
/* dmapipe consume: receive, verify and time the frames of a stream. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe-tool.h"

/* library messages wait at most this long while frames flow (run()) */
#define LOG_FLUSH_NS (100 * 1000000ull)

static const char *const consume_usage =
	"Usage: dmapipe consume [--socket SOCKET] [OPTIONS]\n"
	"\n"
	"Connects to a producer, receives frames and reports rate, latency, drops and\n"
	"copies. Frames the producer marks as the test pattern (docs/PATTERN.md:\n"
	"dmapipe serve, a replay of its recording) are verified byte for byte; other\n"
	"frames are counted, not checked.\n"
	"It says at once when it waits for the producer, and why it cannot connect\n"
	"(no such socket, not a socket, nobody listening, permission).\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET     the producer's socket (default: the stream \"default\")\n"
	HELP_SOCKET_NAME
	"  -n, --frames N          stop after N frames, 0 = until end of stream (default 0)\n"
	"      --policy POLICY     latest (default), queue:N or block:N\n"
	"      --verify MODE       auto (default): every byte of the frames the producer\n"
	"                          marks as the pattern, no other; full: every byte of\n"
	"                          every frame; stamp: the 16-byte sequence stamp only;\n"
	"                          none: do not touch pixels\n"
	"      --in-flight N       frames this consumer may hold at once (default 2)\n"
	"      --busy-poll US      poll up to US microseconds before sleeping while\n"
	"                          messages come fast (default 30, 0 = never)\n"
	"      --hold-ms MS        keep each frame MS milliseconds (a slow consumer)\n"
	"      --reconnect         reconnect with backoff when the producer goes away\n"
	"      --timeout MS        fail if no frame arrives for MS, also while waiting for\n"
	"                          the producer to appear (default 10000, 0 = never)\n"
	"      --name NAME         name shown in the producer's stats\n"
	"      --peer POLICY       which producers to trust: same-uid (default), any,\n"
	"                          uid:N, gid:N (a system service's stream, which runs as\n"
	"                          its own user: any, or uid:N)\n"
	"  -q, --quiet             no status lines, no waiting message\n"
	"      --hash-log FILE     write \"sequence crc32\" of every frame's visible bytes\n"
	"                          to FILE (to compare content that is not the pattern)\n"
	"      --json              print the summary as JSON on stdout (docs/JSON.md), a\n"
	"                          failure too\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (a frame failed\n"
	"verification, no producer, the stream failed), 2 bad command line.\n";

enum {
	OPT_POLICY = 256,
	OPT_VERIFY,
	OPT_HOLD,
	OPT_IN_FLIGHT,
	OPT_RECONNECT,
	OPT_TIMEOUT,
	OPT_NAME,
	OPT_PEER,
	OPT_JSON,
	OPT_HASH_LOG,
	OPT_BUSY_POLL,
};

struct consume {
	struct dmapipe_client_options opts;
	const char *socket;
	uint64_t frames;
	enum verify_mode verify;
	uint32_t hold_ms;
	uint32_t timeout_ms;
	bool quiet;
	bool json;
	const char *hash_log;
	FILE *hash_out;

	struct dmapipe_client *client;
	struct dmapipe_format format;
	enum dmapipe_mem_kind mem_kind;

	/* results */
	uint64_t received, verified, failed, unchecked, dropped, out_of_order;
	uint64_t first_seq, last_seq;
	bool have_seq;
	struct samples latency;
	struct samples interval; /* latencies since the last status line */
	uint64_t t0, t1;
	uint64_t cpu_user0, cpu_sys0, cpu_user1, cpu_sys1;
	uint64_t cpu0, cpu1; /* precise total */
	const char *end;   /* why the loop ended */
	bool error;
	/* first verification failure */
	uint64_t fail_seq, fail_offset;
	unsigned int fail_plane;
	const char *fail_what;
};

static void parse_args(struct consume *c, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "frames", required_argument, NULL, 'n' },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "verify", required_argument, NULL, OPT_VERIFY },
		{ "hold-ms", required_argument, NULL, OPT_HOLD },
		{ "in-flight", required_argument, NULL, OPT_IN_FLIGHT },
		{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
		{ "reconnect", no_argument, NULL, OPT_RECONNECT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "hash-log", required_argument, NULL, OPT_HASH_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, ":s:n:qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			c->socket = optarg;
			break;
		case 'n':
			c->frames = opt_u64("consume", "--frames", optarg);
			break;
		case OPT_POLICY:
			opt_policy("consume", optarg, &c->opts.policy, &c->opts.queue_depth);
			break;
		case OPT_VERIFY:
			c->verify = opt_verify("consume", optarg);
			break;
		case OPT_HOLD:
			c->hold_ms = opt_u32("consume", "--hold-ms", optarg, 0, 3600000);
			break;
		case OPT_IN_FLIGHT:
			c->opts.max_in_flight = opt_u32("consume", "--in-flight", optarg, 1, 16);
			break;
		case OPT_BUSY_POLL:
			c->opts.busy_poll_us = opt_u32("consume", "--busy-poll", optarg, 0, 100000);
			break;
		case OPT_RECONNECT:
			c->opts.reconnect = true;
			break;
		case OPT_TIMEOUT:
			c->timeout_ms = opt_u32("consume", "--timeout", optarg, 0, 86400000);
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 31)
				usage_error("consume", "--name wants 1 to 31 characters");
			c->opts.name = optarg;
			break;
		case OPT_PEER:
			opt_peer("consume", optarg, &c->opts.peer_policy, &c->opts.allowed_uid,
				 &c->opts.allowed_gid);
			break;
		case 'q':
			c->quiet = true;
			break;
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_HASH_LOG:
			c->hash_log = optarg;
			break;
		case 'h':
			fputs(consume_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("consume", ch, argv);
		}
	}
	usage_no_operands("consume", argc, argv);
	c->socket = opt_socket("consume", c->socket);
}

static int connect_client(struct consume *c)
{
	c->opts.path = c->socket;
	c->client = connect_client_wait("consume", &c->opts, c->timeout_ms, c->quiet);
	return c->client ? 0 : -1;
}

/* Checks one frame under @mode (STAMP or FULL); true if it is the frame its metadata names. */
static bool verify_frame(struct consume *c, struct dmapipe_frame *frame, enum verify_mode mode)
{
	struct dmapipe_buffer *buf = frame->buffer;
	const struct dmapipe_layout *layout = dmapipe_buffer_get_layout(buf);
	uint8_t *planes[DMAPIPE_MAX_PLANES] = { NULL };
	uint64_t seq = frame->meta.sequence, stamp = 0, offset = 0;
	unsigned int p, plane = 0;
	int ret;

	for (p = 0; p < layout->n_planes; p++) {
		planes[p] = dmapipe_buffer_map_plane(buf, p);
		if (!planes[p]) {
			c->fail_what = "cannot map the buffer";
			goto failed;
		}
	}
	ret = dmapipe_buffer_begin_cpu_access(buf, DMAPIPE_ACCESS_READ);
	if (ret < 0) {
		c->fail_what = "cannot begin CPU access";
		goto failed;
	}
	if (mode == VERIFY_FULL) {
		ret = dmapipe_pattern_check(layout, planes, seq, &plane, &offset);
		if (ret == -EILSEQ)
			c->fail_what = "pixel data differs";
	} else {
		ret = dmapipe_pattern_read_stamp(layout, planes, &stamp);
		if (ret == 0 && stamp != seq) {
			ret = -EILSEQ;
			c->fail_what = "stamp names another frame";
		} else if (ret == -EILSEQ) {
			c->fail_what = "stamp damaged";
		}
	}
	dmapipe_buffer_end_cpu_access(buf, DMAPIPE_ACCESS_READ);
	if (ret == 0)
		return true;
	if (ret != -EILSEQ)
		c->fail_what = ret != -EINVAL ? "verification error" :
			       mode == VERIFY_STAMP ?
			       "no stamp (no pattern for this format, or rows under 16 bytes)" :
			       "no pattern defined for this format or modifier";
failed:
	/* the first is reported at the end; the status line counts them meanwhile */
	if (c->failed == 0) {
		c->fail_seq = seq;
		c->fail_plane = plane;
		c->fail_offset = offset;
	}
	return false;
}

static void account_sequence(struct consume *c, uint64_t seq)
{
	if (!c->have_seq) {
		c->first_seq = seq;
		c->have_seq = true;
	} else if (seq > c->last_seq) {
		c->dropped += seq - c->last_seq - 1;
	} else {
		c->out_of_order++; /* a restarted producer, or a bug */
	}
	c->last_seq = seq;
}

static void status_line(struct consume *c, uint64_t frames, uint64_t dt_ns)
{
	struct dmapipe_copy_stats cs;

	dmapipe_get_copy_stats(&cs);
	fprintf(stderr, "consume: frame %llu, %.1f fps, latency p50 %.3f ms, %llu dropped, "
		"%llu failed, %llu bytes copied\n",
		(unsigned long long)c->last_seq, (double)frames * 1e9 / (double)dt_ns,
		(double)samples_percentile(&c->interval, 50) / 1e6,
		(unsigned long long)c->dropped, (unsigned long long)c->failed,
		(unsigned long long)cs.bytes);
	c->interval.n = 0;
}

static void run(struct consume *c)
{
	uint64_t last_frame_ns = now_ns(), next_status = 0, status_t0 = 0, status_frames = 0;
	uint64_t next_flush = 0;

	c->end = "frames";
	while (c->frames == 0 || c->received < c->frames) {
		struct dmapipe_frame *frame;
		uint64_t now;

		if (stop_requested) {
			c->end = "interrupted";
			break;
		}
		/*
		 * The library's messages reach stderr before a wait that may
		 * sleep, and at most LOG_FLUSH_NS late while frames flow: a lock
		 * and an fflush() per frame were a tenth of a busy consumer's
		 * own work.
		 */
		if (last_frame_ns >= next_flush) {
			tool_log_flush();
			next_flush = last_frame_ns + LOG_FLUSH_NS;
		}
		frame = dmapipe_client_wait_frame(c->client, 200);
		now = now_ns();
		if (!frame) {
			next_flush = 0;
			if (errno == ETIMEDOUT || errno == EAGAIN || errno == EINTR) {
				if (c->timeout_ms && now - last_frame_ns >
				    (uint64_t)c->timeout_ms * 1000000ull) {
					c->end = "timeout";
					c->error = true;
					tool_error(TOOL_ERR_TIMEOUT, 0, "no frame from %s for %u ms",
						   c->socket, c->timeout_ms);
					break;
				}
				continue;
			}
			if (errno == EPIPE) {
				c->end = "eos";
			} else if (errno == ECONNRESET) {
				if (c->opts.reconnect)
					continue;
				c->end = "disconnected";
				c->error = true;
				tool_error(TOOL_ERR_DISCONNECTED, 0, "the producer on %s went away "
					   "(--reconnect waits for it to come back)", c->socket);
			} else {
				report_stream_error(c->client, c->socket);
				c->end = "error";
				c->error = true;
			}
			break;
		}
		last_frame_ns = now;
		if (c->received == 0) {
			const struct dmapipe_format *fmt = dmapipe_client_get_format(c->client);

			self_cpu_ns(&c->cpu_user0, &c->cpu_sys0);
			c->cpu0 = self_cpu_total_ns();
			c->t0 = frame->received_ns ? frame->received_ns : now;
			if (fmt)
				c->format = *fmt;
			c->mem_kind = dmapipe_buffer_get_mem_kind(frame->buffer);
			status_t0 = now;
			next_status = now + 1000000000ull;
			if (!c->quiet) {
				char fourcc[16];

				fprintf(stderr, "consume: %s %ux%u, %s\n",
					dmapipe_fourcc_to_string(c->format.fourcc, fourcc,
								 sizeof(fourcc)),
					c->format.width, c->format.height,
					dmapipe_mem_kind_to_string(c->mem_kind));
			}
		}
		c->received++;
		status_frames++;
		account_sequence(c, frame->meta.sequence);
		if (frame->meta.timestamp_ns && frame->received_ns >= frame->meta.timestamp_ns) {
			uint64_t latency = frame->received_ns - frame->meta.timestamp_ns;

			samples_add(&c->latency, latency);
			if (!c->quiet)
				samples_add(&c->interval, latency);
		}
		if (c->verify != VERIFY_NONE) {
			enum verify_mode mode = verify_frame_mode(c->verify, frame->meta.flags);

			if (mode == VERIFY_NONE)
				c->unchecked++; /* auto: not the pattern, nothing to compare with */
			else if (verify_frame(c, frame, mode))
				c->verified++;
			else
				c->failed++;
		}
		if (c->hash_out) {
			uint32_t crc;

			if (frame_crc32(frame->buffer, &crc) == 0)
				fprintf(c->hash_out, "%llu %08x\n",
					(unsigned long long)frame->meta.sequence, crc);
			else
				fprintf(c->hash_out, "%llu -\n",
					(unsigned long long)frame->meta.sequence);
		}
		if (c->hold_ms)
			sleep_ms(c->hold_ms);
		dmapipe_client_release_frame(c->client, frame, -1);
		c->t1 = now_ns();

		if (!c->quiet && c->t1 >= next_status) {
			status_line(c, status_frames, c->t1 - status_t0);
			status_frames = 0;
			status_t0 = c->t1;
			next_status = c->t1 + 1000000000ull;
		}
	}
	if (c->received) {
		self_cpu_ns(&c->cpu_user1, &c->cpu_sys1);
		c->cpu1 = self_cpu_total_ns();
	}
}

static void print_summary(struct consume *c)
{
	struct dmapipe_client_stats cs;
	struct dmapipe_copy_stats copies;
	double elapsed = c->t1 > c->t0 ? (double)(c->t1 - c->t0) * 1e-9 : 0;
	double fps = elapsed > 0 && c->received > 1 ? (double)(c->received - 1) / elapsed : 0;
	uint64_t cpu = c->cpu1 - c->cpu0;
	bool ok = !c->error && c->failed == 0;
	char fourcc[16];

	dmapipe_client_get_stats(c->client, &cs);
	dmapipe_get_copy_stats(&copies);
	dmapipe_fourcc_to_string(c->format.fourcc, fourcc, sizeof(fourcc));

	if (c->json) {
		struct json j;

		json_begin_document(&j, strcmp(c->end, "interrupted") == 0);
		json_string(&j, "end", c->end);
		json_string(&j, "socket", c->socket);
		json_i64(&j, "pid", (int64_t)getpid());
		json_string(&j, "name", c->opts.name);
		json_string(&j, "policy", dmapipe_policy_to_string(c->opts.policy));
		json_u64(&j, "queue_depth", c->opts.queue_depth);
		json_u64(&j, "in_flight", c->opts.max_in_flight);
		json_u64(&j, "busy_poll_us", c->opts.busy_poll_us);
		json_string(&j, "verify", verify_names[c->verify]);
		json_string(&j, "fourcc", c->received ? fourcc : NULL);
		json_u64(&j, "width", c->format.width);
		json_u64(&j, "height", c->format.height);
		json_string(&j, "memory", dmapipe_mem_kind_to_string(c->mem_kind));
		json_bool(&j, "dmabuf", c->mem_kind == DMAPIPE_MEM_DMABUF);
		json_u64(&j, "frames_received", c->received);
		json_u64(&j, "frames_verified", c->verified);
		json_u64(&j, "frames_failed", c->failed);
		json_u64(&j, "frames_not_checked", c->unchecked);
		json_u64(&j, "frames_dropped", c->dropped);
		json_u64(&j, "frames_out_of_order", c->out_of_order);
		if (c->have_seq) {
			json_u64(&j, "sequence_first", c->first_seq);
			json_u64(&j, "sequence_last", c->last_seq);
		} else {
			json_null(&j, "sequence_first");
			json_null(&j, "sequence_last");
		}
		if (c->failed) {
			json_begin_object(&j, "first_failure");
			json_u64(&j, "sequence", c->fail_seq);
			json_string(&j, "what", c->fail_what);
			json_u64(&j, "plane", c->fail_plane);
			json_u64(&j, "offset", c->fail_offset);
			json_end_object(&j);
		} else {
			json_null(&j, "first_failure");
		}
		json_double(&j, "elapsed_s", elapsed);
		json_double(&j, "fps", fps);
		json_double(&j, "latency_p50_us", (double)samples_percentile(&c->latency, 50) / 1e3);
		json_double(&j, "latency_p90_us", (double)samples_percentile(&c->latency, 90) / 1e3);
		json_double(&j, "latency_p99_us", (double)samples_percentile(&c->latency, 99) / 1e3);
		json_double(&j, "latency_max_us", (double)samples_max(&c->latency) / 1e3);
		json_u64(&j, "bytes_copied", copies.bytes);
		json_u64(&j, "frames_copied", copies.frames);
		json_u64(&j, "reconnects", cs.reconnects);
		json_u64(&j, "buffers_added", cs.buffers_added);
		json_u64(&j, "fds_received", cs.fds_received);
		json_u64(&j, "cpu_user_ns", c->cpu_user1 - c->cpu_user0);
		json_u64(&j, "cpu_ns", c->cpu1 - c->cpu0);
		json_u64(&j, "cpu_sys_ns", c->cpu_sys1 - c->cpu_sys0);
		json_double(&j, "cpu_ns_per_frame", c->received ? (double)cpu / (double)c->received : 0);
		json_end_object(&j);
		json_finish(&j);
		return;
	}

	printf("consume: %s (%s)\n", ok ? "ok" : "FAILED", c->end);
	if (c->received)
		printf("  stream      %s %ux%u, %s\n", fourcc, c->format.width, c->format.height,
		       dmapipe_mem_kind_to_string(c->mem_kind));
	printf("  frames      %llu received, %llu verified (%s), %llu failed, %llu dropped\n",
	       (unsigned long long)c->received, (unsigned long long)c->verified,
	       verify_names[c->verify], (unsigned long long)c->failed,
	       (unsigned long long)c->dropped);
	if (c->unchecked)
		printf("  not checked %llu frames: not marked as the test pattern by the producer "
		       "(--verify full checks them anyway)\n", (unsigned long long)c->unchecked);
	if (c->failed)
		printf("  first bad   frame %llu: %s (plane %u, offset %llu)\n",
		       (unsigned long long)c->fail_seq, c->fail_what, c->fail_plane,
		       (unsigned long long)c->fail_offset);
	printf("  rate        %.1f fps over %.2f s\n", fps, elapsed);
	printf("  latency     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
	       (double)samples_percentile(&c->latency, 50) / 1e6,
	       (double)samples_percentile(&c->latency, 90) / 1e6,
	       (double)samples_percentile(&c->latency, 99) / 1e6,
	       (double)samples_max(&c->latency) / 1e6);
	printf("  copied      %llu pixel bytes%s\n", (unsigned long long)copies.bytes,
	       copies.bytes ? "" : " (zero-copy)");
	printf("  cpu         %.1f us per frame\n",
	       c->received ? (double)cpu / (double)c->received / 1000.0 : 0.0);
	if (cs.reconnects)
		printf("  reconnects  %llu\n", (unsigned long long)cs.reconnects);
}

int cmd_consume(int argc, char **argv)
{
	struct consume c;
	int status;

	memset(&c, 0, sizeof(c));
	dmapipe_client_options_init(&c.opts);
	c.verify = VERIFY_AUTO;
	c.timeout_ms = 10000;
	c.opts.name = "dmapipe-consume";
	parse_args(&c, argc, argv);
	c.opts.map_buffers = c.verify != VERIFY_NONE || c.hash_log;
	if (c.hash_log) {
		c.hash_out = fopen(c.hash_log, "w");
		if (!c.hash_out) {
			tool_error(TOOL_OK, errno, "cannot write %s", c.hash_log);
			return 1;
		}
	}

	install_stop_signals();
	if (connect_client(&c) < 0) {
		if (c.hash_out)
			fclose(c.hash_out);
		/* stopped while waiting for the producer: nothing failed */
		return stop_requested && tool.error == TOOL_OK ? 0 : 1;
	}
	run(&c);
	if (c.failed)
		tool_error(TOOL_ERR_VERIFY, 0, "%llu of %llu frames failed verification; the "
			   "first, frame %llu: %s (plane %u, offset %llu)",
			   (unsigned long long)c.failed, (unsigned long long)c.received,
			   (unsigned long long)c.fail_seq, c.fail_what, c.fail_plane,
			   (unsigned long long)c.fail_offset);
	if (c.hash_out && fclose(c.hash_out) != 0)
		tool_error(TOOL_ERR_IO, errno, "writing %s failed", c.hash_log);
	print_summary(&c);
	status = c.error || c.failed || tool.error != TOOL_OK ? 1 : 0;
	dmapipe_client_free(c.client);
	samples_free(&c.latency);
	samples_free(&c.interval);
	return status;
}
