/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fuzz targets' assertion: a message naming the line, then abort(),
 * which libFuzzer and the corpus replays both report as a crash.
 */
#ifndef DMAPIPE_FUZZ_ASSERT_H
#define DMAPIPE_FUZZ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define fuzz_assert(cond)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", __FILE__, \
				__LINE__, #cond);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

#endif /* DMAPIPE_FUZZ_ASSERT_H */
