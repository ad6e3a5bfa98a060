/* SPDX-License-Identifier: MIT */
/*
 * dmapipe pipewire: publish a stream as a PipeWire video node whose
 * buffers are the producer's own (pipewire-node.c, docs/PIPEWIRE.md).
 * libpipewire is optional: without it this command only says so.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "dmapipe-tool.h"

#if HAVE_PIPEWIRE
#include <spa/buffer/buffer.h>
#include <spa/utils/result.h>

#include "pipewire-node.h"
#endif

static const char *const pipewire_usage =
	"Usage: dmapipe pipewire [--socket SOCKET] [OPTIONS]\n"
	"\n"
	"Publishes a dmapipe stream as a PipeWire video node (media.class\n"
	"Video/Source) for desktop consumers: browsers, OBS, pipewiresrc. The\n"
	"node's buffers are the producer's: dma-bufs go to PipeWire as DmaBuf,\n"
	"memfds as MemFd, and no pixel is copied. Each frame's lease is held\n"
	"while PipeWire holds its buffer. Runs until the stream ends or a signal.\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET     the producer's socket (default: the stream \"default\")\n"
	HELP_SOCKET_NAME
	"      --name NAME         node.name, what consumers target (default dmapipe)\n"
	"      --description TEXT  node.description, what people see (default: NAME)\n"
	"      --fps N[/D]         frame rate to announce (default 0: variable)\n"
	"      --policy POLICY     latest (default), queue:N or block:N\n"
	"      --in-flight N       frames PipeWire may hold at once (default 4)\n"
	"  -n, --frames N          stop after N frames handed to PipeWire (default 0: no limit)\n"
	"      --timeout MS        fail if no frame arrives for MS, also while waiting for\n"
	"                          the producer to appear (default 10000, 0 = never)\n"
	"      --max-renegotiations N\n"
	"                          renegotiations with PipeWire when the producer adds\n"
	"                          buffers or changes format, at most (default 8)\n"
	"      --peer POLICY       which producers to trust: same-uid (default), any,\n"
	"                          uid:N, gid:N\n"
	"  -q, --quiet             no status lines, no waiting message\n"
	"      --json              print the summary as JSON on stdout (docs/JSON.md), a\n"
	"                          failure too\n"
	"  -h, --help              this text\n"
	"\n"
	"PipeWire is found as every PipeWire client finds it ($PIPEWIRE_REMOTE,\n"
	"$XDG_RUNTIME_DIR/pipewire-0).\n"
	"\n"
	"Exit status: 0 ok (also when interrupted), 1 failure (no producer, no\n"
	"PipeWire, PipeWire ended the node), 2 bad command line.\n";

#if HAVE_PIPEWIRE

enum {
	OPT_NAME = 256,
	OPT_DESCRIPTION,
	OPT_FPS,
	OPT_POLICY,
	OPT_IN_FLIGHT,
	OPT_TIMEOUT,
	OPT_MAX_RENEG,
	OPT_PEER,
	OPT_JSON,
};

struct pipewire_cmd {
	struct dmapipe_client_options opts;
	struct pipewire_node_options node_opts;
	const char *socket;
	uint64_t frames;
	uint32_t timeout_ms;
	bool quiet;
	bool json;

	struct pw_main_loop *main_loop;
	struct pw_context *context;
	struct pw_core *core;
	struct dmapipe_client *client;
	struct pipewire_node *node;

	struct dmapipe_format format;
	struct dmapipe_layout layout; /* of the buffers, fds not kept */
	enum dmapipe_mem_kind mem_kind;
	uint64_t t0, t1, last_frame_ns, next_status;
	uint64_t received_before;
	bool announced;
	const char *end;
	bool error;
};

static void parse_fps(struct pipewire_cmd *p, const char *s)
{
	char buf[32], *slash;

	if (strlen(s) >= sizeof(buf))
		usage_error("pipewire", "bad --fps '%s'", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	p->node_opts.fps_num = opt_u32("pipewire", "--fps", buf, 0, 1000000);
	p->node_opts.fps_den = slash ? opt_u32("pipewire", "--fps", slash + 1, 1, 1000000) : 1;
}

static void parse_args(struct pipewire_cmd *p, int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ "fps", required_argument, NULL, OPT_FPS },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "in-flight", required_argument, NULL, OPT_IN_FLIGHT },
		{ "frames", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "max-renegotiations", required_argument, NULL, OPT_MAX_RENEG },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, ":s:n:qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			p->socket = optarg;
			break;
		case OPT_NAME:
			if (!*optarg || strlen(optarg) > 127)
				usage_error("pipewire", "--name wants 1 to 127 characters");
			p->node_opts.name = optarg;
			break;
		case OPT_DESCRIPTION:
			p->node_opts.description = optarg;
			break;
		case OPT_FPS:
			parse_fps(p, optarg);
			break;
		case OPT_POLICY:
			opt_policy("pipewire", optarg, &p->opts.policy, &p->opts.queue_depth);
			break;
		case OPT_IN_FLIGHT:
			p->opts.max_in_flight = opt_u32("pipewire", "--in-flight", optarg, 2, 16);
			break;
		case 'n':
			p->frames = opt_u64("pipewire", "--frames", optarg);
			break;
		case OPT_TIMEOUT:
			p->timeout_ms = opt_u32("pipewire", "--timeout", optarg, 0, 86400000);
			break;
		case OPT_MAX_RENEG:
			p->node_opts.max_renegotiations =
				opt_u32("pipewire", "--max-renegotiations", optarg, 0, 1000);
			break;
		case OPT_PEER:
			opt_peer("pipewire", optarg, &p->opts.peer_policy, &p->opts.allowed_uid,
				 &p->opts.allowed_gid);
			break;
		case 'q':
			p->quiet = true;
			break;
		case OPT_JSON:
			p->json = true;
			break;
		case 'h':
			fputs(pipewire_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("pipewire", ch, argv);
		}
	}
	usage_no_operands("pipewire", argc, argv);
	p->socket = opt_socket("pipewire", p->socket);
}

static void finish(struct pipewire_cmd *p, const char *end, bool error)
{
	if (!p->end) {
		p->end = end;
		p->error = error;
	}
	pw_main_loop_quit(p->main_loop);
}

static const char *data_type_name(uint32_t type)
{
	return type == SPA_DATA_DmaBuf ? "DmaBuf" : type == SPA_DATA_MemFd ? "MemFd" : NULL;
}

/* What the stream is now, for the summary (the first buffer speaks for all). */
static void note_stream(struct pipewire_cmd *p)
{
	const struct dmapipe_format *fmt = dmapipe_client_get_format(p->client);
	struct dmapipe_buffer *buf;
	uint32_t id;

	if (fmt)
		p->format = *fmt;
	if (dmapipe_client_get_buffers(p->client, &id, &buf, 1) > 0) {
		p->layout = *dmapipe_buffer_get_layout(buf);
		p->mem_kind = dmapipe_buffer_get_mem_kind(buf);
	}
}

static void on_client_io(void *data, int fd, uint32_t mask)
{
	struct pipewire_cmd *p = data;
	struct pipewire_node_stats st;
	int ret;

	ret = dmapipe_client_dispatch(p->client, 0);
	if (ret < 0) {
		tool_error(TOOL_OK, ret, "receiving from %s", p->socket);
		finish(p, "error", true);
		return;
	}
	note_stream(p);
	ret = pipewire_node_client_ready(p->node);
	if (ret < 0) {
		char fourcc[16];

		tool_error(TOOL_ERR_UNSUPPORTED, 0, "cannot offer %s %ux%u to PipeWire: %s",
			   dmapipe_fourcc_to_string(p->format.fourcc, fourcc, sizeof(fourcc)),
			   p->format.width, p->format.height,
			   ret == -EINVAL ? "PipeWire has no name for this format or modifier" :
			   spa_strerror(ret));
		finish(p, "format", true);
		return;
	}
	pipewire_node_get_stats(p->node, &st);
	if (st.frames_received != p->received_before) {
		p->last_frame_ns = now_ns();
		if (!p->received_before)
			p->t0 = p->last_frame_ns;
		p->t1 = p->last_frame_ns;
		p->received_before = st.frames_received;
	}
	if (p->frames && st.frames_queued >= p->frames) {
		finish(p, "frames", false);
		return;
	}
	switch (dmapipe_client_get_state(p->client)) {
	case DMAPIPE_CLIENT_EOS:
		finish(p, "eos", false);
		break;
	case DMAPIPE_CLIENT_DISCONNECTED:
		tool_error(TOOL_ERR_DISCONNECTED, 0, "the producer on %s went away", p->socket);
		finish(p, "disconnected", true);
		break;
	case DMAPIPE_CLIENT_ERROR:
		report_stream_error(p->client, p->socket);
		finish(p, "error", true);
		break;
	default:
		break;
	}
}

static void status_line(struct pipewire_cmd *p)
{
	struct pipewire_node_stats st;
	struct dmapipe_copy_stats cs;

	pipewire_node_get_stats(p->node, &st);
	dmapipe_get_copy_stats(&cs);
	fprintf(stderr, "pipewire: %s, %llu frames to PipeWire, %llu returned, %llu dropped, "
		"%u leases held, %llu bytes copied\n",
		pw_stream_state_as_string(pipewire_node_get_state(p->node, NULL)),
		(unsigned long long)st.frames_queued, (unsigned long long)st.frames_returned,
		(unsigned long long)(st.dropped_unlinked + st.dropped_replaced +
				     st.dropped_no_buffer + st.dropped_fence),
		st.leases, (unsigned long long)cs.bytes);
}

static void on_tick(void *data, uint64_t expirations)
{
	struct pipewire_cmd *p = data;
	const char *error = NULL;
	uint64_t now = now_ns();

	if (stop_requested) {
		finish(p, "interrupted", false);
		return;
	}
	tool_log_flush();
	pipewire_node_tick(p->node);
	if (pipewire_node_get_state(p->node, &error) == PW_STREAM_STATE_ERROR) {
		tool_error(TOOL_ERR_INTERNAL, 0, "PipeWire ended the node: %s",
			   error ? error : "unknown error");
		finish(p, "pipewire-error", true);
		return;
	}
	if (!p->announced && pipewire_node_get_id(p->node) != SPA_ID_INVALID) {
		char fourcc[16];

		p->announced = true;
		if (!p->quiet)
			fprintf(stderr, "pipewire: node %s (id %u): %s %ux%u, %s\n",
				p->node_opts.name, pipewire_node_get_id(p->node),
				dmapipe_fourcc_to_string(p->format.fourcc, fourcc, sizeof(fourcc)),
				p->format.width, p->format.height,
				dmapipe_mem_kind_to_string(p->mem_kind));
	}
	if (p->timeout_ms && now - p->last_frame_ns > (uint64_t)p->timeout_ms * 1000000ull) {
		tool_error(TOOL_ERR_TIMEOUT, 0, "no frame for %u ms", p->timeout_ms);
		finish(p, "timeout", true);
		return;
	}
	if (!p->quiet && now >= p->next_status) {
		if (p->next_status)
			status_line(p);
		p->next_status = now + 1000000000ull;
	}
}

static void print_summary(struct pipewire_cmd *p)
{
	struct pipewire_node_stats st;
	struct dmapipe_client_stats cs;
	struct dmapipe_copy_stats copies;
	double elapsed = p->t1 > p->t0 ? (double)(p->t1 - p->t0) * 1e-9 : 0;
	uint64_t dropped;
	bool ok = !p->error;
	char fourcc[16];

	pipewire_node_get_stats(p->node, &st);
	dmapipe_client_get_stats(p->client, &cs);
	dmapipe_get_copy_stats(&copies);
	dmapipe_fourcc_to_string(p->format.fourcc, fourcc, sizeof(fourcc));
	dropped = st.dropped_unlinked + st.dropped_replaced + st.dropped_no_buffer +
		  st.dropped_fence;

	if (p->json) {
		struct json j;

		json_begin_document(&j, p->end && strcmp(p->end, "interrupted") == 0);
		json_string(&j, "end", p->end);
		json_string(&j, "socket", p->socket);
		json_string(&j, "node_name", p->node_opts.name);
		if (p->announced)
			json_u64(&j, "node_id", pipewire_node_get_id(p->node));
		else
			json_null(&j, "node_id");
		json_string(&j, "policy", dmapipe_policy_to_string(p->opts.policy));
		json_u64(&j, "in_flight", p->opts.max_in_flight);
		json_string(&j, "fourcc", p->format.fourcc ? fourcc : NULL);
		json_u64(&j, "width", p->format.width);
		json_u64(&j, "height", p->format.height);
		json_string(&j, "memory", dmapipe_mem_kind_to_string(p->mem_kind));
		json_bool(&j, "dmabuf", p->mem_kind == DMAPIPE_MEM_DMABUF);
		json_begin_array(&j, "planes");
		for (unsigned int i = 0; i < p->layout.n_planes; i++) {
			json_begin_object(&j, NULL);
			json_u64(&j, "object", p->layout.planes[i].object);
			json_u64(&j, "offset", p->layout.planes[i].offset);
			json_u64(&j, "stride", p->layout.planes[i].stride);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_string(&j, "data_type", data_type_name(st.data_type));
		json_bool(&j, "modifier", st.modifier);
		json_bool(&j, "driving", st.driving);
		json_u64(&j, "pipewire_buffers", st.buffers);
		json_u64(&j, "frames_received", st.frames_received);
		json_u64(&j, "frames_to_pipewire", st.frames_queued);
		json_u64(&j, "frames_returned", st.frames_returned);
		json_u64(&j, "frames_dropped", dropped);
		json_u64(&j, "dropped_unlinked", st.dropped_unlinked);
		json_u64(&j, "dropped_replaced", st.dropped_replaced);
		json_u64(&j, "dropped_no_buffer", st.dropped_no_buffer);
		json_u64(&j, "dropped_fence", st.dropped_fence);
		json_u64(&j, "producer_gaps", cs.sequence_gaps);
		json_u64(&j, "leases_held", st.leases);
		json_u64(&j, "leases_max", st.leases_max);
		json_u64(&j, "formats", st.formats);
		json_u64(&j, "renegotiations", st.renegotiations);
		json_u64(&j, "renegotiations_refused", st.renegotiations_refused);
		json_u64(&j, "retriggers", st.retriggers);
		json_u64(&j, "buffers_added", cs.buffers_added);
		json_double(&j, "elapsed_s", elapsed);
		json_double(&j, "fps", elapsed > 0 && st.frames_received > 1 ?
				 (double)(st.frames_received - 1) / elapsed : 0);
		json_u64(&j, "bytes_copied", copies.bytes);
		json_u64(&j, "frames_copied", copies.frames);
		json_end_object(&j);
		json_finish(&j);
		return;
	}
	printf("pipewire: %s (%s)\n", ok ? "ok" : "FAILED", p->end ? p->end : "?");
	printf("  node        %s%s, %s%s\n", p->node_opts.name,
	       st.driving ? " (driving the graph)" : "",
	       data_type_name(st.data_type) ? data_type_name(st.data_type) : "no buffers",
	       st.modifier ? " with modifier" : "");
	if (p->format.fourcc)
		printf("  stream      %s %ux%u, %s\n", fourcc, p->format.width, p->format.height,
		       dmapipe_mem_kind_to_string(p->mem_kind));
	printf("  frames      %llu received, %llu to PipeWire, %llu returned, %llu dropped "
	       "(%llu with no consumer, %llu replaced, %llu without a PipeWire buffer, "
	       "%llu fence not signalled)\n",
	       (unsigned long long)st.frames_received, (unsigned long long)st.frames_queued,
	       (unsigned long long)st.frames_returned, (unsigned long long)dropped,
	       (unsigned long long)st.dropped_unlinked, (unsigned long long)st.dropped_replaced,
	       (unsigned long long)st.dropped_no_buffer, (unsigned long long)st.dropped_fence);
	printf("  negotiation %llu formats, %llu renegotiations (%llu refused)\n",
	       (unsigned long long)st.formats, (unsigned long long)st.renegotiations,
	       (unsigned long long)st.renegotiations_refused);
	printf("  copied      %llu pixel bytes%s\n", (unsigned long long)copies.bytes,
	       copies.bytes ? "" : " (zero-copy)");
}

static int run(struct pipewire_cmd *p)
{
	struct pw_loop *loop;
	struct spa_source *io, *timer;
	struct timespec tick = { 0, 10 * 1000000 };
	int status = 1;

	p->main_loop = pw_main_loop_new(NULL);
	if (!p->main_loop) {
		tool_error(TOOL_OK, errno, "cannot create a PipeWire loop");
		return 1;
	}
	loop = pw_main_loop_get_loop(p->main_loop);
	p->context = pw_context_new(loop, NULL, 0);
	if (!p->context) {
		tool_error(TOOL_OK, errno, "cannot create a PipeWire context");
		goto out_loop;
	}
	p->core = pw_context_connect(p->context, NULL, 0);
	if (!p->core) {
		tool_error(TOOL_ERR_NOT_INSTALLED, 0, "cannot connect to PipeWire: %s (is a "
			   "daemon running for this user? PIPEWIRE_REMOTE, XDG_RUNTIME_DIR)",
			   strerror(errno));
		goto out_context;
	}
	p->opts.path = p->socket;
	p->client = connect_client_wait("pipewire", &p->opts, p->timeout_ms, p->quiet);
	if (!p->client) {
		/* stopped while waiting for the producer: nothing failed */
		status = stop_requested && tool.error == TOOL_OK ? 0 : 1;
		goto out_core;
	}
	p->node = pipewire_node_new(p->core, p->client, &p->node_opts);
	if (!p->node) {
		tool_error(TOOL_OK, errno, "cannot create the node");
		goto out_client;
	}
	io = pw_loop_add_io(loop, dmapipe_client_get_fd(p->client), SPA_IO_IN, false,
			    on_client_io, p);
	timer = pw_loop_add_timer(loop, on_tick, p);
	if (!io || !timer) {
		tool_error(TOOL_OK, errno, "cannot watch the stream");
		goto out_node;
	}
	pw_loop_update_timer(loop, timer, &tick, &tick, false);
	p->last_frame_ns = now_ns();
	/* what arrived with the connection: the format and the buffers */
	on_client_io(p, -1, 0);
	if (!p->end)
		pw_main_loop_run(p->main_loop);
	if (!p->end)
		p->end = stop_requested ? "interrupted" : "loop";
	print_summary(p);
	status = p->error ? 1 : 0;
out_node:
	pipewire_node_free(p->node);
out_client:
	dmapipe_client_free(p->client);
out_core:
	pw_core_disconnect(p->core);
out_context:
	pw_context_destroy(p->context);
out_loop:
	pw_main_loop_destroy(p->main_loop);
	return status;
}

int cmd_pipewire(int argc, char **argv)
{
	struct pipewire_cmd p;
	int status;

	memset(&p, 0, sizeof(p));
	dmapipe_client_options_init(&p.opts);
	p.opts.name = "dmapipe-pipewire";
	/* PipeWire keeps one buffer at the consumer and returns it a cycle later */
	p.opts.max_in_flight = 4;
	p.timeout_ms = 10000;
	p.node_opts.name = "dmapipe";
	p.node_opts.max_renegotiations = 8;
	p.node_opts.fps_den = 1;
	parse_args(&p, argc, argv);
	p.node_opts.verbose = !p.quiet;
	install_stop_signals();
	pw_init(NULL, NULL);
	status = run(&p);
	pw_deinit();
	return status;
}

#else /* !HAVE_PIPEWIRE */

int cmd_pipewire(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(pipewire_usage, stdout);
			fputs("\nThis dmapipe was built without PipeWire support.\n", stdout);
			return 0;
		}
	tool_error(TOOL_ERR_NOT_INSTALLED, 0, "this dmapipe was built without PipeWire support "
		   "(libpipewire-0.3 was not found when it was built; on Debian install "
		   "libpipewire-0.3-dev and rebuild, or configure with -Dpipewire=enabled)");
	return 1;
}

#endif
