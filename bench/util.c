/* SPDX-License-Identifier: MIT */
/* Helpers the parts of dmapipe-bench share: medians, children, PATH. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

double median_of(double *v, unsigned int n)
{
	unsigned int i, k;

	if (n == 0)
		return NAN;
	for (i = 1; i < n; i++) {
		double x = v[i];

		for (k = i; k > 0 && v[k - 1] > x; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t ru_cpu_ns(const struct rusage *ru)
{
	return timeval_ns(&ru->ru_utime) + timeval_ns(&ru->ru_stime);
}

/* Waits for all children up to @timeout_ms; kills the rest. True if none was killed. */
bool wait_all(struct child *ch, unsigned int n, uint64_t timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ull;
	unsigned int left = 0, i;
	bool ok = true;

	for (i = 0; i < n; i++)
		if (ch[i].pid > 0 && !ch[i].done)
			left++;
	while (left && now_ns() < deadline && !stop_requested) {
		for (i = 0; i < n; i++) {
			if (ch[i].pid <= 0 || ch[i].done)
				continue;
			if (wait_child(ch[i].pid, 0, &ch[i].status, &ch[i].ru)) {
				ch[i].done = true;
				left--;
			}
		}
		if (left)
			sleep_ms(5);
	}
	for (i = 0; i < n; i++) {
		if (ch[i].pid > 0 && !ch[i].done) {
			kill_child(ch[i].pid, 500, &ch[i].status, &ch[i].ru);
			ch[i].done = true;
			ch[i].killed = true;
			ok = false;
		}
	}
	return ok;
}

bool exited_ok(const struct child *c)
{
	return c->pid > 0 && !c->killed && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

bool find_in_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	bool found = false;

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	if (!copy)
		return false;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", name);
		if (access(out, X_OK) == 0) {
			found = true;
			break;
		}
	}
	free(copy);
	return found;
}

void first_line(const char *text, char *out, size_t len)
{
	size_t n = 0;

	while (text && text[n] && text[n] != '\n' && n + 1 < len) {
		out[n] = text[n];
		n++;
	}
	out[n] = '\0';
}
