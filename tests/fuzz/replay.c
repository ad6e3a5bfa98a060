/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The replay driver: runs LLVMFuzzerTestOneInput() over every file named on
 * the command line, or found (one level deep) in directories named there,
 * so a fuzz corpus runs as an ordinary test without a fuzzing engine.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned int n_run;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t cap = 0, len = 0, n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *p;

			cap = cap ? cap * 2 : 4096;
			p = realloc(data, cap);
			if (!p) {
				fclose(f);
				free(data);
				fprintf(stderr, "replay: out of memory\n");
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);

	printf("replay %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	n_run++;
	return 0;
}

static int skip_hidden(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int run_dir(const char *dir)
{
	struct dirent **list;
	int n = scandir(dir, &list, skip_hidden, alphasort);
	int ret = 0;

	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char *path;
		struct stat st;

		if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0) {
			ret = -1;
		} else {
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path) < 0)
				ret = -1;
			free(path);
		}
		free(list[i]);
	}
	free(list);
	return ret;
}

int main(int argc, char **argv)
{
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
		} else if (S_ISDIR(st.st_mode)) {
			failed |= run_dir(argv[i]) < 0;
		} else {
			failed |= run_file(argv[i]) < 0;
		}
	}
	printf("replayed %u inputs\n", n_run);
	if (n_run == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	return failed;
}
