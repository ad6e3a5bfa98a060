/* SPDX-License-Identifier: MIT */
/*
 * The output files of record, export and encode (output.h has the rules):
 * only regular files are ever replaced or removed, a new file replaces an
 * old one by rename() once it holds something, "-" is stdout, and a failed
 * run removes its own temporary file only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmapipe-tool.h"
#include "output.h"
#include "realtime.h"

__attribute__((format(printf, 3, 4)))
static int fail(const struct output *o, int err, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	(void)o;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	tool_error(tool_error_from_errno(err), 0, "%s", text);
	return -err;
}

static int fail_errno(const struct output *o, int err, const char *doing, const char *what)
{
	(void)o;
	tool_error(TOOL_OK, err, "%s %s", doing, what);
	return -err;
}

static int open_stdout(struct output *o)
{
	struct stat st;
	int fl = fcntl(STDOUT_FILENO, F_GETFL);

	if (fl < 0 || fstat(STDOUT_FILENO, &st) < 0)
		return fail(o, EBADF, "-o -: stdout is closed");
	if ((fl & O_ACCMODE) == O_RDONLY)
		return fail(o, EBADF, "-o -: stdout is not open for writing");
	if (o->flags & OUTPUT_SEEKABLE) {
		if (!S_ISREG(st.st_mode))
			return fail(o, EINVAL, "-o -: stdout is not a regular file: a recording "
				    "is written at offsets, so it needs one (redirect stdout to "
				    "a file, or give -o FILE)");
		if (fl & O_APPEND)
			return fail(o, EINVAL, "-o -: stdout is open for appending (>>): a "
				    "recording is written at offsets (redirect with >, or give "
				    "-o FILE)");
	}
	o->fd = STDOUT_FILENO;
	o->kind = OUTPUT_STDOUT;
	o->published = true;
	return 0;
}

/* @st (followed through links) is not a regular file: written into, or refused. */
static int open_special(struct output *o, const struct stat *st)
{
	const char *what = S_ISCHR(st->st_mode) ? "a character device" :
			   S_ISFIFO(st->st_mode) ? "a FIFO" : S_ISBLK(st->st_mode) ?
			   "a block device" : S_ISDIR(st->st_mode) ? "a directory" :
			   S_ISSOCK(st->st_mode) ? "a socket" : "not a regular file";

	if (S_ISBLK(st->st_mode)) {
		return fail(o, EINVAL, "%s is a block device: writing into it would overwrite the "
			    "disk; refused", o->name);
	}
	if (S_ISDIR(st->st_mode)) {
		return fail(o, EISDIR, "%s is a directory", o->name);
	}
	if (!S_ISCHR(st->st_mode) && !S_ISFIFO(st->st_mode)) {
		return fail(o, EINVAL, "%s is %s: refused", o->name, what);
	}
	if (o->flags & OUTPUT_SEEKABLE) {
		return fail(o, EINVAL, "%s is %s: a recording needs a regular file; nothing was "
			    "written to it", o->name, what);
	}
	/* written into like a shell redirection would, and never replaced */
	o->fd = open(o->name, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (o->fd < 0)
		return fail_errno(o, errno, "cannot write into", o->name);
	o->kind = OUTPUT_INTO;
	o->published = true;
	return 0;
}

int output_open(struct output *o, const char *cmd, const char *name, unsigned int flags)
{
	size_t n;
	mode_t mask;
	struct stat st;
	bool exists = true;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->cmd = cmd;
	o->name = name;
	o->flags = flags;
	if (strcmp(name, "-") == 0)
		return open_stdout(o);
	if (lstat(name, &st) < 0) {
		if (errno != ENOENT)
			return fail_errno(o, errno, "cannot use", name);
		exists = false;
		o->target = strdup(name);
	} else if (S_ISLNK(st.st_mode)) {
		if (stat(name, &st) < 0)
			return fail_errno(o, errno, "cannot follow the link", name);
		if (!S_ISREG(st.st_mode))
			return open_special(o, &st);
		/* the file the link names is replaced; the link stays a link */
		o->target = realpath(name, NULL);
		if (!o->target)
			return fail_errno(o, errno, "cannot follow the link", name);
	} else if (S_ISREG(st.st_mode)) {
		o->target = strdup(name);
	} else {
		return open_special(o, &st);
	}
	if (!o->target)
		return fail(o, ENOMEM, "%s: out of memory", name);
	if (exists && !(flags & OUTPUT_FORCE)) {
		fail(o, EEXIST, "%s exists (--force replaces it)", name);
		free(o->target);
		o->target = NULL;
		return -EEXIST;
	}
	n = strlen(o->target) + sizeof(".partial-XXXXXX");
	o->temp = malloc(n);
	if (!o->temp) {
		free(o->target);
		o->target = NULL;
		return fail(o, ENOMEM, "%s: out of memory", name);
	}
	snprintf(o->temp, n, "%s.partial-XXXXXX", o->target);
	o->fd = mkostemp(o->temp, O_CLOEXEC);
	if (o->fd < 0) {
		int err = errno;

		fail_errno(o, err, "cannot create a file next to", o->target);
		free(o->temp);
		free(o->target);
		o->temp = o->target = NULL;
		return -err;
	}
	/* mkostemp() makes it 0600: the mode a plain creat(0644) gives */
	mask = umask(0);
	umask(mask);
	(void)fchmod(o->fd, 0644 & ~mask);
	o->kind = OUTPUT_REPLACE;
	return 0;
}

int output_publish(struct output *o)
{
	struct stat st;
	int err;

	if (o->kind != OUTPUT_REPLACE || o->published)
		return 0;
	if (o->flags & OUTPUT_FORCE) {
		/* only a regular file is replaced, even if it changed since output_open() */
		if (lstat(o->target, &st) == 0 && !S_ISREG(st.st_mode)) {
			return fail(o, EEXIST, "%s is no longer a regular file: not replaced",
				    o->target);
		}
		if (rename(o->temp, o->target) < 0)
			return fail_errno(o, errno, "cannot rename the output to", o->target);
	} else if (renameat2(AT_FDCWD, o->temp, AT_FDCWD, o->target, RENAME_NOREPLACE) < 0) {
		err = errno;
		/* a file system without RENAME_NOREPLACE: link() does not replace either */
		if (err == EINVAL || err == ENOSYS) {
			err = link(o->temp, o->target) < 0 ? errno : 0;
			if (err == 0)
				unlink(o->temp);
		}
		if (err == EEXIST) {
			return fail(o, EEXIST, "%s appeared meanwhile: not replaced (--force "
				    "replaces it)", o->target);
		}
		if (err)
			return fail_errno(o, err, "cannot give the output the name", o->target);
	}
	free(o->temp);
	o->temp = NULL;
	o->published = true;
	return 0;
}

static void *publish_main(void *data)
{
	struct output *o = data;

	o->publish_ret = output_publish(o);
	return NULL;
}

int output_publish_start(struct output *o)
{
	pthread_attr_t attr;
	int err;

	if (o->publishing || o->published)
		return 0;
	o->publishing = true;
	/* started from a capture loop that may run SCHED_FIFO: a rename must not compete with it */
	err = thread_attr_not_realtime(&attr);
	if (!err) {
		err = pthread_create(&o->publisher, &attr, publish_main, o);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		o->joined = true;
		o->publish_ret = output_publish(o);
		return -err;
	}
	return 0;
}

int output_publish_wait(struct output *o)
{
	if (o->publishing && !o->joined) {
		pthread_join(o->publisher, NULL);
		o->joined = true;
	}
	return o->publish_ret;
}

int output_close(struct output *o, bool ok)
{
	int ret = 0;

	output_publish_wait(o);
	if (o->kind == OUTPUT_CLOSED)
		return 0;
	if (ok && o->kind == OUTPUT_REPLACE && fsync(o->fd) < 0)
		ret = fail_errno(o, errno, "cannot write", o->name);
	if (ok && ret == 0)
		ret = output_publish(o);
	if (o->kind != OUTPUT_STDOUT && o->fd >= 0 && close(o->fd) < 0 && ok && ret == 0)
		ret = fail_errno(o, errno, "cannot write", o->name);
	o->fd = -1;
	/* a run that failed (or could not publish) leaves nothing of its own */
	if (o->temp && !o->published)
		unlink(o->temp);
	free(o->temp);
	free(o->target);
	o->temp = o->target = NULL;
	o->kind = OUTPUT_CLOSED;
	return ok ? ret : 0;
}
