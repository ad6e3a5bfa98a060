/* SPDX-License-Identifier: MIT */
/*
 * fio, the reference of the storage runs: one job per direction, its
 * figures read from its JSON output (fio-json.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fio-json.h"
#include "storage.h"

void run_fio(const struct storage_opts *o, const char *rw, const char *path, uint64_t bs,
	     unsigned int depth, struct storage_run *r)
{
	char a_name[64], a_rw[32], a_bs[48], a_depth[32], a_size[48], a_file[PATH_MAX + 16];
	char out[PATH_MAX], why[128], *text;
	char *argv[] = { (char *)o->fio, a_name, a_rw, a_bs, a_depth, a_size, a_file,
			 (char *)"--ioengine=io_uring", (char *)"--direct=1",
			 (char *)"--end_fsync=1", (char *)"--output-format=json",
			 (char *)"--group_reporting", NULL };
	struct rusage ru;
	struct sampler sm;
	struct dev_counts dc;
	struct fio_job job;
	int status, ret;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	snprintf(a_name, sizeof(a_name), "--name=dmapipe-%s", rw);
	snprintf(a_rw, sizeof(a_rw), "--rw=%s", rw);
	snprintf(a_bs, sizeof(a_bs), "--bs=%llu", (unsigned long long)bs);
	snprintf(a_depth, sizeof(a_depth), "--iodepth=%u", depth);
	snprintf(a_size, sizeof(a_size), "--size=%llu", (unsigned long long)o->bytes);
	snprintf(a_file, sizeof(a_file), "--filename=%s", path);
	snprintf(out, sizeof(out), "%s/fio-%s.json", o->log_dir, rw);
	/* the page cache the file occupies, while fio runs */
	sampler_start(&sm, path);
	dev_counts(&dc);
	pid = spawn(argv, out, "/dev/null");
	if (pid < 0) {
		sampler_stop(&sm);
		snprintf(r->error, sizeof(r->error), "cannot start fio");
		return;
	}
	wait_child(pid, -1, &status, &ru);
	r->cache_peak = sampler_stop(&sm);
	dev_delta(r, &dc, strcmp(rw, "write") == 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(r->error, sizeof(r->error), "fio failed (%s)",
			 describe_status(status, (char[32]){ 0 }, 32));
		return;
	}
	text = read_file(out);
	if (!text) {
		snprintf(r->error, sizeof(r->error), "cannot read fio's output: %s", strerror(errno));
		return;
	}
	ret = fio_json_read_job(text, rw, &job, why, sizeof(why));
	free(text);
	if (ret < 0) {
		snprintf(r->error, sizeof(r->error), "%s", why);
		return;
	}
	/*
	 * fio's own figures: bytes and runtime of the job (its start-up and
	 * file set-up excluded, as the recorder's are), and the job's CPU as
	 * percentages of that runtime
	 */
	if (job.io_bytes == 0 || job.runtime_ms == 0) {
		snprintf(r->error, sizeof(r->error), "fio's job moved %llu bytes in %llu ms",
			 (unsigned long long)job.io_bytes, (unsigned long long)job.runtime_ms);
		return;
	}
	r->bytes = job.io_bytes;
	r->ok = true;
	r->seconds = (double)job.runtime_ms / 1e3;
	r->mb_s = (double)r->bytes / r->seconds / 1e6;
	r->cpu_ms_per_gb = (job.usr_cpu + job.sys_cpu) / 100.0 * (double)job.runtime_ms /
			   ((double)r->bytes / 1e9);
	r->cache_end = resident_bytes(path);
	if (r->cache_end > r->cache_peak)
		r->cache_peak = r->cache_end;
	r->whole_cpu_ms_per_gb = (double)(timeval_ns(&ru.ru_utime) + timeval_ns(&ru.ru_stime)) /
				 1e6 / ((double)r->bytes / 1e9);
}
