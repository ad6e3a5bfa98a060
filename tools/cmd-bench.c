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
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmapipe-tool.h"

int cmd_bench(int argc, char **argv)
{
	const char *env = getenv("DMAPIPE_BENCH");
	char built[PATH_MAX], *slash;
	const char *candidates[2];
	unsigned int n = 0;

	(void)argc;
	if (env && *env) {
		/* an explicit choice is not second-guessed by the other places */
		candidates[n++] = env;
	} else {
		snprintf(built, sizeof(built), "%s", self_exe());
		slash = strrchr(built, '/');
		if (slash && (size_t)(slash - built) + sizeof("/../bench/dmapipe-bench") <=
		    sizeof(built)) {
			strcpy(slash, "/../bench/dmapipe-bench");
			candidates[n++] = built;
		}
		candidates[n++] = DMAPIPE_BENCH_LIBEXECDIR "/dmapipe-bench";
	}
	for (unsigned int i = 0; i < n; i++) {
		if (access(candidates[i], X_OK) != 0)
			continue;
		if (setenv("DMAPIPE_TOOL", self_exe(), 1) < 0) {
			fprintf(stderr, "dmapipe bench: %s\n", strerror(errno));
			return 1;
		}
		/* argv[0] was "bench"; the options follow unchanged */
		argv[0] = (char *)candidates[i];
		execv(candidates[i], argv);
		fprintf(stderr, "dmapipe bench: cannot run %s: %s\n", candidates[i],
			strerror(errno));
		return 1;
	}
	fprintf(stderr, "dmapipe bench: dmapipe-bench not found (%s%s%s%s); it is built with "
		"meson -Dbench=enabled and installed with -Dinstall-bench=true\n",
		env && *env ? "DMAPIPE_BENCH=" : "looked for ", candidates[0],
		n > 1 ? " and " : "", n > 1 ? candidates[1] : "");
	return 1;
}
