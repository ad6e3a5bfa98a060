/* SPDX-License-Identifier: MIT */
/*
 * How much of a file is in the page cache, and a sampler process that
 * watches it while a storage run goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage.h"

#define SAMPLE_MS 100

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every architecture (Linux 6.5) */
#endif

/* Bytes of the file @fd in the page cache, by mincore() over a mapping of it. */
static uint64_t resident_bytes_mincore(int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	uint64_t n = 0;
	unsigned char *vec;
	size_t pages;
	void *map;

	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return 0;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return 0;
	pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
	vec = malloc(pages);
	if (vec && mincore(map, (size_t)st.st_size, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
	free(vec);
	munmap(map, (size_t)st.st_size);
	return n * (uint64_t)page;
}

/*
 * Bytes of @path in the page cache now; 0 if it cannot be told. cachestat()
 * costs microseconds; the mincore() fallback (kernels before 6.5) some 20 ms
 * on a 2 GB file, which is why sampling runs in its own process.
 */
uint64_t resident_bytes(const char *path)
{
	static bool no_cachestat;
	struct { uint64_t off, len; } range = { 0, 0 };
	struct {
		uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
	} cs;
	uint64_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!no_cachestat && syscall(__NR_cachestat, fd, &range, &cs, 0) == 0) {
		close(fd);
		return cs.nr_cache * (uint64_t)sysconf(_SC_PAGESIZE);
	}
	no_cachestat = true;
	n = resident_bytes_mincore(fd);
	close(fd);
	return n;
}

void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

static void sampler_child(const char *path, int stop_fd, int result_fd)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	uint64_t peak = 0, res;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	for (;;) {
		int n = poll(&pfd, 1, SAMPLE_MS);

		res = resident_bytes(path);
		if (res > peak)
			peak = res;
		if (n != 0 && !(n < 0 && errno == EINTR))
			break; /* the parent closed its end (or went away) */
	}
	if (write(result_fd, &peak, sizeof(peak)) != (ssize_t)sizeof(peak))
		_exit(1);
	_exit(0);
}

void sampler_start(struct sampler *s, const char *path)
{
	int stop[2], result[2];

	s->pid = -1;
	s->stop_fd = s->result_fd = -1;
	if (pipe2(stop, O_CLOEXEC) < 0)
		return;
	if (pipe2(result, O_CLOEXEC) < 0) {
		close(stop[0]);
		close(stop[1]);
		return;
	}
	s->pid = fork();
	if (s->pid == 0) {
		close(stop[1]);
		close(result[0]);
		sampler_child(path, stop[0], result[1]);
	}
	close(stop[0]);
	close(result[1]);
	if (s->pid < 0) {
		close(stop[1]);
		close(result[0]);
		return;
	}
	s->stop_fd = stop[1];
	s->result_fd = result[0];
}

uint64_t sampler_stop(struct sampler *s)
{
	uint64_t peak = 0;
	ssize_t n;

	if (s->pid < 0)
		return 0;
	close(s->stop_fd);
	do
		n = read(s->result_fd, &peak, sizeof(peak));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(peak))
		peak = 0;
	close(s->result_fd);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
	s->pid = -1;
	return peak;
}
