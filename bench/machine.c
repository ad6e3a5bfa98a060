/* SPDX-License-Identifier: MIT */
/* The machine the report describes: CPU, caches, kernel, allocator, load. */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static uint64_t llc_size(void)
{
	uint64_t best = 0;
	int i;

	for (i = 0; i < 8; i++) {
		char path[128], *text, *end;
		uint64_t v;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		text = read_file(path);
		if (!text)
			continue;
		v = strtoull(text, &end, 10);
		if (*end == 'K')
			v <<= 10;
		else if (*end == 'M')
			v <<= 20;
		free(text);
		if (v > best)
			best = v;
	}
	return best ? best : 32ull << 20;
}

void read_load(char *out, size_t len)
{
	char *text = read_file("/proc/loadavg");
	unsigned int i, spaces = 0;

	snprintf(out, len, "unknown");
	if (!text)
		return;
	/* the three averages */
	for (i = 0; text[i] && i + 1 < len; i++) {
		if (text[i] == ' ' && ++spaces == 3)
			break;
		out[i] = text[i];
	}
	out[i] = '\0';
	free(text);
}

void describe_machine(struct bench *b)
{
	struct machine *m = &b->m;
	struct dmapipe_allocator *alloc;
	struct utsname uts;
	char *cpuinfo = read_file("/proc/cpuinfo");
	time_t t = time(NULL);
	struct tm tm;

	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if (cpuinfo) {
		char *p = strstr(cpuinfo, "model name");

		if (p && (p = strchr(p, ':'))) {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			first_line(p, m->cpu, sizeof(m->cpu));
		}
		free(cpuinfo);
	}
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&uts) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%.80s %.32s", uts.release, uts.machine);
	m->llc = llc_size();
	read_load(m->load_start, sizeof(m->load_start));
	gmtime_r(&t, &tm);
	strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M UTC", &tm);

	alloc = b->o.allocator ? dmapipe_allocator_new(b->o.allocator) :
				 dmapipe_allocator_new_default();
	if (alloc) {
		snprintf(m->allocator, sizeof(m->allocator), "%s",
			 dmapipe_allocator_get_name(alloc));
		snprintf(m->memory, sizeof(m->memory), "%s",
			 dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(alloc)));
		m->dmabuf = dmapipe_allocator_get_mem_kind(alloc) == DMAPIPE_MEM_DMABUF;
		dmapipe_allocator_unref(alloc);
	} else {
		snprintf(m->allocator, sizeof(m->allocator), "none");
		snprintf(m->memory, sizeof(m->memory), "none");
	}
	snprintf(m->dev_summary, sizeof(m->dev_summary), "/dev/dma_heap: %s, /dev/udmabuf: %s, "
		 "/dev/dri: %s",
		 access("/dev/dma_heap", F_OK) == 0 ? "present" : "absent",
		 access("/dev/udmabuf", F_OK) == 0 ? "present" : "absent",
		 access("/dev/dri", F_OK) == 0 ? "present" : "absent");
}
