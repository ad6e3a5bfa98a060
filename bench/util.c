/* SPDX-License-Identifier: MIT */
/*
 * Helpers the parts of dmapipe-bench share: the progress log, medians,
 * child processes and their command lines, where programs are.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

void bench_log(const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void sort_doubles(double *v, unsigned int n)
{
	/* insertion: a few values, and a NAN (a run with no time) stays where it is */
	for (unsigned int i = 1; i < n; i++) {
		double x = v[i];
		unsigned int k;

		for (k = i; k > 0 && v[k - 1] > x; k--)
			v[k] = v[k - 1];
		v[k] = x;
	}
}

double median_of(double *v, unsigned int n)
{
	if (n == 0)
		return NAN;
	sort_doubles(v, n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t ru_cpu_ns(const struct rusage *ru)
{
	return timeval_ns(&ru->ru_utime) + timeval_ns(&ru->ru_stime);
}

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

void args_init(struct args *a, const char *program)
{
	a->n = 0;
	a->used = 0;
	args_add(a, program, NULL);
}

static void args_push(struct args *a, char *word)
{
	if (a->n >= ARGS_MAX)
		abort(); /* a programming error in this program */
	a->v[a->n++] = word;
	a->v[a->n] = NULL;
}

void args_add(struct args *a, ...)
{
	va_list ap;
	const char *w;

	va_start(ap, a);
	while ((w = va_arg(ap, const char *)))
		args_push(a, (char *)w);
	va_end(ap);
}

void args_addf(struct args *a, const char *fmt, ...)
{
	size_t room = sizeof(a->text) - a->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(a->text + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		abort(); /* a programming error in this program */
	args_push(a, a->text + a->used);
	a->used += (size_t)n + 1;
}

bool build_dir(char *out, size_t len)
{
	char probe[PATH_MAX];
	char *slash;

	snprintf(out, len, "%s", self_exe());
	/* BUILDDIR/bench/dmapipe-bench: two levels up */
	for (int up = 0; up < 2; up++) {
		slash = strrchr(out, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
	return snprintf(probe, sizeof(probe), "%s/meson-private", out) < (int)sizeof(probe) &&
	       access(probe, F_OK) == 0;
}
