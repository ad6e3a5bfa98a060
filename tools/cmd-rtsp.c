/* SPDX-License-Identifier: MIT */
/*
 * dmapipe rtsp, dmapipe srt: serving a stream to the network is the work
 * of GStreamer's RTSP server and SRT elements, which live in a helper
 * program, dmapipe-net (net-*.c, built with -Drtsp when
 * libgstrtspserver-1.0-dev is there, installed in libexecdir/dmapipe).
 * These commands exec it with the same arguments, so that the tool itself
 * never loads GStreamer: every other command stays as light as it was.
 * It is found in this order:
 *
 *   $DMAPIPE_NET                                   (exactly that, or nothing)
 *   <dir of this program>/dmapipe-net              (a build tree)
 *   DMAPIPE_NET_LIBEXECDIR/dmapipe-net             (where meson installs it)
 */
#include <string.h>

#include "dmapipe-tool.h"

static int run_net(const char *cmd, char **argv)
{
	char *args[256];
	int n = 0;

	/* dmapipe-net takes the command as its first argument */
	args[n++] = (char *)"dmapipe-net";
	args[n++] = (char *)cmd;
	for (int i = 1; argv[i] && n < 255; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return exec_helper(cmd, "dmapipe-net", "DMAPIPE_NET", "dmapipe-net",
			   DMAPIPE_NET_LIBEXECDIR,
			   DMAPIPE_HAVE_NET ?
			   "install it with the rest of dmapipe (meson install; on Debian, "
			   "the dmapipe-net package)" :
			   "this dmapipe was built without RTSP and SRT: install "
			   "libgstrtspserver-1.0-dev and build with meson -Drtsp=enabled", args);
}

int cmd_rtsp(int argc, char **argv)
{
	if (argc > 255)
		usage_error("rtsp", "too many arguments");
	return run_net("rtsp", argv);
}

int cmd_srt(int argc, char **argv)
{
	if (argc > 255)
		usage_error("srt", "too many arguments");
	return run_net("srt", argv);
}
