/* SPDX-License-Identifier: MIT */
/* dmapipe list: the streams served in the socket directories, and who serves them. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dmapipe-tool.h"

/* The system service's directory (data/systemd/dmapipe-serve@.service.in). */
#define SERVICE_DIR "/run/dmapipe"
#define MAX_DIRS 8
#define MAX_STREAMS 256

static const char *const list_usage =
	"Usage: dmapipe list [--dir DIR]... [--json]\n"
	"\n"
	"Lists the streams served in the default socket directory (where a bare\n"
	"--socket NAME goes: $XDG_RUNTIME_DIR/dmapipe, /run/dmapipe for root, else\n"
	"/tmp/dmapipe-UID) and in /run/dmapipe, the dmapipe-serve@ service's: each\n"
	"socket's stream name, format, size, rate, consumers and the producer's pid,\n"
	"asked of the producer as dmapipe stats does. A socket nobody listens on is\n"
	"shown as stale (its producer is gone; the next producer there replaces it),\n"
	"one whose producer refuses this user as refused. Names other processes chose\n"
	"are printed with control characters escaped. An abstract socket (@NAME) is\n"
	"in no directory: dmapipe stats --socket @NAME asks it.\n"
	"\n"
	"Options:\n"
	"  -d, --dir DIR       list DIR instead (may be given several times)\n"
	"      --interval MS   the time between the two looks that give the rate\n"
	"                      (default 250, 0: no rate)\n"
	"      --timeout MS    how long one producer may take to answer (default 1000)\n"
	"      --json          JSON on stdout (docs/JSON.md)\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 ok (also with no stream), 1 a directory given with --dir\n"
	"cannot be read, 2 bad command line.\n";

enum {
	OPT_INTERVAL = 256,
	OPT_TIMEOUT,
	OPT_JSON,
};

/* What answered (or did not) on one socket. */
enum stream_state {
	STREAM_LIVE,
	STREAM_STALE,   /* a socket file nobody listens on */
	STREAM_REFUSED, /* the producer or the socket's mode refuses us */
	STREAM_SILENT,  /* no answer in time, or not a dmapipe producer */
};

static const char *const state_names[] = {
	[STREAM_LIVE] = "live",
	[STREAM_STALE] = "stale",
	[STREAM_REFUSED] = "refused",
	[STREAM_SILENT] = "no-answer",
};

struct stream {
	char path[108];
	enum stream_state state;
	struct dmapipe_stream_info info;
	struct dmapipe_server_stats st;
	int consumers;
	double fps;    /* negative: unknown */
	uint64_t when; /* of the first look */
};

struct list {
	const char *dirs[MAX_DIRS];
	unsigned int n_dirs;
	bool dirs_given, json;
	uint32_t interval_ms, timeout_ms;
	struct stream *streams;
	unsigned int n;
};

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct stream *)a)->path, ((const struct stream *)b)->path);
}

/* Asks the producer on @s->path; sets the state from what happened. */
static void look(struct list *l, struct stream *s)
{
	int n = dmapipe_query_stream(s->path, &s->info, &s->st, NULL, 0, (int)l->timeout_ms);

	s->when = now_ns();
	/* a refusal or a stale socket is what the list shows, not a warning */
	tool_log_discard();
	if (n >= 0) {
		s->state = STREAM_LIVE;
		s->consumers = (int)s->st.consumers;
	} else if (n == -ECONNREFUSED) {
		s->state = STREAM_STALE;
	} else if (n == -EACCES || n == -EPERM) {
		s->state = STREAM_REFUSED;
	} else {
		s->state = STREAM_SILENT;
	}
}

/* Adds the sockets of @dir; -errno if it cannot be read. */
static int scan(struct list *l, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d)) && l->n < MAX_STREAMS) {
		struct stream *s = &l->streams[l->n];
		size_t n = strlen(e->d_name);
		struct stat st;
		int len = snprintf(s->path, sizeof(s->path), "%s/%s", dir, e->d_name);

		/* a producer's socket before it listens (lib/stream/socket.c) */
		if (strncmp(e->d_name, ".dmapipe-", 9) == 0 && n > 4 &&
		    strcmp(e->d_name + n - 4, ".tmp") == 0)
			continue;
		if (len < 0 || (size_t)len >= sizeof(s->path) || lstat(s->path, &st) < 0 ||
		    !S_ISSOCK(st.st_mode))
			continue;
		s->fps = -1;
		l->n++;
	}
	closedir(d);
	return 0;
}

static void print_json(const struct list *l)
{
	struct json j;
	char fourcc[16];

	json_begin_document(&j, false);
	json_begin_array(&j, "directories");
	for (unsigned int i = 0; i < l->n_dirs; i++)
		json_string(&j, NULL, l->dirs[i]);
	json_end_array(&j);
	json_begin_array(&j, "streams");
	for (unsigned int i = 0; i < l->n; i++) {
		const struct stream *s = &l->streams[i];
		bool live = s->state == STREAM_LIVE;

		json_begin_object(&j, NULL);
		json_string(&j, "socket", s->path);
		json_string(&j, "state", state_names[s->state]);
		json_string(&j, "stream", live ? s->info.name : NULL);
		json_string(&j, "fourcc", live ? dmapipe_fourcc_to_string(s->st.format.fourcc, fourcc,
									  sizeof(fourcc)) : NULL);
		if (live) {
			json_u64(&j, "width", s->st.format.width);
			json_u64(&j, "height", s->st.format.height);
			if (s->fps >= 0)
				json_double(&j, "fps", s->fps);
			else
				json_null(&j, "fps");
			json_u64(&j, "consumers", (uint64_t)s->consumers);
			json_i64(&j, "pid", s->info.pid);
			json_u64(&j, "uid", s->info.uid);
			json_string(&j, "memory", dmapipe_mem_kind_to_string(s->st.mem_kind));
		} else {
			json_null(&j, "width");
			json_null(&j, "height");
			json_null(&j, "fps");
			json_null(&j, "consumers");
			json_null(&j, "pid");
			json_null(&j, "uid");
			json_null(&j, "memory");
		}
		json_end_object(&j);
	}
	json_end_array(&j);
	json_end_object(&j);
	json_finish(&j);
}

static void print_table(const struct list *l)
{
	char fourcc[16], name[128], format[48], fps[16];

	if (l->n == 0) {
		printf("no streams in");
		for (unsigned int i = 0; i < l->n_dirs; i++)
			printf("%s %s", i ? "," : "", l->dirs[i]);
		printf("\n");
		return;
	}
	printf("%-32s %-9s %-16s %-20s %7s %9s %7s\n", "SOCKET", "STATE", "STREAM", "FORMAT", "FPS",
	       "CONSUMERS", "PID");
	for (unsigned int i = 0; i < l->n; i++) {
		const struct stream *s = &l->streams[i];

		if (s->state != STREAM_LIVE) {
			printf("%-32s %s\n", s->path, state_names[s->state]);
			continue;
		}
		snprintf(format, sizeof(format), "%s %ux%u",
			 dmapipe_fourcc_to_string(s->st.format.fourcc, fourcc, sizeof(fourcc)),
			 s->st.format.width, s->st.format.height);
		if (s->fps >= 0)
			snprintf(fps, sizeof(fps), "%.1f", s->fps);
		else
			snprintf(fps, sizeof(fps), "-");
		printf("%-32s %-9s %-16s %-20s %7s %9d %7d\n", s->path, state_names[s->state],
		       text_escape(s->info.name, name, sizeof(name)), format, fps, s->consumers,
		       s->info.pid);
	}
}

static void parse_args(struct list *l, int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, ":d:h", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (l->n_dirs == MAX_DIRS)
				usage_error("list", "--dir at most %u times", MAX_DIRS);
			l->dirs[l->n_dirs++] = optarg;
			l->dirs_given = true;
			break;
		case OPT_INTERVAL:
			l->interval_ms = opt_u32("list", "--interval", optarg, 0, 60000);
			break;
		case OPT_TIMEOUT:
			l->timeout_ms = opt_u32("list", "--timeout", optarg, 1, 600000);
			break;
		case OPT_JSON:
			l->json = true;
			break;
		case 'h':
			fputs(list_usage, stdout);
			exit(0);
		default:
			usage_getopt_error("list", c, argv);
		}
	}
	usage_no_operands("list", argc, argv);
}

int cmd_list(int argc, char **argv)
{
	static char dir[108];
	struct list l;
	int ret, status = 0;

	memset(&l, 0, sizeof(l));
	l.interval_ms = 250;
	l.timeout_ms = 1000;
	parse_args(&l, argc, argv);
	if (!l.dirs_given) {
		if (dmapipe_socket_default_dir(dir, sizeof(dir)) == 0)
			l.dirs[l.n_dirs++] = dir;
		if (!l.n_dirs || strcmp(dir, SERVICE_DIR) != 0)
			l.dirs[l.n_dirs++] = SERVICE_DIR;
	}
	l.streams = calloc(MAX_STREAMS, sizeof(*l.streams));
	if (!l.streams) {
		tool_error(TOOL_ERR_NO_MEMORY, 0, "out of memory");
		return 1;
	}
	for (unsigned int i = 0; i < l.n_dirs; i++) {
		ret = scan(&l, l.dirs[i]);
		/* a default directory nobody made yet just has no streams */
		if (ret < 0 && (l.dirs_given || ret != -ENOENT)) {
			tool_error(TOOL_OK, ret, "cannot read %s", l.dirs[i]);
			status = 1;
		}
	}
	qsort(l.streams, l.n, sizeof(*l.streams), by_path);

	install_stop_signals();
	for (unsigned int i = 0; i < l.n; i++)
		look(&l, &l.streams[i]);
	/* the rate: frames queued between two looks at every live stream */
	if (l.interval_ms && !stop_requested) {
		struct dmapipe_server_stats st;

		sleep_ms(l.interval_ms);
		for (unsigned int i = 0; i < l.n && !stop_requested; i++) {
			struct stream *s = &l.streams[i];
			uint64_t now;

			if (s->state != STREAM_LIVE ||
			    dmapipe_query_stats(s->path, &st, NULL, 0, (int)l.timeout_ms) < 0)
				continue;
			now = now_ns();
			if (st.frames_queued >= s->st.frames_queued && now > s->when)
				s->fps = (double)(st.frames_queued - s->st.frames_queued) * 1e9 /
					 (double)(now - s->when);
			s->consumers = (int)st.consumers;
		}
		tool_log_discard();
	}
	if (l.json)
		print_json(&l);
	else
		print_table(&l);
	free(l.streams);
	return status;
}
