/* SPDX-License-Identifier: MIT */
/*
 * dmapipe bench: the benchmark is a program of its own, dmapipe-bench
 * (bench/, built with -Dbench, not installed unless -Dinstall-bench=true),
 * so that the tool users install does not carry it. This command runs it
 * with the same arguments, found in this order:
 *
 *   $DMAPIPE_BENCH                                 (exactly that, or nothing)
 *   <dir of this program>/../bench/dmapipe-bench   (a build tree)
 *   DMAPIPE_BENCH_LIBEXECDIR/dmapipe-bench         (where meson installs it)
 *
 * and it learns which dmapipe runs its serve and consume processes from
 * $DMAPIPE_TOOL, set here to this program.
 */
#include "dmapipe-tool.h"

int cmd_bench(int argc, char **argv)
{
	(void)argc;
	return exec_helper("bench", "dmapipe-bench", "DMAPIPE_BENCH", "../bench/dmapipe-bench",
			   DMAPIPE_BENCH_LIBEXECDIR,
			   "it is built with meson -Dbench=enabled and installed with "
			   "-Dinstall-bench=true", argv);
}
