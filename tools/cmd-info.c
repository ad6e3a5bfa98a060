/* SPDX-License-Identifier: MIT */
/* dmapipe info: what this machine offers. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../kernel/uapi/dmapipe.h"
#include "dmapipe-tool.h"

#define MAX_ALLOCATORS 16

static const char *const info_usage =
	"Usage: dmapipe info [--json]\n"
	"\n"
	"Shows the library version, every allocator with whether it works on this\n"
	"machine (and why not), whether its buffers are dma-bufs, and the kernel\n"
	"interfaces present.\n"
	"\n"
	"Options:\n"
	"  --json     machine-readable output\n"
	"  -h, --help this text\n";

struct feature {
	const char *name;    /* JSON key */
	const char *pattern; /* glob */
	const char *what;
};

static const struct feature features[] = {
	{ "dma_heap", "/dev/dma_heap/*", "dma-heap allocator" },
	{ "udmabuf", "/dev/udmabuf", "memfd to dma-buf" },
	{ "dri", "/dev/dri/*", "DRM devices (PRIME export)" },
	{ "video", "/dev/video*", "V4L2 devices" },
	{ "dmapipe", "/dev/dmapipe", "dmapipe kernel module" },
};

/* dmapipe.ko through its GET_INFO ioctl (kernel/uapi/dmapipe.h); j NULL: text. */
static void show_kmod(struct json *j)
{
	static const char *const names[] = { "alloc", "coherent", "page-mmap", "sync-range",
					     "file-io", "kernel-api" };
	struct dmapipe_info info = { 0 };
	int fd = open("/dev/dmapipe", O_RDWR | O_CLOEXEC), err = 0;

	if (fd < 0 || ioctl(fd, DMAPIPE_IOCTL_GET_INFO, &info) < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err) {
		if (j)
			json_null(j, "dmapipe_module");
		else
			printf("\ndmapipe.ko: %s\n", err == ENOENT ? "not loaded" : strerror(err));
		return;
	}
	if (j) {
		json_begin_object(j, "dmapipe_module");
		json_u64(j, "abi_version", info.abi_version);
		json_begin_array(j, "features");
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (info.features & (1ull << i))
				json_string(j, NULL, names[i]);
		json_end_array(j);
		json_u64(j, "buffers", info.buffers);
		json_u64(j, "bytes_in_use", info.bytes_in_use);
		json_u64(j, "max_buffers", info.max_buffers);
		json_u64(j, "max_buffer_bytes", info.max_buffer_bytes);
		json_u64(j, "max_total_bytes", info.max_total_bytes);
		json_end_object(j);
		return;
	}
	printf("\ndmapipe.ko: ABI %u, features:", info.abi_version);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (info.features & (1ull << i))
			printf(" %s", names[i]);
	printf("\n  %u buffers, %llu bytes in use; limits (0: none): %u buffers, "
	       "%llu MiB each, %llu MiB in all\n", info.buffers,
	       (unsigned long long)info.bytes_in_use, info.max_buffers,
	       (unsigned long long)(info.max_buffer_bytes >> 20),
	       (unsigned long long)(info.max_total_bytes >> 20));
}

int cmd_info(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dmapipe_allocator_info infos[MAX_ALLOCATORS];
	struct dmapipe_allocator *def;
	const char *def_name = NULL;
	struct utsname uts;
	bool json = false;
	struct json j;
	int c, n, i;
	size_t f, k;

	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(info_usage, stdout);
			return 0;
		default:
			usage_getopt_error("info", c, argv);
		}
	}
	usage_no_operands("info", argc, argv);

	/* the fallback warning of the default allocator is what this command reports */
	dmapipe_log_set_priority(DMAPIPE_LOG_ERROR);
	n = dmapipe_allocator_probe_all(infos, MAX_ALLOCATORS);
	if (n < 0) {
		fprintf(stderr, "dmapipe info: probing allocators failed: %s\n", strerror(-n));
		return 1;
	}
	if (n > MAX_ALLOCATORS)
		n = MAX_ALLOCATORS;
	def = dmapipe_allocator_new_default();
	if (def)
		def_name = dmapipe_allocator_get_name(def);
	if (uname(&uts) < 0)
		memset(&uts, 0, sizeof(uts));

	if (json) {
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "version", dmapipe_version());
		json_string(&j, "kernel", uts.release);
		json_string(&j, "machine", uts.machine);
		json_string(&j, "default_allocator", def_name);
		json_begin_array(&j, "allocators");
		for (i = 0; i < n; i++) {
			json_begin_object(&j, NULL);
			json_string(&j, "name", infos[i].name);
			json_string(&j, "description", infos[i].description);
			json_bool(&j, "available", infos[i].available);
			json_string(&j, "reason", infos[i].available ? NULL :
				    strerror(infos[i].error));
			json_string(&j, "memory", dmapipe_mem_kind_to_string(infos[i].kind));
			json_bool(&j, "dmabuf", infos[i].kind == DMAPIPE_MEM_DMABUF);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_begin_object(&j, "kernel_features");
	} else {
		printf("libdmapipe %s\n", dmapipe_version());
		printf("kernel %s %s\n\n", uts.release, uts.machine);
		printf("allocators (probe order):\n");
		for (i = 0; i < n; i++) {
			printf("  %-8s %-13s %-22s %s%s%s\n", infos[i].name,
			       infos[i].available ? "available" : "unavailable",
			       dmapipe_mem_kind_to_string(infos[i].kind),
			       infos[i].description ? infos[i].description : "",
			       infos[i].available ? "" : ": ",
			       infos[i].available ? "" : strerror(infos[i].error));
		}
		if (def)
			printf("default: %s, %s\n", def_name,
			       dmapipe_mem_kind_to_string(dmapipe_allocator_get_mem_kind(def)));
		else
			printf("default: none works here\n");
		if (def && dmapipe_allocator_get_mem_kind(def) != DMAPIPE_MEM_DMABUF)
			printf("note: no dma-buf provider on this machine; frames are shared as "
			       "sealed memfds (zero-copy between processes, but devices cannot "
			       "DMA from them)\n");
		printf("\nkernel features:\n");
	}

	for (f = 0; f < sizeof(features) / sizeof(features[0]); f++) {
		glob_t g;
		int r = glob(features[f].pattern, 0, NULL, &g);

		if (r != 0)
			g.gl_pathc = 0;
		if (json) {
			json_begin_array(&j, features[f].name);
			for (k = 0; k < g.gl_pathc; k++)
				json_string(&j, NULL, g.gl_pathv[k]);
			json_end_array(&j);
		} else {
			printf("  %-32s ", features[f].what);
			if (g.gl_pathc == 0)
				printf("absent (%s)", features[f].pattern);
			for (k = 0; k < g.gl_pathc; k++)
				printf("%s%s", k ? " " : "", g.gl_pathv[k]);
			printf("\n");
		}
		if (r == 0)
			globfree(&g);
	}
	if (json)
		json_end_object(&j);
	show_kmod(json ? &j : NULL);
	if (json)
		json_finish(&j);
	dmapipe_allocator_unref(def);
	return 0;
}
