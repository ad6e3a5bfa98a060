/* SPDX-License-Identifier: MIT */
/*
 * dmapipe: the command-line tool's entry. Subcommand dispatch and
 * --help/--version; the helpers the subcommands share are in dmapipe.c
 * and json.c (the tool_common library, which dmapipe-bench links too).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dmapipe-tool.h"

/* ---- dispatch --------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "serve", cmd_serve, "produce a stream of test-pattern frames on a socket" },
	{ "consume", cmd_consume, "receive, verify and time the frames of a stream" },
	{ "info", cmd_info, "show the library version, allocators and kernel features" },
	{ "record", cmd_record, "record a stream to a file with direct I/O; check or repair recordings" },
	{ "play", cmd_play, "serve a recording as a stream, read with direct I/O into shared buffers" },
	{ "export", cmd_export, "write a recording as y4m, or raw frames with a JSON sidecar" },
	{ "probe", cmd_probe, "show what a recording holds: formats, rate, gaps, damage" },
	{ "encode", cmd_encode, "encode a stream or a capture device with a hardware encoder" },
	{ "run", cmd_run, "wire a capture device to encoders, recorders and other processes" },
	{ "rtsp", cmd_rtsp, "serve a stream over RTSP (H.264 or raw RTP) through gst-rtsp-server" },
	{ "srt", cmd_srt, "serve a stream over SRT to any number of callers (H.264 in MPEG-TS)" },
	{ "display", cmd_display, "show a stream on a screen through KMS, without a copy" },
	{ "stats", cmd_stats, "show a running producer's per-consumer statistics" },
	{ "list", cmd_list, "list the streams served here: format, rate, consumers, producer" },
	{ "formats", cmd_formats, "list the pixel formats, by their DRM, V4L2 and GStreamer names" },
	{ "demo", cmd_demo, "run a producer and consumers and show what crossed" },
	{ "bench", cmd_bench, "measure handoff CPU and latency against memcpy and GStreamer shm" },
	{ "pipewire", cmd_pipewire, "publish a stream as a PipeWire video node, zero-copy" },
};

static void print_usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: dmapipe [--help] [--version] COMMAND [OPTIONS]\n"
		"\n"
		"Zero-copy frame streams between processes (dma-buf, or sealed memfd\n"
		"where the machine has no dma-buf provider).\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"Run 'dmapipe COMMAND --help' for the options of a command. Every command\n"
		"accepts --json for machine-readable output (docs/JSON.md), a failure too.\n"
		"A --socket NAME is a stream in the default directory ($XDG_RUNTIME_DIR/dmapipe,\n"
		"/run/dmapipe for root, else /tmp/dmapipe-UID); without --socket, the stream\n"
		"\"default\"; a path has a /, and @NAME is an abstract socket.\n"
		"\n"
		"Exit status: 0 success (also when interrupted), 1 failure, 2 bad command\n"
		"line, 3 the disk filled up (record).\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name;
	size_t i;
	int c;

	/* '+': stop at the first operand, the subcommand owns the rest */
	while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_usage(stdout);
			return 0;
		case 'V':
			printf("dmapipe %s (libdmapipe %s)\n", DMAPIPE_VERSION, dmapipe_version());
			return 0;
		default:
			usage_getopt_error(NULL, c, argv);
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	name = argv[optind];
	tool_start(NULL, argc - optind, argv + optind);
	if (strcmp(name, "help") == 0) {
		if (optind + 1 < argc) {
			char *sub[] = { argv[optind + 1], (char *)"--help", NULL };

			for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				if (strcmp(commands[i].name, sub[0]) == 0) {
					optind = 0;
					tool.cmd = commands[i].name;
					return tool_finish(commands[i].run(2, sub));
				}
			usage_error(NULL, "unknown command '%s'", sub[0]);
		}
		print_usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0; /* reinitialise getopt for the subcommand */
			tool.cmd = commands[i].name;
			return tool_finish(commands[i].run(sub_argc, sub_argv));
		}
	}
	usage_error(NULL, "unknown command '%s'", name);
}
