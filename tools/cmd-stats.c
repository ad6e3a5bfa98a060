/* SPDX-License-Identifier: MIT */
/* dmapipe stats: a running producer's counters, per consumer. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe-tool.h"

#define MAX_CONSUMERS 32

static const char *const stats_usage =
	"Usage: dmapipe stats [--socket SOCKET] [--json] [--watch] [--interval MS]\n"
	"\n"
	"Asks the producer on SOCKET for its statistics (a monitor connection: it\n"
	"receives no frames and no fds) and prints the stream and one line per\n"
	"consumer. With --watch the report is redrawn in place on a terminal (one\n"
	"report after the other otherwise) with the rates since the last one, until\n"
	"interrupted or until stdout is closed (dmapipe stats --watch | head).\n"
	"Names other processes chose are printed with control characters escaped.\n"
	"\n"
	"Options:\n"
	"  -s, --socket SOCKET the producer's socket (default: the stream \"default\")\n"
	"                      NAME: a stream in the default directory; a path (with\n"
	"                      a /); @NAME: abstract\n"
	"  -w, --watch         repeat until interrupted, with rates\n"
	"      --interval MS   time between two reports with --watch (default 1000)\n"
	"      --timeout MS    how long to wait for the answer (default 2000)\n"
	"      --json          JSON (docs/JSON.md); with --watch one document per line\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 ok (also when interrupted or when stdout was closed), 1 no\n"
	"producer answered, 2 bad command line.\n";

enum {
	OPT_INTERVAL = 256,
	OPT_TIMEOUT,
	OPT_JSON,
};

/* One report, and what the rates of the next are computed against. */
struct sample {
	struct dmapipe_stream_info info;
	struct dmapipe_server_stats st;
	struct dmapipe_consumer_stats cs[MAX_CONSUMERS];
	int n, shown;
	uint64_t when;
};

static const char *state_name(uint32_t state)
{
	switch (state) {
	case DMAPIPE_CONSUMER_HANDSHAKE:
		return "handshake";
	case DMAPIPE_CONSUMER_STREAMING:
		return "streaming";
	case DMAPIPE_CONSUMER_CLOSING:
		return "closing";
	}
	return "unknown";
}

/* Frames per second of @now's counter against @prev's, or a negative number if unknown. */
static double rate(uint64_t now, uint64_t prev, const struct sample *cur,
		   const struct sample *last)
{
	if (!last || cur->when <= last->when || now < prev)
		return -1;
	return (double)(now - prev) * 1e9 / (double)(cur->when - last->when);
}

/* The same consumer in the last sample (ids are unique per server), or NULL. */
static const struct dmapipe_consumer_stats *previous(const struct sample *last, uint32_t id)
{
	if (!last)
		return NULL;
	for (int i = 0; i < last->shown; i++)
		if (last->cs[i].id == id)
			return &last->cs[i];
	return NULL;
}

static void json_rate(struct json *j, const char *key, double fps)
{
	if (fps < 0)
		json_null(j, key);
	else
		json_double(j, key, fps);
}

static void print_json(const char *socket, const struct sample *cur, const struct sample *last,
		       bool compact)
{
	const struct dmapipe_server_stats *st = &cur->st;
	char fourcc[16];
	struct json j;

	tool.json_lines = compact;
	json_begin_document(&j, false);
	json_string(&j, "socket", socket);
	json_string(&j, "stream", cur->info.name);
	json_i64(&j, "pid", cur->info.pid);
	json_u64(&j, "uid", cur->info.uid);
	json_string(&j, "fourcc", dmapipe_fourcc_to_string(st->format.fourcc, fourcc,
							   sizeof(fourcc)));
	json_u64(&j, "width", st->format.width);
	json_u64(&j, "height", st->format.height);
	json_string(&j, "allocator", st->allocator);
	json_string(&j, "memory", dmapipe_mem_kind_to_string(st->mem_kind));
	json_bool(&j, "dmabuf", st->mem_kind == DMAPIPE_MEM_DMABUF);
	json_u64(&j, "buffers", st->buffers);
	json_u64(&j, "buffers_free", st->buffers_free);
	json_u64(&j, "frames_queued", st->frames_queued);
	json_rate(&j, "fps", rate(st->frames_queued, last ? last->st.frames_queued : 0, cur, last));
	json_u64(&j, "frames_dropped", st->frames_dropped);
	json_u64(&j, "consumers_total", st->consumers_total);
	json_u64(&j, "consumers_refused", st->consumers_refused);
	json_u64(&j, "lease_timeouts", st->lease_timeouts);
	json_u64(&j, "bytes_copied", st->bytes_copied);
	json_u64(&j, "frames_copied", st->frames_copied);
	json_u64(&j, "consumers_connected", (uint64_t)cur->n);
	json_begin_array(&j, "consumers");
	for (int i = 0; i < cur->shown; i++) {
		const struct dmapipe_consumer_stats *c = &cur->cs[i];
		const struct dmapipe_consumer_stats *p = previous(last, c->id);

		json_begin_object(&j, NULL);
		json_u64(&j, "id", c->id);
		json_i64(&j, "pid", c->pid);
		json_u64(&j, "uid", c->uid);
		json_string(&j, "name", c->name);
		json_string(&j, "state", state_name(c->state));
		json_string(&j, "policy", dmapipe_policy_to_string((enum dmapipe_policy)c->policy));
		json_u64(&j, "queue_depth", c->queue_depth);
		json_u64(&j, "frames_sent", c->frames_sent);
		json_rate(&j, "fps", p ? rate(c->frames_sent, p->frames_sent, cur, last) : -1);
		json_u64(&j, "frames_released", c->frames_released);
		json_u64(&j, "frames_dropped", c->frames_dropped);
		json_u64(&j, "leases_held", c->leases_held);
		json_u64(&j, "queued", c->queued);
		json_double(&j, "oldest_lease_ms", (double)c->oldest_lease_ns / 1e6);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
}

static void print_rate(double fps)
{
	if (fps < 0)
		printf(" %7s", "-");
	else
		printf(" %7.1f", fps);
}

static void print_table(const char *socket, const struct sample *cur, const struct sample *last)
{
	const struct dmapipe_server_stats *st = &cur->st;
	double fps = rate(st->frames_queued, last ? last->st.frames_queued : 0, cur, last);
	char fourcc[16], name[128], alloc[64];

	printf("stream %s on %s, producer pid %d\n", text_escape(cur->info.name, name, sizeof(name)),
	       socket, cur->info.pid);
	printf("  %s %ux%u, %u buffers (%u free), %s, allocator %s\n",
	       dmapipe_fourcc_to_string(st->format.fourcc, fourcc, sizeof(fourcc)),
	       st->format.width, st->format.height, st->buffers, st->buffers_free,
	       dmapipe_mem_kind_to_string(st->mem_kind),
	       text_escape(st->allocator, alloc, sizeof(alloc)));
	printf("  frames: %llu queued", (unsigned long long)st->frames_queued);
	if (fps >= 0)
		printf(" (%.1f fps)", fps);
	printf(", %llu dropped; %llu pixel bytes copied; consumers: %d now, %llu in total, "
	       "%llu refused; %llu lease timeouts\n", (unsigned long long)st->frames_dropped,
	       (unsigned long long)st->bytes_copied, cur->n,
	       (unsigned long long)st->consumers_total,
	       (unsigned long long)st->consumers_refused,
	       (unsigned long long)st->lease_timeouts);
	if (cur->n == 0) {
		printf("no consumers connected\n");
		return;
	}
	printf("%4s %7s %-16s %-9s %-8s %10s %7s %10s %9s %4s %6s %10s\n", "ID", "PID", "NAME",
	       "STATE", "POLICY", "SENT", "FPS", "RELEASED", "DROPPED", "HELD", "QUEUED",
	       "OLDEST");
	for (int i = 0; i < cur->shown; i++) {
		const struct dmapipe_consumer_stats *c = &cur->cs[i];
		const struct dmapipe_consumer_stats *p = previous(last, c->id);
		char policy[16];

		if (c->policy == DMAPIPE_POLICY_LATEST)
			snprintf(policy, sizeof(policy), "latest");
		else
			snprintf(policy, sizeof(policy), "%s:%u",
				 dmapipe_policy_to_string((enum dmapipe_policy)c->policy),
				 c->queue_depth);
		printf("%4u %7d %-16.40s %-9s %-8s %10llu", c->id, c->pid,
		       c->name[0] ? text_escape(c->name, name, sizeof(name)) : "-",
		       state_name(c->state), policy, (unsigned long long)c->frames_sent);
		print_rate(p ? rate(c->frames_sent, p->frames_sent, cur, last) : -1);
		printf(" %10llu %9llu %4u %6u %8.1fms\n", (unsigned long long)c->frames_released,
		       (unsigned long long)c->frames_dropped, c->leases_held, c->queued,
		       (double)c->oldest_lease_ns / 1e6);
	}
	if (cur->shown < cur->n)
		printf("(%d more consumers not shown)\n", cur->n - cur->shown);
}

/* Why the query failed, as one error line. */
static void query_failed(const char *socket, int ret)
{
	char why[256];

	if (ret == -ETIMEDOUT)
		tool_error(TOOL_ERR_TIMEOUT, 0, "the producer on %s did not answer in time", socket);
	else if (ret == -EACCES && tool_log_held())
		tool_error(TOOL_ERR_PERMISSION, 0, "the producer on %s refused", socket);
	else if (ret == -EPROTO)
		tool_error(TOOL_ERR_PRODUCER, 0, "the producer on %s answered something else "
			   "than its statistics", socket);
	else
		tool_error(socket_diagnose(socket, ret, why, sizeof(why)), 0, "%s: %s", socket, why);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* two samples, the current and the last, swapped each report */
	struct sample *samples = calloc(2, sizeof(*samples)), *cur, *last = NULL;
	const char *socket = NULL;
	uint32_t interval = 1000, timeout = 2000;
	bool json = false, watch = false, redraw;
	int c, n, status = 0;

	if (!samples) {
		tool_error(TOOL_ERR_NO_MEMORY, 0, "out of memory");
		return 1;
	}
	while ((c = getopt_long(argc, argv, ":s:wh", options, NULL)) != -1) {
		switch (c) {
		case 's':
			socket = optarg;
			break;
		case 'w':
			watch = true;
			break;
		case OPT_INTERVAL:
			interval = opt_u32("stats", "--interval", optarg, 10, 3600000);
			break;
		case OPT_TIMEOUT:
			timeout = opt_u32("stats", "--timeout", optarg, 1, 600000);
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			fputs(stats_usage, stdout);
			free(samples);
			return 0;
		default:
			usage_getopt_error("stats", c, argv);
		}
	}
	usage_no_operands("stats", argc, argv);
	socket = opt_socket("stats", socket);
	/* a terminal gets the report redrawn in place; a pipe or file every report */
	redraw = watch && !json && isatty(STDOUT_FILENO);

	install_stop_signals();
	for (cur = &samples[0];; cur = cur == &samples[0] ? &samples[1] : &samples[0]) {
		memset(cur, 0, sizeof(*cur));
		n = dmapipe_query_stream(socket, &cur->info, &cur->st, cur->cs, MAX_CONSUMERS,
					 (int)timeout);
		if (n < 0) {
			if (stop_requested)
				break;
			query_failed(socket, n);
			status = 1;
			break;
		}
		cur->when = now_ns();
		cur->n = n;
		cur->shown = n < MAX_CONSUMERS ? n : MAX_CONSUMERS;
		if (redraw)
			fputs("\033[H\033[2J", stdout); /* cursor home, clear the screen */
		if (json)
			print_json(socket, cur, last, watch);
		else
			print_table(socket, cur, last);
		if (watch && !json && !redraw)
			printf("\n");
		/*
		 * SIGPIPE is ignored: a reader that went away (head) shows as
		 * EPIPE here, and is the end the user asked for, not a failure.
		 */
		if (fflush(stdout) != 0 || ferror(stdout)) {
			if (errno != EPIPE) {
				tool_error(TOOL_ERR_IO, errno, "writing the report");
				status = 1;
			}
			break;
		}
		if (!watch || stop_requested)
			break;
		tool_log_flush();
		sleep_ms(interval);
		if (stop_requested)
			break;
		last = cur;
	}
	free(samples);
	return status;
}
