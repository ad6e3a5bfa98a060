/* SPDX-License-Identifier: MIT */
/* dmapipe stats: a running producer's counters, per consumer. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "dmapipe-tool.h"

#define MAX_CONSUMERS 32

static const char *const stats_usage =
	"Usage: dmapipe stats --socket PATH [--json] [--watch] [--interval MS]\n"
	"\n"
	"Asks the producer on PATH for its statistics (a monitor connection: it\n"
	"receives no frames and no fds) and prints the stream and one line per\n"
	"consumer.\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH   the producer's socket (or @name)\n"
	"  -w, --watch         repeat until interrupted\n"
	"      --interval MS   time between two reports with --watch (default 1000)\n"
	"      --timeout MS    how long to wait for the answer (default 2000)\n"
	"      --json          JSON; with --watch one document per line\n"
	"  -h, --help          this text\n";

enum {
	OPT_INTERVAL = 256,
	OPT_TIMEOUT,
	OPT_JSON,
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

static void print_json(const struct dmapipe_server_stats *st,
		       const struct dmapipe_consumer_stats *cs, int n, int shown, bool compact)
{
	char fourcc[16];
	struct json j;
	int i;

	json_init(&j, stdout);
	j.compact = compact;
	json_begin_object(&j, NULL);
	json_string(&j, "command", "stats");
	json_string(&j, "format", dmapipe_fourcc_to_string(st->format.fourcc, fourcc,
							   sizeof(fourcc)));
	json_u64(&j, "width", st->format.width);
	json_u64(&j, "height", st->format.height);
	json_string(&j, "allocator", st->allocator);
	json_string(&j, "memory", dmapipe_mem_kind_to_string(st->mem_kind));
	json_bool(&j, "dmabuf", st->mem_kind == DMAPIPE_MEM_DMABUF);
	json_u64(&j, "buffers", st->buffers);
	json_u64(&j, "buffers_free", st->buffers_free);
	json_u64(&j, "frames_queued", st->frames_queued);
	json_u64(&j, "frames_dropped", st->frames_dropped);
	json_u64(&j, "consumers_total", st->consumers_total);
	json_u64(&j, "consumers_refused", st->consumers_refused);
	json_u64(&j, "lease_timeouts", st->lease_timeouts);
	json_u64(&j, "bytes_copied", st->bytes_copied);
	json_u64(&j, "frames_copied", st->frames_copied);
	json_u64(&j, "consumers_connected", (uint64_t)n);
	json_begin_array(&j, "consumers");
	for (i = 0; i < shown; i++) {
		json_begin_object(&j, NULL);
		json_u64(&j, "id", cs[i].id);
		json_i64(&j, "pid", cs[i].pid);
		json_u64(&j, "uid", cs[i].uid);
		json_string(&j, "name", cs[i].name);
		json_string(&j, "state", state_name(cs[i].state));
		json_string(&j, "policy", dmapipe_policy_to_string((enum dmapipe_policy)cs[i].policy));
		json_u64(&j, "queue_depth", cs[i].queue_depth);
		json_u64(&j, "frames_sent", cs[i].frames_sent);
		json_u64(&j, "frames_released", cs[i].frames_released);
		json_u64(&j, "frames_dropped", cs[i].frames_dropped);
		json_u64(&j, "leases_held", cs[i].leases_held);
		json_u64(&j, "queued", cs[i].queued);
		json_double(&j, "oldest_lease_ms", (double)cs[i].oldest_lease_ns / 1e6);
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
}

static void print_table(const struct dmapipe_server_stats *st,
			const struct dmapipe_consumer_stats *cs, int n, int shown)
{
	char fourcc[16];
	int i;

	printf("stream: %s %ux%u, %u buffers (%u free), %s, allocator %s\n",
	       dmapipe_fourcc_to_string(st->format.fourcc, fourcc, sizeof(fourcc)),
	       st->format.width, st->format.height, st->buffers, st->buffers_free,
	       dmapipe_mem_kind_to_string(st->mem_kind), st->allocator);
	printf("frames: %llu queued, %llu dropped; %llu pixel bytes copied; "
	       "consumers: %d now, %llu in total, %llu refused; %llu lease timeouts\n",
	       (unsigned long long)st->frames_queued, (unsigned long long)st->frames_dropped,
	       (unsigned long long)st->bytes_copied, n,
	       (unsigned long long)st->consumers_total,
	       (unsigned long long)st->consumers_refused,
	       (unsigned long long)st->lease_timeouts);
	if (n == 0) {
		printf("no consumers connected\n");
		return;
	}
	printf("%4s %7s %-16s %-9s %-8s %10s %10s %9s %4s %6s %10s\n", "ID", "PID", "NAME",
	       "STATE", "POLICY", "SENT", "RELEASED", "DROPPED", "HELD", "QUEUED", "OLDEST");
	for (i = 0; i < shown; i++) {
		char policy[16];

		if (cs[i].policy == DMAPIPE_POLICY_LATEST)
			snprintf(policy, sizeof(policy), "latest");
		else
			snprintf(policy, sizeof(policy), "%s:%u",
				 dmapipe_policy_to_string((enum dmapipe_policy)cs[i].policy),
				 cs[i].queue_depth);
		printf("%4u %7d %-16.31s %-9s %-8s %10llu %10llu %9llu %4u %6u %8.1fms\n",
		       cs[i].id, cs[i].pid, cs[i].name[0] ? cs[i].name : "-",
		       state_name(cs[i].state), policy,
		       (unsigned long long)cs[i].frames_sent,
		       (unsigned long long)cs[i].frames_released,
		       (unsigned long long)cs[i].frames_dropped, cs[i].leases_held, cs[i].queued,
		       (double)cs[i].oldest_lease_ns / 1e6);
	}
	if (shown < n)
		printf("(%d more consumers not shown)\n", n - shown);
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
	struct dmapipe_consumer_stats cs[MAX_CONSUMERS];
	struct dmapipe_server_stats st;
	const char *socket = NULL;
	uint32_t interval = 1000, timeout = 2000;
	bool json = false, watch = false;
	int c, n;

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
			return 0;
		default:
			usage_getopt_error("stats", c, argv);
		}
	}
	usage_no_operands("stats", argc, argv);
	if (!socket)
		usage_error("stats", "--socket PATH is required");

	install_stop_signals();
	do {
		memset(&st, 0, sizeof(st));
		n = dmapipe_query_stats(socket, &st, cs, MAX_CONSUMERS, (int)timeout);
		if (n < 0) {
			fprintf(stderr, "dmapipe stats: %s: %s\n", socket, strerror(-n));
			return 1;
		}
		if (json)
			print_json(&st, cs, n, n < MAX_CONSUMERS ? n : MAX_CONSUMERS, watch);
		else
			print_table(&st, cs, n, n < MAX_CONSUMERS ? n : MAX_CONSUMERS);
		fflush(stdout);
		if (watch && !stop_requested) {
			if (!json)
				printf("\n");
			sleep_ms(interval);
		}
	} while (watch && !stop_requested);
	return 0;
}
