/* SPDX-License-Identifier: MIT */
/*
 * The block device under the storage runs: its request counters
 * (/proc/diskstats) and its request size limit (max_sectors_kb).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "storage.h"

dev_t storage_dev;

bool dev_counts(struct dev_counts *c)
{
	char line[512], name[64];
	unsigned long long v[7];
	unsigned int maj, min;
	bool found = false;
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (!storage_dev)
		return false;
	f = fopen("/proc/diskstats", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, name,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 10 ||
		    makedev(maj, min) != storage_dev)
			continue;
		c->requests[0] = v[0];
		c->sectors[0] = v[2];
		c->requests[1] = v[4];
		c->sectors[1] = v[6];
		found = true;
	}
	fclose(f);
	return found;
}

void dev_delta(struct storage_run *r, const struct dev_counts *before, int w)
{
	struct dev_counts now;

	if (!dev_counts(&now))
		return;
	r->dev_requests = now.requests[w] - before->requests[w];
	r->dev_bytes = (now.sectors[w] - before->sectors[w]) * 512;
}

bool queue_knob(dev_t dev, char *path, size_t len)
{
	char disk[96], part[96];
	const char *knob;

	snprintf(disk, sizeof(disk), "/sys/dev/block/%u:%u/queue/max_sectors_kb", major(dev),
		 minor(dev));
	snprintf(part, sizeof(part), "/sys/dev/block/%u:%u/../queue/max_sectors_kb", major(dev),
		 minor(dev));
	knob = access(disk, F_OK) == 0 ? disk : access(part, F_OK) == 0 ? part : NULL;
	if (!knob)
		return false;
	snprintf(path, len, "%s", knob);
	return true;
}

int read_knob(const char *path, unsigned int *v)
{
	char *text = read_file(path), *end;
	unsigned long n;

	if (!text)
		return -errno;
	errno = 0;
	n = strtoul(text, &end, 10);
	free(text);
	if (errno || end == text || n == 0 || n > UINT_MAX)
		return -EINVAL;
	*v = (unsigned int)n;
	return 0;
}

int write_knob(const char *path, unsigned int v)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%u\n", v);
	if (write(fd, buf, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}
