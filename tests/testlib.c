/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "testlib.h"

#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

void test_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(TEST_SKIP);
}

void test_pass(const char *name)
{
	printf("ok %s\n", name);
	fflush(stdout);
}

int test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

char *test_make_dir(const char *tag)
{
	const char *base = getenv("DMAPIPE_TEST_DIR");
	char *path;

	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&path, "%s/dmapipe-%s-XXXXXX", base, tag) < 0)
		abort();
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void test_rmdir_all(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool test_require_dmabuf(void)
{
	const char *v = getenv("DMAPIPE_TEST_REQUIRE_DMABUF");

	return v && strcmp(v, "1") == 0;
}
