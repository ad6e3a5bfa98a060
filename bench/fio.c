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
#include "bench.h"

void run_fio(const struct storage_opts *o, const char *rw, const char *path, uint64_t bs,
	     unsigned int depth, struct storage_run *r)
{
	char out[PATH_MAX], why[128], *text;
	struct args a;
	struct rusage ru;
	struct run_watch w;
	struct fio_job job;
	int status, ret;
	pid_t pid;

	args_init(&a, o->fio);
	args_addf(&a, "--name=dmapipe-%s", rw);
	args_addf(&a, "--rw=%s", rw);
	args_addf(&a, "--bs=%llu", (unsigned long long)bs);
	args_addf(&a, "--iodepth=%u", depth);
	args_addf(&a, "--size=%llu", (unsigned long long)o->bytes);
	args_addf(&a, "--filename=%s", path);
	args_add(&a, "--ioengine=io_uring", "--direct=1", "--end_fsync=1", "--output-format=json",
		 "--group_reporting", NULL);
	snprintf(out, sizeof(out), "%s/fio-%s.json", o->log_dir, rw);
	/* the page cache the file occupies, while fio runs */
	watch_start(&w, r, path, strcmp(rw, "write") == 0);
	pid = spawn(a.v, out, "/dev/null");
	if (pid < 0) {
		watch_fail(&w, r, "cannot start fio");
		return;
	}
	wait_child(pid, -1, &status, &ru);
	watch_end(&w, r);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		watch_fail(&w, r, "fio failed (%s)", describe_status(status, (char[32]){ 0 }, 32));
		return;
	}
	text = read_file(out);
	if (!text) {
		watch_fail(&w, r, "cannot read fio's output: %s", strerror(errno));
		return;
	}
	ret = fio_json_read_job(text, rw, &job, why, sizeof(why));
	free(text);
	if (ret < 0) {
		watch_fail(&w, r, "%s", why);
		return;
	}
	/*
	 * fio's own figures: bytes and runtime of the job (its start-up and
	 * file set-up excluded, as the recorder's are), and the job's CPU as
	 * percentages of that runtime
	 */
	if (job.io_bytes == 0 || job.runtime_ms == 0) {
		watch_fail(&w, r, "fio's job moved %llu bytes in %llu ms",
			   (unsigned long long)job.io_bytes, (unsigned long long)job.runtime_ms);
		return;
	}
	r->bytes = job.io_bytes;
	r->lat_p50_ns = job.clat_p50_ns;
	r->lat_p99_ns = job.clat_p99_ns;
	r->lat_max_ns = job.clat_max_ns;
	r->ok = true;
	r->seconds = (double)job.runtime_ms / 1e3;
	r->mb_s = (double)r->bytes / r->seconds / 1e6;
	r->cpu_ms_per_gb = (job.usr_cpu + job.sys_cpu) / 100.0 * (double)job.runtime_ms /
			   ((double)r->bytes / 1e9);
	watch_cache(&w, r, path);
	r->whole_cpu_ms_per_gb = (double)ru_cpu_ns(&ru) / 1e6 / ((double)r->bytes / 1e9);
}
